//! Node facts and node logs reach `diagnose` and `collect` from a real `kubemedic agent` through
//! the real apiserver's pod proxy: the agent tails the xtables-lock story of the node-notready
//! seed from files, a pod labelled as an agent points at it, and the live diagnosis names
//! `IptablesLockContention` on the node with the agent's log lines as evidence (the seed's lines
//! moved to today, as a node that went down minutes ago would have them).
//!
//! The apiserver refuses to proxy to loopback pod IPs, so the agent listens on this host's own
//! non-loopback address (an existing global IPv4 address, else a /32 added to `lo` for the test
//! and removed afterwards). No kubelet runs: the Node and the agent pod's statuses are written
//! through the status subresource.
//!
//! An OOM kill archived by `kubemedic controller` carries the node's memory state read from the
//! same agent's `/facts` (this host's real /proc/meminfo), shown by `kubemedic crashes`.
#![allow(clippy::unwrap_used)]

mod support;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kubemedic_testbed::child;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{control_plane, create_node, kubemedic, mins_ago};

const NODE: &str = "paas-10-239-40-157";
const SEED: &str = "../../examples/dumps/node-notready-xtables/_nodes/paas-10-239-40-157";

/// A non-loopback IPv4 address of this host; removes the address on drop if it added one.
struct HostAddress {
    ip: Ipv4Addr,
    added: bool,
}

impl HostAddress {
    fn find_or_add() -> Self {
        let out = child::output(
            Command::new("ip").args(["-j", "-4", "addr", "show", "scope", "global"]),
            Duration::from_secs(30),
        )
        .expect("`ip` (iproute2) is needed; scripts/setup.sh installs it");
        let links: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let found = links
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["addr_info"].as_array().into_iter().flatten())
            .filter_map(|a| a["local"].as_str()?.parse::<Ipv4Addr>().ok())
            .find(|ip| !ip.is_loopback() && !ip.is_link_local());
        if let Some(ip) = found {
            return Self { ip, added: false };
        }
        // 198.18.0.0/15 is reserved for benchmarking: never routed, safe to borrow.
        let ip = Ipv4Addr::new(198, 18, 0, 157);
        let status = child::output(
            Command::new("ip").args(["addr", "add", &format!("{ip}/32"), "dev", "lo"]),
            Duration::from_secs(30),
        )
        .unwrap()
        .status;
        assert!(status.success(), "cannot add {ip}/32 to lo (root needed)");
        Self { ip, added: true }
    }
}

impl Drop for HostAddress {
    fn drop(&mut self) {
        if self.added {
            let _ = child::output(
                Command::new("ip").args(["addr", "del", &format!("{}/32", self.ip), "dev", "lo"]),
                Duration::from_secs(30),
            );
        }
    }
}

/// The tests of this file share the host address (one of them may add it to `lo`).
static HOST_ADDRESS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = child::wait(&mut self.0, Duration::from_secs(30));
    }
}

