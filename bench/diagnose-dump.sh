#!/usr/bin/env bash
# The user path at scale: `kubemedic diagnose --dump DIR` (release build) on a generated
# `kubectl cluster-info dump` of 5,000 nodes and 150,000 pods in 300 namespaces (managedFields
# included, as the API returns them; events; logs.txt for every pod, longer for the 5% broken ones;
# ~4.3 GB in ~152,000 files, 3.1 GB of it JSON), against Python's `json` module merely parsing the
# same JSON files. Prints wall time, CPU time (user + system) and peak RSS of each and the ratios.
# Runs each tool RUNS times (default 3, after one warm-up run that fills the page cache) and
# reports the medians.
#
# The dump is generated once (bench/gen-dump.py, deterministic) into
# ${KUBEMEDIC_BENCH_DIR:-~/.cache/kubemedic/bench}/dump-<key>/ and reused while the generator
# and its sizes are unchanged (check `df -h` first: it needs ~4.5 GB). Delete it when done:
# rm -rf ~/.cache/kubemedic/bench/dump-*  (the next run regenerates it, ~15 min).
# Smaller: NODES=500 NAMESPACES=30 bench/diagnose-dump.sh
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
json_bytes=$(find "$DUMP" -name '*.json' -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')
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

# measure CMD...: prints "<seconds> <peak RSS KiB> <CPU seconds>" (diagnose exits 1 when it finds problems:
# that is its answer, not a failure of the run)
measure() {
  local report
  report=$(mktemp)
  /usr/bin/time -o "$report" -f '%e %M %U %S' "$@" >/dev/null 2>&1 || true
  tail -1 "$report" | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}'
  rm -f "$report"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_many() {
  local label=$1; shift
  "$@" >/dev/null 2>&1 || true   # warm-up: page cache, not counted
  local times=() rss=() cpus=()
  for _ in $(seq "$RUNS"); do
    read -r t m c < <(measure "$@")
    times+=("$t"); rss+=("$m"); cpus+=("$c")
  done
  local tm rm cm
  tm=$(printf '%s\n' "${times[@]}" | median)
  rm=$(printf '%s\n' "${rss[@]}" | median)
  cm=$(printf '%s\n' "${cpus[@]}" | median)
  echo "$label: ${tm} s (runs: ${times[*]}), ${cm} CPU-s (runs: ${cpus[*]}), peak RSS $((rm / 1024)) MiB" >&2
  echo "$tm $rm $cm"
}

read -r km_t km_rss km_cpu < <(run_many "kubemedic diagnose --dump" "$BIN" diagnose --dump "$DUMP" -o json)
read -r py_t py_rss py_cpu < <(run_many "python3 json.load of every .json" python3 -c "$PYPARSE" "$DUMP")

# The diagnosis must have seen the cluster, not an empty or refused directory.
"$BIN" diagnose --dump "$DUMP" -o json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
s = r["summary"]
nodes, pods, findings = s["nodes"], s["pods"], len(r["findings"])
crit, warn, info, skipped = s["critical"], s["warning"], s["info"], len(s.get("skipped", []))
print(f"report: {nodes} nodes, {pods} pods, {findings} findings "
      f"({crit} critical, {warn} warning, {info} info), {skipped} skipped inputs")
assert s["pods"] > 0 and s["nodes"] > 0, "the dump was not read"
'

awk -v k="$km_t" -v p="$py_t" -v kr="$km_rss" -v pr="$py_rss" -v kc="$km_cpu" -v pc="$py_cpu" 'BEGIN {
  printf "kubemedic diagnose --dump: %.2f s wall, %.2f CPU-s, peak RSS %d MiB\n", k, kc, kr / 1024
  printf "python3 json parse only:   %.2f s wall, %.2f CPU-s, peak RSS %d MiB\n", p, pc, pr / 1024
  printf "ratio: kubemedic is %.1fx faster than the Python parse in wall time (target >= 3x), %.1fx in CPU time; peak RSS target <= 1024 MiB\n", p / k, pc / kc
}'
