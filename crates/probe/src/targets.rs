//! What to probe, from what discovery found: neighbours (kubenurse's filtering and ring), the
//! nodes expected to check this one, and a bounded, spread subset of the DNS replicas. Pure.

use crate::ring;
use crate::verdict::{DnsServer, Neighbour};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A prober pod as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPod {
    /// Pod name.
    pub name: String,
    /// Node it runs on (empty while unscheduled).
    pub node: String,
    /// Pod IP, once assigned.
    pub ip: Option<IpAddr>,
    /// Phase is Running.
    pub running: bool,
    /// Has a deletionTimestamp.
    pub terminating: bool,
}

/// Everything discovery knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Prober pods (kubenurse: pods matching the neighbour filter in its namespace).
    pub peers: Vec<PeerPod>,
    /// Nodes that are cordoned (spec.unschedulable).
    pub unschedulable: BTreeSet<String>,
    /// Ready endpoints of the cluster DNS Service.
    pub dns: Vec<DnsServer>,
    /// Whether every source has listed once (before that, absence means nothing).
    pub synced: bool,
}

/// How targets are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectOptions {
    /// This node.
    pub node: String,
    /// Neighbours per node; 0 = all (kubenurse's `KUBENURSE_NEIGHBOUR_LIMIT`).
    pub neighbour_limit: usize,
    /// Also check probers on cordoned nodes (`KUBENURSE_ALLOW_UNSCHEDULABLE`).
    pub allow_unschedulable: bool,
    /// Nodes never checked (and never expected to check).
    pub exclude_nodes: BTreeSet<String>,
    /// At most this many DNS replicas probed from this node; 0 = all.
    pub dns_max_servers: usize,
}

/// The chosen targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Neighbours to check, nearest on the ring first.
    pub neighbours: Vec<Neighbour>,
    /// Nodes whose checks this node should receive.
    pub watchers: Vec<String>,
    /// DNS replicas to probe.
    pub dns: Vec<DnsServer>,
    /// DNS replicas known in all.
    pub dns_known: usize,
    /// Pod name → node, for every prober pod (to attribute kubenurse-style origin headers).
    pub pod_nodes: BTreeMap<String, String>,
}

fn eligible(node: &str, options: &SelectOptions, unschedulable: &BTreeSet<String>) -> bool {
    !node.is_empty()
        && !options.exclude_nodes.contains(node)
        && (options.allow_unschedulable || !unschedulable.contains(node))
}

