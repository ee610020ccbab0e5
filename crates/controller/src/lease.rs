//! Leader election through a `coordination.k8s.io/v1` Lease (kube-lease-manager): only the
//! holder writes the archive, captures crashes and exports (and, later, heals); every replica
//! serves reads. On shutdown the Lease is released so another replica takes over at once.

use kube::Client;
use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};
use std::time::Duration;
use tokio::sync::watch;

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// This replica's identity (the pod name in a cluster).
    pub identity: String,
    /// Seconds a holder's claim is valid without renewal.
    pub duration_secs: u64,
    /// Seconds before expiry the holder renews.
    pub grace_secs: u64,
}

/// The Lease could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("leader election on Lease {namespace}/{name}: {reason}")]
pub struct LeaseError {
    namespace: String,
    name: String,
    reason: String,
}

/// The innermost cause only (the library nests the same API error several times), with a hint
/// for the usual mistake.
fn reason_of(e: &kube_lease_manager::LeaseManagerError, namespace: &str) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(s) = inner.source() {
        inner = s;
    }
    let text = inner.to_string();
    if text.contains(&format!("namespaces \"{namespace}\" not found")) {
        format!("namespace {namespace} does not exist (create it, or run with --namespace NS)")
    } else {
        text
    }
}

/// Runs the election; the returned channel says whether this replica holds the Lease. When
/// `shutdown` turns true the Lease is released (if held) and the channel turns false; the task
/// then ends.
pub async fn elect(
    client: Client,
    opts: LeaseOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(watch::Receiver<bool>, tokio::task::JoinHandle<()>), LeaseError> {
    let manager = LeaseManagerBuilder::new(client, &opts.name)
        .with_namespace(&opts.namespace)
        .with_identity(&opts.identity)
        .with_duration(opts.duration_secs)
        .with_grace(opts.grace_secs)
        .with_create_mode(LeaseCreateMode::AutoCreate)
        .with_field_manager("kubemedic-controller")
        .build()
        .await
        .map_err(|e| LeaseError {
            namespace: opts.namespace.clone(),
            name: opts.name.clone(),
            reason: reason_of(&e, &opts.namespace),
        })?;
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                r = manager.changed() => match r {
                    Ok(leading) => {
                        tracing::info!(identity = %opts.identity, leading, "Lease {}/{}: {}", opts.namespace, opts.name, if leading { "acquired" } else { "lost" });
                        let _ = tx.send(leading);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Lease renewal failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                _ = shutdown.changed() => {
                    let _ = tx.send(false);
                    match tokio::time::timeout(Duration::from_secs(5), manager.release()).await {
                        Ok(Ok(())) => tracing::info!("Lease released"),
                        Ok(Err(e)) => tracing::warn!(error = %e, "releasing the Lease failed; it expires by itself"),
                        Err(_) => tracing::warn!("releasing the Lease timed out; it expires by itself"),
                    }
                    return;
                }
            }
        }
    });
    Ok((rx, task))
}
