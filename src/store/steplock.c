/* Build step locks: tmp/steplock-<key-hex>, flock()ed by the build that
 * runs the step of that cache key, so that two builds missing the same
 * step at the same time (compose builds images in parallel) run it once:
 * the second waits, then finds the first one's result in the cache.
 *
 * The holder unlinks the file before it lets go, so none is left behind.
 * A waiter may have opened the file it unlinked (or one the tmp/ sweep
 * removed, which takes unheld entries), so whoever gets the lock checks
 * that the path still names the inode it locked, and starts over if not. */
#include "store/store.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void lock_name(const char *key, char out[16 + CN_DIGEST_STR_SIZE])
{
	snprintf(out, 16 + CN_DIGEST_STR_SIZE, "steplock-%s", cn_digest_hex(key));
}

int store_step_lock(struct store *st, const char *key, bool wait, int *out, cn_err *err)
{
	char name[16 + CN_DIGEST_STR_SIZE];
	*out = -1;
	if (!cn_digest_valid(key))
		return cn_err_fail(err, CN_ERR_INVALID, "invalid cache key '%s'", key);
	lock_name(key, name);
	for (;;) {
		struct stat held, now;
		int fd;
		/* A Ctrl-C just before the wait would not interrupt it. */
		if (wait && cn_interrupted())
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
		fd = openat(st->tmp_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return cn_err_sys(err, "open the step lock %s", name);
		while (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			if (e == EINTR && !cn_interrupted())
				continue;
			close(fd);
			if (e == EWOULDBLOCK)
				return 0;
			if (e == EINTR)
				return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
			errno = e;
			return cn_err_sys(err, "lock the step lock %s", name);
		}
		if (fstat(fd, &held) == 0 && fstatat(st->tmp_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
			*out = fd;
			return 1;
		}
		/* Unlinked while we waited: the lock is the file the path names now. */
		close(fd);
	}
}

void store_step_unlock(struct store *st, const char *key, int fd)
{
	char name[16 + CN_DIGEST_STR_SIZE];
	if (fd < 0)
		return;
	lock_name(key, name);
	unlinkat(st->tmp_fd, name, 0);
	close(fd);
}
