//! The prober's settings, validated before anything starts.

use crate::dns::QueryOptions;
use crate::http::ClientOptions;
use crate::metrics::{DEFAULT_BUCKETS, validate_buckets};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// kubenurse's check-type names for the fixed checks.
pub mod check {
    /// The apiserver through its direct address.
    pub const API_SERVER_DIRECT: &str = "api_server_direct";
    /// The apiserver through its cluster DNS name.
    pub const API_SERVER_DNS: &str = "api_server_dns";
    /// The probers' own Service.
    pub const ME_SERVICE: &str = "me_service";
    /// The probers' Ingress.
    pub const ME_INGRESS: &str = "me_ingress";
}

/// A URL check with its kubenurse `type` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCheck {
    /// Type label (`api_server_direct`, `me_service`, an extra check's name).
    pub name: String,
    /// URL.
    pub url: http::Uri,
    /// Send the origin headers (neighbour checks do; kubenurse's other checks do not).
    pub origin_headers: bool,
}

/// Per-replica DNS probing.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsProbeConfig {
    /// A cluster name every replica answers itself (`kubernetes.default.svc.cluster.local`).
    pub internal_name: Option<String>,
    /// A name replicas forward upstream (`kubernetes.io`); `None` in air-gapped clusters.
    pub external_name: Option<String>,
    /// Timeout and attempts per query.
    pub query: QueryOptions,
    /// Replicas probed from this node at most (the rest by other nodes); 0 = all.
    pub max_servers: usize,
    /// Extra servers to probe as node-local caches.
    pub node_local: Vec<SocketAddr>,
    /// Fixed replicas (instead of, or besides, the discovered ones).
    pub static_servers: Vec<SocketAddr>,
    /// resolv.conf whose nameservers are probed too (node-local cache, Service VIP).
    pub resolv_conf: Option<PathBuf>,
}

impl Default for DnsProbeConfig {
    fn default() -> Self {
        Self {
            internal_name: Some("kubernetes.default.svc.cluster.local".into()),
            external_name: Some("kubernetes.io".into()),
            query: QueryOptions::default(),
            max_servers: 64,
            node_local: Vec::new(),
            static_servers: Vec::new(),
            resolv_conf: Some(PathBuf::from("/etc/resolv.conf")),
        }
    }
}

/// Everything the prober needs.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// This node.
    pub node: String,
    /// This prober's pod name (sent as kubenurse's origin header).
    pub pod: String,
    /// Probe interval (kubenurse: 5 s).
    pub interval: Duration,
    /// HTTP client settings (timeouts, TLS, token).
    pub client: ClientOptions,
    /// Neighbours per node; 0 = all.
    pub neighbour_limit: usize,
    /// Check probers on cordoned nodes too.
    pub allow_unschedulable: bool,
    /// Nodes never checked.
    pub exclude_nodes: BTreeSet<String>,
    /// Port the neighbours' check endpoint listens on.
    pub check_port: u16,
    /// Path of the check endpoint (kubenurse: `/alwayshappy`).
    pub check_path: String,
    /// Check neighbours over https.
    pub neighbour_tls: bool,
    /// Check neighbours at all (`KUBENURSE_CHECK_NEIGHBOURHOOD`).
    pub neighbours: bool,
    /// The URL checks.
    pub checks: Vec<NamedCheck>,
    /// DNS probing; `None` disables it.
    pub dns: Option<DnsProbeConfig>,
    /// Histogram buckets.
    pub buckets: Vec<f64>,
    /// Consecutive failures before a neighbour or check is declared failing.
    pub fail_after: u32,
}

impl ProbeConfig {
    /// kubenurse's defaults for `node`.
    pub fn new(node: &str) -> Self {
        Self {
            node: node.to_string(),
            pod: node.to_string(),
            interval: Duration::from_secs(5),
            client: ClientOptions::default(),
            neighbour_limit: 10,
            allow_unschedulable: false,
            exclude_nodes: BTreeSet::new(),
            check_port: 20258,
            check_path: "/alwayshappy".to_string(),
            neighbour_tls: false,
            neighbours: true,
            checks: Vec::new(),
            dns: Some(DnsProbeConfig::default()),
            buckets: DEFAULT_BUCKETS.to_vec(),
            fail_after: 2,
        }
    }

    /// Refuses settings that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting: &str, reason: String| {
            Err(ConfigError {
                setting: setting.to_string(),
                reason,
            })
        };
        if self.node.is_empty() {
            return bad("node", "empty node name".into());
        }
        if self.interval < Duration::from_millis(100) {
            return bad("interval", format!("{:?} is below 100ms", self.interval));
        }
        if self.client.timeout.is_zero() {
            return bad("timeout", "must be above zero".into());
        }
        if !self.check_path.starts_with('/') {
            return bad(
                "check path",
                format!("{:?} must start with /", self.check_path),
            );
        }
        if let Err(e) = validate_buckets(&self.buckets) {
            return bad("histogram buckets", e);
        }
        let mut names = BTreeSet::new();
        for c in &self.checks {
            if c.name.is_empty() || c.name.starts_with("path_") {
                return bad(
                    "check name",
                    format!("{:?}: empty or reserved for neighbour checks", c.name),
                );
            }
            if !names.insert(c.name.as_str()) {
                return bad("check name", format!("{:?} given twice", c.name));
            }
            match c.url.scheme_str() {
                Some("http" | "https") if c.url.host().is_some() => {}
                _ => {
                    return bad(
                        "check URL",
                        format!("{} ({}): need http(s)://host[:port]/path", c.url, c.name),
                    );
                }
            }
        }
        if let Some(dns) = &self.dns {
            for name in [&dns.internal_name, &dns.external_name]
                .into_iter()
                .flatten()
            {
                if let Err(e) = crate::dnsmsg::parse_name(name) {
                    return bad("DNS probe name", e.to_string());
                }
            }
            if dns.query.timeout.is_zero() {
                return bad("DNS timeout", "must be above zero".into());
            }
        }
        Ok(())
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("probe setting {setting}: {reason}")]
pub struct ConfigError {
    /// Which setting.
    pub setting: String,
    /// Why.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kubenurses_and_valid() {
        let c = ProbeConfig::new("n1");
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.client.timeout, Duration::from_secs(6));
        assert_eq!(c.neighbour_limit, 10);
        assert_eq!(c.check_path, "/alwayshappy");
        c.validate().unwrap();
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = ProbeConfig::new("n1");
        c.checks.push(NamedCheck {
            name: "path_x".into(),
            url: "http://a/".parse().unwrap(),
            origin_headers: false,
        });
        assert_eq!(c.validate().unwrap_err().setting, "check name");
        let mut c = ProbeConfig::new("n1");
        c.checks.push(NamedCheck {
            name: "x".into(),
            url: "/relative".parse().unwrap(),
            origin_headers: false,
        });
        assert!(c.validate().unwrap_err().reason.contains("http(s)://"));
        let mut c = ProbeConfig::new("n1");
        c.dns.as_mut().unwrap().external_name = Some("a..b".into());
        assert_eq!(c.validate().unwrap_err().setting, "DNS probe name");
        let mut c = ProbeConfig::new("n1");
        c.buckets = vec![1.0, 0.5];
        assert!(c.validate().is_err());
    }
}
