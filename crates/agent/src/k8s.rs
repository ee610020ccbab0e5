//! Kubernetes exporter: NodeConditions through the status subresource, and Events.
//!
//! Conditions are written with a strategic merge patch on `nodes/<name>/status` listing only the
//! condition types this agent's monitors declare: the `conditions` list merges by `type`, so the
//! kubelet's (Ready, MemoryPressure, ...) and other agents' conditions are never touched. The
//! exporter keeps only the latest desired state (a `watch`), so an apiserver outage costs nothing
//! but a retry: when the apiserver answers again the newest state is written once. Each write
//! also refreshes `lastHeartbeatTime`; without changes the conditions are re-written every
//! heartbeat period. Events follow NPD: core/v1 Events on the Node (`involvedObject` kind Node,
//! uid = node name, namespace `default`), `source.component` = monitor source, Warning for
//! problems; a repeat of the same (source, reason, message) within ten minutes bumps `count` and
//! `lastTimestamp` of the existing Event instead of creating another.

use crate::health::SourceHealth;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Event, Node};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubemedic_detect::{
    ConditionStatus, NodeConditionSnapshot, ProblemEvent, Severity, TrackedCondition,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Settings of the Kubernetes exporter.
#[derive(Clone)]
pub struct KubeExporterOptions {
    /// The client (in-cluster or `--kubeconfig`).
    pub client: kube::Client,
    /// How often unchanged conditions are re-written to refresh `lastHeartbeatTime`.
    pub heartbeat: Duration,
    /// How long to wait at start for the Node's current conditions.
    pub initial_read_timeout: Duration,
    /// Namespace of the Events.
    pub event_namespace: String,
}

impl std::fmt::Debug for KubeExporterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeExporterOptions")
            .field("heartbeat", &self.heartbeat)
            .field("initial_read_timeout", &self.initial_read_timeout)
            .field("event_namespace", &self.event_namespace)
            .finish_non_exhaustive()
    }
}

impl KubeExporterOptions {
    /// NPD's defaults: heartbeat every 5 minutes, events in `default`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            heartbeat: Duration::from_secs(300),
            initial_read_timeout: Duration::from_secs(10),
            event_namespace: "default".to_string(),
        }
    }
}

