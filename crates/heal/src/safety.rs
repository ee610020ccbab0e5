//! The safety configuration: budgets, cooldowns, storm detection, exclusions.
//!
//! Defaults start from the anchors: NodeHealthCheck acts after 300 s and keeps minHealthy 51%;
//! Karpenter stops repairing when more than 20% of a pool is unhealthy; kube-controller-manager
//! stops evicting once a zone is largely NotReady. A storm is many targets going bad at once:
//! acting then usually makes it worse (the seed's 58-node xtables storm).

use crate::duration;
use crate::view::DEFAULT_EXCLUDE_LABEL;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A count or a percentage of a total (`3` or `"10%"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// An absolute number.
    Count(u32),
    /// A share of the total, 0-100.
    Percent(f64),
}

impl Budget {
    /// The number it allows out of `total`, rounded up (10% of 5 nodes is 1, not 0).
    pub fn of(self, total: usize) -> usize {
        match self {
            Budget::Count(n) => n as usize,
            Budget::Percent(p) => ((p / 100.0) * total as f64).ceil() as usize,
        }
    }

    /// Parses `3` or `10%`.
    pub fn parse(text: &str) -> Result<Budget, String> {
        let t = text.trim();
        if let Some(p) = t.strip_suffix('%') {
            match p.trim().parse::<f64>() {
                Ok(v) if (0.0..=100.0).contains(&v) => Ok(Budget::Percent(v)),
                _ => Err(format!("{text:?} is not a percentage from 0% to 100%")),
            }
        } else {
            t.parse::<u32>()
                .map(Budget::Count)
                .map_err(|_| format!("{text:?} is not a count (3) or a percentage (10%)"))
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Count(n) => write!(f, "{n}"),
            Budget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Budget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Budget::Count(n) => s.serialize_u32(*n),
            Budget::Percent(_) => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Budget;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count (3) or a percentage (\"10%\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Budget, E> {
                u32::try_from(v)
                    .map(Budget::Count)
                    .map_err(|_| E::custom("count too large"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Budget, E> {
                u32::try_from(v)
                    .map(Budget::Count)
                    .map_err(|_| E::custom(format!("{v} is not a count from 0")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Budget, E> {
                Budget::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Exponential backoff per target and runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Backoff {
    /// Each run within `reset` of the previous one multiplies the wait by this.
    pub factor: u32,
    /// The wait never exceeds this.
    #[serde(with = "duration::serde_text")]
    pub max: Duration,
    /// Runs older than this no longer count.
    #[serde(with = "duration::serde_text")]
    pub reset: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            factor: 2,
            max: Duration::from_secs(6 * 3600),
            reset: Duration::from_secs(24 * 3600),
        }
    }
}

/// Storm detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Storm {
    /// This many node targets starting to match within `window` (of all nodes) is a storm.
    pub threshold: Budget,
    /// ... but never fewer than this many.
    pub min_targets: u32,
    /// The window.
    #[serde(with = "duration::serde_text")]
    pub window: Duration,
    /// After a storm ends, disruptive healing waits this long.
    #[serde(with = "duration::serde_text")]
    pub cooldown: Duration,
}

impl Default for Storm {
    fn default() -> Self {
        Self {
            threshold: Budget::Percent(20.0),
            min_targets: 5,
            window: Duration::from_secs(300),
            cooldown: Duration::from_secs(600),
        }
    }
}

/// All safety settings (`--heal-config FILE`, YAML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct SafetyConfig {
    /// Pause switch: nothing new starts, running remediations stop at their next step.
    pub paused: bool,
    /// At most this many nodes (or % of nodes) disrupted at once, cluster-wide.
    pub max_disrupted: Budget,
    /// No new remediation in a node group while fewer than this many (or %) of its nodes are
    /// healthy.
    pub min_healthy: Budget,
    /// Node label whose value names a node's group (e.g. `topology.kubernetes.io/zone`); empty:
    /// one group of all nodes.
    pub node_group_label: String,
    /// Wait after a run on a target before the next one on it.
    #[serde(with = "duration::serde_text")]
    pub cooldown: Duration,
    /// Backoff for targets that keep coming back.
    pub backoff: Backoff,
    /// Storm detection.
    pub storm: Storm,
    /// Label that excludes a node or pod (any value but "false").
    pub exclude_label: String,
    /// Control-plane nodes that may be healed (all others are excluded).
    pub control_plane_nodes: Vec<String>,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            paused: false,
            max_disrupted: Budget::Count(1),
            min_healthy: Budget::Percent(51.0),
            node_group_label: String::new(),
            cooldown: Duration::from_secs(600),
            backoff: Backoff::default(),
            storm: Storm::default(),
            exclude_label: DEFAULT_EXCLUDE_LABEL.to_string(),
            control_plane_nodes: Vec::new(),
        }
    }
}

/// The config file does not parse or holds impossible values.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct SafetyConfigError {
    /// The file.
    pub origin: String,
    /// What is wrong, with line when known.
    pub reason: String,
}

impl SafetyConfig {
    /// Parses the YAML file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<SafetyConfig, SafetyConfigError> {
        let cfg: SafetyConfig = serde_saphyr::from_str(text).map_err(|e| {
            let line = e
                .location()
                .map(|l| format!("line {}: ", l.line()))
                .unwrap_or_default();
            let first = e.to_string();
            let first = first
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid YAML")
                .trim()
                .to_string();
            SafetyConfigError {
                origin: origin.to_string(),
                reason: format!("{line}{first}"),
            }
        })?;
        if cfg.backoff.factor < 1 {
            return Err(SafetyConfigError {
                origin: origin.into(),
                reason: "backoff.factor must be at least 1".into(),
            });
        }
        Ok(cfg)
    }

    /// Whether the labels exclude the object.
    pub fn excluded(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        !self.exclude_label.is_empty()
            && labels
                .get(&self.exclude_label)
                .is_some_and(|v| v != "false")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_round_up_and_parse() {
        assert_eq!(Budget::Percent(10.0).of(5), 1);
        assert_eq!(Budget::Percent(10.0).of(100), 10);
        assert_eq!(Budget::Percent(51.0).of(3), 2);
        assert_eq!(Budget::Count(3).of(100), 3);
        assert_eq!(Budget::parse("10%"), Ok(Budget::Percent(10.0)));
        assert_eq!(Budget::parse("3"), Ok(Budget::Count(3)));
        assert!(Budget::parse("120%").is_err());
        assert!(Budget::parse("-1").is_err());
    }

    #[test]
    fn config_file_parses_with_defaults_and_names_errors() {
        let cfg = SafetyConfig::parse(
            "maxDisrupted: 3\nminHealthy: \"80%\"\nstorm:\n  window: 2m\n",
            "h.yaml",
        )
        .unwrap();
        assert_eq!(cfg.max_disrupted, Budget::Count(3));
        assert_eq!(cfg.min_healthy, Budget::Percent(80.0));
        assert_eq!(cfg.storm.window, Duration::from_secs(120));
        assert_eq!(cfg.storm.cooldown, Storm::default().cooldown);
        let e = SafetyConfig::parse("maxDisruptd: 3\n", "h.yaml").unwrap_err();
        assert!(e.to_string().starts_with("h.yaml: line 1: "), "{e}");
        assert!(e.to_string().contains("maxDisruptd"), "{e}");
        let e = SafetyConfig::parse("cooldown: 10\n", "h.yaml").unwrap_err();
        assert!(e.to_string().contains("needs a unit"), "{e}");
    }
}
