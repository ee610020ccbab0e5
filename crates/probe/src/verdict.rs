//! From probe results to named faults with history: the prober's pure core.
//!
//! [`Verdicts`] is fed the targets (neighbours, DNS servers, checks, expected watchers), each
//! probe outcome and each incoming check as they happen, and is asked to [`Verdicts::evaluate`]
//! once per probe interval. Evaluating recomputes the faults in effect and returns what changed
//! (for Events and the NodeCondition). No clock and no I/O: "now" is passed in.
//!
//! The rules, in short (docs/probes.md has the long form):
//! - a neighbour is unreachable after [`Thresholds::fail_after`] consecutive failed checks,
//!   unless most checks out of this node fail (then this node is the likelier culprit: its
//!   egress when checks into it still arrive);
//! - this node's pod network is unreachable when more than half of its checks out fail *and*
//!   more than half of the nodes that should be checking it went silent, with at least two
//!   distinct peers involved: one flaky source cannot condemn its targets, since a source whose
//!   own checks all fail blames itself, and a target is only condemned by itself;
//! - a DNS server fails when its last probe (which already retried once) failed; some replicas
//!   failing while others answer is `DNSPartialFailure`, all failing is `DNSDown`;
//! - the own Service failing while pod IPs answer is `ServiceDataPathBroken` (kube-proxy rules).

use crate::outcome::{DnsOutcome, HttpOutcome};
use jiff::{SignedDuration, Timestamp};
use kubemedic_model::probes::{
    CheckProbe, DnsQueryProbe, DnsRole, DnsServerProbe, FaultTransition, IncomingProbe, PathProbe,
    PodNetworkVerdict, ProbeFacts, ProbeFault,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The NodeCondition type the prober owns.
pub const POD_NETWORK_CONDITION: &str = "PodNetworkUnreachable";

/// Fault kinds.
pub mod kind {
    /// This node's pod network is unreachable (also the NodeCondition).
    pub const POD_NETWORK_UNREACHABLE: &str = "PodNetworkUnreachable";
    /// Most checks out of this node fail while checks into it arrive.
    pub const POD_NETWORK_EGRESS_BROKEN: &str = "PodNetworkEgressBroken";
    /// A neighbour's prober does not answer path checks from this node.
    pub const NEIGHBOUR_UNREACHABLE: &str = "NeighbourUnreachable";
    /// Some cluster DNS replicas fail while others answer.
    pub const DNS_PARTIAL_FAILURE: &str = "DNSPartialFailure";
    /// Every probed cluster DNS replica fails.
    pub const DNS_DOWN: &str = "DNSDown";
    /// One cluster DNS replica fails.
    pub const DNS_REPLICA_FAILING: &str = "DNSReplicaFailing";
    /// The node-local DNS cache fails.
    pub const NODE_LOCAL_DNS_FAILING: &str = "NodeLocalDNSFailing";
    /// The resolver in the node's resolv.conf (usually the DNS Service VIP) fails.
    pub const DNS_RESOLVER_FAILING: &str = "DNSResolverFailing";
    /// The own Service fails while pod IPs answer: the Service data path on this node is broken.
    pub const SERVICE_DATA_PATH_BROKEN: &str = "ServiceDataPathBroken";
    /// The apiserver does not answer on its direct address.
    pub const APISERVER_UNREACHABLE: &str = "APIServerUnreachable";
    /// The apiserver answers directly but not through its DNS name.
    pub const APISERVER_DNS_FAILING: &str = "APIServerDNSFailing";
    /// Another check (ingress, extra URL) fails.
    pub const CHECK_FAILING: &str = "CheckFailing";
}

/// Thresholds of the verdicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Probe interval.
    pub interval: Duration,
    /// Consecutive failures before a neighbour or a check is declared failing.
    pub fail_after: u32,
    /// An expected watcher is silent when nothing arrived from it for this long.
    pub silence: Duration,
    /// Evaluations the pod-network rule must fail before an unreachable verdict clears.
    pub clear_after: u32,
}

