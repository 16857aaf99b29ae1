#!/bin/bash
# SOURCE_DATE_EPOCH / --timestamp: two empty stores, the same inputs, the
# same manifest digest; for zstd and for gzip.
. "$(dirname "$0")/lib.sh"

epoch=1700000000
ctx=$T/repro
mkdir -p "$ctx/files"
echo "content" >"$ctx/files/a.txt"
touch -d @1600000000 "$ctx/files/a.txt"
buildfile "$ctx" <<'EOF2'
FROM busybox
COPY files/ /files/
RUN mkdir -p /out/dir && echo built > /out/dir/f && ln -s dir/f /out/link && rm /bin/vi
WORKDIR /work
ENV MODE=repro
CMD ["cat", "/out/dir/f"]
EOF2

install -m 0755 /bin/busybox "$REPO_DIR/examples/busybox/busybox"
build_in() {   # STORE COMPRESSION [extra args]
	local store=$1 comp=$2; shift 2
	CAIRN_ROOT=$store SOURCE_DATE_EPOCH=$epoch "$CAIRN" build -q --compression "$comp" -t busybox:latest "$REPO_DIR/examples/busybox" >/dev/null 2>&1 &&
		CAIRN_ROOT=$store "$CAIRN" build -q --compression "$comp" "$@" -t repro:1 "$ctx" >/dev/null 2>&1 &&
		CAIRN_ROOT=$store tag_digest repro:1
}
for comp in zstd gzip; do
	a=$(SOURCE_DATE_EPOCH=$epoch build_in "$T/a-$comp" "$comp")
	sleep 1.1   # a different wall clock second for the second build
	b=$(build_in "$T/b-$comp" "$comp" --timestamp "$epoch")
	check "$comp: a build succeeded" test -n "$a"
	check "$comp: two clean stores give the same manifest digest" test -n "$a" -a "$a" = "$b"
	export CAIRN_ROOT=$T/a-$comp
	cfg=$(image_config repro:1)
	check "$comp: config created is the epoch" test "$(jq -r .created <<<"$cfg")" = "2023-11-14T22:13:20Z"
	check "$comp: every history row has the epoch" test "$(jq -r '[.history[].created] | unique | join(",")' <<<"$cfg")" = "2023-11-14T22:13:20Z"
	m=$CAIRN_ROOT/blobs/sha256/$(tag_digest repro:1 | cut -d: -f2)
	newest=0
	for l in $(jq -r '.layers[].digest' "$m" | cut -d: -f2); do
		if [ "$comp" = zstd ]; then dec="zstd -dc"; else dec="gzip -dc"; fi
		ts=$($dec "$CAIRN_ROOT/blobs/sha256/$l" | python3 -c 'import sys,tarfile
m=0
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    for e in t: m=max(m,int(e.mtime))
print(m)')
		[ "$ts" -gt "$newest" ] && newest=$ts
	done
	check "$comp: no file time in any layer is after the epoch" test "$newest" -le "$epoch"
done
a_old=$(CAIRN_ROOT=$T/a-zstd tag_digest repro:1)
check "zstd and gzip images differ (the layers do)" test "$a_old" != "$(CAIRN_ROOT=$T/a-gzip tag_digest repro:1)"
export CAIRN_ROOT=$T/store
finish
