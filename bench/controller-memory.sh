#!/usr/bin/env bash
# Controller memory with a cluster's pods watched: starts `kubemedic controller` against
# $KUBECONFIG (SQLite archive in a temporary directory, Lease in namespace `default`), samples its
# resident memory (/proc/PID/status VmRSS) every 100 ms from its first HTTP answer (caches not
# synced yet: the baseline) until its watch caches report synced, then 10 s more, and prints the
# RSS and cached pod count at each point, the peak (VmHWM) and the bytes per pod above baseline.
#
#   KUBECONFIG=... bench/controller-memory.sh
#   bench/kwok-scale.sh --no-diagnose --then bench/controller-memory.sh    # 5,000 nodes, 150k pods
#
# KUBEMEDIC_BIN: the binary to measure (default: a release build of this checkout, built first).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBECONFIG:?set KUBECONFIG to the cluster to watch}"

bin=${KUBEMEDIC_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --locked -p kubemedic --bin kubemedic >&2
    bin=target/release/kubemedic
fi
work=$(mktemp -d /tmp/km-controller-memory-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" controller --kubeconfig "$KUBECONFIG" --archive "sqlite:$work/archive.db" \
    --listen "127.0.0.1:$port" --namespace default --identity km-controller-memory \
    </dev/null >"$work/controller.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"; }
status() { curl -sf --max-time 5 "http://127.0.0.1:$port/api/v1/status" || true; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }

deadline=$((SECONDS + 1800))
base_rss= base_pods=
while :; do
    kill -0 "$pid" 2>/dev/null || { echo "controller exited:" >&2; cat "$work/controller.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "controller not synced after 30 min" >&2; exit 1; }
    rss=$(rss_kib)
    s=$(status)
    if [ -n "$s" ]; then
        pods=$(field 'd["cache"]["pods"]' <<<"$s")
        synced=$(field 'd["synced"]' <<<"$s")
        if [ -z "$base_rss" ]; then
            base_rss=$rss base_pods=$pods
            if [ "$synced" = True ]; then
                echo "controller-memory: caches synced before the first sample; baseline not measurable (cluster too small)" >&2
            fi
        fi
        [ "$synced" = True ] && break
    fi
    sleep 0.1
done
sync_rss=$(rss_kib)
sync_pods=$pods
nodes=$(field 'd["cache"]["nodes"]' <<<"$s")
sleep 10
late_rss=$(rss_kib)
late_pods=$(field 'd["cache"]["pods"]' <<<"$(status)")
hwm=$(hwm_kib)
per_pod() { python3 -c "import sys; r,b,p,q=map(float,sys.argv[1:]); print('%.0f' % ((r-b)*1024/max(p-q,1)))" "$1" "$base_rss" "$2" "$base_pods"; }
echo "controller-memory: baseline (first answer, caches empty) RSS $((base_rss / 1024)) MiB with $base_pods pods cached"
echo "controller-memory: synced RSS $((sync_rss / 1024)) MiB with $sync_pods pods and $nodes nodes cached = $(per_pod "$sync_rss" "$sync_pods") bytes per pod above baseline"
echo "controller-memory: 10 s later RSS $((late_rss / 1024)) MiB ($late_pods pods) = $(per_pod "$late_rss" "$late_pods") bytes per pod above baseline; peak (VmHWM) $((hwm / 1024)) MiB"
echo "controller-memory: binary $bin; machine $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
