#!/usr/bin/env bash
# The test command of the README: installs the reference tools, then runs every test
# (unit, interop against the real sops, golden end-to-end cases) with them required.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-tools.sh
export KUNSEAL_SOPS="$root/.tools/bin/sops"
export KUNSEAL_REQUIRE_TOOLS=1
# One profile for tests and benchmarks (release): the AWS SDK is built once, not twice.
# The library's unit tests and the one integration binary (the binary and the bench example
# hold no tests; their empty runs would close the output on "0 passed").
cargo test --release --locked --lib --test it "$@"
