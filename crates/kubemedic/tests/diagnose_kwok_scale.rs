//! Benchmark, ignored by default (it creates 1,000 kwok nodes and 3,000 pods, a few minutes):
//! time from `kubemedic diagnose -A` start to report against a real kube-apiserver.
//!
//! `KUBEMEDIC_REQUIRE_TESTBED=1 cargo test --release -p kubemedic --test diagnose_kwok_scale -- --ignored --nocapture`
//! (or `bench/diagnose-kwok.sh`). Sizes: KUBEMEDIC_KWOK_NODES, KUBEMEDIC_KWOK_PODS. Prints figures.
#![allow(clippy::unwrap_used)]

#[path = "support/bench.rs"]
mod bench;

use bench::env_usize;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: creates 1,000 kwok nodes; run with --ignored"]
async fn diagnose_on_1000_kwok_nodes() {
    let nodes_n = env_usize("KUBEMEDIC_KWOK_NODES", 1000);
    let pods_n = env_usize("KUBEMEDIC_KWOK_PODS", 3000);
    let t = Instant::now();
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        controllers: false,
        kwok_nodes: 0,
        start_timeout: std::time::Duration::from_secs(120),
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let names = tb.add_nodes(nodes_n).await.unwrap();
    let setup_nodes = t.elapsed();
    let client = tb.client();
    let ns: Api<Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "load"}})).unwrap(),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "load");
    let t = Instant::now();
    let now = jiff::Timestamp::now();
    let broken = |i: usize| i.is_multiple_of(20); // 5%
    let creates = (0..pods_n).map(|i| {
        let pods = pods.clone();
        let node = names[i % names.len()].clone();
        async move {
            let name = format!("app-{:03}-{i:05}", i / 10);
            let p: Pod = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"app": format!("app-{:03}", i / 10)}},
                "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example.com/load/app:1.0"}],
                         "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]}
            }))
            .unwrap();
            pods.create(&PostParams::default(), &p).await.unwrap();
            if broken(i) {
                let ago = (now - jiff::SignedDuration::from_mins(2)).to_string();
                pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Running",
                    "containerStatuses": [{"name": "app", "image": "registry.example.com/load/app:1.0", "imageID": "",
                        "ready": false, "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": ago, "finishedAt": ago}}}]}})))
                    .await
                    .unwrap();
            }
        }
    });
    futures::stream::iter(creates)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let setup_pods = t.elapsed();

    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let mut times = Vec::new();
    let mut findings = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let out = kubemedic_testbed::child::output(
            std::process::Command::new(env!("CARGO_BIN_EXE_kubemedic")).args([
                "diagnose",
                "-A",
                "--kubeconfig",
                &kubeconfig,
                "-o",
                "json",
                "--no-logs",
            ]),
            Duration::from_secs(300),
        )
        .unwrap();
        times.push(t.elapsed());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        findings = v["findings"].as_array().unwrap().len();
        assert_eq!(v["summary"]["nodes"], nodes_n);
    }
    times.sort();
    println!(
        "diagnose_kwok_scale: {nodes_n} kwok nodes, {pods_n} pods ({} broken)",
        (0..pods_n).filter(|i| broken(*i)).count()
    );
    println!(
        "  setup: nodes {:.1} s, pods {:.1} s",
        setup_nodes.as_secs_f64(),
        setup_pods.as_secs_f64()
    );
    println!(
        "  kubemedic diagnose -A (start to report, --no-logs): median {:.0} ms of {} (min {:.0} ms, max {:.0} ms), {findings} findings",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times.len(),
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

use futures::StreamExt;
