//! Which runbooks match which targets, since when, and on what evidence.

use crate::action::TargetKind;
use crate::runbook::Runbook;
use crate::view::{ClusterView, NodeView, TargetRef};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;

/// A runbook matching one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Match {
    /// Runbook name.
    pub runbook: String,
    /// The target.
    pub target: TargetRef,
    /// The node the target is or runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// When the earliest matching signal started (condition transition or first sighting).
    pub since: Timestamp,
    /// When the match has been (or will be) held long enough to act.
    pub ready_at: Timestamp,
    /// The signals, one line each.
    pub evidence: Vec<String>,
    /// The first finding's summary, for alerts.
    pub summary: String,
}

impl Match {
    /// Whether the minimum duration has passed at `now`.
    pub fn held(&self, now: Timestamp) -> bool {
        self.ready_at <= now
    }
}

/// When matches were first seen, for cause findings (which carry no transition time), keyed by
/// runbook and target. The controller keeps this across passes; a one-shot plan starts empty.
pub type FirstSeen = BTreeMap<(String, TargetRef), Timestamp>;

fn add(t: Timestamp, d: std::time::Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn condition_line(c: &crate::view::ConditionView) -> String {
    let mut s = format!("{}={}", c.type_, c.status);
    if !c.reason.is_empty() {
        s.push_str(&format!(" ({})", c.reason));
    }
    if let Some(t) = c.last_transition {
        s.push_str(&format!(" since {t}"));
    }
    if !c.message.is_empty() {
        let msg: String = c.message.chars().take(160).collect();
        s.push_str(&format!(": {msg}"));
    }
    s
}

fn node_selected(rb: &Runbook, node: Option<&NodeView>) -> bool {
    match (&rb.matcher.node_selector, node) {
        (None, _) => true,
        (Some(sel), Some(n)) => sel.matches(&n.labels),
        (Some(_), None) => false,
    }
}

/// Every target the runbook matches now (whether or not its minimum duration has passed).
pub fn matches(rb: &Runbook, view: &ClusterView, first_seen: &FirstSeen) -> Vec<Match> {
    let mut by_target: BTreeMap<TargetRef, Match> = BTreeMap::new();
    let mut merge = |m: Match| match by_target.get_mut(&m.target) {
        Some(existing) => {
            existing.since = existing.since.min(m.since);
            existing.ready_at = existing.ready_at.min(m.ready_at);
            existing.evidence.extend(m.evidence);
            if existing.summary.is_empty() {
                existing.summary = m.summary;
            }
        }
        None => {
            by_target.insert(m.target.clone(), m);
        }
    };
    let now = view.now;
    // A condition-only match (no finding names it) is summarised by its first condition, so
    // alerts, Events and the Remediation's spec never carry an empty summary.
    let mut condition_summary: BTreeMap<TargetRef, String> = BTreeMap::new();
    if rb.target == TargetKind::Node {
        for node in &view.nodes {
            if !node_selected(rb, Some(node)) {
                continue;
            }
            for cm in &rb.matcher.conditions {
                let Some(c) = node.condition(&cm.type_) else {
                    continue;
                };
                let hit = cm.status.iter().any(|s| s == &c.status)
                    && cm.reason.as_ref().is_none_or(|r| c.reason.contains(r))
                    && cm.message.as_ref().is_none_or(|m| c.message.contains(m));
                if hit {
                    condition_summary
                        .entry(TargetRef::node(&node.name))
                        .or_insert_with(|| format!("node {}: {}", node.name, condition_line(c)));
                    let since = c.last_transition.unwrap_or(now).min(now);
                    merge(Match {
                        runbook: rb.name.clone(),
                        target: TargetRef::node(&node.name),
                        node: Some(node.name.clone()),
                        since,
                        ready_at: add(since, cm.for_),
                        evidence: vec![format!("condition {}", condition_line(c))],
                        summary: String::new(),
                    });
                }
            }
        }
    }
    for f in &view.findings {
        if !rb.matcher.causes.iter().any(|c| c == &f.cause) {
            continue;
        }
        let (target, node) = match rb.target {
            TargetKind::Node => match &f.node {
                Some(n) => (TargetRef::node(n), Some(n.clone())),
                None => continue,
            },
            TargetKind::Pod => {
                if f.object.kind == "Node" {
                    continue;
                }
                let pod = (f.object.kind == "Pod")
                    .then(|| {
                        view.pods.iter().find(|p| {
                            Some(&p.namespace) == f.object.namespace.as_ref()
                                && p.name == f.object.name
                        })
                    })
                    .flatten();
                if let Some(sel) = &rb.matcher.pod_selector {
                    // A workload finding is selected when one of its pods is.
                    let selected = match pod {
                        Some(p) => sel.matches(&p.labels),
                        None => f.pods.iter().any(|r| {
                            view.pods.iter().any(|p| {
                                Some(&p.namespace) == r.namespace.as_ref()
                                    && p.name == r.name
                                    && sel.matches(&p.labels)
                            })
                        }),
                    };
                    if !selected {
                        continue;
                    }
                }
                (f.object.clone(), pod.and_then(|p| p.node.clone()))
            }
        };
        if rb.target == TargetKind::Pod
            && rb.matcher.node_selector.is_some()
            && !node_selected(rb, node.as_deref().and_then(|n| view.node(n)))
        {
            continue;
        }
        if rb.target == TargetKind::Node
            && !node_selected(rb, node.as_deref().and_then(|n| view.node(n)))
        {
            continue;
        }
        let since = first_seen
            .get(&(rb.name.clone(), target.clone()))
            .copied()
            .unwrap_or(now)
            .min(now);
        merge(Match {
            runbook: rb.name.clone(),
            target,
            node,
            since,
            ready_at: add(since, rb.matcher.for_),
            evidence: vec![format!(
                "finding {} on {}: {}",
                f.cause, f.object, f.summary
            )],
            summary: f.summary.clone(),
        });
    }
    let vetoed = |m: &Match| {
        view.findings.iter().any(|f| {
            rb.matcher.unless_causes.contains(&f.cause)
                && (f.object == m.target
                    || (m.target.kind == "Node" && f.node.as_deref() == Some(&m.target.name)))
        })
    };
    by_target
        .into_values()
        .filter(|m| !vetoed(m))
        .map(|mut m| {
            if m.summary.is_empty()
                && let Some(s) = condition_summary.remove(&m.target)
            {
                m.summary = s;
            }
            m
        })
        .collect()
}
