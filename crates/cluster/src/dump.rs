//! Reading an offline dump: the directory `kubectl cluster-info dump --all-namespaces
//! --output-directory=DIR` writes (JSON, or YAML with `--output yaml`), plus kubemedic's
//! optional additions.
//!
//! Layout (see `docs/diagnose.md`):
//! - `nodes.json`, `persistentvolumes.json` at the top;
//! - one directory per namespace with `events.json`, `pods.json`, `services.json`,
//!   `deployments.json`, `replicasets.json`, `daemonsets.json`, `replication-controllers.json`
//!   (kubectl's files) and optionally `endpoints.json`, `endpointslices.json`,
//!   `persistentvolumeclaims.json`, `statefulsets.json`, `jobs.json`; every list may be `.yaml`;
//! - `<ns>/<pod>/logs.txt` (kubectl) and `<ns>/<pod>/previous-logs.txt` (kubemedic), both made of
//!   `==== START logs for container C of pod NS/POD ====` ... `==== END ... ====` blocks;
//! - `_nodes/<node>/<source>.log` and `_nodes/<node>/facts.json`;
//! - `_kubemedic/meta.json` with `collectedAt`.
//!
//! Files are parsed in parallel (one reused read buffer per thread; files too large for it are
//! parsed as they are read), straight into the slim object types:
//! fields the analysers do not read, managedFields above all, are skipped by the parser. Container
//! logs are read only for the containers whose logs the analysers read
//! ([`kubemedic_model::snapshot::pod_logs_wanted`], the same rule as the live loader), and
//! only their tails are kept.
//!
//! A file that cannot be read or parsed, a list whose kind does not match its file name, an
//! item without a name: each is recorded in [`Snapshot::skipped`] with its path and the position
//! of the problem; everything else is still loaded. Only a directory that is not a dump at all is
//! an error.

use crate::events::EventItem;
use crate::logs::{LogBlocks, TailBuffer, parse_log_blocks};
use jiff::Timestamp;
use kubemedic_model::objects::{
    DaemonSet, Deployment, EndpointSlice, Endpoints, Event, Job, Node, ObjectMeta,
    PersistentVolume, PersistentVolumeClaim, Pod, ReplicaSet, ReplicationController, Service,
    StatefulSet,
};
use kubemedic_model::snapshot::pod_logs_wanted;
use kubemedic_model::{ContainerRef, NodeFacts, NodeLogSource, SkippedInput, Snapshot};
use rayon::prelude::*;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// File name of kubemedic's marker inside `_kubemedic/`.
pub const META_DIR: &str = "_kubemedic";
/// File name of the collection metadata inside [`META_DIR`].
pub const META_FILE: &str = "meta.json";
/// Directory holding node logs and facts.
pub const NODES_DIR: &str = "_nodes";

/// Limits applied while reading a dump.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Keep at most this many bytes (the tail) of each container instance's log.
    pub max_container_log_bytes: usize,
    /// Keep at most this many bytes (the tail) of each node log file.
    pub max_node_log_bytes: usize,
    /// JSON lists up to this size are read whole into a buffer each parsing thread reuses (the
    /// fastest parse); larger ones (a 5,000-node `nodes.json` is ~90 MB) are parsed as they are
    /// read, so no buffer of their size is held.
    pub max_whole_read_bytes: usize,
}

impl Default for DumpOptions {
    fn default() -> Self {
        Self {
            max_container_log_bytes: 1 << 20,
            max_node_log_bytes: 4 << 20,
            max_whole_read_bytes: 16 << 20,
        }
    }
}

/// The dump directory itself cannot be used (files inside it never cause this error).
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The path does not exist.
    #[error("dump directory {0} does not exist")]
    NotFound(PathBuf),
    /// The path exists but is not a directory.
    #[error(
        "{0} is not a directory (expected the output directory of `kubectl cluster-info dump --output-directory=DIR` or `kubemedic collect DIR`)"
    )]
    NotADirectory(PathBuf),
    /// The directory cannot be listed.
    #[error("cannot read dump directory {path}: {source}")]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory holds nothing a dump has.
    #[error("{path} is not a dump: {why}")]
    NotADump {
        /// The directory.
        path: PathBuf,
        /// What was found instead, and what to pass.
        why: String,
    },
}

/// Metadata kubemedic writes next to the kubectl files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DumpMeta {
    /// When the collection finished.
    pub collected_at: Option<Timestamp>,
    /// The tool and version that wrote the dump.
    pub collector: String,
    /// Namespace scope of the collection (`None` = all namespaces).
    pub namespace: Option<String>,
}

/// Loads a dump directory with default limits.
pub fn load_dump(dir: &Path) -> Result<Snapshot, DumpError> {
    load_dump_with(dir, &DumpOptions::default())
}

