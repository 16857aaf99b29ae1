# find_test_kernel: prints the path of a vmlinuz-VERSION for the qemu boot
# tests (sourced). /boot's when its modules are installed; else Debian's
# kernel package (the one linux-image-amd64 depends on), downloaded with
# apt-get once and unpacked into build/test-kernel/ of the source tree,
# shared by every build variant and kept between runs.
find_test_kernel() {
	local k v cache pkg tmp
	for k in /boot/vmlinuz-*; do
		[ -r "$k" ] || continue
		v=${k#/boot/vmlinuz-}
		[ -d "/lib/modules/$v/kernel" ] && { echo "$k"; return 0; }
	done
	cache=$REPO_DIR/build/test-kernel
	for k in "$cache"/pkg/boot/vmlinuz-*; do
		[ -r "$k" ] && { echo "$k"; return 0; }
	done
	command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
		{ echo "no kernel in /boot and no apt-get to download one" >&2; return 1; }
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { echo "apt knows no linux-image-amd64 (apt-get update?)" >&2; return 1; }
	mkdir -p "$REPO_DIR/build"
	tmp=$(mktemp -d "$REPO_DIR/build/.test-kernel.XXXXXX") || return 1
	# The unpacked tree appears under its name only when complete.
	if (cd "$tmp" && apt-get download -q "$pkg" >&2 && dpkg-deb -x ./*.deb pkg && rm -f ./*.deb) &&
		mv -T "$tmp" "$cache" 2>/dev/null; then
		for k in "$cache"/pkg/boot/vmlinuz-*; do
			[ -r "$k" ] && { echo "$k"; return 0; }
		done
	fi
	rm -rf "$tmp"
	for k in "$cache"/pkg/boot/vmlinuz-*; do   # another run got there first
		[ -r "$k" ] && { echo "$k"; return 0; }
	done
	echo "could not download and unpack $pkg" >&2
	return 1
}
