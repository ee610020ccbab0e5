//! The Remediation custom resource (`remediations.kubemedic.io`, cluster-scoped): one object per
//! run of a runbook on a target. It is the audit trail, the crash-safe state of the run (a
//! restarted or new leader resumes from its status and never repeats a finished step) and the
//! channel to the node agent for node-local steps (the agent on node X acts on Remediations
//! labelled `kubemedic.io/node=X` and reports into the status).

use crate::action::{Action, ActionKind, Executor, TargetKind};
use crate::runbook::{OnTimeout, Runbook, Verify};
use crate::view::TargetRef;
use jiff::Timestamp;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Label naming the node a Remediation is about (the agent's selector).
pub const NODE_LABEL: &str = "kubemedic.io/node";
/// Label naming the runbook.
pub const RUNBOOK_LABEL: &str = "kubemedic.io/runbook";

/// A frozen copy of one runbook step, taken when the run starts: editing the runbook later does
/// not shift the steps of a run in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepSpec {
    /// Step name.
    pub name: String,
    /// Action name (one of the allow-listed actions).
    pub action: String,
    /// Parameters as text; checked again by whoever executes the step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub with: BTreeMap<String, String>,
    /// Seconds the action plus its verification may take.
    pub timeout_seconds: u64,
    /// Checks that count as healed (`condition-cleared`, `node-ready`, `pods-ready`,
    /// `replacement-ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<String>,
    /// `next` or `escalate`.
    #[serde(default = "default_on_timeout")]
    pub on_timeout: String,
    /// A disabled step is skipped.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_on_timeout() -> String {
    "next".into()
}

fn default_true() -> bool {
    true
}

/// The object a Remediation acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    /// `Node`, `Pod`, `Deployment`, ...
    pub kind: String,
    /// Namespace (absent for nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The node the target is or runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A run of a runbook on one target.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kubemedic.io",
    version = "v1alpha1",
    kind = "Remediation",
    plural = "remediations",
    shortname = "rem",
    status = "RemediationStatus",
    printcolumn = r#"{"name":"Runbook","type":"string","jsonPath":".spec.runbook"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.target.name"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Step","type":"string","jsonPath":".status.currentStepName"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RemediationSpec {
    /// The runbook that started the run.
    pub runbook: String,
    /// `node` or `pod`.
    pub target_kind: String,
    /// The target.
    pub target: TargetSpec,
    /// Why it started: the matched signals, one per line.
    #[serde(default)]
    pub trigger: Vec<String>,
    /// The diagnosis summary (for alerts).
    #[serde(default)]
    pub summary: String,
    /// The runbook's steps as they were when the run started.
    pub steps: Vec<StepSpec>,
    /// Escalation alert severity.
    pub escalation_severity: String,
    /// Escalation message template.
    pub escalation_message: String,
    /// The runbook's `match`, as JSON, so the run can tell when its target is healthy again.
    #[serde(default)]
    pub matcher: String,
}

/// Where a run is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Phase {
    /// Created, not yet started (waiting for the per-node lock or the pause switch).
    Pending,
    /// Steps are being carried out.
    Running,
    /// A step's verification held: the target is healthy.
    Succeeded,
    /// The ladder is exhausted, or a step escalated: a person was alerted.
    Escalated,
    /// Stopped without acting further: the target became healthy on its own, was excluded,
    /// or the runbook was disabled. The reason is in `message`.
    Cancelled,
    /// The object itself is invalid (unknown action, bad parameters): nothing was done.
    Failed,
}

impl Phase {
    /// Whether the run is over.
    pub fn finished(self) -> bool {
        matches!(
            self,
            Phase::Succeeded | Phase::Escalated | Phase::Cancelled | Phase::Failed
        )
    }
}

/// The state of one attempt at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StepState {
    /// Intent recorded; the action is being carried out.
    Started,
    /// The action completed; verification is running.
    Acted,
    /// The verification held (or the step has none): done.
    Succeeded,
    /// The verification did not hold within the timeout.
    TimedOut,
    /// The action failed.
    Failed,
    /// Disabled step, or not allowed on this node: not carried out.
    Skipped,
    /// Interrupted by a restart before it was known to be done; not repeated (not replayable).
    Interrupted,
}

impl StepState {
    /// Whether the attempt is over.
    pub fn finished(self) -> bool {
        !matches!(self, StepState::Started | StepState::Acted)
    }
}

