#!/bin/bash
# examples/debian/build.sh: the Debian 12 (bookworm) base image, tagged
# debian:12 and debian:bookworm.
#
# debootstrap --variant=minbase fills a root from the Debian mirror, which is
# tidied (no device nodes, host files, logs, downloaded packages or package
# lists) and packed as a tar; the Buildfile next to this script ADDs that tar
# to an empty image. The tar is cached (DEBIAN_CACHE, default build/debian in
# the source tree) so that only the first run needs debootstrap and the
# network; delete it to get a fresh snapshot of the archive.
#
#   CAIRN=build/cairn examples/debian/build.sh [extra cairn build flags]
#   DEBIAN_MIRROR=http://mirror.example/debian ...   another mirror
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CAIRN=${CAIRN:-cairn}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${DEBIAN_CACHE:-$repo/build/debian}
arch=$(dpkg --print-architecture)
ctx=$cache/$suite-minbase-$arch
tar=$ctx/rootfs.tar

if [ "$(id -u)" -ne 0 ]; then
	echo "debian: debootstrap and cairn build need root" >&2
	exit 1
fi

# Removes what debootstrap leaves that does not belong in an image.
tidy() {   # ROOT
	local r=$1
	# Device nodes: a build or a runtime mounts its own /dev.
	find "$r/dev" -mindepth 1 -delete
	# Host files debootstrap copied in (the host's name and name server).
	rm -f "$r/etc/hostname" "$r/etc/resolv.conf"
	# The single-suite sources.list: debian.sources (Buildfile) replaces it.
	rm -f "$r/etc/apt/sources.list"
	# Downloaded packages, package lists and apt's binary caches: stale the
	# day after; 'apt-get update' fetches fresh ones.
	find "$r/var/cache/apt" "$r/var/lib/apt/lists" -type f -delete
	# Logs of the bootstrap and backup copies of dpkg and debconf state.
	rm -f "$r"/var/log/*.log "$r"/var/lib/dpkg/*-old "$r"/var/cache/debconf/*-old
	: >"$r/var/log/lastlog"; : >"$r/var/log/wtmp"; : >"$r/var/log/btmp"
}

if [ ! -s "$tar" ]; then
	command -v debootstrap >/dev/null || { echo "debian: debootstrap is not installed" >&2; exit 1; }
	mkdir -p "$cache"
	work=$(mktemp -d "$cache/work.XXXXXX")
	# debootstrap unmounts what it mounted even when it fails; never cross a
	# mount left behind anyway.
	trap 'rm -rf --one-file-system "$work"' EXIT
	echo "debian: debootstrap --variant=minbase $suite from $mirror (once; cached in $tar)"
	start=$(date +%s)
	debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
		tail -20 "$work/debootstrap.log" >&2
		echo "debian: debootstrap failed" >&2
		exit 1
	}
	tidy "$work/rootfs"
	# Numeric owners, sorted entries, xattrs (file capabilities) kept.
	tar --numeric-owner --sort=name --xattrs --xattrs-include='*' \
		-C "$work/rootfs" -cf "$work/rootfs.tar" .
	mkdir -p "$ctx"
	mv "$work/rootfs.tar" "$tar"   # atomic: a tar in the cache is complete
	echo "debian: rootfs.tar ready in $(($(date +%s) - start)) s ($(du -h "$tar" | cut -f1))"
fi

"$CAIRN" build -f "$here/Buildfile" -t debian:12 -t debian:bookworm "$@" "$ctx"
