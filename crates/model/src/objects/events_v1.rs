//! events.k8s.io/v1 Event: what `kube::runtime::events::Recorder` and newer controllers write.
//! The loaders convert it to the core/v1 [`Event`](super::Event) the analysers read.

use super::{
    EventSource, MicroTime, NamespaceResourceScope, ObjectMeta, ObjectReference, Time, k8s_kind,
    meta, required,
};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// An events.k8s.io/v1 Event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// What was done.
    pub action: Option<CompactString>,
    /// core/v1 `count`, kept for compatibility.
    pub deprecated_count: Option<i32>,
    /// core/v1 `firstTimestamp`.
    pub deprecated_first_timestamp: Option<Time>,
    /// core/v1 `lastTimestamp`.
    pub deprecated_last_timestamp: Option<Time>,
    /// core/v1 `source`.
    pub deprecated_source: Option<EventSource>,
    /// When it first happened.
    pub event_time: Option<MicroTime>,
    /// Standard object metadata (slim, and without annotations: see [`meta`]).
    #[serde(default, deserialize_with = "meta::deserialize_without_annotations")]
    pub metadata: ObjectMeta,
    /// Human text.
    pub note: Option<CompactString>,
    /// Short reason.
    pub reason: Option<CompactString>,
    /// The object it is about.
    pub regarding: Option<ObjectReference>,
    /// Controller that emitted it.
    pub reporting_controller: Option<CompactString>,
    /// Instance of that controller.
    pub reporting_instance: Option<CompactString>,
    /// Repetitions.
    pub series: Option<EventSeries>,
    /// Normal or Warning.
    #[serde(rename = "type")]
    pub type_: Option<CompactString>,
}

k8s_kind!(Event, group: "events.k8s.io", version: "v1", api_version: "events.k8s.io/v1",
plural: "events", scope: NamespaceResourceScope, fields: {
    action => "action", deprecated_count => "deprecatedCount",
    deprecated_first_timestamp => "deprecatedFirstTimestamp",
    deprecated_last_timestamp => "deprecatedLastTimestamp",
    deprecated_source => "deprecatedSource", event_time => "eventTime",
    metadata => "metadata", note => "note", reason => "reason", regarding => "regarding",
    reporting_controller => "reportingController", reporting_instance => "reportingInstance",
    series => "series", type_ => "type",
});

/// Repetitions of an events.k8s.io/v1 Event.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSeries {
    /// Occurrences.
    #[serde(default, deserialize_with = "required")]
    pub count: i32,
    /// Last occurrence (required: a series without it is malformed).
    pub last_observed_time: MicroTime,
}
