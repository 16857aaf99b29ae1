# Shared helpers for integration tests (sourced). Each test prints TAP-style
# lines ("ok - ...", "not ok - ...") that tests/run.sh counts. Tests run as
# root on the real kernel: real overlayfs, namespaces, skopeo and umoci.
set -u

: "${CAIRN:?CAIRN must point at the cairn binary}"
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$TESTS_DIR/.." && pwd)
T=$(mktemp -d /tmp/cairn-test.XXXXXX)
export CAIRN_ROOT=$T/store
# No configuration file of this machine's applies (util/conf.h).
export CAIRN_CONFIG=
failures=0

cleanup_test_dir() {
	# Only reached after every test's own checks; mounts would be a bug
	# (reported by check_no_mounts), so detach them before removing.
	grep -o " $T[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup_test_dir EXIT

pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
skip() { echo "ok - $1 # SKIP $2"; }

# check DESC CMD...: passes when CMD succeeds.
check() {
	local desc=$1; shift
	if "$@" >"$T/.out" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		sed 's/^/#   /' "$T/.out" | tail -20
	fi
}

# run_cairn ARGS...: runs cairn, keeping stdout in $T/out, stderr in $T/err
# and the status in $status.
run_cairn() {
	"$CAIRN" "$@" >"$T/out" 2>"$T/err"
	status=$?
}

# expect_fail DESC STATUS SUBSTRING CAIRN-ARGS...: cairn must exit with
# STATUS and print SUBSTRING on stderr.
expect_fail() {
	local desc=$1 want=$2 substr=$3; shift 3
	run_cairn "$@"
	if [ "$status" -eq "$want" ] && grep -qF -- "$substr" "$T/err"; then
		pass "$desc"
	else
		fail "$desc (status $status, want $want; stderr should contain '$substr')"
		sed 's/^/#   /' "$T/err" | tail -10
	fi
}

# expect_ok DESC CAIRN-ARGS...
expect_ok() {
	local desc=$1; shift
	run_cairn "$@"
	if [ "$status" -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc (status $status)"
		sed 's/^/#   /' "$T/err" | tail -10
		sed 's/^/#   /' "$T/out" | tail -10
	fi
}

# A Buildfile from stdin into context dir $1 (created).
buildfile() {
	mkdir -p "$1"
	cat >"$1/Buildfile"
}

# The busybox base image from examples/, built once per test file.
build_busybox() {
	install -m 0755 /bin/busybox "$REPO_DIR/examples/busybox/busybox"
	"$CAIRN" build -q -t busybox:latest "$REPO_DIR/examples/busybox" >"$T/busybox.out" 2>&1 || {
		fail "build examples/busybox"
		sed 's/^/#   /' "$T/busybox.out" | tail -20
		return 1
	}
}

# Manifest digest a tag points at, from index.json; empty when the tag is
# absent. An unreadable or invalid index.json is a test failure, not an
# absent tag: it is reported (stderr), prints a value no digest equals,
# and fails the script at finish (tag_digest runs in $(...), where a plain
# fail would be lost with the subshell).
tag_digest() {
	local out
	if out=$(jq -r --arg r "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$CAIRN_ROOT/index.json" 2>&1); then
		[ -z "$out" ] || printf '%s\n' "$out"
		return 0
	fi
	echo "tag_digest $1: $CAIRN_ROOT/index.json unreadable: $out" >&2
	echo "$1" >>"$T/.tag_digest_errors"
	echo "(index.json unreadable)"
	return 1
}

# expect_no_tag REF: passes when index.json reads and has no tag REF (for
# check); fails, saying which, when the tag is there or the index is not
# readable.
expect_no_tag() {
	local d
	d=$(tag_digest "$1") || return 1
	[ -z "$d" ] || { echo "tag '$1' points at $d"; return 1; }
}

# The image id of a tag as docker prints it (`build -q`, `images --no-trunc
# -q`): sha256: and the digest of its config.
image_id() {
	local m
	m=$(tag_digest "$1") && [ -n "$m" ] && jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/${m#sha256:}"
}

# The image config document of a tag, or of a manifest digest.
image_config() {
	image_config_of "$(tag_digest "$1")"
}
image_config_of() {
	local c
	c=$(jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/${1#sha256:}")
	cat "$CAIRN_ROOT/blobs/sha256/${c#sha256:}"
}

# Copy a tag out of the store with skopeo and unpack it with umoci.
# Debian 12's umoci (0.4.7) predates zstd layers, so skopeo recompresses.
unpack_with_umoci() {   # TAG DEST
	rm -rf "$T/oci-copy" "$2"
	skopeo copy --quiet --dest-compress --dest-compress-format gzip \
		"oci:$CAIRN_ROOT:$1" "oci:$T/oci-copy:t" &&
		umoci unpack --image "$T/oci-copy:t" "$2" >/dev/null
}

# Store invariants after any command, failed ones included.
store_is_consistent() {
	local ok=0 f
	jq -e '.manifests | type == "array"' "$CAIRN_ROOT/index.json" >/dev/null || { echo "index.json invalid"; ok=1; }
	for f in "$CAIRN_ROOT"/blobs/sha256/*; do
		[ -e "$f" ] || continue
		if [ "sha256:$(basename "$f")" != "sha256:$(sha256sum "$f" | cut -d' ' -f1)" ]; then
			echo "blob $(basename "$f") does not hash to its name"; ok=1
		fi
	done
	for d in $(jq -r '.manifests[].digest' "$CAIRN_ROOT/index.json"); do
		[ -f "$CAIRN_ROOT/blobs/sha256/${d#sha256:}" ] || { echo "tag points at missing $d"; ok=1; }
	done
	return $ok
}

no_mounts_left() {
	! grep -q " $T" /proc/self/mountinfo
}

# No temp dirs left by finished commands (a killed one may leave some:
# the next command sweeps them).
no_tmp_left() {
	[ -z "$(ls -A "$CAIRN_ROOT/tmp" 2>/dev/null)" ]
}

finish() {
	if [ -s "$T/.tag_digest_errors" ]; then
		fail "index.json was unreadable when tag_digest looked up: $(sort -u "$T/.tag_digest_errors" | tr '\n' ' ')"
	fi
	exit $((failures > 0))
}
