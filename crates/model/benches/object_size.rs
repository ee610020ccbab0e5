//! Memory per object: k8s-openapi's full Pod against kubemedic's slim Pod, for a pod exactly as
//! kube-apiserver returns it for a kwok node (tests/fixtures/pod-kwok.json, managedFields
//! included). Prints `size_of` (inline bytes, what a `Vec<Pod>` slot costs) and the heap bytes the
//! parsed object keeps alive (requested bytes, allocation count, and glibc's footprint for those
//! allocations: 8-byte header rounded up to 16, at least 32).
//!
//! Also measures a compact metadata layout (boxed strings, labels as a sorted vector) that the
//! slim types could have used instead of k8s-openapi's `ObjectMeta`, to show what that choice
//! costs.
//!
//! Run: `cargo bench -p kubemedic-model --bench object_size`

use kubemedic_model::objects::{ObjectMeta, Time};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);
static LIVE_GLIBC: AtomicIsize = AtomicIsize::new(0);

fn glibc_chunk(size: usize) -> isize {
    (size + 8).div_ceil(16).max(2) as isize * 16
}

// SAFETY: forwards to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE_GLIBC.fetch_add(glibc_chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Ordering::Relaxed);
        LIVE_GLIBC.fetch_sub(glibc_chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, Copy)]
struct Heap {
    bytes: isize,
    allocs: isize,
    glibc: isize,
}

fn snapshot() -> Heap {
    Heap {
        bytes: LIVE_BYTES.load(Ordering::Relaxed),
        allocs: LIVE_ALLOCS.load(Ordering::Relaxed),
        glibc: LIVE_GLIBC.load(Ordering::Relaxed),
    }
}

/// Heap kept alive by the value `make` returns (intermediate allocations freed are not counted).
fn heap_of<T>(make: impl FnOnce() -> T) -> (T, Heap) {
    let before = snapshot();
    let value = black_box(make());
    let after = snapshot();
    (
        value,
        Heap {
            bytes: after.bytes - before.bytes,
            allocs: after.allocs - before.allocs,
            glibc: after.glibc - before.glibc,
        },
    )
}

/// The alternative: metadata with boxed strings and labels/annotations as sorted vectors.
#[allow(dead_code)]
#[derive(Debug)]
struct CompactMeta {
    name: Option<Box<str>>,
    namespace: Option<Box<str>>,
    uid: Option<Box<str>>,
    resource_version: Option<Box<str>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    generation: Option<i64>,
    labels: Box<[(Box<str>, Box<str>)]>,
    annotations: Box<[(Box<str>, Box<str>)]>,
    owner_references: Box<[CompactOwner]>,
    finalizers: Box<[Box<str>]>,
}

#[allow(dead_code)]
#[derive(Debug)]
struct CompactOwner {
    kind: Box<str>,
    name: Box<str>,
    uid: Box<str>,
    controller: bool,
}

fn compact(m: &ObjectMeta) -> CompactMeta {
    let b = |s: &Option<String>| s.as_deref().map(Box::from);
    let pairs = |m: &Option<std::collections::BTreeMap<String, String>>| {
        m.iter()
            .flatten()
            .map(|(k, v)| (Box::from(k.as_str()), Box::from(v.as_str())))
            .collect()
    };
    CompactMeta {
        name: b(&m.name),
        namespace: b(&m.namespace),
        uid: b(&m.uid),
        resource_version: b(&m.resource_version),
        creation_timestamp: m.creation_timestamp.clone(),
        deletion_timestamp: m.deletion_timestamp.clone(),
        generation: m.generation,
        labels: pairs(&m.labels),
        annotations: pairs(&m.annotations),
        owner_references: m
            .owner_references
            .iter()
            .flatten()
            .map(|o| CompactOwner {
                kind: o.kind.as_str().into(),
                name: o.name.as_str().into(),
                uid: o.uid.as_str().into(),
                controller: o.controller == Some(true),
            })
            .collect(),
        finalizers: m
            .finalizers
            .iter()
            .flatten()
            .map(|f| f.as_str().into())
            .collect(),
    }
}

fn row(what: &str, inline: usize, heap: Heap) {
    println!(
        "{what:<44} {inline:>7} {:>8} {:>7} {:>9} {:>9}",
        heap.bytes,
        heap.allocs,
        heap.glibc,
        inline as isize + heap.glibc
    );
}

fn measure(label: &str, json: &str) {
    println!(
        "\n{label} ({} bytes of JSON, managedFields included)",
        json.len()
    );
    println!(
        "{:<44} {:>7} {:>8} {:>7} {:>9} {:>9}",
        "type", "size_of", "heap", "allocs", "heap+hdr", "total"
    );
    let (full, h) = heap_of(|| {
        serde_json::from_str::<k8s_openapi::api::core::v1::Pod>(json).expect("fixture parses")
    });
    row(
        "k8s-openapi Pod (full)",
        size_of::<k8s_openapi::api::core::v1::Pod>(),
        h,
    );
    let (_meta, h) = heap_of(|| full.metadata.clone());
    row("  of which ObjectMeta", size_of::<ObjectMeta>(), h);
    let (_mf, h) = heap_of(|| full.metadata.managed_fields.clone());
    row("  of which managedFields", size_of::<Option<Vec<()>>>(), h);
    drop(full);

    let (slim, h) = heap_of(|| {
        serde_json::from_str::<kubemedic_model::objects::Pod>(json).expect("fixture parses")
    });
    row(
        "kubemedic Pod (slim, k8s-openapi ObjectMeta)",
        size_of::<kubemedic_model::objects::Pod>(),
        h,
    );
    let (_meta, h) = heap_of(|| slim.metadata.clone());
    row(
        "  of which ObjectMeta (slim-read)",
        size_of::<ObjectMeta>(),
        h,
    );
    let (_spec, h) = heap_of(|| slim.spec.clone());
    row(
        "  of which spec",
        size_of::<Option<kubemedic_model::objects::PodSpec>>(),
        h,
    );
    let (_status, h) = heap_of(|| slim.status.clone());
    row(
        "  of which status",
        size_of::<Option<kubemedic_model::objects::PodStatus>>(),
        h,
    );
    let (_c, h) = heap_of(|| compact(&slim.metadata));
    row("alternative: compact own meta", size_of::<CompactMeta>(), h);
}

fn main() {
    measure(
        "kwok pod: tests/fixtures/pod-kwok.json",
        include_str!("../tests/fixtures/pod-kwok.json"),
    );
    measure(
        "Deployment pod with probes, resources, env, annotations: tests/fixtures/pod-deployment.json",
        include_str!("../tests/fixtures/pod-deployment.json"),
    );
    println!(
        "\nsize_of: Time {}, Option<Time> {}, String {}, BTreeMap<String,String> {}",
        size_of::<Time>(),
        size_of::<Option<Time>>(),
        size_of::<String>(),
        size_of::<std::collections::BTreeMap<String, String>>()
    );
    sizes();
}

#[allow(dead_code)]
fn sizes() {
    use kubemedic_model::objects::*;
    println!(
        "Container {} Probe {} ContainerStatus {} ContainerState {} Terminated {} PodCondition {} Volume {} OwnerReference {}",
        size_of::<Container>(),
        size_of::<Probe>(),
        size_of::<ContainerStatus>(),
        size_of::<ContainerState>(),
        size_of::<ContainerStateTerminated>(),
        size_of::<PodCondition>(),
        size_of::<Volume>(),
        size_of::<OwnerReference>()
    );
}
