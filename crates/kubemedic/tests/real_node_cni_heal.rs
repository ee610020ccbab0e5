//! The seed's CNI healing flow end to end on a real node (containerd 1.6, runc, the CNI bridge
//! plugins, kubelet 1.37): a hostNetwork "CNI" DaemonSet installs the node's CNI config from a
//! ConfigMap the way Flannel and Calico install theirs; `kubemedic controller` (healing on, the
//! `cni-failure` runbook enabled with short durations) and `kubemedic agent --remediate` (the
//! node's allow-listed `restart-runtime` command: the testbed node has no systemd) heal it.
//!
//! - A: the config file is removed → NetworkPluginNotReady; the agent's CNIFailure condition and
//!   `kubemedic diagnose` agree → step 1 deletes the CNI pod, its replacement rewrites the file
//!   in place, containerd reloads it → pods run again. No alert.
//! - B: the conf dir is removed and recreated (containerd 1.6's fsnotify watch dies with the
//!   directory): the replacement's config is not seen → step 1's verification fails → step 2,
//!   the agent restarts containerd → pods run again. No alert.
//! - C: the ConfigMap holds a broken config: nothing helps → one escalation alert at a local
//!   webhook receiver (deduplicated while it fires), and its resolve notification once the test
//!   repairs the ConfigMap and the node recovers.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kubemedic_heal::crd::{Phase, Remediation, StepState};
use kubemedic_testbed::{CNI_CONFLIST, NodeComponent, Options, Testbed, child, images};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Bodies, free_port, wait_for};

const NS: &str = "kube-system";
const CNI_DS: &str = "testbed-cni";
const CNI_CM: &str = "testbed-cni-config";

/// A kubemedic process of the test, killed when dropped (and by the kernel when the test's
/// thread ends, whatever happens).
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(log: &Path, args: &[String]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
    cmd.args(args)
        .env_remove("KUBECONFIG")
        .env(
            "RUST_LOG",
            "info,kubemedic_controller=debug,kubemedic_agent=debug",
        )
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap());
    child::reset_signals(&mut cmd);
    child::die_with_test(&mut cmd);
    Proc {
        child: cmd.spawn().unwrap(),
        log: log.to_path_buf(),
    }
}

fn ready_condition(n: &Node) -> Option<(String, String)> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.message.clone().unwrap_or_default()))
}

fn condition(n: &Node, type_: &str) -> Option<String> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

/// The node's CNI pod now (not terminating), as (name, uid).
async fn cni_pod(pods: &Api<Pod>) -> Option<(String, String)> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={CNI_DS}")))
        .await
        .ok()?;
    list.items
        .into_iter()
        .find(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.metadata.name.unwrap(), p.metadata.uid.unwrap()))
}

async fn running_with_ip(pods: &Api<Pod>, name: &str) -> Option<String> {
    let p = pods.get(name).await.ok()?;
    let st = p.status?;
    (st.phase.as_deref() == Some("Running")).then_some(())?;
    st.pod_ip.filter(|ip| !ip.is_empty())
}

fn sleeper(name: &str, node: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": false,
            "containers": [{"name": "app", "image": images::BUSYBOX_IMAGE,
                            "command": ["sleep", "3600"]}],
        },
    }))
    .unwrap()
}

/// Remediations of the cni-failure runbook not in `seen`.
async fn new_run(client: &kube::Client, seen: &BTreeSet<String>) -> Option<Remediation> {
    let rems: Api<Remediation> = Api::all(client.clone());
    let list = rems.list(&ListParams::default()).await.ok()?;
    list.items.into_iter().find(|r| {
        r.spec.runbook == "cni-failure"
            && !seen.contains(r.metadata.name.as_deref().unwrap_or_default())
    })
}

/// The run once it has finished (any phase).
async fn finished(client: &kube::Client, name: &str) -> Option<Remediation> {
    let rems: Api<Remediation> = Api::all(client.clone());
    let r = rems.get(name).await.ok()?;
    r.status
        .as_ref()?
        .phase
        .is_some_and(Phase::finished)
        .then_some(r)
}

