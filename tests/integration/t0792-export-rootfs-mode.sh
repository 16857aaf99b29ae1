#!/bin/bash
# export --format rootfs: the destination is the image's `/`, so it gets the
# image's mode for the root (0755 when no layer has a root entry), not the
# 0700 of the temporary directory it was built in.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
expect_ok "export busybox as a rootfs" export --format rootfs busybox "$T/root"
check "the root directory is 0755" test "$(stat -c %a "$T/root")" = 755
check "... with the image inside" test -x "$T/root/bin/busybox"

# An image whose layer records / as 0750 (a root entry "./"), loaded from a
# docker archive.
python3 - "$T/arch" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(d)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name, mode, typ, data in [("./", 0o750, tarfile.DIRTYPE, b""), ("./etc", 0o755, tarfile.DIRTYPE, b""),
                                  ("./etc/hello", 0o644, tarfile.REGTYPE, b"hi\n")]:
        i = tarfile.TarInfo(name)
        i.mode, i.type, i.size, i.mtime = mode, typ, len(data), 0
        t.addfile(i, io.BytesIO(data) if data else None)
layer = buf.getvalue()
open(os.path.join(d, "layer.tar"), "wb").write(layer)
cfg = {"architecture": "amd64", "os": "linux", "config": {},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
open(os.path.join(d, "config.json"), "w").write(json.dumps(cfg))
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(
    [{"Config": "config.json", "RepoTags": ["root750:1"], "Layers": ["layer.tar"]}]))
PY
tar -C "$T/arch" -cf "$T/arch.tar" manifest.json config.json layer.tar
expect_ok "load an image whose / is 0750" load -i "$T/arch.tar"
expect_ok "export it as a rootfs" export --format rootfs root750:1 "$T/root750"
check "the root directory has the image's mode (750)" test "$(stat -c %a "$T/root750")" = 750
check "... and its content" test "$(cat "$T/root750/etc/hello")" = hi
expect_ok "export --format bundle still works" export --format bundle busybox "$T/bundle"
check "the bundle's rootfs is 0755" test "$(stat -c %a "$T/bundle/rootfs")" = 755
finish
