//! Pure analysers that turn a cluster snapshot into root-cause findings with evidence and fixes.
//!
//! [`diagnose`] is the single entry point: it reads a [`Snapshot`] (no I/O, no clock: "now" is
//! [`Snapshot::taken_at`]) and returns a [`Report`] whose findings carry a cause ID from
//! `CAUSES.md`. [`catalog`] holds the knowledge behind causes and exit codes for
//! `kubemedic explain`; [`target`] narrows a report to what the user asked about.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod analyse;
pub mod catalog;
mod classify;
mod finding;
pub mod incident;
mod index;
mod logtime;
mod rank;
pub mod rules;
pub mod target;
mod util;

pub use finding::{
    Cause, Evidence, Finding, ObjectRef, Report, Severity, Summary, UnknownCause, UnknownSeverity,
};
pub use target::{InvalidTarget, Target, TargetKind, filter, filter_in_place};

use kubemedic_model::Snapshot;

/// Runs every analyser over the snapshot and returns the ranked findings.
///
/// Within one object the first finding is the most likely root cause; objects are ordered by
/// their worst severity. Symptoms (CrashLoopBackOff, NotReady, BackOff) are evidence, never
/// causes.
pub fn diagnose(snapshot: &Snapshot) -> Report {
    diagnose_with(snapshot, &rules::RuleSet::default())
}

/// [`diagnose`] with the user's own rules (see [`rules`]): their findings are ranked with the
/// built-in ones.
pub fn diagnose_with(snapshot: &Snapshot, user_rules: &rules::RuleSet) -> Report {
    let ctx = index::Ctx::new(snapshot);
    let mut raw = rules::findings(&ctx, user_rules);
    let nodes = analyse::nodes::analyse(&ctx, &mut raw);
    analyse::pods::analyse(&ctx, &nodes, &mut raw);
    analyse::workloads::analyse(&ctx, &mut raw);
    analyse::services::analyse(&ctx, &nodes, &mut raw);
    analyse::network::analyse(&ctx, &mut raw);
    let mut report = Report {
        findings: incident::group(&ctx, rank::rank(&ctx, raw)),
        summary: Summary {
            nodes: snapshot.nodes.len(),
            pods: snapshot.pods.len(),
            services: snapshot.services.len(),
            skipped: snapshot.skipped.clone(),
            missing: snapshot.missing.clone(),
            ..Summary::default()
        },
    };
    report.recount();
    report
}
