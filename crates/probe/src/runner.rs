//! The prober at work: every interval it starts the probes whose previous run has finished
//! (a dead neighbour's 6 s timeout never delays the DNS or the healthy neighbours' checks),
//! records every result into the verdicts and the metrics, and evaluates when the round is
//! complete or the next tick comes. Faults that change and the condition go to the agent.

use crate::config::{NamedCheck, ProbeConfig, check};
use crate::dns::{self, QueryOptions};
use crate::dnsmsg;
use crate::http::{CheckClient, ClientError, system_resolver};
use crate::metrics::{Gauges, ProbeMetrics};
use crate::outcome::{DnsOutcome, HttpOutcome};
use crate::targets::{self, Discovered, SelectOptions, Selection};
use crate::verdict::{
    DnsServer, Evaluation, FaultChange, Neighbour, PodNetworkCondition, QueryKind, Thresholds,
    Verdicts,
};
use hickory_resolver::proto::rr::Name;
use jiff::Timestamp;
use kubemedic_model::probes::{DnsRole, ProbeFacts};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Why the prober cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The HTTP client could not be built (CA files).
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What the prober reports to the agent after an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeUpdate {
    /// Faults raised or cleared (Events).
    pub changes: Vec<FaultChange>,
    /// The PodNetworkUnreachable condition, when it changed.
    pub condition: Option<PodNetworkCondition>,
}

/// kubenurse's origin header: the checking prober's pod name.
pub const ORIGIN_HEADER: &str = "KUBENURSE-NEIGHBOUR-ORIGIN";
/// kubemedic's origin header: the checking prober's node.
pub const ORIGIN_NODE_HEADER: &str = "X-Kubemedic-Probe-Node";

/// Incoming origins are counted for a minute (kubenurse's TTL cache).
const INCOMING_TTL: Duration = Duration::from_secs(60);
/// At most this many distinct origins are remembered (a flood of forged headers stays bounded).
const INCOMING_MAX: usize = 20_000;

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ProbeConfig,
    pub(crate) verdicts: Mutex<Verdicts>,
    pub(crate) metrics: ProbeMetrics,
    pub(crate) pod_nodes: RwLock<BTreeMap<String, String>>,
    incoming: Mutex<HashMap<String, Instant>>,
}

/// A cheap handle on a prober: its results, metrics and check endpoint.
#[derive(Debug, Clone)]
pub struct ProbeHandle {
    pub(crate) shared: Arc<Shared>,
}

impl ProbeHandle {
    /// Current results and verdicts.
    pub fn facts(&self) -> ProbeFacts {
        let now = Timestamp::now();
        self.shared
            .verdicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .facts(now)
    }

    /// The configuration.
    pub fn config(&self) -> &ProbeConfig {
        &self.shared.config
    }

    /// Records a check received from another prober (its pod name and/or node).
    pub fn record_incoming(&self, origin_pod: Option<&str>, origin_node: Option<&str>) {
        let origin = origin_node.or(origin_pod);
        let Some(origin) = origin.filter(|o| !o.is_empty() && o.len() <= 253) else {
            return;
        };
        {
            let mut incoming = self
                .shared
                .incoming
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if incoming.len() >= INCOMING_MAX {
                incoming.retain(|_, t| now.duration_since(*t) < INCOMING_TTL);
            }
            if incoming.len() < INCOMING_MAX || incoming.contains_key(origin) {
                incoming.insert(origin.to_string(), now);
            }
        }
        let node = match origin_node {
            Some(n) => Some(n.to_string()),
            None => origin_pod.and_then(|p| {
                self.shared
                    .pod_nodes
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(p)
                    .cloned()
            }),
        };
        if let Some(node) = node {
            self.shared
                .verdicts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record_incoming(&node, Timestamp::now());
        }
    }

    /// Distinct origins seen within the last minute (`kubenurse_neighbourhood_incoming_checks`).
    pub fn incoming_checks(&self) -> usize {
        let now = Instant::now();
        let mut incoming = self
            .shared
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        incoming.retain(|_, t| now.duration_since(*t) < INCOMING_TTL);
        incoming.len()
    }

