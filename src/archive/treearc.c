/* A rootfs tree as one compressed archive, for the exports that hand a
 * tree to another runtime: LXC's rootfs.tar.xz, a VM's initramfs (newc
 * cpio). libarchive walks the tree (archive_read_disk: physical, one file
 * system), links hardlinks as each format wants (the linkresolver: tar
 * writes later links without data, newc gives the data to the last) and
 * writes the archive; file data is read here from each entry's path, so
 * an entry the resolver held back is read when it is written. Xattrs are
 * filtered as layers filter them (layers/xattr.h). */
#include "archive/export_internal.h"
#include "layers/xattr.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define TREE_CHUNK ((size_t)64 * 1024)

struct tree {
	struct archive *rd;
	struct archive *wr;
	struct archive_entry_linkresolver *links;
	enum arc_tree_format format;
	char *buf;
	cn_err *err;
};

static int ar_fail(struct tree *t, struct archive *a, const char *what)
{
	const char *msg = archive_error_string(a);
	int e = archive_errno(a);
	if (e > 0)
		return cn_err_errno(t->err, e, "%s%s%s", what, msg ? ": " : "", msg ? msg : "");
	return cn_err_fail(t->err, CN_ERR_SYSTEM, "%s: %s", what, msg ? msg : "libarchive failed");
}

