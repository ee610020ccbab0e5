//! Actions through the Kubernetes API: cordon/uncordon (never undoing a cordon kubemedic did not
//! set), taint, delete pods (e.g. the node's CNI pod), drain through the Eviction API, rollout
//! restart. Each one is idempotent given the intent recorded before it runs.

use crate::action::{PodChoice, TaintEffect};
use crate::view::CORDONED_BY_ANNOTATION;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Client, Resource};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// An action failed; the message is for the Remediation's history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The API refused or could not be reached.
    #[error("{0}")]
    Api(String),
    /// The action cannot be carried out on this target.
    #[error("{0}")]
    Refused(String),
}

fn api_err(what: &str, e: kube::Error) -> ActionError {
    ActionError::Api(format!("{what}: {e}"))
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Cordons a node; returns whether it was already unschedulable (then kubemedic never
/// uncordons it). The annotation names the run that cordoned it.
pub async fn cordon(client: &Client, node: &str, run: &str) -> Result<bool, ActionError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.get(node).await.map_err(|e| api_err("get node", e))?;
    let already = n
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    let ours = n
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CORDONED_BY_ANNOTATION));
    if already && !ours {
        return Ok(true);
    }
    let patch = json!({
        "metadata": {"annotations": {CORDONED_BY_ANNOTATION: run}},
        "spec": {"unschedulable": true},
    });
    tracing::debug!(target: "heal_timing", node, "cordon PATCH sent");
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| api_err("cordon", e))?;
    tracing::debug!(target: "heal_timing", node, "cordon PATCH answered");
    Ok(already && ours)
}

/// Uncordons a node only if kubemedic's annotation is on it; returns whether it did.
pub async fn uncordon(client: &Client, node: &str) -> Result<bool, ActionError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.get(node).await.map_err(|e| api_err("get node", e))?;
    let ours = n
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CORDONED_BY_ANNOTATION));
    if !ours {
        return Ok(false);
    }
    let patch = json!({
        "metadata": {"annotations": {CORDONED_BY_ANNOTATION: null}},
        "spec": {"unschedulable": false},
    });
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| api_err("uncordon", e))?;
    Ok(true)
}

/// Adds a taint unless one with the key and effect is there.
pub async fn taint(
    client: &Client,
    node: &str,
    key: &str,
    value: &str,
    effect: TaintEffect,
) -> Result<(), ActionError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let effect = format!("{effect:?}");
    for _ in 0..5 {
        let n = nodes.get(node).await.map_err(|e| api_err("get node", e))?;
        let mut taints = n
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        if taints.iter().any(|t| t.key == key && t.effect == effect) {
            return Ok(());
        }
        taints.push(k8s_openapi::api::core::v1::Taint {
            key: key.to_string(),
            value: Some(value.to_string()).filter(|v| !v.is_empty()),
            effect: effect.clone(),
            time_added: None,
        });
        // The resourceVersion makes a concurrent change to the taints fail, not vanish.
        let patch = json!({
            "metadata": {"resourceVersion": n.metadata.resource_version},
            "spec": {"taints": taints},
        });
        match nodes
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if status_code(&e) == Some(409) => continue,
            Err(e) => return Err(api_err("taint", e)),
        }
    }
    Err(ActionError::Api(
        "taint: the node kept changing (5 conflicts)".into(),
    ))
}

fn owner_kind(p: &Pod) -> Option<(&str, &str)> {
    p.metadata.owner_references.as_ref().and_then(|os| {
        os.iter()
            .find(|o| o.controller == Some(true))
            .map(|o| (o.kind.as_str(), o.name.as_str()))
    })
}

async fn pods_on(client: &Client, node: &str) -> Result<Vec<Pod>, ActionError> {
    let pods: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={node}"));
    Ok(pods
        .list(&lp)
        .await
        .map_err(|e| api_err("list pods on the node", e))?
        .items)
}

