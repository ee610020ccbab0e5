//! core/v1 kinds: Pod, Node, Event, Service, Endpoints, PersistentVolumeClaim, PersistentVolume,
//! ReplicationController.

use super::{
    ClusterResourceScope, IntOrString, MicroTime, NamespaceResourceScope, ObjectMeta, Quantity,
    StrMap, Time, k8s_kind, meta, required, required_vec, shrunk,
};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

// ---------------------------------------------------------------------------------------------
// Pod

/// A pod: what runs, where, and how it is doing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// Standard object metadata (slim, and without annotations: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize_without_annotations")]
    pub metadata: ObjectMeta,
    /// What the pod should run.
    pub spec: Option<PodSpec>,
    /// What the kubelet last reported.
    pub status: Option<PodStatus>,
}

k8s_kind!(Pod, group: "", version: "v1", api_version: "v1", plural: "pods",
    scope: NamespaceResourceScope, fields: { metadata => "metadata", spec => "spec", status => "status" });

/// The pod's desired state (kept: containers, placement, volumes, restart and termination settings).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// The app containers.
    #[serde(default, deserialize_with = "required_vec")]
    pub containers: Vec<Container>,
    /// Whether the pod uses the node's network namespace.
    pub host_network: Option<bool>,
    /// Init containers, run in order before the app containers.
    #[serde(default, deserialize_with = "shrunk")]
    pub init_containers: Option<Vec<Container>>,
    /// The node the pod is bound to.
    pub node_name: Option<CompactString>,
    /// Node labels the pod requires.
    pub node_selector: Option<StrMap<CompactString>>,
    /// Always, OnFailure or Never.
    pub restart_policy: Option<CompactString>,
    /// The scheduler responsible for placing the pod.
    pub scheduler_name: Option<CompactString>,
    /// Grace period of a deletion, in seconds.
    pub termination_grace_period_seconds: Option<i64>,
    /// Volumes the containers may mount.
    #[serde(default, deserialize_with = "shrunk")]
    pub volumes: Option<Vec<Volume>>,
}

/// One container of a pod spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Arguments to the entrypoint.
    #[serde(default, deserialize_with = "shrunk")]
    pub args: Option<Vec<CompactString>>,
    /// Entrypoint array.
    #[serde(default, deserialize_with = "shrunk")]
    pub command: Option<Vec<CompactString>>,
    /// Image reference.
    pub image: Option<CompactString>,
    /// Liveness probe.
    pub liveness_probe: Option<Box<Probe>>,
    /// Container name.
    #[serde(default, deserialize_with = "required")]
    pub name: CompactString,
    /// Ports exposed.
    #[serde(default, deserialize_with = "shrunk")]
    pub ports: Option<Vec<ContainerPort>>,
    /// Readiness probe.
    pub readiness_probe: Option<Box<Probe>>,
    /// Requests and limits.
    pub resources: Option<ResourceRequirements>,
    /// Startup probe.
    pub startup_probe: Option<Box<Probe>>,
}

/// A port of a container.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Port inside the container.
    #[serde(default, deserialize_with = "required")]
    pub container_port: i32,
    /// Host IP to bind a host port to.
    #[serde(rename = "hostIP")]
    pub host_ip: Option<CompactString>,
    /// Port on the host.
    pub host_port: Option<i32>,
    /// Port name.
    pub name: Option<CompactString>,
    /// TCP, UDP or SCTP.
    pub protocol: Option<CompactString>,
}

/// Compute resources of a container.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// Maximum amounts.
    pub limits: Option<StrMap<Quantity>>,
    /// Minimum amounts the scheduler reserves.
    pub requests: Option<StrMap<Quantity>>,
}

/// A liveness, readiness or startup probe.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Command run inside the container.
    pub exec: Option<ExecAction>,
    /// Consecutive failures before the probe counts as failed.
    pub failure_threshold: Option<i32>,
    /// gRPC health check.
    pub grpc: Option<GRPCAction>,
    /// HTTP GET check.
    pub http_get: Option<HTTPGetAction>,
    /// Seconds after the container starts before the first probe.
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between probes.
    pub period_seconds: Option<i32>,
    /// Consecutive successes before the probe counts as passed.
    pub success_threshold: Option<i32>,
    /// TCP connect check.
    pub tcp_socket: Option<TCPSocketAction>,
    /// Seconds before one probe times out.
    pub timeout_seconds: Option<i32>,
}

