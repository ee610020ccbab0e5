//! Dump reading and writing on real files: kubectl's layout, kubemedic's additions, bad input.
#![allow(clippy::unwrap_used)]

use kubemedic_cluster::{load_dump, write_dump};
use kubemedic_model::objects::{Event, Node, Pod};
use kubemedic_model::{ContainerLogs, ContainerRef, NodeFacts, NodeLogSource, Snapshot};
use serde_json::json;
use std::fs;

fn pod(ns: &str, name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "uid": "5f1c2d3e-0000-4000-8000-000000000001",
                     "managedFields": []},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.4.2"}], "nodeName": "node-a"},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "app", "image": "registry.example/app:1.4.2", "imageID": "", "ready": false,
            "restartCount": 140,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 2, "reason": "Error",
                "startedAt": "2026-11-20T23:36:40Z", "finishedAt": "2026-11-20T23:36:48Z"}}
        }]}
    }))
    .unwrap()
}

fn sample() -> Snapshot {
    let mut s = Snapshot {
        taken_at: Some("2026-11-21T08:00:00Z".parse().unwrap()),
        ..Snapshot::default()
    };
    s.nodes.push(
        serde_json::from_value::<Node>(json!({"metadata": {"name": "node-a"},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
            "message": "PLEG is not healthy: pleg was last seen active 3m0.5s ago; threshold is 3m0s",
            "lastHeartbeatTime": "2026-11-21T07:59:00Z"}]}}))
        .unwrap(),
    );
    s.pods.push(pod("shop", "api-7d7b75974d-4zlj6"));
    s.pods.push(pod("kube-system", "coredns-6f6b679f8f-rgq7r"));
    s.events.push(
        serde_json::from_value::<Event>(json!({"metadata": {"name": "api.1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "api-7d7b75974d-4zlj6"},
            "reason": "BackOff", "message": "Back-off restarting failed container app in pod api",
            "type": "Warning", "count": 12, "lastTimestamp": "2026-11-21T07:58:00Z"}))
        .unwrap(),
    );
    s.container_logs.insert(
        ContainerRef::new("shop", "api-7d7b75974d-4zlj6", "app"),
        ContainerLogs {
            current: Some("starting\n".into()),
            previous: Some(
                "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation]\ngoroutine 1 [running]:\nmain.main()"
                    .into(),
            ),
        },
    );
    s.node_logs.entry("node-a".into()).or_default().insert(
        NodeLogSource::Docker,
        "May 13 10:27:47 node-a dockerd[1234]: Another app is currently holding the xtables lock; waiting (47s) for it to exit...\n".into(),
    );
    s.node_facts.insert(
        "node-a".into(),
        NodeFacts {
            node: "node-a".into(),
            iptables_rules: Some(31_250),
            ..NodeFacts::default()
        },
    );
    s
}

#[test]
fn writer_output_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let snap = sample();
    write_dump(&snap, dir.path(), "test").unwrap();

    // kubectl's files are there, items without kind/apiVersion.
    for f in [
        "nodes.json",
        "shop/events.json",
        "shop/pods.json",
        "shop/services.json",
        "shop/deployments.json",
        "shop/replicasets.json",
        "shop/daemonsets.json",
        "shop/replication-controllers.json",
        "shop/api-7d7b75974d-4zlj6/logs.txt",
        "shop/api-7d7b75974d-4zlj6/previous-logs.txt",
        "_nodes/node-a/docker.log",
        "_nodes/node-a/facts.json",
        "_kubemedic/meta.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let pods: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("shop/pods.json")).unwrap()).unwrap();
    assert_eq!(pods["kind"], "PodList");
    assert!(pods["items"][0].get("kind").is_none());
    assert!(pods["items"][0].get("apiVersion").is_none());
    let logs = fs::read_to_string(
        dir.path()
            .join("shop/api-7d7b75974d-4zlj6/previous-logs.txt"),
    )
    .unwrap();
    assert!(logs.starts_with(
        "==== START logs for container app of pod shop/api-7d7b75974d-4zlj6 ====\npanic:"
    ));

    let back = load_dump(dir.path()).unwrap();
    assert!(back.skipped.is_empty(), "{:?}", back.skipped);
    assert_eq!(back.taken_at, snap.taken_at);
    assert_eq!(back.nodes, snap.nodes);
    let mut want_pods = snap.pods.clone();
    want_pods.sort_by(|a, b| a.metadata.namespace.cmp(&b.metadata.namespace));
    assert_eq!(back.pods, want_pods);
    assert_eq!(back.events, snap.events);
    assert_eq!(back.container_logs, snap.container_logs);
    assert_eq!(back.node_logs, snap.node_logs);
    assert_eq!(back.node_facts, snap.node_facts);
}

