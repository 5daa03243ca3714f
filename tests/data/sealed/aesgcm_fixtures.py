"""SealedSecrets material from aes-gcm-rsa-oaep (a second independent implementation of the
hybrid layout), using the keys kubeseal_fixtures.py made in OUTDIR.

usage: aesgcm_fixtures.py legacy OUTDIR       -> OUTDIR/legacy.yaml (spec.data, the v1 form)
       aesgcm_fixtures.py open OUTDIR FILE    -> opens FILE's strict-scope items, prints JSON
"""
import base64, json, os, sys

import yaml
from aes_gcm_rsa_oaep import decrypt, encrypt
from cryptography import x509
from cryptography.hazmat.primitives import serialization


def legacy(out):
    cert = x509.load_pem_x509_certificate(open(os.path.join(out, "new-cert.pem"), "rb").read())
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "legacy", "namespace": "prod", "labels": {"era": "v1"}},
              "data": {"k": base64.b64encode(b"legacy-value").decode()}}
    blob = encrypt(json.dumps(secret).encode(), cert.public_key(), b"prod/legacy")
    doc = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
           "metadata": {"name": "legacy", "namespace": "prod"}, "spec": {"data": base64.b64encode(blob).decode()}}
    open(os.path.join(out, "legacy.yaml"), "w").write(yaml.safe_dump(doc))


def open_file(out, path):
    key = serialization.load_pem_private_key(open(os.path.join(out, "new-pkcs8.pem"), "rb").read(), None)
    result = {}
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        md = doc["metadata"]
        label = f'{md["namespace"]}/{md["name"]}'.encode()
        result[md["name"]] = {k: base64.b64encode(decrypt(base64.b64decode(v), key, label)).decode() for k, v in doc["spec"]["encryptedData"].items()}
    print(json.dumps(result))


if __name__ == "__main__":
    {"legacy": lambda: legacy(sys.argv[2]), "open": lambda: open_file(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
