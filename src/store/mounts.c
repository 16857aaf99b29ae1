#include "store/mounts.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOUNTS_DIR "mounts"

int store_cache_mount_path(struct store *st, const char *key, char **path, cn_err *err)
{
	char digest[CN_DIGEST_STR_SIZE];
	*path = NULL;
	cn_sha256_oneshot(key, strlen(key), digest);
	if (mkdirat(st->root_fd, MOUNTS_DIR, 0700) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create '%s/" MOUNTS_DIR "'", st->root);
	*path = cn_xasprintf("%s/" MOUNTS_DIR "/%s", st->root, cn_digest_hex(digest));
	return 0;
}

/* Open mounts/ for reading its entries; NULL (and no error) when absent. */
static int open_mounts(struct store *st, DIR **out, cn_err *err)
{
	int fd = openat(st->root_fd, MOUNTS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	*out = NULL;
	if (fd < 0)
		return errno == ENOENT ? 0 : cn_err_sys(err, "open '%s/" MOUNTS_DIR "'", st->root);
	*out = fdopendir(fd);
	if (!*out) {
		close(fd);
		return cn_err_sys(err, "read '%s/" MOUNTS_DIR "'", st->root);
	}
	return 0;
}

static bool is_entry(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

int store_cache_mounts_du(struct store *st, size_t *count, uint64_t *bytes, cn_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	*count = 0;
	*bytes = 0;
	if (open_mounts(st, &d, err) < 0)
		return -1;
	while (d && (de = readdir(d))) {
		uint64_t n = 0;
		cn_err ignored;
		if (!is_entry(de))
			continue;
		(*count)++;
		if (cn_du_at(dirfd(d), de->d_name, &n, &ignored) == 0)
			*bytes += n;
	}
	return 0;
}

int store_cache_mounts_remove(struct store *st, size_t *count, uint64_t *bytes, size_t *failures,
			      cn_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	*count = 0;
	*bytes = 0;
	if (open_mounts(st, &d, err) < 0)
		return -1;
	while (d && (de = readdir(d))) {
		struct store_tmpdir td;
		uint64_t n = 0;
		cn_err ignored;
		if (!is_entry(de))
			continue;
		if (store_tmpdir_create_locked(st, "rm", &td, &ignored) < 0) {
			(*failures)++;
			continue;
		}
		if (renameat(dirfd(d), de->d_name, td.fd, "mount") < 0) {
			(*failures)++;
		} else {
			cn_du_at(td.fd, "mount", &n, &ignored);
			(*count)++;
			*bytes += n;
		}
		store_tmpdir_remove(st, &td);
	}
	return 0;
}
