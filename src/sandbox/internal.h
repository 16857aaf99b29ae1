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
/* Report ERR to the parent through ERRFD and exit. */
void sb_child_fail(int errfd, const cn_err *err) __attribute__((noreturn));

#endif
