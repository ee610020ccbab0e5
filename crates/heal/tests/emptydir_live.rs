//! evict-emptydir against a real kubelet: the volume statistics come from the real node's
//! `/stats/summary` through the apiserver's node proxy, the pod that filled its emptyDir is
//! chosen over one that did not, and it is evicted through the Eviction API.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kubemedic_heal::exec::api::{emptydir_top, evict_pods};
use kubemedic_testbed::{Options, Testbed, images};
use serde_json::json;
use std::time::{Duration, Instant};

fn pod(name: &str, node: &str, script: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "app", "image": images::BUSYBOX_IMAGE,
                "command": ["sh", "-c", script],
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]
            }],
            "volumes": [{"name": "scratch", "emptyDir": {}}]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn the_biggest_emptydir_user_on_a_real_node_is_found_and_evicted() {
    let Some(tb) = Testbed::start(Options {
        real_nodes: 1,
        node_images: vec![images::busybox().unwrap()],
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let client = tb.client();
    let node = tb.real_node().name().to_string();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod(
            "filler",
            &node,
            "dd if=/dev/zero of=/scratch/blob bs=1M count=12 && exec sleep 3600",
        ),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &pod("quiet", &node, "echo hi > /scratch/note && exec sleep 3600"),
    )
    .await
    .unwrap();
    // The kubelet computes volume usage in the background (every minute by default): poll.
    let deadline = Instant::now() + Duration::from_secs(180);
    let top = loop {
        match emptydir_top(&client, &node, 2).await {
            Ok(u) if u.first().is_some_and(|f| f.bytes >= 12 << 20) => break u,
            Ok(_) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(2)).await
            }
            other => panic!("no emptyDir usage reported for filler: {other:?}"),
        }
    };
    assert_eq!(top[0].name, "filler", "{top:?}");
    if let Some(second) = top.get(1) {
        assert_eq!(second.name, "quiet");
        assert!(second.bytes < 1 << 20, "{top:?}");
    }
    let filler = pods.get("filler").await.unwrap();
    assert_eq!(top[0].uid, filler.metadata.uid.clone().unwrap());

    // Evicted by UID: a pod of the same name made afterwards would not be touched.
    let (evicted, throttled) = evict_pods(
        &client,
        &[("default".into(), "filler".into(), top[0].uid.clone())],
        tokio::time::Instant::now() + Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(evicted, vec!["default/filler".to_string()]);
    assert_eq!(throttled, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while pods.get_opt("filler").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "filler not gone after eviction");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(pods.get_opt("quiet").await.unwrap().is_some());
}
