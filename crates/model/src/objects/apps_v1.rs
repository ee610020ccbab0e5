//! apps/v1 kinds: Deployment, ReplicaSet, DaemonSet, StatefulSet.

use super::{
    LabelSelector, NamespaceResourceScope, ObjectMeta, PodTemplateSpec, Time, k8s_kind, meta,
    required, shrunk,
};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// Declares the condition type of one workload kind (they share one shape).
macro_rules! workload_condition {
    ($name:ident, $what:literal) => {
        #[doc = concat!("One ", $what, " condition.")]
        #[skip_serializing_none]
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Last status change.
            pub last_transition_time: Option<Time>,
            /// Human text.
            pub message: Option<CompactString>,
            /// Short reason.
            pub reason: Option<CompactString>,
            /// True, False or Unknown.
            pub status: Option<CompactString>,
            /// Condition type.
            #[serde(rename = "type")]
            pub type_: Option<CompactString>,
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Deployment

/// A Deployment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Replicas, selector, template.
    #[serde(default, deserialize_with = "required")]
    pub spec: DeploymentSpec,
    /// Rollout state.
    pub status: Option<DeploymentStatus>,
}

k8s_kind!(Deployment, group: "apps", version: "v1", api_version: "apps/v1",
    plural: "deployments", scope: NamespaceResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

impl super::Absent for DeploymentSpec {}

/// A Deployment's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Seconds a new pod must be ready to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Rollout paused.
    pub paused: Option<bool>,
    /// Seconds before a stalled rollout is reported (ProgressDeadlineExceeded).
    pub progress_deadline_seconds: Option<i32>,
    /// Desired replicas.
    pub replicas: Option<i32>,
    /// Pod label selector.
    #[serde(default, deserialize_with = "required")]
    pub selector: LabelSelector,
    /// Pods to create.
    #[serde(default, deserialize_with = "required")]
    pub template: PodTemplateSpec,
}

/// A Deployment's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    /// Available replicas.
    pub available_replicas: Option<i32>,
    /// Conditions (Available, Progressing, ReplicaFailure).
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<DeploymentCondition>>,
    /// Generation last acted on.
    pub observed_generation: Option<i64>,
    /// Ready replicas.
    pub ready_replicas: Option<i32>,
    /// Existing replicas.
    pub replicas: Option<i32>,
    /// Replicas not available.
    pub unavailable_replicas: Option<i32>,
    /// Replicas of the newest template.
    pub updated_replicas: Option<i32>,
}

/// One Deployment condition.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCondition {
    /// Last status change.
    pub last_transition_time: Option<Time>,
    /// Last time it was updated.
    pub last_update_time: Option<Time>,
    /// Human text.
    pub message: Option<CompactString>,
    /// Short reason (ProgressDeadlineExceeded, ...).
    pub reason: Option<CompactString>,
    /// True, False or Unknown.
    pub status: Option<CompactString>,
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: Option<CompactString>,
}

// ---------------------------------------------------------------------------------------------
// ReplicaSet

/// A ReplicaSet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSet {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Replicas, selector, template.
    #[serde(default, deserialize_with = "required")]
    pub spec: ReplicaSetSpec,
    /// Replica counts and conditions.
    pub status: Option<ReplicaSetStatus>,
}

k8s_kind!(ReplicaSet, group: "apps", version: "v1", api_version: "apps/v1",
    plural: "replicasets", scope: NamespaceResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

impl super::Absent for ReplicaSetSpec {}

/// A ReplicaSet's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetSpec {
    /// Seconds a new pod must be ready to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Desired replicas.
    pub replicas: Option<i32>,
    /// Pod label selector.
    #[serde(default, deserialize_with = "required")]
    pub selector: LabelSelector,
    /// Pods to create.
    pub template: Option<PodTemplateSpec>,
}

