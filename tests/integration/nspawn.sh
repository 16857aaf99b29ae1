# shellcheck shell=bash
# systemd-nspawn in a cgroup of the test's own (sourced after lib.sh).
# With --keep-unit and no systemd as pid 1, nspawn makes two cgroups below
# its own, 'supervisor' (itself) and 'payload' (the container), and nothing
# removes them when it ends: run from the root cgroup it would leave
# /payload and /supervisor behind, shared by every test. nspawn_cg_enter
# moves a shell into the test's cgroup (named after $T) in each hierarchy
# nspawn uses; nspawn_cg_remove kills what is left and removes them.

# The unified hierarchy (/sys/fs/cgroup/unified on a hybrid host,
# /sys/fs/cgroup on a v2 one) and systemd's named v1 one (hybrid, legacy).
nspawn_cg_roots=()
if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
	nspawn_cg_roots+=(/sys/fs/cgroup/unified)
elif [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	nspawn_cg_roots+=(/sys/fs/cgroup)
fi
if [ "$(stat -fc %T /sys/fs/cgroup/systemd 2>/dev/null)" = cgroupfs ]; then
	nspawn_cg_roots+=(/sys/fs/cgroup/systemd)
fi
nspawn_cg=$(basename "$T")

# nspawn_cg_enter PID: PID (a shell that starts nspawn) into the cgroups.
nspawn_cg_enter() {
	local r
	for r in "${nspawn_cg_roots[@]}"; do
		mkdir -p "$r/$nspawn_cg" && echo "$1" >"$r/$nspawn_cg/cgroup.procs" || return 1
	done
}

# nspawn_cg_script [PID-EXPR]: a line that does nspawn_cg_enter for the
# shell that runs it ($$, or $BASHPID in a subshell), for a script of a test.
nspawn_cg_script() {
	echo "for r in ${nspawn_cg_roots[*]}; do mkdir -p \"\$r/$nspawn_cg\" &&" \
		"echo ${1:-\$\$} >\"\$r/$nspawn_cg/cgroup.procs\" || exit 99; done"
}

# nspawn_cg_pids: the processes left in the cgroups (all the test's).
nspawn_cg_pids() {
	local r
	for r in "${nspawn_cg_roots[@]}"; do
		[ -d "$r/$nspawn_cg" ] && find "$r/$nspawn_cg" -name cgroup.procs -exec cat {} +
	done | sort -u
}

# nspawn_cg_kill: kills what is left after a failure.
nspawn_cg_kill() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ -z "$(nspawn_cg_pids)" ] && return 0
		# shellcheck disable=SC2046 # one pid a word
		kill -KILL $(nspawn_cg_pids) 2>/dev/null
		sleep 0.1
	done
}

# nspawn_cg_remove: kills what is left, removes the cgroups; fails when
# one stays.
nspawn_cg_remove() {
	local r
	nspawn_cg_kill
	for r in "${nspawn_cg_roots[@]}"; do
		[ -d "$r/$nspawn_cg" ] && find "$r/$nspawn_cg" -depth -type d -exec rmdir {} +
	done
	for r in "${nspawn_cg_roots[@]}"; do
		[ ! -d "$r/$nspawn_cg" ] || return 1
	done
}
trap 'nspawn_cg_remove; cleanup_test_dir' EXIT
