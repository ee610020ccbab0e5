//! Cluster snapshot types and loaders: live API, offline dump (kubectl cluster-info dump layout), dump writer.
//!
//! The [`Snapshot`] is the single input of the diagnosis engine; [`NodeFacts`] is what the node
//! agent serves on `/facts` and what a dump keeps in `_nodes/<node>/facts.json`.

pub mod facts;
pub mod snapshot;

pub use facts::NodeFacts;
pub use snapshot::{ContainerLogs, ContainerRef, NodeLogSource, SkippedInput, Snapshot};
