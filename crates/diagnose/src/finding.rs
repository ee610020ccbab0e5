//! The findings the engine emits: cause, severity, object, evidence, remediation, confidence.

use kubemedic_model::SkippedInput;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! causes {
    ($($(#[doc = $doc:literal])* $id:ident),+ $(,)?) => {
        /// A root cause from the catalog (`CAUSES.md`), or one a user declared in a rules file;
        /// serialises as its exact ID.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Cause {
            $($(#[doc = $doc])* $id,)+
            /// A cause declared in a user rules file (its ID, interned once per process).
            User(&'static str),
        }

        impl Cause {
            /// Every built-in cause, in catalog order.
            pub const ALL: &'static [Cause] = &[$(Cause::$id,)+];

            /// The catalog ID, spelled exactly as in `CAUSES.md` (or the user's ID).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Cause::$id => stringify!($id),)+
                    Cause::User(id) => id,
                }
            }
        }
    };
}

causes! {
    /// Container exceeded its memory limit.
    OOMKilled,
    /// The node ran out of memory and the kernel killed the process.
    NodeOOM,
    /// kubelet killed the container because its liveness probe failed.
    LivenessProbeFailure,
    /// Probes start before the app can answer.
    ProbeTooEarly,
    /// The program crashed on its own bug.
    AppPanic,
    /// The program chose to exit non-zero.
    AppError,
    /// The program refused its configuration.
    ConfigError,
    /// The program exited because a name it needs did not resolve.
    DependencyDNSFailure,
    /// The container's command does not exist in the image.
    CommandNotFound,
    /// The command exists but cannot be executed.
    CommandNotExecutable,
    /// Something outside the container sent a fatal signal.
    KilledBySignal,
    /// A referenced ConfigMap/Secret or key does not exist.
    MissingConfigOrSecret,
    /// A subPath mount of a changed ConfigMap/Secret breaks in-place restarts.
    SubPathMountStale,
    /// No node has enough free requested resources.
    InsufficientResources,
    /// nodeSelector / node affinity matches no node.
    NodeSelectorMismatch,
    /// Nodes carry taints the pod does not tolerate.
    UntoleratedTaint,
    /// The pod's volume lives in a zone where no schedulable node is.
    VolumeZoneConflict,
    /// A PersistentVolumeClaim the pod needs is not bound.
    UnboundPVC,
    /// (Anti-)affinity rules exclude every node.
    PodAffinityConflict,
    /// Nothing is scheduling pods.
    SchedulerUnavailable,
    /// The runtime's or kubelet's disk is full.
    NodeDiskFull,
    /// The kernel cannot allocate contiguous pages though memory is free.
    MemoryFragmentation,
    /// The memory limit is too small to even start.
    MemoryLimitTooLow,
    /// An image pull failed for no more specific reason.
    ImagePullFailure,
    /// A volume cannot attach or mount.
    VolumeAttachFailure,
    /// The network plugin cannot set up the pod network.
    CNIFailure,
    /// A stale container holds the name the sandbox needs.
    ContainerNameConflict,
    /// Two container runtime installs fight over the node.
    RuntimeVersionConflict,
    /// The container runtime hangs; calls time out.
    RuntimeUnresponsive,
    /// The image or tag does not exist.
    ImageNotFound,
    /// No or wrong imagePullSecret for a private registry.
    RegistryAuthFailure,
    /// An HTTP registry is not configured as insecure.
    InsecureRegistry,
    /// A self-signed registry CA is not installed on the node.
    RegistryCertUntrusted,
    /// Pulls queue or time out.
    ImagePullTimeout,
    /// The registry cannot be reached or resolved.
    RegistryUnreachable,
    /// The image reference cannot be parsed.
    InvalidImageName,
    /// A finalizer's owner has not cleared it.
    FinalizerBlocked,
    /// A file with the immutable attribute blocks removal.
    ImmutableFile,
    /// The pod's node is NotReady/Unknown so nothing confirms the deletion.
    NodeLost,
    /// The runtime and kube-proxy fight over the xtables lock.
    IptablesLockContention,
    /// The kubelet stopped posting status.
    KubeletStopped,
    /// Disk eviction thresholds are crossed.
    NodeDiskPressure,
    /// Memory eviction threshold crossed.
    NodeMemoryPressure,
    /// Too many processes.
    NodePIDPressure,
    /// Load is high because processes wait on disk.
    HighIOWait,
    /// A kernel task is blocked.
    KernelDeadlock,
    /// A kernel oops or BUG.
    KernelOops,
    /// A filesystem was remounted read-only after errors.
    FilesystemReadOnly,
    /// The node's clock is off.
    ClockSkew,
    /// Connection tracking table overflowed.
    ConntrackTableFull,
    /// New connections dropped because the SYN/accept backlog is full.
    SYNBacklogOverflow,
    /// Some cluster DNS replicas fail while others work.
    DNSPartialFailure,
    /// Pods on one node are unreachable from other nodes.
    NodePodNetworkDown,
    /// A Service selects no ready pods.
    ServiceNoEndpoints,
    /// Several pods bind the same host port on one node.
    HostPortConflict,
    /// In-cluster clients loop back through an internal cloud load balancer.
    LoadBalancerLoopback,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a cause ID from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCause(pub String);

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown cause {:?} (see `kubemedic explain cause` for the list)",
            self.0
        )
    }
}

impl std::error::Error for UnknownCause {}

