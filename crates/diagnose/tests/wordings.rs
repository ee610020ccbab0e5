//! The wording catalog: every message in `tests/fixtures/wordings/*.yaml` (real kubelet, runtime,
//! scheduler, CNI and client wordings across versions, each with its source) becomes a snapshot of
//! its `shape`, and `diagnose` must name the expected cause first for the expected object.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_diagnose::{Cause, Finding, ObjectRef, Report, diagnose};
use std::collections::BTreeMap;
use support::wordings::{CNI_POD, Case, load, object};

fn describe(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {:.2}: {}",
                f.object, f.cause, f.confidence, f.summary
            )
        })
        .collect()
}

/// What is wrong with one case's report, if anything.
fn check(c: &Case) -> Option<String> {
    let report = diagnose(&c.snap);
    let obj = object(&c.expect.object);
    let want: Cause = c.expect.cause.parse().unwrap();
    let fs: Vec<&Finding> = report.findings.iter().filter(|f| f.object == obj).collect();
    let fail = |why: String| {
        Some(format!(
            "{} {} [{}]: {why}\n    text: {}\n    findings: {:#?}",
            c.file,
            c.w.id,
            c.shape,
            c.w.text.chars().take(160).collect::<String>(),
            describe(&report)
        ))
    };
    let Some(first) = fs.first() else {
        return fail(format!("no finding for {obj}, expected {want}"));
    };
    if first.cause != want {
        return fail(format!(
            "first cause for {obj} is {}, expected {want}",
            first.cause
        ));
    }
    for needle in &c.expect.summary_has {
        if !first.summary.contains(needle.as_str()) {
            return fail(format!("summary lacks {needle:?}: {}", first.summary));
        }
    }
    if let Some(name) = &c.w.name
        && !first.summary.contains(name.as_str())
    {
        return fail(format!("summary does not name {name:?}: {}", first.summary));
    }
    for bad in &c.expect.not {
        let bad: Cause = bad.parse().unwrap();
        if fs.iter().any(|f| f.cause == bad) {
            return fail(format!("{bad} must not be reported for {obj}"));
        }
    }
    // A network plugin that is not ready: the fix names the CNI pod on the node, and the pod stuck
    // on the node points to it.
    if c.shape == "node-ready" {
        if !first.remediation.iter().any(|r| r.contains(CNI_POD)) {
            return fail(format!(
                "the fix does not name the CNI pod {CNI_POD} on n1: {:#?}",
                first.remediation
            ));
        }
        let stuck = ObjectRef::pod("shop", "api-7d4f8b9c6d-c1");
        match report.findings.iter().find(|f| f.object == stuck) {
            Some(f)
                if f.cause == Cause::CNIFailure && f.caused_by == Some(ObjectRef::node("n1")) => {}
            other => {
                return fail(format!(
                    "the pod stuck on n1 does not point to n1's CNIFailure: {:?}",
                    other.map(|f| (f.cause, &f.caused_by))
                ));
            }
        }
    }
    None
}

#[test]
fn every_wording_gets_its_cause_first() {
    let cases = load();
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} wording fixture(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_class_has_old_and_new_wordings() {
    let cases = load();
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *per_class.entry(c.class.as_str()).or_default() += 1;
    }
    for (class, n) in per_class {
        assert!(
            n >= 2,
            "class {class} has {n} wording(s); at least an old and a new one"
        );
    }
}

#[test]
fn wording_ids_are_unique() {
    let cases = load();
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(
            seen.insert(c.w.id.clone()),
            "duplicate wording id {}",
            c.w.id
        );
    }
}
