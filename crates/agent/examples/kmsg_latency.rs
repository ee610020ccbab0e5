//! Benchmark: latency from a `/dev/kmsg` write to the NodeCondition visible on the apiserver.
//!
//! Starts a real control plane (testbed), creates a Node, runs the agent (kmsg source, rule
//! matching, Kubernetes exporter) in-process, then repeatedly writes a kernel line that sets a
//! condition and one that clears it (a kubemedic `recoveryPattern`), timing each until a GET of
//! the Node shows the new status (polled every 2 ms). Prints median, p90 and max.
//! Run: `bench/agent-latency.sh` (root; needs the testbed binaries).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubemedic_agent::devkmsg::{self, DevKmsgGuard};
use kubemedic_agent::k8s::KubeExporterOptions;
use kubemedic_agent::run::{AgentOptions, MonitorSet, start};
use kubemedic_agent::stats::StatsOptions;
use kubemedic_detect::config::parse_system_log_monitor;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"{
  "plugin": "kmsg", "logPath": "/dev/kmsg", "lookback": "0", "bufferSize": 10,
  "source": "latency-monitor",
  "conditions": [{"type": "KubemedicLatencyProbe", "reason": "ProbeClear", "message": "probe clear",
                  "recoveryPattern": "kubemedic-latency-probe clear \\w+"}],
  "rules": [{"type": "permanent", "condition": "KubemedicLatencyProbe", "reason": "ProbeSet",
             "pattern": "kubemedic-latency-probe set \\w+"}]
}"#;

async fn status(nodes: &Api<Node>, node: &str) -> Option<String> {
    let n = nodes.get(node).await.ok()?;
    n.status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "KubemedicLatencyProbe")
        .map(|c| c.status)
}

async fn wait_status(nodes: &Api<Node>, node: &str, want: &str) -> Duration {
    let start = Instant::now();
    loop {
        if status(nodes, node).await.as_deref() == Some(want) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "condition never became {want}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    assert!(devkmsg::available(), "needs root: writes /dev/kmsg");
    let tb = kubemedic_testbed::Testbed::try_start(kubemedic_testbed::Options::default())
        .await
        .expect("testbed (run testbed/build first)");
    let client = tb.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let node = "latency-node";
    let n: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": node}})).unwrap();
    nodes.create(&PostParams::default(), &n).await.unwrap();
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    nodes
        .patch_status(
            node,
            &PatchParams::default(),
            &Patch::Strategic(serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok", "lastHeartbeatTime": now, "lastTransitionTime": now}]}})),
        )
        .await
        .unwrap();
    let options = AgentOptions {
        node_name: node.into(),
        monitors: MonitorSet {
            log: vec![parse_system_log_monitor("latency-monitor.json", CONFIG).unwrap()],
            ..Default::default()
        },
        output: None,
        kube: Some(KubeExporterOptions::new(client.clone())),
        listen: vec![],
        stats: StatsOptions {
            iptables_save: None,
            disk_paths: vec![],
            ..Default::default()
        },
        journalctl: "journalctl".into(),
        probes: None,
    };
    let (_handles, running) = start(options, std::future::pending()).await.unwrap();
    tokio::spawn(running);
    let _guard = DevKmsgGuard::acquire().unwrap();
    wait_status(&nodes, node, "False").await;
    // Warm-up: the reader opens /dev/kmsg at its end just after start; make sure it is reading.
    let mut warm = 0;
    loop {
        devkmsg::write_line(4, &format!("kubemedic-latency-probe set warm{warm}")).unwrap();
        warm += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if status(&nodes, node).await.as_deref() == Some("True") {
            break;
        }
    }
    devkmsg::write_line(4, "kubemedic-latency-probe clear warm").unwrap();
    wait_status(&nodes, node, "False").await;

    let mut samples = Vec::new();
    for i in 0..rounds {
        let t = Instant::now();
        devkmsg::write_line(4, &format!("kubemedic-latency-probe set r{i}")).unwrap();
        wait_status(&nodes, node, "True").await;
        samples.push(t.elapsed());
        let t = Instant::now();
        devkmsg::write_line(4, &format!("kubemedic-latency-probe clear r{i}")).unwrap();
        wait_status(&nodes, node, "False").await;
        samples.push(t.elapsed());
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "kmsg write -> NodeCondition on apiserver: n={} median={:.1} ms p90={:.1} ms max={:.1} ms (target < 1000 ms)",
        samples.len(),
        ms(p(0.5)),
        ms(p(0.9)),
        ms(*samples.last().unwrap())
    );
}
