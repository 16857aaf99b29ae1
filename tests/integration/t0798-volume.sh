#!/bin/bash
# cairn volume create|ls|inspect|rm|prune (issue 13, what compose's
# volumes and down -v need): labels, filters, docker's inspect fields; a
# volume a container references (-v or --mount), running or stopped, cannot
# be removed or pruned, and can once the container is removed; prune
# without -a removes nothing (docker 23's: only anonymous volumes); rm
# removes the data.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"

build_busybox || finish

expect_ok "volume create --label" volume create --label com.docker.compose.project=demo --label k=v data
check "...prints the name" test "$(cat "$T/out")" = data
expect_ok "creating it again is no error (docker's)" volume create data
check "...and prints the name" test "$(cat "$T/out")" = data
expect_ok "volume create without a name" volume create
check "...makes a random 64-hex name" grep -qxE '[0-9a-f]{64}' "$T/out"
anon=$(cat "$T/out")
expect_fail "an invalid name is refused" 1 "not a valid volume name" volume create a/b
expect_fail "only the local driver" 2 "only 'local'" volume create -d nfs x1

run_cairn volume ls
check "volume ls: docker's columns" sh -c "head -1 '$T/out' | grep -q '^DRIVER *VOLUME NAME$'"
check "...lists both" sh -c "grep -q '^local *data$' '$T/out' && grep -q '^local *$anon$' '$T/out'"
run_cairn volume ls -q --filter label=com.docker.compose.project=demo
check "ls --filter label=K=V" test "$(cat "$T/out")" = data
run_cairn volume ls -q --filter label=k
check "ls --filter label=K" test "$(cat "$T/out")" = data
run_cairn volume ls -q --filter label=k=w
check "ls --filter label=K=other: none" test ! -s "$T/out"
run_cairn volume ls -q --filter name=dat
check "ls --filter name=" test "$(cat "$T/out")" = data
run_cairn volume ls --format '{{.Name}} {{.Driver}} {{.Label "k"}}' --filter name=data
check "ls --format with {{.Label \"k\"}}" test "$(cat "$T/out")" = "data local v"
run_cairn volume ls --format '{{json .}}' --filter name=data
check "ls --format '{{json .}}': Labels, not the method" \
	sh -c "jq -e '.Labels == \"com.docker.compose.project=demo,k=v\" and (has(\"Label()\") | not)' '$T/out'"

expect_ok "volume inspect" volume inspect data
check "...docker's fields" jq -e '.[0] | .Name == "data" and .Driver == "local" and .Scope == "local"
	and .Labels.k == "v" and (.Mountpoint | endswith("/volumes/data/_data")) and (.CreatedAt | test("^[0-9]{4}-"))' "$T/out"
mp=$(jq -r '.[0].Mountpoint' "$T/out")
check "...its mountpoint is a directory" test -d "$mp"
expect_fail "inspect of a missing volume" 1 "no such volume: nope" volume inspect nope
run_cairn volume inspect -f '{{.Name}}={{.Labels.k}}' data
check "inspect -f" test "$(cat "$T/out")" = "data=v"

# ---- damaged metadata: that volume has no labels, the others are listed ----
expect_ok "volume create dmg" volume create dmg
expect_ok "volume create big" volume create big
dmgdir=$(dirname "$("$CAIRN" volume inspect -f '{{.Mountpoint}}' dmg)")
rm -f "$dmgdir/cairn.json" && mkdir "$dmgdir/cairn.json"
bigdir=$(dirname "$("$CAIRN" volume inspect -f '{{.Mountpoint}}' big)")
head -c 1100000 /dev/zero | tr '\0' ' ' >"$bigdir/cairn.json"
run_cairn volume ls -q
check "volume ls with a damaged cairn.json (a directory, one past 1 MiB) lists every volume" \
	test "$(sort "$T/out" | tr '\n' ' ')" = "$(printf '%s\n' "$anon" big data dmg | sort | tr '\n' ' ')"
check "...warning about each" sh -c "grep -q \"warning: volume 'dmg': .*taken as having no labels\" '$T/err' &&
	grep -q \"warning: volume 'big': \" '$T/err'"
run_cairn volume ls -q --filter label=k
check "...the others' labels still filter" test "$(cat "$T/out")" = data
expect_ok "volume rm of a damaged one" volume rm dmg big

# ---- in use ----
expect_ok "run -d -v data:/data" run -d --name user1 -v data:/data busybox sh -c 'echo kept >/data/f; sleep 600'
wait_for "...writes into the volume" test -s "$mp/f"
expect_ok "run -d --mount type=volume,source=other" \
	run -d --name user2 --mount type=volume,source=other,target=/o busybox sleep 600
check "the state records the volumes" test "$(state user1 '.volumes[0]')" = data
run_cairn ps --filter name=user1 --format '{{.LocalVolumes}}'
check "ps {{.LocalVolumes}}: the count of its volumes" test "$(cat "$T/out")" = 1
expect_fail "volume rm of a volume in use is refused, naming the container" 1 \
	"remove data: volume is in use - [user1]" volume rm data
check "...its data is still there" test -s "$mp/f"
expect_fail "...also for --mount" 1 "volume is in use - [user2]" volume rm other
run_cairn volume ls -q --filter dangling=true
check "ls --filter dangling=true: the unused one" test "$(cat "$T/out")" = "$anon"
expect_ok "volume prune without -a" volume prune -f
check "...removes nothing (docker 23's: anonymous volumes only)" sh -c "! grep -qx '$anon' '$T/out'"
run_cairn volume ls -q
check "...all are kept" test "$(sort "$T/out" | tr '\n' ' ')" = "$(printf '%s\n' "$anon" data other | sort | tr '\n' ' ')"
expect_ok "volume prune -a" volume prune -a -f
check "...removes the unused one" grep -qx "$anon" "$T/out"
check "...says what it reclaimed" grep -q '^Total reclaimed space: ' "$T/out"
run_cairn volume ls -q
check "...and keeps those in use" test "$(cat "$T/out" | tr '\n' ' ')" = "data other "

# ---- a stopped container still references its volumes (docker's) ----
expect_ok "stop the user" stop -t 0 user1
run_cairn volume ls -q --filter dangling=true
check "ls --filter dangling=true: not the stopped container's" test ! -s "$T/out"
expect_ok "volume prune -a with the user stopped" volume prune -a -f
check "...keeps the stopped container's data" test -s "$mp/f"
expect_fail "volume rm of a stopped container's volume is refused" 1 \
	"remove data: volume is in use - [user1]" volume rm data
check "...its data is still there" test -s "$mp/f"

# ---- after the container ----
expect_ok "rm the user" rm user1
expect_ok "volume rm once its container is removed" volume rm data
check "...prints the name" test "$(cat "$T/out")" = data
check "...the data is gone" test ! -e "$(dirname "$mp")"
expect_fail "rm of a missing volume" 1 "no such volume: data" volume rm data
expect_ok "rm -f of a missing volume is no error" volume rm -f data
expect_ok "rm -f user2" rm -f user2
expect_ok "prune -a --filter label=" volume prune -a --filter label=nothing=here
run_cairn volume ls -q
check "...keeps volumes without that label" test "$(cat "$T/out")" = other
expect_ok "prune -a" volume prune -a
run_cairn volume ls -q
check "...then nothing is left" test ! -s "$T/out"
expect_fail "volume with no command" 2 "usage: cairn volume" volume

kill_containers
finish
