/* Names on a named network: each member's lease file (NET_RUN_DIR/BRIDGE/IP,
 * flocked by its holder, see net_lease_acquire) holds the path of its
 * hosts file and its names; a lease nobody holds is a dead member's. On
 * every join and leave, under the network's hosts.lock, every live
 * member's hosts file is rewritten in place below a marker line: what is
 * above it (localhost, --add-host) stays. A bind mount pins the inode, so
 * a new file renamed over the old one would never be seen inside. */
#include "net/net.h"
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
#include <unistd.h>

#define MARKER "# cairn network members (kept current by cairn)\n"
#define LEASE_MAX (16 * 1024)
#define HOSTS_MAX (256 * 1024)

struct member {
	char ip[INET_ADDRSTRLEN];
	char *hosts;            /* its hosts file */
	char *names;            /* space-separated */
};

/* A lease file's member record, when its holder is alive and joined;
 * *HELD (if not NULL) says whether it is held, joined or not. */
static int read_member(int dfd, const char *ip, struct member *m, bool *held)
{
	_cleanup_close_ int fd = openat(dfd, ip, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_buf_ cn_buf b = { 0 };
	cn_err ignored;
	char *nl;
	if (held)
		*held = false;
	if (fd < 0)
		return 0;
	/* Taking a shared lock means nobody holds the lease: a dead member.
	 * Our own lease is locked through another open file: alive. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return 0;
	if (held)
		*held = true;
	cn_buf_init(&b, LEASE_MAX);
	if (cn_read_fd(fd, ip, LEASE_MAX, &b, &ignored) < 0 || !(nl = strchr(b.data, '\n')) || nl == b.data)
		return 0;
	*nl = '\0';
	snprintf(m->ip, sizeof(m->ip), "%s", ip);
	m->hosts = cn_xstrdup(b.data);
	m->names = cn_xstrndup(nl + 1, strcspn(nl + 1, "\n"));
	return 1;
}

static int open_dir(const struct net_conf *c)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", NET_RUN_DIR, c->bridge);
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Live members of the network whose lease dir is DFD (sorted by address);
 * with HELD_TOO, also the held leases of no member (a container between
 * its lease and its join, a RUN step), with no names. */
static size_t list_members(int dfd, bool held_too, struct member **out)
{
	_cleanup_close_ int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct member *m = NULL;
	size_t n = 0;
	*out = NULL;
	if (!d)
		return 0;
	fd = -1;        /* the DIR owns it */
	while ((de = readdir(d))) {
		struct in_addr a;
		struct member one;
		bool held;
		if (inet_pton(AF_INET, de->d_name, &a) != 1)
			continue;
		if (read_member(dfd, de->d_name, &one, &held) <= 0) {
			if (!held || !held_too)
				continue;
			snprintf(one.ip, sizeof(one.ip), "%.15s", de->d_name);
			one.hosts = NULL;
			one.names = NULL;
		}
		m = cn_xrealloc(m, (n + 1) * sizeof(*m));
		m[n++] = one;
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)   /* few members: insertion sort by address */
		for (size_t j = i; j > 0; j--) {
			struct in_addr a, b;
			inet_pton(AF_INET, m[j - 1].ip, &a);
			inet_pton(AF_INET, m[j].ip, &b);
			if (ntohl(a.s_addr) <= ntohl(b.s_addr))
				break;
			struct member t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	*out = m;
	return n;
}

static void free_members(struct member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].hosts);
		free(m[i].names);
	}
	free(m);
}

/* PATH's text above the marker, then BLOCK, written over the same inode. */
static void rewrite_hosts(const char *path, const char *block)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_buf_ cn_buf b = { 0 };
	cn_err ignored;
	char *mark;
	if (fd < 0)
		return;         /* a member that just ended: its file is gone */
	cn_buf_init(&b, HOSTS_MAX);
	if (cn_read_fd(fd, path, HOSTS_MAX, &b, &ignored) < 0)
		return;
	mark = strstr(b.data, MARKER);
	if (mark)
		b.len = (size_t)(mark - b.data);
	b.data[b.len] = '\0';
	if (cn_buf_adds(&b, block) < 0)
		return;
	if (pwrite(fd, b.data, b.len, 0) == (ssize_t)b.len)
		(void)!ftruncate(fd, (off_t)b.len);
}

