/* A layer blob from outside (pulled, loaded, or a local tar given to ADD)
 * -> a directory, treating every byte of it as hostile: the entries and
 * the driver. The blob's bytes become tar bytes in extract_input.c
 * (hashing, decompression, caps on size and headers), whiteouts and opaque
 * markers are applied in extract_whiteout.c; the pieces share
 * extract_internal.h.
 *
 * One pass over the input. Caps checked here: the sum of the files' sizes
 * (sparse entries), entries, name length.
 *
 * Every entry's parent directory is resolved from TARGET_FD with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS), so
 * absolute names and symlinks, including ones made by earlier entries,
 * resolve inside the target, on every entry (no cached realpath); the last
 * component is acted on with *at() calls that never follow it (O_EXCL
 * creates, O_NOFOLLOW opens, AT_SYMLINK_NOFOLLOW, linkat without
 * AT_SYMLINK_FOLLOW). Entries are applied in order, hardlinks included.
 * The last parent fd is reused for the next entry with the same parent
 * until anything is removed (creating names cannot change what an existing
 * path resolves to; removing or replacing can). Mount points inside the
 * target are never crossed (RESOLVE_NO_XDEV), changed or replaced.
 * Xattrs are set as layers/xattr.h decides. */
#include "layers/extract_internal.h"
#include "layers/sink.h"
#include "layers/xattr.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/escape.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define EX_DIR_RECORDS_MAX ((size_t)256 << 20)  /* memory for directory times */

/* ---- errors and names --------------------------------------------------------- */

static void set_shown(struct ex *x, const char *raw)
{
	cn_escape_to(x->shown, sizeof(x->shown), raw, EX_SHOWN_MAX, CN_ESCAPE_ASCII);
}

int ex_fail(struct ex *x, int errnum, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!errnum)
		return cn_err_fail(x->err, CN_ERR_INVALID, "layer: entry \"%s\": %s", x->shown, what);
	return cn_err_errno(x->err, errnum, "layer: entry \"%s\": %s", x->shown, what);
}

/* A failure from libarchive: our own stream error if that was the cause. */
static int ar_fail(struct ex *x, const char *where)
{
	const char *msg;
	if (x->src.failed)
		return cn_err_cause(x->err, &x->src.err, "layer%s%s", *where ? ": " : "", where);
	msg = archive_error_string(x->ar);
	return cn_err_fail(x->err, CN_ERR_SYSTEM, "layer: %s%s%s", where, *where ? ": " : "",
			  msg ? msg : "libarchive error");
}

/* The same while reading the current entry's data. */
static int ar_entry_fail(struct ex *x)
{
	const char *msg = archive_error_string(x->ar);
	if (x->src.failed)
		return cn_err_cause(x->err, &x->src.err, "layer: entry \"%s\"", x->shown);
	return ex_fail(x, 0, "%s", msg ? msg : "libarchive error");
}

/* NAME as a root-relative path into OUT ("" for the root; util/path's
 * cleaning, the one COPY and ignore files use); *BASE gets where the last
 * component starts. -1 if a ".." would climb above the root. */
static int clean_path(const char *name, cn_buf *out, size_t *base)
{
	_cleanup_free_ char *clean = cn_path_clean_rel(name);
	const char *slash;

	if (!clean)
		return -1;
	cn_buf_reset(out);
	if (strcmp(clean, "."))
		cn_buf_add(out, clean, strlen(clean));
	slash = out->len ? memrchr(out->data, '/', out->len) : NULL;
	*base = slash ? (size_t)(slash - out->data) + 1 : 0;
	return 0;
}

/* PATH[0, LEN) as a NUL-terminated string in X->parent ("." when empty). */
const char *ex_parent_of(struct ex *x, const char *path, size_t len)
{
	cn_buf_reset(&x->parent);
	if (len == 0)
		cn_buf_addc(&x->parent, '.');
	else
		cn_buf_add(&x->parent, path, len);
	return x->parent.data;
}

void ex_entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)
		ts[1].tv_nsec = 0;
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
		if (ts[0].tv_nsec < 0 || ts[0].tv_nsec > 999999999)
			ts[0].tv_nsec = 0;
	} else {
		ts[0] = ts[1];
	}
}

