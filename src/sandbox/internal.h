/* Internal to the sandbox module: the steps a sandbox child takes. */
#ifndef SB_INTERNAL_H
#define SB_INTERNAL_H

#include "sandbox/sandbox.h"

#include <sys/ioctl.h>

/* openat2 inside ROOT_FD (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra). */
int sb_open_in_root(int root_fd, const char *path, int flags, unsigned long long resolve);

/* cgroup.c: write VALUE to DIR/FILE (OPTIONAL: a missing file is fine),
 * and read a small file (NULL when it cannot be read). */
int sb_cgroup_write(const char *dir, const char *file, const char *value, bool optional,
		    cn_err *err);
char *sb_cgroup_read(const char *path);

/* mounts.c */
int sb_create_stubs(int root_fd, cn_err *err);
/* /proc with masked and read-only paths, /dev, /sys, resolv.conf, hosts. */
int sb_mount_system(int root_fd, const struct sb_process *proc, cn_err *err);
int sb_loopback_up(cn_err *err);
/* RUN --mount targets: created as stubs before the parent records them... */
int sb_create_mount_targets(int root_fd, const struct sb_mount *m, size_t n, cn_err *err);
/* ...and mounted on after /proc and /dev. */
int sb_mount_extra(int root_fd, const struct sb_mount *m, size_t n, cn_err *err);
int sb_enter_root(int root_fd, cn_err *err);

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
/* Report ERR to the parent through ERRFD and exit. */
void sb_child_fail(int errfd, const cn_err *err) __attribute__((noreturn));

#endif
