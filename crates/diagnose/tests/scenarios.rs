//! Whole-scenario tests: the seeds' stories end to end, grouping, pods pointing to their node,
//! the JSON shape, filtering and determinism.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_diagnose::{Cause, ObjectRef, Severity, Target, diagnose, filter};
use kubemedic_model::NodeLogSource;
use serde_json::json;
use support::fixtures::{merge_status, xtables_seed};
use support::*;

#[test]
fn xtables_seed_names_iptables_lock_contention_on_the_node_with_kubelet_evidence() {
    let report = diagnose(&xtables_seed());
    let node = findings_for(&report, &node_ref("n1"));
    let first = node.first().expect("a finding for n1");
    assert_eq!(first.cause, Cause::IptablesLockContention);
    assert_eq!(first.severity, Severity::Critical, "the node is NotReady");
    let ev: Vec<String> = first
        .evidence
        .iter()
        .map(|e| format!("{} | {}", e.source, e.text))
        .collect();
    let has =
        |needle: &str, source: &str| ev.iter().any(|e| e.contains(needle) && e.contains(source));
    assert!(
        has("holding the xtables lock", "docker.log line"),
        "{ev:#?}"
    );
    assert!(has("PLEG is not healthy", "kubelet.log line"), "{ev:#?}");
    assert!(
        has("Container garbage collection failed", "kubelet.log line")
            || has("ContainerGCFailed", "kubelet.log line"),
        "{ev:#?}"
    );
    assert!(
        has("ContainerGCFailed", "event ContainerGCFailed"),
        "{ev:#?}"
    );
    assert!(has("iptables rules: 31245", "facts"), "{ev:#?}");
    assert!(has("hostPort", "pods"), "{ev:#?}");
    // RuntimeUnresponsive is the consequence here, not a competing root cause.
    assert!(
        node.iter().all(|f| f.cause != Cause::RuntimeUnresponsive),
        "{node:#?}"
    );
    // The stuck pods (3 replicas of deploy/api) point to the node's cause, grouped.
    let deploy = findings_for(&report, &ObjectRef::namespaced("Deployment", "shop", "api"));
    let f = deploy.first().expect("grouped finding on the deployment");
    assert_eq!(f.cause, Cause::IptablesLockContention);
    assert_eq!(f.caused_by, Some(node_ref("n1")));
    assert_eq!(f.affected.len(), 3);
    assert!(
        deploy.iter().all(|f| f.cause != Cause::RuntimeUnresponsive),
        "the pods' CRI timeouts are the node cause's consequence: {deploy:#?}"
    );
    // The node comes before the pods in the report.
    let pos = |o: &ObjectRef| report.findings.iter().position(|x| &x.object == o).unwrap();
    assert!(pos(&node_ref("n1")) < pos(&ObjectRef::namespaced("Deployment", "shop", "api")));
}

#[test]
fn pod_restarts_seed_recent_exit_2_is_a_go_panic_with_the_stack_as_evidence() {
    let mut s = base();
    let mut p = pod("pod1-deployment-56744f755c-hx2w7", json!({}));
    merge_status(
        &mut p,
        json!({"name": "api", "ready": true, "restartCount": 140, "image": "img", "imageID": "",
        "state": {"running": {"startedAt": ago(300)}},
        "lastState": {"terminated": {"exitCode": 2, "reason": "Error", "startedAt": ago(4000), "finishedAt": ago(310)}}}),
    );
    p.status.as_mut().unwrap().conditions =
        Some(serde_json::from_value(json!([{"type": "Ready", "status": "True"}])).unwrap());
    s.pods.push(p);
    logs(
        &mut s,
        "pod1-deployment-56744f755c-hx2w7",
        Some(
            "2021/12/31 23:36:40 serving\npanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x7c3a1e]\n\ngoroutine 52 [running]:\nmain.handle(0x0)\n",
        ),
        Some("starting\n"),
    );
    let report = diagnose(&s);
    let f = &findings_for(&report, &pod_ref("pod1-deployment-56744f755c-hx2w7"))[0];
    assert_eq!(f.cause, Cause::AppPanic);
    assert_eq!(
        f.severity,
        Severity::Warning,
        "running and ready now, but crashed 5 minutes ago"
    );
    assert!(f.confidence >= 0.9);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.source == "logs api (previous) line 2"
                && e.text.starts_with("panic: runtime error")),
        "{:#?}",
        f.evidence
    );
    assert!(
        f.remediation.iter().any(|r| r
            .contains("kubectl -n shop logs pod1-deployment-56744f755c-hx2w7 -c api --previous")),
        "{:#?}",
        f.remediation
    );
}

