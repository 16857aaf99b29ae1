/* The sandbox: a process tree in fresh mount, pid, uts and ipc namespaces
 * (and a network namespace on request) whose root is an overlayfs stack.
 * Used for RUN steps, and for any work that must see an image's merged
 * root file system (COPY), so nothing is ever mounted in the host's mount
 * namespace: when the sandbox's processes end, its mounts end with them. */
#ifndef SB_SANDBOX_H
#define SB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* An overlay root: lower dirs topmost first (may be empty), an upper and a
 * work dir on the same file system (upper NULL: a read-only view), an
 * empty dir to mount on, and another empty dir used as a filler layer. */
struct sb_rootfs {
	const char *const *lowers;
	size_t nlowers;
	const char *upper;
	const char *work;
	const char *merged;
	const char *empty;      /* an empty dir used as the lower when nlowers == 0 */
};

enum sb_network {
	SB_NET_HOST,            /* share the host's network namespace */
	SB_NET_NONE,            /* a fresh namespace with only loopback */
};

/* Extra mounts for a process (RUN --mount). Targets are created in the
 * root when missing (and removed again unless the process used them): a
 * file for a bind whose source is not a directory, else a directory. */
enum sb_mount_kind {
	SB_MOUNT_TMPFS,         /* an empty tmpfs of SIZE bytes (0: 64 MiB) */
	SB_MOUNT_BIND,          /* the host directory SOURCE, read-write */
	SB_MOUNT_BIND_FILE_RO,  /* the host file SOURCE, read-only (secrets) */
	SB_MOUNT_BIND_RO,       /* the host directory or file SOURCE, read-only (RUN --mount=type=bind) */
};

struct sb_mount {
	enum sb_mount_kind kind;
	const char *source;
	const char *target;     /* absolute, inside the root */
	unsigned long long size;
};

struct sb_process {
	char *const *argv;
	char *const *env;       /* KEY=VALUE; PATH here is used to find argv[0] */
	const char *cwd;        /* created when missing */
	const char *user;       /* "user[:group]", resolved in the image; NULL = root */
	const char *hostname;
	const char *hosts_file; /* host file bound read-only as /etc/hosts; NULL: the host's */
	enum sb_network network;
	int out_fd, err_fd;     /* where the process's stdout and stderr are copied */
	const struct sb_mount *mounts;
	size_t nmounts;
};

/* Docker's default capability set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
 * KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
 * MKNOD, AUDIT_WRITE, SETFCAP). */
#define SB_DEFAULT_CAPS 0x00000000a80425fbULL

/* Run PROC on ROOTFS and wait for it. stdin is /dev/null; stdout and
 * stderr are pipes copied to out_fd and err_fd (never the user's terminal
 * itself, which a build step must not read or reconfigure). Mount-point stubs the sandbox creates (/proc, /dev,
 * /sys, /etc/resolv.conf, /etc/hosts and their parents) are removed from
 * the upper dir afterwards unless the process changed them. When the main
 * process exits, everything it left behind is killed. On Ctrl-C (see
 * util/interrupt.h) the whole tree is killed and -1 returned with EINTR.
 * *status is the exit code, or 128+N when killed by signal N. */
int sb_run(const struct sb_rootfs *rootfs, const struct sb_process *proc, int *status,
	   cn_err *err);

/* Call FN in a child process in its own mount namespace, with ROOTFS
 * mounted and open at root_fd, and EXTRA (if not NULL; typically read-only,
 * e.g. the stage COPY --from reads) open at extra_fd (else -1). FN's error
 * comes back to the caller. */
typedef int (*sb_rootfs_fn)(int root_fd, int extra_fd, void *arg, cn_err *err);
int sb_with_rootfs(const struct sb_rootfs *rootfs, const struct sb_rootfs *extra, sb_rootfs_fn fn,
		   void *arg, cn_err *err);

#endif
