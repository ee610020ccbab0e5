//! The agent as a whole: configs in, sources, monitors and exporters started, runs until stopped.

use crate::health::{HealthRegistry, SourceState};
use crate::http;
use crate::k8s::{self, KubeExporterOptions};
use crate::output::{OutputFormat, Printer};
use crate::pipeline::{self, Sinks};
use crate::probes::{self, ProbeOptions, ProbeStartError};
use crate::state::AgentState;
use crate::stats::{self, StatsOptions};
use kubemedic_detect::config::{
    CustomPluginMonitorConfig, SystemLogMonitorConfig, SystemStatsMonitorConfig,
};
use kubemedic_detect::{ConfigError, LogMonitor, NodeConditionSnapshot, PluginMonitor};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The monitors to run, already parsed and validated.
#[derive(Debug, Clone, Default)]
pub struct MonitorSet {
    /// system-log-monitors (kmsg, journald, filelog).
    pub log: Vec<SystemLogMonitorConfig>,
    /// custom-plugin-monitors.
    pub plugin: Vec<CustomPluginMonitorConfig>,
    /// system-stats-monitors.
    pub stats: Vec<SystemStatsMonitorConfig>,
}

/// Everything the agent needs to run.
#[derive(Debug)]
pub struct AgentOptions {
    /// Node name (conditions and events go to this Node).
    pub node_name: String,
    /// Monitors.
    pub monitors: MonitorSet,
    /// Standalone output (`--standalone`); `None` prints nothing.
    pub output: Option<OutputFormat>,
    /// Kubernetes exporter; `None` in standalone mode.
    pub kube: Option<KubeExporterOptions>,
    /// Addresses serving /healthz, /conditions, /facts, /metrics and /logs/<source>.
    pub listen: Vec<SocketAddr>,
    /// Host paths and stats/facts settings.
    pub stats: StatsOptions,
    /// `journalctl` to run for journald monitors.
    pub journalctl: PathBuf,
    /// The network prober (`--probes`); `None` when it does not run.
    pub probes: Option<ProbeOptions>,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A monitor config was refused by the detector.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The network prober could not start.
    #[error("{0}")]
    Probe(#[from] ProbeStartError),
    /// An HTTP listener could not be bound. The OS error is the source, not part of this
    /// message: printed as a chain it would otherwise appear twice.
    #[error("cannot listen on {address}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A running agent's handles, for tests and the binary.
#[derive(Debug, Clone)]
pub struct AgentHandles {
    /// Shared state.
    pub state: AgentState,
    /// Source health.
    pub health: HealthRegistry,
    /// Addresses actually bound (port 0 resolved).
    pub listening: Vec<SocketAddr>,
    /// The prober, when it runs.
    pub probes: Option<kubemedic_probe::ProbeHandle>,
    /// The probe check endpoint's address, when it listens.
    pub probe_listening: Option<SocketAddr>,
}

/// Compiles every monitor (so a bad pattern is refused before anything starts).
pub fn compile(
    monitors: &MonitorSet,
) -> Result<(Vec<LogMonitor>, Vec<PluginMonitor>), ConfigError> {
    let log = monitors
        .log
        .iter()
        .cloned()
        .map(LogMonitor::new)
        .collect::<Result<Vec<_>, _>>()?;
    let plugin = monitors
        .plugin
        .iter()
        .cloned()
        .map(PluginMonitor::new)
        .collect();
    Ok((log, plugin))
}

/// Starts the agent; returns once it is running. It stops when `shutdown` completes (the
/// returned future resolves then).
pub async fn start(
    options: AgentOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(AgentHandles, impl Future<Output = ()>), AgentError> {
    let (log_monitors, plugin_monitors) = compile(&options.monitors)?;
    let health = HealthRegistry::default();
    let state = AgentState::new(&options.node_name);

    // Bind the listeners first: a port clash is a start error, not a background warning.
    let mut listeners = Vec::new();
    let mut listening = Vec::new();
    for address in &options.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| AgentError::Listen {
                address: *address,
                source,
            })?;
        listening.push(listener.local_addr().unwrap_or(*address));
        listeners.push(listener);
    }

    // Restart safety: learn what the Node says before the monitors set their initial state.
    let mut owned_types: Vec<String> = options
        .monitors
        .log
        .iter()
        .flat_map(|m| m.conditions.iter().map(|c| c.condition_type.clone()))
        .chain(
            options
                .monitors
                .plugin
                .iter()
                .flat_map(|m| m.conditions.iter().map(|c| c.condition_type.clone())),
        )
        .collect();
    if options.probes.is_some() {
        owned_types.push(kubemedic_probe::POD_NETWORK_CONDITION.to_string());
    }
    let node_conditions: Vec<NodeConditionSnapshot> = match &options.kube {
        Some(kube) => k8s::read_node_conditions(kube, &options.node_name, &owned_types).await,
        None => Vec::new(),
    };

    let (updates_tx, updates_rx) = mpsc::channel(4096);
    let mut sinks = Sinks {
        printer: options.output.map(Printer::new),
        desired: None,
        events: None,
    };
    // Only an agent that writes to the apiserver has an exporter to report on.
    let exporter_health = options
        .kube
        .is_some()
        .then(|| health.register("kubernetes-exporter", "exporter"));
    if let (Some(kube), Some(exporter_health)) = (options.kube.clone(), &exporter_health) {
        let (desired_tx, desired_rx) = watch::channel(Default::default());
        let (events_tx, events_rx) = mpsc::channel(1024);
        sinks.desired = Some(desired_tx);
        sinks.events = Some(events_tx);
        tokio::spawn(k8s::export(
            kube,
            options.node_name.clone(),
            owned_types.clone(),
            desired_rx,
            events_rx,
            exporter_health.clone(),
        ));
    }
    let dispatcher = tokio::spawn(pipeline::dispatch(
        updates_rx,
        state.clone(),
        sinks,
        exporter_health,
    ));

    let mut monitor_tasks = Vec::new();
    let mut journals = pipeline::JournalGroups::new();
    for monitor in log_monitors {
        let h = pipeline::log_health(&health, monitor.config());
        let lines =
            pipeline::start_log_source(monitor.config(), h.clone(), &mut journals, state.logs());
        let task = tokio::spawn(pipeline::run_log_monitor(
            monitor,
            lines,
            node_conditions.clone(),
            updates_tx.clone(),
        ));
        monitor_tasks.push((h, task));
    }
    pipeline::start_journals(
        journals,
        &options.journalctl,
        options.stats.host_root.as_ref(),
        state.logs(),
    );
    for monitor in plugin_monitors {
        let h = health.register(&monitor.config().source, "custom");
        let task = tokio::spawn(pipeline::run_plugin_monitor(
            monitor,
            node_conditions.clone(),
            updates_tx.clone(),
            h.clone(),
        ));
        monitor_tasks.push((h, task));
    }
    let mut background = Vec::new();
    let (probe_handle, probe_listening) = match options.probes {
        Some(p) => {
            let (metrics_state, metrics_health) = (state.clone(), health.clone());
            let running = probes::start(p, &node_conditions, updates_tx.clone(), &health, |h| {
                http::metrics_router(metrics_state, metrics_health, Some(h))
            })
            .await?;
            background.extend(running.tasks);
            (Some(running.handle), running.listening)
        }
        None => (None, None),
    };
    // Kept only to tell "the agent is stopping" (dispatcher gone) from "a monitor died".
    let updates_alive = updates_tx.clone();
    drop(updates_tx);

    let stats_health = health.register("system-stats-monitor", "system-stats");
    // Supervision: a monitor task that ends while the agent runs (its source is gone for good,
    // or it panicked) marks its source dead, which /healthz reports as 503.
    for (h, task) in monitor_tasks {
        let dispatcher_alive = updates_alive.clone();
        background.push(tokio::spawn(async move {
            let detail = match task.await {
                Ok(()) => "monitor stopped: its source ended".to_string(),
                Err(err) if err.is_panic() => format!("monitor panicked: {err}"),
                Err(err) => format!("monitor task failed: {err}"),
            };
            if !dispatcher_alive.is_closed() {
                tracing::error!(source = h.name(), detail, "monitor is dead");
                h.set(SourceState::Dead(detail));
            }
        }));
    }
    background.push(tokio::spawn(stats::run(
        options.stats.clone(),
        options.monitors.stats.clone(),
        state.clone(),
        stats_health,
    )));

    let app = http::router_with_probes(state.clone(), health.clone(), probe_handle.clone());
    for listener in listeners {
        let app = app.clone();
        background.push(tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "HTTP server stopped");
            }
        }));
    }

    let handles = AgentHandles {
        state,
        health,
        listening,
        probes: probe_handle,
        probe_listening,
    };
    let running = async move {
        shutdown.await;
        // Stopping the dispatcher closes every channel behind it: monitors, sources, plugin
        // schedulers and the Kubernetes exporter end on their own; the rest is aborted.
        dispatcher.abort();
        for task in background {
            task.abort();
        }
        // Give the exporter a moment to write the last state (best effort).
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Ok((handles, running))
}
