//! Events in either API: core/v1 (what the analysers read) and events.k8s.io/v1 (what newer
//! controllers and `kube::runtime::events::Recorder` write), converted to core/v1.

use kubemedic_model::objects::events_v1::{Event as EventV1, EventSeries as EventSeriesV1};
use kubemedic_model::objects::{
    CompactString, Event, EventSeries, EventSource, MicroTime, ObjectMeta, ObjectReference, Time,
    meta,
};
use serde::Deserialize;

/// Maps an events.k8s.io/v1 Event onto core/v1 fields (`regarding` → `involvedObject`,
/// `note` → `message`, series count → `count`, newest observation → `lastTimestamp`).
pub fn events_v1_to_core(e: EventV1) -> Event {
    let count = e
        .series
        .as_ref()
        .map(|s| s.count)
        .or(e.deprecated_count)
        .or(Some(1));
    let event_time_as_time = e.event_time.as_ref().map(|t| Time(t.0));
    let last = e
        .series
        .as_ref()
        .map(|s| Time(s.last_observed_time.0))
        .or_else(|| e.deprecated_last_timestamp.clone())
        .or_else(|| event_time_as_time.clone());
    let first = e
        .deprecated_first_timestamp
        .clone()
        .or_else(|| event_time_as_time.clone());
    let source = e.deprecated_source.clone().or_else(|| {
        e.reporting_controller.as_ref().map(|c| EventSource {
            component: Some(c.clone()),
            host: e.reporting_instance.clone(),
        })
    });
    Event {
        action: e.action,
        count,
        event_time: e.event_time,
        first_timestamp: first,
        involved_object: e.regarding.unwrap_or_default(),
        last_timestamp: last,
        message: e.note,
        metadata: e.metadata,
        reason: e.reason,
        reporting_component: e.reporting_controller,
        reporting_instance: e.reporting_instance,
        series: e.series.map(|s| EventSeries {
            count: Some(s.count),
            last_observed_time: Some(s.last_observed_time),
        }),
        source,
        type_: e.type_,
    }
}

/// One item of an events list whose API is known only per item: `kubectl get events -o json`
/// writes core/v1 items, `kubectl get events.v1.events.k8s.io -o json` writes events.k8s.io/v1
/// items inside a list whose own `apiVersion` is plain `v1`. Holds the fields of both; which
/// ones are set says which API it came from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventItem {
    api_version: Option<CompactString>,
    // Both APIs.
    action: Option<CompactString>,
    event_time: Option<MicroTime>,
    #[serde(default, deserialize_with = "meta::deserialize_without_annotations")]
    metadata: ObjectMeta,
    reason: Option<CompactString>,
    reporting_instance: Option<CompactString>,
    #[serde(rename = "type")]
    type_: Option<CompactString>,
    series: Option<AnySeries>,
    // core/v1 only.
    count: Option<i32>,
    first_timestamp: Option<Time>,
    involved_object: Option<ObjectReference>,
    last_timestamp: Option<Time>,
    message: Option<CompactString>,
    reporting_component: Option<CompactString>,
    source: Option<EventSource>,
    // events.k8s.io/v1 only.
    deprecated_count: Option<i32>,
    deprecated_first_timestamp: Option<Time>,
    deprecated_last_timestamp: Option<Time>,
    deprecated_source: Option<EventSource>,
    note: Option<CompactString>,
    regarding: Option<ObjectReference>,
    reporting_controller: Option<CompactString>,
}

/// The series of either API (both spell `count` and `lastObservedTime` the same).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnySeries {
    count: Option<i32>,
    last_observed_time: Option<MicroTime>,
}

impl EventItem {
    /// The metadata (for name checks and namespace filling by the loaders).
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    /// Whether this item is an events.k8s.io Event: its own `apiVersion` says so, or the list's
    /// does (`list_is_v1`), or it has the new API's fields and none of the old one's.
    pub fn is_events_v1(&self, list_is_v1: bool) -> bool {
        if let Some(v) = &self.api_version {
            return v.starts_with("events.k8s.io/");
        }
        list_is_v1
            || (self.involved_object.is_none()
                && (self.regarding.is_some()
                    || self.note.is_some()
                    || self.reporting_controller.is_some()))
    }

    /// The core/v1 form.
    pub fn into_core(self, list_is_v1: bool) -> Event {
        if self.is_events_v1(list_is_v1) {
            return events_v1_to_core(EventV1 {
                action: self.action,
                deprecated_count: self.deprecated_count,
                deprecated_first_timestamp: self.deprecated_first_timestamp,
                deprecated_last_timestamp: self.deprecated_last_timestamp,
                deprecated_source: self.deprecated_source,
                event_time: self.event_time,
                metadata: self.metadata,
                note: self.note,
                reason: self.reason,
                regarding: self.regarding,
                reporting_controller: self.reporting_controller,
                reporting_instance: self.reporting_instance,
                series: self.series.and_then(|s| {
                    Some(EventSeriesV1 {
                        count: s.count.unwrap_or(1),
                        last_observed_time: s.last_observed_time?,
                    })
                }),
                type_: self.type_,
            });
        }
        Event {
            action: self.action,
            count: self.count,
            event_time: self.event_time,
            first_timestamp: self.first_timestamp,
            involved_object: self.involved_object.unwrap_or_default(),
            last_timestamp: self.last_timestamp,
            message: self.message,
            metadata: self.metadata,
            reason: self.reason,
            reporting_component: self.reporting_component,
            reporting_instance: self.reporting_instance,
            series: self.series.map(|s| EventSeries {
                count: s.count,
                last_observed_time: s.last_observed_time,
            }),
            source: self.source,
            type_: self.type_,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_of_either_api_in_one_plain_v1_list() {
        let core: EventItem = serde_json::from_value(json!({
            "metadata": {"name": "a.1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": "a", "namespace": "shop"},
            "reason": "BackOff", "message": "Back-off restarting failed container", "count": 5,
            "lastTimestamp": "2026-11-30T21:40:22Z"}))
        .unwrap();
        assert!(!core.is_events_v1(false));
        let e = core.into_core(false);
        assert_eq!(e.count, Some(5));
        assert_eq!(e.involved_object.name.as_deref(), Some("a"));

        // As `kubectl get events.v1.events.k8s.io -o json` prints it: apiVersion on the item.
        let v1: EventItem = serde_json::from_value(json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "a.2", "namespace": "shop"},
            "regarding": {"kind": "Pod", "name": "a", "namespace": "shop"},
            "reason": "Scheduled", "note": "Successfully assigned shop/a to kwok-node-1",
            "eventTime": "2026-11-30T21:40:22.102028Z", "reportingController": "default-scheduler",
            "deprecatedSource": {}}))
        .unwrap();
        assert!(v1.is_events_v1(false));
        let e = v1.into_core(false);
        assert_eq!(e.involved_object.name.as_deref(), Some("a"));
        assert_eq!(
            e.message.as_deref(),
            Some("Successfully assigned shop/a to kwok-node-1")
        );
        assert!(
            e.last_timestamp.is_some(),
            "eventTime stands in for lastTimestamp"
        );
    }
}
