/* COPY: files from the build context into a root file system, with
 * Dockerfile semantics. Sources are confined to the context (escaping is an
 * error), destinations are resolved inside the root (image symlinks cannot
 * lead outside). */
#ifndef BF_COPY_H
#define BF_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

struct bf_copy_opts {
	int ctx_fd;                 /* build context root (directory fd) */
	int root_fd;                /* destination root file system (directory fd) */
	const char *const *srcs;    /* expanded sources, relative to the context; may hold globs */
	size_t nsrcs;
	const char *dest;           /* expanded destination; relative => under workdir */
	const char *workdir;        /* absolute, "/" by default */
	bool chown;                 /* apply uid/gid, else 0:0 */
	uid_t uid;
	gid_t gid;
	bool chmod;                 /* apply mode to every copied file and dir */
	mode_t mode;
};

/* Errors read like "COPY: 'x': no such file in the build context" or
 * "COPY: 'x': points outside the build context". */
int bf_copy(const struct bf_copy_opts *o, cn_err *err);

#endif
