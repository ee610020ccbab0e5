//! `kubemedic diagnose` against a real kube-apiserver (the testbed), and the collect → dump →
//! diagnose round trip giving the same findings.
//!
//! The pods sit on a Node object we create (no kubelet): their statuses are written through the
//! status subresource and their Events through the events.k8s.io/v1 API, exactly the data a
//! kubelet would produce. Limitation: no kubelet serves container logs here, so log-based
//! evidence cannot be exercised live (log fetches fail and are reported as skipped inputs);
//! the example dumps cover logs.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::events::v1::Event as EventV1;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::{control_plane, create_node, kubemedic, mins_ago};

fn findings(json_text: &str) -> (Value, BTreeSet<(String, String, String)>) {
    let v: Value = serde_json::from_str(json_text).unwrap_or_else(|e| panic!("{e}: {json_text}"));
    let set = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["cause"].as_str().unwrap().to_string(),
                f["object"]["kind"].as_str().unwrap().to_string(),
                f["object"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (v, set)
}

fn first_cause(v: &Value, pod: &str) -> Option<String> {
    v["findings"].as_array().unwrap().iter().find_map(|f| {
        let hit = f["object"]["name"] == pod
            || f["affected"]
                .as_array()
                .is_some_and(|a| a.iter().any(|o| o["name"] == pod));
        hit.then(|| f["cause"].as_str().unwrap().to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_diagnosis_and_collect_round_trip() {
    let Some(tb) = control_plane().await else {
        return;
    };
    let client = tb.client();
    let ago = mins_ago;

    // A Ready node.
    create_node(
        &client,
        "worker-1",
        json!({
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": ago(0), "lastTransitionTime": ago(600)}],
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}),
    )
    .await;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let pod = |name: &str, image: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
            "spec": {"nodeName": "worker-1", "containers": [{"name": "app", "image": image,
                     "resources": {"limits": {"memory": "256Mi"}, "requests": {"memory": "256Mi"}}}]}
        }))
        .unwrap()
    };
    // 1. OOMKilled: exit 137, reason OOMKilled, restarting.
    pods.create(
        &PostParams::default(),
        &pod("api-oom", "registry.example.com/shop/api:1.0"),
    )
    .await
    .unwrap();
    pods.patch_status(
        "api-oom",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "hostIP": "10.0.0.21", "podIP": "10.42.1.7",
            "startTime": ago(30),
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": ago(2)}],
            "containerStatuses": [{"name": "app", "image": "registry.example.com/shop/api:1.0", "imageID": "",
                "ready": false, "restartCount": 6, "started": false,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container=app pod=api-oom_shop"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                    "startedAt": ago(4), "finishedAt": ago(2)}}}]}})),
    )
    .await
    .unwrap();
    // 2. ImagePullBackOff with an events.k8s.io/v1 Event saying the manifest is unknown.
    let web = pods
        .create(
            &PostParams::default(),
            &pod("web", "registry.example.com/shop/web:v9"),
        )
        .await
        .unwrap();
    pods.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Pending", "hostIP": "10.0.0.21", "startTime": ago(10),
            "containerStatuses": [{"name": "app", "image": "registry.example.com/shop/web:v9", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff",
                    "message": "Back-off pulling image \"registry.example.com/shop/web:v9\""}}}]}})),
    )
    .await
    .unwrap();
    let events: Api<EventV1> = Api::namespaced(client.clone(), "shop");
    let micro = jiff::Timestamp::now().to_string();
    events
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "web.187a1c2b3d4e5f60", "namespace": "shop"},
                "eventTime": micro,
                "reportingController": "kubelet", "reportingInstance": "worker-1", "action": "Pulling",
                "regarding": {"kind": "Pod", "namespace": "shop", "name": "web", "uid": web.metadata.uid, "apiVersion": "v1",
                              "fieldPath": "spec.containers{app}"},
                "reason": "Failed", "type": "Warning",
                "note": "Failed to pull image \"registry.example.com/shop/web:v9\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/shop/web:v9\": failed to resolve reference \"registry.example.com/shop/web:v9\": registry.example.com/shop/web:v9: not found: manifest unknown"
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    // 3. A healthy pod: no warning.
    pods.create(
        &PostParams::default(),
        &pod("cart", "registry.example.com/shop/cart:2.0"),
    )
    .await
    .unwrap();
    pods.patch_status(
        "cart",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "hostIP": "10.0.0.21", "podIP": "10.42.1.9",
            "startTime": ago(60),
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ago(59)}],
            "containerStatuses": [{"name": "app", "image": "registry.example.com/shop/cart:2.0", "imageID": "",
                "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": ago(59)}}}]}})),
    )
    .await
    .unwrap();

    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let (code, out, err) =
        kubemedic(&["diagnose", "-A", "--kubeconfig", &kubeconfig, "-o", "json"]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    let (live, live_set) = findings(&out);
    assert_eq!(
        first_cause(&live, "api-oom").as_deref(),
        Some("OOMKilled"),
        "{live:#}"
    );
    assert_eq!(
        first_cause(&live, "web").as_deref(),
        Some("ImageNotFound"),
        "{live:#}"
    );
    for f in live["findings"].as_array().unwrap() {
        if f["object"]["name"] == "cart" {
            assert_eq!(f["severity"], "info", "{f}");
        }
    }
    // Namespace scoping: -n shop sees the same pods.
    let (_, out, _) = kubemedic(&[
        "diagnose",
        "-n",
        "shop",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
        "pod/web",
    ]);
    let (scoped, _) = findings(&out);
    assert_eq!(
        first_cause(&scoped, "web").as_deref(),
        Some("ImageNotFound")
    );

    // A namespace that does not exist is a typo, said so (before: "No problems found", exit 0);
    // one that exists and is empty is healthy.
    let (code, out, err) = kubemedic(&[
        "diagnose",
        "-n",
        "no-such-namespace",
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains("namespace no-such-namespace does not exist"),
        "{err}"
    );
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "empty"}})).unwrap(),
        )
        .await
        .unwrap();
    let (code, out, err) = kubemedic(&["diagnose", "-n", "empty", "--kubeconfig", &kubeconfig]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");

    // collect → dump → diagnose gives the same findings.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let (code, out, err) = kubemedic(&[
        "collect",
        dump.to_str().unwrap(),
        "-A",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["pods"], 3);
    for f in [
        "nodes.json",
        "shop/pods.json",
        "shop/events.json",
        "shop/replication-controllers.json",
        "_kubemedic/meta.json",
    ] {
        assert!(dump.join(f).is_file(), "{f} missing");
    }
    let (code, out, err) = kubemedic(&["diagnose", "--dump", dump.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    let (from_dump, dump_set) = findings(&out);
    assert_eq!(live_set, dump_set, "live:\n{live:#}\ndump:\n{from_dump:#}");
}
