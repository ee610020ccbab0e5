//! Loading a [`Snapshot`] from a live cluster through kube-rs.
//!
//! Everything is listed in parallel (paged, managedFields stripped); container logs are fetched
//! only for failing containers, tail-limited, with bounded concurrency; node facts come from the
//! kubemedic agents through the apiserver's pod proxy when agents run, and so do node logs (each
//! agent's `/logs/<source>`) and the network probers' results (each prober pod's `/probes`, into
//! the node's facts). Anything optional that
//! fails (RBAC, a missing agent, a log that is gone) becomes a [`SkippedInput`], not an error.
//!
//! Every request ends: clients made by [`cli_client_for`] bound each request (connect, send,
//! answer, the whole body) by a timeout, and every request in flight is tracked
//! ([`ClusterClients::in_flight`]) so that a caller that gives up on the whole load (its own
//! deadline around [`load_live`]) can say what the server never finished sending
//! ([`ClusterClients::gave_up`]). Errors name the server once and the failure once
//! ([`describe`]), never kube's and hyper's nested wrappers of the same cause.

use futures::{AsyncReadExt, StreamExt};
use kube::api::{Api, ListParams, LogParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource, ResourceExt};
use kubemedic_model::objects::{
    DaemonSet, Deployment, EndpointSlice, Endpoints, Event, Job, Node, PersistentVolume,
    PersistentVolumeClaim, Pod, ReplicaSet, ReplicationController, Service, StatefulSet,
};
use kubemedic_model::probes::ProbeFacts;
use kubemedic_model::snapshot::{container_logs_wanted, is_cluster_dns};
use kubemedic_model::{ContainerRef, NodeFacts, NodeLogSource, SkippedInput, Snapshot};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Reports what the loader is doing, one short line at a time.
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Label selector of the kubemedic agent pods unless told otherwise.
pub const DEFAULT_AGENT_SELECTOR: &str = "app.kubernetes.io/name=kubemedic-agent";
/// Port of the agents' HTTP server unless told otherwise (the agent's `--prometheus-port`).
pub const DEFAULT_AGENT_PORT: u16 = 20257;
/// Label selector of the prober DaemonSet's pods (the chart's `probe.enabled`) unless told
/// otherwise.
pub const DEFAULT_PROBER_SELECTOR: &str = "app.kubernetes.io/name=kubemedic-probe";
/// Port of the probers' check endpoint, which also serves `/probes` (the chart's `probe.port`).
pub const DEFAULT_PROBER_PORT: u16 = 20258;

/// How the kubemedic agents are found and asked for facts.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Label selector of the agent pods (all namespaces).
    pub selector: String,
    /// Port of the agent's HTTP server (`/facts`, `/logs/<source>`).
    pub port: u16,
    /// Lines asked for from the end of each node log (`/logs/<source>?tail=N`).
    pub log_tail_lines: usize,
    /// How long one agent request may take.
    pub request_timeout: Duration,
    /// Label selector of the network prober pods asked for `/probes` (the opt-in prober
    /// DaemonSet); `None` asks none.
    pub prober_selector: Option<String>,
    /// Port of the probers' check endpoint serving `/probes`.
    pub prober_port: u16,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            selector: DEFAULT_AGENT_SELECTOR.to_string(),
            port: DEFAULT_AGENT_PORT,
            log_tail_lines: 2_000,
            request_timeout: Duration::from_secs(10),
            prober_selector: Some(DEFAULT_PROBER_SELECTOR.to_string()),
            prober_port: DEFAULT_PROBER_PORT,
        }
    }
}

/// What to load and how much.
#[derive(Clone)]
pub struct LiveOptions {
    /// Namespace scope; `None` = all namespaces.
    pub namespace: Option<String>,
    /// Lines kept from the end of each container log.
    pub log_tail_lines: i64,
    /// Bytes kept from the end of each container log.
    pub log_limit_bytes: i64,
    /// Log requests in flight at once.
    pub log_concurrency: usize,
    /// Objects per list page.
    pub page_size: u32,
    /// Whether to fetch container logs at all.
    pub fetch_logs: bool,
    /// Agent discovery; `None` disables the facts and node log requests.
    pub agents: Option<AgentOptions>,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl Debug for LiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveOptions")
            .field("namespace", &self.namespace)
            .field("log_tail_lines", &self.log_tail_lines)
            .field("log_limit_bytes", &self.log_limit_bytes)
            .field("log_concurrency", &self.log_concurrency)
            .field("page_size", &self.page_size)
            .field("fetch_logs", &self.fetch_logs)
            .field("agents", &self.agents)
            .finish_non_exhaustive()
    }
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            log_tail_lines: 500,
            log_limit_bytes: 1 << 20,
            log_concurrency: 8,
            page_size: 500,
            fetch_logs: true,
            agents: Some(AgentOptions::default()),
            progress: None,
        }
    }
}

/// The cluster cannot be reached or the essential lists failed.
///
/// The variants carry the cause as text (see [`describe`]), not as a `source`: printed with its
/// chain, kube's error would repeat every wrapper of the same cause.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The kubeconfig could not be read or has no usable context.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The client could not be built.
    #[error("cannot create a Kubernetes client: {0}")]
    Client(String),
    /// The namespace asked for does not exist.
    #[error("namespace {0} does not exist in the cluster")]
    NamespaceNotFound(String),
    /// Listing pods failed: nothing worth diagnosing can be loaded.
    #[error("cannot list {what} from {server}: {reason}")]
    List {
        /// The resource.
        what: String,
        /// The apiserver's URL.
        server: String,
        /// Why, in one line.
        reason: String,
    },
    /// The caller's deadline for the whole load passed first.
    #[error("{}", deadline_message(server, *after, pending))]
    Deadline {
        /// The apiserver's URL.
        server: String,
        /// How long the load had.
        after: Duration,
        /// What was still being fetched.
        pending: Vec<String>,
    },
}

