//! Every sink against a local receiver on 127.0.0.1 that checks what each vendor's robot checks:
//! payload shape, signatures (recomputed here from the documented algorithms), the WeCom size
//! limit, the DingTalk rate limit; plus a receiver that fails and one that never answers.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use jiff::Timestamp;
use kubemedic_notify::{Alert, AlertConfig, AlertKey, Notifier, Severity};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Received {
    path: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Status to answer with (200 by default).
    status: Arc<Mutex<Option<StatusCode>>>,
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&k, msg).as_ref())
}

async fn handle(
    State(r): State<Receiver>,
    uri: axum::http::Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        query,
        headers,
        body,
    });
    let status = r.status.lock().unwrap().unwrap_or(StatusCode::OK);
    (status, r#"{"errcode":0,"errmsg":"ok"}"#.to_string())
}

async fn receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let app = Router::new()
        .route("/{*path}", post(handle))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (r, format!("http://{addr}"))
}

fn alert(cause: &str, node: &str, summary: &str) -> Alert {
    Alert {
        key: AlertKey {
            cause: cause.into(),
            object: format!("node/{node}"),
        },
        severity: Severity::Critical,
        summary: summary.into(),
        details: vec!["condition Ready=False: NetworkPluginNotReady".into()],
        node: Some(node.into()),
        labels: BTreeMap::new(),
    }
}

fn notifier(yaml: &str) -> Notifier {
    let env = |_: &str| None;
    Notifier::new(AlertConfig::parse(yaml, "test.yaml", &env).unwrap()).unwrap()
}

/// A local receiver, a notifier whose config `sinks` writes for the receiver's base URL, one
/// alert observed: every request the receiver got.
async fn deliver_one(sinks: impl Fn(&str) -> String, a: Alert) -> Vec<Received> {
    let (r, base) = receiver().await;
    let mut n = notifier(&sinks(&base));
    n.observe(Timestamp::now(), vec![a]).await;
    r.got.lock().unwrap().clone()
}

#[tokio::test]
async fn dingtalk_requests_are_signed_and_rate_limited_without_loss() {
    let (r, base) = receiver().await;
    let secret = "SECabcdef0123456789";
    let mut n = notifier(&format!(
        "sinks:\n  - type: dingtalk\n    url: {base}/robot/send?access_token=tok\n    secret: {secret}\n"
    ));
    let now = Timestamp::now();
    // 25 distinct causes at once: 25 messages for a robot that takes 20 a minute.
    let alerts: Vec<Alert> = (0..25)
        .map(|i| alert(&format!("Cause{i:02}"), "n1", &format!("problem {i}")))
        .collect();
    let rep = n.observe(now, alerts).await;
    assert_eq!(rep.delivered, 20, "{rep:?}");
    assert_eq!(rep.queued, 0);
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 20);
    let mut all_text = String::new();
    for g in &got {
        assert_eq!(g.path, "/robot/send");
        assert_eq!(g.query["access_token"], "tok");
        // DingTalk: sign = urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret))),
        // timestamp in ms within an hour of the server's clock.
        let ts: i64 = g.query["timestamp"].parse().unwrap();
        assert!((ts - now.as_millisecond()).abs() < 3_600_000);
        let expected = hmac_b64(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes());
        assert_eq!(
            g.query["sign"], expected,
            "query is URL-decoded by the receiver"
        );
        assert_eq!(g.body["msgtype"], "text");
        all_text.push_str(g.body["text"]["content"].as_str().unwrap());
        all_text.push('\n');
    }
    for i in 0..25 {
        assert!(
            all_text.contains(&format!("problem {i}\n")),
            "problem {i} lost"
        );
    }
    assert!(all_text.contains("6 messages aggregated"));
}

#[tokio::test]
async fn feishu_bodies_carry_timestamp_and_sign() {
    let secret = "feishu-secret";
    let got = deliver_one(
        |base| {
            format!(
                "sinks:\n  - type: feishu\n    url: {base}/open-apis/bot/v2/hook/xyz\n    secret: {secret}\n"
            )
        },
        alert("CNIFailure", "n1", "cni down"),
    )
    .await;
    assert_eq!(got.len(), 1);
    let b = &got[0].body;
    assert_eq!(b["msg_type"], "text");
    let ts = b["timestamp"].as_str().unwrap();
    // Feishu: sign = base64(HmacSHA256(key = timestamp + "\n" + secret, message = "")).
    let expected = hmac_b64(format!("{ts}\n{secret}").as_bytes(), b"");
    assert_eq!(b["sign"], expected);
    assert!(
        b["content"]["text"]
            .as_str()
            .unwrap()
            .contains("FIRING node/n1: cni down")
    );
}

