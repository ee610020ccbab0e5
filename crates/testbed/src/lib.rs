//! A real local Kubernetes control plane for tests: etcd and kube-apiserver on free
//! 127.0.0.1 ports, optionally kube-controller-manager, kube-scheduler, kwok (fake nodes
//! and pod lifecycles) and real nodes (containerd, kubelet, kube-proxy; see [`RealNode`]),
//! all torn down on drop.
//!
//! ```no_run
//! # async fn demo() {
//! use kubemedic_testbed::{Options, Testbed};
//! let Some(tb) = Testbed::start(Options::default()).await else { return };
//! let client: kube::Client = tb.client();
//! # let _ = client;
//! # }
//! ```
//!
//! Children are forked from one long-lived thread with `PR_SET_PDEATHSIG=SIGKILL`, each in its
//! own process group, so they die with the test process even when it is SIGKILLed; working
//! directories live under [`workdir_root`] and those of dead processes are removed by the next
//! [`Testbed::try_start`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod binaries;
mod certs;
pub mod child;
mod error;
pub mod images;
pub mod netlab;
mod node;
pub mod persistent;
mod process;
mod sys;
mod workdir;

use std::future::Future;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::api::{Api, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use binaries::{BIN_DIR_ENV, build_script};
pub use error::TestbedError;
pub use images::{Image, Packed, Workload};
pub use node::{
    CLUSTER_CIDR, CNI_CONFLIST, NodeAddresses, NodeComponent, NodeTimings, PAUSE_IMAGE, RealNode,
    SERVICES_IP,
};
pub use workdir::{reap_orphans, root as workdir_root};

use certs::{ClientCert, Pki};
use process::Process;
use workdir::WorkDir;

/// Environment variable that turns "testbed unavailable, skipping" into a panic.
pub const REQUIRE_ENV: &str = "KUBEMEDIC_REQUIRE_TESTBED";

/// Annotation kwok uses to pick the nodes it manages.
pub const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// Label (with the value [`KWOK_CUSTOM_STATUS_VALUE`]) that tells kwok to leave a pod's or
/// node's status alone: the test writes it itself (kwok's pod stages manage only ~10 pods/s
/// under bulk load, and would overwrite a status written before they got to the pod).
pub const KWOK_CUSTOM_STATUS_LABEL: &str = "kwok.x-k8s.io/status";

/// Value of [`KWOK_CUSTOM_STATUS_LABEL`].
pub const KWOK_CUSTOM_STATUS_VALUE: &str = "custom";

/// Node stages for kwok (it ships none): initialise nodes Ready, heartbeat via Leases,
/// pods Running, Jobs' pods Succeeded, deleted pods removed.
const KWOK_STAGES: &str = include_str!("../kwok/stages.yaml");

/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);

/// Service CIDR given to the apiserver and controller-manager.
const SERVICE_CIDR: &str = "10.0.0.0/24";

/// What to start besides etcd and kube-apiserver.
#[derive(Debug, Clone)]
pub struct Options {
    /// Also start kube-controller-manager (all default controllers) and kube-scheduler.
    pub controllers: bool,
    /// Start kwok and create this many fake nodes `kwok-node-0..N-1`, waiting until Ready.
    pub kwok_nodes: usize,
    /// How long each component may take to become ready.
    pub start_timeout: Duration,
    /// Extra kube-apiserver flags (e.g. `--feature-gates=...`), appended last.
    pub apiserver_args: Vec<String>,
    /// Extra kube-controller-manager flags (e.g. `--node-monitor-grace-period=10s`),
    /// appended last.
    pub controller_manager_args: Vec<String>,
    /// Start this many real nodes `real-node-0..N-1` (containerd, kubelet, kube-proxy; needs
    /// root and the packages `scripts/setup.sh` installs), Ready before `start` returns.
    pub real_nodes: usize,
    /// Images loaded into every real node before its kubelet starts (the pause image always
    /// is). More can be loaded later with [`RealNode::load_image`].
    pub node_images: Vec<Image>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            controllers: false,
            kwok_nodes: 0,
            start_timeout: Duration::from_secs(120),
            apiserver_args: Vec::new(),
            controller_manager_args: Vec::new(),
            real_nodes: 0,
            node_images: Vec::new(),
        }
    }
}

