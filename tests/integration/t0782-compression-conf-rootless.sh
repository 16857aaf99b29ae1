#!/bin/bash
# The configuration file for a rootless user (issue 17): cairn run by a
# throw-away user with a clean environment reads ~/.config/cairn/cairn.conf
# of that user's HOME (and $XDG_CONFIG_HOME when set); without one its
# builds are gzip.
. "$(dirname "$0")/lib.sh"

for tool in useradd userdel setpriv unshare; do
	command -v "$tool" >/dev/null || { skip "rootless configuration file" "$tool is missing"; finish; }
done
U=cnrc$$
rc_cleanup() {
	id -u "$U" >/dev/null 2>&1 && { rm -rf "/tmp/cairn-run-$(id -u "$U")"; userdel "$U" 2>/dev/null; }
	cleanup_test_dir
}
trap rc_cleanup EXIT
chmod 0711 "$T"
useradd -m -d "$T/home" -s /bin/sh "$U" || { fail "useradd $U"; finish; }
if ! probe=$(setpriv --reuid="$U" --regid="$U" --init-groups --inh-caps=-all unshare -r true 2>&1); then
	skip "rootless configuration file" "no unprivileged user namespaces here: $probe"
	finish
fi
H=$T/home
S=$H/.local/share/cairn
install -m 0755 "$CAIRN" "$T/cairn"
mkdir -p "$T/ctx"
echo hello >"$T/ctx/a.txt"
printf 'FROM scratch\nCOPY a.txt /a.txt\n' >"$T/ctx/Buildfile"
chmod -R a+rX "$T/ctx"

# as CMD...: the user, no capabilities, a clean environment (EXTRA_ENV adds).
as() {
	(cd "$H" && exec setpriv --reuid="$U" --regid="$U" --init-groups --inh-caps=-all \
		env -i HOME="$H" USER="$U" LOGNAME="$U" PATH=/usr/sbin:/usr/bin:/sbin:/bin ${EXTRA_ENV:-} "$@")
}
run_cairn() { as "$T/cairn" "$@" >"$T/out" 2>"$T/err"; status=$?; }
types() {
	local m
	m=$(jq -r --arg r "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$S/index.json")
	jq -r '[.layers[].mediaType] | unique | join(",")' "$S/blobs/sha256/${m#sha256:}"
}

if [ -e /etc/cairn/cairn.conf ]; then
	skip "rootless configuration file" "/etc/cairn/cairn.conf exists on this machine"
	finish
fi
expect_ok "a rootless build with no configuration file" build -q -t plain:1 "$T/ctx"
check "is gzip" test "$(types plain:1)" = application/vnd.oci.image.layer.v1.tar+gzip
as mkdir -p "$H/.config/cairn"
as sh -c "printf 'compression = \"zstd\"\n' >'$H/.config/cairn/cairn.conf'"
expect_ok "with ~/.config/cairn/cairn.conf saying zstd" build -q -t conf:1 "$T/ctx"
check "is zstd" test "$(types conf:1)" = application/vnd.oci.image.layer.v1.tar+zstd
as mkdir -p "$H/xdg/cairn"
as sh -c "printf '# ours\ncompression = gzip\nbogus = 1\n' >'$H/xdg/cairn/cairn.conf'"
EXTRA_ENV="XDG_CONFIG_HOME=$H/xdg" expect_fail "\$XDG_CONFIG_HOME's file wins, and its bad line is named" 1 \
	"$H/xdg/cairn/cairn.conf:3: unknown key 'bogus'" build -q -t xdg:1 "$T/ctx"
finish