/* Rewrite every live member's hosts file (the caller holds hosts.lock). */
static void sync_members(int dfd)
{
	struct member *m;
	size_t n = list_members(dfd, false, &m);
	_cleanup_buf_ cn_buf block = { 0 };
	cn_buf_init(&block, HOSTS_MAX);
	cn_buf_adds(&block, MARKER);
	for (size_t i = 0; i < n; i++)
		cn_buf_addf(&block, "%s\t%s\n", m[i].ip, m[i].names);
	for (size_t i = 0; i < n; i++)
		rewrite_hosts(m[i].hosts, block.data);
	free_members(m, n);
}

static int lock_hosts(int dfd)
{
	cn_err ignored;
	return cn_lock_at(dfd, "hosts.lock", &ignored);
}

/* Whether NAME can go on a hosts line (and into a lease file). */
static bool plain_name(const char *name)
{
	return *name && strlen(name) < 256 && !strpbrk(name, " \t\r\n#");
}

int net_member_join(struct net_lease *l, const char *hosts_file, const cn_strv *names, cn_err *err)
{
	_cleanup_close_ int dfd = -1, lock = -1;
	_cleanup_buf_ cn_buf rec = { 0 };
	if (!l->conf.named || l->lock_fd < 0)
		return 0;
	dfd = open_dir(&l->conf);
	if (dfd < 0 || (lock = lock_hosts(dfd)) < 0)
		return cn_err_sys(err, "lock the hosts of network %s", l->conf.bridge);
	cn_buf_init(&rec, LEASE_MAX);
	cn_buf_addf(&rec, "%s\n", hosts_file);
	for (size_t i = 0, k = 0; i < names->n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = !strcmp(names->v[i], names->v[j]);
		if (dup || !plain_name(names->v[i]))
			continue;
		cn_buf_addf(&rec, "%s%s", k++ ? " " : "", names->v[i]);
	}
	cn_buf_addc(&rec, '\n');
	if (strchr(hosts_file, '\n') || ftruncate(l->lock_fd, 0) < 0 ||
	    pwrite(l->lock_fd, rec.data, rec.len, 0) != (ssize_t)rec.len)
		return cn_err_sys(err, "record the member in network %s", l->conf.bridge);
	sync_members(dfd);
	return 0;
}

void net_member_leave(struct net_lease *l)
{
	_cleanup_close_ int dfd = -1, lock = -1;
	if (!l->conf.named || l->lock_fd < 0)
		return;
	dfd = open_dir(&l->conf);
	if (dfd < 0 || (lock = lock_hosts(dfd)) < 0)
		return;
	(void)!ftruncate(l->lock_fd, 0);
	sync_members(dfd);
}

int net_members(const struct net_conf *c, cn_strv *out, cn_err *err)
{
	_cleanup_close_ int dfd = open_dir(c);
	struct member *m;
	size_t n;
	(void)err;
	if (dfd < 0)
		return 0;       /* never used */
	n = list_members(dfd, false, &m);
	for (size_t i = 0; i < n; i++)
		cn_strv_push(out, cn_xasprintf("%s %s", m[i].ip, m[i].names));
	free_members(m, n);
	return 0;
}

int net_lease_holders(const struct net_conf *c, cn_strv *out)
{
	_cleanup_close_ int dfd = open_dir(c);
	struct member *m;
	size_t n;
	if (dfd < 0)
		return 0;
	n = list_members(dfd, true, &m);
	for (size_t i = 0; i < n; i++)
		cn_strv_push(out, m[i].names ? cn_xstrndup(m[i].names, strcspn(m[i].names, " "))
					     : cn_xasprintf("the holder of %s", m[i].ip));
	free_members(m, n);
	return (int)n;
}
