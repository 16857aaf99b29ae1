/* The stat cache: an open-addressing hash table (linear probing, keyed
 * SipHash-2-4 through OpenSSL's EVP_MAC, so that file names from a build
 * context cannot be chosen to collide) over an array of entries, saved as a
 * small binary file:
 *
 *   header   "cairnsc\0"  u32 version (1)  u32 count
 *   count x  u32 key_len  u32 flags (0)  u64 size  u64 mtime_ns  u64 ctime_ns
 *            u64 ino  u64 dev  u64 used (unix seconds)  32 bytes sha256
 *            key_len bytes of key (no NUL)
 *   trailer  32 bytes: sha256 of everything before it
 *
 * integers little-endian, entries most recently used first. Anything that
 * does not check out loads as an empty cache.
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
#define SC_VERSION 1
#define SC_HEADER 16
#define SC_ENTRY_FIXED 88
#define SC_TRAILER 32
#define SC_CHUNK ((size_t)64 << 10)
/* A hit refreshes an entry's "used" time on disk only when it is older than
 * this, so that a build whose files all hit does not rewrite the cache. */
#define SC_TOUCH_SECS 3600
#define NONE SIZE_MAX

struct sc_entry {
	char *key;
	uint32_t len;
	bool dead;              /* stale and not re-recorded: neither used nor saved */
	uint64_t hash;
	uint64_t size;
	uint64_t mtime_ns;      /* see ts_ns() */
	uint64_t ctime_ns;
	uint64_t ino;
	uint64_t dev;
	uint64_t used;          /* unix seconds of the last use (persisted) */
	uint64_t seq;           /* order of use, for ties within one second */
	unsigned char md[32];
};

struct bf_statcache {
	struct sc_entry *ents;
	size_t n, cap;
	uint32_t *slots;        /* 0 = empty, else index + 1 */
	size_t nslots;          /* power of two, at most half full */
	EVP_MAC_CTX *mac;       /* SipHash-2-4 with a random key (see sc_hash) */
	uint64_t seq;
	uint64_t bytes_hashed;
	size_t live;
	bool dirty;
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

/* ---- the table ---- */

struct bf_statcache *bf_statcache_new(void)
{
	struct bf_statcache *sc = cn_xcalloc(1, sizeof(*sc));
	unsigned char key[16];
	size_t size = 8;
	OSSL_PARAM params[] = { OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end() };
	EVP_MAC *mac;
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
	sc_place(sc, sc->n++);
	return e;
}

static void sc_clear(struct bf_statcache *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->ents[i].key);
	free(sc->ents);
	free(sc->slots);
	sc->ents = NULL;
	sc->slots = NULL;
	sc->n = sc->cap = sc->nslots = sc->live = 0;
	sc->seq = 0;
}

