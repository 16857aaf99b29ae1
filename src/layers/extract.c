/* A layer blob from outside (pulled, loaded, or a local tar given to ADD)
 * -> a directory, treating every byte of it as hostile.
 *
 * One pass over the input. libarchive parses the tar but never sees the
 * compressed bytes: its read callback is ours (struct ex_src), which reads
 * the blob, hashes the raw bytes (digest), decompresses them itself (zlib or
 * libzstd, detected from the magic bytes; libarchive has no decompression
 * filter enabled, so it cannot be made to unpack anything nested), hashes
 * the output (diff_id) and hands it to libarchive. We do the decompression
 * because libarchive's own filters hide the uncompressed stream: diff_id
 * would need a second pass. After the tar's end-of-archive blocks the rest
 * of the stream is drained through the same callback, so the digest covers
 * the blob to its last byte and diff_id the whole tar, and whatever follows
 * is checked: only zero bytes (tar padding, zero padding after the last
 * gzip member / zstd frame) are accepted; another member or frame continues
 * the stream, as gzip and zstd define.
 *
 * Caps: total uncompressed bytes (checked as the stream is produced, so a
 * bomb stops at the cap), the sum of the files' sizes (sparse entries),
 * entries, name length, and the bytes one entry's headers may take
 * (counted while libarchive reads a header: pax records, GNU long names and
 * sparse maps cannot make it allocate without bound); zstd windows above
 * 2^27 are refused.
 *
 * Every entry's parent directory is resolved from TARGET_FD with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS), so
 * absolute names and symlinks, including ones made by earlier entries,
 * resolve inside the target, on every entry (no cached realpath); the last
 * component is acted on with *at() calls that never follow it (O_EXCL
 * creates, O_NOFOLLOW opens, AT_SYMLINK_NOFOLLOW, linkat without
 * AT_SYMLINK_FOLLOW). Entries are applied in order, hardlinks included.
 * The last parent fd is reused for the next entry with the same parent
 * until anything is removed (creating names cannot change what an existing
 * path resolves to; removing or replacing can). Mount points inside the
 * target are never crossed (RESOLVE_NO_XDEV), changed or replaced.
 *
 * Whiteouts. Snapshot form (overlay_whiteouts): the target starts empty, so
 * whatever exists in it came from this layer; ".wh.NAME" becomes a 0/0
 * character device unless NAME exists (same-layer entries survive their
 * whiteout; an existing directory becomes opaque instead, as lower content
 * under that name is deleted), and ".wh..wh..opq" sets the opaque xattr
 * whenever it comes. ADD form: the target holds older files. Every inode
 * this extraction creates is recorded as CREATED, every directory it
 * updates or creates something under (up to the root) as TOUCHED; a
 * whiteout or an opaque marker removes what is neither, keeps CREATED
 * entries and recurses into TOUCHED directories. That is exactly "the
 * marker applies before this layer's entries" whatever its position. */
#include "layers/layer.h"
#include "layers/sink.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
/* next_in as const: we never write into the input. */
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452       /* Linux 6.6, the same number on every arch we build for */
#endif

#define EX_BUF ((size_t)256 * 1024)     /* input and decompressor output buffers */
#define EX_ZSTD_WINDOW_LOG_MAX 27       /* 128 MiB, zstd's own default limit */
#define EX_DIR_RECORDS_MAX ((size_t)256 << 20)  /* memory for directory times */
#define EX_CLEAR_DEPTH 256              /* TOUCHED levels under an opaque dir (ADD form) */
#define EX_SHOWN_MAX 160                /* bytes of a name quoted in an error */

#define WH_PREFIX ".wh."
#define WH_PREFIX_LEN 4
#define WH_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define RESOLVE_FLAGS (RESOLVE_IN_ROOT | RESOLVE_NO_XDEV)

/* ---- the input stream ------------------------------------------------------ */

enum ex_codec { EX_PLAIN, EX_GZIP, EX_ZSTD, EX_FILTER };

struct ex_src {
	int fd;
	enum ex_codec codec;
	unsigned char *in;      /* raw bytes: in[in_pos, in_len) not yet used */
	unsigned char *out;     /* decompressor output */
	size_t in_pos, in_len;
	bool in_eof;            /* read() returned 0 */
	bool member_end;        /* a gzip member / zstd frame just ended */
	bool trailer;           /* past the last member: only zero bytes may follow */
	bool done;              /* the tar stream ended */
	z_stream zs;
	bool zs_live;
	ZSTD_DCtx *zd;
	struct archive *flt;    /* EX_FILTER: libarchive's bzip2/xz decoder, raw format */
	cn_sha256 digest;       /* raw bytes */
	cn_sha256 diff_id;      /* tar bytes (compressed input only; else = digest) */
	uint64_t raw, plain;    /* bytes read, bytes of tar produced */
	uint64_t zero_tail;     /* how many bytes at the end of the tar so far are zero */
	uint64_t max_plain;
	uint64_t header_end;    /* != 0: reading a header; the tar may not pass this */
	bool failed;
	cn_err err;             /* why, without the "layer: " prefix */
};

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
		cn_err_set(&s->err, errnum, "%s", msg);
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
		n = read(s->fd, buf, cap);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return src_fail(s, errno, "read");
		}
		if (n == 0) {
			s->in_eof = true;
			return 0;
		}
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

static bool member_magic(const struct ex_src *s, unsigned char c)
{
	if (s->codec == EX_GZIP)
		return c == 0x1f;
	return c == 0x28 || (c & 0xf0) == 0x50;    /* a frame or a skippable frame */
}

/* A gzip member or zstd frame ended: 1 if another one follows, 0 at the end
 * of the blob (zero bytes may come first), -1 for anything else. */