impl Thresholds {
    /// The defaults for a probe interval: two failures, silence after two intervals.
    pub fn for_interval(interval: Duration) -> Self {
        Self {
            interval,
            fail_after: 2,
            silence: (interval * 2).max(Duration::from_secs(2)),
            clear_after: 2,
        }
    }
}

/// A neighbour's prober, as discovered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Neighbour {
    /// Its node.
    pub node: String,
    /// Its pod.
    pub pod: String,
    /// Its pod IP.
    pub ip: IpAddr,
}

/// A DNS server to probe on its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsServer {
    /// Address (port 53 usually).
    pub addr: SocketAddr,
    /// Replica, node-local cache or resolver.
    pub role: DnsRole,
    /// Pod behind it.
    pub pod: Option<String>,
    /// Namespace of that pod.
    pub namespace: Option<String>,
    /// Node of that pod.
    pub node: Option<String>,
}

impl DnsServer {
    /// `10.0.0.5:53 (kube-system/coredns-abc on n3)`.
    pub fn describe(&self) -> String {
        let mut s = self.addr.to_string();
        if let Some(pod) = &self.pod {
            let _ = write!(s, " (");
            if let Some(ns) = &self.namespace {
                let _ = write!(s, "{ns}/");
            }
            let _ = write!(s, "{pod}");
            if let Some(node) = &self.node {
                let _ = write!(s, " on {node}");
            }
            let _ = write!(s, ")");
        } else if self.role == DnsRole::NodeLocal {
            s.push_str(" (node-local cache)");
        }
        s
    }
}

/// Which name a DNS query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueryKind {
    /// A cluster-internal name (answered by the replica itself).
    Internal,
    /// An external name (forwarded upstream by the replica).
    External,
}

impl QueryKind {
    /// `internal` / `external`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Internal => "internal",
            QueryKind::External => "external",
        }
    }
}

/// A change the agent turns into an Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultChange {
    /// Fault kind.
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// Raised (true) or cleared (false).
    pub raised: bool,
    /// Message.
    pub message: String,
}

/// The NodeCondition the prober wants on its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodNetworkCondition {
    /// True when the pod network is unreachable.
    pub unreachable: bool,
    /// `PodNetworkUnreachable` or `PodNetworkReachable`.
    pub reason: String,
    /// Counts and names.
    pub message: String,
    /// When the status last changed.
    pub transition: Timestamp,
}

/// What one evaluation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Faults raised, cleared, or whose message changed (re-raised).
    pub changes: Vec<FaultChange>,
    /// The condition, when its status or message changed.
    pub condition: Option<PodNetworkCondition>,
}

#[derive(Debug, Clone, Default)]
struct Streak {
    ok: Option<bool>,
    consecutive_failures: u32,
    failing_since: Option<Timestamp>,
    last_error: Option<String>,
    last_latency_ms: Option<f64>,
    last_ok: Option<Timestamp>,
}

impl Streak {
    fn record(&mut self, ok: bool, error: Option<String>, latency: Duration, now: Timestamp) {
        self.ok = Some(ok);
        if ok {
            self.consecutive_failures = 0;
            self.failing_since = None;
            self.last_ok = Some(now);
            self.last_error = None;
            self.last_latency_ms = Some(latency.as_secs_f64() * 1000.0);
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.failing_since.get_or_insert(now);
            self.last_error = error;
        }
    }

    fn failing(&self, after: u32) -> bool {
        self.consecutive_failures >= after.max(1)
    }
}

#[derive(Debug, Clone)]
struct QueryState {
    name: String,
    streak: Streak,
    result: String,
    detail: String,
    latency_ms: Option<f64>,
}

#[derive(Debug, Clone)]
struct DnsState {
    server: DnsServer,
    queries: BTreeMap<QueryKind, QueryState>,
}