void bf_statcache_free(struct bf_statcache *sc)
{
	if (!sc)
		return;
	sc_clear(sc);
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

/* ---- loading ---- */

/* Parse a whole cache file into SC (empty on entry); false if anything in
 * it does not check out. */
static bool sc_parse(struct bf_statcache *sc, const unsigned char *data, size_t size)
{
	const unsigned char *p = data, *end;
	char want[CN_DIGEST_STR_SIZE];
	unsigned char md[32];
	uint64_t count;

	if (size < SC_HEADER + SC_TRAILER || memcmp(p, SC_MAGIC, 8) != 0 ||
	    get_le(p + 8, 4) != SC_VERSION)
		return false;
	count = get_le(p + 12, 4);
	if (count > BF_STATCACHE_MAX_ENTRIES ||
	    count > (size - SC_HEADER - SC_TRAILER) / (SC_ENTRY_FIXED + 1))
		return false;
	end = data + size - SC_TRAILER;
	cn_sha256_oneshot(data, size - SC_TRAILER, want);
	digest_to_raw(want, md);
	if (memcmp(md, end, 32) != 0)
		return false;

	p += SC_HEADER;
	for (uint64_t i = 0; i < count; i++) {
		struct sc_entry *e;
		uint64_t len, h;
		const char *key;
		if ((size_t)(end - p) < SC_ENTRY_FIXED)
			return false;
		len = get_le(p, 4);
		if (len == 0 || len > BF_STATCACHE_MAX_KEY || get_le(p + 4, 4) != 0 ||
		    (size_t)(end - p) - SC_ENTRY_FIXED < len)
			return false;
		key = (const char *)p + SC_ENTRY_FIXED;
		if (memchr(key, '\0', len))
			return false;
		h = sc_hash(sc, key, len);
		if (sc_find(sc, key, len, h) != NONE)
			return false;   /* the writer never repeats a key */
		e = sc_add(sc, key, len, h);
		e->size = get_le(p + 8, 8);
		e->mtime_ns = get_le(p + 16, 8);
		e->ctime_ns = get_le(p + 24, 8);
		e->ino = get_le(p + 32, 8);
		e->dev = get_le(p + 40, 8);
		e->used = get_le(p + 48, 8);
		memcpy(e->md, p + 56, 32);
		e->seq = count - i;     /* file order is recency order */
		e->dead = false;
		sc->live++;
		p += SC_ENTRY_FIXED + len;
	}
	sc->seq = count;
	return p == end;
}

int bf_statcache_load(int dirfd, const char *name, struct bf_statcache **out, cn_err *err)
{
	struct bf_statcache *sc = bf_statcache_new();
	_cleanup_close_ int fd = -1;
	_cleanup_free_ unsigned char *data = NULL;
	struct stat st;
	size_t size, got = 0;

	*out = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ELOOP)) {
		sc->dirty = errno == ELOOP;     /* a symlink there: replace it */
		*out = sc;
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		cn_err_sys(err, "stat cache: open '%s'", name);
		bf_statcache_free(sc);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < SC_HEADER + SC_TRAILER ||
	    (uint64_t)st.st_size > BF_STATCACHE_MAX_FILE) {
		sc->dirty = true;
		*out = sc;
		return 0;
	}
	size = (size_t)st.st_size;
	data = cn_xmalloc(size);
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cn_err_sys(err, "stat cache: read '%s'", name);
			bf_statcache_free(sc);
			return -1;
		}
		if (n == 0)
			break;          /* shrunk under us: the parse fails */
		got += (size_t)n;
	}
	if (!sc_parse(sc, data, got)) {
		sc_clear(sc);
		sc->dirty = true;
	}
	*out = sc;
	return 0;
}

/* ---- lookups ---- */

/* A timestamp as one number for equality tests: nanoseconds, wrapping
 * (unsigned) so that no time_t can overflow it. */
static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

