//! What one cached pod costs in the controller's watch cache: a kube-rs reflector `Store` of
//! kubemedic's slim `Pod` (what the cache held before) against the compressed
//! [`kubemedic_controller::packed::PackedStore`] (what it holds now), for N pods made from a pod
//! exactly as kube-apiserver returns it for a kwok node (kubemedic-model's
//! tests/fixtures/pod-kwok.json: managedFields included), each with its own name, uid, IP, node
//! and resourceVersion, 500 per namespace, applied as a watch's initial list.
//!
//! Prints the heap each store keeps per pod (requested bytes, and glibc's footprint: 8-byte
//! header rounded up to 16, at least 32), plus the CPU time to store a pod and to decode one.
//!
//! Run: `cargo bench -p kubemedic-controller --bench pod_cache` (`-- 150000` for another N).

use kube::runtime::reflector;
use kube::runtime::watcher::Event;
use kubemedic_controller::packed;
use kubemedic_model::objects::Pod;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_GLIBC: AtomicIsize = AtomicIsize::new(0);

fn glibc_chunk(size: usize) -> isize {
    (size + 8).div_ceil(16).max(2) as isize * 16
}

// SAFETY: forwards to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        LIVE_GLIBC.fetch_add(glibc_chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_GLIBC.fetch_sub(glibc_chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> (isize, isize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_GLIBC.load(Ordering::Relaxed),
    )
}

/// Pod number `i`: the fixture with its identity and placement changed.
fn pod(template: &serde_json::Value, i: usize) -> Pod {
    let mut v = template.clone();
    let m = &mut v["metadata"];
    m["name"] = format!("web-69c6f74b8b-{i:06x}").into();
    m["namespace"] = format!("team-{:03}", i / 500).into();
    m["uid"] = format!("4f0c2d1e-{:04x}-4b7a-9c3e-{i:012x}", i % 0xffff).into();
    m["resourceVersion"] = (100_000 + i).to_string().into();
    v["spec"]["nodeName"] = format!("kwok-node-{:04}", i % 5000).into();
    v["status"]["podIP"] = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255).into();
    serde_json::from_value(v).expect("fixture parses as a slim Pod")
}

fn report(what: &str, n: usize, before: (isize, isize), after: (isize, isize)) {
    let per = |a: isize, b: isize| (a - b) as f64 / n as f64;
    println!(
        "{what:<52} {:>9.0} {:>9.0}",
        per(after.0, before.0),
        per(after.1, before.1)
    );
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let template: serde_json::Value =
        serde_json::from_str(include_str!("../../model/tests/fixtures/pod-kwok.json"))
            .expect("fixture is JSON");
    println!("{n} pods (kubemedic-model tests/fixtures/pod-kwok.json, 500 per namespace)");
    println!(
        "{:<52} {:>9} {:>9}",
        "heap kept per pod (bytes)", "requested", "glibc"
    );

    // Before: kube-rs reflector store of slim pods.
    {
        let (reader, mut writer) = reflector::store::<Pod>();
        let before = live();
        writer.apply_watcher_event(&Event::Init);
        for i in 0..n {
            writer.apply_watcher_event(&Event::InitApply(pod(&template, i)));
        }
        writer.apply_watcher_event(&Event::InitDone);
        let after = live();
        report(
            "kube-rs reflector Store<slim Pod> (before)",
            n,
            before,
            after,
        );
        assert_eq!(reader.len(), n);
        let t = Instant::now();
        let all: Vec<Pod> = reader.state().iter().map(|p| (**p).clone()).collect();
        println!(
            "  snapshot (clone every pod): {:.2} µs per pod",
            t.elapsed().as_secs_f64() * 1e6 / all.len() as f64
        );
    }

    // After: packed store.
    {
        let (reader, mut writer) = packed::store::<Pod>();
        let before = live();
        let mut stored = std::time::Duration::ZERO;
        writer.apply(&Event::Init).expect("init");
        for i in 0..n {
            let p = Event::InitApply(pod(&template, i));
            let t = Instant::now();
            writer.apply(&p).expect("stored");
            stored += t.elapsed();
        }
        writer.apply(&Event::InitDone).expect("done");
        let after = live();
        report("PackedStore<slim Pod> (after)", n, before, after);
        let (frames, dict) = reader.packed_bytes();
        println!(
            "  compressed frames {:.0} bytes per pod; dictionary {dict} bytes; store {:.2} µs per pod (incl. building it)",
            frames as f64 / n as f64,
            stored.as_secs_f64() * 1e6 / n as f64
        );
        let t = Instant::now();
        let all = reader.state();
        println!(
            "  snapshot (decode every pod): {:.2} µs per pod",
            t.elapsed().as_secs_f64() * 1e6 / all.len() as f64
        );
        assert_eq!(all.len(), n);
        let want = pod(&template, n - 1);
        let got = reader
            .get(
                want.metadata.namespace.as_deref(),
                want.metadata.name.as_deref().unwrap_or(""),
            )
            .expect("last pod stored");
        assert_eq!(
            serde_json::to_value(&got).expect("serializes"),
            serde_json::to_value(&want).expect("serializes"),
            "a pod reads back as it was stored"
        );
    }
}
