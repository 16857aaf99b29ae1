/* bd_abs_path: WORKDIR, COPY/ADD destinations and RUN mount targets as
 * absolute, clean paths in the image (the one lexical cleaner, util/path.h,
 * on the path joined to the working directory). */
#include "builder/build_internal.h"
#include "unit.h"

#include <stdlib.h>

static void abs_is(const char *cwd, const char *path, const char *want)
{
	char *got = bd_abs_path(cwd, path);
	UNIT_STREQ(got, want, "'%s' in '%s'", path, cwd ? cwd : "(null)");
	free(got);
}

int main(void)
{
	abs_is("/w", "a/./b/../c//", "/w/a/c");
	abs_is("/w", "/abs//x/", "/abs/x");
	abs_is("/w", "", "/w");
	abs_is("/w", ".", "/w");
	abs_is("/w/x", "..", "/w");
	abs_is("/", "../../..", "/");
	abs_is("/w", "../../../etc", "/etc");
	abs_is(NULL, "rel", "/rel");
	abs_is("", "rel", "/rel");
	abs_is(".", "rel", "/rel");
	/* A relative WorkingDir from a base image still gives an absolute path. */
	abs_is("base", "rel", "/base/rel");
	abs_is("/a/b/", "c", "/a/b/c");
	abs_is("/w", "//", "/");
	abs_is("/w", "/..", "/");
	abs_is("/w", "dir/", "/w/dir");
	return UNIT_DONE();
}
