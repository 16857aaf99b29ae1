#!/bin/bash
# Health checks and labels of detached containers (issue 13, what compose
# needs): --health-cmd (shell and JSON exec forms) flips a container from
# "starting" to healthy once a file appears and to unhealthy after
# --health-retries failures; the image's HEALTHCHECK runs unless a flag
# overrides it (--no-healthcheck: none); a check past --health-timeout is
# killed and fails; output is kept (4 KiB) in the last 5 results, as
# docker's State.Health; ps shows "Up ... (healthy)" and filters by
# label=, name=, status=, health=; --format {{.Labels}} and {{.Label "k"}}.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"
. "$(dirname "$0")/rootless.sh"

U=cnhc$$
rootless_extra_cleanup() { kill_containers; }
health_cleanup() {
	if id -u "$U" >/dev/null 2>&1; then
		as "$U" "$T/cairn" rm -f rlh >/dev/null 2>&1
	fi
	rootless_cleanup
}
trap health_cleanup EXIT

build_busybox || finish
health() { "$CAIRN" inspect --type container -f '{{.State.Health.Status}}' "$1"; }
health_is() { [ "$(health "$1")" = "$2" ]; }
ps_status() { "$CAIRN" ps --format '{{.Names}} {{.Status}}' | awk -v n="$1" '$1 == n { $1 = ""; print substr($0, 2) }'; }

# ---- usage errors (docker's 125) ----
expect_fail "--no-healthcheck with --health-cmd is refused" 125 "conflicts with --health-*" \
	run -d --no-healthcheck --health-cmd true busybox true
expect_fail "--health-interval needs a unit" 125 "--health-interval: '5' is not a duration" \
	run -d --health-interval 5 busybox true
expect_fail "--health-retries must be a count" 125 "--health-retries" \
	run -d --health-retries -1 busybox true
expect_fail "a JSON --health-cmd must start with CMD, CMD-SHELL or NONE" 125 "a JSON list must be" \
	run -d --health-cmd '["sh","-c","true"]' busybox true
expect_fail "--label needs a key" 125 "--label: '=x' has no key" run -d --label =x busybox true

# ---- starting -> healthy -> unhealthy ----
expect_ok "run -d with a health check that waits for a file" \
	run -d --name flip --health-cmd 'test -e /tmp/ready' --health-interval 200ms \
	--health-start-period 1m --health-start-interval 200ms busybox sleep 600
check "it starts as 'starting'" health_is flip starting
case "$(ps_status flip)" in
"Up "*" (health: starting)") pass "ps STATUS is 'Up ... (health: starting)'" ;;
*) fail "ps STATUS is 'Up ... (health: starting)' (got '$(ps_status flip)')" ;;
esac
sleep 1
check "failures within the start period keep it starting" health_is flip starting
"$CAIRN" exec flip touch /tmp/ready
wait_for "it turns healthy once the file is there" health_is flip healthy
case "$(ps_status flip)" in
"Up "*" (healthy)") pass "ps STATUS is 'Up ... (healthy)'" ;;
*) fail "ps STATUS is 'Up ... (healthy)' (got '$(ps_status flip)')" ;;
esac
"$CAIRN" exec flip rm /tmp/ready
wait_for "...and unhealthy after 3 failures in a row (the default retries)" health_is flip unhealthy
run_cairn inspect --type container -f '{{.State.Health.FailingStreak}} {{len .State.Health.Log}}' flip
read -r streak nlog <"$T/out"
check "the failing streak is at least 3" test "${streak:-0}" -ge 3
check "the log keeps at most 5 results" test "${nlog:-0}" -ge 1 -a "${nlog:-9}" -le 5
run_cairn inspect --type container -f '{{range .State.Health.Log}}{{.ExitCode}} {{end}}' flip
check "a failed check's exit code is recorded (1, the last result)" test "$(awk '{ print $NF }' "$T/out")" = 1

# ---- retries, output, exec form, timeout ----
expect_ok "a check that always fails, 2 retries" \
	run -d --name bad --health-cmd 'echo failing-check; exit 3' --health-interval 200ms \
	--health-retries 2 busybox sleep 600
wait_for "it turns unhealthy" health_is bad unhealthy
run_cairn inspect --type container -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' bad
check "the check's output and exit code are in the log" grep -q "^3 failing-check" "$T/out"
expect_ok "exec form: [\"CMD\", \"test\", \"-s\", \"/etc/passwd\"]" \
	run -d --name execform --health-cmd '["CMD","test","-s","/etc/passwd"]' --health-interval 200ms \
	busybox sleep 600
