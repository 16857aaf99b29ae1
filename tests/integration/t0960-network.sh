#!/bin/bash
# Named networks: cairn network create|ls|inspect|rm|prune; containers on
# one reach each other by name, hostname and alias (an /etc/hosts kept
# current in place), another network cannot reach them, published ports
# answer on the host's 127.0.0.1, and removing the containers and the
# networks leaves the host's links and nftables ruleset as they were.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null; then
	skip "named networks" "needs root and nft"
	finish
fi
build_busybox || finish

# Names and subnets of this test only: other tests may run at the same time.
A=t0960a-$$ B=t0960b-$$ C=t0960c-$$ D=t0960d-$$
WEB=t0960-web-$$ DB=t0960-db-$$ KILLED=t0960-killed-$$ FLAP=t0960-flap-$$ E=t0960e-$$ F=t0960f-$$ G=t0960g-$$ KILLED2=t0960-killed2-$$
SUB_A=10.89.196.0/24 SUB_B=10.89.197.0/24
P1=$((20000 + RANDOM % 10000)) P2=$((30000 + RANDOM % 10000)) P3=$((40000 + RANDOM % 10000))

cleanup() {
	unset CAIRN_NET_BRIDGE CAIRN_NET_SUBNET
	chattr -i "$CAIRN_ROOT/networks/t0960g-$$.json" 2>/dev/null
	"$CAIRN" rm -f "$WEB" "$DB" "$KILLED" "$FLAP" "$KILLED2" >/dev/null 2>&1
	"$CAIRN" network rm "$A" "$B" "$C" "$D" "$E" "$F" "$G" "t0960z-$$" >/dev/null 2>&1
	"$CAIRN" --root "$T/store2" network rm "$A" >/dev/null 2>&1
	ip link del "t0960x$$" >/dev/null 2>&1
	ip netns del "t0960ns$$" >/dev/null 2>&1
	ip link del "t0960v$$" >/dev/null 2>&1
	[ -n "${lo_pid:-}" ] && kill "$lo_pid" 2>/dev/null
	cleanup_test_dir
}
trap cleanup EXIT

# Other tests' containers and networks come and go at the same time (on
# cairn0 and on their own bridges): the comparison of the whole is made
# without any bridge's links and chains, and this test's own bridges,
# veths, subnets and chains must be gone entirely.
links() { ip -o link | grep -v ' master ' | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -v '^cn-' | sort; }
rules() {
	nft list ruleset | awk '
		/^\tchain ((fwd|nat|p)-|hostports|prerouting|output|localnet)/ {skip = 1}
		!skip && NF && !/jump ((fwd|nat|p)-|hostports)/ {print}
		skip && /^\t\}/ {skip = 0}'
}
links >"$T/links.before"
rules >"$T/rules.before"

expect_ok "network create with a subnet and a label" network create --subnet $SUB_A --label t0960=$$ "$A"
id_a=$(cat "$T/out")
# Another store (another user of cairn on this host) knows nothing of A:
# its network on the same subnet is refused once A's bridge routes it.
expect_ok "another store's network on the same subnet, while unused" --root "$T/store2" network create --subnet $SUB_A "$A"
expect_ok "network create a second network" network create --subnet $SUB_B "$B"
expect_ok "network create --internal" network create --internal --subnet 10.89.198.0/24 "$C"
expect_ok "network create picks a free /24 of 10.89.0.0/16" network create "$D"
run_cairn network inspect "$D"
if grep -Eq '"Subnet": "10\.89\.[0-9]+\.0/24"' "$T/out"; then pass "the picked subnet is a /24 of 10.89.0.0/16"; else fail "picked subnet"; cat "$T/out" | sed 's/^/#   /'; fi
bridge_of() { "$CAIRN" network inspect "$1" | jq -r '.[0].Options["com.docker.network.bridge.name"]'; }
br_a=$(bridge_of "$A") br_b=$(bridge_of "$B") br_c=$(bridge_of "$C")
case "$br_a $br_b $br_c" in cn-????????\ cn-????????\ cn-????????) pass "bridges are named cn- and 8 hex digits" ;; *) fail "bridge names: $br_a $br_b $br_c" ;; esac
expect_fail "a taken name is refused" 1 "already exists" network create "$A"
expect_fail "an overlapping subnet is refused" 1 "overlaps network" network create --subnet 10.89.196.128/25 t0960x-$$
expect_fail "a reserved name is refused" 1 "not a valid network name" network create host
# The default network's subnet is taken before its bridge exists (here a
# default network of another name and subnet, never made).
CAIRN_NET_BRIDGE=t0960nb CAIRN_NET_SUBNET=10.86.0.0/16 expect_fail "a subnet inside the default network's is refused" \
	1 "overlaps the default network" network create --subnet 10.86.5.0/24 t0960z-$$


