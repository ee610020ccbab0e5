//! The planner and its safety gates over plain data: budgets, storms, minHealthy, cooldown and
//! backoff, exclusions, dry-run, in-flight runs stopped when the target heals.
#![allow(clippy::unwrap_used)]

use jiff::{SignedDuration, Timestamp};
use kubemedic_heal::library::{Library, Source};
use kubemedic_heal::matching::FirstSeen;
use kubemedic_heal::plan::{Decision, Gate, Input, Run, StormState, plan};
use kubemedic_heal::safety::{Budget, SafetyConfig};
use kubemedic_heal::view::{ClusterView, ConditionView, FindingView, NodeView, TargetRef};
use kubemedic_heal::{Phase, Plan};
use std::collections::BTreeMap;

fn now() -> Timestamp {
    "2026-11-30T12:00:00Z".parse().unwrap()
}

fn ago(secs: i64) -> Timestamp {
    now().checked_sub(SignedDuration::from_secs(secs)).unwrap()
}

fn node(name: &str, ready: &str, since_secs: i64) -> NodeView {
    NodeView {
        name: name.into(),
        labels: BTreeMap::new(),
        unschedulable: false,
        cordoned_by_kubemedic: false,
        conditions: vec![ConditionView {
            type_: "Ready".into(),
            status: ready.into(),
            reason: if ready == "True" {
                "KubeletReady".into()
            } else {
                "NodeStatusUnknown".into()
            },
            message: String::new(),
            last_transition: Some(ago(since_secs)),
        }],
    }
}

/// `total` nodes, the first `bad` NotReady (Unknown) for `secs`.
fn cluster(total: usize, bad: usize, secs: i64) -> ClusterView {
    ClusterView {
        now: now(),
        nodes: (0..total)
            .map(|i| {
                let name = format!("n{i:03}");
                if i < bad {
                    node(&name, "Unknown", secs)
                } else {
                    node(&name, "True", 86_400)
                }
            })
            .collect(),
        pods: vec![],
        findings: vec![],
    }
}

/// The library with node-not-ready enabled (and nothing else that matches NotReady nodes).
fn lib_enabled(names: &[&str]) -> Library {
    let user: Vec<Source> = names
        .iter()
        .map(|n| Source {
            origin: format!("test/{n}.yaml"),
            text: format!("name: {n}\nmode: enabled\n"),
        })
        .collect();
    let lib = Library::load(&user);
    assert!(lib.errors.is_empty(), "{:?}", lib.errors);
    lib
}

fn run_plan(view: &ClusterView, lib: &Library, safety: &SafetyConfig, runs: &[Run]) -> Plan {
    plan(Input {
        view,
        library: lib,
        safety,
        runs,
        first_seen: &FirstSeen::new(),
        storm: StormState::default(),
    })
}

fn gates(p: &Plan) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in &p.entries {
        let k = match &e.decision {
            Decision::Start { dry_run: false } => "start".to_string(),
            Decision::Start { dry_run: true } => "dry-run".to_string(),
            Decision::Continue { .. } => "continue".to_string(),
            Decision::Stop { .. } => "stop".to_string(),
            Decision::Wait { gate, .. } => format!("wait:{gate:?}"),
            Decision::Skip { gate, .. } => format!("skip:{gate:?}"),
        };
        *out.entry(k).or_default() += 1;
    }
    out
}

fn no_storm() -> SafetyConfig {
    let mut s = SafetyConfig::default();
    s.storm.threshold = Budget::Percent(100.0);
    s
}

#[test]
fn thirty_of_a_hundred_not_ready_with_a_budget_of_three() {
    let view = cluster(100, 30, 600);
    let lib = lib_enabled(&["node-not-ready"]);
    let mut safety = no_storm();
    safety.max_disrupted = Budget::Count(3);
    let p = run_plan(&view, &lib, &safety, &[]);
    let g = gates(&p);
    assert_eq!(g.get("start"), Some(&3), "{g:?}");
    assert_eq!(g.get("wait:Budget"), Some(&27), "{g:?}");
    // The budget goes to those that waited longest, deterministically.
    let started: Vec<&str> = p
        .starting()
        .map(|e| e.matched.target.name.as_str())
        .collect();
    assert_eq!(started.len(), 3);
    let Decision::Wait { reason, .. } = &p
        .entries
        .iter()
        .find(|e| matches!(e.decision, Decision::Wait { .. }))
        .unwrap()
        .decision
    else {
        unreachable!()
    };
    assert_eq!(reason, "3 of at most 3 nodes disrupted");

    // With three in flight, the next pass starts none.
    let runs: Vec<Run> = started
        .iter()
        .map(|n| Run {
            name: format!("node-not-ready-{n}"),
            runbook: "node-not-ready".into(),
            target: TargetRef::node(n),
            node: Some(n.to_string()),
            disruptive: true,
            phase: Phase::Running,
            finished_at: None,
        })
        .collect();
    let p = run_plan(&view, &lib, &safety, &runs);
    let g = gates(&p);
    assert_eq!(g.get("start"), None, "{g:?}");
    assert_eq!(g.get("continue"), Some(&3), "{g:?}");
    assert_eq!(g.get("wait:Budget"), Some(&27), "{g:?}");
}

