# Helpers for tests of detached containers (sourced after lib.sh and
# build_busybox-style set-up): whatever a failing check leaves running must
# not outlive the test, so sourcing this sets the EXIT trap.

kill_containers() {
	local d
	for d in "$CAIRN_ROOT"/containers/*/; do
		[ -f "$d/config.json" ] || continue
		"$CAIRN" rm -f "$(jq -r .id "$d/config.json")" >/dev/null 2>&1
	done
}
trap 'kill_containers; cleanup_test_dir' EXIT

# wait_for DESC CMD...: up to 10 s for CMD to succeed (a bound, not a timing check).
wait_for() {
	local desc=$1 i; shift
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && { pass "$desc"; return 0; }
		sleep 0.1
	done
	fail "$desc"
}
state() {   # NAME FIELD: a field of the container's config.json
	local d
	for d in "$CAIRN_ROOT"/containers/*/config.json; do
		[ "$(jq -r .name "$d")" = "$1" ] && jq -r "$2" "$d" && return 0
	done
	return 1
}
logs_have() { "$CAIRN" logs "$1" | grep -q "$2"; }
