//! `kubemedic agent --probes`: the network prober's flags (kubenurse's settings, with its
//! environment variables accepted as they are) and their translation into the prober's options.

use anyhow::{Context, bail};
use kubemedic_agent::probes::{ProbeDiscovery, ProbeOptions};
use kubemedic_probe::discovery::DiscoveryOptions;
use kubemedic_probe::http::TlsOptions;
use kubemedic_probe::runner::standard_checks;
use kubemedic_probe::{Discovered, DnsProbeConfig, PeerPod, ProbeConfig};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The service account files kubenurse reads (token for `/version`, CA for TLS).
const SA_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const SA_CA: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

/// Flags of the network prober. Each kubenurse setting keeps its environment variable.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Network probes (kubenurse compatible; see docs/probes.md)")]
pub struct ProbeArgs {
    /// Run the network prober: neighbour path checks, per-replica DNS, apiserver and Service checks.
    #[arg(long)]
    pub probes: bool,
    /// Probe interval.
    #[arg(long, value_name = "DURATION", default_value = "5s", env = "KUBENURSE_CHECK_INTERVAL", value_parser = parse_duration)]
    pub probe_interval: Duration,
    /// Timeout of one HTTP check (connect: at most 5 s of it).
    #[arg(long, value_name = "DURATION", default_value = "6s", value_parser = parse_duration)]
    pub probe_timeout: Duration,
    /// Neighbours each node checks (its next N nodes on a sha256 ring of node names); 0 = all.
    #[arg(long, default_value_t = 10, env = "KUBENURSE_NEIGHBOUR_LIMIT")]
    pub probe_neighbour_limit: usize,
    /// Namespace of the prober pods (the neighbours).
    #[arg(long, default_value = "kube-system", env = "KUBENURSE_NAMESPACE")]
    pub probe_namespace: String,
    /// Label selector of the prober pods.
    #[arg(long, default_value = kubemedic_cluster::live::DEFAULT_AGENT_SELECTOR, env = "KUBENURSE_NEIGHBOUR_FILTER")]
    pub probe_selector: String,
    /// Also check probers on cordoned nodes.
    #[arg(long, env = "KUBENURSE_ALLOW_UNSCHEDULABLE")]
    pub probe_allow_unschedulable: bool,
    /// Nodes never checked and never expected to check (comma-separated or repeated).
    #[arg(long, value_name = "NODE,...", value_delimiter = ',')]
    pub probe_exclude_node: Vec<String>,
    /// Address of the check endpoint the neighbours call (the pod IP; also /probes, /metrics).
    #[arg(long, default_value = "0.0.0.0")]
    pub probe_address: IpAddr,
    /// Port of the check endpoint, here and on every neighbour.
    #[arg(long, default_value_t = 20258)]
    pub probe_port: u16,
    /// Path of the check endpoint.
    #[arg(long, default_value = "/alwayshappy")]
    pub probe_path: String,
    /// This prober's pod name, sent to neighbours (default: $POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub probe_pod_name: Option<String>,
    /// Fixed neighbours instead of the API: NODE=IP (comma-separated or repeated).
    #[arg(long, value_name = "NODE=IP,...", value_delimiter = ',', value_parser = parse_peer)]
    pub probe_peer: Vec<(String, IpAddr)>,
    /// Do not verify TLS certificates of the checked servers.
    #[arg(long, env = "KUBENURSE_INSECURE")]
    pub probe_insecure: bool,
    /// Extra CA bundle to trust (the service account CA is trusted when present).
    #[arg(long, value_name = "FILE", env = "KUBENURSE_EXTRA_CA")]
    pub probe_ca: Vec<PathBuf>,
    /// Check the apiserver directly.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, env = "KUBENURSE_CHECK_API_SERVER_DIRECT")]
    pub probe_check_api_server_direct: bool,
    /// Check the apiserver through its cluster DNS name.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, env = "KUBENURSE_CHECK_API_SERVER_DNS")]
    pub probe_check_api_server_dns: bool,
    /// Check the neighbours.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, env = "KUBENURSE_CHECK_NEIGHBOURHOOD")]
    pub probe_check_neighbourhood: bool,
    /// The apiserver's direct URL (default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, else the kubeconfig's server).
    #[arg(long, value_name = "URL")]
    pub probe_apiserver_url: Option<String>,
    /// The apiserver's cluster DNS name.
    #[arg(
        long,
        default_value = "kubernetes.default.svc.cluster.local",
        env = "KUBERNETES_SERVICE_DNS"
    )]
    pub probe_apiserver_dns_name: String,
    /// URL of the probers' own Service (me_service), e.g. http://kubemedic-probe.kube-system.svc:20258.
    #[arg(long, value_name = "URL", env = "KUBENURSE_SERVICE_URL")]
    pub probe_service_url: Option<String>,
    /// URL of the probers' Ingress (me_ingress).
    #[arg(long, value_name = "URL", env = "KUBENURSE_INGRESS_URL")]
    pub probe_ingress_url: Option<String>,
    /// Extra URL checks, NAME=URL (or kubenurse's NAME:URL), separated by '|' or repeated.
    #[arg(long, value_name = "NAME=URL", value_delimiter = '|', env = "KUBENURSE_EXTRA_CHECKS", value_parser = parse_extra)]
    pub probe_extra_check: Vec<(String, String)>,
    /// Histogram buckets, comma-separated seconds (default: Prometheus' defaults).
    #[arg(
        long,
        value_name = "SECONDS,...",
        value_delimiter = ',',
        env = "KUBENURSE_HISTOGRAM_BUCKETS"
    )]
    pub probe_histogram_buckets: Vec<f64>,
    /// Probe every cluster DNS replica on its own.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub probe_dns: bool,
    /// The cluster DNS Service whose endpoints are the replicas, NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME", default_value = "kube-system/kube-dns")]
    pub probe_dns_service: String,
    /// Fixed DNS replicas, IP[:PORT] (comma-separated or repeated).
    #[arg(long, value_name = "IP[:PORT],...", value_delimiter = ',', value_parser = parse_dns_server)]
    pub probe_dns_server: Vec<SocketAddr>,
    /// Node-local DNS caches to probe besides link-local nameservers in resolv.conf.
    #[arg(long, value_name = "IP[:PORT],...", value_delimiter = ',', value_parser = parse_dns_server)]
    pub probe_dns_node_local: Vec<SocketAddr>,
    /// Name every replica answers itself ("" skips the query).
    #[arg(long, default_value = "kubernetes.default.svc.cluster.local")]
    pub probe_dns_internal_name: String,
    /// Name replicas forward upstream ("" skips the query, e.g. air-gapped clusters).
    #[arg(long, default_value = "kubernetes.io")]
    pub probe_dns_external_name: String,
    /// Timeout of one DNS attempt (two attempts per probe).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub probe_dns_timeout: Duration,
    /// DNS replicas probed from this node at most (spread so all nodes together cover all); 0 = all.
    #[arg(long, default_value_t = 64)]
    pub probe_dns_max_servers: usize,
    /// resolv.conf whose nameservers are probed and which resolves the checks' host names.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub probe_resolv_conf: PathBuf,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    kubemedic_detect::golang::parse_go_duration(s).map_err(|e| e.to_string())
}

