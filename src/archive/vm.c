#include "archive/export_internal.h"
int arc_export_initramfs(struct store *st, const struct store_image *img, const char *dest, cn_err *err)
{
	(void)st; (void)img; (void)dest;
	return cn_err_fail(err, CN_ERR_UNSUPPORTED, "not yet");
}
int arc_export_disk(struct store *st, const struct store_image *img, const char *dest,
		    const struct arc_export_opts *opts, cn_err *err)
{
	(void)st; (void)img; (void)dest; (void)opts;
	return cn_err_fail(err, CN_ERR_UNSUPPORTED, "not yet");
}
#include "util/mem.h"
#include <string.h>
char *arc_disk_sibling(const char *dest, const char *suffix)
{
	size_t n = strlen(dest);
	if (n > 4 && !strcmp(dest + n - 4, ".img"))
		n -= 4;
	return cn_xasprintf("%.*s%s", (int)n, dest, suffix);
}
