#!/bin/bash
# A rebuild that adds one file to a big context (a stat cache over 4 MiB)
# writes the stat cache's small recent level, not the whole cache file,
# and the layers stay what hashing every file gives: files from both
# levels hit, and a damaged recent level only costs hashing again.
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null; then
	skip "stat cache recent level" "python3 is missing (makes the context)"
	finish
fi
ctx=$T/big
# 40,000 small files (about 6 MiB of stat cache entries), 1,000 a directory.
python3 - "$ctx" <<'EOF2'
import os, sys
for i in range(40000):
    d = os.path.join(sys.argv[1], "d%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("%d\n" % i)
EOF2
buildfile "$ctx" <<'EOF2'
FROM scratch
COPY . /ctx
EOF2
sleep 2.2       # files are recorded once over 2 s old

layer_of() { image_config "$1" | jq -r '.rootfs.diff_ids | join(",")'; }
build() {
	local tag=$1; shift
	SOURCE_DATE_EPOCH=1700000000 "$CAIRN" build -q "$@" -t "$tag" "$ctx" >"$T/out" 2>"$T/err" ||
		sed 's/^/#   /' "$T/err"
}
ino() { stat -c %i "$1" 2>/dev/null; }
stat=$CAIRN_ROOT/cache/stat
recent=$CAIRN_ROOT/cache/stat.recent

build cold:1
size=$(stat -c %s "$stat")
check "the cold build writes a stat cache over 4 MiB" test "$size" -ge $((4 << 20))
check "…and no recent level" test ! -e "$recent"
main_ino=$(ino "$stat")

echo new >"$ctx/d000/new"
sleep 2.2
build one:1
check "a rebuild with one new file leaves the stat cache file alone" test "$(ino "$stat")" = "$main_ino"
check "…and writes the recent level" test -s "$recent"
check "…a small one" test "$(stat -c %s "$recent")" -lt $((size / 8))
recent_ino=$(ino "$recent")

build again:1 --no-cache
check "files from both levels give the same layer" test "$(layer_of again:1)" = "$(layer_of one:1)"
check "…all hit: nothing is rewritten" \
	test "$(ino "$stat")" = "$main_ino" -a "$(ino "$recent")" = "$recent_ino"

rsize=$(stat -c %s "$recent")
printf 'X' | dd of="$recent" bs=1 seek=$((rsize / 2)) conv=notrunc status=none
build damaged:1 --no-cache
check "a damaged recent level gives the same layer" test "$(layer_of damaged:1)" = "$(layer_of one:1)"

rm -f "$stat" "$recent"
build nocache:1 --no-cache
check "…the same as without a stat cache" test "$(layer_of nocache:1)" = "$(layer_of one:1)"

finish
