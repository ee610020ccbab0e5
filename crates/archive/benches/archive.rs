//! Archive figures for the README: SQLite ingest (events/s, batched transactions, one core),
//! query by object and full-text `--grep` over a large store (p50/p99), PostgreSQL ingest.
//!
//! `taskset -c 0 cargo bench -p kubemedic-archive --bench archive`
//! Environment: `KM_BENCH_ROWS` (default 10,000,000 occurrences in the query store),
//! `KM_BENCH_DIR` (default: a temporary directory under /tmp; the store is deleted at the end),
//! `KM_BENCH_PG_ROWS` (default 500,000; 0 skips PostgreSQL).

use jiff::Timestamp;
use kubemedic_archive::pgserver::PgServer;
use kubemedic_archive::postgres::PostgresStore;
use kubemedic_archive::{
    Batch, EventOccurrence, EventQuery, ObjectRef, Origin, SqliteStore, Store, WorkloadRef,
};
use std::time::{Duration, Instant};

const BATCH: usize = 5_000;
const REASONS: [&str; 8] = [
    "Scheduled",
    "Pulled",
    "Created",
    "Started",
    "BackOff",
    "Unhealthy",
    "Killing",
    "FailedMount",
];

/// A cheap deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Occurrence `i` of a realistic stream: 150,000 pods in 300 namespaces, 8 reasons, about one
/// in five a repeat of an earlier event, messages naming the pod and container.
fn occurrence(i: u64, rng: &mut Rng) -> EventOccurrence {
    let pod = rng.next() % 150_000;
    let ns = pod % 300;
    let reason = REASONS[(rng.next() % 8) as usize];
    let repeat = rng.next().is_multiple_of(5);
    let (uid, count) = if repeat {
        (
            format!("{:032x}", i.saturating_sub(1 + rng.next() % 1000)),
            2 + (i % 7) as i64,
        )
    } else {
        (format!("{:032x}", i), 1)
    };
    let t =
        Timestamp::from_second(1_790_000_000 + (i / 50) as i64).unwrap_or(Timestamp::UNIX_EPOCH);
    EventOccurrence {
        uid,
        count,
        time: t,
        first_time: t,
        origin: Origin::Event,
        api: "events.k8s.io/v1".into(),
        object: ObjectRef {
            kind: "Pod".into(),
            namespace: format!("ns-{ns}"),
            name: format!("app-{}-7c9d5b6f4-{:05x}", pod % 5000, pod),
            uid: None,
        },
        workload: Some(WorkloadRef {
            kind: "Deployment".into(),
            name: format!("app-{}", pod % 5000),
        }),
        reason: reason.into(),
        type_: if reason == "BackOff" || reason == "Unhealthy" {
            "Warning"
        } else {
            "Normal"
        }
        .into(),
        message: match reason {
            "BackOff" => {
                format!("Back-off restarting failed container app in pod app-{pod}_ns-{ns}")
            }
            "Unhealthy" => format!(
                "Liveness probe failed: Get \"http://10.244.{}.{}:8080/healthz\": context deadline exceeded",
                pod % 250,
                pod % 200
            ),
            "Pulled" => format!(
                "Container image \"registry.local/app:{}\" already present on machine",
                pod % 40
            ),
            _ => format!(
                "{reason} container app of pod app-{pod} on node worker-{}",
                pod % 5000
            ),
        },
        component: "kubelet".into(),
        host: format!("worker-{}", pod % 5000),
    }
}

