//! Alerts, their identity, and the tracker that deduplicates them and notices when they resolve.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Severity of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information.
    Info,
    /// Someone should look.
    Warning,
    /// Someone must act now.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What makes two alerts the same: the cause and the object (`node/n1`, `pod/ns/p`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    /// Cause ID (or `Remediation<runbook>` for escalations).
    pub cause: String,
    /// The object, `kind/[namespace/]name`.
    pub object: String,
}

/// One alert as the sources (diagnosis, healing escalations, storms) raise it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Identity.
    pub key: AlertKey,
    /// Severity.
    pub severity: Severity,
    /// One line.
    pub summary: String,
    /// Evidence and details, one per line.
    #[serde(default)]
    pub details: Vec<String>,
    /// The node involved, if any.
    #[serde(default)]
    pub node: Option<String>,
    /// Extra labels (Alertmanager labels; shown by chat sinks only in templates).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The problem is present.
    Firing,
    /// The problem went away.
    Resolved,
}

impl Status {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// An alert to be sent, with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The alert.
    pub alert: Alert,
    /// Firing or resolved.
    pub status: Status,
    /// When it started firing.
    pub starts_at: Timestamp,
    /// When it resolved.
    pub ends_at: Option<Timestamp>,
}

/// A group of notifications of one cause, sent as one message to chat sinks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The cause.
    pub cause: String,
    /// Its notifications, firing first.
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone)]
struct Active {
    alert: Alert,
    starts_at: Timestamp,
    last_sent: Timestamp,
}

/// Deduplicates alerts across passes: each pass hands in every alert present now; out come
/// the new ones, the ones whose severity rose or whose repeat interval passed, and resolutions
/// for those no longer present, grouped by cause.
#[derive(Debug, Clone)]
pub struct Tracker {
    active: BTreeMap<AlertKey, Active>,
    repeat: SignedDuration,
    min_severity: Severity,
}

impl Tracker {
    /// A tracker that repeats a still-firing alert after `repeat` and ignores alerts below
    /// `min_severity`.
    pub fn new(repeat: std::time::Duration, min_severity: Severity) -> Tracker {
        Tracker {
            active: BTreeMap::new(),
            repeat: SignedDuration::try_from(repeat).unwrap_or(SignedDuration::MAX),
            min_severity,
        }
    }

    /// Alerts firing now, by key.
    pub fn firing(&self) -> usize {
        self.active.len()
    }

    /// One pass: `present` is every alert present at `now`.
    pub fn observe(&mut self, now: Timestamp, present: Vec<Alert>) -> Vec<Group> {
        let mut out: Vec<Notification> = Vec::new();
        let mut seen = BTreeMap::new();
        for a in present {
            if a.severity < self.min_severity {
                continue;
            }
            // Two alerts with one key in a pass: keep the worse.
            match seen.get(&a.key) {
                Some(prev) if prev_severity(prev) >= a.severity => continue,
                _ => {
                    seen.insert(a.key.clone(), a);
                }
            }
        }
        for (key, alert) in seen.iter() {
            match self.active.get_mut(key) {
                None => {
                    self.active.insert(
                        key.clone(),
                        Active {
                            alert: alert.clone(),
                            starts_at: now,
                            last_sent: now,
                        },
                    );
                    out.push(Notification {
                        alert: alert.clone(),
                        status: Status::Firing,
                        starts_at: now,
                        ends_at: None,
                    });
                }
                Some(act) => {
                    let worse = alert.severity > act.alert.severity;
                    let due = now.duration_since(act.last_sent) >= self.repeat;
                    act.alert = alert.clone();
                    if worse || due {
                        act.last_sent = now;
                        out.push(Notification {
                            alert: alert.clone(),
                            status: Status::Firing,
                            starts_at: act.starts_at,
                            ends_at: None,
                        });
                    }
                }
            }
        }
        let gone: Vec<AlertKey> = self
            .active
            .keys()
            .filter(|k| !seen.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(act) = self.active.remove(&key) {
                out.push(Notification {
                    alert: act.alert,
                    status: Status::Resolved,
                    starts_at: act.starts_at,
                    ends_at: Some(now),
                });
            }
        }
        group(out)
    }
}

