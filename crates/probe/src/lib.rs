//! Network prober: kubenurse-compatible checks between nodes, every DNS replica probed on its
//! own, and a pod-network verdict drawn from many vantage points.
//!
//! Pure core (no I/O, tested with plain data): [`ring`] (neighbour selection on a sha256 ring,
//! kubenurse's algorithm), [`verdict`] (results → named faults with history, the
//! `PodNetworkUnreachable` condition), [`dnsmsg`] (DNS query and reply classification),
//! [`outcome`] (what a probe observed). The I/O edge: [`http`] (an HTTP GET whose phases are
//! timed one by one), [`dns`] (one query to one server), [`server`] (the check endpoint other
//! probers call), [`discovery`] (neighbours and DNS replicas from the Kubernetes API),
//! [`metrics`] (kubenurse's metric names plus kubemedic's), and [`runner`] which ties them
//! together on a schedule.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
pub mod discovery;
pub mod dns;
pub mod dnsmsg;
pub mod http;
pub mod metrics;
pub mod outcome;
pub mod ring;
pub mod runner;
pub mod server;
pub mod targets;
pub mod verdict;

pub use config::{ConfigError, DnsProbeConfig, NamedCheck, ProbeConfig};
pub use runner::{ProbeError, ProbeHandle, ProbeUpdate, Prober};
pub use targets::{Discovered, PeerPod};
pub use verdict::{DnsServer, FaultChange, Neighbour, POD_NETWORK_CONDITION, PodNetworkCondition};
