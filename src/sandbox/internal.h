/* Internal to the sandbox module: the steps a sandbox child takes. */
#ifndef SB_INTERNAL_H
#define SB_INTERNAL_H

#include "sandbox/sandbox.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>

/* sandbox.c: the parent's side of a child, shared by sb_run and sb_exec. */
/* The signals Ctrl-C handling cares about are blocked in the parent while
 * it waits, and let through only inside ppoll(): none can slip in between
 * a check of the flag and the wait. Children start with the old mask. */
struct wait_ctx {
	sigset_t old_mask;
	pid_t pid;
	int pidfd;
	bool interrupted;       /* SB_STOP_KILL: killed on Ctrl-C */
	int stop_signal;        /* see struct sb_process */
	unsigned stop_timeout;
	int handled;            /* interrupts acted on */
	bool before_exec;       /* a stop signal waits until the process exec'd */
	bool stopping;
	struct timespec deadline;
	/* cairn run and exec: stdin into the container, a pty, window size changes */
	int in_from, in_to;     /* user's stdin -> pipe or pty master; -1 when done */
	bool in_close_at_eof;   /* a pipe: the process sees EOF too */
	char *in_buf;
	size_t in_len, in_off;
	int winch_fd, size_fd, master;
	int peer;               /* --systemd: the console's slave, held open until the
	                         * process exits (see sb_run); else -1 */
};

struct relay {
	int from;       /* read end, -1 when closed */
	int to;
};

/* A child's setup error sent through FD (sb_child_fail): -1 with ERR set,
 * 0 when none came (EOF: it exec'd). */
int sb_read_child_error(int fd, cn_err *err);
/* Block the signals Ctrl-C handling uses (and SIGWINCH with WINCH). */
void sb_block_signals(struct wait_ctx *w, bool winch);
/* fork() with new namespaces FLAGS (0: none); W gets the child's pid and
 * pidfd. The child starts with the old signal mask and umask 022. */
pid_t sb_clone_ns(struct wait_ctx *w, unsigned long flags, cn_err *err);
/* Relay and wait until FD (if >= 0) is readable (1), or every relay is at
 * EOF and the child has exited (0); -1 on error. */
int sb_wait_events(struct wait_ctx *w, int fd, struct relay *relays, size_t nrelays);
/* The rest of the child's life: the user's stdin into *IN_PIPE (taken) or
 * the pty master, window size changes, the relays; closes them all. EV < 0:
 * do not wait, return it. */
int sb_relay_to_end(struct wait_ctx *w, const struct sb_process *proc, int *in_pipe,
		    struct relay *relays, size_t nrelays, int ev);
/* Reap the child and restore the signal mask. */
int sb_finish_child(struct wait_ctx *w, int *wstatus);
/* The fd sent over SOCK (SCM_RIGHTS): the pty master; -1 if none came. */
int sb_recv_fd(int sock);

/* openat2 inside ROOT_FD (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra). */
int sb_open_in_root(int root_fd, const char *path, int flags, unsigned long long resolve);

/* cgroup.c: write VALUE to DIR/FILE (OPTIONAL: a missing file is fine),
 * and read a small file (NULL when it cannot be read). */
int sb_cgroup_write(const char *dir, const char *file, const char *value, bool optional,
		    cn_err *err);
char *sb_cgroup_read(const char *path);

/* mounts.c */
struct sb_fs_opt {
	const char *key;
	const char *value;      /* NULL: a flag */
};
/* A new FSTYPE mount with OPTS and ATTRS (MOUNT_ATTR_*) on TARGET_FD, or on
 * PATH inside ROOT_FD (a directory, no symlinks). */
int sb_mount_fs_on(int target_fd, const char *fstype, const struct sb_fs_opt *opts, size_t nopts,
		   unsigned int attrs, cn_err *err);
int sb_mount_fs_at(int root_fd, const char *path, const char *fstype, const struct sb_fs_opt *opts,
		   size_t nopts, unsigned int attrs, cn_err *err);
/* Bind the tree open at SOURCE_FD (+ SOURCE_PATH) onto TARGET_FD with ATTRS set. */
int sb_bind_fd(int source_fd, const char *source_path, int target_fd, unsigned int attrs, cn_err *err);
int sb_create_stubs(int root_fd, cn_err *err);
/* /proc with masked and read-only paths, /dev, /sys, resolv.conf, hosts. */
int sb_mount_system(int root_fd, const struct sb_process *proc, cn_err *err);
int sb_loopback_up(cn_err *err);
/* RUN --mount targets: created as stubs before the parent records them... */
int sb_create_mount_targets(int root_fd, const struct sb_mount *m, size_t n, cn_err *err);
/* ...and mounted on after /proc and /dev. */
int sb_mount_extra(int root_fd, const struct sb_mount *m, size_t n, cn_err *err);
int sb_enter_root(int root_fd, cn_err *err);

/* systemd.c (sb_process.systemd): tmpfs on /run, /run/lock and /tmp, the
 * container's cgroups at /sys/fs/cgroup, /etc/machine-id; after
 * sb_mount_system, in the cgroup namespace. */
int sb_systemd_mounts(int root_fd, const struct sb_process *proc, cn_err *err);
/* In the new root: the pty SLAVE (a path) bound on /dev/console. */
int sb_systemd_console(const char *slave, cn_err *err);

/* process.c: as pid 1 of the namespace, exec PROC (as_pid1) or become its
 * reaper and run it as a child. */
struct sb_init_io {
	int stdin_fd;           /* the process's stdin (a pipe), -1: /dev/null */
	int pty_sock;           /* tty: the pty master is sent here, else -1 */
	struct winsize ws;      /* tty: its first size, if have_ws */
	bool have_ws;
	int parent_fd;          /* as_pid1: a pidfd on the sandbox's parent, else -1 */
};
void sb_run_init(const struct sb_process *proc, const struct sb_init_io *io, int errfd)
	__attribute__((noreturn));
/* The capabilities PROC keeps: its security's (within cairn's own bounding
 * set), else docker's defaults. */
uint64_t sb_process_caps(const struct sb_process *p);
/* tty: a pty from the devpts /dev/ptmx is on; the master is sent over
 * IO's pty_sock, the slave's name returned in SLAVE. */
int sb_make_pty(const struct sb_init_io *io, char *slave, size_t len, cn_err *err);
/* Every signal at its default action and none blocked, as docker's
 * processes start (cairn ignores SIGPIPE, a caller may block any). */
void sb_default_signals(void);
/* /dev/null of the sandbox's root ("/" now), opened inside it. */
int sb_open_dev_null(void);
/* The pty SLAVE as the controlling terminal and stdin, stdout, stderr. */
int sb_attach_tty(const char *slave, cn_err *err);
/* In the process that becomes PROC's command, its stdio in place and "/"
 * the sandbox's root: the user from the root's passwd, env, working dir,
 * rlimits, bounding set, ids, capabilities, no_new_privs and FILTER (a
 * seccomp filter; NULL: none), in that order, then exec. SLAVE: the tty's
 * name, chowned to the user. PARENT_FD (-1: none): a pidfd on the parent,
 * whose death kills the process (the parent-death signal, set again after
 * the change of user cleared it). Errors go to ERRFD. */
void sb_become_process(const struct sb_process *p, const char *slave, void *filter, int parent_fd,
		       int errfd) __attribute__((noreturn));
/* Report ERR to the parent through ERRFD and exit. */
void sb_child_fail(int errfd, const cn_err *err) __attribute__((noreturn));

#endif
