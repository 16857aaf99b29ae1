/* build --output (-o), as docker buildx spells it: type=local|tar|oci|docker,
 * dest=, name=. The built image is written through the archive module
 * (export and save); the build itself is unchanged and still stores the
 * image (untagged without -t). */
#ifndef CLI_BUILD_OUTPUT_H
#define CLI_BUILD_OUTPUT_H

#include "store/store.h"
#include "util/err.h"
#include "util/strv.h"

enum cli_output_type { CLI_OUT_NONE, CLI_OUT_LOCAL, CLI_OUT_TAR, CLI_OUT_OCI, CLI_OUT_DOCKER };

struct cli_build_output {
	enum cli_output_type type;
	char *dest;             /* a path, or "-" for stdout (tar, oci, docker) */
	char *name;             /* name=, normalized (oci, docker); NULL: the -t tags */
	int stdout_fd;          /* dest "-": the real stdout, kept aside; else -1 */
};

/* One --output value into O: "DIR" (type=local), "-" (type=tar to stdout)
 * or KEY=VALUE,... . A second --output, an unknown type or key, a missing
 * dest: CN_ERR_INVALID, the message naming it. */
int cli_build_output_parse(struct cli_build_output *o, const char *arg, cn_err *err);

/* Before the build: with dest "-" the real stdout is kept for the archive
 * and everything the build prints goes to stderr (as buildx does); a
 * terminal as that stdout is refused before anything is built. */
int cli_build_output_prepare(struct cli_build_output *o, cn_err *err);

/* Write the image MANIFEST (a digest in ST) to the output; TAGS (the -t
 * names) name it in an oci or docker archive when name= is absent. */
int cli_build_output_write(struct cli_build_output *o, struct store *st, const char *manifest,
			   const cn_strv *tags, cn_err *err);

void cli_build_output_free(struct cli_build_output *o);

#endif