/// What a real kubelet and a real Go panic give (seen on the testbed's real node): the
/// evidence quotes the top of the crashing goroutine's stack, not just its header, and the
/// kubelet's restart back-off event.
#[test]
fn go_panic_evidence_quotes_the_top_frames_and_the_kubelets_back_off() {
    let mut s = base();
    let name = "iot-gateway-6d5f7c9b8-x2x7k";
    let mut p = pod(name, json!({}));
    merge_status(
        &mut p,
        json!({"name": "api", "ready": false, "restartCount": 2, "image": "img", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container=api"}},
        "lastState": {"terminated": {"exitCode": 2, "reason": "Error", "startedAt": ago(40), "finishedAt": ago(38)}}}),
    );
    s.pods.push(p);
    logs(
        &mut s,
        name,
        Some(concat!(
            "2026/11/30 22:31:38.1 iot-gateway starting, version 1.4.2\n",
            "2026/11/30 22:31:40.2 processing order A-1042\n",
            "panic: runtime error: invalid memory address or nil pointer dereference\n",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x10 pc=0x626711]\n",
            "\n",
            "goroutine 1 [running]:\n",
            "main.process(...)\n",
            "\tmain.go:53\n",
            "main.panicking({0x7e95d4c0e0, 0x2, 0x2})\n",
            "\tmain.go:70 +0x2b1\n",
            "main.main()\n",
            "\tmain.go:32 +0xe5\n",
        )),
        Some("2026/11/30 22:31:52.0 iot-gateway starting, version 1.4.2\n"),
    );
    s.events.push(container_event(
        name,
        "BackOff",
        &format!("Back-off restarting failed container api in pod {name}_shop(0d1e)"),
        3,
    ));
    let report = diagnose(&s);
    let f = &findings_for(&report, &pod_ref(name))[0];
    assert_eq!(f.cause, Cause::AppPanic);
    let ev: Vec<String> = f
        .evidence
        .iter()
        .map(|e| format!("{} | {}", e.source, e.text))
        .collect();
    let has = |needle: &str| ev.iter().any(|e| e.contains(needle));
    assert!(has("goroutine 1 [running]:"), "{ev:#?}");
    assert!(
        has("logs api (previous) line 7 | main.process(...)"),
        "{ev:#?}"
    );
    assert!(has("main.go:53"), "{ev:#?}");
    assert!(has("main.panicking("), "{ev:#?}");
    assert!(!has("main.main()"), "only the innermost frames: {ev:#?}");
    assert!(
        has("event BackOff | Back-off restarting failed container api") && has("(x3)"),
        "{ev:#?}"
    );
}

#[test]
fn a_replica_fine_now_after_an_old_oom_kill_is_not_counted_with_the_replicas_failing_now() {
    // Seen at scale: a Running, Ready replica whose only OOM kill was two days ago was folded
    // into the critical "N pods of Deployment" finding of its crash-looping siblings.
    let mut s = base();
    for i in 0..2 {
        s.pods.push(failing_pod(
            &format!("api-7d4f8b9c6d-o{i}"),
            crashloop("api", 137, "OOMKilled", None, 600, 4 + i),
        ));
    }
    for i in 0..2 {
        s.pods.push(pod(
            &format!("api-7d4f8b9c6d-h{i}"),
            json!({"status": {"containerStatuses": [{
                "name": "api", "ready": true, "restartCount": 1, "image": "img", "imageID": "",
                "state": {"running": {"startedAt": ago(2 * 86_400)}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                    "startedAt": ago(3 * 86_400), "finishedAt": ago(2 * 86_400)}}}]}}),
        ));
    }
    let report = diagnose(&s);
    let deploy = ObjectRef::namespaced("Deployment", "shop", "api");
    let on_deploy = findings_for(&report, &deploy);
    let critical: Vec<_> = on_deploy
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .collect();
    assert_eq!(critical.len(), 1, "{on_deploy:#?}");
    let names: Vec<&str> = critical[0]
        .affected
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["api-7d4f8b9c6d-o0", "api-7d4f8b9c6d-o1"]);
    assert!(
        critical[0].summary.starts_with("2 pods of Deployment api"),
        "{}",
        critical[0].summary
    );
    // The two that are fine now are one note, not part of the critical finding.
    for f in report.findings.iter().filter(|f| {
        f.affected.iter().any(|o| o.name.ends_with("-h0")) || f.object.name.ends_with("-h0")
    }) {
        assert_eq!(f.severity, Severity::Info, "{f:#?}");
    }
}

