//! Child processes of the testbed: spawned from one long-lived thread, logged to files,
//! killed as a process group.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use crate::error::TestbedError;
use crate::sys;

/// A request to the spawner thread.
type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process.
/// Test harnesses run each test on its own short-lived thread (and tokio's blocking pool
/// retires idle threads), so a testbed shared between tests would lose its processes when
/// the first test's thread ends. All children are therefore forked by one thread that lives
/// as long as the process.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        let thread = std::thread::Builder::new()
            .name("kubemedic-testbed-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop ends only with the process.
                for (mut cmd, reply) in incoming {
                    let _ = reply.send(cmd.spawn());
                }
            });
        if let Err(e) = thread {
            // Without the thread every spawn below reports the error instead.
            eprintln!("kubemedic-testbed: cannot start the spawner thread: {e}");
        }
        Mutex::new(requests)
    })
}

/// Spawns `cmd` on the spawner thread, in its own process group, dying with this process.
fn spawn(mut cmd: Command) -> std::io::Result<Child> {
    sys::die_with_parent(&mut cmd);
    let (reply, answer) = mpsc::channel();
    {
        let requests = spawner()
            .lock()
            .map_err(|_| std::io::Error::other("spawner lock poisoned"))?;
        requests
            .send((cmd, reply))
            .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    }
    answer
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

/// One running control-plane component.
#[derive(Debug)]
pub(crate) struct Process {
    /// Component name, e.g. "kube-apiserver".
    pub(crate) name: String,
    child: Child,
    /// File receiving the component's stdout and stderr.
    pub(crate) log: PathBuf,
}

impl Process {
    /// Starts `program` with `args`, appending its output to `log`.
    pub(crate) fn start(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
        log: &Path,
    ) -> Result<Process, TestbedError> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| TestbedError::io(log, e))?;
        let err = out.try_clone().map_err(|e| TestbedError::io(log, e))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = spawn(cmd).map_err(|e| TestbedError::io(program, e))?;
        Ok(Process {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// The process id (also its process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills the whole process group and reaps the process.
    pub(crate) fn kill(&mut self) {
        if self.exited().is_none() {
            sys::kill_group(self.pid(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }

    /// An error for a component that did not come up, with the end of its log.
    pub(crate) fn failure(&mut self, reason: impl Into<String>) -> TestbedError {
        let mut reason = reason.into();
        if let Some(status) = self.exited() {
            reason = format!("{reason} (process exited: {status})");
        }
        TestbedError::ComponentFailed {
            component: self.name.clone(),
            reason,
            log: self.log.clone(),
            tail: log_tail(&self.log, 20),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of the file at `path` (at most the last 64 KiB are read).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
