//! kubemedic's embedded default monitors (NPD JSON format), run when no `--config.*` flag is given.
//!
//! They cover the node causes of CAUSES.md: kernel (OOM kills, hung tasks and docker/containerd
//! hangs → `KernelDeadlock`, oops/BUG/general protection fault, ext4/XFS errors, read-only
//! remounts → `ReadonlyFilesystem`, `page allocation failure: order:N` (N ≥ 1) →
//! `MemoryFragmentation` events, conntrack table full → `ConntrackTableFull`, unregister_netdevice),
//! the runtime's journal (xtables lock contention → `IptablesLockContention`, no space left,
//! runtime call timeouts) and the kubelet's (PLEG not healthy and CRI timeouts →
//! `ContainerRuntimeUnresponsive`, the network plugin not ready → `CNIFailure`, container/image
//! GC failures). Conditions heal through
//! `quietPeriod`/`recoveryPattern` (see [`crate::config`]).

/// Which NPD flag a default config belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorKind {
    /// `--config.system-log-monitor`.
    SystemLog,
    /// `--config.custom-plugin-monitor`.
    CustomPlugin,
    /// `--config.system-stats-monitor`.
    SystemStats,
}

/// One embedded default config.
#[derive(Debug, Clone, Copy)]
pub struct DefaultMonitor {
    /// File name, e.g. `kernel-monitor.json` (also the name used in errors).
    pub name: &'static str,
    /// Which kind of monitor it is.
    pub kind: MonitorKind,
    /// The JSON text.
    pub json: &'static str,
}

const DEFAULTS: &[DefaultMonitor] = &[
    DefaultMonitor {
        name: "kernel-monitor.json",
        kind: MonitorKind::SystemLog,
        json: include_str!("../defaults/kernel-monitor.json"),
    },
    DefaultMonitor {
        name: "docker-monitor.json",
        kind: MonitorKind::SystemLog,
        json: include_str!("../defaults/docker-monitor.json"),
    },
    DefaultMonitor {
        name: "containerd-monitor.json",
        kind: MonitorKind::SystemLog,
        json: include_str!("../defaults/containerd-monitor.json"),
    },
    DefaultMonitor {
        name: "kubelet-monitor.json",
        kind: MonitorKind::SystemLog,
        json: include_str!("../defaults/kubelet-monitor.json"),
    },
    DefaultMonitor {
        name: "system-stats-monitor.json",
        kind: MonitorKind::SystemStats,
        json: include_str!("../defaults/system-stats-monitor.json"),
    },
];

/// All embedded default monitors.
pub fn all() -> Vec<DefaultMonitor> {
    DEFAULTS.to_vec()
}

/// The embedded system-log-monitor configs, parsed.
pub fn system_log_monitors() -> Result<Vec<crate::SystemLogMonitorConfig>, crate::ConfigError> {
    DEFAULTS
        .iter()
        .filter(|d| d.kind == MonitorKind::SystemLog)
        .map(|d| crate::config::parse_system_log_monitor(d.name, d.json))
        .collect()
}

/// The embedded system-stats-monitor config, parsed.
pub fn system_stats_monitor() -> Result<crate::SystemStatsMonitorConfig, crate::ConfigError> {
    let d = DEFAULTS
        .iter()
        .find(|d| d.kind == MonitorKind::SystemStats)
        .map_or(("system-stats-monitor.json", "{}"), |d| (d.name, d.json));
    crate::config::parse_system_stats_monitor(d.0, d.1)
}
