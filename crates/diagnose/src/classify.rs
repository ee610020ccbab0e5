//! Message classifiers: the stable core of kubelet, runtime, registry and scheduler messages
//! mapped to causes. Each match is on a substring that survived across Docker, containerd and
//! kubelet versions, not on one exact line.

use crate::finding::Cause;
use regex::Regex;
use std::sync::LazyLock;

/// A classified message: the cause and how sure the classifier is.
pub(crate) type Verdict = (Cause, f64);

fn any(msg: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| msg.contains(n))
}

const PULL_INVALID_NAME: &[&str] = &[
    "invalid reference format",
    "couldn't parse image",
    "failed to parse image",
    "invalidimagename",
];

const PULL_CERT: &[&str] = &[
    "x509: certificate signed by unknown authority",
    "certificate is not trusted",
    "x509: certificate is valid for",
    "failed to verify certificate",
];

const PULL_AUTH: &[&str] = &[
    "unauthorized",
    "authentication required",
    "pull access denied",
    "no basic auth credentials",
    "401 unauthorized",
    "403 forbidden",
    "requested access to the resource is denied",
    "authorization failed",
    "insufficient_scope",
];

const PULL_NOT_FOUND: &[&str] = &[
    "manifest unknown",
    "not found: manifest",
    "repository does not exist",
    "name unknown",
];

const PULL_UNREACHABLE: &[&str] = &[
    "no such host",
    "connection refused",
    "network is unreachable",
    "no route to host",
    "registryunavailable",
    "server misbehaving",
    "connection reset by peer",
];

const PULL_TIMEOUT: &[&str] = &[
    "context deadline exceeded",
    "i/o timeout",
    "request canceled",
    "tls handshake timeout",
    "client.timeout exceeded",
    "deadlineexceeded",
    "context canceled",
    "timeout exceeded while awaiting headers",
];

const SANDBOX_CNI: &[&str] = &[
    "networkplugin cni failed",
    "failed to allocate for range",
    "no ip addresses available",
    "failed to setup network for sandbox",
    "failed to set up pod network",
    "failed to set up sandbox container",
    "failed to setup network for pod",
    "setupnetworkerror",
    "plugin type=",
    "failed to allocate ip",
    "ipam",
    "failed to find plugin",
];

const SANDBOX_RUNTIME: &[&str] = &[
    "deadlineexceeded",
    "context deadline exceeded",
    "operation timeout",
    "docker daemon not ready",
    "container runtime is down",
    "cannot connect to the docker daemon",
    "is the docker daemon running",
];

const NETWORK_NOT_READY: &[&str] = &[
    "networkpluginnotready",
    "network plugin is not ready",
    "runtime network not ready",
    "network is not ready",
    "cni plugin not initialized",
    "cni config uninitialized",
    "cni config unintialized",
    "kubenet does not have netconfig",
    "no cni configuration file",
    "missing cni default network",
    "no networks found in /etc/cni",
    "no valid networks found in",
    "cni config load failed",
    "unable to update cni config",
];

const CNI_TEARDOWN: &[&str] = &[
    "failed to teardown pod",
    "failed to destroy network for sandbox",
    "failed to clean up sandbox container",
    "(delete):",
];

const STOP_HANGS: &[&str] = &[
    "did not kill the pod within",
    "killcontainererror",
    "failed to stop container",
    "cannot kill container",
    "cannot stop container",
    "did not receive an exit event",
    "stopcontainer",
    "deadlineexceeded",
    "context deadline exceeded",
    "need to kill pod",
];

/// Image pull errors (waiting message of ErrImagePull/ImagePullBackOff, `Failed` events).
pub(crate) fn image_pull(msg: &str) -> Option<Verdict> {
    let lower = msg.to_ascii_lowercase();
    let m = lower.as_str();
    if any(m, PULL_INVALID_NAME) {
        return Some((Cause::InvalidImageName, 0.95));
    }
    if m.contains("http response to https client") {
        return Some((Cause::InsecureRegistry, 0.95));
    }
    if any(m, PULL_CERT) {
        return Some((Cause::RegistryCertUntrusted, 0.95));
    }
    // Docker Hub says both at once for private or missing repos; name the missing image first.
    if m.contains("repository does not exist or may require") {
        return Some((Cause::ImageNotFound, 0.6));
    }
    if any(m, PULL_AUTH) {
        return Some((Cause::RegistryAuthFailure, 0.9));
    }
    if any(m, PULL_NOT_FOUND)
        || NOT_FOUND_MANIFEST.is_match(m)
        || (m.contains("failed to resolve reference") && m.contains("not found"))
        || m.contains("is not present with pull policy of never")
    {
        return Some((Cause::ImageNotFound, 0.9));
    }
    if any(m, PULL_UNREACHABLE) {
        return Some((Cause::RegistryUnreachable, 0.85));
    }
    if any(m, PULL_TIMEOUT) {
        return Some((Cause::ImagePullTimeout, 0.8));
    }
    if m.contains("not found") {
        return Some((Cause::ImageNotFound, 0.6));
    }
    None
}

static NOT_FOUND_MANIFEST: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"manifest for \S+ not found").unwrap()
});

/// Sandbox creation, volume setup and container create/start errors (events
/// FailedCreatePodSandBox, FailedMount, FailedAttachVolume, Failed; waiting messages).
pub(crate) fn sandbox(msg: &str) -> Option<Verdict> {
    let lower = msg.to_ascii_lowercase();
    let m = lower.as_str();
    if m.contains("no space left on device") {
        return Some((Cause::NodeDiskFull, 0.9));
    }
    if CONFIG_NOT_FOUND.is_match(m) || m.contains("couldn't find key") {
        return Some((Cause::MissingConfigOrSecret, 0.9));
    }
    if m.contains("volume-subpaths") {
        return Some((Cause::SubPathMountStale, 0.85));
    }
    if m.contains("is already in use by container")
        || (m.contains("conflict") && m.contains("container name"))
    {
        return Some((Cause::ContainerNameConflict, 0.9));
    }
    if m.contains("ttrpc: client shutting down")
        || (m.contains("shim.sock") && m.contains("connection reset by peer"))
        || m.contains("ttrpc: closed")
    {
        return Some((Cause::RuntimeVersionConflict, 0.85));
    }
    if m.contains("page allocation failure") || m.contains("cannot allocate memory") {
        return Some((Cause::MemoryFragmentation, 0.6));
    }
    if m.contains("signal: killed") {
        return Some((Cause::MemoryLimitTooLow, 0.6));
    }
    if (any(m, SANDBOX_CNI) || network_not_ready(m)) && !m.contains("deadline") {
        return Some((Cause::CNIFailure, 0.85));
    }
    if m.contains("multi-attach error")
        || m.contains("attachvolume.attach failed")
        || m.contains("unable to attach or mount volumes")
        || m.contains("mountvolume.setup failed")
        || m.contains("mountvolume.mountdevice failed")
        || m.contains("failedattachvolume")
        || m.contains("timed out waiting for the condition")
    {
        return Some((Cause::VolumeAttachFailure, 0.8));
    }
    if any(m, SANDBOX_RUNTIME) {
        return Some((Cause::RuntimeUnresponsive, 0.75));
    }
    start_error(m)
}

/// The kubelet or the runtime says the node's network plugin is not ready (dockershim, containerd,
/// CRI-O and kubenet wordings from 1.3 to today, including 1.5's "unintialized" typo).
pub(crate) fn network_not_ready(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    any(&m, NETWORK_NOT_READY)
}

/// A pod's deletion failed in the network plugin's teardown (KillPodSandbox, StopPodSandbox).
pub(crate) fn cni_teardown(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    any(&m, CNI_TEARDOWN)
        || (m.contains("killpodsandbox") || m.contains("stoppodsandbox"))
            && any(&m, &["cni", "plugin type=", "network:", "netplugin"])
}

