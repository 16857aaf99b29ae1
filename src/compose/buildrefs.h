/* The images a Buildfile reads, for compose's build graph: a service whose
 * Buildfile is FROM (or COPY --from) another service's image builds after
 * it. Pure: the text in, image keys (graph.h's cmp_image_key) out. */
#ifndef CMP_BUILDREFS_H
#define CMP_BUILDREFS_H

#include <stddef.h>

#include "util/err.h"
#include "util/strv.h"

/* TEXT (LEN bytes; NAME for messages) parsed as a Buildfile: the FROM
 * images and COPY/ADD --from words that are no stage (nor scratch, nor a
 * stage index), expanded with the ARGs before the first FROM as ARGS
 * (KEY=VALUE, the build args) override their defaults, appended to OUT as
 * image keys. -1 when the Buildfile does not parse (cairn build says why). */
int cmp_buildfile_images(const char *name, const char *text, size_t len, const cn_strv *args, cn_strv *out,
			 cn_err *err);

#endif
