//! Network analysers: host port conflicts, partially failing cluster DNS, a node's pod network
//! unreachable from the others.
//!
//! DNSPartialFailure and NodePodNetworkDown come from the agents' probe results first
//! ([`super::probes`]); without them, from node conditions or events named after the cause, and
//! for DNS, disagreement between the DNS replicas' own logs and readiness.

use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::Ctx;
use crate::util::{clip, event_evidence, finding, pod_conditions, pod_key};
use kubemedic_model::objects::Pod;
use std::collections::{BTreeMap, HashMap};

/// Runs the network analysers.
pub(crate) fn analyse(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    host_ports(ctx, out);
    // Probe results first; the DNS replicas' logs and readiness only when nobody probed them.
    let probed = super::probes::analyse(ctx, out);
    if !probed.dns {
        dns_replicas(ctx, out);
    }
    probe_events(ctx, out);
}

/// Running or starting, and not being deleted: a pod in teardown is not a failing replica.
fn active(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && !matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

fn unhealthy(p: &Pod) -> bool {
    let Some(s) = p.status.as_ref() else {
        return true;
    };
    s.container_statuses
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|c| !c.ready || c.restart_count > 0)
        || s.container_statuses.is_none()
}

fn host_ports(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mut node_names: Vec<&&str> = ctx.pods_by_node.keys().collect();
    node_names.sort();
    for node in node_names {
        let pods = &ctx.pods_by_node[*node];
        let mut bound: BTreeMap<(i32, String, String), Vec<&Pod>> = BTreeMap::new();
        for p in pods.iter().filter(|p| active(p)) {
            let Some(spec) = p.spec.as_ref() else {
                continue;
            };
            let host_net = spec.host_network == Some(true);
            for c in &spec.containers {
                for port in c.ports.iter().flatten() {
                    let host_port = port.host_port.or(host_net.then_some(port.container_port));
                    if let Some(hp) = host_port.filter(|hp| *hp > 0) {
                        let key = (
                            hp,
                            port.protocol.as_deref().unwrap_or("TCP").to_string(),
                            port.host_ip.as_deref().unwrap_or_default().to_string(),
                        );
                        let list = bound.entry(key).or_default();
                        if !list.iter().any(|q| std::ptr::eq(*q, *p)) {
                            list.push(p);
                        }
                    }
                }
            }
        }
        for ((port, proto, _), list) in bound.into_iter().filter(|(_, l)| l.len() > 1) {
            let names: Vec<String> = list
                .iter()
                .map(|p| {
                    let (ns, n) = pod_key(p);
                    format!("{ns}/{n}")
                })
                .collect();
            let ev = Evidence::new(
                "spec",
                format!(
                    "node {node}: host port {port}/{proto} bound by {} pods: {}",
                    list.len(),
                    names.join(", ")
                ),
            );
            let losers: Vec<&&Pod> = list.iter().filter(|p| unhealthy(p)).collect();
            if losers.is_empty() {
                let mut f = finding(
                    Cause::HostPortConflict,
                    Severity::Warning,
                    ObjectRef::node(node),
                    format!(
                        "node {node}: {} pods bind host port {port}/{proto}; only one can listen",
                        list.len()
                    ),
                    0.6,
                );
                f.evidence = vec![ev];
                f.remediation = host_port_fix(node, port);
                f.affected = list
                    .iter()
                    .map(|p| {
                        let (ns, n) = pod_key(p);
                        ObjectRef::pod(ns, n)
                    })
                    .collect();
                out.push(f);
                continue;
            }
            for p in losers {
                let (ns, n) = pod_key(p);
                let mut f = finding(
                    Cause::HostPortConflict,
                    Severity::Critical,
                    ObjectRef::pod(ns, n),
                    format!(
                        "pod {n} shares host port {port}/{proto} on node {node} with {}; only one can listen",
                        crate::util::count(list.len() - 1, "other pod", "other pods")
                    ),
                    0.85,
                );
                f.evidence = vec![ev.clone()];
                f.remediation = host_port_fix(node, port);
                out.push(f);
            }
        }
    }
}

fn host_port_fix(node: &str, port: i32) -> Vec<String> {
    vec![
        format!("ssh {node} 'ss -ltnp | grep :{port}'   # which process really listens"),
        "Give each pod its own host port, or run it as a DaemonSet / with pod anti-affinity so one lands per node".to_string(),
    ]
}

/// Error lines in CoreDNS / kube-dns logs that mean the replica fails lookups.
fn dns_error_line(line: &str) -> bool {
    line.contains("[ERROR]")
        || line.contains("SERVFAIL")
        || line.contains("i/o timeout")
        || line.contains("no such host")
        || line.contains("connection refused")
}

