//! The healing loop the controller's leader runs: plan, create Remediations for what starts,
//! and carry each Remediation's steps forward, writing its status before every action.

use super::api::{self, ActionError};
use super::lock;
use crate::action::{Action, Executor};
use crate::crd::{
    CheckedStep, NODE_LABEL, Phase, RUNBOOK_LABEL, Remediation, RemediationSpec, RemediationStatus,
    StepState, stamp,
};
use crate::library::Library;
use crate::matching::{self, FirstSeen};
use crate::plan::{self, Decision, Input, Plan, Run, StormState};
use crate::progress::{self, Next, Observation};
use crate::runbook::Verify;
use crate::safety::SafetyConfig;
use crate::view::{ClusterView, TargetRef};
use jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// One action carried out, for the archive (the controller stores it as a timeline record).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    /// When.
    pub time: Timestamp,
    /// The Remediation.
    pub remediation: String,
    /// Runbook.
    pub runbook: String,
    /// Target, as `node/NAME` or `pod/NS/NAME`.
    pub target: String,
    /// Target, as kind, namespace and name.
    pub object: TargetRef,
    /// Node.
    pub node: Option<String>,
    /// Step name.
    pub step: String,
    /// Action.
    pub action: String,
    /// `acted`, `succeeded`, `timed-out`, `failed`, `skipped`, `escalated`, ...
    pub outcome: String,
    /// Details.
    pub message: String,
}

/// Where action records go (the controller's archive).
pub trait Audit: Send + Sync {
    /// Stores one record; must not block for long.
    fn record(&self, rec: &ActionRecord);
}

/// Settings of the loop.
#[derive(Debug, Clone)]
pub struct HealerConfig {
    /// Runbooks.
    pub library: Library,
    /// Safety.
    pub safety: SafetyConfig,
    /// This process (pod name), for Events and locks.
    pub identity: String,
    /// Namespace of the per-node Leases.
    pub lock_namespace: String,
    /// The longest one pass spends on one long action (a drain continues next pass).
    pub action_slice: Duration,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Remediations created.
    pub created: Vec<String>,
    /// Dry-run starts announced.
    pub dry_run: usize,
    /// Steps started or continued.
    pub acted: usize,
    /// Remediations finished in this pass, with their phase.
    pub finished: Vec<(String, Phase)>,
    /// Remediations refused as invalid.
    pub invalid: Vec<String>,
}

/// The loop's state across passes.
pub struct Healer {
    client: Client,
    cfg: HealerConfig,
    first_seen: FirstSeen,
    storm: StormState,
    announced: BTreeSet<(String, TargetRef)>,
    taken_up: BTreeSet<String>,
    recorder: Recorder,
    audit: Option<Arc<dyn Audit>>,
    last_plan: Option<Plan>,
    last_runs: Vec<Remediation>,
}

impl std::fmt::Debug for Healer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Healer")
            .field("identity", &self.cfg.identity)
            .finish()
    }
}

/// The API failed in a way that stops the pass (it is retried at the next).
#[derive(Debug, thiserror::Error)]
#[error("healing pass: {message}")]
pub struct PassError {
    message: String,
    crd_missing: bool,
}

impl PassError {
    /// The apiserver does not serve `remediations.kubemedic.io` (the CRD is not installed).
    pub fn crd_missing(&self) -> bool {
        self.crd_missing
    }
}

fn list_error(e: kube::Error) -> PassError {
    let crd_missing = matches!(&e, kube::Error::Api(s) if s.code == 404);
    PassError {
        message: if crd_missing {
            "the Remediation CRD (remediations.kubemedic.io) is not installed: apply deploy/manifests/05-crds.yaml (or `kubemedic heal crd`) or run the controller with --install-crds".to_string()
        } else {
            format!("list remediations: {e}")
        },
        crd_missing,
    }
}

fn short_hash(s: &str) -> String {
    // FNV-1a: stable across processes, enough to keep names unique per start time.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:08x}", h as u32)
}