wait_for "...is healthy" health_is execform healthy
run_cairn inspect --type container -f '{{json .Config.Healthcheck.Test}}' execform
check "...recorded as docker's Test" test "$(cat "$T/out")" = '["CMD","test","-s","/etc/passwd"]'
expect_ok "a check that outlives its timeout" \
	run -d --name slow --health-cmd 'echo partial-out; sleep 30; echo never' --health-timeout 300ms \
	--health-interval 200ms --health-retries 1 busybox sleep 600
wait_for "...fails: unhealthy" health_is slow unhealthy
nlog_ge() { [ "$("$CAIRN" inspect --type container -f '{{len .State.Health.Log}}' "$1")" -ge "$2" ]; }
wait_for "...(two checks done)" nlog_ge slow 2
run_cairn inspect --type container -f '{{with index .State.Health.Log 0}}{{.ExitCode}}|{{.Output}}{{end}}' slow
check "...with docker's -1 and 'Health check exceeded timeout (300ms): ' and the output so far" \
	test "$(cat "$T/out")" = "-1|Health check exceeded timeout (300ms): partial-out"
run_cairn exec slow ps -o args
n=$(grep -c '^sleep 30' "$T/out")
check "...and the timed-out commands are killed, what they started too (at most the one running now)" \
	test "$n" -le 1
expect_ok "a check printing 10000 bytes" \
	run -d --name loud --health-cmd 'head -c 10000 /dev/zero | tr "\0" x' --health-interval 200ms \
	busybox sleep 600
wait_for "...is healthy" health_is loud healthy
run_cairn inspect --type container -f '{{with index .State.Health.Log 0}}{{len .Output}}{{end}}' loud
check "...its output is cut at 4096 bytes" test "$(cat "$T/out")" = 4096

# ---- the image's HEALTHCHECK ----
buildfile "$T/hc" <<'EOF2'
FROM busybox
HEALTHCHECK --interval=200ms --retries=1 CMD test -e /tmp/image-ok || exit 1
RUN touch /tmp/image-ok
EOF2
expect_ok "build an image with a HEALTHCHECK" build -q -t hc "$T/hc"
expect_ok "run -d the image" run -d --name img busybox true
expect_ok "run -d the image" run -d --name hc1 hc sleep 600
wait_for "the image's check runs: healthy" health_is hc1 healthy
run_cairn inspect --type container -f '{{index .Config.Healthcheck.Test 0}} {{.Config.Healthcheck.Interval}}' hc1
check "...CMD-SHELL with its interval" test "$(cat "$T/out")" = "CMD-SHELL 200000000"
expect_ok "--health-cmd overrides the image's test" \
	run -d --name hc2 --health-cmd 'exit 1' hc sleep 600
wait_for "...so it turns unhealthy (the image's interval and retries kept)" health_is hc2 unhealthy
expect_ok "--no-healthcheck" run -d --name hc3 --no-healthcheck hc sleep 600
run_cairn inspect --type container -f '{{.State.Health}}' hc3
check "...runs no check" test "$(cat "$T/out")" = "<no value>"
case "$(ps_status hc3)" in
*"("*) fail "...and ps shows no health (got '$(ps_status hc3)')" ;;
"Up "*) pass "...and ps shows no health" ;;
*) fail "...and ps shows no health (got '$(ps_status hc3)')" ;;
esac

# ---- the health is the current run's (--restart) ----
# A long interval once healthy: only a new run may make it "starting".
expect_ok "run -d --restart always with a check and a long interval" \
	run -d --name rs --restart always -v hc-rs:/v --health-cmd 'test -e /tmp/ok' \
	--health-interval 1h --health-start-period 1h --health-start-interval 200ms busybox \
	sh -c 'while [ ! -e /v/stop ]; do sleep 0.1; done; rm /v/stop; exit 1'
"$CAIRN" exec rs touch /tmp/ok
wait_for "it turns healthy" health_is rs healthy
first=$(state rs .init.start_time)
"$CAIRN" exec rs touch /v/stop
new_run() { s=$(state rs .init.start_time) && [ "$s" != "$first" ] && [ "$s" != 0 ] &&
	[ "$(state rs .status)" = running ]; }