fn prev_severity(a: &Alert) -> Severity {
    a.severity
}

/// Groups notifications by cause (firing before resolved, then by object).
pub fn group(mut notes: Vec<Notification>) -> Vec<Group> {
    notes.sort_by(|a, b| {
        (
            &a.alert.key.cause,
            a.status == Status::Resolved,
            &a.alert.key.object,
        )
            .cmp(&(
                &b.alert.key.cause,
                b.status == Status::Resolved,
                &b.alert.key.object,
            ))
    });
    let mut groups: Vec<Group> = Vec::new();
    for n in notes {
        match groups.last_mut() {
            Some(g) if g.cause == n.alert.key.cause => g.notifications.push(n),
            _ => groups.push(Group {
                cause: n.alert.key.cause.clone(),
                notifications: vec![n],
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(cause: &str, object: &str, sev: Severity) -> Alert {
        Alert {
            key: AlertKey {
                cause: cause.into(),
                object: object.into(),
            },
            severity: sev,
            summary: format!("{cause} on {object}"),
            details: vec![],
            node: None,
            labels: BTreeMap::new(),
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn new_alerts_fire_once_then_resolve_once() {
        let mut tr = Tracker::new(std::time::Duration::from_secs(3600), Severity::Warning);
        let a = alert("CNIFailure", "node/n1", Severity::Critical);
        let b = alert("CNIFailure", "node/n2", Severity::Critical);
        let g = tr.observe(t(0), vec![a.clone(), b.clone()]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].notifications.len(), 2);
        assert!(tr.observe(t(30), vec![a.clone(), b.clone()]).is_empty());
        let g = tr.observe(t(60), vec![a.clone()]);
        assert_eq!(g[0].notifications[0].status, Status::Resolved);
        assert_eq!(g[0].notifications[0].alert.key.object, "node/n2");
        assert_eq!(g[0].notifications[0].starts_at, t(0));
        assert_eq!(g[0].notifications[0].ends_at, Some(t(60)));
        assert!(tr.observe(t(90), vec![a.clone()]).is_empty());
        // Repeat interval.
        assert_eq!(tr.observe(t(3600), vec![a.clone()]).len(), 1);
    }

    #[test]
    fn a_rise_in_severity_is_sent_and_low_ones_are_ignored() {
        let mut tr = Tracker::new(std::time::Duration::from_secs(3600), Severity::Warning);
        tr.observe(t(0), vec![alert("OOMKilled", "pod/a/b", Severity::Warning)]);
        let g = tr.observe(
            t(1),
            vec![alert("OOMKilled", "pod/a/b", Severity::Critical)],
        );
        assert_eq!(g[0].notifications[0].alert.severity, Severity::Critical);
        assert!(
            tr.observe(
                t(2),
                vec![
                    alert("X", "pod/a/c", Severity::Info),
                    alert("OOMKilled", "pod/a/b", Severity::Critical)
                ]
            )
            .is_empty()
        );
        assert_eq!(tr.firing(), 1);
    }

    #[test]
    fn groups_are_per_cause_with_firing_first() {
        let notes = vec![
            Notification {
                alert: alert("B", "node/1", Severity::Warning),
                status: Status::Resolved,
                starts_at: t(0),
                ends_at: Some(t(1)),
            },
            Notification {
                alert: alert("A", "node/2", Severity::Warning),
                status: Status::Firing,
                starts_at: t(0),
                ends_at: None,
            },
            Notification {
                alert: alert("B", "node/3", Severity::Warning),
                status: Status::Firing,
                starts_at: t(0),
                ends_at: None,
            },
        ];
        let g = group(notes);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].cause, "B");
        assert_eq!(g[1].notifications[0].status, Status::Firing);
    }
}
