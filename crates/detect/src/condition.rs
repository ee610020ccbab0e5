//! Condition state, problem events and NPD's problem metrics, shared by all monitor kinds.

use std::collections::BTreeMap;

use jiff::Timestamp;

/// A NodeCondition status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ConditionStatus {
    /// The problem is present.
    True,
    /// The problem is absent.
    False,
    /// Unknown (e.g. a plugin failed to run).
    Unknown,
}

impl ConditionStatus {
    /// `True`, `False` or `Unknown`, as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// Event severity: `warn` becomes a Warning event, `info` a Normal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Normal event.
    Info,
    /// Warning event.
    Warn,
}

/// A problem event (NPD `types.Event`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProblemEvent {
    /// Monitor source, e.g. `kernel-monitor`.
    pub source: String,
    /// Event reason, e.g. `OOMKilling`.
    pub reason: String,
    /// Event message (the matched log lines, or NPD's condition-change text).
    pub message: String,
    /// Warning or Normal.
    pub severity: Severity,
    /// When it happened (the first matched line's timestamp for log rules).
    pub time: Timestamp,
}

/// A change of one NodeCondition (status, reason or message).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConditionChange {
    /// Monitor source.
    pub source: String,
    /// Condition type, e.g. `KernelDeadlock`.
    pub condition_type: String,
    /// New status.
    pub status: ConditionStatus,
    /// New reason.
    pub reason: String,
    /// New message.
    pub message: String,
    /// lastTransitionTime to report.
    pub transition: Timestamp,
}

/// What a monitor reports: events and condition changes, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Report {
    /// A problem event.
    Event(ProblemEvent),
    /// A condition change.
    Condition(ConditionChange),
}

/// The current state of one condition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrackedCondition {
    /// Condition type.
    pub condition_type: String,
    /// Status.
    pub status: ConditionStatus,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// lastTransitionTime.
    pub transition: Timestamp,
}

/// A condition as currently found on the Node (read by the agent at start, for restart safety).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConditionSnapshot {
    /// Condition type.
    pub condition_type: String,
    /// Status on the Node.
    pub status: ConditionStatus,
    /// Reason on the Node.
    pub reason: String,
    /// Message on the Node.
    pub message: String,
    /// lastTransitionTime on the Node.
    pub last_transition: Timestamp,
}

/// NPD's problem metrics as plain state: `problem_counter{reason}` and `problem_gauge{type,reason}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProblemMetrics {
    /// reason → count of problem events.
    pub counters: BTreeMap<String, u64>,
    /// (condition type, reason) → 1 while the condition is True for that reason.
    pub gauges: BTreeMap<(String, String), bool>,
}

/// Tracks a monitor's declared conditions and produces [`Report`]s when they change.
#[derive(Debug, Clone)]
pub struct ConditionTracker {
    source: String,
    conditions: Vec<TrackedCondition>,
}

impl ConditionTracker {
    /// A tracker for `source` (conditions are added by the monitor that owns it).
    pub fn new(source: &str) -> Self {
        ConditionTracker {
            source: source.to_string(),
            conditions: Vec::new(),
        }
    }

    /// The monitor source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// All conditions, in declaration order.
    pub fn conditions(&self) -> &[TrackedCondition] {
        &self.conditions
    }
}
