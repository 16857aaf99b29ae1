#!/usr/bin/env python3
"""Writes an OCI image layout of hostile images, one tag per attack, for
pull and load tests: each image is a valid manifest + config whose single
layer tries to reach OUTSIDE (an absolute directory on the host that the
test watches) or to exhaust the disk.

usage: hostile_images.py LAYOUT_DIR OUTSIDE_DIR

tags:
  dotdot     a file named ../../../../..OUTSIDE/dotdot
  absolute   a file named OUTSIDE/absolute (absolute path)
  symlink    a symlink "esc" -> OUTSIDE, then a file "esc/through-symlink"
  hardlink   a hardlink "shadow" -> /etc/shadow, and one -> ../../../../../etc/shadow
  whiteout   a whiteout ../../../../..OUTSIDE/.wh.victim (removing OUTSIDE/victim)
  bomb       zstd layer: a 2 GiB file of zeros in about 70 KB
"""
import hashlib, io, json, os, subprocess, sys, tarfile

layout, outside = sys.argv[1], sys.argv[2].rstrip("/")
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
index = {"schemaVersion": 2, "manifests": []}
climb = "../../../../../../../.."


def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)


def tar_of(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def entry(name, kind=tarfile.REGTYPE, data=b"", link=""):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.mode = 0o644 if kind != tarfile.DIRTYPE else 0o755
    i.linkname = link
    i.size = len(data) if kind == tarfile.REGTYPE else 0
    return (i, data if kind == tarfile.REGTYPE else None)


def add_image(tag, layer, diff_id, media_type):
    digest, size = put(layer)
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]},
              "history": [{"created_by": "hostile " + tag}]}
    cdigest, csize = put(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cdigest, "size": csize},
                "layers": [{"mediaType": media_type, "digest": digest, "size": size}]}
    mdigest, msize = put(json.dumps(manifest).encode())
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": mdigest, "size": msize,
                               "annotations": {"org.opencontainers.image.ref.name": tag}})


def add_plain(tag, entries):
    raw = tar_of(entries)
    add_image(tag, raw, "sha256:" + hashlib.sha256(raw).hexdigest(),
              "application/vnd.oci.image.layer.v1.tar")


add_plain("dotdot", [entry(climb + outside + "/dotdot", data=b"escaped\n")])
add_plain("absolute", [entry(outside + "/absolute", data=b"escaped\n")])
add_plain("symlink", [entry("esc", tarfile.SYMTYPE, link=outside),
                      entry("esc/through-symlink", data=b"escaped\n")])
add_plain("hardlink", [entry("shadow", tarfile.LNKTYPE, link="/etc/shadow"),
                       entry("shadow2", tarfile.LNKTYPE, link=climb + "/etc/shadow")])
add_plain("whiteout", [entry(climb + outside + "/.wh.victim")])

# The bomb: a tar holding one 2 GiB file of zeros, compressed by zstd as a
# stream (never in memory); diff_id hashed on the way.
size = 2 << 30
hdr = tarfile.TarInfo("zeros")
hdr.size = size
hdr.mode = 0o644
head = hdr.tobuf(format=tarfile.PAX_FORMAT)
pad = (512 - size % 512) % 512
z = subprocess.Popen(["zstd", "-q", "-3", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
h = hashlib.sha256()
import threading
out = []
reader = threading.Thread(target=lambda: out.append(z.stdout.read()))
reader.start()
def feed(b):
    h.update(b)
    z.stdin.write(b)
feed(head)
chunk = bytes(1 << 20)
for _ in range(size // len(chunk)):
    feed(chunk)
feed(bytes(pad + 1024))
z.stdin.close()
reader.join()
z.wait()
add_image("bomb", out[0], "sha256:" + h.hexdigest(), "application/vnd.oci.image.layer.v1.tar+zstd")

with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump(index, f)
