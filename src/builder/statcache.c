/* The stat cache, at a memory bound whatever the number of files: the
 * cache file is sorted by path and read block by block (an in-memory index
 * holds each block's offset and first key), and what a session records
 * goes into a bounded in-memory table (open addressing, linear probing,
 * keyed SipHash-2-4 through OpenSSL's EVP_MAC, so that file names from a
 * build context cannot be chosen to collide) that is merged into a new
 * file when it fills up and at the save. The file:
 *
 *   header   "cairnsc\0"  u32 version (2)  u32 flags (0)  u64 count
 *   blocks   u32 nbytes  u32 nentries  nbytes of entries  32 bytes sha256
 *            of the block's 8-byte head and its entries
 *   end      u32 0  u32 0, then the end of the file
 *   entry    u32 key_len  u32 flags (0)  u64 size  u64 mtime_ns  u64 ctime_ns
 *            u64 ino  u64 dev  u64 used (unix seconds)  32 bytes sha256
 *            key_len bytes of key (no NUL)
 *
 * integers little-endian, keys strictly increasing in path order (bytes,
 * '/' before any other: the order in which the COPY walk, names sorted per
 * directory, visits them, so its lookups read each block once). A block is
 * cut after SC_BLOCK bytes of entries. Anything that does not check out
 * loads as an empty cache: the whole file is checked at the load, a
 * block again whenever it is read.
 */
#include "builder/statcache.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SC_MAGIC "cairnsc"     /* 8 bytes with its NUL */
#define SC_VERSION 2
#define SC_HEADER 24
#define SC_BLOCK_HEAD 8
#define SC_ENTRY_FIXED 88
#define SC_MD 32
#define SC_BLOCK ((size_t)64 << 10)
/* The longest block: one cut just after SC_BLOCK bytes by the longest entry. */
#define SC_BLOCK_MAX (SC_BLOCK + SC_ENTRY_FIXED + BF_STATCACHE_MAX_KEY)
#define SC_CHUNK ((size_t)64 << 10)
/* A hit refreshes an entry's "used" time on disk only when it is older than
 * this, so that a build whose files all hit does not rewrite the cache. */
#define SC_TOUCH_SECS 3600
/* Eviction keeps the most recently used entries by the hour of their last
 * use; older than this counts as this old. */
#define SC_AGE_BUCKETS (24 * 366 * 2)
#define NONE SIZE_MAX

/* What is recorded for a key. */
struct sc_rec {
	uint64_t size;
	uint64_t mtime_ns;      /* see ts_ns() */
	uint64_t ctime_ns;
	uint64_t ino;
	uint64_t dev;
	uint64_t used;          /* unix seconds of the last use (persisted) */
	unsigned char md[32];
};

/* An entry of the session's table: recorded, refreshed or dropped since
 * the cache file was read. */
struct sc_entry {
	char *key;
	uint32_t len;
	bool dead;              /* dropped (stale): the file's entry goes too */
	bool in_file;           /* the cache file has a live entry for the key */
	uint64_t hash;
	struct sc_rec r;
};

/* One block of a cache file, read and checked. */
struct sc_blk {
	unsigned char *buf;     /* head, entries, digest */
	uint32_t n;
	uint32_t *offs;         /* each entry's offset in BUF */
	size_t offs_cap;
};

struct sc_index {
	uint64_t off;
	char *first;            /* the block's first key */
	uint32_t first_len;
};

struct bf_statcache {
	/* The cache file lookups read (fd -1: none), its blocks' index, the
	 * block last read. */
	int fd;
	struct sc_index *idx;
	size_t nidx, idx_cap;
	size_t cur;
	struct sc_blk blk;
	/* Where it is saved to when the table fills up (dirfd -1: nowhere,
	 * what does not fit is not recorded). */
	int dirfd;
	char *name;
	/* The session's table. */
	struct sc_entry *ents;
	size_t n, cap;
	size_t key_bytes;
	uint32_t *slots;        /* 0 = empty, else index + 1 */
	size_t nslots;          /* power of two, at most half full */
	EVP_MAC_CTX *mac;       /* SipHash-2-4 with a random key (see sc_hash) */
	size_t max_saved;
	uint64_t bytes_hashed;
	size_t live;
	bool dirty;
	bool full;              /* the table is full and cannot be saved */
	char *chunk;
};

/* ---- little-endian fields ---- */

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* ---- the table's hash: keyed SipHash-2-4, OpenSSL's ---- */

/* The 64-bit SipHash-2-4 of DATA under the cache's random key. The MAC
 * context holds the key; a NULL-key init starts a new message with it
 * (about 130 ns a call: noise next to the fstat each lookup makes). */
