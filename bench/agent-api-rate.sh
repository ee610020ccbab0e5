#!/usr/bin/env bash
# The node agent's apiserver requests per node per minute, measured on the testbed's real node:
# kubemedic installed by the chart (default monitors) and node-problem-detector (the version pinned
# in bench/agent-npd/go.mod, v1.36.0; NPD's kmsg reference configs, exporter on) for the same
# Node, one after the other, each over KUBEMEDIC_BENCH_MINUTES (default 10) after a minute of
# settling, counted from the apiserver's audit log; multiplied out to 5,000 nodes. Root needed
# (real node); builds NPD as bench/agent-idle.sh does. See the ignored test
# agent_api_request_rate in crates/kubemedic/tests/real_node_install.rs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
root=${KUBEMEDIC_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubemedic/bench}
if [ -z "${NPD_BIN:-}" ] && command -v go >/dev/null 2>&1; then
    key=$( { echo static; go env GOVERSION GOOS GOARCH; cat "$here/agent-npd/go.mod" "$here/agent-npd/go.sum"; } | sha256sum | cut -c1-12)
    NPD_BIN="$root/npd-static-$key/node-problem-detector"
    if [ ! -x "$NPD_BIN" ]; then
        echo "agent-api-rate.sh: building node-problem-detector into $NPD_BIN" >&2
        mkdir -p "$(dirname "$NPD_BIN")"
        # No journald plugin: the measurement uses kmsg monitors only, and no cgo is needed.
        (cd "$here/agent-npd" && GONOSUMDB=k8s.io/node-problem-detector GOFLAGS=-mod=mod CGO_ENABLED=0 \
            go build -o "$NPD_BIN.tmp" k8s.io/node-problem-detector/cmd/nodeproblemdetector)
        mv "$NPD_BIN.tmp" "$NPD_BIN"
    fi
fi
export NPD_BIN
exec cargo test -q -p kubemedic --test real_node_install -- --ignored --exact agent_api_request_rate --nocapture
