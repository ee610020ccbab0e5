//! Incidents: many nodes sharing one root cause at the same time (the seed's 58 nodes NotReady from
//! xtables lock contention during a mass rollout) become one finding that counts the nodes, lists
//! them compactly, quotes the shared evidence once and points at the common trigger; the per-node
//! findings stay in the report, marked as part of the incident.

use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::Ctx;
use crate::util::human_secs;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Fewest nodes that make an incident (two nodes are a coincidence worth their own findings).
pub const MIN_NODES: usize = 3;
/// Nodes whose trouble started further apart than this are separate events.
const SAME_TIME_SECS: i64 = 2 * 3600;
/// A rollout counts as the trigger when its pods started this long before the first node failed.
const TRIGGER_LEAD_SECS: i64 = 3600;
/// Evidence lines quoted in an incident.
const SHARED_EVIDENCE: usize = 5;

/// The kind of an incident's object.
pub const INCIDENT_KIND: &str = "Incident";

/// Groups node findings that share a cause into incidents; returns the report's findings with the
/// incidents first.
pub(crate) fn group(ctx: &Ctx<'_>, mut findings: Vec<Finding>) -> Vec<Finding> {
    // The first (most likely) finding of each node, by cause.
    let mut first_seen: BTreeSet<&str> = BTreeSet::new();
    let mut by_cause: BTreeMap<Cause, Vec<usize>> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        if f.object.kind != "Node" || !first_seen.insert(f.object.name.as_str()) {
            continue;
        }
        if f.severity >= Severity::Warning {
            by_cause.entry(f.cause).or_default().push(i);
        }
    }
    let mut incidents: Vec<Finding> = Vec::new();
    let mut members: Vec<(usize, ObjectRef)> = Vec::new();
    for (cause, idx) in by_cause {
        if idx.len() < MIN_NODES {
            continue;
        }
        for group in same_time(ctx, &findings, idx) {
            if group.len() < MIN_NODES {
                continue;
            }
            let inc = incident(ctx, cause, &findings, &group);
            for &i in &group {
                members.push((i, inc.object.clone()));
            }
            incidents.push(inc);
        }
    }
    if incidents.is_empty() {
        return findings;
    }
    for (i, inc) in &members {
        findings[*i].incident = Some(inc.clone());
    }
    // The node findings' other causes and the pods stuck on those nodes with the same cause
    // belong to the incident too.
    let node_incident: HashMap<String, (Cause, ObjectRef)> = members
        .iter()
        .map(|(i, inc)| {
            (
                findings[*i].object.name.clone(),
                (findings[*i].cause, inc.clone()),
            )
        })
        .collect();
    let pod_nodes: HashMap<(&str, &str), &str> = ctx
        .snap
        .pods
        .iter()
        .filter_map(|p| {
            Some((
                (
                    p.metadata.namespace.as_deref()?,
                    p.metadata.name.as_deref()?,
                ),
                p.spec.as_ref()?.node_name.as_deref()?,
            ))
        })
        .collect();
    for f in findings.iter_mut().filter(|f| f.incident.is_none()) {
        if f.object.kind == "Node" {
            if let Some((_, inc)) = node_incident.get(&f.object.name) {
                f.incident = Some(inc.clone());
            }
            continue;
        }
        let on = |node: &str| node_incident.get(node).filter(|(c, _)| *c == f.cause);
        let by_node = f.caused_by.as_ref().and_then(|n| on(&n.name));
        let by_pods = || {
            let mut shared: Option<&ObjectRef> = None;
            for p in &f.affected {
                let node =
                    pod_nodes.get(&(p.namespace.as_deref().unwrap_or(""), p.name.as_str()))?;
                let (_, inc) = on(node)?;
                if shared.is_some_and(|s| s != inc) {
                    return None;
                }
                shared = Some(inc);
            }
            shared.cloned()
        };
        if let Some((_, inc)) = by_node {
            f.incident = Some(inc.clone());
        } else if !f.affected.is_empty()
            && let Some(inc) = by_pods()
        {
            f.incident = Some(inc);
        }
    }
    // Count what each incident covers beyond its nodes.
    for inc in &mut incidents {
        let workloads = findings
            .iter()
            .filter(|f| f.object.kind != "Node" && f.incident.as_ref() == Some(&inc.object))
            .count();
        if workloads > 0 {
            inc.evidence.push(Evidence::new(
                "pods",
                format!(
                    "{} on these nodes {} the same cause, kept under the incident",
                    crate::util::count(
                        workloads,
                        "workload or pod finding",
                        "workload and pod findings"
                    ),
                    if workloads == 1 { "has" } else { "have" }
                ),
            ));
        }
    }
    incidents.extend(findings);
    incidents
}

