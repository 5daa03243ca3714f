#!/usr/bin/env bash
# Benchmarks kunseal against the real sops in the same run and prints the ratios
# (issues #3, #4, #5, #7: a 20,000-value Secret, a 200-file ResourceList, 1,000 sealed values,
# 100 files behind a 20 ms key service).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-tools.sh
cargo build --release --locked --quiet
python3 scripts/bench_decrypt.py --kunseal "$root/target/release/kunseal" --sops "$root/.tools/bin/sops" "$@"
cargo run --release --locked --quiet --example bench_unseal -- "$root/target/release/kunseal"
python3 scripts/bench_kms.py --kunseal "$root/target/release/kunseal" --sops "$root/.tools/bin/sops"
