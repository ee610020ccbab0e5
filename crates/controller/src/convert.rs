//! Pure conversions from Kubernetes objects to archive records: Events to occurrences, Node
//! condition changes to timeline records, container terminations to crash candidates.

use crate::objects::{CoreEvent, EventV1, Node, Pod};
use jiff::Timestamp;
use kubemedic_archive::{EventOccurrence, ObjectRef, Origin, WorkloadRef};

/// The API an event was read from.
pub const API_EVENTS_V1: &str = "events.k8s.io/v1";
/// The core API.
pub const API_CORE_V1: &str = "v1";

/// What both Event APIs say, read from each API's own field names.
struct EventFields {
    uid: String,
    created: Option<Timestamp>,
    event_time: Option<Timestamp>,
    count: Option<i64>,
    last_seen: Option<Timestamp>,
    first_seen: Option<Timestamp>,
    api: &'static str,
    object: ObjectRef,
    reason: Option<String>,
    type_: Option<String>,
    message: Option<String>,
    component: Option<String>,
    host: Option<String>,
}

impl EventFields {
    /// The occurrence at the current repeat count: missing times fall back to the event time,
    /// then the creation time, then `now`.
    fn into_occurrence(self, now: Timestamp) -> EventOccurrence {
        let time = self
            .last_seen
            .or(self.event_time)
            .or(self.created)
            .unwrap_or(now);
        let first_time = self
            .first_seen
            .or(self.event_time)
            .or(self.created)
            .unwrap_or(time);
        EventOccurrence {
            uid: self.uid,
            count: self.count.unwrap_or(1).max(1),
            time,
            first_time,
            origin: Origin::Event,
            api: self.api.to_string(),
            object: self.object,
            workload: None,
            reason: self.reason.unwrap_or_default(),
            type_: self.type_.unwrap_or_else(|| "Normal".to_string()),
            message: self.message.unwrap_or_default(),
            component: self.component.unwrap_or_default(),
            host: self.host.unwrap_or_default(),
        }
    }
}

/// An events.k8s.io/v1 Event as an occurrence at its current repeat count.
pub fn occurrence_from_v1(e: &EventV1, now: Timestamp) -> Option<EventOccurrence> {
    let r = e.regarding.clone().unwrap_or_default();
    let fields = EventFields {
        uid: e.metadata.uid.clone()?,
        created: e.metadata.creation_timestamp.as_ref().map(|t| t.0),
        event_time: e.event_time.as_ref().map(|t| t.0),
        count: e
            .series
            .as_ref()
            .map(|s| i64::from(s.count))
            .or(e.deprecated_count.map(i64::from)),
        last_seen: e
            .series
            .as_ref()
            .map(|s| s.last_observed_time.0)
            .or_else(|| e.deprecated_last_timestamp.as_ref().map(|t| t.0)),
        first_seen: e.deprecated_first_timestamp.as_ref().map(|t| t.0),
        api: API_EVENTS_V1,
        object: ObjectRef {
            kind: r.kind.map(String::from).unwrap_or_default(),
            namespace: r
                .namespace
                .map(String::from)
                .or_else(|| e.metadata.namespace.clone())
                .unwrap_or_default(),
            name: r.name.map(String::from).unwrap_or_default(),
            uid: r.uid.map(String::from),
        },
        reason: e.reason.as_deref().map(String::from),
        type_: e.type_.as_deref().map(String::from),
        message: e.note.as_deref().map(String::from),
        component: e
            .reporting_controller
            .clone()
            .or_else(|| {
                e.deprecated_source
                    .as_ref()
                    .and_then(|s| s.component.clone())
            })
            .map(String::from),
        host: e
            .deprecated_source
            .as_ref()
            .and_then(|s| s.host.clone())
            .or_else(|| e.reporting_instance.clone())
            .map(String::from),
    };
    Some(fields.into_occurrence(now))
}

