#!/usr/bin/env python3
"""A misbehaving front for a registry, for client tests: forwards requests
to UPSTREAM (a registry without auth), but first demands Basic auth from
the client (USER:PASS), and, by MODE, for blob GETs:

  flaky      answers 503, then 429 (Retry-After: 1), then cuts the body
             short, and only then forwards: a client must retry through all;
  redirect   answers 307 to http://localhost:PORT/storage/... (another
             host name for this proxy), which serves the blob and logs
             whether an Authorization header came with it;
  downgrade  (run with TLS) answers 307 to an http:// URL;
  relative   (all requests) gives upstream's Location headers as references
             relative to the request's path, as RFC 3986 resolves them
             ("UUID?..." for an upload under /v2/NAME/blobs/uploads/);
  longtype   (manifest GETs) lengthens the layers' media types past 96 bytes;
  error500   (all requests, once authenticated) answers 500: a registry
             that is up but broken;
  halfcut    the first GET of each blob sends the first half of the real
             blob (with its full Content-Length) and cuts the connection;
             then forwards: a client that unpacks while it downloads must
             start over cleanly.

Every request is logged: "METHOD PATH auth=yes|no status".
usage: proxy.py PORT MODE UPSTREAM USER PASS LOG [CERT KEY]
"""
import base64, json, ssl, sys, threading, urllib.request, urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, mode, upstream, user, password, log_path = sys.argv[1:7]
tls = sys.argv[7:9]
expected = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
counts = {}
lock = threading.Lock()


def log(line):
    with lock, open(log_path, "a") as f:
        f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, headers=(), body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def relative_location(self, hdrs):
        # "/v2/n/blobs/uploads/U?q" asked from "/v2/n/blobs/uploads/" -> "U?q"
        out = []
        for k, v in hdrs:
            base = self.path.split("?")[0].rsplit("/", 1)[0] + "/"
            if k.lower() == "location" and v.startswith(upstream + "/"):
                v = v[len(upstream):]
            if k.lower() == "location" and v.startswith(base):
                v = v[len(base):]
                log("%s %s location=%s rel" % (self.command, self.path, v))
            out.append((k, v))
        return out

    def forward(self, path):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        req = urllib.request.Request(upstream + path, data=body, method=self.command)
        for k in ("Content-Type", "Accept", "Content-Range"):
            values = self.headers.get_all(k)
            if values:
                req.add_header(k, ", ".join(values))
        try:
            r = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            r = e
        data = r.read()
        hdrs = [(k, v) for k, v in r.headers.items()
                if k.lower() in ("content-type", "docker-content-digest", "location", "range")]
        if mode == "relative":
            hdrs = self.relative_location(hdrs)
        if mode == "longtype" and self.command == "GET" and "/manifests/" in path:
            doc = json.loads(data)
            for layer in doc.get("layers", []):
                layer["mediaType"] += "+" + "x" * 100
            data = json.dumps(doc).encode()
            hdrs = [(k, v) for k, v in hdrs if k.lower() != "docker-content-digest"]
        self.reply(r.status if hasattr(r, "status") else r.code, hdrs, data)

    def handle_any(self):
        auth = self.headers.get("Authorization")
        path = self.path
        if path.startswith("/storage/"):
            log("%s %s auth=%s storage" % (self.command, path, "yes" if auth else "no"))
            return self.forward(path[len("/storage"):])
        if auth != expected:
            log("%s %s auth=%s 401" % (self.command, path, "yes" if auth else "no"))
            return self.reply(401, [("WWW-Authenticate", 'Basic realm="proxy"')])
        if mode == "error500":
            log("%s %s 500" % (self.command, path))
            return self.reply(500, [("Content-Type", "application/json")],
                              b'{"errors":[{"code":"UNKNOWN","message":"internal error"}]}')
        is_blob_get = self.command == "GET" and "/blobs/sha256:" in path
        if is_blob_get and mode == "flaky":
            with lock:
                n = counts[path] = counts.get(path, 0) + 1
            if n == 1:
                log("GET %s 503" % path)
                return self.reply(503, body=b"busy")
            if n == 2:
                log("GET %s 429" % path)
                return self.reply(429, [("Retry-After", "1")], b"slow down")
            if n == 3:
                log("GET %s cut" % path)
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.write(b"x" * 100)
                self.wfile.flush()
                self.close_connection = True
                return
        if is_blob_get and mode == "halfcut":
            with lock:
                n = counts[path] = counts.get(path, 0) + 1
            if n == 1:
                data = urllib.request.urlopen(upstream + path).read()
                log("GET %s halfcut" % path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        if is_blob_get and mode == "redirect":
            log("GET %s 307" % path)
            return self.reply(307, [("Location", "http://localhost:%s/storage%s" % (port, path))])
        if is_blob_get and mode == "downgrade":
            log("GET %s 307-http" % path)
            return self.reply(307, [("Location", "http://127.0.0.1:1/storage%s" % path)])
        log("%s %s auth=yes fwd" % (self.command, path))
        self.forward(path)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = handle_any


server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
