//! Queries over the archive, shared by the CLI, the HTTP API and both stores.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The object kinds whose own events plus their pods' events make up their timeline.
pub const WORKLOAD_KINDS: [&str; 7] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicaSet",
    "ReplicationController",
];

/// `pod/NAME`, `node/NAME`, `deploy/NAME`, ... optionally `KIND/NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSelector {
    /// Kubernetes kind (`Pod`, `Node`, `Deployment`, ...).
    pub kind: String,
    /// Namespace when written as `KIND/NAMESPACE/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

impl ObjectSelector {
    /// Whether the kind is a workload (its timeline includes the pods it owns).
    pub fn is_workload(&self) -> bool {
        WORKLOAD_KINDS.contains(&self.kind.as_str())
    }
}

/// Maps what users type (`po`, `deploy`, `Deployment`, `deployments`) to the kind.
pub fn canonical_kind(s: &str) -> Option<&'static str> {
    let k = match s.to_ascii_lowercase().as_str() {
        "po" | "pod" | "pods" => "Pod",
        "no" | "node" | "nodes" => "Node",
        "deploy" | "deployment" | "deployments" => "Deployment",
        "sts" | "statefulset" | "statefulsets" => "StatefulSet",
        "ds" | "daemonset" | "daemonsets" => "DaemonSet",
        "job" | "jobs" => "Job",
        "cj" | "cronjob" | "cronjobs" => "CronJob",
        "rs" | "replicaset" | "replicasets" => "ReplicaSet",
        "rc" | "replicationcontroller" | "replicationcontrollers" => "ReplicationController",
        "svc" | "service" | "services" => "Service",
        "pvc" | "persistentvolumeclaim" | "persistentvolumeclaims" => "PersistentVolumeClaim",
        "pv" | "persistentvolume" | "persistentvolumes" => "PersistentVolume",
        "ns" | "namespace" | "namespaces" => "Namespace",
        "ep" | "endpoints" => "Endpoints",
        "hpa" | "horizontalpodautoscaler" | "horizontalpodautoscalers" => "HorizontalPodAutoscaler",
        "ing" | "ingress" | "ingresses" => "Ingress",
        "remediation" | "remediations" => "Remediation",
        _ => return None,
    };
    Some(k)
}

/// A selector that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid object {input:?}: {reason} (expected KIND/NAME or KIND/NAMESPACE/NAME, e.g. pod/api-7c9d, node/worker-3, deploy/shop/api)"
)]
pub struct InvalidSelector {
    /// What was written.
    pub input: String,
    /// Why it is not a selector.
    pub reason: String,
}

impl FromStr for ObjectSelector {
    type Err = InvalidSelector;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| InvalidSelector {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        let (kind, namespace, name) = match parts.as_slice() {
            [k, n] => (*k, None, *n),
            [k, ns, n] => (*k, Some(*ns), *n),
            _ => return Err(err("wrong number of '/'")),
        };
        if name.is_empty() {
            return Err(err("empty name"));
        }
        if namespace.is_some_and(str::is_empty) {
            return Err(err("empty namespace"));
        }
        let kind = match canonical_kind(kind) {
            Some(k) => k.to_string(),
            // Any other kind spelled as Kubernetes spells it (CamelCase) is taken as is.
            None if kind.starts_with(|c: char| c.is_ascii_uppercase())
                && kind.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                kind.to_string()
            }
            None => return Err(err(&format!("unknown kind {kind:?}"))),
        };
        Ok(ObjectSelector {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for ObjectSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Which events to return. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventQuery {
    /// The object (and for workloads, the pods they own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectSelector>,
    /// Namespace; `None` means every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Reason, exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Only repeats at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Only repeats before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// Words the message must contain, in order (full-text search; the last word may be a prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grep: Option<String>,
    /// Cluster (PostgreSQL stores hold several); `None` means the store's own for writers, all for readers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Only occurrences archived after this cursor (`--follow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// At most this many occurrences (the newest); 0 means the default.
    #[serde(default)]
    pub limit: usize,
}

/// Occurrences returned when a query sets no limit.
pub const DEFAULT_LIMIT: usize = 10_000;

impl EventQuery {
    /// The effective row limit.
    pub fn effective_limit(&self) -> usize {
        if self.limit == 0 {
            DEFAULT_LIMIT
        } else {
            self.limit
        }
    }
}

/// Which crashes to return. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrashQuery {
    /// A pod, or a workload (its pods' crashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectSelector>,
    /// Namespace; `None` means every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Container name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Only crashes at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Only crashes before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// Words the logs or message must contain, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grep: Option<String>,
    /// Cluster, as for events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Leave the logs out (listing only).
    #[serde(default)]
    pub without_logs: bool,
    /// At most this many crashes (the newest); 0 means 1,000.
    #[serde(default)]
    pub limit: usize,
}

impl CrashQuery {
    /// The effective limit.
    pub fn effective_limit(&self) -> usize {
        if self.limit == 0 { 1_000 } else { self.limit }
    }
}

/// The words of a `--grep` text, as full-text search tokens (letters and digits; everything
/// else separates words, as SQLite's unicode61 tokenizer and PostgreSQL's `simple` parser do).
pub fn grep_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Parses `7d`, `36h`, `15m`, `90s`, `2w` into seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} has no unit (use s, m, h, d or w, e.g. 7d)"))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} does not start with a number (e.g. 7d, 36h, 15m)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use s, m, h, d or w)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// Parses a point in time: RFC 3339 (`2026-11-30T12:00:00Z`), a date (`2026-11-30`, UTC
/// midnight) or a duration before `now` (`7d`).
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| format!("{s:?}: {e}"));
    }
    let secs = parse_duration(s).map_err(|e| {
        format!("{e}; or give a time as 2026-11-30T12:00:00Z or a date as 2026-11-30")
    })?;
    now.checked_sub(jiff::SignedDuration::from_secs(secs))
        .map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_like_kubectl() {
        let s: ObjectSelector = "deploy/api".parse().expect("parses");
        assert_eq!(s.kind, "Deployment");
        assert!(s.is_workload());
        let s: ObjectSelector = "po/shop/api-1".parse().expect("parses");
        assert_eq!(
            (s.kind.as_str(), s.namespace.as_deref()),
            ("Pod", Some("shop"))
        );
        let s: ObjectSelector = "Remediation/r1".parse().expect("parses");
        assert_eq!(s.kind, "Remediation");
        let s: ObjectSelector = "MyCustomKind/x".parse().expect("parses");
        assert_eq!(s.kind, "MyCustomKind");
        assert!("pod".parse::<ObjectSelector>().is_err());
        assert!("pod/".parse::<ObjectSelector>().is_err());
        assert!("pdo/x".parse::<ObjectSelector>().is_err());
        assert!("pod//x".parse::<ObjectSelector>().is_err());
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("7y").is_err());
        assert!(parse_duration("d").is_err());
        let now: Timestamp = "2026-11-30T12:00:00Z".parse().expect("valid");
        assert_eq!(
            parse_time("1h", now).expect("parses").to_string(),
            "2026-11-30T11:00:00Z"
        );
        assert_eq!(
            parse_time("2026-11-01", now).expect("parses").to_string(),
            "2026-11-01T00:00:00Z"
        );
        assert!(parse_time("yesterday", now).is_err());
    }

    #[test]
    fn grep_words_split_like_the_tokenizers() {
        assert_eq!(
            grep_words("Back-off restarting"),
            ["back", "off", "restarting"]
        );
        assert_eq!(grep_words("  \"x\" "), ["x"]);
        assert!(grep_words("--").is_empty());
    }
}