static CNI_PLUGIN: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r#"(?i)plugin type=\\?"([a-z0-9_.-]+)\\?"|failed to find plugin \\?"([a-z0-9_.-]+)\\?"|\b(calico|flannel|cilium|weave|kube-router|kubenet|multus|antrea|canal|ovn|kube-ovn|terway|aws-node|azure-vnet)\b"#).unwrap()
});

/// The network plugin a message names (`calico`, `flannel`, `cilium-cni`, `portmap`...).
pub(crate) fn cni_plugin(msg: &str) -> Option<String> {
    let c = CNI_PLUGIN.captures(msg)?;
    (1..=3)
        .find_map(|i| c.get(i))
        .map(|m| m.as_str().to_ascii_lowercase())
}

/// What a stuck deletion's event or log line says about the layer that blocks it.
pub(crate) fn terminating(msg: &str) -> Option<Verdict> {
    let m = msg.to_ascii_lowercase();
    if m.contains("operation not permitted")
        && (m.contains("remove") || m.contains("unlinkat") || m.contains("unlink"))
    {
        return Some((Cause::ImmutableFile, 0.9));
    }
    if m.contains("no space left on device") {
        return Some((Cause::NodeDiskFull, 0.85));
    }
    if cni_teardown(&m) {
        return Some((Cause::CNIFailure, 0.85));
    }
    if any(&m, STOP_HANGS) {
        return Some((Cause::RuntimeUnresponsive, 0.8));
    }
    None
}

static CONFIG_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r#"(configmap|secret)s? \\?"[^"\\]+\\?" not found"#).unwrap()
});

/// Container start errors: exec failures reported by runc/containerd/Docker.
pub(crate) fn start_error(msg: &str) -> Option<Verdict> {
    let lower = msg.to_ascii_lowercase();
    let m = lower.as_str();
    if m.contains("volume-subpaths") {
        return Some((Cause::SubPathMountStale, 0.85));
    }
    if any(m, &["executable file not found", "command not found"])
        || (m.contains("exec:") && m.contains("no such file or directory"))
        || (m.contains("starting container process caused")
            && m.contains("no such file or directory")
            && !m.contains("mount"))
    {
        return Some((Cause::CommandNotFound, 0.9));
    }
    if (m.contains("exec") && m.contains("permission denied")) || m.contains("exec format error") {
        return Some((Cause::CommandNotExecutable, 0.85));
    }
    None
}

/// One part of a scheduler message: `3 Insufficient memory`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SchedPart {
    /// How many nodes gave this reason.
    pub count: u32,
    /// The reason text as the scheduler wrote it.
    pub text: String,
    /// The cause it maps to, if any.
    pub cause: Option<Cause>,
}

/// A parsed `0/N nodes are available: …` message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SchedMessage {
    /// Total nodes considered, when stated.
    pub nodes: Option<u32>,
    /// The parts, in the scheduler's order.
    pub parts: Vec<SchedPart>,
}

/// Maps one scheduler reason (any version's wording, 1.0's predicate names to 1.37's plugin
/// reasons) to a cause.
pub(crate) fn sched_reason(text: &str) -> Option<Cause> {
    let t = text.to_ascii_lowercase();
    let t = t.as_str();
    if t.contains("unbound") && t.contains("persistentvolumeclaim")
        || t.contains("persistentvolumeclaim") && t.contains("not found")
        || t.contains("persistent volumes to bind")
    {
        Some(Cause::UnboundPVC)
    } else if t.contains("insufficient")
        || t.contains("too many pods")
        || t.contains("didn't have enough resource")
        || t.contains("podexceedsfree")
        || t.contains("podexceedsmaxpodnumber")
        || t.contains("podfitsresources")
    {
        Some(Cause::InsufficientResources)
    } else if t.contains("free ports")
        || t.contains("podfitshostports")
        || t.contains("podfitsports")
        || t.contains("requested pod ports")
    {
        Some(Cause::HostPortConflict)
    } else if t.contains("node selector")
        || t.contains("node affinity/selector")
        || t.contains("matchnodeselector")
        || t.contains("didn't match pod's node affinity")
        || t.contains("requested hostname")
        || t.contains("requested node name")
        || t == "hostname"
    {
        Some(Cause::NodeSelectorMismatch)
    } else if t.contains("volume node affinity conflict")
        || t.contains("volume zone")
        || t.contains("novolumezoneconflict")
        || t.contains("novolumenodeconflict")
    {
        Some(Cause::VolumeZoneConflict)
    } else if t.contains("affinity") {
        Some(Cause::PodAffinityConflict)
    } else if t.contains("memory pressure")
        || t.contains("memory-pressure")
        || t.contains("undermemorypressure")
        || t.contains("checknodememorypressure")
    {
        Some(Cause::NodeMemoryPressure)
    } else if t.contains("disk pressure")
        || t.contains("disk-pressure")
        || t.contains("underdiskpressure")
        || t.contains("checknodediskpressure")
    {
        Some(Cause::NodeDiskPressure)
    } else if t.contains("pid pressure") || t.contains("pid-pressure") {
        Some(Cause::NodePIDPressure)
    } else if t.contains("taint") || t.contains("unschedulable") {
        Some(Cause::UntoleratedTaint)
    } else {
        None
    }
}

/// Splits on `, ` outside `{...}` (taints are printed in braces).
fn split_parts(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth <= 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    // Old schedulers wrote "had taint {k: v}, that the pod didn't tolerate": a piece that does
    // not start with a count (nor end with one in parentheses) continues the previous part.
    let mut out: Vec<&str> = Vec::new();
    for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let counted = p.bytes().next().is_some_and(|b| b.is_ascii_digit())
            || TRAILING_COUNT.is_match(p.trim_end_matches('.'));
        match out.last_mut() {
            Some(prev) if !counted => {
                // Both slices come from `s`; widen the previous one to cover this piece.
                let start = prev.as_ptr() as usize - s.as_ptr() as usize;
                let end = p.as_ptr() as usize - s.as_ptr() as usize + p.len();
                *prev = &s[start..end];
            }
            _ => out.push(p),
        }
    }
    out
}

static SCHED_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(\d+)/(\d+) nodes are available:?\s*").unwrap()
});

/// The 1.5-1.9 histogram heads: "No nodes are available that match all of the (following)
/// predicates::" and "fit failure summary on nodes :".
static SCHED_HISTOGRAM_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(?i)(?:no nodes are available that match all of the (?:following )?predicates|fit failure summary on nodes)\s*:+\s*").unwrap()
});

/// `Insufficient cpu (9)`: a reason with its node count in parentheses (1.5-1.9).
static TRAILING_COUNT: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"^(.*?)\s*\((\d+)\)$").unwrap()
});

/// 1.2-1.4: one line per node, `fit failure on node (NAME): REASON`.
static FIT_FAILURE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"fit failure on node \(([^)]*)\):\s*(.+)").unwrap()
});

/// 1.0-1.1: `Failed for reason PodExceedsFreeCPU and possibly others`.
static FAILED_FOR_REASON: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(?i)failed for reason (\S+)").unwrap()
});

