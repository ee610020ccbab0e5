#!/usr/bin/env bash
# Scale on the testbed: 5,000 kwok nodes and 150,000 pods created through a real kube-apiserver
# and etcd (how long it takes, the apiserver's and etcd's peak memory), then live
# `kubemedic diagnose -A` start → report on that cluster (release build; wall time and peak RSS
# measured by GNU time). Not run in CI. Needs the testbed binaries (testbed/build), /usr/bin/time
# (Debian package `time`), ~12 GiB of free memory and ~5 GB of disk; 20-40 minutes on 2 cores.
#
#   bench/kwok-scale.sh [--dir DIR] [--then CMD] [--keep] [--no-diagnose]
#   bench/kwok-scale.sh --down [--dir DIR]
#
#   --dir DIR      where the cluster's data (etcd: a few GB) and logs go; removed at the end
#                  (default /tmp/kubemedic-kwok-scale-$USER)
#   --then CMD     once every object exists, run CMD (bash -c) against the cluster, then go on
#                  with diagnose. CMD sees KUBECONFIG, KUBEMEDIC_SCALE_SERVER and the pids
#                  KUBEMEDIC_SCALE_APISERVER_PID, KUBEMEDIC_SCALE_ETCD_PID, KUBEMEDIC_SCALE_KWOK_PID.
#                  A CMD that fails stops the benchmark (exit status 3).
#   --keep         leave the cluster up at the end and print `export KUBECONFIG=...`; stop it
#                  (and delete its data) with `bench/kwok-scale.sh --down --dir DIR`.
#   --no-diagnose  skip the diagnose runs (for --then / --keep users who only need the cluster)
#
# Sizes (environment): KUBEMEDIC_SCALE_NODES=5000 KUBEMEDIC_SCALE_PODS=150000
# KUBEMEDIC_SCALE_NAMESPACES=300 KUBEMEDIC_SCALE_RUNS=3 (diagnose runs; the median is reported).
# KUBEMEDIC_SCALE_MIN_AVAILABLE_GIB=3: the run is aborted (and everything cleaned up) when the
# machine's MemAvailable drops below this, so a shared machine is not pushed into the OOM killer.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=/tmp/kubemedic-kwok-scale-${USER:-$(id -un)}
then_cmd=
keep=0
down=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir=$2; shift 2 ;;
        --then) then_cmd=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --no-diagnose) export KUBEMEDIC_SCALE_RUNS=0; shift ;;
        --down) down=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/kwok-scale.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$dir" in
    /*) ;;
    *) echo "bench/kwok-scale.sh: --dir must be an absolute path" >&2; exit 2 ;;
esac
state=$dir/state
min_gib=${KUBEMEDIC_SCALE_MIN_AVAILABLE_GIB:-3}

# The pid of the benchmark process recorded in $state/pid, if it still runs.
bench_pid() {
    local pid
    pid=$(cat "$state/pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Stops the benchmark process (its testbed's processes die with it) and deletes $dir: a kept
# cluster is asked to stop (the testbed tears itself down), a run in progress is killed.
teardown() {
    local pid deadline
    if pid=$(bench_pid); then
        if [ -f "$state/finished" ]; then
            touch "$state/stop"
            deadline=$((SECONDS + 60))
            while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
        fi
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    fi
    # etcd, kube-apiserver and kwok die with the benchmark process (PR_SET_PDEATHSIG); make
    # sure before deleting their data.
    if [ -f "$state/created" ]; then
        local name p
        while read -r name p; do
            case "$name" in kube-apiserver|etcd|kwok)
                deadline=$((SECONDS + 30))
                while [ -d "/proc/$p" ] && grep -qs "$dir" "/proc/$p/cmdline" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
                ;;
            esac
        done < "$state/created"
    fi
    rm -rf "$dir"
}

if [ "$down" = 1 ]; then
    if ! [ -d "$dir" ]; then
        echo "bench/kwok-scale.sh: nothing in $dir" >&2
        exit 0
    fi
    teardown
    echo "stopped; $dir removed"
    exit 0
fi

if [ ! -x /usr/bin/time ]; then
    echo "bench/kwok-scale.sh: /usr/bin/time missing (apt-get install time)" >&2
    exit 1
fi
if bench_pid >/dev/null; then
    echo "bench/kwok-scale.sh: a run is already using $dir (stop it with --down --dir $dir)" >&2
    exit 1
fi
# Build first (not measured, not watched).
bin=$(cargo test --release --locked -p kubemedic --test kwok_scale --no-run --message-format=json \
    | grep '"name":"kwok_scale"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "bench/kwok-scale.sh: could not build the benchmark" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$state" "$dir/tmp"

# etcd's default 2 GiB backend quota is close to what 150,000 pods and their status updates
# take before compaction; etcd reads its flags from ETCD_* variables (the testbed passes the
# environment on).
export ETCD_QUOTA_BACKEND_BYTES=${ETCD_QUOTA_BACKEND_BYTES:-8589934592}
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); data in $dir"

# The testbed keeps its working directories (etcd's data) under $TMPDIR.
log=$dir/bench.log
TMPDIR=$dir/tmp KUBEMEDIC_REQUIRE_TESTBED=1 KUBEMEDIC_SCALE_STATE_DIR=$state KUBEMEDIC_SCALE_KEEP=$keep \
    setsid "$bin" --ignored --nocapture --exact scale_5000_nodes_150000_pods </dev/null >"$log" 2>&1 &
pid=$!
echo "$pid" >"$state/pid"
cleanup_on_exit=1
hook=
on_exit() {
    # The --then command runs in its own session: stop all of it.
    [ -n "$hook" ] && kill -- "-$hook" 2>/dev/null
    [ "$cleanup_on_exit" = 1 ] && teardown
    [ -n "${tail_pid:-}" ] && kill -- "-$tail_pid" 2>/dev/null
    true
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# Figures as they come: the test prints them as lines starting with the test's name or two spaces.
# Its own session, so stopping it stops both ends of the pipe.
setsid bash -c 'tail -n +1 -F "$1" 2>/dev/null | grep --line-buffered -E "^(kwok_scale|  )"' _ "$log" &
tail_pid=$!

available_gib() { awk '/MemAvailable/ {printf "%.1f", $2/1048576}' /proc/meminfo; }
low_memory() { awk -v min="$min_gib" '/MemAvailable/ {exit !($2/1048576 < min)}' /proc/meminfo; }
abort_low_memory() {
    echo "bench/kwok-scale.sh: ABORTED: MemAvailable $(available_gib) GiB < $min_gib GiB; largest processes (RSS MiB):" >&2
    ps -eo rss=,comm= --sort=-rss | head -5 | awk '{printf "  %6.0f %s\n", $1/1024, $2}' >&2
    exit 4
}

# Waits until $1 exists or the benchmark ends, watching memory; returns 1 if it ended.
wait_for() {
    while ! [ -e "$1" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        low_memory && abort_low_memory
        sleep 1
    done
}

status=0
if wait_for "$state/created"; then
    if [ -n "$then_cmd" ]; then
        kubeconfig=$(awk '$1 == "kubeconfig" {print $2}' "$state/created")
        echo "--then: $then_cmd (KUBECONFIG=$kubeconfig)"
        # The hook runs in the background so memory stays watched.
        KUBECONFIG=$kubeconfig \
        KUBEMEDIC_SCALE_SERVER=$(awk '$1 == "server" {print $2}' "$state/created") \
        KUBEMEDIC_SCALE_APISERVER_PID=$(awk '$1 == "kube-apiserver" {print $2}' "$state/created") \
        KUBEMEDIC_SCALE_ETCD_PID=$(awk '$1 == "etcd" {print $2}' "$state/created") \
        KUBEMEDIC_SCALE_KWOK_PID=$(awk '$1 == "kwok" {print $2}' "$state/created") \
            setsid bash -c "$then_cmd" </dev/null &
        hook=$!
        while kill -0 "$hook" 2>/dev/null; do
            low_memory && abort_low_memory
            sleep 1
        done
        hook_status=0
        wait "$hook" || hook_status=$?
        hook=
        if [ "$hook_status" != 0 ]; then
            echo "bench/kwok-scale.sh: --then command failed (exit $hook_status)" >&2
            exit 3
        fi
    fi
    touch "$state/continue"
    if [ "$keep" = 1 ]; then
        if wait_for "$state/finished"; then
            sleep 0.5
            kill -- "-$tail_pid" 2>/dev/null || true
            cleanup_on_exit=0
            echo "cluster kept (benchmark pid $pid, log $log); stop it with: bench/kwok-scale.sh --down --dir $dir"
            echo "export KUBECONFIG=$(awk '$1 == "kubeconfig" {print $2}' "$state/finished")"
            exit 0
        fi
    fi
fi
while kill -0 "$pid" 2>/dev/null; do
    low_memory && abort_low_memory
    sleep 1
done
wait "$pid" || status=$?
sleep 0.5
if [ "$status" != 0 ]; then
    echo "bench/kwok-scale.sh: the benchmark failed (exit $status); last lines of $log:" >&2
    tail -n 30 "$log" >&2
fi
exit "$status"
