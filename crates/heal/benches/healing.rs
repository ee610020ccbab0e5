//! Healing benchmarks on the testbed (real apiserver + kwok), printing figures for the README:
//!
//! 1. latency: a node condition reaches its runbook's minimum duration → the first action
//!    (the cordon) is on the apiserver; 20 samples, p50/p99. The Healer passes back to back,
//!    listing nodes and pods from the API each pass (the controller reads its watch cache).
//! 2. cost: 1,000 kwok nodes with 100 Remediations in flight: time per pass, CPU per pass, and
//!    this process's peak RSS (the Healer plus its client, without the controller's cache).
//!
//! Run: `taskset -c 0 cargo bench -p kubemedic-heal --bench healing` (or bench/healing.sh).
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};
use kubemedic_heal::crd::{Phase, Remediation};
use kubemedic_heal::exec::live_view;
use kubemedic_heal::exec::runner::{Healer, HealerConfig};
use kubemedic_heal::library::{Library, Source};
use kubemedic_heal::safety::{Budget, SafetyConfig};
use serde_json::json;
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

fn lib(text: &str) -> Library {
    let l = Library::load(&[Source {
        origin: "bench".into(),
        text: text.into(),
    }]);
    assert!(l.errors.is_empty(), "{:?}", l.errors);
    l
}

async fn client(tb: &kubemedic_testbed::Testbed) -> Client {
    let kc = kube::config::Kubeconfig::read_from(tb.kubeconfig_path()).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    cfg.default_retry = false;
    Client::try_from(cfg).unwrap()
}

async fn install_crd(client: &Client) {
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &Remediation::crd())
        .await
        .unwrap();
    let rems: Api<Remediation> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while rems.list(&ListParams::default()).await.is_err() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn set_condition(client: &Client, node: &str, type_: &str, since: jiff::Timestamp) {
    let t = since.to_string();
    let patch = json!({"status": {"conditions": [{
        "type": type_, "status": "True", "reason": "Bench", "message": "bench",
        "lastTransitionTime": t, "lastHeartbeatTime": t,
    }]}});
    Api::<Node>::all(client.clone())
        .patch_status(node, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
}

fn safety(budget: u32) -> SafetyConfig {
    let mut s = SafetyConfig {
        max_disrupted: Budget::Count(budget),
        min_healthy: Budget::Count(0),
        ..SafetyConfig::default()
    };
    s.storm.threshold = Budget::Percent(100.0);
    s
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// (CPU seconds of this process, peak RSS in KiB), from /proc/self (USER_HZ is 100 on Linux).
fn rusage() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks as f64 / 100.0, hwm)
}

async fn latency() {
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        kwok_nodes: 20,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let c = client(&tb).await;
    install_crd(&c).await;
    let healer_client = c.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let loop_task = tokio::spawn(async move {
        let mut h = Healer::new(
            healer_client.clone(),
            HealerConfig {
                library: lib(LATENCY_RUNBOOK),
                safety: safety(100),
                identity: "bench".into(),
                lock_namespace: "default".into(),
                action_slice: Duration::from_secs(2),
            },
            None,
        );
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            // A failed pass is retried at once, as the controller's loop does.
            match live_view(&healer_client).await {
                Ok(view) => {
                    if let Err(e) = h.pass(&view).await {
                        eprintln!("pass failed (retried): {e}");
                    }
                }
                Err(e) => eprintln!("list failed (retried): {e}"),
            }
        }
    });
    let nodes: Api<Node> = Api::all(c.clone());
    let mut samples = Vec::new();
    for i in 0..20 {
        let name = format!("kwok-node-{i}");
        // Held for exactly its 10 s minimum at the moment the condition is written.
        let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(10);
        let t0 = Instant::now();
        set_condition(&c, &name, "BenchHeld", since).await;
        loop {
            let n = nodes.get(&name).await.unwrap();
            if n.spec.and_then(|s| s.unschedulable) == Some(true) {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "no cordon of {name}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        samples.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = loop_task.await;
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "healing latency, condition held → cordon on the apiserver, {} samples: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
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
    let c = client(&tb).await;
    install_crd(&c).await;
    let t = Instant::now();
    tb.add_nodes(1000).await.unwrap();
    eprintln!(
        "1,000 kwok nodes Ready in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5);
    for i in 0..100 {
        set_condition(&c, &format!("kwok-node-{i}"), "BenchStuck", since).await;
    }
    let mut h = Healer::new(
        c.clone(),
        HealerConfig {
            library: lib(COST_RUNBOOK),
            safety: safety(1000),
            identity: "bench".into(),
            lock_namespace: "default".into(),
            action_slice: Duration::from_secs(2),
        },
        None,
    );
    // Start the 100 runs (each waits on a node agent that is not there: in flight for 1 h).
    for _ in 0..3 {
        let view = live_view(&c).await.unwrap();
        h.pass(&view).await.unwrap();
    }
    let rems: Api<Remediation> = Api::all(c.clone());
    let in_flight = rems
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|r| r.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running))
        .count();
    let (cpu0, _) = rusage();
    let passes = 20;
    let mut times = Vec::new();
    for _ in 0..passes {
        let t = Instant::now();
        let view = live_view(&c).await.unwrap();
        h.pass(&view).await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (cpu1, rss_kib) = rusage();
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "healing pass, 1,000 kwok nodes, {in_flight} remediations in flight: p50 {:.0} ms, p99 {:.0} ms per pass (list nodes+pods+remediations, plan, carry runs); CPU {:.0} ms per pass; peak RSS {:.1} MiB",
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        (cpu1 - cpu0) * 1000.0 / passes as f64,
        rss_kib as f64 / 1024.0
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
