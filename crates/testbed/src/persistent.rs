//! A long-running local cluster for trying things by hand, behind `testbed/up` and
//! `testbed/down`: a detached "serve" process holds a [`Testbed`] (controllers and kwok
//! nodes) until told to stop. Its state directory holds:
//!
//! - `pid`: "<pid> <start time>" of the serve process,
//! - `kubeconfig`: for the cluster admin (written when the cluster is ready),
//! - `ready`: the apiserver URL and the testbed's working directory, then one line
//!   `real-node <name> <host link> <cgroup root>` per real node,
//! - `serve.log`: the serve process's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::TestbedError;
use crate::{Options, RealNode, Testbed, sys};

const PID_FILE: &str = "pid";
const KUBECONFIG_FILE: &str = "kubeconfig";
const READY_FILE: &str = "ready";
const LOG_FILE: &str = "serve.log";

/// How long `up` waits for the cluster; a cold build of the binaries is included.
const UP_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// How long `down` waits for a clean stop before SIGKILL.
const DOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// `$XDG_CACHE_HOME/kubemedic/testbed-up` (or `~/.cache/...`).
pub fn default_state_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("kubemedic").join("testbed-up")
}

/// The serve process recorded in `state_dir`, if it is still running.
pub fn running_pid(state_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(state_dir.join(PID_FILE)).ok()?;
    let mut fields = text.split_whitespace();
    let pid: u32 = fields.next()?.parse().ok()?;
    let started: u64 = fields.next()?.parse().ok()?;
    (sys::process_alive(pid) && sys::process_start_time(pid) == Some(started)).then_some(pid)
}

fn remove_state(state_dir: &Path) {
    for file in [PID_FILE, KUBECONFIG_FILE, READY_FILE] {
        let _ = std::fs::remove_file(state_dir.join(file));
    }
}

fn write_atomically(path: &Path, contents: &str) -> Result<(), TestbedError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).map_err(|e| TestbedError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TestbedError::io(path, e))
}

