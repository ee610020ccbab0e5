//! The controller's one HTTP server (axum): health, metrics, and the archive and diagnosis API
//! that `kubemedic events`, `kubemedic crashes` and (later) the web UI read.
//!
//! - `GET /healthz`: 200 when every watch works and the store answers, else 503 with the problems;
//! - `GET /readyz`: 200 once every watch has its initial list; `GET /livez`: the process answers;
//! - `GET /metrics`: OpenMetrics text;
//! - `GET /api/v1/events?object=pod/NAME&namespace=&reason=&type=&since=&until=&grep=&limit=`;
//! - `GET /api/v1/events/follow?after=CURSOR&…`; `GET /api/v1/crashes?object=&namespace=&container=&since=&until=&grep=&limit=&logs=false`;
//! - `GET /api/v1/diagnose?namespace=`: findings from the watch cache plus the archive;
//! - `GET /api/v1/status`: leadership, cache and archive figures;
//! - `GET /api/v1/heal/plan`: the healing plan of the leader's last pass (forwarded to the leader);
//! - `GET /api/v1/heal/remediations`: every Remediation (runs in flight and finished).
//!
//! With a local SQLite archive only the Lease holder's file is written, so a replica that does
//! not lead forwards archive queries to the one that does.

use crate::cache::WatchCache;
use crate::metrics::Metrics;
use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kubemedic_archive::query::parse_time;
use kubemedic_archive::{CrashQuery, EventQuery, ObjectSelector, Store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Everything the handlers read.
#[derive(Clone)]
pub struct ApiState {
    /// The watch cache.
    pub cache: WatchCache,
    /// The archive.
    pub store: Arc<dyn Store>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Whether this replica leads.
    pub leader: watch::Receiver<bool>,
    /// Kubernetes client (finding the leader).
    pub client: Client,
    /// Lease namespace and name.
    pub lease: (String, String),
    /// Forward archive reads to the leader (local SQLite archive).
    pub forward_reads: bool,
    /// The port replicas listen on.
    pub port: u16,
    /// Whether the store answered at the last health check (updated by the pruner).
    pub store_ok: Arc<std::sync::Mutex<Result<(), String>>>,
    /// Healing's last pass (None: healing is off).
    pub heal: Option<Arc<crate::healing::HealShared>>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}

/// Builds the router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/livez", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/follow", get(follow))
        .route("/api/v1/crashes", get(crashes))
        .route("/api/v1/diagnose", get(diagnose))
        .route("/api/v1/status", get(status))
        .route("/api/v1/heal/plan", get(heal_plan))
        .route("/api/v1/heal/remediations", get(remediations))
        .with_state(state)
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
}

fn bad_request(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(ErrorBody { error: msg.into() }),
    )
        .into_response()
}

fn unavailable(msg: impl Into<String>) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(ErrorBody { error: msg.into() }),
    )
        .into_response()
}

async fn healthz(State(s): State<ApiState>) -> Response {
    let mut problems = s.cache.problems(Duration::from_secs(60));
    if let Err(e) = &*s.store_ok.lock().unwrap_or_else(|p| p.into_inner()) {
        problems.push(format!("archive: {e}"));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy:\n{}\n", problems.join("\n")),
        )
            .into_response()
    }
}

async fn readyz(State(s): State<ApiState>) -> Response {
    if s.cache.synced() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let p = s.cache.problems(Duration::MAX);
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{}\n", p.join("\n")),
        )
            .into_response()
    }
}

async fn metrics(State(s): State<ApiState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

/// Query parameters of the event endpoints (all optional).
#[derive(Debug, Default, Deserialize)]
pub struct EventParams {
    object: Option<String>,
    namespace: Option<String>,
    reason: Option<String>,
    #[serde(rename = "type")]
    type_: Option<String>,
    since: Option<String>,
    until: Option<String>,
    grep: Option<String>,
    limit: Option<usize>,
    cluster: Option<String>,
    after: Option<i64>,
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|x| !x.is_empty())
}

