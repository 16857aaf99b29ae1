#!/usr/bin/env python3
"""A small token issuer for the registry's `auth: token` mode (the Docker
token protocol): GET /token?service=S&scope=repository:NAME:ACTIONS...
answers {"token": JWT} signed RS256 with a certificate the registry trusts
(its rootcertbundle), the certificate in the JWT's x5c header.

Policy: anonymous callers may pull anything; USER:PASS (Basic) may pull and
push. Wrong credentials get 401. Every request is logged as one line:
"auth=<none|basic-ok|basic-bad> scope=<scopes>".

usage: tokend.py PORT KEY CERT TLS_CERT TLS_KEY USER PASS LOG ISSUER
"""
import base64, json, ssl, sys, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

port, key_path, cert_path, tls_cert, tls_key, user, password, log_path, issuer = sys.argv[1:10]
key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        who, state = "", "none"
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                u, p = "", ""
            state = "basic-ok" if (u == user and p == password) else "basic-bad"
            who = u
        scopes = q.get("scope", [])
        with open(log_path, "a") as f:
            f.write("auth=%s scope=%s\n" % (state, ",".join(scopes) or "-"))
        if state == "basic-bad":
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            return
        access = []
        for s in scopes:
            parts = s.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            wanted = parts[2].split(",")
            allowed = [a for a in wanted if a == "pull" or (a == "push" and state == "basic-ok")]
            access.append({"type": "repository", "name": parts[1], "actions": allowed})
        now = int(time.time())
        claims = {"iss": issuer, "sub": who, "aud": q.get("service", [""])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
        body = json.dumps({"token": sign(claims), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
if tls_cert != "-":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_cert, tls_key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
