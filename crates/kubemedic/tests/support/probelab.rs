//! A cluster's network in network namespaces, for the prober's tests and benchmark: N node
//! namespaces running `kubemedic agent --probes` against the real testbed apiserver (reached
//! through a forwarder on the lab's gateway address), one namespace with six real CoreDNS
//! replicas (two broken: one forwards to a dead upstream, so external names get SERVFAIL; one
//! drops every query) and an upstream CoreDNS for the "external" name, and a Service VIP
//! implemented the way kube-proxy does it (an nft DNAT in each node's namespace).
#![allow(clippy::unwrap_used, dead_code)]

use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubemedic_model::probes::ProbeFacts;
use kubemedic_testbed::Testbed;
use kubemedic_testbed::netlab::{Lab, LabHost};
use serde_json::json;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The port of the probe check endpoint in the lab.
pub const PROBE_PORT: u16 = 20258;
/// Name every replica answers itself.
pub const INTERNAL: &str = "kubernetes.default.svc.cluster.local";
/// Name replicas forward to the upstream.
pub const EXTERNAL: &str = "probe.example.org";
/// Replica that forwards to a dead upstream (external names: SERVFAIL).
pub const SERVFAIL_REPLICA: usize = 2;
/// Replica that drops every query.
pub const SILENT_REPLICA: usize = 4;

/// What to build.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Node namespaces.
    pub nodes: usize,
    /// DNS replicas (six in the seed's story); the two broken ones are included when ≥ 5.
    pub replicas: usize,
    /// Break the two replicas.
    pub broken_replicas: bool,
    /// Nodes resolve through a DNS Service VIP (DNAT to a random replica per query, as
    /// kube-proxy does) instead of the first replica.
    pub dns_vip: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            nodes: 4,
            replicas: 6,
            broken_replicas: true,
            dns_vip: false,
        }
    }
}

/// The running lab.
pub struct ProbeLab {
    pub lab: Lab,
    pub tb: Testbed,
    pub client: kube::Client,
    pub nodes: Vec<LabHost>,
    pub dns_host: LabHost,
    pub replicas: Vec<Ipv4Addr>,
    pub vip: Ipv4Addr,
    /// The DNS Service VIP, when the nodes resolve through one.
    pub dns_vip: Option<Ipv4Addr>,
    pub kubeconfig: PathBuf,
    /// host:port of the apiserver as seen from the lab.
    pub api_host: Ipv4Addr,
    pub api_port: u16,
    pub dir: tempfile::TempDir,
    forwarder: tokio::task::JoinHandle<()>,
}

impl Drop for ProbeLab {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

pub fn node_name(i: usize) -> String {
    format!("n{i}")
}

/// A TCP forwarder from `listen` to `to` (the apiserver binds 127.0.0.1 only).
async fn forward(
    listen: std::net::SocketAddr,
    to: std::net::SocketAddr,
) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    (port, task)
}

fn corefile(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(format!("{name}.Corefile"));
    std::fs::write(&p, text).unwrap();
    p
}

