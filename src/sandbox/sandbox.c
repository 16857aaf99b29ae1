/* Creating sandboxes and waiting for them: the parent's side. */
#include "sandbox/internal.h"
#include "sandbox/overlay.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_STUBS 64

/* ------------------------------------------------------------------ */
/* Children and their errors */

static int read_child_error(int fd, cn_err *err)
{
	cn_err got;
	ssize_t n;
	do
		n = read(fd, &got, sizeof(got));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(got))
		return 0;
	got.msg[sizeof(got.msg) - 1] = '\0';
	*err = got;
	return -1;
}

/* The signals Ctrl-C handling cares about are blocked in the parent while
 * it waits, and let through only inside ppoll(): none can slip in between
 * a check of the flag and the wait. Children start with the old mask. */
struct wait_ctx {
	sigset_t old_mask;
	pid_t pid;
	int pidfd;
	bool interrupted;
};

static void block_signals(struct wait_ctx *w)
{
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &w->old_mask);
}

static pid_t clone_ns(struct wait_ctx *w, unsigned long flags, cn_err *err)
{
	/* Raw clone with no new stack behaves like fork() but can create the
	 * pid namespace for the child itself (unshare would need another fork). */
	pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return cn_err_sys(err, "create namespaces");
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		umask(022);     /* as docker: the caller's umask must not shape the image */
		return 0;
	}
	w->pid = pid;
	w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (w->pidfd < 0) {
		cn_err_sys(err, "pidfd_open");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

struct relay {
	int from;       /* read end, -1 when closed */
	int to;
};

static void relay_once(struct relay *r)
{
	char buf[65536];
	ssize_t n = read(r->from, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(r->from);
		r->from = -1;
		return;
	}
	/* Output the user cannot see (closed stdout) must not kill the build. */
	(void)cn_write_all(r->to, buf, (size_t)n);
}

/* Wait until FD (if >= 0) is readable, or every relay is at EOF and the
 * child has exited (FD < 0). Ctrl-C kills the child. Returns 1 when FD is
 * readable, 0 when the child is gone, -1 on error. */
static int wait_events(struct wait_ctx *w, int fd, struct relay *relays, size_t nrelays)
{
	bool exited = false;
	for (;;) {
		struct pollfd p[4];
		nfds_t n = 0;
		if (cn_interrupted() && !w->interrupted) {
			w->interrupted = true;
			kill(w->pid, SIGKILL);
		}
		if (fd >= 0)
			p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (!exited)
			p[n++] = (struct pollfd){ .fd = w->pidfd, .events = POLLIN };
		for (size_t i = 0; i < nrelays; i++)
			if (relays[i].from >= 0)
				p[n++] = (struct pollfd){ .fd = relays[i].from, .events = POLLIN };
		if (n == 0)
			return 0;
		if (ppoll(p, n, NULL, &w->old_mask) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == fd)
				return 1;
			if (p[i].fd == w->pidfd) {
				exited = true;
				continue;
			}
			for (size_t j = 0; j < nrelays; j++)
				if (relays[j].from == p[i].fd)
					relay_once(&relays[j]);
		}
		if (fd >= 0 && exited)
			return 0;
	}
}

/* Reap the child and restore the signal mask. */
static int finish_child(struct wait_ctx *w, int *wstatus)
{
	pid_t r;
	do
		r = waitpid(w->pid, wstatus, 0);
	while (r < 0 && errno == EINTR);
	close(w->pidfd);
	sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
	return r == w->pid ? 0 : -1;
}

static void describe_status(int ws, char *out, size_t len)
{
	if (WIFSIGNALED(ws))
		snprintf(out, len, "killed by signal %d", WTERMSIG(ws));
	else
		snprintf(out, len, "exit status %d", WEXITSTATUS(ws));
}

/* ------------------------------------------------------------------ */
/* Stubs: what the upper dir holds before the process starts is ours. */

struct stub {
	char path[256];
	ino_t ino;
	struct timespec ctime;
	bool dir;
};

struct stub_list {
	struct stub items[MAX_STUBS];
	size_t n;
};

