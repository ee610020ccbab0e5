//! Loaders that fill a [`Snapshot`](kubemedic_model::Snapshot): the offline dump reader
//! (`kubectl cluster-info dump` layout plus kubemedic's additions), the dump writer, and the live
//! API loader (kube-rs). Objects are parsed straight into the slim types of
//! [`kubemedic_model::objects`]; fields nobody reads are skipped while parsing.

pub mod dump;
pub mod events;
pub mod live;
pub mod logs;
pub mod writer;
mod yaml;

pub use dump::{DumpError, DumpMeta, DumpOptions, load_dump, load_dump_with};
pub use writer::{DumpWriteError, WriteStats, write_dump};
