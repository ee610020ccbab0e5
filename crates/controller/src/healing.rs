//! Self-healing inside the controller: the [`Healer`] of kubemedic-heal runs here, only while
//! this replica holds the leader Lease, on the controller's one watch cache (a pass per cache
//! change, diagnosis included), with its actions recorded in the archive's timeline, its plan
//! served on the HTTP server and its figures in the one metrics registry. Alerts (findings,
//! escalated runs, storms) go to the sinks of `--alert`.

use crate::cache::WatchCache;
use crate::ingest::{ArchiveHandle, Record};
use crate::metrics::Metrics;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt, ResourceExt};
use kubemedic_archive::{EventOccurrence, ObjectRef, Origin};
use kubemedic_heal::crd::Remediation;
use kubemedic_heal::exec::runner::{ActionRecord, Audit, Healer, HealerConfig};
use kubemedic_heal::library::{Library, Source};
use kubemedic_heal::plan::{Decision, Plan};
use kubemedic_heal::{ClusterView, SafetyConfig};
use kubemedic_notify::{Alert, AlertConfig, Notifier};
use serde::Serialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// Where user runbooks come from, besides the embedded defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbookSource {
    /// A directory of `*.yaml` files (a mounted ConfigMap is one: it is re-read as it changes).
    Dir(PathBuf),
    /// The `*.yaml` keys of a ConfigMap read through the API (`configmap:NAMESPACE/NAME`).
    ConfigMap {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}

impl FromStr for RunbookSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("configmap:") {
            Some(rest) => match rest.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                    Ok(RunbookSource::ConfigMap {
                        namespace: ns.to_string(),
                        name: name.to_string(),
                    })
                }
                _ => Err(format!(
                    "{s:?}: a ConfigMap source is configmap:NAMESPACE/NAME (or give a directory)"
                )),
            },
            None if s.is_empty() => Err("empty runbook source".into()),
            None => Ok(RunbookSource::Dir(PathBuf::from(s))),
        }
    }
}

impl std::fmt::Display for RunbookSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunbookSource::Dir(p) => write!(f, "{}", p.display()),
            RunbookSource::ConfigMap { namespace, name } => {
                write!(f, "configmap:{namespace}/{name}")
            }
        }
    }
}

/// The Kubernetes client healing acts through: kube's default retry layer off, since it retries
/// 429s for up to minutes and the drain must see a PodDisruptionBudget's "not now" itself.
#[derive(Clone)]
pub struct HealClient(pub Client);

impl std::fmt::Debug for HealClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HealClient")
    }
}

/// Healing settings of `kubemedic controller`.
#[derive(Debug, Clone)]
pub struct HealingConfig {
    /// User runbooks (None: the embedded defaults only).
    pub runbooks: Option<RunbookSource>,
    /// Safety budgets (`--heal-config`).
    pub safety: SafetyConfig,
    /// Alert sinks (`--alert`); None: no alerts sent.
    pub alerts: Option<AlertConfig>,
    /// Create or update the Remediation CRD at start.
    pub install_crds: bool,
    /// The client healing acts through (None: the controller's own client).
    pub client: Option<HealClient>,
    /// Namespace of the per-node Leases (the controller's namespace).
    pub lock_namespace: String,
    /// The longest one pass spends in one long action (a drain continues next pass).
    pub action_slice: Duration,
    /// Shortest time between two passes.
    pub min_interval: Duration,
    /// Longest time between two passes while runs are in flight.
    pub busy_interval: Duration,
    /// Longest time between two passes otherwise.
    pub idle_interval: Duration,
    /// How often user runbooks are re-read.
    pub reload_interval: Duration,
}

impl Default for HealingConfig {
    fn default() -> Self {
        Self {
            runbooks: None,
            safety: SafetyConfig::default(),
            alerts: None,
            install_crds: false,
            client: None,
            lock_namespace: "kubemedic".into(),
            action_slice: Duration::from_secs(2),
            min_interval: Duration::from_millis(250),
            busy_interval: Duration::from_secs(2),
            idle_interval: Duration::from_secs(30),
            reload_interval: Duration::from_secs(30),
        }
    }
}

/// Healing could not start.
#[derive(Debug, thiserror::Error)]
pub enum HealingError {
    /// The CRD could not be installed (`--install-crds`).
    #[error("installing the Remediation CRD: {0}")]
    Crd(String),
    /// The runbooks could not be read.
    #[error("runbooks {source_name}: {reason}")]
    Runbooks {
        /// The source.
        source_name: String,
        /// Why.
        reason: String,
    },
}

