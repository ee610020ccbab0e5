//! The I/O edge of healing: actions through the Kubernetes API, the per-node lock, and the loop
//! that carries Remediations forward. The controller runs [`runner::Healer`] while it holds the
//! leader Lease.

pub mod api;
pub mod lock;
pub mod runner;

use crate::view::ClusterView;
use kube::Client;
use kube::api::{Api, ListParams};
use kubemedic_model::objects::{Node, Pod};

/// The nodes and pods of the cluster as the planner sees them, listed straight from the API
/// (no findings). The controller builds its view from its watch cache instead; this serves
/// tests and tools without one.
pub async fn live_view(client: &Client) -> Result<ClusterView, kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let nodes = nodes.list(&ListParams::default()).await?.items;
    let pods = pods.list(&ListParams::default()).await?.items;
    let mut snap = kubemedic_model::Snapshot {
        taken_at: Some(jiff::Timestamp::now()),
        ..Default::default()
    };
    snap.nodes = nodes;
    snap.pods = pods;
    let view = ClusterView::from_snapshot(
        &snap,
        &kubemedic_diagnose::Report::default(),
        jiff::Timestamp::now(),
    );
    Ok(view)
}