/// Parses a FailedScheduling message of any scheduler era; plain messages without a breakdown
/// give one part that counts for every node.
pub(crate) fn scheduling(msg: &str) -> Option<SchedMessage> {
    let msg = msg.trim();
    // 1.2-1.4: per-node lines; count nodes per reason (the resource figures vary per node).
    let per_node: Vec<(&str, &str)> = FIT_FAILURE_LINE
        .captures_iter(msg)
        .filter_map(|c| Some((c.get(1)?.as_str(), c.get(2)?.as_str().trim())))
        .collect();
    if !per_node.is_empty() {
        let mut parts: Vec<SchedPart> = Vec::new();
        for (_, reason) in &per_node {
            let text = reason.split(", requested").next().unwrap_or(reason).trim();
            match parts.iter_mut().find(|p| p.text == text) {
                Some(p) => p.count += 1,
                None => parts.push(SchedPart {
                    count: 1,
                    text: text.to_string(),
                    cause: sched_reason(text),
                }),
            }
        }
        return finish(Some(per_node.len() as u32), parts);
    }
    if let Some(c) = FAILED_FOR_REASON.captures(msg) {
        let text = c.get(1).map_or("", |m| m.as_str());
        let part = SchedPart {
            count: 0,
            text: text.to_string(),
            cause: sched_reason(text),
        };
        return finish(None, vec![part]);
    }
    let (nodes, body) = match SCHED_HEAD.captures(msg) {
        Some(c) => {
            let end = c.get(0).map_or(0, |m| m.end());
            (c.get(2).and_then(|m| m.as_str().parse().ok()), &msg[end..])
        }
        None => match SCHED_HISTOGRAM_HEAD.find(msg) {
            Some(m) => (None, &msg[m.end()..]),
            None => (None, msg),
        },
    };
    // New schedulers append the preemption verdict: "... . preemption: 0/5 nodes ...".
    let body = body.split(" preemption:").next().unwrap_or(body);
    let body = body.trim().trim_end_matches('.').trim();
    let mut parts = Vec::new();
    for raw in split_parts(body) {
        let raw = raw.trim_end_matches('.');
        let (count, text) = match raw.split_once(' ') {
            Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => {
                (n.parse().unwrap_or(1), rest.trim())
            }
            _ => match TRAILING_COUNT.captures(raw) {
                Some(c) => (
                    c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(1),
                    c.get(1).map_or(raw, |m| m.as_str()).trim(),
                ),
                // Counts for every node ("pod has unbound immediate PersistentVolumeClaims").
                None => (nodes.unwrap_or(0), raw),
            },
        };
        parts.push(SchedPart {
            count,
            text: text.to_string(),
            cause: sched_reason(text),
        });
    }
    finish(nodes, parts)
}

fn finish(nodes: Option<u32>, parts: Vec<SchedPart>) -> Option<SchedMessage> {
    if parts.iter().all(|p| p.cause.is_none()) {
        return None;
    }
    Some(SchedMessage { nodes, parts })
}

/// Which cause is the most actionable when counts tie (lower index wins).
const SCHED_PRIORITY: [Cause; 10] = [
    Cause::UnboundPVC,
    Cause::NodeSelectorMismatch,
    Cause::PodAffinityConflict,
    Cause::VolumeZoneConflict,
    Cause::HostPortConflict,
    Cause::InsufficientResources,
    Cause::NodeMemoryPressure,
    Cause::NodeDiskPressure,
    Cause::NodePIDPressure,
    Cause::UntoleratedTaint,
];

/// Placement filters: they pass over nodes the pod does not want (its selector, its missing
/// tolerations for a tainted control plane). The scheduler checks them first, so the nodes a
/// later-stage reason names are the ones the pod's placement allows.
fn is_placement(c: Cause) -> bool {
    matches!(c, Cause::NodeSelectorMismatch | Cause::UntoleratedTaint)
}

/// Why the root reason was chosen over the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchedWeight {
    /// The reason excludes every node.
    AllNodes,
    /// A later-stage reason blocks the nodes the pod's placement allows.
    AllowedNodes,
    /// No reason excludes every node; the one excluding the most.
    Most,
}

impl SchedMessage {
    /// The root cause when the cluster's node count is not known.
    #[cfg(test)]
    pub fn dominant(&self) -> Option<Cause> {
        self.root(None).map(|(c, _, _)| c)
    }

    /// The root cause, weighed against the node count: a reason that excludes every node first;
    /// else a later-stage reason (resources, ports, volumes, pod affinity) on the nodes the pod's
    /// own placement allows; else the reason that excludes the most nodes. Ties go to the more
    /// actionable cause. Returns the cause, its node count and why it was chosen.
    pub fn root(&self, cluster_nodes: Option<u32>) -> Option<(Cause, u32, SchedWeight)> {
        let total = self.total(cluster_nodes);
        // A cause's weight is its largest part (cpu and memory may exclude the same nodes).
        let weight = |c: Cause| {
            self.parts
                .iter()
                .filter(|q| q.cause == Some(c))
                .map(|q| if q.count == 0 { total } else { q.count })
                .max()
                .unwrap_or(0)
        };
        let prio = |c: Cause| SCHED_PRIORITY.iter().position(|x| *x == c).unwrap_or(99);
        let mut causes: Vec<Cause> = self.parts.iter().filter_map(|p| p.cause).collect();
        causes.dedup();
        let best = |pool: &mut dyn Iterator<Item = Cause>| {
            pool.map(|c| (weight(c), c))
                .max_by(|a, b| a.0.cmp(&b.0).then(prio(b.1).cmp(&prio(a.1))))
        };
        if total > 0
            && let Some((n, c)) = best(&mut causes.iter().copied().filter(|c| weight(*c) >= total))
        {
            return Some((c, n, SchedWeight::AllNodes));
        }
        if let Some((n, c)) = best(&mut causes.iter().copied().filter(|c| !is_placement(*c))) {
            return Some((c, n, SchedWeight::AllowedNodes));
        }
        best(&mut causes.iter().copied()).map(|(n, c)| (c, n, SchedWeight::Most))
    }

    /// Nodes considered: stated by the message, else the cluster's, else the sum of the counts.
    pub fn total(&self, cluster_nodes: Option<u32>) -> u32 {
        self.nodes
            .or(cluster_nodes)
            .unwrap_or_else(|| self.parts.iter().map(|p| p.count).sum::<u32>())
    }
}

/// What the last lines of a crashed container's log say about why it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogSignal {
    /// A crash: Go panic, uncaught exception, traceback, segfault.
    Panic,
    /// A host name did not resolve.
    Dns,
    /// The configuration was refused.
    Config,
    /// The port is taken (host port conflict when on hostNetwork/hostPort).
    AddressInUse,
}

static PANIC_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"^\s*panic: |goroutine \d+ \[running\]|^fatal error: |Exception in thread |Traceback \(most recent call last\)|Segmentation fault|SIGSEGV|core dumped|Unhandled exception|uncaughtException|^thread '.*' panicked at").unwrap()
});

static DNS_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(concat!(
        r"(?i)no such host|Name or service not known|Temporary failure in name resolution|server misbehaving",
        r"|getaddrinfo (ENOTFOUND|EAI_AGAIN)|getaddrinfo failed|UnknownHostException|nodename nor servname provided",
        r"|could not resolve host|couldn't resolve host|Name does not resolve|NXDOMAIN|No address associated with hostname",
        // busybox (musl images): nslookup/wget/nc/ping
        r"|can't resolve '|bad address '",
        // musl's EAI_AGAIN is a bare "Try again": only with the errno or a client's prefix
        r"|\[Errno -3\] Try again|Error -3 connecting to \S+\. Try again",
        r"|host not found in upstream|could not translate host name|Unknown MySQL server host|Failed to resolve '|NameResolutionError",
        // Go's resolver timing out: "lookup vault on 10.96.0.10:53: read udp ...: i/o timeout"
        r"|lookup \S+ on \S+:53: .*(i/o timeout|connection refused)",
    ))
    .unwrap()
});

