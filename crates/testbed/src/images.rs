//! Container images without a registry: an [`Image`] is a list of files (static binaries,
//! configs, symlinks) packed into a single-layer OCI image archive that
//! `ctr -n k8s.io images import` loads into a real node's containerd
//! ([`crate::RealNode::load_image`]).
//!
//! The archive is an OCI image layout in a tar: `oci-layout`, `index.json` (naming the image),
//! and under `blobs/sha256/` the manifest, the config and one uncompressed layer. Entries are
//! sorted and dated 0, so the same files always give the same digests.
//!
//! Ready-made images: [`pause`] (the kubelet's sandbox image), [`busybox`], [`workload`] (the
//! Go program that fails the seeds' ways) and [`kubemedic`] (a static build of the binary).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::TestbedError;

/// Media types of the OCI image spec.
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// What an image file is made of.
#[derive(Debug, Clone)]
enum Source {
    /// A file on this machine, copied.
    Host(PathBuf),
    /// Literal contents.
    Bytes(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
    /// A directory.
    Dir,
}

#[derive(Debug, Clone)]
struct Entry {
    source: Source,
    mode: u32,
}

/// A single-layer container image assembled from files.
#[derive(Debug, Clone)]
pub struct Image {
    reference: String,
    /// Path in the image (relative, no leading '/') → entry.
    entries: BTreeMap<String, Entry>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    working_dir: String,
}

/// The digests of a packed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The image's name, e.g. `registry.k8s.io/pause:3.10`.
    pub reference: String,
    /// `sha256:<hex>` of the manifest: the image's digest in containerd.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the uncompressed layer (the config's diff_id).
    pub layer_digest: String,
}

fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `/a/b/` → `a/b`; rejects empty paths and `..` components.
fn image_path(path: &str) -> Result<String, TestbedError> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() || trimmed.split('/').any(|c| c == ".." || c.is_empty()) {
        return Err(TestbedError::Usage(format!(
            "image path {path:?} must be absolute, without empty or '..' components"
        )));
    }
    Ok(trimmed.to_string())
}

impl Image {
    /// An empty image named `reference` (`registry/repository:tag`). Pods must refer to it by
    /// this name with an `imagePullPolicy` that does not pull (a tag other than `latest`, or
    /// `IfNotPresent`/`Never`).
    pub fn new(reference: impl Into<String>) -> Image {
        let mut image = Image {
            reference: reference.into(),
            entries: BTreeMap::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            working_dir: "/".into(),
        };
        image.entries.insert(
            "tmp".into(),
            Entry {
                source: Source::Dir,
                mode: 0o1777,
            },
        );
        image
    }

