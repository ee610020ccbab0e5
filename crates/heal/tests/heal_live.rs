//! Healing against a real apiserver with controllers and kwok nodes: a PDB-limited drain taken
//! over by a new leader without repeating a step; the disruption budget over many NotReady
//! nodes; an invalid Remediation refused with nothing acted on.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};
use kubemedic_heal::crd::{Phase, Remediation, StepState};
use kubemedic_heal::exec::runner::{Healer, HealerConfig};
use kubemedic_heal::exec::{live_view, lock};
use kubemedic_heal::library::{Library, Source};
use kubemedic_heal::safety::{Budget, SafetyConfig};
use serde_json::json;
use std::time::{Duration, Instant};

async fn testbed(nodes: usize) -> Option<kubemedic_testbed::Testbed> {
    kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        controllers: true,
        kwok_nodes: nodes,
        ..Default::default()
    })
    .await
}

async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Remediation::crd())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = crds.get("remediations.kubemedic.io").await.unwrap();
        let established = c.status.and_then(|s| s.conditions).is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
        if established {
            break;
        }
        assert!(Instant::now() < deadline, "CRD not established");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its storage answers 429 for a moment after Established.
    let rems: Api<Remediation> = Api::all(client.clone());
    while rems.list(&ListParams::default()).await.is_err() {
        assert!(Instant::now() < deadline, "remediations not listable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn enabled(names: &[&str]) -> Library {
    let user: Vec<Source> = names
        .iter()
        .map(|n| Source {
            origin: format!("test/{n}"),
            text: format!("name: {n}\nmode: enabled\n"),
        })
        .collect();
    Library::load(&user)
}

/// A client like the controller's for healing: kube's 429 retries off (the drain handles them).
async fn no_retry_client(tb: &kubemedic_testbed::Testbed) -> Client {
    let kc = kube::config::Kubeconfig::read_from(tb.kubeconfig_path()).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    cfg.default_retry = false;
    Client::try_from(cfg).unwrap()
}

fn healer(
    client: &Client,
    library: Library,
    safety: SafetyConfig,
    slice: Duration,
    id: &str,
) -> Healer {
    Healer::new(
        client.clone(),
        HealerConfig {
            library,
            safety,
            identity: id.into(),
            lock_namespace: "default".into(),
            action_slice: slice,
        },
        None,
    )
}

async fn set_condition(client: &Client, node: &str, type_: &str, status: &str, minutes_ago: i64) {
    let nodes: Api<Node> = Api::all(client.clone());
    let t = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes_ago)).to_string();
    let patch = json!({"status": {"conditions": [{
        "type": type_, "status": status, "reason": "Test", "message": "set by the test",
        "lastTransitionTime": t, "lastHeartbeatTime": t,
    }]}});
    nodes
        .patch_status(node, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
}

async fn wait_for<F, Fut>(what: &str, secs: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn web_pods_on(client: &Client, node: &str) -> (usize, usize) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items;
    let on: Vec<&Pod> = list
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let ready = on
        .iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    (on.len(), ready)
}

