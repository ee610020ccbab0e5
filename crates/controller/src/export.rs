//! Exports: archived event occurrences pushed to the user's own stack. A generic webhook
//! (batched JSON arrays) and Loki's push API, each behind a route (match / drop rules on reason,
//! type, namespace and kind, the kubernetes-event-exporter idea made simpler) and a bounded
//! spool (a directory, or memory) so a sink outage loses nothing up to the bound. Only what the
//! archive newly stored is offered, so a replay after a restart is not sent twice.

use crate::metrics::Metrics;
use kubemedic_archive::EventOccurrence;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The exports file (`--exports FILE`, YAML or JSON).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// The sinks.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
}

/// One sink.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SinkConfig {
    /// Name (metrics label, spool directory).
    pub name: String,
    /// `webhook` or `loki`.
    #[serde(rename = "type")]
    pub kind: SinkKind,
    /// Webhook: the URL to POST to. Loki: the base URL (`/loki/api/v1/push` is appended) or the
    /// full push URL.
    pub url: String,
    /// Extra request headers (e.g. `Authorization`, `X-Scope-OrgID`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Which records go to this sink.
    #[serde(default)]
    pub route: Route,
    /// Records per request at most.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// How long a partly filled batch waits (milliseconds).
    #[serde(default = "default_batch_wait")]
    pub batch_wait_ms: u64,
    /// Bytes the spool may hold while the sink is down; beyond it new records are dropped and
    /// counted (`kubemedic_export_queue_full`).
    #[serde(default = "default_queue_bytes")]
    pub queue_max_bytes: u64,
    /// Request timeout (seconds).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_batch() -> usize {
    500
}
fn default_batch_wait() -> u64 {
    1_000
}
fn default_queue_bytes() -> u64 {
    64 << 20
}
fn default_timeout() -> u64 {
    10
}

/// The protocols spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// POST of a JSON array of records.
    Webhook,
    /// Loki push API (`POST /loki/api/v1/push`, JSON streams).
    Loki,
}

/// A record goes to the sink when it matches one `match` rule (or there are none) and no
/// `drop` rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Rules a record must match one of.
    #[serde(default, rename = "match")]
    pub match_: Vec<Rule>,
    /// Rules that exclude a record.
    #[serde(default)]
    pub drop: Vec<Rule>,
}

/// Every non-empty field must contain the record's value (exact strings).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Reasons (`BackOff`, `OOMKilling`, ...).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// `Normal` / `Warning`.
    #[serde(default)]
    pub types: Vec<String>,
    /// Namespaces.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Kinds of the object (`Pod`, `Node`, ...).
    #[serde(default)]
    pub kinds: Vec<String>,
}

impl Rule {
    fn matches(&self, e: &EventOccurrence) -> bool {
        let has = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        has(&self.reasons, &e.reason)
            && has(&self.types, &e.type_)
            && has(&self.namespaces, &e.object.namespace)
            && has(&self.kinds, &e.object.kind)
    }
}

impl Route {
    /// Whether `e` goes to the sink.
    pub fn accepts(&self, e: &EventOccurrence) -> bool {
        (self.match_.is_empty() || self.match_.iter().any(|r| r.matches(e)))
            && !self.drop.iter().any(|r| r.matches(e))
    }
}

/// An invalid exports file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ExportConfigError {
    /// The file.
    pub path: String,
    /// What is wrong, with position when the parser gives one.
    pub reason: String,
}

impl ExportConfig {
    /// Reads and validates an exports file.
    pub fn load(path: &Path) -> Result<Self, ExportConfigError> {
        let err = |reason: String| ExportConfigError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let cfg: ExportConfig = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Checks names are unique and URLs usable.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.sinks.iter().enumerate() {
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "sinks[{i}].name {:?}: use letters, digits, '-' and '_'",
                    s.name
                ));
            }
            if !names.insert(&s.name) {
                return Err(format!("sinks[{i}].name {:?} is used twice", s.name));
            }
            if reqwest::Url::parse(&s.url).is_err()
                || !(s.url.starts_with("http://") || s.url.starts_with("https://"))
            {
                return Err(format!("sinks[{i}].url {:?} is not an http(s) URL", s.url));
            }
            if s.batch_size == 0 {
                return Err(format!("sinks[{i}].batchSize must be at least 1"));
            }
        }
        Ok(())
    }
}

/// What a webhook receives: one JSON object per occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRecord {
    /// Cluster name.
    pub cluster: String,
    /// The occurrence.
    #[serde(flatten)]
    pub occurrence: EventOccurrence,
}

