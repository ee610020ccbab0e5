//! The closed set of actions a runbook step may name, with their parameters.
//!
//! Nothing here runs a shell: a node-local action is a name the agent maps to its own
//! allow-listed implementation, and parameters are typed and checked here before anything acts.
//! The same check runs on Remediation objects read back from the API (the agent's input), so a
//! hand-written CR cannot smuggle in what a runbook could not.

use crate::duration;
use crate::selector::LabelSelector;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Who carries an action out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Executor {
    /// The controller, through the Kubernetes API.
    Api,
    /// The agent on the target node (node-local, allow-listed).
    Agent,
    /// The controller's alert sinks.
    Notify,
}

/// What an action may be aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A Node.
    Node,
    /// A Pod (or the workload its finding was grouped on).
    Pod,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Node => "node",
            TargetKind::Pod => "pod",
        })
    }
}

macro_rules! action_kinds {
    ($($variant:ident = $name:literal, $exec:ident, disruptive $dis:literal, replay $replay:literal, targets [$($t:ident),+], params [$($p:literal),*], $doc:literal;)+) => {
        /// The name of an action, as written in `action:`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum ActionKind {
            $(#[doc = $doc] $variant,)+
        }

        impl ActionKind {
            /// Every action, in documentation order.
            pub const ALL: &'static [ActionKind] = &[$(ActionKind::$variant,)+];

            /// The name written in runbooks.
            pub fn as_str(self) -> &'static str {
                match self { $(ActionKind::$variant => $name,)+ }
            }

            /// Who carries it out.
            pub fn executor(self) -> Executor {
                match self { $(ActionKind::$variant => Executor::$exec,)+ }
            }

            /// Whether it takes capacity away from the node or its workloads (counts against the
            /// disruption budget and needs the per-node lock).
            pub fn disruptive(self) -> bool {
                match self { $(ActionKind::$variant => $dis,)+ }
            }

            /// Whether a step interrupted by a crash may be carried out again on resume: true
            /// only where doing it twice has the effect of doing it once (with the intent
            /// recorded before acting). Otherwise the step is recorded as interrupted and the
            /// ladder moves on to verification: at most once beats twice for a reboot.
            pub fn replayable(self) -> bool {
                match self { $(ActionKind::$variant => $replay,)+ }
            }

            /// The target kinds it may be aimed at.
            pub fn targets(self) -> &'static [TargetKind] {
                match self { $(ActionKind::$variant => &[$(TargetKind::$t),+],)+ }
            }

            /// The parameters it accepts under `with:`.
            pub fn params(self) -> &'static [&'static str] {
                match self { $(ActionKind::$variant => &[$($p),*],)+ }
            }

            /// One line saying what it does.
            pub fn describe(self) -> &'static str {
                match self { $(ActionKind::$variant => $doc,)+ }
            }

            /// Looks an action up by its runbook name.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.as_str() == name)
            }
        }
    };
}

action_kinds! {
    Cordon = "cordon", Api, disruptive true, replay true, targets [Node], params [],
        "Mark the node unschedulable (a cordon that was already there is remembered and never undone).";
    Uncordon = "uncordon", Api, disruptive false, replay true, targets [Node], params [],
        "Undo kubemedic's own cordon of the node; never one a person or another tool set.";
    Taint = "taint", Api, disruptive true, replay true, targets [Node], params ["key", "value", "effect"],
        "Add a taint to the node (NoSchedule, PreferNoSchedule or NoExecute).";
    DeletePod = "delete-pod", Api, disruptive true, replay true, targets [Node, Pod], params ["namespace", "labelSelector", "daemonSet", "mountsHostPath"],
        "Delete the node's pods chosen by DaemonSet, label, or the host directory their DaemonSet mounts (a CNI pod mounts /etc/cni/net.d) so their controller recreates them; on a pod target, the pod itself.";
    Drain = "drain", Api, disruptive true, replay true, targets [Node], params ["gracePeriod", "deleteEmptyDirData"],
        "Evict the node's pods through the Eviction API, honouring PodDisruptionBudgets; DaemonSet pods and mirror pods stay.";
    EvictEmptyDir = "evict-emptydir", Api, disruptive true, replay true, targets [Node], params ["top"],
        "Evict the pods using the most emptyDir space on the node (PodDisruptionBudgets honoured).";
    RolloutRestart = "rollout-restart", Api, disruptive true, replay true, targets [Pod], params [],
        "Restart the pod's Deployment, StatefulSet or DaemonSet the way `kubectl rollout restart` does.";
    RestartRuntime = "restart-runtime", Agent, disruptive true, replay false, targets [Node], params [],
        "Restart the container runtime through the node's service manager (systemd over D-Bus, else the allow-listed command configured for the node).";
    RestartKubelet = "restart-kubelet", Agent, disruptive true, replay false, targets [Node], params [],
        "Restart the kubelet through the node's service manager.";
    DropCaches = "drop-caches", Agent, disruptive false, replay true, targets [Node], params ["level"],
        "Write /proc/sys/vm/drop_caches (1 page cache, 2 dentries and inodes, 3 both).";
    CompactMemory = "compact-memory", Agent, disruptive false, replay true, targets [Node], params [],
        "Write /proc/sys/vm/compact_memory so the kernel rebuilds high-order free pages.";
    TruncateContainerLogs = "truncate-container-logs", Agent, disruptive false, replay true, targets [Node], params ["maxSize"],
        "Truncate container log files under /var/log/pods larger than maxSize in place (the runtime keeps its open file).";
    PruneImages = "prune-images", Agent, disruptive false, replay true, targets [Node], params [],
        "Remove images no container uses, through the CRI.";
    Reboot = "reboot", Agent, disruptive true, replay false, targets [Node], params [],
        "Reboot the node; refused unless the node's agent runs with --allow-reboot.";
    Alert = "alert", Notify, disruptive false, replay true, targets [Node, Pod], params ["severity", "message"],
        "Send an alert to the configured sinks, with the diagnosis.";
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Taint effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    /// No new pods.
    NoSchedule,
    /// Avoid scheduling.
    PreferNoSchedule,
    /// Evict pods that do not tolerate it.
    NoExecute,
}

