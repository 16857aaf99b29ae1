#!/bin/bash
# make torture: kill -9 cairn at random moments of build, pull, push, prune,
# save, load, rollback and builds exporting to or importing from a shared
# build cache (--cache-to, --cache-from), and after every kill check what a user would
# rely on: `cairn fsck` finds nothing, every blob hashes to its name, every
# tag points at a whole image, no mount is left, and a follow-up build
# works. Not part of make check (it takes minutes); prints the number of
# kills that landed while a command was running, the number of clean
# stores, and each failure.
#
#   TORTURE_KILLS=200   kills that must land (the loop stops there)
#   TORTURE_SEED=N      for a repeatable sequence of operations and delays
#   TORTURE_LOG=FILE    the details of each failure (default: under /tmp)
. "$(dirname "$0")/../integration/lib.sh"
. "$TESTS_DIR/integration/registry.sh"

want=${TORTURE_KILLS:-200}
RANDOM=${TORTURE_SEED:-$$}
log=${TORTURE_LOG:-/tmp/cairn-torture.$$.log}
: >"$log"

build_busybox || finish
start_registry none || { fail "start the registry"; finish; }
TLS=(--cert-dir "$REG_CERTS")

# Contexts: "work" makes two fresh layers each time (8 MB of random bytes
# and a copied tree), so a build, a push and a save always move data.
mkdir -p "$T/work/tree"
for i in $(seq 200); do echo "file $i" >"$T/work/tree/f$i"; done
printf 'FROM busybox\nCOPY tree /tree\nRUN head -c 8000000 /dev/urandom > /rand && echo $RANDOM > /n\n' |
	buildfile "$T/work"
printf 'FROM busybox\nRUN echo follow-up > /f\n' | buildfile "$T/follow"

cairn() { "$CAIRN" "$@"; }

# A pulled or loaded image is only work if its blobs are gone first.
forget() {   # TAG...
	cairn rmi "$@" >/dev/null 2>&1
	cairn prune -a >/dev/null 2>&1
}

prepare() {   # OP: state the operation needs, made before the timer starts
	case $1 in
	build) ;;
	pull) forget "$REG/torture:src" ;;
	push) cairn build -q --no-cache -t torture:push "$T/work" >/dev/null 2>&1 ;;
	prune) cairn build -q --no-cache -t torture:garbage "$T/work" >/dev/null 2>&1
		cairn rmi torture:garbage >/dev/null 2>&1 ;;
	save) rm -f "$T/out.tar" ;;
	load) forget torture:saved ;;
	rollback) cairn tag torture:src torture:rb >/dev/null 2>&1
		cairn tag torture:push torture:rb >/dev/null 2>&1 ;;
	cacheto) ;;
	# Nothing of the cache's in the store: every hit fetches its layers.
	cachefrom) rm -f "$CAIRN_ROOT"/cache/[0-9a-f]*; forget torture:fromcache ;;
	esac
}

start_op() {   # OP: runs cairn itself in the background (pid is cairn's
	# own, so the kill lands on it, not on a subshell that would leave it
	# running), sets pid
	local args
	case $1 in
	build) args=(build -q --no-cache -t torture:built "$T/work") ;;
	pull) args=(pull "${TLS[@]}" "$REG/torture:src") ;;
	push) args=(push "${TLS[@]}" torture:push "$REG/torture:pushed-$RANDOM") ;;
	prune) args=(prune -a) ;;
	save) args=(save -o "$T/out.tar" torture:src) ;;
	load) args=(load -q -i "$T/saved.tar") ;;
	rollback) args=(rollback torture:rb) ;;
	cacheto) args=(build -q --no-cache "${TLS[@]}" --cache-to "type=registry,ref=$REG/torture/cache:c,mode=max"
		-t torture:cacheto "$T/work") ;;
	cachefrom) args=(build -q "${TLS[@]}" --cache-from "$REG/torture/cache:c" -t torture:fromcache "$T/work") ;;
	esac
	"$CAIRN" "${args[@]}" >/dev/null 2>&1 &
	pid=$!
}

