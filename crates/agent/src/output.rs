//! `--standalone` output: one line per problem event and condition change on stdout.

use kubemedic_detect::{ConditionChange, ProblemEvent, Report, Severity};
use kubemedic_term::visible;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Write;

/// How standalone lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text, coloured when `color` is set (stdout is a terminal).
    Text {
        /// Use ANSI colours.
        color: bool,
    },
}

/// The JSON form of one line (the schema documented in docs/agent.md).
#[derive(Debug, Serialize)]
pub struct OutputLine<'a> {
    /// RFC 3339 time of the event or transition.
    pub time: String,
    /// Monitor source.
    pub source: &'a str,
    /// `event` or `condition`.
    pub kind: &'static str,
    /// Reason.
    pub reason: &'a str,
    /// Message.
    pub message: &'a str,
    /// Condition type (conditions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<&'a str>,
    /// `True`, `False` or `Unknown` (conditions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

impl<'a> OutputLine<'a> {
    /// The line for a report.
    pub fn from_report(report: &'a Report) -> Self {
        match report {
            Report::Event(ProblemEvent {
                source,
                reason,
                message,
                time,
                ..
            }) => OutputLine {
                time: time.to_string(),
                source,
                kind: "event",
                reason,
                message,
                condition: None,
                status: None,
            },
            Report::Condition(ConditionChange {
                source,
                condition_type,
                status,
                reason,
                message,
                transition,
            }) => OutputLine {
                time: transition.to_string(),
                source,
                kind: "condition",
                reason,
                message,
                condition: Some(condition_type),
                status: Some(status.as_str()),
            },
        }
    }
}

/// Formats one report as a line (without newline). In text form every field that comes from a
/// log line or a plugin's output (and the names from the monitor configs) is shown with its
/// control characters visible, so a log line cannot drive the reader's terminal. `first` says
/// the report is the first one seen for its condition (the state a monitor starts in): a
/// condition that starts False is `OK`, not `HEALED`, since nothing healed.
pub fn format_report(report: &Report, format: OutputFormat, first: bool) -> String {
    let line = OutputLine::from_report(report);
    match format {
        OutputFormat::Json => serde_json::to_string(&line).unwrap_or_default(),
        OutputFormat::Text { color } => {
            let (tag, paint) = match report {
                Report::Event(e) if e.severity == Severity::Warn => ("WARNING", "\x1b[33m"),
                Report::Event(_) => ("EVENT", "\x1b[36m"),
                Report::Condition(c) if c.status.as_str() == "True" => ("PROBLEM", "\x1b[31m"),
                Report::Condition(c) if c.status.as_str() == "False" && first => ("OK", "\x1b[32m"),
                Report::Condition(c) if c.status.as_str() == "False" => ("HEALED", "\x1b[32m"),
                Report::Condition(_) => ("UNKNOWN", "\x1b[35m"),
            };
            let tag = if color {
                format!("{paint}{tag:<7}\x1b[0m")
            } else {
                format!("{tag:<7}")
            };
            let (source, reason, message) = (
                visible(line.source),
                visible(line.reason),
                visible(line.message),
            );
            match (line.condition, line.status) {
                (Some(condition), Some(status)) => format!(
                    "{} {tag} {source} {}={status} {reason}: {message}",
                    line.time,
                    visible(condition)
                ),
                _ => format!("{} {tag} {source} {reason}: {message}", line.time),
            }
        }
    }
}

/// Writes report lines to stdout, flushing after each so pipes see them at once.
#[derive(Debug, Clone)]
pub struct Printer {
    format: OutputFormat,
    /// Conditions already printed, by (source, type): the next line about one is a change.
    seen: BTreeSet<(String, String)>,
}

impl Printer {
    /// A printer in the given format.
    pub fn new(format: OutputFormat) -> Self {
        Self {
            format,
            seen: BTreeSet::new(),
        }
    }

    /// The line for `report`, remembering the conditions it has seen.
    pub fn line(&mut self, report: &Report) -> String {
        let first = match report {
            Report::Condition(c) => self
                .seen
                .insert((c.source.clone(), c.condition_type.clone())),
            Report::Event(_) => false,
        };
        format_report(report, self.format, first)
    }

