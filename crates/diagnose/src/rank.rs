//! Ranking: one finding per (object, cause), most likely first per object; replicas of one
//! workload with the same root cause folded into one finding on the workload.

use crate::finding::{Evidence, Finding, ObjectRef, Severity};
use crate::index::Ctx;
use std::collections::{BTreeMap, HashMap};

/// Evidence lines kept per finding after merging.
const MAX_EVIDENCE: usize = 12;
/// Pods named in a grouped finding's evidence line.
const MAX_NAMED_PODS: usize = 10;

fn order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.confidence
        .total_cmp(&a.confidence)
        .then(b.severity.cmp(&a.severity))
        .then(a.cause.cmp(&b.cause))
}

/// Merges same-cause findings of one object and sorts them most likely first.
fn settle(list: Vec<Finding>) -> Vec<Finding> {
    settle_with(list, false)
}

/// [`settle`]; with `split_info`, an info finding is not merged into a warning or critical one
/// of the same cause (a workload's pods that are fine now stay apart from those failing now).
fn settle_with(mut list: Vec<Finding>, split_info: bool) -> Vec<Finding> {
    list.sort_by(order);
    let mut out: Vec<Finding> = Vec::with_capacity(list.len());
    for f in list {
        let same = |e: &Finding| {
            e.cause == f.cause
                && (!split_info || (e.severity == Severity::Info) == (f.severity == Severity::Info))
        };
        if let Some(existing) = out.iter_mut().find(|e| same(e)) {
            existing.severity = existing.severity.max(f.severity);
            for ev in f.evidence {
                if existing.evidence.len() < MAX_EVIDENCE && !existing.evidence.contains(&ev) {
                    existing.evidence.push(ev);
                }
            }
            for a in f.affected {
                if !existing.affected.contains(&a) {
                    existing.affected.push(a);
                }
            }
        } else {
            out.push(f);
        }
    }
    for f in &mut out {
        f.evidence.truncate(MAX_EVIDENCE);
        f.confidence = (f.confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0;
    }
    out
}

fn kind_rank(kind: &str) -> u8 {
    match kind {
        "Node" => 0,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicaSet"
        | "ReplicationController" => 1,
        "Pod" => 2,
        "Service" => 3,
        _ => 4,
    }
}

/// Orders, merges and groups the raw findings of all analysers.
pub(crate) fn rank(ctx: &Ctx<'_>, raw: Vec<Finding>) -> Vec<Finding> {
    let mut by_object: BTreeMap<ObjectRef, Vec<Finding>> = BTreeMap::new();
    for f in raw {
        by_object.entry(f.object.clone()).or_default().push(f);
    }
    let mut by_object: BTreeMap<ObjectRef, Vec<Finding>> =
        by_object.into_iter().map(|(k, v)| (k, settle(v))).collect();

    // Group pods of one workload whose first (root) cause is the same. A pod whose root finding
    // is only a note (it runs fine now; its OOM kill was two days ago) is not folded into the
    // replicas failing now: it would be counted, and shown as critical, with them.
    // Only pods with findings are looked up; no allocation per pod of the snapshot.
    let with_findings: std::collections::HashSet<(&str, &str)> = by_object
        .keys()
        .filter(|o| o.kind == "Pod")
        .map(|o| (o.namespace.as_deref().unwrap_or(""), o.name.as_str()))
        .collect();
    let pods: HashMap<(&str, &str), &kubemedic_model::objects::Pod> = ctx
        .snap
        .pods
        .iter()
        .filter_map(|p| {
            Some((
                (
                    p.metadata.namespace.as_deref()?,
                    p.metadata.name.as_deref()?,
                ),
                p,
            ))
        })
        .filter(|(k, _)| with_findings.contains(k))
        .collect();
    let mut groups: BTreeMap<(ObjectRef, crate::Cause, bool), Vec<ObjectRef>> = BTreeMap::new();
    for (obj, list) in &by_object {
        if obj.kind != "Pod" {
            continue;
        }
        let ns = obj.namespace.as_deref().unwrap_or("");
        let Some(pod) = pods.get(&(ns, obj.name.as_str())) else {
            continue;
        };
        let Some((kind, name)) = ctx.workload_of(pod) else {
            continue;
        };
        let Some(first) = list.first() else { continue };
        groups
            .entry((
                ObjectRef::namespaced(kind, ns, name),
                first.cause,
                first.severity == Severity::Info,
            ))
            .or_default()
            .push(obj.clone());
    }
    for ((workload, _, _), members) in groups.into_iter().filter(|(_, m)| m.len() >= 2) {
        let mut folded: Vec<(ObjectRef, Finding)> = Vec::new();
        for m in &members {
            if let Some(list) = by_object.remove(m) {
                folded.extend(list.into_iter().map(|f| (m.clone(), f)));
            }
        }
        let mut per_cause: BTreeMap<(crate::Cause, bool), Vec<(ObjectRef, Finding)>> =
            BTreeMap::new();
        for (pod, f) in folded {
            per_cause
                .entry((f.cause, f.severity == Severity::Info))
                .or_default()
                .push((pod, f));
        }
        let entry = by_object.entry(workload.clone()).or_default();
        for (_, mut list) in per_cause {
            list.sort_by(|a, b| order(&a.1, &b.1).then(a.0.cmp(&b.0)));
            let affected: Vec<ObjectRef> = list.iter().map(|(p, _)| p.clone()).collect();
            let severity = list
                .iter()
                .map(|(_, f)| f.severity)
                .max()
                .unwrap_or(Severity::Info);
            let same_node = list.iter().all(|(_, f)| f.caused_by == list[0].1.caused_by);
            let (first_pod, first) = list.swap_remove(0);
            let names: Vec<&str> = affected
                .iter()
                .take(MAX_NAMED_PODS)
                .map(|p| p.name.as_str())
                .collect();
            let more = affected.len().saturating_sub(MAX_NAMED_PODS);
            let mut evidence: Vec<Evidence> = first
                .evidence
                .iter()
                .map(|e| {
                    Evidence::new(
                        format!("pod {}: {}", first_pod.name, e.source),
                        e.text.clone(),
                    )
                })
                .collect();
            evidence.push(Evidence::new(
                "pods",
                format!(
                    "{} pods affected: {}{}",
                    affected.len(),
                    names.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
            ));
            entry.push(Finding {
                cause: first.cause,
                severity,
                summary: format!(
                    "{} pods of {} {}: {}",
                    affected.len(),
                    workload.kind,
                    workload.name,
                    first.summary
                ),
                object: workload.clone(),
                evidence,
                remediation: first.remediation,
                confidence: first.confidence,
                affected,
                caused_by: if same_node { first.caused_by } else { None },
                incident: None,
            });
        }
        let settled = settle_with(std::mem::take(entry), true);
        *entry = settled;
    }

    let mut objects: Vec<(ObjectRef, Vec<Finding>)> = by_object
        .into_iter()
        .filter(|(_, l)| !l.is_empty())
        .collect();
    objects.sort_by(|(a, la), (b, lb)| {
        let sa = la.iter().map(|f| f.severity).max();
        let sb = lb.iter().map(|f| f.severity).max();
        sb.cmp(&sa)
            .then(kind_rank(&a.kind).cmp(&kind_rank(&b.kind)))
            .then(a.cmp(b))
    });
    objects.into_iter().flat_map(|(_, l)| l).collect()
}
