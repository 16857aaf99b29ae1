/* Bridge networks: a host bridge with a private IPv4 subnet, outbound NAT
 * through an nftables table of cairn's own, and one veth pair per sandbox
 * whose address is leased under a lock (netavark's layout, done with
 * netlink through libmnl and nft syntax through libnftables).
 *
 * RUN steps and `cairn run` use the default network (cairn0, 10.87.0.0/16);
 * a named network (netdef.h: cairn network create, compose) passes its own
 * struct net_conf (another bridge and subnet, its own nft chains named
 * after the bridge) to the same calls, and adds names (hosts.c).
 * Published ports (ports.c) work on either.
 *
 * Lifetime: the default bridge and the table stay (as docker0 does), a
 * named network's go with `network rm` (net_teardown); a sandbox's
 * veth dies with its network namespace, and the lease is an flock on a
 * file under NET_RUN_DIR, so a killed cairn leaves nothing that the next
 * lease of that address does not sweep. Root only: rootless networking
 * (slirp4netns) is issue 10. */
#ifndef NET_NET_H
#define NET_NET_H

#include <arpa/inet.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"
#include "util/strv.h"

#define NET_DEFAULT_BRIDGE "cairn0"
#define NET_DEFAULT_SUBNET "10.87.0.0/16"   /* podman: 10.88/16, docker: 172.17/16 */
#define NET_RUN_DIR "/run/cairn/net"        /* leases and resolv.conf; host-wide, as the bridge */
#define NET_IFNAME "eth0"                   /* the sandbox's end of its veth */
#define NET_NFT_TABLE "inet cairn"          /* every rule of cairn's (net.c, ports.c) */

struct net_conf {
	char bridge[IFNAMSIZ];
	uint32_t subnet;        /* network address, host byte order */
	unsigned prefix;        /* 8..30 */
	unsigned mtu;           /* of the veths; 0: the default route's interface's */
	bool internal;          /* no egress: forwarding out of the bridge is dropped */
	bool named;             /* a created network: members get each other's names
	                         * in their /etc/hosts (the default network has none) */
	const char *def_file;   /* a created network's definition (must outlive the
	                         * conf's copies): net_prepare and net_lease_acquire
	                         * fail once it is gone, net_teardown removes it */
};

/* The default network: CAIRN_NET_BRIDGE and CAIRN_NET_SUBNET ("A.B.C.D/N")
 * override the name and the subnet. */
int net_conf_default(struct net_conf *c, cn_err *err);
/* Parse "A.B.C.D/N" into C (host bits must be zero). */
int net_conf_subnet(struct net_conf *c, const char *cidr, cn_err *err);

/* Make the host side ready (idempotent, safe to run concurrently): the
 * bridge with the gateway address (.1) up, net.ipv4.ip_forward on,
 * route_localnet on the bridge (published ports answer on 127.0.0.1), and
 * the table "inet cairn": masquerade for the subnet's egress (none when
 * internal), forwarding into the subnet from elsewhere dropped (other
 * bridges cannot reach it) except for published ports. NOTES gets one line per thing the user should know
 * (a resolver fallback, a firewall that drops forwarded packets). */
int net_prepare(const struct net_conf *c, cn_strv *notes, cn_err *err);

/* The host-wide lock of the nft table's layout (an fd to close). */
int net_setup_lock(cn_err *err);

/* Undo net_prepare for one bridge: its chains (and its containers' port
 * chains), the bridge itself, its lease directory and C->def_file; the
 * table too when no bridge is left in it. For `network rm`: refused
 * (CN_ERR_BUSY, HOLDERS gets net_lease_holders) while a lease is held.
 * All under the setup lock, which a created network's preparers and
 * leases take too: none can start on a half-removed network. */
int net_teardown(const struct net_conf *c, cn_strv *holders, cn_err *err);

/* The resolv.conf a sandbox on a bridge gets: the host's, unless its
 * nameservers are all loopback (systemd-resolved's 127.0.0.53, a local
 * dnsmasq): then systemd-resolved's upstream list, else public resolvers
 * (docker's rule), with a note. Written under NET_RUN_DIR, named by its
 * content's digest; PATH gets its name (PATH_MAX bytes). */
int net_resolv_conf(char *path, size_t len, cn_strv *notes, cn_err *err);

/* One sandbox's place on a network. */
struct net_lease {
	struct net_conf conf;
	uint32_t addr;          /* host byte order */
	char host_if[IFNAMSIZ]; /* the host's end of the veth, named after the address */
	unsigned mtu;           /* the veth's (0: the kernel's default) */
	int lock_fd;            /* the lease: flocked while the sandbox lives */
	bool attached;
};

/* Take a free address (the lowest whose lease file nobody locks) and
 * remove the veth and the port chain (ports.c; only when the address's
 * ports marker says it may have one) a killed run may have left under
 * its name. The default
 * network's bridge is set up again when someone removed it; a created
 * network's is not (CN_ERR_NOT_FOUND: the network was removed). */
int net_lease_acquire(const struct net_conf *c, struct net_lease *l, cn_err *err);
/* Create the veth pair: the host end on the bridge and up, the other end
 * moved into PID's network namespace as NET_IFNAME. */
int net_lease_attach(struct net_lease *l, pid_t pid, cn_err *err);
/* Inside the sandbox's network namespace (its own process): loopback up,
 * NET_IFNAME with the leased address and up, default route via the gateway. */
