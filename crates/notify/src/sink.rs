//! Sink configuration and the payloads each receiver expects, as pure functions: Alertmanager
//! v2, Slack, WeCom group robot, DingTalk robot (signed), Feishu bot (signed), generic webhook.

use crate::alert::{Group, Severity, Status};
use crate::template::{self, Template};
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};

/// Receiver kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// Alertmanager v2 API (`POST /api/v2/alerts`).
    Alertmanager,
    /// Slack incoming webhook.
    Slack,
    /// WeCom (企业微信) group robot.
    Wecom,
    /// DingTalk (钉钉) robot, optionally signed.
    Dingtalk,
    /// Feishu / Lark (飞书) bot, optionally signed.
    Feishu,
    /// Any HTTP endpoint taking kubemedic's JSON.
    Webhook,
}

/// WeCom's limit on a text message's content, in bytes.
pub const WECOM_TEXT_LIMIT: usize = 2048;
/// DingTalk's limit: 20 messages per minute per robot.
pub const DINGTALK_PER_MINUTE: u32 = 20;

/// One sink as written in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SinkConfig {
    /// Name used in logs (default: the type).
    #[serde(default)]
    pub name: Option<String>,
    /// Receiver kind.
    #[serde(rename = "type")]
    pub kind: SinkKind,
    /// Endpoint (for Alertmanager its base URL, e.g. `http://alertmanager:9093`).
    pub url: String,
    /// Signing secret (DingTalk `SEC...`, Feishu).
    #[serde(default)]
    pub secret: Option<String>,
    /// Environment variable holding the secret (preferred over `secret`).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Message template for chat sinks.
    #[serde(default)]
    pub template: Option<String>,
    /// Messages per minute (DingTalk defaults to 20).
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
    /// Extra HTTP headers (webhook).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The alert config file (`--alert FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    repeat_interval: Option<String>,
    #[serde(default)]
    min_severity: Option<Severity>,
    #[serde(default)]
    sinks: Vec<SinkConfig>,
}

/// A checked sink, ready to build payloads.
#[derive(Debug, Clone)]
pub struct Sink {
    /// Name for logs.
    pub name: String,
    /// Kind.
    pub kind: SinkKind,
    /// Endpoint.
    pub url: String,
    /// Signing secret.
    pub secret: Option<String>,
    /// Template.
    pub template: Template,
    /// Rate limit per minute.
    pub rate_per_minute: Option<u32>,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
}

/// The whole alert configuration.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// A still-firing alert is sent again after this.
    pub repeat_interval: std::time::Duration,
    /// Alerts below this are not sent.
    pub min_severity: Severity,
    /// Sinks.
    pub sinks: Vec<Sink>,
}

/// The config is wrong; the message names the file and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct ConfigError {
    /// File.
    pub origin: String,
    /// What and where.
    pub reason: String,
}

impl AlertConfig {
    /// Parses the YAML text; `env` looks up `secretEnv` variables.
    pub fn parse(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AlertConfig, ConfigError> {
        let err = |reason: String| ConfigError {
            origin: origin.to_string(),
            reason,
        };
        let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| {
            let line = e
                .location()
                .map(|l| format!("line {}: ", l.line()))
                .unwrap_or_default();
            let msg = e.to_string();
            let first = msg
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid YAML");
            err(format!("{line}{}", first.trim()))
        })?;
        let repeat_interval = match &raw.repeat_interval {
            None => std::time::Duration::from_secs(4 * 3600),
            Some(t) => t
                .parse::<SignedDuration>()
                .ok()
                .and_then(|d| std::time::Duration::try_from(d).ok())
                .ok_or_else(|| {
                    err(format!(
                        "repeatInterval: {t:?} is not a duration (e.g. 4h, 30m)"
                    ))
                })?,
        };
        let mut sinks = Vec::new();
        for (i, s) in raw.sinks.iter().enumerate() {
            let path = format!("sinks[{i}]");
            if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
                return Err(err(format!(
                    "{path}.url: {:?} is not an http(s) URL",
                    s.url
                )));
            }
            let secret = match (&s.secret_env, &s.secret) {
                (Some(var), _) => Some(env(var).ok_or_else(|| {
                    err(format!(
                        "{path}.secretEnv: environment variable {var} is not set"
                    ))
                })?),
                (None, s) => s.clone(),
            };
            if secret.is_some() && !matches!(s.kind, SinkKind::Dingtalk | SinkKind::Feishu) {
                return Err(err(format!(
                    "{path}.secret: only dingtalk and feishu sign their requests"
                )));
            }
            let template = Template::parse(s.template.as_deref().unwrap_or(template::DEFAULT))
                .map_err(|e| err(format!("{path}.template: {e}")))?;
            let rate = match (s.kind, s.rate_per_minute) {
                (_, Some(0)) => return Err(err(format!("{path}.ratePerMinute: must be above 0"))),
                (SinkKind::Dingtalk, None) => Some(DINGTALK_PER_MINUTE),
                (_, r) => r,
            };
            sinks.push(Sink {
                name: s
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", s.kind).to_lowercase()),
                kind: s.kind,
                url: s.url.trim_end_matches('/').to_string(),
                secret,
                template,
                rate_per_minute: rate,
                headers: s.headers.clone(),
            });
        }
        Ok(AlertConfig {
            repeat_interval,
            min_severity: raw.min_severity.unwrap_or(Severity::Warning),
            sinks,
        })
    }
}

