#!/usr/bin/env bash
# End to end on the testbed: Events written through the real apiserver as fast as it takes them
# (16 writers, each event repeated), archived by `kubemedic controller` (SQLite); prints the write
# rate and the lag from each repeat's time to its archiving (p50/p99). Needs the testbed
# binaries (testbed/build). Sizes: KM_BENCH_EVENTS=2000 KM_BENCH_REPEATS=3 KM_BENCH_WRITERS=16
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p kubemedic-controller --test bench_e2e --no-run 2>/dev/null
KUBEMEDIC_REQUIRE_TESTBED=1 cargo test --release -p kubemedic-controller --test bench_e2e -- --ignored --nocapture 2>&1 \
  | grep -E '^controller-e2e'
