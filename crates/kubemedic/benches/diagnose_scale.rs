//! Benchmark: a full diagnosis pass over a generated snapshot of 5,000 nodes and 150,000 pods,
//! 5% of them broken in varied ways (OOM kills, Go panics, image pulls, scheduling, missing
//! ConfigMaps, app errors), 1% of nodes NotReady with PLEG lines in their kubelet logs.
//!
//! Run on one core: `taskset -c 0 cargo bench -p kubemedic --bench diagnose_scale`
//! Sizes can be changed: `KUBEMEDIC_BENCH_NODES=1000 KUBEMEDIC_BENCH_PODS=30000`.
//! Prints the median wall time of the diagnose pass, the snapshot build time and peak RSS.
//! The generator is deterministic (no randomness: pod i's fate is a function of i).
#![allow(clippy::unwrap_used)]

use kubemedic_model::objects::{Deployment, ReplicaSet};
use kubemedic_model::objects::{Endpoints, Event, Node, Pod, Service};
use kubemedic_model::{ContainerLogs, ContainerRef, NodeFacts, NodeLogSource, Snapshot};
use serde_json::json;
use std::time::{Duration, Instant};

const TAKEN_AT: &str = "2026-11-20T12:00:00Z";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn node(i: usize, ready: bool) -> Node {
    let name = format!("node-{i:05}");
    let ready_cond = if ready {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
               "lastHeartbeatTime": "2026-11-20T11:59:40Z", "lastTransitionTime": "2026-10-01T00:00:00Z"})
    } else {
        json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
               "message": "PLEG is not healthy: pleg was last seen active 3m21.1s ago; threshold is 3m0s",
               "lastHeartbeatTime": "2026-11-20T11:59:40Z", "lastTransitionTime": "2026-11-20T11:51:00Z"})
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "uid": format!("00000000-0000-4000-8000-{i:012}"),
                     "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": format!("zone-{}", i % 3)}},
        "spec": {"podCIDR": format!("10.{}.{}.0/24", 64 + i / 256, i % 256)},
        "status": {
            "capacity": {"cpu": "16", "memory": "65842232Ki", "pods": "110"},
            "allocatable": {"cpu": "15800m", "memory": "63642232Ki", "pods": "110"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
                ready_cond],
            "addresses": [{"type": "InternalIP", "address": format!("10.1.{}.{}", i / 256, i % 256)}],
            "nodeInfo": {"kubeletVersion": "v1.37.2", "containerRuntimeVersion": "containerd://2.1.4",
                         "kernelVersion": "6.8.0-45-generic", "osImage": "Ubuntu 24.04.1 LTS",
                         "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64"}
        }
    }))
    .unwrap()
}

/// The ways a generated pod can be broken; index = pod number % 20 among the broken ones.
#[derive(Clone, Copy)]
enum Fate {
    Healthy,
    OomKilled,
    GoPanic,
    ImageNotFound,
    Unschedulable,
    MissingConfigMap,
    AppError,
    OnNotReadyNode,
}

fn fate(i: usize, node_ready: bool) -> Fate {
    if !node_ready {
        return Fate::OnNotReadyNode;
    }
    // 5% broken: pods whose number is 0..5 mod 100, spread over the kinds of failure.
    if i % 100 >= 5 {
        return Fate::Healthy;
    }
    match (i / 100) % 6 {
        0 => Fate::OomKilled,
        1 => Fate::GoPanic,
        2 => Fate::ImageNotFound,
        3 => Fate::Unschedulable,
        4 => Fate::MissingConfigMap,
        _ => Fate::AppError,
    }
}

fn event(ns: &str, pod: &str, n: usize, reason: &str, message: &str, typ: &str) -> Event {
    serde_json::from_value(json!({
        "metadata": {"name": format!("{pod}.{n:016x}"), "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1"},
        "reason": reason, "message": message, "type": typ, "count": 1 + n % 30,
        "firstTimestamp": "2026-11-20T11:20:00Z", "lastTimestamp": "2026-11-20T11:58:00Z",
        "source": {"component": if reason == "FailedScheduling" { "default-scheduler" } else { "kubelet" }}
    }))
    .unwrap()
}

