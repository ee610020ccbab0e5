//! `--host-root`: the host's own journalctl and iptables-save run chrooted into the host's root
//! filesystem. The "host root" here is a real directory holding real copies of this machine's
//! journalctl / iptables-save and every shared library `ldd` names for them, so the chroot, the
//! dynamic loader and the programs are all real. Needs root (chroot).
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_agent::health::{HealthRegistry, SourceState};
use kubemedic_agent::hostroot::HostRoot;
use kubemedic_agent::journald::{JournaldOptions, follow};
use kubemedic_agent::stats::{Previous, StatsOptions, collect_facts, count_iptables_rules};
use kubemedic_model::facts::DiskPurpose;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::{export_entry, journal_remote, write_journal};
use tokio::sync::mpsc;

/// Whether this process may chroot; says why not (or fails under KUBEMEDIC_REQUIRE_TESTBED).
fn can_chroot() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("KUBEMEDIC_REQUIRE_TESTBED").is_none(),
        "the host-root tests need root (chroot)"
    );
    eprintln!("skipping: the host-root tests need root (chroot)");
    false
}

/// Copies `program` (symlinks resolved, installed under its own name) and the libraries `ldd`
/// lists for it into `root`, at the same paths.
fn install(root: &Path, program: &Path) {
    let real = std::fs::canonicalize(program)
        .unwrap_or_else(|e| panic!("{}: {e} (is it installed?)", program.display()));
    copy_into(root, &real, program);
    let ldd =
        kubemedic_testbed::child::output(Command::new("ldd").arg(&real), Duration::from_secs(60))
            .unwrap();
    assert!(ldd.status.success(), "ldd {}", real.display());
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            copy_into(root, Path::new(path), Path::new(path));
        }
    }
}

fn copy_into(root: &Path, from: &Path, to: &Path) {
    let dest = root.join(to.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

fn which(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found");
}

#[tokio::test]
async fn journalctl_runs_inside_the_host_root_and_reads_its_journal() {
    if !can_chroot() {
        return;
    }
    let Some(tool) = journal_remote() else { return };
    let root = tempfile::tempdir().unwrap();
    install(root.path(), &which("journalctl"));
    // The journal lives at /var/log/journal as the chrooted journalctl sees it; the agent's own
    // /var/log/journal (this machine's) is not read.
    let journal_dir = root.path().join("var/log/journal");
    std::fs::create_dir_all(&journal_dir).unwrap();
    let token = format!("host-root-{}", std::process::id());
    let now = jiff::Timestamp::now().as_microsecond();
    write_journal(
        &tool,
        &journal_dir.join("system.journal"),
        &export_entry(now, 1, "kubelet", &format!("PLEG is not healthy {token}")),
    );

    let health = HealthRegistry::default().register("kubelet-monitor", "journald");
    let (tx, mut rx) = mpsc::channel(10);
    let options = JournaldOptions {
        journalctl: "journalctl".into(),
        directory: Some("/var/log/journal".into()),
        identifiers: vec!["kubelet".into()],
        lookback: Some(Duration::from_secs(300)),
        root: Some(HostRoot::new(root.path())),
        ..JournaldOptions::new()
    };
    tokio::spawn(follow(options, tx, health.clone()));
    let line = tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("an entry within 15 s")
        .expect("the source is running");
    assert_eq!(line.message, format!("PLEG is not healthy {token}"));
    assert_eq!(health.state(), SourceState::Ok);
}

#[tokio::test]
async fn iptables_save_runs_inside_the_host_root() {
    if !can_chroot() {
        return;
    }
    let iptables_save = which("iptables-save");
    let root = tempfile::tempdir().unwrap();
    let host = HostRoot::new(root.path());
    // Looked up by name on the host's PATH inside the host root, as the DaemonSet does. Not
    // there yet: the machine's own iptables-save must not be used.
    let by_name = Path::new("iptables-save");
    assert_eq!(count_iptables_rules(by_name, Some(&host)).await, None);
    install(root.path(), &iptables_save);
    // iptables-save loads its match/target extensions at run time to print rules.
    let extensions = Path::new("/usr/lib/x86_64-linux-gnu/xtables");
    if extensions.is_dir() {
        for entry in std::fs::read_dir(extensions).unwrap() {
            let path = entry.unwrap().path();
            copy_into(root.path(), &path, &path);
        }
    }
    let inside = count_iptables_rules(by_name, Some(&host)).await;
    let outside = count_iptables_rules(&iptables_save, None).await;
    assert!(inside.is_some(), "iptables-save ran in the host root");
    // Same kernel, same network namespace: the same rules (unless another test changed them
    // between the two runs, hence no equality).
    assert!(outside.is_some());
}

#[test]
fn disk_facts_are_read_under_the_host_root_and_reported_by_host_path() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/kubelet")).unwrap();
    let opts = StatsOptions {
        disk_paths: vec![
            ("/var/lib/kubelet".into(), DiskPurpose::Kubelet),
            // Exists on this machine but not in the host root: left out.
            ("/proc".into(), DiskPurpose::Root),
        ],
        iptables_save: None,
        host_root: Some(HostRoot::new(root.path())),
        ..Default::default()
    };
    let facts = collect_facts(&opts, "node-a", &mut Previous::default());
    assert_eq!(facts.disks.len(), 1, "{:?}", facts.disks);
    assert_eq!(facts.disks[0].path, "/var/lib/kubelet");
    assert!(facts.disks[0].bytes_total > 0);
}
