/* The stat cache's recent level (cache/stat.recent): a save that adds a
 * little to a big cache writes the little, not the whole file; what it
 * says (new entries, dropped ones) wins over the main file; a damaged one
 * costs misses, never a wrong digest; a save with much that is new folds
 * it into the main file and removes it. */
#include "builder/statcache.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N 3000

static char base[] = "/tmp/cairn-sclevel-XXXXXX";
static int base_fd = -1, cache_fd = -1, one_fd = -1, two_fd = -1;
static cn_err err;
static char one_digest[CN_DIGEST_STR_SIZE], two_digest[CN_DIGEST_STR_SIZE];

static struct bf_statcache *load(void)
{
	struct bf_statcache *sc = NULL;
	cn_err_clear(&err);
	if (bf_statcache_load(cache_fd, "stat", &sc, &err) < 0 || !sc)
		unit_fixture_fail("load");
	return sc;
}

static void save(struct bf_statcache *sc)
{
	if (bf_statcache_save(sc, cache_fd, "stat", &err) < 0)
		unit_fixture_fail("save");
}

/* Does KEY (the file FD) hit in SC? Its digest must be right either way. */
static bool hits_fd(struct bf_statcache *sc, int fd, const char *key, const char *want)
{
	char d[CN_DIGEST_STR_SIZE];
	uint64_t before = bf_statcache_bytes_hashed(sc);
	if (bf_statcache_file_digest(sc, fd, key, d, &err) < 0)
		unit_fixture_fail(key);
	if (strcmp(d, want) != 0)
		unit_fixture_fail("a wrong digest");
	return bf_statcache_bytes_hashed(sc) == before;
}

static bool hits(struct bf_statcache *sc, const char *key)
{
	return hits_fd(sc, one_fd, key, one_digest);
}

