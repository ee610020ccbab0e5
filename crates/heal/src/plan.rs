//! The planner: what would happen now and why. Pure: cluster view, runbooks, safety settings,
//! the runs in flight and in the past, in; decisions out.
//!
//! Gates, in order (NodeHealthCheck's order, extended): the target is excluded (label,
//! control plane not named) → a run is already in flight (continue it, or stop it when the
//! target is healthy again) → the minimum duration has not passed → paused → cooldown and
//! backoff → too few healthy nodes in the group → storm (or its cooldown) → the cluster-wide
//! disruption budget → another disruptive run on the same node → dry-run or start.

use crate::crd::{Phase, Remediation};
use crate::library::Library;
use crate::matching::{self, FirstSeen, Match};
use crate::runbook::{Mode, Runbook};
use crate::safety::SafetyConfig;
use crate::view::{ClusterView, TargetRef};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A run (Remediation) as the planner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The Remediation's name.
    pub name: String,
    /// Runbook.
    pub runbook: String,
    /// Target.
    pub target: TargetRef,
    /// Node of the target.
    pub node: Option<String>,
    /// Whether it has enabled disruptive steps.
    pub disruptive: bool,
    /// Phase.
    pub phase: Phase,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
}

impl Run {
    /// Reads a Remediation object.
    pub fn from_remediation(r: &Remediation) -> Run {
        let status = r.status.as_ref();
        Run {
            name: r.metadata.name.clone().unwrap_or_default(),
            runbook: r.spec.runbook.clone(),
            target: r.spec.target_ref(),
            node: r.spec.target.node.clone(),
            disruptive: r.spec.disruptive(),
            phase: status.and_then(|s| s.phase).unwrap_or(Phase::Pending),
            finished_at: status
                .and_then(|s| s.finished_at.as_deref())
                .and_then(|t| t.parse().ok()),
        }
    }
}

/// Storm bookkeeping carried from one pass to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StormState {
    /// When the current storm started.
    pub active_since: Option<Timestamp>,
    /// When the last storm ended.
    pub ended_at: Option<Timestamp>,
}

/// Which gate held a target back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// The exclude label.
    Excluded,
    /// A control-plane node not named in the config.
    ControlPlane,
    /// The minimum duration has not passed.
    Held,
    /// The pause switch.
    Paused,
    /// Cooldown or backoff after an earlier run on the target.
    Cooldown,
    /// Too few healthy nodes in the group.
    MinHealthy,
    /// A storm, or the cooldown after one.
    Storm,
    /// The cluster-wide disruption budget.
    Budget,
    /// Another run is in flight on the same node.
    NodeBusy,
}

/// What happens to one matched target now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "decision",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Decision {
    /// A run starts now (or would, in dry-run).
    Start {
        /// The runbook is not enabled: reported, nothing done.
        dry_run: bool,
    },
    /// A run is in flight; it goes on.
    Continue {
        /// The Remediation.
        remediation: String,
    },
    /// A run is in flight but the target is healthy again: it stops.
    Stop {
        /// The Remediation.
        remediation: String,
        /// Why.
        reason: String,
    },
    /// Not now.
    Wait {
        /// Which gate.
        gate: Gate,
        /// Why, in words.
        reason: String,
        /// When it may go ahead, where known.
        #[serde(skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
    },
    /// Never, while this holds.
    Skip {
        /// Which gate.
        gate: Gate,
        /// Why.
        reason: String,
    },
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Runbook.
    pub runbook: String,
    /// Its mode.
    pub mode: Mode,
    /// The match (target, since, evidence).
    #[serde(flatten)]
    pub matched: Match,
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// The steps that would run, described.
    pub steps: Vec<String>,
    /// Whether an escalation alert follows the steps.
    pub escalation: bool,
}

/// A node group's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupHealth {
    /// Group name (the label's value; `all` without a group label).
    pub name: String,
    /// Nodes in it.
    pub nodes: usize,
    /// Healthy ones (Ready and matched by no node runbook).
    pub healthy: usize,
    /// The minimum required.
    pub min_healthy: usize,
}

