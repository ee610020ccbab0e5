//! The network prober side by side with kubenurse on the same network namespaces: time to detect
//! a broken DNS replica and a cut node, CPU and memory per prober at 5 and at 50 neighbours, and
//! probe traffic per node per minute. Run by `bench/probes.sh` (root; kubenurse binary in
//! `KUBENURSE_BIN`); figures are printed as a table and one JSON line.
//!
//! Both probers run with their defaults (5 s interval, 6 s timeout) on every node of a lab built
//! like the `probes_netns` test: node namespaces on a bridge, the real testbed apiserver, six real
//! CoreDNS replicas behind a DNS Service VIP (an nft DNAT to a random replica per query, as
//! kube-proxy does), a Service VIP for each prober. Settings: `PROBE_BENCH_SIZES` (node counts,
//! default `6,51`: 5 and 50 neighbours), `PROBE_BENCH_WINDOW` (seconds, default 60),
//! `PROBE_BENCH_REPEAT` (detections per fault in the small lab, default 3), `PROBE_BENCH_CPUS`
//! (the CPUs every prober process is pinned to before measuring, default `0`; empty: no pinning).
#![allow(clippy::unwrap_used, dead_code)]

#[path = "../tests/support/mod.rs"]
mod support;
use support::control_plane;
#[path = "../tests/support/probelab.rs"]
mod probelab;

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, Patch, PatchParams, PostParams};
use probelab::{LabOptions, ProbeLab, node_name};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const KUBENURSE_PORT: u16 = 8080;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU ticks (utime + stime) and RSS in KiB of a process.
fn proc_sample(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks, rss))
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

async fn http_get(ip: std::net::Ipv4Addr, port: u16, path: &str) -> Option<String> {
    let fetch = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect((ip, port)).await.ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: lab\r\n\r\n").as_bytes())
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
}

/// Sum of the samples of `name` whose labels contain every `needle`.
fn sum_metric(text: &str, name: &str, needles: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' '))
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Prometheus series (sample lines) of one scrape whose metric name starts with one of `prefixes`.
fn series(text: &str, prefixes: &[&str]) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && prefixes.iter().any(|p| l.starts_with(p)))
        .count()
}

/// kubenurse needs a service-account token and CA at the in-cluster paths, a host name equal to
/// its pod name, and its pods in the API. Returns the directory with token and CA.
async fn kubenurse_setup(lab: &ProbeLab) -> PathBuf {
    let client = &lab.client;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "kube-system");
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "kubenurse"}})).unwrap(),
    )
    .await
    .unwrap();
    let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
    crbs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "kubenurse-bench"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "kubenurse", "namespace": "kube-system"}]
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let tr: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 7200}}))
            .unwrap();
    let token = sas
        .create_token_request("kubenurse", &PostParams::default(), &tr)
        .await
        .unwrap()
        .status
        .and_then(|s| s.token)
        .expect("the apiserver issued no token");
    let dir = lab.dir.path().join("kubenurse-sa");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), token).unwrap();
    std::fs::copy(lab.tb.ca_cert_path(), dir.join("ca.crt")).unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    for (i, host) in lab.nodes.iter().enumerate() {
        let name = format!("kubenurse-{}", node_name(i));
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"app": "kubenurse"}},
                "spec": {"nodeName": node_name(i), "automountServiceAccountToken": false,
                         "containers": [{"name": "kubenurse", "image": "postfinance/kubenurse:v1.15.3"}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        pods.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running", "podIP": host.ip.to_string(), "hostIP": host.ip.to_string()}})),
        )
        .await
        .unwrap();
    }
    dir
}

