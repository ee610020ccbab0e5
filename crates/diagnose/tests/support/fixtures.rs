//! The fixture catalog: for every cause in CAUSES.md, snapshots in several real-world wordings
//! (Docker and containerd, old and new kubelet/scheduler messages), each with the object and
//! the cause that must come first for it. Healthy fixtures must stay silent.

use super::*;
use kubemedic_diagnose::{Cause, ObjectRef};
use kubemedic_model::{NodeLogSource, Snapshot};
use serde_json::json;

/// One positive fixture.
#[derive(Debug)]
pub struct Fixture {
    /// Name shown on failure.
    pub name: &'static str,
    /// The snapshot.
    pub snap: Snapshot,
    /// The object whose first finding is checked.
    pub object: ObjectRef,
    /// The cause that must come first.
    pub cause: Cause,
}

fn fx(name: &'static str, snap: Snapshot, object: ObjectRef, cause: Cause) -> Fixture {
    Fixture {
        name,
        snap,
        object,
        cause,
    }
}

/// A snapshot with one crashing pod `api-1` whose container status is `status`.
fn crash(status: serde_json::Value) -> Snapshot {
    let mut s = base();
    s.pods.push(failing_pod("api-1", status));
    s
}

fn pull(reason: &str, waiting_msg: &str, event_msg: Option<&str>) -> Snapshot {
    let mut s = base();
    s.pods
        .push(failing_pod("api-1", waiting("api", reason, waiting_msg)));
    if let Some(m) = event_msg {
        s.events.push(container_event("api-1", "Failed", m, 4));
        s.events
            .push(container_event("api-1", "Failed", "Error: ErrImagePull", 4));
        s.events.push(container_event(
            "api-1",
            "BackOff",
            "Back-off pulling image \"registry.example.com/shop/api:1.4.2\"",
            12,
        ));
    }
    s
}

fn sandbox(reason: &str, msg: &str) -> Snapshot {
    let mut s = base();
    s.pods.push(creating_pod("api-1"));
    s.events.push(pod_event("api-1", reason, msg, 37));
    s
}

fn sched(msg: &str) -> Snapshot {
    let mut s = base();
    s.pods.push(pending_pod("api-1", 1800));
    s.events
        .push(pod_event("api-1", "FailedScheduling", msg, 106));
    s
}

fn terminating(extra: serde_json::Value) -> Snapshot {
    let mut s = base();
    let mut p = json!({"metadata": {"deletionTimestamp": ago(3600), "deletionGracePeriodSeconds": 30},
        "status": {"conditions": [{"type": "Ready", "status": "False"}],
                   "containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "",
                       "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ago(3500)}}}]}});
    merge(&mut p, extra);
    s.pods.push(pod("api-1", p));
    s
}

const LIVENESS_SPEC: &str = r#"{"spec": {"containers": [{"name": "api", "image": "registry.example.com/shop/api:1.4.2",
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3}}]}}"#;

const GO_PANIC: &str = "2026/11/23 09:57:01 starting worker pool size=8\n2026/11/23 09:57:58 connected to broker\npanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x8a5f2b]\n\ngoroutine 1 [running]:\nmain.(*Handler).Serve(0x0, 0xc000128000)\n\t/src/handler.go:88 +0x2b\nmain.main()\n\t/src/main.go:41 +0x1c5\n";