/// A command probe.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecAction {
    /// The command.
    #[serde(default, deserialize_with = "shrunk")]
    pub command: Option<Vec<CompactString>>,
}

/// A gRPC probe.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct GRPCAction {
    /// Port number.
    #[serde(default, deserialize_with = "required")]
    pub port: i32,
    /// Service name sent in the request.
    pub service: Option<CompactString>,
}

/// An HTTP GET probe.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct HTTPGetAction {
    /// Host to connect to (default: the pod IP).
    pub host: Option<CompactString>,
    /// Path.
    pub path: Option<CompactString>,
    /// Port number or name.
    #[serde(default, deserialize_with = "required")]
    pub port: IntOrString,
    /// HTTP or HTTPS.
    pub scheme: Option<CompactString>,
}

/// A TCP connect probe.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct TCPSocketAction {
    /// Host to connect to (default: the pod IP).
    pub host: Option<CompactString>,
    /// Port number or name.
    #[serde(default, deserialize_with = "required")]
    pub port: IntOrString,
}

/// A pod volume (kept: its name and the sources analysers follow).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// A ConfigMap's keys as files.
    pub config_map: Option<Box<ConfigMapVolumeSource>>,
    /// Volume name.
    #[serde(default, deserialize_with = "required")]
    pub name: CompactString,
    /// A PersistentVolumeClaim.
    pub persistent_volume_claim: Option<Box<PersistentVolumeClaimVolumeSource>>,
    /// A Secret's keys as files.
    pub secret: Option<Box<SecretVolumeSource>>,
}

/// A ConfigMap volume.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapVolumeSource {
    /// ConfigMap name.
    #[serde(default, deserialize_with = "required")]
    pub name: CompactString,
    /// Whether the ConfigMap may be missing.
    pub optional: Option<bool>,
}

/// A PersistentVolumeClaim volume.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimVolumeSource {
    /// Claim name in the pod's namespace.
    #[serde(default, deserialize_with = "required")]
    pub claim_name: CompactString,
    /// Mounted read-only.
    pub read_only: Option<bool>,
}

/// A Secret volume.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVolumeSource {
    /// Whether the Secret may be missing.
    pub optional: Option<bool>,
    /// Secret name.
    pub secret_name: Option<CompactString>,
}

/// The pod's observed state.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// Conditions (PodScheduled, Initialized, ContainersReady, Ready, ...).
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<PodCondition>>,
    /// App container statuses.
    #[serde(default, deserialize_with = "shrunk")]
    pub container_statuses: Option<Vec<ContainerStatus>>,
    /// IP of the node the pod runs on.
    #[serde(rename = "hostIP")]
    pub host_ip: Option<CompactString>,
    /// Init container statuses.
    #[serde(default, deserialize_with = "shrunk")]
    pub init_container_statuses: Option<Vec<ContainerStatus>>,
    /// Why the pod is in this state (human text).
    pub message: Option<CompactString>,
    /// Node the scheduler nominated while preempting.
    pub nominated_node_name: Option<CompactString>,
    /// Pending, Running, Succeeded, Failed or Unknown.
    pub phase: Option<CompactString>,
    /// The pod's IP.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<CompactString>,
    /// Short reason (Evicted, NodeLost, ...).
    pub reason: Option<CompactString>,
    /// When the kubelet accepted the pod.
    pub start_time: Option<Time>,
}

/// One pod condition.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    /// Last status change.
    pub last_transition_time: Option<Time>,
    /// Human text.
    pub message: Option<CompactString>,
    /// Short reason.
    pub reason: Option<CompactString>,
    /// True, False or Unknown.
    #[serde(default, deserialize_with = "required")]
    pub status: CompactString,
    /// Condition type.
    #[serde(rename = "type", default, deserialize_with = "required")]
    pub type_: CompactString,
}