/// Loads a dump directory.
pub fn load_dump_with(dir: &Path, opts: &DumpOptions) -> Result<Snapshot, DumpError> {
    let meta = fs::metadata(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DumpError::NotFound(dir.to_path_buf())
        } else {
            DumpError::Unreadable {
                path: dir.to_path_buf(),
                source: e,
            }
        }
    })?;
    if !meta.is_dir() {
        return Err(DumpError::NotADirectory(dir.to_path_buf()));
    }
    let layout = Layout::scan(dir)?;
    layout.check_is_dump(dir)?;
    let root = Root(dir);
    let mut snap = Snapshot::default();
    snap.skipped.extend(layout.notes.iter().cloned());
    snap.missing = layout.missing_files();

    // All lists, in parallel, each added to the snapshot as soon as the lists before it are.
    let jobs: Vec<&ListFile> = layout
        .top_lists
        .iter()
        .chain(layout.namespaces.iter().flat_map(|ns| ns.lists.iter()))
        .collect();
    let mut pods_complete: HashSet<&str> = HashSet::new();
    parse_in_order(root, &jobs, opts.max_whole_read_bytes, |job, result| {
        snap.skipped.extend(result.notes);
        if job.kind == ListKind::Pods
            && result.whole_file_read
            && let Some(ns) = &job.namespace
        {
            pods_complete.insert(ns.as_str());
        }
        result.objects.add_to(&mut snap);
    });

    // Container logs of the containers the analysers read; in a namespace whose pods could not
    // all be read, every pod directory (nothing says which ones matter).
    let wanted: HashSet<(&str, &str)> = snap
        .pods
        .iter()
        .filter(|p| pod_logs_wanted(p))
        .filter_map(|p| {
            Some((
                p.metadata.namespace.as_deref()?,
                p.metadata.name.as_deref()?,
            ))
        })
        .collect();
    let log_jobs: Vec<(&str, &Path, &str)> = layout
        .namespaces
        .iter()
        .flat_map(|ns| {
            let all = !pods_complete.contains(ns.name.as_str());
            let wanted = &wanted;
            ns.pod_dirs.iter().filter_map(move |pod| {
                (all || wanted.contains(&(ns.name.as_str(), pod.as_str()))).then_some((
                    ns.name.as_str(),
                    ns.path.as_path(),
                    pod.as_str(),
                ))
            })
        })
        .collect();
    let logs: Vec<PodLogs> = log_jobs
        .par_iter()
        .map(|(ns, ns_path, pod)| read_pod_logs(root, opts, ns, &ns_path.join(pod)))
        .collect();
    for pod_logs in logs {
        snap.skipped.extend(pod_logs.notes);
        for (key, previous, text) in pod_logs.blocks {
            let entry = snap.container_logs.entry(key).or_default();
            if previous {
                entry.previous = Some(text);
            } else {
                entry.current = Some(text);
            }
        }
    }

    // Node logs and facts.
    let node_files: Vec<(String, PathBuf)> = match &layout.nodes_dir {
        Some(d) => node_files(root, d, &mut snap.skipped),
        None => Vec::new(),
    };
    let node_results: Vec<NodeFile> = node_files
        .par_iter()
        .map(|(node, path)| read_node_file(root, opts, node, path))
        .collect();
    for r in node_results {
        snap.skipped.extend(r.notes);
        match r.content {
            NodeContent::Facts(facts) => {
                snap.node_facts.insert(r.node, *facts);
            }
            NodeContent::Log(source, text) => {
                snap.node_logs
                    .entry(r.node)
                    .or_default()
                    .insert(source, text);
            }
            NodeContent::Nothing => {}
        }
    }

    let meta_time = layout
        .meta_file
        .as_deref()
        .and_then(|p| read_meta(root, p, &mut snap.skipped));
    snap.taken_at = meta_time
        .or_else(|| snap.newest_timestamp())
        .or_else(|| layout.top_lists.first().and_then(|f| mtime(&f.path)))
        .or_else(|| mtime(dir));
    Ok(snap)
}

/// The dump root, for paths in notes.
#[derive(Clone, Copy)]
struct Root<'a>(&'a Path);

