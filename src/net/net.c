/* Bridge networks: the host's side (bridge, forwarding, nftables), the
 * resolv.conf a sandbox gets, and address leases. */
#include "net/net.h"
#include "util/rootless.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/lazylib.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESOLV_MAX (64 * 1024)

/* ---- configuration ---- */

int net_conf_subnet(struct net_conf *c, const char *cidr, cn_err *err)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	struct in_addr a;
	char *end;
	unsigned long prefix;
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return cn_err_fail(err, CN_ERR_INVALID, "subnet '%s' is not A.B.C.D/N", cidr);
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (inet_pton(AF_INET, ip, &a) != 1 || *end || end == slash + 1 || prefix < 8 || prefix > 30)
		return cn_err_fail(err, CN_ERR_INVALID, "subnet '%s' is not A.B.C.D/N with N from 8 to 30",
				   cidr);
	c->subnet = ntohl(a.s_addr);
	c->prefix = (unsigned)prefix;
	if (c->subnet & (0xffffffffu >> prefix))
		return cn_err_fail(err, CN_ERR_INVALID, "subnet '%s' has host bits set", cidr);
	return 0;
}

int net_conf_default(struct net_conf *c, cn_err *err)
{
	const char *bridge = getenv("CAIRN_NET_BRIDGE");
	const char *subnet = getenv("CAIRN_NET_SUBNET");
	memset(c, 0, sizeof(*c));
	if (!bridge || !*bridge)
		bridge = NET_DEFAULT_BRIDGE;
	/* Names go into nft chain names and lease paths: keep them plain. */
	if (strlen(bridge) >= IFNAMSIZ || strspn(bridge, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
	    strlen(bridge))
		return cn_err_fail(err, CN_ERR_INVALID,
				   "CAIRN_NET_BRIDGE '%s' must be at most %d of [a-z0-9_-]", bridge,
				   IFNAMSIZ - 1);
	memcpy(c->bridge, bridge, strlen(bridge) + 1);
	if (net_conf_subnet(c, subnet && *subnet ? subnet : NET_DEFAULT_SUBNET, err) < 0)
		return cn_err_wrap(err, "CAIRN_NET_SUBNET");
	return 0;
}

static uint32_t gateway(const struct net_conf *c)
{
	return c->subnet + 1;
}

static uint32_t broadcast(const struct net_conf *c)
{
	return c->subnet | (0xffffffffu >> c->prefix);
}

void net_ip_str(uint32_t addr, char out[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(addr) };
	inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* ---- host side ---- */

static int run_dir(const struct net_conf *c, char *path, size_t len, cn_err *err)
{
	if (c)
		snprintf(path, len, "%s/%s", NET_RUN_DIR, c->bridge);
	else
		snprintf(path, len, "%s", NET_RUN_DIR);
	return cn_mkdir_p(path, 0755, err);
}

int net_nft_run(const char *cmd, bool handles, char **out, cn_err *err)
{
	static bool failed;
	struct nft_ctx *ctx;
	int r;
	/* Tests: the first listing with rule handles (the one a chain is
	 * dropped after) fails, as a transient netlink error would. */
	if (handles && !failed && getenv("CAIRN_TEST_NFT_LIST_FAIL")) {
		failed = true;
		return cn_err_fail(err, CN_ERR_SYSTEM, "nftables: listing refused (CAIRN_TEST_NFT_LIST_FAIL)");
	}
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		const char *why = cn_lazylib_error(CN_LAZY_NFT);
		return cn_err_fail(err, CN_ERR_SYSTEM, "nftables: cannot create a context%s%s",
				   *why ? ": " : "", why);
	}
	if (handles)
		nft_ctx_output_set_flags(ctx, nft_ctx_output_get_flags(ctx) | NFT_CTX_OUTPUT_HANDLE);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	r = nft_run_cmd_from_buffer(ctx, cmd);
	if (r != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		size_t n = e ? strcspn(e, "\n") : 0;
		cn_err_fail(err, CN_ERR_SYSTEM, "nftables: %.*s", (int)n, n ? e : "command failed");
	} else if (out) {
		*out = cn_xstrdup(nft_ctx_get_output_buffer(ctx));
	}
	nft_ctx_free(ctx);
	return r != 0 ? -1 : 0;
}

static int nft_run(const char *cmd, char **out, cn_err *err)
{
	return net_nft_run(cmd, false, out, err);
}

/* Whether CHAIN of our table has a rule holding NEEDLE. */
bool net_nft_chain_has(const char *chain, const char *needle)
{
	_cleanup_free_ char *cmd = cn_xasprintf("list chain " NET_NFT_TABLE " %s\n", chain), *out = NULL;
	cn_err ignored;
	return nft_run(cmd, &out, &ignored) == 0 && strstr(out, needle);
}

/* The table: base chains shared by every cairn network, one pair of
 * chains per bridge (flushed and refilled, so a changed subnet replaces
 * the old rules), jumped to once. Only drops: the base chains accept, and
 * an accept in one bridge's chain would end the walk before another
 * bridge's drop (and would not override another table's drop anyway, see
 * forward_drop_note). Published ports have chains of their own (ports.c). */
static int nft_setup(const struct net_conf *c, cn_err *err)
{
	char net[INET_ADDRSTRLEN], cidr[32];
	const char *br = c->bridge;
	_cleanup_free_ char *fj = cn_xasprintf("jump fwd-%s", br), *nj = cn_xasprintf("jump nat-%s", br);
	_cleanup_buf_ cn_buf b = { 0 };
	net_ip_str(c->subnet, net);
	snprintf(cidr, sizeof(cidr), "%s/%u", net, c->prefix);
	cn_buf_init(&b, 64 * 1024);
	cn_buf_addf(&b, "add table " NET_NFT_TABLE "\n"
		    "add chain " NET_NFT_TABLE " forward { type filter hook forward priority filter; policy accept; }\n"
		    "add chain " NET_NFT_TABLE " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
		    "add chain " NET_NFT_TABLE " localnet { type filter hook prerouting priority raw; policy accept; }\n"
		    "add chain " NET_NFT_TABLE " fwd-%1$s\n"
		    "add chain " NET_NFT_TABLE " nat-%1$s\n", br);
	if (nft_run(b.data, NULL, err) < 0)
		return -1;
	cn_buf_reset(&b);
	/* Into the subnet from elsewhere: replies and published ports only.
	 * Bridged traffic between members (br_netfilter) has the bridge as
	 * both interfaces. */
	cn_buf_addf(&b, "flush chain " NET_NFT_TABLE " fwd-%1$s\n"
		    "flush chain " NET_NFT_TABLE " nat-%1$s\n"
		    "add rule " NET_NFT_TABLE " fwd-%1$s oifname \"%1$s\" ct state established,related return\n"
		    "add rule " NET_NFT_TABLE " fwd-%1$s oifname \"%1$s\" ct status dnat return\n"
		    "add rule " NET_NFT_TABLE " fwd-%1$s oifname \"%1$s\" iifname != \"%1$s\" drop\n"
		    "add rule " NET_NFT_TABLE " nat-%1$s oifname \"%1$s\" ip saddr 127.0.0.0/8 masquerade\n"
		    /* Hairpin: a member reaching a port its own network publishes
		     * must get the answer back through the host, not straight
		     * from the server, which it would not recognize. */
		    "add rule " NET_NFT_TABLE " nat-%1$s oifname \"%1$s\" iifname \"%1$s\" ct status dnat masquerade\n", br);
	if (c->internal)
		cn_buf_addf(&b, "add rule " NET_NFT_TABLE " fwd-%1$s iifname \"%1$s\" oifname != \"%1$s\" drop\n", br);
	else
		cn_buf_addf(&b, "add rule " NET_NFT_TABLE " nat-%s ip saddr %s ip daddr != %s masquerade\n", br, cidr,
			    cidr);
	/* route_localnet (bridge_setup) makes the kernel accept 127.0.0.0/8
	 * destinations arriving on the bridges: a member sending to 127.0.0.1
	 * through its gateway would reach the host's loopback services
	 * (CVE-2020-8558), and the DNAT of published ports would take such
	 * packets from anywhere (moby#41872). No packet from outside has a
	 * loopback destination before NAT (replies to 127.0.0.1 clients are
	 * addressed to the gateway until conntrack restores them, after the
	 * raw priority): drop them, as kube-proxy does. */
	if (!net_nft_chain_has("localnet", "127.0.0.0/8"))
		cn_buf_adds(&b, "add rule " NET_NFT_TABLE " localnet iifname != \"lo\" ip daddr 127.0.0.0/8 drop\n");
	/* The jumps are added once: a second copy would run the chain twice. */
	if (!net_nft_chain_has("forward", fj))
		cn_buf_addf(&b, "add rule " NET_NFT_TABLE " forward %s\n", fj);
	if (!net_nft_chain_has("postrouting", nj))
		cn_buf_addf(&b, "add rule " NET_NFT_TABLE " postrouting %s\n", nj);
	return nft_run(b.data, NULL, err);
}

/* Docker's iptables sets the FORWARD policy to drop; a drop in any base
 * chain on the forward hook wins over our accept (netavark#532). */
static void forward_drop_note(const struct net_conf *c, cn_strv *notes)
{
	_cleanup_free_ char *rs = NULL;
	cn_err ignored;
	char table[128] = "", chain[128] = "", *save = NULL;
	if (nft_run("list ruleset\n", &rs, &ignored) < 0)
		return;
	for (char *line = strtok_r(rs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (sscanf(line, "table %127[^{]", table) == 1)
			continue;
		if (sscanf(line, "chain %127s", chain) == 1)
			continue;
		if (strstr(line, "hook forward") && strstr(line, "policy drop") &&
		    strncmp(table, "inet cairn", 10) != 0) {
			char net[INET_ADDRSTRLEN];
			size_t tl = strlen(table);
			while (tl && table[tl - 1] == ' ')
				table[--tl] = '\0';
			net_ip_str(c->subnet, net);
			cn_strv_push(notes, cn_xasprintf(
				"the host's firewall drops forwarded packets (table %s, chain %s: policy drop, "
				"as docker sets it), so the %s network cannot reach out; allow %s/%u there "
				"(e.g. iptables -I DOCKER-USER -s %s/%u -j ACCEPT and the same with -d and "
				"-m conntrack --ctstate ESTABLISHED,RELATED) or use --network host",
				table, chain, c->bridge, net, c->prefix, net, c->prefix));
			return;
		}
	}
}

static int sysctl_set(const char *path, cn_err *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || cn_write_all(fd, "1\n", 2) < 0) {
		cn_err_sys(err, "write 1 to %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int bridge_setup(const struct net_conf *c, cn_err *err)
{
	char path[128];
	if (net_nl_bridge_add(c->bridge, err) < 0 ||
	    net_nl_addr_add(c->bridge, gateway(c), c->prefix, err) < 0 ||
	    net_nl_link_set(c->bridge, NULL, true, err) < 0)
		return -1;
	/* Published ports on 127.0.0.1: the DNAT'd packet leaves through the
	 * bridge with a loopback source (masqueraded by nat-BRIDGE), and the
	 * reply's destination is 127.0.0.1 again once un-NATed. What else it
	 * would let in is dropped by the table's localnet chain (nft_setup). */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", c->bridge);
	return sysctl_set("/proc/sys/net/ipv4/ip_forward", err) < 0 ? -1 : sysctl_set(path, err);
}

bool net_subnets_overlap(uint32_t a, unsigned pa, uint32_t b, unsigned pb)
{
	unsigned p = pa < pb ? pa : pb;
	uint32_t mask = p ? 0xffffffffu << (32 - p) : 0;
	return (a & mask) == (b & mask);
}

bool net_route_overlap(const struct net_conf *c, char iface[IFNAMSIZ + 1])
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	char line[512];
	unsigned long dest, mask;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%16s %lx %*x %*x %*d %*d %*d %lx", iface, &dest, &mask) != 3 || mask == 0)
			continue;
		/* The kernel prints the words in network byte order. */
		if (net_subnets_overlap(ntohl((uint32_t)dest), (unsigned)__builtin_popcountl(mask), c->subnet,
					c->prefix))
			return true;
	}
	return false;
}

static int need_root(const struct net_conf *c, cn_err *err)
{
	/* Rootless cairn is root in its own user namespace: geteuid() says 0. */
	if (geteuid() == 0 && !cn_rootless())
		return 0;
	return cn_err_fail(err, CN_ERR_UNSUPPORTED,
			   "the default network (bridge %s) needs root; rootless networking through "
			   "slirp4netns is not supported yet: use --network host or --network none",
			   c->bridge);
}

int net_setup_lock(cn_err *err)
{
	char dir[PATH_MAX];
	if (run_dir(NULL, dir, sizeof(dir), err) < 0)
		return -1;
	return cn_lock_at(AT_FDCWD, NET_RUN_DIR "/setup.lock", err);
}

/* A created network's definition is still there (the caller holds the
 * setup lock, under which net_teardown removes it). */
static int def_exists(const struct net_conf *c, cn_err *err)
{
	if (!c->def_file || access(c->def_file, F_OK) == 0)
		return 0;
	return cn_err_fail(err, CN_ERR_NOT_FOUND, "the network of bridge %s was removed", c->bridge);
}

int net_prepare(const struct net_conf *c, cn_strv *notes, cn_err *err)
{
	char dir[PATH_MAX], resolv[PATH_MAX], iface[IFNAMSIZ + 1];
	_cleanup_close_ int lock = -1;
	if (need_root(c, err) < 0)
		return -1;
	if (run_dir(NULL, dir, sizeof(dir), err) < 0)
		return -1;
	/* One preparer at a time: the nft jump check and its add go together. */
	if ((lock = net_setup_lock(err)) < 0 || def_exists(c, err) < 0)
		return -1;
	/* A bridge on a subnet the host routes elsewhere (a LAN, a VPN,
	 * another store's network on the same /24) would take its traffic. */
	if (net_nl_link_index(c->bridge) == 0 && net_route_overlap(c, iface)) {
		char net[INET_ADDRSTRLEN];
		net_ip_str(c->subnet, net);
		return cn_err_fail(err, CN_ERR_CONFLICT, "the %s network's subnet %s/%u overlaps a route of the "
				   "host through %s: not creating the bridge (remove and create the network "
				   "again, or give another subnet)", c->bridge, net, c->prefix, iface);
	}
	if (bridge_setup(c, err) < 0 || nft_setup(c, err) < 0)
		return cn_err_wrap(err, "set up the %s network (--network host does without)", c->bridge);
	flock(lock, LOCK_UN);
	if (notes)
		forward_drop_note(c, notes);
	return net_resolv_conf(resolv, sizeof(resolv), notes, err);
}

int net_teardown(const struct net_conf *c, cn_strv *holders, cn_err *err)
{
	char dir[PATH_MAX];
	_cleanup_free_ char *ports = cn_xasprintf("p-%s-", c->bridge);
	_cleanup_free_ char *fwd = cn_xasprintf("fwd-%s", c->bridge), *nat = cn_xasprintf("nat-%s", c->bridge);
	_cleanup_free_ char *rest = NULL;
	_cleanup_close_ int lock = -1;
	if (need_root(c, err) < 0 || run_dir(NULL, dir, sizeof(dir), err) < 0)
		return -1;
	if ((lock = net_setup_lock(err)) < 0)
		return -1;
	/* Any held lease, joined or not: a lease is taken under this lock,
	 * so none can appear until the bridge and the definition are gone. */
	if (net_lease_holders(c, holders) > 0)
		return cn_err_fail(err, CN_ERR_BUSY, "in use");
	/* fwd-BR and nat-BR are whole names: "fwd-cn-1" must not take "fwd-cn-12". */
	if (net_nft_drop_chains(ports, true, err) < 0 || net_nft_drop_chains(fwd, false, err) < 0 ||
	    net_nft_drop_chains(nat, false, err) < 0)
		return cn_err_wrap(err, "remove the nftables rules of %s", c->bridge);
	/* The table goes with the last bridge (nft list ruleset as before). */
	if (nft_run("list table " NET_NFT_TABLE "\n", &rest, err) == 0) {
		if (!strstr(rest, "chain fwd-")) {
			if (nft_run("delete table " NET_NFT_TABLE "\n", NULL, err) < 0)
				return -1;
		} else if (net_ports_unused(rest, err) < 0) {
			return -1;
		}
	}
	if (net_nl_link_del(c->bridge, err) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", NET_RUN_DIR, c->bridge);
	if (cn_rm_rf_at(AT_FDCWD, dir, err) < 0)
		return -1;
	if (c->def_file && unlink(c->def_file) < 0 && errno != ENOENT)
		return cn_err_sys(err, "remove %s", c->def_file);
	return 0;
}

/* ---- resolv.conf ---- */

static bool usable_nameserver(const char *line)
{
	char ns[64];
	struct in_addr a;
	if (sscanf(line, " nameserver %63s", ns) != 1)
		return true;    /* not a nameserver line: kept */
	/* The sandbox has its own loopback and no IPv6 route. */
	return inet_pton(AF_INET, ns, &a) == 1 && (ntohl(a.s_addr) >> 24) != 127;
}

/* FILE's lines minus unusable nameservers; the count of usable ones. */
static int filter_resolv(const char *file, cn_buf *out)
{
	cn_buf in;
	cn_err ignored;
	char *save = NULL;
	int n = 0;
	cn_buf_init(&in, RESOLV_MAX);
	if (cn_read_file_at(AT_FDCWD, file, RESOLV_MAX, &in, &ignored) < 0 || cn_buf_addc(&in, '\0') < 0) {
		cn_buf_free(&in);
		return 0;
	}
	for (char *line = strtok_r(in.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ns[8];
		if (!usable_nameserver(line))
			continue;
		if (sscanf(line, " nameserver%7s", ns) == 1)
			n++;
		cn_buf_addf(out, "%s\n", line);
	}
	cn_buf_free(&in);
	return n;
}

int net_resolv_conf(char *path, size_t len, cn_strv *notes, cn_err *err)
{
	char dir[PATH_MAX];
	cn_buf b;
	int r;
	if (run_dir(NULL, dir, sizeof(dir), err) < 0)
		return -1;
	cn_buf_init(&b, RESOLV_MAX * 2);
	if (filter_resolv("/etc/resolv.conf", &b) == 0) {
		cn_buf_reset(&b);
		if (filter_resolv("/run/systemd/resolve/resolv.conf", &b) == 0) {
			cn_buf_reset(&b);
			filter_resolv("/etc/resolv.conf", &b);  /* search and options still apply */
			cn_buf_adds(&b, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
			if (notes)
				cn_strv_pushdup(notes, "the host's /etc/resolv.conf names only loopback "
						       "nameservers, which a private network cannot reach: "
						       "using 8.8.8.8 and 8.8.4.4");
		}
	}
	/* Named by content: sandboxes started under another resolv.conf (a
	 * mount namespace's own, a file edited meanwhile) never swap files. */
	{
		char digest[CN_DIGEST_STR_SIZE];
		cn_sha256_oneshot(b.data ? b.data : "", b.len, digest);
		snprintf(path, len, "%s/resolv-%.16s.conf", dir, cn_digest_hex(digest));
	}
	r = access(path, F_OK) == 0 ? 0 : cn_write_file_atomic(AT_FDCWD, path, b.data ? b.data : "", b.len, 0644, err);
	cn_buf_free(&b);
	return r;
}

/* ---- leases ---- */

/* The MTU of the interface the default route leaves through, so that a
 * sandbox behind a 1400-byte uplink (clouds, tunnels) does not depend on
 * ICMP "fragmentation needed" reaching it; 0 when there is none. */
static unsigned uplink_mtu(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	char line[512], iface[IFNAMSIZ + 1];
	unsigned long dest, mask;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct ifreq ifr;
		_cleanup_close_ int s = -1;
		if (sscanf(line, "%16s %lx %*x %*x %*d %*d %*d %lx", iface, &dest, &mask) != 3 ||
		    dest != 0 || mask != 0)
			continue;
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.*s", IFNAMSIZ - 1, iface);
		if (s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 576)
			return (unsigned)ifr.ifr_mtu;
	}
	return 0;
}

int net_lease_acquire(const struct net_conf *c, struct net_lease *l, cn_err *err)
{
	char dir[PATH_MAX];
	_cleanup_close_ int dfd = -1, setup = -1;
	memset(l, 0, sizeof(*l));
	l->lock_fd = -1;
	l->conf = *c;
	if (need_root(c, err) < 0)
		return -1;
	if (!c->named) {
		/* Someone removed the default bridge: it comes back, as docker0. */
		if (net_nl_link_index(c->bridge) == 0 && net_prepare(c, NULL, err) < 0)
			return -1;
	} else {
		/* Against net_teardown: a network being removed is not used,
		 * and its bridge is never made again by a run that raced. */
		if ((setup = net_setup_lock(err)) < 0 || def_exists(c, err) < 0)
			return -1;
		if (net_nl_link_index(c->bridge) == 0)
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "the bridge %s of the network is gone",
					   c->bridge);
	}
	if (run_dir(c, dir, sizeof(dir), err) < 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cn_err_sys(err, "open %s", dir);
	/* Lease files are never removed: an unlink racing a lock would let two
	 * sandboxes hold "the same" address through two files. */
	for (uint32_t a = gateway(c) + 1; a < broadcast(c); a++) {
		char name[INET_ADDRSTRLEN];
		int fd;
		net_ip_str(a, name);
		fd = openat(dfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return cn_err_sys(err, "open the lease %s/%s", dir, name);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			if (errno == EWOULDBLOCK)
				continue;
			return cn_err_sys(err, "lock the lease %s/%s", dir, name);
		}
		l->lock_fd = fd;
		l->addr = a;
		/* A dead member's record (hosts.c) is not ours. */
		(void)!ftruncate(fd, 0);
		l->mtu = c->mtu ? c->mtu : uplink_mtu();
		snprintf(l->host_if, sizeof(l->host_if), "cn%08x", a);
		/* A veth of a run killed before its namespace died, and the
		 * port chain it published from (it would take this holder's
		 * traffic): RUN steps come here as well as containers. */
		if (setup >= 0) {
			close(setup);
			setup = -1;
		}
		if (net_ports_adopt(c, err) < 0 || net_nl_link_del(l->host_if, err) < 0 ||
		    net_ports_remove(l, err) < 0) {
			net_lease_release(l);
			return -1;
		}
		return 0;
	}
	return cn_err_fail(err, CN_ERR_BUSY, "no free address left in the %s network", c->bridge);
}

int net_lease_attach(struct net_lease *l, pid_t pid, cn_err *err)
{
	if (net_nl_veth_add(l->host_if, NET_IFNAME, pid, l->mtu, err) < 0)
		return -1;
	l->attached = true;
	return net_nl_link_set(l->host_if, l->conf.bridge, true, err);
}

int net_lease_configure(const struct net_lease *l, cn_err *err)
{
	if (net_nl_link_set("lo", NULL, true, err) < 0 ||
	    net_nl_addr_add(NET_IFNAME, l->addr, l->conf.prefix, err) < 0 ||
	    net_nl_link_set(NET_IFNAME, NULL, true, err) < 0 ||
	    net_nl_route_default(NET_IFNAME, gateway(&l->conf), err) < 0)
		return -1;
	return 0;
}

void net_lease_release(struct net_lease *l)
{
	cn_err ignored;
	if (l->lock_fd < 0)
		return;
	/* Before the unlock: the next holder must find the name free, and
	 * no DNAT of ours may forward to it (a failure here is swept by the
	 * next holder, as after a kill -9: the marker stays). */
	net_nl_link_del(l->host_if, &ignored);
	net_ports_remove(l, &ignored);
	close(l->lock_fd);
	l->lock_fd = -1;
	l->attached = false;
}
