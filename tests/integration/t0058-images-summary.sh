#!/bin/bash
# `cairn images` keeps what it derives from each manifest in a summary
# (cache/images): the listing is the same with and without it, with a
# damaged one (ignored and rebuilt), when a blob it names is gone (the
# image is unreadable, as without it), and prune's leftovers drop out of it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/platform.sh"

build_busybox || finish
for i in 1 2 3; do
	printf 'FROM busybox\nLABEL n=%d\nRUN echo %d > /f\n' "$i" "$i" | buildfile "$T/c$i"
	expect_ok "build img$i" build -q -t "img$i" "$T/c$i"
done
printf 'FROM busybox\nRUN echo again > /f\n' | buildfile "$T/c4"
expect_ok "build img1 again (its first value is untagged now)" build -q -t img1 "$T/c4"
sum=$CAIRN_ROOT/cache/images

# Every listing whose text does not move with the clock.
listings() {
	local f
	for f in "" "-a" "--digests" "--no-trunc" "--filter label=n=2" "--filter dangling=true"; do
		# shellcheck disable=SC2086
		"$CAIRN" images $f --format '{{.Repository}} {{.Tag}} {{.ID}} {{.Digest}} {{.CreatedAt}} {{.Size}}'
		# shellcheck disable=SC2086
		"$CAIRN" images -q $f
	done
	"$CAIRN" images --format json | sed 's/"CreatedSince":"[^"]*"//'
	"$CAIRN" images --filter since=img2 --format '{{.Repository}}'
}

rm -f "$sum"
listings >"$T/without" 2>&1
check "a listing writes the summary" test -s "$sum"
cp "$sum" "$T/good"
listings >"$T/with" 2>&1
check "the listings are the same read from the summary" cmp "$T/without" "$T/with"
check "with 4 images, 5 tags and a <none>" test "$(grep -c '^<none> <none> ' "$T/without")" -ge 1

for damage in flip torn garbage foreign; do
	case $damage in
	flip) python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[200]^=1; open(sys.argv[1],"wb").write(b)' "$sum" ;;
	torn) head -c 1000 "$T/good" >"$sum" ;;
	garbage) head -c 4096 /dev/urandom >"$sum" ;;
	foreign) sed '1s|.*|cairn-images 2 plan9/mips|' "$T/good" >"$sum" ;;
	esac
	listings >"$T/out.$damage" 2>&1
	check "a $damage summary: the same listings" cmp "$T/without" "$T/out.$damage"
	check "a $damage summary is rebuilt as it was" cmp "$T/good" "$sum"
done

# img3's config gone: unreadable, with the summary as without it.
cfg=$("$CAIRN" images --no-trunc --format '{{.ID}}' img3)
mv "$CAIRN_ROOT/blobs/sha256/${cfg#sha256:}" "$T/cfg"
"$CAIRN" images --format '{{.Repository}} {{.ID}} {{.Size}}' >"$T/gone.with" 2>&1
rm -f "$sum"
"$CAIRN" images --format '{{.Repository}} {{.ID}} {{.Size}}' >"$T/gone.without" 2>&1
check "a missing config: unreadable with the summary too" grep -q '^img3 <unreadable> (unreadable)' "$T/gone.with"
check "... the same listing as without it" cmp "$T/gone.without" "$T/gone.with"
mv "$T/cfg" "$CAIRN_ROOT/blobs/sha256/${cfg#sha256:}"

# img3's config damaged in place after a listing (same name): the summary
# sees its file changed and reads it, so img3 is unreadable as without it.
blob=$CAIRN_ROOT/blobs/sha256/${cfg#sha256:}
cp "$blob" "$T/cfg"
for damage in truncate replace; do
	"$CAIRN" images >/dev/null 2>&1
	check "before the $damage: the config is summarised" grep -q "^b ${cfg#sha256:} " "$sum"
	case $damage in
	truncate) truncate -s 10 "$blob" ;;
	replace) tr '{' '[' <"$T/cfg" >"$T/cfg.bad" && cat "$T/cfg.bad" >"$blob" ;;
	esac
	"$CAIRN" images --format '{{.Repository}} {{.ID}} {{.Size}}' >"$T/$damage.with" 2>&1
	rm -f "$sum"
	"$CAIRN" images --format '{{.Repository}} {{.ID}} {{.Size}}' >"$T/$damage.without" 2>&1
	check "a config damaged in place ($damage): unreadable with the summary too" \
		grep -q '^img3 <unreadable> (unreadable)' "$T/$damage.with"
	check "... the same listing as without it" cmp "$T/$damage.without" "$T/$damage.with"
	cat "$T/cfg" >"$blob"
done