impl DnsState {
    fn ok(&self) -> Option<bool> {
        let mut any = false;
        for q in self.queries.values() {
            match q.streak.ok {
                Some(false) => return Some(false),
                Some(true) => any = true,
                None => {}
            }
        }
        any.then_some(true)
    }

    fn failing_since(&self) -> Option<Timestamp> {
        self.queries
            .values()
            .filter_map(|q| q.streak.failing_since)
            .min()
    }

    /// `servfail for kubernetes.io (external)`, for every failing query.
    fn failure_text(&self) -> String {
        let parts: Vec<String> = self
            .queries
            .values()
            .filter(|q| q.streak.ok == Some(false))
            .map(|q| format!("{} for {}", q.result, q.name))
            .collect();
        parts.join(", ")
    }
}

#[derive(Debug, Clone)]
struct CheckState {
    url: String,
    streak: Streak,
}

#[derive(Debug, Clone)]
struct PathState {
    neighbour: Neighbour,
    streak: Streak,
}

/// Bounded history of fault transitions.
const HISTORY: usize = 200;

/// The prober's state and verdicts.
#[derive(Debug, Clone)]
pub struct Verdicts {
    node: String,
    thresholds: Thresholds,
    started: Timestamp,
    paths: BTreeMap<String, PathState>,
    checks: BTreeMap<String, CheckState>,
    dns: BTreeMap<SocketAddr, DnsState>,
    dns_known: usize,
    dns_names: BTreeMap<QueryKind, String>,
    /// Expected watchers and since when each is expected.
    watchers: BTreeMap<String, Timestamp>,
    incoming: BTreeMap<String, Timestamp>,
    faults: BTreeMap<(String, String), ProbeFault>,
    history: VecDeque<FaultTransition>,
    pod_network: PodNetworkVerdict,
    rule_failures: u32,
    condition_sent: Option<(bool, String)>,
    updated: Option<Timestamp>,
}

impl Verdicts {
    /// A fresh state for `node`, started at `now`. `initial` is the condition as the Node
    /// carries it (after an agent restart), kept until the first verdict.
    pub fn new(
        node: &str,
        thresholds: Thresholds,
        now: Timestamp,
        initial: Option<(bool, Timestamp)>,
    ) -> Self {
        let (unreachable, since) = initial.unwrap_or((false, now));
        Self {
            node: node.to_string(),
            thresholds,
            started: now,
            paths: BTreeMap::new(),
            checks: BTreeMap::new(),
            dns: BTreeMap::new(),
            dns_known: 0,
            dns_names: BTreeMap::new(),
            watchers: BTreeMap::new(),
            incoming: BTreeMap::new(),
            faults: BTreeMap::new(),
            history: VecDeque::new(),
            pod_network: PodNetworkVerdict {
                unreachable,
                since: Some(since),
                message: "no neighbour results yet".to_string(),
                ..PodNetworkVerdict::default()
            },
            rule_failures: 0,
            condition_sent: None,
            updated: None,
        }
    }

    /// The node this state is for.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The thresholds.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Replaces the neighbours; results of neighbours that stay are kept.
    pub fn set_neighbours(&mut self, neighbours: &[Neighbour]) {
        let mut next = BTreeMap::new();
        for n in neighbours {
            let streak = match self.paths.remove(&n.node) {
                // Same node, new pod or IP (a restarted prober): start over.
                Some(old) if old.neighbour == *n => old.streak,
                _ => Streak::default(),
            };
            next.insert(
                n.node.clone(),
                PathState {
                    neighbour: n.clone(),
                    streak,
                },
            );
        }
        self.paths = next;
    }

    /// Replaces the nodes expected to check this one.
    pub fn set_watchers(&mut self, watchers: &[String], now: Timestamp) {
        let mut next = BTreeMap::new();
        for w in watchers {
            let since = self.watchers.get(w).copied().unwrap_or(now);
            next.insert(w.clone(), since);
        }
        self.watchers = next;
    }

