//! Healing benchmarks of `kubemedic controller` (the release binary) on the testbed (real
//! apiserver + kwok), printing figures for the README:
//!
//! 1. latency: a node condition reaches its runbook's minimum duration → the first action (the
//!    cordon) is on the apiserver; 50 samples (`KM_BENCH_SAMPLES`), p50/p99/max. The path
//!    measured is the product's: the condition write reaches the controller's watch cache, wakes
//!    a healing pass, which diagnoses, plans, creates the Remediation and cordons. Each sample's
//!    stages come from the controller's own `heal_timing` log lines (watch event seen, pass
//!    scheduled and how long it waited, pass start, view built, Remediation created, cordon
//!    PATCH sent, and how long the previous pass took), so a slow sample says where it waited.
//! 2. cost: 1,000 kwok nodes with 100 Remediations in flight (each waits on a node agent that is
//!    not there): the controller process's CPU over 60 s, its resident memory, and the mean
//!    healing pass from its own `kubemedic_heal_pass_seconds`.
//!
//! Run: `bench/healing.sh [latency|cost]` (the controller is pinned to core 0).
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kubemedic_heal::crd::{Phase, Remediation};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LATENCY_RUNBOOK: &str = r#"
name: bench-cordon
description: bench
source: bench
mode: enabled
match:
  conditions:
    - type: BenchHeld
      status: "True"
      for: 10s
steps:
  - action: cordon
    timeout: 30s
"#;

const COST_RUNBOOK: &str = r#"
name: bench-inflight
description: bench
source: bench
mode: enabled
match:
  conditions:
    - type: BenchStuck
      status: "True"
      for: 1m
steps:
  - name: restart-runtime
    action: restart-runtime
    timeout: 1h
    verify: [condition-cleared]
"#;

/// Budgets out of the way: the figures are about speed, not the gates.
const HEAL_CONFIG: &str =
    "maxDisrupted: 1000\nminHealthy: 0\nstorm: {threshold: 100000, minTargets: 100000}\n";

