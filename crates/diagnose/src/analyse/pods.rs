//! Pod analysers: exit codes, waiting reasons, image pulls, sandbox errors, scheduling,
//! terminating pods, probes and static spec checks. Each pod yields candidate findings; the
//! ranking step orders them.

use super::nodes::{NodeState, Readiness};
use crate::catalog;
use crate::classify::{self, LogSignal, Verdict};
use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::{Ctx, event_count};
use crate::util::{
    clip, event_evidence, finding, human_secs, pod_conditions, pod_key, quantity_bytes, tail_lines,
    ts,
};
use jiff::Timestamp;
use kubemedic_model::objects::{
    Container, ContainerStateTerminated, ContainerStatus, Event, Pod, PodSpec,
};
use std::collections::HashMap;

/// A restart older than this (relative to now) on a pod that is fine now is history, not trouble.
const RECENT_SECS: i64 = 3600;
/// A Pending pod younger than this is still being scheduled normally.
const PENDING_GRACE_SECS: i64 = 30;
/// No scheduler decision for this long means nothing is scheduling.
const SCHEDULER_SILENT_SECS: i64 = 300;
/// Extra time past the grace period before a deleting pod counts as stuck.
const TERMINATING_SLACK_SECS: i64 = 60;
/// Below this a memory limit cannot even start a pause container.
const MIN_MEMORY_BYTES: f64 = 4.0 * 1024.0 * 1024.0;
/// Log lines read from the end of a crashed container's log.
const LOG_TAIL: usize = 40;

/// A candidate finding for one pod.
struct Cand {
    cause: Cause,
    severity: Severity,
    confidence: f64,
    summary: String,
    evidence: Vec<Evidence>,
    remediation: Vec<String>,
    caused_by: Option<ObjectRef>,
}

impl Cand {
    fn new(cause: Cause, severity: Severity, confidence: f64, summary: String) -> Self {
        Cand {
            cause,
            severity,
            confidence,
            summary,
            evidence: Vec::new(),
            remediation: Vec::new(),
            caused_by: None,
        }
    }
}

/// Everything about one pod the helpers need.
struct PodView<'a, 'b> {
    ctx: &'b Ctx<'a>,
    pod: &'a Pod,
    ns: &'a str,
    name: &'a str,
    spec: Option<&'a PodSpec>,
    events: &'b [&'a Event],
    node: Option<&'a str>,
    node_state: Option<&'b NodeState>,
    /// `deploy/api`, `sts/db`, ... for remediation commands; `pod/NAME` for bare pods.
    workload_arg: String,
}

impl PodView<'_, '_> {
    fn container_spec(&self, name: &str) -> Option<&Container> {
        let spec = self.spec?;
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|c| c.name == name)
    }

    fn kubectl(&self) -> String {
        format!("kubectl -n {}", self.ns)
    }

    fn node_ref(&self) -> Option<ObjectRef> {
        self.node.map(ObjectRef::node)
    }
}

/// Analyses every pod.
pub(crate) fn analyse(ctx: &Ctx<'_>, nodes: &HashMap<&str, NodeState>, out: &mut Vec<Finding>) {
    for pod in &ctx.snap.pods {
        analyse_pod(ctx, pod, nodes, out);
    }
}

fn is_recent(ctx: &Ctx<'_>, t: Option<Timestamp>) -> bool {
    match ctx.age_secs(t) {
        Some(age) => age <= RECENT_SECS,
        None => true,
    }
}

/// Running, every container ready, nothing terminated recently: nothing to say.
fn healthy_now(ctx: &Ctx<'_>, pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    if status.phase.as_deref() != Some("Running") || pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let statuses = status.container_statuses.as_deref().unwrap_or(&[]);
    !statuses.is_empty()
        && statuses.iter().all(|cs| {
            cs.ready
                && cs
                    .last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .is_none_or(|t| !is_recent(ctx, t.finished_at.as_ref().map(|t| t.0)))
        })
}

fn analyse_pod(ctx: &Ctx<'_>, pod: &Pod, nodes: &HashMap<&str, NodeState>, out: &mut Vec<Finding>) {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    if phase == "Succeeded" {
        return;
    }
    let healthy = healthy_now(ctx, pod);
    let any_restart = status
        .and_then(|s| s.container_statuses.as_deref())
        .is_some_and(|cs| cs.iter().any(|c| c.restart_count > 0));
    if healthy && !any_restart {
        return;
    }
    let (ns, name) = pod_key(pod);
    let spec = pod.spec.as_ref();
    let node = spec.and_then(|s| s.node_name.as_deref());
    let workload_arg = match ctx.workload_of(pod) {
        Some(("Deployment", n)) => format!("deploy/{n}"),
        Some(("StatefulSet", n)) => format!("sts/{n}"),
        Some(("DaemonSet", n)) => format!("ds/{n}"),
        Some(("Job", n)) => format!("job/{n}"),
        Some(("ReplicaSet", n)) => format!("rs/{n}"),
        Some(("ReplicationController", n)) => format!("rc/{n}"),
        _ => format!("pod/{name}"),
    };
    let v = PodView {
        ctx,
        pod,
        ns,
        name,
        spec,
        events: ctx.events("Pod", ns, name),
        node,
        node_state: node.and_then(|n| nodes.get(n)),
        workload_arg,
    };
    let mut cands: Vec<Cand> = Vec::new();

    if healthy {
        // Restarted long ago, fine now: at most an info note about the old crash.
        containers(&v, &mut cands, Severity::Info);
    } else {
        let deleting = pod.metadata.deletion_timestamp.is_some();
        if status.and_then(|s| s.reason.as_deref()) == Some("Evicted") {
            evicted(&v, &mut cands);
        } else if deleting {
            terminating(&v, &mut cands);
        } else if node.is_none() && phase == "Pending" {
            pending(&v, &mut cands);
        } else {
            memory_limits(&v, &mut cands);
            containers(&v, &mut cands, Severity::Critical);
            pod_events(&v, &mut cands);
            if cands.is_empty() {
                from_node(&v, &mut cands);
            }
            if cands.is_empty() {
                never_silent(&v, &mut cands);
            }
        }
    }

    for c in cands {
        let mut f = finding(
            c.cause,
            c.severity,
            ObjectRef::pod(ns, name),
            c.summary,
            c.confidence,
        );
        f.evidence = c.evidence;
        f.remediation = c.remediation;
        f.caused_by = c.caused_by;
        out.push(f);
    }
}

// ---------------------------------------------------------------------------------------------
// Containers: waiting reasons and terminations.

fn containers(v: &PodView<'_, '_>, cands: &mut Vec<Cand>, base: Severity) {
    let Some(status) = v.pod.status.as_ref() else {
        return;
    };
    let init = status.init_container_statuses.iter().flatten();
    let main = status.container_statuses.iter().flatten();
    let restart_never = v.spec.and_then(|s| s.restart_policy.as_deref()) == Some("Never");
    for cs in init.chain(main) {
        let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
        let current_term = cs.state.as_ref().and_then(|s| s.terminated.as_ref());
        let last_term = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        let reason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
        let wmsg = waiting.and_then(|w| w.message.as_deref()).unwrap_or("");
        let waiting_ev = waiting.map(|_| {
            Evidence::new(
                "pod status",
                format!(
                    "container {}: waiting reason={reason}{}",
                    cs.name,
                    if wmsg.is_empty() {
                        String::new()
                    } else {
                        format!(" message={}", clip(wmsg))
                    }
                ),
            )
        });
        match reason {
            "ErrImagePull"
            | "ImagePullBackOff"
            | "ErrImageNeverPull"
            | "InvalidImageName"
            | "RegistryUnavailable"
            | "ImageInspectError" => {
                image(v, cs, reason, wmsg, waiting_ev, cands);
                continue;
            }
            "CreateContainerConfigError"
            | "CreateContainerError"
            | "RunContainerError"
            | "StartError"
            | "ContainerCannotRun"
            | "PreStartHookError"
            | "PostStartHookError" => {
                if let Some(verdict) = classify::sandbox(wmsg) {
                    let mut c = verdict_cand(v, verdict, &cs.name, wmsg);
                    c.evidence.extend(waiting_ev.clone());
                    cands.push(c);
                    continue;
                }
            }
            _ => {}
        }
        // A terminated instance: the current one (restartPolicy Never, or waiting to restart)
        // or the last one.
        let (term, previous) = match (current_term, last_term) {
            (Some(t), _) if t.exit_code != 0 || restart_never => (t, false),
            (_, Some(t)) => (t, true),
            _ => continue,
        };
        if term.exit_code == 0 && cs.restart_count == 0 {
            continue;
        }
        let finished = term.finished_at.as_ref().map(|t| t.0);
        let severity = if base == Severity::Info {
            Severity::Info
        } else if waiting.is_some() || current_term.is_some() || !cs.ready {
            Severity::Critical
        } else if is_recent(v.ctx, finished) {
            Severity::Warning
        } else {
            Severity::Info
        };
        let mut found = exit_code(v, cs, term, previous);
        for c in &mut found {
            c.severity = severity;
            if let Some(w) = &waiting_ev {
                c.evidence.push(w.clone());
            }
        }
        cands.extend(found);
    }
}

fn container_of_event(ev: &Event) -> Option<&str> {
    let fp = ev.involved_object.field_path.as_deref()?;
    let start = fp.find('{')? + 1;
    let end = fp[start..].find('}')? + start;
    Some(&fp[start..end])
}

fn for_container(ev: &Event, container: &str) -> bool {
    container_of_event(ev).is_none_or(|c| c == container)
}

/// Liveness and startup probe failures and the kills they caused, for one container.
fn liveness_events<'a>(v: &PodView<'a, '_>, container: &str) -> Vec<&'a Event> {
    v.events
        .iter()
        .filter(|e| for_container(e, container))
        .filter(|e| {
            let m = e.message.as_deref().unwrap_or("");
            m.contains("Liveness probe failed")
                || m.contains("failed liveness probe")
                || m.contains("Liveness probe errored")
                || m.contains("Startup probe failed")
                || m.contains("failed startup probe")
                || m.contains("Startup probe errored")
        })
        .copied()
        .collect()
}

/// Readiness probe failures for one container.
fn readiness_events<'a>(v: &PodView<'a, '_>, container: &str) -> Vec<&'a Event> {
    v.events
        .iter()
        .filter(|e| for_container(e, container))
        .filter(|e| {
            let m = e.message.as_deref().unwrap_or("");
            m.starts_with("Readiness probe failed") || m.starts_with("Readiness probe errored")
        })
        .copied()
        .collect()
}

/// Log lines of a Go stack trace quoted after its `goroutine N [running]:` header: the two
/// innermost frames, each a function line and a file:line line.
const PANIC_FRAMES: usize = 4;

/// The kubelet's latest event about restarting `container` after it exited (`BackOff`:
/// "Back-off restarting failed container ..."), with its count: how the crash shows up from
/// outside, and how often.
fn restart_event(v: &PodView<'_, '_>, container: &str) -> Option<Evidence> {
    v.events
        .iter()
        .filter(|e| for_container(e, container))
        .filter(|e| {
            e.reason.as_deref() == Some("BackOff")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.contains("restarting failed container"))
        })
        .max_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0))
        .map(|e| event_evidence(e))
}

