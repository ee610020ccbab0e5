//! Node facts: numbers about a node that logs and Kubernetes objects do not carry.
//!
//! Produced by the node agent (`GET /facts`), stored in dumps as `_nodes/<node>/facts.json`,
//! read by the diagnosis engine. Every field is optional so that a partial collection (a fact
//! the agent could not read on this host) still parses and the rest is used.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Everything the agent knows about its node beyond logs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeFacts {
    /// Node name the facts belong to.
    pub node: String,
    /// When the facts were collected.
    pub collected_at: Option<Timestamp>,
    /// Number of iptables rules across all tables (iptables-save line count of `-A` rules).
    pub iptables_rules: Option<u64>,
    /// Connection tracking table usage.
    pub conntrack: Option<ConntrackFacts>,
    /// Free blocks per order and zone, from /proc/buddyinfo.
    pub buddyinfo: Vec<BuddyZone>,
    /// Load, cores and CPU time split.
    pub load: Option<LoadFacts>,
    /// TCP listen queue counters from /proc/net/netstat (cumulative since boot).
    pub tcp: Option<TcpFacts>,
    /// Usage of the filesystems holding the kubelet and container runtime directories.
    pub disks: Vec<DiskFacts>,
    /// Per block device utilisation.
    pub block_devices: Vec<BlockDeviceFacts>,
    /// Clock synchronisation state.
    pub ntp: Option<NtpFacts>,
    /// Network probe results (`kubemedic agent --probes`); absent when the prober does not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<crate::probes::ProbeFacts>,
}

/// Connection tracking table fill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConntrackFacts {
    /// Entries in use (`nf_conntrack_count`).
    pub count: u64,
    /// Table size (`nf_conntrack_max`).
    pub max: u64,
}

impl ConntrackFacts {
    /// Fraction of the table in use, 0.0 when the size is unknown.
    pub fn fill_ratio(&self) -> f64 {
        if self.max == 0 {
            0.0
        } else {
            self.count as f64 / self.max as f64
        }
    }
}

/// One line of /proc/buddyinfo: free blocks of each order (index = order) in a memory zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BuddyZone {
    /// NUMA node number.
    pub numa_node: u32,
    /// Zone name (`DMA`, `DMA32`, `Normal`, ...).
    pub zone: String,
    /// Free block count for order 0, 1, 2, ...
    pub free_blocks: Vec<u64>,
}

/// Load and CPU split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LoadFacts {
    /// 1-minute load average.
    pub load1: f64,
    /// 5-minute load average.
    pub load5: f64,
    /// 15-minute load average.
    pub load15: f64,
    /// Online CPU cores.
    pub cores: u32,
    /// Share of CPU time spent waiting on I/O over the last sample, in percent.
    pub iowait_percent: f64,
    /// Share of CPU time spent in user mode over the last sample, in percent.
    pub user_percent: f64,
    /// Share of CPU time spent in system mode over the last sample, in percent.
    pub system_percent: f64,
    /// Processes blocked on I/O (`procs_blocked`).
    pub procs_blocked: u64,
}

/// TCP listen queue counters (TcpExt in /proc/net/netstat).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpFacts {
    /// `ListenDrops`: SYNs dropped on a listening socket.
    pub listen_drops: u64,
    /// `ListenOverflows`: accept queue overflows.
    pub listen_overflows: u64,
    /// `TCPBacklogDrop`: packets dropped because the socket backlog was full.
    pub backlog_drops: u64,
    /// Increase of `ListenDrops` over the agent's last sampling interval, when known.
    pub listen_drops_delta: Option<u64>,
}

/// What a directory is used for on the node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskPurpose {
    /// The kubelet's root directory (`/var/lib/kubelet`).
    Kubelet,
    /// The container runtime's root (`/var/lib/containerd`, `/var/lib/docker`).
    Runtime,
    /// The root filesystem.
    #[default]
    Root,
    /// The log directory (`/var/log`).
    Logs,
}

/// Usage of the filesystem holding one directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DiskFacts {
    /// Directory inspected.
    pub path: String,
    /// What the directory is for.
    pub purpose: DiskPurpose,
    /// Filesystem size in bytes.
    pub bytes_total: u64,
    /// Bytes in use.
    pub bytes_used: u64,
    /// Inodes in the filesystem.
    pub inodes_total: u64,
    /// Inodes in use.
    pub inodes_used: u64,
    /// Whether the filesystem is mounted read-only.
    pub read_only: bool,
}

impl DiskFacts {
    /// Fraction of bytes in use.
    pub fn bytes_ratio(&self) -> f64 {
        ratio(self.bytes_used, self.bytes_total)
    }

    /// Fraction of inodes in use.
    pub fn inodes_ratio(&self) -> f64 {
        ratio(self.inodes_used, self.inodes_total)
    }
}

/// Utilisation of one block device over the agent's last sampling interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BlockDeviceFacts {
    /// Device name (`sda`, `nvme0n1`).
    pub device: String,
    /// Percent of time the device was busy (io_time delta / wall time).
    pub util_percent: f64,
}

/// Clock synchronisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NtpFacts {
    /// Whether the kernel reports the clock synchronised (adjtimex status without STA_UNSYNC).
    pub synchronized: bool,
    /// Estimated error in seconds reported by the kernel, when known.
    pub max_error_seconds: Option<f64>,
}

fn ratio(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 / total as f64
    }
}