static uint64_t sc_hash(const struct bf_statcache *sc, const void *data, size_t len)
{
	unsigned char out[8];
	size_t outlen = 0;
	if (!EVP_MAC_init(sc->mac, NULL, 0, NULL) || !EVP_MAC_update(sc->mac, data, len) ||
	    !EVP_MAC_final(sc->mac, out, &outlen, sizeof(out)) || outlen != sizeof(out))
		abort();        /* the context was set up in bf_statcache_new */
	return get_le(out, 8);
}

/* ---- digests ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "sha256:<hex>" (as cn_sha256_final writes it) to 32 bytes. */
static void digest_to_raw(const char *s, unsigned char md[32])
{
	for (int i = 0; i < 32; i++)
		md[i] = (unsigned char)(hexval(s[7 + 2 * i]) << 4 | hexval(s[8 + 2 * i]));
}

static void raw_to_digest(const unsigned char md[32], char out[CN_DIGEST_STR_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[7 + 64] = '\0';
}

static void sha_raw(const void *data, size_t len, unsigned char md[32])
{
	char s[CN_DIGEST_STR_SIZE];
	cn_sha256_oneshot(data, len, s);
	digest_to_raw(s, md);
}

/* ---- keys in path order ---- */

/* Bytewise, but '/' sorts before any other byte: components compare one by
 * one, as the walk visits them. */
static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
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

static void rec_get(const unsigned char *p, struct sc_rec *r)
{
	r->size = get_le(p + 8, 8);
	r->mtime_ns = get_le(p + 16, 8);
	r->ctime_ns = get_le(p + 24, 8);
	r->ino = get_le(p + 32, 8);
	r->dev = get_le(p + 40, 8);
	r->used = get_le(p + 48, 8);
	memcpy(r->md, p + 56, 32);
}

static void rec_put(unsigned char *p, size_t len, const struct sc_rec *r)
{
	put_le(p, len, 4);
	put_le(p + 4, 0, 4);
	put_le(p + 8, r->size, 8);
	put_le(p + 16, r->mtime_ns, 8);
	put_le(p + 24, r->ctime_ns, 8);
	put_le(p + 32, r->ino, 8);
	put_le(p + 40, r->dev, 8);
	put_le(p + 48, r->used, 8);
	memcpy(p + 56, r->md, 32);
}

static const char *blk_key(const struct sc_blk *b, uint32_t i, size_t *len)
{
	const unsigned char *p = b->buf + b->offs[i];
	*len = get_le(p, 4);
	return (const char *)p + SC_ENTRY_FIXED;
}

static void blk_free(struct sc_blk *b)
{
	free(b->buf);
	free(b->offs);
	memset(b, 0, sizeof(*b));
}

/* Read the block at OFF of FD (SIZE bytes long) into B and check it: its
 * digest, every entry's form, keys strictly increasing. *NEXT: where the
 * next block starts. False on any damage (and at the end marker, with
 * B->n 0 and *NEXT the end of the file). */
static bool blk_read(int fd, uint64_t off, uint64_t size, struct sc_blk *b, uint64_t *next)
{
	unsigned char head[SC_BLOCK_HEAD], md[32];
	uint64_t nbytes, n, pos = SC_BLOCK_HEAD;
	b->n = 0;
	if (off > size || size - off < SC_BLOCK_HEAD || pread(fd, head, sizeof(head), (off_t)off) != SC_BLOCK_HEAD)
		return false;
	nbytes = get_le(head, 4);
	n = get_le(head + 4, 4);
	if (nbytes == 0 && n == 0) {
		*next = off + SC_BLOCK_HEAD;
		return false;
	}
	if (nbytes > SC_BLOCK_MAX || n == 0 || n > nbytes / (SC_ENTRY_FIXED + 1) ||
	    size - off - SC_BLOCK_HEAD < nbytes + SC_MD)
		return false;
	if (!b->buf)
		b->buf = cn_xmalloc(SC_BLOCK_HEAD + SC_BLOCK_MAX + SC_MD);
	if (pread(fd, b->buf, SC_BLOCK_HEAD + nbytes + SC_MD, (off_t)off) != (ssize_t)(SC_BLOCK_HEAD + nbytes + SC_MD))
		return false;
	sha_raw(b->buf, SC_BLOCK_HEAD + nbytes, md);
	if (memcmp(md, b->buf + SC_BLOCK_HEAD + nbytes, 32) != 0 ||
	    memcmp(b->buf, head, SC_BLOCK_HEAD) != 0)
		return false;
	cn_xgrow((void **)&b->offs, &b->offs_cap, n, sizeof(*b->offs));
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *p = b->buf + pos;
		uint64_t len;
		if (SC_BLOCK_HEAD + nbytes - pos < SC_ENTRY_FIXED)
			return false;
		len = get_le(p, 4);
		if (len == 0 || len > BF_STATCACHE_MAX_KEY || get_le(p + 4, 4) != 0 ||
		    SC_BLOCK_HEAD + nbytes - pos - SC_ENTRY_FIXED < len ||
		    memchr(p + SC_ENTRY_FIXED, '\0', len))
			return false;
		b->offs[i] = (uint32_t)pos;
		if (i > 0) {
			size_t plen;
			const char *prev = blk_key(b, (uint32_t)(i - 1), &plen);
			if (key_cmp(prev, plen, (const char *)p + SC_ENTRY_FIXED, len) >= 0)
				return false;
		}
		pos += SC_ENTRY_FIXED + len;
	}
	if (pos != SC_BLOCK_HEAD + nbytes)
		return false;
	b->n = (uint32_t)n;
	*next = off + SC_BLOCK_HEAD + nbytes + SC_MD;
	return true;
}

