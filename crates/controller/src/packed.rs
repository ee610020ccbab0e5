//! A watch-cache store that keeps each object compressed: for the kind that comes by the hundred
//! thousand (Pods), where even the slim objects cost ~3 KB each once parsed (k8s-shaped structs
//! of inline strings, a `BTreeMap` of labels, five conditions) and the controller's target is
//! < 1 KiB per watched pod.
//!
//! Each object is kept as its JSON (the slim type's own serialization, which round-trips) in a
//! zstd frame, compressed against a dictionary trained on the first objects the watch delivers:
//! the field names, condition types, images and label keys every pod repeats live once in the
//! dictionary instead of once per pod. Namespaces are interned. Readers get objects decoded on
//! demand; [`PackedStore::state`] decodes them all (what a diagnosis pass needs), filtered by
//! namespace before decoding. Measured with `cargo bench -p kubemedic-controller --bench
//! pod_cache` (see the crate's README).

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::{CCtx, DCtx};

/// Objects collected before the dictionary is trained; smaller caches never get one.
pub const DICTIONARY_SAMPLES: usize = 1_000;
/// Largest dictionary trained (bytes): kept once per store.
const DICTIONARY_BYTES: usize = 32 * 1024;
/// zstd level: 3 is zstd's default; higher levels gain little on kilobyte-sized objects.
const LEVEL: i32 = 3;

/// Where an object lives: its namespace (interned) and name.
type Key = (Option<Arc<str>>, Box<str>);

/// The compressor's state shared by readers: the dictionary, if trained.
#[derive(Default)]
struct Codec {
    encoder: Option<EncoderDictionary<'static>>,
    decoder: Option<DecoderDictionary<'static>>,
    dict_len: usize,
}

impl Codec {
    fn trained(dict: &[u8]) -> Codec {
        Codec {
            encoder: Some(EncoderDictionary::copy(dict, LEVEL)),
            decoder: Some(DecoderDictionary::copy(dict)),
            dict_len: dict.len(),
        }
    }

    fn encode(&self, cctx: &mut CCtx<'static>, json: &[u8]) -> Result<Arc<[u8]>, PackError> {
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(json.len()));
        match &self.encoder {
            Some(d) => cctx.compress_using_cdict(&mut out, json, d.as_cdict()),
            None => cctx.compress(&mut out, json, LEVEL),
        }
        .map_err(|code| PackError::Zstd(zstd::zstd_safe::get_error_name(code)))?;
        Ok(Arc::from(out))
    }

    fn decode_json(&self, frame: &[u8]) -> Result<Vec<u8>, PackError> {
        let size = zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten()
            .ok_or(PackError::Zstd("frame without content size"))?;
        let size = usize::try_from(size).map_err(|_| PackError::Zstd("frame too large"))?;
        let mut out = Vec::with_capacity(size);
        DCTX.with(|d| {
            let mut dctx = d.borrow_mut();
            match &self.decoder {
                Some(dict) => dctx.decompress_using_ddict(&mut out, frame, dict.as_ddict()),
                None => dctx.decompress(&mut out, frame),
            }
        })
        .map_err(|code| PackError::Zstd(zstd::zstd_safe::get_error_name(code)))?;
        Ok(out)
    }

    fn decode<K: DeserializeOwned>(&self, frame: &[u8]) -> Result<K, PackError> {
        Ok(serde_json::from_slice(&self.decode_json(frame)?)?)
    }
}

