//! The configuration files of a real node: containerd, the CNI network, the kubelet and
//! kube-proxy. Pure text generation, so every setting that passes one of the machine's traps
//! (see `docs/testbed.md`) is pinned by a unit test.

use std::net::Ipv4Addr;
use std::path::Path;

/// The image the kubelet runs as every pod's sandbox; the testbed packs and imports it.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";

/// Address present in every node's network namespace (on `lo`) where the testbed serves the
/// apiserver (a TCP forwarder to its 127.0.0.1 port) and DNS. It is the apiserver's advertise
/// address, so the `kubernetes` Service's endpoint leads pods there too.
pub const SERVICES_IP: Ipv4Addr = Ipv4Addr::new(10, 215, 0, 1);

/// The pod networks of all real nodes (node `k` gets `10.214.k.0/24`).
pub const CLUSTER_CIDR: &str = "10.214.0.0/16";

/// The cluster domain given to pods.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// The addresses of node slot `k`: the veth link to the host and the pod network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeAddresses {
    /// Slot number, 0..=255; also the host-side interface's suffix.
    pub slot: u8,
}

impl NodeAddresses {
    /// The host's end of the veth link (the node's default gateway).
    pub fn host_ip(self) -> Ipv4Addr {
        Ipv4Addr::new(10, 200, self.slot, 1)
    }

    /// The node's end of the veth link: its InternalIP, where the kubelet serves.
    pub fn node_ip(self) -> Ipv4Addr {
        Ipv4Addr::new(10, 200, self.slot, 2)
    }

    /// The link's prefix length.
    pub fn link_prefix(self) -> u8 {
        24
    }

    /// The node's pod network, `10.214.k.0/24`.
    pub fn pod_cidr(self) -> String {
        format!("10.214.{}.0/24", self.slot)
    }

    /// The host-side veth interface name (at most 15 characters).
    pub fn host_link(self) -> String {
        format!("{HOST_LINK_PREFIX}{}", self.slot)
    }
}

/// Prefix of the host-side veth interfaces of real nodes.
pub const HOST_LINK_PREFIX: &str = "kmtb";

/// containerd 1.6's configuration (version 2 format; the keys used are the same in 2.x).
///
/// `restrict_oom_score_adj`: the VM's capability bounding set lacks CAP_SYS_RESOURCE, so runc
/// cannot lower a sandbox's `oom_score_adj` to -998 and every sandbox fails without it.
pub fn containerd(cni_conf_dir: &Path, cni_bin_dir: &Path) -> String {
    format!(
        r#"version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
# Plugins that would touch paths outside the node's directory or need kernel features this
# testbed does not use.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{bin}"
    conf_dir = "{conf}"
"#,
        bin = cni_bin_dir.display(),
        conf = cni_conf_dir.display(),
    )
}

/// The CNI network: a bridge with host-local addresses from the node's pod network, and
/// portmap for hostPort pods (containerd adds loopback itself). The bridge, its iptables rules
/// and `ip_forward` live in the node's own network namespace.
pub fn cni_conflist(addrs: NodeAddresses) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "kubemedic-testbed",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": addrs.pod_cidr() }]],
                    "routes": [{ "dst": "0.0.0.0/0" }],
                },
            },
            { "type": "portmap", "capabilities": { "portMappings": true } },
        ],
    })
    .to_string()
}

/// Where a node's kubelet finds its files.
#[derive(Debug, Clone)]
pub struct KubeletPaths<'a> {
    /// The CA that signed the apiserver's client certificates (kubelet authentication).
    pub client_ca: &'a Path,
    /// resolv.conf given to pods.
    pub resolv_conf: &'a Path,
}

/// The kubelet's configuration file.
///
/// cgroup v1 (the VM has no usable cgroup2): `failCgroupV1: false` with the cgroupfs driver.
/// `cgroupRoot` is the node's own, so pods of concurrent nodes and the host never share cgroups.
/// `makeIPTablesUtilChains: false`: kube-proxy owns the node's rules. Image GC and eviction are
/// effectively off: the host's disk is not the node's to manage, and the testbed's images
/// come from no registry, so a collected image could not come back.
pub fn kubelet(addrs: NodeAddresses, cgroup_root: &str, paths: &KubeletPaths<'_>) -> String {
    serde_json::json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": false,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": format!("/{cgroup_root}"),
        "failSwapOn": false,
        "makeIPTablesUtilChains": false,
        "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
        "address": addrs.node_ip().to_string(),
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": { "enabled": false },
            "webhook": { "enabled": true },
            "x509": { "clientCAFile": paths.client_ca },
        },
        "authorization": { "mode": "Webhook" },
        "clusterDNS": [SERVICES_IP.to_string()],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": paths.resolv_conf,
        "podCIDR": addrs.pod_cidr(),
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "serializeImagePulls": false,
        "registerNode": true,
        "staticPodPath": "",
        "protectKernelDefaults": false,
        "nodeStatusUpdateFrequency": "10s",
        "nodeStatusReportFrequency": "1m",
    })
    .to_string()
}

