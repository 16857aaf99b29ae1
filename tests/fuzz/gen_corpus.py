#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/NAME/ (run from anywhere;
the files are committed, so `make fuzz` does not need this script). Small
hand-made inputs, one file each; regression inputs for fixed crashes are
added by hand next to them (named crash-*)."""
import gzip, io, os, shutil, subprocess, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- parse: Buildfiles -------------------------------------------------------
for ex in ["examples/hello/Buildfile", "examples/busybox/Buildfile", "examples/c-hello/Buildfile",
           "examples/three-tier/app/Buildfile", "bench/cases/parallel/Buildfile"]:
    with open(os.path.join(ROOT, ex), "rb") as f:
        put("parse", ex.replace("/", "_"), f.read())
put("parse", "directives", "# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox AS b\n"
    "RUN echo a `\n  b\nCOPY --chown=1:2 --chmod=644 [\"a b\", \"c\"]\n")
put("parse", "heredoc", "FROM scratch\nCOPY <<EOF /a\nhello $X\nEOF\nRUN <<-'E1' cat <<E2\n\tx\nE1\ny\nE2\n"
    "RUN 3<<A cat <&3\nq\nA\n")
put("parse", "mounts", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=locked,id=x "
    "--mount=type=bind,from=b,source=/s,target=/t,rw --mount=type=tmpfs,target=/tm,size=1m "
    "--network=none true\n")
put("parse", "json", "FROM busybox\nCMD [\"a\\u0000b\", \"\\n\"]\nENTRYPOINT [\"sh\",\"-c\"]\n"
    "SHELL [\"/bin/sh\", \"-c\"]\nVOLUME [\"/v\"]\nEXPOSE 80/tcp 53/udp\n")
put("parse", "misc", "ARG V=1\nFROM busybox:${V} AS s1\nENV A=1 B=\"x y\" C\\ D=e\nLABEL a=b \"c d\"=e\n"
    "WORKDIR /w\nUSER 1:1\nSTOPSIGNAL SIGTERM\nHEALTHCHECK --interval=5s --retries=3 CMD true\n"
    "ONBUILD RUN echo hi\nADD --checksum=sha256:" + "0" * 64 + " http://x/y /y\n"
    "COPY --from=s1 --link --parents --exclude=*.o a/ /b/\nMAINTAINER me\n")

# ---- expand: first byte = flags (0x80 backtick escape), then text ------------
for i, t in enumerate(["$A ${B} ${A:-x} ${NO-y} ${A:+z} ${EMPTY+w}", "${BIG#a*} ${BIG##a} ${A%a} ${A%%?a}",
                       "${A/l/L} ${A//a/b} ${PATH//:/ }", "'$A' \"$A ${B}\" \\$A \\\\ a\\ b",
                       "${NO:?missing} ${NO?m}", "${A:1:2} $$ ${#A} ${}", "`$A ``x"]):
    put("expand", "e%d" % i, bytes([0x80 if "`" in t[:1] else i % 8]) + t.encode())

# ---- ignore: the ignore file, NUL, paths (one a line) --------------------------
put("ignore", "basic", "# c\n*.o\n!keep.o\nbuild/\n/node_modules\n**/tmp\n\x00a.o\nkeep.o\nbuild/x\nsrc/tmp/a\nnode_modules/z\n")
put("ignore", "classes", "[a-c]?.txt\n\\*lit\nd/**/e\n!d/x/e\n**\n!**/*.go\n\x00b1.txt\n*lit\nd/e\nd/x/e\nd/y/z/e\nm.go\n")
put("ignore", "dirs", "a\n!a/b\na/b/c\n../x\n./y/\n\x00a\na/b\na/b/c\na/b/d\na/c\ny/z\n")

# ---- ref ----------------------------------------------------------------------
for i, r in enumerate(["busybox", "library/busybox:1.36", "localhost:5000/a/b:t", "ghcr.io/o/r@sha256:" + "a" * 64,
                       "docker.io/x/y:tag@sha256:" + "0" * 64, "[::1]:5000/img:1", "a/./b:1", "UPPER/x",
                       "a__b/c-d.e:" + "t" * 128, "host:99999/x"]):
    put("ref", "r%d" % i, r)

# ---- auth: WWW-Authenticate, NUL, auth.json -----------------------------------
put("auth", "bearer", 'Bearer realm="https://auth.example.com/token",service="reg",scope="repository:a/b:pull,push"'
    '\x00{"auths":{"example.com":{"auth":"dXNlcjpwYXNz"}}}')
put("auth", "basic", 'Basic realm="x"\x00{"auths":{"https://example.com/v1/":{"auth":"Og=="},"other":{}}}')
put("auth", "escapes", 'Bearer realm="a\\"b", error="invalid_token" ,scope=x,service= ,token68==\x00'
    '{"auths":{"example.com":{"auth":"!!"}},"credHelpers":{}}')
put("auth", "creds", 'user:pa:ss\x00{"auths":{"example.com":{"username":"u","password":"p"}}}')

# ---- image_json: manifest NUL config NUL index ----------------------------------
D = "sha256:" + "1" * 64
E = "sha256:" + "2" * 64
cfg = ('{"architecture":"amd64","os":"linux","config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":["%s"]},'
       '"history":[{"created_by":"x"},{"empty_layer":true}]}' % E)
cfg_docker = cfg.replace('"history":[{"created_by":"x"},{"empty_layer":true}]', '"history":[]')
man = ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":'
       '"application/vnd.oci.image.config.v1+json","digest":"%s","size":SIZE},"layers":[{"mediaType":'
       '"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":5}],"annotations":'
       '{"org.cairn.state.parent":"%s"}}' % (D, E, D))
idx = ('{"schemaVersion":2,"manifests":[{"digest":"%s","platform":{"os":"linux","architecture":"amd64"}},'
       '{"digest":"%s","platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}' % (D, E))
put("image_json", "oci", "\x00".join([man.replace("SIZE", str(len(cfg))), cfg, idx]))
put("image_json", "docker", "\x00".join([man.replace("SIZE", str(len(cfg_docker))).replace(
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"),
    cfg_docker, '{"manifests":[]}']))
put("image_json", "size_mismatch", "\x00".join([man.replace("SIZE", "-5"), cfg, idx]))
put("image_json", "bad", '{"schemaVersion":2,"layers":[{"size":-5}]}\x00{"rootfs":{"diff_ids":[1]}}\x00{"manifests":[{}]}')

# ---- archive: first byte odd = index.json (OCI), even = manifest.json ----------
put("archive", "docker", b"\x00" + b'[{"Config":"config.json","RepoTags":["fuzz:1"],"Layers":["layer.tar"]}]')
put("archive", "docker_blobs", b"\x00" + b'[{"Config":"blobs/sha256/@c@","RepoTags":null,"Layers":["link.tar","./blobs/sha256/@l@"]}]')
put("archive", "oci", b"\x01" + b'{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"digest":"@M@","size":1,"annotations":{"io.containerd.image.name":"docker.io/library/fuzz:1",'
    b'"org.opencontainers.image.ref.name":"1"}}]}')
put("archive", "oci_nested", b"\x01" + b'{"manifests":[{"digest":"@M@","annotations":{"org.opencontainers.image.ref.name":"a/b:c"}},'
    b'{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"@C@"}]}')

# ---- extract: first byte: bit 0 snapshot form (else ADD form), bit 1 fix header
# checksums, bit 2 ADD's bzip2/xz; then the blob ----
def tar(entries, fmt=tarfile.PAX_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for e in entries:
            name, kind = e[0], e[1]
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            data = None
            if kind == "f":
                data = e[2].encode() if len(e) > 2 else b""
                ti.size = len(data)
            elif kind == "d":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, e[2]
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, e[2]
            elif kind == "c":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, e[2], e[3]
            elif kind == "p":
                ti.type = tarfile.FIFOTYPE
            if len(e) > 3 and kind == "f":
                ti.pax_headers = e[3]
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return b.getvalue()

basic = tar([("a", "d"), ("a/x", "f", "x\n"), ("a/y", "l", "x"), ("a/z", "h", "a/x"), ("n", "c", 1, 3), ("q", "p")])
wh = tar([("a/.wh.f", "f"), ("a/.wh..wh..opq", "f"), (".wh.b", "f"), ("c/new", "f", "through link"),
          ("d/e/.wh..wh..opq", "f"), ("d/new", "f", "n")])
odd = tar([("../up", "f"), ("/abs", "f", "a"), ("a/../../x", "f"), ("l", "l", "/etc"), ("l/passwd", "f", "no"),
           ("x" * 200 + "/y", "f", "long"), ("u", "f", "pax", {"SCHILY.xattr.user.a": "b",
                                                               "SCHILY.xattr.trusted.overlay.opaque": "y"})])
gnu = tar([("g" * 120, "f", "gnu long name"), ("h", "h", "g" * 120)], fmt=tarfile.GNU_FORMAT)
put("extract", "add_basic", b"\x00" + basic)
put("extract", "snap_basic", b"\x01" + basic)
put("extract", "add_whiteouts", b"\x00" + wh)
put("extract", "snap_whiteouts", b"\x01" + wh)
put("extract", "add_hostile", b"\x00" + odd)
put("extract", "snap_gnu", b"\x01" + gnu)
put("extract", "add_gzip", b"\x00" + gzip.compress(basic, mtime=0))
if shutil.which("zstd"):
    put("extract", "snap_zstd", b"\x01" + subprocess.run(["zstd", "-q", "-c"], input=wh, check=True,
                                                          stdout=subprocess.PIPE).stdout)
put("extract", "truncated", b"\x00" + basic[:700])
put("extract", "fix_add_whiteouts", b"\x02" + wh)
put("extract", "fix_snap_hostile", b"\x03" + odd)
put("extract", "fix_add_basic", b"\x02" + basic)
put("extract", "add_bzip2", b"\x04" + __import__("bz2").compress(basic))

# ---- gotmpl: --format / inspect -f templates (TEMPLATE NUL [JSON]) ------------
for i, t in enumerate(["{{.Id}}", "{{.Config.Cmd}} {{json .Config.Labels}}", "table {{.Id}}\\t{{.Size}}",
                       "json", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}",
                       "{{if eq .Size 12}}a{{else if .Ok}}b{{else}}c{{end}}",
                       "{{index .Tags 1}} {{join .Tags \",\"}} {{printf \"%s %d\" .Id .Size}}",
                       "{{- with .Config}}{{len .Cmd | printf \"%d\"}}{{end -}} {{/* c */}}",
                       "{{(index .Config.Labels \"k\") | upper}} {{truncate .Id 3}} {{pad .Id 1 1}}"]):
    put("gotmpl", "t%d" % i, t)
put("gotmpl", "data", "{{range .}}{{.}}{{end}}\0[1,\"x\",{\"a\":[null,true]}]")

# ---- rcache: a cache document (its first line is also a --cache-to/--cache-from value)
def rcache_doc(nstates, docker=False):
    import hashlib, json as js
    sha = lambda b: "sha256:" + hashlib.sha256(b.encode()).hexdigest()
    dumps = lambda o: js.dumps(o, separators=(",", ":"), sort_keys=True)
    states, records = [], []
    for s in range(nstates):
        cfg = dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                     "rootfs": {"type": "layers", "diff_ids": [sha("diff%d.%d" % (s, i)) for i in range(s + 1)]}})
        lt = "application/vnd.docker.image.rootfs.diff.tar.gzip" if docker else \
            "application/vnd.oci.image.layer.v1.tar+zstd"
        man = dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"
                     if docker else "application/vnd.oci.image.manifest.v1+json",
                     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg),
                                "size": len(cfg)},
                     "layers": [{"mediaType": lt, "digest": sha("blob%d.%d" % (s, i)), "size": 10 + i}
                                for i in range(s + 1)]})
        states.append({"digest": sha(man), "manifest": man, "config": cfg})
        records.append({"key": sha("key%d" % s), "state": sha(man), "stage": str(s % 2), "created": 1700000000 + s})
    return dumps({"version": 1, "records": records, "states": states})


put("rcache", "doc1", rcache_doc(1))
put("rcache", "doc3", rcache_doc(3))
put("rcache", "doc_docker", rcache_doc(2, docker=True))
put("rcache", "empty", '{"records":[],"states":[],"version":1}')
for i, v in enumerate(["reg:5000/team/app:buildcache", "type=registry,ref=localhost:5000/a/b:c,mode=max,"
                       "compression=zstd,ignore-error=true,oci-mediatypes=true",
                       "type=local,dest=/tmp/c,tag=v1", "type=local,src=\"/a,b\",digest=sha256:" + "0" * 64,
                       "type=inline", "type=gha,scope=x", "type=local,\"dest=/a,\"\"b\",compression=gzip"]):
    put("rcache", "spec%d" % i, v + "\n")


# ---- compose: compose.yaml NUL override.yaml NUL .env -------------------------
put("compose", "basic", "services:\n  web:\n    image: nginx\n    ports: [\"${PORT:-80}:80\"]\n"
    "    environment: [A=1, B]\n    depends_on: {db: {condition: service_healthy}}\n"
    "  db:\n    image: pg\n    healthcheck: {test: [CMD, true], interval: 1s}\n"
    "\0services:\n  web:\n    ports: !reset []\n    command: echo hi\n\0SET=1\nX='y'\n")
put("compose", "anchors", "x-a: &a {restart: always, labels: {a: b}}\nservices:\n  s: {<<: *a, image: x,"
    " volumes: [\"v:/d\", ./b:/c:ro, {type: tmpfs, target: /t}]}\nvolumes: {v: }\n\0\0")
put("compose", "build", "name: ${SET}\nservices:\n  a:\n    build: {context: ., args: {X: 1}, target: t}\n"
    "    networks: {n: {aliases: [b]}}\n    deploy: {resources: {limits: {memory: 1g}}}\n"
    "networks: {n: {internal: true}}\n\0services:\n  a:\n    build: ./x\n    user: !override u\n"
    "\0export A=\"q\\n$SET\"\nB=c # d\n")


# ---- modinfo: kernel modules (ELF64 objects) for the disk export's loader ----
def elf_module(modinfo, little=True):
    """A minimal ELF64 relocatable object: sections null, .shstrtab, .modinfo."""
    import struct
    e = "<" if little else ">"
    shstr = b"\0.shstrtab\0.modinfo\0"
    body_off = 64
    shstr_off, mi_off = body_off, body_off + len(shstr)
    sh_off = (mi_off + len(modinfo) + 7) & ~7
    data = bytearray(sh_off + 3 * 64)
    ident = b"\x7fELF" + bytes([2, 1 if little else 2, 1, 0]) + b"\0" * 8
    struct.pack_into(e + "16sHHIQQQIHHHHHH", data, 0, ident, 1, 62, 1, 0, 0, sh_off, 0, 64, 0, 0, 64, 3, 1)
    data[shstr_off:shstr_off + len(shstr)] = shstr
    data[mi_off:mi_off + len(modinfo)] = modinfo
    for i, (name, off, size) in enumerate([(0, 0, 0), (1, shstr_off, len(shstr)), (11, mi_off, len(modinfo))]):
        struct.pack_into(e + "IIQQQQIIQQ", data, sh_off + 64 * i, name, 3 if i == 1 else (1 if i else 0), 0, 0,
                         off, size, 0, 0, 1, 0)
    return bytes(data)


put("modinfo", "virtio_pci", elf_module(b"license=GPL\0depends=virtio_pci_modern_dev,virtio,virtio_ring\0"
                                        b"name=virtio_pci\0vermagic=6.1.0-57-amd64 SMP mod_unload\0"))
put("modinfo", "ext4", elf_module(b"alias=fs-ext4\0depends=mbcache,jbd2,crc16\0intree=Y\0name=ext4\0"))
put("modinfo", "nodeps", elf_module(b"depends=\0name=crc16\0"))
put("modinfo", "dashes", elf_module(b"depends=crc32c-generic,,a-b\0"))
put("modinfo", "bigendian", elf_module(b"depends=x\0", little=False))
