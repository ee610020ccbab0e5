//! Records for archive tests.
#![allow(dead_code)]

use jiff::Timestamp;
use kubemedic_archive::{CrashRecord, EventOccurrence, ObjectRef, Origin, WorkloadRef};

/// A fixed "now" so tests do not depend on the clock.
pub fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).expect("valid")
}

/// One occurrence of a pod event.
pub fn pod_event(
    uid: &str,
    count: i64,
    at: i64,
    pod: &str,
    reason: &str,
    msg: &str,
) -> EventOccurrence {
    EventOccurrence {
        uid: uid.into(),
        count,
        time: t(at),
        first_time: t(at - (count - 1) * 10),
        origin: Origin::Event,
        api: "events.k8s.io/v1".into(),
        object: ObjectRef {
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: pod.into(),
            uid: Some(format!("uid-{pod}")),
        },
        workload: Some(WorkloadRef {
            kind: "Deployment".into(),
            name: "api".into(),
        }),
        reason: reason.into(),
        type_: if reason == "BackOff" {
            "Warning"
        } else {
            "Normal"
        }
        .into(),
        message: msg.into(),
        component: "kubelet".into(),
        host: "node-1".into(),
    }
}

/// A node event.
pub fn node_event(uid: &str, at: i64, node: &str, reason: &str) -> EventOccurrence {
    EventOccurrence {
        uid: uid.into(),
        count: 1,
        time: t(at),
        first_time: t(at),
        origin: Origin::NodeCondition,
        api: "kubemedic".into(),
        object: ObjectRef {
            kind: "Node".into(),
            namespace: String::new(),
            name: node.into(),
            uid: None,
        },
        workload: None,
        reason: reason.into(),
        type_: "Warning".into(),
        message: format!("Node {node} condition Ready is now False"),
        component: "kubemedic-controller".into(),
        host: String::new(),
    }
}

/// A crash of container `container` of `pod`, instance `n`.
pub fn crash(pod: &str, container: &str, n: i64, logs: &[u8]) -> CrashRecord {
    CrashRecord {
        namespace: "shop".into(),
        pod: pod.into(),
        pod_uid: format!("uid-{pod}"),
        container: container.into(),
        init_container: false,
        instance: format!("containerd://{pod}-{container}-{n}"),
        node: Some("node-1".into()),
        workload: Some(WorkloadRef {
            kind: "Deployment".into(),
            name: "api".into(),
        }),
        restart_count: n,
        exit_code: 2,
        signal: None,
        reason: Some("Error".into()),
        message: None,
        started_at: Some(t(n * 100)),
        finished_at: Some(t(n * 100 + 5)),
        captured_at: t(n * 100 + 6),
        logs: Some(logs.to_vec()),
        logs_truncated: false,
        logs_error: None,
        node_memory: None,
    }
}
