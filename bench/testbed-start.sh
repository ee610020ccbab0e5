#!/usr/bin/env bash
# Control-plane start time, median/min/max per phase over several runs (see
# crates/testbed/benches/start.rs). Runs: KUBEMEDIC_BENCH_RUNS (default 7, etcd+apiserver)
# and KUBEMEDIC_BENCH_FULL_RUNS (default 3, with controllers and 3 kwok nodes).
# The dev profile is enough: the time is spent in the Go processes, not in Rust.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo bench -q -p kubemedic-testbed --bench start --profile dev