#[test]
fn replicas_with_the_same_cause_are_grouped_on_the_deployment() {
    let mut s = base();
    for i in 0..3 {
        s.pods.push(failing_pod(
            &format!("api-7d4f8b9c6d-o{i}"),
            crashloop("api", 137, "OOMKilled", None, 600, 4 + i),
        ));
    }
    // A fourth replica fails for another reason and stays on its own.
    s.pods.push(failing_pod(
        "api-7d4f8b9c6d-z9",
        waiting(
            "api",
            "CreateContainerConfigError",
            "secret \"db\" not found",
        ),
    ));
    let report = diagnose(&s);
    let deploy = ObjectRef::namespaced("Deployment", "shop", "api");
    let f = &findings_for(&report, &deploy)[0];
    assert_eq!(f.cause, Cause::OOMKilled);
    assert_eq!(f.affected.len(), 3);
    assert!(
        f.summary.starts_with("3 pods of Deployment api"),
        "{}",
        f.summary
    );
    assert!(
        f.remediation
            .iter()
            .any(|r| r == "kubectl -n shop set resources deploy/api -c api --limits=memory=512Mi"),
        "{:#?}",
        f.remediation
    );
    assert!(findings_for(&report, &pod_ref("api-7d4f8b9c6d-o0")).is_empty());
    assert_eq!(
        first_cause(&report, &pod_ref("api-7d4f8b9c6d-z9")),
        Some(Cause::MissingConfigOrSecret)
    );
    // Filtering by one of the grouped pods still finds the workload finding.
    let t: Target = "pod/api-7d4f8b9c6d-o1".parse().unwrap();
    let narrowed = filter(&report, &[t], Severity::Info);
    assert_eq!(narrowed.findings.len(), 1);
    assert_eq!(narrowed.findings[0].object, deploy);
    let t: Target = "deploy/api".parse().unwrap();
    assert!(
        filter(&report, &[t], Severity::Critical)
            .findings
            .iter()
            .all(|f| f.object == deploy)
    );
}

#[test]
fn pods_on_a_lost_node_point_to_the_node() {
    let mut s = base();
    s.nodes[0] = node_ready(
        "n1",
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    );
    let mut p = pod(
        "db-0",
        json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "s", "controller": true}]}}),
    );
    p.status.as_mut().unwrap().conditions =
        Some(serde_json::from_value(json!([{"type": "Ready", "status": "Unknown"}])).unwrap());
    p.status
        .as_mut()
        .unwrap()
        .container_statuses
        .as_mut()
        .unwrap()[0]
        .ready = false;
    s.pods.push(p);
    let report = diagnose(&s);
    assert_eq!(
        first_cause(&report, &node_ref("n1")),
        Some(Cause::KubeletStopped)
    );
    let f = &findings_for(&report, &pod_ref("db-0"))[0];
    assert_eq!(f.cause, Cause::KubeletStopped);
    assert_eq!(f.caused_by, Some(node_ref("n1")));
    let t: Target = "node/n1".parse().unwrap();
    assert_eq!(filter(&report, &[t], Severity::Info).findings.len(), 2);
}

#[test]
fn exit_137_without_node_logs_says_a_node_oom_cannot_be_ruled_out() {
    let mut s = base();
    s.pods.push(failing_pod(
        "api-1",
        crashloop("api", 137, "Error", None, 9000, 2),
    ));
    let report = diagnose(&s);
    let f = &findings_for(&report, &pod_ref("api-1"))[0];
    assert_eq!(f.cause, Cause::KilledBySignal);
    assert!(
        f.summary.contains("SIGKILL") && f.summary.contains("node OOM cannot be ruled out"),
        "{}",
        f.summary
    );
    assert!(f.confidence < 0.7, "honest confidence without kernel logs");
}

