//! The most recent node log lines, by source, served at `/logs/<source>`.
//!
//! Only lines the agent's sources already read are kept (kmsg, the journal entries its monitors
//! follow, the files its filelog monitors tail): `kubemedic diagnose`/`collect` fetch them so a
//! node's story (kubelet PLEG lines, kernel OOM kills, ...) is in the snapshot without a shell on
//! the node. Each source keeps a bounded ring (lines and bytes), so memory stays flat however
//! chatty the node is.

use kubemedic_model::NodeLogSource;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Lines kept per source by default.
pub const DEFAULT_MAX_LINES: usize = 2_000;
/// Bytes kept per source by default.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// Shared handle on the per-source rings.
#[derive(Debug, Clone)]
pub struct NodeLogs {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    max_lines: usize,
    max_bytes: usize,
    rings: BTreeMap<NodeLogSource, Ring>,
    /// Readers already recording (see [`NodeLogs::claim`]).
    claimed: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Default for NodeLogs {
    fn default() -> Self {
        Self::with_caps(DEFAULT_MAX_LINES, DEFAULT_MAX_BYTES)
    }
}

impl NodeLogs {
    /// Rings keeping at most `max_lines` lines and `max_bytes` bytes per source.
    pub fn with_caps(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                max_lines: max_lines.max(1),
                max_bytes: max_bytes.max(1),
                rings: BTreeMap::new(),
                claimed: BTreeSet::new(),
            })),
        }
    }

    /// Claims the recording of one reader (`kmsg:/dev/kmsg`, `file:/var/log/kubelet.log`):
    /// true for the first caller only. Several monitors may read the same device or file, each
    /// with its own reader; only one of them records, so lines are not kept twice.
    pub fn claim(&self, reader: &str) -> bool {
        self.lock().claimed.insert(reader.to_string())
    }

    /// Appends one line (a line longer than the byte cap keeps its start).
    pub fn push(&self, source: NodeLogSource, line: &str) {
        let mut inner = self.lock();
        let (max_lines, max_bytes) = (inner.max_lines, inner.max_bytes);
        let line = clip(line.trim_end_matches(['\n', '\r']), max_bytes);
        let ring = inner.rings.entry(source).or_default();
        ring.bytes += line.len();
        ring.lines.push_back(line.to_string());
        while ring.lines.len() > max_lines || ring.bytes > max_bytes {
            match ring.lines.pop_front() {
                Some(old) => ring.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The last `n` lines of `source` (all kept lines when `n` is `None`), oldest first.
    pub fn tail(&self, source: NodeLogSource, n: Option<usize>) -> Vec<String> {
        let inner = self.lock();
        let Some(ring) = inner.rings.get(&source) else {
            return Vec::new();
        };
        let skip = n.map_or(0, |n| ring.lines.len().saturating_sub(n));
        ring.lines.iter().skip(skip).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The node log a journal entry belongs to, by its `SYSLOG_IDENTIFIER`.
pub fn source_for_journal(identifier: Option<&str>) -> NodeLogSource {
    match identifier.unwrap_or("") {
        "kernel" => NodeLogSource::Kernel,
        "kubelet" => NodeLogSource::Kubelet,
        "containerd" => NodeLogSource::Containerd,
        "dockerd" | "docker" => NodeLogSource::Docker,
        "kube-proxy" => NodeLogSource::KubeProxy,
        _ => NodeLogSource::Syslog,
    }
}

/// The node log a tailed file belongs to, by its file name (`kubelet.log`, `docker.log`,
/// `containerd.log`, `kube-proxy.log`, `kern.log`; `messages`, `syslog` and the rest: syslog).
pub fn source_for_file(path: &Path) -> NodeLogSource {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.contains("kube-proxy") || name.contains("kube_proxy") {
        NodeLogSource::KubeProxy
    } else if name.contains("kubelet") {
        NodeLogSource::Kubelet
    } else if name.contains("containerd") {
        NodeLogSource::Containerd
    } else if name.contains("docker") {
        NodeLogSource::Docker
    } else if name.starts_with("kern") || name.starts_with("dmesg") {
        NodeLogSource::Kernel
    } else {
        NodeLogSource::Syslog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_cap_drops_oldest_lines_first() {
        let logs = NodeLogs::with_caps(100, 10);
        for line in ["aaaa", "bbbb", "cccc"] {
            logs.push(NodeLogSource::Kubelet, line);
        }
        assert_eq!(logs.tail(NodeLogSource::Kubelet, None), ["bbbb", "cccc"]);
        // A line longer than the whole cap keeps its start, alone.
        logs.push(NodeLogSource::Kubelet, "0123456789abc");
        assert_eq!(logs.tail(NodeLogSource::Kubelet, None), ["0123456789"]);
    }

    #[test]
    fn line_cap_and_tail() {
        let logs = NodeLogs::with_caps(3, 1 << 20);
        for i in 0..5 {
            logs.push(NodeLogSource::Kernel, &format!("line {i}"));
        }
        assert_eq!(
            logs.tail(NodeLogSource::Kernel, None),
            ["line 2", "line 3", "line 4"]
        );
        assert_eq!(logs.tail(NodeLogSource::Kernel, Some(1)), ["line 4"]);
        assert!(logs.tail(NodeLogSource::Docker, None).is_empty());
    }

    #[test]
    fn claim_once() {
        let logs = NodeLogs::default();
        assert!(logs.claim("kmsg:/dev/kmsg"));
        assert!(!logs.claim("kmsg:/dev/kmsg"));
        assert!(logs.claim("file:/var/log/kubelet.log"));
    }

    #[test]
    fn classification() {
        assert_eq!(source_for_journal(Some("dockerd")), NodeLogSource::Docker);
        assert_eq!(source_for_journal(Some("kubelet")), NodeLogSource::Kubelet);
        assert_eq!(source_for_journal(Some("systemd")), NodeLogSource::Syslog);
        assert_eq!(source_for_journal(None), NodeLogSource::Syslog);
        let f = |p: &str| source_for_file(Path::new(p));
        assert_eq!(f("/var/log/kubelet.log"), NodeLogSource::Kubelet);
        assert_eq!(f("/var/log/kube-proxy.log"), NodeLogSource::KubeProxy);
        assert_eq!(f("/var/log/containerd.log"), NodeLogSource::Containerd);
        assert_eq!(f("/var/log/docker.log"), NodeLogSource::Docker);
        assert_eq!(f("/var/log/kern.log"), NodeLogSource::Kernel);
        assert_eq!(f("/var/log/messages"), NodeLogSource::Syslog);
        assert_eq!(f("/var/log/syslog"), NodeLogSource::Syslog);
    }
}
