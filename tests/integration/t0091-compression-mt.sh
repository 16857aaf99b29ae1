#!/bin/bash
# zstd and gzip layers compressed on worker threads are the same bytes
# whatever the number of workers (CAIRN_ZSTD_WORKERS / CAIRN_GZIP_WORKERS 1,
# 2, 8): the same manifest digest from clean stores with SOURCE_DATE_EPOCH /
# --timestamp, on layers larger than several zstd jobs (and many gzip
# blocks); gzip -t, tar and cairn itself read the gzip layers back. --compression-level changes the blobs, not the
# content (diff_ids), keys the cache, and is range-checked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

epoch=1700000000
ctx=$T/mt
mkdir -p "$ctx"
# 12 MiB, half text, half noise, from a fixed seed: 3 zstd jobs and more.
python3 - "$ctx/big" <<'EOF2'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for i in range(192):
        f.write(r.randbytes(32768) if i % 2 else (b"the quick brown fox %d\n" % i) * 1365 + b"x" * 32768)
EOF2
touch -d @1600000000 "$ctx/big"
buildfile "$ctx" <<'EOF2'
FROM busybox
COPY big /big
RUN cat /big /big > /big2 && echo done > /done
EOF2

install -m 0755 /bin/busybox "$REPO_DIR/examples/busybox/busybox"
build_in() {   # STORE COMPRESSION WORKERS [extra args]
	local store=$1 c=$2 w=$3; shift 3
	export CAIRN_ROOT=$store CAIRN_ZSTD_WORKERS=$w CAIRN_GZIP_WORKERS=$w
	SOURCE_DATE_EPOCH=$epoch "$CAIRN" build -q --compression "$c" \
		-t busybox:latest "$REPO_DIR/examples/busybox" >"$T/bb.out" 2>&1 &&
		"$CAIRN" build -q --compression "$c" --timestamp $epoch "$@" -t mt:1 "$ctx" >"$T/mt.out" 2>&1 &&
		tag_digest mt:1
}
d1=$(build_in "$T/s1" zstd 1)
d2=$(build_in "$T/s2" zstd 2)
d8=$(build_in "$T/s8" zstd 8)
check "a zstd build with 1 worker" test -n "$d1"
check "2 workers: the same manifest digest as 1" test -n "$d2" -a "$d2" = "$d1"
check "8 workers: the same manifest digest as 1" test -n "$d8" -a "$d8" = "$d1"
m=$T/s1/blobs/sha256/${d1#sha256:}
big=$(jq -r '.layers[-1].digest' "$m")
check "the RUN layer is bigger than 3 zstd jobs of tar" \
	test "$(zstd -dc "$T/s1/blobs/sha256/${big#sha256:}" | wc -c)" -gt $((12 << 20))
check "zstd -t reads every layer" sh -c "for l in \$(jq -r '.layers[].digest' '$m' | cut -d: -f2); do zstd -tq '$T/s1/blobs/sha256/'\$l || exit 1; done"

# gzip: blocks deflated on workers, the same bytes for any count.
g1=$(build_in "$T/g1" gzip 1)
g2=$(build_in "$T/g2" gzip 2)
g8=$(build_in "$T/g8" gzip 8)
check "a gzip build with 1 worker" test -n "$g1"
check "gzip, 2 workers: the same manifest digest as 1" test -n "$g2" -a "$g2" = "$g1"
check "gzip, 8 workers: the same manifest digest as 1" test -n "$g8" -a "$g8" = "$g1"
gm=$T/g1/blobs/sha256/${g1#sha256:}
check "the gzip layers have gzip's media type" \
	test "$(jq -r '[.layers[].mediaType] | unique | join(",")' "$gm")" = "application/vnd.oci.image.layer.v1.tar+gzip"
check "gzip -t reads every layer" sh -c "for l in \$(jq -r '.layers[].digest' '$gm' | cut -d: -f2); do gzip -tq '$T/g1/blobs/sha256/'\$l || exit 1; done"
gbig=$T/g1/blobs/sha256/$(jq -r '.layers[-1].digest' "$gm" | cut -d: -f2)
check "tar lists the gzip RUN layer" sh -c "tar tzf '$gbig' | grep -qx big2"
check "the gzip and zstd builds hold the same tars (diff_ids)" test \
	"$(CAIRN_ROOT=$T/g1 image_config mt:1 | jq -c .rootfs.diff_ids)" = \
	"$(CAIRN_ROOT=$T/s1 image_config mt:1 | jq -c .rootfs.diff_ids)"
CAIRN_ROOT=$T/g1 expect_ok "cairn exports the gzip image's root" export mt:1 "$T/groot"
check "its /big2 is /big twice" test "$(cat "$ctx/big" "$ctx/big" | sha256sum)" = "$(sha256sum <"$T/groot/big2")"
unset CAIRN_ZSTD_WORKERS CAIRN_GZIP_WORKERS

# Levels: other blobs, the same content, their own cache entries.
export CAIRN_ROOT=$T/s1
diff_ids() { image_config "$1" | jq -c .rootfs.diff_ids; }
expect_ok "build --compression-level 9" build -q --compression zstd --compression-level 9 --timestamp $epoch -t mt:9 "$ctx"
d9=$(tag_digest mt:9)
check "level 9: another manifest digest" test -n "$d9" -a "$d9" != "$d1"
check "level 9: the same diff_ids" test "$(diff_ids mt:9)" = "$(diff_ids mt:1)"
s_of() { jq '[.layers[].size] | add' "$CAIRN_ROOT/blobs/sha256/${1#sha256:}"; }
check "level 9: smaller layers than the default" test "$(s_of "$d9")" -lt "$(s_of "$d1")"
expect_ok "the default level again" build -q --compression zstd --timestamp $epoch -t mt:again "$ctx"
check "the default level again: the first build's digest (cache or not)" test "$(tag_digest mt:again)" = "$d1"
expect_ok "gzip --compression-level 1" build -q --compression gzip --compression-level 1 --timestamp $epoch -t mt:g1 "$ctx"
expect_ok "gzip at its default level" build -q --compression gzip --timestamp $epoch -t mt:g "$ctx"
check "gzip levels 1 and 6: other digests, the same diff_ids" sh -c \
	"test '$(tag_digest mt:g1)' != '$(tag_digest mt:g)' && test '$(diff_ids mt:g1)' = '$(diff_ids mt:1)'"

expect_fail "gzip level 10 is refused" 2 "gzip takes 1-9" build --compression gzip --compression-level 10 "$ctx"
expect_fail "zstd level 23 is refused" 2 "not a level" build --compression zstd --compression-level 23 "$ctx"
expect_fail "a level that is no number is refused" 2 "not a level" build --compression-level fast "$ctx"
expect_fail "push --compression-level without a format is refused" 2 "needs --compression-format" \
	push --compression-level 3 mt:1 localhost:5000/x:1
expect_fail "pull --compression-level is refused" 2 "push only" pull --compression-level 3 localhost:5000/x:1

# save / export: the level of what they compress.
layers_of() { tar -xOf "$1" manifest.json | jq -r '.[0].Layers | join(",")'; }
expect_ok "save of a zstd image (its layers converted to gzip)" save -o "$T/s6.tar" mt:1
expect_ok "save --compression-level 1" save --compression-level 1 -o "$T/s1.tar" mt:1
check "save --compression-level 1: other layer blobs than the default level" \
	test "$(layers_of "$T/s1.tar")" != "$(layers_of "$T/s6.tar")"
expect_ok "save --compression-level 1 again" save --compression-level 1 -o "$T/s1b.tar" mt:1
check "save --compression-level 1 again: the same archive" cmp -s "$T/s1.tar" "$T/s1b.tar"
expect_fail "save: gzip level 12 is refused" 2 "gzip takes 1-9" save --compression-level 12 -o "$T/x.tar" mt:1
expect_ok "export rootfs-tar zstd level 1" export --format rootfs-tar --compression-format zstd --compression-level 1 mt:1 "$T/r1.tar.zst"
expect_ok "export rootfs-tar zstd level 12" export --format rootfs-tar --compression-format zstd --compression-level 12 mt:1 "$T/r12.tar.zst"
check "export rootfs-tar: level 12 is smaller than level 1" \
	test "$(stat -c %s "$T/r12.tar.zst")" -lt "$(stat -c %s "$T/r1.tar.zst")"
check "export rootfs-tar: both hold the same tar" \
	test "$(zstd -dc "$T/r1.tar.zst" | sha256sum)" = "$(zstd -dc "$T/r12.tar.zst" | sha256sum)"
# push: the level of the conversion, remembered apart from other levels.
if start_registry none; then
	expect_ok "push --compression-format gzip --compression-level 1" \
		push --cert-dir "$REG_CERTS" --compression-format gzip --compression-level 1 mt:1 "$REG/lv/mt:1"
	skopeo inspect --raw --cert-dir "$REG_CERTS" "docker://$REG/lv/mt:1" >"$T/remote.json" 2>"$T/sk.err"
	check "the pushed layers are save --compression-level 1's (the same level-1 conversions)" \
		test "$(jq -r '[.layers[].digest | sub("sha256:"; "blobs/sha256/")] | join(",")' "$T/remote.json")" = \
		"$(layers_of "$T/s1.tar")"
	expect_fail "push: gzip level 10 is refused" 2 "gzip takes 1-9" \
		push --cert-dir "$REG_CERTS" --compression-format gzip --compression-level 10 mt:1 "$REG/lv/mt:2"
else
	fail "start the registry"
fi
expect_fail "export rootfs (nothing compressed) refuses a level" 2 "applies to" \
	export --compression-level 3 mt:1 "$T/dir"
expect_fail "export oci-archive without a format refuses a level" 2 "applies to" \
	export --format oci-archive --compression-level 3 mt:1 "$T/o.tar"
export CAIRN_ROOT=$T/store
finish
