//! `kubemedic controller` killed with SIGKILL in the middle of an event storm: after a restart,
//! the archive holds exactly the repeats the apiserver served, none missing, none twice.
#![allow(clippy::unwrap_used)]

mod support;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kubemedic_archive::{EventQuery, SqliteStore, Store};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EVENTS: usize = 150;
const REPEATS: i64 = 6;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_controller(kubeconfig: &Path, db: &Path, port: u16, log: &Path) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
    kubemedic_testbed::child::die_with_test(kubemedic_testbed::child::reset_signals(&mut cmd));
    cmd.args(["controller", "--kubeconfig"])
        .arg(kubeconfig)
        .arg("--archive")
        .arg(format!("sqlite:{}", db.display()))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--identity",
            "kill-test",
        ])
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

async fn wait_leading(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/status")).await
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["leader"] == true
            && v["synced"] == true
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "controller exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "controller not leading after 60 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events_api(client: &kube::Client) -> Api<DynamicObject> {
    let ar = kube::api::ApiResource {
        group: "events.k8s.io".into(),
        version: "v1".into(),
        api_version: "events.k8s.io/v1".into(),
        kind: "Event".into(),
        plural: "events".into(),
    };
    Api::namespaced_with(client.clone(), "storm", &ar)
}

fn micro(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// One write of the storm: create event `i` (repeat 1) or bump it to `repeat`.
async fn write(api: &Api<DynamicObject>, i: usize, repeat: i64) {
    let name = format!("crashloop-{i}.backoff");
    let now = jiff::Timestamp::now();
    if repeat == 1 {
        let ev: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "storm"},
            "eventTime": micro(now), "reportingController": "kubelet", "reportingInstance": "node-1",
            "action": "Restarting", "reason": "BackOff", "type": "Warning",
            "note": format!("Back-off restarting failed container app in pod crashloop-{i}"),
            "regarding": {"kind": "Pod", "namespace": "storm", "name": format!("crashloop-{i}")},
        }))
        .unwrap();
        api.create(&PostParams::default(), &ev).await.unwrap();
    } else {
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"series": {"count": repeat, "lastObservedTime": micro(now)}})),
        )
        .await
        .unwrap();
    }
}

fn archived(db: &Path) -> BTreeMap<String, BTreeSet<i64>> {
    let Ok(store) = SqliteStore::open_read_only(db) else {
        return BTreeMap::new();
    };
    store
        .events(&EventQuery {
            namespace: Some("storm".into()),
            limit: 1_000_000,
            ..Default::default()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.uid, e.repeats.iter().map(|r| r.count).collect()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_storm_loses_nothing_and_counts_nothing_twice() {
    let Some(tb) = support::control_plane().await else {
        return;
    };
    let client = tb.client();
    for ns in ["storm", "kubemedic"] {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("archive.db");
    let log = dir.path().join("controller.log");
    let port = free_port();
    let mut ctl = start_controller(tb.kubeconfig_path(), &db, port, &log);
    wait_leading(port, &mut ctl, &log).await;

    // The storm: every event created, then repeated up to REPEATS, 8 writes in flight.
    let api = events_api(&client);
    let writes: Vec<(usize, i64)> = (1..=REPEATS)
        .flat_map(|r| (0..EVENTS).map(move |i| (i, r)))
        .collect();
    let total = writes.len();
    let mut killed_at = None;
    for (k, chunk) in writes.chunks(8).enumerate() {
        futures::future::join_all(chunk.iter().map(|&(i, r)| write(&api, i, r))).await;
        // SIGKILL a third of the way in, once the archive has taken some of the storm.
        if killed_at.is_none() && (k + 1) * 8 >= total / 3 {
            let deadline = Instant::now() + Duration::from_secs(30);
            while archived(&db).values().map(BTreeSet::len).sum::<usize>() == 0 {
                assert!(
                    Instant::now() < deadline,
                    "nothing archived before the kill"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ctl.kill().unwrap(); // SIGKILL
            kubemedic_testbed::child::wait(&mut ctl, Duration::from_secs(30)).unwrap();
            killed_at = Some((k + 1) * 8);
        }
    }
    let before_restart: usize = archived(&db).values().map(BTreeSet::len).sum();
    assert!(
        before_restart > 0 && before_restart < total,
        "the kill must land mid-storm ({before_restart} of {total} archived)"
    );

    // Restart on the same archive: it resumes from its checkpoint.
    let port = free_port();
    let mut ctl = start_controller(tb.kubeconfig_path(), &db, port, &log);
    wait_leading(port, &mut ctl, &log).await;

    // What the apiserver served: every event's uid with repeats 1..=REPEATS.
    let served: BTreeMap<String, BTreeSet<i64>> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| {
            let count = e.data["series"]["count"].as_i64().unwrap_or(1);
            (e.metadata.uid.unwrap(), (1..=count).collect())
        })
        .collect();
    assert_eq!(served.len(), EVENTS);
    assert!(served.values().all(|c| c.len() == REPEATS as usize));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = archived(&db);
        if got == served {
            break;
        }
        if Instant::now() > deadline {
            let missing: usize = served
                .iter()
                .map(|(u, c)| c.difference(got.get(u).unwrap_or(&BTreeSet::new())).count())
                .sum();
            let extra: usize = got
                .iter()
                .map(|(u, c)| {
                    c.difference(served.get(u).unwrap_or(&BTreeSet::new()))
                        .count()
                })
                .sum();
            panic!(
                "after restart: {missing} repeats missing, {extra} not served by the apiserver (killed after {killed_at:?} writes)\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The same set, and no (uid, count) stored twice: the raw row count equals the distinct
    // repeats (a query folds duplicates away), and the storm's are exactly the served ones. Other
    // namespaces are counted apart: the controller and the testbed's own components write Events
    // of their own (leader election, healing announcements) meanwhile.
    let store = SqliteStore::open_read_only(&db).unwrap();
    let distinct = |namespace: Option<&str>| -> usize {
        store
            .events(&EventQuery {
                namespace: namespace.map(Into::into),
                limit: 1_000_000,
                ..Default::default()
            })
            .unwrap()
            .iter()
            .map(|e| e.repeats.len())
            .sum()
    };
    let stats = store.stats().unwrap();
    assert_eq!(
        stats.events as usize,
        distinct(None),
        "a repeat stored twice"
    );
    assert_eq!(distinct(Some("storm")), total, "one row per served repeat");
    let _ = ctl.kill();
    let _ = kubemedic_testbed::child::wait(&mut ctl, Duration::from_secs(30));
}
