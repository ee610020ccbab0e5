//! A real node: containerd + runc + CNI (bridge, host-local, loopback, portmap) + kubelet +
//! kube-proxy (iptables mode), registered to the testbed's apiserver next to any kwok nodes.
//!
//! Everything the node does on the host is confined:
//! - **processes** run in the node's own PID namespace, whose init is started by
//!   `unshare --kill-child` from the testbed's spawner thread: killing the init (teardown), or
//!   the test process dying in any way (PR_SET_PDEATHSIG → `unshare` → its child), makes the
//!   kernel kill every process of the node, containers and shims included;
//! - **mounts** happen in the node's own mount namespace, where `/run`, `/var/lib`, `/var/log`
//!   and `/etc/resolv.conf` are the node's directory (see `node/init.sh`) and the kernel
//!   tunables the kubelet rewrites are masked;
//! - **network**: its own namespace (bridge, iptables/nft rules, `ip_forward`, routes) joined
//!   to the host by one veth pair ([`net`]);
//! - **cgroups**: the kubelet's own `cgroupRoot` ([`cgroup`]), removed at teardown and reaped
//!   after a killed test.

pub(crate) mod cgroup;
pub(crate) mod config;
pub(crate) mod net;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;

use crate::error::TestbedError;
use crate::images::{self, Image, Packed};
use crate::process::{Process, log_tail};
use crate::sys;

pub use config::{CLUSTER_CIDR, NodeAddresses, PAUSE_IMAGE, SERVICES_IP};

/// The node's PID 1 (see the file for what it sets up).
const INIT_SCRIPT: &str = include_str!("../../node/init.sh");

/// The node's service manager for containerd (restarts it on request, like systemd would).
const CONTAINERD_SERVICE: &str = include_str!("../../node/containerd-service.sh");

/// `systemctl restart containerd` for the node, run on the host (placeholders filled per node).
const RESTART_CONTAINERD: &str = include_str!("../../node/restart-containerd.sh");

/// PATH given to the node's processes (containerd looks up runc, kube-proxy iptables).
const NODE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where Debian's containernetworking-plugins puts the CNI plugins.
const CNI_BIN_DIR: &str = "/usr/lib/cni";

/// The file name of the node's CNI config in [`RealNode::cni_conf_dir`].
pub const CNI_CONFLIST: &str = "10-kubemedic-testbed.conflist";

/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);

/// What a node needs from its testbed.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    /// Node name, e.g. `real-node-0`.
    pub(crate) name: String,
    /// The testbed's working directory (the node lives in `nodes/<name>` below it).
    pub(crate) testbed_dir: PathBuf,
    /// kubelet, kube-proxy, pause, workload.
    pub(crate) bin_dir: PathBuf,
    /// The apiserver's port on 127.0.0.1 (also served at SERVICES_IP inside the node).
    pub(crate) apiserver_port: u16,
    /// The testbed CA (kubelet client authentication, kubeconfigs).
    pub(crate) ca_cert: PathBuf,
    /// The node's client certificate and key (`system:node:<name>`).
    pub(crate) node_cert: (PathBuf, PathBuf),
    /// kube-proxy's client certificate and key (`system:kube-proxy`).
    pub(crate) proxy_cert: (PathBuf, PathBuf),
    /// Images loaded before the kubelet starts (pause is always loaded).
    pub(crate) images: Vec<Image>,
    /// How long each step may take.
    pub(crate) timeout: Duration,
}

/// How long a real node's start took, step by step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeTimings {
    /// Namespaces, mounts and the veth link set up.
    pub namespaces: Duration,
    /// containerd started until it answers.
    pub containerd: Duration,
    /// Images packed and imported (pause and the preloaded ones).
    pub images: Duration,
    /// kubelet started until the Node is Ready.
    pub kubelet_ready: Duration,
    /// kube-proxy started until its rules for the `kubernetes` Service exist.
    pub kube_proxy: Duration,
    /// All of the above.
    pub total: Duration,
}

/// A node component run inside the node's namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeComponent {
    /// The container runtime.
    Containerd,
    /// The kubelet.
    Kubelet,
    /// kube-proxy.
    KubeProxy,
}

impl NodeComponent {
    /// The binary's name, also the name of its log under the node's `/var/log`.
    pub fn name(self) -> &'static str {
        match self {
            NodeComponent::Containerd => "containerd",
            NodeComponent::Kubelet => "kubelet",
            NodeComponent::KubeProxy => "kube-proxy",
        }
    }
}

