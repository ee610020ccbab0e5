//! The event feed: one list + watch of Events that fills the cache's event map for diagnosis
//! and, on the Lease holder, the archive, with no gaps and no duplicates across restarts.
//!
//! kube-runtime's watcher cannot resume from a stored resourceVersion and (kube-rs#1615) has
//! ended on `410 Gone` for Events, which bypass the apiserver's watch cache; an expired Event
//! watch may even close at once without any error (kubernetes#137089). So this loop is our own:
//! - start: resume from the archive's checkpoint (the leader), else list;
//! - every Added/Modified becomes an occurrence `(uid, count)`; the checkpoint advances in the
//!   same transaction as the occurrences it covers;
//! - `410 Gone`, or a watch that closes at once and whose resourceVersion an exact list rejects
//!   with 410: relist, and reconcile every listed Event by uid + count (the store skips what it has);
//! - bookmarks advance the checkpoint when nothing happens.

use crate::cache::{WatchCache, WatchReporter};
use crate::convert::{API_CORE_V1, API_EVENTS_V1, occurrence_from_core, occurrence_from_v1};
use crate::ingest::ArchiveHandle;
use crate::metrics::Metrics;
use crate::objects::{CoreEvent, EventV1};
use futures::StreamExt;
use jiff::Timestamp;
use kube::api::{ListParams, VersionMatch, WatchEvent, WatchParams};
use kube::{Api, Client, Resource};
use kubemedic_archive::{EventOccurrence, Store};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The two Event APIs, behind one interface.
pub trait FeedEvent:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// Checkpoint name and `api` value of records.
    const API: &'static str;
    /// The occurrence this version of the Event is.
    fn occurrence(&self, now: Timestamp) -> Option<EventOccurrence>;
    /// The core/v1 form diagnosis reads.
    fn to_core(&self) -> CoreEvent;
}

impl FeedEvent for EventV1 {
    const API: &'static str = API_EVENTS_V1;
    fn occurrence(&self, now: Timestamp) -> Option<EventOccurrence> {
        occurrence_from_v1(self, now)
    }
    fn to_core(&self) -> CoreEvent {
        kubemedic_cluster::events::events_v1_to_core(self.clone())
    }
}

impl FeedEvent for CoreEvent {
    const API: &'static str = API_CORE_V1;
    fn occurrence(&self, now: Timestamp) -> Option<EventOccurrence> {
        occurrence_from_core(self, now)
    }
    fn to_core(&self) -> CoreEvent {
        self.clone()
    }
}

/// The checkpoint name of an Event API.
pub fn checkpoint_name(api: &str) -> String {
    format!("events/{api}")
}

/// Why a watch session ended.
#[derive(Debug)]
enum SessionEnd {
    /// This replica became the Lease holder: restart from the archive's checkpoint.
    BecameLeader,
    /// Shutting down.
    Shutdown,
    /// An error; retry after a pause.
    Failed(String),
}

/// Occurrences sent to the archive per message during a relist.
const RELIST_CHUNK: usize = 500;

/// The event feed of one Event API.
#[derive(Clone)]
pub struct EventFeed {
    client: Client,
    cache: WatchCache,
    store: Arc<dyn Store>,
    archive: ArchiveHandle,
    metrics: Arc<Metrics>,
    reporter: WatchReporter,
    /// Seconds the apiserver keeps a watch open.
    pub watch_timeout: u32,
}

impl Debug for EventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFeed").finish_non_exhaustive()
    }
}

fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 410)
}

impl EventFeed {
    /// A feed writing to `archive` when this replica leads.
    pub fn new(
        client: Client,
        cache: WatchCache,
        store: Arc<dyn Store>,
        archive: ArchiveHandle,
        metrics: Arc<Metrics>,
    ) -> Self {
        let reporter = cache.register_watch("events");
        Self {
            client,
            cache,
            store,
            archive,
            metrics,
            reporter,
            watch_timeout: 290,
        }
    }

