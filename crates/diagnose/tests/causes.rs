//! Every cause in CAUSES.md is produced by at least one fixture and by no healthy one; each
//! fixture's first finding for its object is the expected cause.
#![allow(clippy::unwrap_used)]

mod support;

use support::fixtures;

use kubemedic_diagnose::{Cause, Severity, diagnose};
use std::collections::BTreeSet;

/// The IDs of CAUSES.md, copied verbatim (the contract).
const CAUSES_MD_IDS: &[&str] = &[
    "OOMKilled",
    "NodeOOM",
    "LivenessProbeFailure",
    "ProbeTooEarly",
    "AppPanic",
    "AppError",
    "ConfigError",
    "DependencyDNSFailure",
    "CommandNotFound",
    "CommandNotExecutable",
    "KilledBySignal",
    "MissingConfigOrSecret",
    "SubPathMountStale",
    "InsufficientResources",
    "NodeSelectorMismatch",
    "UntoleratedTaint",
    "VolumeZoneConflict",
    "UnboundPVC",
    "PodAffinityConflict",
    "SchedulerUnavailable",
    "NodeDiskFull",
    "MemoryFragmentation",
    "MemoryLimitTooLow",
    "ImagePullFailure",
    "VolumeAttachFailure",
    "CNIFailure",
    "ContainerNameConflict",
    "RuntimeVersionConflict",
    "RuntimeUnresponsive",
    "ImageNotFound",
    "RegistryAuthFailure",
    "InsecureRegistry",
    "RegistryCertUntrusted",
    "ImagePullTimeout",
    "RegistryUnreachable",
    "InvalidImageName",
    "FinalizerBlocked",
    "ImmutableFile",
    "NodeLost",
    "IptablesLockContention",
    "KubeletStopped",
    "NodeDiskPressure",
    "NodeMemoryPressure",
    "NodePIDPressure",
    "HighIOWait",
    "KernelDeadlock",
    "KernelOops",
    "FilesystemReadOnly",
    "ClockSkew",
    "ConntrackTableFull",
    "SYNBacklogOverflow",
    "DNSPartialFailure",
    "NodePodNetworkDown",
    "ServiceNoEndpoints",
    "HostPortConflict",
    "LoadBalancerLoopback",
];

#[test]
fn cause_enum_matches_causes_md() {
    let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(ids, CAUSES_MD_IDS);
    for id in CAUSES_MD_IDS {
        let json = serde_json::to_string(&id.parse::<Cause>().unwrap()).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert!(
            kubemedic_diagnose::catalog::cause(id).is_some(),
            "no catalog entry for {id}"
        );
    }
}

