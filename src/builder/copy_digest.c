/* bf_copy_digest: the sink that hashes what the walk finds, for the build
 * cache (see copy.h for what is hashed and what is not). */
#include "builder/copy_internal.h"
#include "builder/ignore.h"
#include "builder/statcache.h"
#include "layers/xattr.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

/* Bumped whenever the records below change meaning. */
#define DIGEST_VERSION "cairn COPY sources v2"  /* v2: hard links apart from symlinks */

static void h_u64(struct copier *c, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (unsigned char)v;
	cn_sha256_update(&c->h, b, sizeof(b));
}

static void h_bytes(struct copier *c, const void *p, size_t len)
{
	h_u64(c, len);
	cn_sha256_update(&c->h, p, len);
}

static void h_str(struct copier *c, const char *s)
{
	h_bytes(c, s, strlen(s));
}

static void h_tag(struct copier *c, char tag)
{
	cn_sha256_update(&c->h, &tag, 1);
}

/* Every record starts with a tag byte naming its kind, which fixes the
 * fields that follow; variable-length fields carry their length first. An
 * entry: tag, placed path, permission bits (07777), then per kind:
 *   'd' directory        -             'f' regular file   size, content digest
 *   'l' symlink          target        'p' fifo           -
 *   'c', 'b' device      major, minor
 * followed (directories and files) by one 'x' record (name, value) per
 * extended attribute bf_copy carries over, in name order. 's' (index)
 * starts each expanded source. */
static void fp_u64(struct copier *c, uint64_t v)
{
	cn_sha256_update(&c->fp, &v, sizeof(v));
}

static void h_entry(struct copier *c, char tag, const char *rel, const struct stat *st)
{
	h_tag(c, tag);
	h_str(c, rel);
	h_u64(c, (uint64_t)(st->st_mode & 07777));
	/* The fingerprint changes whenever any entry is touched at all (a
	 * rename or write changes the inode at a path or its ctime), so equal
	 * fingerprints before and after a COPY prove it copied these entries. */
	cn_sha256_update(&c->fp, rel, strlen(rel) + 1);
	fp_u64(c, (uint64_t)st->st_dev);
	fp_u64(c, (uint64_t)st->st_ino);
	fp_u64(c, (uint64_t)st->st_ctim.tv_sec);
	fp_u64(c, (uint64_t)st->st_ctim.tv_nsec);
	fp_u64(c, (uint64_t)st->st_size);
}

static int cmp_xnames(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int h_xattrs(struct copier *c, int fd, const char *show)
{
	_cleanup_free_ char **names = NULL;
	size_t n = 0, cap = 0;
	ssize_t len = flistxattr(fd, c->xlist, COPY_XATTR_BUF);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return cn_err_sys(c->err, "'%s': list extended attributes", show);
	}
	for (char *name = c->xlist; name < c->xlist + len; name += strlen(name) + 1) {
		if (!layer_xattr_keep(name))
			continue;
		cn_xgrow((void **)&names, &cap, n + 1, sizeof(*names));
		names[n++] = name;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_xnames);
	for (size_t i = 0; i < n; i++) {
		ssize_t vlen = fgetxattr(fd, names[i], c->xval, COPY_XATTR_BUF);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;       /* removed since the listing */
			return cn_err_sys(c->err, "'%s': read extended attribute %s", show,
					  names[i]);
		}
		h_tag(c, 'x');
		h_str(c, names[i]);
		h_bytes(c, c->xval, (size_t)vlen);
	}
	return 0;
}

static int digest_dir(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		      const char *dname, const char *rel, const char *show, int *dfd, bool *created)
{
	(void)d;
	(void)dname;
	*dfd = -1;
	*created = true;
	h_entry(c, 'd', rel, st);
	return h_xattrs(c, sfd, show);
}

/* The source directory itself: its mode and xattrs are what a directory
 * COPY creates from it gets. */
static int digest_root(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		       const char *show)
{
	h_entry(c, 'd', d->rel, st);
	return h_xattrs(c, sfd, show);
}