fn set<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn build(nodes_n: usize, pods_n: usize) -> Snapshot {
    let mut s = Snapshot {
        taken_at: Some(TAKEN_AT.parse().unwrap()),
        ..Snapshot::default()
    };
    let not_ready = |n: usize| n % 100 == 37; // 1% of nodes
    for n in 0..nodes_n {
        s.nodes.push(node(n, !not_ready(n)));
        if not_ready(n) {
            let name = format!("node-{n:05}");
            let mut log = String::new();
            for k in 0..40 {
                log.push_str(&format!(
                    "Nov 20 11:{:02}:{:02} {name} kubelet[1201]: E1120 11:{:02}:{:02}.120331    1201 kubelet.go:2412] \"Skipping pod synchronization\" err=\"PLEG is not healthy: pleg was last seen active 3m{k}.1s ago; threshold is 3m0s\"\n",
                    20 + k / 2, k % 60, 20 + k / 2, k % 60
                ));
            }
            s.node_logs
                .entry(name.clone())
                .or_default()
                .insert(NodeLogSource::Kubelet, log);
            s.node_facts.insert(
                name.clone(),
                NodeFacts {
                    node: name,
                    iptables_rules: Some(4200),
                    ..NodeFacts::default()
                },
            );
        }
    }
    let replicas = 10;
    let namespaces = 50;
    let pod_template: Pod = serde_json::from_value(json!({
        "metadata": {"name": "x", "namespace": "x", "labels": {"app": "x"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "u", "controller": true}]},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/team/app:1.0.0",
                                 "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                                 "ports": [{"containerPort": 8080}],
                                 "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
                                 "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 30, "periodSeconds": 10}}],
                 "nodeName": "x", "restartPolicy": "Always", "schedulerName": "default-scheduler"},
        "status": {"phase": "Running", "hostIP": "10.1.0.1", "podIP": "10.64.0.2", "startTime": "2026-11-01T00:00:00Z",
                   "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                   "containerStatuses": [{"name": "app", "image": "registry.example.com/team/app:1.0.0", "imageID": "",
                                          "ready": true, "restartCount": 0, "started": true,
                                          "state": {"running": {"startedAt": "2026-11-01T00:00:05Z"}}}]}
    }))
    .unwrap();
    let mut ev_n = 0usize;
    for i in 0..pods_n {
        let ns = format!("team-{:02}", (i / replicas) % namespaces);
        let deploy = format!("svc-{:05}", i / replicas);
        let rs = format!("{deploy}-7d9f8c6b5d");
        let name = format!("{rs}-{:05x}", i % 0xfffff);
        let node_i = (i * 7919) % nodes_n.max(1);
        let node_name = format!("node-{node_i:05}");
        let mut p = pod_template.clone();
        p.metadata.name = Some(name.clone());
        p.metadata.namespace = Some(ns.clone());
        p.metadata.uid = Some(format!("10000000-0000-4000-8000-{i:012}"));
        p.metadata.labels = Some([("app".to_string(), deploy.clone())].into());
        if let Some(o) = p
            .metadata
            .owner_references
            .as_mut()
            .and_then(|o| o.first_mut())
        {
            o.name = rs.clone();
        }
        let spec = p.spec.as_mut().unwrap();
        spec.node_name = Some(node_name.as_str().into());
        let status = p.status.as_mut().unwrap();
        let cs = &mut status.container_statuses.as_mut().unwrap()[0];
        let f = fate(i, !not_ready(node_i));
        match f {
            Fate::Healthy => {}
            Fate::OnNotReadyNode => {
                cs.ready = false;
                status.conditions = Some(vec![set(json!({"type": "Ready", "status": "False"}))]);
            }
            Fate::OomKilled => {
                cs.ready = false;
                cs.restart_count = 12;
                cs.state = Some(set(
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}),
                ));
                cs.last_state = Some(set(
                    json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
                    "startedAt": "2026-11-20T11:50:00Z", "finishedAt": "2026-11-20T11:55:00Z"}}),
                ));
                s.events.push(event(
                    &ns,
                    &name,
                    ev_n,
                    "BackOff",
                    "Back-off restarting failed container app",
                    "Warning",
                ));
            }
            Fate::GoPanic => {
                cs.ready = false;
                cs.restart_count = 40;
                cs.state = Some(set(json!({"waiting": {"reason": "CrashLoopBackOff"}})));
                cs.last_state = Some(set(json!({"terminated": {"exitCode": 2, "reason": "Error",
                    "startedAt": "2026-11-20T11:55:00Z", "finishedAt": "2026-11-20T11:56:00Z"}})));
                s.container_logs.insert(
                    ContainerRef::new(ns.clone(), name.clone(), "app"),
                    ContainerLogs {
                        current: None,
                        previous: Some(format!("{}panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x8b4f3a]\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:42 +0x5a\n",
                            "2026/11/20 11:55:59 INFO handling request id=42\n".repeat(30))),
                    },
                );
            }
            Fate::ImageNotFound => {
                cs.ready = false;
                cs.state = Some(set(
                    json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"registry.example.com/team/app:9.9.9\""}}),
                ));
                status.phase = Some("Pending".into());
                s.events.push(event(&ns, &name, ev_n, "Failed",
                    "Failed to pull image \"registry.example.com/team/app:9.9.9\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/team/app:9.9.9\": failed to resolve reference \"registry.example.com/team/app:9.9.9\": registry.example.com/team/app:9.9.9: not found", "Warning"));
            }
            Fate::Unschedulable => {
                spec.node_name = None;
                status.phase = Some("Pending".into());
                status.container_statuses = None;
                status.host_ip = None;
                status.pod_ip = None;
                let msg = format!(
                    "0/{nodes_n} nodes are available: 3 node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}, {} Insufficient memory. preemption: 0/{nodes_n} nodes are available: 3 Preemption is not helpful for scheduling, {} No preemption victims found for incoming pod.",
                    nodes_n.saturating_sub(3),
                    nodes_n.saturating_sub(3)
                );
                status.conditions = Some(vec![set(
                    json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg}),
                )]);
                s.events
                    .push(event(&ns, &name, ev_n, "FailedScheduling", &msg, "Warning"));
            }
            Fate::MissingConfigMap => {
                cs.ready = false;
                cs.state = Some(set(
                    json!({"waiting": {"reason": "CreateContainerConfigError", "message": format!("configmap \"{deploy}-config\" not found")}}),
                ));
                status.phase = Some("Pending".into());
            }
            Fate::AppError => {
                cs.ready = false;
                cs.restart_count = 7;
                cs.state = Some(set(json!({"waiting": {"reason": "CrashLoopBackOff"}})));
                cs.last_state = Some(set(json!({"terminated": {"exitCode": 1, "reason": "Error",
                    "startedAt": "2026-11-20T11:57:00Z", "finishedAt": "2026-11-20T11:57:02Z"}})));
                s.container_logs.insert(
                    ContainerRef::new(ns.clone(), name.clone(), "app"),
                    ContainerLogs {
                        current: None,
                        previous: Some("Error: failed to connect to postgres at db.team.svc:5432: connection refused\n".into()),
                    },
                );
            }
        }
        if !matches!(f, Fate::Healthy) {
            ev_n += 1;
        } else if i % 50 == 0 {
            s.events.push(event(&ns, &name, ev_n, "Pulled", "Container image \"registry.example.com/team/app:1.0.0\" already present on machine", "Normal"));
            ev_n += 1;
        }
        s.pods.push(p);
        if i % replicas == 0 {
            let labels = json!({"app": deploy});
            s.deployments.push(serde_json::from_value::<Deployment>(json!({
                "metadata": {"name": deploy, "namespace": ns, "uid": format!("20000000-0000-4000-8000-{i:012}")},
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "registry.example.com/team/app:1.0.0"}]}}},
                "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
            })).unwrap());
            s.replica_sets.push(serde_json::from_value::<ReplicaSet>(json!({
                "metadata": {"name": rs, "namespace": ns, "uid": format!("30000000-0000-4000-8000-{i:012}"),
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deploy, "uid": "u", "controller": true}]},
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels}},
                "status": {"replicas": replicas}
            })).unwrap());
            s.services.push(serde_json::from_value::<Service>(json!({
                "metadata": {"name": deploy, "namespace": ns},
                "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}], "clusterIP": "10.96.0.10"}
            })).unwrap());
            let addrs: Vec<_> = (0..replicas)
                .map(|k| json!({"ip": format!("10.64.{}.{}", (i + k) / 250 % 250, (i + k) % 250)}))
                .collect();
            s.endpoints.push(
                serde_json::from_value::<Endpoints>(json!({
                    "metadata": {"name": deploy, "namespace": ns},
                    "subsets": [{"addresses": addrs, "ports": [{"port": 8080}]}]
                }))
                .unwrap(),
            );
        }
    }
    s
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run small then.
    let quick = std::env::args().any(|a| a == "--test")
        || std::env::var_os("KUBEMEDIC_BENCH_QUICK").is_some();
    let nodes_n = env_usize("KUBEMEDIC_BENCH_NODES", if quick { 50 } else { 5_000 });
    let pods_n = env_usize("KUBEMEDIC_BENCH_PODS", if quick { 1_500 } else { 150_000 });
    let runs = env_usize("KUBEMEDIC_BENCH_RUNS", if quick { 1 } else { 7 });

    let rss_start = rss_kib("VmRSS:");
    let t = Instant::now();
    let snap = build(nodes_n, pods_n);
    let build_time = t.elapsed();
    let rss_snapshot = rss_kib("VmRSS:");

    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut findings = 0;
    let mut by_cause = std::collections::BTreeMap::<String, usize>::new();
    for run in 0..runs {
        let t = Instant::now();
        let report = kubemedic_diagnose::diagnose(&snap);
        times.push(t.elapsed());
        if run == 0 {
            findings = report.findings.len();
            for f in &report.findings {
                *by_cause.entry(f.cause.to_string()).or_default() += 1;
            }
        }
        std::hint::black_box(&report);
    }
    times.sort();
    let median = times[times.len() / 2];
    let peak = rss_kib("VmHWM:");
    let broken = snap
        .pods
        .iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_none_or(|cs| cs.iter().any(|c| !c.ready))
        })
        .count();

    println!(
        "diagnose_scale: {} nodes, {} pods ({} not ready), {} events, {} container logs, {} services",
        snap.nodes.len(),
        snap.pods.len(),
        broken,
        snap.events.len(),
        snap.container_logs.len(),
        snap.services.len()
    );
    println!(
        "  snapshot build        {:>9.1} ms",
        build_time.as_secs_f64() * 1e3
    );
    println!(
        "  diagnose pass         {:>9.1} ms median of {runs} (min {:.1} ms, max {:.1} ms)",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    println!("  findings              {findings:>9}");
    println!(
        "  RSS at start          {:>9.1} MiB",
        rss_start as f64 / 1024.0
    );
    println!(
        "  RSS with snapshot     {:>9.1} MiB",
        rss_snapshot as f64 / 1024.0
    );
    println!("  peak RSS (VmHWM)      {:>9.1} MiB", peak as f64 / 1024.0);
    let mut causes: Vec<_> = by_cause.into_iter().collect();
    causes.sort_by_key(|c| std::cmp::Reverse(c.1));
    let list: Vec<String> = causes.iter().map(|(c, n)| format!("{c}={n}")).collect();
    println!("  findings by cause     {}", list.join(" "));
}
