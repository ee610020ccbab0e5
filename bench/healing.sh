#!/usr/bin/env bash
# Healing benchmarks of `kubemedic controller` (release binary) on the testbed (real apiserver +
# kwok): condition held → first action latency (p50/p99 over 20 nodes) and the controller's CPU,
# memory and pass time at 1,000 kwok nodes with 100 Remediations in flight. The controller runs
# pinned to core 0 (taskset); the testbed uses both cores.
#   bench/healing.sh [latency|cost]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo bench -p kubemedic --bench heal_controller -- "$@"
