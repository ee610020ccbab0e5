//! Shared by the live tests: a bare control plane, Nodes written as a kubelet would, and running
//! the built binary with a time limit.
#![allow(clippy::unwrap_used, dead_code)]

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// etcd + kube-apiserver only: no controllers or kwok touch what the test writes. `None` (after
/// the testbed printed why) when no testbed is available.
pub async fn control_plane() -> Option<kubemedic_testbed::Testbed> {
    kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        controllers: false,
        kwok_nodes: 0,
        ..Default::default()
    })
    .await
}

/// RFC 3339 time `mins` minutes ago.
pub fn mins_ago(mins: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(mins)).to_string()
}

/// Creates Node `name` and writes `status` through the status subresource (no kubelet runs).
pub async fn create_node(client: &kube::Client, name: &str, status: Value) {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
        )
        .await
        .unwrap();
    nodes
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .unwrap();
}

/// Runs the built `kubemedic` (without `KUBECONFIG`): exit code, stdout, stderr. A run that has
/// not finished after a minute fails the test instead of hanging it.
pub fn kubemedic(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubemedic"))
        .args(args)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kubemedic {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}
