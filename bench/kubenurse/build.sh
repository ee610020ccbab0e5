#!/usr/bin/env bash
# Builds kubenurse (the peer the network prober is measured against) from its Go module at the
# pinned release into ~/.cache/kubemedic/bench/kubenurse-<version>/kubenurse. Benchmarks only:
# CI never builds it. Prints the binary's path as the last stdout line.
#
# The Go module proxy reachable from the development machine refuses this module (403); then set
# KUBENURSE_SRC to a checkout of the tag (git clone --branch v1.15.3
# https://github.com/postfinance/kubenurse) and the same module is built from there, its
# dependencies still coming from the proxy.
set -euo pipefail
version=v1.15.3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for d in /usr/local/go/bin "$HOME/go/bin"; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
dir=${XDG_CACHE_HOME:-$HOME/.cache}/kubemedic/bench/kubenurse-$version
if [ -x "$dir/kubenurse" ]; then
    echo "$dir/kubenurse"
    exit 0
fi
mkdir -p "$dir"
start=$SECONDS
if [ -n "${KUBENURSE_SRC:-}" ]; then
    echo "bench/kubenurse: building kubenurse $version from $KUBENURSE_SRC" >&2
    (cd "$KUBENURSE_SRC" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$dir/kubenurse.tmp" .)
else
    echo "bench/kubenurse: building kubenurse $version from the module proxy" >&2
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cp "$here/go.mod" "$here/tools.go" "$work/"
    if ! (cd "$work" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$dir/kubenurse.tmp" github.com/postfinance/kubenurse); then
        echo "bench/kubenurse: the module proxy did not serve github.com/postfinance/kubenurse@$version;" >&2
        echo "  clone it (git clone --branch $version https://github.com/postfinance/kubenurse DIR) and set KUBENURSE_SRC=DIR" >&2
        exit 3
    fi
fi
mv "$dir/kubenurse.tmp" "$dir/kubenurse"
echo "bench/kubenurse: built in $((SECONDS - start))s" >&2
echo "$dir/kubenurse"
