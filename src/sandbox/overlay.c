#include "sandbox/overlay.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <stdio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* Keep the upper dir a complete diff. In a user namespace (rootless)
 * overlayfs needs userxattr (its metadata in user.overlay.*: without it,
 * removing a lower directory fails with EIO), which refuses
 * redirect_dir=off where the kernel turns "off" into "follow"; nofollow
 * creates no redirects either. */
static const char *const overlay_flags[][2] = {
	{ "redirect_dir", "off" },
	{ "metacopy", "off" },
	{ "index", "off" },
};
static const char *const overlay_flags_userns[][2] = {
	{ "userxattr", NULL },
	{ "redirect_dir", "nofollow" },
	{ "metacopy", "off" },
	{ "index", "off" },
};

/* The kernel explains a failed fsconfig in the fs context's log. */
static int fs_error(int fsfd, cn_err *err, const char *what)
{
	int saved = errno;
	char msg[512];
	ssize_t n = read(fsfd, msg, sizeof(msg) - 1);
	if (n > 2) {
		msg[n] = '\0';
		if (msg[n - 1] == '\n')
			msg[n - 1] = '\0';
		return cn_err_errno(err, saved, "mount overlay: %s: %s", what, msg + 2);
	}
	errno = saved;
	return cn_err_sys(err, "mount overlay: %s", what);
}

/* A read-only stack (no upper dir) needs two lower dirs: an empty one is
 * put at the bottom when the image has fewer layers. */
static size_t min_lowers(const struct sb_rootfs *r)
{
	return r->upper ? 1 : 2;
}

/* The option string is limited to a page: lower dirs that share a parent
 * (the store's snapshots/) are named relative to it, from that directory. */
static const char *short_lower(const char *lower, const char *parent, size_t plen)
{
	if (plen && strncmp(lower, parent, plen) == 0 && lower[plen] == '/' && !strchr(lower + plen + 1, '/'))
		return lower + plen + 1;
	return lower;
}

/* The kernel refuses a work dir that a volatile mount has used (its
 * incompat/volatile marker: the upper dir may be incomplete after a
 * crash). A scratch stack is mounted again in one process and boot (a
 * RUN --mount's or a heredoc's copy-in, then the step), and a crash would
 * have thrown the directory away: the marker of the earlier, unmounted
 * stack goes. */
static int clear_volatile(const struct sb_rootfs *r, cn_err *err)
{
	_cleanup_free_ char *dir = cn_xasprintf("%s/work/incompat/volatile", r->work);
	_cleanup_free_ char *dirty = cn_xasprintf("%s/dirty", dir);
	if ((unlink(dirty) < 0 && errno != ENOENT) || (rmdir(dir) < 0 && errno != ENOENT))
		return cn_err_sys(err, "mount overlay: remove '%s'", dir);
	return 0;
}

