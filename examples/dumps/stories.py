"""The three example stories; see generate.py."""


def container(name, image, port=None, host_port=None, mem_req="512Mi", mem_lim="1Gi", cpu_req="250m", probes=None,
              env_from=None):
    c = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
         "resources": {"requests": {"cpu": cpu_req, "memory": mem_req}, "limits": {"memory": mem_lim}},
         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    if port:
        p = {"containerPort": port, "protocol": "TCP"}
        if host_port:
            p["hostPort"] = host_port
        c["ports"] = [p]
    if probes:
        c.update(probes)
    if env_from:
        c["envFrom"] = env_from
    return c


# --------------------------------------------------------------------------------------------
# 1. The night of the mass rollout: dockerd and kube-proxy fight over the xtables lock on
#    30,000+ iptables rules, the runtime stalls, PLEG goes unhealthy, nodes go NotReady.
# --------------------------------------------------------------------------------------------
def node_notready_xtables(Gen):
    g = Gen("node-notready-xtables", 1, "2025-05-13T02:31:05Z")
    bad = [("paas-10-239-40-157", "10.239.40.157", "2025-05-13T02:24:31Z", "3m47.516278553s"),
           ("paas-10-239-40-158", "10.239.40.158", "2025-05-13T02:25:12Z", "3m12.367104119s")]
    good = [("paas-10-239-40-160", "10.239.40.160"), ("paas-10-239-40-161", "10.239.40.161")]
    for name, ip, since, ago in bad:
        g.node(name, ip, "False", heartbeat="2025-05-13T02:30:58Z", ready_reason=("KubeletNotReady", since),
               ready_message=f"PLEG is not healthy: pleg was last seen active {ago} ago; threshold is 3m0s")
    for name, ip in good:
        g.node(name, ip, True, heartbeat="2025-05-13T02:30:59Z")

    # Node events (kubectl puts them in the "default" namespace).
    for name, ip, since, ago in bad:
        uid = next(n["metadata"]["uid"] for n in g.nodes if n["metadata"]["name"] == name)
        g.event("default", "Node", name, uid, "NodeNotReady", f"Node {name} status is now: NodeNotReady", "Normal",
                since, since, 1, "kubelet", name)
        g.event("default", "Node", name, uid, "ContainerGCFailed", "rpc error: code = 4 desc = context deadline exceeded",
                "Warning", "2025-05-13T02:21:40Z", "2025-05-13T02:30:41Z", 9, "kubelet", name)

    # Ten centres rolled out at once, every pod mapping a random hostPort through dockerd.
    centres = [("order-center", 18080), ("user-center", 18081), ("pay-center", 18082), ("stock-center", 18083)]
    ns = "prod-bss"
    pod_ip = 10
    for app, hport in centres:
        labels = {"app": app, "env": "prod"}
        image = f"10.239.40.10:5000/bss/{app}:20250512-2231"
        spec = {"containers": [container(app, image, 8080, hport, "1Gi", "2Gi", "500m",
                                         probes={"readinessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                                                                    "initialDelaySeconds": 60, "periodSeconds": 10,
                                                                    "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}})]}
        rs, _rs_uid, rs_labels, rs_real_uid = g.deployment(ns, app, 4, spec, labels, "2025-05-12T14:31:07Z", 2)
        owner = g.owner("ReplicaSet", rs, rs_real_uid)
        for i, node in enumerate([bad[0][0], bad[1][0], good[0][0], good[1][0]]):
            pname = f"{rs}-{g.suffix()}"
            created = f"2025-05-13T02:1{i + 2}:0{i}Z"
            if node.endswith(("157", "158")):
                st = g.cstatus(app, image, False, 0, {"waiting": {"reason": "ContainerCreating"}}, image_id=False)
                p = g.pod(ns, pname, node, spec, rs_labels, owner, created, "Pending", [st], False,
                          host_ip="10.239.40." + node[-3:])
                uid = p["metadata"]["uid"]
                g.event(ns, "Pod", pname, uid, "Scheduled",
                        f"Successfully assigned {pname} to {node}", "Normal", created, created, 1, "default-scheduler")
                g.event(ns, "Pod", pname, uid, "FailedCreatePodSandBox",
                        "Failed create pod sandbox: rpc error: code = 4 desc = context deadline exceeded", "Warning",
                        created, "2025-05-13T02:29:52Z", 7, "kubelet", node)
                g.event(ns, "Pod", pname, uid, "FailedSync", "Error syncing pod", "Warning", created,
                        "2025-05-13T02:29:52Z", 7, "kubelet", node)
            else:
                pod_ip += 1
                st = g.cstatus(app, image, True, 0, {"running": {"startedAt": created}})
                g.pod(ns, pname, node, spec, rs_labels, owner, created, "Running", [st], True,
                      host_ip="10.239.40." + node[-3:], pod_ip=f"172.20.{node[-1]}.{pod_ip}")
        g.service(ns, app, labels, 8080, 8080, f"10.254.{hport - 18000}.{hport % 100 + 20}", "2022-06-01T03:00:00Z")

    # kube-proxy on every node.
    ds_labels = {"k8s-app": "kube-proxy"}
    g.add("kube-system", "daemonsets.json", {
        "metadata": g.meta("kube-proxy", "kube-system", "2022-03-02T06:20:00Z", labels=ds_labels),
        "spec": {"selector": {"matchLabels": ds_labels},
                 "template": {"metadata": {"labels": ds_labels},
                              "spec": {"hostNetwork": True, "containers": [
                                  {"name": "kube-proxy", "image": "10.239.40.10:5000/google_containers/kube-proxy-amd64:v1.8.6",
                                   "command": ["/usr/local/bin/kube-proxy", "--proxy-mode=iptables",
                                               "--iptables-sync-period=2h", "--kubeconfig=/var/lib/kube-proxy/kubeconfig"],
                                   "securityContext": {"privileged": True}}]}}},
        "status": {"currentNumberScheduled": 4, "numberMisscheduled": 0, "desiredNumberScheduled": 4,
                   "numberReady": 2, "numberAvailable": 2, "numberUnavailable": 2, "observedGeneration": 1},
    })
    ds_uid = g.ns["kube-system"]["daemonsets.json"][-1]["metadata"]["uid"]
    proxy_spec = g.ns["kube-system"]["daemonsets.json"][-1]["spec"]["template"]["spec"]
    for name, ip in [(b[0], b[1]) for b in bad] + good:
        pname = f"kube-proxy-{g.suffix()}"
        st = g.cstatus("kube-proxy", "10.239.40.10:5000/google_containers/kube-proxy-amd64:v1.8.6", True, 0,
                       {"running": {"startedAt": "2025-02-20T01:12:44Z"}})
        g.pod("kube-system", pname, name, proxy_spec, ds_labels, g.owner("DaemonSet", "kube-proxy", ds_uid, "extensions/v1beta1"),
              "2025-02-20T01:12:40Z", "Running", [st], True, host_ip=ip, pod_ip=ip, qos="BestEffort")
        if name in (bad[0][0], bad[1][0]):
            lines = []
            for k, t in enumerate(["02:19:31", "02:21:36", "02:23:41", "02:25:47", "02:27:52", "02:29:58"]):
                lines.append(f"E0513 {t}.{512311 + k * 7919:06d}       1 proxier.go:1621] Failed to execute iptables-restore: exit status 4 (Another app is currently holding the xtables lock. Stopped waiting after 5s.\n)\n")
                lines.append(f"I0513 {t}.{612000 + k * 13:06d}       1 proxier.go:1624] Closing local ports after iptables-restore failure\n")
            g.log("kube-system", pname, "kube-proxy", "".join(lines))
            g.node_file(name, "kube-proxy.log", "".join(
                f"May 13 {10 + int(l[6:8]) - 2}:{l[9:14]} {name} kube-proxy[3011]: {l}" for l in lines if l.startswith("E")))
        else:
            g.log("kube-system", pname, "kube-proxy",
                  "I0513 00:12:44.112003       1 proxier.go:1040] Syncing iptables rules\n")

    # Node logs and facts of the two NotReady nodes.
    for name, ip, since, ago in bad:
        pid = 2214 if name.endswith("157") else 1987
        kubelet = []
        for k, (hh, mm, ss) in enumerate([(10, 21, 40), (10, 22, 43), (10, 24, 31), (10, 26, 12), (10, 27, 30), (10, 29, 5), (10, 30, 41)]):
            stamp = f"May 13 {hh}:{mm:02d}:{ss:02d} {name} kubelet[{pid}]:"
            micro = f"{hh:02d}:{mm:02d}:{ss:02d}.{120331 + k * 104729 % 800000:06d}"
            kubelet.append(f"{stamp} E0513 {micro} {pid} remote_runtime.go:169] ListPodSandbox with filter nil from runtime service failed: rpc error: code = 4 desc = context deadline exceeded\n")
            kubelet.append(f"{stamp} E0513 {micro} {pid} kuberuntime_sandbox.go:192] ListPodSandbox failed: rpc error: code = 4 desc = context deadline exceeded\n")
            kubelet.append(f"{stamp} E0513 {micro} {pid} generic.go:197] GenericPLEG: Unable to retrieve pods: rpc error: code = 4 desc = context deadline exceeded\n")
            if k >= 2:
                secs = 180 + (k - 2) * 37
                kubelet.append(f"{stamp} I0513 {micro} {pid} kubelet.go:1779] skipping pod synchronization - [PLEG is not healthy: pleg was last seen active {secs // 60}m{secs % 60}.{367 + k}s ago; threshold is 3m0s]\n")
            if k in (0, 3, 6):
                kubelet.append(f"{stamp} E0513 {micro} {pid} kubelet.go:1242] Container garbage collection failed: rpc error: code = 4 desc = context deadline exceeded\n")
            if k == 2:
                kubelet.append(f"{stamp} I0513 {micro} {pid} kubelet_node_status.go:443] Recording NodeNotReady event message for node {name}\n")
                kubelet.append(f"{stamp} I0513 {micro} {pid} kubelet_node_status.go:828] Node became not ready: {{Type:Ready Status:False LastHeartbeatTime:2025-05-13 10:24:31 +0800 CST LastTransitionTime:2025-05-13 10:24:31 +0800 CST Reason:KubeletNotReady Message:PLEG is not healthy: pleg was last seen active {ago} ago; threshold is 3m0s}}\n")
        g.node_file(name, "kubelet.log", "".join(kubelet))
        docker = []
        for k, (mm, ss) in enumerate([(19, 2), (21, 14), (23, 30), (25, 51), (27, 47), (29, 33)]):
            cid = g.hexid()
            hport = 31000 + k * 211 + (7 if name.endswith("158") else 0)
            waits = "\\n".join(f"Another app is currently holding the xtables lock; waiting ({w}s) for it to exit..." for w in range(37 + k * 2, 58 + k * 2, 2))
            docker.append(
                f"May 13 10:{mm:02d}:{ss:02d} {name} dockerd: time=\"2025-05-13T10:{mm:02d}:{ss:02d}.{118902312 + k * 7:09d}+08:00\" level=error "
                f"msg=\"Handler for POST /v1.24/containers/{cid}/start returned error: driver failed programming external connectivity on endpoint "
                f"k8s_POD_{centres[k % 4][0]}-{g.suffix(10)}_prod-bss_{g.uid()}_0 ({cid[:12]}): iptables failed: iptables --wait -t nat -A DOCKER -p tcp -d 0/0 --dport {hport} "
                f"-j DNAT --to-destination 172.17.0.{k + 5}:8080 ! -i docker0: {waits}\\n (exit status 4)\"\n")
            docker.append(f"May 13 10:{mm:02d}:{ss + 1:02d} {name} dockerd: time=\"2025-05-13T10:{mm:02d}:{ss + 1:02d}.{2210931 + k:09d}+08:00\" level=warning msg=\"Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.\"\n")
        g.node_file(name, "docker.log", "".join(docker))
        g.node_file(name, "facts.json", {
            "node": name, "collectedAt": "2025-05-13T02:30:50Z", "iptablesRules": 31406 if name.endswith("157") else 30988,
            "conntrack": {"count": 187331, "max": 1048576},
            "load": {"load1": 41.7, "load5": 37.2, "load15": 22.9, "cores": 32, "iowaitPercent": 1.2,
                     "userPercent": 9.8, "systemPercent": 14.1, "procsBlocked": 2},
            "disks": [{"path": "/var/lib/docker", "purpose": "runtime", "bytesTotal": 536870912000, "bytesUsed": 201863462912,
                       "inodesTotal": 262144000, "inodesUsed": 1873021, "readOnly": False},
                      {"path": "/var/lib/kubelet", "purpose": "kubelet", "bytesTotal": 107374182400, "bytesUsed": 19327352832,
                       "inodesTotal": 52428800, "inodesUsed": 412003, "readOnly": False}],
            "ntp": {"synchronized": True, "maxErrorSeconds": 0.012},
        })
    for name, ip in good:
        g.node_file(name, "kubelet.log",
                    f"May 13 10:30:12 {name} kubelet[2031]: I0513 10:30:12.404117 2031 kubelet_node_status.go:431] Setting node status at position 6\n")
        g.node_file(name, "facts.json", {
            "node": name, "collectedAt": "2025-05-13T02:30:51Z", "iptablesRules": 31102,
            "conntrack": {"count": 90211, "max": 1048576},
            "load": {"load1": 6.1, "load5": 5.8, "load15": 5.2, "cores": 32, "iowaitPercent": 0.4,
                     "userPercent": 12.0, "systemPercent": 4.0, "procsBlocked": 0},
            "ntp": {"synchronized": True, "maxErrorSeconds": 0.009},
        })
    return g


def nodes_notready_58(Gen):
    """The same night at full size: 58 of 62 nodes went NotReady within 14 minutes while ten
    centres rolled out hostPort pods; the 4 nodes that stayed Ready run a newer kernel."""
    g = Gen("nodes-notready-58", 4, "2025-05-13T02:45:00Z")
    names = [(f"paas-10-239-40-{101 + i}", f"10.239.40.{101 + i}") for i in range(62)]
    bad, good = names[:58], names[58:]
    for i, (name, ip) in enumerate(bad):
        since = f"2025-05-13T02:{24 + i // 4:02d}:{(i * 17) % 60:02d}Z"
        g.node(name, ip, "False", heartbeat="2025-05-13T02:44:58Z", ready_reason=("KubeletNotReady", since),
               ready_message=f"PLEG is not healthy: pleg was last seen active 3m{(i * 7) % 60}.{i:03d}s ago; threshold is 3m0s")
    for name, ip in good:
        g.node(name, ip, True, heartbeat="2025-05-13T02:44:59Z", kernel="4.14.105-19-0020.el7.x86_64")
    centres = [(f"{c}-center", 18080 + k) for k, c in enumerate(
        ["order", "user", "pay", "stock", "price", "promo", "cart", "search", "notify", "report"])]
    ns = "prod-bss"
    pods = {}
    for k, (app, hport) in enumerate(centres):
        labels = {"app": app, "env": "prod"}
        image = f"10.239.40.10:5000/bss/{app}:20250513-0210"
        spec = {"containers": [container(app, image, 8080, hport, "1Gi", "2Gi", "500m")]}
        rs, _rs_uid, rs_labels, rs_real_uid = g.deployment(ns, app, 12, spec, labels, "2025-05-13T02:10:00Z", 0)
        pods[app] = (rs, rs_labels, g.owner("ReplicaSet", rs, rs_real_uid), spec, image)
    for i, (name, ip) in enumerate(bad):
        for j in range(2):
            app = centres[(i * 2 + j) % 10][0]
            rs, rs_labels, owner, spec, image = pods[app]
            pname = f"{rs}-{g.suffix()}"
            created = f"2025-05-13T02:{12 + (i % 10):02d}:{(i * 7 + j) % 60:02d}Z"
            st = g.cstatus(app, image, False, 0, {"waiting": {"reason": "ContainerCreating"}}, image_id=False)
            p = g.pod(ns, pname, name, spec, rs_labels, owner, created, "Pending", [st], False, host_ip=ip)
            g.event(ns, "Pod", pname, p["metadata"]["uid"], "FailedCreatePodSandBox",
                    "Failed create pod sandbox: rpc error: code = 4 desc = context deadline exceeded", "Warning",
                    created, "2025-05-13T02:43:52Z", 5, "kubelet", name)
        stamp = f"May 13 10:{24 + i // 4:02d}:{(i * 17) % 60:02d} {name}"
        g.node_file(name, "docker.log",
                    f"{stamp} dockerd: time=\"2025-05-13T10:{24 + i // 4:02d}:{(i * 17) % 60:02d}+08:00\" level=error "
                    f"msg=\"Handler for POST /v1.24/containers/{g.hexid()}/start returned error: driver failed programming external "
                    f"connectivity on endpoint k8s_POD_{centres[i % 10][0]}: iptables failed: iptables --wait -t nat -A DOCKER -p tcp "
                    f"--dport {18080 + i % 10} -j DNAT: Another app is currently holding the xtables lock; waiting ({41 + i % 17}s) for it to exit...\"\n")
        g.node_file(name, "kubelet.log",
                    f"{stamp} kubelet[2214]: I0513 10:{24 + i // 4:02d}:{(i * 17) % 60:02d}.118273 2214 kubelet.go:1779] skipping pod "
                    f"synchronization - [PLEG is not healthy: pleg was last seen active 3m{(i * 7) % 60}.{i:03d}s ago; threshold is 3m0s]\n"
                    f"{stamp} kubelet[2214]: E0513 10:{24 + i // 4:02d}:{(i * 17) % 60:02d}.402117 2214 kubelet.go:1242] Container garbage "
                    f"collection failed: rpc error: code = 4 desc = context deadline exceeded\n")
        g.node_file(name, "facts.json", {"node": name, "collectedAt": "2025-05-13T02:44:50Z", "iptablesRules": 30988 + i * 13})
    return g


# --------------------------------------------------------------------------------------------
# 2. IoT gateway pods restarting hundreds of times with exit code 2; the Events had expired,
#    the previous logs hold a Go nil pointer panic.
# --------------------------------------------------------------------------------------------
GO_PANIC = """2022/01/01 23:36:41 [INFO] session 8613712345678 heartbeat ok rtt=38ms
2022/01/01 23:36:45 [INFO] session 8613787654321 login from 39.144.16.202:52718
2022/01/01 23:36:48 [WARN] session 8613787654321 empty frame, header=nil
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x8b4f3a]

goroutine 4127 [running]:
gitlab.qld2.internal/iot/gateway/session.(*Session).handleFrame(0xc0003a2000, 0x0)
\t/builds/iot/gateway/session/session.go:214 +0x5a
gitlab.qld2.internal/iot/gateway/session.(*Session).readLoop(0xc0003a2000)
\t/builds/iot/gateway/session/session.go:167 +0x1c5
created by gitlab.qld2.internal/iot/gateway/session.NewSession
\t/builds/iot/gateway/session/session.go:88 +0x2b8
"""


def crashloop_exit_2(Gen):
    g = Gen("crashloop-exit-2", 2, "2022-01-01T23:41:30Z")
    nodes = [("cn-hz-k8s-node-01", "192.168.10.21"), ("cn-hz-k8s-node-02", "192.168.10.22"), ("cn-hz-k8s-node-03", "192.168.10.23")]
    for name, ip in nodes:
        g.node(name, ip, True, cpu="8", mem="32779948Ki", kubelet="v1.20.11", runtime="docker://20.10.7",
               heartbeat="2022-01-01T23:41:12Z", created="2021-05-10T08:01:00Z", os_image="CentOS Linux 7 (Core)",
               kernel="3.10.0-1160.31.1.el7.x86_64")
    ns = "qld2-production"
    probes = {"readinessProbe": {"tcpSocket": {"port": 8356}, "initialDelaySeconds": 3, "periodSeconds": 3,
                                 "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
              "livenessProbe": {"tcpSocket": {"port": 8356}, "initialDelaySeconds": 5, "periodSeconds": 10,
                                "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}}

    def app(name, replicas, hash_, restarts, image, created, crash=None, healthy_since=None, probe=False):
        labels = {"app": name.replace("-deployment", "")}
        spec = {"containers": [container(labels["app"], image, 8356, None, "256Mi", "1Gi", "100m",
                                         probes=probes if probe else None)]}
        ready = sum(1 for r in restarts if r[1] != "crashloop")
        rs, _, rs_labels, rs_uid = g.deployment(ns, name, replicas, spec, labels, created, ready, hash_=hash_)
        owner = g.owner("ReplicaSet", rs, rs_uid)
        out = []
        for i, (pname_suffix, mode, count) in enumerate(restarts):
            pname = f"{rs}-{pname_suffix}"
            node, ip = nodes[i % 3]
            if mode == "crashloop":
                state = {"waiting": {"reason": "CrashLoopBackOff",
                                     "message": f"back-off 5m0s restarting failed container={labels['app']} pod={pname}_{ns}({g.uid()})"}}
                last = {"terminated": {"exitCode": 2, "reason": "Error", "startedAt": crash[0], "finishedAt": crash[1],
                                       "containerID": f"docker://{g.hexid()}"}}
                ready_c = False
            elif mode == "recent":
                state = {"running": {"startedAt": crash[2]}}
                last = {"terminated": {"exitCode": 2, "reason": "Error", "startedAt": crash[0], "finishedAt": crash[1],
                                       "containerID": f"docker://{g.hexid()}"}}
                ready_c = True
            else:  # restarted long ago, fine since
                state = {"running": {"startedAt": healthy_since[1]}}
                last = {"terminated": {"exitCode": 2, "reason": "Error", "startedAt": healthy_since[0],
                                       "finishedAt": healthy_since[1], "containerID": f"docker://{g.hexid()}"}}
                ready_c = True
            st = g.cstatus(labels["app"], image, ready_c, count, state, last)
            p = g.pod(ns, pname, node, spec, rs_labels, owner, created, "Running", [st], ready_c, host_ip=ip,
                      pod_ip=f"10.244.{i + 1}.{17 + len(out) * 9}")
            out.append(p)
        return out

    p1 = app("pod1-deployment", 1, "56744f755c", [("hx2w7", "recent", 140)],
             "registry.cn-hangzhou.aliyuncs.com/qld2/pod1:0.0.4", "2021-11-16T02:10:11Z",
             crash=("2022-01-01T22:58:03Z", "2022-01-01T23:36:48Z", "2022-01-01T23:36:49Z"))
    app("pod2-deployment", 1, "77c46bfb79", [("vr5n5", "old", 5)],
        "registry.cn-hangzhou.aliyuncs.com/qld2/pod2:1.2.0", "2021-11-11T09:00:00Z",
        healthy_since=("2021-11-20T03:11:00Z", "2021-11-20T03:12:40Z"))
    app("pod3-deployment", 1, "75fbbb8b6b", [("sh9s8", "old", 53)],
        "registry.cn-hangzhou.aliyuncs.com/qld2/pod3:2.0.1", "2021-09-05T09:00:00Z",
        healthy_since=("2021-12-02T14:00:00Z", "2021-12-02T14:20:31Z"))
    p4 = app("pod4-deployment", 3, "7d7b75974d", [("4zlj6", "crashloop", 24), ("76n89", "recent", 19), ("z4nnf", "recent", 19)],
             "registry.cn-hangzhou.aliyuncs.com/qld2/pod4:0.0.4", "2021-09-14T09:00:00Z",
             crash=("2022-01-01T23:33:02Z", "2022-01-01T23:38:57Z", "2022-01-01T23:38:58Z"), probe=True)
    g.log(ns, p1[0]["metadata"]["name"], "pod1", "2022/01/01 23:36:49 [INFO] gateway 0.0.4 starting, listen :8356\n2022/01/01 23:36:49 [INFO] connected to redis 10.0.3.12:6379\n")
    g.log(ns, p1[0]["metadata"]["name"], "pod1", GO_PANIC, previous=True)
    for p in p4:
        name = p["metadata"]["name"]
        g.log(ns, name, "pod4", "2022/01/01 23:38:58 [INFO] gateway 0.0.4 starting, listen :8356\n")
        g.log(ns, name, "pod4", GO_PANIC.replace("23:36:4", "23:38:5").replace("8613787654321", "8613700011122"), previous=True)
    crash_pod = p4[0]
    g.event(ns, "Pod", crash_pod["metadata"]["name"], crash_pod["metadata"]["uid"], "BackOff",
            "Back-off restarting failed container", "Warning", "2022-01-01T23:39:10Z", "2022-01-01T23:41:05Z", 11,
            "kubelet", "cn-hz-k8s-node-01", field_path="spec.containers{pod4}")
    for name in ("pod1", "pod2", "pod3", "pod4"):
        g.service(ns, name, {"app": name}, 8356, 8356, f"10.96.{100 + int(name[-1])}.{40 + int(name[-1])}", "2021-09-01T00:00:00Z")
    # Healthy cluster DNS.
    labels = {"k8s-app": "kube-dns"}
    spec = {"containers": [container("coredns", "registry.aliyuncs.com/google_containers/coredns:1.7.0", 53, None, "70Mi", "170Mi", "100m")]}
    rs, _, rs_labels, rs_uid = g.deployment("kube-system", "coredns", 2, spec, labels, "2021-05-10T08:02:00Z", 2, hash_="6d56c8448f")
    for i in range(2):
        pname = f"{rs}-{g.suffix()}"
        st = g.cstatus("coredns", "registry.aliyuncs.com/google_containers/coredns:1.7.0", True, 0,
                       {"running": {"startedAt": "2021-12-20T02:00:00Z"}})
        g.pod("kube-system", pname, nodes[i][0], spec, rs_labels, g.owner("ReplicaSet", rs, rs_uid), "2021-12-20T01:59:50Z",
              "Running", [st], True, host_ip=nodes[i][1], pod_ip=f"10.244.{i}.2")
        g.log("kube-system", pname, "coredns", ".:53\n[INFO] plugin/reload: Running configuration MD5 = db32ca3650231d74073ff4cf814959a7\nCoreDNS-1.7.0\nlinux/amd64, go1.14.4, f59c03d\n")
    return g


# --------------------------------------------------------------------------------------------
# 3. A Monday morning release: a tag that was never pushed, a private registry without pull
#    secret, a pod too big for any node, a missing ConfigMap, a broken CNI on one node and a
#    Service whose selector matches nothing.
# --------------------------------------------------------------------------------------------
def startup_failures(Gen):
    g = Gen("startup-failures", 3, "2025-11-18T09:42:00Z")
    cp_taint = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    g.node("cp-1", "10.0.0.10", True, cpu="4", mem="16363596Ki", kubelet="v1.30.4", runtime="containerd://1.7.20",
           created="2025-03-01T10:00:00Z", taints=cp_taint, os_image="Ubuntu 22.04.4 LTS", kernel="5.15.0-119-generic",
           labels={"node-role.kubernetes.io/control-plane": ""}, heartbeat="2025-11-18T09:41:40Z")
    workers = [("worker-1", "10.0.0.21"), ("worker-2", "10.0.0.22"), ("worker-3", "10.0.0.23"), ("worker-4", "10.0.0.24")]
    for name, ip in workers:
        g.node(name, ip, True, cpu="8", mem="32863332Ki", kubelet="v1.30.4", runtime="containerd://1.7.20",
               created="2025-03-01T10:05:00Z", os_image="Ubuntu 22.04.4 LTS", kernel="5.15.0-119-generic",
               heartbeat="2025-11-18T09:41:44Z")
    ns = "shop"

    def deploy(name, replicas, image, ready, created="2025-11-18T09:20:03Z", mem_req="256Mi", mem_lim="512Mi", env_from=None,
               labels=None):
        labels = labels or {"app": name}
        spec = {"containers": [container(name, image, 8080, None, mem_req, mem_lim, "100m", env_from=env_from)]}
        rs, _, rs_labels, rs_uid = g.deployment(ns, name, replicas, spec, labels, created, ready)
        return spec, rs, rs_labels, g.owner("ReplicaSet", rs, rs_uid)

    # web: tag v2.3.1 was never pushed (containerd wording).
    image = "registry.example.com/shop/web:v2.3.1"
    spec, rs, lab, own = deploy("web", 2, image, 0)
    for i in range(2):
        pname = f"{rs}-{g.suffix()}"
        node, ip = workers[i]
        st = g.cstatus("web", image, False, 0, {"waiting": {"reason": "ImagePullBackOff", "message": f"Back-off pulling image \"{image}\""}},
                       image_id=False, runtime="containerd")
        p = g.pod(ns, pname, node, spec, lab, own, "2025-11-18T09:20:04Z", "Pending", [st], False, host_ip=ip, pod_ip=f"10.42.{i + 1}.{31 + i}")
        uid = p["metadata"]["uid"]
        g.event(ns, "Pod", pname, uid, "Pulling", f"Pulling image \"{image}\"", "Normal", "2025-11-18T09:20:05Z", "2025-11-18T09:40:51Z", 9, "kubelet", node, "spec.containers{web}")
        g.event(ns, "Pod", pname, uid, "Failed",
                f"Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found",
                "Warning", "2025-11-18T09:20:06Z", "2025-11-18T09:40:52Z", 9, "kubelet", node, "spec.containers{web}")
        g.event(ns, "Pod", pname, uid, "Failed", "Error: ErrImagePull", "Warning", "2025-11-18T09:20:06Z", "2025-11-18T09:40:52Z", 9, "kubelet", node, "spec.containers{web}")
        g.event(ns, "Pod", pname, uid, "BackOff", f"Back-off pulling image \"{image}\"", "Normal", "2025-11-18T09:20:35Z", "2025-11-18T09:41:30Z", 88, "kubelet", node, "spec.containers{web}")
        g.event(ns, "Pod", pname, uid, "Failed", "Error: ImagePullBackOff", "Warning", "2025-11-18T09:20:35Z", "2025-11-18T09:41:30Z", 88, "kubelet", node, "spec.containers{web}")
    g.service(ns, "web", {"app": "web"}, 80, 8080, "10.43.18.201", "2025-03-10T10:00:00Z")
    g.endpoints(ns, "web", [], [], 8080, "2025-03-10T10:00:00Z")

    # payments: private Harbor project, no imagePullSecrets.
    image = "harbor.corp.example/payments/api:1.8.0"
    spec, rs, lab, own = deploy("payments", 1, image, 0)
    pname = f"{rs}-{g.suffix()}"
    auth = (f"failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to authorize: "
            "failed to fetch anonymous token: unexpected status from GET request to "
            "https://harbor.corp.example/service/token?scope=repository%3Apayments%2Fapi%3Apull&service=harbor-registry: 401 Unauthorized")
    st = g.cstatus("payments", image, False, 0, {"waiting": {"reason": "ErrImagePull", "message": auth}},
                   image_id=False, runtime="containerd")
    p = g.pod(ns, pname, "worker-2", spec, lab, own, "2025-11-18T09:20:04Z", "Pending", [st], False, host_ip="10.0.0.22", pod_ip="10.42.2.40")
    g.event(ns, "Pod", pname, p["metadata"]["uid"], "Failed", f"Failed to pull image \"{image}\": {auth}",
            "Warning", "2025-11-18T09:20:07Z", "2025-11-18T09:41:02Z", 9, "kubelet", "worker-2", "spec.containers{payments}")

    # search: asks for 48Gi on 32Gi workers.
    image = "registry.example.com/shop/search:4.2.0"
    spec, rs, lab, own = deploy("search", 1, image, 0, mem_req="48Gi", mem_lim="48Gi")
    pname = f"{rs}-{g.suffix()}"
    msg = ("0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
           "4 Insufficient memory. preemption: 0/5 nodes are available: 1 Preemption is not helpful for scheduling, "
           "4 No preemption victims found for incoming pod.")
    p = g.pod(ns, pname, None, spec, lab, own, "2025-11-18T09:20:04Z", "Pending", [], False, scheduled=False, pending_msg=msg)
    g.event(ns, "Pod", pname, p["metadata"]["uid"], "FailedScheduling", msg, "Warning", "2025-11-18T09:20:04Z",
            "2025-11-18T09:40:04Z", 21, "default-scheduler")

    # checkout: its ConfigMap was never applied.
    image = "registry.example.com/shop/checkout:3.1.4"
    spec, rs, lab, own = deploy("checkout", 1, image, 0, env_from=[{"configMapRef": {"name": "checkout-config"}}])
    pname = f"{rs}-{g.suffix()}"
    st = g.cstatus("checkout", image, False, 0, {"waiting": {"reason": "CreateContainerConfigError",
                   "message": "configmap \"checkout-config\" not found"}}, runtime="containerd")
    p = g.pod(ns, pname, "worker-3", spec, lab, own, "2025-11-18T09:20:04Z", "Pending", [st], False, host_ip="10.0.0.23", pod_ip="10.42.3.12")
    g.event(ns, "Pod", pname, p["metadata"]["uid"], "Failed", "Error: configmap \"checkout-config\" not found", "Warning",
            "2025-11-18T09:20:09Z", "2025-11-18T09:41:20Z", 103, "kubelet", "worker-3", "spec.containers{checkout}")

    # cart: runs fine, but its Service selects app=cart while the pods say app=carts.
    image = "registry.example.com/shop/cart:2.0.7"
    spec, rs, lab, own = deploy("carts", 2, image, 2, created="2025-09-01T08:00:00Z", labels={"app": "carts"})
    addrs = []
    for i in range(2):
        pname = f"{rs}-{g.suffix()}"
        node, ip = workers[i + 1]
        st = g.cstatus("carts", image, True, 0, {"running": {"startedAt": "2025-11-10T07:00:00Z"}}, runtime="containerd")
        g.pod(ns, pname, node, spec, lab, own, "2025-11-10T06:59:58Z", "Running", [st], True, host_ip=ip, pod_ip=f"10.42.{i + 2}.77")
        g.log(ns, pname, "carts", "2025-11-18T09:40:00.120Z INFO  listening on :8080\n")
        addrs.append((f"10.42.{i + 2}.77", node, pname))
    g.service(ns, "cart", {"app": "cart"}, 80, 8080, "10.43.77.12", "2025-09-01T08:00:00Z")
    g.endpoints(ns, "cart", [], [], 8080, "2025-09-01T08:00:00Z")

    # batch/report on worker-4: calico cannot set up the sandbox network.
    image = "registry.example.com/batch/report:1.0.3"
    labels = {"app": "report"}
    spec = {"containers": [container("report", image, None, None, "128Mi", "256Mi", "50m")]}
    rs, _, rs_labels, rs_uid = g.deployment("batch", "report", 1, spec, labels, "2025-11-18T09:30:00Z", 0)
    pname = f"{rs}-{g.suffix()}"
    st = g.cstatus("report", image, False, 0, {"waiting": {"reason": "ContainerCreating"}}, image_id=False, runtime="containerd")
    p = g.pod("batch", pname, "worker-4", spec, rs_labels, g.owner("ReplicaSet", rs, rs_uid), "2025-11-18T09:30:01Z",
              "Pending", [st], False, host_ip="10.0.0.24")
    sandbox = g.hexid()
    g.event("batch", "Pod", pname, p["metadata"]["uid"], "FailedCreatePodSandBox",
            f"Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"{sandbox}\": plugin type=\"calico\" failed (add): error getting ClusterInformation: connection is unauthorized: Unauthorized",
            "Warning", "2025-11-18T09:30:02Z", "2025-11-18T09:41:48Z", 47, "kubelet", "worker-4")

    # Healthy: frontend and cluster DNS.
    image = "registry.example.com/shop/frontend:5.12.0"
    spec, rs, lab, own = deploy("frontend", 2, image, 2, created="2025-10-01T08:00:00Z")
    for i in range(2):
        pname = f"{rs}-{g.suffix()}"
        node, ip = workers[i]
        st = g.cstatus("frontend", image, True, 1, {"running": {"startedAt": "2025-10-20T03:00:00Z"}},
                       {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2025-10-01T08:00:10Z",
                                       "finishedAt": "2025-10-20T02:59:55Z"}}, runtime="containerd")
        g.pod(ns, pname, node, spec, lab, own, "2025-10-01T08:00:00Z", "Running", [st], True, host_ip=ip, pod_ip=f"10.42.{i + 1}.5")
        g.log(ns, pname, "frontend", "2025-11-18T09:41:00.000Z GET /healthz 200 0.4ms\n")
        addrs.append((f"10.42.{i + 1}.5", node, pname))
    g.service(ns, "frontend", {"app": "frontend"}, 80, 8080, "10.43.5.80", "2025-10-01T08:00:00Z")
    g.endpoints(ns, "frontend", [a for a in addrs if "frontend" in a[2]], [], 8080, "2025-10-01T08:00:00Z")
    labels = {"k8s-app": "kube-dns"}
    spec = {"containers": [container("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", 53, None, "70Mi", "170Mi", "100m")]}
    rs, _, rs_labels, rs_uid = g.deployment("kube-system", "coredns", 2, spec, labels, "2025-03-01T10:01:00Z", 2, hash_="7db6d8ff4d")
    dns_addrs = []
    for i in range(2):
        pname = f"{rs}-{g.suffix()}"
        node, ip = workers[i + 2]
        st = g.cstatus("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", True, 0, {"running": {"startedAt": "2025-11-01T00:00:00Z"}},
                       runtime="containerd")
        g.pod("kube-system", pname, node, spec, rs_labels, g.owner("ReplicaSet", rs, rs_uid), "2025-11-01T00:00:00Z", "Running",
              [st], True, host_ip=ip, pod_ip=f"10.42.{i + 3}.2")
        g.log("kube-system", pname, "coredns", ".:53\n[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908\nCoreDNS-1.11.1\nlinux/amd64, go1.20.7, ae2bbc2\n")
        dns_addrs.append((f"10.42.{i + 3}.2", node, pname))
    g.service("kube-system", "kube-dns", {"k8s-app": "kube-dns"}, 53, 53, "10.43.0.10", "2025-03-01T10:01:00Z", labels={"k8s-app": "kube-dns"})
    g.endpoints("kube-system", "kube-dns", dns_addrs, [], 53, "2025-03-01T10:01:00Z")
    return g