/// One attempt at one step, with times and result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// Index in `spec.steps`.
    pub index: u32,
    /// Step name.
    pub name: String,
    /// Action name.
    pub action: String,
    /// Attempt number of the whole run this record belongs to.
    pub attempt: u32,
    /// State.
    pub state: StepState,
    /// Who carries it out (`controller` or `agent/<node>`).
    pub executor: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When the action completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted_at: Option<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// What happened, for people.
    #[serde(default)]
    pub message: String,
    /// What the action recorded before acting, to act exactly once (e.g. the UIDs of the pods
    /// to delete, whether the node was already cordoned).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intent: BTreeMap<String, String>,
}

/// The status: phase, current step, attempts, history.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationStatus {
    /// Phase (absent: just created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Index of the step in progress or next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<u32>,
    /// Its name (for `kubectl get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_name: Option<String>,
    /// How many times a leader (re)took the run up.
    #[serde(default)]
    pub attempts: u32,
    /// Per-step history, oldest first.
    #[serde(default)]
    pub history: Vec<StepRecord>,
    /// Why the run is where it is.
    #[serde(default)]
    pub message: String,
    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Whether the node was cordoned before kubemedic's cordon (then kubemedic never uncordons it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_was_cordoned: Option<bool>,
}

/// A Remediation object that cannot be acted on, and why (nothing is done with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct InvalidRemediation {
    /// Field path (`spec.steps[1].action`).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// A step as checked from a Remediation object.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedStep {
    /// Name.
    pub name: String,
    /// The typed action.
    pub action: Action,
    /// Timeout.
    pub timeout: std::time::Duration,
    /// Verification.
    pub verify: Vec<Verify>,
    /// On timeout.
    pub on_timeout: OnTimeout,
    /// Enabled.
    pub enabled: bool,
}

impl CheckedStep {
    /// Who carries it out.
    pub fn executor(&self) -> Executor {
        self.action.kind().executor()
    }
}

impl RemediationSpec {
    /// Builds the spec of a run of `runbook` on a target.
    pub fn new(
        runbook: &Runbook,
        target: &TargetRef,
        node: Option<&str>,
        trigger: Vec<String>,
        summary: &str,
    ) -> RemediationSpec {
        RemediationSpec {
            runbook: runbook.name.clone(),
            target_kind: runbook.target.to_string(),
            target: TargetSpec {
                kind: target.kind.clone(),
                namespace: target.namespace.clone(),
                name: target.name.clone(),
                node: node.map(str::to_string),
            },
            trigger,
            summary: summary.to_string(),
            steps: runbook
                .steps
                .iter()
                .map(|s| StepSpec {
                    name: s.name.clone(),
                    action: s.action.kind().as_str().to_string(),
                    with: s.with.clone(),
                    timeout_seconds: s.timeout.as_secs().max(1),
                    verify: s.verify.iter().map(|v| v.as_str().to_string()).collect(),
                    on_timeout: match s.on_timeout {
                        OnTimeout::Next => "next".into(),
                        OnTimeout::Escalate => "escalate".into(),
                    },
                    enabled: s.enabled,
                })
                .collect(),
            escalation_severity: runbook.escalate.severity.as_str().to_string(),
            escalation_message: runbook.escalate.message.clone(),
            matcher: serde_json::to_string(&runbook.matcher).unwrap_or_default(),
        }
    }

