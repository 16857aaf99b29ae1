#!/bin/bash
# A docker user is at home naming and listing images: docker's name
# normalization, short image ids (the config digest) wherever an image is
# named, images/history/rmi/prune output as docker prints it, and the
# `image ...` / `container ...` command groups.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/app
buildfile "$ctx" <<'EOF2'
FROM busybox
LABEL tier=web
RUN echo one > /f
CMD ["cat", "/f"]
EOF2
expect_ok "build app:1" build -q -t app:1 "$ctx"
man=$(tag_digest app:1)
id=$(jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/${man#sha256:}")
short=${id:7:12}
bb_man=$(tag_digest busybox:latest)
digest_of() { "$CAIRN" inspect "$1" | jq -r '.[0].Digest'; }

# ---- names: docker's normalization, one function for every command ----
for n in busybox library/busybox docker.io/library/busybox docker.io/library/busybox:latest \
	index.docker.io/library/busybox:latest docker.io/busybox; do
	check "'$n' names the local busybox:latest" test "$(digest_of "$n")" = "$bb_man"
done
expect_ok "tag to docker.io/library/app:2" tag app:1 docker.io/library/app:2
check "... is stored as app:2 (docker's familiar name)" test "$(tag_digest app:2)" = "$man"
expect_ok "tag to localhost/hello:1" tag busybox localhost/hello:1
check "localhost/hello:1 is a name of its own" test "$(tag_digest localhost/hello:1)" = "$bb_man"
expect_fail "hello:1 is not localhost/hello:1 (docker.io/library/hello)" 1 "not found" inspect hello:1
buildfile "$T/from-full" <<'EOF2'
FROM docker.io/library/busybox:latest
RUN echo full > /g
EOF2
expect_ok "FROM docker.io/library/busybox:latest uses the local busybox (no pull)" build -q -t full:1 "$T/from-full"
check "... built on it" test "$(image_config full:1 | jq -c '.rootfs.diff_ids[0:-1]')" = "$(image_config busybox:latest | jq -c .rootfs.diff_ids)"
# A tag stored before names were normalized answers to its docker names.
expect_ok "tag legacy:1" tag busybox legacy:1
jq '.manifests |= map(if .annotations["org.opencontainers.image.ref.name"] == "legacy:1"
	then .annotations["org.opencontainers.image.ref.name"] = "docker.io/library/legacy:1" else . end)' \
	"$CAIRN_ROOT/index.json" >"$T/index.json" && cp "$T/index.json" "$CAIRN_ROOT/index.json"
check "an old full name answers to legacy:1" test "$(digest_of legacy:1)" = "$bb_man"
check "... and is listed as docker shows it" grep -qE '^legacy +1 ' <("$CAIRN" images)
expect_ok "... and rmi legacy:1 removes it" rmi legacy:1
check "... the entry is gone" test -z "$(tag_digest docker.io/library/legacy:1)"
expect_ok "rmi docker.io/library/app:2 removes app:2" rmi docker.io/library/app:2
check "... printing docker's name" grep -qx 'Untagged: app:2' "$T/out"

# ---- IMAGE ID is the config digest; short ids work everywhere ----
run_cairn images
check "images shows the config digest as IMAGE ID" grep -qE "^app +1 +$short " "$T/out"
check "inspect by a short id" test "$(digest_of "$short")" = "$man"
check "inspect by 4 digits" test "$(digest_of "${id:7:4}")" = "$man"
check "inspect by sha256:PREFIX" test "$(digest_of "sha256:${id:7:8}")" = "$man"
check "inspect by the full id" test "$(digest_of "$id")" = "$man"
check "inspect by the bare 64 digits" test "$(digest_of "${id:7}")" = "$man"
expect_fail "3 digits are not an id" 1 "not found" inspect "${id:7:3}"
expect_ok "run by a short id" run --rm "$short"
check "... runs that image" test "$(cat "$T/out")" = one
expect_ok "tag by a short id" tag "$short" app:short
check "... tags that image" test "$(tag_digest app:short)" = "$man"
expect_ok "history by a short id" history "$short"
expect_ok "save by a short id" save -o "$T/short.tar" "$short"
check "... saves that image" tar -xOf "$T/short.tar" index.json | grep -q "${man#sha256:}"
buildfile "$T/from-id" <<EOF2
FROM $short
RUN cat /f > /g
EOF2
expect_ok "FROM a short id" build -q -t fromid:1 "$T/from-id"
check "... builds on that image" test "$(image_config fromid:1 | jq -c '.rootfs.diff_ids[0:-1]')" = "$(image_config app:1 | jq -c .rootfs.diff_ids)"

# Two images whose ids share 4 digits: busybox relabelled until they do.
expect_ok "save busybox" save -o "$T/bb.tar" busybox
python3 - "$T/bb.tar" "$T/amb.tar" <<'EOF2' || fail "make two images with a common id prefix"
import hashlib, io, json, sys, tarfile
src = tarfile.open(sys.argv[1])
members = {m.name: src.extractfile(m).read() for m in src.getmembers() if m.isfile()}
idx = json.loads(members["index.json"])
man = json.loads(members["blobs/sha256/" + idx["manifests"][0]["digest"][7:]])
cfg = json.loads(members["blobs/sha256/" + man["config"]["digest"][7:]])
seen = {}
for n in range(1000000):
    c = dict(cfg, config=dict(cfg["config"], Labels={"n": str(n)}))
    b = json.dumps(c).encode()
    d = hashlib.sha256(b).hexdigest()
    if d[:4] in seen:
        pair = [seen[d[:4]], b]
        break
    seen[d[:4]] = b
out = tarfile.open(sys.argv[2], "w")
def add(name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); out.addfile(ti, io.BytesIO(data))
entries = []
for i, b in enumerate(pair):
    d = hashlib.sha256(b).hexdigest()
    add("blobs/sha256/" + d, b)
    m = dict(man, config=dict(man["config"], digest="sha256:" + d, size=len(b)))
    m.pop("annotations", None)
    mb = json.dumps(m).encode()
    md = hashlib.sha256(mb).hexdigest()
    add("blobs/sha256/" + md, mb)
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md,
                    "size": len(mb), "annotations": {"org.opencontainers.image.ref.name": "amb:%d" % (i + 1)}})
