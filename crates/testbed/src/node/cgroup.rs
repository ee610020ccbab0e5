//! Each real node's kubelet gets its own `cgroupRoot`, `kubemedic-testbed-<workdir>-<node>`,
//! created in every cgroup hierarchy before the kubelet starts and removed (with everything the
//! kubelet and runc created under it) when the node stops. The name carries the owning test
//! process (the working directory's `<pid>-<start time>-<n>`), so roots left by a SIGKILLed
//! test are found and removed by the next start ([`reap`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::sys;

/// Where the cgroup hierarchies are mounted.
const MOUNT: &str = "/sys/fs/cgroup";

/// Prefix of every node's cgroup root.
pub(crate) const PREFIX: &str = "kubemedic-testbed-";

/// How long removal waits for cgroups to empty (dying processes leave them asynchronously).
const REMOVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The name of a node's cgroup root: `kubemedic-testbed-<workdir name>-<node>`.
pub(crate) fn root_name(workdir: &Path, node: &str) -> String {
    let owner = workdir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{PREFIX}{owner}-{node}")
}

/// The owner (pid, start time) encoded in a root's name.
fn owner(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(4, '-');
    let pid = parts.next()?.parse().ok()?;
    let started = parts.next()?.parse().ok()?;
    parts.next()?.parse::<usize>().ok()?;
    parts.next()?;
    Some((pid, started))
}

/// The mounted hierarchies (real directories only: `cpu,cpuacct`-style symlinks would repeat one).
fn hierarchies() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(MOUNT) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// Whether this machine has cgroup v1 hierarchies the kubelet can use.
pub(crate) fn available() -> bool {
    Path::new(MOUNT)
        .join("memory")
        .join("memory.limit_in_bytes")
        .is_file()
}

/// Creates `name` in every v1 hierarchy (cpuset gets its parent's cpus and mems, without
/// which no task could join it).
pub(crate) fn create(name: &str) -> Result<(), String> {
    for hierarchy in hierarchies() {
        if hierarchy.ends_with("unified") {
            continue;
        }
        let dir = hierarchy.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("creating cgroup {}: {e}", dir.display())),
        }
        if hierarchy.ends_with("cpuset") {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let value = std::fs::read_to_string(hierarchy.join(file))
                    .map_err(|e| format!("reading {}/{file}: {e}", hierarchy.display()))?;
                std::fs::write(dir.join(file), value.trim())
                    .map_err(|e| format!("writing {}/{file}: {e}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// Cgroup directories below and including `dir`, deepest first.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(tree(&entry.path()));
            }
        }
    }
    if dir.is_dir() {
        out.push(dir.to_path_buf());
    }
    out
}

/// Pids in the cgroups of `dirs`.
fn procs(dirs: &[PathBuf]) -> Vec<u32> {
    dirs.iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Removes `name` and everything under it from every hierarchy. With `kill`, processes still
/// in those cgroups are SIGKILLed (a reaped root's node is dead, whatever is left in it is a
/// leftover); without, removal waits for them to leave. Errors name what could not be removed.
pub(crate) fn remove(name: &str, kill: bool) -> Result<(), String> {
    let deadline = Instant::now() + REMOVE_TIMEOUT;
    for hierarchy in hierarchies() {
        let root = hierarchy.join(name);
        loop {
            let dirs = tree(&root);
            if dirs.is_empty() {
                break;
            }
            if kill {
                for pid in procs(&dirs) {
                    sys::kill_pid(pid, libc::SIGKILL);
                }
            }
            let mut busy = None;
            for dir in &dirs {
                if let Err(e) = std::fs::remove_dir(dir)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    busy = Some(format!("{}: {e}", dir.display()));
                }
            }
            match busy {
                None => break,
                Some(why) if Instant::now() >= deadline => {
                    return Err(format!(
                        "cgroup {} not removed after {REMOVE_TIMEOUT:?}: {why}",
                        root.display()
                    ));
                }
                Some(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    Ok(())
}

/// Every node cgroup root on this machine (its name), in any hierarchy.
pub(crate) fn roots() -> Vec<String> {
    let mut names: Vec<String> = hierarchies()
        .iter()
        .filter_map(|h| std::fs::read_dir(h).ok())
        .flat_map(|entries| entries.flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Removes the cgroup roots of nodes whose test process is gone. Returns the names removed.
pub(crate) fn reap() -> Vec<String> {
    let mut removed = Vec::new();
    for name in roots() {
        let Some((pid, started)) = owner(&name) else {
            continue;
        };
        if sys::process_alive(pid) && sys::process_start_time(pid) == Some(started) {
            continue;
        }
        if remove(&name, true).is_ok() {
            removed.push(name);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_names_carry_their_owner() {
        let name = root_name(Path::new("/tmp/kubemedic-testbed/123-456-7"), "real-node-0");
        assert_eq!(name, "kubemedic-testbed-123-456-7-real-node-0");
        assert_eq!(owner(&name), Some((123, 456)));
        assert_eq!(owner("kubemedic-testbed-123-456"), None);
        assert_eq!(owner("kubepods"), None);
    }
}
