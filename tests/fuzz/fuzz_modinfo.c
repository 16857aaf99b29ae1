/* A kernel module's declared dependencies (archive/kmod.c): the ELF64
 * section headers and the .modinfo strings of a module that may come from
 * an image, for `export --format disk --kernel`. */
#include "fuzz.h"

#include "archive/export_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy with the alignment a read file has (the parser casts). */
	unsigned char *copy = cn_xmalloc(size ? size : 1);
	cn_strv deps = { 0 };
	cn_err err;
	memcpy(copy, data, size);
	if (arc_modinfo_depends(copy, size, &deps, &err) == 0) {
		/* What the loader script relies on: plain module names. */
		for (size_t i = 0; i < deps.n; i++)
			if (!deps.v[i][0] || strspn(deps.v[i], "abcdefghijklmnopqrstuvwxyz"
							      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(deps.v[i]))
				abort();
	}
	cn_strv_free(&deps);
	free(copy);
	return 0;
}
