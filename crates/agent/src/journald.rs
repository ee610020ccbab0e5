//! journald source: drives `journalctl --follow --output=json`.
//!
//! Why not link libsystemd: the FFI crates need libsystemd at build and run time, which breaks
//! the static musl image the DaemonSet ships; `journalctl` is on every systemd host (and in the
//! host mount of a DaemonSet), reads every journal format version the host writes, and is what
//! vector's journald source does. Each JSON entry carries `__CURSOR`; when journalctl dies it is
//! restarted with backoff from `--after-cursor` so nothing is read twice or lost. A missing or
//! unreadable journal (a host without journald, an empty journal directory) is said once: the
//! source is degraded with the reason, journalctl is retried with a backoff that grows to five
//! minutes, and the same failure again is logged only at debug level.

use crate::SourceLine;
use crate::health::SourceHealth;
use crate::hostroot::{self, HostRoot};
use crate::nodelogs::{self, NodeLogs};
use jiff::Timestamp;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::mpsc;

/// Settings of one journald reader.
#[derive(Debug, Clone)]
pub struct JournaldOptions {
    /// `journalctl` executable (found on PATH by default).
    pub journalctl: PathBuf,
    /// Journal directory (`logPath`); `None` reads the system journal.
    pub directory: Option<PathBuf>,
    /// `SYSLOG_IDENTIFIER`s to follow (`pluginConfig.source` of each monitor sharing this
    /// journalctl); empty follows everything.
    pub identifiers: Vec<String>,
    /// Entries newer than now minus this are read at start; `None` starts at the end.
    pub lookback: Option<Duration>,
    /// Longest wait between restarts of a failing journalctl.
    pub max_backoff: Duration,
    /// Run journalctl chrooted into the host's root filesystem (`--host-root`).
    pub root: Option<HostRoot>,
}

impl JournaldOptions {
    /// Defaults: `journalctl` from PATH, system journal, everything, from the end.
    pub fn new() -> Self {
        Self {
            journalctl: PathBuf::from("journalctl"),
            directory: None,
            identifiers: Vec::new(),
            lookback: None,
            max_backoff: Duration::from_secs(300),
            root: None,
        }
    }
}

impl Default for JournaldOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds journalctl's arguments for a start (`cursor` None) or a restart after `cursor`.
pub fn journalctl_args(options: &JournaldOptions, cursor: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "--follow".to_string(),
        "--output=json".to_string(),
        "--no-pager".to_string(),
        "--quiet".to_string(),
    ];
    if let Some(dir) = &options.directory {
        args.push(format!("--directory={}", dir.display()));
    }
    match (cursor, options.lookback) {
        (Some(cursor), _) => args.push(format!("--after-cursor={cursor}")),
        (None, Some(lookback)) => {
            let since = Timestamp::now()
                .checked_sub(jiff::SignedDuration::try_from(lookback).unwrap_or_default())
                .unwrap_or(Timestamp::UNIX_EPOCH);
            args.push(format!("--since=@{}", since.as_second()));
        }
        (None, None) => args.push("--lines=0".to_string()),
    }
    // Several matches on the same field are ORed by journalctl.
    for id in &options.identifiers {
        args.push(format!("SYSLOG_IDENTIFIER={id}"));
    }
    args
}

/// One journal entry reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// `__CURSOR`, to resume after this entry.
    pub cursor: Option<String>,
    /// `SYSLOG_IDENTIFIER`, to route the entry to the monitors that follow it.
    pub identifier: Option<String>,
    /// The line: timestamp and message.
    pub line: SourceLine,
}

/// Parses one line of `journalctl --output=json`. Returns `None` for entries without MESSAGE.
pub fn parse_entry(json: &str) -> Result<Option<JournalEntry>, serde_json::Error> {
    let value: Value = serde_json::from_str(json)?;
    let cursor = value
        .get("__CURSOR")
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(message) = value.get("MESSAGE").and_then(field_text) else {
        return Ok(None);
    };
    let timestamp = value
        .get("__REALTIME_TIMESTAMP")
        .and_then(field_text)
        .and_then(|usec| usec.parse::<i64>().ok())
        .and_then(|usec| Timestamp::from_microsecond(usec).ok())
        .unwrap_or_else(Timestamp::now);
    let identifier = value.get("SYSLOG_IDENTIFIER").and_then(field_text);
    Ok(Some(JournalEntry {
        cursor,
        identifier,
        line: SourceLine { timestamp, message },
    }))
}

