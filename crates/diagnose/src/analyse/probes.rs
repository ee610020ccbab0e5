//! Network faults from the agents' probe results (`NodeFacts::probes`): `DNSPartialFailure`
//! from per-replica DNS probes, `NodePodNetworkDown` from the neighbour checks of many nodes.
//!
//! Both judge by the majority of vantage points, so one node with a broken network of its own
//! condemns neither the replicas it cannot reach nor its neighbours: a replica is broken when
//! most nodes that probed it see it fail; a node's pod network is down when it says so itself
//! (its checks out fail and its checks in stopped), or when most healthy nodes that check it
//! fail to reach it. The `PodNetworkUnreachable` condition is the fallback when no probe
//! results are in the snapshot.

use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::Ctx;
use crate::util::{clip, finding};
use jiff::Timestamp;
use kubemedic_model::probes::{DnsRole, ProbeFacts};
use std::collections::{BTreeMap, BTreeSet};

/// Evidence lines quoted per replica or per node pair family.
const PER_SUBJECT: usize = 3;

/// What the probe analysers covered, so the log- and condition-based fallbacks stay quiet.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Coverage {
    /// Some node probed the DNS replicas one by one.
    pub dns: bool,
}

fn probes<'a>(ctx: &Ctx<'a>) -> impl Iterator<Item = (&'a str, &'a ProbeFacts)> {
    ctx.snap
        .node_facts
        .iter()
        .filter_map(|(node, f)| Some((node.as_str(), f.probes.as_ref()?)))
}

fn at(t: Option<Timestamp>) -> String {
    t.and_then(|t| t.round(jiff::Unit::Second).ok())
        .map(|t| format!(" since {t}"))
        .unwrap_or_default()
}

/// Whether the probe results in the snapshot decide `cause`, so that conditions and Events
/// named after it (the probers' own, written from the same results, or stale ones) add no
/// finding of their own: `DNSPartialFailure` once some node probed the DNS replicas one by one,
/// `NodePodNetworkDown` once some node has a pod-network verdict or neighbour checks.
pub(crate) fn decides(ctx: &Ctx<'_>, cause: Cause) -> bool {
    match cause {
        Cause::DNSPartialFailure => probes(ctx).any(|(_, p)| {
            p.dns
                .iter()
                .any(|d| d.role == DnsRole::Replica && d.ok.is_some())
        }),
        Cause::NodePodNetworkDown => {
            probes(ctx).any(|(_, p)| p.pod_network.is_some() || !p.neighbours.is_empty())
        }
        _ => false,
    }
}

/// Runs the probe analysers.
pub(crate) fn analyse(ctx: &Ctx<'_>, out: &mut Vec<Finding>) -> Coverage {
    let dns = dns_replicas(ctx, out);
    pod_network(ctx, out);
    Coverage { dns }
}

#[derive(Default)]
struct Replica<'a> {
    pod: Option<&'a str>,
    namespace: Option<&'a str>,
    pod_node: Option<&'a str>,
    /// (reporting node, failing, failing since, what fails)
    seen: Vec<(&'a str, bool, Option<Timestamp>, String)>,
}

