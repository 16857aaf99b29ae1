/* Named networks in the store: networks/NAME.json, created and removed
 * under networks/lock so that names and subnets stay unique. */
#include "net/netdef.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEF_MAX (256 * 1024)

bool net_def_name_ok(const char *name)
{
	static const char *const reserved[] = { "default", "bridge", "host", "none", "private" };
	size_t n = strlen(name);
	if (n == 0 || n > 128 || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", name[0]) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcmp(name, reserved[i]))
			return false;
	return true;
}

void net_def_free(struct net_def *d)
{
	free(d->name);
	free(d->created);
	free(d->file);
	json_decref(d->labels);
	memset(d, 0, sizeof(*d));
}

void net_def_list_free(struct net_def *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		net_def_free(&list[i]);
	free(list);
}

static int open_dir(const char *root, cn_err *err)
{
	_cleanup_free_ char *dir = cn_xasprintf("%s/networks", root);
	int fd;
	if (cn_mkdir_p(dir, 0700, err) < 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", dir);
	return fd;
}

static int lock_dir(int dfd, cn_err *err)
{
	int fd = cn_lock_at(dfd, "lock", err);
	return fd < 0 ? cn_err_wrap(err, "lock the networks") : fd;
}

static json_t *to_json(const struct net_def *d)
{
	char net[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], cidr[32];
	net_ip_str(d->conf.subnet, net);
	net_ip_str(d->conf.subnet + 1, gw);
	snprintf(cidr, sizeof(cidr), "%s/%u", net, d->conf.prefix);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:[{s:s, s:s}]}, s:b, s:{s:s}, s:O}",
			 "Name", d->name, "Id", d->id, "Created", d->created, "Scope", "local", "Driver",
			 "bridge", "EnableIPv6", 0, "IPAM", "Driver", "default", "Config", "Subnet", cidr,
			 "Gateway", gw, "Internal", d->conf.internal, "Options",
			 "com.docker.network.bridge.name", d->conf.bridge, "Labels", d->labels);
}

/* The file is outside input (a damaged store, another tool): every field
 * that reaches a path, an interface or an nft chain is checked. The bridge
 * is derived from the id, never taken from the file alone, and the name
 * must be the file's own. */
static int from_json(json_t *j, const char *stem, struct net_def *d, cn_err *err)
{
	const char *name = NULL, *id = NULL, *created = NULL, *subnet = NULL, *bridge = NULL, *k;
	json_t *labels = NULL, *v;
	char want[IFNAMSIZ];
	int internal = 0;
	json_error_t je;
	memset(d, 0, sizeof(*d));
	if (json_unpack_ex(j, &je, 0, "{s:s, s:s, s:s, s:{s:[{s:s}]}, s:b, s:{s:s}, s:o}", "Name", &name,
			   "Id", &id, "Created", &created, "IPAM", "Config", "Subnet", &subnet, "Internal",
			   &internal, "Options", "com.docker.network.bridge.name", &bridge, "Labels", &labels) < 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "%s", je.text);
	if (strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64)
		return cn_err_fail(err, CN_ERR_CORRUPT, "Id is not 64 hex digits");
	snprintf(want, sizeof(want), "cn-%.8s", id);
	if (strcmp(bridge, want))
		return cn_err_fail(err, CN_ERR_CORRUPT, "bridge name is not %s", want);
	if (!net_def_name_ok(name) || strcmp(name, stem))
		return cn_err_fail(err, CN_ERR_CORRUPT, "Name is not the file's name");
	if (!json_is_object(labels))
		return cn_err_fail(err, CN_ERR_CORRUPT, "Labels is not an object");
	json_object_foreach(labels, k, v)
		if (!json_is_string(v))
			return cn_err_fail(err, CN_ERR_CORRUPT, "label values must be strings");
	if (net_conf_subnet(&d->conf, subnet, err) < 0)
		return -1;
	memcpy(d->id, id, 65);
	memcpy(d->conf.bridge, want, strlen(want) + 1);
	d->conf.internal = internal;
	d->conf.named = true;
	d->name = cn_xstrdup(name);
	d->created = cn_xstrdup(created);
	d->labels = json_incref(labels);
	return 0;
}

/* FILE's stem (FILE ends in .json) in STEM (NAME_MAX + 1 bytes). */
static void file_stem(const char *file, char *stem)
{
	size_t len = strlen(file);
	snprintf(stem, NAME_MAX + 1, "%.*s", (int)(len > 5 ? len - 5 : 0), file);
}

