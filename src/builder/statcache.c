/* The stat cache, at a memory bound whatever the number of files: the
 * cache files are sorted by path and read block by block (an in-memory
 * index holds each block's offset and first key), and what a session
 * records goes into a bounded in-memory table (open addressing, linear
 * probing, keyed SipHash-2-4 through OpenSSL's EVP_MAC, so that file names
 * from a build context cannot be chosen to collide).
 *
 * Writes are bounded too. A full table is written, sorted, to a run (an
 * unnamed file of the session's, at most SC_MAX_RUNS of them); the save
 * merges the table, the runs and the files on disk in one k-way pass. A
 * save whose new entries are small next to the main file NAME (an eighth
 * of it, from SC_RECENT_MIN on) rewrites only the recent level
 * NAME.recent (the earlier recent level merged with what is new), else
 * everything goes into a new main file and the recent level is removed.
 * Lookups read the table, the runs (newest first), the recent level, the
 * main file: the first that holds a key decides. Each file:
 *
 *   header   "cairnsc\0"  u32 version (2)  u32 flags (0)  u64 count
 *   blocks   u32 nbytes  u32 nentries  nbytes of entries  32 bytes sha256
 *            of the block's 8-byte head and its entries
 *   end      u32 0  u32 0, then the end of the file
 *   entry    u32 key_len  u32 flags  u64 size  u64 mtime_ns  u64 ctime_ns
 *            u64 ino  u64 dev  u64 used (unix seconds)  32 bytes sha256
 *            key_len bytes of key (no NUL)
 *
 * integers little-endian, keys strictly increasing in path order (bytes,
 * '/' before any other: the order in which the COPY walk, names sorted per
 * directory, visits them, so its lookups read each block once). Entry
 * flags: 0, or SCF_F_DEAD (1) in a run or recent level: the key was
 * dropped, the levels below are not asked (the main file holds none). A
 * block is cut after SCF_BLOCK bytes of entries. A file whose structure
 * (header, block heads, first keys, end) does not check out loads as an
 * empty level; a block whose digest or entries do not is a miss for its
 * keys in that level (checked when it is read: a load reads the block
 * heads only). Every entry is a fact about a file as it was (used only
 * when all five stat fields still match), so a damaged level above an
 * older one costs misses or an older fact, never a wrong digest.
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
/* Runs a session spills before it merges them into the cache file (each
 * holds a full table: 16 are 2M entries, BF_STATCACHE_MAX_SAVED). */
#define SC_MAX_RUNS 16
/* The main file size from which a save may write a recent level instead
 * (below it a whole rewrite is cheap). */
#define SC_RECENT_MIN ((uint64_t)4 << 20)

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
	/* The levels under the table, the first holding a key decides:
	 * the session's runs (newest first), the recent level, the main file. */
	struct scf_level main, recent;
	struct scf_level *runs;
	size_t nruns, runs_cap;
	uint64_t runs_bytes, runs_count;
	/* Where it is saved to (dirfd -1: nowhere; when the table fills up,
	 * what does not fit is not recorded) and where runs go. */
	int dirfd;
	char *name;
	uint64_t recent_min;    /* main file size from which a recent level is used */
	uint64_t bytes_written; /* to runs and cache files */
	/* The session's table. */
	struct sc_entry *ents;
	size_t n, cap;
	size_t key_bytes;
	uint32_t *slots;        /* 0 = empty, else index + 1 */
	size_t nslots;          /* power of two, at most half full */
	EVP_MAC_CTX *mac;       /* SipHash-2-4 with a random key (see sc_hash) */
	size_t max_saved;
	size_t table_max;       /* entries (BF_STATCACHE_MAX_TABLE; tests less) */
	size_t max_runs;        /* SC_MAX_RUNS; tests fewer */
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
	scf_level_init(&sc->main);
	scf_level_init(&sc->recent);
	sc->dirfd = -1;
	sc->max_saved = BF_STATCACHE_MAX_SAVED;
	sc->table_max = BF_STATCACHE_MAX_TABLE;
	sc->max_runs = SC_MAX_RUNS;
	sc->recent_min = SC_RECENT_MIN;
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

void bf_statcache_set_max_table(struct bf_statcache *sc, size_t entries)
{
	sc->table_max = entries && entries < BF_STATCACHE_MAX_TABLE ? entries : BF_STATCACHE_MAX_TABLE;
}

void bf_statcache_set_max_runs(struct bf_statcache *sc, size_t runs)
{
	sc->max_runs = runs < SC_MAX_RUNS ? runs : SC_MAX_RUNS;  /* sc_write's inputs are sized for SC_MAX_RUNS */
}

