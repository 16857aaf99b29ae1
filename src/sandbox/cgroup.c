/* Per-container cgroups: create, limit, enter, read the OOM count, remove. */
#include "sandbox/cgroup.h"
#include "sandbox/internal.h"
#include "util/rootless.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_SUPER_MAGIC_V1 0x27e0eb
#define CGROUP2_SUPER_MAGIC_V2 0x63677270
#define CPU_PERIOD_US 100000UL

/* ---- parsing (pure, unit-tested) ---- */

int sb_parse_memory(const char *s, unsigned long long *bytes)
{
	char *end;
	unsigned long long v, mul = 1;
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0': break;
	case 'b': mul = 1; break;
	case 'k': mul = 1ULL << 10; break;
	case 'm': mul = 1ULL << 20; break;
	case 'g': mul = 1ULL << 30; break;
	default: return -1;
	}
	if (*end && end[1] && !(tolower((unsigned char)end[1]) == 'b' && !end[2] && mul > 1))
		return -1;      /* "64m" and "64mb" as docker; nothing else after the unit */
	if (v == 0 || v > ULLONG_MAX / mul)
		return -1;
	*bytes = v * mul;
	return 0;
}

int sb_parse_cpus(const char *s, unsigned long *milli)
{
	unsigned long whole = 0, frac = 0;
	int digits = 0;
	const char *p = s;
	if (!s || !*s)
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (unsigned long)(*p - '0');
		if (whole > 4096)
			return -1;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (++digits > 3)
				return -1;
			frac = frac * 10 + (unsigned long)(*p - '0');
		}
		for (int i = digits; i < 3; i++)
			frac *= 10;
	}
	if (*p || p == s || whole * 1000 + frac == 0)
		return -1;
	*milli = whole * 1000 + frac;
	return 0;
}

static void setting(struct sb_cgroup_setting *out, size_t max, size_t *n, const char *controller,
		    const char *file, bool optional, unsigned long long a, long long b)
{
	if (*n < max) {
		out[*n] = (struct sb_cgroup_setting){ .controller = controller, .file = file,
						       .optional = optional };
		if (b >= 0)     /* v2 cpu.max: "QUOTA PERIOD" */
			snprintf(out[*n].value, sizeof(out[*n].value), "%llu %lld", a, b);
		else
			snprintf(out[*n].value, sizeof(out[*n].value), "%llu", a);
	}
	(*n)++;
}

size_t sb_cgroup_settings(enum sb_cgroup_version v, const struct sb_limits *l,
			  struct sb_cgroup_setting *out, size_t max)
{
	size_t n = 0;
	unsigned long long quota = (unsigned long long)l->cpus_milli * CPU_PERIOD_US / 1000;
	if (l->memory && v == SB_CGROUP_V1) {
		/* memory first: memsw may never be below it. */
		setting(out, max, &n, "memory", "memory.limit_in_bytes", false, l->memory, -1);
		setting(out, max, &n, "memory", "memory.memsw.limit_in_bytes", true, l->memory, -1);
	} else if (l->memory) {
		setting(out, max, &n, "memory", "memory.max", false, l->memory, -1);
		setting(out, max, &n, "memory", "memory.swap.max", true, 0, -1);
	}
	if (l->pids)
		setting(out, max, &n, "pids", "pids.max", false, (unsigned long long)l->pids, -1);
	if (l->cpus_milli && v == SB_CGROUP_V1) {
		setting(out, max, &n, "cpu", "cpu.cfs_period_us", false, CPU_PERIOD_US, -1);
		setting(out, max, &n, "cpu", "cpu.cfs_quota_us", false, quota, -1);
	} else if (l->cpus_milli) {
		setting(out, max, &n, "cpu", "cpu.max", false, quota, (long long)CPU_PERIOD_US);
	}
	return n;
}