    /// Replaces the named checks (name → URL).
    pub fn set_checks(&mut self, checks: &[(String, String)]) {
        let mut next = BTreeMap::new();
        for (name, url) in checks {
            let streak = match self.checks.remove(name) {
                Some(old) if old.url == *url => old.streak,
                _ => Streak::default(),
            };
            next.insert(
                name.clone(),
                CheckState {
                    url: url.clone(),
                    streak,
                },
            );
        }
        self.checks = next;
    }

    /// Replaces the DNS servers probed, the names asked, and how many replicas exist in all
    /// (the prober may probe a bounded subset).
    pub fn set_dns(&mut self, servers: &[DnsServer], names: &[(QueryKind, String)], known: usize) {
        self.dns_names = names.iter().cloned().collect();
        let mut next = BTreeMap::new();
        for s in servers {
            let mut state = self.dns.remove(&s.addr).unwrap_or_else(|| DnsState {
                server: s.clone(),
                queries: BTreeMap::new(),
            });
            state.server = s.clone();
            state
                .queries
                .retain(|k, q| self.dns_names.get(k).is_some_and(|n| *n == q.name));
            next.insert(s.addr, state);
        }
        self.dns = next;
        self.dns_known = known;
    }

    /// Records a path check to `node`'s prober. Results for a node no longer a neighbour are
    /// ignored (the list changed while the check ran).
    pub fn record_path(&mut self, node: &str, outcome: &HttpOutcome, now: Timestamp) {
        if let Some(p) = self.paths.get_mut(node) {
            p.streak.record(
                outcome.ok(),
                outcome.failure.as_ref().map(|f| f.to_string()),
                outcome.elapsed,
                now,
            );
        }
    }

    /// Records a named check.
    pub fn record_check(&mut self, name: &str, outcome: &HttpOutcome, now: Timestamp) {
        if let Some(c) = self.checks.get_mut(name) {
            c.streak.record(
                outcome.ok(),
                outcome.failure.as_ref().map(|f| f.to_string()),
                outcome.elapsed,
                now,
            );
        }
    }

    /// Records a DNS query against one server.
    pub fn record_dns(
        &mut self,
        server: SocketAddr,
        kind: QueryKind,
        outcome: &DnsOutcome,
        now: Timestamp,
    ) {
        let Some(name) = self.dns_names.get(&kind).cloned() else {
            return;
        };
        let Some(state) = self.dns.get_mut(&server) else {
            return;
        };
        let q = state.queries.entry(kind).or_insert_with(|| QueryState {
            name,
            streak: Streak::default(),
            result: String::new(),
            detail: String::new(),
            latency_ms: None,
        });
        q.streak.record(
            outcome.ok(),
            Some(outcome.detail.clone()),
            outcome.elapsed,
            now,
        );
        q.result = outcome.result.as_str().to_string();
        q.detail = outcome.detail.clone();
        q.latency_ms = Some(outcome.elapsed.as_secs_f64() * 1000.0);
    }

    /// Records a check received from `node`'s prober.
    pub fn record_incoming(&mut self, node: &str, now: Timestamp) {
        if node == self.node {
            return;
        }
        // Bounded: only nodes we expect plus a few others are kept (see `prune_incoming`).
        self.incoming.insert(node.to_string(), now);
    }

    fn silent(&self, watcher: &str, since: Timestamp, now: Timestamp) -> bool {
        let silence =
            SignedDuration::try_from(self.thresholds.silence).unwrap_or(SignedDuration::MAX);
        let last = self
            .incoming
            .get(watcher)
            .copied()
            .unwrap_or(since)
            .max(since)
            .max(self.started);
        now.duration_since(last) > silence
    }