/// Reads the Node's current conditions of the types this agent owns, retrying until the timeout.
/// An unreachable apiserver or a missing Node yields an empty list (logged).
pub async fn read_node_conditions(
    options: &KubeExporterOptions,
    node: &str,
    owned_types: &[String],
) -> Vec<NodeConditionSnapshot> {
    let api: Api<Node> = Api::all(options.client.clone());
    let deadline = Instant::now() + options.initial_read_timeout;
    loop {
        match api.get_opt(node).await {
            Ok(Some(n)) => {
                let conditions = n.status.and_then(|s| s.conditions).unwrap_or_default();
                return conditions
                    .into_iter()
                    .filter(|c| owned_types.contains(&c.type_))
                    .map(|c| NodeConditionSnapshot {
                        status: match c.status.as_str() {
                            "True" => ConditionStatus::True,
                            "False" => ConditionStatus::False,
                            _ => ConditionStatus::Unknown,
                        },
                        condition_type: c.type_,
                        reason: c.reason.unwrap_or_default(),
                        message: c.message.unwrap_or_default(),
                        last_transition: c
                            .last_transition_time
                            .map(|t| t.0)
                            .unwrap_or_else(Timestamp::now),
                    })
                    .collect();
            }
            Ok(None) => {
                tracing::warn!(
                    node,
                    "Node object not found; starting from declared defaults"
                );
                return Vec::new();
            }
            Err(err) => {
                if Instant::now() >= deadline {
                    tracing::warn!(node, error = %err, "cannot read the Node's conditions; starting from declared defaults");
                    return Vec::new();
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The strategic merge patch that sets exactly `conditions` (merged by `type`).
pub fn conditions_patch(
    conditions: &BTreeMap<String, TrackedCondition>,
    now: Timestamp,
) -> serde_json::Value {
    let list: Vec<serde_json::Value> = conditions
        .values()
        .map(|c| {
            serde_json::json!({
                "type": c.condition_type,
                "status": c.status.as_str(),
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": c.transition.round(jiff::Unit::Second).unwrap_or(c.transition).to_string(),
                "lastHeartbeatTime": now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
            })
        })
        .collect();
    serde_json::json!({"status": {"conditions": list}})
}

struct Aggregated {
    name: String,
    count: i32,
    last: Timestamp,
}

/// Writes conditions and events until the condition sender is dropped.
pub async fn export(
    options: KubeExporterOptions,
    node: String,
    _owned_types: Vec<String>,
    mut desired: watch::Receiver<BTreeMap<String, TrackedCondition>>,
    mut events: mpsc::Receiver<ProblemEvent>,
    health: Arc<SourceHealth>,
) {
    let nodes: Api<Node> = Api::all(options.client.clone());
    let event_api: Api<Event> = Api::namespaced(options.client.clone(), &options.event_namespace);
    let mut pending: VecDeque<ProblemEvent> = VecDeque::new();
    let mut aggregated: HashMap<(String, String, String), Aggregated> = HashMap::new();
    let mut dirty = false;
    let mut next_heartbeat = Instant::now() + options.heartbeat;
    let mut retry_at: Option<Instant> = None;
    let mut backoff = Duration::from_millis(200);
    let mut events_open = true;
    const MAX_PENDING: usize = 1000;
    loop {
        let wake = retry_at.unwrap_or(next_heartbeat);
        tokio::select! {
            changed = desired.changed() => {
                if changed.is_err() {
                    return;
                }
                dirty = true;
            }
            event = events.recv(), if events_open => {
                match event {
                    Some(e) => {
                        if pending.len() >= MAX_PENDING {
                            pending.pop_front();
                            health.dropped(1);
                        }
                        pending.push_back(e);
                    }
                    None => events_open = false,
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                if retry_at.is_none() {
                    dirty = true;
                }
                retry_at = None;
            }
        }
        if retry_at.is_some() {
            continue;
        }
        let mut failed: Option<String> = None;
        if dirty {
            let state = desired.borrow_and_update().clone();
            if state.is_empty() {
                dirty = false;
            } else {
                let patch = conditions_patch(&state, Timestamp::now());
                match nodes
                    .patch_status(&node, &PatchParams::default(), &Patch::Strategic(patch))
                    .await
                {
                    Ok(_) => {
                        dirty = false;
                        next_heartbeat = Instant::now() + options.heartbeat;
                        health.line();
                    }
                    Err(err) => failed = Some(format!("patch Node {node} status: {err}")),
                }
            }
        }
        if failed.is_none() {
            while let Some(event) = pending.front() {
                match write_event(&event_api, &node, event, &mut aggregated).await {
                    Ok(()) => {
                        pending.pop_front();
                    }
                    Err(err) => {
                        failed = Some(format!("create Event: {err}"));
                        break;
                    }
                }
            }
        }
        match failed {
            Some(detail) => {
                tracing::warn!(error = %detail, retry_in = ?backoff, "apiserver write failed; will write the latest state when it answers");
                health.error(detail);
                retry_at = Some(Instant::now() + backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            None => {
                if backoff > Duration::from_millis(200) {
                    tracing::info!("apiserver reachable again; state written");
                }
                backoff = Duration::from_millis(200);
                health.ok();
            }
        }
    }
}

async fn write_event(
    api: &Api<Event>,
    node: &str,
    event: &ProblemEvent,
    aggregated: &mut HashMap<(String, String, String), Aggregated>,
) -> Result<(), kube::Error> {
    let key = (
        event.source.clone(),
        event.reason.clone(),
        event.message.clone(),
    );
    let now = Timestamp::now();
    aggregated.retain(|_, a| now.duration_since(a.last) < SignedDuration::from_mins(10));
    if let Some(existing) = aggregated.get_mut(&key) {
        let count = existing.count + 1;
        let patch = serde_json::json!({
            "count": count,
            "lastTimestamp": event.time.round(jiff::Unit::Second).unwrap_or(event.time).to_string(),
        });
        match api
            .patch(
                &existing.name,
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
        {
            Ok(_) => {
                existing.count = count;
                existing.last = now;
                return Ok(());
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                aggregated.remove(&key);
            }
            Err(err) => return Err(err),
        }
    }
    let time = event.time.round(jiff::Unit::Second).unwrap_or(event.time);
    let name = format!("{node}.{:x}", now.as_nanosecond());
    let body: Event = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "involvedObject": {"kind": "Node", "name": node, "uid": node},
        "reason": event.reason,
        "message": event.message,
        "type": match event.severity { Severity::Warn => "Warning", Severity::Info => "Normal" },
        "source": {"component": event.source, "host": node},
        "firstTimestamp": time.to_string(),
        "lastTimestamp": time.to_string(),
        "count": 1,
        "reportingComponent": "kubemedic-agent",
        "reportingInstance": node,
    }))
    .map_err(kube::Error::SerdeError)?;
    api.create(&PostParams::default(), &body).await?;
    aggregated.insert(
        key,
        Aggregated {
            name,
            count: 1,
            last: now,
        },
    );
    Ok(())
}
