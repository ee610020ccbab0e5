//! The knowledge behind causes and exit codes, for `kubemedic explain`.

use crate::finding::Cause;

/// What the engine knows about one cause.
#[derive(Debug, Clone, PartialEq)]
pub struct CauseInfo {
    /// The cause.
    pub id: Cause,
    /// Short human title.
    pub title: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// The signals that recognise it (messages, conditions, facts).
    pub signals: &'static [&'static str],
    /// How to fix it.
    pub fix: &'static [&'static str],
    /// Where the knowledge comes from, for a reader: Kubernetes behaviour, node-problem-detector's
    /// rules, the troubleshooting handbook or a field report.
    pub source: &'static str,
}

macro_rules! info {
    ($id:ident, $title:literal, $meaning:literal, [$($sig:literal),* $(,)?], [$($fix:literal),* $(,)?], $source:literal) => {
        CauseInfo {
            id: Cause::$id,
            title: $title,
            meaning: $meaning,
            signals: &[$($sig),*],
            fix: &[$($fix),*],
            source: $source,
        }
    };
}

static CATALOG: &[CauseInfo] = &[
    info!(
        OOMKilled,
        "Container hit its memory limit",
        "The container used more memory than resources.limits.memory; the cgroup OOM killer ended it with SIGKILL (exit 137).",
        [
            "lastState.terminated.reason OOMKilled",
            "exit code 137",
            "kernel `Memory cgroup out of memory`"
        ],
        [
            "Raise the limit: kubectl -n NS set resources deploy/NAME -c CONTAINER --limits=memory=NEWMi",
            "Or find the leak: compare working set over time (kubectl top pod)"
        ],
        "troubleshooting handbook (exit codes, CrashLoopBackOff)"
    ),
    info!(
        NodeOOM,
        "Node ran out of memory",
        "The whole node ran out of memory and the kernel OOM killer picked a process of this container; its own limit was not reached.",
        [
            "exit 137 with reason Error (not OOMKilled)",
            "kernel `Out of memory: Kill process` / `oom-kill:` on the pod's node",
            "node event SystemOOM"
        ],
        [
            "Check what else uses memory on the node (non-Kubernetes processes, kubelet, dockerd)",
            "Raise --kube-reserved / --system-reserved so pods cannot starve the system",
            "Set memory requests equal to real usage so the scheduler does not overcommit"
        ],
        "troubleshooting handbook"
    ),
    info!(
        LivenessProbeFailure,
        "Liveness probe killed the container",
        "The kubelet restarted the container because its liveness (or startup) probe failed failureThreshold times in a row. A readiness probe that never succeeds is reported under this cause too: it does not kill, but keeps the pod out of its Services for the same reasons. The finding says why the probe fails: the probed port compared with the container's declared ports and with the port the logs say the app listens on, connection refused vs timeout vs an HTTP status, the probed path, an app that listens only on 127.0.0.1.",
        [
            "event Unhealthy `Liveness probe failed` / `Readiness probe failed` / `Startup probe failed` (Go 1.8 `getsockopt: connection refused` to 1.14+ `Get \"http://...\"` wordings)",
            "event Killing `failed liveness probe, will be restarted` (1.14+) / `Container failed liveness probe.. Container will be killed and recreated.` (1.9-1.13)",
            "exit 137 or 143",
            "`connection refused` on a port the container does not declare or the logs do not listen on",
            "`HTTP probe failed with statuscode: 404` (wrong path)",
            "app log `Running on http://127.0.0.1:PORT` (loopback only; the kubelet probes the pod IP)"
        ],
        [
            "Check the probe endpoint by hand: kubectl -n NS exec POD -- wget -qO- localhost:PORT/PATH",
            "Point the probe at the port and path the app serves (containerPort, the port in its listen log line)",
            "Make the app listen on 0.0.0.0, not 127.0.0.1",
            "Raise timeoutSeconds/failureThreshold if the app is slow under load",
            "Make the liveness endpoint not depend on downstream services"
        ],
        "troubleshooting handbook (health checks)"
    ),
    info!(
        ProbeTooEarly,
        "Probes start before the app is up",
        "The app needs longer to start than the liveness (or startup) probe allows before it kills (initialDelaySeconds + periodSeconds x failureThreshold), so it is killed while starting. Reported only with positive evidence that the app would have answered later: its logs (current or previous instance) show start-up completing, or the app listening, later than the kill time, or a start-up duration measured on earlier instances that exceeds the probe's budget. A probe that never succeeds and kills at the first moment it may proves nothing about start-up: without that evidence the finding is LivenessProbeFailure, with why the probe fails.",
        [
            "the app's own start-up line (`Started Application in 45.3 seconds`, `Server startup in [38211] milliseconds`) longer than the probe's kill budget",
            "a listen/ready line (`listening on`, `ready to accept connections`) stamped later, from the log's first line, than the kill budget",
            "restarts by the liveness or startup probe, no startupProbe (or one whose budget is shorter than the measured start-up)"
        ],
        [
            "Add a startupProbe (same check, failureThreshold x periodSeconds > start-up time)",
            "Or raise livenessProbe.initialDelaySeconds above the observed start-up time"
        ],
        "troubleshooting handbook; field report: pods restarting hundreds of times with exit code 2"
    ),
    info!(
        AppPanic,
        "Program crashed on a bug",
        "The program crashed on its own bug: a Go panic (exit 2), an uncaught exception, abort (134) or segmentation fault (139).",
        [
            "exit 2 with `panic:` / `goroutine N [running]`",
            "`Exception in thread`",
            "`Traceback (most recent call last)`",
            "exit 134 (SIGABRT), 139 (SIGSEGV)"
        ],
        [
            "Read the stack trace: kubectl -n NS logs POD -c CONTAINER --previous",
            "Hand the trace to the developers; roll back: kubectl -n NS rollout undo deploy/NAME"
        ],
        "field report: pods restarting hundreds of times with exit code 2"
    ),
    info!(
        AppError,
        "Program exited with an error",
        "The program chose to exit non-zero (1, 255, sysexits 64-78); the last log lines usually say why.",
        [
            "exit code 1-125 other than the specific ones",
            "last log lines of the previous instance"
        ],
        ["Read the reason: kubectl -n NS logs POD -c CONTAINER --previous --tail=50"],
        "troubleshooting handbook (exit codes)"
    ),
    info!(
        ConfigError,
        "Program refused its configuration",
        "The program exited because its configuration is invalid: a file does not parse or a required setting is missing.",
        ["exit 1-2 (or sysexits 78) with logs naming config/yaml/json/parse/required/invalid"],
        [
            "Fix the ConfigMap/flags the log names: kubectl -n NS edit configmap NAME",
            "Validate the file locally before rolling out"
        ],
        "troubleshooting handbook (process exits)"
    ),
    info!(
        DependencyDNSFailure,
        "A name the program needs did not resolve",
        "The program exited because a host name it depends on did not resolve; the finding names the name.",
        [
            "Go `lookup NAME on 10.96.0.10:53: no such host` / `server misbehaving` / `i/o timeout`",
            "glibc `Name or service not known`, `Temporary failure in name resolution`",
            "musl/busybox `can't resolve 'NAME'`, `bad address 'NAME'`, `Name does not resolve`",
            "Java `UnknownHostException: NAME`, Python `gaierror` / `NameResolutionError`, Node `getaddrinfo ENOTFOUND NAME` / `EAI_AGAIN`",
            "curl `Could not resolve host: NAME`, nginx `host not found in upstream`, libpq `could not translate host name`"
        ],
        [
            "Check the name from inside the pod: kubectl -n NS exec POD -- nslookup NAME",
            "Check CoreDNS: kubectl -n kube-system logs -l k8s-app=kube-dns"
        ],
        "troubleshooting handbook (process exits)"
    ),
    info!(
        CommandNotFound,
        "Command not found in the image",
        "The container's command or entrypoint does not exist in the image (exit 127).",
        [
            "exit 127",
            "`executable file not found in $PATH`",
            "`no such file or directory` on exec",
            "reason StartError / ContainerCannotRun"
        ],
        [
            "Fix command/args or the image entrypoint; check with: docker run --rm --entrypoint sh IMAGE -c 'command -v CMD'"
        ],
        "troubleshooting handbook (exit codes)"
    ),
    info!(
        CommandNotExecutable,
        "Command is not executable",
        "The command exists but cannot be executed: missing execute bit, wrong architecture, or a mount with noexec (exit 126).",
        [
            "exit 126",
            "`permission denied` on exec",
            "`exec format error`"
        ],
        [
            "chmod +x the entrypoint in the Dockerfile",
            "Build the image for the node's architecture"
        ],
        "troubleshooting handbook (exit codes)"
    ),
    info!(
        KilledBySignal,
        "Killed by an outside signal",
        "Something outside the container sent a fatal signal: not the OOM killer and not a probe (an operator, a script, a rogue process).",
        [
            "exit 128+n without OOM or probe evidence",
            "signal named from the signal table"
        ],
        [
            "Find the sender with a signal tracer (e.g. systemtap probe signal.send on the container's PID)",
            "Check node cron jobs, scripts and unknown processes"
        ],
        "troubleshooting handbook (Systemtap, exit codes)"
    ),
    info!(
        MissingConfigOrSecret,
        "Referenced ConfigMap or Secret missing",
        "The pod references a ConfigMap, Secret or key that does not exist, so the kubelet cannot build the container.",
        [
            "reason CreateContainerConfigError",
            "`configmap \"x\" not found`",
            "`secret \"x\" not found`",
            "`couldn't find key`"
        ],
        [
            "Create it: kubectl -n NS create configmap NAME --from-file=...",
            "Or fix the reference in the pod template"
        ],
        "Kubernetes behaviour"
    ),
    info!(
        SubPathMountStale,
        "Stale subPath mount",
        "A subPath mount of a ConfigMap/Secret that changed points to a removed file, so the container cannot restart in place (exit 128).",
        [
            "exit 128",
            "`volume-subpaths`",
            "`no such file or directory` on mount"
        ],
        [
            "Delete the pod so it gets fresh mounts: kubectl -n NS delete pod POD",
            "Mount the whole volume instead of subPath to get updates"
        ],
        "troubleshooting handbook (ContainerCreating)"
    ),
    info!(
        InsufficientResources,
        "Not enough free resources on any node",
        "No node has enough unrequested CPU, memory, GPU or pod slots for the pod's requests.",
        [
            "FailedScheduling `Insufficient cpu`",
            "`Insufficient memory`",
            "`Insufficient nvidia.com/gpu`",
            "`Too many pods`"
        ],
        [
            "Lower the pod's requests or add nodes",
            "See what is requested: kubectl describe nodes | grep -A5 'Allocated resources'"
        ],
        "troubleshooting handbook (Pending)"
    ),
    info!(
        NodeSelectorMismatch,
        "nodeSelector / node affinity matches no node",
        "The pod's nodeSelector or required node affinity selects labels no schedulable node carries.",
        [
            "`didn't match node selector`",
            "`didn't match Pod's node affinity/selector`"
        ],
        [
            "Compare: kubectl get nodes --show-labels",
            "Fix the selector or label a node: kubectl label node NODE KEY=VALUE"
        ],
        "troubleshooting handbook (Pending)"
    ),
    info!(
        UntoleratedTaint,
        "Nodes carry taints the pod does not tolerate",
        "Every candidate node has a taint the pod has no toleration for.",
        [
            "`had taint {...}, that the pod didn't tolerate`",
            "`had untolerated taint {...}`"
        ],
        [
            "See taints: kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints",
            "Add a toleration or remove the taint: kubectl taint node NODE KEY-"
        ],
        "troubleshooting handbook (Pending)"
    ),
    info!(
        VolumeZoneConflict,
        "Volume is in a zone with no usable node",
        "The pod's PersistentVolume is bound to a zone (node affinity) where no schedulable node is.",
        [
            "`had no available volume zone`",
            "`volume node affinity conflict`"
        ],
        [
            "Add nodes in the volume's zone, or use a StorageClass with volumeBindingMode: WaitForFirstConsumer"
        ],
        "troubleshooting handbook (Pending)"
    ),
    info!(
        UnboundPVC,
        "PersistentVolumeClaim not bound",
        "A PersistentVolumeClaim the pod needs is Pending, so the pod cannot be scheduled.",
        [
            "`pod has unbound immediate PersistentVolumeClaims`",
            "PVC phase Pending"
        ],
        [
            "kubectl -n NS describe pvc NAME (StorageClass exists? provisioner running? matching PV?)"
        ],
        "Kubernetes behaviour"
    ),
    info!(
        PodAffinityConflict,
        "Pod (anti-)affinity excludes every node",
        "Required pod affinity or anti-affinity rules leave no node for the pod (often more replicas than nodes with a hostname anti-affinity).",
        [
            "`didn't match pod affinity rules`",
            "`didn't match pod anti-affinity rules`",
            "`didn't satisfy existing pods anti-affinity rules`"
        ],
        ["Relax to preferredDuringScheduling, or add nodes, or lower replicas"],
        "troubleshooting handbook (Pending)"
    ),
    info!(
        SchedulerUnavailable,
        "Nothing is scheduling pods",
        "Pods stay Pending without a node and there are no scheduling events at all: the scheduler is down or the pod names a scheduler that does not run.",
        [
            "pods Pending without nodeName for minutes",
            "no FailedScheduling / Scheduled events",
            "schedulerName of a scheduler that does not run"
        ],
        [
            "kubectl -n kube-system get pods -l component=kube-scheduler",
            "Check spec.schedulerName of the pod"
        ],
        "troubleshooting handbook (Pending)"
    ),
    info!(
        NodeDiskFull,
        "Node disk full",
        "The filesystem holding the container runtime or kubelet data is full, so sandboxes and containers cannot be created.",
        [
            "`no space left on device` in sandbox/create errors or kubelet logs",
            "DiskPressure",
            "facts: runtime/kubelet disk at 100%"
        ],
        [
            "Free space: crictl rmi --prune / docker system prune, truncate big logs under /var/log",
            "Raise imageGC thresholds or grow the disk"
        ],
        "troubleshooting handbook (disk full)"
    ),
    info!(
        MemoryFragmentation,
        "Kernel memory fragmented",
        "The kernel cannot allocate physically contiguous pages though memory is free, so creating sandboxes/containers fails.",
        [
            "kernel `page allocation failure: order:N` (N >= 1)",
            "sandbox start failures",
            "/proc/buddyinfo with no free high-order blocks"
        ],
        [
            "Compact memory: echo 1 > /proc/sys/vm/compact_memory",
            "Drop caches: echo 3 > /proc/sys/vm/drop_caches",
            "Raise vm.min_free_kbytes"
        ],
        "troubleshooting handbook (memory fragmentation)"
    ),
    info!(
        MemoryLimitTooLow,
        "Memory limit too small to start",
        "The memory limit is too small for the container to even start; often `m` (milli) was written for `Mi`: `1024m` is 1.024 bytes.",
        [
            "limits.memory below a few MiB",
            "limits.memory written with suffix `m`",
            "`signal: killed` during sandbox/init"
        ],
        [
            "Write the unit as Mi: kubectl -n NS set resources deploy/NAME -c CONTAINER --limits=memory=1024Mi"
        ],
        "troubleshooting handbook (ContainerCreating)"
    ),
    info!(
        ImagePullFailure,
        "Image pull failed",
        "The image could not be pulled and the message matches no more specific image cause.",
        ["ErrImagePull / ImagePullBackOff without a recognisable reason"],
        ["Try the pull on the node: crictl pull IMAGE (or docker pull IMAGE) and read the error"],
        "troubleshooting handbook"
    ),
    info!(
        VolumeAttachFailure,
        "Volume cannot attach or mount",
        "A volume cannot be attached or mounted: multi-attach after the pod moved, missing PV, CSI driver errors.",
        [
            "FailedAttachVolume",
            "`Multi-Attach error`",
            "FailedMount",
            "`timed out waiting for the condition`"
        ],
        [
            "kubectl get volumeattachments | grep PV (is it still attached to the old node?)",
            "Check the CSI driver pods on the node"
        ],
        "troubleshooting handbook (ContainerCreating)"
    ),
    info!(
        CNIFailure,
        "Network plugin cannot set up the pod network",
        "The CNI plugin failed to set up (or tear down) the pod network or to allocate an IP, or the node's network plugin is not ready at all (the node is NotReady and every new pod waits in ContainerCreating).",
        [
            "`failed to set up sandbox container ... network`, `NetworkPlugin cni failed`, `failed to allocate for range`",
            "node Ready=False `NetworkPluginNotReady`: `network plugin is not ready: cni config uninitialized` (dockershim), `cni plugin not initialized` (containerd), `No CNI configuration file in /etc/cni/net.d/` (CRI-O), `Kubenet does not have netConfig`",
            "kubelet `Unable to update cni config: No networks found in /etc/cni/net.d`; pod events NetworkNotReady",
            "stuck deletions: `KillPodSandbox` / `failed to teardown pod` / `failed to destroy network for sandbox` (plugin binary missing, the CNI's node daemon unreachable)"
        ],
        [
            "Check the CNI pod on the node: kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=NODE",
            "Delete it to reset routes/iptables; then restart the runtime if needed",
            "A plugin binary missing from /opt/cni/bin or a config missing from /etc/cni/net.d: reinstall the CNI DaemonSet's install-cni step on the node"
        ],
        "troubleshooting handbook; field report: self-healing nodes, DNS and CNI"
    ),
    info!(
        ContainerNameConflict,
        "Stale container holds the name",
        "A leftover container already uses the name the runtime needs for the sandbox or container.",
        ["`Conflict. The container name ... is already in use`"],
        ["Remove the stale container on the node: docker rm -f ID (or crictl rm ID)"],
        "troubleshooting handbook"
    ),
    info!(
        RuntimeVersionConflict,
        "Two container runtimes fight over the node",
        "Two container runtime installs (e.g. a distro containerd and Docker's) share sockets/state; shims die and sandboxes restart.",
        [
            "`ttrpc: client shutting down`",
            "`connection reset by peer` on `shim.sock`",
            "repeated SandboxChanged"
        ],
        [
            "Keep one runtime: check `which -a containerd docker runc` and the systemd units; remove the other install"
        ],
        "troubleshooting handbook"
    ),
    info!(
        RuntimeUnresponsive,
        "Container runtime hangs",
        "The container runtime does not answer in time (disk full, lock contention, bug); CRI calls time out and PLEG goes unhealthy.",
        [
            "`context deadline exceeded` / DeadlineExceeded on CRI calls",
            "`PLEG is not healthy`",
            "ContainerGCFailed",
            "`Docker daemon not ready`"
        ],
        [
            "Check the runtime: systemctl status containerd docker; crictl ps",
            "Restart it: systemctl restart containerd (or docker)"
        ],
        "troubleshooting handbook; field report: 58 nodes NotReady during a mass rollout"
    ),
    info!(
        ImageNotFound,
        "Image or tag does not exist",
        "The registry has no such image or tag.",
        [
            "`manifest for ... not found`",
            "`manifest unknown`",
            "`repository does not exist`",
            "`not found`"
        ],
        ["Fix the image reference: kubectl -n NS set image deploy/NAME CONTAINER=IMAGE:TAG"],
        "troubleshooting handbook (ImagePullBackOff)"
    ),
    info!(
        RegistryAuthFailure,
        "Registry refused credentials",
        "The registry is private and the pod has no or a wrong imagePullSecret.",
        [
            "`unauthorized`",
            "`authentication required`",
            "`pull access denied`",
            "`no basic auth credentials`"
        ],
        [
            "kubectl -n NS create secret docker-registry regcred --docker-server=REGISTRY --docker-username=U --docker-password=P",
            "Add imagePullSecrets: [{name: regcred}] to the pod template or service account"
        ],
        "troubleshooting handbook"
    ),
    info!(
        InsecureRegistry,
        "HTTP registry not configured as insecure",
        "The registry speaks plain HTTP but the runtime expects HTTPS.",
        ["`server gave HTTP response to HTTPS client`"],
        [
            "Docker: add the registry to insecure-registries in /etc/docker/daemon.json; containerd: configure the registry host with http:// in certs.d/hosts.toml; restart the runtime"
        ],
        "troubleshooting handbook"
    ),
    info!(
        RegistryCertUntrusted,
        "Registry certificate not trusted",
        "The registry's certificate is signed by a CA the node does not trust (self-signed).",
        ["`x509: certificate signed by unknown authority`"],
        [
            "Install the CA on every node: /etc/docker/certs.d/REGISTRY/ca.crt or containerd certs.d, or the system trust store"
        ],
        "troubleshooting handbook"
    ),
    info!(
        ImagePullTimeout,
        "Image pull timed out",
        "The pull queued or timed out: big images, serial pulls, a slow registry.",
        [
            "`context deadline exceeded`",
            "`i/o timeout`",
            "`request canceled` while pulling",
            "many pods pulling at once"
        ],
        [
            "Pre-pull large images, enable parallel pulls (kubelet --serialize-image-pulls=false), use a registry mirror closer to the nodes"
        ],
        "troubleshooting handbook"
    ),
    info!(
        RegistryUnreachable,
        "Registry cannot be reached",
        "The registry host does not resolve or refuses connections.",
        [
            "`dial tcp ... no such host`",
            "`connection refused`",
            "RegistryUnavailable"
        ],
        [
            "From the node: nslookup REGISTRY; curl -v https://REGISTRY/v2/",
            "Check proxy/firewall settings of the runtime"
        ],
        "troubleshooting handbook"
    ),
    info!(
        InvalidImageName,
        "Image reference cannot be parsed",
        "The image reference is not a valid reference (upper case, bad characters, empty tag).",
        ["reason InvalidImageName"],
        ["Fix the reference: lower-case repository, `registry/repo:tag` or `@sha256:...`"],
        "troubleshooting handbook"
    ),
    info!(
        FinalizerBlocked,
        "Finalizer not cleared",
        "The pod was deleted but a finalizer's controller has not removed its finalizer, so the object stays.",
        [
            "deletionTimestamp set",
            "non-empty metadata.finalizers",
            "containers already gone"
        ],
        [
            "Find the controller owning the finalizer; if it is gone: kubectl -n NS patch pod POD --type=merge -p '{\"metadata\":{\"finalizers\":null}}'"
        ],
        "troubleshooting handbook (Terminating)"
    ),
    info!(
        ImmutableFile,
        "Immutable file blocks removal",
        "A file in the container's filesystem carries the immutable (`i`) attribute, so the runtime cannot remove the container's directory.",
        ["`operation not permitted` on remove in kubelet/runtime logs"],
        [
            "On the node: lsattr -R the path from the log; chattr -i FILE; the kubelet then finishes the deletion"
        ],
        "troubleshooting handbook (Terminating)"
    ),
    info!(
        NodeLost,
        "Node lost; deletion cannot be confirmed",
        "The pod's node is NotReady/Unknown, so nothing confirms the containers stopped and the pod stays Terminating.",
        ["pod with deletionTimestamp on a node whose Ready is False/Unknown"],
        [
            "Recover the node, or if it is gone for good: kubectl delete node NODE (pods are then removed), or kubectl -n NS delete pod POD --grace-period=0 --force"
        ],
        "troubleshooting handbook"
    ),
    info!(
        IptablesLockContention,
        "xtables lock contention",
        "The runtime (hostPort mappings) and kube-proxy fight over the xtables lock on a node with a huge ruleset; runtime calls stall and the node goes NotReady.",
        [
            "`Another app is currently holding the xtables lock`",
            "kube-proxy at 100% CPU",
            "tens of thousands of iptables rules",
            "hostPort mappings, mass pod starts",
            "PLEG not healthy / ContainerGCFailed as consequences"
        ],
        [
            "Scale starts gradually; drop hostPort mappings (use a Service/NodePort)",
            "Reduce the ruleset (split clusters, remove stale Services) or move kube-proxy to ipvs mode"
        ],
        "field report: 58 nodes NotReady during a mass rollout"
    ),
    info!(
        KubeletStopped,
        "kubelet stopped posting status",
        "The node's kubelet no longer posts status or renews its lease; Ready is Unknown.",
        [
            "Ready Unknown",
            "`Kubelet stopped posting node status`",
            "no lease renewals"
        ],
        [
            "On the node: systemctl status kubelet; journalctl -u kubelet -n 200",
            "Check network from node to apiserver"
        ],
        "Kubernetes behaviour"
    ),
    info!(
        NodeDiskPressure,
        "Node disk pressure",
        "Disk or inode eviction thresholds are crossed; the kubelet evicts pods and garbage-collects images.",
        [
            "condition DiskPressure True",
            "ImageGCFailed",
            "EvictionThresholdMet"
        ],
        [
            "Free disk: remove unused images (crictl rmi --prune), large logs, emptyDir hogs (du -sh /var/lib/kubelet/pods/*)"
        ],
        "troubleshooting handbook"
    ),
    info!(
        NodeMemoryPressure,
        "Node memory pressure",
        "The memory eviction threshold is crossed; the kubelet evicts pods.",
        ["condition MemoryPressure True"],
        [
            "Find the biggest consumers: kubectl top pods -A --sort-by=memory | head; set requests to real usage"
        ],
        "troubleshooting handbook"
    ),
    info!(
        NodePIDPressure,
        "Node PID pressure",
        "Too many processes on the node.",
        ["condition PIDPressure True"],
        ["Find the process leak: ps -eLf | wc -l; set podPidsLimit in the kubelet config"],
        "troubleshooting handbook"
    ),
    info!(
        HighIOWait,
        "High load from I/O wait",
        "Load is high because processes wait on disk, not because the CPU is busy.",
        [
            "load average >> cores with high iowait and low user CPU",
            "a disk 100% busy"
        ],
        [
            "Find the I/O heavy processes: iotop -oPa; pidstat -d 1",
            "Move log-heavy workloads to faster disks; limit with blkio/io.max"
        ],
        "troubleshooting handbook (high load)"
    ),
    info!(
        KernelDeadlock,
        "Kernel task blocked",
        "A kernel task has been blocked for minutes (hung task); often dockerd/containerd hangs with it.",
        [
            "`task ... blocked for more than 120 seconds`",
            "NPD KernelDeadlock / DockerHung"
        ],
        [
            "Drain the node and reboot it: kubectl drain NODE --ignore-daemonsets --delete-emptydir-data"
        ],
        "field report: self-healing nodes, DNS and CNI"
    ),
    info!(
        KernelOops,
        "Kernel oops",
        "The kernel hit an oops or BUG; the node's state is unreliable.",
        [
            "`BUG: unable to handle kernel`",
            "`Oops:`",
            "`general protection fault`"
        ],
        ["Drain and reboot the node; check the kernel version against known bugs"],
        "field report: self-healing nodes, DNS and CNI"
    ),
    info!(
        FilesystemReadOnly,
        "Filesystem remounted read-only",
        "A filesystem hit errors and was remounted read-only.",
        ["`Remounting filesystem read-only`", "ext4/xfs errors"],
        ["Drain the node, fsck the device, replace the disk if errors repeat"],
        "node-problem-detector's rules"
    ),
    info!(
        ClockSkew,
        "Node clock skew",
        "The node's clock is off because NTP is not synchronised, breaking TLS and leases.",
        [
            "`x509: certificate has expired or is not yet valid` across many calls",
            "NTP unsynchronised"
        ],
        ["timedatectl; chronyc tracking; systemctl restart chronyd (or ntpd)"],
        "field report: self-healing nodes, DNS and CNI"
    ),
    info!(
        ConntrackTableFull,
        "conntrack table full",
        "The connection tracking table overflowed; new connections are dropped.",
        [
            "`nf_conntrack: table full, dropping packet`",
            "facts: conntrack count near max"
        ],
        [
            "sysctl -w net.netfilter.nf_conntrack_max=<2x current>; lower nf_conntrack_tcp_timeout_established"
        ],
        "Kubernetes behaviour"
    ),
    info!(
        SYNBacklogOverflow,
        "SYN/accept backlog overflow",
        "New connections are dropped because listen queues are full; health checks time out.",
        [
            "TCPBacklogDrop / ListenDrops / ListenOverflows rising",
            "probe timeouts"
        ],
        ["Raise net.core.somaxconn and net.ipv4.tcp_max_syn_backlog, and the app's listen backlog"],
        "troubleshooting handbook (health checks)"
    ),
    info!(
        DNSPartialFailure,
        "Some DNS replicas fail",
        "Some cluster DNS replicas fail (e.g. cannot resolve external names) while others work, so lookups fail intermittently.",
        [
            "per-replica DNS probes disagree",
            "apps report intermittent `no such host`",
            "errors in logs of some CoreDNS replicas only"
        ],
        [
            "Find the bad replica: kubectl -n kube-system logs POD for each CoreDNS pod; delete the failing ones"
        ],
        "field report: self-healing nodes, DNS and CNI"
    ),
    info!(
        NodePodNetworkDown,
        "Pod network down on one node",
        "Pods on one node are unreachable from other nodes while local checks pass.",
        ["neighbour probes to that node's pod IPs fail from every other node"],
        [
            "Delete the CNI pod on the node to reset routes; restart the runtime; cordon the node if it persists"
        ],
        "field report: self-healing nodes, DNS and CNI"
    ),
    info!(
        ServiceNoEndpoints,
        "Service has no ready endpoints",
        "The Service's selector matches no pod, or only pods that are not ready.",
        [
            "Endpoints/EndpointSlices empty",
            "selector matches no pod or only unready ones"
        ],
        [
            "Compare: kubectl -n NS get svc NAME -o jsonpath='{.spec.selector}' with kubectl -n NS get pods --show-labels"
        ],
        "Kubernetes behaviour"
    ),
    info!(
        HostPortConflict,
        "Host port used twice",
        "Several pods bind the same host port on one node (hostNetwork/hostPort); only one listens.",
        [
            "hostNetwork/hostPort duplicates on a node",
            "probes answered with RST"
        ],
        ["Give each pod its own port, or use a DaemonSet / pod anti-affinity so one per node"],
        "troubleshooting handbook (health checks)"
    ),
    info!(
        LoadBalancerLoopback,
        "Internal load balancer loopback",
        "In-cluster clients reach their own cluster through an internal cloud load balancer; with ipvs the LB IP is bound locally and the packet loops back to the same node.",
        [
            "clients calling the Service's internal LB IP",
            "kube-proxy ipvs mode",
            "externalTrafficPolicy Cluster",
            "4 s delays or timeouts"
        ],
        ["Call the Service's ClusterIP / DNS name from inside the cluster instead of the LB IP"],
        "troubleshooting handbook (CLB loopback)"
    ),
];

