# Sourced by bench scripts (run.sh, cache.sh): what buildah needs around it.

# System paths buildah writes for root whatever its configuration: those
# missing now are removed again by buildah_clean_system (call this before
# buildah first runs).
buildah_note_system() {
	sys_cleanup=()
	[ -e /var/lib/containers ] || sys_cleanup+=(/var/lib/containers)
	[ -e /run/containers ] || sys_cleanup+=(/run/containers)
}
buildah_clean_system() {
	local p
	for p in "${sys_cleanup[@]}"; do
		case $p in
		/var/lib/containers) rm -f "$p/cache/blob-info-cache-v1.boltdb"; rmdir "$p/cache" "$p" 2>/dev/null || true ;;
		/run/containers) rmdir "$p/networks" "$p" 2>/dev/null || true ;;
		esac
	done
}
# The overlay mounts a failed or interrupted build left under DIR.
unmount_under() {
	local m
	awk -v w="$1/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# Buildah configured by bench-owned files only,
# under $work (runc, cgroupfs: buildah's default, systemd, needs systemd as
# PID 1; the overlay driver; explicit registries and policy files, so that
# no system or user setting changes what is measured and no registry is
# asked unless named). buildah_env [REGISTRY]: REGISTRY (host:port) is
# marked insecure (plain http).
buildah_env() {
	cat >"$work/containers.conf" <<EOC
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
# Not /etc/containers/networks, which buildah creates even for --network host.
network_config_dir = "$work/networks"
EOC
	cat >"$work/storage.conf" <<EOC
[storage]
driver = "overlay"
graphroot = "$work/buildah-unused/root"
runroot = "$work/buildah-unused/runroot"
EOC
	echo 'unqualified-search-registries = []' >"$work/registries.conf"
	if [ -n "${1:-}" ]; then
		printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$1" >>"$work/registries.conf"
	fi
	echo '{ "default": [ { "type": "insecureAcceptAnything" } ] }' >"$work/policy.json"
	export CONTAINERS_CONF=$work/containers.conf
	export CONTAINERS_STORAGE_CONF=$work/storage.conf
	export CONTAINERS_REGISTRIES_CONF=$work/registries.conf
	export TMPDIR=$work/tmp
	mkdir -p "$TMPDIR"
	# Variables that would change buildah's behaviour behind our back.
	unset BUILDAH_LAYERS BUILDAH_ISOLATION BUILDAH_FORMAT BUILDAH_RUNTIME STORAGE_DRIVER STORAGE_OPTS
}

# bah ARGS...: buildah on the current private storage ($broot).
bah() {
	buildah --root "$broot/root" --runroot "$broot/runroot" --storage-driver overlay "$@"
}

# Remove the private storage $broot (its mounts first).
drop_buildah() {
	[ -n "$broot" ] && [ -d "$broot" ] || return 0
	unmount_under "$broot"
	rm -rf "$broot"
}
