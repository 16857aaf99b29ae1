/* The stat cache's file format: see statcache_file.h. */
#include "builder/statcache_file.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- little-endian fields ---- */

uint64_t scf_get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void scf_put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "sha256:<hex>" (as cn_sha256_final writes it) to 32 bytes. */
void scf_digest_to_raw(const char *s, unsigned char md[32])
{
	for (int i = 0; i < 32; i++)
		md[i] = (unsigned char)(hexval(s[7 + 2 * i]) << 4 | hexval(s[8 + 2 * i]));
}

void scf_sha_raw(const void *data, size_t len, unsigned char md[32])
{
	char s[CN_DIGEST_STR_SIZE];
	cn_sha256_oneshot(data, len, s);
	scf_digest_to_raw(s, md);
}

/* ---- keys in path order ---- */

/* Bytewise, but '/' sorts before any other byte: components compare one by
 * one, as the walk visits them. */
int scf_key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	for (size_t i = 0; i < n; i++) {
		int x = a[i] == '/' ? 0 : (unsigned char)a[i] + 1;
		int y = b[i] == '/' ? 0 : (unsigned char)b[i] + 1;
		if (x != y)
			return x - y;
	}
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* ---- entries in a block ---- */

void scf_rec_get(const unsigned char *p, struct scf_rec *r)
{
	r->size = scf_get_le(p + 8, 8);
	r->mtime_ns = scf_get_le(p + 16, 8);
	r->ctime_ns = scf_get_le(p + 24, 8);
	r->ino = scf_get_le(p + 32, 8);
	r->dev = scf_get_le(p + 40, 8);
	r->used = scf_get_le(p + 48, 8);
	memcpy(r->md, p + 56, 32);
	r->dead = scf_get_le(p + 4, 4) & SCF_F_DEAD;
}

void scf_rec_put(unsigned char *p, size_t len, const struct scf_rec *r)
{
	scf_put_le(p, len, 4);
	scf_put_le(p + 4, r->dead ? SCF_F_DEAD : 0, 4);
	scf_put_le(p + 8, r->size, 8);
	scf_put_le(p + 16, r->mtime_ns, 8);
	scf_put_le(p + 24, r->ctime_ns, 8);
	scf_put_le(p + 32, r->ino, 8);
	scf_put_le(p + 40, r->dev, 8);
	scf_put_le(p + 48, r->used, 8);
	memcpy(p + 56, r->md, 32);
}

const char *scf_blk_key(const struct scf_blk *b, uint32_t i, size_t *len)
{
	const unsigned char *p = b->buf + b->offs[i];
	*len = scf_get_le(p, 4);
	return (const char *)p + SCF_ENTRY_FIXED;
}

void scf_blk_free(struct scf_blk *b)
{
	free(b->buf);
	free(b->offs);
	memset(b, 0, sizeof(*b));
}

/* Is a block of NBYTES at OFF of a file of SIZE bytes where one may be?
 * It fits, and it is at least what the writer cuts unless it is the last
 * (followed by the end marker): so a file holds at most a block per
 * SCF_BLOCK bytes, whatever it is made of. */
bool scf_head_usable(uint64_t off, uint64_t size, uint64_t nbytes)
{
	if (nbytes > SCF_BLOCK_MAX || off > size || size - off < SCF_BLOCK_HEAD ||
	    size - off - SCF_BLOCK_HEAD < nbytes + SCF_MD)
		return false;
	return nbytes >= SCF_BLOCK || size - off - SCF_BLOCK_HEAD - nbytes - SCF_MD == SCF_BLOCK_HEAD;
}

