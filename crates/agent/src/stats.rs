//! system-stats: NPD's metric ids as Prometheus samples, and kubemedic's node facts.
//!
//! Everything is read from text files under a configurable `/proc` and `/sys` (the host's, mounted
//! into the DaemonSet) plus `statvfs` on the configured directories, `iptables-save` when present
//! and `adjtimex` for the clock. Each sample is best effort: a file that cannot be read leaves its
//! metric or fact out and the rest is still reported.

use crate::health::SourceHealth;
use crate::hostroot::{self, HostRoot};
use crate::state::{AgentState, StatSample};
use jiff::Timestamp;
use kubemedic_detect::SystemStatsMonitorConfig;
use kubemedic_model::facts::{
    BlockDeviceFacts, BuddyZone, ConntrackFacts, DiskFacts, DiskPurpose, LoadFacts, MemoryFacts,
    NodeFacts, NtpFacts, TcpFacts,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where to read from and how often.
#[derive(Debug, Clone)]
pub struct StatsOptions {
    /// The /proc to read (`--host-proc`).
    pub proc: PathBuf,
    /// The /sys to read (`--host-sys`).
    pub sys: PathBuf,
    /// Directories whose filesystem usage is a fact (kubelet, runtime, root, logs).
    pub disk_paths: Vec<(PathBuf, DiskPurpose)>,
    /// `iptables-save` to count rules with; `None` skips the fact.
    pub iptables_save: Option<PathBuf>,
    /// How often facts are collected (stats use their config's `invokeInterval`).
    pub facts_interval: Duration,
    /// The host's root filesystem (`--host-root`): `iptables-save` and the journald monitors'
    /// `journalctl` run chrooted into it and `disk_paths` are looked up under it.
    pub host_root: Option<HostRoot>,
}

impl Default for StatsOptions {
    fn default() -> Self {
        Self {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
            disk_paths: default_disk_paths(),
            iptables_save: Some(PathBuf::from("iptables-save")),
            facts_interval: Duration::from_secs(60),
            host_root: None,
        }
    }
}

/// kubelet, runtime, root and log directories.
pub fn default_disk_paths() -> Vec<(PathBuf, DiskPurpose)> {
    vec![
        ("/var/lib/kubelet".into(), DiskPurpose::Kubelet),
        ("/var/lib/containerd".into(), DiskPurpose::Runtime),
        ("/var/lib/docker".into(), DiskPurpose::Runtime),
        ("/".into(), DiskPurpose::Root),
        ("/var/log".into(), DiskPurpose::Logs),
    ]
}

/// Counters remembered between samples to compute rates.
#[derive(Debug, Default)]
pub struct Previous {
    cpu: Option<(Vec<u64>, Instant)>,
    diskstats: BTreeMap<String, (u64, Instant)>,
    listen_drops: Option<u64>,
    /// Weighted IO ms per device at the previous stats collection, for NPD's avg_queue_len.
    weighted_io: BTreeMap<String, (u64, Instant)>,
}

/// Runs the stats and facts loop until the process ends.
pub async fn run(
    options: StatsOptions,
    configs: Vec<SystemStatsMonitorConfig>,
    state: AgentState,
    health: Arc<SourceHealth>,
) {
    let interval = configs
        .iter()
        .map(|c| c.invoke_interval)
        .filter(|d| !d.is_zero())
        .min()
        .unwrap_or(options.facts_interval)
        .min(options.facts_interval)
        .max(Duration::from_secs(1));
    let display: BTreeMap<String, String> = configs
        .iter()
        .flat_map(|c| {
            [
                &c.cpu.metrics_configs,
                &c.disk.metrics_configs,
                &c.host.metrics_configs,
                &c.memory.metrics_configs,
                &c.os_feature.metrics_configs,
                &c.net.metrics_configs,
            ]
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.display_name.clone())))
        })
        .collect();
    let wanted: BTreeSet<String> = display.keys().cloned().collect();
    let mut previous = Previous::default();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut proc_missing: Option<String> = None;
    loop {
        tick.tick().await;
        // A --host-proc that is not a /proc (a DaemonSet without the host mount) would give
        // facts and stats that are all absent under an "ok" source: say so instead, once, and
        // publish nothing until it is there.
        match proc_problem(&options.proc) {
            Some(problem) => {
                if proc_missing.as_deref() != Some(problem.as_str()) {
                    tracing::error!(
                        source = health.name(),
                        problem,
                        "node facts and system stats are not collected"
                    );
                    proc_missing = Some(problem.clone());
                }
                health.error(problem);
                continue;
            }
            None => {
                if proc_missing.take().is_some() {
                    tracing::info!(source = health.name(), proc = %options.proc.display(), "the host's /proc is readable again");
                }
                health.ok();
            }
        }
        let node = state.read(|s| s.node.clone());
        let opts = options.clone();
        let iptables = match &opts.iptables_save {
            Some(cmd) => count_iptables_rules(cmd, opts.host_root.as_ref()).await,
            None => None,
        };
        let mut facts = collect_facts(&opts, &node, &mut previous);
        facts.iptables_rules = iptables;
        let samples = if wanted.is_empty() {
            Vec::new()
        } else {
            collect_stats(&opts, &wanted, &display, &facts, &mut previous)
        };
        health.line();
        state.write(|s| {
            s.facts = facts;
            s.stats = samples;
        });
    }
}

