//! Wires sources into monitors and monitors into the exporters.
//!
//! Each monitor runs in its own task and owns its detector ([`LogMonitor`] / [`PluginMonitor`]);
//! what it reports goes through one channel to the dispatcher, which updates the shared state and
//! hands reports to the standalone printer and the Kubernetes exporter. Nothing downstream can
//! block a source: the Kubernetes exporter keeps only the latest desired conditions (a `watch`)
//! and a bounded event queue.

use crate::SourceLine;
use crate::health::{HealthRegistry, SourceHealth, SourceState};
use crate::hostroot::HostRoot;
use crate::journald::{self, JournalSubscriber, JournaldOptions};
use crate::kmsg::{self, KmsgOptions};
use crate::nodelogs::{self, NodeLogs};
use crate::output::Printer;
use crate::plugin::{self, PluginJob};
use crate::state::{AgentState, OwnedCondition};
use crate::tail::{self, TailOptions};
use jiff::{SignedDuration, Timestamp};
use kubemedic_detect::config::CustomPluginMonitorConfig;
use kubemedic_detect::filelog::FilelogTranslator;
use kubemedic_detect::golang::TimeContext;
use kubemedic_detect::{
    LogLine, LogMonitor, LogPlugin, NodeConditionSnapshot, PluginMonitor, ProblemEvent,
    ProblemMetrics, Report, SystemLogMonitorConfig, TrackedCondition,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What one monitor reports to the dispatcher.
#[derive(Debug)]
pub struct MonitorUpdate {
    /// Monitor source.
    pub source: String,
    /// New reports, in order.
    pub reports: Vec<Report>,
    /// The monitor's conditions after the reports.
    pub conditions: Vec<TrackedCondition>,
    /// The monitor's problem metrics, when it reports metrics.
    pub metrics: Option<ProblemMetrics>,
}

/// Where the dispatcher sends things.
#[derive(Debug)]
pub struct Sinks {
    /// Standalone printer.
    pub printer: Option<Printer>,
    /// Desired conditions for the Kubernetes exporter.
    pub desired: Option<watch::Sender<BTreeMap<String, TrackedCondition>>>,
    /// Events for the Kubernetes exporter.
    pub events: Option<mpsc::Sender<ProblemEvent>>,
}

/// Applies monitor updates to the state and the sinks until every monitor is gone.
pub async fn dispatch(
    mut updates: mpsc::Receiver<MonitorUpdate>,
    state: AgentState,
    mut sinks: Sinks,
    events_dropped: Option<Arc<SourceHealth>>,
) {
    while let Some(update) = updates.recv().await {
        let conditions_changed = update
            .reports
            .iter()
            .any(|r| matches!(r, Report::Condition(_)));
        let desired = state.write(|s| {
            for condition in &update.conditions {
                s.conditions.insert(
                    condition.condition_type.clone(),
                    OwnedCondition {
                        source: update.source.clone(),
                        condition: condition.clone(),
                    },
                );
            }
            if let Some(metrics) = update.metrics {
                s.problem_metrics.insert(update.source.clone(), metrics);
            }
            s.conditions
                .iter()
                .map(|(k, v)| (k.clone(), v.condition.clone()))
                .collect::<BTreeMap<_, _>>()
        });
        if let Some(printer) = &mut sinks.printer {
            printer.print(&update.reports);
        }
        if let Some(tx) = &sinks.desired
            && (conditions_changed || tx.borrow().len() != desired.len())
        {
            tx.send_replace(desired);
        }
        if let Some(tx) = &sinks.events {
            for report in &update.reports {
                if let Report::Event(event) = report
                    && tx.try_send(event.clone()).is_err()
                    && let Some(h) = &events_dropped
                {
                    h.dropped(1);
                }
            }
        }
    }
}

/// Runs one log monitor over lines from `lines` (kmsg/journald/filelog are all turned into
/// [`SourceLine`]s before this point).
pub async fn run_log_monitor(
    mut monitor: LogMonitor,
    mut lines: mpsc::Receiver<SourceLine>,
    node_conditions: Vec<NodeConditionSnapshot>,
    updates: mpsc::Sender<MonitorUpdate>,
) {
    let source = monitor.config().source.clone();
    let trim = monitor.config().plugin.trims_messages();
    let reporting = monitor.config().metrics_reporting;
    let initial = monitor.start(Timestamp::now(), &node_conditions, Some(kmsg::boot_time()));
    let send = |monitor: &LogMonitor, reports: Vec<Report>| MonitorUpdate {
        source: source.clone(),
        reports,
        conditions: monitor.conditions().to_vec(),
        metrics: reporting.then(|| monitor.metrics().clone()),
    };
    if updates.send(send(&monitor, initial)).await.is_err() {
        return;
    }
    // Ticks only drive quiet periods (minutes long): a coarse tick keeps idle wake-ups rare.
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out = Vec::new();
    loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(line) = line else { return };
                let mut next = Some(line);
                // Batch what is already queued: one update per burst, not per line.
                let mut budget = 1024;
                while let Some(line) = next.take() {
                    let message = if trim { line.message.trim() } else { line.message.as_str() };
                    monitor.process(LogLine { timestamp: line.timestamp, message }, &mut out);
                    budget -= 1;
                    if budget > 0 {
                        next = lines.try_recv().ok();
                    }
                }
            }
            _ = tick.tick() => {
                monitor.tick(Timestamp::now(), &mut out);
            }
        }
        if !out.is_empty()
            && updates
                .send(send(&monitor, std::mem::take(&mut out)))
                .await
                .is_err()
        {
            return;
        }
    }
}

