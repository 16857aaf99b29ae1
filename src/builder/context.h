/* Build contexts that are not a directory: a tar on stdin (`build -`), a
 * tar at an http(s) URL, and the git forms cairn refuses. A tar is hostile
 * input: it is unpacked as ADD unpacks an archive (layer_extract: no entry
 * outside the target, no link followed out of it) into a temp dir in the
 * store that the caller removes after the build. */
#ifndef BF_CONTEXT_H
#define BF_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

struct bf_context {
	struct store_tmpdir td;     /* tmp/context-XXXXXX (td.fd < 0: none) */
	char *dir;                  /* the context directory, under td */
	/* Not a tar: stdin held a Buildfile alone (docker's `build - <Dockerfile`),
	 * the context is empty. */
	char *buildfile_text;
	size_t buildfile_len;
};

/* A git context (git@..., git://..., ....git, github.com/...): cairn does
 * not clone; the caller refuses it naming the form. */
bool bf_context_is_git(const char *ctx);
/* https://.../x.tar[.gz] (or http://). */
bool bf_context_is_url(const char *ctx);

/* Stream FD (stdin) into the store and unpack it when it is a tar (plain
 * or compressed); else keep its text as the Buildfile, with an empty
 * context. */
int bf_context_from_fd(struct store *st, int fd, struct bf_context *c, cn_err *err);
/* Download URL (ADD's fetcher) and unpack it as a tar. */
int bf_context_from_url(struct store *st, const char *url, struct bf_context *c, cn_err *err);
void bf_context_free(struct store *st, struct bf_context *c);
/* All of FD (a pipe or a file: -f -) into OUT, at most MAX bytes. */
int bf_read_stream(int fd, const char *name, size_t max, cn_buf *out, cn_err *err);

#endif
