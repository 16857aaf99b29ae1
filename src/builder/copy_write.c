/* bf_copy: the sink that writes what the walk finds into the image root,
 * whose symlinks may point anywhere: directories are resolved with
 * openat2(RESOLVE_IN_ROOT), final names are handled with *at() calls that
 * do not follow symlinks, and an existing entry is unlinked rather than
 * written through. */
#include "builder/copy_internal.h"
#include "builder/ignore.h"
#include "builder/rootdir.h"
#include "layers/xattr.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"
#include "util/rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- the image root ---- */

static int root_open_dir(struct copier *c, const char *rel)
{
	return cn_openat2(c->o->root_fd, rel, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
}

static int not_dir_error(struct copier *c, const char *rel)
{
	return cn_err_fail(c->err, CN_ERR_CONFLICT, "cannot copy to non-directory '/%s'",
			  strcmp(rel, ".") ? rel : "");
}

/* Directories COMPS[0..N) of DEST made as BuildKit makes them
 * (builder/rootdir.h), owned like the copied files. */
static int make_dirs(struct copier *c, char *const *comps, size_t n)
{
	_cleanup_free_ char *path = cn_path_join_all(comps, n);
	int fd = bf_root_mkdir_p(c->o->root_fd, path, c->uid, c->gid, c->err);
	if (fd < 0 && cn_err_is(c->err, CN_ERR_CONFLICT))
		return cn_err_wrap(c->err, "cannot copy to non-directory");
	return fd;
}

/* ---- metadata ---- */

static mode_t want_mode(const struct copier *c, const struct stat *st)
{
	return (c->o->chmod ? c->o->mode : st->st_mode) & 07777;
}

static int copy_xattrs(struct copier *c, int sfd, int dfd, const char *show)
{
	ssize_t len = flistxattr(sfd, c->xlist, COPY_XATTR_BUF);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return cn_err_sys(c->err, "'%s': list extended attributes", show);
	}
	for (const char *name = c->xlist; name < c->xlist + len; name += strlen(name) + 1) {
		ssize_t vlen;
		if (!layer_xattr_keep(name))
			continue;
		vlen = fgetxattr(sfd, name, c->xval, COPY_XATTR_BUF);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;       /* removed since the listing */
			return cn_err_sys(c->err, "'%s': read extended attribute %s", show, name);
		}
		/* A destination file system without xattr support just loses them. */
		if (fsetxattr(dfd, name, c->xval, (size_t)vlen, 0) == 0 || errno == ENOTSUP)
			continue;
		/* Rootless, the kernel reads a context file's ACL entry naming a
		 * host id outside our map as id -1, which it then refuses to set:
		 * the id cannot be carried over, and dropping the entry would
		 * change who may read the file. */
		if (errno == EINVAL && cn_rootless() && !strncmp(name, "system.posix_acl_", 17))
			return cn_err_fail(c->err, CN_ERR_UNSUPPORTED,
					   "'%s': its POSIX ACL (%s) names a user or group id that rootless "
					   "cairn cannot map (only your own id and your /etc/subuid and "
					   "/etc/subgid ranges are); remove those entries (setfacl -x) or "
					   "build as root",
					   show, name);
		return cn_err_sys(c->err, "'%s': set extended attribute %s", show, name);
	}
	return 0;
}

/* Owner, xattrs, mode, times, in that order: chown clears setuid bits and
 * file capabilities, so it goes first; a POSIX ACL (system.posix_acl_access)
 * rewrites the group bits, so the mode comes after it and stays the one
 * wanted (--chmod included); nothing after futimens touches the mtime. */
static int apply_meta(struct copier *c, int sfd, int dfd, const struct stat *st, const char *show)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (fchown(dfd, c->uid, c->gid) < 0)
		return cn_err_sys(c->err, "'%s': chown", show);
	if (copy_xattrs(c, sfd, dfd, show) < 0)
		return -1;
	if (fchmod(dfd, want_mode(c, st)) < 0)
		return cn_err_sys(c->err, "'%s': chmod", show);
	if (futimens(dfd, ts) < 0)
		return cn_err_sys(c->err, "'%s': set times", show);
	return 0;
}

