#!/bin/bash
# The shared build cache when things go wrong: a cache that cannot be used
# (corrupt, not a cache, a blob gone, a registry answering 500, nothing
# listening) never fails a build: it goes on without it, saying why in one
# warning line. Two builds exporting to one cache at once both end up in
# it. A secret a RUN step mounts is in no exported cache. A failed export
# fails the build, naming the cache, unless ignore-error=true.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/rcache.sh"
trap 'stop_proxy; stop_registry; cleanup_test_dir' EXIT
# Retries of a failing registry without the real back-off: the test stays quick.
export CAIRN_TEST_FAST_RETRY=1

STORE0=$T/store
build_busybox || finish
REG_TLS=0 start_registry none || { fail "start the registry"; finish; }
NT=(--tls-verify=false)
expect_ok "push the base image" push -q "${NT[@]}" busybox:latest "$REG/lib/busybox:1"
BASE=$REG/lib/busybox:1

ctx1=$T/ctx1 ctx2=$T/ctx2 ctx3=$T/ctx3
mkdir -p "$ctx1" "$ctx2" "$ctx3"
echo one-a >"$ctx1/a.txt"
echo one-b >"$ctx1/b.txt"
buildfile "$ctx1" <<EOF2
FROM $BASE
COPY a.txt /a.txt
RUN echo RAN-ONE-3; cat /a.txt > /a2.txt
ENV WHAT=one
COPY b.txt /b.txt
RUN echo RAN-ONE-6; cat /b.txt > /b2.txt
EOF2
echo two-c >"$ctx2/c.txt"
buildfile "$ctx2" <<EOF2
FROM $BASE
COPY c.txt /c.txt
RUN echo RAN-TWO-3; cat /c.txt /c.txt > /c2.txt
RUN echo RAN-TWO-4; wc -l /c2.txt > /c3.txt
EOF2

# fresh NAME: an empty store with the base image in it.
fresh() {
	export CAIRN_ROOT=$T/$1
	"$CAIRN" pull -q "${NT[@]}" "$BASE" >/dev/null 2>&1 || fail "pull the base image into $1"
}
# built_without_cache DESC REF MARKER: the last build succeeded, ran the
# step printing MARKER, hit nothing from REF and warned once, naming REF.
built_without_cache() {
	local desc=$1 ref=$2 marker=$3 st=$status
	check "$desc: the steps ran" test "$st" -eq 0 -a "$(ran "$marker")" -eq 1
	check "$desc: nothing came from the cache" test "$st" -eq 0 -a "$(cached_from "$ref")" -eq 0
	check "$desc: exactly one warning, naming the cache" \
		test "$(warnings "warning: --cache-from")" -eq 1 -a "$(warnings "warning: --cache-from $ref: ")" -eq 1
	check "$desc: the warning says the build goes on without it" grep -q "^warning: --cache-from .*; building without it$" "$T/err"
}

# ---- two exports to one cache at once ----
SHARED=$REG/team/shared:c SHARED_LC=$T/shared-lc
fresh p1
fresh p2
( CAIRN_ROOT=$T/p1 exec timeout -k 10 120 "$CAIRN" build "${NT[@]}" -t one:1 \
	--cache-to "type=registry,ref=$SHARED,mode=max" --cache-to "type=local,dest=$SHARED_LC,mode=max" \
	"$ctx1" >"$T/p1.out" 2>"$T/p1.err" ) &
p1=$!
( CAIRN_ROOT=$T/p2 exec timeout -k 10 120 "$CAIRN" build "${NT[@]}" -t two:1 \
	--cache-to "type=registry,ref=$SHARED,mode=max" --cache-to "type=local,dest=$SHARED_LC,mode=max" \
	"$ctx2" >"$T/p2.out" 2>"$T/p2.err" ) &
