//! `kubemedic controller` with healing on, against a real apiserver with kwok nodes: a node
//! NotReady for longer than `node-not-ready`'s 5 minutes is cordoned, drained through the
//! Eviction API (held by a PodDisruptionBudget) and escalated to a local alert receiver; the
//! leader is stopped in the middle of the drain and the other replica finishes the run without
//! repeating a step. Every action lands in the archive's timeline.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kubemedic_heal::crd::{Phase, Remediation, StepState};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, wait_for};

struct Replica {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(kubeconfig: &Path, dir: &Path, id: &str, extra: &[&str]) -> Replica {
    let port = free_port();
    let log = dir.join(format!("{id}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_kubemedic"))
        .args(["controller", "--kubeconfig"])
        .arg(kubeconfig)
        .arg("--archive")
        .arg(format!("sqlite:{}", dir.join(format!("{id}.db")).display()))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--identity", id])
        .args(["-n", "default"])
        .arg("--runbooks")
        .arg(dir.join("runbooks"))
        .arg("--alert")
        .arg(dir.join("alerts.yaml"))
        .args(extra)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "info,kubemedic_controller=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Replica { child, port, log }
}

async fn status(r: &Replica) -> Option<serde_json::Value> {
    reqwest::get(format!("http://127.0.0.1:{}/api/v1/status", r.port))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

async fn wait_leading(r: &mut Replica) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = status(r).await
            && v["leader"] == true
            && v["synced"] == true
        {
            return;
        }
        if let Ok(Some(st)) = r.child.try_wait() {
            panic!(
                "controller exited ({st}):\n{}",
                std::fs::read_to_string(&r.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "controller not leading after 90 s:\n{}",
            std::fs::read_to_string(&r.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_run(client: &kube::Client) -> Option<Remediation> {
    let rems: Api<Remediation> = Api::all(client.clone());
    let list = rems.list(&ListParams::default()).await.ok()?;
    list.items
        .into_iter()
        .find(|r| r.spec.runbook == "node-not-ready")
}

#[tokio::test]
async fn a_not_ready_node_is_cordoned_drained_and_escalated_across_a_leader_change() {
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        kwok_nodes: 3,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let client = tb.client();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    // Enable the shipped node-not-ready runbook (cordon → drain → escalate) with an override.
    std::fs::write(
        dir.path().join("runbooks/enable-node-not-ready.yaml"),
        "name: node-not-ready\nmode: enabled\n",
    )
    .unwrap();
    let (bodies, url) = support::webhook_receiver().await;
    std::fs::write(
        dir.path().join("alerts.yaml"),
        format!("sinks:\n  - type: webhook\n    url: {url}\n"),
    )
    .unwrap();

    // A pod on kwok-node-0 guarded by a PodDisruptionBudget that refuses every eviction (no
    // disruption controller runs here, so the budget is never processed: 429 until deleted).
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "victim", "labels": {"app": "victim"}},
        "spec": {
            "nodeName": "kwok-node-0",
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let p2 = pods.clone();
    wait_for("the victim pod to run", 60, &[], || {
        let p = p2.clone();
        async move {
            let pod = p.get("victim").await.ok()?;
            (pod.status?.phase.as_deref() == Some("Running")).then_some(())
        }
    })
    .await;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "victim"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "victim"}}}
    }))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();

