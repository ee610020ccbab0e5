//! The Kubernetes exporter against a real kube-apiserver (testbed): NodeConditions and Events
//! change as the monitors say, kubelet-owned conditions are never clobbered, an apiserver outage
//! is survived (the latest state is written when it returns), heartbeats refresh, and a restarted
//! agent does not flap a True condition back to False before it knows.
//!
//! The monitor is a custom plugin whose exit code the test controls through a file: a real
//! process, deterministic input.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::{Event, Node, NodeCondition};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kubemedic_agent::k8s::KubeExporterOptions;
use kubemedic_agent::run::{AgentHandles, AgentOptions, MonitorSet, start};
use kubemedic_agent::stats::StatsOptions;
use kubemedic_detect::config::parse_custom_plugin_monitor;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

fn plugin_config(script: &Path) -> String {
    format!(
        r#"{{
  "plugin": "custom",
  "pluginConfig": {{"invoke_interval": "200ms", "timeout": "5s", "max_output_length": 80, "concurrency": 1}},
  "source": "test-plugin-monitor",
  "metricsReporting": true,
  "conditions": [{{"type": "TestProblem", "reason": "TestIsFine", "message": "test is fine"}}],
  "rules": [
    {{"type": "temporary", "reason": "TestBroken", "path": "{p}", "timeout": "3s"}},
    {{"type": "permanent", "condition": "TestProblem", "reason": "TestBroken", "path": "{p}", "timeout": "3s"}}
  ]
}}"#,
        p = script.display()
    )
}