p2=$!
wait "$p1"; s1=$?
wait "$p2"; s2=$?
check "two builds exporting to one registry ref and one directory at once both succeed" test "$s1" -eq 0 -a "$s2" -eq 0
[ "$s1" -eq 0 ] || sed 's/^/#   p1: /' "$T/p1.err" | tail -5
[ "$s2" -eq 0 ] || sed 's/^/#   p2: /' "$T/p2.err" | tail -5
check "... both exported to both" test "$(cat "$T/p1.err" "$T/p2.err" | count_re "^cache export ($(re "$SHARED")|$(re "local:$SHARED_LC")): " -)" -eq 4
one=$(CAIRN_ROOT=$T/p1 tag_digest one:1) two=$(CAIRN_ROOT=$T/p2 tag_digest two:1)
for src in "$SHARED" "local:$SHARED_LC"; do
	case $src in local:*) from="type=local,src=${src#local:}" ;; *) from=$src ;; esac
	fresh "q-${src//[^a-z]/}"
	expect_ok "fresh store, $src: the first Buildfile" build "${NT[@]}" --cache-from "$from" -t one:1 "$ctx1"
	st=$status
	check "... all its steps CACHED ($src)" test "$st" -eq 0 -a "$(cached_from "$src")" -eq 5 -a "$(ran RAN-ONE-3)$(ran RAN-ONE-6)" = 00
	expect_ok "fresh store, $src: the second Buildfile" build "${NT[@]}" --cache-from "$from" -t two:1 "$ctx2"
	st=$status
	check "... all its steps CACHED too: neither export lost the other's" \
		test "$st" -eq 0 -a "$(cached_from "$src")" -eq 3 -a "$(ran RAN-TWO-3)$(ran RAN-TWO-4)" = 00
	check "... the same images" test -n "$one" -a -n "$two" -a "$(tag_digest one:1)" = "$one" -a "$(tag_digest two:1)" = "$two"
done

# ---- a cache manifest whose document is garbage ----
head -c 777 /dev/urandom >"$T/garbage"
gd=sha256:$(sha256sum "$T/garbage" | cut -d' ' -f1)
jq -n --arg d "$gd" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	artifactType: "application/vnd.cairn.buildcache.v1",
	config: {mediaType: "application/vnd.cairn.buildcache.config.v1+json", digest: $d, size: 777},
	layers: [], annotations: {"org.cairn.buildcache.version": "1"}}' >"$T/bad.json"
put_bad() { reg_put_blob team/bad "$T/garbage" && reg_put_manifest team/bad c "$T/bad.json"; }
check "put a cache manifest with a random document at team/bad:c" put_bad
fresh s-bad
expect_ok "a corrupt cache: the build succeeds" build "${NT[@]}" --cache-from "$REG/team/bad:c" -t one:1 "$ctx1"
built_without_cache "a corrupt cache" "$REG/team/bad:c" RAN-ONE-3

fresh s-foreign
expect_ok "an image that is not a cache: the build succeeds" build "${NT[@]}" --cache-from "type=registry,ref=$BASE" -t one:1 "$ctx1"
built_without_cache "not a cache" "$BASE" RAN-ONE-3

fresh s-none
expect_ok "a cache ref that does not exist yet: the build succeeds" \
	build "${NT[@]}" --cache-from "$REG/team/none:c" -t one:1 "$ctx1"
check "... it runs the steps, warning once at most" \
	test "$(ran RAN-ONE-3)" -eq 1 -a "$(warnings warning:)" -le 1

# ---- a layer blob gone from the registry ----
MISS=$REG/team/miss:c
export CAIRN_ROOT=$T/p1
expect_ok "export a cache (mode=max)" build "${NT[@]}" --cache-to "type=registry,ref=$MISS,mode=max" -t one:1 "$ctx1"
top=$(layers_of one:1 | tail -1)
check "delete the image's top layer from the cache's repository" reg_delete_blob team/miss "$top"
check "... the registry no longer serves it" test -n "$top" -a \
	"$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/team/miss/blobs/$top")" = 404
