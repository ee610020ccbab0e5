//! The seeds' stories for real: workloads that fail on a real node (containerd, runc, kubelet),
//! diagnosed live by `kubemedic diagnose -A` from what the real kubelet reports (statuses,
//! events, the previous container's logs), then through `collect` and `--dump` with the same
//! causes; and a node whose containerd is stopped.
//!
//! Nothing here is written by the test except the workloads' specs: every status, event and
//! log line comes from the kubelet, containerd and the programs themselves.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::Api;
use kube::api::{ListParams, PostParams};
use kubemedic_testbed::{NodeComponent, Options, Testbed, Workload, images};
use serde_json::{Value, json};
use support::kubemedic;

const NS: &str = "shop";

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
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A Deployment of one replica on `node` whose pod runs `container` (named `app`).
fn deployment(name: &str, node: &str, mut container: Value, volumes: Value) -> Value {
    container["name"] = "app".into();
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                         "terminationGracePeriodSeconds": 1,
                         "containers": [container], "volumes": volumes}}}
    })
}

/// The first (most likely) cause found for the pods of Deployment `app`, or for the object.
fn cause_of(report: &Value, app: &str) -> Option<String> {
    report["findings"].as_array()?.iter().find_map(|f| {
        let name = f["object"]["name"].as_str().unwrap_or_default();
        let hit = name == app
            || name.starts_with(&format!("{app}-"))
            || f["affected"].as_array().is_some_and(|a| {
                a.iter().any(|o| {
                    o["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(&format!("{app}-")))
                })
            });
        hit.then(|| f["cause"].as_str().unwrap_or_default().to_string())
    })
}

fn finding_for<'a>(report: &'a Value, app: &str, cause: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["cause"] == cause
                && f["object"]["name"]
                    .as_str()
                    .is_some_and(|n| n == app || n.starts_with(&format!("{app}-")))
        })
        .unwrap_or_else(|| panic!("no {cause} finding for {app}: {report:#}"))
}