/// The pods `delete-pod` means on `node` (or the pod target itself), as (namespace, name, uid).
pub async fn choose_pods(
    client: &Client,
    node: Option<&str>,
    choice: &PodChoice,
    target: (&str, &str),
) -> Result<Vec<(String, String, String)>, ActionError> {
    let id = |p: &Pod| {
        (
            p.metadata.namespace.clone().unwrap_or_default(),
            p.metadata.name.clone().unwrap_or_default(),
            p.metadata.uid.clone().unwrap_or_default(),
        )
    };
    if let PodChoice::Target = choice {
        let pods: Api<Pod> = Api::namespaced(client.clone(), target.0);
        return match pods.get_opt(target.1).await {
            Ok(Some(p)) => Ok(vec![id(&p)]),
            Ok(None) => Ok(vec![]),
            Err(e) => Err(api_err("get pod", e)),
        };
    }
    let node = node.ok_or_else(|| ActionError::Refused("no node to choose pods on".into()))?;
    let all = pods_on(client, node).await?;
    let chosen = all.iter().filter(|p| match choice {
        PodChoice::Target => false,
        PodChoice::DaemonSet(ns, name) => {
            p.metadata.namespace.as_deref() == Some(ns.as_str())
                && owner_kind(p) == Some(("DaemonSet", name.as_str()))
        }
        PodChoice::Labels(ns, sel) => {
            ns.as_ref()
                .is_none_or(|ns| p.metadata.namespace.as_deref() == Some(ns.as_str()))
                && sel.matches(&p.metadata.labels.clone().unwrap_or_default())
        }
        PodChoice::HostPath(path) => {
            owner_kind(p).is_some_and(|(k, _)| k == "DaemonSet")
                && p.spec
                    .as_ref()
                    .and_then(|s| s.volumes.as_ref())
                    .is_some_and(|vs| {
                        vs.iter().filter_map(|v| v.host_path.as_ref()).any(|h| {
                            let hp = h.path.trim_end_matches('/');
                            hp == path || hp.starts_with(&format!("{path}/"))
                        })
                    })
        }
    });
    Ok(chosen.map(id).collect())
}

/// Deletes the pods recorded in the intent, each only if its UID is still the same (a replacement
/// is never deleted by a replay). Returns how many were deleted now.
pub async fn delete_pods(
    client: &Client,
    pods: &[(String, String, String)],
) -> Result<usize, ActionError> {
    let mut deleted = 0;
    for (ns, name, uid) in pods {
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => deleted += 1,
            // Gone already, or a replacement with another UID: done.
            Err(e) if matches!(status_code(&e), Some(404 | 409)) => {}
            Err(e) => return Err(api_err(&format!("delete pod {ns}/{name}"), e)),
        }
    }
    Ok(deleted)
}

/// Why a pod is left on the node by a drain.
fn drain_skip(p: &Pod) -> Option<&'static str> {
    let ann = p.metadata.annotations.clone().unwrap_or_default();
    if ann.contains_key("kubernetes.io/config.mirror") {
        return Some("mirror pod");
    }
    if owner_kind(p).is_some_and(|(k, _)| k == "DaemonSet") {
        return Some("DaemonSet pod");
    }
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return Some("finished pod");
    }
    None
}

/// Pods a drain may not evict, with why (the drain then cannot finish and escalates).
fn drain_block(p: &Pod, delete_empty_dir_data: bool) -> Option<String> {
    let ann = p.metadata.annotations.clone().unwrap_or_default();
    if ann
        .get("cluster-autoscaler.kubernetes.io/safe-to-evict")
        .is_some_and(|v| v == "false")
    {
        return Some("annotated safe-to-evict: \"false\"".into());
    }
    if !delete_empty_dir_data
        && p.spec
            .as_ref()
            .and_then(|s| s.volumes.as_ref())
            .is_some_and(|vs| vs.iter().any(|v| v.empty_dir.is_some()))
    {
        return Some("uses emptyDir (deleteEmptyDirData: false)".into());
    }
    None
}

/// The outcome of a drain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Pods evicted.
    pub evicted: Vec<String>,
    /// Pods left, with why.
    pub skipped: Vec<String>,
    /// 429 answers (PDB) met on the way.
    pub throttled: usize,
    /// Everything evictable is gone.
    pub finished: bool,
    /// What is left when not finished, with why.
    pub left: Vec<String>,
}

