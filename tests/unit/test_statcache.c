/* The stat cache: hits without reading, persistence, the racy rule, what a
 * damaged cache file loads as, and the bound on what is saved. */
#include "builder/statcache.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIG ((size_t)20 << 20)

static char base[] = "/tmp/cairn-statcache-XXXXXX";
static int base_fd = -1, cache_fd = -1;
static cn_err err;

/* ---- fixtures ---- */

static void put_big(const char *path)
{
	char *data = cn_xmalloc(BIG);
	uint32_t x = 777;
	for (size_t i = 0; i < BIG; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (char)(x >> 16);
	}
	unit_put_bytes(base_fd, path, data, BIG, 0644);
	free(data);
}

static char *abs_path(const char *rel)
{
	return cn_xasprintf("%s/%s", base, rel);
}

static int open_ro(const char *path)
{
	int fd = openat(base_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		unit_fixture_fail(path);
	return fd;
}

/* Digest of base/PATH through SC under its absolute path; how many bytes
 * that read goes to *HASHED. */
static int digest(struct bf_statcache *sc, const char *path, char out[CN_DIGEST_STR_SIZE],
		  uint64_t *hashed)
{
	_cleanup_free_ char *key = abs_path(path);
	_cleanup_close_ int fd = open_ro(path);
	uint64_t before = bf_statcache_bytes_hashed(sc);
	int r;
	cn_err_clear(&err);
	r = bf_statcache_file_digest(sc, fd, key, out, &err);
	if (hashed)
		*hashed = bf_statcache_bytes_hashed(sc) - before;
	return r;
}

/* The digest computed without any cache. */
static void fresh_digest(const char *path, char out[CN_DIGEST_STR_SIZE])
{
	struct bf_statcache *sc = bf_statcache_new();
	if (digest(sc, path, out, NULL) < 0)
		unit_fixture_fail(path);
	bf_statcache_free(sc);
}

/* Wait until files written before now are out of the racy window. */
static void settle(void)
{
	struct timespec ts = { 2, 300000000 };
	nanosleep(&ts, NULL);
}

static struct bf_statcache *load(void)
{
	struct bf_statcache *sc = NULL;
	cn_err_clear(&err);
	if (bf_statcache_load(cache_fd, "stat", &sc, &err) < 0) {
		printf("# load failed: %s\n", err.msg);
		return bf_statcache_new();
	}
	return sc ? sc : bf_statcache_new();
}

static ino_t inode_of(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

/* Read the cache file, change it with EDIT, write it back. */
static void mangle(void (*edit)(cn_buf *b))
{
	cn_buf b;
	cn_buf_init(&b, 0);
	if (cn_read_file_at(cache_fd, "stat", (size_t)1 << 30, &b, NULL) < 0)
		unit_fixture_fail("read cache");
	edit(&b);
	{
		int fd = openat(cache_fd, "stat", O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0 || cn_write_all(fd, b.data, b.len) < 0)
			unit_fixture_fail("write cache");
		close(fd);
	}
	cn_buf_free(&b);
}

static size_t saved_len;
static cn_buf saved;

static void edit_restore(cn_buf *b)
{
	cn_buf_reset(b);
	cn_buf_add(b, saved.data, saved_len);
}
static void edit_truncate_half(cn_buf *b) { b->len /= 2; }
static void edit_truncate_one(cn_buf *b) { b->len -= 1; }
static void edit_header_only(cn_buf *b) { b->len = 16; }
static void edit_empty(cn_buf *b) { b->len = 0; }
static void edit_flip_middle(cn_buf *b) { b->data[b->len / 2] ^= 0x01; }
static void edit_flip_key(cn_buf *b) { b->data[24 + 8 + 88] ^= 0x20; }   /* first key byte */
static void edit_magic(cn_buf *b) { b->data[0] = 'X'; }
static void edit_version(cn_buf *b) { b->data[8] = 3; }
static void edit_count(cn_buf *b) { b->data[16] ^= 0x01; }
static void edit_flags(cn_buf *b) { b->data[12] = 1; }
static void edit_append(cn_buf *b) { cn_buf_adds(b, "trailing garbage"); }
static void edit_garbage(cn_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		b->data[i] = (char)(i * 7 + 3);
}

/* A cache file written here, field by field, to check that the loader
 * validates more than the checksums: one block holding the entries. */
struct craft_entry {
	const char *key;
	uint32_t key_len;       /* 0: strlen(key) */
	uint32_t flags;
	const struct stat *st;  /* NULL: made-up fields */
	uint64_t used;
};

static void le(cn_buf *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		cn_buf_addc(b, (char)(v & 0xff));
}

static void add_raw_digest(cn_buf *b, const void *data, size_t len)
{
	char sum[CN_DIGEST_STR_SIZE];
	cn_sha256_oneshot(data, len, sum);
	for (int i = 0; i < 32; i++) {
		unsigned v;
		sscanf(sum + 7 + 2 * i, "%2x", &v);
		cn_buf_addc(b, (char)v);
	}
}

static uint64_t ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

static void craft(uint64_t count, const struct craft_entry *e, size_t n)
{
	cn_buf b, blk;
	int fd;
	cn_buf_init(&b, 0);
	cn_buf_init(&blk, 0);
	cn_buf_add(&b, "cairnsc", 8);
	le(&b, 2, 4);
	le(&b, 0, 4);
	le(&b, count, 8);
	le(&blk, 0, 8);         /* the head, filled in below */
	for (size_t i = 0; i < n; i++) {
		size_t len = e[i].key_len ? e[i].key_len : strlen(e[i].key);
		le(&blk, len, 4);
		le(&blk, e[i].flags, 4);
		if (e[i].st) {
			le(&blk, (uint64_t)e[i].st->st_size, 8);
			le(&blk, ns(&e[i].st->st_mtim), 8);
			le(&blk, ns(&e[i].st->st_ctim), 8);
			le(&blk, e[i].st->st_ino, 8);
			le(&blk, e[i].st->st_dev, 8);
			le(&blk, e[i].used, 8);
			add_raw_digest(&blk, "1", 1);   /* the content of "one" */
		} else {
			for (int k = 0; k < 6; k++)
				le(&blk, 1000 + (uint64_t)k, 8);
			for (int k = 0; k < 32; k++)
				cn_buf_addc(&blk, (char)k);
		}
		cn_buf_add(&blk, e[i].key, len);
	}
	if (n) {
		for (int k = 0; k < 4; k++) {
			blk.data[k] = (char)(((blk.len - 8) >> (8 * k)) & 0xff);
			blk.data[4 + k] = (char)((n >> (8 * k)) & 0xff);
		}
		add_raw_digest(&blk, blk.data, blk.len);
		cn_buf_add(&b, blk.data, blk.len);
	}
	le(&b, 0, 8);           /* the end */
	fd = openat(cache_fd, "stat", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || cn_write_all(fd, b.data, b.len) < 0)
		unit_fixture_fail("craft");
	close(fd);
	cn_buf_free(&b);
	cn_buf_free(&blk);
}

static struct stat one_st;      /* of "one": crafted entries that can hit */

static void test_crafted(void)
{
#define E(k) { k, 0, 0, &one_st, 0 }
	static const struct craft_entry two[] = { E("/a"), E("/b") };
	static const struct craft_entry dup[] = { E("/a"), E("/a") };
	static const struct craft_entry unsorted[] = { E("/b"), E("/a") };
	/* Path order: '/' before any other byte. */
	static const struct craft_entry paths[] = { E("/a/b"), E("/a-c") };
	static const struct craft_entry bytewise[] = { E("/a-c"), E("/a/b") };
	static const struct craft_entry nul[] = { { "/a\0b", 4, 0, &one_st, 0 } };
	static const struct craft_entry flags[] = { { "/a", 0, 1, &one_st, 0 } };
	static const struct craft_entry empty_key[] = { { "", 0, 0, &one_st, 0 } };
#undef E
	/* What a file whose structure is wrong loads as (WANT entries), and
	 * whether a key of it is used (a block's entries are checked when
	 * the block is read). */
	static const struct {
		uint64_t count;
		const struct craft_entry *e;
		size_t n;
		size_t want;
		const char *probe;
		bool hit;
		const char *what;
	} cases[] = {
		{ 2, two, 2, 2, "/b", true, "well-formed file with 2 entries loads them" },
		{ 0, NULL, 0, 0, NULL, false, "well-formed empty cache" },
		{ 1, two, 2, 0, "/a", false, "count smaller than the entries: empty" },
		{ 3, two, 2, 0, "/a", false, "count larger than the entries: empty" },
		{ 2, dup, 2, 2, "/a", false, "a key twice: not used" },
		{ 2, unsorted, 2, 2, "/a", false, "keys out of order: not used" },
		{ 2, paths, 2, 2, "/a-c", true, "keys in path order are used" },
		{ 2, bytewise, 2, 2, "/a/b", false, "keys in plain byte order: not used" },
		{ 1, nul, 1, 0, "/a", false, "a NUL in the first key: empty" },
		{ 1, flags, 1, 1, "/a", false, "unknown flags: not used" },
		{ 1, empty_key, 1, 0, NULL, false, "an empty first key: empty" },
	};
	int fd = open_ro("one");
	for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
		struct bf_statcache *sc;
		char d[CN_DIGEST_STR_SIZE];
		craft(cases[i].count, cases[i].e, cases[i].n);
		sc = load();
		UNIT_CHECK(bf_statcache_count(sc) == cases[i].want, "crafted: %s (%zu)", cases[i].what,
			   bf_statcache_count(sc));
		if (cases[i].probe) {
			uint64_t before = bf_statcache_bytes_hashed(sc);
			bool hit = bf_statcache_file_digest(sc, fd, cases[i].probe, d, &err) == 0 &&
				   bf_statcache_bytes_hashed(sc) == before;
			UNIT_CHECK(hit == cases[i].hit, "crafted: %s: %s %s", cases[i].what, cases[i].probe,
				   hit ? "hits" : "is hashed");
		}
		bf_statcache_free(sc);
	}
	close(fd);
	unlinkat(cache_fd, "stat", 0);
}

/* ---- cases ---- */

static void test_basic(void)
{
	char d[CN_DIGEST_STR_SIZE], want[CN_DIGEST_STR_SIZE];
	struct bf_statcache *sc = bf_statcache_new();
	uint64_t n;
	int fd;

	cn_sha256_oneshot("hello\n", 6, want);
	UNIT_CHECK(digest(sc, "small", d, &n) == 0, "digest of a small file: %s", err.msg);
	UNIT_STREQ(d, want, "it is the sha256 of the content");
	UNIT_CHECK(n == 6, "it read the 6 bytes (%llu)", (unsigned long long)n);

	fd = open_ro("small");
	lseek(fd, 3, SEEK_SET);
	cn_err_clear(&err);
	{
		_cleanup_free_ char *key = abs_path("small-offset");
		UNIT_CHECK(bf_statcache_file_digest(sc, fd, key, d, &err) == 0 && !strcmp(d, want),
			   "the fd's offset is not used: %s", err.msg);
	}
	close(fd);

	/* Times far from now (ns since 1970 overflow 64 bits past 2262). */
	{
		struct timespec far[2] = { { 13569465600, 5 }, { 13569465600, 5 } };   /* 2400 */
		struct timespec old[2] = { { -2208988800, 7 }, { -2208988800, 7 } };   /* 1900 */
		uint64_t n1, n2;
		cn_sha256_oneshot("far", 3, want);
		for (int i = 0; i < 2; i++) {
			unit_put_bytes(base_fd, "far", "far", 3, 0644);
			if (utimensat(base_fd, "far", i ? old : far, 0) < 0)
				unit_fixture_fail("far");
			UNIT_CHECK(digest(sc, "far", d, &n1) == 0 && !strcmp(d, want) && n1 == 3 &&
				   digest(sc, "far", d, &n2) == 0 && n2 == 3,
				   "mtime in %s: hashed, not recorded while its ctime is racy", i ? "1900" : "2400");
		}
	}

	fd = openat(base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cn_err_clear(&err);
	UNIT_CHECK(bf_statcache_file_digest(sc, fd, "/dir", d, &err) < 0 && err.errnum == EINVAL,
		   "a directory fd is refused: %s", err.msg);
	close(fd);
	bf_statcache_free(sc);
}

static void test_hits(void)
{
	char d1[CN_DIGEST_STR_SIZE], d2[CN_DIGEST_STR_SIZE], d3[CN_DIGEST_STR_SIZE];
	char want[CN_DIGEST_STR_SIZE];
	struct bf_statcache *sc = bf_statcache_new();
	struct timespec keep[2];
	struct stat st;
	uint64_t n;
	ino_t ino;
	int fd;

	UNIT_CHECK(digest(sc, "big", d1, &n) == 0 && n == BIG, "20 MB file: first digest reads it all");
	UNIT_CHECK(bf_statcache_count(sc) == 1, "…and records it");
	UNIT_CHECK(digest(sc, "big", d2, &n) == 0 && n == 0 && !strcmp(d1, d2),
		   "second digest of the unchanged file reads 0 bytes (%llu)", (unsigned long long)n);

	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "save: %s", err.msg);
	UNIT_CHECK(unit_count_entries(cache_fd, ".") == 1, "save leaves no temp file behind");
	ino = inode_of(cache_fd, "stat");
	UNIT_CHECK(digest(sc, "big", d2, &n) == 0 && n == 0, "a hit after the save");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0 && inode_of(cache_fd, "stat") == ino,
		   "nothing changed: the file is not rewritten");
	bf_statcache_free(sc);

	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == 1, "load: 1 entry");
	UNIT_CHECK(digest(sc, "big", d2, &n) == 0 && n == 0 && !strcmp(d1, d2),
		   "after save + load the unchanged file still reads 0 bytes");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0 && inode_of(cache_fd, "stat") == ino,
		   "a session of hits only does not rewrite the file");

	/* Same size, mtime put back: only the ctime tells. */
	fstatat(base_fd, "big", &st, 0);
	keep[0] = st.st_atim;
	keep[1] = st.st_mtim;
	fd = openat(base_fd, "big", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, "\xff\xfe", 2, (off_t)BIG / 2) != 2)
		unit_fixture_fail("modify big");
	futimens(fd, keep);
	close(fd);
	fresh_digest("big", want);
	UNIT_CHECK(digest(sc, "big", d3, &n) == 0 && n == BIG && strcmp(d3, d1) && !strcmp(d3, want),
		   "content changed (same size, mtime restored): re-hashed, new digest");
	UNIT_CHECK(bf_statcache_count(sc) == 0, "…not recorded (its ctime is racy), old entry dropped");
	UNIT_CHECK(digest(sc, "big", d3, &n) == 0 && n == BIG, "…so it is hashed again");

	/* A file with the same key but another inode. */
	UNIT_CHECK(digest(sc, "small", d2, &n) == 0, "small");
	{
		_cleanup_free_ char *key = abs_path("small");
		_cleanup_close_ int other = open_ro("other");
		uint64_t before = bf_statcache_bytes_hashed(sc);
		char od[CN_DIGEST_STR_SIZE];
		fresh_digest("other", want);
		UNIT_CHECK(bf_statcache_file_digest(sc, other, key, od, &err) == 0 && !strcmp(od, want) &&
			   bf_statcache_bytes_hashed(sc) > before,
			   "same key, another file: not taken from the cache");
	}
	/* The same file under another key. */
	UNIT_CHECK(digest(sc, "small-link", d2, &n) == 0 && n == 6, "another key is another entry");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0 && inode_of(cache_fd, "stat") != ino,
		   "changes: the file is rewritten (%s)", err.msg);
	bf_statcache_free(sc);
}