/* ---- the session's table ---- */

struct bf_statcache *bf_statcache_new(void)
{
	struct bf_statcache *sc = cn_xcalloc(1, sizeof(*sc));
	unsigned char key[16];
	size_t size = 8;
	OSSL_PARAM params[] = { OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end() };
	EVP_MAC *mac;
	sc->fd = -1;
	sc->dirfd = -1;
	sc->cur = NONE;
	sc->max_saved = BF_STATCACHE_MAX_SAVED;
	/* A random key: file names in a build context cannot be chosen to
	 * collide (hash flooding); the key never leaves the process. */
	if (getrandom(key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
		struct timespec ts;
		uint64_t k[2];
		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)sc;
		k[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&ts;
		memcpy(key, k, sizeof(key));
	}
	mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	sc->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	if (!sc->mac || !EVP_MAC_init(sc->mac, key, sizeof(key), params))
		cn_fatal("OpenSSL's SIPHASH MAC is not available");
	OPENSSL_cleanse(key, sizeof(key));
	return sc;
}

void bf_statcache_set_max_saved(struct bf_statcache *sc, size_t max)
{
	sc->max_saved = max;
}

static size_t sc_find(const struct bf_statcache *sc, const char *key, size_t len, uint64_t h)
{
	size_t mask = sc->nslots - 1;
	if (!sc->nslots)
		return NONE;
	for (size_t i = (size_t)h & mask; ; i = (i + 1) & mask) {
		uint32_t s = sc->slots[i];
		const struct sc_entry *e;
		if (!s)
			return NONE;
		e = &sc->ents[s - 1];
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
			return s - 1;
	}
}

static void sc_place(struct bf_statcache *sc, size_t idx)
{
	size_t mask = sc->nslots - 1;
	size_t i = (size_t)sc->ents[idx].hash & mask;
	while (sc->slots[i])
		i = (i + 1) & mask;
	sc->slots[i] = (uint32_t)(idx + 1);
}

/* Append a new entry for KEY (absent from the table). */
static struct sc_entry *sc_add(struct bf_statcache *sc, const char *key, size_t len, uint64_t h)
{
	struct sc_entry *e;
	if (2 * (sc->n + 1) > sc->nslots) {
		size_t ns = sc->nslots ? sc->nslots * 2 : 64;
		free(sc->slots);
		sc->slots = cn_xcalloc(ns, sizeof(*sc->slots));
		sc->nslots = ns;
		for (size_t i = 0; i < sc->n; i++)
			sc_place(sc, i);
	}
	cn_xgrow((void **)&sc->ents, &sc->cap, sc->n + 1, sizeof(*sc->ents));
	e = &sc->ents[sc->n];
	memset(e, 0, sizeof(*e));
	e->key = cn_xstrndup(key, len);
	e->len = (uint32_t)len;
	e->hash = h;
	e->dead = true;         /* until filled in */
	sc->key_bytes += len;
	sc_place(sc, sc->n++);
	return e;
}

static bool table_full(const struct bf_statcache *sc)
{
	return sc->n >= BF_STATCACHE_MAX_TABLE || sc->key_bytes >= BF_STATCACHE_MAX_TABLE_KEYS;
}

static void table_clear(struct bf_statcache *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->ents[i].key);
	free(sc->ents);
	free(sc->slots);
	sc->ents = NULL;
	sc->slots = NULL;
	sc->n = sc->cap = sc->nslots = sc->key_bytes = 0;
}

static void file_close(struct bf_statcache *sc)
{
	for (size_t i = 0; i < sc->nidx; i++)
		free(sc->idx[i].first);
	free(sc->idx);
	sc->idx = NULL;
	sc->nidx = sc->idx_cap = 0;
	if (sc->fd >= 0)
		close(sc->fd);
	sc->fd = -1;
	sc->cur = NONE;
	sc->blk.n = 0;
}

static void idx_add(struct sc_index **idx, size_t *n, size_t *cap, uint64_t off, const char *first,
		    size_t len)
{
	cn_xgrow((void **)idx, cap, *n + 1, sizeof(**idx));
	(*idx)[(*n)++] = (struct sc_index){ .off = off, .first = cn_xstrndup(first, len),
					    .first_len = (uint32_t)len };
}

