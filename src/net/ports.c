/* Published ports (cairn run -p): docker's syntax, and nftables DNAT from
 * the host's addresses to a container's. Each container has a chain
 * "p-BRIDGE-ADDRHEX" hung from the table's "hostports" chain, which the
 * nat prerouting and output hooks jump to for local destinations (output:
 * the host's own clients, 127.0.0.1 included; see net_prepare). */
#include "net/net.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORTS_MAX 1024          /* ports one -p may publish (a range) */

/* "N" or "N-M" (1..65535, N <= M); EMPTY_OK: "" is port 0, count 1. */
static int parse_range(const char *s, size_t len, bool empty_ok, uint16_t *first, uint16_t *count)
{
	char buf[16], *end, *dash;
	unsigned long a, b;
	if (len == 0 && empty_ok) {
		*first = 0;
		*count = 1;
		return 0;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strspn(buf, "0123456789-") != len)
		return -1;
	dash = strchr(buf, '-');
	a = strtoul(buf, &end, 10);
	if (end == buf || (dash ? end != dash : *end != '\0'))
		return -1;
	b = a;
	if (dash) {
		b = strtoul(dash + 1, &end, 10);
		if (end == dash + 1 || *end)
			return -1;
	}
	if (a < 1 || b > 65535 || a > b || b - a + 1 > PORTS_MAX)
		return -1;
	*first = (uint16_t)a;
	*count = (uint16_t)(b - a + 1);
	return 0;
}

int net_port_parse(const char *spec, struct net_port *p, cn_err *err)
{
	const char *slash = strchr(spec, '/'), *end = slash ? slash : spec + strlen(spec);
	const char *c2 = NULL, *c1 = NULL;
	uint16_t hcount = 1;
	memset(p, 0, sizeof(*p));
	if (slash) {
		if (!strcmp(slash + 1, "udp"))
			p->udp = true;
		else if (strcmp(slash + 1, "tcp"))
			return cn_err_fail(err, CN_ERR_INVALID, "-p '%s': the protocol must be tcp or udp", spec);
	}
	/* The last ':' ends the host part, the one before it the address. */
	for (const char *q = spec; q < end; q++)
		if (*q == ':') {
			c1 = c2;
			c2 = q;
		}
	if (parse_range(c2 ? c2 + 1 : spec, (size_t)(end - (c2 ? c2 + 1 : spec)), false, &p->ctr_port,
			&p->count) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "-p '%s': expected [IP:][HOST[-END]:]CONTAINER[-END]"
				   "[/tcp|udp] with ports from 1 to 65535", spec);
	if (c2) {
		const char *h = c1 ? c1 + 1 : spec;
		if (parse_range(h, (size_t)(c2 - h), c1 != NULL, &p->host_port, &hcount) < 0)
			return cn_err_fail(err, CN_ERR_INVALID, "-p '%s': '%.*s' is not a host port or range",
					   spec, (int)(c2 - h), h);
	}
	if (c1) {
		char ip[INET_ADDRSTRLEN];
		struct in_addr a;
		size_t n = (size_t)(c1 - spec);
		if (n >= sizeof(ip))
			return cn_err_fail(err, CN_ERR_INVALID, "-p '%s': the address is not IPv4", spec);
		memcpy(ip, spec, n);
		ip[n] = '\0';
		if (inet_pton(AF_INET, ip, &a) != 1)
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "-p '%s': '%s' is not an IPv4 address "
					   "(IPv6 is not supported)", spec, ip);
		p->host_ip = ntohl(a.s_addr);
	}
	if (p->host_port && hcount != p->count)
		return cn_err_fail(err, CN_ERR_INVALID, "-p '%s': the host and container ranges differ in "
				   "length", spec);
	if (!p->host_port && p->count != 1)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "-p '%s': a container range needs a host range "
				   "of the same length", spec);
	return 0;
}

