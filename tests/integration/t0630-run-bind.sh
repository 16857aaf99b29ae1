#!/bin/bash
# RUN --mount=type=bind: the build context (ignore file applied) or a
# stage's or image's root, read-only unless rw (then writes are thrown
# away), confined to its source, in the step's cache key; type=ssh refused.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
step_cached() { grep -A1 "^STEP $1/" "$T/out" | grep -q -- '--> CACHED'; }
step_not_cached() { ! step_cached "$1"; }
ctx=$T/bind
mkdir -p "$ctx/conf"
echo v1 >"$ctx/data.txt"
echo "top secret" >"$ctx/secret.txt"
echo c >"$ctx/conf/app.conf"
printf 'secret.txt\n' >"$ctx/.dockerignore"
cat >"$ctx/Buildfile" <<'EOF'
FROM busybox AS tools
RUN mkdir -p /opt && echo from-stage >/opt/made && ln -s /opt /optlink
FROM busybox
RUN --mount=type=bind,target=/ctx cat /ctx/data.txt; test ! -e /ctx/secret.txt && echo ignored-ok; touch /ctx/x 2>/dev/null || echo ro-ok
RUN --mount=type=bind,source=conf/app.conf,target=/etc/app.conf cat /etc/app.conf
RUN --mount=type=bind,target=/w,rw touch /w/new && echo data >/w/data.txt && echo rw-ok
RUN --mount=type=bind,from=tools,source=/optlink/made,target=/m cat /m
RUN --mount=type=bind,from=busybox:latest,source=/etc,target=/be grep -c root /be/passwd
RUN --mount=type=bind,source=conf,target=/c1 --mount=type=bind,source=data.txt,target=/c2 cat /c1/app.conf /c2
EOF
expect_ok "a build with bind mounts" build -t bind:1 "$ctx"
check "the context root is bound by default" grep -q '^v1$' "$T/out"
check "the ignore file applies to it" grep -q '^ignored-ok$' "$T/out"
check "read-only by default" grep -q '^ro-ok$' "$T/out"
check "a file source on a file target" grep -q '^c$' "$T/out"
check "rw: writes are allowed" grep -q '^rw-ok$' "$T/out"
check "rw: but never reach the context" test ! -e "$ctx/new" -a "$(cat "$ctx/data.txt")" = v1
check "from= a stage, its symlinks resolved inside it" grep -q '^from-stage$' "$T/out"
check "from= an image" grep -qx '1' "$T/out"
unpack_with_umoci bind:1 "$T/u"
check "nothing of the mounts is in the image" test ! -e "$T/u/rootfs/ctx" -a ! -e "$T/u/rootfs/w" -a ! -e "$T/u/rootfs/m" -a ! -e "$T/u/rootfs/etc/app.conf" -a ! -e "$T/u/rootfs/c1"
check "the steps made no layer" test "$(image_config bind:1 | jq '.rootfs.diff_ids | length')" -eq "$(image_config busybox:latest | jq '.rootfs.diff_ids | length')"

expect_ok "rebuild" build -t bind:1 "$ctx"
check "every step cached" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 7
echo "other secret" >"$ctx/secret.txt"
expect_ok "rebuild after editing an ignored file" build -t bind:2 "$ctx"
check "still cached" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 7
echo v2 >"$ctx/data.txt"
expect_ok "rebuild after editing a bound file" build -t bind:3 "$ctx"
check "the step binding the context reruns" step_not_cached 4
check "and sees the new content" grep -q '^v2$' "$T/out"
chmod 0600 "$ctx/conf/app.conf"
expect_ok "rebuild after a mode change" build -t bind:4 "$ctx"
check "modes are in the key too" step_not_cached 5

# Sources must stay inside the context / stage.
echo outside >"$T/outside.txt"
ln -s ../outside.txt "$ctx/link-out"
nb=0
bad() {   # NAME WANT RUN-LINE
	nb=$((nb + 1))
	mkdir -p "$T/bad$nb"
	cp "$ctx/data.txt" "$T/bad$nb/"
	ln -s ../outside.txt "$T/bad$nb/link-out"
	printf 'FROM busybox\n%s\n' "$3" >"$T/bad$nb/Buildfile"
	expect_fail "$1" 1 "$2" build "$T/bad$nb"
}
bad "source=.. is refused" "Buildfile:2: RUN: --mount=type=bind,source=../outside.txt: '../outside.txt': points outside the build context" \
	'RUN --mount=type=bind,source=../outside.txt,target=/o cat /o'
bad "a symlink out of the context is refused" "Buildfile:2: RUN: --mount=type=bind,source=link-out: 'link-out': points outside the build context" \
	'RUN --mount=type=bind,source=link-out,target=/o cat /o'
bad "a missing source" "Buildfile:2: RUN: --mount=type=bind,source=nope: 'nope': no such file or directory in the build context" \
	'RUN --mount=type=bind,source=nope,target=/o true'
bad "from= an unknown stage or image" "Buildfile:2: RUN: image 'nosuch' is not in the store, and pulling it failed" \
	'RUN --mount=type=bind,from=nosuch,target=/o true'
bad "type=ssh says plainly it is not supported" "Buildfile:2: RUN: --mount=type=ssh is not supported: cairn cannot forward an SSH agent" \
	'RUN --mount=type=ssh true'
bad "a bad option" "Buildfile:2:5: RUN: --mount: rw=maybe: expected true or false" \
	'RUN --mount=type=bind,target=/x,rw=maybe true'
# CVE-2024-1753: a bind source is never a host path, rw or not.
mkdir -p "$T/cve"
cat >"$T/cve/Buildfile" <<'EOF'
FROM busybox AS base
RUN ln -s / /rootdir
FROM busybox
RUN --mount=type=bind,source=/,target=/h,rw touch /h/BIND_BREAKOUT
RUN --mount=type=bind,from=base,source=/rootdir,target=/h,rw touch /h/cairn-bind-breakout
EOF
expect_ok "rw binds of / and of a stage's symlink to /" build "$T/cve"
check "no write reached the host (CVE-2024-1753)" test ! -e /BIND_BREAKOUT -a ! -e /cairn-bind-breakout -a ! -e "$T/cve/BIND_BREAKOUT"
check "nothing outside was changed" test "$(cat "$T/outside.txt")" = outside
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
check "no temp dirs left" no_tmp_left
finish
