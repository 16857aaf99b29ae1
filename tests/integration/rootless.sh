# Running cairn as a throw-away user (sourced by the rootless tests after
# lib.sh): no capabilities, a clean environment, in the user's home. The
# test installs $T/cairn, a copy of $CAIRN every user may run.

# as USER CMD...: EXTRA_ENV adds to the environment; with AS_CGROUP set (a
# cgroup v2 directory), root first moves the process there, as systemd
# puts a unit's processes in its cgroup.
as() {
	local u=$1 h
	shift
	h=$(getent passwd "$u" | cut -d: -f6)
	(cd "$h" && { [ -z "${AS_CGROUP:-}" ] || echo "$BASHPID" >"$AS_CGROUP/cgroup.procs"; } &&
		exec setpriv --reuid="$u" --regid="$u" --init-groups --inh-caps=-all \
		env -i HOME="$h" USER="$u" LOGNAME="$u" PATH=/usr/sbin:/usr/bin:/sbin:/bin ${EXTRA_ENV:-} "$@")
}
# lib.sh's run_cairn (so expect_ok and expect_fail) as AS_USER when set.
run_cairn() {
	if [ -n "${AS_USER:-}" ]; then
		as "$AS_USER" "$T/cairn" "$@"
	else
		"$CAIRN" "$@"
	fi >"$T/out" 2>"$T/err"
	status=$?
}
rl() { local u=$1; shift; AS_USER=$u run_cairn "$@"; }
rl_ok() { local desc=$1 u=$2; shift 2; AS_USER=$u expect_ok "$desc" "$@"; }
rl_fail() { local desc=$1 want=$2 substr=$3 u=$4; shift 4; AS_USER=$u expect_fail "$desc" "$want" "$substr" "$@"; }