/// How long each phase of [`Testbed::try_start`] took (the last successful attempt).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StartTimings {
    /// Certificates, keys and kubeconfigs generated.
    pub certificates: Duration,
    /// etcd spawned until its /health answers true.
    pub etcd: Duration,
    /// kube-apiserver spawned until /readyz answers ok and namespace default exists.
    pub apiserver: Duration,
    /// Controller-manager and scheduler spawned until the default ServiceAccount exists
    /// (zero without controllers).
    pub controllers: Duration,
    /// kwok spawned and the fake nodes created until all are Ready (zero without nodes).
    pub nodes: Duration,
    /// Real nodes started until all are Ready with kube-proxy's rules in place (zero without).
    pub real_nodes: Duration,
    /// All of the above: first process spawned to everything ready.
    pub total: Duration,
}

/// The running processes of one testbed.
#[derive(Debug, Default)]
struct Procs {
    etcd: Option<Process>,
    apiserver: Option<Process>,
    controller_manager: Option<Process>,
    scheduler: Option<Process>,
    kwok: Option<Process>,
}

impl Procs {
    fn all(&self) -> impl Iterator<Item = &Process> {
        [
            &self.etcd,
            &self.apiserver,
            &self.controller_manager,
            &self.scheduler,
            &self.kwok,
        ]
        .into_iter()
        .flatten()
    }

    fn slot(&mut self, which: Component) -> &mut Option<Process> {
        match which {
            Component::Etcd => &mut self.etcd,
            Component::Apiserver => &mut self.apiserver,
            Component::ControllerManager => &mut self.controller_manager,
            Component::Scheduler => &mut self.scheduler,
            Component::Kwok => &mut self.kwok,
        }
    }
}

/// A control-plane component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Component {
    Etcd,
    Apiserver,
    ControllerManager,
    Scheduler,
    Kwok,
}

impl Component {
    fn binary(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::Apiserver => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::Kwok => "kwok",
        }
    }
}

/// A running control plane. Dropping it kills every process and removes its directory.
pub struct Testbed {
    procs: Mutex<Procs>,
    bin_dir: PathBuf,
    pki: Pki,
    apiserver_port: u16,
    etcd_port: u16,
    etcd_peer_port: u16,
    kubeconfig: PathBuf,
    /// Client configuration; each [`Testbed::client`] call builds a fresh client from it.
    config: kube::Config,
    opts: Options,
    /// Index of the next kwok node to create.
    next_node: Mutex<usize>,
    timings: StartTimings,
    /// Real nodes; stopped first on drop.
    real_nodes: Vec<RealNode>,
    // Declared last so the processes above are killed before their directory is removed.
    dir: WorkDir,
}

impl std::fmt::Debug for Testbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testbed")
            .field("server", &self.server_url())
            .field("dir", &self.dir.path())
            .field("pids", &self.pids())
            .finish_non_exhaustive()
    }
}

impl Testbed {
    /// Starts a testbed. Returns `None` (after printing one line to stderr) when the
    /// binaries are unavailable — Go missing or `testbed/build` failing — unless
    /// `KUBEMEDIC_REQUIRE_TESTBED=1`, which panics instead. Any other failure (a component
    /// that does not come up) panics with the component's last log lines: that is a bug, not
    /// a missing tool.
    pub async fn start(opts: Options) -> Option<Testbed> {
        match Self::try_start(opts).await {
            Ok(tb) => Some(tb),
            Err(TestbedError::Unavailable(reason)) if !required() => {
                let _ = writeln!(
                    std::io::stderr(),
                    "kubemedic-testbed: testbed unavailable ({reason}); skipping"
                );
                None
            }
            Err(e @ TestbedError::Unavailable(_)) => {
                panic!("kubemedic-testbed: testbed required ({REQUIRE_ENV}=1) but unavailable: {e}")
            }
            Err(e) => panic!("kubemedic-testbed: cannot start the testbed: {e}"),
        }
    }

