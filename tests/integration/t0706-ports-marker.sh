#!/bin/bash
# Published ports and the lease's ports marker (net/ports.c): an address
# whose holder published ports is marked (IP.ports in its lease directory)
# until its DNAT chain is gone, and only a marked address is swept, so a
# lease that never had ports takes no nftables at all. Whoever drops the
# lease removes the chain: rm -f, the end of a --rm run, and after a
# kill -9 the next holder of the address (a container or a RUN step). A
# chain made before markers existed (an older cairn) is adopted and swept
# too: a stale DNAT would forward the host's port to whoever gets the
# address next. A holder whose table listing fails keeps its marker (the
# next holder sweeps), and an older cairn's chain made after the adoption
# is marked by the next run -p's walk of the table.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null; then
	skip "ports marker" "needs root and nft"
	finish
fi
build_busybox || finish

N=t0706n-$$ C1=t0706-a-$$ C2=t0706-b-$$
SUB=10.89.186.0/24 IP=10.89.186.2 HEX=0a59ba02
P1=$((20000 + RANDOM % 10000)) P2=$((30000 + RANDOM % 10000)) P3=$((40000 + RANDOM % 10000))

cleanup() {
	unset CAIRN_NET_BRIDGE CAIRN_NET_SUBNET
	"$CAIRN" rm -f "$C1" "$C2" >/dev/null 2>&1
	[ -n "${br:-}" ] && nft delete chain inet cairn "p-$br-$HEX" >/dev/null 2>&1
	"$CAIRN" network rm "$N" >/dev/null 2>&1
	cleanup_test_dir
}
trap cleanup EXIT

expect_ok "network create" network create --subnet $SUB "$N"
br=$("$CAIRN" network inspect "$N" | jq -r '.[0].Options["com.docker.network.bridge.name"]')
dir=/run/cairn/net/$br
chain=p-$br-$HEX
has_chain() { nft list chain inet cairn "$chain" >/dev/null 2>&1; }
supervisor_of() { jq -r .supervisor.pid "$CAIRN_ROOT/containers/$1/config.json"; }
wait_gone() { for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; }

expect_ok "a container without ports" run --rm --network "$N" busybox true
check "...leaves no marker" test ! -e "$dir/$IP.ports"
check "...and no port chain" sh -c "! nft list chain inet cairn $chain >/dev/null 2>&1"

expect_ok "a container publishing a port" run -d --name "$C1" --network "$N" -p 127.0.0.1:$P1:80 busybox sleep 300
check "...marks its address" test -e "$dir/$IP.ports"
check "...and has its DNAT chain" has_chain
expect_ok "rm -f the container" rm -f "$C1"
check "...removes its port chain" sh -c "! nft list ruleset | grep -q 'dport $P1 '"
check "...and the marker" test ! -e "$dir/$IP.ports"

expect_ok "another, stopped" run -d --name "$C1" --network "$N" -p 127.0.0.1:$P1:80 busybox sleep 300
check "...is marked" test -e "$dir/$IP.ports"
expect_ok "stop the container" stop -t 1 "$C1"
check "...removes its port chain" sh -c "! nft list ruleset | grep -q 'dport $P1 '"
check "...and the marker" test ! -e "$dir/$IP.ports"
"$CAIRN" rm -f "$C1" >/dev/null 2>&1

# kill -9 of the supervisor: the chain and the marker stay, the next
# holder of the address sweeps both.
expect_ok "a container publishing a port, killed" run -d --name "$C2" --network "$N" -p 127.0.0.1:$P2:80 busybox sleep 300
sup=$(supervisor_of "$(cat "$T/out")")
kill -9 "$sup"
wait_gone "$sup"
check "a killed container's port rule stays" sh -c "nft list ruleset | grep -q 'dport $P2 '"
check "...and so does its marker" test -e "$dir/$IP.ports"
export CAIRN_NET_BRIDGE=$br CAIRN_NET_SUBNET=$SUB
buildfile "$T/ctx" <<EOF
FROM busybox
RUN echo $$ >/swept
EOF
expect_ok "a RUN step leasing that address" build -q --no-cache -t t0706-sweep "$T/ctx"
unset CAIRN_NET_BRIDGE CAIRN_NET_SUBNET
check "...sweeps the stale DNAT" sh -c "! nft list ruleset | grep -q 'dport $P2 '"
check "...and the marker" test ! -e "$dir/$IP.ports"
"$CAIRN" rm -f "$C2" >/dev/null 2>&1

