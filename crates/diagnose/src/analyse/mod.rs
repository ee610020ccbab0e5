//! The analysers, one module per family.

pub(crate) mod network;
pub(crate) mod nodes;
pub(crate) mod pods;
pub(crate) mod probes;
pub(crate) mod services;
pub(crate) mod workloads;
