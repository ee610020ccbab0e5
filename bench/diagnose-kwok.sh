#!/usr/bin/env bash
# Time from `kubemedic diagnose -A` start to report on a testbed cluster with 1,000 kwok nodes
# and 3,000 pods (5% OOMKilled). Needs the testbed binaries (testbed/build). Prints figures.
# Sizes: KUBEMEDIC_KWOK_NODES=1000 KUBEMEDIC_KWOK_PODS=3000
set -euo pipefail
cd "$(dirname "$0")/.."
KUBEMEDIC_REQUIRE_TESTBED=1 cargo test --release -p kubemedic --test diagnose_kwok_scale -- --ignored --nocapture 2>&1 \
  | grep -E '^(diagnose_kwok_scale|  )'
