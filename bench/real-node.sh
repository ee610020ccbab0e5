#!/usr/bin/env bash
# Real node timings, median/min/max over KUBEMEDIC_BENCH_RUNS runs (default 5): start phases
# (namespaces, containerd, images, kubelet → Ready, kube-proxy), a pod's create → Running, and
# the teardown. Root needed (see crates/testbed/benches/real_node.rs). The dev profile is
# enough: the time is spent in containerd, the kubelet and the apiserver, not in Rust.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo bench -q -p kubemedic-testbed --bench real_node --profile dev