/// Every positive fixture.
pub fn positives() -> Vec<Fixture> {
    let p = pod_ref("api-1");
    let n1 = node_ref("n1");
    let mut v = Vec::new();

    // --- OOMKilled
    v.push(fx(
        "oomkilled-containerd",
        crash(crashloop("api", 137, "OOMKilled", None, 600, 12)),
        p.clone(),
        Cause::OOMKilled,
    ));
    {
        let mut s = crash(crashloop("api", 137, "Error", None, 600, 3));
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "Nov 23 09:57:01 n1 kernel: Memory cgroup out of memory: Killed process 23121 (java) total-vm:4123456kB, anon-rss:262144kB\n",
        );
        v.push(fx(
            "oomkilled-kernel-memcg-line",
            s,
            p.clone(),
            Cause::OOMKilled,
        ));
    }
    // --- NodeOOM
    {
        let mut s = crash(crashloop("api", 137, "Error", None, 600, 3));
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "Nov 23 09:57:01 n1 kernel: Out of memory: Kill process 23121 (java) score 953 or sacrifice child\nNov 23 09:57:01 n1 kernel: Killed process 23121 (java) total-vm:8123456kB, anon-rss:6123456kB, file-rss:0kB\n",
        );
        v.push(fx("nodeoom-old-kernel", s, p.clone(), Cause::NodeOOM));
    }
    {
        let mut s = crash(crashloop("api", 137, "Error", None, 600, 3));
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Syslog,
            "Nov 23 09:57:01 n1 kernel: [1234.5] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/kubepods/burstable/pod1,task=java,pid=23121,uid=1000\nNov 23 09:57:01 n1 kernel: [1234.5] Out of memory: Killed process 23121 (java) total-vm:8123456kB\n",
        );
        v.push(fx("nodeoom-new-kernel", s, p.clone(), Cause::NodeOOM));
    }
    {
        let mut s = crash(crashloop("api", 137, "Error", None, 600, 3));
        s.events.push(event(
            "Node",
            "",
            "n1",
            "SystemOOM",
            "System OOM encountered, victim process: java, pid: 23121",
            1,
        ));
        v.push(fx("nodeoom-systemoom-event", s, p.clone(), Cause::NodeOOM));
    }
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: Out of memory: Kill process 991 (td-agent) score 900 or sacrifice child\n",
        );
        v.push(fx("nodeoom-on-node", s, n1.clone(), Cause::NodeOOM));
    }
    // --- LivenessProbeFailure
    {
        let mut s = base();
        let mut pd = pod("api-1", serde_json::from_str(LIVENESS_SPEC).unwrap());
        merge_status(&mut pd, crashloop("api", 137, "Error", None, 7200, 4));
        s.pods.push(pd);
        s.events.push(container_event(
            "api-1",
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
            12,
        ));
        s.events.push(container_event(
            "api-1",
            "Killing",
            "Container api failed liveness probe, will be restarted",
            4,
        ));
        v.push(fx(
            "liveness-new-kubelet",
            s,
            p.clone(),
            Cause::LivenessProbeFailure,
        ));
    }
    {
        let mut s = base();
        let mut pd = pod("api-1", serde_json::from_str(LIVENESS_SPEC).unwrap());
        merge_status(&mut pd, crashloop("api", 143, "Error", None, 5400, 4));
        s.pods.push(pd);
        s.events.push(container_event("api-1", "Unhealthy", "Liveness probe failed: Get http://172.16.2.23:8080/healthz: net/http: request canceled (Client.Timeout exceeded while awaiting headers)", 9));
        s.events.push(container_event("api-1", "Killing", "Killing container with id docker://api:Container failed liveness probe.. Container will be killed and recreated.", 3));
        v.push(fx(
            "liveness-old-kubelet-143",
            s,
            p.clone(),
            Cause::LivenessProbeFailure,
        ));
    }
    // --- ProbeTooEarly
    {
        let mut s = base();
        let mut pd = pod("api-1", serde_json::from_str(LIVENESS_SPEC).unwrap());
        merge_status(&mut pd, crashloop("api", 137, "Error", None, 36, 23));
        s.pods.push(pd);
        s.events.push(container_event("api-1", "Unhealthy", "Liveness probe failed: Get \"http://10.244.1.7:8080/healthz\": dial tcp 10.244.1.7:8080: connect: connection refused", 69));
        s.events.push(container_event(
            "api-1",
            "Killing",
            "Container api failed liveness probe, will be restarted",
            23,
        ));
        // Killed at the first moment the probe may, on connection refused, with no start-up
        // evidence: that timing says nothing about start-up (issue 14), so the probe is the fault.
        v.push(fx(
            "liveness-refused-killed-at-first-chance",
            s,
            p.clone(),
            Cause::LivenessProbeFailure,
        ));
    }
    {
        let mut s = base();
        let mut pd = pod("api-1", serde_json::from_str(LIVENESS_SPEC).unwrap());
        merge_status(&mut pd, crashloop("api", 143, "Error", None, 60, 9));
        s.pods.push(pd);
        logs(
            &mut s,
            "api-1",
            Some(
                "  .   ____          _\n2026-11-23 09:58:01 INFO Starting Application using Java 17\n2026-11-23 09:58:46 INFO Started Application in 45.3 seconds (JVM running for 47.1)\n",
            ),
            None,
        );
        s.events.push(container_event("api-1", "Unhealthy", "Liveness probe failed: Get \"http://10.244.1.7:8080/healthz\": dial tcp 10.244.1.7:8080: connect: connection refused", 27));
        v.push(fx(
            "probe-too-early-spring-log",
            s,
            p.clone(),
            Cause::ProbeTooEarly,
        ));
    }
    // --- AppPanic
    {
        let mut s = crash(crashloop("api", 2, "Error", None, 3600, 140));
        logs(
            &mut s,
            "api-1",
            Some(GO_PANIC),
            Some("2026/11/23 09:59:00 starting worker pool size=8\n"),
        );
        v.push(fx("apppanic-go-exit2", s, p.clone(), Cause::AppPanic));
    }
    {
        let mut s = crash(crashloop("api", 1, "Error", None, 300, 5));
        logs(
            &mut s,
            "api-1",
            Some(
                "Exception in thread \"main\" java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"s\" is null\n\tat com.shop.Main.main(Main.java:14)\n",
            ),
            None,
        );
        v.push(fx("apppanic-java", s, p.clone(), Cause::AppPanic));
    }
    {
        let mut s = crash(crashloop("api", 1, "Error", None, 300, 5));
        logs(
            &mut s,
            "api-1",
            Some(
                "Traceback (most recent call last):\n  File \"/app/main.py\", line 12, in <module>\n    main()\nZeroDivisionError: division by zero\n",
            ),
            None,
        );
        v.push(fx("apppanic-python", s, p.clone(), Cause::AppPanic));
    }
    v.push(fx(
        "apppanic-sigsegv-139",
        crash(crashloop("api", 139, "Error", None, 300, 5)),
        p.clone(),
        Cause::AppPanic,
    ));
    v.push(fx(
        "apppanic-abort-134",
        crash(crashloop("api", 134, "Error", None, 300, 5)),
        p.clone(),
        Cause::AppPanic,
    ));
    // --- AppError
    {
        let mut s = crash(crashloop("api", 1, "Error", None, 300, 5));
        logs(
            &mut s,
            "api-1",
            Some(
                "level=info msg=\"starting\"\nlevel=error msg=\"upstream payments returned 503, giving up\"\n",
            ),
            None,
        );
        v.push(fx("apperror-exit1-logs", s, p.clone(), Cause::AppError));
    }
    v.push(fx(
        "apperror-exit255-nologs",
        crash(crashloop("api", 255, "Error", None, 300, 5)),
        p.clone(),
        Cause::AppError,
    ));
    v.push(fx(
        "apperror-sysexits-69",
        crash(crashloop("api", 69, "Error", None, 300, 5)),
        p.clone(),
        Cause::AppError,
    ));
    // --- ConfigError
    {
        let mut s = crash(crashloop("api", 1, "Error", None, 2, 7));
        logs(
            &mut s,
            "api-1",
            Some("Error: failed to parse config.yaml: yaml: line 12: did not find expected key\n"),
            None,
        );
        v.push(fx("configerror-yaml", s, p.clone(), Cause::ConfigError));
    }
    {
        let mut s = crash(crashloop("api", 2, "Error", None, 1, 7));
        logs(
            &mut s,
            "api-1",
            Some("flag provided but not defined: -listen\nUsage of /app/server:\n  -addr string\n"),
            None,
        );
        v.push(fx(
            "configerror-go-flag-exit2",
            s,
            p.clone(),
            Cause::ConfigError,
        ));
    }
    {
        let mut s = crash(crashloop("api", 1, "Error", None, 1, 7));
        logs(
            &mut s,
            "api-1",
            Some("FATAL: environment variable DATABASE_URL is required\n"),
            None,
        );
        v.push(fx(
            "configerror-required-env",
            s,
            p.clone(),
            Cause::ConfigError,
        ));
    }
    v.push(fx(
        "configerror-ex-config-78",
        crash(crashloop("api", 78, "Error", None, 1, 7)),
        p.clone(),
        Cause::ConfigError,
    ));
    // --- DependencyDNSFailure
    for (name, line) in [
        (
            "dns-go",
            "2026/11/23 09:58:00 fatal: dial tcp: lookup mysql.shop.svc.cluster.local on 10.96.0.10:53: no such host",
        ),
        ("dns-node", "Error: getaddrinfo ENOTFOUND redis-master"),
        (
            "dns-python",
            "socket.gaierror: [Errno -3] Temporary failure in name resolution",
        ),
        (
            "dns-java",
            "java.net.UnknownHostException: kafka-0.kafka-headless: Name or service not known",
        ),
    ] {
        let mut s = crash(crashloop("api", 1, "Error", None, 20, 6));
        logs(&mut s, "api-1", Some(&format!("starting\n{line}\n")), None);
        v.push(fx(name, s, p.clone(), Cause::DependencyDNSFailure));
    }
    // --- CommandNotFound
    v.push(fx("cmdnotfound-docker-127", crash(crashloop("api", 127, "ContainerCannotRun", Some("OCI runtime create failed: container_linux.go:349: starting container process caused \"exec: \\\"/app/server\\\": stat /app/server: no such file or directory\": unknown"), 0, 3)), p.clone(), Cause::CommandNotFound));
    v.push(fx("cmdnotfound-containerd-128", crash(crashloop("api", 128, "StartError", Some("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"serve\": executable file not found in $PATH: unknown"), 0, 3)), p.clone(), Cause::CommandNotFound));
    v.push(fx(
        "cmdnotfound-shell-127",
        crash(crashloop("api", 127, "Error", None, 0, 3)),
        p.clone(),
        Cause::CommandNotFound,
    ));
    v.push(fx("cmdnotfound-waiting-runcontainererror", crash(waiting("api", "RunContainerError", "failed to start container \"4f1c\": Error response from daemon: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"gunicorn\": executable file not found in $PATH: unknown")), p.clone(), Cause::CommandNotFound));
    // --- CommandNotExecutable
    v.push(fx(
        "cmdnotexec-126",
        crash(crashloop("api", 126, "Error", None, 0, 3)),
        p.clone(),
        Cause::CommandNotExecutable,
    ));
    v.push(fx("cmdnotexec-permission-denied", crash(crashloop("api", 128, "StartError", Some("failed to create containerd task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/app/start.sh\": permission denied: unknown"), 0, 3)), p.clone(), Cause::CommandNotExecutable));
    // --- KilledBySignal
    {
        let mut s = crash(crashloop("api", 137, "Error", None, 40_000, 1));
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: eth0: link up\n",
        );
        v.push(fx(
            "killedbysignal-137-no-oom",
            s,
            p.clone(),
            Cause::KilledBySignal,
        ));
    }
    v.push(fx(
        "killedbysignal-sigint-130",
        crash(crashloop("api", 130, "Error", None, 4000, 1)),
        p.clone(),
        Cause::KilledBySignal,
    ));
    v.push(fx(
        "killedbysignal-sigterm-143",
        crash(crashloop("api", 143, "Error", None, 4000, 1)),
        p.clone(),
        Cause::KilledBySignal,
    ));
    // --- MissingConfigOrSecret
    v.push(fx(
        "missing-configmap",
        crash(waiting(
            "api",
            "CreateContainerConfigError",
            "configmap \"app-config\" not found",
        )),
        p.clone(),
        Cause::MissingConfigOrSecret,
    ));
    v.push(fx(
        "missing-secret",
        crash(waiting(
            "api",
            "CreateContainerConfigError",
            "secret \"db-password\" not found",
        )),
        p.clone(),
        Cause::MissingConfigOrSecret,
    ));
    v.push(fx(
        "missing-key",
        crash(waiting(
            "api",
            "CreateContainerConfigError",
            "couldn't find key url in ConfigMap shop/app-config",
        )),
        p.clone(),
        Cause::MissingConfigOrSecret,
    ));
    v.push(fx(
        "missing-configmap-volume",
        sandbox(
            "FailedMount",
            "MountVolume.SetUp failed for volume \"config\" : configmap \"app-config\" not found",
        ),
        p.clone(),
        Cause::MissingConfigOrSecret,
    ));
    // --- SubPathMountStale
    v.push(fx("subpath-containerd-128", crash(crashloop("api", 128, "StartError", Some("failed to create containerd task: OCI runtime create failed: container_linux.go:345: starting container process caused \"process_linux.go:424: container init caused \\\"rootfs_linux.go:58: mounting \\\\\\\"/var/lib/kubelet/pods/211d53f4/volume-subpaths/manage-config-volume/manage/0\\\\\\\" to rootfs \\\\\\\"/run/containerd/io.containerd.runtime.v1.linux/k8s.io/e674/rootfs\\\\\\\" at \\\\\\\"/app/resources/application.properties\\\\\\\" caused \\\\\\\"no such file or directory\\\\\\\"\\\"\": unknown"), 0, 5)), p.clone(), Cause::SubPathMountStale));
    v.push(fx("subpath-waiting", crash(waiting("api", "CreateContainerError", "Error: failed to prepare subPath for volumeMount \"cfg\" of container \"api\": lstat /var/lib/kubelet/pods/1/volume-subpaths/cfg/api/0: no such file or directory")), p.clone(), Cause::SubPathMountStale));

    // --- InsufficientResources
    v.push(fx("sched-insufficient-handbook", sched("0/4 nodes are available: 1 node(s) had no available volume zone, 2 Insufficient cpu, 3 Insufficient memory."), p.clone(), Cause::InsufficientResources));
    v.push(fx("sched-insufficient-new-preemption", sched("0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 Insufficient memory. preemption: 0/5 nodes are available: 1 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod."), p.clone(), Cause::InsufficientResources));
    v.push(fx(
        "sched-insufficient-gpu",
        sched("0/3 nodes are available: 3 Insufficient nvidia.com/gpu."),
        p.clone(),
        Cause::InsufficientResources,
    ));
    v.push(fx(
        "sched-too-many-pods",
        sched("0/2 nodes are available: 2 Too many pods."),
        p.clone(),
        Cause::InsufficientResources,
    ));
    {
        let mut s = base();
        let mut pd = pending_pod("api-1", 900);
        pd.status.as_mut().unwrap().conditions = Some(serde_json::from_value(json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}])).unwrap());
        s.pods.push(pd);
        v.push(fx(
            "sched-insufficient-condition-only",
            s,
            p.clone(),
            Cause::InsufficientResources,
        ));
    }
    // --- NodeSelectorMismatch
    v.push(fx(
        "sched-selector-old",
        sched("0/3 nodes are available: 3 node(s) didn't match node selector."),
        p.clone(),
        Cause::NodeSelectorMismatch,
    ));
    v.push(fx("sched-selector-new", sched("0/6 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 5 node(s) didn't match Pod's node affinity/selector. preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."), p.clone(), Cause::NodeSelectorMismatch));
    // --- UntoleratedTaint
    v.push(fx(
        "sched-taint-old",
        sched("0/3 nodes are available: 3 node(s) had taints that the pod didn't tolerate."),
        p.clone(),
        Cause::UntoleratedTaint,
    ));
    v.push(fx("sched-taint-braces", sched("0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, 2 node(s) had taint {special: true}, that the pod didn't tolerate."), p.clone(), Cause::UntoleratedTaint));
    v.push(fx("sched-taint-new", sched("0/4 nodes are available: 4 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."), p.clone(), Cause::UntoleratedTaint));
    // --- VolumeZoneConflict
    v.push(fx(
        "sched-volume-affinity",
        sched("0/3 nodes are available: 3 node(s) had volume node affinity conflict."),
        p.clone(),
        Cause::VolumeZoneConflict,
    ));
    v.push(fx(
        "sched-volume-zone",
        sched("0/3 nodes are available: 3 node(s) had no available volume zone."),
        p.clone(),
        Cause::VolumeZoneConflict,
    ));
    // --- UnboundPVC
    {
        let mut s = sched(
            "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        );
        s.persistent_volume_claims.push(serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "shop"}, "spec": {"storageClassName": "fast"}, "status": {"phase": "Pending"}})).unwrap());
        v.push(fx("sched-unbound-pvc-new", s, p.clone(), Cause::UnboundPVC));
    }
    v.push(fx(
        "sched-unbound-pvc-old",
        sched("pod has unbound immediate PersistentVolumeClaims (repeated 4 times)"),
        p.clone(),
        Cause::UnboundPVC,
    ));
    // --- PodAffinityConflict
    v.push(fx(
        "sched-anti-affinity",
        sched("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."),
        p.clone(),
        Cause::PodAffinityConflict,
    ));
    v.push(fx(
        "sched-anti-affinity-old",
        sched(
            "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules.",
        ),
        p.clone(),
        Cause::PodAffinityConflict,
    ));
    v.push(fx(
        "sched-affinity",
        sched("0/3 nodes are available: 3 node(s) didn't match pod affinity rules."),
        p.clone(),
        Cause::PodAffinityConflict,
    ));
    // --- SchedulerUnavailable
    {
        let mut s = base();
        s.pods.push(pending_pod("api-1", 1200));
        v.push(fx(
            "scheduler-down-no-events",
            s,
            p.clone(),
            Cause::SchedulerUnavailable,
        ));
    }
    {
        let mut s = base();
        let mut pd = pending_pod("api-1", 900);
        pd.spec.as_mut().unwrap().scheduler_name = Some("volcano".into());
        s.pods.push(pd);
        s.events.push(pod_event(
            "other-1",
            "Scheduled",
            "Successfully assigned shop/other-1 to n2",
            1,
        ));
        v.push(fx(
            "scheduler-custom-name",
            s,
            p.clone(),
            Cause::SchedulerUnavailable,
        ));
    }

    // --- NodeDiskFull
    v.push(fx("diskfull-docker-sandbox", sandbox("FailedCreatePodSandBox", "Failed create pod sandbox: rpc error: code = Unknown desc = failed to create a sandbox for pod \"apigateway-6dc48bf8b6-l8xrw\": Error response from daemon: mkdir /var/lib/docker/aufs/mnt/1f09d6c1c9f24e8daaea5bf33a4230de7dbc758e3b22785e8ee21e3e3d921214-init: no space left on device"), p.clone(), Cause::NodeDiskFull));
    v.push(fx("diskfull-containerd-create", crash(waiting("api", "CreateContainerError", "failed to create containerd container: failed to prepare extraction snapshot \"extract-1\": mkdir /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/311: no space left on device")), p.clone(), Cause::NodeDiskFull));
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Docker,
            "Nov 23 09:19:49 n1 dockerd[4822]: time=\"2026-11-23T09:19:49.903943652+08:00\" level=error msg=\"Failed to log msg \\\"\\\" for logger json-file: write /opt/docker/containers/5492/5492-json.log: no space left on device\"\n",
        );
        facts(
            &mut s,
            "n1",
            json!({"disks": [{"path": "/var/lib/docker", "purpose": "runtime", "bytesTotal": 107374182400u64, "bytesUsed": 107300000000u64, "inodesTotal": 6553600, "inodesUsed": 120000}]}),
        );
        v.push(fx(
            "diskfull-node-logs-and-facts",
            s,
            n1.clone(),
            Cause::NodeDiskFull,
        ));
    }
    // --- MemoryFragmentation
    {
        let mut s = sandbox(
            "FailedCreatePodSandBox",
            "Failed create pod sandbox: rpc error: code = Unknown desc = failed to start sandbox container for pod \"web-1\": Error response from daemon: OCI runtime create failed: container_linux.go:348: starting container process caused \"process_linux.go:301: running exec setns process for init caused \\\"fork/exec /proc/self/exe: cannot allocate memory\\\"\": unknown",
        );
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: runc:[1:CHILD]: page allocation failure: order:6, mode:0x10c0d0\nkernel: mysqld: page allocation failure. order:4, mode:0x10c0d0\n",
        );
        v.push(fx(
            "fragmentation-sandbox-and-kernel",
            s,
            p.clone(),
            Cause::MemoryFragmentation,
        ));
    }
    {
        let mut s = base();
        facts(
            &mut s,
            "n1",
            json!({"buddyinfo": [
            {"numaNode": 0, "zone": "DMA", "freeBlocks": [1, 1, 1, 0, 2, 1, 1, 0, 1, 1, 3]},
            {"numaNode": 0, "zone": "Normal", "freeBlocks": [81304, 20331, 1210, 0, 0, 0, 0, 0, 0, 0, 0]}]}),
        );
        v.push(fx(
            "fragmentation-buddyinfo",
            s,
            n1.clone(),
            Cause::MemoryFragmentation,
        ));
    }
    // --- MemoryLimitTooLow
    {
        let mut s = sandbox(
            "FailedCreatePodSandBox",
            "Failed create pod sandbox: rpc error: code = Unknown desc = failed to start sandbox container for pod \"api-1\": Error response from daemon: OCI runtime create failed: container_linux.go:348: starting container process caused \"process_linux.go:301: running exec setns process for init caused \\\"signal: killed\\\"\": unknown",
        );
        s.pods[0].spec.as_mut().unwrap().containers[0]
            .resources
            .as_mut()
            .unwrap()
            .limits
            .as_mut()
            .unwrap()
            .insert(
                "memory".into(),
                kubemedic_model::objects::Quantity("1024m".into()),
            );
        v.push(fx(
            "memlimit-1024m-signal-killed",
            s,
            p.clone(),
            Cause::MemoryLimitTooLow,
        ));
    }
    {
        let mut s = base();
        let mut pd = creating_pod("api-1");
        pd.spec.as_mut().unwrap().containers[0]
            .resources
            .as_mut()
            .unwrap()
            .limits
            .as_mut()
            .unwrap()
            .insert(
                "memory".into(),
                kubemedic_model::objects::Quantity("2Mi".into()),
            );
        s.pods.push(pd);
        v.push(fx(
            "memlimit-2Mi-static",
            s,
            p.clone(),
            Cause::MemoryLimitTooLow,
        ));
    }
    // --- ImagePullFailure
    v.push(fx("imagepull-generic", pull("ErrImagePull", "rpc error: code = Unknown desc = failed to pull and unpack image \"registry.example.com/shop/api:1.4.2\": failed to extract layer sha256:9a1b: unexpected EOF", None), p.clone(), Cause::ImagePullFailure));
    // --- VolumeAttachFailure
    v.push(fx("volume-multi-attach", sandbox("FailedAttachVolume", "Multi-Attach error for volume \"pvc-3f2a\" Volume is already exclusively attached to one node and can't be attached to another"), p.clone(), Cause::VolumeAttachFailure));
    v.push(fx("volume-mount-timeout", sandbox("FailedMount", "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data kube-api-access-x]: timed out waiting for the condition"), p.clone(), Cause::VolumeAttachFailure));
    // --- CNIFailure
    v.push(fx("cni-docker-ipam", sandbox("FailedCreatePodSandBox", "Failed create pod sandbox: rpc error: code = Unknown desc = NetworkPlugin cni failed to set up pod \"api-1_shop\" network: failed to allocate for range 0: no IP addresses available in range set: 172.16.1.2-172.16.1.254"), p.clone(), Cause::CNIFailure));
    v.push(fx("cni-containerd-calico", sandbox("FailedCreatePodSandBox", "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"4be1\": plugin type=\"calico\" failed (add): stat /var/lib/calico/nodename: no such file or directory: check that the calico/node container is running and has mounted /var/lib/calico/"), p.clone(), Cause::CNIFailure));
    v.push(fx("cni-not-ready", sandbox("NetworkNotReady", "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"), p.clone(), Cause::CNIFailure));
    // --- ContainerNameConflict
    v.push(fx("name-conflict", sandbox("FailedCreatePodSandBox", "Failed create pod sandbox: rpc error: code = Unknown desc = failed to create a sandbox for pod \"lomp-ext-d8c8b8c46-4v8tl\": Error response from daemon: Conflict. The container name \"/k8s_POD_lomp-ext-d8c8b8c46-4v8tl_default_65046a06-f795-11e9-9bb6-b67fb7a70bad_0\" is already in use by container \"30aa3f5847e0\". You have to remove (or rename) that container to be able to reuse that name."), p.clone(), Cause::ContainerNameConflict));
    // --- RuntimeVersionConflict
    v.push(fx("ttrpc-docker", sandbox("FailedCreatePodSandBox", "Failed create pod sandbox: rpc error: code = Unknown desc = failed to start sandbox container for pod \"nginx-7db9fccd9b-2j6dh\": Error response from daemon: ttrpc: client shutting down: read unix @->@/containerd-shim/moby/de2bfeefc999af42783115acca62745e6798981dff75f4148f/shim.sock: read: connection reset by peer: unknown"), p.clone(), Cause::RuntimeVersionConflict));
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Containerd,
            "time=\"2026-11-23T09:58:00Z\" level=error msg=\"failed to delete\" error=\"ttrpc: client shutting down: read unix @->@/containerd-shim/k8s.io/abc/shim.sock: read: connection reset by peer\"\n",
        );
        v.push(fx(
            "ttrpc-node-log",
            s,
            n1.clone(),
            Cause::RuntimeVersionConflict,
        ));
    }
    // --- RuntimeUnresponsive
    v.push(fx("runtime-deadline-sandbox", sandbox("FailedCreatePodSandBox", "Failed create pod sandbox: rpc error: code = DeadlineExceeded desc = context deadline exceeded"), p.clone(), Cause::RuntimeUnresponsive));
    {
        let mut s = base();
        s.nodes[0] = node_ready(
            "n1",
            "False",
            "KubeletNotReady",
            "PLEG is not healthy: pleg was last seen active 3m12.5s ago; threshold is 3m0s",
        );
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kubelet,
            "I1123 09:55:00.1 1234 kubelet.go:1823] skipping pod synchronization - [PLEG is not healthy: pleg was last seen active 3m12.5s ago; threshold is 3m0s]\nE1123 09:55:30.2 1234 remote_runtime.go:168] ListPodSandbox with filter nil from runtime service failed: rpc error: code = DeadlineExceeded desc = context deadline exceeded\n",
        );
        v.push(fx(
            "runtime-pleg-node",
            s,
            n1.clone(),
            Cause::RuntimeUnresponsive,
        ));
    }
    {
        let mut s = terminating(
            json!({"metadata": {"finalizers": []}, "status": {"containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "", "state": {"running": {"startedAt": ago(9000)}}}]}}),
        );
        s.events.push(pod_event(
            "api-1",
            "Killing",
            "Killing container with id docker://apigateway:Need to kill Pod",
            735,
        ));
        s.events.push(pod_event("api-1", "FailedSync", "error determining status: rpc error: code = DeadlineExceeded desc = context deadline exceeded", 408));
        v.push(fx(
            "runtime-terminating-need-to-kill",
            s,
            p.clone(),
            Cause::RuntimeUnresponsive,
        ));
    }

    // --- Image pulls
    v.push(fx("image-notfound-docker", pull("ImagePullBackOff", "Back-off pulling image \"imroc/test:v0.2\"", Some("Failed to pull image \"imroc/test:v0.2\": rpc error: code = Unknown desc = Error response from daemon: manifest for imroc/test:v0.2 not found")), p.clone(), Cause::ImageNotFound));
    v.push(fx("image-notfound-containerd", pull("ErrImagePull", "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/nginx:1.99\": failed to resolve reference \"docker.io/library/nginx:1.99\": docker.io/library/nginx:1.99: not found", None), p.clone(), Cause::ImageNotFound));
    v.push(fx("image-notfound-manifest-unknown", pull("ImagePullBackOff", "Back-off pulling image \"registry.example.com/shop/api:1.4.2\"", Some("Failed to pull image \"registry.example.com/shop/api:1.4.2\": reading manifest 1.4.2 in registry.example.com/shop/api: manifest unknown: manifest unknown")), p.clone(), Cause::ImageNotFound));
    v.push(fx("registry-auth-containerd-401", pull("ErrImagePull", "failed to pull and unpack image \"registry.example.com/shop/api:1.4.2\": failed to resolve reference \"registry.example.com/shop/api:1.4.2\": failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized", None), p.clone(), Cause::RegistryAuthFailure));
    v.push(fx("registry-auth-docker-basic", pull("ImagePullBackOff", "Back-off pulling image \"registry.example.com/shop/api:1.4.2\"", Some("Failed to pull image \"registry.example.com/shop/api:1.4.2\": rpc error: code = Unknown desc = Error response from daemon: Get https://registry.example.com/v2/shop/api/manifests/1.4.2: no basic auth credentials")), p.clone(), Cause::RegistryAuthFailure));
    v.push(fx("registry-auth-required", pull("ErrImagePull", "Error response from daemon: Head \"https://ghcr.io/v2/acme/api/manifests/1.0\": unauthorized: authentication required", None), p.clone(), Cause::RegistryAuthFailure));
    v.push(fx("insecure-registry", pull("ErrImagePull", "rpc error: code = Unknown desc = failed to pull and unpack image \"10.0.0.5:5000/shop/api:1.4.2\": failed to resolve reference \"10.0.0.5:5000/shop/api:1.4.2\": failed to do request: Head \"https://10.0.0.5:5000/v2/shop/api/manifests/1.4.2\": http: server gave HTTP response to HTTPS client", None), p.clone(), Cause::InsecureRegistry));
    v.push(fx("registry-cert-docker", pull("ImagePullBackOff", "Back-off pulling image \"harbor.local/shop/api:1.4.2\"", Some("Failed to pull image \"harbor.local/shop/api:1.4.2\": rpc error: code = Unknown desc = Error response from daemon: Get https://harbor.local/v2/: x509: certificate signed by unknown authority")), p.clone(), Cause::RegistryCertUntrusted));
    v.push(fx("registry-cert-containerd", pull("ErrImagePull", "failed to do request: Head \"https://harbor.local/v2/shop/api/manifests/1.4.2\": tls: failed to verify certificate: x509: certificate signed by unknown authority", None), p.clone(), Cause::RegistryCertUntrusted));
    v.push(fx("pull-timeout-client", pull("ErrImagePull", "rpc error: code = Unknown desc = Error response from daemon: Get \"https://registry-1.docker.io/v2/\": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)", None), p.clone(), Cause::ImagePullTimeout));
    v.push(fx(
        "pull-timeout-deadline",
        pull(
            "ErrImagePull",
            "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            None,
        ),
        p.clone(),
        Cause::ImagePullTimeout,
    ));
    v.push(fx(
        "pull-timeout-io",
        pull(
            "ErrImagePull",
            "failed to copy: read tcp 10.0.1.5:51234->104.18.1.2:443: read: i/o timeout",
            None,
        ),
        p.clone(),
        Cause::ImagePullTimeout,
    ));
    v.push(fx("registry-unreachable-dns", pull("ErrImagePull", "failed to do request: Head \"https://registry.internal/v2/shop/api/manifests/1.4.2\": dial tcp: lookup registry.internal on 10.0.0.2:53: no such host", None), p.clone(), Cause::RegistryUnreachable));
    v.push(fx("registry-unreachable-refused", pull("ErrImagePull", "Error response from daemon: Get https://10.0.0.9/v2/: dial tcp 10.0.0.9:443: connect: connection refused", None), p.clone(), Cause::RegistryUnreachable));
    v.push(fx(
        "registry-unavailable-reason",
        pull("RegistryUnavailable", "", None),
        p.clone(),
        Cause::RegistryUnreachable,
    ));
    v.push(fx("invalid-image-name", pull("InvalidImageName", "Failed to apply default image tag \"Nginx:Latest\": couldn't parse image reference \"Nginx:Latest\": invalid reference format: repository name must be lowercase", None), p.clone(), Cause::InvalidImageName));

    // --- Terminating
    v.push(fx(
        "finalizer-blocked",
        terminating(json!({"metadata": {"finalizers": ["example.com/cleanup"]}})),
        p.clone(),
        Cause::FinalizerBlocked,
    ));
    {
        let mut s = terminating(json!({}));
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kubelet,
            "Nov 23 09:37:21 n1 kubelet[14109]: E1123 09:37:21.922965 14109 remote_runtime.go:250] RemoveContainer \"19d837c77a3c\" from runtime service failed: rpc error: code = Unknown desc = failed to remove container \"19d837c77a3c\": Error response from daemon: container 19d837c77a3c: driver \"overlay2\" failed to remove root filesystem: remove /data/docker/overlay2/b1aea29c590a/diff/usr/bin/bash: operation not permitted\n",
        );
        v.push(fx(
            "immutable-file-docker",
            s,
            p.clone(),
            Cause::ImmutableFile,
        ));
    }
    {
        let mut s = terminating(json!({}));
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Containerd,
            "time=\"2026-11-23T09:00:00Z\" level=error msg=\"failed to remove rootfs\" error=\"unlinkat /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/88/fs/etc/resolv.conf: operation not permitted\"\n",
        );
        v.push(fx(
            "immutable-file-containerd",
            s,
            p.clone(),
            Cause::ImmutableFile,
        ));
    }
    {
        let mut s = terminating(
            json!({"status": {"containerStatuses": [{"name": "api", "ready": true, "restartCount": 0, "image": "img", "imageID": "", "state": {"running": {"startedAt": ago(90000)}}}]}}),
        );
        s.nodes[0] = node_ready(
            "n1",
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        );
        v.push(fx("nodelost-terminating", s, p.clone(), Cause::NodeLost));
    }

    // --- Nodes
    v.push(fx(
        "xtables-field-report",
        xtables_seed(),
        n1.clone(),
        Cause::IptablesLockContention,
    ));
    {
        let mut s = base();
        s.nodes[0] = node_ready(
            "n1",
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        );
        v.push(fx("kubelet-stopped", s, n1.clone(), Cause::KubeletStopped));
    }
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure", "message": "kubelet has disk pressure"}, {"type": "Ready", "status": "True"}]),
        );
        s.events.push(event(
            "Node",
            "",
            "n1",
            "EvictionThresholdMet",
            "Attempting to reclaim ephemeral-storage",
            3,
        ));
        v.push(fx("disk-pressure", s, n1.clone(), Cause::NodeDiskPressure));
    }
    {
        let mut s = base();
        s.pods.push(pod("api-1", json!({"status": {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 1Gi. ", "conditions": [], "containerStatuses": []}})));
        v.push(fx(
            "disk-pressure-evicted-pod",
            s,
            p.clone(),
            Cause::NodeDiskPressure,
        ));
    }
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory", "message": "kubelet has insufficient memory available"}, {"type": "Ready", "status": "True"}]),
        );
        v.push(fx(
            "memory-pressure",
            s,
            n1.clone(),
            Cause::NodeMemoryPressure,
        ));
    }
    {
        let mut s = base();
        s.pods.push(pod("api-1", json!({"status": {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 92Mi. Container api was using 1.2Gi, request is 256Mi, has larger consumption of memory. ", "conditions": [], "containerStatuses": []}})));
        v.push(fx(
            "memory-pressure-evicted-pod",
            s,
            p.clone(),
            Cause::NodeMemoryPressure,
        ));
    }
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "PIDPressure", "status": "True", "reason": "KubeletHasInsufficientPID", "message": "kubelet has insufficient PID available"}, {"type": "Ready", "status": "True"}]),
        );
        v.push(fx("pid-pressure", s, n1.clone(), Cause::NodePIDPressure));
    }
    {
        let mut s = base();
        facts(
            &mut s,
            "n1",
            json!({"load": {"load1": 34.64, "load5": 35.8, "load15": 35.76, "cores": 8, "iowaitPercent": 46.0, "userPercent": 9.5, "systemPercent": 3.1, "procsBlocked": 28}, "blockDevices": [{"device": "vda", "utilPercent": 100.0}]}),
        );
        v.push(fx("high-iowait", s, n1.clone(), Cause::HighIOWait));
    }
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: INFO: task docker:20744 blocked for more than 120 seconds.\nkernel: \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n",
        );
        v.push(fx("kernel-hung-task", s, n1.clone(), Cause::KernelDeadlock));
    }
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "KernelDeadlock", "status": "True", "reason": "DockerHung", "message": "kernel: INFO: task docker:20744 blocked for more than 120 seconds."}, {"type": "Ready", "status": "True"}]),
        );
        v.push(fx(
            "kernel-deadlock-npd-condition",
            s,
            n1.clone(),
            Cause::KernelDeadlock,
        ));
    }
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: BUG: unable to handle kernel NULL pointer dereference at 0000000000000010\nkernel: Oops: 0000 [#1] SMP\n",
        );
        v.push(fx("kernel-oops", s, n1.clone(), Cause::KernelOops));
    }
    {
        let mut s = base();
        s.events.push(event(
            "Node",
            "",
            "n1",
            "KernelOops",
            "kernel: BUG: unable to handle kernel NULL pointer dereference at TESTING",
            1,
        ));
        v.push(fx(
            "kernel-oops-npd-event",
            s,
            n1.clone(),
            Cause::KernelOops,
        ));
    }
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: EXT4-fs error (device sda1): ext4_journal_check_start:56: Detected aborted journal\nkernel: EXT4-fs (sda1): Remounting filesystem read-only\n",
        );
        v.push(fx(
            "fs-readonly-ext4",
            s,
            n1.clone(),
            Cause::FilesystemReadOnly,
        ));
    }
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "ReadonlyFilesystem", "status": "True", "reason": "FilesystemIsReadOnly", "message": "Remounting filesystem read-only"}, {"type": "Ready", "status": "True"}]),
        );
        v.push(fx(
            "fs-readonly-npd-condition",
            s,
            n1.clone(),
            Cause::FilesystemReadOnly,
        ));
    }
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kubelet,
            "E1123 09:50:01 1 reflector.go:138] Failed to watch *v1.Pod: Get \"https://10.0.0.1:6443/api/v1/pods\": x509: certificate has expired or is not yet valid: current time 2026-11-23T09:50:01Z is before 2026-12-01T00:00:00Z\nE1123 09:50:11 1 reflector.go:138] Failed to watch *v1.Node: x509: certificate has expired or is not yet valid\nE1123 09:50:21 1 kubelet_node_status.go:470] Error updating node status: x509: certificate has expired or is not yet valid\n",
        );
        facts(
            &mut s,
            "n1",
            json!({"ntp": {"synchronized": false, "maxErrorSeconds": 16.0}}),
        );
        v.push(fx("clock-skew-x509-ntp", s, n1.clone(), Cause::ClockSkew));
    }
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "NTPProblem", "status": "True", "reason": "NTPIsDown", "message": "NTP service is not running"}, {"type": "Ready", "status": "True"}]),
        );
        v.push(fx("clock-skew-npd", s, n1.clone(), Cause::ClockSkew));
    }
    {
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: nf_conntrack: nf_conntrack: table full, dropping packet\nkernel: nf_conntrack: table full, dropping packet\n",
        );
        v.push(fx(
            "conntrack-kernel",
            s,
            n1.clone(),
            Cause::ConntrackTableFull,
        ));
    }
    {
        let mut s = base();
        facts(
            &mut s,
            "n1",
            json!({"conntrack": {"count": 262000, "max": 262144}}),
        );
        v.push(fx(
            "conntrack-facts",
            s,
            n1.clone(),
            Cause::ConntrackTableFull,
        ));
    }
    {
        let mut s = base();
        facts(
            &mut s,
            "n1",
            json!({"tcp": {"listenDrops": 182311, "listenOverflows": 180002, "backlogDrops": 1200, "listenDropsDelta": 540}}),
        );
        v.push(fx("syn-backlog", s, n1.clone(), Cause::SYNBacklogOverflow));
    }

    // --- Networking and services
    v.push(fx(
        "dns-partial-replica-logs",
        dns_partial(),
        ObjectRef::namespaced("Deployment", "kube-system", "coredns"),
        Cause::DNSPartialFailure,
    ));
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "DNSPartialFailure", "status": "True", "reason": "DNSProbesDisagree", "message": "2 of 6 DNS replicas fail to resolve kubernetes.io"}, {"type": "Ready", "status": "True"}]),
        );
        v.push(fx(
            "dns-partial-agent-condition",
            s,
            n1.clone(),
            Cause::DNSPartialFailure,
        ));
    }
    {
        let mut s = base();
        s.events.push(event(
            "Service",
            "kube-system",
            "kube-dns",
            "DNSPartialFailure",
            "replicas 10.244.3.4, 10.244.5.9 fail external lookups (SERVFAIL); 4 replicas answer",
            5,
        ));
        v.push(fx(
            "dns-partial-event",
            s,
            ObjectRef::namespaced("Service", "kube-system", "kube-dns"),
            Cause::DNSPartialFailure,
        ));
    }
    {
        let mut s = base();
        s.nodes[0] = node_conditions(
            "n1",
            json!([{"type": "NodePodNetworkDown", "status": "True", "reason": "NeighbourProbesFail", "message": "pod IPs on n1 unreachable from 5/5 other nodes"}, {"type": "Ready", "status": "True"}]),
        );
        v.push(fx(
            "pod-network-down-condition",
            s,
            n1.clone(),
            Cause::NodePodNetworkDown,
        ));
    }
    {
        let mut s = base();
        s.events.push(event(
            "Node",
            "",
            "n1",
            "NodePodNetworkDown",
            "neighbour probes to 10.244.1.0/24 failed from n2, n3, n4",
            3,
        ));
        v.push(fx(
            "pod-network-down-event",
            s,
            n1.clone(),
            Cause::NodePodNetworkDown,
        ));
    }
    v.push(fx(
        "svc-selector-typo",
        svc_fixture("api-svc", json!({"app": "apii"}), true, false),
        ObjectRef::namespaced("Service", "shop", "api-svc"),
        Cause::ServiceNoEndpoints,
    ));
    v.push(fx(
        "svc-unready-pods-slices",
        svc_fixture("api-svc", json!({"app": "api"}), false, true),
        ObjectRef::namespaced("Service", "shop", "api-svc"),
        Cause::ServiceNoEndpoints,
    ));
    v.push(fx(
        "svc-unready-pods-no-endpoint-objects",
        svc_fixture("api-svc", json!({"app": "api"}), false, false),
        ObjectRef::namespaced("Service", "shop", "api-svc"),
        Cause::ServiceNoEndpoints,
    ));
    {
        let mut s = base();
        let hostnet = json!({"spec": {"hostNetwork": true, "containers": [{"name": "api", "image": "registry.example.com/shop/agent:2", "ports": [{"containerPort": 9100, "hostPort": 9100}]}]}});
        s.pods.push(pod("agent-a", hostnet.clone()));
        let mut b = pod("api-1", hostnet);
        merge_status(&mut b, crashloop("api", 1, "Error", None, 3, 8));
        s.pods.push(b);
        logs(
            &mut s,
            "api-1",
            Some("level=fatal msg=\"listen tcp :9100: bind: address already in use\"\n"),
            None,
        );
        v.push(fx(
            "hostport-conflict",
            s,
            p.clone(),
            Cause::HostPortConflict,
        ));
    }
    v.push(fx(
        "lb-loopback",
        lb_loopback(),
        ObjectRef::namespaced("Service", "shop", "gateway"),
        Cause::LoadBalancerLoopback,
    ));
    v
}