void bf_statcache_free(struct bf_statcache *sc)
{
	if (!sc)
		return;
	table_clear(sc);
	file_close(sc);
	blk_free(&sc->blk);
	if (sc->dirfd >= 0)
		close(sc->dirfd);
	free(sc->name);
	EVP_MAC_CTX_free(sc->mac);
	free(sc->chunk);
	free(sc);
}

uint64_t bf_statcache_bytes_hashed(const struct bf_statcache *sc)
{
	return sc ? sc->bytes_hashed : 0;
}

size_t bf_statcache_count(const struct bf_statcache *sc)
{
	return sc ? sc->live : 0;
}

/* ---- the cache file ---- */

/* Check the whole file FD (SIZE bytes) and index its blocks into SC; false
 * if anything in it does not check out. */
static bool file_scan(struct bf_statcache *sc, int fd, uint64_t size)
{
	unsigned char hdr[SC_HEADER];
	_cleanup_free_ char *last = NULL;
	size_t last_len = 0;
	uint64_t count, seen = 0, off = SC_HEADER;

	if (size < SC_HEADER + SC_BLOCK_HEAD || pread(fd, hdr, sizeof(hdr), 0) != SC_HEADER ||
	    memcmp(hdr, SC_MAGIC, 8) != 0 || get_le(hdr + 8, 4) != SC_VERSION || get_le(hdr + 12, 4) != 0)
		return false;
	count = get_le(hdr + 16, 8);
	if (count > BF_STATCACHE_MAX_ENTRIES)
		return false;
	last = cn_xmalloc(BF_STATCACHE_MAX_KEY);
	for (;;) {
		uint64_t next = 0;
		size_t flen, llen;
		const char *first, *lk;
		if (!blk_read(fd, off, size, &sc->blk, &next)) {
			/* Damage, or the end marker: which must end the file. */
			sc->cur = NONE;
			return sc->blk.n == 0 && next == size && seen == count;
		}
		first = blk_key(&sc->blk, 0, &flen);
		if (seen > 0 && key_cmp(last, last_len, first, flen) >= 0)
			return false;
		seen += sc->blk.n;
		if (seen > count)
			return false;
		idx_add(&sc->idx, &sc->nidx, &sc->idx_cap, off, first, flen);
		lk = blk_key(&sc->blk, sc->blk.n - 1, &llen);
		memcpy(last, lk, llen);
		last_len = llen;
		off = next;
	}
}

int bf_statcache_load(int dirfd, const char *name, struct bf_statcache **out, cn_err *err)
{
	struct bf_statcache *sc = bf_statcache_new();
	int fd;
	struct stat st;

	*out = NULL;
	sc->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (sc->dirfd < 0) {
		cn_err_sys(err, "stat cache: dup");
		bf_statcache_free(sc);
		return -1;
	}
	sc->name = cn_xstrdup(name);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ELOOP)) {
		sc->dirty = errno == ELOOP;     /* a symlink there: replace it */
		*out = sc;
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		cn_err_sys(err, "stat cache: open '%s'", name);
		if (fd >= 0)
			close(fd);
		bf_statcache_free(sc);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > BF_STATCACHE_MAX_FILE ||
	    !file_scan(sc, fd, (uint64_t)st.st_size)) {
		close(fd);
		file_close(sc);
		sc->dirty = true;
		*out = sc;
		return 0;
	}
	sc->fd = fd;
	{
		unsigned char hdr[SC_HEADER];
		if (pread(fd, hdr, sizeof(hdr), 0) == SC_HEADER)
			sc->live = (size_t)get_le(hdr + 16, 8);
	}
	*out = sc;
	return 0;
}

/* KEY's record in the cache file, if it has one. */
static bool file_find(struct bf_statcache *sc, const char *key, size_t len, struct sc_rec *r)
{
	size_t lo = 0, hi = sc->nidx, b;
	struct stat st;
	uint32_t l, h;
	if (sc->fd < 0 || sc->nidx == 0)
		return false;
	/* The last block whose first key is <= KEY. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(sc->idx[mid].first, sc->idx[mid].first_len, key, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	b = lo - 1;
	if (sc->cur != b) {
		uint64_t next;
		sc->cur = NONE;
		if (fstat(sc->fd, &st) < 0 || !blk_read(sc->fd, sc->idx[b].off, (uint64_t)st.st_size, &sc->blk, &next))
			return false;   /* damaged since the load: a miss */
		sc->cur = b;
	}
	l = 0;
	h = sc->blk.n;
	while (l < h) {
		uint32_t mid = l + (h - l) / 2;
		size_t klen;
		const char *k = blk_key(&sc->blk, mid, &klen);
		int c = key_cmp(k, klen, key, len);
		if (c == 0) {
			rec_get(sc->blk.buf + sc->blk.offs[mid], r);
			return true;
		}
		if (c < 0)
			l = mid + 1;
		else
			h = mid;
	}
	return false;
}

