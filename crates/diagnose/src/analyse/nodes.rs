//! Node analysers: conditions, node logs (kernel, kubelet, runtime, kube-proxy), node events and
//! agent facts. Produces node findings and the per-node state pods refer to.

use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::{Ctx, event_time};
use crate::logtime;
use crate::util::{clip, event_evidence, finding};
use jiff::{SignedDuration, Timestamp};
use kubemedic_model::NodeLogSource;
use kubemedic_model::facts::{DiskPurpose, NodeFacts};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The Ready condition of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Ready True.
    Ready,
    /// Ready False.
    NotReady,
    /// Ready Unknown (kubelet silent).
    Unknown,
    /// No Ready condition or node object missing.
    Missing,
}

/// What pods on a node need to know about it.
#[derive(Debug, Default)]
pub(crate) struct NodeState {
    /// Ready condition.
    pub readiness: Option<Readiness>,
    /// Node causes, most likely first, with confidence.
    pub causes: Vec<(Cause, f64)>,
    /// Kernel lines of a system (not cgroup) OOM kill, and SystemOOM events.
    pub system_oom: Vec<Evidence>,
    /// Kernel lines of a cgroup OOM kill.
    pub cgroup_oom: Vec<Evidence>,
    /// `operation not permitted` while removing container files.
    pub immutable: Vec<Evidence>,
    /// `Killing container ... Need to kill Pod` / CRI timeouts in kubelet logs.
    pub runtime_timeouts: Vec<Evidence>,
    /// Node logs mention ipvs mode of kube-proxy.
    pub ipvs: Option<Evidence>,
    /// Node log lines about deletions that fail: CNI teardown or runtime stop errors, with the
    /// layer they point at.
    pub teardown: Vec<(Cause, Evidence)>,
}

impl NodeState {
    /// The node's most likely cause, if any.
    pub fn primary(&self) -> Option<(Cause, f64)> {
        self.causes.first().copied()
    }
}

/// Signals recognised in node log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Sig {
    Xtables,
    Pleg,
    ContainerGc,
    RuntimeTimeout,
    DiskFull,
    PageAlloc,
    SystemOom,
    CgroupOom,
    HungTask,
    Oops,
    ReadOnly,
    FsError,
    Conntrack,
    X509Expired,
    Ttrpc,
    Immutable,
    KillingNeedToKill,
    Ipvs,
    KubeletStatus,
    NetworkNotReady,
    Teardown,
}

static PAGE_ALLOC: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"page allocation failure[.:]? *order:(\d+)").unwrap()
});

static HUNG_TASK: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"task \S+ blocked for more than \d+ seconds").unwrap()
});

/// Classifies one node log line; a line can carry several signals.
fn scan_line(line: &str, out: &mut Vec<(Sig, u32)>) {
    if line.contains("holding the xtables lock") {
        out.push((
            Sig::Xtables,
            line.matches("holding the xtables lock").count() as u32,
        ));
    }
    if line.contains("PLEG is not healthy")
        || line.contains("pleg was last seen active")
        || line.contains("PLEG is not healthy")
    {
        out.push((Sig::Pleg, 1));
    }
    if line.contains("ContainerGCFailed")
        || line.contains("ContainerGcFailed")
        || line.contains("container garbage collection failed")
        || line.contains("Container garbage collection failed")
    {
        out.push((Sig::ContainerGc, 1));
    }
    // Deadlines on apiserver or lease calls are common and harmless; only CRI calls count.
    let runtime_call = line.contains("remote_runtime")
        || line.contains("runtime service")
        || line.contains("RuntimeService")
        || line.contains("image service")
        || line.contains("ImageService")
        || line.contains("PodSandbox")
        || line.contains("ContainerGC")
        || line.contains("garbage collection")
        || line.contains("dockerd")
        || line.contains("docker")
        || line.contains("containerd")
        || line.contains("ListContainers")
        || line.contains("ContainerStatus");
    if (runtime_call
        && (line.contains("DeadlineExceeded") || line.contains("context deadline exceeded")))
        || line.contains("Docker daemon not ready")
        || line.contains("container runtime is down")
        || line.contains("Cannot connect to the Docker daemon")
    {
        out.push((Sig::RuntimeTimeout, 1));
    }
    if line.contains("no space left on device") {
        out.push((Sig::DiskFull, 1));
    }
    if let Some(c) = PAGE_ALLOC.captures(line)
        && c.get(1)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .unwrap_or(0)
            >= 1
    {
        out.push((Sig::PageAlloc, 1));
    }
    if line.contains("Memory cgroup out of memory") || line.contains("CONSTRAINT_MEMCG") {
        out.push((Sig::CgroupOom, 1));
    } else if line.contains("Out of memory: Kill")
        || line.contains("oom-kill:")
        || line.contains("Out of memory: Killed process")
    {
        out.push((Sig::SystemOom, 1));
    }
    if HUNG_TASK.is_match(line) {
        out.push((Sig::HungTask, 1));
    }
    if line.contains("BUG: unable to handle kernel")
        || line.contains("Oops:")
        || line.contains("general protection fault")
        || line.contains("kernel BUG at")
    {
        out.push((Sig::Oops, 1));
    }
    if line.contains("emounting filesystem read-only") || line.contains("emount-ro") {
        out.push((Sig::ReadOnly, 1));
    } else if line.contains("EXT4-fs error")
        || (line.contains("XFS")
            && (line.contains("Corruption")
                || line.contains("I/O error")
                || line.contains("Filesystem has been shut down")))
    {
        out.push((Sig::FsError, 1));
    }
    if line.contains("nf_conntrack: table full") {
        out.push((Sig::Conntrack, 1));
    }
    if line.contains("x509: certificate has expired or is not yet valid") {
        out.push((Sig::X509Expired, 1));
    }
    if line.contains("ttrpc: client shutting down")
        || (line.contains("shim.sock") && line.contains("connection reset by peer"))
    {
        out.push((Sig::Ttrpc, 1));
    }
    if line.contains("operation not permitted")
        && (line.contains("remove") || line.contains("unlinkat"))
    {
        out.push((Sig::Immutable, 1));
    }
    if line.contains("Need to kill Pod") {
        out.push((Sig::KillingNeedToKill, 1));
    }
    if line.contains("Using ipvs Proxier")
        || line.contains("proxyMode=\"ipvs\"")
        || line.contains("ipvs proxier")
    {
        out.push((Sig::Ipvs, 1));
    }
    if line.contains("Kubelet stopped posting node status") {
        out.push((Sig::KubeletStatus, 1));
    }
    // Cheap gates first: most lines mention neither.
    if (line.contains("etwork")
        || line.contains("cni")
        || line.contains("CNI")
        || line.contains("netConfig"))
        && crate::classify::network_not_ready(line)
    {
        out.push((Sig::NetworkNotReady, 1));
    }
    if (line.contains("teardown")
        || line.contains("destroy network")
        || line.contains("StopContainer")
        || line.contains("StopPodSandbox")
        || line.contains("KillPodSandbox")
        || line.contains("KillContainer"))
        && crate::classify::terminating(line).is_some()
    {
        out.push((Sig::Teardown, 1));
    }
}

