//! Full testbed: controllers, scheduler and kwok fake nodes. Deployments become Running pods,
//! Events are watched, Node conditions patched through the status subresource are seen by a
//! watch.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kubemedic_testbed::{Options, Testbed};

/// Generous: two shared cores, controllers syncing, several test binaries at once.
const WAIT: Duration = Duration::from_secs(90);

async fn full_testbed(nodes: usize) -> Option<Testbed> {
    Testbed::start(Options {
        controllers: true,
        kwok_nodes: nodes,
        ..Default::default()
    })
    .await
}

fn node_condition(node: &Node, type_: &str) -> Option<(String, Option<String>)> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_pods_run_on_kwok_nodes_and_events_are_watched() {
    let Some(tb) = full_testbed(2).await else {
        return;
    };
    let client = tb.client();

    // Nodes are kwok-managed and Ready.
    let nodes: Api<Node> = Api::all(client.clone());
    let listed = nodes.list(&ListParams::default()).await.unwrap();
    let names: Vec<_> = listed
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    assert_eq!(names, ["kwok-node-0", "kwok-node-1"]);
    for node in &listed.items {
        assert_eq!(node_condition(node, "Ready").unwrap().0, "True");
    }

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "smoke" } })).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();

    // Watch Events in the namespace from before the Deployment exists.
    let events: Api<Event> = Api::namespaced(client.clone(), "smoke");
    let mut event_stream = watcher::watcher(events, watcher::Config::default())
        .applied_objects()
        .boxed();

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "smoke");
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "nginx:fake" }] },
            },
        },
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    // The controllers create a ReplicaSet and pods, the scheduler binds them to kwok nodes,
    // kwok runs them.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "smoke");
    let running = tokio::time::timeout(WAIT, async {
        loop {
            let list = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .unwrap();
            let running: Vec<Pod> = list
                .items
                .into_iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .collect();
            if running.len() == 3 {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("3 pods Running");
    for pod in &running {
        let node = pod.spec.as_ref().unwrap().node_name.clone().unwrap();
        assert!(node.starts_with("kwok-node-"), "pod on {node}");
    }

    // The scheduler and controllers reported what they did as Events.
    let scheduled = tokio::time::timeout(WAIT, async {
        while let Some(event) = event_stream.try_next().await.unwrap() {
            if event.reason.as_deref() == Some("Scheduled") {
                return event;
            }
        }
        panic!("event watch ended");
    })
    .await
    .expect("a Scheduled event");
    assert_eq!(scheduled.involved_object.kind.as_deref(), Some("Pod"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_condition_patched_via_status_subresource_is_seen_by_a_watch() {
    let Some(tb) = full_testbed(1).await else {
        return;
    };
    let nodes: Api<Node> = Api::all(tb.client());
    let node = nodes.get("kwok-node-0").await.unwrap();
    let version = node.metadata.resource_version.clone().unwrap();

    let mut watch = nodes
        .watch(
            &WatchParams::default().fields("metadata.name=kwok-node-0"),
            &version,
        )
        .await
        .unwrap()
        .boxed();

    // A condition like the one the node agent reports. Strategic merge keys conditions by
    // type, so kwok's own conditions stay.
    let now = jiff::Timestamp::now().to_string();
    let patch = serde_json::json!({
        "status": { "conditions": [{
            "type": "KernelDeadlock",
            "status": "True",
            "reason": "DockerHung",
            "message": "task docker:7 blocked for more than 120 seconds.",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }]}
    });
    nodes
        .patch_status(
            "kwok-node-0",
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await
        .unwrap();

    let seen = tokio::time::timeout(WAIT, async {
        while let Some(event) = watch.try_next().await.unwrap() {
            if let WatchEvent::Modified(node) = event
                && let Some(condition) = node_condition(&node, "KernelDeadlock")
            {
                return (condition, node_condition(&node, "Ready"));
            }
        }
        panic!("node watch ended");
    })
    .await
    .expect("the patched condition in a watch event");
    assert_eq!(seen.0, ("True".to_string(), Some("DockerHung".to_string())));
    assert_eq!(seen.1.unwrap().0, "True", "kwok's Ready condition is kept");

    // A detached node keeps the NotReady the test gives it; reattached, kwok makes it Ready.
    tb.detach_node("kwok-node-0").await.unwrap();
    let not_ready = serde_json::json!({
        "status": { "conditions": [{
            "type": "Ready",
            "status": "False",
            "reason": "KubeletDown",
            "message": "kubelet stopped posting node status",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }]}
    });
    nodes
        .patch_status(
            "kwok-node-0",
            &PatchParams::default(),
            &Patch::Strategic(&not_ready),
        )
        .await
        .unwrap();
    let node = nodes.get("kwok-node-0").await.unwrap();
    assert_eq!(node_condition(&node, "Ready").unwrap().0, "False");
    tb.reattach_node("kwok-node-0").await.unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            let node = nodes.get("kwok-node-0").await.unwrap();
            if node_condition(&node, "Ready").unwrap().0 == "True" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("kwok makes a reattached node Ready again");
}
