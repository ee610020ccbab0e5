//! Cluster snapshot types and loaders: live API, offline dump (kubectl cluster-info dump layout), dump writer.
//!
//! The [`Snapshot`] is the single input of the diagnosis engine; [`NodeFacts`] is what the node
//! agent serves on `/facts` and what a dump keeps in `_nodes/<node>/facts.json`.

pub mod dump;
pub mod events;
pub mod facts;
pub mod live;
pub mod logs;
pub mod snapshot;
pub mod writer;

pub use dump::{DumpError, DumpMeta, DumpOptions, load_dump, load_dump_with};
pub use facts::NodeFacts;
pub use snapshot::{ContainerLogs, ContainerRef, NodeLogSource, SkippedInput, Snapshot};
pub use writer::{DumpWriteError, WriteStats, write_dump};