/* A socket bound to IP:PORT (PORT 0: the kernel picks), or -1 with ERR. */
static int bind_port(const struct net_port *p, uint16_t port, uint16_t *got, cn_err *err)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(p->host_ip) };
	socklen_t len = sizeof(a);
	char ip[INET_ADDRSTRLEN];
	int s = socket(AF_INET, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (s < 0)
		return cn_err_sys(err, "socket");
	/* No SO_REUSEADDR: any other socket on the port is a conflict. */
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0) {
		*got = ntohs(a.sin_port);
		return s;
	}
	net_ip_str(p->host_ip, ip);
	{
		_cleanup_free_ char *spec = net_port_str(p);
		int e = errno;
		close(s);
		errno = e;
		if (e == EADDRINUSE)
			return cn_err_fail(err, CN_ERR_CONFLICT, "-p %s: %s:%u/%s: address already in use (a program "
					   "of the host listens there, or a container has already published it)",
					   spec, ip, port, p->udp ? "udp" : "tcp");
		if (e == EADDRNOTAVAIL)
			return cn_err_fail(err, CN_ERR_INVALID, "-p %s: %s is not an address of this host", spec, ip);
		return cn_err_sys(err, "-p %s: bind %s:%u/%s", spec, ip, port, p->udp ? "udp" : "tcp");
	}
}

int net_ports_reserve(struct net_port *p, size_t n, int **fds, size_t *nfds, cn_err *err)
{
	*fds = NULL;
	*nfds = 0;
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < p[i].count; k++) {
			/* A missing host port: the kernel's free ephemeral one, as
			 * docker's allocator picks from that range. */
			uint16_t want = p[i].host_port ? (uint16_t)(p[i].host_port + k) : 0, got = 0;
			int s = bind_port(&p[i], want, &got, err);
			if (s < 0) {
				net_ports_release(*fds, *nfds);
				*fds = NULL;
				*nfds = 0;
				return -1;
			}
			if (!p[i].host_port)
				p[i].host_port = got;
			*fds = cn_xrealloc(*fds, (*nfds + 1) * sizeof(**fds));
			(*fds)[(*nfds)++] = s;
		}
	return 0;
}

