//! One disruptive run per node, held as a coordination.k8s.io Lease `kubemedic-node-<node>`
//! whose holder is the Remediation's name. A Lease whose holder finished, vanished or stopped
//! renewing is taken over (kured's locks held by vanished nodes block forever; these do not).

use crate::crd::Remediation;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::time::Duration;

/// The Lease name for a node (Lease names are DNS subdomains; node names already are).
pub fn lease_name(node: &str) -> String {
    format!("kubemedic-node-{node}")
}

fn micro(t: Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(t)
}

/// Takes (or renews) the node's lock for `holder`; false when another live run holds it.
pub async fn acquire(
    client: &Client,
    namespace: &str,
    node: &str,
    holder: &str,
    duration: Duration,
) -> bool {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let name = lease_name(node);
    let now = Timestamp::now();
    let secs = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
    let fresh: Lease = match serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubemedic.io/node": node}},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": secs},
    })) {
        Ok(l) => l,
        Err(_) => return false,
    };
    let mut fresh = fresh;
    if let Some(spec) = fresh.spec.as_mut() {
        spec.acquire_time = Some(micro(now));
        spec.renew_time = Some(micro(now));
    }
    match leases.create(&PostParams::default(), &fresh).await {
        Ok(_) => return true,
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => {
            tracing::warn!(node, error = %e, "cannot create the node lock");
            return false;
        }
    }
    let Ok(mut current) = leases.get(&name).await else {
        return false;
    };
    let spec = current.spec.clone().unwrap_or_default();
    let held_by = spec.holder_identity.clone().unwrap_or_default();
    if held_by != holder && !held_by.is_empty() {
        let expired = spec.renew_time.as_ref().is_some_and(|t| {
            let d = i64::from(spec.lease_duration_seconds.unwrap_or(0));
            t.0.checked_add(jiff::SignedDuration::from_secs(d))
                .is_ok_and(|end| end < now)
        });
        let holder_done = match Api::<Remediation>::all(client.clone())
            .get_opt(&held_by)
            .await
        {
            Ok(None) => true,
            Ok(Some(r)) => r
                .status
                .and_then(|s| s.phase)
                .is_some_and(crate::crd::Phase::finished),
            Err(_) => false,
        };
        if !expired && !holder_done {
            return false;
        }
    }
    let mut spec = spec;
    if held_by != holder {
        spec.acquire_time = Some(micro(now));
    }
    spec.holder_identity = Some(holder.to_string());
    spec.lease_duration_seconds = Some(secs);
    spec.renew_time = Some(micro(now));
    current.spec = Some(spec);
    // Replace carries the resourceVersion: two takers cannot both win.
    leases
        .replace(&name, &PostParams::default(), &current)
        .await
        .is_ok()
}

/// Releases the node's lock if `holder` has it.
pub async fn release(client: &Client, namespace: &str, node: &str, holder: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let name = lease_name(node);
    if let Ok(Some(l)) = leases.get_opt(&name).await
        && l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(holder)
    {
        let dp = kube::api::DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: l.metadata.uid.clone(),
                resource_version: l.metadata.resource_version.clone(),
            }),
            ..Default::default()
        };
        let _ = leases.delete(&name, &dp).await;
    }
}
