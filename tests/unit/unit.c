/* Fixtures shared by the unit tests (declared in unit.h): temp trees and
 * the files in them. Each exits 2 when the host refuses, so a broken
 * fixture never reads as a passing test. */
#include "unit.h"

#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

void unit_fixture_fail(const char *what)
{
	printf("# fixture: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(2);
}

int unit_tmpdir(char *tmpl)
{
	int fd;
	if (!mkdtemp(tmpl))
		unit_fixture_fail(tmpl);
	fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		unit_fixture_fail(tmpl);
	return fd;
}

void unit_rmtree(const char *path)
{
	cn_rm_rf_at(AT_FDCWD, path, NULL);
}

void unit_put_bytes(int dirfd, const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || cn_write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0)
		unit_fixture_fail(path);
	close(fd);
}

void unit_put(int dirfd, const char *path, const char *data, mode_t mode)
{
	unit_put_bytes(dirfd, path, data, strlen(data), mode);
}

void unit_mkdir(int dirfd, const char *path, mode_t mode)
{
	if (mkdirat(dirfd, path, mode) < 0 || fchmodat(dirfd, path, mode, 0) < 0)
		unit_fixture_fail(path);
}

void unit_chmod(int dirfd, const char *path, mode_t mode)
{
	if (fchmodat(dirfd, path, mode, 0) < 0)
		unit_fixture_fail(path);
}

void unit_symlink(int dirfd, const char *target, const char *path)
{
	if (symlinkat(target, dirfd, path) < 0)
		unit_fixture_fail(path);
}

int unit_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r, saved;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int unit_fresh_dir(int dirfd, const char *path, mode_t mode)
{
	int fd;
	cn_rm_rf_at(dirfd, path, NULL);
	unit_mkdir(dirfd, path, mode);
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		unit_fixture_fail(path);
	return fd;
}

int unit_deep_dirs(int dirfd, const char *top, int levels)
{
	int fd;
	unit_mkdir(dirfd, top, 0755);
	fd = openat(dirfd, top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < levels && fd >= 0; i++) {
		int next = -1;
		if (mkdirat(fd, "d", 0755) == 0)
			next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	if (fd < 0)
		unit_fixture_fail(top);
	return fd;
}

void unit_mtime(int dirfd, const char *path, int64_t sec, long nsec)
{
	struct timespec ts[2] = { { (time_t)sec, nsec }, { (time_t)sec, nsec } };
	if (utimensat(dirfd, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		unit_fixture_fail(path);
}

void unit_setxattr(const char *path, const char *name, const void *val, size_t len)
{
	if (lsetxattr(path, name, val, len, 0) < 0)
		unit_fixture_fail(name);
}

char *unit_slurp(int dirfd, const char *path)
{
	static char buf[4096];
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

size_t unit_count_entries(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return (size_t)-1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

bool unit_exists(int dirfd, const char *path)
{
	struct stat st;
	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

const char *unit_corpus_dir(void)
{
	const char *c = getenv("CONFORMANCE");
	return c && *c ? c : "../shared/conformance";
}