static void test_racy(void)
{
	char d[CN_DIGEST_STR_SIZE];
	struct bf_statcache *sc = load();
	size_t before = bf_statcache_count(sc);
	uint64_t n;

	unit_put_bytes(base_fd, "fresh", "just written", 12, 0644);
	UNIT_CHECK(digest(sc, "fresh", d, &n) == 0 && n == 12, "a just-written file is hashed");
	UNIT_CHECK(bf_statcache_count(sc) == before, "…but not recorded (racy)");
	UNIT_CHECK(digest(sc, "fresh", d, &n) == 0 && n == 12, "…so the next digest reads it again");
	settle();
	UNIT_CHECK(digest(sc, "fresh", d, &n) == 0 && n == 12 && bf_statcache_count(sc) == before + 1,
		   "2 s later it is recorded");
	UNIT_CHECK(digest(sc, "fresh", d, &n) == 0 && n == 0, "…and then hits");
	UNIT_CHECK(digest(sc, "far", d, &n) == 0 && n == 3 && digest(sc, "far", d, &n) == 0 && n == 0,
		   "a file with an mtime in 1900 is recorded and hits once its ctime settled");
	UNIT_CHECK(digest(sc, "big", d, &n) == 0 && n == BIG, "the changed 20 MB file, now settled, is hashed");
	UNIT_CHECK(digest(sc, "big", d, &n) == 0 && n == 0, "…recorded, then hits");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "save: %s", err.msg);
	bf_statcache_free(sc);
}