fn dns_replicas(ctx: &Ctx<'_>, out: &mut Vec<Finding>) -> bool {
    let mut replicas: BTreeMap<&str, Replica<'_>> = BTreeMap::new();
    for (node, p) in probes(ctx) {
        for d in p.dns.iter().filter(|d| d.role == DnsRole::Replica) {
            let Some(ok) = d.ok else { continue };
            let r = replicas.entry(d.server.as_str()).or_default();
            r.pod = r.pod.or(d.pod.as_deref());
            r.namespace = r.namespace.or(d.namespace.as_deref());
            r.pod_node = r.pod_node.or(d.pod_node.as_deref());
            let what: Vec<String> = d
                .queries
                .iter()
                .filter(|q| q.result != "ok")
                .map(|q| format!("{} for {} ({})", q.result, q.name, clip(&q.detail)))
                .collect();
            r.seen.push((node, !ok, d.failing_since, what.join(", ")));
        }
    }
    if replicas.is_empty() {
        return false;
    }
    let broken: Vec<(&str, &Replica<'_>)> = replicas
        .iter()
        .filter(|(_, r)| r.seen.iter().filter(|s| s.1).count() * 2 > r.seen.len())
        .map(|(k, r)| (*k, r))
        .collect();
    let healthy = replicas.len() - broken.len();
    // None failing: healthy. All failing: not partial (the upstream or the network is).
    if broken.is_empty() || healthy == 0 {
        return true;
    }
    let name_of = |server: &str, r: &Replica<'_>| r.pod.map_or(server.to_string(), str::to_string);
    let names: Vec<String> = broken.iter().map(|(s, r)| name_of(s, r)).collect();
    let ns = broken
        .iter()
        .find_map(|(_, r)| r.namespace)
        .unwrap_or("kube-system")
        .to_string();
    // The workload behind the replicas, when the snapshot has their pods.
    let workload = broken.iter().find_map(|(_, r)| {
        let pod = ctx.snap.pods.iter().find(|p| {
            p.metadata.name.as_deref() == r.pod && p.metadata.namespace.as_deref() == r.namespace
        })?;
        ctx.workload_of(pod)
    });
    let (kind, wl) = workload.unwrap_or(("Deployment", "coredns"));
    let first = broken
        .iter()
        .find_map(|(_, r)| r.seen.iter().find(|s| s.1).map(|s| s.3.clone()))
        .unwrap_or_default();
    let mut f = finding(
        Cause::DNSPartialFailure,
        Severity::Warning,
        ObjectRef::namespaced(kind, &ns, wl),
        format!(
            "{} of {} DNS replicas fail ({}): {}; lookups through the Service fail intermittently",
            broken.len(),
            replicas.len(),
            names.join(", "),
            clip(&first)
        ),
        0.9,
    );
    for (server, r) in &broken {
        let failing: Vec<&(&str, bool, Option<Timestamp>, String)> =
            r.seen.iter().filter(|s| s.1).collect();
        for (node, _, since, what) in failing.iter().take(PER_SUBJECT) {
            f.evidence.push(Evidence::new(
                format!("probes from node {node}"),
                format!(
                    "replica {server} ({}{}): {what}{}",
                    name_of(server, r),
                    r.pod_node.map(|n| format!(" on {n}")).unwrap_or_default(),
                    at(*since)
                ),
            ));
        }
        f.evidence.push(Evidence::new(
            "probes",
            format!(
                "{}: failing from {} of {} nodes that probe it",
                name_of(server, r),
                failing.len(),
                r.seen.len()
            ),
        ));
    }
    f.evidence.push(Evidence::new(
        "probes",
        format!("{healthy} replica(s) answer from the nodes that probe them"),
    ));
    let pods: Vec<&str> = broken.iter().filter_map(|(_, r)| r.pod).collect();
    f.remediation = vec![
        format!(
            "kubectl -n {ns} logs {} --tail=50   # what the failing replica says",
            pods.first().copied().unwrap_or("<dns pod>")
        ),
        format!(
            "kubectl -n {ns} delete pod {}   # replace the failing replicas; check the upstream servers in their Corefile / node resolv.conf",
            if pods.is_empty() {
                "<dns pods>".to_string()
            } else {
                pods.join(" ")
            }
        ),
        "curl -s <agent>:20258/probes   # the per-replica results of any node".to_string(),
    ];
    f.affected = broken
        .iter()
        .filter_map(|(_, r)| Some(ObjectRef::pod(r.namespace.unwrap_or(&ns), r.pod?)))
        .collect();
    out.push(f);
    true
}

/// A source node's own network is sound enough to count as a witness.
fn healthy_witness(p: &ProbeFacts, target: &str) -> bool {
    if p.pod_network.as_ref().is_some_and(|v| v.unreachable) {
        return false;
    }
    let others: Vec<bool> = p
        .neighbours
        .iter()
        .filter(|n| n.node != target)
        .filter_map(|n| n.ok)
        .collect();
    // With no other neighbour to judge by, the witness counts (a small cluster).
    others.is_empty() || others.iter().filter(|ok| **ok).count() * 2 >= others.len()
}

fn pod_network(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let all: Vec<(&str, &ProbeFacts)> = probes(ctx).collect();
    let mut targets: BTreeSet<&str> = all.iter().map(|(n, _)| *n).collect();
    for (_, p) in &all {
        targets.extend(p.neighbours.iter().map(|n| n.node.as_str()));
    }
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for target in targets {
        let own = all
            .iter()
            .find(|(n, _)| *n == target)
            .and_then(|(_, p)| p.pod_network.as_ref())
            .filter(|v| v.unreachable);
        // Witnesses: healthy nodes that check `target`, and what they see.
        let mut failing = Vec::new();
        let mut reaching = 0;
        for (source, p) in all.iter().filter(|(n, _)| *n != target) {
            let Some(path) = p.neighbours.iter().find(|n| n.node == target) else {
                continue;
            };
            let Some(ok) = path.ok else { continue };
            if !healthy_witness(p, target) {
                continue;
            }
            if ok {
                reaching += 1;
            } else {
                failing.push((*source, path));
            }
        }
        let peers_say = failing.len() >= 2 && failing.len() > reaching;
        if own.is_none() && !peers_say {
            continue;
        }
        covered.insert(target);
        let confidence = match (own.is_some(), peers_say) {
            (true, true) => 0.95,
            (true, false) => 0.85,
            _ => 0.8,
        };
        let summary = match own {
            Some(v) => format!(
                "node {target}: pod network unreachable: {}",
                clip(&v.message)
            ),
            None => format!(
                "node {target}: pod network unreachable from {} of {} healthy nodes that check it",
                failing.len(),
                failing.len() + reaching
            ),
        };
        let mut f = finding(
            Cause::NodePodNetworkDown,
            Severity::Critical,
            ObjectRef::node(target),
            summary,
            confidence,
        );
        if let Some(v) = own {
            f.evidence.push(Evidence::new(
                format!("probes of node {target}"),
                format!("{}{}", clip(&v.message), at(v.since)),
            ));
        }
        for (source, path) in failing.iter().take(5) {
            f.evidence.push(Evidence::new(
                format!("probes from node {source}"),
                format!(
                    "prober {} on {target} ({}) does not answer: {}{}",
                    path.pod,
                    path.ip,
                    path.last_error
                        .as_deref()
                        .map(clip)
                        .unwrap_or_else(|| "failed".into()),
                    at(path.failing_since)
                ),
            ));
        }
        if !failing.is_empty() || reaching > 0 {
            f.evidence.push(Evidence::new(
                "probes",
                format!(
                    "{} of {} healthy nodes that check {target} fail to reach it",
                    failing.len(),
                    failing.len() + reaching
                ),
            ));
        }
        f.remediation = pod_network_fix(target);
        out.push(f);
    }
    // Fallback: the condition the agent writes, when no probe results cover the node.
    for (name, node) in &ctx.nodes {
        if covered.contains(name) {
            continue;
        }
        let conditions = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[]);
        let Some(c) = conditions
            .iter()
            .find(|c| c.type_ == "PodNetworkUnreachable" && c.status == "True")
        else {
            continue;
        };
        let mut f = finding(
            Cause::NodePodNetworkDown,
            Severity::Critical,
            ObjectRef::node(name),
            format!(
                "node {name}: PodNetworkUnreachable reported by the node's prober: {}",
                clip(c.message.as_deref().unwrap_or(""))
            ),
            0.8,
        );
        f.evidence.push(Evidence::new(
            "node status",
            format!(
                "PodNetworkUnreachable=True reason={} message={}",
                c.reason.as_deref().unwrap_or(""),
                clip(c.message.as_deref().unwrap_or(""))
            ),
        ));
        f.remediation = pod_network_fix(name);
        out.push(f);
    }
}

