#include "util/fs.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452       /* Linux 6.6, the same number on every arch we build for */
#endif

int cn_chmod_nofollow(int dirfd, const char *name, mode_t mode)
{
	if (syscall(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	return fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW);
}

int cn_openat2(int dirfd, const char *path, int flags, unsigned long long resolve)
{
	struct open_how how = {
		/* openat2 rejects O_PATH with any flag but a few. */
		.flags = (unsigned long long)(flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY)),
		.resolve = resolve | RESOLVE_NO_MAGICLINKS,
	};
	int fd = -1;
	for (int i = 0; i < 16; i++) {
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd;
}

int cn_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cn_copy_fd(int sfd, int dfd, void *chunk, size_t chunk_len, uint64_t max, uint64_t *copied)
{
	uint64_t total = 0;
	bool fast = true;
	int r = 0;
	for (;;) {
		/* One byte past MAX, to tell "exactly MAX" from "more". */
		uint64_t room = max - total < ((uint64_t)1 << 30) ? max - total + 1 : (uint64_t)1 << 30;
		ssize_t n;
		if (fast) {
			n = copy_file_range(sfd, NULL, dfd, NULL, (size_t)room, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				fast = false;
				continue;
			}
		} else {
			n = read(sfd, chunk, room < chunk_len ? (size_t)room : chunk_len);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -1;
			break;
		}
		if (n == 0)
			break;
		if (!fast && cn_write_all(dfd, chunk, (size_t)n) < 0) {
			r = -1;
			break;
		}
		total += (uint64_t)n;
		if (total > max) {
			errno = EFBIG;
			r = -1;
			break;
		}
	}
	if (copied)
		*copied = total;
	return r;
}

int cn_fsync_dir_at(int dirfd, const char *path, cn_err *err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open directory '%s'", path);
	if (fsync(fd) < 0)
		return cn_err_sys(err, "fsync directory '%s'", path);
	return 0;
}

int cn_write_file_atomic(int dirfd, const char *name, const void *data, size_t len,
			 mode_t mode, cn_err *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	const char *slash = strrchr(name, '/');
	_cleanup_free_ char *dir = slash ? cn_xstrndup(name, (size_t)(slash - name)) : cn_xstrdup(".");
	const char *base = slash ? slash + 1 : name;

	tmp = cn_xasprintf("%.*s.%s.tmp-%d-%lx", slash ? (int)(slash - name + 1) : 0, name, base,
			   (int)getpid(), (unsigned long)random());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return cn_err_sys(err, "create '%s'", tmp);
	if (cn_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		cn_err_sys(err, "write '%s'", tmp);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		cn_err_sys(err, "rename '%s' to '%s'", tmp, name);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return cn_fsync_dir_at(dirfd, dir, err);
}

int cn_read_file_at(int dirfd, const char *name, size_t max, cn_buf *out, cn_err *err)
{
	/* O_NONBLOCK: a FIFO must not wait for a writer (cn_read_fd refuses
	 * anything but a regular file, where the flag changes nothing). */
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", name);
	return cn_read_fd(fd, name, max, out, err);
}

int cn_read_fd(int fd, const char *name, size_t max, cn_buf *out, cn_err *err)
{
	char chunk[65536];
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cn_err_sys(err, "stat '%s'", name);
	if (!S_ISREG(st.st_mode))
		return cn_err_fail(err, CN_ERR_INVALID, "'%s' is not a regular file", name);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cn_err_sys(err, "read '%s'", name);
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "'%s' is larger than %zu bytes", name, max);
		cn_buf_add(out, chunk, (size_t)n);
	}
	return 0;
}

/* Removal keeps at most this many directories open: a hostile tree
 * thousands of levels deep must not exhaust the fd table. Deeper levels are
 * closed and found again through ".." (checked by device and inode). */
#define RM_OPEN_LEVELS 16

struct rm_level {
	DIR *d;
	char *name;     /* in the parent */
	dev_t dev;
	ino_t ino;
};

struct rm_walk {
	struct rm_level *stack;
	size_t depth, cap;
	dev_t dev;      /* never cross into another mount */
	bool measure;   /* only add up the space used, remove nothing */
	uint64_t bytes;
	cn_err *err;
};

static int rm_push(struct rm_walk *w, int fd, const char *name, const struct stat *st)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cn_err_sys(w->err, "open directory '%s'", name);
	}
	w->bytes += (uint64_t)st->st_blocks * 512;
	cn_xgrow((void **)&w->stack, &w->cap, w->depth + 1, sizeof(*w->stack));
	w->stack[w->depth++] = (struct rm_level){ .d = d, .name = cn_xstrdup(name),
						  .dev = st->st_dev, .ino = st->st_ino };
	if (w->depth > RM_OPEN_LEVELS) {
		struct rm_level *old = &w->stack[w->depth - 1 - RM_OPEN_LEVELS];
		closedir(old->d);
		old->d = NULL;
	}
	return 0;
}

