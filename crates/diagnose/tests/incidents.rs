//! Incidents: the node-notready seed at full size (58 nodes NotReady from xtables lock contention
//! during a mass rollout) is one incident finding over per-node findings.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_diagnose::{Cause, ObjectRef, Severity, diagnose};
use kubemedic_model::{NodeLogSource, Snapshot};
use serde_json::json;
use support::*;

/// The seed at full size: 58 nodes `paas-10-239-40-101..158` go NotReady within 14 minutes after
/// Deployment `api` starts 290 hostPort pods on them; 4 nodes on another kernel stay Ready.
pub fn seed58() -> Snapshot {
    let mut s = base();
    s.nodes.clear();
    for i in 0..62 {
        let name = format!("paas-10-239-40-{}", 101 + i);
        let affected = i < 58;
        let mut n = node(
            &name,
            json!({"status": {"nodeInfo": {"kernelVersion": if affected { "3.10.0-957.el7.x86_64" } else { "5.4.119-19.0009.tl3" }}}}),
        );
        if affected {
            let down = ago(1800 - i64::from(i) * 14);
            n.status.as_mut().unwrap().conditions = Some(
                serde_json::from_value(json!([
                    {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                     "message": "PLEG is not healthy: pleg was last seen active 4m2.1s ago; threshold is 3m0s",
                     "lastTransitionTime": down}
                ]))
                .unwrap(),
            );
            node_log(
                &mut s,
                &name,
                NodeLogSource::Docker,
                &format!(
                    "Nov 23 09:3{}:47 {name} dockerd: time=\"2026-11-23T09:30:49+08:00\" level=error msg=\"Handler for POST /containers/4f1c/start returned error: driver failed programming external connectivity on endpoint k8s_api: iptables failed: Another app is currently holding the xtables lock; waiting ({}s) for it to exit...\"\n",
                    i % 10,
                    40 + i % 17
                ),
            );
            node_log(
                &mut s,
                &name,
                NodeLogSource::Kubelet,
                &format!(
                    "Nov 23 09:3{}:01 {name} kubelet: I1123 09:3{}:01.112 1841 kubelet.go:1775] skipping pod synchronization - [PLEG is not healthy: pleg was last seen active 3m{}.3s ago; threshold is 3m0s]\n",
                    i % 10,
                    i % 10,
                    i % 60
                ),
            );
            facts(&mut s, &name, json!({"iptablesRules": 30000 + i * 17}));
            for k in 0..5 {
                let pod_name = format!("api-7d4f8b9c6d-{i:02}{k}");
                let mut p = pod(
                    &pod_name,
                    json!({"metadata": {"creationTimestamp": ago(2400)},
                           "spec": {"nodeName": name, "containers": [{"name": "api", "image": "registry.example.com/shop/api:1.4.2",
                                "ports": [{"containerPort": 8080, "hostPort": 31000 + k}]}]},
                           "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
                                "containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "",
                                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}}),
                );
                p.metadata.uid = Some(format!("uid-{pod_name}"));
                s.pods.push(p);
                s.events.push(event(
                    "Pod",
                    "shop",
                    &pod_name,
                    "FailedCreatePodSandBox",
                    "Failed create pod sandbox: rpc error: code = DeadlineExceeded desc = context deadline exceeded",
                    3,
                ));
            }
        }
        s.nodes.push(n);
    }
    s
}

#[test]
fn fifty_eight_nodes_sharing_a_cause_are_one_incident() {
    let report = diagnose(&seed58());
    let first = &report.findings[0];
    assert_eq!(
        first.object.kind,
        "Incident",
        "{:#?}",
        &report.findings[..3]
    );
    assert_eq!(first.cause, Cause::IptablesLockContention);
    assert_eq!(first.severity, Severity::Critical);
    assert_eq!(first.affected.len(), 58);
    assert!(
        first
            .summary
            .starts_with("58 nodes went NotReady within 13m"),
        "{}",
        first.summary
    );
    let ev: Vec<String> = first
        .evidence
        .iter()
        .map(|e| format!("{} | {}", e.source, e.text))
        .collect();
    assert!(
        ev[0].contains("paas-10-239-40-{101..158}"),
        "nodes listed compactly: {ev:#?}"
    );
    // The common trigger: the rollout and the kernel only these nodes run.
    assert!(
        ev.iter().any(|e| e.starts_with("trigger")
            && e.contains("290 pods created")
            && e.contains("(api 290)")),
        "{ev:#?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.starts_with("trigger") && e.contains("kernel 3.10.0-957.el7.x86_64")),
        "{ev:#?}"
    );
    // The shared evidence quoted once, with how many nodes show it.
    assert!(
        ev.iter()
            .any(|e| e.contains("on 58 of 58 nodes)") && e.contains("xtables lock")),
        "{ev:#?}"
    );
    assert!(ev.iter().filter(|e| e.contains("xtables lock")).count() <= 2);
    // Per-node findings are kept, under the incident.
    let incident = first.object.clone();
    let per_node: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.object.kind == "Node")
        .collect();
    assert_eq!(per_node.len(), 58);
    assert!(
        per_node
            .iter()
            .all(|f| f.incident.as_ref() == Some(&incident))
    );
    // The pods stuck on those nodes (grouped on their Deployment) belong to it too.
    let deploy = report
        .findings
        .iter()
        .find(|f| f.object == ObjectRef::namespaced("Deployment", "shop", "api"))
        .expect("the stuck pods grouped on their deployment");
    assert_eq!(deploy.cause, Cause::IptablesLockContention);
    assert_eq!(deploy.incident.as_ref(), Some(&incident));
    // JSON carries both the incident and the per-node findings.
    let v = serde_json::to_value(&report).unwrap();
    let arr = v["findings"].as_array().unwrap();
    assert_eq!(arr[0]["object"]["kind"], "Incident");
    assert_eq!(
        arr.iter()
            .filter(|f| f["incident"]["name"] == json!(incident.name))
            .count(),
        59
    );
}

/// Keeps the first `n` nodes (and their logs and facts) and no pods.
fn keep_nodes(s: &mut Snapshot, n: usize) {
    s.nodes.truncate(n);
    let keep: Vec<String> = s
        .nodes
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();
    s.node_logs.retain(|k, _| keep.contains(k));
    s.node_facts.retain(|k, _| keep.contains(k));
    s.pods.clear();
    s.events.clear();
}

#[test]
fn two_nodes_or_different_times_are_not_an_incident() {
    // Two nodes: each keeps its own finding.
    let mut s = seed58();
    keep_nodes(&mut s, 2);
    let report = diagnose(&s);
    assert!(report.findings.iter().all(|f| f.object.kind != "Incident"));
    assert!(report.findings.iter().all(|f| f.incident.is_none()));

    // Three nodes that went down days apart are three stories.
    let mut s = seed58();
    keep_nodes(&mut s, 3);
    for (i, n) in s.nodes.iter_mut().enumerate() {
        let c = &mut n.status.as_mut().unwrap().conditions.as_mut().unwrap()[0];
        c.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            ago(3600 + i as i64 * 86_400).parse().unwrap(),
        ));
    }
    let report = diagnose(&s);
    assert!(
        report.findings.iter().all(|f| f.object.kind != "Incident"),
        "{:#?}",
        report
            .findings
            .iter()
            .map(|f| (&f.object, f.cause, &f.summary))
            .collect::<Vec<_>>()
    );
}
