//! `/logs/<source>` on a running agent fed by a real filelog monitor tailing a real file:
//! lines come back in order, `tail` works, the per-source cap holds, unknown sources are 404.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_agent::nodelogs::DEFAULT_MAX_LINES;
use kubemedic_agent::run::MonitorSet;
use kubemedic_detect::config::parse_system_log_monitor;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::{Reply, export_entry, http_get, journal_remote, serve, write_journal};

fn kubelet_line(i: usize) -> String {
    let t = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::system())
        .strftime("%b %e %H:%M:%S")
        .to_string();
    format!("{t} node kubelet[42]: line {i} PLEG is not healthy")
}

/// Polls `/logs/kubelet` until its last line is `line {last}`; returns the body's lines.
async fn wait_for_last(addr: SocketAddr, last: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let Reply { code, body, .. } = http_get(addr, "/logs/kubelet").await;
        assert_eq!(code, 200);
        let lines: Vec<String> = body.lines().map(str::to_string).collect();
        if lines
            .last()
            .is_some_and(|l| l.contains(&format!("line {last} ")))
        {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "line {last} never served; last: {:?}",
            lines.last()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn logs_endpoint_serves_recent_lines_of_a_tailed_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("kubelet.log");
    let first: String = (0..10).map(|i| kubelet_line(i) + "\n").collect();
    std::fs::write(&log, first).unwrap();
    let config = format!(
        r#"{{"plugin": "filelog",
  "pluginConfig": {{"timestamp": "^.{{15}}", "message": "kubelet\\[\\d+\\]: (.*)", "timestampFormat": "Jan _2 15:04:05"}},
  "logPath": "{}", "lookback": "5m", "source": "kubelet-file-monitor",
  "conditions": [],
  "rules": [{{"type": "temporary", "reason": "PLEGUnhealthy", "pattern": "PLEG is not healthy.*"}}]}}"#,
        log.display()
    );
    let addr = serve(
        "logs-test-node",
        MonitorSet {
            log: vec![parse_system_log_monitor("kubelet-file.json", &config).unwrap()],
            ..Default::default()
        },
    )
    .await;

    // The lines already in the file (lookback reads from the start), in order, verbatim.
    let lines = wait_for_last(addr, 9).await;
    let expected: Vec<String> = (0..10).map(|i| format!("line {i} ")).collect();
    assert_eq!(lines.len(), 10, "{lines:?}");
    for (line, want) in lines.iter().zip(&expected) {
        assert!(line.contains(want), "{line:?} should contain {want:?}");
        assert!(line.contains("node kubelet[42]: "), "{line:?}");
    }
    let Reply {
        code, head, body, ..
    } = http_get(addr, "/logs/kubelet?tail=3").await;
    assert_eq!(code, 200);
    assert!(head.contains("content-type: text/plain"), "{head}");
    let tail: Vec<&str> = body.lines().collect();
    assert_eq!(tail.len(), 3);
    assert!(
        tail[0].contains("line 7 ") && tail[2].contains("line 9 "),
        "{tail:?}"
    );

    // Appended lines follow; the ring keeps only the most recent DEFAULT_MAX_LINES.
    let total = DEFAULT_MAX_LINES + 500;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let more: String = (10..total).map(|i| kubelet_line(i) + "\n").collect();
    f.write_all(more.as_bytes()).unwrap();
    drop(f);
    let lines = wait_for_last(addr, total - 1).await;
    assert_eq!(lines.len(), DEFAULT_MAX_LINES);
    let oldest = total - DEFAULT_MAX_LINES;
    assert!(
        lines[0].contains(&format!("line {oldest} ")),
        "{}",
        lines[0]
    );
    for (k, line) in lines.iter().enumerate() {
        assert!(line.contains(&format!("line {} ", oldest + k)), "{line}");
    }

    // A source nothing read is empty; an unknown one is 404 naming the valid ones.
    let Reply { code, body, .. } = http_get(addr, "/logs/docker").await;
    assert_eq!((code, body.as_str()), (200, ""));
    let Reply { code, body, .. } = http_get(addr, "/logs/nginx").await;
    assert_eq!(code, 404);
    assert!(
        body.contains("kernel, kubelet, containerd, docker, kube-proxy, syslog"),
        "{body}"
    );
}

/// Writes a real journal file from journal-export text (systemd-journal-remote).
#[tokio::test]
async fn journal_entries_are_served_by_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now().as_microsecond();
    let entry = |seq: u32, id: &str, msg: &str| {
        export_entry(now - 10_000_000 + i64::from(seq), seq, id, msg)
    };
    let export = [
        entry(1, "dockerd", "waiting for xtables lock"),
        entry(2, "kubelet", "PLEG is not healthy"),
        entry(3, "dockerd", "xtables lock held by another app"),
    ]
    .concat();
    let Some(tool) = journal_remote() else {
        return;
    };
    write_journal(&tool, &dir.path().join("a.journal"), &export);
    let monitor = |id: &str, source: &str| {
        let config = format!(
            r#"{{"plugin": "journald", "pluginConfig": {{"source": "{id}"}},
  "logPath": "{}", "lookback": "5m", "source": "{source}",
  "conditions": [],
  "rules": [{{"type": "temporary", "reason": "Never", "pattern": "never matches this"}}]}}"#,
            dir.path().display()
        );
        parse_system_log_monitor(&format!("{source}.json"), &config).unwrap()
    };
    let addr = serve(
        "journal-logs-node",
        MonitorSet {
            log: vec![
                monitor("dockerd", "docker-monitor"),
                monitor("kubelet", "kubelet-monitor"),
            ],
            ..Default::default()
        },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let docker = loop {
        let Reply { code, body, .. } = http_get(addr, "/logs/docker").await;
        assert_eq!(code, 200);
        if body.lines().count() >= 2 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "docker lines never served: {body:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lines: Vec<&str> = docker.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].ends_with(" dockerd: waiting for xtables lock"),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with(" dockerd: xtables lock held by another app"),
        "{lines:?}"
    );
    // One shared journalctl: the kubelet entry is kept once, under kubelet.
    let kubelet = http_get(addr, "/logs/kubelet").await.body;
    assert_eq!(kubelet.lines().count(), 1, "{kubelet:?}");
    assert!(
        kubelet.ends_with(" kubelet: PLEG is not healthy\n"),
        "{kubelet:?}"
    );
    let syslog = http_get(addr, "/logs/syslog").await.body;
    assert_eq!(syslog, "");
}
