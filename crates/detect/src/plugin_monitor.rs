//! One custom-plugin-monitor: NPD's plugin result protocol, pure (the agent runs the processes).

use jiff::Timestamp;

use crate::condition::{
    ConditionTracker, NodeConditionSnapshot, ProblemMetrics, Report, TrackedCondition,
};
use crate::config::CustomPluginMonitorConfig;

/// How a plugin run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginExit {
    /// The process exited with this code (0 OK, 1 NonOK, anything else Unknown).
    Code(i32),
    /// The process was killed after its timeout.
    TimedOut,
    /// The process could not be started or waited for (Unknown).
    Failed,
}

/// One plugin run's outcome, as the monitor consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginResult {
    /// Index of the rule in the config.
    pub rule: usize,
    /// Resulting status: False (OK), True (NonOK) or Unknown.
    pub status: crate::condition::ConditionStatus,
    /// Trimmed output, cut to `max_output_length`.
    pub message: String,
}

/// A custom-plugin-monitor's state machine.
#[derive(Debug)]
pub struct PluginMonitor {
    config: CustomPluginMonitorConfig,
    tracker: ConditionTracker,
    metrics: ProblemMetrics,
}

impl PluginMonitor {
    /// A monitor for a validated config.
    pub fn new(config: CustomPluginMonitorConfig) -> PluginMonitor {
        let tracker = ConditionTracker::new(&config.source);
        PluginMonitor {
            config,
            tracker,
            metrics: ProblemMetrics::default(),
        }
    }

    /// The config.
    pub fn config(&self) -> &CustomPluginMonitorConfig {
        &self.config
    }

    /// Builds a result from a finished run, exactly as NPD's plugin runner does.
    pub fn result(&self, rule: usize, exit: PluginExit, stdout: &[u8]) -> PluginResult {
        let _ = (exit, stdout);
        PluginResult {
            rule,
            status: crate::condition::ConditionStatus::Unknown,
            message: String::new(),
        }
    }

    /// Initial status (nothing when `skip_initial_status`), honouring conditions found on the Node.
    pub fn start(&mut self, now: Timestamp, node: &[NodeConditionSnapshot]) -> Vec<Report> {
        let _ = (now, node);
        Vec::new()
    }

    /// Applies one result.
    pub fn apply(&mut self, result: &PluginResult, now: Timestamp, out: &mut Vec<Report>) {
        let _ = (result, now, out);
    }

    /// Current conditions.
    pub fn conditions(&self) -> &[TrackedCondition] {
        self.tracker.conditions()
    }

    /// Problem metrics state.
    pub fn metrics(&self) -> &ProblemMetrics {
        &self.metrics
    }
}
