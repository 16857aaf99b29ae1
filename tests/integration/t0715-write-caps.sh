#!/bin/bash
# Nothing cairn writes may be larger than what it reads back: a build whose
# config would be over the store's 8 MiB cap for JSON documents fails before
# committing. And a store holding an unreadable image (planted here) is
# recovered: prune skips it and frees the rest, fsck names it, and
# fsck --repair drops it so that prune frees what only it used.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# Twelve 960 KB labels: the config would be about 11 MB.
mkdir -p "$T/big"
python3 - "$T/big/Buildfile" <<'PY'
import sys
lines = ["FROM busybox", "ARG X=" + "a" * 60000] + ["ARG X=${X}${X}"] * 4
lines += ["LABEL l%d=$X" % i for i in range(12)]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
expect_fail "config over the cap: the build fails" 1 "more than the 8388608 (8 MiB) cairn reads back" \
	build -q -t big "$T/big"
check "the error names the Buildfile line" grep -qF "$T/big/Buildfile:15: LABEL: the image config would be" "$T/err"
check "no tag for the failed build" expect_no_tag big:latest
check "no blob over 8 MiB in the store" \
	sh -c "test -z \"\$(find '$CAIRN_ROOT/blobs/sha256' -type f -size +8192k)\""
expect_ok "inspect still works on the base" inspect busybox

# An unreadable image, planted: a 9 MiB config (valid JSON) and a manifest
# naming it and busybox's layer, tagged in index.json.
python3 - "$CAIRN_ROOT" "$(tag_digest busybox:latest)" "$T/broken" <<'PY'
import hashlib, json, os, sys
root, base, out = sys.argv[1], sys.argv[2], sys.argv[3]
blobs = os.path.join(root, "blobs", "sha256")
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)
bm = json.load(open(os.path.join(blobs, base[7:])))
bc = json.load(open(os.path.join(blobs, bm["config"]["digest"][7:])))
bc["config"]["Labels"] = {"big": "b" * (9 << 20)}
cd, cs = put(json.dumps(bc).encode())
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
     "layers": bm["layers"]}
md, ms = put(json.dumps(m).encode())
idx = json.load(open(os.path.join(root, "index.json")))
idx["manifests"].append({"mediaType": m["mediaType"], "digest": md, "size": ms,
                         "annotations": {"org.opencontainers.image.ref.name": "broken:latest"}})
json.dump(idx, open(os.path.join(root, "index.json"), "w"))
open(out, "w").write(md + " " + cd + "\n")
PY
read -r bad_manifest bad_config <"$T/broken"

# Something prune must free although the broken image is there.
mkdir -p "$T/gone"
printf 'FROM busybox\nRUN echo gone >/gone\n' >"$T/gone/Buildfile"
expect_ok "build an image to drop" build -q -t gone "$T/gone"
gone=$(tag_digest gone:latest)
expect_ok "rmi it" rmi gone

expect_ok "prune goes on past the unreadable image" prune --all
check "prune names the unreadable image" grep -qF "image '$bad_manifest'" "$T/err"
check "prune freed the dropped image" test ! -e "$CAIRN_ROOT/blobs/sha256/${gone#sha256:}"
check "busybox survives prune" test -n "$(tag_digest busybox:latest)"
expect_ok "busybox still inspects" inspect busybox

expect_fail "fsck reports the unreadable image" 1 "problem" fsck
check "fsck names the tag and digest" grep -qF "tag 'broken:latest': image $bad_manifest:" "$T/out"
expect_fail "fsck --repair" 1 "repaired what could be" fsck --repair
check "repair removed the tag" expect_no_tag broken:latest
check "repair removed the manifest" test ! -e "$CAIRN_ROOT/blobs/sha256/${bad_manifest#sha256:}"
expect_ok "prune after repair" prune --all
check "prune freed the oversize config" test ! -e "$CAIRN_ROOT/blobs/sha256/${bad_config#sha256:}"
expect_ok "the store is consistent" fsck
check "busybox still runs" "$CAIRN" run --rm busybox true
check "store invariants" store_is_consistent
# A config between the registry's 4 MiB manifest limit and the store's
# 8 MiB cap is a blob like any other: it pushes and pulls back.
. "$TESTS_DIR/integration/registry.sh"
mkdir -p "$T/mid"
python3 - "$T/mid/Buildfile" <<'PY'
import sys
lines = ["FROM busybox", "ARG X=" + "b" * 60000] + ["ARG X=${X}${X}"] * 4
lines += ["LABEL m%d=$X" % i for i in range(5)]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
expect_ok "a 5 MB config builds" build -q -t mid:1 "$T/mid"
if start_registry none; then
	expect_ok "it pushes" push --cert-dir "$REG_CERTS" mid:1 "$REG/mid:1"
	"$CAIRN" rmi mid:1 >/dev/null 2>&1
	"$CAIRN" prune -a >/dev/null 2>&1
	expect_ok "it pulls back" pull --cert-dir "$REG_CERTS" "$REG/mid:1"
	check "with all five labels" test "$("$CAIRN" inspect "$REG/mid:1" | jq '.[0].Config.Labels | length')" -eq 5
	stop_registry
else
	fail "start the registry"
fi
finish
