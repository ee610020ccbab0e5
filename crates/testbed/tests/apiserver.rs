//! etcd + kube-apiserver only: start, client, kubeconfig, outage and restart.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kubemedic_testbed::{Options, Testbed};

#[tokio::test]
async fn apiserver_serves_and_survives_an_outage() {
    let Some(tb) = Testbed::start(Options::default()).await else {
        return;
    };
    let client = tb.client();
    assert!(tb.server_url().starts_with("https://127.0.0.1:"));
    assert!(tb.kubeconfig_path().is_file());

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.get("default").await.unwrap();

    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "before-outage" },
        "data": { "k": "v" },
    }))
    .unwrap();
    config_maps
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();

    tb.stop_apiserver().await;
    assert!(!tb.apiserver_running());
    let during =
        tokio::time::timeout(Duration::from_secs(10), config_maps.get("before-outage")).await;
    assert!(
        matches!(during, Ok(Err(_))),
        "a request during the outage must fail, got {during:?}"
    );

    tb.start_apiserver().await.unwrap();
    // Same port, same etcd: the data written before the outage is still there.
    let cm = config_maps.get("before-outage").await.unwrap();
    assert_eq!(cm.data.unwrap()["k"], "v");
}
