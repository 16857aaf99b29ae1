/* Internal to layers/: a gzip writer that deflates on worker threads, as
 * pigz does. The input is cut into fixed PGZ_BLOCK blocks; each is deflated
 * raw on its own, primed with the previous block's last 32 KiB as a
 * dictionary and ended with a sync flush (the last one finishes the stream);
 * the CRCs are combined and the gzip header and trailer are written here.
 * The block boundaries do not depend on the number of workers, so neither
 * do the bytes: the same input and level give the same member everywhere
 * (with the same zlib). Output comes out in order through a callback on the
 * caller's thread. A single-block input (a tiny layer) starts no thread.
 * Memory: PGZ_SLOTS_PER_WORKER blocks in flight per worker, never the input. */
#ifndef LAYER_PGZIP_H
#define LAYER_PGZIP_H

#include <stddef.h>

#include "layers/layer.h"
#include "util/err.h"

#define PGZ_BLOCK LAYER_GZIP_BLOCK
#define PGZ_DICT ((size_t)32 * 1024)
#define PGZ_SLOTS_PER_WORKER 4

/* Receives the compressed bytes in order, on the thread that calls
 * pgz_open, pgz_write and pgz_finish. Returns 0 or -1 with ERR set. */
typedef int (*pgz_emit_fn)(void *ctx, const unsigned char *p, size_t len, cn_err *err);

struct pgz;

/* LEVEL 1-9 (0: zlib's default, 6); WORKERS 1-64 (1: compress on the
 * caller's thread). Emits the gzip header. *OUT is set even when it fails:
 * pgz_free it either way. Workers that cannot be started only mean fewer
 * threads (none: the caller's thread compresses); the bytes are the same. */
int pgz_open(struct pgz **out, int level, int workers, pgz_emit_fn emit, void *ctx, cn_err *err);
int pgz_write(struct pgz *z, const void *data, size_t len, cn_err *err);
/* Compress what is left, emit everything and the trailer. */
int pgz_finish(struct pgz *z, cn_err *err);
/* Stops the workers (waiting for the block each is on) and frees. NULL ok. */
void pgz_free(struct pgz *z);

#endif