static int digest_file(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		       const char *dname, const char *rel, const char *cpath, const char *show)
{
	_cleanup_free_ char *key = cn_xasprintf("%s/%s", c->ctx_path, cpath);
	char md[CN_DIGEST_STR_SIZE];
	const struct hardlink *h = copy_hardlink_find(c, st);
	(void)d;
	(void)dname;
	if (h) {
		/* A hard link to a file copied before: what it links to (a
		 * tag of its own: a symlink to the same path is another tree). */
		h_entry(c, 'h', rel, st);
		h_str(c, h->rel);
		return 0;
	}
	copy_hardlink_add(c, st, rel, NULL);
	if (bf_statcache_file_digest_st(c->sc, sfd, st, key, md, c->err) < 0)
		return cn_err_wrap(c->err, "'%s'", show);
	h_entry(c, 'f', rel, st);
	h_u64(c, (uint64_t)st->st_size);
	h_str(c, md);
	return h_xattrs(c, sfd, show);
}

static int digest_symlink(struct copier *c, int sdirfd, const char *name, const struct stat *st,
			  const struct dest *d, const char *rel, const char *show)
{
	char target[PATH_MAX];
	(void)d;
	if (copy_read_target(c, sdirfd, name, target, show) < 0)
		return -1;
	h_entry(c, 'l', rel, st);
	h_str(c, target);
	return 0;
}

static int digest_special(struct copier *c, const struct stat *st, const struct dest *d,
			  const char *dname, const char *rel, const char *show)
{
	(void)d;
	(void)dname;
	(void)show;
	if (S_ISFIFO(st->st_mode)) {
		h_entry(c, 'p', rel, st);
		return 0;
	}
	h_entry(c, S_ISCHR(st->st_mode) ? 'c' : 'b', rel, st);
	h_u64(c, major(st->st_rdev));
	h_u64(c, minor(st->st_rdev));
	return 0;
}

static const struct sink digest_sink = {
	.dir_begin = digest_dir,
	.contents = digest_root,
	.file = digest_file,
	.symlink = digest_symlink,
	.special = digest_special,
	.check_top_name = false,
};

int bf_copy_digest(const struct bf_copy_opts *o, const char *ctx_path, struct bf_statcache *sc,
		   char out[CN_DIGEST_STR_SIZE], char fingerprint[CN_DIGEST_STR_SIZE], cn_err *err)
{
	_cleanup_strv_ cn_strv paths = { 0 }, reals = { 0 }, shows = { 0 };
	struct bf_statcache *own = NULL;
	struct copier c = {
		.o = o,
		.sink = &digest_sink,
		.err = err,
		.ig = !o->src_is_root && bf_ignore_count(o->ignore) ? o->ignore : NULL,
		.nign = bf_ignore_count(o->ignore),
		.xlist = cn_xmalloc(COPY_XATTR_BUF),
		.xval = cn_xmalloc(COPY_XATTR_BUF),
		.sc = sc,
		.ctx_path = ctx_path,
		.ex = bf_ignore_count(o->exclude) ? o->exclude : NULL,
	};
	bool wild = false;
	int r = 0;

	/* Without a path there is no key to cache under: a private cache. */
	if (!sc || !ctx_path) {
		c.sc = own = bf_statcache_new();
		c.ctx_path = ctx_path ? ctx_path : "";
	}
	cn_sha256_init(&c.h);
	cn_sha256_init(&c.fp);
	h_str(&c, DIGEST_VERSION);
	if (copy_resolve_sources(&c, &paths, &reals, &shows, &wild) < 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < paths.n; i++) {
		h_tag(&c, 's');
		h_u64(&c, i);
		/* --parents: each source as placed, under its kept parents. */
		if (o->parents) {
			_cleanup_free_ char *dir = NULL;
			const char *name = copy_place_split(c.places.v[i], &dir);
			r = copy_walk_source(&c, paths.v[i], reals.v[i], shows.v[i],
					&(struct dest){ .fd = -1, .rel = dir }, *name ? name : NULL);
		} else
			r = copy_walk_source(&c, paths.v[i], reals.v[i], shows.v[i],
					&(struct dest){ .fd = -1, .rel = "" }, NULL);
	}
	if (r == 0) {
		cn_sha256_final(&c.h, out);
		if (fingerprint)
			cn_sha256_final(&c.fp, fingerprint);
	}
	cn_sha256_free(&c.h);
	cn_sha256_free(&c.fp);
	bf_statcache_free(own);
	copy_copier_free(&c);
	return r;
}