fn deadline_message(server: &str, after: Duration, pending: &[String]) -> String {
    let what = match pending {
        [] => {
            "the requests had all answered; the results were still being put together".to_string()
        }
        [one] => format!("still waiting for {one}"),
        [first, rest @ ..] if rest.len() > 4 => format!(
            "still waiting for {first}, {} and {} more requests",
            rest[..3].join(", "),
            rest.len() - 3
        ),
        [first, rest @ ..] => format!("still waiting for {first}, {}", rest.join(", ")),
    };
    format!(
        "gave up on {server} after {}: {what}",
        human_duration(after)
    )
}

/// `90 s`, `5 min`, `2 min 30 s`: how a person says a timeout.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if secs < 120 {
        format!("{secs} s")
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{} min {} s", secs / 60, secs % 60)
    }
}

/// One line for a request error: the wrappers kube, tower and hyper put around one cause
/// (`ServiceError: client error (Connect): ...`, each repeating its source) reduced to what
/// happened, e.g. `cannot connect: Connection refused (os error 111)`.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    // kube prints an apiserver Status as its message, its reason and then the whole struct
    // again in Debug form: the code, reason and message say it all.
    if let Some(kube::Error::Api(status)) = err.downcast_ref::<kube::Error>() {
        return short_status(status);
    }
    let mut chain: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let mut msg = e.to_string();
        for prefix in ["ServiceError: ", "HyperError: ", "hyper error: "] {
            while let Some(rest) = msg.strip_prefix(prefix) {
                msg = rest.to_string();
            }
        }
        // reqwest repeats the whole URL; the caller names the server already.
        if let Some(cut) = msg.find(" for url (") {
            msg.truncate(cut);
        }
        cur = e.source();
        // A wrapper whose text already holds its source's, or a source that repeats it.
        match chain.last_mut() {
            Some(last) if last.contains(msg.as_str()) => {}
            Some(last) if msg.contains(last.as_str()) => *last = msg,
            _ => chain.push(msg),
        }
    }
    let connect = chain
        .iter()
        .any(|m| m == "client error (Connect)" || m.starts_with("tcp connect error"));
    // hyper's generic wrappers say nothing the root cause does not.
    chain.retain(|m| {
        !matches!(
            m.as_str(),
            "client error (Connect)" | "client error (SendRequest)" | "tcp connect error"
        ) && m != "error sending request"
    });
    let text = if chain.is_empty() {
        err.to_string()
    } else {
        chain.join(": ")
    };
    if connect {
        format!("cannot connect: {text}")
    } else {
        text
    }
}

/// Longest status message kept in a one-line description; the rest is cut with `…`.
const STATUS_MESSAGE_MAX: usize = 160;

/// An apiserver Status in one line: `503 ServiceUnavailable: no endpoints available for service
/// "x"`. A reply that was no Status (a proxy's plain or HTML body) gets the HTTP reason phrase
/// and the body's first line. Only the message's first line is kept, at most
/// [`STATUS_MESSAGE_MAX`] characters.
pub fn short_status(status: &kube::core::Status) -> String {
    // kube reconstructs a Status from a body that was not one, with this reason.
    let reason = if status.reason.is_empty() || status.reason == "Failed to parse error data" {
        http::StatusCode::from_u16(status.code)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or("")
            .to_string()
    } else {
        status.reason.clone()
    };
    let mut message = status
        .message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string();
    if let Some((cut, _)) = message.char_indices().nth(STATUS_MESSAGE_MAX) {
        message.truncate(cut);
        message.push('…');
    }
    let head = match (status.code, reason.as_str()) {
        (0, "") => String::new(),
        (0, r) => r.to_string(),
        (c, "") => c.to_string(),
        (c, r) => format!("{c} {r}"),
    };
    match (head.is_empty(), message.is_empty()) {
        (true, true) => "the apiserver refused the request (empty Status)".to_string(),
        (true, false) => message,
        (false, true) => head,
        (false, false) => format!("{head}: {message}"),
    }
}

/// Builds a client from a kubeconfig file (or the default loading rules) and context; returns
/// the client and the context's default namespace. No request timeout: for long-running
/// processes whose watches stay open (the controller).
pub async fn client_for(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<ClusterClients, LiveError> {
    clients(kubeconfig, context, None).await
}

/// As [`client_for`], for commands that must end: every request (connect, send, the answer
/// and its whole body) is given at most `request_timeout`.
pub async fn cli_client_for(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    request_timeout: Duration,
) -> Result<ClusterClients, LiveError> {
    clients(kubeconfig, context, Some(request_timeout)).await
}

async fn clients(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    request_timeout: Option<Duration>,
) -> Result<ClusterClients, LiveError> {
    let opts = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| LiveError::Kubeconfig(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| LiveError::Kubeconfig(format!("{}: {e}", path.display())))?
        }
        None if context.is_some() => Config::from_kubeconfig(&opts)
            .await
            .map_err(|e| LiveError::Kubeconfig(e.to_string()))?,
        None => Config::infer()
            .await
            .map_err(|e| LiveError::Kubeconfig(e.to_string()))?,
    };
    let mut config = config;
    if let Some(t) = request_timeout {
        // The whole request (connect, send, answer, body) is bounded by `timed`, which also
        // catches a server that trickles a byte now and then; a socket read timeout would
        // only race it with a vaguer message.
        config.connect_timeout = Some(t.min(Duration::from_secs(10)));
    }
    let default_namespace = config.default_namespace.clone();
    let server = server_label(&config.cluster_url);
    let mut proxy_config = config.clone();
    proxy_config.default_retry = false;
    let client_error = |e: kube::Error| LiveError::Client(format!("{server}: {}", describe(&e)));
    Ok(ClusterClients {
        api: Client::try_from(config).map_err(client_error)?,
        proxy: Client::try_from(proxy_config).map_err(client_error)?,
        default_namespace,
        server: server.clone(),
        request_timeout,
        in_flight: InFlight::default(),
    })
}

