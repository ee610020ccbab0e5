//! The controller's one metrics registry. Every part (watch cache, archive ingest, crash capture,
//! exports, and later healing and alerts) registers its families here; `/metrics` serves it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// `resource` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabel {
    /// Watched resource (`pods`, `events.k8s.io/v1`, ...).
    pub resource: String,
}

/// `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// What kind of thing (error kind, record kind).
    pub kind: String,
}

/// `sink` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    /// Export sink name.
    pub sink: String,
}

/// `action` and `outcome` labels of healing actions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HealOutcomeLabel {
    /// The action (`cordon`, `drain`, ...; empty for a run's end).
    pub action: String,
    /// `acted`, `succeeded`, `failed`, `timed-out`, `skipped`, `escalated`, ...
    pub outcome: String,
}

/// Every metric of the controller.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Watch events received, by resource.
    pub watch_events: Family<ResourceLabel, Counter>,
    /// Watch (re)starts after an error or expiry, by resource.
    pub watch_restarts: Family<ResourceLabel, Counter>,
    /// Event relists, by why (`start`, `expired`, `leader`, `reconcile`).
    pub event_relists: Family<KindLabel, Counter>,
    /// Occurrences newly archived.
    pub archived_events: Counter,
    /// Occurrences already in the archive (replays after restarts and relists).
    pub duplicate_events: Counter,
    /// Crashes archived.
    pub archived_crashes: Counter,
    /// Previous-log fetches that failed.
    pub crash_log_failures: Counter,
    /// Archive write failures, by kind (`disk_full`, `unreachable`, ...).
    pub archive_write_errors: Family<KindLabel, Counter>,
    /// Records waiting to be written (in memory).
    pub archive_buffered: Gauge,
    /// Records dropped because the write buffer was full, by kind.
    pub archive_dropped: Family<KindLabel, Counter>,
    /// Archive size in bytes.
    pub archive_bytes: Gauge,
    /// Records in the archive, by kind (`events`, `crashes`).
    pub archive_records: Family<KindLabel, Gauge>,
    /// Seconds between an event's time and its archiving.
    pub archive_lag: Histogram,
    /// Whether this replica holds the Lease (1) or not (0).
    pub leader: Gauge,
    /// Records sent, by sink.
    pub export_sent: Family<SinkLabel, Counter>,
    /// Failed sends (each retried), by sink.
    pub export_failures: Family<SinkLabel, Counter>,
    /// Records dropped because the sink's on-disk queue was full, by sink.
    pub export_queue_full: Family<SinkLabel, Counter>,
    /// Bytes in the sink's on-disk queue.
    pub export_queue_bytes: Family<SinkLabel, Gauge>,
    /// Healing passes run.
    pub heal_passes: Counter,
    /// Healing passes that failed (retried at the next).
    pub heal_pass_errors: Counter,
    /// Duration of a healing pass (cache snapshot, diagnosis, plan, carrying runs forward).
    pub heal_pass_seconds: Histogram,
    /// Remediations started.
    pub heal_remediations_started: Counter,
    /// Dry-run starts announced.
    pub heal_dry_run: Counter,
    /// Remediations in flight.
    pub heal_in_flight: Gauge,
    /// 1 while a healing storm holds disruptive healing.
    pub heal_storm: Gauge,
    /// Healing actions and run ends, by action and outcome.
    pub heal_actions: Family<HealOutcomeLabel, Counter>,
    /// Alert notifications delivered.
    pub alerts_sent: Counter,
    /// Alert deliveries that failed (retried).
    pub alerts_failed: Counter,
}

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("kubemedic");
        let mut m = Metrics {
            registry: Registry::default(),
            watch_events: Family::default(),
            watch_restarts: Family::default(),
            event_relists: Family::default(),
            archived_events: Counter::default(),
            duplicate_events: Counter::default(),
            archived_crashes: Counter::default(),
            crash_log_failures: Counter::default(),
            archive_write_errors: Family::default(),
            archive_buffered: Gauge::default(),
            archive_dropped: Family::default(),
            archive_bytes: Gauge::default(),
            archive_records: Family::default(),
            archive_lag: Histogram::new([
                0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            leader: Gauge::default(),
            export_sent: Family::default(),
            export_failures: Family::default(),
            export_queue_full: Family::default(),
            export_queue_bytes: Family::default(),
            heal_passes: Counter::default(),
            heal_pass_errors: Counter::default(),
            heal_pass_seconds: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            heal_remediations_started: Counter::default(),
            heal_dry_run: Counter::default(),
            heal_in_flight: Gauge::default(),
            heal_storm: Gauge::default(),
            heal_actions: Family::default(),
            alerts_sent: Counter::default(),
            alerts_failed: Counter::default(),
        };
        registry.register(
            "watch_events",
            "Watch events received, by resource",
            m.watch_events.clone(),
        );
        registry.register(
            "watch_restarts",
            "Watches restarted after an error or expiry, by resource",
            m.watch_restarts.clone(),
        );
        registry.register(
            "archive_event_relists",
            "Event lists reconciled into the archive, by why (start, expired, leader)",
            m.event_relists.clone(),
        );
        registry.register(
            "archive_events",
            "Event occurrences newly archived (one per uid and repeat count)",
            m.archived_events.clone(),
        );
        registry.register(
            "archive_events_duplicate",
            "Event occurrences that were already archived (replays after restarts and relists)",
            m.duplicate_events.clone(),
        );
        registry.register(
            "archive_crashes",
            "Container crashes archived",
            m.archived_crashes.clone(),
        );
        registry.register(
            "archive_crash_log_failures",
            "Previous-log fetches that failed (the crash is archived without logs)",
            m.crash_log_failures.clone(),
        );
        registry.register(
            "archive_write_errors",
            "Archive writes that failed, by kind (disk_full, unreachable, database)",
            m.archive_write_errors.clone(),
        );
        registry.register(
            "archive_buffered_records",
            "Records waiting in memory to be written to the archive",
            m.archive_buffered.clone(),
        );
        registry.register(
            "archive_dropped_records",
            "Records dropped because the archive write buffer was full, by kind",
            m.archive_dropped.clone(),
        );
        registry.register(
            "archive_size_bytes",
            "Size of the archive store in bytes",
            m.archive_bytes.clone(),
        );
        registry.register(
            "archive_records",
            "Records in the archive, by kind",
            m.archive_records.clone(),
        );
        registry.register(
            "archive_lag_seconds",
            "Seconds between an event's time and its archiving",
            m.archive_lag.clone(),
        );
        registry.register(
            "leader",
            "1 when this replica holds the Lease and writes the archive",
            m.leader.clone(),
        );
        registry.register(
            "export_sent_records",
            "Records delivered to a sink",
            m.export_sent.clone(),
        );
        registry.register(
            "export_failures",
            "Failed deliveries to a sink (each is retried)",
            m.export_failures.clone(),
        );
        registry.register(
            "export_queue_full",
            "Records dropped because a sink's on-disk queue reached its bound",
            m.export_queue_full.clone(),
        );
        registry.register(
            "export_queue_bytes",
            "Bytes waiting in a sink's on-disk queue",
            m.export_queue_bytes.clone(),
        );
        registry.register(
            "heal_passes",
            "Healing passes run by the leader",
            m.heal_passes.clone(),
        );
        registry.register(
            "heal_pass_errors",
            "Healing passes that failed (retried at the next)",
            m.heal_pass_errors.clone(),
        );
        registry.register(
            "heal_pass_seconds",
            "Duration of a healing pass: cache snapshot, diagnosis, plan, carrying runs forward",
            m.heal_pass_seconds.clone(),
        );
        registry.register(
            "heal_remediations_started",
            "Remediations started",
            m.heal_remediations_started.clone(),
        );
        registry.register(
            "heal_dry_run_announced",
            "Runs a dry-run runbook would have started (announced, nothing done)",
            m.heal_dry_run.clone(),
        );
        registry.register(
            "heal_remediations_in_flight",
            "Remediations not finished",
            m.heal_in_flight.clone(),
        );
        registry.register(
            "heal_storm",
            "1 while a healing storm holds disruptive healing",
            m.heal_storm.clone(),
        );
        registry.register(
            "heal_actions",
            "Healing actions and run ends, by action and outcome",
            m.heal_actions.clone(),
        );
        registry.register(
            "alerts_sent",
            "Alert notifications delivered to sinks",
            m.alerts_sent.clone(),
        );
        registry.register(
            "alerts_failed",
            "Alert deliveries that failed (each is retried)",
            m.alerts_failed.clone(),
        );
        m.registry = registry;
        Arc::new(m)
    }

    /// The OpenMetrics text of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Label helper.
    pub fn resource(r: &str) -> ResourceLabel {
        ResourceLabel {
            resource: r.to_string(),
        }
    }

    /// Label helper.
    pub fn kind(k: &str) -> KindLabel {
        KindLabel {
            kind: k.to_string(),
        }
    }

    /// Label helper.
    pub fn heal_outcome(action: &str, outcome: &str) -> HealOutcomeLabel {
        HealOutcomeLabel {
            action: action.to_string(),
            outcome: outcome.to_string(),
        }
    }

    /// Label helper.
    pub fn sink(s: &str) -> SinkLabel {
        SinkLabel {
            sink: s.to_string(),
        }
    }
}
