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
    /// Memory state (/proc/meminfo, OOM kill count, memory pressure); absent in older dumps.
    pub memory: Option<MemoryFacts>,
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

/// The node's memory state: what an SRE reads to judge a node-level OOM (sizes in bytes, from
/// /proc/meminfo; `oomKills` from /proc/vmstat; pressure from /proc/pressure/memory).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MemoryFacts {
    /// `MemTotal`: usable RAM.
    pub total_bytes: u64,
    /// `MemAvailable`: what new allocations can get without swapping (free + reclaimable).
    pub available_bytes: u64,
    /// `MemFree`: completely unused RAM.
    pub free_bytes: u64,
    /// `Buffers`: block device buffers.
    pub buffers_bytes: u64,
    /// `Cached`: page cache (includes `Shmem`).
    pub cached_bytes: u64,
    /// `AnonPages`: anonymous memory of processes (heaps, stacks): what OOM kills free.
    pub anon_bytes: u64,
    /// `Shmem`: tmpfs and shared memory; counted in the page cache but not reclaimable.
    pub shmem_bytes: u64,
    /// `SReclaimable`: slab the kernel can free under pressure (dentries, inodes).
    pub slab_reclaimable_bytes: u64,
    /// `SUnreclaim`: slab the kernel cannot free (a leak here starves the node).
    pub slab_unreclaimable_bytes: u64,
    /// `KernelStack` + `PageTables`: per-process kernel memory.
    pub kernel_bytes: u64,
    /// `Dirty` + `Writeback`: page cache waiting for the disk.
    pub dirty_bytes: u64,
    /// `SwapTotal` (0: no swap, the usual on a kubelet node).
    pub swap_total_bytes: u64,
    /// `SwapFree`.
    pub swap_free_bytes: u64,
    /// `Committed_AS`: memory promised to processes.
    pub committed_bytes: u64,
    /// `CommitLimit`: the limit under strict overcommit (`vm.overcommit_memory=2`).
    pub commit_limit_bytes: u64,
    /// `HugePages_Total` × `Hugepagesize`: RAM reserved for huge pages, out of normal use.
    pub hugepages_bytes: u64,
    /// Kernel OOM kills since boot (`oom_kill` in /proc/vmstat), when the kernel reports it.
    pub oom_kills: Option<u64>,
    /// Share of the last 10 s in which some task stalled on memory (PSI `some avg10`), percent.
    pub pressure_some_avg10: Option<f64>,
    /// Share of the last 10 s in which all non-idle tasks stalled on memory (PSI `full avg10`).
    pub pressure_full_avg10: Option<f64>,
}

impl MemoryFacts {
    /// Fraction of RAM available, 0.0 when the total is unknown.
    pub fn available_ratio(&self) -> f64 {
        ratio(self.available_bytes, self.total_bytes)
    }

    /// Swap in use.
    pub fn swap_used_bytes(&self) -> u64 {
        self.swap_total_bytes.saturating_sub(self.swap_free_bytes)
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn facts_written_before_the_memory_section_still_load() {
        let old = r#"{"node":"n1","iptablesRules":31250,"load":{"load1":2.5,"cores":4}}"#;
        let f: NodeFacts = serde_json::from_str(old).unwrap();
        assert_eq!(f.iptables_rules, Some(31_250));
        assert_eq!(f.memory, None);
        // A partial memory section (an agent that could not read every field) loads too.
        let partial = r#"{"node":"n1","memory":{"totalBytes":1024,"availableBytes":10}}"#;
        let f: NodeFacts = serde_json::from_str(partial).unwrap();
        let m = f.memory.unwrap();
        assert_eq!(m.oom_kills, None);
        assert!((m.available_ratio() - 10.0 / 1024.0).abs() < 1e-9);
    }
}