void bf_statcache_set_recent_min(struct bf_statcache *sc, uint64_t bytes)
{
	sc->recent_min = bytes;
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
	return sc->n >= sc->table_max || sc->key_bytes >= BF_STATCACHE_MAX_TABLE_KEYS;
}

static void runs_close(struct bf_statcache *sc)
{
	for (size_t i = 0; i < sc->nruns; i++)
		scf_level_close(&sc->runs[i]);
	free(sc->runs);
	sc->runs = NULL;
	sc->nruns = sc->runs_cap = 0;
	sc->runs_bytes = sc->runs_count = 0;
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

void bf_statcache_free(struct bf_statcache *sc)
{
	if (!sc)
		return;
	table_clear(sc);
	runs_close(sc);
	scf_level_close(&sc->main);
	scf_level_close(&sc->recent);
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

uint64_t bf_statcache_bytes_written(const struct bf_statcache *sc)
{
	return sc ? sc->bytes_written : 0;
}

/* ---- the cache files ---- */

/* NAME's recent level: "NAME.recent". */
static char *recent_name(const char *name)
{
	return cn_xasprintf("%s.recent", name);
}

/* Open NAME under DIRFD as level L: missing, not a regular file, too big
 * or corrupt leaves L empty (and *DIRTY set where a save should replace
 * it); only an error reading it fails. */
static int level_open(int dirfd, const char *name, struct scf_level *l, bool must, bool *dirty, cn_err *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 && (errno == ENOENT || errno == ELOOP)) {
		*dirty |= errno == ELOOP;       /* a symlink there: replace it */
		return 0;
	}
	if (fd < 0 && !must) {
		/* The recent level is an optimisation over the main file: one
		 * that cannot be read (EACCES, EMFILE, a socket...) is empty,
		 * replaced by the save, not a reason to lose the whole cache. */
		*dirty = true;
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		cn_err_sys(err, "stat cache: open '%s'", name);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > BF_STATCACHE_MAX_FILE ||
	    !scf_level_scan(l, fd, (uint64_t)st.st_size)) {
		close(fd);
		*dirty = true;
	}
	return 0;
}

int bf_statcache_load(int dirfd, const char *name, struct bf_statcache **out, cn_err *err)
{
	struct bf_statcache *sc = bf_statcache_new();
	_cleanup_free_ char *rname = recent_name(name);

	*out = NULL;
	sc->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (sc->dirfd < 0) {
		cn_err_sys(err, "stat cache: dup");
		bf_statcache_free(sc);
		return -1;
	}
	sc->name = cn_xstrdup(name);
	if (level_open(dirfd, name, &sc->main, true, &sc->dirty, err) < 0 ||
	    level_open(dirfd, rname, &sc->recent, false, &sc->dirty, err) < 0) {
		bf_statcache_free(sc);
		return -1;
	}
	/* Counted twice where the recent level holds a key of the main file
	 * (an estimate then; exact after a save into the main file). */
	sc->live = (size_t)(sc->main.count + sc->recent.count);
	*out = sc;
	return 0;
}

/* KEY's live record in the levels under the table: the first level that
 * holds the key decides (a dropped entry hides those below it). A damaged
 * block in a level is a miss for its keys there; what the levels below
 * then say is a fact about the file as it was (every stat field must still
 * match to be used), only older. */
static bool levels_find(struct bf_statcache *sc, const char *key, size_t len, struct scf_rec *r)
{
	for (size_t i = sc->nruns; i-- > 0;)
		if (scf_level_find(&sc->runs[i], key, len, r, &sc->blocks_read))
			return !r->dead;
	if (scf_level_find(&sc->recent, key, len, r, &sc->blocks_read))
		return !r->dead;
	return scf_level_find(&sc->main, key, len, r, &sc->blocks_read) && !r->dead;
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

static int sc_write(struct bf_statcache *sc, int dirfd, const char *name, bool may_recent, cn_err *err);
static int spill(struct bf_statcache *sc);

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
		/* The table goes to a run of its own (written once, merged at
		 * the save), or with too many runs all into the cache file. */
		if (sc->full || sc->dirfd < 0 ||
		    (sc->nruns < sc->max_runs ? spill(sc) : sc_write(sc, sc->dirfd, sc->name, false, &ignored)) < 0) {
			sc->full = true;
			return NULL;
		}
		*in_file = levels_find(sc, key, len, frec);
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
		} else if ((in_file = levels_find(sc, key_path, len, &frec))) {
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

/* One input of a merge: the table's entries in sorted order, or a file
 * read entry by entry. */
struct src {
	struct scf_reader rd;
	bool table;
	const size_t *order;    /* the table's, N of them */
	size_t n, j;
	bool have;
	const char *key;
	size_t len;
	struct scf_rec r;
};

static void src_next(const struct bf_statcache *sc, struct src *s)
{
	if (!s->table) {
		s->have = scf_rd_next(&s->rd, &s->key, &s->len, &s->r);
		return;
	}
	s->have = s->j < s->n;
	if (s->have) {
		const struct sc_entry *e = &sc->ents[s->order[s->j++]];
		s->key = e->key;
		s->len = e->len;
		s->r = e->r;
		s->r.dead = e->dead;
	}
}

static void src_rewind(const struct bf_statcache *sc, struct src *s)
{
	s->j = 0;
	if (!s->table)
		scf_rd_rewind(&s->rd);
	src_next(sc, s);
}

/* The inputs SRC (the first holding a key decides, the table first)
 * merged into K's writer: a k-way merge reading each input once, in
 * order. A dropped key is left out of the main file (BOTTOM) and kept as
 * dropped in a level above it; the later use of an entry two inputs saw
 * in the same state is kept. */
static void merge(struct bf_statcache *sc, struct src *src, size_t ns, bool bottom, struct keep *k)
{
	for (size_t i = 0; i < ns; i++)
		src_rewind(sc, &src[i]);
	for (;;) {
		size_t w = NONE;
		struct scf_rec r;
		/* Few inputs (SC_MAX_RUNS + 3 at most): a scan, not a heap. */
		for (size_t i = 0; i < ns; i++)
			if (src[i].have && (w == NONE || scf_key_cmp(src[i].key, src[i].len, src[w].key, src[w].len) < 0))
				w = i;
		if (w == NONE)
			break;
		r = src[w].r;
		for (size_t i = w + 1; i < ns; i++) {
			if (!src[i].have || scf_key_cmp(src[i].key, src[i].len, src[w].key, src[w].len) != 0)
				continue;
			if (!r.dead && !src[i].r.dead && same_rec_stat(&r, &src[i].r) && src[i].r.used > r.used)
				r.used = src[i].r.used;
			src_next(sc, &src[i]);
		}
		if (!r.dead || !bottom)
			emit(k, src[w].key, src[w].len, &r);
		src_next(sc, &src[w]);
	}
}

static int cmp_key(const void *a, const void *b, void *arg)
{
	const struct bf_statcache *sc = arg;
	const struct sc_entry *x = &sc->ents[*(const size_t *)a];
	const struct sc_entry *y = &sc->ents[*(const size_t *)b];
	return scf_key_cmp(x->key, x->len, y->key, y->len);
}

/* The table's entries a level gets, sorted: the live ones, and the dropped
 * ones a level below holds live. Sets *N. */
static size_t *table_order(struct bf_statcache *sc, size_t *n)
{
	size_t *order = cn_xmalloc((sc->n ? sc->n : 1) * sizeof(size_t));
	*n = 0;
	for (size_t i = 0; i < sc->n; i++)
		if (!sc->ents[i].dead || sc->ents[i].in_file)
			order[(*n)++] = i;
	if (*n)
		qsort_r(order, *n, sizeof(*order), cmp_key, sc);
	return order;
}

/* The inputs SRC merged into W, keeping at most MAX_COUNT entries and
 * BF_STATCACHE_MAX_FILE bytes: for the main file (BOTTOM) the most
 * recently used; a recent level is only written where the headers say the
 * bound is not reached (the writer stops at it whatever the files hold). */
static void write_merged(struct bf_statcache *sc, struct src *src, size_t ns, bool bottom,
			 uint64_t max_count, struct scf_writer *w)
{
	const uint64_t max_bytes = BF_STATCACHE_MAX_FILE - BF_STATCACHE_MAX_FILE / 64;
	struct timespec now;
	struct keep k = { .cutoff = SC_AGE_BUCKETS, .left_n = sc->max_saved, .left_bytes = max_bytes, .w = w };
	uint64_t count = 0, bytes = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	k.now_s = (uint64_t)now.tv_sec;
	/* Whatever the first pass makes of the files read (their headers'
	 * counts are not checked), the writer stops at the bounds. */
	w->max_count = max_count;
	w->max_bytes = max_bytes;
	for (size_t i = 0; i < ns; i++) {
		if (src[i].table) {
			count += src[i].n;
			bytes += sc->key_bytes + src[i].n * SCF_ENTRY_FIXED;
		} else {
			scf_rd_rewind(&src[i].rd);
			count += src[i].rd.count;
			bytes += src[i].rd.size;
		}
	}
	/* Over a bound, a first pass finds the hour of use from which on
	 * entries go. */
	if (bottom && (count > sc->max_saved || bytes > max_bytes)) {
		struct ages ages = { cn_xcalloc(SC_AGE_BUCKETS, sizeof(uint64_t)),
				     cn_xcalloc(SC_AGE_BUCKETS, sizeof(uint64_t)) };
		struct keep counting = { .now_s = k.now_s, .ages = &ages };
		uint64_t cn = 0, cb = 0;
		merge(sc, src, ns, bottom, &counting);
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
	merge(sc, src, ns, bottom, &k);
}

/* Start W on FD: room for the header. */
static int writer_start(struct scf_writer *w, int fd)
{
	unsigned char zero[SCF_HEADER] = { 0 };
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->off = SCF_HEADER;
	w->max_count = UINT64_MAX;
	w->max_bytes = UINT64_MAX;
	w->blk = cn_xmalloc(SCF_BLOCK_HEAD + SCF_BLOCK_MAX + SCF_MD);
	return cn_write_all(fd, zero, sizeof(zero));
}

static void writer_free(struct scf_writer *w)
{
	for (size_t i = 0; i < w->nidx; i++)
		free(w->idx[i].first);
	free(w->idx);
	free(w->blk);
	w->idx = NULL;
	w->blk = NULL;
	w->nidx = 0;
}

/* The table, sorted, into a run of its own: an unnamed file next to the
 * cache file that lookups read from then on and the save merges (each
 * entry is written once here and once by the save, instead of once per
 * table full by a merge into the whole file). The table is empty after. */
static int spill(struct bf_statcache *sc)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_free_ size_t *order = NULL;
	struct scf_writer w;
	size_t n;
	int fd = scf_open_new(sc->dirfd, sc->name, &tmp);
	if (fd < 0)
		return -1;
	if (tmp)
		unlinkat(sc->dirfd, tmp, 0);    /* private to the session */
	order = table_order(sc, &n);
	if (writer_start(&w, fd) == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct sc_entry *e = &sc->ents[order[i]];
			struct scf_rec r = e->r;
			r.dead = e->dead;
			scf_w_entry(&w, e->key, e->len, &r);
		}
		if (scf_w_finish(&w) == 0) {
			cn_xgrow((void **)&sc->runs, &sc->runs_cap, sc->nruns + 1, sizeof(*sc->runs));
			scf_level_init(&sc->runs[sc->nruns]);
			scf_level_from_writer(&sc->runs[sc->nruns], &w);
			sc->runs_bytes += sc->runs[sc->nruns].size;
			sc->runs_count += sc->runs[sc->nruns].count;
			sc->bytes_written += sc->runs[sc->nruns].size;
			sc->nruns++;
			writer_free(&w);
			table_clear(sc);
			return 0;
		}
	}
	writer_free(&w);
	close(fd);
	return -1;
}

/* An input reading FD (SIZE bytes). */
static void src_file(struct src *s, int fd, uint64_t size)
{
	memset(s, 0, sizeof(*s));
	s->rd.fd = fd;
	s->rd.size = size;
	s->rd.last = cn_xmalloc(BF_STATCACHE_MAX_KEY);
}

/* Open NAME under DIRFD for a merge: -1 where it is not a regular file
 * within the size bound (then it is not read). */
static int open_disk(int dirfd, const char *name, uint64_t *size, uint64_t *ino)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	*size = *ino = 0;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > BF_STATCACHE_MAX_FILE)) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0) {
		*size = (uint64_t)st.st_size;
		*ino = (uint64_t)st.st_ino;
	}
	return fd;
}

