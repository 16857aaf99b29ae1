# Helpers for the --platform tests (sourced after lib.sh). Sets host_arch
# (this machine as OCI names it) and other (arm64, or amd64 on an arm64
# host).
host_arch=$(uname -m)
case $host_arch in x86_64) host_arch=amd64 ;; aarch64) host_arch=arm64 ;; esac
other=arm64; [ "$host_arch" = arm64 ] && other=amd64

# True when arm64 binaries run here: an enabled qemu-aarch64 binfmt_misc
# entry with the F flag (Debian: qemu-user-static, update-binfmts --enable).
arm64_emulated() {
	local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
	[ "$host_arch" = amd64 ] && [ -r "$entry" ] && grep -qx enabled "$entry" && grep -q '^flags:.*F' "$entry"
}

# Debian's arm64 busybox-static, of the host's version, from the mirror;
# kept across runs in $CAIRN_TEST_CACHE. Prints its path; fails when it
# cannot be had.
arm64_busybox() {
	local cache=${CAIRN_TEST_CACHE:-/var/tmp/cairn-test-cache} ver deb
	local bb=$cache/busybox-static-arm64
	if ! [ -x "$bb" ]; then
		mkdir -p "$cache" || return 1
		ver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null)
		ver=${ver#*:}
		deb=$T/busybox-arm64.deb
		if { (cd "$T" && apt-get download -qq "busybox-static:arm64" >/dev/null 2>&1 &&
		      mv busybox-static_*_arm64.deb "$deb") ||
		     curl -fsSL -o "$deb" "http://deb.debian.org/debian/pool/main/b/busybox/busybox-static_${ver}_arm64.deb"; } &&
		   dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./bin/busybox >"$bb.tmp" && chmod 755 "$bb.tmp"; then
			mv "$bb.tmp" "$bb"
		else
			rm -f "$bb.tmp"
			return 1
		fi
	fi
	echo "$bb"
}