#[test]
fn thirty_nodes_going_bad_at_once_is_a_storm_and_nothing_disruptive_starts() {
    let view = cluster(100, 30, 310);
    let lib = lib_enabled(&["node-not-ready"]);
    let mut safety = SafetyConfig {
        max_disrupted: Budget::Count(3),
        ..SafetyConfig::default()
    };
    safety.storm.window = std::time::Duration::from_secs(600);
    let p = run_plan(&view, &lib, &safety, &[]);
    assert!(p.storm.started && p.storm.active, "{:?}", p.storm);
    assert_eq!(p.storm.recent, 30);
    assert_eq!(p.storm.threshold, 20);
    let g = gates(&p);
    assert_eq!(g.get("wait:Storm"), Some(&30), "{g:?}");

    // The storm ends (the nodes came back) ...
    let healthy = cluster(100, 0, 0);
    let p2 = plan(Input {
        view: &healthy,
        library: &lib,
        safety: &safety,
        runs: &[],
        first_seen: &FirstSeen::new(),
        storm: p.storm.state,
    });
    assert!(p2.storm.ended);
    // ... and one node failing right after waits for the storm cooldown.
    let mut one = cluster(100, 1, 400);
    one.now = healthy
        .now
        .checked_add(SignedDuration::from_secs(60))
        .unwrap();
    let p3 = plan(Input {
        view: &one,
        library: &lib,
        safety: &safety,
        runs: &[],
        first_seen: &FirstSeen::new(),
        storm: p2.storm.state,
    });
    match &p3.entries[0].decision {
        Decision::Wait {
            gate: Gate::Storm,
            until: Some(t),
            ..
        } => assert!(*t > one.now),
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_few_healthy_nodes_holds_every_new_run() {
    let view = cluster(10, 6, 600);
    let lib = lib_enabled(&["node-not-ready"]);
    let mut safety = no_storm();
    safety.max_disrupted = Budget::Count(10);
    let p = run_plan(&view, &lib, &safety, &[]);
    let g = gates(&p);
    assert_eq!(g.get("wait:MinHealthy"), Some(&6), "{g:?}");
    assert_eq!(p.groups[0].healthy, 4);
    assert_eq!(p.groups[0].min_healthy, 6);
}

#[test]
fn min_healthy_is_per_node_group() {
    let mut view = cluster(10, 4, 600);
    for (i, n) in view.nodes.iter_mut().enumerate() {
        let zone = if i < 5 { "a" } else { "b" };
        n.labels
            .insert("topology.kubernetes.io/zone".into(), zone.into());
    }
    let lib = lib_enabled(&["node-not-ready"]);
    let mut safety = no_storm();
    safety.max_disrupted = Budget::Count(10);
    safety.node_group_label = "topology.kubernetes.io/zone".into();
    let p = run_plan(&view, &lib, &safety, &[]);
    // Zone a has 1 healthy of 5 (min 3): its 4 bad nodes wait; zone b is fine.
    assert_eq!(gates(&p).get("wait:MinHealthy"), Some(&4));
}

#[test]
fn minimum_duration_counts_from_last_transition() {
    let view = cluster(10, 1, 120);
    let lib = lib_enabled(&["node-not-ready"]);
    let p = run_plan(&view, &lib, &no_storm(), &[]);
    match &p.entries[0].decision {
        Decision::Wait {
            gate: Gate::Held,
            reason,
            until,
        } => {
            assert_eq!(reason, "matching for 2m of the 5m required");
            assert_eq!(*until, Some(ago(120 - 300)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dry_run_until_enabled_and_paused_when_paused() {
    let view = cluster(10, 1, 600);
    let p = run_plan(&view, &Library::embedded(), &no_storm(), &[]);
    assert_eq!(gates(&p).get("dry-run"), Some(&1), "{:?}", gates(&p));
    let mut safety = no_storm();
    safety.paused = true;
    let p = run_plan(&view, &lib_enabled(&["node-not-ready"]), &safety, &[]);
    assert_eq!(gates(&p).get("wait:Paused"), Some(&1));
}

#[test]
fn excluded_and_control_plane_nodes_are_skipped_unless_named() {
    let mut view = cluster(10, 2, 600);
    view.nodes[0]
        .labels
        .insert("kubemedic.io/exclude".into(), "true".into());
    view.nodes[1].labels.insert(
        "node-role.kubernetes.io/control-plane".into(),
        String::new(),
    );
    let lib = lib_enabled(&["node-not-ready"]);
    let p = run_plan(&view, &lib, &no_storm(), &[]);
    let g = gates(&p);
    assert_eq!(g.get("skip:Excluded"), Some(&1), "{g:?}");
    assert_eq!(g.get("skip:ControlPlane"), Some(&1), "{g:?}");
    let mut safety = no_storm();
    safety.control_plane_nodes = vec!["n001".into()];
    let p = run_plan(&view, &lib, &safety, &[]);
    assert_eq!(gates(&p).get("start"), Some(&1));
}

fn finished(n: &str, secs_ago: i64) -> Run {
    Run {
        name: format!("r-{secs_ago}"),
        runbook: "node-not-ready".into(),
        target: TargetRef::node(n),
        node: Some(n.into()),
        disruptive: true,
        phase: Phase::Succeeded,
        finished_at: Some(ago(secs_ago)),
    }
}

/// The first entry's cooldown wait: until when, and why (panics on any other decision).
fn cooldown_of_first(p: &Plan) -> (Option<Timestamp>, &str) {
    match &p.entries[0].decision {
        Decision::Wait {
            gate: Gate::Cooldown,
            until,
            reason,
        } => (*until, reason.as_str()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flapping_node_backs_off_exponentially() {
    let view = cluster(10, 1, 600);
    let lib = lib_enabled(&["node-not-ready"]);
    let safety = no_storm();
    // One run 5 minutes ago: the 10-minute cooldown holds.
    let p = run_plan(&view, &lib, &safety, &[finished("n000", 300)]);
    let (until, reason) = cooldown_of_first(&p);
    assert_eq!(until, Some(ago(300 - 600)));
    assert!(reason.starts_with("cooldown"), "{reason}");
    // Three runs within the day, the last 30 minutes ago: 10m * 2^2 = 40m holds.
    let runs = [
        finished("n000", 7200),
        finished("n000", 3600),
        finished("n000", 1800),
    ];
    let p = run_plan(&view, &lib, &safety, &runs);
    let (until, reason) = cooldown_of_first(&p);
    assert_eq!(until, Some(ago(1800 - 2400)));
    assert!(reason.starts_with("backoff after 3 runs"), "{reason}");
    // Runs older than the reset window no longer count.
    let p = run_plan(&view, &lib, &safety, &[finished("n000", 90_000)]);
    assert_eq!(gates(&p).get("start"), Some(&1));
}

#[test]
fn a_run_whose_target_heals_is_stopped_with_the_reason() {
    let view = cluster(10, 0, 0);
    let lib = lib_enabled(&["node-not-ready"]);
    let runs = [Run {
        name: "node-not-ready-n003".into(),
        runbook: "node-not-ready".into(),
        target: TargetRef::node("n003"),
        node: Some("n003".into()),
        disruptive: true,
        phase: Phase::Running,
        finished_at: None,
    }];
    let p = run_plan(&view, &lib, &no_storm(), &runs);
    match &p.entries[0].decision {
        Decision::Stop {
            remediation,
            reason,
        } => {
            assert_eq!(remediation, "node-not-ready-n003");
            assert!(reason.contains("healthy again"), "{reason}");
            assert!(reason.contains("Ready=True since"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_runbook_per_node_at_a_time_the_specific_one_first() {
    // NotReady because the network plugin is not ready: both cni-failure (60 s) and
    // node-not-ready (5 m) match; only cni-failure starts.
    let mut view = cluster(10, 1, 600);
    view.nodes[0].conditions[0].status = "False".into();
    view.nodes[0].conditions[0].message =
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady"
            .into();
    let lib = lib_enabled(&["node-not-ready", "cni-failure"]);
    let mut safety = no_storm();
    safety.max_disrupted = Budget::Count(5);
    let p = run_plan(&view, &lib, &safety, &[]);
    let starts: Vec<&str> = p.starting().map(|e| e.runbook.as_str()).collect();
    assert_eq!(starts, vec!["cni-failure"]);
    let other = p
        .entries
        .iter()
        .find(|e| e.runbook == "node-not-ready")
        .unwrap();
    assert!(
        matches!(
            other.decision,
            Decision::Wait {
                gate: Gate::NodeBusy,
                ..
            }
        ),
        "{:?}",
        other.decision
    );
}

#[test]
fn findings_match_cause_runbooks_on_their_node_and_pods() {
    let mut view = cluster(5, 0, 0);
    view.findings = vec![
        FindingView {
            cause: "IptablesLockContention".into(),
            object: TargetRef::node("n002"),
            node: Some("n002".into()),
            summary: "xtables lock held".into(),
            pods: vec![],
        },
        FindingView {
            cause: "AppPanic".into(),
            object: TargetRef::namespaced("Deployment", "shop", "api"),
            node: None,
            summary: "api panics".into(),
            pods: vec![],
        },
    ];
    let p = run_plan(&view, &Library::embedded(), &no_storm(), &[]);
    let mut got: Vec<(String, String, bool)> = p
        .entries
        .iter()
        .map(|e| {
            (
                e.runbook.clone(),
                e.matched.target.to_string(),
                matches!(e.decision, Decision::Start { dry_run: false }),
            )
        })
        .collect();
    got.sort();
    // Both are alert-only runbooks, enabled by default: they act without a budget.
    assert_eq!(
        got,
        vec![
            ("iptables-lock".into(), "node/n002".into(), true),
            ("pod-crashloop".into(), "deployment/shop/api".into(), true),
        ]
    );
}

/// A dry-run runbook that would go first on a node (runtime-unresponsive, 2 minutes, matches
/// "container runtime is down") never holds back an enabled one (node-not-ready, 5 minutes):
/// what is only announced claims neither the node nor the budget.
#[test]
fn a_dry_run_runbook_never_holds_an_enabled_one_back() {
    let mut view = cluster(4, 1, 600);
    view.nodes[0].conditions[0] = ConditionView {
        type_: "Ready".into(),
        status: "False".into(),
        reason: "KubeletNotReady".into(),
        message: "container runtime is down".into(),
        last_transition: Some(ago(600)),
    };
    let lib = lib_enabled(&["node-not-ready"]);
    let p = run_plan(&view, &lib, &SafetyConfig::default(), &[]);
    let decision = |rb: &str| {
        p.entries
            .iter()
            .find(|e| e.runbook == rb)
            .map(|e| e.decision.clone())
            .unwrap()
    };
    assert_eq!(
        decision("node-not-ready"),
        Decision::Start { dry_run: false },
        "{p:#?}"
    );
    // The dry-run report tells the truth: with node-not-ready acting, it would wait.
    assert!(
        matches!(
            decision("runtime-unresponsive"),
            Decision::Wait {
                gate: Gate::NodeBusy,
                ..
            }
        ),
        "{p:#?}"
    );
    // The entries keep their order (oldest match first, then runbook order).
    assert_eq!(p.entries.len(), 2);
}

#[test]
fn condition_only_matches_carry_a_summary_and_findings_keep_theirs() {
    // node-not-ready matches on the Ready condition alone: no finding names the node.
    let mut view = cluster(10, 1, 600);
    view.nodes[0].conditions[0].message = "Kubelet stopped posting node status.".into();
    let p = run_plan(&view, &lib_enabled(&["node-not-ready"]), &no_storm(), &[]);
    let e = p
        .entries
        .iter()
        .find(|e| e.runbook == "node-not-ready")
        .expect("node-not-ready matches n000");
    assert_eq!(
        e.matched.summary,
        format!(
            "node n000: Ready=Unknown (NodeStatusUnknown) since {}: Kubelet stopped posting node status.",
            ago(600)
        )
    );
    // A finding on the node is the better summary: it wins over the condition's.
    view.findings.push(FindingView {
        cause: "KubeletStopped".into(),
        object: TargetRef::node("n000"),
        node: Some("n000".into()),
        summary: "node n000: the kubelet stopped posting status".into(),
        pods: vec![],
    });
    let lib = Library::load(&[Source {
        origin: "test/both.yaml".into(),
        text: "name: both\ndescription: t\nsource: t\nmode: enabled\nmatch:\n  conditions:\n    - type: Ready\n      status: Unknown\n  causes: [KubeletStopped]\nsteps:\n  - action: cordon\n".into(),
    }]);
    assert!(lib.errors.is_empty(), "{:?}", lib.errors);
    let p = run_plan(&view, &lib, &no_storm(), &[]);
    let e = p.entries.iter().find(|e| e.runbook == "both").unwrap();
    assert_eq!(
        e.matched.summary,
        "node n000: the kubelet stopped posting status"
    );
}