/// The status of one container.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Image the container runs.
    #[serde(default, deserialize_with = "required")]
    pub image: CompactString,
    /// The previous instance's state (the crash).
    pub last_state: Option<ContainerState>,
    /// Container name.
    #[serde(default, deserialize_with = "required")]
    pub name: CompactString,
    /// Passed its readiness probe.
    #[serde(default, deserialize_with = "required")]
    pub ready: bool,
    /// Restarts so far.
    #[serde(default, deserialize_with = "required")]
    pub restart_count: i32,
    /// Passed its startup probe.
    pub started: Option<bool>,
    /// Current state.
    pub state: Option<ContainerState>,
}

/// A container state: exactly one of the three is normally set.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Running since.
    pub running: Option<ContainerStateRunning>,
    /// Ended.
    pub terminated: Option<Box<ContainerStateTerminated>>,
    /// Not running yet (or again).
    pub waiting: Option<ContainerStateWaiting>,
}

/// A running container.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateRunning {
    /// Start time.
    pub started_at: Option<Time>,
}

/// An ended container.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateTerminated {
    /// Exit code.
    #[serde(default, deserialize_with = "required")]
    pub exit_code: i32,
    /// End time.
    pub finished_at: Option<Time>,
    /// Message (the termination message file, or the runtime's).
    pub message: Option<CompactString>,
    /// Short reason (OOMKilled, Error, Completed, ...).
    pub reason: Option<CompactString>,
    /// Signal that ended it.
    pub signal: Option<i32>,
    /// Start time.
    pub started_at: Option<Time>,
}

/// A container that is not running.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateWaiting {
    /// Human text.
    pub message: Option<CompactString>,
    /// Short reason (CrashLoopBackOff, ImagePullBackOff, ...).
    pub reason: Option<CompactString>,
}

/// A pod template (workloads).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    /// Labels and annotations of the pods to create.
    #[serde(default, deserialize_with = "meta::deserialize_opt")]
    pub metadata: Option<ObjectMeta>,
    /// Spec of the pods to create.
    pub spec: Option<PodSpec>,
}

// ---------------------------------------------------------------------------------------------
// Node

/// A node.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Taints, cordon state, pod CIDR.
    pub spec: Option<NodeSpec>,
    /// Conditions, addresses, capacity, versions (not the image list).
    pub status: Option<NodeStatus>,
}

k8s_kind!(Node, group: "", version: "v1", api_version: "v1", plural: "nodes",
    scope: ClusterResourceScope, fields: { metadata => "metadata", spec => "spec", status => "status" });

/// A node's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// Pod IP range of the node.
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Option<CompactString>,
    /// Cloud provider's ID of the node.
    #[serde(rename = "providerID")]
    pub provider_id: Option<CompactString>,
    /// Taints.
    #[serde(default, deserialize_with = "shrunk")]
    pub taints: Option<Vec<Taint>>,
    /// Cordoned.
    pub unschedulable: Option<bool>,
}

/// A node taint.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// NoSchedule, PreferNoSchedule or NoExecute.
    #[serde(default, deserialize_with = "required")]
    pub effect: CompactString,
    /// Taint key.
    #[serde(default, deserialize_with = "required")]
    pub key: CompactString,
    /// When a NoExecute taint was added.
    pub time_added: Option<Time>,
    /// Taint value.
    pub value: Option<CompactString>,
}

/// A node's observed state (kept: everything but images, volumes and daemon endpoints).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Addresses (InternalIP, Hostname, ...).
    #[serde(default, deserialize_with = "shrunk")]
    pub addresses: Option<Vec<NodeAddress>>,
    /// Resources available to pods.
    pub allocatable: Option<StrMap<Quantity>>,
    /// Total resources.
    pub capacity: Option<StrMap<Quantity>>,
    /// Conditions (Ready, MemoryPressure, ... and node-problem-detector's).
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<NodeCondition>>,
    /// Versions and OS.
    pub node_info: Option<NodeSystemInfo>,
}

/// A node address.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAddress {
    /// The address.
    #[serde(default, deserialize_with = "required")]
    pub address: CompactString,
    /// Hostname, InternalIP, ExternalIP, ...
    #[serde(rename = "type", default, deserialize_with = "required")]
    pub type_: CompactString,
}