char *sb_cgroup_own_path(const char *text, const char *controller)
{
	const char *line = text;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		/* ID:CONTROLLERS:PATH, CONTROLLERS comma-separated (empty for v2). */
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
		if (c2) {
			const char *list = c1 + 1;
			size_t list_len = (size_t)(c2 - list);
			bool match = false;
			if (!controller) {
				match = list_len == 0 && c1 - line == 1 && line[0] == '0';
			} else {
				size_t cl = strlen(controller);
				for (const char *p = list; p < c2;) {
					const char *comma = memchr(p, ',', (size_t)(c2 - p));
					size_t item = comma ? (size_t)(comma - p) : (size_t)(c2 - p);
					if (item == cl && !memcmp(p, controller, cl))
						match = true;
					p += item + 1;
				}
			}
			if (match)
				return cn_xstrndup(c2 + 1, len - (size_t)(c2 + 1 - line));
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

long long sb_cgroup_parse_oom_kills(const char *text)
{
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, "oom_kill ", 9))
			return strtoll(p + 9, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

/* ---- the file system ---- */

int sb_cgroup_write(const char *dir, const char *file, const char *value, bool optional,
		    cn_err *err)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && optional)
		return 0;
	if (fd < 0 || cn_write_all(fd, value, strlen(value)) < 0)
		return cn_err_sys(err, "write %s to %s", value, path);
	return 0;
}

char *sb_cgroup_read(const char *path)
{
	cn_buf b;
	cn_err ignored;
	cn_buf_init(&b, 1 << 20);
	if (cn_read_file_at(AT_FDCWD, path, 1 << 20, &b, &ignored) < 0) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_detach(&b);
}

static bool is_fs(const char *path, long magic)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (long)sf.f_type == magic;
}

/* v1: a new cgroup inherits notify_on_release from its parent, and so do
 * those a container makes in its own (--systemd): 0, so that a legacy
 * host's release agent never runs for them. */
static int no_release_notify(const char *dir, cn_err *err)
{
	return sb_cgroup_write(dir, "notify_on_release", "0", true, err);
}

/* mkdir PARENT (may exist) then PARENT/ID; a concurrent cairn removing an
 * empty PARENT in between makes the second fail with ENOENT: try again. */
static int make_dirs(const char *parent, const char *dir, cn_err *err)
{
	for (int tries = 0; tries < 10; tries++) {
		if (mkdir(parent, 0755) < 0 && errno != EEXIST)
			return cn_err_sys(err, "create cgroup %s", parent);
		if (mkdir(dir, 0755) == 0)
			return 0;
		if (errno != ENOENT)
			return cn_err_sys(err, "create cgroup %s", dir);
	}
	return cn_err_sys(err, "create cgroup %s", dir);
}

static int create_v1(struct sb_cgroup *cg, const struct sb_limits *l, const char *id, cn_err *err)
{
	static const char *const controllers[] = { "memory", "pids", "cpu" };
	const bool wanted[] = { l->memory != 0, l->pids != 0, l->cpus_milli != 0 };
	_cleanup_free_ char *self = sb_cgroup_read("/proc/self/cgroup");
	for (size_t i = 0; i < CN_ARRAY_SIZE(controllers); i++) {
		if (!wanted[i])
			continue;
		_cleanup_free_ char *hier = cn_xasprintf(CGROUP_ROOT "/%s", controllers[i]);
		_cleanup_free_ char *own = self ? sb_cgroup_own_path(self, controllers[i]) : NULL;
		_cleanup_free_ char *parent = NULL;
		if (!is_fs(hier, CGROUP_SUPER_MAGIC_V1))
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "the %s cgroup controller is not mounted at %s",
					  controllers[i], hier);
		parent = cn_xasprintf("%s%s/cairn", hier,
				      own && strcmp(own, "/") ? own : "");
		cg->dirs[cg->ndirs] = cn_xasprintf("%s/%s", parent, id);
		if (make_dirs(parent, cg->dirs[cg->ndirs], err) < 0) {
			free(cg->dirs[cg->ndirs]);
			cg->dirs[cg->ndirs] = NULL;
			return -1;
		}
		if (no_release_notify(cg->dirs[cg->ndirs], err) < 0) {
			rmdir(cg->dirs[cg->ndirs]);
			free(cg->dirs[cg->ndirs]);
			cg->dirs[cg->ndirs] = NULL;
			return -1;
		}
		if (i == 0)
			cg->memory_dir = cg->dirs[cg->ndirs];
		cg->controllers[cg->ndirs++] = controllers[i];
	}
	return 0;
}

/* BASE/cairn/<id>: BASE is the root (which may hold processes) or,
 * rootless, the delegated cgroup cairn moved out of (cgroup_user.c);
 * cairn/ holds none, so it may pass the controllers on. */