wait_for "it restarts" new_run
check "after the restart it is 'starting' again at once (not the last run's healthy)" health_is rs starting
run_cairn inspect --type container -f '{{range .State.Health.Log}}{{.ExitCode}} {{end}}' rs
check "...with no result of the last run (its success)" sh -c "! grep -qw 0 '$T/out'"
expect_ok "rm -f rs" rm -f rs
expect_ok "volume rm hc-rs" volume rm hc-rs

# During --restart's back-off init is dead: no check may run (and fail).
expect_ok "run -d --restart always: a process that ends after a second, a check that succeeds" \
	run -d --name rs2 --restart always --health-cmd true --health-interval 100ms \
	--health-retries 1 busybox sh -c 'sleep 1; exit 1'
bad=""
for _ in $(seq 200); do
	out=$("$CAIRN" inspect --type container \
		-f '{{.State.Health.Status}}{{range .State.Health.Log}} {{.ExitCode}}{{end}}' rs2 2>/dev/null) || continue
	out="$(state rs2 .restart_count) $out"
	set -- $out
	[ "$2" = unhealthy ] && bad="$bad [$out]"
	shift 2
	for c in "$@"; do [ "$c" = 0 ] || bad="$bad [$out]"; done
	[ "${out%% *}" -ge 5 ] 2>/dev/null && break
	sleep 0.1
done
check "...restarted 5 times" test "${out%% *}" -ge 5
check "...never a failed check nor unhealthy through the back-offs (seen:$bad)" test -z "$bad"
expect_ok "rm -f rs2" rm -f rs2

# ---- the monitor outlives a state it cannot read for a while ----
expect_ok "run -d with a check waiting for a file" \
	run -d --name dmg --health-cmd 'test -e /tmp/ready' --health-interval 200ms busybox sleep 600
dmgid=$(state dmg .id)
cfg="$CAIRN_ROOT/containers/$dmgid/config.json"
check "...its state is there" test -n "$dmgid" -a -f "$cfg"
cp "$cfg" "$T/dmg-config.json"
echo '{"damaged' >"$cfg.tmp" && mv "$cfg.tmp" "$cfg"
sleep 1         # (rounds of the monitor that cannot read the state)
jq '.init.start_time = 0' "$T/dmg-config.json" >"$cfg.tmp" && mv "$cfg.tmp" "$cfg"
sleep 1         # (rounds with an init start time of 0)
cp "$T/dmg-config.json" "$cfg.tmp" && mv "$cfg.tmp" "$cfg"
"$CAIRN" exec dmg touch /tmp/ready
wait_for "a damaged config.json (not JSON, then init start_time 0) meanwhile: the checks go on" health_is dmg healthy
expect_ok "rm -f dmg" rm -f dmg

# ---- labels and ps filters ----
expect_ok "run -d --label a=1 -l b --label com.docker.compose.project=demo" \
	run -d --name lab --label a=1 -l b --label com.docker.compose.project=demo busybox sleep 600
run_cairn ps --filter label=a -q
check "ps --filter label=a" test "$(cat "$T/out")" = "$("$CAIRN" ps -q --filter name=lab)"
run_cairn ps --filter label=a=1 --filter label=com.docker.compose.project=demo --format '{{.Names}}'
check "ps --filter label=a=1 --filter label=...project=demo (both must match)" test "$(cat "$T/out")" = lab
run_cairn ps --filter label=a=2 -q
check "ps --filter label=a=2: none" test ! -s "$T/out"
run_cairn ps --filter label=b= --format '{{.Names}}'
check "a label without a value is K=''" test "$(cat "$T/out")" = lab
run_cairn ps --filter name=lab --format '{{.Labels}}|{{.Label "com.docker.compose.project"}}|{{.Label "nope"}}'
check "--format {{.Labels}} and {{.Label \"k\"}}" test "$(cat "$T/out")" = "a=1,b=,com.docker.compose.project=demo|demo|"
run_cairn ps --filter name=lab --format json
check "--format json has Labels, not the method" \
	sh -c "jq -e '.Labels == \"a=1,b=,com.docker.compose.project=demo\" and (has(\"Label()\") | not)' '$T/out'"
