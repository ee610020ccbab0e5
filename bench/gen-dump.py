#!/usr/bin/env python3
"""Writes a deterministic `kubectl cluster-info dump --all-namespaces --output-directory` of a
large cluster, the way kubectl writes it (typed JSON lists indented with four spaces, items
without kind/apiVersion, managedFields included as the API returns them, logs.txt with
kubectl's START/END markers for every pod).

Default size: 5,000 nodes, 150,000 pods in 300 namespaces (20 Deployments x 25 replicas each),
5% of the pods broken (crash loops with Go panics, OOMKills, image pulls, unschedulable, failing
liveness probes) with their Events and longer logs; about 3.4 GB in about 152,000 files.

Usage: gen-dump.py OUT_DIR [--nodes N] [--namespaces N] [--deployments N] [--replicas N]
"""
import argparse
import datetime
import json
import os
import random
import sys

BASE = "2026-11-30T12:00:00Z"  # the dump's "now"; every timestamp is at or before it


_BASE = datetime.datetime(2026, 11, 30, 12, 0, 0)
_TS = {}


def ts(secs_ago):
    """BASE minus secs_ago seconds, RFC 3339."""
    t = _TS.get(secs_ago)
    if t is None:
        t = (_BASE - datetime.timedelta(seconds=secs_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
        _TS[secs_ago] = t
    return t


class Gen:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(20261130)
        self.rv = 1000

    def uid(self):
        r = self.rng.getrandbits(128)
        h = f"{r:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def hexid(self, n):
        return f"{self.rng.getrandbits(n * 4):0{n}x}"

    # ------------------------------------------------------------------------------- nodes
    def node(self, i, not_ready):
        name = f"node-{i:05d}"
        ip = f"10.{(i >> 8) & 255}.{i & 255}.10"
        hb = ts(self.rng.randrange(5, 40))
        ready = (
            {"lastHeartbeatTime": ts(3700), "lastTransitionTime": ts(3600), "message": "Kubelet stopped posting node status.",
             "reason": "NodeStatusUnknown", "status": "Unknown", "type": "Ready"}
            if not_ready
            else {"lastHeartbeatTime": hb, "lastTransitionTime": ts(86400 * 20), "message": "kubelet is posting ready status",
                  "reason": "KubeletReady", "status": "True", "type": "Ready"}
        )
        images = []
        for k in range(25):
            digest = self.hexid(64)
            images.append({"names": [f"registry.example.com/team{k % 7}/svc-{k}@sha256:{digest}",
                                     f"registry.example.com/team{k % 7}/svc-{k}:1.{k}.{i % 9}"],
                           "sizeBytes": 20_000_000 + k * 3_100_000})
        mf = [
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:annotations": {".": {}, "f:node.alpha.kubernetes.io/ttl": {}, "f:volumes.kubernetes.io/controller-managed-attach-detach": {}},
                               "f:labels": {".": {}, "f:beta.kubernetes.io/arch": {}, "f:beta.kubernetes.io/os": {}, "f:kubernetes.io/arch": {},
                                            "f:kubernetes.io/hostname": {}, "f:kubernetes.io/os": {}, "f:node.kubernetes.io/instance-type": {},
                                            "f:topology.kubernetes.io/region": {}, "f:topology.kubernetes.io/zone": {}}},
                "f:spec": {"f:podCIDR": {}, "f:podCIDRs": {".": {}, f"v:\"10.{200 + (i >> 8) % 50}.{i & 255}.0/24\"": {}}, "f:providerID": {}}},
             "manager": "kubelet", "operation": "Update", "time": ts(86400 * 30)},
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {
                "f:allocatable": {"f:ephemeral-storage": {}, "f:memory": {}}, "f:capacity": {"f:ephemeral-storage": {}},
                "f:conditions": {"k:{\"type\":\"DiskPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"MemoryPressure\"}": {"f:lastHeartbeatTime": {}},
                                 "k:{\"type\":\"PIDPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"Ready\"}": {"f:lastHeartbeatTime": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}}},
                "f:images": {}, "f:nodeInfo": {"f:bootID": {}, "f:containerRuntimeVersion": {}, "f:kernelVersion": {}, "f:kubeProxyVersion": {}, "f:kubeletVersion": {}},
                "f:volumesAttached": {}, "f:volumesInUse": {}}},
             "manager": "kubelet", "operation": "Update", "subresource": "status", "time": hb},
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {"f:node.alpha.kubernetes.io/ttl": {}}}},
             "manager": "kube-controller-manager", "operation": "Update", "time": ts(86400 * 30)},
        ]
        return {
            "metadata": {
                "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
                "creationTimestamp": ts(86400 * 30),
                "labels": {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                           "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m6i.2xlarge",
                           "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": f"eu-west-1{'abc'[i % 3]}"},
                "managedFields": mf,
                "name": name,
                "resourceVersion": self.next_rv(),
                "uid": self.uid(),
            },
            "spec": {"podCIDR": f"10.{200 + (i >> 8) % 50}.{i & 255}.0/24", "podCIDRs": [f"10.{200 + (i >> 8) % 50}.{i & 255}.0/24"],
                     "providerID": f"aws:///eu-west-1a/i-{self.hexid(17)}",
                     **({"taints": [{"effect": "NoSchedule", "key": "node.kubernetes.io/unreachable", "timeAdded": ts(3600)},
                                    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "timeAdded": ts(3590)}]} if not_ready else {})},
            "status": {
                "addresses": [{"address": ip, "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
                "allocatable": {"cpu": "7910m", "ephemeral-storage": "95551679124", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "31601920Ki", "pods": "110"},
                "capacity": {"cpu": "8", "ephemeral-storage": "103668Mi", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "32498944Ki", "pods": "110"},
                "conditions": [
                    {"lastHeartbeatTime": hb, "lastTransitionTime": ts(86400 * 20), "message": "kubelet has sufficient memory available", "reason": "KubeletHasSufficientMemory", "status": "False", "type": "MemoryPressure"},
                    {"lastHeartbeatTime": hb, "lastTransitionTime": ts(86400 * 20), "message": "kubelet has no disk pressure", "reason": "KubeletHasNoDiskPressure", "status": "False", "type": "DiskPressure"},
                    {"lastHeartbeatTime": hb, "lastTransitionTime": ts(86400 * 20), "message": "kubelet has sufficient PID available", "reason": "KubeletHasSufficientPID", "status": "False", "type": "PIDPressure"},
                    ready,
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "images": images,
                "nodeInfo": {"architecture": "amd64", "bootID": self.uid(), "containerRuntimeVersion": "containerd://1.7.22",
                             "kernelVersion": "6.1.112-122.189.amzn2023.x86_64", "kubeProxyVersion": "v1.31.2", "kubeletVersion": "v1.31.2",
                             "machineID": self.hexid(32), "operatingSystem": "linux", "osImage": "Amazon Linux 2023.6.20241031", "systemUUID": self.uid()},
            },
        }

    # -------------------------------------------------------------------------------- pods
    def pod(self, ns, dep, rs_hash, rs_uid, idx, node, broken, started):
        name = f"{dep}-{rs_hash}-{self.hexid(5)}"
        uid = self.uid()
        pod_ip = f"10.{200 + self.rng.randrange(50)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
        host_ip = node[1]
        cid = f"containerd://{self.hexid(64)}"
        image = f"registry.example.com/{ns}/{dep}:2.{idx % 4}.1"
        image_id = f"registry.example.com/{ns}/{dep}@sha256:{self.hexid(64)}"
        ready = broken is None
        state = {"running": {"startedAt": ts(started)}}
        last_state = {}
        restarts = 0
        waiting_reason = None
        phase = "Running"
        if broken == "panic":
            restarts = 140
            state = {"waiting": {"message": f"back-off 5m0s restarting failed container=app pod={name}_{ns}({uid})", "reason": "CrashLoopBackOff"}}
            last_state = {"terminated": {"containerID": cid, "exitCode": 2, "finishedAt": ts(120), "reason": "Error", "startedAt": ts(128)}}
            waiting_reason = "CrashLoopBackOff"
        elif broken == "oom":
            restarts = 12
            state = {"waiting": {"message": f"back-off 5m0s restarting failed container=app pod={name}_{ns}({uid})", "reason": "CrashLoopBackOff"}}
            last_state = {"terminated": {"containerID": cid, "exitCode": 137, "finishedAt": ts(200), "reason": "OOMKilled", "startedAt": ts(260)}}
            waiting_reason = "CrashLoopBackOff"
        elif broken == "pull":
            state = {"waiting": {"message": f"Back-off pulling image \"{image}\"", "reason": "ImagePullBackOff"}}
            waiting_reason = "ImagePullBackOff"
            phase = "Pending"
        elif broken == "liveness":
            restarts = 7
            state = {"running": {"startedAt": ts(30)}}
            last_state = {"terminated": {"containerID": cid, "exitCode": 137, "finishedAt": ts(31), "reason": "Error", "startedAt": ts(95)}}
        conditions = [
            {"lastProbeTime": None, "lastTransitionTime": ts(started), "status": "True", "type": "PodReadyToStartContainers"},
            {"lastProbeTime": None, "lastTransitionTime": ts(started + 2), "status": "True", "type": "Initialized"},
            {"lastProbeTime": None, "lastTransitionTime": ts(started - 8), "status": "True" if ready else "False", "type": "Ready",
             **({} if ready else {"message": "containers with unready status: [app]", "reason": "ContainersNotReady"})},
            {"lastProbeTime": None, "lastTransitionTime": ts(started - 8), "status": "True" if ready else "False", "type": "ContainersReady",
             **({} if ready else {"message": "containers with unready status: [app]", "reason": "ContainersNotReady"})},
            {"lastProbeTime": None, "lastTransitionTime": ts(started + 3), "status": "True", "type": "PodScheduled"},
        ]
        app_status = {"containerID": cid, "image": image, "imageID": image_id, "lastState": last_state, "name": "app",
                      "ready": ready, "restartCount": restarts, "started": ready, "state": state}
        if broken == "pull":
            app_status.pop("containerID")
            app_status["imageID"] = ""
            app_status.pop("started")
        status = {
            "conditions": conditions,
            "containerStatuses": [app_status],
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "phase": phase, "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
            "qosClass": "Burstable", "startTime": ts(started + 3),
        }
        node_name = node[0]
        if broken == "pending":
            node_name = None
            status = {"conditions": [{"lastProbeTime": None, "lastTransitionTime": ts(started), "message": "0/5000 nodes are available: 5000 Insufficient memory. preemption: 0/5000 nodes are available: 5000 No preemption victims found for incoming pod.",
                                      "reason": "Unschedulable", "status": "False", "type": "PodScheduled"}],
                      "phase": "Pending", "qosClass": "Burstable"}
        mf = [
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}, "f:team": {}, "f:version": {}},
                               "f:ownerReferences": {".": {}, f"k:{{\"uid\":\"{rs_uid}\"}}": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {".": {}, **{f"k:{{\"name\":\"{e}\"}}": {".": {}, "f:name": {}, "f:value": {}} for e in ("LOG_LEVEL", "DB_HOST")}},
                                                                    "f:image": {}, "f:imagePullPolicy": {}, "f:livenessProbe": {".": {}, "f:failureThreshold": {}, "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}}, "f:initialDelaySeconds": {}, "f:periodSeconds": {}, "f:successThreshold": {}, "f:timeoutSeconds": {}},
                                                                    "f:name": {}, "f:ports": {".": {}, "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}},
                                                                    "f:readinessProbe": {".": {}, "f:httpGet": {".": {}, "f:path": {}, "f:port": {}}, "f:periodSeconds": {}},
                                                                    "f:resources": {".": {}, "f:limits": {".": {}, "f:memory": {}}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
                                                                    "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}, "f:volumeMounts": {".": {}, "k:{\"mountPath\":\"/etc/app\"}": {".": {}, "f:mountPath": {}, "f:name": {}}}}},
                           "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {},
                           "f:volumes": {".": {}, "k:{\"name\":\"config\"}": {".": {}, "f:configMap": {".": {}, "f:defaultMode": {}, "f:name": {}}, "f:name": {}}}}},
             "manager": "kube-controller-manager", "operation": "Update", "time": ts(started + 5)},
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {
                "f:conditions": {f"k:{{\"type\":\"{t}\"}}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}
                                 for t in ("ContainersReady", "Initialized", "PodReadyToStartContainers", "Ready")},
                "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {}, "f:podIPs": {".": {}, f"k:{{\"ip\":\"{pod_ip}\"}}": {".": {}, "f:ip": {}}}, "f:startTime": {}}},
             "manager": "kubelet", "operation": "Update", "subresource": "status", "time": ts(max(started - 8, 0))},
        ]
        env = [{"name": "LOG_LEVEL", "value": "info"}, {"name": "DB_HOST", "value": f"postgres.{ns}.svc.cluster.local"}]
        probe = {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1}
        spec = {
            "containers": [{
                "env": env, "image": image, "imagePullPolicy": "IfNotPresent",
                "livenessProbe": {**probe, "initialDelaySeconds": 15}, "name": "app",
                "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                "readinessProbe": {**probe, "httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}},
                "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "volumeMounts": [{"mountPath": "/etc/app", "name": "config"},
                                 {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access", "readOnly": True}],
            }],
            "dnsPolicy": "ClusterFirst", "enableServiceLinks": True,
            **({"nodeName": node_name} if node_name else {}),
            "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
            "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
                            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}],
            "volumes": [{"configMap": {"defaultMode": 420, "name": f"{dep}-config"}, "name": "config"},
                        {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                            {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}],
        }
        return name, uid, {
            "metadata": {
                "annotations": {"kubectl.kubernetes.io/restartedAt": ts(86400 * 3), "prometheus.io/scrape": "true"},
                "creationTimestamp": ts(started + 5), "generateName": f"{dep}-{rs_hash}-",
                "labels": {"app": dep, "pod-template-hash": rs_hash, "team": f"team-{int(ns[-3:]) % 7}", "version": f"2.{idx % 4}.1"},
                "managedFields": mf, "name": name, "namespace": ns,
                "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True, "kind": "ReplicaSet", "name": f"{dep}-{rs_hash}", "uid": rs_uid}],
                "resourceVersion": self.next_rv(), "uid": uid,
            },
            "spec": spec,
            "status": status,
        }

    def event(self, ns, kind, name, uid, reason, message, etype, count, first, last, component, host=None, field=None):
        io = {"apiVersion": "v1", "kind": kind, "name": name, "namespace": ns, "resourceVersion": self.next_rv(), "uid": uid}
        if field:
            io["fieldPath"] = field
        return {
            "count": count, "eventTime": None, "firstTimestamp": ts(first), "involvedObject": io,
            "lastTimestamp": ts(last), "message": message,
            "metadata": {"creationTimestamp": ts(first), "name": f"{name}.{self.hexid(16)}", "namespace": ns, "resourceVersion": self.next_rv(), "uid": self.uid()},
            "reason": reason, "reportingComponent": component, "reportingInstance": host or "",
            "source": {"component": component, **({"host": host} if host else {})}, "type": etype,
        }


