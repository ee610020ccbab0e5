#!/usr/bin/env bash
# The user path at scale: `kubemedic diagnose --dump DIR` (release build) on a generated
# `kubectl cluster-info dump` of 5,000 nodes and 150,000 pods in 300 namespaces (managedFields
# included, as the API returns them; events; logs.txt for every pod, longer for the 5% broken ones;
# ~3.6 GB in ~152,000 files), against Python's `json` module merely parsing the same JSON files.
# Prints wall time and peak RSS of each and the ratio. Runs each tool RUNS times (default 3,
# after one warm-up run that fills the page cache) and reports the median.
#
# The dump is generated once (bench/gen-dump.py, deterministic) into
# ${KUBEMEDIC_BENCH_DIR:-~/.cache/kubemedic/bench}/dump-<key>/ and reused while the generator
# and its sizes are unchanged. Smaller: NODES=500 NAMESPACES=30 bench/diagnose-dump.sh
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-5000}
NAMESPACES=${NAMESPACES:-300}
RUNS=${RUNS:-3}
CACHE=${KUBEMEDIC_BENCH_DIR:-$HOME/.cache/kubemedic/bench}
KEY=$( (cat bench/gen-dump.py; echo "$NODES $NAMESPACES") | sha256sum | cut -c1-12)
DUMP="$CACHE/dump-${NODES}n-${NAMESPACES}ns-$KEY"

if [[ ! -f "$DUMP/.complete" ]]; then
  echo "generating the dump into $DUMP (once; a few minutes)" >&2
  rm -rf "$DUMP.tmp"
  mkdir -p "$CACHE"
  python3 bench/gen-dump.py "$DUMP.tmp" --nodes "$NODES" --namespaces "$NAMESPACES"
  rm -rf "$DUMP"
  mv "$DUMP.tmp" "$DUMP"
  touch "$DUMP/.complete"
  # Dumps of other generator versions are dead weight (several GB each).
  find "$CACHE" -maxdepth 1 -name 'dump-*' ! -path "$DUMP" -exec rm -rf {} +
fi

cargo build --release --locked -q -p kubemedic
BIN=target/release/kubemedic

size=$(du -sb "$DUMP" | cut -f1)
files=$(find "$DUMP" -type f | wc -l)
json_bytes=$(find "$DUMP" -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "dump: $DUMP"
echo "dump: $((size / 1000000)) MB in $files files ($((json_bytes / 1000000)) MB of JSON)"

PYPARSE='
import json, os, sys
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for f in sorted(files):
        if f.endswith(".json"):
            with open(os.path.join(root, f), "rb") as fh:
                json.load(fh)
            n += 1
print(n, "files parsed", file=sys.stderr)
'

# measure CMD...: prints "<seconds> <peak RSS KiB>"
measure() {
  local out
  out=$( { /usr/bin/time -f '%e %M' "$@" >/dev/null 2>/dev/null; } 2>&1 | tail -1)
  echo "$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_many() {
  local label=$1; shift
  "$@" >/dev/null 2>&1 || true   # warm-up: page cache, not counted
  local times=() rss=()
  for _ in $(seq "$RUNS"); do
    read -r t m < <(measure "$@")
    times+=("$t"); rss+=("$m")
  done
  local tm rm
  tm=$(printf '%s\n' "${times[@]}" | median)
  rm=$(printf '%s\n' "${rss[@]}" | median)
  echo "$label: ${tm} s (runs: ${times[*]}), peak RSS $((rm / 1024)) MiB" >&2
  echo "$tm $rm"
}

read -r km_t km_rss < <(run_many "kubemedic diagnose --dump" "$BIN" diagnose --dump "$DUMP" -o json)
read -r py_t py_rss < <(run_many "python3 json.load of every .json" python3 -c "$PYPARSE" "$DUMP")

# The diagnosis must have seen the cluster, not an empty or refused directory.
"$BIN" diagnose --dump "$DUMP" -o json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
s = r["summary"]
print(f"report: {s[\"nodes\"]} nodes, {s[\"pods\"]} pods, {len(r[\"findings\"])} findings "
      f"({s[\"critical\"]} critical, {s[\"warning\"]} warning, {s[\"info\"]} info), "
      f"{len(s.get(\"skipped\", []))} skipped inputs")
assert s["pods"] > 0 and s["nodes"] > 0, "the dump was not read"
'

awk -v k="$km_t" -v p="$py_t" -v kr="$km_rss" -v pr="$py_rss" 'BEGIN {
  printf "kubemedic diagnose --dump: %.2f s, peak RSS %d MiB\n", k, kr / 1024
  printf "python3 json parse only:   %.2f s, peak RSS %d MiB\n", p, pr / 1024
  printf "ratio: kubemedic is %.1fx faster than the Python parse (target >= 3x); peak RSS target <= 1024 MiB\n", p / k
}'
