/* Concurrent savers of one stat cache add up (parallel stage workers each
 * save what they hashed): a save merges what the file holds by then. */
#include "builder/statcache.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-scmerge-XXXXXX";
static int base_fd = -1;

/* A file whose times are old enough to be recorded (not "racy"). */
static char *old_file(const char *name, const char *text)
{
	char *path = cn_xasprintf("%s/%s", base, name);
	unit_put(base_fd, name, text, 0644);
	return path;
}

static void digest_of(struct bf_statcache *sc, const char *path)
{
	char out[CN_DIGEST_STR_SIZE];
	cn_err err;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || bf_statcache_file_digest(sc, fd, path, out, &err) < 0) {
		printf("# digest of %s failed\n", path);
		exit(2);
	}
	close(fd);
}

int main(void)
{
	struct bf_statcache *a, *b, *c;
	cn_err err;
	char *pa, *pb, *pc;
	base_fd = unit_tmpdir(base);
	pa = old_file("a", "one");
	pb = old_file("b", "two");
	pc = old_file("c", "three");
	/* ctime cannot be set back: wait until the files are not racy. */
	struct timespec nap = { .tv_sec = BF_STATCACHE_RACY_NS / 1000000000LL, .tv_nsec = 200000000 };
	nanosleep(&nap, NULL);

	/* Two "workers" load the same (empty) cache, each hashes its file. */
	UNIT_CHECK(bf_statcache_load(base_fd, "stat", &a, &err) == 0, "first saver loads");
	UNIT_CHECK(bf_statcache_load(base_fd, "stat", &b, &err) == 0, "second saver loads");
	digest_of(a, pa);
	digest_of(b, pb);
	UNIT_CHECK(bf_statcache_save(a, base_fd, "stat", &err) == 0, "first save");
	UNIT_CHECK(bf_statcache_save(b, base_fd, "stat", &err) == 0, "second save");
	UNIT_CHECK(bf_statcache_load(base_fd, "stat", &c, &err) == 0, "reload");
	UNIT_CHECK(bf_statcache_count(c) == 2, "both savers' entries are kept (%zu)", bf_statcache_count(c));
	bf_statcache_free(c);

	/* The parent, loaded before both, saves last: it keeps theirs too. */
	UNIT_CHECK(bf_statcache_load(base_fd, "stat", &c, &err) == 0, "parent loads");
	digest_of(c, pc);
	UNIT_CHECK(bf_statcache_count(c) == 3, "parent sees the saved entries and its own");
	bf_statcache_free(a);
	UNIT_CHECK(bf_statcache_load(base_fd, "stat", &a, &err) == 0, "a late saver loads");
	bf_statcache_free(a);
	a = bf_statcache_new();
	digest_of(a, pa);
	UNIT_CHECK(bf_statcache_save(a, base_fd, "stat", &err) == 0, "a saver that never loaded saves");
	UNIT_CHECK(bf_statcache_save(c, base_fd, "stat", &err) == 0, "parent saves");
	bf_statcache_free(c);
	UNIT_CHECK(bf_statcache_load(base_fd, "stat", &c, &err) == 0, "reload");
	UNIT_CHECK(bf_statcache_count(c) == 3, "all three files are in the saved cache (%zu)",
		   bf_statcache_count(c));
	/* A hit needs no read: the merged entries are whole. */
	uint64_t before = bf_statcache_bytes_hashed(c);
	digest_of(c, pa);
	digest_of(c, pb);
	UNIT_CHECK(bf_statcache_bytes_hashed(c) == before, "merged entries hit without reading");
	bf_statcache_free(a);
	bf_statcache_free(b);
	bf_statcache_free(c);
	free(pa);
	free(pb);
	free(pc);
	unlinkat(base_fd, "a", 0);
	unlinkat(base_fd, "b", 0);
	unlinkat(base_fd, "c", 0);
	unlinkat(base_fd, "stat", 0);
	close(base_fd);
	rmdir(base);
	return UNIT_DONE();
}