int net_def_parse(const char *text, size_t len, const char *name, struct net_def *d, cn_err *err)
{
	json_error_t je;
	json_t *j;
	int r;
	memset(d, 0, sizeof(*d));
	j = json_loadb(text, len, 0, &je);
	if (!j)
		return cn_err_fail(err, CN_ERR_CORRUPT, "%s", je.text);
	r = from_json(j, name, d, err);
	json_decref(j);
	if (r < 0)
		net_def_free(d);
	return r;
}

static int load_at(const char *root, int dfd, const char *file, struct net_def *d, cn_err *err)
{
	_cleanup_buf_ cn_buf b = { 0 };
	char stem[NAME_MAX + 1];
	memset(d, 0, sizeof(*d));
	file_stem(file, stem);
	cn_buf_init(&b, DEF_MAX);
	if (cn_read_file_at(dfd, file, DEF_MAX, &b, err) < 0)
		return -1;
	if (net_def_parse(b.data ? b.data : "", b.len, stem, d, err) < 0)
		return cn_err_wrap(err, "network file %s", file);
	d->file = cn_xasprintf("%s/networks/%s", root, file);
	d->conf.def_file = d->file;
	return 0;
}

static int compare(const void *a, const void *b)
{
	return strcmp(((const struct net_def *)a)->name, ((const struct net_def *)b)->name);
}

/* Every loadable network; a damaged file is skipped, with a line on
 * WARNINGS (when not NULL) saying how to get rid of it. */
static int list_at(const char *root, int dfd, struct net_def **out, size_t *n, cn_strv *warnings,
		   cn_err *err)
{
	_cleanup_close_ int fd = dup(dfd);
	DIR *d;
	struct dirent *de;
	*out = NULL;
	*n = 0;
	if (fd < 0 || !(d = fdopendir(fd)))
		return cn_err_sys(err, "read the networks");
	fd = -1;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct net_def one;
		cn_err bad;
		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		if (load_at(root, dfd, de->d_name, &one, &bad) < 0) {
			char stem[NAME_MAX + 1];
			file_stem(de->d_name, stem);
			if (warnings)
				cn_strv_push(warnings, cn_xasprintf("%s: skipped%s", bad.msg, net_def_name_ok(stem) ?
								    " ('cairn network rm' of its name removes it)" : ""));
			continue;
		}
		*out = cn_xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = one;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), compare);
	return 0;
}

int net_def_list(const char *root, struct net_def **out, size_t *n, cn_strv *warnings, cn_err *err)
{
	_cleanup_close_ int dfd = open_dir(root, err);
	if (dfd < 0)
		return -1;
	return list_at(root, dfd, out, n, warnings, err);
}

