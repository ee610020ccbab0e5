//! A real node joins the testbed: containerd, kubelet and kube-proxy in the node's own
//! namespaces register a Ready Node; pods from images packed without a registry run on it, get
//! an IP from the node's pod network, reach the apiserver through the `kubernetes` Service and
//! are reachable through the apiserver's pod proxy and `kubectl logs`.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use kubemedic_testbed::{Options, Testbed, images};

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
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_node_runs_pods_from_packed_images() {
    let Some(tb) = Testbed::start(Options {
        real_nodes: 1,
        node_images: vec![images::busybox().unwrap()],
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let node = tb.real_node();
    let t = node.start_timings();
    eprintln!("real node up: {t:?}");
    let client = tb.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.get(node.name()).await.unwrap();
    let addresses = n.status.as_ref().unwrap().addresses.clone().unwrap();
    assert!(
        addresses
            .iter()
            .any(|a| a.type_ == "InternalIP" && a.address == node.internal_ip().to_string()),
        "{addresses:?}"
    );

    // A pod that talks to the apiserver through the kubernetes Service (ClusterIP → kube-proxy
    // → the node's forwarder → the apiserver) and then serves a line on :8080.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "hello"},
        "spec": {
            "nodeName": node.name(),
            "containers": [{
                "name": "main", "image": "busybox:1.36",
                "command": ["sh", "-c",
                    "echo hello from $(hostname); \
                     if echo | nc -w 3 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT; then echo apiserver reachable; fi; \
                     while true; do echo -e 'HTTP/1.0 200 OK\\r\\n\\r\\nserved' | nc -l -p 8080; done"],
                "ports": [{"containerPort": 8080}],
            }],
        },
    }))
    .unwrap();
    let created = Instant::now();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let ip = wait_for("pod hello Running", Duration::from_secs(60), || async {
        let p = pods.get("hello").await.ok()?;
        let status = p.status?;
        (status.phase.as_deref() == Some("Running")).then_some(status.pod_ip?)
    })
    .await;
    eprintln!("pod create → Running: {:?}", created.elapsed());
    assert!(
        ip.starts_with(&format!("10.214.{}.", node.addresses().slot)),
        "{ip}"
    );

    let logs = wait_for("the pod's logs", Duration::from_secs(30), || async {
        let logs = pods.logs("hello", &Default::default()).await.ok()?;
        logs.contains("apiserver reachable").then_some(logs)
    })
    .await;
    assert!(logs.contains("hello from hello"), "{logs}");

    // The apiserver's pod proxy reaches the pod's IP through the node's link.
    let body = through_pod_proxy(&client, "the pod proxy").await;
    assert!(body.contains("served"), "{body}");

    // The node's `systemctl restart containerd`: a new containerd answers, the running pod is
    // untouched (its shim outlives containerd) and the node stays Ready.
    let argv = node.restart_runtime_command();
    let out = kubemedic_testbed::child::output(
        std::process::Command::new(&argv[0]).args(&argv[1..]),
        Duration::from_secs(90),
    )
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && said.contains("containerd restarted on real-node-0"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.check_running().unwrap();
    assert!(
        node.log_tail(kubemedic_testbed::NodeComponent::Containerd, 400)
            .contains("starting it again as asked"),
    );
    let body = through_pod_proxy(&client, "the pod proxy after the restart").await;
    assert!(body.contains("served"), "{body}");
    let restarts = pods
        .get("hello")
        .await
        .unwrap()
        .status
        .unwrap()
        .container_statuses
        .unwrap()[0]
        .restart_count;
    assert_eq!(restarts, 0, "the container survived the runtime restart");
}

/// What pod `hello` answers on :8080 through the apiserver's pod proxy (the node's link).
async fn through_pod_proxy(client: &kube::Client, what: &str) -> String {
    wait_for(what, Duration::from_secs(30), || async {
        let req = http::Request::get("/api/v1/namespaces/default/pods/hello:8080/proxy/")
            .body(Vec::new())
            .ok()?;
        client.request_text(req).await.ok()
    })
    .await
}

