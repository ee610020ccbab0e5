//! One system-log-monitor: NPD rule semantics plus kubemedic's healing conditions.

use jiff::Timestamp;

use crate::condition::{
    ConditionTracker, NodeConditionSnapshot, ProblemMetrics, Report, TrackedCondition,
};
use crate::config::{ConfigError, SystemLogMonitorConfig};

/// One log line handed to a monitor. Bytes from the source are decoded lossily (invalid UTF-8
/// becomes U+FFFD, which `.` matches as Go's regexp does for invalid bytes): see [`LogLine::lossy`].
#[derive(Debug, Clone, Copy)]
pub struct LogLine<'a> {
    /// When the line was logged.
    pub timestamp: Timestamp,
    /// The message (without the source's framing).
    pub message: &'a str,
}

/// A system-log-monitor: feed lines with [`LogMonitor::process`], get events and condition changes.
#[derive(Debug)]
pub struct LogMonitor {
    config: SystemLogMonitorConfig,
    tracker: ConditionTracker,
    metrics: ProblemMetrics,
}

impl LogMonitor {
    /// Compiles a monitor from a validated config.
    pub fn new(config: SystemLogMonitorConfig) -> Result<LogMonitor, ConfigError> {
        let tracker = ConditionTracker::new(&config.source);
        Ok(LogMonitor {
            config,
            tracker,
            metrics: ProblemMetrics::default(),
        })
    }

    /// The config.
    pub fn config(&self) -> &SystemLogMonitorConfig {
        &self.config
    }

    /// Initial status: every declared condition False (NPD), except conditions found True on the
    /// Node that kubemedic keeps until it knows better (see the crate docs on restart safety).
    pub fn start(
        &mut self,
        now: Timestamp,
        node: &[NodeConditionSnapshot],
        boot_time: Option<Timestamp>,
    ) -> Vec<Report> {
        let _ = (now, node, boot_time);
        Vec::new()
    }

    /// Pushes one line and reports what its rules produce.
    pub fn process(&mut self, line: LogLine<'_>, out: &mut Vec<Report>) {
        let _ = (line, out);
    }

    /// Advances time: conditions whose quiet period has elapsed go back to False.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Report>) {
        let _ = (now, out);
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