impl Root<'_> {
    fn rel(self, path: &Path) -> String {
        path.strip_prefix(self.0)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn note(self, path: &Path, reason: impl Into<String>) -> SkippedInput {
        SkippedInput {
            input: self.rel(path),
            reason: reason.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What is in the directory

/// Serialization of the list files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

/// The kinds a dump holds lists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ListKind {
    Nodes,
    PersistentVolumes,
    Events,
    ReplicationControllers,
    Services,
    DaemonSets,
    Deployments,
    ReplicaSets,
    Pods,
    StatefulSets,
    Jobs,
    Endpoints,
    EndpointSlices,
    PersistentVolumeClaims,
}

impl ListKind {
    const ALL: [ListKind; 14] = [
        ListKind::Nodes,
        ListKind::PersistentVolumes,
        ListKind::Events,
        ListKind::ReplicationControllers,
        ListKind::Services,
        ListKind::DaemonSets,
        ListKind::Deployments,
        ListKind::ReplicaSets,
        ListKind::Pods,
        ListKind::StatefulSets,
        ListKind::Jobs,
        ListKind::Endpoints,
        ListKind::EndpointSlices,
        ListKind::PersistentVolumeClaims,
    ];

    /// kubectl's seven files in every namespace directory: in [`ListKind::ALL`], the kinds after
    /// the two cluster-scoped ones, up to and including Pods.
    const KUBECTL_NAMESPACED: &[ListKind] = ListKind::ALL.split_at(9).0.split_at(2).1;

    /// The file name without its extension.
    fn stem(self) -> &'static str {
        match self {
            ListKind::Nodes => "nodes",
            ListKind::PersistentVolumes => "persistentvolumes",
            ListKind::Events => "events",
            ListKind::ReplicationControllers => "replication-controllers",
            ListKind::Services => "services",
            ListKind::DaemonSets => "daemonsets",
            ListKind::Deployments => "deployments",
            ListKind::ReplicaSets => "replicasets",
            ListKind::Pods => "pods",
            ListKind::StatefulSets => "statefulsets",
            ListKind::Jobs => "jobs",
            ListKind::Endpoints => "endpoints",
            ListKind::EndpointSlices => "endpointslices",
            ListKind::PersistentVolumeClaims => "persistentvolumeclaims",
        }
    }

    fn cluster_scoped(self) -> bool {
        matches!(self, ListKind::Nodes | ListKind::PersistentVolumes)
    }

    /// What is lost when kubectl's file for this kind is missing.
    fn loss(self) -> &'static str {
        match self {
            ListKind::Events => {
                "no events there: causes shown only by events (scheduling, image pulls, probes, mounts) cannot be named"
            }
            ListKind::Pods => "no pods there are analysed",
            ListKind::ReplicaSets => "pods are tied to their Deployment by ReplicaSet name only",
            ListKind::Services => "no Services there are checked for endpoints",
            _ => "objects of that kind there are not analysed",
        }
    }

    fn parse(name: &str) -> Option<(ListKind, Format)> {
        let (stem, format) = if let Some(s) = name.strip_suffix(".json") {
            (s, Format::Json)
        } else if let Some(s) = name
            .strip_suffix(".yaml")
            .or_else(|| name.strip_suffix(".yml"))
        {
            (s, Format::Yaml)
        } else {
            return None;
        };
        ListKind::ALL
            .into_iter()
            .find(|k| k.stem() == stem)
            .map(|k| (k, format))
    }
}

/// One list file to parse.
#[derive(Debug)]
struct ListFile {
    path: PathBuf,
    kind: ListKind,
    format: Format,
    /// The namespace directory it is in (`None` at the top).
    namespace: Option<String>,
}

/// One namespace directory.
#[derive(Debug)]
struct NamespaceDir {
    name: String,
    path: PathBuf,
    lists: Vec<ListFile>,
    /// Subdirectories (pods with logs).
    pod_dirs: Vec<String>,
}

/// What the dump directory holds, found by listing it (and its namespace directories) once.
#[derive(Debug, Default)]
struct Layout {
    top_lists: Vec<ListFile>,
    namespaces: Vec<NamespaceDir>,
    nodes_dir: Option<PathBuf>,
    meta_file: Option<PathBuf>,
    /// Subdirectories that look like dumps themselves (they hold a nodes list).
    nested_dumps: Vec<String>,
    /// Entries at the top (to tell an empty directory apart).
    entries: usize,
    notes: Vec<SkippedInput>,
}

/// A directory entry: name and whether it is a directory (symlinks followed).
struct Entry {
    name: String,
    path: PathBuf,
    is_dir: bool,
}