run_cairn network ls
if grep -q "$A" "$T/out" && grep -q "$B" "$T/out" && grep -q "10.89.196.0/24" "$T/out"; then
	pass "network ls lists them with their subnets"
else
	fail "network ls"; sed 's/^/#   /' "$T/out"
fi
run_cairn network ls -q --filter label=t0960=$$
if [ "$(cat "$T/out")" = "${id_a:0:12}" ]; then pass "network ls -q --filter label=K=V"; else fail "ls --filter: $(cat "$T/out")"; fi
run_cairn network inspect "$A"
if jq -e --arg n "$A" '.[0].Name == $n and .[0].IPAM.Config[0].Subnet == "10.89.196.0/24" and .[0].IPAM.Config[0].Gateway == "10.89.196.1" and .[0].Labels.t0960 != null and .[0].Driver == "bridge"' "$T/out" >/dev/null; then
	pass "network inspect prints docker's JSON"
else
	fail "network inspect"; sed 's/^/#   /' "$T/out"
fi

expect_fail "--network with an unknown network" 125 "not found" run --rm --network t0960-nonesuch-$$ busybox true
expect_fail "--network-alias needs a created network" 125 "needs --network NAME" run --rm --network-alias x busybox true
expect_fail "-p with a bad spec" 125 "-p '80:x'" run --rm -p 80:x --network "$A" busybox true
expect_fail "-p on an internal network is refused" 125 "is internal" run --rm -p 80 --network "$C" busybox true

# A web server (by name and alias) and a second member (by name and hostname).
expect_ok "run -d --network --network-alias -p" run -d --name "$WEB" --network "$A" --network-alias www \
	-p 127.0.0.1:$P1:80 -p $P2:80 busybox sh -c 'mkdir /w && echo hello-web >/w/index.html && exec httpd -f -p 80 -h /w'
expect_ok "a second member with a hostname, on the network's id prefix" run -d --name "$DB" --hostname dbhost --network "${id_a:0:12}" busybox sleep 300

# httpd may take a moment to listen.
served_as() { local want=$1; shift; for _ in $(seq 50); do "$@" >"$T/served" 2>/dev/null && grep -q "$want" "$T/served" && return 0; sleep 0.1; done; return 1; }
served() { served_as hello-web "$@"; }

check "a member reaches another by its container name" served "$CAIRN" run --rm --network "$A" busybox wget -q -O - "http://$WEB/"
check "... and by its --network-alias" served "$CAIRN" run --rm --network "$A" busybox wget -q -O - http://www/
check "... and pings one by name" "$CAIRN" run --rm --network "$A" busybox ping -c 1 -W 2 "$DB"
check "... and by its hostname" "$CAIRN" run --rm --network "$A" busybox ping -c 1 -W 2 dbhost
check "an alias may be a built-in mode's name (a compose service 'host')" "$CAIRN" run --rm --network "$A" \
	--network-alias host busybox true

# The web server's hosts file was written before the db joined, and the
# short-lived members above have come and gone: it is kept current in place.
run_cairn exec "$WEB" cat /etc/hosts
if grep -q "$DB dbhost" "$T/out" && grep -q "$WEB www" "$T/out" && [ "$(grep -c '^10\.89\.196\.' "$T/out")" = 2 ]; then
	pass "a running member's /etc/hosts follows members joining and leaving"
else
	fail "hosts of $WEB"; sed 's/^/#   /' "$T/out"
fi
run_cairn run --rm --network "$A" busybox cat /etc/hosts
if grep -q "127.0.0.1	localhost" "$T/out"; then pass "localhost stays above the members"; else fail "localhost line"; sed 's/^/#   /' "$T/out"; fi

expect_fail "...cannot be used while the first one's bridge routes the subnet" 125 "overlaps a route of the host through $br_a" \
	--root "$T/store2" run --rm --network "$A" busybox true
