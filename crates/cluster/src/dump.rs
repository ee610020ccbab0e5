//! Reading an offline dump: the directory `kubectl cluster-info dump --all-namespaces
//! --output-directory=DIR` writes, plus kubemedic's optional additions.
//!
//! Layout (see `docs/diagnose.md`):
//! - `nodes.json`, `persistentvolumes.json` at the top;
//! - one directory per namespace with `events.json`, `pods.json`, `services.json`,
//!   `deployments.json`, `replicasets.json`, `daemonsets.json`, `replication-controllers.json`
//!   (kubectl's files) and optionally `endpoints.json`, `endpointslices.json`,
//!   `persistentvolumeclaims.json`, `statefulsets.json`, `jobs.json`;
//! - `<ns>/<pod>/logs.txt` (kubectl) and `<ns>/<pod>/previous-logs.txt` (kubemedic), both made of
//!   `==== START logs for container C of pod NS/POD ====` ... `==== END ... ====` blocks;
//! - `_nodes/<node>/<source>.log` and `_nodes/<node>/facts.json`;
//! - `_kubemedic/meta.json` with `collectedAt`.
//!
//! A file that cannot be read or parsed is recorded in [`Snapshot::skipped`] with its path and
//! the position of the problem; everything else is still loaded. Only a missing or unreadable
//! dump directory is an error.

use crate::events::events_v1_to_core;
use crate::logs::{LogBlocks, TailBuffer, parse_log_blocks};
use jiff::Timestamp;
use kubemedic_model::objects::Event;
use kubemedic_model::{ContainerRef, NodeFacts, NodeLogSource, SkippedInput, Snapshot};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

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
}

impl Default for DumpOptions {
    fn default() -> Self {
        Self {
            max_container_log_bytes: 1 << 20,
            max_node_log_bytes: 4 << 20,
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
}

/// Metadata kubemedic writes next to the kubectl files.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
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
    let entries = sorted_entries(dir).map_err(|source| DumpError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;

    let mut loader = Loader {
        root: dir,
        opts,
        snap: Snapshot::default(),
        meta_time: None,
    };
    for entry in entries {
        let name = file_name(&entry);
        let is_dir = entry.is_dir();
        match (name.as_str(), is_dir) {
            ("nodes.json", false) => loader.snap.nodes = loader.read_list(&entry),
            ("persistentvolumes.json", false) => {
                loader.snap.persistent_volumes = loader.read_list(&entry)
            }
            (META_DIR, true) => loader.read_meta(&entry),
            (NODES_DIR, true) => loader.read_nodes_dir(&entry),
            (_, true) if !name.starts_with('.') => loader.read_namespace(&entry),
            _ => {}
        }
    }
    let taken_at = loader
        .meta_time
        .or_else(|| loader.snap.newest_timestamp())
        .or_else(|| mtime(&dir.join("nodes.json")))
        .or_else(|| mtime(dir));
    loader.snap.taken_at = taken_at;
    Ok(loader.snap)
}

struct Loader<'a> {
    root: &'a Path,
    opts: &'a DumpOptions,
    snap: Snapshot,
    meta_time: Option<Timestamp>,
}

/// The typed JSON `List` kubectl prints; items usually carry no kind/apiVersion.
#[derive(Deserialize)]
struct ListDoc<T> {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

impl Loader<'_> {
    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn skip(&mut self, path: &Path, reason: impl Into<String>) {
        let input = self.rel(path);
        self.snap.skipped.push(SkippedInput {
            input,
            reason: reason.into(),
        });
    }

    fn read_bytes(&mut self, path: &Path) -> Option<Vec<u8>> {
        match fs::read(path) {
            Ok(b) => Some(b),
            Err(e) => {
                self.skip(path, format!("cannot read: {e}"));
                None
            }
        }
    }

    /// Reads a typed list; bad items are skipped one by one with their index and field path.
    fn read_list<T: DeserializeOwned>(&mut self, path: &Path) -> Vec<T> {
        let Some(bytes) = self.read_bytes(path) else {
            return Vec::new();
        };
        self.salvage(path, parse_list::<T>(&bytes))
    }

    fn read_events(&mut self, path: &Path) -> Vec<Event> {
        let Some(bytes) = self.read_bytes(path) else {
            return Vec::new();
        };
        // core/v1 Events deserialise from an events.k8s.io/v1 item without complaint (every
        // field is optional), so the list's apiVersion decides which shape to read.
        let is_v1 = serde_json::from_slice::<ListDoc<serde::de::IgnoredAny>>(&bytes)
            .ok()
            .and_then(|d| d.api_version)
            .is_some_and(|v| v.starts_with("events.k8s.io/"));
        if is_v1 {
            let v1 = self.salvage(
                path,
                parse_list::<kubemedic_model::objects::events_v1::Event>(&bytes),
            );
            return v1.into_iter().map(events_v1_to_core).collect();
        }
        self.salvage(path, parse_list::<Event>(&bytes))
    }