fn dns_replicas(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mut groups: BTreeMap<(String, String, String), Vec<&Pod>> = BTreeMap::new();
    for p in &ctx.snap.pods {
        if !kubemedic_model::snapshot::is_cluster_dns(p) || !active(p) {
            continue;
        }
        let (ns, _) = pod_key(p);
        let (kind, wl) = ctx.workload_of(p).unwrap_or(("Deployment", "coredns"));
        groups
            .entry((ns.to_string(), kind.to_string(), wl.to_string()))
            .or_default()
            .push(p);
    }
    for ((ns, kind, wl), pods) in groups {
        if pods.len() < 2 {
            continue;
        }
        let mut failing: Vec<(&Pod, Evidence)> = Vec::new();
        let mut healthy = 0;
        for p in &pods {
            let (_, n) = pod_key(p);
            let mut bad: Option<Evidence> = None;
            for (cref, logs) in ctx
                .snap
                .container_logs
                .range(kubemedic_model::ContainerRef::new(ns.as_str(), n, "")..)
            {
                if cref.namespace != ns || cref.pod != n {
                    break;
                }
                if let Some(text) = logs.current.as_deref() {
                    let errors: Vec<(usize, &str)> = text
                        .lines()
                        .enumerate()
                        .filter(|(_, l)| dns_error_line(l))
                        .collect();
                    if errors.len() >= 2
                        && let Some((i, l)) = errors.last()
                    {
                        bad = Some(Evidence::new(
                            format!("logs {n}/{} line {}", cref.container, i + 1),
                            format!("{} ({} error lines)", clip(l), errors.len()),
                        ));
                    }
                }
            }
            let ready = pod_conditions(p)
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            match bad {
                Some(ev) => failing.push((p, ev)),
                None if ready => healthy += 1,
                None => failing.push((p, Evidence::new("pod status", format!("{n}: not Ready")))),
            }
        }
        if failing.is_empty() || healthy == 0 {
            continue; // all fine, or all failing (then it is not partial; pod analysers speak)
        }
        let names: Vec<&str> = failing.iter().map(|(p, _)| pod_key(p).1).collect();
        let mut f = finding(
            Cause::DNSPartialFailure,
            Severity::Warning,
            ObjectRef::namespaced(&kind, &ns, &wl),
            format!(
                "{} of {} DNS replicas fail ({}); lookups through the Service fail intermittently",
                failing.len(),
                pods.len(),
                names.join(", ")
            ),
            0.7,
        );
        f.evidence = failing.iter().map(|(_, e)| e.clone()).collect();
        f.evidence.push(Evidence::new(
            "pods",
            format!(
                "{} without errors",
                crate::util::count(healthy, "replica answers", "replicas answer")
            ),
        ));
        f.remediation = vec![
            format!("kubectl -n {ns} logs {} --tail=50", names[0]),
            format!(
                "kubectl -n {ns} delete pod {}   # replace the failing replicas; check their node's upstream resolv.conf",
                names.join(" ")
            ),
        ];
        f.affected = failing
            .iter()
            .map(|(p, _)| {
                let (pns, n) = pod_key(p);
                ObjectRef::pod(pns, n)
            })
            .collect();
        out.push(f);
    }
}

/// Probe results reported as events named after the cause (on pods, services, namespaces);
/// node events and node conditions are read by the node analyser.
fn probe_events(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let mut seen: HashMap<(Cause, String, String, String), ()> = HashMap::new();
    for e in &ctx.snap.events {
        let Some(reason) = e.reason.as_deref() else {
            continue;
        };
        let cause = match reason {
            "DNSPartialFailure" => Cause::DNSPartialFailure,
            "NodePodNetworkDown" => Cause::NodePodNetworkDown,
            _ => continue,
        };
        let io = &e.involved_object;
        let kind = io.kind.as_deref().unwrap_or_default().to_string();
        if kind == "Node" {
            continue;
        }
        let ns = io.namespace.as_deref().unwrap_or_default().to_string();
        let name = io.name.as_deref().unwrap_or_default().to_string();
        if seen
            .insert((cause, kind.clone(), ns.clone(), name.clone()), ())
            .is_some()
        {
            continue;
        }
        let object = if ns.is_empty() {
            ObjectRef {
                kind: kind.clone(),
                namespace: None,
                name: name.clone(),
            }
        } else {
            ObjectRef::namespaced(&kind, &ns, &name)
        };
        let mut f = finding(
            cause,
            Severity::Warning,
            object,
            format!(
                "{kind} {name}: {}",
                clip(e.message.as_deref().unwrap_or(reason))
            ),
            0.8,
        );
        f.evidence = vec![event_evidence(e)];
        f.remediation = crate::catalog::info(cause)
            .map(|i| i.fix.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        out.push(f);
    }
}
