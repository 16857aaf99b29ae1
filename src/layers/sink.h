/* Internal to layers/: the byte sink behind the tar writer. Uncompressed tar
 * bytes go in; it hashes them (diff_id), compresses them (zstd or gzip, with
 * fixed parameters so the same input always gives the same blob), hashes and
 * counts the compressed bytes (digest, size) and writes them to an fd. */
#ifndef LAYER_SINK_H
#define LAYER_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <locale.h>
#include <stdint.h>
/* next_in as const: the tar bytes we feed are read-only. */
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>

#include "layers/layer.h"
#include "util/digest.h"
#include "util/err.h"

/* Size of every fixed buffer in layers/ (compressor output, file reads). */
#define LAYER_CHUNK ((size_t)64 * 1024)

struct layer_sink {
	enum layer_compression comp;
	int out_fd;
	ZSTD_CCtx *zc;
	z_stream zs;
	bool zs_live;           /* deflateInit2 succeeded: deflateEnd owed */
	cn_sha256 diff_id;      /* over the uncompressed tar */
	cn_sha256 digest;       /* over the compressed blob */
	uint64_t size;          /* compressed bytes written */
	unsigned char *out;     /* LAYER_CHUNK bytes of compressor output */
};

int layer_sink_open(struct layer_sink *s, enum layer_compression comp, int out_fd,
		    cn_err *err);
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