/* ---- lookups ---- */

/* A timestamp as one number for equality tests: nanoseconds, wrapping
 * (unsigned) so that no time_t can overflow it. */
static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

static bool stat_matches(const struct sc_rec *e, const struct stat *st)
{
	return e->size == (uint64_t)st->st_size && e->mtime_ns == ts_ns(&st->st_mtim) &&
	       e->ctime_ns == ts_ns(&st->st_ctim) && e->ino == (uint64_t)st->st_ino &&
	       e->dev == (uint64_t)st->st_dev;
}

static bool same_rec_stat(const struct sc_rec *a, const struct sc_rec *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
	       a->ino == b->ino && a->dev == b->dev;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       ts_ns(&a->st_mtim) == ts_ns(&b->st_mtim) && ts_ns(&a->st_ctim) == ts_ns(&b->st_ctim);
}

/* |T - NOW| < BF_STATCACHE_RACY_NS, for any T. */
static bool near(const struct timespec *t, const struct timespec *now)
{
	int64_t d;
	if (t->tv_sec < now->tv_sec - 3 || t->tv_sec > now->tv_sec + 3)
		return false;
	d = (int64_t)(t->tv_sec - now->tv_sec) * 1000000000LL + (t->tv_nsec - now->tv_nsec);
	return d > -BF_STATCACHE_RACY_NS && d < BF_STATCACHE_RACY_NS;
}

static int hash_fd(struct bf_statcache *sc, int fd, const char *key_path,
		   char out[CN_DIGEST_STR_SIZE], cn_err *err)
{
	cn_sha256 h;
	off_t off = 0;
	if (!sc->chunk)
		sc->chunk = cn_xmalloc(SC_CHUNK);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	cn_sha256_init(&h);
	for (;;) {
		ssize_t n;
		if (cn_interrupted()) {
			cn_sha256_free(&h);
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "'%s': interrupted", key_path);
		}
		n = pread(fd, sc->chunk, SC_CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cn_err_sys(err, "read '%s'", key_path);
			cn_sha256_free(&h);
			return -1;
		}
		if (n == 0)
			break;
		cn_sha256_update(&h, sc->chunk, (size_t)n);
		off += n;
		sc->bytes_hashed += (uint64_t)n;
	}
	cn_sha256_final(&h, out);
	return 0;
}

static int sc_write(struct bf_statcache *sc, int dirfd, const char *name, cn_err *err);

/* KEY's entry in the table, made (from what the file holds, IN_FILE) if
 * there is none. NULL when the table is full and cannot be saved to make
 * room: then nothing is recorded. */
static struct sc_entry *entry_for(struct bf_statcache *sc, const char *key, size_t len, uint64_t h,
				  bool *in_file, struct sc_rec *frec)
{
	size_t idx = sc_find(sc, key, len, h);
	struct sc_entry *e;
	if (idx != NONE)
		return &sc->ents[idx];
	if (table_full(sc)) {
		cn_err ignored;
		if (sc->full || sc->dirfd < 0 || sc_write(sc, sc->dirfd, sc->name, &ignored) < 0) {
			sc->full = true;
			return NULL;
		}
		/* The table went into a new cache file: look KEY up there. */
		*in_file = file_find(sc, key, len, frec);
	}
	e = sc_add(sc, key, len, h);
	e->in_file = *in_file;
	e->dead = !*in_file;
	if (*in_file)
		e->r = *frec;
	return e;
}

