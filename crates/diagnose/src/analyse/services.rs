//! Service analysers: services without ready endpoints, internal load balancer loopback.

use super::nodes::NodeState;
use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::Ctx;
use crate::util::FxMap;
use crate::util::{finding, pod_conditions, pod_key};
use kubemedic_model::objects::{CompactString, Pod, Service, StrMap};
use std::collections::HashMap;

/// Pods of one namespace indexed by label pair, so a selector costs its shortest posting list.
struct LabelIndex<'a> {
    by_pair: FxMap<(&'a str, &'a str), Vec<&'a Pod>>,
}

fn pod_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && pod_conditions(p)
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn matching<'a>(idx: Option<&LabelIndex<'a>>, selector: &StrMap<CompactString>) -> Vec<&'a Pod> {
    let Some(idx) = idx else { return Vec::new() };
    let mut lists: Vec<&Vec<&Pod>> = Vec::new();
    for (k, v) in selector {
        match idx.by_pair.get(&(k.as_str(), v.as_str())) {
            Some(l) => lists.push(l),
            None => return Vec::new(),
        }
    }
    lists.sort_by_key(|l| l.len());
    let Some(first) = lists.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            selector.iter().all(|(k, v)| {
                labels.and_then(|l| l.get(k.as_str())).map(String::as_str) == Some(v.as_str())
            })
        })
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Succeeded")
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Failed")
        })
        .copied()
        .collect()
}

/// Ready endpoint count for a service from EndpointSlices, else Endpoints; `None` when the
/// snapshot carries neither for it.
fn ready_endpoints(
    endpoints: &FxMap<(&str, &str), usize>,
    ns: &str,
    name: &str,
    slices_by_svc: &FxMap<(&str, &str), usize>,
    have_slices: bool,
) -> Option<usize> {
    if have_slices && let Some(n) = slices_by_svc.get(&(ns, name)) {
        return Some(*n);
    }
    endpoints.get(&(ns, name)).copied()
}

/// Analyses every service.
pub(crate) fn analyse(ctx: &Ctx<'_>, nodes: &HashMap<&str, NodeState>, out: &mut Vec<Finding>) {
    if ctx.snap.services.is_empty() {
        return;
    }
    // Index pods by namespace and label pair once.
    let mut by_ns: FxMap<&str, LabelIndex<'_>> = FxMap::default();
    for p in &ctx.snap.pods {
        let (ns, _) = pod_key(p);
        let idx = by_ns.entry(ns).or_insert_with(|| LabelIndex {
            by_pair: FxMap::default(),
        });
        for (k, v) in p.metadata.labels.iter().flatten() {
            idx.by_pair
                .entry((k.as_str(), v.as_str()))
                .or_default()
                .push(p);
        }
    }
    let mut slices_by_svc: FxMap<(&str, &str), usize> = FxMap::default();
    for s in &ctx.snap.endpoint_slices {
        let (Some(ns), Some(svc)) = (
            s.metadata.namespace.as_deref(),
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name")),
        ) else {
            continue;
        };
        let ready = s
            .endpoints
            .iter()
            .flatten()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
            .count();
        *slices_by_svc.entry((ns, svc.as_str())).or_default() += ready;
    }
    let have_slices = !ctx.snap.endpoint_slices.is_empty();
    // Ready addresses per Endpoints object, indexed once (a scan per service is quadratic).
    let endpoints: FxMap<(&str, &str), usize> = ctx
        .snap
        .endpoints
        .iter()
        .filter_map(|e| {
            let key = (
                e.metadata.namespace.as_deref()?,
                e.metadata.name.as_deref()?,
            );
            let ready = e
                .subsets
                .iter()
                .flatten()
                .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
                .sum();
            Some((key, ready))
        })
        .collect();
    for svc in &ctx.snap.services {
        no_endpoints(svc, &by_ns, &endpoints, &slices_by_svc, have_slices, out);
        loopback(ctx, svc, nodes, out);
    }
}