#[tokio::test]
async fn wecom_messages_stay_within_2048_bytes() {
    let (r, base) = receiver().await;
    let mut n = notifier(&format!(
        "sinks:\n  - type: wecom\n    url: {base}/cgi-bin/webhook/send?key=k\n"
    ));
    // 60 nodes with one cause and long Chinese summaries: one group, far over 2,048 bytes.
    let alerts: Vec<Alert> = (0..60)
        .map(|i| {
            alert(
                "CNIFailure",
                &format!("node-{i}"),
                "节点网络插件未就绪，容器网络中断",
            )
        })
        .collect();
    n.observe(Timestamp::now(), alerts).await;
    let got = r.got.lock().unwrap().clone();
    assert!(got.len() > 1);
    let mut text = String::new();
    for g in &got {
        assert_eq!(g.body["msgtype"], "text");
        let c = g.body["text"]["content"].as_str().unwrap();
        assert!(c.len() <= 2048, "{} bytes", c.len());
        text.push_str(c);
    }
    for i in 0..60 {
        assert!(text.contains(&format!("node/node-{i}:")), "node-{i} lost");
    }
}

#[tokio::test]
async fn alertmanager_gets_v2_alerts_and_resolves() {
    let (r, base) = receiver().await;
    let mut n = notifier(&format!(
        "sinks:\n  - type: alertmanager\n    url: {base}\n"
    ));
    let t0 = Timestamp::now();
    n.observe(
        t0,
        vec![
            alert("KernelDeadlock", "n1", "hung task"),
            alert("KernelDeadlock", "n2", "hung task"),
        ],
    )
    .await;
    // Same alerts again: deduplicated, nothing sent.
    n.observe(
        t0,
        vec![
            alert("KernelDeadlock", "n1", "hung task"),
            alert("KernelDeadlock", "n2", "hung task"),
        ],
    )
    .await;
    // n2 heals: a resolve with endsAt.
    n.observe(t0, vec![alert("KernelDeadlock", "n1", "hung task")])
        .await;
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].path, "/api/v2/alerts");
    assert_eq!(
        got[0].headers["content-type"].to_str().unwrap(),
        "application/json"
    );
    let first = got[0].body.as_array().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0]["labels"]["alertname"], "KernelDeadlock");
    assert_eq!(first[0]["labels"]["severity"], "critical");
    assert!(first[0]["startsAt"].as_str().is_some());
    let resolved = got[1].body.as_array().unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["labels"]["node"], "n2");
    assert!(resolved[0]["endsAt"].as_str().is_some());
}

#[tokio::test]
async fn slack_and_webhook_payloads() {
    let got = deliver_one(
        |base| {
            format!(
                "sinks:\n  - type: slack\n    url: {base}/services/T/B/X\n    template: \"{{{{cause}}}}: {{{{objects}}}}\"\n  - type: webhook\n    url: {base}/hook\n    headers:\n      Authorization: Bearer t\n"
            )
        },
        alert("NodeDiskFull", "n9", "disk full"),
    )
    .await;
    assert_eq!(got.len(), 2);
    let slack = got
        .iter()
        .find(|g| g.path.starts_with("/services"))
        .unwrap();
    assert_eq!(slack.body["text"], "NodeDiskFull: node/n9");
    let hook = got.iter().find(|g| g.path == "/hook").unwrap();
    assert_eq!(hook.headers["authorization"], "Bearer t");
    assert_eq!(hook.body["cause"], "NodeDiskFull");
    assert_eq!(hook.body["notifications"][0]["status"], "firing");
}

#[tokio::test]
async fn a_failing_receiver_keeps_the_message_for_the_next_flush() {
    let (r, base) = receiver().await;
    *r.status.lock().unwrap() = Some(StatusCode::SERVICE_UNAVAILABLE);
    let mut n = notifier(&format!("sinks:\n  - type: slack\n    url: {base}/s\n"));
    let now = Timestamp::now();
    let rep = n
        .observe(now, vec![alert("CNIFailure", "n1", "down")])
        .await;
    assert_eq!((rep.delivered, rep.failed, rep.queued), (0, 1, 1));
    *r.status.lock().unwrap() = None;
    let rep = n.flush(now).await;
    assert_eq!((rep.delivered, rep.queued), (1, 0));
    assert_eq!(r.got.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_is_retried() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            h.lock().unwrap().push(sock);
        }
    });
    let mut n = notifier(&format!(
        "sinks:\n  - type: slack\n    url: http://{addr}/s\n"
    ));
    let started = std::time::Instant::now();
    let rep = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        n.observe(Timestamp::now(), vec![alert("CNIFailure", "n1", "down")]),
    )
    .await
    .expect("a silent receiver must not hang the notifier");
    assert_eq!((rep.failed, rep.queued), (1, 1));
    assert!(started.elapsed() >= std::time::Duration::from_secs(9));
}
