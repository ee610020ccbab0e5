//! The live loader against a real kube-apiserver: lists are read page by page (`limit` and
//! `continue`) to the end, every request is bounded and tracked, and the in-flight record is
//! empty once the load is done.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use kubemedic_cluster::live::{LiveOptions, cli_client_for, load_live};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_read_to_the_last_page_and_no_request_stays_in_flight() {
    let Some(tb) = support::bare_testbed().await else {
        return;
    };
    let client = tb.client();
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "paged"}})).unwrap(),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "paged");
    for i in 0..7 {
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("p{i}")},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    }
    let clients = cli_client_for(Some(tb.kubeconfig_path()), None, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(clients.server, tb.server_url().trim_end_matches('/'));
    let snap = load_live(
        &clients,
        &LiveOptions {
            namespace: Some("paged".into()),
            // 7 pods in pages of 2: four requests, the last without a continue token.
            page_size: 2,
            fetch_logs: false,
            agents: None,
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    let mut names: Vec<String> = snap
        .pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
    assert!(clients.in_flight.pending().is_empty());
}