    /// Runs until `shutdown` turns true.
    pub async fn run<K: FeedEvent>(
        self,
        mut leader: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let api: Api<K> = Api::all(self.client.clone());
        let mut backoff = Duration::from_millis(200);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let leading = *leader.borrow_and_update();
            let end = self
                .session(&api, leading, &mut leader, &mut shutdown)
                .await;
            match end {
                SessionEnd::Shutdown => return,
                SessionEnd::BecameLeader => {
                    self.metrics
                        .event_relists
                        .get_or_create(&Metrics::kind("leader"))
                        .inc();
                    backoff = Duration::from_millis(200);
                }
                SessionEnd::Failed(e) => {
                    tracing::warn!(api = K::API, error = %e, "event watch failed; retrying");
                    self.reporter.failed(&e);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Lists every Event, replaces the cache's map, and (leading) reconciles them all into the
    /// archive; returns the list's resourceVersion.
    async fn relist<K: FeedEvent>(
        &self,
        api: &Api<K>,
        leading: bool,
        why: &str,
    ) -> Result<String, String> {
        self.metrics
            .event_relists
            .get_or_create(&Metrics::kind(why))
            .inc();
        let mut items: Vec<K> = Vec::new();
        let mut lp = ListParams::default().limit(500);
        let rv = loop {
            let list = api
                .list(&lp)
                .await
                .map_err(|e| format!("listing {}: {e}", K::API))?;
            items.extend(list.items);
            match list.metadata.continue_ {
                Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
                _ => break list.metadata.resource_version.unwrap_or_default(),
            }
        };
        {
            let mut map = self.cache.events.write().unwrap_or_else(|p| p.into_inner());
            map.clear();
            for e in &items {
                if let Some(uid) = e.meta().uid.clone() {
                    map.insert(uid, e.to_core());
                }
            }
        }
        self.reporter.synced();
        self.reporter.ok();
        if leading {
            let now = Timestamp::now();
            let occ: Vec<EventOccurrence> = items
                .iter()
                .filter_map(|e| e.occurrence(now))
                .map(|o| self.enrich(o))
                .collect();
            let n = occ.len();
            let mut chunks = occ.chunks(RELIST_CHUNK).peekable();
            if n == 0 {
                self.archive
                    .send_events(Vec::new(), Some((checkpoint_name(K::API), rv.clone())))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            while let Some(chunk) = chunks.next() {
                // The list's resourceVersion covers the whole list: it rides on the last chunk.
                let cp = chunks
                    .peek()
                    .is_none()
                    .then(|| (checkpoint_name(K::API), rv.clone()));
                self.archive
                    .send_events(chunk.to_vec(), cp)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            tracing::info!(api = K::API, events = n, why, resource_version = %rv, "events relisted and reconciled into the archive");
        }
        Ok(rv)
    }

    fn enrich(&self, mut o: EventOccurrence) -> EventOccurrence {
        o.workload = self
            .cache
            .event_workload(&o.object.kind, &o.object.namespace, &o.object.name);
        o
    }

    /// Whether an exact list at `rv` says it is too old (the watch of an expired version may
    /// close without an error).
    async fn expired<K: FeedEvent>(&self, api: &Api<K>, rv: &str) -> bool {
        let lp = ListParams {
            limit: Some(1),
            resource_version: Some(rv.to_string()),
            version_match: Some(VersionMatch::Exact),
            ..Default::default()
        };
        matches!(api.list(&lp).await, Err(e) if is_gone(&e))
    }

    async fn session<K: FeedEvent>(
        &self,
        api: &Api<K>,
        mut leading: bool,
        leader: &mut watch::Receiver<bool>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let cp_name = checkpoint_name(K::API);
        let stored = if leading {
            let store = self.store.clone();
            let name = cp_name.clone();
            match tokio::task::spawn_blocking(move || store.checkpoint(&name)).await {
                Ok(Ok(rv)) => rv,
                Ok(Err(e)) => return SessionEnd::Failed(format!("reading the checkpoint: {e}")),
                Err(e) => return SessionEnd::Failed(e.to_string()),
            }
        } else {
            None
        };
        let mut rv = match stored {
            Some(rv) => {
                // The cache still needs what exists now; the archive replays what it missed
                // from its checkpoint (replayed older versions converge as the watch catches up).
                if let Err(e) = self.relist(api, false, "cache").await {
                    return SessionEnd::Failed(e);
                }
                tracing::info!(api = K::API, resource_version = %rv, "resuming the event watch from the archive's checkpoint");
                rv
            }
            None => match self.relist(api, leading, "start").await {
                Ok(rv) => rv,
                Err(e) => return SessionEnd::Failed(e),
            },
        };
        let mut quick_closes = 0;
        loop {
            let mut wp = WatchParams::default().timeout(self.watch_timeout);
            wp.bookmarks = true;
            let started = Instant::now();
            let mut received = 0usize;
            let stream = match api.watch(&wp, &rv).await {
                Ok(s) => s,
                Err(e) if is_gone(&e) => {
                    match self.relist(api, leading, "expired").await {
                        Ok(r) => rv = r,
                        Err(e) => return SessionEnd::Failed(e),
                    }
                    continue;
                }
                Err(e) => return SessionEnd::Failed(format!("watching {}: {e}", K::API)),
            };
            futures::pin_mut!(stream);
            let mut expired = false;
            loop {
                let item = tokio::select! {
                    item = stream.next() => item,
                    changed = leader.changed() => {
                        if changed.is_err() {
                            return SessionEnd::Shutdown;
                        }
                        let now_leading = *leader.borrow_and_update();
                        if now_leading && !leading {
                            return SessionEnd::BecameLeader;
                        }
                        leading = now_leading;
                        continue;
                    }
                    _ = shutdown.changed() => return SessionEnd::Shutdown,
                };
                let Some(item) = item else { break };
                received += 1;
                self.metrics
                    .watch_events
                    .get_or_create(&Metrics::resource(K::API))
                    .inc();
                match item {
                    Ok(WatchEvent::Added(e)) | Ok(WatchEvent::Modified(e)) => {
                        self.reporter.ok();
                        let ev_rv = e.meta().resource_version.clone().unwrap_or_default();
                        if let Some(uid) = e.meta().uid.clone() {
                            self.cache
                                .events
                                .write()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(uid, e.to_core());
                        }
                        if leading && let Some(o) = e.occurrence(Timestamp::now()) {
                            let o = self.enrich(o);
                            if let Err(err) = self
                                .archive
                                .send_events(vec![o], Some((cp_name.clone(), ev_rv.clone())))
                                .await
                            {
                                return SessionEnd::Failed(err.to_string());
                            }
                        }
                        if !ev_rv.is_empty() {
                            rv = ev_rv;
                        }
                    }
                    Ok(WatchEvent::Deleted(e)) => {
                        // Expired by the apiserver's TTL: the archive keeps it.
                        if let Some(uid) = e.meta().uid.as_deref() {
                            self.cache
                                .events
                                .write()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(uid);
                        }
                        if let Some(r) = e.meta().resource_version.clone() {
                            rv = r;
                        }
                    }
                    Ok(WatchEvent::Bookmark(b)) => {
                        rv = b.metadata.resource_version.clone();
                        if leading
                            && let Err(err) = self
                                .archive
                                .send_events(Vec::new(), Some((cp_name.clone(), rv.clone())))
                                .await
                        {
                            return SessionEnd::Failed(err.to_string());
                        }
                    }
                    Ok(WatchEvent::Error(status)) if status.code == 410 => {
                        expired = true;
                        break;
                    }
                    Ok(WatchEvent::Error(status)) => {
                        return SessionEnd::Failed(format!(
                            "watch of {} returned {}: {}",
                            K::API,
                            status.code,
                            status.message
                        ));
                    }
                    Err(e) => {
                        tracing::debug!(api = K::API, error = %e, "event watch stream ended with an error; resuming");
                        break;
                    }
                }
            }
            if !expired && received == 0 && started.elapsed() < Duration::from_secs(2) {
                quick_closes += 1;
                if quick_closes >= 2 || self.expired(api, &rv).await {
                    expired = true;
                }
            } else {
                quick_closes = 0;
            }
            if expired {
                tracing::info!(api = K::API, resource_version = %rv, "event watch expired (410); relisting and reconciling by uid and count");
                match self.relist(api, leading, "expired").await {
                    Ok(r) => rv = r,
                    Err(e) => return SessionEnd::Failed(e),
                }
            }
        }
    }
}

/// Whether the apiserver serves events.k8s.io/v1 (else the feed falls back to core/v1).
pub async fn events_v1_available(client: &Client) -> bool {
    match client.list_api_group_resources("events.k8s.io/v1").await {
        Ok(list) => list.resources.iter().any(|r| r.name == "events"),
        Err(_) => false,
    }
}
