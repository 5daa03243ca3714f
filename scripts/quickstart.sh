#!/usr/bin/env bash
# The README's first command: builds kunseal and renders the bundled example: the ksops
# generator (as kustomize's legacy exec plugin would run it) and, where kubectl is installed,
# the whole kustomization. Needs only Rust; the reference tools are not required.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --locked --quiet
bin="$root/target/release/kunseal"
ex="$root/examples/kustomization"
export SOPS_AGE_KEY_FILE="$ex/age-key.txt"
echo "# kunseal secret-generator.yaml (in examples/kustomization/legacy)" >&2
(cd "$ex/legacy" && "$bin" secret-generator.yaml)
if command -v kubectl >/dev/null 2>&1; then
  plugins="$(mktemp -d)"
  trap 'rm -rf "$plugins"' EXIT
  mkdir -p "$plugins/kustomize/plugin/viaduct.ai/v1/ksops"
  ln -s "$bin" "$plugins/kustomize/plugin/viaduct.ai/v1/ksops/ksops"
  echo "# kubectl kustomize --enable-alpha-plugins examples/kustomization/legacy" >&2
  echo "---"
  XDG_CONFIG_HOME="$plugins" kubectl kustomize --enable-alpha-plugins "$ex/legacy"
fi
