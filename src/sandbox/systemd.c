/* An init system as the sandbox's pid 1 (cairn run --systemd): what
 * systemd's container interface asks of a runtime, on top of what every
 * container gets. tmpfs on /run, /run/lock and /tmp (systemd expects
 * them empty at boot); the container's own cgroups writable at
 * /sys/fs/cgroup, seen through its cgroup namespace (sb_cgroup_add_init
 * made them; the rest of /sys stays read-only); a machine id when the
 * image ships none; and the console pty bound on /dev/console. */
#include "sandbox/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CGROUP2_SUPER_MAGIC_V2 0x63677270

/* Whether the caller mounts something at PATH or below it: then its mount
 * is the one that counts, and a tmpfs of ours would hide its mount point
 * (made in the image's tree before ours). */
static bool user_mounts_at(const struct sb_process *proc, const char *path)
{
	size_t len = strlen(path);
	for (size_t i = 0; i < proc->nmounts; i++) {
		const char *t = proc->mounts[i].target;
		if (!strncmp(t, path, len) && (t[len] == '\0' || t[len] == '/'))
			return true;
	}
	return false;
}

/* A tmpfs on /PATH, made when the image has none (busybox has no /run). */
static int tmpfs_at(int root_fd, const char *path, const char *mode, cn_err *err)
{
	const struct sb_fs_opt opts[] = { { "mode", mode } };
	int fd = sb_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (fd >= 0)
		close(fd);
	else if (errno == ENOENT && mkdirat(root_fd, path, 0755) < 0)
		return cn_err_sys(err, "create /%s", path);
	return sb_mount_fs_at(root_fd, path, "tmpfs", opts, 1, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
}

/* podman's three: nosuid and nodev, but not noexec (units run scripts
 * from /run and /tmp). /run/lock's mount point is made in /run's tmpfs. */
static int mount_tmpfs(int root_fd, const struct sb_process *proc, cn_err *err)
{
	if (!user_mounts_at(proc, "/run")) {
		_cleanup_close_ int run = -1;
		if (tmpfs_at(root_fd, "run", "755", err) < 0)
			return -1;
		run = sb_open_in_root(root_fd, "run", O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
		if (run < 0 || mkdirat(run, "lock", 0755) < 0)
			return cn_err_sys(err, "create /run/lock");
		if (tmpfs_at(root_fd, "run/lock", "1777", err) < 0)
			return -1;
	}
	if (!user_mounts_at(proc, "/tmp") && tmpfs_at(root_fd, "tmp", "1777", err) < 0)
		return -1;
	return 0;
}

/* The container's cgroups, as the host has them: cgroup v2 is one
 * cgroup2 mount; on v1 a tmpfs holds the name=systemd hierarchy (and the
 * unified one of a hybrid host), which systemd keys its mode on. Mounted
 * inside the cgroup namespace, each one's root is the container's own
 * cgroup there, so it may write nowhere else. Controllers are not
 * mounted: systemd runs without them. */
static int mount_cgroups(int root_fd, cn_err *err)
{
	static const struct sb_fs_opt named[] = { { "none", NULL }, { "name", "systemd" } };
	static const struct sb_fs_opt tmpfs[] = { { "mode", "755" }, { "size", "64k" } };
	const unsigned int attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	_cleanup_close_ int dir = -1;
	struct statfs sf;
	if (sb_cgroup_version() == SB_CGROUP_V2)
		return sb_mount_fs_at(root_fd, "sys/fs/cgroup", "cgroup2", NULL, 0, attrs, err);
	if (sb_mount_fs_at(root_fd, "sys/fs/cgroup", "tmpfs", tmpfs, CN_ARRAY_SIZE(tmpfs), attrs, err) < 0)
		return -1;
	dir = sb_open_in_root(root_fd, "sys/fs/cgroup", O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (dir < 0 || mkdirat(dir, "systemd", 0755) < 0)
		return cn_err_sys(err, "create /sys/fs/cgroup/systemd");
	if (sb_mount_fs_at(dir, "systemd", "cgroup", named, CN_ARRAY_SIZE(named), attrs, err) < 0)
		return -1;
	if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && (long)sf.f_type == CGROUP2_SUPER_MAGIC_V2) {
		if (mkdirat(dir, "unified", 0755) < 0)
			return cn_err_sys(err, "create /sys/fs/cgroup/unified");
		if (sb_mount_fs_at(dir, "unified", "cgroup2", NULL, 0, attrs, err) < 0)
			return -1;
	}
	/* Only the hierarchies are the container's to change. */
	if (mount_setattr(dir, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return cn_err_sys(err, "make /sys/fs/cgroup read-only");
	return 0;
}

/* machine-id(5): an image should ship an empty /etc/machine-id for the
 * runtime to fill; a missing one is made. An image's own id, or a
 * symlink, is left alone. */
static int write_machine_id(int root_fd, const char *id, cn_err *err)
{
	_cleanup_close_ int etc = sb_open_in_root(root_fd, "etc", O_RDONLY | O_DIRECTORY, 0);
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *line = NULL;
	struct stat st;
	if (etc < 0)
		return errno == ENOENT ? 0 : cn_err_sys(err, "open /etc");
	if (fstatat(etc, "machine-id", &st, AT_SYMLINK_NOFOLLOW) == 0 && (!S_ISREG(st.st_mode) || st.st_size > 0))
		return 0;
	fd = openat(etc, "machine-id", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0444);
	line = cn_xasprintf("%s\n", id);
	if (fd < 0 || cn_write_all(fd, line, strlen(line)) < 0)
		return cn_err_sys(err, "write /etc/machine-id");
	return 0;
}

int sb_systemd_mounts(int root_fd, const struct sb_process *proc, cn_err *err)
{
	if (mount_tmpfs(root_fd, proc, err) < 0 || mount_cgroups(root_fd, err) < 0)
		return cn_err_wrap(err, "--systemd");
	if (proc->machine_id && write_machine_id(root_fd, proc->machine_id, err) < 0)
		return cn_err_wrap(err, "--systemd");
	return 0;
}

int sb_systemd_console(const char *slave, cn_err *err)
{
	_cleanup_close_ int target = open("/dev/console", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (target < 0)
		return cn_err_sys(err, "create /dev/console");
	if (sb_bind_fd(AT_FDCWD, slave, target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err) < 0)
		return cn_err_wrap(err, "bind %s on /dev/console", slave);
	return 0;
}
