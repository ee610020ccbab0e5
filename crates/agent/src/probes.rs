//! The network prober inside the agent (`kubemedic agent --probes`): started next to the
//! monitors, its verdicts enter the same pipeline as a monitor's reports, so the
//! `PodNetworkUnreachable` NodeCondition and the fault Events go through the same Kubernetes
//! exporter, the standalone printer and `/conditions`; its results are served on `/probes`,
//! merged into `/facts`, and its metrics join `/metrics`.

use crate::health::{HealthRegistry, SourceState};
use crate::pipeline::MonitorUpdate;
use jiff::Timestamp;
use kubemedic_detect::{
    ConditionChange, ConditionStatus, NodeConditionSnapshot, ProblemEvent, Report, Severity,
    TrackedCondition,
};
use kubemedic_probe::discovery::{self, DiscoveryOptions};
use kubemedic_probe::{
    Discovered, FaultChange, POD_NETWORK_CONDITION, PodNetworkCondition, ProbeConfig, ProbeHandle,
    ProbeUpdate, Prober,
};
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The monitor source name the prober reports under (Events' `source.component`).
pub const PROBE_SOURCE: &str = "network-probe";

/// Where the prober learns its neighbours and DNS replicas.
#[derive(Clone)]
pub enum ProbeDiscovery {
    /// Watches on the API (prober pods, cordoned nodes, the DNS Service's EndpointSlices).
    Kube(kube::Client, DiscoveryOptions),
    /// A fixed view (`--probe-peer`, `--probe-dns-server`; standalone hosts and tests).
    Fixed(Discovered),
}

impl std::fmt::Debug for ProbeDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeDiscovery::Kube(_, o) => f.debug_tuple("Kube").field(o).finish(),
            ProbeDiscovery::Fixed(v) => f.debug_tuple("Fixed").field(v).finish(),
        }
    }
}

/// Settings of the prober in the agent.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The prober's settings.
    pub config: ProbeConfig,
    /// Discovery.
    pub discovery: ProbeDiscovery,
    /// Address of the check endpoint other probers call (also serves `/probes` and
    /// `/metrics`); `None`: no endpoint (this node is then never reachable to its watchers).
    pub listen: Option<SocketAddr>,
}

/// The condition as it was on the Node when the agent started.
pub fn initial_condition(node_conditions: &[NodeConditionSnapshot]) -> Option<(bool, Timestamp)> {
    node_conditions
        .iter()
        .find(|c| c.condition_type == POD_NETWORK_CONDITION)
        .map(|c| (c.status == ConditionStatus::True, c.last_transition))
}

