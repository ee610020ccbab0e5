//! Crash capture: when a container's previous instance ended (restartCount rose, lastState
//! changed) or a container failed for good, record the termination and fetch the ended
//! instance's logs at once, before the next crash overwrites them. OOM kills also get the
//! node's memory state from the kubemedic agent on that node.

use crate::cache::WatchCache;
use crate::convert::{CrashCandidate, crash_candidates};
use crate::ingest::{ArchiveHandle, Record};
use crate::metrics::Metrics;
use crate::objects::Pod;
use futures::AsyncReadExt;
use jiff::Timestamp;
use kube::api::LogParams;
use kube::{Api, Client};
use kubemedic_archive::{CrashRecord, Store};
use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How crashes are captured.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// Lines asked from the end of the ended instance's log.
    pub log_lines: i64,
    /// Bytes kept from the end of that log.
    pub log_bytes: usize,
    /// Log fetches (and agent requests) in flight at once.
    pub concurrency: usize,
    /// How long one log fetch may take.
    pub fetch_timeout: Duration,
    /// Label selector of the kubemedic agent pods (node memory state for OOM kills).
    pub agent_selector: (String, String),
    /// The agents' HTTP port.
    pub agent_port: u16,
}

impl Default for CrashOptions {
    fn default() -> Self {
        Self {
            log_lines: 2_000,
            log_bytes: 256 * 1024,
            concurrency: 8,
            fetch_timeout: Duration::from_secs(20),
            agent_selector: (
                "app.kubernetes.io/name".to_string(),
                "kubemedic-agent".to_string(),
            ),
            agent_port: kubemedic_cluster::live::DEFAULT_AGENT_PORT,
        }
    }
}

/// Finds crashes in pod updates and captures them (only while this replica leads).
#[derive(Clone)]
pub struct CrashCapture {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    cache: Mutex<Option<WatchCache>>,
    store: Arc<dyn Store>,
    archive: ArchiveHandle,
    metrics: Arc<Metrics>,
    opts: CrashOptions,
    leading: AtomicBool,
    /// Crashes already stored or being captured (bounded: cleared when large; the store is
    /// then asked again).
    seen: Mutex<HashSet<(String, String, String)>>,
    queue: mpsc::Sender<CrashCandidate>,
}

impl Debug for CrashCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashCapture").finish_non_exhaustive()
    }
}

const SEEN_MAX: usize = 500_000;

impl CrashCapture {
    /// Starts the capture workers.
    pub fn start(
        client: Client,
        store: Arc<dyn Store>,
        archive: ArchiveHandle,
        metrics: Arc<Metrics>,
        opts: CrashOptions,
    ) -> CrashCapture {
        let (tx, rx) = mpsc::channel(10_000);
        let inner = Arc::new(Inner {
            client,
            cache: Mutex::new(None),
            store,
            archive,
            metrics,
            opts,
            leading: AtomicBool::new(false),
            seen: Mutex::new(HashSet::new()),
            queue: tx,
        });
        let worker = inner.clone();
        tokio::spawn(async move { worker.run(rx).await });
        CrashCapture { inner }
    }

    /// Gives the capture the cache (for workloads, pods to rescan and agent lookups).
    pub fn set_cache(&self, cache: WatchCache) {
        *self.inner.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(cache);
    }

    /// Leadership changed: on gaining it, every cached pod is looked at again (crashes that
    /// happened while another replica led, or none did, are still in `lastState`).
    pub fn set_leading(&self, leading: bool) {
        let was = self.inner.leading.swap(leading, Ordering::SeqCst);
        if leading && !was {
            let cache = self
                .inner
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(cache) = cache {
                for pod in cache.pods.state() {
                    self.observe(&pod);
                }
            }
        }
    }

    /// Looks at one pod version.
    pub fn observe(&self, pod: &Pod) {
        if !self.inner.leading.load(Ordering::Relaxed) {
            return;
        }
        for c in crash_candidates(pod) {
            let key = c.key();
            {
                let mut seen = self.inner.seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.contains(&key) {
                    continue;
                }
                if seen.len() >= SEEN_MAX {
                    seen.clear();
                }
                seen.insert(key.clone());
            }
            if self.inner.queue.try_send(c).is_err() {
                // Full: forget it so the next pod update tries again.
                self.inner
                    .seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
            }
        }
    }
}