/// A journal field as journalctl prints it: a string, a byte array (not valid UTF-8), or an array
/// of those (the field appears several times; NPD reads the first, so do we... joined would
/// change matching).
fn field_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(Value::as_u64)
                .map(|b| b.min(255) as u8)
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => items.iter().find_map(field_text),
        _ => None,
    }
}

/// Keeps one entry as journal text (`<time> <identifier>: <message>`), one line per message line.
fn record_entry(logs: &NodeLogs, entry: &JournalEntry) {
    let identifier = entry.identifier.as_deref();
    let source = nodelogs::source_for_journal(identifier);
    for line in entry.line.message.lines() {
        logs.push(
            source,
            &format!(
                "{} {}: {line}",
                entry.line.timestamp,
                identifier.unwrap_or("-")
            ),
        );
    }
}

/// One monitor reading from a (possibly shared) journalctl.
#[derive(Debug)]
pub struct JournalSubscriber {
    /// `SYSLOG_IDENTIFIER` it wants; `None` wants everything.
    pub identifier: Option<String>,
    /// Entries older than this are not for it (its own lookback); `None` takes all.
    pub cutoff: Option<Timestamp>,
    /// Where its lines go.
    pub tx: mpsc::Sender<SourceLine>,
    /// Its health entry.
    pub health: Arc<SourceHealth>,
}

/// Runs journalctl for one monitor (see [`follow_shared`]).
pub async fn follow(
    options: JournaldOptions,
    tx: mpsc::Sender<SourceLine>,
    health: Arc<SourceHealth>,
) {
    let identifier = options.identifiers.first().cloned();
    follow_shared(
        options,
        vec![JournalSubscriber {
            identifier,
            cutoff: None,
            tx,
            health,
        }],
    )
    .await
}

/// Runs one journalctl (restarting it with backoff when it exits) for several monitors reading
/// the same journal, routing each entry by `SYSLOG_IDENTIFIER`: one process per journal instead
/// of one per monitor. Ends when every subscriber's receiver is dropped.
pub async fn follow_shared(options: JournaldOptions, subscribers: Vec<JournalSubscriber>) {
    follow_shared_recorded(options, subscribers, None).await
}

/// [`follow_shared`], also keeping every entry read in `logs` (by `SYSLOG_IDENTIFIER`).
pub async fn follow_shared_recorded(
    options: JournaldOptions,
    mut subscribers: Vec<JournalSubscriber>,
    logs: Option<NodeLogs>,
) {
    let health = Fanout(subscribers.iter().map(|s| s.health.clone()).collect());
    let mut cursor: Option<String> = None;
    let mut backoff = Duration::from_millis(500);
    // The last failure said at warning level; the same one again is only logged at debug.
    let mut said: Option<String> = None;
    loop {
        subscribers.retain(|s| !s.tx.is_closed());
        if subscribers.is_empty() {
            return;
        }
        let args = journalctl_args(&options, cursor.as_deref());
        let spawned =
            hostroot::command(&options.journalctl, options.root.as_ref()).and_then(|mut cmd| {
                cmd.args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
            });
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                let detail = format!("cannot start {}: {err}", options.journalctl.display());
                say_once(&mut said, &health, &detail, backoff);
                health.error(detail);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(options.max_backoff);
                continue;
            }
        };
        let mut got_entries = false;
        if let Some(stdout) = child.stdout.take() {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(err) => {
                        health.error(format!("reading journalctl output: {err}"));
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&buf);
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                match parse_entry(text) {
                    Ok(Some(entry)) => {
                        if !got_entries {
                            got_entries = true;
                            health.ok();
                            backoff = Duration::from_millis(500);
                            said = None;
                        }
                        if let Some(logs) = &logs {
                            record_entry(logs, &entry);
                        }
                        if entry.cursor.is_some() {
                            cursor = entry.cursor;
                        }
                        for sub in &subscribers {
                            // journalctl already filtered: an entry without the field
                            // (cannot happen with a real filter) goes to everyone.
                            let wanted = sub.identifier.is_none()
                                || entry.identifier.is_none()
                                || sub.identifier == entry.identifier;
                            if !wanted || sub.cutoff.is_some_and(|c| entry.line.timestamp < c) {
                                continue;
                            }
                            // A gone subscriber is dropped at the next restart; the others go on.
                            if sub.tx.send(entry.line.clone()).await.is_ok() {
                                sub.health.line();
                            }
                        }
                        if subscribers.iter().all(|s| s.tx.is_closed()) {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(source = %health.name(), error = %err, "skipping unparsable journalctl line");
                        health.error(format!("unparsable journalctl output: {err}"));
                    }
                }
            }
        }
        let mut stderr_text = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let mut limited = Vec::new();
            let _ = (&mut stderr).take(4096).read_to_end(&mut limited).await;
            // journalctl's words, quoted in logs and /healthz.
            stderr_text =
                kubemedic_term::visible(String::from_utf8_lossy(&limited).trim()).into_owned();
        }
        let status = child.wait().await;
        let detail = match status {
            Ok(s) => format!("journalctl exited ({s}): {stderr_text}"),
            Err(e) => format!("journalctl: {e}"),
        };
        say_once(&mut said, &health, &detail, backoff);
        health.error(detail);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(options.max_backoff);
    }
}

