//! The wording catalog (`tests/fixtures/wordings/*.yaml`): real messages across versions, each
//! with its source, and the snapshot shapes they are put into.

use super::*;
use kubemedic_diagnose::ObjectRef;
use kubemedic_model::{NodeLogSource, Snapshot};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// One YAML file: a class of failures in many wordings.
#[derive(Debug, Deserialize)]
pub struct WordingFile {
    class: String,
    #[serde(default)]
    shape: Option<String>,
    #[serde(default)]
    expect: Option<Expect>,
    wordings: Vec<Wording>,
}

/// One real message and how to build a snapshot around it.
#[derive(Debug, Clone, Deserialize)]
pub struct Wording {
    pub id: String,
    #[serde(default)]
    pub shape: Option<String>,
    #[serde(default)]
    pub text: String,
    pub source: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub source_log: Option<String>,
    #[serde(default)]
    pub nodes: Option<usize>,
    /// The host name a DNS failure must name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
    #[serde(default)]
    pub ports: Vec<i32>,
    #[serde(default)]
    pub ran: Option<i64>,
    #[serde(default)]
    pub restarts: Option<i32>,
    #[serde(default)]
    pub logs: Option<String>,
    #[serde(default)]
    pub started_at_log: Option<String>,
    #[serde(default)]
    pub kill: Option<String>,
    #[serde(default)]
    pub count: Option<i32>,
    #[serde(default)]
    pub expect: Option<Expect>,
    #[serde(default)]
    #[allow(dead_code)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expect {
    pub object: String,
    pub cause: String,
    #[serde(default)]
    pub summary_has: Vec<String>,
    #[serde(default)]
    pub not: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    pub kind: String,
    #[serde(default)]
    pub http: Option<HttpCheck>,
    #[serde(default)]
    pub tcp: Option<TcpCheck>,
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    #[serde(default)]
    pub initial_delay_seconds: Option<i32>,
    #[serde(default)]
    pub period_seconds: Option<i32>,
    #[serde(default)]
    pub failure_threshold: Option<i32>,
    #[serde(default)]
    pub timeout_seconds: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpCheck {
    pub port: i32,
    pub path: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TcpCheck {
    pub port: i32,
}

/// A built fixture.
pub struct Case {
    pub file: String,
    pub class: String,
    pub w: Wording,
    pub shape: String,
    pub expect: Expect,
    pub snap: Snapshot,
}

fn dir() -> PathBuf {
    // From either crate that includes this module (diagnose, kubemedic).
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../diagnose/tests/fixtures/wordings")
}

pub fn load() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no wording files in {}", dir().display());
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let f: WordingFile =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for w in f.wordings {
            let shape = w
                .shape
                .clone()
                .or_else(|| f.shape.clone())
                .unwrap_or_else(|| panic!("{file}: {}: no shape", w.id));
            let expect = w
                .expect
                .clone()
                .or_else(|| f.expect.clone())
                .unwrap_or_else(|| panic!("{file}: {}: no expect", w.id));
            assert!(
                !w.source.trim().is_empty(),
                "{file}: {}: every wording names its source",
                w.id
            );
            let snap = build(&shape, &w);
            out.push(Case {
                file: file.clone(),
                class: f.class.clone(),
                w,
                shape,
                expect,
                snap,
            });
        }
    }
    out
}

pub fn object(s: &str) -> ObjectRef {
    let (kind, name) = s.split_once('/').unwrap();
    match kind {
        "node" => ObjectRef::node(name),
        "pod" => ObjectRef::pod("shop", name),
        "deploy" => ObjectRef::namespaced("Deployment", "shop", name),
        other => panic!("unknown object kind {other}"),
    }
}

/// The calico-node DaemonSet pod that runs on n1 in the `node-ready` shape.
pub const CNI_POD: &str = "calico-node-7xk2p";

fn cni_daemon_pod(node: &str) -> Value {
    json!({
        "metadata": {"name": CNI_POD, "namespace": "kube-system", "uid": "uid-calico",
            "creationTimestamp": ago(90 * 86_400),
            "labels": {"k8s-app": "calico-node"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "calico-node", "uid": "ds-calico", "controller": true}]},
        "spec": {"nodeName": node, "hostNetwork": true, "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.28.1"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "calico-node", "ready": false, "restartCount": 0, "image": "img", "imageID": "",
                "state": {"running": {"startedAt": ago(7200)}}}]}
    })
}