/// Why `proc` is not a usable /proc, if it is not: its `stat` must read like the kernel's.
pub fn proc_problem(proc: &Path) -> Option<String> {
    let stat = proc.join("stat");
    match std::fs::read_to_string(&stat) {
        Ok(text) if text.starts_with("cpu") => None,
        Ok(_) => Some(format!(
            "--host-proc {}: {} is not the kernel's /proc/stat",
            proc.display(),
            stat.display()
        )),
        Err(err) => Some(format!(
            "--host-proc {}: cannot read {}: {err} (is the host's /proc mounted there?)",
            proc.display(),
            stat.display()
        )),
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn read_u64(path: &Path) -> Option<u64> {
    read(path)?.trim().parse().ok()
}

/// Collects the node facts (everything but the iptables count, which runs a process).
pub fn collect_facts(options: &StatsOptions, node: &str, previous: &mut Previous) -> NodeFacts {
    let proc = &options.proc;
    let conntrack = match (
        read_u64(&proc.join("sys/net/netfilter/nf_conntrack_count")),
        read_u64(&proc.join("sys/net/netfilter/nf_conntrack_max")),
    ) {
        (Some(count), Some(max)) => Some(ConntrackFacts { count, max }),
        _ => None,
    };
    let buddyinfo = read(&proc.join("buddyinfo"))
        .map(|t| parse_buddyinfo(&t))
        .unwrap_or_default();
    let load = collect_load(proc, previous);
    let memory = read(&proc.join("meminfo")).and_then(|m| {
        let mut facts = parse_meminfo(&m)?;
        facts.oom_kills = read(&proc.join("vmstat")).and_then(|v| {
            v.lines()
                .find_map(|l| l.strip_prefix("oom_kill "))
                .and_then(|n| n.trim().parse().ok())
        });
        if let Some(psi) = read(&proc.join("pressure/memory")) {
            (facts.pressure_some_avg10, facts.pressure_full_avg10) = parse_pressure_avg10(&psi);
        }
        Some(facts)
    });
    let tcp = read(&proc.join("net/netstat")).and_then(|t| {
        let ext = parse_netstat(&t).remove("TcpExt")?;
        let listen_drops = *ext.get("ListenDrops").unwrap_or(&0);
        let delta = previous
            .listen_drops
            .map(|p| listen_drops.saturating_sub(p));
        previous.listen_drops = Some(listen_drops);
        Some(TcpFacts {
            listen_drops,
            listen_overflows: *ext.get("ListenOverflows").unwrap_or(&0),
            backlog_drops: *ext.get("TCPBacklogDrop").unwrap_or(&0),
            listen_drops_delta: delta,
        })
    });
    let disks = options
        .disk_paths
        .iter()
        .filter_map(|(path, purpose)| disk_facts(path, *purpose, options.host_root.as_ref()))
        .collect();
    let block_devices = collect_block_util(proc, previous);
    NodeFacts {
        node: node.to_string(),
        collected_at: Some(Timestamp::now()),
        iptables_rules: None,
        conntrack,
        buddyinfo,
        load,
        memory,
        tcp,
        disks,
        block_devices,
        ntp: ntp_state(),
        // The prober keeps its own results; /facts merges them in.
        probes: None,
    }
}

/// Parses /proc/meminfo (values in kB) into the memory facts; `None` without `MemTotal`.
pub fn parse_meminfo(text: &str) -> Option<MemoryFacts> {
    let m: BTreeMap<&str, u64> = text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let mut f = v.split_whitespace();
            let n: u64 = f.next()?.parse().ok()?;
            // Sizes carry "kB"; the HugePages_* counts carry no unit.
            let scale = if f.next() == Some("kB") { 1024 } else { 1 };
            Some((k.trim(), n.saturating_mul(scale)))
        })
        .collect();
    let g = |k: &str| m.get(k).copied().unwrap_or(0);
    let total = *m.get("MemTotal")?;
    Some(MemoryFacts {
        total_bytes: total,
        // Kernels before 3.14 have no MemAvailable: approximate it as free + buffers + cache.
        available_bytes: m
            .get("MemAvailable")
            .copied()
            .unwrap_or_else(|| g("MemFree") + g("Buffers") + g("Cached")),
        free_bytes: g("MemFree"),
        buffers_bytes: g("Buffers"),
        cached_bytes: g("Cached"),
        anon_bytes: g("AnonPages"),
        shmem_bytes: g("Shmem"),
        slab_reclaimable_bytes: g("SReclaimable"),
        slab_unreclaimable_bytes: g("SUnreclaim"),
        kernel_bytes: g("KernelStack") + g("PageTables"),
        dirty_bytes: g("Dirty") + g("Writeback"),
        swap_total_bytes: g("SwapTotal"),
        swap_free_bytes: g("SwapFree"),
        committed_bytes: g("Committed_AS"),
        commit_limit_bytes: g("CommitLimit"),
        hugepages_bytes: g("HugePages_Total").saturating_mul(g("Hugepagesize")),
        oom_kills: None,
        pressure_some_avg10: None,
        pressure_full_avg10: None,
    })
}

