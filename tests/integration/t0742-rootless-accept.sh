#!/bin/bash
# Rootless cairn (issue 10), the rest of its acceptance list: images built
# rootless are the root build's (unpacked by umoci: owners, modes, content,
# xattrs, symlinks; configs), with and without SOURCE_DATE_EPOCH; the
# hostile corpus stays confined rootless (load, ADD, pull). t0740 has the
# rest, t0743 the README's tour (rootless.sh: the users).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/hostile.sh"
. "$(dirname "$0")/rootless.sh"
rootless_need useradd userdel setpriv newuidmap newgidmap python3 skopeo umoci setcap

U=cnra$$
START=400000
canary_tmp=
rootless_extra_cleanup() {
	stop_registry
	[ -n "$canary_tmp" ] && rm -rf "$canary_tmp"
}
rootless_user "$U" "$START"
rootless_probe "$U"
H=$T/home-$U
S=$H/.local/share/cairn
rootless_contexts
cp -r "$REPO_DIR/examples/hello" "$T/ctx/hello"
# xattrs the layers keep: user.*, security.capability and a default ACL
# (one with no named user: an ACL naming host ids is below), from the
# context, then a RUN that copies the file up.
mkdir -p "$T/ctx/xattr/xa/acl" "$T/ctx/aclnamed"
echo data >"$T/ctx/xattr/xa/f"
install -m 0755 /bin/busybox "$T/ctx/xattr/xa/cap"
echo data >"$T/ctx/aclnamed/f"
python3 - "$T/ctx/xattr/xa" "$T/ctx/aclnamed/f" <<'EOF'
import os, struct, sys
d = sys.argv[1]
os.setxattr(d + "/f", "user.note", b"kept")
os.setxattr(d + "/cap", "user.other", b"x")
def acl(entries):   # version 2, then (tag, perm, id) each
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
none = 0xffffffff
# default: user::rwx group::r-x other::---
os.setxattr(d + "/acl", "system.posix_acl_default", acl([(1, 7, none), (4, 5, none), (0x20, 0, none)]))
# access: user::rw- user:1000:r-- group::r-- mask::r-- other::r--
os.setxattr(sys.argv[2], "system.posix_acl_access",
            acl([(1, 6, none), (2, 4, 1000), (4, 4, none), (0x10, 4, none), (0x20, 4, none)]))
EOF
setcap cap_net_raw+ep "$T/ctx/xattr/xa/cap"
printf 'FROM busybox\nCOPY xa /xa\nRUN echo more >>/xa/f && mkdir /xa/d && ln -s ../f /xa/d/link\n' >"$T/ctx/xattr/Buildfile"
printf 'FROM busybox\nCOPY f /f\n' >"$T/ctx/aclnamed/Buildfile"
chmod -R a+rX "$T/ctx"
uid=$(id -u "$U")

