#!/usr/bin/env bash
# The project's test command: sets up what is missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
cargo test --workspace --locked "$@"
