//! Neighbours and DNS replicas from the Kubernetes API, kept current by watches.
//!
//! Three watches, each folded into a compact map as events arrive (never a store of whole
//! objects: an agent on each of 5,000 nodes must not hold 5,000 Pods): the prober pods (namespace
//! and label selector, kubenurse's `KUBENURSE_NAMESPACE` / `KUBENURSE_NEIGHBOUR_FILTER`), the
//! cordoned nodes (field selector `spec.unschedulable=true`, so only those are sent), and the
//! EndpointSlices of the cluster DNS Service.
//!
//! The watched objects are decoded into the few fields read here ([`Pod`], [`Node`],
//! [`EndpointSlice`] below), not into k8s-openapi's full types: serde skips the rest of the JSON.
//! Decoding full Pods alone kept about 1 MiB of k8s-openapi's decoder code resident in every
//! agent (measured with `/proc/<pid>/pagemap`, docs/probes.md "Memory"), for fields never read.

use crate::targets::{Discovered, PeerPod};
use crate::verdict::DnsServer;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kubemedic_model::probes::DnsRole;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use tokio::sync::watch;

/// Where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Namespace of the prober pods.
    pub namespace: String,
    /// Label selector of the prober pods.
    pub selector: String,
    /// The cluster DNS Service (`kube-system/kube-dns`); `None`: no DNS replicas discovered.
    pub dns_service: Option<(String, String)>,
}

/// The object metadata the watches need: the key (namespace, name), the resource version the
/// watcher resumes from, and whether the object is being deleted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlimMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    deletion_timestamp: Option<Time>,
}

fn slim_meta<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = SlimMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        resource_version: m.resource_version,
        deletion_timestamp: m.deletion_timestamp,
        ..ObjectMeta::default()
    })
}

