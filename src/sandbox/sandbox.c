/* Creating sandboxes and waiting for them: the parent's side. */
#include "sandbox/internal.h"
#include "sandbox/overlay.h"
#include "sandbox/seccomp.h"
#include "sandbox/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STUBS 64

/* ------------------------------------------------------------------ */
/* Children and their errors */

int sb_read_child_error(int fd, cn_err *err)
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

void sb_block_signals(struct wait_ctx *w, bool winch)
{
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	if (winch)
		sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, &w->old_mask);
}

pid_t sb_clone_ns(struct wait_ctx *w, unsigned long flags, cn_err *err)
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

static void relay_once(struct relay *r)
{
	char buf[65536];
	ssize_t n = read(r->from, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {   /* EOF, or EIO from a pty master whose slave is gone */
		close(r->from);
		r->from = -1;
		return;
	}
	/* Output the user cannot see (closed stdout) must not kill the build. */
	(void)cn_write_all(r->to, buf, (size_t)n);
}

static void input_done(struct wait_ctx *w)
{
	if (w->in_close_at_eof && w->in_to >= 0)
		close(w->in_to);
	w->in_to = w->in_from = -1;
}

/* The user's stdin into the container: read when the buffer is empty,
 * write (non-blocking) when the other side takes it. */
static void input_step(struct wait_ctx *w, short revents, bool writable)
{
	if (!writable && (revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(w->in_from, w->in_buf, 65536);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0) {
			input_done(w);
			return;
		}
		w->in_len = (size_t)n;
		w->in_off = 0;
	} else if (writable) {
		ssize_t n = write(w->in_to, w->in_buf + w->in_off, w->in_len - w->in_off);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n < 0) {    /* the process closed its stdin or is gone */
			input_done(w);
			return;
		}
		w->in_off += (size_t)n;
		if (w->in_off == w->in_len)
			w->in_len = w->in_off = 0;
	}
}