#[derive(Debug, Default)]
struct NodeProcs {
    containerd: Option<Process>,
    kubelet: Option<Process>,
    kube_proxy: Option<Process>,
}

impl NodeProcs {
    fn slot(&mut self, which: NodeComponent) -> &mut Option<Process> {
        match which {
            NodeComponent::Containerd => &mut self.containerd,
            NodeComponent::Kubelet => &mut self.kubelet,
            NodeComponent::KubeProxy => &mut self.kube_proxy,
        }
    }

    fn all(&self) -> impl Iterator<Item = &Process> {
        [&self.containerd, &self.kubelet, &self.kube_proxy]
            .into_iter()
            .flatten()
    }
}

/// One real node. Dropping it (or the testbed) stops every process of the node and removes
/// its link, cgroups and mounts.
pub struct RealNode {
    spec: NodeSpec,
    dir: PathBuf,
    addrs: NodeAddresses,
    cgroup_root: String,
    /// `unshare`, whose child is the node's init.
    holder: Mutex<Option<Process>>,
    init_pid: u32,
    procs: Mutex<NodeProcs>,
    /// Runs the forwarder to the apiserver and the DNS responder.
    services: Option<tokio::runtime::Runtime>,
    timings: NodeTimings,
}

impl std::fmt::Debug for RealNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealNode")
            .field("name", &self.spec.name)
            .field("ip", &self.addrs.node_ip())
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Host tools a real node needs, with the Debian package providing each.
const HOST_TOOLS: [(&str, &str); 7] = [
    ("containerd", "containerd"),
    ("runc", "runc"),
    ("ctr", "containerd"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("ip", "iproute2"),
    ("iptables", "iptables"),
];

fn on_path(program: &str) -> bool {
    NODE_PATH
        .split(':')
        .any(|dir| Path::new(dir).join(program).is_file())
}

/// Why a real node cannot run on this machine, if it cannot (one line).
pub(crate) fn unavailable(bin_dir: &Path) -> Option<String> {
    if !sys::is_root() {
        return Some("a real node needs root".into());
    }
    let mut missing = Vec::new();
    for (tool, package) in HOST_TOOLS {
        if !on_path(tool) {
            missing.push(format!("{tool} ({package})"));
        }
    }
    for plugin in ["bridge", "host-local", "loopback", "portmap"] {
        if !Path::new(CNI_BIN_DIR).join(plugin).is_file() {
            missing.push(format!(
                "{CNI_BIN_DIR}/{plugin} (containernetworking-plugins)"
            ));
        }
    }
    for built in ["kubelet", "kube-proxy", "pause", "workload"] {
        if !bin_dir.join(built).is_file() {
            missing.push(format!("{} (testbed/build)", bin_dir.join(built).display()));
        }
    }
    if !missing.is_empty() {
        return Some(format!(
            "a real node needs {} (scripts/setup.sh installs them)",
            missing.join(", ")
        ));
    }
    if !cgroup::available() {
        return Some("a real node needs cgroup v1 hierarchies under /sys/fs/cgroup".into());
    }
    None
}

fn mkdir(path: &Path) -> Result<(), TestbedError> {
    std::fs::create_dir_all(path).map_err(|e| TestbedError::io(path, e))
}

fn write(path: &Path, contents: &str) -> Result<(), TestbedError> {
    std::fs::write(path, contents).map_err(|e| TestbedError::io(path, e))
}

/// The first child of `parent` found in /proc.
fn child_of(parent: u32) -> Option<u32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        (sys::parent_pid(pid) == Some(parent)).then_some(pid)
    })
}

