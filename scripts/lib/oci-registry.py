#!/usr/bin/env python3
"""A read-only OCI distribution registry that serves the images of one OCI image layout: enough for containerd
to pull images with no registry reachable (scripts/containerd-suite, scripts/cri-suite).

  oci-registry.py LAYOUT_DIR PORT [CERT KEY]

A manifest is found by its repository and tag: the index.json entry whose io.containerd.image.name ends with
"/REPO:TAG" (so "ghcr.io/containerd/busybox:1.36" answers for containerd/busybox:1.36 on any host name); any
other name gets the first entry. With CERT and KEY it speaks HTTPS, else plain HTTP (which containerd allows
for registries on localhost).
"""
import http.server, json, os, ssl, sys

layout, port = sys.argv[1], int(sys.argv[2])
cert, key = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)
blobs = os.path.join(layout, "blobs", "sha256")
with open(os.path.join(layout, "index.json")) as f:
    entries = json.load(f)["manifests"]

def manifest_for(repo, tag):
    for e in entries:
        name = e.get("annotations", {}).get("io.containerd.image.name", "")
        if name == f"{repo}:{tag}" or name.endswith(f"/{repo}:{tag}"):
            return e
    return entries[0]

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
            top = manifest_for("/".join(parts[2:-2]), ref)
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
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