# ---- the same images as root --------------------------------------------
# A `cairn save` archive's image unpacked by umoci as root (so owners are
# kept): skopeo makes the layout (Debian's umoci reads no oci-archive).
unpack_saved() {   # ARCHIVE REF DEST
	rm -rf "$T/oci-tmp" "$3"
	skopeo copy -q --dest-compress --dest-compress-format gzip "oci-archive:$1:$2" "oci:$T/oci-tmp:t" &&
		umoci unpack --image "$T/oci-tmp:t" "$3" >/dev/null
}
# config_of STORE REF [--no-mtime]: the image config without its timestamps
# (and, with --no-mtime, without the layers' digests: their tars hold mtimes).
config_of() {
	local m c f='del(.created) | .history |= map(del(.created))'
	m=$(store_tag_digest "$1" "$2")
	c=$(jq -r .config.digest "$1/blobs/sha256/${m#sha256:}")
	[ -n "${3:-}" ] && f="$f | del(.rootfs.diff_ids)"
	jq -S "$f" "$1/blobs/sha256/${c#sha256:}"
}
# compare LABEL REF [--no-mtime]: the root store's REF and the user's,
# each saved and unpacked into $T/um/{root,rl}-LABEL and listed (.list).
compare() {
	local label=$1 ref=$2 mt=${3:-} n=${1//[ \/]/-}
	mkdir -p "$T/um"
	"$CAIRN" save -o "$T/um/root-$n.tar" "$ref" 2>"$T/save.err" || { fail "$label: save as root"; cat "$T/save.err"; return; }
	rl "$U" save -o "$H/$n.tar" "$ref"
	[ "$status" -eq 0 ] || { fail "$label: save rootless"; sed 's/^/#   /' "$T/err"; return; }
	if unpack_saved "$T/um/root-$n.tar" "$ref" "$T/um/root-$n" >"$T/um.err" 2>&1 &&
		unpack_saved "$H/$n.tar" "$ref" "$T/um/rl-$n" >>"$T/um.err" 2>&1; then
		pass "$label: both unpack with umoci"
	else
		fail "$label: both unpack with umoci"
		sed 's/^/#   /' "$T/um.err"
		return
	fi
	# shellcheck disable=SC2086
	python3 "$TESTS_DIR/integration/tree_list.py" $mt "$T/um/root-$n/rootfs" >"$T/um/root-$n.list"
	# shellcheck disable=SC2086
	python3 "$TESTS_DIR/integration/tree_list.py" $mt "$T/um/rl-$n/rootfs" >"$T/um/rl-$n.list"
	check "$label: the rootless rootfs is the root one (owners, modes, content, xattrs, links${mt:+; not mtimes})" \
		diff -u "$T/um/root-$n.list" "$T/um/rl-$n.list"
	check "$label: the image configs are equal (timestamps${mt:+ and layer digests} aside)" \
		diff -u <(config_of "$CAIRN_ROOT" "$ref" "$mt") <(config_of "$S" "$ref" "$mt")
}
both_build() {   # DESC ARGS...: the same build as root and rootless
	local desc=$1; shift
	expect_ok "$desc as root" build -q "$@"
	rl_ok "$desc rootless" "$U" build -q "$@"
}

# Without SOURCE_DATE_EPOCH: each build has its own times, nothing else differs.
both_build "examples/busybox" -t busybox "$T/ctx/bb"
both_build "examples/hello" -t hello:1 "$T/ctx/hello"
compare "examples/hello" hello:1 --no-mtime
check "hello: the COPYed script is 0755, the RUN's file 0644, both root's" sh -c "
	grep -q '^app/hello.sh f 0755 0:0 ' '$T/um/rl-examples-hello.list' &&
	grep -q '^app/build-info f 0644 0:0 ' '$T/um/rl-examples-hello.list'"
both_build "RUN: create, delete, opaque dir, chown 1000, setuid" -t run:1 "$T/ctx/run"
compare "RUN Buildfile" run:1 --no-mtime
check "RUN: keep/suid is setuid 1000:1000, keep/own 1000:1000, lower/f gone, lower/d opaque" sh -c "
	grep -q '^keep/suid f 4755 1000:1000 ' '$T/um/rl-RUN-Buildfile.list' &&
	grep -q '^keep/own f 0644 1000:1000 ' '$T/um/rl-RUN-Buildfile.list' &&
	! grep -q '^lower/f ' '$T/um/rl-RUN-Buildfile.list' &&
	test \"\$(grep '^lower/d/' '$T/um/rl-RUN-Buildfile.list' | cut -d' ' -f1)\" = lower/d/new"
both_build "multi-stage, COPY --from, COPY --chown" -t multi:1 "$T/ctx/multi"
compare "multi-stage" multi:1 --no-mtime
check "multi: app/a.txt 1000:1000 (COPY --chown), app/file root's (COPY --from)" sh -c "
	grep -q '^app/a.txt f 0644 1000:1000 ' '$T/um/rl-multi-stage.list' &&
	grep -q '^app/file f 0644 0:0 ' '$T/um/rl-multi-stage.list'"
both_build "xattrs: user.*, security.capability, an ACL" -t xattr:1 "$T/ctx/xattr"
compare "xattrs" xattr:1 --no-mtime
check "xattrs: the listing has them (user.note, default ACL, capability)" sh -c "
	grep -q '^xa/f f .*xattrs\[user.note=' '$T/um/rl-xattrs.list' &&
	grep -q '^xa/acl d .*xattrs\[system.posix_acl_default=' '$T/um/rl-xattrs.list' &&
	grep -q '^xa/cap f .*security.capability=' '$T/um/rl-xattrs.list'"
expect_ok "a context file's ACL naming host uid 1000: root keeps it" build -q -t aclnamed:1 "$T/ctx/aclnamed"
rl_fail "... rootless refuses it, naming the file and what to do" 1 \
	"'f': its POSIX ACL (system.posix_acl_access) names a user or group id that rootless cairn cannot map" \
	"$U" build -q -t aclnamed:1 "$T/ctx/aclnamed"

# With SOURCE_DATE_EPOCH: the same digests, and the same trees mtimes included.
export SOURCE_DATE_EPOCH=1700000000
for c in "busybox bb" "hello:1 hello" "run:1 run" "multi:1 multi" "xattr:1 xattr"; do
	ref=${c% *} ctx=$T/ctx/${c#* }
	expect_ok "SOURCE_DATE_EPOCH: $ref as root" build -q -t "$ref" "$ctx"
	EXTRA_ENV="SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" rl_ok "SOURCE_DATE_EPOCH: $ref rootless" "$U" build -q -t "$ref" "$ctx"
	check "SOURCE_DATE_EPOCH: $ref has the root build's digest" \
		test "$(store_tag_digest "$S" "$ref")" = "$(tag_digest "$ref")"
done
unset SOURCE_DATE_EPOCH
compare "hello SDE" hello:1
compare "multi SDE" multi:1
compare "xattrs SDE" xattr:1

# The user can unpack its own archive with umoci --rootless: the same
# files and modes (the owners are all the user's there).
rm -rf "$H/oci" "$H/um"
if as "$U" sh -c "skopeo copy -q --dest-compress --dest-compress-format gzip 'oci-archive:$H/RUN-Buildfile.tar:run:1' 'oci:$H/oci:t' &&
	umoci unpack --rootless --image '$H/oci:t' '$H/um'" >"$T/um.err" 2>&1; then
	pass "umoci unpack --rootless of the user's save"
	check "... the same files and modes as root's unpack" diff -u \
		<(python3 "$TESTS_DIR/integration/tree_list.py" --no-mtime --no-owner "$T/um/root-RUN-Buildfile/rootfs" | sed 's/ xattrs\[.*//') \
		<(python3 "$TESTS_DIR/integration/tree_list.py" --no-mtime --no-owner "$H/um/rootfs" | sed 's/ xattrs\[.*//')
else
	fail "umoci unpack --rootless of the user's save"
	sed 's/^/#   /' "$T/um.err" | tail -10
fi

# A bundle the user exports runs with the user's runc, the image's owners
# in place (its config.json maps ids as cairn's namespace does).
if command -v runc >/dev/null; then
	install -d -m 0700 -o "$U" -g "$U" "$T/run-$U"
	rl_ok "export --format bundle rootless" "$U" export --format bundle run:1 "$H/bundle"
	EXTRA_ENV="XDG_RUNTIME_DIR=$T/run-$U" as "$U" sh -c "cd '$H/bundle' &&
		jq '.process.args = [\"stat\", \"-c\", \"%n %u:%g %a\", \"/keep/own\", \"/keep/suid\", \"/bin/busybox\"]' \
		config.json >c.json && mv c.json config.json && runc run rl$$" >"$T/out" 2>"$T/err" </dev/null
	check "runc runs it rootless: the image's owners and modes inside" test "$(cat "$T/out")" = \
		"$(printf '/keep/own 1000:1000 644\n/keep/suid 1000:1000 4755\n/bin/busybox 0:0 755')"
	sed 's/^/#   /' "$T/err" | tail -5
else
	skip "runc run of a rootless bundle" "runc is missing"
fi
rl_ok "fsck of the user's store" "$U" fsck

# ---- the hostile corpus, rootless ---------------------------------------
# The corpus of t0330/t0335 aimed at a canary directory the user owns (so an
# escape would succeed), once in its home and once in /tmp, through load,
# ADD of the layer and pull. Each case fails naming the entry (or, for
# those that may, stays inside the store); nothing outside the store
# changes: the canary, and no file of the user or its range appears in
# /tmp, /var/tmp or /dev/shm outside its stores and its runtime dir.
user_files() {
	find /tmp /var/tmp /dev/shm -xdev \( -path "$H/s-*" -o -path "/tmp/cairn-run-$uid" \) -prune -o \
		\( -uid "$uid" -o \( -uid +$((START - 1)) -uid -$((START + 65536)) \) \) -printf '%p %y %s\n' 2>/dev/null | sort
}
# judge WHAT TAG WANT STORE: the verdict on the command just run ($status,
# $T/err), as t0330 and t0335 judge it as root.
judge() {
	local what=$1 tag=$2 want=$3 store=$4
	sed "s/^/# $what $tag: /" "$T/err"
	case $want in
	ok) check "$what of '$tag' works" test "$status" -eq 0 ;;
	"") if [ "$status" -eq 0 ] || grep -q "entry" "$T/err"; then pass "$what of '$tag' is refused or stays confined"
	    else fail "$what of '$tag' (status $status)"; fi ;;
	*) if [ "$status" -eq 1 ] && grep -q "entry" "$T/err" && grep -qF -- "$want" "$T/err"; then
		pass "$what of '$tag' fails naming the entry"
	   else
		fail "$what of '$tag' fails naming the entry (status $status)"
	   fi
	   check "$what '$tag': nothing is tagged" sh -c "! grep -qs 'hostile/' '$store/index.json'" ;;
	esac
	check "$what '$tag': nothing outside the store changed" \
		test "$(outside_state)" = "$before" -a "$(user_files)" = "$files_before"
	rl_ok "$what '$tag': fsck passes" "$U" --root "$store" fsck
	check "$what '$tag': no temp entries left" test -z "$(ls -A "$store/tmp" 2>/dev/null)"
}