thread_local! {
    /// One decompression context per thread, reused (creating one costs more than a decode).
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// Why an object could not be packed or unpacked (never expected: the store wrote the bytes).
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// zstd failed.
    #[error("zstd: {0}")]
    Zstd(&'static str),
    /// The object's JSON did not round-trip.
    #[error("object JSON: {0}")]
    Json(#[from] serde_json::Error),
}

struct Entries {
    objects: HashMap<Key, Arc<[u8]>>,
    namespaces: HashSet<Arc<str>>,
    codec: Arc<Codec>,
}

impl Entries {
    fn key(&mut self, namespace: Option<&str>, name: &str) -> Key {
        let ns = namespace.map(|ns| match self.namespaces.get(ns) {
            Some(i) => i.clone(),
            None => {
                let i: Arc<str> = Arc::from(ns);
                self.namespaces.insert(i.clone());
                i
            }
        });
        (ns, Box::from(name))
    }
}

/// Readers' handle to a packed store (cheap to clone).
pub struct PackedStore<K> {
    entries: Arc<RwLock<Entries>>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for PackedStore<K> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> fmt::Debug for PackedStore<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackedStore")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// A store and its only writer.
pub fn store<K>() -> (PackedStore<K>, PackedWriter<K>) {
    let entries = Arc::new(RwLock::new(Entries {
        objects: HashMap::new(),
        namespaces: HashSet::new(),
        codec: Arc::new(Codec::default()),
    }));
    (
        PackedStore {
            entries: entries.clone(),
            kind: PhantomData,
        },
        PackedWriter {
            entries,
            buffer: None,
            cctx: CCtx::create(),
            samples: Some(Vec::new()),
            kind: PhantomData,
        },
    )
}

impl<K> PackedStore<K> {
    /// Number of objects stored.
    pub fn len(&self) -> usize {
        self.read().objects.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the stored frames take (compressed objects, without map overhead), and the
    /// dictionary's size (0 before one is trained).
    pub fn packed_bytes(&self) -> (usize, usize) {
        let e = self.read();
        let frames = e.objects.values().map(|f| f.len()).sum();
        (frames, e.codec.dict_len)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl<K: DeserializeOwned> PackedStore<K> {
    /// The object `namespace`/`name` (namespace `None` for cluster-scoped kinds).
    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<K> {
        let (frame, codec) = {
            let e = self.read();
            let ns = match namespace {
                Some(ns) => Some(e.namespaces.get(ns)?.clone()),
                None => None,
            };
            let frame = e.objects.get(&(ns, Box::from(name)))?.clone();
            (frame, e.codec.clone())
        };
        decoded(&codec, &frame)
    }

    /// Every object (in no particular order).
    pub fn state(&self) -> Vec<K> {
        self.state_in(None)
    }

    /// Every object in `namespace` (all of them for `None`).
    pub fn state_in(&self, namespace: Option<&str>) -> Vec<K> {
        // Take the frames under the lock, decode after it: the writer is not held up by a
        // diagnosis pass decoding 150,000 objects.
        let (frames, codec): (Vec<Arc<[u8]>>, _) = {
            let e = self.read();
            let frames = e
                .objects
                .iter()
                .filter(|((ns, _), _)| namespace.is_none() || ns.as_deref() == namespace)
                .map(|(_, f)| f.clone())
                .collect();
            (frames, e.codec.clone())
        };
        frames.iter().filter_map(|f| decoded(&codec, f)).collect()
    }
}

fn decoded<K: DeserializeOwned>(codec: &Codec, frame: &[u8]) -> Option<K> {
    match codec.decode(frame) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::error!(error = %e, "watch cache: a stored object could not be decoded; skipped");
            None
        }
    }
}

/// The writer a watch applies its events to (one per store).
pub struct PackedWriter<K> {
    entries: Arc<RwLock<Entries>>,
    /// Objects of a (re)list in progress: swapped in when it completes, so readers keep the
    /// previous state until then (what kube-rs reflectors do).
    buffer: Option<HashMap<Key, Arc<[u8]>>>,
    cctx: CCtx<'static>,
    /// JSON of the first objects seen, until the dictionary is trained (`None` after).
    samples: Option<Vec<Vec<u8>>>,
    kind: PhantomData<fn() -> K>,
}

impl<K> fmt::Debug for PackedWriter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackedWriter").finish_non_exhaustive()
    }
}

impl<K: Serialize + DeserializeOwned + kube::Resource> PackedWriter<K> {
    /// Applies one watch event.
    pub fn apply(&mut self, event: &kube::runtime::watcher::Event<K>) -> Result<(), PackError> {
        use kube::runtime::watcher::Event;
        match event {
            Event::Init => self.buffer = Some(HashMap::new()),
            Event::InitApply(obj) => {
                let (key, frame) = self.pack(obj)?;
                self.buffer.get_or_insert_default().insert(key, frame);
            }
            Event::InitDone => {
                let buffer = self.buffer.take().unwrap_or_default();
                let mut e = self.write();
                e.objects = buffer;
                // Namespaces no object refers to any more are dropped with the old map.
                let live: HashSet<Arc<str>> =
                    e.objects.keys().filter_map(|(ns, _)| ns.clone()).collect();
                e.namespaces = live;
            }
            Event::Apply(obj) => {
                let (key, frame) = self.pack(obj)?;
                self.write().objects.insert(key, frame);
            }
            Event::Delete(obj) => {
                let meta = obj.meta();
                let mut e = self.write();
                let ns = match meta.namespace.as_deref() {
                    Some(ns) => match e.namespaces.get(ns) {
                        Some(i) => Some(i.clone()),
                        None => return Ok(()),
                    },
                    None => None,
                };
                let name: Box<str> = Box::from(meta.name.as_deref().unwrap_or_default());
                e.objects.remove(&(ns, name));
            }
        }
        Ok(())
    }

    fn pack(&mut self, obj: &K) -> Result<(Key, Arc<[u8]>), PackError> {
        let json = serde_json::to_vec(obj)?;
        if let Some(samples) = &mut self.samples {
            samples.push(json.clone());
            if samples.len() >= DICTIONARY_SAMPLES {
                self.train();
            }
        }
        let meta = obj.meta();
        let (key, codec) = {
            let mut e = self.write();
            let key = e.key(
                meta.namespace.as_deref(),
                meta.name.as_deref().unwrap_or_default(),
            );
            (key, e.codec.clone())
        };
        let frame = codec.encode(&mut self.cctx, &json)?;
        Ok((key, frame))
    }

    /// Trains the dictionary on the samples and re-encodes what is stored with it. On failure
    /// (samples too uniform or too few) objects stay compressed without one.
    fn train(&mut self) {
        let Some(samples) = self.samples.take() else {
            return;
        };
        let dict = match zstd::dict::from_samples(&samples, DICTIONARY_BYTES) {
            Ok(d) => d,
            Err(err) => {
                tracing::warn!(error = %err, "watch cache: no compression dictionary trained; objects compressed without one");
                return;
            }
        };
        drop(samples);
        let new = Arc::new(Codec::trained(&dict));
        let entries = self.entries.clone();
        let mut e = entries.write().unwrap_or_else(|p| p.into_inner());
        let old = e.codec.clone();
        let cctx = &mut self.cctx;
        let mut recode = |map: &HashMap<Key, Arc<[u8]>>| {
            map.iter()
                .map(|(k, frame)| Ok((k.clone(), new.encode(cctx, &old.decode_json(frame)?)?)))
                .collect::<Result<HashMap<_, _>, PackError>>()
        };
        let objects = recode(&e.objects);
        let buffer = self.buffer.as_ref().map(&mut recode).transpose();
        match (objects, buffer) {
            (Ok(objects), Ok(buffer)) => {
                e.objects = objects;
                self.buffer = buffer;
                e.codec = new;
            }
            (Err(err), _) | (_, Err(err)) => {
                // Cannot happen (the frames were just written); if it does, nothing changed.
                tracing::error!(error = %err, "watch cache: re-encoding with the dictionary failed; kept without one");
            }
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::objects::Pod;
    use kube::runtime::watcher::Event;

    fn pod(ns: &str, name: &str, ip: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
                "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
            "status": {"phase": "Running", "podIP": ip,
                "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap()
    }

    fn json(p: &Pod) -> serde_json::Value {
        serde_json::to_value(p).unwrap()
    }

    #[test]
    fn objects_read_back_as_stored_before_and_after_the_dictionary() {
        let (store, mut w) = store::<Pod>();
        w.apply(&Event::Init).unwrap();
        w.apply(&Event::InitApply(pod("a", "early", "10.0.0.1")))
            .unwrap();
        assert_eq!(store.len(), 0, "a relist in progress is not visible");
        w.apply(&Event::InitDone).unwrap();
        assert_eq!(
            json(&store.get(Some("a"), "early").unwrap()),
            json(&pod("a", "early", "10.0.0.1"))
        );
        assert_eq!(store.packed_bytes().1, 0, "no dictionary for one object");

        for i in 0..DICTIONARY_SAMPLES + 10 {
            let ns = if i % 2 == 0 { "a" } else { "b" };
            w.apply(&Event::Apply(pod(
                ns,
                &format!("p{i}"),
                &format!("10.1.{}.{}", i / 256, i % 256),
            )))
            .unwrap();
        }
        assert!(store.packed_bytes().1 > 0, "dictionary trained");
        // Objects stored before the dictionary were re-encoded with it and still read back.
        assert_eq!(
            json(&store.get(Some("a"), "early").unwrap()),
            json(&pod("a", "early", "10.0.0.1"))
        );
        assert_eq!(
            json(&store.get(Some("b"), "p7").unwrap()),
            json(&pod("b", "p7", "10.1.0.7"))
        );
        assert!(store.get(Some("a"), "p7").is_none(), "p7 is in namespace b");
        assert!(store.get(Some("c"), "p7").is_none());
        assert_eq!(store.len(), DICTIONARY_SAMPLES + 11);
        assert_eq!(
            store.state_in(Some("b")).len(),
            (DICTIONARY_SAMPLES + 10) / 2
        );
        assert!(
            store
                .state_in(Some("a"))
                .iter()
                .all(|p| p.metadata.namespace.as_deref() == Some("a"))
        );

        // An update replaces, a delete removes, a relist replaces everything when done.
        w.apply(&Event::Apply(pod("b", "p7", "10.9.9.9"))).unwrap();
        assert_eq!(
            store
                .get(Some("b"), "p7")
                .unwrap()
                .status
                .unwrap()
                .pod_ip
                .as_deref(),
            Some("10.9.9.9")
        );
        w.apply(&Event::Delete(pod("b", "p7", "10.9.9.9"))).unwrap();
        assert!(store.get(Some("b"), "p7").is_none());
        w.apply(&Event::Init).unwrap();
        w.apply(&Event::InitApply(pod("c", "only", "10.2.0.1")))
            .unwrap();
        assert_eq!(
            store.len(),
            DICTIONARY_SAMPLES + 10,
            "old state until the relist is done"
        );
        w.apply(&Event::InitDone).unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(json(&store.state()[0]), json(&pod("c", "only", "10.2.0.1")));
    }
}