    /// Starts a testbed, returning why it could not.
    pub async fn try_start(opts: Options) -> Result<Testbed, TestbedError> {
        reap_orphans();
        let bin_dir = binaries::bin_dir().await?;
        if opts.real_nodes > 0
            && let Some(why) = node::unavailable(&bin_dir)
        {
            return Err(TestbedError::Unavailable(why));
        }
        // Free ports are found by binding :0 and releasing; another process can grab one in
        // between, so a start that fails on a taken port is retried with new ports.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(&opts, &bin_dir).await {
                Err(TestbedError::ComponentFailed { tail, .. })
                    if attempt < 4 && tail.contains("address already in use") =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }

    async fn start_once(opts: &Options, bin_dir: &Path) -> Result<Testbed, TestbedError> {
        let begin = Instant::now();
        let dir = WorkDir::create()?;
        let node_names: Vec<String> = (0..opts.real_nodes)
            .map(|i| format!("real-node-{i}"))
            .collect();
        let pki = certs::generate(dir.path(), &node_names)?;
        let [apiserver_port, etcd_port, etcd_peer_port] = free_ports()?;
        let server = format!("https://127.0.0.1:{apiserver_port}");
        let kubeconfig = dir.path().join("kubeconfig");
        write_kubeconfig(&kubeconfig, &server, &pki.ca_cert, &pki.admin)?;
        write_kubeconfig(
            &dir.path().join("controller-manager.kubeconfig"),
            &server,
            &pki.ca_cert,
            &pki.controller_manager,
        )?;
        write_kubeconfig(
            &dir.path().join("scheduler.kubeconfig"),
            &server,
            &pki.ca_cert,
            &pki.scheduler,
        )?;
        let config = config_for(&kubeconfig).await?;
        // Fail now rather than in `client()` if the TLS setup is unusable.
        kube::Client::try_from(config.clone())?;
        let mut tb = Testbed {
            procs: Mutex::new(Procs::default()),
            bin_dir: bin_dir.to_path_buf(),
            pki,
            apiserver_port,
            etcd_port,
            etcd_peer_port,
            kubeconfig,
            config,
            opts: opts.clone(),
            next_node: Mutex::new(0),
            timings: StartTimings::default(),
            real_nodes: Vec::new(),
            dir,
        };
        let mut timings = StartTimings {
            certificates: begin.elapsed(),
            ..StartTimings::default()
        };
        let mut phase = Instant::now();
        let first_spawn = phase;
        tb.start_etcd().await?;
        timings.etcd = phase.elapsed();
        phase = Instant::now();
        tb.start_apiserver().await?;
        timings.apiserver = phase.elapsed();
        if opts.controllers {
            phase = Instant::now();
            tb.start_controllers().await?;
            timings.controllers = phase.elapsed();
        }
        if opts.kwok_nodes > 0 {
            phase = Instant::now();
            tb.add_nodes(opts.kwok_nodes).await?;
            timings.nodes = phase.elapsed();
        }
        if opts.real_nodes > 0 {
            phase = Instant::now();
            tb.start_real_nodes().await?;
            timings.real_nodes = phase.elapsed();
        }
        timings.total = first_spawn.elapsed();
        tb.timings = timings;
        Ok(tb)
    }

    /// How long the start took, phase by phase.
    pub fn start_timings(&self) -> StartTimings {
        self.timings
    }

    /// The control-plane binaries' directory, building them if needed; `None` (after one
    /// line on stderr) when unavailable, with the same `KUBEMEDIC_REQUIRE_TESTBED` rule as
    /// [`Testbed::start`]. For tests that need the binaries but not a running testbed.
    pub async fn binaries() -> Option<PathBuf> {
        match binaries::bin_dir().await {
            Ok(dir) => Some(dir),
            Err(e) => {
                if required() {
                    panic!(
                        "kubemedic-testbed: testbed required ({REQUIRE_ENV}=1) but unavailable: {e}"
                    );
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "kubemedic-testbed: testbed unavailable ({e}); skipping"
                );
                None
            }
        }
    }