int net_def_forget_damaged(const char *root, const char *name, cn_err *err)
{
	_cleanup_close_ int dfd = -1, lock = -1;
	_cleanup_free_ char *file = NULL;
	struct net_def d;
	cn_err bad;
	if (!net_def_name_ok(name))
		return 0;
	if ((dfd = open_dir(root, err)) < 0 || (lock = lock_dir(dfd, err)) < 0)
		return -1;
	file = cn_xasprintf("%s.json", name);
	if (faccessat(dfd, file, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (load_at(root, dfd, file, &d, &bad) == 0) {
		net_def_free(&d);
		return 0;       /* sound after all: the caller's ordinary removal */
	}
	if (unlinkat(dfd, file, 0) < 0)
		return cn_err_sys(err, "remove %s/networks/%s", root, file);
	return 1;
}

int net_def_load(const char *root, const char *what, struct net_def *d, cn_err *err)
{
	struct net_def *list;
	size_t n, found = SIZE_MAX, matches = 0;
	if (!*what || net_def_list(root, &list, &n, NULL, err) < 0)
		return *what ? -1 : 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(list[i].name, what) || !strcmp(list[i].id, what)) {
			found = i;
			matches = 1;
			break;
		}
		if (!strncmp(list[i].id, what, strlen(what))) {
			found = i;
			matches++;
		}
	}
	if (matches > 1) {
		net_def_list_free(list, n);
		return cn_err_fail(err, CN_ERR_INVALID, "network id prefix '%s' is ambiguous", what);
	}
	if (matches == 1) {
		*d = list[found];
		memset(&list[found], 0, sizeof(list[found]));
	}
	net_def_list_free(list, n);
	/* A damaged file of that name: say so, rather than "not found". */
	if (!matches && net_def_name_ok(what)) {
		_cleanup_close_ int dfd = open_dir(root, err);
		_cleanup_free_ char *file = cn_xasprintf("%s.json", what);
		if (dfd < 0)
			return -1;
		if (faccessat(dfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			if (load_at(root, dfd, file, d, err) < 0)
				return -1;
			net_def_free(d);        /* appeared meanwhile: not listed above */
		}
	}
	return matches == 1;
}

static bool overlaps(uint32_t a, unsigned pa, uint32_t b, unsigned pb)
{
	return net_subnets_overlap(a, pa, b, pb);
}

/* Whether C's subnet is free: no other network's, no route's. */
static int subnet_free(const struct net_conf *c, const struct net_def *list, size_t n, bool say, cn_err *err)
{
	char iface[IFNAMSIZ + 1], net[INET_ADDRSTRLEN];
	struct net_conf def;
	cn_err ignored;
	net_ip_str(c->subnet, net);
	/* The default network's bridge may not exist yet: its subnet is taken
	 * all the same (it would break every default run once made). */
	if (net_conf_default(&def, &ignored) == 0 && overlaps(def.subnet, def.prefix, c->subnet, c->prefix)) {
		char dnet[INET_ADDRSTRLEN];
		net_ip_str(def.subnet, dnet);
		return say ? cn_err_fail(err, CN_ERR_CONFLICT, "subnet %s/%u overlaps the default network "
					 "(%s, %s/%u)", net, c->prefix, def.bridge, dnet, def.prefix) : 0;
	}
	for (size_t i = 0; i < n; i++)
		if (overlaps(list[i].conf.subnet, list[i].conf.prefix, c->subnet, c->prefix))
			return say ? cn_err_fail(err, CN_ERR_CONFLICT, "subnet %s/%u overlaps network '%s'", net,
						 c->prefix, list[i].name) : 0;
	if (net_route_overlap(c, iface))
		return say ? cn_err_fail(err, CN_ERR_CONFLICT, "subnet %s/%u overlaps a route of the host "
					 "(through %s)", net, c->prefix, iface) : 0;
	return 1;
}

static int pick_subnet(struct net_conf *c, const struct net_def *list, size_t n, cn_err *err)
{
	struct net_conf pool;
	if (net_conf_subnet(&pool, NET_DEF_POOL, err) < 0)
		return -1;
	for (uint32_t s = pool.subnet; overlaps(s, pool.prefix, pool.subnet, pool.prefix); s += 256) {
		c->subnet = s;
		c->prefix = 24;
		if (subnet_free(c, list, n, false, err) > 0)
			return 0;
	}
	return cn_err_fail(err, CN_ERR_BUSY, "no free /24 left in %s: give --subnet", NET_DEF_POOL);
}

static int set_labels(json_t *labels, const cn_strv *given, cn_err *err)
{
	for (size_t i = 0; given && i < given->n; i++) {
		const char *kv = given->v[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *k = eq ? cn_xstrndup(kv, (size_t)(eq - kv)) : cn_xstrdup(kv);
		if (!*k)
			return cn_err_fail(err, CN_ERR_INVALID, "--label '%s': expected KEY=VALUE", kv);
		/* jansson refuses keys and values that are not UTF-8 (set_new
		 * takes the value even then). */
		if (json_object_set_new(labels, k, json_string(eq ? eq + 1 : "")) < 0)
			return cn_err_fail(err, CN_ERR_INVALID, "--label '%s': not UTF-8", kv);
	}
	return 0;
}

int net_def_create(const char *root, const char *name, const char *subnet, bool internal,
		   const cn_strv *labels, const char *created, struct net_def *out, cn_err *err)
{
	_cleanup_close_ int dfd = -1, lock = -1;
	_cleanup_free_ char *file = NULL, *text = NULL;
	struct net_def *list = NULL;
	struct net_def d = { 0 };
	unsigned char rnd[32];
	size_t n = 0;
	json_t *j;
	int r = -1;
	if (!net_def_name_ok(name))
		return cn_err_fail(err, CN_ERR_INVALID, "'%s' is not a valid network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, "
				   "not default, bridge, host, none or private)", name);
	if ((dfd = open_dir(root, err)) < 0 || (lock = lock_dir(dfd, err)) < 0 ||
	    list_at(root, dfd, &list, &n, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].name, name)) {
			cn_err_fail(err, CN_ERR_CONFLICT, "network with name %s already exists", name);
			goto out;
		}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		cn_err_sys(err, "getrandom");
		goto out;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(d.id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(d.conf.bridge, sizeof(d.conf.bridge), "cn-%.8s", d.id);
	d.conf.internal = internal;
	d.conf.named = true;
	if (subnet ? net_conf_subnet(&d.conf, subnet, err) < 0 || subnet_free(&d.conf, list, n, true, err) <= 0
		   : pick_subnet(&d.conf, list, n, err) < 0)
		goto out;
	d.name = cn_xstrdup(name);
	d.created = cn_xstrdup(created);
	d.labels = json_object();
	if (set_labels(d.labels, labels, err) < 0)
		goto out;
	j = to_json(&d);
	text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (!text) {
		cn_err_fail(err, CN_ERR_INVALID, "network %s: cannot write its JSON", name);
		goto out;
	}
	file = cn_xasprintf("%s.json", name);
	if (cn_write_file_atomic(dfd, file, text, strlen(text), 0600, err) < 0)
		goto out;
	d.file = cn_xasprintf("%s/networks/%s", root, file);
	d.conf.def_file = d.file;
	*out = d;
	memset(&d, 0, sizeof(d));
	r = 0;
out:
	net_def_free(&d);
	net_def_list_free(list, n);
	return r;
}

int net_def_remove(const char *root, const struct net_def *d, cn_err *err)
{
	_cleanup_close_ int dfd = -1, lock = -1;
	_cleanup_strv_ cn_strv holders = { 0 };
	_cleanup_free_ char *file = cn_xasprintf("%s.json", d->name);
	struct net_def cur;
	cn_err why;
	int r;
	if ((dfd = open_dir(root, err)) < 0 || (lock = lock_dir(dfd, err)) < 0)
		return -1;
	/* D was read before the lock: the network may have been removed and
	 * made again under the same name since (another bridge and subnet). */
	if (load_at(root, dfd, file, &cur, &why) < 0 || strcmp(cur.id, d->id)) {
		if (cur.name)
			net_def_free(&cur);
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "network %s (%.12s) was removed meanwhile", d->name,
				   d->id);
	}
	/* Whatever of it exists (none of it when it was never used); the
	 * check for leases and the removal of the file are made under the
	 * lock the network's users take. */
	r = net_teardown(&cur.conf, &holders, err);
	net_def_free(&cur);
	if (r < 0) {
		if (err->kind == CN_ERR_BUSY && holders.n) {
			_cleanup_buf_ cn_buf names = { 0 };
			cn_buf_init(&names, 0);
			for (size_t i = 0; i < holders.n; i++)
				cn_buf_addf(&names, "%s%s", i ? ", " : "", holders.v[i]);
			return cn_err_fail(err, CN_ERR_BUSY, "network %s is in use by container%s %s", d->name,
					   holders.n > 1 ? "s" : "", names.data);
		}
		return cn_err_wrap(err, "network %s", d->name);
	}
	return 0;
}

json_t *net_def_json(const struct net_def *d)
{
	json_t *j = to_json(d), *ctrs = json_object();
	_cleanup_strv_ cn_strv members = { 0 };
	cn_err ignored;
	net_members(&d->conf, &members, &ignored);
	for (size_t i = 0; i < members.n; i++) {
		const char *sp = strchr(members.v[i], ' ');
		_cleanup_free_ char *ip = cn_xstrndup(members.v[i], sp ? (size_t)(sp - members.v[i]) : 0);
		_cleanup_free_ char *name = sp ? cn_xstrndup(sp + 1, strcspn(sp + 1, " ")) : cn_xstrdup("");
		_cleanup_free_ char *addr = cn_xasprintf("%s/%u", ip, d->conf.prefix);
		json_object_set_new(ctrs, name, json_pack("{s:s, s:s}", "Name", name, "IPv4Address", addr));
	}
	json_object_set_new(j, "Containers", ctrs);
	return j;
}

bool net_def_has_label(const struct net_def *d, const char *filter)
{
	const char *eq = strchr(filter, '=');
	_cleanup_free_ char *k = eq ? cn_xstrndup(filter, (size_t)(eq - filter)) : cn_xstrdup(filter);
	const char *v = json_string_value(json_object_get(d->labels, k));
	return v && (!eq || !strcmp(v, eq + 1));
}
