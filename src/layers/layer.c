/* An overlay upper directory -> a compressed OCI layer, in one pass.
 *
 * The tree is walked with fds only (openat/fstatat/readlinkat relative to the
 * directory being listed), so path length and depth never reach a syscall;
 * the walk holds a single directory fd and climbs back with "..", checked
 * against the inode it expects, so depth costs memory, not fds. Entries go
 * to libarchive's restricted-pax writer, whose output lands in layers/sink.c
 * (diff_id, compression, digest, size). */
#include "layers/layer.h"
#include "util/interrupt.h"
#include "layers/sink.h"
#include "layers/xattr.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* One directory on the walk stack: its entry names, sorted, and the next
 * one to visit. */
struct frame {
	char *arena;            /* the names, each NUL-terminated, back to back */
	char **names;           /* sorted pointers into arena */
	size_t n, next;
	size_t path_len;        /* length of this directory's path in walk.path */
	dev_t dev;              /* identity, to check the climb back up via ".." */
	ino_t ino;
};

struct walk {
	struct archive *ar;
	struct archive_entry_linkresolver *links;
	struct layer_sink sink;
	int64_t clamp;
	uint64_t entries;
	cn_buf path;            /* current entry, relative to the root, no "./" */
	char *chunk;            /* LAYER_CHUNK bytes of file content */
	struct frame *stack;
	size_t depth, cap;
	int cur;                /* the directory on top of the stack */
	bool io_failed;         /* the sink failed inside the tar write callback */
	cn_err io_err;          /* ... and why */
	bool discard;           /* failed: the callback refuses further output */
	cn_err *err;
};

static const char *shown(const struct walk *w)
{
	return w->path.len ? w->path.data : ".";
}

/* errno-based failure about the current path. */
static int walk_sys(struct walk *w, const char *what)
{
	return cn_err_sys(w->err, "layer: '%s': %s", shown(w), what);
}

/* libarchive failure: if it came from our own sink, that error is the cause. */
static int walk_ar_fail(struct walk *w, const char *what)
{
	const char *msg;
	if (w->io_failed) {
		if (w->err)
			*w->err = w->io_err;
		return -1;
	}
	msg = archive_error_string(w->ar);
	return cn_err_fail(w->err, CN_ERR_SYSTEM, "layer: '%s': %s: %s", shown(w), what,
			  msg ? msg : "libarchive error");
}

static void path_truncate(struct walk *w, size_t len)
{
	w->path.len = len;
	w->path.data[len] = '\0';
}