fn term_evidence(cs: &ContainerStatus, t: &ContainerStateTerminated, previous: bool) -> Evidence {
    let which = if previous { "lastState" } else { "state" };
    let signal = t.signal.map_or(String::new(), |s| format!(" signal={s}"));
    Evidence::new(
        "pod status",
        format!(
            "container {}: {which}.terminated reason={} exitCode={}{signal} startedAt={} finishedAt={} restartCount={}{}",
            cs.name,
            t.reason.as_deref().unwrap_or(""),
            t.exit_code,
            ts(t.started_at.as_ref().map(|t| t.0)),
            ts(t.finished_at.as_ref().map(|t| t.0)),
            cs.restart_count,
            t.message
                .as_deref()
                .map_or(String::new(), |m| format!(" message={}", clip(m)))
        ),
    )
}

/// Causes for one terminated container instance, most likely first.
fn exit_code(
    v: &PodView<'_, '_>,
    cs: &ContainerStatus,
    t: &ContainerStateTerminated,
    previous: bool,
) -> Vec<Cand> {
    let code = t.exit_code;
    let reason = t.reason.as_deref().unwrap_or("");
    let msg = t.message.as_deref().unwrap_or("");
    let c = cs.name.as_str();
    let status_ev = term_evidence(cs, t, previous);
    let info = catalog::exit_code(i64::from(code));
    let code_ev = Evidence::new("exit code", format!("{code}: {}", info.title));
    let sev = Severity::Critical; // replaced by the caller
    let mut out: Vec<Cand> = Vec::new();
    let lifetime = match (t.started_at.as_ref(), t.finished_at.as_ref()) {
        (Some(s), Some(f)) => Some(f.0.as_second() - s.0.as_second()),
        _ => None,
    };

    // Start errors carry their reason in the message whatever the code (containerd: 128).
    if let Some(verdict) = classify::start_error(msg) {
        let mut cand = verdict_cand(v, verdict, c, msg);
        cand.evidence.insert(0, status_ev.clone());
        out.push(cand);
        return out;
    }

    let liveness = liveness_events(v, c);
    let live_ev: Vec<Evidence> = liveness.iter().take(2).map(|e| event_evidence(e)).collect();
    let spec = v.container_spec(c);
    let limit = spec
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone());

    if reason == "OOMKilled" {
        let mut cand = Cand::new(
            Cause::OOMKilled,
            sev,
            0.95,
            format!(
                "container {c} was OOM-killed at its memory limit{} ({} restarts)",
                limit
                    .as_deref()
                    .map_or(String::new(), |l| format!(" of {l}")),
                cs.restart_count
            ),
        );
        cand.evidence = vec![status_ev.clone()];
        if let Some(ns) = v.node_state {
            cand.evidence.extend(ns.cgroup_oom.iter().take(1).cloned());
        }
        cand.remediation = oom_fix(v, c, limit.as_deref());
        out.push(cand);
        return out;
    }

    let signal = if (129..=192).contains(&code) {
        Some(code - 128)
    } else {
        t.signal
    };
    if signal == Some(9) || code == 137 {
        if let Some(ns) = v.node_state
            && !ns.system_oom.is_empty()
        {
            let node = v.node.unwrap_or("?");
            let mut cand = Cand::new(
                Cause::NodeOOM,
                sev,
                0.85,
                format!(
                    "container {c} was killed (exit 137) by the kernel OOM killer of node {node}, not by its own limit"
                ),
            );
            cand.evidence = ns.system_oom.iter().take(2).cloned().collect();
            cand.evidence.push(status_ev.clone());
            cand.remediation = vec![
                format!("ssh {node} 'journalctl -k | grep -iE \"out of memory|oom-kill\"'"),
                format!("kubectl describe node {node} | grep -A8 'Allocated resources'"),
                "Raise kubeReserved/systemReserved on the node and set this pod's memory request to its real usage".to_string(),
            ];
            cand.caused_by = v.node_ref();
            out.push(cand);
        } else if let Some(ns) = v.node_state
            && !ns.cgroup_oom.is_empty()
            && liveness.is_empty()
        {
            let mut cand = Cand::new(
                Cause::OOMKilled,
                sev,
                0.7,
                format!("container {c} exited 137; the node's kernel log shows cgroup OOM kills"),
            );
            cand.evidence = vec![status_ev.clone(), ns.cgroup_oom[0].clone()];
            cand.remediation = oom_fix(v, c, limit.as_deref());
            out.push(cand);
        }
    }
    if (signal == Some(9) || signal == Some(15) || code == 137 || code == 143)
        && !liveness.is_empty()
    {
        // Which probe killed it: the startup probe while it starts, else the liveness probe.
        let kind = if liveness.iter().any(|e| {
            let m = e.message.as_deref().unwrap_or("");
            m.contains("failed startup probe") || m.starts_with("Startup probe")
        }) {
            classify::ProbeKind::Startup
        } else {
            classify::ProbeKind::Liveness
        };
        if let Some(early) = probe_too_early(v, cs, spec, kind, &live_ev) {
            out.push(early);
        }
        let why = probe_why(v, c, spec, kind, &liveness);
        let mut cand = Cand::new(
            Cause::LivenessProbeFailure,
            sev,
            if why.named { 0.85 } else { 0.8 },
            format!(
                "the kubelet restarted container {c} because its {} probe failed ({} restarts): {}",
                kind.as_str(),
                cs.restart_count,
                why.text
            ),
        );
        cand.evidence = live_ev.clone();
        cand.evidence.extend(why.evidence.iter().cloned());
        cand.evidence.push(status_ev.clone());
        let _ = lifetime;
        cand.remediation = why.fix;
        cand.remediation.extend(probe_fix(v, c, spec));
        out.push(cand);
        return out;
    }
    if !out.is_empty() {
        return out;
    }

    match code {
        0 => {
            let mut cand = Cand::new(
                Cause::AppError,
                sev,
                0.4,
                format!(
                    "container {c} keeps exiting 0 (Completed) though restartPolicy restarts it; it should keep running or be a Job"
                ),
            );
            cand.evidence = vec![status_ev];
            cand.remediation = vec![format!(
                "{} logs {} -c {c} --previous --tail=50",
                v.kubectl(),
                v.name
            )];
            out.push(cand);
        }
        126 | 127 => {
            let cause = if code == 126 {
                Cause::CommandNotExecutable
            } else {
                Cause::CommandNotFound
            };
            let mut cand = Cand::new(
                cause,
                sev,
                0.85,
                format!("container {c} exits {code}: {}", info.title),
            );
            cand.evidence = vec![status_ev, code_ev];
            cand.remediation = command_fix(v, c);
            out.push(cand);
        }
        128 if msg.contains("volume-subpaths") => {
            out.push(verdict_cand(v, (Cause::SubPathMountStale, 0.85), c, msg));
        }
        134 | 139 => {
            let mut cand = Cand::new(
                Cause::AppPanic,
                sev,
                0.85,
                format!("container {c} crashes: exit {code} = {}", info.title),
            );
            cand.evidence = vec![status_ev, code_ev];
            cand.evidence.extend(log_tail_evidence(v, c, previous, 3));
            cand.remediation = panic_fix(v, c);
            out.push(cand);
        }
        129..=192 => {
            let sig = info
                .signal
                .map_or(format!("signal {}", code - 128), |s| s.name.to_string());
            let mut cand = Cand::new(
                Cause::KilledBySignal,
                sev,
                if code == 137 { 0.55 } else { 0.65 },
                format!(
                    "container {c} was killed by {sig} (exit {code}); no OOM or liveness-probe evidence{}",
                    if code == 137
                        && v.node
                            .is_some_and(|n| !v.ctx.snap.node_logs.contains_key(n))
                    {
                        " (node kernel log not collected: a node OOM cannot be ruled out)"
                    } else {
                        ""
                    }
                ),
            );
            cand.evidence = vec![status_ev, code_ev];
            cand.remediation = vec![
                format!("{} get events --field-selector involvedObject.name={}", v.kubectl(), v.name),
                format!("ssh {} 'journalctl -k --since -2h | grep -iE \"oom|killed process\"'   # rule out a node OOM", v.node.unwrap_or("NODE")),
                "Trace the sender (e.g. systemtap `probe signal.send` on the container's PID) if it repeats".to_string(),
            ];
            out.push(cand);
        }
        _ => app_exit(v, cs, t, previous, status_ev, code_ev, &mut out),
    }
    out
}