static void resize_pty(struct wait_ctx *w)
{
	struct signalfd_siginfo si;
	struct winsize ws;
	while (read(w->winch_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	if (w->master >= 0 && ioctl(w->size_fd, TIOCGWINSZ, &ws) == 0)
		ioctl(w->master, TIOCSWINSZ, &ws);
}

static long long ms_until(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000LL + (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* Ctrl-C, SIGTERM, cairn stop: kill at once (RUN steps), or the stop
 * signal first and SIGKILL after the timeout or a second request. */
static void handle_stop(struct wait_ctx *w)
{
	int n = cn_interrupt_count();
	if (n > w->handled) {
		if (w->stop_signal == SB_STOP_KILL) {
			w->interrupted = true;
			kill(w->pid, SIGKILL);
		} else if (w->stop_signal == SB_STOP_KILL_GROUP) {
			/* Not before the process is known: -0 is our own group. */
			if (w->pid <= 0)
				return;
			kill(-w->pid, SIGKILL);
			kill(w->pid, SIGKILL);
		} else if (w->before_exec) {
			/* Until then pid 1 is cairn's set-up code, which would ignore
			 * it as a pid 1 without a handler does: it goes once the
			 * process runs. A second request kills at once. */
			if (n < 2)
				return;
			kill(w->pid, SIGKILL);
		} else if (w->handled == 0) {
			int sig = w->stop_signal == SB_STOP_FORWARD ? cn_interrupt_signal() : w->stop_signal;
			kill(w->pid, sig);
			clock_gettime(CLOCK_MONOTONIC, &w->deadline);
			w->deadline.tv_sec += w->stop_timeout;
			w->stopping = true;
		} else {
			kill(w->pid, SIGKILL);
			w->stopping = false;
		}
		w->handled = n;
	}
	if (w->stopping && ms_until(&w->deadline) <= 0) {
		kill(w->pid, SIGKILL);
		w->stopping = false;
	}
}

/* Wait until FD (if >= 0) is readable, or every relay is at EOF and the
 * child has exited (FD < 0). Returns 1 when FD is readable, 0 when the
 * child is gone, -1 on error. */
int sb_wait_events(struct wait_ctx *w, int fd, struct relay *relays, size_t nrelays)
{
	bool exited = false;
	for (;;) {
		struct pollfd p[8];
		nfds_t n = 0;
		struct timespec tmo, *tp = NULL;
		handle_stop(w);
		if (w->stopping) {
			long long ms = ms_until(&w->deadline);
			if (ms < 0)
				ms = 0;
			tmo = (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
			tp = &tmo;
		}
		if (fd >= 0)
			p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (!exited)
			p[n++] = (struct pollfd){ .fd = w->pidfd, .events = POLLIN };
		for (size_t i = 0; i < nrelays; i++)
			if (relays[i].from >= 0)
				p[n++] = (struct pollfd){ .fd = relays[i].from, .events = POLLIN };
		/* Input only while the process runs: after that nobody reads it. */
		if (w->in_from >= 0 && w->in_to >= 0 && !exited && fd < 0)
			p[n++] = w->in_len ? (struct pollfd){ .fd = w->in_to, .events = POLLOUT }
					   : (struct pollfd){ .fd = w->in_from, .events = POLLIN };
		if (w->winch_fd >= 0)
			p[n++] = (struct pollfd){ .fd = w->winch_fd, .events = POLLIN };
		if (exited && fd < 0) {
			bool open = false;
			for (size_t i = 0; i < nrelays; i++)
				open |= relays[i].from >= 0;
			if (!open)
				return 0;
		}
		if (ppoll(p, n, tp, &w->old_mask) < 0) {
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
				if (w->peer >= 0)       /* now the master may see EOF */
					close(w->peer);
				w->peer = -1;
				continue;
			}
			if (p[i].fd == w->winch_fd) {
				resize_pty(w);
				continue;
			}
			if (p[i].fd == w->in_from && w->in_len == 0) {
				input_step(w, p[i].revents, false);
				continue;
			}
			if (p[i].fd == w->in_to && w->in_len) {
				input_step(w, p[i].revents, true);
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
int sb_finish_child(struct wait_ctx *w, int *wstatus)
{
	pid_t r;
	do
		r = waitpid(w->pid, wstatus, 0);
	while (r < 0 && errno == EINTR);
	close(w->pidfd);
	sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
	return r == w->pid ? 0 : -1;
}

int sb_relay_to_end(struct wait_ctx *w, const struct sb_process *proc, int *in_pipe,
		    struct relay *relays, size_t nrelays, int ev)
{
	_cleanup_free_ char *in_buf = NULL;
	if (proc->interactive && (*in_pipe >= 0 || w->master >= 0)) {
		in_buf = cn_xmalloc(65536);
		w->in_buf = in_buf;
		w->in_from = proc->in_fd;
		w->in_to = proc->tty ? w->master : *in_pipe;
		w->in_close_at_eof = !proc->tty;
		if (!proc->tty)
			fcntl(*in_pipe, F_SETFL, fcntl(*in_pipe, F_GETFL) | O_NONBLOCK);
		*in_pipe = -1;  /* w owns it now */
	}
	if (proc->tty) {
		sigset_t winch;
		sigemptyset(&winch);
		sigaddset(&winch, SIGWINCH);
		w->winch_fd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
	}
	if (ev >= 0)
		ev = sb_wait_events(w, -1, relays, nrelays);
	for (size_t i = 0; i < nrelays; i++)
		if (relays[i].from >= 0)
			close(relays[i].from);
	if (w->in_close_at_eof && w->in_to >= 0)
		close(w->in_to);
	if (w->master >= 0)
		close(w->master);
	if (w->peer >= 0)
		close(w->peer);
	if (w->winch_fd >= 0)
		close(w->winch_fd);
	w->in_to = w->master = w->peer = w->winch_fd = -1;
	return ev;
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

static int mount_root(const struct sb_rootfs *rootfs, int userns_fd, int *root_fd, cn_err *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return cn_err_sys(err, "make mounts private");
	if (userns_fd >= 0 && sb_userns_idmap_lowers(rootfs, userns_fd, err) < 0)
		return -1;
	if (sb_overlay_mount(rootfs, err) < 0)
		return -1;
	*root_fd = open(rootfs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*root_fd < 0)
		return cn_err_sys(err, "open '%s'", rootfs->merged);
	return 0;
}

/* The child's ends of the parent's pipes and sockets. */
struct child_fds {
	int out, err, ready, go, errp;
	int userns;             /* --userns=auto: joined last, else -1 */
	const struct net_lease *lease;  /* SB_NET_DEFAULT: configured inside, else NULL */
	const char *resolv;     /* SB_NET_DEFAULT: bound over /etc/resolv.conf */
	struct sb_init_io io;
};

/* A bridge's resolv.conf over the host's (bound by sb_mount_system):
 * read-only, through fds like every other mount. */
static int bind_resolv(int root_fd, const char *src, cn_err *err)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					       MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
	_cleanup_close_ int target = sb_open_in_root(root_fd, "etc/resolv.conf", O_PATH | O_NOFOLLOW, 0);
	_cleanup_close_ int tree = -1;
	if (target < 0)
		return cn_err_sys(err, "open /etc/resolv.conf");
	tree = (int)open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ||
	    move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cn_err_sys(err, "bind %s on /etc/resolv.conf", src);
	return 0;
}

static void __attribute__((noreturn)) sandbox_child(const struct sb_rootfs *rootfs,
						    const struct sb_process *proc,
						    struct child_fds *c)
{
	cn_err err = { 0 };
	int root_fd = -1;
	char go;

	/* Apart from the caller's terminal and its Ctrl-C. The process as
	 * pid 1 leads a session of its own, for its pty (the reaper's child
	 * makes one itself). */
	if (proc->as_pid1)
		setsid();
	else
		setpgid(0, 0);
	if (dup2(c->out, STDOUT_FILENO) < 0 || dup2(c->err, STDERR_FILENO) < 0) {
		cn_err_sys(&err, "redirect output");
		sb_child_fail(c->errp, &err);
	}
	if (mount_root(rootfs, c->userns, &root_fd, &err) < 0 || sb_create_stubs(root_fd, &err) < 0 ||
	    sb_create_mount_targets(root_fd, proc->mounts, proc->nmounts, &err) < 0)
		sb_child_fail(c->errp, &err);
	/* The parent records the stubs and moves us into the cgroup, then lets
	 * us go (EOF: it died). */
	if (write(c->ready, "r", 1) != 1 || read(c->go, &go, 1) != 1)
		_exit(125);
	close(c->ready);
	close(c->go);
	/* The parent moved our veth end in before it let us go. */
	if (c->lease && net_lease_configure(c->lease, &err) < 0)
		sb_child_fail(c->errp, &err);
	/* Our cgroup, whichever it is now, becomes the namespace's root. */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		cn_err_sys(&err, "create the cgroup namespace");
		sb_child_fail(c->errp, &err);
	}
	if (sb_mount_system(root_fd, proc, &err) < 0 ||
	    (proc->systemd && sb_systemd_mounts(root_fd, proc, &err) < 0) ||
	    ((proc->resolv_file || c->resolv) &&
	     bind_resolv(root_fd, proc->resolv_file ? proc->resolv_file : c->resolv, &err) < 0) ||
	    sb_mount_extra(root_fd, proc->mounts, proc->nmounts, &err) < 0)
		sb_child_fail(c->errp, &err);
	if (proc->read_only) {
		/* Only the overlay root: /dev, /dev/shm and the mounts keep their modes. */
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
		if (mount_setattr(root_fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
			cn_err_sys(&err, "make the root read-only");
			sb_child_fail(c->errp, &err);
		}
	}
	if (sb_enter_root(root_fd, &err) < 0)
		sb_child_fail(c->errp, &err);
	close(root_fd);
	if (proc->hostname && sethostname(proc->hostname, strlen(proc->hostname)) < 0) {
		cn_err_sys(&err, "sethostname");
		sb_child_fail(c->errp, &err);
	}
	if (!c->lease && proc->network != SB_NET_HOST && c->userns < 0 && sb_loopback_up(&err) < 0)
		sb_child_fail(c->errp, &err);
	/* Last: the namespaces above stay owned by the host's user namespace,
	 * so the container cannot undo its mounts or hostname. A network of
	 * its own is created after, owned by its user namespace as with docker
	 * (CAP_NET_RAW then works there: ping). */
	if (c->userns >= 0) {
		if (sb_userns_enter(c->userns, &err) < 0)
			sb_child_fail(c->errp, &err);
		close(c->userns);
		if (proc->network != SB_NET_HOST && !c->lease &&
		    (unshare(CLONE_NEWNET) < 0 ? cn_err_sys(&err, "create the network namespace")
					       : sb_loopback_up(&err)) < 0)
			sb_child_fail(c->errp, &err);
	}
	sb_run_init(proc, &c->io, c->errp);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

/* The pty master the sandbox's pid 1 sends (SCM_RIGHTS); -1 if none came. */
int sb_recv_fd(int sock)
{
	char byte;
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	int fd;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

/* SB_NET_DEFAULT: the resolv.conf, and an address leased until the
 * sandbox ends (net_lease_acquire sets the default bridge up again if
 * someone removed it). */
static int start_network(const struct sb_process *proc, struct net_lease *lease, char *resolv,
			 size_t len, cn_err *err)
{
	struct net_conf def;
	const struct net_conf *c = proc->net;
	if (!c) {
		if (net_conf_default(&def, err) < 0)
			return -1;
		c = &def;
	}
	if (net_resolv_conf(resolv, len, NULL, err) < 0)
		return -1;
	return net_lease_acquire(c, lease, err);
}

int sb_run(const struct sb_rootfs *rootfs, const struct sb_process *proc, struct sb_exit *ex,
	   cn_err *err)
{
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int out[2] = { -1, -1 }, errout[2] = { -1, -1 }, in[2] = { -1, -1 }, pty[2] = { -1, -1 };
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	struct stub_list stubs = { .n = 0 };
	struct wait_ctx w = { .pidfd = -1, .in_from = -1, .in_to = -1, .winch_fd = -1,
			      .size_fd = -1, .master = -1, .peer = -1, .stop_signal = proc->stop_signal,
			      .stop_timeout = proc->stop_timeout };
	struct relay relays[3];
	struct sb_cgroup cg = { .ndirs = 0 };
	struct child_fds cf;
	_cleanup_close_ int upper_fd = -1;
	_cleanup_close_ int userns_fd = -1;
	_cleanup_close_ int self_fd = -1;
	struct net_lease lease;
	char resolv[PATH_MAX];
	int ws = 0, r = -1, ev;
	char c;
	pid_t pid;

	memset(ex, 0, sizeof(*ex));
	memset(&cf, 0, sizeof(cf));
	lease.lock_fd = -1;
	/* A bridge's namespace exists at clone, for the parent to move the
	 * veth into; with a user namespace it is then owned by the host's. */
	if (proc->network == SB_NET_DEFAULT && proc->lease) {
		flags |= CLONE_NEWNET;
		if (net_resolv_conf(resolv, sizeof(resolv), NULL, err) < 0)
			return -1;
		cf.lease = proc->lease;
		cf.resolv = resolv;
	} else if (proc->network == SB_NET_DEFAULT) {
		flags |= CLONE_NEWNET;
		if (start_network(proc, &lease, resolv, sizeof(resolv), err) < 0)
			return -1;
		cf.lease = &lease;
		cf.resolv = resolv;
	} else if (proc->network != SB_NET_HOST && !proc->idmap) {
		flags |= CLONE_NEWNET;  /* with a user namespace: created in it */
	}
	upper_fd = open(rootfs->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upper_fd < 0) {
		cn_err_sys(err, "open '%s'", rootfs->upper);
		goto out;
	}
	if (proc->idmap) {
		/* The container's root owns its upper dir: it may write to /. */
		if (fchown(upper_fd, (uid_t)proc->idmap->uid_start, (gid_t)proc->idmap->gid_start) < 0) {
			cn_err_sys(err, "chown '%s'", rootfs->upper);
			goto out;
		}
		if (chown(rootfs->work, (uid_t)proc->idmap->uid_start, (gid_t)proc->idmap->gid_start) < 0) {
			cn_err_sys(err, "chown '%s'", rootfs->work);
			goto out;
		}
		userns_fd = sb_userns_open(proc->idmap, err);
		if (userns_fd < 0)
			goto out;
	}
	/* Generated once per cairn process, not once per sandbox (a build's
	 * steps all have the same), and inherited by the clone below. */
	if (!proc->security || !proc->security->unconfined)
		sb_seccomp_prepare(sb_process_caps(proc));
	cf.userns = userns_fd;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errout, O_CLOEXEC) < 0 ||
	    (proc->interactive && !proc->tty && pipe2(in, O_CLOEXEC) < 0) ||
	    (proc->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pty) < 0)) {
		cn_err_sys(err, "pipe");
		goto out;
	}
	cf.io.stdin_fd = in[0];
	cf.io.pty_sock = pty[1];
	cf.io.parent_fd = -1;
	if (proc->as_pid1) {
		self_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (self_fd < 0) {
			cn_err_sys(err, "pidfd_open");
			goto out;
		}
		cf.io.parent_fd = self_fd;
	}
	w.before_exec = proc->stop_signal != SB_STOP_KILL;
	if (proc->tty) {
		/* The terminal the size follows: the user's stdin, else stdout. */
		w.size_fd = proc->interactive && isatty(proc->in_fd) ? proc->in_fd : proc->out_fd;
		cf.io.have_ws = ioctl(w.size_fd, TIOCGWINSZ, &cf.io.ws) == 0;
	}
	if ((sb_limits_any(proc->limits) && sb_cgroup_create(proc->limits, proc->cgroup_id, &cg, err) < 0) ||
	    (proc->systemd && sb_cgroup_add_init(&cg, proc->cgroup_id, err) < 0))
		goto out;
	sb_block_signals(&w, proc->tty);
	if (cn_interrupted() && proc->stop_signal == SB_STOP_KILL) {
		sigprocmask(SIG_SETMASK, &w.old_mask, NULL);
		cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
		goto out;
	}
	pid = sb_clone_ns(&w, flags, err);
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
		if (in[1] >= 0)
			close(in[1]);
		if (pty[0] >= 0)
			close(pty[0]);
		cf.out = out[1];
		cf.err = errout[1];
		cf.ready = ready[1];
		cf.go = go[0];
		cf.errp = errp[1];
		sandbox_child(rootfs, proc, &cf);
	}
	close(ready[1]);
	close(go[0]);
	close(errp[1]);
	close(out[1]);
	close(errout[1]);
	ready[1] = go[0] = errp[1] = out[1] = errout[1] = -1;
	if (in[0] >= 0) {
		close(in[0]);
		in[0] = -1;
	}
	if (pty[1] >= 0) {
		close(pty[1]);
		pty[1] = -1;
	}
	relays[0] = (struct relay){ .from = out[0], .to = proc->out_fd };
	relays[1] = (struct relay){ .from = errout[0], .to = proc->err_fd };
	relays[2] = (struct relay){ .from = -1, .to = proc->out_fd };
	out[0] = errout[0] = -1;

	ev = sb_wait_events(&w, ready[0], relays, 2);
	if (ev == 1 && read(ready[0], &c, 1) == 1) {
		record_stubs(upper_fd, "", &stubs);
		if ((cg.ndirs && sb_cgroup_enter(&cg, pid, err) < 0) ||
		    (cf.lease && net_lease_attach(proc->lease ? proc->lease : &lease, pid, err) < 0)) {
			kill(pid, SIGKILL);
			sb_finish_child(&w, &ws);
			goto cleanup_stubs;
		}
		if (write(go[1], "g", 1) != 1)
			kill(pid, SIGKILL);
	}
	close_pair(go);
	if (ev == 1 && proc->tty && (ev = sb_wait_events(&w, pty[0], relays, 2)) == 1) {
		w.master = sb_recv_fd(pty[0]);
		/* systemd opens and closes /dev/console (and hangs it up) as it
		 * goes: with no slave open, the master would read EIO, which ends
		 * the relay for good. A slave of our own keeps it open. */
		if (w.master >= 0 && proc->systemd)
			w.peer = ioctl(w.master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (w.master >= 0) {
			relays[2].from = fcntl(w.master, F_DUPFD_CLOEXEC, 3);
			fcntl(w.master, F_SETFL, fcntl(w.master, F_GETFL) | O_NONBLOCK);
		}
	}
	/* errp reaches EOF when the process exec'd: every copy is close-on-exec
	 * and the reaper closes its own; data instead is the error of a failed
	 * setup. */
	if (ev == 1 && (proc->on_start || w.before_exec) &&
	    (ev = sb_wait_events(&w, errp[0], relays, 3)) == 1) {
		int pending = 0;
		if (ioctl(errp[0], FIONREAD, &pending) == 0 && pending == 0) {
			w.before_exec = false;
			if (proc->on_start)
				proc->on_start(proc->on_start_ctx, pid, cg.ndirs ? &cg : NULL);
		}
	}
	ev = sb_relay_to_end(&w, proc, &in[1], relays, 3, ev);
	if (sb_finish_child(&w, &ws) < 0 || ev < 0) {
		cn_err_sys(err, "wait for the sandbox");
		goto cleanup_stubs;
	}
	if (w.interrupted) {
		cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
		goto cleanup_stubs;
	}
	if (sb_read_child_error(errp[0], err) < 0)
		goto cleanup_stubs;
	ex->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (cg.ndirs && sb_cgroup_oom_killed(&cg)) {
		ex->oom_killed = true;
		ex->status = 137;
	}
	r = 0;
cleanup_stubs:
	remove_stubs(upper_fd, &stubs);
out:
	sb_cgroup_destroy(&cg);
	net_lease_release(&lease);
	close_pair(ready);
	close_pair(go);
	close_pair(errp);
	close_pair(out);
	close_pair(errout);
	close_pair(in);
	close_pair(pty);
	return r;
}

int sb_with_rootfs(const struct sb_rootfs *rootfs, const struct sb_rootfs *extra, sb_rootfs_fn fn,
		   void *arg, cn_err *err)
{
	struct wait_ctx w = { .pidfd = -1, .in_from = -1, .in_to = -1, .winch_fd = -1,
			      .size_fd = -1, .master = -1, .peer = -1 };
	int errp[2];
	int ws = 0, r;
	pid_t pid;

	if (pipe2(errp, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	sb_block_signals(&w, false);
	pid = sb_clone_ns(&w, CLONE_NEWNS, err);
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &w.old_mask, NULL);
		close_pair(errp);
		return -1;
	}
	if (pid == 0) {
		cn_err cerr = { 0 };
		int root_fd = -1, extra_fd = -1;
		close(errp[0]);
		if (mount_root(rootfs, -1, &root_fd, &cerr) < 0)
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
	r = sb_wait_events(&w, -1, NULL, 0);
	if (sb_finish_child(&w, &ws) < 0 || r < 0) {
		r = cn_err_sys(err, "wait");
	} else if (w.interrupted) {
		r = cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	} else if (sb_read_child_error(errp[0], err) < 0) {
		r = -1;
	} else if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		char what[64];
		describe_status(ws, what, sizeof(what));
		r = cn_err_fail(err, CN_ERR_INVALID, "helper process failed (%s)", what);
	}
	close_pair(errp);
	return r;
}
