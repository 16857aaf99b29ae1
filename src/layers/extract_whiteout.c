/* Whiteouts, for layer_extract (extract.c).
 *
 * Snapshot form (overlay_whiteouts): the target starts empty, so whatever
 * exists in it came from this layer; ".wh.NAME" becomes a 0/0 character
 * device unless NAME exists (same-layer entries survive their whiteout; an
 * existing directory becomes opaque instead, as lower content under that
 * name is deleted), and ".wh..wh..opq" sets the opaque xattr whenever it
 * comes.
 *
 * ADD form: the target holds older files. Every inode this extraction
 * creates is recorded as CREATED, every directory it updates or creates
 * something under (up to the root) as TOUCHED, in an open-addressing hash
 * set of (dev, ino); a whiteout or an opaque marker removes what is
 * neither, keeps CREATED entries and recurses into TOUCHED directories.
 * That is exactly "the marker applies before this layer's entries"
 * whatever its position in the tar. */
#include "layers/extract_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define EX_CLEAR_DEPTH 256              /* TOUCHED levels under an opaque dir (ADD form) */

/* ---- the inode set (ADD form) ------------------------------------------- */

static uint32_t dev32(dev_t dev)
{
	return (uint32_t)((major(dev) & 0xfff) << 20 | (minor(dev) & 0xfffff));
}

static size_t iset_hash(uint32_t dev, uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h ^ (h >> 31));
}

static unsigned iset_get(const struct iset *s, dev_t dev, ino_t ino)
{
	uint32_t d = dev32(dev);
	if (!s->cap)
		return 0;
	for (size_t i = iset_hash(d, ino) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		const struct iset_slot *sl = &s->v[i];
		if (!sl->flags)
			return 0;
		if (sl->dev == d && sl->ino == ino)
			return sl->flags;
	}
}

static void iset_add(struct iset *s, uint32_t dev, uint64_t ino, uint32_t flags)
{
	for (size_t i = iset_hash(dev, ino) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		struct iset_slot *sl = &s->v[i];
		if (!sl->flags) {
			*sl = (struct iset_slot){ ino, dev, flags };
			s->n++;
			return;
		}
		if (sl->dev == dev && sl->ino == ino) {
			sl->flags |= flags;
			return;
		}
	}
}

/* 16 bytes a slot, at least 1/4 free: about 22-43 bytes per inode. */
static void iset_put(struct iset *s, dev_t dev, ino_t ino, unsigned flags)
{
	if ((s->n + 1) * 4 > s->cap * 3) {
		struct iset old = *s;
		s->cap = old.cap ? old.cap * 2 : 1024;
		s->v = cn_xcalloc(s->cap, sizeof(*s->v));
		s->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i].flags)
				iset_add(s, old.v[i].dev, old.v[i].ino, old.v[i].flags);
		free(old.v);
	}
	iset_add(s, dev32(dev), ino, flags);
}

/* ---- recording what this extraction made ----------------------------------- */

int ex_mark(struct ex *x, int dirfd, const char *name, int fd, unsigned flags)
{
	struct stat st;
	if (x->overlay)
		return 0;
	if (fd >= 0 ? fstat(fd, &st) : fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return ex_sys(x, "stat");
	iset_put(&x->seen, st.st_dev, st.st_ino, flags);
	return 0;
}

/* Before anything is made in DIRFD (ADD form): DIRFD and the directories
 * above it, up to the root, are TOUCHED. Stops at the first one already
 * known: its ancestors were marked when it was. */
int ex_mark_ancestors(struct ex *x, int dirfd)
{
	int cur = dirfd, owned = -1, r = 0;
	if (x->overlay)
		return 0;
	for (int i = 0; i < 8192; i++) {
		struct stat st;
		int up;
		if (fstat(cur, &st) < 0) {
			r = ex_sys(x, "stat");
			break;
		}
		if ((st.st_dev == x->root_dev && st.st_ino == x->root_ino) ||
		    iset_get(&x->seen, st.st_dev, st.st_ino))
			break;
		iset_put(&x->seen, st.st_dev, st.st_ino, IN_TOUCHED);
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0) {
			r = ex_sys(x, "open ..");
			break;
		}
		if (owned >= 0)
			close(owned);
		owned = cur = up;
	}
	if (owned >= 0)
		close(owned);
	return r;
}

int ex_set_opaque_fd(struct ex *x, int dirfd)
{
	/* Rootless, overlayfs reads user.overlay.* (userxattr). */
	const char *name = cn_userns_nested() ? OPAQUE_XATTR_USERNS : OPAQUE_XATTR;
	if (fsetxattr(dirfd, name, "y", 1, 0) < 0)
		return ex_sys(x, "set %s", name);
	return 0;
}

static int set_opaque_at(struct ex *x, int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ex_sys(x, "open directory");
	return ex_set_opaque_fd(x, fd);
}