fn write_script(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("check.sh");
    let state = dir.join("state");
    std::fs::write(&state, "0").unwrap();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ -f {d}/slow ]; then sleep 3; fi\ncode=$(cat {s})\nif [ \"$code\" = 1 ]; then echo 'test is broken'; fi\nexit $code\n",
            d = dir.display(),
            s = state.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

async fn create_node(client: &kube::Client, name: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    // The kubelet's condition, written the way the kubelet does (status subresource).
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    let patch = serde_json::json!({"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "KubeletReady",
        "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now
    }]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
}

async fn condition(client: &kube::Client, node: &str, ty: &str) -> Option<NodeCondition> {
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.get(node).await.ok()?;
    n.status?.conditions?.into_iter().find(|c| c.type_ == ty)
}

async fn wait_condition(
    client: &kube::Client,
    node: &str,
    ty: &str,
    status: &str,
    timeout: Duration,
) -> NodeCondition {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(c) = condition(client, node, ty).await
            && c.status == status
        {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "{ty} never became {status} on {node}: {:?}",
            condition(client, node, ty).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn agent_options(
    client: &kube::Client,
    node: &str,
    script: &Path,
    heartbeat: Duration,
) -> AgentOptions {
    let mut kube = KubeExporterOptions::new(client.clone());
    kube.heartbeat = heartbeat;
    AgentOptions {
        node_name: node.to_string(),
        monitors: MonitorSet {
            plugin: vec![
                parse_custom_plugin_monitor("test-plugin.json", &plugin_config(script)).unwrap(),
            ],
            ..Default::default()
        },
        output: None,
        kube: Some(kube),
        listen: vec![],
        stats: StatsOptions {
            iptables_save: None,
            disk_paths: vec![],
            ..Default::default()
        },
        journalctl: "journalctl".into(),
        probes: None,
    }
}

/// An agent running in the background until [`RunningAgent::stop`].
struct RunningAgent {
    handles: AgentHandles,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn run_agent(options: AgentOptions) -> RunningAgent {
    let (stop, stopped) = oneshot::channel::<()>();
    let (handles, running) = start(options, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    RunningAgent {
        handles,
        stop,
        task: tokio::spawn(running),
    }
}

impl RunningAgent {
    /// Asks the agent to stop and waits until it has.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap();
    }
}

/// Waits up to `timeout` for TestProblem to be False with its declared healthy reason, and checks
/// the kubelet's Ready condition was left alone. Returns TestProblem.
async fn assert_healthy(client: &kube::Client, node: &str, timeout: Duration) -> NodeCondition {
    let c = wait_condition(client, node, "TestProblem", "False", timeout).await;
    assert_eq!(c.reason.as_deref(), Some("TestIsFine"));
    assert_kubelet_ready_untouched(client, node).await;
    c
}

async fn assert_kubelet_ready_untouched(client: &kube::Client, node: &str) {
    let ready = condition(client, node, "Ready")
        .await
        .expect("Ready condition still there");
    assert_eq!(ready.status, "True");
    assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
}

#[tokio::test]
async fn conditions_events_outage_heartbeat_and_restart() {
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options::default()).await
    else {
        return;
    };
    let client = tb.client();
    let node = "agent-test-node";
    create_node(&client, node).await;
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path());
    let state = dir.path().join("state");

    let agent = run_agent(agent_options(
        &client,
        node,
        &script,
        Duration::from_secs(1),
    ))
    .await;

    // Initial state: False with the declared healthy reason; the kubelet's Ready is kept.
    let c = assert_healthy(&client, node, Duration::from_secs(20)).await;

    // Heartbeat: lastHeartbeatTime moves forward without any change.
    let first_beat = c.last_heartbeat_time.clone().unwrap().0;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let c = condition(&client, node, "TestProblem").await.unwrap();
        if c.last_heartbeat_time.unwrap().0 > first_beat {
            assert_eq!(
                c.last_transition_time,
                wait_condition(
                    &client,
                    node,
                    "TestProblem",
                    "False",
                    Duration::from_secs(1)
                )
                .await
                .last_transition_time
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "heartbeat never refreshed lastHeartbeatTime"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Problem: the condition goes True with the rule's reason; an Event is created for the Node.
    std::fs::write(&state, "1").unwrap();
    let c = wait_condition(
        &client,
        node,
        "TestProblem",
        "True",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(c.reason.as_deref(), Some("TestBroken"));
    assert_eq!(c.message.as_deref(), Some("test is broken"));
    assert_kubelet_ready_untouched(&client, node).await;
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        let list = events.list(&ListParams::default()).await.unwrap();
        if let Some(e) = list.items.into_iter().find(|e| {
            e.involved_object.name.as_deref() == Some(node)
                && e.reason.as_deref() == Some("TestBroken")
        }) {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "no TestBroken event for the node"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.involved_object.kind.as_deref(), Some("Node"));
    assert_eq!(
        event.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("test-plugin-monitor")
    );

    // Outage: the problem goes away while the apiserver is down; the agent keeps monitoring and
    // writes the healed state when the apiserver is back.
    tb.stop_apiserver().await;
    std::fs::write(&state, "0").unwrap();
    // Let a few plugin runs and failed writes happen during the outage (observable: the
    // exporter's health records failed writes).
    let deadline = Instant::now() + Duration::from_secs(20);
    while agent
        .handles
        .health
        .sources()
        .iter()
        .find(|s| s.name() == "kubernetes-exporter")
        .unwrap()
        .errors_total()
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "exporter never noticed the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tb.start_apiserver().await.unwrap();
    assert_healthy(&client, node, Duration::from_secs(30)).await;

    // Restart safety: with the problem present, stop the agent, start a new one whose first
    // plugin run is slow; the condition must stay True the whole time (no flap to False).
    std::fs::write(&state, "1").unwrap();
    wait_condition(
        &client,
        node,
        "TestProblem",
        "True",
        Duration::from_secs(20),
    )
    .await;
    agent.stop().await;
    std::fs::write(dir.path().join("slow"), "").unwrap();
    let agent2 = run_agent(agent_options(
        &client,
        node,
        &script,
        Duration::from_millis(500),
    ))
    .await;
    let until = Instant::now() + Duration::from_secs(4);
    let mut beats = 0;
    while Instant::now() < until {
        let c = condition(&client, node, "TestProblem").await.unwrap();
        assert_eq!(
            c.status, "True",
            "restarted agent flapped the condition: {c:?}"
        );
        beats += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(beats > 10);
    assert_kubelet_ready_untouched(&client, node).await;
    agent2.stop().await;
}