fn no_endpoints(
    svc: &Service,
    by_ns: &FxMap<&str, LabelIndex<'_>>,
    endpoints_idx: &FxMap<(&str, &str), usize>,
    slices: &FxMap<(&str, &str), usize>,
    have_slices: bool,
    out: &mut Vec<Finding>,
) {
    let (Some(ns), Some(name)) = (
        svc.metadata.namespace.as_deref(),
        svc.metadata.name.as_deref(),
    ) else {
        return;
    };
    let Some(spec) = svc.spec.as_ref() else {
        return;
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return;
    }
    let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
        return;
    };
    let endpoints = ready_endpoints(endpoints_idx, ns, name, slices, have_slices);
    if endpoints.is_some_and(|n| n > 0) {
        return;
    }
    let pods = matching(by_ns.get(ns), selector);
    let ready: Vec<&Pod> = pods.iter().filter(|p| pod_ready(p)).copied().collect();
    // Without endpoint objects in the snapshot, judge from the pods alone.
    if endpoints.is_none() && !ready.is_empty() {
        return;
    }
    let sel: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let sel = sel.join(",");
    let ep_ev = Evidence::new(
        "endpoints",
        match endpoints {
            Some(_) => format!("{ns}/{name}: no ready addresses in Endpoints/EndpointSlices"),
            None => "no Endpoints/EndpointSlices in the snapshot; judged from the pods".to_string(),
        },
    );
    let k = format!("kubectl -n {ns}");
    let f = if pods.is_empty() {
        // Pods that almost match: same key, other value — the usual typo.
        let near: Vec<String> = by_ns
            .get(ns)
            .map(|idx| {
                let mut v: Vec<String> = idx
                    .by_pair
                    .iter()
                    .filter(|((k2, _), _)| selector.contains_key(k2))
                    .map(|((k2, v2), l)| {
                        format!("{k2}={v2} ({})", crate::util::count(l.len(), "pod", "pods"))
                    })
                    .collect();
                v.sort();
                v.truncate(5);
                v
            })
            .unwrap_or_default();
        let mut f = finding(
            Cause::ServiceNoEndpoints,
            Severity::Warning,
            ObjectRef::namespaced("Service", ns, name),
            format!("service {name}: selector {sel} matches no pod, so it has no ready endpoints"),
            0.9,
        );
        f.evidence = vec![Evidence::new("spec", format!("selector: {sel}")), ep_ev];
        if !near.is_empty() {
            f.evidence.push(Evidence::new(
                "pods",
                format!("labels with the same keys in {ns}: {}", near.join(", ")),
            ));
        }
        f.remediation = vec![
            format!("{k} get pods -l {sel}   # nothing: compare with {k} get pods --show-labels"),
            format!(
                "{k} edit service {name}   # fix spec.selector, or fix the pod template labels"
            ),
        ];
        f
    } else {
        let names: Vec<&str> = pods.iter().take(5).map(|p| pod_key(p).1).collect();
        let mut f = finding(
            Cause::ServiceNoEndpoints,
            Severity::Critical,
            ObjectRef::namespaced("Service", ns, name),
            format!(
                "service {name}: selects {}, none of them ready, so it has no ready endpoints",
                crate::util::count(pods.len(), "pod", "pods")
            ),
            0.85,
        );
        f.evidence = vec![
            Evidence::new("spec", format!("selector: {sel}")),
            ep_ev,
            Evidence::new(
                "pods",
                format!("selected but not ready: {}", names.join(", ")),
            ),
        ];
        f.remediation = vec![
            format!(
                "kubemedic diagnose pod/{ns}/{}   # why the pods are not ready",
                names[0]
            ),
            format!(
                "{k} describe pod {} | grep -A3 -E 'Readiness|Conditions'",
                names[0]
            ),
        ];
        f.affected = pods
            .iter()
            .take(50)
            .map(|p| {
                let (pns, pn) = pod_key(p);
                ObjectRef::pod(pns, pn)
            })
            .collect();
        f
    };
    out.push(f);
}

