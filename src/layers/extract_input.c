/* A layer blob -> the bytes of its tar, for layer_extract (extract.c).
 *
 * libarchive parses the tar but never sees the compressed bytes: its read
 * callback is ours (ex_src_archive_cb), which reads the blob, hashes the
 * raw bytes (digest), decompresses them itself (zlib or libzstd, detected
 * from the magic bytes in layers/codec.c's table; libarchive has no
 * decompression filter enabled, so it cannot be made to unpack anything
 * nested), hashes the output (diff_id) and hands it to libarchive. We do
 * the decompression because libarchive's own filters hide the uncompressed
 * stream: diff_id would need a second pass. After the tar's end-of-archive
 * blocks the driver drains the rest of the stream through ex_src_read, so
 * the digest covers the blob to its last byte and diff_id the whole tar,
 * and whatever follows is checked: only zero bytes (tar padding, zero
 * padding after the last gzip member / zstd frame) are accepted; another
 * member or frame continues the stream, as gzip and zstd define.
 *
 * Caps here: total uncompressed bytes (checked as the stream is produced,
 * so a bomb stops at the cap) and the bytes one entry's headers may take
 * (counted while libarchive reads a header: pax records, GNU long names and
 * sparse maps cannot make it allocate without bound); zstd windows above
 * 2^27 are refused. ADD may also pass bzip2 and xz, which go through
 * libarchive's own decoders in raw format. */
#include "layers/extract_internal.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EX_ZSTD_WINDOW_LOG_MAX 27       /* 128 MiB, zstd's own default limit */

static int src_fail(struct ex_src *s, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int src_fail(struct ex_src *s, int errnum, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!s->failed)
		errnum == EINTR ? cn_err_fail(&s->err, CN_ERR_INTERRUPTED, "%s", msg)
		: errnum ? cn_err_errno(&s->err, errnum, "%s", msg)
		: cn_err_fail(&s->err, CN_ERR_INVALID, "%s", msg);
	s->failed = true;
	return -1;
}

/* Up to CAP raw bytes into BUF, hashed and counted; 0 at the end. */
static ssize_t raw_read(struct ex_src *s, unsigned char *buf, size_t cap)
{
	for (;;) {
		ssize_t n;
		if (cn_interrupted())
			return src_fail(s, EINTR, "interrupted");
		n = s->rd ? s->rd->read(s->rd->ctx, buf, cap) : read(s->fd, buf, cap);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return src_fail(s, errno, "read");
		}
		if (n == 0) {
			s->in_eof = true;
			return 0;
		}
		if (!s->skip_digest)
			cn_sha256_update(&s->digest, buf, (size_t)n);
		s->raw += (uint64_t)n;
		return n;
	}
}

/* Make sure raw input is buffered: 1 if some is, 0 at the end, -1 on error. */
static int src_fill(struct ex_src *s)
{
	ssize_t n;
	if (s->in_pos < s->in_len)
		return 1;
	if (s->in_eof)
		return 0;
	n = raw_read(s, s->in, EX_BUF);
	if (n <= 0)
		return (int)n;
	s->in_pos = 0;
	s->in_len = (size_t)n;
	return 1;
}

/* A gzip member or zstd frame ended: 1 if another one follows, 0 at the end
 * of the blob (zero bytes may come first), -1 for anything else. */
static int src_next_member(struct ex_src *s)
{
	const char *codec = s->codec->name;
	for (;;) {
		int r = src_fill(s);
		if (r <= 0)
			return r;
		if (!s->trailer) {
			if (s->in[s->in_pos] != 0) {
				if (layer_codec_starts(s->codec->id, s->in[s->in_pos]))
					return 1;
				return src_fail(s, 0, "%s: data after the end of the compressed stream",
						codec);
			}
			s->trailer = true;
		}
		for (; s->in_pos < s->in_len; s->in_pos++)
			if (s->in[s->in_pos] != 0)
				return src_fail(s, 0, "%s: non-zero data after the end of the "
						"compressed stream", codec);
	}
}

