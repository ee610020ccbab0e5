//! Benchmark (ignored by default; run by bench/controller-e2e.sh): Events created through the
//! real API as fast as the apiserver takes them (16 writers), each repeated, archived by the
//! controller; prints the write rate and the lag from each repeat's time to its archiving
//! (p50/p99), and checks every repeat arrived exactly once.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_archive::ArchiveUrl;
use std::time::{Duration, Instant};
use support::{Controller, config, create_event, ensure_namespace, repeat_event};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/controller-e2e.sh"]
async fn bench_events_through_the_api_to_the_archive() {
    let events = env("KM_BENCH_EVENTS", 2_000);
    let repeats = env("KM_BENCH_REPEATS", 3) as i32;
    let writers = env("KM_BENCH_WRITERS", 16);
    let Some(tb) = support::control_plane(&[]).await else {
        return;
    };
    let client = tb.client();
    ensure_namespace(&client, "bench").await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("archive.db");
    let ctl = Controller::start(&client, config(ArchiveUrl::Sqlite(db.clone()), "bench")).await;
    ctl.wait_leading().await;

    let start = Instant::now();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(writers));
    let mut tasks = Vec::new();
    for i in 0..events {
        let client = client.clone();
        let permit = sem.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let name = format!("e{i}");
            create_event(
                &client,
                "bench",
                &name,
                &format!("p{i}"),
                "BackOff",
                "Back-off restarting failed container",
            )
            .await;
            for n in 2..=repeats {
                repeat_event(&client, "bench", &name, n).await;
            }
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let wrote = start.elapsed();
    let total = events * repeats as usize;
    println!(
        "controller-e2e: {total} writes ({events} events x {repeats} repeats, {writers} writers) through the apiserver in {:.1} s = {:.0} writes/s",
        wrote.as_secs_f64(),
        total as f64 / wrote.as_secs_f64()
    );
    // Wait until every repeat is archived.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n: i64 = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM events WHERE namespace = 'bench'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if n as usize >= total {
            assert_eq!(n as usize, total, "exactly one row per repeat");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} of {total} archived after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut st = conn
        .prepare("SELECT archived_at - time FROM events WHERE namespace = 'bench' ORDER BY 1")
        .unwrap();
    let lags: Vec<i64> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let p = |q: f64| lags[((lags.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    println!(
        "controller-e2e: lag from the repeat's time to archived: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} repeats, SQLite archive, testbed apiserver, shared 2-core VM)",
        p(0.5),
        p(0.99),
        p(1.0),
        lags.len()
    );
    ctl.stop().await;
}
