//! The behaviour both stores promise, run against a real SQLite file and a real PostgreSQL server.

mod support;

use kubemedic_archive::pgserver::PgServer;
use kubemedic_archive::postgres::PostgresStore;
use kubemedic_archive::query::parse_time;
use kubemedic_archive::{Batch, CrashQuery, EventQuery, SqliteStore, Store};
use support::{crash, node_event, pod_event, t};

fn ev_query(object: Option<&str>) -> EventQuery {
    EventQuery {
        object: object.map(|o| o.parse().expect("valid selector")),
        ..Default::default()
    }
}

/// Everything both backends must do the same way.
fn contract(store: &dyn Store) {
    // Three repeats of one event, written across two batches with an overlap (a resumed watch
    // re-delivers what it already stored), plus other objects.
    let b1 = Batch {
        events: vec![
            pod_event(
                "e1",
                1,
                100,
                "api-1",
                "BackOff",
                "Back-off restarting failed container app in pod api-1",
            ),
            pod_event(
                "e1",
                2,
                130,
                "api-1",
                "BackOff",
                "Back-off restarting failed container app in pod api-1",
            ),
            pod_event(
                "e2",
                1,
                105,
                "api-2",
                "Pulled",
                "Successfully pulled image \"busybox\"",
            ),
            node_event("n1", 110, "worker-1", "NodeNotReady"),
        ],
        checkpoints: vec![("events.k8s.io/v1".into(), "1000".into())],
        ..Default::default()
    };
    let s = store.write(&b1).expect("first write");
    assert_eq!((s.events_inserted, s.events_duplicate), (4, 0));
    let b2 = Batch {
        events: vec![
            pod_event(
                "e1",
                2,
                130,
                "api-1",
                "BackOff",
                "Back-off restarting failed container app in pod api-1",
            ),
            pod_event(
                "e1",
                3,
                190,
                "api-1",
                "BackOff",
                "Back-off restarting failed container app in pod api-1",
            ),
        ],
        checkpoints: vec![("events.k8s.io/v1".into(), "1005".into())],
        ..Default::default()
    };
    let s = store.write(&b2).expect("second write");
    assert_eq!((s.events_inserted, s.events_duplicate), (1, 1));
    assert_eq!(
        store
            .checkpoint("events.k8s.io/v1")
            .expect("reads")
            .as_deref(),
        Some("1005")
    );
    assert_eq!(store.checkpoint("nope").expect("reads"), None);

    // By object: every repeat, with times, oldest first.
    let evs = store.events(&ev_query(Some("pod/api-1"))).expect("query");
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].uid, "e1");
    assert_eq!(evs[0].count, 3);
    assert_eq!(evs[0].times, vec![t(100), t(130), t(190)]);
    assert_eq!(evs[0].first_timestamp, t(100));
    assert_eq!(evs[0].cluster, store.cluster());

    // A workload's timeline includes its pods' events.
    let evs = store.events(&ev_query(Some("deploy/api"))).expect("query");
    assert_eq!(
        evs.iter().map(|e| e.uid.as_str()).collect::<Vec<_>>(),
        ["e2", "e1"]
    );
    let evs = store
        .events(&ev_query(Some("deploy/other/api")))
        .expect("query");
    assert!(evs.is_empty(), "namespace narrows the workload");
    let evs = store
        .events(&ev_query(Some("node/worker-1")))
        .expect("query");
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].origin.as_str(), "node-condition");

    // Filters.
    let q = EventQuery {
        type_: Some("Warning".into()),
        namespace: Some("shop".into()),
        ..Default::default()
    };
    assert_eq!(store.events(&q).expect("query").len(), 1);
    let q = EventQuery {
        reason: Some("Pulled".into()),
        ..Default::default()
    };
    assert_eq!(store.events(&q).expect("query")[0].uid, "e2");
    let q = EventQuery {
        since: Some(t(120)),
        until: Some(t(150)),
        ..Default::default()
    };
    let evs = store.events(&q).expect("query");
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].times, vec![t(130)], "only repeats inside the window");
    let q = EventQuery {
        grep: Some("restarting failed contain".into()),
        ..Default::default()
    };
    assert_eq!(store.events(&q).expect("query")[0].uid, "e1");
    let q = EventQuery {
        grep: Some("failed restarting".into()),
        ..Default::default()
    };
    assert!(
        store.events(&q).expect("query").is_empty(),
        "words must be in order"
    );
    let q = EventQuery {
        grep: Some("--".into()),
        ..Default::default()
    };
    assert!(
        store.events(&q).is_err(),
        "nothing to search for is an error"
    );
    let q = EventQuery {
        limit: 2,
        ..Default::default()
    };
    let evs = store.events(&q).expect("query");
    assert_eq!(
        evs.iter().map(|e| e.times.len()).sum::<usize>(),
        2,
        "limit counts repeats"
    );
    assert_eq!(
        evs.last().map(|e| e.last_timestamp),
        Some(t(190)),
        "the newest are kept"
    );

    // Follow: the cursor moves past what was read; new writes appear once.
    let page = store.follow(&EventQuery::default()).expect("follow");
    assert_eq!(page.occurrences.len(), 5);
    let cursor = page.cursor;
    store
        .write(&Batch {
            events: vec![pod_event(
                "e3",
                1,
                200,
                "api-3",
                "Killing",
                "Stopping container app",
            )],
            ..Default::default()
        })
        .expect("write");
    let page = store
        .follow(&EventQuery {
            after: Some(cursor),
            ..Default::default()
        })
        .expect("follow");
    assert_eq!(page.occurrences.len(), 1);
    assert_eq!(page.occurrences[0].uid, "e3");
    let page = store
        .follow(&EventQuery {
            after: Some(page.cursor),
            ..Default::default()
        })
        .expect("follow");
    assert!(page.occurrences.is_empty());

    // A 64 KiB note is stored and served whole.
    let big = "x".repeat(64 * 1024);
    store
        .write(&Batch {
            events: vec![pod_event("big", 1, 210, "api-4", "Big", &big)],
            ..Default::default()
        })
        .expect("write 64 KiB note");
    let evs = store.events(&ev_query(Some("pod/api-4"))).expect("query");
    assert_eq!(evs[0].message.len(), 64 * 1024);

    // Crashes: logs round-trip byte for byte (invalid UTF-8 too), duplicates skipped, the last
    // N per container kept, text search over logs.
    let mut logs = b"panic: runtime error: invalid memory address or nil pointer dereference\ngoroutine 1 [running]:\nmain.main()\n".to_vec();
    logs.extend_from_slice(b"\xff\xfe not utf-8\n");
    let s = store
        .write(&Batch {
            crashes: vec![
                crash("api-1", "app", 1, &logs),
                crash("api-1", "app", 1, &logs),
            ],
            ..Default::default()
        })
        .expect("write crash");
    assert_eq!((s.crashes_inserted, s.crashes_duplicate), (1, 1));
    assert!(
        store
            .has_crash("uid-api-1", "app", "containerd://api-1-app-1")
            .expect("has")
    );
    assert!(
        !store
            .has_crash("uid-api-1", "app", "containerd://other")
            .expect("has")
    );
    let cq = CrashQuery {
        object: Some("pod/api-1".parse().expect("valid")),
        ..Default::default()
    };
    let crashes = store.crashes(&cq).expect("query");
    assert_eq!(crashes.len(), 1);
    assert_eq!(crashes[0].logs.as_deref(), Some(logs.as_slice()));
    assert_eq!(crashes[0].exit_code, 2);
    let cq = CrashQuery {
        grep: Some("nil pointer".into()),
        ..Default::default()
    };
    assert_eq!(store.crashes(&cq).expect("query").len(), 1);
    let cq = CrashQuery {
        object: Some("deploy/api".parse().expect("valid")),
        without_logs: true,
        ..Default::default()
    };
    let listed = store.crashes(&cq).expect("query");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].logs.is_none());

    // 100 containers of one pod crashing at once, then rotation down to the last 3 of one.
    let many: Vec<_> = (0..100)
        .map(|i| {
            crash(
                "wide",
                &format!("c{i}"),
                1,
                format!("container {i} died").as_bytes(),
            )
        })
        .collect();
    let s = store
        .write(&Batch {
            crashes: many,
            ..Default::default()
        })
        .expect("write 100 containers");
    assert_eq!(s.crashes_inserted, 100);
    let rotated: u64 = (2..=6)
        .map(|n| {
            store
                .write(&Batch {
                    crashes: vec![crash("wide", "c0", n, b"again")],
                    ..Default::default()
                })
                .expect("write")
                .crashes_rotated
        })
        .sum();
    let kept = store
        .crashes(&CrashQuery {
            object: Some("pod/shop/wide".parse().expect("valid")),
            container: Some("c0".into()),
            ..Default::default()
        })
        .expect("query");
    let keep = 3;
    assert_eq!(kept.len(), keep, "last {keep} kept");
    assert_eq!(rotated, 3);
    assert_eq!(
        kept.iter().map(|c| c.restart_count).collect::<Vec<_>>(),
        [4, 5, 6]
    );

    let stats = store.stats().expect("stats");
    assert_eq!(stats.events, 7);
    assert_eq!(stats.crashes, 1 + 99 + 3);
    store.ping().expect("ping");
    let _ = parse_time("1h", t(0)).expect("parses");
}