static bool stat_matches(const struct sc_entry *e, const struct stat *st)
{
	return e->size == (uint64_t)st->st_size && e->mtime_ns == ts_ns(&st->st_mtim) &&
	       e->ctime_ns == ts_ns(&st->st_ctim) && e->ino == (uint64_t)st->st_ino &&
	       e->dev == (uint64_t)st->st_dev;
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

static void touch(struct bf_statcache *sc, struct sc_entry *e, uint64_t now_s)
{
	if (now_s > e->used + SC_TOUCH_SECS || now_s < e->used)
		sc->dirty = true;
	e->used = now_s;
	e->seq = ++sc->seq;
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

int bf_statcache_file_digest(struct bf_statcache *sc, int fd, const char *key_path,
			     char out[CN_DIGEST_STR_SIZE], cn_err *err)
{
	size_t len = strlen(key_path), idx = NONE;
	bool keyed = len > 0 && len <= BF_STATCACHE_MAX_KEY;
	struct stat st, after;
	struct sc_entry *e;
	struct timespec now;
	uint64_t h = 0;

	if (fstat(fd, &st) < 0)
		return cn_err_sys(err, "stat '%s'", key_path);
	if (!S_ISREG(st.st_mode))
		return cn_err_fail(err, CN_ERR_INVALID, "'%s' is not a regular file", key_path);
	if (keyed) {
		h = sc_hash(sc, key_path, len);
		idx = sc_find(sc, key_path, len, h);
	}
	if (idx != NONE && !sc->ents[idx].dead && stat_matches(&sc->ents[idx], &st)) {
		clock_gettime(CLOCK_REALTIME, &now);
		touch(sc, &sc->ents[idx], (uint64_t)now.tv_sec);
		raw_to_digest(sc->ents[idx].md, out);
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
		if (idx != NONE && !sc->ents[idx].dead) {
			sc->ents[idx].dead = true;
			sc->live--;
			sc->dirty = true;
		}
		return 0;
	}
	if (idx != NONE) {
		e = &sc->ents[idx];
	} else {
		if (sc->n >= BF_STATCACHE_MAX_ENTRIES)
			return 0;       /* a session's memory is bounded too */
		e = sc_add(sc, key_path, len, h);
	}
	if (e->dead)
		sc->live++;
	e->dead = false;
	e->size = (uint64_t)st.st_size;
	e->mtime_ns = ts_ns(&st.st_mtim);
	e->ctime_ns = ts_ns(&st.st_ctim);
	e->ino = (uint64_t)st.st_ino;
	e->dev = (uint64_t)st.st_dev;
	digest_to_raw(out, e->md);
	touch(sc, e, (uint64_t)now.tv_sec);
	sc->dirty = true;
	return 0;
}

/* ---- saving ---- */

struct writer {
	int fd;
	cn_sha256 h;
	unsigned char *buf;
	size_t len;
};

static int w_flush(struct writer *w)
{
	if (cn_write_all(w->fd, w->buf, w->len) < 0)
		return -1;
	w->len = 0;
	return 0;
}

/* Buffered write; the bytes go into the running checksum when SUM. */
static int w_put(struct writer *w, const void *data, size_t len, bool sum)
{
	const unsigned char *p = data;
	if (sum)
		cn_sha256_update(&w->h, data, len);
	while (len > 0) {
		size_t n = SC_CHUNK - w->len < len ? SC_CHUNK - w->len : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
		if (w->len == SC_CHUNK && w_flush(w) < 0)
			return -1;
	}
	return 0;
}

/* Most recently used first. */
static int cmp_recency(const void *a, const void *b, void *arg)
{
	const struct bf_statcache *sc = arg;
	const struct sc_entry *x = &sc->ents[*(const size_t *)a];
	const struct sc_entry *y = &sc->ents[*(const size_t *)b];
	if (x->used != y->used)
		return x->used > y->used ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq ? 1 : 0;
}

static int write_entries(struct bf_statcache *sc, int fd)
{
	_cleanup_free_ size_t *order = cn_xmalloc((sc->n ? sc->n : 1) * sizeof(size_t));
	struct writer w = { .fd = fd, .buf = cn_xmalloc(SC_CHUNK) };
	unsigned char hdr[SC_HEADER], fixed[SC_ENTRY_FIXED], md[32];
	char sum[CN_DIGEST_STR_SIZE];
	size_t count = 0;
	int r = -1;

	for (size_t i = 0; i < sc->n; i++)
		if (!sc->ents[i].dead)
			order[count++] = i;
	if (count)
		qsort_r(order, count, sizeof(*order), cmp_recency, sc);
	if (count > BF_STATCACHE_MAX_SAVED)
		count = BF_STATCACHE_MAX_SAVED;

	cn_sha256_init(&w.h);
	memcpy(hdr, SC_MAGIC, 8);
	put_le(hdr + 8, SC_VERSION, 4);
	put_le(hdr + 12, count, 4);
	if (w_put(&w, hdr, sizeof(hdr), true) < 0)
		goto out;
	for (size_t k = 0; k < count; k++) {
		const struct sc_entry *e = &sc->ents[order[k]];
		put_le(fixed, e->len, 4);
		put_le(fixed + 4, 0, 4);
		put_le(fixed + 8, e->size, 8);
		put_le(fixed + 16, e->mtime_ns, 8);
		put_le(fixed + 24, e->ctime_ns, 8);
		put_le(fixed + 32, e->ino, 8);
		put_le(fixed + 40, e->dev, 8);
		put_le(fixed + 48, e->used, 8);
		memcpy(fixed + 56, e->md, 32);
		if (w_put(&w, fixed, sizeof(fixed), true) < 0 || w_put(&w, e->key, e->len, true) < 0)
			goto out;
	}
	cn_sha256_final(&w.h, sum);
	digest_to_raw(sum, md);
	if (w_put(&w, md, sizeof(md), false) == 0)
		r = w_flush(&w);
out:
	cn_sha256_free(&w.h);
	free(w.buf);
	return r;
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
		fd = openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		free(*tmp);
		*tmp = NULL;
	}
	return -1;
}

/* Take in what another saver (a parallel stage's worker, another build)
 * recorded since SC was loaded: entries SC does not know are added, and
 * for one both know with the same file state the later use is kept. SC's
 * own view wins otherwise (it saw the file last, or found it stale). */
static void sc_merge(struct bf_statcache *sc, const struct bf_statcache *disk)
{
	for (size_t i = 0; i < disk->n; i++) {
		const struct sc_entry *d = &disk->ents[i];
		uint64_t h;
		size_t idx;
		struct sc_entry *e;
		if (d->dead)
			continue;
		h = sc_hash(sc, d->key, d->len);
		idx = sc_find(sc, d->key, d->len, h);
		if (idx != NONE) {
			e = &sc->ents[idx];
			if (!e->dead && e->size == d->size && e->mtime_ns == d->mtime_ns &&
			    e->ctime_ns == d->ctime_ns && e->ino == d->ino && e->dev == d->dev &&
			    d->used > e->used)
				e->used = d->used;
			continue;
		}
		if (sc->n >= BF_STATCACHE_MAX_ENTRIES)
			break;
		e = sc_add(sc, d->key, d->len, h);
		e->size = d->size;
		e->mtime_ns = d->mtime_ns;
		e->ctime_ns = d->ctime_ns;
		e->ino = d->ino;
		e->dev = d->dev;
		e->used = d->used;
		memcpy(e->md, d->md, sizeof(e->md));
		e->seq = 0;     /* older than anything this session used */
		e->dead = false;
		sc->live++;
	}
}

int bf_statcache_save(struct bf_statcache *sc, int dirfd, const char *name, cn_err *err)
{
	const char *slash = strrchr(name, '/');
	_cleanup_free_ char *dir = slash ? cn_xstrndup(name, (size_t)(slash - name)) : cn_xstrdup(".");
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1, lock = -1;
	struct bf_statcache *disk = NULL;
	cn_err ignored;

	if (!sc->dirty)
		return 0;
	/* Savers take turns (an flock of the directory holding NAME), each
	 * merging what the file holds by now, so that concurrent savers add
	 * up instead of the last one winning. */
	lock = openat(dirfd, *dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0)
		return cn_err_sys(err, "stat cache: open the directory of '%s'", name);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return cn_err_sys(err, "stat cache: lock the directory of '%s'", name);
	if (bf_statcache_load(dirfd, name, &disk, &ignored) == 0) {
		sc_merge(sc, disk);
		bf_statcache_free(disk);
	}
	/* An unnamed file first, so that a process killed while writing leaves
	 * nothing behind; a named temp where O_TMPFILE is not supported. */
	fd = openat(dirfd, *dir ? dir : "/", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		fd = create_named(dirfd, name, &tmp);
		if (fd < 0)
			return cn_err_sys(err, "stat cache: create a temp file for '%s'", name);
	}
	if (write_entries(sc, fd) < 0) {
		cn_err_sys(err, "stat cache: write '%s'", name);
		goto fail;
	}
	if (!tmp && !(tmp = link_tmpfile(fd, dirfd, name)))
		return cn_err_sys(err, "stat cache: link a temp file for '%s'", name);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		cn_err_sys(err, "stat cache: rename '%s' to '%s'", tmp, name);
		goto fail;
	}
	sc->dirty = false;
	return 0;
fail:
	if (tmp)
		unlinkat(dirfd, tmp, 0);
	return -1;
}
