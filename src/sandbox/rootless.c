/* Entering the rootless user namespace. */
#include "sandbox/rootless.h"
#include "sandbox/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int sb_rootless_probe(struct cn_rootless *r, cn_err *err)
{
	const char *uf = getenv("CAIRN_SUBUID_FILE"), *gf = getenv("CAIRN_SUBGID_FILE");
	struct passwd *pw;
	char num[24];
	const char *names[2];

	memset(r, 0, sizeof(*r));
	r->uid = getuid();
	r->gid = getgid();
	pw = getpwuid(r->uid);
	snprintf(num, sizeof(num), "%u", (unsigned)r->uid);
	snprintf(r->name, sizeof(r->name), "%s", pw && pw->pw_name ? pw->pw_name : num);
	/* shadow's helpers accept a line naming the user or its uid. */
	names[0] = r->name;
	names[1] = num;
	if (sb_subid_find(uf && *uf ? uf : "/etc/subuid", names, 2, &r->uid_start, &r->uid_count, err) < 0 ||
	    sb_subid_find(gf && *gf ? gf : "/etc/subgid", names, 2, &r->gid_start, &r->gid_count, err) < 0)
		return -1;
	/* One range without the other maps neither: ids would differ. */
	if (!r->uid_count || !r->gid_count)
		r->uid_count = r->gid_count = 0;
	return 0;
}

static int write_proc(const char *file, const char *text, cn_err *err)
{
	_cleanup_close_ int fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || cn_write_all(fd, text, strlen(text)) < 0)
		return cn_err_sys(err, "write %s", file);
	return 0;
}

/* Read FD to EOF into MSG (at most LEN - 1 bytes, NUL-terminated). */
static void read_text(int fd, char *msg, size_t len)
{
	size_t got = 0;
	ssize_t n;
	while (got + 1 < len && (n = read(fd, msg + got, len - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
}

/* In the helper child: run HELPER PID 0 ID 1 1 START COUNT, its stderr into
 * MSG. 0 when it succeeded. */
static int run_map_helper(const char *helper, pid_t pid, unsigned long id, unsigned long start,
			  unsigned long count, char *msg, size_t len)
{
	char a_pid[24], a_id[24], a_start[24], a_count[24];
	int ep[2], ws = 0;
	pid_t h;
	snprintf(a_pid, sizeof(a_pid), "%d", (int)pid);
	snprintf(a_id, sizeof(a_id), "%lu", id);
	snprintf(a_start, sizeof(a_start), "%lu", start);
	snprintf(a_count, sizeof(a_count), "%lu", count);
	if (pipe2(ep, O_CLOEXEC) < 0)
		return snprintf(msg, len, "pipe: %s", strerror(errno)), -1;
	h = fork();
	if (h < 0)
		return snprintf(msg, len, "fork: %s", strerror(errno)), -1;
	if (h == 0) {
		char path[64];
		dup2(ep[1], STDERR_FILENO);
		snprintf(path, sizeof(path), "/usr/bin/%s", helper);
		execl(path, helper, a_pid, "0", a_id, "1", "1", a_start, a_count, (char *)NULL);
		execlp(helper, helper, a_pid, "0", a_id, "1", "1", a_start, a_count, (char *)NULL);
		dprintf(STDERR_FILENO, "cannot run %s: %s (Debian: apt-get install uidmap)", helper,
			strerror(errno));
		_exit(127);
	}
	close(ep[1]);
	read_text(ep[0], msg, len);
	close(ep[0]);
	while (waitpid(h, &ws, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return 0;
	msg[strcspn(msg, "\n")] = '\0';
	if (!msg[0])
		snprintf(msg, len, "%s failed", helper);
	return -1;
}

/* The helpers are setuid root: they cannot work from inside the new
 * namespace (root is not mapped there), so a child forked before the
 * unshare runs them on the parent, which must still be dumpable and owned
 * by the user (they check /proc/PID; Debian 12's shadow takes no pidfd). */
static int map_ranges(const struct cn_rootless *r, cn_err *err)
{
	int go[2], res[2];
	char msg[512] = "";
	pid_t parent = getpid(), child;
	int ws = 0;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	child = fork();
	if (child < 0)
		return cn_err_sys(err, "fork");
	if (child == 0) {
		char c;
		close(go[1]);
		close(res[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);       /* the unshare failed */
		if (run_map_helper("newuidmap", parent, r->uid, r->uid_start, r->uid_count, msg, sizeof(msg)) < 0 ||
		    run_map_helper("newgidmap", parent, r->gid, r->gid_start, r->gid_count, msg, sizeof(msg)) < 0) {
			(void)cn_write_all(res[1], msg, strlen(msg));
			_exit(1);
		}
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	if (unshare(CLONE_NEWUSER) < 0) {
		cn_err_sys(err, "create a user namespace (are unprivileged user namespaces disabled? "
			   "see sysctl user.max_user_namespaces)");
		close(go[1]);
		close(res[0]);
		waitpid(child, NULL, 0);
		return -1;
	}
	if (write(go[1], "g", 1) != 1)
		kill(child, SIGKILL);
	close(go[1]);
	read_text(res[0], msg, sizeof(msg));
	close(res[0]);
	while (waitpid(child, &ws, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return cn_err_fail(err, CN_ERR_DENIED, "map your subordinate ids (%s:%lu:%lu in /etc/subuid, "
				  "%s:%lu:%lu in /etc/subgid) into cairn's user namespace: %s",
				  r->name, r->uid_start, r->uid_count, r->name, r->gid_start, r->gid_count,
				  msg[0] ? msg : "the helper failed");
	return 0;
}

/* Without a range the kernel lets us map our own ids, once, ourselves;
 * setgroups must be denied first for the gid map. */
static int map_self(const struct cn_rootless *r, cn_err *err)
{
	char line[64];
	if (unshare(CLONE_NEWUSER) < 0)
		return cn_err_sys(err, "create a user namespace (are unprivileged user namespaces "
				  "disabled? see sysctl user.max_user_namespaces)");
	if (write_proc("/proc/self/setgroups", "deny", err) < 0)
		return -1;
	snprintf(line, sizeof(line), "0 %u 1\n", (unsigned)r->uid);
	if (write_proc("/proc/self/uid_map", line, err) < 0)
		return -1;
	snprintf(line, sizeof(line), "0 %u 1\n", (unsigned)r->gid);
	return write_proc("/proc/self/gid_map", line, err);
}

int sb_rootless_enter(struct cn_rootless *r, cn_err *err)
{
	if ((r->uid_count ? map_ranges(r, err) : map_self(r, err)) < 0)
		return -1;
	/* The user's supplementary groups are unmapped (65534) inside. */
	if (r->uid_count && setgroups(0, NULL) < 0)
		return cn_err_sys(err, "setgroups in the user namespace");
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return cn_err_sys(err, "become root of the user namespace");
	cn_rootless_set(r);
	return 0;
}
