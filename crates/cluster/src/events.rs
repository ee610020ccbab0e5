//! Converting events.k8s.io/v1 Events to the core/v1 form the analysers read.

use kubemedic_model::objects::events_v1::Event as EventV1;
use kubemedic_model::objects::{Event, EventSeries, EventSource, Time};

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
