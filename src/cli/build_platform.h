/* build --platform: the platform list as the user gave it, checked before
 * any work (an invalid one is a usage error, never ignored), and the
 * builds it asks for: one per platform, several gathered into an OCI image
 * index (a multi-platform image). */
#ifndef CLI_BUILD_PLATFORM_H
#define CLI_BUILD_PLATFORM_H

#include <stdbool.h>

#include "builder/build.h"
#include "util/strv.h"

/* ARG (NULL: not given; "linux/amd64,linux/arm64") -> OUT, the platforms
 * to build (empty: the host's), each once. 0, or the exit status after
 * printing the error for CMD. */
int cli_build_platforms(const char *cmd, const char *arg, cn_strv *out);

/* bf_build for each of PLATFORMS in turn (none: once for --platform
 * unset); with two or more, RES names an image index of their images.
 * QUIET: no "PLATFORM" headings. */
int cli_build_each(struct store *st, struct bf_build_opts *o, const cn_strv *platforms, bool quiet,
		   struct bf_build_result *res, cn_err *err);

#endif