static int src_next_member(struct ex_src *s, const char *codec)
{
	for (;;) {
		int r = src_fill(s);
		if (r <= 0)
			return r;
		if (!s->trailer) {
			if (s->in[s->in_pos] != 0) {
				if (member_magic(s, s->in[s->in_pos]))
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
			r = src_next_member(s, "gzip");
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
			int m = src_next_member(s, "zstd");
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

/* EX_FILTER: libarchive reads the raw bytes through this callback. */
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
static int filter_open(struct ex_src *s, const char *name)
{
	struct archive_entry *e;
	s->codec = EX_FILTER;
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

/* The next bytes of tar: counted, capped, hashed. 0 at its end. */
static ssize_t src_read(struct ex_src *s, const void **buf)
{
	const unsigned char *p = NULL;
	ssize_t n;
	size_t i;

	if (s->failed)
		return -1;
	if (s->done)
		return 0;
	switch (s->codec) {
	case EX_GZIP:
		n = gzip_produce(s, &p);
		break;
	case EX_ZSTD:
		n = zstd_produce(s, &p);
		break;
	case EX_FILTER:
		n = filter_produce(s, &p);
		break;
	default:
		n = plain_produce(s, &p);
		break;
	}
	if (n <= 0) {
		s->done = n == 0;
		return n;
	}
	s->plain += (uint64_t)n;
	if (s->plain > s->max_plain)
		return src_fail(s, 0, "the layer exceeds the uncompressed size limit (%llu bytes)",
				(unsigned long long)s->max_plain);
	if (s->header_end && s->plain > s->header_end)
		return src_fail(s, 0, "an entry's headers exceed %llu bytes",
				(unsigned long long)LAYER_EXTRACT_MAX_HEADER);
	if (s->codec != EX_PLAIN)
		cn_sha256_update(&s->diff_id, p, (size_t)n);
	for (i = (size_t)n; i > 0 && p[i - 1] == 0; i--)
		;
	s->zero_tail = i == 0 ? s->zero_tail + (uint64_t)n : (uint64_t)n - i;
	*buf = p;
	return n;
}

static la_ssize_t ar_read_cb(struct archive *ar, void *ud, const void **buf)
{
	struct ex_src *s = ud;
	ssize_t n = src_read(s, buf);
	if (n < 0)
		archive_set_error(ar, s->err.errnum ? s->err.errnum : EIO, "%s", s->err.msg);
	return n;
}

/* Read the first bytes and pick the decoder. */
static int src_open(struct ex_src *s, int fd, uint64_t max_plain, bool filters)
{
	static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	static const unsigned char skippable[3] = { 0x2a, 0x4d, 0x18 };
	static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	const unsigned char *m;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->max_plain = max_plain;
	s->in = cn_xmalloc(EX_BUF);
	cn_sha256_init(&s->digest);
	cn_sha256_init(&s->diff_id);
	while (s->in_len < sizeof(xz_magic) && !s->in_eof) {
		ssize_t n = raw_read(s, s->in + s->in_len, EX_BUF - s->in_len);
		if (n < 0)
			return -1;
		s->in_len += (size_t)n;
	}
	if (s->in_len == 0)
		return src_fail(s, 0, "empty blob: not a layer");
	m = s->in;
	if (s->in_len >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
		int r;
		s->codec = EX_GZIP;
		/* 15 + 16: a gzip wrapper, nothing else. */
		r = inflateInit2(&s->zs, 15 + 16);
		if (r != Z_OK)
			return src_fail(s, r == Z_MEM_ERROR ? ENOMEM : 0, "gzip: inflateInit2 failed");
		s->zs_live = true;
	} else if (s->in_len >= 4 && (!memcmp(m, zstd_magic, 4) ||
				      ((m[0] & 0xf0) == 0x50 && !memcmp(m + 1, skippable, 3)))) {
		size_t r;
		s->codec = EX_ZSTD;
		s->zd = ZSTD_createDCtx();
		if (!s->zd)
			return src_fail(s, ENOMEM, "zstd");
		r = ZSTD_DCtx_setParameter(s->zd, ZSTD_d_windowLogMax, EX_ZSTD_WINDOW_LOG_MAX);
		if (ZSTD_isError(r))
			return src_fail(s, 0, "zstd: %s", ZSTD_getErrorName(r));
	} else if (s->in_len >= 3 && !memcmp(m, "BZh", 3)) {
		if (!filters)
			return src_fail(s, 0, "bzip2-compressed layers are not supported");
		s->out = cn_xmalloc(EX_BUF);
		return filter_open(s, "bzip2");
	} else if (s->in_len >= sizeof(xz_magic) && !memcmp(m, xz_magic, sizeof(xz_magic))) {
		if (!filters)
			return src_fail(s, 0, "xz-compressed layers are not supported");
		s->out = cn_xmalloc(EX_BUF);
		return filter_open(s, "xz");
	} else {
		s->codec = EX_PLAIN;
	}
	if (s->codec != EX_PLAIN)
		s->out = cn_xmalloc(EX_BUF);
	return 0;
}

static void src_free(struct ex_src *s)
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

/* ---- inodes this extraction made or went through (ADD form) --------------- */

#define IN_CREATED 1u           /* made by this extraction: survives whiteouts */
#define IN_TOUCHED 2u           /* an older directory this layer updated or wrote under */

struct iset_slot {
	uint64_t ino;
	uint32_t dev;           /* the kernel's 32-bit encoding of st_dev */
	uint32_t flags;         /* 0: empty */
};

struct iset {
	struct iset_slot *v;
	size_t cap, n;          /* cap: a power of two, or 0; at most 3/4 full */
};

static uint32_t dev32(dev_t dev)
{
	return (uint32_t)((major(dev) & 0xfff) << 20 | (minor(dev) & 0xfffff));
}

static size_t iset_hash(uint32_t dev, uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h ^ (h >> 31));
}

static unsigned iset_get(const struct iset *s, dev_t dev, ino_t ino)
{
	uint32_t d = dev32(dev);
	if (!s->cap)
		return 0;
	for (size_t i = iset_hash(d, ino) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		const struct iset_slot *sl = &s->v[i];
		if (!sl->flags)
			return 0;
		if (sl->dev == d && sl->ino == ino)
			return sl->flags;
	}
}

static void iset_add(struct iset *s, uint32_t dev, uint64_t ino, uint32_t flags)
{
	for (size_t i = iset_hash(dev, ino) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		struct iset_slot *sl = &s->v[i];
		if (!sl->flags) {
			*sl = (struct iset_slot){ ino, dev, flags };
			s->n++;
			return;
		}
		if (sl->dev == dev && sl->ino == ino) {
			sl->flags |= flags;
			return;
		}
	}
}

/* 16 bytes a slot, at least 1/4 free: about 22-43 bytes per inode. */
static void iset_put(struct iset *s, dev_t dev, ino_t ino, unsigned flags)
{
	if ((s->n + 1) * 4 > s->cap * 3) {
		struct iset old = *s;
		s->cap = old.cap ? old.cap * 2 : 1024;
		s->v = cn_xcalloc(s->cap, sizeof(*s->v));
		s->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i].flags)
				iset_add(s, old.v[i].dev, old.v[i].ino, old.v[i].flags);
		free(old.v);
	}
	iset_add(s, dev32(dev), ino, flags);
}

/* ---- the extraction -------------------------------------------------------- */

struct dir_time {
	size_t off;             /* path in ex.dir_paths */
	struct timespec ts[2];
};

struct ex {
	struct archive *ar;
	struct ex_src src;
	int root;
	dev_t root_dev;
	ino_t root_ino;
	bool overlay;           /* snapshot form */
	uint64_t max_bytes, max_entries;
	uint64_t entries;
	uint64_t file_bytes;    /* sum of regular files' sizes */
	uint64_t end_of_entries;        /* tar offset after the last entry's data */
	char shown[EX_SHOWN_MAX * 4 + 8];   /* the current entry's name, quoted */
	cn_buf path;            /* its cleaned name: "a/b/c", "" for the root */
	cn_buf parent;          /* scratch: a parent directory's path */
	cn_buf link;            /* a hardlink target, cleaned */
	struct iset seen;       /* ADD form only */
	/* The last entry's parent directory: consecutive entries mostly share
	 * one. Only removals can change what an existing path resolves to
	 * (creating names cannot), so any removal makes it stale. */
	cn_buf cached_path;
	int cached_fd;
	uint64_t removals, cached_at;
	struct dir_time *dirs;
	size_t ndirs, dirs_cap;
	cn_buf dir_paths;
	cn_err *err;
};

static void set_shown(struct ex *x, const char *raw)
{
	size_t o = 0, i;
	for (i = 0; raw[i] && i < EX_SHOWN_MAX; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			x->shown[o++] = (char)c;
		else
			o += (size_t)snprintf(x->shown + o, sizeof(x->shown) - o, "\\x%02x", c);
	}
	if (raw[i])
		o += (size_t)snprintf(x->shown + o, sizeof(x->shown) - o, "...");
	x->shown[o] = '\0';
}

static int ent_fail(struct ex *x, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* `layer: entry "NAME": WHAT` (+ strerror(ERRNUM) when not 0). */
static int ent_fail(struct ex *x, int errnum, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cn_err_set(x->err, errnum, "layer: entry \"%s\": %s", x->shown, what);
}

#define ent_sys(x, ...) ent_fail((x), errno, __VA_ARGS__)

/* A failure from libarchive: our own stream error if that was the cause. */
static int ar_fail(struct ex *x, const char *where)
{
	const char *msg;
	if (x->src.failed)
		return cn_err_plain(x->err, x->src.err.errnum, "layer: %s%s%s", where,
				    *where ? ": " : "", x->src.err.msg);
	msg = archive_error_string(x->ar);
	return cn_err_set(x->err, 0, "layer: %s%s%s", where, *where ? ": " : "",
			  msg ? msg : "libarchive error");
}

/* The same while reading the current entry's data. */
static int ar_entry_fail(struct ex *x)
{
	const char *msg = archive_error_string(x->ar);
	if (x->src.failed)
		return cn_err_plain(x->err, x->src.err.errnum, "layer: entry \"%s\": %s", x->shown,
				    x->src.err.msg);
	return ent_fail(x, 0, "%s", msg ? msg : "libarchive error");
}

/* NAME as a root-relative path into OUT ("" for the root), no "." or empty
 * components, ".." applied; *BASE gets where the last component starts.
 * -1 if a ".." would climb above the root. */
static int clean_path(const char *name, cn_buf *out, size_t *base)
{
	const char *p = name;
	cn_buf_reset(out);
	*base = 0;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash;
			if (out->len == 0)
				return -1;
			slash = memrchr(out->data, '/', out->len);
			out->len = slash ? (size_t)(slash - out->data) : 0;
			out->data[out->len] = '\0';
		} else {
			if (out->len)
				cn_buf_addc(out, '/');
			cn_buf_add(out, p, len);
		}
		p = *end ? end + 1 : end;
	}
	{
		char *slash = memrchr(out->data, '/', out->len);
		*base = slash ? (size_t)(slash - out->data) + 1 : 0;
	}
	return 0;
}

/* PATH[0, LEN) as a NUL-terminated string in X->parent ("." when empty). */
static const char *parent_of(struct ex *x, const char *path, size_t len)
{
	cn_buf_reset(&x->parent);
	if (len == 0)
		cn_buf_addc(&x->parent, '.');
	else
		cn_buf_add(&x->parent, path, len);
	return x->parent.data;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)
		ts[1].tv_nsec = 0;
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
		if (ts[0].tv_nsec < 0 || ts[0].tv_nsec > 999999999)
			ts[0].tv_nsec = 0;
	} else {
		ts[0] = ts[1];
	}
}

