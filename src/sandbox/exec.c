/* cairn exec: a process joins a running sandbox. cairn exec forks a
 * middle process that joins the sandbox's user namespace (rootless), its
 * mount, uts, ipc, net and cgroup namespaces and its pid namespace, and
 * forks the process, which is thus in that pid namespace from birth, with
 * the sandbox's root from birth too (the sandbox sees it in /proc: a root
 * of the host's there would be a way out through /proc/N/root), then
 * exits: cairn exec, a subreaper, adopts the process, so it stays
 * entirely in the host's namespaces itself (its own forks, a sanitizer's
 * tracer, are not the sandbox's). The namespaces are joined through a
 * pidfd on the sandbox's pid 1; the process becomes the command the way
 * the sandbox's own process does (sb_become_process). */
#include "sandbox/internal.h"
#include "sandbox/seccomp.h"
#include "sandbox/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct {
	int flag;
	const char *name;
} ns_kinds[] = {
	{ CLONE_NEWNS, "mnt" }, { CLONE_NEWUTS, "uts" }, { CLONE_NEWIPC, "ipc" },
	{ CLONE_NEWNET, "net" }, { CLONE_NEWCGROUP, "cgroup" }, { CLONE_NEWPID, "pid" },
};

static bool same_ns(pid_t pid, const char *name)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
	if (stat(path, &a) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The sandbox's pid 1 has exited (its pidfd is readable). */
static bool ended(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	return poll(&p, 1, 0) != 0;
}

/* The first child of PID, as a pidfd that still names it; -1 if none. */
static int first_child(pid_t pid, pid_t *child)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	*child = (pid_t)strtol(buf, NULL, 10);
	if (*child <= 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, *child, 0);
	if (fd < 0)
		return -1;
	/* Opened after it was listed: still PID's child only if it is one now. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	{
		_cleanup_fclose_ FILE *f = fopen(path, "re");
		long c;
		bool found = false;
		while (f && fscanf(f, "%ld", &c) == 1)
			found |= c == *child;
		if (!found) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Rootless: join the sandbox's user namespace, then act through a process
 * the kernel lets us join (*FD, *PID). That is pid 1 when it is the
 * process itself, but not cairn's reaper (run --init): it is undumpable and
 * its memory belongs to the host's user namespace, which ptrace's rules
 * (setns checks them) keep us out of. Its first child then, the process:
 * in its pid namespace for good, and, the seccomp filter refusing new
 * namespaces without CAP_SYS_ADMIN, in the others too. */
static int join_userns_first(const struct sb_join *j, int *fd, pid_t *pid, cn_err *err)
{
	pid_t child;
	int cfd;
	*fd = j->pidfd;
	*pid = j->pid;
	if (!j->reaper)
		return sb_userns_enter(j->pidfd, err);
	if ((cfd = first_child(j->pid, &child)) < 0 || ended(j->pidfd)) {
		if (cfd >= 0)
			close(cfd);
		return cn_err_fail(err, CN_ERR_FAILED, "the container's process has ended");
	}
	if (sb_userns_enter(cfd, err) < 0) {
		close(cfd);
		return -1;
	}
	*fd = cfd;
	*pid = child;
	return 0;
}

/* The namespaces (user and pid aside) the sandbox does not share with us:
 * --network host shares the network one, and joining a namespace one
 * already is in is refused when it belongs to another user namespace. */
static int ns_to_join(pid_t pid, int pidfd, int init_pidfd, int *flags, cn_err *err)
{
	*flags = 0;
	for (size_t i = 0; i < sizeof(ns_kinds) / sizeof(ns_kinds[0]); i++)
		if (ns_kinds[i].flag != CLONE_NEWPID && !same_ns(pid, ns_kinds[i].name))
			*flags |= ns_kinds[i].flag;
	/* Read through the pid: it was that process's as long as it is alive now
	 * (and pid 1's too: a child may outlive it for a moment). */
	if (ended(pidfd) || ended(init_pidfd))
		return cn_err_fail(err, CN_ERR_FAILED, "the container's process has ended");
	return 0;
}

/* Close every fd above 2 but the KEEP ones (-1s ignored): a process the
 * container can see must hold nothing of the host's. */
static void close_all_but(const int *keep, size_t n)
{
	int sorted[16];
	size_t k = 0;
	unsigned lo = 3;
	for (size_t i = 0; i < n && k < 16; i++)
		if (keep[i] > 2)
			sorted[k++] = keep[i];
	for (size_t i = 1; i < k; i++)
		for (size_t m = i; m > 0 && sorted[m - 1] > sorted[m]; m--) {
			int t = sorted[m];
			sorted[m] = sorted[m - 1];
			sorted[m - 1] = t;
		}
	for (size_t i = 0; i < k; i++) {
		if ((unsigned)sorted[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)sorted[i] - 1, 0U);
		lo = (unsigned)sorted[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0U);
}

struct exec_fds {
	int go, errp, out, err;
	int parent;             /* a pidfd on cairn exec, the process's parent once adopted */
	struct sb_init_io io;   /* stdin_fd, pty_sock and the terminal's size */
};

static void __attribute__((noreturn)) exec_child(const struct sb_join *j, const struct sb_process *proc,
						 struct exec_fds *c)
{
	int keep[] = { c->go, c->errp, c->out, c->err, c->io.stdin_fd, c->io.pty_sock, j->pidfd,
		       c->parent };
	void *filter = NULL;
	char slave[64], go;
	cn_err err = { 0 };
	int in_fd;

	close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
	/* SIGPIPE ignored by cairn, a mask from exec's caller: not the command's. */
	sb_default_signals();
	if (dup2(c->out, STDOUT_FILENO) < 0 || dup2(c->err, STDERR_FILENO) < 0) {
		cn_err_sys(&err, "redirect output");
		sb_child_fail(c->errp, &err);
	}
	/* cairn exec adopts us and moves us into the cgroup first (EOF: it died). */
	if (read(c->go, &go, 1) != 1)
		_exit(125);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (j->userns == SB_USERNS_LAST && sb_userns_enter(j->pidfd, &err) < 0)
		sb_child_fail(c->errp, &err);
	close(j->pidfd);
	/* A pty of the sandbox's devpts, as its own process would get. */
	if (proc->tty && sb_make_pty(&c->io, slave, sizeof(slave), &err) < 0)
		sb_child_fail(c->errp, &err);
	if (c->io.pty_sock >= 0)
		close(c->io.pty_sock);
	setsid();
	if (proc->tty) {
		if (sb_attach_tty(slave, &err) < 0)
			sb_child_fail(c->errp, &err);
	} else {
		in_fd = c->io.stdin_fd >= 0 ? c->io.stdin_fd : sb_open_dev_null();
		if (in_fd < 0 || dup2(in_fd, STDIN_FILENO) < 0) {
			cn_err_sys(&err, "set up stdin");
			sb_child_fail(c->errp, &err);
		}
	}
	if ((!proc->security || !proc->security->unconfined) &&
	    sb_seccomp_build(&filter, sb_process_caps(proc), &err) < 0)
		sb_child_fail(c->errp, &err);
	sb_become_process(proc, proc->tty ? slave : NULL, filter, c->parent, c->errp);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

/* The middle process: user namespace (rootless), the others, pid
 * namespace, fork; the process's host pid goes to cairn exec through
 * PID_PIPE. Undumpable: the sandbox cannot reach either's fds through
 * /proc before the exec. */
static void __attribute__((noreturn)) exec_middle(const struct sb_join *j_in, const struct sb_process *proc,
						  struct exec_fds *c, int pid_pipe)
{
	struct sb_join jn = *j_in;      /* pid and pidfd: the process joined through */
	cn_err err = { 0 };
	int nsflags;
	pid_t child;

	/* The container's OOM score, inherited by the fork: through the host's
	 * /proc, while dumpable (else root owns the file). Lowering it needs
	 * CAP_SYS_RESOURCE: without, exec's caller's higher one stays, never a
	 * lower one than the container's. */
	if (j_in->has_oom_score_adj) {
		char v[16];
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		snprintf(v, sizeof(v), "%d", j_in->oom_score_adj);
		if (fd < 0 || (cn_write_all(fd, v, strlen(v)) < 0 && errno != EACCES)) {
			cn_err_sys(&err, "set oom_score_adj %s", v);
			sb_child_fail(c->errp, &err);
		}
		close(fd);
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Rootless: the sandbox's namespaces belong to its user namespace, in
	 * which we are root once we joined it (we own it on the host). */
	if (jn.userns == SB_USERNS_FIRST && join_userns_first(j_in, &jn.pidfd, &jn.pid, &err) < 0)
		sb_child_fail(c->errp, &err);
	if (ns_to_join(jn.pid, jn.pidfd, j_in->pidfd, &nsflags, &err) < 0)
		sb_child_fail(c->errp, &err);
	/* Before the fork: root and cwd become the sandbox's (setns of a mount
	 * namespace), so no process with the host's appears in its pid
	 * namespace. The cgroup namespace's root is fixed when it was made:
	 * joining it before cairn exec moves the process into the cgroup
	 * changes nothing. */
	if (nsflags && setns(jn.pidfd, nsflags) < 0) {
		cn_err_sys(&err, "join the container's namespaces");
		sb_child_fail(c->errp, &err);
	}
	/* Only for our children. */
	if (setns(jn.pidfd, CLONE_NEWPID) < 0) {
		cn_err_sys(&err, "join the container's pid namespace");
		sb_child_fail(c->errp, &err);
	}
	child = fork();
	if (child < 0) {
		/* The kernel refuses a new process in a pid namespace whose pid 1 is gone. */
		if (errno == ENOMEM)
			cn_err_fail(&err, CN_ERR_FAILED, "the container's process has ended");
		else
			cn_err_sys(&err, "fork");
		sb_child_fail(c->errp, &err);
	}
	if (child == 0) {
		close(pid_pipe);
		exec_child(&jn, proc, c);
	}
	_exit(cn_write_all(pid_pipe, &child, sizeof(child)) < 0 ? 125 : 0);
}

int sb_exec(const struct sb_join *j, const struct sb_process *proc, struct sb_exit *ex, cn_err *err)
{
	int go[2] = { -1, -1 }, errp[2] = { -1, -1 }, out[2] = { -1, -1 }, errout[2] = { -1, -1 };
	int in[2] = { -1, -1 }, pty[2] = { -1, -1 }, pidp[2] = { -1, -1 };
	struct wait_ctx w = { .pidfd = -1, .in_from = -1, .in_to = -1, .winch_fd = -1,
			      .size_fd = -1, .master = -1, .peer = -1, .stop_signal = proc->stop_signal,
			      .stop_timeout = proc->stop_timeout };
	struct relay relays[3];
	struct exec_fds cf;
	_cleanup_close_ int self_fd = -1;
	int ws = 0, ev = 1, r = -1, cg_r;
	pid_t mid, pid = -1;
	ssize_t n;

	memset(ex, 0, sizeof(*ex));
	/* The process is adopted here when the middle process exits. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return cn_err_sys(err, "become a subreaper");
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(errout, O_CLOEXEC) < 0 || pipe2(pidp, O_CLOEXEC) < 0 ||
	    (proc->interactive && !proc->tty && pipe2(in, O_CLOEXEC) < 0) ||
	    (proc->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pty) < 0)) {
		cn_err_sys(err, "pipe");
		goto out;
	}
	/* The process dies with cairn exec, its parent once adopted. */
	self_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (self_fd < 0) {
		cn_err_sys(err, "pidfd_open");
		goto out;
	}
	cf = (struct exec_fds){ .go = go[0], .errp = errp[1], .out = out[1], .err = errout[1],
				.parent = self_fd,
				.io = { .stdin_fd = in[0], .pty_sock = pty[1], .parent_fd = -1 } };
	if (proc->tty) {
		/* The terminal the size follows: the user's stdin, else stdout. */
		w.size_fd = proc->interactive && isatty(proc->in_fd) ? proc->in_fd : proc->out_fd;
		cf.io.have_ws = ioctl(w.size_fd, TIOCGWINSZ, &cf.io.ws) == 0;
	}
	sb_block_signals(&w, proc->tty);
	mid = sb_clone_ns(&w, 0, err);
	if (mid < 0) {
		sigprocmask(SIG_SETMASK, &w.old_mask, NULL);
		goto out;
	}
	if (mid == 0) {
		close(pidp[0]);
		exec_middle(j, proc, &cf, pidp[1]);
	}
	close(go[0]);
	close(errp[1]);
	close(out[1]);
	close(errout[1]);
	close(pidp[1]);
	go[0] = errp[1] = out[1] = errout[1] = pidp[1] = -1;
	if (in[0] >= 0) {
		close(in[0]);
		in[0] = -1;
	}
	if (pty[1] >= 0) {
		close(pty[1]);
		pty[1] = -1;
	}
	do
		n = read(pidp[0], &pid, sizeof(pid));
	while (n < 0 && errno == EINTR);
	/* Reaped: the process is ours from here on. */
	sb_finish_child(&w, &ws);
	if (n != (ssize_t)sizeof(pid) || pid <= 0) {
		if (sb_read_child_error(errp[0], err) == 0)
			cn_err_fail(err, CN_ERR_FAILED, "joining the container failed");
		goto out;
	}
	sb_block_signals(&w, proc->tty);
	w.pid = pid;
	w.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (w.pidfd < 0) {
		cn_err_sys(err, "pidfd_open");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		sigprocmask(SIG_SETMASK, &w.old_mask, NULL);
		goto out;
	}
	relays[0] = (struct relay){ .from = out[0], .to = proc->out_fd };
	relays[1] = (struct relay){ .from = errout[0], .to = proc->err_fd };
	relays[2] = (struct relay){ .from = -1, .to = proc->out_fd };
	out[0] = errout[0] = -1;
	/* Never without it: refused, exec fails (rootless: saying why). */
	cg_r = j->cgroup ? sb_cgroup_join(j->cgroup, pid, j->pid, err) : 0;
	if (cg_r < 0 && j->userns == SB_USERNS_FIRST)
		sb_cgroup_user_exec_denied(err);
	if (cg_r < 0 || write(go[1], "g", 1) != 1) {
		kill(pid, SIGKILL);
		sb_relay_to_end(&w, proc, &in[1], relays, 2, -1);
		sb_finish_child(&w, &ws);
		goto out;
	}
	close_pair(go);
	if (proc->tty && (ev = sb_wait_events(&w, pty[0], relays, 2)) == 1) {
		w.master = sb_recv_fd(pty[0]);
		if (w.master >= 0) {
			relays[2].from = fcntl(w.master, F_DUPFD_CLOEXEC, 3);
			fcntl(w.master, F_SETFL, fcntl(w.master, F_GETFL) | O_NONBLOCK);
		}
	}
	ev = sb_relay_to_end(&w, proc, &in[1], relays, 3, ev);
	if (sb_finish_child(&w, &ws) < 0 || ev < 0) {
		cn_err_sys(err, "wait for the process");
		goto out;
	}
	if (sb_read_child_error(errp[0], err) < 0)
		goto out;
	ex->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	r = 0;
out:
	close_pair(go);
	close_pair(errp);
	close_pair(out);
	close_pair(errout);
	close_pair(in);
	close_pair(pty);
	close_pair(pidp);
	return r;
}
