//! One custom-plugin-monitor: NPD's plugin result protocol, pure (the agent runs the processes).
//!
//! The agent runs each rule's plugin (concurrency, intervals, per-rule timeout = the smaller of rule
//! and global, killing on timeout) and hands the outcome to [`PluginMonitor::result`], which applies
//! NPD's output rules: stdout decoded lossily, whitespace-trimmed, on timeout replaced by NPD's
//! `Timeout when running plugin "…": state - signal: killed. output - "…"` text, then cut to
//! `max_output_length` bytes (at a character boundary); exit 0 is OK (condition False), 1 NonOK
//! (True), anything else, a timeout or a failure to start Unknown.
//!
//! [`PluginMonitor::apply`] follows NPD's `generateStatus`: a temporary rule emits a Warning event
//! for NonOK and Unknown; a permanent rule moves its condition through NPD's five scenarios and
//! emits NPD's condition-change event (Warning when True, Normal otherwise) on every change.
//!
//! Restart safety: conditions found True or Unknown on the Node are kept until the first result of
//! a rule for that condition says otherwise (so a restart does not flap True→False→True).

use jiff::Timestamp;

use crate::condition::{
    ConditionStatus, ConditionTracker, NodeConditionSnapshot, ProblemMetrics, Report, Severity,
    TrackedCondition, go_quote,
};
use crate::config::{CustomPluginMonitorConfig, ProblemType};

/// How a plugin run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginExit {
    /// The process exited with this code (0 OK, 1 NonOK, anything else Unknown).
    Code(i32),
    /// The process was killed by a signal other than the timeout kill (Unknown).
    Signaled(i32),
    /// The process was killed after its timeout (Unknown).
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
    pub status: ConditionStatus,
    /// Trimmed output, cut to `max_output_length`.
    pub message: String,
}

/// A custom-plugin-monitor's state machine.
#[derive(Debug)]
pub struct PluginMonitor {
    config: CustomPluginMonitorConfig,
    tracker: ConditionTracker,
}

impl PluginMonitor {
    /// A monitor for a validated config (call [`PluginMonitor::start`] before applying results).
    pub fn new(config: CustomPluginMonitorConfig) -> PluginMonitor {
        let tracker = ConditionTracker::with_rules(
            &config.source,
            &config.conditions,
            config.metrics_reporting,
            config.rules.iter().map(|r| {
                (
                    r.problem_type == ProblemType::Permanent,
                    r.condition.as_str(),
                    r.reason.as_str(),
                )
            }),
        );
        PluginMonitor { config, tracker }
    }

    /// The config.
    pub fn config(&self) -> &CustomPluginMonitorConfig {
        &self.config
    }

    /// The monitor's source name.
    pub fn source(&self) -> &str {
        &self.config.source
    }

    /// Builds a result from a finished run of rule `rule`, exactly as NPD's plugin runner does.
    pub fn result(&self, rule: usize, exit: PluginExit, stdout: &[u8]) -> PluginResult {
        let path = self
            .config
            .rules
            .get(rule)
            .map(|r| r.path.as_str())
            .unwrap_or_default();
        let raw = String::from_utf8_lossy(stdout);
        let mut message = raw.trim().to_string();
        let status = match exit {
            PluginExit::Code(0) => ConditionStatus::False,
            PluginExit::Code(1) => ConditionStatus::True,
            PluginExit::Code(_) | PluginExit::Signaled(_) => ConditionStatus::Unknown,
            PluginExit::TimedOut => {
                message = format!(
                    "Timeout when running plugin {}: state - signal: killed. output - {}",
                    go_quote(path),
                    go_quote(&message)
                );
                ConditionStatus::Unknown
            }
            PluginExit::Failed => {
                message = "Error in starting plugin. Please check the error log".to_string();
                ConditionStatus::Unknown
            }
        };
        let max = self.config.plugin_config.max_output_length;
        if message.len() > max {
            let mut cut = max;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        PluginResult {
            rule,
            status,
            message,
        }
    }

    /// Initial status: all declared conditions False, except conditions found True or Unknown on
    /// the Node, which are kept until a plugin result says otherwise. Reports nothing when
    /// `skip_initial_status` is set (NPD then still starts from the same state).
    pub fn start(&mut self, now: Timestamp, node: &[NodeConditionSnapshot]) -> Vec<Report> {
        let report = !self.config.plugin_config.skip_initial_status;
        self.tracker.start(now, node, |_| Some(None), report)
    }

    /// Applies one result at time `now`, appending events and condition changes to `out`.
    pub fn apply(&mut self, result: &PluginResult, now: Timestamp, out: &mut Vec<Report>) {
        let Some(rule) = self.config.rules.get(result.rule) else {
            return;
        };
        match rule.problem_type {
            ProblemType::Temporary => {
                if result.status != ConditionStatus::False {
                    self.tracker.event(
                        Severity::Warn,
                        &rule.reason,
                        result.message.clone(),
                        now,
                        out,
                    );
                }
            }
            ProblemType::Permanent => {
                self.tracker.plugin_result(
                    &rule.condition,
                    &rule.reason,
                    result.status,
                    &result.message,
                    self.config
                        .plugin_config
                        .enable_message_change_based_condition_update,
                    now,
                    out,
                );
            }
        }
    }

    /// Current conditions.
    pub fn conditions(&self) -> &[TrackedCondition] {
        self.tracker.conditions()
    }

    /// Problem metrics state (`problem_counter`, `problem_gauge`).
    pub fn metrics(&self) -> &ProblemMetrics {
        self.tracker.metrics()
    }
}
