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

/// A free port on 127.0.0.1 (bound and released: another process may take it first, rarely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The bodies a [`webhook_receiver`] was sent, in order.
pub type Bodies = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A webhook receiver on 127.0.0.1 (`POST /hook`) that keeps every body it is sent; returns the
/// bodies and its URL. It runs on the caller's tokio runtime.
pub async fn webhook_receiver() -> (Bodies, String) {
    use axum::body::Bytes;
    use axum::extract::State;
    let bodies: Bodies = Bodies::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(|State(b): State<Bodies>, body: Bytes| async move {
                b.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                "ok"
            }),
        )
        .with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (bodies, url)
}

/// Polls `f` every 200 ms until it gives a value; after `secs` the test fails naming `what`,
/// with the last 80 lines of each of `logs`.
pub async fn wait_for<F, Fut, T>(what: &str, secs: u64, logs: &[&std::path::Path], mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if std::time::Instant::now() > deadline {
            let logs: Vec<String> = logs
                .iter()
                .map(|p| {
                    let text = std::fs::read_to_string(p).unwrap_or_default();
                    let lines: Vec<&str> = text.lines().collect();
                    let tail = lines[lines.len().saturating_sub(80)..].join("\n");
                    format!("--- {} (last 80 lines)\n{tail}", p.display())
                })
                .collect();
            panic!(
                "timed out after {secs} s waiting for {what}\n{}",
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
