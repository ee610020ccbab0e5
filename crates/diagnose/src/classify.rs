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

/// Image pull errors (waiting message of ErrImagePull/ImagePullBackOff, `Failed` events).
pub(crate) fn image_pull(msg: &str) -> Option<Verdict> {
    let lower = msg.to_ascii_lowercase();
    let m = lower.as_str();
    if any(
        m,
        &[
            "invalid reference format",
            "couldn't parse image",
            "failed to parse image",
            "invalidimagename",
        ],
    ) {
        return Some((Cause::InvalidImageName, 0.95));
    }
    if m.contains("http response to https client") {
        return Some((Cause::InsecureRegistry, 0.95));
    }
    if any(
        m,
        &[
            "x509: certificate signed by unknown authority",
            "certificate is not trusted",
            "x509: certificate is valid for",
            "failed to verify certificate",
        ],
    ) {
        return Some((Cause::RegistryCertUntrusted, 0.95));
    }
    // Docker Hub says both at once for private or missing repos; name the missing image first.
    if m.contains("repository does not exist or may require") {
        return Some((Cause::ImageNotFound, 0.6));
    }
    if any(
        m,
        &[
            "unauthorized",
            "authentication required",
            "pull access denied",
            "no basic auth credentials",
            "401 unauthorized",
            "403 forbidden",
            "requested access to the resource is denied",
            "authorization failed",
            "insufficient_scope",
        ],
    ) {
        return Some((Cause::RegistryAuthFailure, 0.9));
    }
    if any(
        m,
        &[
            "manifest unknown",
            "not found: manifest",
            "repository does not exist",
            "name unknown",
        ],
    ) || NOT_FOUND_MANIFEST.is_match(m)
        || (m.contains("failed to resolve reference") && m.contains("not found"))
        || m.contains("is not present with pull policy of never")
    {
        return Some((Cause::ImageNotFound, 0.9));
    }
    if any(
        m,
        &[
            "no such host",
            "connection refused",
            "network is unreachable",
            "no route to host",
            "registryunavailable",
            "server misbehaving",
            "connection reset by peer",
        ],
    ) {
        return Some((Cause::RegistryUnreachable, 0.85));
    }
    if any(
        m,
        &[
            "context deadline exceeded",
            "i/o timeout",
            "request canceled",
            "tls handshake timeout",
            "client.timeout exceeded",
            "deadlineexceeded",
            "context canceled",
            "timeout exceeded while awaiting headers",
        ],
    ) {
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
    if any(
        m,
        &[
            "networkplugin cni failed",
            "network plugin is not ready",
            "networkpluginnotready",
            "failed to allocate for range",
            "no ip addresses available",
            "cni plugin not initialized",
            "cni config uninitialized",
            "failed to setup network for sandbox",
            "failed to set up pod network",
            "failed to set up sandbox container",
            "plugin type=",
            "failed to allocate ip",
            "ipam",
        ],
    ) && !m.contains("deadline")
    {
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
    if any(
        m,
        &[
            "deadlineexceeded",
            "context deadline exceeded",
            "operation timeout",
            "docker daemon not ready",
            "container runtime is down",
            "cannot connect to the docker daemon",
            "is the docker daemon running",
        ],
    ) {
        return Some((Cause::RuntimeUnresponsive, 0.75));
    }
    start_error(m)
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

/// Maps one scheduler reason (any version's wording) to a cause.
pub(crate) fn sched_reason(text: &str) -> Option<Cause> {
    let t = text.to_ascii_lowercase();
    let t = t.as_str();
    if t.contains("unbound") && t.contains("persistentvolumeclaim")
        || t.contains("persistentvolumeclaim") && t.contains("not found")
    {
        Some(Cause::UnboundPVC)
    } else if t.contains("insufficient") || t.contains("too many pods") {
        Some(Cause::InsufficientResources)
    } else if t.contains("node selector")
        || t.contains("node affinity/selector")
        || t.contains("matchnodeselector")
        || t.contains("didn't match pod's node affinity")
    {
        Some(Cause::NodeSelectorMismatch)
    } else if t.contains("volume node affinity conflict")
        || t.contains("volume zone")
        || t.contains("novolumezoneconflict")
    {
        Some(Cause::VolumeZoneConflict)
    } else if t.contains("affinity") {
        Some(Cause::PodAffinityConflict)
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
    // not start with a count continues the previous part.
    let mut out: Vec<&str> = Vec::new();
    for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let counted = p.bytes().next().is_some_and(|b| b.is_ascii_digit());
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

/// Parses a FailedScheduling message; plain messages without the breakdown give one part.
pub(crate) fn scheduling(msg: &str) -> Option<SchedMessage> {
    let msg = msg.trim();
    let (nodes, body) = match SCHED_HEAD.captures(msg) {
        Some(c) => {
            let end = c.get(0).map_or(0, |m| m.end());
            (c.get(2).and_then(|m| m.as_str().parse().ok()), &msg[end..])
        }
        None => (None, msg),
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
            _ => (nodes.unwrap_or(1), raw),
        };
        parts.push(SchedPart {
            count,
            text: text.to_string(),
            cause: sched_reason(text),
        });
    }
    if parts.iter().all(|p| p.cause.is_none()) {
        return None;
    }
    Some(SchedMessage { nodes, parts })
}

/// Which cause is the most actionable when counts tie (lower index wins).
const SCHED_PRIORITY: [Cause; 6] = [
    Cause::UnboundPVC,
    Cause::NodeSelectorMismatch,
    Cause::PodAffinityConflict,
    Cause::VolumeZoneConflict,
    Cause::InsufficientResources,
    Cause::UntoleratedTaint,
];

impl SchedMessage {
    /// The dominant cause: the one that excludes the most nodes; ties go to the more actionable.
    pub fn dominant(&self) -> Option<Cause> {
        let mut best: Option<(u32, usize, Cause)> = None;
        for p in &self.parts {
            let Some(c) = p.cause else { continue };
            // A cause's weight is its largest part (cpu and memory may exclude the same nodes).
            let count = self
                .parts
                .iter()
                .filter(|q| q.cause == Some(c))
                .map(|q| q.count)
                .max()
                .unwrap_or(0);
            let prio = SCHED_PRIORITY.iter().position(|x| *x == c).unwrap_or(99);
            let better = match best {
                None => true,
                Some((bc, bp, _)) => count > bc || (count == bc && prio < bp),
            };
            if better {
                best = Some((count, prio, c));
            }
        }
        best.map(|(_, _, c)| c)
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
    Regex::new(r"(?i)no such host|Name or service not known|Temporary failure in name resolution|server misbehaving|getaddrinfo (ENOTFOUND|EAI_AGAIN)|UnknownHostException|nodename nor servname provided|could not resolve host|Name does not resolve|NXDOMAIN").unwrap()
});

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
    }
}
