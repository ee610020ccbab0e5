//! Real /dev/kmsg: lines written by the test come out of the reader, floods do not kill it.
#![allow(clippy::unwrap_used)]

use kubemedic_agent::devkmsg::{self, DevKmsgGuard};
use kubemedic_agent::health::{HealthRegistry, SourceState};
use kubemedic_agent::kmsg::{KmsgOptions, spawn_reader};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

async fn recv_containing(
    rx: &mut mpsc::Receiver<kubemedic_agent::SourceLine>,
    needle: &str,
    timeout: Duration,
) -> Option<kubemedic_agent::SourceLine> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(line)) if line.message.contains(needle) => return Some(line),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

#[tokio::test]
async fn written_line_is_read_with_wall_clock_time() {
    if !devkmsg::available() {
        eprintln!("skipping: /dev/kmsg not writable (not root?)");
        return;
    }
    let _guard = DevKmsgGuard::acquire().unwrap();
    let health = HealthRegistry::default().register("kmsg-test", "kmsg");
    let (tx, mut rx) = mpsc::channel(1024);
    let options = KmsgOptions {
        path: "/dev/kmsg".into(),
        lookback: None,
    };
    let _thread = spawn_reader(options, tx, health.clone()).unwrap();
    let marker = devkmsg::unique_marker("kmsg-read");
    let before = jiff::Timestamp::now();
    devkmsg::write_line(3, &format!("kubemedic test {marker} trailing space ")).unwrap();
    let line = recv_containing(&mut rx, &marker, Duration::from_secs(10))
        .await
        .expect("the written line arrives");
    assert!(
        line.message.ends_with(' '),
        "reader keeps the raw text; trimming is the matcher's job"
    );
    let skew = line.timestamp.duration_since(before).abs();
    assert!(
        skew < jiff::SignedDuration::from_secs(5),
        "timestamp {} vs write at {before}",
        line.timestamp
    );
    assert_eq!(health.state(), SourceState::Ok);
}

#[tokio::test]
async fn lookback_returns_older_records_and_none_skips_them() {
    if !devkmsg::available() {
        eprintln!("skipping: /dev/kmsg not writable (not root?)");
        return;
    }
    let _guard = DevKmsgGuard::acquire().unwrap();
    let marker = devkmsg::unique_marker("kmsg-lookback");
    devkmsg::write_line(4, &format!("before reader {marker}")).unwrap();

    let registry = HealthRegistry::default();
    let (tx, mut rx) = mpsc::channel(100_000);
    let _t = spawn_reader(
        KmsgOptions {
            path: "/dev/kmsg".into(),
            lookback: Some(Duration::from_secs(300)),
        },
        tx,
        registry.register("with-lookback", "kmsg"),
    )
    .unwrap();
    assert!(
        recv_containing(&mut rx, &marker, Duration::from_secs(10))
            .await
            .is_some()
    );

    let (tx2, mut rx2) = mpsc::channel(100_000);
    let _t2 = spawn_reader(
        KmsgOptions {
            path: "/dev/kmsg".into(),
            lookback: None,
        },
        tx2,
        registry.register("no-lookback", "kmsg"),
    )
    .unwrap();
    let after = devkmsg::unique_marker("kmsg-after");
    devkmsg::write_line(4, &format!("after reader {after}")).unwrap();
    // Everything before `after` must have been skipped: the first line of ours seen is `after`.
    let mut saw_old = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("after-line arrives");
        let line = tokio::time::timeout(left, rx2.recv())
            .await
            .unwrap()
            .unwrap();
        if line.message.contains(&marker) {
            saw_old = true;
        }
        if line.message.contains(&after) {
            break;
        }
    }
    assert!(
        !saw_old,
        "without lookback, records older than the start are skipped"
    );
}

#[tokio::test]
async fn flood_counts_drops_and_reader_survives() {
    if !devkmsg::available() {
        eprintln!("skipping: /dev/kmsg not writable (not root?)");
        return;
    }
    let _guard = DevKmsgGuard::acquire().unwrap();
    let health = HealthRegistry::default().register("kmsg-flood", "kmsg");
    // A tiny channel nobody drains during the flood: the reader must drop, not block.
    let (tx, mut rx) = mpsc::channel(16);
    let _t = spawn_reader(
        KmsgOptions {
            path: "/dev/kmsg".into(),
            lookback: None,
        },
        tx,
        health.clone(),
    )
    .unwrap();
    let marker = devkmsg::unique_marker("kmsg-flood");
    let lines: Vec<String> = (0..5000).map(|i| format!("flood {marker} {i}")).collect();
    devkmsg::write_lines(6, lines.iter().map(String::as_str)).unwrap();
    // Wait until the reader has seen the whole flood (read or dropped).
    let deadline = Instant::now() + Duration::from_secs(20);
    while health.lines_total() + health.dropped_total() + health.lost_total() < 5000 {
        assert!(
            Instant::now() < deadline,
            "reader stalled: {} read, {} dropped",
            health.lines_total(),
            health.dropped_total()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        health.dropped_total() > 0,
        "a full channel must count drops"
    );
    // Drain, then the reader still delivers new lines.
    while rx.try_recv().is_ok() {}
    let after = devkmsg::unique_marker("kmsg-after-flood");
    devkmsg::write_line(4, &format!("after flood {after}")).unwrap();
    assert!(
        recv_containing(&mut rx, &after, Duration::from_secs(10))
            .await
            .is_some()
    );
}