/// The `avg10` of the `some` and `full` lines of a PSI file (/proc/pressure/memory).
pub fn parse_pressure_avg10(text: &str) -> (Option<f64>, Option<f64>) {
    let avg10 = |kind: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(kind)?.strip_prefix(' '))
            .and_then(|rest| {
                rest.split_whitespace()
                    .find_map(|f| f.strip_prefix("avg10="))
                    .and_then(|v| v.parse().ok())
            })
    };
    (avg10("some"), avg10("full"))
}

/// Parses /proc/buddyinfo.
pub fn parse_buddyinfo(text: &str) -> Vec<BuddyZone> {
    text.lines()
        .filter_map(|line| {
            // "Node 0, zone   Normal   12 5 ..."
            let (node_part, rest) = line.split_once(',')?;
            let numa_node = node_part.trim().strip_prefix("Node")?.trim().parse().ok()?;
            let mut fields = rest.split_whitespace();
            if fields.next()? != "zone" {
                return None;
            }
            let zone = fields.next()?.to_string();
            let free_blocks = fields.filter_map(|f| f.parse().ok()).collect();
            Some(BuddyZone {
                numa_node,
                zone,
                free_blocks,
            })
        })
        .collect()
}

/// Parses /proc/net/netstat (or snmp): header line and value line per prefix.
pub fn parse_netstat(text: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [header, values] = pair else { continue };
        let (Some((prefix, names)), Some((_, nums))) =
            (header.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        let map = names
            .split_whitespace()
            .zip(nums.split_whitespace())
            .filter_map(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
            .collect();
        out.insert(prefix.to_string(), map);
    }
    out
}

fn collect_load(proc: &Path, previous: &mut Previous) -> Option<LoadFacts> {
    let loadavg = read(&proc.join("loadavg"))?;
    let mut f = loadavg.split_whitespace();
    let load1 = f.next()?.parse().ok()?;
    let load5 = f.next()?.parse().ok()?;
    let load15 = f.next()?.parse().ok()?;
    let stat = read(&proc.join("stat"))?;
    let cores = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count() as u32;
    let procs_blocked = stat
        .lines()
        .find_map(|l| l.strip_prefix("procs_blocked "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let cpu: Vec<u64> = stat
        .lines()
        .find_map(|l| l.strip_prefix("cpu "))?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let now = Instant::now();
    let (mut iowait, mut user, mut system) = (0.0, 0.0, 0.0);
    if let Some((prev, _)) = &previous.cpu {
        let delta: Vec<u64> = cpu
            .iter()
            .zip(prev.iter())
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let total: u64 = delta.iter().take(8).sum();
        if total > 0 {
            let pct = |i: usize| delta.get(i).copied().unwrap_or(0) as f64 * 100.0 / total as f64;
            user = pct(0) + pct(1);
            system = pct(2);
            iowait = pct(4);
        }
    }
    previous.cpu = Some((cpu, now));
    Some(LoadFacts {
        load1,
        load5,
        load15,
        cores,
        iowait_percent: iowait,
        user_percent: user,
        system_percent: system,
        procs_blocked,
    })
}

fn collect_block_util(proc: &Path, previous: &mut Previous) -> Vec<BlockDeviceFacts> {
    let Some(text) = read(&proc.join("diskstats")) else {
        return Vec::new();
    };
    let now = Instant::now();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 || skip_device(f[2]) {
            continue;
        }
        let device = f[2].to_string();
        let io_ms: u64 = f[12].parse().unwrap_or(0);
        if let Some((prev_ms, at)) = previous.diskstats.get(&device) {
            let wall = now.duration_since(*at).as_millis() as f64;
            if wall > 0.0 {
                out.push(BlockDeviceFacts {
                    device: device.clone(),
                    util_percent: (io_ms.saturating_sub(*prev_ms) as f64 * 100.0 / wall).min(100.0),
                });
            }
        }
        previous.diskstats.insert(device, (io_ms, now));
    }
    out
}

fn skip_device(name: &str) -> bool {
    name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram")
}

/// Disk and inode use of the filesystem holding `path` (a host path, looked up under `root`).
fn disk_facts(path: &Path, purpose: DiskPurpose, root: Option<&HostRoot>) -> Option<DiskFacts> {
    let st = match root {
        Some(root) => rustix::fs::statvfs(root.resolve(path)).ok()?,
        None => rustix::fs::statvfs(path).ok()?,
    };
    let frsize = if st.f_frsize > 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    let bytes_total = st.f_blocks.saturating_mul(frsize);
    let bytes_used = st
        .f_blocks
        .saturating_sub(st.f_bfree)
        .saturating_mul(frsize);
    Some(DiskFacts {
        path: path.display().to_string(),
        purpose,
        bytes_total,
        bytes_used,
        inodes_total: st.f_files,
        inodes_used: st.f_files.saturating_sub(st.f_ffree),
        read_only: st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
    })
}

/// Counts `-A` rules in `iptables-save` output (all tables), run chrooted into `root` when
/// given. `None` when it cannot run.
pub async fn count_iptables_rules(cmd: &Path, root: Option<&HostRoot>) -> Option<u64> {
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        hostroot::command(cmd, root)
            .ok()?
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(
        output
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"-A "))
            .count() as u64,
    )
}

