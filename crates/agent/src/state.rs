//! What the agent currently knows, shared by the exporters and the HTTP endpoints.

use crate::nodelogs::NodeLogs;
use kubemedic_detect::{ProblemMetrics, TrackedCondition};
use kubemedic_model::NodeFacts;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

/// One condition with the monitor that owns it.
#[derive(Debug, Clone, Serialize)]
pub struct OwnedCondition {
    /// Monitor source that owns the condition type.
    pub source: String,
    /// The condition.
    #[serde(flatten)]
    pub condition: TrackedCondition,
}

/// One sample of a system-stats metric, in Prometheus form.
#[derive(Debug, Clone, PartialEq)]
pub struct StatSample {
    /// Prometheus name (NPD's display name with `/` replaced by `_`).
    pub name: String,
    /// Help text.
    pub help: &'static str,
    /// Counter (cumulative) or gauge.
    pub counter: bool,
    /// Labels.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

/// Mutable agent state.
#[derive(Debug, Default)]
pub struct AgentStateInner {
    /// Node name.
    pub node: String,
    /// Conditions by type.
    pub conditions: BTreeMap<String, OwnedCondition>,
    /// Problem metrics by monitor source (only monitors with `metricsReporting`).
    pub problem_metrics: BTreeMap<String, ProblemMetrics>,
    /// Latest system-stats samples.
    pub stats: Vec<StatSample>,
    /// Latest node facts.
    pub facts: NodeFacts,
}

/// Shared handle on the agent state.
#[derive(Debug, Clone, Default)]
pub struct AgentState {
    inner: Arc<RwLock<AgentStateInner>>,
    /// Recent node log lines; its own lock, so sources never wait on readers of the state.
    logs: NodeLogs,
}

impl AgentState {
    /// A state for `node`.
    pub fn new(node: &str) -> Self {
        let state = Self::default();
        state.write(|s| {
            s.node = node.to_string();
            s.facts.node = node.to_string();
        });
        state
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&AgentStateInner) -> T) -> T {
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes the state.
    pub fn write<T>(&self, f: impl FnOnce(&mut AgentStateInner) -> T) -> T {
        f(&mut self.inner.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// Recent node log lines by source.
    pub fn logs(&self) -> &NodeLogs {
        &self.logs
    }

    /// All conditions, sorted by type.
    pub fn conditions(&self) -> Vec<OwnedCondition> {
        self.read(|s| s.conditions.values().cloned().collect())
    }
}