#[test]
fn malformed_files_are_reported_by_name_and_position_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    write_dump(&sample(), dir.path(), "test").unwrap();
    // Truncated JSON in one file.
    fs::write(
        dir.path().join("kube-system/pods.json"),
        "{\"kind\": \"PodList\",\n \"items\": [\n {\"metadata\": ",
    )
    .unwrap();
    // A wrong type in one item of another.
    let path = dir.path().join("shop/events.json");
    let mut events: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let good = events["items"][0].clone();
    let mut bad = good.clone();
    bad["count"] = json!("twelve");
    bad["metadata"]["name"] = json!("api.2");
    events["items"] = json!([good, bad]);
    fs::write(&path, serde_json::to_string_pretty(&events).unwrap()).unwrap();
    // Invalid UTF-8 in a log.
    fs::write(
        dir.path().join("_nodes/node-a/kubelet.log"),
        b"E1121 kubelet.go:1845] skipping pod synchronization - PLEG is not healthy \xff\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("_nodes/node-a/facts.json"),
        "{\"iptablesRules\": \"many\"}",
    )
    .unwrap();

    let snap = load_dump(dir.path()).unwrap();
    let reasons: Vec<String> = snap
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.input, s.reason))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("kube-system/pods.json: truncated JSON at line 3")),
        "{reasons:#?}"
    );
    assert!(
        reasons.iter().any(|r| r
            .starts_with("shop/events.json: item 1 (shop/api.2): field `count`")
            && r.contains("line")),
        "{reasons:#?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("_nodes/node-a/facts.json") && r.contains("iptablesRules")),
        "{reasons:#?}"
    );
    // The rest is still there.
    assert_eq!(snap.pods.len(), 1);
    assert_eq!(snap.events.len(), 1);
    assert_eq!(snap.nodes.len(), 1);
    let kubelet = &snap.node_logs["node-a"][&NodeLogSource::Kubelet];
    assert!(kubelet.contains("PLEG is not healthy \u{fffd}"));
}

#[test]
fn events_k8s_io_lists_are_converted() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("shop")).unwrap();
    fs::write(
        dir.path().join("nodes.json"),
        r#"{"kind":"NodeList","apiVersion":"v1","items":[]}"#,
    )
    .unwrap();
    fs::write(
        dir.path().join("shop/events.json"),
        r#"{"kind":"EventList","apiVersion":"events.k8s.io/v1","items":[{
            "metadata":{"name":"api.1","namespace":"shop"},
            "eventTime":"2026-11-21T07:00:00.000000Z",
            "regarding":{"kind":"Pod","namespace":"shop","name":"api-1"},
            "reason":"Failed","note":"Failed to pull image \"x:1\": manifest unknown","type":"Warning",
            "reportingController":"kubelet","reportingInstance":"node-a",
            "series":{"count":7,"lastObservedTime":"2026-11-21T07:30:00.000000Z"}}]}"#,
    )
    .unwrap();
    let snap = load_dump(dir.path()).unwrap();
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
    let e = &snap.events[0];
    assert_eq!(e.involved_object.name.as_deref(), Some("api-1"));
    assert_eq!(
        e.message.as_deref(),
        Some("Failed to pull image \"x:1\": manifest unknown")
    );
    assert_eq!(e.count, Some(7));
    assert_eq!(snap.taken_at, Some("2026-11-21T07:30:00Z".parse().unwrap()));
}

#[test]
fn missing_or_non_directory_dump_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_dump(&dir.path().join("nope")).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let file = dir.path().join("f");
    fs::write(&file, "x").unwrap();
    let err = load_dump(&file).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
}