int bf_statcache_file_digest(struct bf_statcache *sc, int fd, const char *key_path,
			     char out[CN_DIGEST_STR_SIZE], cn_err *err)
{
	size_t len = strlen(key_path), idx = NONE;
	bool keyed = len > 0 && len <= BF_STATCACHE_MAX_KEY, in_file = false, was_live;
	struct stat st, after;
	struct sc_entry *e;
	struct sc_rec frec, *cur = NULL;
	struct timespec now;
	uint64_t h = 0;

	if (fstat(fd, &st) < 0)
		return cn_err_sys(err, "stat '%s'", key_path);
	if (!S_ISREG(st.st_mode))
		return cn_err_fail(err, CN_ERR_INVALID, "'%s' is not a regular file", key_path);
	if (keyed) {
		h = sc_hash(sc, key_path, len);
		idx = sc_find(sc, key_path, len, h);
		if (idx != NONE) {
			if (!sc->ents[idx].dead)
				cur = &sc->ents[idx].r;
		} else if ((in_file = file_find(sc, key_path, len, &frec))) {
			cur = &frec;
		}
	}
	was_live = cur != NULL;
	if (cur && stat_matches(cur, &st)) {
		uint64_t now_s;
		clock_gettime(CLOCK_REALTIME, &now);
		now_s = (uint64_t)now.tv_sec;
		raw_to_digest(cur->md, out);
		if (now_s > cur->used + SC_TOUCH_SECS || now_s < cur->used) {
			/* The use is worth saving (eviction goes by it). */
			e = entry_for(sc, key_path, len, h, &in_file, &frec);
			if (e && !e->dead) {
				e->r.used = now_s;
				sc->dirty = true;
			}
		}
		return 0;
	}

	if (hash_fd(sc, fd, key_path, out, err) < 0)
		return -1;
	if (fstat(fd, &after) < 0)
		return cn_err_sys(err, "stat '%s'", key_path);
	clock_gettime(CLOCK_REALTIME, &now);

	/* Record only a file that did not change while it was read and whose
	 * times are not racy; a stale entry for it is dropped. */
	if (!keyed || !same_stat(&st, &after) || near(&st.st_mtim, &now) ||
	    near(&st.st_ctim, &now)) {
		if (was_live && (e = entry_for(sc, key_path, len, h, &in_file, &frec)) && !e->dead) {
			e->dead = true;
			sc->live--;
			sc->dirty = true;
		}
		return 0;
	}
	e = entry_for(sc, key_path, len, h, &in_file, &frec);
	if (!e)
		return 0;       /* memory is bounded: not recorded */
	if (e->dead)
		sc->live++;
	e->dead = false;
	e->r.size = (uint64_t)st.st_size;
	e->r.mtime_ns = ts_ns(&st.st_mtim);
	e->r.ctime_ns = ts_ns(&st.st_ctim);
	e->r.ino = (uint64_t)st.st_ino;
	e->r.dev = (uint64_t)st.st_dev;
	e->r.used = (uint64_t)now.tv_sec;
	digest_to_raw(out, e->r.md);
	sc->dirty = true;
	return 0;
}

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
static char *link_tmpfile(int fd, int dirfd, const char *name)
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


/* ---- saving: the table merged with the file as it is by then ---- */

/* A new cache file being written, block by block, with its index. */
struct writer {
	int fd;
	uint64_t off;
	unsigned char *blk;     /* head, entries, room for the digest */
	size_t blen;            /* bytes in BLK, head included */
	uint32_t bn;
	uint64_t count, bytes;
	struct sc_index *idx;
	size_t nidx, idx_cap;
	int failed;             /* errno of a failed write, 0 */
};

static void w_block(struct writer *w)
{
	put_le(w->blk, w->blen - SC_BLOCK_HEAD, 4);
	put_le(w->blk + 4, w->bn, 4);
	sha_raw(w->blk, w->blen, w->blk + w->blen);
	if (!w->failed && cn_write_all(w->fd, w->blk, w->blen + SC_MD) < 0)
		w->failed = errno ? errno : EIO;
	w->off += w->blen + SC_MD;
	w->bn = 0;
}

static void w_entry(struct writer *w, const char *key, size_t len, const struct sc_rec *r)
{
	if (w->bn && w->blen - SC_BLOCK_HEAD >= SC_BLOCK)
		w_block(w);
	if (!w->bn) {
		idx_add(&w->idx, &w->nidx, &w->idx_cap, w->off, key, len);
		w->blen = SC_BLOCK_HEAD;
	}
	rec_put(w->blk + w->blen, len, r);
	memcpy(w->blk + w->blen + SC_ENTRY_FIXED, key, len);
	w->blen += SC_ENTRY_FIXED + len;
	w->bn++;
	w->count++;
	w->bytes += SC_ENTRY_FIXED + len;
}