/// The host name a DNS failure line names, in the words of each client.
static DNS_NAME: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Go: "lookup NAME on 10.96.0.10:53: no such host", "lookup NAME: Temporary failure ..."
        r"lookup ([^\s:]+)(?: on \S+)?:",
        // Node.js: "getaddrinfo ENOTFOUND NAME"
        r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([^\s:]+)",
        // Java: "UnknownHostException: NAME: reason" or bare "UnknownHostException: NAME"
        r"UnknownHostException: ([^\s:]+)",
        // curl: "Could not resolve host: NAME", old "Couldn't resolve host 'NAME'"
        r"(?i)could not resolve host:? '?([^\s':]+)",
        r"(?i)couldn't resolve host '([^']+)'",
        // busybox: "nslookup: can't resolve 'NAME'", "wget: bad address 'NAME:PORT'"
        r"can't resolve '([^'()]+?)(?::\d+)?'",
        r"bad address '([^'():]+)(?::\d+)?'",
        // libpq: could not translate host name "NAME" to address
        r#"could not translate host name "([^"]+)""#,
        // nginx: host not found in upstream "NAME:PORT"
        r#"host not found in upstream "([^":]+)"#,
        // MySQL client: Unknown MySQL server host 'NAME'
        r"Unknown MySQL server host '([^']+)'",
        // urllib3 2: Failed to resolve 'NAME'
        r"Failed to resolve '([^']+)'",
        // requests/urllib3 1: HTTPConnectionPool(host='NAME', port=...)
        r"ConnectionPool\(host='([^']+)'",
        // redis-py: Error -3 connecting to NAME:6379
        r"connecting to ([^\s:]+):\d+",
        // Ruby: Failed to open TCP connection to NAME:443 (getaddrinfo ...)
        r"TCP connection to ([^\s:]+):\d+",
        // PHP 8: getaddrinfo for NAME failed
        r"getaddrinfo for (\S+) failed",
        // .NET: "Name or service not known (NAME:80)"
        r"(?:Name or service not known|Resource temporarily unavailable) \(([^\s:()]+)(?::\d+)?\)",
    ]
    .iter()
    .map(|p| {
        #[allow(clippy::unwrap_used)] // constant patterns, checked by the tests
        Regex::new(p).unwrap()
    })
    .collect()
});

/// The host name a DNS failure line names (`mysql.shop.svc.cluster.local`), if it names one.
pub(crate) fn dns_name(line: &str) -> Option<String> {
    DNS_NAME.iter().find_map(|re| {
        let name = re.captures(line)?.get(1)?.as_str();
        let name = name.trim_matches(|c: char| c == '.' || c == '\'' || c == '"');
        // An IP is not a name that failed to resolve; "(null)" is busybox probing its server.
        (!name.is_empty()
            && name != "(null)"
            && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .then(|| name.to_string())
    })
}

static CONFIG_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(?i)\b(config(uration)?|ya?ml|json|toml|settings?|properties|env(ironment)? var(iable)?s?)\b.{0,80}\b(parse|parsing|invalid|missing|required|unknown (field|key)|cannot unmarshal|not set|malformed|did not find expected|unexpected|error|failed)|\b(parse|parsing|invalid|missing|malformed|cannot unmarshal|failed to load|unable to load|error loading|error reading)\b.{0,80}\b(config(uration)?|ya?ml|json|toml|settings?|properties)\b|\b(is required|must be set|must be specified|required (flag|field|key|option|setting|variable))\b|flag provided but not defined|unknown (flag|shorthand flag)|cannot unmarshal|did not find expected key").unwrap()
});

/// Classifies one log line.
pub(crate) fn log_line(line: &str) -> Option<LogSignal> {
    if DNS_RE.is_match(line) {
        Some(LogSignal::Dns)
    } else if line.contains("address already in use") {
        Some(LogSignal::AddressInUse)
    } else if PANIC_RE.is_match(line) && !line.contains("level=info") {
        Some(LogSignal::Panic)
    } else if CONFIG_RE.is_match(line) {
        Some(LogSignal::Config)
    } else {
        None
    }
}

/// Which probe a kubelet event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeKind {
    /// livenessProbe: failures kill the container.
    Liveness,
    /// readinessProbe: failures take the pod out of its Services.
    Readiness,
    /// startupProbe: failures during start-up kill the container.
    Startup,
}

impl ProbeKind {
    /// Lower-case name as the kubelet writes it in events.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        }
    }
}

/// How a probe failed, read from the kubelet's `<Kind> probe failed: <output>` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeHow {
    /// Nothing listens on the probed address: `connect: connection refused` (`getsockopt:` with
    /// kubelets built by Go <= 1.8).
    Refused {
        /// The probed port, when the message names it.
        port: Option<u16>,
    },
    /// No answer within timeoutSeconds (`Client.Timeout exceeded`, `i/o timeout`, `context deadline exceeded`).
    Timeout,
    /// The endpoint answered with a failing HTTP status.
    Status(u16),
    /// An exec probe's output, or another error.
    Output(String),
}

/// One probe failure event, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeFailure {
    /// The probe.
    pub kind: ProbeKind,
    /// How it failed.
    pub how: ProbeHow,
}

static PROBE_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(?s)^(Liveness|Readiness|Startup) probe (?:failed|errored)(?: and resulted in \w+ state)?: ?(.*)$").unwrap()
});

static PROBE_DIAL_PORT: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"dial tcp \[?[0-9a-fA-F.:]*\]?:(\d+)").unwrap()
});

static PROBE_STATUS: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(?i)statuscode: (\d{3})").unwrap()
});

/// Parses a kubelet probe event message (`Liveness probe failed: ...`, every kubelet and Go
/// release's wording).
pub(crate) fn probe_failure(msg: &str) -> Option<ProbeFailure> {
    let c = PROBE_FAILED.captures(msg.trim())?;
    let kind = match c.get(1)?.as_str() {
        "Liveness" => ProbeKind::Liveness,
        "Readiness" => ProbeKind::Readiness,
        _ => ProbeKind::Startup,
    };
    let out = c.get(2).map_or("", |m| m.as_str()).trim();
    let lower = out.to_ascii_lowercase();
    let how = if lower.contains("connection refused") {
        ProbeHow::Refused {
            port: PROBE_DIAL_PORT
                .captures(out)
                .and_then(|c| c.get(1)?.as_str().parse().ok()),
        }
    } else if any(
        &lower,
        &[
            "client.timeout exceeded",
            "i/o timeout",
            "context deadline exceeded",
            "deadlineexceeded",
            "timeout: failed to connect",
            "command timed out",
            "timed out",
        ],
    ) {
        ProbeHow::Timeout
    } else if let Some(code) = PROBE_STATUS
        .captures(out)
        .and_then(|c| c.get(1)?.as_str().parse().ok())
    {
        ProbeHow::Status(code)
    } else {
        ProbeHow::Output(out.to_string())
    };
    Some(ProbeFailure { kind, how })
}

/// `listening on :8080`, `Running on http://127.0.0.1:8080`, `Tomcat started on port(s): 8080`,
/// `listening on IPv4 address "0.0.0.0", port 5432`, `Now listening on: http://[::]:80`.
static LISTEN_LINE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r#"(?i)(?:listening|serving|running|bound|started server|server started|started on|listen) (?:on|at)?[: ]*(?:address )?(?:(?:https?|tcp|grpc)://)?\[?("?[0-9a-z.:*-]*"?)\]?(?:, port |:)(\d{2,5})\b|started on port\(s\): (\d{2,5})|listening on ipv[46] address "([^"]*)", port (\d{2,5})"#).unwrap()
});

/// The address an application log line says it listens on: (host if stated, port).
pub(crate) fn listen_addr(line: &str) -> Option<(Option<String>, u16)> {
    let c = LISTEN_LINE.captures(line)?;
    if let Some(p) = c.get(3) {
        return Some((None, p.as_str().parse().ok()?));
    }
    if let (Some(h), Some(p)) = (c.get(4), c.get(5)) {
        return Some((Some(h.as_str().to_string()), p.as_str().parse().ok()?));
    }
    let host = c
        .get(1)
        .map(|m| m.as_str().trim_matches('"').to_string())
        .filter(|h| !h.is_empty());
    Some((host, c.get(2)?.as_str().parse().ok()?))
}

/// Whether a listen address is loopback only (unreachable from the kubelet, which probes the pod IP).
pub(crate) fn is_loopback(host: &str) -> bool {
    host.starts_with("127.") || host == "localhost" || host == "::1"
}

/// An application's own start-up duration: Spring `Started X in 45.3 seconds`, Tomcat `Server
/// startup in [38211] milliseconds`, Quarkus `started in 12.345s`, `ready in 900ms`.
static STARTED_IN: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(?i)(?:started .* in|startup (?:took|in|completed in)|server startup in|ready in|initiali[sz]ed in)\s*\[?([0-9]+(?:\.[0-9]+)?)\]?\s*(ms|s|sec|seconds|milliseconds)\b").unwrap()
});