/// The Remediation name for a run: `<runbook>-<target>-<hash>`, within 253 characters.
pub fn run_name(runbook: &str, target: &TargetRef, now: Timestamp) -> String {
    let base: String = format!("{runbook}-{}", target.name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(200)
        .collect();
    format!("{base}-{}", short_hash(&format!("{target}{now}")))
}

impl Healer {
    /// A loop acting through `client`. Build the client with kube's `default_retry` off: the
    /// drain handles 429 (a PodDisruptionBudget saying "not now") itself, counting it and backing
    /// off within the step's deadline, where kube's own retry would block the pass instead.
    pub fn new(client: Client, cfg: HealerConfig, audit: Option<Arc<dyn Audit>>) -> Healer {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "kubemedic-controller".into(),
                instance: Some(cfg.identity.clone()),
            },
        );
        Healer {
            client,
            cfg,
            first_seen: FirstSeen::new(),
            storm: StormState::default(),
            announced: BTreeSet::new(),
            taken_up: BTreeSet::new(),
            recorder,
            audit,
            last_plan: None,
            last_runs: Vec::new(),
        }
    }

    /// The plan of the last pass (for the HTTP API and `heal plan` against a controller).
    pub fn last_plan(&self) -> Option<&Plan> {
        self.last_plan.as_ref()
    }

    /// The Remediations as listed by the last pass before it carried them forward (for alerts).
    pub fn last_runs(&self) -> &[Remediation] {
        &self.last_runs
    }

    /// Replaces the runbooks (a reloaded directory or ConfigMap); runs in flight keep their
    /// frozen copy of the steps.
    pub fn set_library(&mut self, library: Library) {
        self.cfg.library = library;
    }

    /// Replaces the safety settings.
    pub fn set_safety(&mut self, safety: SafetyConfig) {
        self.cfg.safety = safety;
    }

    /// The runbooks in use.
    pub fn library(&self) -> &Library {
        &self.cfg.library
    }

    /// Forgets which runs this process took up (after losing and regaining leadership, a run
    /// may have moved on under another leader).
    pub fn lost_leadership(&mut self) {
        self.taken_up.clear();
    }

    async fn event(&self, target: &TargetRef, warning: bool, reason: &str, note: String) {
        let reference = match target.kind.as_str() {
            "Node" => api::node_ref(&target.name),
            kind => k8s_openapi::api::core::v1::ObjectReference {
                kind: Some(kind.to_string()),
                namespace: target.namespace.clone(),
                name: Some(target.name.clone()),
                api_version: Some(if kind == "Pod" { "v1" } else { "apps/v1" }.to_string()),
                ..Default::default()
            },
        };
        let note: String = note.chars().take(1000).collect();
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_string(),
            note: Some(note),
            action: "Remediate".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %e, "cannot write the remediation Event");
        }
    }

    fn audit(&self, r: &Remediation, step: &str, action: &str, outcome: &str, msg: &str) {
        if let Some(a) = &self.audit {
            a.record(&ActionRecord {
                time: Timestamp::now(),
                remediation: r.name_any(),
                runbook: r.spec.runbook.clone(),
                target: r.spec.target_ref().to_string(),
                object: r.spec.target_ref(),
                node: r.spec.target.node.clone(),
                step: step.to_string(),
                action: action.to_string(),
                outcome: outcome.to_string(),
                message: msg.to_string(),
            });
        }
    }

    /// One pass over the cluster as seen in `view`. Call it only while holding the leader Lease.
    pub async fn pass(&mut self, view: &ClusterView) -> Result<PassReport, PassError> {
        let mut report = PassReport::default();
        let rems: Api<Remediation> = Api::all(self.client.clone());
        let list = rems
            .list(&ListParams::default())
            .await
            .map_err(list_error)?;
        let runs: Vec<Run> = list.items.iter().map(Run::from_remediation).collect();
        let p = plan::plan(Input {
            view,
            library: &self.cfg.library,
            safety: &self.cfg.safety,
            runs: &runs,
            first_seen: &self.first_seen,
            storm: self.storm,
        });
        self.storm = p.storm.state;
        // Remember first sightings of matches (cause findings carry no transition time).
        let mut seen = FirstSeen::new();
        for e in &p.entries {
            let key = (e.runbook.clone(), e.matched.target.clone());
            let t = self
                .first_seen
                .get(&key)
                .copied()
                .unwrap_or(e.matched.since);
            seen.insert(key, t);
        }
        self.first_seen = seen;
        self.announced.retain(|k| self.first_seen.contains_key(k));
        if p.storm.started {
            tracing::warn!(
                nodes = p.storm.recent,
                "healing storm: disruptive healing held"
            );
        }

        for e in &p.entries {
            match &e.decision {
                Decision::Start { dry_run: true } => {
                    let key = (e.runbook.clone(), e.matched.target.clone());
                    if self.announced.insert(key) {
                        report.dry_run += 1;
                        self.event(
                            &e.matched.target,
                            false,
                            "RemediationDryRun",
                            format!(
                                "kubemedic would run runbook {} (dry-run: not enabled): {}",
                                e.runbook,
                                e.steps.join(" → ")
                            ),
                        )
                        .await;
                    }
                }
                Decision::Start { dry_run: false } => {
                    let Some(entry) = self.cfg.library.get(&e.runbook) else {
                        continue;
                    };
                    let name = run_name(&e.runbook, &e.matched.target, view.now);
                    let spec = RemediationSpec::new(
                        &entry.runbook,
                        &e.matched.target,
                        e.matched.node.as_deref(),
                        e.matched.evidence.clone(),
                        &e.matched.summary,
                    );
                    let mut r = Remediation::new(&name, spec);
                    let mut labels = BTreeMap::new();
                    labels.insert(RUNBOOK_LABEL.to_string(), e.runbook.clone());
                    if let Some(n) = &e.matched.node {
                        labels.insert(NODE_LABEL.to_string(), n.clone());
                    }
                    r.metadata.labels = Some(labels);
                    match rems.create(&PostParams::default(), &r).await {
                        Ok(_) => {
                            tracing::debug!(
                                target: "heal_timing",
                                remediation = %name,
                                node = e.matched.node.as_deref().unwrap_or(""),
                                "Remediation created"
                            );
                            report.created.push(name.clone());
                            self.event(
                                &e.matched.target,
                                false,
                                "RemediationStarted",
                                format!("runbook {} started as Remediation {name}", e.runbook),
                            )
                            .await;
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, remediation = %name, "cannot create Remediation")
                        }
                    }
                }
                _ => {}
            }
        }
        self.last_plan = Some(p);

        // Carry every run forward (the list from before the creations plus the new ones).
        let list = rems
            .list(&ListParams::default())
            .await
            .map_err(list_error)?;
        self.last_runs = list.items.clone();
        for r in list.items {
            if r.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(Phase::finished)
            {
                continue;
            }
            self.advance(&rems, r, view, &mut report).await;
        }
        Ok(report)
    }

    fn observe(&self, r: &Remediation, view: &ClusterView) -> Observation {
        let target = r.spec.target_ref();
        let healthy = match self.cfg.library.get(&r.spec.runbook) {
            Some(e) => !matching::matches(&e.runbook, view, &self.first_seen)
                .iter()
                .any(|m| m.target == target),
            None => false,
        };
        let node = r.spec.target.node.as_deref();
        let mut checks = BTreeMap::new();
        let node_ready = node
            .and_then(|n| view.node(n))
            .is_some_and(|n| n.ready() == Some("True"));
        checks.insert(Verify::NodeReady, node_ready);
        let pods_ready = if target.kind == "Node" {
            view.pods
                .iter()
                .filter(|p| p.node.as_deref() == node && !p.terminating)
                .filter(|p| p.phase != "Succeeded" && p.phase != "Failed")
                .all(|p| p.phase == "Running" && p.ready)
        } else {
            view.pods
                .iter()
                .filter(|p| {
                    Some(&p.namespace) == target.namespace.as_ref()
                        && (p.name == target.name
                            || p.owner.as_ref().is_some_and(|(_, o)| {
                                target.name.starts_with(o) || o.starts_with(&target.name)
                            }))
                })
                .all(|p| p.phase == "Running" && p.ready)
        };
        checks.insert(Verify::PodsReady, pods_ready);
        // Replacements: every deleted pod's owner has a Running, Ready pod on the node with a
        // new UID.
        let deleted: Vec<(String, String)> = r
            .status
            .as_ref()
            .map(|s| {
                s.history
                    .iter()
                    .flat_map(|h| h.intent.iter())
                    .filter(|(k, _)| k.starts_with("pod:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let replaced = deleted.iter().all(|(key, val)| {
            // intent "pod:<ns>/<name>" = "<uid> <ownerKind>/<ownerName>"
            let ns = key
                .trim_start_matches("pod:")
                .split('/')
                .next()
                .unwrap_or("");
            let (uid, owner) = val.split_once(' ').unwrap_or((val.as_str(), ""));
            let (okind, oname) = owner.split_once('/').unwrap_or(("", ""));
            view.pods.iter().any(|p| {
                p.namespace == ns
                    && p.node.as_deref() == node
                    && p.uid != uid
                    && p.owner
                        .as_ref()
                        .is_some_and(|(k, n)| k == okind && n == oname)
                    && p.phase == "Running"
                    && p.ready
            })
        });
        checks.insert(Verify::ReplacementReady, replaced && !deleted.is_empty());
        Observation {
            now: view.now,
            healthy,
            healthy_reason: plan::healthy_reason(view, &target),
            checks,
            paused: self.cfg.safety.paused,
        }
    }

    async fn write_status(
        &self,
        rems: &Api<Remediation>,
        r: &mut Remediation,
        status: RemediationStatus,
    ) -> bool {
        let mut next = r.clone();
        next.status = Some(status);
        // The resourceVersion in the object makes a deposed leader's write fail (409).
        match rems
            .replace_status(&r.name_any(), &PostParams::default(), &next)
            .await
        {
            Ok(updated) => {
                *r = updated;
                true
            }
            Err(e) => {
                tracing::info!(remediation = %r.name_any(), error = %e, "status not written; next pass");
                false
            }
        }
    }

    /// Writes the status, then records the step's outcome in the audit trail; false when the
    /// write failed (a deposed leader or a stale object: this run waits for the next pass).
    async fn write_and_audit(
        &self,
        rems: &Api<Remediation>,
        r: &mut Remediation,
        status: RemediationStatus,
        step: &CheckedStep,
        outcome: &str,
        msg: &str,
    ) -> bool {
        if !self.write_status(rems, r, status).await {
            return false;
        }
        self.audit(r, &step.name, step.action.kind().as_str(), outcome, msg);
        true
    }

    async fn advance(
        &mut self,
        rems: &Api<Remediation>,
        mut r: Remediation,
        view: &ClusterView,
        report: &mut PassReport,
    ) {
        let name = r.name_any();
        let steps = match r.spec.check() {
            Ok(s) => s,
            Err(e) => {
                let mut st = r.status.clone().unwrap_or_default();
                progress::finish(
                    &mut st,
                    Phase::Failed,
                    &format!("invalid Remediation, nothing done: {e}"),
                    view.now,
                );
                if self.write_status(rems, &mut r, st).await {
                    report.invalid.push(name.clone());
                    report.finished.push((name, Phase::Failed));
                }
                return;
            }
        };
        // Up to a few moves per pass (start → act → verify), each written before acting.
        for _ in 0..4 {
            let fresh = !self.taken_up.contains(&name);
            let mut status = r.status.clone().unwrap_or_default();
            if fresh {
                status.attempts += 1;
                self.taken_up.insert(name.clone());
            }
            let obs = self.observe(&r, view);
            let decision = progress::next(&steps, &status, &obs, fresh);
            let now = Timestamp::now().max(view.now);
            match decision {
                Next::Wait { reason } => {
                    // A long controller action in progress (drain) continues where it was.
                    if let Some(idx) = status.current_step.map(|i| i as usize)
                        && reason.ends_with("in progress")
                        && steps[idx].executor() == Executor::Api
                    {
                        self.act(rems, &mut r, &steps, idx, status, report).await;
                    } else if fresh {
                        self.write_status(rems, &mut r, status).await;
                    }
                    return;
                }
                Next::Finish { phase, message } => {
                    if let Some(node) = &r.spec.target.node {
                        lock::release(&self.client, &self.cfg.lock_namespace, node, &name).await;
                    }
                    progress::finish(&mut status, phase, &message, now);
                    if self.write_status(rems, &mut r, status).await {
                        report.finished.push((name.clone(), phase));
                        self.audit(&r, "", "", phase_name(phase), &message);
                        let target = r.spec.target_ref();
                        self.event(
                            &target,
                            phase == Phase::Escalated,
                            &format!("Remediation{}", phase_name_cap(phase)),
                            format!("{name}: {message}"),
                        )
                        .await;
                    }
                    return;
                }
                Next::Skip { index } => {
                    progress::skip(
                        &mut status,
                        &steps,
                        index,
                        "step disabled in the runbook",
                        now,
                    );
                    if !self
                        .write_and_audit(rems, &mut r, status, &steps[index], "skipped", "disabled")
                        .await
                    {
                        return;
                    }
                }
                Next::Start { index } => {
                    let step = &steps[index];
                    if step.action.kind().disruptive()
                        && let Some(node) = &r.spec.target.node
                        && !lock::acquire(
                            &self.client,
                            &self.cfg.lock_namespace,
                            node,
                            &name,
                            step.timeout + Duration::from_secs(60),
                        )
                        .await
                    {
                        if fresh {
                            self.write_status(rems, &mut r, status).await;
                        }
                        return; // another run holds the node; next pass
                    }
                    let executor = match step.executor() {
                        Executor::Agent => {
                            format!("agent/{}", r.spec.target.node.clone().unwrap_or_default())
                        }
                        _ => "controller".to_string(),
                    };
                    progress::begin(&mut status, &steps, index, &executor, now);
                    if let Err(e) = self
                        .record_intent(&r, &steps[index], &mut status, index)
                        .await
                    {
                        progress::record(
                            &mut status,
                            index,
                            StepState::Failed,
                            &e.to_string(),
                            now,
                        );
                        self.write_status(rems, &mut r, status).await;
                        return;
                    }
                    if !self.write_status(rems, &mut r, status.clone()).await {
                        return;
                    }
                    let target = r.spec.target_ref();
                    self.event(
                        &target,
                        false,
                        "RemediationStep",
                        format!(
                            "{name}: step {} ({}) started: {}",
                            index + 1,
                            step.name,
                            step.action.describe()
                        ),
                    )
                    .await;
                    report.acted += 1;
                    if step.executor() == Executor::Agent {
                        return; // the node's agent carries it out and reports into the status
                    }
                    self.act(rems, &mut r, &steps, index, status, report).await;
                }
                Next::Replay { index } => {
                    if steps[index].executor() == Executor::Agent {
                        if fresh {
                            self.write_status(rems, &mut r, status).await;
                        }
                        return;
                    }
                    self.act(rems, &mut r, &steps, index, status, report).await;
                }
                Next::Interrupted { index } => {
                    if steps[index].executor() == Executor::Agent {
                        if fresh {
                            self.write_status(rems, &mut r, status).await;
                        }
                        return; // the agent records its own interruption
                    }
                    progress::record(
                        &mut status,
                        index,
                        StepState::Interrupted,
                        "interrupted by a restart; not repeated",
                        now,
                    );
                    if !self.write_status(rems, &mut r, status).await {
                        return;
                    }
                }
                Next::Verify { .. } => {
                    if fresh {
                        self.write_status(rems, &mut r, status).await;
                    }
                    return;
                }
                Next::Succeed { index } => {
                    progress::record(&mut status, index, StepState::Succeeded, "verified", now);
                    if !self
                        .write_and_audit(
                            rems,
                            &mut r,
                            status,
                            &steps[index],
                            "succeeded",
                            "verified",
                        )
                        .await
                    {
                        return;
                    }
                }
                Next::TimedOut { index, escalate } => {
                    let msg = if escalate {
                        "not done within the step's timeout; escalating"
                    } else {
                        "not verified within the step's timeout; next step"
                    };
                    let keep = status
                        .history
                        .iter()
                        .rev()
                        .find(|h| h.index as usize == index)
                        .map(|h| h.message.clone())
                        .filter(|m| !m.is_empty());
                    let full = match keep {
                        Some(m) => format!("{msg} ({m})"),
                        None => msg.to_string(),
                    };
                    progress::record(&mut status, index, StepState::TimedOut, &full, now);
                    if !self
                        .write_and_audit(rems, &mut r, status, &steps[index], "timed-out", &full)
                        .await
                    {
                        return;
                    }
                }
            }
        }
    }

    /// Records what the action will touch before it acts (so a replay does the same).
    async fn record_intent(
        &self,
        r: &Remediation,
        step: &CheckedStep,
        status: &mut RemediationStatus,
        index: usize,
    ) -> Result<(), ActionError> {
        let mut intent = BTreeMap::new();
        match &step.action {
            Action::DeletePod { pods } => {
                let target = (
                    r.spec.target.namespace.as_deref().unwrap_or(""),
                    r.spec.target.name.as_str(),
                );
                let chosen =
                    api::choose_pods(&self.client, r.spec.target.node.as_deref(), pods, target)
                        .await?;
                if chosen.is_empty() {
                    return Err(ActionError::Refused(format!(
                        "no pod matches {} on the node",
                        step.action.describe()
                    )));
                }
                for (ns, n, uid) in chosen {
                    let owner = owner_of(&self.client, &ns, &n).await.unwrap_or_default();
                    intent.insert(format!("pod:{ns}/{n}"), format!("{uid} {owner}"));
                }
            }
            Action::RolloutRestart => {
                intent.insert("restartedAt".into(), stamp(Timestamp::now()));
            }
            Action::EvictEmptyDir { top } => {
                let Some(node) = r.spec.target.node.as_deref() else {
                    return Err(ActionError::Refused("no node".into()));
                };
                let chosen = api::emptydir_top(&self.client, node, *top).await?;
                if chosen.is_empty() {
                    return Err(ActionError::Refused(format!(
                        "no evictable pod on {node} uses emptyDir space (kubelet volume statistics)"
                    )));
                }
                for u in chosen {
                    intent.insert(
                        format!("evict:{}/{}", u.namespace, u.name),
                        format!("{} {}", u.uid, u.bytes),
                    );
                }
            }
            Action::Cordon => {
                if let Some(node) = &r.spec.target.node {
                    let nodes: Api<k8s_openapi::api::core::v1::Node> =
                        Api::all(self.client.clone());
                    if let Ok(n) = nodes.get(node).await {
                        let already = n.spec.and_then(|s| s.unschedulable).unwrap_or(false);
                        let ours = n
                            .metadata
                            .annotations
                            .is_some_and(|a| a.contains_key(crate::view::CORDONED_BY_ANNOTATION));
                        if status.node_was_cordoned.is_none() {
                            status.node_was_cordoned = Some(already && !ours);
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(rec) = status
            .history
            .iter_mut()
            .rev()
            .find(|h| h.index as usize == index)
        {
            rec.intent = intent;
        }
        Ok(())
    }

    async fn act(
        &mut self,
        rems: &Api<Remediation>,
        r: &mut Remediation,
        steps: &[CheckedStep],
        index: usize,
        mut status: RemediationStatus,
        report: &mut PassReport,
    ) {
        let step = &steps[index];
        let name = r.name_any();
        let node = r.spec.target.node.clone();
        let intent = status
            .history
            .iter()
            .rev()
            .find(|h| h.index as usize == index)
            .map(|h| h.intent.clone())
            .unwrap_or_default();
        let started = status
            .history
            .iter()
            .rev()
            .find(|h| h.index as usize == index)
            .and_then(|h| h.started_at.parse::<Timestamp>().ok())
            .unwrap_or_else(Timestamp::now);
        let step_deadline = jiff::SignedDuration::try_from(step.timeout)
            .ok()
            .and_then(|d| started.checked_add(d).ok())
            .unwrap_or(Timestamp::MAX);
        let left = Timestamp::now().duration_until(step_deadline);
        let slice = std::time::Duration::try_from(left)
            .unwrap_or(Duration::ZERO)
            .min(self.cfg.action_slice);
        let deadline = tokio::time::Instant::now() + slice;
        let result: Result<String, ActionError> = match &step.action {
            Action::Cordon => match &node {
                Some(n) => api::cordon(&self.client, n, &name).await.map(|already| {
                    if already {
                        format!("node {n} was already cordoned; left as it was")
                    } else {
                        format!("node {n} cordoned")
                    }
                }),
                None => Err(ActionError::Refused("no node".into())),
            },
            Action::Uncordon => match &node {
                Some(n) => api::uncordon(&self.client, n).await.map(|did| {
                    if did {
                        format!("node {n} uncordoned")
                    } else {
                        format!("node {n} not cordoned by kubemedic; left as it is")
                    }
                }),
                None => Err(ActionError::Refused("no node".into())),
            },
            Action::Taint { key, value, effect } => match &node {
                Some(n) => api::taint(&self.client, n, key, value, *effect)
                    .await
                    .map(|_| format!("taint {key}={value}:{effect:?} on {n}")),
                None => Err(ActionError::Refused("no node".into())),
            },
            Action::DeletePod { .. } => {
                let pods: Vec<(String, String, String)> = intent
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.strip_prefix("pod:")?;
                        let (ns, n) = key.split_once('/')?;
                        let uid = v.split(' ').next()?;
                        Some((ns.to_string(), n.to_string(), uid.to_string()))
                    })
                    .collect();
                api::delete_pods(&self.client, &pods).await.map(|n| {
                    let names: Vec<String> =
                        pods.iter().map(|(ns, n, _)| format!("{ns}/{n}")).collect();
                    format!("deleted {n} pod(s): {}", names.join(", "))
                })
            }
            Action::Drain {
                grace_period,
                delete_empty_dir_data,
            } => match &node {
                Some(n) => {
                    match api::drain(&self.client, n, *grace_period, *delete_empty_dir_data, deadline)
                        .await
                    {
                        Ok(rep) => {
                            // Progress is kept in the intent so a new leader's total is right.
                            let Some(h) = status
                                .history
                                .iter_mut()
                                .rev()
                                .find(|h| h.index as usize == index)
                            else {
                                return;
                            };
                            for p in &rep.evicted {
                                h.intent.insert(format!("evicted:{p}"), String::new());
                            }
                            let throttled = h
                                .intent
                                .get("throttled")
                                .and_then(|t| t.parse::<usize>().ok())
                                .unwrap_or(0)
                                + rep.throttled;
                            h.intent.insert("throttled".into(), throttled.to_string());
                            let evicted =
                                h.intent.keys().filter(|k| k.starts_with("evicted:")).count();
                            if !rep.finished {
                                // Not finished in this slice: stays Started and continues next
                                // pass; the step's own timeout escalates it.
                                h.message = format!(
                                    "draining: {evicted} pod(s) evicted so far, {} left ({}), {throttled} evictions refused by PDBs so far",
                                    rep.left.len(),
                                    rep.left.join(", ")
                                );
                                self.write_status(rems, r, status).await;
                                return;
                            }
                            Ok(format!(
                                "drained: {evicted} pod(s) evicted, {} left ({}), {throttled} evictions refused by PDBs on the way",
                                rep.skipped.len(),
                                rep.skipped.join(", "),
                            ))
                        }
                        Err(e) => Err(e),
                    }
                }
                None => Err(ActionError::Refused("no node".into())),
            },
            Action::RolloutRestart => {
                let stamp = intent
                    .get("restartedAt")
                    .cloned()
                    .unwrap_or_else(|| stamp(Timestamp::now()));
                api::rollout_restart(
                    &self.client,
                    &r.spec.target.kind,
                    r.spec.target.namespace.as_deref().unwrap_or(""),
                    &r.spec.target.name,
                    &stamp,
                )
                .await
                .map(|w| format!("rollout restart of {w}"))
            }
            Action::EvictEmptyDir { .. } => {
                // The pods chosen from the kubelet's statistics when the step started (intent).
                let pods: Vec<(String, String, String, u64)> = intent
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.strip_prefix("evict:")?;
                        let (ns, n) = key.split_once('/')?;
                        let (uid, bytes) = v.split_once(' ').unwrap_or((v.as_str(), "0"));
                        Some((
                            ns.to_string(),
                            n.to_string(),
                            uid.to_string(),
                            bytes.parse().unwrap_or(0),
                        ))
                    })
                    .collect();
                let targets: Vec<(String, String, String)> = pods
                    .iter()
                    .map(|(ns, n, uid, _)| (ns.clone(), n.clone(), uid.clone()))
                    .collect();
                api::evict_pods(&self.client, &targets, deadline)
                    .await
                    .map(|(evicted, throttled)| {
                        let freed: u64 = pods.iter().map(|p| p.3).sum();
                        format!(
                            "evicted {} pod(s) using {} MiB of emptyDir space: {}{}",
                            evicted.len(),
                            freed / (1 << 20),
                            evicted.join(", "),
                            if throttled > 0 {
                                format!(" ({throttled} evictions refused by PDBs on the way)")
                            } else {
                                String::new()
                            }
                        )
                    })
            }
            Action::Alert { .. } => Ok(
                "alert raised (sent by the controller's alert sinks while the target stays unhealthy)"
                    .into(),
            ),
            other => Err(ActionError::Refused(format!(
                "{} is carried out by the node agent, not the controller",
                other.kind()
            ))),
        };
        let now = Timestamp::now();
        let (state, msg, outcome) = match &result {
            Ok(m) if step.verify.is_empty() => (StepState::Succeeded, m.clone(), "succeeded"),
            Ok(m) => (StepState::Acted, m.clone(), "acted"),
            Err(e) => (StepState::Failed, e.to_string(), "failed"),
        };
        progress::record(&mut status, index, state, &msg, now);
        if self.write_status(rems, r, status).await {
            report.acted += 1;
            self.audit(r, &step.name, step.action.kind().as_str(), outcome, &msg);
            let target = r.spec.target_ref();
            self.event(
                &target,
                result.is_err(),
                if result.is_ok() {
                    "RemediationAction"
                } else {
                    "RemediationActionFailed"
                },
                format!("{name}: step {} ({}): {msg}", index + 1, step.name),
            )
            .await;
        }
    }
}

async fn owner_of(client: &Client, ns: &str, name: &str) -> Option<String> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns);
    let p = pods.get_opt(name).await.ok()??;
    p.metadata.owner_references.and_then(|os| {
        os.into_iter()
            .find(|o| o.controller == Some(true))
            .map(|o| format!("{}/{}", o.kind, o.name))
    })
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Pending => "pending",
        Phase::Running => "running",
        Phase::Succeeded => "succeeded",
        Phase::Escalated => "escalated",
        Phase::Cancelled => "cancelled",
        Phase::Failed => "failed",
    }
}

fn phase_name_cap(p: Phase) -> &'static str {
    match p {
        Phase::Pending => "Pending",
        Phase::Running => "Running",
        Phase::Succeeded => "Succeeded",
        Phase::Escalated => "Escalated",
        Phase::Cancelled => "Cancelled",
        Phase::Failed => "Failed",
    }
}

/// The object reference of a Remediation (for Events about the run itself).
pub fn remediation_ref(r: &Remediation) -> k8s_openapi::api::core::v1::ObjectReference {
    r.object_ref(&())
}