run_cairn ps --filter name=lab --format '{{json .}}'
check "...nor {{json .}}" sh -c "jq -e '.Labels == \"a=1,b=,com.docker.compose.project=demo\" and (has(\"Label()\") | not)' '$T/out'"
run_cairn ps --filter name=lab --format '{{range $k, $v := .}}{{$k}} {{end}}'
check "...nor {{range}} over the row" sh -c "! grep -q 'Label()' '$T/out' && grep -q 'Labels' '$T/out'"
run_cairn inspect --type container -f '{{.Config.Labels.a}}' lab
check "inspect shows Config.Labels" test "$(cat "$T/out")" = 1
run_cairn ps --filter health=unhealthy --format '{{.Names}}'
check "ps --filter health=unhealthy" test "$(sort "$T/out" | tr '\n' ' ')" = "bad flip hc2 slow "
run_cairn ps --filter health=none --filter name=lab --format '{{.Names}}'
check "ps --filter health=none (and name=)" test "$(cat "$T/out")" = lab
run_cairn ps --filter status=exited --format '{{.Names}}'
check "ps --filter status=exited lists exited ones without -a" test "$(cat "$T/out")" = img
run_cairn ps --filter name='^lab$' --format '{{.Names}}'
check "ps --filter name= is a regular expression (docker's): ^lab\$" test "$(cat "$T/out")" = lab
run_cairn ps --filter name='^/lab$' --format '{{.Names}}'
check "...also against docker's /NAME" test "$(cat "$T/out")" = lab
run_cairn ps --filter name='^ab$' -q
check "...anchored: ^ab\$ matches nothing" test ! -s "$T/out"
labid=$("$CAIRN" ps -q --no-trunc --filter name=lab)
run_cairn ps --filter "id=^${labid:0:6}" --filter 'id=[' --format '{{.Names}}'
check "ps --filter id= too (one that does not compile matches nothing)" test "$(cat "$T/out")" = lab
run_cairn ps -n 1 --filter name=flip --format '{{.Names}}'
check "ps -n 1 applies the filters first (docker's)" test "$(cat "$T/out")" = flip
run_cairn ps -l --filter label=a --format '{{.Names}}'
check "ps -l too" test "$(cat "$T/out")" = lab
expect_fail "an unknown filter is refused" 2 "invalid filter 'color'" ps --filter color=red
expect_fail "an unknown health value is refused" 2 "Unrecognised filter value for health: sick" \
	ps --filter health=sick

# ---- the monitor ends with the container ----
sup=$(state flip .supervisor.pid)
pids="$sup $(pgrep -P "$sup" | tr '\n' ' ')"
check "the supervisor has a child besides the container (the monitor)" test "$(pgrep -P "$sup" | wc -l)" -ge 2
expect_ok "stop a container with a check" stop -t 1 flip
run_cairn ps -a --filter name=flip --format '{{.Status}}'
check "...it exited, no health shown" grep -q '^Exited' "$T/out"
id=$("$CAIRN" ps -aq --no-trunc --filter name=flip)
left=""
# (a zombie is gone already: init reaps the supervisor when it gets to it)
for p in $pids; do grep -qE '^State:\s+[^Z]' "/proc/$p/status" 2>/dev/null && left="$left $p"; done
check "...no process of cairn's is left for it (supervisor, health monitor: $pids)" test -z "$left"
expect_ok "rm it" rm flip
check "...its state directory is gone" test ! -e "$CAIRN_ROOT/containers/$id"

kill_containers

# ---- rootless: the supervisor's check joins the user's container ----
rootless_health() {
	local base=$(((RANDOM % 1000 + 100) * 65536))
	rootless_need useradd userdel setpriv newuidmap newgidmap
	rootless_user "$U" "$base"
	rootless_probe "$U"
	cp -r "$REPO_DIR/examples/busybox" "$T/bb"
	chmod -R a+rX "$T/bb"
	AS_USER=$U expect_ok "rootless: build busybox" build -q -t busybox "$T/bb"
	AS_USER=$U expect_ok "rootless: run -d with a check" run -d --name rlh \
		--health-cmd 'test "$(id -u)" = 0 && test -e /tmp/up' --health-interval 200ms busybox sleep 600
	rl_health_is() { AS_USER=$U run_cairn inspect --type container -f '{{.State.Health.Status}}' rlh &&
		[ "$(cat "$T/out")" = "$1" ]; }
	wait_for "rootless: unhealthy while the file is missing" rl_health_is unhealthy
	AS_USER=$U run_cairn exec rlh touch /tmp/up
	wait_for "rootless: healthy once it is there (run as root in the container)" rl_health_is healthy
	rl_health_is healthy ||
		{ AS_USER=$U run_cairn inspect --type container -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' rlh
		  sed 's/^/#   /' "$T/out" | tail -5; }
	AS_USER=$U expect_ok "rootless: stop" stop -t 1 rlh
}
rootless_health

finish
