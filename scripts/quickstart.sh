#!/usr/bin/env bash
# The README's first command: builds kunseal and decrypts the bundled example with its
# throw-away age key. Needs only Rust (cargo); the reference tools are not required.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --locked --quiet
cd examples/kustomization
SOPS_AGE_KEY_FILE=age-key.txt "$root/target/release/kunseal" decrypt secret.enc.yaml