/// The start-up duration a log line states, in seconds.
pub(crate) fn startup_secs(line: &str) -> Option<f64> {
    let c = STARTED_IN.captures(line)?;
    let n: f64 = c.get(1)?.as_str().parse().ok()?;
    let ms = c
        .get(2)
        .is_some_and(|u| u.as_str().starts_with("ms") || u.as_str().starts_with("milli"));
    Some(if ms { n / 1000.0 } else { n })
}

/// A line that says the application is up (listening, ready to accept connections, started).
static READY_LINE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"(?i)\b(listening on|ready to accept connections|server started|started server|startup complete|application started|now listening)\b").unwrap()
});

/// Whether the line says the application is up.
pub(crate) fn is_ready_line(line: &str) -> bool {
    READY_LINE.is_match(line) || STARTED_IN.is_match(line)
}

/// The stamp an application log line starts with, as seconds on a common clock (only
/// differences between lines of one log are meaningful): RFC 3339, `2026-11-23 09:57:01.123`,
/// Go's `2026/11/23 09:57:01`, Tomcat's `23-Nov-2026 09:57:01.114`.
pub(crate) fn app_stamp(line: &str) -> Option<f64> {
    let line = line.trim_start();
    let b = line.as_bytes();
    if b.len() >= 19 && b[0].is_ascii_digit() && (b[4] == b'-' || b[4] == b'/') {
        let date = line.get(..10)?.replace('/', "-");
        let time = line.get(11..)?;
        let d: jiff::civil::Date = date.parse().ok()?;
        return Some(day_secs(d)? + clock_secs(time)?);
    }
    if b.len() >= 20 && b[2] == b'-' && b[6] == b'-' {
        // 23-Nov-2026 09:57:01.114
        let day: i8 = line.get(..2)?.parse().ok()?;
        let month = MONTH_NAMES
            .iter()
            .position(|m| line.get(3..6) == Some(*m))?;
        let year: i16 = line.get(7..11)?.parse().ok()?;
        let d = jiff::civil::Date::new(year, i8::try_from(month + 1).ok()?, day).ok()?;
        return Some(day_secs(d)? + clock_secs(line.get(12..)?)?);
    }
    None
}

const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn day_secs(d: jiff::civil::Date) -> Option<f64> {
    let epoch = jiff::civil::date(1970, 1, 1);
    let days = (d - epoch).get_days();
    Some(f64::from(days) * 86_400.0)
}

/// `09:57:01` or `09:57:01.123...` at the start of `s`.
fn clock_secs(s: &str) -> Option<f64> {
    let h: f64 = s.get(..2)?.parse().ok()?;
    let m: f64 = s.get(3..5)?.parse().ok()?;
    let sec_end = s[6..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(s.len(), |i| i + 6);
    let sec: f64 = s.get(6..sec_end)?.trim_end_matches('.').parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + sec)
}

static IMAGE_IN_MSG: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r#"(?:image|reference|tag) \\?"([^"\\\s]+)\\?""#).unwrap()
});

/// The image reference a pull message names (`pulling image "x"`, `reference "x"`).
pub(crate) fn image_in(msg: &str) -> Option<String> {
    IMAGE_IN_MSG
        .captures(msg)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// Words that make a panic or error line about configuration.
pub(crate) static CONFIG_HINT: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(
        r"(?i)\b(config(uration)?|ya?ml|toml|settings?|is required|must be set|cannot unmarshal)\b",
    )
    .unwrap()
});

/// The missing object named by a kubelet message: `configmap "app-config"`, `secret "db"`,
/// or `key "url"`.
pub(crate) fn missing_object(msg: &str) -> Option<String> {
    if let Some(c) = CONFIG_NOT_FOUND.captures(&msg.to_ascii_lowercase()) {
        let whole = c.get(0)?.as_str();
        return Some(whole.trim_end_matches(" not found").replace('\\', ""));
    }
    let i = msg.find("couldn't find key")?;
    Some(clip_words(&msg[i + "couldn't find ".len()..], 6))
}

fn clip_words(s: &str, n: usize) -> String {
    s.split_whitespace().take(n).collect::<Vec<_>>().join(" ")
}

// ---- the built-in message rules, listed as users would write them --------------------------

/// `(?i)a|b|c` from a substring list.
fn alternation(needles: &[&str]) -> String {
    format!("(?i){}", bare(needles))
}

/// `a|b|c` from a substring list, escaped.
fn bare(needles: &[&str]) -> String {
    needles
        .iter()
        .map(|n| regex::escape(n))
        .collect::<Vec<_>>()
        .join("|")
}

