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
 * cut after SCF_BLOCK bytes of entries. A file whose structure (header,
 * block heads, first keys, end) does not check out loads as an empty
 * cache; a block whose digest or entries do not is a miss for its keys
 * (checked when it is read: a load reads the block heads only).
 */
#include "builder/statcache.h"
#include "builder/statcache_file.h"
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

#define SC_CHUNK ((size_t)64 << 10)
/* A hit refreshes an entry's "used" time on disk only when it is older than
 * this, so that a build whose files all hit does not rewrite the cache
 * (a day: eviction only needs to tell the files of last month from those
 * of this week). */
#define SC_TOUCH_SECS 86400
/* Eviction keeps the most recently used entries by the hour of their last
 * use; older than this counts as this old. */
#define SC_AGE_BUCKETS (24 * 366 * 2)
#define NONE SIZE_MAX

/* An entry of the session's table: recorded, refreshed or dropped since
 * the cache file was read. */
struct sc_entry {
	char *key;
	uint32_t len;
	bool dead;              /* dropped (stale): the file's entry goes too */
	bool in_file;           /* the cache file has a live entry for the key */
	uint64_t hash;
	struct scf_rec r;
};

struct bf_statcache {
	/* The cache file lookups read (fd -1: none), its blocks' index, the
	 * block last read. */
	int fd;
	uint64_t size;
	struct scf_index *idx;
	size_t nidx, idx_cap;
	size_t cur;
	size_t bad;             /* the damaged block last found, not read again */
	struct scf_blk blk;
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
	uint64_t blocks_read;   /* blocks of the file read by lookups */
	size_t live;
	bool dirty;
	bool full;              /* the table is full and cannot be saved */
	char *chunk;
};

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
	return scf_get_le(out, 8);
}

/* ---- digests ---- */

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
	sc->bad = NONE;
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
	sc->bad = NONE;
	sc->blk.n = 0;
}