fn pod_network_fix(node: &str) -> Vec<String> {
    vec![
        format!(
            "kubectl -n kube-system get pods -o wide --field-selector spec.nodeName={node}   # the CNI pod on the node"
        ),
        format!(
            "kubectl -n kube-system delete pod <cni pod on {node}>   # the CNI DaemonSet recreates it and rewrites routes"
        ),
        format!(
            "ssh {node} 'ip route; ip -d link; iptables-save | grep -c -- -A'   # routes and rules of the pod network"
        ),
        format!("kubectl cordon {node}   # if it does not recover: keep new pods off it"),
    ]
}

#[cfg(test)]
mod tests {
    use crate::{Cause, diagnose};
    use kubemedic_model::probes::{
        DnsQueryProbe, DnsRole, DnsServerProbe, PathProbe, PodNetworkVerdict, ProbeFacts,
    };
    use kubemedic_model::{NodeFacts, Snapshot};

    fn replica(i: usize, ok: bool) -> DnsServerProbe {
        DnsServerProbe {
            server: format!("10.244.0.{}:53", 10 + i),
            role: DnsRole::Replica,
            pod: Some(format!("coredns-{i}")),
            namespace: Some("kube-system".into()),
            pod_node: Some(format!("n{}", i % 3)),
            ok: Some(ok),
            failing_since: None,
            queries: vec![DnsQueryProbe {
                name: "kubernetes.io".into(),
                kind: "external".into(),
                result: if ok { "ok" } else { "servfail" }.into(),
                detail: if ok { "1.2.3.4" } else { "SERVFAIL" }.into(),
                ..DnsQueryProbe::default()
            }],
        }
    }