    /// The image's name.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    fn insert(mut self, path: &str, source: Source, mode: u32) -> Result<Image, TestbedError> {
        let path = image_path(path)?;
        self.entries.insert(path, Entry { source, mode });
        Ok(self)
    }

    /// Adds the host file `from` at `path` with permission bits `mode`.
    pub fn file(
        self,
        path: &str,
        from: impl AsRef<Path>,
        mode: u32,
    ) -> Result<Image, TestbedError> {
        let from = from.as_ref();
        if !from.is_file() {
            return Err(TestbedError::Usage(format!(
                "image {}: {} is not a file",
                self.reference,
                from.display()
            )));
        }
        self.insert(path, Source::Host(from.to_path_buf()), mode)
    }

    /// Adds a file with literal `contents` at `path`.
    pub fn contents(
        self,
        path: &str,
        contents: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<Image, TestbedError> {
        self.insert(path, Source::Bytes(contents.into()), mode)
    }

    /// Adds a symbolic link at `path` pointing to `target`.
    pub fn symlink(self, path: &str, target: &str) -> Result<Image, TestbedError> {
        self.insert(path, Source::Symlink(target.to_string()), 0o777)
    }

    /// Sets the entrypoint (what runs when a pod gives no `command`).
    pub fn entrypoint<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Image {
        self.entrypoint = args.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the default arguments (what runs after the entrypoint when a pod gives no `args`).
    pub fn cmd<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Image {
        self.cmd = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Image {
        self.env.push(format!("{name}={value}"));
        self
    }

    /// The layer: every entry, parents first, sorted, owned by root, dated 0.
    fn layer(&self) -> Result<Vec<u8>, TestbedError> {
        // Parent directories the entries need but nobody listed.
        let mut all: BTreeMap<String, Entry> = BTreeMap::new();
        for (path, entry) in &self.entries {
            let mut parent = Path::new(path).parent();
            while let Some(dir) = parent.filter(|p| !p.as_os_str().is_empty()) {
                all.entry(dir.to_string_lossy().into_owned())
                    .or_insert(Entry {
                        source: Source::Dir,
                        mode: 0o755,
                    });
                parent = dir.parent();
            }
            all.insert(path.clone(), entry.clone());
        }
        let mut builder = tar::Builder::new(Vec::new());
        for (path, entry) in &all {
            let mut header = tar::Header::new_ustar();
            header.set_mode(entry.mode);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            let tar_err = |e: std::io::Error| TestbedError::io(format!("image layer {path}"), e);
            match &entry.source {
                Source::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, format!("{path}/"), std::io::empty())
                        .map_err(tar_err)?;
                }
                Source::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder
                        .append_link(&mut header, path, target)
                        .map_err(tar_err)?;
                }
                Source::Bytes(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    builder
                        .append_data(&mut header, path, bytes.as_slice())
                        .map_err(tar_err)?;
                }
                Source::Host(from) => {
                    let bytes = std::fs::read(from).map_err(|e| TestbedError::io(from, e))?;
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    builder
                        .append_data(&mut header, path, bytes.as_slice())
                        .map_err(tar_err)?;
                }
            }
        }
        builder
            .into_inner()
            .map_err(|e| TestbedError::io("image layer", e))
    }

    /// Writes the image as an OCI image archive to `out`.
    pub fn write_archive(&self, out: &Path) -> Result<Packed, TestbedError> {
        let layer = self.layer()?;
        let layer_digest = sha256(&layer);
        let mut config_section = serde_json::json!({
            "Env": self.env,
            "WorkingDir": self.working_dir,
        });
        if !self.entrypoint.is_empty() {
            config_section["Entrypoint"] = serde_json::json!(self.entrypoint);
        }
        if !self.cmd.is_empty() {
            config_section["Cmd"] = serde_json::json!(self.cmd);
        }
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": config_section,
            "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
            "history": [{ "created_by": "kubemedic-testbed image packer" }],
        })
        .to_string()
        .into_bytes();
        let config_digest = sha256(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": { "mediaType": CONFIG_TYPE, "digest": config_digest, "size": config.len() },
            "layers": [{ "mediaType": LAYER_TYPE, "digest": layer_digest, "size": layer.len() }],
        })
        .to_string()
        .into_bytes();
        let manifest_digest = sha256(&manifest);
        let tag = self
            .reference
            .rsplit_once(':')
            .filter(|(_, tag)| !tag.contains('/'))
            .map_or("latest", |(_, tag)| tag);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [{
                "mediaType": MANIFEST_TYPE,
                "digest": manifest_digest,
                "size": manifest.len(),
                "platform": { "architecture": "amd64", "os": "linux" },
                "annotations": {
                    "io.containerd.image.name": self.reference,
                    "org.opencontainers.image.ref.name": tag,
                },
            }],
        })
        .to_string()
        .into_bytes();

        let file = std::fs::File::create(out).map_err(|e| TestbedError::io(out, e))?;
        let mut archive = tar::Builder::new(std::io::BufWriter::new(file));
        let io_err = |e: std::io::Error| TestbedError::io(out, e);
        let mut add = |name: String, bytes: &[u8]| -> Result<(), TestbedError> {
            let mut header = tar::Header::new_ustar();
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_size(bytes.len() as u64);
            archive
                .append_data(&mut header, name, bytes)
                .map_err(io_err)
        };
        let blob = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add("index.json".into(), &index)?;
        add(blob(&manifest_digest), &manifest)?;
        add(blob(&config_digest), &config)?;
        add(blob(&layer_digest), &layer)?;
        archive
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(io_err)?;
        Ok(Packed {
            reference: self.reference.clone(),
            manifest_digest,
            layer_digest,
        })
    }
}

