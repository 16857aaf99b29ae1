# Sourced by bench scripts: buildah configured by bench-owned files only,
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