#[tokio::test]
async fn a_pdb_limited_drain_is_finished_by_a_new_leader_without_repeating_a_step() {
    let Some(tb) = testbed(3).await else { return };
    let client = no_retry_client(&tb).await;
    install_crd(&client).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let label = |v: &str| json!({"metadata": {"labels": {"pool": v}}});
    nodes
        .patch(
            "kwok-node-0",
            &PatchParams::default(),
            &Patch::Merge(&label("drain")),
        )
        .await
        .unwrap();
    let deploy: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "nodeSelector": {"pool": "drain"},
                    "containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10"}]
                }
            }
        }
    }))
    .unwrap();
    Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &deploy)
        .await
        .unwrap();
    wait_for("3 web pods Ready on kwok-node-0", 90, || {
        let c = client.clone();
        async move { web_pods_on(&c, "kwok-node-0").await == (3, 3) }
    })
    .await;
    // The PDB allows one disruption at a time.
    let pdb: k8s_openapi::api::policy::v1::PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    }))
    .unwrap();
    Api::<k8s_openapi::api::policy::v1::PodDisruptionBudget>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pdb)
        .await
        .unwrap();
    wait_for("the PDB to allow one disruption", 60, || {
        let c = client.clone();
        async move {
            Api::<k8s_openapi::api::policy::v1::PodDisruptionBudget>::namespaced(c, "default")
                .get("web")
                .await
                .ok()
                .and_then(|p| p.status)
                .is_some_and(|s| s.disruptions_allowed == Some(1))
        }
    })
    .await;
    // The kernel of node 0 deadlocks (held for 10 minutes already).
    set_condition(&client, "kwok-node-0", "KernelDeadlock", "True", 10).await;

    let lib = enabled(&["kernel-deadlock"]);
    let safety = SafetyConfig::default();
    // Leader A: a drain slice too short to finish, then it "dies" (dropped mid-drain).
    let mut a = healer(
        &client,
        lib.clone(),
        safety.clone(),
        Duration::from_millis(50),
        "leader-a",
    );
    let view = live_view(&client).await.unwrap();
    let rep = a.pass(&view).await.unwrap();
    assert_eq!(rep.created.len(), 1, "{rep:?}");
    let name = rep.created[0].clone();
    let rems: Api<Remediation> = Api::all(client.clone());
    let r = rems.get(&name).await.unwrap();
    let st = r.status.clone().unwrap();
    assert_eq!(st.history[0].name, "cordon");
    assert_eq!(st.history[0].state, StepState::Succeeded);
    assert_eq!(st.history[1].name, "drain");
    assert_eq!(st.history[1].state, StepState::Started, "{st:#?}");
    let taken = lock::acquire(
        &client,
        "default",
        "kwok-node-0",
        "someone-else",
        Duration::from_secs(60),
    )
    .await;
    assert!(!taken, "the node lock is held by the run");
    drop(a);
    // Replacements had nowhere to go while A drained (so the PDB held the drain); now they do.
    nodes
        .patch(
            "kwok-node-1",
            &PatchParams::default(),
            &Patch::Merge(&label("drain")),
        )
        .await
        .unwrap();

    // Leader B takes over and finishes.
    let mut b = healer(&client, lib, safety, Duration::from_secs(5), "leader-b");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let view = live_view(&client).await.unwrap();
        b.pass(&view).await.unwrap();
        let r = rems.get(&name).await.unwrap();
        let st = r.status.clone().unwrap();
        if st.phase.is_some_and(Phase::finished) {
            break st;
        }
        assert!(Instant::now() < deadline, "run not finished: {st:#?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // The node stays deadlocked: cordoned, drained, reboot disabled → escalated.
    assert_eq!(status.phase, Some(Phase::Escalated), "{status:#?}");
    assert_eq!(status.attempts, 2, "taken up by two leaders");
    let names: Vec<(&str, StepState)> = status
        .history
        .iter()
        .map(|h| (h.name.as_str(), h.state))
        .collect();
    assert_eq!(
        names,
        vec![
            ("cordon", StepState::Succeeded),
            ("drain", StepState::Succeeded),
            ("reboot", StepState::Skipped)
        ],
        "no step repeated: {status:#?}"
    );
    let drain_msg = &status.history[1].message;
    assert!(drain_msg.contains("3 pod(s) evicted"), "{drain_msg}");
    // maxUnavailable 1 over 3 replicas: evictions had to wait for the PDB (429s).
    let throttled: usize = status.history[1].intent["throttled"].parse().unwrap();
    assert!(throttled >= 1, "{drain_msg}");
    let n0 = nodes.get("kwok-node-0").await.unwrap();
    assert_eq!(n0.spec.and_then(|s| s.unschedulable), Some(true));
    assert!(
        n0.metadata
            .annotations
            .unwrap()
            .get("kubemedic.io/cordoned-by")
            .is_some_and(|v| v == &name)
    );
    wait_for("3 web pods Ready on kwok-node-1", 60, || {
        let c = client.clone();
        async move { web_pods_on(&c, "kwok-node-1").await == (3, 3) }
    })
    .await;
    // Events were written on the node.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::all(client.clone());
    let evs = events.list(&ListParams::default()).await.unwrap().items;
    let reasons: Vec<&str> = evs
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("kwok-node-0"))
        .filter_map(|e| e.reason.as_deref())
        .collect();
    for want in [
        "RemediationStarted",
        "RemediationStep",
        "RemediationAction",
        "RemediationEscalated",
    ] {
        assert!(reasons.contains(&want), "{want} missing from {reasons:?}");
    }
    // The lock was released.
    assert!(
        lock::acquire(
            &client,
            "default",
            "kwok-node-0",
            "someone-else",
            Duration::from_secs(5)
        )
        .await
    );
}