    // kwok-node-0 has been NotReady for 6 minutes (past the runbook's 5). kwok may still be
    // resetting Ready when the detach reaches it: write until the condition stays.
    tb.detach_node("kwok-node-0").await.unwrap();
    let t = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(6)).to_string();
    let nodes: Api<Node> = Api::all(client.clone());
    let not_ready = |n: &Node| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "False"))
    };
    let n2 = nodes.clone();
    wait_for("kwok-node-0 to stay NotReady", 30, &[], || {
        let nodes = n2.clone();
        let t = t.clone();
        async move {
            nodes
                .patch_status(
                    "kwok-node-0",
                    &PatchParams::default(),
                    &Patch::Strategic(json!({"status": {"conditions": [{
                        "type": "Ready", "status": "False", "reason": "KubeletNotReady",
                        "message": "container runtime is down", "lastTransitionTime": t,
                        "lastHeartbeatTime": t,
                    }]}})),
                )
                .await
                .ok()?;
            // Still NotReady two seconds later: kwok has let go.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let n = nodes.get("kwok-node-0").await.ok()?;
            not_ready(&n).then_some(())
        }
    })
    .await;

    // Replica A installs the CRD and leads.
    let mut a = start(
        tb.kubeconfig_path(),
        dir.path(),
        "replica-a",
        &["--install-crds"],
    );
    wait_leading(&mut a).await;
    let logs_a = a.log.clone();
    let plan_url = format!("http://127.0.0.1:{}/api/v1/heal/plan", a.port);
    let run = wait_for(
        "A to cordon kwok-node-0 and start draining it",
        60,
        &[&logs_a],
        || {
            let c = client.clone();
            let plan_url = plan_url.clone();
            async move {
                let Some(r) = the_run(&c).await else {
                    if let Ok(p) = reqwest::get(&plan_url).await
                        && let Ok(t) = p.text().await
                    {
                        eprintln!("no run yet; plan: {t}");
                    }
                    return None;
                };
                let st = r.status.clone()?;
                let drain = st.history.iter().find(|h| h.name == "drain")?;
                (drain.state == StepState::Started && drain.message.contains("PDB")).then_some(r)
            }
        },
    )
    .await;
    let name = run.metadata.name.clone().unwrap();
    let n0 = nodes.get("kwok-node-0").await.unwrap();
    assert_eq!(n0.spec.as_ref().and_then(|s| s.unschedulable), Some(true));
    assert_eq!(
        n0.metadata.annotations.as_ref().unwrap()["kubemedic.io/cordoned-by"],
        name
    );
    // The plan is served by the leader: the run goes on.
    let plan_port = a.port;
    wait_for(
        "the leader's plan to show the run",
        30,
        &[&logs_a],
        || async move {
            let plan: serde_json::Value =
                reqwest::get(format!("http://127.0.0.1:{plan_port}/api/v1/heal/plan"))
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
            let found = plan["plan"]["entries"].as_array().is_some_and(|es| {
                es.iter()
                    .any(|e| e["runbook"] == "node-not-ready" && e["decision"] == "continue")
            });
            if !found {
                eprintln!("plan: {plan}");
            }
            found.then_some(())
        },
    )
    .await;

    // Replica B follows; A stops (SIGTERM releases the Lease) in the middle of the drain.
    let mut b = start(tb.kubeconfig_path(), dir.path(), "replica-b", &[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&b).await.map(|v| v["leader"] == true), Some(false));
    let killed = Command::new("kill")
        .args(["-TERM", &a.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    while a.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "A did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_leading(&mut b).await;
    // B resumes the drain: still held by the PDB until it goes.
    let logs_b = b.log.clone();
    wait_for("B to take the run up", 30, &[&logs_a, &logs_b], || {
        let c = client.clone();
        async move { (the_run(&c).await?.status?.attempts == 2).then_some(()) }
    })
    .await;
    pdbs.delete("victim", &DeleteParams::default())
        .await
        .unwrap();
    let done = wait_for("the run to finish", 90, &[&logs_a, &logs_b], || {
        let c = client.clone();
        async move {
            let st = the_run(&c).await?.status?;
            st.phase.is_some_and(Phase::finished).then_some(st)
        }
    })
    .await;
    // The node stays NotReady: cordoned, drained, ladder exhausted → escalated. One record per
    // step: nothing was repeated by the new leader.
    assert_eq!(done.phase, Some(Phase::Escalated), "{done:#?}");
    assert_eq!(done.attempts, 2, "{done:#?}");
    let steps: Vec<(&str, StepState)> = done
        .history
        .iter()
        .map(|h| (h.name.as_str(), h.state))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("cordon", StepState::Succeeded),
            ("drain", StepState::Succeeded)
        ],
        "{done:#?}"
    );
    assert!(
        done.history[1].message.contains("1 pod(s) evicted"),
        "{}",
        done.history[1].message
    );
    let throttled: usize = done.history[1].intent["throttled"].parse().unwrap();
    assert!(throttled >= 2, "evictions refused by the PDB: {throttled}");
    assert!(pods.get_opt("victim").await.unwrap().is_none());

    // The escalation reached the alert receiver.
    let alert = wait_for("the escalation alert", 30, &[&logs_b], || {
        let b = bodies.clone();
        async move {
            b.lock()
                .unwrap()
                .iter()
                .find(|t| t.contains("Remediation:node-not-ready") && t.contains("kwok-node-0"))
                .cloned()
        }
    })
    .await;
    let v: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(v["source"], "kubemedic");
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .contains("NotReady for more than 5m"),
        "{v:#}"
    );

    // B's archive holds its actions in the node's timeline (A's file holds the cordon).
    let events: serde_json::Value = reqwest::get(format!(
        "http://127.0.0.1:{}/api/v1/events?object=node/kwok-node-0",
        b.port
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let reasons: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["origin"] == "action")
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"RemediationSucceeded"), "{events:#}");
    assert!(reasons.contains(&"RemediationEscalated"), "{events:#}");
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", b.port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("kubemedic_heal_actions_total{action=\"drain\",outcome=\"succeeded\"} 1"),
        "{metrics}"
    );
    let listed: serde_json::Value = reqwest::get(format!(
        "http://127.0.0.1:{}/api/v1/heal/remediations",
        b.port
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(listed["remediations"][0]["metadata"]["name"], name.as_str());
}