static int create_v2(struct sb_cgroup *cg, const struct sb_limits *l, const char *id,
		     const char *base, cn_err *err)
{
	_cleanup_free_ char *parent = cn_xasprintf("%s/cairn", base);
	char controllers[64] = "";
	size_t off = 0;
	if (l->memory)
		off += (size_t)snprintf(controllers + off, sizeof(controllers) - off, "+memory ");
	if (l->pids)
		off += (size_t)snprintf(controllers + off, sizeof(controllers) - off, "+pids ");
	if (l->cpus_milli)
		off += (size_t)snprintf(controllers + off, sizeof(controllers) - off, "+cpu ");
	if (off)
		controllers[off - 1] = '\0';
	if (sb_cgroup_write(base, "cgroup.subtree_control", controllers, false, err) < 0)
		return cn_err_wrap(err, "enable cgroup controllers");
	cg->dirs[0] = cn_xasprintf("%s/%s", parent, id);
	cg->ndirs = 1;
	for (int tries = 0; tries < 10; tries++) {
		if (make_dirs(parent, cg->dirs[0], err) < 0)
			return -1;
		if (sb_cgroup_write(parent, "cgroup.subtree_control", controllers, false, err) == 0)
			break;
		/* A child made before the controllers were enabled: enable, then retry. */
		rmdir(cg->dirs[0]);
		if (tries == 9)
			return cn_err_wrap(err, "enable cgroup controllers");
	}
	if (l->memory)
		cg->memory_dir = cg->dirs[0];
	return 0;
}

/* HIER/<own>/cairn/<id> for the v1 hierarchy named NAME in /proc/self/cgroup
 * (NULL: the unified one), appended to CG. */
static int add_hierarchy(struct sb_cgroup *cg, const char *hier, const char *name, long magic,
			 const char *id, cn_err *err)
{
	_cleanup_free_ char *self = sb_cgroup_read("/proc/self/cgroup");
	_cleanup_free_ char *own = self ? sb_cgroup_own_path(self, name) : NULL;
	_cleanup_free_ char *parent = NULL;
	if (!is_fs(hier, magic))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "the %s cgroup hierarchy is not mounted at %s; "
				   "systemd in a container needs it", name ? name : "unified", hier);
	if (cg->ndirs >= CN_ARRAY_SIZE(cg->dirs))
		return cn_err_fail(err, CN_ERR_INVALID, "too many cgroup hierarchies");
	parent = cn_xasprintf("%s%s/cairn", hier, own && strcmp(own, "/") ? own : "");
	cg->dirs[cg->ndirs] = cn_xasprintf("%s/%s", parent, id);
	if (make_dirs(parent, cg->dirs[cg->ndirs], err) < 0 ||
	    (magic == CGROUP_SUPER_MAGIC_V1 && no_release_notify(cg->dirs[cg->ndirs], err) < 0)) {
		rmdir(cg->dirs[cg->ndirs]);
		free(cg->dirs[cg->ndirs]);
		cg->dirs[cg->ndirs] = NULL;
		return -1;
	}
	cg->controllers[cg->ndirs++] = name ? name : "unified";
	return 0;
}

int sb_cgroup_add_init(struct sb_cgroup *cg, const char *id, cn_err *err)
{
	static const struct sb_limits none = { 0 };
	if (cn_rootless())
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "an init system's cgroups need root");
	if (!cg->ndirs)
		cg->version = sb_cgroup_version();
	if (cg->version == SB_CGROUP_V2 && cg->ndirs) {
		/* The limits are on the cgroup that becomes the container's
		 * namespace root, whose files only nsdelegate keeps it from
		 * writing (systemd mounts cgroup2 with it). */
		_cleanup_free_ char *mounts = sb_cgroup_read("/proc/self/mountinfo");
		if (!mounts || !sb_cgroup2_nsdelegate(mounts, CGROUP_ROOT))
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--systemd with --memory, --cpus or "
					  "--pids-limit needs " CGROUP_ROOT " mounted with nsdelegate (as "
					  "systemd does): without it the container could raise its own limits");
		return 0;
	}
	if (cg->version == SB_CGROUP_V2)
		return create_v2(cg, &none, id, CGROUP_ROOT, err);
	if (add_hierarchy(cg, CGROUP_ROOT "/systemd", "name=systemd", CGROUP_SUPER_MAGIC_V1, id, err) < 0)
		return -1;
	/* A hybrid host's: systemd 252 tracks its units there too. */
	if (is_fs(CGROUP_ROOT "/unified", CGROUP2_SUPER_MAGIC_V2))
		return add_hierarchy(cg, CGROUP_ROOT "/unified", NULL, CGROUP2_SUPER_MAGIC_V2, id, err);
	return 0;
}