    /// Recomputes the verdicts at `now`; returns what changed.
    pub fn evaluate(&mut self, now: Timestamp) -> Evaluation {
        self.updated = Some(now);
        self.prune_incoming(now);
        let mut wanted: BTreeMap<(String, String), (Option<Timestamp>, String)> = BTreeMap::new();

        // Pod network, both directions.
        let with_result: Vec<&PathState> = self
            .paths
            .values()
            .filter(|p| p.streak.ok.is_some())
            .collect();
        let failing: Vec<&str> = with_result
            .iter()
            .filter(|p| p.streak.ok == Some(false))
            .map(|p| p.neighbour.node.as_str())
            .collect();
        let silent: Vec<&str> = self
            .watchers
            .iter()
            .filter(|(w, since)| self.silent(w, **since, now))
            .map(|(w, _)| w.as_str())
            .collect();
        let peers: BTreeSet<&str> = with_result
            .iter()
            .map(|p| p.neighbour.node.as_str())
            .chain(self.watchers.keys().map(String::as_str))
            .collect();
        let (out_total, out_failed) = (with_result.len(), failing.len());
        let (in_total, in_silent) = (self.watchers.len(), silent.len());
        let rule = out_total > 0
            && in_total > 0
            && peers.len() >= 2
            && out_failed * 2 > out_total
            && in_silent * 2 > in_total;
        // Before a silence window has passed since start, silence means nothing yet.
        let warm = now.duration_since(self.started)
            > SignedDuration::try_from(self.thresholds.silence).unwrap_or(SignedDuration::MAX);
        let was = self.pod_network.unreachable;
        let unreachable = if rule && warm {
            self.rule_failures = 0;
            true
        } else if was {
            if warm && out_total > 0 {
                self.rule_failures += 1;
            }
            self.rule_failures < self.thresholds.clear_after.max(1)
        } else {
            false
        };
        let list = |names: &[&str]| -> String {
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", shorten(names, 5))
            }
        };
        let message = if out_total == 0 && in_total == 0 {
            "no neighbours to check".to_string()
        } else if unreachable {
            format!(
                "pod network unreachable: {out_failed}/{out_total} checks to neighbours fail{}, {in_silent}/{in_total} nodes that check this one went silent{}",
                list(&failing),
                list(&silent)
            )
        } else {
            format!(
                "pod network reachable: {out_failed}/{out_total} checks to neighbours fail{}, {in_silent}/{in_total} nodes that check this one went silent{}",
                list(&failing),
                list(&silent)
            )
        };
        if unreachable != was {
            self.pod_network.since = Some(now);
            self.rule_failures = 0;
        }
        self.pod_network = PodNetworkVerdict {
            unreachable,
            since: self.pod_network.since,
            outgoing_failed: out_failed,
            outgoing_total: out_total,
            incoming_silent: in_silent,
            incoming_expected: in_total,
            failing_neighbours: failing.iter().map(|s| s.to_string()).collect(),
            silent_watchers: silent.iter().map(|s| s.to_string()).collect(),
            message: message.clone(),
        };
        if unreachable {
            wanted.insert(
                (kind::POD_NETWORK_UNREACHABLE.into(), self.node.clone()),
                (self.pod_network.since, message.clone()),
            );
        }