int net_lease_configure(const struct net_lease *l, cn_err *err);
/* Remove the host end (if the namespace's death has not) and the port
 * chain (if the address is marked as having one), and drop the lease. */
void net_lease_release(struct net_lease *l);

/* Whether A/PA and B/PB share addresses. */
bool net_subnets_overlap(uint32_t a, unsigned pa, uint32_t b, unsigned pb);
/* Whether a route of the host (not the default one) covers part of C's
 * subnet; IFACE gets its interface. */
bool net_route_overlap(const struct net_conf *c, char iface[IFNAMSIZ + 1]);

/* "A.B.C.D" of a host-order address. */
void net_ip_str(uint32_t addr, char out[INET_ADDRSTRLEN]);

/* ---- hosts.c: who is on a named network, for each member's /etc/hosts ---- */

/* Record L's holder as a member named NAMES (container name, hostname,
 * aliases: the first is the main one) whose hosts file is HOSTS_FILE, and
 * rewrite every live member's hosts file IN PLACE (truncate and write: a
 * container's bind mount pins the inode) with one "IP names" line per
 * member under a marker line. Only for named networks (no-op otherwise). */
int net_member_join(struct net_lease *l, const char *hosts_file, const cn_strv *names, cn_err *err);
/* Forget L's holder and rewrite the others' hosts files. */
void net_member_leave(struct net_lease *l);
/* The live members of network C, by address: "IP NAME..." each, on OUT. */
int net_members(const struct net_conf *c, cn_strv *out, cn_err *err);
/* Who holds a lease of C, joined or not (a container starting, between
 * two --restart runs, a RUN step): its main name, or "the holder of IP",
 * one each on OUT; the count. */
int net_lease_holders(const struct net_conf *c, cn_strv *out);

/* ---- ports.c: published ports (-p), DNAT by nftables ---- */

struct net_port {
	uint32_t host_ip;       /* 0: every local address */
	uint16_t host_port, ctr_port;   /* the first of COUNT each */
	uint16_t count;
	bool udp;
};

/* Parse "[IP:][HOST[-END]:]CTR[-END][/tcp|udp]" (docker's -p). A missing
 * HOST is given the port 0: net_ports_reserve replaces it. */
int net_port_parse(const char *spec, struct net_port *p, cn_err *err);
/* Bind every host port of P (TCP or UDP, no SO_REUSEADDR), as docker's
 * proxy holds them: a port some program of the host uses, one given twice,
 * or an address that is not the host's is refused before any rule is
 * made. A port without a host port gets a free one (the kernel's pick).
 * FDS (close-on-exec) are to be held while the container lives, and
 * given to net_ports_release. */
int net_ports_reserve(struct net_port *p, size_t n, int **fds, size_t *nfds, cn_err *err);
void net_ports_release(int *fds, size_t n);
/* docker's "0.0.0.0:8080->80/tcp" (ranges as 8080-8081->80-81/tcp). */
char *net_port_str(const struct net_port *p);
/* DNAT P (N of them) to L's address: a chain of its own named after the
 * bridge and the address (a killed run's is replaced by the next lease). */
int net_ports_add(const struct net_lease *l, const struct net_port *p, size_t n, cn_err *err);
/* Remove L's port chain (nothing when it has none). An address whose
 * ports marker (ports.c) is absent has none: no nftables at all. */
int net_ports_remove(const struct net_lease *l, cn_err *err);
/* Give the port chains of C that predate the markers theirs (once per
 * lease directory: a stamp file says it was done). */
int net_ports_adopt(const struct net_conf *c, cn_err *err);
/* nft: delete the chain NAME (every chain named NAME* when PREFIX) and
 * every jump to it, in one transaction; no table or no chain: nothing.
 * A listing of the table that fails otherwise is an error (-1). */
int net_nft_drop_chains(const char *name, bool prefix, cn_err *err);
/* Drop the chains published ports hang from (hostports, and the nat
 * prerouting and output hooks) when LISTED (the table, as nft lists it)
 * has no container's port chain left. */
int net_ports_unused(const char *listed, cn_err *err);
/* Whether CHAIN of the table "inet cairn" has a rule holding NEEDLE. */
bool net_nft_chain_has(const char *chain, const char *needle);
/* One nft transaction; OUT (if not NULL) gets what nft printed, with
 * rule handles when HANDLES. */
int net_nft_run(const char *cmd, bool handles, char **out, cn_err *err);

/* ---- netlink.c: rtnetlink through libmnl (host byte order addresses) ---- */
int net_nl_link_index(const char *name);        /* 0: no such link */
int net_nl_bridge_add(const char *name, cn_err *err);   /* EEXIST is fine */
/* MTU 0: the kernel's default (1500). */
int net_nl_veth_add(const char *name, const char *peer, pid_t peer_netns_pid, unsigned mtu,
		    cn_err *err);
int net_nl_link_set(const char *name, const char *master, bool up, cn_err *err);
int net_nl_link_del(const char *name, cn_err *err);     /* ENODEV is fine */
int net_nl_addr_add(const char *name, uint32_t addr, unsigned prefix, cn_err *err);
int net_nl_route_default(const char *name, uint32_t gateway, cn_err *err);

#endif