/// One HTTP request to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Full URL (with signing parameters where the receiver wants them there).
    pub url: String,
    /// JSON body.
    pub body: Value,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
}

fn hmac_sha256_base64(key: &[u8], msg: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&k, msg).as_ref())
}

/// DingTalk's signature: Base64(HMAC-SHA256(key = secret, message = "{timestamp}\n{secret}")),
/// URL-encoded, timestamp in milliseconds.
pub fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    let b64 = hmac_sha256_base64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    );
    percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Feishu's signature: Base64(HMAC-SHA256(key = "{timestamp}\n{secret}", message = empty)),
/// timestamp in seconds.
pub fn feishu_sign(timestamp_s: i64, secret: &str) -> String {
    hmac_sha256_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// Splits text into pieces of at most `limit` bytes, at line ends where possible and never
/// inside a UTF-8 character; each piece after the first says it continues.
pub fn split_bytes(text: &str, limit: usize) -> Vec<String> {
    const CONT: &str = "(continued)\n";
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let budget = |out: &Vec<String>| {
        if out.is_empty() {
            limit
        } else {
            limit - CONT.len()
        }
    };
    for line in text.split_inclusive('\n') {
        let mut line = line;
        loop {
            let room = budget(&out).saturating_sub(cur.len());
            if line.len() <= room {
                cur.push_str(line);
                break;
            }
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            // A line longer than a whole message: cut at a character boundary.
            let mut cut = room;
            while cut > 0 && !line.is_char_boundary(cut) {
                cut -= 1;
            }
            cur.push_str(&line[..cut]);
            out.push(std::mem::take(&mut cur));
            line = &line[cut..];
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, s)| if i == 0 { s } else { format!("{CONT}{s}") })
        .collect()
}

impl Sink {
    /// The requests that deliver one group (several for WeCom when the text is long).
    pub fn requests(&self, g: &Group, now: Timestamp) -> Vec<Request> {
        self.requests_for_text(g, &self.template.render(g), now)
    }

    /// The requests carrying a message already rendered (used for aggregated messages).
    pub fn requests_for_text(&self, g: &Group, text: &str, now: Timestamp) -> Vec<Request> {
        let req = |url: String, body: Value| Request {
            url,
            body,
            headers: self.headers.clone(),
        };
        match self.kind {
            SinkKind::Alertmanager => {
                let alerts: Vec<Value> = g
                    .notifications
                    .iter()
                    .map(|n| {
                        let mut labels = n.alert.labels.clone();
                        labels.insert("alertname".into(), n.alert.key.cause.clone());
                        labels.insert("severity".into(), n.alert.severity.as_str().into());
                        labels.insert("object".into(), n.alert.key.object.clone());
                        if let Some(node) = &n.alert.node {
                            labels.insert("node".into(), node.clone());
                        }
                        labels.insert("source".into(), "kubemedic".into());
                        let mut a = json!({
                            "labels": labels,
                            "annotations": {
                                "summary": n.alert.summary,
                                "description": n.alert.details.join("\n"),
                            },
                            "startsAt": n.starts_at.to_string(),
                        });
                        if let (Status::Resolved, Some(end)) = (n.status, n.ends_at) {
                            a["endsAt"] = json!(end.to_string());
                        }
                        a
                    })
                    .collect();
                vec![req(
                    format!("{}/api/v2/alerts", self.url),
                    Value::Array(alerts),
                )]
            }
            SinkKind::Slack => vec![req(self.url.clone(), json!({ "text": text }))],
            SinkKind::Wecom => split_bytes(text, WECOM_TEXT_LIMIT)
                .into_iter()
                .map(|chunk| {
                    req(
                        self.url.clone(),
                        json!({"msgtype": "text", "text": {"content": chunk}}),
                    )
                })
                .collect(),
            SinkKind::Dingtalk => {
                let mut url = self.url.clone();
                if let Some(secret) = &self.secret {
                    let ts = now.as_millisecond();
                    let sep = if url.contains('?') { '&' } else { '?' };
                    url = format!(
                        "{url}{sep}timestamp={ts}&sign={}",
                        dingtalk_sign(ts, secret)
                    );
                }
                vec![req(
                    url,
                    json!({"msgtype": "text", "text": {"content": text}}),
                )]
            }
            SinkKind::Feishu => {
                let mut body = json!({"msg_type": "text", "content": {"text": text}});
                if let Some(secret) = &self.secret {
                    let ts = now.as_second();
                    body["timestamp"] = json!(ts.to_string());
                    body["sign"] = json!(feishu_sign(ts, secret));
                }
                vec![req(self.url.clone(), body)]
            }
            SinkKind::Webhook => vec![req(
                self.url.clone(),
                json!({
                    "source": "kubemedic",
                    "cause": g.cause,
                    "text": text,
                    "notifications": g.notifications,
                }),
            )],
        }
    }
}

/// A sink's outbox: queues messages and releases them within a rate limit. When only one send
/// is left in the window and several messages wait, they go out aggregated into that one:
/// nothing is dropped, and the receiver's limit is never exceeded.
#[derive(Debug, Clone)]
pub struct RateQueue {
    limit: Option<usize>,
    window: SignedDuration,
    sent: VecDeque<Timestamp>,
    pending: VecDeque<(Group, String)>,
    /// Messages merged into aggregated ones so far.
    pub aggregated: u64,
}

impl RateQueue {
    /// A queue allowing `per_minute` sends per minute (None: unlimited).
    pub fn new(per_minute: Option<u32>) -> RateQueue {
        RateQueue {
            limit: per_minute.map(|n| n as usize),
            window: SignedDuration::from_secs(60),
            sent: VecDeque::new(),
            pending: VecDeque::new(),
            aggregated: 0,
        }
    }

    /// Queues a rendered message for a group.
    pub fn push(&mut self, g: Group, text: String) {
        self.pending.push_back((g, text));
    }

    /// Messages waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Puts a message back at the front (its send failed).
    pub fn retry(&mut self, g: Group, text: String) {
        self.pending.push_front((g, text));
        self.sent.pop_back();
    }

    /// The next message to send at `now`, if the rate allows.
    pub fn take(&mut self, now: Timestamp) -> Option<(Group, String)> {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.pending.is_empty() {
            return None;
        }
        let slots = match self.limit {
            None => usize::MAX,
            Some(l) => l.saturating_sub(self.sent.len()),
        };
        if slots == 0 {
            return None;
        }
        self.sent.push_back(now);
        if slots == 1 && self.pending.len() > 1 {
            let n = self.pending.len();
            self.aggregated += n as u64;
            let mut notes = Vec::new();
            let mut text = format!(
                "[kubemedic] {n} messages aggregated (the receiver allows {} per minute):",
                self.limit.unwrap_or(0)
            );
            let mut cause = String::new();
            for (g, t) in self.pending.drain(..) {
                if cause.is_empty() {
                    cause = g.cause.clone();
                }
                text.push_str("\n---\n");
                text.push_str(&t);
                notes.extend(g.notifications);
            }
            return Some((
                Group {
                    cause,
                    notifications: notes,
                },
                text,
            ));
        }
        self.pending.pop_front()
    }

    /// When the next send becomes possible, if messages wait and the window is full.
    pub fn next_slot(&self) -> Option<Timestamp> {
        if self.pending.is_empty() {
            return None;
        }
        match self.limit {
            Some(l) if self.sent.len() >= l => self
                .sent
                .front()
                .and_then(|t| t.checked_add(self.window).ok()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, AlertKey, Notification};

    fn group(cause: &str, n: usize) -> Group {
        Group {
            cause: cause.into(),
            notifications: (0..n)
                .map(|i| Notification {
                    alert: Alert {
                        key: AlertKey {
                            cause: cause.into(),
                            object: format!("node/n{i}"),
                        },
                        severity: Severity::Critical,
                        summary: format!("summary {i} 网络插件未就绪"),
                        details: vec![],
                        node: Some(format!("n{i}")),
                        labels: BTreeMap::new(),
                    },
                    status: Status::Firing,
                    starts_at: Timestamp::from_second(1_800_000_000).unwrap(),
                    ends_at: None,
                })
                .collect(),
        }
    }

    #[test]
    fn signatures_match_the_vendors_algorithms() {
        // Known answers computed with Python's hmac/hashlib/base64/urllib (an independent
        // implementation of the documented algorithms).
        assert_eq!(
            dingtalk_sign(1_700_000_000_000, "SECtest-dingtalk-secret"),
            "SeA1uFpvxLYGo8brWhdvRM%2FsmfJfgwMDjxPYcefh%2BPo%3D"
        );
        assert_eq!(
            feishu_sign(1_700_000_000, "feishu-test-secret"),
            "e3MJ8Q5llVxGJ8pVkGPBhexDAgjvYqpjPP1GkY9XceI="
        );
    }

    #[test]
    fn wecom_text_is_split_at_2048_bytes_without_breaking_characters() {
        let text = "网".repeat(2000) + "\nshort line\n";
        let parts = split_bytes(&text, WECOM_TEXT_LIMIT);
        assert!(parts.len() >= 3, "{}", parts.len());
        for p in &parts {
            assert!(p.len() <= WECOM_TEXT_LIMIT, "{}", p.len());
        }
        let joined: String = parts
            .iter()
            .map(|p| p.trim_start_matches("(continued)\n"))
            .collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn the_rate_queue_never_exceeds_the_limit_nor_drops() {
        let mut q = RateQueue::new(Some(20));
        let t0 = Timestamp::from_second(1_800_000_000).unwrap();
        for i in 0..25 {
            q.push(group(&format!("C{i}"), 1), format!("message {i}"));
        }
        let mut sent = Vec::new();
        while let Some((_, text)) = q.take(t0) {
            sent.push(text);
        }
        assert_eq!(sent.len(), 20);
        assert_eq!(q.pending(), 0);
        for i in 0..25 {
            assert!(
                sent.iter().any(|s| s.contains(&format!("message {i}\n"))
                    || s.ends_with(&format!("message {i}"))),
                "message {i} lost"
            );
        }
        assert!(sent[19].starts_with("[kubemedic] 6 messages aggregated"));
        // More while the window is full: held, then released a minute later.
        q.push(group("late", 1), "late".into());
        assert!(
            q.take(t0.checked_add(SignedDuration::from_secs(30)).unwrap())
                .is_none()
        );
        assert_eq!(
            q.next_slot(),
            Some(t0.checked_add(SignedDuration::from_secs(60)).unwrap())
        );
        let later = t0.checked_add(SignedDuration::from_secs(60)).unwrap();
        assert_eq!(q.take(later).unwrap().1, "late");
    }

    #[test]
    fn config_is_checked_with_file_and_field() {
        let env = |k: &str| (k == "DT").then(|| "SECx".to_string());
        let cfg = AlertConfig::parse(
            "sinks:\n  - type: dingtalk\n    url: http://127.0.0.1:1/robot/send?access_token=t\n    secretEnv: DT\n",
            "a.yaml",
            &env,
        )
        .unwrap();
        assert_eq!(cfg.sinks[0].rate_per_minute, Some(20));
        assert_eq!(cfg.sinks[0].secret.as_deref(), Some("SECx"));
        let e = AlertConfig::parse(
            "sinks:\n  - type: pager\n    url: http://x\n",
            "a.yaml",
            &env,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("a.yaml: line 2"), "{e}");
        let e = AlertConfig::parse(
            "sinks:\n  - type: slack\n    url: http://x\n    template: \"{{nope}}\"\n",
            "a.yaml",
            &env,
        )
        .unwrap_err();
        assert_eq!(
            e.reason,
            "sinks[0].template: unknown placeholder {{nope}} (known: cause, status, severity, count, objects, summary, lines)"
        );
        let e = AlertConfig::parse(
            "sinks:\n  - type: feishu\n    url: http://x\n    secretEnv: MISSING\n",
            "a.yaml",
            &env,
        )
        .unwrap_err();
        assert!(e.reason.contains("MISSING is not set"), "{e}");
    }

    #[test]
    fn alertmanager_payload_has_labels_and_ends_at_on_resolve() {
        let sink = Sink {
            name: "am".into(),
            kind: SinkKind::Alertmanager,
            url: "http://127.0.0.1:9093".into(),
            secret: None,
            template: Template::parse(template::DEFAULT).unwrap(),
            rate_per_minute: None,
            headers: BTreeMap::new(),
        };
        let mut g = group("CNIFailure", 2);
        g.notifications[1].status = Status::Resolved;
        g.notifications[1].ends_at = Some(Timestamp::from_second(1_800_000_100).unwrap());
        let r = sink.requests(&g, Timestamp::from_second(1_800_000_100).unwrap());
        assert_eq!(r[0].url, "http://127.0.0.1:9093/api/v2/alerts");
        let a = r[0].body.as_array().unwrap();
        assert_eq!(a[0]["labels"]["alertname"], "CNIFailure");
        assert_eq!(a[0]["labels"]["node"], "n0");
        assert!(a[0].get("endsAt").is_none());
        assert_eq!(a[1]["endsAt"], "2027-01-15T08:01:40Z");
    }
}