/// Annotations that make a cloud LoadBalancer internal (TKE, AWS, Azure, GCP, Alibaba, OpenStack).
const INTERNAL_LB: &[(&str, Option<&str>)] = &[
    (
        "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid",
        None,
    ),
    (
        "service.beta.kubernetes.io/aws-load-balancer-internal",
        None,
    ),
    (
        "service.beta.kubernetes.io/aws-load-balancer-scheme",
        Some("internal"),
    ),
    (
        "service.beta.kubernetes.io/azure-load-balancer-internal",
        Some("true"),
    ),
    ("networking.gke.io/load-balancer-type", Some("Internal")),
    ("cloud.google.com/load-balancer-type", Some("Internal")),
    (
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type",
        Some("intranet"),
    ),
    (
        "service.beta.kubernetes.io/openstack-internal-load-balancer",
        Some("true"),
    ),
];

fn loopback(
    ctx: &Ctx<'_>,
    svc: &Service,
    nodes: &HashMap<&str, NodeState>,
    out: &mut Vec<Finding>,
) {
    let Some(spec) = svc.spec.as_ref() else {
        return;
    };
    if spec.type_.as_deref() != Some("LoadBalancer") {
        return;
    }
    let (Some(ns), Some(name)) = (
        svc.metadata.namespace.as_deref(),
        svc.metadata.name.as_deref(),
    ) else {
        return;
    };
    let annotations = svc.metadata.annotations.as_ref();
    let Some((key, val)) = INTERNAL_LB.iter().find_map(|(k, want)| {
        let v = annotations.and_then(|a| a.get(*k))?;
        want.is_none_or(|w| v.eq_ignore_ascii_case(w))
            .then_some((*k, v.as_str()))
    }) else {
        return;
    };
    let ipvs = nodes.values().find_map(|n| n.ipvs.clone());
    let Some(ipvs) = ipvs else { return };
    let lb_ips: Vec<&str> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref())
        .collect();
    // In-cluster clients calling the LB IP: their logs name it next to a timeout.
    let mut clients = Vec::new();
    for (cref, logs) in &ctx.snap.container_logs {
        for text in [logs.current.as_deref(), logs.previous.as_deref()]
            .into_iter()
            .flatten()
        {
            for (i, line) in text.lines().enumerate() {
                if lb_ips.iter().any(|ip| line.contains(ip))
                    && (line.contains("timeout")
                        || line.contains("timed out")
                        || line.contains("deadline exceeded")
                        || line.contains("connection reset"))
                {
                    clients.push(Evidence::new(
                        format!(
                            "logs {}/{} {} line {}",
                            cref.namespace,
                            cref.pod,
                            cref.container,
                            i + 1
                        ),
                        crate::util::clip(line),
                    ));
                    break;
                }
            }
            if clients.len() >= 3 {
                break;
            }
        }
        if clients.len() >= 3 {
            break;
        }
    }
    let etp = spec.external_traffic_policy.as_deref().unwrap_or("Cluster");
    let (severity, conf) = if clients.is_empty() {
        (Severity::Info, 0.4)
    } else {
        (Severity::Warning, 0.75)
    };
    let mut f = finding(
        Cause::LoadBalancerLoopback,
        severity,
        ObjectRef::namespaced("Service", ns, name),
        format!(
            "service {name}: internal LoadBalancer{} in an ipvs cluster; in-cluster clients calling the LB IP loop back to their own node (4 s delays or timeouts){}",
            if lb_ips.is_empty() {
                String::new()
            } else {
                format!(" {}", lb_ips.join(","))
            },
            if clients.is_empty() {
                "; no client seen doing so yet"
            } else {
                ""
            }
        ),
        conf,
    );
    f.evidence = vec![
        Evidence::new(
            "spec",
            format!("type=LoadBalancer, annotation {key}={val}, externalTrafficPolicy={etp}"),
        ),
        ipvs,
    ];
    f.evidence.extend(clients);
    f.remediation = vec![
        format!("Inside the cluster call {name}.{ns}.svc.cluster.local (ClusterIP) instead of the LB IP"),
        "If clients must use the LB address, keep them outside the cluster or use an ingress reachable without hairpin".to_string(),
    ];
    out.push(f);
}