# Multi-platform images: an index is summarised under its host child; one
# without the host's platform (listed by its first platform's image) is
# not summarised. The listings are the same with and without the summary,
# also when the host child's blob goes.
printf 'FROM scratch\nARG TARGETARCH\nCOPY f /f\nLABEL arch=$TARGETARCH\n' | buildfile "$T/cm"
echo hello >"$T/cm/f"
expect_ok "a two-platform build" build -q -t multi:1 --platform "linux/$host_arch,linux/$other" "$T/cm"
expect_ok "a build for two foreign platforms" build -q -t foreign:1 --platform linux/ppc64le,linux/s390x "$T/cm"
di=$(tag_digest multi:1)
mh=$(jq -r --arg a "$host_arch" '.manifests[] | select(.platform.architecture == $a) | .digest' \
	"$CAIRN_ROOT/blobs/sha256/${di#sha256:}")
fi=$(tag_digest foreign:1)
rm -f "$sum"
listings >"$T/multi.without" 2>&1
check "the index is summarised under its host child" grep -q "^m ${di#sha256:} ${mh#sha256:} " "$sum"
check "the index without the host's platform is not summarised" sh -c "! grep -q '^m ${fi#sha256:} ' '$sum'"
listings >"$T/multi.with" 2>&1
check "multi-platform: the listings are the same read from the summary" cmp "$T/multi.without" "$T/multi.with"
check "... the foreign index listed by its first platform's image" \
	sh -c "grep -qE '^foreign 1 [0-9a-f]{12} ' '$T/multi.with' && ! grep -q '^foreign.*unreadable' '$T/multi.with'"
mv "$CAIRN_ROOT/blobs/sha256/${mh#sha256:}" "$T/child"
listings >"$T/nochild.with" 2>&1
rm -f "$sum"
listings >"$T/nochild.without" 2>&1
check "the host child gone: the same listings with the summary as without" cmp "$T/nochild.without" "$T/nochild.with"
mv "$T/child" "$CAIRN_ROOT/blobs/sha256/${mh#sha256:}"

# A listing that cannot read all of a snapshot (here root without its
# capabilities, the snapshot another user's, as a rootless user listing a
# store of root's would be) gets a short size: it is not remembered for
# the next listing.
img2snap=$("$CAIRN" inspect --format '{{json .RootFS.Layers}}' img2 | jq -r '.[-1]')
snapdir=$CAIRN_ROOT/snapshots/${img2snap#sha256:}
rm -f "$sum"
"$CAIRN" images --format '{{.Repository}} {{.Size}}' >"$T/sizes.root" 2>&1
rm -f "$sum"
mode=$(stat -c %a "$snapdir")
chown nobody "$snapdir"
chmod 0700 "$snapdir"
nocaps_out=$(setpriv --inh-caps=-all --bounding-set=-all -- "$CAIRN" images --format '{{.Repository}} {{.Size}}' 2>&1)
chown root "$snapdir"
chmod "$mode" "$snapdir"
if [ -s "$sum" ]; then
	check "the summary of a listing that could not read a snapshot has no size for it" \
		sh -c "! grep -q '^s ${img2snap#sha256:} ' '$sum'"
	"$CAIRN" images --format '{{.Repository}} {{.Size}}' >"$T/sizes.after" 2>&1
	check "the next listing shows the sizes it shows without a summary" cmp "$T/sizes.root" "$T/sizes.after"
else
	skip "a listing without capabilities" "it wrote no summary: $nocaps_out"
fi

# prune --all removes the untagged image: its entry leaves the summary at
# prune, from a full summary (one no listing would rewrite).
"$CAIRN" images -a >/dev/null 2>&1
cp "$sum" "$T/full"
"$CAIRN" images -a >/dev/null 2>&1
check "the summary is full (a listing leaves it as it is)" cmp "$T/full" "$sum"
old=$("$CAIRN" images --digests --filter dangling=true --format '{{.Digest}}' | head -1)
check "the untagged image is summarized" grep -q "^m ${old#sha256:} " "$sum"
expect_ok "prune --all" prune --all
check "... and its entry is gone from the summary after prune" sh -c "! grep -q '^m ${old#sha256:} ' '$sum'"
check "... with the blobs and sizes of what prune removed" python3 -c '
import os, sys
root = sys.argv[1]
for line in open(sys.argv[2]):
    f = line.split()
    if f[0] in ("m", "b") and not os.path.exists(root + "/blobs/sha256/" + f[1]):
        sys.exit("blob " + f[1] + " is gone, its line stays")
    if f[0] == "s" and not os.path.isdir(root + "/snapshots/" + f[1]):
        sys.exit("snapshot " + f[1] + " is gone, its size stays")
' "$CAIRN_ROOT" "$sum"
"$CAIRN" images -a --format '{{.Repository}} {{.ID}} {{.Size}}' >"$T/pruned.with" 2>&1
rm -f "$sum"
"$CAIRN" images -a --format '{{.Repository}} {{.ID}} {{.Size}}' >"$T/pruned.without" 2>&1
check "after prune: the same listing with and without the summary" cmp "$T/pruned.without" "$T/pruned.with"
check "no temp file left" sh -c "! ls -a '$CAIRN_ROOT/cache' | grep -q '^\.images\.tmp'"
expect_ok "fsck is content with the summary" fsck
finish
