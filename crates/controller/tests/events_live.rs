//! The event archive against a real apiserver: every repeat kept, served over HTTP with the
//! documented JSON names, resumed after a restart without duplicates, the Lease released.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kube::api::{Api, PostParams};
use kubemedic_archive::{EventQuery, SqliteStore, Store};
use serde_json::json;
use std::time::Duration;
use support::{Controller, create_event, poll, repeat_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_repeat_is_archived_served_and_resumed_without_duplicates() {
    let Some((_tb, client, _dir, db, ctl)) = support::archiving(&[], "shop", "replica-a").await
    else {
        return;
    };

    // A BackOff event repeated four times, as a kubelet's recorder updates its series.
    let uid = create_event(
        &client,
        "shop",
        "api-1.backoff",
        "api-1",
        "BackOff",
        "Back-off restarting failed container app in pod api-1",
    )
    .await;
    for n in 2..=5 {
        repeat_event(&client, "shop", "api-1.backoff", n).await;
    }
    // A core/v1 Event with a 64 KiB message (the apiserver accepts it; events.k8s.io/v1 caps notes).
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "shop");
    let big = "x".repeat(64 * 1024);
    core.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "api-2.big", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "api-2"},
            "reason": "Big", "message": big, "type": "Normal", "count": 1,
            "firstTimestamp": "2026-11-30T10:00:00Z", "lastTimestamp": "2026-11-30T10:00:00Z",
            "source": {"component": "test"},
        }))
        .unwrap(),
    )
    .await
    .unwrap();

    poll(Duration::from_secs(30), "five repeats archived", || async {
        let (_, v) = ctl.get("/api/v1/events?object=pod/shop/api-1").await;
        v["events"][0]["count"] == 5
    })
    .await;
    let (status, v) = ctl.get("/api/v1/events?object=pod/shop/api-1").await;
    assert_eq!(status, 200);
    let ev = &v["events"][0];
    assert_eq!(ev["uid"], uid.as_str());
    assert_eq!(ev["count"], 5);
    assert_eq!(ev["times"].as_array().unwrap().len(), 5, "{ev}");
    let counts: Vec<i64> = ev["repeats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2, 3, 4, 5]);
    assert_eq!(ev["reason"], "BackOff");
    assert_eq!(ev["type"], "Warning");
    assert_eq!(ev["api"], "events.k8s.io/v1");

    poll(
        Duration::from_secs(30),
        "the 64 KiB event archived",
        || async {
            let (_, v) = ctl.get("/api/v1/events?object=pod/api-2").await;
            v["events"][0]["message"].as_str().map(str::len) == Some(64 * 1024)
        },
    )
    .await;

    // Bad queries are 400s that say why.
    let (status, v) = ctl.get("/api/v1/events?object=pdo/x").await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("unknown kind"), "{v}");
    let (status, _) = ctl.get("/api/v1/events?since=yesterday").await;
    assert_eq!(status, 400);

    // Metrics and health.
    let metrics = reqwest::get(format!("http://{}/metrics", ctl.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("kubemedic_archive_events_total"),
        "{metrics}"
    );
    assert!(metrics.contains("kubemedic_leader 1"), "{metrics}");
    let health = reqwest::get(format!("http://{}/healthz", ctl.addr))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    // Graceful stop: the Lease is released at once.
    ctl.stop().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kubemedic");
    let lease = leases.get("kubemedic-controller").await.unwrap();
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    assert!(holder.is_empty(), "Lease still held by {holder:?}");

    // Two more repeats while no controller runs, then a restart resumes from the checkpoint.
    repeat_event(&client, "shop", "api-1.backoff", 6).await;
    repeat_event(&client, "shop", "api-1.backoff", 7).await;
    let ctl = Controller::start_leading(&client, &db, "replica-b").await;
    poll(
        Duration::from_secs(30),
        "repeats made while down archived",
        || async {
            let (_, v) = ctl.get("/api/v1/events?object=pod/shop/api-1").await;
            v["events"][0]["count"] == 7
        },
    )
    .await;
    ctl.stop().await;
    let store = SqliteStore::open_read_only(&db).unwrap();
    let evs = store
        .events(&EventQuery {
            object: Some("pod/shop/api-1".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(
        evs[0].repeats.iter().map(|r| r.count).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7],
        "every repeat once, none twice"
    );
    assert!(
        store
            .checkpoint("events/events.k8s.io/v1")
            .unwrap()
            .is_some()
    );
}
