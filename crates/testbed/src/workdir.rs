//! Per-testbed working directories under one known root, so directories left by a test
//! process that was SIGKILLed (no destructors ran) can be found and removed later.
//!
//! Layout: `$TMPDIR/kubemedic-testbed/<pid>-<process start time>-<n>/`. The start time
//! tells a dead owner from a new process that reused its pid.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::TestbedError;
use crate::sys;

/// File inside a working directory listing the pids of its control-plane processes.
pub(crate) const PIDS_FILE: &str = "pids";

/// The directory holding all testbed working directories.
pub fn root() -> PathBuf {
    std::env::temp_dir().join("kubemedic-testbed")
}

/// A working directory, removed on drop.
#[derive(Debug)]
pub(crate) struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// Creates a fresh working directory for this process.
    pub(crate) fn create() -> Result<WorkDir, TestbedError> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = root();
        std::fs::create_dir_all(&root).map_err(|e| TestbedError::io(&root, e))?;
        let pid = std::process::id();
        let started = sys::process_start_time(pid).unwrap_or(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = root.join(format!("{pid}-{started}-{n}"));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(WorkDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(TestbedError::io(&path, e)),
            }
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records the pids of the processes started in this directory, for the reaper.
    pub(crate) fn record_pids(&self, pids: &[u32]) {
        let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
        let _ = std::fs::write(self.path.join(PIDS_FILE), text);
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The owner (pid, start time) encoded in a working directory's name.
fn owner(name: &str) -> Option<(u32, u64)> {
    let mut parts = name.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let started = parts.next()?.parse().ok()?;
    parts.next()?.parse::<usize>().ok()?;
    Some((pid, started))
}

/// Removes working directories whose owning process is gone, first killing any process
/// listed in their pid file that still runs from that directory (in case PDEATHSIG could not
/// do it), and the cgroups of their real nodes. Returns the directories removed. Errors are
/// ignored: another process may be reaping the same directory at the same time.
pub fn reap_orphans() -> Vec<PathBuf> {
    let removed = reap_dirs();
    // After the directories: their leftover processes are dead by now, so the cgroups empty.
    crate::node::cgroup::reap();
    removed
}

fn reap_dirs() -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(root()) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, started)) = name.to_str().and_then(owner) else {
            continue;
        };
        let alive = sys::process_alive(pid) && sys::process_start_time(pid) == Some(started);
        if alive {
            continue;
        }
        let dir = entry.path();
        kill_leftovers(&dir);
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

/// Kills processes from `dir`'s pid file whose command line still mentions `dir`.
fn kill_leftovers(dir: &Path) {
    let Ok(pids) = std::fs::read_to_string(dir.join(PIDS_FILE)) else {
        return;
    };
    let needle = dir.to_string_lossy().into_owned();
    for pid in pids.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            sys::kill_pid(pid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_parses_only_our_names() {
        assert_eq!(owner("123-456-0"), Some((123, 456)));
        assert_eq!(owner("123-456"), None);
        assert_eq!(owner("up"), None);
        assert_eq!(owner("a-1-2"), None);
    }
}