        // Neighbours. When most checks out fail, the cause is more likely here than in each
        // neighbour: accuse none of them; if the checks into this node still arrive, its
        // egress is what is broken.
        let most_out_fail = out_total >= 2 && out_failed * 2 > out_total;
        // The egress verdict wants settled failures (a neighbour that starts a second later
        // than this node is not a broken egress).
        let settled_failing = with_result
            .iter()
            .filter(|p| p.streak.failing(self.thresholds.fail_after))
            .count();
        let out_failing_since = with_result
            .iter()
            .filter_map(|p| p.streak.failing_since)
            .min();
        // Checks in that arrived after the checks out started failing prove the way in works.
        let heard_since_failing = out_failing_since.map_or(0, |since| {
            self.watchers
                .keys()
                .filter(|w| self.incoming.get(*w).is_some_and(|t| *t > since))
                .count()
        });
        if settled_failing * 2 > out_total
            && out_total >= 2
            && warm
            && !unreachable
            && in_total > 0
            && heard_since_failing * 2 > in_total
        {
            wanted.insert(
                (kind::POD_NETWORK_EGRESS_BROKEN.into(), self.node.clone()),
                (
                    out_failing_since,
                    format!(
                        "{out_failed}/{out_total} checks from {} to neighbours fail{} while {heard_since_failing}/{in_total} nodes that check it get through: traffic leaving this node's pod network is dropped",
                        self.node,
                        list(&failing),
                    ),
                ),
            );
        }
        if !most_out_fail {
            for p in self.paths.values() {
                if p.streak.failing(self.thresholds.fail_after) {
                    wanted.insert(
                        (kind::NEIGHBOUR_UNREACHABLE.into(), p.neighbour.node.clone()),
                        (
                            p.streak.failing_since,
                            format!(
                                "prober {} on node {} ({}) does not answer from {}: {} ({} checks in a row)",
                                p.neighbour.pod,
                                p.neighbour.node,
                                p.neighbour.ip,
                                self.node,
                                p.streak.last_error.as_deref().unwrap_or("failed"),
                                p.streak.consecutive_failures
                            ),
                        ),
                    );
                }
            }
        }

        // DNS.
        let replicas: Vec<&DnsState> = self
            .dns
            .values()
            .filter(|d| d.server.role == DnsRole::Replica && d.ok().is_some())
            .collect();
        let failing_replicas: Vec<&DnsState> = replicas
            .iter()
            .copied()
            .filter(|d| d.ok() == Some(false))
            .collect();
        for d in self.dns.values() {
            if d.ok() != Some(false) {
                continue;
            }
            // A resolver or node-local cache forwards to the replicas: while replicas fail,
            // some of its answers fail too, which the replica faults already explain; on its
            // own it must fail several probes in a row.
            if d.server.role != DnsRole::Replica
                && (!failing_replicas.is_empty()
                    || d.queries
                        .values()
                        .map(|q| q.streak.consecutive_failures)
                        .max()
                        .unwrap_or(0)
                        < self.thresholds.fail_after)
            {
                continue;
            }
            let k = match d.server.role {
                DnsRole::Replica => kind::DNS_REPLICA_FAILING,
                DnsRole::NodeLocal => kind::NODE_LOCAL_DNS_FAILING,
                DnsRole::Resolver => kind::DNS_RESOLVER_FAILING,
            };
            wanted.insert(
                (k.into(), d.server.addr.to_string()),
                (
                    d.failing_since(),
                    format!(
                        "DNS server {} fails: {}",
                        d.server.describe(),
                        d.failure_text()
                    ),
                ),
            );
        }
        if !failing_replicas.is_empty() {
            let names: Vec<String> = failing_replicas
                .iter()
                .map(|d| format!("{}: {}", d.server.describe(), d.failure_text()))
                .collect();
            let since = failing_replicas
                .iter()
                .filter_map(|d| d.failing_since())
                .min();
            let unprobed = self.dns_known.saturating_sub(
                self.dns
                    .values()
                    .filter(|d| d.server.role == DnsRole::Replica)
                    .count(),
            );
            let scope = if unprobed > 0 {
                format!(" ({unprobed} more replicas not probed from this node)")
            } else {
                String::new()
            };
            if failing_replicas.len() < replicas.len() {
                wanted.insert(
                    (kind::DNS_PARTIAL_FAILURE.into(), "cluster-dns".into()),
                    (
                        since,
                        format!(
                            "{} of {} DNS replicas fail{scope}: {}",
                            failing_replicas.len(),
                            replicas.len(),
                            names.join("; ")
                        ),
                    ),
                );
            } else {
                wanted.insert(
                    (kind::DNS_DOWN.into(), "cluster-dns".into()),
                    (
                        since,
                        format!(
                            "all {} DNS replicas probed fail{scope}: {}",
                            replicas.len(),
                            names.join("; ")
                        ),
                    ),
                );
            }
        }

