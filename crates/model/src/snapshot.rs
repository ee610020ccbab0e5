//! The cluster snapshot the diagnosis engine reads.

use crate::facts::NodeFacts;
use crate::objects::{
    ContainerState, ContainerStatus, DaemonSet, Deployment, EndpointSlice, Endpoints, Event, Job,
    Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicaSet, ReplicationController, Service,
    StatefulSet,
};
use jiff::Timestamp;
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
    /// ReplicationControllers.
    pub replication_controllers: Vec<ReplicationController>,
    /// Container logs, current and previous instance, by container.
    pub container_logs: BTreeMap<ContainerRef, ContainerLogs>,
    /// Node logs by node name and source.
    pub node_logs: BTreeMap<String, BTreeMap<NodeLogSource, String>>,
    /// Node facts reported by the agent, by node name.
    pub node_facts: BTreeMap<String, NodeFacts>,
    /// Inputs that could not be read; the rest of the snapshot is still complete.
    pub skipped: Vec<SkippedInput>,
    /// Inputs a complete collection has that this one lacks (a file an older kubectl does not
    /// write), with what that costs the analysis; nothing was wrong with what was there.
    pub missing: Vec<SkippedInput>,
}

impl Snapshot {
    /// The newest time recorded anywhere in events or statuses: the best guess of when a
    /// snapshot without a recorded time (a plain kubectl dump) was taken.
    pub fn newest_timestamp(&self) -> Option<Timestamp> {
        let mut newest: Option<Timestamp> = None;
        let mut see = |t: Option<Timestamp>| {
            if let Some(t) = t
                && newest.is_none_or(|n| t > n)
            {
                newest = Some(t);
            }
        };
        for e in &self.events {
            see(e.last_timestamp.as_ref().map(|t| t.0));
            see(e.first_timestamp.as_ref().map(|t| t.0));
            see(e.event_time.as_ref().map(|t| t.0));
            see(e
                .series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0));
        }
        for n in &self.nodes {
            for c in n.status.iter().flat_map(|s| s.conditions.iter().flatten()) {
                see(c.last_heartbeat_time.as_ref().map(|t| t.0));
                see(c.last_transition_time.as_ref().map(|t| t.0));
            }
        }
        for p in &self.pods {
            let Some(status) = &p.status else { continue };
            for c in status.conditions.iter().flatten() {
                see(c.last_transition_time.as_ref().map(|t| t.0));
            }
            for cs in status
                .container_statuses
                .iter()
                .flatten()
                .chain(status.init_container_statuses.iter().flatten())
            {
                for st in [cs.state.as_ref(), cs.last_state.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    see(st
                        .running
                        .as_ref()
                        .and_then(|r| r.started_at.as_ref())
                        .map(|t| t.0));
                    if let Some(t) = &st.terminated {
                        see(t.finished_at.as_ref().map(|t| t.0));
                        see(t.started_at.as_ref().map(|t| t.0));
                    }
                }
            }
        }
        newest
    }
}

/// Whether a container is failing: it restarted, ended with a non-zero code, or waits with a
/// reason other than being created.
pub fn container_is_failing(cs: &ContainerStatus) -> bool {
    let bad_term = |s: &Option<ContainerState>| {
        s.as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0)
    };
    let waiting_bad = cs
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref())
        .is_some_and(|r| r != "ContainerCreating" && r != "PodInitializing");
    cs.restart_count > 0 || bad_term(&cs.state) || bad_term(&cs.last_state) || waiting_bad
}

/// Whether a pod is a cluster DNS replica (CoreDNS or kube-dns): their logs tell a replica that
/// fails lookups while it looks healthy.
pub fn is_cluster_dns(pod: &Pod) -> bool {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("k8s-app"))
        .is_some_and(|v| v == "kube-dns" || v == "coredns")
        || pod
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("coredns-"))
}

/// Whether the analysers read this container's logs: it is failing, or (not an init container)
/// it is not ready (a readiness probe failing on a port the log says nothing listens on).
pub fn container_logs_wanted(cs: &ContainerStatus, init: bool) -> bool {
    container_is_failing(cs) || (!init && !cs.ready)
}

/// Whether the analysers read this pod's container logs: a container of it is failing or not
/// ready ([`container_logs_wanted`]), or it is a cluster DNS replica. Both loaders (live and
/// dump) load logs by this rule, so a dump and the live cluster it was collected from give the
/// same findings.
pub fn pod_logs_wanted(pod: &Pod) -> bool {
    if is_cluster_dns(pod) {
        return true;
    }
    pod.status.as_ref().is_some_and(|s| {
        s.container_statuses
            .iter()
            .flatten()
            .any(|cs| container_logs_wanted(cs, false))
            || s.init_container_statuses
                .iter()
                .flatten()
                .any(|cs| container_logs_wanted(cs, true))
    })
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