    /// Values of the gauges, read at scrape time.
    pub fn gauges(&self) -> Gauges {
        let incoming_checks = self.incoming_checks();
        let facts = self.facts();
        let pn = facts.pod_network.unwrap_or_default();
        let probed = facts
            .dns
            .iter()
            .filter(|d| d.role == DnsRole::Replica)
            .count();
        Gauges {
            incoming_checks,
            faults: facts
                .faults
                .iter()
                .map(|f| (f.kind.clone(), f.subject.clone()))
                .collect(),
            pod_network_unreachable: pn.unreachable,
            neighbours: facts.neighbours.len(),
            watchers: pn.incoming_expected,
            silent_watchers: pn.incoming_silent,
            dns_probed: probed,
            dns_not_probed: facts.dns_replicas_known.saturating_sub(probed),
        }
    }

    /// The metrics families.
    pub fn metrics(&self) -> &ProbeMetrics {
        &self.shared.metrics
    }
}

/// A prober, ready to run.
#[derive(Debug)]
pub struct Prober {
    shared: Arc<Shared>,
    client: CheckClient,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Path(String),
    Check(String),
    Dns(SocketAddr, QueryKind),
}

impl Key {
    /// The label the skipped counter uses.
    fn label(&self) -> String {
        match self {
            Key::Path(n) => format!("path_{n}"),
            Key::Check(c) => c.clone(),
            Key::Dns(a, k) => format!("dns_{a}_{}", k.as_str()),
        }
    }
}

enum Outcome {
    Http(HttpOutcome),
    Dns(DnsOutcome),
}

struct Done {
    key: Key,
    round: u64,
    outcome: Outcome,
}

/// Everything probed in one round, resolved from the latest selection.
#[derive(Debug, Default)]
struct Plan {
    paths: Vec<Neighbour>,
    checks: Vec<NamedCheck>,
    dns: Vec<DnsServer>,
    names: Vec<(QueryKind, Name)>,
}