/// A core/v1 Event as an occurrence at its current repeat count.
pub fn occurrence_from_core(e: &CoreEvent, now: Timestamp) -> Option<EventOccurrence> {
    let r = &e.involved_object;
    let fields = EventFields {
        uid: e.metadata.uid.clone()?,
        created: e.metadata.creation_timestamp.as_ref().map(|t| t.0),
        event_time: e.event_time.as_ref().map(|t| t.0),
        count: e
            .series
            .as_ref()
            .and_then(|s| s.count.map(i64::from))
            .or(e.count.map(i64::from)),
        last_seen: e
            .series
            .as_ref()
            .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
            .or_else(|| e.last_timestamp.as_ref().map(|t| t.0)),
        first_seen: e.first_timestamp.as_ref().map(|t| t.0),
        api: API_CORE_V1,
        object: ObjectRef {
            kind: r.kind.as_deref().unwrap_or_default().to_string(),
            namespace: r
                .namespace
                .as_deref()
                .map(String::from)
                .or_else(|| e.metadata.namespace.clone())
                .unwrap_or_default(),
            name: r.name.as_deref().unwrap_or_default().to_string(),
            uid: r.uid.as_deref().map(String::from),
        },
        reason: e.reason.as_deref().map(String::from),
        type_: e.type_.as_deref().map(String::from),
        message: e.message.as_deref().map(String::from),
        component: e
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .or_else(|| e.reporting_component.clone())
            .map(String::from),
        host: e
            .source
            .as_ref()
            .and_then(|s| s.host.clone())
            .or_else(|| e.reporting_instance.clone())
            .map(String::from),
    };
    Some(fields.into_occurrence(now))
}

/// The status of one Node condition as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionState {
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// lastTransitionTime, as the node reported it.
    pub since: Option<Timestamp>,
}

/// Whether a condition in this status is a problem (`Ready` is healthy when True, every other
/// condition, the agent's included, when False).
pub fn condition_is_problem(type_: &str, status: &str) -> bool {
    if type_ == "Ready" {
        status != "True"
    } else {
        status == "True"
    }
}

/// Timeline records for the conditions of `node` whose status changed since `seen` (which is
/// updated). A condition seen for the first time is recorded too: its uid is derived from the
/// transition time, so the same transition seen again after a restart is not stored twice.
pub fn node_condition_changes(
    node: &Node,
    seen: &mut std::collections::HashMap<String, ConditionState>,
    now: Timestamp,
) -> Vec<EventOccurrence> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .cloned()
        .unwrap_or_default();
    for c in conditions {
        let since = c.last_transition_time.as_ref().map(|t| t.0);
        let state = ConditionState {
            status: c.status.to_string(),
            since,
        };
        if seen.get(c.type_.as_str()) == Some(&state) {
            continue;
        }
        let previous = seen.insert(c.type_.to_string(), state);
        // A condition that only changed its transition time record is not news; a first sighting
        // of a healthy condition is not news either.
        let healthy = !condition_is_problem(&c.type_, &c.status);
        if previous.is_none() && healthy {
            continue;
        }
        if previous.as_ref().is_some_and(|p| p.status == c.status) {
            continue;
        }
        let at = since.unwrap_or(now);
        let reason = c.reason.as_deref().unwrap_or_default().to_string();
        let msg = c.message.as_deref().unwrap_or_default().to_string();
        let from = previous
            .map(|p| format!(" (was {})", p.status))
            .unwrap_or_default();
        out.push(EventOccurrence {
            uid: format!("node-condition/{name}/{}/{}", c.type_, at.as_second()),
            count: 1,
            time: at,
            first_time: at,
            origin: Origin::NodeCondition,
            api: "kubemedic".to_string(),
            object: ObjectRef {
                kind: "Node".to_string(),
                namespace: String::new(),
                name: name.clone(),
                uid: node.metadata.uid.clone(),
            },
            workload: None,
            reason: format!("{}{}", c.type_, c.status),
            type_: if healthy { "Normal" } else { "Warning" }.to_string(),
            message: format!(
                "condition {} is {}{from}{}{}",
                c.type_,
                c.status,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                },
                if msg.is_empty() {
                    String::new()
                } else {
                    format!(": {msg}")
                }
            ),
            component: "kubemedic-controller".to_string(),
            host: String::new(),
        });
    }
    out
}

