//! The whole agent in-process (standalone, no cluster) with a filelog monitor on a real file:
//! NPD's timestamp/message regexes, Go layout, skipList and lookback; the HTTP endpoints
//! (/healthz, /conditions, /facts, /metrics) on a real socket.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_agent::health::{HealthRegistry, SourceState};
use kubemedic_agent::run::MonitorSet;
use kubemedic_agent::state::AgentState;
use kubemedic_detect::config::parse_system_log_monitor;
use std::io::Write;
use std::time::{Duration, Instant};
use support::{Reply, http_get, serve};

fn syslog_time(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%b %e %H:%M:%S")
        .to_string()
}

#[tokio::test]
async fn filelog_monitor_and_http_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("kern.log");
    let now = jiff::Timestamp::now();
    // Before start: one old line (outside lookback) and one recent (inside).
    let old = now
        .checked_sub(jiff::SignedDuration::from_hours(2))
        .unwrap();
    let recent = now
        .checked_sub(jiff::SignedDuration::from_secs(30))
        .unwrap();
    std::fs::write(
        &log,
        format!(
            "{} node kernel: [ 1.0] Out of memory: Killed process 11 (old) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n\
             {} node kernel: [ 2.0] Out of memory: Killed process 22 (recent) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n",
            syslog_time(old),
            syslog_time(recent)
        ),
    )
    .unwrap();
    let config = format!(
        r#"{{"plugin": "filelog",
  "pluginConfig": {{"timestamp": "^.{{15}}", "message": "kernel: \\[.*\\] (.*)", "timestampFormat": "Jan _2 15:04:05"}},
  "logPath": "{}", "lookback": "5m", "bufferSize": 10, "source": "kernel-file-monitor",
  "skipList": [" audit: "],
  "conditions": [{{"type": "KernelDeadlock", "reason": "KernelHasNoDeadlock", "message": "kernel has no deadlock"}}],
  "rules": [
    {{"type": "temporary", "reason": "OOMKilling", "pattern": "Killed process \\d+ (.+) total-vm:\\d+kB, anon-rss:\\d+kB, file-rss:\\d+kB.*"}},
    {{"type": "permanent", "condition": "KernelDeadlock", "reason": "DockerHung", "pattern": "task docker:\\w+ blocked for more than \\w+ seconds\\."}}
  ]}}"#,
        log.display()
    );
    let monitors = MonitorSet {
        log: vec![parse_system_log_monitor("kern-file.json", &config).unwrap()],
        ..Default::default()
    };
    let addr = serve("http-test-node", monitors).await;

    // The recent line (lookback) counts, the old one does not.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let Reply { code, body, .. } = http_get(addr, "/metrics").await;
        assert_eq!(code, 200);
        if body.contains("problem_counter{reason=\"OOMKilling\"} 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "OOMKilling never counted:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A skipped line and a matching one appended after start.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let t = syslog_time(jiff::Timestamp::now());
    writeln!(
        f,
        "{t} node kernel: [ 3.0] audit: task docker:1 blocked for more than 120 seconds."
    )
    .unwrap();
    writeln!(
        f,
        "{t} node kernel: [ 4.0] INFO: task docker:77 blocked for more than 120 seconds."
    )
    .unwrap();
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(20);
    let conditions = loop {
        let body = http_get(addr, "/conditions").await.body;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let c = v["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["condition_type"] == "KernelDeadlock")
            .cloned();
        if let Some(c) = c
            && c["status"] == "True"
        {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "KernelDeadlock never True: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(conditions["reason"], "DockerHung");
    assert_eq!(conditions["source"], "kernel-file-monitor");
    assert!(
        conditions["message"]
            .as_str()
            .unwrap()
            .contains("docker:77"),
        "the skipList line must not be what matched: {conditions}"
    );

    let metrics = http_get(addr, "/metrics").await.body;
    assert!(
        metrics.contains("problem_gauge{reason=\"DockerHung\",type=\"KernelDeadlock\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "kubemedic_agent_source_lines_total{source=\"kernel-file-monitor\",kind=\"filelog\"}"
        ),
        "{metrics}"
    );

    let Reply {
        code, body: health, ..
    } = http_get(addr, "/healthz").await;
    assert_eq!(code, 200, "{health}");

    // Facts are collected at start (first tick is immediate).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = http_get(addr, "/facts").await.body;
        let facts: kubemedic_model::NodeFacts = serde_json::from_str(&body).unwrap();
        if facts.collected_at.is_some() {
            assert_eq!(facts.node, "http-test-node");
            assert!(facts.load.unwrap().cores >= 1);
            assert!(!facts.disks.is_empty());
            break;
        }
        assert!(Instant::now() < deadline, "facts never collected: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn healthz_names_dead_sources() {
    let health = HealthRegistry::default();
    health
        .register("kernel-monitor", "kmsg")
        .set(SourceState::Ok);
    health
        .register("docker-monitor", "journald")
        .set(SourceState::Degraded("journal missing".into()));
    let app = kubemedic_agent::http::router(AgentState::new("n"), health.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let code = http_get(addr, "/healthz").await.code;
    assert_eq!(code, 200, "a degraded source keeps the agent healthy");
    health
        .register("kernel-monitor", "kmsg")
        .set(SourceState::Dead("monitor stopped".into()));
    let Reply { code, body, .. } = http_get(addr, "/healthz").await;
    assert_eq!(code, 503);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["dead"], serde_json::json!(["kernel-monitor"]));
}