    fn salvage<T>(&mut self, path: &Path, parsed: Result<Vec<T>, ListError<T>>) -> Vec<T> {
        match parsed {
            Ok(items) => items,
            Err(ListError::Syntax(msg)) => {
                self.skip(path, msg);
                Vec::new()
            }
            Err(ListError::Items { items, errors }) => {
                for e in errors {
                    self.skip(path, e);
                }
                items
            }
        }
    }

    fn read_meta(&mut self, dir: &Path) {
        let path = dir.join(META_FILE);
        if !path.exists() {
            return;
        }
        let Some(bytes) = self.read_bytes(&path) else {
            return;
        };
        match serde_path_to_error::deserialize::<_, DumpMeta>(
            &mut serde_json::Deserializer::from_slice(&bytes),
        ) {
            Ok(meta) => self.meta_time = meta.collected_at,
            Err(e) => self.skip(&path, describe_error(&e)),
        }
    }

    fn read_namespace(&mut self, dir: &Path) {
        let Some(namespace) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return;
        };
        let entries = match sorted_entries(dir) {
            Ok(e) => e,
            Err(e) => {
                self.skip(dir, format!("cannot list namespace directory: {e}"));
                return;
            }
        };
        for entry in entries {
            let name = file_name(&entry);
            if entry.is_dir() {
                self.read_pod_dir(&namespace, &entry);
                continue;
            }
            match name.as_str() {
                "events.json" => {
                    let ev = self.read_events(&entry);
                    self.snap.events.extend(ev);
                }
                "pods.json" => {
                    let v = self.read_list(&entry);
                    self.snap.pods.extend(v);
                }
                "services.json" => {
                    let v = self.read_list(&entry);
                    self.snap.services.extend(v);
                }
                "deployments.json" => {
                    let v = self.read_list(&entry);
                    self.snap.deployments.extend(v);
                }
                "replicasets.json" => {
                    let v = self.read_list(&entry);
                    self.snap.replica_sets.extend(v);
                }
                "daemonsets.json" => {
                    let v = self.read_list(&entry);
                    self.snap.daemon_sets.extend(v);
                }
                "statefulsets.json" => {
                    let v = self.read_list(&entry);
                    self.snap.stateful_sets.extend(v);
                }
                "jobs.json" => {
                    let v = self.read_list(&entry);
                    self.snap.jobs.extend(v);
                }
                "endpoints.json" => {
                    let v = self.read_list(&entry);
                    self.snap.endpoints.extend(v);
                }
                "endpointslices.json" => {
                    let v = self.read_list(&entry);
                    self.snap.endpoint_slices.extend(v);
                }
                "persistentvolumeclaims.json" => {
                    let v = self.read_list(&entry);
                    self.snap.persistent_volume_claims.extend(v);
                }
                "replication-controllers.json" => {
                    let v = self.read_list(&entry);
                    self.snap.replication_controllers.extend(v);
                }
                _ => {}
            }
        }
    }

