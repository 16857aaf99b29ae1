#!/bin/bash
# The examples that need the Debian mirror: examples/debian (debootstrap,
# then ADD of the tar; the tar is cached in build/debian, so only the first
# run downloads) and examples/c-hello (gcc installed with apt-get in a build
# stage, the static binary run in a busybox image). About a minute the
# first time, 30 s with the tar cached. Skipped when debootstrap is missing
# or, with no cached tar, the mirror cannot be reached.
. "$(dirname "$0")/lib.sh"

cache=${DEBIAN_CACHE:-$REPO_DIR/build/debian}
tar=$cache/bookworm-minbase-$(dpkg --print-architecture)/rootfs.tar
reachable() { timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; }
if ! command -v debootstrap >/dev/null; then
	skip "examples/debian and examples/c-hello" "debootstrap is not installed"
	finish
fi
if [ ! -s "$tar" ] && ! reachable; then
	skip "examples/debian and examples/c-hello" "no cached rootfs.tar and deb.debian.org unreachable"
	finish
fi

# examples/debian
if CAIRN=$CAIRN DEBIAN_CACHE=$cache "$REPO_DIR/examples/debian/build.sh" >"$T/debian.out" 2>&1; then
	pass "examples/debian/build.sh builds the base image"
else
	fail "examples/debian/build.sh builds the base image"
	sed 's/^/#   /' "$T/debian.out" | tail -20
	finish
fi
check "it is tagged debian:12 and debian:bookworm, the same image" \
	test -n "$(tag_digest debian:12)" -a "$(tag_digest debian:12)" = "$(tag_digest debian:bookworm)"
image_config debian:12 >"$T/debian.json"
check "config: LANG=C.UTF-8 and CMD bash" \
	jq -e '(.config.Env | index("LANG=C.UTF-8")) != null and .config.Cmd == ["bash"]' "$T/debian.json"
CAIRN=$CAIRN DEBIAN_CACHE=$cache "$REPO_DIR/examples/debian/build.sh" >"$T/debian2.out" 2>&1
check "a second run uses the cached tar and the build cache" \
	bash -c "! grep -q debootstrap '$T/debian2.out' && grep -q -- '--> CACHED' '$T/debian2.out' && ! grep -q -- '--> layer' '$T/debian2.out'"

unpack_with_umoci debian:12 "$T/deb"
r=$T/deb/rootfs
check "the rootfs is Debian 12" grep -qx 'VERSION_ID="12"' "$r/etc/os-release"
check "owners and modes from the tar are kept (/root 0700, wtmp group utmp)" \
	test "$(stat -c %u:%g:%a "$r/root") $(stat -c %g:%a "$r/var/log/wtmp")" = "0:0:700 $(awk -F: '$1 == "utmp" {print $3}' "$r/etc/group"):664"
check "no device nodes, host hostname or resolv.conf" \
	test -z "$(ls -A "$r/dev")" -a ! -e "$r/etc/hostname" -a ! -e "$r/etc/resolv.conf"
check "no debootstrap logs, downloaded .debs or package lists" \
	test -z "$(ls "$r"/var/log/*.log "$r"/var/cache/apt/archives/*.deb 2>/dev/null; find "$r/var/lib/apt/lists" -type f)" -a ! -e "$r/debootstrap"
check "apt sources: bookworm, updates and security" \
	grep -q '^Suites: bookworm bookworm-updates$' "$r/etc/apt/sources.list.d/debian.sources"
check "services are kept from starting in builds" test -x "$r/usr/sbin/policy-rc.d"

mkdir -p "$T/use"
cat >"$T/use/Buildfile" <<'BF'
FROM debian:12
RUN locale 2>&1; echo "lang=$LANG"; printf 'caf\303\251\n' | grep -c '^caf.$'
BF
expect_ok "a RUN step in debian:12" build -t use:1 "$T/use"
check "C.UTF-8 works with no locale warning" \
	bash -c "grep -q '^LC_CTYPE=\"C.UTF-8\"' '$T/out' && grep -qx 'lang=C.UTF-8' '$T/out' && grep -qx 1 '$T/out' && ! grep -qi 'cannot set' '$T/out'"

# examples/c-hello
build_busybox || finish
expect_ok "examples/c-hello builds (gcc from the mirror, binary on busybox)" build -t c-hello:1 "$REPO_DIR/examples/c-hello"
check "the program runs in the final stage's RUN" \
	grep -q '^hello from a static C binary (built with gcc [0-9]*\.[0-9]*, running on Linux' "$T/out"
mkdir -p "$T/run"
cat >"$T/run/Buildfile" <<'BF'
FROM c-hello:1
RUN hello; for c in gcc cc cpp as ld; do command -v $c && echo "found $c"; done; echo done
BF
expect_ok "a build FROM c-hello:1" build "$T/run"
check "its program prints its greeting" grep -q '^hello from a static C binary' "$T/out"
check "no compiler or linker on the PATH of the final image" bash -c "! grep -q '^found' '$T/out' && grep -qx done '$T/out'"
unpack_with_umoci c-hello:1 "$T/ch"
check "no gcc, cc1 or libc in the final image's files" \
	test -z "$(find "$T/ch/rootfs" \( -name 'gcc*' -o -name cc1 -o -name 'libc.so*' -o -name 'libc.a' \) -print)"
check "CMD runs the binary" jq -e '.config.Cmd == ["/usr/local/bin/hello"]' <(image_config c-hello:1)
check "the final image is busybox plus one layer" \
	test "$(jq '.rootfs.diff_ids | length' <(image_config c-hello:1))" -eq $(($(jq '.rootfs.diff_ids | length' <(image_config busybox:latest)) + 1))
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
