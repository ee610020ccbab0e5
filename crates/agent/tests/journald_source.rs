//! journald source against real journal files (made with systemd-journal-remote from
//! journal-export text) and, for failures a real journalctl cannot be made to produce on demand,
//! a fake `journalctl` script (said so where used).
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_agent::SourceLine;
use kubemedic_agent::health::{HealthRegistry, SourceState};
use kubemedic_agent::journald::{JournaldOptions, follow};
use std::time::{Duration, Instant};
use support::{export_entry, journal_remote, write_journal};
use tokio::sync::mpsc;

async fn next_line(rx: &mut mpsc::Receiver<SourceLine>, timeout: Duration) -> Option<SourceLine> {
    tokio::time::timeout(timeout, rx.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn reads_journal_files_with_identifier_filter_and_lookback() {
    let Some(tool) = journal_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now().as_microsecond();
    let export = [
        export_entry(
            now - 3_600_000_000,
            1,
            "dockerd",
            "an hour ago, outside lookback",
        ),
        export_entry(
            now - 1_000_000,
            2,
            "dockerd",
            "OCI runtime start failed: container process is already dead: unknown",
        ),
        export_entry(now, 3, "kubelet", "not our identifier"),
    ]
    .concat();
    write_journal(&tool, &dir.path().join("a.journal"), &export);

    let health = HealthRegistry::default().register("docker-monitor", "journald");
    let (tx, mut rx) = mpsc::channel(100);
    let options = JournaldOptions {
        directory: Some(dir.path().to_path_buf()),
        identifiers: vec!["dockerd".into()],
        lookback: Some(Duration::from_secs(300)),
        ..JournaldOptions::new()
    };
    tokio::spawn(follow(options, tx, health.clone()));
    let line = next_line(&mut rx, Duration::from_secs(10))
        .await
        .expect("entry inside lookback");
    assert_eq!(
        line.message,
        "OCI runtime start failed: container process is already dead: unknown"
    );
    assert_eq!(line.timestamp.as_microsecond(), now - 1_000_000);
    // Nothing else: the old entry is outside lookback and the kubelet one is filtered out.
    assert!(
        next_line(&mut rx, Duration::from_millis(500))
            .await
            .is_none()
    );
    assert_eq!(health.state(), SourceState::Ok);
}

#[tokio::test]
async fn missing_journal_directory_is_a_warning_and_is_retried() {
    let Some(tool) = journal_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let journal_dir = dir.path().join("journal");
    let health = HealthRegistry::default().register("missing-journal", "journald");
    let (tx, mut rx) = mpsc::channel(100);
    let options = JournaldOptions {
        directory: Some(journal_dir.clone()),
        identifiers: vec!["dockerd".into()],
        lookback: Some(Duration::from_secs(300)),
        max_backoff: Duration::from_millis(200),
        ..JournaldOptions::new()
    };
    tokio::spawn(follow(options, tx, health.clone()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(health.state(), SourceState::Degraded(_)) {
        assert!(
            Instant::now() < deadline,
            "a missing journal must degrade the source"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::create_dir(&journal_dir).unwrap();
    let now = jiff::Timestamp::now().as_microsecond();
    write_journal(
        &tool,
        &journal_dir.join("late.journal"),
        &export_entry(now, 1, "dockerd", "journal appeared"),
    );
    let line = next_line(&mut rx, Duration::from_secs(15))
        .await
        .expect("read once the journal exists");
    assert_eq!(line.message, "journal appeared");
    assert_eq!(health.state(), SourceState::Ok);
}

/// A fake journalctl (a real one cannot be made to crash on demand): it prints one entry, then
/// dies. The source must restart it after the cursor of the last entry.
#[tokio::test]
async fn dying_journalctl_is_restarted_after_the_last_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("args.log");
    let script = dir.path().join("journalctl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> {log}\nn=$(wc -l < {log})\necho '{{\"__CURSOR\":\"cursor-'$n'\",\"__REALTIME_TIMESTAMP\":\"1700000000000000\",\"MESSAGE\":[104,105]}}'\nexit 1\n",
            log = log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let health = HealthRegistry::default().register("fake-journal", "journald");
    let (tx, mut rx) = mpsc::channel(100);
    let options = JournaldOptions {
        journalctl: script,
        identifiers: vec!["dockerd".into()],
        max_backoff: Duration::from_millis(100),
        ..JournaldOptions::new()
    };
    tokio::spawn(follow(options, tx, health.clone()));
    for _ in 0..2 {
        let line = next_line(&mut rx, Duration::from_secs(10))
            .await
            .expect("entry");
        assert_eq!(line.message, "hi", "MESSAGE as a byte array");
    }
    let args = std::fs::read_to_string(&log).unwrap();
    let mut calls = args.lines();
    let first = calls.next().unwrap();
    assert!(
        first.contains("--lines=0") && first.contains("SYSLOG_IDENTIFIER=dockerd"),
        "{first}"
    );
    let second = calls.next().unwrap();
    assert!(second.contains("--after-cursor=cursor-1"), "{second}");
    assert!(health.errors_total() >= 1);
}

#[tokio::test]
async fn one_journalctl_serves_several_monitors() {
    use kubemedic_agent::journald::{JournalSubscriber, follow_shared};
    let Some(tool) = journal_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now().as_microsecond();
    let export = [
        export_entry(now - 2_000_000, 1, "dockerd", "docker line"),
        export_entry(now - 1_000_000, 2, "kubelet", "kubelet line"),
        export_entry(now, 3, "sshd", "nobody wants this"),
    ]
    .concat();
    write_journal(&tool, &dir.path().join("a.journal"), &export);
    let registry = HealthRegistry::default();
    let (dtx, mut drx) = mpsc::channel(10);
    let (ktx, mut krx) = mpsc::channel(10);
    let options = JournaldOptions {
        directory: Some(dir.path().to_path_buf()),
        identifiers: vec!["dockerd".into(), "kubelet".into()],
        lookback: Some(Duration::from_secs(300)),
        ..JournaldOptions::new()
    };
    let subs = vec![
        JournalSubscriber {
            identifier: Some("dockerd".into()),
            cutoff: None,
            tx: dtx,
            health: registry.register("docker-monitor", "journald"),
        },
        JournalSubscriber {
            identifier: Some("kubelet".into()),
            cutoff: None,
            tx: ktx,
            health: registry.register("kubelet-monitor", "journald"),
        },
    ];
    tokio::spawn(follow_shared(options, subs));
    assert_eq!(
        next_line(&mut drx, Duration::from_secs(10))
            .await
            .unwrap()
            .message,
        "docker line"
    );
    assert_eq!(
        next_line(&mut krx, Duration::from_secs(10))
            .await
            .unwrap()
            .message,
        "kubelet line"
    );
    assert!(
        next_line(&mut drx, Duration::from_millis(300))
            .await
            .is_none()
    );
    assert!(
        next_line(&mut krx, Duration::from_millis(300))
            .await
            .is_none()
    );
}
