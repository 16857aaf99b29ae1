/* --build-context NAME=DIR|docker-image://REF, as BuildKit: FROM NAME and
 * COPY --from=NAME (and RUN --mount from=NAME for an image) read that
 * directory or image in place of a stage or an image of that name. A
 * directory is a context of its own: its own .dockerignore (or
 * .buildignore), its files keyed by the same content walk as the main
 * context's. */
#ifndef BF_NAMEDCTX_H
#define BF_NAMEDCTX_H

#include <stdbool.h>

#include "builder/ignore.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/strv.h"

#define BF_NAMED_IMAGE_PREFIX "docker-image://"

/* One --build-context value: NAME=DIR (an existing directory) or
 * NAME=docker-image://REF; other sources (URLs, git, oci-layout://,
 * target:) are refused naming the form. CN_ERR_INVALID or a system error. */
int bf_named_ctx_check(const char *arg, cn_err *err);

struct build;
struct bf_instr;

/* The value NAME is given by --build-context (the last one wins), or NULL. */
const char *bd_named_ctx(const struct build *b, const char *name);
/* REF when NAME is docker-image://REF, else NULL. */
const char *bd_named_image(const struct build *b, const char *name);

/* A directory context opened for one step. */
struct bd_named_dir {
	int fd;                 /* -1: not a directory context */
	char *path;             /* absolute (the stat cache's keys) */
	char *name;             /* NAME, for messages */
	struct bf_ignore *ignore;
};
/* COPY --from=NAME (expanded) when NAME is a directory context: D open
 * (1), or not one (0, D->fd -1), or -1. */
int bd_named_dir_open(struct build *b, const struct bf_instr *in, struct bd_named_dir *d, cn_err *err);
/* The directory context NAME, which is DIR: 1, or -1. */
int bd_named_dir_open_name(const char *name, const char *dir, struct bd_named_dir *d, cn_err *err);
/* FROM NAME for the directory context NAME=DIR: as BuildKit, the stage
 * starts as that directory's files on an empty root (one layer, keyed by
 * their content). */
int bd_from_named_dir(struct build *b, const char *name, const char *dir, cn_err *err);
/* What IN copies from D: its sources' content digest (bf_copy_digest,
 * through the build's stat cache), for the step's key. */
int bd_named_dir_digest(struct build *b, const struct bf_instr *in, const struct bd_named_dir *d,
			char digest[CN_DIGEST_STR_SIZE], cn_err *err);
void bd_named_dir_close(struct bd_named_dir *d);

#endif
