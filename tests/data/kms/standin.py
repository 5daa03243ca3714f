#!/usr/bin/env python3
"""Test stand-ins for the key services no real server of which can run here.

- Vault transit: POST /v1/<engine>/encrypt/<key>, /v1/<engine>/decrypt/<key>, AES-256-GCM for
  real (one random key per engine/key), `X-Vault-Token` (and `X-Vault-Namespace` when set)
  checked. The real sops encrypts through it.
- GCP Cloud KMS (REST): POST /v1/<resource>:encrypt, :decrypt, AES-256-GCM with the resource
  name as associated data; bearer tokens checked. POST /token issues tokens for a service
  account JWT (RS256, verified against the account this server made) or a refresh token.
- Azure Key Vault: POST /keys/<name>/<version>/wrapkey, /unwrapkey with RSA-OAEP-256 done for
  real (one RSA-2048 key per name/version); bearer tokens checked. POST
  /<tenant>/oauth2/v2.0/token (client secret or federated assertion), GET /msi/token
  (managed identity, X-IDENTITY-HEADER).

GET /computeMetadata/v1/instance/service-accounts/default/token answers as GCP's metadata
server. --tls-dir DIR serves HTTPS with a certificate for 127.0.0.1 from a throw-away CA
(DIR/ca.pem; DIR/client.pem and DIR/client-key.pem are a client certificate from the same
CA, required with --tls-client-auth).

Key operations answer after --delay-ms; the first --fail-first of them answer 503 (retries).
GET /_stats counts key operations (the distinct ciphertexts asked to decrypt, the most in
flight at once); POST /_reset clears the counts; POST /_config {"delay_ms", "fail_first"}
changes those two settings. The port goes to stdout as {"port": N} once listening.

This is test scaffolding for kunseal, not an implementation of any of these services.
"""
import argparse
import base64
import json
import os
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

lock = threading.Lock()
aes_keys = {}
rsa_keys = {}
tokens = set()
stats = {"ops": {}, "decrypted": set(), "tokens": 0, "failed": 0, "inflight": 0, "max_inflight": 0}
args = None
gcp_account = None


def b64(b):
    return base64.b64encode(b).decode()


def unb64(s):
    s = s.strip()
    return base64.b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def aes_key(name, create):
    with lock:
        if name not in aes_keys and create:
            aes_keys[name] = AESGCM.generate_key(bit_length=256)
        return aes_keys.get(name)