/// The storm detector's view at this pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StormReport {
    /// Node targets that started matching within the window.
    pub recent: usize,
    /// The threshold.
    pub threshold: usize,
    /// A storm is on.
    pub active: bool,
    /// Disruptive healing waits until then (storm cooldown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<Timestamp>,
    /// The state for the next pass.
    pub state: StormState,
    /// The storm started at this pass (record it: Event, archive, alert).
    pub started: bool,
    /// The storm ended at this pass.
    pub ended: bool,
}

/// The plan of one pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The reference time.
    pub now: Timestamp,
    /// The pause switch.
    pub paused: bool,
    /// Nodes disrupted now (in-flight disruptive runs, nodes kubemedic cordoned).
    pub disrupted: usize,
    /// The budget.
    pub max_disrupted: usize,
    /// Node groups.
    pub groups: Vec<GroupHealth>,
    /// Storm detection.
    pub storm: StormReport,
    /// One entry per matched (runbook, target), plus in-flight runs whose target no longer
    /// matches.
    pub entries: Vec<Entry>,
}

impl Plan {
    /// Entries with a given decision kind, for tests and summaries.
    pub fn starting(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.decision, Decision::Start { .. }))
    }
}

/// Everything the planner reads.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The cluster.
    pub view: &'a ClusterView,
    /// The runbooks.
    pub library: &'a Library,
    /// Safety settings.
    pub safety: &'a SafetyConfig,
    /// Runs in flight and finished.
    pub runs: &'a [Run],
    /// First sightings of cause matches.
    pub first_seen: &'a FirstSeen,
    /// Storm state from the last pass.
    pub storm: StormState,
}