/// One node condition.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCondition {
    /// Last time the kubelet (or agent) confirmed it.
    pub last_heartbeat_time: Option<Time>,
    /// Last status change.
    pub last_transition_time: Option<Time>,
    /// Human text.
    pub message: Option<CompactString>,
    /// Short reason.
    pub reason: Option<CompactString>,
    /// True, False or Unknown.
    #[serde(default, deserialize_with = "required")]
    pub status: CompactString,
    /// Condition type.
    #[serde(rename = "type", default, deserialize_with = "required")]
    pub type_: CompactString,
}

/// Versions and OS of a node.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSystemInfo {
    /// CPU architecture.
    #[serde(default, deserialize_with = "required")]
    pub architecture: CompactString,
    /// Changes on every reboot.
    #[serde(rename = "bootID", default, deserialize_with = "required")]
    pub boot_id: CompactString,
    /// `containerd://1.7.22`, `docker://24.0.7`, ...
    #[serde(default, deserialize_with = "required")]
    pub container_runtime_version: CompactString,
    /// `uname -r`.
    #[serde(default, deserialize_with = "required")]
    pub kernel_version: CompactString,
    /// Kubelet version.
    #[serde(default, deserialize_with = "required")]
    pub kubelet_version: CompactString,
    /// `linux` or `windows`.
    #[serde(default, deserialize_with = "required")]
    pub operating_system: CompactString,
    /// OS image (`Ubuntu 22.04.4 LTS`).
    #[serde(default, deserialize_with = "required")]
    pub os_image: CompactString,
}

// ---------------------------------------------------------------------------------------------
// Event

/// A core/v1 Event (events.k8s.io/v1 ones are converted to this form by the loaders).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// What was done (events.k8s.io `action`).
    pub action: Option<CompactString>,
    /// How often it happened (deduplicated events).
    pub count: Option<i32>,
    /// When it happened (events.k8s.io style, microseconds).
    pub event_time: Option<MicroTime>,
    /// First occurrence.
    pub first_timestamp: Option<Time>,
    /// The object it is about.
    #[serde(default, deserialize_with = "required")]
    pub involved_object: ObjectReference,
    /// Last occurrence.
    pub last_timestamp: Option<Time>,
    /// Human text.
    pub message: Option<CompactString>,
    /// Standard object metadata (slim, and without annotations: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize_without_annotations")]
    pub metadata: ObjectMeta,
    /// Short reason (BackOff, FailedScheduling, ...).
    pub reason: Option<CompactString>,
    /// Controller that emitted it.
    pub reporting_component: Option<CompactString>,
    /// Instance of that controller.
    pub reporting_instance: Option<CompactString>,
    /// Series data of a repeating event.
    pub series: Option<EventSeries>,
    /// Component and host that reported it.
    pub source: Option<EventSource>,
    /// Normal or Warning.
    #[serde(rename = "type")]
    pub type_: Option<CompactString>,
}

k8s_kind!(Event, group: "", version: "v1", api_version: "v1", plural: "events",
scope: NamespaceResourceScope, fields: {
    action => "action", count => "count", event_time => "eventTime",
    first_timestamp => "firstTimestamp", involved_object => "involvedObject",
    last_timestamp => "lastTimestamp", message => "message", metadata => "metadata",
    reason => "reason", reporting_component => "reportingComponent",
    reporting_instance => "reportingInstance", series => "series", source => "source",
    type_ => "type",
});

/// A reference to an object (slim: kind, namespace, name, uid and field path).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// Part of the object (`spec.containers{api}`).
    pub field_path: Option<CompactString>,
    /// Kind.
    pub kind: Option<CompactString>,
    /// Name.
    pub name: Option<CompactString>,
    /// Namespace.
    pub namespace: Option<CompactString>,
    /// UID.
    pub uid: Option<CompactString>,
}

impl super::Absent for ObjectReference {}

/// Series data of a repeating core/v1 event.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSeries {
    /// Occurrences.
    pub count: Option<i32>,
    /// Last occurrence.
    pub last_observed_time: Option<MicroTime>,
}