#[test]
fn sqlite_store_keeps_its_promises() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive.db");
    let store = SqliteStore::open(&path, "test").expect("opens");
    store.set_crashes_per_container(3);
    contract(&store);
    drop(store);
    // Reopening keeps everything and resumes from the checkpoint.
    let store = SqliteStore::open(&path, "test").expect("reopens");
    assert_eq!(
        store
            .checkpoint("events.k8s.io/v1")
            .expect("reads")
            .as_deref(),
        Some("1005")
    );
    assert_eq!(store.stats().expect("stats").events, 7);
    let ro = SqliteStore::open_read_only(&path).expect("read-only");
    assert_eq!(
        ro.events(&ev_query(Some("pod/api-1"))).expect("query")[0].count,
        3
    );
    assert!(
        ro.write(&Batch {
            checkpoints: vec![("x".into(), "y".into())],
            ..Default::default()
        })
        .is_err()
    );
}

#[test]
fn postgres_store_keeps_its_promises() {
    let Some(server) =
        PgServer::start_or_skip("postgres_store_keeps_its_promises").expect("postgres starts")
    else {
        return;
    };
    let url = server.create_database("contract").expect("database");
    let store = PostgresStore::connect(&url, "test").expect("connects");
    store.set_crashes_per_container(3);
    contract(&store);
    // A second controller (another cluster) writes the same uids into the same database: the
    // clusters stay apart, and a reader over all clusters sees both.
    let other = PostgresStore::connect(&url, "other").expect("connects");
    other
        .write(&Batch {
            events: vec![pod_event("e1", 1, 100, "api-1", "BackOff", "other cluster")],
            ..Default::default()
        })
        .expect("write");
    assert_eq!(
        store.events(&ev_query(Some("pod/api-1"))).expect("query")[0].count,
        3
    );
    assert_eq!(
        other.events(&ev_query(Some("pod/api-1"))).expect("query")[0].count,
        1
    );
    let reader = PostgresStore::connect_reader(&url).expect("reader");
    let all = reader.events(&ev_query(Some("pod/api-1"))).expect("query");
    let mut clusters: Vec<_> = all.iter().map(|e| e.cluster.as_str()).collect();
    clusters.sort();
    assert_eq!(clusters, ["other", "test"]);
}

