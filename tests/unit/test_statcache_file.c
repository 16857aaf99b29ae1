/* The stat cache file as hostile input: a damaged block costs only its
 * own entries (at the save too, and it is read once), a header's count
 * does not switch the saved-entries bound off, and the block index stays
 * small whatever blocks a file is made of. */
#include "builder/statcache.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-scfile-XXXXXX";
static int base_fd = -1, cache_fd = -1, one_fd = -1;
static cn_err err;

static struct bf_statcache *load(void)
{
	struct bf_statcache *sc = NULL;
	cn_err_clear(&err);
	if (bf_statcache_load(cache_fd, "stat", &sc, &err) < 0 || !sc)
		unit_fixture_fail("load");
	return sc;
}

static void key_of(char *key, size_t size, size_t i)
{
	snprintf(key, size, "/k/%06zu", i);
}

/* Does KEY hit in SC (the digest known without reading)? */
static bool hits(struct bf_statcache *sc, const char *key)
{
	char d[CN_DIGEST_STR_SIZE];
	uint64_t before = bf_statcache_bytes_hashed(sc);
	if (bf_statcache_file_digest(sc, one_fd, key, d, &err) < 0)
		unit_fixture_fail(key);
	return bf_statcache_bytes_hashed(sc) == before;
}

/* A saved cache of N keys /k/000000... */
static void make_cache(size_t n)
{
	struct bf_statcache *sc;
	unlinkat(cache_fd, "stat", 0);
	sc = load();
	for (size_t i = 0; i < n; i++) {
		char key[32];
		key_of(key, sizeof(key), i);
		hits(sc, key);
	}
	if (bf_statcache_save(sc, cache_fd, "stat", &err) < 0)
		unit_fixture_fail("save");
	bf_statcache_free(sc);
}

static uint64_t get_le(const char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | (unsigned char)p[i];
	return v;
}

static void read_cache(cn_buf *b)
{
	cn_buf_init(b, 0);
	if (cn_read_file_at(cache_fd, "stat", (size_t)1 << 30, b, NULL) < 0)
		unit_fixture_fail("read cache");
}

static void write_cache(const cn_buf *b)
{
	int fd = openat(cache_fd, "stat", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || cn_write_all(fd, b->data, b->len) < 0)
		unit_fixture_fail("write cache");
	close(fd);
}

/* Offset of block I of the file in B. */
static size_t block_at(const cn_buf *b, size_t i)
{
	size_t off = 24;
	while (i--)
		off += 8 + get_le(b->data + off, 4) + 32;
	return off;
}

static size_t saved_count(void)
{
	struct bf_statcache *sc = load();
	size_t n = bf_statcache_count(sc);
	bf_statcache_free(sc);
	return n;
}

/* One bit flipped inside block 1: its entries are misses, read once, and
 * the next save keeps every other block's entries. */
static void test_damaged_block(void)
{
	const size_t total = 30000;
	struct bf_statcache *sc;
	cn_buf b;
	size_t off, n1, first1, nblocks = 0;
	char key[32];
	uint64_t before;

	make_cache(total);
	read_cache(&b);
	for (off = 24; get_le(b.data + off, 4) != 0; off += 8 + get_le(b.data + off, 4) + 32)
		nblocks++;
	off = block_at(&b, 1);
	n1 = get_le(b.data + off + 4, 4);
	first1 = (size_t)strtoul(b.data + off + 8 + 88 + 3, NULL, 10);
	UNIT_CHECK(nblocks > 10 && n1 > 2, "%zu entries in %zu blocks, %zu in block 1", total, nblocks, n1);
	b.data[off + 8 + get_le(b.data + off, 4) / 2] ^= 0x01;
	write_cache(&b);
	cn_buf_free(&b);

	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == total, "the file with a damaged block loads (%zu)",
		   bf_statcache_count(sc));
	key_of(key, sizeof(key), first1 + 1);
	UNIT_CHECK(!hits(sc, key), "a key of the damaged block is a miss");
	before = bf_statcache_blocks_read(sc);
	key_of(key, sizeof(key), first1 + 2);
	UNIT_CHECK(!hits(sc, key), "another key of it is a miss too");
	UNIT_CHECK(bf_statcache_blocks_read(sc) == before, "the damaged block is not read again (%llu reads)",
		   (unsigned long long)(bf_statcache_blocks_read(sc) - before));
	key_of(key, sizeof(key), first1 + n1 + 10);
	UNIT_CHECK(hits(sc, key), "a key of the next block hits");
	bf_statcache_free(sc);

	sc = load();
	UNIT_CHECK(!hits(sc, "/new"), "a new key");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "save: %s", err.msg);
	bf_statcache_free(sc);
	UNIT_CHECK(saved_count() == total + 1 - n1, "the save keeps all but the damaged block's %zu entries (%zu)",
		   n1, saved_count());
	sc = load();
	key_of(key, sizeof(key), total - 1);
	UNIT_CHECK(hits(sc, key), "the last key still hits");
	bf_statcache_free(sc);
}

