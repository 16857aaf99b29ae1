/* The sandbox: a process tree in fresh mount, pid, uts and ipc namespaces
 * (and a network namespace on request) whose root is an overlayfs stack.
 * Used for RUN steps, and for any work that must see an image's merged
 * root file system (COPY), so nothing is ever mounted in the host's mount
 * namespace: when the sandbox's processes end, its mounts end with them. */
#ifndef SB_SANDBOX_H
#define SB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/net.h"
#include "sandbox/cgroup.h"
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
	bool scratch;           /* the upper dir is thrown away unless its maker
				 * syncs it (a step's commit): mounted volatile
				 * where the kernel can, so the unmount at the
				 * sandbox's end does not sync the whole file system */
};

enum sb_network {
	SB_NET_DEFAULT,         /* a namespace on a bridge with outbound NAT (net/net.h) */
	SB_NET_HOST,            /* share the host's network namespace */
	SB_NET_NONE,            /* a fresh namespace with only loopback */
	SB_NET_PRIVATE,         /* the same (cairn run --network private) */
};

/* Extra mounts for a process (RUN --mount). Targets are created in the
 * root when missing (and removed again unless the process used them). */
enum sb_mount_kind {
	SB_MOUNT_TMPFS,         /* an empty tmpfs of SIZE bytes (0: 64 MiB) */
	SB_MOUNT_BIND,          /* the host directory or file SOURCE (read-only with readonly) */
	SB_MOUNT_BIND_FILE_RO,  /* the host file SOURCE, read-only (secrets) */
};

struct sb_mount {
	enum sb_mount_kind kind;
	const char *source;
	const char *target;     /* absolute, inside the root */
	unsigned long long size;  /* tmpfs: SB_TMPFS_UNSIZED for the kernel's default */
	bool readonly;
	unsigned int mode;      /* tmpfs: 0 is 01777 */
	bool noexec;            /* tmpfs: noexec (cairn run --tmpfs, as docker) */
	bool copy_up;           /* bind of a named volume: when SOURCE is empty, what the
	                         * image has at TARGET is copied into it first (docker) */
};

#define SB_TMPFS_UNSIZED (~0ULL)

/* A process's privileges (cairn run --cap-add, --cap-drop, --privileged,
 * --security-opt); sb_process.security NULL means docker's defaults. */
struct sb_security {
	uint64_t caps;          /* the bounding set, root's effective and permitted set */
	bool privileged;        /* no masked or read-only paths, sysfs and /proc/sys
	                         * writable, the host's devices in /dev */
	bool unconfined;        /* no seccomp filter */
	bool new_privs;         /* no no_new_privs: setuid files raise privileges */
};

/* --ulimit: setrlimit(resource) in the process before exec. */
struct sb_rlimit {
	int resource;           /* RLIMIT_NOFILE, ... */
	unsigned long long soft, hard;  /* RLIM_INFINITY: unlimited */
	char name[16];          /* docker's name ("nofile"), for messages */
	bool base;              /* not --ulimit but what the sandbox's process inherited
	                         * (exec gives its process the container's): at most
	                         * what the process applying it may set */
};

/* What to do when cairn is asked to stop (Ctrl-C, SIGTERM, cairn stop). */
#define SB_STOP_KILL 0          /* kill at once and fail with EINTR (RUN steps) */
#define SB_STOP_FORWARD (-1)    /* pass the signal cairn got on, then as a signal number */
#define SB_STOP_KILL_GROUP (-2) /* SIGKILL the process's group (its session: sb_exec
                                 * setsid()s it) at once: what it started goes too */

struct sb_process {
	char *const *argv;
	char *const *env;       /* KEY=VALUE; PATH here is used to find argv[0] */
	const char *cwd;        /* created when missing, unless cwd_must_exist */
	bool cwd_must_exist;    /* exec: a missing cwd is an error, as in docker exec */
	const char *user;       /* "user[:group]", resolved in the image; NULL = root */
	const char *hostname;
	const char *hosts_file; /* host file bound read-only as /etc/hosts; NULL: the host's */
	enum sb_network network;
	const struct net_conf *net;     /* SB_NET_DEFAULT: this bridge (NULL: cairn0) */
	struct net_lease *lease;        /* SB_NET_DEFAULT: the caller's lease (acquired and
	                                 * released by it, on its prepared bridge); NULL:
	                                 * sb_run leases an address on net itself */
	int out_fd, err_fd;     /* where the process's stdout and stderr are copied */
	const struct sb_mount *mounts;
	size_t nmounts;
	/* cairn run */
	bool interactive;       /* in_fd is copied to the process's stdin (else /dev/null) */
	int in_fd;
	bool tty;               /* a pty from the sandbox's devpts as stdin/out/err, its
	                         * size following in_fd's (or out_fd's) terminal on SIGWINCH */
	bool read_only;         /* the root is mounted read-only */
	bool as_pid1;           /* the process itself is pid 1 of its pid namespace, as
	                         * in docker (cairn run): the set-up code execs it. Else
	                         * cairn's reaper is pid 1 and the process its child
	                         * (RUN steps, run --init): the reaper forwards signals,
	                         * reaps orphans and exits with the process's status. */
	int stop_signal;        /* SB_STOP_KILL, SB_STOP_FORWARD, SB_STOP_KILL_GROUP
	                         * (sb_exec only) or a signal: on the first
	                         * Ctrl-C, that signal (sent once the process exec'd);
	                         * SIGKILL after stop_timeout s or the second Ctrl-C; the
	                         * process's status is returned. As pid 1 the process
	                         * gets only the signals it has a handler for. */
	unsigned stop_timeout;
	const struct sb_limits *limits;  /* a cgroup with these limits (NULL: none) */
	const char *cgroup_id;  /* its name (unique; required with limits) */
	const struct sb_idmap *idmap;  /* a user namespace with this mapping (NULL: none) */
	const struct sb_security *security;  /* NULL: docker's defaults */
	const struct sb_rlimit *rlimits;     /* applied in order before exec */
	size_t nrlimits;
	unsigned long long shm_size;         /* /dev/shm's size in bytes; 0: 64 MiB */
	const char *resolv_file;             /* bound as /etc/resolv.conf (--dns); NULL:
	                                      * the network's */
	/* cairn run --systemd: an init system as pid 1 (with as_pid1 and tty).
	 * Its own writable cgroups (named by cgroup_id) at /sys/fs/cgroup,
	 * tmpfs on /run, /run/lock and /tmp unless mounts cover them, the pty
	 * as /dev/console, and MACHINE_ID (32 hex digits) in /etc/machine-id
	 * when the image's is empty or missing. */
	bool systemd;
	const char *machine_id;
	/* cairn run -d: called once the process has exec'd (not when setting it
	 * up failed), with the host pid of the sandbox's pid 1 (the process
	 * itself with as_pid1, else cairn's reaper, its parent) and its cgroup
	 * (NULL: none) */
	void (*on_start)(void *ctx, pid_t init_pid, const struct sb_cgroup *cg);
	void *on_start_ctx;
};

