#!/bin/bash
# libcurl and libarchive are loaded when first used (src/util/lazylib.h).
# When one cannot be loaded (hidden here by a bind mount of /dev/null over
# it in a private mount namespace), the command that needs it fails with an
# error naming the library, status 1: no core dump (134), no loader exit
# (127), no "Cannot allocate memory".
. "$(dirname "$0")/lib.sh"

lib_path() {    # SONAME: the file the loader would map
	ldconfig -p | awk -v s="$1" '$1 == s && $NF ~ /^\// {print $NF; exit}' | xargs -r readlink -f
}

# hide SONAME...: $CAIRN runs with those libraries unloadable, until unhide.
real_cairn=$CAIRN
hide() {
	local so lib mounts=""
	for so; do
		lib=$(lib_path "$so")
		[ -n "$lib" ] || return 1
		mounts="$mounts mount --bind /dev/null '$lib' &&"
	done
	cat >"$T/hidden-cairn" <<SH
#!/bin/sh
exec unshare -m sh -c "$mounts"' exec "\$@"' sh "$real_cairn" "\$@"
SH
	chmod +x "$T/hidden-cairn"
	CAIRN=$T/hidden-cairn
}
unhide() { CAIRN=$real_cairn; }

if ! command -v unshare >/dev/null; then
	skip "library load failures" "no unshare"
	finish
fi

ctx=$T/url
printf 'FROM scratch\nADD http://127.0.0.1:9/file.txt /f\n' | buildfile "$ctx"
if hide libcurl.so.4; then
	expect_fail "ADD <url> without libcurl: an error naming it, status 1" 1 \
		"ADD: 'http://127.0.0.1:9/file.txt': libcurl cannot be loaded" build "$ctx"
	check "... and no core dump" test "$status" -ne 134
	expect_fail "a build context from a URL without libcurl: the same error" 1 \
		"'http://127.0.0.1:9/ctx.tar': libcurl cannot be loaded" build http://127.0.0.1:9/ctx.tar
	expect_fail "pull without libcurl: the same error" 1 "libcurl cannot be loaded" pull 127.0.0.1:9/none:1
	check "... and no 'Cannot allocate memory'" sh -c "! grep -q 'allocate memory' '$T/err'"
	unhide
else
	skip "ADD <url> without libcurl" "libcurl.so.4 not found by ldconfig"
fi
expect_fail "with libcurl, the same ADD fails on the connection instead" 1 "127.0.0.1" build "$ctx"
check "... not on loading libcurl" sh -c "! grep -q 'cannot be loaded' '$T/err'"

ctx=$T/arch
mkdir -p "$ctx/tree"
echo one >"$ctx/tree/one.txt"
tar -C "$ctx/tree" -cf "$ctx/t.tar" one.txt
printf 'FROM scratch\nADD t.tar /x/\n' | buildfile "$ctx"
if hide libarchive.so.13; then
	# Loaded before the sandbox's child is cloned (copystep.c), so the
	# error is the build's, not a child's loader exit.
	expect_fail "ADD of a local archive without libarchive: an error naming it, status 1" 1 \
		"libarchive cannot be loaded" build "$ctx"
	unhide
else
	skip "ADD of an archive without libarchive" "libarchive.so.13 not found by ldconfig"
fi
expect_ok "with libarchive, the archive is added" build -t arch:1 "$ctx"

# One reason per library: with libcurl and libnftables both missing, the
# network's error names libnftables, never libcurl's failure.
if ! build_busybox; then
	:
elif hide libcurl.so.4 libnftables.so.1; then
	run_cairn run --rm --network bridge busybox true
	check "run --network bridge without libnftables: an error naming it" \
		sh -c "[ $status -ne 0 ] && grep -q 'nftables: cannot create a context: .*libnftables' '$T/err'"
	check "... not libcurl" sh -c "! grep -q libcurl '$T/err'"
	unhide
else
	skip "run without libnftables" "libnftables.so.1 not found by ldconfig"
fi

# The build's network is set up by the first RUN step that runs on it: a
# rebuild served from the cache, or a build with --network none, works on a
# host where nftables cannot be used (and costs no nftables commit).
ctx=$T/net
printf 'FROM busybox:latest\nRUN echo one >/one\n' | buildfile "$ctx"
if ! build_busybox; then
	:
elif ! expect_ok "a build with a RUN step on the default network" build -q -t net:1 "$ctx"; then
	:
elif hide libnftables.so.1; then
	expect_ok "without libnftables, its rebuild comes from the cache" build -q -t net:1 "$ctx"
	expect_ok "... and a new step with --network none runs" build -q --network none -t net:2 "$ctx"
	printf 'FROM busybox:latest\nRUN echo one >/one\nRUN echo two >/two\n' | buildfile "$ctx"
	expect_fail "a new step on the default network fails, naming libnftables and the step" 1 \
		"libnftables" build -q -t net:3 "$ctx"
	check "... at the RUN line that needed it" grep -q "Buildfile:3" "$T/err"
	unhide
else
	skip "a cached build without libnftables" "libnftables.so.1 not found by ldconfig"
fi

finish