/// Every cause with its knowledge, in catalog order.
pub fn all() -> &'static [CauseInfo] {
    CATALOG
}

/// Looks a cause up by ID (exact, then case-insensitive).
pub fn cause(id: &str) -> Option<&'static CauseInfo> {
    let wanted: Cause = id.parse().ok()?;
    CATALOG.iter().find(|c| c.id == wanted)
}

/// The knowledge entry for a cause value.
pub fn info(cause: Cause) -> Option<&'static CauseInfo> {
    CATALOG.iter().find(|c| c.id == cause)
}

/// A Linux signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// Signal number.
    pub number: i64,
    /// Name such as `SIGKILL`.
    pub name: &'static str,
    /// What the signal usually means.
    pub meaning: &'static str,
}

const SIGNALS: &[(i64, &str, &str)] = &[
    (
        1,
        "SIGHUP",
        "hangup of the controlling terminal or death of the controlling process",
    ),
    (2, "SIGINT", "interrupt from keyboard (Ctrl-C)"),
    (
        3,
        "SIGQUIT",
        "quit from keyboard; core dump (a Java thread dump for the JVM)",
    ),
    (
        4,
        "SIGILL",
        "illegal instruction (binary built for another CPU?)",
    ),
    (5, "SIGTRAP", "trace/breakpoint trap"),
    (
        6,
        "SIGABRT",
        "abort(3): the program aborted itself (assertion, C++ terminate)",
    ),
    (
        7,
        "SIGBUS",
        "bus error (bad memory access, e.g. truncated mmap'ed file)",
    ),
    (8, "SIGFPE", "floating-point exception (division by zero)"),
    (
        9,
        "SIGKILL",
        "killed unconditionally: OOM killer (cgroup or node), kubelet after the grace period, or someone's kill -9",
    ),
    (
        10,
        "SIGUSR1",
        "user-defined signal 1 (not handled by the program)",
    ),
    (
        11,
        "SIGSEGV",
        "invalid memory reference (segmentation fault)",
    ),
    (
        12,
        "SIGUSR2",
        "user-defined signal 2 (not handled by the program)",
    ),
    (13, "SIGPIPE", "write to a pipe or socket with no reader"),
    (14, "SIGALRM", "timer signal from alarm(2)"),
    (
        15,
        "SIGTERM",
        "termination request: kubelet stopping the container (deletion, liveness failure, eviction) or docker stop",
    ),
    (16, "SIGSTKFLT", "stack fault on coprocessor (unused)"),
    (17, "SIGCHLD", "child stopped or terminated"),
    (18, "SIGCONT", "continue if stopped"),
    (19, "SIGSTOP", "stop process"),
    (20, "SIGTSTP", "stop typed at terminal"),
    (21, "SIGTTIN", "terminal input for background process"),
    (22, "SIGTTOU", "terminal output for background process"),
    (23, "SIGURG", "urgent condition on socket"),
    (24, "SIGXCPU", "CPU time limit exceeded (setrlimit)"),
    (25, "SIGXFSZ", "file size limit exceeded (setrlimit)"),
    (26, "SIGVTALRM", "virtual alarm clock"),
    (27, "SIGPROF", "profiling timer expired"),
    (28, "SIGWINCH", "window resize signal"),
    (29, "SIGIO", "I/O now possible"),
    (30, "SIGPWR", "power failure"),
    (
        31,
        "SIGSYS",
        "bad system call (seccomp profile denied a syscall)",
    ),
];