/// Drains the node through the Eviction API until every evictable pod is gone or `deadline`
/// (then `finished` is false and the caller continues later: evictions are idempotent):
/// 429 (a PodDisruptionBudget allows no disruption now) → retried after a backoff; 404 → done;
/// DaemonSet, mirror and finished pods stay; pods marked safe-to-evict "false" block. Never
/// deletes a pod directly: a drain that cannot finish times out (and the runbook escalates).
pub async fn drain(
    client: &Client,
    node: &str,
    grace_period: Option<u64>,
    delete_empty_dir_data: bool,
    deadline: Instant,
) -> Result<DrainReport, ActionError> {
    let mut report = DrainReport::default();
    let mut backoff = Duration::from_millis(500);
    let mut evicted: BTreeMap<String, String> = BTreeMap::new(); // ns/name -> uid
    loop {
        let pods = pods_on(client, node).await?;
        let mut remaining = Vec::new();
        let mut blocked = Vec::new();
        report.skipped.clear();
        for p in &pods {
            let key = format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or_default(),
                p.metadata.name.as_deref().unwrap_or_default()
            );
            if let Some(why) = drain_skip(p) {
                report.skipped.push(format!("{key} ({why})"));
                continue;
            }
            if let Some(why) = drain_block(p, delete_empty_dir_data) {
                blocked.push(format!("{key}: {why}"));
                continue;
            }
            remaining.push((key, p));
        }
        if remaining.is_empty() && blocked.is_empty() {
            report.evicted = evicted.into_keys().collect();
            report.finished = true;
            return Ok(report);
        }
        let mut throttled_now = false;
        for (key, p) in &remaining {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            if evicted.get(key) == Some(&uid) {
                continue; // eviction accepted; the pod is terminating
            }
            let api: Api<Pod> = Api::namespaced(
                client.clone(),
                p.metadata.namespace.as_deref().unwrap_or_default(),
            );
            let ep = EvictParams {
                delete_options: Some(DeleteParams {
                    grace_period_seconds: grace_period.map(|g| g as u32),
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                }),
                ..EvictParams::default()
            };
            match api
                .evict(p.metadata.name.as_deref().unwrap_or_default(), &ep)
                .await
            {
                Ok(_) => {
                    evicted.insert(key.clone(), uid);
                }
                Err(e) if status_code(&e) == Some(404) => {
                    evicted.insert(key.clone(), uid);
                }
                Err(e) if status_code(&e) == Some(429) => {
                    report.throttled += 1;
                    throttled_now = true;
                }
                Err(e) if status_code(&e) == Some(409) => {} // uid changed: re-listed next round
                Err(e) => return Err(api_err(&format!("evict {key}"), e)),
            }
        }
        if Instant::now() >= deadline {
            let mut left: Vec<String> = remaining.iter().map(|(k, _)| k.clone()).collect();
            left.extend(blocked);
            report.left = left;
            report.evicted = evicted.into_keys().collect();
            return Ok(report);
        }
        let wait = if throttled_now {
            let w = backoff;
            backoff = (backoff * 2).min(Duration::from_secs(10));
            w
        } else {
            Duration::from_millis(500)
        };
        tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// Restarts the workload owning a pod (or the workload target itself) by stamping its pod
/// template, as `kubectl rollout restart` does. `stamp` comes from the intent, so a replay
/// writes the same value (no second rollout).
pub async fn rollout_restart(
    client: &Client,
    kind: &str,
    namespace: &str,
    name: &str,
    stamp: &str,
) -> Result<String, ActionError> {
    let (kind, name) = if kind == "Pod" {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let p = pods.get(name).await.map_err(|e| api_err("get pod", e))?;
        match owner_kind(&p) {
            Some(("ReplicaSet", rs)) => {
                let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
                let r = rss
                    .get(rs)
                    .await
                    .map_err(|e| api_err("get replicaset", e))?;
                let dep = r.metadata.owner_references.as_ref().and_then(|os| {
                    os.iter()
                        .find(|o| o.kind == "Deployment")
                        .map(|o| o.name.clone())
                });
                match dep {
                    Some(d) => ("Deployment".to_string(), d),
                    None => {
                        return Err(ActionError::Refused(format!(
                            "pod {name} belongs to ReplicaSet {rs} without a Deployment"
                        )));
                    }
                }
            }
            Some((k @ ("StatefulSet" | "DaemonSet"), n)) => (k.to_string(), n.to_string()),
            other => {
                return Err(ActionError::Refused(format!(
                    "pod {name} has no Deployment, StatefulSet or DaemonSet to restart ({other:?})"
                )));
            }
        }
    } else {
        (kind.to_string(), name.to_string())
    };
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": stamp
    }}}}});
    let pp = PatchParams::default();
    let res = match kind.as_str() {
        "Deployment" => Api::<Deployment>::namespaced(client.clone(), namespace)
            .patch(&name, &pp, &Patch::Merge(&patch))
            .await
            .map(|_| ()),
        "StatefulSet" => Api::<StatefulSet>::namespaced(client.clone(), namespace)
            .patch(&name, &pp, &Patch::Merge(&patch))
            .await
            .map(|_| ()),
        "DaemonSet" => Api::<DaemonSet>::namespaced(client.clone(), namespace)
            .patch(&name, &pp, &Patch::Merge(&patch))
            .await
            .map(|_| ()),
        other => {
            return Err(ActionError::Refused(format!("cannot restart a {other}")));
        }
    };
    res.map_err(|e| api_err(&format!("rollout restart {kind}/{name}"), e))?;
    Ok(format!("{kind}/{namespace}/{name}"))
}

