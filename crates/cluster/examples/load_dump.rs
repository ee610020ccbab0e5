//! Loads a dump and prints what it holds, the time taken and the peak RSS (Linux), to profile the
//! loader on a large dump without the analysers:
//! `cargo run --release -p kubemedic-cluster --example load_dump -- DIR`

use std::time::Instant;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: load_dump DIR");
        std::process::exit(2);
    };
    let start = Instant::now();
    match kubemedic_cluster::load_dump(std::path::Path::new(&dir)) {
        Ok(s) => {
            println!(
                "loaded in {:.2} s: {} nodes, {} pods, {} events, {} services, {} replicasets, {} container logs, {} skipped, {} missing",
                start.elapsed().as_secs_f64(),
                s.nodes.len(),
                s.pods.len(),
                s.events.len(),
                s.services.len(),
                s.replica_sets.len(),
                s.container_logs.len(),
                s.skipped.len(),
                s.missing.len()
            );
            if let Some(k) = vm_hwm_kib() {
                println!("peak RSS {} MiB", k / 1024);
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