/// Implements `kube::Resource` for a slim type read from a core or discovery API resource.
macro_rules! slim_resource {
    ($ty:ty, $scope:ty, $group:literal, $version:literal, $kind:literal, $plural:literal) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A Pod as the prober reads it: node, IP, phase, deletion.
#[derive(Debug, Clone, Deserialize)]
pub struct Pod {
    #[serde(deserialize_with = "slim_meta", default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<PodSpec>,
    #[serde(default)]
    status: Option<PodStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
}

slim_resource!(
    Pod,
    k8s_openapi::NamespaceResourceScope,
    "",
    "v1",
    "Pod",
    "pods"
);

/// A Node as the prober reads it: cordoned or not.
#[derive(Debug, Clone, Deserialize)]
pub struct Node {
    #[serde(deserialize_with = "slim_meta", default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<NodeSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct NodeSpec {
    unschedulable: Option<bool>,
}

slim_resource!(
    Node,
    k8s_openapi::ClusterResourceScope,
    "",
    "v1",
    "Node",
    "nodes"
);

/// An EndpointSlice as the prober reads it: ports and endpoints.
#[derive(Debug, Clone, Deserialize)]
pub struct EndpointSlice {
    #[serde(deserialize_with = "slim_meta", default)]
    metadata: ObjectMeta,
    #[serde(default)]
    ports: Option<Vec<EndpointPort>>,
    #[serde(default)]
    endpoints: Option<Vec<Endpoint>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct EndpointPort {
    name: Option<String>,
    port: Option<i32>,
    protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    addresses: Vec<String>,
    conditions: Option<EndpointConditions>,
    node_name: Option<String>,
    target_ref: Option<ObjectRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct EndpointConditions {
    ready: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ObjectRef {
    name: Option<String>,
    namespace: Option<String>,
}

slim_resource!(
    EndpointSlice,
    k8s_openapi::NamespaceResourceScope,
    "discovery.k8s.io",
    "v1",
    "EndpointSlice",
    "endpointslices"
);

/// A peer pod from a Pod object.
pub fn peer_from_pod(p: &Pod) -> Option<PeerPod> {
    let name = p.metadata.name.clone()?;
    let node = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    let status = p.status.as_ref();
    Some(PeerPod {
        name,
        node,
        ip: status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok()),
        running: status.and_then(|s| s.phase.as_deref()) == Some("Running"),
        terminating: p.metadata.deletion_timestamp.is_some(),
    })
}

/// The ready DNS endpoints of one EndpointSlice.
pub fn dns_servers_from_slice(slice: &EndpointSlice) -> Vec<DnsServer> {
    let port = slice
        .ports
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "UDP")
        .min_by_key(|p| p.name.as_deref() != Some("dns"))
        .and_then(|p| p.port)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(53);
    slice
        .endpoints
        .iter()
        .flatten()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .filter_map(|e| {
            let ip: IpAddr = e.addresses.first()?.parse().ok()?;
            let target = e.target_ref.as_ref();
            Some(DnsServer {
                addr: SocketAddr::new(ip, port),
                role: DnsRole::Replica,
                pod: target.and_then(|t| t.name.clone()),
                namespace: target.and_then(|t| t.namespace.clone()),
                node: e.node_name.clone(),
            })
        })
        .collect()
}

/// Folds one watch into a map keyed by object name; `Init..InitDone` replaces it whole.
#[derive(Debug)]
struct Folded<V> {
    current: BTreeMap<String, V>,
    relisting: Option<BTreeMap<String, V>>,
    synced: bool,
}

impl<V> Default for Folded<V> {
    fn default() -> Self {
        Self {
            current: BTreeMap::new(),
            relisting: None,
            synced: false,
        }
    }
}

impl<V> Folded<V> {
    /// Applies an event; true when the visible map changed.
    fn apply<K>(
        &mut self,
        event: Event<K>,
        key: impl Fn(&K) -> Option<String>,
        value: impl Fn(&K) -> Option<V>,
    ) -> bool {
        match event {
            Event::Init => {
                self.relisting = Some(BTreeMap::new());
                false
            }
            Event::InitApply(o) => {
                if let (Some(k), Some(v), Some(m)) = (key(&o), value(&o), self.relisting.as_mut()) {
                    m.insert(k, v);
                }
                false
            }
            Event::InitDone => {
                if let Some(m) = self.relisting.take() {
                    self.current = m;
                }
                self.synced = true;
                true
            }
            Event::Apply(o) => {
                let Some(k) = key(&o) else { return false };
                match value(&o) {
                    Some(v) => {
                        self.current.insert(k, v);
                    }
                    None => {
                        self.current.remove(&k);
                    }
                }
                true
            }
            Event::Delete(o) => key(&o).is_some_and(|k| self.current.remove(&k).is_some()),
        }
    }
}

fn name_of<K: kube::Resource>(o: &K) -> Option<String> {
    let m = o.meta();
    Some(format!(
        "{}/{}",
        m.namespace.as_deref().unwrap_or(""),
        m.name.as_deref()?
    ))
}

/// Starts the watches; the receiver always holds the latest view. Watch errors are retried
/// with backoff (logged), the last view staying in place meanwhile.
pub fn spawn(client: kube::Client, options: DiscoveryOptions) -> watch::Receiver<Discovered> {
    let (tx, rx) = watch::channel(Discovered::default());
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &options.namespace);
        let nodes: Api<Node> = Api::all(client.clone());
        let pod_events =
            watcher::watcher(pods, watcher::Config::default().labels(&options.selector))
                .default_backoff()
                .map(|e| Source::Pod(Box::new(e)))
                .boxed();
        let node_events = watcher::watcher(
            nodes,
            watcher::Config::default().fields("spec.unschedulable=true"),
        )
        .default_backoff()
        .map(|e| Source::Node(Box::new(e)))
        .boxed();
        let dns_events: futures::stream::BoxStream<'static, Source> = match &options.dns_service {
            Some((ns, svc)) => {
                let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
                watcher::watcher(
                    slices,
                    watcher::Config::default().labels(&format!("kubernetes.io/service-name={svc}")),
                )
                .default_backoff()
                .map(|e| Source::Dns(Box::new(e)))
                .boxed()
            }
            None => futures::stream::pending().boxed(),
        };
        let mut merged = futures::stream::select_all([pod_events, node_events, dns_events]);
        let mut pods: Folded<PeerPod> = Folded::default();
        let mut cordoned: Folded<()> = Folded::default();
        let mut dns: Folded<Vec<DnsServer>> = Folded::default();
        if options.dns_service.is_none() {
            dns.synced = true;
        }
        while let Some(item) = merged.next().await {
            let result = match item {
                Source::Pod(e) => (*e).map(|e| pods.apply(e, name_of, peer_from_pod)),
                Source::Node(e) => (*e).map(|e| {
                    cordoned.apply(e, name_of, |n: &Node| {
                        n.spec
                            .as_ref()
                            .and_then(|s| s.unschedulable)
                            .unwrap_or(false)
                            .then_some(())
                    })
                }),
                Source::Dns(e) => {
                    (*e).map(|e| dns.apply(e, name_of, |s| Some(dns_servers_from_slice(s))))
                }
            };
            let changed = match result {
                Ok(changed) => changed,
                Err(e) => {
                    tracing::warn!(error = %e, "probe discovery watch failed; retrying");
                    false
                }
            };
            if !changed {
                continue;
            }
            let view = Discovered {
                peers: pods.current.values().cloned().collect(),
                unschedulable: cordoned
                    .current
                    .keys()
                    .map(|k| k.trim_start_matches('/').to_string())
                    .collect::<BTreeSet<_>>(),
                dns: dns.current.values().flatten().cloned().collect(),
                synced: pods.synced && cordoned.synced && dns.synced,
            };
            if tx.send(view).is_err() {
                return;
            }
        }
    });
    rx
}