/* The same for entries that cannot be opened (symlinks, special files). */
static int apply_meta_at(struct copier *c, int ddirfd, const char *dname, const struct stat *st,
			 const char *show)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (fchownat(ddirfd, dname, c->uid, c->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return cn_err_sys(c->err, "'%s': chown", show);
	if (!S_ISLNK(st->st_mode) && cn_chmod_nofollow(ddirfd, dname, want_mode(c, st)) < 0)
		return cn_err_sys(c->err, "'%s': chmod", show);
	if (utimensat(ddirfd, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cn_err_sys(c->err, "'%s': set times", show);
	return 0;
}

/* ---- copying one entry (the bf_copy sink) ---- */

/* Make room for a non-directory at DNAME: whatever is there (file, symlink,
 * special file) is unlinked, never written through; a directory stays and
 * is an error. */
static int clear_leaf(struct copier *c, int ddirfd, const char *dname, const char *rel)
{
	struct stat st;
	if (fstatat(ddirfd, dname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return cn_err_sys(c->err, "stat '/%s'", rel);
	}
	if (S_ISDIR(st.st_mode))
		return cn_err_fail(c->err, CN_ERR_CONFLICT, "cannot overwrite directory '/%s' "
				  "with a non-directory", rel);
	if (unlinkat(ddirfd, dname, 0) < 0 && errno != ENOENT)
		return cn_err_sys(c->err, "remove '/%s'", rel);
	return 0;
}

static int copy_data(struct copier *c, int sfd, int dfd, const char *show)
{
	if (cn_copy_fd(sfd, dfd, c->chunk, COPY_CHUNK, UINT64_MAX, NULL) < 0)
		return cn_err_sys(c->err, "'%s': copy data", show);
	return 0;
}

/* DNAME becomes a hard link to the first copy H, found again inside the
 * root and checked to be the inode made then. 1: linked, 0: that copy is
 * gone or replaced (the caller copies instead). */
static int link_copy(struct copier *c, const struct hardlink *h, const struct dest *d, const char *dname,
		     const char *rel)
{
	_cleanup_close_ int fd = cn_openat2(c->o->root_fd, h->rel, O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != h->ddev || st.st_ino != h->dino)
		return 0;
	if (linkat(fd, "", d->fd, dname, AT_EMPTY_PATH) < 0)
		return cn_err_sys(c->err, "link '/%s' to '/%s'", rel, h->rel);
	return 1;
}

static int copy_file(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		     const char *dname, const char *rel, const char *cpath, const char *show)
{
	_cleanup_close_ int dfd = -1;
	const struct hardlink *h = copy_hardlink_find(c, st);
	struct stat dst;
	(void)cpath;
	if (clear_leaf(c, d->fd, dname, rel) < 0)
		return -1;
	if (h) {
		int r = link_copy(c, h, d, dname, rel);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	dfd = openat(d->fd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0)
		return cn_err_sys(c->err, "create '/%s'", rel);
	if (copy_data(c, sfd, dfd, show) < 0)
		return -1;
	if (apply_meta(c, sfd, dfd, st, show) < 0)
		return -1;
	if (!h && fstat(dfd, &dst) == 0)
		copy_hardlink_add(c, st, rel, &dst);
	return 0;
}

/* FIFOs and devices are recreated from their stat: opening them could
 * block forever or read without end. */
static int copy_special(struct copier *c, const struct stat *st, const struct dest *d,
			const char *dname, const char *rel, const char *show)
{
	dev_t rdev = S_ISFIFO(st->st_mode) ? 0 : st->st_rdev;
	if (clear_leaf(c, d->fd, dname, rel) < 0)
		return -1;
	if (mknodat(d->fd, dname, (st->st_mode & S_IFMT) | 0600, rdev) < 0)
		return cn_err_sys(c->err, "create '/%s'", rel);
	return apply_meta_at(c, d->fd, dname, st, show);
}

/* Symlinks are copied as symlinks, their target verbatim: it is only ever
 * interpreted inside the image. */
static int copy_symlink(struct copier *c, int sdirfd, const char *name, const struct stat *st,
			const struct dest *d, const char *rel, const char *show)
{
	char target[PATH_MAX];
	if (copy_read_target(c, sdirfd, name, target, show) < 0)
		return -1;
	if (clear_leaf(c, d->fd, name, rel) < 0)
		return -1;
	if (symlinkat(target, d->fd, name) < 0)
		return cn_err_sys(c->err, "create symlink '/%s'", rel);
	return apply_meta_at(c, d->fd, name, st, show);
}

/* The directory DNAME under D, created (0700 until its metadata is
 * applied) when absent. An existing symlink is followed only when it
 * resolves, inside the root, to a directory (e.g. /lib -> usr/lib). */
static int open_dest_dir(struct copier *c, int sfd, const struct stat *sst, const struct dest *d,
			 const char *dname, const char *rel, const char *show, int *dfd, bool *created)
{
	struct stat st;
	int ddirfd = d->fd;
	(void)sfd;
	(void)sst;
	(void)show;
	*created = false;
	if (fstatat(ddirfd, dname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return cn_err_sys(c->err, "stat '/%s'", rel);
		if (mkdirat(ddirfd, dname, 0700) < 0)
			return cn_err_sys(c->err, "create directory '/%s'", rel);
		*created = true;
	} else if (S_ISLNK(st.st_mode)) {
		*dfd = root_open_dir(c, rel);
		if (*dfd < 0)
			return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
				not_dir_error(c, rel) : cn_err_sys(c->err, "open '/%s'", rel);
		return 0;
	} else if (!S_ISDIR(st.st_mode)) {
		return not_dir_error(c, rel);
	}
	*dfd = openat(ddirfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0)
		return cn_err_sys(c->err, "open '/%s'", rel);
	return 0;
}

/* Metadata goes only onto a directory COPY created: an existing one in the
 * image keeps its owner and mode (as BuildKit does). */
static int close_dest_dir(struct copier *c, int sfd, const struct stat *st, int dfd, bool created,
			  const char *show)
{
	return created ? apply_meta(c, sfd, dfd, st, show) : 0;
}

static const struct sink copy_sink = {
	.dir_begin = open_dest_dir,
	.dir_end = close_dest_dir,
	.file = copy_file,
	.symlink = copy_symlink,
	.special = copy_special,
	.check_top_name = true,
};

/* ---- bf_copy ---- */

/* A single source to a destination not written as a directory: an existing
 * directory there (also through a symlink resolving inside the root)
 * receives the source; otherwise the source takes that name. */
static int copy_to_name(struct copier *c, const char *path, const char *real, const char *show,
			const cn_strv *dc)
{
	_cleanup_free_ char *prel = cn_path_join_all(dc->v, dc->n - 1), *rel = cn_path_join_all(dc->v, dc->n);
	_cleanup_close_ int pfd = -1, dfd = -1;
	const char *name = dc->v[dc->n - 1];
	struct stat st;

	pfd = make_dirs(c, dc->v, dc->n - 1);
	if (pfd < 0)
		return -1;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))) {
		dfd = root_open_dir(c, rel);
		if (dfd >= 0)
			return copy_walk_source(c, path, real, show, &(struct dest){ .fd = dfd, .rel = rel },
					   NULL);
		if (S_ISDIR(st.st_mode))
			return cn_err_sys(c->err, "open '/%s'", rel);
	}
	/* As BuildKit: a directory copied to a new name becomes a new 0755
	 * directory owned like the copy; only what it holds keeps its metadata. */
	if (copy_ctx_stat(c, real, &st, show) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		dfd = make_dirs(c, dc->v, dc->n);
		if (dfd < 0)
			return -1;
		return copy_walk_source(c, path, real, show, &(struct dest){ .fd = dfd, .rel = rel }, NULL);
	}
	if (copy_check_wh(c, name, rel) < 0)
		return -1;
	return copy_walk_source(c, path, real, show, &(struct dest){ .fd = pfd, .rel = prel }, name);
}

/* "dir/", ".", "x/..", "": the destination is meant as a directory. */
bool bf_copy_dest_is_dir(const char *dest)
{
	size_t len = strlen(dest);
	const char *last = strrchr(dest, '/');
	last = last ? last + 1 : dest;
	return len == 0 || dest[len - 1] == '/' || !strcmp(last, ".") || !strcmp(last, "..");
}

/* --parents: the source becomes DEST/PLACE, PLACE's directories made as
 * COPY makes missing parents. */
static int place_source(struct copier *c, const cn_strv *dc, const char *path, const char *real,
			const char *show, const char *place)
{
	_cleanup_strv_ cn_strv comps = { 0 };
	_cleanup_free_ char *rel = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1;
	const char *name = copy_place_split(place, &dir);
	for (size_t i = 0; i < dc->n; i++)
		cn_strv_pushdup(&comps, dc->v[i]);
	copy_split_clean(dir, true, &comps);
	fd = make_dirs(c, comps.v, comps.n);
	if (fd < 0)
		return -1;
	rel = cn_path_join_all(comps.v, comps.n);
	if (*name && copy_check_wh(c, name, show) < 0)
		return -1;
	return copy_walk_source(c, path, real, show, &(struct dest){ .fd = fd, .rel = rel }, *name ? name : NULL);
}

static int copy_all(struct copier *c)
{
	const struct bf_copy_opts *o = c->o;
	const char *dest = o->dest ? o->dest : "";
	_cleanup_strv_ cn_strv paths = { 0 }, reals = { 0 }, shows = { 0 }, dc = { 0 };
	_cleanup_free_ char *full = NULL, *drel = NULL;
	_cleanup_close_ int dfd = -1;
	bool wild = false;

	if (copy_resolve_sources(c, &paths, &reals, &shows, &wild) < 0)
		return -1;
	full = dest[0] == '/' ? cn_xstrdup(dest) :
		cn_xasprintf("%s/%s", o->workdir ? o->workdir : "/", dest);
	copy_split_clean(full, true, &dc);
	/* As docker: one source (a pattern matching one file included) may be
	 * copied to a name; several need a directory written with a final '/'. */
	if (paths.n > 1 && !bf_copy_dest_is_dir(dest))
		return cn_err_fail(c->err, CN_ERR_INVALID, "%s: with more than one source file the "
				 "destination must be a directory and end with a /",
				 wild ? "the pattern matches several files" : "several sources");
	if (dc.n > 0 && !bf_copy_dest_is_dir(dest) && paths.n == 1 && !o->parents)
		return copy_to_name(c, paths.v[0], reals.v[0], shows.v[0], &dc);

	dfd = make_dirs(c, dc.v, dc.n);
	if (dfd < 0)
		return -1;
	drel = cn_path_join_all(dc.v, dc.n);
	for (size_t i = 0; i < paths.n; i++) {
		if (o->parents && place_source(c, &dc, paths.v[i], reals.v[i], shows.v[i], c->places.v[i]) < 0)
			return -1;
		if (!o->parents && copy_walk_source(c, paths.v[i], reals.v[i], shows.v[i],
					       &(struct dest){ .fd = dfd, .rel = drel }, NULL) < 0)
			return -1;
	}
	return 0;
}

int bf_copy(const struct bf_copy_opts *o, cn_err *err)
{
	struct copier c = {
		.o = o,
		.sink = &copy_sink,
		.err = err,
		.ig = !o->src_is_root && bf_ignore_count(o->ignore) ? o->ignore : NULL,
		.nign = bf_ignore_count(o->ignore),
		.uid = o->chown ? o->uid : 0,
		.gid = o->chown ? o->gid : 0,
		.chunk = cn_xmalloc(COPY_CHUNK),
		.xlist = cn_xmalloc(COPY_XATTR_BUF),
		.xval = cn_xmalloc(COPY_XATTR_BUF),
		.ex = bf_ignore_count(o->exclude) ? o->exclude : NULL,
	};
	int r = copy_all(&c);
	copy_copier_free(&c);
	return r;
}
