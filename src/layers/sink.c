#include "layers/sink.h"
#include "layers/codec.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <locale.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define LAYER_ZSTD_LEVEL 3

/* Compressed bytes: hash, count and write them. */
static int sink_emit(struct layer_sink *s, const void *data, size_t len, cn_err *err)
{
	if (len == 0)
		return 0;
	cn_sha256_update(&s->digest, data, len);
	s->size += len;
	if (cn_write_all(s->out_fd, data, len) < 0)
		return cn_err_sys(err, "layer: write");
	return 0;
}

static int zstd_open(struct layer_sink *s, cn_err *err)
{
	size_t r;
	s->zc = ZSTD_createCCtx();
	if (!s->zc)
		return cn_err_errno(err, ENOMEM, "layer: zstd");
	/* Single-threaded, fixed level, no dictionary: output depends only on
	 * the input bytes. The checksum lets readers detect corruption. */
	r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, LAYER_ZSTD_LEVEL);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r))
		return cn_err_fail(err, CN_ERR_SYSTEM, "layer: zstd: %s", ZSTD_getErrorName(r));
	return 0;
}

/* Run the zstd stream over IN with the given directive. With ZSTD_e_end it
 * loops until the frame is complete (ZSTD_compressStream2 returns 0). */
static int zstd_run(struct layer_sink *s, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
		    cn_err *err)
{
	for (;;) {
		ZSTD_outBuffer out = { s->out, LAYER_CHUNK, 0 };
		size_t left = ZSTD_compressStream2(s->zc, &out, in, mode);
		if (ZSTD_isError(left))
			return cn_err_fail(err, CN_ERR_SYSTEM, "layer: zstd: %s", ZSTD_getErrorName(left));
		if (sink_emit(s, out.dst, out.pos, err) < 0)
			return -1;
		if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

static int gzip_open(struct layer_sink *s, cn_err *err)
{
	/* A gzip wrapper (as the reader expects, layers/codec.h). Without
	 * deflateSetHeader, zlib writes a fixed header: no name, mtime 0. */
	int r = deflateInit2(&s->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, LAYER_GZIP_WINDOW_BITS, 8,
			     Z_DEFAULT_STRATEGY);
	if (r != Z_OK)
		return r == Z_MEM_ERROR ? cn_err_errno(err, ENOMEM, "layer: deflateInit2")
			: cn_err_fail(err, CN_ERR_SYSTEM, "layer: deflateInit2 failed (%d)", r);
	s->zs_live = true;
	return 0;
}

/* Run deflate over whatever is in zs.next_in; FLUSH is Z_NO_FLUSH or Z_FINISH. */
static int gzip_run(struct layer_sink *s, int flush, cn_err *err)
{
	for (;;) {
		int r;
		s->zs.next_out = s->out;
		s->zs.avail_out = (uInt)LAYER_CHUNK;
		r = deflate(&s->zs, flush);
		if (r == Z_STREAM_ERROR)
			return cn_err_fail(err, CN_ERR_SYSTEM, "layer: deflate failed");
		if (sink_emit(s, s->out, LAYER_CHUNK - s->zs.avail_out, err) < 0)
			return -1;
		if (flush == Z_FINISH ? r == Z_STREAM_END
				      : s->zs.avail_in == 0 && s->zs.avail_out != 0)
			return 0;
	}
}

int layer_sink_open(struct layer_sink *s, enum layer_compression comp, int out_fd,
		    cn_err *err)
{
	memset(s, 0, sizeof(*s));
	s->comp = comp;
	s->out_fd = out_fd;
	s->out = cn_xmalloc(LAYER_CHUNK);
	cn_sha256_init(&s->diff_id);
	cn_sha256_init(&s->digest);
	switch (comp) {
	case LAYER_ZSTD:
		return zstd_open(s, err);
	case LAYER_GZIP:
		return gzip_open(s, err);
	case LAYER_NONE:
		return 0;
	}
	return cn_err_fail(err, CN_ERR_INVALID, "layer: unknown compression %d", (int)comp);
}

int layer_sink_write(struct layer_sink *s, const void *data, size_t len, cn_err *err)
{
	const unsigned char *p = data;
	cn_sha256_update(&s->diff_id, data, len);
	if (s->comp == LAYER_NONE)
		return sink_emit(s, data, len, err);
	if (s->comp == LAYER_ZSTD) {
		ZSTD_inBuffer in = { data, len, 0 };
		return len ? zstd_run(s, &in, ZSTD_e_continue, err) : 0;
	}
	/* zlib counts in uInt: feed very large writes in slices. */
	while (len > 0) {
		size_t n = len < UINT_MAX ? len : UINT_MAX;
		s->zs.next_in = p;
		s->zs.avail_in = (uInt)n;
		if (gzip_run(s, Z_NO_FLUSH, err) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int layer_sink_finish(struct layer_sink *s, struct layer_info *info, cn_err *err)
{
	if (s->comp == LAYER_ZSTD) {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		if (zstd_run(s, &in, ZSTD_e_end, err) < 0)
			return -1;
	} else if (s->comp == LAYER_GZIP) {
		s->zs.next_in = NULL;
		s->zs.avail_in = 0;
		if (gzip_run(s, Z_FINISH, err) < 0)
			return -1;
	}
	cn_sha256_final(&s->diff_id, info->diff_id);
	cn_sha256_final(&s->digest, info->digest);
	info->size = s->size;
	return 0;
}

void layer_sink_free(struct layer_sink *s)
{
	ZSTD_freeCCtx(s->zc);   /* accepts NULL */
	s->zc = NULL;
	if (s->zs_live)
		deflateEnd(&s->zs);
	s->zs_live = false;
	cn_sha256_free(&s->diff_id);
	cn_sha256_free(&s->digest);
	free(s->out);
	s->out = NULL;
}

locale_t layer_pin_utf8_locale(locale_t *pinned)
{
	*pinned = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return *pinned ? uselocale(*pinned) : (locale_t)0;
}

void layer_unpin_locale(locale_t old, locale_t pinned)
{
	if (!pinned)
		return;
	uselocale(old);
	freelocale(pinned);
}