fn entries(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let Ok(e) = e else { continue };
        let path = e.path();
        let is_dir = match e.file_type() {
            Ok(t) if t.is_symlink() => fs::metadata(&path).is_ok_and(|m| m.is_dir()),
            Ok(t) => t.is_dir(),
            Err(_) => false,
        };
        out.push(Entry {
            name: e.file_name().to_string_lossy().into_owned(),
            path,
            is_dir,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A Kubernetes namespace name (DNS-1123 label): what a namespace directory can be called.
fn is_namespace_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl Layout {
    fn scan(dir: &Path) -> Result<Layout, DumpError> {
        let top = entries(dir).map_err(|source| DumpError::Unreadable {
            path: dir.to_path_buf(),
            source,
        })?;
        let root = Root(dir);
        let mut layout = Layout {
            entries: top.len(),
            ..Layout::default()
        };
        for e in top {
            if !e.is_dir {
                if let Some((kind, format)) = ListKind::parse(&e.name) {
                    layout.top_lists.push(ListFile {
                        path: e.path,
                        kind,
                        format,
                        namespace: None,
                    });
                }
                continue;
            }
            match e.name.as_str() {
                META_DIR => {
                    let f = e.path.join(META_FILE);
                    if f.is_file() {
                        layout.meta_file = Some(f);
                    }
                }
                NODES_DIR => layout.nodes_dir = Some(e.path),
                name if is_namespace_name(name) => {
                    let inner = match entries(&e.path) {
                        Ok(v) => v,
                        Err(err) => {
                            layout
                                .notes
                                .push(root.note(&e.path, format!("cannot list directory: {err}")));
                            continue;
                        }
                    };
                    let mut ns = NamespaceDir {
                        name: e.name.clone(),
                        path: e.path.clone(),
                        lists: Vec::new(),
                        pod_dirs: Vec::new(),
                    };
                    let mut nested = false;
                    for f in inner {
                        if f.is_dir {
                            ns.pod_dirs.push(f.name);
                        } else if let Some((kind, format)) = ListKind::parse(&f.name) {
                            if kind.cluster_scoped() {
                                nested |= kind == ListKind::Nodes;
                                continue;
                            }
                            ns.lists.push(ListFile {
                                path: f.path,
                                kind,
                                format,
                                namespace: Some(e.name.clone()),
                            });
                        }
                    }
                    if nested {
                        layout.nested_dumps.push(e.name);
                    } else if !ns.lists.is_empty() {
                        layout.namespaces.push(ns);
                    }
                }
                // Holding object lists but named as no namespace can be: said, so a renamed or
                // damaged directory is never silently left out of the diagnosis.
                _ if entries(&e.path).is_ok_and(|inner| {
                    inner.iter().any(|f| ListKind::parse(&f.name).is_some())
                }) =>
                {
                    layout.notes.push(root.note(
                        &e.path,
                        "not a namespace name (lowercase letters, digits and '-'): directory not read",
                    ));
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    /// Refuses a directory with nothing a dump has, saying what it is instead.
    fn check_is_dump(&self, dir: &Path) -> Result<(), DumpError> {
        let has_nodes = self.top_lists.iter().any(|f| f.kind == ListKind::Nodes);
        if has_nodes
            || !self.namespaces.is_empty()
            || self.meta_file.is_some()
            || self.nodes_dir.is_some()
        {
            return Ok(());
        }
        let why = if !self.nested_dumps.is_empty() {
            let shown: Vec<String> = self
                .nested_dumps
                .iter()
                .take(5)
                .map(|d| dir.join(d).display().to_string())
                .collect();
            format!(
                "it holds {} dump{} in subdirectories; pass one of them: {}",
                self.nested_dumps.len(),
                if self.nested_dumps.len() == 1 {
                    ""
                } else {
                    "s"
                },
                shown.join(", ")
            )
        } else if let Some(f) = self.top_lists.iter().find(|f| !f.kind.cluster_scoped()) {
            format!(
                "it looks like one namespace directory of a dump ({} here, but no nodes.json); pass the dump's top directory{}",
                file_name(&f.path),
                dir.parent()
                    .map(|p| format!(" (probably {})", p.display()))
                    .unwrap_or_default()
            )
        } else if self.entries == 0 {
            "the directory is empty".to_string()
        } else {
            "no nodes.json, no namespace directories with kubectl's lists (pods.json, events.json, …), no _kubemedic/meta.json; expected the output directory of `kubectl cluster-info dump --output-directory=DIR` or `kubemedic collect DIR`".to_string()
        };
        Err(DumpError::NotADump {
            path: dir.to_path_buf(),
            why,
        })
    }

    /// One note per kubectl file that namespace directories lack (kubectl versions differ in
    /// what they write), and one for a missing nodes list.
    fn missing_files(&self) -> Vec<SkippedInput> {
        let mut out = Vec::new();
        if !self.top_lists.iter().any(|f| f.kind == ListKind::Nodes) {
            out.push(SkippedInput {
                input: "nodes.json".to_string(),
                reason: "missing from the dump: no Node objects, so node conditions cannot be analysed and pods are not tied to their nodes' state".to_string(),
            });
        }
        let total = self.namespaces.len();
        for &kind in ListKind::KUBECTL_NAMESPACED {
            let lacking: Vec<&str> = self
                .namespaces
                .iter()
                .filter(|ns| !ns.lists.iter().any(|f| f.kind == kind))
                .map(|ns| ns.name.as_str())
                .collect();
            if lacking.is_empty() {
                continue;
            }
            let mut shown = lacking
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if lacking.len() > 5 {
                shown.push_str(", …");
            }
            out.push(SkippedInput {
                input: format!("{}.json", kind.stem()),
                reason: format!(
                    "missing in {} of {total} namespace directories ({shown}); the kubectl that wrote this dump did not write it, or it was removed: {}",
                    lacking.len(),
                    kind.loss()
                ),
            });
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Lists

/// The objects of one list file.
enum Objects {
    Nodes(Vec<Node>),
    PersistentVolumes(Vec<PersistentVolume>),
    Events(Vec<Event>),
    ReplicationControllers(Vec<ReplicationController>),
    Services(Vec<Service>),
    DaemonSets(Vec<DaemonSet>),
    Deployments(Vec<Deployment>),
    ReplicaSets(Vec<ReplicaSet>),
    Pods(Vec<Pod>),
    StatefulSets(Vec<StatefulSet>),
    Jobs(Vec<Job>),
    Endpoints(Vec<Endpoints>),
    EndpointSlices(Vec<EndpointSlice>),
    PersistentVolumeClaims(Vec<PersistentVolumeClaim>),
}

impl Objects {
    fn add_to(self, s: &mut Snapshot) {
        match self {
            Objects::Nodes(v) => s.nodes.extend(v),
            Objects::PersistentVolumes(v) => s.persistent_volumes.extend(v),
            Objects::Events(v) => s.events.extend(v),
            Objects::ReplicationControllers(v) => s.replication_controllers.extend(v),
            Objects::Services(v) => s.services.extend(v),
            Objects::DaemonSets(v) => s.daemon_sets.extend(v),
            Objects::Deployments(v) => s.deployments.extend(v),
            Objects::ReplicaSets(v) => s.replica_sets.extend(v),
            Objects::Pods(v) => s.pods.extend(v),
            Objects::StatefulSets(v) => s.stateful_sets.extend(v),
            Objects::Jobs(v) => s.jobs.extend(v),
            Objects::Endpoints(v) => s.endpoints.extend(v),
            Objects::EndpointSlices(v) => s.endpoint_slices.extend(v),
            Objects::PersistentVolumeClaims(v) => s.persistent_volume_claims.extend(v),
        }
    }
}

/// What one list file gave.
struct Parsed {
    objects: Objects,
    notes: Vec<SkippedInput>,
    /// Every item was read (no file-level failure, no item skipped for its shape).
    whole_file_read: bool,
}

/// What the list readers need of an item type: its list kind and its metadata.
pub(crate) trait ListItem: DeserializeOwned {
    /// `PodList`, ...
    const LIST_KIND: &'static str;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

impl<T> ListItem for T
where
    T: DeserializeOwned + k8s_openapi::ListableResource + k8s_openapi::Metadata<Ty = ObjectMeta>,
{
    const LIST_KIND: &'static str = T::LIST_KIND;

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
}

impl ListItem for EventItem {
    const LIST_KIND: &'static str = "EventList";

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
}

/// Parses `jobs` on one thread per core and hands each result to `add` in job order, as soon as
/// the results before it are in: a list's objects move into the snapshot while later files are
/// still being parsed, so the per-file vectors are freed early and their memory serves the next
/// files (collecting every file's vector first and then moving them all held 150,000 pods twice:
/// ~150 MB more peak RSS on a 5,000-node dump). Each thread reuses one read buffer from file to
/// file (allocating one the size of each file fragments the heap the parsed objects live in)
/// and frees it when the parse is done.
fn parse_in_order<'j>(
    root: Root<'_>,
    jobs: &[&'j ListFile],
    max_whole_read: usize,
    mut add: impl FnMut(&'j ListFile, Parsed),
) {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Parsed)>();
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let parsed = parse_file(root, job, max_whole_read, &mut buf);
                    if tx.send((i, parsed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results that arrived before an earlier one (another thread is still on it).
        let mut early: BTreeMap<usize, Parsed> = BTreeMap::new();
        let mut due = 0;
        for (i, parsed) in rx {
            early.insert(i, parsed);
            while let Some(parsed) = early.remove(&due) {
                add(jobs[due], parsed);
                due += 1;
            }
        }
    });
}

fn parse_file(root: Root<'_>, job: &ListFile, max_whole_read: usize, buf: &mut Vec<u8>) -> Parsed {
    let cannot_read = |e: std::io::Error| Parsed {
        objects: empty(job.kind),
        notes: vec![root.note(&job.path, format!("cannot read: {e}"))],
        whole_file_read: false,
    };
    let mut file = match fs::File::open(&job.path) {
        Ok(f) => f,
        Err(e) => return cannot_read(e),
    };
    let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    if len > max_whole_read {
        if job.format == Format::Json {
            return parse_source(
                root,
                job,
                Source::LargeJson {
                    path: &job.path,
                    file,
                },
            );
        }
        // A large YAML list: read whole, into a buffer freed right after.
        let mut bytes = Vec::with_capacity(len);
        return match file.read_to_end(&mut bytes) {
            Ok(_) => parse_source(root, job, Source::Bytes(&bytes)),
            Err(e) => cannot_read(e),
        };
    }
    // Read into the worker's buffer, reused from file to file.
    buf.clear();
    buf.reserve(len);
    match file.read_to_end(buf) {
        Ok(_) => parse_source(root, job, Source::Bytes(buf)),
        Err(e) => cannot_read(e),
    }
}

/// Where a list's text comes from.
enum Source<'a> {
    /// The whole file, in memory.
    Bytes(&'a [u8]),
    /// A JSON file larger than the read buffer, parsed as it is read.
    LargeJson { path: &'a Path, file: fs::File },
}

fn parse_source(root: Root<'_>, job: &ListFile, source: Source<'_>) -> Parsed {
    let ns = job.namespace.as_deref();
    let mut notes = Vec::new();
    macro_rules! read {
        ($variant:ident) => {{
            let (items, whole, _) = read_list(source, job.format, ns, &mut notes);
            (Objects::$variant(items), whole)
        }};
    }
    let (objects, whole) = match job.kind {
        ListKind::Nodes => read!(Nodes),
        ListKind::PersistentVolumes => read!(PersistentVolumes),
        ListKind::ReplicationControllers => read!(ReplicationControllers),
        ListKind::Services => read!(Services),
        ListKind::DaemonSets => read!(DaemonSets),
        ListKind::Deployments => read!(Deployments),
        ListKind::ReplicaSets => read!(ReplicaSets),
        ListKind::Pods => read!(Pods),
        ListKind::StatefulSets => read!(StatefulSets),
        ListKind::Jobs => read!(Jobs),
        ListKind::Endpoints => read!(Endpoints),
        ListKind::EndpointSlices => read!(EndpointSlices),
        ListKind::PersistentVolumeClaims => read!(PersistentVolumeClaims),
        ListKind::Events => {
            let (items, whole, api_version) =
                read_list::<EventItem>(source, job.format, ns, &mut notes);
            let list_is_v1 = api_version.is_some_and(|v| v.starts_with("events.k8s.io/"));
            let events = items.into_iter().map(|e| e.into_core(list_is_v1)).collect();
            (Objects::Events(events), whole)
        }
    };
    Parsed {
        objects,
        notes: notes.into_iter().map(|n| root.note(&job.path, n)).collect(),
        whole_file_read: whole,
    }
}

fn empty(kind: ListKind) -> Objects {
    match kind {
        ListKind::Nodes => Objects::Nodes(Vec::new()),
        ListKind::PersistentVolumes => Objects::PersistentVolumes(Vec::new()),
        ListKind::Events => Objects::Events(Vec::new()),
        ListKind::ReplicationControllers => Objects::ReplicationControllers(Vec::new()),
        ListKind::Services => Objects::Services(Vec::new()),
        ListKind::DaemonSets => Objects::DaemonSets(Vec::new()),
        ListKind::Deployments => Objects::Deployments(Vec::new()),
        ListKind::ReplicaSets => Objects::ReplicaSets(Vec::new()),
        ListKind::Pods => Objects::Pods(Vec::new()),
        ListKind::StatefulSets => Objects::StatefulSets(Vec::new()),
        ListKind::Jobs => Objects::Jobs(Vec::new()),
        ListKind::Endpoints => Objects::Endpoints(Vec::new()),
        ListKind::EndpointSlices => Objects::EndpointSlices(Vec::new()),
        ListKind::PersistentVolumeClaims => Objects::PersistentVolumeClaims(Vec::new()),
    }
}

/// Reads one list: items, whether all of them were read, and the list's `apiVersion`.
/// Problems go to `notes` (without the file name).
fn read_list<T: ListItem>(
    source: Source<'_>,
    format: Format,
    namespace: Option<&str>,
    notes: &mut Vec<String>,
) -> (Vec<T>, bool, Option<String>) {
    let parsed = match (source, format) {
        (Source::Bytes(bytes), Format::Json) => parse_json_list::<T>(bytes),
        (Source::Bytes(bytes), Format::Yaml) => crate::yaml::parse_yaml_list::<T>(bytes),
        (Source::LargeJson { path, file }, _) => parse_json_list_large::<T>(path, file),
    };
    let (doc, mut whole) = match parsed {
        Ok(doc) => (doc, true),
        Err(ListError::File(msg)) => {
            notes.push(msg);
            return (Vec::new(), false, None);
        }
        Err(ListError::Items { doc, errors }) => {
            notes.extend(errors);
            (doc, false)
        }
    };
    if let Some(kind) = doc.kind.as_deref()
        && !kind_matches(kind, T::LIST_KIND)
    {
        notes.push(format!(
            "holds a {kind}, but its name says {}; file skipped",
            T::LIST_KIND
        ));
        return (Vec::new(), false, doc.api_version);
    }
    let mut items = Vec::with_capacity(doc.items.len());
    for (index, mut item) in doc.items.into_iter().enumerate() {
        let meta = item.meta_mut();
        if meta.name.as_deref().is_none_or(str::is_empty) {
            notes.push(format!("item {index}: no metadata.name; item skipped"));
            whole = false;
            continue;
        }
        if let Some(ns) = namespace
            && meta.namespace.is_none()
        {
            // The directory says which namespace; kubectl always writes it anyway.
            meta.namespace = Some(ns.to_string());
        }
        items.push(item);
    }
    (items, whole, doc.api_version)
}

/// A list's kind fits the file: the typed kind, or the untyped `List` kubectl uses for
/// mixed lists.
fn kind_matches(kind: &str, expected: &str) -> bool {
    kind == expected || kind == "List"
}

/// A kubectl list document: `kind`, `apiVersion` and the items (`metadata` skipped).
pub(crate) struct ListDoc<T> {
    pub(crate) kind: Option<String>,
    pub(crate) api_version: Option<String>,
    pub(crate) items: Vec<T>,
}

impl<'de, T: ListItem> Deserialize<'de> for ListDoc<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ListDocVisitor(PhantomData))
    }
}

struct ListDocVisitor<T>(PhantomData<T>);

impl<'de, T: ListItem> Visitor<'de> for ListDocVisitor<T> {
    type Value = ListDoc<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {}", T::LIST_KIND)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListDoc<T>, A::Error> {
        let mut doc = ListDoc {
            kind: None,
            api_version: None,
            items: Vec::new(),
        };
        while let Some(key) = map.next_key::<ListKey>()? {
            match key {
                ListKey::Kind => doc.kind = map.next_value()?,
                ListKey::ApiVersion => doc.api_version = map.next_value()?,
                ListKey::Items => {
                    // kubectl writes `kind` first: a list of the wrong kind is not parsed at all.
                    if doc
                        .kind
                        .as_deref()
                        .is_some_and(|k| !kind_matches(k, T::LIST_KIND))
                    {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        doc.items = map.next_value::<Option<Vec<T>>>()?.unwrap_or_default();
                    }
                }
                ListKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(doc)
    }
}

enum ListKey {
    Kind,
    ApiVersion,
    Items,
    Other,
}

impl<'de> Deserialize<'de> for ListKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ListKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ListKey, E> {
                Ok(match v {
                    "kind" => ListKey::Kind,
                    "apiVersion" => ListKey::ApiVersion,
                    "items" => ListKey::Items,
                    _ => ListKey::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Why a list file could not be fully used.
pub(crate) enum ListError<T> {
    /// Not JSON/YAML at all (or truncated): nothing usable.
    File(String),
    /// Well-formed, but some items do not have the expected shape; the others are in `doc`.
    Items {
        doc: ListDoc<T>,
        errors: Vec<String>,
    },
}

fn parse_json_list<T: ListItem>(bytes: &[u8]) -> Result<ListDoc<T>, ListError<T>> {
    // Fast path: one typed pass without path tracking.
    let first_err = match serde_json::from_slice::<ListDoc<T>>(bytes) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    // Again with the field path, for the message.
    let with_path = match serde_path_to_error::deserialize::<_, ListDoc<T>>(
        &mut serde_json::Deserializer::from_slice(bytes),
    ) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    if !matches!(first_err.classify(), serde_json::error::Category::Data) {
        return Err(ListError::File(describe_json_error(&with_path)));
    }
    // Well-formed JSON, but an item has the wrong shape: read item by item.
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return Err(ListError::File(describe_json_error(&with_path))),
    };
    let position = format!(" (line {} column {})", first_err.line(), first_err.column());
    salvage(value, &position)
}

/// [`parse_json_list`] for a file too large to hold whole: parsed as it is read. Only when that
/// fails is it read whole, to name the problem and keep the good items as for any other file.
fn parse_json_list_large<T: ListItem>(
    path: &Path,
    file: fs::File,
) -> Result<ListDoc<T>, ListError<T>> {
    let streamed =
        serde_json::from_reader::<_, ListDoc<T>>(BufReader::with_capacity(256 << 10, file));
    match streamed {
        Ok(doc) => Ok(doc),
        Err(e) if e.is_io() => Err(ListError::File(format!("cannot read: {e}"))),
        Err(_) => match fs::read(path) {
            Ok(bytes) => parse_json_list::<T>(&bytes),
            Err(e) => Err(ListError::File(format!("cannot read: {e}"))),
        },
    }
}

/// Reads a list item by item from its generic form, naming each bad item.
pub(crate) fn salvage<T: ListItem>(
    value: serde_json::Value,
    first_position: &str,
) -> Result<ListDoc<T>, ListError<T>> {
    let serde_json::Value::Object(mut top) = value else {
        return Err(ListError::File(format!(
            "not a {}: the document is not a mapping",
            T::LIST_KIND
        )));
    };
    let text = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_string));
    let kind = text(top.remove("kind"));
    let api_version = text(top.remove("apiVersion"));
    let raw_items = match top.remove("items") {
        Some(serde_json::Value::Array(a)) => a,
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(_) => {
            return Err(ListError::File("field `items` is not a list".to_string()));
        }
    };
    let mut doc = ListDoc {
        kind,
        api_version,
        items: Vec::with_capacity(raw_items.len()),
    };
    if doc
        .kind
        .as_deref()
        .is_some_and(|k| !kind_matches(k, T::LIST_KIND))
    {
        return Ok(doc);
    }
    let mut errors = Vec::new();
    for (index, mut value) in raw_items.into_iter().enumerate() {
        let label = item_label(&value);
        // Items of an older API group version (extensions/v1beta1 ...) still parse by shape.
        if let Some(obj) = value.as_object_mut() {
            obj.remove("kind");
            obj.remove("apiVersion");
        }
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(item) => doc.items.push(item),
            Err(e) => {
                let position = if errors.is_empty() {
                    first_position
                } else {
                    ""
                };
                let field = e.path().to_string();
                errors.push(format!(
                    "item {index}{label}: field `{}`: {}{position}; item skipped",
                    if field.is_empty() {
                        "."
                    } else {
                        field.as_str()
                    },
                    e.inner()
                ));
            }
        }
    }
    if errors.is_empty() {
        // The typed pass failed on something the per-item pass accepts (a kind/apiVersion).
        return Ok(doc);
    }
    Err(ListError::Items { doc, errors })
}

fn describe_json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    let path = e.path().to_string();
    let what = match inner.classify() {
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Data => "unexpected content",
    };
    if path.is_empty() || path == "." {
        format!("{what} at line {}: {inner}", inner.line())
    } else {
        format!("{what} at line {}, field `{path}`: {inner}", inner.line())
    }
}

fn item_label(value: &serde_json::Value) -> String {
    let meta = value.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(|n| n.as_str());
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(|n| n.as_str());
    match (ns, name) {
        (Some(ns), Some(name)) => format!(" ({ns}/{name})"),
        (None, Some(name)) => format!(" ({name})"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Container logs

/// The log blocks of one pod directory.
struct PodLogs {
    blocks: Vec<(ContainerRef, bool, String)>,
    notes: Vec<SkippedInput>,
}

fn read_pod_logs(root: Root<'_>, opts: &DumpOptions, namespace: &str, dir: &Path) -> PodLogs {
    let mut out = PodLogs {
        blocks: Vec::new(),
        notes: Vec::new(),
    };
    let dir_pod = file_name(dir);
    for (file, previous) in [("logs.txt", false), ("previous-logs.txt", true)] {
        let path = dir.join(file);
        let f = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                out.notes
                    .push(root.note(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        let blocks: LogBlocks = match parse_log_blocks(
            BufReader::with_capacity(64 << 10, f),
            opts.max_container_log_bytes,
        ) {
            Ok(b) => b,
            Err(e) => {
                out.notes
                    .push(root.note(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        for note in blocks.notes {
            out.notes.push(root.note(&path, note));
        }
        for block in blocks.blocks {
            if block.namespace != namespace || block.pod != dir_pod {
                out.notes.push(root.note(
                    &path,
                    format!(
                        "line {}: block for pod {}/{} found in the directory of {namespace}/{dir_pod}; kept under the pod the marker names",
                        block.start_line, block.namespace, block.pod
                    ),
                ));
            }
            if let Some(total) = block.truncated_from {
                out.notes.push(root.note(
                    &path,
                    format!(
                        "container {}: log tail-limited, kept the last {} of {} bytes",
                        block.container,
                        block.text.len(),
                        total
                    ),
                ));
            }
            let key = ContainerRef::new(block.namespace, block.pod, block.container);
            out.blocks.push((key, previous, block.text));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Node logs and facts

enum NodeContent {
    Facts(Box<NodeFacts>),
    Log(NodeLogSource, String),
    Nothing,
}

struct NodeFile {
    node: String,
    content: NodeContent,
    notes: Vec<SkippedInput>,
}

/// `(node, file)` for every file under `_nodes/<node>/`.
fn node_files(root: Root<'_>, dir: &Path, notes: &mut Vec<SkippedInput>) -> Vec<(String, PathBuf)> {
    let nodes = match entries(dir) {
        Ok(e) => e,
        Err(e) => {
            notes.push(root.note(dir, format!("cannot list: {e}")));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for node_dir in nodes.into_iter().filter(|e| e.is_dir) {
        match entries(&node_dir.path) {
            Ok(files) => out.extend(
                files
                    .into_iter()
                    .filter(|f| !f.is_dir)
                    .map(|f| (node_dir.name.clone(), f.path)),
            ),
            Err(e) => notes.push(root.note(&node_dir.path, format!("cannot list: {e}"))),
        }
    }
    out
}

fn read_node_file(root: Root<'_>, opts: &DumpOptions, node: &str, path: &Path) -> NodeFile {
    let mut out = NodeFile {
        node: node.to_string(),
        content: NodeContent::Nothing,
        notes: Vec::new(),
    };
    let name = file_name(path);
    if name == "facts.json" {
        match fs::read(path) {
            Ok(bytes) => match serde_path_to_error::deserialize::<_, NodeFacts>(
                &mut serde_json::Deserializer::from_slice(&bytes),
            ) {
                Ok(mut facts) => {
                    if facts.node.is_empty() {
                        facts.node = node.to_string();
                    }
                    out.content = NodeContent::Facts(Box::new(facts));
                }
                Err(e) => out.notes.push(root.note(path, describe_json_error(&e))),
            },
            Err(e) => out.notes.push(root.note(path, format!("cannot read: {e}"))),
        }
    } else if let Some(source) = name.strip_suffix(".log") {
        match source.parse::<NodeLogSource>() {
            Ok(src) => match read_tail(path, opts.max_node_log_bytes) {
                Ok((text, total)) => {
                    if text.len() < total {
                        out.notes.push(root.note(
                            path,
                            format!(
                                "log tail-limited, kept the last {} of {total} bytes",
                                text.len()
                            ),
                        ));
                    }
                    out.content = NodeContent::Log(src, text);
                }
                Err(e) => out.notes.push(root.note(path, format!("cannot read: {e}"))),
            },
            Err(e) => out.notes.push(root.note(path, e.to_string())),
        }
    }
    out
}

/// The last `max` bytes of a file (whole lines, see [`TailBuffer`]) and its size; reads only
/// the tail of a large file.
fn read_tail(path: &Path, max: usize) -> std::io::Result<(String, usize)> {
    let mut f = fs::File::open(path)?;
    let len = f.metadata()?.len() as usize;
    // One byte more than the tail, to see whether the tail starts at a line start.
    let start = len.saturating_sub(max + 1);
    f.seek(SeekFrom::Start(start as u64))?;
    let mut bytes = Vec::with_capacity(len - start);
    f.read_to_end(&mut bytes)?;
    let mut tail = TailBuffer::new(max);
    if start > 0 {
        // Pretend the bytes before were seen, so the buffer cuts as if it had read them all.
        tail.skipped(start);
    }
    tail.push(&bytes);
    let total = tail.total();
    let (text, _) = tail.finish();
    Ok((text, total))
}

fn read_meta(root: Root<'_>, path: &Path, notes: &mut Vec<SkippedInput>) -> Option<Timestamp> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            notes.push(root.note(path, format!("cannot read: {e}")));
            return None;
        }
    };
    match serde_path_to_error::deserialize::<_, DumpMeta>(
        &mut serde_json::Deserializer::from_slice(&bytes),
    ) {
        Ok(meta) => meta.collected_at,
        Err(e) => {
            notes.push(root.note(path, describe_json_error(&e)));
            None
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn mtime(p: &Path) -> Option<Timestamp> {
    let modified = fs::metadata(p).ok()?.modified().ok()?;
    Timestamp::try_from(modified).ok()
}
