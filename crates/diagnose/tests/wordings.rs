//! The wording catalog: every message in `tests/fixtures/wordings/*.yaml` (real kubelet, runtime,
//! scheduler, CNI and client wordings across versions, each with its source) becomes a snapshot of
//! its `shape`, and `diagnose` must name the expected cause first for the expected object.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_diagnose::{Cause, Finding, ObjectRef, Report, diagnose};
use kubemedic_model::{NodeLogSource, Snapshot};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::*;

/// One YAML file: a class of failures in many wordings.
#[derive(Debug, Deserialize)]
struct WordingFile {
    class: String,
    #[serde(default)]
    shape: Option<String>,
    #[serde(default)]
    expect: Option<Expect>,
    wordings: Vec<Wording>,
}

/// One real message and how to build a snapshot around it.
#[derive(Debug, Clone, Deserialize)]
struct Wording {
    id: String,
    #[serde(default)]
    shape: Option<String>,
    #[serde(default)]
    text: String,
    source: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    source_log: Option<String>,
    #[serde(default)]
    nodes: Option<usize>,
    /// The host name a DNS failure must name.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    probe: Option<ProbeSpec>,
    #[serde(default)]
    ports: Vec<i32>,
    #[serde(default)]
    ran: Option<i64>,
    #[serde(default)]
    restarts: Option<i32>,
    #[serde(default)]
    logs: Option<String>,
    #[serde(default)]
    started_at_log: Option<String>,
    #[serde(default)]
    kill: Option<String>,
    #[serde(default)]
    count: Option<i32>,
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Expect {
    object: String,
    cause: String,
    #[serde(default)]
    summary_has: Vec<String>,
    #[serde(default)]
    not: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProbeSpec {
    kind: String,
    #[serde(default)]
    http: Option<HttpCheck>,
    #[serde(default)]
    tcp: Option<TcpCheck>,
    #[serde(default)]
    exec: Option<Vec<String>>,
    #[serde(default)]
    initial_delay_seconds: Option<i32>,
    #[serde(default)]
    period_seconds: Option<i32>,
    #[serde(default)]
    failure_threshold: Option<i32>,
    #[serde(default)]
    timeout_seconds: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
struct HttpCheck {
    port: i32,
    path: String,
}

#[derive(Debug, Clone, Deserialize)]
struct TcpCheck {
    port: i32,
}

/// A built fixture.
struct Case {
    file: String,
    class: String,
    w: Wording,
    shape: String,
    expect: Expect,
    snap: Snapshot,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wordings")
}

fn load() -> Vec<Case> {
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

fn object(s: &str) -> ObjectRef {
    let (kind, name) = s.split_once('/').unwrap();
    match kind {
        "node" => ObjectRef::node(name),
        "pod" => ObjectRef::pod("shop", name),
        "deploy" => ObjectRef::namespaced("Deployment", "shop", name),
        other => panic!("unknown object kind {other}"),
    }
}

/// The calico-node DaemonSet pod that runs on n1 in the `node-ready` shape.
const CNI_POD: &str = "calico-node-7xk2p";

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

fn describe(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {:.2}: {}",
                f.object, f.cause, f.confidence, f.summary
            )
        })
        .collect()
}

/// What is wrong with one case's report, if anything.
fn check(c: &Case) -> Option<String> {
    let report = diagnose(&c.snap);
    let obj = object(&c.expect.object);
    let want: Cause = c.expect.cause.parse().unwrap();
    let fs: Vec<&Finding> = report.findings.iter().filter(|f| f.object == obj).collect();
    let fail = |why: String| {
        Some(format!(
            "{} {} [{}]: {why}\n    text: {}\n    findings: {:#?}",
            c.file,
            c.w.id,
            c.shape,
            c.w.text.chars().take(160).collect::<String>(),
            describe(&report)
        ))
    };
    let Some(first) = fs.first() else {
        return fail(format!("no finding for {obj}, expected {want}"));
    };
    if first.cause != want {
        return fail(format!(
            "first cause for {obj} is {}, expected {want}",
            first.cause
        ));
    }
    for needle in &c.expect.summary_has {
        if !first.summary.contains(needle.as_str()) {
            return fail(format!("summary lacks {needle:?}: {}", first.summary));
        }
    }
    if let Some(name) = &c.w.name
        && !first.summary.contains(name.as_str())
    {
        return fail(format!("summary does not name {name:?}: {}", first.summary));
    }
    for bad in &c.expect.not {
        let bad: Cause = bad.parse().unwrap();
        if fs.iter().any(|f| f.cause == bad) {
            return fail(format!("{bad} must not be reported for {obj}"));
        }
    }
    // A network plugin that is not ready: the fix names the CNI pod on the node, and the pod stuck
    // on the node points to it.
    if c.shape == "node-ready" {
        if !first.remediation.iter().any(|r| r.contains(CNI_POD)) {
            return fail(format!(
                "the fix does not name the CNI pod {CNI_POD} on n1: {:#?}",
                first.remediation
            ));
        }
        let stuck = ObjectRef::pod("shop", "api-7d4f8b9c6d-c1");
        match report.findings.iter().find(|f| f.object == stuck) {
            Some(f)
                if f.cause == Cause::CNIFailure && f.caused_by == Some(ObjectRef::node("n1")) => {}
            other => {
                return fail(format!(
                    "the pod stuck on n1 does not point to n1's CNIFailure: {:?}",
                    other.map(|f| (f.cause, &f.caused_by))
                ));
            }
        }
    }
    None
}

#[test]
fn every_wording_gets_its_cause_first() {
    let cases = load();
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} wording fixture(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_class_has_old_and_new_wordings() {
    let cases = load();
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *per_class.entry(c.class.as_str()).or_default() += 1;
    }
    for (class, n) in per_class {
        assert!(
            n >= 2,
            "class {class} has {n} wording(s); at least an old and a new one"
        );
    }
}

#[test]
fn wording_ids_are_unique() {
    let cases = load();
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(
            seen.insert(c.w.id.clone()),
            "duplicate wording id {}",
            c.w.id
        );
    }
}