/// Alert severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    /// For information.
    Info,
    /// Someone should look.
    Warning,
    /// Someone must act now.
    Critical,
}

impl AlertSeverity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "info",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// Which pods `delete-pod` chooses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PodChoice {
    /// The target pod itself.
    Target,
    /// Pods of this DaemonSet (namespace, name) on the target node.
    DaemonSet(String, String),
    /// Pods matching the selector (in the namespace, or any) on the target node.
    Labels(Option<String>, LabelSelector),
    /// DaemonSet pods on the target node with a hostPath volume at (or under) this directory:
    /// how CNI plugins (Flannel, Calico, Cilium) install their config on each node.
    HostPath(String),
}

/// A checked action with typed parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// See [`ActionKind::Cordon`].
    Cordon,
    /// See [`ActionKind::Uncordon`].
    Uncordon,
    /// See [`ActionKind::Taint`].
    Taint {
        /// Taint key.
        key: String,
        /// Taint value (may be empty).
        value: String,
        /// Effect.
        effect: TaintEffect,
    },
    /// See [`ActionKind::DeletePod`].
    DeletePod {
        /// Which pods.
        pods: PodChoice,
    },
    /// See [`ActionKind::Drain`].
    Drain {
        /// Grace period given to each pod; the pod's own when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        grace_period: Option<u64>,
        /// Whether pods with emptyDir volumes are evicted (their data is lost).
        delete_empty_dir_data: bool,
    },
    /// See [`ActionKind::EvictEmptyDir`].
    EvictEmptyDir {
        /// How many pods at most.
        top: u32,
    },
    /// See [`ActionKind::RolloutRestart`].
    RolloutRestart,
    /// See [`ActionKind::RestartRuntime`].
    RestartRuntime,
    /// See [`ActionKind::RestartKubelet`].
    RestartKubelet,
    /// See [`ActionKind::DropCaches`].
    DropCaches {
        /// 1, 2 or 3.
        level: u8,
    },
    /// See [`ActionKind::CompactMemory`].
    CompactMemory,
    /// See [`ActionKind::TruncateContainerLogs`].
    TruncateContainerLogs {
        /// Files larger than this many bytes are truncated.
        max_size: u64,
    },
    /// See [`ActionKind::PruneImages`].
    PruneImages,
    /// See [`ActionKind::Reboot`].
    Reboot,
    /// See [`ActionKind::Alert`].
    Alert {
        /// Severity.
        severity: AlertSeverity,
        /// Message template; the runbook's escalation message when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

/// A parameter problem: which parameter and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// Parameter name (empty when the problem is about the set of parameters).
    pub param: String,
    /// What is wrong.
    pub reason: String,
}

impl ParamError {
    fn new(param: &str, reason: impl Into<String>) -> Self {
        Self {
            param: param.to_string(),
            reason: reason.into(),
        }
    }
}