/* A damaged file: no entry of it is used (WHOLE: it loads as empty; else
 * the damage is inside a block, found when the block is read). */
static void check_damaged_as(void (*edit)(cn_buf *b), const char *what, bool whole)
{
	struct bf_statcache *sc = NULL;
	char d[CN_DIGEST_STR_SIZE];
	uint64_t n;
	int r;

	mangle(edit_restore);
	mangle(edit);
	cn_err_clear(&err);
	r = bf_statcache_load(cache_fd, "stat", &sc, &err);
	if (whole)
		UNIT_CHECK(r == 0 && sc && bf_statcache_count(sc) == 0, "%s: loads as an empty cache (%s)",
			   what, err.msg);
	else
		UNIT_CHECK(r == 0 && sc, "%s: loads (%s)", what, err.msg);
	if (!sc)
		return;
	UNIT_CHECK(digest(sc, "big", d, &n) == 0 && n == BIG, "%s: files are hashed again", what);
	bf_statcache_free(sc);
}

static void check_damaged(void (*edit)(cn_buf *b), const char *what)
{
	check_damaged_as(edit, what, true);
}

static void test_damaged(void)
{
	struct bf_statcache *sc;
	int fd;

	cn_buf_init(&saved, 0);
	if (cn_read_file_at(cache_fd, "stat", (size_t)1 << 30, &saved, NULL) < 0)
		unit_fixture_fail("read cache");
	saved_len = saved.len;
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) >= 3, "the intact cache loads (%zu entries)", bf_statcache_count(sc));
	bf_statcache_free(sc);

	check_damaged(edit_empty, "empty file");
	check_damaged(edit_header_only, "header only");
	check_damaged(edit_truncate_half, "truncated to half");
	check_damaged(edit_truncate_one, "one byte short");
	check_damaged(edit_append, "trailing bytes");
	check_damaged_as(edit_flip_middle, "one bit flipped in a block", false);
	check_damaged_as(edit_flip_key, "a block's first key changed", false);
	check_damaged(edit_magic, "bad magic");
	check_damaged(edit_version, "unknown version");
	check_damaged(edit_count, "entry count off by one");
	check_damaged(edit_flags, "unknown header flags");
	check_damaged(edit_garbage, "garbage");

	/* A damaged file is replaced by the next save. */
	sc = load();
	{
		char d[CN_DIGEST_STR_SIZE];
		UNIT_CHECK(digest(sc, "small", d, NULL) == 0 &&
			   bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "save over garbage: %s", err.msg);
	}
	bf_statcache_free(sc);
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == 1, "…which then loads with its one entry");
	bf_statcache_free(sc);

	/* Too big: never read (a sparse file, so this costs nothing). */
	fd = openat(cache_fd, "stat", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)BF_STATCACHE_MAX_FILE + 1) < 0)
		unit_fixture_fail("grow cache");
	close(fd);
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == 0, "a file over %zu MiB loads as empty", BF_STATCACHE_MAX_FILE >> 20);
	bf_statcache_free(sc);

	/* Not a regular file. */
	unlinkat(cache_fd, "stat", 0);
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == 0, "a missing file loads as empty: %s", err.msg);
	bf_statcache_free(sc);
	unit_symlink(cache_fd, "/etc/passwd", "stat");
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == 0, "a symlink is not followed: empty");
	{
		char d[CN_DIGEST_STR_SIZE];
		struct stat st;
		UNIT_CHECK(digest(sc, "small", d, NULL) == 0 && bf_statcache_save(sc, cache_fd, "stat", &err) == 0 &&
			   fstatat(cache_fd, "stat", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode),
			   "…and is replaced by the save, not written through: %s", err.msg);
	}
	bf_statcache_free(sc);
	unlinkat(cache_fd, "stat", 0);
	mkfifoat(cache_fd, "stat", 0600);
	alarm(10);
	sc = load();
	alarm(0);
	UNIT_CHECK(sc && bf_statcache_count(sc) == 0, "a fifo is not read: empty");
	bf_statcache_free(sc);
	unlinkat(cache_fd, "stat", 0);
	cn_buf_free(&saved);
}