static ssize_t gzip_produce(struct ex_src *s, const unsigned char **outp)
{
	for (;;) {
		size_t produced;
		int more, r;
		if (s->member_end) {
			r = src_next_member(s);
			if (r <= 0)
				return r;
			if (inflateReset(&s->zs) != Z_OK)
				return src_fail(s, 0, "gzip: inflateReset failed");
			s->member_end = false;
		}
		more = src_fill(s);
		if (more < 0)
			return -1;
		s->zs.next_in = s->in + s->in_pos;
		s->zs.avail_in = (uInt)(s->in_len - s->in_pos);
		s->zs.next_out = s->out;
		s->zs.avail_out = (uInt)EX_BUF;
		r = inflate(&s->zs, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->zs.avail_in;
		produced = EX_BUF - s->zs.avail_out;
		if (r == Z_STREAM_END)
			s->member_end = true;
		else if (r != Z_OK && r != Z_BUF_ERROR)
			return src_fail(s, r == Z_MEM_ERROR ? ENOMEM : 0, "gzip: %s",
					s->zs.msg ? s->zs.msg : "corrupt data");
		if (produced > 0) {
			*outp = s->out;
			return (ssize_t)produced;
		}
		if (!s->member_end && !more)
			return src_fail(s, 0, "gzip: unexpected end of the compressed stream (truncated?)");
	}
}

static ssize_t zstd_produce(struct ex_src *s, const unsigned char **outp)
{
	for (;;) {
		ZSTD_inBuffer ib;
		ZSTD_outBuffer ob = { s->out, EX_BUF, 0 };
		size_t r;
		int more;
		if (s->member_end) {
			int m = src_next_member(s);
			if (m <= 0)
				return m;
			s->member_end = false;  /* the context starts the next frame itself */
		}
		more = src_fill(s);
		if (more < 0)
			return -1;
		ib = (ZSTD_inBuffer){ s->in, s->in_len, s->in_pos };
		r = ZSTD_decompressStream(s->zd, &ob, &ib);
		s->in_pos = ib.pos;
		if (ZSTD_isError(r))
			return src_fail(s, 0, "zstd: %s", ZSTD_getErrorName(r));
		if (r == 0)
			s->member_end = true;
		if (ob.pos > 0) {
			*outp = s->out;
			return (ssize_t)ob.pos;
		}
		if (!s->member_end && !more)
			return src_fail(s, 0, "zstd: unexpected end of the compressed stream (truncated?)");
	}
}

/* bzip2, xz: libarchive reads the raw bytes through this callback. */
static la_ssize_t flt_read_cb(struct archive *ar, void *ud, const void **buf)
{
	struct ex_src *s = ud;
	ssize_t n;
	(void)ar;
	if (s->in_pos < s->in_len) {    /* what detection read */
		*buf = s->in + s->in_pos;
		n = (ssize_t)(s->in_len - s->in_pos);
		s->in_pos = s->in_len;
		return n;
	}
	n = raw_read(s, s->in, EX_BUF);
	if (n < 0) {
		archive_set_error(ar, s->err.errnum ? s->err.errnum : EIO, "%s", s->err.msg);
		return -1;
	}
	*buf = s->in;
	return n;
}

static ssize_t filter_produce(struct ex_src *s, const unsigned char **outp)
{
	la_ssize_t n = archive_read_data(s->flt, s->out, EX_BUF);
	if (n < 0)
		return s->failed ? -1 : src_fail(s, archive_errno(s->flt) > 0 ? archive_errno(s->flt) : 0,
						 "%s", archive_error_string(s->flt));
	*outp = s->out;
	return n;
}

/* bzip2 or xz through libarchive's own decoders (ADD's archives only). */
static int filter_open(struct ex_src *s)
{
	const char *name = s->codec->name;
	struct archive_entry *e;
	s->flt = archive_read_new();
	if (!s->flt)
		return src_fail(s, ENOMEM, "%s", name);
	/* ARCHIVE_WARN would mean an external program: never. */
	if (archive_read_support_filter_bzip2(s->flt) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(s->flt) != ARCHIVE_OK ||
	    archive_read_support_format_raw(s->flt) != ARCHIVE_OK)
		return src_fail(s, ENOTSUP, "%s decompression is not available in this libarchive", name);
	if (archive_read_open(s->flt, s, NULL, flt_read_cb, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(s->flt, &e) != ARCHIVE_OK)
		return s->failed ? -1 : src_fail(s, 0, "%s: %s", name, archive_error_string(s->flt));
	return 0;
}

static ssize_t plain_produce(struct ex_src *s, const unsigned char **outp)
{
	ssize_t n;
	if (s->in_pos < s->in_len) {    /* what detection read */
		*outp = s->in + s->in_pos;
		n = (ssize_t)(s->in_len - s->in_pos);
		s->in_pos = s->in_len;
		return n;
	}
	n = raw_read(s, s->in, EX_BUF);
	*outp = s->in;
	return n;
}

int ex_src_check_stop(struct ex_src *s)
{
	if (s->failed)
		return -1;
	if (cn_interrupted())
		return src_fail(s, EINTR, "interrupted");
	if (s->rd && s->rd->stop && __atomic_load_n(s->rd->stop, __ATOMIC_ACQUIRE))
		return src_fail(s, EINTR, "stopped");
	return 0;
}

/* The next bytes of tar: counted, capped, hashed. 0 at its end. */
ssize_t ex_src_read(struct ex_src *s, const void **buf)
{
	const unsigned char *p = NULL;
	ssize_t n;
	size_t i;

	/* Once per block of output: a small blob may expand a lot between
	 * two reads of raw bytes. */
	if (ex_src_check_stop(s) < 0)
		return -1;
	if (s->done)
		return 0;
	switch (s->codec->id) {
	case LAYER_CODEC_GZIP:
		n = gzip_produce(s, &p);
		break;
	case LAYER_CODEC_ZSTD:
		n = zstd_produce(s, &p);
		break;
	case LAYER_CODEC_BZIP2:
	case LAYER_CODEC_XZ:
		n = filter_produce(s, &p);
		break;
	case LAYER_CODEC_PLAIN:
	default:
		n = plain_produce(s, &p);
		break;
	}
	if (n <= 0) {
		s->done = n == 0;
		return n;
	}
	s->plain += (uint64_t)n;
	if (s->plain > s->max_plain) {
		src_fail(s, 0, "the layer exceeds the uncompressed size limit (%llu bytes)",
			 (unsigned long long)s->max_plain);
		s->err.kind = CN_ERR_TOO_BIG;   /* the caller may say how to raise it */
		return -1;
	}
	if (s->header_end && s->plain > s->header_end)
		return src_fail(s, 0, "an entry's headers exceed %llu bytes",
				(unsigned long long)LAYER_EXTRACT_MAX_HEADER);
	if (s->codec->id != LAYER_CODEC_PLAIN)
		cn_sha256_update(&s->diff_id, p, (size_t)n);
	for (i = (size_t)n; i > 0 && p[i - 1] == 0; i--)
		;
	s->zero_tail = i == 0 ? s->zero_tail + (uint64_t)n : (uint64_t)n - i;
	*buf = p;
	return n;
}

la_ssize_t ex_src_archive_cb(struct archive *ar, void *ud, const void **buf)
{
	/* The padding to a block and the two end-of-archive blocks. */
	static const unsigned char zeros[511 + 1024];
	struct ex_src *s = ud;
	ssize_t n = ex_src_read(s, buf);
	if (n < 0)
		archive_set_error(ar, s->err.errnum ? s->err.errnum : EIO, "%s", s->err.msg);
	/* The blob ended right after a complete entry: give the tar reader
	 * the blocks it lacks, once. They are not hashed (the digests are of
	 * the blob as it is) and a short entry body never gets here. */
	if (n == 0 && !s->synthesized && s->plain == s->may_end_at) {
		s->synthesized = true;
		*buf = zeros;
		n = (ssize_t)((512 - s->plain % 512) % 512 + 1024);
	}
	return n;
}

/* Read the first bytes and pick the decoder. */
static int src_open(struct ex_src *s, int fd, const struct layer_reader *rd, uint64_t max_plain, bool filters)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->rd = rd;
	s->max_plain = max_plain;
	s->may_end_at = UINT64_MAX;
	s->in = cn_xmalloc(EX_BUF);
	cn_sha256_init(&s->digest);
	cn_sha256_init(&s->diff_id);
	while (s->in_len < LAYER_CODEC_MAGIC_MAX && !s->in_eof) {
		ssize_t n = raw_read(s, s->in + s->in_len, EX_BUF - s->in_len);
		if (n < 0)
			return -1;
		s->in_len += (size_t)n;
	}
	s->codec = layer_codec_detect(s->in, s->in_len);
	if (s->in_len == 0)
		return src_fail(s, 0, "empty blob: not a layer");
	/* The first bytes went into the digest; it is not used then. */
	s->skip_digest = rd && rd->hashed && s->codec->id != LAYER_CODEC_PLAIN;
	switch (s->codec->id) {
	case LAYER_CODEC_GZIP: {
		int r = inflateInit2(&s->zs, LAYER_GZIP_WINDOW_BITS);
		if (r != Z_OK)
			return src_fail(s, r == Z_MEM_ERROR ? ENOMEM : 0, "gzip: inflateInit2 failed");
		s->zs_live = true;
		break;
	}
	case LAYER_CODEC_ZSTD: {
		size_t r;
		s->zd = ZSTD_createDCtx();
		if (!s->zd)
			return src_fail(s, ENOMEM, "zstd");
		r = ZSTD_DCtx_setParameter(s->zd, ZSTD_d_windowLogMax, EX_ZSTD_WINDOW_LOG_MAX);
		if (ZSTD_isError(r))
			return src_fail(s, 0, "zstd: %s", ZSTD_getErrorName(r));
		break;
	}
	case LAYER_CODEC_BZIP2:
	case LAYER_CODEC_XZ:
		if (!filters)
			return src_fail(s, 0, "%s-compressed layers are not supported", s->codec->name);
		s->out = cn_xmalloc(EX_BUF);
		return filter_open(s);
	case LAYER_CODEC_PLAIN:
		return 0;
	}
	s->out = cn_xmalloc(EX_BUF);
	return 0;
}

int ex_src_open(struct ex_src *s, int fd, uint64_t max_plain, bool filters)
{
	return src_open(s, fd, NULL, max_plain, filters);
}

int ex_src_open_reader(struct ex_src *s, const struct layer_reader *rd, uint64_t max_plain, bool filters)
{
	return src_open(s, -1, rd, max_plain, filters);
}

void ex_src_free(struct ex_src *s)
{
	if (s->zs_live)
		inflateEnd(&s->zs);
	s->zs_live = false;
	ZSTD_freeDCtx(s->zd);       /* accepts NULL */
	s->zd = NULL;
	if (s->flt)
		archive_read_free(s->flt);
	s->flt = NULL;
	cn_sha256_free(&s->digest);
	cn_sha256_free(&s->diff_id);
	free(s->in);
	free(s->out);
	s->in = s->out = NULL;
}

void ex_src_final(struct ex_src *s, char digest[CN_DIGEST_STR_SIZE], char diff_id[CN_DIGEST_STR_SIZE])
{
	cn_sha256_final(&s->digest, digest);
	if (s->skip_digest)
		digest[0] = '\0';
	if (s->codec->id == LAYER_CODEC_PLAIN)
		memcpy(diff_id, digest, CN_DIGEST_STR_SIZE);
	else
		cn_sha256_final(&s->diff_id, diff_id);
}