/// Starts the source of a log monitor and returns the receiver of its lines. The lines it reads
/// are also kept in `logs` (kmsg as `kernel`, a file by its name; journald lines are kept by
/// [`start_journals`]).
pub fn start_log_source(
    config: &SystemLogMonitorConfig,
    health: Arc<SourceHealth>,
    journals: &mut JournalGroups,
    logs: &NodeLogs,
) -> mpsc::Receiver<SourceLine> {
    let (tx, rx) = mpsc::channel(16 * 1024);
    let lookback = (!config.lookback.is_zero()).then_some(config.lookback);
    match config.plugin {
        LogPlugin::Kmsg => {
            let path = if config.log_path.is_empty() {
                PathBuf::from("/dev/kmsg")
            } else {
                PathBuf::from(&config.log_path)
            };
            let tx = if logs.claim(&format!("kmsg:{}", path.display())) {
                record_kmsg(tx, logs.clone())
            } else {
                tx
            };
            tokio::spawn(keep_kmsg_reader(KmsgOptions { path, lookback }, tx, health));
        }
        LogPlugin::Journald => {
            let directory = (!config.log_path.is_empty()).then(|| PathBuf::from(&config.log_path));
            let directory = match directory {
                Some(dir) if !dir.exists() => {
                    tracing::warn!(source = %config.source, path = %dir.display(), "journal directory does not exist; reading the system journal instead");
                    None
                }
                other => other,
            };
            let group = journals.entry(directory).or_default();
            group.lookback = match (group.lookback, lookback) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            group.subscribers.push(JournalSubscriber {
                identifier: config.journald_source().map(str::to_string),
                cutoff: Some(cutoff_for(lookback)),
                tx,
                health,
            });
        }
        LogPlugin::Filelog => {
            let translator = match FilelogTranslator::new(config) {
                Ok(t) => t,
                Err(err) => {
                    // Validated at start; reaching here means the detector refused it late.
                    health.set(SourceState::Dead(err.to_string()));
                    return rx;
                }
            };
            let options = TailOptions {
                from_start: lookback.is_some(),
                ..TailOptions::new(&config.log_path)
            };
            let skip_list = config.skip_list.clone();
            let path = PathBuf::from(&config.log_path);
            let record = logs
                .claim(&format!("file:{}", path.display()))
                .then(|| (logs.clone(), nodelogs::source_for_file(&path)));
            let (raw_tx, mut raw_rx) = mpsc::channel::<String>(16 * 1024);
            tokio::spawn(tail::tail_file(options, raw_tx, health.clone()));
            let cutoff = lookback.map(|l| {
                Timestamp::now()
                    .checked_sub(SignedDuration::try_from(l).unwrap_or(SignedDuration::MAX))
                    .unwrap_or(Timestamp::MIN)
            });
            tokio::spawn(async move {
                let mut warned = false;
                while let Some(raw) = raw_rx.recv().await {
                    // The file as it is on the node: before the monitor's skip list and lookback.
                    if let Some((logs, source)) = &record {
                        logs.push(*source, &raw);
                    }
                    if skip_list.iter().any(|s| raw.contains(s.as_str())) {
                        continue;
                    }
                    let now = jiff::Zoned::now();
                    let context = TimeContext {
                        year: now.year(),
                        zone: now.time_zone().clone(),
                    };
                    match translator.translate(&raw, &context) {
                        Ok((timestamp, message)) => {
                            if cutoff.is_some_and(|c| timestamp < c) {
                                continue;
                            }
                            if tx.send(SourceLine { timestamp, message }).await.is_err() {
                                return;
                            }
                        }
                        Err(err) => {
                            if !warned {
                                tracing::warn!(source = health.name(), error = %err, line = %kubemedic_term::visible(truncate(&raw, 200)), "log line does not match the monitor's timestamp/message format; skipping such lines");
                                warned = true;
                            }
                        }
                    }
                }
            });
        }
    }
    rx
}

/// journald monitors grouped by journal directory (`None`: the system journal): each group
/// shares one journalctl, started by [`start_journals`] once every monitor has subscribed.
pub type JournalGroups = BTreeMap<Option<PathBuf>, JournalGroup>;

/// The monitors reading one journal.
#[derive(Debug, Default)]
pub struct JournalGroup {
    /// The longest lookback among them (journalctl starts there; each filters its own).
    pub lookback: Option<Duration>,
    /// The monitors.
    pub subscribers: Vec<JournalSubscriber>,
}

