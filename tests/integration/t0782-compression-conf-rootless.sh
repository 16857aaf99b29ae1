#!/bin/bash
# The configuration file for a rootless user (issue 17): cairn run by a
# throw-away user with a clean environment reads ~/.config/cairn/cairn.conf
# of that user's HOME (and $XDG_CONFIG_HOME when set); without one its
# builds are gzip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless.sh"
rootless_need useradd userdel setpriv unshare
U=cnrc$$
rootless_user "$U"
rootless_probe "$U"
H=$T/home-$U
S=$H/.local/share/cairn
mkdir -p "$T/ctx"
echo hello >"$T/ctx/a.txt"
printf 'FROM scratch\nCOPY a.txt /a.txt\n' >"$T/ctx/Buildfile"
chmod -R a+rX "$T/ctx"
# Every cairn command of this script is the user's.
AS_USER=$U
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
as "$U" mkdir -p "$H/.config/cairn"
as "$U" sh -c "printf 'compression = \"zstd\"\n' >'$H/.config/cairn/cairn.conf'"
expect_ok "with ~/.config/cairn/cairn.conf saying zstd" build -q -t conf:1 "$T/ctx"
check "is zstd" test "$(types conf:1)" = application/vnd.oci.image.layer.v1.tar+zstd
as "$U" mkdir -p "$H/xdg/cairn"
as "$U" sh -c "printf '# ours\ncompression = gzip\nbogus = 1\n' >'$H/xdg/cairn/cairn.conf'"
EXTRA_ENV="XDG_CONFIG_HOME=$H/xdg" expect_fail "\$XDG_CONFIG_HOME's file wins, and its bad line is named" 1 \
	"$H/xdg/cairn/cairn.conf:3: unknown key 'bogus'" build -q -t xdg:1 "$T/ctx"
finish