/// Waits for a cni-failure Remediation not in `seen`, adds it, waits until it has finished and
/// prints its status (for docs/healing.md).
async fn next_run_to_end(
    case: &str,
    client: &kube::Client,
    seen: &mut BTreeSet<String>,
    logs: &[&Path],
) -> Remediation {
    let run = wait_for(
        &format!("{case}: a new cni-failure Remediation"),
        90,
        logs,
        || {
            let c = client.clone();
            let seen = seen.clone();
            async move { new_run(&c, &seen).await }
        },
    )
    .await;
    let name = run.metadata.name.clone().unwrap();
    seen.insert(name.clone());
    let done = wait_for(&format!("{case}: {name} to finish"), 150, logs, || {
        let c = client.clone();
        let n = name.clone();
        async move { finished(&c, &n).await }
    })
    .await;
    eprintln!(
        "{case}: Remediation {name} status:\n{}",
        serde_json::to_string_pretty(&done.status).unwrap()
    );
    done
}

fn history(r: &Remediation) -> Vec<(String, StepState)> {
    r.status
        .as_ref()
        .unwrap()
        .history
        .iter()
        .map(|h| (h.name.clone(), h.state))
        .collect()
}

/// Reasons of the Events on the node that name the run.
async fn run_events(client: &kube::Client, node: &str, run: &str) -> Vec<String> {
    let events: Api<Event> = Api::all(client.clone());
    let list = events.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(node))
        .filter(|e| e.message.as_deref().unwrap_or_default().contains(run))
        .filter_map(|e| e.reason)
        .collect()
}

