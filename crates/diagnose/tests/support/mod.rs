//! Snapshot builders for the diagnosis tests: plain data, written from the seeds' stories.
#![allow(clippy::unwrap_used, dead_code)]

pub mod fixtures;
pub mod wordings;

use jiff::Timestamp;
use kubemedic_diagnose::{Cause, Finding, ObjectRef, Report};
use kubemedic_model::objects::{Event, Node, Pod};
use kubemedic_model::{ContainerLogs, ContainerRef, NodeFacts, NodeLogSource, Snapshot};
use serde_json::{Value, json};

/// The reference "now" of every fixture.
pub const NOW: &str = "2026-11-23T10:00:00Z";

/// RFC 3339 time `secs` before NOW.
pub fn ago(secs: i64) -> String {
    let now: Timestamp = NOW.parse().unwrap();
    (now - jiff::SignedDuration::from_secs(secs)).to_string()
}

/// Deep merge: objects merge key by key, everything else is replaced.
pub fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// A snapshot with one Ready node `n1` (and `n2`).
pub fn base() -> Snapshot {
    Snapshot {
        taken_at: Some(NOW.parse().unwrap()),
        nodes: vec![node("n1", json!({})), node("n2", json!({}))],
        ..Snapshot::default()
    }
}

/// A Ready node; `over` is merged into the JSON.
pub fn node(name: &str, over: Value) -> Node {
    let mut v = json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
            ],
            "nodeInfo": {"containerRuntimeVersion": "containerd://1.7.22", "kubeletVersion": "v1.31.2",
                "architecture": "amd64", "bootID": "", "kernelVersion": "5.15.0", "kubeProxyVersion": "", "machineID": "",
                "operatingSystem": "linux", "osImage": "Ubuntu 22.04", "systemUUID": ""}
        }
    });
    merge(&mut v, over);
    serde_json::from_value(v).unwrap()
}

/// Replaces the node's condition list.
pub fn node_conditions(name: &str, conditions: Value) -> Node {
    let mut n = node(name, json!({}));
    n.status.as_mut().unwrap().conditions = Some(serde_json::from_value(conditions).unwrap());
    n
}

/// A node whose Ready condition is `status` with reason and message.
pub fn node_ready(name: &str, status: &str, reason: &str, message: &str) -> Node {
    node_conditions(
        name,
        json!([
            {"type": "MemoryPressure", "status": "False"},
            {"type": "DiskPressure", "status": "False"},
            {"type": "Ready", "status": status, "reason": reason, "message": message}
        ]),
    )
}

/// A Running, Ready pod of Deployment `api` (ReplicaSet api-7d4f8b9c6d) in `shop` on n1 with
/// one container `api`; `over` is merged into the JSON.
pub fn pod(name: &str, over: Value) -> Pod {
    let mut v = json!({
        "metadata": {
            "name": name, "namespace": "shop", "uid": format!("uid-{name}"),
            "creationTimestamp": ago(86_400),
            "labels": {"app": "api", "pod-template-hash": "7d4f8b9c6d"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7d4f8b9c6d", "uid": "rs-1", "controller": true}]
        },
        "spec": {
            "nodeName": "n1",
            "containers": [{
                "name": "api", "image": "registry.example.com/shop/api:1.4.2",
                "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}, "requests": {"memory": "128Mi", "cpu": "100m"}}
            }]
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [running_ready("api")]
        }
    });
    merge(&mut v, over);
    serde_json::from_value(v).unwrap()
}

/// Container status: running and ready for a day.
pub fn running_ready(name: &str) -> Value {
    json!({"name": name, "ready": true, "restartCount": 0, "image": "img", "imageID": "",
           "state": {"running": {"startedAt": ago(86_400)}}})
}

/// Container status: waiting CrashLoopBackOff after a terminated instance.
pub fn crashloop(
    name: &str,
    exit: i32,
    reason: &str,
    message: Option<&str>,
    ran_secs: i64,
    restarts: i32,
) -> Value {
    let mut term = json!({"exitCode": exit, "reason": reason, "startedAt": ago(120 + ran_secs), "finishedAt": ago(120),
                          "containerID": "containerd://4f1c0de"});
    if let Some(m) = message {
        term["message"] = json!(m);
    }
    json!({"name": name, "ready": false, "restartCount": restarts, "image": "img", "imageID": "",
           "state": {"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 5m0s restarting failed container={name} pod=x")}},
           "lastState": {"terminated": term}})
}

