//! The long-running in-cluster process, `kubemedic controller`: one watch cache of the cluster,
//! a leader Lease, one HTTP server and one metrics registry. The event archive ingest, crash
//! capture and exports run in it today; self-healing, alerts and the web UI will run in it next,
//! reading the same cache and registering on the same server and registry.

pub mod cache;
pub mod convert;
pub mod crash;
pub mod events;
pub mod export;
pub mod healing;
pub mod http;
pub mod ingest;
pub mod lease;
pub mod memory;
pub mod metrics;
pub mod objects;
pub mod packed;

use crate::cache::{Hooks, WatchCache};
use crate::convert::{ConditionState, node_condition_changes};
use crate::crash::{CrashCapture, CrashOptions};
use crate::events::EventFeed;
use crate::export::{ExportConfig, Exports};
use crate::ingest::{Record, WriterConfig, spawn_writer};
use crate::lease::LeaseOptions;
use crate::metrics::Metrics;
use crate::objects::{CoreEvent, EventV1, Node, Pod};
use jiff::Timestamp;
use kube::Client;
use kubemedic_archive::{ArchiveUrl, Retention, Store, StoreError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Everything `kubemedic controller` is told.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Where the archive lives.
    pub archive: ArchiveUrl,
    /// This cluster's name in the archive (PostgreSQL stores serve several).
    pub cluster: String,
    /// Lease settings.
    pub lease: LeaseOptions,
    /// Address of the HTTP server.
    pub listen: SocketAddr,
    /// Retention.
    pub retention: Retention,
    /// How often the pruner runs.
    pub prune_interval: Duration,
    /// Crash capture.
    pub crash: CrashOptions,
    /// Exports.
    pub exports: Option<ExportConfig>,
    /// Directory of the exports' on-disk queues (None: in memory).
    pub export_spool: Option<PathBuf>,
    /// Archive writer tuning.
    pub writer: WriterConfig,
    /// Use core/v1 Events even where events.k8s.io/v1 is served.
    pub core_events: bool,
    /// How long a shutdown may spend flushing.
    pub shutdown_timeout: Duration,
    /// Self-healing and alerts (None: off).
    pub healing: Option<healing::HealingConfig>,
}