/// Replaces the single container status of a pod and marks it not ready.
pub fn merge_status(p: &mut kubemedic_model::objects::Pod, status: serde_json::Value) {
    let st = p.status.as_mut().unwrap();
    st.container_statuses = Some(vec![serde_json::from_value(status).unwrap()]);
    st.conditions =
        Some(serde_json::from_value(json!([{"type": "Ready", "status": "False"}])).unwrap());
}

/// The node-notready seed: mass start with hostPort mappings on a node with ~31k iptables rules;
/// dockerd waits on the xtables lock held by kube-proxy, the kubelet sees PLEG unhealthy and
/// ContainerGCFailed, the node goes NotReady and new pods hang in ContainerCreating.
pub fn xtables_seed() -> Snapshot {
    let mut s = base();
    s.nodes[0] = node_ready(
        "n1",
        "False",
        "KubeletNotReady",
        "PLEG is not healthy: pleg was last seen active 4m2.1s ago; threshold is 3m0s",
    );
    node_log(
        &mut s,
        "n1",
        NodeLogSource::Docker,
        "Nov 23 09:27:47 paas-10-239-40-157 dockerd: is currently holding the xtables lock; waiting (47s) for it to exit...\\nAnother app is currently holding the xtables lock; waiting (49s) for it to exit...\\nAnother app is currently holding the xtables lock; waiting (51s) for it to exit...\\nAnother app is currently holding the xtables lock; waiting (53s) for it to exit...\\n\"\nMay 13 10:27:49 paas-10-239-40-157 dockerd: time=\"2021-05-13T10:27:49+08:00\" level=error msg=\"Handler for POST /containers/4f1c/start returned error: driver failed programming external connectivity on endpoint k8s_api: iptables failed: Another app is currently holding the xtables lock; waiting (57s) for it to exit...\"\n",
    );
    node_log(
        &mut s,
        "n1",
        NodeLogSource::Kubelet,
        "Nov 23 09:28:01 paas-10-239-40-157 kubelet: I1123 09:28:01.112 1841 kubelet.go:1775] skipping pod synchronization - [PLEG is not healthy: pleg was last seen active 3m5.3s ago; threshold is 3m0s]\nNov 23 09:28:05 paas-10-239-40-157 kubelet: E1123 09:28:05.402 1841 kubelet.go:1224] Container garbage collection failed: rpc error: code = DeadlineExceeded desc = context deadline exceeded\nNov 23 09:28:05 paas-10-239-40-157 kubelet: W1123 09:28:05.403 1841 event.go:200] Event(v1.ObjectReference{Kind:\"Node\", Name:\"paas-10-239-40-157\"}): type: 'Warning' reason: 'ContainerGCFailed' rpc error: code = DeadlineExceeded desc = context deadline exceeded\n",
    );
    node_log(
        &mut s,
        "n1",
        NodeLogSource::KubeProxy,
        "E1123 09:27:30.1 2231 proxier.go:1402] Failed to execute iptables-restore: exit status 4 (Another app is currently holding the xtables lock. Stopped waiting after 5s.)\n",
    );
    facts(
        &mut s,
        "n1",
        json!({"iptablesRules": 31245, "load": {"load1": 12.0, "load5": 11.0, "load15": 9.0, "cores": 32, "iowaitPercent": 1.0, "userPercent": 20.0, "systemPercent": 12.0}}),
    );
    s.events.push(event(
        "Node",
        "",
        "n1",
        "ContainerGCFailed",
        "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
        14,
    ));
    for i in 0..3 {
        let name = format!("api-7d4f8b9c6d-h{i}");
        let mut p = creating_pod(&name);
        p.spec.as_mut().unwrap().containers[0].ports = Some(
            serde_json::from_value(json!([{"containerPort": 8080, "hostPort": 31000 + i}]))
                .unwrap(),
        );
        s.pods.push(p);
        s.events.push(event("Pod", "shop", &name, "FailedCreatePodSandBox", "Failed create pod sandbox: rpc error: code = DeadlineExceeded desc = context deadline exceeded", 6));
    }
    s
}

