//! Node-local actions from an allow-list. Nothing here runs a shell or a string taken from a
//! Remediation: each action maps to a fixed implementation, or to an argv the node's operator
//! configured for it (`--action-command restart-runtime=/usr/local/bin/restart-containerd`).

use kubemedic_heal::action::{Action, ActionKind};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How this node carries out node-local actions.
#[derive(Debug, Clone)]
pub struct NodeActionConfig {
    /// The host's /proc (for `/proc/sys/vm/drop_caches` and `compact_memory`).
    pub host_proc: PathBuf,
    /// Where container logs live (`/var/log/pods`).
    pub pod_logs: PathBuf,
    /// The system D-Bus socket; when it exists, services restart through systemd.
    pub dbus_socket: PathBuf,
    /// systemd unit of the container runtime.
    pub runtime_unit: String,
    /// systemd unit of the kubelet.
    pub kubelet_unit: String,
    /// Allow-listed commands per action (argv, no shell), used where systemd is absent and for
    /// image pruning (`crictl rmi --prune` talks to the CRI).
    pub commands: BTreeMap<ActionKind, Vec<String>>,
    /// Reboot is refused unless this is set (`--allow-reboot`).
    pub allow_reboot: bool,
    /// Longest time a command may run.
    pub command_timeout: Duration,
}

impl Default for NodeActionConfig {
    fn default() -> Self {
        let mut commands = BTreeMap::new();
        commands.insert(
            ActionKind::PruneImages,
            vec!["crictl".into(), "rmi".into(), "--prune".into()],
        );
        NodeActionConfig {
            host_proc: PathBuf::from("/proc"),
            pod_logs: PathBuf::from("/var/log/pods"),
            dbus_socket: PathBuf::from("/run/dbus/system_bus_socket"),
            runtime_unit: "containerd.service".into(),
            kubelet_unit: "kubelet.service".into(),
            commands,
            allow_reboot: false,
            command_timeout: Duration::from_secs(120),
        }
    }
}

/// Parses `ACTION=ARGV...` (`restart-runtime=/usr/bin/systemctl restart containerd`): only
/// node-local actions may be given a command.
pub fn parse_command(spec: &str) -> Result<(ActionKind, Vec<String>), String> {
    let (name, argv) = spec
        .split_once('=')
        .ok_or_else(|| format!("{spec:?}: expected ACTION=COMMAND ARGS"))?;
    let kind =
        ActionKind::from_name(name.trim()).ok_or_else(|| format!("{name:?} is not an action"))?;
    if kind.executor() != kubemedic_heal::Executor::Agent {
        return Err(format!("{name} is not a node-local action"));
    }
    let argv: Vec<String> = argv.split_whitespace().map(str::to_string).collect();
    if argv.is_empty() {
        return Err(format!("{spec:?}: empty command"));
    }
    Ok((kind, argv))
}

/// The agent's image carries no crictl: say how to give it the node's.
fn prune_hint(argv: &[String], err: String) -> String {
    if err.starts_with("cannot run ") {
        format!(
            "{err}: prune-images needs crictl where the agent runs (it is not in the kubemedic image); install it on the node and point the agent at it, e.g. --action-command 'prune-images=/host/usr/local/bin/crictl --runtime-endpoint unix:///host/run/containerd/containerd.sock rmi --prune' (argv now: {})",
            argv.join(" ")
        )
    } else {
        err
    }
}

async fn run_command(argv: &[String], timeout: Duration) -> Result<String, String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| format!("{prog} did not finish within {}s", timeout.as_secs()))?
        .map_err(|e| format!("cannot run {prog}: {e}"))?;
    let text = String::from_utf8_lossy(if out.status.success() {
        &out.stdout
    } else {
        &out.stderr
    });
    let tail: String = text
        .trim()
        .chars()
        .rev()
        .take(300)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if out.status.success() {
        Ok(format!("{} exited 0 {tail}", argv.join(" "))
            .trim_end()
            .to_string())
    } else {
        Err(format!(
            "{} failed ({}): {tail}",
            argv.join(" "),
            out.status
        ))
    }
}

fn write_proc(path: &Path, value: &str) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    f.write_all(value.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Truncates every regular file under `dir` larger than `max` to zero in place (the runtime
/// keeps writing to the same open file). Returns (files, bytes freed).
pub fn truncate_logs(dir: &Path, max: u64) -> Result<(usize, u64), String> {
    let mut files = 0;
    let mut freed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if d == dir => return Err(format!("cannot read {}: {e}", d.display())),
            Err(_) => continue,
        };
        for e in entries.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() && meta.len() > max {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(e.path())
                    .map_err(|err| format!("cannot open {}: {err}", e.path().display()))?;
                f.set_len(0)
                    .map_err(|err| format!("cannot truncate {}: {err}", e.path().display()))?;
                files += 1;
                freed += meta.len();
            }
        }
    }
    Ok((files, freed))
}

