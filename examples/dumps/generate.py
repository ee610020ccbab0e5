#!/usr/bin/env python3
"""Writes the example dumps in examples/dumps/ (kubectl cluster-info dump layout + kubemedic files).

The stories come from the field reports in the project's seeds: the xtables-lock NotReady night,
the pods restarting with exit code 2 (Go nil pointer panic), and a mix of start-up failures
(image pulls, scheduling, missing ConfigMap, CNI, a Service without endpoints).

Deterministic: run `python3 examples/dumps/generate.py` and the files come out byte-identical.
Layout and JSON shape follow kubectl: 4-space indent, typed Lists whose items carry no
kind/apiVersion, logs.txt blocks between `==== START/END logs for container C of pod NS/POD ====`.
"""

import json
import os
import random
import shutil
import uuid

ROOT = os.path.dirname(os.path.abspath(__file__))


class Gen:
    def __init__(self, name, seed, taken_at):
        self.dir = os.path.join(ROOT, name)
        self.rng = random.Random(seed)
        self.taken_at = taken_at
        self.nodes = []
        self.ns = {}  # ns -> {file -> [items]}
        self.logs = {}  # (ns, pod) -> {"logs.txt": [(c, text)], "previous-logs.txt": [...]}
        self.node_files = {}  # node -> {file -> text}
        self.rv = 48213000 + seed * 1000

    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexid(self, n=64):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def suffix(self, n=5):
        return "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))

    def next_rv(self):
        self.rv += self.rng.randint(3, 400)
        return str(self.rv)

    def add(self, ns, file, item):
        self.ns.setdefault(ns, {}).setdefault(file, []).append(item)

    def meta(self, name, ns=None, created="2025-01-01T00:00:00Z", labels=None, owner=None, extra=None):
        m = {"name": name}
        if ns is not None:
            m["namespace"] = ns
        m["uid"] = self.uid()
        m["resourceVersion"] = self.next_rv()
        m["creationTimestamp"] = created
        if labels:
            m["labels"] = labels
        if owner:
            m["ownerReferences"] = [owner]
        if extra:
            m.update(extra)
        return m

    def owner(self, kind, name, uid, api="apps/v1"):
        return {"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": True, "blockOwnerDeletion": True}

    # ---- nodes -------------------------------------------------------------------------
    def node(self, name, ip, ready, cpu="32", mem="131721364Ki", kubelet="v1.8.6", runtime="docker://1.12.6",
             heartbeat=None, ready_reason=None, ready_message=None, created="2022-03-02T06:11:40Z", taints=None,
             os_image="CentOS Linux 7 (Core)", kernel="3.10.0-862.el7.x86_64", pressure=None, labels=None):
        hb = heartbeat or self.taken_at
        conds = []
        pressure = pressure or {}
        for t, r, msg in [("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                          ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                          ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available")]:
            if t in pressure:
                conds.append({"type": t, "status": "True", "lastHeartbeatTime": hb,
                              "lastTransitionTime": pressure[t][0], "reason": pressure[t][1], "message": pressure[t][2]})
            else:
                conds.append({"type": t, "status": "False", "lastHeartbeatTime": hb,
                              "lastTransitionTime": created, "reason": r, "message": msg})
        if ready is True:
            conds.append({"type": "Ready", "status": "True", "lastHeartbeatTime": hb, "lastTransitionTime": created,
                          "reason": "KubeletReady", "message": "kubelet is posting ready status"})
        else:
            conds.append({"type": "Ready", "status": ready, "lastHeartbeatTime": hb,
                          "lastTransitionTime": ready_reason[1], "reason": ready_reason[0], "message": ready_message})
        lab = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/hostname": name}
        lab.update(labels or {})
        n = {
            "metadata": self.meta(name, created=created, labels=lab,
                                  extra={"annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}}),
            "spec": {"podCIDR": f"172.{self.rng.randint(16, 31)}.{len(self.nodes)}.0/24",
                     "externalID": name},
            "status": {
                "capacity": {"cpu": cpu, "memory": mem, "pods": "110"},
                "allocatable": {"cpu": cpu, "memory": mem, "pods": "110"},
                "conditions": conds,
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": self.hexid(32), "systemUUID": self.uid().upper(), "bootID": self.uid(),
                             "kernelVersion": kernel, "osImage": os_image, "containerRuntimeVersion": runtime,
                             "kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "operatingSystem": "linux",
                             "architecture": "amd64"},
            },
        }
        if taints:
            n["spec"]["taints"] = taints
        self.nodes.append(n)
        return n

    # ---- workloads -----------------------------------------------------------------------
    def deployment(self, ns, name, replicas, template_spec, labels, created, available, hash_=None,
                   unavailable_reason=None):
        uid = self.uid()
        dep = {
            "metadata": self.meta(name, ns, created, labels=labels,
                                  extra={"annotations": {"deployment.kubernetes.io/revision": "7"}, "generation": 7}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": template_spec},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": {"observedGeneration": 7, "replicas": replicas, "updatedReplicas": replicas,
                       "readyReplicas": available, "availableReplicas": available,
                       "conditions": [{"type": "Available", "status": "True" if available == replicas else "False",
                                       "lastUpdateTime": created, "lastTransitionTime": created,
                                       "reason": "MinimumReplicasAvailable" if available == replicas else "MinimumReplicasUnavailable",
                                       "message": "Deployment has minimum availability." if available == replicas
                                       else "Deployment does not have minimum availability."}]},
        }
        if available != replicas:
            dep["status"]["unavailableReplicas"] = replicas - available
        self.add(ns, "deployments.json", dep)
        h = hash_ or self.hexid(10)[:10].replace("a", "7").replace("e", "9")
        rs_name = f"{name}-{h}"
        rs_uid = self.uid()
        rs_labels = dict(labels, **{"pod-template-hash": h})
        self.add(ns, "replicasets.json", {
            "metadata": self.meta(rs_name, ns, created, labels=rs_labels,
                                  owner=self.owner("Deployment", name, dep["metadata"]["uid"]),
                                  extra={"annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                                         "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                                                         "deployment.kubernetes.io/revision": "7"}, "generation": 1}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": rs_labels},
                     "template": {"metadata": {"labels": rs_labels}, "spec": template_spec}},
            "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": available,
                       "availableReplicas": available, "observedGeneration": 1},
        })
        _ = uid
        return rs_name, rs_uid, rs_labels, self.ns[ns]["replicasets.json"][-1]["metadata"]["uid"]

    def pod(self, ns, name, node, spec, labels, owner, created, phase, statuses, conditions_ready,
            host_ip=None, pod_ip=None, init_statuses=None, scheduled=True, pending_msg=None, qos="Burstable"):
        spec = json.loads(json.dumps(spec))
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", "default")
        spec.setdefault("securityContext", {})
        spec.setdefault("schedulerName", "default-scheduler")
        if node:
            spec["nodeName"] = node
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
        conds = []
        if scheduled:
            conds.append({"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": created})
            conds.append({"type": "Ready", "status": "True" if conditions_ready else "False", "lastProbeTime": None,
                          "lastTransitionTime": created,
                          **({} if conditions_ready else {"reason": "ContainersNotReady",
                                                          "message": "containers with unready status: [" + " ".join(s["name"] for s in statuses if not s["ready"]) + "]"})})
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": created})
        else:
            conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": created,
                          "reason": "Unschedulable", "message": pending_msg})
        status = {"phase": phase, "conditions": conds, "qosClass": qos}
        if scheduled:
            status["hostIP"] = host_ip
            if pod_ip:
                status["podIP"] = pod_ip
                status["podIPs"] = [{"ip": pod_ip}]
            status["startTime"] = created
            if init_statuses:
                status["initContainerStatuses"] = init_statuses
            status["containerStatuses"] = statuses
        p = {"metadata": self.meta(name, ns, created, labels=labels, owner=owner), "spec": spec, "status": status}
        self.add(ns, "pods.json", p)
        return p

    def cstatus(self, name, image, ready, restart_count, state, last_state=None, image_id=True, runtime="docker"):
        st = {"name": name, "state": state, "lastState": last_state or {}, "ready": ready,
              "restartCount": restart_count, "image": image,
              "imageID": (f"docker-pullable://{image.split(':')[0]}@sha256:{self.hexid()}" if runtime == "docker"
                          else f"{image.split(':')[0]}@sha256:{self.hexid()}") if image_id else "",
              }
        if "waiting" not in state or restart_count > 0:
            st["containerID"] = f"{runtime}://{self.hexid()}"
        st["started"] = "running" in state
        return st

    def event(self, ns, obj_kind, obj_name, obj_uid, reason, message, typ, first, last, count, source, host=None,
              field_path=None, api_version="v1"):
        inv = {"kind": obj_kind, "name": obj_name, "uid": obj_uid, "apiVersion": api_version,
               "resourceVersion": self.next_rv()}
        if obj_kind != "Node":
            inv["namespace"] = ns
        if field_path:
            inv["fieldPath"] = field_path
        ev = {"metadata": {"name": f"{obj_name}.{self.hexid(16)}", "namespace": ns, "uid": self.uid(),
                           "resourceVersion": self.next_rv(), "creationTimestamp": first},
              "involvedObject": inv, "reason": reason, "message": message,
              "source": {"component": source, **({"host": host} if host else {})},
              "firstTimestamp": first, "lastTimestamp": last, "count": count, "type": typ,
              "eventTime": None, "reportingComponent": "", "reportingInstance": ""}
        self.add(ns, "events.json", ev)

    def service(self, ns, name, selector, port, target, cluster_ip, created, labels=None):
        self.add(ns, "services.json", {
            "metadata": self.meta(name, ns, created, labels=labels or {"app": name}),
            "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": port, "targetPort": target}],
                     "selector": selector, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "type": "ClusterIP",
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"},
            "status": {"loadBalancer": {}},
        })

    def endpoints(self, ns, name, addrs, not_ready, port, created):
        subsets = []
        if addrs or not_ready:
            s = {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
            if addrs:
                s["addresses"] = [{"ip": ip, "nodeName": n, "targetRef": {"kind": "Pod", "namespace": ns, "name": p, "uid": self.uid()}} for ip, n, p in addrs]
            if not_ready:
                s["notReadyAddresses"] = [{"ip": ip, "nodeName": n, "targetRef": {"kind": "Pod", "namespace": ns, "name": p, "uid": self.uid()}} for ip, n, p in not_ready]
            subsets.append(s)
        e = {"metadata": self.meta(name, ns, created, labels={"app": name})}
        if subsets:
            e["subsets"] = subsets
        self.add(ns, "endpoints.json", e)

    def log(self, ns, pod, container, text, previous=False):
        f = "previous-logs.txt" if previous else "logs.txt"
        self.logs.setdefault((ns, pod), {}).setdefault(f, []).append((container, text))

    def node_file(self, node, file, text):
        self.node_files.setdefault(node, {})[file] = text

    # ---- output --------------------------------------------------------------------------
    def write(self):
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(self.dir)

        def dump(rel, kind, items, api="v1"):
            path = os.path.join(self.dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            doc = {"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": str(self.rv + 17)}, "items": items}
            with open(path, "w") as f:
                f.write(json.dumps(doc, indent=4, ensure_ascii=False))
                f.write("\n")

        dump("nodes.json", "NodeList", self.nodes)
        kinds = {"events.json": ("EventList", "v1"), "replication-controllers.json": ("ReplicationControllerList", "v1"),
                 "services.json": ("ServiceList", "v1"), "daemonsets.json": ("DaemonSetList", "apps/v1"),
                 "deployments.json": ("DeploymentList", "apps/v1"), "replicasets.json": ("ReplicaSetList", "apps/v1"),
                 "pods.json": ("PodList", "v1"), "endpoints.json": ("EndpointsList", "v1")}
        for ns, files in sorted(self.ns.items()):
            for f in ["events.json", "replication-controllers.json", "services.json", "daemonsets.json",
                      "deployments.json", "replicasets.json", "pods.json"]:
                kind, api = kinds[f]
                dump(f"{ns}/{f}", kind, files.get(f, []), api)
            for f, items in files.items():
                if f not in kinds or f == "endpoints.json":
                    if f in kinds:
                        kind, api = kinds[f]
                        dump(f"{ns}/{f}", kind, items, api)
            # kubectl writes logs.txt for every pod.
            for p in files.get("pods.json", []):
                name = p["metadata"]["name"]
                blocks = self.logs.get((ns, name), {})
                for fname in ["logs.txt", "previous-logs.txt"]:
                    if fname == "previous-logs.txt" and fname not in blocks:
                        continue
                    path = os.path.join(self.dir, ns, name, fname)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w") as fh:
                        given = dict(blocks.get(fname, []))
                        containers = [c["name"] for c in p["spec"].get("initContainers", [])] + \
                                     [c["name"] for c in p["spec"]["containers"]]
                        for c in containers:
                            if fname == "previous-logs.txt" and c not in given:
                                continue
                            fh.write(f"==== START logs for container {c} of pod {ns}/{name} ====\n")
                            if c in given:
                                fh.write(given[c])
                            else:
                                fh.write(f"Request log error: container \"{c}\" in pod \"{name}\" is waiting to start: ContainerCreating\n")
                            fh.write(f"==== END logs for container {c} of pod {ns}/{name} ====\n")
        for node, files in sorted(self.node_files.items()):
            for fname, text in sorted(files.items()):
                path = os.path.join(self.dir, "_nodes", node, fname)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as fh:
                    fh.write(text if isinstance(text, str) else json.dumps(text, indent=4) + "\n")
        path = os.path.join(self.dir, "_kubemedic", "meta.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            json.dump({"collectedAt": self.taken_at, "collector": "kubemedic collect 0.1.0"}, fh, indent=4)
            fh.write("\n")


from stories import node_notready_xtables, nodes_notready_58, crashloop_exit_2, startup_failures  # noqa: E402

if __name__ == "__main__":
    for story in (node_notready_xtables, nodes_notready_58, crashloop_exit_2, startup_failures):
        g = story(Gen)
        g.write()
        print("wrote", os.path.relpath(g.dir))