/* fchmodat that never follows a symlink (only used on what we just made). */
static int chmod_nofollow(int dirfd, const char *name, mode_t mode)
{
	if (syscall(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	return fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW);   /* glibc: O_PATH + /proc */
}

/* Record what this extraction made (ADD form). */
static int mark(struct ex *x, int dirfd, const char *name, int fd, unsigned flags)
{
	struct stat st;
	if (x->overlay)
		return 0;
	if (fd >= 0 ? fstat(fd, &st) : fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return ent_sys(x, "stat");
	iset_put(&x->seen, st.st_dev, st.st_ino, flags);
	return 0;
}

/* Before anything is made in DIRFD (ADD form): DIRFD and the directories
 * above it, up to the root, are TOUCHED. Stops at the first one already
 * known: its ancestors were marked when it was. */
static int mark_ancestors(struct ex *x, int dirfd)
{
	int cur = dirfd, owned = -1, r = 0;
	if (x->overlay)
		return 0;
	for (int i = 0; i < 8192; i++) {
		struct stat st;
		int up;
		if (fstat(cur, &st) < 0) {
			r = ent_sys(x, "stat");
			break;
		}
		if ((st.st_dev == x->root_dev && st.st_ino == x->root_ino) ||
		    iset_get(&x->seen, st.st_dev, st.st_ino))
			break;
		iset_put(&x->seen, st.st_dev, st.st_ino, IN_TOUCHED);
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0) {
			r = ent_sys(x, "open ..");
			break;
		}
		if (owned >= 0)
			close(owned);
		owned = cur = up;
	}
	if (owned >= 0)
		close(owned);
	return r;
}

static int set_opaque_fd(struct ex *x, int dirfd)
{
	if (fsetxattr(dirfd, OPAQUE_XATTR, "y", 1, 0) < 0)
		return ent_sys(x, "set %s", OPAQUE_XATTR);
	return 0;
}

static int set_opaque_at(struct ex *x, int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ent_sys(x, "open directory");
	return set_opaque_fd(x, fd);
}

/* Remove what is at NAME in DIRFD (ST: its lstat), to replace it. */
static int remove_existing(struct ex *x, int dirfd, const char *name, const struct stat *st)
{
	x->removals++;
	if (S_ISDIR(st->st_mode)) {
		cn_err sub;
		/* cn_rm_rf_at stops at mount points below NAME, not at NAME. */
		if (st->st_dev != x->root_dev)
			return ent_fail(x, 0, "refusing to replace a mount point");
		if (cn_rm_rf_at(dirfd, name, &sub) < 0)
			return ent_fail(x, 0, "replacing a directory: %s", sub.msg);
		return 0;
	}
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return ent_sys(x, "remove the existing entry");
	return 0;
}

static bool is_missing(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP;
}

/* The directory REL (root-relative, "." for the root) as an fd. CREATE:
 * missing components are made (0755, root-owned), and components that do
 * not resolve to a directory (files, dangling or looping symlinks, ...)
 * are replaced by one. Not CREATE: returns 0 with *OUT = -1 when REL does
 * not resolve to a directory. */
static int open_dir(struct ex *x, const char *rel, bool create, int *out)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int cur = -1;
	char *s;

	*out = cn_openat2(x->root, rel, O_PATH | O_DIRECTORY, RESOLVE_FLAGS);
	if (*out >= 0)
		return 0;
	if (errno == EXDEV)
		return ent_fail(x, 0, "'%s' crosses a mount point", rel);
	if (!is_missing(errno))
		return ent_sys(x, "open directory '%s'", rel);
	if (!create)
		return 0;

	/* One component at a time: each prefix is resolved from the root again
	 * (symlinks stay confined); where that fails, the component itself is
	 * looked at, without following it, in the directory that is its parent. */
	cur = openat(x->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return ent_sys(x, "open the target");
	p = cn_xstrdup(rel);
	for (s = p;;) {
		char *slash = strchr(s, '/');
		const char *comp = s;
		struct stat st;
		bool replaced = false;
		int fd;

		if (slash)
			*slash = '\0';
		fd = cn_openat2(x->root, p, O_PATH | O_DIRECTORY, RESOLVE_FLAGS);
		if (fd < 0 && errno == EXDEV)
			return ent_fail(x, 0, "'%s' crosses a mount point", p);
		if (fd < 0 && !is_missing(errno))
			return ent_sys(x, "open directory '%s'", p);
		if (fd < 0) {
			if (mark_ancestors(x, cur) < 0)
				return -1;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				if (S_ISDIR(st.st_mode))
					return ent_fail(x, 0, "directory '%s' cannot be opened", p);
				x->removals++;
				if (unlinkat(cur, comp, 0) < 0)
					return ent_sys(x, "replace '%s' by a directory", p);
				replaced = true;
			} else if (errno != ENOENT) {
				return ent_sys(x, "stat '%s'", p);
			}
			if (mkdirat(cur, comp, 0700) < 0)
				return ent_sys(x, "create directory '%s'", p);
			fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return ent_sys(x, "open directory '%s'", p);
			if (fchmod(fd, 0755) < 0 || fchown(fd, 0, 0) < 0) {
				ent_sys(x, "set up directory '%s'", p);
				close(fd);
				return -1;
			}
			if ((x->overlay && replaced && set_opaque_fd(x, fd) < 0) ||
			    mark(x, -1, NULL, fd, IN_CREATED) < 0) {
				close(fd);
				return -1;
			}
		}
		close(cur);
		cur = fd;
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	*out = CN_TAKE_FD(cur);
	return 0;
}

/* open_dir(REL, create) through the one-entry cache: the fd is borrowed
 * (valid until the next call), never -1 on success. */
static int parent_dir(struct ex *x, const char *rel)
{
	int fd;
	if (x->cached_fd >= 0 && x->cached_at == x->removals && !strcmp(rel, x->cached_path.data))
		return x->cached_fd;
	if (open_dir(x, rel, true, &fd) < 0)
		return -1;
	if (x->cached_fd >= 0)
		close(x->cached_fd);
	x->cached_fd = fd;
	x->cached_at = x->removals;
	cn_buf_reset(&x->cached_path);
	cn_buf_adds(&x->cached_path, rel);
	return fd;
}

/* Ownership from the tar, as uid_t/gid_t (-1 is "no change" to the kernel). */
static int entry_owner(struct ex *x, struct archive_entry *e, uid_t *uid, gid_t *gid)
{
	la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);
	if (u < 0 || u >= (la_int64_t)UINT32_MAX || g < 0 || g >= (la_int64_t)UINT32_MAX)
		return ent_fail(x, 0, "uid/gid %lld/%lld out of range", (long long)u, (long long)g);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

static bool dropped_xattr(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13) ||
	       !strcmp(name, "security.selinux");
}

