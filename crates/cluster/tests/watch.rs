//! The slim object types work with kube-rs as the controller's watch cache will use them: `Api<K>`
//! list, `kube::runtime::watcher` and a reflector store, against a real kube-apiserver.
#![allow(clippy::unwrap_used)]

mod support;

use futures::StreamExt;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kubemedic_model::objects::Pod;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slim_pods_list_watch_and_reflect() {
    let Some(tb) = support::bare_testbed().await else {
        return;
    };
    let client = tb.client();
    // Written with k8s-openapi's full type, as any client would; the server adds managedFields.
    let full: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
    let manifest = json!({
        "metadata": {"name": "api-1", "labels": {"app": "api"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Pod\"}", "team": "shop"}},
        "spec": {"containers": [{"name": "api", "image": "registry.example.com/shop/api:1.4.2",
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5},
            "env": [{"name": "A", "value": "never read"}]}]}
    });
    full.create(
        &PostParams::default(),
        &serde_json::from_value(manifest).unwrap(),
    )
    .await
    .unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let listed = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let p = &listed.items[0];
    assert!(p.metadata.managed_fields.is_none());
    assert!(p.metadata.resource_version.is_some());
    // Pods come by the hundred thousand and no analyser reads their annotations.
    assert!(p.metadata.annotations.is_none());
    let probe = p.spec.as_ref().unwrap().containers[0]
        .liveness_probe
        .as_ref()
        .unwrap();
    assert_eq!(probe.initial_delay_seconds, Some(5));

    // watcher + reflector: the store fills, then follows a change.
    let (reader, writer) = reflector::store::<Pod>();
    let stream = reflector(writer, watcher(pods.clone(), watcher::Config::default()))
        .applied_objects()
        .boxed();
    let drive = tokio::spawn(async move {
        let mut stream = stream;
        while stream.next().await.is_some() {}
    });
    let wait_for = |want: &'static str| {
        let reader = reader.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let seen = reader.state().iter().any(|p| {
                        p.metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get("app"))
                            .map(String::as_str)
                            == Some(want)
                    });
                    if seen {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("reflector never showed app={want}"));
        }
    };
    wait_for("api").await;
    pods.patch(
        "api-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "api-v2"}}})),
    )
    .await
    .unwrap();
    wait_for("api-v2").await;
    let cached = reader.state();
    assert_eq!(cached.len(), 1);
    assert!(cached[0].metadata.managed_fields.is_none());
    drive.abort();
}