have_registry=
if command -v docker-registry >/dev/null && start_registry none; then
	chmod -R a+rX "$REG_CERTS"
	have_registry=1
else
	skip "hostile pulls rootless" "no docker-registry"
fi
canary_tmp=$(mktemp -d /tmp/cairn-rl-canary.XXXXXX)
for where in home tmp; do
	# shellcheck disable=SC2034 # (read by hostile.sh)
	if [ "$where" = home ]; then HOSTILE_OUTSIDE=$H/canary; else HOSTILE_OUTSIDE=$canary_tmp/outside; fi
	HOSTILE_LAYOUT=$T/hostile-$where hostile_corpus "$T/arc-$where" || { fail "make the corpus ($where)"; continue; }
	chown -R "$U:" "$outside"
	[ "$where" = tmp ] && chown "$U:" "$canary_tmp"
	chmod -R a+rX "$T/arc-$where"
	before=$(outside_state)
	files_before=$(user_files)
	for c in "${hostile_cases[@]}"; do
		tag=${c%%:*} want=${c#*:}
		st=$H/s-$where-load-$tag
		# shellcheck disable=SC2046
		rl "$U" --root "$st" load -q $(hostile_flags "$tag") -i "$T/arc-$where/$tag.tar"
		judge "load ($where canary)" "$tag" "$want" "$st"
		if [ "$where" = home ] && [ "$tag" != bomb ]; then
			st=$H/s-$where-add-$tag
			mkdir -p "$T/ctx-add-$tag"
			cp "$T/arc-$where/$tag.layer" "$T/ctx-add-$tag/layer.tar"
			printf 'FROM scratch\nADD layer.tar /\n' >"$T/ctx-add-$tag/Buildfile"
			chmod -R a+rX "$T/ctx-add-$tag"
			rl "$U" --root "$st" build -q -t "add-$tag:1" "$T/ctx-add-$tag"
			# ADD is judged as t0335 judges it: it fails saying why.
			[ -n "$want" ] && [ "$want" != ok ] && [ "$status" -ne 0 ] && grep -qF -- "$want" "$T/err" &&
				grep -q entry "$T/err" && status=1
			judge "ADD ($where canary)" "$tag" "$want" "$st"
		fi
		[ -n "$have_registry" ] || continue
		if ! skopeo copy -q --dest-cert-dir "$REG_CERTS" "oci:$T/hostile-$where:$tag" \
			"docker://$REG/hostile-$where/$tag:1" >/dev/null 2>"$T/sk.err"; then
			fail "push the '$tag' image with skopeo"
			sed 's/^/#   /' "$T/sk.err"
			continue
		fi
		st=$H/s-$where-pull-$tag
		# shellcheck disable=SC2046
		rl "$U" --root "$st" pull -q $(hostile_flags "$tag") --cert-dir "$REG_CERTS" "$REG/hostile-$where/$tag:1"
		judge "pull ($where canary)" "$tag" "$want" "$st"
	done
done
# (/etc/shadow itself changes whenever a test adds a user: t0335 compares it)
check "no file of the user's is a hardlink of /etc/shadow" test -z "$(find "$H" -xdev -samefile /etc/shadow)"

finish