/// When a node's trouble started: its Ready condition's last transition if it is not Ready.
fn trouble_time(ctx: &Ctx<'_>, node: &str) -> Option<Timestamp> {
    let n = ctx.nodes.get(node)?;
    let ready = n
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (ready.status != "True")
        .then(|| ready.last_transition_time.as_ref().map(|t| t.0))
        .flatten()
}

/// Splits findings (indices) into groups whose trouble started within [`SAME_TIME_SECS`] of each
/// other; nodes without a known start join the largest group.
fn same_time(ctx: &Ctx<'_>, findings: &[Finding], idx: Vec<usize>) -> Vec<Vec<usize>> {
    let mut timed: Vec<(Timestamp, usize)> = Vec::new();
    let mut untimed: Vec<usize> = Vec::new();
    for i in idx {
        match trouble_time(ctx, &findings[i].object.name) {
            Some(t) => timed.push((t, i)),
            None => untimed.push(i),
        }
    }
    timed.sort();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut start: Option<Timestamp> = None;
    for (t, i) in timed {
        match (start, groups.last_mut()) {
            (Some(s), Some(g)) if t.as_second() - s.as_second() <= SAME_TIME_SECS => g.push(i),
            _ => {
                start = Some(t);
                groups.push(vec![i]);
            }
        }
    }
    match groups.iter_mut().max_by_key(|g| g.len()) {
        Some(g) => g.extend(untimed),
        None => groups.push(untimed),
    }
    groups
}

fn incident(ctx: &Ctx<'_>, cause: Cause, findings: &[Finding], group: &[usize]) -> Finding {
    let mut names: Vec<&str> = group
        .iter()
        .map(|&i| findings[i].object.name.as_str())
        .collect();
    names.sort_unstable();
    let n = names.len();
    let object = ObjectRef {
        kind: INCIDENT_KIND.to_string(),
        namespace: None,
        name: format!("{cause} on {n} nodes"),
    };
    let severity = group
        .iter()
        .map(|&i| findings[i].severity)
        .max()
        .unwrap_or(Severity::Warning);
    let confidence = group.iter().map(|&i| findings[i].confidence).sum::<f64>() / n as f64;
    let times: Vec<Timestamp> = names
        .iter()
        .filter_map(|name| trouble_time(ctx, name))
        .collect();
    let not_ready = names
        .iter()
        .filter(|name| trouble_time(ctx, name).is_some())
        .count()
        + names
            .iter()
            .filter(|name| {
                trouble_time(ctx, name).is_none()
                    && ctx.nodes.get(*name).is_some_and(|node| {
                        node.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|c| {
                                c.iter().any(|c| c.type_ == "Ready" && c.status != "True")
                            })
                    })
            })
            .count();
    let (first, last) = (times.iter().min().copied(), times.iter().max().copied());
    let when = match (first, last) {
        (Some(a), Some(b)) if b.as_second() > a.as_second() => format!(
            " within {} ({} to {})",
            human_secs(b.as_second() - a.as_second()),
            clock(a),
            clock(b)
        ),
        (Some(a), _) => format!(" at {}", clock(a)),
        _ => String::new(),
    };
    let state = if not_ready == n {
        "went NotReady".to_string()
    } else if not_ready > 0 {
        format!("share it ({not_ready} NotReady)")
    } else {
        "share it".to_string()
    };
    let title = crate::catalog::info(cause).map_or(cause.as_str(), |i| i.title);
    let trigger = trigger(ctx, &names, first);
    let mut summary = format!("{n} nodes {state}{when}: {title}");
    if let Some((short, _)) = &trigger {
        summary.push_str(&format!("; trigger: {short}"));
    }
    let mut evidence = vec![Evidence::new(
        "nodes",
        format!("{n} nodes: {}", compact_names(&names)),
    )];
    if let Some((_, lines)) = trigger {
        evidence.extend(lines);
    }
    evidence.extend(shared_evidence(findings, group));
    let lead = &findings[group[0]];
    let mut remediation = vec![format!(
        "kubemedic diagnose node/{}   # each node's own finding ({n} in -o json)",
        lead.object.name
    )];
    remediation.extend(
        lead.remediation
            .iter()
            .map(|r| r.replace(lead.object.name.as_str(), "<node>")),
    );
    Finding {
        cause,
        severity,
        object,
        summary,
        evidence,
        remediation,
        confidence: (confidence * 100.0).round() / 100.0,
        affected: names.iter().map(|name| ObjectRef::node(name)).collect(),
        caused_by: None,
        incident: None,
    }
}

