//! kubemedic installed on a real node the way a user installs it: the image built by
//! `deploy/image/build-rootfs` (the Dockerfile's build stage) with `deploy/image/config.json`,
//! loaded into the node's containerd, and the chart installed with `helm install`. Then: the
//! agent pod runs on the real kubelet; a line written to the real `/dev/kmsg` becomes a
//! NodeCondition and an Event; the agent's facts and node logs reach `collect` through the pod
//! proxy; the agent's permissions are what `kubectl auth can-i --list` says they should be;
//! `helm upgrade` replaces the agent without the condition flapping; `helm uninstall` leaves
//! nothing of the release.
//!
//! The chart's network prober is on (`probe.enabled=true`): its pod runs in the real node's pod
//! network next to two real CoreDNS replicas behind `kube-system/kube-dns` (one answers, one drops
//! every query), serves `/probes` and kubenurse-named metrics through the pod proxy, and `diagnose`
//! names the silent replica from the prober's results.
//!
//! The kernel monitor is the chart's inline-config route with a per-run pattern: /dev/kmsg is
//! the whole machine's, so a default rule would also fire in other tests' agents, and lines
//! earlier runs left in the ring would set it before the test writes anything.
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use deploy::{chart, helm_run, repo, run};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod, Service};
use kube::api::{Api, ListParams, PostParams};
use kubemedic_testbed::{Image, Options, Testbed, images};
use serde_json::{Value, json};

const NS: &str = "kubemedic";
const CONDITION: &str = "KubemedicE2EProbe";
/// The name the test's DNS replicas answer for the prober's "external" lookups.
const DNS_EXTERNAL: &str = "probe.example.org";
/// The image of the test's CoreDNS replicas.
const COREDNS_IMAGE: &str = "registry.k8s.io/coredns/coredns:kubemedic-e2e";

async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The image a user builds with deploy/Dockerfile, without Docker: build-rootfs's static
/// binary and the image config the Dockerfile's final stage sets, named as the chart names it.
fn kubemedic_image(scratch: &Path) -> Image {
    let rootfs = scratch.join("rootfs");
    let mut cmd = Command::new(repo().join("deploy/image/build-rootfs"));
    cmd.arg(&rootfs)
        .args(["--profile", "dev"])
        // Shared with deploy_artifacts' build of the same script: one musl build per checkout.
        .env("CARGO_TARGET_DIR", repo().join("target/deploy-image"));
    let (code, _, err) = run(cmd, Duration::from_secs(60 * 60));
    assert_eq!(code, 0, "build-rootfs failed:\n{err}");
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/image/config.json")).unwrap(),
    )
    .unwrap();
    let chart_yaml = std::fs::read_to_string(chart().join("Chart.yaml")).unwrap();
    let app_version = chart_yaml
        .lines()
        .find_map(|l| l.strip_prefix("appVersion:"))
        .unwrap()
        .trim()
        .trim_matches('"')
        .to_string();
    let entrypoint: Vec<String> =
        serde_json::from_value(config["config"]["Entrypoint"].clone()).unwrap();
    let mut image = images::kubemedic(
        &format!("docker.io/library/kubemedic:{app_version}"),
        &rootfs.join("kubemedic"),
    )
    .unwrap()
    .entrypoint(entrypoint);
    for var in config["config"]["Env"].as_array().into_iter().flatten() {
        let (name, value) = var.as_str().unwrap().split_once('=').unwrap();
        if name != "PATH" {
            image = image.env(name, value);
        }
    }
    image
}

/// Chart values: the test's own kernel monitor (a per-run pattern), nothing else changed.
fn values(nonce: &str) -> String {
    let monitor = json!({
        "plugin": "kmsg", "logPath": "/dev/kmsg", "lookback": "5m", "bufferSize": 10,
        "source": "kernel-monitor",
        "conditions": [{"type": CONDITION, "reason": "ProbeClear", "message": "probe clear",
                        "recoveryPattern": format!("kubemedic-e2e-{nonce} clear")}],
        "rules": [{"type": "permanent", "condition": CONDITION, "reason": "ProbeSet",
                   "pattern": format!("kubemedic-e2e-{nonce} set: .*")}]
    });
    json!({"agent": {"monitors": {
        "files": {"e2e-kernel-monitor.json": monitor.to_string()},
        "systemLogMonitors": ["e2e-kernel-monitor.json"]}},
        // The prober, quicker than its 5 s default so the test waits less; the external name
        // is one the test's DNS replicas answer themselves (no upstream here).
        "probe": {"enabled": true, "interval": "2s", "dnsExternalName": DNS_EXTERNAL}})
    .to_string()
}

