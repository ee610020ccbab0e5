//! Exports against local HTTP receivers that check the protocol: a webhook that fails for a
//! while (nothing lost, nothing twice), Loki's push API, routes, and a spool that fills up.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use jiff::Timestamp;
use kubemedic_archive::{EventOccurrence, ObjectRef, Origin};
use kubemedic_controller::export::{ExportConfig, Exports};
use kubemedic_controller::metrics::Metrics;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Receiver {
    /// Requests to refuse (503) before accepting.
    refuse: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<(String, String, serde_json::Value)>>>,
}

async fn receive(
    State(r): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if r.refuse.load(Ordering::SeqCst) > 0 {
        r.refuse.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let Ok(v) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    r.bodies
        .lock()
        .unwrap()
        .push((uri.path().to_string(), ct, v));
    StatusCode::NO_CONTENT
}

async fn serve(r: Receiver) -> SocketAddr {
    let app = Router::new().fallback(post(receive)).with_state(r);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

fn occ(i: usize, reason: &str, ns: &str) -> EventOccurrence {
    let t = Timestamp::from_second(1_790_000_000 + i as i64).unwrap();
    EventOccurrence {
        uid: format!("uid-{i}"),
        count: 1,
        time: t,
        first_time: t,
        origin: Origin::Event,
        api: "events.k8s.io/v1".into(),
        object: ObjectRef {
            kind: "Pod".into(),
            namespace: ns.into(),
            name: format!("pod-{i}"),
            uid: None,
        },
        workload: None,
        reason: reason.into(),
        type_: "Warning".into(),
        message: format!("message {i}"),
        component: "kubelet".into(),
        host: "node-1".into(),
    }
}

async fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_outage_loses_nothing_loki_speaks_push_and_routes_filter() {
    let hook = Receiver::default();
    hook.refuse.store(3, Ordering::SeqCst);
    let loki = Receiver::default();
    let hook_addr = serve(hook.clone()).await;
    let loki_addr = serve(loki.clone()).await;
    let spool = tempfile::tempdir().unwrap();
    let cfg: ExportConfig = serde_saphyr::from_str(&format!(
        "sinks:
  - name: hook
    type: webhook
    url: http://{hook_addr}/events
    headers: {{X-Token: secret}}
    batchSize: 10
    batchWaitMs: 100
    route:
      drop:
        - namespaces: [kube-system]
  - name: loki
    type: loki
    url: http://{loki_addr}
    batchWaitMs: 100
    route:
      match:
        - reasons: [OOMKilling]
"
    ))
    .unwrap();
    cfg.validate().unwrap();
    let metrics = Metrics::new();
    let x = Exports::start(&cfg, "prod", Some(spool.path()), metrics.clone()).unwrap();
    let mut batch: Vec<EventOccurrence> = (0..25).map(|i| occ(i, "BackOff", "shop")).collect();
    batch.push(occ(100, "BackOff", "kube-system"));
    batch.push(occ(101, "OOMKilling", "shop"));
    batch.push(occ(102, "OOMKilling", "shop"));
    x.offer(&batch);

    // The webhook refused three requests; retries deliver everything, once, in order.
    wait("26 records at the webhook", || {
        hook.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, v)| v.as_array().map(Vec::len).unwrap_or(0))
            .sum::<usize>()
            == 27
    })
    .await;
    let bodies = hook.bodies.lock().unwrap().clone();
    let uids: Vec<String> = bodies
        .iter()
        .flat_map(|(_, _, v)| v.as_array().unwrap().clone())
        .map(|r| r["uid"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = uids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), uids.len(), "nothing delivered twice");
    assert!(
        !uids.contains(&"uid-100".to_string()),
        "the drop rule excluded kube-system"
    );
    assert!(
        bodies
            .iter()
            .all(|(p, ct, _)| p == "/events" && ct == "application/json")
    );
    assert!(
        bodies
            .iter()
            .all(|(_, _, v)| v.as_array().unwrap().len() <= 10),
        "batches of at most 10"
    );
    let first = &bodies[0].2[0];
    assert_eq!(first["cluster"], "prod");
    assert_eq!(first["count"], 1);
    assert_eq!(first["object"]["kind"], "Pod");

    // Loki got only the routed OOMKilling records, as push API streams.
    wait("2 lines at loki", || {
        !loki.bodies.lock().unwrap().is_empty()
    })
    .await;
    let (path, ct, body) = loki.bodies.lock().unwrap()[0].clone();
    assert_eq!(path, "/loki/api/v1/push");
    assert_eq!(ct, "application/json");
    let stream = &body["streams"][0];
    assert_eq!(stream["stream"]["reason"], "OOMKilling");
    assert_eq!(stream["stream"]["cluster"], "prod");
    let values = stream["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    let ns: i128 = values[0][0].as_str().unwrap().parse().unwrap();
    assert_eq!(ns, 1_790_000_101_000_000_000);
    let line: serde_json::Value = serde_json::from_str(values[0][1].as_str().unwrap()).unwrap();
    assert_eq!(line["uid"], "uid-101");

    let text = metrics.encode();
    assert!(
        text.contains("kubemedic_export_sent_records_total{sink=\"hook\"} 27"),
        "{text}"
    );
    assert!(
        text.contains("kubemedic_export_failures_total{sink=\"hook\"} 3"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_drops_new_records_and_says_so_then_delivers_the_rest() {
    let hook = Receiver::default();
    hook.refuse.store(usize::MAX / 2, Ordering::SeqCst);
    let addr = serve(hook.clone()).await;
    let spool = tempfile::tempdir().unwrap();
    let cfg: ExportConfig = serde_saphyr::from_str(&format!(
        "sinks:
  - name: hook
    type: webhook
    url: http://{addr}/
    batchSize: 5
    batchWaitMs: 50
    queueMaxBytes: 3000
"
    ))
    .unwrap();
    let metrics = Metrics::new();
    let x = Exports::start(&cfg, "c", Some(spool.path()), metrics.clone()).unwrap();
    for k in 0..10 {
        x.offer(
            &(k * 5..k * 5 + 5)
                .map(|i| occ(i, "BackOff", "shop"))
                .collect::<Vec<_>>(),
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    wait("the bound hit", || {
        metrics.encode().lines().any(|l| {
            l.starts_with("kubemedic_export_queue_full_total{sink=\"hook\"}") && !l.ends_with(" 0")
        })
    })
    .await;
    // The spool on disk stays within its bound.
    let bytes: u64 = std::fs::read_dir(spool.path().join("hook"))
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(bytes <= 3000, "{bytes}");
    // The receiver recovers: what was spooled is delivered.
    hook.refuse.store(0, Ordering::SeqCst);
    wait("spool drained", || {
        std::fs::read_dir(spool.path().join("hook"))
            .unwrap()
            .count()
            == 0
    })
    .await;
    let delivered: usize = hook
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, v)| v.as_array().unwrap().len())
        .sum();
    let text = metrics.encode();
    let dropped: usize = text
        .lines()
        .find(|l| l.starts_with("kubemedic_export_queue_full_total{sink=\"hook\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert_eq!(
        delivered + dropped,
        50,
        "every record delivered or counted as dropped"
    );
    assert!(delivered > 0);
}
