//! Real plugin processes: exit codes, output cut, timeouts that kill the process group,
//! the concurrency limit.
#![allow(clippy::unwrap_used)]

use kubemedic_agent::plugin::{PluginJob, effective_timeout, run_once, schedule};
use kubemedic_detect::PluginExit;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn job(path: PathBuf, timeout: Duration) -> PluginJob {
    PluginJob {
        rule: 0,
        path,
        args: vec![],
        timeout,
        interval: Duration::from_secs(3600),
        max_output: 80,
    }
}

#[tokio::test]
async fn exit_codes_and_output_limit() {
    let dir = tempfile::tempdir().unwrap();
    let ok = run_once(&job(
        script(dir.path(), "ok", "echo '  fine  '; exit 0"),
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(ok.exit, PluginExit::Code(0));
    assert_eq!(ok.stdout, b"  fine  \n");
    let bad = run_once(&job(
        script(dir.path(), "bad", "echo broken; exit 1"),
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(bad.exit, PluginExit::Code(1));
    let weird = run_once(&job(
        script(dir.path(), "weird", "exit 3"),
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(weird.exit, PluginExit::Code(3));
    let long = run_once(&job(
        script(
            dir.path(),
            "long",
            "head -c 100000 /dev/zero | tr '\\0' x; exit 1",
        ),
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(
        long.exit,
        PluginExit::Code(1),
        "a plugin writing more than the limit is not blocked"
    );
    assert_eq!(long.stdout.len(), 80);
    let missing = run_once(&job(
        dir.path().join("does-not-exist"),
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(missing.exit, PluginExit::Failed);
}

#[tokio::test]
async fn timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let body = format!("sleep 60 & echo $! > {}\nwait", pidfile.display());
    let started = Instant::now();
    let run = run_once(&job(
        script(dir.path(), "hang", &body),
        Duration::from_millis(300),
    ))
    .await;
    assert_eq!(run.exit, PluginExit::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
    let child: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The background child of the shell must be gone too (poll: the kernel reaps asynchronously).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for init to reap it.
        if state.is_empty() || state.split(' ').nth(2) == Some("Z") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "child {child} of the timed-out plugin still alive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Live (not a zombie) process `pid`.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next(),
            Some("Z") | Some("X")
        )
    })
}

#[tokio::test]
async fn an_abandoned_run_kills_the_process_group() {
    // The agent stopping (SIGTERM) aborts the task of a running plugin: its children must not
    // be left running as orphans of init.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let body = format!(
        "sleep 1000 & echo $! > {p}.tmp; mv {p}.tmp {p}\nwait",
        p = pidfile.display()
    );
    let job = job(script(dir.path(), "slow", &body), Duration::from_secs(600));
    let task = tokio::spawn(async move { run_once(&job).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pidfile.exists() {
        assert!(Instant::now() < deadline, "plugin never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let child: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(child));
    task.abort();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap_err()
            .is_cancelled()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(child) {
        assert!(
            Instant::now() < deadline,
            "child {child} of the abandoned plugin still alive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn smaller_timeout_wins() {
    assert_eq!(
        effective_timeout(Duration::from_secs(3), Duration::from_secs(5)),
        Duration::from_secs(3)
    );
    assert_eq!(
        effective_timeout(Duration::from_secs(30), Duration::from_secs(5)),
        Duration::from_secs(5)
    );
    assert_eq!(
        effective_timeout(Duration::ZERO, Duration::from_secs(5)),
        Duration::from_secs(5)
    );
}

#[tokio::test]
async fn concurrency_limit_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("running");
    let overlap = dir.path().join("overlap");
    let body = format!(
        "mkdir {lock} 2>/dev/null || echo overlap >> {overlap}\nsleep 0.1\nrmdir {lock} 2>/dev/null\nexit 0",
        lock = lock.display(),
        overlap = overlap.display()
    );
    let path = script(dir.path(), "serial", &body);
    let jobs: Vec<PluginJob> = (0..4)
        .map(|rule| PluginJob {
            rule,
            ..job(path.clone(), Duration::from_secs(10))
        })
        .collect();
    let (tx, mut rx) = mpsc::channel(16);
    let handle = tokio::spawn(schedule(jobs, 1, tx));
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 4 {
        let run = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(run.exit, PluginExit::Code(0));
        seen.insert(run.rule);
    }
    handle.abort();
    assert!(!overlap.exists(), "two runs overlapped with concurrency 1");
}