#[tokio::test]
async fn thirty_of_a_hundred_nodes_bad_at_once_is_a_storm_and_never_more_than_the_budget() {
    let Some(tb) = testbed(100).await else { return };
    let client = no_retry_client(&tb).await;
    install_crd(&client).await;
    // 30 of 100 nodes report a deadlocked kernel, all since 2 minutes ago.
    for i in 0..30 {
        set_condition(
            &client,
            &format!("kwok-node-{i}"),
            "KernelDeadlock",
            "True",
            2,
        )
        .await;
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let cordoned = || {
        let nodes = nodes.clone();
        async move {
            nodes
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
                .count()
        }
    };
    let safety = SafetyConfig {
        max_disrupted: Budget::Count(3),
        ..SafetyConfig::default()
    };
    // Default storm detection: 30 nodes starting to match within 5 minutes is a storm.
    let mut h = healer(
        &client,
        enabled(&["kernel-deadlock"]),
        safety.clone(),
        Duration::from_secs(2),
        "leader",
    );
    for _ in 0..3 {
        let view = live_view(&client).await.unwrap();
        let rep = h.pass(&view).await.unwrap();
        assert!(rep.created.is_empty(), "{rep:?}");
    }
    let plan = h.last_plan().unwrap();
    assert!(plan.storm.active, "{:?}", plan.storm);
    assert_eq!(plan.storm.recent, 30);
    let gate = |p: &kubemedic_heal::Plan, g: kubemedic_heal::Gate| {
        p.entries
            .iter()
            .filter(|e| matches!(&e.decision, kubemedic_heal::Decision::Wait { gate, .. } if *gate == g))
            .count()
    };
    assert_eq!(gate(plan, kubemedic_heal::Gate::Storm), 30);
    assert_eq!(cordoned().await, 0);

    // An operator judges it is not a storm (threshold raised): the budget alone holds.
    let mut safety = safety;
    safety.storm.threshold = Budget::Percent(100.0);
    let mut h = healer(
        &client,
        enabled(&["kernel-deadlock"]),
        safety,
        Duration::from_secs(2),
        "leader-2",
    );
    let mut max_cordoned = 0;
    for _ in 0..5 {
        let view = live_view(&client).await.unwrap();
        h.pass(&view).await.unwrap();
        max_cordoned = max_cordoned.max(cordoned().await);
    }
    assert_eq!(max_cordoned, 3, "exactly the budget, never more");
    let plan = h.last_plan().unwrap();
    assert_eq!(
        gate(plan, kubemedic_heal::Gate::Budget),
        27,
        "the rest wait on the budget"
    );
}

#[tokio::test]
async fn an_invalid_remediation_is_refused_and_nothing_is_done() {
    let Some(tb) = testbed(1).await else { return };
    let client = tb.client();
    install_crd(&client).await;
    let rems: Api<Remediation> = Api::all(client.clone());
    let bad: Remediation = serde_json::from_value(json!({
        "apiVersion": "kubemedic.io/v1alpha1",
        "kind": "Remediation",
        "metadata": {"name": "hand-written"},
        "spec": {
            "runbook": "kernel-deadlock",
            "targetKind": "node",
            "target": {"kind": "Node", "name": "kwok-node-0", "node": "kwok-node-0"},
            "steps": [
                {"name": "cordon", "action": "cordon", "timeoutSeconds": 30},
                {"name": "shell", "action": "sh", "with": {"command": "reboot -f"}, "timeoutSeconds": 30}
            ],
            "escalationSeverity": "critical",
            "escalationMessage": "x"
        }
    }))
    .unwrap();
    rems.create(&PostParams::default(), &bad).await.unwrap();
    set_condition(&client, "kwok-node-0", "KernelDeadlock", "True", 10).await;
    let mut h = healer(
        &client,
        enabled(&["kernel-deadlock"]),
        SafetyConfig::default(),
        Duration::from_secs(2),
        "leader",
    );
    let view = live_view(&client).await.unwrap();
    let rep = h.pass(&view).await.unwrap();
    assert_eq!(rep.invalid, vec!["hand-written".to_string()]);
    let st = rems.get("hand-written").await.unwrap().status.unwrap();
    assert_eq!(st.phase, Some(Phase::Failed));
    assert!(
        st.message
            .contains("spec.steps[1].action: \"sh\" is not an allow-listed action"),
        "{}",
        st.message
    );
    assert!(st.history.is_empty(), "nothing acted on: {st:#?}");
    let n = Api::<Node>::all(client.clone())
        .get("kwok-node-0")
        .await
        .unwrap();
    assert_ne!(
        n.spec.and_then(|s| s.unschedulable),
        Some(true),
        "not cordoned"
    );
}
