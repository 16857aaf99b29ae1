/* layers/: the multithreaded writer. The same tree gives the same blob with
 * 1, 2 and 8 zstd workers (CAIRN_ZSTD_WORKERS) and gzip workers
 * (CAIRN_GZIP_WORKERS), with the mtime clamp too; the blob reads back
 * (layers/ reader, the zstd CLI, gzip -t, tar tzf) to the same tar;
 * compression levels change the blob, not the tar, and are range-checked. */
#include "layers/layer.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_SIZE ((size_t)3 << 20)     /* 5 files: more than 3 zstd jobs, 120 gzip blocks */
#define CLAMP ((int64_t)1700000000)

static char base[] = "/tmp/cairn-test-layer-mt-XXXXXX";
static int base_fd = -1;

/* Half text, half noise: compressible, not trivially. */
static void put_file(const char *name, uint32_t seed)
{
	_cleanup_free_ char *p = cn_xmalloc(FILE_SIZE);
	uint32_t x = seed;
	for (size_t i = 0; i < FILE_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (i / 4096) % 2 ? (char)(x >> 16) : "the quick brown fox jumps "[(i + (x >> 28)) % 26];
	}
	unit_put_bytes(base_fd, name, p, FILE_SIZE, 0644);
}

/* The tree under "t" as COMP at LEVEL with WORKERS workers (NULL: unset). */
static int write_layer(enum layer_compression comp, int level, const char *workers, int64_t clamp,
		       struct layer_info *info, const char *out_name)
{
	struct layer_write_opts o = { .compression = comp, .level = level, .clamp_mtime = clamp };
	_cleanup_close_ int dir = openat(base_fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int out = openat(base_fd, out_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cn_err err;
	int r;
	const char *knob = comp == LAYER_GZIP ? "CAIRN_GZIP_WORKERS" : "CAIRN_ZSTD_WORKERS";
	if (workers)
		setenv(knob, workers, 1);
	else
		unsetenv(knob);
	r = layer_write_dir(dir, out, &o, info, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	return r;
}

static void test_workers(enum layer_compression comp, int64_t clamp)
{
	static const char *const counts[] = { "1", "2", "8" };
	const char *name = layer_compression_name(comp);
	struct layer_info ref, got;
	UNIT_CHECK(write_layer(comp, 0, counts[0], clamp, &ref, "w1") == 0, "%s layer with 1 worker (clamp %lld)", name, (long long)clamp);
	for (size_t i = 1; i < sizeof(counts) / sizeof(counts[0]); i++) {
		UNIT_CHECK(write_layer(comp, 0, counts[i], clamp, &got, "wn") == 0, "%s layer with %s workers", name, counts[i]);
		UNIT_STREQ(got.digest, ref.digest, "%s, %s workers: the same digest as 1", name, counts[i]);
		UNIT_STREQ(got.diff_id, ref.diff_id, "%s, %s workers: the same diff_id as 1", name, counts[i]);
		UNIT_CHECK(got.size == ref.size, "%s, %s workers: the same size as 1", name, counts[i]);
	}
	/* Twice the same: nothing depends on timing. */
	UNIT_CHECK(write_layer(comp, 0, "2", clamp, &got, "wn") == 0, "%s, 2 workers again", name);
	UNIT_STREQ(got.digest, ref.digest, "%s, 2 workers again: the same digest", name);
}

/* The blob is a zstd stream whose content hashes to its diff_id, for the
 * cairn reader and for the zstd CLI. */
static void test_reads_back(void)
{
	struct layer_info info;
	struct layer_extract_result res;
	_cleanup_free_ char *cmd = NULL;
	cn_err err;
	FILE *f;
	char line[128] = "";
	UNIT_CHECK(write_layer(LAYER_ZSTD, 0, "2", -1, &info, "rb.zst") == 0, "zstd layer written");
	{
		_cleanup_close_ int fd = openat(base_fd, "rb.zst", O_RDONLY | O_CLOEXEC);
		UNIT_CHECK(layer_hash(fd, 0, &res, &err) == 0, "cairn reads the blob back");
	}
	UNIT_STREQ(res.digest, info.digest, "read back: digest");
	UNIT_STREQ(res.diff_id, info.diff_id, "read back: diff_id");
	UNIT_CHECK(res.size == info.size, "read back: size");
	if (system("command -v zstd >/dev/null 2>&1") != 0) {
		printf("ok - zstd CLI check # SKIP no zstd\n");
		return;
	}
	cmd = cn_xasprintf("zstd -dc '%s/rb.zst' | sha256sum", base);
	f = popen(cmd, "r");
	UNIT_CHECK(f && fgets(line, sizeof(line), f), "zstd -dc | sha256sum runs");
	if (f)
		pclose(f);
	UNIT_CHECK(strncmp(line, info.diff_id + 7, 64) == 0, "the zstd CLI decompresses it to the diff_id's tar");
}

/* Run CMD (a shell line) and give its first output line. */
static bool first_line(const char *cmd, char *line, size_t size)
{
	FILE *f = popen(cmd, "r");
	bool ok = f && fgets(line, (int)size, f);
	if (f && pclose(f) != 0)
		ok = false;
	return ok;
}

/* The gzip blob is one member whose content hashes to its diff_id, for the
 * cairn reader, gzip -t and GNU tar. */
static void test_gzip_reads_back(void)
{
	struct layer_info info;
	struct layer_extract_result res;
	_cleanup_free_ char *cmd = NULL, *list = NULL;
	cn_err err;
	char line[128] = "";
	UNIT_CHECK(write_layer(LAYER_GZIP, 0, "2", -1, &info, "rb.gz") == 0, "gzip layer written");
	{
		_cleanup_close_ int fd = openat(base_fd, "rb.gz", O_RDONLY | O_CLOEXEC);
		UNIT_CHECK(layer_hash(fd, 0, &res, &err) == 0, "cairn reads the gzip blob back");
	}
	UNIT_STREQ(res.digest, info.digest, "gzip read back: digest");
	UNIT_STREQ(res.diff_id, info.diff_id, "gzip read back: diff_id");
	UNIT_CHECK(res.size == info.size, "gzip read back: size");
	cmd = cn_xasprintf("gzip -t '%s/rb.gz' && gzip -dc '%s/rb.gz' | sha256sum", base, base);
	UNIT_CHECK(first_line(cmd, line, sizeof(line)) && strncmp(line, info.diff_id + 7, 64) == 0,
		   "gzip -t passes and gzip -dc gives the diff_id's tar");
	list = cn_xasprintf("tar tzf '%s/rb.gz' | sort | tr '\\n' ' '", base);
	UNIT_CHECK(first_line(list, line, sizeof(line)) && strcmp(line, "a b d/ d/c d/e f ") == 0,
		   "tar tzf lists the tree: %s", line);
}

/* A layer of one block compresses on the caller's thread: the same bytes
 * as with any number of workers, readable. */
static void test_gzip_tiny(void)
{
	struct layer_write_opts o = { .compression = LAYER_GZIP, .clamp_mtime = -1 };
	struct layer_info one, many;
	cn_err err;
	unit_mkdir(base_fd, "tiny", 0755);
	unit_put_bytes(base_fd, "tiny/hello", "hello\n", 6, 0644);
	for (int i = 0; i < 2; i++) {
		_cleanup_close_ int dir = openat(base_fd, "tiny", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int out = openat(base_fd, "tiny.gz", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		setenv("CAIRN_GZIP_WORKERS", i ? "8" : "1", 1);
		UNIT_CHECK(layer_write_dir(dir, out, &o, i ? &many : &one, &err) == 0, "a tiny gzip layer, %s worker(s)", i ? "8" : "1");
	}
	unsetenv("CAIRN_GZIP_WORKERS");
	UNIT_STREQ(many.digest, one.digest, "tiny gzip layer: the same digest with 1 and 8 workers");
	{
		_cleanup_free_ char *cmd = cn_xasprintf("gzip -dc '%s/tiny.gz' | sha256sum", base);
		char line[128] = "";
		UNIT_CHECK(first_line(cmd, line, sizeof(line)) && strncmp(line, one.diff_id + 7, 64) == 0,
			   "tiny gzip layer: gzip -dc gives the diff_id's tar");
	}
}

static void test_levels(void)
{
	struct layer_info def, lo, hi, g1, g9;
	UNIT_CHECK(write_layer(LAYER_ZSTD, 0, NULL, -1, &def, "l.zst") == 0, "zstd, default level, default workers");
	UNIT_CHECK(write_layer(LAYER_ZSTD, 3, NULL, -1, &lo, "l.zst") == 0, "zstd level 3");
	UNIT_STREQ(lo.digest, def.digest, "zstd level 3 is the default");
	UNIT_CHECK(write_layer(LAYER_ZSTD, 1, NULL, -1, &lo, "l.zst") == 0, "zstd level 1");
	UNIT_CHECK(write_layer(LAYER_ZSTD, 9, NULL, -1, &hi, "l.zst") == 0, "zstd level 9");
	UNIT_CHECK(strcmp(lo.digest, hi.digest) != 0, "zstd levels 1 and 9: different blobs");
	UNIT_STREQ(lo.diff_id, hi.diff_id, "zstd levels 1 and 9: the same tar");
	UNIT_CHECK(hi.size < lo.size, "zstd level 9 is smaller than 1 (%llu < %llu)", (unsigned long long)hi.size, (unsigned long long)lo.size);
	UNIT_CHECK(write_layer(LAYER_GZIP, 1, NULL, -1, &g1, "l.gz") == 0, "gzip level 1");
	UNIT_CHECK(write_layer(LAYER_GZIP, 9, NULL, -1, &g9, "l.gz") == 0, "gzip level 9");
	UNIT_CHECK(strcmp(g1.digest, g9.digest) != 0, "gzip levels 1 and 9: different blobs");
	UNIT_STREQ(g1.diff_id, def.diff_id, "gzip: the same tar as zstd");
	UNIT_CHECK(g9.size < g1.size, "gzip level 9 is smaller than 1");
	UNIT_CHECK(write_layer(LAYER_ZSTD, 23, NULL, -1, &hi, "l.zst") < 0, "zstd level 23 refused");
	UNIT_CHECK(write_layer(LAYER_GZIP, 10, NULL, -1, &hi, "l.gz") < 0, "gzip level 10 refused");
	UNIT_CHECK(write_layer(LAYER_NONE, 1, NULL, -1, &hi, "l.tar") < 0, "a level for a plain tar refused");
	UNIT_CHECK(layer_level_check(LAYER_ZSTD, 22) == 0 && layer_level_check(LAYER_GZIP, 9) == 0, "zstd 22 and gzip 9 accepted");
	UNIT_CHECK(layer_level_check(LAYER_ZSTD, -1) < 0 && layer_level_check(LAYER_GZIP, 10) < 0, "zstd -1 and gzip 10 refused");
}

/* A write failure (a read-only fd) comes back from the hashing thread. */
static void test_write_error(void)
{
	struct layer_write_opts o = { .compression = LAYER_ZSTD, .clamp_mtime = -1 };
	struct layer_info info;
	_cleanup_close_ int dir = openat(base_fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int ro = openat(base_fd, "t/a", O_RDONLY | O_CLOEXEC);
	cn_err err;
	UNIT_CHECK(layer_write_dir(dir, ro, &o, &info, &err) < 0, "writing to a read-only fd fails");
	UNIT_CHECK(strstr(err.msg, "write") != NULL, "... with the write's error: %s", err.msg);
}

int main(void)
{
	_cleanup_free_ char *cmd = NULL;
	umask(022);
	base_fd = unit_tmpdir(base);
	unit_mkdir(base_fd, "t", 0755);
	put_file("t/a", 1);
	put_file("t/b", 2);
	unit_mkdir(base_fd, "t/d", 0755);
	put_file("t/d/c", 3);
	put_file("t/d/e", 1);   /* same as t/a: a match across jobs */
	put_file("t/f", 4);

	test_workers(LAYER_ZSTD, -1);
	test_workers(LAYER_ZSTD, CLAMP);
	test_workers(LAYER_GZIP, -1);
	test_workers(LAYER_GZIP, CLAMP);
	test_reads_back();
	test_gzip_reads_back();
	test_gzip_tiny();
	test_levels();
	test_write_error();

	cmd = cn_xasprintf("rm -rf -- '%s'", base);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", base);
	return UNIT_DONE();
}
