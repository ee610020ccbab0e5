//! Node problem detection logic: NPD-compatible monitor configs, rule matching, condition tracking (no I/O).
//!
//! Everything here is pure: time is passed in by the caller, lines are handed in one at a time,
//! and the results come back as [`Report`]s (problem events and condition changes) that the
//! agent's exporters turn into Kubernetes Events, NodeConditions, metrics and JSON lines.
//! The only I/O is the clearly separated `load_*` functions in [`config`] that read a config file.
//!
//! Entry points:
//! - [`config`]: parse and validate node-problem-detector's `system-log-monitor`,
//!   `custom-plugin-monitor` and `system-stats-monitor` JSON (plus kubemedic's extensions).
//! - [`LogMonitor`]: one system-log-monitor: feed it lines, get events and condition changes.
//! - [`PluginMonitor`]: one custom-plugin-monitor: feed it plugin results.
//! - [`defaults`]: kubemedic's embedded default monitors.
//! - [`golang`]: Go duration and `timestampFormat` layout parsing.
//! - [`filelog`]: NPD's filelog translator (timestamp + message extraction).

pub mod condition;
pub mod config;
pub mod defaults;
pub mod filelog;
pub mod golang;
pub mod log_monitor;
pub mod matcher;
pub mod plugin_monitor;
pub mod re2;

pub use condition::{
    ConditionChange, ConditionStatus, ConditionTracker, NodeConditionSnapshot, ProblemEvent,
    ProblemMetrics, Report, Severity, TrackedCondition,
};
pub use config::{
    ConfigError, CustomPluginMonitorConfig, LogPlugin, ProblemType, SystemLogMonitorConfig,
    SystemStatsMonitorConfig,
};
pub use log_monitor::{LogLine, LogMonitor};
pub use plugin_monitor::{PluginExit, PluginMonitor, PluginResult};