/* ---- whiteouts and opaque markers -------------------------------------------- */

/* ADD form: remove everything in DIRFD this extraction did not make,
 * keeping CREATED entries and recursing into TOUCHED directories. */
static int clear_older(struct ex *x, int dirfd, int depth)
{
	_cleanup_buf_ cn_buf names;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_close_ int fd = -1;
	struct dirent *de;

	if (depth > EX_CLEAR_DEPTH)
		return ex_fail(x, 0, "more than %d directory levels to clear", EX_CLEAR_DEPTH);
	cn_buf_init(&names, 0);
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ex_sys(x, "open directory");
	{
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dfd < 0)
			return ex_sys(x, "dup");
		d = fdopendir(dfd);
		if (!d) {
			close(dfd);
			return ex_sys(x, "opendir");
		}
	}
	while ((errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			cn_buf_add(&names, de->d_name, strlen(de->d_name) + 1);
	if (errno)
		return ex_sys(x, "read directory");
	for (size_t i = 0; i < names.len; i += strlen(names.data + i) + 1) {
		const char *name = names.data + i;
		struct stat st;
		unsigned flags;
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return ex_sys(x, "stat");
		}
		flags = iset_get(&x->seen, st.st_dev, st.st_ino);
		if (flags & IN_CREATED)
			continue;
		if (S_ISDIR(st.st_mode) && (flags & IN_TOUCHED)) {
			_cleanup_close_ int sub = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
							 O_CLOEXEC);
			if (sub < 0)
				return ex_sys(x, "open directory");
			if (clear_older(x, sub, depth + 1) < 0)
				return -1;
			continue;
		}
		if (ex_remove_existing(x, fd, name, &st) < 0)
			return -1;
	}
	return 0;
}

/* ".wh..wh..opq" in directory DIR (root-relative). */
static int do_opaque(struct ex *x, const char *dir)
{
	_cleanup_close_ int fd = -1;
	if (ex_open_dir(x, dir, x->overlay, &fd) < 0)
		return -1;
	if (fd < 0)
		return 0;               /* ADD form, nothing there: nothing to hide */
	if (x->overlay) {
		_cleanup_close_ int rd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rd < 0)
			return ex_sys(x, "open directory");
		return ex_set_opaque_fd(x, rd);
	}
	return clear_older(x, fd, 0);
}

/* ".wh.NAME" in directory DIR. */
static int do_whiteout(struct ex *x, struct archive_entry *e, const char *dir, const char *name)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (ex_open_dir(x, dir, x->overlay, &fd) < 0)
		return -1;
	if (fd < 0)
		return 0;
	if (x->overlay) {
		struct timespec ts[2];
		if (mknodat(fd, name, S_IFCHR | 0, makedev(0, 0)) == 0) {
			ex_entry_times(e, ts);
			if (fchownat(fd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
			    utimensat(fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
				return ex_sys(x, "set up whiteout");
			return 0;
		}
		if (errno != EEXIST)
			return ex_sys(x, "create whiteout");
		/* NAME is from this layer and survives; as a directory it now
		 * hides what lower layers had under that name. */
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ex_sys(x, "stat");
		return S_ISDIR(st.st_mode) ? set_opaque_at(x, fd, name) : 0;
	}
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return ex_sys(x, "stat");
	}
	{
		unsigned flags = iset_get(&x->seen, st.st_dev, st.st_ino);
		if (flags & IN_CREATED)
			return 0;
		if (S_ISDIR(st.st_mode) && (flags & IN_TOUCHED)) {
			_cleanup_close_ int sub = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
							 O_CLOEXEC);
			if (sub < 0)
				return ex_sys(x, "open directory");
			return clear_older(x, sub, 0);
		}
	}
	return ex_remove_existing(x, fd, name, &st);
}

int ex_whiteout_entry(struct ex *x, struct archive_entry *e, size_t base)
{
	const char *wname = x->path.data + base;
	const char *target = wname + WH_PREFIX_LEN;
	const char *dir;

	if (archive_entry_hardlink(e) || archive_entry_filetype(e) != AE_IFREG)
		return ex_fail(x, 0, "invalid whiteout: not a regular file");
	dir = ex_parent_of(x, x->path.data, base ? base - 1 : 0);
	if (!strcmp(wname, WH_OPAQUE))
		return do_opaque(x, dir);
	if (!*target || !strcmp(target, ".") || !strcmp(target, ".."))
		return ex_fail(x, 0, "invalid whiteout name");
	/* ".wh..wh.*" (AUFS bookkeeping) would white out a ".wh." name, which
	 * nothing can have. */
	if (!strncmp(target, WH_PREFIX, WH_PREFIX_LEN))
		return 0;
	return do_whiteout(x, e, dir, target);
}
