#!/bin/bash
# COPY/ADD --exclude (patterns relative to the source, in the cache key),
# COPY --parents (paths kept from the context or a /./ marker) and --link
# (the layer made on an empty root, same files in the image).
. "$(dirname "$0")/lib.sh"

build_busybox || finish
step_cached() { grep -A1 "^STEP $1/" "$T/out" | grep -q -- '--> CACHED'; }
step_not_cached() { ! step_cached "$1"; }
ctx=$T/flags
mkdir -p "$ctx/app/sub" "$ctx/app/tmp" "$ctx/x" "$ctx/y" "$ctx/src/app/lib"
echo main >"$ctx/app/main.c"
echo log >"$ctx/app/debug.log"
echo deep >"$ctx/app/sub/deep.log"
echo keep >"$ctx/app/sub/keep.c"
echo t >"$ctx/app/tmp/t.o"
echo readme >"$ctx/app/README.md"
echo notes >"$ctx/app/NOTES.md"
echo h1 >"$ctx/home.txt"
echo h2 >"$ctx/homer.sh"
echo a >"$ctx/x/a.txt"
echo b >"$ctx/y/b.txt"
echo c >"$ctx/x/c.txt"
echo lib >"$ctx/src/app/lib/l.c"
cat >"$ctx/Buildfile" <<'EOF'
FROM busybox
ARG PAT=*.log
COPY --exclude=$PAT --exclude=tmp/ --exclude=*.md --exclude=!README.md app /e1/
COPY --exclude=**/*.log app /e2/
COPY --exclude=*.txt hom* /e3/
COPY --parents x/a.txt y/b.txt /p1/
COPY --parents ./src/./app/lib/l.c /p2/
COPY --parents */c.txt /p3/
COPY --parents x /p4/
ADD --exclude=sub app /e4/
EOF
expect_ok "a build with --exclude and --parents" build -t flags:1 "$ctx"
unpack_with_umoci flags:1 "$T/u"
r=$T/u/rootfs
check "--exclude: a pattern and a variable in it" test ! -e "$r/e1/debug.log" -a -f "$r/e1/main.c"
check "--exclude: relative to the source (*.log matches at its top only)" test -f "$r/e1/sub/deep.log"
check "--exclude: a directory" test ! -e "$r/e1/tmp"
check "--exclude: an exception brings one back" test -f "$r/e1/README.md" -a ! -e "$r/e1/NOTES.md"
check "--exclude: **/ at any depth" test ! -e "$r/e2/sub/deep.log" -a ! -e "$r/e2/debug.log" -a -f "$r/e2/sub/keep.c"
check "--exclude filters what a wildcard matched" test ! -e "$r/e3/home.txt" -a -f "$r/e3/homer.sh"
check "ADD --exclude" test ! -e "$r/e4/sub" -a -f "$r/e4/main.c"
check "--parents keeps the context path" test "$(cat "$r/p1/x/a.txt")" = a -a "$(cat "$r/p1/y/b.txt")" = b
check "--parents below the /./ marker" test "$(cat "$r/p2/app/lib/l.c")" = lib -a ! -e "$r/p2/src"
check "--parents with a wildcard" test "$(cat "$r/p3/x/c.txt")" = c -a ! -e "$r/p3/y"
check "--parents with a directory keeps its name" test -f "$r/p4/x/a.txt" -a -f "$r/p4/x/c.txt"

expect_ok "rebuild" build -t flags:1 "$ctx"
check "every step cached" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 8
echo changed >"$ctx/app/debug.log"
echo changed >"$ctx/app/NOTES.md"
expect_ok "rebuild after editing files only the first COPY excludes" build -t flags:2 "$ctx"
check "the step whose exclusions hide the change stays cached" step_cached 3
check "the next one, which copies them, reruns" step_not_cached 4
expect_ok "rebuild with another exclusion" build --build-arg PAT=*.c -t flags:3 "$ctx"
check "the exclusion is in the cache key" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 0
unpack_with_umoci flags:3 "$T/u3"
check "and the new exclusion applies" test -f "$T/u3/rootfs/e1/debug.log" -a ! -e "$T/u3/rootfs/e1/main.c"
echo more >"$ctx/app/main.c"
expect_ok "rebuild after editing a copied file" build -t flags:4 "$ctx"
check "the step copying it reruns" step_not_cached 3

# --link: the same files, in a layer made on an empty root.
mkdir -p "$T/link"
echo linked >"$T/link/f.txt"
printf 'FROM busybox\nCOPY --link --chown=daemon:users f.txt /etc/app/f.txt\nCOPY --link f.txt /opt/\n' | buildfile "$T/link"
expect_ok "COPY --link" build -t link:1 "$T/link"
printf 'FROM busybox\nCOPY --chown=daemon:users f.txt /etc/app/f.txt\nCOPY f.txt /opt/\n' >"$T/link/Buildfile"
expect_ok "the same without --link" build -t nolink:1 "$T/link"
unpack_with_umoci link:1 "$T/l1"
unpack_with_umoci nolink:1 "$T/l2"
check "--link: the file, owned by the names from the image" test "$(stat -c %U:%G "$T/l1/rootfs/etc/app/f.txt")" = "$(stat -c %U:%G "$T/l2/rootfs/etc/app/f.txt")" -a "$(stat -c %u:%g "$T/l1/rootfs/etc/app/f.txt")" = 1:100
check "--link: the same tree as without" diff -r "$T/l1/rootfs" "$T/l2/rootfs"
layer=$(jq -r '.layers[-2].digest' "$CAIRN_ROOT/blobs/sha256/$(tag_digest link:1 | cut -d: -f2)")
check "--link: its layer holds only the new paths" test "$(gzip -dc "$CAIRN_ROOT/blobs/sha256/${layer#sha256:}" | tar -t | sort | tr '\n' ' ')" = "etc/ etc/app/ etc/app/f.txt "
printf 'FROM scratch\nCOPY --link --chown=5:6 f.txt /x/\n' >"$T/link/Buildfile"
expect_ok "COPY --link --chown on scratch" build -t link:2 "$T/link"
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
