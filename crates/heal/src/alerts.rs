//! What healing and diagnosis want a person to know, as alerts for the notifier: findings
//! (deduplicated by cause and object), escalated runs while their target stays unhealthy, runs
//! whose ladder is an alert, and storms. The notifier resolves each when it stops being present.

use crate::crd::{Phase, Remediation, StepState};
use crate::plan::Plan;
use kubemedic_diagnose::{Report, Severity as FindingSeverity};
use kubemedic_notify::{Alert, AlertKey, Severity};
use std::collections::BTreeMap;

fn severity(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "info" => Severity::Info,
        _ => Severity::Warning,
    }
}

/// One alert per finding at warning or above.
pub fn from_findings(report: &Report) -> Vec<Alert> {
    report
        .findings
        .iter()
        .filter(|f| f.severity >= FindingSeverity::Warning)
        .map(|f| Alert {
            key: AlertKey {
                cause: f.cause.as_str().to_string(),
                object: f.object.to_string(),
            },
            severity: if f.severity == FindingSeverity::Critical {
                Severity::Critical
            } else {
                Severity::Warning
            },
            summary: f.summary.clone(),
            details: f
                .evidence
                .iter()
                .take(5)
                .map(|e| format!("{}: {}", e.source, e.text))
                .chain(f.remediation.iter().take(3).map(|r| format!("fix: {r}")))
                .collect(),
            node: crate::view::finding_node(f),
            labels: BTreeMap::new(),
        })
        .collect()
}

/// Drops the finding alerts an enabled runbook is healing now: its plan entry for the target
/// starts or continues a run, stops one because the target healed, or waits only for its own
/// minimum duration, a cooldown or another run on the node. A person hears of such a problem
/// when the ladder is exhausted (the run's escalation alert, [`from_runs`]), not while it
/// works. Findings of dry-run runbooks, and of targets healing cannot act on (paused, too few
/// healthy nodes, a storm, the disruption budget, excluded), still alert.
pub fn unless_healing(alerts: Vec<Alert>, plan: &Plan) -> Vec<Alert> {
    use crate::plan::{Decision, Gate};
    use crate::runbook::Mode;
    let healing: Vec<&crate::plan::Entry> = plan
        .entries
        .iter()
        .filter(|e| e.mode == Mode::Enabled)
        .filter(|e| match &e.decision {
            Decision::Start { dry_run } => !dry_run,
            Decision::Continue { .. } | Decision::Stop { .. } => true,
            Decision::Wait { gate, .. } => {
                matches!(gate, Gate::Held | Gate::Cooldown | Gate::NodeBusy)
            }
            _ => false,
        })
        .collect();
    alerts
        .into_iter()
        .filter(|a| {
            let prefix = format!("finding {} on {}: ", a.key.cause, a.key.object);
            !healing
                .iter()
                .any(|e| e.matched.evidence.iter().any(|l| l.starts_with(&prefix)))
        })
        .collect()
}

/// Alerts for runs: an escalated run, or one whose ladder alerted, while its target still
/// matches the runbook (`still_matching` says which targets do, from the current plan).
pub fn from_runs(runs: &[Remediation], plan: &Plan) -> Vec<Alert> {
    let matching: std::collections::BTreeSet<(String, String)> = plan
        .entries
        .iter()
        .map(|e| (e.runbook.clone(), e.matched.target.to_string()))
        .collect();
    let mut out = Vec::new();
    for r in runs {
        let Some(st) = &r.status else { continue };
        let target = r.spec.target_ref().to_string();
        if !matching.contains(&(r.spec.runbook.clone(), target.clone())) {
            continue;
        }
        let alerted = st
            .history
            .iter()
            .any(|h| h.action == "alert" && !matches!(h.state, StepState::Skipped));
        let escalated = st.phase == Some(Phase::Escalated);
        if !(alerted || escalated) {
            continue;
        }
        let message = if escalated && crate::progress::escalation_alert_needed(st) {
            render(&r.spec.escalation_message, r, &st.message)
        } else {
            r.spec
                .steps
                .iter()
                .find(|s| s.action == "alert")
                .and_then(|s| s.with.get("message"))
                .map(|m| render(m, r, &st.message))
                .unwrap_or_else(|| r.spec.summary.clone())
        };
        let sev = if escalated && crate::progress::escalation_alert_needed(st) {
            severity(&r.spec.escalation_severity)
        } else {
            r.spec
                .steps
                .iter()
                .find(|s| s.action == "alert")
                .and_then(|s| s.with.get("severity"))
                .map(|s| severity(s))
                .unwrap_or(Severity::Warning)
        };
        let mut details: Vec<String> = r.spec.trigger.clone();
        details.extend(st.history.iter().map(|h| {
            format!(
                "step {} {} ({}): {:?} {}",
                h.index + 1,
                h.name,
                h.action,
                h.state,
                h.message
            )
        }));
        let mut labels = BTreeMap::new();
        labels.insert("runbook".into(), r.spec.runbook.clone());
        labels.insert(
            "remediation".into(),
            r.metadata.name.clone().unwrap_or_default(),
        );
        out.push(Alert {
            key: AlertKey {
                cause: format!("Remediation:{}", r.spec.runbook),
                object: target,
            },
            severity: sev,
            summary: message,
            details,
            node: r.spec.target.node.clone(),
            labels,
        });
    }
    out
}

