//! Never silent on a broken object: a finding with the most likely cause at an honest confidence
//! and the evidence that is missing; evidence followed one hop (a PVC's own events, a stalled
//! rollout's ReplicaSet and pods); pods being deleted are not failing replicas.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_diagnose::{Cause, Finding, ObjectRef, Report, Severity, diagnose};
use serde_json::json;
use support::*;

fn first<'a>(r: &'a Report, o: &ObjectRef) -> &'a Finding {
    findings_for(r, o)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no finding for {o}: {:#?}", r.findings))
}

/// The finding says what evidence is missing and how to get it.
fn says_what_is_missing(f: &Finding) {
    let all = format!("{} {:?} {:?}", f.summary, f.evidence, f.remediation);
    assert!(
        all.contains("missing") || all.contains("not collected") || all.contains("expired"),
        "no word on the missing evidence: {f:#?}"
    );
    assert!(
        all.contains("kubemedic collect")
            || all.contains("kubemedic agent")
            || all.contains("--previous")
            || all.contains("kubectl describe"),
        "no way to get the evidence: {f:#?}"
    );
}

#[test]
fn container_creating_without_any_evidence_gets_a_low_confidence_finding() {
    let mut s = base();
    let mut p = creating_pod("api-1");
    p.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        ago(1800).parse().unwrap(),
    ));
    s.pods.push(p);
    let r = diagnose(&s);
    let f = first(&r, &pod_ref("api-1"));
    assert!(f.severity >= Severity::Warning, "{f:#?}");
    assert!(f.confidence <= 0.5, "honest confidence: {f:#?}");
    assert!(f.summary.contains("ContainerCreating"), "{}", f.summary);
    says_what_is_missing(f);
}

#[test]
fn terminating_past_grace_without_evidence_names_the_likely_layer() {
    let mut s = base();
    s.pods.push(pod(
        "api-1",
        json!({"metadata": {"deletionTimestamp": ago(1800), "deletionGracePeriodSeconds": 30},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "",
                    "state": {"running": {"startedAt": ago(90_000)}}}]}}),
    ));
    let r = diagnose(&s);
    let f = first(&r, &pod_ref("api-1"));
    assert_eq!(f.cause, Cause::RuntimeUnresponsive, "{f:#?}");
    assert!(f.confidence <= 0.5);
    assert!(f.summary.contains("Terminating"), "{}", f.summary);
    says_what_is_missing(f);
}

#[test]
fn crash_loop_without_a_terminated_state_or_logs_is_not_silent() {
    let mut s = base();
    s.pods.push(failing_pod(
        "api-1",
        json!({"name": "api", "ready": false, "restartCount": 7, "image": "img", "imageID": "",
               "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=api pod=api-1"}}}),
    ));
    let r = diagnose(&s);
    let f = first(&r, &pod_ref("api-1"));
    assert!(f.severity >= Severity::Warning);
    assert!(f.confidence <= 0.5);
    says_what_is_missing(f);
}

#[test]
fn pending_with_a_scheduler_message_of_unknown_words_is_not_silent() {
    let mut s = base();
    s.pods.push(pending_pod("api-1", 900));
    s.events.push(pod_event(
        "api-1",
        "FailedScheduling",
        "0/3 nodes are available: 3 node(s) were rejected by the quantum-scheduler plugin.",
        12,
    ));
    let r = diagnose(&s);
    let f = first(&r, &pod_ref("api-1"));
    assert!(f.severity >= Severity::Warning);
    assert!(f.confidence <= 0.5);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.text.contains("quantum-scheduler")),
        "{f:#?}"
    );
}

#[test]
fn not_ready_node_with_an_unknown_message_and_no_logs_says_what_is_missing() {
    let mut s = base();
    s.nodes[0] = node_ready(
        "n1",
        "False",
        "KubeletNotReady",
        "container runtime status check may not have completed yet",
    );
    let r = diagnose(&s);
    let f = first(&r, &node_ref("n1"));
    assert!(f.severity >= Severity::Warning);
    assert!(f.confidence <= 0.5);
    says_what_is_missing(f);
}

