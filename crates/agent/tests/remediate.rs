//! The agent's node-local steps: the controller's Healer and the agent's worker cooperating
//! through a Remediation on a real apiserver (runtime restart through the allow-listed command
//! the testbed's node uses, since it has no systemd); an agent restarted mid-action does not
//! repeat it; log truncation and /proc writes on real files.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};
use kubemedic_agent::remediate::{NodeActionConfig, RemediationWorker, local};
use kubemedic_heal::action::{Action, ActionKind};
use kubemedic_heal::crd::{Phase, Remediation, StepState};
use kubemedic_heal::exec::live_view;
use kubemedic_heal::exec::runner::{Healer, HealerConfig};
use kubemedic_heal::library::{Library, Source};
use serde_json::json;
use std::time::{Duration, Instant};

const RUNBOOK: &str = r#"
name: runtime-test
description: test
source: test
mode: enabled
match:
  conditions:
    - type: RuntimeHung
      status: "True"
      for: 1m
steps:
  - name: restart-runtime
    action: restart-runtime
    timeout: 30s
    verify: [condition-cleared]
"#;

async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Remediation::crd())
        .await
        .unwrap();
    let rems: Api<Remediation> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while rems.list(&ListParams::default()).await.is_err() {
        assert!(Instant::now() < deadline, "remediations not served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A testbed with one kwok node and the Remediation CRD installed; None where no testbed can run.
async fn testbed_with_crd() -> Option<(kubemedic_testbed::Testbed, Client)> {
    let tb = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        controllers: false,
        kwok_nodes: 1,
        ..Default::default()
    })
    .await?;
    let client = tb.client();
    install_crd(&client).await;
    Some((tb, client))
}

