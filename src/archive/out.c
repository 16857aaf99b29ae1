#include "archive/imgarchive.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

/* A partial output is ".NAME.cairn-tmp-XXXXXX" next to its target, flock()ed
 * by its writer from before it has a name (O_TMPFILE, then linked), so the
 * next output to that directory can tell a killed writer's leftover (no
 * lock) from one being written, and remove it. */
#define TMP_MARK ".cairn-tmp-"
#define TMP_RAND 6

static bool is_our_tmp(const char *name)
{
	const char *mark = strstr(name, TMP_MARK);
	return name[0] == '.' && mark && mark > name + 1 && strlen(mark) == strlen(TMP_MARK) + TMP_RAND &&
	       !strchr(mark + strlen(TMP_MARK), '/');
}

/* Remove the unlocked leftovers in DIR (best effort: a failure leaves
 * them for the next sweep). The lock is tested on the file itself, never
 * through a symlink. */
static void sweep_leftovers(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		_cleanup_close_ int fd = -1;
		struct stat st;
		if (!is_our_tmp(de->d_name))
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), de->d_name, 0);
	}
}

/* Give the locked unnamed file FD the name DIR/.BASE.cairn-tmp-XXXXXX. */
static char *link_tmp(int fd, const char *dir, const char *base)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[TMP_RAND];
		char suffix[TMP_RAND + 1];
		char *path;
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return NULL;
		for (int i = 0; i < TMP_RAND; i++)
			suffix[i] = chars[r[i] % (sizeof(chars) - 1)];
		suffix[TMP_RAND] = '\0';
		path = cn_xasprintf("%s/.%s" TMP_MARK "%s", dir, base, suffix);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
			return path;
		free(path);
		if (errno != EEXIST)
			return NULL;
	}
	errno = EEXIST;
	return NULL;
}

int arc_out_open(const char *dest, struct arc_out *o, cn_err *err)
{
	_cleanup_free_ char *copy = NULL;
	const char *dir, *base;
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (!dest || strcmp(dest, "-") == 0) {
		/* As docker does: binary output never goes to a terminal. */
		if (isatty(STDOUT_FILENO))
			return cn_err_fail(err, CN_ERR_INVALID,
					    "refusing to write an archive to a terminal: use -o FILE or a pipe");
		o->fd = STDOUT_FILENO;
		return 0;
	}
	copy = cn_xstrdup(dest);
	dir = dirname(copy);
	base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
	sweep_leftovers(dir);
	o->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (o->fd >= 0) {
		if (flock(o->fd, LOCK_EX) < 0 || !(o->tmp = link_tmp(o->fd, dir, base))) {
			cn_err_sys(err, "create a temporary file next to '%s'", dest);
			close(o->fd);
			o->fd = -1;
			return -1;
		}
	} else {
		/* No O_TMPFILE here: a named file, locked at once (a sweep in
		 * between could take it; the write then fails loudly). */
		o->tmp = cn_xasprintf("%s/.%s" TMP_MARK "XXXXXX", dir, base);
		o->fd = mkostemp(o->tmp, O_CLOEXEC);
		if (o->fd < 0 || flock(o->fd, LOCK_EX) < 0) {
			cn_err_sys(err, "create a temporary file next to '%s'", dest);
			if (o->fd >= 0) {
				unlink(o->tmp);
				close(o->fd);
			}
			free(o->tmp);
			o->tmp = NULL;
			o->fd = -1;
			return -1;
		}
		fchmod(o->fd, 0644);
	}
	o->path = cn_xstrdup(dest);
	return 0;
}

int arc_out_commit(struct arc_out *o, cn_err *err)
{
	if (!o->path)
		return 0;
	if (fsync(o->fd) < 0)
		return cn_err_sys(err, "write '%s'", o->path);
	if (rename(o->tmp, o->path) < 0)
		return cn_err_sys(err, "rename '%s' to '%s'", o->tmp, o->path);
	free(o->tmp);
	o->tmp = NULL;
	close(o->fd);
	o->fd = -1;
	return 0;
}

void arc_out_abort(struct arc_out *o)
{
	if (o->tmp)
		unlink(o->tmp);
	if (o->path && o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
}
