//! One system-log-monitor: NPD rule semantics plus kubemedic's healing conditions.
//!
//! Per line (NPD `parseLog`/`generateStatus`): the message is pushed into the buffer (trimmed
//! first for kmsg and journald, as NPD's watchers do), then every rule is tried in order and
//! several may fire. A temporary rule emits a Warning event whose message is the matched line(s)
//! joined by `\n` and whose time is the first matched line's. A permanent rule sets its condition
//! True; when that is a transition (from not-True, or to another reason) the condition takes the
//! matched text as message and the first matched line's time as lastTransitionTime, and NPD's
//! condition-change event is emitted (`Node condition T is now: True, reason: R, message: "…"`).
//!
//! Healing (kubemedic): recovery patterns are checked before the rules on the same line (so a
//! line that both clears and sets a condition leaves it True), and [`LogMonitor::tick`] expires
//! quiet periods. Recovery emits a Normal event in the same format with status False.
//!
//! Restart safety ([`LogMonitor::start`]): a condition found True on the Node stays True (with its
//! reason, message and lastTransitionTime) instead of being reset to False, unless the Node was
//! rebooted since its lastTransitionTime and the monitor reads the kernel log (kmsg): kernel state
//! does not survive a reboot and the old lines are gone. A kept condition heals like any other:
//! a recovery pattern, or its quiet period counted from its lastTransitionTime.

use jiff::Timestamp;

use crate::condition::{
    ConditionTracker, NodeConditionSnapshot, ProblemMetrics, Report, Severity, TrackedCondition,
};
use crate::config::{ConfigError, LogPlugin, ProblemType, SystemLogMonitorConfig};
use crate::matcher::{LogMatcher, PatternMatch};

/// One log line handed to a monitor. Bytes from the source are decoded lossily (invalid UTF-8
/// becomes U+FFFD, which `.` matches as Go's regexp matches an invalid byte): see [`LogLine::lossy`].
#[derive(Debug, Clone, Copy)]
pub struct LogLine<'a> {
    /// When the line was logged.
    pub timestamp: Timestamp,
    /// The message (without the source's framing).
    pub message: &'a str,
}

impl<'a> LogLine<'a> {
    /// Decodes raw bytes lossily (never fails; invalid sequences become U+FFFD).
    pub fn lossy(bytes: &'a [u8]) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(bytes)
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Rule(usize),
    /// A rule's recovery pattern: clears the rule's condition while it holds the rule's reason.
    RuleRecovery(usize),
    /// A condition's recovery pattern: clears it whatever the reason.
    ConditionRecovery(usize),
}

/// A system-log-monitor: feed lines with [`LogMonitor::process`], get events and condition changes.
#[derive(Debug)]
pub struct LogMonitor {
    config: SystemLogMonitorConfig,
    matcher: LogMatcher,
    actions: Vec<Action>,
    tracker: ConditionTracker,
    matches: Vec<PatternMatch>,
}

impl LogMonitor {
    /// Compiles a monitor from a validated config (call [`LogMonitor::start`] before feeding lines).
    pub fn new(config: SystemLogMonitorConfig) -> Result<LogMonitor, ConfigError> {
        let mut patterns: Vec<&str> = Vec::new();
        let mut actions = Vec::new();
        // Recovery patterns first: a line that clears and sets a condition leaves it set.
        for (i, c) in config.conditions.iter().enumerate() {
            if let Some(p) = &c.recovery_pattern {
                patterns.push(p);
                actions.push(Action::ConditionRecovery(i));
            }
        }
        for (i, r) in config.rules.iter().enumerate() {
            if let Some(p) = &r.recovery_pattern {
                patterns.push(p);
                actions.push(Action::RuleRecovery(i));
            }
        }
        for (i, r) in config.rules.iter().enumerate() {
            patterns.push(&r.pattern);
            actions.push(Action::Rule(i));
        }
        let matcher = LogMatcher::new(&patterns, config.buffer_size).map_err(|e| ConfigError {
            file: config.source.clone(),
            json_path: "rules".to_string(),
            line_column: None,
            reason: e.to_string(),
        })?;
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
        Ok(LogMonitor {
            config,
            matcher,
            actions,
            tracker,
            matches: Vec::new(),
        })
    }