/// An alert while a storm holds healing.
pub fn from_storm(plan: &Plan) -> Option<Alert> {
    plan.storm.active.then(|| Alert {
        key: AlertKey {
            cause: "HealingStorm".into(),
            object: "cluster".into(),
        },
        severity: Severity::Critical,
        summary: format!(
            "{} nodes started matching healing runbooks within the storm window (threshold {}): disruptive healing is held until the storm ends and its cooldown passes",
            plan.storm.recent, plan.storm.threshold
        ),
        details: plan
            .entries
            .iter()
            .take(20)
            .map(|e| format!("{} → {}", e.runbook, e.matched.target))
            .collect(),
        node: None,
        labels: BTreeMap::new(),
    })
}

/// Fills `{{runbook}}`, `{{target}}`, `{{reason}}`, `{{summary}}` in a runbook message.
pub fn render(template: &str, r: &Remediation, reason: &str) -> String {
    template
        .replace("{{runbook}}", &r.spec.runbook)
        .replace("{{target}}", &r.spec.target_ref().to_string())
        .replace("{{reason}}", reason)
        .replace("{{summary}}", &r.spec.summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{RemediationSpec, RemediationStatus, StepRecord};
    use crate::library::Library;
    use crate::plan::{Input, StormState};
    use crate::view::{ClusterView, FindingView, TargetRef};

    fn cni_plan(mode: crate::runbook::Mode, nodes: &[&str]) -> (Plan, Vec<Alert>) {
        use kubemedic_diagnose::{Cause, Finding, ObjectRef};
        let mut lib = Library::embedded();
        lib.runbooks.get_mut("cni-failure").unwrap().runbook.mode = mode;
        let view = ClusterView {
            nodes: nodes
                .iter()
                .map(|n| crate::view::NodeView {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            findings: vec![FindingView {
                cause: "CNIFailure".into(),
                object: TargetRef::node("n1"),
                node: Some("n1".into()),
                summary: "node n1: the network plugin is not ready".into(),
                pods: vec![],
            }],
            ..Default::default()
        };
        let plan = crate::plan(Input {
            view: &view,
            library: &lib,
            safety: &crate::SafetyConfig {
                min_healthy: crate::safety::Budget::Count(0),
                ..Default::default()
            },
            runs: &[],
            first_seen: &Default::default(),
            storm: StormState::default(),
        });
        let mut report = Report::default();
        report.findings.push(Finding {
            cause: Cause::CNIFailure,
            severity: FindingSeverity::Critical,
            object: ObjectRef::node("n1"),
            summary: "node n1: the network plugin is not ready".into(),
            evidence: vec![],
            remediation: vec![],
            confidence: 0.9,
            affected: vec![],
            caused_by: None,
            incident: None,
        });
        (plan, from_findings(&report))
    }

    #[test]
    fn a_finding_an_enabled_runbook_heals_does_not_alert_until_the_ladder_is_exhausted() {
        use crate::runbook::Mode;
        // Dry-run: healing does nothing, the person is told.
        let (plan, alerts) = cni_plan(Mode::DryRun, &["n1", "n2"]);
        assert_eq!(alerts.len(), 1);
        assert_eq!(unless_healing(alerts, &plan).len(), 1);
        // Enabled: the run starts (or waits for the minimum duration): no alert yet.
        let (plan, alerts) = cni_plan(Mode::Enabled, &["n1", "n2"]);
        assert!(
            plan.entries.iter().any(|e| e.runbook == "cni-failure"),
            "{plan:#?}"
        );
        assert_eq!(alerts.len(), 1);
        assert!(unless_healing(alerts, &plan).is_empty(), "{plan:#?}");
    }

    #[test]
    fn an_alert_only_ladder_alerts_once_with_its_own_message() {
        let lib = Library::embedded();
        let rb = &lib.get("iptables-lock").unwrap().runbook;
        let target = TargetRef::node("n1");
        let mut r = Remediation::new(
            "iptables-lock-n1-x",
            RemediationSpec::new(rb, &target, Some("n1"), vec!["finding".into()], "lock held"),
        );
        r.status = Some(RemediationStatus {
            phase: Some(Phase::Escalated),
            history: vec![StepRecord {
                index: 0,
                name: "alert".into(),
                action: "alert".into(),
                attempt: 1,
                state: StepState::Succeeded,
                executor: "controller".into(),
                started_at: "2026-01-01T00:00:00Z".into(),
                acted_at: None,
                finished_at: None,
                message: String::new(),
                intent: BTreeMap::new(),
            }],
            ..Default::default()
        });
        let view = ClusterView {
            findings: vec![FindingView {
                cause: "IptablesLockContention".into(),
                object: target.clone(),
                node: Some("n1".into()),
                summary: "lock held".into(),
                pods: vec![],
            }],
            ..Default::default()
        };
        let plan = crate::plan(Input {
            view: &view,
            library: &lib,
            safety: &Default::default(),
            runs: &[],
            first_seen: &Default::default(),
            storm: StormState::default(),
        });
        let alerts = from_runs(std::slice::from_ref(&r), &plan);
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            alerts[0].summary,
            "node/n1: xtables lock contention: lock held"
        );
        assert_eq!(alerts[0].severity, Severity::Critical);
        // The target heals: the alert is no longer present (the notifier resolves it).
        let healthy = ClusterView::default();
        let plan = crate::plan(Input {
            view: &healthy,
            library: &lib,
            safety: &Default::default(),
            runs: &[],
            first_seen: &Default::default(),
            storm: StormState::default(),
        });
        assert!(from_runs(&[r], &plan).is_empty());
    }
}