/* Remove an empty directory at NAME (a file cannot be renamed over it);
 * true when a directory is still there (it is never read as a level). */
static bool dir_in_way(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       unlinkat(dirfd, name, AT_REMOVEDIR) < 0;
}

/* Save: the table and runs merged, under an flock of NAME's directory,
 * with the files as they are by then (savers take turns, each merging what
 * the files hold by now, so that concurrent savers add up instead of the
 * last one winning). While what is new and the recent level are small next
 * to the main file (MAY_RECENT) only the recent level NAME.recent is
 * rewritten, else everything goes into a new main file: a save writes at
 * most about an eighth of the main file, or the whole once in a while. The
 * session goes on with the files written, the table and runs empty. */
static int sc_write(struct bf_statcache *sc, int dirfd, const char *name, bool may_recent, cn_err *err)
{
	const char *slash = strrchr(name, '/');
	_cleanup_free_ char *dir = slash ? cn_xstrndup(name, (size_t)(slash - name)) : cn_xstrdup(".");
	_cleanup_free_ char *rname = recent_name(name), *tmp = NULL;
	_cleanup_free_ size_t *order = NULL;
	_cleanup_close_ int fd = -1, lock = -1, disk = -1, rdisk = -1;
	struct src src[SC_MAX_RUNS + 3];
	struct scf_writer w = { .fd = -1 };
	uint64_t msize, mino, rsize, rino, rcount = 0, mcount = 0, new_bytes;
	size_t ns = 0, ninit, n;
	bool recent, rdir;
	int r = -1;

	lock = openat(dirfd, *dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0)
		return cn_err_sys(err, "stat cache: open the directory of '%s'", name);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return cn_err_sys(err, "stat cache: lock the directory of '%s'", name);
	rdir = dir_in_way(dirfd, rname);
	dir_in_way(dirfd, name);        /* a directory left there: the rename says so */
	disk = open_disk(dirfd, name, &msize, &mino);
	rdisk = open_disk(dirfd, rname, &rsize, &rino);
	order = table_order(sc, &n);
	src[ns] = (struct src){ .table = true, .order = order, .n = n };
	src[ns].rd.fd = -1;
	ns++;
	for (size_t i = sc->nruns; i-- > 0;) {
		src_file(&src[ns], sc->runs[i].fd, sc->runs[i].size);
		ns++;
	}
	src_file(&src[ns], rdisk, rsize);
	scf_rd_rewind(&src[ns].rd);
	rcount = src[ns].rd.count;
	ns++;
	src_file(&src[ns], disk, msize);
	scf_rd_rewind(&src[ns].rd);
	mcount = src[ns].rd.count;
	ninit = ns + 1;
	new_bytes = rsize + sc->runs_bytes + sc->key_bytes + n * SCF_ENTRY_FIXED;
	/* Only over the main file this session read (which checked out: a
	 * damaged or another saver's new one is replaced) and within bounds
	 * that a merge into it could not exceed. */
	recent = may_recent && !rdir && sc->main.fd >= 0 && sc->main.ino == mino && msize >= sc->recent_min &&
		 new_bytes <= msize / 8 && mcount + rcount + sc->runs_count + n <= sc->max_saved;
	if (!recent)
		ns++;   /* the main file is an input too */

	fd = scf_open_new(dirfd, recent ? rname : name, &tmp);
	if (fd < 0) {
		cn_err_sys(err, "stat cache: create a temp file for '%s'", name);
		goto out;
	}
	if (writer_start(&w, fd) < 0) {
		cn_err_sys(err, "stat cache: write '%s'", name);
		goto out;
	}
	/* A recent level: with the main file's entries within the bound. */
	write_merged(sc, src, ns, !recent, recent && sc->max_saved > mcount ? sc->max_saved - mcount : recent ? 0 : sc->max_saved, &w);
	if (scf_w_finish(&w) < 0) {
		cn_err_sys(err, "stat cache: write '%s'", name);
		goto out;
	}
	sc->bytes_written += w.off + SCF_BLOCK_HEAD;
	if (!tmp && !(tmp = scf_link_tmpfile(fd, dirfd, recent ? rname : name))) {
		cn_err_sys(err, "stat cache: link a temp file for '%s'", name);
		goto out;
	}
	/* A new main file holds the recent level's entries: the level goes
	 * first, so that a crash in between loses entries (misses) rather
	 * than leaving an older view above the new file. */
	if (!recent && !rdir && unlinkat(dirfd, rname, 0) < 0 && errno != ENOENT) {
		cn_err_sys(err, "stat cache: remove '%s'", rname);
		goto out;
	}
	if (renameat(dirfd, tmp, dirfd, recent ? rname : name) < 0) {
		cn_err_sys(err, "stat cache: rename '%s' to '%s'", tmp, recent ? rname : name);
		goto out;
	}
	/* Lookups go on in the files written. */
	runs_close(sc);
	table_clear(sc);
	scf_level_close(&sc->recent);
	if (recent) {
		scf_level_from_writer(&sc->recent, &w);
		sc->live = (size_t)(sc->main.count + sc->recent.count);
	} else {
		scf_level_close(&sc->main);
		scf_level_from_writer(&sc->main, &w);
		sc->live = (size_t)sc->main.count;
	}
	fd = -1;
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
	writer_free(&w);
	for (size_t i = 0; i < ninit; i++) {
		free(src[i].rd.last);
		scf_blk_free(&src[i].rd.b);
	}
	return r;
}

int bf_statcache_save(struct bf_statcache *sc, int dirfd, const char *name, cn_err *err)
{
	if (!sc->dirty)
		return 0;
	return sc_write(sc, dirfd, name, true, err);
}