/// The kubelet's sandbox image ([`crate::node::PAUSE_IMAGE`]): the static `pause` program
/// `testbed/build` compiles with gcc.
pub fn pause(bin_dir: &Path) -> Result<Image, TestbedError> {
    Image::new(crate::node::PAUSE_IMAGE)
        .file("/pause", bin_dir.join("pause"), 0o755)
        .map(|i| i.entrypoint(["/pause"]))
}

/// The busybox image's name (`busybox:1.36` in a pod spec).
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:1.36";

/// Where Debian's busybox-static puts the binary.
const BUSYBOX_BINARY: &str = "/bin/busybox";

/// busybox with a link for every applet in `/bin`, from Debian's busybox-static. Its `wget`
/// crashes inside containers (static glibc resolver); use `nc`.
pub fn busybox() -> Result<Image, TestbedError> {
    let binary = Path::new(BUSYBOX_BINARY);
    let listing = std::process::Command::new(binary)
        .arg("--list")
        .output()
        .map_err(|e| {
            TestbedError::Unavailable(format!(
                "{BUSYBOX_BINARY}: {e} (install busybox-static; scripts/setup.sh does)"
            ))
        })?;
    let mut image = Image::new(BUSYBOX_IMAGE)
        .file("/bin/busybox", binary, 0o755)?
        .cmd(["sh"]);
    for applet in String::from_utf8_lossy(&listing.stdout).split_whitespace() {
        if applet != "busybox" && !applet.contains('/') {
            image = image.symlink(&format!("/bin/{applet}"), "busybox")?;
        }
    }
    image.contents(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        0o644,
    )
}

/// The ways the `workload` program fails (`testbed/go/workloads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Logs a few lines, then a nil-pointer panic: goroutine trace, exit code 2.
    Panic,
    /// Reads `/etc/app/config.yaml` and exits 1 naming what it rejects (or that it is missing).
    BadConfig,
    /// Allocates and touches memory until the cgroup OOM killer ends it.
    Oom,
    /// Serves HTTP on :8080 and stays up; `args: ["-start-delay", "30s"]` makes it load for
    /// that long before it listens (probes that start too early).
    Serve,
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 4] = [
        Workload::Panic,
        Workload::BadConfig,
        Workload::Oom,
        Workload::Serve,
    ];

    /// The image's name; each mode looks like its own application.
    pub fn image_name(self) -> &'static str {
        match self {
            Workload::Panic => "kubemedic.local/iot-gateway:1.4.2",
            Workload::BadConfig => "kubemedic.local/billing-api:2.0.1",
            Workload::Oom => "kubemedic.local/report-builder:1.0.0",
            Workload::Serve => "kubemedic.local/web:1.0.0",
        }
    }

    fn mode(self) -> &'static str {
        match self {
            Workload::Panic => "panic",
            Workload::BadConfig => "badconfig",
            Workload::Oom => "oom",
            Workload::Serve => "serve",
        }
    }
}

/// The image of one [`Workload`]: the static Go `workload` program from `testbed/build`
/// (`bin_dir`), run in that mode.
pub fn workload(bin_dir: &Path, which: Workload) -> Result<Image, TestbedError> {
    Ok(Image::new(which.image_name())
        .file("/usr/local/bin/workload", bin_dir.join("workload"), 0o755)?
        .entrypoint(["/usr/local/bin/workload", which.mode()]))
}