/// kube-proxy's configuration: iptables mode in the node's network namespace.
///
/// `oomScoreAdj: 0` (no CAP_SYS_RESOURCE to lower it); conntrack settings left alone, since
/// `nf_conntrack_max` is global to the machine; `localhostNodePorts: false` so it does not set
/// `route_localnet`.
pub fn kube_proxy(node_name: &str, kubeconfig: &Path) -> String {
    serde_json::json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": { "kubeconfig": kubeconfig },
        "hostnameOverride": node_name,
        "clusterCIDR": CLUSTER_CIDR,
        "oomScoreAdj": 0,
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": { "localhostNodePorts": false },
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "0.0.0.0:10256",
    })
    .to_string()
}

/// The resolv.conf of the node and its pods: the testbed's DNS answers every name with
/// NXDOMAIN at once, so a missing registry fails the way it does on a real cluster
/// (`no such host`) instead of after DNS timeouts.
pub fn resolv_conf() -> String {
    format!("nameserver {SERVICES_IP}\noptions timeout:1 attempts:1\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn addresses_of_a_slot() {
        let a = NodeAddresses { slot: 7 };
        assert_eq!(a.host_ip().to_string(), "10.200.7.1");
        assert_eq!(a.node_ip().to_string(), "10.200.7.2");
        assert_eq!(a.pod_cidr(), "10.214.7.0/24");
        assert_eq!(a.host_link(), "kmtb7");
        assert!(NodeAddresses { slot: 255 }.host_link().len() <= 15);
    }

    #[test]
    fn containerd_passes_the_oom_score_trap_and_uses_the_pause_image() {
        let text = containerd(Path::new("/n/etc/cni/net.d"), Path::new("/usr/lib/cni"));
        assert!(text.contains("restrict_oom_score_adj = true"));
        assert!(text.contains(&format!("sandbox_image = \"{PAUSE_IMAGE}\"")));
        assert!(text.contains("conf_dir = \"/n/etc/cni/net.d\""));
        assert!(text.contains("SystemdCgroup = false"));
    }

    #[test]
    fn cni_uses_the_nodes_pod_network() {
        let v = json(&cni_conflist(NodeAddresses { slot: 3 }));
        assert_eq!(v["plugins"][0]["type"], "bridge");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.214.3.0/24"
        );
        assert_eq!(v["plugins"][1]["type"], "portmap");
    }

    #[test]
    fn kubelet_passes_the_cgroup_v1_and_iptables_traps() {
        let v = json(&kubelet(
            NodeAddresses { slot: 0 },
            "kubemedic-testbed-1-2-0-real-node-0",
            &KubeletPaths {
                client_ca: Path::new("/pki/ca.crt"),
                resolv_conf: Path::new("/n/resolv.conf"),
            },
        ));
        assert_eq!(v["failCgroupV1"], false);
        assert_eq!(v["cgroupDriver"], "cgroupfs");
        assert_eq!(v["cgroupRoot"], "/kubemedic-testbed-1-2-0-real-node-0");
        assert_eq!(v["failSwapOn"], false);
        assert_eq!(v["makeIPTablesUtilChains"], false);
        assert_eq!(v["address"], "10.200.0.2");
        assert_eq!(v["authentication"]["anonymous"]["enabled"], false);
        assert_eq!(v["authorization"]["mode"], "Webhook");
        assert_eq!(v["clusterDNS"][0], "10.215.0.1");
    }

    #[test]
    fn kube_proxy_leaves_global_sysctls_alone() {
        let v = json(&kube_proxy("real-node-0", Path::new("/k")));
        assert_eq!(v["mode"], "iptables");
        assert_eq!(v["oomScoreAdj"], 0);
        assert_eq!(v["conntrack"]["maxPerCore"], 0);
        assert_eq!(v["iptables"]["localhostNodePorts"], false);
        assert_eq!(v["hostnameOverride"], "real-node-0");
    }
}
