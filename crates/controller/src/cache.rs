//! The one watch cache of the cluster: a reflector per kind (Pods, Nodes, Services,
//! EndpointSlices, Endpoints, PVCs, PVs, workloads) plus the Events the event feed keeps. Every
//! part of the controller reads it; diagnosis gets a [`Snapshot`] from it.

use crate::metrics::Metrics;
use crate::objects::{
    CoreEvent, DaemonSet, Deployment, EndpointSlice, Endpoints, Job, Node, PersistentVolume,
    PersistentVolumeClaim, Pod, ReplicaSet, ReplicationController, Service, StatefulSet,
};
use crate::packed::{self, PackedStore};
use futures::StreamExt;
use jiff::Timestamp;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use kubemedic_archive::WorkloadRef;
use kubemedic_model::Snapshot;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Called with every object a watch applies (initial list included).
pub type ApplyHook<K> = Arc<dyn Fn(&K) + Send + Sync>;

/// Health of one watch.
#[derive(Debug, Default)]
struct WatchHealth {
    synced: AtomicBool,
    /// Since when the watch has been failing (None: healthy).
    failing_since: Mutex<Option<(Instant, String)>>,
}

/// Reflector stores of every watched kind, and the events the event feed keeps.
#[derive(Clone)]
pub struct WatchCache {
    /// Pods, kept compressed (see [`crate::packed`]): the kind that comes by the hundred
    /// thousand.
    pub pods: PackedStore<Pod>,
    /// Nodes.
    pub nodes: Store<Node>,
    /// Services.
    pub services: Store<Service>,
    /// EndpointSlices.
    pub endpoint_slices: Store<EndpointSlice>,
    /// Endpoints.
    pub endpoints: Store<Endpoints>,
    /// PersistentVolumeClaims.
    pub pvcs: Store<PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub pvs: Store<PersistentVolume>,
    /// Deployments.
    pub deployments: Store<Deployment>,
    /// ReplicaSets.
    pub replica_sets: Store<ReplicaSet>,
    /// DaemonSets.
    pub daemon_sets: Store<DaemonSet>,
    /// StatefulSets.
    pub stateful_sets: Store<StatefulSet>,
    /// Jobs.
    pub jobs: Store<Job>,
    /// ReplicationControllers.
    pub replication_controllers: Store<ReplicationController>,
    /// Events as the apiserver holds them now, by uid (core/v1 form), kept by the event feed.
    pub events: Arc<RwLock<HashMap<String, CoreEvent>>>,
    health: HealthList,
}

/// Every watch's name and health.
type HealthList = Arc<Mutex<Vec<(String, Arc<WatchHealth>)>>>;

impl Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache")
            .field("pods", &self.pods.len())
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

/// What the cache calls back on.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Every applied pod (crash capture).
    pub pod: Option<ApplyHook<Pod>>,
    /// Every applied node (condition transitions).
    pub node: Option<ApplyHook<Node>>,
}

impl Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").finish_non_exhaustive()
    }
}

/// Drops what no part of the controller reads before the object is stored: managedFields and
/// the last-applied annotation are the bulk of most objects.
fn strip<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
        if a.is_empty() {
            meta.annotations = None;
        }
    }
}

impl WatchCache {
    /// Starts one reflector per kind on `client`; returns at once (the stores fill in the
    /// background; [`WatchCache::synced`] says when every initial list is in).
    pub fn start(client: &Client, metrics: Arc<Metrics>, hooks: Hooks) -> WatchCache {
        let health = Arc::new(Mutex::new(Vec::new()));
        let h = |name: &str| {
            let wh = Arc::new(WatchHealth::default());
            health
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((name.to_string(), wh.clone()));
            wh
        };
        let c = client.clone();
        let m = metrics;
        WatchCache {
            pods: spawn_packed(Api::all(c.clone()), "pods", m.clone(), h("pods"), hooks.pod),
            nodes: spawn_reflector(
                Api::all(c.clone()),
                "nodes",
                m.clone(),
                h("nodes"),
                hooks.node,
            ),
            services: spawn_reflector(
                Api::all(c.clone()),
                "services",
                m.clone(),
                h("services"),
                None,
            ),
            endpoint_slices: spawn_reflector(
                Api::all(c.clone()),
                "endpointslices",
                m.clone(),
                h("endpointslices"),
                None,
            ),
            endpoints: spawn_reflector(
                Api::all(c.clone()),
                "endpoints",
                m.clone(),
                h("endpoints"),
                None,
            ),
            pvcs: spawn_reflector(
                Api::all(c.clone()),
                "persistentvolumeclaims",
                m.clone(),
                h("persistentvolumeclaims"),
                None,
            ),
            pvs: spawn_reflector(
                Api::all(c.clone()),
                "persistentvolumes",
                m.clone(),
                h("persistentvolumes"),
                None,
            ),
            deployments: spawn_reflector(
                Api::all(c.clone()),
                "deployments",
                m.clone(),
                h("deployments"),
                None,
            ),
            replica_sets: spawn_reflector(
                Api::all(c.clone()),
                "replicasets",
                m.clone(),
                h("replicasets"),
                None,
            ),
            daemon_sets: spawn_reflector(
                Api::all(c.clone()),
                "daemonsets",
                m.clone(),
                h("daemonsets"),
                None,
            ),
            stateful_sets: spawn_reflector(
                Api::all(c.clone()),
                "statefulsets",
                m.clone(),
                h("statefulsets"),
                None,
            ),
            jobs: spawn_reflector(Api::all(c.clone()), "jobs", m.clone(), h("jobs"), None),
            replication_controllers: spawn_reflector(
                Api::all(c),
                "replicationcontrollers",
                m,
                h("replicationcontrollers"),
                None,
            ),
            events: Arc::new(RwLock::new(HashMap::new())),
            health: health.clone(),
        }
    }