        // Named checks.
        let any_path_ok = self.paths.values().any(|p| p.streak.ok == Some(true));
        let direct_ok = self
            .checks
            .get("api_server_direct")
            .is_none_or(|c| c.streak.ok != Some(false));
        for (name, c) in &self.checks {
            if !c.streak.failing(self.thresholds.fail_after) {
                continue;
            }
            let err = c.streak.last_error.as_deref().unwrap_or("failed");
            let (k, message) = match name.as_str() {
                "api_server_direct" => (
                    kind::APISERVER_UNREACHABLE,
                    format!("apiserver at {} does not answer: {err}", c.url),
                ),
                "api_server_dns" if direct_ok => (
                    kind::APISERVER_DNS_FAILING,
                    format!(
                        "apiserver answers directly but not through its DNS name ({}): {err}",
                        c.url
                    ),
                ),
                "api_server_dns" => (
                    kind::APISERVER_UNREACHABLE,
                    format!("apiserver through {} does not answer: {err}", c.url),
                ),
                "me_service" if any_path_ok => (
                    kind::SERVICE_DATA_PATH_BROKEN,
                    format!(
                        "the probers' Service ({}) fails from {} while their pod IPs answer: the Service rules (kube-proxy) on this node are broken: {err}",
                        c.url, self.node
                    ),
                ),
                _ => (
                    kind::CHECK_FAILING,
                    format!("check {name} ({}) fails: {err}", c.url),
                ),
            };
            wanted.insert((k.into(), name.clone()), (c.streak.failing_since, message));
        }

        // Diff against the faults in effect.
        let mut changes = Vec::new();
        let keys: BTreeSet<(String, String)> =
            self.faults.keys().chain(wanted.keys()).cloned().collect();
        for key in keys {
            match (self.faults.get(&key).cloned(), wanted.get(&key)) {
                (Some(old), None) => {
                    let message = old.message.clone();
                    self.faults.remove(&key);
                    changes.push(self.transition(&key, false, message, now));
                }
                (old, Some((since, message))) => {
                    if old.as_ref().is_some_and(|o| o.message == *message) {
                        continue;
                    }
                    let since = old.as_ref().and_then(|o| o.since).or(*since).or(Some(now));
                    self.faults.insert(
                        key.clone(),
                        ProbeFault {
                            kind: key.0.clone(),
                            subject: key.1.clone(),
                            since,
                            message: message.clone(),
                        },
                    );
                    // A message change of a fault in effect is reported only when what it
                    // names changes, not when a count of consecutive failures moves.
                    if old.is_none() || significant_change(&key.0) {
                        changes.push(self.transition(&key, true, message.clone(), now));
                    }
                }
                (None, None) => {}
            }
        }

