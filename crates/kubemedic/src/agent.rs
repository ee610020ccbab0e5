//! `kubemedic agent`: the node agent (a drop-in replacement for node-problem-detector).

use crate::output::OutputFormat;
use anyhow::{Context, bail};
use kubemedic_agent::hostroot::HostRoot;
use kubemedic_agent::k8s::KubeExporterOptions;
use kubemedic_agent::output::OutputFormat as LineFormat;
use kubemedic_agent::run::{AgentOptions, MonitorSet};
use kubemedic_agent::stats::{StatsOptions, default_disk_paths};
use kubemedic_detect::config::{
    load_custom_plugin_monitor, load_system_log_monitor, load_system_stats_monitor,
    parse_custom_plugin_monitor, parse_system_log_monitor, parse_system_stats_monitor,
};
use kubemedic_detect::defaults::{self, MonitorKind};
use kubemedic_model::facts::DiskPurpose;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubemedic agent`. Flag names follow node-problem-detector's.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "With no --config.* flag the embedded kubemedic defaults run (see --print-default-config).\n\
Exit status: 0 stopped by a signal, 2 bad flags or a bad config (file, JSON path and reason are printed)."
)]
pub struct AgentArgs {
    /// system-log-monitor configs (kmsg, journald, filelog), comma-separated or repeated.
    #[arg(
        long = "config.system-log-monitor",
        value_name = "FILE,...",
        value_delimiter = ','
    )]
    system_log_monitor: Vec<PathBuf>,
    /// custom-plugin-monitor configs, comma-separated or repeated.
    #[arg(
        long = "config.custom-plugin-monitor",
        value_name = "FILE,...",
        value_delimiter = ','
    )]
    custom_plugin_monitor: Vec<PathBuf>,
    /// system-stats-monitor configs, comma-separated or repeated.
    #[arg(
        long = "config.system-stats-monitor",
        value_name = "FILE,...",
        value_delimiter = ','
    )]
    system_stats_monitor: Vec<PathBuf>,
    /// Run no node monitor at all, not even the embedded defaults: a prober-only agent
    /// (`--probes --no-monitors`, the pod-network DaemonSet of docs/probes.md).
    #[arg(long, conflicts_with_all = ["system_log_monitor", "custom_plugin_monitor", "system_stats_monitor"])]
    no_monitors: bool,
    /// Print the embedded default configs (all, or the one named, e.g. kernel-monitor) and exit.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    print_default_config: Option<String>,
    /// Node name to report for (default: $NODE_NAME, else the host name).
    #[arg(long)]
    hostname_override: Option<String>,
    /// kubeconfig file; without it the in-cluster config (or $KUBECONFIG, ~/.kube/config) is used.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Run without a cluster: print problems and condition changes on stdout.
    #[arg(long)]
    standalone: bool,
    /// Line format of --standalone output.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
    /// Write NodeConditions and Events to the apiserver (NPD's --enable-k8s-exporter).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enable_k8s_exporter: bool,
    /// How often unchanged NodeConditions are re-written (lastHeartbeatTime).
    #[arg(long = "k8s-exporter-heartbeat-period", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    heartbeat: Duration,
    /// Address of the health server (/healthz, /conditions, /facts, /metrics).
    #[arg(long, default_value = "127.0.0.1")]
    address: IpAddr,
    /// Port of the health server; 0 disables it.
    #[arg(long, default_value_t = 20256)]
    port: u16,
    /// Address of the Prometheus server (same endpoints).
    #[arg(long, default_value = "127.0.0.1")]
    prometheus_address: IpAddr,
    /// Port of the Prometheus server; 0 disables it.
    #[arg(long, default_value_t = 20257)]
    prometheus_port: u16,
    /// The host's root filesystem mounted into the container (the DaemonSet's /host): journalctl
    /// and iptables-save run chrooted into it, disk paths are looked up under it, and /proc and
    /// /sys default to DIR/proc and DIR/sys.
    #[arg(long, value_name = "DIR")]
    host_root: Option<PathBuf>,
    /// The host's /proc (default: /proc, or DIR/proc with --host-root).
    #[arg(long)]
    host_proc: Option<PathBuf>,
    /// The host's /sys (default: /sys, or DIR/sys with --host-root).
    #[arg(long)]
    host_sys: Option<PathBuf>,
    /// Directories whose disk and inode use are reported, as PURPOSE=PATH with PURPOSE one of
    /// kubelet, runtime, root, logs (repeatable; default: /var/lib/kubelet, /var/lib/containerd,
    /// /var/lib/docker, /, /var/log).
    #[arg(long = "disk-path", value_name = "PURPOSE=PATH", value_parser = parse_disk_path)]
    disk_paths: Vec<(PathBuf, DiskPurpose)>,
    /// iptables-save used to count rules ("" disables the fact).
    #[arg(long, default_value = "iptables-save")]
    iptables_save: String,
    /// journalctl used by journald monitors.
    #[arg(long, default_value = "journalctl")]
    journalctl: PathBuf,
    #[command(flatten)]
    remediate: crate::agent_remediate::RemediateArgs,
    /// How often node facts are collected.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    facts_interval: Duration,
    /// The network prober (`--probes`).
    #[command(flatten)]
    probes: crate::probes::ProbeArgs,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    kubemedic_detect::golang::parse_go_duration(s).map_err(|e| e.to_string())
}

fn parse_disk_path(s: &str) -> Result<(PathBuf, DiskPurpose), String> {
    let (purpose, path) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected PURPOSE=PATH"))?;
    let purpose = match purpose {
        "kubelet" => DiskPurpose::Kubelet,
        "runtime" => DiskPurpose::Runtime,
        "root" => DiskPurpose::Root,
        "logs" => DiskPurpose::Logs,
        other => {
            return Err(format!(
                "unknown purpose {other:?} (kubelet, runtime, root, logs)"
            ));
        }
    };
    Ok((PathBuf::from(path), purpose))
}

fn node_name(args: &AgentArgs) -> anyhow::Result<String> {
    if let Some(name) = args.hostname_override.as_deref().filter(|n| !n.is_empty()) {
        return Ok(name.to_string());
    }
    if let Ok(name) = std::env::var("NODE_NAME")
        && !name.is_empty()
    {
        return Ok(name);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("cannot read the host name; pass --hostname-override")?;
    Ok(host.trim().to_string())
}

/// Loads the monitors named by the flags, the embedded defaults when none is given, or none
/// with `--no-monitors`.
fn load_monitors(args: &AgentArgs) -> anyhow::Result<MonitorSet> {
    let mut set = MonitorSet::default();
    if args.no_monitors {
        return Ok(set);
    }
    if args.system_log_monitor.is_empty()
        && args.custom_plugin_monitor.is_empty()
        && args.system_stats_monitor.is_empty()
    {
        for d in defaults::all() {
            match d.kind {
                MonitorKind::SystemLog => set.log.push(parse_system_log_monitor(d.name, d.json)?),
                MonitorKind::CustomPlugin => set
                    .plugin
                    .push(parse_custom_plugin_monitor(d.name, d.json)?),
                MonitorKind::SystemStats => {
                    set.stats.push(parse_system_stats_monitor(d.name, d.json)?)
                }
            }
        }
        return Ok(set);
    }
    for path in &args.system_log_monitor {
        set.log.push(load_system_log_monitor(path)?);
    }
    for path in &args.custom_plugin_monitor {
        set.plugin.push(load_custom_plugin_monitor(path)?);
    }
    for path in &args.system_stats_monitor {
        set.stats.push(load_system_stats_monitor(path)?);
    }
    Ok(set)
}

fn print_defaults(name: &str) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let all = defaults::all();
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) just ends the listing.
    if name.is_empty() {
        for d in &all {
            if writeln!(out, "# {} ({:?})\n{}", d.name, d.kind, d.json.trim_end()).is_err() {
                break;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // `kernel-monitor` and `kernel-monitor.json` both name the file.
    let wanted = name.strip_suffix(".json").unwrap_or(name);
    match all
        .iter()
        .find(|d| d.name.strip_suffix(".json").unwrap_or(d.name) == wanted)
    {
        Some(d) => {
            let _ = writeln!(out, "{}", d.json.trim_end());
            Ok(ExitCode::SUCCESS)
        }
        None => bail!(
            "no default config named {name:?}; known: {}",
            all.iter()
                .map(|d| d.name.strip_suffix(".json").unwrap_or(d.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The client and the apiserver URL it talks to.
async fn kube_client(args: &AgentArgs) -> anyhow::Result<(kube::Client, String)> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .with_context(|| format!("loading kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no in-cluster config and no kubeconfig (use --kubeconfig or --standalone)")?,
    };
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
    Ok((client, url))
}

/// Runs the agent until SIGINT or SIGTERM.
pub fn run(args: &AgentArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.print_default_config {
        return print_defaults(name);
    }
    init_logging();
    let monitors = load_monitors(args)?;
    let node_name = node_name(args)?;
    if let Some(root) = &args.host_root
        && !root.is_dir()
    {
        bail!(
            "--host-root {}: not a directory (mount the host's / there, e.g. a hostPath volume at /host)",
            root.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        // The prober discovers its neighbours through the API even when the exporter is off.
        let wants_api = !args.standalone
            && (args.enable_k8s_exporter
                || (args.probes.probes && args.probes.probe_peer.is_empty()));
        let client = if wants_api {
            Some(kube_client(args).await?)
        } else {
            None
        };
        let kube = match &client {
            Some((c, _)) if !args.standalone && args.enable_k8s_exporter => {
                let mut options = KubeExporterOptions::new(c.clone());
                options.heartbeat = args.heartbeat;
                Some(options)
            }
            _ => None,
        };
        let probes = crate::probes::options(
            &args.probes,
            &node_name,
            client.as_ref().map(|(c, url)| (c, url.as_str())),
        )?;
        let remediate_client = match (&client, args.remediate.remediate && !args.standalone) {
            (Some((c, _)), _) => Some(c.clone()),
            (None, true) => Some(kube_client(args).await?.0),
            (None, false) => None,
        };
        args.remediate
            .spawn(remediate_client, &node_name, &host_dir(args, args.host_proc.as_ref(), "proc"))?;
        let mut listen = Vec::new();
        if args.port != 0 {
            listen.push(SocketAddr::new(args.address, args.port));
        }
        if args.prometheus_port != 0
            && (args.prometheus_port != args.port || args.prometheus_address != args.address)
        {
            listen.push(SocketAddr::new(args.prometheus_address, args.prometheus_port));
        }
        let output = args.standalone.then(|| match args.output {
            OutputFormat::Json => LineFormat::Json,
            OutputFormat::Text => LineFormat::Text {
                color: std::io::stdout().is_terminal(),
            },
        });
        let options = AgentOptions {
            node_name: node_name.clone(),
            monitors,
            output,
            kube,
            listen,
            stats: StatsOptions {
                proc: host_dir(args, args.host_proc.as_ref(), "proc"),
                sys: host_dir(args, args.host_sys.as_ref(), "sys"),
                disk_paths: if args.disk_paths.is_empty() {
                    default_disk_paths()
                } else {
                    args.disk_paths.clone()
                },
                iptables_save: (!args.iptables_save.is_empty())
                    .then(|| PathBuf::from(&args.iptables_save)),
                facts_interval: args.facts_interval,
                host_root: args.host_root.clone().map(HostRoot::new),
            },
            journalctl: args.journalctl.clone(),
            probes,
        };
        let (handles, running) = kubemedic_agent::run::start(options, shutdown_signal()).await?;
        tracing::info!(node = %node_name, listening = ?handles.listening, probes = ?handles.probe_listening, "kubemedic agent running");
        running.await;
        tracing::info!("stopping");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `--host-proc`/`--host-sys` as given, else `<host root>/<name>`, else `/<name>`.
fn host_dir(args: &AgentArgs, given: Option<&PathBuf>, name: &str) -> PathBuf {
    match (given, &args.host_root) {
        (Some(dir), _) => dir.clone(),
        (None, Some(root)) => root.join(name),
        (None, None) => PathBuf::from("/").join(name),
    }
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
    // Logs go to stderr: stdout carries the --standalone lines.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