/// kubemedic's own image from a static (musl) build of the binary at `binary`: the binary at
/// `/kubemedic`, the entrypoint, nothing else (no shell, no CA bundle: in a cluster it trusts
/// the service account's CA).
pub fn kubemedic(reference: &str, binary: &Path) -> Result<Image, TestbedError> {
    Ok(Image::new(reference)
        .file("/kubemedic", binary, 0o755)?
        .entrypoint(["/kubemedic"]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read_archive(path: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            files.insert(name, bytes);
        }
        files
    }

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn archive_is_an_oci_layout_whose_digests_match_their_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("app");
        std::fs::write(&bin, b"#!/bin/sh\necho hi\n").unwrap();
        let image = Image::new("kubemedic.local/app:1.0")
            .file("/usr/bin/app", &bin, 0o755)
            .unwrap()
            .symlink("/bin/app", "/usr/bin/app")
            .unwrap()
            .contents("/etc/app/config.yaml", "port: 80\n", 0o644)
            .unwrap()
            .entrypoint(["/usr/bin/app"])
            .cmd(["--serve"]);
        let out = dir.path().join("app.tar");
        let packed = image.write_archive(&out).unwrap();
        let files = read_archive(&out);

        // Every blob is stored under its own digest.
        for (name, bytes) in &files {
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                assert_eq!(sha256(bytes), format!("sha256:{hex}"), "{name}");
            }
        }
        assert_eq!(
            json(&files["oci-layout"])["imageLayoutVersion"],
            serde_json::json!("1.0.0")
        );
        let index = json(&files["index.json"]);
        let described = &index["manifests"][0];
        assert_eq!(described["digest"], packed.manifest_digest.as_str());
        assert_eq!(
            described["annotations"]["io.containerd.image.name"],
            "kubemedic.local/app:1.0"
        );
        assert_eq!(
            described["annotations"]["org.opencontainers.image.ref.name"],
            "1.0"
        );
        let blob = |d: &serde_json::Value| {
            files[&format!(
                "blobs/sha256/{}",
                d.as_str().unwrap().trim_start_matches("sha256:")
            )]
                .clone()
        };
        let manifest = json(&blob(&described["digest"]));
        assert_eq!(
            described["size"].as_u64().unwrap() as usize,
            blob(&described["digest"]).len()
        );
        let config = json(&blob(&manifest["config"]["digest"]));
        assert_eq!(config["config"]["Entrypoint"][0], "/usr/bin/app");
        assert_eq!(config["config"]["Cmd"][0], "--serve");
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            packed.layer_digest.as_str()
        );
        assert_eq!(
            manifest["layers"][0]["digest"],
            packed.layer_digest.as_str()
        );

        // The layer holds the files with their parents, modes and links.
        let layer = blob(&manifest["layers"][0]["digest"]);
        let mut archive = tar::Archive::new(layer.as_slice());
        let mut seen = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            seen.insert(
                entry.path().unwrap().to_string_lossy().into_owned(),
                (
                    header.entry_type(),
                    header.mode().unwrap(),
                    header
                        .link_name()
                        .unwrap()
                        .map(|l| l.to_string_lossy().into_owned()),
                ),
            );
        }
        assert_eq!(seen["usr/bin/app"], (tar::EntryType::Regular, 0o755, None));
        assert_eq!(seen["usr/"].0, tar::EntryType::Directory);
        assert_eq!(seen["usr/bin/"].0, tar::EntryType::Directory);
        assert_eq!(
            seen["bin/app"],
            (
                tar::EntryType::Symlink,
                0o777,
                Some("/usr/bin/app".to_string())
            )
        );
        assert_eq!(seen["tmp/"].1, 0o1777);
    }

    #[test]
    fn same_files_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        let make = |out: &str| {
            Image::new("x.local/a:1")
                .contents("/a", "a", 0o644)
                .unwrap()
                .write_archive(&dir.path().join(out))
                .unwrap()
        };
        assert_eq!(make("one.tar"), make("two.tar"));
    }

    #[test]
    fn bad_paths_and_missing_files_are_errors() {
        assert!(Image::new("x/a:1").contents("/", "x", 0o644).is_err());
        assert!(Image::new("x/a:1").contents("/a/../b", "x", 0o644).is_err());
        let err = Image::new("x/a:1")
            .file("/a", "/nonexistent/kubemedic-file", 0o755)
            .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/kubemedic-file"),
            "{err}"
        );
    }

    #[test]
    fn busybox_links_its_applets() {
        let Ok(image) = busybox() else {
            eprintln!("busybox-static not installed; skipping");
            return;
        };
        assert!(image.entries.contains_key("bin/sh"));
        assert!(image.entries.contains_key("bin/nc"));
    }
}
