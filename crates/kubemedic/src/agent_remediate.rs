//! `kubemedic agent --remediate`: the flags of the node-local healing actions (an allow-list:
//! nothing a Remediation says is ever run as a command).

use anyhow::Context as _;
use kubemedic_agent::remediate::{NodeActionConfig, RemediationWorker, local};
use std::path::PathBuf;
use std::time::Duration;

/// Node-local healing flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RemediateArgs {
    /// Act on Remediations for this node (restart the runtime or kubelet, drop caches, compact
    /// memory, truncate container logs, prune images, reboot if allowed) and report into them.
    #[arg(long)]
    pub remediate: bool,
    /// Allow the reboot action on this node (off by default).
    #[arg(long)]
    pub allow_reboot: bool,
    /// systemd unit of the container runtime.
    #[arg(long, default_value = "containerd.service", value_name = "UNIT")]
    pub runtime_unit: String,
    /// systemd unit of the kubelet.
    #[arg(long, default_value = "kubelet.service", value_name = "UNIT")]
    pub kubelet_unit: String,
    /// The system D-Bus socket; when present, services restart through systemd.
    #[arg(
        long,
        default_value = "/run/dbus/system_bus_socket",
        value_name = "PATH"
    )]
    pub dbus_socket: PathBuf,
    /// Allow-listed command for a node-local action where systemd is absent, as
    /// ACTION=PROGRAM ARGS (split on spaces, never run through a shell); repeatable.
    /// Example: --action-command 'restart-runtime=/usr/sbin/service containerd restart'.
    #[arg(long = "action-command", value_name = "ACTION=COMMAND")]
    pub action_commands: Vec<String>,
    /// Container log directory for truncate-container-logs.
    #[arg(long, default_value = "/var/log/pods", value_name = "DIR")]
    pub pod_logs_dir: PathBuf,
    /// How often this node's Remediations are read.
    #[arg(long, default_value = "2s", value_parser = parse_interval, value_name = "DURATION")]
    pub remediate_interval: Duration,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    kubemedic_heal::duration::parse(s).map_err(|e| e.to_string())
}

impl RemediateArgs {
    /// The node action config, or an error naming the bad flag.
    pub fn config(&self, host_proc: &std::path::Path) -> anyhow::Result<NodeActionConfig> {
        let mut cfg = NodeActionConfig {
            host_proc: host_proc.to_path_buf(),
            pod_logs: self.pod_logs_dir.clone(),
            dbus_socket: self.dbus_socket.clone(),
            runtime_unit: self.runtime_unit.clone(),
            kubelet_unit: self.kubelet_unit.clone(),
            allow_reboot: self.allow_reboot,
            ..NodeActionConfig::default()
        };
        for spec in &self.action_commands {
            let (kind, argv) = local::parse_command(spec)
                .map_err(anyhow::Error::msg)
                .context("--action-command")?;
            cfg.commands.insert(kind, argv);
        }
        Ok(cfg)
    }

    /// Starts the worker when --remediate is set.
    pub fn spawn(
        &self,
        client: Option<kube::Client>,
        node: &str,
        host_proc: &std::path::Path,
    ) -> anyhow::Result<()> {
        if !self.remediate {
            return Ok(());
        }
        let client = client.context("--remediate needs the Kubernetes API (not --standalone)")?;
        let worker = RemediationWorker::new(client, node.to_string(), self.config(host_proc)?);
        let interval = self.remediate_interval;
        tokio::spawn(worker.run(interval, std::future::pending()));
        tracing::info!(node, "acting on this node's Remediations");
        Ok(())
    }
}
