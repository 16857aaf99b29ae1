#!/bin/bash
# pull unpacks each layer while it downloads (transfer/import.h, xfer_stream):
# a multi-layer image (deletions, an opaque directory, hard links, symlinks,
# a file big enough to be written back early; layers synced file by file
# and by syncfs; gzip and zstd) pulled into an
# empty store has the snapshots that unpacking its saved archive gives, runs,
# and fsck passes; a download cut half-way starts over cleanly; a blob cut
# short or corrupted in the registry's storage leaves no blob, no snapshot
# and no temp dir behind, and tags nothing. The same for plain tar layers;
# a compressed bomb past its declared size stops its unpacker at once;
# Ctrl-C while a verified layer unpacks keeps its blob for the next pull.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_proxy; stop_registry; cleanup_test_dir' EXIT

build_busybox || finish
REG_TLS=0 start_registry none || { fail "start the registry"; finish; }
buildfile "$T/multi" <<'BF'
FROM busybox:latest
RUN mkdir -p /data/keep /data/gone /data/opq && echo a >/data/keep/a && echo b >/data/gone/b && echo c >/data/opq/c
RUN dd if=/dev/urandom of=/data/big bs=1M count=12 2>/dev/null && ln /data/keep/a /data/keep/a-link && ln -s ../keep/a /data/keep/sym
RUN rm -rf /data/gone /data/opq && mkdir /data/opq && echo new >/data/opq/new
BF
BUILT=$CAIRN_ROOT
expect_ok "build a multi-layer image (gzip)" build -q -t multi:gz "$T/multi"
expect_ok "build it with zstd layers" build -q --compression zstd -t multi:zst "$T/multi"
expect_ok "push the gzip one" push -q multi:gz "$REG/team/multi:gz"
expect_ok "push the zstd one" push -q multi:zst "$REG/team/multi:zst"
expect_ok "save both" save -o "$T/multi.tar" multi:gz multi:zst
for c in gz zst; do
	printf -v "big_$c" '%s' "$("$CAIRN" run --rm multi:$c sha256sum /data/big 2>/dev/null | cut -d' ' -f1)"
done

# The reference: the same images loaded from an archive (unpacked from the
# stored blobs, not while downloading).
export CAIRN_ROOT=$T/loaded
expect_ok "load the saved images into another store" load -q -i "$T/multi.tar"

# snapshots_of TAG: "DIFFID listing" of every layer of TAG in $CAIRN_ROOT:
# each entry's type, mode, owner, size, link count, mtime, symlink target,
# content digest and overlay xattrs.
xattrs_py='
import os
for top, dirs, files in os.walk("."):
    for n in sorted(dirs + files):
        p = os.path.join(top, n)
        for a in sorted(os.listxattr(p, follow_symlinks=False)):
            if a.startswith("trusted.overlay."):
                print(p, a, os.getxattr(p, a, follow_symlinks=False))'
snapshots_of() {
	local d
	for d in $(image_config "$1" | jq -r '.rootfs.diff_ids[]'); do
		echo "== $d"
		(cd "$CAIRN_ROOT/snapshots/${d#sha256:}" && find . -mindepth 1 -printf '%p %y %m %U:%G %s %n %T@ %l\n' | sort &&
			find . -type f -exec sha256sum {} + | sort &&
			python3 -c "$xattrs_py")
	done
}
snapshots_of multi:gz >"$T/ref.gz"
snapshots_of multi:zst >"$T/ref.zst"
check "the reference snapshots hold the opaque directory" grep -q "opq trusted.overlay.opaque b'y'" "$T/ref.gz"

