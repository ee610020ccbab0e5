//! Network probe results of one node's agent (`kubemedic agent --probes`): what it checked, what
//! failed since when, and the verdicts it drew.
//!
//! Served by the agent on `/probes`, carried in [`crate::NodeFacts::probes`] (so dumps keep them in
//! `_nodes/<node>/facts.json`), and read by the diagnosis engine as evidence for
//! `DNSPartialFailure` and `NodePodNetworkDown`. Every field has a default so results written by an
//! older or newer agent still parse.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Everything one node's prober knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProbeFacts {
    /// The node the prober runs on.
    pub node: String,
    /// When these results were last updated.
    pub updated_at: Option<Timestamp>,
    /// Probe interval in seconds.
    pub interval_seconds: f64,
    /// The pod-network verdict for this node (from its own checks out and its neighbours' checks in).
    pub pod_network: Option<PodNetworkVerdict>,
    /// Path checks to the neighbours this node probes (its next N nodes on the hash ring).
    pub neighbours: Vec<PathProbe>,
    /// Checks received from other nodes' probers, and which of them were expected.
    pub incoming: Vec<IncomingProbe>,
    /// DNS servers probed one by one (cluster DNS replicas, node-local caches, the resolver).
    pub dns: Vec<DnsServerProbe>,
    /// DNS replicas known to the prober (it probes at most a bounded number of them).
    pub dns_replicas_known: usize,
    /// The other checks (apiserver direct and through DNS, own Service, Ingress, extra URLs).
    pub checks: Vec<CheckProbe>,
    /// Faults in effect now.
    pub faults: Vec<ProbeFault>,
    /// Recent fault transitions, oldest first (bounded).
    pub history: Vec<FaultTransition>,
}

/// This node's pod network, judged from both directions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodNetworkVerdict {
    /// True when most checks out of this node fail and most expected checks into it stopped.
    pub unreachable: bool,
    /// Since when the verdict holds (unreachable or reachable).
    pub since: Option<Timestamp>,
    /// Neighbour checks from this node that currently fail.
    pub outgoing_failed: usize,
    /// Neighbour checks from this node with a result.
    pub outgoing_total: usize,
    /// Nodes expected to check this node (its predecessors on the ring) that went silent.
    pub incoming_silent: usize,
    /// Nodes expected to check this node.
    pub incoming_expected: usize,
    /// Neighbours whose checks fail.
    pub failing_neighbours: Vec<String>,
    /// Expected checkers that went silent.
    pub silent_watchers: Vec<String>,
    /// One line saying why, as written into the NodeCondition message.
    pub message: String,
}

/// The state of the path check to one neighbour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PathProbe {
    /// Neighbour node.
    pub node: String,
    /// Neighbour prober pod.
    pub pod: String,
    /// Address checked (pod IP).
    pub ip: String,
    /// Whether the last check succeeded (None before the first result).
    pub ok: Option<bool>,
    /// Consecutive failures up to now.
    pub consecutive_failures: u32,
    /// Since when the checks fail.
    pub failing_since: Option<Timestamp>,
    /// The last error (`connect_done: connection timed out`, `status_code_500`, ...).
    pub last_error: Option<String>,
    /// Duration of the last successful check, in milliseconds.
    pub last_latency_ms: Option<f64>,
    /// When a check last succeeded.
    pub last_ok: Option<Timestamp>,
}

/// Checks received from one other node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IncomingProbe {
    /// The checking node.
    pub node: String,
    /// When its last check arrived (None: expected but never seen).
    pub last_seen: Option<Timestamp>,
    /// Whether the ring says this node should be checking us.
    pub expected: bool,
    /// Expected and not heard from within the silence window.
    pub silent: bool,
}

/// What a DNS server is to this node.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DnsRole {
    /// One replica of the cluster DNS (an endpoint of the kube-dns Service).
    #[default]
    Replica,
    /// A node-local DNS cache (NodeLocal DNSCache on 169.254.20.10 or similar).
    NodeLocal,
    /// A nameserver from the node's resolv.conf (the Service VIP, usually).
    Resolver,
}

/// Per-server DNS results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DnsServerProbe {
    /// Server address (`ip:port`).
    pub server: String,
    /// Role of the server.
    pub role: DnsRole,
    /// Pod behind the endpoint, when known (`coredns-5d78c9869d-abcde`).
    pub pod: Option<String>,
    /// Namespace of that pod.
    pub namespace: Option<String>,
    /// Node of that pod.
    pub pod_node: Option<String>,
    /// Whether the server answered every query correctly last time (None before the first result).
    pub ok: Option<bool>,
    /// Since when it fails.
    pub failing_since: Option<Timestamp>,
    /// The queries and their last outcome.
    pub queries: Vec<DnsQueryProbe>,
}

/// One name resolved against one server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DnsQueryProbe {
    /// The name asked.
    pub name: String,
    /// `internal` (a cluster name) or `external` (a name the replica forwards upstream).
    pub kind: String,
    /// Outcome: `ok`, `servfail`, `nxdomain`, `refused`, `nodata`, `timeout`, `malformed`,
    /// `truncated`, `error`.
    pub result: String,
    /// Detail (addresses on success, the reason otherwise).
    pub detail: String,
    /// Duration of the last query in milliseconds.
    pub latency_ms: Option<f64>,
    /// Consecutive failures up to now.
    pub consecutive_failures: u32,
    /// Since when this query fails.
    pub failing_since: Option<Timestamp>,
}

/// One of the other checks (kubenurse's `api_server_direct`, `api_server_dns`, `me_service`,
/// `me_ingress`, extra checks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CheckProbe {
    /// Check name (the kubenurse `type` label).
    pub name: String,
    /// URL checked.
    pub url: String,
    /// Whether the last check succeeded (None before the first result).
    pub ok: Option<bool>,
    /// Consecutive failures up to now.
    pub consecutive_failures: u32,
    /// Since when it fails.
    pub failing_since: Option<Timestamp>,
    /// The last error.
    pub last_error: Option<String>,
    /// Duration of the last check in milliseconds.
    pub last_latency_ms: Option<f64>,
}

/// A named fault the prober concluded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProbeFault {
    /// Fault kind: `PodNetworkUnreachable`, `DNSPartialFailure`, `DNSDown`, `DNSReplicaFailing`,
    /// `NodeLocalDNSFailing`, `ServiceDataPathBroken`, `NeighbourUnreachable`,
    /// `APIServerUnreachable`, `APIServerDNSFailing`, `CheckFailing`.
    pub kind: String,
    /// What it is about (a node, a DNS server, a check name).
    pub subject: String,
    /// Since when.
    pub since: Option<Timestamp>,
    /// One line for a person.
    pub message: String,
}

/// A fault raised or cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FaultTransition {
    /// When.
    pub time: Option<Timestamp>,
    /// Fault kind.
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// True when raised, false when cleared.
    pub raised: bool,
    /// The fault's message at that time.
    pub message: String,
}

impl ProbeFacts {
    /// The fault of `kind` about `subject`, if in effect.
    pub fn fault(&self, kind: &str, subject: &str) -> Option<&ProbeFault> {
        self.faults
            .iter()
            .find(|f| f.kind == kind && f.subject == subject)
    }
}
