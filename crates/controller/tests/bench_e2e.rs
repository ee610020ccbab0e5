//! Benchmark (ignored by default; run by bench/controller-e2e.sh): Events created through the
//! real API as fast as the apiserver takes them (16 writers), each repeated, archived by the
//! controller; prints the write rate and the lag from each repeat's time to its archiving
//! (p50/p99), and checks every repeat arrived exactly once.
//!
//! With `KM_BENCH_EVENT_EXPORTER=<kubernetes-event-exporter binary>` the peer watches the same
//! apiserver during the same stream, posting to a local webhook receiver; the benchmark then
//! prints how many of the repeats each tool kept (kubemedic: archive rows by uid + count; the
//! exporter: webhook posts, and distinct uid + count among them).
#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{create_event, repeat_event};

/// kubernetes-event-exporter running against the testbed, and what its webhook received.
struct Exporter {
    child: std::process::Child,
    posts: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

impl Exporter {
    /// Starts `bin` with a webhook route for namespace `ns` and waits until a canary Event
    /// created after the start arrives (its informer is then watching).
    async fn start(
        bin: &str,
        kubeconfig: &std::path::Path,
        client: &kube::Client,
        ns: &str,
    ) -> Self {
        async fn receive(State(posts): State<Arc<Mutex<Vec<Value>>>>, body: Bytes) -> StatusCode {
            match serde_json::from_slice(&body) {
                Ok(v) => {
                    posts.lock().unwrap().push(v);
                    StatusCode::OK
                }
                Err(_) => StatusCode::BAD_REQUEST,
            }
        }
        let posts = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(posts.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("config.yaml");
        std::fs::write(
            &conf,
            format!(
                "logLevel: error\nlogFormat: json\nmaxEventAgeSeconds: 3600\nkubeQPS: 1000\nkubeBurst: 1000\n\
                 route:\n  routes:\n    - match:\n        - receiver: webhook\n          namespace: \"^{ns}$\"\n\
                 receivers:\n  - name: webhook\n    webhook:\n      endpoint: \"http://{addr}/\"\n"
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(bin);
        cmd.arg(format!("-conf={}", conf.display()))
            .arg(format!("-kubeconfig={}", kubeconfig.display()))
            .arg("-metrics-address=127.0.0.1:0")
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("exporter.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("exporter.err")).unwrap());
        kubemedic_testbed::child::reset_signals(&mut cmd);
        kubemedic_testbed::child::die_with_test(&mut cmd);
        let child = cmd.spawn().unwrap();
        let mut exporter = Exporter {
            child,
            posts,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut n = 0;
        loop {
            create_event(
                client,
                ns,
                &format!("canary-{n}"),
                "canary",
                "Canary",
                "canary",
            )
            .await;
            n += 1;
            let wait = Instant::now() + Duration::from_secs(2);
            while Instant::now() < wait {
                if !exporter.posts.lock().unwrap().is_empty() {
                    exporter.posts.lock().unwrap().clear();
                    return exporter;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Ok(Some(status)) = exporter.child.try_wait() {
                panic!("kubernetes-event-exporter exited ({status}) before watching");
            }
            assert!(
                Instant::now() < deadline,
                "kubernetes-event-exporter delivered no canary Event in 60 s"
            );
        }
    }

    /// Waits until no post arrived for 5 s (at most 120 s), then stops the exporter and returns
    /// (posts, distinct uid + count among them) for the stream's BackOff Events.
    fn finish(mut self) -> (usize, usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = (usize::MAX, Instant::now());
        while Instant::now() < deadline {
            let n = self.posts.lock().unwrap().len();
            if n != last.0 {
                last = (n, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = kubemedic_testbed::child::wait(&mut self.child, Duration::from_secs(10));
        let posts = self.posts.lock().unwrap();
        let ours: Vec<&Value> = posts.iter().filter(|p| p["reason"] == "BackOff").collect();
        let distinct: HashSet<(String, i64)> = ours
            .iter()
            .map(|p| {
                let count = p["series"]["count"]
                    .as_i64()
                    .or_else(|| p["count"].as_i64())
                    .unwrap_or(1);
                (
                    p["metadata"]["uid"].as_str().unwrap_or("").to_string(),
                    count,
                )
            })
            .collect();
        (ours.len(), distinct.len())
    }
}

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
    let Some((tb, client, _dir, db, ctl)) = support::archiving(&[], "bench", "bench").await else {
        return;
    };
    let exporter = match std::env::var("KM_BENCH_EVENT_EXPORTER") {
        Ok(bin) if !bin.is_empty() => {
            Some(Exporter::start(&bin, tb.kubeconfig_path(), &client, "bench").await)
        }
        _ => None,
    };

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
                "SELECT count(*) FROM events WHERE namespace = 'bench' AND reason = 'BackOff'",
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
        .prepare("SELECT archived_at - time FROM events WHERE namespace = 'bench' AND reason = 'BackOff' ORDER BY 1")
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
    if let Some(exporter) = exporter {
        let kept: i64 = conn
            .query_row(
                "SELECT count(*) FROM (SELECT DISTINCT uid, count FROM events WHERE namespace = 'bench' AND reason = 'BackOff')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let (posts, distinct) = tokio::task::spawn_blocking(move || exporter.finish())
            .await
            .unwrap();
        let version = std::env::var("KM_BENCH_EVENT_EXPORTER_VERSION").unwrap_or_default();
        println!(
            "controller-e2e: repeats kept of {total} ({events} events x {repeats}): kubemedic {kept} (archive rows by uid + count); kubernetes-event-exporter {version} {distinct} (webhook posts {posts}, distinct uid + count)"
        );
    }
    ctl.stop().await;
}
