//! Pure analysers that turn a cluster snapshot into root-cause findings with evidence and fixes.
//!
//! [`diagnose`] is the single entry point: it reads a [`Snapshot`] (no I/O, no clock: "now" is
//! [`Snapshot::taken_at`]) and returns a [`Report`] whose findings carry a cause ID from
//! `CAUSES.md`. [`catalog`] holds the knowledge behind causes and exit codes for
//! `kubemedic explain`; [`target`] narrows a report to what the user asked about.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalog;
mod finding;
pub mod target;

pub use finding::{
    Cause, Evidence, Finding, ObjectRef, Report, Severity, Summary, UnknownCause, UnknownSeverity,
};
pub use target::{InvalidTarget, Target, TargetKind, filter};

use kubemedic_model::Snapshot;

/// Runs every analyser over the snapshot and returns the ranked findings.
pub fn diagnose(snapshot: &Snapshot) -> Report {
    let mut report = Report {
        findings: Vec::new(),
        summary: Summary {
            nodes: snapshot.nodes.len(),
            pods: snapshot.pods.len(),
            services: snapshot.services.len(),
            skipped: snapshot.skipped.clone(),
            ..Summary::default()
        },
    };
    report.recount();
    report
}