fn free_port(ip: Ipv4Addr) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET over plain HTTP/1.0; the body, or None when the agent is not answering yet.
fn http_get(ip: Ipv4Addr, port: u16, path: &str) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&(IpAddr::V4(ip), port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An NPD filelog monitor over one of the seed's node log files (syslog-style lines).
fn filelog_monitor(dir: &Path, file: &str) -> String {
    let config = json!({
        "plugin": "filelog",
        "pluginConfig": {
            "timestamp": "^.{15}",
            "message": "^\\S+\\s+\\d+\\s+[\\d:]+\\s+\\S+\\s+[^:]+: (.*)",
            "timestampFormat": "Jan _2 15:04:05"
        },
        "logPath": dir.join(file).to_str().unwrap(),
        "lookback": "8760h",
        "bufferSize": 10,
        "source": format!("{file}-monitor"),
        "conditions": [],
        "rules": [{"type": "temporary", "reason": "XtablesLockHeld",
                   "pattern": ".*Another app is currently holding the xtables lock.*"}]
    });
    let path = dir.join(format!("{file}-monitor.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs the binary; stdout parsed as JSON.
fn kubemedic_json(args: &[&str]) -> (i32, Value, String) {
    let (code, stdout, stderr) = kubemedic(args);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (code, value, stderr)
}

/// The node's first finding: its cause and the sources of its evidence.
fn node_finding(report: &Value) -> (String, Vec<String>) {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["object"]["kind"] == "Node" && f["object"]["name"] == NODE)
        .unwrap_or_else(|| panic!("no finding for node {NODE}: {report:#}"));
    let sources = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap().to_string())
        .collect();
    (f["cause"].as_str().unwrap().to_string(), sources)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_logs_and_facts_come_from_the_agent_through_the_pod_proxy() {
    let Some(tb) = control_plane().await else {
        return;
    };
    let _address = HOST_ADDRESS.lock().await;
    let host = HostAddress::find_or_add();
    let ip = host.ip;

    // The agent tails the seed's node logs.
    let dir = tempfile::tempdir().unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join(SEED);
    let mut monitors = Vec::new();
    for file in ["kubelet.log", "kube-proxy.log", "docker.log"] {
        // The seed's lines are from May 13; moved to today so they fall in diagnose's node log
        // window (older lines on a node that went down minutes ago are history, not its story).
        let today = jiff::Timestamp::now().strftime("%b %e").to_string();
        let text = std::fs::read_to_string(seed.join(file))
            .unwrap()
            .lines()
            .map(|l| match l.strip_prefix("May 13") {
                Some(rest) => format!("{today}{rest}\n"),
                None => format!("{l}\n"),
            })
            .collect::<String>();
        std::fs::write(dir.path().join(file), text).unwrap();
        monitors.push(filelog_monitor(dir.path(), file));
    }
    let port = free_port(ip);
    let _agent = Agent(
        child::die_with_test(child::reset_signals(
            Command::new(env!("CARGO_BIN_EXE_kubemedic"))
                .args(["agent", "--standalone", "--port", "0"])
                .arg(format!(
                    "--config.system-log-monitor={}",
                    monitors.join(",")
                ))
                .args(["--prometheus-address", &ip.to_string()])
                .args(["--prometheus-port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        ))
        .spawn()
        .unwrap(),
    );
    wait_until(
        "the agent serving the kube-proxy log",
        Duration::from_secs(30),
        || {
            http_get(ip, port, "/logs/kube-proxy?tail=100")
                .is_some_and(|b| b.contains("currently holding the xtables lock"))
        },
    );

    // The NotReady node and the agent pod on it, as a kubelet would report them.
    let client = tb.client();
    let ago = mins_ago;
    create_node(
        &client,
        NODE,
        json!({
            "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                "message": "PLEG is not healthy: pleg was last seen active 3m47.516278553s ago; threshold is 3m0s",
                "lastHeartbeatTime": ago(0), "lastTransitionTime": ago(12)}],
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}}),
    )
    .await;
    agent_pod(&client, "kubemedic-agent-x7k2p", NODE, ip, port).await;

    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let port_arg = port.to_string();
    let live_args = [
        "--kubeconfig",
        kubeconfig.as_str(),
        "-A",
        "--agent-port",
        port_arg.as_str(),
    ];

    // Live: the node logs fetched from the agent explain the NotReady node.
    let (code, live, err) = kubemedic_json(
        &[
            &["diagnose", "-o", "json"][..],
            &live_args,
            &[&format!("node/{NODE}")],
        ]
        .concat(),
    );
    assert_eq!(code, 1, "{live:#}\n{err}");
    assert!(
        live["summary"]["skipped"].is_null(),
        "the agent's facts and logs were all read: {live:#}"
    );
    let (cause, sources) = node_finding(&live);
    assert_eq!(cause, "IptablesLockContention", "{live:#}");
    assert!(
        sources
            .iter()
            .any(|s| s.starts_with(&format!("node {NODE} kubelet.log line"))),
        "{sources:?}"
    );
    assert!(
        sources
            .iter()
            .any(|s| s.starts_with(&format!("node {NODE} docker.log line"))),
        "{sources:?}"
    );

    // collect writes what the agent served; the dump diagnoses the same.
    let dump = dir.path().join("dump");
    let (code, summary, err) = kubemedic_json(
        &[
            &["collect", dump.to_str().unwrap(), "-o", "json"][..],
            &live_args,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{summary:#}\n{err}");
    let node_dir = dump.join("_nodes").join(NODE);
    let proxy_log = std::fs::read_to_string(node_dir.join("kube-proxy.log")).unwrap();
    assert!(proxy_log.contains("currently holding the xtables lock"));
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(node_dir.join("facts.json")).unwrap())
            .unwrap();
    assert!(facts.is_object(), "{facts}");
    let (code, from_dump, err) = kubemedic_json(&[
        "diagnose",
        "--dump",
        dump.to_str().unwrap(),
        "-o",
        "json",
        &format!("node/{NODE}"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(node_finding(&from_dump), node_finding(&live));

    // An agent that does not answer: the diagnosis still runs on what the apiserver has and
    // says what it could not read.
    let closed = free_port(ip).to_string();
    let (code, degraded, err) = kubemedic_json(&[
        "diagnose",
        "-o",
        "json",
        "--kubeconfig",
        &kubeconfig,
        "-A",
        "--agent-port",
        &closed,
        &format!("node/{NODE}"),
    ]);
    assert_eq!(code, 1, "{degraded:#}\n{err}");
    let skipped = degraded["summary"]["skipped"].as_array().unwrap();
    let facts_note = skipped
        .iter()
        .find(|s| {
            s["input"]
                .as_str()
                .unwrap()
                .starts_with(&format!("node facts of {NODE}"))
        })
        .unwrap_or_else(|| panic!("{skipped:?}"));
    // The apiserver's proxy Status in one line: code, reason, message; not kube's Debug dump.
    let reason = facts_note["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("503 ServiceUnavailable: ") && reason.contains("connection refused"),
        "{reason}"
    );
    assert!(!reason.contains("Status {"), "{reason}");
    let (cause, _) = node_finding(&degraded);
    assert_ne!(
        cause, "IptablesLockContention",
        "without the node logs the xtables story cannot be told"
    );
}

/// Creates the agent pod on `node`, Running at `ip:port`, as its kubelet would report it.
async fn agent_pod(client: &kube::Client, name: &str, node: &str, ip: Ipv4Addr, port: u16) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-system",
                         "labels": {"app.kubernetes.io/name": "kubemedic-agent"}},
            "spec": {"nodeName": node, "containers": [{"name": "agent",
                     "image": "ghcr.io/kubemedic/kubemedic:dev",
                     "ports": [{"name": "http", "containerPort": port}]}]}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"phase": "Running", "hostIP": ip.to_string(),
            "podIP": ip.to_string(), "podIPs": [{"ip": ip.to_string()}], "startTime": mins_ago(30),
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": mins_ago(29)}],
            "containerStatuses": [{"name": "agent", "image": "ghcr.io/kubemedic/kubemedic:dev",
                "imageID": "", "ready": true, "restartCount": 0, "started": true,
                "state": {"running": {"startedAt": mins_ago(29)}}}]}}),
        ),
    )
    .await
    .unwrap();
}

/// `MemTotal` of this host in bytes.
fn host_mem_total() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_kill_is_archived_with_the_node_memory_from_the_agent() {
    let Some(tb) = control_plane().await else {
        return;
    };
    let _address = HOST_ADDRESS.lock().await;
    let host = HostAddress::find_or_add();
    let ip = host.ip;
    const OOM_NODE: &str = "worker-oom-1";

    let port = free_port(ip);
    let _agent = Agent(
        Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(["agent", "--standalone", "--port", "0"])
            .args(["--prometheus-address", &ip.to_string()])
            .args(["--prometheus-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(
        "the agent serving its memory facts",
        Duration::from_secs(30),
        || {
            http_get(ip, port, "/facts").is_some_and(|b| {
                serde_json::from_str::<Value>(&b).is_ok_and(|f| f["memory"]["totalBytes"].is_u64())
            })
        },
    );

    let client = tb.client();
    create_node(
        &client,
        OOM_NODE,
        json!({"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": mins_ago(0), "lastTransitionTime": mins_ago(60)}]}),
    )
    .await;
    agent_pod(&client, "kubemedic-agent-m4q8z", OOM_NODE, ip, port).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "kubemedic"}})).unwrap(),
        )
        .await
        .unwrap();

    // The controller, as deployed, with the test's agent port.
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port(Ipv4Addr::LOCALHOST));
    let log = dir.path().join("controller.log");
    let _controller = Agent(
        Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(["controller", "--kubeconfig"])
            .arg(tb.kubeconfig_path())
            .arg("--archive")
            .arg(format!(
                "sqlite:{}",
                dir.path().join("archive.db").display()
            ))
            .args(["--listen", &listen, "--identity", "oom-test"])
            .args(["--agent-port", &port.to_string()])
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let server = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = http_get(Ipv4Addr::LOCALHOST, listen_port(&listen), "/api/v1/status")
            .and_then(|b| serde_json::from_str::<Value>(&b).ok());
        if status.is_some_and(|s| s["leader"] == true && s["synced"] == true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "controller not leading after 60 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Two containers of one pod end: one OOM-killed, one exiting 2.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "hog"},
            "spec": {"nodeName": OOM_NODE, "containers": [
                {"name": "cache", "image": "app:1"}, {"name": "api", "image": "app:1"}]},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let ended = |code: i32, reason: &str, name: &str| {
        json!({"name": name, "image": "app:1", "imageID": "", "ready": false, "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": code, "reason": reason,
                "startedAt": mins_ago(2), "finishedAt": mins_ago(0)}}})
    };
    pods.patch_status(
        "hog",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "containerStatuses": [
            ended(137, "OOMKilled", "cache"), ended(2, "Error", "api")]}})),
    )
    .await
    .unwrap();

    let mut crashes = Vec::new();
    wait_until("both crashes archived", Duration::from_secs(60), || {
        let (code, v, _) = kubemedic_json(&[
            "crashes",
            "--server",
            &server,
            "pod/default/hog",
            "-o",
            "json",
        ]);
        crashes = v["crashes"].as_array().cloned().unwrap_or_default();
        code == 0 && crashes.len() == 2
    });
    let oom = crashes.iter().find(|c| c["container"] == "cache").unwrap();
    let memory = &oom["nodeMemory"]["memory"];
    assert_eq!(oom["nodeMemory"]["node"], OOM_NODE, "{oom:#}");
    assert_eq!(memory["totalBytes"], host_mem_total(), "{oom:#}");
    let available = memory["availableBytes"].as_u64().unwrap();
    assert!(available > 0 && available <= host_mem_total(), "{oom:#}");
    assert!(
        memory["oomKills"].is_u64(),
        "this kernel counts OOM kills: {oom:#}"
    );
    let other = crashes.iter().find(|c| c["container"] == "api").unwrap();
    assert!(other["nodeMemory"].is_null(), "exit 2 is no OOM: {other:#}");

    let (code, text, err) = kubemedic(&["crashes", "--server", &server, "pod/default/hog"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("node memory (agent on {OOM_NODE}, read ")),
        "{text}"
    );
    assert!(text.contains("kernel OOM kills since boot"), "{text}");
    assert_eq!(text.matches("node memory").count(), 1, "{text}");
}

fn listen_port(addr: &str) -> u16 {
    addr.rsplit_once(':').unwrap().1.parse().unwrap()
}
