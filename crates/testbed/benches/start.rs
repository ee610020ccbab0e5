//! Control-plane start time: `cargo bench -p kubemedic-testbed --bench start`.
//!
//! Starts the testbed repeatedly and prints median/min/max per phase: etcd (spawn to
//! /health), kube-apiserver (spawn to /readyz ok and namespace default present), and for the
//! full testbed also controllers (to the default ServiceAccount) and 3 kwok nodes (to Ready).
//! Runs: KUBEMEDIC_BENCH_RUNS (default 7) for etcd+apiserver, KUBEMEDIC_BENCH_FULL_RUNS
//! (default 3) for the full testbed.

use std::time::Duration;

use kubemedic_testbed::{Options, StartTimings, Testbed};

fn runs(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn summary(label: &str, mut values: Vec<Duration>) {
    if values.iter().all(|v| v.is_zero()) {
        return;
    }
    values.sort();
    let median = if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2
    };
    println!(
        "  {label:<34} median {:>6.2}s  min {:>6.2}s  max {:>6.2}s",
        median.as_secs_f64(),
        values[0].as_secs_f64(),
        values[values.len() - 1].as_secs_f64()
    );
}

async fn measure(name: &str, opts: Options, n: usize) -> bool {
    let mut all: Vec<StartTimings> = Vec::with_capacity(n);
    for _ in 0..n {
        let tb = match Testbed::try_start(opts.clone()).await {
            Ok(tb) => tb,
            Err(e) => {
                eprintln!("testbed-start: cannot start the testbed: {e}");
                return false;
            }
        };
        all.push(tb.start_timings());
        drop(tb);
    }
    println!("{name} ({n} runs):");
    let pick = |f: fn(&StartTimings) -> Duration| all.iter().map(f).collect::<Vec<_>>();
    summary("etcd spawn -> /health", pick(|t| t.etcd));
    summary("kube-apiserver spawn -> /readyz", pick(|t| t.apiserver));
    summary("controllers -> default SA", pick(|t| t.controllers));
    summary("kwok + nodes -> Ready", pick(|t| t.nodes));
    summary("total (first spawn -> all ready)", pick(|t| t.total));
    true
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    if Testbed::binaries().await.is_none() {
        return std::process::ExitCode::SUCCESS;
    }
    let basic = measure(
        "etcd + kube-apiserver",
        Options::default(),
        runs("KUBEMEDIC_BENCH_RUNS", 7),
    )
    .await;
    let full = basic
        && measure(
            "etcd + kube-apiserver + controller-manager + scheduler + kwok (3 nodes)",
            Options {
                controllers: true,
                kwok_nodes: 3,
                ..Options::default()
            },
            runs("KUBEMEDIC_BENCH_FULL_RUNS", 3),
        )
        .await;
    if full {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