static struct stat stat_of(const char *name)
{
	struct stat st = { 0 };
	if (fstatat(cache_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		st.st_ino = 0;
	return st;
}

/* A saved cache of N keys /k/000000... (about 300 KB), no recent level. */
static void make_cache(void)
{
	struct bf_statcache *sc;
	unlinkat(cache_fd, "stat", 0);
	unlinkat(cache_fd, "stat.recent", 0);
	sc = load();
	for (size_t i = 0; i < N; i++) {
		char key[32];
		snprintf(key, sizeof(key), "/k/%06zu", i);
		hits(sc, key);
	}
	save(sc);
	bf_statcache_free(sc);
}

static bool all_hit(struct bf_statcache *sc)
{
	for (size_t i = 0; i < N; i += 7) {
		char key[32];
		snprintf(key, sizeof(key), "/k/%06zu", i);
		if (!hits(sc, key))
			return false;
	}
	return true;
}

static void test_recent(void)
{
	struct bf_statcache *sc;
	struct stat main0, st;
	int fresh;

	make_cache();
	main0 = stat_of("stat");
	sc = load();
	bf_statcache_set_recent_min(sc, 0);
	UNIT_CHECK(!hits(sc, "/new/1"), "a new key is hashed");
	save(sc);
	st = stat_of("stat");
	UNIT_CHECK(st.st_ino == main0.st_ino && st.st_size == main0.st_size,
		   "one new entry leaves the main file as it was");
	UNIT_CHECK(stat_of("stat.recent").st_ino != 0, "…and goes to stat.recent");
	UNIT_CHECK(bf_statcache_bytes_written(sc) * 8 < (uint64_t)main0.st_size,
		   "…writing %llu bytes next to a %lld-byte cache",
		   (unsigned long long)bf_statcache_bytes_written(sc), (long long)main0.st_size);
	UNIT_CHECK(hits(sc, "/new/1") && all_hit(sc), "the saving session still hits both");
	bf_statcache_free(sc);

	sc = load();
	UNIT_CHECK(hits(sc, "/new/1") && all_hit(sc), "loaded: the recent and the main file's keys hit");
	bf_statcache_free(sc);

	/* A key found stale (another, racy file under its name) is dropped by
	 * the recent level: the main file's entry for it is not used. */
	unit_put_bytes(base_fd, "fresh", "2", 1, 0644);
	fresh = openat(base_fd, "fresh", O_RDONLY | O_CLOEXEC);
	if (fresh < 0)
		unit_fixture_fail("open fresh");
	sc = load();
	bf_statcache_set_recent_min(sc, 0);
	{
		char d2[CN_DIGEST_STR_SIZE];
		cn_sha256 h;
		cn_sha256_init(&h);
		cn_sha256_update(&h, "2", 1);
		cn_sha256_final(&h, d2);
		UNIT_CHECK(!hits_fd(sc, fresh, "/k/000007", d2), "another file under a known key is hashed");
	}
	save(sc);
	bf_statcache_free(sc);
	close(fresh);
	UNIT_CHECK(stat_of("stat").st_ino == main0.st_ino, "the drop went to the recent level");
	sc = load();
	UNIT_CHECK(!hits(sc, "/k/000007"), "the dropped key misses although the main file holds it");
	UNIT_CHECK(hits(sc, "/k/000014") && hits(sc, "/new/1"), "other keys still hit");
	/* A save with much that is new (no recent_min override: the 4 MiB
	 * default is above this file) goes into the main file. */
	for (int i = 0; i < 50; i++) {
		char key[32];
		snprintf(key, sizeof(key), "/new/%d", 100 + i);
		hits(sc, key);
	}
	save(sc);
	bf_statcache_free(sc);
	st = stat_of("stat");
	UNIT_CHECK(st.st_ino != main0.st_ino, "a big save writes a new main file");
	UNIT_CHECK(stat_of("stat.recent").st_ino == 0 && errno == ENOENT, "…and removes the recent level");
	sc = load();
	UNIT_CHECK(bf_statcache_count(sc) == N + 1 + 50, "all entries are in it (%zu)", bf_statcache_count(sc));
	UNIT_CHECK(all_hit(sc) && hits(sc, "/new/1") && hits(sc, "/new/149") && hits(sc, "/k/000007"),
		   "…and hit");
	bf_statcache_free(sc);
}

/* A flipped byte in the recent level: its keys are misses (hashed, the
 * right digest), the main file's keys still hit, and the next save into
 * the main file loses only the damaged block's entries. */
static void test_damaged_recent(void)
{
	struct bf_statcache *sc;
	cn_buf b;
	size_t hit = 0;

	make_cache();
	sc = load();
	bf_statcache_set_recent_min(sc, 0);
	for (int i = 0; i < 20; i++) {
		char key[32];
		snprintf(key, sizeof(key), "/new/%d", i);
		hits(sc, key);
	}
	save(sc);
	bf_statcache_free(sc);
	UNIT_CHECK(stat_of("stat.recent").st_ino != 0, "20 new entries went to stat.recent");

	cn_buf_init(&b, 0);
	if (cn_read_file_at(cache_fd, "stat.recent", (size_t)1 << 20, &b, NULL) < 0 || b.len < 200)
		unit_fixture_fail("read stat.recent");
	b.data[24 + 8 + 88 + 20] ^= 1;       /* inside block 0's entries */
	unit_put_bytes(cache_fd, "stat.recent", b.data, b.len, 0600);
	cn_buf_free(&b);

	sc = load();
	for (int i = 0; i < 20; i++) {
		char key[32];
		snprintf(key, sizeof(key), "/new/%d", i);
		hit += hits(sc, key);
	}
	UNIT_CHECK(hit == 0, "the damaged level's keys miss (%zu hits), with the right digest", hit);
	UNIT_CHECK(all_hit(sc), "the main file's keys hit");
	bf_statcache_free(sc);
}

/* A recent level that is not a regular file is not read, and a save
 * replaces it. */
static void test_recent_symlink(void)
{
	struct bf_statcache *sc;
	make_cache();
	if (symlinkat("/etc/passwd", cache_fd, "stat.recent") < 0)
		unit_fixture_fail("symlink");
	sc = load();
	UNIT_CHECK(all_hit(sc), "a symlinked recent level is ignored");
	hits(sc, "/new/x");
	save(sc);
	bf_statcache_free(sc);
	UNIT_CHECK(!S_ISLNK(stat_of("stat.recent").st_mode), "…and replaced by the save");
	sc = load();
	UNIT_CHECK(hits(sc, "/new/x") && all_hit(sc), "…whose entries load");
	bf_statcache_free(sc);
}

/* Record KEYS new keys /PFX/i (hashed), enough to fill the table. */
static void fill(struct bf_statcache *sc, const char *pfx, int keys)
{
	for (int i = 0; i < keys; i++) {
		char key[64];
		snprintf(key, sizeof(key), "/%s/%d", pfx, i);
		hits(sc, key);
	}
}

/* A dropped (dead) record of KEY: another, racy file under its name. */
static void drop(struct bf_statcache *sc, const char *key)
{
	char d[CN_DIGEST_STR_SIZE];
	int fd;
	unit_put_bytes(base_fd, "fresh", "3", 1, 0644);
	fd = openat(base_fd, "fresh", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || bf_statcache_file_digest(sc, fd, key, d, &err) < 0)
		unit_fixture_fail("drop");
	close(fd);
}

/* The session's runs (a table of 4 entries here): a newer run wins over
 * an older one and the main file, a dropped key in a run misses and hides
 * the older levels' entries, recorded again it hits; past the run bound
 * everything goes into the main file and hits. */
static void test_runs(void)
{
	const char *K = "/k/000001";
	struct bf_statcache *sc;
	struct stat main0;

	make_cache();
	main0 = stat_of("stat");
	sc = load();
	bf_statcache_set_max_table(sc, 4);
	bf_statcache_set_max_runs(sc, 5);
	/* A new key with the table full spills it (4 entries) to a run. */
	UNIT_CHECK(!hits_fd(sc, two_fd, K, two_digest), "another file under a main file's key is hashed");
	fill(sc, "a", 4);               /* run 1: K -> two */
	UNIT_CHECK(hits_fd(sc, two_fd, K, two_digest), "run 1's entry wins over the main file's");
	UNIT_CHECK(!hits(sc, K), "the main file's entry for K is not used");
	fill(sc, "b", 4);               /* run 2: K -> one */
	UNIT_CHECK(hits(sc, K), "run 2's entry wins over run 1's");
	UNIT_CHECK(!hits_fd(sc, two_fd, K, two_digest), "run 1's entry for K is not used");
	fill(sc, "c", 4);               /* run 3: K -> two */
	UNIT_CHECK(hits_fd(sc, two_fd, K, two_digest) && hits(sc, "/a/1") && hits(sc, "/b/2") && hits(sc, "/c/3"),
		   "each run's keys hit");
	drop(sc, K);
	fill(sc, "d", 4);               /* run 4: K dropped */
	UNIT_CHECK(stat_of("stat").st_ino == main0.st_ino, "4 runs: the main file is as it was");
	UNIT_CHECK(!hits_fd(sc, two_fd, K, two_digest), "a key dropped in run 4 misses (run 3 holds it)");
	/* That miss recorded K -> two again: run 5. */
	UNIT_CHECK(stat_of("stat").st_ino == main0.st_ino, "5 runs: the main file is as it was");
	UNIT_CHECK(hits_fd(sc, two_fd, K, two_digest), "the key recorded again in run 5 after its drop hits");
	/* The next full table is past the run bound: all goes into a new
	 * main file. */
	fill(sc, "e", 4);
	UNIT_CHECK(stat_of("stat").st_ino != main0.st_ino, "past the run bound the runs go into the main file");
	UNIT_CHECK(hits_fd(sc, two_fd, K, two_digest), "K's last entry is in it");
	UNIT_CHECK(all_hit(sc) && hits(sc, "/a/0") && hits(sc, "/b/3") && hits(sc, "/c/0") && hits(sc, "/d/2") &&
		   hits(sc, "/e/1"), "all the runs' keys and the main file's hit");
	save(sc);
	bf_statcache_free(sc);
	sc = load();
	UNIT_CHECK(hits_fd(sc, two_fd, K, two_digest) && all_hit(sc) && hits(sc, "/a/0") && hits(sc, "/e/3"),
		   "loaded again: the same");
	UNIT_CHECK(bf_statcache_count(sc) == N + 20, "%zu entries", bf_statcache_count(sc));
	bf_statcache_free(sc);
}

/* A spill that fails (writes fail: EFBIG past RLIMIT_FSIZE) leaves the
 * table full: what it holds still hits, new keys are hashed and not
 * recorded, and the save (writes working again) keeps the table. */
static void test_failed_spill(void)
{
	struct bf_statcache *sc;
	struct rlimit old, lim;
	void (*oldsig)(int);

	make_cache();
	sc = load();
	bf_statcache_set_max_table(sc, 4);
	fill(sc, "a", 4);
	if (getrlimit(RLIMIT_FSIZE, &old) < 0)
		unit_fixture_fail("getrlimit");
	lim = old;
	lim.rlim_cur = 1;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &lim) < 0)
		unit_fixture_fail("setrlimit");
	UNIT_CHECK(!hits(sc, "/x/1"), "a new key with a full table is hashed");
	UNIT_CHECK(!hits(sc, "/x/1"), "…and not recorded: hashed again");
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	UNIT_CHECK(bf_statcache_bytes_written(sc) == 0, "nothing was written");
	UNIT_CHECK(hits(sc, "/a/0") && hits(sc, "/a/3") && all_hit(sc), "the table's and the main file's keys hit");
	save(sc);
	bf_statcache_free(sc);
	sc = load();
	UNIT_CHECK(hits(sc, "/a/0") && hits(sc, "/a/3") && !hits(sc, "/x/1"), "saved: the table's keys, not the others");
	bf_statcache_free(sc);
}

