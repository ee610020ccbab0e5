#!/usr/bin/env bash
# End to end on the testbed: Events written through the real apiserver as fast as it takes them
# (16 writers, each event repeated), archived by `kubemedic controller` (SQLite); prints the write
# rate and the lag from each repeat's time to its archiving (p50/p99). Needs the testbed
# binaries (testbed/build). Sizes: KM_BENCH_EVENTS=2000 KM_BENCH_REPEATS=3 KM_BENCH_WRITERS=16
# KM_BENCH_PROFILE=release (or dev: reuses the test build when a release build is too costly;
# the README says which profile a figure used).
#
# Side by side with kubernetes-event-exporter: EVENT_EXPORTER_SRC=DIR (a checkout of
# github.com/resmoio/kubernetes-event-exporter; the Go module proxy refuses its module path, so it
# is built from source) builds it with Go into ~/.cache/kubemedic/bench/ and runs it on the same
# event stream with a local webhook receiver; the benchmark then prints the repeats each tool kept.
#   EVENT_EXPORTER_SRC=~/src/kubernetes-event-exporter bench/controller-e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${KM_BENCH_PROFILE:-release}
if [ -n "${EVENT_EXPORTER_SRC:-}" ]; then
    src=$(cd "$EVENT_EXPORTER_SRC" && pwd)
    out=${XDG_CACHE_HOME:-$HOME/.cache}/kubemedic/bench/kubernetes-event-exporter
    mkdir -p "$(dirname "$out")"
    version=$(git -C "$src" describe --tags --always 2>/dev/null || echo "source $src")
    echo "controller-e2e: building kubernetes-event-exporter $version from $src" >&2
    (cd "$src" && GOFLAGS=-mod=mod go build -o "$out" .)
    export KM_BENCH_EVENT_EXPORTER=$out KM_BENCH_EVENT_EXPORTER_VERSION=$version
fi
cargo test --profile "$profile" -p kubemedic-controller --test bench_e2e --no-run 2>/dev/null
echo "controller-e2e: profile $profile; machine $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
KUBEMEDIC_REQUIRE_TESTBED=1 cargo test --profile "$profile" -p kubemedic-controller --test bench_e2e -- --ignored --nocapture 2>&1 \
  | grep --line-buffered -E '^controller-e2e'
