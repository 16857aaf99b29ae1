#include "sandbox/sandbox.h"
#include "sandbox/overlay.h"
#include "sandbox/userdb.h"
#include "util/cleanup.h"
#include "util/interrupt.h"
#include "util/mem.h"
#include "util/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SHM_SIZE "67108864"     /* 64 MiB, as docker */
#define MAX_STUBS 32

/* ------------------------------------------------------------------ */
/* Errors from child processes travel back through a pipe as cn_err. */

static void __attribute__((noreturn)) child_fail(int errfd, const cn_err *err)
{
	ssize_t n = write(errfd, err, sizeof(*err));
	(void)n;
	_exit(125);
}

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

static pid_t clone_ns(unsigned long flags)
{
	/* Raw clone with no new stack behaves like fork() but can create the
	 * pid namespace for the child itself (unshare would need another fork). */
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* Wait for PID; on Ctrl-C kill it (and with it its namespaces). */
static int wait_child(pid_t pid, int *wstatus, bool *interrupted)
{
	for (;;) {
		pid_t r = waitpid(pid, wstatus, 0);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (cn_interrupted() && !*interrupted) {
			*interrupted = true;
			kill(pid, SIGKILL);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Paths inside the root, resolved so that image symlinks stay inside. */

static int open_in_root(int root_fd, const char *path, int flags, unsigned long long resolve)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = resolve | RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

/* A mount point that must be a real directory (/proc, /dev, /sys): a
 * symlink there could point a mount at the host (runc CVE-2019-19921). */
static int ensure_mount_dir(int root_fd, const char *name, cn_err *err)
{
	int fd = open_in_root(root_fd, name, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == ENOENT) {
		if (mkdirat(root_fd, name, 0755) < 0)
			return cn_err_sys(err, "create mount point /%s", name);
		return 0;
	}
	if (errno == ELOOP || errno == ENOTDIR)
		return cn_err_set(err, errno, "/%s in the image is not a directory; refusing to mount on it",
				  name);
	return cn_err_sys(err, "open /%s", name);
}

/* /etc/resolv.conf and /etc/hosts: created empty when missing. */
static int ensure_file_stub(int root_fd, const char *path, cn_err *err)
{
	_cleanup_close_ int etc = -1;
	int fd = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ENOENT)
		return cn_err_sys(err, "open /%s", path);
	etc = open_in_root(root_fd, "etc", O_RDONLY | O_DIRECTORY, 0);
	if (etc < 0 && errno == ENOENT) {
		if (mkdirat(root_fd, "etc", 0755) < 0)
			return cn_err_sys(err, "create /etc");
		etc = open_in_root(root_fd, "etc", O_RDONLY | O_DIRECTORY, 0);
	}
	if (etc < 0)
		return cn_err_sys(err, "open /etc");
	fd = openat(etc, strchr(path, '/') + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return cn_err_sys(err, "create /%s", path);
	close(fd);
	return 0;
}

static int create_stubs(int root_fd, cn_err *err)
{
	static const char *const dirs[] = { "proc", "dev", "sys" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(dirs); i++)
		if (ensure_mount_dir(root_fd, dirs[i], err) < 0)
			return -1;
	if (ensure_file_stub(root_fd, "etc/resolv.conf", err) < 0 ||
	    ensure_file_stub(root_fd, "etc/hosts", err) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Mounts inside the sandbox (new mount API, onto fds: no path races). */

struct fs_opt {
	const char *key;
	const char *value;      /* NULL: a flag */
};

static int mount_fs_on(int target_fd, const char *fstype, const struct fs_opt *opts,
		       size_t nopts, unsigned int attrs, cn_err *err)
{
	_cleanup_close_ int fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
	_cleanup_close_ int mfd = -1;
	if (fsfd < 0)
		return cn_err_sys(err, "mount %s", fstype);
	for (size_t i = 0; i < nopts; i++) {
		int r = opts[i].value
			? fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i].key, opts[i].value, 0)
			: fsconfig(fsfd, FSCONFIG_SET_FLAG, opts[i].key, NULL, 0);
		if (r < 0)
			return cn_err_sys(err, "mount %s: option %s", fstype, opts[i].key);
	}
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return cn_err_sys(err, "mount %s", fstype);
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0 || move_mount(mfd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cn_err_sys(err, "mount %s", fstype);
	return 0;
}

static int mount_fs_at(int root_fd, const char *path, const char *fstype, const struct fs_opt *opts,
		       size_t nopts, unsigned int attrs, cn_err *err)
{
	_cleanup_close_ int fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return cn_err_sys(err, "open mount point /%s", path);
	if (mount_fs_on(fd, fstype, opts, nopts, attrs, err) < 0)
		return cn_err_wrap(err, "/%s", path);
	return 0;
}

/* Read-only bind of a host file (resolv.conf, hosts) over the image's. An
 * image whose file is a symlink keeps its own file. */
static int bind_host_file_ro(int root_fd, const char *path, cn_err *err)
{
	_cleanup_close_ int target = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0);
	_cleanup_close_ int tree = -1;
	_cleanup_free_ char *host = cn_xasprintf("/%s", path);
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
	};
	struct stat st;
	if (target < 0)
		return cn_err_sys(err, "open /%s", path);
	if (fstat(target, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	tree = open_tree(AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return errno == ENOENT ? 0 : cn_err_sys(err, "bind %s", host);
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ||
	    move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cn_err_sys(err, "bind %s", host);
	return 0;
}

static int populate_dev(int root_fd, cn_err *err)
{
	static const struct { const char *name; unsigned int major, minor; } nodes[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
	};
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" }, { "core", "/proc/kcore" },
	};
	static const struct fs_opt pts_opts[] = {
		{ "newinstance", NULL }, { "ptmxmode", "0666" }, { "mode", "0620" }, { "gid", "5" },
	};
	static const struct fs_opt shm_opts[] = { { "mode", "1777" }, { "size", SHM_SIZE } };
	static const struct fs_opt dev_opts[] = { { "mode", "755" }, { "size", "65536k" } };
	_cleanup_close_ int dev = -1;

	if (mount_fs_at(root_fd, "dev", "tmpfs", dev_opts, CN_ARRAY_SIZE(dev_opts),
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err) < 0)
		return -1;
	dev = open_in_root(root_fd, "dev", O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (dev < 0)
		return cn_err_sys(err, "open /dev");
	for (size_t i = 0; i < CN_ARRAY_SIZE(nodes); i++) {
		if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0 ||
		    fchmodat(dev, nodes[i].name, 0666, 0) < 0)
			return cn_err_sys(err, "create /dev/%s", nodes[i].name);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][1], dev, links[i][0]) < 0)
			return cn_err_sys(err, "create /dev/%s", links[i][0]);
	if (mkdirat(dev, "pts", 0755) < 0 || mkdirat(dev, "shm", 01777) < 0)
		return cn_err_sys(err, "populate /dev");
	if (mount_fs_at(root_fd, "dev/pts", "devpts", pts_opts, CN_ARRAY_SIZE(pts_opts),
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err) < 0 ||
	    mount_fs_at(root_fd, "dev/shm", "tmpfs", shm_opts, CN_ARRAY_SIZE(shm_opts),
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err) < 0)
		return -1;
	return 0;
}

static int loopback_up(cn_err *err)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	if (s < 0)
		return cn_err_sys(err, "socket");
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return cn_err_sys(err, "loopback");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return cn_err_sys(err, "bring up loopback");
	return 0;
}

static int mount_system(int root_fd, cn_err *err)
{
	cn_err ignored;
	if (mount_fs_at(root_fd, "proc", "proc", NULL, 0,
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err) < 0 ||
	    populate_dev(root_fd, err) < 0)
		return -1;
	/* sysfs is a convenience; a kernel that refuses it does not stop a build. */
	mount_fs_at(root_fd, "sys", "sysfs", NULL, 0,
		    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &ignored);
	if (bind_host_file_ro(root_fd, "etc/resolv.conf", err) < 0 ||
	    bind_host_file_ro(root_fd, "etc/hosts", err) < 0)
		return -1;
	return 0;
}

static int enter_root(int root_fd, cn_err *err)
{
	if (fchdir(root_fd) < 0)
		return cn_err_sys(err, "chdir to root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return cn_err_sys(err, "pivot_root");
	/* The old root is stacked on "/": detach it (already private). */
	if (umount2(".", MNT_DETACH) < 0)
		return cn_err_sys(err, "detach old root");
	if (chdir("/") < 0)
		return cn_err_sys(err, "chdir /");
	return 0;
}

/* ------------------------------------------------------------------ */
/* The process: credentials, capabilities, exec. */

/* Before the uid changes: needs CAP_SETPCAP. */
static int drop_bounding_set(cn_err *err)
{
	for (int cap = 0; cap < 64; cap++) {
		if (SB_DEFAULT_CAPS & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return cn_err_sys(err, "drop capability %d", cap);
	}
	return 0;
}

/* After the uid changed: root keeps the default set, others have none
 * (setresuid to non-zero ids cleared them); nothing inheritable or ambient. */
static int set_capabilities(uid_t uid, cn_err *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	if (uid == 0) {
		data[0].effective = data[0].permitted = (uint32_t)SB_DEFAULT_CAPS;
		data[1].effective = data[1].permitted = (uint32_t)(SB_DEFAULT_CAPS >> 32);
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return cn_err_sys(err, "set capabilities");
	return 0;
}

static int become_user(const struct sb_user *u, cn_err *err)
{
	if (setgroups(u->ngroups, u->groups) < 0)
		return cn_err_sys(err, "setgroups");
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return cn_err_sys(err, "setgid %u", (unsigned)u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return cn_err_sys(err, "setuid %u", (unsigned)u->uid);
	return 0;
}

static int make_cwd(const char *cwd, cn_err *err)
{
	_cleanup_free_ char *p = cn_xstrdup(cwd && *cwd ? cwd : "/");
	char *buf;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return cn_err_sys(err, "create working directory %s", p);
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create working directory %s", p);
	if (chdir(p) < 0)
		return cn_err_sys(err, "chdir to %s", p);
	/* A cwd outside the root reads "(unreachable)": refuse (CVE-2024-21626). */
	buf = getcwd(NULL, 0);
	if (!buf || buf[0] != '/') {
		free(buf);
		return cn_err_set(err, EPERM, "working directory %s is outside the container", p);
	}
	free(buf);
	return 0;
}

static int exec_in_path(char *const *argv, char *const *env, cn_err *err)
{
	const char *path = DEFAULT_PATH;
	int saved = ENOENT;
	if (!argv[0] || !argv[0][0])
		return cn_err_set(err, EINVAL, "empty command");
	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		return cn_err_sys(err, "exec %s", argv[0]);
	}
	for (char *const *e = env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	for (const char *p = path; ; ) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		_cleanup_free_ char *full = cn_xasprintf("%.*s/%s", (int)len, len ? p : ".", argv[0]);
		execve(full, argv, env);
		if (errno == EACCES)
			saved = EACCES;
		else if (errno != ENOENT && errno != ENOTDIR)
			return cn_err_sys(err, "exec %s", full);
		if (!colon)
			break;
		p = colon + 1;
	}
	return cn_err_set(err, saved, "exec %s: not found in PATH %s", argv[0], path);
}

static void __attribute__((noreturn)) run_worker(const struct sb_process *p, int errfd)
{
	cn_err err = { 0 };
	struct sb_user user = { .uid = 0, .gid = 0, .ngroups = 0 };
	_cleanup_strv_ cn_strv env = { 0 };
	int null_fd, root_fd;

	setsid();
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0) {
		cn_err_sys(&err, "open /dev/null");
		child_fail(errfd, &err);
	}
	snprintf(user.home, sizeof(user.home), "/root");
	root_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->user && *p->user && sb_user_resolve(root_fd, p->user, &user, &err) < 0)
		child_fail(errfd, &err);
	for (char *const *e = p->env; e && *e; e++)
		cn_strv_pushdup(&env, *e);
	if (!cn_env_get(&env, "HOME"))
		cn_env_set(&env, "HOME", user.home);
	if (!cn_env_get(&env, "PATH"))
		cn_env_set(&env, "PATH", DEFAULT_PATH);
	if (make_cwd(p->cwd, &err) < 0 || drop_bounding_set(&err) < 0 ||
	    become_user(&user, &err) < 0 || set_capabilities(user.uid, &err) < 0)
		child_fail(errfd, &err);
	/* No host fd may reach the process (CVE-2024-21626). */
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	exec_in_path(p->argv, cn_strv_array(&env), &err);
	child_fail(errfd, &err);
}

/* pid 1 of the sandbox: forwards signals to the main process, reaps
 * everything, and exits with the main process's status, which makes the
 * kernel kill whatever is left in the namespace. */
static volatile pid_t forward_to;

static void forward_signal(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

static void __attribute__((noreturn)) run_init(const struct sb_process *p, int errfd)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa;
	pid_t worker;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	for (size_t i = 0; i < CN_ARRAY_SIZE(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	worker = fork();
	if (worker < 0) {
		cn_err err;
		cn_err_sys(&err, "fork");
		child_fail(errfd, &err);
	}
	if (worker == 0) {
		sa.sa_handler = SIG_DFL;
		for (size_t i = 0; i < CN_ARRAY_SIZE(forwarded); i++)
			sigaction(forwarded[i], &sa, NULL);
		run_worker(p, errfd);
	}
	forward_to = worker;
	close(errfd);
	for (;;) {
		int ws;
		pid_t r = waitpid(-1, &ws, 0);
		if (r < 0 && errno != EINTR)
			_exit(125);
		if (r == worker)
			_exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
	}
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

static void __attribute__((noreturn)) sandbox_child(const struct sb_rootfs *rootfs,
						    const struct sb_process *proc,
						    int ready_fd, int go_fd, int errfd)
{
	cn_err err = { 0 };
	_cleanup_close_ int root_fd = -1;
	char go;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		cn_err_sys(&err, "make mounts private");
		child_fail(errfd, &err);
	}
	if (sb_overlay_mount(rootfs, &err) < 0)
		child_fail(errfd, &err);
	root_fd = open(rootfs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		cn_err_sys(&err, "open '%s'", rootfs->merged);
		child_fail(errfd, &err);
	}
	if (create_stubs(root_fd, &err) < 0)
		child_fail(errfd, &err);
	/* The parent records the stubs, then lets us go (EOF: it died). */
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &go, 1) != 1)
		_exit(125);
	close(ready_fd);
	close(go_fd);
	if (mount_system(root_fd, &err) < 0 || enter_root(root_fd, &err) < 0)
		child_fail(errfd, &err);
	if (proc->hostname && sethostname(proc->hostname, strlen(proc->hostname)) < 0) {
		cn_err_sys(&err, "sethostname");
		child_fail(errfd, &err);
	}
	if (proc->network == SB_NET_NONE && loopback_up(&err) < 0)
		child_fail(errfd, &err);
	run_init(proc, errfd);
}

int sb_run(const struct sb_rootfs *rootfs, const struct sb_process *proc, int *status, cn_err *err)
{
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, errp[2] = { -1, -1 };
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	struct stub_list stubs = { .n = 0 };
	_cleanup_close_ int upper_fd = -1;
	bool interrupted = false;
	int ws = 0, r = -1;
	char c;
	pid_t pid;

	if (proc->network == SB_NET_NONE)
		flags |= CLONE_NEWNET;
	upper_fd = open(rootfs->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upper_fd < 0)
		return cn_err_sys(err, "open '%s'", rootfs->upper);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		cn_err_sys(err, "pipe");
		goto out;
	}
	if (cn_interrupted()) {
		cn_err_set(err, EINTR, "interrupted");
		goto out;
	}
	pid = clone_ns(flags);
	if (pid < 0) {
		cn_err_sys(err, "create namespaces");
		goto out;
	}
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		close(errp[0]);
		sandbox_child(rootfs, proc, ready[1], go[0], errp[1]);
	}
	close(ready[1]);
	close(go[0]);
	close(errp[1]);
	ready[1] = go[0] = errp[1] = -1;

	if (read(ready[0], &c, 1) == 1) {
		record_stubs(upper_fd, "", &stubs);
		if (write(go[1], "g", 1) != 1)
			kill(pid, SIGKILL);
	}
	close(go[1]);
	go[1] = -1;
	if (wait_child(pid, &ws, &interrupted) < 0) {
		cn_err_sys(err, "wait for sandbox");
		goto out;
	}
	if (interrupted) {
		cn_err_set(err, EINTR, "interrupted");
		goto cleanup_stubs;
	}
	if (read_child_error(errp[0], err) < 0)
		goto cleanup_stubs;
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	r = 0;
cleanup_stubs:
	remove_stubs(upper_fd, &stubs);
out:
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (go[i] >= 0)
			close(go[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return r;
}

int sb_with_rootfs(const struct sb_rootfs *rootfs, sb_rootfs_fn fn, void *arg, cn_err *err)
{
	int errp[2];
	bool interrupted = false;
	int ws = 0, r;
	pid_t pid;

	if (pipe2(errp, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	pid = clone_ns(CLONE_NEWNS);
	if (pid < 0) {
		close(errp[0]);
		close(errp[1]);
		return cn_err_sys(err, "create mount namespace");
	}
	if (pid == 0) {
		cn_err cerr = { 0 };
		int root_fd;
		close(errp[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			cn_err_sys(&cerr, "make mounts private");
			child_fail(errp[1], &cerr);
		}
		if (sb_overlay_mount(rootfs, &cerr) < 0)
			child_fail(errp[1], &cerr);
		root_fd = open(rootfs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0) {
			cn_err_sys(&cerr, "open '%s'", rootfs->merged);
			child_fail(errp[1], &cerr);
		}
		if (fn(root_fd, arg, &cerr) < 0)
			child_fail(errp[1], &cerr);
		_exit(0);
	}
	close(errp[1]);
	r = wait_child(pid, &ws, &interrupted);
	if (r < 0)
		cn_err_sys(err, "wait");
	else if (interrupted)
		r = cn_err_set(err, EINTR, "interrupted");
	else if (read_child_error(errp[0], err) < 0)
		r = -1;
	else if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		r = cn_err_set(err, 0, "helper process failed (status %d)", ws);
	close(errp[0]);
	return r;
}
