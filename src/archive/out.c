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
#include <unistd.h>

int arc_out_open(const char *dest, struct arc_out *o, cn_err *err)
{
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
	o->path = cn_xstrdup(dest);
	{
		_cleanup_free_ char *copy = cn_xstrdup(dest);
		const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
		o->tmp = cn_xasprintf("%s/.%s.tmp-XXXXXX", dirname(copy), base);
	}
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		cn_err_sys(err, "create a temporary file next to '%s'", dest);
		free(o->tmp);
		free(o->path);
		o->tmp = o->path = NULL;
		return -1;
	}
	fchmod(o->fd, 0644);
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