expect_ok "...and it is removed without touching the first" --root "$T/store2" network rm "$A"
expect_fail "...and none can be created there" 1 "overlaps a route of the host (through $br_a)" \
	--root "$T/store2" network create --subnet 10.89.196.0/25 t0960y-$$

web_ip=$(jq -r --arg n "$WEB" '.[0].Containers[$n].IPv4Address' <("$CAIRN" network inspect "$A") | cut -d/ -f1)
case $web_ip in 10.89.196.*) pass "network inspect lists the members' addresses" ;; *) fail "member address '$web_ip'" ;; esac

check "the same address answers from the same network" "$CAIRN" run --rm --network "$A" busybox ping -c 1 -W 2 "$web_ip"
run_cairn run --rm --network "$B" busybox ping -c 1 -W 2 "$web_ip"
if [ "$status" != 0 ]; then pass "another network cannot reach a member"; else fail "$B reached $web_ip"; fi
run_cairn run --rm --network "$B" busybox ping -c 1 -W 2 "$WEB"
if [ "$status" != 0 ] && grep -q "bad address" "$T/err" "$T/out"; then
	pass "another network does not resolve the members' names"
else
	fail "$B resolved $WEB (status $status)"; sed 's/^/#   /' "$T/out" "$T/err"
fi

# A published port is the host's: another network reaches it through its
# own gateway (a host address), an internal network does not get out to it.
check "another network reaches a published port through the host" served "$CAIRN" run --rm --network "$B" \
	busybox wget -q -O - "http://10.89.197.1:$P2/"
check "a member reaches a port its own network publishes (hairpin)" served "$CAIRN" run --rm --network "$A" \
	busybox wget -q -O - "http://10.89.196.1:$P2/"
run_cairn run --rm --network "$C" busybox sh -c "echo 'GET / HTTP/1.0' | nc -w 3 10.89.198.1 $P2"
if [ "$status" != 0 ] && ! grep -q hello-web "$T/out"; then
	pass "an internal network cannot reach out"
else
	fail "$C reached the published port (status $status)"; sed 's/^/#   /' "$T/out"
fi

# route_localnet (needed on the bridges for 127.0.0.1 publishing) must not
# let a member, or anything else on a bridge, reach the host's loopback:
# a throwaway namespace on B's bridge routes 127.0.0.0/8 to its gateway
# (what a container with CAP_NET_RAW can do by hand).
NS=t0960ns$$ VH=t0960v$$ VN=t0960w$$ P4=$((10000 + RANDOM % 10000))
python3 -c 'import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"host-loopback\n")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' $P4 &
lo_pid=$!
ip netns add "$NS" && ip link add "$VH" type veth peer name "$VN" && ip link set "$VN" netns "$NS" &&
	ip link set "$VH" master "$br_b" up &&
	ip netns exec "$NS" sh -c "ip addr add 10.89.197.250/24 dev $VN && ip link set $VN up &&
		sysctl -qw net.ipv4.conf.$VN.route_localnet=1 && ip route add 127.0.0.0/8 via 10.89.197.1 dev $VN"
check "the host's loopback service answers on the host" served_as host-loopback curl -s -m 2 "http://127.0.0.1:$P4/"
if ! ip netns exec "$NS" curl -s -m 3 "http://127.0.0.1:$P4/" | grep -q host-loopback; then
	pass "a namespace on a bridge cannot reach a service bound to the host's 127.0.0.1"
else
	fail "the host's 127.0.0.1:$P4 answered through the bridge (route_localnet)"
fi
if ! ip netns exec "$NS" curl -s -m 3 "http://127.0.0.1:$P1/" | grep -q hello-web; then
	pass "a port published on 127.0.0.1 is not reachable from another namespace"
else
	fail "127.0.0.1:$P1 answered through the bridge"
fi
# docker's proxy binds what it publishes: a port a program of the host
# listens on is not taken over.
expect_fail "-p of a port a host program listens on is refused" 125 "address already in use" \
	run --rm --network "$B" -p $P4:80 busybox true
expect_fail "-p of an address that is not the host's is refused" 125 "not an address of this host" \
	run --rm --network "$B" -p 192.0.2.1:$P4:80 busybox true
kill $lo_pid 2>/dev/null; wait $lo_pid 2>/dev/null
ip netns del "$NS" 2>/dev/null; ip link del "$VH" 2>/dev/null

