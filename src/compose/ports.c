/* The short port syntax, [IP:][HOST[-END]:]CONTAINER[-END][/PROTOCOL], read
 * once for both its users: the merge (ports merge on ip, host, container
 * and protocol) and the check of a service's ports. The rules are docker's
 * nat.ParsePortSpec: the last part is the container's, an IPv6 address is
 * bracketed or takes every colon but the last two, ports are 1-65535, a
 * container range needs a host range of the same size. Also a service's
 * ports: (both forms) as -p strings. */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cmp_ip_valid(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool port_num(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return v >= 1 && v <= 65535;
}

int cmp_port_range(const char *s, size_t n, unsigned *lo, unsigned *hi, const char **why)
{
	const char *dash = memchr(s, '-', n);
	*why = "a port is a number from 1 to 65535, or a range N-M";
	if (!dash) {
		if (!port_num(s, n, lo))
			return -1;
		*hi = *lo;
		return 0;
	}
	if (!port_num(s, (size_t)(dash - s), lo) || !port_num(dash + 1, n - (size_t)(dash + 1 - s), hi))
		return -1;
	if (*hi < *lo) {
		*why = "the range ends before it starts";
		return -1;
	}
	return 0;
}

int cmp_port_parse(const char *spec, struct cmp_port *p, const char **why)
{
	_cleanup_free_ char *s = cn_xstrdup(spec);
	char *slash = strrchr(s, '/'), *host = NULL, *ctr, *c;

	memset(p, 0, sizeof(*p));
	snprintf(p->proto, sizeof(p->proto), "tcp");
	if (slash) {
		*slash = '\0';
		if (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp") && strcmp(slash + 1, "sctp")) {
			*why = "the protocol is tcp, udp or sctp";
			return -1;
		}
		snprintf(p->proto, sizeof(p->proto), "%s", slash + 1);
	}
	if (s[0] == '[') {
		char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			*why = "an IPv6 address in brackets is followed by :HOST:CONTAINER";
			return -1;
		}
		*close = '\0';
		snprintf(p->ip, sizeof(p->ip), "%s", s + 1);
		host = close + 2;
		ctr = strchr(host, ':');
		if (!ctr) {
			*why = "an address is followed by :HOST:CONTAINER";
			return -1;
		}
		*ctr++ = '\0';
	} else if (!(ctr = strrchr(s, ':'))) {
		ctr = s;
	} else {
		*ctr++ = '\0';
		host = s;
		if ((c = strrchr(s, ':'))) {
			*c = '\0';
			host = c + 1;
			snprintf(p->ip, sizeof(p->ip), "%s", s);
		}
	}
	if (strlen(p->ip) >= sizeof(p->ip) - 1 || (p->ip[0] && !cmp_ip_valid(p->ip))) {
		*why = "not an IP address";
		return -1;
	}
	if (cmp_port_range(ctr, strlen(ctr), &p->ctr_lo, &p->ctr_hi, why) < 0)
		return -1;
	if (host && *host && cmp_port_range(host, strlen(host), &p->host_lo, &p->host_hi, why) < 0)
		return -1;
	if (p->host_lo && p->ctr_hi != p->ctr_lo && p->host_hi - p->host_lo != p->ctr_hi - p->ctr_lo) {
		*why = "the host and container ranges differ in size";
		return -1;
	}
	return 0;
}

char *cmp_port_key(const struct cmp_port *p)
{
	char host[16] = "", ctr[16];
	if (p->host_lo)
		snprintf(host, sizeof(host), p->host_hi != p->host_lo ? "%u-%u" : "%u", p->host_lo, p->host_hi);
	snprintf(ctr, sizeof(ctr), p->ctr_hi != p->ctr_lo ? "%u-%u" : "%u", p->ctr_lo, p->ctr_hi);
	return cn_xasprintf("%s|%s|%s|%s", p->ip, host, ctr, p->proto);
}

/* ---- a service's ports: -p strings ---- */

/* The short form checked, kept as written for cairn run -p. */
static int port_short(struct cmp_ctx *c, const char *path, const struct cmp_node *it, cn_strv *out)
{
	struct cmp_port p;
	const char *why;
	if (cmp_port_parse(it->str, &p, &why) < 0)
		return cmp_fail(c, it, "%s: invalid port \"%.64s\" ([IP:][HOST:]CONTAINER[/PROTOCOL]): %s", path,
				it->str, why);
	cn_strv_pushdup(out, it->str);
	return 0;
}

static int port_long(struct cmp_ctx *c, const char *path, const struct cmp_node *it, cn_strv *out)
{
	_cleanup_free_ char *pub = NULL, *ip = NULL, *proto = NULL;
	long long target;
	const struct cmp_node *t = cmp_map_get(it, "target");
	static const char *const known[] = { "target", "published", "host_ip", "protocol", "app_protocol", "mode",
					     "name", NULL };
	cmp_warn_unknown(c, path, it, known);
	if (!t)
		return cmp_fail(c, it, "%s: a port without target:", path);
	if (cmp_get_int(c, path, t, &target) < 0 || cmp_get_str(c, path, cmp_map_get(it, "published"), &pub) < 0 ||
	    cmp_get_str(c, path, cmp_map_get(it, "host_ip"), &ip) < 0 ||
	    cmp_get_str(c, path, cmp_map_get(it, "protocol"), &proto) < 0)
		return -1;
	if (target < 1 || target > 65535)
		return cmp_fail(c, t, "%s: target %lld is no port", path, target);
	{
		unsigned lo, hi;
		const char *why;
		if (pub && *pub && cmp_port_range(pub, strlen(pub), &lo, &hi, &why) < 0)
			return cmp_fail(c, cmp_map_get(it, "published"), "%s: invalid published port \"%.32s\": %s",
					path, pub, why);
		if (ip && *ip && !cmp_ip_valid(ip))
			return cmp_fail(c, cmp_map_get(it, "host_ip"), "%s: host_ip \"%.64s\" is not an IP address",
					path, ip);
		if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
			return cmp_fail(c, cmp_map_get(it, "protocol"), "%s: protocol \"%.16s\": tcp, udp or sctp",
					path, proto);
	}
	cn_strv_push(out, cn_xasprintf("%s%s%s%s%s%lld%s%s", ip ? (strchr(ip, ':') ? "[" : "") : "", ip ? ip : "",
				       ip ? (strchr(ip, ':') ? "]:" : ":") : "", pub ? pub : "", pub ? ":" : "",
				       target, proto ? "/" : "", proto ? proto : ""));
	return 0;
}

int cmp_service_ports(struct cmp_ctx *c, const char *path, const struct cmp_node *n, cn_strv *out)
{
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_SEQ)
		return cmp_type_error(c, path, n, "a list");
	for (size_t i = 0; i < n->n; i++) {
		const struct cmp_node *it = n->kids[i];
		int r = it->kind == CMP_MAP ? port_long(c, path, it, out)
			: it->kind == CMP_SCALAR && !cmp_is_null(it) ? port_short(c, path, it, out)
			: cmp_type_error(c, path, it, "a string or a mapping");
		if (r < 0)
			return -1;
	}
	return 0;
}