static int w_finish(struct writer *w)
{
	unsigned char end[SC_BLOCK_HEAD] = { 0 }, hdr[SC_HEADER];
	if (w->bn)
		w_block(w);
	memcpy(hdr, SC_MAGIC, 8);
	put_le(hdr + 8, SC_VERSION, 4);
	put_le(hdr + 12, 0, 4);
	put_le(hdr + 16, w->count, 8);
	if (w->failed) {
		errno = w->failed;
		return -1;
	}
	if (cn_write_all(w->fd, end, sizeof(end)) < 0)
		return -1;
	if (pwrite(w->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/* The cache file as another saver may have left it, entry by entry; it
 * ends at the first thing that does not check out. */
struct reader {
	int fd;
	uint64_t size, off, count;
	struct sc_blk b;
	uint32_t i;
	bool eof;
	char *last;             /* the key last returned, for the order check */
	size_t last_len;
};

static void rd_rewind(struct reader *rd)
{
	unsigned char hdr[SC_HEADER];
	rd->off = SC_HEADER;
	rd->i = 0;
	rd->b.n = 0;
	rd->last_len = 0;
	rd->eof = rd->fd < 0 || rd->size < SC_HEADER || pread(rd->fd, hdr, sizeof(hdr), 0) != SC_HEADER ||
		  memcmp(hdr, SC_MAGIC, 8) != 0 || get_le(hdr + 8, 4) != SC_VERSION || get_le(hdr + 12, 4) != 0;
	rd->count = rd->eof ? 0 : get_le(hdr + 16, 8);
}

static bool rd_next(struct reader *rd, const char **key, size_t *len, struct sc_rec *r)
{
	while (!rd->eof && rd->i >= rd->b.n) {
		uint64_t next;
		if (!blk_read(rd->fd, rd->off, rd->size, &rd->b, &next)) {
			rd->eof = true;
			break;
		}
		rd->off = next;
		rd->i = 0;
	}
	if (rd->eof)
		return false;
	*key = blk_key(&rd->b, rd->i, len);
	if (rd->last_len && key_cmp(rd->last, rd->last_len, *key, *len) >= 0) {
		rd->eof = true;
		return false;
	}
	rec_get(rd->b.buf + rd->b.offs[rd->i], r);
	memcpy(rd->last, *key, *len);
	rd->last_len = *len;
	rd->i++;
	return true;
}

/* Entries by the hour of their last use, for eviction. */
struct ages {
	uint64_t *count, *bytes;
};

static size_t age_of(const struct sc_rec *r, uint64_t now_s)
{
	uint64_t a = now_s > r->used ? (now_s - r->used) / 3600 : 0;
	return a < SC_AGE_BUCKETS ? (size_t)a : SC_AGE_BUCKETS - 1;
}

/* What goes into the new file: entries younger than CUTOFF hours, and of
 * those exactly CUTOFF old as many as LEFT_N, LEFT_BYTES allow. */
struct keep {
	size_t cutoff;
	uint64_t left_n, left_bytes;
	uint64_t now_s;
	struct ages *ages;      /* counting only (the first pass) */
	struct writer *w;
};

static void emit(struct keep *k, const char *key, size_t len, const struct sc_rec *r)
{
	size_t age = age_of(r, k->now_s);
	uint64_t sz = SC_ENTRY_FIXED + len;
	if (k->ages) {
		k->ages->count[age]++;
		k->ages->bytes[age] += sz;
		return;
	}
	if (age > k->cutoff)
		return;
	if (age == k->cutoff) {
		if (k->left_n == 0 || k->left_bytes < sz)
			return;
		k->left_n--;
		k->left_bytes -= sz;
	}
	w_entry(k->w, key, len, r);
}

/* The file read by RD merged with the table's entries in ORDER (sorted by
 * key): the table's view of a key wins (it saw the file last, or found
 * it stale), but for the later use of one both saw in the same state. */
static void merge(struct bf_statcache *sc, struct reader *rd, const size_t *order, size_t n,
		  struct keep *k)
{
	const char *dkey = NULL;
	size_t dlen = 0, j = 0;
	struct sc_rec drec;
	bool have;

	rd_rewind(rd);
	have = rd_next(rd, &dkey, &dlen, &drec);
	while (have || j < n) {
		const struct sc_entry *e = j < n ? &sc->ents[order[j]] : NULL;
		int c = !have ? 1 : !e ? -1 : key_cmp(dkey, dlen, e->key, e->len);
		if (c < 0 || !e) {
			emit(k, dkey, dlen, &drec);
			have = rd_next(rd, &dkey, &dlen, &drec);
			continue;
		}
		if (!e->dead) {
			struct sc_rec r = e->r;
			if (c == 0 && same_rec_stat(&r, &drec) && drec.used > r.used)
				r.used = drec.used;
			emit(k, e->key, e->len, &r);
		}
		if (c == 0)
			have = rd_next(rd, &dkey, &dlen, &drec);
		j++;
	}
}

static int cmp_key(const void *a, const void *b, void *arg)
{
	const struct bf_statcache *sc = arg;
	const struct sc_entry *x = &sc->ents[*(const size_t *)a];
	const struct sc_entry *y = &sc->ents[*(const size_t *)b];
	return key_cmp(x->key, x->len, y->key, y->len);
}

/* The file's entries (reader RD over what the file holds now) merged with
 * the table's into W, keeping at most SC->max_saved entries and
 * BF_STATCACHE_MAX_FILE bytes, the most recently used. */
static void write_merged(struct bf_statcache *sc, struct reader *rd, struct writer *w)
{
	_cleanup_free_ size_t *order = cn_xmalloc((sc->n ? sc->n : 1) * sizeof(size_t));
	const uint64_t max_bytes = BF_STATCACHE_MAX_FILE - BF_STATCACHE_MAX_FILE / 64;
	struct timespec now;
	struct keep k = { .cutoff = SC_AGE_BUCKETS, .left_n = sc->max_saved, .left_bytes = max_bytes, .w = w };
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	k.now_s = (uint64_t)now.tv_sec;
	for (size_t i = 0; i < sc->n; i++)
		if (!sc->ents[i].dead || sc->ents[i].in_file)
			order[n++] = i;
	if (n)
		qsort_r(order, n, sizeof(*order), cmp_key, sc);
	rd_rewind(rd);
	/* Over a bound, a first pass finds the hour of use from which on
	 * entries go (the file's count and size tell whether it may be). */
	if (rd->count + n > sc->max_saved || rd->size + sc->key_bytes + n * SC_ENTRY_FIXED > max_bytes) {
		struct ages ages = { cn_xcalloc(SC_AGE_BUCKETS, sizeof(uint64_t)),
				     cn_xcalloc(SC_AGE_BUCKETS, sizeof(uint64_t)) };
		struct keep count = { .now_s = k.now_s, .ages = &ages };
		uint64_t cn = 0, cb = 0;
		merge(sc, rd, order, n, &count);
		for (size_t a = 0; a < SC_AGE_BUCKETS; a++) {
			if (cn + ages.count[a] > sc->max_saved || cb + ages.bytes[a] > max_bytes) {
				k.cutoff = a;
				break;
			}
			cn += ages.count[a];
			cb += ages.bytes[a];
		}
		k.left_n = sc->max_saved - cn;
		k.left_bytes = max_bytes - cb;
		free(ages.count);
		free(ages.bytes);
	}
	merge(sc, rd, order, n, &k);
}

/* Merge the table into the file NAME under DIRFD (see bf_statcache_save)
 * and go on with the new file: the table is empty after. */
static int sc_write(struct bf_statcache *sc, int dirfd, const char *name, cn_err *err)
{
	const char *slash = strrchr(name, '/');
	_cleanup_free_ char *dir = slash ? cn_xstrndup(name, (size_t)(slash - name)) : cn_xstrdup(".");
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1, lock = -1, disk = -1;
	unsigned char zero[SC_HEADER] = { 0 };
	struct writer w = { .off = SC_HEADER };
	struct reader rd = { .fd = -1 };
	struct stat st;
	int r = -1;

	/* Savers take turns (an flock of the directory holding NAME), each
	 * merging what the file holds by now, so that concurrent savers add
	 * up instead of the last one winning. */
	lock = openat(dirfd, *dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0)
		return cn_err_sys(err, "stat cache: open the directory of '%s'", name);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return cn_err_sys(err, "stat cache: lock the directory of '%s'", name);
	disk = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (disk >= 0 && fstat(disk, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size <= BF_STATCACHE_MAX_FILE) {
		rd.fd = disk;
		rd.size = (uint64_t)st.st_size;
	}
	/* An unnamed file first, so that a process killed while writing leaves
	 * nothing behind; a named temp where O_TMPFILE is not supported. */
	fd = openat(dirfd, *dir ? dir : "/", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		fd = create_named(dirfd, name, &tmp);
		if (fd < 0)
			return cn_err_sys(err, "stat cache: create a temp file for '%s'", name);
	}
	w.fd = fd;
	w.blk = cn_xmalloc(SC_BLOCK_HEAD + SC_BLOCK_MAX + SC_MD);
	rd.last = cn_xmalloc(BF_STATCACHE_MAX_KEY);
	if (cn_write_all(fd, zero, sizeof(zero)) < 0) {
		cn_err_sys(err, "stat cache: write '%s'", name);
		goto out;
	}
	write_merged(sc, &rd, &w);
	if (w_finish(&w) < 0) {
		cn_err_sys(err, "stat cache: write '%s'", name);
		goto out;
	}
	if (!tmp && !(tmp = link_tmpfile(fd, dirfd, name))) {
		cn_err_sys(err, "stat cache: link a temp file for '%s'", name);
		goto out;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		cn_err_sys(err, "stat cache: rename '%s' to '%s'", tmp, name);
		goto out;
	}
	/* Lookups go on in the new file. */
	file_close(sc);
	table_clear(sc);
	sc->fd = fd;
	fd = -1;
	sc->idx = w.idx;
	sc->nidx = w.nidx;
	sc->idx_cap = w.idx_cap;
	w.idx = NULL;
	w.nidx = 0;
	sc->live = (size_t)w.count;
	sc->dirty = false;
	sc->full = false;
	if (sc->dirfd < 0) {
		sc->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
		free(sc->name);
		sc->name = sc->dirfd >= 0 ? cn_xstrdup(name) : NULL;
	}
	r = 0;
out:
	if (r < 0 && tmp && fd >= 0)
		unlinkat(dirfd, tmp, 0);
	for (size_t i = 0; i < w.nidx; i++)
		free(w.idx[i].first);
	free(w.idx);
	free(w.blk);
	free(rd.last);
	blk_free(&rd.b);
	return r;
}

int bf_statcache_save(struct bf_statcache *sc, int dirfd, const char *name, cn_err *err)
{
	if (!sc->dirty)
		return 0;
	return sc_write(sc, dirfd, name, err);
}
