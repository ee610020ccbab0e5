//! Issue 14 on a real node (containerd, runc, kubelet 1.37): a liveness probe on a port the app
//! never listens on is LivenessProbeFailure naming the ports, not ProbeTooEarly; an app that
//! really starts slower than the probe allows (its log says so) is ProbeTooEarly. Diagnosed live,
//! through the binary, from what the kubelet really wrote.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kubemedic_testbed::{Options, Testbed, images};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Polls until the container has been restarted by the kubelet at least `restarts` times and its
/// previous instance's termination is recorded.
async fn wait_restarted(pods: &Api<Pod>, name: &str, restarts: i32, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(p) = pods.get(name).await
            && let Some(cs) = p
                .status
                .and_then(|s| s.container_statuses)
                .and_then(|cs| cs.into_iter().next())
            && cs.restart_count >= restarts
            && cs.last_state.and_then(|s| s.terminated).is_some()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pod {name} was not restarted {restarts} time(s) within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn pod(name: &str, node: &str, script: &str, probe: Value, grace: i64) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": grace,
            "containers": [{
                "name": "app", "image": "busybox:1.36",
                "command": ["sh", "-c", script],
                "ports": [{"containerPort": 8080}],
                "livenessProbe": probe,
            }],
        },
    }))
    .unwrap()
}

fn diagnose(tb: &Testbed, pod: &str) -> Value {
    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let (code, out, err) = support::kubemedic(&[
        "diagnose",
        "--kubeconfig",
        &kubeconfig,
        "-n",
        "default",
        "--no-agents",
        &format!("pod/{pod}"),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    serde_json::from_str(&out).unwrap()
}

fn causes(report: &Value, pod: &str) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["object"]["name"] == pod)
        .map(|f| {
            (
                f["cause"].as_str().unwrap().to_string(),
                f["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_port_is_a_probe_failure_and_a_slow_starter_is_too_early() {
    let Some(tb) = Testbed::start(Options {
        real_nodes: 1,
        node_images: vec![images::busybox().unwrap()],
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let node = tb.real_node().name().to_string();
    let pods: Api<Pod> = Api::namespaced(tb.client(), "default");

    // Serves on 8080 at once; the liveness probe asks 8081, where nothing ever listens. Every
    // probe gets "connect: connection refused" and the kubelet kills it at the first moment it may.
    let serve = "while true; do echo -e 'HTTP/1.0 200 OK\\r\\n\\r\\nok' | nc -l -p 8080; done";
    pods.create(
        &PostParams::default(),
        &pod(
            "dead-port",
            &node,
            &format!("echo 'api v1 starting'; echo 'listening on :8080'; {serve}"),
            json!({"httpGet": {"path": "/healthz", "port": 8081}, "initialDelaySeconds": 1,
                   "periodSeconds": 2, "failureThreshold": 2, "timeoutSeconds": 1}),
            1,
        ),
    )
    .await
    .unwrap();
    // Needs 12 s to start; the probe kills after 2 + 3 x 2 = 8 s. Like a JVM whose shutdown hook
    // waits for start-up to finish, it completes start-up (and says how long it took) after the
    // kubelet's SIGTERM, then the grace period ends with SIGKILL.
    pods.create(
        &PostParams::default(),
        &pod(
            "slow-start",
            &node,
            &format!(
                "trap 'echo shutting down after start-up' TERM; echo 'Starting app'; sleep 12; \
                 echo 'Started app in 12.0 seconds'; echo 'listening on :8080'; {serve}"
            ),
            json!({"tcpSocket": {"port": 8080}, "initialDelaySeconds": 2,
                   "periodSeconds": 2, "failureThreshold": 3, "timeoutSeconds": 1}),
            15,
        ),
    )
    .await
    .unwrap();

    wait_restarted(&pods, "dead-port", 1, Duration::from_secs(120)).await;
    let report = diagnose(&tb, "dead-port");
    let found = causes(&report, "dead-port");
    let (cause, summary) = found.first().expect("a finding for dead-port");
    assert_eq!(cause, "LivenessProbeFailure", "{found:#?}");
    assert!(
        summary.contains("8081")
            && summary.contains("8080")
            && summary.contains("connection refused"),
        "the finding names the probed and the declared port: {summary}"
    );
    assert!(
        found.iter().all(|(c, _)| c != "ProbeTooEarly"),
        "a probe that never succeeds is not a slow start: {found:#?}"
    );

    wait_restarted(&pods, "slow-start", 1, Duration::from_secs(150)).await;
    let report = diagnose(&tb, "slow-start");
    let found = causes(&report, "slow-start");
    let (cause, summary) = found.first().expect("a finding for slow-start");
    assert_eq!(cause, "ProbeTooEarly", "{found:#?}");
    assert!(
        summary.contains("start-up takes 12s") && summary.contains("kills it after 8s"),
        "{summary}"
    );
}