async fn condition(nodes: &Api<Node>, node: &str) -> Option<Value> {
    let n = nodes.get(node).await.ok()?;
    n.status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == CONDITION)
        .map(|c| serde_json::to_value(c).unwrap())
}

async fn agent_pod(pods: &Api<Pod>) -> Option<Pod> {
    ready_pod(pods, "kubemedic-agent").await
}

/// A Ready pod (not being deleted) labelled `app.kubernetes.io/name=<name>`.
async fn ready_pod(pods: &Api<Pod>, name: &str) -> Option<Pod> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={name}")))
        .await
        .ok()?;
    list.items.into_iter().find(|p| {
        p.metadata.deletion_timestamp.is_none()
            && p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
    })
}

/// Two real CoreDNS replicas as the cluster DNS (`kube-system/kube-dns`, as the chart's
/// `probe.dnsService` expects): `coredns-ok` answers the prober's names, `coredns-silent` drops
/// every query.
async fn cluster_dns(client: &kube::Client, node: &str) {
    let configs: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let ok = format!(
        ".:53 {{\n  hosts {{\n    10.0.0.1 kubernetes.default.svc.cluster.local {DNS_EXTERNAL}\n  }}\n}}\n"
    );
    let silent = ".:53 {\n  erratic {\n    drop 1\n  }\n}\n";
    configs
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "coredns-e2e"},
                "data": {"ok": ok, "silent": silent}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), "kube-system");
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
                "spec": {"selector": {"k8s-app": "kube-dns"}, "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    for which in ["ok", "silent"] {
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": format!("coredns-{which}"), "labels": {"k8s-app": "kube-dns"}},
                "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [{
                    "name": "coredns", "image": COREDNS_IMAGE, "imagePullPolicy": "Never",
                    "args": ["-conf", "/etc/coredns/Corefile"],
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}]}],
                    "volumes": [{"name": "config", "configMap": {"name": "coredns-e2e",
                        "items": [{"key": which, "path": "Corefile"}]}}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    }
}

/// GET through the apiserver's pod proxy: the body, or `None` on any error.
async fn proxy_get(client: &kube::Client, pod: &str, port: u16, path: &str) -> Option<String> {
    let req = http::Request::get(format!(
        "/api/v1/namespaces/{NS}/pods/{pod}:{port}/proxy{path}"
    ))
    .body(Vec::new())
    .ok()?;
    client.request_text(req).await.ok()
}

/// The service-account token the kubelet projected into the agent pod (`pod_uid`), read
/// inside the node (the projected volume is a tmpfs mounted in the node's mount namespace).
async fn agent_token(node: &kubemedic_testbed::RealNode, pod_uid: &str) -> String {
    let script =
        format!("cat /var/lib/kubelet/pods/{pod_uid}/volumes/kubernetes.io~projected/*/token");
    node.exec(&["sh", "-c", &script]).await.unwrap()
}

