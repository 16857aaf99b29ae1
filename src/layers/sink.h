/* Internal to layers/: the byte sink behind the tar writer. Uncompressed tar
 * bytes go in; it hashes them (diff_id), compresses them (zstd or gzip, with
 * fixed parameters so the same input always gives the same blob), hashes and
 * counts the compressed bytes (digest, size) and writes them to an fd.
 * zstd compresses on worker threads (libzstd's own), gzip on pgzip.c's
 * (fixed 128 KiB blocks, as pigz), the hashing and the
 * writes run on one more (hashpipe.c); the caller's thread copies. */
#ifndef LAYER_SINK_H
#define LAYER_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <locale.h>
#include <stdint.h>
#include <zstd.h>

#include "layers/hashpipe.h"
#include "layers/layer.h"
#include "util/digest.h"
#include "util/err.h"

/* Size of the fixed buffers in layers/ that are not the hashing thread's
 * (file reads, the tar block staging); those are HP_BUF (hashpipe.h). */
#define LAYER_CHUNK ((size_t)64 * 1024)


struct layer_sink {
	enum layer_compression comp;
	ZSTD_CCtx *zc;
	struct pgz *gz;         /* gzip: pgzip.c's writer */
	struct hashpipe hp;     /* diff_id, digest, size, writes */
	unsigned char *raw;     /* HP_BUF: uncompressed bytes gathered */
	size_t raw_len;
	unsigned char *out;     /* HP_BUF: compressor output gathered */
	size_t out_len;
};

/* LEVEL: 0 for the format's default (zstd 3, gzip zlib's 6), else 1 to
 * LAYER_ZSTD_LEVEL_MAX / LAYER_GZIP_LEVEL_MAX. */
int layer_sink_open(struct layer_sink *s, enum layer_compression comp, int level, int out_fd,
		    cn_err *err);
/* zstd worker threads: CAIRN_ZSTD_WORKERS (1-64) if set, else the CPUs of
 * the affinity mask, at most 4 (memory: about 3 jobs per worker). */
int layer_zstd_workers(void);
/* gzip worker threads, the same way from CAIRN_GZIP_WORKERS (memory: about
 * 1.5 MiB per worker: four blocks in flight and a deflate state). 1: deflate
 * on the caller's thread. */
int layer_gzip_workers(void);
/* Feed uncompressed bytes. */
int layer_sink_write(struct layer_sink *s, const void *data, size_t len, cn_err *err);
/* Flush the compressor's end of stream and fill diff_id, digest and size. */
int layer_sink_finish(struct layer_sink *s, struct layer_info *info, cn_err *err);
/* Safe after open (failed or not), after finish, and on a zeroed sink. */
void layer_sink_free(struct layer_sink *s);

/* libarchive turns names into pax UTF-8 through the calling thread's locale:
 * under "C" a UTF-8 name would get "hdrcharset=BINARY", under Latin-1 its
 * bytes would be re-encoded. Both the writer and the reader pin the thread to
 * C.UTF-8 while they run, so layers depend on their content alone. Returns
 * the locale to restore, or 0 if C.UTF-8 is unavailable. */
locale_t layer_pin_utf8_locale(locale_t *pinned);
void layer_unpin_locale(locale_t old, locale_t pinned);

#endif