/* A main file that claims (in its header, rewritten in place after the
 * load) more entries than any file may hold: the save's sums of counts do
 * not wrap into a small recent level over it; it writes a new main file. */
static void test_huge_count(void)
{
	static const unsigned char huge[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct bf_statcache *sc;
	struct stat main0;
	int fd;

	make_cache();
	main0 = stat_of("stat");
	sc = load();
	bf_statcache_set_recent_min(sc, 0);
	UNIT_CHECK(!hits(sc, "/new/1"), "a new key is hashed");
	fd = openat(cache_fd, "stat", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, huge, sizeof(huge), 16) != (ssize_t)sizeof(huge))
		unit_fixture_fail("patch the header");
	close(fd);
	save(sc);
	bf_statcache_free(sc);
	UNIT_CHECK(stat_of("stat").st_ino != main0.st_ino, "a new main file is written");
	UNIT_CHECK(stat_of("stat.recent").st_ino == 0, "…and no recent level");
	sc = load();
	UNIT_CHECK(hits(sc, "/new/1"), "the new key hits");
	bf_statcache_free(sc);
}

/* A directory at stat.recent or stat (not a regular file: not read) does
 * not make saves fail: an empty one is replaced, a non-empty stat.recent
 * is left and the save writes the main file. */
static void test_dir_levels(void)
{
	struct bf_statcache *sc;
	int fd;

	make_cache();
	unit_mkdir(cache_fd, "stat.recent", 0700);
	sc = load();
	bf_statcache_set_recent_min(sc, 0);
	UNIT_CHECK(all_hit(sc), "an empty directory at stat.recent: the main file's keys hit");
	hits(sc, "/new/d1");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "…the save works");
	bf_statcache_free(sc);
	UNIT_CHECK(S_ISREG(stat_of("stat.recent").st_mode), "…and writes a recent level in its place");
	sc = load();
	UNIT_CHECK(hits(sc, "/new/d1") && all_hit(sc), "…whose entries load");
	bf_statcache_free(sc);

	unlinkat(cache_fd, "stat.recent", 0);
	unit_mkdir(cache_fd, "stat.recent", 0700);
	fd = openat(cache_fd, "stat.recent/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		unit_fixture_fail("stat.recent/x");
	close(fd);
	sc = load();
	bf_statcache_set_recent_min(sc, 0);
	hits(sc, "/new/d2");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "a non-empty directory at stat.recent: the save works");
	bf_statcache_free(sc);
	sc = load();
	UNIT_CHECK(hits(sc, "/new/d2") && all_hit(sc), "…into the main file");
	bf_statcache_free(sc);
	unlinkat(cache_fd, "stat.recent/x", 0);
	unlinkat(cache_fd, "stat.recent", AT_REMOVEDIR);

	unlinkat(cache_fd, "stat", 0);
	unit_mkdir(cache_fd, "stat", 0700);
	sc = load();
	hits(sc, "/new/d3");
	UNIT_CHECK(bf_statcache_save(sc, cache_fd, "stat", &err) == 0, "an empty directory at stat: the save works");
	bf_statcache_free(sc);
	UNIT_CHECK(S_ISREG(stat_of("stat").st_mode), "…and writes the main file in its place");
	sc = load();
	UNIT_CHECK(hits(sc, "/new/d3"), "…whose entries load");
	bf_statcache_free(sc);
}

