#!/usr/bin/env bash
# End to end on the testbed: Events written through the real apiserver as fast as it takes them
# (16 writers, each event repeated), archived by `kubemedic controller` (SQLite); prints the write
# rate and the lag from each repeat's time to its archiving (p50/p99). Needs the testbed
# binaries (testbed/build). Sizes: KM_BENCH_EVENTS=2000 KM_BENCH_REPEATS=3 KM_BENCH_WRITERS=16
# KM_BENCH_PROFILE=release (or dev: reuses the test build when a release build is too costly;
# the README says which profile a figure used).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${KM_BENCH_PROFILE:-release}
cargo test --profile "$profile" -p kubemedic-controller --test bench_e2e --no-run 2>/dev/null
echo "controller-e2e: profile $profile; machine $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
KUBEMEDIC_REQUIRE_TESTBED=1 cargo test --profile "$profile" -p kubemedic-controller --test bench_e2e -- --ignored --nocapture 2>&1 \
  | grep --line-buffered -E '^controller-e2e'