#[test]
fn every_fixture_gets_its_cause_first() {
    let mut failures = Vec::new();
    for fx in fixtures::positives() {
        let report = diagnose(&fx.snap);
        let got = support::findings_for(&report, &fx.object);
        match got.first() {
            Some(f) if f.cause == fx.cause => {
                assert!(
                    !f.summary.is_empty() && !f.evidence.is_empty() && !f.remediation.is_empty(),
                    "{}: finding lacks summary/evidence/remediation: {f:#?}",
                    fx.name
                );
                assert!((0.0..=1.0).contains(&f.confidence), "{}", fx.name);
                assert!(
                    f.severity >= Severity::Warning
                        || matches!(f.cause, Cause::LoadBalancerLoopback),
                    "{}: severity {:?}",
                    fx.name,
                    f.severity
                );
            }
            other => failures.push(format!(
                "{}: expected {} first for {}, got {:?}; all findings: {:?}",
                fx.name,
                fx.cause,
                fx.object,
                other.map(|f| f.cause),
                report
                    .findings
                    .iter()
                    .map(|f| format!("{} {} {:.2}", f.object, f.cause, f.confidence))
                    .collect::<Vec<_>>()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What kubemedic itself writes (summaries, fixes, its own evidence notes) reads as prose:
/// no "pod(s)", no "1 pods", no nested or back-to-back parentheses, no doubled words.
#[test]
fn finding_texts_are_plain_english() {
    let plural_after_one =
        regex::Regex::new(r"\b1 (pods|nodes|containers|replicas|restarts|waits|rules)\b").unwrap();
    let mut bad = Vec::new();
    for fx in fixtures::positives() {
        for f in diagnose(&fx.snap).findings {
            // Quoted evidence is the cluster's own words; "scheduler" and "pods" notes are ours.
            let ours = f
                .evidence
                .iter()
                .filter(|e| matches!(e.source.as_str(), "scheduler" | "pods"))
                .map(|e| e.text.clone());
            for text in std::iter::once(f.summary.clone())
                .chain(f.remediation.iter().cloned())
                .chain(ours)
            {
                let mut depth = 0i32;
                // Shell arithmetic and command substitution nest on purpose.
                let nested = !text.contains("$(")
                    && text.chars().any(|c| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth > 1
                    });
                let problem = if text.contains("(s)") {
                    Some("(s)")
                } else if plural_after_one.is_match(&text) {
                    Some("1 + plural")
                } else if nested {
                    Some("nested parentheses")
                } else if text.contains(") (") {
                    Some("back-to-back parentheses")
                } else if text.contains("expected") && text.matches("expected").count() > 1 {
                    Some("doubled 'expected'")
                } else if text.contains("\"\"") || text.contains("'\"") {
                    Some("quoted quotes")
                } else {
                    None
                };
                if let Some(p) = problem {
                    bad.push(format!("{} ({}): {p}: {text}", fx.name, f.cause));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_cause_has_a_fixture_and_no_healthy_fixture_produces_it() {
    let covered: BTreeSet<&str> = fixtures::positives()
        .iter()
        .map(|f| f.cause.as_str())
        .collect();
    let missing: Vec<&&str> = CAUSES_MD_IDS
        .iter()
        .filter(|id| !covered.contains(**id))
        .collect();
    assert!(missing.is_empty(), "causes without a fixture: {missing:?}");
    for (name, snap) in fixtures::healthy() {
        let report = diagnose(&snap);
        let loud: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .collect();
        assert!(
            loud.is_empty(),
            "healthy fixture {name} produced: {loud:#?}"
        );
        for id in CAUSES_MD_IDS {
            assert!(
                report
                    .findings
                    .iter()
                    .all(|f| f.cause.as_str() != *id || f.severity == Severity::Info),
                "healthy fixture {name} produced {id}"
            );
        }
    }
}

#[test]
fn truly_healthy_snapshots_produce_nothing() {
    for (name, snap) in fixtures::healthy()
        .into_iter()
        .filter(|(n, _)| !matches!(*n, "restarted-long-ago" | "evicted-long-ago"))
    {
        let report = diagnose(&snap);
        assert!(report.findings.is_empty(), "{name}: {:#?}", report.findings);
    }
}

/// docs/causes.md carries one worked example per cause, generated from the first fixture of
/// each cause, so the documentation cannot drift from what the engine says.
/// Regenerate with `KUBEMEDIC_UPDATE_DOCS=1 cargo test -p kubemedic-diagnose --test causes`.
#[test]
fn causes_doc_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/causes.md");
    let (begin, end) = ("<!-- generated:causes -->\n", "<!-- /generated:causes -->");
    let fixtures = fixtures::positives();
    let mut out = String::new();
    for cause in Cause::ALL {
        let info = kubemedic_diagnose::catalog::info(*cause).unwrap();
        let fx = fixtures.iter().find(|f| f.cause == *cause).unwrap();
        let report = diagnose(&fx.snap);
        let f = support::findings_for(&report, &fx.object)[0];
        let cell = |s: &str| {
            let s = s.replace('`', "'");
            if s.chars().count() > 240 {
                format!("{}…", s.chars().take(240).collect::<String>())
            } else {
                s
            }
        };
        out.push_str(&format!(
            "### `{}` — {}\n\n{}\n\n",
            cause, info.title, info.meaning
        ));
        out.push_str(&format!("- Signals: {}\n", info.signals.join("; ")));
        out.push_str(&format!(
            "- Example input (fixture `{}`), `{}`: `{}`\n",
            fx.name,
            f.evidence[0].source,
            cell(&f.evidence[0].text)
        ));
        out.push_str(&format!(
            "- Finding: **{}** on {} {}{}: {} (confidence {:.2})\n",
            f.severity,
            f.object.kind,
            f.object
                .namespace
                .as_deref()
                .map_or(String::new(), |n| format!("{n}/")),
            f.object.name,
            cell(&f.summary),
            f.confidence
        ));
        out.push_str(&format!("- Fix: `{}`\n", cell(&f.remediation[0])));
        out.push_str(&format!("- Based on: {}\n\n", info.source));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = replace_between(&text, begin, end, &out);
    let text = replace_between(
        &text,
        "<!-- generated:counts -->\n",
        "<!-- /generated:counts -->",
        &fixture_counts(),
    );
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != text {
        if std::env::var_os("KUBEMEDIC_UPDATE_DOCS").is_some() {
            std::fs::write(&path, text).unwrap();
        } else {
            panic!(
                "docs/causes.md is out of date; run KUBEMEDIC_UPDATE_DOCS=1 cargo test -p kubemedic-diagnose --test causes"
            );
        }
    }
}

fn replace_between(text: &str, begin: &str, end: &str, body: &str) -> String {
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
        panic!("docs/causes.md lacks the markers {begin:?} / {end:?}");
    };
    format!("{}{body}{}", &text[..b + begin.len()], &text[e..])
}

/// Per cause: the snapshot fixtures (support/fixtures.rs) and the real-wording fixtures
/// (tests/fixtures/wordings/*.yaml) whose first finding must be that cause.
fn fixture_counts() -> String {
    use std::collections::BTreeMap;
    let mut counts: BTreeMap<&str, (usize, usize)> =
        Cause::ALL.iter().map(|c| (c.as_str(), (0, 0))).collect();
    for fx in fixtures::positives() {
        counts.get_mut(fx.cause.as_str()).unwrap().0 += 1;
    }
    let wordings = support::wordings::load();
    for c in &wordings {
        let cause: Cause = c.expect.cause.parse().unwrap();
        counts.get_mut(cause.as_str()).unwrap().1 += 1;
    }
    let (mut a, mut b) = (0, 0);
    let mut out = String::from(
        "| cause | snapshot fixtures | real wordings | total |\n|---|---:|---:|---:|\n",
    );
    for cause in Cause::ALL {
        let (x, y) = counts[cause.as_str()];
        a += x;
        b += y;
        out.push_str(&format!("| `{cause}` | {x} | {y} | {} |\n", x + y));
    }
    out.push_str(&format!(
        "| **all** | **{a}** | **{b}** | **{}** |\n",
        a + b
    ));
    out
}
