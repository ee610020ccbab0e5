//! Workload analysers: ReplicaSets and ReplicationControllers that cannot create their pods
//! (quota, admission, a missing service account), and Deployments whose rollout stalled, quoting
//! the ReplicaSet's and the new pods' causes one hop further.

use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::Ctx;
use crate::util::{clip, event_evidence, finding};

/// The cause of a controller's `FailedCreate` (`Error creating: pods "x" is forbidden: ...`).
fn failed_create(msg: &str) -> (Cause, f64, &'static str) {
    let m = msg.to_ascii_lowercase();
    if m.contains("exceeded quota")
        || m.contains("must specify limits")
        || m.contains("must specify requests")
    {
        (
            Cause::InsufficientResources,
            0.85,
            "the namespace's ResourceQuota refuses the pods",
        )
    } else if m.contains("serviceaccount") && m.contains("not found") {
        (
            Cause::MissingConfigOrSecret,
            0.85,
            "the pods' ServiceAccount does not exist",
        )
    } else if m.contains("violates podsecurity")
        || m.contains("admission webhook")
        || m.contains("unable to validate against any security")
        || m.contains("forbidden")
    {
        (Cause::ConfigError, 0.75, "admission refuses the pod spec")
    } else {
        (
            Cause::ConfigError,
            0.5,
            "the controller cannot create the pods",
        )
    }
}

/// The workload object a ReplicaSet reports for: its Deployment, else itself.
fn owner_of_rs(ctx: &Ctx<'_>, ns: &str, rs: &str) -> ObjectRef {
    ctx.snap
        .replica_sets
        .iter()
        .find(|r| {
            r.metadata.namespace.as_deref() == Some(ns) && r.metadata.name.as_deref() == Some(rs)
        })
        .and_then(|r| {
            r.metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.kind == "Deployment")
                .map(|o| ObjectRef::namespaced("Deployment", ns, &o.name))
        })
        .unwrap_or_else(|| ObjectRef::namespaced("ReplicaSet", ns, rs))
}

/// Analyses controllers; `raw` holds the pod findings made so far (for a stalled rollout's pods).
pub(crate) fn analyse(ctx: &Ctx<'_>, raw: &mut Vec<Finding>) {
    let mut out: Vec<Finding> = Vec::new();
    // 1. FailedCreate on ReplicaSets and ReplicationControllers: no pod exists to show the cause.
    let mut seen: Vec<ObjectRef> = Vec::new();
    for (kind, items) in [
        (
            "ReplicaSet",
            ctx.snap
                .replica_sets
                .iter()
                .map(|r| (r.metadata.namespace.as_deref(), r.metadata.name.as_deref()))
                .collect::<Vec<_>>(),
        ),
        (
            "ReplicationController",
            ctx.snap
                .replication_controllers
                .iter()
                .map(|r| (r.metadata.namespace.as_deref(), r.metadata.name.as_deref()))
                .collect(),
        ),
    ] {
        for (ns, name) in items {
            let (Some(ns), Some(name)) = (ns, name) else {
                continue;
            };
            let Some(e) = ctx
                .events(kind, ns, name)
                .iter()
                .find(|e| e.reason.as_deref() == Some("FailedCreate"))
            else {
                continue;
            };
            let msg = e.message.as_deref().unwrap_or("");
            let (cause, conf, what) = failed_create(msg);
            let object = if kind == "ReplicaSet" {
                owner_of_rs(ctx, ns, name)
            } else {
                ObjectRef::namespaced(kind, ns, name)
            };
            if seen.contains(&object) {
                continue;
            }
            seen.push(object.clone());
            let mut ev = event_evidence(e);
            ev.source = format!("{} {name}: {}", kind.to_ascii_lowercase(), ev.source);
            let mut f = finding(
                cause,
                Severity::Critical,
                object.clone(),
                format!(
                    "{} {} cannot create its pods: {what}: {}",
                    object.kind,
                    object.name,
                    clip(msg.trim_start_matches("Error creating: "))
                ),
                conf,
            );
            f.evidence.push(ev);
            f.remediation = match cause {
                Cause::InsufficientResources => vec![
                    format!("kubectl -n {ns} describe resourcequota   # used vs hard"),
                    format!(
                        "kubectl -n {ns} set resources {} --limits=cpu=<less>   # or raise the quota",
                        workload_arg(&object)
                    ),
                ],
                Cause::MissingConfigOrSecret => vec![format!(
                    "kubectl -n {ns} create serviceaccount <name from the message>"
                )],
                _ => vec![format!(
                    "kubectl -n {ns} describe {} {name}   # the admission controller's full reason",
                    kind.to_ascii_lowercase()
                )],
            };
            out.push(f);
        }
    }
    // 2. A stalled rollout: the Deployment says so; the new pods' findings say why. Pods are
    //    looked up by name only for stalled Deployments (usually none).
    let mut pods_by_name: Option<
        std::collections::HashMap<(&str, &str), &kubemedic_model::objects::Pod>,
    > = None;
    for d in &ctx.snap.deployments {
        let (Some(ns), Some(name)) = (d.metadata.namespace.as_deref(), d.metadata.name.as_deref())
        else {
            continue;
        };
        let conditions = d
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[]);
        let Some(stall) = conditions.iter().find(|c| {
            c.type_.as_deref() == Some("Progressing")
                && c.status.as_deref() == Some("False")
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        }) else {
            continue;
        };
        let object = ObjectRef::namespaced("Deployment", ns, name);
        let stall_ev = Evidence::new(
            "deployment status",
            format!(
                "Progressing=False reason=ProgressDeadlineExceeded message={}",
                clip(stall.message.as_deref().unwrap_or(""))
            ),
        );
        if let Some(f) = out.iter_mut().find(|f| f.object == object) {
            f.evidence.push(stall_ev);
            continue;
        }
        // The most likely cause among its pods' findings.
        let by_name = pods_by_name.get_or_insert_with(|| {
            ctx.snap
                .pods
                .iter()
                .map(|p| (crate::util::pod_key(p), p))
                .collect()
        });
        let pod_cause = raw
            .iter()
            .filter(|f| f.object.kind == "Pod" && f.object.namespace.as_deref() == Some(ns))
            .filter(|f| {
                by_name
                    .get(&(ns, f.object.name.as_str()))
                    .is_some_and(|p| ctx.workload_of(p) == Some(("Deployment", name)))
            })
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence));
        let Some(pf) = pod_cause else { continue };
        let mut f = finding(
            pf.cause,
            pf.severity.max(Severity::Warning),
            object.clone(),
            format!(
                "the rollout of Deployment {name} stalled (ProgressDeadlineExceeded): pod {}: {}",
                pf.object.name, pf.summary
            ),
            (pf.confidence - 0.01).max(0.0),
        );
        f.evidence.push(stall_ev);
        f.evidence.extend(pf.evidence.iter().take(3).map(|e| {
            Evidence::new(
                format!("pod {}: {}", pf.object.name, e.source),
                e.text.clone(),
            )
        }));
        f.remediation = pf.remediation.clone();
        f.remediation.push(format!(
            "kubectl -n {ns} rollout undo deploy/{name}   # back to the last working ReplicaSet"
        ));
        out.push(f);
    }
    raw.extend(out);
}

fn workload_arg(o: &ObjectRef) -> String {
    match o.kind.as_str() {
        "Deployment" => format!("deploy/{}", o.name),
        "ReplicaSet" => format!("rs/{}", o.name),
        "ReplicationController" => format!("rc/{}", o.name),
        _ => format!("{}/{}", o.kind.to_ascii_lowercase(), o.name),
    }
}
