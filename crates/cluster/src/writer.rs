//! Writing a [`Snapshot`] as a dump in `kubectl cluster-info dump` layout plus kubemedic's files.

use crate::dump::{DumpMeta, META_DIR, META_FILE, NODES_DIR};
use crate::logs::{end_marker, start_marker};
use k8s_openapi::Resource;
use kubemedic_model::Snapshot;
use kubemedic_model::objects::ObjectMeta;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file of the dump could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct DumpWriteError {
    /// The file or directory.
    pub path: PathBuf,
    /// The I/O or serialisation error.
    pub source: std::io::Error,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Namespaces with a directory.
    pub namespaces: usize,
}

/// Writes `snap` into `dir` (created if missing). Existing files of the same names are replaced.
pub fn write_dump(
    snap: &Snapshot,
    dir: &Path,
    collector: &str,
) -> Result<WriteStats, DumpWriteError> {
    let mut w = Writer {
        root: dir.to_path_buf(),
        stats: WriteStats::default(),
    };
    w.mkdir(dir)?;
    w.list("nodes.json", &snap.nodes.iter().collect::<Vec<_>>())?;
    if !snap.persistent_volumes.is_empty() {
        w.list(
            "persistentvolumes.json",
            &snap.persistent_volumes.iter().collect::<Vec<_>>(),
        )?;
    }

    let namespaces = namespaces_of(snap);
    w.stats.namespaces = namespaces.len();
    for ns in &namespaces {
        let in_ns = |m: &ObjectMeta| m.namespace.as_deref() == Some(ns.as_str());
        let pods: Vec<_> = snap.pods.iter().filter(|o| in_ns(&o.metadata)).collect();
        // kubectl's seven files, always present (empty lists included).
        w.list(
            &format!("{ns}/events.json"),
            &filter(&snap.events, |o| in_ns(&o.metadata)),
        )?;
        w.list(
            &format!("{ns}/replication-controllers.json"),
            &filter(&snap.replication_controllers, |o| in_ns(&o.metadata)),
        )?;
        w.list(
            &format!("{ns}/services.json"),
            &filter(&snap.services, |o| in_ns(&o.metadata)),
        )?;
        w.list(
            &format!("{ns}/daemonsets.json"),
            &filter(&snap.daemon_sets, |o| in_ns(&o.metadata)),
        )?;
        w.list(
            &format!("{ns}/deployments.json"),
            &filter(&snap.deployments, |o| in_ns(&o.metadata)),
        )?;
        w.list(
            &format!("{ns}/replicasets.json"),
            &filter(&snap.replica_sets, |o| in_ns(&o.metadata)),
        )?;
        w.list(&format!("{ns}/pods.json"), &pods)?;
        // kubemedic's extra lists, only when there is something in them.
        w.list_nonempty(
            &format!("{ns}/statefulsets.json"),
            &filter(&snap.stateful_sets, |o| in_ns(&o.metadata)),
        )?;
        w.list_nonempty(
            &format!("{ns}/jobs.json"),
            &filter(&snap.jobs, |o| in_ns(&o.metadata)),
        )?;
        w.list_nonempty(
            &format!("{ns}/endpoints.json"),
            &filter(&snap.endpoints, |o| in_ns(&o.metadata)),
        )?;
        w.list_nonempty(
            &format!("{ns}/endpointslices.json"),
            &filter(&snap.endpoint_slices, |o| in_ns(&o.metadata)),
        )?;
        w.list_nonempty(
            &format!("{ns}/persistentvolumeclaims.json"),
            &filter(&snap.persistent_volume_claims, |o| in_ns(&o.metadata)),
        )?;
    }

    // Container logs: one logs.txt (and previous-logs.txt) per pod, blocks in container order.
    let mut by_pod: BTreeMap<(&str, &str), Vec<(&str, &kubemedic_model::ContainerLogs)>> =
        BTreeMap::new();
    for (k, v) in &snap.container_logs {
        by_pod
            .entry((k.namespace.as_str(), k.pod.as_str()))
            .or_default()
            .push((k.container.as_str(), v));
    }
    for ((ns, pod), containers) in by_pod {
        let mut current = String::new();
        let mut previous = String::new();
        for (c, logs) in containers {
            if let Some(text) = &logs.current {
                block(&mut current, ns, pod, c, text);
            }
            if let Some(text) = &logs.previous {
                block(&mut previous, ns, pod, c, text);
            }
        }
        if !current.is_empty() {
            w.text(&format!("{ns}/{pod}/logs.txt"), &current)?;
        }
        if !previous.is_empty() {
            w.text(&format!("{ns}/{pod}/previous-logs.txt"), &previous)?;
        }
    }

    for (node, sources) in &snap.node_logs {
        for (source, text) in sources {
            w.text(&format!("{NODES_DIR}/{node}/{}.log", source.as_str()), text)?;
        }
    }
    for (node, facts) in &snap.node_facts {
        w.json(&format!("{NODES_DIR}/{node}/facts.json"), facts)?;
    }
    let meta = DumpMeta {
        collected_at: snap.taken_at,
        collector: collector.to_string(),
        namespace: None,
    };
    w.json(&format!("{META_DIR}/{META_FILE}"), &meta)?;
    Ok(w.stats)
}

