//! `testbed/prune` removes testbed builds nobody used for the keep period, and only those: not
//! the current one, not a recently used one, not one whose build lock is held.
#![allow(clippy::unwrap_used)]

use kubemedic_testbed::child;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn build_dir(root: &Path, key: &str, complete: bool) -> std::path::PathBuf {
    let dir = root.join(format!("k8s-v1.37.2-etcd-v3.6.16-kwok-v0.8.0-{key}"));
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    if complete {
        std::fs::write(dir.join("complete"), "").unwrap();
    }
    dir
}

const WAIT: Duration = Duration::from_secs(60);

fn age(path: &Path, days: u32) {
    let out = child::output(
        Command::new("touch")
            .arg("-d")
            .arg(format!("{days} days ago"))
            .arg(path),
        WAIT,
    )
    .unwrap();
    assert!(out.status.success());
}

#[test]
fn prune_removes_only_builds_unused_for_the_keep_period() {
    let root = tempfile::tempdir().unwrap();
    let current = build_dir(root.path(), "current", true);
    age(&current, 40); // built long ago, but it is the one in use
    let stale = build_dir(root.path(), "stale", true);
    age(&stale, 20);
    let used_lately = build_dir(root.path(), "lately", true);
    age(&used_lately, 20);
    std::fs::write(used_lately.join(".used"), "").unwrap();
    age(&used_lately.join(".used"), 3);
    let building = build_dir(root.path(), "building", false);
    age(&building, 20);
    // Another checkout is building into this one right now: it holds the lock.
    let mut holder = Command::new("flock");
    // --no-fork: flock becomes the sleep itself, so killing it leaves no sleep behind.
    holder
        .arg("--no-fork")
        .arg(building.join(".lock"))
        .args(["sleep", "600"]);
    let mut holder = child::die_with_test(child::reset_signals(&mut holder))
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Wait until the holder has the lock (a non-blocking attempt fails).
    while child::output(
        Command::new("flock")
            .args(["-n"])
            .arg(building.join(".lock"))
            .arg("true"),
        WAIT,
    )
    .unwrap()
    .status
    .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "flock holder did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testbed/prune");
    let out = child::output(
        Command::new("bash").arg(&script).arg(current.join("bin")),
        WAIT,
    )
    .unwrap();
    let _ = holder.kill();
    let _ = child::wait(&mut holder, WAIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(current.join("bin").is_dir());
    assert!(
        current.join(".used").is_file(),
        "the current build is marked used"
    );
    assert!(!stale.exists(), "unused for 20 days: removed");
    assert!(used_lately.exists(), "used 3 days ago: kept");
    assert!(building.exists(), "lock held: kept");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("removed") && stderr.contains("-stale"),
        "{stderr}"
    );

    // Not a build directory: refused with a clear message.
    let out = child::output(
        Command::new("bash")
            .arg(&script)
            .arg(root.path().join("nowhere/bin")),
        WAIT,
    )
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a complete testbed build"));
}