/// Evidence lines per signal (first few) and total counts.
#[derive(Debug, Default)]
struct LogHits {
    lines: HashMap<Sig, Vec<Evidence>>,
    counts: HashMap<Sig, u32>,
}

impl LogHits {
    fn get(&self, s: Sig) -> &[Evidence] {
        self.lines.get(&s).map(Vec::as_slice).unwrap_or(&[])
    }
    fn count(&self, s: Sig) -> u32 {
        self.counts.get(&s).copied().unwrap_or(0)
    }
}

/// How many quoted lines per signal to keep.
const KEEP_LINES: usize = 3;

/// Node log lines older than this before the snapshot no longer describe the node's present (an
/// agent keeps its last 2,000 lines per source, which on a quiet node reach back weeks).
const NODE_LOG_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// The oldest node log line still read: [`NODE_LOG_WINDOW`] before the snapshot, or further back
/// to an hour before a NotReady node went down, so its whole outage is in view.
fn log_cutoff(
    ctx: &Ctx<'_>,
    not_ready: bool,
    ready: Option<&kubemedic_model::objects::NodeCondition>,
) -> Option<Timestamp> {
    let now = ctx.now?;
    let mut from = now.checked_sub(NODE_LOG_WINDOW).ok()?;
    if not_ready
        && let Some(down) = ready.and_then(|c| c.last_transition_time.as_ref())
        && let Ok(before) = down.0.checked_sub(SignedDuration::from_hours(1))
    {
        from = from.min(before);
    }
    Some(from)
}

/// Whether a line's stamp puts it before `cutoff` (allowing a zone's offset for stamps without
/// one). Lines without a stamp are kept.
fn is_stale(line: &str, now: Timestamp, cutoff: Timestamp) -> bool {
    logtime::line_time(line, now).is_some_and(|t| {
        let slack = if t.zoned {
            SignedDuration::ZERO
        } else {
            logtime::MAX_ZONE_OFFSET
        };
        t.at.checked_add(slack).is_ok_and(|latest| latest < cutoff)
    })
}

fn scan_logs(ctx: &Ctx<'_>, node: &str, cutoff: Option<Timestamp>) -> LogHits {
    let mut hits = LogHits::default();
    let Some(sources) = ctx.snap.node_logs.get(node) else {
        return hits;
    };
    let window = ctx.now.zip(cutoff);
    let mut sigs = Vec::new();
    for source in NodeLogSource::ALL {
        let Some(text) = sources.get(&source) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            sigs.clear();
            scan_line(line, &mut sigs);
            // Only lines that say something are dated: most lines match nothing.
            if sigs.is_empty() || window.is_some_and(|(now, cutoff)| is_stale(line, now, cutoff)) {
                continue;
            }
            for &(sig, n) in &sigs {
                *hits.counts.entry(sig).or_default() += n;
                let kept = hits.lines.entry(sig).or_default();
                if kept.len() < KEEP_LINES {
                    kept.push(Evidence::new(
                        format!("node {node} {source}.log line {}", i + 1),
                        clip(line),
                    ));
                }
            }
        }
    }
    hits
}

/// Events older than this (relative to now) no longer describe the node's present.
const EVENT_WINDOW_SECS: i64 = 2 * 3600;

/// Analyses every node; returns node findings and the state pods look up.
pub(crate) fn analyse<'a>(ctx: &Ctx<'a>, out: &mut Vec<Finding>) -> HashMap<&'a str, NodeState> {
    let mut states = HashMap::new();
    for node in &ctx.snap.nodes {
        let Some(name) = node.metadata.name.as_deref() else {
            continue;
        };
        let state = analyse_node(ctx, node, name, out);
        states.insert(name, state);
    }
    // Nodes known only from logs/facts (no Node object) still get analysed.
    for name in ctx.snap.node_logs.keys().chain(ctx.snap.node_facts.keys()) {
        if !states.contains_key(name.as_str()) && !ctx.nodes.contains_key(name.as_str()) {
            let empty = kubemedic_model::objects::Node::default();
            let state = analyse_node(ctx, &empty, name, out);
            states.insert(name.as_str(), state);
        }
    }
    states
}

struct Cand {
    cause: Cause,
    severity: Severity,
    confidence: f64,
    summary: String,
    evidence: Vec<Evidence>,
    remediation: Vec<String>,
}

