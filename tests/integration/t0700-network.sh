#!/bin/bash
# The default network of RUN steps and cairn run: a private namespace on
# the cairn0 bridge with outbound NAT. The host's loopback services and
# abstract UNIX sockets are out of reach; --network host reaches them;
# outbound traffic works; nothing is left behind, even after kill -9;
# concurrent sandboxes get distinct addresses.
. "$(dirname "$0")/lib.sh"

LEASES=/run/cairn/net/cairn0
build_busybox || finish

# A loopback-only HTTP server and an abstract UNIX socket on the host.
mkdir -p "$T/www"
echo host-secret >"$T/www/secret"
python3 - "$T" 2>"$T/server.log" <<'EOF' &
import http.server, functools, socket, sys, threading, os
t = sys.argv[1]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=t + "/www")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.bind("\0cairn-t0700-%d" % os.getpid())
u.listen(8)
def serve_unix():
    while True:
        c, _ = u.accept()
        c.sendall(b"abstract-secret\n")
        c.close()
threading.Thread(target=serve_unix, daemon=True).start()
with open(t + "/port.tmp", "w") as f:
    f.write("%d %d\n" % (srv.server_address[1], os.getpid()))
os.rename(t + "/port.tmp", t + "/port")
srv.serve_forever()
EOF
server=$!
trap 'kill $server 2>/dev/null; cleanup_test_dir' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
read -r port pypid <"$T/port"
url="http://127.0.0.1:$port/secret"
abstract="cairn-t0700-$pypid"

# A static client for the abstract socket (busybox's nc has no UNIX sockets).
mkdir -p "$T/ctx"
cat >"$T/uconnect.c" <<'EOF'
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[64];
	ssize_t n;
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t len = strlen(argv[1]);
	if (argc < 2 || len + 1 > sizeof(a.sun_path))
		return 2;
	memcpy(a.sun_path + 1, argv[1], len);
	if (connect(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) < 0)
		return 1;
	n = read(s, buf, sizeof(buf));
	if (n > 0)
		(void)!write(1, buf, (size_t)n);
	return 0;
}
EOF
if gcc -static -O -o "$T/ctx/uconnect" "$T/uconnect.c" 2>"$T/gcc.err"; then
	have_uconnect=1
else
	have_uconnect=0
	cp /bin/true "$T/ctx/uconnect"
fi

check "the host reaches its own loopback server" wget -q -O /dev/null "$url"
if [ $have_uconnect = 1 ]; then
	check "the host reaches its own abstract socket" "$T/ctx/uconnect" "$abstract"
fi

# RUN steps on the default network: each fails the build if it reaches the host.
cat >"$T/ctx/Buildfile" <<EOF
FROM busybox
COPY uconnect /bin/uconnect
RUN ! wget -q -O - $url
RUN if [ $have_uconnect = 1 ]; then ! uconnect $abstract; fi
RUN ! grep -q '@$abstract' /proc/net/unix
EOF
expect_ok "default-network RUN steps do not reach the host's 127.0.0.1 or abstract sockets" build -t net:1 "$T/ctx"
cat >"$T/ctx/Buildfile.addr" <<EOF
FROM busybox
RUN ip -o -4 addr show eth0 >/addr && ip route | grep -q '^default via 10.87.0.1' && cat /addr
EOF
expect_ok "a default-network RUN step" build -f "$T/ctx/Buildfile.addr" "$T/ctx"
check "...has an address on 10.87.0.0/16 and a default route via 10.87.0.1" grep -q 'inet 10\.87\.' "$T/out"
addr=$(grep -o 'inet 10\.87\.[0-9.]*' "$T/out" | head -1 | cut -d' ' -f2)

# No veth or lease left after the steps (unless someone else took the address since).
veth_of() { printf 'cn%02x%02x%02x%02x' $(echo "$1" | tr . ' '); }
left_behind() {   # ADDR: its veth exists while nobody holds its lease
	[ -n "$1" ] || return 1
	flock -n "$LEASES/$1" true 2>/dev/null || return 1
	ip link show "$(veth_of "$1")" >/dev/null 2>&1
}
check "no veth left behind after the build ($addr)" eval "! left_behind '$addr'"

# --network host is an explicit choice, and then the host is reachable.
cat >"$T/ctx/Buildfile.host" <<EOF
FROM busybox
RUN --network=host wget -q -O - $url
EOF
expect_fail "RUN --network=host needs build --network host" 1 "needs 'cairn build --network host'" \
	build -f "$T/ctx/Buildfile.host" "$T/ctx"
expect_ok "RUN --network=host with build --network host reaches the host" \
	build --network host -f "$T/ctx/Buildfile.host" "$T/ctx"
check "...and read the secret" grep -q host-secret "$T/out"
cat >"$T/ctx/Buildfile.hostall" <<EOF
FROM busybox
RUN wget -q -O - $url
EOF
expect_ok "build --network host: plain RUN steps share the host's network" \
	build --network host -f "$T/ctx/Buildfile.hostall" "$T/ctx"
cat >"$T/ctx/Buildfile.key" <<EOF
FROM busybox
RUN echo same step
EOF
expect_ok "a step on the default network" build -f "$T/ctx/Buildfile.key" "$T/ctx"
expect_ok "the same step on the host network" build --network host -f "$T/ctx/Buildfile.key" "$T/ctx"
check "...is not a cache hit (the network is part of the key)" eval "! grep -q CACHED '$T/out'"
expect_fail "an unknown --network" 2 "is not default, host or none" build --network bridge "$T/ctx"