/// A client authenticating with `token` (and trusting the testbed's CA).
async fn token_client(tb: &Testbed, token: &str, scratch: &Path) -> kube::Client {
    let path = scratch.join("agent.kubeconfig");
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": tb.server_url(),
                      "certificate-authority": tb.ca_cert_path()}}],
        "users": [{"name": "agent", "user": {"token": token.trim()}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "agent"}}],
        "current-context": "c",
    });
    std::fs::write(&path, config.to_string()).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn kubectl(bin: &Path, kubeconfig: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(bin.join("kubectl"));
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    run(cmd, Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_with_helm_on_a_real_node() {
    if !Testbed::real_nodes_supported().await {
        return;
    }
    let Some(helm) = deploy::helm().await else {
        return;
    };
    let bin = Testbed::binaries().await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let image = kubemedic_image(scratch.path());
    let Some(coredns) = kubemedic_testbed::netlab::coredns_binary() else {
        return;
    };
    let coredns = Image::new(COREDNS_IMAGE)
        .file("/coredns", &coredns, 0o755)
        .unwrap()
        .entrypoint(["/coredns"]);
    let tb = Testbed::start(Options {
        controllers: true,
        real_nodes: 1,
        node_images: vec![image, coredns],
        ..Default::default()
    })
    .await
    .unwrap();
    let node = tb.real_node().name().to_string();
    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let client = tb.client();
    let nonce = format!(
        "{:x}{:x}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    );
    let values_file = scratch.path().join("values.json");
    std::fs::write(&values_file, values(&nonce)).unwrap();

    cluster_dns(&client, &node).await;

    // helm install, as docs/install.md says (with the prober on).
    let chart = chart();
    let (code, out, err) = helm_run(
        &helm,
        &[
            "install",
            "kubemedic",
            chart.to_str().unwrap(),
            "--namespace",
            NS,
            "--create-namespace",
            "--kubeconfig",
            &kubeconfig,
            "-f",
            values_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "helm install: {out}\n{err}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let started = Instant::now();
    let agent = wait_for(
        "the agent pod Ready on the real node",
        Duration::from_secs(180),
        || agent_pod(&pods),
    )
    .await;
    eprintln!(
        "helm install → agent Ready on the real node: {:?}",
        started.elapsed()
    );
    assert_eq!(
        agent.spec.as_ref().unwrap().node_name.as_deref(),
        Some(node.as_str())
    );

    // A real /dev/kmsg line becomes a NodeCondition and an Event on that Node.
    let nodes: Api<Node> = Api::all(client.clone());
    {
        let _devkmsg = kubemedic_agent::devkmsg::DevKmsgGuard::acquire().unwrap();
        let written = Instant::now();
        kubemedic_agent::devkmsg::write_line(
            4,
            &format!("kubemedic-e2e-{nonce} set: disk controller reset on sda"),
        )
        .unwrap();
        let set = wait_for(
            "the condition set from /dev/kmsg",
            Duration::from_secs(30),
            || async {
                let c = condition(&nodes, &node).await?;
                (c["status"] == "True").then_some(c)
            },
        )
        .await;
        eprintln!(
            "/dev/kmsg write → NodeCondition {CONDITION}=True on the apiserver: {:?}",
            written.elapsed()
        );
        assert_eq!(set["reason"], "ProbeSet", "{set}");
        assert!(
            set["message"]
                .as_str()
                .unwrap()
                .contains("disk controller reset on sda"),
            "{set}"
        );
    }
    let events: Api<Event> = Api::all(client.clone());
    wait_for(
        "the agent's Event about the Node",
        Duration::from_secs(30),
        || async {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some("ProbeSet")
                        && e.involved_object.kind.as_deref() == Some("Node")
                        && e.involved_object.name.as_deref() == Some(node.as_str())
                })
                .then_some(())
        },
    )
    .await;

    // The agent's facts and node logs reach collect (and diagnose) through the pod proxy.
    let dump = scratch.path().join("dump");
    let (code, out, err) = support::kubemedic(&[
        "collect",
        dump.to_str().unwrap(),
        "-A",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["node_facts"], 1, "{summary:#}");
    let node_dir = dump.join("_nodes").join(&node);
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(node_dir.join("facts.json")).unwrap())
            .unwrap();
    assert!(
        facts.is_object() && !facts.as_object().unwrap().is_empty(),
        "{facts}"
    );
    let kernel = std::fs::read_to_string(node_dir.join("kernel.log")).unwrap_or_default();
    assert!(
        kernel.contains(&format!("kubemedic-e2e-{nonce} set")),
        "the agent's kernel log served at /logs/kernel: {kernel}"
    );
    let (code, out, err) =
        support::kubemedic(&["diagnose", "-A", "--kubeconfig", &kubeconfig, "-o", "json"]);
    assert!(code == 0 || code == 1, "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let skipped = report["summary"]["skipped"].to_string();
    assert!(
        !skipped.contains(&format!("facts of {node}"))
            && !skipped.contains("no running kubemedic agent"),
        "diagnose read the agent: {skipped}"
    );

    // The prober runs in the pod network, serves /probes and kubenurse's metrics, and names the
    // silent DNS replica; diagnose quotes it.
    let prober = wait_for(
        "the prober pod Ready on the real node",
        Duration::from_secs(180),
        || ready_pod(&pods, "kubemedic-probe"),
    )
    .await;
    let prober_name = prober.metadata.name.clone().unwrap();
    let port = 20258;
    let started = Instant::now();
    let probes: Value = wait_for(
        "the prober naming the silent DNS replica",
        Duration::from_secs(120),
        || async {
            let body = proxy_get(&client, &prober_name, port, "/probes").await?;
            let v: Value = serde_json::from_str(&body).ok()?;
            v["faults"]
                .as_array()?
                .iter()
                .any(|f| f["kind"] == "DNSPartialFailure")
                .then_some(v)
        },
    )
    .await;
    eprintln!(
        "prober Ready → DNSPartialFailure in /probes: {:?}",
        started.elapsed()
    );
    assert_eq!(probes["node"], node.as_str(), "{probes:#}");
    let replicas = probes["dns"].as_array().unwrap();
    let replica = |pod: &str| {
        replicas
            .iter()
            .find(|d| d["pod"] == pod)
            .unwrap_or_else(|| panic!("no replica {pod} in {probes:#}"))
    };
    assert_eq!(replica("coredns-ok")["ok"], true, "{probes:#}");
    assert_eq!(replica("coredns-silent")["ok"], false, "{probes:#}");
    let direct = probes["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "api_server_direct")
        .unwrap_or_else(|| panic!("no api_server_direct check: {probes:#}"));
    assert_eq!(
        direct["ok"], true,
        "the apiserver through its ClusterIP: {direct}"
    );
    let metrics = proxy_get(&client, &prober_name, port, "/metrics")
        .await
        .unwrap();
    for want in [
        "kubenurse_httpclient_requests_total{type=\"api_server_direct\",code=\"200\"}",
        "kubenurse_httpclient_request_duration_seconds_bucket{le=\"0.005\",type=\"api_server_direct\"}",
        "kubenurse_httpclient_trace_request_duration_seconds_bucket{",
        "kubenurse_neighbourhood_incoming_checks ",
        "kubemedic_probe_fault{kind=\"DNSPartialFailure\",subject=\"cluster-dns\"} 1",
    ] {
        assert!(
            metrics.contains(want),
            "the prober's metrics lack {want}:\n{metrics}"
        );
    }
    let (code, out, err) =
        support::kubemedic(&["diagnose", "-A", "--kubeconfig", &kubeconfig, "-o", "json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let dns: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"] == "DNSPartialFailure")
        .collect();
    assert_eq!(dns.len(), 1, "{report:#}");
    assert!(
        dns[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("1 of 2 DNS replicas fail (coredns-silent)"),
        "{:#}",
        dns[0]
    );
    assert!(
        dns[0]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == format!("probes from node {node}")
                && e["text"].as_str().unwrap().contains("(coredns-silent on ")),
        "{:#}",
        dns[0]
    );
    assert!(
        !report["summary"]["skipped"]
            .to_string()
            .contains("network probe results"),
        "{report:#}"
    );

    // The agent may do what its role needs and nothing more.
    let who = "--as=system:serviceaccount:kubemedic:kubemedic-agent";
    let (code, list, err) = kubectl(
        &bin,
        &kubeconfig,
        &["auth", "can-i", "--list", who, "-n", "default"],
    );
    assert_eq!(code, 0, "{err}");
    let rules: Vec<Vec<String>> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    let verbs_on = |resource: &str| -> String {
        rules
            .iter()
            .filter(|r| r.first().map(String::as_str) == Some(resource))
            .map(|r| r[1..].join(" "))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert_eq!(verbs_on("nodes"), "[] [] [get]", "{list}");
    assert_eq!(verbs_on("nodes/status"), "[] [] [patch]", "{list}");
    assert_eq!(verbs_on("events"), "[] [] [create patch]", "{list}");
    for forbidden in ["secrets", "configmaps", "pods", "*.*"] {
        assert_eq!(
            verbs_on(forbidden),
            "",
            "the agent must not touch {forbidden}: {list}"
        );
    }
    for (verb, what, ns) in [
        ("get", "secrets", "kube-system"),
        ("list", "secrets", NS),
        ("patch", "nodes", ""),
        ("delete", "nodes", ""),
        ("create", "pods", NS),
    ] {
        let mut args = vec!["auth", "can-i", verb, what, who];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        let (code, answer, _) = kubectl(&bin, &kubeconfig, &args);
        assert_eq!((code, answer.trim()), (1, "no"), "can-i {verb} {what}");
    }

    // RBAC allows nodes/status on any Node; the chart's admission policy narrows it to the
    // agent's own. Checked with the real token the kubelet gave the agent's pod.
    let token = agent_token(tb.real_node(), agent.metadata.uid.as_deref().unwrap()).await;
    let as_agent = token_client(&tb, &token, scratch.path()).await;
    let other = "kwok-like-node-7";
    nodes
        .create(
            &Default::default(),
            &serde_json::from_value(json!({"metadata": {"name": other}})).unwrap(),
        )
        .await
        .unwrap();
    let patch = || {
        let now = jiff::Timestamp::now().to_string();
        json!({"status": {"conditions": [{"type": "KubemedicE2EOther", "status": "True",
            "reason": "Forged", "message": "written with the agent's token",
            "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
        .to_string()
    };
    let agent_nodes: Api<Node> = Api::all(as_agent);
    let denied = agent_nodes
        .patch_status(
            other,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(serde_json::from_str::<Value>(&patch()).unwrap()),
        )
        .await
        .expect_err("the agent's token must not write another Node's status");
    assert!(
        denied
            .to_string()
            .contains("may only write the status of the Node its pod runs on"),
        "{denied}"
    );
    agent_nodes
        .patch_status(
            &node,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(serde_json::from_str::<Value>(&patch()).unwrap()),
        )
        .await
        .expect("its own Node's status it may write");

    // helm upgrade replaces the agent pod; the condition it set stays True throughout.
    let before = condition(&nodes, &node).await.unwrap();
    let old_uid = agent.metadata.uid.clone();
    let (code, out, err) = helm_run(
        &helm,
        &[
            "upgrade",
            "kubemedic",
            chart.to_str().unwrap(),
            "--namespace",
            NS,
            "--kubeconfig",
            &kubeconfig,
            "-f",
            values_file.to_str().unwrap(),
            "--set",
            "agent.logLevel=debug",
        ],
    );
    assert_eq!(code, 0, "helm upgrade: {out}\n{err}");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let c = condition(&nodes, &node).await.unwrap();
        assert_eq!(
            c["status"], "True",
            "the condition flapped during the upgrade: {c}"
        );
        assert_eq!(c["lastTransitionTime"], before["lastTransitionTime"], "{c}");
        if agent_pod(&pods)
            .await
            .is_some_and(|p| p.metadata.uid != old_uid)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the upgraded agent never became Ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The new agent has read the Node and resumed: still True, same transition.
    let after = condition(&nodes, &node).await.unwrap();
    assert_eq!(after["status"], "True", "{after}");
    assert_eq!(
        after["lastTransitionTime"], before["lastTransitionTime"],
        "{after}"
    );

    // helm uninstall leaves nothing of the release.
    let (code, out, err) = helm_run(
        &helm,
        &[
            "uninstall",
            "kubemedic",
            "--namespace",
            NS,
            "--kubeconfig",
            &kubeconfig,
            "--wait",
        ],
    );
    assert_eq!(code, 0, "helm uninstall: {out}\n{err}");
    wait_for("the agent pod gone", Duration::from_secs(120), || async {
        let list = pods.list(&ListParams::default()).await.ok()?;
        list.items.is_empty().then_some(())
    })
    .await;
    let (code, left, err) = kubectl(
        &bin,
        &kubeconfig,
        &[
            "get",
            "all,configmaps,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings",
            "-A",
            "-l",
            "app.kubernetes.io/instance=kubemedic",
            "-o",
            "name",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(left.trim(), "", "left after helm uninstall");
}

/// Requests the apiserver logged in its audit log between `from` and `to` that `matches`.
fn audited(
    log: &Path,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
    matches: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseComplete")
        .filter(|e| {
            e["requestReceivedTimestamp"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| t >= from && t < to)
        })
        .filter(|e| matches(e))
        .collect()
}

fn summarize(who: &str, requests: &[Value], minutes: f64) -> f64 {
    let per_minute = requests.len() as f64 / minutes;
    let mut by_verb: std::collections::BTreeMap<String, usize> = Default::default();
    for r in requests {
        let uri = r["requestURI"].as_str().unwrap_or("");
        let path = uri.split('?').next().unwrap_or("");
        let kind = path
            .rsplit('/')
            .find(|s| ["status", "events", "nodes", "leases"].contains(s))
            .unwrap_or(path);
        *by_verb
            .entry(format!("{} {kind}", r["verb"].as_str().unwrap_or("?")))
            .or_default() += 1;
    }
    println!(
        "{who}: {} requests in {minutes:.1} min = {per_minute:.2} per node per minute; x 5,000 nodes = {:.0} per minute ({:.1}/s); by verb: {by_verb:?}",
        requests.len(),
        per_minute * 5000.0,
        per_minute * 5000.0 / 60.0
    );
    per_minute
}

/// Benchmark, not a test (`bench/agent-api-rate.sh`): the apiserver requests per node per minute
/// of the kubemedic agent installed by the chart on the real node (default monitors), then of
/// node-problem-detector (NPD_BIN, NPD's reference kmsg configs, its Kubernetes exporter on) for the
/// same Node, each over KUBEMEDIC_BENCH_MINUTES (default 10) after a minute of settling, counted
/// from the apiserver's audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/agent-api-rate.sh"]
async fn agent_api_request_rate() {
    let minutes: u64 = std::env::var("KUBEMEDIC_BENCH_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    if !Testbed::real_nodes_supported().await {
        return;
    }
    let Some(helm) = deploy::helm().await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let image = kubemedic_image(scratch.path());
    let policy = scratch.path().join("audit-policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n\
         - level: Metadata\n  users: [\"system:serviceaccount:kubemedic:kubemedic-agent\"]\n\
         - level: Metadata\n  userGroups: [\"system:masters\"]\n\
         - level: None\n",
    )
    .unwrap();
    let audit = scratch.path().join("audit.log");
    let tb = Testbed::start(Options {
        controllers: true,
        real_nodes: 1,
        node_images: vec![image],
        apiserver_args: vec![
            format!("--audit-policy-file={}", policy.display()),
            format!("--audit-log-path={}", audit.display()),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let node = tb.real_node().name().to_string();
    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let chart = chart();
    let (code, out, err) = helm_run(
        &helm,
        &[
            "install",
            "kubemedic",
            chart.to_str().unwrap(),
            "--namespace",
            NS,
            "--create-namespace",
            "--kubeconfig",
            &kubeconfig,
        ],
    );
    assert_eq!(code, 0, "helm install: {out}\n{err}");
    let pods: Api<Pod> = Api::namespaced(tb.client(), NS);
    wait_for("the agent Ready", Duration::from_secs(180), || {
        agent_pod(&pods)
    })
    .await;
    let window = Duration::from_secs(60 * minutes);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let from = jiff::Timestamp::now();
    tokio::time::sleep(window).await;
    let to = jiff::Timestamp::now();
    let agent = audited(&audit, from, to, |e| {
        e["user"]["username"] == "system:serviceaccount:kubemedic:kubemedic-agent"
    });
    let minutes_f = window.as_secs_f64() / 60.0;
    summarize(
        "kubemedic agent (chart defaults, real node)",
        &agent,
        minutes_f,
    );
    let (code, out, err) = helm_run(
        &helm,
        &[
            "uninstall",
            "kubemedic",
            "--namespace",
            NS,
            "--kubeconfig",
            &kubeconfig,
            "--wait",
        ],
    );
    assert_eq!(code, 0, "helm uninstall: {out}\n{err}");

    let Some(npd) = std::env::var_os("NPD_BIN") else {
        println!(
            "node-problem-detector: not measured (set NPD_BIN; bench/agent-api-rate.sh builds it)"
        );
        return;
    };
    let configs = repo().join("../shared/npd");
    let monitors = [
        // The kmsg monitors: NPD built without cgo has no journald plugin (docker-monitor.json).
        "kernel-monitor.json",
        "readonly-monitor.json",
    ]
    .map(|f| configs.join(f).display().to_string())
    .join(",");
    let mut npd_cmd = Command::new(npd);
    kubemedic_testbed::child::die_with_test(kubemedic_testbed::child::reset_signals(&mut npd_cmd));
    let mut npd = npd_cmd
        .args([
            format!("--hostname-override={node}"),
            format!(
                "--apiserver-override={}?inClusterConfig=false&auth={kubeconfig}",
                tb.server_url()
            ),
            format!("--config.system-log-monitor={monitors}"),
            "--port=29261".to_string(),
            "--prometheus-port=29262".to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(scratch.path().join("npd.log")).unwrap())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    if let Ok(Some(status)) = npd.try_wait() {
        let log = std::fs::read_to_string(scratch.path().join("npd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        panic!("node-problem-detector exited ({status}): {tail:#?}");
    }
    let from = jiff::Timestamp::now();
    tokio::time::sleep(window).await;
    let to = jiff::Timestamp::now();
    let _ = npd.kill();
    let _ = kubemedic_testbed::child::wait(&mut npd, Duration::from_secs(30));
    let npd_requests = audited(&audit, from, to, |e| {
        e["userAgent"]
            .as_str()
            .is_some_and(|a| a.contains("node-problem-detector"))
    });
    summarize(
        "node-problem-detector (bench/agent-npd pin, reference configs)",
        &npd_requests,
        minutes_f,
    );
}