enum sb_cgroup_version sb_cgroup_version(void)
{
	return is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC_V2) ? SB_CGROUP_V2 : SB_CGROUP_V1;
}

int sb_cgroup_create(const struct sb_limits *limits, const char *id, struct sb_cgroup *cg,
		     cn_err *err)
{
	struct sb_cgroup_setting set[8];
	size_t n;
	int r;
	memset(cg, 0, sizeof(*cg));
	if (cn_rootless()) {
		/* Only below the cgroup the command's sb_cgroup_prepare set up:
		 * a forked worker cannot move cairn out of its cgroup. */
		if (!sb_cgroup_user_base())
			return sb_cgroup_usable(limits, err) < 0 ? -1
				: cn_err_fail(err, CN_ERR_UNSUPPORTED, "rootless cgroups were not "
					      "set up before the command started");
		cg->version = SB_CGROUP_V2;
		r = create_v2(cg, limits, id, sb_cgroup_user_base(), err);
	} else {
		cg->version = sb_cgroup_version();
		r = cg->version == SB_CGROUP_V2 ? create_v2(cg, limits, id, CGROUP_ROOT, err)
						: create_v1(cg, limits, id, err);
	}
	if (r < 0)
		goto fail;
	n = sb_cgroup_settings(cg->version, limits, set, CN_ARRAY_SIZE(set));
	for (size_t i = 0; i < n && i < CN_ARRAY_SIZE(set); i++) {
		const char *dir = cg->dirs[0];
		if (cg->version == SB_CGROUP_V1)
			for (size_t j = 0; j < cg->ndirs; j++)
				if (!strcmp(cg->controllers[j], set[i].controller))
					dir = cg->dirs[j];
		if (sb_cgroup_write(dir, set[i].file, set[i].value, set[i].optional, err) < 0)
			goto fail;
	}
	return 0;
fail:
	sb_cgroup_destroy(cg);
	return -1;
}

int sb_cgroup_enter(const struct sb_cgroup *cg, pid_t pid, cn_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->ndirs; i++)
		if (sb_cgroup_write(cg->dirs[i], "cgroup.procs", buf, false, err) < 0)
			return cn_err_wrap(err, "move the container into its cgroup");
	return 0;
}

char *sb_cgroup_exec_leaf(const char *dir, const char *mountinfo, const char *init_cgroup)
{
	char *leaf = sb_cgroup2_dir(mountinfo, init_cgroup);
	size_t n = strlen(dir);
	if (leaf && !strncmp(leaf, dir, n) && leaf[n] == '/')
		return leaf;
	free(leaf);
	return NULL;
}

int sb_cgroup_join(const struct sb_cgroup *cg, pid_t pid, pid_t init_pid, cn_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->ndirs; i++) {
		_cleanup_free_ char *path = NULL, *self = NULL, *mountinfo = NULL, *leaf = NULL;
		if (sb_cgroup_write(cg->dirs[i], "cgroup.procs", buf, false, err) == 0)
			continue;
		if (errno != EBUSY)
			return cn_err_wrap(err, "move the process into the container's cgroup");
		/* v2: an init system enabled controllers for the cgroups it made
		 * below the container's, which may then hold no process itself
		 * (runc and crun do the same). */
		path = cn_xasprintf("/proc/%d/cgroup", (int)init_pid);
		self = sb_cgroup_read(path);
		mountinfo = sb_cgroup_read("/proc/self/mountinfo");
		leaf = self && mountinfo ? sb_cgroup_exec_leaf(cg->dirs[i], mountinfo, self) : NULL;
		if (!leaf)
			return cn_err_wrap(err, "move the process into the container's cgroup (its pid 1's "
					   "cgroup is not below %s)", cg->dirs[i]);
		if (sb_cgroup_write(leaf, "cgroup.procs", buf, false, err) < 0)
			return cn_err_wrap(err, "move the process into its pid 1's cgroup");
	}
	return 0;
}