/* A session's table is bounded: when it fills up it is saved, and the
 * entries in the file still hit. */
static void test_table_bound(void)
{
	const size_t total = BF_STATCACHE_MAX_TABLE + 5;
	struct bf_statcache *sc = load();
	char d[CN_DIGEST_STR_SIZE];
	int fd = open_ro("one");
	bool ok = true;
	uint64_t before;

	for (size_t i = 0; i < total && ok; i++) {
		char key[64];
		snprintf(key, sizeof(key), "/cap/%zu", i);
		ok = bf_statcache_file_digest(sc, fd, key, d, &err) == 0;
	}
	UNIT_CHECK(ok && bf_statcache_count(sc) == total, "%zu keys recorded (%zu)", total,
		   bf_statcache_count(sc));
	/* The full table went to a run of the session's (written once,
	 * merged into the file at the save), not into the whole file. */
	UNIT_CHECK(bf_statcache_bytes_written(sc) > 0, "the full table was written out");
	before = bf_statcache_bytes_hashed(sc);
	for (size_t i = 0; i < total && ok; i += 997) {
		char key[64];
		snprintf(key, sizeof(key), "/cap/%zu", i);
		ok = bf_statcache_file_digest(sc, fd, key, d, &err) == 0;
	}
	ok = ok && bf_statcache_file_digest(sc, fd, "/cap/131076", d, &err) == 0;
	UNIT_CHECK(ok && bf_statcache_bytes_hashed(sc) == before, "saved and unsaved keys hit");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "save: %s", err.msg);
	bf_statcache_free(sc);
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == total, "saved and loaded back: %zu entries", bf_statcache_count(sc));
	bf_statcache_free(sc);
	close(fd);
	unlinkat(cache_fd, "stat", 0);
}

