/* bd_abs_path: WORKDIR, COPY/ADD destinations and RUN mount targets as
 * absolute, clean paths in the image (the one lexical cleaner, util/path.h,
 * on the path joined to the working directory). */
#include "builder/build_internal.h"
#include "unit.h"

#include <stdlib.h>

int main(void)
{
	static const struct { const char *cwd, *path, *want; } cases[] = {
		{ "/w", "a/./b/../c//", "/w/a/c" },
		{ "/w", "/abs//x/", "/abs/x" },
		{ "/w", "", "/w" },
		{ "/w", ".", "/w" },
		{ "/w/x", "..", "/w" },
		{ "/", "../../..", "/" },
		{ "/w", "../../../etc", "/etc" },
		{ NULL, "rel", "/rel" },
		{ "", "rel", "/rel" },
		{ ".", "rel", "/rel" },
		/* A relative WorkingDir from a base image still gives an absolute path. */
		{ "base", "rel", "/base/rel" },
		{ "/a/b/", "c", "/a/b/c" },
		{ "/w", "//", "/" },
		{ "/w", "/..", "/" },
		{ "/w", "dir/", "/w/dir" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = bd_abs_path(cases[i].cwd, cases[i].path);
		UNIT_STREQ(got, cases[i].want, "'%s' in '%s'", cases[i].path,
			   cases[i].cwd ? cases[i].cwd : "(null)");
		free(got);
	}
	return UNIT_DONE();
}
