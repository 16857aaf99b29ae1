#!/bin/bash
# Bad input: a clear error naming FILE:LINE, exit status 1, no tag created
# or changed, no mount left, and a store that stays valid.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
mkdir -p "$T/good"
printf 'FROM busybox\nRUN echo good > /good\n' | buildfile "$T/good"
expect_ok "a good build tagged err:1" build -t err:1 "$T/good"
good_digest=$(tag_digest err:1)
cp "$CAIRN_ROOT/index.json" "$T/index.before"

# bad_build NAME LINE-AND-MESSAGE BUILDFILE-TEXT [SETUP...]: the build of
# that text must fail with exit 1 and the message, changing no tag.
bad_build() {
	local name=$1 msg=$2 text=$3
	local ctx=$T/ctx-$name
	mkdir -p "$ctx"
	printf '%s\n' "$text" >"$ctx/Buildfile"
	[ -n "${setup:-}" ] && (cd "$ctx" && eval "$setup")
	expect_fail "$name: exit 1 and '$msg'" 1 "$msg" build -t err:1 -t "new-$name:1" "$ctx"
	check "$name: the error is one line" test "$(wc -l <"$T/err")" -eq 1
	check "$name: existing tag unchanged" test "$(tag_digest err:1)" = "$good_digest"
	check "$name: no new tag" expect_no_tag "new-$name:1"
	check "$name: index.json untouched" cmp -s "$CAIRN_ROOT/index.json" "$T/index.before"
	check "$name: no mount left" no_mounts_left
	check "$name: no temp dir left" no_tmp_left
	check "$name: store consistent" store_is_consistent
	setup=
}

bad_build syntax "Buildfile:2:1: ENV: must have two arguments (expected ENV KEY=VALUE" 'FROM busybox
ENV ONLYNAME'
bad_build unknown-instruction "Buildfile:3:1: unknown instruction 'RUNN'" 'FROM busybox
RUN true
RUNN echo hi'
bad_build missing-source "Buildfile:2: COPY: 'nope.txt'" 'FROM busybox
COPY nope.txt /x'
bad_build dotdot-source "Buildfile:2: COPY: '../outside'" 'FROM busybox
COPY ../outside /x'
echo secret >"$T/outside"
setup='ln -s /etc/passwd leak'
bad_build symlink-out "Buildfile:3: COPY: 'leak'" 'FROM busybox
# a symlink pointing out of the context
COPY leak /x'
setup='ln -s ../../.. up'
bad_build symlink-dir-out "Buildfile:2: COPY: 'up/etc/passwd'" 'FROM busybox
COPY up/etc/passwd /x'
bad_build failing-run "Buildfile:3: RUN: exit status 3" 'FROM busybox
RUN true
RUN echo about to fail; exit 3
RUN echo never'
bad_build missing-base "Buildfile:1: FROM: image 'nosuch:1' is not in the store, and pulling it failed" 'FROM nosuch:1
RUN true'
bad_build unsupported "Buildfile:2: RUN: --mount=type=ssh is not supported: cairn cannot forward an SSH agent" 'FROM busybox
RUN --mount=type=ssh true'
bad_build bad-exec "Buildfile:2: RUN:" 'FROM busybox
RUN ["/no/such/binary"]'
setup='mkdir rootfs && ln -s / rootfs/proc'
bad_build proc-symlink "Buildfile:3: RUN: /proc in the image is not a directory" 'FROM busybox
COPY rootfs/ /
RUN true'

run_cairn build -t err:1 "$T/ctx-failing-run"
check "RUN output streams to the user" grep -q "about to fail" "$T/out"

# A failed step that left a tree deeper than the fd limit: its temp dir is
# still removed, and the store stays usable.
mkdir -p "$T/deep"
printf 'FROM busybox\nRUN i=0; while [ $i -lt 1500 ]; do mkdir d && cd d || exit 2; i=$((i+1)); done; exit 1\n' | buildfile "$T/deep"
(ulimit -n 128; "$CAIRN" build "$T/deep" >/dev/null 2>"$T/deep.err"); st=$?
check "deep tree: the build fails with the step's status" grep -q "RUN: exit status 1" "$T/deep.err"
check "deep tree: temp dir removed" no_tmp_left
(ulimit -n 128; "$CAIRN" images >/dev/null 2>&1); st=$?
check "deep tree: the store still works" test "$st" -eq 0
finish
