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

/// The uid of event `i`: random-looking like the apiserver's UUIDs (a sequential uid would make
/// the uniqueness index an append, which no real cluster gives it), the same for its repeats.
fn event_uid(i: u64) -> String {
    // splitmix64's finaliser: a bijection, so distinct events keep distinct uids.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (mix(i), mix(i ^ 0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
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
            event_uid(i.saturating_sub(1 + rng.next() % 1000)),
            2 + (i % 7) as i64,
        )
    } else {
        (event_uid(i), 1)
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

/// CPU time of the calling thread (SQLite runs on it: this is the ingest's own cost, whatever
/// else shares the core).
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Writes occurrences `from..to` in batches; returns the wall time and this thread's CPU time
/// spent in `Store::write` (building the synthetic events is not the store's cost).
fn ingest(store: &dyn Store, from: u64, to: u64, seed: u64) -> (Duration, Duration) {
    let mut rng = Rng(seed);
    let mut wall = Duration::ZERO;
    let mut cpu = Duration::ZERO;
    let mut i = from;
    while i < to {
        let n = BATCH.min((to - i) as usize);
        let batch = Batch {
            events: (i..i + n as u64).map(|k| occurrence(k, &mut rng)).collect(),
            ..Default::default()
        };
        let (start, cpu0) = (Instant::now(), thread_cpu());
        store.write(&batch).expect("write");
        wall += start.elapsed();
        cpu += thread_cpu().saturating_sub(cpu0);
        i += n as u64;
    }
    (wall, cpu)
}

/// CPU time (user + system) of a process, its live descendants and its reaped children, from
/// /proc (USER_HZ is 100 on Linux x86_64).
fn process_tree_cpu(pid: u32) -> Duration {
    fn stat(pid: u32) -> Option<Vec<u64>> {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces) start at ") ", then the state.
        let rest = &s[s.rfind(") ")? + 2..];
        Some(
            rest.split(' ')
                .skip(1)
                .map(|f| f.parse::<i64>().unwrap_or(0).max(0) as u64)
                .collect(),
        )
    }
    fn children(pid: u32) -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
    // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
    // stime cutime cstime, so utime is index 10.
    let mut ticks = 0;
    let mut todo = vec![(pid, true)];
    while let Some((p, root)) = todo.pop() {
        if let Some(f) = stat(p) {
            ticks += f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
            if root {
                ticks += f.get(12).copied().unwrap_or(0) + f.get(13).copied().unwrap_or(0);
            }
        }
        todo.extend(children(p).into_iter().map(|c| (c, false)));
    }
    Duration::from_millis(ticks * 10)
}

/// The process's peak resident set (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
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
        .prefix("km-archbench2-bench-")
        .tempdir_in(base)
        .expect("tempdir");
    let path = dir.path().join("archive.db");
    let store = SqliteStore::open(&path, "bench").expect("open");

    // Ingest, timed per million rows (the cost grows with the indexes) and over the whole run.
    // Figures per wall second and per CPU second of the writing thread (the VM's cores are
    // shared with other builds, so the wall figure mostly measures the neighbours).
    let (mut wall, mut cpu) = (Duration::ZERO, Duration::ZERO);
    let mut from = 0;
    while from < rows {
        let to = rows.min(from + 1_000_000);
        let (w, c) = ingest(&store, from, to, 1 + from / 1_000_000);
        println!(
            "sqlite ingest: rows {from}..{to} in {:.1} s wall, {:.1} s CPU = {:.0} events/s wall, {:.0} events per CPU-second",
            w.as_secs_f64(),
            c.as_secs_f64(),
            (to - from) as f64 / w.as_secs_f64(),
            (to - from) as f64 / c.as_secs_f64()
        );
        wall += w;
        cpu += c;
        from = to;
    }
    println!(
        "sqlite ingest: {rows} occurrences in {:.1} s wall, {:.1} s CPU = {:.0} events/s wall, {:.0} events per CPU-second over the whole run (batches of {BATCH}, one transaction each)",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        rows as f64 / wall.as_secs_f64(),
        rows as f64 / cpu.as_secs_f64()
    );
    println!("sqlite ingest: peak RSS {:.0} MiB", peak_rss_mib());
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
        let mut cpu_lat = Vec::new();
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
            let (s, c) = (Instant::now(), thread_cpu());
            let evs = store.events(&q).expect("query");
            lat.push(s.elapsed());
            cpu_lat.push(thread_cpu().saturating_sub(c));
            found += evs.len();
        }
        lat.sort();
        cpu_lat.sort();
        // The CPU time of each query is what it costs; its wall time adds whatever else the
        // shared core ran meanwhile.
        println!(
            "sqlite query by {what} over {} occurrences: wall p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; CPU p50 {:.2} ms, p99 {:.2} ms ({:.1} events per answer)",
            stats.events,
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0),
            percentile(&cpu_lat, 0.5).as_secs_f64() * 1e3,
            percentile(&cpu_lat, 0.99).as_secs_f64() * 1e3,
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
            let server_cpu = || pg.pid().map(process_tree_cpu).unwrap_or_default();
            let before = server_cpu();
            let (wall, cpu) = ingest(&store, 0, pg_rows, 1);
            let server = server_cpu().saturating_sub(before);
            println!(
                "postgres ingest: {pg_rows} occurrences in {:.1} s wall = {:.0} events/s wall; CPU {:.1} s client + {:.1} s server = {:.0} events per CPU-second (batches of {BATCH}, unnest insert, daily partitions, GIN text index)",
                wall.as_secs_f64(),
                pg_rows as f64 / wall.as_secs_f64(),
                cpu.as_secs_f64(),
                server.as_secs_f64(),
                pg_rows as f64 / (cpu + server).as_secs_f64()
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