/// The component that reported an event.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    /// Component (kubelet, default-scheduler, ...).
    pub component: Option<CompactString>,
    /// Node name.
    pub host: Option<CompactString>,
}

// ---------------------------------------------------------------------------------------------
// Service, Endpoints

/// A Service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Type, selector, ports.
    pub spec: Option<ServiceSpec>,
    /// Load balancer state.
    pub status: Option<ServiceStatus>,
}

k8s_kind!(Service, group: "", version: "v1", api_version: "v1", plural: "services",
    scope: NamespaceResourceScope, fields: { metadata => "metadata", spec => "spec", status => "status" });

/// A Service's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Virtual IP (`None` for headless).
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<CompactString>,
    /// Cluster or Local.
    pub external_traffic_policy: Option<CompactString>,
    /// Cluster or Local.
    pub internal_traffic_policy: Option<CompactString>,
    /// Ports.
    #[serde(default, deserialize_with = "shrunk")]
    pub ports: Option<Vec<ServicePort>>,
    /// Pod label selector.
    pub selector: Option<StrMap<CompactString>>,
    /// ClusterIP, NodePort, LoadBalancer or ExternalName.
    #[serde(rename = "type")]
    pub type_: Option<CompactString>,
}

/// A Service port.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Port name.
    pub name: Option<CompactString>,
    /// Node port (NodePort, LoadBalancer).
    pub node_port: Option<i32>,
    /// Service port.
    #[serde(default, deserialize_with = "required")]
    pub port: i32,
    /// TCP, UDP or SCTP.
    pub protocol: Option<CompactString>,
    /// Pod port number or name.
    pub target_port: Option<IntOrString>,
}

/// A Service's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// Load balancer ingress points.
    pub load_balancer: Option<LoadBalancerStatus>,
}

/// Load balancer ingress points.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    /// Ingress points.
    #[serde(default, deserialize_with = "shrunk")]
    pub ingress: Option<Vec<LoadBalancerIngress>>,
}

/// One load balancer ingress point.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerIngress {
    /// DNS name.
    pub hostname: Option<CompactString>,
    /// IP address.
    pub ip: Option<CompactString>,
}

/// The Endpoints of a Service (core/v1).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Address sets.
    #[serde(default, deserialize_with = "shrunk")]
    pub subsets: Option<Vec<EndpointSubset>>,
}

k8s_kind!(Endpoints, group: "", version: "v1", api_version: "v1", plural: "endpoints",
    scope: NamespaceResourceScope, fields: { metadata => "metadata", subsets => "subsets" });

/// Addresses sharing a set of ports.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Ready addresses.
    #[serde(default, deserialize_with = "shrunk")]
    pub addresses: Option<Vec<EndpointAddress>>,
    /// Addresses not ready yet.
    #[serde(default, deserialize_with = "shrunk")]
    pub not_ready_addresses: Option<Vec<EndpointAddress>>,
    /// Ports.
    #[serde(default, deserialize_with = "shrunk")]
    pub ports: Option<Vec<EndpointPort>>,
}

/// One endpoint address.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    /// IP.
    #[serde(default, deserialize_with = "required")]
    pub ip: CompactString,
    /// Node hosting it.
    pub node_name: Option<CompactString>,
    /// The pod behind it.
    pub target_ref: Option<ObjectReference>,
}

/// One endpoint port.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// Port name.
    pub name: Option<CompactString>,
    /// Port number.
    #[serde(default, deserialize_with = "required")]
    pub port: i32,
    /// TCP, UDP or SCTP.
    pub protocol: Option<CompactString>,
}

// ---------------------------------------------------------------------------------------------
// Storage

/// A PersistentVolumeClaim.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaim {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// What is asked for.
    pub spec: Option<PersistentVolumeClaimSpec>,
    /// Binding state.
    pub status: Option<PersistentVolumeClaimStatus>,
}

k8s_kind!(PersistentVolumeClaim, group: "", version: "v1", api_version: "v1",
    plural: "persistentvolumeclaims", scope: NamespaceResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

/// A claim's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimSpec {
    /// ReadWriteOnce, ReadOnlyMany, ...
    #[serde(default, deserialize_with = "shrunk")]
    pub access_modes: Option<Vec<CompactString>>,
    /// Requested size.
    pub resources: Option<VolumeResourceRequirements>,
    /// StorageClass (empty: no dynamic provisioning).
    pub storage_class_name: Option<CompactString>,
    /// The bound PersistentVolume.
    pub volume_name: Option<CompactString>,
}