    /// Registers the health of a watch run outside the reflectors (the event feed).
    pub fn register_watch(&self, name: &str) -> WatchReporter {
        let wh = Arc::new(WatchHealth::default());
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.to_string(), wh.clone()));
        WatchReporter(wh)
    }

    /// Whether every watch has delivered its initial list.
    pub fn synced(&self) -> bool {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .all(|(_, h)| h.synced.load(Ordering::Relaxed))
    }

    /// Watches not yet synced, and watches failing for longer than `grace`, with the error.
    pub fn problems(&self, grace: Duration) -> Vec<String> {
        let mut out = Vec::new();
        for (name, h) in self.health.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if !h.synced.load(Ordering::Relaxed) {
                out.push(format!("{name}: initial list not complete"));
            }
            if let Some((since, err)) = &*h.failing_since.lock().unwrap_or_else(|p| p.into_inner())
                && since.elapsed() > grace
            {
                out.push(format!(
                    "{name}: watch failing for {}s: {err}",
                    since.elapsed().as_secs()
                ));
            }
        }
        out
    }

    /// The workload owning a pod, through its ReplicaSet or Job when those are cached.
    pub fn pod_workload(&self, namespace: &str, pod: &str) -> Option<WorkloadRef> {
        let p = self.pods.get(Some(namespace), pod)?;
        self.owner_of(
            namespace,
            p.metadata.owner_references.as_deref().unwrap_or(&[]),
        )
    }

    /// The workload behind a set of owner references.
    pub fn owner_of(
        &self,
        namespace: &str,
        owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    ) -> Option<WorkloadRef> {
        crate::convert::owner_workload(
            owners,
            |rs| {
                let rs = self
                    .replica_sets
                    .get(&ObjectRef::new(rs).within(namespace))?;
                crate::convert::owner_workload(
                    rs.metadata.owner_references.as_deref().unwrap_or(&[]),
                    |_| None,
                    |_| None,
                )
            },
            |job| {
                let j = self.jobs.get(&ObjectRef::new(job).within(namespace))?;
                crate::convert::owner_workload(
                    j.metadata.owner_references.as_deref().unwrap_or(&[]),
                    |_| None,
                    |_| None,
                )
            },
        )
    }

    /// The workload an event's object belongs to (pods and ReplicaSets; others are their own).
    pub fn event_workload(&self, kind: &str, namespace: &str, name: &str) -> Option<WorkloadRef> {
        match kind {
            "Pod" => self.pod_workload(namespace, name),
            "ReplicaSet" => {
                let rs = self
                    .replica_sets
                    .get(&ObjectRef::new(name).within(namespace))?;
                self.owner_of(
                    namespace,
                    rs.metadata.owner_references.as_deref().unwrap_or(&[]),
                )
            }
            "Job" => {
                let j = self.jobs.get(&ObjectRef::new(name).within(namespace))?;
                self.owner_of(
                    namespace,
                    j.metadata.owner_references.as_deref().unwrap_or(&[]),
                )
            }
            _ => None,
        }
    }

    /// A snapshot of everything cached, for diagnosis.
    pub fn snapshot(&self, namespace: Option<&str>) -> Snapshot {
        fn take<K>(s: &Store<K>, ns: Option<&str>) -> Vec<K>
        where
            K: Clone + Resource<DynamicType = ()>,
        {
            s.state()
                .iter()
                .filter(|o| ns.is_none() || o.meta().namespace.as_deref() == ns)
                .map(|o| (**o).clone())
                .collect()
        }
        let events = self
            .events
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|e| namespace.is_none() || e.metadata.namespace.as_deref() == namespace)
            .cloned()
            .collect();
        Snapshot {
            taken_at: Some(Timestamp::now()),
            nodes: self.nodes.state().iter().map(|n| (**n).clone()).collect(),
            pods: self.pods.state_in(namespace),
            events,
            services: take(&self.services, namespace),
            endpoints: take(&self.endpoints, namespace),
            endpoint_slices: take(&self.endpoint_slices, namespace),
            persistent_volume_claims: take(&self.pvcs, namespace),
            persistent_volumes: self.pvs.state().iter().map(|n| (**n).clone()).collect(),
            deployments: take(&self.deployments, namespace),
            replica_sets: take(&self.replica_sets, namespace),
            daemon_sets: take(&self.daemon_sets, namespace),
            stateful_sets: take(&self.stateful_sets, namespace),
            jobs: take(&self.jobs, namespace),
            replication_controllers: take(&self.replication_controllers, namespace),
            ..Default::default()
        }
    }
}

