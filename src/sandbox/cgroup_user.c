/* Rootless cgroups: limits in the cgroup v2 directory delegated to the
 * user, where the host delegates one (systemd's Delegate=yes).
 *
 * cgroup v2 lets only a cgroup without processes give controllers to its
 * children ("no internal processes"), and cairn's own cgroup OWN holds
 * cairn. So, as rootless BuildKit and podman with cgroupfs do, cairn first
 * moves itself into a leaf of its own, OWN/cairn-<pid>, then enables the
 * controllers in OWN/cgroup.subtree_control, and the containers get
 * OWN/cairn/<id> (made and removed by cgroup.c as for root). Only cairn is
 * moved: other processes in OWN (a shell, a service's daemon) are not
 * cairn's to move, so their presence is an error that says how to give
 * cairn a cgroup of its own. This runs inside cairn's user namespace: the
 * host's files are the user's there too (the user is uid 0 inside), and
 * access(2) asks the kernel, so no owner is compared. */
#include "sandbox/cgroup.h"
#include "sandbox/internal.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The controllers a limit needs, with the flag that asks for it. */
static const struct {
	const char *name, *flag;
} needs[] = { { "memory", "--memory" }, { "pids", "--pids-limit" }, { "cpu", "--cpus" } };

static bool wants(const struct sb_limits *l, size_t i)
{
	return i == 0 ? l->memory != 0 : i == 1 ? l->pids != 0 : l->cpus_milli != 0;
}

/* ---- parsing (pure, unit-tested) ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo: undo in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* One line of mountinfo: ID PARENT DEV ROOT POINT OPTS [OPTIONAL...] - TYPE
 * SOURCE SUPER. Fills ROOT, POINT (unescaped), TYPE and SUPER (pointers into
 * LINE, a modifiable copy). 0, or -1 for a line without them. */
static int mount_fields(char *line, char **root, char **point, char **type, char **super)
{
	char *f[64], *save = NULL;
	size_t n = 0;
	for (char *t = strtok_r(line, " ", &save); t && n < CN_ARRAY_SIZE(f); t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	for (size_t i = 6; i + 3 < n; i++) {
		if (strcmp(f[i], "-"))
			continue;
		unescape(f[3]);
		unescape(f[4]);
		*root = f[3];
		*point = f[4];
		*type = f[i + 1];
		*super = f[i + 3];
		return 0;
	}
	return -1;
}

/* The next line of *P as a heap string (NULL at the end). */
static char *next_line(const char **p)
{
	const char *nl;
	char *line;
	if (!*p || !**p)
		return NULL;
	nl = strchr(*p, '\n');
	line = cn_xstrndup(*p, nl ? (size_t)(nl - *p) : strlen(*p));
	*p = nl ? nl + 1 : NULL;
	return line;
}

char *sb_cgroup2_dir(const char *mountinfo, const char *self)
{
	_cleanup_free_ char *own = self ? sb_cgroup_own_path(self, NULL) : NULL;
	const char *p = mountinfo;
	char *line;
	if (!own || own[0] != '/')
		return NULL;
	while ((line = next_line(&p))) {
		char *root, *point, *type, *super;
		const char *rest = NULL;
		char *dir = NULL;
		if (mount_fields(line, &root, &point, &type, &super) == 0 && !strcmp(type, "cgroup2")) {
			size_t rl = strlen(root);
			/* The mount shows ROOT of the hierarchy at POINT (a
			 * container may mount a subtree): OWN must be below it. */
			if (!strcmp(root, "/"))
				rest = own;
			else if (!strncmp(own, root, rl) && (own[rl] == '\0' || own[rl] == '/'))
				rest = own + rl;
			if (rest && (!*rest || !strcmp(rest, "/")))
				dir = cn_xstrdup(point);
			else if (rest)
				dir = cn_xasprintf("%s%s", strcmp(point, "/") ? point : "", rest);
		}
		free(line);
		if (dir)
			return dir;
	}
	return NULL;
}

static bool comma_list_has(const char *list, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == nl && !strncmp(p, name, nl))
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

bool sb_cgroup_v1_bound(const char *mountinfo, const char *controller)
{
	const char *p = mountinfo;
	char *line;
	bool found = false;
	while (!found && (line = next_line(&p))) {
		char *root, *point, *type, *super;
		found = mount_fields(line, &root, &point, &type, &super) == 0 && !strcmp(type, "cgroup") &&
			comma_list_has(super, controller);
		free(line);
	}
	return found;
}

bool sb_cgroup_list_has(const char *list, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = list; p && *p;) {
		size_t len;
		p += strspn(p, " \t\n");
		len = strcspn(p, " \t\n");
		if (len && len == nl && !strncmp(p, name, nl))
			return true;
		p += len;
	}
	return false;
}