    fn read_pod_dir(&mut self, namespace: &str, dir: &Path) {
        for (file, previous) in [("logs.txt", false), ("previous-logs.txt", true)] {
            let path = dir.join(file);
            if !path.is_file() {
                continue;
            }
            let f = match fs::File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    self.skip(&path, format!("cannot read: {e}"));
                    continue;
                }
            };
            let blocks =
                match parse_log_blocks(BufReader::new(f), self.opts.max_container_log_bytes) {
                    Ok(b) => b,
                    Err(e) => {
                        self.skip(&path, format!("cannot read: {e}"));
                        continue;
                    }
                };
            self.store_blocks(namespace, dir, &path, blocks, previous);
        }
    }

    fn store_blocks(
        &mut self,
        namespace: &str,
        pod_dir: &Path,
        path: &Path,
        blocks: LogBlocks,
        previous: bool,
    ) {
        let dir_pod = file_name(pod_dir);
        for note in blocks.notes {
            self.skip(path, note);
        }
        for block in blocks.blocks {
            if block.namespace != namespace || block.pod != dir_pod {
                self.skip(
                    path,
                    format!(
                        "line {}: block for pod {}/{} found in the directory of {namespace}/{dir_pod}; kept under the pod the marker names",
                        block.start_line, block.namespace, block.pod
                    ),
                );
            }
            if let Some(total) = block.truncated_from {
                self.skip(
                    path,
                    format!(
                        "container {}: log tail-limited, kept the last {} of {} bytes",
                        block.container,
                        block.text.len(),
                        total
                    ),
                );
            }
            let key = ContainerRef::new(block.namespace, block.pod, block.container);
            let entry = self.snap.container_logs.entry(key).or_default();
            if previous {
                entry.previous = Some(block.text);
            } else {
                entry.current = Some(block.text);
            }
        }
    }

    fn read_nodes_dir(&mut self, dir: &Path) {
        let entries = match sorted_entries(dir) {
            Ok(e) => e,
            Err(e) => {
                self.skip(dir, format!("cannot list: {e}"));
                return;
            }
        };
        for node_dir in entries.into_iter().filter(|p| p.is_dir()) {
            let node = file_name(&node_dir);
            let files = match sorted_entries(&node_dir) {
                Ok(e) => e,
                Err(e) => {
                    self.skip(&node_dir, format!("cannot list: {e}"));
                    continue;
                }
            };
            for file in files.into_iter().filter(|p| p.is_file()) {
                let name = file_name(&file);
                if name == "facts.json" {
                    self.read_facts(&node, &file);
                } else if let Some(source) = name.strip_suffix(".log") {
                    match source.parse::<NodeLogSource>() {
                        Ok(src) => self.read_node_log(&node, src, &file),
                        Err(e) => self.skip(&file, e.to_string()),
                    }
                }
            }
        }
    }

    fn read_facts(&mut self, node: &str, path: &Path) {
        let Some(bytes) = self.read_bytes(path) else {
            return;
        };
        match serde_path_to_error::deserialize::<_, NodeFacts>(
            &mut serde_json::Deserializer::from_slice(&bytes),
        ) {
            Ok(mut facts) => {
                if facts.node.is_empty() {
                    facts.node = node.to_string();
                }
                self.snap.node_facts.insert(node.to_string(), facts);
            }
            Err(e) => self.skip(path, describe_error(&e)),
        }
    }

    fn read_node_log(&mut self, node: &str, source: NodeLogSource, path: &Path) {
        let f = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.skip(path, format!("cannot read: {e}"));
                return;
            }
        };
        let mut tail = TailBuffer::new(self.opts.max_node_log_bytes);
        let mut reader = BufReader::new(f);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => tail.push(&String::from_utf8_lossy(&line)),
                Err(e) => {
                    self.skip(
                        path,
                        format!("read error after {} bytes: {e}", tail.total()),
                    );
                    break;
                }
            }
        }
        let total = tail.total();
        let (text, truncated) = tail.finish();
        if truncated {
            self.skip(
                path,
                format!(
                    "log tail-limited, kept the last {} of {total} bytes",
                    text.len()
                ),
            );
        }
        self.snap
            .node_logs
            .entry(node.to_string())
            .or_default()
            .insert(source, text);
    }
}

/// Why a list file could not be fully used.
enum ListError<T> {
    /// Not JSON at all (or truncated): nothing usable.
    Syntax(String),
    /// Valid JSON, but some items do not have the expected shape; the others are returned.
    Items { items: Vec<T>, errors: Vec<String> },
}

fn describe_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
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

/// Parses a kubectl List file; fast path is one typed pass, slow path salvages good items.
fn parse_list<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, ListError<T>> {
    let first_err = match serde_path_to_error::deserialize::<_, ListDoc<T>>(
        &mut serde_json::Deserializer::from_slice(bytes),
    ) {
        Ok(doc) => return Ok(doc.items),
        Err(e) => e,
    };
    if !matches!(
        first_err.inner().classify(),
        serde_json::error::Category::Data
    ) {
        return Err(ListError::Syntax(describe_error(&first_err)));
    }
    // The JSON is well-formed but an item has the wrong shape: load item by item.
    let doc: ListDoc<serde_json::Value> = match serde_json::from_slice(bytes) {
        Ok(d) => d,
        Err(_) => return Err(ListError::Syntax(describe_error(&first_err))),
    };
    let mut items = Vec::with_capacity(doc.items.len());
    let mut errors = Vec::new();
    let mut first_reported = false;
    for (index, mut value) in doc.items.into_iter().enumerate() {
        let label = item_label(&value);
        // Items of an older API group version (extensions/v1beta1 ...) still parse by shape.
        if let Some(obj) = value.as_object_mut() {
            obj.remove("apiVersion");
            obj.remove("kind");
        }
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(item) => items.push(item),
            Err(e) => {
                let position = if first_reported {
                    String::new()
                } else {
                    first_reported = true;
                    format!(
                        " (line {} column {})",
                        first_err.inner().line(),
                        first_err.inner().column()
                    )
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
        return Ok(items);
    }
    Err(ListError::Items { items, errors })
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

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
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