/// A bounded FIFO of encoded batches, on disk (survives restarts) or in memory.
#[derive(Debug)]
enum Spool {
    Disk {
        dir: PathBuf,
        next: u64,
    },
    Memory {
        items: VecDeque<(u64, Vec<u8>)>,
        next: u64,
    },
}

impl Spool {
    fn open(dir: Option<PathBuf>) -> std::io::Result<Spool> {
        match dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)?;
                let next = Self::disk_ids(&dir)?.last().map(|i| i + 1).unwrap_or(1);
                Ok(Spool::Disk { dir, next })
            }
            None => Ok(Spool::Memory {
                items: VecDeque::new(),
                next: 1,
            }),
        }
    }

    fn disk_ids(dir: &Path) -> std::io::Result<Vec<u64>> {
        let mut ids: Vec<u64> = std::fs::read_dir(dir)?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".batch")?.parse().ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn bytes(&self) -> u64 {
        match self {
            Spool::Disk { dir, .. } => std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .filter(|e| e.file_name().to_string_lossy().ends_with(".batch"))
                        .filter_map(|e| e.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0),
            Spool::Memory { items, .. } => items.iter().map(|(_, b)| b.len() as u64).sum(),
        }
    }

    fn push(&mut self, data: Vec<u8>) -> std::io::Result<()> {
        match self {
            Spool::Disk { dir, next } => {
                let tmp = dir.join(format!("{next:020}.tmp"));
                std::fs::write(&tmp, &data)?;
                std::fs::rename(&tmp, dir.join(format!("{next:020}.batch")))?;
                *next += 1;
            }
            Spool::Memory { items, next } => {
                items.push_back((*next, data));
                *next += 1;
            }
        }
        Ok(())
    }

    fn front(&self) -> Option<(u64, Vec<u8>)> {
        match self {
            Spool::Disk { dir, .. } => {
                let id = *Self::disk_ids(dir).ok()?.first()?;
                let data = std::fs::read(dir.join(format!("{id:020}.batch"))).ok()?;
                Some((id, data))
            }
            Spool::Memory { items, .. } => items.front().cloned(),
        }
    }

    fn pop(&mut self, id: u64) {
        match self {
            Spool::Disk { dir, .. } => {
                let _ = std::fs::remove_file(dir.join(format!("{id:020}.batch")));
            }
            Spool::Memory { items, .. } => {
                if items.front().map(|(i, _)| *i) == Some(id) {
                    items.pop_front();
                }
            }
        }
    }
}

/// The running sinks; cheap to clone.
#[derive(Debug, Clone)]
pub struct Exports {
    sinks: Arc<Vec<SinkHandle>>,
}

#[derive(Debug)]
struct SinkHandle {
    name: String,
    route: Route,
    tx: mpsc::Sender<EventOccurrence>,
    metrics: Arc<Metrics>,
}

impl Exports {
    /// Starts every sink; `spool_root` holds one directory per sink (None: spool in memory).
    pub fn start(
        cfg: &ExportConfig,
        cluster: &str,
        spool_root: Option<&Path>,
        metrics: Arc<Metrics>,
    ) -> Result<Exports, String> {
        crate::install_crypto_provider();
        let mut sinks = Vec::new();
        for s in &cfg.sinks {
            let spool = Spool::open(spool_root.map(|r| r.join(&s.name)))
                .map_err(|e| format!("export spool of sink {}: {e}", s.name))?;
            let (tx, rx) = mpsc::channel(s.batch_size.max(1) * 4);
            let runner = SinkRunner {
                cfg: s.clone(),
                cluster: cluster.to_string(),
                spool: Arc::new(Mutex::new(spool)),
                metrics: metrics.clone(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(s.timeout_secs.max(1)))
                    .build()
                    .map_err(|e| format!("HTTP client of sink {}: {e}", s.name))?,
            };
            tokio::spawn(runner.run(rx));
            sinks.push(SinkHandle {
                name: s.name.clone(),
                route: s.route.clone(),
                tx,
                metrics: metrics.clone(),
            });
        }
        Ok(Exports {
            sinks: Arc::new(sinks),
        })
    }

    /// Offers newly archived occurrences to every sink whose route accepts them.
    pub fn offer(&self, events: &[EventOccurrence]) {
        for s in self.sinks.iter() {
            for e in events.iter().filter(|e| s.route.accepts(e)) {
                if s.tx.try_send(e.clone()).is_err() {
                    s.metrics
                        .export_queue_full
                        .get_or_create(&Metrics::sink(&s.name))
                        .inc();
                }
            }
        }
    }
}

struct SinkRunner {
    cfg: SinkConfig,
    cluster: String,
    spool: Arc<Mutex<Spool>>,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
}

