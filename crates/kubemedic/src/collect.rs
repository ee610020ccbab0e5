//! `kubemedic collect DIR`: write a dump of a live cluster (kubectl's layout plus previous logs,
//! node facts) that `kubemedic diagnose --dump DIR` reads. Also the cluster-selection flags and
//! the progress line shared with `diagnose`.

use anyhow::Context as _;
use kubemedic_cluster::live::{self, AgentOptions, InFlight, LiveOptions, ProgressFn};
use kubemedic_cluster::write_dump;
use kubemedic_model::Snapshot;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which cluster and namespaces to read (kubectl's flags).
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace scope (default: the context's namespace).
    #[arg(
        short = 'n',
        long,
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// All namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Do not fetch container logs (faster; exit-code analysis loses its log evidence).
    #[arg(long)]
    pub no_logs: bool,
    /// Label selector of the kubemedic agent pods asked for node facts and node logs.
    #[arg(long, value_name = "SELECTOR", default_value = live::DEFAULT_AGENT_SELECTOR)]
    pub agent_selector: String,
    /// Port of the agents' HTTP server (`kubemedic agent --prometheus-port`), reached through the
    /// apiserver's pod proxy.
    #[arg(long, value_name = "PORT", default_value_t = live::DEFAULT_AGENT_PORT)]
    pub agent_port: u16,
    /// Label selector of the network prober pods (the chart's `probe.enabled` DaemonSet) asked
    /// for their results (`/probes`).
    #[arg(long, value_name = "SELECTOR", default_value = live::DEFAULT_PROBER_SELECTOR)]
    pub prober_selector: String,
    /// Port of the probers' check endpoint, which serves `/probes` (`probe.port` in the chart).
    #[arg(long, value_name = "PORT", default_value_t = live::DEFAULT_PROBER_PORT)]
    pub prober_port: u16,
    /// Do not ask node agents (nor network probers) for facts, node logs and probe results.
    #[arg(long)]
    pub no_agents: bool,
    /// Do not add what the kubemedic controller's archive remembers (events past the TTL,
    /// captured previous logs).
    #[arg(long)]
    pub no_archive: bool,
    #[command(flatten)]
    pub archive: crate::archive_cli::ArchiveSourceArgs,
    #[command(flatten)]
    pub deadline: DeadlineArgs,
}

/// How long a command that talks to a server may wait (`--timeout`, `--request-timeout`).
#[derive(Debug, Clone, clap::Args)]
pub struct DeadlineArgs {
    /// Give up on the whole run after this long (e.g. 90s, 5m, 1h), naming the server and what
    /// it had not sent yet; exit 2.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Give up on one request (a list page, a log, an archive query) after this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub request_timeout: Duration,
}

/// A positive duration for `--timeout` and `--request-timeout`: `500ms`, `90s`, `5m`, `1h`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match kubemedic_heal::duration::parse(text) {
        Ok(d) if d.is_zero() => Err("must be more than 0".to_string()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

impl ClusterArgs {
    /// Connects and loads a snapshot, showing progress on a TTY; gives up after `--timeout`.
    pub async fn load(&self, progress: &Progress) -> anyhow::Result<(Snapshot, String)> {
        let deadline = tokio::time::Instant::now() + self.deadline.timeout;
        // KUBECONFIG may hold a colon-separated list; kube's default rules handle that.
        let single_file = self
            .kubeconfig
            .as_ref()
            .filter(|p| !p.as_os_str().to_string_lossy().contains(':'));
        progress.set("connecting to the cluster");
        let connect = live::cli_client_for(
            single_file.map(|p| p.as_path()),
            self.context.as_deref(),
            self.deadline.request_timeout,
        );
        let clients = match tokio::time::timeout_at(deadline, connect).await {
            Ok(clients) => clients?,
            Err(_) => anyhow::bail!(
                "gave up after {} (--timeout) before the first request: reading the kubeconfig's credentials did not finish (an exec credential plugin that hangs?)",
                live::human_duration(self.deadline.timeout)
            ),
        };
        progress.waiting_on(&clients.server, clients.in_flight.clone());
        let _ticker = progress.ticker();
        let namespace = if self.all_namespaces {
            None
        } else {
            Some(
                self.namespace
                    .clone()
                    .unwrap_or_else(|| clients.default_namespace.clone()),
            )
        };
        let scope = match &namespace {
            Some(ns) => format!("namespace {ns}"),
            None => "all namespaces".to_string(),
        };
        let opts = LiveOptions {
            namespace,
            fetch_logs: !self.no_logs,
            agents: (!self.no_agents).then(|| AgentOptions {
                selector: self.agent_selector.clone(),
                port: self.agent_port,
                prober_selector: Some(self.prober_selector.clone()),
                prober_port: self.prober_port,
                ..AgentOptions::default()
            }),
            progress: Some(progress.callback()),
            ..LiveOptions::default()
        };
        let load = live::load_live(&clients, &opts);
        tokio::pin!(load);
        let mut snap = tokio::select! {
            snap = &mut load => snap?,
            () = tokio::time::sleep_until(deadline) => {
                // Said while the load still runs: dropping it ends its requests and with them
                // the record of what they were fetching.
                return Err(anyhow::anyhow!(
                    "{} (--timeout sets how long to wait)",
                    clients.gave_up(self.deadline.timeout)
                ));
            }
        };
        let memory = if self.no_archive {
            String::new()
        } else {
            progress.set("reading the archive");
            let remember = crate::archive_cli::remember(
                &mut snap,
                &self.archive,
                single_file.map(|p| p.as_path()),
                self.context.as_deref(),
                opts.namespace.as_deref(),
                self.deadline.request_timeout,
            );
            match tokio::time::timeout_at(deadline, remember).await {
                Ok(note) => note,
                Err(_) => {
                    // The cluster's own objects are in: the archive only adds memory to them.
                    snap.skipped.push(kubemedic_model::SkippedInput {
                        input: "archive".to_string(),
                        reason: format!(
                            "not read: --timeout ({}) reached",
                            live::human_duration(self.deadline.timeout)
                        ),
                    });
                    String::new()
                }
            }
        };
        let source = format!(
            "cluster{} ({scope}){memory}",
            self.context
                .as_deref()
                .map(|c| format!(" context {c}"))
                .unwrap_or_default()
        );
        Ok((snap, source))
    }
}

/// One status line on stderr, rewritten in place; only on a TTY and only once the work has
/// taken more than a moment.
#[derive(Debug, Clone)]
pub struct Progress {
    inner: Arc<Mutex<ProgressState>>,
}

#[derive(Debug)]
struct ProgressState {
    enabled: bool,
    started: Instant,
    shown: bool,
    /// The last message and when it was set.
    last: String,
    last_set: Instant,
    /// The server and its requests in flight, shown when nothing has moved for a while.
    waiting: Option<(String, InFlight)>,
}

/// Stops the progress line's refresh when dropped.
pub struct Ticker(Option<tokio::task::JoinHandle<()>>);

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

impl Progress {
    /// A progress line on stderr if stderr is a terminal.
    pub fn stderr() -> Self {
        Self {
            inner: Arc::new(Mutex::new(ProgressState {
                enabled: std::io::stderr().is_terminal(),
                started: Instant::now(),
                shown: false,
                last: String::new(),
                last_set: Instant::now(),
                waiting: None,
            })),
        }
    }

    /// Shows `msg` (after the first 300 ms).
    pub fn set(&self, msg: &str) {
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        st.last = msg.to_string();
        st.last_set = Instant::now();
        Self::draw(&mut st, msg);
    }

    /// Names the server whose requests in flight the line shows while nothing else moves.
    pub fn waiting_on(&self, server: &str, in_flight: InFlight) {
        if let Ok(mut st) = self.inner.lock() {
            st.waiting = Some((server.to_string(), in_flight));
        }
    }

    /// Redraws the line every second while the returned guard lives (on a TTY only), so a
    /// server that does not answer shows as a growing wait and what it is waited for.
    pub fn ticker(&self) -> Ticker {
        let enabled = self.inner.lock().is_ok_and(|st| st.enabled);
        if !enabled {
            return Ticker(None);
        }
        let me = self.clone();
        Ticker(Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let Ok(mut st) = me.inner.lock() else {
                    return;
                };
                let mut msg = st.last.clone();
                if st.last_set.elapsed() >= Duration::from_secs(2)
                    && let Some((server, in_flight)) = &st.waiting
                {
                    let pending = in_flight.pending();
                    if let Some(first) = pending.first() {
                        let more = match pending.len() {
                            1 => String::new(),
                            n => format!(" (+{} more)", n - 1),
                        };
                        msg = format!("waiting for {server}: {first}{more}");
                    }
                }
                if !msg.is_empty() {
                    Self::draw(&mut st, &msg);
                }
            }
        })))
    }

    fn draw(st: &mut ProgressState, msg: &str) {
        if !st.enabled || st.started.elapsed() < Duration::from_millis(300) {
            return;
        }
        let elapsed = st.started.elapsed().as_secs_f64();
        // Messages name namespaces and objects of the cluster; one terminal row, or the
        // next redraw would erase only its last row.
        let width = stderr_width().saturating_sub(8).max(20);
        let msg: String = kubemedic_term::visible(msg).chars().take(width).collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{elapsed:5.1}s {msg}");
        let _ = err.flush();
        st.shown = true;
    }

    /// Erases the line.
    pub fn clear(&self) {
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        if st.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            st.shown = false;
        }
    }

    /// The callback handed to the loader.
    pub fn callback(&self) -> ProgressFn {
        let me = self.clone();
        Arc::new(move |msg: &str| me.set(msg))
    }
}

