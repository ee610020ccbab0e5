//! Killing a test process midway (SIGKILL, SIGTERM, SIGINT) leaves no control-plane process
//! behind, and its working directory is removed by the next testbed start.
//!
//! The test re-runs this test binary as a child with only the ignored helper below, which
//! starts a full testbed, reports its pids and directory, and blocks until killed. The helper
//! starts with default signal dispositions whatever this process inherited (a test run as a
//! background job of a script inherits SIGINT ignored, and the helper would then never die
//! from SIGINT), and every wait has a deadline.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubemedic_testbed::{Options, Testbed, child};

const REPORT_ENV: &str = "KUBEMEDIC_TESTBED_KILL_REPORT";
const WAIT: Duration = Duration::from_secs(120);

/// Run only as the child of `killed_test_leaves_nothing_behind`.
#[tokio::test]
#[ignore = "helper process for killed_test_leaves_nothing_behind"]
async fn helper_holds_a_testbed_until_killed() {
    let Some(report) = std::env::var_os(REPORT_ENV) else {
        return;
    };
    let tb = Testbed::try_start(Options {
        controllers: true,
        kwok_nodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut text = format!("dir {}\n", tb.dir().display());
    for (name, pid) in tb.pids() {
        text.push_str(&format!("pid {pid} {name}\n"));
    }
    // Write then rename, so the parent never reads half a report.
    let tmp = PathBuf::from(&report).with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &report).unwrap();
    std::future::pending::<()>().await;
}

fn alive(pid: u32) -> bool {
    // A zombie has released everything; it only waits for its new parent to reap it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the helper, waits for its report, kills it with `signal`, and checks the aftermath.
fn kill_helper_with(signal: i32, scratch: &Path) {
    let report = scratch.join(format!("report-{signal}"));
    let mut helper = Command::new(std::env::current_exe().unwrap());
    helper
        .args([
            "--exact",
            "helper_holds_a_testbed_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(REPORT_ENV, &report)
        .stdin(Stdio::null());
    // A failed assertion below must not leave the helper (and its testbed) running.
    child::die_with_test(child::reset_signals(&mut helper));
    let mut process = helper.spawn().unwrap();

    let deadline = Instant::now() + WAIT;
    while !report.exists() {
        if let Some(status) = process.try_wait().unwrap() {
            panic!("helper exited early: {status}");
        }
        assert!(Instant::now() < deadline, "helper never reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&report).unwrap();
    let dir = PathBuf::from(text.lines().find_map(|l| l.strip_prefix("dir ")).unwrap());
    let pids: Vec<(u32, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("pid "))
        .map(|l| {
            let (pid, name) = l.split_once(' ').unwrap();
            (pid.parse().unwrap(), name.to_string())
        })
        .collect();
    let names: Vec<&str> = pids.iter().map(|(_, n)| n.as_str()).collect();
    for expected in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for (pid, name) in &pids {
        assert!(alive(*pid), "{name} ({pid}) should run before the kill");
    }
    assert!(dir.is_dir());

    let child_pid = i32::try_from(process.id()).unwrap();
    // std can only SIGKILL a child; kill(2) sends the others.
    #[allow(unsafe_code)]
    // SAFETY: kill takes plain integers.
    let sent = unsafe { libc::kill(child_pid, signal) };
    assert_eq!(sent, 0);
    let status = child::wait(&mut process, WAIT)
        .unwrap_or_else(|e| panic!("helper did not die from signal {signal}: {e}"));
    assert!(!status.success(), "helper should die from signal {signal}");

    for (pid, name) in &pids {
        poll_until(&format!("{name} ({pid}) to die"), || !alive(*pid));
    }

    // The killed process could not clean up; the next start (or an explicit reap) does.
    if dir.exists() {
        let removed = kubemedic_testbed::reap_orphans();
        assert!(
            removed.contains(&dir) || !dir.exists(),
            "{} not reaped (removed {removed:?})",
            dir.display()
        );
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn killed_test_leaves_nothing_behind() {
    // Only meaningful when the testbed can run at all.
    let available = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(Testbed::binaries())
        .is_some();
    if !available {
        return;
    }
    let scratch = tempfile_dir();
    for signal in [libc::SIGKILL, libc::SIGTERM, libc::SIGINT] {
        kill_helper_with(signal, &scratch);
        let _ = writeln!(std::io::stderr(), "signal {signal}: nothing left behind");
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

fn tempfile_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kubemedic-testbed-killtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