impl RealNode {
    /// Starts the node and waits until it is Ready and kube-proxy has programmed the
    /// `kubernetes` Service. `client` is an admin client of the testbed.
    pub(crate) async fn start(
        spec: NodeSpec,
        client: kube::Client,
    ) -> Result<RealNode, TestbedError> {
        let begin = Instant::now();
        let dir = spec.testbed_dir.join("nodes").join(&spec.name);
        for sub in [
            "root/run",
            "root/var/lib",
            "root/var/log",
            "root/etc",
            "sysctl",
            "config",
            "images",
            "etc/cni/net.d",
            "bin",
            "containerd-service",
        ] {
            mkdir(&dir.join(sub))?;
        }
        write(&dir.join("root/etc/resolv.conf"), &config::resolv_conf())?;

        // The namespaces and their init.
        let mut args: Vec<String> = [
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--net",
            "--mount",
            "--uts",
            "--propagation",
            "private",
            "--",
            "bash",
            "-c",
            INIT_SCRIPT,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("{}-init", spec.name));
        args.push(dir.to_string_lossy().into_owned());
        args.push(spec.name.clone());
        let mut holder = Process::start(
            &format!("{}/init", spec.name),
            Path::new("unshare"),
            &args,
            &[("PATH".into(), NODE_PATH.into())],
            &dir.join("init.log"),
        )?;
        let ready = dir.join("init-ready");
        let deadline = Instant::now() + spec.timeout;
        while !ready.is_file() {
            if holder.exited().is_some() || Instant::now() >= deadline {
                return Err(holder.failure("the node's namespaces were not set up"));
            }
            tokio::time::sleep(POLL).await;
        }
        let Some(init_pid) = child_of(holder.pid()) else {
            return Err(holder.failure("the node's init process is not running"));
        };
        let addrs = net::connect(init_pid)?;
        let cgroup_root = cgroup::root_name(&spec.testbed_dir, &spec.name);
        let mut node = RealNode {
            dir,
            addrs,
            cgroup_root,
            holder: Mutex::new(Some(holder)),
            init_pid,
            procs: Mutex::new(NodeProcs::default()),
            services: None,
            timings: NodeTimings::default(),
            spec,
        };
        // From here on, a failure drops `node`, which undoes everything above.
        cgroup::create(&node.cgroup_root).map_err(TestbedError::Usage)?;
        node.write_configs()?;
        node.start_services()?;
        let mut timings = NodeTimings {
            namespaces: begin.elapsed(),
            ..NodeTimings::default()
        };

        let phase = Instant::now();
        node.start_containerd().await?;
        timings.containerd = phase.elapsed();

        let phase = Instant::now();
        let bin_dir = node.spec.bin_dir.clone();
        node.load_image(&images::pause(&bin_dir)?).await?;
        for image in node.spec.images.clone() {
            node.load_image(&image).await?;
        }
        timings.images = phase.elapsed();

        let phase = Instant::now();
        node.start_kubelet().await?;
        node.wait_node_ready(&client).await?;
        timings.kubelet_ready = phase.elapsed();

        let phase = Instant::now();
        node.start_kube_proxy().await?;
        timings.kube_proxy = phase.elapsed();
        timings.total = begin.elapsed();
        node.timings = timings;
        Ok(node)
    }