/// Exit codes the program chose (1-125, 255 ...): read the logs.
fn app_exit(
    v: &PodView<'_, '_>,
    cs: &ContainerStatus,
    t: &ContainerStateTerminated,
    previous: bool,
    status_ev: Evidence,
    code_ev: Evidence,
    out: &mut Vec<Cand>,
) {
    let c = cs.name.as_str();
    let code = t.exit_code;
    let sev = Severity::Critical;
    let logs = v.ctx.logs(v.ns, v.name, c).and_then(|l| {
        if previous {
            l.previous.as_deref().or(l.current.as_deref())
        } else {
            l.current.as_deref().or(l.previous.as_deref())
        }
    });
    let which = if previous
        && v.ctx
            .logs(v.ns, v.name, c)
            .is_some_and(|l| l.previous.is_some())
    {
        " (previous)"
    } else {
        ""
    };
    let lines = logs.map(|l| tail_lines(l, LOG_TAIL)).unwrap_or_default();
    let log_ev =
        |n: usize, text: &str| Evidence::new(format!("logs {c}{which} line {n}"), clip(text));
    let (mut panic, mut dns, mut config, mut addr) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for l in &lines {
        match classify::log_line(l.text) {
            Some(LogSignal::Panic) => panic.push(*l),
            Some(LogSignal::Dns) => dns.push(*l),
            Some(LogSignal::Config) => config.push(*l),
            Some(LogSignal::AddressInUse) => addr.push(*l),
            None => {}
        }
    }
    // A panic whose message names a config or DNS problem is that problem.
    let panic_says_config = panic
        .first()
        .is_some_and(|p| classify::CONFIG_HINT.is_match(p.text));
    let goroutine = lines
        .iter()
        .any(|l| l.text.contains("goroutine ") && l.text.contains("[running]"));

    if !dns.is_empty() {
        // The last line that names the failing host, else the last DNS line.
        let (d, name) = dns
            .iter()
            .rev()
            .find_map(|l| classify::dns_name(l.text).map(|n| (*l, Some(n))))
            .unwrap_or((dns[dns.len() - 1], None));
        let mut cand = Cand::new(
            Cause::DependencyDNSFailure,
            sev,
            0.85,
            match &name {
                Some(n) => format!(
                    "container {c} exits {code} because the name {n} does not resolve: {}",
                    clip(d.text)
                ),
                None => format!(
                    "container {c} exits {code} because a name it needs does not resolve (the log does not say which): {}",
                    clip(d.text)
                ),
            },
        );
        cand.evidence = vec![log_ev(d.number, d.text), status_ev.clone()];
        let host = name.as_deref().unwrap_or("<the host from the log>");
        cand.remediation = vec![
            format!("{} run dnscheck --rm -it --image=busybox:1.36 --restart=Never -- nslookup {host}   # does it resolve from a pod in {}?", v.kubectl(), v.ns),
            "kubectl -n kube-system logs -l k8s-app=kube-dns --tail=50".to_string(),
            "Check the host name in the app's config (typo, wrong namespace: use <svc>.<namespace>.svc.cluster.local)".to_string(),
        ];
        out.push(cand);
    }
    if !config.is_empty() || panic_says_config || matches!(code, 78) {
        let mut cand = Cand::new(
            Cause::ConfigError,
            sev,
            if config.is_empty() && !panic_says_config {
                0.55
            } else if matches!(code, 1 | 2 | 64 | 78) {
                0.85
            } else {
                0.75
            },
            format!(
                "container {c} exits {code}: it refuses its configuration{}",
                config
                    .first()
                    .or(panic.first())
                    .map_or(String::new(), |l| format!(": {}", clip(l.text)))
            ),
        );
        cand.evidence = config
            .iter()
            .chain(panic.iter().filter(|_| panic_says_config))
            .take(3)
            .map(|l| log_ev(l.number, l.text))
            .collect();
        cand.evidence.push(status_ev.clone());
        if code == 78 {
            cand.evidence.push(code_ev.clone());
        }
        cand.remediation = vec![
            format!(
                "{} logs {} -c {c} --previous --tail=30",
                v.kubectl(),
                v.name
            ),
            format!(
                "{} get {} -o yaml | grep -A20 -E 'configMap|envFrom|env:'   # find the config source and fix the named setting",
                v.kubectl(),
                v.workload_arg
            ),
        ];
        out.push(cand);
    }
    if !panic.is_empty() {
        let p = panic[0];
        let conf = if code == 2 && goroutine { 0.95 } else { 0.9 };
        let mut cand = Cand::new(
            Cause::AppPanic,
            sev,
            if panic_says_config { 0.6 } else { conf },
            format!(
                "container {c} crashes on a bug (exit {code}{}): {}",
                if code == 2 && goroutine {
                    ", Go panic"
                } else {
                    ""
                },
                clip(p.text)
            ),
        );
        cand.evidence = panic
            .iter()
            .take(3)
            .map(|l| log_ev(l.number, l.text))
            .collect();
        // The top of the crashing goroutine's stack says where the bug is: the frames right
        // after its `goroutine N [running]:` header (function, then file:line).
        if let Some(header) = lines
            .iter()
            .position(|l| l.text.contains("goroutine ") && l.text.contains("[running]"))
        {
            let shown: Vec<usize> = panic.iter().take(3).map(|l| l.number).collect();
            cand.evidence.extend(
                lines[header + 1..]
                    .iter()
                    .take(PANIC_FRAMES)
                    .filter(|l| !shown.contains(&l.number))
                    .map(|l| log_ev(l.number, l.text)),
            );
        }
        cand.evidence.push(status_ev.clone());
        cand.evidence.extend(restart_event(v, c));
        cand.remediation = panic_fix(v, c);
        out.push(cand);
    }
    if !addr.is_empty() {
        let a = addr[0];
        let host = v.spec.is_some_and(|s| s.host_network == Some(true))
            || v.container_spec(c)
                .is_some_and(|s| s.ports.iter().flatten().any(|p| p.host_port.is_some()));
        let (cause, conf) = if host {
            (Cause::HostPortConflict, 0.8)
        } else {
            (Cause::AppError, 0.7)
        };
        let mut cand = Cand::new(
            cause,
            sev,
            conf,
            format!("container {c} cannot bind its port: {}", clip(a.text)),
        );
        cand.evidence = vec![log_ev(a.number, a.text), status_ev.clone()];
        cand.remediation = vec![format!(
            "ssh {} 'ss -ltnp | grep <port>'   # who holds the port",
            v.node.unwrap_or("NODE")
        )];
        out.push(cand);
    }
    if !out.is_empty() {
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        return;
    }
    // No recognisable reason: the program's own error, with its last words.
    let (cause, conf, what) = match code {
        2 => (
            Cause::AppError,
            if lines.is_empty() { 0.45 } else { 0.6 },
            "exit 2, which Go programs use for a panic and shells for misuse".to_string(),
        ),
        64 => (
            Cause::ConfigError,
            0.5,
            "EX_USAGE: bad command line".to_string(),
        ),
        68 => (
            Cause::DependencyDNSFailure,
            0.5,
            "EX_NOHOST: a host name was not found".to_string(),
        ),
        65..=77 => (
            Cause::AppError,
            0.6,
            format!(
                "sysexits {}",
                catalog::sysexit(i64::from(code)).map_or("", |s| s.0)
            ),
        ),
        _ => (
            Cause::AppError,
            if lines.is_empty() { 0.5 } else { 0.65 },
            format!("exit {code}"),
        ),
    };
    let mut cand = Cand::new(
        cause,
        sev,
        conf,
        format!(
            "container {c} exits with an error ({what}){}",
            lines
                .last()
                .map_or(" and no logs were collected".to_string(), |l| format!(
                    ": {}",
                    clip(l.text)
                ))
        ),
    );
    cand.evidence = vec![status_ev, code_ev];
    cand.evidence.extend(
        lines
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|l| log_ev(l.number, l.text)),
    );
    cand.remediation = vec![format!(
        "{} logs {} -c {c} --previous --tail=50",
        v.kubectl(),
        v.name
    )];
    out.push(cand);
}

fn log_tail_evidence(v: &PodView<'_, '_>, c: &str, previous: bool, n: usize) -> Vec<Evidence> {
    let Some(logs) = v.ctx.logs(v.ns, v.name, c) else {
        return Vec::new();
    };
    let (text, which) = match (previous, logs.previous.as_deref(), logs.current.as_deref()) {
        (true, Some(p), _) => (p, " (previous)"),
        (_, _, Some(cur)) => (cur, ""),
        (_, Some(p), None) => (p, " (previous)"),
        _ => return Vec::new(),
    };
    tail_lines(text, n)
        .iter()
        .map(|l| Evidence::new(format!("logs {c}{which} line {}", l.number), clip(l.text)))
        .collect()
}

/// The start-up time measured in the container's logs: the app's own "started in N s" line, or
/// the offset of its first listen/ready line from the first stamped line of that instance.
fn startup_from_logs(v: &PodView<'_, '_>, c: &str) -> Option<(f64, Evidence)> {
    let logs = v.ctx.logs(v.ns, v.name, c)?;
    let mut best: Option<(f64, Evidence)> = None;
    let mut keep = |secs: f64, ev: Evidence| {
        if best.as_ref().is_none_or(|(b, _)| secs > *b) {
            best = Some((secs, ev));
        }
    };
    for (text, which) in [
        (logs.previous.as_deref(), " (previous)"),
        (logs.current.as_deref(), ""),
    ] {
        let Some(text) = text else { continue };
        let mut first_stamp: Option<f64> = None;
        let mut offset_seen = false;
        for (i, line) in text.lines().enumerate() {
            let source = || format!("logs {c}{which} line {}", i + 1);
            if let Some(secs) = classify::startup_secs(line) {
                keep(secs, Evidence::new(source(), clip(line)));
                continue;
            }
            let stamp = classify::app_stamp(line);
            if first_stamp.is_none() {
                first_stamp = stamp;
            }
            if !offset_seen
                && classify::is_ready_line(line)
                && let (Some(t0), Some(t)) = (first_stamp, stamp)
            {
                offset_seen = true;
                let secs = t - t0;
                if secs > 0.0 {
                    keep(
                        secs,
                        Evidence::new(
                            source(),
                            format!(
                                "{} ({secs:.0}s after the instance's first log line)",
                                clip(line)
                            ),
                        ),
                    );
                }
            }
        }
    }
    best
}

/// The probe of this kind on a container.
fn probe_of(
    spec: &Container,
    kind: classify::ProbeKind,
) -> Option<&kubemedic_model::objects::Probe> {
    match kind {
        classify::ProbeKind::Liveness => spec.liveness_probe.as_deref(),
        classify::ProbeKind::Readiness => spec.readiness_probe.as_deref(),
        classify::ProbeKind::Startup => spec.startup_probe.as_deref(),
    }
}

/// Seconds after start at which a probe that never succeeds first kills (or gives up):
/// initialDelaySeconds + periodSeconds x failureThreshold.
fn probe_budget(p: &kubemedic_model::objects::Probe) -> (i64, i64, i64, i64) {
    let delay = i64::from(p.initial_delay_seconds.unwrap_or(0));
    let period = i64::from(p.period_seconds.unwrap_or(10));
    let failures = i64::from(p.failure_threshold.unwrap_or(3));
    (delay + period * failures, delay, period, failures)
}

/// The probe kills the app before it is up: only with positive evidence that start-up takes
/// longer than the probe allows (its logs say so). A probe that never succeeds kills at the first
/// moment it may whatever the cause, so that timing alone proves nothing.
fn probe_too_early(
    v: &PodView<'_, '_>,
    cs: &ContainerStatus,
    spec: Option<&Container>,
    kind: classify::ProbeKind,
    live_ev: &[Evidence],
) -> Option<Cand> {
    let spec = spec?;
    let probe = probe_of(spec, kind)?;
    // A liveness probe behind a startup probe only runs once start-up has succeeded.
    if kind == classify::ProbeKind::Liveness && spec.startup_probe.is_some() {
        return None;
    }
    let c = cs.name.as_str();
    let (budget, delay, period, failures) = probe_budget(probe);
    let (secs, ev) = startup_from_logs(v, c)?;
    if secs <= budget as f64 {
        return None;
    }
    let mut cand = Cand::new(
        Cause::ProbeTooEarly,
        Severity::Critical,
        0.85,
        format!(
            "container {c}: start-up takes {secs:.0}s (its log), but the {} probe kills it after {budget}s (initialDelaySeconds {delay} + {failures} x {period}s){}, so it is killed while starting ({} restarts)",
            kind.as_str(),
            if kind == classify::ProbeKind::Liveness {
                "; no startupProbe"
            } else {
                ""
            },
            cs.restart_count
        ),
    );
    cand.evidence.push(ev);
    cand.evidence.push(Evidence::new("spec", format!(
        "container {c}: {}Probe initialDelaySeconds={delay} periodSeconds={period} failureThreshold={failures}{}",
        kind.as_str(),
        if spec.startup_probe.is_none() { "; no startupProbe" } else { "" }
    )));
    cand.evidence.extend(live_ev.iter().cloned());
    let threshold = ((secs * 1.5).ceil() as i64 + period - 1) / period.max(1);
    cand.remediation = vec![
        format!(
            "Add a startupProbe to container {c} with the liveness probe's check, periodSeconds: {period}, failureThreshold: {threshold} (allows {}s to start)",
            threshold * period
        ),
        format!(
            "{} edit {}   # or raise {}Probe.initialDelaySeconds above {secs:.0}s",
            v.kubectl(),
            v.workload_arg,
            kind.as_str()
        ),
    ];
    Some(cand)
}

/// Why a probe fails, as far as the events, the spec and the logs tell.
struct ProbeWhy {
    text: String,
    evidence: Vec<Evidence>,
    fix: Vec<String>,
    /// A concrete fault (port or path mismatch, loopback listener) is named.
    named: bool,
}