fresh s-miss
expect_ok "a cache missing a layer: the build succeeds" build "${NT[@]}" --cache-from "$MISS" -t one:1 "$ctx1"
st=$status
check "... the step whose layer is gone runs again" test "$(ran RAN-ONE-6)" -eq 1
check "... the steps before it come from the cache" test "$st" -eq 0 -a "$(ran RAN-ONE-3)" -eq 0 -a "$(cached_from "$MISS")" -eq 4
check "... one warning at most" test "$st" -eq 0 -a "$(warnings warning:)" -le 1
check "... the same image (the build is reproducible)" test -n "$one" -a "$(tag_digest one:1)" = "$one"
expect_ok "... fsck" fsck

# ---- a registry answering 500, and none at all ----
start_proxy error500 || { fail "start the proxy"; finish; }
fresh s-500
expect_ok "a registry answering 500: the build succeeds" \
	build "${NT[@]}" --creds "$REG_USER:$REG_PASS" --cache-from "$PROXY/team/shared:c" -t one:1 "$ctx1"
built_without_cache "500" "$PROXY/team/shared:c" RAN-ONE-3
check "... the proxy did answer 500" test "$(grep -c ' 500$' "$PROXY_LOG")" -ge 1
stop_proxy
fresh s-down
expect_ok "nothing listening: the build succeeds" build "${NT[@]}" --cache-from "127.0.0.1:1/team/app:c" -t one:1 "$ctx1"
built_without_cache "nothing listening" "127.0.0.1:1/team/app:c" RAN-ONE-3

# ---- a secret stays out of every cache ----
secret=cairn-secret-$(head -c 18 /dev/urandom | base64 | tr -d '+/=')
printf '%s' "$secret" >"$T/tok"
buildfile "$ctx3" <<EOF2
FROM $BASE
RUN --mount=type=secret,id=tok test -s /run/secrets/tok && cat /run/secrets/tok > /dev/null; echo RAN-SECRET
RUN echo RAN-AFTER; echo after > /after
EOF2
export CAIRN_ROOT=$T/p1
expect_ok "a build with a secret, exported (mode=max) to a directory and a registry" \
	build "${NT[@]}" --secret "id=tok,src=$T/tok" --cache-to "type=local,dest=$T/seclc,mode=max" \
	--cache-to "type=registry,ref=$REG/team/secret:c,mode=max" -t sec:1 "$ctx3"
check "... the secret step ran" test "$(ran RAN-SECRET)" -eq 1
# secret_in DIR: the value, its sha256 or its base64 in any file, as it is
# or decompressed.
secret_in() {
	local f pats=("$secret" "$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)" "$(printf '%s' "$secret" | base64)")
	local p
	for p in "${pats[@]}"; do
		grep -rqF -- "$p" "$1" && { echo "found '$p' in $1"; return 0; }
	done
	while IFS= read -r -d '' f; do
		for p in "${pats[@]}"; do
			{ gzip -dc "$f" 2>/dev/null || zstd -dcq "$f" 2>/dev/null; } | grep -qaF -- "$p" &&
				{ echo "found '$p' in $f decompressed"; return 0; }
		done
	done < <(find "$1" -type f -size +0 -print0)
	return 1
}
no_secret_in() { ! secret_in "$1"; }
check "the exported directory has the cache" test -s "$T/seclc/index.json"
check "... and not the secret (value, sha256, base64)" no_secret_in "$T/seclc"
check "the registry has the cache" test -n "$(reg_manifest team/secret c | jq -r .config.digest)"
check "... and not the secret, anywhere in its storage" no_secret_in "$REG_DIR/data"
fresh s-secret
expect_ok "a fresh store imports the secret build's cache" \
	build "${NT[@]}" --secret "id=tok,src=$T/tok" --cache-from "type=local,src=$T/seclc" -t sec:1 "$ctx3"
st=$status
check "... its steps are CACHED (they were exported)" test "$st" -eq 0 -a "$(ran RAN-SECRET)$(ran RAN-AFTER)" = 00 -a "$(cached_from "local:$T/seclc")" -eq 2