check "-p 127.0.0.1:PORT:80 answers on the host's 127.0.0.1" served wget -q -O - "http://127.0.0.1:$P1/"
check "-p PORT:80 answers on the host's 127.0.0.1" served wget -q -O - "http://127.0.0.1:$P2/"
expect_fail "a port another container publishes is refused" 125 "already published" \
	run --rm --network "$B" -p $P2:80 busybox true
run_cairn ps
if grep -q "127.0.0.1:$P1->80/tcp, 0.0.0.0:$P2->80/tcp" "$T/out" && grep -q PORTS "$T/out"; then
	pass "ps shows the published ports"
else
	fail "ps PORTS"; sed 's/^/#   /' "$T/out"
fi
run_cairn ps --format '{{.Names}} {{.Networks}}'
if grep -qx "$WEB $A" "$T/out" && grep -qx "$DB $A" "$T/out"; then
	pass "ps --format {{.Networks}}: the network's name, also when given by id prefix"
else
	fail "ps Networks"; sed 's/^/#   /' "$T/out"
fi

# A supervisor killed with -9 leaves its port chain: the next lease of the
# address (the lowest free one on that network) replaces it.
expect_ok "a container publishing a port on another network" run -d --name "$KILLED" --network "$B" \
	-p 127.0.0.1:$P3:80 busybox sleep 300
sup=$(jq -r .supervisor.pid "$CAIRN_ROOT/containers/$(cat "$T/out")/config.json")
kill -9 "$sup"
for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
if nft list ruleset | grep -q "dport $P3 "; then pass "a killed container's port rule stays"; else fail "no stale rule to sweep"; fi
expect_ok "the next container on that network" run --rm --network "$B" busybox true
if ! nft list ruleset | grep -q "dport $P3 "; then pass "...sweeps it"; else fail "stale port rule left"; fi
"$CAIRN" rm -f "$KILLED" >/dev/null 2>&1

# A container between two --restart runs still holds its lease: the
# network is in use, and its next run must find its bridge.
expect_ok "network create for a restarting container" network create --subnet 10.89.195.0/24 "$E"
expect_ok "a container that keeps failing, restarted always" run -d --name "$FLAP" --restart always --network "$E" busybox false
flap_id=$(cat "$T/out")
for _ in $(seq 100); do
	[ "$(jq -r .restart_count "$CAIRN_ROOT/containers/$flap_id/config.json" 2>/dev/null)" -ge 3 ] 2>/dev/null && break
	sleep 0.1
done
expect_fail "network rm is refused between its restarts" 1 "in use by container $FLAP" network rm "$E"
expect_ok "rm -f the restarting container" rm -f "$FLAP"
expect_ok "...then network rm" network rm "$E"

# The same for a build's RUN step (sb_run takes its own lease). Its
# default network is made a created network's bridge and subnet here, so
# that the test has it to itself and network rm takes it away after.
expect_ok "network create for the default network of a build" network create --subnet 10.89.194.0/24 "$F"
br_f=$(bridge_of "$F")
P5=$((10000 + RANDOM % 10000))
export CAIRN_NET_BRIDGE=$br_f CAIRN_NET_SUBNET=10.89.194.0/24
expect_ok "a container on that default network publishing a port" run -d --name "$KILLED2" -p 127.0.0.1:$P5:80 busybox sleep 300
sup=$(jq -r .supervisor.pid "$CAIRN_ROOT/containers/$(cat "$T/out")/config.json")
kill -9 "$sup"
for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
buildfile "$T/ctx-sweep" <<EOF
FROM busybox
RUN echo $$ >/swept
EOF
expect_ok "a RUN step leasing the killed container's address" build -q -t t0960-sweep "$T/ctx-sweep"
if ! nft list ruleset | grep -q "dport $P5 "; then pass "...sweeps its port chain"; else fail "stale port rule left by a RUN step's lease"; fi
unset CAIRN_NET_BRIDGE CAIRN_NET_SUBNET
"$CAIRN" rm -f "$KILLED2" >/dev/null 2>&1
expect_ok "...and that network is removed" network rm "$F"

expect_fail "network rm is refused while containers use it" 1 "in use by containers" network rm "$A"
grep -q "$WEB" "$T/err" && pass "... naming them" || fail "rm names the containers: $(cat "$T/err")"

