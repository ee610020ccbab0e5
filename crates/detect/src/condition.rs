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

/// Go's `strconv.Quote` (what NPD's `%q` writes into condition-change event messages).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `unicode.IsPrint`: no controls, no format characters, no spaces but U+0020.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// NPD's condition-change event message (`util.GenerateConditionChangeEvent`).
pub fn condition_change_message(
    condition_type: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
) -> String {
    format!(
        "Node condition {condition_type} is now: {}, reason: {reason}, message: {}",
        status.as_str(),
        go_quote(message)
    )
}

impl ProblemMetrics {
    /// Registers a rule the way NPD initialises its metrics: counter at 0, gauge false.
    pub fn register_rule(&mut self, permanent: bool, condition: &str, reason: &str) {
        if permanent {
            self.gauges
                .entry((condition.to_string(), reason.to_string()))
                .or_insert(false);
        }
        self.counters.entry(reason.to_string()).or_insert(0);
    }

    fn count(&mut self, reason: &str) {
        *self.counters.entry(reason.to_string()).or_insert(0) += 1;
    }

    /// Updates the gauges after a condition changed from (old reason) to its current state.
    /// Unlike NPD, the gauge of the reason the condition left is set back to 0.
    fn condition_changed(&mut self, c: &TrackedCondition, old_reason: &str) {
        if old_reason != c.reason
            && let Some(g) = self
                .gauges
                .get_mut(&(c.condition_type.clone(), old_reason.to_string()))
        {
            *g = false;
        }
        self.gauges.insert(
            (c.condition_type.clone(), c.reason.clone()),
            c.status == ConditionStatus::True,
        );
    }
}

#[derive(Debug, Clone)]
struct Slot {
    state: TrackedCondition,
    default_reason: String,
    default_message: String,
    /// When a rule last confirmed the condition (for quiet periods).
    last_match: Option<Timestamp>,
    /// The quiet period in force while True, if any.
    quiet: Option<std::time::Duration>,
}

/// Tracks a monitor's declared conditions and produces [`Report`]s when they change.
#[derive(Debug, Clone)]
pub struct ConditionTracker {
    source: String,
    slots: Vec<Slot>,
    conditions: Vec<TrackedCondition>,
    metrics_enabled: bool,
    metrics: ProblemMetrics,
}

impl ConditionTracker {
    /// A tracker for `source` with the declared conditions, all False (NPD's initial state; the
    /// transition time is set by `start`).
    pub fn new(
        source: &str,
        declared: &[crate::config::ConditionConfig],
        metrics_enabled: bool,
    ) -> Self {
        let now = Timestamp::UNIX_EPOCH;
        let slots: Vec<Slot> = declared
            .iter()
            .map(|c| Slot {
                state: TrackedCondition {
                    condition_type: c.condition_type.clone(),
                    status: ConditionStatus::False,
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    transition: now,
                },
                default_reason: c.reason.clone(),
                default_message: c.message.clone(),
                last_match: None,
                quiet: None,
            })
            .collect();
        let conditions = slots.iter().map(|s| s.state.clone()).collect();
        ConditionTracker {
            source: source.to_string(),
            slots,
            conditions,
            metrics_enabled,
            metrics: ProblemMetrics::default(),
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

    /// Problem metrics (empty when the monitor's `metricsReporting` is false).
    pub fn metrics(&self) -> &ProblemMetrics {
        &self.metrics
    }

    /// [`ConditionTracker::new`] whose problem metrics already hold every rule, given as
    /// (permanent, condition, reason), at 0 / false: NPD initialises them before any match.
    pub(crate) fn with_rules<'a>(
        source: &str,
        declared: &[crate::config::ConditionConfig],
        metrics_enabled: bool,
        rules: impl IntoIterator<Item = (bool, &'a str, &'a str)>,
    ) -> Self {
        let mut tracker = Self::new(source, declared, metrics_enabled);
        if metrics_enabled {
            for (permanent, condition, reason) in rules {
                tracker.metrics.register_rule(permanent, condition, reason);
            }
        }
        tracker
    }

    fn index(&self, condition_type: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.state.condition_type == condition_type)
    }

    /// Resets every condition to False at `now`, then keeps the Node's True (or, for plugin
    /// monitors, Unknown) conditions that `keep` accepts, with their reason, message and
    /// lastTransitionTime. Returns the full initial status as condition reports.
    pub(crate) fn start(
        &mut self,
        now: Timestamp,
        node: &[NodeConditionSnapshot],
        mut keep: impl FnMut(&NodeConditionSnapshot) -> Option<Option<std::time::Duration>>,
        report: bool,
    ) -> Vec<Report> {
        for slot in &mut self.slots {
            slot.state.status = ConditionStatus::False;
            slot.state.reason = slot.default_reason.clone();
            slot.state.message = slot.default_message.clone();
            slot.state.transition = now;
            slot.last_match = None;
            slot.quiet = None;
            if let Some(seed) = node
                .iter()
                .find(|n| n.condition_type == slot.state.condition_type)
                && seed.status != ConditionStatus::False
                && let Some(quiet) = keep(seed)
            {
                slot.state.status = seed.status;
                slot.state.reason = seed.reason.clone();
                slot.state.message = seed.message.clone();
                slot.state.transition = seed.last_transition;
                slot.last_match = Some(seed.last_transition);
                slot.quiet = quiet;
            }
        }
        self.sync();
        if self.metrics_enabled {
            for i in 0..self.conditions.len() {
                let c = self.conditions[i].clone();
                self.metrics.condition_changed(&c, &c.reason);
            }
        }
        if !report {
            return Vec::new();
        }
        self.conditions
            .iter()
            .map(|c| Report::Condition(self.change(c)))
            .collect()
    }