def rsa_key(name, create):
    with lock:
        if name not in rsa_keys and create:
            rsa_keys[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return rsa_keys.get(name)


def issue_token():
    t = "tok-" + secrets.token_hex(16)
    with lock:
        tokens.add(t)
        stats["tokens"] += 1
    return t


OAEP256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One segment per answer, no Nagle wait on the second write (headers, then body).
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def bearer_ok(self):
        auth = self.headers.get("Authorization", "")
        t = auth[7:] if auth.startswith("Bearer ") else None
        with lock:
            return t is not None and (t in tokens or t == args.static_token)

    def key_op(self, name, ciphertext=None):
        """Counts, delays and maybe fails a key operation; True when it may go on."""
        with lock:
            stats["ops"][name] = stats["ops"].get(name, 0) + 1
            if ciphertext is not None:
                stats["decrypted"].add(ciphertext)
            fail = stats["failed"] < args.fail_first
            if fail:
                stats["failed"] += 1
            stats["inflight"] += 1
            stats["max_inflight"] = max(stats["max_inflight"], stats["inflight"])
        if args.delay_ms:
            time.sleep(args.delay_ms / 1000.0)
        with lock:
            stats["inflight"] -= 1
        if fail:
            self.reply(503, {"errors": ["stand-in: temporarily unavailable"], "error": {"code": 503, "message": "stand-in: temporarily unavailable"}})
            return False
        return True

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/_stats":
            with lock:
                self.reply(200, {"ops": stats["ops"], "distinct_decrypted": len(stats["decrypted"]), "tokens": stats["tokens"],
                                 "max_inflight": stats["max_inflight"]})
            return
        if u.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.reply(403, {"error": "missing Metadata-Flavor header"})
            return self.reply(200, {"access_token": issue_token(), "expires_in": 3599, "token_type": "Bearer"})
        if u.path == "/msi/token":
            q = parse_qs(u.query)
            if not args.identity_header or self.headers.get("X-IDENTITY-HEADER") != args.identity_header:
                return self.reply(401, {"error": "invalid_request", "error_description": "bad identity header"})
            if q.get("resource") != ["https://vault.azure.net"]:
                return self.reply(400, {"error": "invalid_resource", "error_description": "wrong resource"})
            return self.reply(200, {"access_token": issue_token(), "expires_on": str(int(time.time()) + 3600), "token_type": "Bearer"})
        self.reply(404, {"errors": ["no such path"]})

    def do_POST(self):
        u = urlparse(self.path)
        raw = self.body()
        if u.path == "/_reset":
            with lock:
                stats["ops"].clear()
                stats["decrypted"].clear()
                stats["tokens"] = 0
                stats["failed"] = 0
                stats["max_inflight"] = 0
            return self.reply(200, {})
        if u.path == "/_config":
            req = json.loads(raw or b"{}")
            args.delay_ms = int(req.get("delay_ms", args.delay_ms))
            args.fail_first = int(req.get("fail_first", args.fail_first))
            return self.reply(200, {})
        m = re.fullmatch(r"/v1/(.+)/(encrypt|decrypt)/([^/]+)", u.path)
        if m:
            return self.vault(m.group(1), m.group(2), m.group(3), raw)
        m = re.fullmatch(r"/v1/(projects/.+/cryptoKeys/[^/:]+):(encrypt|decrypt)", u.path)
        if m:
            return self.gcp(m.group(1), m.group(2), raw)
        m = re.fullmatch(r"/keys/([^/]+)/([^/]*)/(wrapkey|unwrapkey)", u.path)
        if m:
            return self.azure(m.group(1), m.group(2), m.group(3), raw)
        if u.path == "/token":
            return self.gcp_token(parse_qs(raw.decode()))
        m = re.fullmatch(r"/([^/]+)/oauth2/v2.0/token", u.path)
        if m:
            return self.azure_token(m.group(1), parse_qs(raw.decode()))
        self.reply(404, {"errors": ["no such path"]})

    # Vault takes PUT and POST alike (its Go client, which sops uses, sends PUT).
    do_PUT = do_POST

    # Vault transit
    def vault(self, engine, op, key, raw):
        if self.headers.get("X-Vault-Token") != args.vault_token:
            return self.reply(403, {"errors": ["permission denied"]})
        if args.vault_namespace and self.headers.get("X-Vault-Namespace") != args.vault_namespace:
            return self.reply(403, {"errors": ["permission denied (namespace)"]})
        req = json.loads(raw or b"{}")
        name = engine + "/" + key
        if op == "encrypt":
            if not self.key_op("vault.encrypt"):
                return
            k = aes_key(name, True)
            nonce = os.urandom(12)
            ct = AESGCM(k).encrypt(nonce, unb64(req["plaintext"]), None)
            return self.reply(200, {"data": {"ciphertext": "vault:v1:" + b64(nonce + ct), "key_version": 1}})
        if not self.key_op("vault.decrypt", req.get("ciphertext")):
            return
        k = aes_key(name, False)
        if k is None:
            return self.reply(400, {"errors": ["encryption key not found"]})
        c = req.get("ciphertext", "")
        if not c.startswith("vault:v1:"):
            return self.reply(400, {"errors": ["invalid ciphertext: no prefix"]})
        blob = unb64(c[len("vault:v1:"):])
        try:
            pt = AESGCM(k).decrypt(blob[:12], blob[12:], None)
        except Exception:
            return self.reply(400, {"errors": ["cipher: message authentication failed"]})
        self.reply(200, {"data": {"plaintext": b64(pt)}})

    # GCP Cloud KMS
    def gcp(self, resource, op, raw):
        if not self.bearer_ok():
            return self.reply(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
        req = json.loads(raw or b"{}")
        if op == "encrypt":
            if not self.key_op("gcp.encrypt"):
                return
            k = aes_key("gcp:" + resource, True)
            nonce = os.urandom(12)
            ct = AESGCM(k).encrypt(nonce, unb64(req["plaintext"]), resource.encode())
            return self.reply(200, {"name": resource + "/cryptoKeyVersions/1", "ciphertext": b64(nonce + ct)})
        if not self.key_op("gcp.decrypt", req.get("ciphertext")):
            return
        k = aes_key("gcp:" + resource, False)
        if k is None:
            return self.reply(404, {"error": {"code": 404, "message": "CryptoKey " + resource + " not found.", "status": "NOT_FOUND"}})
        try:
            blob = unb64(req["ciphertext"])
            pt = AESGCM(k).decrypt(blob[:12], blob[12:], resource.encode())
        except Exception:
            return self.reply(400, {"error": {"code": 400, "message": "Decryption failed: the ciphertext is invalid.", "status": "INVALID_ARGUMENT"}})
        self.reply(200, {"plaintext": b64(pt)})

    def gcp_token(self, form):
        grant = form.get("grant_type", [""])[0]
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            jwt = form.get("assertion", [""])[0]
            try:
                h, c, s = jwt.split(".")
                gcp_account["key"].public_key().verify(unb64url(s), (h + "." + c).encode(), padding.PKCS1v15(), hashes.SHA256())
                claims = json.loads(unb64url(c))
                header = json.loads(unb64url(h))
            except Exception:
                return self.reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            if header.get("alg") != "RS256" or claims.get("iss") != gcp_account["email"] or claims.get("aud") != gcp_account["token_uri"]:
                return self.reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT claims."})
            if "cloudkms" not in claims.get("scope", "") or claims.get("exp", 0) < time.time():
                return self.reply(400, {"error": "invalid_scope", "error_description": "bad scope or expired"})
        elif grant == "refresh_token":
            if form.get("refresh_token", [""])[0] != args.refresh_token or not args.refresh_token:
                return self.reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        else:
            return self.reply(400, {"error": "unsupported_grant_type"})
        self.reply(200, {"access_token": issue_token(), "expires_in": 3599, "token_type": "Bearer"})

    # Azure Key Vault
    def azure(self, name, version, op, raw):
        if not self.bearer_ok():
            return self.reply(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})
        req = json.loads(raw or b"{}")
        if req.get("alg") != "RSA-OAEP-256":
            return self.reply(400, {"error": {"code": "BadParameter", "message": "unsupported alg"}})
        kid = "https://stand-in/keys/%s/%s" % (name, version)
        if op == "wrapkey":
            if not self.key_op("azure.wrapkey"):
                return
            k = rsa_key(name + "/" + version, True)
            return self.reply(200, {"kid": kid, "value": b64url(k.public_key().encrypt(unb64url(req["value"]), OAEP256))})
        if not self.key_op("azure.unwrapkey", req.get("value")):
            return
        k = rsa_key(name + "/" + version, False)
        if k is None:
            return self.reply(404, {"error": {"code": "KeyNotFound", "message": "A key with (name/id) %s was not found in this key vault." % name}})
        try:
            pt = k.decrypt(unb64url(req["value"]), OAEP256)
        except Exception:
            return self.reply(400, {"error": {"code": "BadParameter", "message": "The parameter is incorrect."}})
        self.reply(200, {"kid": kid, "value": b64url(pt)})

    def azure_token(self, tenant, form):
        def f(k):
            return form.get(k, [""])[0]
        if tenant != args.azure_tenant or f("client_id") != args.azure_client_id:
            return self.reply(400, {"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory."})
        if f("scope") != "https://vault.azure.net/.default":
            return self.reply(400, {"error": "invalid_scope", "error_description": "AADSTS70011: The provided value for scope is not valid."})
        if f("client_secret"):
            ok = f("client_secret") == args.azure_client_secret
        else:
            ok = bool(args.azure_federated_token) and f("client_assertion") == args.azure_federated_token and \
                f("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        if not ok:
            return self.reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
        self.reply(200, {"access_token": issue_token(), "expires_in": 3599, "token_type": "Bearer"})


def serve_tls(server, d, client_auth):
    import datetime
    import ipaddress
    import ssl
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def cert(subject, key, issuer, issuer_key, ca, san=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = cert("kunseal test CA", ca_key, "kunseal test CA", ca_key, True)
    srv_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    srv = cert("127.0.0.1", srv_key, "kunseal test CA", ca_key, False, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cli_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cli = cert("kunseal test client", cli_key, "kunseal test CA", ca_key, False)
    os.makedirs(d, exist_ok=True)
    files = {"ca.pem": ca.public_bytes(serialization.Encoding.PEM), "server.pem": srv.public_bytes(serialization.Encoding.PEM),
             "server-key.pem": pem_key(srv_key), "client.pem": cli.public_bytes(serialization.Encoding.PEM),
             "client-key.pem": pem_key(cli_key)}
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server-key.pem"))
    if client_auth:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)


def main():
    global args, gcp_account
    p = argparse.ArgumentParser()
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--vault-token", default="")
    p.add_argument("--vault-namespace", default="")
    p.add_argument("--static-token", default="")
    p.add_argument("--refresh-token", default="")
    p.add_argument("--azure-tenant", default="tenant")
    p.add_argument("--azure-client-id", default="")
    p.add_argument("--azure-client-secret", default="")
    p.add_argument("--azure-federated-token", default="")
    p.add_argument("--identity-header", default="")
    p.add_argument("--write-gcp-sa", default="")
    p.add_argument("--tls-dir", default="")
    p.add_argument("--tls-client-auth", action="store_true")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if args.tls_dir:
        serve_tls(server, args.tls_dir, args.tls_client_auth)
    server.daemon_threads = True
    port = server.server_address[1]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    gcp_account = {"key": key, "email": "kunseal-test@stand-in.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:%d/token" % port}
    if args.write_gcp_sa:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        with open(args.write_gcp_sa, "w") as fh:
            json.dump({"type": "service_account", "project_id": "stand-in", "private_key_id": "k1", "private_key": pem,
                       "client_email": gcp_account["email"], "token_uri": gcp_account["token_uri"]}, fh)
    print(json.dumps({"port": port}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