#[test]
fn unbound_pvc_quotes_the_claims_own_provisioning_failure() {
    let mut s = base();
    let mut p = pending_pod("api-1", 900);
    p.spec.as_mut().unwrap().volumes = Some(
        serde_json::from_value(
            json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data-api-1"}}]),
        )
        .unwrap(),
    );
    s.pods.push(p);
    s.events.push(pod_event("api-1", "FailedScheduling", "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.", 20));
    s.persistent_volume_claims.push(serde_json::from_value(json!({"metadata": {"name": "data-api-1", "namespace": "shop"}, "spec": {"storageClassName": "fast-ssd"}, "status": {"phase": "Pending"}})).unwrap());
    s.events.push(event(
        "PersistentVolumeClaim",
        "shop",
        "data-api-1",
        "ProvisioningFailed",
        "storageclass.storage.k8s.io \"fast-ssd\" not found",
        31,
    ));
    let r = diagnose(&s);
    let f = first(&r, &pod_ref("api-1"));
    assert_eq!(f.cause, Cause::UnboundPVC);
    assert!(
        f.summary
            .contains("storageclass.storage.k8s.io \"fast-ssd\" not found"),
        "{}",
        f.summary
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.source == "pvc data-api-1: event ProvisioningFailed"),
        "{f:#?}"
    );
}

#[test]
fn a_stalled_rollout_quotes_its_replica_sets_failure() {
    let mut s = base();
    s.deployments.push(serde_json::from_value(json!({
        "metadata": {"name": "api", "namespace": "shop", "uid": "d1"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}, "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "x"}]}}},
        "status": {"replicas": 0, "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "pods \"api-7d4f8b9c6d-\" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=8, limited: limits.cpu=8"},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"api-7d4f8b9c6d\" has timed out progressing."}]}
    })).unwrap());
    s.replica_sets.push(serde_json::from_value(json!({
        "metadata": {"name": "api-7d4f8b9c6d", "namespace": "shop", "uid": "rs-1",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "uid": "d1", "controller": true}]},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}},
        "status": {"replicas": 0}
    })).unwrap());
    s.events.push(event(
        "ReplicaSet",
        "shop",
        "api-7d4f8b9c6d",
        "FailedCreate",
        "Error creating: pods \"api-7d4f8b9c6d-x2x9q\" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=8, limited: limits.cpu=8",
        14,
    ));
    let r = diagnose(&s);
    let f = first(&r, &ObjectRef::namespaced("Deployment", "shop", "api"));
    assert_eq!(f.cause, Cause::InsufficientResources, "{f:#?}");
    assert!(f.summary.contains("exceeded quota"), "{}", f.summary);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.source.contains("replicaset api-7d4f8b9c6d") && e.text.contains("forbidden")),
        "{f:#?}"
    );
}

#[test]
fn replication_controller_pods_are_grouped_like_replica_sets() {
    let mut s = base();
    for i in 0..2 {
        s.pods.push(pod(
            &format!("web-{i}x7k"),
            json!({"metadata": {"labels": {"app": "web"}, "ownerReferences": [{"apiVersion": "v1", "kind": "ReplicationController", "name": "web", "uid": "rc1", "controller": true}]},
                   "status": {"conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [crashloop("api", 137, "OOMKilled", None, 600, 9)]}}),
        ));
    }
    let r = diagnose(&s);
    let f = first(
        &r,
        &ObjectRef::namespaced("ReplicationController", "shop", "web"),
    );
    assert_eq!(f.cause, Cause::OOMKilled);
    assert_eq!(f.affected.len(), 2);
    assert!(
        f.remediation.iter().any(|x| x.contains("rc/web")),
        "kubectl commands name the ReplicationController: {:#?}",
        f.remediation
    );
}

#[test]
fn a_dns_replica_being_deleted_is_not_a_broken_dns_server() {
    let mut s = base();
    for i in 0..3 {
        let name = format!("coredns-5d78c9869d-r{i}");
        let mut p = pod(
            &name,
            json!({"metadata": {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "coredns-5d78c9869d", "uid": "rs-dns", "controller": true}]}}),
        );
        if i == 0 {
            p.metadata.deletion_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ago(10).parse().unwrap()),
            );
            p.status.as_mut().unwrap().conditions = Some(
                serde_json::from_value(json!([{"type": "Ready", "status": "False"}])).unwrap(),
            );
        }
        s.pods.push(p);
        let text = if i == 0 {
            "[INFO] SIGTERM: Shutting down servers then terminating\n[ERROR] plugin/errors: 2 example.com. A: read udp 10.244.1.5:42312->8.8.8.8:53: i/o timeout\n[ERROR] plugin/errors: 2 example.org. A: read udp 10.244.1.5:42313->8.8.8.8:53: i/o timeout\n"
        } else {
            "[INFO] plugin/reload: Running configuration SHA512 = 591cf3\n"
        };
        s.container_logs.insert(
            kubemedic_model::ContainerRef::new("kube-system", &name, "api"),
            kubemedic_model::ContainerLogs {
                current: Some(text.into()),
                previous: None,
            },
        );
    }
    let r = diagnose(&s);
    assert!(
        r.findings
            .iter()
            .all(|f| f.cause != Cause::DNSPartialFailure),
        "{:#?}",
        r.findings
    );
}
