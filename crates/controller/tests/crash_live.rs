//! Crash capture. On a real node (containerd + kubelet): a container that panics and exits 2
//! crash-loops, its previous logs are captured at each crash, the apiserver expires its Events
//! (short --event-ttl), and the controller's own diagnosis still names AppPanic from the archive
//! with the goroutine trace quoted. On a Node without a kubelet (status written by the test, the
//! way kwok does): a pod with 100 containers crashing at once is recorded container by
//! container, honestly without logs (no kubelet serves them), and nothing twice after a restart.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubemedic_archive::ArchiveUrl;
use serde_json::json;
use std::time::Duration;
use support::{Controller, config, ensure_namespace, poll};

const PANIC: &str = "echo starting; echo 'panic: runtime error: invalid memory address or nil pointer dereference'; echo '[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]'; echo; echo 'goroutine 1 [running]:'; echo 'main.(*Server).handle(0x0)'; echo '\t/src/server.go:42 +0x1c'; exit 2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_is_diagnosed_from_the_archive_after_its_events_expired() {
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        real_nodes: 1,
        node_images: vec![kubemedic_testbed::images::busybox().unwrap()],
        apiserver_args: vec!["--event-ttl=20s".into()],
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let client = tb.client();
    ensure_namespace(&client, "shop").await;
    let dir = tempfile::tempdir().unwrap();
    let ctl = Controller::start(
        &client,
        config(ArchiveUrl::Sqlite(dir.path().join("archive.db")), "a"),
    )
    .await;
    ctl.wait_leading().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "api"},
            "spec": {
                "nodeName": tb.real_node().name(),
                "containers": [{"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", PANIC]}],
            },
        }))
        .unwrap(),
    )
    .await
    .unwrap();

    // The first crash is captured with the ended instance's logs, fetched from the kubelet.
    poll(
        Duration::from_secs(120),
        "a crash with previous logs archived",
        || async {
            let (_, v) = ctl.get("/api/v1/crashes?object=pod/shop/api").await;
            v["crashes"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    c["logs"]
                        .as_str()
                        .is_some_and(|l| l.contains("goroutine 1 [running]"))
                })
            })
        },
    )
    .await;
    // The newest record may be a later crash whose logs are still being fetched: check the one
    // that has them, and that every crash recorded so far carries the exit code.
    let (_, v) = ctl.get("/api/v1/crashes?object=pod/shop/api").await;
    let crashes = v["crashes"].as_array().cloned().unwrap_or_default();
    for c in &crashes {
        assert_eq!(c["exitCode"], 2, "{c}");
    }
    let c = crashes
        .iter()
        .find(|c| c["logs"].as_str().is_some_and(|l| !l.is_empty()))
        .expect("the crash with logs found above");
    assert_eq!(c["exitCode"], 2, "{c}");
    assert!(c["exitMeaning"].as_str().unwrap().contains("panic"), "{c}");
    assert_eq!(c["container"], "app");
    assert_eq!(c["node"], tb.real_node().name());
    assert!(
        c["logs"]
            .as_str()
            .unwrap()
            .starts_with("starting\npanic: runtime error"),
        "{c}"
    );

    // The apiserver forgets the pod's Events; the archive does not.
    poll(
        Duration::from_secs(30),
        "BackOff or Started events archived",
        || async {
            let (_, v) = ctl.get("/api/v1/events?object=pod/shop/api").await;
            v["events"].as_array().is_some_and(|e| !e.is_empty())
        },
    )
    .await;
    let events = support::events_api(&client, "shop");
    poll(
        Duration::from_secs(120),
        "the pod's events expired from the apiserver",
        || async {
            // Keep polling until a moment where the apiserver holds none for the pod (new ones
            // keep coming while it crash-loops; TTL 20 s each).
            events
                .list(&Default::default())
                .await
                .map(|l| {
                    l.items.iter().all(|e| {
                        e.data["regarding"]["name"] != "api" || e.data["reason"] == "BackOff"
                    })
                })
                .unwrap_or(false)
        },
    )
    .await;

    // The controller's own diagnosis: no container logs in its cache, so the goroutine trace it
    // quotes can only come from the archive.
    poll(
        Duration::from_secs(60),
        "AppPanic diagnosed from the archive",
        || async {
            let (status, report) = ctl.get("/api/v1/diagnose?namespace=shop").await;
            status == 200
                && report["findings"].as_array().is_some_and(|f| {
                    f.iter().any(|f| {
                        f["cause"] == "AppPanic"
                            && f["object"]["name"] == "api"
                            && f["evidence"].to_string().contains("panic: runtime error")
                    })
                })
        },
    )
    .await;
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_containers_crashing_at_once_are_each_recorded_once() {
    let Some((_tb, client, _dir, db, ctl)) = support::archiving(&[], "shop", "a").await else {
        return;
    };
    // A Node nobody runs a kubelet for; the test writes the pod status as a kubelet would.
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "fake-1"}})).unwrap(),
        )
        .await
        .unwrap();
    let containers: Vec<_> = (0..100)
        .map(|i| json!({"name": format!("c{i}"), "image": "app:1"}))
        .collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "wide"},
            "spec": {"nodeName": "fake-1", "containers": containers},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let status = |restart: i32| {
        let statuses: Vec<_> = (0..100)
            .map(|i| {
                let (code, reason) = if i == 0 {
                    (137, "OOMKilled")
                } else {
                    (2, "Error")
                };
                json!({
                    "name": format!("c{i}"), "image": "app:1", "imageID": "", "ready": false,
                    "restartCount": restart,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {
                        "exitCode": code, "reason": reason,
                        "startedAt": format!("2026-11-30T10:{:02}:00Z", restart),
                        "finishedAt": format!("2026-11-30T10:{:02}:05Z", restart),
                    }},
                })
            })
            .collect::<Vec<_>>();
        json!({"status": {"phase": "Running", "containerStatuses": statuses}})
    };
    pods.patch_status("wide", &PatchParams::default(), &Patch::Merge(status(1)))
        .await
        .unwrap();
    poll(Duration::from_secs(60), "100 crashes archived", || async {
        let (_, v) = ctl
            .get("/api/v1/crashes?object=pod/shop/wide&logs=false&limit=1000")
            .await;
        v["crashes"].as_array().map(Vec::len) == Some(100)
    })
    .await;
    let (_, v) = ctl
        .get("/api/v1/crashes?object=pod/shop/wide&limit=1000")
        .await;
    let crashes = v["crashes"].as_array().unwrap();
    let oom = crashes.iter().find(|c| c["container"] == "c0").unwrap();
    assert_eq!(oom["exitCode"], 137);
    assert_eq!(oom["reason"], "OOMKilled");
    // No kubelet serves this node's logs: the record says why instead of pretending.
    assert!(oom["logs"].is_null());
    assert!(
        oom["logsError"].as_str().is_some_and(|e| !e.is_empty()),
        "{oom}"
    );

    // A second crash of every container: 100 more; then a restart of the controller sees the
    // same statuses again and stores nothing twice.
    pods.patch_status("wide", &PatchParams::default(), &Patch::Merge(status(2)))
        .await
        .unwrap();
    poll(Duration::from_secs(60), "200 crashes archived", || async {
        let (_, v) = ctl
            .get("/api/v1/crashes?object=pod/shop/wide&logs=false&limit=1000")
            .await;
        v["crashes"].as_array().map(Vec::len) == Some(200)
    })
    .await;
    ctl.stop().await;
    let ctl = Controller::start_leading(&client, &db, "b").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, v) = ctl
        .get("/api/v1/crashes?object=pod/shop/wide&logs=false&limit=1000")
        .await;
    assert_eq!(
        v["crashes"].as_array().map(Vec::len),
        Some(200),
        "nothing twice"
    );
    ctl.stop().await;
}
