#!/usr/bin/env bash
# Rule-matching throughput, kubemedic vs node-problem-detector, on one core.
#
# Generates 1M deterministic node log lines (~1% matching), builds node-problem-detector's own
# log buffer and rule matching (bench/npd, pinned Go module) into a cache outside the repo, builds
# kubemedic's `rules` bench, runs both pinned to one core with NPD's kernel-monitor, docker-monitor
# and readonly-monitor configs, and prints lines/s for each and the ratio.
# NPD (v0.8.20 and still v1.36.0) recompiles every rule's regex on every line: its run takes minutes.
# Exits non-zero when the two disagree on the number of (line, rule) matches.
# Env: LINES (default 1000000), CPU (default 0), KUBEMEDIC_BENCH_DIR (cache root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
lines=${LINES:-1000000}
cpu=${CPU:-0}
root=${KUBEMEDIC_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubemedic/bench}
mkdir -p "$root"

data="$root/lines-$lines.txt"
if [ ! -s "$data" ] || [ "$here/gen_lines.py" -nt "$data" ]; then
    echo "rules.sh: generating $lines lines into $data" >&2
    python3 "$here/gen_lines.py" "$lines" "$data.tmp" && mv "$data.tmp" "$data"
fi

if ! command -v go >/dev/null 2>&1; then
    echo "rules.sh: Go is not installed; cannot build node-problem-detector" >&2
    exit 3
fi
npd_version=$(awk '$1 == "require" && $2 == "k8s.io/node-problem-detector" { print $3 } $1 == "k8s.io/node-problem-detector" && NF == 2 { print $2 }' "$here/npd/go.mod" | head -n1)
key=$( { go env GOVERSION GOOS GOARCH; cat "$here/npd/go.mod" "$here/npd/go.sum" "$here/npd/main.go"; } | sha256sum | cut -c1-12)
npd_bin="$root/npd-$npd_version-$key/npd-rules-bench"
if [ ! -x "$npd_bin" ]; then
    echo "rules.sh: building node-problem-detector $npd_version rule matching into $npd_bin" >&2
    mkdir -p "$(dirname "$npd_bin")"
    # The checksum database does not list this module; go.sum (committed) pins its hash instead.
    (cd "$here/npd" && GONOSUMDB=k8s.io/node-problem-detector GOFLAGS=-mod=mod go build -o "$npd_bin.tmp" .)
    mv "$npd_bin.tmp" "$npd_bin"
fi

echo "rules.sh: building kubemedic's rules bench" >&2
(cd "$repo" && cargo bench -p kubemedic-detect --bench rules --no-run >&2)
rust_bin=$(cd "$repo" && cargo bench -p kubemedic-detect --bench rules --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "rules" and m.get("executable"):
        print(m["executable"])' | tail -n1)

configs=()
for f in kernel-monitor docker-monitor readonly-monitor; do
    configs+=("$repo/crates/detect/tests/fixtures/npd/$f.json")
done

pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c "$cpu"); fi

echo "rules.sh: running kubemedic" >&2
km=$(KUBEMEDIC_BENCH_LINES="$data" "${pin[@]}" "$rust_bin" "${configs[@]}")
echo "$km"
echo "rules.sh: running node-problem-detector $npd_version (slow)" >&2
npd=$("${pin[@]}" "$npd_bin" "$data" "${configs[@]}")
echo "$npd"
python3 - "$km" "$npd" "$npd_version" <<'PY'
import json, sys
km, npd, v = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"kubemedic:                  {km['lines_per_second']:>12,.0f} lines/s ({km['lines']} lines, {km['seconds']} s)")
print(f"node-problem-detector {v}: {npd['lines_per_second']:>12,.0f} lines/s ({npd['lines']} lines, {npd['seconds']} s)")
print(f"ratio: {km['lines_per_second'] / npd['lines_per_second']:.1f}x")
same = km["matches"] == npd["matches"]
print(f"rule matches: kubemedic {km['matches']}, node-problem-detector {npd['matches']}: {'identical' if same else 'DIFFERENT'}")
sys.exit(0 if same else 1)
PY