/// One event of one of the watches (boxed: Pods are large and events are short-lived).
enum Source {
    Pod(Box<Result<Event<Pod>, watcher::Error>>),
    Node(Box<Result<Event<Node>, watcher::Error>>),
    Dns(Box<Result<Event<EndpointSlice>, watcher::Error>>),
}

/// A discovery that never changes (static peers and DNS servers, standalone mode, tests).
pub fn fixed(view: Discovered) -> watch::Receiver<Discovered> {
    let (tx, rx) = watch::channel(view);
    // Dropping the sender ends `changed()`; the prober keeps the last view.
    drop(tx);
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_and_slices_are_read_as_the_api_writes_them() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kubemedic-agent-x", "namespace": "kube-system"},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {"phase": "Running", "podIP": "10.244.1.7"}
        }))
        .unwrap();
        let p = peer_from_pod(&pod).unwrap();
        assert_eq!(p.node, "n1");
        assert_eq!(p.ip, Some("10.244.1.7".parse().unwrap()));
        assert!(p.running && !p.terminating);
        let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kube-dns-abc", "namespace": "kube-system"},
            "addressType": "IPv4",
            "ports": [{"name": "dns-tcp", "port": 53, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}],
            "endpoints": [
                {"addresses": ["10.244.0.5"], "conditions": {"ready": true}, "nodeName": "n0",
                 "targetRef": {"kind": "Pod", "name": "coredns-a", "namespace": "kube-system"}},
                {"addresses": ["10.244.2.9"], "conditions": {"ready": false}, "nodeName": "n2"},
                {"addresses": ["not-an-ip"]}
            ]
        }))
        .unwrap();
        let servers = dns_servers_from_slice(&slice);
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].addr, "10.244.0.5:5353".parse().unwrap());
        assert_eq!(servers[0].pod.as_deref(), Some("coredns-a"));
        assert_eq!(servers[0].node.as_deref(), Some("n0"));
    }

    #[test]
    fn relists_replace_the_view_whole() {
        let mut f: Folded<u32> = Folded::default();
        let key = |v: &(String, u32)| Some(v.0.clone());
        let val = |v: &(String, u32)| Some(v.1);
        assert!(!f.apply(Event::Init, key, val));
        f.apply(Event::InitApply(("a".into(), 1)), key, val);
        assert!(f.apply(Event::InitDone, key, val));
        assert!(f.synced);
        assert!(f.apply(Event::Apply(("b".into(), 2)), key, val));
        // A relist that no longer has `a`.
        f.apply(Event::Init, key, val);
        f.apply(Event::InitApply(("b".into(), 3)), key, val);
        assert_eq!(f.current.len(), 2, "old view kept until InitDone");
        f.apply(Event::InitDone, key, val);
        assert_eq!(
            f.current.into_iter().collect::<Vec<_>>(),
            vec![("b".into(), 3)]
        );
    }
}
