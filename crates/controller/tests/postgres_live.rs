//! Two replicas on one PostgreSQL archive: one leads and writes, the other takes over when it
//! stops and resumes from the shared checkpoint; PostgreSQL going away is buffered and retried.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_archive::pgserver::PgServer;
use kubemedic_archive::postgres::PostgresStore;
use kubemedic_archive::{ArchiveUrl, EventQuery, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::{Controller, config, create_event, ensure_namespace, poll, repeat_event};

/// The sync PostgreSQL client runs its own runtime: call it off the async workers.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn archived(url: &str) -> BTreeMap<String, BTreeSet<i64>> {
    blocking(|| archived_now(url))
}

fn archived_now(url: &str) -> BTreeMap<String, BTreeSet<i64>> {
    let Ok(store) = PostgresStore::connect_reader(url) else {
        return BTreeMap::new();
    };
    store
        .events(&EventQuery {
            namespace: Some("shop".into()),
            limit: 100_000,
            ..Default::default()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.uid, e.repeats.iter().map(|r| r.count).collect()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_fail_over_on_a_shared_postgres_and_an_outage_is_buffered() {
    let Some(mut pg) =
        blocking(|| PgServer::start_or_skip("replicas_fail_over_on_a_shared_postgres")).unwrap()
    else {
        return;
    };
    let url = blocking(|| pg.create_database("archive")).unwrap();
    let Some(tb) = support::control_plane(&[]).await else {
        return;
    };
    let client = tb.client();
    ensure_namespace(&client, "shop").await;
    let a = Controller::start(
        &client,
        config(ArchiveUrl::Postgres(url.clone()), "replica-a"),
    )
    .await;
    a.wait_leading().await;
    let b = Controller::start(
        &client,
        config(ArchiveUrl::Postgres(url.clone()), "replica-b"),
    )
    .await;
    poll(Duration::from_secs(30), "replica b synced", || async {
        let (_, s) = b.get("/api/v1/status").await;
        s["synced"] == true
    })
    .await;
    let (_, s) = b.get("/api/v1/status").await;
    assert_eq!(s["leader"], false, "one leader at a time");

    let mut served: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for i in 0..5 {
        let uid = create_event(
            &client,
            "shop",
            &format!("e{i}"),
            &format!("p{i}"),
            "BackOff",
            "m",
        )
        .await;
        served.insert(uid, BTreeSet::from([1]));
    }
    poll(Duration::from_secs(30), "leader a archives", || async {
        archived(&url) == served
    })
    .await;
    // Every replica serves reads from the shared store.
    let (_, v) = b.get("/api/v1/events?object=pod/p0").await;
    assert_eq!(v["events"][0]["count"], 1, "{v}");

    // The leader stops (releasing the Lease); b takes over and resumes from the shared checkpoint.
    a.stop().await;
    b.wait_leading().await;
    for i in 0..5 {
        repeat_event(&client, "shop", &format!("e{i}"), 2).await;
    }
    for v in served.values_mut() {
        v.insert(2);
    }
    poll(
        Duration::from_secs(30),
        "leader b archives the repeats",
        || async { archived(&url) == served },
    )
    .await;

    // PostgreSQL goes away: new events wait in the buffer; nothing is lost when it returns.
    blocking(|| pg.stop());
    for i in 5..10 {
        let uid = create_event(
            &client,
            "shop",
            &format!("e{i}"),
            &format!("p{i}"),
            "BackOff",
            "during the outage",
        )
        .await;
        served.insert(uid, BTreeSet::from([1]));
    }
    poll(Duration::from_secs(30), "write errors counted", || async {
        let text = reqwest::get(format!("http://{}/metrics", b.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .any(|l| l.starts_with("kubemedic_archive_write_errors_total{kind=\"unreachable\"}"))
    })
    .await;
    blocking(|| pg.start_again()).unwrap();
    poll(
        Duration::from_secs(60),
        "the outage's events archived after PostgreSQL returns",
        || async { archived(&url) == served },
    )
    .await;
    b.stop().await;
}