# cairn run: the default network, docker's name for it, and host.
run_cairn run busybox wget -q -O - "$url"
check "cairn run's default network does not reach the host's 127.0.0.1" test "$status" -ne 0
run_cairn run --network bridge busybox ip -o -4 addr show eth0
check "--network bridge is the default network" grep -q 'inet 10\.87\.' "$T/out"
uplink=$(ip route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
if [ -n "$uplink" ]; then
	run_cairn run busybox cat /sys/class/net/eth0/mtu
	check "the sandbox's MTU is the uplink's ($uplink: $(cat /sys/class/net/$uplink/mtu))" \
		test "$(cat "$T/out")" = "$(cat /sys/class/net/$uplink/mtu)"
fi
run_cairn run --network host busybox wget -q -O - "$url"
check "cairn run --network host reaches it" grep -q host-secret "$T/out"
if [ $have_uconnect = 1 ]; then
	run_cairn run -v "$T/ctx/uconnect:/uconnect:ro" busybox /uconnect "$abstract"
	check "cairn run's default network does not reach a host abstract socket" test "$status" -ne 0
	run_cairn run --network host -v "$T/ctx/uconnect:/uconnect:ro" busybox /uconnect "$abstract"
	check "...which --network host reaches" grep -q abstract-secret "$T/out"
else
	skip "abstract socket from cairn run" "no static gcc: $(head -1 "$T/gcc.err")"
fi

# Outbound traffic through the NAT.
release=http://deb.debian.org/debian/dists/bookworm/Release
if curl -fsS -m 20 -o /dev/null "$release" 2>"$T/curl.err"; then
	cat >"$T/ctx/Buildfile.out" <<EOF
FROM busybox
RUN wget -q -O - $release | grep -q '^Origin: Debian'
EOF
	expect_ok "a default-network RUN step reaches deb.debian.org (DNS and HTTP)" \
		build -f "$T/ctx/Buildfile.out" "$T/ctx"
else
	skip "outbound HTTP from a RUN step" "the host itself cannot reach deb.debian.org: $(head -1 "$T/curl.err")"
fi

# Four sandboxes at once: each waits until all four hold their address.
mkdir -p "$T/conc"
for i in 1 2 3 4; do
	"$CAIRN" run -v "$T/conc:/conc" busybox sh -c "
		ip -o -4 addr show eth0 | grep -o 'inet [0-9.]*' > /conc/$i.tmp && mv /conc/$i.tmp /conc/$i
		n=0; while [ \$(ls /conc | grep -vc tmp) -lt 4 ] && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n+1)); done" \
		>"$T/conc.$i.out" 2>&1 &
	pids="${pids:-} $!"
done
wait $pids
check "4 concurrent runs each got an address" test "$(cat "$T"/conc/[1-4] 2>/dev/null | grep -c inet)" -eq 4
check "...all different" test "$(cat "$T"/conc/[1-4] | sort -u | wc -l)" -eq 4
for a in $(cat "$T"/conc/[1-4] | cut -d' ' -f2); do
	check "no veth left for $a" eval "! left_behind '$a'"
done

# kill -9 of cairn while its container runs: the namespace dies with the
# sandbox (PDEATHSIG), the veth with it, and the lease is free again.
"$CAIRN" run -v "$T/conc:/conc" busybox sh -c \
	'ip -o -4 addr show eth0 | grep -o "inet [0-9.]*" > /conc/k.tmp && mv /conc/k.tmp /conc/k; sleep 300' \
	>"$T/kill.out" 2>&1 &
victim=$!
for _ in $(seq 300); do [ -s "$T/conc/k" ] && break; sleep 0.1; done
kaddr=$(cut -d' ' -f2 "$T/conc/k" 2>/dev/null)
check "the killed run had an address" test -n "$kaddr"
kill -9 $victim
wait $victim 2>/dev/null
for _ in $(seq 300); do
	flock -n "$LEASES/$kaddr" true 2>/dev/null && ! ip link show "$(veth_of "$kaddr")" >/dev/null 2>&1 && break
	sleep 0.1
done
check "after kill -9 the lease of $kaddr is free" flock -n "$LEASES/$kaddr" true
check "...and its veth is gone" eval "! left_behind '$kaddr'"

# docker's FORWARD drop policy, in a throwaway network namespace.
if unshare -n true 2>/dev/null; then
	cat >"$T/ctx/Buildfile.fw" <<EOF
FROM busybox
RUN true
EOF
	unshare -n sh -c "ip link set lo up &&
		nft add table ip filter &&
		nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }' &&
		'$CAIRN' build -f '$T/ctx/Buildfile.fw' '$T/ctx'" >"$T/out" 2>"$T/err"
	check "a FORWARD drop policy in another table is reported" grep -q "drops forwarded packets (table ip filter, chain FORWARD" "$T/err"
fi

# Not root: no bridge (rootless RUN steps share the host's network unless
# the bridge is asked for); the error says what to do instead.
if command -v setpriv >/dev/null; then
	mkdir -p "$T/rootless/ctx"
	printf 'FROM scratch\nRUN true\n' >"$T/rootless/ctx/Buildfile"
	chmod -R a+rwX "$T/rootless"
	chmod a+x "$T"
	# Its runtime dir (the warning marker), inside $T rather than /tmp.
	install -d -m 0700 -o 65534 -g 65534 "$T/rootless/run"
	setpriv --reuid=65534 --regid=65534 --clear-groups env CAIRN_ROOT="$T/rootless/store" \
		XDG_RUNTIME_DIR="$T/rootless/run" \
		"$CAIRN" build --network default "$T/rootless/ctx" >"$T/out" 2>"$T/err"
	check "without root the default network fails naming slirp4netns and --network host" \
		grep -q "needs root; rootless networking through slirp4netns is not supported yet: use --network host" "$T/err"
fi

check "no mounts left" no_mounts_left
check "the store is consistent" store_is_consistent
finish
