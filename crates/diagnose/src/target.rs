//! Narrowing a report to what the user asked about: `pod/NAME`, `node/NAME`, `deploy/NAME`,
//! `svc/NAME` (optionally `KIND/NAMESPACE/NAME`) and a minimum severity.

use crate::finding::{Finding, ObjectRef, Report, Severity};
use std::fmt;
use std::str::FromStr;

/// The kinds a target can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// `pod/NAME`, `po/NAME`, `pods/NAME`.
    Pod,
    /// `node/NAME`, `no/NAME`, `nodes/NAME`.
    Node,
    /// `deploy/NAME`, `deployment/NAME`.
    Deployment,
    /// `sts/NAME`, `statefulset/NAME`.
    StatefulSet,
    /// `ds/NAME`, `daemonset/NAME`.
    DaemonSet,
    /// `job/NAME`.
    Job,
    /// `svc/NAME`, `service/NAME`.
    Service,
}

impl TargetKind {
    /// The `kind` value findings carry for this target kind.
    pub fn object_kind(self) -> &'static str {
        match self {
            TargetKind::Pod => "Pod",
            TargetKind::Node => "Node",
            TargetKind::Deployment => "Deployment",
            TargetKind::StatefulSet => "StatefulSet",
            TargetKind::DaemonSet => "DaemonSet",
            TargetKind::Job => "Job",
            TargetKind::Service => "Service",
        }
    }
}

/// One object the user asked about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// What kind of object.
    pub kind: TargetKind,
    /// Namespace, when given as `KIND/NAMESPACE/NAME`; otherwise any namespace matches.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

/// A target string that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTarget {
    /// What the user wrote.
    pub input: String,
    /// Why it is not a target.
    pub reason: String,
}

impl fmt::Display for InvalidTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid target {:?}: {}; a target is pod/NAME, node/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME or svc/NAME, or KIND/NAMESPACE/NAME",
            self.input, self.reason
        )
    }
}

impl std::error::Error for InvalidTarget {}

impl FromStr for Target {
    type Err = InvalidTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| InvalidTarget {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        let (kind, namespace, name) = match parts.as_slice() {
            [kind, name] => (*kind, None, *name),
            [kind, ns, name] => (*kind, Some(*ns), *name),
            [_] => return Err(err("no KIND/ before the name")),
            _ => return Err(err("more than two slashes")),
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "pod" | "pods" | "po" => TargetKind::Pod,
            "node" | "nodes" | "no" => TargetKind::Node,
            "deploy" | "deployment" | "deployments" => TargetKind::Deployment,
            "sts" | "statefulset" | "statefulsets" => TargetKind::StatefulSet,
            "ds" | "daemonset" | "daemonsets" => TargetKind::DaemonSet,
            "job" | "jobs" => TargetKind::Job,
            "svc" | "service" | "services" => TargetKind::Service,
            "" => return Err(err("empty kind")),
            other => return Err(err(&format!("unknown kind {other}"))),
        };
        if name.is_empty() {
            return Err(err("empty name"));
        }
        if kind == TargetKind::Node && namespace.is_some() {
            return Err(err("nodes have no namespace"));
        }
        if namespace.is_some_and(str::is_empty) {
            return Err(err("empty namespace"));
        }
        Ok(Target {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        })
    }
}

impl Target {
    fn matches_object(&self, object: &ObjectRef) -> bool {
        object.kind == self.kind.object_kind()
            && object.name == self.name
            && match &self.namespace {
                Some(ns) => object.namespace.as_deref() == Some(ns.as_str()),
                None => true,
            }
    }

    /// Whether a finding concerns this target: its object, a pod it groups, or (for a node)
    /// a pod whose trouble the node explains.
    pub fn matches(&self, finding: &Finding) -> bool {
        self.matches_object(&finding.object)
            || finding.affected.iter().any(|o| self.matches_object(o))
            || finding
                .caused_by
                .as_ref()
                .is_some_and(|o| self.matches_object(o))
    }
}

/// Keeps the findings that match any of `targets` (all when empty) at `min_severity` or above,
/// and recounts the summary.
pub fn filter(report: &Report, targets: &[Target], min_severity: Severity) -> Report {
    let mut out = report.clone();
    filter_in_place(&mut out, targets, min_severity);
    out
}

/// [`filter`] in place: the kept findings are not copied (a report of a large cluster holds
/// thousands of them).
pub fn filter_in_place(report: &mut Report, targets: &[Target], min_severity: Severity) {
    report.findings.retain(|f| {
        f.severity >= min_severity && (targets.is_empty() || targets.iter().any(|t| t.matches(f)))
    });
    report.recount();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_namespaces() {
        let t: Target = "deploy/api".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.kind, TargetKind::Deployment);
        assert_eq!(t.namespace, None);
        let t: Target = "pod/shop/api-1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.namespace.as_deref(), Some("shop"));
        assert!("node/ns/n1".parse::<Target>().is_err());
        assert!("widget/x".parse::<Target>().is_err());
        assert!("pod/".parse::<Target>().is_err());
        assert!("api".parse::<Target>().is_err());
    }
}