/// Starts one journalctl per journal directory (chrooted into `root` when given); the entries it
/// reads are kept in `logs` by `SYSLOG_IDENTIFIER`.
pub fn start_journals(
    groups: JournalGroups,
    journalctl: &Path,
    root: Option<&HostRoot>,
    logs: &NodeLogs,
) {
    for (directory, group) in groups {
        let identifiers = if group.subscribers.iter().any(|s| s.identifier.is_none()) {
            Vec::new()
        } else {
            let mut ids: Vec<String> = group
                .subscribers
                .iter()
                .filter_map(|s| s.identifier.clone())
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let options = JournaldOptions {
            journalctl: journalctl.to_path_buf(),
            directory,
            identifiers,
            lookback: group.lookback,
            root: root.cloned(),
            ..JournaldOptions::new()
        };
        tokio::spawn(journald::follow_shared_recorded(
            options,
            group.subscribers,
            Some(logs.clone()),
        ));
    }
}

/// Entries before this are outside a monitor's lookback (none: only what comes after start).
fn cutoff_for(lookback: Option<Duration>) -> Timestamp {
    let lookback = lookback.unwrap_or_default();
    Timestamp::now()
        .checked_sub(SignedDuration::try_from(lookback).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MIN)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Puts a recording hop in front of a kmsg monitor: the reader sends to the returned sender, each
/// line is kept as `kernel` and passed on to `monitor`.
fn record_kmsg(monitor: mpsc::Sender<SourceLine>, logs: NodeLogs) -> mpsc::Sender<SourceLine> {
    let (tx, mut rx) = mpsc::channel::<SourceLine>(16 * 1024);
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            logs.push(
                kubemedic_model::NodeLogSource::Kernel,
                &format!("{} kernel: {}", line.timestamp, line.message),
            );
            if monitor.send(line).await.is_err() {
                return;
            }
        }
    });
    tx
}

/// Keeps a kmsg reader running: retries opening the device (a missing /dev/kmsg in a badly
/// mounted container is a warning, not a crash) and restarts the thread if it ends.
async fn keep_kmsg_reader(
    options: KmsgOptions,
    tx: mpsc::Sender<SourceLine>,
    health: Arc<SourceHealth>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        if tx.is_closed() {
            return;
        }
        match kmsg::spawn_reader(options.clone(), tx.clone(), health.clone()) {
            Ok(thread) => {
                backoff = Duration::from_secs(1);
                // Wait for the thread off the runtime.
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                if tx.is_closed() {
                    return;
                }
                health.error("kmsg reader thread ended; restarting");
            }
            Err(err) => {
                tracing::warn!(source = health.name(), path = %options.path.display(), error = %err, "cannot open kmsg; retrying");
                health.error(format!("open {}: {err}", options.path.display()));
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Runs one custom-plugin monitor: schedules its plugins and applies their results.
pub async fn run_plugin_monitor(
    mut monitor: PluginMonitor,
    node_conditions: Vec<NodeConditionSnapshot>,
    updates: mpsc::Sender<MonitorUpdate>,
    health: Arc<SourceHealth>,
) {
    let config: CustomPluginMonitorConfig = monitor.config().clone();
    let source = config.source.clone();
    let reporting = config.metrics_reporting;
    let jobs: Vec<PluginJob> = config
        .rules
        .iter()
        .enumerate()
        .map(|(rule, r)| PluginJob {
            rule,
            path: PathBuf::from(&r.path),
            args: r.args.clone(),
            timeout: plugin::effective_timeout(r.timeout, config.plugin_config.timeout),
            interval: r
                .invoke_interval
                .unwrap_or(config.plugin_config.invoke_interval),
            max_output: config.plugin_config.max_output_length,
        })
        .collect();
    for job in &jobs {
        if !job.path.exists() {
            tracing::warn!(source, plugin = %job.path.display(), "plugin does not exist; its rule reports Unknown");
            health.error(format!("plugin {} does not exist", job.path.display()));
        }
    }
    let initial = monitor.start(Timestamp::now(), &node_conditions);
    let update = |monitor: &PluginMonitor, reports| MonitorUpdate {
        source: source.clone(),
        reports,
        conditions: monitor.conditions().to_vec(),
        metrics: reporting.then(|| monitor.metrics().clone()),
    };
    if updates.send(update(&monitor, initial)).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::channel(64);
    tokio::spawn(plugin::schedule(jobs, config.plugin_config.concurrency, tx));
    health.ok();
    let mut out = Vec::new();
    while let Some(run) = rx.recv().await {
        health.line();
        let result = monitor.result(run.rule, run.exit, &run.stdout);
        monitor.apply(&result, Timestamp::now(), &mut out);
        if !out.is_empty()
            && updates
                .send(update(&monitor, std::mem::take(&mut out)))
                .await
                .is_err()
        {
            return;
        }
    }
}

/// Registers a health entry for a log monitor.
pub fn log_health(registry: &HealthRegistry, config: &SystemLogMonitorConfig) -> Arc<SourceHealth> {
    registry.register(&config.source, config.plugin.as_str())
}
