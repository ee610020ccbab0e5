//! Real files: the tailer follows rename rotation and copytruncate, waits for a missing file,
//! and copes with 1 MiB lines and invalid UTF-8.
#![allow(clippy::unwrap_used)]

use kubemedic_agent::health::{HealthRegistry, SourceState};
use kubemedic_agent::tail::{TailOptions, tail_file};
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn options(path: &std::path::Path) -> TailOptions {
    TailOptions {
        poll_interval: Duration::from_millis(20),
        ..TailOptions::new(path)
    }
}

async fn expect_line(rx: &mut mpsc::Receiver<String>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("line {want:?} never arrived"));
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(line)) if line == want => return,
            Ok(Some(_)) => {}
            other => panic!("line {want:?} never arrived: {other:?}"),
        }
    }
}

fn append(path: &std::path::Path, text: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text).unwrap();
}

#[tokio::test]
async fn follows_rename_rotation_and_copytruncate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, b"old line before start\n");
    let health = HealthRegistry::default().register("tail", "filelog");
    let (tx, mut rx) = mpsc::channel(100);
    tokio::spawn(tail_file(options(&path), tx, health.clone()));

    // Wait until the tailer has opened the file (at its end), then append.
    let deadline = Instant::now() + Duration::from_secs(10);
    while health.state() != SourceState::Ok {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    append(&path, b"first\n");
    expect_line(&mut rx, "first").await;

    // Rename rotation: a last line lands in the old file just before the rename.
    append(&path, b"last in old file\n");
    std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
    append(&path, b"first in new file\n");
    expect_line(&mut rx, "last in old file").await;
    expect_line(&mut rx, "first in new file").await;

    // copytruncate: content copied elsewhere, file truncated in place, writing continues.
    append(&path, b"before truncate\n");
    expect_line(&mut rx, "before truncate").await;
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    // The new content is shorter than the old offset, so the tailer sees the shrink whenever it polls.
    append(&path, b"after truncate\n");
    expect_line(&mut rx, "after truncate").await;
}

#[tokio::test]
async fn missing_file_is_a_warning_and_is_picked_up_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let health = HealthRegistry::default().register("tail-missing", "filelog");
    let (tx, mut rx) = mpsc::channel(100);
    tokio::spawn(tail_file(options(&path), tx, health.clone()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(health.state(), SourceState::Degraded(_)) {
        assert!(
            Instant::now() < deadline,
            "missing file must degrade, not kill, the source"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    append(&path, b"now it exists\n");
    expect_line(&mut rx, "now it exists").await;
    assert_eq!(health.state(), SourceState::Ok);
}

#[tokio::test]
async fn one_mebibyte_line_and_invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    append(&path, b"");
    let health = HealthRegistry::default().register("tail-big", "filelog");
    let (tx, mut rx) = mpsc::channel(100);
    let opts = TailOptions {
        from_start: true,
        ..options(&path)
    };
    tokio::spawn(tail_file(opts, tx, health.clone()));
    let big = "x".repeat(1 << 20);
    append(&path, format!("{big}\n").as_bytes());
    append(&path, b"bad \xff\xfe bytes\n");
    append(&path, b"next\n");
    let line = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line.len(), 1 << 20);
    expect_line(&mut rx, "bad \u{fffd}\u{fffd} bytes").await;
    expect_line(&mut rx, "next").await;
}