/// Chooses the targets.
pub fn select(options: &SelectOptions, found: &Discovered) -> Selection {
    // One prober per node: during a rollout a node briefly runs two; the older, terminating one
    // is already out, and between two running ones the name decides (stable across calls).
    let mut per_node: BTreeMap<&str, &PeerPod> = BTreeMap::new();
    for p in &found.peers {
        if !p.running || p.terminating || p.ip.is_none() {
            continue;
        }
        if !eligible(&p.node, options, &found.unschedulable) {
            continue;
        }
        per_node
            .entry(p.node.as_str())
            .and_modify(|q| {
                if p.name < q.name {
                    *q = p;
                }
            })
            .or_insert(p);
    }
    let candidates: Vec<Neighbour> = per_node
        .values()
        .filter_map(|p| {
            Some(Neighbour {
                node: p.node.clone(),
                pod: p.name.clone(),
                ip: p.ip?,
            })
        })
        .collect();
    let neighbours: Vec<Neighbour> =
        ring::successors(&options.node, &candidates, options.neighbour_limit, |n| {
            n.node.as_str()
        })
        .into_iter()
        .cloned()
        .collect();
    let watchers = if eligible(&options.node, options, &found.unschedulable) {
        let nodes: Vec<String> = candidates.iter().map(|c| c.node.clone()).collect();
        ring::watchers(&options.node, &nodes, options.neighbour_limit)
    } else {
        // Others do not check a cordoned or excluded node: expect nobody.
        Vec::new()
    };
    let keys: Vec<String> = found.dns.iter().map(|d| d.addr.to_string()).collect();
    let indexed: Vec<(String, &DnsServer)> = keys.into_iter().zip(found.dns.iter()).collect();
    let mut dns: Vec<DnsServer> = ring::spread(
        &options.node,
        &indexed,
        options.dns_max_servers,
        |(k, _)| k.as_str(),
    )
    .into_iter()
    .map(|(_, d)| (*d).clone())
    .collect();
    dns.sort();
    dns.dedup_by(|a, b| a.addr == b.addr);
    let pod_nodes = found
        .peers
        .iter()
        .filter(|p| !p.node.is_empty())
        .map(|p| (p.name.clone(), p.node.clone()))
        .collect();
    Selection {
        neighbours,
        watchers,
        dns,
        dns_known: found.dns.len(),
        pod_nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubemedic_model::probes::DnsRole;
    use std::net::SocketAddr;

    fn peer(i: usize) -> PeerPod {
        PeerPod {
            name: format!("agent-{i}"),
            node: format!("n{i}"),
            ip: Some(IpAddr::from([10, 1, (i / 250) as u8, (i % 250) as u8])),
            running: true,
            terminating: false,
        }
    }

    fn options(limit: usize) -> SelectOptions {
        SelectOptions {
            node: "n0".into(),
            neighbour_limit: limit,
            allow_unschedulable: false,
            exclude_nodes: BTreeSet::new(),
            dns_max_servers: 16,
        }
    }

    #[test]
    fn kubenurse_filtering() {
        let mut found = Discovered {
            peers: (0..8).map(peer).collect(),
            ..Discovered::default()
        };
        found.peers[1].running = false; // pending
        found.peers[2].terminating = true;
        found.peers[3].ip = None;
        found.unschedulable.insert("n4".into());
        let mut o = options(0);
        o.exclude_nodes.insert("n5".into());
        let s = select(&o, &found);
        let mut nodes: Vec<&str> = s.neighbours.iter().map(|n| n.node.as_str()).collect();
        nodes.sort();
        assert_eq!(nodes, vec!["n6", "n7"]);
        o.allow_unschedulable = true;
        let s = select(&o, &found);
        assert_eq!(s.neighbours.len(), 3);
        assert_eq!(s.pod_nodes["agent-1"], "n1");
    }

    #[test]
    fn one_prober_per_node_and_none_on_self() {
        let mut found = Discovered {
            peers: (0..4).map(peer).collect(),
            ..Discovered::default()
        };
        let mut second = peer(2);
        second.name = "agent-2-new".into();
        second.ip = Some(IpAddr::from([10, 9, 9, 9]));
        found.peers.push(second);
        let mut own = peer(0);
        own.name = "agent-0-other".into();
        found.peers.push(own);
        let s = select(&options(0), &found);
        assert_eq!(s.neighbours.len(), 3);
        let n2 = s.neighbours.iter().find(|n| n.node == "n2").unwrap();
        assert_eq!(n2.pod, "agent-2");
    }

    #[test]
    fn cordoned_self_expects_no_watchers() {
        let mut found = Discovered {
            peers: (0..6).map(peer).collect(),
            ..Discovered::default()
        };
        assert_eq!(select(&options(3), &found).watchers.len(), 3);
        found.unschedulable.insert("n0".into());
        let s = select(&options(3), &found);
        assert!(s.watchers.is_empty());
        assert_eq!(s.neighbours.len(), 3);
    }

    #[test]
    fn ten_thousand_peers_and_dns_endpoints_stay_bounded() {
        let found = Discovered {
            peers: (0..10_000).map(peer).collect(),
            dns: (0..10_000)
                .map(|i| DnsServer {
                    addr: SocketAddr::from(([10, 2, (i / 250) as u8, (i % 250) as u8], 53)),
                    role: DnsRole::Replica,
                    pod: Some(format!("coredns-{i}")),
                    namespace: Some("kube-system".into()),
                    node: None,
                })
                .collect(),
            ..Discovered::default()
        };
        let s = select(&options(10), &found);
        assert_eq!(s.neighbours.len(), 10);
        assert_eq!(s.watchers.len(), 10);
        assert_eq!(s.dns.len(), 16);
        assert_eq!(s.dns_known, 10_000);
        // Deterministic.
        assert_eq!(select(&options(10), &found), s);
    }
}