/* Remove what is at NAME in DIRFD (ST: its lstat), to replace it. */
int ex_remove_existing(struct ex *x, int dirfd, const char *name, const struct stat *st)
{
	x->removals++;
	if (S_ISDIR(st->st_mode)) {
		cn_err sub;
		/* cn_rm_rf_at stops at mount points below NAME, not at NAME. */
		if (st->st_dev != x->root_dev)
			return ex_fail(x, 0, "refusing to replace a mount point");
		if (cn_rm_rf_at(dirfd, name, &sub) < 0)
			return ex_fail(x, 0, "replacing a directory: %s", sub.msg);
		return 0;
	}
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return ex_sys(x, "remove the existing entry");
	return 0;
}

static bool is_missing(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP;
}

/* The directory REL (root-relative, "." for the root) as an fd. CREATE:
 * missing components are made (0755, root-owned), and components that do
 * not resolve to a directory (files, dangling or looping symlinks, ...)
 * are replaced by one. Not CREATE: returns 0 with *OUT = -1 when REL does
 * not resolve to a directory. */
int ex_open_dir(struct ex *x, const char *rel, bool create, int *out)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int cur = -1;
	char *s;

	*out = cn_openat2(x->root, rel, O_PATH | O_DIRECTORY, RESOLVE_FLAGS);
	if (*out >= 0)
		return 0;
	if (errno == EXDEV)
		return ex_fail(x, 0, "'%s' crosses a mount point", rel);
	if (!is_missing(errno))
		return ex_sys(x, "open directory '%s'", rel);
	if (!create)
		return 0;

	/* One component at a time: each prefix is resolved from the root again
	 * (symlinks stay confined); where that fails, the component itself is
	 * looked at, without following it, in the directory that is its parent. */
	cur = openat(x->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return ex_sys(x, "open the target");
	p = cn_xstrdup(rel);
	for (s = p;;) {
		char *slash = strchr(s, '/');
		const char *comp = s;
		struct stat st;
		bool replaced = false;
		int fd;

		if (slash)
			*slash = '\0';
		fd = cn_openat2(x->root, p, O_PATH | O_DIRECTORY, RESOLVE_FLAGS);
		if (fd < 0 && errno == EXDEV)
			return ex_fail(x, 0, "'%s' crosses a mount point", p);
		if (fd < 0 && !is_missing(errno))
			return ex_sys(x, "open directory '%s'", p);
		if (fd < 0) {
			if (ex_mark_ancestors(x, cur) < 0)
				return -1;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				if (S_ISDIR(st.st_mode))
					return ex_fail(x, 0, "directory '%s' cannot be opened", p);
				x->removals++;
				if (unlinkat(cur, comp, 0) < 0)
					return ex_sys(x, "replace '%s' by a directory", p);
				replaced = true;
			} else if (errno != ENOENT) {
				return ex_sys(x, "stat '%s'", p);
			}
			if (mkdirat(cur, comp, 0700) < 0)
				return ex_sys(x, "create directory '%s'", p);
			fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return ex_sys(x, "open directory '%s'", p);
			if (fchmod(fd, 0755) < 0 || fchown(fd, 0, 0) < 0) {
				ex_sys(x, "set up directory '%s'", p);
				close(fd);
				return -1;
			}
			if ((x->overlay && replaced && ex_set_opaque_fd(x, fd) < 0) ||
			    ex_mark(x, -1, NULL, fd, IN_CREATED) < 0) {
				close(fd);
				return -1;
			}
		}
		close(cur);
		cur = fd;
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	*out = CN_TAKE_FD(cur);
	return 0;
}

/* ex_open_dir(REL, create) through the one-entry cache: the fd is borrowed
 * (valid until the next call), never -1 on success. */
static int parent_dir(struct ex *x, const char *rel)
{
	int fd;
	if (x->cached_fd >= 0 && x->cached_at == x->removals && !strcmp(rel, x->cached_path.data))
		return x->cached_fd;
	if (ex_open_dir(x, rel, true, &fd) < 0)
		return -1;
	if (x->cached_fd >= 0)
		close(x->cached_fd);
	x->cached_fd = fd;
	x->cached_at = x->removals;
	cn_buf_reset(&x->cached_path);
	cn_buf_adds(&x->cached_path, rel);
	return fd;
}

/* Ownership from the tar, as uid_t/gid_t (-1 is "no change" to the kernel). */
static int entry_owner(struct ex *x, struct archive_entry *e, uid_t *uid, gid_t *gid)
{
	la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);
	if (u < 0 || u >= (la_int64_t)UINT32_MAX || g < 0 || g >= (la_int64_t)UINT32_MAX)
		return ex_fail(x, 0, "uid/gid %lld/%lld out of range", (long long)u, (long long)g);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/* The tar's xattrs onto FD, or onto NAME in DIRFD (not followed). */