/// Carries out one node-local action; the message goes into the Remediation's history.
pub async fn execute(action: &Action, cfg: &NodeActionConfig) -> Result<String, String> {
    match action {
        Action::RestartRuntime | Action::RestartKubelet => {
            let (kind, unit) = if matches!(action, Action::RestartRuntime) {
                (ActionKind::RestartRuntime, &cfg.runtime_unit)
            } else {
                (ActionKind::RestartKubelet, &cfg.kubelet_unit)
            };
            if cfg.dbus_socket.exists() {
                return super::systemd::restart_unit(&cfg.dbus_socket, unit)
                    .await
                    .map(|job| format!("systemd restarting {unit} (job {job})"));
            }
            match cfg.commands.get(&kind) {
                Some(argv) => run_command(argv, cfg.command_timeout).await,
                None => Err(format!(
                    "no systemd on this node ({} absent) and no --action-command for {kind}",
                    cfg.dbus_socket.display()
                )),
            }
        }
        Action::DropCaches { level } => write_proc(
            &cfg.host_proc.join("sys/vm/drop_caches"),
            &format!("{level}\n"),
        )
        .map(|_| format!("wrote {level} to /proc/sys/vm/drop_caches")),
        Action::CompactMemory => write_proc(&cfg.host_proc.join("sys/vm/compact_memory"), "1\n")
            .map(|_| "wrote 1 to /proc/sys/vm/compact_memory".to_string()),
        Action::TruncateContainerLogs { max_size } => {
            truncate_logs(&cfg.pod_logs, *max_size).map(|(n, bytes)| {
                format!(
                    "truncated {n} log file(s) over {} MiB under {}, {} MiB freed",
                    max_size >> 20,
                    cfg.pod_logs.display(),
                    bytes >> 20
                )
            })
        }
        Action::PruneImages => match cfg.commands.get(&ActionKind::PruneImages) {
            Some(argv) => run_command(argv, cfg.command_timeout)
                .await
                .map_err(|e| prune_hint(argv, e)),
            None => Err("no command configured for prune-images".into()),
        },
        Action::Reboot => {
            if !cfg.allow_reboot {
                return Err("reboot refused: this node's agent runs without --allow-reboot".into());
            }
            match cfg.commands.get(&ActionKind::Reboot) {
                Some(argv) => run_command(argv, cfg.command_timeout).await,
                None if cfg.dbus_socket.exists() => super::systemd::reboot(&cfg.dbus_socket)
                    .await
                    .map(|_| "reboot requested from systemd".into()),
                None => Err("no systemd and no --action-command for reboot".into()),
            }
        }
        other => Err(format!("{} is not a node-local action", other.kind())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prune_images_without_crictl_says_how_to_provide_it() {
        let mut cfg = NodeActionConfig::default();
        cfg.commands.insert(
            ActionKind::PruneImages,
            vec!["/no/such/dir/crictl".into(), "rmi".into(), "--prune".into()],
        );
        let err = execute(&Action::PruneImages, &cfg).await.unwrap_err();
        assert!(err.starts_with("cannot run /no/such/dir/crictl"), "{err}");
        assert!(err.contains("--action-command 'prune-images="), "{err}");
        // A command that runs and fails keeps its own message.
        cfg.commands
            .insert(ActionKind::PruneImages, vec!["/bin/false".into()]);
        let err = execute(&Action::PruneImages, &cfg).await.unwrap_err();
        assert!(!err.contains("needs crictl"), "{err}");
    }

    #[test]
    fn commands_are_argv_for_node_local_actions_only() {
        assert_eq!(
            parse_command("restart-runtime=/usr/bin/systemctl restart containerd").unwrap(),
            (
                ActionKind::RestartRuntime,
                vec![
                    "/usr/bin/systemctl".to_string(),
                    "restart".into(),
                    "containerd".into()
                ]
            )
        );
        assert!(
            parse_command("cordon=/bin/true")
                .unwrap_err()
                .contains("not a node-local")
        );
        assert!(parse_command("restart-runtime=").is_err());
        assert!(
            parse_command("rm=/bin/rm -rf /")
                .unwrap_err()
                .contains("not an action")
        );
    }
}