enum scf_got scf_blk_read(int fd, uint64_t off, uint64_t size, struct scf_blk *b, uint64_t *next)
{
	unsigned char head[SCF_BLOCK_HEAD], md[32];
	uint64_t nbytes, n, pos = SCF_BLOCK_HEAD;
	b->n = 0;
	if (off > size || size - off < SCF_BLOCK_HEAD || pread(fd, head, sizeof(head), (off_t)off) != SCF_BLOCK_HEAD)
		return SCF_END;
	nbytes = scf_get_le(head, 4);
	n = scf_get_le(head + 4, 4);
	if ((nbytes == 0 && n == 0) || !scf_head_usable(off, size, nbytes))
		return SCF_END;
	/* From here on a damaged block is skipped, not the end. */
	*next = off + SCF_BLOCK_HEAD + nbytes + SCF_MD;
	if (n == 0 || n > nbytes / (SCF_ENTRY_FIXED + 1))
		return SCF_BAD;
	if (!b->buf)
		b->buf = cn_xmalloc(SCF_BLOCK_HEAD + SCF_BLOCK_MAX + SCF_MD);
	if (pread(fd, b->buf, SCF_BLOCK_HEAD + nbytes + SCF_MD, (off_t)off) != (ssize_t)(SCF_BLOCK_HEAD + nbytes + SCF_MD))
		return SCF_BAD;
	scf_sha_raw(b->buf, SCF_BLOCK_HEAD + nbytes, md);
	if (memcmp(md, b->buf + SCF_BLOCK_HEAD + nbytes, 32) != 0 ||
	    memcmp(b->buf, head, SCF_BLOCK_HEAD) != 0)
		return SCF_BAD;
	cn_xgrow((void **)&b->offs, &b->offs_cap, n, sizeof(*b->offs));
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *p = b->buf + pos;
		uint64_t len;
		if (SCF_BLOCK_HEAD + nbytes - pos < SCF_ENTRY_FIXED)
			return SCF_BAD;
		len = scf_get_le(p, 4);
		if (len == 0 || len > BF_STATCACHE_MAX_KEY || (scf_get_le(p + 4, 4) & ~(uint64_t)SCF_F_DEAD) != 0 ||
		    SCF_BLOCK_HEAD + nbytes - pos - SCF_ENTRY_FIXED < len ||
		    memchr(p + SCF_ENTRY_FIXED, '\0', len))
			return SCF_BAD;
		b->offs[i] = (uint32_t)pos;
		if (i > 0) {
			size_t plen;
			const char *prev = scf_blk_key(b, (uint32_t)(i - 1), &plen);
			if (scf_key_cmp(prev, plen, (const char *)p + SCF_ENTRY_FIXED, len) >= 0)
				return SCF_BAD;
		}
		pos += SCF_ENTRY_FIXED + len;
	}
	if (pos != SCF_BLOCK_HEAD + nbytes)
		return SCF_BAD;
	b->n = (uint32_t)n;
	return SCF_OK;
}

void scf_idx_add(struct scf_index **idx, size_t *n, size_t *cap, uint64_t off, const char *first,
		    size_t len)
{
	cn_xgrow((void **)idx, cap, *n + 1, sizeof(**idx));
	(*idx)[(*n)++] = (struct scf_index){ .off = off, .first = cn_xstrndup(first, len),
					    .first_len = (uint32_t)len };
}

static void scf_w_block(struct scf_writer *w)
{
	scf_put_le(w->blk, w->blen - SCF_BLOCK_HEAD, 4);
	scf_put_le(w->blk + 4, w->bn, 4);
	scf_sha_raw(w->blk, w->blen, w->blk + w->blen);
	if (!w->failed && cn_write_all(w->fd, w->blk, w->blen + SCF_MD) < 0)
		w->failed = errno ? errno : EIO;
	w->off += w->blen + SCF_MD;
	w->bn = 0;
}

void scf_w_entry(struct scf_writer *w, const char *key, size_t len, const struct scf_rec *r)
{
	bool cut = w->bn && w->blen - SCF_BLOCK_HEAD >= SCF_BLOCK;
	/* Where the file would end with the entry: after the current block
	 * (if any), the entry joining it or starting a block of its own. */
	uint64_t end = w->off + (w->bn ? w->blen + SCF_MD : 0) + SCF_ENTRY_FIXED + len +
		       (cut || !w->bn ? SCF_BLOCK_HEAD + SCF_MD : 0);
	/* Hard bounds, whatever the input (the file read back may lie about
	 * its count): entries, bytes (end marker included), first keys. */
	if (w->count >= w->max_count || end + SCF_BLOCK_HEAD > w->max_bytes ||
	    ((cut || !w->bn) && w->idx_bytes + len > SCF_IDX_KEYS_MAX))
		return;
	if (cut)
		scf_w_block(w);
	if (!w->bn) {
		scf_idx_add(&w->idx, &w->nidx, &w->idx_cap, w->off, key, len);
		w->idx_bytes += len;
		w->blen = SCF_BLOCK_HEAD;
	}
	scf_rec_put(w->blk + w->blen, len, r);
	memcpy(w->blk + w->blen + SCF_ENTRY_FIXED, key, len);
	w->blen += SCF_ENTRY_FIXED + len;
	w->bn++;
	w->count++;
}