/// A container termination worth capturing, found in a pod's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashCandidate {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Pod uid.
    pub pod_uid: String,
    /// Container name.
    pub container: String,
    /// Init container.
    pub init_container: bool,
    /// Stable identity of the ended instance.
    pub instance: String,
    /// Node.
    pub node: Option<String>,
    /// restartCount now.
    pub restart_count: i64,
    /// Exit code.
    pub exit_code: i32,
    /// Signal.
    pub signal: Option<i32>,
    /// Reason.
    pub reason: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// Start.
    pub started_at: Option<Timestamp>,
    /// End.
    pub finished_at: Option<Timestamp>,
    /// Whether the ended instance is the previous one (`lastState`, logs with `previous=true`)
    /// or the current one (`state.terminated` of a container that will not restart).
    pub previous: bool,
}

impl CrashCandidate {
    /// Whether the node's memory state explains it: an OOM kill (reason `OOMKilled`, the
    /// container's cgroup limit or the kernel's global OOM killer) or a SIGKILL (exit 137 with
    /// reason `Error` is how a node-level OOM kill often shows).
    pub fn may_be_oom(&self) -> bool {
        self.reason.as_deref() == Some("OOMKilled")
            || self.exit_code == 137
            || self.signal == Some(9)
    }

    /// The key the archive deduplicates on.
    pub fn key(&self) -> (String, String, String) {
        (
            self.pod_uid.clone(),
            self.container.clone(),
            self.instance.clone(),
        )
    }
}

/// Every container termination in `pod`'s status worth keeping: the previous instance of a
/// restarted container (any exit code: a container that should run forever exited), and the
/// current instance of a container that ended with a failure and will not be restarted.
pub fn crash_candidates(pod: &Pod) -> Vec<CrashCandidate> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let Some(uid) = pod.metadata.uid.clone() else {
        return Vec::new();
    };
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref().map(String::from));
    let mut out = Vec::new();
    let groups = [
        (status.init_container_statuses.as_ref(), true),
        (status.container_statuses.as_ref(), false),
    ];
    for (statuses, init) in groups {
        for cs in statuses.into_iter().flatten() {
            let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            let current = cs
                .state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .filter(|t| t.exit_code != 0 || t.reason.as_deref() == Some("OOMKilled"));
            for (t, previous) in [(last, true), (current, false)] {
                let Some(t) = t else { continue };
                let started_at = t.started_at.as_ref().map(|x| x.0);
                let finished_at = t.finished_at.as_ref().map(|x| x.0);
                // The instance: its end time, or (no times at all) the restart it preceded.
                let instance = match (finished_at, started_at) {
                    (Some(f), _) => format!("finished:{f}"),
                    (None, Some(s)) => format!("started:{s}"),
                    (None, None) => format!(
                        "restart:{}",
                        i64::from(cs.restart_count) - i64::from(previous)
                    ),
                };
                out.push(CrashCandidate {
                    namespace: namespace.clone(),
                    pod: name.clone(),
                    pod_uid: uid.clone(),
                    container: cs.name.to_string(),
                    init_container: init,
                    instance,
                    node: node.clone(),
                    restart_count: i64::from(cs.restart_count),
                    exit_code: t.exit_code,
                    signal: t.signal,
                    reason: t.reason.as_deref().map(String::from),
                    message: t.message.as_deref().map(String::from),
                    started_at,
                    finished_at,
                    previous,
                });
            }
        }
    }
    out
}

/// Finds the workload that owns a pod (or ReplicaSet / Job) through owner references, using
/// lookups into the watch cache.
pub fn owner_workload(
    owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    replica_set_owner: impl Fn(&str) -> Option<WorkloadRef>,
    job_owner: impl Fn(&str) -> Option<WorkloadRef>,
) -> Option<WorkloadRef> {
    let o = owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())?;
    match o.kind.as_str() {
        "ReplicaSet" => replica_set_owner(&o.name).or_else(|| {
            Some(WorkloadRef {
                kind: "ReplicaSet".into(),
                name: o.name.clone(),
            })
        }),
        "Job" => job_owner(&o.name).or_else(|| {
            Some(WorkloadRef {
                kind: "Job".into(),
                name: o.name.clone(),
            })
        }),
        "StatefulSet" | "DaemonSet" | "ReplicationController" | "Deployment" | "CronJob" => {
            Some(WorkloadRef {
                kind: o.kind.clone(),
                name: o.name.clone(),
            })
        }
        _ => None,
    }
}
