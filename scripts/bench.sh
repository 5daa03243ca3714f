#!/usr/bin/env bash
# Benchmarks kunseal against the real sops in the same run and prints the ratios
# (issue #3: a 20,000-value Secret). Asserts nothing: timings are reported, not tested.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-tools.sh
cargo build --release --locked --quiet
python3 scripts/bench_decrypt.py --kunseal "$root/target/release/kunseal" --sops "$root/.tools/bin/sops" "$@"