static bool has_cgroup2(const char *mountinfo)
{
	const char *p = mountinfo;
	char *line;
	bool found = false;
	while (!found && (line = next_line(&p))) {
		char *root, *point, *type, *super;
		found = mount_fields(line, &root, &point, &type, &super) == 0 && !strcmp(type, "cgroup2");
		free(line);
	}
	return found;
}

bool sb_cgroup2_nsdelegate(const char *mountinfo, const char *point)
{
	const char *p = mountinfo;
	char *line;
	bool found = false;
	while (!found && (line = next_line(&p))) {
		char *root, *pt, *type, *super;
		found = mount_fields(line, &root, &pt, &type, &super) == 0 && !strcmp(type, "cgroup2") &&
			!strcmp(pt, point) && comma_list_has(super, "nsdelegate");
		free(line);
	}
	return found;
}

#define LIMIT_FLAGS "--memory, --cpus and --pids-limit"

int sb_cgroup_user_verdict(const struct sb_cgroup_facts *f, const struct sb_limits *l, cn_err *err)
{
	bool hybrid = false;
	for (size_t i = 0; i < CN_ARRAY_SIZE(needs); i++)
		hybrid |= wants(l, i) && f->mountinfo && sb_cgroup_v1_bound(f->mountinfo, needs[i].name);
	/* A v1 hierarchy's controllers delegate nothing to users; on a hybrid
	 * host an undelegated cgroup is refused for that reason first, since
	 * delegating it would not bring controllers that v1 holds. */
	if ((!f->dir && !(f->mountinfo && has_cgroup2(f->mountinfo))) ||
	    (hybrid && !(f->dir_writable && f->procs_writable && f->subtree_writable)))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, LIMIT_FLAGS " need root on this host: its "
				  "cgroups are v1, which delegates nothing to ordinary users (cgroup v2 with "
				  "systemd's user@UID.service delegation could)");
	if (!f->dir)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, LIMIT_FLAGS " need your cgroup v2, and its path "
				  "(the 0:: line of /proc/self/cgroup) is under no cgroup2 mount in "
				  "/proc/self/mountinfo: run cairn where its cgroup is visible, or as root");
	if (!f->dir_writable || !f->procs_writable || !f->subtree_writable)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, LIMIT_FLAGS " need a cgroup delegated to you, "
				  "and yours, %s, is not (you may not write %s): run cairn in one that is, "
				  "e.g. `systemd-run --user --scope -p Delegate=yes cairn ...`, or from a unit "
				  "of user@%u.service with Delegate=yes; or as root", f->dir,
				  !f->dir_writable ? "to it" : !f->procs_writable ? "its cgroup.procs"
				  : "its cgroup.subtree_control", f->uid);
	for (size_t i = 0; i < CN_ARRAY_SIZE(needs); i++) {
		if (!wants(l, i) || (f->controllers && sb_cgroup_list_has(f->controllers, needs[i].name)))
			continue;
		if (f->mountinfo && sb_cgroup_v1_bound(f->mountinfo, needs[i].name))
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "%s needs the %s cgroup controller, which "
					  "%s/cgroup.controllers does not list: this host binds it to a cgroup v1 "
					  "hierarchy, which delegates nothing to ordinary users; run as root",
					  needs[i].flag, needs[i].name, f->dir);
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "%s needs the %s cgroup controller, which "
				  "%s/cgroup.controllers does not list: it is not delegated to you (systemd: "
				  "a drop-in for user@.service with [Service] Delegate=memory pids cpu, and "
				  "Delegate=yes for the unit cairn runs in); or run as root",
				  needs[i].flag, needs[i].name, f->dir);
	}
	return 0;
}

/* ---- this host ---- */