/* Make walk.path name NAME inside the directory of frame F. */
static void path_set(struct walk *w, const struct frame *f, const char *name)
{
	path_truncate(w, f->path_len);
	if (f->path_len)
		cn_buf_addc(&w->path, '/');
	cn_buf_adds(&w->path, name);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- tar output ---------------------------------------------------------- */

static la_ssize_t tar_write(struct archive *ar, void *ud, const void *buf, size_t len)
{
	struct walk *w = ud;
	(void)ar;
	if (w->discard)
		return -1;
	if (w->io_failed || layer_sink_write(&w->sink, buf, len, &w->io_err) < 0) {
		w->io_failed = true;
		return -1;
	}
	return (la_ssize_t)len;
}

static int tar_open(struct walk *w)
{
	w->ar = archive_write_new();
	w->links = archive_entry_linkresolver_new();
	if (!w->ar || !w->links)
		return cn_err_errno(w->err, ENOMEM, "layer: libarchive");
	/* Restricted pax: plain ustar unless an entry needs more (xattrs, long
	 * names, big values), and then no atime/ctime. Xattrs only as
	 * SCHILY.xattr.*, the form Go's archive/tar, containerd and GNU tar
	 * read (not also libarchive's own copy). 64 KiB blocks keep the
	 * writes large; the last block is not padded, so the tar ends right
	 * after its two zero blocks. */
	if (archive_write_set_format_pax_restricted(w->ar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->ar, (int)LAYER_CHUNK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->ar, 1) != ARCHIVE_OK ||
	    archive_write_set_format_option(w->ar, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
	    archive_write_open(w->ar, w, NULL, tar_write, NULL) != ARCHIVE_OK)
		return walk_ar_fail(w, "tar setup");
	/* Later links to an inode become hardlink entries without data. */
	archive_entry_linkresolver_set_strategy(w->links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	return 0;
}

static int tar_header(struct walk *w, struct archive_entry *e)
{
	/* ARCHIVE_WARN only says a name was stored as raw bytes. */
	if (archive_write_header(w->ar, e) < ARCHIVE_WARN)
		return walk_ar_fail(w, "tar header");
	w->entries++;
	return 0;
}

static void entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}
#define _cleanup_entry_ _cleanup_(entry_freep)

static time_t entry_mtime(const struct walk *w, const struct stat *st)
{
	int64_t t = st->st_mtim.tv_sec;    /* whole seconds: nanoseconds dropped */
	if (w->clamp >= 0 && t > w->clamp)
		t = w->clamp;
	return (time_t)t;
}

/* An empty root-owned file standing for a whiteout or an opaque marker. */
static int tar_marker(struct walk *w, time_t mtime)
{
	_cleanup_entry_ struct archive_entry *e = archive_entry_new();
	if (!e)
		return cn_err_errno(w->err, ENOMEM, "layer: libarchive");
	archive_entry_copy_pathname(e, w->path.data);
	archive_entry_set_mode(e, AE_IFREG | 0644);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_size(e, 0);
	return tar_header(w, e);
}

/* ---- directory listing and the walk stack -------------------------------- */

/* Read the names in directory FD (not "." or "..") into F, sorted bytewise. */
static int read_names(struct walk *w, int fd, struct frame *f)
{
	_cleanup_buf_ cn_buf arena;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char *p;
	int dfd;

	cn_buf_init(&arena, 0);
	/* fdopendir owns what it is given; the walk keeps FD itself. */
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return walk_sys(w, "dup");
	d = fdopendir(dfd);
	if (!d) {
		int saved = errno;
		close(dfd);
		errno = saved;
		return walk_sys(w, "opendir");
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		cn_buf_add(&arena, de->d_name, strlen(de->d_name) + 1);
		f->n++;
	}
	if (errno)
		return walk_sys(w, "readdir");
	f->names = cn_xcalloc(f->n, sizeof(*f->names));
	f->arena = cn_buf_detach(&arena);
	p = f->arena;
	for (size_t i = 0; i < f->n; i++) {
		f->names[i] = p;
		p += strlen(p) + 1;
	}
	qsort(f->names, f->n, sizeof(*f->names), cmp_names);
	return 0;
}

static void frame_free(struct frame *f)
{
	free(f->names);
	free(f->arena);
	memset(f, 0, sizeof(*f));
}

/* Enter directory NAME of PARENT (walk.path names it). EXPECT, when given,
 * is what fstatat saw there: the opened directory must be that inode. */
static int push_dir(struct walk *w, int parent, const char *name, const struct stat *expect)
{
	_cleanup_close_ int fd = openat(parent, name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct frame *f;
	struct stat st;

	if (fd < 0)
		return walk_sys(w, "open directory");
	if (fstat(fd, &st) < 0)
		return walk_sys(w, "stat");
	if (expect && (st.st_dev != expect->st_dev || st.st_ino != expect->st_ino))
		return cn_err_fail(w->err, CN_ERR_BUSY, "layer: '%s': changed while being read", shown(w));
	cn_xgrow((void **)&w->stack, &w->cap, w->depth + 1, sizeof(*w->stack));
	f = &w->stack[w->depth];
	memset(f, 0, sizeof(*f));
	f->path_len = w->path.len;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if (read_names(w, fd, f) < 0) {
		frame_free(f);
		return -1;
	}
	w->depth++;
	if (w->cur >= 0)
		close(w->cur);
	w->cur = CN_TAKE_FD(fd);
	return 0;
}

/* Leave the top directory; climb back to its parent through "..", which
 * must be the directory we came from (nothing was moved meanwhile). */
static int pop_dir(struct walk *w)
{
	const struct frame *up;
	struct stat st;
	int fd;

	frame_free(&w->stack[--w->depth]);
	if (w->depth == 0)
		return 0;
	up = &w->stack[w->depth - 1];
	path_truncate(w, up->path_len);
	fd = openat(w->cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return walk_sys(w, "open directory");
	if (fstat(fd, &st) < 0 || st.st_dev != up->dev || st.st_ino != up->ino) {
		close(fd);
		return cn_err_fail(w->err, CN_ERR_BUSY, "layer: '%s': moved while being read", shown(w));
	}
	close(w->cur);
	w->cur = fd;
	return 0;
}

/* ---- extended attributes ------------------------------------------------- */

/* The list of xattr names of PATH (not following a final symlink) into *OUT;
 * returns its length, 0 when there are none or the fs has none, -1 on error. */
static ssize_t xattr_list(const char *path, char **out)
{
	*out = NULL;
	for (;;) {
		ssize_t n = llistxattr(path, NULL, 0), m;
		char *buf;
		if (n < 0)
			return errno == ENOTSUP ? 0 : -1;
		if (n == 0)
			return 0;
		buf = cn_xmalloc((size_t)n);
		m = llistxattr(path, buf, (size_t)n);
		if (m >= 0) {
			*out = buf;
			return m;
		}
		free(buf);
		if (errno != ERANGE)    /* ERANGE: it grew in between; ask again */
			return -1;
	}
}

/* The value of xattr NAME of PATH into *OUT (heap, caller frees); its length
 * or -1. */
static ssize_t xattr_get(const char *path, const char *name, char **out)
{
	*out = NULL;
	for (;;) {
		ssize_t n = lgetxattr(path, name, NULL, 0), m;
		char *buf;
		if (n < 0)
			return -1;
		buf = cn_xmalloc(n ? (size_t)n : 1);
		m = lgetxattr(path, name, buf, (size_t)n);
		if (m >= 0) {
			*out = buf;
			return m;
		}
		free(buf);
		if (errno != ERANGE)
			return -1;
	}
}

/* An overlay xattr: note opacity; refuse what this layer could not express
 * (metacopy files have no data in the upper dir; redirects record renames). */
static int overlay_attr(struct walk *w, const char *path, const char *name,
			const char *what, bool *opaque)
{
	_cleanup_free_ char *val = NULL;
	ssize_t n;
	if (!strcmp(what, "metacopy"))
		return cn_err_fail(w->err, CN_ERR_INVALID, "layer: '%s': overlay metacopy file "
				  "(the overlay must be mounted with metacopy=off)", shown(w));
	if (!strcmp(what, "redirect"))
		return cn_err_fail(w->err, CN_ERR_INVALID, "layer: '%s': overlay redirected directory "
				  "(the overlay must be mounted with redirect_dir=off)", shown(w));
	if (strcmp(what, "opaque") != 0)
		return 0;
	n = xattr_get(path, name, &val);
	if (n < 0)
		return errno == ENODATA ? 0 : walk_sys(w, "getxattr");
	if (n == 1 && val[0] == 'y')
		*opaque = true;
	return 0;
}

/* Copy the xattrs of NAME (in the current directory) onto E, in name order
 * so the header does not depend on the file system's order; set *OPAQUE for
 * an opaque overlay directory. */
static int read_xattrs(struct walk *w, const char *name, struct archive_entry *e,
		       bool *opaque)
{
	_cleanup_free_ char *list = NULL;
	_cleanup_free_ const char **names = NULL;
	char path[sizeof("/proc/self/fd//") + 3 * sizeof(int) + NAME_MAX + 1];
	size_t count = 0;
	ssize_t len;

	*opaque = false;
	/* The fd's /proc link reaches the entry without a path from the root,
	 * and the l*xattr calls do not follow NAME if it is a symlink. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", w->cur, name);
	len = xattr_list(path, &list);
	if (len < 0)
		return walk_sys(w, "listxattr");
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
		count++;
	names = cn_xcalloc(count, sizeof(*names));
	count = 0;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
		names[count++] = list + i;
	qsort(names, count, sizeof(*names), cmp_names);

	/* libarchive writes xattrs in reverse order of adding: add them from
	 * the end so the pax header lists them sorted. */
	for (size_t i = count; i-- > 0;) {
		const char *ov = layer_xattr_overlay(names[i]);
		_cleanup_free_ char *val = NULL;
		ssize_t n;
		if (ov) {
			if (overlay_attr(w, path, names[i], ov, opaque) < 0)
				return -1;
			continue;
		}
		if (!layer_xattr_keep(names[i]))
			continue;
		n = xattr_get(path, names[i], &val);
		if (n < 0) {
			if (errno == ENODATA)   /* removed since the listing */
				continue;
			return walk_sys(w, "getxattr");
		}
		archive_entry_xattr_add_entry(e, names[i], val, (size_t)n);
	}
	return 0;
}

/* ---- entries ------------------------------------------------------------- */

/* A 0/0 character device: overlay's mark that NAME was deleted. */
static int write_whiteout(struct walk *w, const char *name, const struct stat *st)
{
	path_truncate(w, w->path.len - strlen(name));
	cn_buf_adds(&w->path, WH_PREFIX);
	cn_buf_adds(&w->path, name);
	return tar_marker(w, entry_mtime(w, st));
}

/* Opaque directory: the marker goes first among its children, so a reader
 * clears what lower layers had there before adding this layer's entries. */
static int write_opaque_marker(struct walk *w, const struct stat *st)
{
	size_t len = w->path.len;
	int r;
	cn_buf_addc(&w->path, '/');
	cn_buf_adds(&w->path, WH_OPAQUE);
	r = tar_marker(w, entry_mtime(w, st));
	path_truncate(w, len);
	return r;
}

/* Open a regular file for its content, making sure it is the inode and size
 * the header will describe. */
static int open_content(struct walk *w, const char *name, const struct stat *st)
{
	int fd = openat(w->cur, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	struct stat now;
	if (fd < 0)
		return walk_sys(w, "open");
	if (fstat(fd, &now) < 0) {
		walk_sys(w, "stat");
		close(fd);
		return -1;
	}
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino || now.st_size != st->st_size) {
		close(fd);
		return cn_err_fail(w->err, CN_ERR_BUSY, "layer: '%s': changed while being read", shown(w));
	}
	return fd;
}

/* Stream SIZE bytes of FD into the current entry, a chunk at a time. */
static int copy_content(struct walk *w, int fd, off_t size)
{
	off_t left = size;
	while (left > 0) {
		size_t want = left < (off_t)LAYER_CHUNK ? (size_t)left : LAYER_CHUNK;
		ssize_t n = read(fd, w->chunk, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return walk_sys(w, "read");
		}
		if (n == 0)
			return cn_err_fail(w->err, CN_ERR_BUSY, "layer: '%s': shrank while being read", shown(w));
		if (archive_write_data(w->ar, w->chunk, (size_t)n) != n)
			return walk_ar_fail(w, "tar data");
		left -= n;
	}
	return 0;
}

static int read_symlink(struct walk *w, const char *name, struct archive_entry *e)
{
	char target[PATH_MAX + 1];
	ssize_t n = readlinkat(w->cur, name, target, sizeof(target));
	if (n < 0)
		return walk_sys(w, "readlink");
	if ((size_t)n >= sizeof(target)) {
		errno = ENAMETOOLONG;
		return walk_sys(w, "readlink");
	}
	target[n] = '\0';
	archive_entry_copy_symlink(e, target);
	return 0;
}

/* Fill E from ST and the type-specific data; no I/O on file content yet. */
static int fill_entry(struct walk *w, const char *name, const struct stat *st,
		      struct archive_entry *e, bool *opaque)
{
	archive_entry_copy_pathname(e, w->path.data);
	archive_entry_set_mode(e, st->st_mode);     /* type, permissions, suid/sgid/sticky */
	archive_entry_set_uid(e, st->st_uid);       /* numeric only: no uname/gname */
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, entry_mtime(w, st), 0);
	/* For the link resolver only; restricted pax does not write these. */
	archive_entry_set_dev(e, st->st_dev);
	archive_entry_set_ino64(e, (la_int64_t)st->st_ino);
	archive_entry_set_nlink(e, (unsigned int)st->st_nlink);
	if (S_ISREG(st->st_mode))
		archive_entry_set_size(e, st->st_size);
	else if (S_ISLNK(st->st_mode) && read_symlink(w, name, e) < 0)
		return -1;
	else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		archive_entry_set_rdev(e, st->st_rdev);
	return read_xattrs(w, name, e, opaque);
}

/* Write the entry for NAME (walk.path names it). Returns 1 for a directory
 * to descend into, 0 when done with it, -1 on error. ST receives its stat. */
static int write_entry(struct walk *w, const char *name, struct stat *st)
{
	_cleanup_entry_ struct archive_entry *e = NULL;
	_cleanup_close_ int fd = -1;
	bool opaque = false;

	if (!strncmp(name, WH_PREFIX, strlen(WH_PREFIX)))
		return cn_err_fail(w->err, CN_ERR_INVALID, "layer: '%s': names starting with .wh. "
				  "cannot be stored in a layer", shown(w));
	if (fstatat(w->cur, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return walk_sys(w, "stat");
	if (S_ISSOCK(st->st_mode))  /* runtime state; tar has no type for it */
		return 0;
	if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0)
		return write_whiteout(w, name, st) < 0 ? -1 : 0;

	e = archive_entry_new();
	if (!e)
		return cn_err_errno(w->err, ENOMEM, "layer: libarchive");
	if (fill_entry(w, name, st, e, &opaque) < 0)
		return -1;
	if (!S_ISDIR(st->st_mode)) {
		struct archive_entry *spare = NULL;
		archive_entry_linkify(w->links, &e, &spare);  /* tar strategy: e stays e */
		if (spare)
			archive_entry_free(spare);
	}
	if (S_ISREG(st->st_mode) && !archive_entry_hardlink(e) && st->st_size > 0) {
		fd = open_content(w, name, st);
		if (fd < 0)
			return -1;
	}
	if (tar_header(w, e) < 0)
		return -1;
	if (fd >= 0)
		return copy_content(w, fd, st->st_size);
	if (!S_ISDIR(st->st_mode))
		return 0;
	if (opaque && write_opaque_marker(w, st) < 0)
		return -1;
	return 1;
}

static int walk_tree(struct walk *w)
{
	while (w->depth > 0) {
		struct frame *f = &w->stack[w->depth - 1];
		const char *name;
		struct stat st;
		int r;

		if (f->next == f->n) {
			if (pop_dir(w) < 0)
				return -1;
			continue;
		}
		/* Ctrl-C: a big layer must not keep the user waiting. */
		if (cn_interrupted())
			return cn_err_fail(w->err, CN_ERR_INTERRUPTED, "interrupted");
		name = f->names[f->next++];
		path_set(w, f, name);
		r = write_entry(w, name, &st);
		if (r < 0)
			return -1;
		if (r == 1 && push_dir(w, w->cur, name, &st) < 0)
			return -1;
	}
	return 0;
}

static void walk_free(struct walk *w, bool failed)
{
	if (w->ar) {
		/* After a failure nothing more may reach the output, but close
		 * must still run: libarchive 3.6 frees its block buffer there. */
		if (failed) {
			w->discard = true;
			archive_write_close(w->ar);
		}
		archive_write_free(w->ar);
	}
	archive_entry_linkresolver_free(w->links);
	while (w->depth > 0)
		frame_free(&w->stack[--w->depth]);
	free(w->stack);
	if (w->cur >= 0)
		close(w->cur);
	layer_sink_free(&w->sink);
	free(w->chunk);
	cn_buf_free(&w->path);
}

int layer_write_dir(int dirfd, int out_fd, const struct layer_write_opts *opts,
		    struct layer_info *info, cn_err *err)
{
	locale_t pinned, old = layer_pin_utf8_locale(&pinned);
	struct walk w;
	int rc = -1;

	memset(&w, 0, sizeof(w));
	memset(info, 0, sizeof(*info));
	cn_buf_init(&w.path, 0);
	w.cur = -1;
	w.err = err;
	w.clamp = opts ? opts->clamp_mtime : -1;
	w.chunk = cn_xmalloc(LAYER_CHUNK);

	if (layer_sink_open(&w.sink, opts ? opts->compression : LAYER_ZSTD, opts ? opts->level : 0, out_fd, err) < 0 ||
	    tar_open(&w) < 0 ||
	    push_dir(&w, dirfd, ".", NULL) < 0 ||
	    walk_tree(&w) < 0)
		goto out;
	if (archive_write_close(w.ar) != ARCHIVE_OK) {
		walk_ar_fail(&w, "tar end");
		goto out;
	}
	if (layer_sink_finish(&w.sink, info, err) < 0)
		goto out;
	info->entries = w.entries;
	rc = 0;
out:
	walk_free(&w, rc < 0);
	layer_unpin_locale(old, pinned);
	return rc;
}