/// The object reference of a Node, for Events.
pub fn node_ref(name: &str) -> k8s_openapi::api::core::v1::ObjectReference {
    let mut n = Node::default();
    n.metadata.name = Some(name.to_string());
    n.object_ref(&())
}

/// A pod's use of emptyDir space on its node, from the kubelet's volume statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyDirUse {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (the eviction's precondition).
    pub uid: String,
    /// Bytes used by the pod's emptyDir volumes together.
    pub bytes: u64,
}

/// The pods of `pods` that use emptyDir space according to the kubelet's `/stats/summary`
/// (`pods[].podRef`, `pods[].volume[].name`/`usedBytes`), biggest first. Only volumes the pod's
/// spec declares as emptyDir count (not ConfigMaps, Secrets or projected tokens, which the
/// summary lists too); pods a drain would leave (DaemonSet, mirror, finished) or may not evict
/// (safe-to-evict "false") are left out, as are pods whose UID no longer matches.
pub fn emptydir_usage(summary: &serde_json::Value, pods: &[Pod]) -> Vec<EmptyDirUse> {
    let mut out = Vec::new();
    let Some(stats) = summary.get("pods").and_then(|p| p.as_array()) else {
        return out;
    };
    for s in stats {
        let r = &s["podRef"];
        let (Some(ns), Some(name), Some(uid)) = (
            r["namespace"].as_str(),
            r["name"].as_str(),
            r["uid"].as_str(),
        ) else {
            continue;
        };
        let Some(pod) = pods.iter().find(|p| {
            p.metadata.namespace.as_deref() == Some(ns)
                && p.metadata.name.as_deref() == Some(name)
                && p.metadata.uid.as_deref() == Some(uid)
        }) else {
            continue;
        };
        if drain_skip(pod).is_some() || drain_block(pod, true).is_some() {
            continue;
        }
        let empty_dirs: Vec<&str> = pod
            .spec
            .as_ref()
            .and_then(|sp| sp.volumes.as_ref())
            .map(|vs| {
                vs.iter()
                    .filter(|v| v.empty_dir.is_some())
                    .map(|v| v.name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let bytes: u64 = s["volume"]
            .as_array()
            .map(|vols| {
                vols.iter()
                    .filter(|v| v["name"].as_str().is_some_and(|n| empty_dirs.contains(&n)))
                    .filter_map(|v| v["usedBytes"].as_u64())
                    .sum()
            })
            .unwrap_or(0);
        if bytes > 0 {
            out.push(EmptyDirUse {
                namespace: ns.to_string(),
                name: name.to_string(),
                uid: uid.to_string(),
                bytes,
            });
        }
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    out
}

/// The `top` pods using the most emptyDir space on `node`, from the kubelet's volume statistics
/// read through the apiserver's node proxy (`/api/v1/nodes/<node>/proxy/stats/summary`; RBAC:
/// `nodes/proxy` get).
pub async fn emptydir_top(
    client: &Client,
    node: &str,
    top: u32,
) -> Result<Vec<EmptyDirUse>, ActionError> {
    let path = format!("/api/v1/nodes/{node}/proxy/stats/summary");
    let req = http::Request::get(&path)
        .body(Vec::new())
        .map_err(|e| ActionError::Api(format!("GET {path}: {e}")))?;
    let text = client.request_text(req).await.map_err(|e| match status_code(&e) {
        Some(403) => ActionError::Refused(format!(
            "the kubelet's volume statistics ({path}) are forbidden: the controller needs `get` on nodes/proxy (chart: controller.healing.kubeletStats=true): {e}"
        )),
        _ => api_err(&format!("GET {path}"), e),
    })?;
    let summary: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ActionError::Api(format!("GET {path}: not a stats summary: {e}")))?;
    let pods = pods_on(client, node).await?;
    let mut usage = emptydir_usage(&summary, &pods);
    usage.truncate(top as usize);
    Ok(usage)
}

/// Evicts the given pods (namespace, name, UID) through the Eviction API with a UID
/// precondition, retrying PodDisruptionBudget refusals (429) with backoff until `deadline`.
/// Returns the pods evicted (or already gone) and how many refusals were met; pods still refused
/// at the deadline are named in the error.
pub async fn evict_pods(
    client: &Client,
    pods: &[(String, String, String)],
    deadline: Instant,
) -> Result<(Vec<String>, usize), ActionError> {
    let mut done: Vec<String> = Vec::new();
    let mut throttled = 0usize;
    let mut backoff = Duration::from_millis(500);
    loop {
        let mut left = Vec::new();
        for (ns, name, uid) in pods {
            let key = format!("{ns}/{name}");
            if done.contains(&key) {
                continue;
            }
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let ep = EvictParams {
                delete_options: Some(DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                }),
                ..EvictParams::default()
            };
            match api.evict(name, &ep).await {
                // 404: gone; 409: the UID changed (a replacement: not ours to evict).
                Ok(_) => done.push(key),
                Err(e) if matches!(status_code(&e), Some(404 | 409)) => done.push(key),
                Err(e) if status_code(&e) == Some(429) => {
                    throttled += 1;
                    left.push(key);
                }
                Err(e) => return Err(api_err(&format!("evict {key}"), e)),
            }
        }
        if left.is_empty() {
            return Ok((done, throttled));
        }
        if Instant::now() + backoff >= deadline {
            return Err(ActionError::Api(format!(
                "evictions refused by PodDisruptionBudgets ({throttled} times) for {}; evicted: {}",
                left.join(", "),
                if done.is_empty() {
                    "none".to_string()
                } else {
                    done.join(", ")
                }
            )));
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod emptydir_tests {
    use super::*;

    fn pod(name: &str, uid: &str, volumes: serde_json::Value, owner: Option<&str>) -> Pod {
        let mut p = json!({
            "metadata": {"name": name, "namespace": "shop", "uid": uid},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}], "volumes": volumes},
            "status": {"phase": "Running"},
        });
        if let Some(kind) = owner {
            p["metadata"]["ownerReferences"] = json!([{
                "apiVersion": "apps/v1", "kind": kind, "name": "o", "uid": "o", "controller": true
            }]);
        }
        serde_json::from_value(p).unwrap()
    }

    /// The shape the kubelet serves at /stats/summary (trimmed): emptyDir volumes, ConfigMap
    /// and token volumes side by side.
    #[test]
    fn the_biggest_emptydir_users_come_first_and_only_emptydirs_count() {
        let summary = json!({
            "node": {"nodeName": "n1"},
            "pods": [
                {"podRef": {"name": "cache", "namespace": "shop", "uid": "u1"},
                 "volume": [
                    {"name": "scratch", "usedBytes": 52428800u64, "capacityBytes": 1u64},
                    {"name": "kube-api-access-x", "usedBytes": 12288u64},
                 ]},
                {"podRef": {"name": "web", "namespace": "shop", "uid": "u2"},
                 "volume": [
                    {"name": "tmp", "usedBytes": 4096u64},
                    {"name": "config", "usedBytes": 900000000u64},
                 ]},
                {"podRef": {"name": "agent", "namespace": "shop", "uid": "u3"},
                 "volume": [{"name": "buf", "usedBytes": 999999999u64}]},
                {"podRef": {"name": "gone", "namespace": "shop", "uid": "old"},
                 "volume": [{"name": "scratch", "usedBytes": 999999999u64}]},
                {"podRef": {"name": "idle", "namespace": "shop", "uid": "u5"},
                 "volume": [{"name": "scratch", "usedBytes": 0u64}]},
            ]
        });
        let pods = vec![
            pod(
                "cache",
                "u1",
                json!([{"name": "scratch", "emptyDir": {}}, {"name": "kube-api-access-x", "projected": {"sources": []}}]),
                Some("ReplicaSet"),
            ),
            pod(
                "web",
                "u2",
                json!([{"name": "tmp", "emptyDir": {"medium": ""}}, {"name": "config", "configMap": {"name": "c"}}]),
                None,
            ),
            // DaemonSet pods stay, as in a drain.
            pod(
                "agent",
                "u3",
                json!([{"name": "buf", "emptyDir": {}}]),
                Some("DaemonSet"),
            ),
            // The summary still names an earlier pod of the same name: its UID does not match.
            pod(
                "gone",
                "new",
                json!([{"name": "scratch", "emptyDir": {}}]),
                None,
            ),
            pod(
                "idle",
                "u5",
                json!([{"name": "scratch", "emptyDir": {}}]),
                None,
            ),
        ];
        let got = emptydir_usage(&summary, &pods);
        let names: Vec<(&str, u64)> = got.iter().map(|u| (u.name.as_str(), u.bytes)).collect();
        assert_eq!(names, vec![("cache", 52428800), ("web", 4096)]);
        assert_eq!(got[0].uid, "u1");
        assert!(emptydir_usage(&json!({"node": {}}), &pods).is_empty());
    }
}