/* The tar's xattrs onto FD, or onto NAME in DIRFD (not followed). */
static int set_xattrs(struct ex *x, struct archive_entry *e, int fd, int dirfd, const char *name)
{
	char path[sizeof("/proc/self/fd//") + 3 * sizeof(int) + NAME_MAX + 1];
	const char *key;
	const void *val;
	size_t len;

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	if (fd < 0)
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	while (archive_entry_xattr_next(e, &key, &val, &len) == ARCHIVE_OK) {
		int r;
		if (!key || dropped_xattr(key))
			continue;
		r = fd >= 0 ? fsetxattr(fd, key, val, len, 0) : lsetxattr(path, key, val, len, 0);
		if (r < 0) {
			/* The kernel allows user.* only on files and directories. */
			if (errno == EPERM && fd < 0 && !strncmp(key, "user.", 5))
				continue;
			return ent_sys(x, "set xattr %.64s", key);
		}
	}
	return 0;
}

/* Owner, mode, xattrs, times of what FD is (a file or directory we made or
 * kept). Order matters: chown clears setuid bits and file capabilities. */
static int meta_fd(struct ex *x, struct archive_entry *e, int fd, bool times)
{
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	if (entry_owner(x, e, &uid, &gid) < 0)
		return -1;
	if (fchown(fd, uid, gid) < 0)
		return ent_sys(x, "chown");
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return ent_sys(x, "chmod");
	if (set_xattrs(x, e, fd, -1, NULL) < 0)
		return -1;
	entry_times(e, ts);
	if (times && futimens(fd, ts) < 0)
		return ent_sys(x, "set times");
	return 0;
}