fn analyse_node(
    ctx: &Ctx<'_>,
    node: &kubemedic_model::objects::Node,
    name: &str,
    out: &mut Vec<Finding>,
) -> NodeState {
    let mut state = NodeState::default();
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[]);
    let ready = conditions.iter().find(|c| c.type_ == "Ready");
    state.readiness = Some(match ready.map(|c| c.status.as_str()) {
        Some("True") => Readiness::Ready,
        Some("False") => Readiness::NotReady,
        Some(_) => Readiness::Unknown,
        None => Readiness::Missing,
    });
    let not_ready = matches!(
        state.readiness,
        Some(Readiness::NotReady | Readiness::Unknown)
    );
    let ready_ev = ready.map(|c| {
        Evidence::new(
            "node status",
            format!(
                "Ready={} reason={} message={}",
                c.status,
                c.reason.as_deref().unwrap_or(""),
                clip(c.message.as_deref().unwrap_or(""))
            ),
        )
    });

    let hits = scan_logs(ctx, name, log_cutoff(ctx, not_ready, ready));
    let facts = ctx.snap.node_facts.get(name);
    let events: Vec<_> = ctx
        .node_events(name)
        .filter(|e| match ctx.age_secs(event_time(e)) {
            Some(age) => age <= EVENT_WINDOW_SECS,
            None => true,
        })
        .collect();
    let ev_with = |reasons: &[&str]| -> Vec<Evidence> {
        events
            .iter()
            .filter(|e| reasons.contains(&e.reason.as_deref().unwrap_or("")))
            .take(KEEP_LINES)
            .map(|e| event_evidence(e))
            .collect()
    };
    let severity_if_down = if not_ready {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let mut cands: Vec<Cand> = Vec::new();

    // Kernel OOM lines and SystemOOM events: kept for pods (exit 137) and reported on the node.
    state.system_oom = hits.get(Sig::SystemOom).to_vec();
    state.system_oom.extend(ev_with(&["SystemOOM"]));
    state.cgroup_oom = hits.get(Sig::CgroupOom).to_vec();
    state.immutable = hits.get(Sig::Immutable).to_vec();
    state.runtime_timeouts = hits.get(Sig::KillingNeedToKill).to_vec();
    state
        .runtime_timeouts
        .extend(hits.get(Sig::RuntimeTimeout).iter().cloned());
    state.ipvs = hits.get(Sig::Ipvs).first().cloned();
    state.teardown = hits
        .get(Sig::Teardown)
        .iter()
        .filter_map(|e| crate::classify::terminating(&e.text).map(|(c, _)| (c, e.clone())))
        .collect();

    let rules = facts.and_then(|f| f.iptables_rules);

    // 1. xtables lock contention: the seed's story. PLEG/GC lines are its consequences.
    if hits.count(Sig::Xtables) > 0 {
        let host_port_pods = ctx
            .pods_by_node
            .get(name)
            .map(|pods| {
                pods.iter()
                    .filter(|p| {
                        p.spec.as_ref().is_some_and(|s| {
                            s.containers
                                .iter()
                                .any(|c| c.ports.iter().flatten().any(|p| p.host_port.is_some()))
                        })
                    })
                    .count()
            })
            .unwrap_or(0);
        let mut conf: f64 = 0.75;
        let consequences =
            hits.count(Sig::Pleg) + hits.count(Sig::ContainerGc) + hits.count(Sig::RuntimeTimeout);
        if consequences > 0 || not_ready {
            conf += 0.1;
        }
        if rules.is_some_and(|r| r >= 10_000) {
            conf += 0.05;
        }
        let mut ev = hits.get(Sig::Xtables).to_vec();
        ev.extend(hits.get(Sig::Pleg).iter().cloned());
        ev.extend(hits.get(Sig::ContainerGc).iter().cloned());
        ev.extend(ev_with(&["ContainerGCFailed"]));
        ev.extend(hits.get(Sig::RuntimeTimeout).iter().take(1).cloned());
        if let Some(r) = rules {
            ev.push(Evidence::new("facts", format!("iptables rules: {r}")));
        }
        if host_port_pods > 0 {
            ev.push(Evidence::new("pods", format!("{} on this node map a hostPort (each adds iptables rules written by the runtime)", crate::util::count(host_port_pods, "pod", "pods"))));
        }
        if let Some(r) = &ready_ev {
            ev.push(r.clone());
        }
        // 0 rules says nothing about contention (e.g. the rules live in another backend): keep it out of the headline.
        let waits = crate::util::count(hits.count(Sig::Xtables) as usize, "wait", "waits");
        let rules_txt = rules
            .filter(|&r| r > 0)
            .map_or(format!("{waits} logged"), |r| {
                format!("{r} iptables rules, {waits} logged")
            });
        cands.push(Cand {
            cause: Cause::IptablesLockContention,
            severity: severity_if_down,
            confidence: conf.min(0.95),
            summary: format!(
                "node {name}: the container runtime and kube-proxy fight over the xtables lock ({rules_txt}); runtime calls stall{}",
                if not_ready { " and the node is NotReady" } else { "" }
            ),
            evidence: ev,
            remediation: vec![
                format!("kubectl cordon {name}   # stop new pods (and their hostPort rules) landing here while it recovers"),
                "Start replicas gradually (e.g. kubectl scale in steps, maxSurge 1) instead of hundreds at once".to_string(),
                "Replace hostPort mappings with a Service (NodePort/ClusterIP) so the runtime stops rewriting iptables per container".to_string(),
                format!("Shrink the ruleset on {name}: iptables-save | wc -l; remove stale Services, split clusters, or run kube-proxy in ipvs mode"),
                format!("ssh {name} 'systemctl restart docker || systemctl restart containerd'   # if the runtime stays hung after the lock is free"),
            ],
        });
    }

    // 2. Disk full: makes the runtime hang; root cause over RuntimeUnresponsive.
    let full_disks: Vec<_> = facts
        .map(|f| {
            f.disks
                .iter()
                .filter(|d| {
                    matches!(
                        d.purpose,
                        DiskPurpose::Runtime | DiskPurpose::Kubelet | DiskPurpose::Root
                    ) && (d.bytes_ratio() >= 0.95 || d.inodes_ratio() >= 0.95)
                })
                .collect()
        })
        .unwrap_or_default();
    if hits.count(Sig::DiskFull) > 0 || !full_disks.is_empty() {
        let mut ev = hits.get(Sig::DiskFull).to_vec();
        for d in &full_disks {
            ev.push(Evidence::new(
                "facts",
                format!(
                    "{} ({:?}): {:.0}% bytes, {:.0}% inodes used",
                    d.path,
                    d.purpose,
                    d.bytes_ratio() * 100.0,
                    d.inodes_ratio() * 100.0
                ),
            ));
        }
        ev.extend(hits.get(Sig::Pleg).iter().take(1).cloned());
        let conf = if hits.count(Sig::DiskFull) > 0 && !full_disks.is_empty() {
            0.95
        } else {
            0.85
        };
        cands.push(Cand {
            cause: Cause::NodeDiskFull,
            severity: Severity::Critical,
            confidence: conf,
            summary: format!("node {name}: the runtime/kubelet disk is full (no space left on device)"),
            evidence: ev,
            remediation: vec![
                format!("ssh {name} 'df -h /var/lib/docker /var/lib/containerd /var/lib/kubelet; df -i /var/lib/kubelet'"),
                format!("ssh {name} 'crictl rmi --prune || docker image prune -a -f'   # remove unused images"),
                format!("ssh {name} 'du -sh /var/log/* /var/lib/docker/containers/*/*-json.log 2>/dev/null | sort -h | tail'   # find runaway logs"),
                "Lower imageGCHighThresholdPercent in the kubelet config or grow the disk".to_string(),
            ],
        });
    }

    // 2b. The network plugin is not ready (Ready message or kubelet/runtime log lines): the node
    //     takes no new pods until the CNI config and binaries are in place.
    let ready_msg_cni = ready
        .filter(|c| c.status != "True")
        .and_then(|c| c.message.as_deref())
        .is_some_and(crate::classify::network_not_ready);
    if ready_msg_cni || hits.count(Sig::NetworkNotReady) > 0 {
        let mut ev: Vec<Evidence> = Vec::new();
        if ready_msg_cni && let Some(r) = &ready_ev {
            ev.push(r.clone());
        }
        ev.extend(hits.get(Sig::NetworkNotReady).iter().cloned());
        ev.extend(ev_with(&["NetworkNotReady"]));
        let cni_pods = cni_daemon_pods(ctx, name);
        let mut fix = Vec::new();
        match cni_pods.first() {
            Some((ns, pod, ds)) => {
                ev.push(Evidence::new(
                    "pods",
                    format!("CNI pod on {name}: {ns}/{pod} (DaemonSet {ds})"),
                ));
                fix.push(format!(
                    "kubectl -n {ns} logs {pod} --all-containers --tail=50   # why the CNI on {name} has not written its config"
                ));
                fix.push(format!(
                    "kubectl -n {ns} delete pod {pod}   # DaemonSet {ds} recreates it; its install step rewrites /etc/cni/net.d on {name}"
                ));
            }
            None => fix.push(format!(
                "kubectl get ds -A -o wide | grep -iE 'calico|flannel|cilium|weave|canal|antrea|kube-router|ovn|multus'   # no CNI DaemonSet pod runs on {name}: is one installed and does it tolerate the node?"
            )),
        }
        fix.push(format!(
            "ssh {name} 'ls -l /etc/cni/net.d /opt/cni/bin'   # a config file and the plugin binaries must be there"
        ));
        fix.push(format!(
            "ssh {name} 'systemctl restart containerd'   # containerd before 2.0 may not reload a restored CNI config by itself"
        ));
        let which = cni_pods
            .first()
            .map_or(String::new(), |(_, pod, _)| format!(" (CNI pod {pod})"));
        cands.push(Cand {
            cause: Cause::CNIFailure,
            severity: severity_if_down,
            confidence: if ready_msg_cni { 0.9 } else { 0.8 },
            summary: format!(
                "node {name}: the network plugin is not ready{which}; {}",
                if not_ready {
                    "the node is NotReady and new pods cannot get a network"
                } else {
                    "new pods cannot get a network"
                }
            ),
            evidence: ev,
            remediation: fix,
        });
    }

    // 3. Runtime unresponsive (PLEG, CRI timeouts), when nothing above explains it.
    let runtime_lines =
        hits.count(Sig::Pleg) + hits.count(Sig::RuntimeTimeout) + hits.count(Sig::ContainerGc);
    let ready_msg = ready.and_then(|c| c.message.as_deref()).unwrap_or("");
    let ready_says_runtime = ready_msg.contains("PLEG is not healthy")
        || ready_msg.contains("container runtime is down")
        || ready_msg.contains("container runtime not ready")
        || ready_msg.contains("ContainerRuntimeNotReady");
    // A single timed-out CRI call is noise; PLEG, GC failures or repeated timeouts are not.
    let runtime_evidence = hits.count(Sig::Pleg) > 0
        || hits.count(Sig::ContainerGc) > 0
        || hits.count(Sig::RuntimeTimeout) >= 3;
    if (runtime_lines > 0 && runtime_evidence
        || ready_says_runtime
        || !ev_with(&["ContainerGCFailed"]).is_empty())
        && cands
            .iter()
            .all(|c| !matches!(c.cause, Cause::IptablesLockContention | Cause::NodeDiskFull))
    {
        let mut ev = hits.get(Sig::Pleg).to_vec();
        ev.extend(hits.get(Sig::RuntimeTimeout).iter().cloned());
        ev.extend(hits.get(Sig::ContainerGc).iter().cloned());
        ev.extend(ev_with(&["ContainerGCFailed"]));
        if let Some(r) = &ready_ev {
            ev.push(r.clone());
        }
        cands.push(Cand {
            cause: Cause::RuntimeUnresponsive,
            severity: severity_if_down,
            confidence: if ready_says_runtime || hits.count(Sig::Pleg) > 0 {
                0.8
            } else {
                0.65
            },
            summary: format!(
                "node {name}: the container runtime does not answer in time (PLEG/CRI timeouts)"
            ),
            evidence: ev,
            remediation: vec![
                format!("ssh {name} 'systemctl status containerd docker; crictl ps | head'"),
                format!("ssh {name} 'journalctl -u containerd -u docker --since -1h | tail -100'"),
                format!("ssh {name} 'systemctl restart containerd || systemctl restart docker'"),
            ],
        });
    }

    // 4. Kubelet stopped posting status.
    if state.readiness == Some(Readiness::Unknown) {
        let mut ev: Vec<Evidence> = ready_ev.iter().cloned().collect();
        ev.extend(hits.get(Sig::KubeletStatus).iter().cloned());
        ev.extend(ev_with(&["NodeNotReady"]));
        let said = ready_msg.contains("stopped posting node status");
        cands.push(Cand {
            cause: Cause::KubeletStopped,
            severity: Severity::Critical,
            confidence: if said { 0.85 } else { 0.7 },
            summary: format!("node {name}: kubelet stopped posting node status (Ready=Unknown)"),
            evidence: ev,
            remediation: vec![
                format!("ssh {name} 'systemctl status kubelet; journalctl -u kubelet -n 200'"),
                format!("kubectl get lease -n kube-node-lease {name} -o yaml   # is the lease still renewed?"),
                format!("ssh {name} 'systemctl restart kubelet'"),
            ],
        });
    }

    // 5. Pressure and other conditions.
    for c in conditions.iter().filter(|c| c.status == "True") {
        let ev = Evidence::new(
            "node status",
            format!(
                "{}=True reason={} message={}",
                c.type_,
                c.reason.as_deref().unwrap_or(""),
                clip(c.message.as_deref().unwrap_or(""))
            ),
        );
        let (cause, conf, summary, fix): (Cause, f64, String, Vec<String>) = match c.type_.as_str() {
            "DiskPressure" => (Cause::NodeDiskPressure, 0.85, format!("node {name}: DiskPressure, the kubelet evicts pods to reclaim disk"), vec![
                format!("ssh {name} 'df -h; df -i'"),
                format!("ssh {name} 'crictl rmi --prune'"),
                format!("ssh {name} 'du -sh /var/lib/kubelet/pods/*/volumes/kubernetes.io~empty-dir/* 2>/dev/null | sort -h | tail'"),
            ]),
            "MemoryPressure" => (Cause::NodeMemoryPressure, 0.85, format!("node {name}: MemoryPressure, the kubelet evicts pods"), vec![
                format!("kubectl top pods -A --sort-by=memory --field-selector spec.nodeName={name} | head"),
                "Set memory requests to real usage so the scheduler does not overcommit the node".to_string(),
            ]),
            "PIDPressure" => (Cause::NodePIDPressure, 0.85, format!("node {name}: PIDPressure, too many processes"), vec![
                format!("ssh {name} 'ps -eLf | wc -l; ps -eo ppid= | sort | uniq -c | sort -n | tail'"),
                "Set podPidsLimit in the kubelet configuration".to_string(),
            ]),
            "NetworkUnavailable" => (Cause::CNIFailure, 0.6, format!("node {name}: NetworkUnavailable, pod network routes not set up"), vec![
                format!("kubectl -n kube-system get pods -o wide --field-selector spec.nodeName={name}   # the CNI pod"),
            ]),
            "KernelDeadlock" => (Cause::KernelDeadlock, 0.85, format!("node {name}: KernelDeadlock ({})", c.reason.as_deref().unwrap_or("")), drain_fix(name)),
            "ReadonlyFilesystem" | "XfsShutdown" => (Cause::FilesystemReadOnly, 0.85, format!("node {name}: a filesystem is read-only"), drain_fix(name)),
            "NTPProblem" => (Cause::ClockSkew, 0.7, format!("node {name}: NTP is down, the clock drifts"), ntp_fix(name)),
            "KubeletUnhealthy" => (Cause::KubeletStopped, 0.7, format!("node {name}: kubelet health check fails"), vec![format!("ssh {name} 'systemctl status kubelet'")]),
            other => match other.parse::<Cause>() {
                // Probe results in the snapshot decide their causes: the condition is then
                // older news than the results it was written from.
                Ok(cause) if super::probes::decides(ctx, cause) => continue,
                // The agent reports its own problems as conditions named after the cause.
                Ok(cause) => (cause, 0.85, format!("node {name}: {other} reported by the node agent: {}", clip(c.message.as_deref().unwrap_or(""))), crate::catalog::info(cause).map(|i| i.fix.iter().map(|s| s.to_string()).collect()).unwrap_or_default()),
                Err(_) => continue,
            },
        };
        let mut evidence = vec![ev];
        match cause {
            Cause::NodeDiskPressure => evidence.extend(ev_with(&[
                "EvictionThresholdMet",
                "ImageGCFailed",
                "FreeDiskSpaceFailed",
            ])),
            Cause::NodeMemoryPressure => {
                evidence.extend(ev_with(&["EvictionThresholdMet", "SystemOOM"]))
            }
            _ => {}
        }
        cands.push(Cand {
            cause,
            severity: Severity::Warning,
            confidence: conf,
            summary,
            evidence,
            remediation: fix,
        });
    }

    // 6. Kernel log signals.
    let mut kernel = |sig: Sig,
                      cause: Cause,
                      conf: f64,
                      severity: Severity,
                      summary: String,
                      fix: Vec<String>,
                      extra: Vec<Evidence>| {
        if hits.count(sig) > 0 || !extra.is_empty() {
            let mut ev = hits.get(sig).to_vec();
            ev.extend(extra);
            cands.push(Cand {
                cause,
                severity,
                confidence: conf,
                summary,
                evidence: ev,
                remediation: fix,
            });
        }
    };
    kernel(
        Sig::HungTask,
        Cause::KernelDeadlock,
        0.85,
        Severity::Warning,
        format!("node {name}: kernel tasks blocked for minutes (hung task)"),
        drain_fix(name),
        ev_with(&["TaskHung", "DockerHung", "KernelDeadlock"]),
    );
    kernel(
        Sig::Oops,
        Cause::KernelOops,
        0.85,
        Severity::Warning,
        format!("node {name}: kernel oops / BUG"),
        drain_fix(name),
        ev_with(&["KernelOops"]),
    );
    kernel(
        Sig::ReadOnly,
        Cause::FilesystemReadOnly,
        0.9,
        Severity::Critical,
        format!("node {name}: a filesystem was remounted read-only after errors"),
        drain_fix(name),
        ev_with(&["FilesystemIsReadOnly", "XfsHasShutdown"]),
    );
    kernel(
        Sig::Conntrack,
        Cause::ConntrackTableFull,
        0.9,
        Severity::Warning,
        format!("node {name}: conntrack table full, packets dropped"),
        conntrack_fix(name),
        Vec::new(),
    );
    kernel(
        Sig::Ttrpc,
        Cause::RuntimeVersionConflict,
        0.75,
        Severity::Warning,
        format!(
            "node {name}: containerd shims drop connections (ttrpc: client shutting down), two runtime installs?"
        ),
        vec![
            format!(
                "ssh {name} 'which -a containerd containerd-shim runc docker; systemctl list-units | grep -E \"containerd|docker\"'"
            ),
            "Remove the second runtime install so one containerd owns /run/containerd".to_string(),
        ],
        Vec::new(),
    );
    if hits.count(Sig::FsError) > 0 && hits.count(Sig::ReadOnly) == 0 {
        let ev = hits.get(Sig::FsError).to_vec();
        cands.push(Cand {
            cause: Cause::FilesystemReadOnly,
            severity: Severity::Warning,
            confidence: 0.5,
            summary: format!("node {name}: filesystem errors in the kernel log (may go read-only)"),
            evidence: ev,
            remediation: drain_fix(name),
        });
    }
    // System OOM on the node itself.
    if !state.system_oom.is_empty() || !ev_with(&["OOMKilling"]).is_empty() {
        let mut ev = state.system_oom.clone();
        ev.extend(ev_with(&["OOMKilling"]));
        cands.push(Cand {
            cause: Cause::NodeOOM,
            severity: Severity::Warning,
            confidence: 0.8,
            summary: format!("node {name}: the kernel OOM killer ran for the whole node (not a container limit)"),
            evidence: ev,
            remediation: vec![
                format!("ssh {name} 'ps aux --sort=-rss | head'   # what outside the pods uses memory"),
                "Raise kubeReserved/systemReserved in the kubelet config; set memory requests to real usage".to_string(),
            ],
        });
    }
    // Fragmentation: kernel lines and/or buddyinfo.
    let frag = facts.and_then(fragmentation);
    if hits.count(Sig::PageAlloc) > 0 || frag.is_some() {
        let mut ev = hits.get(Sig::PageAlloc).to_vec();
        if let Some(f) = &frag {
            ev.push(f.clone());
        }
        let conf = match (hits.count(Sig::PageAlloc) > 0, frag.is_some()) {
            (true, true) => 0.9,
            (true, false) => 0.8,
            _ => 0.6,
        };
        cands.push(Cand {
            cause: Cause::MemoryFragmentation,
            severity: Severity::Warning,
            confidence: conf,
            summary: format!("node {name}: kernel memory is fragmented; high-order page allocations fail"),
            evidence: ev,
            remediation: vec![
                format!("ssh {name} 'cat /proc/buddyinfo'"),
                format!("ssh {name} 'echo 1 > /proc/sys/vm/compact_memory; echo 3 > /proc/sys/vm/drop_caches'"),
                "Raise vm.min_free_kbytes so the kernel keeps contiguous memory free".to_string(),
            ],
        });
    }

    // 7. Clock skew: x509 validity errors and/or NTP unsynchronised.
    let ntp_bad = facts
        .and_then(|f| f.ntp.as_ref())
        .filter(|n| !n.synchronized || n.max_error_seconds.is_some_and(|e| e > 1.0));
    let npd_ntp = ev_with(&["NTPIsDown"]);
    if hits.count(Sig::X509Expired) >= 2 || ntp_bad.is_some() || !npd_ntp.is_empty() {
        let mut ev = hits.get(Sig::X509Expired).to_vec();
        if let Some(n) = ntp_bad {
            ev.push(Evidence::new(
                "facts",
                format!(
                    "ntp synchronized={} maxError={}s",
                    n.synchronized,
                    n.max_error_seconds
                        .map_or("?".into(), |e| format!("{e:.1}"))
                ),
            ));
        }
        ev.extend(npd_ntp.iter().cloned());
        let conf =
            if hits.count(Sig::X509Expired) >= 2 && (ntp_bad.is_some() || !npd_ntp.is_empty()) {
                0.9
            } else if ntp_bad.is_some() {
                0.65
            } else {
                0.5
            };
        cands.push(Cand {
            cause: Cause::ClockSkew,
            severity: Severity::Warning,
            confidence: conf,
            summary: format!("node {name}: clock not synchronised; TLS validity checks fail"),
            evidence: ev,
            remediation: ntp_fix(name),
        });
    }

    // 8. Facts-only signals.
    if let Some(f) = facts {
        facts_signals(name, f, &mut cands);
    }

    // 9. Node events named after a cause (the agent's own reasons) and NPD reasons.
    for e in &events {
        let reason = e.reason.as_deref().unwrap_or("");
        let mapped = match reason {
            "KernelOops" => Some(Cause::KernelOops),
            "TaskHung" | "DockerHung" => Some(Cause::KernelDeadlock),
            "FilesystemIsReadOnly" | "XfsHasShutdown" => Some(Cause::FilesystemReadOnly),
            "ImageGCFailed" => Some(Cause::NodeDiskPressure),
            r => r.parse::<Cause>().ok().filter(|c| c.as_str() == r),
        };
        if let Some(cause) = mapped
            && cands.iter().all(|c| c.cause != cause)
            && !super::probes::decides(ctx, cause)
        {
            cands.push(Cand {
                cause,
                severity: Severity::Warning,
                confidence: 0.75,
                summary: format!(
                    "node {name}: {reason}: {}",
                    clip(e.message.as_deref().unwrap_or(""))
                ),
                evidence: vec![event_evidence(e)],
                remediation: crate::catalog::info(cause)
                    .map(|i| i.fix.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default(),
            });
        }
    }

    // Never silent on a NotReady node: the most likely cause at an honest confidence, and what
    // evidence is missing.
    if not_ready && cands.is_empty() {
        let logs_missing = !ctx.snap.node_logs.contains_key(name);
        let mut ev: Vec<Evidence> = ready_ev.iter().cloned().collect();
        ev.push(Evidence::new(
            "missing",
            if logs_missing {
                format!("node {name}'s kubelet, runtime and kernel logs were not collected")
            } else {
                format!("node {name}'s logs in the window hold no line kubemedic recognises")
            },
        ));
        cands.push(Cand {
            cause: Cause::RuntimeUnresponsive,
            severity: Severity::Warning,
            confidence: 0.35,
            summary: format!(
                "node {name} is NotReady ({}); most likely the container runtime, but the evidence is missing: {}",
                clip(ready_msg),
                if logs_missing {
                    "its node logs were not collected"
                } else {
                    "nothing in its logs names a cause"
                }
            ),
            evidence: ev,
            remediation: vec![
                format!("ssh {name} 'journalctl -u kubelet -u containerd -u docker --since -1h | tail -200'"),
                format!("kubemedic collect DIR   # with the kubemedic agent DaemonSet running, the dump carries _nodes/{name}/*.log"),
                format!("kubectl describe node {name}"),
            ],
        });
    }

    // Rank: confidence, then catalog order; one finding per cause.
    cands.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.cause.cmp(&b.cause))
    });
    let mut seen = Vec::new();
    for c in cands {
        if seen.contains(&c.cause) {
            continue;
        }
        seen.push(c.cause);
        state.causes.push((c.cause, c.confidence));
        let mut f = finding(
            c.cause,
            c.severity,
            ObjectRef::node(name),
            c.summary,
            c.confidence,
        );
        f.evidence = c.evidence;
        f.remediation = c.remediation;
        out.push(f);
    }
    state
}