for name, data in members.items():
    if name.startswith("blobs/") and name[13:] not in [e["digest"][7:] for e in entries]:
        add(name, data)
add("oci-layout", members["oci-layout"])
add("index.json", json.dumps({"schemaVersion": 2, "manifests": entries}).encode())
out.close()
EOF2
expect_ok "load the two images" load -i "$T/amb.tar"
a1=$(image_config amb:1 >/dev/null; jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/$(tag_digest amb:1 | cut -c8-)")
a2=$(jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/$(tag_digest amb:2 | cut -c8-)")
check "their ids share 4 digits" test "${a1:7:4}" = "${a2:7:4}" -a "$a1" != "$a2"
expect_fail "an ambiguous prefix is an error naming the count" 1 "ambiguous: 2 images match" inspect "${a1:7:4}"
expect_fail "... for run too (125: never started)" 125 "ambiguous" run --rm "${a1:7:4}"
check "a longer prefix picks one" test "$(digest_of "${a1:7:12}")" = "$(tag_digest amb:1)"
run_cairn history -q amb:1
check "history of a loaded image: its id first, then <missing> (no states recorded)" \
	test "$(head -1 "$T/out")" = "${a1:7:12}" -a "$(sed 1d "$T/out" | sort -u)" = "<missing>"
expect_ok "rmi the two" rmi amb:1 amb:2

# ---- images ----
run_cairn images --digests
check "--digests adds DIGEST (the manifest digest)" grep -qE "^app +1 +$man +$short " "$T/out"
check "--digests header" grep -qE '^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$' "$T/out"
run_cairn images --no-trunc
check "--no-trunc shows the full id" grep -qE "^app +1 +$id " "$T/out"
run_cairn images -q
check "-q prints short ids, each once (app:1 and app:short are one)" test "$(grep -c "^$short\$" "$T/out")" = 1
check "-q prints nothing else" test -z "$(grep -vE '^[0-9a-f]{12}$' "$T/out")"
check "-q --no-trunc prints full ids" bash -c '"$1" images -q --no-trunc | grep -qx "$2"' _ "$CAIRN" "$id"
run_cairn images
check "header as docker's" grep -qE '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$' "$T/out"
check "CREATED is relative" grep -qE "^app +1 +$short +(Less than a second|About a minute|About an hour|[0-9]+ [a-z]+) ago " "$T/out"
# SIZE: the unpacked size (files and link targets), not the compressed blobs.
diff_ids=$(image_config busybox:latest | jq -r '.rootfs.diff_ids[]' | cut -c8-)
bytes=$(for d in $diff_ids; do find "$CAIRN_ROOT/snapshots/$d" \( -type f -o -type l \) -printf '%s\n'; done | awk '{s += $1} END {print s}')
want=$(awk -v b="$bytes" 'BEGIN { split("B kB MB GB", u); i = 1; while (b >= 1000 && i < 4) { b /= 1000; i++ } printf "%.3g%s", b, u[i] }')
check "SIZE is the unpacked size ($want)" grep -qE "^busybox +latest +[0-9a-f]{12} +.* ago +$want\$" "$T/out"
blobs=$(image_config busybox:latest >/dev/null; jq '[.layers[].size] | add' "$CAIRN_ROOT/blobs/sha256/${bb_man#sha256:}")
check "... larger than the compressed layers" test "$bytes" -gt "$blobs"
# Newest first: images with set creation times.
buildfile "$T/old" <<'EOF2'
FROM busybox
RUN echo old > /o
EOF2
buildfile "$T/new" <<'EOF2'
FROM busybox
RUN echo new > /n
EOF2
expect_ok "an image from 2001" build -q --timestamp 1000000000 -t old:1 "$T/old"
expect_ok "an image from 2004" build -q --timestamp 1100000000 -t new:1 "$T/new"
run_cairn images
line() { grep -nE "^$1 " "$T/out" | head -1 | cut -d: -f1; }
check "newest first: app before new:1 before old:1" test "$(line app)" -lt "$(line new)" -a "$(line new)" -lt "$(line old)"
check "CREATED in years" grep -qE '^old +1 +[0-9a-f]{12} +2[0-9] years ago ' "$T/out"
run_cairn images --filter before=new:1
check "before=IMAGE: older images only" test "$(awk 'NR>1 {print $1}' "$T/out" | tr '\n' ' ')" = "old "
run_cairn images --filter since=old:1 --filter reference='[no]*'
check "since=IMAGE with reference=: newer ones" test "$(awk 'NR>1 {print $1}' "$T/out" | tr '\n' ' ')" = "new "
run_cairn images --filter label=tier=web
check "label=K=V" test "$(awk 'NR>1 {print $1":"$2}' "$T/out" | sort | tr '\n' ' ')" = "app:1 app:short fromid:1 "
run_cairn images --filter label=tier=db
check "label=K=V that no image has" test "$(wc -l <"$T/out")" = 1
run_cairn images --filter 'reference=app*'
check "reference=PATTERN" test "$(awk 'NR>1 {print $1":"$2}' "$T/out" | sort | tr '\n' ' ')" = "app:1 app:short "
run_cairn images library/busybox
check "images REPOSITORY (normalized)" test "$(awk 'NR>1 {print $1":"$2}' "$T/out")" = "busybox:latest"
run_cairn images app:short
check "images REPOSITORY:TAG" test "$(awk 'NR>1 {print $1":"$2}' "$T/out")" = "app:short"
expect_fail "an unknown filter is a usage error" 2 "invalid filter" images --filter colour=red
# <none>: the previous value of a rebuilt tag stays (rollback can return to it).
echo two >"$ctx/extra"
sed -i 's/echo one/echo two/' "$ctx/Buildfile"
expect_ok "rebuild app:1" build -q -t app:1 "$ctx"
expect_ok "untag app:short" rmi app:short
run_cairn images
check "the old image is a <none> row" grep -qE "^<none> +<none> +$short " "$T/out"
run_cairn images --filter dangling=true
check "dangling=true: only <none> rows" test "$(awk 'NR>1 {print $1}' "$T/out" | sort -u)" = "<none>"
run_cairn images --filter dangling=false
check "dangling=false: no <none> row" bash -c '! grep -q "^<none>" "$1"' _ "$T/out"
n=$("$CAIRN" images | wc -l)
check "-a adds the build steps' states" test "$("$CAIRN" images -a | wc -l)" -gt "$n"
expect_ok "rollback to the <none> image by its id" rollback app:1 --to "$short"
check "... moves app:1 back" test "$(tag_digest app:1)" = "$man"

# ---- history ----
run_cairn history app:1
check "history: docker's columns" grep -qE '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$' "$T/out"
check "history: newest row first, its IMAGE the image's id" test "$(awk 'NR==2 {print $1}' "$T/out")" = "$short"
check "history: the newest row is the CMD" grep -qE "^$short +.* ago +CMD \[\"cat\", \"/f\"\] +0B " <(sed -n 2p "$T/out")
check "history: SIZE is the layer's unpacked size (4B for 'one\\n')" grep -qE '^[0-9a-f]{12} +.* ago +RUN echo one > /f +4B ' "$T/out"
run_cairn history -q app:1
check "history -q: ids only, one per row" test "$(wc -l <"$T/out")" = "$(image_config app:1 | jq '.history | length')"
check "history -q: the first is the image" test "$(head -1 "$T/out")" = "$short"
run_cairn history --no-trunc app:1
check "history --no-trunc: full ids" test "$(awk 'NR==2 {print $1}' "$T/out")" = "$id"
run_cairn history --rows app:1
row=$(awk '/RUN echo one/ {print $1}' "$T/out")
row_id=$(awk '/RUN echo one/ {print $2}' "$T/out")
expect_ok "rollback --to the ROW history --rows shows" rollback app:1 --to "$row"
check "... lands on that row's IMAGE" test "$(digest_of app:1)" = "$(digest_of "$row_id")"
expect_ok "rollback back" rollback app:1 --to "$man"

# ---- rmi and prune say what they removed ----
expect_ok "tag app:1 twice more" tag app:1 app:x
expect_fail "rmi of an id with several tags needs -f" 1 "must be forced" rmi "$short"
expect_ok "rmi -f of the id" rmi -f "$short"
check "... untags each tag" test "$(grep -c '^Untagged: app:' "$T/out")" = 2
expect_ok "rmi the rest" rmi fromid:1 full:1 old:1 new:1 localhost/hello:1
expect_ok "prune --all" prune --all
check "prune lists the deleted images" grep -qx 'Deleted Images:' "$T/out"
check "... by id" grep -qx "deleted: $id" "$T/out"
check "prune says the space reclaimed" grep -qE '^Total reclaimed space: [0-9.]+[kMG]?B$' "$T/out"
check "the image is gone" test ! -e "$CAIRN_ROOT/blobs/sha256/${man#sha256:}"

# ---- image and container command groups ----
# (CREATED left out: the two runs may straddle a second.)
check "image ls is images" test "$("$CAIRN" image ls | awk '{print $1, $2, $3}')" = "$("$CAIRN" images | awk '{print $1, $2, $3}')"
check "image list -q is images -q" test "$("$CAIRN" image list -q)" = "$("$CAIRN" images -q)"
check "image inspect" test "$("$CAIRN" image inspect busybox | jq -r '.[0].Digest')" = "$bb_man"
check "image history" test "$("$CAIRN" image history -q busybox)" = "$("$CAIRN" history -q busybox)"
expect_ok "image tag" image tag busybox bb:1
expect_ok "image rm" image rm bb:1
check "... printed Untagged" grep -qx 'Untagged: bb:1' "$T/out"
check "container ls is ps" test "$("$CAIRN" container ls -a)" = "$("$CAIRN" ps -a)"
expect_ok "container run" container run --rm busybox echo hi
check "... ran" test "$(cat "$T/out")" = hi
expect_ok "image --help" image --help
expect_fail "an unknown image command" 2 "unknown command 'cairn image frob'" image frob
# save by id: the archive carries the image, but no tag it was not given.
bb_id=$(jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/$(tag_digest busybox:latest | cut -d: -f2)")
expect_ok "save by short id" save -o "$T/byid.tar" "${bb_id:7:12}"
check "save by id: no RepoTags in manifest.json" \
	test "$(tar -xOf "$T/byid.tar" manifest.json | jq -c '.[0].RepoTags // []')" = "[]"
check "save by id: no ref name in index.json" \
	test "$(tar -xOf "$T/byid.tar" index.json | jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"] // empty] | length')" -eq 0
check "store is consistent" store_is_consistent
finish