static void record_stubs(int dirfd, const char *prefix, struct stub_list *l)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(dirfd, prefix[0] ? prefix : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) && l->n < MAX_STUBS) {
		struct stub *s = &l->items[l->n];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int n = snprintf(s->path, sizeof(s->path), "%s%s%s", prefix, prefix[0] ? "/" : "",
				 de->d_name);
		if (n < 0 || (size_t)n >= sizeof(s->path))
			continue;
		if (fstatat(dirfd, s->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		s->ino = st.st_ino;
		s->ctime = st.st_ctim;
		s->dir = S_ISDIR(st.st_mode);
		l->n++;
		if (s->dir)
			record_stubs(dirfd, s->path, l);
	}
}

/* A stub is ours to remove when the process left it as we made it. All
 * are judged before any is removed: removing a child changes its parent's
 * ctime. Children were recorded after their parents, so removal walks
 * backwards; a directory the process put something in is not empty and stays. */
static void remove_stubs(int dirfd, const struct stub_list *l)
{
	bool untouched[MAX_STUBS];
	for (size_t i = 0; i < l->n; i++) {
		const struct stub *s = &l->items[i];
		struct stat st;
		untouched[i] = fstatat(dirfd, s->path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			       st.st_ino == s->ino && st.st_ctim.tv_sec == s->ctime.tv_sec &&
			       st.st_ctim.tv_nsec == s->ctime.tv_nsec &&
			       (s->dir || (S_ISREG(st.st_mode) && st.st_size == 0));
	}
	for (size_t i = l->n; i-- > 0;) {
		if (!untouched[i])
			continue;
		unlinkat(dirfd, l->items[i].path, l->items[i].dir ? AT_REMOVEDIR : 0);
	}
}

/* ------------------------------------------------------------------ */

static int mount_root(const struct sb_rootfs *rootfs, int *root_fd, cn_err *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return cn_err_sys(err, "make mounts private");
	if (sb_overlay_mount(rootfs, err) < 0)
		return -1;
	*root_fd = open(rootfs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*root_fd < 0)
		return cn_err_sys(err, "open '%s'", rootfs->merged);
	return 0;
}

static void __attribute__((noreturn)) sandbox_child(const struct sb_rootfs *rootfs,
						    const struct sb_process *proc, int out_fd,
						    int err_fd, int ready_fd, int go_fd, int errfd)
{
	cn_err err = { 0 };
	int root_fd = -1;
	char go;

	setpgid(0, 0);
	if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0) {
		cn_err_sys(&err, "redirect output");
		sb_child_fail(errfd, &err);
	}
	if (mount_root(rootfs, &root_fd, &err) < 0 || sb_create_stubs(root_fd, &err) < 0 ||
	    sb_create_mount_targets(root_fd, proc->mounts, proc->nmounts, &err) < 0)
		sb_child_fail(errfd, &err);
	/* The parent records the stubs, then lets us go (EOF: it died). */
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &go, 1) != 1)
		_exit(125);
	close(ready_fd);
	close(go_fd);
	if (sb_mount_system(root_fd, proc->hosts_file, &err) < 0 ||
	    sb_mount_extra(root_fd, proc->mounts, proc->nmounts, &err) < 0 ||
	    sb_enter_root(root_fd, &err) < 0)
		sb_child_fail(errfd, &err);
	close(root_fd);
	if (proc->hostname && sethostname(proc->hostname, strlen(proc->hostname)) < 0) {
		cn_err_sys(&err, "sethostname");
		sb_child_fail(errfd, &err);
	}
	if (proc->network == SB_NET_NONE && sb_loopback_up(&err) < 0)
		sb_child_fail(errfd, &err);
	sb_run_init(proc, errfd);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