#[test]
fn postgres_takes_several_writers_at_once() {
    let Some(server) =
        PgServer::start_or_skip("postgres_takes_several_writers_at_once").expect("postgres starts")
    else {
        return;
    };
    let url = server.create_database("writers").expect("database");
    // Four controllers (four clusters) write at once, each into partitions none has created yet,
    // each re-sending half of its events: nothing lost, nothing doubled, no DDL race.
    std::thread::scope(|s| {
        for w in 0..4 {
            let url = url.clone();
            s.spawn(move || {
                let store = PostgresStore::connect(&url, &format!("c{w}")).expect("connects");
                for b in 0..20 {
                    let events = (0..200)
                        .map(|i| {
                            let n = b * 100 + i;
                            // 30 days of spread: many partitions created concurrently.
                            pod_event(&format!("u{n}"), 1, n * 1_300, "p", "R", "m")
                        })
                        .collect();
                    store
                        .write(&Batch {
                            events,
                            ..Default::default()
                        })
                        .expect("concurrent write");
                }
            });
        }
    });
    let reader = PostgresStore::connect_reader(&url).expect("reader");
    for w in 0..4 {
        let evs = reader
            .events(&EventQuery {
                cluster: Some(format!("c{w}")),
                limit: 100_000,
                ..Default::default()
            })
            .expect("query");
        assert_eq!(evs.len(), 2_100, "cluster c{w}: every uid once");
    }
}