async fn set_condition(client: &Client, node: &str, status: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let t = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5)).to_string();
    let patch = json!({"status": {"conditions": [{
        "type": "RuntimeHung", "status": status, "reason": "Test", "message": "runtime hung",
        "lastTransitionTime": t, "lastHeartbeatTime": t,
    }]}});
    nodes
        .patch_status(node, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_controller_starts_a_runtime_restart_the_agent_carries_it_out_once() {
    let Some((_tb, client)) = testbed_with_crd().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("restarts");
    // The testbed's node has no systemd: the allow-listed command stands in for the node's
    // service manager (it appends one line per restart, so a repeat would show).
    let script = dir.path().join("restart-runtime");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho restarted >> {}\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cfg = NodeActionConfig {
        dbus_socket: dir.path().join("no-bus"),
        ..NodeActionConfig::default()
    };
    cfg.commands.insert(
        ActionKind::RestartRuntime,
        vec![script.display().to_string()],
    );
    let worker = RemediationWorker::new(client.clone(), "kwok-node-0".into(), cfg);

    set_condition(&client, "kwok-node-0", "True").await;
    let lib = Library::load(&[Source {
        origin: "test".into(),
        text: RUNBOOK.into(),
    }]);
    assert!(lib.errors.is_empty(), "{:?}", lib.errors);
    let mut healer = Healer::new(
        client.clone(),
        HealerConfig {
            library: lib,
            // One node: the default minHealthy (51%) would rightly hold healing back.
            safety: kubemedic_heal::SafetyConfig {
                min_healthy: kubemedic_heal::Budget::Count(0),
                ..Default::default()
            },
            identity: "test".into(),
            lock_namespace: "default".into(),
            action_slice: Duration::from_secs(2),
        },
        None,
    );
    let rep = healer
        .pass(&live_view(&client).await.unwrap())
        .await
        .unwrap();
    assert_eq!(rep.created.len(), 1, "{rep:?}");
    let name = rep.created[0].clone();
    let rems: Api<Remediation> = Api::all(client.clone());
    let st = rems.get(&name).await.unwrap().status.unwrap();
    assert_eq!(st.history[0].state, StepState::Started);
    assert_eq!(st.history[0].executor, "agent/kwok-node-0");
    assert!(
        !marker.exists(),
        "the controller never runs node-local actions"
    );

    // The agent carries it out, once, however often it looks.
    let r1 = worker.poll().await.unwrap();
    assert_eq!(
        r1.acted,
        vec![(name.clone(), "restart-runtime".to_string(), true)]
    );
    let r2 = worker.poll().await.unwrap();
    assert!(r2.acted.is_empty() && r2.interrupted.is_empty(), "{r2:?}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "restarted\n");
    let st = rems.get(&name).await.unwrap().status.unwrap();
    assert_eq!(st.history[0].state, StepState::Acted, "{st:#?}");
    assert!(
        st.history[0].message.contains("exited 0"),
        "{}",
        st.history[0].message
    );

    // The restart healed the runtime: the controller verifies and closes the run.
    set_condition(&client, "kwok-node-0", "False").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let st = loop {
        healer
            .pass(&live_view(&client).await.unwrap())
            .await
            .unwrap();
        let st = rems.get(&name).await.unwrap().status.unwrap();
        if st.phase.is_some_and(Phase::finished) {
            break st;
        }
        assert!(Instant::now() < deadline, "{st:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(st.phase, Some(Phase::Succeeded), "{st:#?}");
    assert_eq!(st.message, "healed by step 1 (restart-runtime)");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "restarted\n");
}

#[tokio::test]
async fn an_agent_restarted_mid_action_does_not_repeat_it() {
    let Some((_tb, client)) = testbed_with_crd().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("restarts");
    let mut cfg = NodeActionConfig {
        dbus_socket: dir.path().join("no-bus"),
        ..NodeActionConfig::default()
    };
    cfg.commands.insert(
        ActionKind::RestartRuntime,
        vec!["touch".into(), marker.display().to_string()],
    );
    let lib = Library::load(&[Source {
        origin: "test".into(),
        text: RUNBOOK.into(),
    }]);
    let rb = &lib.get("runtime-test").unwrap().runbook;
    let spec = kubemedic_heal::RemediationSpec::new(
        rb,
        &kubemedic_heal::TargetRef::node("kwok-node-0"),
        Some("kwok-node-0"),
        vec![],
        "",
    );
    let mut r = Remediation::new("interrupted-run", spec);
    r.metadata.labels = Some(
        [("kubemedic.io/node".to_string(), "kwok-node-0".to_string())]
            .into_iter()
            .collect(),
    );
    let rems: Api<Remediation> = Api::all(client.clone());
    let mut r = rems.create(&PostParams::default(), &r).await.unwrap();
    // As an agent killed after writing its intent would leave it.
    let mut st = kubemedic_heal::RemediationStatus::default();
    let steps = r.spec.check().unwrap();
    kubemedic_heal::progress::begin(
        &mut st,
        &steps,
        0,
        "agent/kwok-node-0",
        jiff::Timestamp::now(),
    );
    st.history[0]
        .intent
        .insert("agentStartedAt".into(), jiff::Timestamp::now().to_string());
    r.status = Some(st);
    rems.replace_status("interrupted-run", &PostParams::default(), &r)
        .await
        .unwrap();
    let worker = RemediationWorker::new(client.clone(), "kwok-node-0".into(), cfg);
    let rep = worker.poll().await.unwrap();
    assert_eq!(
        rep.interrupted,
        vec![("interrupted-run".to_string(), "restart-runtime".to_string())]
    );
    assert!(rep.acted.is_empty());
    assert!(!marker.exists(), "the restart was not repeated");
    let st = rems.get("interrupted-run").await.unwrap().status.unwrap();
    assert_eq!(st.history[0].state, StepState::Acted);
    assert!(st.history[0].message.contains("not repeated"));
}

#[test]
fn truncating_logs_keeps_small_files_and_the_open_inode() {
    let dir = tempfile::tempdir().unwrap();
    let pod = dir.path().join("ns_pod_uid/app");
    std::fs::create_dir_all(&pod).unwrap();
    let big = pod.join("0.log");
    let small = pod.join("1.log");
    std::fs::write(&big, vec![b'x'; 3 << 20]).unwrap();
    std::fs::write(&small, b"keep me\n").unwrap();
    // A writer holding the file open keeps writing to the same inode after the truncation.
    let mut held = std::fs::OpenOptions::new().append(true).open(&big).unwrap();
    let (n, freed) = local::truncate_logs(dir.path(), 1 << 20).unwrap();
    assert_eq!((n, freed), (1, 3 << 20));
    use std::io::Write;
    held.write_all(b"after\n").unwrap();
    assert_eq!(std::fs::read(&big).unwrap(), b"after\n");
    assert_eq!(std::fs::read(&small).unwrap(), b"keep me\n");
    assert!(local::truncate_logs(&dir.path().join("missing"), 1).is_err());
}

#[tokio::test]
async fn proc_writes_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sys/vm")).unwrap();
    std::fs::write(dir.path().join("sys/vm/drop_caches"), "").unwrap();
    std::fs::write(dir.path().join("sys/vm/compact_memory"), "").unwrap();
    let cfg = NodeActionConfig {
        host_proc: dir.path().to_path_buf(),
        dbus_socket: dir.path().join("no-bus"),
        ..NodeActionConfig::default()
    };
    local::execute(&Action::DropCaches { level: 3 }, &cfg)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sys/vm/drop_caches")).unwrap(),
        "3\n"
    );
    local::execute(&Action::CompactMemory, &cfg).await.unwrap();
    let e = local::execute(&Action::Reboot, &cfg).await.unwrap_err();
    assert!(e.contains("--allow-reboot"), "{e}");
    let e = local::execute(&Action::RestartKubelet, &cfg)
        .await
        .unwrap_err();
    assert!(e.contains("no systemd"), "{e}");
    let e = local::execute(&Action::Cordon, &cfg).await.unwrap_err();
    assert!(e.contains("not a node-local action"), "{e}");
}