/// DaemonSet pods on a node that run the network plugin: (namespace, pod, DaemonSet).
pub(crate) fn cni_daemon_pods(ctx: &Ctx<'_>, node: &str) -> Vec<(String, String, String)> {
    const CNI: [&str; 14] = [
        "calico",
        "flannel",
        "cilium",
        "weave",
        "canal",
        "kube-router",
        "antrea",
        "multus",
        "kube-ovn",
        "ovnkube",
        "terway",
        "aws-node",
        "azure-cns",
        "cni",
    ];
    let mut out = Vec::new();
    for p in ctx.pods_by_node.get(node).into_iter().flatten() {
        let Some(ds) = p
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "DaemonSet")
        else {
            continue;
        };
        let images = p
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .filter_map(|c| c.image.as_deref());
        let mut names = std::iter::once(ds.name.as_str()).chain(images);
        if names.any(|n| {
            let n = n.to_ascii_lowercase();
            CNI.iter().any(|c| n.contains(c))
        }) {
            let (ns, name) = crate::util::pod_key(p);
            out.push((ns.to_string(), name.to_string(), ds.name.clone()));
        }
    }
    out
}

fn drain_fix(name: &str) -> Vec<String> {
    vec![
        format!(
            "kubectl cordon {name} && kubectl drain {name} --ignore-daemonsets --delete-emptydir-data"
        ),
        format!("ssh {name} 'dmesg -T | tail -100'   # then reboot the node"),
    ]
}