/// The filters both archive queries share, parsed: the object and the time window.
struct Scope {
    object: Option<ObjectSelector>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

fn scope(
    object: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> Result<Scope, String> {
    let now = Timestamp::now();
    let time = |t: Option<String>, what: &str| {
        nonempty(t)
            .map(|t| parse_time(&t, now))
            .transpose()
            .map_err(|e| format!("{what}: {e}"))
    };
    Ok(Scope {
        object: nonempty(object)
            .map(|o| o.parse::<ObjectSelector>())
            .transpose()
            .map_err(|e| e.to_string())?,
        since: time(since, "since")?,
        until: time(until, "until")?,
    })
}

fn event_query(p: EventParams) -> Result<EventQuery, String> {
    let Scope {
        object,
        since,
        until,
    } = scope(p.object, p.since, p.until)?;
    Ok(EventQuery {
        object,
        namespace: nonempty(p.namespace),
        reason: nonempty(p.reason),
        type_: nonempty(p.type_),
        since,
        until,
        grep: nonempty(p.grep),
        cluster: nonempty(p.cluster),
        after: p.after,
        limit: p.limit.unwrap_or(0),
    })
}

/// Query parameters of `/api/v1/crashes`.
#[derive(Debug, Default, Deserialize)]
pub struct CrashParams {
    object: Option<String>,
    namespace: Option<String>,
    container: Option<String>,
    since: Option<String>,
    until: Option<String>,
    grep: Option<String>,
    limit: Option<usize>,
    cluster: Option<String>,
    logs: Option<bool>,
}

fn crash_query(p: CrashParams) -> Result<CrashQuery, String> {
    let Scope {
        object,
        since,
        until,
    } = scope(p.object, p.since, p.until)?;
    Ok(CrashQuery {
        object,
        namespace: nonempty(p.namespace),
        container: nonempty(p.container),
        since,
        until,
        grep: nonempty(p.grep),
        cluster: nonempty(p.cluster),
        without_logs: p.logs == Some(false),
        limit: p.limit.unwrap_or(0),
    })
}

/// A crash as the API serves it: the record plus what its exit code means.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrashView {
    /// The archived crash.
    #[serde(flatten)]
    pub crash: kubemedic_archive::CrashRecord,
    /// One-line meaning of the exit code (and signal).
    pub exit_meaning: String,
}

/// The one-line meaning of an exit code.
pub fn exit_meaning(code: i32) -> String {
    let info = kubemedic_diagnose::catalog::exit_code(i64::from(code));
    info.title
}

/// Where the leader serves, when another replica leads.
async fn leader_url(s: &ApiState) -> Result<Option<String>, String> {
    if *s.leader.borrow() {
        return Ok(None);
    }
    let api: kube::Api<Lease> = kube::Api::namespaced(s.client.clone(), &s.lease.0);
    let lease = api
        .get(&s.lease.1)
        .await
        .map_err(|e| format!("reading Lease {}/{}: {e}", s.lease.0, s.lease.1))?;
    let holder = lease
        .spec
        .and_then(|sp| sp.holder_identity)
        .ok_or_else(|| "no replica holds the Lease yet".to_string())?;
    let pod = s
        .cache
        .pods
        .get(Some(&s.lease.0), &holder)
        .ok_or_else(|| format!("the Lease holder {holder} is not a pod in {}", s.lease.0))?;
    let ip = pod
        .status
        .as_ref()
        .and_then(|st| st.pod_ip.clone())
        .ok_or_else(|| format!("the Lease holder {holder} has no pod IP yet"))?;
    Ok(Some(format!("http://{ip}:{}", s.port)))
}

/// Forwards an archive read to the leader when this replica's local file is not the archive.
async fn forward(s: &ApiState, uri: &Uri) -> Option<Response> {
    if !s.forward_reads {
        return None;
    }
    forward_to_leader(s, uri).await
}

/// Forwards a read to the leader unless this replica leads.
async fn forward_to_leader(s: &ApiState, uri: &Uri) -> Option<Response> {
    match leader_url(s).await {
        Ok(None) => None,
        Ok(Some(base)) => {
            let url = format!(
                "{base}{}",
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            );
            crate::install_crypto_provider();
            let client = reqwest::Client::new();
            match client
                .get(&url)
                .timeout(Duration::from_secs(60))
                .send()
                .await
            {
                Ok(resp) => {
                    let status = StatusCode::from_u16(resp.status().as_u16())
                        .unwrap_or(StatusCode::BAD_GATEWAY);
                    let body = resp.bytes().await.unwrap_or_default();
                    Some(
                        (status, [(header::CONTENT_TYPE, "application/json")], body)
                            .into_response(),
                    )
                }
                Err(e) => Some(unavailable(format!(
                    "forwarding to the leader at {base}: {e}"
                ))),
            }
        }
        Err(e) => Some(unavailable(format!(
            "this replica does not hold the archive and the leader cannot be found: {e}"
        ))),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, kubemedic_archive::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if matches!(e, kubemedic_archive::StoreError::Database { ref location, .. } if location == "query") => {
            Err(bad_request(e.to_string()))
        }
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Err(e) => Err(unavailable(e.to_string())),
    }
}

/// An archive read: forwarded to the leader when this replica's file is not the archive, else
/// the parsed query (a 400 when it did not parse) run on the store off the async threads.
async fn archive_read<Q: Send + 'static, T: Send + 'static>(
    s: &ApiState,
    uri: &Uri,
    query: Result<Q, String>,
    read: fn(&dyn Store, &Q) -> Result<T, kubemedic_archive::StoreError>,
) -> Result<T, Response> {
    if let Some(r) = forward(s, uri).await {
        return Err(r);
    }
    let q = query.map_err(bad_request)?;
    let store = s.store.clone();
    blocking(move || read(store.as_ref(), &q)).await
}

async fn events(State(s): State<ApiState>, uri: Uri, Query(p): Query<EventParams>) -> Response {
    match archive_read(&s, &uri, event_query(p), |st, q| st.events(q)).await {
        Ok(events) => axum::Json(serde_json::json!({ "events": events })).into_response(),
        Err(r) => r,
    }
}

async fn follow(State(s): State<ApiState>, uri: Uri, Query(p): Query<EventParams>) -> Response {
    match archive_read(&s, &uri, event_query(p), |st, q| st.follow(q)).await {
        Ok(page) => axum::Json(page).into_response(),
        Err(r) => r,
    }
}

async fn crashes(State(s): State<ApiState>, uri: Uri, Query(p): Query<CrashParams>) -> Response {
    match archive_read(&s, &uri, crash_query(p), |st, q| st.crashes(q)).await {
        Ok(crashes) => {
            let views: Vec<CrashView> = crashes
                .into_iter()
                .map(|c| CrashView {
                    exit_meaning: exit_meaning(c.exit_code),
                    crash: c,
                })
                .collect();
            axum::Json(serde_json::json!({ "crashes": views })).into_response()
        }
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct DiagnoseParams {
    namespace: Option<String>,
}

async fn diagnose(
    State(s): State<ApiState>,
    RawQuery(_): RawQuery,
    Query(p): Query<DiagnoseParams>,
) -> Response {
    if !s.cache.synced() {
        return unavailable("the watch cache is still loading");
    }
    let ns = nonempty(p.namespace);
    let mut snapshot = s.cache.snapshot(ns.as_deref());
    // Memory: what the archive holds for the last week of this scope.
    let store = s.store.clone();
    let since = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * 7))
        .ok();
    let eq = EventQuery {
        namespace: ns.clone(),
        since,
        limit: 100_000,
        ..Default::default()
    };
    let cq = CrashQuery {
        namespace: ns,
        since,
        limit: 10_000,
        ..Default::default()
    };
    let archived = tokio::task::spawn_blocking(move || {
        Ok::<_, kubemedic_archive::StoreError>((store.events(&eq)?, store.crashes(&cq)?))
    })
    .await;
    if let Ok(Ok((events, crashes))) = archived {
        kubemedic_archive::memory::merge(&mut snapshot, &events, &crashes);
    }
    let report = tokio::task::spawn_blocking(move || kubemedic_diagnose::diagnose(&snapshot)).await;
    match report {
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => unavailable(e.to_string()),
    }
}

async fn heal_plan(State(s): State<ApiState>, uri: Uri) -> Response {
    let Some(heal) = &s.heal else {
        return unavailable("healing is off in this controller (--healing off)");
    };
    if let Some(r) = forward_to_leader(&s, &uri).await {
        return r;
    }
    match heal.plan_json() {
        Some(v) => axum::Json(v).into_response(),
        None => unavailable(
            "no healing pass yet (the watch cache is loading or the Lease was just taken)",
        ),
    }
}

async fn remediations(State(s): State<ApiState>) -> Response {
    let api: kube::Api<kubemedic_heal::Remediation> = kube::Api::all(s.client.clone());
    match api.list(&kube::api::ListParams::default()).await {
        Ok(list) => {
            let mut items = list.items;
            for r in &mut items {
                r.metadata.managed_fields = None;
            }
            axum::Json(serde_json::json!({ "remediations": items })).into_response()
        }
        Err(e) => unavailable(format!("listing remediations: {e}")),
    }
}

async fn status(State(s): State<ApiState>) -> Response {
    let store = s.store.clone();
    let stats = tokio::task::spawn_blocking(move || store.stats()).await;
    let archive = match stats {
        Ok(Ok(st)) => serde_json::to_value(st).unwrap_or_default(),
        Ok(Err(e)) => serde_json::json!({ "error": e.to_string() }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    axum::Json(serde_json::json!({
        "leader": *s.leader.borrow(),
        "healing": s.heal.is_some(),
        "cluster": s.store.cluster(),
        "store": s.store.describe(),
        "synced": s.cache.synced(),
        "cache": {
            "pods": s.cache.pods.len(),
            "nodes": s.cache.nodes.len(),
            "events": s.cache.events.read().map(|e| e.len()).unwrap_or(0),
        },
        "archive": archive,
    }))
    .into_response()
}