/* A recent level that cannot be opened (a socket there: ENXIO) is an
 * empty level, not a failed load: the main file's keys hit and the save
 * replaces it. */
static void test_unreadable_recent(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bf_statcache *sc = NULL;
	int s;

	make_cache();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/cache/stat.recent", base);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		unit_fixture_fail("bind stat.recent");
	close(s);
	cn_err_clear(&err);
	UNIT_CHECK(bf_statcache_load(cache_fd, "stat", &sc, &err) == 0 && sc, "a socket at stat.recent: the load works");
	if (!sc)
		return;
	bf_statcache_set_recent_min(sc, 0);
	UNIT_CHECK(all_hit(sc), "…the main file's keys hit");
	hits(sc, "/new/s1");
	save(sc);
	bf_statcache_free(sc);
	UNIT_CHECK(S_ISREG(stat_of("stat.recent").st_mode), "…and the save replaces it");
	sc = load();
	UNIT_CHECK(hits(sc, "/new/s1") && all_hit(sc), "…with entries that load");
	bf_statcache_free(sc);
}

int main(void)
{
	struct timespec nap = { .tv_sec = BF_STATCACHE_RACY_NS / 1000000000LL, .tv_nsec = 300000000 };
	cn_sha256 h;
	base_fd = unit_tmpdir(base);
	unit_mkdir(base_fd, "cache", 0700);
	cache_fd = openat(base_fd, "cache", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unit_put_bytes(base_fd, "one", "1", 1, 0644);
	unit_put_bytes(base_fd, "two", "22", 2, 0644);
	nanosleep(&nap, NULL);  /* out of the racy window */
	one_fd = openat(base_fd, "one", O_RDONLY | O_CLOEXEC);
	if (one_fd < 0)
		unit_fixture_fail("open one");
	cn_sha256_init(&h);
	cn_sha256_update(&h, "1", 1);
	cn_sha256_final(&h, one_digest);
	two_fd = openat(base_fd, "two", O_RDONLY | O_CLOEXEC);
	if (two_fd < 0)
		unit_fixture_fail("open two");
	cn_sha256_init(&h);
	cn_sha256_update(&h, "22", 2);
	cn_sha256_final(&h, two_digest);

	test_recent();
	test_damaged_recent();
	test_recent_symlink();
	test_runs();
	test_failed_spill();
	test_huge_count();
	test_dir_levels();
	test_unreadable_recent();

	close(one_fd);
	close(two_fd);
	close(cache_fd);
	close(base_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	return UNIT_DONE();
}
