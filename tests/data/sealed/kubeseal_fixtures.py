"""Makes SealedSecrets with kubesealpy (an independent implementation of kubeseal's format)
for kunseal's interop tests. Keys and certificates are generated here, at test time.

usage: kubeseal_fixtures.py make OUTDIR       -> keys, certs, sealed manifests, expected.json
       kubeseal_fixtures.py open OUTDIR FILE  -> opens kunseal's sealed values with kubesealpy
"""
import base64, datetime, json, os, sys

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from kubesealpy import Sealer, SealingScope, Unsealer


def key_and_cert(bits, days=3650):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    now = datetime.datetime.now(datetime.timezone.utc)
    if days < 0:
        now = now + datetime.timedelta(days=days - 2)
        days = 1
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def pem_key(key, fmt):
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_secret(name, key, cert):
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": "kube-system", "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "data": {
            "tls.key": base64.b64encode(pem_key(key, serialization.PrivateFormat.TraditionalOpenSSL).encode()).decode(),
            "tls.crt": base64.b64encode(pem_cert(cert).encode()).decode(),
        },
    }


def make(out):
    os.makedirs(out, exist_ok=True)
    old, old_cert = key_and_cert(2048)
    new, new_cert = key_and_cert(4096)
    open(os.path.join(out, "old-pkcs1.pem"), "w").write(pem_key(old, serialization.PrivateFormat.TraditionalOpenSSL))
    open(os.path.join(out, "new-pkcs8.pem"), "w").write(pem_key(new, serialization.PrivateFormat.PKCS8))
    open(os.path.join(out, "new-cert.pem"), "w").write(pem_cert(new_cert))
    open(os.path.join(out, "old-cert.pem"), "w").write(pem_cert(old_cert))
    _, expired = key_and_cert(2048, days=-5)
    open(os.path.join(out, "expired-cert.pem"), "w").write(pem_cert(expired))
    backup = {"apiVersion": "v1", "kind": "List", "items": [key_secret("sealed-secrets-keyold", old, old_cert), key_secret("sealed-secrets-keynew", new, new_cert)]}
    open(os.path.join(out, "backup.yaml"), "w").write(yaml.safe_dump(backup, sort_keys=False))
    open(os.path.join(out, "backup.json"), "w").write(json.dumps(backup, indent=2))

    expected = {}
    cases = [
        ("strict", old_cert, SealingScope.STRICT, "prod", "db", {"password": b"hunter2", "user": b"admin"}),
        ("namespace-wide", new_cert, SealingScope.NAMESPACE_WIDE, "prod", "api", {"token": b"t0k3n", "binary": bytes(range(256))}),
        ("cluster-wide", new_cert, SealingScope.CLUSTER_WIDE, "any", "shared", {"key": "ünïcödé ✓".encode()}),
    ]
    for case, cert, scope, ns, name, data in cases:
        sealer = Sealer.from_certificate_pem(pem_cert(cert))
        ss = sealer.seal(name=name, namespace=ns, data=data, scope=scope, labels={"app": name}, annotations={"team": "shop"})
        open(os.path.join(out, f"{case}.yaml"), "w").write(ss.to_yaml())
        expected[case] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    # Renamed strict SealedSecret: must not open.
    doc = yaml.safe_load(open(os.path.join(out, "strict.yaml")))
    doc["metadata"]["name"] = "db-renamed"
    open(os.path.join(out, "strict-renamed.yaml"), "w").write(yaml.safe_dump(doc, sort_keys=False))
    # Template data over the decrypted items.
    doc = yaml.safe_load(open(os.path.join(out, "strict.yaml")))
    doc["spec"]["template"]["data"] = {"dsn": 'postgres://{{ .user }}:{{ index . "password" }}@db/shop', "json": "{{ toJson .password }}"}
    doc["spec"]["template"]["immutable"] = True
    open(os.path.join(out, "templated.yaml"), "w").write(yaml.safe_dump(doc, sort_keys=False))
    json.dump(expected, open(os.path.join(out, "expected.json"), "w"), indent=2)


def open_sealed(out, path):
    """Opens every SealedSecret of FILE with kubesealpy and both keys; prints {name: {k: b64}}."""
    keys = [serialization.load_pem_private_key(open(os.path.join(out, f)).read().encode(), None) for f in ("old-pkcs1.pem", "new-pkcs8.pem")]
    unsealer = Unsealer(keys)
    result = {}
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        from kubesealpy import SealedSecret
        ss = SealedSecret.model_validate(doc)
        secret = unsealer.unseal(ss)
        result[doc["metadata"]["name"]] = secret.data
    print(json.dumps(result))


if __name__ == "__main__":
    {"make": lambda: make(sys.argv[2]), "open": lambda: open_sealed(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