/// Clock synchronisation from the kernel (adjtimex read-only query).
pub fn ntp_state() -> Option<NtpFacts> {
    let (status, maxerror_us) = adjtimex::query()?;
    Some(NtpFacts {
        synchronized: status & libc::STA_UNSYNC == 0,
        max_error_seconds: Some(maxerror_us as f64 / 1e6),
    })
}

mod adjtimex {
    /// Reads the kernel clock status (`adjtimex` with `modes = 0` changes nothing).
    /// Returns (status bits, maxerror in microseconds).
    #[allow(unsafe_code)]
    pub fn query() -> Option<(i32, i64)> {
        // SAFETY: `timex` is plain data, zero is a valid value for every field, and with
        // `modes == 0` the kernel only writes into the struct we own.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `tx` is a valid, exclusively borrowed `timex` for the duration of the call.
        let rc = unsafe { libc::adjtimex(&mut tx) };
        if rc < 0 {
            None
        } else {
            Some((tx.status, tx.maxerror))
        }
    }
}

/// Builds the NPD metric samples that `wanted` (metric ids from the configs) asks for.
pub fn collect_stats(
    options: &StatsOptions,
    wanted: &BTreeSet<String>,
    display: &BTreeMap<String, String>,
    facts: &NodeFacts,
    previous: &mut Previous,
) -> Vec<StatSample> {
    let proc = &options.proc;
    let mut out = Vec::new();
    let mut push =
        |id: &str, help: &'static str, counter: bool, labels: Vec<(&str, String)>, value: f64| {
            if !wanted.contains(id) {
                return;
            }
            let name = display
                .get(id)
                .map(String::as_str)
                .unwrap_or(id)
                .replace(['/', '.', '-'], "_");
            out.push(StatSample {
                name,
                help,
                counter,
                labels: labels
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                value,
            });
        };
    if let Some(l) = &facts.load {
        push(
            "cpu/load_1m",
            "CPU average load (1m)",
            false,
            vec![],
            l.load1,
        );
        push(
            "cpu/load_5m",
            "CPU average load (5m)",
            false,
            vec![],
            l.load5,
        );
        push(
            "cpu/load_15m",
            "CPU average load (15m)",
            false,
            vec![],
            l.load15,
        );
        push(
            "system/procs_blocked",
            "Number of processes currently blocked.",
            false,
            vec![],
            l.procs_blocked as f64,
        );
    }
    if let Some(l) = &facts.load {
        // NPD records the 1-minute load average under this name (not the instantaneous count).
        push(
            "cpu/runnable_task_count",
            "The average number of runnable tasks in the run-queue during the last minute",
            false,
            vec![],
            l.load1,
        );
    }
    // USER_HZ is 100 on every Linux architecture Kubernetes runs on.
    const USER_HZ: f64 = 100.0;
    const STATES: [&str; 10] = [
        "user",
        "nice",
        "system",
        "idle",
        "iowait",
        "irq",
        "softirq",
        "steal",
        "guest",
        "guest_nice",
    ];
    // NPD spells the per-cpu stages differently from the total's states.
    const STAGES: [&str; 10] = [
        "user",
        "nice",
        "system",
        "idle",
        "iowait",
        "iRQ",
        "softIRQ",
        "steal",
        "guest",
        "guestNice",
    ];
    if let Some(stat) = read(&proc.join("stat")) {
        for line in stat.lines() {
            let mut f = line.split_whitespace();
            let Some(key) = f.next() else { continue };
            let nums: Vec<u64> = f.filter_map(|v| v.parse().ok()).collect();
            if key == "cpu" {
                for (i, state) in STATES.iter().enumerate() {
                    if let Some(v) = nums.get(i) {
                        // NPD's help says seconds, but it records USER_HZ ticks (seconds x 100).
                        push(
                            "cpu/usage_time",
                            "CPU usage, in seconds",
                            true,
                            vec![("state", state.to_string())],
                            *v as f64,
                        );
                    }
                }
            } else if let Some(n) = key.strip_prefix("cpu") {
                for (i, stage) in STAGES.iter().enumerate() {
                    if let Some(v) = nums.get(i) {
                        push(
                            "system/cpu_stat",
                            "Cumulative time each cpu spent in various stages.",
                            true,
                            vec![("cpu", format!("cpu{n}")), ("stage", stage.to_string())],
                            *v as f64 / USER_HZ,
                        );
                    }
                }
            } else if key == "intr" {
                if let Some(v) = nums.first() {
                    push(
                        "system/interrupts_total",
                        "Total number of interrupts serviced (cumulative).",
                        true,
                        vec![],
                        *v as f64,
                    );
                }
            } else if key == "processes" {
                if let Some(v) = nums.first() {
                    push(
                        "system/processes_total",
                        "Number of forks since boot.",
                        true,
                        vec![],
                        *v as f64,
                    );
                }
            } else if key == "procs_running"
                && let Some(v) = nums.first()
            {
                push(
                    "system/procs_running",
                    "Number of processes currently running.",
                    false,
                    vec![],
                    *v as f64,
                );
            }
        }
    }
    if let Some(text) = read(&proc.join("diskstats")) {
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 14 || skip_device(f[2]) {
                continue;
            }
            let dev = f[2].to_string();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            let d = |dir: &str| vec![("device_name", dev.clone()), ("direction", dir.to_string())];
            push(
                "disk/operation_count",
                "Disk operations count",
                true,
                d("read"),
                n(3),
            );
            push(
                "disk/operation_count",
                "Disk operations count",
                true,
                d("write"),
                n(7),
            );
            push(
                "disk/merged_operation_count",
                "Disk merged operations count",
                true,
                d("read"),
                n(4),
            );
            push(
                "disk/merged_operation_count",
                "Disk merged operations count",
                true,
                d("write"),
                n(8),
            );
            push(
                "disk/operation_bytes_count",
                "Bytes transferred in disk operations",
                true,
                d("read"),
                n(5) * 512.0,
            );
            push(
                "disk/operation_bytes_count",
                "Bytes transferred in disk operations",
                true,
                d("write"),
                n(9) * 512.0,
            );
            push(
                "disk/operation_time",
                "Time spent in disk operations, in ms",
                true,
                d("read"),
                n(6),
            );
            push(
                "disk/operation_time",
                "Time spent in disk operations, in ms",
                true,
                d("write"),
                n(10),
            );
            push(
                "disk/io_time",
                "The IO time spent on the disk, in ms",
                true,
                vec![("device_name", dev.clone())],
                n(12),
            );
            push(
                "disk/weighted_io",
                "The weighted IO on the disk, in ms",
                true,
                vec![("device_name", dev.clone())],
                n(13),
            );
            // As NPD: weighted IO ms since the previous collection per elapsed ms; nothing
            // on the first collection.
            let weighted = n(13) as u64;
            let now = Instant::now();
            if let Some((last, at)) = previous.weighted_io.insert(dev.clone(), (weighted, now)) {
                let elapsed_ms = now.duration_since(at).as_secs_f64() * 1000.0;
                let queue = if weighted != last && elapsed_ms > 0.0 {
                    weighted.saturating_sub(last) as f64 / elapsed_ms
                } else {
                    0.0
                };
                push(
                    "disk/avg_queue_len",
                    "The average queue length on the disk",
                    false,
                    vec![("device_name", dev.clone())],
                    queue,
                );
            }
        }
    }
    // As NPD (gopsutil): /proc/1/mountinfo, the per-mount options (not the superblock's), plus
    // "bind" for a mount of a subdirectory; one row per device.
    let mountinfo = read(&proc.join("1/mountinfo")).or_else(|| read(&proc.join("self/mountinfo")));
    if let Some(mountinfo) = mountinfo {
        let mut seen = BTreeSet::new();
        for line in mountinfo.lines() {
            let Some(mount) = parse_mountinfo_line(line) else {
                continue;
            };
            if !mount.device.starts_with("/dev/") || !seen.insert(mount.device.clone()) {
                continue;
            }
            let f = [
                mount.device.as_str(),
                mount.mount_point.as_str(),
                mount.fs_type.as_str(),
                mount.options.as_str(),
            ];
            let Ok(st) = rustix::fs::statvfs(f[1]) else {
                continue;
            };
            let frsize = st.f_frsize.max(1) as f64;
            let used = st.f_blocks.saturating_sub(st.f_bfree) as f64 * frsize;
            let free = st.f_bavail as f64 * frsize;
            let dev = f[0].trim_start_matches("/dev/").to_string();
            let base = |state: &str| {
                vec![
                    ("device_name", dev.clone()),
                    ("fs_type", f[2].to_string()),
                    ("mount_option", f[3].to_string()),
                    ("state", state.to_string()),
                ]
            };
            push(
                "disk/bytes_used",
                "Disk bytes used, in Bytes",
                false,
                base("used"),
                used,
            );
            let device = vec![("device_name", dev.clone())];
            push(
                "disk/bytes_used",
                "Disk bytes used, in Bytes",
                false,
                base("free"),
                free,
            );
            if used + free > 0.0 {
                push(
                    "disk/percent_used",
                    "Disk usage in percentage of total space",
                    false,
                    device,
                    used * 100.0 / (used + free),
                );
            }
        }
    }
    if let Some(up) = uptime_seconds(proc) {
        let kernel = read(&proc.join("sys/kernel/osrelease"))
            .unwrap_or_default()
            .trim()
            .to_string();
        push(
            "host/uptime",
            "The uptime of the operating system",
            false,
            vec![("kernel_version", kernel), ("os_version", os_version())],
            up,
        );
    }
    if let Some(meminfo) = read(&proc.join("meminfo")) {
        let m: BTreeMap<&str, f64> = meminfo
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let kb: f64 = v.split_whitespace().next()?.parse().ok()?;
                Some((k, kb * 1024.0))
            })
            .collect();
        let g = |k: &str| m.get(k).copied().unwrap_or(0.0);
        let total = g("MemTotal");
        let free = g("MemFree");
        let buffers = g("Buffers");
        // As NPD: "used" excludes buffers, page cache and all of slab (reported as "slab").
        let cached = g("Cached");
        let slab = g("Slab");
        let used = (total - free - buffers - cached - slab).max(0.0);
        let s = |v: &str| vec![("state", v.to_string())];
        push(
            "memory/bytes_used",
            "Memory usage by each memory state, in Bytes",
            false,
            s("free"),
            free,
        );
        push(
            "memory/bytes_used",
            "Memory usage by each memory state, in Bytes",
            false,
            s("used"),
            used,
        );
        push(
            "memory/bytes_used",
            "Memory usage by each memory state, in Bytes",
            false,
            s("buffered"),
            buffers,
        );
        push(
            "memory/bytes_used",
            "Memory usage by each memory state, in Bytes",
            false,
            s("cached"),
            cached,
        );
        push(
            "memory/bytes_used",
            "Memory usage by each memory state, in Bytes",
            false,
            s("slab"),
            slab,
        );
        push(
            "memory/anonymous_used",
            "Anonymous memory usage, in Bytes",
            false,
            s("active"),
            g("Active(anon)"),
        );
        push(
            "memory/anonymous_used",
            "Anonymous memory usage, in Bytes",
            false,
            s("inactive"),
            g("Inactive(anon)"),
        );
        push(
            "memory/page_cache_used",
            "Page cache memory usage, in Bytes",
            false,
            s("active"),
            g("Active(file)"),
        );
        push(
            "memory/page_cache_used",
            "Page cache memory usage, in Bytes",
            false,
            s("inactive"),
            g("Inactive(file)"),
        );
        push(
            "memory/unevictable_used",
            "Unevictable memory usage, in Bytes",
            false,
            vec![],
            g("Unevictable"),
        );
        push(
            "memory/dirty_used",
            "Dirty pages usage, in Bytes",
            false,
            s("dirty"),
            g("Dirty"),
        );
        push(
            "memory/dirty_used",
            "Dirty pages usage, in Bytes",
            false,
            s("writeback"),
            g("Writeback"),
        );
        if total > 0.0 {
            push(
                "memory/percent_used",
                "Memory usage in percentage of total memory.",
                false,
                s("used"),
                used * 100.0 / total,
            );
        }
    }
    // os_feature (best effort): the cgroup version and whether the kernel is tainted.
    let cgroup = if options.sys.join("fs/cgroup/cgroup.controllers").exists() {
        "cgroupv2"
    } else {
        "cgroupv1"
    };
    push(
        "system/os_feature",
        "OS features like GPU support, KTD kernel, third party modules as unknown modules",
        false,
        vec![("os_feature", "Cgroups".into()), ("value", cgroup.into())],
        1.0,
    );
    if let Some(tainted) = read_u64(&proc.join("sys/kernel/tainted")) {
        push(
            "system/os_feature",
            "OS features like GPU support, KTD kernel, third party modules as unknown modules",
            false,
            vec![
                ("os_feature", "KernelTainted".into()),
                ("value", tainted.to_string()),
            ],
            1.0,
        );
    }
    out
}