# ---- a cache that pairs a layer blob with another layer's diff_id ----
# Both layers are in the store already (the store built them): the pairing
# the document claims must still be checked before a step or the image
# uses it; the build then runs again without the cache.
fresh s-pair
pair=$T/pair
mkdir -p "$pair/one" "$pair/two"
printf 'FROM %s\nRUN echo A > /a\nRUN echo B > /b\n' "$BASE" >"$pair/one/Buildfile"
printf 'FROM %s\nRUN echo A > /a\nRUN echo RAN-LIST; ls / > /listing\n' "$BASE" >"$pair/two/Buildfile"
expect_ok "store s-pair: export a two-step build" build --cache-to "type=local,dest=$pair/lc,mode=max" -t pair:1 "$pair/one"
python3 - "$pair/lc" <<'PY' || fail "tamper with the local cache"
import hashlib, json, sys
lc = sys.argv[1]
def path(d): return f"{lc}/blobs/sha256/{d.split(':')[1]}"
def put(b):
    d = "sha256:" + hashlib.sha256(b).hexdigest()
    open(path(d), "wb").write(b)
    return d
idx = json.load(open(f"{lc}/index.json"))
man = json.load(open(path(idx["manifests"][0]["digest"])))
doc = json.load(open(path(man["config"]["digest"])))
layers = lambda s: len(json.loads(s["manifest"])["layers"])
short = min(doc["states"], key=layers)
long_ = max(doc["states"], key=layers)
# The state after "RUN echo A": its last layer's blob now claims the
# diff_id of the layer "RUN echo B" made.
cfg = json.loads(short["config"])
cfg["rootfs"]["diff_ids"][-1] = json.loads(long_["config"])["rootfs"]["diff_ids"][-1]
cb = json.dumps(cfg).encode()
m = json.loads(short["manifest"])
m["config"].update(digest=put(cb), size=len(cb))
mb = json.dumps(m).encode()
old, new = short["digest"], "sha256:" + hashlib.sha256(mb).hexdigest()
put(mb)
short.update(digest=new, manifest=mb.decode(), config=cb.decode())
for r in doc["records"]:
    if r["state"] == old:
        r["state"] = new
db = json.dumps(doc).encode()
man["config"].update(digest=put(db), size=len(db))
manb = json.dumps(man).encode()
idx["manifests"][0].update(digest=put(manb), size=len(manb))
json.dump(idx, open(f"{lc}/index.json", "w"))
PY
rm -f "$CAIRN_ROOT"/cache/[0-9a-f]*
expect_ok "a build from the tampered cache succeeds" build --cache-from "type=local,src=$pair/lc" -t victim:1 "$pair/two"
check "... the wrong pairing was caught (a warning naming the diff_id), and it built again without the cache" \
	grep -q "image config says" "$T/err"
has_a_not_b() { unpack_with_umoci victim:1 "$T/uv" >/dev/null 2>&1 && test -f "$T/uv/rootfs/a" -a ! -e "$T/uv/rootfs/b"; }
check "... its image has /a and not /b" has_a_not_b
expect_ok "... fsck is clean" fsck
expect_ok "a build without --cache-from afterwards" build -t victim:2 "$pair/two"
check "... took nothing wrong from the store's cache (same image)" test "$(tag_digest victim:2)" = "$(tag_digest victim:1)"

# ---- an export that fails ----
export CAIRN_ROOT=$T/p1
DOWN=127.0.0.1:1/team/app:c
expect_fail "an export to a registry nothing listens on fails the build, naming the ref" 1 "$DOWN" \
	build "${NT[@]}" --cache-to "type=registry,ref=$DOWN" -t one:1 "$ctx1"
expect_ok "... unless ignore-error=true" build "${NT[@]}" --cache-to "type=registry,ref=$DOWN,ignore-error=true" -t one:1 "$ctx1"
check "... then one warning line, naming the ref" test "$(count_re "^warning: .*$(re "$DOWN")" "$T/err")" -eq 1 -a "$(warnings warning:)" -eq 1
echo not-a-dir >"$T/notadir"
expect_fail "an export to a directory that cannot be made fails, naming it" 1 "$T/notadir" \
	build --cache-to "type=local,dest=$T/notadir" -t one:1 "$ctx1"

for s in p1 p2 s-miss s-pair; do
	CAIRN_ROOT=$T/$s check "store $s consistent" store_is_consistent
done
check "no mounts left" no_mounts_left
finish