struct Controller {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(kubeconfig: &Path, dir: &Path, runbook: &str) -> Controller {
    std::fs::create_dir_all(dir.join("runbooks")).unwrap();
    std::fs::write(dir.join("runbooks/bench.yaml"), runbook).unwrap();
    std::fs::write(dir.join("heal.yaml"), HEAL_CONFIG).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.join("controller.log");
    // The controller pinned to core 0 (taskset execs it: same pid); the testbed runs anywhere.
    let child = Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_kubemedic")])
        .args(["controller", "--kubeconfig"])
        .arg(kubeconfig)
        .arg("--archive")
        .arg(format!("sqlite:{}", dir.join("archive.db").display()))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--identity", "bench", "-n", "default", "--install-crds"])
        .arg("--runbooks")
        .arg(dir.join("runbooks"))
        .arg("--heal-config")
        .arg(dir.join("heal.yaml"))
        .env_remove("KUBECONFIG")
        // heal_timing: the timestamps of each stage (watch event, pass scheduled, pass start,
        // view built, Remediation created, cordon PATCH sent), read back by `stages`.
        .env("RUST_LOG", "warn,heal_timing=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Controller { child, port, log }
}

async fn wait_leading(c: &mut Controller) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{}/api/v1/status", c.port)).await
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["leader"] == true
            && v["synced"] == true
        {
            return;
        }
        if let Ok(Some(st)) = c.child.try_wait() {
            panic!(
                "controller exited ({st}): {}",
                std::fs::read_to_string(&c.log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "controller not leading");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A status patch, retried: with 1,000 kwok nodes heart-beating on two shared cores, the
/// apiserver sometimes closes a connection under load, which is the harness's problem, not a
/// figure.
async fn set_condition(nodes: &Api<Node>, node: &str, type_: &str, since: jiff::Timestamp) {
    let t = since.to_string();
    let patch = json!({"status": {"conditions": [{
        "type": type_, "status": "True", "reason": "Bench", "message": "bench",
        "lastTransitionTime": t, "lastHeartbeatTime": t,
    }]}});
    for attempt in 0.. {
        match nodes
            .patch_status(node, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(_) => return,
            Err(e) if attempt < 5 => {
                eprintln!("patch {node} failed (retried): {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("patch {node}: {e}"),
        }
    }
}

/// One `heal_timing` line of the controller's log: time, message, fields.
struct TimingLine {
    at: jiff::Timestamp,
    msg: String,
    fields: String,
}

impl TimingLine {
    fn field(&self, key: &str) -> Option<&str> {
        let start = self.fields.find(&format!("{key}="))? + key.len() + 1;
        let rest = &self.fields[start..];
        let end = rest.find(' ').unwrap_or(rest.len());
        Some(rest[..end].trim_matches('"'))
    }
}

fn timing_lines(log: &Path) -> Vec<TimingLine> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (ts, rest) = l.split_once(' ')?;
            let at: jiff::Timestamp = ts.parse().ok()?;
            let rest = rest.trim_start().strip_prefix("DEBUG")?.trim_start();
            let rest = rest.strip_prefix("heal_timing: ")?;
            // The message, then the fields (`key=value` pairs).
            let (msg, fields) = match rest.find('=') {
                Some(eq) => {
                    let cut = rest[..eq].rfind(' ').unwrap_or(0);
                    (rest[..cut].to_string(), rest[cut..].trim().to_string())
                }
                None => (rest.to_string(), String::new()),
            };
            Some(TimingLine { at, msg, fields })
        })
        .collect()
}

/// Where one sample's time went, in ms after the condition was written (None: not found).
#[derive(Default)]
struct Stages {
    watch: Option<f64>,
    scheduled: Option<f64>,
    wait_ms: Option<f64>,
    start: Option<f64>,
    built: Option<f64>,
    created: Option<f64>,
    cordon: Option<f64>,
    previous_pass_ms: Option<f64>,
}

fn stages(lines: &[TimingLine], node: &str, written: jiff::Timestamp) -> Stages {
    let ms = |t: jiff::Timestamp| written.duration_until(t).as_secs_f64() * 1000.0;
    let after = |from: jiff::Timestamp, msg: &str, node: Option<&str>| {
        lines.iter().find(|l| {
            l.at >= from
                && l.msg.starts_with(msg)
                && node.is_none_or(|n| l.field("node") == Some(n))
        })
    };
    let before = |until: jiff::Timestamp, msg: &str| {
        lines
            .iter()
            .rev()
            .find(|l| l.at <= until && l.msg.starts_with(msg))
    };
    let mut s = Stages {
        watch: after(written, "watch event", Some(node)).map(|l| ms(l.at)),
        ..Default::default()
    };
    let Some(created) = after(written, "Remediation created", Some(node)) else {
        return s;
    };
    s.created = Some(ms(created.at));
    s.cordon = after(created.at, "cordon PATCH sent", Some(node)).map(|l| ms(l.at));
    if let Some(start) = before(created.at, "pass start") {
        s.start = Some(ms(start.at));
        s.built = after(start.at, "view built", None).map(|l| ms(l.at));
        if let Some(sched) = before(start.at, "pass scheduled") {
            s.scheduled = Some(ms(sched.at));
            s.wait_ms = sched.field("wait_ms").and_then(|v| v.parse().ok());
        }
        s.previous_pass_ms = before(start.at, "pass done")
            .and_then(|l| l.field("ms"))
            .and_then(|v| v.parse().ok());
    }
    s
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// (CPU seconds, resident KiB, peak resident KiB) of a process (USER_HZ is 100 on Linux).
fn usage(pid: u32) -> (f64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (ticks as f64 / 100.0, kib("VmRSS:"), kib("VmHWM:"))
}

/// (sum, count) of `kubemedic_heal_pass_seconds`.
async fn pass_seconds(port: u16) -> (f64, f64) {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let get = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        get("kubemedic_heal_pass_seconds_sum"),
        get("kubemedic_heal_pass_seconds_count"),
    )
}

async fn latency() {
    let count: usize = std::env::var("KM_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        kwok_nodes: count,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("km-heal3-bench-")
        .tempdir()
        .unwrap();
    let mut c = start(tb.kubeconfig_path(), dir.path(), LATENCY_RUNBOOK);
    wait_leading(&mut c).await;
    let nodes: Api<Node> = Api::all(tb.client());
    let mut samples = Vec::new();
    let mut written = Vec::new();
    for i in 0..count {
        let name = format!("kwok-node-{i}");
        // Held for exactly its 10 s minimum at the moment the condition is written.
        let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(10);
        written.push((name.clone(), jiff::Timestamp::now()));
        let t0 = Instant::now();
        set_condition(&nodes, &name, "BenchHeld", since).await;
        loop {
            if let Ok(n) = nodes.get(&name).await
                && n.spec.and_then(|s| s.unschedulable) == Some(true)
            {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "no cordon of {name}: {}",
                std::fs::read_to_string(&c.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        samples.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    // Where the time went: every sample's stages from the controller's own timestamps.
    let lines = timing_lines(&c.log);
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    println!(
        "sample  total  watch  scheduled(wait)  pass-start  view-built  created  cordon-sent  previous-pass (ms after the condition write)"
    );
    for (i, (node, at)) in written.iter().enumerate() {
        let st = stages(&lines, node, *at);
        println!(
            "{i:>6} {:>6} {:>6} {:>9}({:>5}) {:>11} {:>11} {:>8} {:>12} {:>13}",
            format!("{:.0}", samples[i]),
            f(st.watch),
            f(st.scheduled),
            f(st.wait_ms),
            f(st.start),
            f(st.built),
            f(st.created),
            f(st.cordon),
            f(st.previous_pass_ms),
        );
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "healing latency (kubemedic controller), condition held → cordon on the apiserver, {} samples: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        samples.len(),
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        samples[samples.len() - 1]
    );
}

async fn cost() {
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        kwok_nodes: 0,
        start_timeout: Duration::from_secs(300),
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let t = Instant::now();
    tb.add_nodes(1000).await.unwrap();
    eprintln!(
        "1,000 kwok nodes Ready in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::Builder::new()
        .prefix("km-heal3-bench-")
        .tempdir()
        .unwrap();
    let mut c = start(tb.kubeconfig_path(), dir.path(), COST_RUNBOOK);
    wait_leading(&mut c).await;
    let client = tb.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5);
    for i in 0..100 {
        set_condition(&nodes, &format!("kwok-node-{i}"), "BenchStuck", since).await;
    }
    let rems: Api<Remediation> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(120);
    let in_flight = loop {
        let running = rems
            .list(&ListParams::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|r| r.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running))
                    .count()
            })
            .unwrap_or(0);
        if running >= 100 || Instant::now() > deadline {
            break running;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let pid = c.child.id();
    let window = Duration::from_secs(60);
    let (cpu0, _, _) = usage(pid);
    let (s0, n0) = pass_seconds(c.port).await;
    tokio::time::sleep(window).await;
    let (cpu1, rss, hwm) = usage(pid);
    let (s1, n1) = pass_seconds(c.port).await;
    let passes = n1 - n0;
    println!(
        "kubemedic controller, 1,000 kwok nodes, {in_flight} remediations in flight, over {} s: CPU {:.1} % of a core, RSS {:.1} MiB (peak {:.1} MiB), {passes:.0} healing passes, mean pass {:.0} ms",
        window.as_secs(),
        (cpu1 - cpu0) * 100.0 / window.as_secs_f64(),
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        if passes > 0.0 {
            (s1 - s0) * 1000.0 / passes
        } else {
            0.0
        }
    );
}

fn main() {
    let which = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if which.as_deref().is_none_or(|w| w == "latency") {
            latency().await;
        }
        if which.as_deref().is_none_or(|w| w == "cost") {
            cost().await;
        }
    });
}