/// Starts `serve` (the caller's command that ends up in [`serve`] for `state_dir`) detached,
/// and waits until the cluster is ready. Returns the kubeconfig path. If a cluster is
/// already running from `state_dir`, returns its kubeconfig without starting another.
pub async fn up(state_dir: &Path, mut serve: Command) -> Result<PathBuf, TestbedError> {
    std::fs::create_dir_all(state_dir).map_err(|e| TestbedError::io(state_dir, e))?;
    let kubeconfig = state_dir.join(KUBECONFIG_FILE);
    if running_pid(state_dir).is_some() && state_dir.join(READY_FILE).is_file() {
        return Ok(kubeconfig);
    }
    if let Some(pid) = running_pid(state_dir) {
        return Err(TestbedError::Usage(format!(
            "a cluster (pid {pid}) is still starting or stopping in {}; run testbed/down first",
            state_dir.display()
        )));
    }
    remove_state(state_dir);
    let log_path = state_dir.join(LOG_FILE);
    let log = std::fs::File::create(&log_path).map_err(|e| TestbedError::io(&log_path, e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| TestbedError::io(&log_path, e))?;
    serve.stdin(Stdio::null()).stdout(log).stderr(log_err);
    sys::detach(&mut serve);
    let mut child = serve
        .spawn()
        .map_err(|e| TestbedError::io(state_dir.join("serve"), e))?;
    let pid = child.id();
    let started = sys::process_start_time(pid).unwrap_or(0);
    write_atomically(&state_dir.join(PID_FILE), &format!("{pid} {started}\n"))?;

    let deadline = Instant::now() + UP_TIMEOUT;
    loop {
        if state_dir.join(READY_FILE).is_file() {
            return Ok(kubeconfig);
        }
        if let Ok(Some(status)) = child.try_wait() {
            remove_state(state_dir);
            return Err(TestbedError::ComponentFailed {
                component: "testbed serve".into(),
                reason: format!("exited before the cluster was ready ({status})"),
                log: log_path.clone(),
                tail: crate::process::log_tail(&log_path, 20),
            });
        }
        if Instant::now() >= deadline {
            sys::kill_pid(pid, libc::SIGKILL);
            let _ = child.wait();
            remove_state(state_dir);
            return Err(TestbedError::Timeout {
                what: format!("the cluster (log {})", log_path.display()),
                timeout: UP_TIMEOUT,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs the cluster (controllers, `nodes` kwok nodes, `real_nodes` real nodes with busybox
/// and the workload images loaded) in this process until SIGTERM, SIGINT or SIGHUP, or until a
/// component dies; then tears it down and removes the state files.
pub async fn serve(state_dir: &Path, nodes: usize, real_nodes: usize) -> Result<(), TestbedError> {
    use tokio::signal::unix::{SignalKind, signal};
    let signal_err = |e| TestbedError::io("signal handler", e);
    let mut term = signal(SignalKind::terminate()).map_err(signal_err)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_err)?;
    let mut hup = signal(SignalKind::hangup()).map_err(signal_err)?;

    let mut node_images = Vec::new();
    if real_nodes > 0 {
        let bin_dir = crate::binaries::bin_dir().await?;
        node_images.push(crate::images::busybox()?);
        for which in crate::Workload::ALL {
            node_images.push(crate::images::workload(&bin_dir, which)?);
        }
    }
    let tb = Testbed::try_start(Options {
        controllers: true,
        kwok_nodes: nodes,
        real_nodes,
        node_images,
        ..Options::default()
    })
    .await?;
    let kubeconfig = std::fs::read_to_string(tb.kubeconfig_path())
        .map_err(|e| TestbedError::io(tb.kubeconfig_path(), e))?;
    write_atomically(&state_dir.join(KUBECONFIG_FILE), &kubeconfig)?;
    let t = tb.start_timings();
    eprintln!(
        "kubemedic-testbed: cluster ready at {} in {:.1}s (etcd {:.1}s, apiserver {:.1}s, controllers {:.1}s, {} nodes {:.1}s); working directory {}",
        tb.server_url(),
        t.total.as_secs_f64(),
        t.etcd.as_secs_f64(),
        t.apiserver.as_secs_f64(),
        t.controllers.as_secs_f64(),
        nodes,
        t.nodes.as_secs_f64(),
        tb.dir().display()
    );
    for node in tb.real_nodes() {
        let n = node.start_timings();
        eprintln!(
            "kubemedic-testbed: real node {} ({}) Ready in {:.1}s (namespaces {:.1}s, containerd {:.1}s, images {:.1}s, kubelet to Ready {:.1}s, kube-proxy {:.1}s); logs in {}",
            node.name(),
            node.internal_ip(),
            n.total.as_secs_f64(),
            n.namespaces.as_secs_f64(),
            n.containerd.as_secs_f64(),
            n.images.as_secs_f64(),
            n.kubelet_ready.as_secs_f64(),
            n.kube_proxy.as_secs_f64(),
            node.dir().join("root/var/log").display()
        );
    }
    let mut ready = format!("{}\n{}\n", tb.server_url(), tb.dir().display());
    for node in tb.real_nodes() {
        ready.push_str(&format!(
            "real-node {} {} {}\n",
            node.name(),
            node.addresses().host_link(),
            node.cgroup_root()
        ));
    }
    write_atomically(&state_dir.join(READY_FILE), &ready)?;

    let mut health = tokio::time::interval(Duration::from_secs(1));
    let outcome = loop {
        tokio::select! {
            _ = term.recv() => break Ok(()),
            _ = int.recv() => break Ok(()),
            _ = hup.recv() => break Ok(()),
            _ = health.tick() => {
                if let Err(e) = tb.check_running() {
                    break Err(e);
                }
                if let Some(Err(e)) = tb.real_nodes().iter().map(RealNode::check_running).find(Result::is_err) {
                    break Err(e);
                }
            }
        }
    };
    drop(tb);
    remove_state(state_dir);
    eprintln!("kubemedic-testbed: cluster stopped");
    outcome
}

/// Stops the cluster recorded in `state_dir` and waits until its processes are gone.
/// Returns whether one was running.
pub async fn down(state_dir: &Path) -> Result<bool, TestbedError> {
    let Some(pid) = running_pid(state_dir) else {
        remove_state(state_dir);
        crate::reap_orphans();
        return Ok(false);
    };
    // Wait for the process itself, not its pid file: serve removes the file just before it exits,
    // and a caller that sees the file gone may check the pid at once.
    let started = sys::process_start_time(pid);
    sys::kill_pid(pid, libc::SIGTERM);
    let deadline = Instant::now() + DOWN_TIMEOUT;
    while sys::process_alive(pid) && sys::process_start_time(pid) == started {
        if Instant::now() >= deadline {
            // Its control-plane children die with it (PR_SET_PDEATHSIG).
            sys::kill_pid(pid, libc::SIGKILL);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    remove_state(state_dir);
    // A SIGKILLed serve process could not remove its working directory.
    crate::reap_orphans();
    Ok(true)
}