int sb_run(const struct sb_rootfs *rootfs, const struct sb_process *proc, int *status, cn_err *err)
{
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int out[2] = { -1, -1 }, errout[2] = { -1, -1 };
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	struct stub_list stubs = { .n = 0 };
	struct wait_ctx w = { .pidfd = -1 };
	struct relay relays[2];
	_cleanup_close_ int upper_fd = -1;
	int ws = 0, r = -1, ev;
	char c;
	pid_t pid;

	if (proc->network == SB_NET_NONE)
		flags |= CLONE_NEWNET;
	upper_fd = open(rootfs->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upper_fd < 0)
		return cn_err_sys(err, "open '%s'", rootfs->upper);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errout, O_CLOEXEC) < 0) {
		cn_err_sys(err, "pipe");
		goto out;
	}
	block_signals(&w);
	if (cn_interrupted()) {
		sigprocmask(SIG_SETMASK, &w.old_mask, NULL);
		cn_err_plain(err, EINTR, "interrupted");
		goto out;
	}
	pid = clone_ns(&w, flags, err);
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &w.old_mask, NULL);
		goto out;
	}
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		close(errp[0]);
		close(out[0]);
		close(errout[0]);
		sandbox_child(rootfs, proc, out[1], errout[1], ready[1], go[0], errp[1]);
	}
	close(ready[1]);
	close(go[0]);
	close(errp[1]);
	close(out[1]);
	close(errout[1]);
	ready[1] = go[0] = errp[1] = out[1] = errout[1] = -1;
	relays[0] = (struct relay){ .from = out[0], .to = proc->out_fd };
	relays[1] = (struct relay){ .from = errout[0], .to = proc->err_fd };
	out[0] = errout[0] = -1;

	ev = wait_events(&w, ready[0], relays, 2);
	if (ev == 1 && read(ready[0], &c, 1) == 1) {
		record_stubs(upper_fd, "", &stubs);
		if (write(go[1], "g", 1) != 1)
			kill(pid, SIGKILL);
	}
	close_pair(go);
	if (ev >= 0)
		ev = wait_events(&w, -1, relays, 2);
	for (size_t i = 0; i < 2; i++)
		if (relays[i].from >= 0)
			close(relays[i].from);
	if (finish_child(&w, &ws) < 0 || ev < 0) {
		cn_err_sys(err, "wait for the sandbox");
		goto cleanup_stubs;
	}
	if (w.interrupted) {
		cn_err_plain(err, EINTR, "interrupted");
		goto cleanup_stubs;
	}
	if (read_child_error(errp[0], err) < 0)
		goto cleanup_stubs;
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	r = 0;
cleanup_stubs:
	remove_stubs(upper_fd, &stubs);
out:
	close_pair(ready);
	close_pair(go);
	close_pair(errp);
	close_pair(out);
	close_pair(errout);
	return r;
}

int sb_with_rootfs(const struct sb_rootfs *rootfs, const struct sb_rootfs *extra, sb_rootfs_fn fn,
		   void *arg, cn_err *err)
{
	struct wait_ctx w = { .pidfd = -1 };
	int errp[2];
	int ws = 0, r;
	pid_t pid;

	if (pipe2(errp, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	block_signals(&w);
	pid = clone_ns(&w, CLONE_NEWNS, err);
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &w.old_mask, NULL);
		close_pair(errp);
		return -1;
	}
	if (pid == 0) {
		cn_err cerr = { 0 };
		int root_fd = -1, extra_fd = -1;
		close(errp[0]);
		if (mount_root(rootfs, &root_fd, &cerr) < 0)
			sb_child_fail(errp[1], &cerr);
		if (extra && sb_overlay_mount(extra, &cerr) < 0)
			sb_child_fail(errp[1], &cerr);
		if (extra && (extra_fd = open(extra->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			cn_err_sys(&cerr, "open '%s'", extra->merged);
			sb_child_fail(errp[1], &cerr);
		}
		if (fn(root_fd, extra_fd, arg, &cerr) < 0)
			sb_child_fail(errp[1], &cerr);
		_exit(0);
	}
	close(errp[1]);
	errp[1] = -1;
	r = wait_events(&w, -1, NULL, 0);
	if (finish_child(&w, &ws) < 0 || r < 0) {
		r = cn_err_sys(err, "wait");
	} else if (w.interrupted) {
		r = cn_err_plain(err, EINTR, "interrupted");
	} else if (read_child_error(errp[0], err) < 0) {
		r = -1;
	} else if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		char what[64];
		describe_status(ws, what, sizeof(what));
		r = cn_err_set(err, 0, "helper process failed (%s)", what);
	}
	close_pair(errp);
	return r;
}
