//! The cluster snapshot the diagnosis engine reads.

use crate::facts::NodeFacts;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Endpoints, Event, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Everything the analysers may look at, gathered once from a live cluster or a dump.
///
/// Analysers must take "now" from [`Snapshot::taken_at`], never from the clock, so that a dump
/// diagnosed a week later gives the same answer.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// When the snapshot was taken (the reference "now" for ages and durations).
    pub taken_at: Option<Timestamp>,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Pods.
    pub pods: Vec<Pod>,
    /// core/v1 Events (events.k8s.io/v1 ones are converted to this form by the loaders).
    pub events: Vec<Event>,
    /// Services.
    pub services: Vec<Service>,
    /// Endpoints.
    pub endpoints: Vec<Endpoints>,
    /// EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// PersistentVolumeClaims.
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub persistent_volumes: Vec<PersistentVolume>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// ReplicaSets.
    pub replica_sets: Vec<ReplicaSet>,
    /// DaemonSets.
    pub daemon_sets: Vec<DaemonSet>,
    /// StatefulSets.
    pub stateful_sets: Vec<StatefulSet>,
    /// Jobs.
    pub jobs: Vec<Job>,
    /// Container logs, current and previous instance, by container.
    pub container_logs: BTreeMap<ContainerRef, ContainerLogs>,
    /// Node logs by node name and source.
    pub node_logs: BTreeMap<String, BTreeMap<NodeLogSource, String>>,
    /// Node facts reported by the agent, by node name.
    pub node_facts: BTreeMap<String, NodeFacts>,
    /// Inputs that could not be read; the rest of the snapshot is still complete.
    pub skipped: Vec<SkippedInput>,
}

/// Identifies one container of one pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContainerRef {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
}

impl ContainerRef {
    /// Builds a reference from its three parts.
    pub fn new(
        namespace: impl Into<String>,
        pod: impl Into<String>,
        container: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
        }
    }
}

/// The logs of one container: the running instance and the one before it (the crashed one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLogs {
    /// Logs of the current instance (tail), if fetched.
    pub current: Option<String>,
    /// Logs of the previous instance (`kubectl logs --previous`), if fetched.
    pub previous: Option<String>,
}

/// Where a node log came from; the file name in a dump is `_nodes/<node>/<source>.log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeLogSource {
    /// Kernel ring buffer (dmesg / kmsg / journal -k).
    Kernel,
    /// kubelet.
    Kubelet,
    /// containerd.
    Containerd,
    /// dockerd.
    Docker,
    /// kube-proxy.
    KubeProxy,
    /// syslog / messages (mixed sources).
    Syslog,
}

impl NodeLogSource {
    /// Every source, in a stable order.
    pub const ALL: [NodeLogSource; 6] = [
        NodeLogSource::Kernel,
        NodeLogSource::Kubelet,
        NodeLogSource::Containerd,
        NodeLogSource::Docker,
        NodeLogSource::KubeProxy,
        NodeLogSource::Syslog,
    ];

    /// The name used in dump file names and evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeLogSource::Kernel => "kernel",
            NodeLogSource::Kubelet => "kubelet",
            NodeLogSource::Containerd => "containerd",
            NodeLogSource::Docker => "docker",
            NodeLogSource::KubeProxy => "kube-proxy",
            NodeLogSource::Syslog => "syslog",
        }
    }
}

impl fmt::Display for NodeLogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the known node log sources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown node log source {0:?} (expected one of kernel, kubelet, containerd, docker, kube-proxy, syslog)"
)]
pub struct UnknownNodeLogSource(pub String);

impl FromStr for NodeLogSource {
    type Err = UnknownNodeLogSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeLogSource::ALL
            .into_iter()
            .find(|src| src.as_str() == s)
            .ok_or_else(|| UnknownNodeLogSource(s.to_string()))
    }
}

/// An input that could not be read, and why; reported next to the findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedInput {
    /// File path (dump) or resource/API call (live).
    pub input: String,
    /// The error, with position where known.
    pub reason: String,
}