impl FromStr for Cause {
    type Err = UnknownCause;

    /// Exact ID first, then case-insensitively (so `oomkilled` works on the command line).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cause::ALL
            .iter()
            .find(|c| c.as_str() == s)
            .or_else(|| {
                Cause::ALL
                    .iter()
                    .find(|c| c.as_str().eq_ignore_ascii_case(s))
            })
            .copied()
            .ok_or_else(|| UnknownCause(s.to_string()))
    }
}

/// User cause IDs seen in this process: each is leaked once so [`Cause`] stays `Copy`.
static USER_CAUSES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

impl Cause {
    /// The built-in cause with this ID, else a user cause of that ID (interned: the same ID
    /// always gives the same value).
    pub fn user(id: &str) -> Cause {
        if let Some(c) = Cause::ALL.iter().find(|c| c.as_str() == id) {
            return *c;
        }
        let mut set = USER_CAUSES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = set.get(id) {
            return Cause::User(known);
        }
        let leaked: &'static str = Box::leak(id.to_string().into_boxed_str());
        set.insert(leaked);
        Cause::User(leaked)
    }

    /// Whether the cause comes from a user rules file.
    pub fn is_user(self) -> bool {
        matches!(self, Cause::User(_))
    }
}

impl Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Cause {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A report may carry user causes: unknown IDs come back as user causes.
        let s = String::deserialize(deserializer)?;
        Ok(s.parse().unwrap_or_else(|_| Cause::user(&s)))
    }
}

/// How urgent a finding is; ordered `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is broken yet.
    Info,
    /// Degraded or at risk.
    Warning,
    /// Broken: workloads are down or cannot start.
    Critical,
}

impl Severity {
    /// Lower-case name as used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a severity name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSeverity(pub String);

impl fmt::Display for UnknownSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown severity {:?} (expected critical, warning or info)",
            self.0
        )
    }
}

impl std::error::Error for UnknownSeverity {}

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

/// The Kubernetes object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Kind: `Pod`, `Node`, `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `Service`, ...
    pub kind: String,
    /// Namespace; absent for cluster-scoped objects (nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

impl ObjectRef {
    /// A namespaced object.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    /// A node.
    pub fn node(name: &str) -> Self {
        Self {
            kind: "Node".to_string(),
            namespace: None,
            name: name.to_string(),
        }
    }

    /// A pod.
    pub fn pod(namespace: &str, name: &str) -> Self {
        Self::namespaced("Pod", namespace, name)
    }
}

impl fmt::Display for ObjectRef {
    /// `kind/name` or `kind/namespace/name`, lower-case kind as kubectl prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.to_ascii_lowercase();
        match &self.namespace {
            Some(ns) => write!(f, "{kind}/{ns}/{}", self.name),
            None => write!(f, "{kind}/{}", self.name),
        }
    }
}

/// One quoted line that supports a finding, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Where the line came from: `event BackOff`, `pod status`, `logs api (previous) line 12`,
    /// `node n1 kubelet.log line 40`, `facts`, `spec`.
    pub source: String,
    /// The quoted text.
    pub text: String,
}

impl Evidence {
    /// Builds one evidence line.
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            text: text.into(),
        }
    }
}

/// One diagnosed root cause for one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The cause ID from the catalog.
    pub cause: Cause,
    /// How urgent it is.
    pub severity: Severity,
    /// The object the finding is about (a workload when replicas were grouped).
    pub object: ObjectRef,
    /// One line a person reads first.
    pub summary: String,
    /// Quoted lines with their source, strongest first.
    pub evidence: Vec<Evidence>,
    /// Concrete commands or manifest changes with real names filled in.
    pub remediation: Vec<String>,
    /// How sure the engine is, 0.0 to 1.0.
    pub confidence: f64,
    /// Pods this finding covers when it was grouped on their workload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<ObjectRef>,
    /// The object whose own finding explains this one (a pod's trouble coming from its node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<ObjectRef>,
    /// The incident this finding is part of (many nodes sharing one cause at the same time); the
    /// incident's own finding comes first in the report and summarises them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<ObjectRef>,
}

/// Counts that go with a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Findings with severity critical.
    pub critical: usize,
    /// Findings with severity warning.
    pub warning: usize,
    /// Findings with severity info.
    pub info: usize,
    /// Nodes examined.
    pub nodes: usize,
    /// Pods examined.
    pub pods: usize,
    /// Services examined.
    pub services: usize,
    /// Inputs the loader could not read (the rest was still analysed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedInput>,
    /// Inputs a complete collection has that this one lacks, and what that costs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<SkippedInput>,
}

/// The result of one diagnosis pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Findings, grouped by object, most likely cause first within an object.
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
}

impl Report {
    /// Recomputes the severity counts from the findings (after filtering).
    pub fn recount(&mut self) {
        self.summary.critical = 0;
        self.summary.warning = 0;
        self.summary.info = 0;
        for f in &self.findings {
            match f.severity {
                Severity::Critical => self.summary.critical += 1,
                Severity::Warning => self.summary.warning += 1,
                Severity::Info => self.summary.info += 1,
            }
        }
    }

    /// Highest severity of any finding, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// The findings about one object, most likely first.
    pub fn for_object<'a>(&'a self, object: &'a ObjectRef) -> impl Iterator<Item = &'a Finding> {
        self.findings.iter().filter(move |f| &f.object == object)
    }
}