static int open_writer(struct tree *t, int out_fd)
{
	int r;
	t->wr = archive_write_new();
	t->links = archive_entry_linkresolver_new();
	if (!t->wr || !t->links)
		return cn_err_errno(t->err, ENOMEM, "libarchive");
	if (t->format == ARC_TREE_TAR_XZ) {
		/* As layers are written (layers/layer.c): SCHILY.xattr only, the
		 * form GNU tar reads without warnings. */
		r = archive_write_set_format_pax_restricted(t->wr);
		if (r == ARCHIVE_OK)
			r = archive_write_set_format_option(t->wr, "pax", "xattrheader", "SCHILY");
		if (r == ARCHIVE_OK)
			r = archive_write_add_filter_xz(t->wr);
		archive_entry_linkresolver_set_strategy(t->links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	} else {
		r = archive_write_set_format_cpio_newc(t->wr);
		if (r == ARCHIVE_OK)
			r = archive_write_add_filter_gzip(t->wr);
		archive_entry_linkresolver_set_strategy(t->links, ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
	}
	/* No padding after the compressed stream. */
	if (r == ARCHIVE_OK)
		r = archive_write_set_bytes_in_last_block(t->wr, 1);
	if (r == ARCHIVE_OK)
		r = archive_write_open_fd(t->wr, out_fd);
	return r == ARCHIVE_OK ? 0 : ar_fail(t, t->wr, "archive setup");
}

/* Write E, with its data read from its source path when it has any. */
static int write_entry(struct tree *t, struct archive_entry *e)
{
	int64_t left = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	const char *src = archive_entry_sourcepath(e);
	_cleanup_close_ int fd = -1;
	if (archive_entry_filetype(e) != AE_IFREG)
		left = 0;
	/* The reader fills holes with zeros: the archives carry no sparse map. */
	archive_entry_sparse_clear(e);
	if (archive_write_header(t->wr, e) < ARCHIVE_WARN)
		return ar_fail(t, t->wr, archive_entry_pathname(e));
	if (left <= 0)
		return 0;
	fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cn_err_sys(t->err, "open '%s'", src);
	while (left > 0) {
		ssize_t n = read(fd, t->buf, left < (int64_t)TREE_CHUNK ? (size_t)left : TREE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cn_err_sys(t->err, "read '%s'", src);
		if (n == 0)
			return cn_err_fail(t->err, CN_ERR_CONFLICT, "'%s' shrank while it was archived", src);
		if (archive_write_data(t->wr, t->buf, (size_t)n) != n)
			return ar_fail(t, t->wr, archive_entry_pathname(e));
		left -= n;
	}
	return 0;
}

/* Hand E to the link resolver and write what it gives back: nothing yet
 * (held), E, or E and an entry it held until now. */
static int linkify_write(struct tree *t, struct archive_entry *e)
{
	struct archive_entry *spare = NULL;
	int r = 0;
	archive_entry_linkify(t->links, &e, &spare);
	if (e)
		r = write_entry(t, e);
	if (r == 0 && spare)
		r = write_entry(t, spare);
	archive_entry_free(e);
	archive_entry_free(spare);
	return r;
}

/* Only the xattrs an image carries (layer_xattr_keep, as layers are
 * written): not the host's trusted.* or security.* labels on the tree. */
static int keep_xattrs(struct tree *t, struct archive_entry *e)
{
	struct archive_entry *kept;
	const char *name;
	const void *val;
	size_t len;
	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	kept = archive_entry_new();
	if (!kept)
		return cn_err_errno(t->err, ENOMEM, "libarchive");
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK)
		if (name && layer_xattr_keep(name))
			archive_entry_xattr_add_entry(kept, name, val, len);
	archive_entry_xattr_clear(e);
	archive_entry_xattr_reset(kept);
	while (archive_entry_xattr_next(kept, &name, &val, &len) == ARCHIVE_OK)
		archive_entry_xattr_add_entry(e, name, val, len);
	archive_entry_free(kept);
	return 0;
}

/* NAME relative to the root as the format names it: "./x" in tar, "x" in
 * cpio; the root itself is "." in both. */
static char *entry_name(const struct tree *t, const char *rel)
{
	if (!*rel)
		return cn_xstrdup(".");
	return t->format == ARC_TREE_TAR_XZ ? cn_xasprintf("./%s", rel) : cn_xstrdup(rel);
}

static int walk(struct tree *t, const char *root)
{
	size_t rootlen = strlen(root);
	int r;
	t->rd = archive_read_disk_new();
	if (!t->rd)
		return cn_err_errno(t->err, ENOMEM, "libarchive");
	/* No uname/gname lookup (numeric owners), no file flags; cpio has no
	 * room for xattrs or ACLs. */
	if (archive_read_disk_set_symlink_physical(t->rd) != ARCHIVE_OK ||
	    archive_read_disk_set_behavior(t->rd, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS |
					   (t->format == ARC_TREE_CPIO_GZ ?
					    ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL : 0)) != ARCHIVE_OK ||
	    archive_read_disk_open(t->rd, root) != ARCHIVE_OK)
		return ar_fail(t, t->rd, root);
	for (;;) {
		struct archive_entry *e = archive_entry_new();
		const char *path;
		_cleanup_free_ char *name = NULL;
		if (!e)
			return cn_err_errno(t->err, ENOMEM, "libarchive");
		r = archive_read_next_header2(t->rd, e);
		if (r == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (r < ARCHIVE_WARN) {
			archive_entry_free(e);
			return ar_fail(t, t->rd, root);
		}
		path = archive_entry_pathname(e);
		if (!path || strncmp(path, root, rootlen) != 0 || (path[rootlen] && path[rootlen] != '/')) {
			archive_entry_free(e);
			return cn_err_fail(t->err, CN_ERR_SYSTEM, "'%s': walked outside '%s'", path ? path : "?", root);
		}
		if (archive_read_disk_can_descend(t->rd))
			archive_read_disk_descend(t->rd);
		/* A socket cannot be archived (as layers skip them). */
		if (archive_entry_filetype(e) == AE_IFSOCK) {
			archive_entry_free(e);
			continue;
		}
		name = entry_name(t, path[rootlen] ? path + rootlen + 1 : "");
		archive_entry_copy_sourcepath(e, path);
		archive_entry_copy_pathname(e, name);
		archive_entry_unset_atime(e);
		archive_entry_unset_ctime(e);
		archive_entry_unset_birthtime(e);
		if (keep_xattrs(t, e) < 0) {
			archive_entry_free(e);
			return -1;
		}
		if (linkify_write(t, e) < 0)
			return -1;
	}
	/* Links whose other names are not in the tree. */
	for (;;) {
		struct archive_entry *e = NULL, *spare = NULL;
		archive_entry_linkify(t->links, &e, &spare);
		if (!e)
			break;
		r = write_entry(t, e);
		archive_entry_free(e);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int write_extra(struct tree *t, const struct arc_tree_extra *x)
{
	struct archive_entry *e = archive_entry_new();
	_cleanup_free_ char *name = entry_name(t, x->path);
	int r = 0;
	if (!e)
		return cn_err_errno(t->err, ENOMEM, "libarchive");
	archive_entry_copy_pathname(e, name);
	archive_entry_set_mode(e, x->mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_nlink(e, S_ISDIR(x->mode) ? 2 : 1);
	archive_entry_set_rdev(e, x->rdev);
	archive_entry_set_size(e, S_ISREG(x->mode) ? (la_int64_t)x->len : 0);
	if (archive_write_header(t->wr, e) < ARCHIVE_WARN)
		r = ar_fail(t, t->wr, x->path);
	else if (S_ISREG(x->mode) && x->len &&
		 archive_write_data(t->wr, x->data, x->len) != (la_ssize_t)x->len)
		r = ar_fail(t, t->wr, x->path);
	archive_entry_free(e);
	return r;
}

int arc_tree_write(const char *root, enum arc_tree_format format, const struct arc_tree_extra *extra,
		   size_t nextra, int out_fd, cn_err *err)
{
	struct tree t = { .format = format, .err = err, .buf = cn_xmalloc(TREE_CHUNK) };
	int r = open_writer(&t, out_fd);
	if (r == 0 && root)
		r = walk(&t, root);
	for (size_t i = 0; r == 0 && i < nextra; i++)
		r = write_extra(&t, &extra[i]);
	if (r == 0 && archive_write_close(t.wr) != ARCHIVE_OK)
		r = ar_fail(&t, t.wr, "archive end");
	if (t.rd)
		archive_read_free(t.rd);
	if (t.wr)
		archive_write_free(t.wr);
	if (t.links)
		archive_entry_linkresolver_free(t.links);
	free(t.buf);
	return r;
}
