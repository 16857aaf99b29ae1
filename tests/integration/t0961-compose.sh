#!/bin/bash
# cairn compose (issue 13) with busybox images: the build graph (a service
# FROM another's image waits for it, independent ones build at the same
# time, a step they share is built once), up in depends_on order
# (service_healthy waits, service_completed_successfully's exit status,
# docker compose's errors), a restart policy, services reaching each other
# by name on the project's network (and another project not reaching
# them), a published port, ps/logs/exec/run/stop/start, and down
# (-v) removing containers, the network (bridge, veths, nftables rules)
# and named volumes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"

P=$T/proj
# cairn's arguments for the project, and for other files as project cmptx.
CP=(compose -f "$P/compose.yaml" -p cmpt)
cx() { local f=$1; shift; echo compose -f "$f" -p cmptx "$@"; }
compose_cleanup() {
	[ -f "$P/compose.yaml" ] && "$CAIRN" "${CP[@]}" down -v --remove-orphans -t 1 >/dev/null 2>&1
	for f in "$T"/*.yaml; do
		[ -f "$f" ] && "$CAIRN" compose -f "$f" -p cmptx down -v --remove-orphans -t 1 >/dev/null 2>&1
	done
	kill_containers
	cleanup_test_dir
}
trap compose_cleanup EXIT

build_busybox || finish
if [ "$(id -u)" -ne 0 ]; then
	skip "compose with networks" "needs root"
	finish
fi
have_network() { "$CAIRN" network ls 2>/dev/null | grep -q "$1"; }
have_volume() { "$CAIRN" volume ls 2>/dev/null | grep -q "$1"; }

# the host port db's page is published on (interpolated by compose)
export CMPT_PORT=$((20000 + RANDOM % 20000))

# ---- the build graph ----
# base and solo are independent: each waits (at most 60 s) for the other's
# mark in a shared cache mount, which only works when they run at the
# same time. app is FROM base's image. All three share a first step.
mkdir -p "$P/base" "$P/app" "$P/solo"
for d in base solo; do
	cat >"$P/$d/Dockerfile" <<EOF
FROM busybox
RUN cat /proc/sys/kernel/random/uuid >/stamp && echo shared-step-ran
RUN --mount=type=cache,id=cmpt-rendezvous,target=/r sh -c 'touch /r/$d; other=\$( [ $d = base ] && echo solo || echo base ); i=0; while [ ! -e /r/\$other ]; do sleep 0.1; i=\$((i+1)); [ \$i -lt 600 ] || exit 7; done; echo $d >/built-by'
EOF
done
cat >"$P/app/Dockerfile" <<'EOF'
ARG BASE=cmpt-base
FROM ${BASE}
RUN cat /built-by >/from-base
CMD ["sh", "-c", "echo app-started; sleep 300"]
EOF
cat >"$P/compose.yaml" <<'EOF'
services:
  app:
    build: ./app
    depends_on:
      db:
        condition: service_healthy
  base:
    build: ./base
    command: ["true"]
    profiles: [tools]
  solo:
    build: ./solo
    image: cmpt-solo:v1
    command: ["true"]
    profiles: [tools]
  db:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo db-page >/www/index.html && sleep 2 && touch /tmp/ready && httpd -f -p 80 -h /www"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 1s
      retries: 30
    volumes:
      - data:/data
    ports:
      - "127.0.0.1:${CMPT_PORT:-18080}:80"
  client:
    image: busybox
    command: ["sleep", "300"]
    depends_on: [db]
  crash:
    image: busybox
    restart: on-failure:2
    command: ["sh", "-c", "echo crashing; exit 1"]
    profiles: [crash]
volumes:
  data:
EOF
run_cairn "${CP[@]}" config --services
check "config --services lists the default services" test "$(sort "$T/out" | tr '\n' ' ')" = "app client db "
"$CAIRN" "${CP[@]}" --profile tools build >"$T/build.out" 2>&1
status=$?
check "compose build of three services" test "$status" -eq 0
[ "$status" -eq 0 ] || sed 's/^/#   /' "$T/build.out" | tail -30
check "independent builds ran at the same time (each saw the other's mark)" \
	test "$("$CAIRN" run --rm cmpt-base cat /built-by)$("$CAIRN" run --rm cmpt-solo:v1 cat /built-by)" = basesolo
check "the image FROM another service's waited for it" \
	test "$("$CAIRN" run --rm cmpt-app cat /from-base 2>&1)" = base
base_commit=$(grep -n '^base *| COMMIT' "$T/build.out" | cut -d: -f1)
app_from=$(grep -n '^app *| STEP 1' "$T/build.out" | cut -d: -f1)
check "...its build began after base's commit" test "${base_commit:-999}" -lt "${app_from:-0}"
check "each line is prefixed by its service" grep -q '^solo *| ' "$T/build.out"
check "the shared first step was built once" \
	test "$("$CAIRN" run --rm cmpt-base cat /stamp)" = "$("$CAIRN" run --rm cmpt-solo:v1 cat /stamp)"
check "...its output shows once" test "$(grep -c '| shared-step-ran$' "$T/build.out")" -eq 1

# ---- dockerfile_inline takes part in the build graph ----
mkdir -p "$T/inl"
cat >"$T/inline.yaml" <<'EOF'
services:
  ibase:
    build:
      context: ./inl
      dockerfile_inline: |
        FROM busybox
        RUN sleep 2 && echo ibase >/who
    image: cmptx-ibase
  iapp:
    build:
      context: ./inl
      dockerfile_inline: |
        FROM cmptx-ibase
        RUN cat /who >/from
    image: cmptx-iapp
EOF
"$CAIRN" rmi -f cmptx-ibase cmptx-iapp >/dev/null 2>&1
inl_before=$(ls /tmp/cairn-compose-inline-* 2>/dev/null | wc -l)
expect_ok "compose build: a dockerfile_inline FROM another service's image" $(cx "$T/inline.yaml" build)
check "...built after it" test "$("$CAIRN" run --rm cmptx-iapp cat /from 2>&1)" = ibase
check "...and its temporary Dockerfile is gone" \
	test "$(ls /tmp/cairn-compose-inline-* 2>/dev/null | wc -l)" -eq "$inl_before"
# With one free descriptor the inline Dockerfile is written but the pipe
# to its build cannot be made: the file does not stay behind.
before=$(ls /tmp/cairn-compose-inline-* 2>/dev/null | wc -l)
args=($(cx "$T/inline.yaml" build ibase))
(
	exec >"$T/fd.out" 2>&1 </dev/null
	for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
	ulimit -n 4
	exec "$CAIRN" "${args[@]}"
)
check "a build that cannot start leaves no inline Dockerfile behind" \
	sh -c "grep -q 'error: pipe' '$T/fd.out' && test \$(ls /tmp/cairn-compose-inline-* 2>/dev/null | wc -l) -eq $before"
"$CAIRN" rmi -f cmptx-ibase cmptx-iapp >/dev/null 2>&1

# ---- signals to compose build ----
# SIGTERM to compose alone reaches its builds; kill -9 of compose does too
# (the parent-death signal), so no build is left running.
mkdir -p "$T/slow"
cat >"$T/slow/Dockerfile" <<'EOF'
FROM busybox
RUN echo slow-step-began; sleep 60
EOF
printf 'services:\n  slow:\n    build: %s\n    image: cmptx-slow\n' "$T/slow" >"$T/slow.yaml"
gone_within() { # PID SECONDS
	local i
	for i in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
for sig in TERM KILL; do
	"$CAIRN" $(cx "$T/slow.yaml" build --no-cache) >"$T/slow.out" 2>&1 &
	cpid=$!
	# (a loaded machine or a sanitizer build may take long to get there)
	for i in $(seq 1200); do grep -q 'slow-step-began' "$T/slow.out" && break; sleep 0.1; done
	kid=$(pgrep -P "$cpid" | head -1)
	kill -$sig "$cpid"
	check "compose build on SIG$sig: its cairn build ended too" \
		sh -c "test -n '$kid' && for i in \$(seq 300); do kill -0 $kid 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
	[ $sig = TERM ] && check "...and compose exited" gone_within "$cpid" 10
	kill -KILL "$kid" "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
done

# ---- up: networks, volumes, depends_on ----
"$CAIRN" "${CP[@]}" up -d >"$T/up.out" 2>&1
status=$?
check "up -d" test "$status" -eq 0
[ "$status" -eq 0 ] || sed 's/^/#   /' "$T/up.out" | tail -20
healthy=$(grep -n 'cmpt-db-1  Healthy' "$T/up.out" | cut -d: -f1)
started=$(grep -n 'cmpt-app-1  Started' "$T/up.out" | cut -d: -f1)
check "service_healthy: app started after db was healthy" test "${healthy:-999}" -lt "${started:-0}"
run_cairn "${CP[@]}" ps
check "ps shows db healthy" grep -q 'cmpt-db-1 .*Up .*(healthy)' "$T/out"
check "ps lists the three services" test "$(grep -c '^cmpt-' "$T/out")" -eq 3
check "ps shows db's published port" grep -q "cmpt-db-1 .*127.0.0.1:$CMPT_PORT->80/tcp" "$T/out"
check "the published port answers on the host's 127.0.0.1" \
	test "$(curl -fsS "http://127.0.0.1:$CMPT_PORT/" 2>&1)" = db-page
check "the network was created" have_network cmpt_default
bridge=$("$CAIRN" network inspect cmpt_default | jq -r '.[0].Options["com.docker.network.bridge.name"]')
subnet=$("$CAIRN" network inspect cmpt_default | jq -r '.[0].IPAM.Config[0].Subnet')
check "...with its bridge" ip link show "$bridge"
check "the named volume was created" have_volume cmpt_data
logs_prefixed() { "$CAIRN" "${CP[@]}" logs app | grep -q '^cmpt-app-1 *| app-started'; }
wait_for "logs are prefixed by the container" logs_prefixed
expect_ok "exec in a service's container" "${CP[@]}" exec -T app cat /from-base
check "...prints what the container has" test "$(cat "$T/out")" = base
expect_ok "a service reaches another by its name" "${CP[@]}" exec -T client wget -q -O- http://db/
check "...and gets its page" test "$(cat "$T/out")" = db-page
db_ip=$(state cmpt-db-1 .net.ip)
cat >"$T/other.yaml" <<'EOF'
services:
  probe:
    image: busybox
    command: ["true"]
EOF
expect_ok "the same probe from the project reaches db's address" \
	"${CP[@]}" run --rm -T client sh -c "timeout 5 wget -q -O- http://$db_ip/"
run_cairn $(cx "$T/other.yaml" run --rm -T probe sh -c "timeout 5 wget -q -O- http://$db_ip/")
check "another project cannot reach the services (db at ${db_ip:-?})" \
	test -n "$db_ip" -a "$status" -ne 0 -a "$(cat "$T/out")" != db-page
"$CAIRN" $(cx "$T/other.yaml" down) >/dev/null 2>&1
expect_ok "run --rm a one-off container" "${CP[@]}" run --rm -T client echo one-off
check "...with its output" grep -q one-off "$T/out"
run_cairn "${CP[@]}" up -d
check "up -d again keeps unchanged containers running" grep -q 'cmpt-app-1  Running' "$T/err"

# ---- restart policy ----
expect_ok "up a crashing service with restart: on-failure:2" \
	"${CP[@]}" --profile crash up crash
check "...it ran three times (two restarts)" test "$(grep -c 'crashing' "$T/out")" -eq 3

# ---- errors ----
cat >"$T/bad.yaml" <<'EOF'
services:
  nohc:
    image: busybox
    command: ["sleep", "300"]
  needs-health:
    image: busybox
    command: ["true"]
    depends_on:
      nohc:
        condition: service_healthy
  fails:
    image: busybox
    command: ["sh", "-c", "exit 3"]
  after-fail:
    image: busybox
    command: ["true"]
    depends_on:
      fails:
        condition: service_completed_successfully
EOF
expect_fail "service_healthy on a service without a check" 1 "container cmptx-nohc-1 has no healthcheck configured" \
	$(cx "$T/bad.yaml" up -d needs-health)
expect_fail "service_completed_successfully on a failure" 1 "service \"fails\" didn't complete successfully: exit 3" \
	$(cx "$T/bad.yaml" up -d after-fail)
expect_fail "an unknown service is named" 1 "no such service: nope" $(cx "$T/bad.yaml" up -d nope)
"$CAIRN" $(cx "$T/bad.yaml" down -t 1) >/dev/null 2>&1
cat >"$T/cycle.yaml" <<'EOF'
services:
  a: {image: busybox, depends_on: [b]}
  b: {image: busybox, depends_on: [a]}
EOF
expect_fail "a dependency cycle is named" 1 "a -> b -> a" $(cx "$T/cycle.yaml" up -d)
# values of the file never reach cairn's children as flags
cat >"$T/flag.yaml" <<'EOF'
services:
  x: {image: "--help"}
EOF
expect_fail "an image that reads as a flag is refused naming the service" 1 \
	"service x: image '--help' is not a valid image reference" $(cx "$T/flag.yaml" up -d)
cat >"$T/flagnet.yaml" <<'EOF'
services:
  x: {image: busybox, command: ["true"], networks: [n]}
networks:
  n: {name: "--help"}
EOF
expect_fail "a network name that reads as a flag is refused" 1 \
	"networks.n: '--help' is not a valid network name" $(cx "$T/flagnet.yaml" up -d)
expect_fail "...and down does not claim to remove it" 1 "not a valid network name" $(cx "$T/flagnet.yaml" down)
cat >"$T/flagvol.yaml" <<'EOF'
services:
  x: {image: busybox, command: ["true"]}
volumes:
  v: {name: "-v"}
EOF
expect_fail "a volume name that reads as a flag is refused" 1 \
	"volumes.v: '-v' is not a valid volume name" $(cx "$T/flagvol.yaml" up -d)
expect_ok "network inspect takes -- before its names" network inspect -- cmpt_default
expect_fail "...and refuses an unknown option" 2 "unknown option" network rm --bogus

# ---- Ctrl-C between two services ----
{
	echo 'services:'
	for i in 1 2 3 4 5 6 7 8; do
		printf '  s%s: {image: busybox, command: ["sleep", "300"]}\n' $i
	done
} >"$T/many.yaml"
"$CAIRN" $(cx "$T/many.yaml" up -d) >"$T/many.out" 2>&1 &
cpid=$!
for i in $(seq 300); do grep -q 'Started' "$T/many.out" && break; sleep 0.02; done
kill -INT "$cpid"
wait "$cpid"
status=$?
check "SIGINT during up: exit 130" test "$status" -eq 130
check "...and not every service was started" test "$(grep -c 'Started' "$T/many.out")" -lt 8
"$CAIRN" $(cx "$T/many.yaml" down -t 0) >/dev/null 2>&1

# ---- a second Ctrl-C in attached up kills what still runs ----
cat >"$T/stubborn.yaml" <<'EOF'
services:
  stubborn:
    image: busybox
    command: ["sh", "-c", "trap '' TERM; echo stubborn-up; while true; do sleep 1; done"]
    stop_grace_period: 60s
EOF
setsid "$CAIRN" $(cx "$T/stubborn.yaml" up) >"$T/stub.out" 2>&1 &
cpid=$!
for i in $(seq 300); do grep -q 'stubborn-up' "$T/stub.out" && break; sleep 0.1; done
kill -INT -- -"$cpid"
sleep 1
kill -INT -- -"$cpid"
for i in $(seq 200); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
run_cairn ps
check "a second Ctrl-C in attached up: compose ended" sh -c "! kill -0 $cpid 2>/dev/null"
check "...and its container does not run" sh -c "! grep -q 'cmptx-stubborn-1' '$T/out'"
kill -KILL "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
"$CAIRN" $(cx "$T/stubborn.yaml" down -t 0) >/dev/null 2>&1

# ---- orphans: up warns about them, up --remove-orphans removes them ----
printf 'services:\n  keep: {image: busybox, command: ["sleep", "300"]}\n  gone: {image: busybox, command: ["sleep", "300"]}\n' >"$T/orph.yaml"
printf 'services:\n  keep: {image: busybox, command: ["sleep", "300"]}\n' >"$T/orph2.yaml"
expect_ok "up -d two services" $(cx "$T/orph.yaml" up -d)
expect_ok "up -d without one of them" $(cx "$T/orph2.yaml" up -d)
check "...warns about the orphan as docker compose" \
	grep -qF 'Found orphan containers ([cmptx-gone-1]) for this project' "$T/err"
expect_ok "up -d --remove-orphans" $(cx "$T/orph2.yaml" up -d --remove-orphans)
check "...removed it" grep -q 'cmptx-gone-1  Removed' "$T/err"
run_cairn ps -a
check "...it is gone, the other runs" sh -c "! grep -q cmptx-gone-1 '$T/out' && grep -q cmptx-keep-1 '$T/out'"
"$CAIRN" $(cx "$T/orph2.yaml" down -t 0) >/dev/null 2>&1

# ---- stop, start, down ----
expect_fail "restart -t takes seconds as stop and down do" 2 "-t: 'soon' is not a number of seconds" \
	"${CP[@]}" restart -t soon
expect_ok "stop" "${CP[@]}" stop -t 1
run_cairn "${CP[@]}" ps
check "...nothing runs" test "$(grep -c '^cmpt-' "$T/out")" -eq 0
expect_ok "start" "${CP[@]}" start
run_cairn "${CP[@]}" ps
check "...they run again" test "$(grep -c '^cmpt-.* Up ' "$T/out")" -eq 3
expect_ok "down (the crash service is an orphan without its profile)" "${CP[@]}" down -t 1 --remove-orphans
run_cairn ps -a
check "...removed the containers" test "$(grep -c 'cmpt-' "$T/out")" -eq 0
check "...and the network" sh -c "! '$CAIRN' network ls | grep -q cmpt_default"
check "...its bridge and veths" sh -c "! ip -o link show | grep -q '$bridge'"
check "...and its nftables rules" sh -c "! nft -s list ruleset 2>/dev/null | grep -qF -e '$bridge' -e '${subnet%/*}'"
check "...and the port's" sh -c "! nft -s list ruleset 2>/dev/null | grep -qw '$CMPT_PORT'"
check "...but not the volume" have_volume cmpt_data
expect_ok "down -v" "${CP[@]}" down -v
check "...removed the named volume" sh -c "! '$CAIRN' volume ls | grep -q cmpt_data"
check "no mounts left" no_mounts_left
finish