fn dns_partial() -> Snapshot {
    let mut s = base();
    for i in 0..6 {
        let name = format!("coredns-5d78c9869d-r{i}");
        let mut p = pod(
            &name,
            json!({"metadata": {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "coredns-5d78c9869d", "uid": "rs-dns", "controller": true}]}}),
        );
        p.spec.as_mut().unwrap().containers[0].name = "coredns".into();
        p.status
            .as_mut()
            .unwrap()
            .container_statuses
            .as_mut()
            .unwrap()[0]
            .name = "coredns".into();
        s.pods.push(p);
        let text = if i < 2 {
            "[INFO] plugin/reload: Running configuration SHA512 = 591cf3\n[ERROR] plugin/errors: 2 kubernetes.io. A: read udp 10.244.1.5:42312->8.8.8.8:53: i/o timeout\n[ERROR] plugin/errors: 2 github.com. AAAA: read udp 10.244.1.5:51812->8.8.8.8:53: i/o timeout\n".to_string()
        } else {
            "[INFO] plugin/reload: Running configuration SHA512 = 591cf3\nCoreDNS-1.11.1\n"
                .to_string()
        };
        s.container_logs.insert(
            kubemedic_model::ContainerRef::new("kube-system", &name, "coredns"),
            kubemedic_model::ContainerLogs {
                current: Some(text),
                previous: None,
            },
        );
    }
    s
}

