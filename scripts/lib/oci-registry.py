#!/usr/bin/env python3
"""A read-only OCI distribution registry over HTTPS that serves one OCI image layout under every repository
name and tag: enough for containerd's Go client to pull an image with no registry reachable (scripts/containerd-suite).

  oci-registry.py LAYOUT_DIR CERT KEY PORT
"""
import http.server, json, os, ssl, sys

layout, cert, key, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
blobs = os.path.join(layout, "blobs", "sha256")
with open(os.path.join(layout, "index.json")) as f:
    top = json.load(f)["manifests"][0]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, code, body=b"", ctype="application/json", digest=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _blob(self, digest):
        algo, _, hexd = digest.partition(":")
        path = os.path.join(blobs, hexd)
        if algo != "sha256" or not hexd.isalnum() or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def do_GET(self):
        parts = self.path.split("?")[0].split("/")
        if self.path.rstrip("/") == "/v2":
            return self._send(200, b"{}")
        if len(parts) >= 5 and parts[1] == "v2" and parts[-2] in ("manifests", "blobs"):
            ref = parts[-1]
            digest = ref if ref.startswith("sha256:") else top["digest"]
            body = self._blob(digest)
            if body is None:
                return self._send(404, b'{"errors":[{"code":"NOT_FOUND"}]}')
            if parts[-2] == "manifests":
                ctype = json.loads(body).get("mediaType", top["mediaType"])
                return self._send(200, body, ctype, digest)
            return self._send(200, body, "application/octet-stream", digest)
        self._send(404, b'{"errors":[{"code":"NOT_FOUND"}]}')

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        sys.stderr.write("registry: " + (fmt % args) + "\n")

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