    fn sync(&mut self) {
        self.conditions.clear();
        self.conditions
            .extend(self.slots.iter().map(|s| s.state.clone()));
    }

    fn change(&self, c: &TrackedCondition) -> ConditionChange {
        ConditionChange {
            source: self.source.clone(),
            condition_type: c.condition_type.clone(),
            status: c.status,
            reason: c.reason.clone(),
            message: c.message.clone(),
            transition: c.transition,
        }
    }

    /// Emits a problem event (and counts it when it is a warning).
    pub(crate) fn event(
        &mut self,
        severity: Severity,
        reason: &str,
        message: String,
        time: Timestamp,
        out: &mut Vec<Report>,
    ) {
        if self.metrics_enabled && severity == Severity::Warn {
            self.metrics.count(reason);
        }
        out.push(Report::Event(ProblemEvent {
            source: self.source.clone(),
            reason: reason.to_string(),
            message,
            severity,
            time,
        }));
    }

    /// A permanent log rule matched (NPD `generateStatus`): the condition becomes True with the
    /// rule's reason; a transition (from not-True, or to another reason) also updates message and
    /// time and emits NPD's condition-change warning event.
    pub(crate) fn log_problem(
        &mut self,
        condition_type: &str,
        reason: &str,
        message: &str,
        time: Timestamp,
        quiet: Option<std::time::Duration>,
        out: &mut Vec<Report>,
    ) {
        let Some(i) = self.index(condition_type) else {
            return;
        };
        let slot = &mut self.slots[i];
        slot.last_match = Some(time);
        slot.quiet = quiet;
        if slot.state.status == ConditionStatus::True && slot.state.reason == reason {
            return;
        }
        let old_reason = std::mem::replace(&mut slot.state.reason, reason.to_string());
        slot.state.status = ConditionStatus::True;
        slot.state.message = message.to_string();
        slot.state.transition = time;
        let state = slot.state.clone();
        self.finish_change(&state, &old_reason, time, out);
    }

    /// Sets a condition back to False with its default reason and message (recovery).
    pub(crate) fn recover(
        &mut self,
        condition_type: &str,
        only_reason: Option<&str>,
        time: Timestamp,
        out: &mut Vec<Report>,
    ) {
        let Some(i) = self.index(condition_type) else {
            return;
        };
        let slot = &mut self.slots[i];
        if slot.state.status == ConditionStatus::False
            || only_reason.is_some_and(|r| r != slot.state.reason)
        {
            return;
        }
        let old_reason = std::mem::replace(&mut slot.state.reason, slot.default_reason.clone());
        slot.state.status = ConditionStatus::False;
        slot.state.message = slot.default_message.clone();
        slot.state.transition = time;
        slot.last_match = None;
        slot.quiet = None;
        let state = slot.state.clone();
        self.finish_change(&state, &old_reason, time, out);
    }

    /// Recovers every True condition whose quiet period has elapsed at `now`.
    pub(crate) fn expire_quiet(&mut self, now: Timestamp, out: &mut Vec<Report>) {
        let expired: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.state.status == ConditionStatus::True)
            .filter_map(|s| {
                let (last, quiet) = (s.last_match?, s.quiet?);
                let quiet = jiff::SignedDuration::try_from(quiet).ok()?;
                let deadline = last.checked_add(quiet).ok()?;
                (deadline <= now).then(|| s.state.condition_type.clone())
            })
            .collect();
        for t in expired {
            self.recover(&t, None, now, out);
        }
    }

    /// A plugin result for a permanent rule (NPD custom plugin monitor's five scenarios).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn plugin_result(
        &mut self,
        condition_type: &str,
        rule_reason: &str,
        status: ConditionStatus,
        message: &str,
        message_change_updates: bool,
        now: Timestamp,
        out: &mut Vec<Report>,
    ) {
        let Some(i) = self.index(condition_type) else {
            return;
        };
        let slot = &mut self.slots[i];
        let cur = slot.state.status;
        let (reason, msg) = if cur == ConditionStatus::True && status != ConditionStatus::True {
            let m = if status == ConditionStatus::False {
                slot.default_message.clone()
            } else {
                message.to_string()
            };
            (slot.default_reason.clone(), m)
        } else if cur != ConditionStatus::True && status == ConditionStatus::True {
            (rule_reason.to_string(), message.to_string())
        } else if cur != status {
            let m = if status == ConditionStatus::False {
                slot.default_message.clone()
            } else {
                message.to_string()
            };
            (slot.default_reason.clone(), m)
        } else if cur == ConditionStatus::True
            && (slot.state.reason != rule_reason
                || (message_change_updates && slot.state.message != message))
        {
            (rule_reason.to_string(), message.to_string())
        } else {
            return;
        };
        let old_reason = std::mem::replace(&mut slot.state.reason, reason);
        slot.state.status = status;
        slot.state.message = msg;
        slot.state.transition = now;
        let state = slot.state.clone();
        self.finish_change(&state, &old_reason, now, out);
    }

    fn finish_change(
        &mut self,
        state: &TrackedCondition,
        old_reason: &str,
        time: Timestamp,
        out: &mut Vec<Report>,
    ) {
        self.sync();
        let severity = if state.status == ConditionStatus::True {
            Severity::Warn
        } else {
            Severity::Info
        };
        let text = condition_change_message(
            &state.condition_type,
            state.status,
            &state.reason,
            &state.message,
        );
        self.event(severity, &state.reason, text, time, out);
        if self.metrics_enabled {
            self.metrics.condition_changed(state, old_reason);
        }
        out.push(Report::Condition(self.change(state)));
    }
}