fn probe_why(
    v: &PodView<'_, '_>,
    c: &str,
    spec: Option<&Container>,
    kind: classify::ProbeKind,
    events: &[&Event],
) -> ProbeWhy {
    let mut why = ProbeWhy {
        text: String::new(),
        evidence: Vec::new(),
        fix: Vec::new(),
        named: false,
    };
    // The most frequent failure wording.
    let failure = events
        .iter()
        .filter_map(|e| {
            classify::probe_failure(e.message.as_deref().unwrap_or("")).map(|f| (event_count(e), f))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, f)| f);
    let probe = spec.and_then(|s| probe_of(s, kind));
    let declared: Vec<i32> = spec
        .map(|s| s.ports.iter().flatten().map(|p| p.container_port).collect())
        .unwrap_or_default();
    let resolve = |p: &kubemedic_model::objects::IntOrString| -> Option<i32> {
        match p {
            kubemedic_model::objects::IntOrString::Int(i) => Some(*i),
            kubemedic_model::objects::IntOrString::String(name) => spec.and_then(|s| {
                s.ports
                    .iter()
                    .flatten()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.container_port)
            }),
        }
    };
    let (probed_port, path) = match probe {
        Some(p) => match (&p.http_get, &p.tcp_socket) {
            (Some(h), _) => (resolve(&h.port), h.path.clone()),
            (_, Some(t)) => (resolve(&t.port), None),
            _ => (None, None),
        },
        None => (None, None),
    };
    // Where the app says it listens, from either instance's log.
    let mut listen: Option<(Option<String>, u16, Evidence)> = None;
    if let Some(logs) = v.ctx.logs(v.ns, v.name, c) {
        'logs: for (text, which) in [
            (logs.previous.as_deref(), " (previous)"),
            (logs.current.as_deref(), ""),
        ] {
            for (i, line) in text.unwrap_or("").lines().enumerate() {
                if let Some((host, port)) = classify::listen_addr(line) {
                    listen = Some((
                        host,
                        port,
                        Evidence::new(format!("logs {c}{which} line {}", i + 1), clip(line)),
                    ));
                    break 'logs;
                }
            }
        }
    }
    let declared_txt = match declared.as_slice() {
        [] => "declares no port".to_string(),
        [one] => format!("declares port {one}"),
        many => format!(
            "declares ports {}",
            many.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let k = v.kubectl();
    match failure.as_ref().map(|f| &f.how) {
        Some(classify::ProbeHow::Refused { port }) => {
            let port = port.map(i32::from).or(probed_port);
            let port_txt = port.map_or("its port".to_string(), |p| format!("port {p}"));
            let loopback = listen.as_ref().filter(|(h, lp, _)| {
                h.as_deref().is_some_and(classify::is_loopback)
                    && port.is_none_or(|p| p == i32::from(*lp))
            });
            if let Some((host, lp, ev)) = loopback {
                why.text = format!(
                    "the app listens only on {}:{lp}, and the kubelet probes the pod IP: connection refused",
                    host.as_deref().unwrap_or("127.0.0.1")
                );
                why.evidence.push(ev.clone());
                why.fix.push(format!("Make container {c} listen on 0.0.0.0:{lp} (not 127.0.0.1) so the kubelet's probe on the pod IP reaches it"));
                why.named = true;
            } else if let Some(p) = port.filter(|p| !declared.is_empty() && !declared.contains(p)) {
                let heard = listen.as_ref().map_or(String::new(), |(_, lp, _)| {
                    format!(" and its log says it listens on {lp}")
                });
                why.text = format!(
                    "the probe on port {p} gets connection refused: the container {declared_txt}{heard}; nothing listens on {p}"
                );
                why.evidence.extend(listen.as_ref().map(|l| l.2.clone()));
                let target = listen.as_ref().map_or(declared[0], |l| i32::from(l.1));
                why.fix.push(format!(
                    "{k} edit {}   # set {}Probe port {p} -> {target}",
                    v.workload_arg,
                    kind.as_str()
                ));
                why.named = true;
            } else if let Some((_, lp, ev)) = listen
                .as_ref()
                .filter(|(_, lp, _)| port.is_some_and(|p| p != i32::from(*lp)))
            {
                why.text = format!(
                    "the probe on {port_txt} gets connection refused; the app's log says it listens on {lp}"
                );
                why.evidence.push(ev.clone());
                why.fix.push(format!(
                    "{k} edit {}   # set {}Probe port -> {lp}",
                    v.workload_arg,
                    kind.as_str()
                ));
                why.named = true;
            } else {
                why.text = format!(
                    "nothing answers on {port_txt} when probed (connection refused); the container {declared_txt}{} and no log line shows start-up finishing later",
                    listen.as_ref().map_or(String::new(), |(_, lp, _)| format!(
                        ", its log says it listens on {lp}"
                    ))
                );
                why.evidence.extend(listen.as_ref().map(|l| l.2.clone()));
                why.fix.push(format!(
                    "{k} logs {} -c {c} --previous --tail=50   # does the app start, and on which port?",
                    v.name
                ));
            }
        }
        Some(classify::ProbeHow::Timeout) => {
            let t = probe.and_then(|p| p.timeout_seconds).unwrap_or(1);
            why.text = format!(
                "the probe timed out: the endpoint does not answer within timeoutSeconds={t}s"
            );
            why.fix.push(format!(
                "{k} edit {}   # raise {}Probe.timeoutSeconds (now {t}s) or make the endpoint cheaper",
                v.workload_arg,
                kind.as_str()
            ));
        }
        Some(classify::ProbeHow::Status(code)) => {
            let p = path.as_deref().unwrap_or("/");
            why.text = format!(
                "GET {p} answers HTTP {code}{}",
                if *code == 404 {
                    ": the probed path does not exist in the app"
                } else {
                    ""
                }
            );
            why.named = *code == 404;
            why.fix.push(format!(
                "{k} edit {}   # point {}Probe.httpGet.path at a path the app serves (now {p})",
                v.workload_arg,
                kind.as_str()
            ));
        }
        Some(classify::ProbeHow::Output(out)) => {
            why.text = if out.is_empty() {
                "the probe fails without output".to_string()
            } else {
                format!("the probe says: {}", clip(out))
            };
        }
        None => {
            why.text = "the probe's failure message was not collected".to_string();
        }
    }
    if let Some(p) = probe {
        let check = match (&p.http_get, &p.tcp_socket, &p.exec) {
            (Some(h), _, _) => format!(
                "httpGet :{}{}",
                port_text(&h.port),
                h.path.as_deref().unwrap_or("/")
            ),
            (_, Some(t), _) => format!("tcpSocket :{}", port_text(&t.port)),
            (_, _, Some(e)) => format!("exec {:?}", e.command.as_deref().unwrap_or(&[])),
            _ => "grpc".to_string(),
        };
        let (budget, delay, period, failures) = probe_budget(p);
        why.evidence.push(Evidence::new(
            "spec",
            format!(
                "container {c}: {}Probe {check} initialDelaySeconds={delay} periodSeconds={period} failureThreshold={failures} (fails after {budget}s); {declared_txt}",
                kind.as_str()
            ),
        ));
    }
    why
}

fn oom_fix(v: &PodView<'_, '_>, c: &str, limit: Option<&str>) -> Vec<String> {
    let suggested = limit
        .and_then(quantity_bytes)
        .filter(|b| *b >= 1024.0 * 1024.0)
        .map(|b| format!("{}Mi", ((b * 2.0) / (1024.0 * 1024.0)).ceil() as u64))
        .unwrap_or_else(|| "512Mi".to_string());
    vec![
        format!(
            "{} set resources {} -c {c} --limits=memory={suggested}",
            v.kubectl(),
            v.workload_arg
        ),
        format!(
            "{} top pod {} --containers   # compare real usage with the limit; look for a leak if it grows",
            v.kubectl(),
            v.name
        ),
    ]
}

fn probe_fix(v: &PodView<'_, '_>, c: &str, spec: Option<&Container>) -> Vec<String> {
    let target = spec
        .and_then(|s| s.liveness_probe.as_ref())
        .map(|p| {
            if let Some(h) = &p.http_get {
                format!(
                    "wget -qO- -T 2 http://127.0.0.1:{}{}",
                    port_text(&h.port),
                    h.path.as_deref().unwrap_or("/")
                )
            } else if let Some(t) = &p.tcp_socket {
                format!("nc -zv -w 2 127.0.0.1 {}", port_text(&t.port))
            } else {
                "<the probe's command>".to_string()
            }
        })
        .unwrap_or_else(|| "<the probe's check>".to_string());
    vec![
        format!(
            "{} exec {} -c {c} -- {target}   # does the endpoint answer in time?",
            v.kubectl(),
            v.name
        ),
        format!(
            "{} edit {}   # raise livenessProbe timeoutSeconds/failureThreshold, or make the endpoint independent of downstream services",
            v.kubectl(),
            v.workload_arg
        ),
    ]
}

fn port_text(p: &kubemedic_model::objects::IntOrString) -> String {
    match p {
        kubemedic_model::objects::IntOrString::Int(i) => i.to_string(),
        kubemedic_model::objects::IntOrString::String(s) => s.clone(),
    }
}

fn panic_fix(v: &PodView<'_, '_>, c: &str) -> Vec<String> {
    vec![
        format!(
            "{} logs {} -c {c} --previous | grep -A30 -E 'panic:|Traceback|Exception|SIGSEGV'   # the stack trace for the developers",
            v.kubectl(),
            v.name
        ),
        format!(
            "{} rollout undo {}   # if a new version introduced the crash",
            v.kubectl(),
            v.workload_arg
        ),
    ]
}

fn command_fix(v: &PodView<'_, '_>, c: &str) -> Vec<String> {
    let image = v
        .container_spec(c)
        .and_then(|s| s.image.as_deref())
        .unwrap_or("IMAGE");
    vec![
        format!(
            "{} get {} -o jsonpath='{{.spec.template.spec.containers[?(@.name==\"{c}\")].command}}'",
            v.kubectl(),
            v.workload_arg
        ),
        format!(
            "docker run --rm --entrypoint sh {image} -c 'ls -l <command>; command -v <command>'   # exists? executable? right architecture?"
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Verdicts from messages (image pulls, sandboxes, create/start errors).

/// Turns a classified message into a candidate, with remediation filled in.
fn verdict_cand(v: &PodView<'_, '_>, (cause, conf): Verdict, container: &str, msg: &str) -> Cand {
    let node = v.node.unwrap_or("NODE");
    let k = v.kubectl();
    let (summary, fix): (String, Vec<String>) = match cause {
        Cause::MissingConfigOrSecret => {
            let what = classify::missing_object(msg).unwrap_or_else(|| "a referenced ConfigMap/Secret or key".to_string());
            (format!("container {container} cannot start: {what} does not exist"), vec![
                format!("{k} get configmaps,secrets   # is it in namespace {}?", v.ns),
                format!("{k} create configmap <name> --from-file=...   # or fix the reference in {}", v.workload_arg),
            ])
        }
        Cause::NodeDiskFull => (format!("node {node} has no space left on device; pod {} cannot be created", v.name), vec![
            format!("ssh {node} 'df -h /var/lib/docker /var/lib/containerd /var/lib/kubelet'"),
            format!("ssh {node} 'crictl rmi --prune || docker image prune -a -f'"),
        ]),
        Cause::SubPathMountStale => (format!("container {container} cannot restart: its subPath mount of a changed ConfigMap/Secret is stale"), vec![
            format!("{k} delete pod {}   # a new pod gets fresh mounts", v.name),
            "Mount the ConfigMap/Secret as a directory instead of subPath to receive updates".to_string(),
        ]),
        Cause::ContainerNameConflict => (format!("pod {}: a stale container holds the name the runtime needs", v.name), vec![
            format!("ssh {node} 'docker ps -a | grep {}'   # then docker rm -f <id> (or crictl rm)", v.name),
        ]),
        Cause::RuntimeVersionConflict => (format!("pod {}: containerd shim connections drop (ttrpc); two runtime installs on node {node}?", v.name), vec![
            format!("ssh {node} 'which -a containerd containerd-shim runc docker; systemctl list-units | grep -E \"containerd|docker\"'"),
        ]),
        Cause::MemoryFragmentation => (format!("pod {}: the kernel on node {node} cannot allocate memory for the sandbox (fragmentation)", v.name), vec![
            format!("ssh {node} 'cat /proc/buddyinfo; echo 1 > /proc/sys/vm/compact_memory'"),
        ]),
        Cause::MemoryLimitTooLow => (format!("container {container}: the sandbox/init process is killed at start; memory limit too low"), vec![
            format!("{k} set resources {} -c {container} --limits=memory=256Mi   # write Mi, not m", v.workload_arg),
        ]),
        Cause::CNIFailure => (format!("pod {}: the network plugin on node {node} cannot set up the pod network", v.name), vec![
            format!("kubectl -n kube-system get pods -o wide --field-selector spec.nodeName={node}   # the CNI pod (calico/flannel/cilium...)"),
            format!("kubectl -n kube-system delete pod <cni-pod-on-{node}>   # resets routes and iptables; then restart the runtime if it persists"),
        ]),
        Cause::VolumeAttachFailure => (format!("pod {}: a volume cannot attach or mount", v.name), vec![
            format!("{k} describe pod {} | grep -A5 -E 'FailedMount|FailedAttachVolume'", v.name),
            "kubectl get volumeattachments | grep <pv>   # still attached to another node after the pod moved?".to_string(),
        ]),
        Cause::RuntimeUnresponsive => (format!("pod {}: CRI calls to the runtime on node {node} time out", v.name), vec![
            format!("ssh {node} 'systemctl status containerd docker; crictl ps | head'"),
            format!("ssh {node} 'systemctl restart containerd || systemctl restart docker'"),
        ]),
        Cause::CommandNotFound | Cause::CommandNotExecutable => (format!("container {container}: {}", if cause == Cause::CommandNotFound { "the command does not exist in the image" } else { "the command cannot be executed" }), command_fix(v, container)),
        other => (format!("pod {}: {}", v.name, catalog::info(other).map_or("", |i| i.title)), Vec::new()),
    };
    let mut cand = Cand::new(cause, Severity::Critical, conf, summary);
    cand.evidence.push(Evidence::new("message", clip(msg)));
    cand.remediation = fix;
    if matches!(
        cause,
        Cause::NodeDiskFull
            | Cause::MemoryFragmentation
            | Cause::RuntimeVersionConflict
            | Cause::RuntimeUnresponsive
            | Cause::CNIFailure
    ) {
        cand.caused_by = v.node_ref();
    }
    cand
}

fn image(
    v: &PodView<'_, '_>,
    cs: &ContainerStatus,
    reason: &str,
    wmsg: &str,
    waiting_ev: Option<Evidence>,
    cands: &mut Vec<Cand>,
) {
    let c = cs.name.as_str();
    let image = v
        .container_spec(c)
        .and_then(|s| s.image.as_deref())
        .unwrap_or(&cs.image)
        .to_string();
    // The waiting message says "Back-off pulling image"; the Failed events carry the reason.
    let mut best: Option<(Verdict, Evidence)> = None;
    let mut consider = |verdict: Option<Verdict>, ev: Evidence| {
        if let Some(vd) = verdict
            && best.as_ref().is_none_or(|(b, _)| vd.1 > b.1)
        {
            best = Some((vd, ev));
        }
    };
    if reason == "InvalidImageName" {
        consider(
            Some((Cause::InvalidImageName, 0.95)),
            waiting_ev
                .clone()
                .unwrap_or_else(|| Evidence::new("pod status", reason)),
        );
    }
    if reason == "RegistryUnavailable" {
        consider(
            Some((Cause::RegistryUnreachable, 0.8)),
            waiting_ev
                .clone()
                .unwrap_or_else(|| Evidence::new("pod status", reason)),
        );
    }
    consider(
        classify::image_pull(wmsg),
        waiting_ev
            .clone()
            .unwrap_or_else(|| Evidence::new("pod status", wmsg)),
    );
    for e in v.events.iter().filter(|e| for_container(e, c)) {
        let m = e.message.as_deref().unwrap_or("");
        if m.contains("pull")
            || m.contains("image")
            || m.contains("Pull")
            || e.reason.as_deref() == Some("Failed")
        {
            consider(classify::image_pull(m), event_evidence(e));
        }
    }
    // Many pods pulling at once on this node points at a pull queue.
    let (verdict, ev) = best.unwrap_or((
        (Cause::ImagePullFailure, 0.5),
        waiting_ev
            .clone()
            .unwrap_or_else(|| Evidence::new("pod status", reason)),
    ));
    // The message names the image actually pulled (init containers, mutated specs).
    let image = classify::image_in(&ev.text).unwrap_or(image);
    let k = v.kubectl();
    let registry = match image.split_once('/') {
        Some((host, _)) if host.contains('.') || host.contains(':') || host == "localhost" => host,
        _ => "docker.io",
    }
    .to_string();
    // Many pods pulling at once on one node queue behind each other (serial pulls).
    let pulling_here = v
        .node
        .and_then(|n| v.ctx.pods_by_node.get(n))
        .map_or(0, |pods| {
            pods.iter()
                .filter(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| {
                                c.state
                                    .as_ref()
                                    .and_then(|s| s.waiting.as_ref())
                                    .is_some_and(|w| {
                                        matches!(
                                            w.reason.as_deref(),
                                            Some(
                                                "ErrImagePull"
                                                    | "ImagePullBackOff"
                                                    | "ContainerCreating"
                                            )
                                        )
                                    })
                            })
                        })
                })
                .count()
        });
    let node = v.node.unwrap_or("NODE");
    let (summary, fix): (String, Vec<String>) = match verdict.0 {
        Cause::ImageNotFound => (format!("image {image} does not exist (wrong name or tag)"), vec![
            format!("{k} set image {} {c}=<existing image:tag>", v.workload_arg),
            {
                // Without the tag or digest; a registry port (host:5000/x) is not a tag.
                let repo = image.split('@').next().unwrap_or(image.as_str());
                let repo = match repo.rsplit_once(':') {
                    Some((r, tag)) if !tag.contains('/') => r,
                    _ => repo,
                };
                format!("crane ls {repo}   # the tags that exist; or: skopeo list-tags docker://{repo}")
            },
        ]),
        Cause::RegistryAuthFailure => (format!("registry {registry} refuses to serve {image} without valid credentials"), vec![
            format!("{k} create secret docker-registry regcred --docker-server={registry} --docker-username=<user> --docker-password=<password>"),
            format!("{k} patch {} --type=merge -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"imagePullSecrets\":[{{\"name\":\"regcred\"}}]}}}}}}}}'", v.workload_arg),
        ]),
        Cause::InsecureRegistry => (format!("registry {registry} speaks HTTP but the runtime on {node} expects HTTPS"), vec![
            format!("Docker: add \"{registry}\" to insecure-registries in /etc/docker/daemon.json on every node, then systemctl restart docker"),
            format!("containerd: /etc/containerd/certs.d/{registry}/hosts.toml with server = \"http://{registry}\", then systemctl restart containerd"),
        ]),
        Cause::RegistryCertUntrusted => (format!("the certificate of registry {registry} is not trusted by node {node}"), vec![
            format!("Copy the registry CA to /etc/docker/certs.d/{registry}/ca.crt (Docker) or /etc/containerd/certs.d/{registry}/ca.crt (containerd) on every node"),
        ]),
        Cause::ImagePullTimeout => (format!("pulling {image} times out on node {node}"), vec![
            format!("ssh {node} 'time crictl pull {image}'   # how slow is it from the node?"),
            "Use a registry mirror near the nodes; set serializeImagePulls: false in the kubelet config; pre-pull big images".to_string(),
        ]),
        Cause::RegistryUnreachable => (format!("registry {registry} cannot be reached from node {node}"), vec![
            format!("ssh {node} 'nslookup {registry}; curl -sv https://{registry}/v2/ -o /dev/null'"),
            "Check the runtime's proxy settings (HTTPS_PROXY in the containerd/docker unit) and firewalls".to_string(),
        ]),
        Cause::InvalidImageName => (format!("image reference {image:?} cannot be parsed"), vec![
            format!("{k} set image {} {c}=<registry/repository:tag>   # lower-case repository, one tag or @sha256 digest", v.workload_arg),
        ]),
        _ => (format!("pulling image {image} fails ({reason})"), vec![
            format!("ssh {node} 'crictl pull {image} || docker pull {image}'   # read the runtime's own error"),
        ]),
    };
    let mut cand = Cand::new(
        verdict.0,
        Severity::Critical,
        verdict.1,
        format!("container {c}: {summary}"),
    );
    cand.evidence.push(ev);
    if let Some(w) = waiting_ev
        && !cand.evidence.contains(&w)
    {
        cand.evidence.push(w);
    }
    if verdict.0 == Cause::ImagePullTimeout && pulling_here >= 5 {
        cand.evidence.push(Evidence::new(
            "pods",
            format!("{pulling_here} pods on node {node} are waiting for images at the same time"),
        ));
    }
    cand.remediation = fix;
    cands.push(cand);
}