/// A pod on `node` with one container `main`.
fn pod(name: &str, node: &str, container: serde_json::Value) -> Pod {
    let mut container = container;
    container["name"] = "main".into();
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "containers": [container]},
    }))
    .unwrap()
}

/// The container `main`'s status, once `ready` says it is in the state sought.
async fn container_state(
    pods: &Api<Pod>,
    name: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_for(
        &format!("pod {name}'s container state"),
        Duration::from_secs(90),
        || async {
            let p = pods.get(name).await.ok()?;
            let status = serde_json::to_value(p.status?.container_statuses?.first()?).ok()?;
            ready(&status).then_some(status)
        },
    )
    .await
}

/// The workload images fail the ways they are meant to, on a real kubelet: what the diagnosis
/// tests rely on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_images_fail_the_seeds_ways() {
    let Some(bin) = Testbed::binaries().await else {
        return;
    };
    let mut node_images = vec![images::busybox().unwrap()];
    for which in kubemedic_testbed::Workload::ALL {
        node_images.push(images::workload(&bin, which).unwrap());
    }
    let Some(tb) = Testbed::start(Options {
        real_nodes: 1,
        node_images,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let node = tb.real_node().name().to_string();
    let pods: Api<Pod> = Api::namespaced(tb.client(), "default");
    use kubemedic_testbed::Workload;
    for (name, container) in [
        (
            "panic",
            serde_json::json!({"image": Workload::Panic.image_name(), "args": ["-after", "0s"]}),
        ),
        (
            "badconfig",
            serde_json::json!({"image": Workload::BadConfig.image_name()}),
        ),
        (
            "oom",
            serde_json::json!({"image": Workload::Oom.image_name(),
            "resources": {"limits": {"memory": "32Mi"}}}),
        ),
        (
            "wrongcmd",
            serde_json::json!({"image": "busybox:1.36", "command": ["/no/such/binary"]}),
        ),
        (
            "noimage",
            serde_json::json!({"image": "registry.example.invalid/shop/api:1.0"}),
        ),
    ] {
        pods.create(&PostParams::default(), &pod(name, &node, container))
            .await
            .unwrap();
    }

    let terminated = |s: &serde_json::Value| s["state"]["terminated"].is_object();
    let panic = container_state(&pods, "panic", terminated).await;
    assert_eq!(panic["state"]["terminated"]["exitCode"], 2, "{panic}");
    let logs = pods.logs("panic", &Default::default()).await.unwrap();
    assert!(
        logs.contains("panic: runtime error: invalid memory address"),
        "{logs}"
    );
    assert!(logs.contains("goroutine 1 [running]:"), "{logs}");

    let bad = container_state(&pods, "badconfig", terminated).await;
    assert_eq!(bad["state"]["terminated"]["exitCode"], 1, "{bad}");
    let logs = pods.logs("badconfig", &Default::default()).await.unwrap();
    assert!(
        logs.contains("cannot read config file /etc/app/config.yaml"),
        "{logs}"
    );

    let oom = container_state(&pods, "oom", terminated).await;
    assert_eq!(oom["state"]["terminated"]["reason"], "OOMKilled", "{oom}");
    assert_eq!(oom["state"]["terminated"]["exitCode"], 137, "{oom}");

    // runc's real words for a command that does not exist.
    let wrong = container_state(&pods, "wrongcmd", |s| {
        s["state"]["terminated"]["message"].is_string()
            || s["state"]["waiting"]["message"].is_string()
    })
    .await;
    assert!(
        wrong.to_string().contains(
            r#"exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory"#
        ),
        "{wrong}"
    );

    // No registry resolves inside the node: a real pull error.
    let missing = container_state(&pods, "noimage", |s| {
        s["state"]["waiting"]["message"].is_string()
    })
    .await;
    let reason = missing["state"]["waiting"]["reason"].as_str().unwrap();
    assert!(
        reason == "ErrImagePull" || reason == "ImagePullBackOff",
        "{missing}"
    );
    assert!(missing.to_string().contains("no such host"), "{missing}");
}
