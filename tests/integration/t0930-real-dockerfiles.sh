#!/bin/bash
# Real public Dockerfiles, unchanged, built with cairn and compared with
# buildah's result. The Dockerfiles are the Ubuntu-based application images
# in BuildKit's parser test files ($CONFORMANCE/dockerfile-parser/testfiles,
# Apache-2.0, read in place): znc, nginx, mumble and weechat. They install
# packages with apt-get and ADD files and directories from their context.
#
# Stand-ins: Ubuntu 14.04's archive is not reachable here, so ubuntu:14.04
# is examples/debian's Debian 12 image under that tag (every package they
# install exists in Debian 12), and the context files the Dockerfiles ADD,
# which BuildKit does not ship, are small files written below. Needs the
# Debian mirror (apt-get in the RUN steps); skipped without it.
#
# buildah (where installed) builds znc and nginx from the same base in
# a private storage root; both root filesystems are unpacked with umoci and
# compared: every path's type, mode, owner and link target (outside the
# directories apt and the builders fill with run-specific files) and the
# content of the installed programs and ADDed files.
. "$(dirname "$0")/lib.sh"

# Under the sanitizers (make check SANITIZE=...) it is skipped: minutes of
# package downloads again, through no path of cairn's that t0900 does not
# take too.
if [ -n "${CAIRN_SANITIZE:-}" ]; then
	skip "real Dockerfiles" "skipped under SANITIZE=$CAIRN_SANITIZE (the plain run builds them)"
	finish
fi
D=${CONFORMANCE:-}/dockerfile-parser/testfiles
if [ -z "${CONFORMANCE:-}" ] || [ ! -f "$D/znc/Dockerfile" ]; then
	skip "real Dockerfiles" "skipped: conformance data not found ($D)"
	finish
fi
cache=${DEBIAN_CACHE:-$REPO_DIR/build/debian}
tar=$cache/bookworm-minbase-$(dpkg --print-architecture)/rootfs.tar
reachable() { timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; }
if ! reachable; then
	skip "real Dockerfiles" "deb.debian.org unreachable (the RUN steps install packages)"
	finish
fi
if [ ! -s "$tar" ] && ! command -v debootstrap >/dev/null; then
	skip "real Dockerfiles" "debootstrap is not installed and no cached Debian rootfs"
	finish
fi
if ! CAIRN=$CAIRN DEBIAN_CACHE=$cache "$REPO_DIR/examples/debian/build.sh" >"$T/debian.out" 2>&1; then
	fail "examples/debian/build.sh builds the Debian 12 base"
	sed 's/^/#   /' "$T/debian.out" | tail -20
	finish
fi
expect_ok "debian:12 stands in for ubuntu:14.04" tag debian:12 ubuntu:14.04

# ---- the contexts: each Dockerfile as published, plus what it ADDs ------
ctx() { mkdir -p "$T/ctx/$1" && cp "$D/$1/Dockerfile" "$T/ctx/$1/Dockerfile"; }

ctx znc
mkdir -p "$T/ctx/znc/conf/configs"
cat >"$T/ctx/znc/conf/configs/znc.conf" <<'EOF'
Version = 1.8.2
<Listener l>
	Port = 6697
	SSL = false
</Listener>
EOF