fn ntp_fix(name: &str) -> Vec<String> {
    vec![
        format!("ssh {name} 'timedatectl; chronyc tracking || ntpq -p'"),
        format!("ssh {name} 'systemctl restart chronyd || systemctl restart ntpd'"),
    ]
}

fn conntrack_fix(name: &str) -> Vec<String> {
    vec![
        format!(
            "ssh {name} 'sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max'"
        ),
        format!(
            "ssh {name} 'sysctl -w net.netfilter.nf_conntrack_max=$(( $(sysctl -n net.netfilter.nf_conntrack_max) * 2 ))'"
        ),
        "Make it permanent in /etc/sysctl.d and lower nf_conntrack_tcp_timeout_established"
            .to_string(),
    ]
}

/// Buddyinfo says fragmented: Normal zones have plenty of order-0 pages and no blocks of order 3+.
fn fragmentation(f: &NodeFacts) -> Option<Evidence> {
    let normal: Vec<_> = f.buddyinfo.iter().filter(|z| z.zone == "Normal").collect();
    if normal.is_empty() {
        return None;
    }
    let high: u64 = normal
        .iter()
        .map(|z| z.free_blocks.iter().skip(3).sum::<u64>())
        .sum();
    let low: u64 = normal
        .iter()
        .map(|z| z.free_blocks.first().copied().unwrap_or(0))
        .sum();
    (high == 0 && low >= 1000).then(|| {
        let zones: Vec<String> = normal
            .iter()
            .map(|z| {
                format!(
                    "Node {}, zone Normal {}",
                    z.numa_node,
                    z.free_blocks
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })
            .collect();
        Evidence::new(
            "facts",
            format!(
                "buddyinfo (free blocks per order 0..): {}; no free block of order >= 3",
                zones.join("; ")
            ),
        )
    })
}

fn facts_signals(name: &str, f: &NodeFacts, cands: &mut Vec<Cand>) {
    if let Some(l) = &f.load {
        let cores = f64::from(l.cores.max(1));
        let busy_disk = f.block_devices.iter().find(|d| d.util_percent >= 90.0);
        if l.load1.max(l.load5) >= 2.0 * cores && l.iowait_percent >= 20.0 && l.user_percent < 50.0
        {
            let mut ev = vec![Evidence::new(
                "facts",
                format!(
                    "load {:.1}/{:.1}/{:.1} on {} cores; iowait {:.0}%, user {:.0}%, system {:.0}%; {} processes blocked on I/O",
                    l.load1,
                    l.load5,
                    l.load15,
                    l.cores,
                    l.iowait_percent,
                    l.user_percent,
                    l.system_percent,
                    l.procs_blocked
                ),
            )];
            if let Some(d) = busy_disk {
                ev.push(Evidence::new(
                    "facts",
                    format!("disk {} {:.0}% busy", d.device, d.util_percent),
                ));
            }
            cands.push(Cand {
                cause: Cause::HighIOWait,
                severity: Severity::Warning,
                confidence: if busy_disk.is_some() { 0.85 } else { 0.7 },
                summary: format!("node {name}: load {:.0} on {} cores comes from I/O wait ({:.0}%), not CPU", l.load1.max(l.load5), l.cores, l.iowait_percent),
                evidence: ev,
                remediation: vec![
                    format!("ssh {name} 'iotop -oPa -n 3; pidstat -d 1 5'"),
                    "Move log- or disk-heavy pods to other nodes or faster disks; cap them with io.max/blkio".to_string(),
                ],
            });
        }
    }
    if let Some(c) = &f.conntrack
        && c.max > 0
        && c.fill_ratio() >= 0.9
    {
        cands.push(Cand {
            cause: Cause::ConntrackTableFull,
            severity: Severity::Warning,
            confidence: if c.fill_ratio() >= 0.98 { 0.85 } else { 0.65 },
            summary: format!(
                "node {name}: conntrack table {:.0}% full ({}/{})",
                c.fill_ratio() * 100.0,
                c.count,
                c.max
            ),
            evidence: vec![Evidence::new(
                "facts",
                format!("nf_conntrack_count={} nf_conntrack_max={}", c.count, c.max),
            )],
            remediation: conntrack_fix(name),
        });
    }
    if let Some(t) = &f.tcp {
        let recent = t.listen_drops_delta.unwrap_or(0);
        if recent >= 10 || t.listen_drops + t.backlog_drops + t.listen_overflows >= 100_000 {
            cands.push(Cand {
                cause: Cause::SYNBacklogOverflow,
                severity: if recent >= 10 { Severity::Warning } else { Severity::Info },
                confidence: if recent >= 10 { 0.75 } else { 0.4 },
                summary: format!("node {name}: listen queues overflow, new connections (and health checks) are dropped"),
                evidence: vec![Evidence::new("facts", format!(
                    "ListenDrops={} ListenOverflows={} TCPBacklogDrop={}{}",
                    t.listen_drops, t.listen_overflows, t.backlog_drops,
                    t.listen_drops_delta.map_or(String::new(), |d| format!(", +{d} ListenDrops in the last interval"))
                ))],
                remediation: vec![
                    format!("ssh {name} 'netstat -s | grep -iE \"listen|backlog\"; sysctl net.core.somaxconn net.ipv4.tcp_max_syn_backlog'"),
                    format!("ssh {name} 'sysctl -w net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192'   # and raise the app's listen backlog"),
                ],
            });
        }
    }
    for d in f
        .disks
        .iter()
        .filter(|d| d.read_only && d.purpose != DiskPurpose::Logs)
    {
        cands.push(Cand {
            cause: Cause::FilesystemReadOnly,
            severity: Severity::Critical,
            confidence: 0.8,
            summary: format!("node {name}: {} is mounted read-only", d.path),
            evidence: vec![Evidence::new(
                "facts",
                format!("{} ({:?}) read-only", d.path, d.purpose),
            )],
            remediation: drain_fix(name),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_compile_and_match() {
        let mut v = Vec::new();
        scan_line(
            "runc:[1:CHILD]: page allocation failure: order:6, mode:0x10c0d0",
            &mut v,
        );
        assert_eq!(v, vec![(Sig::PageAlloc, 1)]);
        v.clear();
        scan_line(
            "mysqld: page allocation failure. order:4, mode:0x10c0d0",
            &mut v,
        );
        assert_eq!(v, vec![(Sig::PageAlloc, 1)]);
        v.clear();
        scan_line(
            "swapper: page allocation failure: order:0, mode:0x20",
            &mut v,
        );
        assert!(v.is_empty());
        scan_line(
            "INFO: task docker:20744 blocked for more than 120 seconds.",
            &mut v,
        );
        assert_eq!(v, vec![(Sig::HungTask, 1)]);
    }
}
