//! The node agent: log, plugin and stats sources feeding the detector; Kubernetes, Prometheus and JSON exporters.

pub mod devkmsg;
pub mod health;
pub mod hostroot;
pub mod http;
pub mod journald;
pub mod k8s;
pub mod kmsg;
pub mod metrics;
pub mod nodelogs;
pub mod output;
pub mod pipeline;
pub mod plugin;
pub mod probes;
pub mod remediate;
pub mod run;
pub mod state;
pub mod stats;
pub mod tail;

use jiff::Timestamp;

/// One log line from a source, before rule matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// When the line was logged (wall clock).
    pub timestamp: Timestamp,
    /// The message, as the source delivered it.
    pub message: String,
}