/// The Linux signal with this number, if it has a name (32 and 33 are reserved by glibc).
pub fn signal(number: i64) -> Option<Signal> {
    if let Some(&(n, name, meaning)) = SIGNALS.iter().find(|(n, _, _)| *n == number) {
        return Some(Signal {
            number: n,
            name,
            meaning,
        });
    }
    if (34..=64).contains(&number) {
        return Some(Signal {
            number,
            name: "SIGRTMIN+n",
            meaning: "real-time signal (application defined)",
        });
    }
    None
}

/// What an exit code means.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitCodeInfo {
    /// The code as given.
    pub code: i64,
    /// The status a container actually reports for it (0-255).
    pub effective: u8,
    /// Short name of the meaning.
    pub title: String,
    /// Longer explanation.
    pub meaning: String,
    /// The signal, for 129-192 (128+n).
    pub signal: Option<Signal>,
    /// Causes that commonly produce this code, most likely first.
    pub likely_causes: Vec<Cause>,
}

const SYSEXITS: &[(i64, &str, &str)] = &[
    (64, "EX_USAGE", "command line usage error"),
    (65, "EX_DATAERR", "input data was incorrect"),
    (
        66,
        "EX_NOINPUT",
        "an input file did not exist or was not readable",
    ),
    (67, "EX_NOUSER", "the user specified did not exist"),
    (68, "EX_NOHOST", "the host specified did not exist"),
    (69, "EX_UNAVAILABLE", "a service is unavailable"),
    (70, "EX_SOFTWARE", "internal software error"),
    (71, "EX_OSERR", "operating system error (e.g. cannot fork)"),
    (72, "EX_OSFILE", "a system file is missing or malformed"),
    (
        73,
        "EX_CANTCREAT",
        "a user-specified output file cannot be created",
    ),
    (74, "EX_IOERR", "an error occurred while doing I/O"),
    (75, "EX_TEMPFAIL", "temporary failure; retrying may succeed"),
    (
        76,
        "EX_PROTOCOL",
        "the remote system returned something impossible",
    ),
    (77, "EX_NOPERM", "insufficient permission"),
    (
        78,
        "EX_CONFIG",
        "something was found in an unconfigured or misconfigured state",
    ),
];