#[test]
fn scheduler_breakdown_lists_the_other_reasons_as_evidence() {
    let mut s = base();
    s.pods.push(pending_pod("api-1", 600));
    s.events.push(pod_event("api-1", "FailedScheduling", "0/4 nodes are available: 1 node(s) had no available volume zone, 2 Insufficient cpu, 3 Insufficient memory.", 106));
    let report = diagnose(&s);
    let f = &findings_for(&report, &pod_ref("api-1"))[0];
    assert_eq!(f.cause, Cause::InsufficientResources);
    assert!(f.summary.contains("0/4 nodes"), "{}", f.summary);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.text.contains("had no available volume zone")),
        "{:#?}",
        f.evidence
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.source == "event FailedScheduling" && e.text.ends_with("(x106)"))
    );
}

#[test]
fn a_node_down_for_days_keeps_the_log_lines_from_when_it_went_down() {
    // NotReady for three days: its xtables lines are three days old, older than the usual window,
    // yet they are the story of this outage.
    let mut s = base();
    s.nodes[0] = node_conditions(
        "n1",
        json!([{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                "message": "PLEG is not healthy: pleg was last seen active 72h3m0s ago; threshold is 3m0s",
                "lastTransitionTime": ago(3 * 86_400)}]),
    );
    node_log(
        &mut s,
        "n1",
        NodeLogSource::KubeProxy,
        "2026-11-20T09:31:02Z kube-proxy: Failed to execute iptables-restore: exit status 4 (Another app is currently holding the xtables lock. Stopped waiting after 5s.)\n",
    );
    node_log(
        &mut s,
        "n1",
        NodeLogSource::Kubelet,
        "Nov 20 09:58:01 n1 kubelet: I1120 09:58:01.112 1841 kubelet.go:1775] skipping pod synchronization - [PLEG is not healthy: pleg was last seen active 3m5.3s ago; threshold is 3m0s]\n",
    );
    let report = diagnose(&s);
    let down = findings_for(&report, &node_ref("n1"));
    assert_eq!(
        down.first().map(|f| f.cause),
        Some(Cause::IptablesLockContention),
        "{down:#?}"
    );

    // The same lines on a node that has been Ready all along are history: nothing to report.
    s.nodes[0] = node("n1", json!({}));
    let report = diagnose(&s);
    assert!(
        findings_for(&report, &node_ref("n1")).is_empty(),
        "{report:#?}"
    );
}

#[test]
fn json_follows_the_findings_format() {
    let mut s = base();
    s.pods.push(failing_pod(
        "api-1",
        crashloop("api", 137, "OOMKilled", None, 600, 12),
    ));
    node_log(
        &mut s,
        "n2",
        NodeLogSource::Kernel,
        "kernel: nf_conntrack: table full, dropping packet\n",
    );
    let report = diagnose(&s);
    let v = serde_json::to_value(&report).unwrap();
    let f = &v["findings"][0];
    for key in [
        "cause",
        "severity",
        "object",
        "summary",
        "evidence",
        "remediation",
        "confidence",
    ] {
        assert!(f.get(key).is_some(), "missing {key} in {f}");
    }
    assert_eq!(f["cause"], "OOMKilled");
    assert_eq!(f["severity"], "critical");
    assert_eq!(
        f["object"],
        json!({"kind": "Pod", "namespace": "shop", "name": "api-1"})
    );
    assert!(f["evidence"][0].get("source").is_some() && f["evidence"][0].get("text").is_some());
    let node = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["object"]["kind"] == "Node")
        .unwrap();
    assert!(
        node["object"].get("namespace").is_none(),
        "cluster-scoped objects carry no namespace"
    );
    assert_eq!(v["summary"]["critical"], 1);
    assert_eq!(v["summary"]["warning"], 1);
    // Round trip.
    let back: kubemedic_diagnose::Report = serde_json::from_value(v).unwrap();
    assert_eq!(back, report);
}

#[test]
fn diagnosis_is_deterministic() {
    for fx in support::fixtures::positives() {
        let a = serde_json::to_string(&diagnose(&fx.snap)).unwrap();
        let b = serde_json::to_string(&diagnose(&fx.snap)).unwrap();
        assert_eq!(a, b, "{}", fx.name);
    }
}

#[test]
fn min_severity_filter_drops_lower_findings() {
    let mut s = base();
    facts(
        &mut s,
        "n1",
        json!({"tcp": {"listenDrops": 200000, "listenOverflows": 0, "backlogDrops": 0}}),
    );
    let report = diagnose(&s);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].severity, Severity::Info);
    assert!(filter(&report, &[], Severity::Warning).findings.is_empty());
    assert_eq!(filter(&report, &[], Severity::Warning).summary.info, 0);
}
