//! The endpoints other probers and people call: the check endpoint (kubenurse's
//! `/alwayshappy`, answering 200 and noting who called) and `/probes` (the results as JSON).

use crate::runner::{ORIGIN_HEADER, ORIGIN_NODE_HEADER, ProbeHandle};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

/// The check endpoint (at the configured path) and `/probes`.
pub fn router(handle: ProbeHandle) -> Router {
    let path = handle.config().check_path.clone();
    Router::new()
        .route(&path, get(check))
        .route("/probes", get(probes))
        .with_state(handle)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn check(State(handle): State<ProbeHandle>, headers: HeaderMap) -> StatusCode {
    handle.record_incoming(
        header(&headers, ORIGIN_HEADER),
        header(&headers, ORIGIN_NODE_HEADER),
    );
    StatusCode::OK
}

async fn probes(State(handle): State<ProbeHandle>) -> Response {
    Json(handle.facts()).into_response()
}

/// Exposes the prober's metrics through a prometheus-client registry.
#[derive(Debug)]
pub struct ProbeCollector(pub ProbeHandle);

impl Collector for ProbeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges = self.0.gauges();
        self.0.metrics().encode(&gauges, &mut encoder)
    }
}