int sb_cgroup_user_check(const struct sb_limits *l, unsigned uid, char **dir_out, cn_err *err)
{
	_cleanup_free_ char *mountinfo = sb_cgroup_read("/proc/self/mountinfo");
	_cleanup_free_ char *self = sb_cgroup_read("/proc/self/cgroup");
	_cleanup_free_ char *dir = mountinfo && self ? sb_cgroup2_dir(mountinfo, self) : NULL;
	_cleanup_free_ char *controllers = NULL, *procs = NULL, *subtree = NULL;
	struct sb_cgroup_facts f = { .mountinfo = mountinfo, .dir = dir, .uid = uid };
	if (dir) {
		_cleanup_free_ char *path = cn_xasprintf("%s/cgroup.controllers", dir);
		controllers = sb_cgroup_read(path);
		procs = cn_xasprintf("%s/cgroup.procs", dir);
		subtree = cn_xasprintf("%s/cgroup.subtree_control", dir);
		f.controllers = controllers;
		f.dir_writable = access(dir, W_OK | X_OK) == 0;
		f.procs_writable = access(procs, W_OK) == 0;
		f.subtree_writable = access(subtree, W_OK) == 0;
	}
	if (sb_cgroup_user_verdict(&f, l, err) < 0)
		return -1;
	if (dir_out)
		*dir_out = cn_xstrdup(dir);
	return 0;
}

/* What sb_cgroup_prepare set up; inherited by the processes cairn forks. */
static struct {
	char *base;             /* OWN */
	char *leaf;             /* OWN/cairn-<pid>, holding cairn */
	char added[64];         /* "-memory -pids": the controllers we enabled in OWN */
} user_cg;

void sb_cgroup_user_exec_denied(cn_err *err)
{
	cn_err cause = *err;
	if (err->errnum != EACCES && err->errnum != EPERM)
		return;
	cn_err_fail(err, CN_ERR_DENIED, "%s: rootless, cgroup v2 lets a process into the container's "
		    "cgroup only from a cgroup that shares a delegated ancestor with it, and this "
		    "cairn exec runs in another one; run it the way the container was run, e.g. "
		    "`systemd-run --user --scope -p Delegate=yes cairn exec ...` if cairn run was",
		    cause.msg);
}

const char *sb_cgroup_user_base(void)
{
	return user_cg.base;
}

static int move_self(const char *dir, cn_err *err)
{
	char pid[24];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return sb_cgroup_write(dir, "cgroup.procs", pid, false, err);
}

int sb_cgroup_others(const char *procs, long self, const long *gone, size_t ngone, long *one)
{
	int n = 0;
	for (const char *p = procs; p && *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		bool left = false;
		if (end == p)
			break;
		p = end;
		for (size_t i = 0; i < ngone && !left; i++)
			left = gone[i] == pid;
		if (pid > 0 && pid != self && !left) {
			*one = pid;
			n++;
		}
	}
	return n;
}

/* Whether DIR/cgroup.procs lists a process other than this one and those
 * in GONE; *N gets their number and *ONE one of them. */
static bool others_in(const char *dir, const long *gone, size_t ngone, int *n, long *one)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/cgroup.procs", dir);
	_cleanup_free_ char *text = sb_cgroup_read(path);
	*n = sb_cgroup_others(text, (long)getpid(), gone, ngone, one);
	return *n > 0;
}

#define GONE "gone-"

/* The pids of the leaf's GONE<pid> marks (empty child cgroups): processes
 * that passed their release, not last then, and are exiting. */
