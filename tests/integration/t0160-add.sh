#!/bin/bash
# ADD: local tar archives (plain, gzip, zstd) are unpacked into DEST, other
# sources are copied as COPY copies them; a hostile archive cannot write
# outside the image. (bzip2, xz and URLs: t0620.)
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/add
mkdir -p "$ctx/tree/sub"
echo a >"$ctx/tree/a.txt"
echo b >"$ctx/tree/sub/b.txt"
chmod 0751 "$ctx/tree/sub"
(cd "$ctx/tree" && tar --owner=7 --group=8 -czf ../app.tar.gz . && tar -cf ../plain.tar a.txt &&
	tar -cf - sub | zstd -q >../app.tar.zst)
echo "just a file" >"$ctx/notes.txt"
printf 'FROM busybox\nADD app.tar.gz /opt/app/\nADD app.tar.zst plain.tar notes.txt /opt/more/\n' | buildfile "$ctx"
expect_ok "ADD archives and a file" build -t add:1 "$ctx"
unpack_with_umoci add:1 "$T/u"
r=$T/u/rootfs/opt
check "a gzip tar is unpacked" test "$(cat "$r/app/a.txt")" = a -a "$(cat "$r/app/sub/b.txt")" = b
check "modes and numeric owners from the tar are kept" test "$(stat -c %a:%u:%g "$r/app/sub")" = 751:7:8
check "a zstd tar is unpacked" test "$(cat "$r/more/sub/b.txt")" = b
check "a plain tar is unpacked" test "$(cat "$r/more/a.txt")" = a
check "a file that is not an archive is copied" test "$(cat "$r/more/notes.txt")" = "just a file"
check "archives themselves are not copied" test ! -e "$r/app/app.tar.gz" -a ! -e "$r/more/plain.tar"

expect_ok "rebuild" build -t add:1 "$ctx"
check "ADD steps are cached" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 2
(cd "$ctx/tree" && echo changed >a.txt && tar -czf ../app.tar.gz .)
expect_ok "rebuild after the archive changed" build -t add:2 "$ctx"
check "the ADD of the changed archive (and what follows) reruns" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 0

# Sources in the order written: a later one overwrites an earlier one.
mkdir -p "$T/order/t"
echo from-tar >"$T/order/t/notes.txt"
(cd "$T/order/t" && tar -cf ../a.tar notes.txt)
echo from-file >"$T/order/notes.txt"
printf 'FROM busybox\nADD notes.txt a.tar /d/\nADD a.tar notes.txt /e/\n' | buildfile "$T/order"
expect_ok "ADD a file and an archive holding the same name" build -t order:1 "$T/order"
unpack_with_umoci order:1 "$T/o"
check "the archive written last wins" test "$(cat "$T/o/rootfs/d/notes.txt")" = from-tar
check "the file written last wins" test "$(cat "$T/o/rootfs/e/notes.txt")" = from-file
printf 'FROM busybox\nADD missing.txt /x\n' | buildfile "$T/order"
expect_fail "ADD errors name ADD once" 1 "Buildfile:2: ADD: 'missing.txt': no such file" build "$T/order"

# A hostile archive: names climbing out, a symlink then a write through it.
python3 - "$T/evil" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1] + ".tar", "w") as t:
    i = tarfile.TarInfo("link"); i.type = tarfile.SYMTYPE; i.linkname = "/tmp"; t.addfile(i)
    data = b"pwned\n"
    i = tarfile.TarInfo("link/cairn-add-escape"); i.size = len(data); t.addfile(i, io.BytesIO(data))
PY
mkdir -p "$T/evilctx" && mv "$T/evil.tar" "$T/evilctx/"
printf 'FROM busybox\nADD evil.tar /x/\n' | buildfile "$T/evilctx"
rm -f /tmp/cairn-add-escape
run_cairn build -t evil:1 "$T/evilctx"
check "a write through an archive's symlink never reaches the host" test ! -e /tmp/cairn-add-escape
if [ "$status" -eq 0 ]; then
	unpack_with_umoci evil:1 "$T/e"
	check "it lands inside the image" test -f "$T/e/rootfs/tmp/cairn-add-escape" -o -f "$T/e/rootfs/x/link/cairn-add-escape"
fi
python3 - "$T/evilctx/dots.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"x\n"
    i = tarfile.TarInfo("../../../../tmp/cairn-add-dots"); i.size = len(data); t.addfile(i, io.BytesIO(data))
PY
printf 'FROM busybox\nADD dots.tar /x/\n' | buildfile "$T/evilctx"
expect_fail "an archive entry climbing out with .. is refused, naming it" 1 "../../../../tmp/cairn-add-dots" build -t evil:2 "$T/evilctx"
check "and nothing was written outside" test ! -e /tmp/cairn-add-dots

check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
