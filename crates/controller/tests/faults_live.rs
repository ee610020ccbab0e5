//! Faults of the apiserver side: a checkpoint that etcd has compacted away (410), an apiserver
//! restart under a running controller, Events the apiserver expires by TTL.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_archive::{EventQuery, SqliteStore, Store};
use std::time::Duration;
use support::{Controller, create_event, poll, repeat_event};

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_checkpoint_relists_and_reconciles_by_uid_and_count() {
    // etcd compacted every second: a stopped controller's checkpoint expires quickly.
    let Some((_tb, client, _dir, db, ctl)) =
        support::archiving(&["--etcd-compaction-interval=1s"], "shop", "a").await
    else {
        return;
    };
    create_event(&client, "shop", "e0", "p0", "BackOff", "before").await;
    poll(Duration::from_secs(30), "first event archived", || async {
        let (_, v) = ctl.get("/api/v1/events?object=pod/p0").await;
        v["events"][0]["count"] == 1
    })
    .await;
    ctl.stop().await;
    let checkpoint = SqliteStore::open_read_only(&db)
        .unwrap()
        .checkpoint("events/events.k8s.io/v1")
        .unwrap()
        .unwrap();

    // While it is down: new events and repeats, then enough writes and time for compaction to
    // pass the checkpoint.
    for i in 1..=20 {
        create_event(
            &client,
            "shop",
            &format!("e{i}"),
            &format!("p{i}"),
            "BackOff",
            "while down",
        )
        .await;
    }
    for n in 2..=4 {
        repeat_event(&client, "shop", "e0", n).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    for i in 21..=25 {
        create_event(
            &client,
            "shop",
            &format!("e{i}"),
            &format!("p{i}"),
            "BackOff",
            "while down",
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let ctl = Controller::start_leading(&client, &db, "b").await;
    poll(
        Duration::from_secs(60),
        "every event reconciled at its latest count",
        || async {
            let (_, v) = ctl.get("/api/v1/events?namespace=shop&limit=1000").await;
            let evs = v["events"].as_array().cloned().unwrap_or_default();
            evs.len() == 26
                && evs
                    .iter()
                    .find(|e| e["object"]["name"] == "p0")
                    .is_some_and(|e| e["count"] == 4)
        },
    )
    .await;
    let text = reqwest::get(format!("http://{}/metrics", ctl.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metric(
            &text,
            "kubemedic_archive_event_relists_total{kind=\"expired\"}"
        ) >= 1.0,
        "the resume from checkpoint {checkpoint} must have expired and relisted:\n{text}"
    );
    ctl.stop().await;
    // Nothing twice: p0 has repeats 1 (seen live) and 4 (reconciled), 2 and 3 were compacted.
    let store = SqliteStore::open_read_only(&db).unwrap();
    let p0 = store
        .events(&EventQuery {
            object: Some("pod/shop/p0".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
    let counts: Vec<i64> = p0[0].repeats.iter().map(|r| r.count).collect();
    assert_eq!(counts.first(), Some(&1));
    assert_eq!(counts.last(), Some(&4));
    let mut dedup = counts.clone();
    dedup.dedup();
    assert_eq!(dedup, counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_restart_is_survived_and_expired_events_stay_archived() {
    // Events live 5 s in the apiserver: the archive must outlive them.
    let Some((tb, client, _dir, _, ctl)) =
        support::archiving(&["--event-ttl=5s"], "shop", "a").await
    else {
        return;
    };
    let uid = create_event(
        &client,
        "shop",
        "before",
        "api-1",
        "BackOff",
        "before the restart",
    )
    .await;
    poll(Duration::from_secs(30), "event archived", || async {
        let (_, v) = ctl.get("/api/v1/events?object=pod/api-1").await;
        v["events"][0]["uid"] == uid.as_str()
    })
    .await;

    tb.stop_apiserver().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    tb.start_apiserver().await.unwrap();
    let client = tb.client();
    let uid2 = create_event(
        &client,
        "shop",
        "after",
        "api-2",
        "BackOff",
        "after the restart",
    )
    .await;
    poll(
        Duration::from_secs(60),
        "event after the restart archived",
        || async {
            let (_, v) = ctl.get("/api/v1/events?object=pod/api-2").await;
            v["events"][0]["uid"] == uid2.as_str()
        },
    )
    .await;

    // The TTL removes both from the apiserver; the archive keeps them.
    let api = support::events_api(&client, "shop");
    poll(
        Duration::from_secs(120),
        "events expired by the apiserver",
        || async {
            api.list(&Default::default())
                .await
                .map(|l| l.items.is_empty())
                .unwrap_or(false)
        },
    )
    .await;
    let (_, v) = ctl.get("/api/v1/events?namespace=shop").await;
    assert_eq!(v["events"].as_array().unwrap().len(), 2, "{v}");
    poll(
        Duration::from_secs(30),
        "healthy after the restart",
        || async {
            reqwest::get(format!("http://{}/healthz", ctl.addr))
                .await
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false)
        },
    )
    .await;
    ctl.stop().await;
}