/// A ReplicaSet's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetStatus {
    /// Available replicas.
    pub available_replicas: Option<i32>,
    /// Conditions (ReplicaFailure).
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<ReplicaSetCondition>>,
    /// Replicas whose labels match the template's.
    pub fully_labeled_replicas: Option<i32>,
    /// Generation last acted on.
    pub observed_generation: Option<i64>,
    /// Ready replicas.
    pub ready_replicas: Option<i32>,
    /// Existing replicas.
    #[serde(default, deserialize_with = "required")]
    pub replicas: i32,
}

workload_condition!(ReplicaSetCondition, "ReplicaSet");

// ---------------------------------------------------------------------------------------------
// DaemonSet

/// A DaemonSet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSet {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Selector, template.
    #[serde(default, deserialize_with = "required")]
    pub spec: DaemonSetSpec,
    /// Scheduling and readiness counts.
    pub status: Option<DaemonSetStatus>,
}

k8s_kind!(DaemonSet, group: "apps", version: "v1", api_version: "apps/v1",
    plural: "daemonsets", scope: NamespaceResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

impl super::Absent for DaemonSetSpec {}

/// A DaemonSet's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetSpec {
    /// Seconds a new pod must be ready to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Pod label selector.
    #[serde(default, deserialize_with = "required")]
    pub selector: LabelSelector,
    /// Pods to create.
    #[serde(default, deserialize_with = "required")]
    pub template: PodTemplateSpec,
}

/// A DaemonSet's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetStatus {
    /// Conditions.
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<DaemonSetCondition>>,
    /// Nodes running a daemon pod that should.
    #[serde(default, deserialize_with = "required")]
    pub current_number_scheduled: i32,
    /// Nodes that should run a daemon pod.
    #[serde(default, deserialize_with = "required")]
    pub desired_number_scheduled: i32,
    /// Nodes with an available daemon pod.
    pub number_available: Option<i32>,
    /// Nodes running a daemon pod that should not.
    #[serde(default, deserialize_with = "required")]
    pub number_misscheduled: i32,
    /// Nodes with a ready daemon pod.
    #[serde(default, deserialize_with = "required")]
    pub number_ready: i32,
    /// Nodes that should run an available daemon pod and do not.
    pub number_unavailable: Option<i32>,
    /// Generation last acted on.
    pub observed_generation: Option<i64>,
    /// Nodes running the newest template.
    pub updated_number_scheduled: Option<i32>,
}

workload_condition!(DaemonSetCondition, "DaemonSet");

// ---------------------------------------------------------------------------------------------
// StatefulSet

/// A StatefulSet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSet {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Replicas, selector, template.
    #[serde(default, deserialize_with = "required")]
    pub spec: StatefulSetSpec,
    /// Replica counts and conditions.
    pub status: Option<StatefulSetStatus>,
}

k8s_kind!(StatefulSet, group: "apps", version: "v1", api_version: "apps/v1",
    plural: "statefulsets", scope: NamespaceResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

impl super::Absent for StatefulSetSpec {}

/// A StatefulSet's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    /// OrderedReady or Parallel.
    pub pod_management_policy: Option<CompactString>,
    /// Desired replicas.
    pub replicas: Option<i32>,
    /// Pod label selector.
    #[serde(default, deserialize_with = "required")]
    pub selector: LabelSelector,
    /// The governing headless Service.
    pub service_name: Option<CompactString>,
    /// Pods to create.
    #[serde(default, deserialize_with = "required")]
    pub template: PodTemplateSpec,
}

/// A StatefulSet's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetStatus {
    /// Available replicas.
    pub available_replicas: Option<i32>,
    /// Conditions.
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<StatefulSetCondition>>,
    /// Replicas of the current revision.
    pub current_replicas: Option<i32>,
    /// Generation last acted on.
    pub observed_generation: Option<i64>,
    /// Ready replicas.
    pub ready_replicas: Option<i32>,
    /// Existing replicas.
    #[serde(default, deserialize_with = "required")]
    pub replicas: i32,
    /// Replicas of the update revision.
    pub updated_replicas: Option<i32>,
}

workload_condition!(StatefulSetCondition, "StatefulSet");