// ---------------------------------------------------------------------------------------------
// Pod-level events: sandbox creation, mounts, probes without terminations.

const SANDBOX_REASONS: &[&str] = &[
    "FailedCreatePodSandBox",
    "FailedMount",
    "FailedAttachVolume",
    "FailedSync",
    "FailedKillPod",
    "FailedCreatePodContainer",
    "Failed",
    "FailedPreStopHook",
    "FailedPostStartHook",
    "NetworkNotReady",
];

fn pod_events(v: &PodView<'_, '_>, cands: &mut Vec<Cand>) {
    let mut seen: Vec<Cause> = cands.iter().map(|c| c.cause).collect();
    for e in v.events {
        let reason = e.reason.as_deref().unwrap_or("");
        if !SANDBOX_REASONS.contains(&reason) {
            continue;
        }
        let msg = e.message.as_deref().unwrap_or("");
        // Image pull failures were handled with the container's waiting state.
        if reason == "Failed" && (msg.contains("pull") || msg.contains("image")) {
            continue;
        }
        let Some(mut verdict) = classify::sandbox(msg) else {
            continue;
        };
        if seen.contains(&verdict.0) {
            continue;
        }
        // signal: killed at sandbox start is a too-small limit when the spec says so.
        if verdict.0 == Cause::MemoryLimitTooLow && tiny_limit(v).is_some() {
            verdict.1 = 0.9;
        }
        let mut cand = verdict_cand(v, verdict, container_of_event(e).unwrap_or("POD"), msg);
        cand.evidence = vec![event_evidence(e)];
        // The node's own evidence for the same cause (kernel page allocation failures, a full
        // runtime disk) confirms the pod's reading of its event.
        if let (Some(ns), Some(node)) = (v.node_state, v.node)
            && let Some((_, node_conf)) = ns.causes.iter().find(|(c, _)| *c == verdict.0)
        {
            cand.confidence = cand.confidence.max(*node_conf);
            cand.evidence.push(Evidence::new(
                "node",
                format!(
                    "node {node} has {} too (confidence {node_conf:.2})",
                    verdict.0
                ),
            ));
            cand.caused_by = v.node_ref();
        }
        // A sandbox timeout or disk error on a node with a known root cause points to the node.
        if let Some(ns) = v.node_state
            && let Some((node_cause, node_conf)) = ns.primary()
            && matches!(
                verdict.0,
                Cause::RuntimeUnresponsive
                    | Cause::NodeDiskFull
                    | Cause::MemoryFragmentation
                    | Cause::CNIFailure
            )
            && matches!(
                node_cause,
                Cause::IptablesLockContention
                    | Cause::NodeDiskFull
                    | Cause::MemoryFragmentation
                    | Cause::RuntimeUnresponsive
                    | Cause::KernelDeadlock
            )
            && node_cause != verdict.0
        {
            let node = v.node.unwrap_or("?");
            let mut nc = Cand::new(
                node_cause,
                Severity::Critical,
                node_conf.max(verdict.1) + 0.01,
                format!(
                    "pod {} cannot be created because node {node} has {node_cause} (see the node's finding)",
                    v.name
                ),
            );
            nc.evidence = vec![
                event_evidence(e),
                Evidence::new(
                    "node",
                    format!("node {node}: {node_cause} (confidence {node_conf:.2})"),
                ),
            ];
            nc.remediation = vec![format!("kubemedic diagnose node/{node}")];
            nc.caused_by = v.node_ref();
            seen.push(node_cause);
            // The pod's own reading (a CRI timeout) is the node cause's consequence: its event
            // is already quoted, so it is not reported as a competing cause.
            seen.push(verdict.0);
            cands.push(nc);
            continue;
        }
        seen.push(verdict.0);
        cands.push(cand);
    }
    // Sandbox restarts over and over without other errors: runtimes fighting.
    if let Some(e) = v
        .events
        .iter()
        .find(|e| e.reason.as_deref() == Some("SandboxChanged") && event_count(e) >= 5)
        && !seen.contains(&Cause::RuntimeVersionConflict)
    {
        let mut cand = verdict_cand(
            v,
            (Cause::RuntimeVersionConflict, 0.45),
            "POD",
            e.message.as_deref().unwrap_or(""),
        );
        cand.evidence = vec![event_evidence(e)];
        cands.push(cand);
    }
    // Probe failures while the container has not terminated yet (or no status recorded), and
    // readiness probes that never succeed.
    if !cands
        .iter()
        .any(|c| matches!(c.cause, Cause::LivenessProbeFailure | Cause::ProbeTooEarly))
        && let Some(spec) = v.spec
    {
        for cont in &spec.containers {
            let live = liveness_events(v, &cont.name);
            if live.iter().any(|e| {
                e.message
                    .as_deref()
                    .unwrap_or("")
                    .contains("failed liveness probe")
                    || event_count(e) >= 3
            }) {
                let why = probe_why(
                    v,
                    &cont.name,
                    Some(cont),
                    classify::ProbeKind::Liveness,
                    &live,
                );
                let mut cand = Cand::new(
                    Cause::LivenessProbeFailure,
                    Severity::Warning,
                    0.7,
                    format!(
                        "container {}: liveness probe keeps failing: {}",
                        cont.name, why.text
                    ),
                );
                cand.evidence = live.iter().take(2).map(|e| event_evidence(e)).collect();
                cand.evidence.extend(why.evidence);
                cand.remediation = why.fix;
                cand.remediation
                    .extend(probe_fix(v, &cont.name, Some(cont)));
                cands.push(cand);
                continue;
            }
            let ready = readiness_events(v, &cont.name);
            let not_ready = v
                .pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.name == cont.name))
                .is_some_and(|cs| !cs.ready);
            let failures: i32 = ready.iter().map(|e| event_count(e)).sum();
            if not_ready && failures >= 3 {
                let why = probe_why(
                    v,
                    &cont.name,
                    Some(cont),
                    classify::ProbeKind::Readiness,
                    &ready,
                );
                let mut cand = Cand::new(
                    Cause::LivenessProbeFailure,
                    Severity::Warning,
                    if why.named { 0.8 } else { 0.7 },
                    format!(
                        "container {}: its readiness probe keeps failing ({failures} failures), so the pod gets no Service traffic: {}",
                        cont.name, why.text
                    ),
                );
                cand.evidence = ready.iter().take(2).map(|e| event_evidence(e)).collect();
                cand.evidence.extend(why.evidence);
                cand.remediation = why.fix;
                cands.push(cand);
            }
        }
    }
}