impl SinkRunner {
    async fn run(self, mut rx: mpsc::Receiver<EventOccurrence>) {
        let me = Arc::new(self);
        let sender = me.clone();
        let notify = Arc::new(tokio::sync::Notify::new());
        let n2 = notify.clone();
        tokio::spawn(async move { sender.deliver(n2).await });
        let wait = Duration::from_millis(me.cfg.batch_wait_ms);
        let mut batch: Vec<EventOccurrence> = Vec::new();
        loop {
            let next = if batch.is_empty() {
                rx.recv().await
            } else {
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(x) => x,
                    Err(_) => {
                        me.spool_batch(std::mem::take(&mut batch));
                        notify.notify_one();
                        continue;
                    }
                }
            };
            match next {
                Some(e) => {
                    batch.push(e);
                    if batch.len() >= me.cfg.batch_size {
                        me.spool_batch(std::mem::take(&mut batch));
                        notify.notify_one();
                    }
                }
                None => {
                    if !batch.is_empty() {
                        me.spool_batch(std::mem::take(&mut batch));
                        notify.notify_one();
                    }
                    return;
                }
            }
        }
    }

    fn label(&self) -> crate::metrics::SinkLabel {
        Metrics::sink(&self.cfg.name)
    }

    fn spool_batch(&self, batch: Vec<EventOccurrence>) {
        let n = batch.len() as u64;
        let body = match self.cfg.kind {
            SinkKind::Webhook => webhook_body(&self.cluster, &batch),
            SinkKind::Loki => loki_body(&self.cluster, &batch),
        };
        let mut spool = self.spool.lock().unwrap_or_else(|p| p.into_inner());
        let used = spool.bytes();
        if used + body.len() as u64 > self.cfg.queue_max_bytes {
            self.metrics
                .export_queue_full
                .get_or_create(&self.label())
                .inc_by(n);
            tracing::error!(sink = %self.cfg.name, records = n, queued_bytes = used, "export queue full: records dropped (the sink has been failing)");
            return;
        }
        if let Err(e) = spool.push(body) {
            self.metrics
                .export_queue_full
                .get_or_create(&self.label())
                .inc_by(n);
            tracing::error!(sink = %self.cfg.name, error = %e, "cannot spool an export batch: records dropped");
        }
        self.metrics
            .export_queue_bytes
            .get_or_create(&self.label())
            .set(spool.bytes() as i64);
    }

    fn url(&self) -> String {
        match self.cfg.kind {
            SinkKind::Webhook => self.cfg.url.clone(),
            SinkKind::Loki if self.cfg.url.contains("/loki/api/") => self.cfg.url.clone(),
            SinkKind::Loki => format!("{}/loki/api/v1/push", self.cfg.url.trim_end_matches('/')),
        }
    }

    /// Sends spooled batches oldest first; a failure is retried with backoff, never skipped.
    async fn deliver(self: Arc<Self>, notify: Arc<tokio::sync::Notify>) {
        let url = self.url();
        let mut backoff = Duration::from_millis(200);
        loop {
            let front = self.spool.lock().unwrap_or_else(|p| p.into_inner()).front();
            let Some((id, body)) = front else {
                notify.notified().await;
                continue;
            };
            let records = count_records(self.cfg.kind, &body);
            let mut req = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            for (k, v) in &self.cfg.headers {
                req = req.header(k, v);
            }
            let ok = match req.send().await {
                Ok(resp) if resp.status().is_success() => true,
                Ok(resp) => {
                    tracing::warn!(sink = %self.cfg.name, status = %resp.status(), "export rejected; retrying");
                    false
                }
                Err(e) => {
                    tracing::warn!(sink = %self.cfg.name, error = %e, "export failed; retrying");
                    false
                }
            };
            if ok {
                let mut spool = self.spool.lock().unwrap_or_else(|p| p.into_inner());
                spool.pop(id);
                self.metrics
                    .export_sent
                    .get_or_create(&self.label())
                    .inc_by(records);
                self.metrics
                    .export_queue_bytes
                    .get_or_create(&self.label())
                    .set(spool.bytes() as i64);
                backoff = Duration::from_millis(200);
            } else {
                self.metrics
                    .export_failures
                    .get_or_create(&self.label())
                    .inc();
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

fn count_records(kind: SinkKind, body: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match kind {
        SinkKind::Webhook => v.as_array().map(|a| a.len() as u64).unwrap_or(0),
        SinkKind::Loki => v["streams"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|st| st["values"].as_array().map(|a| a.len() as u64).unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0),
    }
}

/// A JSON array of [`ExportRecord`]s.
pub fn webhook_body(cluster: &str, batch: &[EventOccurrence]) -> Vec<u8> {
    let records: Vec<ExportRecord> = batch
        .iter()
        .map(|o| ExportRecord {
            cluster: cluster.to_string(),
            occurrence: o.clone(),
        })
        .collect();
    serde_json::to_vec(&records).unwrap_or_default()
}

/// Loki push JSON: one stream per label set (cluster, namespace, kind, reason, type), values
/// `[nanoseconds as a string, line]` in time order; the line is the record as JSON.
pub fn loki_body(cluster: &str, batch: &[EventOccurrence]) -> Vec<u8> {
    type Labels = Vec<(String, String)>;
    let mut streams: BTreeMap<Labels, Vec<(i128, String)>> = BTreeMap::new();
    for o in batch {
        let mut labels = vec![
            ("cluster".to_string(), cluster.to_string()),
            ("job".to_string(), "kubemedic".to_string()),
            ("kind".to_string(), o.object.kind.clone()),
            ("reason".to_string(), o.reason.clone()),
            ("type".to_string(), o.type_.clone()),
        ];
        if !o.object.namespace.is_empty() {
            labels.push(("namespace".to_string(), o.object.namespace.clone()));
        }
        labels.sort();
        let line = serde_json::to_string(&ExportRecord {
            cluster: cluster.to_string(),
            occurrence: o.clone(),
        })
        .unwrap_or_default();
        streams
            .entry(labels)
            .or_default()
            .push((o.time.as_nanosecond(), line));
    }
    let streams: Vec<serde_json::Value> = streams
        .into_iter()
        .map(|(labels, mut values)| {
            values.sort_by_key(|(t, _)| *t);
            let stream: serde_json::Map<String, serde_json::Value> = labels
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            serde_json::json!({
                "stream": stream,
                "values": values.into_iter().map(|(t, l)| serde_json::json!([t.to_string(), l])).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "streams": streams })).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use kubemedic_archive::{ObjectRef, Origin};

    fn occ(reason: &str, type_: &str, ns: &str, kind: &str, secs: i64) -> EventOccurrence {
        EventOccurrence {
            uid: format!("u-{reason}-{secs}"),
            count: 1,
            time: Timestamp::from_second(secs).expect("valid"),
            first_time: Timestamp::from_second(secs).expect("valid"),
            origin: Origin::Event,
            api: "v1".into(),
            object: ObjectRef {
                kind: kind.into(),
                namespace: ns.into(),
                name: "x".into(),
                uid: None,
            },
            workload: None,
            reason: reason.into(),
            type_: type_.into(),
            message: "m".into(),
            component: String::new(),
            host: String::new(),
        }
    }

    #[test]
    fn routes_match_and_drop() {
        let route: Route = serde_saphyr::from_str(
            "match:\n  - types: [Warning]\n  - reasons: [Scheduled]\ndrop:\n  - namespaces: [kube-system]\n",
        )
        .expect("parses");
        assert!(route.accepts(&occ("BackOff", "Warning", "shop", "Pod", 1)));
        assert!(route.accepts(&occ("Scheduled", "Normal", "shop", "Pod", 1)));
        assert!(!route.accepts(&occ("Pulled", "Normal", "shop", "Pod", 1)));
        assert!(!route.accepts(&occ("BackOff", "Warning", "kube-system", "Pod", 1)));
        assert!(Route::default().accepts(&occ("Pulled", "Normal", "shop", "Pod", 1)));
    }

    #[test]
    fn config_errors_name_the_field() {
        let cfg: ExportConfig =
            serde_saphyr::from_str("sinks:\n  - name: a\n    type: webhook\n    url: ftp://x\n")
                .expect("parses");
        assert!(
            cfg.validate()
                .expect_err("bad url")
                .contains("sinks[0].url")
        );
        let bad = serde_saphyr::from_str::<ExportConfig>(
            "sinks:\n  - name: a\n    type: kafka\n    url: http://x\n",
        );
        assert!(bad.is_err());
    }

    #[test]
    fn loki_streams_group_by_labels_in_time_order() {
        let body = loki_body(
            "c1",
            &[
                occ("BackOff", "Warning", "shop", "Pod", 20),
                occ("BackOff", "Warning", "shop", "Pod", 10),
                occ("NodeNotReady", "Warning", "", "Node", 15),
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let streams = v["streams"].as_array().expect("streams");
        assert_eq!(streams.len(), 2);
        let pod = streams
            .iter()
            .find(|s| s["stream"]["kind"] == "Pod")
            .expect("pod stream");
        assert_eq!(pod["stream"]["namespace"], "shop");
        assert_eq!(pod["values"][0][0], "10000000000");
        assert_eq!(pod["values"][1][0], "20000000000");
        assert_eq!(count_records(SinkKind::Loki, &body), 3);
    }
}