/* The top level is empty now: remove it from its parent, reopening the
 * parent through ".." if it was closed. */
static int rm_pop(struct rm_walk *w, int top_parent)
{
	struct rm_level *child = &w->stack[w->depth - 1];
	int parent_fd = top_parent;
	if (w->depth > 1) {
		struct rm_level *parent = &w->stack[w->depth - 2];
		if (!parent->d) {
			struct stat st;
			int fd = openat(dirfd(child->d), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != parent->dev || st.st_ino != parent->ino) {
				if (fd >= 0)
					close(fd);
				return cn_err_fail(w->err, CN_ERR_BUSY, "directory '%s' moved during removal", parent->name);
			}
			parent->d = fdopendir(fd);
			if (!parent->d) {
				close(fd);
				return cn_err_sys(w->err, "open directory '%s'", parent->name);
			}
		}
		parent_fd = dirfd(parent->d);
	}
	int r = 0;
	closedir(child->d);
	child->d = NULL;
	if (!w->measure && unlinkat(parent_fd, child->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = cn_err_sys(w->err, "remove directory '%s'", child->name);
	free(child->name);
	w->depth--;
	return r;
}

static int rm_walk(struct rm_walk *w, int top_parent)
{
	while (w->depth > 0) {
		struct rm_level *l = &w->stack[w->depth - 1];
		struct dirent *de;
		struct stat st;
		errno = 0;
		de = readdir(l->d);
		if (!de) {
			if (errno)
				return cn_err_sys(w->err, "read directory '%s'", l->name);
			if (rm_pop(w, top_parent) < 0)
				return -1;
			continue;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(l->d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cn_err_sys(w->err, "stat '%s'", de->d_name);
		}
		if (!S_ISDIR(st.st_mode)) {
			w->bytes += (uint64_t)st.st_blocks * 512;
			if (!w->measure && unlinkat(dirfd(l->d), de->d_name, 0) < 0 && errno != ENOENT)
				return cn_err_sys(w->err, "remove '%s'", de->d_name);
			continue;
		}
		if (st.st_dev != w->dev) {
			if (w->measure)
				continue;
			return cn_err_fail(w->err, CN_ERR_BUSY, "refusing to remove '%s': a mount point", de->d_name);
		}
		int fd = openat(dirfd(l->d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return cn_err_sys(w->err, "open '%s'", de->d_name);
		if (rm_push(w, fd, de->d_name, &st) < 0)
			return -1;
	}
	return 0;
}

static int walk_tree(int dirfd, const char *name, bool measure, uint64_t *bytes, cn_err *err)
{
	struct rm_walk w = { .err = err, .measure = measure };
	struct stat st;
	int fd, r;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return cn_err_sys(err, "stat '%s'", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (bytes)
			*bytes = (uint64_t)st.st_blocks * 512;
		if (!measure && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return cn_err_sys(err, "remove '%s'", name);
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", name);
	w.dev = st.st_dev;
	r = rm_push(&w, fd, name, &st) < 0 ? -1 : rm_walk(&w, dirfd);
	while (w.depth > 0) {
		struct rm_level *l = &w.stack[--w.depth];
		if (l->d)
			closedir(l->d);
		free(l->name);
	}
	free(w.stack);
	if (bytes)
		*bytes = w.bytes;
	if (r < 0)
		return cn_err_wrap(err, "%s '%s'", measure ? "measure" : "remove", name);
	return 0;
}

int cn_rm_rf_at(int dirfd, const char *name, cn_err *err)
{
	return walk_tree(dirfd, name, false, NULL, err);
}

int cn_du_at(int dirfd, const char *name, uint64_t *bytes, cn_err *err)
{
	*bytes = 0;
	return walk_tree(dirfd, name, true, bytes, err);
}

int cn_mkdir_p(const char *path, mode_t mode, cn_err *err)
{
	_cleanup_free_ char *p = cn_xstrdup(path);
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return cn_err_sys(err, "create directory '%s'", p);
			*s = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int cn_lock_at(int dirfd, const char *name, cn_err *err)
{
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r;
	if (fd < 0)
		return cn_err_sys(err, "open the lock %s", name);
	/* A signal (SIGCHLD of a supervisor, SIGWINCH) must not fail the wait. */
	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		cn_err_sys(err, "lock %s", name);
		close(fd);
		return -1;
	}
	return fd;
}
