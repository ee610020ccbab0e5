//! Shared by the agent's integration tests: an agent serving HTTP on 127.0.0.1, a plain HTTP GET,
//! and real journal files written with systemd-journal-remote.
#![allow(clippy::unwrap_used, dead_code)]

use kubemedic_agent::run::{AgentOptions, MonitorSet, start};
use kubemedic_agent::stats::StatsOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts an agent running `monitors` with no cluster and no stdout output, its HTTP server on a
/// free 127.0.0.1 port (returned). It runs until the test's runtime ends.
pub async fn serve(node_name: &str, monitors: MonitorSet) -> SocketAddr {
    let options = AgentOptions {
        node_name: node_name.into(),
        monitors,
        output: None,
        kube: None,
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        stats: StatsOptions {
            iptables_save: None,
            ..Default::default()
        },
        journalctl: "journalctl".into(),
        probes: None,
    };
    let (handles, running) = start(options, std::future::pending()).await.unwrap();
    tokio::spawn(running);
    handles.listening[0]
}

/// One HTTP/1.0 reply: status code, header block (lowercased), body.
pub struct Reply {
    pub code: u16,
    pub head: String,
    pub body: String,
}

/// GET `path` from `addr` over plain HTTP/1.0; a server that does not answer within 30 s fails
/// the test instead of hanging it.
pub async fn http_get(addr: SocketAddr, path: &str) -> Reply {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        buf
    };
    let buf = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap_or_else(|_| panic!("GET {path} from {addr}: no reply within 30 s"));
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Reply {
        code,
        head: head.to_lowercase(),
        body: body.to_string(),
    }
}

const JOURNAL_REMOTE: &str = "/usr/lib/systemd/systemd-journal-remote";

/// systemd-journal-remote, or `None` (after saying why) when it is not installed; with
/// `KUBEMEDIC_REQUIRE_TESTBED` set its absence fails the test instead.
pub fn journal_remote() -> Option<PathBuf> {
    let p = PathBuf::from(JOURNAL_REMOTE);
    if p.exists() {
        Some(p)
    } else {
        assert!(
            std::env::var_os("KUBEMEDIC_REQUIRE_TESTBED").is_none(),
            "{JOURNAL_REMOTE} missing: apt-get install systemd-journal-remote"
        );
        eprintln!("skipping: {JOURNAL_REMOTE} missing (apt-get install systemd-journal-remote)");
        None
    }
}

/// One entry in journal-export format.
pub fn export_entry(usec: i64, seq: u32, identifier: &str, message: &str) -> String {
    format!(
        "__REALTIME_TIMESTAMP={usec}\n__MONOTONIC_TIMESTAMP={seq}\n_BOOT_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER={identifier}\nMESSAGE={message}\n\n"
    )
}

/// Writes the journal-export text `export` into the journal file `file` with `tool`.
pub fn write_journal(tool: &Path, file: &Path, export: &str) {
    use std::io::Write;
    let mut child = Command::new(tool)
        .arg(format!("--output={}", file.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(export.as_bytes())
        .unwrap();
    assert!(
        kubemedic_testbed::child::wait(&mut child, Duration::from_secs(60))
            .unwrap()
            .success()
    );
}
