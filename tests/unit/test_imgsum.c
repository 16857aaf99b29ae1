/* The image summary (store/imgsum.h): what is put loads back; a damaged,
 * truncated, foreign or unknown-version file is an empty summary, never a
 * wrong fact; a save keeps only what KEEP accepts; nothing is written
 * when nothing was learned. */
#include "store/imgsum.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-imgsum-XXXXXX";
static int dir_fd = -1;

static void digest_of(char out[CN_DIGEST_STR_SIZE], char c)
{
	memcpy(out, "sha256:", 7);
	memset(out + 7, c, CN_DIGEST_HEX_LEN);
	out[CN_DIGEST_STR_SIZE - 1] = '\0';
}

/* Two images (one without layers) and a size, saved. */
static void write_good(void)
{
	struct store_imgsum *s = store_imgsum_load(dir_fd, "images", "linux/amd64");
	char key[CN_DIGEST_STR_SIZE], diff[2][CN_DIGEST_STR_SIZE];
	struct store_imgsum_image img = { .created = 1700000000, .nlayers = 2, .diff_ids = diff };
	cn_err err;
	digest_of(img.manifest, '1');
	digest_of(img.id, '2');
	digest_of(diff[0], '3');
	digest_of(diff[1], '4');
	digest_of(key, 'a');
	store_imgsum_put(s, key, &img);
	img.nlayers = 0;
	img.created = 0;
	digest_of(key, 'b');
	store_imgsum_put(s, key, &img);
	store_imgsum_put_size(s, diff[0], 4096);
	UNIT_CHECK(store_imgsum_save(s, dir_fd, "images", NULL, NULL, &err) == 0, "a summary is saved");
	store_imgsum_free(s);
}

static void test_roundtrip(void)
{
	struct store_imgsum *s;
	const struct store_imgsum_image *got;
	char key[CN_DIGEST_STR_SIZE], want[CN_DIGEST_STR_SIZE];
	uint64_t bytes = 0;
	write_good();
	s = store_imgsum_load(dir_fd, "images", "linux/amd64");
	digest_of(key, 'a');
	got = store_imgsum_get(s, key);
	digest_of(want, '4');
	UNIT_CHECK(got && got->nlayers == 2 && got->created == 1700000000 && !strcmp(got->diff_ids[1], want),
		   "an image's facts load back");
	digest_of(key, 'b');
	got = store_imgsum_get(s, key);
	UNIT_CHECK(got && got->nlayers == 0 && got->created == 0, "an image without layers loads back");
	digest_of(key, '3');
	UNIT_CHECK(store_imgsum_size(s, key, &bytes) && bytes == 4096, "a snapshot's size loads back");
	digest_of(key, 'c');
	UNIT_CHECK(!store_imgsum_get(s, key) && !store_imgsum_size(s, key, &bytes), "an unknown digest is a miss");
	store_imgsum_free(s);
	s = store_imgsum_load(dir_fd, "images", "linux/arm64");
	UNIT_CHECK(store_imgsum_count(s) == 0, "another host platform's summary is ignored");
	store_imgsum_free(s);
}

static size_t count_after(const char *text, size_t len)
{
	struct store_imgsum *s;
	size_t n;
	unit_put_bytes(dir_fd, "images", text, len, 0644);
	s = store_imgsum_load(dir_fd, "images", "linux/amd64");
	n = store_imgsum_count(s);
	store_imgsum_free(s);
	return n;
}

static void test_damaged(void)
{
	_cleanup_buf_ cn_buf good;
	cn_err err;
	char *copy;
	bool missed = true;
	write_good();
	cn_buf_init(&good, 0);
	if (cn_read_file_at(dir_fd, "images", 1 << 20, &good, &err) < 0)
		unit_fixture_fail("read images");
	copy = cn_xmalloc(good.len + 1);
	UNIT_CHECK(count_after(good.data, good.len) == 3, "the saved file holds 3 entries");
	for (size_t i = 0; i < good.len && missed; i++) {
		memcpy(copy, good.data, good.len);
		copy[i] ^= 0x01;
		missed = count_after(copy, good.len) == 0;
	}
	UNIT_CHECK(missed, "a flipped bit anywhere makes the whole file a miss");
	UNIT_CHECK(count_after(good.data, good.len - 1) == 0, "a torn file is a miss");
	UNIT_CHECK(count_after(good.data, 40) == 0, "a file cut short is a miss");
	memcpy(copy, good.data, good.len);
	copy[13] = '3';         /* "cairn-images 3": another version */
	UNIT_CHECK(count_after(copy, good.len) == 0, "another version is a miss");
	UNIT_CHECK(count_after("", 0) == 0, "an empty file is a miss");
	free(copy);
}

static bool keep_a(const char *digest, bool is_image, void *ctx)
{
	(void)ctx;
	return !is_image || digest[7] == 'a';
}

static void test_keep_and_clean(void)
{
	struct store_imgsum *s;
	struct stat before, after;
	char key[CN_DIGEST_STR_SIZE], diff[CN_DIGEST_STR_SIZE];
	cn_err err;
	write_good();
	s = store_imgsum_load(dir_fd, "images", "linux/amd64");
	if (fstatat(dir_fd, "images", &before, 0) < 0)
		unit_fixture_fail("stat");
	UNIT_CHECK(store_imgsum_save(s, dir_fd, "images", NULL, NULL, &err) == 0 &&
		   fstatat(dir_fd, "images", &after, 0) == 0 && after.st_ino == before.st_ino,
		   "nothing learned: the file is not rewritten");
	digest_of(diff, '5');
	store_imgsum_put_size(s, diff, 1);
	UNIT_CHECK(store_imgsum_save(s, dir_fd, "images", keep_a, NULL, &err) == 0, "a save with KEEP");
	store_imgsum_free(s);
	s = store_imgsum_load(dir_fd, "images", "linux/amd64");
	digest_of(key, 'b');
	UNIT_CHECK(store_imgsum_count(s) == 3 && !store_imgsum_get(s, key), "what KEEP refused is gone");
	store_imgsum_free(s);
}

int main(void)
{
	dir_fd = unit_tmpdir(base);
	test_roundtrip();
	test_damaged();
	test_keep_and_clean();
	close(dir_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	return UNIT_DONE();
}