/// Reports the health of a watch run outside [`WatchCache::start`].
#[derive(Debug, Clone)]
pub struct WatchReporter(Arc<WatchHealth>);

impl WatchReporter {
    /// The initial list is in.
    pub fn synced(&self) {
        self.0.synced.store(true, Ordering::Relaxed);
    }

    /// The watch is working.
    pub fn ok(&self) {
        *self
            .0
            .failing_since
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The watch failed.
    pub fn failed(&self, err: &str) {
        let mut f = self
            .0
            .failing_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match f.as_mut() {
            Some((_, e)) => *e = err.to_string(),
            None => *f = Some((Instant::now(), err.to_string())),
        }
    }
}

/// Like [`spawn_reflector`], into a [`PackedStore`].
fn spawn_packed<K>(
    api: Api<K>,
    name: &'static str,
    metrics: Arc<Metrics>,
    health: Arc<WatchHealth>,
    hook: Option<ApplyHook<K>>,
) -> PackedStore<K>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, mut writer) = packed::store();
    let reporter = WatchReporter(health);
    let stream = watcher(api, watcher::Config::default().page_size(500))
        .default_backoff()
        .modify(strip);
    let synced = reporter.clone();
    tokio::spawn(drive(stream, name, metrics, reporter, hook, move |ev| {
        if let Err(e) = writer.apply(ev) {
            // Cannot happen for objects that came from JSON; say so loudly if it does.
            tracing::error!(resource = name, error = %e, "watch cache: object not stored");
        }
        if matches!(ev, watcher::Event::InitDone) {
            synced.synced();
            // The (re)list's pages and parsed objects are garbage now.
            crate::memory::release_free_heap();
        }
    }));
    reader
}

/// Runs a watch stream: health, metrics and the hook for every event, `apply` first.
async fn drive<K, S>(
    stream: S,
    name: &'static str,
    metrics: Arc<Metrics>,
    reporter: WatchReporter,
    hook: Option<ApplyHook<K>>,
    mut apply: impl FnMut(&watcher::Event<K>),
) where
    S: futures::Stream<Item = watcher::Result<watcher::Event<K>>>,
{
    let label = Metrics::resource(name);
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => {
                apply(&ev);
                reporter.ok();
                metrics.watch_events.get_or_create(&label).inc();
                match &ev {
                    watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                        if let Some(h) = &hook {
                            h(o);
                        }
                    }
                    watcher::Event::Init => {
                        metrics.watch_restarts.get_or_create(&label).inc();
                    }
                    _ => {}
                }
            }
            Err(e) => {
                tracing::warn!(resource = name, error = %e, "watch failed; retrying with backoff");
                reporter.failed(&e.to_string());
            }
        }
    }
}

fn spawn_reflector<K>(
    api: Api<K>,
    name: &'static str,
    metrics: Arc<Metrics>,
    health: Arc<WatchHealth>,
    hook: Option<ApplyHook<K>>,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let reporter = WatchReporter(health);
    let ready = reader.clone();
    let r2 = reporter.clone();
    tokio::spawn(async move {
        if ready.wait_until_ready().await.is_ok() {
            r2.synced();
        }
    });
    let stream = watcher(api, watcher::Config::default().page_size(500))
        .default_backoff()
        .modify(strip)
        .reflect(writer);
    tokio::spawn(drive(stream, name, metrics, reporter, hook, |_| {}));
    reader
}