/// The apiserver's URL as a person would type it (no trailing slash).
fn server_label(url: &http::Uri) -> String {
    url.to_string().trim_end_matches('/').to_string()
}

/// The requests in flight, by what they fetch, for the message of a caller that gives up.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    next: Arc<AtomicU64>,
    requests: Arc<Mutex<BTreeMap<u64, String>>>,
}

/// Removes its request from [`InFlight`] when the request ends (or is dropped unfinished).
struct Tracked {
    id: u64,
    requests: Arc<Mutex<BTreeMap<u64, String>>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Ok(mut r) = self.requests.lock() {
            r.remove(&self.id);
        }
    }
}

impl InFlight {
    fn track(&self, what: String) -> Tracked {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = self.requests.lock() {
            r.insert(id, what);
        }
        Tracked {
            id,
            requests: self.requests.clone(),
        }
    }

    /// What is being fetched right now, oldest request first.
    pub fn pending(&self) -> Vec<String> {
        self.requests
            .lock()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// The clients [`load_live`] talks to one cluster with.
#[derive(Clone)]
pub struct ClusterClients {
    /// Lists and logs; retries replies that mean "throttled, try again" (429, 503, 504).
    pub api: Client,
    /// Agent requests through the pod proxy, without retries: there a 503 means the agent is
    /// down, and retrying it with kube's default backoff would stall the load for minutes.
    pub proxy: Client,
    /// The kubeconfig context's namespace.
    pub default_namespace: String,
    /// The apiserver's URL, for messages.
    pub server: String,
    /// The bound on each request ([`cli_client_for`]); `None` for long-running processes.
    pub request_timeout: Option<Duration>,
    /// The requests of [`load_live`] in flight.
    pub in_flight: InFlight,
}

impl Debug for ClusterClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterClients")
            .field("default_namespace", &self.default_namespace)
            .field("server", &self.server)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl ClusterClients {
    /// The error for a caller whose deadline of `after` for the whole load passed: names the
    /// server and what it had not finished sending.
    pub fn gave_up(&self, after: Duration) -> LiveError {
        LiveError::Deadline {
            server: self.server.clone(),
            after,
            pending: self.in_flight.pending(),
        }
    }

    /// Runs one request: tracked as `what` while in flight, bounded by the request timeout,
    /// its error described in one line.
    async fn timed<T, E, F>(&self, what: String, request: F) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<T, E>>,
        E: std::error::Error + 'static,
    {
        let _tracked = self.in_flight.track(what);
        match self.request_timeout {
            Some(t) => match tokio::time::timeout(t, request).await {
                Ok(r) => r.map_err(|e| describe(&e)),
                Err(_) => Err(format!("no answer within {}", human_duration(t))),
            },
            None => request.await.map_err(|e| describe(&e)),
        }
    }
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Lists every object, page by page (`limit`/`continue`), each page parsed straight into the
/// slim type; `what` names the list in messages ("pods in all namespaces").
async fn list_all<K>(
    clients: &ClusterClients,
    api: Api<K>,
    page: u32,
    what: String,
) -> Result<Vec<K>, String>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for n in 1.. {
        let mut lp = ListParams::default().limit(page);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let label = if n == 1 {
            format!("the list of {what}")
        } else {
            format!("the list of {what} (page {n}, {} read)", out.len())
        };
        let list = clients.timed(label, api.list(&lp)).await?;
        // The slim types never materialise managedFields: nothing to strip here.
        out.extend(list.items);
        match list.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(out)
}

fn keep<T>(result: Result<Vec<T>, String>, what: &str, skipped: &mut Vec<SkippedInput>) -> Vec<T> {
    match result {
        Ok(v) => v,
        Err(reason) => {
            skipped.push(SkippedInput {
                input: format!("list {what}"),
                reason,
            });
            Vec::new()
        }
    }
}

/// Nothing namespaced was listed.
fn namespace_is_empty(s: &Snapshot) -> bool {
    s.pods.is_empty()
        && s.events.is_empty()
        && s.services.is_empty()
        && s.endpoints.is_empty()
        && s.persistent_volume_claims.is_empty()
        && s.deployments.is_empty()
        && s.replica_sets.is_empty()
        && s.daemon_sets.is_empty()
        && s.stateful_sets.is_empty()
        && s.jobs.is_empty()
        && s.replication_controllers.is_empty()
}

/// Loads a snapshot from the cluster `client` talks to.
pub async fn load_live(
    clients: &ClusterClients,
    opts: &LiveOptions,
) -> Result<Snapshot, LiveError> {
    let client = &clients.api;
    let progress = |msg: &str| {
        if let Some(p) = &opts.progress {
            p(msg)
        }
    };
    let ns = opts.namespace.as_deref();
    let page = opts.page_size;
    let scope = match ns {
        Some(ns) => format!("in namespace {ns}"),
        None => "in all namespaces".to_string(),
    };
    let scoped = |kind: &str| format!("{kind} {scope}");
    let c = clients;
    progress("listing nodes, pods, events, services and workloads");
    // Every kind at once; namespaced kinds in the scope the options give.
    macro_rules! namespaced {
        ($kind:ty, $name:literal) => {
            list_all(c, api::<$kind>(client, ns), page, scoped($name))
        };
    }
    let (
        (nodes, pods, events, services, endpoints, slices, pvcs),
        (pvs, deps, rss, dss, stss, jobs, rcs),
    ) = futures::join!(
        async {
            futures::join!(
                list_all(c, Api::<Node>::all(client.clone()), page, "nodes".into()),
                namespaced!(Pod, "pods"),
                namespaced!(Event, "events"),
                namespaced!(Service, "services"),
                namespaced!(Endpoints, "endpoints"),
                namespaced!(EndpointSlice, "endpointslices"),
                namespaced!(PersistentVolumeClaim, "persistentvolumeclaims"),
            )
        },
        async {
            futures::join!(
                list_all(
                    c,
                    Api::<PersistentVolume>::all(client.clone()),
                    page,
                    "persistentvolumes".into()
                ),
                namespaced!(Deployment, "deployments"),
                namespaced!(ReplicaSet, "replicasets"),
                namespaced!(DaemonSet, "daemonsets"),
                namespaced!(StatefulSet, "statefulsets"),
                namespaced!(Job, "jobs"),
                namespaced!(ReplicationController, "replicationcontrollers"),
            )
        },
    );
    let pods = pods.map_err(|reason| LiveError::List {
        what: scoped("pods"),
        server: clients.server.clone(),
        reason,
    })?;
    let mut snap = Snapshot::default();
    let sk = &mut snap.skipped;
    snap.nodes = keep(nodes, "nodes", sk);
    snap.events = keep(events, "events", sk);
    snap.services = keep(services, "services", sk);
    snap.endpoints = keep(endpoints, "endpoints", sk);
    snap.endpoint_slices = keep(slices, "endpointslices", sk);
    snap.persistent_volume_claims = keep(pvcs, "persistentvolumeclaims", sk);
    snap.persistent_volumes = keep(pvs, "persistentvolumes", sk);
    snap.deployments = keep(deps, "deployments", sk);
    snap.replica_sets = keep(rss, "replicasets", sk);
    snap.daemon_sets = keep(dss, "daemonsets", sk);
    snap.stateful_sets = keep(stss, "statefulsets", sk);
    snap.jobs = keep(jobs, "jobs", sk);
    snap.replication_controllers = keep(rcs, "replicationcontrollers", sk);
    snap.pods = pods;
    if let Some(ns) = ns
        && namespace_is_empty(&snap)
    {
        // An empty namespace is healthy; one that does not exist is a typo. Without the right
        // to read namespaces, the benefit of the doubt.
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let lookup = namespaces.get_opt(ns);
        if let Ok(None) = clients.timed(format!("namespace {ns}"), lookup).await {
            return Err(LiveError::NamespaceNotFound(ns.to_string()));
        }
    }

    if opts.fetch_logs {
        fetch_logs(clients, opts, &mut snap).await;
    }
    if let Some(agents) = &opts.agents {
        // Probers are asked at the same time as the agents; their results are merged after the
        // agents' facts, so a node's facts and its prober's results end up in one entry.
        let (replies, probes) = futures::join!(
            fetch_facts(clients, agents, opts),
            fetch_probes(clients, agents, opts)
        );
        for note in replies.notes {
            snap.skipped.push(note);
        }
        for reply in replies.replies {
            add_agent_reply(&mut snap, reply);
        }
        for note in probes.notes {
            snap.skipped.push(note);
        }
        for reply in probes.replies {
            add_prober_reply(&mut snap, reply);
        }
    }
    snap.taken_at = Some(jiff::Timestamp::now());
    Ok(snap)
}

/// How long to wait before asking again for a log the kubelet could not find.
const LOG_RETRY_DELAY: Duration = Duration::from_secs(1);

/// The kubelet's error when it cannot read a container's log (sent with status 200 as the log
/// body, e.g. `unable to retrieve container logs for containerd://<id>`), if `body` is one.
fn kubelet_log_error(body: &str) -> Option<&str> {
    let body = body.trim();
    let id = body.strip_prefix("unable to retrieve container logs for ")?;
    (!id.is_empty() && !id.contains(char::is_whitespace)).then_some(body)
}

struct LogJob {
    namespace: String,
    pod: String,
    container: String,
    previous: bool,
}

async fn fetch_logs(clients: &ClusterClients, opts: &LiveOptions, snap: &mut Snapshot) {
    let mut jobs = Vec::new();
    for pod in &snap.pods {
        let (Some(ns), Some(status)) = (pod.metadata.namespace.as_ref(), pod.status.as_ref())
        else {
            continue;
        };
        let name = pod.name_any();
        // Cluster DNS replicas: their logs show lookups failing while they look healthy.
        let dns = is_cluster_dns(pod);
        for (cs, init) in status
            .init_container_statuses
            .iter()
            .flatten()
            .map(|cs| (cs, true))
            .chain(
                status
                    .container_statuses
                    .iter()
                    .flatten()
                    .map(|cs| (cs, false)),
            )
        {
            if !(dns || container_logs_wanted(cs, init)) {
                continue;
            }
            let ever_started = cs.restart_count > 0
                || cs.state.as_ref().is_some_and(|s| s.waiting.is_none())
                || cs
                    .last_state
                    .as_ref()
                    .is_some_and(|s| s.terminated.is_some());
            if !ever_started {
                continue;
            }
            jobs.push(LogJob {
                namespace: ns.clone(),
                pod: name.clone(),
                container: cs.name.to_string(),
                previous: false,
            });
            if cs.restart_count > 0
                || cs
                    .last_state
                    .as_ref()
                    .is_some_and(|s| s.terminated.is_some())
            {
                jobs.push(LogJob {
                    namespace: ns.clone(),
                    pod: name.clone(),
                    container: cs.name.to_string(),
                    previous: true,
                });
            }
        }
    }
    if jobs.is_empty() {
        return;
    }
    let total = jobs.len();
    let progress = opts.progress.clone();
    let mut done = 0usize;
    let mut results = futures::stream::iter(jobs.into_iter().map(|job| {
        let client = clients.api.clone();
        let lp = LogParams {
            container: Some(job.container.clone()),
            previous: job.previous,
            tail_lines: Some(opts.log_tail_lines),
            limit_bytes: Some(opts.log_limit_bytes),
            ..Default::default()
        };
        async move {
            // kube's log subresource is implemented for k8s-openapi's Pod only; the body is
            // plain text either way.
            let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, &job.namespace);
            let what = format!(
                "the {}log of {}/{} container {}",
                if job.previous { "previous " } else { "" },
                job.namespace,
                job.pod,
                job.container
            );
            let fetch = || {
                clients.timed(what.clone(), async {
                    let mut stream = api.log_stream(&job.pod, &lp).await?;
                    let mut buf = Vec::new();
                    stream
                        .read_to_end(&mut buf)
                        .await
                        .map_err(kube::Error::ReadEvents)?;
                    Ok::<_, kube::Error>(String::from_utf8_lossy(&buf).into_owned())
                })
            };
            let mut res = fetch().await;
            // Right after a restart the pod status can still name a container the kubelet has
            // already collected; it answers 200 with its error as the "log". Once more after a
            // moment (the status catches up), then it is a skipped input, never log text.
            if res.as_deref().is_ok_and(|t| kubelet_log_error(t).is_some()) {
                tokio::time::sleep(LOG_RETRY_DELAY).await;
                res = fetch().await;
            }
            let res = res.and_then(|text| match kubelet_log_error(&text) {
                Some(error) => Err(format!(
                    "the kubelet answered {error:?} (that container's log is gone; it restarted again)"
                )),
                None => Ok(text),
            });
            (job, res)
        }
    }))
    .buffer_unordered(opts.log_concurrency.max(1));
    while let Some((job, res)) = results.next().await {
        done += 1;
        if let Some(p) = &progress {
            p(&format!(
                "fetching logs of failing containers {done}/{total}"
            ));
        }
        match res {
            Ok(text) => {
                let key = ContainerRef::new(job.namespace, job.pod, job.container);
                let entry = snap.container_logs.entry(key).or_default();
                if job.previous {
                    entry.previous = Some(text);
                } else {
                    entry.current = Some(text);
                }
            }
            Err(reason) => snap.skipped.push(SkippedInput {
                input: format!(
                    "logs {}{}/{} container {}",
                    if job.previous { "(previous) " } else { "" },
                    job.namespace,
                    job.pod,
                    job.container
                ),
                reason,
            }),
        }
    }
}

/// What a round of requests to node-side pods brought back, and what it could not do.
struct Fetched<T> {
    replies: Vec<T>,
    notes: Vec<SkippedInput>,
}

/// The Running pods matching `selector` in all namespaces, as (namespace, pod, node); `Err`
/// is the note to keep when the list fails.
async fn running_pods(
    clients: &ClusterClients,
    selector: &str,
    what: &str,
) -> Result<Vec<(String, String, String)>, SkippedInput> {
    let api: Api<Pod> = Api::all(clients.api.clone());
    let lp = ListParams::default().labels(selector);
    let pods = clients
        .timed(
            format!("the list of {what} pods ({selector})"),
            api.list(&lp),
        )
        .await
        .map_err(|e| SkippedInput {
            input: format!("{what}s ({selector})"),
            reason: format!("cannot list {what} pods: {e}"),
        })?
        .items;
    Ok(pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter_map(|p| {
            Some((
                p.metadata.namespace.clone()?,
                p.name_any(),
                p.spec.as_ref()?.node_name.as_deref()?.to_string(),
            ))
        })
        .collect())
}

async fn fetch_facts(
    clients: &ClusterClients,
    agents: &AgentOptions,
    opts: &LiveOptions,
) -> Fetched<AgentReply> {
    let mut out = Fetched {
        replies: Vec::new(),
        notes: Vec::new(),
    };
    let running = match running_pods(clients, &agents.selector, "node agent").await {
        Ok(r) => r,
        Err(note) => {
            out.notes.push(note);
            return out;
        }
    };
    if running.is_empty() {
        // No agents: the diagnosis works without facts; say so once.
        out.notes.push(SkippedInput {
            input: format!("node facts (agents labelled {})", agents.selector),
            reason: "no running kubemedic agent pods; node facts and node logs not collected"
                .to_string(),
        });
        return out;
    }
    if let Some(p) = &opts.progress {
        p(&format!(
            "asking {} node agents for facts and node logs",
            running.len()
        ));
    }
    let port = agents.port;
    let tail = agents.log_tail_lines;
    let timeout = agents.request_timeout;
    out.replies = ask_each(running, opts, |ns, pod, node| {
        let client = clients.proxy.clone();
        let in_flight = &clients.in_flight;
        async move {
            let base = format!("/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy");
            let facts_path = format!("{base}/facts");
            let _tracked = in_flight.track(format!("the node agent on {node}"));
            let facts = get_text(&client, &facts_path, timeout).await;
            // An agent that did not answer /facts will not answer /logs either: asking would
            // only multiply the wait and the notes.
            let logs = if facts.is_ok() {
                let mut logs = Vec::new();
                for source in NodeLogSource::ALL {
                    let path = format!("{base}/logs/{source}?tail={tail}");
                    let text = get_text(&client, &path, timeout).await;
                    logs.push(AgentLogReply { source, path, text });
                }
                logs
            } else {
                Vec::new()
            };
            let facts = facts.map_err(|e| format!("{e} (node logs not asked either)"));
            AgentReply {
                node,
                facts_path,
                facts,
                logs,
            }
        }
    })
    .await;
    out
}

/// Runs `ask` for each (namespace, pod, node), `log_concurrency` at a time; the answers in the
/// order they come.
async fn ask_each<T, Fut>(
    running: Vec<(String, String, String)>,
    opts: &LiveOptions,
    mut ask: impl FnMut(String, String, String) -> Fut,
) -> Vec<T>
where
    Fut: std::future::Future<Output = T>,
{
    futures::stream::iter(
        running
            .into_iter()
            .map(|(ns, pod, node)| ask(ns, pod, node)),
    )
    .buffer_unordered(opts.log_concurrency.max(1))
    .collect()
    .await
}

/// Asks every running prober pod (the prober DaemonSet) for `/probes`. The prober is opt-in:
/// finding none is no note; one that does not answer is.
async fn fetch_probes(
    clients: &ClusterClients,
    agents: &AgentOptions,
    opts: &LiveOptions,
) -> Fetched<ProberReply> {
    let mut out = Fetched {
        replies: Vec::new(),
        notes: Vec::new(),
    };
    let Some(selector) = agents.prober_selector.as_deref() else {
        return out;
    };
    let running = match running_pods(clients, selector, "network prober").await {
        Ok(r) => r,
        Err(note) => {
            out.notes.push(note);
            return out;
        }
    };
    if running.is_empty() {
        return out;
    }
    if let Some(p) = &opts.progress {
        p(&format!(
            "asking {} network probers for their results",
            running.len()
        ));
    }
    let port = agents.prober_port;
    let timeout = agents.request_timeout;
    out.replies = ask_each(running, opts, |ns, pod, node| {
        let client = clients.proxy.clone();
        let in_flight = &clients.in_flight;
        async move {
            let path = format!("/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/probes");
            let _tracked = in_flight.track(format!("the network prober on {node}"));
            let probes = get_text(&client, &path, timeout).await;
            ProberReply {
                node,
                pod: format!("{ns}/{pod}"),
                path,
                probes,
            }
        }
    })
    .await;
    out
}

/// GET through the apiserver (the agent pod proxy), the body as text, within `timeout`.
async fn get_text(client: &Client, path: &str, timeout: Duration) -> Result<String, String> {
    let req = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, client.request_text(req)).await {
        Ok(reply) => reply.map_err(|e| describe(&e)),
        Err(_) => Err(format!("no answer within {}", human_duration(timeout))),
    }
}

/// What one node agent answered, as fetched (bodies not yet parsed).
///
/// Fetched through the apiserver's pod proxy (exercised end to end by
/// `crates/kubemedic/tests/agent_proxy_live.rs`); what happens after ([`add_agent_reply`]) is a
/// pure function tested with plain data.
#[derive(Debug, Clone)]
pub struct AgentReply {
    /// The node the agent pod runs on.
    pub node: String,
    /// Request path of the facts, for notes.
    pub facts_path: String,
    /// `/facts` body (JSON) or the request error.
    pub facts: Result<String, String>,
    /// One reply per node log source.
    pub logs: Vec<AgentLogReply>,
}

/// One `/logs/<source>` reply.
#[derive(Debug, Clone)]
pub struct AgentLogReply {
    /// The source asked for.
    pub source: NodeLogSource,
    /// Request path, for notes.
    pub path: String,
    /// Body (text lines) or the request error.
    pub text: Result<String, String>,
}

/// A node-side pod's JSON answer, or why it is not `what` (line and column).
fn parse_reply<T: DeserializeOwned>(body: &str, what: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|e| {
        format!(
            "not {what} JSON: line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })
}

/// Puts one agent's reply into the snapshot: facts into `node_facts`, non-empty logs into
/// `node_logs`; every failure (request error, facts that are not `NodeFacts` JSON) becomes a
/// note in `skipped` and the rest of the reply is still used.
pub fn add_agent_reply(snap: &mut Snapshot, reply: AgentReply) {
    let AgentReply {
        node,
        facts_path,
        facts,
        logs,
    } = reply;
    let facts = facts.and_then(|body| parse_reply::<NodeFacts>(&body, "node facts"));
    match facts {
        Ok(mut facts) => {
            if facts.node.is_empty() {
                facts.node = node.clone();
            }
            snap.node_facts.insert(node.clone(), facts);
        }
        Err(reason) => snap.skipped.push(SkippedInput {
            input: format!("node facts of {node} ({facts_path})"),
            reason,
        }),
    }
    for log in logs {
        match log.text {
            Ok(text) if text.trim().is_empty() => {}
            Ok(mut text) => {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                snap.node_logs
                    .entry(node.clone())
                    .or_default()
                    .insert(log.source, text);
            }
            Err(reason) => snap.skipped.push(SkippedInput {
                input: format!("{} log of node {node} ({})", log.source, log.path),
                reason,
            }),
        }
    }
}

/// What one network prober pod answered on `/probes`, as fetched.
#[derive(Debug, Clone)]
pub struct ProberReply {
    /// The node the prober pod runs on.
    pub node: String,
    /// `namespace/name` of the prober pod, for notes.
    pub pod: String,
    /// Request path, for notes.
    pub path: String,
    /// `/probes` body (JSON) or the request error.
    pub probes: Result<String, String>,
}

/// Puts one prober's results into the node's facts (`NodeFacts::probes`), creating the node's
/// entry when no agent answered for it. The prober DaemonSet runs in the pod network, so its
/// results replace those of an agent on `hostNetwork` running `--probes` (which only see the
/// node network); a failed request or a body that is not probe results is a note.
pub fn add_prober_reply(snap: &mut Snapshot, reply: ProberReply) {
    let ProberReply {
        node,
        pod,
        path,
        probes,
    } = reply;
    let probes = probes.and_then(|body| parse_reply::<ProbeFacts>(&body, "probe results"));
    match probes {
        Ok(mut probes) => {
            if probes.node.is_empty() {
                probes.node = node.clone();
            }
            let facts = snap
                .node_facts
                .entry(node.clone())
                .or_insert_with(|| NodeFacts {
                    node: node.clone(),
                    ..NodeFacts::default()
                });
            facts.probes = Some(probes);
        }
        Err(reason) => snap.skipped.push(SkippedInput {
            input: format!("network probe results of {node} (prober {pod}, {path})"),
            reason,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What kube gives for an apiserver Status (a plain-data error value: the real pod proxy's
    /// 503 is exercised by `crates/kubemedic/tests/agent_proxy_live.rs`).
    fn api_error(status: kube::core::Status) -> String {
        let long = kube::Error::Api(Box::new(status));
        assert!(
            long.to_string().contains("Status {"),
            "kube's own text: {long}"
        );
        describe(&long)
    }

    #[test]
    fn an_apiserver_status_is_described_by_code_reason_and_message() {
        let proxy = kube::core::Status::failure(
            "error trying to reach service: dial tcp 10.1.2.3:9102: connect: connection refused",
            "ServiceUnavailable",
        )
        .with_code(503);
        assert_eq!(
            api_error(proxy),
            "503 ServiceUnavailable: error trying to reach service: dial tcp 10.1.2.3:9102: \
             connect: connection refused"
        );
        let forbidden = kube::core::Status::failure("", "Forbidden").with_code(403);
        assert_eq!(api_error(forbidden), "403 Forbidden");
        // Not a Status body (an HTML error page from a proxy): the HTTP reason and the first
        // non-empty line, bounded.
        let html = format!("\n<html>{}</html>\n<body>x</body>", "y".repeat(500));
        let page = kube::core::Status::failure(&html, "Failed to parse error data").with_code(502);
        let text = api_error(page);
        assert!(text.starts_with("502 Bad Gateway: <html>yyy"), "{text}");
        assert!(text.ends_with('…'), "{text}");
        assert!(text.chars().count() < 200, "{text}");
        assert!(!text.contains("body"), "{text}");
    }

    fn log(source: NodeLogSource, text: Result<&str, &str>) -> AgentLogReply {
        AgentLogReply {
            source,
            path: format!("/proxy/logs/{source}?tail=2000"),
            text: text.map(str::to_string).map_err(str::to_string),
        }
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(Duration::from_millis(500)), "500 ms");
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 s");
        assert_eq!(human_duration(Duration::from_secs(300)), "5 min");
        assert_eq!(human_duration(Duration::from_secs(150)), "2 min 30 s");
    }

    #[test]
    fn giving_up_names_the_server_and_at_most_four_requests() {
        let pending: Vec<String> = (1..=7).map(|i| format!("r{i}")).collect();
        let e = LiveError::Deadline {
            server: "https://10.0.0.1:6443".into(),
            after: Duration::from_secs(300),
            pending,
        };
        assert_eq!(
            e.to_string(),
            "gave up on https://10.0.0.1:6443 after 5 min: still waiting for r1, r2, r3, r4 and 3 more requests"
        );
        let e = LiveError::Deadline {
            server: "https://h".into(),
            after: Duration::from_secs(2),
            pending: vec!["the list of pods in all namespaces".into()],
        };
        assert_eq!(
            e.to_string(),
            "gave up on https://h after 2 s: still waiting for the list of pods in all namespaces"
        );
    }

    #[test]
    fn kubelet_log_errors_are_told_from_log_text() {
        // Seen on the testbed's real node: collect right after a restart.
        assert_eq!(
            kubelet_log_error("unable to retrieve container logs for containerd://363338e0e19c"),
            Some("unable to retrieve container logs for containerd://363338e0e19c")
        );
        assert_eq!(
            kubelet_log_error("unable to retrieve container logs for docker://abc\n"),
            Some("unable to retrieve container logs for docker://abc")
        );
        // A program that logs the same words is still a log.
        assert_eq!(
            kubelet_log_error(
                "starting\nunable to retrieve container logs for containerd://x\nretrying"
            ),
            None
        );
        assert_eq!(kubelet_log_error(""), None);
        assert_eq!(kubelet_log_error("panic: boom"), None);
    }

    #[test]
    fn reply_fills_facts_and_non_empty_logs() {
        let mut snap = Snapshot::default();
        add_agent_reply(
            &mut snap,
            AgentReply {
                node: "node-a".into(),
                facts_path: "/proxy/facts".into(),
                facts: Ok(r#"{"iptablesRules": 12000}"#.into()),
                logs: vec![
                    log(
                        NodeLogSource::Kubelet,
                        Ok("t kubelet: PLEG is not healthy\nt kubelet: ContainerGCFailed"),
                    ),
                    log(NodeLogSource::Kernel, Ok("t kernel: Out of memory\n")),
                    log(NodeLogSource::Docker, Ok("")),
                ],
            },
        );
        let facts = &snap.node_facts["node-a"];
        assert_eq!(facts.node, "node-a", "an empty node name is filled in");
        assert_eq!(facts.iptables_rules, Some(12000));
        let logs = &snap.node_logs["node-a"];
        assert_eq!(
            logs[&NodeLogSource::Kubelet],
            "t kubelet: PLEG is not healthy\nt kubelet: ContainerGCFailed\n"
        );
        assert_eq!(logs[&NodeLogSource::Kernel], "t kernel: Out of memory\n");
        assert!(
            !logs.contains_key(&NodeLogSource::Docker),
            "empty is skipped"
        );
        assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
    }

    #[test]
    fn failures_are_notes_and_the_rest_is_kept() {
        let mut snap = Snapshot::default();
        add_agent_reply(
            &mut snap,
            AgentReply {
                node: "node-b".into(),
                facts_path: "/proxy/facts".into(),
                facts: Ok("{\n  \"iptablesRules\": \"many\"\n}".into()),
                logs: vec![
                    log(NodeLogSource::Containerd, Err("503 Service Unavailable")),
                    log(NodeLogSource::Syslog, Ok("t systemd: started")),
                ],
            },
        );
        assert!(snap.node_facts.is_empty());
        assert_eq!(
            snap.node_logs["node-b"][&NodeLogSource::Syslog],
            "t systemd: started\n"
        );
        assert_eq!(snap.skipped.len(), 2, "{:?}", snap.skipped);
        assert_eq!(snap.skipped[0].input, "node facts of node-b (/proxy/facts)");
        assert!(
            snap.skipped[0].reason.contains("line 2"),
            "{}",
            snap.skipped[0].reason
        );
        assert_eq!(
            snap.skipped[1].input,
            "containerd log of node node-b (/proxy/logs/containerd?tail=2000)"
        );
        assert_eq!(snap.skipped[1].reason, "503 Service Unavailable");
    }

    fn prober(node: &str, probes: Result<&str, &str>) -> ProberReply {
        ProberReply {
            node: node.into(),
            pod: "kubemedic/kubemedic-probe-x1".into(),
            path: "/proxy/probes".into(),
            probes: probes.map(str::to_string).map_err(str::to_string),
        }
    }

    #[test]
    fn prober_results_join_the_node_facts() {
        let mut snap = Snapshot::default();
        add_agent_reply(
            &mut snap,
            AgentReply {
                node: "node-a".into(),
                facts_path: "/proxy/facts".into(),
                facts: Ok(
                    r#"{"iptablesRules": 12, "probes": {"node": "node-a", "intervalSeconds": 30}}"#
                        .into(),
                ),
                logs: Vec::new(),
            },
        );
        // The pod-network prober's results replace the hostNetwork agent's own.
        add_prober_reply(
            &mut snap,
            prober(
                "node-a",
                Ok(r#"{"node": "node-a", "intervalSeconds": 5, "dnsReplicasKnown": 6}"#),
            ),
        );
        // A node without an agent gets an entry of its own; an empty node name is filled in.
        add_prober_reply(&mut snap, prober("node-b", Ok(r#"{"intervalSeconds": 5}"#)));
        let a = &snap.node_facts["node-a"];
        assert_eq!(a.iptables_rules, Some(12), "the agent's facts are kept");
        let pa = a.probes.as_ref().unwrap();
        assert_eq!((pa.interval_seconds, pa.dns_replicas_known), (5.0, 6));
        let b = &snap.node_facts["node-b"];
        assert_eq!(b.node, "node-b");
        assert_eq!(b.probes.as_ref().unwrap().node, "node-b");
        assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
    }

    #[test]
    fn probers_that_fail_are_named_and_keep_nothing() {
        let mut snap = Snapshot::default();
        add_prober_reply(&mut snap, prober("node-c", Err("no answer within 10 s")));
        add_prober_reply(
            &mut snap,
            prober("node-d", Ok("{\n  \"intervalSeconds\": \"five\"\n}")),
        );
        assert!(snap.node_facts.is_empty());
        assert_eq!(snap.skipped.len(), 2);
        assert_eq!(
            snap.skipped[0].input,
            "network probe results of node-c (prober kubemedic/kubemedic-probe-x1, /proxy/probes)"
        );
        assert_eq!(snap.skipped[0].reason, "no answer within 10 s");
        assert!(
            snap.skipped[1]
                .reason
                .starts_with("not probe results JSON: line 2 column"),
            "{}",
            snap.skipped[1].reason
        );
    }

    #[test]
    fn request_errors_on_facts_are_notes() {
        let mut snap = Snapshot::default();
        add_agent_reply(
            &mut snap,
            AgentReply {
                node: "node-c".into(),
                facts_path: "/proxy/facts".into(),
                facts: Err("connection refused".into()),
                logs: Vec::new(),
            },
        );
        assert!(snap.node_facts.is_empty() && snap.node_logs.is_empty());
        assert_eq!(snap.skipped[0].reason, "connection refused");
    }
}
