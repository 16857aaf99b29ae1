#!/usr/bin/env python3
"""A registry that refuses manifests whose config media type it does not
know (as some hosted registries do), for the cache store's fallback:
GET /v2/ answers 200; PUT /v2/NAME/manifests/TAG answers 400
MANIFEST_INVALID (415 when NAME has a "u415" component) unless
config.mediaType is the OCI image config's, and always 400
MANIFEST_BLOB_UNKNOWN when NAME has a "blobless" component; GET answers
what was stored, or 404 MANIFEST_UNKNOWN. Every manifest PUT is logged as
"PUT NAME STATUS".

usage: picky_registry.py PORT LOG
"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
port, log_path = int(sys.argv[1]), sys.argv[2]
stored = {}


def manifest_path(path):
    parts = path.split("/manifests/")
    if len(parts) != 2 or not parts[0].startswith("/v2/"):
        return None
    return parts[0][4:], parts[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code):
        self.answer(status, json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode())

    def do_GET(self):
        if self.path == "/v2/":
            return self.answer(200, b"{}")
        mp = manifest_path(self.path)
        if mp and mp in stored:
            return self.answer(200, stored[mp], OCI_MANIFEST)
        self.error(404, "MANIFEST_UNKNOWN")

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mp = manifest_path(self.path)
        if not mp:
            return self.error(404, "NOT_FOUND")
        name = mp[0].split("/")
        try:
            cfg = json.loads(body)["config"]["mediaType"]
        except (ValueError, KeyError, TypeError):
            cfg = None
        if "blobless" in name:
            status = 400
            self.error(400, "MANIFEST_BLOB_UNKNOWN")
        elif cfg != OCI_CONFIG:
            status = 415 if "u415" in name else 400
            self.error(status, "MANIFEST_INVALID")
        else:
            status = 201
            stored[mp] = body
            self.answer(201)
        with open(log_path, "a") as f:
            f.write("PUT %s %d\n" % (mp[0], status))


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
