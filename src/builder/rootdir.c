/* mkdir -p inside an image root (see rootdir.h). Every lookup goes through
 * openat2(RESOLVE_IN_ROOT) from the root, so a symlink in the image never
 * leads a created directory outside it. */
#include "builder/rootdir.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"
#include "util/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SYMLINKS 40         /* as the kernel's path resolution */
#define WH_PREFIX ".wh."

/* A dangling symlink at COMPS[I] (in the directory CUR) is followed as
 * BuildKit resolves a destination in the root, its target created: COMPS
 * becomes the link's target (absolute: from the root; relative: after
 * COMPS[0..I)) followed by COMPS[I+1..). 1: replaced, 0: not a symlink. */
static int follow_dangling(int cur, cn_strv *comps, size_t i, int *hops, const char *rel,
			   cn_err *err)
{
	char target[PATH_MAX];
	cn_strv next = { 0 };
	struct stat st;
	ssize_t n;
	if (fstatat(cur, comps->v[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
		return 0;
	if (++*hops > MAX_SYMLINKS)
		return cn_err_fail(err, CN_ERR_INVALID, "'/%s': too many levels of symbolic links", rel);
	n = readlinkat(cur, comps->v[i], target, sizeof(target));
	if (n < 0)
		return cn_err_sys(err, "'/%s': read symlink", rel);
	if ((size_t)n >= sizeof(target))
		return cn_err_fail(err, CN_ERR_TOO_BIG, "'/%s': symlink target too long", rel);
	target[n] = '\0';
	for (size_t k = 0; target[0] != '/' && k < i; k++)
		cn_strv_pushdup(&next, comps->v[k]);
	/* "..": kept for openat2, whose RESOLVE_IN_ROOT applies it physically
	 * and never above the root. */
	cn_path_split(target, &next);
	for (size_t k = i + 1; k < comps->n; k++)
		cn_strv_pushdup(&next, comps->v[k]);
	cn_strv_free(comps);
	*comps = next;
	return 1;
}

/* The missing directory NAME in CUR (root path REL), made 0700 first so it
 * is never open to others before it has its owner, then 0755. */
static int make_dir(int cur, const char *name, const char *rel, uid_t uid, gid_t gid, cn_err *err)
{
	_cleanup_close_ int fd = -1;
	if (strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return cn_err_fail(err, CN_ERR_INVALID, "'/%s': names starting with " WH_PREFIX
				    " cannot be stored in a layer", rel);
	if (mkdirat(cur, name, 0700) < 0)
		return errno == EEXIST ? cn_err_fail(err, CN_ERR_CONFLICT, "'/%s' is not a directory", rel) :
			cn_err_sys(err, "create directory '/%s'", rel);
	fd = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '/%s'", rel);
	if (fchown(fd, uid, gid) < 0)
		return cn_err_sys(err, "chown '/%s'", rel);
	if (fchmod(fd, 0755) < 0)
		return cn_err_sys(err, "chmod '/%s'", rel);
	return CN_TAKE_FD(fd);
}

int bf_root_mkdir_p(int root_fd, const char *path, uid_t uid, gid_t gid, cn_err *err)
{
	_cleanup_strv_ cn_strv comps = { 0 };
	_cleanup_close_ int cur = -1;
	int hops = 0;
	{
		_cleanup_free_ char *abs = cn_xasprintf("/%s", path);
		_cleanup_free_ char *clean = cn_path_clean(abs);
		cn_path_split(clean, &comps);
	}
restart:
	if (cur >= 0)
		close(cur);
	cur = cn_openat2(root_fd, ".", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
	if (cur < 0)
		return cn_err_sys(err, "open the image root");
	for (size_t i = 0; i < comps.n; i++) {
		_cleanup_free_ char *rel = cn_path_join_all(comps.v, i + 1);
		int fd = cn_openat2(root_fd, rel, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
		if (fd < 0 && errno == ENOTDIR)
			return cn_err_fail(err, CN_ERR_CONFLICT, "'/%s' is not a directory", rel);
		if (fd < 0 && errno != ENOENT)
			return cn_err_sys(err, "open '/%s' in the image", rel);
		if (fd < 0) {
			int r = follow_dangling(cur, &comps, i, &hops, rel, err);
			if (r < 0)
				return -1;
			if (r > 0)
				goto restart;
			fd = make_dir(cur, comps.v[i], rel, uid, gid, err);
			if (fd < 0)
				return -1;
		}
		close(cur);
		cur = fd;
	}
	return CN_TAKE_FD(cur);
}