def write_list(path, kind, api_version, items):
    with open(path, "w") as f:
        f.write(json.dumps({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "1"}, "items": items}, indent=4))
        f.write("\n")


APP_LINES = [
    'time="{t}" level=info msg="request served" method=GET path=/api/v1/orders status=200 duration_ms={d} request_id={r}',
    'time="{t}" level=info msg="cache hit" key=orders:{r} ttl_s=300',
    'time="{t}" level=debug msg="db query" table=orders rows={d} duration_ms={d}',
    'time="{t}" level=info msg="health check" path=/healthz status=200',
]

PANIC = """panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x8a5f2b]

goroutine 1 [running]:
main.(*Handler).Serve(0x0, 0xc000128000)
\t/src/handler.go:88 +0x2b
main.main()
\t/src/main.go:41 +0x1c5
"""


def log_text(g, lines, tail=""):
    out = []
    for i in range(lines):
        t = f"2026-11-30T11:{(i // 60) % 60:02d}:{i % 60:02d}.{g.rng.randrange(1000):03d}Z"
        out.append(APP_LINES[i % len(APP_LINES)].format(t=t, d=g.rng.randrange(1, 900), r=g.hexid(12)))
    return "\n".join(out) + "\n" + tail


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--namespaces", type=int, default=300)
    ap.add_argument("--deployments", type=int, default=20)
    ap.add_argument("--replicas", type=int, default=25)
    a = ap.parse_args()
    g = Gen(a)
    os.makedirs(a.out, exist_ok=True)
    not_ready = set(range(0, a.nodes, 100))  # 1% of the nodes NotReady
    nodes = [g.node(i, i in not_ready) for i in range(a.nodes)]
    write_list(os.path.join(a.out, "nodes.json"), "NodeList", "v1", nodes)
    node_refs = [(n["metadata"]["name"], n["status"]["addresses"][0]["address"]) for n in nodes]
    del nodes
    kinds = ["panic", "oom", "pull", "pending", "liveness"]
    pod_no = 0
    for n in range(a.namespaces):
        ns = f"team-{n:03d}"
        d = os.path.join(a.out, ns)
        os.makedirs(d, exist_ok=True)
        pods, events, deps, rss, svcs = [], [], [], [], []
        for k in range(a.deployments):
            dep = f"svc-{k:02d}"
            rs_hash = g.hexid(10)[:10]
            old_hash = g.hexid(10)[:10]
            dep_uid, rs_uid, old_uid = g.uid(), g.uid(), g.uid()
            template = {"metadata": {"creationTimestamp": None, "labels": {"app": dep, "team": f"team-{n % 7}"}},
                        "spec": {"containers": [{"image": f"registry.example.com/{ns}/{dep}:2.1.1", "imagePullPolicy": "IfNotPresent", "name": "app",
                                                 "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
                                                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                                 "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30}}
            broken_here = 0
            for r in range(a.replicas):
                node = node_refs[pod_no % len(node_refs)]
                broken = kinds[(pod_no // 20) % len(kinds)] if pod_no % 20 == 7 else None
                started = 3600 * 24 * 2 + g.rng.randrange(3600)
                name, uid, pod = g.pod(ns, dep, rs_hash, rs_uid, r, node, broken, started)
                pods.append(pod)
                pod_no += 1
                pdir = os.path.join(d, name)
                os.makedirs(pdir, exist_ok=True)
                with open(os.path.join(pdir, "logs.txt"), "w") as f:
                    f.write(f"==== START logs for container app of pod {ns}/{name} ====\n")
                    if broken == "panic":
                        f.write(log_text(g, 300, PANIC))
                    elif broken in ("pull", "pending"):
                        f.write(f"Request log error: container \"app\" in pod \"{name}\" is waiting to start: {'trying and failing to pull image' if broken == 'pull' else 'ContainerCreating'}\n")
                    elif broken == "oom":
                        f.write(log_text(g, 300, 'time="2026-11-30T11:56:39Z" level=info msg="loading order history into memory" orders=18000000\n'))
                    else:
                        f.write(log_text(g, 30))
                    f.write(f"==== END logs for container app of pod {ns}/{name} ====\n")
                host = node[0]
                if broken:
                    broken_here += 1
                    if broken == "panic":
                        events.append(g.event(ns, "Pod", name, uid, "BackOff", "Back-off restarting failed container app in pod " + f"{name}_{ns}({uid})", "Warning", 640, 86400, 60, "kubelet", host, "spec.containers{app}"))
                        events.append(g.event(ns, "Pod", name, uid, "Pulled", f"Container image \"registry.example.com/{ns}/{dep}:2.1.1\" already present on machine", "Normal", 140, 86400, 130, "kubelet", host, "spec.containers{app}"))
                    elif broken == "oom":
                        events.append(g.event(ns, "Pod", name, uid, "BackOff", f"Back-off restarting failed container app in pod {name}_{ns}({uid})", "Warning", 55, 7200, 190, "kubelet", host, "spec.containers{app}"))
                    elif broken == "pull":
                        events.append(g.event(ns, "Pod", name, uid, "Failed", f"Failed to pull image \"registry.example.com/{ns}/{dep}:2.1.1\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/{ns}/{dep}:2.1.1\": failed to resolve reference \"registry.example.com/{ns}/{dep}:2.1.1\": registry.example.com/{ns}/{dep}:2.1.1: not found", "Warning", 32, 7200, 100, "kubelet", host, "spec.containers{app}"))
                        events.append(g.event(ns, "Pod", name, uid, "BackOff", f"Back-off pulling image \"registry.example.com/{ns}/{dep}:2.1.1\"", "Normal", 410, 7200, 20, "kubelet", host, "spec.containers{app}"))
                    elif broken == "pending":
                        events.append(g.event(ns, "Pod", name, uid, "FailedScheduling", "0/5000 nodes are available: 5000 Insufficient memory. preemption: 0/5000 nodes are available: 5000 No preemption victims found for incoming pod.", "Warning", 1, 1800, 300, "default-scheduler"))
                    elif broken == "liveness":
                        events.append(g.event(ns, "Pod", name, uid, "Unhealthy", "Liveness probe failed: Get \"http://" + pod["status"]["podIP"] + ":8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "Warning", 21, 3600, 35, "kubelet", host, "spec.containers{app}"))
                        events.append(g.event(ns, "Pod", name, uid, "Killing", "Container app failed liveness probe, will be restarted", "Normal", 7, 3600, 31, "kubelet", host, "spec.containers{app}"))
                elif pod_no % 50 == 3:
                    for reason, msg in (("Scheduled", f"Successfully assigned {ns}/{name} to {host}"), ("Pulled", f"Container image \"registry.example.com/{ns}/{dep}:2.1.1\" already present on machine"),
                                        ("Created", "Created container: app"), ("Started", "Started container app")):
                        events.append(g.event(ns, "Pod", name, uid, reason, msg, "Normal", 1, 1500, 1500, "kubelet" if reason != "Scheduled" else "default-scheduler", host if reason != "Scheduled" else None, "spec.containers{app}" if reason != "Scheduled" else None))
            ready = a.replicas - broken_here
            deps.append({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2"}, "creationTimestamp": ts(86400 * 40), "generation": 2,
                                      "labels": {"app": dep}, "name": dep, "namespace": ns, "resourceVersion": g.next_rv(), "uid": dep_uid},
                         "spec": {"progressDeadlineSeconds": 600, "replicas": a.replicas, "revisionHistoryLimit": 10, "selector": {"matchLabels": {"app": dep}},
                                  "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"}, "template": template},
                         "status": {"availableReplicas": ready, "conditions": [
                             {"lastTransitionTime": ts(86400 * 2), "lastUpdateTime": ts(86400 * 2), "message": "Deployment has minimum availability.", "reason": "MinimumReplicasAvailable", "status": "True", "type": "Available"},
                             {"lastTransitionTime": ts(86400 * 40), "lastUpdateTime": ts(86400 * 2), "message": f"ReplicaSet \"{dep}-{rs_hash}\" has successfully progressed.", "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"}],
                             "observedGeneration": 2, "readyReplicas": ready, "replicas": a.replicas, "updatedReplicas": a.replicas, **({"unavailableReplicas": broken_here} if broken_here else {})}})
            for h, u, reps in ((rs_hash, rs_uid, a.replicas), (old_hash, old_uid, 0)):
                rss.append({"metadata": {"annotations": {"deployment.kubernetes.io/desired-replicas": str(a.replicas), "deployment.kubernetes.io/max-replicas": str(a.replicas + 7), "deployment.kubernetes.io/revision": "2" if reps else "1"},
                                         "creationTimestamp": ts(86400 * (2 if reps else 40)), "generation": 3, "labels": {"app": dep, "pod-template-hash": h}, "name": f"{dep}-{h}", "namespace": ns,
                                         "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True, "kind": "Deployment", "name": dep, "uid": dep_uid}],
                                         "resourceVersion": g.next_rv(), "uid": u},
                            "spec": {"replicas": reps, "selector": {"matchLabels": {"app": dep, "pod-template-hash": h}}, "template": template},
                            "status": {"availableReplicas": ready if reps else 0, "fullyLabeledReplicas": reps, "observedGeneration": 3, "readyReplicas": ready if reps else 0, "replicas": reps}})
            svcs.append({"metadata": {"creationTimestamp": ts(86400 * 40), "labels": {"app": dep}, "name": dep, "namespace": ns, "resourceVersion": g.next_rv(), "uid": g.uid()},
                         "spec": {"clusterIP": f"10.96.{n}.{k + 10}", "clusterIPs": [f"10.96.{n}.{k + 10}"], "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                                  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": dep}, "sessionAffinity": "None", "type": "ClusterIP"},
                         "status": {"loadBalancer": {}}})
        write_list(os.path.join(d, "events.json"), "EventList", "v1", events)
        write_list(os.path.join(d, "replication-controllers.json"), "ReplicationControllerList", "v1", [])
        write_list(os.path.join(d, "services.json"), "ServiceList", "v1", svcs)
        write_list(os.path.join(d, "daemonsets.json"), "DaemonSetList", "apps/v1", [])
        write_list(os.path.join(d, "deployments.json"), "DeploymentList", "apps/v1", deps)
        write_list(os.path.join(d, "replicasets.json"), "ReplicaSetList", "apps/v1", rss)
        write_list(os.path.join(d, "pods.json"), "PodList", "v1", pods)
        if n % 30 == 29:
            print(f"gen-dump: {n + 1}/{a.namespaces} namespaces", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