/// A container whose memory limit cannot work: written with `m` or below a few MiB.
fn tiny_limit<'a>(v: &PodView<'a, '_>) -> Option<(&'a str, &'a str, f64)> {
    let spec = v.spec?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find_map(|c| {
            let q = c.resources.as_ref()?.limits.as_ref()?.get("memory")?;
            let bytes = quantity_bytes(&q.0)?;
            (q.0.trim_end().ends_with('m') || bytes < MIN_MEMORY_BYTES).then_some((
                c.name.as_str(),
                q.0.as_str(),
                bytes,
            ))
        })
}

fn memory_limits(v: &PodView<'_, '_>, cands: &mut Vec<Cand>) {
    let Some((c, q, bytes)) = tiny_limit(v) else {
        return;
    };
    let milli = q.trim_end().ends_with('m');
    let intended = if milli {
        format!("{}Mi", q.trim_end().trim_end_matches('m'))
    } else {
        "256Mi".to_string()
    };
    let mut cand = Cand::new(
        Cause::MemoryLimitTooLow,
        Severity::Critical,
        if milli { 0.9 } else { 0.8 },
        format!(
            "container {c}: memory limit {q} is {} bytes{}; nothing can start under it",
            if bytes < 10.0 {
                format!("{bytes:.3}")
            } else {
                format!("{bytes:.0}")
            },
            if milli {
                " (`m` means milli: Mi was meant)"
            } else {
                ""
            }
        ),
    );
    cand.evidence.push(Evidence::new(
        "spec",
        format!("container {c}: resources.limits.memory: {q}"),
    ));
    for e in v
        .events
        .iter()
        .filter(|e| {
            e.message.as_deref().is_some_and(|m| {
                m.contains("signal: killed") || m.contains("OOM") || m.contains("memory")
            })
        })
        .take(2)
    {
        cand.evidence.push(event_evidence(e));
    }
    cand.remediation = vec![format!(
        "{} set resources {} -c {c} --limits=memory={intended}",
        v.kubectl(),
        v.workload_arg
    )];
    cands.push(cand);
}

/// A pod stuck without progress for this long with nothing recognisable gets a low-confidence finding.
const STUCK_SECS: i64 = 300;

