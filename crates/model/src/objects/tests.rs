#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{Value, json};

/// A pod exactly as kube-apiserver 1.37 returns it for a kwok node (managedFields included),
/// plus the PodReadyToStartContainers condition real kubelets add.
const KWOK_POD: &str = include_str!("../../tests/fixtures/pod-kwok.json");

fn kwok_pod() -> Pod {
    serde_json::from_str(KWOK_POD).unwrap()
}

#[test]
fn kwok_pod_keeps_what_is_read_and_drops_managed_fields() {
    let pod = kwok_pod();
    let m = &pod.metadata;
    assert_eq!(m.name.as_deref(), Some("web-69c6f74b8b-5ppwn"));
    assert_eq!(m.namespace.as_deref(), Some("default"));
    assert_eq!(m.resource_version.as_deref(), Some("297"));
    assert_eq!(
        m.uid.as_deref(),
        Some("f0ebd819-61e3-44e1-a27c-7a7eb6d95dd3")
    );
    assert_eq!(m.labels.as_ref().unwrap()["app"], "web");
    assert_eq!(m.owner_references.as_ref().unwrap()[0].kind, "ReplicaSet");
    assert!(
        m.managed_fields.is_none(),
        "managedFields are never materialised"
    );
    assert!(m.generate_name.is_none());
    assert!(m.creation_timestamp.is_some());

    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.node_name.as_deref(), Some("kwok-node-0"));
    assert_eq!(spec.containers[0].name, "nginx");
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:1.27"));
    assert_eq!(
        spec.volumes.as_ref().unwrap()[0].name,
        "kube-api-access-8gbqm"
    );

    let status = pod.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.conditions.as_ref().unwrap().len(), 5);
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert!(cs.ready);
    assert!(cs.state.as_ref().unwrap().running.is_some());
    assert_eq!(status.host_ip.as_deref(), Some("10.244.0.1"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.244.0.2"));
}

#[test]
fn serializes_to_kubernetes_json_and_reads_back_equal() {
    let pod = kwok_pod();
    let v = serde_json::to_value(&pod).unwrap();
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["kind"], "Pod");
    assert_eq!(v["metadata"]["name"], "web-69c6f74b8b-5ppwn");
    assert_eq!(v["spec"]["nodeName"], "kwok-node-0");
    assert_eq!(v["status"]["podIP"], "10.244.0.2");
    assert_eq!(v["status"]["containerStatuses"][0]["restartCount"], 0);
    assert!(v["metadata"].get("managedFields").is_none());
    // Absent optional fields are left out, not written as null.
    assert!(v["spec"].get("hostNetwork").is_none());
    assert!(
        !serde_json::to_string(&pod).unwrap().contains("null"),
        "no nulls in the output"
    );
    let back: Pod = serde_json::from_value(v).unwrap();
    assert_eq!(back, pod);
}

