//! What the archive keeps: event occurrences (one per repeat count of a Kubernetes Event, plus
//! node condition transitions and kubemedic's own actions on the same timeline) and container
//! crashes with their previous logs.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The object an event is about (`involvedObject` / `regarding`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Kind, e.g. `Pod`, `Node`, `Deployment`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID of the object when the event named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// The workload a pod or ReplicaSet belongs to (resolved by the controller at ingest time, so
/// `deploy/NAME` still finds the events of pods deleted long ago).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, `ReplicaSet` or `ReplicationController`.
    pub kind: String,
    /// Workload name (same namespace as the object).
    pub name: String,
}

/// Where a timeline record comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// A Kubernetes Event (events.k8s.io/v1 or core/v1).
    #[default]
    Event,
    /// A Node condition changed status (Ready, DiskPressure, the agent's conditions...).
    NodeCondition,
    /// Something kubemedic itself did (healing actions).
    Action,
}

impl Origin {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Event => "event",
            Origin::NodeCondition => "node-condition",
            Origin::Action => "action",
        }
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "event" => Ok(Origin::Event),
            "node-condition" => Ok(Origin::NodeCondition),
            "action" => Ok(Origin::Action),
            other => Err(format!(
                "unknown origin {other:?} (expected event, node-condition or action)"
            )),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation of a timeline record at one repeat count: the unit the archive stores.
///
/// A Kubernetes Event is updated in place as it repeats (count, series, lastTimestamp); every
/// distinct `(uid, count)` seen becomes one occurrence, so the history of repeats survives.
/// Writing the same `(uid, count)` twice is a no-op: that is what makes resuming and relisting
/// free of duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOccurrence {
    /// The Event's `metadata.uid` (synthetic and stable for node conditions and actions).
    pub uid: String,
    /// The repeat count this observation carries (1 for the first).
    pub count: i64,
    /// When this repeat happened (series.lastObservedTime, lastTimestamp, eventTime, creation).
    pub time: Timestamp,
    /// When the record first happened (firstTimestamp / eventTime / creation).
    pub first_time: Timestamp,
    /// What kind of record.
    pub origin: Origin,
    /// The API the record was read from (`events.k8s.io/v1`, `v1`, `kubemedic`).
    pub api: String,
    /// The object it is about.
    pub object: ObjectRef,
    /// The workload that object belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadRef>,
    /// Reason (`BackOff`, `NodeNotReady`, ...).
    pub reason: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Message / note.
    pub message: String,
    /// Reporting component (`kubelet`, `default-scheduler`, ...).
    #[serde(default)]
    pub component: String,
    /// Reporting host or instance.
    #[serde(default)]
    pub host: String,
}

/// One repeat of an archived event: its count and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    /// The count the Event carried.
    pub count: i64,
    /// When that repeat happened.
    pub time: Timestamp,
}

/// The reporting source of an archived event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSource {
    /// Reporting component.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub component: String,
    /// Reporting host or instance.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
}

/// An archived event as queries return it: the occurrences of one uid folded together.
///
/// JSON field names are a contract (`uid`, `count`, `times`): scripts and tests rely on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchivedEvent {
    /// The Event's uid.
    pub uid: String,
    /// The cluster it was archived from.
    pub cluster: String,
    /// What kind of record.
    pub origin: Origin,
    /// The API it was read from.
    pub api: String,
    /// The object it is about.
    pub object: ObjectRef,
    /// The workload that object belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadRef>,
    /// Reason.
    pub reason: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The newest message.
    pub message: String,
    /// Reporting component and host.
    pub source: EventSource,
    /// When it first happened.
    pub first_timestamp: Timestamp,
    /// The newest repeat's time.
    pub last_timestamp: Timestamp,
    /// The newest repeat count seen.
    pub count: i64,
    /// The time of every repeat the archive saw, oldest first.
    pub times: Vec<Timestamp>,
    /// Every repeat the archive saw with its count, oldest first (a gap in the counts means the
    /// apiserver aggregated repeats that were never visible as separate updates).
    pub repeats: Vec<Repeat>,
}

/// A container termination with the logs of the instance that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrashRecord {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Pod uid.
    pub pod_uid: String,
    /// Container name.
    pub container: String,
    /// Whether it is an init container.
    #[serde(default)]
    pub init_container: bool,
    /// The ended instance's container ID, or a stand-in (`finished:<time>`) when the status has none.
    pub instance: String,
    /// Node the pod ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The pod's workload, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadRef>,
    /// restartCount when the crash was seen.
    pub restart_count: i64,
    /// Exit code of the ended instance.
    pub exit_code: i32,
    /// Signal that ended it, when the status names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Termination reason (`Error`, `OOMKilled`, `Completed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Termination message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the ended instance started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// When the archive captured it.
    pub captured_at: Timestamp,
    /// The ended instance's logs (`/log?previous=true`), bounded; raw bytes, not necessarily UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lossy_bytes")]
    pub logs: Option<Vec<u8>>,
    /// Whether the logs were cut to the configured bound (the newest part is kept).
    #[serde(default)]
    pub logs_truncated: bool,
    /// Why there are no logs, when fetching them failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_error: Option<String>,
    /// The node's memory state from the agent's `/facts`, recorded for OOM kills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_memory: Option<serde_json::Value>,
}

