//! Self-healing: runbooks, matching, the planner and the safety gates as pure functions over
//! plain data, and the Remediation custom resource that carries a run's crash-safe state.
//!
//! Nothing in the pure modules does I/O or reads the clock: "now" comes with the input, so a plan
//! computed from a dump a week later is the plan that would have been made then.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod action;
pub mod alerts;
pub mod crd;
pub mod duration;
pub mod exec;
pub mod library;
pub mod matching;
pub mod plan;
pub mod progress;
pub mod runbook;
pub mod safety;
pub mod selector;
pub mod view;

pub use action::{Action, ActionKind, AlertSeverity, Executor, TargetKind};
pub use crd::{Phase, Remediation, RemediationSpec, RemediationStatus};
pub use library::Library;
pub use plan::{Decision, Gate, Plan, Run, StormState, plan};
pub use runbook::{Mode, Runbook, RunbookDoc, RunbookError, Step, Verify};
pub use safety::{Budget, SafetyConfig};
pub use selector::LabelSelector;
pub use view::{ClusterView, TargetRef};
