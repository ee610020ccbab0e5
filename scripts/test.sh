#!/usr/bin/env bash
# The project's test command: sets up what is missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
for d in "$HOME/.cargo/bin" /usr/local/go/bin; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
cargo test --workspace --locked "$@"