        // The condition: on status changes, and when the counts in its message change.
        let reason = if unreachable {
            "PodNetworkUnreachable"
        } else {
            "PodNetworkReachable"
        };
        let condition = if self.condition_sent.as_ref() != Some(&(unreachable, message.clone()))
            && (warm || self.condition_sent.is_none())
        {
            self.condition_sent = Some((unreachable, message.clone()));
            Some(PodNetworkCondition {
                unreachable,
                reason: reason.to_string(),
                message,
                transition: self.pod_network.since.unwrap_or(now),
            })
        } else {
            None
        };
        Evaluation { changes, condition }
    }

    fn transition(
        &mut self,
        key: &(String, String),
        raised: bool,
        message: String,
        now: Timestamp,
    ) -> FaultChange {
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(FaultTransition {
            time: Some(now),
            kind: key.0.clone(),
            subject: key.1.clone(),
            raised,
            message: message.clone(),
        });
        FaultChange {
            kind: key.0.clone(),
            subject: key.1.clone(),
            raised,
            message,
        }
    }

    /// Drops incoming records of nodes that are neither expected nor recent, so a cluster's
    /// worth of stray senders cannot grow the map without bound.
    fn prune_incoming(&mut self, now: Timestamp) {
        let keep = SignedDuration::from_mins(2);
        let watchers = &self.watchers;
        self.incoming
            .retain(|n, t| watchers.contains_key(n) || now.duration_since(*t) < keep);
    }

    /// Whether the pod network is currently judged unreachable.
    pub fn pod_network_unreachable(&self) -> bool {
        self.pod_network.unreachable
    }

    /// The faults in effect.
    pub fn faults(&self) -> impl Iterator<Item = &ProbeFault> {
        self.faults.values()
    }

    /// Everything, as served on `/probes` and carried in the node facts.
    pub fn facts(&self, now: Timestamp) -> ProbeFacts {
        let neighbours = self
            .paths
            .values()
            .map(|p| PathProbe {
                node: p.neighbour.node.clone(),
                pod: p.neighbour.pod.clone(),
                ip: p.neighbour.ip.to_string(),
                ok: p.streak.ok,
                consecutive_failures: p.streak.consecutive_failures,
                failing_since: p.streak.failing_since,
                last_error: p.streak.last_error.clone(),
                last_latency_ms: p.streak.last_latency_ms,
                last_ok: p.streak.last_ok,
            })
            .collect();
        let mut incoming: Vec<IncomingProbe> = self
            .watchers
            .iter()
            .map(|(w, since)| IncomingProbe {
                node: w.clone(),
                last_seen: self.incoming.get(w).copied(),
                expected: true,
                silent: self.silent(w, *since, now),
            })
            .collect();
        incoming.extend(
            self.incoming
                .iter()
                .filter(|(n, _)| !self.watchers.contains_key(*n))
                .map(|(n, t)| IncomingProbe {
                    node: n.clone(),
                    last_seen: Some(*t),
                    expected: false,
                    silent: false,
                }),
        );
        let dns = self
            .dns
            .values()
            .map(|d| DnsServerProbe {
                server: d.server.addr.to_string(),
                role: d.server.role,
                pod: d.server.pod.clone(),
                namespace: d.server.namespace.clone(),
                pod_node: d.server.node.clone(),
                ok: d.ok(),
                failing_since: d.failing_since(),
                queries: d
                    .queries
                    .iter()
                    .map(|(k, q)| DnsQueryProbe {
                        name: q.name.clone(),
                        kind: k.as_str().to_string(),
                        result: q.result.clone(),
                        detail: q.detail.clone(),
                        latency_ms: q.latency_ms,
                        consecutive_failures: q.streak.consecutive_failures,
                        failing_since: q.streak.failing_since,
                    })
                    .collect(),
            })
            .collect();
        let checks = self
            .checks
            .iter()
            .map(|(name, c)| CheckProbe {
                name: name.clone(),
                url: c.url.clone(),
                ok: c.streak.ok,
                consecutive_failures: c.streak.consecutive_failures,
                failing_since: c.streak.failing_since,
                last_error: c.streak.last_error.clone(),
                last_latency_ms: c.streak.last_latency_ms,
            })
            .collect();
        ProbeFacts {
            node: self.node.clone(),
            updated_at: self.updated,
            interval_seconds: self.thresholds.interval.as_secs_f64(),
            pod_network: Some(self.pod_network.clone()),
            neighbours,
            incoming,
            dns,
            dns_replicas_known: self.dns_known,
            checks,
            faults: self.faults.values().cloned().collect(),
            history: self.history.iter().cloned().collect(),
        }
    }
}

/// Aggregate faults whose message names *which* things fail: a change is news. Per-target
/// faults' messages only carry counters.
fn significant_change(kind: &str) -> bool {
    matches!(kind, kind::DNS_PARTIAL_FAILURE | kind::DNS_DOWN)
}

/// `a, b, c and 4 more`.
fn shorten(names: &[&str], max: usize) -> String {
    if names.len() <= max {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..max].join(", "), names.len() - max)
    }
}

#[cfg(test)]
mod tests;