impl Inner {
    async fn run(self: Arc<Self>, mut rx: mpsc::Receiver<CrashCandidate>) {
        let sem = Arc::new(tokio::sync::Semaphore::new(self.opts.concurrency.max(1)));
        while let Some(c) = rx.recv().await {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                return;
            };
            let me = self.clone();
            tokio::spawn(async move {
                me.capture(c).await;
                drop(permit);
            });
        }
    }

    async fn capture(&self, c: CrashCandidate) {
        let store = self.store.clone();
        let (uid, container, instance) = c.key();
        let known =
            tokio::task::spawn_blocking(move || store.has_crash(&uid, &container, &instance)).await;
        match known {
            Ok(Ok(true)) => return,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot ask the archive whether a crash is known; capturing it (duplicates are skipped)")
            }
            Err(_) => return,
        }
        let (logs, truncated, logs_error) = match self.fetch_logs(&c).await {
            Ok((l, t)) => (Some(l), t, None),
            Err(e) => {
                self.metrics.crash_log_failures.inc();
                tracing::info!(namespace = %c.namespace, pod = %c.pod, container = %c.container, error = %e, "previous logs not available");
                (None, false, Some(e))
            }
        };
        let node_memory = if c.may_be_oom() {
            match &c.node {
                Some(node) => self.node_memory(node).await,
                None => None,
            }
        } else {
            None
        };
        let workload = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|cache| cache.pod_workload(&c.namespace, &c.pod));
        let record = CrashRecord {
            namespace: c.namespace,
            pod: c.pod,
            pod_uid: c.pod_uid,
            container: c.container,
            init_container: c.init_container,
            instance: c.instance,
            node: c.node,
            workload,
            restart_count: c.restart_count,
            exit_code: c.exit_code,
            signal: c.signal,
            reason: c.reason,
            message: c.message,
            started_at: c.started_at,
            finished_at: c.finished_at,
            captured_at: Timestamp::now(),
            logs,
            logs_truncated: truncated,
            logs_error,
            node_memory,
        };
        self.archive.send(Record::Crash(Box::new(record)));
    }

    /// The ended instance's log, the last `log_bytes` of it; `true` when cut.
    async fn fetch_logs(&self, c: &CrashCandidate) -> Result<(Vec<u8>, bool), String> {
        // `Log` is implemented for k8s-openapi's Pod only; the log endpoint is the same.
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), &c.namespace);
        let lp = LogParams {
            container: Some(c.container.clone()),
            previous: c.previous,
            tail_lines: Some(self.opts.log_lines),
            // Read at most 8× what is kept: enough to keep the end of any sane log.
            limit_bytes: Some((self.opts.log_bytes * 8) as i64),
            ..Default::default()
        };
        let fetch = async {
            let mut stream = api.log_stream(&c.pod, &lp).await.map_err(|e| match e {
                // The apiserver's own words, not the Rust debug form of its Status.
                kube::Error::Api(s) => format!("{} (HTTP {})", s.message, s.code),
                e => e.to_string(),
            })?;
            let mut buf = Vec::new();
            stream
                .read_to_end(&mut buf)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(buf)
        };
        let mut buf = tokio::time::timeout(self.opts.fetch_timeout, fetch)
            .await
            .map_err(|_| format!("no answer within {}s", self.opts.fetch_timeout.as_secs()))??;
        let max = self.opts.log_bytes;
        if buf.len() > max {
            let cut = buf.len() - max;
            // Start at a line boundary when there is one near the cut.
            let start = buf[cut..]
                .iter()
                .take(4096)
                .position(|&b| b == b'\n')
                .map(|p| cut + p + 1)
                .unwrap_or(cut);
            buf.drain(..start);
            return Ok((buf, true));
        }
        Ok((buf, false))
    }

    /// Memory-related facts of `node` from its agent (`/facts` through the pod proxy).
    async fn node_memory(&self, node: &str) -> Option<serde_json::Value> {
        let agent = {
            let cache = self
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()?;
            let (k, v) = &self.opts.agent_selector;
            cache.pods.state().into_iter().find(|p| {
                p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
                    && p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(k))
                        .is_some_and(|x| x == v)
            })?
        };
        let ns = agent.metadata.namespace.clone()?;
        let name = agent.metadata.name.clone()?;
        let req = http::Request::get(format!(
            "/api/v1/namespaces/{ns}/pods/{name}:{}/proxy/facts",
            self.opts.agent_port
        ))
        .body(Vec::new())
        .ok()?;
        let text = tokio::time::timeout(Duration::from_secs(10), self.client.request_text(req))
            .await
            .ok()?
            .ok()?;
        let facts: serde_json::Value = serde_json::from_str(&text).ok()?;
        let mut out = serde_json::Map::new();
        // The node the crash happened on (where the agent pod is scheduled); an agent that
        // names itself otherwise (a standalone agent's host name) is kept as `agentNode`.
        out.insert("node".to_string(), node.into());
        if let Some(n) = facts.get("node").and_then(|n| n.as_str())
            && n != node
        {
            out.insert("agentNode".to_string(), n.into());
        }
        for key in ["collectedAt", "memory", "buddyinfo", "load"] {
            if let Some(v) = facts.get(key) {
                out.insert(key.to_string(), v.clone());
            }
        }
        Some(serde_json::Value::Object(out))
    }
}
