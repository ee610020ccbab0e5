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

#[tokio::test]
async fn failed_start_reports_the_components_log_and_cleans_up() {
    if Testbed::binaries().await.is_none() {
        return;
    }
    let err = Testbed::try_start(Options {
        apiserver_args: vec!["--no-such-flag=1".into()],
        ..Default::default()
    })
    .await
    .unwrap_err();
    let kubemedic_testbed::TestbedError::ComponentFailed {
        component,
        tail,
        log,
        ..
    } = &err
    else {
        panic!("expected ComponentFailed, got {err}");
    };
    assert_eq!(component, "kube-apiserver");
    assert!(
        tail.contains("unknown flag: --no-such-flag"),
        "tail:\n{tail}"
    );
    assert!(tail.lines().count() <= 20);
    assert!(err.to_string().contains("unknown flag"));
    // The failed attempt's working directory (with etcd's data) is gone.
    let dir = log.parent().unwrap();
    assert!(dir.starts_with(kubemedic_testbed::workdir_root()));
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_testbeds_do_not_collide() {
    let (a, b) = tokio::join!(
        Testbed::start(Options::default()),
        Testbed::start(Options::default())
    );
    let (Some(a), Some(b)) = (a, b) else {
        return;
    };
    assert_ne!(a.server_url(), b.server_url());
    assert_ne!(a.etcd_url(), b.etcd_url());
    assert_ne!(a.dir(), b.dir());
    // Separate etcds: an object created in one is absent from the other.
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "only-in-a" } })).unwrap();
    Api::<ConfigMap>::namespaced(a.client(), "default")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let in_b = Api::<ConfigMap>::namespaced(b.client(), "default")
        .get_opt("only-in-a")
        .await
        .unwrap();
    assert!(in_b.is_none());
}
