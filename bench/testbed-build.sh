#!/usr/bin/env bash
# Times testbed/build. Prints one line per measurement.
#
#   bench/testbed-build.sh          warm: cache current (what every test run pays), median of 5
#   bench/testbed-build.sh --cold   also a cold build: empty testbed cache AND empty Go build
#                                   cache (GOCACHE), in temp dirs removed afterwards. Go modules
#                                   already in GOMODCACHE are reused (download time not included).
#                                   Takes 10-15 minutes on 2 cores.
#   bench/testbed-build.sh --cold-modules
#                                   a fresh machine: empty testbed cache, GOCACHE AND GOMODCACHE,
#                                   so the module download through the proxy is included.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$here/testbed/build"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

bash "$build" >/dev/null 2>&1 || { echo "testbed-build: testbed/build fails; run it directly to see why" >&2; exit 1; }
runs=()
for _ in 1 2 3 4 5; do
    t0=$(now)
    bash "$build" >/dev/null 2>&1
    runs+=("$(elapsed "$t0" "$(now)")")
done
sorted=$(printf '%s\n' "${runs[@]}" | sort -n)
printf 'testbed/build warm (cache current): median %.3fs  min %.3fs  max %.3fs  (5 runs)\n' \
    "$(sed -n 3p <<<"$sorted")" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"

if [ "${1:-}" = "--cold-modules" ]; then
    cache=$(mktemp -d) gocache=$(mktemp -d) modcache=$(mktemp -d)
    # Module files are read-only by default; -modcacherw lets the trap remove them.
    trap 'rm -rf "$cache" "$gocache" "$modcache"' EXIT
    trap 'exit 130' INT TERM
    t0=$(now)
    KUBEMEDIC_TESTBED_DIR=$cache GOCACHE=$gocache GOMODCACHE=$modcache GOFLAGS=-modcacherw bash "$build" >/dev/null
    printf 'testbed/build cold, fresh machine (empty testbed cache, GOCACHE and GOMODCACHE): %.0fs, modules downloaded: %s\n' \
        "$(elapsed "$t0" "$(now)")" "$(du -sh "$modcache" | cut -f1)"
elif [ "${1:-}" = "--cold" ]; then
    cache=$(mktemp -d) gocache=$(mktemp -d)
    trap 'rm -rf "$cache" "$gocache"' EXIT
    trap 'exit 130' INT TERM
    t0=$(now)
    KUBEMEDIC_TESTBED_DIR=$cache GOCACHE=$gocache bash "$build" >/dev/null
    printf 'testbed/build cold (empty testbed cache and GOCACHE, modules cached): %.0fs\n' "$(elapsed "$t0" "$(now)")"
fi