/// Service `name` in shop with `selector`; pods app=api exist (ready unless `!ready`);
/// `endpoints` adds an empty Endpoints object, `slices` an EndpointSlice with unready endpoints.
pub fn svc_fixture(
    name: &str,
    selector: serde_json::Value,
    endpoints: bool,
    slices: bool,
) -> Snapshot {
    let mut s = base();
    s.services.push(serde_json::from_value(json!({"metadata": {"name": name, "namespace": "shop"}, "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}})).unwrap());
    let ready = endpoints; // the typo fixture keeps ready pods; the others make them unready
    for i in 0..2 {
        let n = format!("api-7d4f8b9c6d-s{i}");
        if ready {
            s.pods.push(pod(&n, json!({})));
        } else {
            s.pods.push(pod(&n, json!({"status": {"conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "", "state": {"running": {"startedAt": ago(600)}}}]}})));
        }
    }
    if endpoints {
        s.endpoints.push(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "shop"}}))
                .unwrap(),
        );
    }
    if slices {
        s.endpoint_slices.push(serde_json::from_value(json!({"metadata": {"name": format!("{name}-abc"), "namespace": "shop", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.7"], "conditions": {"ready": false}}, {"addresses": ["10.244.1.8"], "conditions": {"ready": false}}]})).unwrap());
    }
    s
}

fn lb_loopback() -> Snapshot {
    let mut s = base();
    s.services.push(serde_json::from_value(json!({
        "metadata": {"name": "gateway", "namespace": "shop", "annotations": {"service.kubernetes.io/qcloud-loadbalancer-internal-subnetid": "subnet-3kd8f2x1"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "api"}, "ports": [{"port": 80}], "externalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.100"}]}}})).unwrap());
    s.pods.push(pod("api-7d4f8b9c6d-q1", json!({})));
    s.endpoints.push(serde_json::from_value(json!({"metadata": {"name": "gateway", "namespace": "shop"}, "subsets": [{"addresses": [{"ip": "10.244.1.7"}]}]})).unwrap());
    node_log(
        &mut s,
        "n1",
        NodeLogSource::KubeProxy,
        "I1123 08:00:00.1 1 server_others.go:269] \"Using ipvs Proxier\"\n",
    );
    let mut client = pod("web-1", json!({"metadata": {"labels": {"app": "web"}}}));
    client.metadata.owner_references = None;
    s.pods.push(client);
    s.container_logs.insert(kubemedic_model::ContainerRef::new("shop", "web-1", "api"), kubemedic_model::ContainerLogs {
        current: Some("2026-11-23T09:58:00Z WARN call http://10.0.0.100/orders failed: dial tcp 10.0.0.100:80: i/o timeout (4.0s)\n".into()), previous: None });
    s
}

/// Healthy snapshots: nothing at warning or above, and no finding of any cause they contain.
pub fn healthy() -> Vec<(&'static str, Snapshot)> {
    let mut v = Vec::new();
    {
        let mut s = base();
        s.pods.push(pod("api-7d4f8b9c6d-a", json!({})));
        s.pods.push(pod(
            "api-7d4f8b9c6d-b",
            serde_json::from_str(LIVENESS_SPEC).unwrap(),
        ));
        s.services.push(serde_json::from_value(json!({"metadata": {"name": "api", "namespace": "shop"}, "spec": {"selector": {"app": "api"}}})).unwrap());
        s.endpoints.push(serde_json::from_value(json!({"metadata": {"name": "api", "namespace": "shop"}, "subsets": [{"addresses": [{"ip": "10.244.1.7"}]}]})).unwrap());
        s.services.push(serde_json::from_value(json!({"metadata": {"name": "external-db", "namespace": "shop"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}})).unwrap());
        s.services.push(serde_json::from_value(json!({"metadata": {"name": "manual", "namespace": "shop"}, "spec": {"ports": [{"port": 5432}]}})).unwrap());
        facts(
            &mut s,
            "n1",
            json!({"iptablesRules": 1800, "conntrack": {"count": 12000, "max": 262144},
            "buddyinfo": [{"numaNode": 0, "zone": "Normal", "freeBlocks": [5000, 3000, 1500, 800, 300, 100, 50, 20, 10, 5, 2]}],
            "load": {"load1": 1.2, "load5": 1.0, "load15": 0.9, "cores": 8, "iowaitPercent": 0.5, "userPercent": 12.0, "systemPercent": 3.0},
            "tcp": {"listenDrops": 3, "listenOverflows": 3, "backlogDrops": 0, "listenDropsDelta": 0},
            "disks": [{"path": "/var/lib/containerd", "purpose": "runtime", "bytesTotal": 100, "bytesUsed": 40, "inodesTotal": 100, "inodesUsed": 10}],
            "ntp": {"synchronized": true, "maxErrorSeconds": 0.01}}),
        );
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kubelet,
            "I1123 09:00:00.1 1 kubelet.go:2000] \"SyncLoop ADD\" source=\"api\" pods=[\"shop/api-7d4f8b9c6d-a\"]\nE1123 09:10:00.1 1 controller.go:145] \"Failed to ensure lease exists, will retry\" err=\"Get \\\"https://10.0.0.1:6443/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1\\\": context deadline exceeded\"\n",
        );
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "kernel: eth0: renamed from veth1\nkernel: IPv6: ADDRCONF(NETDEV_CHANGE): cali1: link becomes ready\n",
        );
        node_log(
            &mut s,
            "n1",
            NodeLogSource::KubeProxy,
            "I1123 08:00:00.1 1 server_others.go:269] \"Using iptables Proxier\"\n",
        );
        v.push(("healthy-cluster", s));
    }
    {
        let mut s = base();
        s.pods.push(pod("report-29001-x7k2p", json!({
            "metadata": {"ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "report-29001", "uid": "j1", "controller": true}]},
            "spec": {"restartPolicy": "Never"},
            "status": {"phase": "Succeeded", "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
                "containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "image": "img", "imageID": "",
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": ago(7200), "finishedAt": ago(7000)}}}]}})));
        v.push(("succeeded-job-pod", s));
    }
    {
        // The pod-restarts seed, three days after the last crash: Running, Ready, 140 restarts.
        let mut s = base();
        s.pods.push(pod("pod1-deployment-56744f755c-hx2w7", json!({"status": {"containerStatuses": [{
            "name": "api", "ready": true, "restartCount": 140, "image": "img", "imageID": "",
            "state": {"running": {"startedAt": ago(259_000)}},
            "lastState": {"terminated": {"exitCode": 2, "reason": "Error", "startedAt": ago(300_000), "finishedAt": ago(259_100)}}}]}})));
        logs(
            &mut s,
            "pod1-deployment-56744f755c-hx2w7",
            Some(GO_PANIC),
            Some("ok\n"),
        );
        v.push(("restarted-long-ago", s));
    }
    {
        let mut s = base();
        s.pods.push(pending_pod("api-7d4f8b9c6d-new", 5));
        v.push(("pending-seconds-old", s));
    }
    {
        let mut s = base();
        let mut p = pod(
            "api-7d4f8b9c6d-bye",
            json!({"metadata": {"deletionTimestamp": ago(-20), "deletionGracePeriodSeconds": 30}}),
        );
        p.status.as_mut().unwrap().conditions =
            Some(serde_json::from_value(json!([{"type": "Ready", "status": "False"}])).unwrap());
        s.pods.push(p);
        v.push(("terminating-just-now", s));
    }
    {
        // Evicted two days ago; its replacement runs elsewhere. At most an info note.
        let mut s = base();
        s.pods.push(pod("api-7d4f8b9c6d-ev", json!({"status": {"phase": "Failed", "reason": "Evicted", "startTime": ago(300_000),
            "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 92Mi. ",
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": ago(180_000)}], "containerStatuses": []}})));
        v.push(("evicted-long-ago", s));
    }
    {
        // Creating for a few seconds: no events yet.
        let mut s = base();
        s.pods.push(creating_pod("api-7d4f8b9c6d-c"));
        s.events.push(pod_event(
            "api-7d4f8b9c6d-c",
            "Scheduled",
            "Successfully assigned shop/api-7d4f8b9c6d-c to n1",
            1,
        ));
        s.events.push(pod_event(
            "api-7d4f8b9c6d-c",
            "Pulling",
            "Pulling image \"registry.example.com/shop/api:1.4.2\"",
            1,
        ));
        v.push(("creating-normally", s));
    }
    {
        // Ready now; the agent's log rings still hold last week's xtables storm and OOM kill in
        // every stamp shape (syslog, klog, the agent's RFC 3339): history, not a present problem.
        let mut s = base();
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Docker,
            "Nov 16 09:27:47 n1 dockerd: Another app is currently holding the xtables lock; waiting (49s) for it to exit...\n",
        );
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kubelet,
            "Nov 16 09:28:01 n1 kubelet: I1116 09:28:01.112 1841 kubelet.go:1775] skipping pod synchronization - [PLEG is not healthy: pleg was last seen active 3m5.3s ago; threshold is 3m0s]\nE1116 09:28:05.402 1841 kubelet.go:1224] Container garbage collection failed: rpc error: code = DeadlineExceeded desc = context deadline exceeded\n",
        );
        node_log(
            &mut s,
            "n1",
            NodeLogSource::Kernel,
            "2026-11-16T09:57:01.5Z kernel: Out of memory: Killed process 23121 (java) total-vm:8123456kB, anon-rss:6123456kB, file-rss:0kB\n",
        );
        v.push(("ready-node-storm-last-week", s));
    }
    v
}