fn add(t: Timestamp, d: std::time::Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn sub(t: Timestamp, d: std::time::Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

/// The earliest time the target may be run on again after its past runs, and why.
fn cooldown_until(
    safety: &SafetyConfig,
    rb: &Runbook,
    target: &TargetRef,
    runs: &[Run],
    now: Timestamp,
) -> Option<(Timestamp, usize)> {
    let reset_from = sub(now, safety.backoff.reset);
    let mut recent: Vec<Timestamp> = runs
        .iter()
        .filter(|r| r.runbook == rb.name && &r.target == target && r.phase != Phase::Failed)
        .filter_map(|r| r.finished_at)
        .filter(|t| *t >= reset_from)
        .collect();
    recent.sort();
    let last = *recent.last()?;
    let base = rb.cooldown.unwrap_or(safety.cooldown);
    let exp = u32::try_from(recent.len().saturating_sub(1)).unwrap_or(u32::MAX);
    let factor = safety.backoff.factor.saturating_pow(exp.min(30));
    let wait = base
        .saturating_mul(factor)
        .min(safety.backoff.max.max(base));
    Some((add(last, wait), recent.len()))
}

/// What runs claim while planning: disrupted nodes, busy nodes (with the holder), targets taken.
type Claims = (
    BTreeSet<String>,
    BTreeMap<String, String>,
    BTreeSet<TargetRef>,
);

/// Computes the plan.
pub fn plan(input: Input<'_>) -> Plan {
    let Input {
        view,
        library,
        safety,
        runs,
        first_seen,
        storm,
    } = input;
    let now = view.now;

    // Every runbook's matches, by priority: more specific runbooks first (fewer seconds to
    // wait), then by name, so one node matched by two runbooks gets the specific one.
    let mut runbooks: Vec<&Runbook> = library.active().collect();
    runbooks.sort_by_key(|r| {
        (
            r.matcher.conditions.iter().map(|c| c.for_).min(),
            r.name.clone(),
        )
    });
    let mut all: Vec<(&Runbook, Match)> = Vec::new();
    for rb in &runbooks {
        for m in matching::matches(rb, view, first_seen) {
            all.push((rb, m));
        }
    }

    // Unhealthy nodes: not Ready, or matched by a node runbook.
    let mut unhealthy: BTreeSet<&str> = view
        .nodes
        .iter()
        .filter(|n| n.ready() != Some("True"))
        .map(|n| n.name.as_str())
        .collect();
    for (rb, m) in &all {
        if rb.target == crate::action::TargetKind::Node
            && let Some(n) = &m.node
        {
            unhealthy.insert(n.as_str());
        }
    }
    let group_of = |labels: &BTreeMap<String, String>| -> String {
        if safety.node_group_label.is_empty() {
            "all".to_string()
        } else {
            labels
                .get(&safety.node_group_label)
                .cloned()
                .unwrap_or_else(|| "(none)".to_string())
        }
    };
    let mut groups: BTreeMap<String, GroupHealth> = BTreeMap::new();
    let mut node_group: BTreeMap<&str, String> = BTreeMap::new();
    for n in &view.nodes {
        let g = group_of(&n.labels);
        node_group.insert(n.name.as_str(), g.clone());
        let e = groups.entry(g.clone()).or_insert(GroupHealth {
            name: g,
            nodes: 0,
            healthy: 0,
            min_healthy: 0,
        });
        e.nodes += 1;
        if !unhealthy.contains(n.name.as_str()) {
            e.healthy += 1;
        }
    }
    for g in groups.values_mut() {
        g.min_healthy = safety.min_healthy.of(g.nodes).min(g.nodes);
    }

    // Storm: node targets of disruptive runbooks that started matching within the window.
    let window_start = sub(now, safety.storm.window);
    let recent: BTreeSet<&str> = all
        .iter()
        .filter(|(rb, m)| rb.disruptive() && m.since >= window_start)
        .filter_map(|(_, m)| m.node.as_deref())
        .collect();
    let threshold = safety
        .storm
        .threshold
        .of(view.nodes.len())
        .max(safety.storm.min_targets as usize);
    let storming = recent.len() >= threshold;
    let mut state = storm;
    let (mut started, mut ended) = (false, false);
    if storming && state.active_since.is_none() {
        state.active_since = Some(now);
        started = true;
    } else if !storming && state.active_since.is_some() {
        state.active_since = None;
        state.ended_at = Some(now);
        ended = true;
    }
    let hold_until = if state.active_since.is_some() {
        None
    } else {
        state
            .ended_at
            .map(|t| add(t, safety.storm.cooldown))
            .filter(|t| *t > now)
    };
    let storm_report = StormReport {
        recent: recent.len(),
        threshold,
        active: state.active_since.is_some(),
        hold_until,
        state,
        started,
        ended,
    };

    // Runs in flight, and what they hold.
    let in_flight: Vec<&Run> = runs.iter().filter(|r| !r.phase.finished()).collect();
    let mut disrupted: BTreeSet<String> = in_flight
        .iter()
        .filter(|r| r.disruptive)
        .filter_map(|r| r.node.clone())
        .collect();
    for n in &view.nodes {
        if n.cordoned_by_kubemedic && n.unschedulable {
            disrupted.insert(n.name.clone());
        }
    }
    let mut busy_nodes: BTreeMap<String, String> = in_flight
        .iter()
        .filter(|r| r.disruptive)
        .filter_map(|r| r.node.clone().map(|n| (n, r.name.clone())))
        .collect();
    let max_disrupted = safety.max_disrupted.of(view.nodes.len());
    let disrupted_now = disrupted.len();

    // Oldest matches first: the budget goes to those that waited longest.
    all.sort_by(|(_, a), (_, b)| (a.since, &a.target).cmp(&(b.since, &b.target)));
    // Enabled runbooks claim budget and nodes first; dry-run ones are then planned against
    // what is left, on copies: a run that would only be announced never holds a real one back.
    let mut entries: Vec<(usize, Entry)> = Vec::new();
    let mut seen_targets: BTreeSet<TargetRef> = BTreeSet::new();
    let (enabled, dry): (Vec<_>, Vec<_>) = all
        .into_iter()
        .enumerate()
        .partition(|(_, (rb, _))| rb.mode == Mode::Enabled);
    let mut dry_state: Option<Claims> = None;
    for (order, (rb, m)) in enabled.into_iter().chain(dry) {
        if rb.mode != Mode::Enabled && dry_state.is_none() {
            dry_state = Some((disrupted.clone(), busy_nodes.clone(), seen_targets.clone()));
        }
        let (disrupted, busy_nodes, seen_targets) = match dry_state.as_mut() {
            Some((d, b, s)) => (d, b, s),
            None => (&mut disrupted, &mut busy_nodes, &mut seen_targets),
        };
        let decision = decide(
            rb,
            &m,
            view,
            safety,
            runs,
            &in_flight,
            &groups,
            &node_group,
            &storm_report,
            disrupted,
            max_disrupted,
            busy_nodes,
            seen_targets,
            now,
        );
        if rb.disruptive() && matches!(decision, Decision::Start { .. } | Decision::Continue { .. })
        {
            seen_targets.insert(m.target.clone());
        }
        entries.push((
            order,
            Entry {
                runbook: rb.name.clone(),
                mode: rb.mode,
                steps: rb
                    .steps
                    .iter()
                    .map(|s| {
                        let mut d = s.action.describe();
                        if !s.enabled {
                            d.push_str(" [step disabled]");
                        }
                        d
                    })
                    .collect(),
                escalation: rb.escalation_alert(),
                matched: m,
                decision,
            },
        ));
    }
    entries.sort_by_key(|(order, _)| *order);
    let mut entries: Vec<Entry> = entries.into_iter().map(|(_, e)| e).collect();
    // In-flight runs whose target no longer matches their runbook: healthy again.
    for r in &in_flight {
        let still = entries
            .iter()
            .any(|e| e.runbook == r.runbook && e.matched.target == r.target);
        if still {
            continue;
        }
        let reason = match library.get(&r.runbook) {
            None => format!("runbook {} no longer exists", r.runbook),
            Some(e) if e.runbook.mode == Mode::Disabled => {
                format!("runbook {} was disabled", r.runbook)
            }
            Some(_) => healthy_reason(view, &r.target),
        };
        let rb = library.get(&r.runbook).map(|e| &e.runbook);
        entries.push(Entry {
            runbook: r.runbook.clone(),
            mode: rb.map(|r| r.mode).unwrap_or(Mode::Disabled),
            matched: Match {
                runbook: r.runbook.clone(),
                target: r.target.clone(),
                node: r.node.clone(),
                since: now,
                ready_at: now,
                evidence: vec![],
                summary: String::new(),
            },
            decision: Decision::Stop {
                remediation: r.name.clone(),
                reason,
            },
            steps: vec![],
            escalation: false,
        });
    }
    Plan {
        now,
        paused: safety.paused,
        disrupted: disrupted_now,
        max_disrupted,
        groups: groups.into_values().collect(),
        storm: storm_report,
        entries,
    }
}

/// Why a target counts as healthy again, for the run's record.
pub fn healthy_reason(view: &ClusterView, target: &TargetRef) -> String {
    if target.kind == "Node"
        && let Some(n) = view.node(&target.name)
        && let Some(c) = n.condition("Ready")
    {
        let since = c
            .last_transition
            .map(|t| format!(" since {t}"))
            .unwrap_or_default();
        return format!(
            "{target} healthy again: the runbook no longer matches (Ready={}{since})",
            c.status
        );
    }
    format!("{target} healthy again: the runbook no longer matches")
}

#[allow(clippy::too_many_arguments)]
fn decide(
    rb: &Runbook,
    m: &Match,
    view: &ClusterView,
    safety: &SafetyConfig,
    runs: &[Run],
    in_flight: &[&Run],
    groups: &BTreeMap<String, GroupHealth>,
    node_group: &BTreeMap<&str, String>,
    storm: &StormReport,
    disrupted: &mut BTreeSet<String>,
    max_disrupted: usize,
    busy_nodes: &mut BTreeMap<String, String>,
    seen_targets: &BTreeSet<TargetRef>,
    now: Timestamp,
) -> Decision {
    let wait = |gate, reason: String, until| Decision::Wait {
        gate,
        reason,
        until,
    };
    let node = m.node.as_deref().and_then(|n| view.node(n));
    // 1. Exclusions.
    if let Some(n) = node {
        if safety.excluded(&n.labels) {
            return Decision::Skip {
                gate: Gate::Excluded,
                reason: format!("node {} has the label {}", n.name, safety.exclude_label),
            };
        }
        if n.control_plane() && !safety.control_plane_nodes.contains(&n.name) {
            return Decision::Skip {
                gate: Gate::ControlPlane,
                reason: format!(
                    "node {} is a control-plane node (name it in controlPlaneNodes to allow)",
                    n.name
                ),
            };
        }
    }
    if m.target.kind == "Pod"
        && let Some(p) = view
            .pods
            .iter()
            .find(|p| Some(&p.namespace) == m.target.namespace.as_ref() && p.name == m.target.name)
        && safety.excluded(&p.labels)
    {
        return Decision::Skip {
            gate: Gate::Excluded,
            reason: format!("pod has the label {}", safety.exclude_label),
        };
    }
    // 2. A run in flight on this target.
    if let Some(r) = in_flight
        .iter()
        .find(|r| r.target == m.target && r.runbook == rb.name)
    {
        return Decision::Continue {
            remediation: r.name.clone(),
        };
    }
    // One disruptive run per target at a time; alerts and other gentle runs go alongside.
    if rb.disruptive() {
        if let Some(r) = in_flight
            .iter()
            .find(|r| r.target == m.target && r.disruptive)
        {
            return wait(
                Gate::NodeBusy,
                format!(
                    "run {} of runbook {} is in flight on {}",
                    r.name, r.runbook, m.target
                ),
                None,
            );
        }
        if seen_targets.contains(&m.target) {
            return wait(
                Gate::NodeBusy,
                format!("another runbook acts on {} first", m.target),
                None,
            );
        }
    }
    // 3. Minimum duration.
    if !m.held(now) {
        let held = now.duration_since(m.since);
        let need = m.ready_at.duration_since(m.since);
        return wait(
            Gate::Held,
            format!(
                "matching for {} of the {} required",
                crate::duration::Human(held.unsigned_abs()),
                crate::duration::Human(need.unsigned_abs())
            ),
            Some(m.ready_at),
        );
    }
    // 4. Pause.
    if safety.paused {
        return wait(Gate::Paused, "healing is paused".into(), None);
    }
    // 5. Cooldown and backoff.
    if let Some((until, count)) = cooldown_until(safety, rb, &m.target, runs, now)
        && until > now
    {
        let why = if count > 1 {
            format!(
                "backoff after {count} runs on {} within the reset window",
                m.target
            )
        } else {
            format!("cooldown after the last run on {}", m.target)
        };
        return wait(Gate::Cooldown, why, Some(until));
    }
    if rb.disruptive() {
        // 6. minHealthy in the node's group.
        if let Some(n) = &m.node
            && let Some(g) = node_group.get(n.as_str()).and_then(|g| groups.get(g))
            && g.healthy < g.min_healthy
        {
            return wait(
                Gate::MinHealthy,
                format!(
                    "group {}: {} of {} nodes healthy, minHealthy {}",
                    g.name, g.healthy, g.nodes, g.min_healthy
                ),
                None,
            );
        }
        // 7. Storm.
        if storm.active {
            return wait(
                Gate::Storm,
                format!(
                    "storm: {} nodes started matching within the window (threshold {})",
                    storm.recent, storm.threshold
                ),
                None,
            );
        }
        if let Some(until) = storm.hold_until {
            return wait(
                Gate::Storm,
                "cooldown after a storm".to_string(),
                Some(until),
            );
        }
        // 8. Budget, cluster-wide.
        let node_name = m.node.clone().unwrap_or_default();
        if !disrupted.contains(&node_name) && disrupted.len() >= max_disrupted {
            return wait(
                Gate::Budget,
                format!(
                    "{} of at most {} {} disrupted",
                    disrupted.len(),
                    max_disrupted,
                    if max_disrupted == 1 { "node" } else { "nodes" }
                ),
                None,
            );
        }
        // 9. One disruptive run per node.
        if let Some(other) = busy_nodes.get(&node_name) {
            return wait(
                Gate::NodeBusy,
                format!("{other} holds node {node_name}"),
                None,
            );
        }
        if !node_name.is_empty() {
            disrupted.insert(node_name.clone());
            busy_nodes.insert(node_name, format!("run of {} (this pass)", rb.name));
        }
    }
    Decision::Start {
        dry_run: rb.mode != Mode::Enabled,
    }
}