    fn path(node: &str, ok: bool) -> PathProbe {
        PathProbe {
            node: node.into(),
            pod: format!("agent-{node}"),
            ip: "10.0.0.1".into(),
            ok: Some(ok),
            last_error: (!ok).then(|| "connect_done: dial tcp: i/o timeout".to_string()),
            ..PathProbe::default()
        }
    }

    fn facts(node: &str, probes: ProbeFacts) -> (String, NodeFacts) {
        (
            node.to_string(),
            NodeFacts {
                node: node.into(),
                probes: Some(ProbeFacts {
                    node: node.into(),
                    ..probes
                }),
                ..NodeFacts::default()
            },
        )
    }

    fn snap(nodes: Vec<(String, NodeFacts)>) -> Snapshot {
        Snapshot {
            node_facts: nodes.into_iter().collect(),
            ..Snapshot::default()
        }
    }

    /// The findings of `cause` in the diagnosis of `s`.
    fn found(s: &Snapshot, cause: Cause) -> Vec<crate::Finding> {
        diagnose(s)
            .findings
            .into_iter()
            .filter(|f| f.cause == cause)
            .collect()
    }

    /// `node`'s path checks: (neighbour, ok).
    fn checks(node: &str, seen: &[(&str, bool)]) -> (String, NodeFacts) {
        facts(
            node,
            ProbeFacts {
                neighbours: seen.iter().map(|(n, ok)| path(n, *ok)).collect(),
                ..ProbeFacts::default()
            },
        )
    }

    /// `node`'s per-replica DNS probes.
    fn resolved(node: &str, dns: Vec<DnsServerProbe>) -> (String, NodeFacts) {
        facts(
            node,
            ProbeFacts {
                dns,
                ..ProbeFacts::default()
            },
        )
    }

    /// Every node in `nodes` probed the same replicas and saw `dns`.
    fn dns_snap(nodes: &[&str], dns: &[DnsServerProbe]) -> Snapshot {
        snap(nodes.iter().map(|n| resolved(n, dns.to_vec())).collect())
    }

