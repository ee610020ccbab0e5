#!/usr/bin/env bash
# Healing benchmarks on the testbed (real apiserver + kwok): condition held → first action
# latency (p50/p99 over 20 nodes) and the healing loop's cost at 1,000 kwok nodes with 100
# Remediations in flight. Builds first (on all cores), then runs pinned to one core.
#   bench/healing.sh [latency|cost]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo bench -p kubemedic-heal --bench healing --no-run >&2
exec taskset -c 0 cargo bench -p kubemedic-heal --bench healing -- "$@"
