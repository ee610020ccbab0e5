//! The plain data the planner reads: nodes, pods and findings reduced to what matching and the
//! safety gates need. Built from a snapshot plus its diagnosis ([`ClusterView::from_snapshot`]),
//! or by hand in tests.

use jiff::Timestamp;
use kubemedic_diagnose::Report;
use kubemedic_model::Snapshot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Annotation kubemedic puts on a node it cordoned, so it never uncordons a cordon it did not set.
pub const CORDONED_BY_ANNOTATION: &str = "kubemedic.io/cordoned-by";

/// Label that keeps a node (or a pod) out of healing whatever its value, except `"false"`.
pub const DEFAULT_EXCLUDE_LABEL: &str = "kubemedic.io/exclude";

/// One NodeCondition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionView {
    /// Type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Reason.
    #[serde(default)]
    pub reason: String,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// lastTransitionTime (when absent the condition counts as just changed).
    #[serde(default)]
    pub last_transition: Option<Timestamp>,
}

/// A node as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeView {
    /// Name.
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// spec.unschedulable.
    #[serde(default)]
    pub unschedulable: bool,
    /// Whether kubemedic's cordon annotation is present.
    #[serde(default)]
    pub cordoned_by_kubemedic: bool,
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<ConditionView>,
}

impl NodeView {
    /// Whether the node carries a control-plane role label.
    pub fn control_plane(&self) -> bool {
        self.labels
            .contains_key("node-role.kubernetes.io/control-plane")
            || self.labels.contains_key("node-role.kubernetes.io/master")
    }

    /// The Ready condition's status, if reported.
    pub fn ready(&self) -> Option<&str> {
        self.condition("Ready").map(|c| c.status.as_str())
    }

    /// A condition by type.
    pub fn condition(&self, type_: &str) -> Option<&ConditionView> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// A pod as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PodView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    #[serde(default)]
    pub uid: String,
    /// spec.nodeName.
    #[serde(default)]
    pub node: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// status.phase.
    #[serde(default)]
    pub phase: String,
    /// Ready condition True.
    #[serde(default)]
    pub ready: bool,
    /// Controller owner (kind, name).
    #[serde(default)]
    pub owner: Option<(String, String)>,
    /// Being deleted.
    #[serde(default)]
    pub terminating: bool,
}

/// What a finding is about, as kind/namespace/name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TargetRef {
    /// `Node`, `Pod`, `Deployment`, ...
    pub kind: String,
    /// Namespace (absent for nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl TargetRef {
    /// A node.
    pub fn node(name: &str) -> Self {
        Self {
            kind: "Node".into(),
            namespace: None,
            name: name.into(),
        }
    }

    /// A namespaced object.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.to_ascii_lowercase();
        match &self.namespace {
            Some(ns) => write!(f, "{kind}/{ns}/{}", self.name),
            None => write!(f, "{kind}/{}", self.name),
        }
    }
}

/// A diagnosis finding reduced to what matching needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingView {
    /// Cause ID.
    pub cause: String,
    /// The object.
    pub object: TargetRef,
    /// The node the finding is about or was caused by.
    #[serde(default)]
    pub node: Option<String>,
    /// One-line summary.
    pub summary: String,
    /// Pods a workload finding covers.
    #[serde(default)]
    pub pods: Vec<TargetRef>,
}

/// Everything the planner reads about the cluster, at one instant.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterView {
    /// The reference "now".
    pub now: Timestamp,
    /// Nodes.
    pub nodes: Vec<NodeView>,
    /// Pods.
    pub pods: Vec<PodView>,
    /// Findings.
    pub findings: Vec<FindingView>,
}

impl ClusterView {
    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Reduces a snapshot and its diagnosis. `now` is the snapshot's time, else the caller's.
    pub fn from_snapshot(snap: &Snapshot, report: &Report, now: Timestamp) -> ClusterView {
        let now = snap.taken_at.unwrap_or(now);
        let nodes = snap
            .nodes
            .iter()
            .map(|n| {
                let meta = &n.metadata;
                let conditions = n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .map(|cs| {
                        cs.iter()
                            .map(|c| ConditionView {
                                type_: c.type_.to_string(),
                                status: c.status.to_string(),
                                reason: c.reason.as_deref().unwrap_or_default().to_string(),
                                message: c.message.as_deref().unwrap_or_default().to_string(),
                                last_transition: c.last_transition_time.as_ref().map(|t| t.0),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                NodeView {
                    name: meta.name.clone().unwrap_or_default(),
                    labels: meta.labels.clone().unwrap_or_default(),
                    unschedulable: n
                        .spec
                        .as_ref()
                        .and_then(|s| s.unschedulable)
                        .unwrap_or(false),
                    cordoned_by_kubemedic: meta
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key(CORDONED_BY_ANNOTATION)),
                    conditions,
                }
            })
            .collect();
        let pods = snap
            .pods
            .iter()
            .map(|p| {
                let meta = &p.metadata;
                let status = p.status.as_ref();
                PodView {
                    namespace: meta.namespace.clone().unwrap_or_default(),
                    name: meta.name.clone().unwrap_or_default(),
                    uid: meta.uid.clone().unwrap_or_default(),
                    node: p
                        .spec
                        .as_ref()
                        .and_then(|s| s.node_name.as_deref().map(str::to_string)),
                    labels: meta.labels.clone().unwrap_or_default(),
                    phase: status
                        .and_then(|s| s.phase.as_deref())
                        .unwrap_or_default()
                        .to_string(),
                    ready: status
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        }),
                    owner: meta.owner_references.as_ref().and_then(|os| {
                        os.iter()
                            .find(|o| o.controller == Some(true))
                            .map(|o| (o.kind.clone(), o.name.clone()))
                    }),
                    terminating: meta.deletion_timestamp.is_some(),
                }
            })
            .collect();
        let findings = report
            .findings
            .iter()
            .map(|f| {
                let object = TargetRef {
                    kind: f.object.kind.clone(),
                    namespace: f.object.namespace.clone(),
                    name: f.object.name.clone(),
                };
                let node = finding_node(f);
                FindingView {
                    cause: f.cause.as_str().to_string(),
                    object,
                    node,
                    summary: f.summary.clone(),
                    pods: f
                        .affected
                        .iter()
                        .map(|o| TargetRef {
                            kind: o.kind.clone(),
                            namespace: o.namespace.clone(),
                            name: o.name.clone(),
                        })
                        .collect(),
                }
            })
            .collect();
        ClusterView {
            now,
            nodes,
            pods,
            findings,
        }
    }
}

/// The node a finding is about, or the node that caused it (None for a workload's own cause).
pub fn finding_node(f: &kubemedic_diagnose::Finding) -> Option<String> {
    if f.object.kind == "Node" {
        Some(f.object.name.clone())
    } else {
        f.caused_by
            .as_ref()
            .filter(|c| c.kind == "Node")
            .map(|c| c.name.clone())
    }
}