fn block(out: &mut String, ns: &str, pod: &str, container: &str, text: &str) {
    out.push_str(&start_marker(ns, pod, container));
    out.push_str(text);
    // Like kubectl: the END marker follows the raw bytes, so no newline is added.
    out.push_str(&end_marker(ns, pod, container));
}

fn filter<T, F: Fn(&T) -> bool>(items: &[T], keep: F) -> Vec<&T> {
    items.iter().filter(|o| keep(o)).collect()
}

fn namespaces_of(snap: &Snapshot) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut add = |m: &ObjectMeta| {
        if let Some(ns) = &m.namespace {
            set.insert(ns.clone());
        }
    };
    snap.pods.iter().for_each(|o| add(&o.metadata));
    snap.events.iter().for_each(|o| add(&o.metadata));
    snap.services.iter().for_each(|o| add(&o.metadata));
    snap.endpoints.iter().for_each(|o| add(&o.metadata));
    snap.endpoint_slices.iter().for_each(|o| add(&o.metadata));
    snap.persistent_volume_claims
        .iter()
        .for_each(|o| add(&o.metadata));
    snap.deployments.iter().for_each(|o| add(&o.metadata));
    snap.replica_sets.iter().for_each(|o| add(&o.metadata));
    snap.daemon_sets.iter().for_each(|o| add(&o.metadata));
    snap.stateful_sets.iter().for_each(|o| add(&o.metadata));
    snap.jobs.iter().for_each(|o| add(&o.metadata));
    snap.replication_controllers
        .iter()
        .for_each(|o| add(&o.metadata));
    for k in snap.container_logs.keys() {
        set.insert(k.namespace.clone());
    }
    set
}

struct Writer {
    root: PathBuf,
    stats: WriteStats,
}

impl Writer {
    fn mkdir(&self, dir: &Path) -> Result<(), DumpWriteError> {
        fs::create_dir_all(dir).map_err(|source| DumpWriteError {
            path: dir.to_path_buf(),
            source,
        })
    }

    fn create(&mut self, rel: &str) -> Result<(PathBuf, BufWriter<fs::File>), DumpWriteError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            self.mkdir(parent)?;
        }
        let f = fs::File::create(&path).map_err(|source| DumpWriteError {
            path: path.clone(),
            source,
        })?;
        self.stats.files += 1;
        Ok((path, BufWriter::new(f)))
    }

    fn finish(&mut self, path: PathBuf, mut f: BufWriter<fs::File>) -> Result<(), DumpWriteError> {
        f.flush().map_err(|source| DumpWriteError {
            path: path.clone(),
            source,
        })?;
        if let Ok(m) = fs::metadata(&path) {
            self.stats.bytes += m.len();
        }
        Ok(())
    }

    fn text(&mut self, rel: &str, text: &str) -> Result<(), DumpWriteError> {
        let (path, mut f) = self.create(rel)?;
        f.write_all(text.as_bytes())
            .map_err(|source| DumpWriteError {
                path: path.clone(),
                source,
            })?;
        self.finish(path, f)
    }

    fn json<T: Serialize>(&mut self, rel: &str, value: &T) -> Result<(), DumpWriteError> {
        let (path, mut f) = self.create(rel)?;
        write_pretty(&mut f, value).map_err(|source| DumpWriteError {
            path: path.clone(),
            source,
        })?;
        self.finish(path, f)
    }

    fn list<T: Resource + Serialize>(
        &mut self,
        rel: &str,
        items: &[&T],
    ) -> Result<(), DumpWriteError> {
        self.typed_list(rel, items)
    }

    fn list_nonempty<T: Resource + Serialize>(
        &mut self,
        rel: &str,
        items: &[&T],
    ) -> Result<(), DumpWriteError> {
        if items.is_empty() {
            return Ok(());
        }
        self.typed_list(rel, items)
    }

    fn typed_list<T: Resource + Serialize>(
        &mut self,
        rel: &str,
        items: &[&T],
    ) -> Result<(), DumpWriteError> {
        let (path, mut f) = self.create(rel)?;
        let io = |source: std::io::Error| DumpWriteError {
            path: path.clone(),
            source,
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let mut v = serde_json::to_value(item).map_err(|e| io(e.into()))?;
            // kubectl's typed lists carry kind/apiVersion on the list only.
            if let Some(obj) = v.as_object_mut() {
                obj.remove("kind");
                obj.remove("apiVersion");
            }
            values.push(v);
        }
        let doc = serde_json::json!({
            "kind": format!("{}List", T::KIND),
            "apiVersion": T::API_VERSION,
            "metadata": { "resourceVersion": "" },
            "items": values,
        });
        write_pretty(&mut f, &doc).map_err(io)?;
        self.finish(path, f)
    }
}

/// kubectl's JSON printer indents with four spaces and ends with a newline.
fn write_pretty<W: Write, T: Serialize>(w: &mut W, value: &T) -> std::io::Result<()> {
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, fmt);
    value.serialize(&mut ser).map_err(std::io::Error::from)?;
    w.write_all(b"\n")
}