/* The same for NAME in DIRFD (a symlink, device or fifo we just made). */
static int meta_at(struct ex *x, struct archive_entry *e, int dirfd, const char *name, bool is_link)
{
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	if (entry_owner(x, e, &uid, &gid) < 0)
		return -1;
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return ent_sys(x, "chown");
	if (!is_link && chmod_nofollow(dirfd, name, archive_entry_perm(e) & 07777) < 0)
		return ent_sys(x, "chmod");
	if (set_xattrs(x, e, -1, dirfd, name) < 0)
		return -1;
	entry_times(e, ts);
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return ent_sys(x, "set times");
	return 0;
}

static int record_dir_time(struct ex *x, struct archive_entry *e)
{
	struct dir_time *d;
	size_t off = x->dir_paths.len;
	if ((x->ndirs + 1) * sizeof(*x->dirs) + x->dir_paths.len > EX_DIR_RECORDS_MAX ||
	    cn_buf_add(&x->dir_paths, x->path.data, x->path.len + 1) < 0)
		return ent_fail(x, 0, "too many directories (more than %zu MiB of names)",
				EX_DIR_RECORDS_MAX >> 20);
	cn_xgrow((void **)&x->dirs, &x->dirs_cap, x->ndirs + 1, sizeof(*x->dirs));
	d = &x->dirs[x->ndirs++];
	d->off = off;
	entry_times(e, d->ts);
	return 0;
}

/* ---- entry kinds ------------------------------------------------------------ */

