//! Lookups built once per pass so that analysers never scan the whole snapshot per object.

use crate::util::FxMap;
use jiff::Timestamp;
use kubemedic_model::objects::{Event, Node, Pod};
use kubemedic_model::{ContainerLogs, ContainerRef, Snapshot};

/// Key of an event's involved object: kind, namespace ("" for cluster-scoped), name.
type ObjKey<'a> = (&'a str, &'a str, &'a str);

/// Read-only view of the snapshot with indexes; shared by all analysers.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    /// The snapshot.
    pub snap: &'a Snapshot,
    /// Reference "now": `taken_at`, else the newest timestamp seen in events.
    pub now: Option<Timestamp>,
    /// Events by a hash of their involved object; buckets keep the full key so a hash
    /// collision cannot mix objects up (lookups with short-lived keys need no allocation).
    events: FxMap<u64, Vec<(ObjKey<'a>, Vec<&'a Event>)>>,
    /// Nodes by name.
    pub nodes: FxMap<&'a str, &'a Node>,
    /// Pods by node name (pods without a node are not listed).
    pub pods_by_node: FxMap<&'a str, Vec<&'a Pod>>,
    /// ReplicaSet (namespace, name) -> owning Deployment name.
    rs_owner: FxMap<(&'a str, &'a str), &'a str>,
    /// Whether any event in the snapshot comes from a scheduler (FailedScheduling/Scheduled).
    pub scheduler_seen: bool,
    /// Whether the snapshot carries any events at all.
    pub has_events: bool,
}

impl<'a> Ctx<'a> {
    /// Builds the indexes in one pass over events, nodes, pods and replica sets.
    pub fn new(snap: &'a Snapshot) -> Self {
        let mut events: FxMap<u64, Vec<(ObjKey<'a>, Vec<&'a Event>)>> = FxMap::default();
        let mut newest: Option<Timestamp> = None;
        let mut scheduler_seen = false;
        for ev in &snap.events {
            let io = &ev.involved_object;
            let key = (
                io.kind.as_deref().unwrap_or(""),
                io.namespace.as_deref().unwrap_or(""),
                io.name.as_deref().unwrap_or(""),
            );
            let bucket = events.entry(key_hash(key.0, key.1, key.2)).or_default();
            match bucket.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(ev),
                None => bucket.push((key, vec![ev])),
            }
            if let Some(t) = event_time(ev) {
                newest = Some(newest.map_or(t, |n: Timestamp| n.max(t)));
            }
            if matches!(ev.reason.as_deref(), Some("FailedScheduling" | "Scheduled")) {
                scheduler_seen = true;
            }
        }
        // Newest first, so evidence quotes the latest occurrence.
        for bucket in events.values_mut() {
            for (_, list) in bucket {
                list.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
            }
        }
        let nodes = snap
            .nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref().map(|name| (name, n)))
            .collect();
        let mut pods_by_node: FxMap<&str, Vec<&Pod>> = FxMap::default();
        for pod in &snap.pods {
            if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                pods_by_node.entry(node).or_default().push(pod);
            }
        }
        let mut rs_owner = FxMap::default();
        for rs in &snap.replica_sets {
            let (Some(ns), Some(name)) = (
                rs.metadata.namespace.as_deref(),
                rs.metadata.name.as_deref(),
            ) else {
                continue;
            };
            if let Some(owner) = rs
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.kind == "Deployment")
            {
                rs_owner.insert((ns, name), owner.name.as_str());
            }
        }
        Ctx {
            snap,
            now: snap.taken_at.or(newest),
            has_events: !snap.events.is_empty(),
            events,
            nodes,
            pods_by_node,
            rs_owner,
            scheduler_seen,
        }
    }

    /// Events about one object, newest first.
    pub fn events(&self, kind: &str, namespace: &str, name: &str) -> &[&'a Event] {
        self.events
            .get(&key_hash(kind, namespace, name))
            .and_then(|b| b.iter().find(|(k, _)| *k == (kind, namespace, name)))
            .map(|(_, l)| l.as_slice())
            .unwrap_or(&[])
    }

    /// Events about a node (kubelet and NPD record them with or without a namespace).
    pub fn node_events(&self, name: &str) -> impl Iterator<Item = &'a Event> + '_ {
        self.events("Node", "", name)
            .iter()
            .chain(self.events("Node", "default", name).iter())
            .copied()
    }

    /// Logs of one container, if collected.
    pub fn logs(&self, namespace: &str, pod: &str, container: &str) -> Option<&'a ContainerLogs> {
        // BTreeMap lookup needs an owned key; this runs only for failing containers.
        self.snap
            .container_logs
            .get(&ContainerRef::new(namespace, pod, container))
    }

    /// The workload (kind, name) that owns a pod, through ReplicaSets to Deployments.
    pub fn workload_of(&self, pod: &'a Pod) -> Option<(&'static str, &'a str)> {
        let ns = pod.metadata.namespace.as_deref()?;
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .or_else(|| pod.metadata.owner_references.iter().flatten().next())?;
        match owner.kind.as_str() {
            "ReplicaSet" => match self.rs_owner.get(&(ns, owner.name.as_str())) {
                Some(deploy) => Some(("Deployment", deploy)),
                None => deployment_from_rs_name(&owner.name)
                    .map(|d| ("Deployment", d))
                    .or(Some(("ReplicaSet", owner.name.as_str()))),
            },
            "StatefulSet" => Some(("StatefulSet", owner.name.as_str())),
            "DaemonSet" => Some(("DaemonSet", owner.name.as_str())),
            "Job" => Some(("Job", owner.name.as_str())),
            "ReplicationController" => Some(("ReplicationController", owner.name.as_str())),
            _ => None,
        }
    }

    /// Seconds from `t` to now, when both are known.
    pub fn age_secs(&self, t: Option<Timestamp>) -> Option<i64> {
        let (now, t) = (self.now?, t?);
        Some(now.as_second() - t.as_second())
    }
}

fn key_hash(kind: &str, namespace: &str, name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::util::FxHasher::default();
    (kind, namespace, name).hash(&mut h);
    h.finish()
}

/// A ReplicaSet created by a Deployment is named `<deployment>-<pod-template-hash>`; used when
/// the dump lacks replicasets.json.
fn deployment_from_rs_name(rs: &str) -> Option<&str> {
    let (base, hash) = rs.rsplit_once('-')?;
    let looks_like_hash = (6..=10).contains(&hash.len())
        && hash
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (looks_like_hash && !base.is_empty()).then_some(base)
}

/// When an event last happened (core/v1 or converted events.k8s.io/v1).
pub(crate) fn event_time(ev: &Event) -> Option<Timestamp> {
    ev.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| ev.event_time.as_ref().map(|t| t.0))
        .or_else(|| {
            ev.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
        })
        .or_else(|| ev.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| ev.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// How often an event happened (`count`, or the series count).
pub(crate) fn event_count(ev: &Event) -> i32 {
    ev.series
        .as_ref()
        .and_then(|s| s.count)
        .or(ev.count)
        .unwrap_or(1)
        .max(1)
}