#[test]
fn every_kind_round_trips_with_its_type_meta() {
    fn check<T>(json: Value, api_version: &str, kind: &str)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let obj: T = serde_json::from_value(json).unwrap();
        let v = serde_json::to_value(&obj).unwrap();
        assert_eq!(v["apiVersion"], api_version, "{v}");
        assert_eq!(v["kind"], kind, "{v}");
        assert_eq!(serde_json::from_value::<T>(v).unwrap(), obj);
    }
    let meta = json!({"name": "x", "namespace": "ns"});
    check::<Node>(
        json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.37.2", "bootID": "b", "machineID": "m"},
                "images": [{"names": ["a"], "sizeBytes": 1}]}}),
        "v1",
        "Node",
    );
    check::<Event>(
        json!({"metadata": meta, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns",
            "apiVersion": "v1", "resourceVersion": "9"}, "reason": "BackOff", "count": 3,
            "type": "Warning", "lastTimestamp": "2026-11-21T07:58:00Z",
            "eventTime": "2026-11-21T07:58:00.123456Z"}),
        "v1",
        "Event",
    );
    check::<Service>(
        json!({"metadata": meta, "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.9",
            "selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.1.1.1"}]}}}),
        "v1",
        "Service",
    );
    check::<Endpoints>(
        json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "10.244.0.4", "nodeName": "n1",
            "targetRef": {"kind": "Pod", "name": "p"}}], "ports": [{"port": 8080}]}]}),
        "v1",
        "Endpoints",
    );
    check::<EndpointSlice>(
        json!({"metadata": meta, "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.4"],
            "conditions": {"ready": true}}], "ports": [{"port": 8080}]}),
        "discovery.k8s.io/v1",
        "EndpointSlice",
    );
    check::<PersistentVolumeClaim>(
        json!({"metadata": meta, "spec": {"storageClassName": "fast",
            "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}}),
        "v1",
        "PersistentVolumeClaim",
    );
    check::<PersistentVolume>(
        json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1Gi"},
            "hostPath": {"path": "/x"}}, "status": {"phase": "Available"}}),
        "v1",
        "PersistentVolume",
    );
    let template = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    check::<Deployment>(
        json!({"metadata": meta, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": template},
            "status": {"replicas": 2, "conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded"}]}}),
        "apps/v1",
        "Deployment",
    );
    check::<ReplicaSet>(
        json!({"metadata": meta, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template},
            "status": {"replicas": 1, "readyReplicas": 0}}),
        "apps/v1",
        "ReplicaSet",
    );
    check::<DaemonSet>(
        json!({"metadata": meta, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
            "numberMisscheduled": 0}}),
        "apps/v1",
        "DaemonSet",
    );
    check::<StatefulSet>(
        json!({"metadata": meta, "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "a"}}, "template": template},
            "status": {"replicas": 3, "readyReplicas": 1}}),
        "apps/v1",
        "StatefulSet",
    );
    check::<Job>(
        json!({"metadata": meta, "spec": {"backoffLimit": 6, "template": template},
            "status": {"failed": 7, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded"}]}}),
        "batch/v1",
        "Job",
    );
    check::<ReplicationController>(
        json!({"metadata": meta, "spec": {"replicas": 1, "selector": {"app": "legacy"}, "template": template},
            "status": {"replicas": 1, "readyReplicas": 0}}),
        "v1",
        "ReplicationController",
    );
    check::<events_v1::Event>(
        json!({"metadata": meta, "regarding": {"kind": "Pod", "name": "p"}, "note": "n",
            "reason": "Scheduled", "eventTime": "2026-11-30T21:40:22.102028Z",
            "series": {"count": 4, "lastObservedTime": "2026-11-30T21:41:22.000000Z"}}),
        "events.k8s.io/v1",
        "Event",
    );
}

#[test]
fn last_applied_annotation_is_dropped_and_others_kept() {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "api", "namespace": "shop", "annotations": {
            LAST_APPLIED: "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{}}",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true"
        }, "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        "selfLink": "/api/v1/namespaces/shop/services/api", "generateName": "x-"}
    }))
    .unwrap();
    let ann = svc.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann.len(), 1, "{ann:?}");
    assert_eq!(
        ann["service.beta.kubernetes.io/aws-load-balancer-internal"],
        "true"
    );
    assert!(svc.metadata.self_link.is_none());
    assert!(svc.metadata.generate_name.is_none());
    assert!(svc.metadata.managed_fields.is_none());
}

const LAST_APPLIED: &str = meta::LAST_APPLIED_ANNOTATION;

#[test]
fn missing_or_null_required_fields_read_as_defaults_like_k8s_openapi() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": null,
        "spec": {"containers": [{"name": null, "image": "i"}]},
        "status": {"containerStatuses": [{"name": "c", "restartCount": null}],
            "conditions": [{"type": "Ready"}]}
    }))
    .unwrap();
    assert_eq!(pod.metadata, ObjectMeta::default());
    assert_eq!(pod.spec.as_ref().unwrap().containers[0].name, "");
    let status = pod.status.unwrap();
    assert_eq!(status.container_statuses.unwrap()[0].restart_count, 0);
    assert_eq!(status.conditions.unwrap()[0].status, "");
    let pod: Pod = serde_json::from_value(json!({"spec": {}})).unwrap();
    assert!(pod.spec.unwrap().containers.is_empty());
}

#[test]
fn wrong_types_are_errors_with_the_field_named() {
    let err = serde_json::from_value::<Pod>(json!({
        "status": {"containerStatuses": [{"name": "c", "restartCount": "many"}]}
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("invalid type: string \"many\""),
        "{err}"
    );
    let err = serde_json::from_value::<Pod>(json!({"metadata": {"labels": ["a"]}})).unwrap_err();
    assert!(err.to_string().contains("invalid type: sequence"), "{err}");
}

#[test]
fn resource_constants_match_the_api() {
    use k8s_openapi::Resource;
    assert_eq!(
        (Pod::API_VERSION, Pod::KIND, Pod::URL_PATH_SEGMENT),
        ("v1", "Pod", "pods")
    );
    assert_eq!(
        (EndpointSlice::GROUP, EndpointSlice::API_VERSION),
        ("discovery.k8s.io", "discovery.k8s.io/v1")
    );
    assert_eq!(
        (Deployment::API_VERSION, Job::API_VERSION),
        ("apps/v1", "batch/v1")
    );
    assert_eq!(
        ReplicationController::URL_PATH_SEGMENT,
        "replicationcontrollers"
    );
    assert_eq!(
        <events_v1::Event as k8s_openapi::ListableResource>::LIST_KIND,
        "EventList"
    );
}