fn evidence_text(finding: &Value) -> String {
    finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "[{}] {}\n",
                e["source"].as_str().unwrap_or_default(),
                e["text"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn causes(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["cause"].as_str().unwrap().to_string(),
                format!(
                    "{}/{}",
                    f["object"]["kind"].as_str().unwrap(),
                    f["object"]["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

fn diagnose_json(args: &[&str]) -> Value {
    let (code, out, err) = kubemedic(args);
    assert!(
        code == 0 || code == 1,
        "kubemedic {args:?} exited {code}: {err}\n{out}"
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
}

/// The status of the first pod of `app`, as JSON.
async fn pod_status(pods: &Api<Pod>, app: &str) -> Option<Value> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .ok()?;
    let pod = list.items.into_iter().next()?;
    serde_json::to_value(pod.status?).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_workloads_on_a_real_node_are_diagnosed_live_and_from_a_dump() {
    let Some(bin) = Testbed::binaries().await else {
        return;
    };
    let mut node_images = vec![images::busybox().unwrap()];
    for which in Workload::ALL {
        node_images.push(images::workload(&bin, which).unwrap());
    }
    // Two nodes: the workloads on real-node-0, containerd stopped on real-node-1.
    let Some(tb) = Testbed::start(Options {
        controllers: true,
        real_nodes: 2,
        node_images,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let client = tb.client();
    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap(),
        )
        .await
        .unwrap();
    let workers = tb.real_nodes()[0].name().to_string();
    let config_map = |name: &str, data: Value| -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": NS}, "data": data})
    };
    let objects = [
        // The pod-restarts seed: a Go service that panics, exit code 2, restarting.
        deployment(
            "iot-gateway",
            &workers,
            json!({"image": Workload::Panic.image_name()}),
            json!([]),
        ),
        // A config file the program rejects: exit 1 naming the field.
        config_map(
            "billing-api-config",
            json!({"config.yaml": "database_url: postgres://billing@db:5432/billing\nport: eighty\n"}),
        ),
        deployment(
            "billing-api",
            &workers,
            json!({"image": Workload::BadConfig.image_name(),
                   "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]}),
            json!([{"name": "config", "configMap": {"name": "billing-api-config"}}]),
        ),
        // Over its memory limit.
        deployment(
            "report-builder",
            &workers,
            json!({"image": Workload::Oom.image_name(),
                   "resources": {"limits": {"memory": "32Mi"}, "requests": {"memory": "32Mi"}}}),
            json!([]),
        ),
        // A command that is not in the image.
        deployment(
            "web",
            &workers,
            json!({"image": "busybox:1.36", "command": ["/app/server", "--port=8080"]}),
            json!([]),
        ),
        // An image from a registry that does not exist.
        deployment(
            "api",
            &workers,
            json!({"image": "registry.example.invalid/shop/api:1.4.0"}),
            json!([]),
        ),
        // A ConfigMap nobody created.
        deployment(
            "checkout",
            &workers,
            json!({"image": Workload::Serve.image_name(),
                   "envFrom": [{"configMapRef": {"name": "checkout-config"}}]}),
            json!([]),
        ),
    ];
    let created = Instant::now();
    for object in &objects {
        let params = PostParams::default();
        if object["kind"] == "Deployment" {
            Api::<Deployment>::namespaced(client.clone(), NS)
                .create(&params, &serde_json::from_value(object.clone()).unwrap())
                .await
                .unwrap();
        } else {
            Api::<ConfigMap>::namespaced(client.clone(), NS)
                .create(&params, &serde_json::from_value(object.clone()).unwrap())
                .await
                .unwrap();
        }
    }

    // Wait until the kubelet has reported what each story needs (real timings: a crashed
    // container restarts after 10 s, CrashLoopBackOff shows only at the kubelet's next sync).
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let last_terminated = |s: &Value| s["containerStatuses"][0]["lastState"]["terminated"].clone();
    let waiting_reason = |s: &Value| {
        s["containerStatuses"][0]["state"]["waiting"]["reason"]
            .as_str()
            .map(str::to_string)
    };
    let timeout = Duration::from_secs(180);
    wait_for("iot-gateway restarted after exit 2", timeout, || async {
        let s = pod_status(&pods, "iot-gateway").await?;
        (last_terminated(&s)["exitCode"] == 2).then_some(())
    })
    .await;
    wait_for("billing-api restarted after exit 1", timeout, || async {
        let s = pod_status(&pods, "billing-api").await?;
        (last_terminated(&s)["exitCode"] == 1).then_some(())
    })
    .await;
    wait_for("report-builder OOMKilled", timeout, || async {
        let s = pod_status(&pods, "report-builder").await?;
        (last_terminated(&s)["reason"] == "OOMKilled").then_some(())
    })
    .await;
    wait_for("web failing to start", timeout, || async {
        let s = pod_status(&pods, "web").await?;
        let text = s.to_string();
        text.contains("no such file or directory").then_some(())
    })
    .await;
    wait_for("api failing to pull", timeout, || async {
        let s = pod_status(&pods, "api").await?;
        matches!(
            waiting_reason(&s).as_deref(),
            Some("ErrImagePull" | "ImagePullBackOff")
        )
        .then_some(())
    })
    .await;
    wait_for("checkout missing its ConfigMap", timeout, || async {
        let s = pod_status(&pods, "checkout").await?;
        (waiting_reason(&s).as_deref() == Some("CreateContainerConfigError")).then_some(())
    })
    .await;
    // The kubelet's back-off before the next restart: the event the seed's operators missed
    // because Events expire after an hour.
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), NS);
    wait_for(
        "the kubelet's BackOff event for iot-gateway",
        timeout,
        || async {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some("BackOff")
                        && e.involved_object
                            .name
                            .as_deref()
                            .is_some_and(|n| n.starts_with("iot-gateway-"))
                })
                .then_some(())
        },
    )
    .await;
    eprintln!(
        "every story reported by the kubelet after {:?}",
        created.elapsed()
    );

    // Live diagnosis of the whole cluster.
    let live = diagnose_json(&["diagnose", "-A", "--kubeconfig", &kubeconfig, "-o", "json"]);
    let expected: BTreeMap<&str, &str> = [
        ("iot-gateway", "AppPanic"),
        ("billing-api", "ConfigError"),
        ("report-builder", "OOMKilled"),
        ("web", "CommandNotFound"),
        ("api", "RegistryUnreachable"),
        ("checkout", "MissingConfigOrSecret"),
    ]
    .into();
    let mut wrong = Vec::new();
    for (app, cause) in &expected {
        let got = cause_of(&live, app);
        if got.as_deref() != Some(cause) {
            wrong.push(format!("{app}: expected {cause}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}\n{live:#}");

    // The seed's story: the goroutine trace from the previous container's logs and the
    // kubelet's own events are the evidence.
    let panic = evidence_text(finding_for(&live, "iot-gateway", "AppPanic"));
    assert!(panic.contains("goroutine 1 [running]"), "{panic}");
    assert!(panic.contains("panic: runtime error"), "{panic}");
    assert!(panic.contains("main.process("), "the top frame: {panic}");
    assert!(panic.contains("exitCode=2"), "{panic}");
    assert!(
        panic.contains("[event BackOff] Back-off restarting failed container app"),
        "the kubelet's event: {panic}"
    );
    let config = evidence_text(finding_for(&live, "billing-api", "ConfigError"));
    assert!(config.contains("field port"), "{config}");
    let command = evidence_text(finding_for(&live, "web", "CommandNotFound"));
    assert!(command.contains("/app/server"), "{command}");
    let missing = evidence_text(finding_for(&live, "checkout", "MissingConfigOrSecret"));
    assert!(missing.contains("checkout-config"), "{missing}");

    // collect → dump → diagnose: the same causes.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let (code, out, err) = kubemedic(&[
        "collect",
        dump.to_str().unwrap(),
        "-A",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The crash trace is in the dump: in previous-logs.txt while the pod waits in
    // CrashLoopBackOff, in logs.txt while it shows Error (the dead instance is the current one
    // and the kubelet has already removed the one before: `--previous` has nothing then).
    let pod_files: Vec<(String, String)> = std::fs::read_dir(dump.join(NS))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("iot-gateway-"))
        .flat_map(|e| std::fs::read_dir(e.path()).unwrap().flatten())
        .map(|f| {
            (
                f.path().display().to_string(),
                std::fs::read_to_string(f.path()).unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        pod_files
            .iter()
            .any(|(_, text)| text.contains("goroutine 1 [running]")),
        "no crash trace in the dump: {pod_files:#?}\ncollect: {out}"
    );
    let from_dump = diagnose_json(&["diagnose", "--dump", dump.to_str().unwrap(), "-o", "json"]);
    let live_ours: BTreeSet<_> = causes(&live)
        .into_iter()
        .filter(|(_, o)| expected.keys().any(|app| o.contains(&format!("/{app}"))))
        .collect();
    let dump_ours: BTreeSet<_> = causes(&from_dump)
        .into_iter()
        .filter(|(_, o)| expected.keys().any(|app| o.contains(&format!("/{app}"))))
        .collect();
    assert_eq!(
        live_ours, dump_ours,
        "live:\n{live:#}\ndump:\n{from_dump:#}"
    );

    // A node whose containerd is stopped: the kubelet reports the runtime down, the
    // diagnosis names the runtime.
    let broken = &tb.real_nodes()[1];
    broken.stop(NodeComponent::Containerd).await;
    let stopped = Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    let message = wait_for(
        "the kubelet to report the runtime down",
        Duration::from_secs(120),
        || async {
            let n = nodes.get(broken.name()).await.ok()?;
            let ready = n
                .status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "Ready")?;
            (ready.status == "False").then(|| ready.message.unwrap_or_default())
        },
    )
    .await;
    eprintln!(
        "containerd stopped → Node NotReady after {:?}: {message}",
        stopped.elapsed()
    );
    assert!(message.contains("container runtime is down"), "{message}");
    let node_report = diagnose_json(&[
        "diagnose",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
        &format!("node/{}", broken.name()),
    ]);
    let finding = finding_for(&node_report, broken.name(), "RuntimeUnresponsive");
    assert!(
        evidence_text(finding).contains("container runtime is down"),
        "{node_report:#}"
    );
    assert_eq!(
        cause_of(&node_report, broken.name()).as_deref(),
        Some("RuntimeUnresponsive"),
        "the runtime is the node's first finding: {node_report:#}"
    );
    broken.start_containerd().await.unwrap();
}