static int set_xattrs(struct ex *x, struct archive_entry *e, int fd, int dirfd, const char *name)
{
	char path[sizeof("/proc/self/fd//") + 3 * sizeof(int) + NAME_MAX + 1];
	const char *key;
	const void *val;
	size_t len;

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	if (fd < 0)
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	while (archive_entry_xattr_next(e, &key, &val, &len) == ARCHIVE_OK) {
		int r;
		if (!key || !layer_xattr_keep(key))
			continue;
		r = fd >= 0 ? fsetxattr(fd, key, val, len, 0) : lsetxattr(path, key, val, len, 0);
		if (r < 0) {
			/* The kernel allows user.* only on files and directories. */
			if (errno == EPERM && fd < 0 && !strncmp(key, "user.", 5))
				continue;
			return ex_sys(x, "set xattr %.64s", key);
		}
	}
	return 0;
}

/* Owner, mode, xattrs, times of what FD is (a file or directory we made or
 * kept). Order matters: chown clears setuid bits and file capabilities. */
static int meta_fd(struct ex *x, struct archive_entry *e, int fd, bool times)
{
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	if (entry_owner(x, e, &uid, &gid) < 0)
		return -1;
	if (fchown(fd, uid, gid) < 0)
		return ex_sys(x, "chown");
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return ex_sys(x, "chmod");
	if (set_xattrs(x, e, fd, -1, NULL) < 0)
		return -1;
	ex_entry_times(e, ts);
	if (times && futimens(fd, ts) < 0)
		return ex_sys(x, "set times");
	return 0;
}

/* The same for NAME in DIRFD (a symlink, device or fifo we just made). */
static int meta_at(struct ex *x, struct archive_entry *e, int dirfd, const char *name, bool is_link)
{
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	if (entry_owner(x, e, &uid, &gid) < 0)
		return -1;
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return ex_sys(x, "chown");
	if (!is_link && cn_chmod_nofollow(dirfd, name, archive_entry_perm(e) & 07777) < 0)
		return ex_sys(x, "chmod");
	if (set_xattrs(x, e, -1, dirfd, name) < 0)
		return -1;
	ex_entry_times(e, ts);
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return ex_sys(x, "set times");
	return 0;
}

static int record_dir_time(struct ex *x, struct archive_entry *e)
{
	struct dir_time *d;
	size_t off = x->dir_paths.len;
	if ((x->ndirs + 1) * sizeof(*x->dirs) + x->dir_paths.len > EX_DIR_RECORDS_MAX ||
	    cn_buf_add(&x->dir_paths, x->path.data, x->path.len + 1) < 0)
		return ex_fail(x, 0, "too many directories (more than %zu MiB of names)",
				EX_DIR_RECORDS_MAX >> 20);
	cn_xgrow((void **)&x->dirs, &x->dirs_cap, x->ndirs + 1, sizeof(*x->dirs));
	d = &x->dirs[x->ndirs++];
	d->off = off;
	ex_entry_times(e, d->ts);
	return 0;
}

/* ---- entry kinds ------------------------------------------------------------ */

