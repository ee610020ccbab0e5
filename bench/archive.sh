#!/usr/bin/env bash
# Archive figures: SQLite ingest on one core, query by object and full-text --grep over a large
# store (KM_BENCH_ROWS, default 10,000,000: ~4.5 GiB under /tmp at ~480 bytes each, deleted at the
# end; check `df -h /tmp` first), PostgreSQL ingest (KM_BENCH_PG_ROWS, default 500,000). KM_BENCH_DIR: where the store goes (default /tmp). Prints figures.
# The build uses every core; only the measured run is pinned to core 0.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p kubemedic-archive --bench archive --no-run 2>/dev/null
taskset -c 0 cargo bench -p kubemedic-archive --bench archive 2>&1 | grep --line-buffered -E '^(sqlite|postgres)'