/// Never silent on a broken pod: when nothing collected names a cause, the most likely one at an
/// honest confidence, with the evidence that is missing and how to get it.
fn never_silent(v: &PodView<'_, '_>, cands: &mut Vec<Cand>) {
    let Some(status) = v.pod.status.as_ref() else {
        return;
    };
    let statuses: Vec<_> = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .collect();
    let waiting = |reasons: &[&str]| {
        statuses.iter().find(|cs| {
            cs.state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .is_some_and(|r| reasons.contains(&r))
        })
    };
    // Recent activity (Scheduled, Pulling...) means it is still progressing.
    let last_event = v
        .events
        .iter()
        .filter_map(|e| v.ctx.age_secs(crate::index::event_time(e)))
        .min();
    let age = v
        .ctx
        .age_secs(v.pod.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let stuck = last_event.is_none_or(|a| a >= STUCK_SECS) && age.is_none_or(|a| a >= STUCK_SECS);
    let node = v.node.unwrap_or("NODE");
    let node_logs = v.node.is_some_and(|n| v.ctx.snap.node_logs.contains_key(n));
    let events_txt = if v.events.is_empty() {
        "the pod's events (expired after an hour, or not collected)"
    } else {
        "an event that names the cause"
    };
    let missing = |extra: &str| {
        let mut parts = vec![events_txt.to_string()];
        if !node_logs {
            parts.push(format!(
                "node {node}'s kubelet and runtime logs (not collected)"
            ));
        }
        if !extra.is_empty() {
            parts.push(extra.to_string());
        }
        parts.join(", ")
    };
    let collect_fix = "kubemedic collect DIR   # with the kubemedic agent DaemonSet on the nodes, node logs come along; then kubemedic diagnose --dump DIR".to_string();
    if let Some(cs) = waiting(&["ContainerCreating", "PodInitializing"]) {
        if !stuck {
            return;
        }
        let pvc = v
            .spec
            .and_then(|s| s.volumes.as_ref())
            .is_some_and(|vols| vols.iter().any(|vol| vol.persistent_volume_claim.is_some()));
        let (cause, layer) = if pvc {
            (
                Cause::VolumeAttachFailure,
                "its PersistentVolumeClaim cannot attach or mount",
            )
        } else {
            (Cause::CNIFailure, "the sandbox's network cannot be set up")
        };
        let mut cand = Cand::new(
            cause,
            Severity::Warning,
            0.3,
            format!(
                "pod {} has been ContainerCreating for {} and nothing collected says why; most likely {layer} (evidence missing: {})",
                v.name,
                age.map_or("a while".to_string(), human_secs),
                missing("")
            ),
        );
        cand.evidence.push(Evidence::new(
            "pod status",
            format!(
                "container {}: waiting reason=ContainerCreating, no recent event",
                cs.name
            ),
        ));
        cand.remediation = vec![
            format!(
                "{} describe pod {}   # FailedMount, FailedCreatePodSandBox or Pulling events name the layer",
                v.kubectl(),
                v.name
            ),
            format!(
                "ssh {node} 'journalctl -u kubelet --since -1h | grep {}'",
                v.name
            ),
            collect_fix,
        ];
        cand.caused_by = if cause == Cause::CNIFailure {
            v.node_ref()
        } else {
            None
        };
        cands.push(cand);
        return;
    }
    if let Some(cs) = waiting(&["CrashLoopBackOff", "Error"]) {
        let c = cs.name.as_str();
        let mut cand = Cand::new(
            Cause::AppError,
            Severity::Warning,
            0.3,
            format!(
                "container {c} keeps crashing ({} restarts) but its exit code and logs were not collected (evidence missing: the last termination state, the previous instance's logs)",
                cs.restart_count
            ),
        );
        cand.evidence.push(Evidence::new(
            "pod status",
            format!(
                "container {c}: waiting reason=CrashLoopBackOff restartCount={}, no lastState",
                cs.restart_count
            ),
        ));
        cand.remediation = vec![
            format!(
                "{} logs {} -c {c} --previous --tail=50   # why the previous instance exited",
                v.kubectl(),
                v.name
            ),
            format!(
                "{} get pod {} -o jsonpath='{{.status.containerStatuses[?(@.name==\"{c}\")].lastState}}'",
                v.kubectl(),
                v.name
            ),
            collect_fix,
        ];
        cands.push(cand);
    }
}

/// A pod that is not healthy on a node that is not healthy, with nothing of its own.
fn from_node(v: &PodView<'_, '_>, cands: &mut Vec<Cand>) {
    let (Some(ns), Some(node)) = (v.node_state, v.node) else {
        return;
    };
    if !matches!(ns.readiness, Some(Readiness::NotReady | Readiness::Unknown)) {
        return;
    }
    let Some((cause, conf)) = ns.primary() else {
        return;
    };
    let mut cand = Cand::new(
        cause,
        Severity::Warning,
        conf * 0.9,
        format!(
            "pod {} is not ready because its node {node} has {cause}",
            v.name
        ),
    );
    cand.evidence.push(Evidence::new(
        "node",
        format!(
            "node {node}: {cause} (confidence {conf:.2}), Ready={:?}",
            ns.readiness.unwrap_or(Readiness::Missing)
        ),
    ));
    cand.remediation = vec![format!("kubemedic diagnose node/{node}")];
    cand.caused_by = Some(ObjectRef::node(node));
    cands.push(cand);
}

// ---------------------------------------------------------------------------------------------
// Pending, terminating, evicted.

fn pending(v: &PodView<'_, '_>, cands: &mut Vec<Cand>) {
    let age = v
        .ctx
        .age_secs(v.pod.metadata.creation_timestamp.as_ref().map(|t| t.0));
    if age.is_some_and(|a| a < PENDING_GRACE_SECS) {
        return;
    }
    let cond = pod_conditions(v.pod)
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False");
    let sched_events: Vec<&Event> = v
        .events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .copied()
        .collect();
    let parsed = sched_events
        .iter()
        .find_map(|e| {
            classify::scheduling(e.message.as_deref().unwrap_or("")).map(|m| (m, event_evidence(e)))
        })
        .or_else(|| {
            let c = cond?;
            let m = c.message.as_deref()?;
            classify::scheduling(m).map(|p| {
                (
                    p,
                    Evidence::new(
                        "pod status",
                        format!(
                            "PodScheduled=False reason={} message={}",
                            c.reason.as_deref().unwrap_or(""),
                            clip(m)
                        ),
                    ),
                )
            })
        });
    let cluster_nodes = u32::try_from(v.ctx.snap.nodes.len())
        .ok()
        .filter(|n| *n > 0);
    if let Some((msg, ev)) = parsed {
        let Some((cause, count, weight)) = msg.root(cluster_nodes) else {
            return;
        };
        let total = msg.total(cluster_nodes);
        // The scheduler writes "3 node(s) didn't match …" for some reasons and "Insufficient
        // memory" for others; the node count is said once, in `weighed`.
        let main: Vec<&str> = msg
            .parts
            .iter()
            .filter(|p| p.cause == Some(cause))
            .map(|p| p.text.strip_prefix("node(s) ").unwrap_or(&p.text))
            .collect();
        let others: u32 = msg
            .parts
            .iter()
            .filter(|p| p.cause.is_some_and(|c| c != cause))
            .map(|p| p.count)
            .sum();
        let nodes = |n: u32| crate::util::count(n as usize, "node", "nodes");
        let weighed = match weight {
            classify::SchedWeight::AllNodes if total > 0 => " on every node".to_string(),
            classify::SchedWeight::AllowedNodes if others > 0 => format!(
                " on the {} its placement allows; the other {others} are excluded by its own selector or taints",
                nodes(count)
            ),
            _ if total > 0 => format!(" on {count} of {}", nodes(total)),
            _ => String::new(),
        };
        let mut cand = Cand::new(
            cause,
            Severity::Critical,
            0.9,
            format!(
                "pod {} cannot be scheduled{}: {}{weighed}",
                v.name,
                msg.nodes
                    .map_or(String::new(), |n| format!(" (0/{n} nodes available)")),
                main.join(", ")
            ),
        );
        cand.evidence.push(ev);
        for p in msg.parts.iter().filter(|p| p.cause != Some(cause)) {
            cand.evidence.push(Evidence::new(
                "scheduler",
                format!("also: {}", sched_part(p)),
            ));
        }
        cand.remediation = scheduling_fix(v, cause, &mut cand.evidence);
        // One hop further: the claim's own events say why it is not bound.
        if cause == Cause::UnboundPVC
            && let Some((why, evs)) = pvc_reason(v)
        {
            cand.summary = format!(
                "pod {} cannot be scheduled: its claim is not bound: {why}",
                v.name
            );
            cand.evidence.splice(0..0, evs);
        }
        cands.push(cand);
        return;
    }
    if let Some(e) = sched_events.first() {
        // A scheduler spoke, in words kubemedic does not know: never silent.
        let mut cand = Cand::new(
            Cause::InsufficientResources,
            Severity::Warning,
            0.3,
            format!(
                "pod {} cannot be scheduled and the scheduler's reason is not one kubemedic knows (quoted as evidence); capacity is the most common reason",
                v.name
            ),
        );
        cand.evidence.push(event_evidence(e));
        cand.remediation = vec![
            format!(
                "{} describe pod {}   # the scheduler's full reason",
                v.kubectl(),
                v.name
            ),
            "kubectl get events -A --field-selector reason=FailedScheduling | tail".to_string(),
        ];
        cands.push(cand);
        return;
    }
    if cond.is_some_and(|c| c.message.is_some()) {
        return; // the condition carries a message we do not know; the events above would say more
    }
    if age.is_some_and(|a| a < SCHEDULER_SILENT_SECS) {
        return;
    }
    let scheduler = v
        .spec
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or("default-scheduler");
    let custom = scheduler != "default-scheduler";
    let conf = if custom {
        0.85
    } else if v.ctx.scheduler_seen {
        0.5
    } else if v.ctx.has_events {
        0.8
    } else {
        0.6
    };
    let mut cand = Cand::new(
        Cause::SchedulerUnavailable,
        Severity::Critical,
        conf,
        format!(
            "pod {} has been Pending without a node for {} and no scheduler has looked at it{}",
            v.name,
            age.map_or("a long time".to_string(), human_secs),
            if custom {
                format!(" (schedulerName {scheduler})")
            } else {
                String::new()
            }
        ),
    );
    cand.evidence.push(Evidence::new(
        "pod status",
        format!(
            "phase=Pending nodeName unset, created {} ago, schedulerName={scheduler}",
            age.map_or("?".to_string(), human_secs)
        ),
    ));
    cand.evidence.push(Evidence::new(
        "events",
        if v.ctx.scheduler_seen {
            "no FailedScheduling/Scheduled event for this pod (other pods do get them)".to_string()
        } else {
            "no FailedScheduling/Scheduled events in the whole snapshot".to_string()
        },
    ));
    cand.remediation = vec![
        "kubectl -n kube-system get pods -l component=kube-scheduler -o wide; kubectl get --raw /livez".to_string(),
        format!("{} get pod {} -o jsonpath='{{.spec.schedulerName}}'   # does a scheduler with this name run?", v.kubectl(), v.name),
    ];
    cands.push(cand);
}

/// Why the pod's claim is not bound, from the claim's own events (ProvisioningFailed,
/// FailedBinding, ExternalProvisioning): the message and the evidence lines.
fn pvc_reason(v: &PodView<'_, '_>) -> Option<(String, Vec<Evidence>)> {
    let claims = v
        .spec
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|vol| {
            vol.persistent_volume_claim
                .as_ref()
                .map(|p| p.claim_name.as_str())
        });
    for claim in claims {
        let events = v.ctx.events("PersistentVolumeClaim", v.ns, claim);
        let best = events
            .iter()
            .find(|e| e.reason.as_deref() == Some("ProvisioningFailed"))
            .or_else(|| {
                events
                    .iter()
                    .find(|e| e.reason.as_deref() == Some("FailedBinding"))
            })
            .or_else(|| events.first());
        if let Some(e) = best {
            let mut ev = event_evidence(e);
            ev.source = format!("pvc {claim}: {}", ev.source);
            let msg = clip(e.message.as_deref().unwrap_or(""));
            return Some((format!("PVC {claim}: {msg}"), vec![ev]));
        }
    }
    None
}

/// One reason of a scheduling failure in plain words: the scheduler writes "3 node(s) didn't
/// match …" for some reasons and "4 Insufficient memory" for others.
fn sched_part(p: &crate::classify::SchedPart) -> String {
    let nodes = crate::util::count(p.count as usize, "node", "nodes");
    match p.text.strip_prefix("node(s) ") {
        // A reason that counts for every node ("pod has unbound immediate ...").
        _ if p.count == 0 => p.text.clone(),
        Some(rest) => format!("{nodes} {rest}"),
        None => format!("{} on {nodes}", p.text),
    }
}

fn scheduling_fix(v: &PodView<'_, '_>, cause: Cause, evidence: &mut Vec<Evidence>) -> Vec<String> {
    let k = v.kubectl();
    match cause {
        Cause::InsufficientResources => vec![
            format!("{k} get pod {} -o jsonpath='{{.spec.containers[*].resources.requests}}'   # what it asks for", v.name),
            "kubectl describe nodes | grep -A8 'Allocated resources'   # what is left".to_string(),
            format!("{k} set resources {} --requests=cpu=<less>,memory=<less>   # or add nodes", v.workload_arg),
        ],
        Cause::NodeSelectorMismatch => {
            if let Some(sel) = v.spec.and_then(|s| s.node_selector.as_ref()) {
                let s: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                evidence.push(Evidence::new("spec", format!("nodeSelector: {}", s.join(","))));
                vec![
                    format!("kubectl get nodes -l {}   # which nodes carry these labels (none)", s.join(",")),
                    format!("kubectl label node <node> {}   # or fix the selector in {}", s.join(" "), v.workload_arg),
                ]
            } else {
                vec![
                    "kubectl get nodes --show-labels".to_string(),
                    format!("{k} get {} -o yaml | grep -A15 nodeAffinity   # fix the required node affinity", v.workload_arg),
                ]
            }
        }
        Cause::UntoleratedTaint => vec![
            "kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints".to_string(),
            format!("kubectl taint node <node> <key>-   # or add a matching toleration to {}", v.workload_arg),
        ],
        Cause::VolumeZoneConflict => vec![
            format!("{k} get pvc -o wide; kubectl get pv -o custom-columns=NAME:.metadata.name,AFFINITY:.spec.nodeAffinity"),
            "Add schedulable nodes in the volume's zone, or use a StorageClass with volumeBindingMode: WaitForFirstConsumer".to_string(),
        ],
        Cause::UnboundPVC => {
            let claims: Vec<&str> = v.spec.and_then(|s| s.volumes.as_ref()).into_iter().flatten().filter_map(|vol| vol.persistent_volume_claim.as_ref().map(|p| p.claim_name.as_str())).collect();
            for claim in &claims {
                if let Some(pvc) = v.ctx.snap.persistent_volume_claims.iter().find(|p| p.metadata.namespace.as_deref() == Some(v.ns) && p.metadata.name.as_deref() == Some(claim)) {
                    let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("?");
                    let sc = pvc.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("(default)");
                    evidence.push(Evidence::new("pvc", format!("{claim}: phase={phase} storageClassName={sc}")));
                }
            }
            vec![
                format!("{k} describe pvc {}   # provisioner running? StorageClass exists? matching PV?", claims.first().copied().unwrap_or("<claim>")),
                "kubectl get storageclass".to_string(),
            ]
        }
        Cause::PodAffinityConflict => vec![
            format!("{k} get {} -o yaml | grep -B2 -A15 podAntiAffinity", v.workload_arg),
            "Use preferredDuringSchedulingIgnoredDuringExecution, add nodes, or lower replicas".to_string(),
        ],
        _ => Vec::new(),
    }
}