ctx nginx
mkdir -p "$T/ctx/nginx/etc/conf.d"
cat >"$T/ctx/nginx/etc/nginx.conf" <<'EOF'
user www-data;
pid /run/nginx.pid;
events { worker_connections 64; }
http {
	include /etc/nginx/conf.d/*.conf;
}
EOF
printf 'server {\n\tlisten 80;\n\troot /www;\n}\n' >"$T/ctx/nginx/etc/conf.d/www.conf"

ctx mumble
printf '[General]\nwelcometext="test"\nport=64738\n' >"$T/ctx/mumble/mumble-server.ini"

ctx weechat
mkdir -p "$T/ctx/weechat/.weechat"
printf '[look]\nbuffer_time_format = "%%H:%%M"\n' >"$T/ctx/weechat/.weechat/weechat.conf"
printf 'set -g default-terminal "screen-256color"\n' >"$T/ctx/weechat/.tmux.conf"

names=(znc nginx mumble weechat)
# What each image must hold: a program the Dockerfile installs, a file it
# ADDs, and its config.
declare -A prog=([znc]=/usr/bin/znc [nginx]=/usr/sbin/nginx [mumble]=/usr/sbin/murmurd [weechat]=/usr/bin/weechat)
declare -A added=([znc]=.znc/configs/znc.conf [nginx]=etc/nginx/conf.d/www.conf
	[mumble]=etc/mumble-server.ini [weechat]=.weechat/weechat.conf)
declare -A source=([znc]=conf/configs/znc.conf [nginx]=etc/conf.d/www.conf
	[mumble]=mumble-server.ini [weechat]=.weechat/weechat.conf)
declare -A cmd=([znc]='["/usr/bin/znc","-f","-r"]' [nginx]='["/usr/sbin/nginx"]'
	[mumble]='["/bin/sh","-c","/usr/sbin/murmurd"]' [weechat]='["/bin/sh","-c","zsh -c weechat"]')

# ---- cairn ------------------------------------------------------------
for n in "${names[@]}"; do
	expect_ok "$n: the published Dockerfile builds" build -t "real-$n:1" "$T/ctx/$n"
	unpack_with_umoci "real-$n:1" "$T/c-$n" || { fail "$n: umoci unpacks the image"; continue; }
	r=$T/c-$n/rootfs
	check "$n: ${prog[$n]} is installed and executable" test -x "$r${prog[$n]}"
	check "$n: the ADDed file is there, as written" cmp "$r/${added[$n]}" "$T/ctx/$n/${source[$n]}"
	check "$n: CMD as docker records it" test "$(image_config "real-$n:1" | jq -c .config.Cmd)" = "${cmd[$n]}"
done
check "nginx: the ADDed tree is root-owned after RUN chown -R" \
	test "$(stat -c %u:%g "$T/c-nginx/rootfs/etc/nginx/conf.d/www.conf")" = 0:0
check "nginx: VOLUME /www, EXPOSE 80 and the LABEL" \
	jq -e '.config.Volumes == {"/www": {}} and .config.ExposedPorts == {"80/tcp": {}}
		and .config.Labels.maintainer == "Erik Hollensbe <erik@hollensbe.org>"' <(image_config real-nginx:1)
check "znc: the ADDed directory keeps its tree" test -d "$T/c-znc/rootfs/.znc/configs"
check "weechat: RUN wrote /.zshenv" grep -qx 'export TERM=screen-256color' "$T/c-weechat/rootfs/.zshenv"
check "a rebuild is all cache hits" bash -c \
	"'$CAIRN' build -t real-znc:1 '$T/ctx/znc' >'$T/re.out' 2>&1 && grep -q -- '--> CACHED' '$T/re.out' && ! grep -q -- '--> layer' '$T/re.out'"

# ---- buildah, side by side ---------------------------------------------
if ! command -v buildah >/dev/null; then
	skip "the same Dockerfiles with buildah" "buildah is not installed"
	check "store consistent" store_is_consistent
	finish
fi
bw=$T/buildah
mkdir -p "$bw/tmp" "$bw/networks"
cat >"$bw/containers.conf" <<EOF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_config_dir = "$bw/networks"
EOF
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/runroot"\n' "$bw" "$bw" >"$bw/storage.conf"
echo 'unqualified-search-registries = []' >"$bw/registries.conf"
echo '{ "default": [ { "type": "insecureAcceptAnything" } ] }' >"$bw/policy.json"
bah() {
	env -u BUILDAH_LAYERS -u BUILDAH_ISOLATION -u BUILDAH_FORMAT -u STORAGE_DRIVER -u STORAGE_OPTS \
		CONTAINERS_CONF="$bw/containers.conf" CONTAINERS_STORAGE_CONF="$bw/storage.conf" \
		CONTAINERS_REGISTRIES_CONF="$bw/registries.conf" TMPDIR="$bw/tmp" \
		buildah --root "$bw/root" --runroot "$bw/runroot" --storage-driver overlay "$@"
}
# buildah names an image pulled from a layout after the layout's path; copy
# the base out under a lowercase name first.
skopeo copy --quiet "oci:$CAIRN_ROOT:ubuntu:14.04" "oci:$T/base:ubuntu" &&
	id=$(cd "$T" && bah pull -q --signature-policy "$bw/policy.json" oci:base:ubuntu) &&
	bah tag "$id" ubuntu:14.04 >/dev/null 2>&1
check "buildah has the same base image" bah inspect --type image ubuntu:14.04

# listing ROOT: one line per path outside the run-specific places: path,
# type, mode, owner, link target; then the sha256 of the programs and
# ADDed files named after ROOT. buildah leaves empty /etc/hostname, hosts
# and resolv.conf (mode 0755) in its images, docker and cairn do not: those
# three are left out.
listing() {
	local r=$1 f; shift
	(cd "$r" && find . \( -path ./var/lib/apt/lists -o -path ./var/cache -o -path ./var/log \
		-o -path ./tmp -o -path ./run -o -path ./var/lib/dpkg/info -o -name '*-old' \
		-o -path ./etc/hostname -o -path ./etc/hosts -o -path ./etc/resolv.conf \) -prune -o \
		-printf '%p %y %m %U:%G %l\n' | LC_ALL=C sort)
	for f in "$@"; do printf '%s ' "$f"; sha256sum <"$r/$f" | cut -d' ' -f1; done
}

conf='.config | {Cmd, Env, ExposedPorts, Volumes, Labels: ((.Labels // {}) | del(."io.buildah.version"))}'
# Two of them: each build downloads its packages again, minutes per image.
for n in znc nginx; do
	if ! (cd "$T/ctx/$n" && bah bud --layers --pull=never --network host --isolation oci \
		--signature-policy "$bw/policy.json" -t "real-$n:1" .) >"$T/b-$n.log" 2>&1; then
		fail "$n: buildah builds it too"; sed 's/^/#   /' "$T/b-$n.log" | tail -10; continue
	fi
	rm -rf "$T/b-oci-$n" "$T/b-$n"
	bah push --quiet "real-$n:1" "oci:$T/b-oci-$n:t" >/dev/null 2>&1 &&
		umoci unpack --image "$T/b-oci-$n:t" "$T/b-$n" >/dev/null ||
		{ fail "$n: buildah's image unpacks"; continue; }
	listing "$T/c-$n/rootfs" "${prog[$n]#/}" "${added[$n]}" >"$T/c-$n.list"
	listing "$T/b-$n/rootfs" "${prog[$n]#/}" "${added[$n]}" >"$T/b-$n.list"
	if diff "$T/b-$n.list" "$T/c-$n.list" >"$T/d-$n"; then
		pass "$n: cairn's root filesystem equals buildah's ($(wc -l <"$T/c-$n.list") paths)"
	else
		fail "$n: cairn's root filesystem equals buildah's (< buildah, > cairn)"
		sed 's/^/#   /' "$T/d-$n" | head -20
	fi
	# buildah labels its images with its version (io.buildah.version).
	check "$n: the same config (Cmd, Env, ExposedPorts, Volumes, Labels)" test \
		"$(image_config "real-$n:1" | jq -cS "$conf")" = "$(bah inspect --type image "real-$n:1" | jq -cS ".OCIv1 | $conf")"
done
awk -v w="$bw/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
	while read -r m; do umount -l "$m" 2>/dev/null || true; done
check "store consistent" store_is_consistent
finish