/// The sysexits.h name and meaning of a code in 64-78.
pub fn sysexit(code: i64) -> Option<(&'static str, &'static str)> {
    SYSEXITS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, n, m)| (n, m))
}

/// Explains an exit code; codes outside 0-255 are reduced the way the kernel does
/// (`code mod 256`, so `exit(-1)` shows as 255).
pub fn exit_code(code: i64) -> ExitCodeInfo {
    let effective = code.rem_euclid(256) as u8;
    let mut info = explain_effective(effective);
    if !(0..=255).contains(&code) {
        info.meaning = format!(
            "{code} is outside 0-255: the kernel keeps only the low 8 bits, so the container reports {effective}. {}",
            info.meaning
        );
        info.title = format!("out of range, seen as {effective}: {}", info.title);
    }
    info.code = code;
    info
}

fn explain_effective(code: u8) -> ExitCodeInfo {
    let c = i64::from(code);
    let mk = |title: &str, meaning: &str, causes: &[Cause]| ExitCodeInfo {
        code: c,
        effective: code,
        title: title.to_string(),
        meaning: meaning.to_string(),
        signal: None,
        likely_causes: causes.to_vec(),
    };
    match code {
        0 => mk(
            "success",
            "The process exited normally. For a restarting container with restartPolicy Always this means the program finished when it should keep running.",
            &[],
        ),
        1 => mk(
            "general error",
            "The program chose to exit with a generic error (exit(1), an uncaught exception in many runtimes); the last log lines say why.",
            &[
                Cause::AppError,
                Cause::ConfigError,
                Cause::DependencyDNSFailure,
            ],
        ),
        2 => mk(
            "misuse of shell builtin / Go panic / usage error",
            "Shells use 2 for a misused builtin, many CLIs for bad arguments, and Go programs exit 2 when they panic (look for `panic:` and `goroutine N [running]` in the previous logs).",
            &[Cause::AppPanic, Cause::ConfigError, Cause::AppError],
        ),
        64..=78 => {
            let (name, meaning) = sysexit(c).unwrap_or(("EX_?", "sysexits code"));
            let causes: &[Cause] = if code == 78 || code == 64 {
                &[Cause::ConfigError, Cause::AppError]
            } else if code == 68 {
                &[Cause::DependencyDNSFailure, Cause::AppError]
            } else {
                &[Cause::AppError]
            };
            mk(name, &format!("sysexits.h {name}: {meaning}."), causes)
        }
        125 => mk(
            "container failed to run",
            "The container runtime itself failed to run the container (docker run convention): bad options, runtime error.",
            &[Cause::CommandNotFound, Cause::AppError],
        ),
        126 => mk(
            "command not executable",
            "The command was found but could not be executed: no execute permission, a directory, or a binary for another architecture.",
            &[Cause::CommandNotExecutable],
        ),
        127 => mk(
            "command not found",
            "The command was not found in the image's PATH, or a script's interpreter is missing.",
            &[Cause::CommandNotFound],
        ),
        128 => mk(
            "invalid exit argument / container could not start",
            "Shells report 128 for an invalid exit argument; in Kubernetes a container failing to start with 128 is often a mount failure such as a stale subPath of a changed ConfigMap/Secret.",
            &[Cause::SubPathMountStale, Cause::AppError],
        ),
        129..=192 => {
            let n = c - 128;
            let sig = signal(n);
            let (title, meaning, causes): (String, String, Vec<Cause>) = match n {
                9 => ("killed by SIGKILL".into(), "128+9: killed with SIGKILL. In Kubernetes usually the cgroup OOM killer (reason OOMKilled), the node's OOM killer (kernel `Out of memory` lines on the node), the kubelet after a failed liveness probe's grace period, or someone's kill -9.".into(), vec![Cause::OOMKilled, Cause::NodeOOM, Cause::LivenessProbeFailure, Cause::KilledBySignal]),
                15 => ("terminated by SIGTERM".into(), "128+15: the process ended on SIGTERM, the polite stop: the kubelet stopping the container (pod deletion, liveness probe failure, eviction, rollout) or docker stop.".into(), vec![Cause::LivenessProbeFailure, Cause::KilledBySignal]),
                6 => ("aborted (SIGABRT)".into(), "128+6: the program aborted itself (assertion failure, C++ terminate, glibc heap corruption detected).".into(), vec![Cause::AppPanic]),
                11 => ("segmentation fault (SIGSEGV)".into(), "128+11: invalid memory reference in the program (or a native library).".into(), vec![Cause::AppPanic]),
                _ => match sig {
                    Some(s) => (format!("killed by {}", s.name), format!("128+{n}: the process ended on {} ({}).", s.name, s.meaning), vec![Cause::KilledBySignal]),
                    None => (format!("killed by signal {n}"), format!("128+{n}: the process ended on signal {n}."), vec![Cause::KilledBySignal]),
                },
            };
            ExitCodeInfo {
                code: c,
                effective: code,
                title,
                meaning,
                signal: sig,
                likely_causes: causes,
            }
        }
        255 => mk(
            "exit status out of range / exit(-1)",
            "255 is what exit(-1) becomes (negative codes wrap modulo 256); a generic error, read the logs.",
            &[Cause::AppError],
        ),
        _ => mk(
            "application-defined error",
            "The program chose this exit code; it has no standard meaning. Read the previous instance's logs.",
            &[Cause::AppError],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_covers_every_cause_once() {
        for c in Cause::ALL {
            assert_eq!(CATALOG.iter().filter(|i| i.id == *c).count(), 1, "{c}");
        }
        assert_eq!(CATALOG.len(), Cause::ALL.len());
    }

    #[test]
    fn exit_codes() {
        let i = exit_code(137);
        assert_eq!(i.signal.map(|s| s.name), Some("SIGKILL"));
        assert_eq!(i.likely_causes[0], Cause::OOMKilled);
        assert_eq!(exit_code(143).signal.map(|s| s.name), Some("SIGTERM"));
        assert_eq!(exit_code(130).signal.map(|s| s.name), Some("SIGINT"));
        assert_eq!(exit_code(2).likely_causes[0], Cause::AppPanic);
        assert_eq!(exit_code(127).likely_causes, vec![Cause::CommandNotFound]);
        assert_eq!(
            exit_code(126).likely_causes,
            vec![Cause::CommandNotExecutable]
        );
        assert_eq!(exit_code(78).title, "EX_CONFIG");
        assert_eq!(exit_code(-1).effective, 255);
        assert!(exit_code(-1).title.starts_with("out of range"));
        assert_eq!(exit_code(257).effective, 1);
        assert_eq!(exit_code(139).likely_causes, vec![Cause::AppPanic]);
    }
}