fn build(shape: &str, w: &Wording) -> Snapshot {
    match shape {
        "node-ready" => {
            let mut s = base();
            s.nodes[0] = node_ready("n1", "False", "KubeletNotReady", &w.text);
            s.pods
                .push(serde_json::from_value(cni_daemon_pod("n1")).unwrap());
            s.pods.push(creating_pod("api-7d4f8b9c6d-c1"));
            s
        }
        "kubelet-log" => {
            let mut s = base();
            s.nodes[0] = node_ready("n1", "False", "KubeletNotReady", "network state unknown");
            node_log(
                &mut s,
                "n1",
                NodeLogSource::Kubelet,
                &format!("{}\n", w.text),
            );
            s
        }
        "pod-event" => {
            let mut s = base();
            s.pods.push(creating_pod("api-1"));
            s.events.push(pod_event(
                "api-1",
                w.reason.as_deref().unwrap(),
                &w.text,
                37,
            ));
            s
        }
        "terminating-event" | "terminating-node-log" => {
            let mut s = base();
            s.pods.push(pod(
                "api-1",
                json!({"metadata": {"deletionTimestamp": ago(3600), "deletionGracePeriodSeconds": 30},
                    "status": {"conditions": [{"type": "Ready", "status": "False"}],
                        "containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "",
                            "state": {"running": {"startedAt": ago(90_000)}}}]}}),
            ));
            if shape == "terminating-event" {
                s.events.push(pod_event(
                    "api-1",
                    w.reason.as_deref().unwrap(),
                    &w.text,
                    101,
                ));
            } else {
                let src: NodeLogSource = w.source_log.as_deref().unwrap().parse().unwrap();
                node_log(&mut s, "n1", src, &format!("{}\n", w.text));
            }
            s
        }
        "sched" => {
            let mut s = base();
            let n = w.nodes.unwrap_or(3);
            s.nodes = (1..=n).map(|i| node(&format!("n{i}"), json!({}))).collect();
            s.pods.push(pending_pod("api-1", 1800));
            s.events
                .push(pod_event("api-1", "FailedScheduling", &w.text, 106));
            s
        }
        "app-log" => {
            let mut s = base();
            s.pods.push(failing_pod(
                "api-1",
                crashloop("api", 1, "Error", None, 20, 6),
            ));
            logs(
                &mut s,
                "api-1",
                Some(&format!("starting\n{}\n", w.text)),
                None,
            );
            s
        }
        "probe" => probe_snapshot(w),
        other => panic!("unknown shape {other}"),
    }
}

fn probe_snapshot(w: &Wording) -> Snapshot {
    let p = w.probe.as_ref().unwrap();
    let mut probe = json!({
        "initialDelaySeconds": p.initial_delay_seconds.unwrap_or(0),
        "periodSeconds": p.period_seconds.unwrap_or(10),
        "failureThreshold": p.failure_threshold.unwrap_or(3),
        "timeoutSeconds": p.timeout_seconds.unwrap_or(1),
    });
    if let Some(h) = &p.http {
        probe["httpGet"] = json!({"port": h.port, "path": h.path});
    } else if let Some(t) = &p.tcp {
        probe["tcpSocket"] = json!({"port": t.port});
    } else if let Some(cmd) = &p.exec {
        probe["exec"] = json!({"command": cmd});
    }
    let key = match p.kind.as_str() {
        "liveness" => "livenessProbe",
        "readiness" => "readinessProbe",
        "startup" => "startupProbe",
        other => panic!("unknown probe kind {other}"),
    };
    let mut container = json!({"name": "api", "image": "registry.example.com/shop/api:1.4.2"});
    container[key] = probe;
    if !w.ports.is_empty() {
        container["ports"] = Value::Array(
            w.ports
                .iter()
                .map(|p| json!({"containerPort": p, "protocol": "TCP"}))
                .collect(),
        );
    }
    let mut s = base();
    let status = match w.ran {
        Some(ran) => {
            let mut cs = crashloop("api", 137, "Error", None, ran, w.restarts.unwrap_or(5));
            if let Some(t) = &w.started_at_log {
                cs["lastState"]["terminated"]["startedAt"] = json!(t);
            }
            cs
        }
        None => {
            json!({"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "",
            "state": {"running": {"startedAt": ago(1200)}}})
        }
    };
    s.pods.push(pod(
        "api-1",
        json!({"spec": {"containers": [container]},
            "status": {"conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [status]}}),
    ));
    if let Some(l) = &w.logs {
        if w.ran.is_some() {
            logs(&mut s, "api-1", Some(l), Some("starting\n"));
        } else {
            logs(&mut s, "api-1", None, Some(l));
        }
    }
    s.events.push(container_event(
        "api-1",
        "Unhealthy",
        &w.text,
        w.count.unwrap_or(10),
    ));
    if w.ran.is_some() && p.kind != "readiness" {
        let kill = w
            .kill
            .clone()
            .unwrap_or_else(|| format!("Container api failed {} probe, will be restarted", p.kind));
        s.events.push(container_event(
            "api-1",
            "Killing",
            &kill,
            w.restarts.unwrap_or(5),
        ));
    }
    s
}
