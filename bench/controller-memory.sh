#!/usr/bin/env bash
# Controller memory with a cluster's pods watched: starts `kubemedic controller` against
# $KUBECONFIG (SQLite archive in a temporary directory, Lease in namespace `default`), waits until
# its watch caches report synced and then until it is idle (it used < 2% of a core over 10 s:
# initial event archiving and crash capture done), and prints its resident memory at the first
# HTTP answer, at sync and idle (VmRSS, split into anonymous and file-backed; VmHWM), what it
# cached and archived, and the bytes per pod above a baseline.
#
# The baseline the target means is the same controller on the same cluster without the pods:
# measure it once on a cluster with the same nodes and no pods and save it, then point the pod
# run at it (kwok-scale.sh creates nodes with capacity, so pods are bound and Running, not
# Pending with FailedScheduling Events):
#
#   KUBEMEDIC_SCALE_PODS=0 KM_BENCH_SAVE_BASELINE=/tmp/km-base bench/kwok-scale.sh --no-diagnose --then bench/controller-memory.sh
#   KM_BENCH_BASELINE=/tmp/km-base bench/kwok-scale.sh --no-diagnose --then bench/controller-memory.sh
#
# Without KM_BENCH_BASELINE the baseline is the first HTTP answer (caches still empty).
# KUBEMEDIC_BIN: the binary to measure (default: a release build of this checkout, built first).
# KM_BENCH_IDLE_TIMEOUT (s, default 1200): how long to wait for idle after sync.
# KM_BENCH_CONTROLLER_ARGS: more arguments for the controller (e.g. `--healing off`).
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
    ${KM_BENCH_CONTROLLER_ARGS:-} </dev/null >"$work/controller.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
rss_kib() { kib VmRSS; }
# CPU time used by the controller so far, in clock ticks (utime + stime).
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat"; }
status() { curl -sf --max-time 5 "http://127.0.0.1:$port/api/v1/status" || true; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
alive() { kill -0 "$pid" 2>/dev/null || { echo "controller exited:" >&2; cat "$work/controller.log" >&2; exit 1; }; }

deadline=$((SECONDS + 1800))
base_rss= base_pods=
while :; do
    alive
    [ $SECONDS -lt $deadline ] || { echo "controller not synced after 30 min" >&2; exit 1; }
    rss=$(rss_kib)
    s=$(status)
    if [ -n "$s" ]; then
        pods=$(field 'd["cache"]["pods"]' <<<"$s")
        synced=$(field 'd["synced"]' <<<"$s")
        if [ -z "$base_rss" ]; then
            base_rss=$rss base_pods=$pods
        fi
        [ "$synced" = True ] && break
    fi
    sleep 0.1
done
sync_rss=$(rss_kib)
sync_pods=$pods
sync_s=$SECONDS

# Idle: less than 2% of one core over the last 10 s.
hz=$(getconf CLK_TCK)
idle_deadline=$((SECONDS + ${KM_BENCH_IDLE_TIMEOUT:-1200}))
prev=$(cpu_ticks)
while :; do
    sleep 10
    alive
    now=$(cpu_ticks)
    [ $((now - prev)) -le $((hz / 5)) ] && break
    prev=$now
    if [ $SECONDS -ge $idle_deadline ]; then
        echo "controller-memory: not idle ${KM_BENCH_IDLE_TIMEOUT:-1200} s after sync; measuring anyway" >&2
        break
    fi
done
idle_s=$((SECONDS - sync_s))
s=$(status)
idle_rss=$(rss_kib) anon=$(kib RssAnon) file=$(kib RssFile) hwm=$(kib VmHWM)
idle_pods=$(field 'd["cache"]["pods"]' <<<"$s")
nodes=$(field 'd["cache"]["nodes"]' <<<"$s")
archived=$(field 'd["archive"]' <<<"$s")
cpu_s=$(python3 -c "print('%.1f' % ($(cpu_ticks) / $hz))")
db=$(du -sk "$work" | cut -f1)

if [ -n "${KM_BENCH_SAVE_BASELINE:-}" ]; then
    printf '%s %s %s\n' "$idle_rss" "$idle_pods" "$nodes" >"$KM_BENCH_SAVE_BASELINE"
fi
what="first answer, caches empty"
if [ -n "${KM_BENCH_BASELINE:-}" ] && ! [ -s "$KM_BENCH_BASELINE" ]; then
    echo "controller-memory: no baseline in $KM_BENCH_BASELINE (yet); using the first answer" >&2
elif [ -n "${KM_BENCH_BASELINE:-}" ]; then
    read -r base_rss base_pods base_nodes <"$KM_BENCH_BASELINE"
    what="idle controller, same cluster with $base_nodes nodes and $base_pods pods, saved in $KM_BENCH_BASELINE"
fi
per_pod() { python3 -c "import sys; r,b,p,q=map(float,sys.argv[1:]); print('%.0f' % ((r-b)*1024/max(p-q,1)))" "$1" "$base_rss" "$2" "$base_pods"; }
echo "controller-memory: baseline ($what) RSS $((base_rss / 1024)) MiB with $base_pods pods"
echo "controller-memory: synced RSS $((sync_rss / 1024)) MiB with $sync_pods pods = $(per_pod "$sync_rss" "$sync_pods") bytes per pod above baseline"
echo "controller-memory: idle ${idle_s} s after sync: RSS $((idle_rss / 1024)) MiB (anonymous $((anon / 1024)) MiB, file $((file / 1024)) MiB) with $idle_pods pods and $nodes nodes cached = $(per_pod "$idle_rss" "$idle_pods") bytes per pod above baseline; peak (VmHWM) $((hwm / 1024)) MiB; CPU ${cpu_s} s"
echo "controller-memory: archive $((db / 1024)) MiB on disk: $archived"
echo "controller-memory: binary $bin; machine $(nproc --all) CPUs (shared), load $(cut -d' ' -f1-3 /proc/loadavg)"
