#!/usr/bin/env python3
"""Writes an OCI image layout of hostile images, one tag per attack, for
pull and load tests: each image is a valid manifest + config whose single
layer tries to reach OUTSIDE (an absolute directory on the host that the
test watches) or to exhaust the disk.

usage: hostile_images.py LAYOUT_DIR OUTSIDE_DIR [ARCHIVE_DIR]

With ARCHIVE_DIR, also writes there for each tag TAG.tar (an OCI archive
holding that image alone, for load) and TAG.layer (its layer blob, for ADD).

tags:
  dotdot     a file named ../../../../..OUTSIDE/dotdot
  absolute   a file named OUTSIDE/absolute (absolute path)
  symlink    a symlink "esc" -> OUTSIDE, then a file "esc/through-symlink"
  hardlink   a hardlink "shadow" -> /etc/shadow, and one -> ../../../../../etc/shadow
  whiteout   a whiteout ../../../../..OUTSIDE/.wh.victim (removing OUTSIDE/victim)
  bomb       zstd layer: a 2 GiB file of zeros in about 70 KB
  huge-header   a pax header declaring 1 GiB (libarchive's limit is 1 MiB)
  hardlink-data a ustar hardlink whose header declares 5 bytes, with them
  short-body    the last entry's body cut short (no padding, no end blocks)
  no-end        umoci 0.4.7's layers: the last entry's data complete, then
                nothing (no padding, no end-of-archive blocks): accepted
"""
import hashlib, io, json, os, subprocess, sys, tarfile

layout, outside = sys.argv[1], sys.argv[2].rstrip("/")
archives = sys.argv[3] if len(sys.argv) > 3 else None
images = {}     # tag -> (manifest, config, layer) blobs
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
    images[tag] = (mdigest, msize, cdigest, digest)
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


def ustar(name, kind, size, link=b""):
    """A ustar header block written by hand (tarfile will not lie)."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 1600000000
    h[156] = ord(kind)
    h[157:157 + len(link)] = link
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def add_raw(tag, raw):
    add_image(tag, raw, "sha256:" + hashlib.sha256(raw).hexdigest(),
              "application/vnd.oci.image.layer.v1.tar")


pad = lambda b: b + bytes((512 - len(b) % 512) % 512)
add_raw("huge-header", ustar(b"PaxHeader", "x", 1 << 30) + b"a" * 4096)
add_raw("hardlink-data", ustar(b"f", "0", 5) + pad(b"hello") + ustar(b"l", "1", 5, b"f") +
        pad(b"world") + bytes(1024))
body = b"b" * 3000
add_raw("short-body", ustar(b"bin/busybox", "0", len(body)) + body[:-100])
add_raw("no-end", ustar(b"bin/", "5", 0) + ustar(b"bin/busybox", "0", len(body)) + body)

# The bomb: a tar holding one 2 GiB file of zeros, compressed by zstd as a
# stream (never in memory); diff_id hashed on the way.
size = 2 << 30
hdr = tarfile.TarInfo("zeros")
hdr.size = size
hdr.mode = 0o644
head = hdr.tobuf(format=tarfile.PAX_FORMAT)
tail = (512 - size % 512) % 512
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
feed(bytes(tail + 1024))
z.stdin.close()
reader.join()
z.wait()
add_image("bomb", out[0], "sha256:" + h.hexdigest(), "application/vnd.oci.image.layer.v1.tar+zstd")

with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump(index, f)

if archives:
    import tarfile as tf
    os.makedirs(archives, exist_ok=True)
    for tag, (mdigest, msize, cdigest, ldigest) in images.items():
        idx = {"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest,
            "size": msize, "annotations": {"org.opencontainers.image.ref.name": "hostile/" + tag + ":1"}}]}
        with tf.open(os.path.join(archives, tag + ".tar"), "w") as t:
            def add(name, path=None, data=None):
                i = tf.TarInfo(name)
                if path:
                    i.size = os.path.getsize(path)
                    with open(path, "rb") as f:
                        t.addfile(i, f)
                else:
                    i.size = len(data)
                    t.addfile(i, io.BytesIO(data))
            add("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}')
            add("index.json", data=json.dumps(idx).encode())
            for d in (mdigest, cdigest, ldigest):
                add("blobs/sha256/" + d[7:], path=os.path.join(blobs, d[7:]))
        os.link(os.path.join(blobs, ldigest[7:]), os.path.join(archives, tag + ".layer"))