/// Parses sizes such as `100Mi`, `1Gi`, `500M`, `4096`.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = t[..digits].parse().ok()?;
    let mult: u64 = match &t[digits..] {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

impl Action {
    /// Builds the typed action from its name and `with:` parameters (all given as text).
    pub fn build(
        kind: ActionKind,
        params: &BTreeMap<String, String>,
        target: TargetKind,
    ) -> Result<Action, Vec<ParamError>> {
        let mut errors = Vec::new();
        for name in params.keys() {
            if !kind.params().contains(&name.as_str()) {
                let expected = if kind.params().is_empty() {
                    "it takes no parameters".to_string()
                } else {
                    format!("expected one of {}", kind.params().join(", "))
                };
                errors.push(ParamError::new(
                    name,
                    format!("unknown parameter for {kind} ({expected})"),
                ));
            }
        }
        if !kind.targets().contains(&target) {
            let allowed: Vec<String> = kind.targets().iter().map(|t| t.to_string()).collect();
            errors.push(ParamError::new(
                "",
                format!(
                    "{kind} cannot act on a {target} target (only on {})",
                    allowed.join(" or ")
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let get = |n: &str| params.get(n).map(String::as_str);
        let action = match kind {
            ActionKind::Cordon => Action::Cordon,
            ActionKind::Uncordon => Action::Uncordon,
            ActionKind::Taint => {
                let key = get("key").unwrap_or_default();
                if key.is_empty() {
                    errors.push(ParamError::new("key", "required"));
                }
                let effect = match get("effect") {
                    Some("NoSchedule") => TaintEffect::NoSchedule,
                    Some("PreferNoSchedule") => TaintEffect::PreferNoSchedule,
                    Some("NoExecute") => TaintEffect::NoExecute,
                    Some(other) => {
                        errors.push(ParamError::new(
                            "effect",
                            format!(
                                "{other:?} is not a taint effect (NoSchedule, PreferNoSchedule, NoExecute)"
                            ),
                        ));
                        TaintEffect::NoSchedule
                    }
                    None => {
                        errors.push(ParamError::new("effect", "required"));
                        TaintEffect::NoSchedule
                    }
                };
                Action::Taint {
                    key: key.to_string(),
                    value: get("value").unwrap_or_default().to_string(),
                    effect,
                }
            }
            ActionKind::DeletePod => {
                let given: Vec<&str> = ["daemonSet", "labelSelector", "mountsHostPath"]
                    .into_iter()
                    .filter(|p| params.contains_key(*p))
                    .collect();
                let pods = if given.len() > 1 {
                    errors.push(ParamError::new(
                        "",
                        format!(
                            "give one of daemonSet, labelSelector, mountsHostPath, not {}",
                            given.join(" and ")
                        ),
                    ));
                    PodChoice::Target
                } else if let Some(ds) = get("daemonSet") {
                    match (ds.split_once('/'), get("namespace")) {
                        (Some((ns, name)), _) if !ns.is_empty() && !name.is_empty() => {
                            PodChoice::DaemonSet(ns.to_string(), name.to_string())
                        }
                        (None, Some(ns)) if !ds.is_empty() => {
                            PodChoice::DaemonSet(ns.to_string(), ds.to_string())
                        }
                        _ => {
                            errors.push(ParamError::new(
                                "daemonSet",
                                "write NAMESPACE/NAME or give namespace",
                            ));
                            PodChoice::Target
                        }
                    }
                } else if let Some(sel) = get("labelSelector") {
                    match LabelSelector::parse(sel) {
                        Ok(s) if s.is_empty() => {
                            errors.push(ParamError::new(
                                "labelSelector",
                                "empty: it would delete every pod on the node",
                            ));
                            PodChoice::Target
                        }
                        Ok(s) => PodChoice::Labels(get("namespace").map(str::to_string), s),
                        Err(e) => {
                            errors.push(ParamError::new("labelSelector", e.to_string()));
                            PodChoice::Target
                        }
                    }
                } else if let Some(path) = get("mountsHostPath") {
                    if path.starts_with('/') && path.len() > 1 {
                        PodChoice::HostPath(path.trim_end_matches('/').to_string())
                    } else {
                        errors.push(ParamError::new(
                            "mountsHostPath",
                            "an absolute directory other than / (e.g. /etc/cni/net.d)",
                        ));
                        PodChoice::Target
                    }
                } else if target == TargetKind::Pod {
                    PodChoice::Target
                } else {
                    errors.push(ParamError::new(
                        "",
                        "on a node target give daemonSet, labelSelector or mountsHostPath (which of the node's pods)",
                    ));
                    PodChoice::Target
                };
                Action::DeletePod { pods }
            }
            ActionKind::Drain => {
                let grace_period = match get("gracePeriod") {
                    None => None,
                    Some(t) => match duration::parse(t) {
                        Ok(d) => Some(d.as_secs()),
                        Err(e) => {
                            errors.push(ParamError::new("gracePeriod", e.to_string()));
                            None
                        }
                    },
                };
                let delete_empty_dir_data = match get("deleteEmptyDirData") {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(other) => {
                        errors.push(ParamError::new(
                            "deleteEmptyDirData",
                            format!("{other:?} is not true or false"),
                        ));
                        true
                    }
                };
                Action::Drain {
                    grace_period,
                    delete_empty_dir_data,
                }
            }
            ActionKind::EvictEmptyDir => {
                let top = match get("top") {
                    None => 3,
                    Some(t) => match t.parse::<u32>() {
                        Ok(n) if (1..=100).contains(&n) => n,
                        _ => {
                            errors.push(ParamError::new("top", format!("{t:?} is not 1 to 100")));
                            3
                        }
                    },
                };
                Action::EvictEmptyDir { top }
            }
            ActionKind::RolloutRestart => Action::RolloutRestart,
            ActionKind::RestartRuntime => Action::RestartRuntime,
            ActionKind::RestartKubelet => Action::RestartKubelet,
            ActionKind::DropCaches => {
                let level = match get("level") {
                    None | Some("3") => 3,
                    Some("1") => 1,
                    Some("2") => 2,
                    Some(other) => {
                        errors.push(ParamError::new(
                            "level",
                            format!("{other:?} is not 1, 2 or 3"),
                        ));
                        3
                    }
                };
                Action::DropCaches { level }
            }
            ActionKind::CompactMemory => Action::CompactMemory,
            ActionKind::TruncateContainerLogs => {
                let max_size = match get("maxSize") {
                    None => 100 << 20,
                    Some(t) => match parse_size(t) {
                        Some(n) if n >= 1 << 20 => n,
                        Some(_) => {
                            errors.push(ParamError::new(
                                "maxSize",
                                "below 1Mi: that would empty every log",
                            ));
                            100 << 20
                        }
                        None => {
                            errors.push(ParamError::new(
                                "maxSize",
                                format!("{t:?} is not a size (e.g. 100Mi, 1Gi)"),
                            ));
                            100 << 20
                        }
                    },
                };
                Action::TruncateContainerLogs { max_size }
            }
            ActionKind::PruneImages => Action::PruneImages,
            ActionKind::Reboot => Action::Reboot,
            ActionKind::Alert => {
                let severity = match get("severity") {
                    None | Some("warning") => AlertSeverity::Warning,
                    Some("critical") => AlertSeverity::Critical,
                    Some("info") => AlertSeverity::Info,
                    Some(other) => {
                        errors.push(ParamError::new(
                            "severity",
                            format!("{other:?} is not critical, warning or info"),
                        ));
                        AlertSeverity::Warning
                    }
                };
                Action::Alert {
                    severity,
                    message: get("message").map(str::to_string),
                }
            }
        };
        if errors.is_empty() {
            Ok(action)
        } else {
            Err(errors)
        }
    }

    /// The action's name.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Cordon => ActionKind::Cordon,
            Action::Uncordon => ActionKind::Uncordon,
            Action::Taint { .. } => ActionKind::Taint,
            Action::DeletePod { .. } => ActionKind::DeletePod,
            Action::Drain { .. } => ActionKind::Drain,
            Action::EvictEmptyDir { .. } => ActionKind::EvictEmptyDir,
            Action::RolloutRestart => ActionKind::RolloutRestart,
            Action::RestartRuntime => ActionKind::RestartRuntime,
            Action::RestartKubelet => ActionKind::RestartKubelet,
            Action::DropCaches { .. } => ActionKind::DropCaches,
            Action::CompactMemory => ActionKind::CompactMemory,
            Action::TruncateContainerLogs { .. } => ActionKind::TruncateContainerLogs,
            Action::PruneImages => ActionKind::PruneImages,
            Action::Reboot => ActionKind::Reboot,
            Action::Alert { .. } => ActionKind::Alert,
        }
    }

    /// One line for plans and histories: `delete-pod kube-system pods labelled app=flannel`.
    pub fn describe(&self) -> String {
        match self {
            Action::Taint { key, value, effect } => {
                format!("taint {key}={value}:{effect:?}")
            }
            Action::DeletePod { pods } => match pods {
                PodChoice::Target => "delete-pod (the pod itself)".to_string(),
                PodChoice::DaemonSet(ns, name) => {
                    format!("delete-pod of DaemonSet {ns}/{name} on the node")
                }
                PodChoice::Labels(Some(ns), sel) => {
                    format!("delete-pod {ns} pods labelled {sel} on the node")
                }
                PodChoice::Labels(None, sel) => {
                    format!("delete-pod pods labelled {sel} on the node")
                }
                PodChoice::HostPath(path) => {
                    format!("delete-pod the node's DaemonSet pods mounting {path}")
                }
            },
            Action::Drain {
                grace_period,
                delete_empty_dir_data,
            } => {
                let mut s = "drain (Eviction API, PDBs honoured".to_string();
                if let Some(g) = grace_period {
                    s.push_str(&format!(
                        ", grace {}",
                        duration::Human(Duration::from_secs(*g))
                    ));
                }
                if !delete_empty_dir_data {
                    s.push_str(", pods with emptyDir block");
                }
                s.push(')');
                s
            }
            Action::EvictEmptyDir { top } => format!("evict-emptydir top {top}"),
            Action::DropCaches { level } => format!("drop-caches level {level}"),
            Action::TruncateContainerLogs { max_size } => {
                format!("truncate-container-logs over {} MiB", max_size >> 20)
            }
            Action::Alert { severity, .. } => format!("alert ({})", severity.as_str()),
            other => other.kind().as_str().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        for a in ActionKind::ALL {
            assert_eq!(ActionKind::from_name(a.as_str()), Some(*a));
        }
        assert_eq!(ActionKind::from_name("restart-docker"), None);
        assert_eq!(ActionKind::from_name("sh"), None);
    }

    #[test]
    fn node_local_disruptive_actions_are_never_replayed() {
        for a in [
            ActionKind::RestartRuntime,
            ActionKind::RestartKubelet,
            ActionKind::Reboot,
        ] {
            assert_eq!(a.executor(), Executor::Agent);
            assert!(a.disruptive());
            assert!(!a.replayable());
        }
    }

    #[test]
    fn params_are_checked() {
        let e = Action::build(
            ActionKind::Cordon,
            &p(&[("force", "true")]),
            TargetKind::Node,
        )
        .unwrap_err();
        assert_eq!(e[0].param, "force");
        assert!(e[0].reason.contains("it takes no parameters"));

        let e =
            Action::build(ActionKind::Taint, &p(&[("key", "k")]), TargetKind::Node).unwrap_err();
        assert_eq!(
            e,
            vec![ParamError::new("effect", "required")],
            "missing effect"
        );

        let e = Action::build(ActionKind::DeletePod, &p(&[]), TargetKind::Node).unwrap_err();
        assert!(
            e[0].reason
                .contains("daemonSet, labelSelector or mountsHostPath")
        );

        let e = Action::build(
            ActionKind::DeletePod,
            &p(&[("labelSelector", "app=flannel"), ("daemonSet", "a/b")]),
            TargetKind::Node,
        )
        .unwrap_err();
        assert!(
            e[0].reason.contains("not daemonSet and labelSelector"),
            "{e:?}"
        );

        let e = Action::build(
            ActionKind::DeletePod,
            &p(&[("mountsHostPath", "/")]),
            TargetKind::Node,
        )
        .unwrap_err();
        assert_eq!(e[0].param, "mountsHostPath");

        let a = Action::build(
            ActionKind::DeletePod,
            &p(&[("daemonSet", "kube-system/kube-flannel-ds")]),
            TargetKind::Node,
        )
        .unwrap();
        assert_eq!(
            a,
            Action::DeletePod {
                pods: PodChoice::DaemonSet("kube-system".into(), "kube-flannel-ds".into())
            }
        );

        let e = Action::build(ActionKind::Drain, &p(&[]), TargetKind::Pod).unwrap_err();
        assert!(e[0].reason.contains("cannot act on a pod target"));

        let e = Action::build(
            ActionKind::TruncateContainerLogs,
            &p(&[("maxSize", "10")]),
            TargetKind::Node,
        )
        .unwrap_err();
        assert!(e[0].reason.contains("below 1Mi"));

        let a = Action::build(
            ActionKind::TruncateContainerLogs,
            &p(&[("maxSize", "200Mi")]),
            TargetKind::Node,
        )
        .unwrap();
        assert_eq!(
            a,
            Action::TruncateContainerLogs {
                max_size: 200 << 20
            }
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100Mi"), Some(100 << 20));
        assert_eq!(parse_size("1G"), Some(1_000_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1.5Gi"), None);
        assert_eq!(parse_size("Mi"), None);
    }
}
