//! Runs custom-plugin-monitor scripts the way node-problem-detector does.
//!
//! Each rule runs every `invoke_interval` (the rule's own, else the global one); at most
//! `concurrency` runs of one monitor are in flight at once. A run's timeout is the smaller of the
//! rule's and the global one; on timeout the whole process group is killed (plugins are started
//! in their own group, like NPD's `Setpgid`, so the shell's children die too), and so it is when
//! a run is abandoned (the agent stops on SIGTERM/SIGINT, its task is aborted): a plugin's
//! `sleep 1000` never outlives the agent as an orphan of init. At most
//! `max_output_length` bytes of stdout are kept (the rest is read and discarded so the plugin
//! never blocks on a full pipe); trimming and the exit-code mapping are the detector's
//! [`kubemedic_detect::PluginMonitor::result`].

use kubemedic_detect::PluginExit;
use rustix::process::{Pid, Signal, kill_process_group};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::{Semaphore, mpsc};

/// One rule to run.
#[derive(Debug, Clone)]
pub struct PluginJob {
    /// Index of the rule in the monitor config.
    pub rule: usize,
    /// Executable.
    pub path: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Effective timeout (smaller of rule and global).
    pub timeout: Duration,
    /// How often to run.
    pub interval: Duration,
    /// Bytes of stdout kept.
    pub max_output: usize,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRun {
    /// Index of the rule.
    pub rule: usize,
    /// How it ended.
    pub exit: PluginExit,
    /// The first `max_output` bytes of stdout.
    pub stdout: Vec<u8>,
}

/// The effective timeout: the rule's when it is set and smaller than the global one.
pub fn effective_timeout(rule: Duration, global: Duration) -> Duration {
    if rule.is_zero() {
        global
    } else {
        rule.min(global)
    }
}

/// A running plugin, leader of its own process group. Until it has been waited for, dropping
/// it kills the whole group: a timed-out run, and a run abandoned because the agent stops,
/// leave no process behind. Killing before the leader is reaped also means the group id cannot
/// have been reused by then (a zombie leader keeps its pid).
struct PluginProcess {
    child: tokio::process::Child,
    group: Option<Pid>,
}

impl PluginProcess {
    fn new(child: tokio::process::Child) -> Self {
        let group = child.id().and_then(|p| Pid::from_raw(p as i32));
        Self { child, group }
    }

    /// Waits for the leader; after this the group is no longer ours to kill.
    async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let status = self.child.wait().await;
        if status.is_ok() {
            self.group = None;
        }
        status
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            let _ = kill_process_group(group, Signal::KILL);
        }
        // The leader, now killed, is reaped by tokio's orphan reaper.
    }
}

/// Runs one job once.
pub async fn run_once(job: &PluginJob) -> PluginRun {
    let mut command = Command::new(&job.path);
    command
        .args(&job.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            tracing::warn!(plugin = %job.path.display(), error = %err, "cannot start plugin");
            return PluginRun {
                rule: job.rule,
                exit: PluginExit::Failed,
                stdout: format!(
                    "Error in starting plugin {:?}: error - {err}",
                    job.path.display().to_string()
                )
                .into_bytes(),
            };
        }
    };
    let mut process = PluginProcess::new(child);
    let stdout = process.child.stdout.take();
    let stderr = process.child.stderr.take();
    let max = job.max_output;
    let work = async {
        let read_stdout = async {
            let mut kept = Vec::new();
            if let Some(mut out) = stdout {
                let mut buf = [0u8; 4096];
                loop {
                    match out.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let room = max.saturating_sub(kept.len());
                            kept.extend_from_slice(&buf[..n.min(room)]);
                        }
                    }
                }
            }
            kept
        };
        let drain_stderr = async {
            let mut text = Vec::new();
            if let Some(mut err) = stderr {
                let mut buf = [0u8; 4096];
                loop {
                    match err.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if text.len() < 4096 {
                                text.extend_from_slice(&buf[..n.min(4096 - text.len())]);
                            }
                        }
                    }
                }
            }
            text
        };
        let (kept, err_text) = tokio::join!(read_stdout, drain_stderr);
        let status = process.wait().await;
        (kept, err_text, status)
    };
    let finished = tokio::time::timeout(job.timeout, work).await;
    match finished {
        Ok((stdout, stderr, status)) => {
            if !stderr.is_empty() {
                tracing::debug!(plugin = %job.path.display(), stderr = %kubemedic_term::visible(&String::from_utf8_lossy(&stderr)), "plugin stderr");
            }
            let exit = match status {
                Ok(status) => match status.code() {
                    Some(code) => PluginExit::Code(code),
                    // Killed by a signal: neither OK nor NonOK.
                    None => PluginExit::Code(-1),
                },
                Err(_) => PluginExit::Failed,
            };
            PluginRun {
                rule: job.rule,
                exit,
                stdout,
            }
        }
        Err(_) => {
            // Kill the whole group: a shell plugin's children would otherwise keep running (and
            // keep our stdout pipe open).
            drop(process);
            tracing::warn!(plugin = %job.path.display(), timeout = ?job.timeout, "plugin timed out; killed its process group");
            PluginRun {
                rule: job.rule,
                exit: PluginExit::TimedOut,
                stdout: Vec::new(),
            }
        }
    }
}

/// Runs every job on its interval (first run immediately), at most `concurrency` at once, and
/// sends each finished run to `tx` until the receiver is dropped.
pub async fn schedule(jobs: Vec<PluginJob>, concurrency: usize, tx: mpsc::Sender<PluginRun>) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for job in jobs {
        let permits = permits.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            let mut interval = tokio::time::interval(job.interval.max(Duration::from_millis(10)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let run = run_once(&job).await;
                drop(permit);
                if tx.send(run).await.is_err() {
                    return;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