/// Logs a journalctl failure at warning level unless it is the one said last (a host without a
/// journal fails the same way on every retry), then at debug level.
fn say_once(said: &mut Option<String>, health: &Fanout, detail: &str, retry_in: Duration) {
    if said.as_deref() == Some(detail) {
        tracing::debug!(source = %health.name(), detail, ?retry_in, "journalctl failed again; retrying");
    } else {
        tracing::warn!(
            source = %health.name(),
            detail,
            ?retry_in,
            "journalctl failed; retrying with backoff (the same failure again is logged at debug level)"
        );
        *said = Some(detail.to_string());
    }
}

/// Applies a health change to every subscriber of a shared journalctl.
struct Fanout(Vec<Arc<SourceHealth>>);

impl Fanout {
    fn name(&self) -> String {
        self.0
            .iter()
            .map(|h| h.name())
            .collect::<Vec<_>>()
            .join(",")
    }
    fn ok(&self) {
        self.0.iter().for_each(|h| h.ok());
    }
    fn error(&self, detail: String) {
        self.0.iter().for_each(|h| h.error(detail.clone()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_by_identifier_one_line_per_message_line() {
        let logs = NodeLogs::default();
        for json in [
            r#"{"__REALTIME_TIMESTAMP":"1700000000000000","SYSLOG_IDENTIFIER":"dockerd","MESSAGE":"a\nb"}"#,
            r#"{"__REALTIME_TIMESTAMP":"1700000000000000","SYSLOG_IDENTIFIER":"systemd","MESSAGE":"c"}"#,
        ] {
            record_entry(&logs, &parse_entry(json).unwrap().unwrap());
        }
        use kubemedic_model::NodeLogSource;
        assert_eq!(
            logs.tail(NodeLogSource::Docker, None),
            [
                "2023-11-14T22:13:20Z dockerd: a",
                "2023-11-14T22:13:20Z dockerd: b"
            ]
        );
        assert_eq!(
            logs.tail(NodeLogSource::Syslog, None),
            ["2023-11-14T22:13:20Z systemd: c"]
        );
    }

    #[test]
    fn message_as_string_bytes_or_array() {
        let e = parse_entry(
            r#"{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1700000000000000","MESSAGE":"hello"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.line.message, "hello");
        assert_eq!(e.cursor.as_deref(), Some("c1"));
        assert_eq!(e.line.timestamp.as_second(), 1_700_000_000);
        let e = parse_entry(r#"{"MESSAGE":[104,105,255]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(e.line.message, "hi\u{fffd}");
        let e = parse_entry(r#"{"MESSAGE":["first","second"]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(e.line.message, "first");
        assert!(parse_entry(r#"{"OTHER":"x"}"#).unwrap().is_none());
        assert!(parse_entry("not json").is_err());
    }

    #[test]
    fn args_for_start_lookback_and_restart() {
        let mut o = JournaldOptions::new();
        o.directory = Some("/var/log/journal".into());
        o.identifiers = vec!["dockerd".into(), "containerd".into()];
        let a = journalctl_args(&o, None);
        assert!(a.contains(&"--lines=0".to_string()));
        assert!(a.contains(&"--directory=/var/log/journal".to_string()));
        assert!(a.contains(&"SYSLOG_IDENTIFIER=dockerd".to_string()));
        assert!(a.contains(&"SYSLOG_IDENTIFIER=containerd".to_string()));
        o.lookback = Some(Duration::from_secs(300));
        assert!(
            journalctl_args(&o, None)
                .iter()
                .any(|x| x.starts_with("--since=@"))
        );
        assert!(journalctl_args(&o, Some("cur")).contains(&"--after-cursor=cur".to_string()));
    }
}
