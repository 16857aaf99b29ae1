/* What a sandbox child mounts: every target is resolved inside the root
 * and mounted onto through an fd (new mount API), so an image's symlinks
 * can neither redirect a mount to the host nor race it. */
#include "sandbox/defaults.h"
#include "sandbox/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SHM_SIZE (64ULL << 20)  /* as docker */

int sb_open_in_root(int root_fd, const char *path, int flags, unsigned long long resolve)
{
	return cn_openat2(root_fd, path, flags, resolve | RESOLVE_IN_ROOT);
}

/* ---- stubs ---- */

/* A mount point that must be a real directory (/proc, /dev, /sys): a
 * symlink there could point a mount at the host (runc CVE-2019-19921). */
static int ensure_mount_dir(int root_fd, const char *name, cn_err *err)
{
	int fd = sb_open_in_root(root_fd, name, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
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
		return cn_err_errno(err, errno, "/%s in the image is not a directory; refusing to mount on it",
				  name);
	return cn_err_sys(err, "open /%s", name);
}

/* /etc/resolv.conf and /etc/hosts: created empty when missing. */
static int ensure_file_stub(int root_fd, const char *path, cn_err *err)
{
	_cleanup_close_ int etc = -1;
	int fd = sb_open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ENOENT)
		return cn_err_sys(err, "open /%s", path);
	etc = sb_open_in_root(root_fd, "etc", O_RDONLY | O_DIRECTORY, 0);
	if (etc < 0 && errno == ENOENT) {
		if (mkdirat(root_fd, "etc", 0755) < 0)
			return cn_err_sys(err, "create /etc");
		etc = sb_open_in_root(root_fd, "etc", O_RDONLY | O_DIRECTORY, 0);
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

int sb_create_stubs(int root_fd, cn_err *err)
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

/* ---- mount helpers ---- */

int sb_mount_fs_on(int target_fd, const char *fstype, const struct sb_fs_opt *opts,
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

int sb_mount_fs_at(int root_fd, const char *path, const char *fstype, const struct sb_fs_opt *opts,
		   size_t nopts, unsigned int attrs, cn_err *err)
{
	_cleanup_close_ int fd = sb_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return cn_err_sys(err, "open mount point /%s", path);
	if (sb_mount_fs_on(fd, fstype, opts, nopts, attrs, err) < 0)
		return cn_err_wrap(err, "/%s", path);
	return 0;
}

int sb_bind_fd(int source_fd, const char *source_path, int target_fd, unsigned int attrs,
	       cn_err *err)
{
	_cleanup_close_ int tree = open_tree(source_fd, source_path,
					     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	struct mount_attr attr = { .attr_set = attrs };
	if (tree < 0)
		return cn_err_sys(err, "bind");
	if ((attrs && mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) ||
	    move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cn_err_sys(err, "bind");
	return 0;
}

/* A read-only bind of a host file over the image's /PATH. An image whose
 * file is a symlink keeps its own file. */
static int bind_host_file_ro(int root_fd, const char *path, const char *host, cn_err *err)
{
	_cleanup_close_ int target = sb_open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0);
	struct stat st;
	if (target < 0)
		return cn_err_sys(err, "open /%s", path);
	if (fstat(target, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (access(host, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (sb_bind_fd(AT_FDCWD, host, target,
		    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err) < 0)
		return cn_err_wrap(err, "/%s from %s", path, host);
	return 0;
}

/* ---- /dev ---- */

/* The tmpfs on /dev is nodev, so a node made by mknod inside is inert;
 * the usable nodes are binds of the host's own. */
static int bind_host_node(int dev_fd, const char *name, cn_err *err)
{
	_cleanup_free_ char *host = cn_xasprintf("/dev/%s", name);
	_cleanup_close_ int target = -1;
	struct stat st;
	if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode))
		return cn_err_fail(err, CN_ERR_INVALID, "host %s is not a character device", host);
	target = openat(dev_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (target < 0)
		return cn_err_sys(err, "create /dev/%s", name);
	if (sb_bind_fd(AT_FDCWD, host, target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err) < 0)
		return cn_err_wrap(err, "/dev/%s", name);
	return 0;
}

/* --privileged: the host's device nodes (as docker, every one but the
 * terminals and what /dev mounts of its own), made with mknod on a /dev
 * that is not nodev. One level of subdirectories (net/tun, dri/...). */
static void copy_host_devices(int dev, const char *sub)
{
	static const char *const skip[] = { "pts", "shm", "mqueue", "hugepages", "console", "tty",
					    "ptmx", "core", "fd", "stdin", "stdout", "stderr" };
	_cleanup_free_ char *host = cn_xasprintf("/dev/%s", sub);
	_cleanup_closedir_ DIR *d = opendir(host);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		_cleanup_free_ char *rel = cn_xasprintf("%s%s%s", sub, *sub ? "/" : "", de->d_name);
		struct stat st;
		bool skipped = de->d_name[0] == '.';
		for (size_t i = 0; !*sub && i < CN_ARRAY_SIZE(skip); i++)
			skipped |= !strcmp(de->d_name, skip[i]);
		if (skipped || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && !*sub) {
			if (mkdirat(dev, rel, st.st_mode & 07777) == 0 || errno == EEXIST)
				copy_host_devices(dev, rel);
		} else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
			   mknodat(dev, rel, st.st_mode, st.st_rdev) == 0) {
			if (fchownat(dev, rel, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				continue;       /* an unmapped owner: root's, then */
		}
	}
}

static int populate_dev(int root_fd, const struct sb_process *proc, cn_err *err)
{
	bool privileged = proc->security && proc->security->privileged;
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" }, { "core", "/proc/kcore" },
	};
	static const struct sb_fs_opt pts_opts[] = {
		{ "newinstance", NULL }, { "ptmxmode", "0666" }, { "mode", "0620" }, { "gid", "5" },
	};
	char shm_size[32];
	const struct sb_fs_opt shm_opts[] = { { "mode", "1777" }, { "size", shm_size } };
	static const struct sb_fs_opt dev_opts[] = { { "mode", "755" }, { "size", "65536k" } };
	_cleanup_close_ int dev = -1;

	snprintf(shm_size, sizeof(shm_size), "%llu", proc->shm_size ? proc->shm_size : SHM_SIZE);
	if (sb_mount_fs_at(root_fd, "dev", "tmpfs", dev_opts, CN_ARRAY_SIZE(dev_opts),
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | (privileged ? 0 : MOUNT_ATTR_NODEV), err) < 0)
		return -1;
	dev = sb_open_in_root(root_fd, "dev", O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (dev < 0)
		return cn_err_sys(err, "open /dev");
	for (size_t i = 0; i < CN_ARRAY_SIZE(nodes); i++)
		if (bind_host_node(dev, nodes[i], err) < 0)
			return -1;
	if (privileged)
		copy_host_devices(dev, "");
	for (size_t i = 0; i < CN_ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][1], dev, links[i][0]) < 0)
			return cn_err_sys(err, "create /dev/%s", links[i][0]);
	if (mkdirat(dev, "pts", 0755) < 0 || mkdirat(dev, "shm", 01777) < 0)
		return cn_err_sys(err, "populate /dev");
	/* gid 5 (tty) is unmapped in a rootless namespace without a range. */
	if (sb_mount_fs_at(root_fd, "dev/pts", "devpts", pts_opts,
			CN_ARRAY_SIZE(pts_opts) - (cn_rootless_single() ? 1 : 0),
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err) < 0 ||
	    sb_mount_fs_at(root_fd, "dev/shm", "tmpfs", shm_opts, CN_ARRAY_SIZE(shm_opts),
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err) < 0)
		return -1;
	return 0;
}

/* ---- /proc and /sys hardening ---- */

/* Files are covered by our own /dev/null (checked to be the 1:3 device, so
 * an image cannot swap it: CVE-2025-31133); directories by an empty
 * read-only tmpfs. */
static int mask_path(int root_fd, int null_fd, const char *path, cn_err *err)
{
	_cleanup_close_ int target = sb_open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0);
	struct stat st;
	if (target < 0)
		return errno == ENOENT ? 0 : cn_err_sys(err, "mask /%s", path);
	if (fstat(target, &st) < 0)
		return cn_err_sys(err, "mask /%s", path);
	if (S_ISDIR(st.st_mode)) {
		static const struct sb_fs_opt opts[] = { { "size", "0" }, { "mode", "0555" } };
		if (sb_mount_fs_on(target, "tmpfs", opts, CN_ARRAY_SIZE(opts), MOUNT_ATTR_RDONLY, err) < 0)
			return cn_err_wrap(err, "mask /%s", path);
		return 0;
	}
	if (sb_bind_fd(null_fd, "", target, 0, err) < 0)
		return cn_err_wrap(err, "mask /%s", path);
	return 0;
}

static int make_readonly(int root_fd, const char *path, cn_err *err)
{
	_cleanup_close_ int target = sb_open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0);
	if (target < 0)
		return errno == ENOENT ? 0 : cn_err_sys(err, "open /%s", path);
	if (sb_bind_fd(target, "", target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
		    MOUNT_ATTR_NOEXEC, err) < 0)
		return cn_err_wrap(err, "make /%s read-only", path);
	return 0;
}

static void bind_host_sys(int root_fd)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					       MOUNT_ATTR_NOEXEC };
	_cleanup_close_ int target = sb_open_in_root(root_fd, "sys", O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	_cleanup_close_ int tree = -1;
	if (target < 0)
		return;
	tree = open_tree(AT_FDCWD, "/sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return;
	move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static int harden_proc_sys(int root_fd, cn_err *err)
{
	_cleanup_close_ int null_fd = sb_open_in_root(root_fd, "dev/null", O_PATH | O_NOFOLLOW, 0);
	struct stat st;
	if (null_fd < 0 || fstat(null_fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != makedev(1, 3))
		return cn_err_fail(err, CN_ERR_INVALID, "/dev/null is not the null device");
	/* The tables' paths are absolute; here they are relative to the root. */
	for (size_t i = 0; i < sb_nmasked_paths; i++)
		if (mask_path(root_fd, null_fd, sb_masked_paths[i] + 1, err) < 0)
			return -1;
	for (size_t i = 0; i < sb_nreadonly_paths; i++)
		if (make_readonly(root_fd, sb_readonly_paths[i] + 1, err) < 0)
			return -1;
	return 0;
}

int sb_mount_system(int root_fd, const struct sb_process *proc, cn_err *err)
{
	bool privileged = proc->security && proc->security->privileged;
	const char *hosts_file = proc->hosts_file;
	cn_err ignored;
	if (sb_mount_fs_at(root_fd, "proc", "proc", NULL, 0,
			MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err) < 0 ||
	    populate_dev(root_fd, proc, err) < 0)
		return -1;
	/* sysfs is a convenience; a kernel that refuses it does not stop a build.
	 * Rootless on the host's network (owned by the host's user namespace)
	 * sysfs may not be mounted: the host's is bound read-only instead, as
	 * podman does. */
	if (sb_mount_fs_at(root_fd, "sys", "sysfs", NULL, 0,
			(privileged ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			MOUNT_ATTR_NOEXEC, &ignored) < 0 && cn_rootless())
		bind_host_sys(root_fd);
	/* --privileged: docker masks nothing and leaves /proc/sys writable. */
	if ((!privileged && harden_proc_sys(root_fd, err) < 0) ||
	    bind_host_file_ro(root_fd, "etc/resolv.conf", "/etc/resolv.conf", err) < 0 ||
	    bind_host_file_ro(root_fd, "etc/hosts", hosts_file ? hosts_file : "/etc/hosts", err) < 0)
		return -1;
	return 0;
}

/* NAME in PARENT could not be created (EEXIST) although resolving it found
 * nothing: it is a symlink to something missing. Say so, naming it (PREFIX
 * is its path in the root), rather than "File exists". */
static int dangling_fail(int parent, const char *name, const char *prefix, const char *path, cn_err *err)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
	if (n < 0)
		return cn_err_errno(err, EEXIST, "create mount point %s", path);
	target[n] = '\0';
	return cn_err_fail(err, CN_ERR_CONFLICT, "mount point %s: %s is a symlink to '%s', which does not "
			   "exist in the image", path, prefix, target);
}

/* mkdir -p of PATH inside the root, every prefix resolved in it (image
 * symlinks stay inside); with FILE, the last component is an empty file. */
static int make_target(int root_fd, const char *path, bool file, cn_err *err)
{
	_cleanup_free_ char *p = cn_xstrdup(path);
	if (p[0] != '/' || strstr(p, "/../") || strstr(p, "/./") || !strcmp(p + strlen(p) - 2, "/.") ||
	    (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
		return cn_err_fail(err, CN_ERR_INVALID, "mount target '%s' must be a clean absolute path", path);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		bool last = c == '\0' || s[1] == '\0';
		*s = '\0';
		int fd = cn_openat2(root_fd, p, O_PATH, RESOLVE_IN_ROOT);
		if (fd >= 0) {
			close(fd);
		} else if (errno == ENOENT) {
			char *slash = strrchr(p, '/');
			*slash = '\0';
			_cleanup_close_ int parent = cn_openat2(root_fd, *p ? p : "/", O_RDONLY | O_DIRECTORY,
								RESOLVE_IN_ROOT);
			*slash = '/';
			if (parent < 0)
				return cn_err_sys(err, "mount point %s", path);
			if (last && file) {
				int f = openat(parent, slash + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					       0600);
				if (f < 0 && errno == EEXIST)
					return dangling_fail(parent, slash + 1, p, path, err);
				if (f < 0)
					return cn_err_sys(err, "create mount point %s", path);
				close(f);
			} else if (mkdirat(parent, slash + 1, 0755) < 0) {
				if (errno == EEXIST)
					return dangling_fail(parent, slash + 1, p, path, err);
				return cn_err_sys(err, "create mount point %s", path);
			}
		} else {
			return cn_err_sys(err, "mount point %s", path);
		}
		*s = c;
		if (last)
			return 0;
	}
}

int sb_create_mount_targets(int root_fd, const struct sb_mount *m, size_t n, cn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		/* A bound file needs a file to mount on, a directory a directory. */
		bool file = m[i].kind == SB_MOUNT_BIND_FILE_RO ||
			    (m[i].kind == SB_MOUNT_BIND && stat(m[i].source, &st) == 0 &&
			     !S_ISDIR(st.st_mode));
		if (make_target(root_fd, m[i].target, file, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- volume copy-up ---- */

static bool dir_empty(int fd)
{
	_cleanup_closedir_ DIR *d = fdopendir(dup(fd));
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return d != NULL;
}

static int copy_file(int from, int to, const char *name, const struct stat *st, cn_err *err)
{
	_cleanup_close_ int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[65536];
	ssize_t n;
	if (in < 0)
		return cn_err_sys(err, "copy %s into the volume", name);
	out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
	if (out < 0)
		return cn_err_sys(err, "copy %s into the volume", name);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (cn_write_all(out, buf, (size_t)n) < 0)
			return cn_err_sys(err, "copy %s into the volume", name);
	if (n < 0)
		return cn_err_sys(err, "copy %s into the volume", name);
	if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0)
		return cn_err_sys(err, "copy %s into the volume", name);
	return 0;
}

/* FROM (the image's directory, inside the root) into TO (the volume on
 * the host): directories, files and symlinks with their modes and owners,
 * every name opened relative to its parent without following links. */
static int copy_tree(int from, int to, unsigned depth, cn_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	if (depth > 128)
		return cn_err_fail(err, CN_ERR_INVALID, "the image's directory is too deep to copy into a volume");
	d = fdopendir(dup(from));
	if (!d)
		return cn_err_sys(err, "read the image's directory");
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(from, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub_from = -1, sub_to = -1;
			if (mkdirat(to, de->d_name, 0700) < 0)
				return cn_err_sys(err, "copy %s into the volume", de->d_name);
			sub_from = openat(from, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			sub_to = openat(to, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub_from < 0 || sub_to < 0)
				return cn_err_sys(err, "copy %s into the volume", de->d_name);
			if (copy_tree(sub_from, sub_to, depth + 1, err) < 0)
				return -1;
			if (fchown(sub_to, st.st_uid, st.st_gid) < 0 || fchmod(sub_to, st.st_mode & 07777) < 0)
				return cn_err_sys(err, "copy %s into the volume", de->d_name);
		} else if (S_ISREG(st.st_mode)) {
			if (copy_file(from, to, de->d_name, &st, err) < 0)
				return -1;
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(from, de->d_name, target, sizeof(target) - 1);
			if (n < 0)
				return cn_err_sys(err, "copy %s into the volume", de->d_name);
			target[n] = '\0';
			if (symlinkat(target, to, de->d_name) < 0 ||
			    fchownat(to, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				return cn_err_sys(err, "copy %s into the volume", de->d_name);
		}
	}
	return 0;
}

/* docker's copy-up: an empty volume gets what the image has at TARGET. */
static int volume_copy_up(int root_fd, const struct sb_mount *m, cn_err *err)
{
	const char *rel = m->target[0] == '/' ? m->target + 1 : m->target;
	_cleanup_close_ int from = sb_open_in_root(root_fd, rel, O_RDONLY | O_DIRECTORY, 0);
	_cleanup_close_ int to = open(m->source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (to < 0)
		return cn_err_sys(err, "open volume %s", m->source);
	if (from < 0 || !dir_empty(to))
		return 0;       /* nothing to copy, or the volume has its own content */
	if (copy_tree(from, to, 0, err) < 0)
		return cn_err_wrap(err, "%s", m->target);
	/* The volume's root takes the owner and mode of the image's directory too. */
	if (fstat(from, &st) < 0 || fchown(to, st.st_uid, st.st_gid) < 0 || fchmod(to, st.st_mode & 07777) < 0)
		return cn_err_sys(err, "volume %s", m->source);
	return 0;
}

int sb_mount_extra(int root_fd, const struct sb_mount *m, size_t n, cn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *rel = m[i].target[0] == '/' ? m[i].target + 1 : m[i].target;
		_cleanup_close_ int target = sb_open_in_root(root_fd, rel, O_PATH | O_NOFOLLOW, 0);
		if (target < 0)
			return cn_err_sys(err, "mount point %s", m[i].target);
		if (m[i].kind == SB_MOUNT_TMPFS) {
			char size[32], mode[16];
			struct sb_fs_opt opts[] = { { "mode", mode }, { "size", size } };
			bool sized = m[i].size != SB_TMPFS_UNSIZED;
			snprintf(size, sizeof(size), "%llu", m[i].size ? m[i].size : 64ULL << 20);
			snprintf(mode, sizeof(mode), "%o", m[i].mode ? m[i].mode : 01777);
			if (sb_mount_fs_on(target, "tmpfs", opts, CN_ARRAY_SIZE(opts) - (sized ? 0 : 1),
					MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m[i].noexec ? MOUNT_ATTR_NOEXEC : 0) |
					(m[i].readonly ? MOUNT_ATTR_RDONLY : 0), err) < 0)
				return cn_err_wrap(err, "%s", m[i].target);
		} else {
			unsigned int attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
			if (m[i].kind == SB_MOUNT_BIND_FILE_RO)
				attrs |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC;
			if (m[i].readonly)
				attrs |= MOUNT_ATTR_RDONLY;
			if (m[i].copy_up && volume_copy_up(root_fd, &m[i], err) < 0)
				return -1;
			if (sb_bind_fd(AT_FDCWD, m[i].source, target, attrs, err) < 0)
				return cn_err_wrap(err, "%s", m[i].target);
		}
	}
	return 0;
}

int sb_loopback_up(cn_err *err)
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

int sb_enter_root(int root_fd, cn_err *err)
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
