#!/bin/bash
# The store's scratch directory tmp/ carries ext4's top-directory flag
# (lsattr: T), so step directories spread over block groups; a store on a
# file system without the flag (tmpfs, xfs) still builds.
. "$(dirname "$0")/lib.sh"

has_T() {   # DIR: lsattr shows the top-directory flag
	lsattr -d "$1" 2>/dev/null | awk '{ exit !($1 ~ /T/) }'
}

build_busybox || finish
mkdir -p "$T/many"
printf 'FROM busybox\nRUN mkdir /d && cd /d && for i in $(seq 300); do echo "$i" > "f$i"; done\n' |
	buildfile "$T/many"

if [ "$(stat -f -c %T "$CAIRN_ROOT")" != ext2/ext3 ]; then
	skip "tmp/ has the top-directory flag" "the test store is not on ext4"
	skip "an older store's tmp/ gets the flag when opened" "the test store is not on ext4"
elif ! command -v lsattr >/dev/null || ! command -v chattr >/dev/null; then
	skip "tmp/ has the top-directory flag" "no lsattr/chattr (e2fsprogs)"
	skip "an older store's tmp/ gets the flag when opened" "no lsattr/chattr (e2fsprogs)"
else
	check "tmp/ has the top-directory flag" has_T "$CAIRN_ROOT/tmp"
	chattr -T "$CAIRN_ROOT/tmp"
	expect_ok "images on a store made before the flag" images
	check "an older store's tmp/ gets the flag when opened" has_T "$CAIRN_ROOT/tmp"
fi
expect_ok "a step creating many files builds" build -q -t many:1 "$T/many"
run_cairn run --rm many:1 sh -c 'ls /d | wc -l'
check "the step's files are in the image" test "$(tr -d ' \n' <"$T/out")" = 300
check "no scratch dir left" no_tmp_left
check "no step dir has the flag (it is not inherited)" \
	sh -c "! lsattr -d '$CAIRN_ROOT'/snapshots/* 2>/dev/null | awk '\$1 ~ /T/' | grep -q ."

# Other file systems: the flag is refused or unknown, nothing else changes.
other_fs() {   # NAME MOUNT-ARGS...
	local name=$1 dir=$T/$1; shift
	mkdir -p "$dir"
	if ! mount "$@" "$dir" 2>/dev/null; then
		skip "a store on $name builds" "cannot mount $name"
		return
	fi
	CAIRN_ROOT=$dir/store build_busybox &&
		CAIRN_ROOT=$dir/store expect_ok "a store on $name builds a step" build -q -t many:1 "$T/many"
	CAIRN_ROOT=$dir/store check "a store on $name: no scratch dir left" no_tmp_left
	umount "$dir"
}
other_fs tmpfs -t tmpfs -o size=64m tmpfs
if command -v mkfs.xfs >/dev/null; then
	truncate -s 320m "$T/xfs.img"
	if mkfs.xfs -q "$T/xfs.img" 2>/dev/null; then
		other_fs xfs -o loop "$T/xfs.img"
	else
		skip "a store on xfs builds" "mkfs.xfs failed"
	fi
else
	skip "a store on xfs builds" "no mkfs.xfs (xfsprogs)"
fi
check "no mount left" no_mounts_left
finish