for c in gz zst; do
	export CAIRN_ROOT=$T/pulled-$c
	expect_ok "pull the $c image into an empty store" pull -q "$REG/team/multi:$c"
	check "... same manifest digest" test "$(tag_digest "$REG/team/multi:$c")" = "$(CAIRN_ROOT=$BUILT tag_digest multi:$c)"
	snapshots_of "$REG/team/multi:$c" >"$T/got.$c"
	if cmp -s "$T/ref.$c" "$T/got.$c"; then
		pass "... its snapshots are the ones unpacking the saved archive gives"
	else
		fail "... its snapshots are the ones unpacking the saved archive gives"
		diff "$T/ref.$c" "$T/got.$c" | head -20 | sed 's/^/#   /'
	fi
	want_sum=big_$c
	run_cairn run --rm "$REG/team/multi:$c" sh -c 'cat /data/opq/new /data/keep/a-link /data/keep/sym; ls /data; ls /data/opq; sha256sum /data/big'
	check "... it runs and shows the last layer's view" test "$status" -eq 0 -a \
		"$(head -6 "$T/out" | tr '\n' ' ')" = "new a a big keep opq " -a "$(sed -n 7p "$T/out")" = new -a \
		"$(sed -n 8p "$T/out" | cut -d' ' -f1)" = "${!want_sum}"
	expect_ok "... fsck passes" fsck
	check "... no temp dirs left" no_tmp_left
done

# Every blob's first download is cut half-way (after the unpacker started).
start_proxy halfcut || { fail "start the proxy"; finish; }
export CAIRN_ROOT=$T/halfcut
CAIRN_TEST_FAST_RETRY=1 run_cairn pull -q --creds "$REG_USER:$REG_PASS" "$PROXY/team/multi:gz"
check "a pull whose downloads are cut half-way starts them over and succeeds" test "$status" -eq 0
check "... every layer was cut once" test "$(grep -c ' halfcut$' "$PROXY_LOG")" -ge 4
snapshots_of "$PROXY/team/multi:gz" >"$T/got.halfcut"
check "... and its snapshots are the reference's" cmp -s "$T/ref.gz" "$T/got.halfcut"
expect_ok "... fsck passes" fsck
check "... no temp dirs left" no_tmp_left
stop_proxy