# The holder's listing of the table fails while it drops its chain (a
# transient netlink error): the chain is not proven gone, so the marker
# stays and the next holder of the address sweeps it.
P4=$((P1 + 1)) P5=$((P2 + 1)) P6=$((P3 + 1)) P7=$((P1 + 2))
export CAIRN_TEST_NFT_LIST_FAIL=1
expect_ok "a container publishing a port, its table listing failing at the end" \
	run --rm --network "$N" -p 127.0.0.1:$P4:80 busybox true
unset CAIRN_TEST_NFT_LIST_FAIL
check "...leaves its port rule" sh -c "nft list ruleset | grep -q 'dport $P4 '"
check "...and keeps the marker" test -e "$dir/$IP.ports"
expect_ok "the next container on that address" run --rm --network "$N" busybox true
check "...sweeps the stale DNAT" sh -c "! nft list ruleset | grep -q 'dport $P4 '"
check "...and the marker" test ! -e "$dir/$IP.ports"

# A chain an older cairn makes after this boot's adoption (no marker):
# the walk of the next run -p marks it, so the next holder of its address
# sweeps it, and a run -p on the address itself drops it first.
expect_ok "a container holding the address" run -d --name "$C1" --network "$N" busybox sleep 300
held=$(cat "$T/out")
nft add chain inet cairn "$chain"
nft add rule inet cairn "$chain" meta nfproto ipv4 tcp dport $P5 dnat ip to $IP:80
check "an older cairn's chain on a held address, unmarked" test ! -e "$dir/$IP.ports"
expect_ok "a container publishing a port on another address" \
	run --rm --network "$N" -p 127.0.0.1:$P6:80 busybox true
check "...marks the older cairn's chain" test -e "$dir/$IP.ports"
check "...whose holder still has it" sh -c "nft list ruleset | grep -q 'dport $P5 '"
sup=$(supervisor_of "$held")
kill -9 "$sup"
wait_gone "$sup"
expect_ok "after a kill -9, the next container on that address" run --rm --network "$N" busybox true
check "...sweeps it" sh -c "! nft list ruleset | grep -q 'dport $P5 '"
check "...and the marker" test ! -e "$dir/$IP.ports"
"$CAIRN" rm -f "$C1" >/dev/null 2>&1
nft add chain inet cairn "$chain"
nft add rule inet cairn "$chain" meta nfproto ipv4 tcp dport $P5 dnat ip to $IP:80
expect_ok "a container publishing a port on the address of an unmarked chain" \
	run -d --name "$C1" --network "$N" -p 127.0.0.1:$P7:80 busybox sleep 300
check "...publishes its own port" sh -c "nft list ruleset | grep -q 'dport $P7 '"
check "...and not the older cairn's" sh -c "! nft list ruleset | grep -q 'dport $P5 '"
expect_ok "rm -f the container" rm -f "$C1"
check "...removes its port chain" sh -c "! nft list ruleset | grep -q 'dport $P7 '"

# A chain an older cairn left (no marker): adopted once per lease
# directory, then swept by the next lease of its address.
nft add chain inet cairn "$chain"
nft add rule inet cairn "$chain" meta nfproto ipv4 tcp dport $P3 dnat ip to $IP:80
rm -f "$dir/ports-marked" "$dir/$IP.ports"
check "an unmarked chain from an older cairn" has_chain
expect_ok "the next container on that address" run --rm --network "$N" busybox true
check "...removes it" sh -c "! nft list ruleset | grep -q 'dport $P3 '"
check "...and records the adoption" test -e "$dir/ports-marked"

expect_ok "network rm" network rm "$N"
check "no chain of the network is left" sh -c "! nft list ruleset | grep -q 'p-$br-'"
finish
