//! The I/O edge: sends each sink's queued messages over HTTP(S), within its rate limit, and
//! keeps what could not be delivered for the next flush (bounded retries, each loss logged).

use crate::alert::{Alert, Group, Tracker};
use crate::sink::{AlertConfig, RateQueue, Request, Sink};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use std::time::Duration;

/// How many times one message is tried before it is given up (with an error log).
pub const MAX_ATTEMPTS: u32 = 5;
/// Time allowed for one HTTP request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What one flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Requests that the receivers accepted.
    pub delivered: usize,
    /// Requests that failed (kept for a retry, or given up after [`MAX_ATTEMPTS`]).
    pub failed: usize,
    /// Messages given up.
    pub given_up: usize,
    /// Messages still queued (rate limit or retry).
    pub queued: usize,
}

struct SinkState {
    sink: Sink,
    queue: RateQueue,
    attempts: u32,
}

/// Tracks alerts and delivers them to every configured sink.
pub struct Notifier {
    tracker: Tracker,
    sinks: Vec<SinkState>,
    client: HttpsClient,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field(
                "sinks",
                &self.sinks.iter().map(|s| &s.sink.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The HTTPS client could not be set up (no usable root certificates).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTPS client for alert sinks: {0}")]
pub struct ClientError(String);

impl Notifier {
    /// Builds a notifier from a checked config.
    pub fn new(config: AlertConfig) -> Result<Notifier, ClientError> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| ClientError(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Notifier {
            tracker: Tracker::new(config.repeat_interval, config.min_severity),
            sinks: config
                .sinks
                .into_iter()
                .map(|sink| SinkState {
                    queue: RateQueue::new(sink.rate_per_minute),
                    sink,
                    attempts: 0,
                })
                .collect(),
            client,
        })
    }

    /// One pass: every alert present now. Queues what is new, changed, due again or resolved,
    /// then flushes.
    pub async fn observe(&mut self, now: Timestamp, present: Vec<Alert>) -> FlushReport {
        let groups = self.tracker.observe(now, present);
        self.enqueue(&groups);
        self.flush(now).await
    }

    /// Queues groups on every sink.
    pub fn enqueue(&mut self, groups: &[Group]) {
        for s in &mut self.sinks {
            for g in groups {
                let text = s.sink.template.render(g);
                s.queue.push(g.clone(), text);
            }
        }
    }

    /// Sends what each sink's rate allows now.
    pub async fn flush(&mut self, now: Timestamp) -> FlushReport {
        let mut report = FlushReport::default();
        for s in &mut self.sinks {
            while let Some((group, text)) = s.queue.take(now) {
                let requests = s.sink.requests_for_text(&group, &text, now);
                let mut ok = true;
                for r in &requests {
                    match send(&self.client, r).await {
                        Ok(()) => report.delivered += 1,
                        Err(e) => {
                            report.failed += 1;
                            tracing::warn!(sink = %s.sink.name, error = %e, "alert delivery failed");
                            ok = false;
                            break;
                        }
                    }
                }
                if ok {
                    s.attempts = 0;
                    continue;
                }
                s.attempts += 1;
                if s.attempts >= MAX_ATTEMPTS {
                    report.given_up += 1;
                    tracing::error!(
                        sink = %s.sink.name,
                        cause = %group.cause,
                        alerts = group.notifications.len(),
                        "alert given up after {MAX_ATTEMPTS} failed deliveries"
                    );
                    s.attempts = 0;
                } else {
                    s.queue.retry(group, text);
                }
                break;
            }
            report.queued += s.queue.pending();
        }
        report
    }

    /// When a rate-limited sink can send again, if any waits.
    pub fn next_slot(&self) -> Option<Timestamp> {
        self.sinks.iter().filter_map(|s| s.queue.next_slot()).min()
    }
}

async fn send(client: &HttpsClient, r: &Request) -> Result<(), String> {
    let body = serde_json::to_vec(&r.body).map_err(|e| e.to_string())?;
    let mut builder = http::Request::post(&r.url).header("content-type", "application/json");
    for (k, v) in &r.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let req = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad request for {}: {e}", r.url))?;
    let resp = tokio::time::timeout(REQUEST_TIMEOUT, client.request(req))
        .await
        .map_err(|_| format!("{}: no answer within {}s", r.url, REQUEST_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{}: {e}", r.url))?;
    let status = resp.status();
    let bytes = tokio::time::timeout(REQUEST_TIMEOUT, resp.into_body().collect())
        .await
        .map_err(|_| format!("{}: body not read within the timeout", r.url))?
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
        return Err(format!("{}: HTTP {status}: {text}", r.url));
    }
    // DingTalk, WeCom and Feishu answer 200 with an error code in the body.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        let code = v
            .get("errcode")
            .or_else(|| v.get("code"))
            .or_else(|| v.get("StatusCode"))
            .and_then(|c| c.as_i64());
        if let Some(code) = code
            && code != 0
        {
            let msg = v
                .get("errmsg")
                .or_else(|| v.get("msg"))
                .and_then(|m| m.as_str())
                .unwrap_or("");
            return Err(format!("{}: receiver error {code}: {msg}", r.url));
        }
    }
    Ok(())
}