static size_t read_gone(int leaf_fd, long *gone, size_t max)
{
	int fd = fcntl(leaf_fd, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t n = 0;
	if (!d && fd >= 0)
		close(fd);
	while (d && n < max && (de = readdir(d))) {
		char *end;
		long pid;
		if (strncmp(de->d_name, GONE, strlen(GONE)))
			continue;
		pid = strtol(de->d_name + strlen(GONE), &end, 10);
		if (pid > 0 && !*end)
			gone[n++] = pid;
	}
	return n;
}

/* At exit, by the last cairn process in the leaf (children forked after the
 * move, like stage workers or a run -d supervisor, share it and may still
 * need the controllers): cairn/ when empty, the controllers we enabled,
 * then back to OWN and the leaf removed. A step that fails leaves the rest
 * (a container still running); systemd removes the lot with the unit.
 * Two processes of the leaf exiting at once (run -d and a supervisor whose
 * container ended) would each see the other and both skip: the check is
 * made under a lock on the leaf, and one that is not last leaves a mark
 * (an empty child cgroup GONE<pid>) so that the next one does not count
 * it; the last waits briefly for those to finish exiting. */
void sb_cgroup_release(void)
{
	_cleanup_free_ char *parent = NULL;
	_cleanup_close_ int lfd = -1;
	long gone[64] = { 0 }, one;
	size_t ngone;
	cn_err ignored;
	int n;
	if (!user_cg.leaf)
		return;
	lfd = open(user_cg.leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lfd < 0)
		return;
	while (flock(lfd, LOCK_EX) < 0 && errno == EINTR)
		;
	ngone = read_gone(lfd, gone, CN_ARRAY_SIZE(gone));
	if (others_in(user_cg.leaf, gone, ngone, &n, &one)) {
		char mark[32];
		snprintf(mark, sizeof(mark), GONE "%d", (int)getpid());
		mkdirat(lfd, mark, 0755);
		return;         /* closing LFD unlocks */
	}
	for (size_t i = 0; i < ngone; i++) {
		char mark[32];
		snprintf(mark, sizeof(mark), GONE "%ld", gone[i]);
		unlinkat(lfd, mark, AT_REMOVEDIR);
	}
	parent = cn_xasprintf("%s/cairn", user_cg.base);
	if (rmdir(parent) < 0 && errno != ENOENT)
		return;
	if (user_cg.added[0] &&
	    sb_cgroup_write(user_cg.base, "cgroup.subtree_control", user_cg.added, false, &ignored) < 0)
		return;
	if (move_self(user_cg.base, &ignored) < 0)
		return;
	/* Those that left marks are in exit: the leaf empties in moments. */
	for (int i = 0; i < 200 && rmdir(user_cg.leaf) < 0 && errno == EBUSY; i++)
		usleep(5000);
	/* Done: no cgroup may be made below OWN by this process any more. */
	free(user_cg.leaf);
	free(user_cg.base);
	user_cg.leaf = user_cg.base = NULL;
}

int sb_cgroup_prepare(const struct sb_limits *l, cn_err *err)
{
	const struct cn_rootless *r = cn_rootless();
	_cleanup_free_ char *base = NULL, *leaf = NULL, *before = NULL, *path = NULL;
	char enable[64] = "", added[64] = "";
	size_t on = 0, off = 0;
	int n;
	long one = 0;
	if (!r || user_cg.base)
		return sb_cgroup_usable(l, err);
	if (sb_cgroup_user_check(l, (unsigned)r->uid, &base, err) < 0)
		return -1;
	path = cn_xasprintf("%s/cgroup.subtree_control", base);
	before = sb_cgroup_read(path);
	for (size_t i = 0; i < CN_ARRAY_SIZE(needs); i++) {
		if (!wants(l, i))
			continue;
		on += (size_t)snprintf(enable + on, sizeof(enable) - on, "%s+%s", on ? " " : "", needs[i].name);
		if (!before || !sb_cgroup_list_has(before, needs[i].name))
			off += (size_t)snprintf(added + off, sizeof(added) - off, "%s-%s", off ? " " : "",
						needs[i].name);
	}
	leaf = cn_xasprintf("%s/cairn-%d", base, (int)getpid());
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create cgroup %s", leaf);
	if (move_self(leaf, err) < 0) {
		rmdir(leaf);
		return cn_err_wrap(err, "move cairn into a cgroup of its own");
	}
	if (sb_cgroup_write(base, "cgroup.subtree_control", enable, false, err) < 0) {
		int e = err->errnum;
		cn_err ignored;
		bool busy = e == EBUSY && others_in(base, NULL, 0, &n, &one);
		if (move_self(base, &ignored) == 0)
			rmdir(leaf);
		if (busy)
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, LIMIT_FLAGS " need a cgroup of cairn's own: "
					  "yours, %s, holds %d other process%s (pid %ld%s), and cgroup v2 gives "
					  "controllers only to children of a cgroup without processes; run cairn "
					  "as `systemd-run --user --scope -p Delegate=yes cairn ...`", base, n,
					  n == 1 ? "" : "es", one, n > 1 ? " and more" : "");
		return cn_err_wrap(err, "enable cgroup controllers for %s", base);
	}
	snprintf(user_cg.added, sizeof(user_cg.added), "%s", added);
	user_cg.base = base;
	user_cg.leaf = leaf;
	base = leaf = NULL;
	atexit(sb_cgroup_release);
	return 0;
}

int sb_cgroup_usable(const struct sb_limits *l, cn_err *err)
{
	const struct cn_rootless *r = cn_rootless();
	if (!r || user_cg.base)
		return 0;
	return sb_cgroup_user_check(l, (unsigned)r->uid, NULL, err);
}