static int do_dir(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	bool existed = false, replaced = false;
	struct stat st;

	if (mkdirat(dirfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return ex_sys(x, "create directory");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ex_sys(x, "stat");
		if (S_ISDIR(st.st_mode)) {
			existed = true;         /* dir over dir: keep it, update metadata */
		} else {
			if (ex_remove_existing(x, dirfd, name, &st) < 0)
				return -1;
			if (mkdirat(dirfd, name, 0700) < 0)
				return ex_sys(x, "create directory");
			replaced = true;
		}
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ex_sys(x, "open directory");
	/* O_NOFOLLOW does not stop at a mount point (ADD into a tree that has
	 * one): never change what is mounted there. */
	if (existed && (fstat(fd, &st) < 0 || st.st_dev != x->root_dev))
		return ex_fail(x, 0, "refusing to change a mount point");
	if (meta_fd(x, e, fd, false) < 0)
		return -1;
	if (x->overlay && replaced && ex_set_opaque_fd(x, fd) < 0)
		return -1;
	if (ex_mark(x, -1, NULL, fd, existed ? IN_TOUCHED : IN_CREATED) < 0)
		return -1;
	return record_dir_time(x, e);
}

/* Start writing [*FROM, TO) of FD to disk (layer_extract_opts.writeback);
 * a hint: the caller's sync reports errors. */
static void kick_writeback(int fd, la_int64_t *from, la_int64_t to)
{
	if (to > *from)
		(void)sync_file_range(fd, (off_t)*from, (off_t)(to - *from), SYNC_FILE_RANGE_WRITE);
	*from = to;
}

static int write_data(struct ex *x, int fd, la_int64_t size)
{
	la_int64_t end = 0, kicked = 0;
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		const char *p;
		int r = archive_read_data_block(x->ar, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return ar_entry_fail(x);
		if (off < 0 || (la_int64_t)len > size || off > size - (la_int64_t)len)
			return ex_fail(x, 0, "data beyond the entry's size");
		/* Checked per block: libarchive may hand out blocks it has. */
		if (ex_src_check_stop(&x->src) < 0)
			return ar_entry_fail(x);
		p = buf;
		while (len > 0) {
			ssize_t n = pwrite(fd, p, len, (off_t)off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return ex_sys(x, "write");
			}
			p += n;
			len -= (size_t)n;
			off += n;
		}
		if (off > end)
			end = off;
		if (x->writeback && end - kicked >= EX_WRITEBACK_CHUNK)
			kick_writeback(fd, &kicked, end);
	}
	if (end < size && ftruncate(fd, (off_t)size) < 0)     /* a sparse file's last hole */
		return ex_sys(x, "truncate");
	/* Small files are left to the sync, which batches them. */
	if (x->writeback && end >= EX_WRITEBACK_MIN)
		kick_writeback(fd, &kicked, end);
	return 0;
}

static int do_file(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	la_int64_t size = archive_entry_size(e);

	if ((uint64_t)size > x->max_bytes - x->file_bytes) {
		ex_fail(x, 0, "the layer's files exceed the size limit (%llu bytes)",
			(unsigned long long)x->max_bytes);
		x->err->kind = CN_ERR_TOO_BIG;  /* the caller may say how to raise it */
		return -1;
	}
	x->file_bytes += (uint64_t)size;
	for (int tries = 0;; tries++) {
		struct stat st;
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 0)
			return ex_sys(x, "create");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ex_sys(x, "stat");
		if (ex_remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	}
	if (write_data(x, fd, size) < 0 || meta_fd(x, e, fd, true) < 0)
		return -1;
	return ex_mark(x, -1, NULL, fd, IN_CREATED);
}

static int do_symlink(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	const char *target = archive_entry_symlink(e);
	if (!target || !*target)
		return ex_fail(x, 0, "symlink with an empty target");
	if (strlen(target) > LAYER_EXTRACT_MAX_PATH)
		return ex_fail(x, 0, "symlink target longer than %d bytes", LAYER_EXTRACT_MAX_PATH);
	/* The target is stored as it is: it is only ever followed inside a root. */
	for (int tries = 0;; tries++) {
		struct stat st;
		if (symlinkat(target, dirfd, name) == 0)
			break;
		if (errno != EEXIST || tries > 0)
			return ex_sys(x, "create symlink");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ex_sys(x, "stat");
		if (ex_remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	}
	if (meta_at(x, e, dirfd, name, true) < 0)
		return -1;
	return ex_mark(x, dirfd, name, -1, IN_CREATED);
}

/* Character and block devices, fifos. */
static int do_node(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	mode_t type = archive_entry_filetype(e);
	dev_t rdev = 0;
	if (type != AE_IFIFO)
		rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	for (int tries = 0;; tries++) {
		struct stat st;
		if (mknodat(dirfd, name, type | 0600, rdev) == 0)
			break;
		if (errno != EEXIST || tries > 0)
			return ex_sys(x, "create %s", type == AE_IFIFO ? "fifo" : "device");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ex_sys(x, "stat");
		if (ex_remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	}
	if (meta_at(x, e, dirfd, name, false) < 0)
		return -1;
	return ex_mark(x, dirfd, name, -1, IN_CREATED);
}

/* A hardlink to an entry already in the target; no metadata of its own. */
static int do_hardlink(struct ex *x, const char *linkname, int dirfd, const char *name)
{
	_cleanup_close_ int tdir = -1;
	struct stat tst, st;
	const char *tname;
	size_t tbase;

	if (strlen(linkname) > LAYER_EXTRACT_MAX_PATH)
		return ex_fail(x, 0, "hardlink target longer than %d bytes", LAYER_EXTRACT_MAX_PATH);
	if (clean_path(linkname, &x->link, &tbase) < 0)
		return ex_fail(x, 0, "hardlink target escapes the root");
	if (x->link.len == 0)
		return ex_fail(x, 0, "hardlink to the root directory");
	tname = x->link.data + tbase;
	if (ex_open_dir(x, ex_parent_of(x, x->link.data, tbase ? tbase - 1 : 0), false, &tdir) < 0)
		return -1;
	if (tdir < 0 || fstatat(tdir, tname, &tst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (tdir >= 0 && errno != ENOENT)
			return ex_sys(x, "stat the hardlink target");
		return ex_fail(x, 0, "hardlink target not found in the layer");
	}
	if (S_ISDIR(tst.st_mode))
		return ex_fail(x, 0, "hardlink to a directory");
	if (S_ISCHR(tst.st_mode) && tst.st_rdev == makedev(0, 0))
		return ex_fail(x, 0, "hardlink to a whiteout");
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (st.st_dev == tst.st_dev && st.st_ino == tst.st_ino)
			return 0;       /* already that inode */
		if (ex_remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	} else if (errno != ENOENT) {
		return ex_sys(x, "stat");
	}
	if (linkat(tdir, tname, dirfd, name, 0) < 0)
		return ex_sys(x, "create hardlink");
	return ex_mark(x, dirfd, name, -1, IN_CREATED);
}

/* ---- one entry ------------------------------------------------------------- */

static int extract_entry(struct ex *x, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	const char *name;
	size_t base;
	int dirfd;

	if (!raw)
		return cn_err_fail(x->err, CN_ERR_INVALID, "layer: entry #%llu: unreadable name",
				  (unsigned long long)x->entries);
	set_shown(x, raw);
	if (x->entries > x->max_entries)
		return ex_fail(x, 0, "more than %llu entries in the layer",
				(unsigned long long)x->max_entries);
	if (strlen(raw) > LAYER_EXTRACT_MAX_PATH)
		return ex_fail(x, 0, "name longer than %d bytes", LAYER_EXTRACT_MAX_PATH);
	if (clean_path(raw, &x->path, &base) < 0)
		return ex_fail(x, 0, "path escapes the root");
	/* libarchive reads data after a hardlink (pax) or a non-file header
	 * whose size says so, where other readers (Go's archive/tar) do not:
	 * a tar that two parsers read differently is refused. */
	if (archive_entry_size(e) > 0 && (hardlink || type != AE_IFREG))
		return ex_fail(x, 0, "%s entry with data", hardlink ? "hardlink" : "non-file");
	if (x->path.len == 0) {
		if (hardlink || type != AE_IFDIR)
			return ex_fail(x, 0, "refusing to replace the root directory by a non-directory");
		return 0;               /* the root's own entry: the target keeps its metadata */
	}
	/* A ".wh." name may only be the last component (a whiteout). */
	for (const char *c = x->path.data; c < x->path.data + base; c = strchr(c, '/') + 1)
		if (!strncmp(c, WH_PREFIX, WH_PREFIX_LEN))
			return ex_fail(x, 0, "a directory named \".wh.*\"");
	name = x->path.data + base;
	if (!strncmp(name, WH_PREFIX, WH_PREFIX_LEN))
		return ex_whiteout_entry(x, e, base);
	if (!hardlink && type == AE_IFCHR && archive_entry_rdevmajor(e) == 0 &&
	    archive_entry_rdevminor(e) == 0)
		return ex_fail(x, 0, "character device 0/0 (an overlay whiteout) not named .wh.*");

	dirfd = parent_dir(x, ex_parent_of(x, x->path.data, base ? base - 1 : 0));
	if (dirfd < 0 || ex_mark_ancestors(x, dirfd) < 0)
		return -1;
	if (hardlink)
		return do_hardlink(x, hardlink, dirfd, name);
	switch (type) {
	case AE_IFDIR:
		return do_dir(x, e, dirfd, name);
	case AE_IFREG:
		return do_file(x, e, dirfd, name);
	case AE_IFLNK:
		return do_symlink(x, e, dirfd, name);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		return do_node(x, e, dirfd, name);
	default:
		return ex_fail(x, 0, "unsupported entry type 0%o", (unsigned)type);
	}
}

/* Directory times, last: creating entries changed them. */
static int apply_dir_times(struct ex *x)
{
	for (size_t i = 0; i < x->ndirs; i++) {
		const char *path = x->dir_paths.data + x->dirs[i].off;
		_cleanup_close_ int fd = cn_openat2(x->root, path, O_PATH | O_DIRECTORY | O_NOFOLLOW,
						    RESOLVE_FLAGS);
		if (fd < 0)
			continue;       /* replaced by a later entry */
		if (utimensat(fd, "", x->dirs[i].ts, AT_EMPTY_PATH) < 0) {
			set_shown(x, path);
			return ex_sys(x, "set directory times");
		}
	}
	return 0;
}

/* A warning from the tar reader we can live with: a name that is not valid
 * UTF-8 in a pax record without hdrcharset=BINARY (Go's archive/tar writes
 * them so); libarchive keeps its raw bytes, as other readers do. Any other
 * warning (malformed pax records, too many special headers, an unknown
 * sparse format) could mean we read the tar differently from them. */
static bool benign_warning(struct archive *ar)
{
	static const char *const ok[] = { "Pathname", "Linkname", "Uname", "Gname" };
	const char *msg = archive_error_string(ar);
	for (size_t i = 0; msg && i < CN_ARRAY_SIZE(ok); i++) {
		size_t n = strlen(ok[i]);
		if (!strncmp(msg, ok[i], n) && !strncmp(msg + n, " can't be converted", 19))
			return true;
	}
	return false;
}

/* The next header could not be read. Say what was wrong in words, with the
 * entry before it (set in x->shown) when that entry is the cause. */
static int header_fail(struct ex *x, bool after_link_data)
{
	const char *msg = archive_error_string(x->ar);
	char where[64];
	snprintf(where, sizeof(where), "tar header of entry #%llu", (unsigned long long)x->entries);
	if (x->src.failed)
		return ar_fail(x, where);
	if (after_link_data)
		return cn_err_fail(x->err, CN_ERR_INVALID, "layer: entry \"%s\": a hardlink whose header "
				   "declares data: what follows it is not a tar header", x->shown);
	/* libarchive's own caps on pax records and GNU long names and sparse
	 * maps ("Special header too large", "Rejecting pax extended attribute
	 * > 1MB", "Out of memory" from a sparse map). */
	if (archive_errno(x->ar) == ENOMEM || (msg && (strstr(msg, "too large") || strstr(msg, "> 1MB")))) {
		cn_err_fail(x->err, CN_ERR_INVALID, "layer: %s%s%s%s: its headers exceed the limit (%s)", where,
			    x->entries > 1 ? " (after \"" : "", x->entries > 1 ? x->shown : "",
			    x->entries > 1 ? "\")" : "", msg ? msg : "no memory");
		return -1;
	}
	return ar_fail(x, where);
}

static int extract_all(struct ex *x)
{
	struct archive_entry *e;
	const void *junk;
	bool link_data = false;
	ssize_t n;

	x->ar = archive_read_new();
	if (!x->ar)
		return cn_err_errno(x->err, ENOMEM, "layer: libarchive");
	/* The tar reader only (ustar, pax, GNU); no filter: we decompress. */
	if (archive_read_support_format_tar(x->ar) != ARCHIVE_OK ||
	    archive_read_open(x->ar, &x->src, NULL, ex_src_archive_cb, NULL) != ARCHIVE_OK)
		return ar_fail(x, x->src.failed ? "" : "not a tar archive");
	for (;;) {
		int r;
		if (cn_interrupted())
			return cn_err_fail(x->err, CN_ERR_INTERRUPTED, "interrupted");
		x->src.header_end = x->src.plain + LAYER_EXTRACT_MAX_HEADER;
		r = archive_read_next_header(x->ar, &e);
		x->src.header_end = 0;
		if (r == ARCHIVE_EOF)
			break;
		x->entries++;
		if (r != ARCHIVE_OK && !(r == ARCHIVE_WARN && benign_warning(x->ar)))
			return header_fail(x, link_data);
		/* A hardlink whose ustar header declares data: libarchive (as
		 * Go's reader) ignores the size, so the data is read as the
		 * next header; if that fails, this entry is why. */
		link_data = archive_entry_hardlink(e) && archive_entry_size(e) == 0 &&
			    archive_entry_filetype(e) == AE_IFREG;
		/* The blob may end where this entry's data does (not a sparse
		 * one's: its stored size is not its size). */
		x->src.may_end_at = archive_entry_sparse_count(e) ? UINT64_MAX :
			(uint64_t)archive_filter_bytes(x->ar, 0) + (uint64_t)archive_entry_size(e);
		if (extract_entry(x, e) < 0)
			return -1;
		if (archive_read_data_skip(x->ar) != ARCHIVE_OK)
			return ar_entry_fail(x);
		x->end_of_entries = (uint64_t)archive_filter_bytes(x->ar, 0);
		if (!x->src.synthesized)
			x->src.may_end_at = x->end_of_entries;  /* after its padding */
	}
	/* The rest of the blob, through the same hashes. */
	while ((n = ex_src_read(&x->src, &junk)) > 0)
		;
	if (n < 0)
		return cn_err_cause(x->err, &x->src.err, "layer");
	if (x->src.synthesized)
		return apply_dir_times(x);      /* it ended after a complete entry */
	if (x->src.plain < x->end_of_entries + 512)
		return cn_err_fail(x->err, CN_ERR_INVALID, "layer: the tar has no end-of-archive blocks (truncated?)");
	if (x->src.plain - x->src.zero_tail > x->end_of_entries)
		return cn_err_fail(x->err, CN_ERR_INVALID, "layer: data after the tar's end-of-archive blocks");
	return apply_dir_times(x);
}

static int extract_src(int in_fd, const struct layer_reader *rd, int target_fd,
		       const struct layer_extract_opts *opts, struct layer_extract_result *res, cn_err *err)
{
	locale_t pinned, old = layer_pin_utf8_locale(&pinned);
	struct ex x;
	struct stat st;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	if (res)
		memset(res, 0, sizeof(*res));
	x.err = err;
	x.root = target_fd;
	x.overlay = opts ? opts->overlay_whiteouts : true;
	x.writeback = opts && opts->writeback;
	x.max_bytes = opts && opts->max_bytes ? opts->max_bytes : LAYER_EXTRACT_MAX_BYTES;
	x.max_entries = opts && opts->max_entries ? opts->max_entries : LAYER_EXTRACT_MAX_ENTRIES;
	cn_buf_init(&x.path, 0);
	cn_buf_init(&x.parent, 0);
	cn_buf_init(&x.link, 0);
	cn_buf_init(&x.dir_paths, 0);
	cn_buf_init(&x.cached_path, 0);
	x.cached_fd = -1;

	if (fstat(target_fd, &st) < 0) {
		cn_err_sys(err, "layer: the target");
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		cn_err_fail(err, CN_ERR_CONFLICT, "layer: the target");
		goto out;
	}
	x.root_dev = st.st_dev;
	x.root_ino = st.st_ino;
	if ((rd ? ex_src_open_reader(&x.src, rd, x.max_bytes, opts && opts->bzip2_xz)
	     : ex_src_open(&x.src, in_fd, x.max_bytes, opts && opts->bzip2_xz)) < 0) {
		cn_err_cause(err, &x.src.err, "layer");
		goto out;
	}
	if (extract_all(&x) < 0)
		goto out;
	if (res) {
		ex_src_final(&x.src, res->digest, res->diff_id);
		res->size = x.src.raw;
		res->uncompressed = x.src.plain;
		res->entries = x.entries;
	}
	rc = 0;
out:
	if (x.ar)
		archive_read_free(x.ar);
	ex_src_free(&x.src);
	free(x.seen.v);
	free(x.dirs);
	cn_buf_free(&x.path);
	cn_buf_free(&x.parent);
	cn_buf_free(&x.link);
	cn_buf_free(&x.dir_paths);
	cn_buf_free(&x.cached_path);
	if (x.cached_fd >= 0)
		close(x.cached_fd);
	layer_unpin_locale(old, pinned);
	return rc;
}

int layer_extract(int in_fd, int target_fd, const struct layer_extract_opts *opts,
		  struct layer_extract_result *res, cn_err *err)
{
	return extract_src(in_fd, NULL, target_fd, opts, res, err);
}

int layer_extract_from(const struct layer_reader *rd, int target_fd, const struct layer_extract_opts *opts,
		       struct layer_extract_result *res, cn_err *err)
{
	return extract_src(-1, rd, target_fd, opts, res, err);
}
