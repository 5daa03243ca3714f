#!/usr/bin/env bash
# The test command of the README: installs the reference tools, then runs every test
# (unit, interop against the real sops, golden end-to-end cases) with them required.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-tools.sh
export KUNSEAL_SOPS="$root/.tools/bin/sops"
export KUNSEAL_REQUIRE_TOOLS=1
cargo test --locked --all-targets "$@"
