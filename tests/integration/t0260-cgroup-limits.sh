#!/bin/bash
# --memory, --pids-limit and --cpus on RUN steps: a cgroup per step with the
# limits, an OOM kill reported as 137, and no cgroup left afterwards. This
# machine runs cgroup v1; v2 shares everything but the file names (unit-tested).
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# The cgroups a cairn process (pid $1) made: named <pid>-step-... or run-<pid>-...
cgroups_of() {
	find /sys/fs/cgroup -maxdepth 8 -type d \( -name "$1-*" -o -name "run-$1-*" \) 2>/dev/null
}

# Memory: touching 300 MB under a 64 MB limit is killed.
mkdir -p "$T/mem"
printf 'FROM busybox\nRUN head -c 300m /dev/zero | tail >/dev/null\n' | buildfile "$T/mem"
"$CAIRN" build --memory 64m "$T/mem" >"$T/out" 2>"$T/err" &
pid=$!
wait $pid
status=$?
check "--memory 64m: the step fails" test "$status" -eq 1
check "--memory 64m: says the step ran out of memory, with 137" \
	grep -q "RUN: out of memory: a process was killed at the --memory limit (exit status 137)" "$T/err"
check "--memory: no cgroup left" test -z "$(cgroups_of $pid)"
expect_ok "--memory 512m: the same step fits" build --memory 512m "$T/mem"

# Pids: a fork loop stops at the limit.
mkdir -p "$T/pids"
marker=$((900000 + RANDOM))
printf 'FROM busybox\nRUN i=0; while [ $i -lt 100 ]; do sleep %s & i=$((i+1)); done\n' "$marker" | buildfile "$T/pids"
"$CAIRN" build --pids-limit 20 "$T/pids" >"$T/out" 2>"$T/err" &
pid=$!
wait $pid
status=$?
check "--pids-limit 20: the fork loop fails" test "$status" -eq 1
check "--pids-limit 20: fork is refused" grep -q "can't fork" "$T/err"
check "--pids-limit: no cgroup left" test -z "$(cgroups_of $pid)"
check "--pids-limit: no sleeper left" test -z "$(pgrep -f "sleep $marker")"

# CPU: the quota is in the container's cgroup while it runs.
"$CAIRN" run --cpus 0.5 --pids-limit 50 busybox sleep 1000 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -n "$(cgroups_of $pid)" ] && break; sleep 0.1; done
quota=$(for d in $(cgroups_of $pid); do cat "$d/cpu.cfs_quota_us" 2>/dev/null || cut -d' ' -f1 "$d/cpu.max" 2>/dev/null; done)
pmax=$(for d in $(cgroups_of $pid); do cat "$d/pids.max" 2>/dev/null; done)
check "--cpus 0.5: cpu.cfs_quota_us is 50000" test "$quota" = 50000
check "--pids-limit 50: pids.max is 50" test "$pmax" = 50
kill -TERM $pid
wait $pid
check "run: its cgroups are gone after it stopped" test -z "$(cgroups_of $pid)"
mkdir -p "$T/cpu"
printf 'FROM busybox\nRUN true\n' | buildfile "$T/cpu"
expect_ok "--cpus 0.5 runs a step" build --no-cache --cpus 0.5 "$T/cpu"

expect_fail "--memory with a bad unit" 2 "--memory: '12x' is not a valid limit" build --memory 12x "$T/cpu"
expect_fail "--cpus 0 is refused" 2 "--cpus: '0' is not a valid limit" build --cpus 0 "$T/cpu"
expect_fail "--pids-limit -1 is refused" 2 "--pids-limit: '-1' is not a valid limit" build --pids-limit -1 "$T/cpu"

# cairn run: the same limits.
"$CAIRN" run --memory 64m busybox sh -c 'head -c 300m /dev/zero | tail >/dev/null; exit 0' >"$T/out" 2>"$T/err" &
pid=$!
wait $pid
status=$?
check "run --memory 64m: exit status 137" test "$status" -eq 137
check "run --memory: no cgroup left" test -z "$(cgroups_of $pid)"
check "run --memory 64m: a clear message" grep -q "out of memory: the container was killed at its --memory limit" "$T/err"
run_cairn run --pids-limit 10 busybox sh -c 'for i in $(seq 30); do sleep 30 & done; wait'
check "run --pids-limit 10: fork refused" grep -q "can't fork" "$T/err"
check "store consistent" store_is_consistent
finish
