#include "util/fs.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char chunk[65536];
	struct stat st;
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", name);
	if (fstat(fd, &st) < 0)
		return cn_err_sys(err, "stat '%s'", name);
	if (!S_ISREG(st.st_mode))
		return cn_err_set(err, EINVAL, "'%s' is not a regular file", name);
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
			return cn_err_set(err, EFBIG, "'%s' is larger than %zu bytes", name, max);
		cn_buf_add(out, chunk, (size_t)n);
	}
	return 0;
}

/* Removes the contents of the directory open at fd (which it closes). */
static int rm_contents(int fd, dev_t dev, const char *path, cn_err *err)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;
	if (!d) {
		close(fd);
		return cn_err_sys(err, "open directory '%s'", path);
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cn_err_sys(err, "stat '%s/%s'", path, de->d_name);
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_free_ char *sub = cn_xasprintf("%s/%s", path, de->d_name);
			int cfd;
			if (st.st_dev != dev)
				return cn_err_set(err, EBUSY, "refusing to remove '%s': a mount point", sub);
			cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0)
				return cn_err_sys(err, "open '%s'", sub);
			if (rm_contents(cfd, dev, sub, err) < 0)
				return -1;
			if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
				return cn_err_sys(err, "remove '%s'", sub);
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			return cn_err_sys(err, "remove '%s/%s'", path, de->d_name);
		}
	}
	if (errno)
		return cn_err_sys(err, "read directory '%s'", path);
	return 0;
}

int cn_rm_rf_at(int dirfd, const char *name, cn_err *err)
{
	struct stat st;
	int fd;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return cn_err_sys(err, "stat '%s'", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return cn_err_sys(err, "remove '%s'", name);
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", name);
	if (rm_contents(fd, st.st_dev, name, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return cn_err_sys(err, "remove '%s'", name);
	return 0;
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