fn tracked(c: &PodNetworkCondition) -> TrackedCondition {
    TrackedCondition {
        condition_type: POD_NETWORK_CONDITION.to_string(),
        status: if c.unreachable {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        reason: c.reason.clone(),
        message: c.message.clone(),
        transition: c.transition,
    }
}

/// The Event for a fault change: Warning `<Kind>` when raised, Normal `<Kind>Resolved` when
/// cleared.
pub fn fault_event(change: &FaultChange, now: Timestamp) -> ProblemEvent {
    ProblemEvent {
        source: PROBE_SOURCE.to_string(),
        reason: if change.raised {
            change.kind.clone()
        } else {
            format!("{}Resolved", change.kind)
        },
        message: if change.raised {
            change.message.clone()
        } else {
            format!("resolved: {}", change.message)
        },
        severity: if change.raised {
            Severity::Warn
        } else {
            Severity::Info
        },
        time: now,
    }
}

/// Turns a prober update into a monitor update; `last` is the condition reported before
/// (kept for updates that carry only Events).
pub fn monitor_update(
    update: ProbeUpdate,
    last: &mut Option<TrackedCondition>,
    now: Timestamp,
) -> MonitorUpdate {
    let mut reports: Vec<Report> = update
        .changes
        .iter()
        .map(|c| Report::Event(fault_event(c, now)))
        .collect();
    if let Some(c) = &update.condition {
        let t = tracked(c);
        reports.push(Report::Condition(ConditionChange {
            source: PROBE_SOURCE.to_string(),
            condition_type: t.condition_type.clone(),
            status: t.status,
            reason: t.reason.clone(),
            message: t.message.clone(),
            transition: t.transition,
        }));
        *last = Some(t);
    }
    MonitorUpdate {
        source: PROBE_SOURCE.to_string(),
        reports,
        conditions: last.iter().cloned().collect(),
        metrics: None,
    }
}

/// A running prober's handle and tasks.
#[derive(Debug)]
pub struct RunningProber {
    /// Results, metrics, check endpoint.
    pub handle: ProbeHandle,
    /// The check endpoint's address (port 0 resolved).
    pub listening: Option<SocketAddr>,
    /// Tasks to abort when the agent stops.
    pub tasks: Vec<JoinHandle<()>>,
}

/// Why the prober could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeStartError {
    /// Bad settings or CA files.
    #[error("{0}")]
    Probe(#[from] kubemedic_probe::ProbeError),
    /// The check endpoint's address could not be bound.
    #[error("cannot listen on {address} for probe checks: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Starts the prober: the check endpoint, discovery, the probe loop and the bridge into the
/// agent's pipeline. `extra` builds what the check endpoint serves besides the check and
/// `/probes` (the agent's `/metrics`).
pub async fn start(
    options: ProbeOptions,
    node_conditions: &[NodeConditionSnapshot],
    updates: mpsc::Sender<MonitorUpdate>,
    health: &HealthRegistry,
    extra: impl FnOnce(ProbeHandle) -> axum::Router,
) -> Result<RunningProber, ProbeStartError> {
    let prober = Prober::new(options.config, initial_condition(node_conditions))?;
    let handle = prober.handle();
    let mut tasks = Vec::new();
    let mut listening = None;
    if let Some(address) = options.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| ProbeStartError::Listen { address, source })?;
        listening = Some(listener.local_addr().unwrap_or(address));
        let app = kubemedic_probe::server::router(handle.clone()).merge(extra(handle.clone()));
        tasks.push(tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "probe check endpoint stopped");
            }
        }));
    }
    let discovered = match options.discovery {
        ProbeDiscovery::Kube(client, opts) => discovery::spawn(client, opts),
        ProbeDiscovery::Fixed(view) => discovery::fixed(view),
    };
    let (probe_tx, mut probe_rx) = mpsc::channel::<ProbeUpdate>(256);
    let h = health.register(PROBE_SOURCE, "probe");
    h.set(SourceState::Ok);
    let run = tokio::spawn(prober.run(discovered, probe_tx));
    let bridge_health = h.clone();
    tasks.push(tokio::spawn(async move {
        let mut last = None;
        while let Some(update) = probe_rx.recv().await {
            bridge_health.line();
            let u = monitor_update(update, &mut last, Timestamp::now());
            if updates.send(u).await.is_err() {
                return;
            }
        }
    }));
    // Supervision: the probe loop ends only when the agent stops; anything else is a death.
    tasks.push(tokio::spawn(async move {
        let detail = match run.await {
            Ok(()) => "probe loop ended".to_string(),
            Err(e) if e.is_panic() => format!("probe loop panicked: {e}"),
            Err(e) => format!("probe loop failed: {e}"),
        };
        tracing::error!(detail, "network prober is dead");
        h.set(SourceState::Dead(detail));
    }));
    Ok(RunningProber {
        handle,
        listening,
        tasks,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn updates_become_events_and_the_condition() {
        let mut last = None;
        let u = monitor_update(
            ProbeUpdate {
                changes: vec![FaultChange {
                    kind: "DNSPartialFailure".into(),
                    subject: "cluster-dns".into(),
                    raised: true,
                    message: "2 of 6 DNS replicas fail".into(),
                }],
                condition: Some(PodNetworkCondition {
                    unreachable: false,
                    reason: "PodNetworkReachable".into(),
                    message: "pod network reachable: 0/3 ...".into(),
                    transition: t(0),
                }),
            },
            &mut last,
            t(1),
        );
        assert_eq!(u.source, PROBE_SOURCE);
        assert_eq!(u.conditions.len(), 1);
        assert_eq!(u.conditions[0].condition_type, "PodNetworkUnreachable");
        assert_eq!(u.conditions[0].status, ConditionStatus::False);
        match &u.reports[0] {
            Report::Event(e) => {
                assert_eq!(e.reason, "DNSPartialFailure");
                assert_eq!(e.severity, Severity::Warn);
            }
            r => panic!("{r:?}"),
        }
        assert!(matches!(u.reports[1], Report::Condition(_)));
        // Events only: the last condition is still reported as the monitor's state.
        let u = monitor_update(
            ProbeUpdate {
                changes: vec![FaultChange {
                    kind: "DNSPartialFailure".into(),
                    subject: "cluster-dns".into(),
                    raised: false,
                    message: "2 of 6 DNS replicas fail".into(),
                }],
                condition: None,
            },
            &mut last,
            t(2),
        );
        assert_eq!(u.conditions.len(), 1);
        assert_eq!(u.reports.len(), 1);
        match &u.reports[0] {
            Report::Event(e) => {
                assert_eq!(e.reason, "DNSPartialFailureResolved");
                assert_eq!(e.severity, Severity::Info);
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn restart_reads_the_condition_from_the_node() {
        let snaps = vec![NodeConditionSnapshot {
            condition_type: "PodNetworkUnreachable".into(),
            status: ConditionStatus::True,
            reason: "PodNetworkUnreachable".into(),
            message: "x".into(),
            last_transition: t(5),
        }];
        assert_eq!(initial_condition(&snaps), Some((true, t(5))));
        assert_eq!(initial_condition(&[]), None);
    }
}
