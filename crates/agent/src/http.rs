//! HTTP endpoints: `/healthz`, `/conditions`, `/facts`, `/metrics`, `/logs/<source>`, and
//! `/probes` when the network prober runs.
//!
//! The same router is served on every listening address (NPD's healthz port 20256 and its
//! Prometheus port 20257), so scrapers and probes configured for NPD keep working.

use crate::health::HealthRegistry;
use crate::metrics::AgentCollector;
use crate::state::AgentState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use kubemedic_model::NodeLogSource;
use kubemedic_probe::ProbeHandle;
use kubemedic_probe::server::ProbeCollector;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Clone)]
struct App {
    state: AgentState,
    health: HealthRegistry,
    registry: Arc<Registry>,
    probes: Option<ProbeHandle>,
}

impl App {
    fn new(state: AgentState, health: HealthRegistry, probes: Option<ProbeHandle>) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(AgentCollector::new(state.clone(), health.clone())));
        if let Some(p) = &probes {
            registry.register_collector(Box::new(ProbeCollector(p.clone())));
        }
        Self {
            state,
            health,
            registry: Arc::new(registry),
            probes,
        }
    }
}

/// Builds the router.
pub fn router(state: AgentState, health: HealthRegistry) -> Router {
    router_with_probes(state, health, None)
}

/// Builds the router; with a prober, `/probes` answers, `/facts` carries its results and
/// `/metrics` its series.
pub fn router_with_probes(
    state: AgentState,
    health: HealthRegistry,
    probes: Option<ProbeHandle>,
) -> Router {
    let app = App::new(state, health, probes);
    Router::new()
        .route("/probes", get(probes_json))
        .route("/healthz", get(healthz))
        .route("/conditions", get(conditions))
        .route("/facts", get(facts))
        .route("/metrics", get(metrics))
        .route("/logs/{source}", get(logs))
        .with_state(app)
}

/// `/metrics` and `/healthz` alone: what the probe endpoint exposes on the pod network (node
/// logs and facts stay on the agent's own addresses).
pub fn metrics_router(
    state: AgentState,
    health: HealthRegistry,
    probes: Option<ProbeHandle>,
) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(App::new(state, health, probes))
}

async fn probes_json(State(app): State<App>) -> Response {
    match &app.probes {
        Some(p) => Json(p.facts()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "the network prober is not running (start the agent with --probes)\n",
        )
            .into_response(),
    }
}

async fn healthz(State(app): State<App>) -> Response {
    let dead = app.health.dead();
    let body = serde_json::json!({
        "status": if dead.is_empty() { "ok" } else { "unhealthy" },
        "dead": dead,
        "degraded": app.health.degraded(),
        "sources": app.health.reports(),
    });
    let code = if dead.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn conditions(State(app): State<App>) -> Response {
    let node = app.state.read(|s| s.node.clone());
    Json(serde_json::json!({"node": node, "conditions": app.state.conditions()})).into_response()
}

async fn facts(State(app): State<App>) -> Response {
    let mut facts = app.state.read(|s| s.facts.clone());
    facts.probes = app.probes.as_ref().map(ProbeHandle::facts);
    Json(facts).into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &app.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// Query of `/logs/<source>`.
#[derive(Debug, Deserialize)]
struct LogsQuery {
    /// Lines from the end; all kept lines when absent.
    tail: Option<usize>,
}

async fn logs(
    State(app): State<App>,
    Path(source): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Response {
    let Ok(source) = source.parse::<NodeLogSource>() else {
        let valid: Vec<&str> = NodeLogSource::ALL.iter().map(|s| s.as_str()).collect();
        return (
            StatusCode::NOT_FOUND,
            format!(
                "unknown node log source {source:?}; valid sources: {}\n",
                valid.join(", ")
            ),
        )
            .into_response();
    };
    let mut body = String::new();
    for line in app.state.logs().tail(source, query.tail) {
        body.push_str(&line);
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