/// Why the controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The archive cannot be opened.
    #[error("archive: {0}")]
    Archive(#[from] StoreError),
    /// Leader election cannot be set up.
    #[error(transparent)]
    Lease(#[from] lease::LeaseError),
    /// The HTTP address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Exports cannot start.
    #[error("exports: {0}")]
    Exports(String),
    /// Healing cannot start.
    #[error("healing: {0}")]
    Healing(#[from] healing::HealingError),
}

/// Installs rustls' ring provider as the process default (reqwest is built without one, so kube
/// and reqwest share a single TLS backend); harmless when already installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running controller's address (for tests and logs).
#[derive(Debug, Clone)]
pub struct Running {
    /// Where the HTTP server listens.
    pub addr: SocketAddr,
}

/// Runs the controller until `shutdown` turns true, then flushes the archive, releases the
/// Lease and returns. `started` receives the bound address once the server listens.
pub async fn run(
    client: Client,
    cfg: ControllerConfig,
    shutdown: watch::Receiver<bool>,
    started: Option<tokio::sync::oneshot::Sender<Running>>,
) -> Result<(), ControllerError> {
    install_crypto_provider();
    let archive_url = cfg.archive.clone();
    let cluster = cfg.cluster.clone();
    let store: Arc<dyn Store> = tokio::task::spawn_blocking(move || archive_url.open(&cluster))
        .await
        .map_err(|e| StoreError::Database {
            location: "archive".to_string(),
            reason: e.to_string(),
        })??;
    run_with_store(client, cfg, store, shutdown, started).await
}

/// [`run`] with the archive already open (the binary opens it before connecting to the
/// cluster, so a file it refuses is reported at once).
pub async fn run_with_store(
    client: Client,
    cfg: ControllerConfig,
    store: Arc<dyn Store>,
    shutdown: watch::Receiver<bool>,
    started: Option<tokio::sync::oneshot::Sender<Running>>,
) -> Result<(), ControllerError> {
    install_crypto_provider();
    tracing::info!(store = %store.describe(), "archive open");
    let metrics = Metrics::new();
    let exports = match &cfg.exports {
        Some(x) if !x.sinks.is_empty() => Some(
            Exports::start(
                x,
                &cfg.cluster,
                cfg.export_spool.as_deref(),
                metrics.clone(),
            )
            .map_err(ControllerError::Exports)?,
        ),
        _ => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (give_up_tx, give_up_rx) = watch::channel(false);
    let (archive, writer) = spawn_writer(
        store.clone(),
        metrics.clone(),
        exports,
        cfg.writer,
        stop_rx,
        give_up_rx,
    );

    let crash = CrashCapture::start(
        client.clone(),
        store.clone(),
        archive.clone(),
        metrics.clone(),
        cfg.crash.clone(),
    );
    if let Some(h) = &cfg.healing
        && h.install_crds
    {
        healing::install_crd(&client).await?;
    }
    // Healing passes follow changes of cached nodes and pods.
    let changed = Arc::new(tokio::sync::Notify::new());
    let leading = Arc::new(AtomicBool::new(false));
    let node_seen: Arc<Mutex<HashMap<String, HashMap<String, ConditionState>>>> =
        Arc::new(Mutex::new(HashMap::new()));
    let node_hook = {
        let leading = leading.clone();
        let seen = node_seen.clone();
        let archive = archive.clone();
        let changed = changed.clone();
        Arc::new(move |n: &Node| {
            // Timing evidence for `bench/healing.sh latency` (RUST_LOG=heal_timing=debug).
            tracing::debug!(
                target: "heal_timing",
                node = n.metadata.name.as_deref().unwrap_or(""),
                rv = n.metadata.resource_version.as_deref().unwrap_or(""),
                "watch event"
            );
            changed.notify_one();
            if !leading.load(Ordering::Relaxed) {
                return;
            }
            let name = n.metadata.name.clone().unwrap_or_default();
            let changes = {
                let mut all = seen.lock().unwrap_or_else(|p| p.into_inner());
                node_condition_changes(n, all.entry(name).or_default(), Timestamp::now())
            };
            if !changes.is_empty() {
                archive.send(Record::Timeline(changes));
            }
        })
    };
    let pod_hook = {
        let crash = crash.clone();
        let changed = changed.clone();
        Arc::new(move |p: &Pod| {
            changed.notify_one();
            crash.observe(p)
        })
    };
    let cache = WatchCache::start(
        &client,
        metrics.clone(),
        Hooks {
            pod: Some(pod_hook),
            node: Some(node_hook),
        },
    );
    crash.set_cache(cache.clone());

    let (lease_rx, lease_task) =
        lease::elect(client.clone(), cfg.lease.clone(), shutdown.clone()).await?;

    // Leadership changes: crash capture and node transitions follow; on gaining the Lease every
    // cached pod and node is looked at again.
    {
        let mut rx = lease_rx.clone();
        let crash = crash.clone();
        let leading = leading.clone();
        let metrics = metrics.clone();
        let cache = cache.clone();
        let seen = node_seen.clone();
        let archive = archive.clone();
        tokio::spawn(async move {
            loop {
                let now = *rx.borrow_and_update();
                let was = leading.swap(now, Ordering::SeqCst);
                metrics.leader.set(i64::from(now));
                if now && !was {
                    seen.lock().unwrap_or_else(|p| p.into_inner()).clear();
                    for n in cache.nodes.state() {
                        let name = n.metadata.name.clone().unwrap_or_default();
                        let changes = {
                            let mut all = seen.lock().unwrap_or_else(|p| p.into_inner());
                            node_condition_changes(
                                &n,
                                all.entry(name).or_default(),
                                Timestamp::now(),
                            )
                        };
                        if !changes.is_empty() {
                            archive.send(Record::Timeline(changes));
                        }
                    }
                }
                crash.set_leading(now);
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    // The event feed: events.k8s.io/v1 where served, core/v1 otherwise.
    let feed = EventFeed::new(
        client.clone(),
        cache.clone(),
        store.clone(),
        archive.clone(),
        metrics.clone(),
    );
    let use_v1 = !cfg.core_events && events::events_v1_available(&client).await;
    tracing::info!(
        api = if use_v1 { "events.k8s.io/v1" } else { "v1" },
        "watching events"
    );
    let feed_task = {
        let l = lease_rx.clone();
        let s = shutdown.clone();
        if use_v1 {
            tokio::spawn(feed.run::<EventV1>(l, s))
        } else {
            tokio::spawn(feed.run::<CoreEvent>(l, s))
        }
    };
    // Healing: the leader's passes over this cache, actions into this archive's timeline.
    let heal_shared = cfg
        .healing
        .as_ref()
        .map(|_| Arc::new(healing::HealShared::default()));
    if let (Some(h), Some(shared)) = (&cfg.healing, &heal_shared) {
        let heal_loop = healing::HealLoop {
            client: h
                .client
                .as_ref()
                .map(|c| c.0.clone())
                .unwrap_or_else(|| client.clone()),
            cfg: h.clone(),
            identity: cfg.lease.identity.clone(),
            cache: cache.clone(),
            archive: archive.clone(),
            metrics: metrics.clone(),
            leader: lease_rx.clone(),
            shutdown: shutdown.clone(),
            changed: changed.clone(),
            shared: shared.clone(),
        };
        tokio::spawn(heal_loop.run());
    }
    drop(archive);

    // The pruner: retention, store size and health, every prune_interval (the leader prunes).
    let store_ok = Arc::new(Mutex::new(Ok(())));
    {
        let store = store.clone();
        let metrics = metrics.clone();
        let store_ok = store_ok.clone();
        let leading = leading.clone();
        let retention = cfg.retention;
        let every = cfg.prune_interval;
        let mut sd = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let st = store.clone();
                let lead = leading.load(Ordering::Relaxed);
                let r = tokio::task::spawn_blocking(move || {
                    if lead {
                        let p = st.prune(&retention, Timestamp::now())?;
                        if p.events_removed + p.crashes_removed + p.partitions_dropped > 0 {
                            tracing::info!(
                                events = p.events_removed,
                                crashes = p.crashes_removed,
                                partitions = p.partitions_dropped,
                                bytes = p.bytes_after,
                                "retention pruned the archive"
                            );
                        }
                    }
                    st.stats()
                })
                .await;
                let health = match r {
                    Ok(Ok(stats)) => {
                        metrics.archive_bytes.set(stats.bytes as i64);
                        metrics
                            .archive_records
                            .get_or_create(&Metrics::kind("events"))
                            .set(stats.events as i64);
                        metrics
                            .archive_records
                            .get_or_create(&Metrics::kind("crashes"))
                            .set(stats.crashes as i64);
                        Ok(())
                    }
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = &health {
                    tracing::warn!(error = %e, "archive check failed");
                }
                *store_ok.lock().unwrap_or_else(|p| p.into_inner()) = health;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = sd.changed() => return,
                }
            }
        });
    }

    let state = http::ApiState {
        cache: cache.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        leader: lease_rx.clone(),
        client: client.clone(),
        lease: (cfg.lease.namespace.clone(), cfg.lease.name.clone()),
        forward_reads: matches!(cfg.archive, ArchiveUrl::Sqlite(_)),
        port: cfg.listen.port(),
        store_ok,
        heal: heal_shared,
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ControllerError::Listen {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ControllerError::Listen {
            addr: cfg.listen,
            source,
        })?;
    tracing::info!(%addr, "HTTP server listening");
    if let Some(tx) = started {
        let _ = tx.send(Running { addr });
    }
    let mut sd = shutdown.clone();
    let (http_stop_tx, mut http_stop_rx) = watch::channel(false);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, http::router(state))
            .with_graceful_shutdown(async move {
                let _ = http_stop_rx.changed().await;
            })
            .await;
    });

    // Wait for the shutdown signal, then: stop the feed, flush the archive, release the Lease.
    while !*sd.borrow_and_update() {
        if sd.changed().await.is_err() {
            break;
        }
    }
    tracing::info!("shutting down: flushing the archive and releasing the Lease");
    let _ = tokio::time::timeout(Duration::from_secs(5), feed_task).await;
    let _ = stop_tx.send(true);
    let flushed = tokio::time::timeout(cfg.shutdown_timeout, async {
        let mut writer = writer;
        tokio::select! {
            _ = &mut writer => {}
            _ = tokio::time::sleep(cfg.shutdown_timeout.saturating_sub(Duration::from_secs(1))) => {
                let _ = give_up_tx.send(true);
                let _ = writer.await;
            }
        }
    })
    .await;
    if flushed.is_err() {
        tracing::error!("the archive writer did not finish in time");
    }
    let _ = tokio::time::timeout(Duration::from_secs(6), lease_task).await;
    let _ = http_stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("controller stopped");
    Ok(())
}