    /// Checks every step against the allow-list, as the runbook validator does: an object
    /// written by hand or by an old version gets the same scrutiny as a runbook file.
    pub fn check(&self) -> Result<Vec<CheckedStep>, InvalidRemediation> {
        let target = match self.target_kind.as_str() {
            "node" => TargetKind::Node,
            "pod" => TargetKind::Pod,
            other => {
                return Err(InvalidRemediation {
                    path: "spec.targetKind".into(),
                    reason: format!("{other:?} is not node or pod"),
                });
            }
        };
        if self.target.name.is_empty() {
            return Err(InvalidRemediation {
                path: "spec.target.name".into(),
                reason: "empty".into(),
            });
        }
        if target == TargetKind::Node && self.target.kind != "Node" {
            return Err(InvalidRemediation {
                path: "spec.target.kind".into(),
                reason: format!("a node run must target a Node, not {}", self.target.kind),
            });
        }
        if self.steps.is_empty() {
            return Err(InvalidRemediation {
                path: "spec.steps".into(),
                reason: "no steps".into(),
            });
        }
        let mut out = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            let path = format!("spec.steps[{i}]");
            let kind = ActionKind::from_name(&s.action).ok_or_else(|| InvalidRemediation {
                path: format!("{path}.action"),
                reason: format!("{:?} is not an allow-listed action", s.action),
            })?;
            let action = Action::build(kind, &s.with, target).map_err(|errs| {
                let e = &errs[0];
                InvalidRemediation {
                    path: if e.param.is_empty() {
                        format!("{path}.with")
                    } else {
                        format!("{path}.with.{}", e.param)
                    },
                    reason: e.reason.clone(),
                }
            })?;
            let verify = s
                .verify
                .iter()
                .map(|v| {
                    Verify::ALL
                        .iter()
                        .copied()
                        .find(|k| k.as_str() == v)
                        .ok_or_else(|| InvalidRemediation {
                            path: format!("{path}.verify"),
                            reason: format!("{v:?} is not a known check"),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let on_timeout = match s.on_timeout.as_str() {
                "next" => OnTimeout::Next,
                "escalate" => OnTimeout::Escalate,
                other => {
                    return Err(InvalidRemediation {
                        path: format!("{path}.onTimeout"),
                        reason: format!("{other:?} is not next or escalate"),
                    });
                }
            };
            if s.timeout_seconds == 0 {
                return Err(InvalidRemediation {
                    path: format!("{path}.timeoutSeconds"),
                    reason: "must be above 0".into(),
                });
            }
            out.push(CheckedStep {
                name: s.name.clone(),
                action,
                timeout: std::time::Duration::from_secs(s.timeout_seconds),
                verify,
                on_timeout,
                enabled: s.enabled,
            });
        }
        Ok(out)
    }

    /// Whether any enabled step is disruptive.
    pub fn disruptive(&self) -> bool {
        self.steps.iter().any(|s| {
            s.enabled && ActionKind::from_name(&s.action).is_some_and(ActionKind::disruptive)
        })
    }

    /// The target as a reference.
    pub fn target_ref(&self) -> TargetRef {
        TargetRef {
            kind: self.target.kind.clone(),
            namespace: self.target.namespace.clone(),
            name: self.target.name.clone(),
        }
    }
}

/// Formats a time for the status.
pub fn stamp(t: Timestamp) -> String {
    t.to_string()
}

/// The CRD as YAML, as shipped in `deploy/` and installed by `--install-crds`.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let crd = Remediation::crd();
    serde_saphyr::to_string(&crd).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Library;

    #[test]
    fn spec_from_every_default_runbook_checks() {
        let lib = Library::embedded();
        for e in lib.runbooks.values() {
            let rb = &e.runbook;
            let target = match rb.target {
                TargetKind::Node => TargetRef::node("n1"),
                TargetKind::Pod => TargetRef::namespaced("Pod", "ns", "p"),
            };
            let spec = RemediationSpec::new(rb, &target, Some("n1"), vec![], "s");
            let steps = spec.check().unwrap_or_else(|e| panic!("{}: {e}", rb.name));
            assert_eq!(steps.len(), rb.steps.len());
            for (a, b) in steps.iter().zip(&rb.steps) {
                assert_eq!(a.action, b.action);
                assert_eq!(a.enabled, b.enabled);
            }
            assert_eq!(spec.disruptive(), rb.disruptive());
        }
    }

    #[test]
    fn hand_written_objects_get_the_same_checks() {
        let lib = Library::embedded();
        let rb = &lib.get("cni-failure").unwrap().runbook;
        let mut spec = RemediationSpec::new(rb, &TargetRef::node("n1"), Some("n1"), vec![], "");
        spec.steps[1].action = "sh".into();
        let e = spec.check().unwrap_err();
        assert_eq!(e.path, "spec.steps[1].action");
        spec.steps[1].action = "restart-runtime".into();
        spec.steps[1]
            .with
            .insert("command".into(), "rm -rf /".into());
        let e = spec.check().unwrap_err();
        assert_eq!(e.path, "spec.steps[1].with.command");
        spec.steps[1].with.clear();
        spec.target.kind = "Pod".into();
        assert_eq!(spec.check().unwrap_err().path, "spec.target.kind");
    }

    #[test]
    fn crd_is_cluster_scoped_with_status_subresource() {
        let y = crd_yaml();
        assert!(y.contains("name: remediations.kubemedic.io"), "{y}");
        assert!(y.contains("scope: Cluster"), "{y}");
        assert!(y.contains("status: {}"), "{y}");
    }
}