# The big layer's blob in the registry's storage: cut short, then corrupted.
m=$(CAIRN_ROOT=$BUILT tag_digest multi:gz)
big_layer=$(jq -r '.layers[-2].digest' "$BUILT/blobs/sha256/${m#sha256:}")
big_diff=$(CAIRN_ROOT=$BUILT image_config multi:gz | jq -r '.rootfs.diff_ids[-2]')
data=$REG_DIR/data/docker/registry/v2/blobs/sha256/$(echo "${big_layer#sha256:}" | cut -c1-2)/${big_layer#sha256:}/data
cp "$data" "$T/big.blob"
truncate -s $(($(stat -c %s "$data") / 2)) "$data"
export CAIRN_ROOT=$T/truncated
run_cairn pull -q "$REG/team/multi:gz"
check "a pull of a blob cut short in the registry fails, naming it" \
	test "$status" -eq 1 -a -n "$(grep -F "$big_layer" "$T/err" | grep -E 'content hashes to|the manifest declares')"
sed 's/^/#   /' "$T/err"
check "... nothing is tagged" expect_no_tag "$REG/team/multi:gz"
check "... the blob is not in the store" test ! -e "$CAIRN_ROOT/blobs/sha256/${big_layer#sha256:}"
check "... nor a snapshot of it" test ! -e "$CAIRN_ROOT/snapshots/${big_diff#sha256:}"
check "... no temp dirs left" no_tmp_left
expect_ok "... fsck passes" fsck

cp "$T/big.blob" "$data"
printf 'XXXX' | dd of="$data" bs=1 seek=$(($(stat -c %s "$data") / 2)) conv=notrunc 2>/dev/null
export CAIRN_ROOT=$T/corrupted
expect_fail "a pull of a blob corrupted in the registry fails on its digest" 1 "content hashes to" \
	pull -q "$REG/team/multi:gz"
check "... nothing is tagged" expect_no_tag "$REG/team/multi:gz"
check "... the blob is not in the store" test ! -e "$CAIRN_ROOT/blobs/sha256/${big_layer#sha256:}"
check "... nor a snapshot of it" test ! -e "$CAIRN_ROOT/snapshots/${big_diff#sha256:}"
check "... no temp dirs left" no_tmp_left
expect_ok "... fsck passes" fsck
cp "$T/big.blob" "$data"

# blob_data DIGEST: its file in the registry's storage.
blob_data() {
	echo "$REG_DIR/data/docker/registry/v2/blobs/sha256/$(echo "${1#sha256:}" | cut -c1-2)/${1#sha256:}/data"
}

# A compressed bomb in place of the zstd image's first layer: a 1 GiB file
# of zeros (some KiB of zstd), padded past the size the manifest declares.
# The download fails on the size; the unpacker, writing that file, must
# stop within a block, not finish it: the store's tmp/ stays small.
m=$(CAIRN_ROOT=$BUILT tag_digest multi:zst)
bomb_layer=$(jq -r '.layers[0].digest' "$BUILT/blobs/sha256/${m#sha256:}")
bomb_diff=$(CAIRN_ROOT=$BUILT image_config multi:zst | jq -r '.rootfs.diff_ids[0]')
bomb_size=$(jq -r '.layers[0].size' "$BUILT/blobs/sha256/${m#sha256:}")
data=$(blob_data "$bomb_layer")
cp "$data" "$T/first.blob"
mkdir -p "$T/bomb" && truncate -s 1G "$T/bomb/zeros"
(tar cf - -C "$T/bomb" zeros | zstd -1 -q -T1 && head -c $((bomb_size + (1 << 20))) /dev/zero) >"$data"
rm -rf "$T/bomb"
check "the bomb is a zstd blob longer than the declared $bomb_size bytes" \
	test "$(head -c4 "$data" | od -An -tx1 | tr -d ' ')" = 28b52ffd -a "$(stat -c %s "$data")" -gt "$bomb_size"
export CAIRN_ROOT=$T/bomb-store
mkdir -p "$CAIRN_ROOT/tmp"
# du of tmp/ sampled while the pull runs: the most it ever held (KiB).
(while :; do du -sk "$CAIRN_ROOT/tmp" 2>/dev/null | cut -f1; sleep 0.02; done) >"$T/tmp-du" &
du_pid=$!
run_cairn pull -q "$REG/team/multi:zst"
kill "$du_pid"; wait "$du_pid" 2>/dev/null
peak=$(sort -n "$T/tmp-du" | tail -1)
check "a pull of a compressed bomb longer than its declared size fails on the size" \
	test "$status" -eq 1 -a -n "$(grep -F "$bomb_layer" "$T/err" | grep 'more than the')"
sed 's/^/#   /' "$T/err"
check "... the store's tmp/ never held 64 MiB (peak ${peak:-?} KiB in $(wc -l <"$T/tmp-du") samples)" \
	test -n "$peak" -a "${peak:-0}" -lt 65536
check "... nothing is tagged" expect_no_tag "$REG/team/multi:zst"
check "... the blob is not in the store" test ! -e "$CAIRN_ROOT/blobs/sha256/${bomb_layer#sha256:}"
check "... nor a snapshot of it" test ! -e "$CAIRN_ROOT/snapshots/${bomb_diff#sha256:}"
check "... no temp dirs left" no_tmp_left
expect_ok "... fsck passes" fsck
cp "$T/first.blob" "$data"

# Plain tar layers (push --compression-format none) stream too: pulled
# whole, and a corrupted one fails on its digest and leaves nothing.
export CAIRN_ROOT=$BUILT
expect_ok "push the image with uncompressed layers" push -q --compression-format none multi:gz "$REG/team/multi:tar"
export CAIRN_ROOT=$T/pulled-tar
expect_ok "pull the uncompressed image into an empty store" pull -q "$REG/team/multi:tar"
m=$(tag_digest "$REG/team/multi:tar")
check "... its layers are plain tars" test "$(jq -r '.layers[].mediaType' "$CAIRN_ROOT/blobs/sha256/${m#sha256:}" |
	sort -u)" = application/vnd.oci.image.layer.v1.tar
tar_layer=$(jq -r '.layers[-2].digest' "$CAIRN_ROOT/blobs/sha256/${m#sha256:}")
tar_diff=$(image_config "$REG/team/multi:tar" | jq -r '.rootfs.diff_ids[-2]')
check "... whose digests are their diff_ids" test "$tar_layer" = "$tar_diff"
snapshots_of "$REG/team/multi:tar" >"$T/got.tar"
check "... its snapshots are the gzip reference's (same tars)" cmp -s "$T/ref.gz" "$T/got.tar"
run_cairn run --rm "$REG/team/multi:tar" sha256sum /data/big
check "... it runs" test "$status" -eq 0 -a "$(cut -d' ' -f1 "$T/out")" = "$big_gz"
expect_ok "... fsck passes" fsck
check "... no temp dirs left" no_tmp_left
case $tar_layer in sha256:*) ;; *) fail "the uncompressed image has no layer digest"; finish ;; esac
data=$(blob_data "$tar_layer")
cp "$data" "$T/tar.blob"
printf 'XXXX' | dd of="$data" bs=1 seek=$(($(stat -c %s "$data") / 2)) conv=notrunc 2>/dev/null
export CAIRN_ROOT=$T/corrupted-tar
expect_fail "a pull of an uncompressed blob corrupted in the registry fails on its digest" 1 "content hashes to" \
	pull -q "$REG/team/multi:tar"