/// Every built-in message rule, in the form of a user rules file (`kubemedic explain rules`).
/// Within an area the first rule that matches wins; the notes say what else decides.
pub(crate) fn builtin_rules() -> Vec<crate::rules::BuiltinRule> {
    use crate::rules::{BuiltinRule, Field::*};
    let pull = vec![ContainerWaiting, EventMessage];
    let sandbox_fields = vec![EventMessage, ContainerWaiting];
    let mut v: Vec<BuiltinRule> = Vec::new();
    let mut add = |id: &str,
                   fields: Vec<crate::rules::Field>,
                   regex: String,
                   cause: Cause,
                   confidence: f64,
                   note: &'static str| {
        v.push(BuiltinRule {
            id: format!("builtin/{id}"),
            fields,
            regex,
            cause,
            confidence,
            note,
        });
    };
    // Image pulls (ErrImagePull/ImagePullBackOff waiting messages, Failed events), in order.
    add(
        "image-pull/invalid-name",
        pull.clone(),
        alternation(PULL_INVALID_NAME),
        Cause::InvalidImageName,
        0.95,
        "also waiting reason InvalidImageName",
    );
    add(
        "image-pull/insecure-registry",
        pull.clone(),
        alternation(&["http response to https client"]),
        Cause::InsecureRegistry,
        0.95,
        "",
    );
    add(
        "image-pull/cert-untrusted",
        pull.clone(),
        alternation(PULL_CERT),
        Cause::RegistryCertUntrusted,
        0.95,
        "",
    );
    add(
        "image-pull/auth",
        pull.clone(),
        alternation(PULL_AUTH),
        Cause::RegistryAuthFailure,
        0.9,
        "Docker Hub's 'repository does not exist or may require docker login' counts as ImageNotFound first (0.60)",
    );
    add(
        "image-pull/not-found",
        pull.clone(),
        format!(
            "(?i){}|manifest for \\S+ not found|failed to resolve reference.*not found|is not present with pull policy of never",
            bare(PULL_NOT_FOUND)
        ),
        Cause::ImageNotFound,
        0.9,
        "",
    );
    add(
        "image-pull/unreachable",
        pull.clone(),
        alternation(PULL_UNREACHABLE),
        Cause::RegistryUnreachable,
        0.85,
        "also waiting reason RegistryUnavailable",
    );
    add(
        "image-pull/timeout",
        pull.clone(),
        alternation(PULL_TIMEOUT),
        Cause::ImagePullTimeout,
        0.8,
        "many pods pulling on one node at once is quoted as evidence",
    );
    add(
        "image-pull/not-found-fallback",
        pull,
        alternation(&["not found"]),
        Cause::ImageNotFound,
        0.6,
        "last resort; no match at all gives ImagePullFailure (0.50)",
    );
    // Sandbox, volume, create and start errors, in order.
    add(
        "sandbox/disk-full",
        sandbox_fields.clone(),
        alternation(&["no space left on device"]),
        Cause::NodeDiskFull,
        0.9,
        "points to the node",
    );
    add(
        "sandbox/missing-config",
        sandbox_fields.clone(),
        r#"(?i)(configmap|secret)s? \\?"[^"\\]+\\?" not found|couldn't find key"#.to_string(),
        Cause::MissingConfigOrSecret,
        0.9,
        "",
    );
    add(
        "sandbox/subpath",
        sandbox_fields.clone(),
        alternation(&["volume-subpaths"]),
        Cause::SubPathMountStale,
        0.85,
        "",
    );
    add(
        "sandbox/name-conflict",
        sandbox_fields.clone(),
        "(?i)is already in use by container|conflict.*container name".to_string(),
        Cause::ContainerNameConflict,
        0.9,
        "",
    );
    add(
        "sandbox/ttrpc",
        sandbox_fields.clone(),
        "(?i)ttrpc: client shutting down|ttrpc: closed|shim\\.sock.*connection reset by peer"
            .to_string(),
        Cause::RuntimeVersionConflict,
        0.85,
        "repeated SandboxChanged alone gives 0.45",
    );
    add(
        "sandbox/fragmentation",
        sandbox_fields.clone(),
        alternation(&["page allocation failure", "cannot allocate memory"]),
        Cause::MemoryFragmentation,
        0.6,
        "raised by the node's kernel lines and buddyinfo",
    );
    add(
        "sandbox/signal-killed",
        sandbox_fields.clone(),
        alternation(&["signal: killed"]),
        Cause::MemoryLimitTooLow,
        0.6,
        "0.90 when a memory limit is written with m or below 4 MiB",
    );
    add(
        "sandbox/cni",
        sandbox_fields.clone(),
        format!("(?i){}|{}", bare(SANDBOX_CNI), bare(NETWORK_NOT_READY)),
        Cause::CNIFailure,
        0.85,
        "not when the message says deadline (that is the runtime); points to the node",
    );
    add(
        "sandbox/volume",
        sandbox_fields.clone(),
        alternation(&[
            "multi-attach error",
            "attachvolume.attach failed",
            "unable to attach or mount volumes",
            "mountvolume.setup failed",
            "mountvolume.mountdevice failed",
            "failedattachvolume",
            "timed out waiting for the condition",
        ]),
        Cause::VolumeAttachFailure,
        0.8,
        "",
    );
    add(
        "sandbox/runtime",
        sandbox_fields,
        alternation(SANDBOX_RUNTIME),
        Cause::RuntimeUnresponsive,
        0.75,
        "a known root cause on the node (xtables lock, disk full) comes first",
    );
    add(
        "start/command-not-found",
        vec![ContainerTerminated, ContainerWaiting],
        "(?i)executable file not found|command not found|exec:.*no such file or directory"
            .to_string(),
        Cause::CommandNotFound,
        0.9,
        "also exit code 127",
    );
    add(
        "start/not-executable",
        vec![ContainerTerminated, ContainerWaiting],
        "(?i)exec.*permission denied|exec format error".to_string(),
        Cause::CommandNotExecutable,
        0.85,
        "also exit code 126",
    );
    // Nodes.
    add(
        "node/network-plugin-not-ready",
        vec![NodeLog, EventMessage],
        alternation(NETWORK_NOT_READY),
        Cause::CNIFailure,
        0.85,
        "also the node's Ready condition message; the fix names the CNI DaemonSet pod on the node",
    );
    add(
        "node/xtables-lock",
        vec![NodeLog],
        alternation(&["holding the xtables lock"]),
        Cause::IptablesLockContention,
        0.75,
        "0.85 with PLEG/GC/CRI timeouts or NotReady, +0.05 with >= 10,000 iptables rules",
    );
    add(
        "node/pleg",
        vec![NodeLog],
        alternation(&["PLEG is not healthy", "pleg was last seen active"]),
        Cause::RuntimeUnresponsive,
        0.8,
        "only when no root cause (xtables lock, disk full) explains it",
    );
    add(
        "node/disk-full",
        vec![NodeLog],
        alternation(&["no space left on device"]),
        Cause::NodeDiskFull,
        0.85,
        "0.95 with a full runtime/kubelet disk in the facts",
    );
    add(
        "node/page-allocation",
        vec![NodeLog],
        r"page allocation failure[.:]? *order:([1-9]|\d\d)".to_string(),
        Cause::MemoryFragmentation,
        0.8,
        "order >= 1; 0.90 with buddyinfo showing no high-order blocks",
    );
    add(
        "node/system-oom",
        vec![NodeLog],
        alternation(&[
            "Out of memory: Kill",
            "oom-kill:",
            "Out of memory: Killed process",
        ]),
        Cause::NodeOOM,
        0.8,
        "not a memory cgroup kill",
    );
    add(
        "node/hung-task",
        vec![NodeLog],
        r"task \S+ blocked for more than \d+ seconds".to_string(),
        Cause::KernelDeadlock,
        0.85,
        "",
    );
    add(
        "node/oops",
        vec![NodeLog],
        alternation(&[
            "BUG: unable to handle kernel",
            "Oops:",
            "general protection fault",
            "kernel BUG at",
        ]),
        Cause::KernelOops,
        0.85,
        "",
    );
    add(
        "node/read-only",
        vec![NodeLog],
        alternation(&["emounting filesystem read-only", "emount-ro"]),
        Cause::FilesystemReadOnly,
        0.9,
        "",
    );
    add(
        "node/conntrack",
        vec![NodeLog],
        alternation(&["nf_conntrack: table full"]),
        Cause::ConntrackTableFull,
        0.9,
        "",
    );
    add(
        "node/x509-expired",
        vec![NodeLog],
        alternation(&["x509: certificate has expired or is not yet valid"]),
        Cause::ClockSkew,
        0.5,
        "needs 2 lines; 0.90 with NTP unsynchronised",
    );
    add(
        "node/ttrpc",
        vec![NodeLog],
        alternation(&["ttrpc: client shutting down"]),
        Cause::RuntimeVersionConflict,
        0.75,
        "",
    );
    // Stuck deletions.
    add(
        "terminating/immutable-file",
        vec![NodeLog, EventMessage],
        "(?i)operation not permitted.*(remove|unlink)|(remove|unlink).*operation not permitted"
            .to_string(),
        Cause::ImmutableFile,
        0.9,
        "on a pod past its grace period",
    );
    add(
        "terminating/cni-teardown",
        vec![EventMessage, NodeLog],
        alternation(CNI_TEARDOWN),
        Cause::CNIFailure,
        0.85,
        "or KillPodSandbox/StopPodSandbox errors naming the CNI; names the plugin",
    );
    add(
        "terminating/runtime",
        vec![EventMessage, NodeLog],
        alternation(STOP_HANGS),
        Cause::RuntimeUnresponsive,
        0.8,
        "a root cause on the node (xtables lock, disk full) comes first",
    );
    // Application logs of a crashed container.
    add(
        "log/dns",
        vec![ContainerLog],
        DNS_RE.as_str().to_string(),
        Cause::DependencyDNSFailure,
        0.85,
        "names the host that failed",
    );
    add(
        "log/panic",
        vec![ContainerLog],
        PANIC_RE.as_str().to_string(),
        Cause::AppPanic,
        0.9,
        "0.95 for exit 2 with a goroutine trace; a panic about configuration is ConfigError",
    );
    add(
        "log/config",
        vec![ContainerLog],
        CONFIG_RE.as_str().to_string(),
        Cause::ConfigError,
        0.85,
        "exit 1, 2, 64 or 78",
    );
    // Scheduler reasons (FailedScheduling), weighed against the node count.
    add("scheduler/unbound-pvc", vec![EventMessage], "(?i)unbound.*persistentvolumeclaim|persistentvolumeclaim.*not found|persistent volumes to bind".to_string(), Cause::UnboundPVC, 0.9, "quotes the PVC's own ProvisioningFailed event");
    add("scheduler/resources", vec![EventMessage], "(?i)insufficient|too many pods|didn't have enough resource|podexceedsfree|podexceedsmaxpodnumber|podfitsresources".to_string(), Cause::InsufficientResources, 0.9, "a reason excluding every node comes first; then resources/ports/volumes on the nodes the placement allows");
    add(
        "scheduler/host-ports",
        vec![EventMessage],
        "(?i)free ports|podfitshostports|podfitsports|requested pod ports".to_string(),
        Cause::HostPortConflict,
        0.9,
        "",
    );
    add("scheduler/node-selector", vec![EventMessage], "(?i)node selector|node affinity/selector|matchnodeselector|didn't match pod's node affinity|requested hostname|requested node name".to_string(), Cause::NodeSelectorMismatch, 0.9, "");
    add(
        "scheduler/volume-zone",
        vec![EventMessage],
        "(?i)volume node affinity conflict|volume zone|novolumezoneconflict|novolumenodeconflict"
            .to_string(),
        Cause::VolumeZoneConflict,
        0.9,
        "",
    );
    add(
        "scheduler/pod-affinity",
        vec![EventMessage],
        "(?i)affinity".to_string(),
        Cause::PodAffinityConflict,
        0.9,
        "after the node and volume affinity rules",
    );
    add(
        "scheduler/taints",
        vec![EventMessage],
        "(?i)taint|unschedulable".to_string(),
        Cause::UntoleratedTaint,
        0.9,
        "memory/disk/pid-pressure taints map to the pressure causes",
    );
    // Probes.
    add(
        "probe/liveness",
        vec![EventMessage],
        "Liveness probe (failed|errored)|failed liveness probe|failed startup probe".to_string(),
        Cause::LivenessProbeFailure,
        0.8,
        "with a kill (exit 137/143); says why: refused port vs declared/listened ports, timeout, HTTP status, path",
    );
    add(
        "probe/too-early",
        vec![ContainerLog],
        STARTED_IN.as_str().to_string(),
        Cause::ProbeTooEarly,
        0.85,
        "only when the measured start-up (this line, or a listen/ready line's offset in the log) exceeds the probe's kill budget",
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_compile() {
        LazyLock::force(&NOT_FOUND_MANIFEST);
        LazyLock::force(&CONFIG_NOT_FOUND);
        LazyLock::force(&SCHED_HEAD);
        LazyLock::force(&PANIC_RE);
        LazyLock::force(&DNS_RE);
        LazyLock::force(&DNS_NAME);
        LazyLock::force(&SCHED_HISTOGRAM_HEAD);
        LazyLock::force(&TRAILING_COUNT);
        LazyLock::force(&FIT_FAILURE_LINE);
        LazyLock::force(&FAILED_FOR_REASON);
        LazyLock::force(&CNI_PLUGIN);
        LazyLock::force(&PROBE_FAILED);
        LazyLock::force(&PROBE_DIAL_PORT);
        LazyLock::force(&PROBE_STATUS);
        LazyLock::force(&LISTEN_LINE);
        LazyLock::force(&STARTED_IN);
        LazyLock::force(&READY_LINE);
        LazyLock::force(&CONFIG_RE);
        LazyLock::force(&CONFIG_HINT);
        assert_eq!(
            image_in(
                r#"Failed to pull image "imroc/test:v0.2": manifest for imroc/test:v0.2 not found"#
            )
            .as_deref(),
            Some("imroc/test:v0.2")
        );
        assert_eq!(
            image_in(r#"couldn't parse image reference "Nginx:Latest": invalid reference format"#)
                .as_deref(),
            Some("Nginx:Latest")
        );
    }

    #[test]
    fn scheduler_breakdown_old_and_new() {
        let m = scheduling("0/4 nodes are available: 1 node(s) had no available volume zone, 2 Insufficient cpu, 3 Insufficient memory.").unwrap();
        assert_eq!(m.nodes, Some(4));
        assert_eq!(m.parts.len(), 3);
        assert_eq!(m.dominant(), Some(Cause::InsufficientResources));
        let m = scheduling("0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.").unwrap();
        assert_eq!(m.parts.len(), 2);
        assert_eq!(m.dominant(), Some(Cause::NodeSelectorMismatch));
        let m = scheduling(
            "0/3 nodes are available: 3 node(s) had taints that the pod didn't tolerate.",
        )
        .unwrap();
        assert_eq!(m.dominant(), Some(Cause::UntoleratedTaint));
        let m = scheduling("pod has unbound immediate PersistentVolumeClaims (repeated 3 times)")
            .unwrap();
        assert_eq!(m.dominant(), Some(Cause::UnboundPVC));
        let m = scheduling("0/2 nodes are available: 1 node(s) had taint {a: b}, that the pod didn't tolerate, 1 node(s) didn't match pod anti-affinity rules.").unwrap();
        assert_eq!(m.parts.len(), 2, "{m:?}");
        assert_eq!(m.dominant(), Some(Cause::PodAffinityConflict));
        assert!(scheduling("skip schedule deleting pod: shop/api").is_none());
    }

    #[test]
    fn scheduler_wordings_of_every_era() {
        // 1.0-1.1
        let m = scheduling("Failed for reason PodExceedsFreeCPU and possibly others").unwrap();
        assert_eq!(
            m.root(Some(3)).map(|r| r.0),
            Some(Cause::InsufficientResources)
        );
        // 1.2-1.4: per-node lines, counted per reason.
        let m = scheduling("pod (api-1) failed to fit in any node\nfit failure on node (n1): Node didn't have enough resource: CPU, requested: 2000, used: 1500, capacity: 2000\nfit failure on node (n2): Node didn't have enough resource: CPU, requested: 2000, used: 1800, capacity: 2000\nfit failure on node (n3): MatchNodeSelector\n").unwrap();
        assert_eq!(m.nodes, Some(3));
        assert_eq!(m.parts.len(), 2, "{m:?}");
        assert_eq!(m.parts[0].count, 2);
        assert_eq!(
            m.root(None).map(|r| r.0),
            Some(Cause::InsufficientResources)
        );
        // 1.5-1.6 summary and 1.6-1.8 predicates, counts in parentheses.
        let m = scheduling("pod (x) failed to fit in any node\nfit failure summary on nodes : Insufficient pods (2), PodToleratesNodeTaints (1)").unwrap();
        assert_eq!(m.parts.len(), 2, "{m:?}");
        assert_eq!(
            (m.parts[0].count, m.parts[0].text.as_str()),
            (2, "Insufficient pods")
        );
        let m = scheduling("No nodes are available that match all of the following predicates:: Insufficient cpu (9), Insufficient memory (15), MatchNodeSelector (18).").unwrap();
        assert_eq!(m.parts.len(), 3, "{m:?}");
        // 18 of 33 nodes are outside the selector; the 15 it allows lack memory.
        assert_eq!(
            m.root(Some(33)),
            Some((Cause::InsufficientResources, 15, SchedWeight::AllowedNodes))
        );
        let m = scheduling("No nodes are available that match all of the predicates: MatchNodeSelector (5), PodToleratesNodeTaints (3).").unwrap();
        assert_eq!(
            m.root(Some(5)),
            Some((Cause::NodeSelectorMismatch, 5, SchedWeight::AllNodes))
        );
        // Modern: a reason excluding every node comes first.
        let m = scheduling("0/6 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 5 node(s) didn't match Pod's node affinity/selector. preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.").unwrap();
        assert_eq!(m.root(Some(6)).map(|r| r.2), Some(SchedWeight::Most));
        assert_eq!(m.dominant(), Some(Cause::NodeSelectorMismatch));
        let m = scheduling("0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.").unwrap();
        assert_eq!(m.dominant(), Some(Cause::HostPortConflict));
        let m = scheduling("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.").unwrap();
        assert_eq!(
            m.root(None),
            Some((Cause::UnboundPVC, 3, SchedWeight::AllNodes))
        );
    }

    #[test]
    fn log_lines() {
        assert_eq!(
            log_line("panic: runtime error: invalid memory address or nil pointer dereference"),
            Some(LogSignal::Panic)
        );
        assert_eq!(log_line("goroutine 1 [running]:"), Some(LogSignal::Panic));
        assert_eq!(
            log_line("dial tcp: lookup db.shop.svc on 10.96.0.10:53: no such host"),
            Some(LogSignal::Dns)
        );
        assert_eq!(
            log_line(
                "error: failed to parse config.yaml: yaml: line 3: mapping values are not allowed"
            ),
            Some(LogSignal::Config)
        );
        assert_eq!(
            log_line("DATABASE_URL is required"),
            Some(LogSignal::Config)
        );
        assert_eq!(log_line("listening on :8080"), None);
        assert_eq!(log_line("Press CTRL+C to quit. Try again later"), None);
    }

    #[test]
    fn probe_failures_in_every_wording() {
        let p = |m: &str| probe_failure(m).map(|f| (f.kind, f.how));
        assert_eq!(
            p(
                r#"Liveness probe failed: Get "http://10.244.1.7:8081/healthz": dial tcp 10.244.1.7:8081: connect: connection refused"#
            ),
            Some((ProbeKind::Liveness, ProbeHow::Refused { port: Some(8081) }))
        );
        assert_eq!(
            p(
                "Liveness probe failed: Get http://10.244.1.7:8080/: dial tcp 10.244.1.7:8080: getsockopt: connection refused"
            ),
            Some((ProbeKind::Liveness, ProbeHow::Refused { port: Some(8080) }))
        );
        assert_eq!(
            p("Readiness probe failed: dial tcp 10.244.1.7:5432: connect: connection refused"),
            Some((ProbeKind::Readiness, ProbeHow::Refused { port: Some(5432) }))
        );
        assert_eq!(
            p("Liveness probe failed: HTTP probe failed with statuscode: 404"),
            Some((ProbeKind::Liveness, ProbeHow::Status(404)))
        );
        assert_eq!(
            p(r#"Startup probe failed: Get "http://10.244.1.7:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"#).map(|x| x.1),
            Some(ProbeHow::Timeout)
        );
        assert_eq!(
            p("Liveness probe failed: Get http://172.16.2.23:8888/healthz: net/http: request canceled (Client.Timeout exceeded while awaiting headers)").map(|x| x.1),
            Some(ProbeHow::Timeout)
        );
        assert_eq!(
            p("Liveness probe errored and resulted in unknown state: rpc error: code = DeadlineExceeded desc = failed to exec in container: timeout 1s exceeded: context deadline exceeded").map(|x| x.1),
            Some(ProbeHow::Timeout)
        );
        assert!(matches!(
            p("Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory").map(|x| x.1),
            Some(ProbeHow::Output(o)) if o.contains("/tmp/healthy")
        ));
        assert_eq!(
            p("Container api failed liveness probe, will be restarted"),
            None
        );
    }

    #[test]
    fn listen_lines_and_startup() {
        assert_eq!(
            listen_addr("2026/11/23 09:57:01 listening on :8080"),
            Some((None, 8080))
        );
        assert_eq!(
            listen_addr(" * Running on http://127.0.0.1:8080"),
            Some((Some("127.0.0.1".into()), 8080))
        );
        assert_eq!(
            listen_addr("INFO Tomcat started on port(s): 8080 (http)"),
            Some((None, 8080))
        );
        assert_eq!(
            listen_addr("LOG:  listening on IPv4 address \"0.0.0.0\", port 5432"),
            Some((Some("0.0.0.0".into()), 5432))
        );
        assert_eq!(
            listen_addr("Now listening on: http://[::]:80"),
            Some((Some("::".into()), 80))
        );
        assert_eq!(listen_addr("level=info msg=\"starting\""), None);
        assert_eq!(
            startup_secs("Started Application in 45.3 seconds (JVM running for 47.1)"),
            Some(45.3)
        );
        assert_eq!(
            startup_secs("INFO: Server startup in [38211] milliseconds"),
            Some(38.211)
        );
        let a = app_stamp("2026-11-23T09:57:00.512Z LOG: starting").unwrap();
        let b = app_stamp("2026-11-23T09:57:58.300Z LOG: listening").unwrap();
        assert!((b - a - 57.788).abs() < 0.01, "{}", b - a);
        let c = app_stamp("23-Nov-2026 09:57:39.403 INFO [main] Server startup").unwrap();
        let d = app_stamp("2026/11/23 09:57:01 listening on :8080").unwrap();
        assert!((c - d - 38.403).abs() < 0.01);
        assert!(is_ready_line(
            "database system is ready to accept connections"
        ));
    }

    #[test]
    fn cni_wordings() {
        assert!(network_not_ready(
            "runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:docker: network plugin is not ready: cni config unintialized"
        ));
        assert!(network_not_ready(
            "Kubenet does not have netConfig. This is most likely due to lack of PodCIDR"
        ));
        assert!(!network_not_ready(
            "PLEG is not healthy: pleg was last seen active 3m0s ago"
        ));
        let teardown = r#"error killing pod: failed to "KillPodSandbox" for "9a5e" with KillPodSandboxError: "rpc error: code = Unknown desc = NetworkPlugin cni failed to teardown pod \"kube-dns_kube-system\" network: failed to find plugin \"portmap\" in path [/opt/flannel/bin /opt/cni/bin]""#;
        assert_eq!(terminating(teardown).map(|v| v.0), Some(Cause::CNIFailure));
        assert_eq!(cni_plugin(teardown).as_deref(), Some("portmap"));
        assert_eq!(
            cni_plugin(r#"plugin type=\"cilium-cni\" failed (delete)"#).as_deref(),
            Some("cilium-cni")
        );
        let runtime = r#"error killing pod: failed to "KillPodSandbox" for "470e" with KillPodSandboxError: "rpc error: code = DeadlineExceeded desc = context deadline exceeded""#;
        assert_eq!(
            terminating(runtime).map(|v| v.0),
            Some(Cause::RuntimeUnresponsive)
        );
    }

    #[test]
    fn dns_names_in_every_clients_words() {
        for (line, name) in [
            (
                "dial tcp: lookup mysql.shop.svc.cluster.local on 10.96.0.10:53: no such host",
                "mysql.shop.svc.cluster.local",
            ),
            (
                "panic: dial tcp: lookup kafka-0.kafka-headless: Temporary failure in name resolution",
                "kafka-0.kafka-headless",
            ),
            ("Error: getaddrinfo ENOTFOUND redis-master", "redis-master"),
            ("Error: getaddrinfo EAI_AGAIN mongo mongo:27017", "mongo"),
            (
                "java.net.UnknownHostException: kafka-0.kafka-headless: Name or service not known",
                "kafka-0.kafka-headless",
            ),
            (
                "Caused by: java.net.UnknownHostException: eureka-server",
                "eureka-server",
            ),
            (
                "curl: (6) Could not resolve host: config-service.default.svc.cluster.local",
                "config-service.default.svc.cluster.local",
            ),
            ("curl: (6) Couldn't resolve host 'backend'", "backend"),
            (
                "nslookup: can't resolve 'kubernetes.default'",
                "kubernetes.default",
            ),
            ("wget: bad address 'config-server:8888'", "config-server"),
            (
                "psql: error: could not translate host name \"postgres.db.svc\" to address: Temporary failure in name resolution",
                "postgres.db.svc",
            ),
            (
                "[emerg] 1#1: host not found in upstream \"backend:8080\" in /etc/nginx/conf.d/default.conf:3",
                "backend",
            ),
            (
                "urllib3.exceptions.NameResolutionError: <x>: Failed to resolve 'auth.internal' ([Errno -2] Name or service not known)",
                "auth.internal",
            ),
            (
                "System.Net.Http.HttpRequestException: Name or service not known (orders-api:80)",
                "orders-api",
            ),
        ] {
            assert_eq!(log_line(line), Some(LogSignal::Dns), "{line}");
            assert_eq!(dns_name(line).as_deref(), Some(name), "{line}");
        }
        assert_eq!(
            dns_name("x: Get http://10.0.0.9:80/: dial tcp: lookup 10.0.0.9: no such host"),
            None
        );
        assert_eq!(
            dns_name("socket.gaierror: [Errno -2] Name or service not known"),
            None
        );
        assert_eq!(
            dns_name("nslookup: can't resolve '(null)': Name does not resolve"),
            None
        );
    }
}