/// `09:27 UTC` (the day too when not today's snapshot day is ambiguous: keep it short).
fn clock(t: Timestamp) -> String {
    let z = t.to_zoned(jiff::tz::TimeZone::UTC);
    format!("{:02}:{:02} UTC", z.hour(), z.minute())
}

/// The lead node's evidence lines whose kind (where they come from) recurs on at least half the
/// nodes, in the lead's order (strongest first), quoted once with how many nodes show the same
/// (or a similar) line.
fn shared_evidence(findings: &[Finding], group: &[usize]) -> Vec<Evidence> {
    let n = group.len();
    let lead = &findings[group[0]];
    let mut out = Vec::new();
    let mut quoted: BTreeSet<String> = BTreeSet::new();
    for e in &lead.evidence {
        let kind = normalise(&e.source, &lead.object.name);
        if !quoted.insert(kind.clone()) {
            continue;
        }
        let text = normalise(&e.text, &lead.object.name);
        let (mut similar, mut same) = (0usize, 0usize);
        for &i in group {
            let f = &findings[i];
            let mine: Vec<&Evidence> = f
                .evidence
                .iter()
                .filter(|x| normalise(&x.source, &f.object.name) == kind)
                .collect();
            if !mine.is_empty() {
                similar += 1;
            }
            if mine.iter().any(|x| {
                x.text.replace(f.object.name.as_str(), "")
                    == e.text.replace(lead.object.name.as_str(), "")
            }) {
                same += 1;
            }
        }
        let _ = text;
        if similar * 2 < n && n >= 4 {
            continue;
        }
        let mut e = e.clone();
        e.source = if same == similar {
            format!("{} (same on {same} of {n} nodes)", e.source)
        } else if e.source.contains(lead.object.name.as_str()) {
            format!("{} (similar on {similar} of {n} nodes)", e.source)
        } else {
            format!(
                "{} (similar on {similar} of {n} nodes; this one from {})",
                e.source, lead.object.name
            )
        };
        out.push(e);
        if out.len() >= SHARED_EVIDENCE {
            break;
        }
    }
    out
}