check "... nothing is tagged" expect_no_tag "$REG/team/multi:tar"
check "... the blob is not in the store" test ! -e "$CAIRN_ROOT/blobs/sha256/${tar_layer#sha256:}"
check "... nor a snapshot of it" test ! -e "$CAIRN_ROOT/snapshots/${tar_diff#sha256:}"
check "... no temp dirs left" no_tmp_left
expect_ok "... fsck passes" fsck
cp "$T/tar.blob" "$data"

# Ctrl-C while a layer unpacks after its download verified: the blob is
# kept (as when layers were unpacked after downloading), the next pull
# unpacks it without downloading it again. A 2 GiB file of zeros: its blob
# is smaller than the unpacker's first read, so the unpacker starts only
# once the download has verified, and writing it takes a while.
export CAIRN_ROOT=$BUILT
printf 'FROM busybox:latest\nRUN dd if=/dev/zero of=/zeros bs=1M count=2048 2>/dev/null\n' | buildfile "$T/zeros"
expect_ok "build an image with a 2 GiB file of zeros" build -q --compression zstd -t zeros:1 "$T/zeros"
expect_ok "push it" push -q zeros:1 "$REG/team/zeros:1"
m=$(tag_digest zeros:1)
z_layer=$(jq -r '.layers[-1].digest' "$BUILT/blobs/sha256/${m#sha256:}")
z_diff=$(image_config zeros:1 | jq -r '.rootfs.diff_ids[-1]')
check "... its blob is under 256 KiB" test "$(jq -r '.layers[-1].size' "$BUILT/blobs/sha256/${m#sha256:}")" -lt 262144
export CAIRN_ROOT=$T/interrupted
mkdir -p "$CAIRN_ROOT/tmp"
"$CAIRN" pull -q "$REG/team/zeros:1" >/dev/null 2>"$T/err" &
pid=$!
# Until the unpacker wrote 32 MiB (or the pull ended: then it fails below).
for _ in $(seq 3000); do
	kill -0 "$pid" 2>/dev/null || break
	[ "$(du -sk "$CAIRN_ROOT/tmp" 2>/dev/null | cut -f1)" -ge 32768 ] && break
	sleep 0.01
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
st=$?
check "Ctrl-C while a verified layer unpacks stops the pull (status $st)" test "$st" -eq 130
sed 's/^/#   /' "$T/err"
check "... nothing is tagged" expect_no_tag "$REG/team/zeros:1"
check "... the verified blob is kept" test -e "$CAIRN_ROOT/blobs/sha256/${z_layer#sha256:}"
check "... not its snapshot" test ! -e "$CAIRN_ROOT/snapshots/${z_diff#sha256:}"
check "... no temp dirs left" no_tmp_left
expect_ok "... fsck passes" fsck
start_proxy fwd || { fail "start the proxy"; finish; }
expect_ok "the pull again (through a proxy that logs requests)" pull -q --creds "$REG_USER:$REG_PASS" "$PROXY/team/zeros:1"
check "... does not download the kept blob again" test "$(grep -c "GET .*/blobs/$z_layer" "$PROXY_LOG")" -eq 0
check "... and has its snapshot" test -e "$CAIRN_ROOT/snapshots/${z_diff#sha256:}"
check "... no temp dirs left" no_tmp_left
stop_proxy

# A gzip layer whose CRC-32 is wrong, though its blob digest and diff_id
# match the bytes served: pull refuses it as fsck, load and docker do, so
# the store never holds a layer its own checks call corrupt.
push_blob() {   # FILE -> its digest, uploaded to team/badcrc
	local dg loc
	dg=sha256:$(sha256sum "$1" | cut -d' ' -f1)
	loc=$(curl -s -D - -o /dev/null -X POST "http://$REG/v2/team/badcrc/blobs/uploads/" | tr -d '\r' |
		sed -n 's/^[Ll]ocation: //p')
	case $loc in http*) ;; *) loc=http://$REG$loc ;; esac
	curl -s -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$1" \
		"$loc&digest=$dg" && echo "$dg"
}
mkdir -p "$T/crc/tree" && echo "checked" >"$T/crc/tree/f"
tar -C "$T/crc/tree" -cf "$T/crc/layer.tar" f
gzip -n -c "$T/crc/layer.tar" >"$T/crc/layer.tgz"
size=$(stat -c %s "$T/crc/layer.tgz")
crc=$(od -An -tu1 -j $((size - 8)) -N1 "$T/crc/layer.tgz" | tr -d ' ')
printf "$(printf '\\%03o' $(((crc + 1) % 256)))" | dd of="$T/crc/layer.tgz" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
layer=$(push_blob "$T/crc/layer.tgz")
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":{}}' \
	"$(sha256sum "$T/crc/layer.tar" | cut -d' ' -f1)" >"$T/crc/config.json"
config=$(push_blob "$T/crc/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
	"$config" "$(stat -c %s "$T/crc/config.json")" "$layer" "$size" >"$T/crc/manifest.json"
if [ -n "$layer" ] && [ -n "$config" ] && ! gzip -t "$T/crc/layer.tgz" 2>/dev/null &&
	curl -s -f -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary @"$T/crc/manifest.json" "http://$REG/v2/team/badcrc/manifests/1"; then
	export CAIRN_ROOT=$T/badcrc
	expect_fail "a gzip layer with a wrong CRC-32 (digests matching) is refused, naming it" 1 "$layer" \
		pull -q "$REG/team/badcrc:1"
	sed 's/^/#   /' "$T/err"
	check "... as a gzip error" grep -q "gzip" "$T/err"
	check "... nothing is tagged" expect_no_tag "$REG/team/badcrc:1"
	check "... no snapshot of it" test -z "$(ls "$CAIRN_ROOT/snapshots" 2>/dev/null)"
	check "... no temp dirs left" no_tmp_left
	expect_ok "... fsck passes" fsck
else
	fail "push an image whose gzip layer has a wrong CRC-32"
fi
stop_registry
finish
