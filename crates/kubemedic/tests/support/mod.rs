//! Shared by the live tests: a bare control plane, Nodes written as a kubelet would, and running
//! the built binary with a time limit.
#![allow(clippy::unwrap_used, dead_code)]

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

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

/// Runs the built `kubemedic` (without `KUBECONFIG` or `NO_COLOR`, with default signal
/// dispositions): exit code, stdout, stderr. A run that has not finished after a minute fails
/// the test instead of hanging it.
pub fn kubemedic(args: &[&str]) -> (i32, String, String) {
    let out = kubemedic_testbed::child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(args)
            .env_remove("KUBECONFIG")
            .env_remove("NO_COLOR"),
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("kubemedic {args:?}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies the directory tree `from` to `to` (a bundled example dump into a test's scratch dir).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