/// The text with the node's name and all digits masked, for comparing lines across nodes.
fn normalise(text: &str, node: &str) -> String {
    text.replace(node, "<node>")
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the affected nodes share that the others do not: a rollout or DaemonSet update that
/// started pods on them just before, or a kernel/runtime/kubelet version found on exactly them.
fn trigger(
    ctx: &Ctx<'_>,
    names: &[&str],
    first: Option<Timestamp>,
) -> Option<(String, Vec<Evidence>)> {
    let mut lines = Vec::new();
    let mut short: Option<String> = None;
    // 1. Pods started on the affected nodes shortly before the first one failed: a rollout (one
    //    or many workloads at once) or a DaemonSet update.
    let until = first.or(ctx.now);
    if let Some(until) = until {
        let mut per_workload: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        let mut nodes_hit: BTreeSet<&str> = BTreeSet::new();
        let mut pods = 0usize;
        for name in names {
            for p in ctx.pods_by_node.get(name).into_iter().flatten() {
                let Some(created) = p.metadata.creation_timestamp.as_ref().map(|t| t.0) else {
                    continue;
                };
                let lead = until.as_second() - created.as_second();
                if !(0..=TRIGGER_LEAD_SECS).contains(&lead) {
                    continue;
                }
                let Some((kind, wl)) = ctx.workload_of(p) else {
                    continue;
                };
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                *per_workload
                    .entry((kind.to_string(), ns, wl.to_string()))
                    .or_default() += 1;
                nodes_hit.insert(name);
                pods += 1;
            }
        }
        if pods >= names.len() && nodes_hit.len() * 2 >= names.len() {
            let mut top: Vec<((String, String, String), usize)> =
                per_workload.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let label = |(kind, ns, wl): &(String, String, String)| format!("{kind} {ns}/{wl}");
            let what = match top.as_slice() {
                [(w, _)] if w.0 == "DaemonSet" => format!("an update of {}", label(w)),
                [(w, _)] => format!("a rollout of {}", label(w)),
                many => format!("a mass rollout of {} workloads", many.len()),
            };
            short = Some(format!(
                "{what} ({pods} pods started on {} of these nodes in the hour before)",
                nodes_hit.len()
            ));
            let names_top: Vec<String> = top
                .iter()
                .take(3)
                .map(|((_, _, wl), n)| format!("{wl} {n}"))
                .collect();
            lines.push(Evidence::new(
                "trigger",
                format!(
                    "{pods} pods created on {} of the {} nodes in the {} before {} ({}{})",
                    nodes_hit.len(),
                    names.len(),
                    human_secs(TRIGGER_LEAD_SECS),
                    if first.is_some() {
                        "the first went NotReady"
                    } else {
                        "the snapshot"
                    },
                    names_top.join(", "),
                    if top.len() > 3 {
                        format!(", +{} more", top.len() - 3)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
    // 2. A version on exactly the affected nodes.
    let set: BTreeSet<&str> = names.iter().copied().collect();
    let others: Vec<_> = ctx
        .nodes
        .iter()
        .filter(|(n, _)| !set.contains(**n))
        .map(|(_, node)| *node)
        .collect();
    if !others.is_empty() {
        type Field = fn(&kubemedic_model::objects::NodeSystemInfo) -> &str;
        let fields: [(&str, Field); 4] = [
            ("kernel", |i| i.kernel_version.as_str()),
            ("container runtime", |i| {
                i.container_runtime_version.as_str()
            }),
            ("kubelet", |i| i.kubelet_version.as_str()),
            ("OS image", |i| i.os_image.as_str()),
        ];
        for (what, get) in fields {
            let info = |node: &kubemedic_model::objects::Node| {
                node.status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| get(i).to_string())
            };
            let affected: BTreeSet<Option<String>> = names
                .iter()
                .map(|n| ctx.nodes.get(n).and_then(|node| info(node)))
                .collect();
            let mut affected = affected.into_iter();
            let (Some(Some(v)), None) = (affected.next(), affected.next()) else {
                continue;
            };
            if v.is_empty()
                || others
                    .iter()
                    .any(|o| info(o).as_deref() == Some(v.as_str()))
            {
                continue;
            }
            lines.push(Evidence::new(
                "trigger",
                format!(
                    "all {} affected nodes, and none of the {} others, run {what} {v}",
                    names.len(),
                    others.len()
                ),
            ));
            short.get_or_insert_with(|| format!("only these nodes run {what} {v}"));
        }
    }
    short.map(|s| (s, lines))
}

/// Node names folded into ranges: `paas-10-239-40-{101..130,140}, worker-a`.
pub fn compact_names(names: &[&str]) -> String {
    let mut groups: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    let mut plain: Vec<&str> = Vec::new();
    for name in names {
        let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, num) = name.split_at(name.len() - digits);
        match num.parse::<u64>() {
            // Leading zeros would not survive the range: keep such names whole.
            Ok(v) if !(num.is_empty() || num.starts_with('0') && num.len() > 1) => {
                groups.entry(prefix).or_default().push((v, num));
            }
            _ => plain.push(name),
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (prefix, mut nums) in groups {
        nums.sort_unstable();
        nums.dedup();
        if nums.len() == 1 {
            out.push(format!("{prefix}{}", nums[0].1));
            continue;
        }
        let mut ranges: Vec<String> = Vec::new();
        let mut i = 0;
        while i < nums.len() {
            let mut j = i;
            while j + 1 < nums.len() && nums[j + 1].0 == nums[j].0 + 1 {
                j += 1;
            }
            ranges.push(if j > i + 1 {
                format!("{}..{}", nums[i].1, nums[j].1)
            } else if j == i + 1 {
                format!("{},{}", nums[i].1, nums[j].1)
            } else {
                nums[i].1.to_string()
            });
            i = j + 1;
        }
        out.push(format!("{prefix}{{{}}}", ranges.join(",")));
    }
    out.extend(plain.iter().map(|s| s.to_string()));
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_into_ranges() {
        let names: Vec<String> = (101..=130)
            .chain(140..=167)
            .map(|i| format!("paas-10-239-40-{i}"))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(compact_names(&refs), "paas-10-239-40-{101..130,140..167}");
        assert_eq!(
            compact_names(&["n1", "n2", "n4", "worker-a", "node-01", "node-02"]),
            "n{1,2,4}, worker-a, node-01, node-02"
        );
    }
}