    /// The config.
    pub fn config(&self) -> &SystemLogMonitorConfig {
        &self.config
    }

    /// The monitor's source name (`kernel-monitor`, ...).
    pub fn source(&self) -> &str {
        &self.config.source
    }

    /// Initial status: every declared condition False (NPD), except conditions found True on the
    /// Node that are kept (see the module docs on restart safety). Returns one condition report per
    /// declared condition.
    pub fn start(
        &mut self,
        now: Timestamp,
        node: &[NodeConditionSnapshot],
        boot_time: Option<Timestamp>,
    ) -> Vec<Report> {
        let kernel = self.config.plugin == LogPlugin::Kmsg;
        let config = &self.config;
        self.tracker.start(
            now,
            node,
            |seed| {
                if seed.status != crate::ConditionStatus::True {
                    return None;
                }
                if kernel && boot_time.is_some_and(|b| seed.last_transition < b) {
                    return None;
                }
                Some(quiet_period(config, &seed.condition_type, &seed.reason))
            },
            true,
        )
    }

    /// Pushes one line and appends what its rules produce to `out`.
    pub fn process(&mut self, line: LogLine<'_>, out: &mut Vec<Report>) {
        let message = if self.config.plugin.trims_messages() {
            line.message.trim()
        } else {
            line.message
        };
        self.matches.clear();
        self.matcher
            .push(line.timestamp, message, &mut self.matches);
        if self.matches.is_empty() {
            return;
        }
        let matches = std::mem::take(&mut self.matches);
        for m in &matches {
            let mut first_time = line.timestamp;
            let mut text = String::new();
            for (k, (t, l)) in self.matcher.newest(m.lines).enumerate() {
                if k == 0 {
                    first_time = t;
                } else {
                    text.push('\n');
                }
                text.push_str(l);
            }
            match self.actions[m.pattern] {
                Action::Rule(i) => {
                    let rule = &self.config.rules[i];
                    // NPD's generateMessage: the matched lines, then "; " and the suffix.
                    if let Some(suffix) = &rule.message_suffix {
                        text.push_str("; ");
                        text.push_str(suffix);
                    }
                    match rule.problem_type {
                        ProblemType::Temporary => {
                            self.tracker
                                .event(Severity::Warn, &rule.reason, text, first_time, out);
                        }
                        ProblemType::Permanent => {
                            let quiet = quiet_period(&self.config, &rule.condition, &rule.reason);
                            self.tracker.log_problem(
                                &rule.condition,
                                &rule.reason,
                                &text,
                                first_time,
                                quiet,
                                out,
                            );
                        }
                    }
                }
                Action::RuleRecovery(i) => {
                    let rule = &self.config.rules[i];
                    self.tracker
                        .recover(&rule.condition, Some(&rule.reason), line.timestamp, out);
                }
                Action::ConditionRecovery(c) => {
                    let t = &self.config.conditions[c].condition_type;
                    self.tracker.recover(t, None, line.timestamp, out);
                }
            }
        }
        self.matches = matches;
    }

    /// Advances time: conditions whose quiet period has elapsed at `now` go back to False.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Report>) {
        self.tracker.expire_quiet(now, out);
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

/// The quiet period for a condition held for `reason`: the rule's if it sets one, else the condition's.
fn quiet_period(
    config: &SystemLogMonitorConfig,
    condition: &str,
    reason: &str,
) -> Option<std::time::Duration> {
    config
        .rules
        .iter()
        .filter(|r| r.condition == condition && r.reason == reason)
        .find_map(|r| r.quiet_period)
        .or_else(|| {
            config
                .conditions
                .iter()
                .find(|c| c.condition_type == condition)
                .and_then(|c| c.quiet_period)
        })
}