/// Columns of the terminal on stderr (80 when unknown).
fn stderr_width() -> usize {
    let stderr = std::io::stderr();
    rustix::termios::tcgetwinsize(&stderr)
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|w| *w > 0)
        .unwrap_or(80)
}

/// Output of `collect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CollectFormat {
    /// One human line.
    #[default]
    Text,
    /// JSON.
    Json,
}

/// Arguments of `kubemedic collect`.
#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    /// Directory to write the dump to (created if missing).
    pub dir: PathBuf,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Output format of the summary.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: CollectFormat,
}

#[derive(Debug, Serialize)]
struct CollectSummary {
    dir: String,
    source: String,
    files: usize,
    bytes: u64,
    namespaces: usize,
    nodes: usize,
    pods: usize,
    events: usize,
    container_logs: usize,
    node_facts: usize,
    skipped: Vec<kubemedic_model::SkippedInput>,
}

/// Runs `kubemedic collect`.
pub fn run(args: &CollectArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let progress = Progress::stderr();
    let loaded = rt.block_on(args.cluster.load(&progress));
    progress.set("writing the dump");
    let (snap, source) = match loaded {
        Ok(v) => v,
        Err(e) => {
            progress.clear();
            return Err(e);
        }
    };
    let stats = write_dump(
        &snap,
        &args.dir,
        concat!("kubemedic collect ", env!("CARGO_PKG_VERSION")),
    );
    progress.clear();
    let stats = stats?;
    let summary = CollectSummary {
        dir: args.dir.display().to_string(),
        source,
        files: stats.files,
        bytes: stats.bytes,
        namespaces: stats.namespaces,
        nodes: snap.nodes.len(),
        pods: snap.pods.len(),
        events: snap.events.len(),
        container_logs: snap.container_logs.len(),
        node_facts: snap.node_facts.len(),
        skipped: snap.skipped.clone(),
    };
    match args.output {
        CollectFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        CollectFormat::Text => {
            println!(
                "Collected {} nodes, {} pods, {} events, logs of {} containers, facts of {} nodes from {} into {} ({} files, {:.1} MiB).",
                summary.nodes,
                summary.pods,
                summary.events,
                summary.container_logs,
                summary.node_facts,
                kubemedic_term::visible(&summary.source),
                kubemedic_term::visible(&summary.dir),
                summary.files,
                summary.bytes as f64 / (1024.0 * 1024.0)
            );
            if !summary.skipped.is_empty() {
                println!("Not collected ({}):", summary.skipped.len());
                for s in summary.skipped.iter().take(10) {
                    println!(
                        "  - {}: {}",
                        kubemedic_term::visible(&s.input),
                        kubemedic_term::visible(&s.reason)
                    );
                }
                if summary.skipped.len() > 10 {
                    println!(
                        "  … and {} more (see --output json)",
                        summary.skipped.len() - 10
                    );
                }
            }
            println!(
                "Diagnose it with: kubemedic diagnose --dump {}",
                kubemedic_term::visible(&summary.dir)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
