//! Benchmark of the engine alone: one full `diagnose` pass over a generated snapshot of 5,000
//! nodes and 150,000 pods, 5% broken in varied ways (OOM kills, Go panics with logs, image pulls,
//! scheduling, missing ConfigMaps, sandbox timeouts), 1% of nodes NotReady with kubelet logs,
//! one Service per 30 pods. Prints median/min/max wall time; run on one core:
//! `taskset -c 0 cargo bench -p kubemedic-diagnose --bench full_pass`
//! (`KUBEMEDIC_BENCH_NODES`, `KUBEMEDIC_BENCH_PODS`, `KUBEMEDIC_BENCH_RUNS` change the sizes).
//! The end-to-end benchmark with loading and rendering is the binary crate's `diagnose_scale`.
#![allow(clippy::unwrap_used)]

use kubemedic_model::objects::{Endpoints, Event, Node, Pod, Service};
use kubemedic_model::{ContainerLogs, ContainerRef, NodeLogSource, Snapshot};
use serde_json::{Value, json};
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let nodes_n = env("KUBEMEDIC_BENCH_NODES", if quick { 50 } else { 5_000 });
    let pods_n = env("KUBEMEDIC_BENCH_PODS", if quick { 1_500 } else { 150_000 });
    let runs = env("KUBEMEDIC_BENCH_RUNS", if quick { 1 } else { 7 });
    let now = "2026-11-23T10:00:00Z";

    let mut s = Snapshot {
        taken_at: Some(now.parse().unwrap()),
        ..Snapshot::default()
    };
    let ready: Node = from(json!({"metadata": {"name": "x"}, "status": {"conditions": [
        {"type": "MemoryPressure", "status": "False"}, {"type": "DiskPressure", "status": "False"},
        {"type": "PIDPressure", "status": "False"}, {"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}));
    let not_ready: Node = from(json!({"metadata": {"name": "x"}, "status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "PLEG is not healthy: pleg was last seen active 3m21s ago; threshold is 3m0s"}]}}));
    for i in 0..nodes_n {
        let name = format!("node-{i:05}");
        let mut n = if i % 100 == 7 {
            not_ready.clone()
        } else {
            ready.clone()
        };
        n.metadata.name = Some(name.clone());
        if i % 100 == 7 {
            let log = "I1123 09:55:00.1 1 kubelet.go:1823] skipping pod synchronization - [PLEG is not healthy: pleg was last seen active 3m12.5s ago; threshold is 3m0s]\n".repeat(20);
            s.node_logs
                .entry(name.clone())
                .or_default()
                .insert(NodeLogSource::Kubelet, log);
        }
        s.nodes.push(n);
    }
    let base: Pod = from(json!({
        "metadata": {"name": "x", "namespace": "x", "creationTimestamp": "2026-11-20T00:00:00Z", "labels": {"app": "x"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "u", "controller": true}]},
        "spec": {"nodeName": "x", "containers": [{"name": "app", "image": "registry.example.com/team/app:1.0.0",
            "resources": {"limits": {"memory": "512Mi"}}, "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "i", "imageID": "", "state": {"running": {"startedAt": "2026-11-20T00:01:00Z"}}}]}}));
    let crash = |exit: i32, reason: &str| -> Value {
        json!([{"name": "app", "ready": false, "restartCount": 9, "image": "i", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": exit, "reason": reason, "startedAt": "2026-11-23T09:50:00Z", "finishedAt": "2026-11-23T09:55:00Z"}}}])
    };
    let event = |ns: &str, name: &str, reason: &str, msg: &str| -> Event {
        from(
            json!({"metadata": {"name": format!("{name}.1"), "namespace": ns}, "involvedObject": {"kind": "Pod", "namespace": ns, "name": name},
            "reason": reason, "message": msg, "type": "Warning", "count": 5, "lastTimestamp": "2026-11-23T09:59:00Z"}),
        )
    };
    let per_ns = 3_000;
    for i in 0..pods_n {
        let ns = format!("team-{:03}", i / per_ns);
        let deploy = format!("app-{:04}", i / 30);
        let name = format!("{deploy}-7d4f8b9c6d-{i:06}");
        let mut p = base.clone();
        p.metadata.name = Some(name.clone());
        p.metadata.namespace = Some(ns.clone());
        p.metadata.labels = Some([("app".to_string(), deploy.clone())].into());
        p.metadata.owner_references.as_mut().unwrap()[0].name = format!("{deploy}-7d4f8b9c6d");
        let node = format!("node-{:05}", i % nodes_n);
        p.spec.as_mut().unwrap().node_name = Some(node.into());
        let status = p.status.as_mut().unwrap();
        // 5% broken, in seven ways.
        if i % 20 == 3 {
            status.conditions = Some(from(json!([{"type": "Ready", "status": "False"}])));
            match (i / 20) % 7 {
                0 => status.container_statuses = Some(from(crash(137, "OOMKilled"))),
                1 => {
                    status.container_statuses = Some(from(crash(2, "Error")));
                    s.container_logs.insert(ContainerRef::new(ns.clone(), name.clone(), "app"), ContainerLogs {
                        current: None,
                        previous: Some(format!("{}panic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 1 [running]:\nmain.main()\n", "2026/11/23 09:55:00 INFO handling request\n".repeat(30))),
                    });
                }
                2 => {
                    status.container_statuses = Some(from(
                        json!([{"name": "app", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"registry.example.com/team/app:9.9.9\""}}}]),
                    ));
                    s.events.push(event(&ns, &name, "Failed", "Failed to pull image \"registry.example.com/team/app:9.9.9\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/team/app:9.9.9\": failed to resolve reference \"registry.example.com/team/app:9.9.9\": registry.example.com/team/app:9.9.9: not found"));
                }
                3 => {
                    p.spec.as_mut().unwrap().node_name = None;
                    let status = p.status.as_mut().unwrap();
                    status.phase = Some("Pending".into());
                    status.container_statuses = None;
                    s.events.push(event(&ns, &name, "FailedScheduling", &format!("0/{nodes_n} nodes are available: 3 node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}, {} Insufficient memory. preemption: 0/{nodes_n} nodes are available: 3 Preemption is not helpful for scheduling.", nodes_n - 3)));
                }
                4 => {
                    status.container_statuses = Some(from(
                        json!([{"name": "app", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                        "state": {"waiting": {"reason": "CreateContainerConfigError", "message": format!("configmap \"{deploy}-config\" not found")}}}]),
                    ))
                }
                5 => {
                    status.phase = Some("Pending".into());
                    status.container_statuses = Some(from(
                        json!([{"name": "app", "ready": false, "restartCount": 0, "image": "i", "imageID": "", "state": {"waiting": {"reason": "ContainerCreating"}}}]),
                    ));
                    s.events.push(event(&ns, &name, "FailedCreatePodSandBox", "Failed to create pod sandbox: rpc error: code = DeadlineExceeded desc = context deadline exceeded"));
                }
                _ => {
                    status.container_statuses = Some(from(crash(1, "Error")));
                    s.container_logs.insert(ContainerRef::new(ns.clone(), name.clone(), "app"), ContainerLogs {
                        current: None,
                        previous: Some("Error: failed to connect to postgres at db.team.svc:5432: connection refused\n".into()),
                    });
                }
            }
        } else if i % 50 == 0 {
            s.events.push(event(&ns, &name, "Pulled", "Container image \"registry.example.com/team/app:1.0.0\" already present on machine"));
        }
        s.pods.push(p);
        if i % 30 == 0 {
            s.services.push(from::<Service>(json!({"metadata": {"name": deploy, "namespace": ns}, "spec": {"selector": {"app": deploy}, "ports": [{"port": 80}]}})));
            s.endpoints.push(from::<Endpoints>(json!({"metadata": {"name": deploy, "namespace": ns}, "subsets": [{"addresses": [{"ip": "10.64.0.1"}]}]})));
        }
    }

    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut findings = 0;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), thread_cpu_ms());
        let r = kubemedic_diagnose::diagnose(&s);
        times.push(t.elapsed());
        if let (Some(a), Some(b)) = (c, thread_cpu_ms()) {
            cpu.push(b - a);
        }
        findings = r.findings.len();
        std::hint::black_box(&r);
    }
    times.sort();
    cpu.sort_unstable();
    println!(
        "full_pass: {} nodes, {} pods, {} events, {} services: diagnose median {:.1} ms (min {:.1}, max {:.1}, {runs} runs), {findings} findings",
        s.nodes.len(),
        s.pods.len(),
        s.events.len(),
        s.services.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    // On a shared machine the wall time includes waiting for the core; the CPU time the pass
    // itself used does not (10 ms resolution).
    if !cpu.is_empty() {
        println!(
            "full_pass: diagnose CPU time median {} ms (min {}, max {})",
            cpu[cpu.len() / 2],
            cpu[0],
            cpu[cpu.len() - 1]
        );
    }
}

/// CPU time (user + system) of this thread so far, in ms, from /proc/thread-self/stat.
fn thread_cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    // USER_HZ is 100 on Linux.
    Some((utime + stime) * 10)
}