expect_ok "rm -f the containers" rm -f "$WEB" "$DB"
run_cairn run --rm --network none busybox true
check "the published ports are gone with the container" sh -c "! wget -q -T 2 -O - http://127.0.0.1:$P2/"
expect_ok "network rm" network rm "$A" "$B" "$C"
run_cairn network prune -f
if grep -q "$D" "$T/out"; then pass "network prune removes the unused network"; else fail "prune: $(cat "$T/out")"; fi
# A removal that fails (here the file cannot be unlinked) is prune's failure.
expect_ok "network create of a network prune cannot remove" network create --subnet 10.89.193.0/24 "$G"
if chattr +i "$CAIRN_ROOT/networks/$G.json" 2>/dev/null; then
	expect_fail "network prune fails when a removal fails" 1 "$G.json" network prune -f
	chattr -i "$CAIRN_ROOT/networks/$G.json"
	expect_ok "...which network rm then removes" network rm "$G"
else
	skip "network prune fails when a removal fails" "no chattr +i on this file system"
fi
run_cairn network ls -q
if [ ! -s "$T/out" ]; then pass "no network is left"; else fail "left: $(cat "$T/out")"; fi

# A damaged networks/NAME.json (another tool, a bad disk, a hostile
# store) is not trusted: its bridge, name and labels never reach an
# interface, a path or a crash. A store of its own: nothing real is used.
S3="$T/store3" DUMMY=t0960x$$
mkdir -p "$S3/networks"
"$CAIRN" --root "$S3" network create --subnet 10.89.199.0/24 --label k=v good >/dev/null
good="$S3/networks/good.json"
echo keep >"$S3/victim.json"
jq '.Name = "../victim"' "$good" >"$S3/networks/evil1.json"
ip link add "$DUMMY" type bridge
jq --arg b "$DUMMY" '.Name = "evil2" | .Options["com.docker.network.bridge.name"] = $b' "$good" >"$S3/networks/evil2.json"
jq '.Name = "evil3" | .Labels.k = 7' "$good" >"$S3/networks/evil3.json"
jq '.Name = "evil4" | .Id = "../../../../zz" + .Id[14:]' "$good" >"$S3/networks/evil4.json"
run_cairn --root "$S3" network ls --filter label=k=v
if [ "$status" = 0 ] && grep -q " good " "$T/out" && ! grep -q evil "$T/out" && [ "$(grep -c 'skipped' "$T/err")" = 4 ]; then
	pass "network ls skips damaged network files with a warning each"
else
	fail "ls of damaged files (status $status)"; sed 's/^/#   /' "$T/out" "$T/err"
fi
run_cairn --root "$S3" network rm ../victim evil1 evil2 evil3 evil4
if [ -f "$S3/victim.json" ] && ip link show "$DUMMY" >/dev/null 2>&1 && ! ls "$S3/networks" | grep -q evil &&
	[ -f "$good" ]; then
	pass "network rm removes damaged files only, touching no other file or interface"
else
	fail "rm of damaged files (status $status)"; sed 's/^/#   /' "$T/out" "$T/err"; ls "$S3" "$S3/networks" | sed 's/^/#   /'
fi
ip link del "$DUMMY" 2>/dev/null
expect_ok "the sound network of that store is removed" --root "$S3" network rm good

links >"$T/links.after"
rules >"$T/rules.after"
if diff -u "$T/links.before" "$T/links.after" >"$T/links.diff"; then
	pass "ip link is as before"
else
	fail "links differ"; sed 's/^/#   /' "$T/links.diff"
fi
mine="$br_a|$br_b|$br_c|cn0a59c[456]|10\.89\.19[678]\."
if ! ip -o link | grep -Eq "$mine"; then
	pass "no bridge and no veth of these networks is left"
else
	fail "links left"; ip -o link | grep -E "$mine" | sed 's/^/#   /'
fi
if diff -u "$T/rules.before" "$T/rules.after" >"$T/rules.diff"; then
	pass "nft list ruleset is as before"
else
	fail "ruleset differs"; sed 's/^/#   /' "$T/rules.diff"
fi
if ! nft list ruleset | grep -Eq "$mine|p-($br_a|$br_b|$br_c)"; then
	pass "no nft chain or rule of these networks is left"
else
	fail "rules left"; nft list ruleset | grep -E "$mine" | sed 's/^/#   /'
fi
check "no mounts left" no_mounts_left
finish
