#include "container/volume.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool ctr_volume_name_ok(const char *name)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = strlen(name);
	return n >= 2 && n <= 255 && strchr(alnum, name[0]) && name[0] &&
	       strspn(name + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n - 1;
}

char *ctr_volume_path(struct store *st, const char *name, cn_err *err)
{
	char *path;
	if (!ctr_volume_name_ok(name)) {
		cn_err_fail(err, CN_ERR_INVALID, "'%s' is not a valid volume name (letters, digits, '_', '.', "
			    "'-'; at least two, the first a letter or digit; a host directory is an "
			    "absolute path)", name);
		return NULL;
	}
	path = cn_xasprintf("%s/volumes/%s/_data", st->root, name);
	if (cn_mkdir_p(path, 0755, err) < 0) {
		cn_err_wrap(err, "volume '%s'", name);
		free(path);
		return NULL;
	}
	return path;
}