bool sb_cgroup_oom_killed(const struct sb_cgroup *cg)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *text = NULL;
	if (!cg->memory_dir)
		return false;
	path = cn_xasprintf("%s/%s", cg->memory_dir,
			    cg->version == SB_CGROUP_V2 ? "memory.events" : "memory.oom_control");
	text = sb_cgroup_read(path);
	return text && sb_cgroup_parse_oom_kills(text) > 0;
}

/* SIGKILL everything in the cgroup open at DIRFD. */
static void kill_all_at(int dirfd)
{
	_cleanup_close_ int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	cn_buf b;
	cn_err ignored;
	cn_buf_init(&b, 1 << 20);
	if (fd >= 0 && cn_read_fd(fd, "cgroup.procs", 1 << 20, &b, &ignored) == 0) {
		char *text = cn_buf_detach(&b);
		for (char *p = text; p && *p;) {
			char *end;
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			p = end;
			while (*p == '\n')
				p++;
		}
		free(text);
		return;
	}
	cn_buf_free(&b);
}

/* The name of the subdirectory after the first SKIP ones of the
 * directory open at FD, in readdir order; false when there is none. */
static bool nth_subdir(int fd, size_t skip, char name[NAME_MAX + 1])
{
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return false;
	}
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    skip-- == 0) {
			snprintf(name, NAME_MAX + 1, "%s", de->d_name);
			return true;
		}
	return false;
}

struct level {
	char *name;     /* in the parent's directory */
	size_t skip;    /* subdirectories found busy in it this pass */
};

/* DIR and the cgroups below it (an init system in the container makes
 * its own, as deep as it likes), deepest first; what still runs in them
 * is killed. By fds, one open at a time: a cgroup only moves within its
 * parent (v1's rename), so ".." leads back up, and no depth or path
 * length limits the walk (the names below are kept in memory). A busy
 * cgroup is skipped for the others. 0 when DIR is gone, else -1 with
 * errno (EBUSY: try again). */
static int remove_tree(const char *dir)
{
	size_t depth = 1, cap = 16;
	struct level *stack = NULL;
	char name[NAME_MAX + 1];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW), e = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	stack = cn_xcalloc(cap, sizeof(*stack));
	while (e == 0) {
		struct level *l = &stack[depth - 1];
		int next;
		if (nth_subdir(fd, l->skip, name)) {
			next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			/* Gone meanwhile: look again; else leave it. */
			if (next < 0) {
				l->skip += errno != ENOENT;
				continue;
			}
			if (depth == cap) {
				cap *= 2;
				stack = cn_xrealloc(stack, cap * sizeof(*stack));
			}
			stack[depth++] = (struct level){ .name = cn_xstrdup(name) };
		} else if (depth == 1) {
			break;
		} else {
			/* A leaf now: out of its parent, killing what runs in it. */
			next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (next < 0) {
				e = errno;
				continue;
			}
			if (unlinkat(next, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
				if (errno == EBUSY)
					kill_all_at(fd);
				stack[depth - 2].skip++;
			}
			free(l->name);
			depth--;
		}
		close(fd);
		fd = next;
	}
	for (size_t i = 1; i < depth; i++)
		free(stack[i].name);
	free(stack);
	if (e == 0 && rmdir(dir) < 0 && errno != ENOENT) {
		e = errno;
		if (e == EBUSY)
			kill_all_at(fd);
	}
	close(fd);
	errno = e;
	return e ? -1 : 0;
}

void sb_cgroup_destroy(struct sb_cgroup *cg)
{
	for (size_t i = 0; i < cg->ndirs; i++) {
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		/* v2 (5.14+) kills the whole cgroup at once; else one by one. */
		if (cg->version == SB_CGROUP_V2) {
			cn_err ignored;
			sb_cgroup_write(cg->dirs[i], "cgroup.kill", "1", true, &ignored);
		}
		/* Processes take a moment to leave after SIGKILL: wait up to ~5 s. */
		for (int tries = 0; tries < 500; tries++) {
			if (remove_tree(cg->dirs[i]) == 0 || errno != EBUSY)
				break;
			nanosleep(&pause, NULL);
		}
		/* cairn/ itself when no other container uses it. */
		char *slash = strrchr(cg->dirs[i], '/');
		if (slash) {
			*slash = '\0';
			rmdir(cg->dirs[i]);
		}
		free(cg->dirs[i]);
		cg->dirs[i] = NULL;
	}
	cg->ndirs = 0;
	cg->memory_dir = NULL;
}