int scf_w_finish(struct scf_writer *w)
{
	unsigned char end[SCF_BLOCK_HEAD] = { 0 }, hdr[SCF_HEADER];
	if (w->bn)
		scf_w_block(w);
	memcpy(hdr, SCF_MAGIC, 8);
	scf_put_le(hdr + 8, SCF_VERSION, 4);
	scf_put_le(hdr + 12, 0, 4);
	scf_put_le(hdr + 16, w->count, 8);
	if (w->failed) {
		errno = w->failed;
		return -1;
	}
	if (cn_write_all(w->fd, end, sizeof(end)) < 0)
		return -1;
	{
		ssize_t n = pwrite(w->fd, hdr, sizeof(hdr), 0);
		if (n != (ssize_t)sizeof(hdr)) {
			if (n >= 0)
				errno = EIO;    /* short: errno is stale */
			return -1;
		}
	}
	return 0;
}

void scf_rd_rewind(struct scf_reader *rd)
{
	unsigned char hdr[SCF_HEADER];
	rd->off = SCF_HEADER;
	rd->i = 0;
	rd->b.n = 0;
	rd->last_len = 0;
	rd->eof = rd->fd < 0 || rd->size < SCF_HEADER || pread(rd->fd, hdr, sizeof(hdr), 0) != SCF_HEADER ||
		  memcmp(hdr, SCF_MAGIC, 8) != 0 || scf_get_le(hdr + 8, 4) != SCF_VERSION || scf_get_le(hdr + 12, 4) != 0;
	rd->count = rd->eof ? 0 : scf_get_le(hdr + 16, 8);
	/* A claim, not checked until the end: capped, so that sums of
	 * counts cannot wrap (a file claiming more is read as it is). */
	if (rd->count > BF_STATCACHE_MAX_ENTRIES)
		rd->count = BF_STATCACHE_MAX_ENTRIES;
}

bool scf_rd_next(struct scf_reader *rd, const char **key, size_t *len, struct scf_rec *r)
{
	while (!rd->eof && rd->i >= rd->b.n) {
		uint64_t next = 0;
		enum scf_got got = scf_blk_read(rd->fd, rd->off, rd->size, &rd->b, &next);
		if (got == SCF_END) {
			rd->eof = true;
			break;
		}
		/* A damaged block loses its own entries only. */
		rd->off = next;
		rd->i = 0;
	}
	if (rd->eof)
		return false;
	*key = scf_blk_key(&rd->b, rd->i, len);
	if (rd->last_len && scf_key_cmp(rd->last, rd->last_len, *key, *len) >= 0) {
		rd->eof = true;
		return false;
	}
	scf_rec_get(rd->b.buf + rd->b.offs[rd->i], r);
	memcpy(rd->last, *key, *len);
	rd->last_len = *len;
	rd->i++;
	return true;
}

/* ---- new files ---- */

/* A name for the temp file next to NAME, unique enough that O_EXCL or
 * linkat seldom meets an existing one (then the caller tries another). */
static char *tmp_name(const char *name, unsigned attempt)
{
	const char *slash = strrchr(name, '/');
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return cn_xasprintf("%.*s.%s.tmp-%d-%lx-%u", slash ? (int)(slash - name + 1) : 0, name,
			    slash ? slash + 1 : name, (int)getpid(), (unsigned long)ts.tv_nsec, attempt);
}

/* Give the unnamed file FD a temp name in DIRFD. */
char *scf_link_tmpfile(int fd, int dirfd, const char *name)
{
	_cleanup_free_ char *proc = cn_xasprintf("/proc/self/fd/%d", fd);
	for (unsigned i = 0; i < 8; i++) {
		char *tmp = tmp_name(name, i);
		if (linkat(fd, "", dirfd, tmp, AT_EMPTY_PATH) == 0 ||
		    (errno != EEXIST && linkat(AT_FDCWD, proc, dirfd, tmp, AT_SYMLINK_FOLLOW) == 0))
			return tmp;
		free(tmp);
		if (errno != EEXIST)
			return NULL;
	}
	return NULL;
}

static int create_named(int dirfd, const char *name, char **tmp)
{
	for (unsigned i = 0; i < 8; i++) {
		int fd;
		*tmp = tmp_name(name, i);
		fd = openat(dirfd, *tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		free(*tmp);
		*tmp = NULL;
	}
	return -1;
}

/* A new file in NAME's directory under DIRFD: unnamed first, so that a
 * process killed while writing leaves nothing behind; a named temp (*TMP)
 * where O_TMPFILE is not supported. */
int scf_open_new(int dirfd, const char *name, char **tmp)
{
	const char *slash = strrchr(name, '/');
	_cleanup_free_ char *dir = slash ? cn_xstrndup(name, (size_t)(slash - name)) : cn_xstrdup(".");
	int fd = openat(dirfd, *dir ? dir : "/", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = create_named(dirfd, name, tmp);
	return fd;
}