void bf_statcache_free(struct bf_statcache *sc)
{
	if (!sc)
		return;
	table_clear(sc);
	file_close(sc);
	scf_blk_free(&sc->blk);
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

uint64_t bf_statcache_blocks_read(const struct bf_statcache *sc)
{
	return sc ? sc->blocks_read : 0;
}

size_t bf_statcache_count(const struct bf_statcache *sc)
{
	return sc ? sc->live : 0;
}

/* ---- the cache file ---- */

/* Index the blocks of the file FD (SIZE bytes) into SC from their heads
 * and first keys; false if its structure does not check out. A block's
 * entries and digest are checked when it is read (a damaged block is a
 * miss), so that a load costs a read per block, not of the whole file. */
static bool file_scan(struct bf_statcache *sc, int fd, uint64_t size)
{
	unsigned char hdr[SCF_HEADER], head[SCF_BLOCK_HEAD + SCF_ENTRY_FIXED];
	_cleanup_free_ char *key = NULL, *last = NULL;
	size_t last_len = 0;
	uint64_t count, seen = 0, off = SCF_HEADER, key_bytes = 0;

	if (size < SCF_HEADER + SCF_BLOCK_HEAD || pread(fd, hdr, sizeof(hdr), 0) != SCF_HEADER ||
	    memcmp(hdr, SCF_MAGIC, 8) != 0 || scf_get_le(hdr + 8, 4) != SCF_VERSION || scf_get_le(hdr + 12, 4) != 0)
		return false;
	count = scf_get_le(hdr + 16, 8);
	if (count > BF_STATCACHE_MAX_ENTRIES)
		return false;
	key = cn_xmalloc(BF_STATCACHE_MAX_KEY);
	last = cn_xmalloc(BF_STATCACHE_MAX_KEY);
	for (;;) {
		uint64_t nbytes, n, klen;
		ssize_t got;
		if (size - off < SCF_BLOCK_HEAD)
			return false;
		got = pread(fd, head, sizeof(head), (off_t)off);
		if (got < SCF_BLOCK_HEAD)
			return false;
		nbytes = scf_get_le(head, 4);
		n = scf_get_le(head + 4, 4);
		if (nbytes == 0 && n == 0)      /* the end marker, which ends the file */
			return off + SCF_BLOCK_HEAD == size && seen == count;
		/* Blocks as the writer cuts them (which bounds their number by
		 * the file's size) and first keys that add up to a bounded
		 * index, else corrupt. */
		if (!scf_head_usable(off, size, nbytes) || n == 0 || n > nbytes / (SCF_ENTRY_FIXED + 1) ||
		    got != (ssize_t)sizeof(head))
			return false;
		klen = scf_get_le(head + SCF_BLOCK_HEAD, 4);
		key_bytes += klen;
		if (klen == 0 || klen > BF_STATCACHE_MAX_KEY || SCF_ENTRY_FIXED + klen > nbytes ||
		    key_bytes > SCF_IDX_KEYS_MAX ||
		    pread(fd, key, klen, (off_t)(off + SCF_BLOCK_HEAD + SCF_ENTRY_FIXED)) != (ssize_t)klen ||
		    memchr(key, '\0', klen))
			return false;
		if (seen > 0 && scf_key_cmp(last, last_len, key, klen) >= 0)
			return false;
		seen += n;
		if (seen > count)
			return false;
		scf_idx_add(&sc->idx, &sc->nidx, &sc->idx_cap, off, key, klen);
		memcpy(last, key, klen);
		last_len = klen;
		off += SCF_BLOCK_HEAD + nbytes + SCF_MD;
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
	sc->size = (uint64_t)st.st_size;
	{
		unsigned char hdr[SCF_HEADER];
		if (pread(fd, hdr, sizeof(hdr), 0) == SCF_HEADER)
			sc->live = (size_t)scf_get_le(hdr + 16, 8);
	}
	*out = sc;
	return 0;
}

/* KEY's record in the cache file, if it has one. */
static bool file_find(struct bf_statcache *sc, const char *key, size_t len, struct scf_rec *r)
{
	size_t lo = 0, hi = sc->nidx, b;
	uint32_t l, h;
	if (sc->fd < 0 || sc->nidx == 0)
		return false;
	/* The last block whose first key is <= KEY. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (scf_key_cmp(sc->idx[mid].first, sc->idx[mid].first_len, key, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	b = lo - 1;
	if (b == sc->bad)
		return false;   /* damaged, found so before */
	if (sc->cur != b) {
		uint64_t next;
		size_t flen, llen;
		const char *first, *lastk;
		sc->cur = NONE;
		sc->blocks_read++;
		/* Damaged, or not in its place in the file's order: a miss for
		 * its keys, and not read again by the next lookup in it. */
		sc->bad = b;
		if (scf_blk_read(sc->fd, sc->idx[b].off, sc->size, &sc->blk, &next) != SCF_OK)
			return false;
		first = scf_blk_key(&sc->blk, 0, &flen);
		lastk = scf_blk_key(&sc->blk, sc->blk.n - 1, &llen);
		if (scf_key_cmp(first, flen, sc->idx[b].first, sc->idx[b].first_len) != 0 ||
		    (b + 1 < sc->nidx && scf_key_cmp(lastk, llen, sc->idx[b + 1].first, sc->idx[b + 1].first_len) >= 0))
			return false;
		sc->bad = NONE;
		sc->cur = b;
	}
	l = 0;
	h = sc->blk.n;
	while (l < h) {
		uint32_t mid = l + (h - l) / 2;
		size_t klen;
		const char *k = scf_blk_key(&sc->blk, mid, &klen);
		int c = scf_key_cmp(k, klen, key, len);
		if (c == 0) {
			scf_rec_get(sc->blk.buf + sc->blk.offs[mid], r);
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

static bool stat_matches(const struct scf_rec *e, const struct stat *st)
{
	return e->size == (uint64_t)st->st_size && e->mtime_ns == ts_ns(&st->st_mtim) &&
	       e->ctime_ns == ts_ns(&st->st_ctim) && e->ino == (uint64_t)st->st_ino &&
	       e->dev == (uint64_t)st->st_dev;
}

static bool same_rec_stat(const struct scf_rec *a, const struct scf_rec *b)
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
				  bool *in_file, struct scf_rec *frec)
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
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cn_err_sys(err, "stat '%s'", key_path);
	return bf_statcache_file_digest_st(sc, fd, &st, key_path, out, err);
}

int bf_statcache_file_digest_st(struct bf_statcache *sc, int fd, const struct stat *stp,
				const char *key_path, char out[CN_DIGEST_STR_SIZE], cn_err *err)
{
	size_t len = strlen(key_path), idx = NONE;
	bool keyed = len > 0 && len <= BF_STATCACHE_MAX_KEY, in_file = false, was_live;
	struct stat st = *stp, after;
	struct sc_entry *e;
	struct scf_rec frec, *cur = NULL;
	struct timespec now;
	uint64_t h = 0;

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
	scf_digest_to_raw(out, e->r.md);
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

/* Entries by the hour of their last use, for eviction. */
struct ages {
	uint64_t *count, *bytes;
};

static size_t age_of(const struct scf_rec *r, uint64_t now_s)
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
	struct scf_writer *w;
};

static void emit(struct keep *k, const char *key, size_t len, const struct scf_rec *r)
{
	size_t age = age_of(r, k->now_s);
	uint64_t sz = SCF_ENTRY_FIXED + len;
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
	scf_w_entry(k->w, key, len, r);
}

/* The file read by RD merged with the table's entries in ORDER (sorted by
 * key): the table's view of a key wins (it saw the file last, or found
 * it stale), but for the later use of one both saw in the same state. */
static void merge(struct bf_statcache *sc, struct scf_reader *rd, const size_t *order, size_t n,
		  struct keep *k)
{
	const char *dkey = NULL;
	size_t dlen = 0, j = 0;
	struct scf_rec drec;
	bool have;

	scf_rd_rewind(rd);
	have = scf_rd_next(rd, &dkey, &dlen, &drec);
	while (have || j < n) {
		const struct sc_entry *e = j < n ? &sc->ents[order[j]] : NULL;
		int c = !have ? 1 : !e ? -1 : scf_key_cmp(dkey, dlen, e->key, e->len);
		if (c < 0 || !e) {
			emit(k, dkey, dlen, &drec);
			have = scf_rd_next(rd, &dkey, &dlen, &drec);
			continue;
		}
		if (!e->dead) {
			struct scf_rec r = e->r;
			if (c == 0 && same_rec_stat(&r, &drec) && drec.used > r.used)
				r.used = drec.used;
			emit(k, e->key, e->len, &r);
		}
		if (c == 0)
			have = scf_rd_next(rd, &dkey, &dlen, &drec);
		j++;
	}
}

static int cmp_key(const void *a, const void *b, void *arg)
{
	const struct bf_statcache *sc = arg;
	const struct sc_entry *x = &sc->ents[*(const size_t *)a];
	const struct sc_entry *y = &sc->ents[*(const size_t *)b];
	return scf_key_cmp(x->key, x->len, y->key, y->len);
}

/* The file's entries (scf_reader RD over what the file holds now) merged with
 * the table's into W, keeping at most SC->max_saved entries and
 * BF_STATCACHE_MAX_FILE bytes, the most recently used. */
static void write_merged(struct bf_statcache *sc, struct scf_reader *rd, struct scf_writer *w)
{
	_cleanup_free_ size_t *order = cn_xmalloc((sc->n ? sc->n : 1) * sizeof(size_t));
	const uint64_t max_bytes = BF_STATCACHE_MAX_FILE - BF_STATCACHE_MAX_FILE / 64;
	struct timespec now;
	struct keep k = { .cutoff = SC_AGE_BUCKETS, .left_n = sc->max_saved, .left_bytes = max_bytes, .w = w };
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	k.now_s = (uint64_t)now.tv_sec;
	/* Whatever the first pass makes of the file read (its header's count
	 * is not checked), the writer stops at the bounds. */
	w->max_count = sc->max_saved;
	w->max_bytes = max_bytes;
	for (size_t i = 0; i < sc->n; i++)
		if (!sc->ents[i].dead || sc->ents[i].in_file)
			order[n++] = i;
	if (n)
		qsort_r(order, n, sizeof(*order), cmp_key, sc);
	scf_rd_rewind(rd);
	/* Over a bound, a first pass finds the hour of use from which on
	 * entries go (the file's count and size tell whether it may be). */
	if (rd->count + n > sc->max_saved || rd->size + sc->key_bytes + n * SCF_ENTRY_FIXED > max_bytes) {
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
	unsigned char zero[SCF_HEADER] = { 0 };
	struct scf_writer w = { .off = SCF_HEADER };
	struct scf_reader rd = { .fd = -1 };
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
	w.blk = cn_xmalloc(SCF_BLOCK_HEAD + SCF_BLOCK_MAX + SCF_MD);
	rd.last = cn_xmalloc(BF_STATCACHE_MAX_KEY);
	if (cn_write_all(fd, zero, sizeof(zero)) < 0) {
		cn_err_sys(err, "stat cache: write '%s'", name);
		goto out;
	}
	write_merged(sc, &rd, &w);
	if (scf_w_finish(&w) < 0) {
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
	sc->size = w.off + SCF_BLOCK_HEAD;
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
	scf_blk_free(&rd.b);
	return r;
}

int bf_statcache_save(struct bf_statcache *sc, int dirfd, const char *name, cn_err *err)
{
	if (!sc->dirty)
		return 0;
	return sc_write(sc, dirfd, name, err);
}