fn uptime_seconds(proc: &Path) -> Option<f64> {
    read(&proc.join("uptime"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn os_version() -> String {
    let text = read(Path::new("/etc/os-release")).unwrap_or_default();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    // As NPD (pkg/util getOSVersion): "ID VERSION" ("debian 12 (bookworm)"), COS adds its build.
    let id = field("ID");
    let version = if id == "cos" {
        format!("{}-{}", field("VERSION"), field("BUILD_ID"))
    } else {
        field("VERSION")
    };
    format!("{id} {version}").trim().to_string()
}

/// One mount of /proc/<pid>/mountinfo, as NPD (gopsutil) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Mount source (`/dev/vda1`).
    pub device: String,
    /// Where it is mounted, octal escapes undone.
    pub mount_point: String,
    /// Filesystem type.
    pub fs_type: String,
    /// Per-mount options, plus `bind` when a subdirectory is mounted.
    pub options: String,
}

/// Parses one mountinfo line (`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw`).
pub fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split_whitespace().collect();
    let mut right = right.split_whitespace();
    let root = left.get(3)?;
    let mut options = left.get(5)?.to_string();
    if !root.is_empty() && *root != "/" {
        options.push_str(",bind");
    }
    Some(MountInfo {
        fs_type: right.next()?.to_string(),
        device: right.next()?.to_string(),
        mount_point: unescape_octal(left.get(4)?),
        options,
    })
}

/// Undoes the kernel's `\NNN` octal escapes of spaces, tabs, newlines and backslashes.
fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(code) = text
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn buddyinfo_and_netstat() {
        let b = parse_buddyinfo(
            "Node 0, zone      DMA      1      0      1\nNode 0, zone   Normal   120     33      0\n",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].zone, "Normal");
        assert_eq!(b[1].free_blocks, vec![120, 33, 0]);
        let n = parse_netstat(
            "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPBacklogDrop\nTcpExt: 0 5 7 2\nIpExt: InNoRoutes\nIpExt: 0\n",
        );
        assert_eq!(n["TcpExt"]["ListenDrops"], 7);
        assert_eq!(n["TcpExt"]["TCPBacklogDrop"], 2);
    }

    #[test]
    fn mountinfo_options_are_per_mount_and_mark_binds() {
        let m = parse_mountinfo_line(
            "29 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard,resgid=65534",
        )
        .unwrap();
        assert_eq!(
            (
                m.device.as_str(),
                m.mount_point.as_str(),
                m.fs_type.as_str()
            ),
            ("/dev/vda", "/", "ext4")
        );
        assert_eq!(m.options, "rw,relatime");
        let b = parse_mountinfo_line(
            "40 29 254:0 /var/lib/x /mnt/a\\040b ro,nosuid - ext4 /dev/vda rw",
        )
        .unwrap();
        assert_eq!(b.options, "ro,nosuid,bind");
        assert_eq!(b.mount_point, "/mnt/a b");
        assert_eq!(parse_mountinfo_line("garbage"), None);
    }

    #[test]
    fn facts_from_this_host() {
        let mut prev = Previous::default();
        let opts = StatsOptions {
            disk_paths: vec![("/".into(), DiskPurpose::Root)],
            ..Default::default()
        };
        let _ = collect_facts(&opts, "n", &mut prev);
        let f = collect_facts(&opts, "n", &mut prev);
        let load = f.load.unwrap();
        assert!(load.cores >= 1);
        assert_eq!(f.disks.len(), 1);
        assert!(f.disks[0].bytes_total > 0);
        assert!(f.ntp.is_some());
        assert!(!f.buddyinfo.is_empty());
        let mem = f.memory.expect("memory facts from /proc/meminfo");
        assert!(mem.total_bytes > 0);
        assert!(mem.available_bytes <= mem.total_bytes);
        assert!(
            mem.oom_kills.is_some(),
            "this kernel reports oom_kill in /proc/vmstat"
        );
    }

    #[test]
    fn meminfo_of_a_node_near_oom() {
        // A 16 GiB node whose pods ate the memory: little available, no swap, 2 MiB huge pages.
        let m = parse_meminfo(
            "MemTotal:       16384000 kB\nMemFree:          120000 kB\nMemAvailable:     210000 kB\n\
             Buffers:            2048 kB\nCached:           300000 kB\nSwapCached:            0 kB\n\
             AnonPages:      15200000 kB\nShmem:             64000 kB\nSReclaimable:      40000 kB\n\
             SUnreclaim:       180000 kB\nKernelStack:       20000 kB\nPageTables:        60000 kB\n\
             Dirty:               100 kB\nWriteback:             0 kB\nSwapTotal:             0 kB\n\
             SwapFree:              0 kB\nCommitLimit:     8192000 kB\nCommitted_AS:   19000000 kB\n\
             HugePages_Total:      64\nHugePages_Free:       64\nHugepagesize:       2048 kB\n",
        )
        .unwrap();
        assert_eq!(m.total_bytes, 16_384_000 * 1024);
        assert_eq!(m.available_bytes, 210_000 * 1024);
        assert_eq!(m.anon_bytes, 15_200_000 * 1024);
        assert_eq!(m.kernel_bytes, 80_000 * 1024);
        assert_eq!(m.slab_unreclaimable_bytes, 180_000 * 1024);
        assert_eq!(m.committed_bytes, 19_000_000 * 1024);
        assert_eq!(m.hugepages_bytes, 64 * 2048 * 1024);
        assert_eq!(m.swap_used_bytes(), 0);
        assert!(m.available_ratio() < 0.02);
        // An old kernel without MemAvailable: free + buffers + cache.
        let old =
            parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 50 kB\n")
                .unwrap();
        assert_eq!(old.available_bytes, 160 * 1024);
        // Not meminfo at all.
        assert_eq!(parse_meminfo("garbage\n\u{0}\u{fffd}: x kB\n"), None);
        assert_eq!(parse_meminfo(""), None);
    }

    #[test]
    fn memory_pressure() {
        let (some, full) = parse_pressure_avg10(
            "some avg10=12.50 avg60=3.00 avg300=0.80 total=123456\nfull avg10=4.25 avg60=1.00 avg300=0.20 total=6543\n",
        );
        assert_eq!(some, Some(12.5));
        assert_eq!(full, Some(4.25));
        assert_eq!(parse_pressure_avg10("nonsense"), (None, None));
    }
}