/* A header count of 0 does not switch the bound on saved entries off. */
static void test_count_zero(void)
{
	struct bf_statcache *sc;
	cn_buf b;

	make_cache(300);
	read_cache(&b);
	memset(b.data + 16, 0, 8);
	write_cache(&b);
	cn_buf_free(&b);
	sc = load();
	bf_statcache_set_max_saved(sc, 100);
	hits(sc, "/new");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "save: %s", err.msg);
	bf_statcache_free(sc);
	UNIT_CHECK(saved_count() <= 100, "at most 100 entries saved (%zu)", saved_count());
}

/* ---- crafted files ---- */

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

/* A block of entries whose keys are "/NNNNN/" + C + padding to LEN[j]. */
static void add_block(cn_buf *f, unsigned blkno, const size_t *lens, size_t n)
{
	cn_buf blk;
	cn_buf_init(&blk, 0);
	le(&blk, 0, 8);
	for (size_t j = 0; j < n; j++) {
		char head[16];
		int hl = snprintf(head, sizeof(head), "/%05u/%c", blkno, (char)('a' + j));
		le(&blk, lens[j], 4);
		le(&blk, 0, 4);
		for (int k = 0; k < 6; k++)
			le(&blk, 1000 + (uint64_t)k, 8);
		for (int k = 0; k < 32; k++)
			cn_buf_addc(&blk, (char)k);
		cn_buf_add(&blk, head, (size_t)hl);
		for (size_t k = (size_t)hl; k < lens[j]; k++)
			cn_buf_addc(&blk, 'x');
	}
	for (int k = 0; k < 4; k++) {
		blk.data[k] = (char)(((blk.len - 8) >> (8 * k)) & 0xff);
		blk.data[4 + k] = (char)((n >> (8 * k)) & 0xff);
	}
	add_raw_digest(&blk, blk.data, blk.len);
	cn_buf_add(f, blk.data, blk.len);
	cn_buf_free(&blk);
}

static void craft(size_t nblocks, const size_t *lens, size_t per_block)
{
	cn_buf f;
	cn_buf_init(&f, 0);
	cn_buf_add(&f, "cairnsc", 8);
	le(&f, 2, 4);
	le(&f, 0, 4);
	le(&f, nblocks * per_block, 8);
	for (size_t i = 0; i < nblocks; i++)
		add_block(&f, (unsigned)i, lens, per_block);
	le(&f, 0, 8);
	write_cache(&f);
	cn_buf_free(&f);
}

/* Blocks smaller than the writer cuts (but the last) and first keys
 * adding up to more than the index may hold: the file is corrupt. */
static void test_index_bound(void)
{
	static const size_t tiny[] = { 20 };
	static const size_t big[] = { 60000, 5500 };
	craft(3, tiny, 1);
	UNIT_CHECK(saved_count() == 0, "three one-entry blocks: empty (%zu)", saved_count());
	craft(1, tiny, 1);
	UNIT_CHECK(saved_count() == 1, "one small block (the last) loads (%zu)", saved_count());
	craft(300, big, 2);
	UNIT_CHECK(saved_count() == 0, "300 blocks with 60,000-byte first keys (18 MB of index): empty (%zu)",
		   saved_count());
	craft(30, big, 2);
	UNIT_CHECK(saved_count() == 60, "30 such blocks load (%zu)", saved_count());
	unlinkat(cache_fd, "stat", 0);
}

int main(void)
{
	struct timespec nap = { .tv_sec = BF_STATCACHE_RACY_NS / 1000000000LL, .tv_nsec = 300000000 };
	base_fd = unit_tmpdir(base);
	unit_mkdir(base_fd, "cache", 0700);
	cache_fd = openat(base_fd, "cache", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unit_put_bytes(base_fd, "one", "1", 1, 0644);
	nanosleep(&nap, NULL);  /* out of the racy window */
	one_fd = openat(base_fd, "one", O_RDONLY | O_CLOEXEC);
	if (one_fd < 0)
		unit_fixture_fail("open one");

	test_damaged_block();
	test_count_zero();
	test_index_bound();

	close(one_fd);
	close(cache_fd);
	close(base_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	return UNIT_DONE();
}