# How long each operation takes unkilled: kills land uniformly inside it.
declare -A took_ms
ops=(build pull push prune save load rollback cacheto cachefrom)
now_ms() { date +%s%3N; }
calibrate() {   # (its stderr, e.g. push progress, goes to a file)
	cairn build -q -t torture:src "$T/work" >/dev/null &&
	cairn push "${TLS[@]}" torture:src "$REG/torture:src" >/dev/null &&
	cairn build -q -t torture:push "$T/work" >/dev/null &&
	cairn save -o "$T/saved.tar" torture:src >/dev/null &&
	cairn tag torture:src torture:saved >/dev/null || return 1
	local op t0 st
	for op in "${ops[@]}"; do
		prepare "$op"
		t0=$(now_ms)
		start_op "$op"
		wait "$pid"; st=$?
		took_ms[$op]=$(( $(now_ms) - t0 ))
		[ "$st" -eq 0 ] || { echo "$op fails unkilled (status $st)"; return 1; }
		echo "# $op takes ${took_ms[$op]} ms"
	done
}
calibrate 2>"$T/calibrate.err" || { fail "the operations work unkilled"; sed 's/^/#   /' "$T/calibrate.err"; finish; }

# After a kill: the checks a user relies on. Prints what is wrong.
store_ok() {
	local out
	no_mounts_left || echo "a mount is left under $T"
	out=$(cairn fsck 2>&1) || echo "fsck: $out"
	store_is_consistent || true
	out=$(cairn build -q -t torture:follow "$T/follow" 2>&1) || echo "follow-up build: $out"
	# The shared cache a killed export was writing is still whole: an
	# import reads it without a warning.
	if [ "$op" = cacheto ]; then
		out=$(cairn build -q "${TLS[@]}" --cache-from "$REG/torture/cache:c" -t torture:follow "$T/follow" 2>&1) ||
			echo "build with --cache-from: $out"
		grep -q '^warning: --cache-from' <<<"$out" && echo "the cache is damaged: $out"
	fi
}

landed=0 clean=0 attempts=0 failed=0
declare -A per_op
while [ "$landed" -lt "$want" ] && [ "$attempts" -lt $((want * 4)) ]; do
	attempts=$((attempts + 1))
	op=${ops[RANDOM % ${#ops[@]}]}
	prepare "$op"
	delay_ms=$(( (RANDOM * 32768 + RANDOM) % (took_ms[$op] + 1) ))
	start_op "$op"
	sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null; st=$?
	# Only a kill that found the command running counts.
	[ "$st" -eq 137 ] || continue
	# (A step's processes die with it: allow them a moment.)
	for _ in 1 2 3 4 5 6 7 8 9 10; do pgrep -f "^$CAIRN " >/dev/null || break; sleep 0.2; done
	if pgrep -f "^$CAIRN " >/dev/null; then
		echo "# a cairn process outlived the kill: the test is broken"; pgrep -af "^$CAIRN "
		fail "torture: the kill did not land on cairn"; finish
	fi
	landed=$((landed + 1))
	per_op[$op]=$(( ${per_op[$op]:-0} + 1 ))
	problems=$(store_ok)
	if [ -z "$problems" ]; then
		clean=$((clean + 1))
	else
		failed=$((failed + 1))
		{ echo "kill $landed: $op after ${delay_ms} ms"; echo "$problems"; echo; } >>"$log"
		echo "# kill $landed ($op after ${delay_ms} ms) left a problem:"
		echo "$problems" | head -5 | sed 's/^/#   /'
		# Let the next round start from a store cairn itself can repair.
		cairn fsck --repair >/dev/null 2>&1
	fi
done
stop_registry

summary=""
for op in "${ops[@]}"; do summary="$summary $op=${per_op[$op]:-0}"; done
echo "# kills per operation:$summary"
echo "# $attempts attempts, $landed kills landed while a command ran, $clean clean stores, $failed with problems"
[ "$failed" -eq 0 ] || echo "# details: $log"
if [ "$landed" -ge "$want" ] && [ "$failed" -eq 0 ]; then
	pass "torture: $landed kills, $clean clean stores"
else
	fail "torture: $landed of $want kills landed, $failed left problems"
fi
finish
