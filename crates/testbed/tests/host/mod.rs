//! What a real node could leave on the host, looked up on the host itself.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kubemedic_testbed::Testbed;

/// The kernel tunables a node could change: the ones the kubelet rewrites (masked inside the
/// node), forwarding (the bridge plugin turns it on in the node's namespace) and the bridge
/// netfilter switches.
const SYSCTLS: [&str; 9] = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/bridge/bridge-nf-call-iptables",
];

fn text(program: &str, args: &[&str]) -> String {
    kubemedic_testbed::child::output(Command::new(program).args(args), Duration::from_secs(60))
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Host state that must be the same before a node starts and after it stopped.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    sysctls: Vec<(String, String)>,
    nft_ruleset: String,
    netns: Vec<String>,
}

impl Snapshot {
    pub fn take() -> Snapshot {
        Snapshot {
            sysctls: SYSCTLS
                .iter()
                .map(|s| {
                    let v = std::fs::read_to_string(format!("/proc/sys/{s}")).unwrap_or_default();
                    (s.to_string(), v.trim().to_string())
                })
                .collect(),
            nft_ruleset: text("nft", &["list", "ruleset"]),
            netns: std::fs::read_dir("/run/netns")
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    pub fn assert_same_as(&self, before: &Snapshot) {
        assert_eq!(self.sysctls, before.sysctls, "a host sysctl changed");
        assert_eq!(
            self.nft_ruleset, before.nft_ruleset,
            "the host's nftables/iptables rules changed"
        );
        assert_eq!(self.netns, before.netns, "named network namespaces changed");
    }
}

/// Everything one node put on the host, found while it runs.
#[derive(Debug)]
pub struct NodeTraces {
    pub processes: Vec<u32>,
    pub link: String,
    pub cgroup_root: String,
    pub dir: PathBuf,
}

impl NodeTraces {
    pub fn of(tb: &Testbed) -> NodeTraces {
        let node = tb.real_node();
        NodeTraces {
            processes: node.processes(),
            link: node.addresses().host_link(),
            cgroup_root: node.cgroup_root().to_string(),
            dir: tb.dir().to_path_buf(),
        }
    }

    /// Parses what a helper process reported (see `report`).
    pub fn parse(report: &str) -> NodeTraces {
        let field = |key: &str| {
            report
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key} ")))
                .unwrap()
                .to_string()
        };
        NodeTraces {
            processes: field("processes")
                .split(',')
                .map(|p| p.parse().unwrap())
                .collect(),
            link: field("link"),
            cgroup_root: field("cgroup"),
            dir: PathBuf::from(field("dir")),
        }
    }

    /// Lines for `parse`.
    pub fn report(&self) -> String {
        let processes: Vec<String> = self.processes.iter().map(u32::to_string).collect();
        format!(
            "processes {}\nlink {}\ncgroup {}\ndir {}\n",
            processes.join(","),
            self.link,
            self.cgroup_root,
            self.dir.display()
        )
    }

    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|h| h.path().join(&self.cgroup_root))
            .filter(|p| p.exists())
            .collect()
    }

    fn mounts(&self) -> Vec<String> {
        let needle = self.dir.to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string)
            .collect()
    }

    fn link_exists(&self) -> bool {
        PathBuf::from("/sys/class/net").join(&self.link).exists()
    }

    pub fn assert_present(&self) {
        // init, containerd, kubelet, kube-proxy, a shim, pause, the container at least.
        assert!(self.processes.len() >= 7, "{:?}", self.processes);
        assert!(self.link_exists(), "{} missing", self.link);
        assert!(
            !self.cgroup_dirs().is_empty(),
            "no cgroup {}",
            self.cgroup_root
        );
        assert!(
            self.mounts().is_empty(),
            "the node's mounts must not be visible on the host: {:?}",
            self.mounts()
        );
    }

    /// Waits (with a deadline) for the node's processes and link to disappear, then checks
    /// the rest. `reap` runs first when the owner could not clean up (it was killed).
    pub fn assert_gone(&self, reap: bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let alive: Vec<u32> = self
                .processes
                .iter()
                .copied()
                .filter(|p| alive(*p))
                .collect();
            if alive.is_empty() && !self.link_exists() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still there after 60 s: processes {alive:?}, link {}: {}",
                self.link,
                self.link_exists()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        if reap {
            kubemedic_testbed::reap_orphans();
        }
        assert_eq!(
            self.cgroup_dirs(),
            Vec::<PathBuf>::new(),
            "cgroups left behind"
        );
        assert_eq!(self.mounts(), Vec::<String>::new(), "mounts left behind");
        assert!(!self.dir.exists(), "{} left behind", self.dir.display());
    }
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Runs a busybox pod on `node` and waits until it is Running.
pub async fn run_pod(client: &kube::Client, node: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sleeper"},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "main", "image": "busybox:1.36",
                                 "command": ["sleep", "3600"]}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = pods.get("sleeper").await.unwrap();
        if p.status.and_then(|s| s.phase).as_deref() == Some("Running") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pod sleeper not Running after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
