/* User namespaces for cairn run --userns=auto. */
#include "sandbox/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int sb_subid_find(const char *path, const char *const *names, size_t nnames, unsigned long *start,
		  unsigned long *count, cn_err *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];
	if (!f)
		return errno == ENOENT ? 0 : cn_err_sys(err, "open '%s'", path);
	while (fgets(line, sizeof(line), f)) {
		char *p = NULL, *end;
		unsigned long long s, c;
		line[strcspn(line, "\n")] = '\0';
		for (size_t i = 0; i < nnames && !p; i++) {
			size_t n = strlen(names[i]);
			if (strncmp(line, names[i], n) == 0 && line[n] == ':')
				p = line + n + 1;
		}
		if (!p)
			continue;
		errno = 0;
		s = strtoull(p, &end, 10);
		if (end == p || *end != ':' || errno)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s': bad line: %s", path, line);
		p = end + 1;
		c = strtoull(p, &end, 10);
		if (end == p || *end || errno || c == 0 || s == 0 || s + c > 0xffffffffULL)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s': bad range: %s", path, line);
		*start = (unsigned long)s;
		*count = (unsigned long)c;
		return 1;
	}
	return 0;
}

/* Root's first range ("root:" or "0:") in PATH. */
static int read_range(const char *path, unsigned long *start, unsigned long *count, cn_err *err)
{
	static const char *const root[] = { "root", "0" };
	int r;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "--userns=auto: '%s' does not exist: add the line "
				  "'root:100000:65536' to it", path);
	r = sb_subid_find(path, root, 2, start, count, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "--userns=auto: '%s' has no range for root: add a line "
				  "such as 'root:100000:65536'", path);
	return 0;
}

int sb_idmap_load(struct sb_idmap *m, cn_err *err)
{
	const char *uf = getenv("CAIRN_SUBUID_FILE");
	const char *gf = getenv("CAIRN_SUBGID_FILE");
	if (read_range(uf && *uf ? uf : "/etc/subuid", &m->uid_start, &m->uid_count, err) < 0 ||
	    read_range(gf && *gf ? gf : "/etc/subgid", &m->gid_start, &m->gid_count, err) < 0)
		return -1;
	return 0;
}

static int write_map(pid_t pid, const char *file, unsigned long start, unsigned long count,
		     cn_err *err)
{
	char path[64], line[64];
	int n = snprintf(line, sizeof(line), "0 %lu %lu\n", start, count);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || cn_write_all(fd, line, (size_t)n) < 0)
		return cn_err_sys(err, "write %s", path);
	return 0;
}

int sb_userns_open(const struct sb_idmap *m, cn_err *err)
{
	int hold[2];
	char path[64];
	int fd = -1;
	pid_t pid;
	if (pipe2(hold, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	/* A child creates the namespace and waits in it until we hold its fd. */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		cn_err_sys(err, "create a user namespace");
		close(hold[0]);
		close(hold[1]);
		return -1;
	}
	if (pid == 0) {
		char c;
		close(hold[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	if (write_map(pid, "uid_map", m->uid_start, m->uid_count, err) == 0 &&
	    write_map(pid, "gid_map", m->gid_start, m->gid_count, err) == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			cn_err_sys(err, "open %s", path);
	}
	close(hold[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return fd;
}

static int idmap_dir(const char *dir, int userns_fd, cn_err *err)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (__u64)userns_fd };
	_cleanup_close_ int fd = (int)syscall(SYS_open_tree, AT_FDCWD, dir,
					      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "clone the mount of '%s'", dir);
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return cn_err_sys(err, "idmap '%s'", dir);
	if (move_mount(fd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return cn_err_sys(err, "mount the idmapped '%s'", dir);
	return 0;
}

int sb_userns_idmap_lowers(const struct sb_rootfs *r, int userns_fd, cn_err *err)
{
	for (size_t i = 0; i < r->nlowers; i++)
		if (idmap_dir(r->lowers[i], userns_fd, err) < 0)
			return -1;
	return r->empty ? idmap_dir(r->empty, userns_fd, err) : 0;
}

int sb_userns_enter(int userns_fd, cn_err *err)
{
	if (setns(userns_fd, CLONE_NEWUSER) < 0)
		return cn_err_sys(err, "join the user namespace");
	/* Our ids are unmapped there until we take its root's. Rootless
	 * without a range (cairn exec joins that namespace) setgroups is
	 * denied there: the groups stay, as for cairn run. */
	if ((setgroups(0, NULL) < 0 && !(errno == EPERM && cn_rootless_single())) ||
	    setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return cn_err_sys(err, "become root of the user namespace");
	/* Changing ids cleared the death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	return 0;
}