/* At most max_saved entries are saved: the most recently used. */
static void test_cap(void)
{
	struct bf_statcache *sc;
	char d[CN_DIGEST_STR_SIZE];
	int fd = open_ro("one");
	struct stat st;
	uint64_t now = (uint64_t)time(NULL);
	if (fstat(fd, &st) < 0)
		unit_fixture_fail("stat one");
	{
		const struct craft_entry e[] = {
			{ "/cap/a", 0, 0, &st, now - 3 * 86400 },
			{ "/cap/b", 0, 0, &st, now - 2 * 3600 },
			{ "/cap/c", 0, 0, &st, now },
			{ "/cap/d", 0, 0, &st, now - 86400 },
		};
		craft(4, e, 4);
	}
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == 4, "crafted cache with 4 entries");
	bf_statcache_set_max_saved(sc, 3);
	UNIT_CHECK(bf_statcache_file_digest(sc, fd, "/cap/e", d, &err) == 0, "a fifth key");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "save: %s", err.msg);
	UNIT_CHECK(bf_statcache_count(sc) == 3, "3 entries kept (%zu)", bf_statcache_count(sc));
	bf_statcache_free(sc);
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == 3, "saved and loaded back: %zu entries", bf_statcache_count(sc));
	{
		static const struct { const char *key; bool hit; } probes[] = {
			{ "/cap/a", false }, { "/cap/b", true }, { "/cap/c", true },
			{ "/cap/d", false }, { "/cap/e", true },
		};
		for (size_t i = 0; i < CN_ARRAY_SIZE(probes); i++) {
			uint64_t before = bf_statcache_bytes_hashed(sc);
			bf_statcache_file_digest(sc, fd, probes[i].key, d, &err);
			UNIT_CHECK((bf_statcache_bytes_hashed(sc) == before) == probes[i].hit,
				   "%s %s", probes[i].key, probes[i].hit ? "kept" :
				   "evicted (least recently used)");
		}
	}
	bf_statcache_free(sc);
	close(fd);
	unlinkat(cache_fd, "stat", 0);
}

int main(void)
{
	base_fd = unit_tmpdir(base);
	unit_mkdir(base_fd, "cache", 0700);
	cache_fd = openat(base_fd, "cache", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unit_put_bytes(base_fd, "small", "hello\n", 6, 0644);
	unit_put_bytes(base_fd, "other", "other!\n", 7, 0644);
	unit_put_bytes(base_fd, "one", "1", 1, 0644);
	put_big("big");
	if (linkat(base_fd, "small", base_fd, "small-link", 0) < 0)
		unit_fixture_fail("link");
	settle();
	if (fstatat(base_fd, "one", &one_st, 0) < 0)
		unit_fixture_fail("stat one");

	test_basic();
	test_hits();
	test_racy();
	test_damaged();
	test_crafted();
	test_table_bound();
	test_cap();

	close(cache_fd);
	close(base_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	return UNIT_DONE();
}