    /// Whether a real node can run here (root, the packages, the built binaries); when not,
    /// prints one line saying why and returns false, or panics under
    /// `KUBEMEDIC_REQUIRE_TESTBED=1`. For tests that check real nodes without starting one
    /// through [`Testbed::start`] (which applies the same rule itself).
    pub async fn real_nodes_supported() -> bool {
        let Some(bin_dir) = Self::binaries().await else {
            return false;
        };
        match node::unavailable(&bin_dir) {
            None => true,
            Some(why) if required() => {
                panic!(
                    "kubemedic-testbed: testbed required ({REQUIRE_ENV}=1) but unavailable: {why}"
                )
            }
            Some(why) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "kubemedic-testbed: testbed unavailable ({why}); skipping"
                );
                false
            }
        }
    }

    /// A new client authenticated as cluster admin (group `system:masters`). Call it inside
    /// the tokio runtime that will use the client: a `kube::Client` runs a background task
    /// on the runtime it was created in and stops working when that runtime ends, so a
    /// testbed shared between `#[tokio::test]`s must not hand out one client to all.
    pub fn client(&self) -> kube::Client {
        match kube::Client::try_from(self.config.clone()) {
            Ok(client) => client,
            // The same configuration built a client in `try_start`; it cannot fail now.
            Err(e) => panic!("kubemedic-testbed: building a client from a checked config: {e}"),
        }
    }

    /// A kubeconfig file for the admin user (certificate files referenced by path).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The apiserver's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.apiserver_port)
    }

    /// The etcd client URL.
    pub fn etcd_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.etcd_port)
    }

    /// The testbed's working directory (certificates, logs `<component>.log`, etcd data).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The directory holding the control-plane binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The CA certificate that signed the apiserver's serving and client certificates.
    pub fn ca_cert_path(&self) -> &Path {
        &self.pki.ca_cert
    }

    /// Pids of the running processes the testbed started, as (component, pid): the control
    /// plane, then each real node's (see [`RealNode::pids`]).
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut pids: Vec<(String, u32)> = self
            .lock()
            .all()
            .map(|p| (p.name.clone(), p.pid()))
            .collect();
        for node in &self.real_nodes {
            pids.extend(node.pids());
        }
        pids
    }

    /// The real nodes, in start order.
    pub fn real_nodes(&self) -> &[RealNode] {
        &self.real_nodes
    }

    /// The first real node. Panics when the testbed was started without
    /// `Options::real_nodes` (a mistake in the test, not a condition to handle).
    pub fn real_node(&self) -> &RealNode {
        match self.real_nodes.first() {
            Some(node) => node,
            None => panic!(
                "kubemedic-testbed: no real node: start with Options {{ real_nodes: 1, .. }}"
            ),
        }
    }

    /// Starts the real nodes one after the other (each waits for Ready).
    async fn start_real_nodes(&mut self) -> Result<(), TestbedError> {
        let client = self.client();
        for (name, cert) in self.pki.nodes.clone() {
            // The apiserver authorizes with RBAC only: the node's user gets the system:node
            // role (kube-proxy's user already has system:node-proxier by default).
            let binding: k8s_openapi::api::rbac::v1::ClusterRoleBinding =
                serde_json::from_value(serde_json::json!({
                    "metadata": { "name": format!("kubemedic-testbed:node:{name}") },
                    "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node" },
                    "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": format!("system:node:{name}") }],
                }))
                .map_err(|e| TestbedError::Usage(format!("node role binding: {e}")))?;
            Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(client.clone())
                .create(&PostParams::default(), &binding)
                .await?;
            let spec = node::NodeSpec {
                name: name.clone(),
                testbed_dir: self.dir.path().to_path_buf(),
                bin_dir: self.bin_dir.clone(),
                apiserver_port: self.apiserver_port,
                ca_cert: self.pki.ca_cert.clone(),
                node_cert: (cert.cert.clone(), cert.key.clone()),
                proxy_cert: (
                    self.pki.kube_proxy.cert.clone(),
                    self.pki.kube_proxy.key.clone(),
                ),
                images: self.opts.node_images.clone(),
                timeout: self.opts.start_timeout,
            };
            let node = node::RealNode::start(spec, client.clone()).await?;
            self.real_nodes.push(node);
            self.record_pids();
        }
        Ok(())
    }

    /// Kills kube-apiserver (SIGKILL, like a crash) and waits until it is gone; etcd and
    /// the other components keep running. Does nothing if it is not running.
    pub async fn stop_apiserver(&self) {
        let taken = self.lock().apiserver.take();
        if let Some(mut apiserver) = taken {
            // Reaping blocks only for the moment the kernel needs to deliver SIGKILL.
            apiserver.kill();
        }
        self.record_pids();
    }

    /// (Re)starts kube-apiserver on the same port with the same etcd and certificates and
    /// waits until `/readyz` answers ok.
    pub async fn start_apiserver(&self) -> Result<(), TestbedError> {
        if self.lock().apiserver.is_some() {
            return Err(TestbedError::Usage(
                "kube-apiserver is already running".into(),
            ));
        }
        let args = self.apiserver_args();
        self.spawn(Component::Apiserver, args, Vec::new())?;
        let client = self.client();
        self.wait_ready(Component::Apiserver, "/readyz to answer ok", || {
            let client = client.clone();
            async move { readyz(&client).await }
        })
        .await?;
        // The bootstrap controller creates the "default" namespace shortly after /readyz.
        let namespaces: Api<Namespace> = Api::all(self.client());
        self.wait_ready(Component::Apiserver, "namespace default to exist", || {
            let namespaces = namespaces.clone();
            async move { matches!(namespaces.get_opt("default").await, Ok(Some(_))) }
        })
        .await
    }

    /// Fails with the component's log tail if any started process has exited (a stopped
    /// apiserver does not count).
    pub fn check_running(&self) -> Result<(), TestbedError> {
        let mut procs = self.lock();
        for which in [
            Component::Etcd,
            Component::Apiserver,
            Component::ControllerManager,
            Component::Scheduler,
            Component::Kwok,
        ] {
            if let Some(process) = procs.slot(which)
                && process.exited().is_some()
            {
                return Err(process.failure("exited unexpectedly"));
            }
        }
        Ok(())
    }

    /// Whether kube-apiserver is currently running (not stopped by [`Self::stop_apiserver`]).
    pub fn apiserver_running(&self) -> bool {
        self.lock().apiserver.is_some()
    }

    /// Creates `n` more kwok-managed fake nodes (`kwok-node-<i>`) and waits until they are
    /// Ready, starting kwok first if it is not running. Returns the new nodes' names.
    pub async fn add_nodes(&self, n: usize) -> Result<Vec<String>, TestbedError> {
        if self.lock().kwok.is_none() {
            self.start_kwok()?;
        }
        let first = {
            let mut next = self
                .next_node
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let first = *next;
            *next += n;
            first
        };
        let nodes: Api<Node> = Api::all(self.client());
        let mut names = Vec::with_capacity(n);
        for i in first..first + n {
            let name = format!("kwok-node-{i}");
            let node: Node = serde_json::from_value(fake_node(&name))
                .map_err(|e| TestbedError::Usage(format!("fake node manifest: {e}")))?;
            nodes.create(&PostParams::default(), &node).await?;
            names.push(name);
        }
        for name in &names {
            let nodes = nodes.clone();
            self.wait_ready(Component::Kwok, &format!("node {name} to be Ready"), || {
                let nodes = nodes.clone();
                let name = name.clone();
                async move { node_ready(&nodes, &name).await }
            })
            .await?;
        }
        Ok(names)
    }

    /// Stops kwok from managing node `name` (removes its `kwok.x-k8s.io/node` annotation), so
    /// the test alone controls its status: kwok resets a managed node whose Ready condition
    /// is not True back to Ready within a second, so a NotReady node must be detached first.
    /// Its Lease is no longer renewed either; with controllers, the node-lifecycle controller
    /// marks it Unknown after `--node-monitor-grace-period` (50 s by default).
    pub async fn detach_node(&self, name: &str) -> Result<(), TestbedError> {
        self.annotate_node(name, serde_json::Value::Null).await
    }

    /// Hands node `name` back to kwok (re-adds the annotation); kwok makes it Ready again.
    pub async fn reattach_node(&self, name: &str) -> Result<(), TestbedError> {
        self.annotate_node(name, serde_json::Value::from("fake"))
            .await
    }

    async fn annotate_node(
        &self,
        name: &str,
        value: serde_json::Value,
    ) -> Result<(), TestbedError> {
        let nodes: Api<Node> = Api::all(self.client());
        let patch = serde_json::json!({
            "metadata": { "annotations": { KWOK_NODE_ANNOTATION: value } }
        });
        nodes
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Procs> {
        // A panic while holding the lock leaves the process table consistent enough to kill.
        self.procs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record_pids(&self) {
        let pids: Vec<u32> = self.pids().into_iter().map(|(_, pid)| pid).collect();
        self.dir.record_pids(&pids);
    }

    fn spawn(
        &self,
        which: Component,
        args: Vec<String>,
        envs: Vec<(String, String)>,
    ) -> Result<(), TestbedError> {
        let name = which.binary();
        let log = self.dir.path().join(format!("{name}.log"));
        let process = Process::start(name, &self.bin_dir.join(name), &args, &envs, &log)?;
        *self.lock().slot(which) = Some(process);
        self.record_pids();
        Ok(())
    }

    /// Polls `probe` until it returns true, failing early if `which` exits and late after
    /// the start timeout, with the component's log tail either way.
    async fn wait_ready<F, Fut>(
        &self,
        which: Component,
        what: &str,
        mut probe: F,
    ) -> Result<(), TestbedError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let timeout = self.opts.start_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut procs = self.lock();
                for component in [which, Component::Etcd, Component::Apiserver] {
                    if let Some(process) = procs.slot(component)
                        && process.exited().is_some()
                    {
                        return Err(process.failure(format!("exited while waiting for {what}")));
                    }
                }
            }
            if tokio::time::timeout(Duration::from_secs(5), probe())
                .await
                .unwrap_or(false)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let mut procs = self.lock();
                return Err(match procs.slot(which) {
                    Some(process) => {
                        process.failure(format!("not ready after {timeout:?}: waited for {what}"))
                    }
                    None => TestbedError::Timeout {
                        what: what.to_string(),
                        timeout,
                    },
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn start_etcd(&self) -> Result<(), TestbedError> {
        let peer = format!("http://127.0.0.1:{}", self.etcd_peer_port);
        let client_url = self.etcd_url();
        let args = vec![
            "--name=testbed".to_string(),
            format!("--data-dir={}", self.dir.path().join("etcd").display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=testbed={peer}"),
            // Test data is thrown away; fsync only costs time.
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ];
        self.spawn(Component::Etcd, args, Vec::new())?;
        let port = self.etcd_port;
        self.wait_ready(Component::Etcd, "etcd /health", || etcd_healthy(port))
            .await
    }

    fn apiserver_args(&self) -> Vec<String> {
        let pki = &self.pki;
        let mut args = vec![
            format!("--etcd-servers={}", self.etcd_url()),
            "--bind-address=127.0.0.1".to_string(),
            format!("--secure-port={}", self.apiserver_port),
            format!(
                "--cert-dir={}",
                self.dir.path().join("apiserver-certs").display()
            ),
            format!("--tls-cert-file={}", pki.serving.cert.display()),
            format!("--tls-private-key-file={}", pki.serving.key.display()),
            format!("--client-ca-file={}", pki.ca_cert.display()),
            format!("--service-account-key-file={}", pki.sa_pub.display()),
            format!(
                "--service-account-signing-key-file={}",
                pki.sa_key.display()
            ),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--authorization-mode=RBAC".to_string(),
            "--allow-privileged=true".to_string(),
            "--profiling=false".to_string(),
            format!(
                "--kubelet-client-certificate={}",
                pki.kubelet_client.cert.display()
            ),
            format!("--kubelet-client-key={}", pki.kubelet_client.key.display()),
        ];
        if self.opts.real_nodes > 0 {
            // Real nodes and their pods reach the apiserver at SERVICES_IP inside each node
            // (forwarded to 127.0.0.1), so that is what the `kubernetes` Service points at.
            args.push(format!("--advertise-address={}", node::SERVICES_IP));
            args.push("--kubelet-preferred-address-types=InternalIP,Hostname".to_string());
        } else {
            // The endpoint reconciler refuses a loopback advertise address; without real
            // nodes nothing reaches the apiserver through the `kubernetes` Service anyway.
            args.push("--advertise-address=127.0.0.1".to_string());
            args.push("--endpoint-reconciler-type=none".to_string());
        }
        if !self.opts.controllers {
            // The ServiceAccount admission plugin rejects pods until the controller-manager
            // has created the namespace's "default" ServiceAccount; without controllers it
            // never would.
            args.push("--disable-admission-plugins=ServiceAccount".to_string());
        }
        args.extend(self.opts.apiserver_args.iter().cloned());
        args
    }

    async fn start_controllers(&self) -> Result<(), TestbedError> {
        let pki = &self.pki;
        let dir = self.dir.path();
        let kcm = vec![
            format!(
                "--kubeconfig={}",
                dir.join("controller-manager.kubeconfig").display()
            ),
            "--leader-elect=false".to_string(),
            "--controllers=*".to_string(),
            "--use-service-account-credentials=true".to_string(),
            format!(
                "--service-account-private-key-file={}",
                pki.sa_key.display()
            ),
            format!("--root-ca-file={}", pki.ca_cert.display()),
            format!("--cluster-signing-cert-file={}", pki.ca_cert.display()),
            format!("--cluster-signing-key-file={}", pki.ca_key.display()),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            // No HTTPS endpoint: nothing scrapes it, and a fixed default port would collide
            // between parallel testbeds.
            "--secure-port=0".to_string(),
        ];
        let kcm = kcm
            .into_iter()
            .chain(self.opts.controller_manager_args.iter().cloned())
            .collect();
        self.spawn(Component::ControllerManager, kcm, Vec::new())?;
        let scheduler = vec![
            format!(
                "--kubeconfig={}",
                dir.join("scheduler.kubeconfig").display()
            ),
            "--leader-elect=false".to_string(),
            "--secure-port=0".to_string(),
        ];
        self.spawn(Component::Scheduler, scheduler, Vec::new())?;
        // The service-account controller creating "default" in "default" shows the
        // controller-manager is up and its informers have synced.
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client(), "default");
        self.wait_ready(
            Component::ControllerManager,
            "service account default/default",
            || {
                let accounts = accounts.clone();
                async move { matches!(accounts.get_opt("default").await, Ok(Some(_))) }
            },
        )
        .await?;
        let mut procs = self.lock();
        if let Some(scheduler) = procs.scheduler.as_mut()
            && scheduler.exited().is_some()
        {
            return Err(scheduler.failure("exited during start"));
        }
        Ok(())
    }

    fn start_kwok(&self) -> Result<(), TestbedError> {
        let dir = self.dir.path();
        let stages = dir.join("kwok.yaml");
        std::fs::write(&stages, KWOK_STAGES).map_err(|e| TestbedError::io(&stages, e))?;
        let workdir = dir.join("kwok");
        std::fs::create_dir_all(&workdir).map_err(|e| TestbedError::io(&workdir, e))?;
        let args = vec![
            format!("--kubeconfig={}", self.kubeconfig.display()),
            format!("--config={}", stages.display()),
            "--manage-all-nodes=false".to_string(),
            format!("--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake"),
            "--node-lease-duration-seconds=40".to_string(),
            "--cidr=10.244.0.1/16".to_string(),
            "--node-ip=10.244.0.1".to_string(),
            format!(
                "--disregard-status-with-label-selector={KWOK_CUSTOM_STATUS_LABEL}={KWOK_CUSTOM_STATUS_VALUE}"
            ),
        ];
        // kwok otherwise also loads ~/.kwok/kwok.yaml.
        let envs = vec![(
            "KWOK_WORKDIR".to_string(),
            workdir.to_string_lossy().into_owned(),
        )];
        self.spawn(Component::Kwok, args, envs)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // Real nodes first: they depend on the control plane, nothing depends on them.
        self.real_nodes.clear();
        // Kill in reverse dependency order so nothing logs a storm of connection errors.
        let mut procs = self.lock();
        for which in [
            Component::Kwok,
            Component::Scheduler,
            Component::ControllerManager,
            Component::Apiserver,
            Component::Etcd,
        ] {
            if let Some(mut process) = procs.slot(which).take() {
                process.kill();
            }
        }
        // `dir` is dropped after this, removing the working directory.
    }
}

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Picks distinct free ports on 127.0.0.1 (holding all listeners until all are chosen).
fn free_ports<const N: usize>() -> Result<[u16; N], TestbedError> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in ports.iter_mut() {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| TestbedError::io("127.0.0.1:0", e))?;
        *port = listener
            .local_addr()
            .map_err(|e| TestbedError::io("127.0.0.1:0", e))?
            .port();
        listeners.push(listener);
    }
    Ok(ports)
}