static int do_dir(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	bool existed = false, replaced = false;
	struct stat st;

	if (mkdirat(dirfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return ent_sys(x, "create directory");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ent_sys(x, "stat");
		if (S_ISDIR(st.st_mode)) {
			existed = true;         /* dir over dir: keep it, update metadata */
		} else {
			if (remove_existing(x, dirfd, name, &st) < 0)
				return -1;
			if (mkdirat(dirfd, name, 0700) < 0)
				return ent_sys(x, "create directory");
			replaced = true;
		}
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ent_sys(x, "open directory");
	/* O_NOFOLLOW does not stop at a mount point (ADD into a tree that has
	 * one): never change what is mounted there. */
	if (existed && (fstat(fd, &st) < 0 || st.st_dev != x->root_dev))
		return ent_fail(x, 0, "refusing to change a mount point");
	if (meta_fd(x, e, fd, false) < 0)
		return -1;
	if (x->overlay && replaced && set_opaque_fd(x, fd) < 0)
		return -1;
	if (mark(x, -1, NULL, fd, existed ? IN_TOUCHED : IN_CREATED) < 0)
		return -1;
	return record_dir_time(x, e);
}

static int write_data(struct ex *x, int fd, la_int64_t size)
{
	la_int64_t end = 0;
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		const char *p;
		int r = archive_read_data_block(x->ar, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return ar_entry_fail(x);
		if (off < 0 || (la_int64_t)len > size || off > size - (la_int64_t)len)
			return ent_fail(x, 0, "data beyond the entry's size");
		p = buf;
		while (len > 0) {
			ssize_t n = pwrite(fd, p, len, (off_t)off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return ent_sys(x, "write");
			}
			p += n;
			len -= (size_t)n;
			off += n;
		}
		if (off > end)
			end = off;
	}
	if (end < size && ftruncate(fd, (off_t)size) < 0)     /* a sparse file's last hole */
		return ent_sys(x, "truncate");
	return 0;
}

static int do_file(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	la_int64_t size = archive_entry_size(e);

	if ((uint64_t)size > x->max_bytes - x->file_bytes)
		return ent_fail(x, 0, "the layer's files exceed the size limit (%llu bytes)",
				(unsigned long long)x->max_bytes);
	x->file_bytes += (uint64_t)size;
	for (int tries = 0;; tries++) {
		struct stat st;
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 0)
			return ent_sys(x, "create");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ent_sys(x, "stat");
		if (remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	}
	if (write_data(x, fd, size) < 0 || meta_fd(x, e, fd, true) < 0)
		return -1;
	return mark(x, -1, NULL, fd, IN_CREATED);
}

static int do_symlink(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	const char *target = archive_entry_symlink(e);
	if (!target || !*target)
		return ent_fail(x, 0, "symlink with an empty target");
	if (strlen(target) > LAYER_EXTRACT_MAX_PATH)
		return ent_fail(x, 0, "symlink target longer than %d bytes", LAYER_EXTRACT_MAX_PATH);
	/* The target is stored as it is: it is only ever followed inside a root. */
	for (int tries = 0;; tries++) {
		struct stat st;
		if (symlinkat(target, dirfd, name) == 0)
			break;
		if (errno != EEXIST || tries > 0)
			return ent_sys(x, "create symlink");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ent_sys(x, "stat");
		if (remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	}
	if (meta_at(x, e, dirfd, name, true) < 0)
		return -1;
	return mark(x, dirfd, name, -1, IN_CREATED);
}

/* Character and block devices, fifos. */
static int do_node(struct ex *x, struct archive_entry *e, int dirfd, const char *name)
{
	mode_t type = archive_entry_filetype(e);
	dev_t rdev = 0;
	if (type != AE_IFIFO)
		rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	for (int tries = 0;; tries++) {
		struct stat st;
		if (mknodat(dirfd, name, type | 0600, rdev) == 0)
			break;
		if (errno != EEXIST || tries > 0)
			return ent_sys(x, "create %s", type == AE_IFIFO ? "fifo" : "device");
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ent_sys(x, "stat");
		if (remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	}
	if (meta_at(x, e, dirfd, name, false) < 0)
		return -1;
	return mark(x, dirfd, name, -1, IN_CREATED);
}

/* A hardlink to an entry already in the target; no metadata of its own. */
static int do_hardlink(struct ex *x, const char *linkname, int dirfd, const char *name)
{
	_cleanup_close_ int tdir = -1;
	struct stat tst, st;
	const char *tname;
	size_t tbase;

	if (strlen(linkname) > LAYER_EXTRACT_MAX_PATH)
		return ent_fail(x, 0, "hardlink target longer than %d bytes", LAYER_EXTRACT_MAX_PATH);
	if (clean_path(linkname, &x->link, &tbase) < 0)
		return ent_fail(x, 0, "hardlink target escapes the root");
	if (x->link.len == 0)
		return ent_fail(x, 0, "hardlink to the root directory");
	tname = x->link.data + tbase;
	if (open_dir(x, parent_of(x, x->link.data, tbase ? tbase - 1 : 0), false, &tdir) < 0)
		return -1;
	if (tdir < 0 || fstatat(tdir, tname, &tst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (tdir >= 0 && errno != ENOENT)
			return ent_sys(x, "stat the hardlink target");
		return ent_fail(x, 0, "hardlink target not found in the layer");
	}
	if (S_ISDIR(tst.st_mode))
		return ent_fail(x, 0, "hardlink to a directory");
	if (S_ISCHR(tst.st_mode) && tst.st_rdev == makedev(0, 0))
		return ent_fail(x, 0, "hardlink to a whiteout");
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (st.st_dev == tst.st_dev && st.st_ino == tst.st_ino)
			return 0;       /* already that inode */
		if (remove_existing(x, dirfd, name, &st) < 0)
			return -1;
	} else if (errno != ENOENT) {
		return ent_sys(x, "stat");
	}
	if (linkat(tdir, tname, dirfd, name, 0) < 0)
		return ent_sys(x, "create hardlink");
	return mark(x, dirfd, name, -1, IN_CREATED);
}

/* ---- whiteouts ----------------------------------------------------------- */

/* ADD form: remove everything in DIRFD this extraction did not make,
 * keeping CREATED entries and recursing into TOUCHED directories. */
static int clear_older(struct ex *x, int dirfd, int depth)
{
	_cleanup_buf_ cn_buf names;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_close_ int fd = -1;
	struct dirent *de;

	if (depth > EX_CLEAR_DEPTH)
		return ent_fail(x, 0, "more than %d directory levels to clear", EX_CLEAR_DEPTH);
	cn_buf_init(&names, 0);
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ent_sys(x, "open directory");
	{
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dfd < 0)
			return ent_sys(x, "dup");
		d = fdopendir(dfd);
		if (!d) {
			close(dfd);
			return ent_sys(x, "opendir");
		}
	}
	while ((errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			cn_buf_add(&names, de->d_name, strlen(de->d_name) + 1);
	if (errno)
		return ent_sys(x, "read directory");
	for (size_t i = 0; i < names.len; i += strlen(names.data + i) + 1) {
		const char *name = names.data + i;
		struct stat st;
		unsigned flags;
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return ent_sys(x, "stat");
		}
		flags = iset_get(&x->seen, st.st_dev, st.st_ino);
		if (flags & IN_CREATED)
			continue;
		if (S_ISDIR(st.st_mode) && (flags & IN_TOUCHED)) {
			_cleanup_close_ int sub = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
							 O_CLOEXEC);
			if (sub < 0)
				return ent_sys(x, "open directory");
			if (clear_older(x, sub, depth + 1) < 0)
				return -1;
			continue;
		}
		if (remove_existing(x, fd, name, &st) < 0)
			return -1;
	}
	return 0;
}

/* ".wh..wh..opq" in directory DIR (root-relative). */
static int do_opaque(struct ex *x, const char *dir)
{
	_cleanup_close_ int fd = -1;
	if (open_dir(x, dir, x->overlay, &fd) < 0)
		return -1;
	if (fd < 0)
		return 0;               /* ADD form, nothing there: nothing to hide */
	if (x->overlay) {
		_cleanup_close_ int rd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rd < 0)
			return ent_sys(x, "open directory");
		return set_opaque_fd(x, rd);
	}
	return clear_older(x, fd, 0);
}

/* ".wh.NAME" in directory DIR. */
static int do_whiteout(struct ex *x, struct archive_entry *e, const char *dir, const char *name)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (open_dir(x, dir, x->overlay, &fd) < 0)
		return -1;
	if (fd < 0)
		return 0;
	if (x->overlay) {
		struct timespec ts[2];
		if (mknodat(fd, name, S_IFCHR | 0, makedev(0, 0)) == 0) {
			entry_times(e, ts);
			if (fchownat(fd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
			    utimensat(fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
				return ent_sys(x, "set up whiteout");
			return 0;
		}
		if (errno != EEXIST)
			return ent_sys(x, "create whiteout");
		/* NAME is from this layer and survives; as a directory it now
		 * hides what lower layers had under that name. */
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ent_sys(x, "stat");
		return S_ISDIR(st.st_mode) ? set_opaque_at(x, fd, name) : 0;
	}
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return ent_sys(x, "stat");
	}
	{
		unsigned flags = iset_get(&x->seen, st.st_dev, st.st_ino);
		if (flags & IN_CREATED)
			return 0;
		if (S_ISDIR(st.st_mode) && (flags & IN_TOUCHED)) {
			_cleanup_close_ int sub = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
							 O_CLOEXEC);
			if (sub < 0)
				return ent_sys(x, "open directory");
			return clear_older(x, sub, 0);
		}
	}
	return remove_existing(x, fd, name, &st);
}

static int whiteout_entry(struct ex *x, struct archive_entry *e, size_t base)
{
	const char *wname = x->path.data + base;
	const char *target = wname + WH_PREFIX_LEN;
	const char *dir;

	if (archive_entry_hardlink(e) || archive_entry_filetype(e) != AE_IFREG)
		return ent_fail(x, 0, "invalid whiteout: not a regular file");
	dir = parent_of(x, x->path.data, base ? base - 1 : 0);
	if (!strcmp(wname, WH_OPAQUE))
		return do_opaque(x, dir);
	if (!*target || !strcmp(target, ".") || !strcmp(target, ".."))
		return ent_fail(x, 0, "invalid whiteout name");
	/* ".wh..wh.*" (AUFS bookkeeping) would white out a ".wh." name, which
	 * nothing can have. */
	if (!strncmp(target, WH_PREFIX, WH_PREFIX_LEN))
		return 0;
	return do_whiteout(x, e, dir, target);
}

/* ---- one entry ------------------------------------------------------------- */

static int extract_entry(struct ex *x, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	const char *name;
	size_t base;
	int dirfd;

	if (!raw)
		return cn_err_set(x->err, 0, "layer: entry #%llu: unreadable name",
				  (unsigned long long)x->entries);
	set_shown(x, raw);
	if (x->entries > x->max_entries)
		return ent_fail(x, 0, "more than %llu entries in the layer",
				(unsigned long long)x->max_entries);
	if (strlen(raw) > LAYER_EXTRACT_MAX_PATH)
		return ent_fail(x, 0, "name longer than %d bytes", LAYER_EXTRACT_MAX_PATH);
	if (clean_path(raw, &x->path, &base) < 0)
		return ent_fail(x, 0, "path escapes the root");
	/* libarchive reads data after a hardlink (pax) or a non-file header
	 * whose size says so, where other readers (Go's archive/tar) do not:
	 * a tar that two parsers read differently is refused. */
	if (archive_entry_size(e) > 0 && (hardlink || type != AE_IFREG))
		return ent_fail(x, 0, "%s entry with data", hardlink ? "hardlink" : "non-file");
	if (x->path.len == 0) {
		if (hardlink || type != AE_IFDIR)
			return ent_fail(x, 0, "refusing to replace the root directory by a non-directory");
		return 0;               /* the root's own entry: the target keeps its metadata */
	}
	/* A ".wh." name may only be the last component (a whiteout). */
	for (const char *c = x->path.data; c < x->path.data + base; c = strchr(c, '/') + 1)
		if (!strncmp(c, WH_PREFIX, WH_PREFIX_LEN))
			return ent_fail(x, 0, "a directory named \".wh.*\"");
	name = x->path.data + base;
	if (!strncmp(name, WH_PREFIX, WH_PREFIX_LEN))
		return whiteout_entry(x, e, base);
	if (!hardlink && type == AE_IFCHR && archive_entry_rdevmajor(e) == 0 &&
	    archive_entry_rdevminor(e) == 0)
		return ent_fail(x, 0, "character device 0/0 (an overlay whiteout) not named .wh.*");

	dirfd = parent_dir(x, parent_of(x, x->path.data, base ? base - 1 : 0));
	if (dirfd < 0 || mark_ancestors(x, dirfd) < 0)
		return -1;
	if (hardlink)
		return do_hardlink(x, hardlink, dirfd, name);
	switch (type) {
	case AE_IFDIR:
		return do_dir(x, e, dirfd, name);
	case AE_IFREG:
		return do_file(x, e, dirfd, name);
	case AE_IFLNK:
		return do_symlink(x, e, dirfd, name);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		return do_node(x, e, dirfd, name);
	default:
		return ent_fail(x, 0, "unsupported entry type 0%o", (unsigned)type);
	}
}

/* Directory times, last: creating entries changed them. */
static int apply_dir_times(struct ex *x)
{
	for (size_t i = 0; i < x->ndirs; i++) {
		const char *path = x->dir_paths.data + x->dirs[i].off;
		_cleanup_close_ int fd = cn_openat2(x->root, path, O_PATH | O_DIRECTORY | O_NOFOLLOW,
						    RESOLVE_FLAGS);
		if (fd < 0)
			continue;       /* replaced by a later entry */
		if (utimensat(fd, "", x->dirs[i].ts, AT_EMPTY_PATH) < 0) {
			set_shown(x, path);
			return ent_sys(x, "set directory times");
		}
	}
	return 0;
}

/* A warning from the tar reader we can live with: a name that is not valid
 * UTF-8 in a pax record without hdrcharset=BINARY (Go's archive/tar writes
 * them so); libarchive keeps its raw bytes, as other readers do. Any other
 * warning (malformed pax records, too many special headers, an unknown
 * sparse format) could mean we read the tar differently from them. */
static bool benign_warning(struct archive *ar)
{
	static const char *const ok[] = { "Pathname", "Linkname", "Uname", "Gname" };
	const char *msg = archive_error_string(ar);
	for (size_t i = 0; msg && i < CN_ARRAY_SIZE(ok); i++) {
		size_t n = strlen(ok[i]);
		if (!strncmp(msg, ok[i], n) && !strncmp(msg + n, " can't be converted", 19))
			return true;
	}
	return false;
}

static int extract_all(struct ex *x)
{
	struct archive_entry *e;
	const void *junk;
	ssize_t n;

	x->ar = archive_read_new();
	if (!x->ar)
		return cn_err_set(x->err, ENOMEM, "layer: libarchive");
	/* The tar reader only (ustar, pax, GNU); no filter: we decompress. */
	if (archive_read_support_format_tar(x->ar) != ARCHIVE_OK ||
	    archive_read_open(x->ar, &x->src, NULL, ar_read_cb, NULL) != ARCHIVE_OK)
		return ar_fail(x, x->src.failed ? "" : "not a tar archive");
	for (;;) {
		int r;
		if (cn_interrupted())
			return cn_err_plain(x->err, EINTR, "interrupted");
		x->src.header_end = x->src.plain + LAYER_EXTRACT_MAX_HEADER;
		r = archive_read_next_header(x->ar, &e);
		x->src.header_end = 0;
		if (r == ARCHIVE_EOF)
			break;
		x->entries++;
		if (r != ARCHIVE_OK && !(r == ARCHIVE_WARN && benign_warning(x->ar))) {
			char where[64];
			snprintf(where, sizeof(where), "tar header of entry #%llu",
				 (unsigned long long)x->entries);
			return ar_fail(x, where);
		}
		if (extract_entry(x, e) < 0)
			return -1;
		if (archive_read_data_skip(x->ar) != ARCHIVE_OK)
			return ar_entry_fail(x);
		x->end_of_entries = (uint64_t)archive_filter_bytes(x->ar, 0);
	}
	/* The rest of the blob, through the same hashes. */
	while ((n = src_read(&x->src, &junk)) > 0)
		;
	if (n < 0)
		return cn_err_plain(x->err, x->src.err.errnum, "layer: %s", x->src.err.msg);
	if (x->src.plain < x->end_of_entries + 512)
		return cn_err_set(x->err, 0, "layer: the tar has no end-of-archive blocks (truncated?)");
	if (x->src.plain - x->src.zero_tail > x->end_of_entries)
		return cn_err_set(x->err, 0, "layer: data after the tar's end-of-archive blocks");
	return apply_dir_times(x);
}

int layer_extract(int in_fd, int target_fd, const struct layer_extract_opts *opts,
		  struct layer_extract_result *res, cn_err *err)
{
	locale_t pinned, old = layer_pin_utf8_locale(&pinned);
	struct ex x;
	struct stat st;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	if (res)
		memset(res, 0, sizeof(*res));
	x.err = err;
	x.root = target_fd;
	x.overlay = opts ? opts->overlay_whiteouts : true;
	x.max_bytes = opts && opts->max_bytes ? opts->max_bytes : LAYER_EXTRACT_MAX_BYTES;
	x.max_entries = opts && opts->max_entries ? opts->max_entries : LAYER_EXTRACT_MAX_ENTRIES;
	cn_buf_init(&x.path, 0);
	cn_buf_init(&x.parent, 0);
	cn_buf_init(&x.link, 0);
	cn_buf_init(&x.dir_paths, 0);
	cn_buf_init(&x.cached_path, 0);
	x.cached_fd = -1;

	if (fstat(target_fd, &st) < 0) {
		cn_err_sys(err, "layer: the target");
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		cn_err_set(err, ENOTDIR, "layer: the target");
		goto out;
	}
	x.root_dev = st.st_dev;
	x.root_ino = st.st_ino;
	if (src_open(&x.src, in_fd, x.max_bytes, opts && opts->bzip2_xz) < 0) {
		cn_err_plain(err, x.src.err.errnum, "layer: %s", x.src.err.msg);
		goto out;
	}
	if (extract_all(&x) < 0)
		goto out;
	if (res) {
		cn_sha256_final(&x.src.digest, res->digest);
		if (x.src.codec == EX_PLAIN)
			memcpy(res->diff_id, res->digest, sizeof(res->diff_id));
		else
			cn_sha256_final(&x.src.diff_id, res->diff_id);
		res->size = x.src.raw;
		res->uncompressed = x.src.plain;
		res->entries = x.entries;
	}
	rc = 0;
out:
	if (x.ar)
		archive_read_free(x.ar);
	src_free(&x.src);
	free(x.seen.v);
	free(x.dirs);
	cn_buf_free(&x.path);
	cn_buf_free(&x.parent);
	cn_buf_free(&x.link);
	cn_buf_free(&x.dir_paths);
	cn_buf_free(&x.cached_path);
	if (x.cached_fd >= 0)
		close(x.cached_fd);
	layer_unpin_locale(old, pinned);
	return rc;
}
