//! Benchmark, ignored by default (about an hour on a busy 2-core machine, ~10 GiB of memory): a
//! cluster of 5,000 kwok nodes and 150,000 pods created through a real kube-apiserver + etcd,
//! then `kubemedic diagnose -A` against it. Prints, phase by phase, how long the creation took
//! and the apiserver's and etcd's memory, then diagnose's wall time and peak RSS.
//!
//! `bench/kwok-scale.sh` runs it (release build). Sizes: KUBEMEDIC_SCALE_NODES (5000),
//! KUBEMEDIC_SCALE_PODS (150000), KUBEMEDIC_SCALE_NAMESPACES (300), KUBEMEDIC_SCALE_RUNS (3; 0
//! skips diagnose).
//!
//! Reuse by other benchmarks (the script's `--then CMD` and `--keep`): with
//! KUBEMEDIC_SCALE_STATE_DIR=DIR the test writes `DIR/created` once every object exists (lines
//! `kubeconfig PATH`, `server URL`, `kube-apiserver PID`, `etcd PID`, `kwok PID`) and waits for
//! `DIR/continue` before diagnosing; with KUBEMEDIC_SCALE_KEEP=1 it then writes `DIR/finished`
//! and keeps the cluster up until `DIR/stop` exists. Each wait ends after
//! KUBEMEDIC_SCALE_HOLD_SECS (4 h) or when a control-plane process dies.
//!
//! The cluster is shaped like a real one: every node has its own /24 pod CIDR, kwok keeps the
//! 5,000 nodes Ready and renews their Leases (the load a kubelet per node puts on the apiserver),
//! pods belong to ReplicaSets of Deployments (10 apps per namespace) behind a ClusterIP Service
//! each and are bound to the nodes round-robin (as the scheduler binds them). Each pod's status
//! is written right after its creation, as the kubelet reports a started pod (the pods carry
//! kwok's "custom status" label, so kwok leaves them alone: its pod stage manages ~10 pods/s
//! under this load, hours for 150,000). 5% crash-loop with OOMKilled and carry the kubelet's
//! BackOff Event. No controllers run (they would fight over these objects).
#![allow(clippy::unwrap_used)]

#[path = "support/bench.rs"]
mod bench;