static int mount_legacy(const struct sb_rootfs *r, bool userns, cn_err *err)
{
	_cleanup_buf_ cn_buf opts;
	const char *first = r->nlowers ? r->lowers[0] : r->empty;
	const char *slash = strrchr(first, '/');
	size_t plen = slash ? (size_t)(slash - first) : 0;
	_cleanup_free_ char *parent = cn_xstrndup(first, plen);
	cn_buf_init(&opts, 0);
	cn_buf_adds(&opts, "lowerdir=");
	for (size_t i = 0; i < r->nlowers; i++)
		cn_buf_addf(&opts, "%s%s", i ? ":" : "", short_lower(r->lowers[i], parent, plen));
	if (r->nlowers < min_lowers(r))
		cn_buf_addf(&opts, "%s%s", r->nlowers ? ":" : "", r->empty);
	if (r->upper)
		cn_buf_addf(&opts, ",upperdir=%s,workdir=%s", r->upper, r->work);
	if (userns) {
		cn_buf_adds(&opts, ",userxattr");
		for (size_t i = 1; r->upper && i < CN_ARRAY_SIZE(overlay_flags_userns); i++)
			cn_buf_addf(&opts, ",%s=%s", overlay_flags_userns[i][0], overlay_flags_userns[i][1]);
	} else {
		for (size_t i = 0; r->upper && i < CN_ARRAY_SIZE(overlay_flags); i++)
			cn_buf_addf(&opts, ",%s=%s", overlay_flags[i][0], overlay_flags[i][1]);
	}
	if (opts.len + 1 > 4096)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "mount overlay: %zu layers do not fit in the mount "
				  "options of this kernel (6.8 or later lifts the limit)", r->nlowers);
	/* Only this helper process's cwd changes. */
	if (plen && chdir(parent) < 0)
		return cn_err_sys(err, "chdir '%s'", parent);
	/* volatile: 5.10 and later; before, the mount is made without it, as
	 * when it would not fit in the options (it only saves syncs). */
	if (r->upper && r->scratch && opts.len + sizeof(",volatile") <= 4096) {
		size_t len = opts.len;
		cn_buf_adds(&opts, ",volatile");
		if (mount("overlay", r->merged, "overlay", MS_NODEV, opts.data) == 0)
			return 0;
		if (errno != EINVAL)
			return cn_err_sys(err, "mount overlay on '%s'", r->merged);
		opts.len = len;
		opts.data[len] = '\0';
	}
	if (mount("overlay", r->merged, "overlay", MS_NODEV | (r->upper ? 0 : MS_RDONLY), opts.data) < 0)
		return cn_err_sys(err, "mount overlay on '%s'", r->merged);
	return 0;
}

int sb_overlay_mount(const struct sb_rootfs *r, cn_err *err)
{
	_cleanup_close_ int fsfd = -1;
	_cleanup_close_ int mfd = -1;
	bool userns = cn_userns_nested();
	if (r->upper && r->scratch && clear_volatile(r, err) < 0)
		return -1;
	/* The tests exercise the path older kernels take. */
	if (getenv("CAIRN_TEST_OVERLAY_LEGACY"))
		return mount_legacy(r, userns, err);
	fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return mount_legacy(r, userns, err);
	size_t n = r->nlowers < min_lowers(r) ? r->nlowers + 1 : r->nlowers;
	for (size_t i = 0; i < n; i++) {
		const char *lower = i < r->nlowers ? r->lowers[i] : r->empty;
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", lower, 0) < 0) {
			if (i == 0 && errno == EINVAL)
				return mount_legacy(r, userns, err);    /* 6.5 - 6.7: no lowerdir+ */
			return fs_error(fsfd, err, lower);
		}
	}
	if (r->upper && fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", r->upper, 0) < 0)
		return fs_error(fsfd, err, r->upper);
	if (r->upper && fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", r->work, 0) < 0)
		return fs_error(fsfd, err, r->work);
	if (userns && fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return fs_error(fsfd, err, "userxattr");
	for (size_t i = userns; r->upper && i < (userns ? CN_ARRAY_SIZE(overlay_flags_userns)
							 : CN_ARRAY_SIZE(overlay_flags)); i++) {
		const char *const *f = userns ? overlay_flags_userns[i] : overlay_flags[i];
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, f[0], f[1], 0) < 0)
			return fs_error(fsfd, err, f[0]);
	}
	/* Unknown before 5.10 (EINVAL): then the mount is made without it. */
	if (r->upper && r->scratch && fsconfig(fsfd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0 &&
	    errno != EINVAL)
		return fs_error(fsfd, err, "volatile");
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		/* Before 6.5 overlayfs parsed options the legacy way: every key is
		 * accepted by fsconfig and "lowerdir+" only fails here. */
		int saved = errno;
		if (saved == EINVAL && mount_legacy(r, userns, err) == 0)
			return 0;
		errno = saved;
		return fs_error(fsfd, err, "create");
	}
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | (r->upper ? 0 : MOUNT_ATTR_RDONLY));
	if (mfd < 0)
		return cn_err_sys(err, "mount overlay");
	if (move_mount(mfd, "", AT_FDCWD, r->merged, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return cn_err_sys(err, "mount overlay on '%s'", r->merged);
	return 0;
}