/// What the healing loop shares with the HTTP server.
#[derive(Debug, Default)]
pub struct HealShared {
    last: RwLock<Option<PassSummary>>,
    refused: RwLock<Vec<String>>,
    runbooks: RwLock<Option<String>>,
}

/// The last pass as `/api/v1/heal/plan` serves it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassSummary {
    /// When the pass started.
    pub at: Timestamp,
    /// How long it took, in milliseconds.
    pub took_ms: u64,
    /// The plan (absent when the pass failed before planning).
    pub plan: Option<Plan>,
    /// Why the pass failed, if it did.
    pub error: Option<String>,
}

impl HealShared {
    /// The `/api/v1/heal/plan` body.
    pub fn plan_json(&self) -> Option<serde_json::Value> {
        let last = self
            .last
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(serde_json::json!({
            "at": last.at,
            "tookMs": last.took_ms,
            "error": last.error,
            "plan": last.plan,
            "runbooks": *self.runbooks.read().unwrap_or_else(|p| p.into_inner()),
            "refused": *self.refused.read().unwrap_or_else(|p| p.into_inner()),
        }))
    }

    fn clear(&self) {
        *self.last.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Reads the user runbooks of a source.
pub async fn read_runbooks(
    client: &Client,
    source: &RunbookSource,
) -> Result<Vec<Source>, HealingError> {
    let err = |reason: String| HealingError::Runbooks {
        source_name: source.to_string(),
        reason,
    };
    match source {
        RunbookSource::Dir(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || Library::read_dir(&dir))
                .await
                .map_err(|e| err(e.to_string()))?
                .map_err(|e| err(e.to_string()))
        }
        RunbookSource::ConfigMap { namespace, name } => {
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            match cms.get_opt(name).await {
                Ok(Some(cm)) => Ok(Library::configmap_sources(
                    namespace,
                    name,
                    &cm.data.unwrap_or_default(),
                )),
                Ok(None) => Err(err("no such ConfigMap".into())),
                Err(e) => Err(err(e.to_string())),
            }
        }
    }
}

/// Creates or updates the Remediation CRD (server-side apply) and waits until it is served.
pub async fn install_crd(client: &Client) -> Result<(), HealingError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = Remediation::crd();
    let name = crd.name_any();
    crds.patch(
        &name,
        &PatchParams::apply("kubemedic-controller").force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(|e| HealingError::Crd(e.to_string()))?;
    let rems: Api<Remediation> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    // A server-side dry-run create: it goes through validation and the field manager without
    // storing anything. The apiserver builds that write path for a new CRD on its first write,
    // which took 2 s in the latency bench: the first Remediation must not pay for it.
    let probe = Remediation::new(
        "kubemedic-crd-probe",
        kubemedic_heal::RemediationSpec {
            runbook: "crd-probe".into(),
            target_kind: "node".into(),
            target: kubemedic_heal::crd::TargetSpec {
                kind: "Node".into(),
                namespace: None,
                name: "crd-probe".into(),
                node: None,
            },
            trigger: vec![],
            summary: String::new(),
            steps: vec![],
            escalation_severity: "critical".into(),
            escalation_message: String::new(),
            matcher: String::new(),
        },
    );
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    loop {
        // Established, then its storage answers (a 429/404 for a moment after Established).
        if rems.list(&ListParams::default().limit(1)).await.is_ok()
            && rems.create(&dry_run, &probe).await.is_ok()
        {
            tracing::info!(crd = %name, "Remediation CRD installed");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(HealingError::Crd(format!(
                "{name} not served 60 s after it was applied"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Records every healing action in the archive's timeline (origin `action`) and counts it.
struct ArchiveAudit {
    archive: ArchiveHandle,
    metrics: Arc<Metrics>,
}

impl Audit for ArchiveAudit {
    fn record(&self, rec: &ActionRecord) {
        self.metrics
            .heal_actions
            .get_or_create(&Metrics::heal_outcome(&rec.action, &rec.outcome))
            .inc();
        self.archive
            .send(Record::Timeline(vec![action_occurrence(rec)]));
    }
}

fn camel(outcome: &str) -> String {
    outcome
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The timeline record of one action: `kubemedic events node/N` shows it between the node's
/// condition changes and Events.
pub fn action_occurrence(rec: &ActionRecord) -> EventOccurrence {
    let warning = matches!(
        rec.outcome.as_str(),
        "failed" | "timed-out" | "escalated" | "cancelled"
    );
    let message = if rec.step.is_empty() {
        format!("{} ({}): {}", rec.remediation, rec.runbook, rec.message)
    } else {
        format!(
            "{} ({}) step {} ({}): {}: {}",
            rec.remediation, rec.runbook, rec.step, rec.action, rec.outcome, rec.message
        )
    };
    EventOccurrence {
        uid: format!(
            "action/{}/{}/{}/{}",
            rec.remediation,
            rec.step,
            rec.outcome,
            rec.time.as_nanosecond()
        ),
        count: 1,
        time: rec.time,
        first_time: rec.time,
        origin: Origin::Action,
        api: "kubemedic".into(),
        object: ObjectRef {
            kind: rec.object.kind.clone(),
            namespace: rec.object.namespace.clone().unwrap_or_default(),
            name: rec.object.name.clone(),
            uid: None,
        },
        workload: None,
        reason: format!("Remediation{}", camel(&rec.outcome)),
        type_: if warning { "Warning" } else { "Normal" }.into(),
        message,
        component: "kubemedic-controller".into(),
        host: String::new(),
    }
}

/// Everything the healing loop runs on.
pub struct HealLoop {
    /// The client healing acts through (retries off).
    pub client: Client,
    /// Settings.
    pub cfg: HealingConfig,
    /// This replica's identity.
    pub identity: String,
    /// The one watch cache.
    pub cache: WatchCache,
    /// The archive writer.
    pub archive: ArchiveHandle,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Leadership.
    pub leader: watch::Receiver<bool>,
    /// Shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Woken on every cached Node or Pod change.
    pub changed: Arc<Notify>,
    /// Shared with the HTTP server.
    pub shared: Arc<HealShared>,
}

impl std::fmt::Debug for HealLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealLoop").finish_non_exhaustive()
    }
}

/// When the next pass is due at the latest, counted from `now`: the earliest moment a held
/// match may start (a condition reaching its minimum duration while no watch event arrives must
/// wake a pass then, not at the next periodic one), the end of a storm hold, or else the
/// busy/idle interval. A moment already past is due at once. Pure: tested with plain data.
pub fn next_due(
    plan: Option<&Plan>,
    cfg: &HealingConfig,
    in_flight: bool,
    now: Timestamp,
) -> Duration {
    let base = if in_flight {
        cfg.busy_interval
    } else {
        cfg.idle_interval
    };
    let Some(plan) = plan else { return base };
    let soonest = plan
        .entries
        .iter()
        .filter_map(|e| match &e.decision {
            Decision::Wait { until: Some(t), .. } => Some(*t),
            _ => None,
        })
        .chain(plan.storm.hold_until)
        .map(|t| Duration::try_from(now.duration_until(t)).unwrap_or(Duration::ZERO))
        .min();
    match soonest {
        // A little after, so the pass sees the duration as passed.
        Some(d) => (d + Duration::from_millis(20)).min(base),
        None => base,
    }
}

/// The least time from one pass's start to the next: `min_interval`, or 4× the CPU-bound part of
/// the last pass (building the view: snapshot and diagnosis) when that is longer, so a big
/// cluster's churn cannot keep a core busy. The pass's API round trips (creating Remediations,
/// status writes, the actions themselves) are waiting, not work: counting them made a pass that
/// cordoned under a loaded apiserver hold the next one back for seconds (p99 6.2 s latency).
pub fn min_gap(cfg: &HealingConfig, view_build: Duration) -> Duration {
    cfg.min_interval.max(view_build * 4)
}

impl HealLoop {
    /// Runs until shutdown: passes while leading, idle otherwise.
    pub async fn run(self) {
        let HealLoop {
            client,
            cfg,
            identity,
            cache,
            archive,
            metrics,
            mut leader,
            mut shutdown,
            changed,
            shared,
        } = self;
        let mut user: Vec<(String, String)> = Vec::new();
        let library = Library::load(&[]);
        let audit: Arc<dyn Audit> = Arc::new(ArchiveAudit {
            archive: archive.clone(),
            metrics: metrics.clone(),
        });
        let mut healer = Healer::new(
            client.clone(),
            HealerConfig {
                library,
                safety: cfg.safety.clone(),
                identity: identity.clone(),
                lock_namespace: cfg.lock_namespace.clone(),
                action_slice: cfg.action_slice,
            },
            Some(audit),
        );
        *shared.runbooks.write().unwrap_or_else(|p| p.into_inner()) =
            cfg.runbooks.as_ref().map(|s| s.to_string());
        let alerts_tx = cfg.alerts.clone().and_then(|ac| match Notifier::new(ac) {
            Ok(n) => Some(spawn_notifier(n, metrics.clone(), shutdown.clone())),
            Err(e) => {
                tracing::error!(error = %e, "alerts disabled");
                None
            }
        });
        let mut was_leading = false;
        let mut last_reload: Option<Instant> = None;
        let mut last_crd_log: Option<Instant> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let leading = *leader.borrow_and_update();
            if !leading {
                if was_leading {
                    healer.lost_leadership();
                    shared.clear();
                    tracing::info!("healing stopped: this replica no longer holds the Lease");
                }
                was_leading = false;
                tokio::select! {
                    _ = leader.changed() => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            if !was_leading {
                tracing::info!("healing: this replica leads; resuming Remediations in flight");
            }
            was_leading = true;
            if !cache.synced() {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            // User runbooks: (re-)read when due; a source that cannot be read keeps the last.
            if let Some(src) = &cfg.runbooks
                && last_reload.is_none_or(|t| t.elapsed() >= cfg.reload_interval)
            {
                last_reload = Some(Instant::now());
                match read_runbooks(&client, src).await {
                    Ok(sources) => {
                        let now: Vec<(String, String)> = sources
                            .iter()
                            .map(|s| (s.origin.clone(), s.text.clone()))
                            .collect();
                        if now != user {
                            let lib = Library::load(&sources);
                            for e in &lib.errors {
                                tracing::error!(error = %e, "runbook refused; the others keep working");
                            }
                            *shared.refused.write().unwrap_or_else(|p| p.into_inner()) =
                                lib.errors.iter().map(|e| e.to_string()).collect();
                            tracing::info!(
                                source = %src,
                                runbooks = lib.runbooks.len(),
                                refused = lib.errors.len(),
                                "runbooks loaded"
                            );
                            healer.set_library(lib);
                            user = now;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "runbooks not re-read; keeping the last"),
                }
            }

            let started = Instant::now();
            let at = Timestamp::now();
            tracing::debug!(target: "heal_timing", "pass start");
            let snapshot_cache = cache.clone();
            let built = tokio::task::spawn_blocking(move || {
                let snap = snapshot_cache.snapshot(None);
                let report = kubemedic_diagnose::diagnose(&snap);
                let view = ClusterView::from_snapshot(&snap, &report, Timestamp::now());
                (view, report)
            })
            .await;
            let (view, report) = match built {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "healing view could not be built");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let built_in = started.elapsed();
            tracing::debug!(target: "heal_timing", ms = built_in.as_millis() as u64, "view built");
            let result = healer.pass(&view).await;
            let took = started.elapsed();
            tracing::debug!(target: "heal_timing", ms = took.as_millis() as u64, "pass done");
            metrics.heal_passes.inc();
            metrics.heal_pass_seconds.observe(took.as_secs_f64());
            let error = match &result {
                Ok(rep) => {
                    metrics
                        .heal_remediations_started
                        .inc_by(rep.created.len() as u64);
                    metrics.heal_dry_run.inc_by(rep.dry_run as u64);
                    for name in &rep.created {
                        tracing::info!(remediation = %name, "Remediation started");
                    }
                    for (name, phase) in &rep.finished {
                        tracing::info!(remediation = %name, ?phase, "Remediation finished");
                    }
                    None
                }
                Err(e) => {
                    metrics.heal_pass_errors.inc();
                    let quiet = e.crd_missing()
                        && last_crd_log.is_some_and(|t| t.elapsed() < Duration::from_secs(300));
                    if !quiet {
                        tracing::warn!(error = %e, "healing pass failed; retried");
                        if e.crd_missing() {
                            last_crd_log = Some(Instant::now());
                        }
                    }
                    Some(e.to_string())
                }
            };
            let plan = result.as_ref().ok().and(healer.last_plan().cloned());
            let in_flight = healer.last_runs().iter().any(|r| {
                !r.status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .is_some_and(|p| p.finished())
            });
            metrics.heal_in_flight.set(
                healer
                    .last_runs()
                    .iter()
                    .filter(|r| {
                        !r.status
                            .as_ref()
                            .and_then(|s| s.phase)
                            .is_some_and(|p| p.finished())
                    })
                    .count() as i64,
            );
            if let Some(p) = &plan {
                metrics.heal_storm.set(i64::from(p.storm.active));
            }
            if let Some(tx) = &alerts_tx {
                let mut present: Vec<Alert> = kubemedic_heal::alerts::from_findings(&report);
                if let Some(p) = &plan {
                    // What an enabled runbook is healing alerts when its ladder is exhausted.
                    present = kubemedic_heal::alerts::unless_healing(present, p);
                    present.extend(kubemedic_heal::alerts::from_runs(healer.last_runs(), p));
                    present.extend(kubemedic_heal::alerts::from_storm(p));
                    let _ = tx.send(Some(present));
                } else if result.as_ref().err().is_some_and(|e| e.crd_missing()) {
                    // Without Remediations, findings still alert.
                    let _ = tx.send(Some(present));
                }
            }
            // The view and the report hold every pod of the cluster: free them (and give the
            // heap they grew back to the OS) before waiting, not at the next pass.
            drop((view, report));
            crate::memory::release_free_heap();
            let due = next_due(plan.as_ref(), &cfg, in_flight, Timestamp::now());
            *shared.last.write().unwrap_or_else(|p| p.into_inner()) = Some(PassSummary {
                at,
                took_ms: took.as_millis() as u64,
                plan,
                error,
            });
            // Passes follow cache changes, at most one per min_gap (from this pass's start),
            // which grows with the pass's own CPU cost; a due held match wakes one on time.
            let min_gap = min_gap(&cfg, built_in);
            let earliest = tokio::time::Instant::from_std(started) + min_gap;
            let wake = (tokio::time::Instant::now() + due).max(earliest);
            tokio::select! {
                _ = changed.notified() => {
                    tracing::debug!(
                        target: "heal_timing",
                        wait_ms = earliest
                            .saturating_duration_since(tokio::time::Instant::now())
                            .as_millis() as u64,
                        "pass scheduled: cache changed"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep_until(earliest) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    tracing::debug!(target: "heal_timing", "pass scheduled: timer");
                }
                _ = leader.changed() => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// The notifier runs apart from the passes (a slow receiver must not hold healing up): it takes
/// the latest set of present alerts, and flushes rate-limited queues when their slot comes.
fn spawn_notifier(
    mut notifier: Notifier,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> watch::Sender<Option<Vec<Alert>>> {
    let (tx, mut rx) = watch::channel::<Option<Vec<Alert>>>(None);
    tokio::spawn(async move {
        loop {
            let wait = notifier
                .next_slot()
                .map(|t| {
                    std::time::Duration::try_from(Timestamp::now().duration_until(t))
                        .unwrap_or(Duration::ZERO)
                })
                .unwrap_or(Duration::from_secs(3600));
            let present = tokio::select! {
                r = rx.changed() => {
                    if r.is_err() {
                        return;
                    }
                    rx.borrow_and_update().clone()
                }
                _ = tokio::time::sleep(wait) => None,
                _ = shutdown.changed() => return,
            };
            let report = match present {
                Some(alerts) => notifier.observe(Timestamp::now(), alerts).await,
                None => notifier.flush(Timestamp::now()).await,
            };
            metrics.alerts_sent.inc_by(report.delivered as u64);
            metrics.alerts_failed.inc_by(report.failed as u64);
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_sources_parse() {
        assert_eq!(
            "configmap:kubemedic/runbooks".parse::<RunbookSource>(),
            Ok(RunbookSource::ConfigMap {
                namespace: "kubemedic".into(),
                name: "runbooks".into()
            })
        );
        assert_eq!(
            "/etc/kubemedic/runbooks".parse::<RunbookSource>(),
            Ok(RunbookSource::Dir("/etc/kubemedic/runbooks".into()))
        );
        for bad in ["configmap:runbooks", "configmap:/x", "configmap:a/b/c", ""] {
            assert!(bad.parse::<RunbookSource>().is_err(), "{bad}");
        }
    }

    /// A plan at `now` over three nodes whose condition `Held` has been True for 7 s, 2 s and
    /// 12 s, with a runbook that needs it for 10 s.
    fn held_plan(now: Timestamp) -> Plan {
        use kubemedic_heal::view::{ConditionView, NodeView};
        let node = |name: &str, secs: i64| NodeView {
            name: name.into(),
            labels: Default::default(),
            unschedulable: false,
            cordoned_by_kubemedic: false,
            conditions: vec![ConditionView {
                type_: "Held".into(),
                status: "True".into(),
                reason: "Test".into(),
                message: String::new(),
                last_transition: Some(now - jiff::SignedDuration::from_secs(secs)),
            }],
        };
        let view = ClusterView {
            now,
            nodes: vec![node("a", 7), node("b", 2), node("c", 12)],
            pods: vec![],
            findings: vec![],
        };
        let library = Library::load(&[Source {
            origin: "test/held.yaml".into(),
            text: "name: held\ndescription: t\nsource: t\nmode: enabled\nmatch:\n  conditions:\n    - type: Held\n      status: \"True\"\n      for: 10s\nsteps:\n  - action: cordon\n".into(),
        }]);
        assert!(library.errors.is_empty(), "{:?}", library.errors);
        kubemedic_heal::plan(kubemedic_heal::plan::Input {
            view: &view,
            library: &library,
            safety: &SafetyConfig {
                min_healthy: kubemedic_heal::Budget::Count(0),
                max_disrupted: kubemedic_heal::Budget::Count(10),
                ..Default::default()
            },
            runs: &[],
            first_seen: &Default::default(),
            storm: Default::default(),
        })
    }

    #[test]
    fn a_condition_becoming_due_wakes_a_pass_at_its_minimum_not_at_the_periodic_tick() {
        let now: Timestamp = "2026-12-01T05:00:00Z".parse().unwrap_or_default();
        let plan = held_plan(now);
        let cfg = HealingConfig::default();
        let ms = |d: Duration| d.as_millis();
        // Node a is due in 3 s (b in 8 s, c already starts): the pass comes 3 s (+20 ms) on,
        // not after the 30 s idle interval.
        assert_eq!(ms(next_due(Some(&plan), &cfg, false, now)), 3_020);
        // Runs in flight: the 2 s busy tick comes before a's 3 s.
        assert_eq!(ms(next_due(Some(&plan), &cfg, true, now)), 2_000);
        // Read 2.5 s later (a slow pass): 500 ms left.
        let later = now + jiff::SignedDuration::from_millis(2_500);
        assert_eq!(ms(next_due(Some(&plan), &cfg, false, later)), 520);
        // Read after a's moment passed (a pass longer than the wait): due at once, never the
        // idle interval.
        let past = now + jiff::SignedDuration::from_millis(3_400);
        assert_eq!(ms(next_due(Some(&plan), &cfg, false, past)), 20);
        // Nothing waiting on a time: the periodic intervals.
        assert_eq!(ms(next_due(None, &cfg, false, now)), 30_000);
        assert_eq!(ms(next_due(None, &cfg, true, now)), 2_000);
    }

    #[test]
    fn the_gap_between_passes_follows_the_view_build_not_the_api_waits() {
        let cfg = HealingConfig::default();
        // A small cluster: the floor (250 ms) whatever the pass's API calls took.
        assert_eq!(
            min_gap(&cfg, Duration::from_millis(20)),
            Duration::from_millis(250)
        );
        // A big one: 4× the CPU-bound build.
        assert_eq!(
            min_gap(&cfg, Duration::from_millis(300)),
            Duration::from_millis(1_200)
        );
    }

    #[test]
    fn actions_become_timeline_records() {
        let rec = ActionRecord {
            time: "2026-12-01T01:00:00Z".parse().unwrap_or_default(),
            remediation: "node-not-ready-n1-1a2b3c4d".into(),
            runbook: "node-not-ready".into(),
            target: "node/n1".into(),
            object: kubemedic_heal::TargetRef::node("n1"),
            node: Some("n1".into()),
            step: "cordon".into(),
            action: "cordon".into(),
            outcome: "timed-out".into(),
            message: "not verified".into(),
        };
        let o = action_occurrence(&rec);
        assert_eq!(o.origin, Origin::Action);
        assert_eq!(o.reason, "RemediationTimedOut");
        assert_eq!(o.type_, "Warning");
        assert_eq!(o.object.kind, "Node");
        assert_eq!(o.object.name, "n1");
        assert!(
            o.message.contains("step cordon (cordon): timed-out"),
            "{}",
            o.message
        );
    }
}
