//! `kubemedic controller`: the in-cluster process (watch cache, Lease, archive, crash capture,
//! exports, HTTP API).

use anyhow::Context as _;
use kubemedic_archive::{ArchiveUrl, Retention};
use kubemedic_controller::crash::CrashOptions;
use kubemedic_controller::export::ExportConfig;
use kubemedic_controller::healing::{HealClient, HealingConfig, RunbookSource};
use kubemedic_controller::ingest::WriterConfig;
use kubemedic_controller::lease::LeaseOptions;
use kubemedic_controller::{ControllerConfig, run_with_store};
use kubemedic_heal::SafetyConfig;
use kubemedic_heal::library::Library;
use kubemedic_notify::AlertConfig;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubemedic controller`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubemedic controller                                     # in a pod: in-cluster config, SQLite archive
  kubemedic controller --kubeconfig ~/.kube/config --archive sqlite:./archive.db --listen 127.0.0.1:20258
  kubemedic controller --archive postgres://kubemedic@db:5432/kubemedic --cluster-name prod-eu-1
  kubemedic controller --runbooks /etc/kubemedic/runbooks --heal-config heal.yaml --alert alerts.yaml
  kubemedic controller --healing off                       # archive only: no plans, no Remediations, no alerts

Healing is dry-run by default: every runbook is matched and planned (RemediationDryRun Events,
GET /api/v1/heal/plan) and nothing is changed until a runbook is enabled (docs/healing.md).

Exit status: 0 stopped by a signal (archive flushed, Lease released), 2 bad flags, an archive that
cannot be opened (a foreign or damaged file is refused) or a cluster that cannot be reached.")]
pub struct ControllerArgs {
    /// Path to the kubeconfig file (default: in-cluster config, then $KUBECONFIG, ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Namespace of the controller's Lease.
    #[arg(long, short = 'n', env = "POD_NAMESPACE", default_value = "kubemedic")]
    namespace: String,
    /// Name of the Lease replicas elect a leader with.
    #[arg(long, default_value = "kubemedic-controller")]
    lease_name: String,
    /// This replica's identity in the Lease (the pod name in a cluster; the Service forwards
    /// archive reads to the holder's pod).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// The archive: sqlite:PATH (one cluster) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB (a fleet).
    #[arg(
        long,
        env = "KUBEMEDIC_ARCHIVE",
        default_value = "sqlite:/var/lib/kubemedic/archive.db"
    )]
    archive: String,
    /// This cluster's name in the archive (a PostgreSQL archive holds several clusters).
    #[arg(long, env = "KUBEMEDIC_CLUSTER_NAME", default_value = "default")]
    cluster_name: String,
    /// Address of the HTTP server (API, /metrics, /healthz, /readyz).
    #[arg(long, default_value = "0.0.0.0:20258")]
    listen: SocketAddr,
    /// Records older than this are pruned (s, m, h, d, w; 0 keeps everything).
    #[arg(long, default_value = "30d", value_parser = duration_arg)]
    retention: Duration,
    /// Keep the archive below this size, pruning the oldest records (e.g. 10GiB, 500MiB; 0: no bound).
    #[arg(long, default_value = "0", value_parser = bytes_arg)]
    max_size: u64,
    /// How often retention runs.
    #[arg(long, default_value = "5m", value_parser = duration_arg)]
    prune_interval: Duration,
    /// Crashes kept per container (the newest).
    #[arg(long, default_value_t = 10)]
    crashes_per_container: u32,
    /// Lines fetched from the end of a crashed container's log.
    #[arg(long, default_value_t = 2000)]
    crash_log_lines: i64,
    /// Bytes kept from the end of a crashed container's log.
    #[arg(long, default_value = "256KiB", value_parser = bytes_arg)]
    crash_log_bytes: u64,
    /// Exports file (YAML): webhook and Loki sinks with routes. See docs/controller.md.
    #[arg(long, value_name = "FILE")]
    exports: Option<PathBuf>,
    /// Directory of the exports' on-disk queues (default: next to a SQLite archive, else memory).
    #[arg(long, value_name = "DIR")]
    export_spool: Option<PathBuf>,
    /// Watch core/v1 Events even where events.k8s.io/v1 is served.
    #[arg(long)]
    core_events: bool,
    /// Label selector of the kubemedic agents (node memory state for OOM kills).
    #[arg(long, default_value = kubemedic_cluster::live::DEFAULT_AGENT_SELECTOR)]
    agent_selector: String,
    /// Port of the agents' HTTP server.
    #[arg(long, default_value_t = kubemedic_cluster::live::DEFAULT_AGENT_PORT)]
    agent_port: u16,
    /// Self-healing in the leader: `on` (runbooks dry-run until enabled) or `off` (no plans,
    /// Remediations or alerts).
    #[arg(long, env = "KUBEMEDIC_HEALING", default_value = "on", value_parser = ["on", "off"])]
    healing: String,
    /// User runbooks besides the embedded defaults: a directory of *.yaml (a mounted ConfigMap)
    /// or configmap:NAMESPACE/NAME (read through the API); re-read every 30 s.
    #[arg(long, env = "KUBEMEDIC_RUNBOOKS", value_name = "DIR|configmap:NS/NAME")]
    runbooks: Option<String>,
    /// Healing safety settings (YAML: paused, maxDisrupted, minHealthy, cooldown, storm, ...).
    #[arg(long, env = "KUBEMEDIC_HEAL_CONFIG", value_name = "FILE")]
    heal_config: Option<PathBuf>,
    /// Alert sinks (YAML: alertmanager, slack, wecom, dingtalk, feishu, webhook).
    #[arg(long, env = "KUBEMEDIC_ALERT_CONFIG", value_name = "FILE")]
    alert: Option<PathBuf>,
    /// Create or update the Remediation CRD at start (needs RBAC on customresourcedefinitions;
    /// the manifests and the chart install it instead).
    #[arg(long)]
    install_crds: bool,
}

/// Parses `30d`, `12h`, `0`.
pub fn duration_arg(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    kubemedic_archive::query::parse_duration(s).map(|secs| Duration::from_secs(secs.max(0) as u64))
}

/// Parses `10GiB`, `500MiB`, `256KiB`, `1G`, `123`.
pub fn bytes_arg(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 10GiB, 500MiB, 256KiB)"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KB" => 1_000,
        "Ki" | "KiB" => 1 << 10,
        "M" | "MB" => 1_000_000,
        "Mi" | "MiB" => 1 << 20,
        "G" | "GB" => 1_000_000_000,
        "Gi" | "GiB" => 1 << 30,
        "T" | "TB" => 1_000_000_000_000,
        "Ti" | "TiB" => 1 << 40,
        u => {
            return Err(format!(
                "unknown size unit {u:?} in {s:?} (use KiB, MiB, GiB, ...)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub fn run_controller(args: &ControllerArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let archive: ArchiveUrl = args.archive.parse()?;
    let exports = match &args.exports {
        Some(p) => Some(ExportConfig::load(p)?),
        None => None,
    };
    let export_spool = args.export_spool.clone().or_else(|| match &archive {
        ArchiveUrl::Sqlite(p) => p.parent().map(|d| d.join("export-queue")),
        ArchiveUrl::Postgres(_) => None,
    });
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| format!("kubemedic-{}", std::process::id()));
    let (sel_k, sel_v) = args
        .agent_selector
        .split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .context("--agent-selector must be KEY=VALUE")?;
    let healing = healing_config(args)?;
    let cfg = ControllerConfig {
        archive,
        cluster: args.cluster_name.clone(),
        lease: LeaseOptions {
            namespace: args.namespace.clone(),
            name: args.lease_name.clone(),
            identity,
            duration_secs: 15,
            grace_secs: 5,
        },
        listen: args.listen,
        retention: Retention {
            max_age: (!args.retention.is_zero()).then_some(args.retention),
            max_bytes: (args.max_size > 0).then_some(args.max_size),
            crashes_per_container: args.crashes_per_container.max(1),
        },
        prune_interval: args.prune_interval.max(Duration::from_secs(1)),
        crash: CrashOptions {
            log_lines: args.crash_log_lines.max(1),
            log_bytes: args.crash_log_bytes.max(1024) as usize,
            agent_selector: (sel_k, sel_v),
            agent_port: args.agent_port,
            ..CrashOptions::default()
        },
        exports,
        export_spool,
        writer: WriterConfig::default(),
        core_events: args.core_events,
        shutdown_timeout: Duration::from_secs(25),
        healing,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        // The archive first: a file it refuses (foreign, damaged, newer) is reported at once.
        let url = cfg.archive.clone();
        let cluster = cfg.cluster.clone();
        let store = tokio::task::spawn_blocking(move || url.open(&cluster))
            .await
            .context("opening the archive")??;
        let (client, heal_client) =
            kube_client(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let mut cfg = cfg;
        if let Some(h) = cfg.healing.as_mut() {
            h.client = Some(HealClient(heal_client));
        }
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = tx.send(true);
        });
        run_with_store(client, cfg, store, rx, None).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// In-cluster config first (a pod), else the kubeconfig: the controller's client and the one
/// healing acts through (kube's retry layer off: the drain must see 429s from Evictions).
async fn kube_client(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> anyhow::Result<(kube::Client, kube::Client)> {
    if kubeconfig.is_none()
        && context.is_none()
        && let Ok(cfg) = kube::Config::incluster()
    {
        let mut no_retry = cfg.clone();
        no_retry.default_retry = false;
        return Ok((
            kube::Client::try_from(cfg)?,
            kube::Client::try_from(no_retry)?,
        ));
    }
    let clients = kubemedic_cluster::live::client_for(kubeconfig, context).await?;
    Ok((clients.api, clients.proxy))
}

/// Healing settings from the flags; files are read and checked now, so a bad one stops the
/// start with its name, line and field.
fn healing_config(args: &ControllerArgs) -> anyhow::Result<Option<HealingConfig>> {
    if args.healing == "off" {
        return Ok(None);
    }
    let runbooks: Option<RunbookSource> = args
        .runbooks
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| anyhow::anyhow!("--runbooks: {e}"))?;
    if let Some(RunbookSource::Dir(dir)) = &runbooks {
        let sources = Library::read_dir(dir).with_context(|| "--runbooks".to_string())?;
        let lib = Library::load(&sources);
        for e in &lib.errors {
            tracing::error!(error = %e, "runbook refused; the others keep working");
        }
    }
    let safety = match &args.heal_config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--heal-config: cannot read {}", p.display()))?;
            SafetyConfig::parse(&text, &p.display().to_string())?
        }
        None => SafetyConfig::default(),
    };
    let alerts = match &args.alert {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--alert: cannot read {}", p.display()))?;
            Some(AlertConfig::parse(&text, &p.display().to_string(), &|k| {
                std::env::var(k).ok()
            })?)
        }
        None => None,
    };
    Ok(Some(HealingConfig {
        runbooks,
        safety,
        alerts,
        install_crds: args.install_crds,
        lock_namespace: args.namespace.clone(),
        ..HealingConfig::default()
    }))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes_arg("256KiB"), Ok(262_144));
        assert_eq!(bytes_arg("10GiB"), Ok(10 << 30));
        assert_eq!(bytes_arg("0"), Ok(0));
        assert!(bytes_arg("10 parsecs").is_err());
        assert_eq!(duration_arg("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(duration_arg("0"), Ok(Duration::ZERO));
    }
}
