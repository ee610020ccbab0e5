#!/usr/bin/env bash
# Agent idle footprint: peak RSS (VmHWM) and CPU share of a core over DURATION seconds, with all
# default monitors (no --config.* flag) in --standalone mode, HTTP and Prometheus ports on.
# Also prints the RSS of the journalctl children the journald monitors run (a separate figure:
# node-problem-detector reads the journal in-process instead).
# Then kubemedic and node-problem-detector are both measured under NPD's reference configs
# (shared/npd: kernel, docker, readonly monitors + system-stats) with the exporter off.
# NPD is built from its Go module (bench/agent-npd, pinned v1.36.0) into a cache outside the repo,
# with its journald plugin (build tag `journald`, cgo: needs Debian's libsystemd-dev, which is
# the point kubemedic avoids by driving journalctl), or taken from NPD_BIN; without Go that part
# is skipped.
# Env: DURATION (default 60), WARMUP (default 5), KUBEMEDIC_BIN (default: release build),
#      NPD_BIN, KUBEMEDIC_BENCH_DIR (cache root).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
duration=${DURATION:-60}
warmup=${WARMUP:-5}
bin=${KUBEMEDIC_BIN:-}
if [ -z "$bin" ]; then
    (cd "$repo" && cargo build --release -p kubemedic >&2)
    bin="${CARGO_TARGET_DIR:-$repo/target}/release/kubemedic"
fi
hz=$(getconf CLK_TCK)

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

measure() { # name pid
    local name=$1 pid=$2
    sleep "$warmup"
    local t0 c0 t1 c1
    t0=$(date +%s.%N); c0=$(ticks "$pid")
    sleep "$duration"
    t1=$(date +%s.%N); c1=$(ticks "$pid")
    local hwm rss kids_rss=0 kid
    hwm=$(status_kb "$pid" VmHWM); rss=$(status_kb "$pid" VmRSS)
    for kid in $(pgrep -P "$pid" || true); do
        kids_rss=$(( kids_rss + $(status_kb "$kid" VmRSS || echo 0) ))
    done
    awk -v n="$name" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v hwm="$hwm" -v rss="$rss" -v kids="$kids_rss" -v nk="$(pgrep -P "$pid" | wc -l)" 'BEGIN {
        cpu = (c1 - c0) / hz / (t1 - t0) * 100
        printf "%-22s peak RSS %.1f MiB, RSS now %.1f MiB, CPU %.3f%% of a core over %.0f s; %d child processes, %.1f MiB RSS\n", n, hwm/1024, rss/1024, cpu, t1 - t0, nk, kids/1024
    }'
}

"$bin" agent --standalone --output json --port 29256 --prometheus-port 29257 >/dev/null 2>/tmp/kubemedic-agent-idle.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
measure "kubemedic agent" "$pid"
kill "$pid"; wait "$pid" 2>/dev/null || true

npd=$repo/../shared/npd
if [ ! -d "$npd" ]; then
    echo "shared/npd not found next to the repository: NPD-config comparison skipped"
    exit 0
fi
logs="$npd/kernel-monitor.json,$npd/docker-monitor.json,$npd/readonly-monitor.json"
stats="$npd/system-stats-monitor.json"
if [ ! -e /proc/modules ]; then
    # NPD's osFeature collector exits fatally without /proc/modules (kernels built without
    # module support): measure both agents without that one collector.
    stats=$(mktemp --suffix=.json)
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c.pop("osFeature",None); json.dump(c,open(sys.argv[2],"w"))' \
        "$npd/system-stats-monitor.json" "$stats"
    echo "note: no /proc/modules here; system-stats measured without osFeature for both"
fi

"$bin" agent --standalone --output json --port 29256 --prometheus-port 29257 \
    --config.system-log-monitor="$logs" --config.system-stats-monitor="$stats" >/dev/null 2>>/tmp/kubemedic-agent-idle.log &
pid=$!
measure "kubemedic (NPD configs)" "$pid"
kill "$pid"; wait "$pid" 2>/dev/null || true

root=${KUBEMEDIC_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubemedic/bench}
if [ -z "${NPD_BIN:-}" ] && command -v go >/dev/null 2>&1; then
    key=$( { echo journald; go env GOVERSION GOOS GOARCH; cat "$here/agent-npd/go.mod" "$here/agent-npd/go.sum"; } | sha256sum | cut -c1-12)
    NPD_BIN="$root/npd-daemon-$key/node-problem-detector"
    if [ ! -x "$NPD_BIN" ]; then
        echo "agent-idle.sh: building node-problem-detector into $NPD_BIN" >&2
        mkdir -p "$(dirname "$NPD_BIN")"
        # The checksum database does not list this module; go.sum (committed) pins its hash.
        if [ ! -f /usr/include/systemd/sd-journal.h ]; then
            echo "agent-idle.sh: NPD's journald plugin needs libsystemd-dev (apt-get install libsystemd-dev)" >&2
            exit 3
        fi
        (cd "$here/agent-npd" && GONOSUMDB=k8s.io/node-problem-detector GOFLAGS=-mod=mod CGO_ENABLED=1 \
            go build -tags journald -o "$NPD_BIN.tmp" k8s.io/node-problem-detector/cmd/nodeproblemdetector)
        mv "$NPD_BIN.tmp" "$NPD_BIN"
    fi
fi
if [ -n "${NPD_BIN:-}" ] && [ -x "$NPD_BIN" ]; then
    "$NPD_BIN" --enable-k8s-exporter=false --hostname-override=bench \
        --config.system-log-monitor="$logs" --config.system-stats-monitor="$stats" \
        --port 29258 --prometheus-port 29259 >/dev/null 2>&1 &
    npid=$!
    trap 'kill $pid $npid 2>/dev/null || true' EXIT
    measure "node-problem-detector" "$npid"
    kill "$npid"; wait "$npid" 2>/dev/null || true
else
    echo "node-problem-detector: not measured (no Go to build it; or set NPD_BIN)"
fi