    #[test]
    fn replicas_failing_from_most_nodes_are_named() {
        let dns: Vec<DnsServerProbe> = (0..6).map(|i| replica(i, i != 2 && i != 4)).collect();
        let s = dns_snap(&["n0", "n1", "n2"], &dns);
        let f = &found(&s, Cause::DNSPartialFailure)[0];
        assert!(
            f.summary
                .starts_with("2 of 6 DNS replicas fail (coredns-2, coredns-4)"),
            "{}",
            f.summary
        );
        assert_eq!(f.object.name, "coredns");
        assert!(
            f.evidence.iter().any(|e| e.source == "probes from node n0"
                && e.text.contains("servfail for kubernetes.io"))
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.text == "coredns-2: failing from 3 of 3 nodes that probe it")
        );
        assert_eq!(f.affected.len(), 2);
    }

    #[test]
    fn a_node_that_cannot_reach_any_replica_condemns_none() {
        let good: Vec<DnsServerProbe> = (0..6).map(|i| replica(i, true)).collect();
        let bad: Vec<DnsServerProbe> = (0..6).map(|i| replica(i, i > 2)).collect();
        let s = snap(vec![
            resolved("n0", good.clone()),
            resolved("n1", good),
            resolved("cut", bad),
        ]);
        assert!(found(&s, Cause::DNSPartialFailure).is_empty());
    }

    fn unreachable_verdict() -> PodNetworkVerdict {
        PodNetworkVerdict {
            unreachable: true,
            message: "pod network unreachable: 3/3 checks to neighbours fail".into(),
            ..PodNetworkVerdict::default()
        }
    }

    #[test]
    fn the_cut_node_is_named_and_its_failures_condemn_nobody() {
        let s = snap(vec![
            checks("n0", &[("n1", false), ("n2", true), ("n3", true)]),
            facts(
                "n1",
                ProbeFacts {
                    neighbours: vec![path("n0", false), path("n2", false), path("n3", false)],
                    pod_network: Some(unreachable_verdict()),
                    ..ProbeFacts::default()
                },
            ),
            checks("n2", &[("n1", false), ("n3", true), ("n0", true)]),
            checks("n3", &[("n0", true), ("n1", false), ("n2", true)]),
        ]);
        let down = found(&s, Cause::NodePodNetworkDown);
        assert_eq!(down.len(), 1, "{down:#?}");
        assert_eq!(down[0].object.name, "n1");
        assert_eq!(down[0].confidence, 0.95);
        assert!(
            down[0]
                .evidence
                .iter()
                .any(|e| e.text == "3 of 3 healthy nodes that check n1 fail to reach it")
        );
    }

    #[test]
    fn the_probers_own_node_events_and_conditions_add_no_second_finding() {
        // What a live cluster holds: the probers' results and, on every node, the Event and
        // condition they wrote from the same results.
        let dns: Vec<DnsServerProbe> = (0..6).map(|i| replica(i, i != 2)).collect();
        let mut s = dns_snap(&["n0", "n1"], &dns);
        for n in ["n0", "n1"] {
            s.nodes.push(
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": n},
                    "status": {"conditions": [
                        {"type": "Ready", "status": "True"},
                        {"type": "DNSPartialFailure", "status": "True", "reason": "DNSPartialFailure",
                         "message": "1 of 6 DNS replicas fail"}]}
                }))
                .unwrap(),
            );
            s.events.push(
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("{n}.dns"), "namespace": "default"},
                    "involvedObject": {"kind": "Node", "name": n},
                    "reason": "DNSPartialFailure", "type": "Warning",
                    "message": "1 of 6 DNS replicas fail: 10.244.0.12:53"
                }))
                .unwrap(),
            );
        }
        let dns = found(&s, Cause::DNSPartialFailure);
        assert_eq!(dns.len(), 1, "{dns:#?}");
        assert!(
            dns[0]
                .summary
                .starts_with("1 of 6 DNS replicas fail (coredns-2)")
        );
        // Without probe results the same Events and conditions are the evidence.
        s.node_facts.clear();
        let r = diagnose(&s);
        assert!(
            r.findings
                .iter()
                .any(|f| f.cause == Cause::DNSPartialFailure && f.object.kind == "Node"),
            "{:#?}",
            r.findings
        );
    }

    #[test]
    fn peers_name_a_node_that_cannot_report_but_one_witness_is_not_enough() {
        let s = snap(vec![
            checks("n0", &[("n1", false), ("n2", true)]),
            checks("n2", &[("n1", false), ("n0", true)]),
        ]);
        let f = &found(&s, Cause::NodePodNetworkDown)[0];
        assert_eq!(f.object.name, "n1");
        assert_eq!(f.confidence, 0.8);
        let s = snap(vec![
            checks("n0", &[("n1", false), ("n2", true)]),
            checks("n2", &[("n1", true), ("n0", true)]),
        ]);
        assert!(found(&s, Cause::NodePodNetworkDown).is_empty());
    }

    #[test]
    fn the_condition_is_the_fallback() {
        let node: kubemedic_model::objects::Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n5"},
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "PodNetworkUnreachable", "status": "True", "reason": "PodNetworkUnreachable",
                 "message": "pod network unreachable: 4/4 checks to neighbours fail"}
            ]}
        }))
        .unwrap();
        let s = Snapshot {
            nodes: vec![node],
            ..Snapshot::default()
        };
        let f = &found(&s, Cause::NodePodNetworkDown)[0];
        assert_eq!(f.object.name, "n5");
        assert!(f.summary.contains("4/4 checks"), "{}", f.summary);
    }
}
