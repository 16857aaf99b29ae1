#!/bin/bash
# The builder's pieces after the split of build.c: parallel stage workers
# keep their stat-cache updates; cache-mount directories are a store area
# that df counts, prune removes and fsck accepts.
. "$(dirname "$0")/lib.sh"

# The number of entries the stat cache file holds (u64 LE at offset 16).
statcache_count() {
	od -An -t u8 -j 16 -N 8 "$CAIRN_ROOT/cache/stat" 2>/dev/null | tr -d ' '
}

build_busybox || finish
ctx=$T/par
mkdir -p "$ctx"
for s in a b c d; do echo "$s" >"$ctx/$s"; done
# Changed (mtime and ctime) over 2s ago: the stat cache records them.
sleep 2.1
cat >"$ctx/Buildfile" <<'EOF'
FROM busybox AS a
COPY a /a
FROM busybox AS b
COPY b /b
FROM busybox AS c
COPY c /c
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
COPY d /d
EOF
rm -f "$CAIRN_ROOT/cache/stat"
expect_ok "a four-stage build, -j1" build -j 1 "$ctx"
check "-j1: the stat cache holds all four files" test "$(statcache_count)" = 4
rm -f "$CAIRN_ROOT/cache/stat"
expect_ok "a four-stage build, -j4" build --no-cache -j 4 "$ctx"
check "-j4: the workers' stat-cache entries are saved too" test "$(statcache_count)" = 4

# Cache mounts: a store area.
mkdir -p "$T/cm"
cat >"$T/cm/Buildfile" <<'EOF'
FROM busybox
RUN --mount=type=cache,target=/c,id=big dd if=/dev/zero of=/c/blob bs=1024 count=2048 2>/dev/null && echo wrote
EOF
expect_ok "a build with a cache mount" build "$T/cm"
check "the cache mount lives in the store" test -n "$(ls -A "$CAIRN_ROOT/mounts" 2>/dev/null)"
expect_ok "df" df
check "df shows the cache mounts and their size" grep -qE '^Cache mounts +1 +2\.[0-9]+ MB' "$T/out"
expect_ok "fsck" fsck
check "fsck does not report the cache mount" test -z "$(grep -i mount "$T/out" "$T/err")"
expect_ok "prune" prune
check "prune says it removed the cache mount" grep -q '1 cache mounts' "$T/out"
check "prune removed the cache mount" test -z "$(ls -A "$CAIRN_ROOT/mounts" 2>/dev/null)"
expect_ok "df after prune" df
check "df counts no cache mount" grep -qE '^Cache mounts +0 ' "$T/out"
expect_ok "the cache mount is made again" build --no-cache "$T/cm"
check "no temp dir left" no_tmp_left
check "no mounts left" no_mounts_left
check "store consistent" store_is_consistent
finish
