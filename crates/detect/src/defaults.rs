//! kubemedic's embedded default monitors (NPD JSON format), run when no `--config.*` flag is given.

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

/// All embedded default monitors.
pub fn all() -> Vec<DefaultMonitor> {
    Vec::new()
}