/// Container status: waiting with a reason and message.
pub fn waiting(name: &str, reason: &str, message: &str) -> Value {
    json!({"name": name, "ready": false, "restartCount": 0, "image": "img", "imageID": "",
           "state": {"waiting": {"reason": reason, "message": message}}})
}

/// A pod with one container status and Ready False.
pub fn failing_pod(name: &str, status: Value) -> Pod {
    pod(
        name,
        json!({"status": {"conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [status]}}),
    )
}

/// A pod stuck in ContainerCreating.
pub fn creating_pod(name: &str) -> Pod {
    failing_pod(name, waiting("api", "ContainerCreating", ""))
}

/// A Pending pod without a node, created `age` seconds ago.
pub fn pending_pod(name: &str, age: i64) -> Pod {
    let mut p = pod(
        name,
        json!({"metadata": {"creationTimestamp": ago(age)}, "status": {"phase": "Pending", "conditions": [], "containerStatuses": []}}),
    );
    p.spec.as_mut().unwrap().node_name = None;
    p.status.as_mut().unwrap().container_statuses = None;
    p
}

/// A core/v1 Event about an object, last seen a minute ago.
pub fn event(kind: &str, ns: &str, name: &str, reason: &str, message: &str, count: i32) -> Event {
    let mut io = json!({"kind": kind, "name": name});
    if !ns.is_empty() {
        io["namespace"] = json!(ns);
    }
    serde_json::from_value(json!({
        "metadata": {"name": format!("{name}.{reason}"), "namespace": if ns.is_empty() { "default" } else { ns }},
        "involvedObject": io, "reason": reason, "message": message, "type": "Warning", "count": count,
        "firstTimestamp": ago(3000), "lastTimestamp": ago(60)
    }))
    .unwrap()
}

/// A pod event.
pub fn pod_event(pod: &str, reason: &str, message: &str, count: i32) -> Event {
    event("Pod", "shop", pod, reason, message, count)
}

/// A pod event for one container (fieldPath `spec.containers{api}`).
pub fn container_event(pod: &str, reason: &str, message: &str, count: i32) -> Event {
    let mut e = pod_event(pod, reason, message, count);
    e.involved_object.field_path = Some("spec.containers{api}".into());
    e
}

/// Adds logs of container `api` of a pod in `shop`.
pub fn logs(snap: &mut Snapshot, pod: &str, previous: Option<&str>, current: Option<&str>) {
    snap.container_logs.insert(
        ContainerRef::new("shop", pod, "api"),
        ContainerLogs {
            previous: previous.map(str::to_string),
            current: current.map(str::to_string),
        },
    );
}

/// Adds a node log.
pub fn node_log(snap: &mut Snapshot, node: &str, source: NodeLogSource, text: &str) {
    snap.node_logs
        .entry(node.to_string())
        .or_default()
        .insert(source, text.to_string());
}

/// Adds node facts from their JSON form (as in facts.json).
pub fn facts(snap: &mut Snapshot, node: &str, v: Value) {
    let mut f: NodeFacts = serde_json::from_value(v).unwrap();
    f.node = node.to_string();
    snap.node_facts.insert(node.to_string(), f);
}

/// The findings about one object, most likely first.
pub fn findings_for<'a>(r: &'a Report, object: &ObjectRef) -> Vec<&'a Finding> {
    r.findings.iter().filter(|f| &f.object == object).collect()
}

/// The first (most likely) cause for an object.
pub fn first_cause(r: &Report, object: &ObjectRef) -> Option<Cause> {
    findings_for(r, object).first().map(|f| f.cause)
}

/// Object refs used by fixtures.
pub fn pod_ref(name: &str) -> ObjectRef {
    ObjectRef::pod("shop", name)
}

/// Node ref.
pub fn node_ref(name: &str) -> ObjectRef {
    ObjectRef::node(name)
}