fn terminating(v: &PodView<'_, '_>, cands: &mut Vec<Cand>) {
    let meta = &v.pod.metadata;
    let deleted = meta.deletion_timestamp.as_ref().map(|t| t.0);
    let grace = meta
        .deletion_grace_period_seconds
        .or(v.spec.and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30);
    // deletionTimestamp is already "now + grace" when set.
    let overdue = v.ctx.age_secs(deleted);
    if overdue.is_some_and(|o| o < TERMINATING_SLACK_SECS) {
        return;
    }
    let stuck_for = overdue.map_or("a while".to_string(), |o| human_secs(o + grace));
    let del_ev = Evidence::new(
        "pod status",
        format!(
            "deletionTimestamp={} (Terminating for {stuck_for}), finalizers={:?}",
            ts(deleted),
            meta.finalizers.as_deref().unwrap_or(&[])
        ),
    );
    let k = v.kubectl();
    let node = v.node.unwrap_or("?");
    let node_missing = v.node.is_some() && !v.ctx.nodes.contains_key(node);
    let node_down = v
        .node_state
        .is_some_and(|ns| matches!(ns.readiness, Some(Readiness::NotReady | Readiness::Unknown)));
    if node_down || node_missing {
        let mut cand = Cand::new(
            Cause::NodeLost,
            Severity::Critical,
            if node_missing { 0.75 } else { 0.9 },
            format!(
                "pod {} is stuck Terminating: its node {node} is {} so nothing confirms the deletion",
                v.name,
                if node_missing { "gone" } else { "not ready" }
            ),
        );
        cand.evidence.push(del_ev.clone());
        if let Some(ns) = v.node_state {
            cand.evidence.push(Evidence::new(
                "node",
                format!(
                    "node {node}: Ready={:?}{}",
                    ns.readiness.unwrap_or(Readiness::Missing),
                    ns.primary()
                        .map_or(String::new(), |(c, _)| format!(", {c}"))
                ),
            ));
        }
        cand.remediation = vec![
            format!(
                "kubemedic diagnose node/{node}   # bring the node back, or if it is gone for good:"
            ),
            format!("kubectl delete node {node}   # its pods are then removed"),
            format!(
                "{k} delete pod {} --grace-period=0 --force   # only if the node is really dead (no two copies of a StatefulSet pod)",
                v.name
            ),
        ];
        cand.caused_by = v.node_ref();
        cands.push(cand);
    }
    let immutable: Vec<Evidence> = v
        .node_state
        .map(|n| n.immutable.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(
            v.events
                .iter()
                .filter(|e| {
                    e.message
                        .as_deref()
                        .is_some_and(|m| m.contains("operation not permitted"))
                })
                .map(|e| event_evidence(e)),
        )
        .collect();
    if !immutable.is_empty() {
        let mut cand = Cand::new(
            Cause::ImmutableFile,
            Severity::Critical,
            0.9,
            format!(
                "pod {} is stuck Terminating: a file with the immutable attribute blocks removal of its container filesystem",
                v.name
            ),
        );
        cand.evidence = immutable.into_iter().take(2).collect();
        cand.evidence.push(del_ev.clone());
        cand.remediation = vec![
            format!(
                "ssh {node} 'lsattr -d <path from the log>; chattr -i <path from the log>'   # the kubelet then finishes the deletion"
            ),
            "Stop setting `chattr +i` in the image or at runtime".to_string(),
        ];
        cands.push(cand);
    }
    // What the pod's events and the node's logs say about the layer that blocks the deletion.
    let mut cni: Vec<Evidence> = Vec::new();
    let mut runtime: Vec<Evidence> = Vec::new();
    let mut cni_plugin: Option<String> = None;
    for e in v.events {
        let m = e.message.as_deref().unwrap_or("");
        let verdict = if m.contains("Need to kill Pod") {
            (event_count(e) >= 3).then_some((Cause::RuntimeUnresponsive, 0.8))
        } else if e.reason.as_deref() == Some("ExceededGracePeriod") {
            Some((Cause::RuntimeUnresponsive, 0.8))
        } else {
            classify::terminating(m)
        };
        match verdict.map(|v| v.0) {
            Some(Cause::CNIFailure) => {
                cni_plugin = cni_plugin.or_else(|| classify::cni_plugin(m));
                cni.push(event_evidence(e));
            }
            Some(Cause::RuntimeUnresponsive) => runtime.push(event_evidence(e)),
            _ => {}
        }
    }
    if let Some(ns) = v.node_state {
        for (cause, ev) in &ns.teardown {
            match cause {
                Cause::CNIFailure => {
                    cni_plugin = cni_plugin.or_else(|| classify::cni_plugin(&ev.text));
                    cni.push(ev.clone());
                }
                Cause::RuntimeUnresponsive => runtime.push(ev.clone()),
                _ => {}
            }
        }
        runtime.extend(ns.runtime_timeouts.iter().take(2).cloned());
    }
    if !cni.is_empty() {
        let plugin = cni_plugin
            .as_deref()
            .map_or(String::new(), |p| format!(" ({p})"));
        let mut cand = Cand::new(
            Cause::CNIFailure,
            Severity::Critical,
            0.85,
            format!(
                "pod {} is stuck Terminating: the network plugin{plugin} on node {node} cannot tear down its network{}",
                v.name,
                if cni.iter().any(|e| e.text.contains("failed to find plugin")) {
                    " (a plugin binary is missing from the node)"
                } else if cni.iter().any(|e| {
                    e.text.contains("Is the agent running")
                        || e.text.contains("connection refused")
                        || e.text.contains("i/o timeout")
                        || e.text.contains("Unauthorized")
                }) {
                    " (the plugin cannot reach its node daemon or the apiserver)"
                } else {
                    ""
                }
            ),
        );
        cand.evidence = cni.into_iter().take(3).collect();
        cand.evidence.push(del_ev.clone());
        let cni_pods = v
            .node
            .map(|n| super::nodes::cni_daemon_pods(v.ctx, n))
            .unwrap_or_default();
        cand.remediation = match cni_pods.first() {
            Some((ns, pod, _)) => vec![
                format!(
                    "kubectl -n {ns} logs {pod} --all-containers --tail=50   # the CNI's daemon on {node}"
                ),
                format!(
                    "kubectl -n {ns} delete pod {pod}   # restart it; the kubelet retries the teardown"
                ),
            ],
            None => vec![format!(
                "kubectl -n kube-system get pods -o wide --field-selector spec.nodeName={node}   # is the CNI's pod running on {node}?"
            )],
        };
        cand.remediation.push(format!(
            "ssh {node} 'ls -l /opt/cni/bin /etc/cni/net.d'   # the plugin binaries the config names must exist"
        ));
        cand.caused_by = v.node_ref();
        cands.push(cand);
    }
    if !runtime.is_empty() {
        // The node's own root cause (disk full, xtables lock) explains a hung runtime.
        let node_root = v.node_state.and_then(|n| n.primary()).filter(|(c, _)| {
            matches!(
                c,
                Cause::IptablesLockContention | Cause::NodeDiskFull | Cause::KernelDeadlock
            )
        });
        let (cause, conf) = node_root.map_or((Cause::RuntimeUnresponsive, 0.8), |(c, conf)| {
            (c, conf.min(0.85))
        });
        let mut cand = Cand::new(
            cause,
            Severity::Critical,
            conf,
            format!(
                "pod {} is stuck Terminating: the container runtime on node {node} does not stop its containers{}",
                v.name,
                if cause == Cause::RuntimeUnresponsive {
                    String::new()
                } else {
                    format!(" ({cause} on the node)")
                }
            ),
        );
        cand.evidence = runtime.into_iter().take(3).collect();
        cand.evidence.push(del_ev.clone());
        cand.remediation = vec![
            format!(
                "ssh {node} 'systemctl status containerd docker; crictl ps | grep {}'",
                v.name
            ),
            format!("ssh {node} 'systemctl restart containerd || systemctl restart docker'"),
        ];
        cand.caused_by = v.node_ref();
        cands.push(cand);
    }
    let finalizers = meta.finalizers.as_deref().unwrap_or(&[]);
    if !finalizers.is_empty() {
        let running = v
            .pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
            });
        let mut cand = Cand::new(
            Cause::FinalizerBlocked,
            Severity::Warning,
            if running { 0.5 } else { 0.85 },
            format!(
                "pod {} is stuck Terminating: finalizer {} has not been removed by its controller",
                v.name,
                finalizers.join(", ")
            ),
        );
        cand.evidence.push(del_ev.clone());
        cand.remediation = vec![
            format!(
                "Find the controller that owns finalizer {} and check its logs",
                finalizers[0]
            ),
            format!(
                "{k} patch pod {} --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'   # only if that controller is gone",
                v.name
            ),
        ];
        cands.push(cand);
    }
    // Never silent: nothing names the layer. The runtime not stopping the containers is the most
    // common one; say what evidence would tell.
    if cands.is_empty() {
        let logs_missing = v
            .node
            .is_some_and(|n| !v.ctx.snap.node_logs.contains_key(n));
        let mut cand = Cand::new(
            Cause::RuntimeUnresponsive,
            Severity::Warning,
            0.35,
            format!(
                "pod {} is stuck Terminating for {stuck_for} and nothing collected names the layer; most likely the runtime on node {node} does not stop its containers (evidence missing: {})",
                v.name,
                match (v.events.is_empty(), logs_missing) {
                    (true, true) => "the pod's events (expired or not collected) and node logs",
                    (true, false) => "the pod's events (expired or not collected)",
                    (false, true) => "the node's kubelet and runtime logs",
                    (false, false) => "no event or node log line about its deletion",
                }
            ),
        );
        cand.evidence.push(del_ev);
        if logs_missing {
            cand.evidence.push(Evidence::new(
                "missing",
                format!("node {node}'s kubelet and runtime logs were not collected"),
            ));
        }
        cand.remediation = vec![
            format!(
                "{k} describe pod {}   # recent events: FailedKillPod, KillPodSandbox errors name the layer",
                v.name
            ),
            format!(
                "ssh {node} 'journalctl -u kubelet -u containerd --since -1h | grep -iE \"{}|KillPodSandbox|StopContainer|teardown\"'",
                v.name
            ),
            format!(
                "kubemedic collect DIR   # with the kubemedic agent on the nodes, node logs come along"
            ),
        ];
        cand.caused_by = v.node_ref();
        cands.push(cand);
    }
}

fn evicted(v: &PodView<'_, '_>, cands: &mut Vec<Cand>) {
    let msg = v
        .pod
        .status
        .as_ref()
        .and_then(|s| s.message.as_deref())
        .unwrap_or("");
    let cause = if msg.contains("ephemeral-storage")
        || msg.contains("nodefs")
        || msg.contains("imagefs")
        || msg.contains("DiskPressure")
    {
        Cause::NodeDiskPressure
    } else if msg.contains("memory") {
        Cause::NodeMemoryPressure
    } else if msg.contains("pids") || msg.contains("PIDPressure") {
        Cause::NodePIDPressure
    } else {
        return;
    };
    // Old evictions are history: the replacement pods run elsewhere.
    let when = pod_conditions(v.pod)
        .iter()
        .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
        .max()
        .or(v
            .pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref().map(|t| t.0)));
    let severity = if is_recent(v.ctx, when) {
        Severity::Warning
    } else {
        Severity::Info
    };
    let node = v.node.unwrap_or("?");
    let mut cand = Cand::new(
        cause,
        severity,
        0.75,
        format!("pod {} was evicted from node {node}: {}", v.name, clip(msg)),
    );
    cand.evidence.push(Evidence::new(
        "pod status",
        format!("phase=Failed reason=Evicted message={}", clip(msg)),
    ));
    cand.remediation = vec![
        format!("kubemedic diagnose node/{node}"),
        format!(
            "{} delete pod {}   # evicted pods stay as records until deleted",
            v.kubectl(),
            v.name
        ),
    ];
    cand.caused_by = v.node_ref();
    cands.push(cand);
}
