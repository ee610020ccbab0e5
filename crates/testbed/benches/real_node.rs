//! Real node timings: `cargo bench -p kubemedic-testbed --bench real_node` (root needed).
//!
//! Starts a testbed with one real node KUBEMEDIC_BENCH_RUNS times (default 5) and prints
//! median/min/max of: each start phase of the node (namespaces and link; containerd answering;
//! pause + busybox packed and imported; kubelet start → Node Ready; kube-proxy's rules), a
//! busybox pod's create → Running, and the teardown (drop until every process of the node is
//! gone, its link and cgroups removed).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kubemedic_testbed::{Options, Testbed, images};

fn summary(label: &str, mut values: Vec<Duration>) {
    values.sort();
    let median = if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2
    };
    println!(
        "  {label:<40} median {:>6.2}s  min {:>6.2}s  max {:>6.2}s",
        median.as_secs_f64(),
        values[0].as_secs_f64(),
        values[values.len() - 1].as_secs_f64()
    );
}

async fn pod_running(tb: &Testbed) -> Result<Duration, String> {
    let pods: Api<Pod> = Api::namespaced(tb.client(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench"},
        "spec": {"nodeName": tb.real_node().name(), "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]},
    }))
    .map_err(|e| e.to_string())?;
    let start = Instant::now();
    pods.create(&PostParams::default(), &pod)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let p = pods.get("bench").await.map_err(|e| e.to_string())?;
        if p.status.and_then(|s| s.phase).as_deref() == Some("Running") {
            return Ok(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(120) {
            return Err("pod not Running after 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if !Testbed::real_nodes_supported().await {
        return std::process::ExitCode::SUCCESS;
    }
    let runs: usize = std::env::var("KUBEMEDIC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (mut timings, mut pods, mut teardowns) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let busybox = match images::busybox() {
            Ok(image) => image,
            Err(e) => {
                eprintln!("real-node bench: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let tb = match Testbed::try_start(Options {
            real_nodes: 1,
            node_images: vec![busybox],
            ..Options::default()
        })
        .await
        {
            Ok(tb) => tb,
            Err(e) => {
                eprintln!("real-node bench: cannot start: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        timings.push(tb.real_node().start_timings());
        match pod_running(&tb).await {
            Ok(d) => pods.push(d),
            Err(e) => {
                eprintln!("real-node bench: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
        let stop = Instant::now();
        drop(tb);
        teardowns.push(stop.elapsed());
    }
    println!("one real node ({runs} runs):");
    let pick = |f: fn(&kubemedic_testbed::NodeTimings) -> Duration| {
        timings.iter().map(f).collect::<Vec<_>>()
    };
    summary("namespaces, mounts, link", pick(|t| t.namespaces));
    summary("containerd start -> answers", pick(|t| t.containerd));
    summary("pause + busybox packed and imported", pick(|t| t.images));
    summary("kubelet start -> Node Ready", pick(|t| t.kubelet_ready));
    summary("kube-proxy start -> rules", pick(|t| t.kube_proxy));
    summary("node total (start -> Ready, rules)", pick(|t| t.total));
    summary("pod create -> Running", pods);
    summary("teardown (drop -> nothing left)", teardowns);
    std::process::ExitCode::SUCCESS
}
