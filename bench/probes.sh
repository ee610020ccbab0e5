#!/usr/bin/env bash
# The network prober side by side with kubenurse v1.15.3 on the same network namespaces (root):
# detection time of a DNS replica that stops answering and of a node whose pod network is cut,
# CPU and RSS per prober at 5 and at 50 neighbours, probe traffic per node per minute.
#
#   bench/probes.sh                          # both sizes (6 and 51 nodes), 60 s windows
#   PROBE_BENCH_SIZES=6 bench/probes.sh      # the small lab only
#
# kubenurse is built by bench/kubenurse/build.sh (never in CI; set KUBENURSE_SRC when the module
# proxy does not serve it), CoreDNS by testbed/coredns-build, the control plane by testbed/build.
# The machine is shared: figures are noisy, medians are printed. Every prober process (agents,
# kubenurse) is pinned to the CPUs in PROBE_BENCH_CPUS (default 0; empty: no pinning) before it is
# measured; CPU is CPU time over the window, memory the mean RSS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for d in "$HOME/.cargo/bin" /usr/local/go/bin; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH
if [ "$(id -u)" -ne 0 ]; then
    echo "bench/probes.sh: network namespaces need root" >&2
    exit 1
fi
KUBENURSE_BIN=$(bench/kubenurse/build.sh | tail -n1)
export KUBENURSE_BIN
testbed/coredns-build >/dev/null
export KUBEMEDIC_REQUIRE_TESTBED=1
# kubenurse has no --version flag (running it starts the prober): say what was built instead.
source_note=""
if [ -n "${KUBENURSE_SRC:-}" ] && git -C "$KUBENURSE_SRC" rev-parse HEAD >/dev/null 2>&1; then
    source_note=" from $KUBENURSE_SRC at $(git -C "$KUBENURSE_SRC" describe --tags --always) ($(git -C "$KUBENURSE_SRC" rev-parse --short=12 HEAD))"
fi
echo "bench/probes.sh: kubenurse $(basename "$(dirname "$KUBENURSE_BIN")" | sed 's/^kubenurse-//')$source_note at $KUBENURSE_BIN" >&2
# Build first, unpinned; the benchmark pins each prober process to PROBE_BENCH_CPUS (default 0)
# before it measures.
cargo bench -p kubemedic --bench probes --no-run
cargo bench -p kubemedic --bench probes