void net_ports_release(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

char *net_port_str(const struct net_port *p)
{
	char ip[INET_ADDRSTRLEN];
	const char *proto = p->udp ? "udp" : "tcp";
	net_ip_str(p->host_ip, ip);
	if (p->count > 1)
		return cn_xasprintf("%s:%u-%u->%u-%u/%s", ip, p->host_port, p->host_port + p->count - 1,
				    p->ctr_port, p->ctr_port + p->count - 1, proto);
	return cn_xasprintf("%s:%u->%u/%s", ip, p->host_port, p->ctr_port, proto);
}

/* The jump target of a rule line ("jump X # handle N"): its length, 0 if none. */
static size_t jump_target(const char *line, const char **target)
{
	const char *j = strstr(line, "jump ");
	if (!j)
		j = strstr(line, "goto ");
	if (!j)
		return 0;
	*target = j + 5;
	return strcspn(*target, " \t\n");
}

static bool name_matches(const char *s, size_t len, const char *name, bool prefix)
{
	size_t n = strlen(name);
	return prefix ? len >= n && !strncmp(s, name, n) : len == n && !strncmp(s, name, n);
}

/* Walk the table as nft lists it (with rule handles when HANDLES): ON_CHAIN
 * for each chain's header, ON_RULE for each other line of it (indent
 * stripped), until one returns nonzero (that value is returned). No
 * table: 0, nothing walked. A listing that fails otherwise (ENOBUFS,
 * ENOMEM, an interrupted netlink dump...) is -1 with ERR: "no chain" must
 * never be concluded from a listing that did not happen. */
typedef int (*chain_fn)(const char *chain, void *ctx);
typedef int (*rule_fn)(const char *chain, const char *line, void *ctx);

static int walk_table(bool handles, chain_fn on_chain, rule_fn on_rule, void *ctx, cn_err *err)
{
	_cleanup_free_ char *listed = NULL, *tables = NULL;
	char chain[256] = "", *save = NULL;
	cn_err ignored;
	int r = 0;
	if (net_nft_run("list table " NET_NFT_TABLE "\n", handles, &listed, err) < 0) {
		/* Told apart by a listing of the tables, not by nft's wording:
		 * only when that works and names no table of ours is there none. */
		if (net_nft_run("list tables\n", false, &tables, &ignored) == 0 &&
		    !strstr(tables, "table " NET_NFT_TABLE "\n"))
			return 0;
		return cn_err_wrap(err, "list the nftables table " NET_NFT_TABLE);
	}
	for (char *line = strtok_r(listed, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (sscanf(line, "chain %255s", chain) == 1)
			r = on_chain(chain, ctx);
		else if (*chain)
			r = on_rule(chain, line, ctx);
	}
	return r;
}

struct drop_ctx {
	const char *name;
	bool prefix;
	cn_buf rules, chains;
};

static int drop_chain(const char *chain, void *ctx)
{
	struct drop_ctx *d = ctx;
	if (name_matches(chain, strlen(chain), d->name, d->prefix))
		cn_buf_addf(&d->chains, "flush chain " NET_NFT_TABLE " %1$s\ndelete chain " NET_NFT_TABLE " %1$s\n", chain);
	return 0;
}

static int drop_jump(const char *chain, const char *line, void *ctx)
{
	struct drop_ctx *d = ctx;
	const char *t, *h;
	size_t tl = jump_target(line, &t);
	if (tl && name_matches(t, tl, d->name, d->prefix) && !name_matches(chain, strlen(chain), d->name, d->prefix) &&
	    (h = strstr(line, "# handle ")))
		cn_buf_addf(&d->rules, "delete rule " NET_NFT_TABLE " %s handle %ld\n", chain, strtol(h + 9, NULL, 10));
	return 0;
}

int net_nft_drop_chains(const char *name, bool prefix, cn_err *err)
{
	struct drop_ctx d = { .name = name, .prefix = prefix };
	int r = 0;
	cn_buf_init(&d.rules, 0);
	cn_buf_init(&d.chains, 0);
	r = walk_table(true, drop_chain, drop_jump, &d, err);
	if (r == 0 && (d.rules.len || d.chains.len)) {
		cn_buf_adds(&d.rules, d.chains.data);
		r = net_nft_run(d.rules.data, false, NULL, err);
	}
	cn_buf_free(&d.rules);
	cn_buf_free(&d.chains);
	return r;
}

static void chain_name(const struct net_lease *l, char *out, size_t len)
{
	snprintf(out, len, "p-%s-%08x", l->conf.bridge, l->addr);
}

/* The ports marker of an address: NET_RUN_DIR/BRIDGE/IP.ports exists from
 * before its port chain is made until after the chain is gone, so an
 * address without one provably has no chain, and its lease is taken and
 * released without nftables (a RUN step never publishes ports, and each
 * nft context costs milliseconds). Only the lease's holder makes or
 * removes it; /run is a tmpfs, as the rules it stands for are not kept
 * across a reboot either. */
static void marker_path(const char *bridge, uint32_t addr, char *out, size_t len)
{
	char ip[INET_ADDRSTRLEN];
	net_ip_str(addr, ip);
	snprintf(out, len, "%s/%s/%s.ports", NET_RUN_DIR, bridge, ip);
}

static bool marked(const struct net_lease *l)
{
	char path[PATH_MAX];
	marker_path(l->conf.bridge, l->addr, path, sizeof(path));
	/* Anything but "no such file" counts as marked: the slow way is safe. */
	return access(path, F_OK) == 0 || errno != ENOENT;
}

static int mark(const char *bridge, uint32_t addr, cn_err *err)
{
	char path[PATH_MAX];
	int fd;
	marker_path(bridge, addr, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cn_err_sys(err, "create %s", path);
	close(fd);
	return 0;
}

static int unmark(const struct net_lease *l, cn_err *err)
{
	char path[PATH_MAX];
	marker_path(l->conf.bridge, l->addr, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return cn_err_sys(err, "remove %s", path);
	return 0;
}

/* A port chain's marker, made if missing (the chain of an older cairn):
 * CHAIN "p-BRIDGE-ADDRHEX" (any bridge when BRIDGE is NULL; another
 * name: nothing). A bridge without a lease directory has no stamp either:
 * its first lease adopts the chain. */
static int mark_chain(const char *chain, const char *bridge, cn_err *err)
{
	const char *dash = strrchr(chain, '-'), *hex;
	char br[64], path[PATH_MAX];
	char *end;
	unsigned long addr;
	if (strncmp(chain, "p-", 2) || !dash || dash - chain < 3 || (size_t)(dash - chain - 2) >= sizeof(br))
		return 0;
	snprintf(br, sizeof(br), "%.*s", (int)(dash - chain - 2), chain + 2);
	/* A name, never a path (the chain names come from the nft table). */
	if (br[0] == '.' || strchr(br, '/'))
		return 0;
	hex = dash + 1;
	errno = 0;
	addr = strtoul(hex, &end, 16);
	if (end == hex || *end || errno || addr > 0xffffffffu || (bridge && strcmp(br, bridge)))
		return 0;
	marker_path(br, (uint32_t)addr, path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0;
	if (mark(br, (uint32_t)addr, err) == 0)
		return 0;
	if (!bridge && errno == ENOENT)
		return 0;
	return -1;
}

/* Chains made before markers existed (a cairn of an older version): each
 * p-BRIDGE-ADDRHEX chain of C gets its marker, once per lease directory
 * (the stamp says it was done). An older cairn run later in the same
 * boot is caught by check_taken's walk, which marks any chain it meets. */
#define ADOPT_STAMP "ports-marked"

struct adopt_ctx {
	const struct net_conf *c;
	cn_err *err;
};

static int adopt_chain(const char *chain, void *ctx)
{
	struct adopt_ctx *a = ctx;
	return mark_chain(chain, a->c->bridge, a->err);
}

static int adopt_rule(const char *chain, const char *line, void *ctx)
{
	(void)chain;
	(void)line;
	(void)ctx;
	return 0;
}

int net_ports_adopt(const struct net_conf *c, cn_err *err)
{
	char stamp[PATH_MAX];
	struct adopt_ctx a = { .c = c, .err = err };
	_cleanup_close_ int lock = -1;
	int fd;
	snprintf(stamp, sizeof(stamp), "%s/%s/" ADOPT_STAMP, NET_RUN_DIR, c->bridge);
	if (access(stamp, F_OK) == 0)
		return 0;
	/* Under the setup lock: no chain is made meanwhile. */
	if ((lock = net_setup_lock(err)) < 0)
		return -1;
	/* Another process may have adopted them while this one waited. */
	if (access(stamp, F_OK) == 0)
		return 0;
	/* No stamp unless every chain was seen and marked. */
	if (walk_table(false, adopt_chain, adopt_rule, &a, err) < 0)
		return -1;
	fd = open(stamp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cn_err_sys(err, "create %s", stamp);
	close(fd);
	return 0;
}

int net_ports_unused(const char *listed, cn_err *err)
{
	if (strstr(listed, "chain p-") || !strstr(listed, "chain hostports"))
		return 0;
	if (net_nft_drop_chains("hostports", false, err) < 0 || net_nft_drop_chains("prerouting", false, err) < 0 ||
	    net_nft_drop_chains("output", false, err) < 0)
		return -1;
	return 0;
}

/* Drop L's chain (when SWEEP_ALL, the hooks with the last one); the
 * caller holds the setup lock. The marker goes only once the chain is
 * provably gone: after a failure, the next holder sweeps again. */
static int remove_locked(const struct net_lease *l, bool sweep, cn_err *err)
{
	char chain[64];
	_cleanup_free_ char *listed = NULL;
	cn_err ignored;
	chain_name(l, chain, sizeof(chain));
	if (net_nft_drop_chains(chain, false, err) < 0 || unmark(l, err) < 0)
		return -1;
	if (!sweep || net_nft_run("list table " NET_NFT_TABLE "\n", false, &listed, &ignored) < 0)
		return 0;
	return net_ports_unused(listed, err);
}

int net_ports_remove(const struct net_lease *l, cn_err *err)
{
	_cleanup_close_ int lock = -1;
	if (!marked(l))
		return 0;
	if ((lock = net_setup_lock(err)) < 0)
		return -1;
	return remove_locked(l, true, err);
}

/* Whether the lease behind a port chain "p-BRIDGE-ADDRHEX" is held. */
static bool chain_owner_alive(const char *chain)
{
	const char *dash = strrchr(chain, '-');
	char ip[INET_ADDRSTRLEN], path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	if (!dash || dash - chain < 3)
		return false;
	net_ip_str((uint32_t)strtoul(dash + 1, NULL, 16), ip);
	snprintf(path, sizeof(path), "%s/%.*s/%s", NET_RUN_DIR, (int)(dash - chain - 2), chain + 2, ip);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	/* Our shared lock would be refused while its holder keeps it. */
	return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

/* Whether the rule LINE of another container publishes a port of P. */
static const struct net_port *taken(const char *line, const struct net_port *p, size_t n, unsigned *port)
{
	const char *d = strstr(line, "dport ");
	char ip[INET_ADDRSTRLEN] = "";
	struct in_addr a;
	uint32_t their_ip = 0;
	bool udp;
	if (!d || d - line < 4)
		return NULL;
	udp = !strncmp(d - 4, "udp ", 4);
	*port = (unsigned)strtoul(d + 6, NULL, 10);
	if (sscanf(line, "ip daddr %15s", ip) == 1 && inet_pton(AF_INET, ip, &a) == 1)
		their_ip = ntohl(a.s_addr);
	for (size_t i = 0; i < n; i++)
		if (p[i].udp == udp && *port >= p[i].host_port && *port < (unsigned)p[i].host_port + p[i].count &&
		    (!p[i].host_ip || !their_ip || p[i].host_ip == their_ip))
			return &p[i];
	return NULL;
}

struct taken_ctx {
	const char *mine;
	const struct net_port *p;
	size_t n;
	bool other;             /* the current chain is another live container's */
	bool mine_seen;         /* MINE exists while unmarked: an older cairn's */
	char chain[256];
	cn_strv dead;
	cn_err *err;
};

static int taken_chain(const char *chain, void *ctx)
{
	struct taken_ctx *t = ctx;
	snprintf(t->chain, sizeof(t->chain), "%s", chain);
	/* An unmarked chain (an older cairn made it after this boot's
	 * adoption) gets its marker: its address's next holder sweeps it. */
	if (mark_chain(chain, NULL, t->err) < 0)
		return -1;
	if (!strcmp(chain, t->mine))
		t->mine_seen = true;
	t->other = !strncmp(chain, "p-", 2) && strcmp(chain, t->mine);
	if (t->other && !chain_owner_alive(chain)) {
		cn_strv_pushdup(&t->dead, chain);
		t->other = false;
	}
	return 0;
}

static int taken_rule(const char *chain, const char *line, void *ctx)
{
	struct taken_ctx *t = ctx;
	const struct net_port *hit;
	unsigned port;
	(void)chain;
	if (!t->other || !(hit = taken(line, t->p, t->n, &port)))
		return 0;
	_cleanup_free_ char *s = net_port_str(hit);
	return cn_err_fail(t->err, CN_ERR_CONFLICT, "-p %s: port %u/%s is already published by another "
			   "container (nft chain %s)", s, port, hit->udp ? "udp" : "tcp", t->chain);
}

/* docker's "port is already allocated": P against the live containers'
 * chains; the chains of dead ones (a kill -9) are swept on the way, and
 * MINE if it is there (the caller swept a marked one: this is an older
 * cairn's, whose rules would join the new ones). The caller holds the
 * setup lock. */
static int check_taken(const char *mine, const struct net_port *p, size_t n, cn_err *err)
{
	struct taken_ctx t = { .mine = mine, .p = p, .n = n, .err = err };
	cn_err ignored;
	int r = walk_table(false, taken_chain, taken_rule, &t, err);
	for (size_t i = 0; i < t.dead.n; i++)
		net_nft_drop_chains(t.dead.v[i], false, &ignored);
	cn_strv_free(&t.dead);
	if (r == 0 && t.mine_seen)
		r = net_nft_drop_chains(mine, false, err);
	return r;
}

int net_ports_add(const struct net_lease *l, const struct net_port *p, size_t n, cn_err *err)
{
	char chain[64], cip[INET_ADDRSTRLEN], hip[INET_ADDRSTRLEN];
	_cleanup_buf_ cn_buf b = { 0 };
	const char *hp = "fib daddr type local jump hostports";
	_cleanup_close_ int lock = -1;
	/* Nothing to publish: only a killed run's chain to sweep, if marked. */
	if (!n)
		return net_ports_remove(l, err);
	if ((lock = net_setup_lock(err)) < 0)
		return -1;
	chain_name(l, chain, sizeof(chain));
	/* A killed run's chain for this address goes first. */
	if (marked(l) && remove_locked(l, false, err) < 0)
		return -1;
	if (check_taken(chain, p, n, err) < 0)
		return -1;
	/* The marker before the chain: a kill -9 between them leaves a marker
	 * without a chain, which costs the next holder one sweep. */
	if (mark(l->conf.bridge, l->addr, err) < 0)
		return -1;
	net_ip_str(l->addr, cip);
	cn_buf_init(&b, 0);
	/* The hooks: local destinations (the host's own clients through
	 * output, 127.0.0.1 included) go through hostports. */
	cn_buf_addf(&b, "add table " NET_NFT_TABLE "\n"
		    "add chain " NET_NFT_TABLE " prerouting { type nat hook prerouting priority -100; policy accept; }\n"
		    "add chain " NET_NFT_TABLE " output { type nat hook output priority -100; policy accept; }\n"
		    "add chain " NET_NFT_TABLE " hostports\n");
	if (!net_nft_chain_has("prerouting", hp))
		cn_buf_addf(&b, "add rule " NET_NFT_TABLE " prerouting %s\n", hp);
	if (!net_nft_chain_has("output", hp))
		cn_buf_addf(&b, "add rule " NET_NFT_TABLE " output %s\n", hp);
	cn_buf_addf(&b, "add chain " NET_NFT_TABLE " %s\n", chain);
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < p[i].count; k++) {
			cn_buf_addf(&b, "add rule " NET_NFT_TABLE " %s meta nfproto ipv4 ", chain);
			if (p[i].host_ip) {
				net_ip_str(p[i].host_ip, hip);
				cn_buf_addf(&b, "ip daddr %s ", hip);
			}
			cn_buf_addf(&b, "%s dport %u dnat ip to %s:%u\n", p[i].udp ? "udp" : "tcp",
				    p[i].host_port + k, cip, p[i].ctr_port + k);
		}
	cn_buf_addf(&b, "add rule " NET_NFT_TABLE " hostports jump %s\n", chain);
	if (net_nft_run(b.data, false, NULL, err) < 0)
		return cn_err_wrap(err, "publish the ports of %s", cip);
	return 0;
}