fn start_kubenurse(lab: &ProbeLab, i: usize, bin: &Path, sa: &Path, limit: usize) {
    let name = format!("kubenurse-{}", node_name(i));
    // A private mount and UTS namespace: the token and CA at the in-cluster paths, the pod name
    // as host name (kubenurse finds its own pod by host name), nothing visible to the host.
    let script = format!(
        "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && \
         cp {sa}/token {sa}/ca.crt /run/secrets/kubernetes.io/serviceaccount/ && hostname {name} && exec {bin}",
        sa = sa.display(),
        bin = bin.display()
    );
    let envs: Vec<(String, String)> = [
        ("KUBECONFIG", lab.kubeconfig.display().to_string()),
        ("KUBERNETES_SERVICE_HOST", lab.api_host.to_string()),
        ("KUBERNETES_SERVICE_PORT", lab.api_port.to_string()),
        ("KUBENURSE_NAMESPACE", "kube-system".into()),
        ("KUBENURSE_NEIGHBOUR_FILTER", "app=kubenurse".into()),
        ("KUBENURSE_NEIGHBOUR_LIMIT", limit.to_string()),
        (
            "KUBENURSE_SERVICE_URL",
            format!("http://{}:{KUBENURSE_PORT}", lab.vip),
        ),
        ("KUBENURSE_CHECK_ME_INGRESS", "false".into()),
        ("KUBENURSE_INSECURE", "true".into()),
        ("KUBENURSE_CHECK_INTERVAL", "5s".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    lab.lab
        .spawn(
            &lab.nodes[i],
            &name,
            Path::new("unshare"),
            &[
                "--mount".into(),
                "--uts".into(),
                "--propagation".into(),
                "private".into(),
                "sh".into(),
                "-c".into(),
                script,
            ],
            &envs,
        )
        .unwrap();
}

/// Pins the measured processes (every thread) to the CPUs in `PROBE_BENCH_CPUS` (default `0`):
/// the machine is shared, so each prober's CPU time is taken on one core, next to the others'.
fn pin(lab: &ProbeLab, names: &[String]) {
    let cpus = std::env::var("PROBE_BENCH_CPUS").unwrap_or_else(|_| "0".into());
    if cpus.is_empty() {
        return;
    }
    for name in names {
        let Some(pid) = lab.lab.pid(name) else {
            continue;
        };
        let ok = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", &cpus, &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("bench: could not pin {name} (pid {pid}) to CPUs {cpus}");
        }
    }
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("bench: gave up waiting for {what} after {timeout:?}");
    false
}

#[derive(Debug, Default, serde::Serialize)]
struct Figures {
    nodes: usize,
    neighbours: usize,
    agent_rss_mib: f64,
    agent_cpu_percent: f64,
    baseline_rss_mib: f64,
    baseline_cpu_percent: f64,
    prober_added_rss_mib: f64,
    kubenurse_rss_mib: f64,
    kubenurse_cpu_percent: f64,
    kubemedic_bytes_per_min: f64,
    kubenurse_bytes_per_min: f64,
    kubemedic_series: usize,
    kubenurse_series: usize,
    dns_replica_detect_s: Vec<f64>,
    dns_replica_all_nodes_s: Vec<f64>,
    kubenurse_dns_first_error_s: Vec<Option<f64>>,
    cut_node_detect_s: Vec<f64>,
    cut_node_condition_s: Vec<f64>,
    kubenurse_cut_first_error_s: Vec<Option<f64>>,
}

async fn resources(lab: &ProbeLab, names: &[String], window: Duration) -> (f64, f64) {
    let pids: Vec<u32> = names.iter().filter_map(|n| lab.lab.pid(n)).collect();
    let before: Vec<Option<(u64, u64)>> = pids.iter().map(|p| proc_sample(*p)).collect();
    let mut rss: Vec<Vec<u64>> = vec![Vec::new(); pids.len()];
    let start = Instant::now();
    while start.elapsed() < window {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for (i, p) in pids.iter().enumerate() {
            if let Some((_, r)) = proc_sample(*p) {
                rss[i].push(r);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let tck = clk_tck();
    let mut cpu = Vec::new();
    let mut mem = Vec::new();
    for (i, p) in pids.iter().enumerate() {
        if let (Some((t0, _)), Some((t1, _))) = (before[i], proc_sample(*p)) {
            cpu.push((t1 - t0) as f64 / tck / secs * 100.0);
        }
        if !rss[i].is_empty() {
            mem.push(rss[i].iter().sum::<u64>() as f64 / rss[i].len() as f64 / 1024.0);
        }
    }
    (median(mem), median(cpu))
}

fn iface_bytes(lab: &ProbeLab, i: usize) -> u64 {
    let read = |f: &str| -> u64 {
        lab.lab
            .exec(
                &lab.nodes[i],
                &["cat", &format!("/sys/class/net/eth0/statistics/{f}")],
            )
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    read("rx_bytes") + read("tx_bytes")
}

/// Bytes per node per minute while only the processes named by `running` probe.
async fn traffic(lab: &ProbeLab, pause: &[String], window: Duration) -> f64 {
    for p in pause {
        lab.lab.pause(p, true);
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before: Vec<u64> = (0..lab.nodes.len()).map(|i| iface_bytes(lab, i)).collect();
    let start = Instant::now();
    tokio::time::sleep(window).await;
    let secs = start.elapsed().as_secs_f64();
    let per_node: Vec<f64> = (0..lab.nodes.len())
        .map(|i| (iface_bytes(lab, i) - before[i]) as f64 / secs * 60.0)
        .collect();
    for p in pause {
        lab.lab.pause(p, false);
    }
    median(per_node)
}

async fn all_probes(lab: &ProbeLab) -> Vec<Option<kubemedic_model::probes::ProbeFacts>> {
    futures::future::join_all((0..lab.nodes.len()).map(|i| lab.probes(i))).await
}

async fn kubenurse_sum(lab: &ProbeLab, needles: &[&str]) -> Vec<f64> {
    futures::future::join_all(lab.nodes.iter().map(|h| async move {
        let text = http_get(h.ip, KUBENURSE_PORT, "/metrics")
            .await
            .unwrap_or_default();
        sum_metric(&text, "kubenurse_errors_total", needles)
    }))
    .await
}

async fn scenario(
    n: usize,
    kubenurse: Option<&Path>,
    window: Duration,
    repeat: usize,
) -> Option<Figures> {
    let lab = ProbeLab::start(LabOptions {
        nodes: n,
        replicas: 6,
        broken_replicas: false,
        dns_vip: true,
    })
    .await?;
    let limit = n - 1;
    let sa = match kubenurse {
        Some(_) => Some(kubenurse_setup(&lab).await),
        None => None,
    };
    let limit_s = limit.to_string();
    for i in 0..n {
        lab.start_agent(i, "5s", &["--probe-neighbour-limit", &limit_s]);
        if let (Some(bin), Some(sa)) = (kubenurse, sa.as_ref()) {
            start_kubenurse(&lab, i, bin, sa, limit);
        }
    }
    lab.start_baseline_agent(0);
    let steady = wait_until(
        "every agent checking all neighbours",
        Duration::from_secs(180),
        || async {
            all_probes(&lab).await.iter().all(|p| {
                p.as_ref().is_some_and(|f| {
                    f.neighbours.len() == limit
                        && f.neighbours.iter().all(|x| x.ok == Some(true))
                        && f.dns.iter().filter(|d| d.ok == Some(true)).count() >= 6
                })
            })
        },
    )
    .await;
    if !steady {
        eprintln!("{}", lab.agent_logs());
        return None;
    }
    if kubenurse.is_some() {
        wait_until(
            "kubenurse checking its neighbours",
            Duration::from_secs(120),
            || async {
                let text = http_get(lab.nodes[0].ip, KUBENURSE_PORT, "/metrics")
                    .await
                    .unwrap_or_default();
                text.lines()
                    .filter(|l| {
                        l.starts_with("kubenurse_httpclient_requests_total{")
                            && l.contains("type=\"path_")
                    })
                    .count()
                    >= limit
            },
        )
        .await;
    }
    // Let both settle (first rounds, watches, connection set-up).
    tokio::time::sleep(Duration::from_secs(15)).await;
    let mut fig = Figures {
        nodes: n,
        neighbours: limit,
        ..Figures::default()
    };
    // Series per node: the median over nodes of one scrape, the prober's own series only
    // (kubenurse_* for both, plus kubemedic_probe_* for kubemedic; no process or Go series).
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for h in &lab.nodes {
        let text = http_get(h.ip, probelab::PROBE_PORT, "/metrics")
            .await
            .unwrap_or_default();
        ours.push(series(&text, &["kubenurse_", "kubemedic_probe_"]) as f64);
        if kubenurse.is_some() {
            let text = http_get(h.ip, KUBENURSE_PORT, "/metrics")
                .await
                .unwrap_or_default();
            theirs.push(series(&text, &["kubenurse_"]) as f64);
        }
    }
    fig.kubemedic_series = median(ours) as usize;
    fig.kubenurse_series = if theirs.is_empty() {
        0
    } else {
        median(theirs) as usize
    };
    let agents: Vec<String> = (0..n).map(|i| format!("agent-{}", node_name(i))).collect();
    let nurses: Vec<String> = (0..n)
        .map(|i| format!("kubenurse-{}", node_name(i)))
        .collect();
    let mut measured = agents.clone();
    measured.push("baseline-n0".into());
    measured.extend(nurses.iter().cloned());
    pin(&lab, &measured);
    let (rss, cpu) = resources(&lab, &agents, window).await;
    fig.agent_rss_mib = rss;
    fig.agent_cpu_percent = cpu;
    let (brss, bcpu) = resources(&lab, &["baseline-n0".to_string()], Duration::from_secs(10)).await;
    fig.baseline_rss_mib = brss;
    fig.baseline_cpu_percent = bcpu;
    fig.prober_added_rss_mib = rss - brss;
    if kubenurse.is_some() {
        let (krss, kcpu) = resources(&lab, &nurses, Duration::from_secs(30)).await;
        fig.kubenurse_rss_mib = krss;
        fig.kubenurse_cpu_percent = kcpu;
        fig.kubemedic_bytes_per_min = traffic(&lab, &nurses, window).await;
        let mut pause_agents = agents.clone();
        pause_agents.push("baseline-n0".into());
        fig.kubenurse_bytes_per_min = traffic(&lab, &pause_agents, window).await;
        tokio::time::sleep(Duration::from_secs(15)).await;
    } else {
        fig.kubemedic_bytes_per_min = traffic(&lab, &[], window).await;
    }

    // Detection: a DNS replica that stops answering.
    let victim = 3;
    let server = format!("{}:53", lab.replicas[victim]);
    for r in 0..repeat {
        // Spread the fault over the probe cycle.
        tokio::time::sleep(Duration::from_millis(1000 + 1700 * r as u64 % 5000)).await;
        let base = kubenurse_sum(&lab, &["type=\"api_server_dns\""]).await;
        lab.pause_replica(victim, true);
        let t0 = Instant::now();
        let mut first = None;
        let mut all = None;
        let mut nurse = None;
        while t0.elapsed() < Duration::from_secs(60)
            && (all.is_none()
                || (kubenurse.is_some()
                    && nurse.is_none()
                    && t0.elapsed() < Duration::from_secs(60)))
        {
            let views = all_probes(&lab).await;
            let named = views
                .iter()
                .filter(|v| {
                    v.as_ref()
                        .is_some_and(|f| f.fault("DNSReplicaFailing", &server).is_some())
                })
                .count();
            if named > 0 && first.is_none() {
                first = Some(t0.elapsed().as_secs_f64());
            }
            if named == n && all.is_none() {
                all = Some(t0.elapsed().as_secs_f64());
            }
            if kubenurse.is_some() && nurse.is_none() {
                let now = kubenurse_sum(&lab, &["type=\"api_server_dns\""]).await;
                if now.iter().zip(&base).any(|(a, b)| a > b) {
                    nurse = Some(t0.elapsed().as_secs_f64());
                }
            }
            if all.is_some() && (kubenurse.is_none() || nurse.is_some()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lab.pause_replica(victim, false);
        fig.dns_replica_detect_s.push(first.unwrap_or(f64::NAN));
        fig.dns_replica_all_nodes_s.push(all.unwrap_or(f64::NAN));
        fig.kubenurse_dns_first_error_s.push(nurse);
        wait_until(
            "the replica healed everywhere",
            Duration::from_secs(60),
            || async {
                all_probes(&lab).await.iter().all(|v| {
                    v.as_ref()
                        .is_some_and(|f| f.fault("DNSReplicaFailing", &server).is_none())
                })
            },
        )
        .await;
    }

    // Detection: a node whose pod network is cut (host network kept).
    let cut = 1;
    let cut_type = format!("type=\"path_{}\"", node_name(cut));
    for r in 0..repeat {
        tokio::time::sleep(Duration::from_millis(1000 + 2300 * r as u64 % 5000)).await;
        let base = kubenurse_sum(&lab, &[&cut_type]).await;
        lab.lab.isolate(&lab.nodes[cut]).unwrap();
        let t0 = Instant::now();
        let (mut verdict, mut condition, mut nurse) = (None, None, None);
        while t0.elapsed() < Duration::from_secs(90) {
            if verdict.is_none()
                && lab
                    .probes(cut)
                    .await
                    .and_then(|f| f.pod_network)
                    .is_some_and(|p| p.unreachable)
            {
                verdict = Some(t0.elapsed().as_secs_f64());
            }
            if condition.is_none() && lab.condition(cut).await.is_some_and(|c| c.status == "True") {
                condition = Some(t0.elapsed().as_secs_f64());
            }
            if kubenurse.is_some() && nurse.is_none() {
                let now = kubenurse_sum(&lab, &[&cut_type]).await;
                if now.iter().zip(&base).any(|(a, b)| a > b) {
                    nurse = Some(t0.elapsed().as_secs_f64());
                }
            }
            if verdict.is_some() && condition.is_some() && (kubenurse.is_none() || nurse.is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lab.lab.reconnect(&lab.nodes[cut]).unwrap();
        fig.cut_node_detect_s.push(verdict.unwrap_or(f64::NAN));
        fig.cut_node_condition_s.push(condition.unwrap_or(f64::NAN));
        fig.kubenurse_cut_first_error_s.push(nurse);
        wait_until("the cut node healed", Duration::from_secs(90), || async {
            lab.condition(cut)
                .await
                .is_some_and(|c| c.status == "False")
        })
        .await;
    }
    Some(fig)
}

fn show(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
    format!("median {:.1} s ({})", median(v.to_vec()), parts.join(", "))
}

fn show_opt(v: &[Option<f64>]) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|x| x.map_or("none".to_string(), |x| format!("{x:.1}")))
        .collect();
    parts.join(", ")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` only enumerate
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kubenurse = std::env::var_os("KUBENURSE_BIN").map(PathBuf::from);
        if kubenurse.is_none() {
            eprintln!("bench: KUBENURSE_BIN not set (bench/probes.sh sets it): kubemedic figures only");
        }
        let sizes: Vec<usize> = std::env::var("PROBE_BENCH_SIZES")
            .unwrap_or_else(|_| "6,51".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .filter(|n| *n >= 3)
            .collect();
        let window = Duration::from_secs(env_or("PROBE_BENCH_WINDOW", 60));
        let repeat = env_or("PROBE_BENCH_REPEAT", 3usize);
        for n in sizes {
            let r = if n > 10 { 1 } else { repeat };
            eprintln!("bench: {n} nodes ({} neighbours each) ...", n - 1);
            let Some(f) = scenario(n, kubenurse.as_deref(), window, r).await else {
                eprintln!("bench: lab unavailable; skipped");
                continue;
            };
            println!("== {} nodes, {} neighbours per node, 5 s interval ==", f.nodes, f.neighbours);
            println!("kubemedic agent --probes: RSS {:.1} MiB, CPU {:.2} % of a core (median per agent over {}s)", f.agent_rss_mib, f.agent_cpu_percent, window.as_secs());
            println!("same agent without --probes: RSS {:.1} MiB, CPU {:.2} %; the prober adds {:.1} MiB", f.baseline_rss_mib, f.baseline_cpu_percent, f.prober_added_rss_mib);
            if kubenurse.is_some() {
                println!("kubenurse v1.15.3: RSS {:.1} MiB, CPU {:.2} % of a core", f.kubenurse_rss_mib, f.kubenurse_cpu_percent);
                println!("traffic per node per minute: kubemedic {:.0} KiB, kubenurse {:.0} KiB", f.kubemedic_bytes_per_min / 1024.0, f.kubenurse_bytes_per_min / 1024.0);
            } else {
                println!("traffic per node per minute: kubemedic {:.0} KiB", f.kubemedic_bytes_per_min / 1024.0);
            }
            if kubenurse.is_some() {
                println!("metric series per node (the prober's own): kubemedic {}, kubenurse {}", f.kubemedic_series, f.kubenurse_series);
            } else {
                println!("metric series per node (the prober's own): kubemedic {}", f.kubemedic_series);
            }
            println!("DNS replica stops answering: named by the first node {}; by every node {}", show(&f.dns_replica_detect_s), show(&f.dns_replica_all_nodes_s));
            println!("  kubenurse: first api_server_dns error after: {} (it never names the replica)", show_opt(&f.kubenurse_dns_first_error_s));
            println!("node pod network cut: verdict on the node {}; NodeCondition True in the API {}", show(&f.cut_node_detect_s), show(&f.cut_node_condition_s));
            println!("  kubenurse: first path_{} error on a neighbour after: {}", node_name(1), show_opt(&f.kubenurse_cut_first_error_s));
            println!("json {}", serde_json::to_string(&f).unwrap());
        }
    });
}
