//! batch/v1 kinds: Job.

use super::{
    LabelSelector, NamespaceResourceScope, ObjectMeta, PodTemplateSpec, Time, k8s_kind, meta,
    required, shrunk,
};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// A Job.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Completions, parallelism, limits, template.
    pub spec: Option<JobSpec>,
    /// Pod counts and conditions.
    pub status: Option<JobStatus>,
}

k8s_kind!(Job, group: "batch", version: "v1", api_version: "batch/v1",
    plural: "jobs", scope: NamespaceResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

/// A Job's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// Seconds the Job may run.
    pub active_deadline_seconds: Option<i64>,
    /// Retries before the Job fails.
    pub backoff_limit: Option<i32>,
    /// Successful pods needed.
    pub completions: Option<i32>,
    /// Pods run at once.
    pub parallelism: Option<i32>,
    /// Pod label selector.
    pub selector: Option<LabelSelector>,
    /// Pods to create.
    #[serde(default, deserialize_with = "required")]
    pub template: PodTemplateSpec,
}

/// A Job's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Running pods.
    pub active: Option<i32>,
    /// When it completed.
    pub completion_time: Option<Time>,
    /// Conditions (Complete, Failed, Suspended, ...).
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<JobCondition>>,
    /// Failed pods.
    pub failed: Option<i32>,
    /// Ready pods.
    pub ready: Option<i32>,
    /// When it started.
    pub start_time: Option<Time>,
    /// Succeeded pods.
    pub succeeded: Option<i32>,
}

/// One Job condition.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCondition {
    /// Last time it was probed.
    pub last_probe_time: Option<Time>,
    /// Last status change.
    pub last_transition_time: Option<Time>,
    /// Human text.
    pub message: Option<CompactString>,
    /// Short reason (BackoffLimitExceeded, DeadlineExceeded, ...).
    pub reason: Option<CompactString>,
    /// True, False or Unknown.
    #[serde(default, deserialize_with = "required")]
    pub status: CompactString,
    /// Condition type.
    #[serde(rename = "type", default, deserialize_with = "required")]
    pub type_: CompactString,
}