/// Requested storage.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeResourceRequirements {
    /// Maximum amounts.
    pub limits: Option<StrMap<Quantity>>,
    /// Requested amounts.
    pub requests: Option<StrMap<Quantity>>,
}

/// A claim's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimStatus {
    /// Conditions (Resizing, ...).
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<PersistentVolumeClaimCondition>>,
    /// Pending, Bound or Lost.
    pub phase: Option<CompactString>,
}

/// One claim condition.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimCondition {
    /// Last status change.
    pub last_transition_time: Option<Time>,
    /// Human text.
    pub message: Option<CompactString>,
    /// Short reason.
    pub reason: Option<CompactString>,
    /// True, False or Unknown.
    #[serde(default, deserialize_with = "required")]
    pub status: CompactString,
    /// Condition type.
    #[serde(rename = "type", default, deserialize_with = "required")]
    pub type_: CompactString,
}

/// A PersistentVolume.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolume {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Class, size, claim.
    pub spec: Option<PersistentVolumeSpec>,
    /// Phase.
    pub status: Option<PersistentVolumeStatus>,
}

k8s_kind!(PersistentVolume, group: "", version: "v1", api_version: "v1",
    plural: "persistentvolumes", scope: ClusterResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

/// A volume's spec (kept: class, size, claim, access modes; not the source).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeSpec {
    /// ReadWriteOnce, ...
    #[serde(default, deserialize_with = "shrunk")]
    pub access_modes: Option<Vec<CompactString>>,
    /// Size.
    pub capacity: Option<StrMap<Quantity>>,
    /// The claim bound to it.
    pub claim_ref: Option<ObjectReference>,
    /// Retain, Delete or Recycle.
    pub persistent_volume_reclaim_policy: Option<CompactString>,
    /// StorageClass.
    pub storage_class_name: Option<CompactString>,
}

/// A volume's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeStatus {
    /// Human text.
    pub message: Option<CompactString>,
    /// Available, Bound, Released or Failed.
    pub phase: Option<CompactString>,
    /// Short reason.
    pub reason: Option<CompactString>,
}

// ---------------------------------------------------------------------------------------------
// ReplicationController

/// A ReplicationController (the ReplicaSet's predecessor, still in kubectl dumps).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationController {
    /// Standard object metadata (slim: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Replicas, selector, template.
    pub spec: Option<ReplicationControllerSpec>,
    /// Replica counts and conditions.
    pub status: Option<ReplicationControllerStatus>,
}

k8s_kind!(ReplicationController, group: "", version: "v1", api_version: "v1",
    plural: "replicationcontrollers", scope: NamespaceResourceScope,
    fields: { metadata => "metadata", spec => "spec", status => "status" });

/// A ReplicationController's spec.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationControllerSpec {
    /// Seconds a new pod must be ready to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Desired replicas.
    pub replicas: Option<i32>,
    /// Pod label selector (plain equality, unlike ReplicaSets).
    pub selector: Option<StrMap<CompactString>>,
    /// Pods to create.
    pub template: Option<PodTemplateSpec>,
}

/// A ReplicationController's status.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationControllerStatus {
    /// Available replicas.
    pub available_replicas: Option<i32>,
    /// Conditions (ReplicaFailure).
    #[serde(default, deserialize_with = "shrunk")]
    pub conditions: Option<Vec<ReplicationControllerCondition>>,
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

/// One ReplicationController condition.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationControllerCondition {
    /// Last status change.
    pub last_transition_time: Option<Time>,
    /// Human text.
    pub message: Option<CompactString>,
    /// Short reason.
    pub reason: Option<CompactString>,
    /// True, False or Unknown.
    #[serde(default, deserialize_with = "required")]
    pub status: CompactString,
    /// Condition type.
    #[serde(rename = "type", default, deserialize_with = "required")]
    pub type_: CompactString,
}