fn write_kubeconfig(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &ClientCert,
) -> Result<(), TestbedError> {
    write_kubeconfig_files(path, server, ca, &user.cert, &user.key)
}

/// Writes a kubeconfig for `server` authenticating with the certificate and key files.
pub(crate) fn write_kubeconfig_files(
    path: &Path,
    server: &str,
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<(), TestbedError> {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "kubemedic-testbed",
            "cluster": { "server": server, "certificate-authority": ca },
        }],
        "users": [{
            "name": "testbed-user",
            "user": { "client-certificate": cert, "client-key": key },
        }],
        "contexts": [{
            "name": "kubemedic-testbed",
            "context": { "cluster": "kubemedic-testbed", "user": "testbed-user" },
        }],
        "current-context": "kubemedic-testbed",
    });
    let text = serde_json::to_string_pretty(&config).map_err(|e| TestbedError::Kubeconfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|e| TestbedError::io(path, e))
}

/// A client for the kubeconfig at `path`.
async fn config_for(path: &Path) -> Result<kube::Config, TestbedError> {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(path).map_err(|e| TestbedError::Kubeconfig {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| TestbedError::Kubeconfig {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

async fn readyz(client: &kube::Client) -> bool {
    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
        return false;
    };
    matches!(client.request_text(request).await, Ok(body) if body.trim() == "ok")
}

/// Asks etcd's /health over plain HTTP/1.0 (no client library needed for one GET).
async fn etcd_healthy(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    if stream.read_to_string(&mut response).await.is_err() {
        return false;
    }
    response.contains("\"health\":\"true\"")
}

pub(crate) async fn node_ready(nodes: &Api<Node>, name: &str) -> bool {
    let Ok(node) = nodes.get(name).await else {
        return false;
    };
    node.status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The manifest of a kwok-managed fake node.
fn fake_node(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_NODE_ANNOTATION: "fake",
                "node.alpha.kubernetes.io/ttl": "0",
            },
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "allocatable": { "cpu": "32", "memory": "256Gi", "pods": "110" },
            "capacity": { "cpu": "32", "memory": "256Gi", "pods": "110" },
        },
    })
}
