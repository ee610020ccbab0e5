//! Cluster snapshot types: what the diagnosis engine reads, and nothing that fetches it.
//!
//! The [`Snapshot`] is the single input of the diagnosis engine; [`objects`] are the slim
//! Kubernetes kinds it holds (also what the controller's watch cache keeps); [`NodeFacts`] is what
//! the node agent serves on `/facts` and what a dump keeps in `_nodes/<node>/facts.json`. No I/O,
//! no async: the loaders that fill a snapshot (offline dump, live API) live in
//! `kubemedic-cluster`.

pub mod facts;
pub mod objects;
pub mod probes;
pub mod snapshot;

pub use facts::NodeFacts;
pub use snapshot::{ContainerLogs, ContainerRef, NodeLogSource, SkippedInput, Snapshot};