use bench::env_usize;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Peak and current resident memory of a process, MiB (VmHWM, VmRSS).
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Bytes of the regular files under `dir`.
fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn api(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
    plural: &str,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Runs `op` until it succeeds, retrying what an overloaded apiserver answers (429, 5xx,
/// timeouts) with backoff and counting the retries; 409 (exists) counts as done.
async fn retrying<F, Fut, T>(what: &str, retries: &AtomicUsize, op: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    for attempt in 1..=30u64 {
        match op().await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 409 => return,
            Err(kube::Error::Api(s)) if s.code != 429 && s.code < 500 => panic!("{what}: {s:?}"),
            Err(e) if attempt == 30 => panic!("{what}: {e}"),
            Err(_) => {
                retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
        }
    }
}

/// Creates every object, `concurrency` requests in flight; returns the number of retries.
async fn create_all(
    objects: impl IntoIterator<Item = (Api<DynamicObject>, Value)>,
    concurrency: usize,
) -> usize {
    let retries = AtomicUsize::new(0);
    futures::stream::iter(objects)
        .for_each_concurrent(concurrency, |(api, obj)| {
            let retries = &retries;
            async move {
                let obj: DynamicObject = serde_json::from_value(obj).unwrap();
                let what = format!("create {:?}", obj.metadata.name);
                let post = PostParams::default();
                retrying(&what, retries, || api.create(&post, &obj)).await;
            }
        })
        .await;
    retries.into_inner()
}

/// Waits until `file` exists, failing when the testbed dies or after the hold limit.
async fn hold_until(tb: &kubemedic_testbed::Testbed, file: &std::path::Path) {
    let limit = Duration::from_secs(env_usize("KUBEMEDIC_SCALE_HOLD_SECS", 4 * 3600) as u64);
    let deadline = Instant::now() + limit;
    while !file.exists() {
        if let Err(e) = tb.check_running() {
            panic!("the cluster died while waiting for {}: {e}", file.display());
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {limit:?} (KUBEMEDIC_SCALE_HOLD_SECS)",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Writes `contents` to `dir/name` atomically (a reader never sees half a file).
fn publish(dir: &std::path::Path, name: &str, contents: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// One line of progress, flushed at once (a long run that is stopped still leaves its figures).
fn phase(line: String) {
    use std::io::Write;
    println!("  {line}");
    let _ = std::io::stdout().flush();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 5,000 kwok nodes and 150,000 pods; run with bench/kwok-scale.sh"]
async fn scale_5000_nodes_150000_pods() {
    let nodes_n = env_usize("KUBEMEDIC_SCALE_NODES", 5000);
    let pods_n = env_usize("KUBEMEDIC_SCALE_PODS", 150_000);
    let ns_n = env_usize("KUBEMEDIC_SCALE_NAMESPACES", 300);
    let runs = env_usize("KUBEMEDIC_SCALE_RUNS", 3);
    let state_dir = std::env::var_os("KUBEMEDIC_SCALE_STATE_DIR").map(std::path::PathBuf::from);
    let keep = std::env::var("KUBEMEDIC_SCALE_KEEP").is_ok_and(|v| v == "1");
    let apps_per_ns = 10;
    let concurrency = 64;
    let apps_n = ns_n * apps_per_ns;
    let pods_per_app = pods_n.div_ceil(apps_n);
    let broken = |i: usize| i.is_multiple_of(20);
    let broken_n = (0..pods_n).filter(|i| broken(*i)).count();
    let broken_apps = (0..pods_n)
        .filter(|i| broken(*i))
        .map(|i| i / pods_per_app)
        .collect::<std::collections::HashSet<_>>()
        .len();
    println!(
        "kwok_scale: {nodes_n} kwok nodes, {pods_n} pods ({broken_n} crash-looping) in {ns_n} namespaces, {apps_n} Deployments/ReplicaSets/Services"
    );
    let Some(tb) = kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        controllers: false,
        kwok_nodes: 0,
        start_timeout: Duration::from_secs(180),
        apiserver_args: vec![
            // The default 400/200 in-flight limits turn a bulk load into 429s.
            "--max-requests-inflight=1000".to_string(),
            "--max-mutating-requests-inflight=500".to_string(),
            // One ClusterIP per app (3,000): the testbed's /24 holds 254.
            "--service-cluster-ip-range=10.96.0.0/16".to_string(),
        ],
        ..Default::default()
    })
    .await
    else {
        return;
    };
    // kwok, with no nodes yet: the nodes below carry their own pod CIDRs.
    tb.add_nodes(0).await.unwrap();
    let client = tb.client();
    let pid = |name: &str| {
        tb.pids()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no {name} process"))
    };
    let (apiserver_pid, etcd_pid, kwok_pid) = (pid("kube-apiserver"), pid("etcd"), pid("kwok"));
    let memory = || {
        let (a, _) = memory_mib(apiserver_pid);
        let (e, _) = memory_mib(etcd_pid);
        format!("kube-apiserver peak RSS {a:.0} MiB, etcd {e:.0} MiB")
    };

    // Nodes, until kwok reports every one Ready.
    let t = Instant::now();
    let nodes_api = api(&client, "v1", "Node", "nodes", None);
    let node_name = |i: usize| format!("node-{i:04}");
    let node_cidr = |i: usize| format!("10.{}.{}", 16 + i / 256, i % 256);
    let nodes = (0..nodes_n).map(|i| {
        (nodes_api.clone(), json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node_name(i),
                "annotations": {kubemedic_testbed::KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"kubernetes.io/hostname": node_name(i), "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                    "topology.kubernetes.io/zone": format!("zone-{}", i % 3), "node.kubernetes.io/instance-type": "m5.4xlarge"}},
            "spec": {"podCIDR": format!("{}.0/24", node_cidr(i)), "podCIDRs": [format!("{}.0/24", node_cidr(i))]},
            "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                       "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"}}
        }))
    });
    let node_retries = create_all(nodes, concurrency).await;
    let nodes_created = t.elapsed();
    let node_list: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let ready = node_list
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        if ready == nodes_n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ready} of {nodes_n} nodes Ready after 30 min"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    phase(format!(
        "nodes: {nodes_n} created in {:.1} s ({:.0}/s, {node_retries} retries), all Ready after {:.1} s; {}",
        nodes_created.as_secs_f64(),
        nodes_n as f64 / nodes_created.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        memory()
    ));

    // Namespaces, Deployments, ReplicaSets, Services.
    let t = Instant::now();
    let ns_name = |n: usize| format!("team-{n:03}");
    let app_of = |i: usize| {
        let app_index = i / pods_per_app;
        (
            ns_name(app_index / apps_per_ns),
            format!("app-{:02}", app_index % apps_per_ns),
        )
    };
    let namespaces = (0..ns_n).map(|n| {
        (
            api(&client, "v1", "Namespace", "namespaces", None),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns_name(n)}}),
        )
    });
    create_all(namespaces, concurrency).await;
    let workloads = (0..apps_n).flat_map(|x| {
        let (ns, app) = (ns_name(x / apps_per_ns), format!("app-{:02}", x % apps_per_ns));
        let labels = json!({"app": app, "tier": "backend"});
        let template = json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{ns}/{app}:1.4.2")}]}});
        [
            (api(&client, "apps/v1", "Deployment", "deployments", Some(&ns)), json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": app, "namespace": ns, "labels": labels},
                "spec": {"replicas": pods_per_app, "selector": {"matchLabels": labels}, "template": template}})),
            (api(&client, "apps/v1", "ReplicaSet", "replicasets", Some(&ns)), json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": format!("{app}-7d9f8b6c5d"), "namespace": ns, "labels": labels},
                "spec": {"replicas": pods_per_app, "selector": {"matchLabels": labels}, "template": template}})),
            (api(&client, "v1", "Service", "services", Some(&ns)), json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": app, "namespace": ns},
                "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}})),
        ]
    });
    create_all(workloads, concurrency).await;
    phase(format!(
        "namespaces and workloads: {ns_n} + {} objects in {:.1} s",
        apps_n * 3,
        t.elapsed().as_secs_f64()
    ));

    // Pods: created, then their status written as the kubelet reports it (Running; the broken
    // 5% OOMKilled and in CrashLoopBackOff, with the kubelet's BackOff Event).
    let t = Instant::now();
    let started = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(30)).to_string();
    let crashed = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(2)).to_string();
    let retries = AtomicUsize::new(0);
    futures::stream::iter(0..pods_n)
        .for_each_concurrent(concurrency, |i| {
            let (client, retries) = (client.clone(), &retries);
            let (started, crashed) = (&started, &crashed);
            let (ns, app) = app_of(i);
            let (node, per_node) = (i % nodes_n, i / nodes_n);
            async move {
                let name = format!("{app}-7d9f8b6c5d-{i:06x}");
                let image = format!("registry.example.com/{ns}/{app}:1.4.2");
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name, "namespace": ns,
                        "labels": {"app": app, "tier": "backend", "pod-template-hash": "7d9f8b6c5d",
                            kubemedic_testbed::KWOK_CUSTOM_STATUS_LABEL: kubemedic_testbed::KWOK_CUSTOM_STATUS_VALUE},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d9f8b6c5d"),
                            "uid": "00000000-0000-0000-0000-000000000000", "controller": true, "blockOwnerDeletion": true}]},
                    "spec": {"nodeName": node_name(node),
                        "containers": [{"name": "app", "image": image,
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}}],
                        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}
                }))
                .unwrap();
                let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
                let (post, patch_params) = (PostParams::default(), PatchParams::default());
                retrying(&format!("create pod {name}"), retries, || {
                    pods.create(&post, &pod)
                })
                .await;
                let ip = format!("{}.{}", node_cidr(node), 2 + per_node);
                let ok = !broken(i);
                let state = if ok {
                    json!({"state": {"running": {"startedAt": started}}})
                } else {
                    json!({"state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=app"}},
                           "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": crashed, "finishedAt": crashed}}})
                };
                let mut container = json!({"name": "app", "image": image, "imageID": "", "ready": ok,
                    "started": ok, "restartCount": if ok { 0 } else { 14 }});
                container.as_object_mut().unwrap().extend(state.as_object().unwrap().clone());
                let ready = if ok { "True" } else { "False" };
                let status = json!({"status": {"phase": "Running", "hostIP": "10.244.0.1", "podIP": ip, "podIPs": [{"ip": ip}],
                    "startTime": started, "qosClass": "Burstable",
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
                        {"type": "Initialized", "status": "True", "lastTransitionTime": started},
                        {"type": "ContainersReady", "status": ready, "lastTransitionTime": started},
                        {"type": "Ready", "status": ready, "lastTransitionTime": started}],
                    "containerStatuses": [container]}});
                let patch = Patch::Merge(&status);
                retrying(&format!("status of pod {name}"), retries, || {
                    pods.patch_status(&name, &patch_params, &patch)
                })
                .await;
                if !ok {
                    let events = api(&client, "v1", "Event", "events", Some(&ns));
                    let event: DynamicObject = serde_json::from_value(json!({
                        "apiVersion": "v1", "kind": "Event",
                        "metadata": {"name": format!("{name}.backoff"), "namespace": ns},
                        "involvedObject": {"kind": "Pod", "namespace": ns, "name": name, "fieldPath": "spec.containers{app}"},
                        "reason": "BackOff", "message": format!("Back-off restarting failed container app in pod {name}"),
                        "type": "Warning", "count": 14, "firstTimestamp": crashed, "lastTimestamp": crashed,
                        "source": {"component": "kubelet", "host": node_name(node)}}))
                    .unwrap();
                    retrying(&format!("event of pod {name}"), retries, || {
                        events.create(&post, &event)
                    })
                    .await;
                }
            }
        })
        .await;
    let pods_written = t.elapsed();
    let writes = pods_n * 2 + broken_n;
    phase(format!(
        "pods: {pods_n} created with their status ({writes} writes incl. {broken_n} Events) in {:.1} s ({:.0} pods/s, {:.0} writes/s, {} retries, {concurrency} in flight); {}",
        pods_written.as_secs_f64(),
        pods_n as f64 / pods_written.as_secs_f64(),
        writes as f64 / pods_written.as_secs_f64(),
        retries.load(Ordering::Relaxed),
        memory()
    ));
    let not_running = Api::<Pod>::all(client.clone())
        .list(
            &ListParams::default()
                .fields("status.phase!=Running")
                .limit(1),
        )
        .await
        .unwrap();
    assert!(
        not_running.items.is_empty(),
        "a pod is not Running: {:?}",
        not_running.items[0].metadata.name
    );

    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    if let Some(dir) = &state_dir {
        publish(
            dir,
            "created",
            &format!(
                "kubeconfig {kubeconfig}\nserver {}\nkube-apiserver {apiserver_pid}\netcd {etcd_pid}\nkwok {kwok_pid}\n",
                tb.server_url()
            ),
        );
        hold_until(&tb, &dir.join("continue")).await;
    }

    // kubemedic diagnose -A, start to report, measured by GNU time (wall and peak RSS).
    let mut results = Vec::new();
    for _ in 0..runs {
        let out = std::process::Command::new("/usr/bin/time")
            .args(["-f", "kubemedic-time %e %M"])
            .arg(env!("CARGO_BIN_EXE_kubemedic"))
            .args([
                "diagnose",
                "-A",
                "--kubeconfig",
                &kubeconfig,
                "-o",
                "json",
                "--no-logs",
            ])
            .output()
            .expect("GNU time (/usr/bin/time, Debian package `time`)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("kubemedic-time "))
            .unwrap_or_else(|| panic!("no timing from /usr/bin/time: {stderr}"));
        let mut fields = line.split_whitespace().skip(1);
        let wall: f64 = fields.next().unwrap().parse().unwrap();
        let rss_kib: f64 = fields.next().unwrap().parse().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("diagnose output: {e}; stderr: {stderr}"));
        assert_eq!(report["summary"]["nodes"], nodes_n, "{}", report["summary"]);
        assert_eq!(report["summary"]["pods"], pods_n, "{}", report["summary"]);
        let findings = report["findings"].as_array().unwrap();
        let oom = findings
            .iter()
            .filter(|f| f["cause"] == "OOMKilled")
            .count();
        // Replicas of one workload with the same cause fold into one finding on the workload.
        assert_eq!(
            oom, broken_apps,
            "one OOMKilled finding per Deployment with crash-looping pods"
        );
        phase(format!(
            "kubemedic diagnose -A (--no-logs): {wall:.2} s, peak RSS {:.0} MiB, {} findings ({oom} OOMKilled)",
            rss_kib / 1024.0,
            findings.len()
        ));
        results.push((wall, rss_kib / 1024.0, findings.len(), oom));
    }
    let (apiserver_peak, apiserver_now) = memory_mib(apiserver_pid);
    let (etcd_peak, etcd_now) = memory_mib(etcd_pid);
    let etcd_disk = dir_size(&tb.dir().join("etcd")) as f64 / 1048576.0;
    phase(format!(
        "kube-apiserver: peak RSS {apiserver_peak:.0} MiB (now {apiserver_now:.0} MiB); etcd: peak RSS {etcd_peak:.0} MiB (now {etcd_now:.0} MiB), data dir {etcd_disk:.0} MiB"
    ));
    if !results.is_empty() {
        results.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median = results[results.len() / 2];
        phase(format!(
            "kubemedic diagnose -A start to report: median {:.2} s of {} runs (min {:.2} s, max {:.2} s), peak RSS {:.0} MiB, {} findings ({} OOMKilled)",
            median.0,
            results.len(),
            results[0].0,
            results[results.len() - 1].0,
            median.1,
            median.2,
            median.3
        ));
    }
    if keep && let Some(dir) = &state_dir {
        publish(dir, "finished", &format!("kubeconfig {kubeconfig}\n"));
        hold_until(&tb, &dir.join("stop")).await;
    }
}
