//! Diagnosis with memory: what the archive remembers, merged into a snapshot of what the
//! cluster still holds. Events past the apiserver's TTL come back as core/v1 Events (with their
//! original times and counts); a container whose previous logs the cluster no longer serves gets
//! the ones captured at its last crash.

use crate::record::{ArchivedEvent, CrashRecord, Origin};
use kubemedic_model::objects::{Event, EventSource, ObjectMeta, ObjectReference, Time};
use kubemedic_model::{ContainerRef, Snapshot};
use std::collections::{BTreeMap, HashSet};

/// What a merge added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Events the cluster no longer holds, added from the archive.
    pub events_added: usize,
    /// Containers given previous logs from the archive.
    pub logs_added: usize,
}

/// The core/v1 Event an archived event stands for.
pub fn to_core_event(e: &ArchivedEvent) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(format!("archived.{}", e.uid)),
            namespace: (!e.object.namespace.is_empty()).then(|| e.object.namespace.clone()),
            uid: Some(e.uid.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: Some(e.object.kind.as_str().into()),
            namespace: (!e.object.namespace.is_empty()).then(|| e.object.namespace.as_str().into()),
            name: Some(e.object.name.as_str().into()),
            uid: e.object.uid.as_deref().map(Into::into),
            ..Default::default()
        },
        reason: Some(e.reason.as_str().into()),
        message: Some(e.message.as_str().into()),
        type_: Some(e.type_.as_str().into()),
        count: Some(i32::try_from(e.count).unwrap_or(i32::MAX)),
        first_timestamp: Some(Time(e.first_timestamp)),
        last_timestamp: Some(Time(e.last_timestamp)),
        source: Some(EventSource {
            component: (!e.source.component.is_empty()).then(|| e.source.component.as_str().into()),
            host: (!e.source.host.is_empty()).then(|| e.source.host.as_str().into()),
        }),
        reporting_component: (!e.source.component.is_empty())
            .then(|| e.source.component.as_str().into()),
        ..Default::default()
    }
}

/// Adds archived events the snapshot lacks (by uid; only Kubernetes Events, not kubemedic's
/// own timeline records) and, for containers without previous logs, the logs of their newest
/// archived crash.
pub fn merge(
    snapshot: &mut Snapshot,
    events: &[ArchivedEvent],
    crashes: &[CrashRecord],
) -> MergeStats {
    let mut stats = MergeStats::default();
    let live: HashSet<String> = snapshot
        .events
        .iter()
        .filter_map(|e| e.metadata.uid.clone())
        .collect();
    for e in events.iter().filter(|e| e.origin == Origin::Event) {
        if !live.contains(&e.uid) {
            snapshot.events.push(to_core_event(e));
            stats.events_added += 1;
        }
    }
    // Newest crash with logs per container.
    let mut newest: BTreeMap<ContainerRef, &CrashRecord> = BTreeMap::new();
    for c in crashes.iter().filter(|c| c.logs.is_some()) {
        let key = ContainerRef::new(&c.namespace, &c.pod, &c.container);
        match newest.get(&key) {
            Some(old) if old.time() >= c.time() => {}
            _ => {
                newest.insert(key, c);
            }
        }
    }
    for (key, c) in newest {
        let entry = snapshot.container_logs.entry(key).or_default();
        if entry.previous.is_none() {
            entry.previous = c.logs_text();
            stats.logs_added += 1;
        }
    }
    stats
}