/// Alert bodies that speak of the cni-failure runbook.
fn cni_alerts(bodies: &Bodies) -> Vec<Value> {
    bodies
        .lock()
        .unwrap()
        .iter()
        .filter(|b| b.contains("cni-failure") || b.contains("CNIFailure"))
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

/// The kubelet monitor shipped in the agent, reading the node's kubelet log (the testbed's
/// kubelet logs to a file, not to journald) with klog's line header.
fn kubelet_filelog_monitor(kubelet_log: &Path) -> String {
    let mut cfg: Value =
        serde_json::from_str(include_str!("../../detect/defaults/kubelet-monitor.json")).unwrap();
    cfg["plugin"] = json!("filelog");
    cfg["logPath"] = json!(kubelet_log);
    cfg["pluginConfig"] = json!({
        "timestamp": "^[IWEF]([0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6})",
        "message": "^[IWEF][0-9]{4} [0-9:.]+ +[0-9]+ [^ ]+\\] (.*)$",
        "timestampFormat": "0102 15:04:05.000000",
    });
    // The shipped 30 s quiet period, shortened so the three cases fit a few minutes: the
    // kubelet repeats the line every 5 s while the network plugin is not ready.
    for c in cfg["conditions"].as_array_mut().unwrap() {
        if c["type"] == "CNIFailure" {
            c["quietPeriod"] = json!("15s");
        }
    }
    cfg.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cni_failure_heals_by_the_cni_pod_then_a_runtime_restart_then_alerts() {
    let Some(tb) = Testbed::start(Options {
        controllers: true,
        real_nodes: 1,
        node_images: vec![images::busybox().unwrap()],
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let client = tb.client();
    let node = tb.real_node();
    let node_name = node.name().to_string();
    let conf_dir = node.cni_conf_dir();
    let conflist = conf_dir.join(CNI_CONFLIST);
    let good = std::fs::read_to_string(&conflist).unwrap();
    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The CNI DaemonSet: its pod copies the config from the ConfigMap into the node's conf dir
    // (hostPath) at start, in place, then sleeps (as Flannel's install-cni does).
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": CNI_CM},
            "data": {CNI_CONFLIST: good},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let install = format!(
        "cat /config/{CNI_CONFLIST} > /host-cni/{CNI_CONFLIST} && echo installed {CNI_CONFLIST}; \
         trap 'exit 0' TERM; while :; do sleep 1; done"
    );
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": CNI_DS},
        "spec": {
            "selector": {"matchLabels": {"app": CNI_DS}},
            "template": {
                "metadata": {"labels": {"app": CNI_DS}},
                "spec": {
                    "hostNetwork": true,
                    "terminationGracePeriodSeconds": 2,
                    "automountServiceAccountToken": false,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "install-cni", "image": images::BUSYBOX_IMAGE,
                        "command": ["sh", "-c", install],
                        "volumeMounts": [
                            {"name": "cni-conf", "mountPath": "/host-cni"},
                            {"name": "config", "mountPath": "/config"},
                        ],
                    }],
                    "volumes": [
                        {"name": "cni-conf", "hostPath": {"path": conf_dir, "type": "Directory"}},
                        {"name": "config", "configMap": {"name": CNI_CM}},
                    ],
                },
            },
        },
    }))
    .unwrap();
    Api::<DaemonSet>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &ds)
        .await
        .unwrap();
    let cni_pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let p2 = cni_pods.clone();
    let first_cni = wait_for("the CNI pod to run", 90, &[], || {
        let pods = p2.clone();
        async move {
            let (name, uid) = cni_pod(&pods).await?;
            running_with_ip(&pods, &name).await?;
            Some((name, uid))
        }
    })
    .await;

    // Healing: the shipped cni-failure runbook, enabled, with durations a test can wait for and
    // the node's conf dir (the testbed node's /etc/cni/net.d lives in its own directory).
    std::fs::create_dir(d.join("runbooks")).unwrap();
    let runbook = include_str!("../../heal/runbooks/cni-failure.yaml")
        .replace("mode: dry-run", "mode: enabled")
        // Long enough that the test sees the node report the break before healing acts.
        .replace("for: 60s", "for: 20s")
        .replace("for: 30s", "for: 20s")
        .replace(
            "mountsHostPath: /etc/cni/net.d",
            &format!("mountsHostPath: {}", conf_dir.display()),
        )
        .replace("timeout: 2m", "timeout: 40s")
        .replace("timeout: 3m", "timeout: 40s");
    assert!(runbook.contains("mode: enabled") && !runbook.contains("for: 30s"));
    std::fs::write(d.join("runbooks/cni-failure.yaml"), &runbook).unwrap();
    std::fs::write(
        d.join("heal.yaml"),
        "minHealthy: 0\ncooldown: 3s\nbackoff:\n  factor: 2\n",
    )
    .unwrap();
    let (bodies, url) = support::webhook_receiver().await;
    std::fs::write(
        d.join("alerts.yaml"),
        format!("repeatInterval: 1h\nsinks:\n  - type: webhook\n    url: {url}\n"),
    )
    .unwrap();
    let port = free_port();
    let controller = spawn(
        &d.join("controller.log"),
        &[
            "controller".into(),
            "--kubeconfig".into(),
            kubeconfig.clone(),
            "--install-crds".into(),
            "-n".into(),
            NS.into(),
            "--archive".into(),
            format!("sqlite:{}", d.join("archive.db").display()),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--identity".into(),
            "cni-test".into(),
            "--runbooks".into(),
            d.join("runbooks").display().to_string(),
            "--heal-config".into(),
            d.join("heal.yaml").display().to_string(),
            "--alert".into(),
            d.join("alerts.yaml").display().to_string(),
        ],
    );
    // The agent, as on the node: the kubelet monitor, and the node's restart command for
    // restart-runtime (no D-Bus here).
    let monitor = d.join("kubelet-monitor.json");
    std::fs::write(
        &monitor,
        kubelet_filelog_monitor(&node.log_path(NodeComponent::Kubelet)),
    )
    .unwrap();
    let agent = spawn(
        &d.join("agent.log"),
        &[
            "agent".into(),
            "--kubeconfig".into(),
            kubeconfig.clone(),
            "--hostname-override".into(),
            node_name.clone(),
            "--config.system-log-monitor".into(),
            monitor.display().to_string(),
            "--port".into(),
            "0".into(),
            "--prometheus-port".into(),
            "0".into(),
            "--remediate".into(),
            "--dbus-socket".into(),
            d.join("no-dbus").display().to_string(),
            "--action-command".into(),
            format!(
                "restart-runtime={}",
                node.restart_runtime_command().join(" ")
            ),
            "--remediate-interval".into(),
            "1s".into(),
        ],
    );
    let containerd_log = node.log_path(NodeComponent::Containerd);
    let kubelet_log = node.log_path(NodeComponent::Kubelet);
    let logs: Vec<&Path> = vec![&controller.log, &agent.log, &containerd_log];
    wait_for("the controller to lead", 90, &logs, || async move {
        let v: Value = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/status"))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (v["leader"] == true && v["synced"] == true).then_some(())
    })
    .await;

    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut seen: BTreeSet<String> = BTreeSet::new();
    // The kubelet's Ready=False NetworkPluginNotReady and the agent's CNIFailure=True, each
    // latched when first seen (healing waits 20 s for the break to last: both show before).
    let broken = |nodes: Api<Node>, name: String, seen: Arc<Mutex<(Option<String>, bool)>>| async move {
        let n = nodes.get(&name).await.ok()?;
        let mut s = seen.lock().unwrap();
        if let Some((status, msg)) = ready_condition(&n)
            && status == "False"
            && msg.contains("NetworkPluginNotReady")
        {
            s.0 = Some(msg);
        }
        if condition(&n, "CNIFailure").as_deref() == Some("True") {
            s.1 = true;
        }
        match &*s {
            (Some(msg), true) => Some(msg.clone()),
            _ => None,
        }
    };

    // ---- A: the config file removed; the CNI pod's replacement rewrites it in place.
    std::fs::remove_file(&conflist).unwrap();
    pods.create(&PostParams::default(), &sleeper("probe-a", &node_name))
        .await
        .unwrap();
    let latch = Arc::default();
    let msg = wait_for(
        "A: Ready=False NetworkPluginNotReady and the agent's CNIFailure",
        60,
        &logs,
        || broken(nodes.clone(), node_name.clone(), Arc::clone(&latch)),
    )
    .await;
    eprintln!("A: node condition: {msg}");
    // The agent's condition and the diagnosis name the same cause.
    let (code, out, err) = support::kubemedic(&[
        "diagnose",
        "--kubeconfig",
        &kubeconfig,
        "--no-agents",
        &format!("node/{node_name}"),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "diagnose: {out}\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let node_causes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["object"]["name"] == node_name.as_str())
        .filter_map(|f| f["cause"].as_str())
        .collect();
    assert_eq!(node_causes.first(), Some(&"CNIFailure"), "{report:#}");
    let (_, plan_text, plan_err) = support::kubemedic(&[
        "heal",
        "plan",
        "--kubeconfig",
        &kubeconfig,
        "--runbooks",
        d.join("runbooks").to_str().unwrap(),
        "--heal-config",
        d.join("heal.yaml").to_str().unwrap(),
    ]);
    eprintln!("A: kubemedic heal plan during the break:\n{plan_text}{plan_err}");
    assert!(plan_text.contains("cni-failure"), "{plan_text}\n{plan_err}");

    let done_a = next_run_to_end("A", &client, &mut seen, &logs).await;
    let name_a = done_a.metadata.name.clone().unwrap();
    assert_eq!(
        done_a.status.as_ref().unwrap().phase,
        Some(Phase::Succeeded),
        "{:#?}",
        done_a.status
    );
    assert_eq!(
        history(&done_a),
        vec![("delete-cni-pod".to_string(), StepState::Succeeded)],
        "{:#?}",
        done_a.status
    );
    let (now_cni, now_uid) = cni_pod(&cni_pods).await.unwrap();
    assert_ne!(now_uid, first_cni.1, "the CNI pod was replaced");
    assert!(
        cni_pods.get_opt(&first_cni.0).await.unwrap().is_none() || now_cni != first_cni.0,
        "the old CNI pod is gone"
    );
    assert_eq!(std::fs::read_to_string(&conflist).unwrap(), good);
    let ip = wait_for("A: probe-a Running with an IP", 60, &logs, || {
        let pods = pods.clone();
        async move { running_with_ip(&pods, "probe-a").await }
    })
    .await;
    eprintln!("A: probe-a runs at {ip}");
    let reasons = run_events(&client, &node_name, &name_a).await;
    for want in [
        "RemediationStarted",
        "RemediationStep",
        "RemediationAction",
        "RemediationSucceeded",
    ] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }
    assert!(
        cni_alerts(&bodies).is_empty(),
        "{:?}",
        bodies.lock().unwrap()
    );

    // ---- B: the conf dir removed and recreated: containerd's watch on it is gone, so the
    // replacement's config is not read until containerd restarts.
    let restarts_before = std::fs::read_to_string(&containerd_log)
        .unwrap()
        .matches("starting it again as asked")
        .count();
    std::fs::remove_dir_all(&conf_dir).unwrap();
    std::fs::create_dir(&conf_dir).unwrap();
    let latch = Arc::default();
    wait_for(
        "B: Ready=False NetworkPluginNotReady and the agent's CNIFailure",
        60,
        &logs,
        || broken(nodes.clone(), node_name.clone(), Arc::clone(&latch)),
    )
    .await;
    pods.create(&PostParams::default(), &sleeper("probe-b", &node_name))
        .await
        .unwrap();
    let done_b = next_run_to_end("B", &client, &mut seen, &logs).await;
    let st = done_b.status.as_ref().unwrap();
    assert_eq!(st.phase, Some(Phase::Succeeded), "{st:#?}");
    assert_eq!(
        history(&done_b),
        vec![
            ("delete-cni-pod".to_string(), StepState::TimedOut),
            ("restart-runtime".to_string(), StepState::Succeeded),
        ],
        "{st:#?}"
    );
    assert_eq!(st.history[1].executor, format!("agent/{node_name}"));
    // The new CNI pod had written a good config into the recreated dir before the restart.
    assert_eq!(std::fs::read_to_string(&conflist).unwrap(), good);
    let restarts = std::fs::read_to_string(&containerd_log)
        .unwrap()
        .matches("starting it again as asked")
        .count();
    assert_eq!(restarts, restarts_before + 1, "containerd restarted once");
    wait_for("B: probe-b Running with an IP", 60, &logs, || {
        let pods = pods.clone();
        async move { running_with_ip(&pods, "probe-b").await }
    })
    .await;
    assert!(
        cni_alerts(&bodies).is_empty(),
        "{:?}",
        bodies.lock().unwrap()
    );

    // ---- C: a broken config in the ConfigMap, rolled out (the CNI pod restarted): nothing the
    // runbook does helps → one escalation alert; repaired by the test → resolved.
    let broken_config = good.replacen('{', "{ \"broken\": ", 1); // not JSON any more
    cms.patch(
        CNI_CM,
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {CNI_CONFLIST: broken_config}})),
    )
    .await
    .unwrap();
    let (cni_now, _) = cni_pod(&cni_pods).await.unwrap();
    cni_pods
        .delete(&cni_now, &DeleteParams::default())
        .await
        .unwrap();
    let latch = Arc::default();
    wait_for(
        "C: Ready=False NetworkPluginNotReady and the agent's CNIFailure",
        90,
        &logs,
        || broken(nodes.clone(), node_name.clone(), Arc::clone(&latch)),
    )
    .await;
    let done_c = next_run_to_end("C", &client, &mut seen, &logs).await;
    let st = done_c.status.as_ref().unwrap();
    assert_eq!(st.phase, Some(Phase::Escalated), "{st:#?}");
    assert_eq!(
        history(&done_c),
        vec![
            ("delete-cni-pod".to_string(), StepState::TimedOut),
            ("restart-runtime".to_string(), StepState::TimedOut),
        ],
        "{st:#?}"
    );
    let alert = wait_for("C: the escalation alert", 60, &logs, || {
        let b = bodies.clone();
        async move { cni_alerts(&b).into_iter().next() }
    })
    .await;
    eprintln!(
        "C: alert payload:\n{}",
        serde_json::to_string_pretty(&alert).unwrap()
    );
    assert_eq!(alert["source"], "kubemedic");
    let text = alert["text"].as_str().unwrap();
    assert!(
        text.starts_with("[kubemedic firing] Remediation:cni-failure (critical)"),
        "{alert:#}"
    );
    assert!(
        text.contains(
            "pod network still down after deleting the CNI pod and restarting the runtime"
        ),
        "{alert:#}"
    );
    assert!(text.contains(&format!("node/{node_name}")), "{alert:#}");
    // Nothing else arrives while it keeps firing over several controller passes (this waits
    // for an absence; nothing is synchronised on it).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(cni_alerts(&bodies).len(), 1, "{:#?}", cni_alerts(&bodies));

    // Repaired: the good config back in the ConfigMap, rolled out.
    cms.patch(
        CNI_CM,
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {CNI_CONFLIST: good}})),
    )
    .await
    .unwrap();
    let (cni_now, _) = cni_pod(&cni_pods).await.unwrap();
    cni_pods
        .delete(&cni_now, &DeleteParams::default())
        .await
        .unwrap();
    let resolved = wait_for("C: the resolve notification", 120, &logs, || {
        let b = bodies.clone();
        async move {
            let all = cni_alerts(&b);
            (all.len() >= 2).then(|| all[1].clone())
        }
    })
    .await;
    eprintln!(
        "C: resolve payload:\n{}",
        serde_json::to_string_pretty(&resolved).unwrap()
    );
    assert!(
        resolved["text"]
            .as_str()
            .unwrap()
            .starts_with("[kubemedic resolved] Remediation:cni-failure"),
        "{resolved:#}"
    );
    assert_eq!(cni_alerts(&bodies).len(), 2, "{:#?}", cni_alerts(&bodies));
    wait_for("C: the node Ready again", 60, &logs, || {
        let nodes = nodes.clone();
        let name = node_name.clone();
        async move {
            let n = nodes.get(&name).await.ok()?;
            (ready_condition(&n)?.0 == "True").then_some(())
        }
    })
    .await;
    drop(agent);
    drop(controller);
    let _ = kubelet_log;
}