fn parse_peer(s: &str) -> Result<(String, IpAddr), String> {
    let (node, ip) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NODE=IP"))?;
    let ip = ip
        .parse()
        .map_err(|e| format!("{s:?}: {ip:?} is not an IP address: {e}"))?;
    if node.is_empty() {
        return Err(format!("{s:?}: empty node name"));
    }
    Ok((node.to_string(), ip))
}

fn parse_extra(s: &str) -> Result<(String, String), String> {
    let eq = s.find('=');
    let colon = s.find(':');
    let at = match (eq, colon) {
        (Some(e), Some(c)) => e.min(c),
        (Some(i), None) | (None, Some(i)) => i,
        (None, None) => return Err(format!("{s:?}: expected NAME=URL")),
    };
    let (name, url) = (&s[..at], &s[at + 1..]);
    if name.is_empty() || url.is_empty() {
        return Err(format!("{s:?}: expected NAME=URL"));
    }
    Ok((name.to_string(), url.to_string()))
}

fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|e| format!("{s:?}: expected IP or IP:PORT: {e}"))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The prober's options, or `None` without `--probes`. `kube` is the client and its cluster
/// URL when the agent talks to a cluster.
pub fn options(
    args: &ProbeArgs,
    node: &str,
    kube: Option<(&kube::Client, &str)>,
) -> anyhow::Result<Option<ProbeOptions>> {
    if !args.probes {
        return Ok(None);
    }
    let mut config = ProbeConfig::new(node);
    config.pod = args
        .probe_pod_name
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(host_name);
    config.interval = args.probe_interval;
    config.client.timeout = args.probe_timeout;
    config.client.connect_timeout = args.probe_timeout.min(Duration::from_secs(5));
    config.client.tls = TlsOptions {
        insecure: args.probe_insecure,
        ca_files: {
            let mut files = Vec::new();
            if std::path::Path::new(SA_CA).exists() {
                files.push(PathBuf::from(SA_CA));
            }
            files.extend(args.probe_ca.iter().cloned());
            files
        },
    };
    config.client.token_file = std::path::Path::new(SA_TOKEN)
        .exists()
        .then(|| PathBuf::from(SA_TOKEN));
    config.neighbour_limit = args.probe_neighbour_limit;
    config.allow_unschedulable = args.probe_allow_unschedulable;
    config.exclude_nodes = args
        .probe_exclude_node
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>();
    config.check_port = args.probe_port;
    config.check_path = args.probe_path.clone();
    config.neighbours = args.probe_check_neighbourhood;
    if !args.probe_histogram_buckets.is_empty() {
        config.buckets = args.probe_histogram_buckets.clone();
    }

    // The apiserver: kubenurse's KUBERNETES_SERVICE_HOST/PORT, else the agent's own server.
    let service = match (
        std::env::var("KUBERNETES_SERVICE_HOST")
            .ok()
            .filter(|h| !h.is_empty()),
        std::env::var("KUBERNETES_SERVICE_PORT")
            .ok()
            .filter(|p| !p.is_empty()),
    ) {
        (Some(host), Some(port)) => {
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            Some(format!("https://{host}:{port}"))
        }
        _ => None,
    };
    let direct = args
        .probe_apiserver_url
        .clone()
        .or(service)
        .or_else(|| kube.map(|(_, url)| url.trim_end_matches('/').to_string()));
    let dns_url = direct.as_ref().map(|d| {
        let port = d
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.port_u16())
            .unwrap_or(443);
        format!("https://{}:{port}", args.probe_apiserver_dns_name)
    });
    config.checks = standard_checks(
        direct
            .as_deref()
            .filter(|_| args.probe_check_api_server_direct),
        dns_url
            .as_deref()
            .filter(|_| args.probe_check_api_server_dns),
        args.probe_service_url.as_deref().filter(|u| !u.is_empty()),
        args.probe_ingress_url.as_deref().filter(|u| !u.is_empty()),
        &args.probe_path,
        &args.probe_extra_check,
    )?;

    let dns_service = if args.probe_dns && !args.probe_dns_service.is_empty() {
        let (ns, name) = args
            .probe_dns_service
            .split_once('/')
            .filter(|(ns, name)| !ns.is_empty() && !name.is_empty())
            .with_context(|| {
                format!(
                    "--probe-dns-service {:?}: expected NAMESPACE/NAME",
                    args.probe_dns_service
                )
            })?;
        Some((ns.to_string(), name.to_string()))
    } else {
        None
    };
    config.dns = args.probe_dns.then(|| {
        let mut d = DnsProbeConfig::default();
        let name = |s: &str| (!s.is_empty()).then(|| s.to_string());
        d.internal_name = name(&args.probe_dns_internal_name);
        d.external_name = name(&args.probe_dns_external_name);
        d.query.timeout = args.probe_dns_timeout;
        d.max_servers = args.probe_dns_max_servers;
        d.node_local = args.probe_dns_node_local.clone();
        d.static_servers = args.probe_dns_server.clone();
        d.resolv_conf = Some(args.probe_resolv_conf.clone());
        d
    });
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("{e} (see kubemedic agent --help)"))?;

    let discovery = if !args.probe_peer.is_empty() || kube.is_none() {
        let peers = args
            .probe_peer
            .iter()
            .map(|(node, ip)| PeerPod {
                name: node.clone(),
                node: node.clone(),
                ip: Some(*ip),
                running: true,
                terminating: false,
            })
            .collect();
        ProbeDiscovery::Fixed(Discovered {
            peers,
            synced: true,
            ..Discovered::default()
        })
    } else {
        let Some((client, _)) = kube else {
            bail!("--probes needs a cluster (or --probe-peer NODE=IP)");
        };
        ProbeDiscovery::Kube(
            client.clone(),
            DiscoveryOptions {
                namespace: args.probe_namespace.clone(),
                selector: args.probe_selector.clone(),
                dns_service,
            },
        )
    };
    Ok(Some(ProbeOptions {
        config,
        discovery,
        listen: (args.probe_port != 0)
            .then(|| SocketAddr::new(args.probe_address, args.probe_port)),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_parse() {
        assert_eq!(
            parse_peer("n1=10.0.0.1").unwrap(),
            ("n1".to_string(), "10.0.0.1".parse().unwrap())
        );
        assert!(parse_peer("n1").is_err());
        assert!(parse_peer("n1=x").is_err());
        assert_eq!(
            parse_extra("google:https://www.google.ch/").unwrap(),
            ("google".to_string(), "https://www.google.ch/".to_string())
        );
        assert_eq!(
            parse_extra("web=http://x:80/").unwrap(),
            ("web".to_string(), "http://x:80/".to_string())
        );
        assert!(parse_extra("nourl").is_err());
        assert_eq!(
            parse_dns_server("10.0.0.10").unwrap(),
            "10.0.0.10:53".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("10.0.0.10:5353").unwrap(),
            "10.0.0.10:5353".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("fd00::a").unwrap(),
            "[fd00::a]:53".parse().unwrap()
        );
    }
}
