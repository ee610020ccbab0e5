//! The archive writer: batches what the feeds send into store transactions, with the
//! checkpoints that cover them, and keeps retrying through a full disk or an unreachable
//! database without losing anything up to its buffer bound.
//!
//! Two channels: event occurrences (the sender waits when the writer is behind: the watch then
//! pauses and later resumes from the last committed checkpoint, so nothing is lost) and
//! crashes/timeline records (never block the watch cache; beyond the bound they are dropped and
//! counted in `kubemedic_archive_dropped_records`).

use crate::export::Exports;
use crate::metrics::Metrics;
use jiff::Timestamp;
use kubemedic_archive::{Batch, CrashRecord, EventOccurrence, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Something to archive.
#[derive(Debug)]
pub enum Record {
    /// Event occurrences and the checkpoint that covers them (and everything before).
    Events {
        /// The occurrences (may be empty: a bookmark moves the checkpoint).
        occurrences: Vec<EventOccurrence>,
        /// `(name, resourceVersion)`.
        checkpoint: Option<(String, String)>,
    },
    /// A captured crash.
    Crash(Box<CrashRecord>),
    /// Timeline records (node condition changes, kubemedic's actions).
    Timeline(Vec<EventOccurrence>),
}

/// The writer is gone (shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the archive writer has stopped")]
pub struct WriterStopped;

/// Sends records to the writer.
#[derive(Debug, Clone)]
pub struct ArchiveHandle {
    events: mpsc::Sender<Record>,
    other: mpsc::Sender<Record>,
    metrics: Arc<Metrics>,
}

impl ArchiveHandle {
    /// Queues occurrences; waits while the writer's buffer is full.
    pub async fn send_events(
        &self,
        occurrences: Vec<EventOccurrence>,
        checkpoint: Option<(String, String)>,
    ) -> Result<(), WriterStopped> {
        self.events
            .send(Record::Events {
                occurrences,
                checkpoint,
            })
            .await
            .map_err(|_| WriterStopped)
    }

    /// Queues a crash or timeline record without waiting; when the buffer is full the record is
    /// dropped and counted.
    pub fn send(&self, record: Record) {
        let kind = match &record {
            Record::Crash(_) => "crash",
            Record::Timeline(_) => "timeline",
            Record::Events { .. } => "event",
        };
        if let Err(e) = self.other.try_send(record)
            && matches!(e, mpsc::error::TrySendError::Full(_))
        {
            {
                self.metrics
                    .archive_dropped
                    .get_or_create(&Metrics::kind(kind))
                    .inc();
                tracing::error!(
                    kind,
                    "archive write buffer full (the store has been failing for a while): record dropped"
                );
            }
        }
    }
}

/// Writer tuning.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Messages buffered per channel before senders wait (events) or records drop (others).
    pub channel_capacity: usize,
    /// Occurrences per transaction at most.
    pub max_batch: usize,
    /// How long a partly filled batch waits for more.
    pub flush_interval: Duration,
    /// Longest pause between retries of a failing write.
    pub max_retry: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            channel_capacity: 20_000,
            max_batch: 5_000,
            flush_interval: Duration::from_millis(50),
            max_retry: Duration::from_secs(10),
        }
    }
}

/// Starts the writer task. When `stop` turns true it stops taking new records, writes what was
/// sent before, and ends; if the store keeps failing it gives up when `give_up` turns true.
pub fn spawn_writer(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    exports: Option<Exports>,
    cfg: WriterConfig,
    stop: tokio::sync::watch::Receiver<bool>,
    give_up: tokio::sync::watch::Receiver<bool>,
) -> (ArchiveHandle, tokio::task::JoinHandle<()>) {
    let (etx, erx) = mpsc::channel(cfg.channel_capacity);
    let (otx, orx) = mpsc::channel(cfg.channel_capacity);
    let handle = ArchiveHandle {
        events: etx,
        other: otx,
        metrics: metrics.clone(),
    };
    let task = tokio::spawn(writer_loop(
        store, metrics, exports, cfg, erx, orx, stop, give_up,
    ));
    (handle, task)
}