/* --userns=auto: container ids 0..count-1 are host ids start.. */
struct sb_idmap {
	unsigned long uid_start, uid_count;
	unsigned long gid_start, gid_count;
};

struct sb_exit {
	int status;             /* exit code, or 128+N when killed by signal N */
	bool oom_killed;        /* the kernel's OOM killer acted (status is then 137) */
};

/* Run PROC on ROOTFS and wait for it. stdin is /dev/null or a pipe from
 * in_fd; stdout and stderr are pipes copied to out_fd and err_fd (never the
 * user's terminal itself, which a container must not reach or reconfigure). Mount-point stubs the sandbox creates (/proc, /dev,
 * /sys, /etc/resolv.conf, /etc/hosts and their parents) are removed from
 * the upper dir afterwards unless the process changed them. When the main
 * process exits, everything it left behind is killed. On Ctrl-C (see
 * util/interrupt.h) the whole tree is killed and -1 returned with EINTR.
 * With limits, the process runs in a cgroup that is removed afterwards.
 * On SB_NET_DEFAULT the process gets a leased address on the bridge (set
 * up if missing) and the bridge's resolv.conf; the veth and the lease go
 * when it ends. */
int sb_run(const struct sb_rootfs *rootfs, const struct sb_process *proc, struct sb_exit *ex,
	   cn_err *err);

/* cairn exec: how to join a running sandbox's user namespace. */
enum sb_userns_join {
	SB_USERNS_SAME,         /* it is the caller's */
	SB_USERNS_FIRST,        /* rootless: it owns the sandbox's other namespaces */
	SB_USERNS_LAST,         /* --userns=auto: the host's owns the others */
};

struct sb_join {
	pid_t pid;              /* the sandbox's pid 1, as this process sees it */
	int pidfd;              /* a pidfd on it (setns joins through it) */
	enum sb_userns_join userns;
	bool reaper;            /* pid 1 is cairn's reaper (run --init), the process its
	                         * first child; else pid 1 is the process itself */
	const struct sb_cgroup *cgroup;  /* the sandbox's cgroup (NULL: none) */
	bool has_oom_score_adj;          /* the sandbox's process's, given to PROC's */
	int oom_score_adj;
};

/* Run PROC in the running sandbox J names, with what its own process has:
 * its namespaces (pid too: PROC's process is in it), cgroup, root and
 * devpts, and PROC's user, bounding set, capabilities, no_new_privs,
 * seccomp filter and rlimits (security NULL: docker's defaults, as sb_run).
 * Uses argv, env, cwd (cwd_must_exist), user, out_fd, err_fd, interactive, in_fd, tty,
 * stop_signal, stop_timeout, security, rlimits; stdio as sb_run's. The
 * caller stays in its own namespaces (a middle process joins them and
 * forks the process; the caller becomes a subreaper to adopt it). A setup
 * error (the command not found or not executable: CN_ERR_EXEC) returns -1,
 * as does a sandbox that ended meanwhile. */
int sb_exec(const struct sb_join *j, const struct sb_process *proc, struct sb_exit *ex, cn_err *err);

/* Call FN in a child process in its own mount namespace, with ROOTFS
 * mounted and open at root_fd, and EXTRA (if not NULL; typically read-only,
 * e.g. the stage COPY --from reads) open at extra_fd (else -1). FN's error
 * comes back to the caller. */
typedef int (*sb_rootfs_fn)(int root_fd, int extra_fd, void *arg, cn_err *err);
int sb_with_rootfs(const struct sb_rootfs *rootfs, const struct sb_rootfs *extra, sb_rootfs_fn fn,
		   void *arg, cn_err *err);

#endif