fn ingest(store: &dyn Store, rows: u64, seed: u64) -> Duration {
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut i = 0;
    while i < rows {
        let n = BATCH.min((rows - i) as usize);
        let events = (i..i + n as u64).map(|k| occurrence(k, &mut rng)).collect();
        store
            .write(&Batch {
                events,
                ..Default::default()
            })
            .expect("write");
        i += n as u64;
    }
    start.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rows = env("KM_BENCH_ROWS", 10_000_000);
    let base = std::env::var("KM_BENCH_DIR").unwrap_or_else(|_| "/tmp".into());
    let dir = tempfile::Builder::new()
        .prefix("km-controller-bench-")
        .tempdir_in(base)
        .expect("tempdir");
    let path = dir.path().join("archive.db");
    let store = SqliteStore::open(&path, "bench").expect("open");

    // Ingest: the first 1M rows timed alone (the steady state of a fresh store), then the rest.
    let first = rows.min(1_000_000);
    let t = ingest(&store, first, 1);
    println!(
        "sqlite ingest: {first} occurrences in {:.2} s = {:.0} events/s (batches of {BATCH}, one transaction each)",
        t.as_secs_f64(),
        first as f64 / t.as_secs_f64()
    );
    if rows > first {
        let mut rng = Rng(7);
        let start = Instant::now();
        let mut i = first;
        while i < rows {
            let n = BATCH.min((rows - i) as usize);
            let events = (i..i + n as u64).map(|k| occurrence(k, &mut rng)).collect();
            store
                .write(&Batch {
                    events,
                    ..Default::default()
                })
                .expect("write");
            i += n as u64;
        }
        let t = start.elapsed();
        println!(
            "sqlite ingest: rows {first}..{rows} in {:.1} s = {:.0} events/s",
            t.as_secs_f64(),
            (rows - first) as f64 / t.as_secs_f64()
        );
    }
    let stats = store.stats().expect("stats");
    println!(
        "sqlite store: {} occurrences, {:.2} GiB ({:.0} bytes each)",
        stats.events,
        stats.bytes as f64 / (1u64 << 30) as f64,
        stats.bytes as f64 / stats.events.max(1) as f64
    );

    // Query by object: random pods, then random Deployments (their pods' events).
    let mut rng = Rng(42);
    for (what, mk) in [("pod", 0u8), ("deploy", 1u8)] {
        let mut lat = Vec::new();
        let mut found = 0;
        for _ in 0..1_000 {
            let pod = rng.next() % 150_000;
            let sel = if mk == 0 {
                format!(
                    "pod/ns-{}/app-{}-7c9d5b6f4-{:05x}",
                    pod % 300,
                    pod % 5000,
                    pod
                )
            } else {
                format!("deploy/app-{}", pod % 5000)
            };
            let q = EventQuery {
                object: Some(sel.parse().expect("selector")),
                ..Default::default()
            };
            let s = Instant::now();
            let evs = store.events(&q).expect("query");
            lat.push(s.elapsed());
            found += evs.len();
        }
        lat.sort();
        println!(
            "sqlite query by {what} over {} occurrences: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.1} events per answer)",
            stats.events,
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0),
            found as f64 / 1_000.0
        );
    }

    // Full-text --grep: a rare phrase, a common word, a prefix; the default limit (10,000 newest).
    for text in [
        "context deadline exceeded",
        "registry local app 17",
        "Back-off",
        "liven",
    ] {
        let mut lat = Vec::new();
        let mut n = 0;
        for _ in 0..5 {
            let q = EventQuery {
                grep: Some(text.into()),
                ..Default::default()
            };
            let s = Instant::now();
            n = store.events(&q).expect("grep").len();
            lat.push(s.elapsed());
        }
        lat.sort();
        println!(
            "sqlite --grep {text:?} over {} occurrences: median {:.0} ms ({n} events, limit 10,000 newest repeats)",
            stats.events,
            percentile(&lat, 0.5).as_secs_f64() * 1e3
        );
    }
    drop(store);
    drop(dir);

    let pg_rows = env("KM_BENCH_PG_ROWS", 500_000);
    if pg_rows == 0 {
        return;
    }
    match PgServer::start(&["shared_buffers=256MB", "synchronous_commit=on"]) {
        Ok(pg) => {
            let url = pg.create_database("bench").expect("database");
            let store = PostgresStore::connect(&url, "bench").expect("connect");
            let t = ingest(&store, pg_rows, 1);
            println!(
                "postgres ingest: {pg_rows} occurrences in {:.1} s = {:.0} events/s (batches of {BATCH}, unnest insert, daily partitions, GIN text index)",
                t.as_secs_f64(),
                pg_rows as f64 / t.as_secs_f64()
            );
            let mut rng = Rng(42);
            let mut lat = Vec::new();
            for _ in 0..300 {
                let pod = rng.next() % 150_000;
                let q = EventQuery {
                    object: Some(
                        format!(
                            "pod/ns-{}/app-{}-7c9d5b6f4-{:05x}",
                            pod % 300,
                            pod % 5000,
                            pod
                        )
                        .parse()
                        .expect("selector"),
                    ),
                    ..Default::default()
                };
                let s = Instant::now();
                store.events(&q).expect("query");
                lat.push(s.elapsed());
            }
            lat.sort();
            println!(
                "postgres query by pod over {pg_rows} occurrences: p50 {:.2} ms, p99 {:.2} ms",
                percentile(&lat, 0.5).as_secs_f64() * 1e3,
                percentile(&lat, 0.99).as_secs_f64() * 1e3
            );
        }
        Err(e) => println!("postgres: skipped ({e})"),
    }
}
