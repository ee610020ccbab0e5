//! The host's root filesystem mounted into the agent's container (`--host-root`, `/host` in the
//! DaemonSet).
//!
//! The agent's image holds one static binary and nothing else, so the helper programs it runs
//! (`journalctl` for journald monitors, `iptables-save` for the rule count) are the host's own,
//! run chrooted into the host root: they find their libraries, `/etc/machine-id`, the journal and
//! the iptables variant (legacy or nft) the host uses, and read every journal format version the
//! host's systemd writes. Directories whose disk use is a node fact are looked up under the host
//! root too, but reported under their host path.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where the host's root filesystem is, from the agent's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot(PathBuf);

impl HostRoot {
    /// The host's root mounted at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// A host path (`/var/lib/kubelet`) as the agent sees it (`/host/var/lib/kubelet`).
    pub fn resolve(&self, host_path: &Path) -> PathBuf {
        match host_path.strip_prefix("/") {
            Ok(relative) if relative.as_os_str().is_empty() => self.0.clone(),
            Ok(relative) => self.0.join(relative),
            Err(_) => self.0.join(host_path),
        }
    }
}

/// The search path for host programs inside the host root, and the child's `PATH` there: the
/// container's own `PATH` (whatever its image sets, if anything) says nothing about the host.
pub const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `program` is inside the host root: as given when it contains a `/`, else the first
/// [`HOST_PATH`] directory holding an entry of that name (a symlink counts: it is followed inside
/// the chroot, where its absolute target makes sense). `None` when no directory has it.
pub fn find_program(program: &Path, root: &HostRoot) -> Option<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Some(program.to_path_buf());
    }
    HOST_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| std::fs::symlink_metadata(root.resolve(candidate)).is_ok())
}

/// A command running `program`, chrooted into `root` when one is given (with `/` as its working
/// directory and [`HOST_PATH`] as its `PATH`; a bare program name is looked up there, see
/// [`find_program`]).
///
/// Needs `CAP_SYS_CHROOT` (the DaemonSet runs privileged); without it the spawn fails with
/// `EPERM` and the caller reports the source as degraded.
pub fn command(
    program: &Path,
    root: Option<&HostRoot>,
) -> std::io::Result<tokio::process::Command> {
    let Some(root) = root else {
        return Ok(tokio::process::Command::new(program));
    };
    let found = find_program(program, root).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} not found in the host root {} (searched {HOST_PATH})",
                program.display(),
                root.dir().display()
            ),
        )
    })?;
    let mut cmd = tokio::process::Command::new(found);
    cmd.env("PATH", HOST_PATH);
    let dir = CString::new(root.dir().as_os_str().as_bytes()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("host root {} contains a NUL byte", root.dir().display()),
        )
    })?;
    // SAFETY: the closure runs in the forked child before exec and only makes two system calls
    // (chroot, chdir) on memory prepared before the fork: no allocation, no locks.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::chroot(dir.as_c_str())?;
            rustix::process::chdir(c"/")?;
            Ok(())
        });
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_resolve_under_the_mount_point() {
        let root = HostRoot::new("/host");
        assert_eq!(root.resolve(Path::new("/")), PathBuf::from("/host"));
        assert_eq!(
            root.resolve(Path::new("/var/lib/kubelet")),
            PathBuf::from("/host/var/lib/kubelet")
        );
        assert_eq!(
            root.resolve(Path::new("var/log")),
            PathBuf::from("/host/var/log")
        );
    }

    #[test]
    fn bare_program_names_are_found_on_the_host_path_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = HostRoot::new(dir.path());
        std::fs::create_dir_all(dir.path().join("usr/sbin")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("usr/bin")).expect("mkdir");
        // Debian's alternatives: an absolute symlink that only resolves inside the chroot.
        std::os::unix::fs::symlink(
            "/etc/alternatives/iptables-save",
            dir.path().join("usr/sbin/iptables-save"),
        )
        .expect("symlink");
        std::fs::write(dir.path().join("usr/bin/journalctl"), b"").expect("write");
        assert_eq!(
            find_program(Path::new("iptables-save"), &root),
            Some(PathBuf::from("/usr/sbin/iptables-save"))
        );
        assert_eq!(
            find_program(Path::new("journalctl"), &root),
            Some(PathBuf::from("/usr/bin/journalctl"))
        );
        assert_eq!(find_program(Path::new("nope"), &root), None);
        assert_eq!(
            find_program(Path::new("/opt/bin/x"), &root),
            Some(PathBuf::from("/opt/bin/x"))
        );
        let err = command(Path::new("nope"), Some(&root)).expect_err("not found");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(
            err.to_string().contains("nope not found in the host root"),
            "{err}"
        );
    }

    #[test]
    fn a_root_with_a_nul_byte_is_refused() {
        let root = HostRoot::new(std::ffi::OsStr::from_bytes(b"/ho\0st"));
        let err = command(Path::new("/bin/true"), Some(&root)).expect_err("NUL refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