    /// Prints the reports.
    pub fn print(&mut self, reports: &[Report]) {
        if reports.is_empty() {
            return;
        }
        let lines: Vec<String> = reports.iter().map(|r| self.line(r)).collect();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for line in lines {
            // A closed stdout (the reader went away) must not stop monitoring.
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kubemedic_detect::ConditionStatus;

    #[test]
    fn json_schema_for_events_and_conditions() {
        let t: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
        let event = Report::Event(ProblemEvent {
            source: "kernel-monitor".into(),
            reason: "OOMKilling".into(),
            message: "Killed process 1 (x)".into(),
            severity: Severity::Warn,
            time: t,
        });
        let v: serde_json::Value =
            serde_json::from_str(&format_report(&event, OutputFormat::Json, false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"time":"2026-11-23T09:00:00Z","source":"kernel-monitor","kind":"event","reason":"OOMKilling","message":"Killed process 1 (x)"})
        );
        let cond = Report::Condition(ConditionChange {
            source: "kernel-monitor".into(),
            condition_type: "KernelDeadlock".into(),
            status: ConditionStatus::True,
            reason: "DockerHung".into(),
            message: "task docker:1 blocked".into(),
            transition: t,
        });
        let v: serde_json::Value =
            serde_json::from_str(&format_report(&cond, OutputFormat::Json, true)).unwrap();
        assert_eq!(v["kind"], "condition");
        assert_eq!(v["condition"], "KernelDeadlock");
        assert_eq!(v["status"], "True");
        let text = format_report(&cond, OutputFormat::Text { color: false }, false);
        assert!(
            text.contains(
                "PROBLEM kernel-monitor KernelDeadlock=True DockerHung: task docker:1 blocked"
            ),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn a_condition_that_starts_false_is_ok_and_only_a_later_false_is_healed() {
        let t: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
        let change = |status| {
            Report::Condition(ConditionChange {
                source: "kernel-monitor".into(),
                condition_type: "KernelDeadlock".into(),
                status,
                reason: "R".into(),
                message: "m".into(),
                transition: t,
            })
        };
        let mut printer = Printer::new(OutputFormat::Text { color: false });
        let tag = |line: String| line.split_whitespace().nth(1).unwrap().to_string();
        assert_eq!(tag(printer.line(&change(ConditionStatus::False))), "OK");
        assert_eq!(tag(printer.line(&change(ConditionStatus::True))), "PROBLEM");
        assert_eq!(tag(printer.line(&change(ConditionStatus::False))), "HEALED");
        // Another monitor's condition of the same type is its own.
        let mut other = change(ConditionStatus::False);
        if let Report::Condition(c) = &mut other {
            c.source = "docker-monitor".into();
        }
        assert_eq!(tag(printer.line(&other)), "OK");
    }

    #[test]
    fn text_lines_show_control_characters_and_json_keeps_them() {
        let t: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
        let hostile = "done\x1b]0;pwned\x07\x1b[2J\r\0\u{9b}1m\u{202e}x\nHEALED fake";
        let event = Report::Event(ProblemEvent {
            source: "plugin\x1b[31m".into(),
            reason: "Bad\x07".into(),
            message: hostile.into(),
            severity: Severity::Warn,
            time: t,
        });
        for color in [false, true] {
            let text = format_report(&event, OutputFormat::Text { color }, false);
            let raw: Vec<char> = text
                .replace("\x1b[33m", "")
                .replace("\x1b[0m", "")
                .chars()
                .filter(|c| c.is_control() || *c == '\u{202e}')
                .collect();
            assert!(raw.is_empty(), "raw {raw:?} in {text:?}");
            assert!(
                text.ends_with(
                    "plugin\\x1b[31m Bad\\x07: done\\x1b]0;pwned\\x07\\x1b[2J\\r\\x00\\u{9b}1m\\u{202e}x\\nHEALED fake"
                ),
                "{text}"
            );
        }
        let v: serde_json::Value =
            serde_json::from_str(&format_report(&event, OutputFormat::Json, false)).unwrap();
        assert_eq!(v["message"], hostile);
    }
}
