//! system-stats metric parity with node-problem-detector: for NPD's reference stats config, the
//! agent's `/metrics` (on a real socket) has every metric family NPD v1.36.0 printed, with the same
//! label names and the same values of its enumerated labels (`state`, `stage`, `direction`).
//! NPD's output is the committed fixture `fixtures/npd-v1.36.0-system-stats.prom` (its header says
//! how it was produced); host-specific labels (device, cpu, kernel) are compared by name only.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_agent::run::MonitorSet;
use kubemedic_detect::config::parse_system_stats_monitor;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::{http_get, serve};

const NPD_OUTPUT: &str = include_str!("fixtures/npd-v1.36.0-system-stats.prom");
const CONFIG: &str = include_str!("fixtures/system-stats-monitor-no-osfeature.json");
/// Labels whose values are a fixed set in NPD (not host-specific).
const ENUM_LABELS: [&str; 3] = ["state", "stage", "direction"];

/// Family -> (label names, values seen per enumerated label).
type Families = BTreeMap<String, (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>)>;

fn families(exposition: &str) -> Families {
    let mut out = Families::new();
    for line in exposition.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (name, labels) = match line.split_once('{') {
            Some((name, rest)) => (name, rest.split_once('}').unwrap().0),
            None => (line.split_whitespace().next().unwrap(), ""),
        };
        let entry = out.entry(name.to_string()).or_default();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap();
            entry.0.insert(key.to_string());
            if ENUM_LABELS.contains(&key) {
                let value = value.trim_matches('"').to_string();
                entry.1.entry(key.to_string()).or_default().insert(value);
            }
        }
    }
    out
}

#[tokio::test]
async fn stats_metrics_match_npd_names_and_labels() {
    let expected = families(NPD_OUTPUT);
    assert!(
        expected.len() >= 25,
        "fixture parsed to {} families",
        expected.len()
    );
    // The reference config as is, except a 1 s period (and lsblkTimeout, which may not exceed it): disk_avg_queue_len (as in NPD) needs two
    // collections, and the period changes no name or label.
    let mut config: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
    config["invokeInterval"] = "1s".into();
    config["disk"]["lsblkTimeout"] = "1s".into();
    let stats =
        parse_system_stats_monitor("system-stats-monitor.json", &config.to_string()).unwrap();
    let addr = serve(
        "parity-node",
        MonitorSet {
            stats: vec![stats],
            ..Default::default()
        },
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let (body, actual) = loop {
        let body = http_get(addr, "/metrics").await.body;
        let actual = families(&body);
        if expected.keys().all(|k| actual.contains_key(k)) {
            break (body, actual);
        }
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !actual.contains_key(*k))
            .collect();
        assert!(
            Instant::now() < deadline,
            "families NPD has and kubemedic lacks: {missing:?}\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (name, (labels, values)) in &expected {
        let (got_labels, got_values) = &actual[name];
        assert_eq!(got_labels, labels, "label names of {name}:\n{body}");
        assert_eq!(
            got_values, values,
            "enumerated label values of {name}:\n{body}"
        );
    }
}