impl CrashRecord {
    /// The time the crash is filed under: when it finished, else started, else captured.
    pub fn time(&self) -> Timestamp {
        self.finished_at
            .or(self.started_at)
            .unwrap_or(self.captured_at)
    }

    /// The logs as text (invalid UTF-8 replaced), if any.
    pub fn logs_text(&self) -> Option<String> {
        self.logs
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Logs travel as a JSON string: invalid UTF-8 is replaced (U+FFFD) on the way out.
mod lossy_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&String::from_utf8_lossy(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(String::into_bytes))
    }
}

/// Folds occurrences (any order, possibly of several uids) into archived events ordered by
/// their newest repeat; occurrences of one uid keep the newest message and fields.
pub fn fold_occurrences(cluster: &str, mut rows: Vec<EventOccurrence>) -> Vec<ArchivedEvent> {
    rows.sort_by(|a, b| {
        a.uid
            .cmp(&b.uid)
            .then(a.count.cmp(&b.count))
            .then(a.time.cmp(&b.time))
    });
    let mut out: Vec<ArchivedEvent> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(ev) if ev.uid == row.uid => {
                if ev.repeats.last().map(|r| r.count) == Some(row.count) {
                    continue;
                }
                ev.times.push(row.time);
                ev.repeats.push(Repeat {
                    count: row.count,
                    time: row.time,
                });
                ev.count = row.count;
                ev.last_timestamp = ev.last_timestamp.max(row.time);
                ev.first_timestamp = ev.first_timestamp.min(row.first_time);
                ev.message = row.message;
                ev.reason = row.reason;
                ev.type_ = row.type_;
                if row.workload.is_some() {
                    ev.workload = row.workload;
                }
            }
            _ => out.push(ArchivedEvent {
                uid: row.uid,
                cluster: cluster.to_string(),
                origin: row.origin,
                api: row.api,
                object: row.object,
                workload: row.workload,
                reason: row.reason,
                type_: row.type_,
                message: row.message,
                source: EventSource {
                    component: row.component,
                    host: row.host,
                },
                first_timestamp: row.first_time.min(row.time),
                last_timestamp: row.time,
                count: row.count,
                times: vec![row.time],
                repeats: vec![Repeat {
                    count: row.count,
                    time: row.time,
                }],
            }),
        }
    }
    out.sort_by(|a, b| {
        a.last_timestamp
            .cmp(&b.last_timestamp)
            .then(a.uid.cmp(&b.uid))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(uid: &str, count: i64, secs: i64, msg: &str) -> EventOccurrence {
        EventOccurrence {
            uid: uid.into(),
            count,
            time: Timestamp::from_second(secs).expect("valid"),
            first_time: Timestamp::from_second(100).expect("valid"),
            origin: Origin::Event,
            api: "events.k8s.io/v1".into(),
            object: ObjectRef {
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: "api-1".into(),
                uid: None,
            },
            workload: None,
            reason: "BackOff".into(),
            type_: "Warning".into(),
            message: msg.into(),
            component: "kubelet".into(),
            host: "node-1".into(),
        }
    }

    #[test]
    fn folding_keeps_every_repeat_and_the_newest_message() {
        let rows = vec![
            occ("b", 1, 150, "other"),
            occ("a", 3, 130, "third"),
            occ("a", 1, 100, "first"),
            occ("a", 2, 110, "second"),
            occ("a", 2, 110, "second again"),
        ];
        let evs = fold_occurrences("c1", rows);
        assert_eq!(evs.len(), 2);
        let a = &evs[0];
        assert_eq!(a.uid, "a");
        assert_eq!(a.count, 3);
        assert_eq!(a.times.len(), 3);
        assert_eq!(
            a.repeats.iter().map(|r| r.count).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(a.message, "third");
        assert_eq!(a.last_timestamp.as_second(), 130);
        assert_eq!(evs[1].uid, "b");
        let json = serde_json::to_value(a).expect("serializes");
        assert_eq!(json["uid"], "a");
        assert_eq!(json["count"], 3);
        assert_eq!(json["times"].as_array().map(Vec::len), Some(3));
        assert_eq!(json["type"], "Warning");
    }

    #[test]
    fn crash_logs_with_invalid_utf8_serialize_lossily() {
        let c = CrashRecord {
            namespace: "ns".into(),
            pod: "p".into(),
            pod_uid: "u".into(),
            container: "c".into(),
            init_container: false,
            instance: "containerd://x".into(),
            node: None,
            workload: None,
            restart_count: 1,
            exit_code: 2,
            signal: None,
            reason: Some("Error".into()),
            message: None,
            started_at: None,
            finished_at: None,
            captured_at: Timestamp::UNIX_EPOCH,
            logs: Some(b"panic: \xff\xfe boom".to_vec()),
            logs_truncated: false,
            logs_error: None,
            node_memory: None,
        };
        let json = serde_json::to_value(&c).expect("serializes");
        assert_eq!(json["exitCode"], 2);
        assert_eq!(json["logs"], "panic: \u{fffd}\u{fffd} boom");
    }
}