impl ProbeLab {
    /// Builds the lab; `None` when the testbed, the lab or CoreDNS is unavailable (skip).
    pub async fn start(opts: LabOptions) -> Option<ProbeLab> {
        let coredns = kubemedic_testbed::netlab::coredns_binary()?;
        let lab = match Lab::create() {
            Ok(l) => l,
            Err(kubemedic_testbed::TestbedError::Unavailable(why)) => {
                if std::env::var("KUBEMEDIC_REQUIRE_TESTBED").is_ok_and(|v| v == "1") {
                    panic!("network lab required but unavailable: {why}");
                }
                eprintln!("network lab unavailable ({why}); skipping");
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        let tb = super::control_plane().await?;
        let client = tb.client();
        let dir = tempfile::tempdir().unwrap();

        // The apiserver, reachable from the lab at the gateway address.
        let api: std::net::SocketAddr = tb
            .server_url()
            .trim_start_matches("https://")
            .parse()
            .unwrap();
        let (fwd_port, forwarder) = forward((lab.host_ip(), 0).into(), api).await;
        let mut kc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tb.kubeconfig_path()).unwrap()).unwrap();
        kc["clusters"][0]["cluster"]["server"] =
            json!(format!("https://{}:{fwd_port}", lab.host_ip()));
        // The serving certificate names 127.0.0.1 and localhost.
        kc["clusters"][0]["cluster"]["tls-server-name"] = json!("localhost");
        let kubeconfig = dir.path().join("lab.kubeconfig");
        std::fs::write(&kubeconfig, serde_json::to_string(&kc).unwrap()).unwrap();

        // DNS: an upstream and the replicas, in one namespace with one address each.
        let dns_host = lab.add_host("dns").unwrap();
        let upstream = dns_host.ip;
        let dead = lab.next_address();
        lab.add_address(&dns_host, dead).unwrap();
        let mut replicas = Vec::new();
        for _ in 0..opts.replicas {
            let ip = lab.next_address();
            lab.add_address(&dns_host, ip).unwrap();
            replicas.push(ip);
        }
        let gw = lab.host_ip();
        let up = corefile(
            dir.path(),
            "upstream",
            &format!(".:53 {{\n  bind {upstream}\n  hosts {{\n    {gw} {EXTERNAL}\n  }}\n}}\n"),
        );
        lab.spawn(
            &dns_host,
            "coredns-upstream",
            &coredns,
            &["-conf".into(), up.display().to_string()],
            &[],
        )
        .unwrap();
        for (i, ip) in replicas.iter().enumerate() {
            let text = match (opts.broken_replicas, i) {
                (true, SILENT_REPLICA) => format!(
                    "cluster.local:53 {{\n  bind {ip}\n  erratic {{\n    drop 1\n  }}\n}}\n.:53 {{\n  bind {ip}\n  erratic {{\n    drop 1\n  }}\n}}\n"
                ),
                (broken, _) => {
                    let target = if broken && i == SERVFAIL_REPLICA {
                        dead
                    } else {
                        upstream
                    };
                    format!(
                        "cluster.local:53 {{\n  bind {ip}\n  hosts {{\n    {gw} {INTERNAL}\n  }}\n}}\n.:53 {{\n  bind {ip}\n  forward . {target}:53\n}}\n"
                    )
                }
            };
            let f = corefile(dir.path(), &format!("coredns-{i}"), &text);
            lab.spawn(
                &dns_host,
                &format!("coredns-{i}"),
                &coredns,
                &["-conf".into(), f.display().to_string()],
                &[],
            )
            .unwrap();
        }

        // Nodes, with kubelet-like Node objects and the agent pods as the API would show them.
        let vip = lab.next_address();
        let dns_vip = opts.dns_vip.then(|| lab.next_address());
        let mut nodes = Vec::new();
        for i in 0..opts.nodes {
            let host = lab.add_host(&node_name(i)).unwrap();
            lab.write_resolv_conf(
                &host,
                &format!(
                    "nameserver {}\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1 attempts:1\n",
                    dns_vip.unwrap_or(replicas[0])
                ),
            )
            .unwrap();
            nodes.push(host);
        }
        let now = jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap()
            .to_string();
        let node_api: Api<Node> = Api::all(client.clone());
        let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
        for (i, host) in nodes.iter().enumerate() {
            let name = node_name(i);
            node_api
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
                )
                .await
                .unwrap();
            node_api
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"conditions": [{
                        "type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now
                    }], "addresses": [{"type": "InternalIP", "address": host.ip.to_string()}]}})),
                )
                .await
                .unwrap();
            let pod = format!("kubemedic-agent-{name}");
            pods.create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": pod, "labels": {"app.kubernetes.io/name": "kubemedic-agent"}},
                    "spec": {"nodeName": name, "hostNetwork": true, "automountServiceAccountToken": false,
                             "containers": [{"name": "agent", "image": "kubemedic:lab"}]}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
            pods.patch_status(
                &pod,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": "Running", "podIP": host.ip.to_string(), "hostIP": host.ip.to_string()}})),
            )
            .await
            .unwrap();
        }
        // The cluster DNS Service and its endpoints: the replicas, as CoreDNS pods on the nodes.
        let services: Api<Service> = Api::namespaced(client.clone(), "kube-system");
        services
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
                    "spec": {"clusterIP": "None", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        let endpoints: Vec<serde_json::Value> = replicas
            .iter()
            .enumerate()
            .map(|(i, ip)| json!({
                "addresses": [ip.to_string()], "conditions": {"ready": true},
                "nodeName": node_name(i % opts.nodes.max(1)),
                "targetRef": {"kind": "Pod", "name": format!("coredns-{i}"), "namespace": "kube-system"}
            }))
            .collect();
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "kube-system");
        slices
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": "kube-dns-lab", "labels": {"kubernetes.io/service-name": "kube-dns"}},
                    "addressType": "IPv4",
                    "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
                    "endpoints": endpoints
                }))
                .unwrap(),
            )
            .await
            .unwrap();

        let me = ProbeLab {
            lab,
            tb,
            client,
            nodes,
            dns_host,
            replicas,
            vip,
            dns_vip,
            kubeconfig,
            api_host: gw,
            api_port: fwd_port,
            dir,
            forwarder,
        };
        for i in 0..me.nodes.len() {
            me.service_rules(i, true);
        }
        Some(me)
    }

    /// kube-proxy's part, in node `i`: the probers' Service VIP DNATed to every node's prober
    /// (kubemedic on 20258, kubenurse on 8080) and, with a DNS VIP, that VIP to every replica.
    pub fn service_rules(&self, i: usize, on: bool) {
        let host = &self.nodes[i];
        if !on {
            self.lab
                .exec(host, &["nft", "delete", "table", "ip", "kmpr_svc"])
                .unwrap();
            return;
        }
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(k, h)| format!("{k} : {}", h.ip))
            .collect();
        let mut rules = String::from(
            "table ip kmpr_svc {\n  chain out {\n    type nat hook output priority -100;\n",
        );
        for port in [PROBE_PORT, 8080] {
            rules.push_str(&format!(
                "    ip daddr {} tcp dport {port} dnat to numgen inc mod {} map {{ {} }}\n",
                self.vip,
                self.nodes.len(),
                nodes.join(", ")
            ));
        }
        if let Some(dvip) = self.dns_vip {
            let reps: Vec<String> = self
                .replicas
                .iter()
                .enumerate()
                .map(|(k, ip)| format!("{k} : {ip}"))
                .collect();
            for proto in ["udp", "tcp"] {
                rules.push_str(&format!(
                    "    ip daddr {dvip} {proto} dport 53 dnat to numgen random mod {} map {{ {} }}\n",
                    self.replicas.len(),
                    reps.join(", ")
                ));
            }
        }
        rules.push_str("  }\n}\n");
        self.lab.nft(host, &rules).unwrap();
    }

    /// Stops (no answer at all) or resumes DNS replica `i`.
    pub fn pause_replica(&self, i: usize, paused: bool) {
        self.lab.pause(&format!("coredns-{i}"), paused);
    }

    /// Starts the agent of node `i` with the lab's settings plus `extra` flags.
    pub fn start_agent(&self, i: usize, interval: &str, extra: &[&str]) {
        let host = &self.nodes[i];
        let mut args = self.agent_args(i, &format!("agent-{}", node_name(i)));
        args.extend(
            [
                "--probes",
                "--probe-interval",
                interval,
                "--probe-insecure",
                "--probe-pod-name",
                &format!("kubemedic-agent-{}", node_name(i)),
                "--probe-address",
                &host.ip.to_string(),
                "--probe-dns-external-name",
                EXTERNAL,
                "--probe-service-url",
                &format!("http://{}:{PROBE_PORT}", self.vip),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        self.spawn_agent(i, &format!("agent-{}", node_name(i)), args);
    }

    /// Starts, in node `i`, the same agent without the prober (the memory baseline).
    pub fn start_baseline_agent(&self, i: usize) {
        let name = format!("baseline-{}", node_name(i));
        let args = self.agent_args(i, &name);
        self.spawn_agent(i, &name, args);
    }

    fn agent_args(&self, i: usize, name: &str) -> Vec<String> {
        let monitor = self.dir.path().join(format!("monitor-{name}.json"));
        let log = self.dir.path().join(format!("empty-{name}.log"));
        std::fs::write(&log, "").unwrap();
        std::fs::write(
            &monitor,
            format!(
                r#"{{"plugin": "filelog", "pluginConfig": {{"timestamp": "^.{{15}}", "message": "(.*)", "timestampFormat": "Jan _2 15:04:05"}},
  "logPath": "{}", "lookback": "1m", "bufferSize": 10, "source": "lab-monitor", "conditions": [], "rules": []}}"#,
                log.display()
            ),
        )
        .unwrap();
        [
            "agent",
            "--kubeconfig",
            &self.kubeconfig.display().to_string(),
            "--hostname-override",
            &node_name(i),
            "--config.system-log-monitor",
            &monitor.display().to_string(),
            "--port",
            "0",
            "--prometheus-port",
            "0",
            "--iptables-save",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn spawn_agent(&self, i: usize, name: &str, args: Vec<String>) {
        self.lab
            .spawn(
                &self.nodes[i],
                name,
                Path::new(env!("CARGO_BIN_EXE_kubemedic")),
                &args,
                &[("RUST_LOG".into(), "info".into())],
            )
            .unwrap();
    }

    /// Node `i`'s `/probes`, fetched from the test process over the lab network.
    pub async fn probes(&self, i: usize) -> Option<ProbeFacts> {
        let addr = (self.nodes[i].ip, PROBE_PORT);
        let fetch = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            s.write_all(b"GET /probes HTTP/1.0\r\nHost: lab\r\n\r\n")
                .await
                .ok()?;
            let mut body = Vec::new();
            s.read_to_end(&mut body).await.ok()?;
            let text = String::from_utf8_lossy(&body).to_string();
            let (_, json) = text.split_once("\r\n\r\n")?;
            serde_json::from_str(json).ok()
        };
        tokio::time::timeout(Duration::from_secs(3), fetch)
            .await
            .ok()
            .flatten()
    }

    /// Node `i`'s `/metrics` text.
    pub async fn metrics(&self, i: usize) -> String {
        let addr = (self.nodes[i].ip, PROBE_PORT);
        let fetch = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            s.write_all(b"GET /metrics HTTP/1.0\r\nHost: lab\r\n\r\n")
                .await
                .ok()?;
            let mut body = Vec::new();
            s.read_to_end(&mut body).await.ok()?;
            Some(String::from_utf8_lossy(&body).to_string())
        };
        tokio::time::timeout(Duration::from_secs(3), fetch)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// The PodNetworkUnreachable condition of node `i` in the API.
    pub async fn condition(&self, i: usize) -> Option<NodeCondition> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let n = nodes.get(&node_name(i)).await.ok()?;
        n.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodNetworkUnreachable")
    }

    /// The agent logs, for failure messages.
    pub fn agent_logs(&self) -> String {
        (0..self.nodes.len())
            .map(|i| {
                format!(
                    "--- agent-{} ---\n{}",
                    node_name(i),
                    self.lab.log_tail(&format!("agent-{}", node_name(i)), 30)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Polls `f` every 200 ms until it returns `Some`, failing after `timeout` with `what` and the
/// lab's agent logs.
pub async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    lab: &ProbeLab,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                lab.agent_logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