    fn write_configs(&self) -> Result<(), TestbedError> {
        let cfg = self.dir.join("config");
        let cni_dir = self.dir.join("etc/cni/net.d");
        write(
            &cfg.join("containerd.toml"),
            &config::containerd(&cni_dir, Path::new(CNI_BIN_DIR)),
        )?;
        write(
            &cni_dir.join(CNI_CONFLIST),
            &config::cni_conflist(self.addrs),
        )?;
        let restart = self.restart_runtime_script();
        let text = RESTART_CONTAINERD
            .replace(
                "@STATE@",
                &self.dir.join("containerd-service").to_string_lossy(),
            )
            .replace("@INIT_PID@", &self.init_pid.to_string())
            .replace("@SOCKET@", &self.containerd_socket().to_string_lossy())
            .replace("@NODE@", &self.spec.name);
        write(&restart, &text)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&restart, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| TestbedError::io(&restart, e))?;
        let server = format!("https://{SERVICES_IP}:{}", self.spec.apiserver_port);
        let (cert, key) = &self.spec.node_cert;
        crate::write_kubeconfig_files(
            &cfg.join("kubelet.kubeconfig"),
            &server,
            &self.spec.ca_cert,
            cert,
            key,
        )?;
        let (cert, key) = &self.spec.proxy_cert;
        crate::write_kubeconfig_files(
            &cfg.join("kube-proxy.kubeconfig"),
            &server,
            &self.spec.ca_cert,
            cert,
            key,
        )?;
        write(
            &cfg.join("kubelet.json"),
            &config::kubelet(
                self.addrs,
                &self.cgroup_root,
                &config::KubeletPaths {
                    client_ca: &self.spec.ca_cert,
                    resolv_conf: &self.dir.join("root/etc/resolv.conf"),
                },
            ),
        )?;
        write(
            &cfg.join("kube-proxy.json"),
            &config::kube_proxy(&self.spec.name, &cfg.join("kube-proxy.kubeconfig")),
        )
    }

    fn start_services(&mut self) -> Result<(), TestbedError> {
        let sockets = net::bind_services(self.init_pid, self.spec.apiserver_port)
            .map_err(TestbedError::Usage)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("kubemedic-testbed-{}", self.spec.name))
            .enable_all()
            .build()
            .map_err(|e| TestbedError::io("node services runtime", e))?;
        let port = self.spec.apiserver_port;
        runtime.spawn(net::serve(sockets, port));
        self.services = Some(runtime);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, NodeProcs> {
        self.procs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `program args` inside the node's namespaces as component `which`, logging to the
    /// node's `/var/log/<component>.log`.
    fn spawn(
        &self,
        which: NodeComponent,
        program: &Path,
        args: Vec<String>,
    ) -> Result<(), TestbedError> {
        let mut full: Vec<String> = self.nsenter_args();
        full.push(program.to_string_lossy().into_owned());
        full.extend(args);
        let process = Process::start(
            &format!("{}/{}", self.spec.name, which.name()),
            Path::new("nsenter"),
            &full,
            &[("PATH".into(), NODE_PATH.into())],
            &self.log_path(which),
        )?;
        *self.lock().slot(which) = Some(process);
        Ok(())
    }

    fn nsenter_args(&self) -> Vec<String> {
        [
            "--target".to_string(),
            self.init_pid.to_string(),
            "--mount".into(),
            "--net".into(),
            "--pid".into(),
            "--uts".into(),
            "--".into(),
        ]
        .into()
    }

    /// Polls `probe` until true; fails early if `which` exits, late after the timeout.
    async fn wait_for<F, Fut>(
        &self,
        which: NodeComponent,
        what: &str,
        mut probe: F,
    ) -> Result<(), TestbedError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + self.spec.timeout;
        loop {
            {
                let mut procs = self.lock();
                if let Some(process) = procs.slot(which)
                    && process.exited().is_some()
                {
                    return Err(process.failure(format!("exited while waiting for {what}")));
                }
            }
            if tokio::time::timeout(Duration::from_secs(10), probe())
                .await
                .unwrap_or(false)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let mut procs = self.lock();
                return Err(match procs.slot(which) {
                    Some(p) => p.failure(format!(
                        "not ready after {:?}: waited for {what}",
                        self.spec.timeout
                    )),
                    None => TestbedError::Timeout {
                        what: what.into(),
                        timeout: self.spec.timeout,
                    },
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The containerd socket as seen from the host.
    pub fn containerd_socket(&self) -> PathBuf {
        self.dir.join("root/run/containerd/containerd.sock")
    }

    /// The directory containerd's CRI plugin reads CNI configs from (`conf_dir`; the node's
    /// `/etc/cni/net.d`), as a path valid on the host and inside the node (a pod's hostPath).
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("etc/cni/net.d")
    }

    fn restart_runtime_script(&self) -> PathBuf {
        self.dir.join("bin/restart-containerd")
    }

    /// The node's `systemctl restart containerd` (it has no systemd), as an argv to run on the
    /// host: it asks the service wrapper that runs containerd to start it again, stops it with
    /// SIGTERM (containers keep running) and returns once the new containerd answers, or fails
    /// after 60 s. This is the command `kubemedic agent --action-command restart-runtime=...`
    /// is given for the node.
    pub fn restart_runtime_command(&self) -> Vec<String> {
        vec![self.restart_runtime_script().to_string_lossy().into_owned()]
    }

    /// Starts containerd (again), under the node's service wrapper (which restarts it when
    /// [`RealNode::restart_runtime_command`] asks), and waits until it answers.
    pub async fn start_containerd(&self) -> Result<(), TestbedError> {
        if self.lock().containerd.is_some() {
            return Err(TestbedError::Usage("containerd is already running".into()));
        }
        let config = self.dir.join("config/containerd.toml");
        self.spawn(
            NodeComponent::Containerd,
            Path::new("bash"),
            vec![
                "-c".into(),
                CONTAINERD_SERVICE.into(),
                "containerd-service".into(),
                self.dir
                    .join("containerd-service")
                    .to_string_lossy()
                    .into_owned(),
                format!("{}", config.display()),
            ],
        )?;
        let socket = self.containerd_socket();
        self.wait_for(NodeComponent::Containerd, "containerd to answer", || {
            let socket = socket.clone();
            async move {
                socket.exists()
                    && tokio::process::Command::new("ctr")
                        .arg("--address")
                        .arg(&socket)
                        .arg("version")
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status()
                        .await
                        .is_ok_and(|s| s.success())
            }
        })
        .await
    }

    /// Stops a component the way `systemctl stop` does (SIGTERM, SIGKILL after 30 s) and
    /// waits until it is gone. Containers keep running when containerd stops (their shims
    /// are their own process groups), as on a real node. Does nothing if it is not running.
    pub async fn stop(&self, which: NodeComponent) {
        let taken = self.lock().slot(which).take();
        if let Some(mut process) = taken {
            sys::kill_group(process.pid(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            while process.exited().is_none() && Instant::now() < deadline {
                tokio::time::sleep(POLL).await;
            }
            process.kill();
        }
    }

    /// Starts the kubelet (again); does not wait for the Node to be Ready.
    pub async fn start_kubelet(&self) -> Result<(), TestbedError> {
        if self.lock().kubelet.is_some() {
            return Err(TestbedError::Usage("the kubelet is already running".into()));
        }
        let cfg = self.dir.join("config");
        self.spawn(
            NodeComponent::Kubelet,
            &self.spec.bin_dir.join("kubelet"),
            vec![
                format!("--config={}", cfg.join("kubelet.json").display()),
                format!("--kubeconfig={}", cfg.join("kubelet.kubeconfig").display()),
                format!("--hostname-override={}", self.spec.name),
                format!("--node-ip={}", self.addrs.node_ip()),
                "--v=2".into(),
            ],
        )
    }

    async fn wait_node_ready(&self, client: &kube::Client) -> Result<(), TestbedError> {
        let nodes: Api<Node> = Api::all(client.clone());
        let name = self.spec.name.clone();
        self.wait_for(
            NodeComponent::Kubelet,
            &format!("node {name} to be Ready"),
            || {
                let nodes = nodes.clone();
                let name = name.clone();
                async move { crate::node_ready(&nodes, &name).await }
            },
        )
        .await
    }

    /// Starts kube-proxy and waits until its rules for the `kubernetes` Service exist.
    pub async fn start_kube_proxy(&self) -> Result<(), TestbedError> {
        if self.lock().kube_proxy.is_some() {
            return Err(TestbedError::Usage("kube-proxy is already running".into()));
        }
        let cfg = self.dir.join("config");
        self.spawn(
            NodeComponent::KubeProxy,
            &self.spec.bin_dir.join("kube-proxy"),
            vec![format!(
                "--config={}",
                cfg.join("kube-proxy.json").display()
            )],
        )?;
        self.wait_for(
            NodeComponent::KubeProxy,
            "kube-proxy's rules for the kubernetes Service",
            || async {
                self.exec(&["iptables", "-t", "nat", "-S", "KUBE-SERVICES"])
                    .await
                    .is_ok_and(|out| out.contains("default/kubernetes"))
            },
        )
        .await
    }

    /// Packs `image` and imports it into the node's containerd (namespace `k8s.io`, where the
    /// kubelet finds it). Pods refer to it by [`Image::reference`].
    pub async fn load_image(&self, image: &Image) -> Result<Packed, TestbedError> {
        let file: String = image
            .reference()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let archive = self.dir.join("images").join(format!("{file}.tar"));
        let packed = {
            let image = image.clone();
            let archive = archive.clone();
            tokio::task::spawn_blocking(move || image.write_archive(&archive))
                .await
                .map_err(|e| TestbedError::Usage(format!("packing the image: {e}")))??
        };
        let out = tokio::process::Command::new("ctr")
            .arg("--address")
            .arg(self.containerd_socket())
            .args(["--namespace", "k8s.io", "images", "import"])
            .arg(&archive)
            .output()
            .await
            .map_err(|e| TestbedError::io("ctr", e))?;
        if !out.status.success() {
            return Err(TestbedError::Usage(format!(
                "ctr images import {} into {}: {}",
                archive.display(),
                self.spec.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(packed)
    }

    /// Runs a command inside the node's namespaces (mount, network, PID, UTS) and returns its
    /// stdout, or an error with its stderr.
    pub async fn exec(&self, command: &[&str]) -> Result<String, TestbedError> {
        let out = tokio::process::Command::new("nsenter")
            .args(self.nsenter_args())
            .args(command)
            .env("PATH", NODE_PATH)
            .output()
            .await
            .map_err(|e| TestbedError::io("nsenter", e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(TestbedError::Usage(format!(
                "{} on {} failed ({}): {}",
                command.join(" "),
                self.spec.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The node's InternalIP (where its kubelet serves).
    pub fn internal_ip(&self) -> std::net::Ipv4Addr {
        self.addrs.node_ip()
    }

    /// The node's addresses (link, pod network).
    pub fn addresses(&self) -> NodeAddresses {
        self.addrs
    }

    /// The node's directory: `root/` holds what the node sees as `/run`, `/var/lib`,
    /// `/var/log` and `/etc/resolv.conf`; `config/` the components' configuration.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file of a component (the node's `/var/log/<component>.log`).
    pub fn log_path(&self, which: NodeComponent) -> PathBuf {
        self.dir
            .join("root/var/log")
            .join(format!("{}.log", which.name()))
    }

    /// The last `lines` lines of a component's log.
    pub fn log_tail(&self, which: NodeComponent, lines: usize) -> String {
        log_tail(&self.log_path(which), lines)
    }

    /// The kubelet's cgroup root (a directory name under each cgroup hierarchy).
    pub fn cgroup_root(&self) -> &str {
        &self.cgroup_root
    }

    /// The pid of the node's init (PID 1 inside the node).
    pub fn init_pid(&self) -> u32 {
        self.init_pid
    }

    /// Every process of the node now, as host pids: those in the node's PID namespace (its
    /// init, containerd, the kubelet, kube-proxy, the shims) and their descendants (the
    /// containers' processes, in nested PID namespaces).
    pub fn processes(&self) -> Vec<u32> {
        let ns_of = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let Some(ours) = ns_of(self.init_pid) else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let parents: std::collections::HashMap<u32, u32> = entries
            .flatten()
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                Some((pid, sys::parent_pid(pid)?))
            })
            .collect();
        let members: std::collections::HashSet<u32> = parents
            .keys()
            .copied()
            .filter(|&p| ns_of(p).as_ref() == Some(&ours))
            .collect();
        let descends = |mut pid: u32| {
            // Bounded walk: a pid reused mid-scan cannot make this loop forever.
            for _ in 0..64 {
                if members.contains(&pid) {
                    return true;
                }
                match parents.get(&pid) {
                    Some(&parent) if parent > 1 => pid = parent,
                    _ => return false,
                }
            }
            false
        };
        let mut pids: Vec<u32> = parents.keys().copied().filter(|&p| descends(p)).collect();
        pids.sort_unstable();
        pids
    }

    /// How long the start took.
    pub fn start_timings(&self) -> NodeTimings {
        self.timings
    }

    /// Pids of the node's processes started by the testbed, as (name, pid): the namespace
    /// holder, its init, and the running components (nsenter wrappers).
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut pids = Vec::new();
        if let Some(holder) = self
            .holder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            pids.push((holder.name.clone(), holder.pid()));
        }
        pids.push((format!("{}/init-ns", self.spec.name), self.init_pid));
        pids.extend(self.lock().all().map(|p| (p.name.clone(), p.pid())));
        pids
    }

    /// Fails with the log tail of any component that exited on its own.
    pub fn check_running(&self) -> Result<(), TestbedError> {
        let mut procs = self.lock();
        for which in [
            NodeComponent::Containerd,
            NodeComponent::Kubelet,
            NodeComponent::KubeProxy,
        ] {
            if let Some(process) = procs.slot(which)
                && process.exited().is_some()
            {
                return Err(process.failure("exited unexpectedly"));
            }
        }
        Ok(())
    }

    /// Stops everything: the components, then the node's init (the kernel then kills every
    /// process left in the node's PID namespace and waits for them), the forwarder, the link,
    /// the cgroups. Idempotent.
    fn teardown(&mut self) {
        {
            let mut procs = self.lock();
            for which in [
                NodeComponent::KubeProxy,
                NodeComponent::Kubelet,
                NodeComponent::Containerd,
            ] {
                if let Some(mut process) = procs.slot(which).take() {
                    process.kill();
                }
            }
        }
        let holder_pid = self
            .holder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Process::pid);
        // Only while it is still the holder's child: otherwise it is gone and the pid may
        // belong to someone else by now.
        if holder_pid.is_some() && sys::parent_pid(self.init_pid) == holder_pid {
            sys::kill_pid(self.init_pid, libc::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while sys::process_alive(self.init_pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(mut holder) = self.holder.lock().unwrap_or_else(|p| p.into_inner()).take() {
            holder.kill();
        }
        if let Some(runtime) = self.services.take() {
            runtime.shutdown_background();
        }
        net::disconnect(self.addrs);
        if let Err(e) = cgroup::remove(&self.cgroup_root, false) {
            eprintln!("kubemedic-testbed: {e}");
        }
    }
}

impl Drop for RealNode {
    fn drop(&mut self) {
        self.teardown();
    }
}