impl Prober {
    /// A prober with `config`; `initial` is the condition found on the Node (agent restart).
    pub fn new(
        config: ProbeConfig,
        initial: Option<(bool, Timestamp)>,
    ) -> Result<Self, ProbeError> {
        config.validate()?;
        let resolver = match config.dns.as_ref().and_then(|d| d.resolv_conf.as_ref()) {
            Some(path) => system_resolver(path, config.client.timeout),
            None => system_resolver(
                std::path::Path::new("/etc/resolv.conf"),
                config.client.timeout,
            ),
        };
        if let Err(e) = &resolver {
            tracing::warn!(error = %e, "no system resolver: checks of host names will fail at dns_done");
        }
        let client = CheckClient::new(config.client.clone(), resolver)?;
        let mut thresholds = Thresholds::for_interval(config.interval);
        thresholds.fail_after = config.fail_after.max(1);
        let verdicts = Verdicts::new(&config.node, thresholds, Timestamp::now(), initial);
        let metrics = ProbeMetrics::new(&config.buckets);
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                verdicts: Mutex::new(verdicts),
                metrics,
                pod_nodes: RwLock::new(BTreeMap::new()),
                incoming: Mutex::new(HashMap::new()),
            }),
            client,
        })
    }

    /// A handle for the HTTP endpoints and metrics.
    pub fn handle(&self) -> ProbeHandle {
        ProbeHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs until `updates` is closed. `discovery` carries what the API (or static settings)
    /// say about neighbours and DNS replicas.
    pub async fn run(
        self,
        mut discovery: watch::Receiver<Discovered>,
        updates: mpsc::Sender<ProbeUpdate>,
    ) {
        let config = &self.shared.config;
        let select_options = SelectOptions {
            node: config.node.clone(),
            neighbour_limit: config.neighbour_limit,
            allow_unschedulable: config.allow_unschedulable,
            exclude_nodes: config.exclude_nodes.clone(),
            dns_max_servers: config.dns.as_ref().map_or(0, |d| d.max_servers),
        };
        let names: Vec<(QueryKind, Name)> = config
            .dns
            .iter()
            .flat_map(|d| {
                [
                    (QueryKind::Internal, d.internal_name.as_ref()),
                    (QueryKind::External, d.external_name.as_ref()),
                ]
            })
            .filter_map(|(k, n)| Some((k, dnsmsg::parse_name(n?).ok()?)))
            .collect();
        let local_servers = self.local_dns_servers();
        let (done_tx, mut done_rx) = mpsc::channel::<Done>(4096);
        let mut tick = tokio::time::interval(config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut in_flight: HashSet<Key> = HashSet::new();
        let mut round = 0u64;
        let mut pending = 0usize;
        let mut plan = Plan::default();
        let mut selection_dirty = true;
        let mut discovery_open = true;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if selection_dirty {
                        selection_dirty = false;
                        let found = discovery.borrow_and_update().clone();
                        let selection = targets::select(&select_options, &found);
                        plan = self.apply(&selection, &names, &local_servers);
                    }
                    if !self.evaluate(&updates).await {
                        return;
                    }
                    round += 1;
                    pending = 0;
                    for key in plan_keys(&plan) {
                        if in_flight.contains(&key) {
                            self.shared.metrics.record_skipped(&key.label());
                            continue;
                        }
                        if let Some(task) = self.probe(&plan, &key, round, done_tx.clone()) {
                            in_flight.insert(key);
                            pending += 1;
                            tokio::spawn(task);
                        }
                    }
                }
                changed = discovery.changed(), if discovery_open => {
                    // An ended discovery (static settings) keeps its last view.
                    discovery_open = changed.is_ok();
                    selection_dirty |= discovery_open;
                }
                done = done_rx.recv() => {
                    let Some(done) = done else { return };
                    in_flight.remove(&done.key);
                    self.record(&plan, &done);
                    if done.round == round {
                        pending = pending.saturating_sub(1);
                        if pending == 0 && !self.evaluate(&updates).await {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Node-local caches and resolvers from resolv.conf and the settings.
    fn local_dns_servers(&self) -> Vec<DnsServer> {
        let Some(dns) = &self.shared.config.dns else {
            return Vec::new();
        };
        let mut out: Vec<DnsServer> = dns
            .node_local
            .iter()
            .map(|a| DnsServer {
                addr: *a,
                role: DnsRole::NodeLocal,
                pod: None,
                namespace: None,
                node: None,
            })
            .collect();
        if let Some(path) = &dns.resolv_conf {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for ip in resolv_conf_nameservers(&text) {
                        let addr = SocketAddr::new(ip, 53);
                        if out.iter().any(|s| s.addr == addr) {
                            continue;
                        }
                        out.push(DnsServer {
                            addr,
                            role: if is_node_local(ip) {
                                DnsRole::NodeLocal
                            } else {
                                DnsRole::Resolver
                            },
                            pod: None,
                            namespace: None,
                            node: None,
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot read resolv.conf; its nameservers are not probed")
                }
            }
        }
        out
    }

    /// Applies a new selection to the verdicts and the metrics; returns the plan.
    fn apply(
        &self,
        selection: &Selection,
        names: &[(QueryKind, Name)],
        local: &[DnsServer],
    ) -> Plan {
        let config = &self.shared.config;
        let now = Timestamp::now();
        let mut plan = Plan {
            paths: if config.neighbours {
                selection.neighbours.clone()
            } else {
                Vec::new()
            },
            checks: config.checks.clone(),
            dns: Vec::new(),
            names: names.to_vec(),
        };
        let mut replicas = selection.dns.clone();
        let mut known = selection.dns_known;
        if let Some(dns) = &config.dns {
            for a in &dns.static_servers {
                if !replicas.iter().any(|r| r.addr == *a) {
                    replicas.push(DnsServer {
                        addr: *a,
                        role: DnsRole::Replica,
                        pod: None,
                        namespace: None,
                        node: None,
                    });
                    known += 1;
                }
            }
            plan.dns = replicas;
            for l in local {
                // The resolver in resolv.conf may be a replica itself (no Service VIP).
                if !plan.dns.iter().any(|r| r.addr == l.addr) {
                    plan.dns.push(l.clone());
                }
            }
        }
        *self
            .shared
            .pod_nodes
            .write()
            .unwrap_or_else(PoisonError::into_inner) = selection.pod_nodes.clone();
        {
            let mut v = self
                .shared
                .verdicts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            v.set_neighbours(&plan.paths);
            v.set_watchers(
                if config.neighbours {
                    &selection.watchers
                } else {
                    &[]
                },
                now,
            );
            let checks: Vec<(String, String)> = plan
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.url.to_string()))
                .collect();
            v.set_checks(&checks);
            let names: Vec<(QueryKind, String)> = names
                .iter()
                .map(|(k, n)| (*k, n.to_string().trim_end_matches('.').to_string()))
                .collect();
            v.set_dns(&plan.dns, &names, known);
        }
        let keep: BTreeSet<String> = plan
            .paths
            .iter()
            .map(|n| format!("path_{}", n.node))
            .chain(plan.checks.iter().map(|c| c.name.clone()))
            .chain(plan.dns.iter().map(|d| d.addr.to_string()))
            .chain(plan_keys(&plan).map(|k| k.label()))
            .collect();
        self.shared.metrics.retain(&keep);
        plan
    }

    fn probe(
        &self,
        plan: &Plan,
        key: &Key,
        round: u64,
        done: mpsc::Sender<Done>,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let config = &self.shared.config;
        let client = self.client.clone();
        enum Job {
            Http(http::Uri, Vec<(&'static str, String)>),
            Dns(SocketAddr, Name, QueryOptions),
        }
        let job = match key {
            Key::Path(node) => {
                let n = plan.paths.iter().find(|n| n.node == *node)?;
                let scheme = if config.neighbour_tls {
                    "https"
                } else {
                    "http"
                };
                let host = match n.ip {
                    IpAddr::V4(ip) => ip.to_string(),
                    IpAddr::V6(ip) => format!("[{ip}]"),
                };
                let url: http::Uri = format!(
                    "{scheme}://{host}:{}{}",
                    config.check_port, config.check_path
                )
                .parse()
                .ok()?;
                Job::Http(
                    url,
                    vec![
                        (ORIGIN_HEADER, config.pod.clone()),
                        (ORIGIN_NODE_HEADER, config.node.clone()),
                    ],
                )
            }
            Key::Check(name) => {
                let c = plan.checks.iter().find(|c| c.name == *name)?;
                let headers = if c.origin_headers {
                    vec![
                        (ORIGIN_HEADER, config.pod.clone()),
                        (ORIGIN_NODE_HEADER, config.node.clone()),
                    ]
                } else {
                    Vec::new()
                };
                Job::Http(c.url.clone(), headers)
            }
            Key::Dns(addr, kind) => {
                let (_, name) = plan.names.iter().find(|(k, _)| k == kind)?;
                let q = config.dns.as_ref().map(|d| d.query).unwrap_or_default();
                Job::Dns(*addr, name.clone(), q)
            }
        };
        let key = key.clone();
        Some(async move {
            let outcome = match job {
                Job::Http(url, headers) => Outcome::Http(client.get(&url, &headers).await),
                Job::Dns(addr, name, q) => Outcome::Dns(dns::query(addr, &name, q).await),
            };
            let _ = done
                .send(Done {
                    key,
                    round,
                    outcome,
                })
                .await;
        })
    }

    fn record(&self, plan: &Plan, done: &Done) {
        let now = Timestamp::now();
        let mut v = self
            .shared
            .verdicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match (&done.key, &done.outcome) {
            (Key::Path(node), Outcome::Http(o)) => {
                self.shared.metrics.record_http(&format!("path_{node}"), o);
                v.record_path(node, o, now);
            }
            (Key::Check(name), Outcome::Http(o)) => {
                self.shared.metrics.record_http(name, o);
                v.record_check(name, o, now);
            }
            (Key::Dns(addr, kind), Outcome::Dns(o)) => {
                let role = plan
                    .dns
                    .iter()
                    .find(|d| d.addr == *addr)
                    .map_or(DnsRole::Replica, |d| d.role);
                let role = match role {
                    DnsRole::Replica => "replica",
                    DnsRole::NodeLocal => "node-local",
                    DnsRole::Resolver => "resolver",
                };
                self.shared
                    .metrics
                    .record_dns(&addr.to_string(), role, kind.as_str(), o);
                v.record_dns(*addr, *kind, o, now);
            }
            _ => {}
        }
    }

    /// Evaluates and reports; false when the agent is gone.
    async fn evaluate(&self, updates: &mpsc::Sender<ProbeUpdate>) -> bool {
        let Evaluation { changes, condition } = self
            .shared
            .verdicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .evaluate(Timestamp::now());
        for c in &changes {
            if c.raised {
                tracing::warn!(kind = %c.kind, subject = %c.subject, "{}", c.message);
            } else {
                tracing::info!(kind = %c.kind, subject = %c.subject, "cleared: {}", c.message);
            }
        }
        if changes.is_empty() && condition.is_none() {
            return true;
        }
        updates
            .send(ProbeUpdate { changes, condition })
            .await
            .is_ok()
    }
}

fn plan_keys(plan: &Plan) -> impl Iterator<Item = Key> + '_ {
    plan.paths
        .iter()
        .map(|n| Key::Path(n.node.clone()))
        .chain(plan.checks.iter().map(|c| Key::Check(c.name.clone())))
        .chain(
            plan.dns
                .iter()
                .flat_map(move |d| plan.names.iter().map(move |(k, _)| Key::Dns(d.addr, *k))),
        )
}

/// `nameserver` lines of a resolv.conf.
pub fn resolv_conf_nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver")
                .then(|| words.next()?.split('%').next()?.parse().ok())
                .flatten()
        })
        .collect()
}

/// Link-local addresses are where node-local DNS caches listen (169.254.20.10 by default).
fn is_node_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// The fixed checks from kubenurse's settings: apiserver direct (`https://host:port/version`) and
/// through DNS, the own Service and Ingress (`<url>/alwayshappy`), plus extra checks.
pub fn standard_checks(
    apiserver_direct: Option<&str>,
    apiserver_dns: Option<&str>,
    me_service: Option<&str>,
    me_ingress: Option<&str>,
    check_path: &str,
    extra: &[(String, String)],
) -> Result<Vec<NamedCheck>, crate::config::ConfigError> {
    let parse = |name: &str, url: String| -> Result<NamedCheck, crate::config::ConfigError> {
        let url = url
            .parse::<http::Uri>()
            .map_err(|e| crate::config::ConfigError {
                setting: format!("{name} URL"),
                reason: format!("{url:?}: {e}"),
            })?;
        Ok(NamedCheck {
            name: name.to_string(),
            url,
            origin_headers: false,
        })
    };
    let with_path = |base: &str, path: &str| format!("{}{path}", base.trim_end_matches('/'));
    let mut checks = Vec::new();
    if let Some(base) = apiserver_direct {
        checks.push(parse(
            check::API_SERVER_DIRECT,
            with_path(base, "/version"),
        )?);
    }
    if let Some(base) = apiserver_dns {
        checks.push(parse(check::API_SERVER_DNS, with_path(base, "/version"))?);
    }
    if let Some(base) = me_service {
        checks.push(parse(check::ME_SERVICE, with_path(base, check_path))?);
    }
    if let Some(base) = me_ingress {
        checks.push(parse(check::ME_INGRESS, with_path(base, check_path))?);
    }
    for (name, url) in extra {
        checks.push(parse(name, url.clone())?);
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_parsing() {
        let text = "# generated\nsearch default.svc.cluster.local svc.cluster.local\nnameserver 169.254.20.10\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:5\n";
        let ips = resolv_conf_nameservers(text);
        assert_eq!(ips.len(), 3);
        assert!(is_node_local(ips[0]));
        assert!(!is_node_local(ips[1]));
        assert!(is_node_local(ips[2]));
    }

    #[test]
    fn standard_checks_follow_kubenurse() {
        let c = standard_checks(
            Some("https://10.96.0.1:443"),
            Some("https://kubernetes.default.svc.cluster.local:443"),
            Some("http://kubemedic-probe.kube-system.svc:20258/"),
            None,
            "/alwayshappy",
            &[("google".into(), "https://www.google.ch/".into())],
        )
        .unwrap();
        let urls: Vec<String> = c.iter().map(|c| format!("{} {}", c.name, c.url)).collect();
        assert_eq!(
            urls,
            vec![
                "api_server_direct https://10.96.0.1:443/version",
                "api_server_dns https://kubernetes.default.svc.cluster.local:443/version",
                "me_service http://kubemedic-probe.kube-system.svc:20258/alwayshappy",
                "google https://www.google.ch/",
            ]
        );
        assert!(standard_checks(None, None, Some("http://bad host"), None, "/x", &[]).is_err());
    }
}
