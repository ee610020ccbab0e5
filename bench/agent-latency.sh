#!/usr/bin/env bash
# Latency from a /dev/kmsg write to the NodeCondition visible on a real kube-apiserver
# (testbed), median/p90/max over ROUNDS set+clear cycles (default 10, so 20 samples).
# Needs root (writes /dev/kmsg) and the testbed binaries (testbed/build).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
export KUBEMEDIC_TESTBED_BIN_DIR=${KUBEMEDIC_TESTBED_BIN_DIR:-$(testbed/build | tail -n1)}
cargo run --quiet --release -p kubemedic-agent --example kmsg_latency