fn add(batch: &mut Batch, r: Record) {
    match r {
        Record::Events {
            occurrences,
            checkpoint,
        } => {
            batch.events.extend(occurrences);
            if let Some(cp) = checkpoint {
                // Later checkpoints of the same name supersede earlier ones.
                batch.checkpoints.retain(|(n, _)| n != &cp.0);
                batch.checkpoints.push(cp);
            }
        }
        Record::Crash(c) => batch.crashes.push(*c),
        Record::Timeline(t) => batch.events.extend(t),
    }
}

fn size(b: &Batch) -> usize {
    b.events.len() + b.crashes.len() + b.checkpoints.len()
}

#[allow(clippy::too_many_arguments)]
async fn writer_loop(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    exports: Option<Exports>,
    cfg: WriterConfig,
    mut erx: mpsc::Receiver<Record>,
    mut orx: mpsc::Receiver<Record>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut give_up: tokio::sync::watch::Receiver<bool>,
) {
    let mut closing = false;
    let mut batch = Batch::default();
    let mut events_open = true;
    let mut other_open = true;
    let mut retry = Duration::from_millis(100);
    let mut last_error_log: Option<std::time::Instant> = None;
    loop {
        // Gather: wait for the first record (or the flush interval when something is pending).
        if size(&batch) < cfg.max_batch && (events_open || other_open) {
            let wait = if batch.is_empty() {
                Duration::from_secs(3600)
            } else {
                cfg.flush_interval
            };
            tokio::select! {
                r = erx.recv(), if events_open => match r {
                    Some(r) => add(&mut batch, r),
                    None => events_open = false,
                },
                r = orx.recv(), if other_open => match r {
                    Some(r) => add(&mut batch, r),
                    None => other_open = false,
                },
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed(), if !closing => {
                    // No new records; what is already queued still gets written.
                    closing = true;
                    erx.close();
                    orx.close();
                }
            }
            while size(&batch) < cfg.max_batch {
                match erx.try_recv() {
                    Ok(r) => add(&mut batch, r),
                    Err(_) => break,
                }
            }
            while size(&batch) < cfg.max_batch {
                match orx.try_recv() {
                    Ok(r) => add(&mut batch, r),
                    Err(_) => break,
                }
            }
        }
        metrics.archive_buffered.set(size(&batch) as i64);
        if batch.is_empty() {
            if !events_open && !other_open {
                return;
            }
            continue;
        }
        let st = store.clone();
        let b = std::mem::take(&mut batch);
        let result = tokio::task::spawn_blocking(move || {
            let r = st.write(&b);
            (b, r)
        })
        .await;
        let (b, result) = match result {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "archive write task panicked");
                return;
            }
        };
        match result {
            Ok(outcome) => {
                retry = Duration::from_millis(100);
                let now = Timestamp::now();
                metrics.archived_events.inc_by(outcome.events_inserted);
                metrics.duplicate_events.inc_by(outcome.events_duplicate);
                metrics.archived_crashes.inc_by(outcome.crashes_inserted);
                let mut new_events = Vec::with_capacity(outcome.new_events.len());
                for &i in &outcome.new_events {
                    if let Some(e) = b.events.get(i) {
                        let lag = now.duration_since(e.time).as_secs_f64();
                        metrics.archive_lag.observe(lag.max(0.0));
                        new_events.push(e.clone());
                    }
                }
                if let Some(x) = &exports
                    && !new_events.is_empty()
                {
                    x.offer(&new_events);
                }
                if last_error_log.take().is_some() {
                    tracing::info!(store = %store.describe(), "archive writes succeed again");
                }
                metrics.archive_buffered.set(0);
            }
            Err(e) => {
                metrics
                    .archive_write_errors
                    .get_or_create(&Metrics::kind(e.kind()))
                    .inc();
                let log_now = last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(30));
                if log_now {
                    tracing::error!(error = %e, records = size(&b), "archive write failed; keeping the records and retrying");
                    last_error_log = Some(std::time::Instant::now());
                }
                batch = b;
                if !e.is_transient() && matches!(e, StoreError::Corrupt { .. }) {
                    tracing::error!("the archive is damaged; stopping archive writes");
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = give_up.changed() => {
                        if *give_up.borrow() {
                            tracing::error!(records = size(&batch), "shutting down with archive writes still failing: records not written");
                            return;
                        }
                    }
                }
                retry = (retry * 2).min(cfg.max_retry);
            }
        }
    }
}
