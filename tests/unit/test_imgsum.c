/* The image summary (store/imgsum.h): what is put loads back; a damaged,
 * truncated, foreign or unknown-version file is an empty summary, never a
 * wrong fact; a save keeps only what KEEP accepts; nothing is written
 * when nothing was learned. */
#include "store/imgsum.h"
#include "util/buf.h"
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

/* BODY with a correct "end SHA256" trailer: how many entries load. */
static size_t count_signed(const char *body)
{
	char sum[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *text = NULL;
	cn_sha256_oneshot(body, strlen(body), sum);
	text = cn_xasprintf("%send %s\n", body, cn_digest_hex(sum));
	return count_after(text, strlen(text));
}

#define H(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c
#define HEAD "cairn-images 2 linux/amd64\n"
#define M_A "m " H("a") " " H("1") " " H("2") " "
#define S_3 "s " H("3") " "
#define B_2 "b " H("2") " "

/* An image line with N layers (all H("4")). */
static char *image_with(size_t n)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	if (cn_buf_addf(&b, HEAD M_A "1700000000 %zu", n) < 0)
		unit_fixture_fail("buf");
	for (size_t i = 0; i < n; i++)
		if (cn_buf_addf(&b, " %s", H("4")) < 0)
			unit_fixture_fail("buf");
	if (cn_buf_addc(&b, '\n') < 0 || cn_buf_addc(&b, '\0') < 0)
		unit_fixture_fail("buf");
	return b.data;
}

/* Files whose checksum is right but whose records are not: each is a miss
 * as a whole (the record parser, not only the checksum, guards the facts). */
static void test_bad_records(void)
{
	static const struct {
		const char *what, *body;
	} bad[] = {
		{ "a duplicate image line", HEAD M_A "0 0\n" M_A "0 0\n" },
		{ "a duplicate size line", HEAD S_3 "1\n" S_3 "2\n" },
		{ "a duplicate blob line", HEAD B_2 "1 2 3\n" B_2 "1 2 3\n" },
		{ "a created with a leading zero", HEAD M_A "01700000000 0\n" },
		{ "a layer count with a leading zero", HEAD M_A "0 01 " H("4") "\n" },
		{ "a size with a leading zero", HEAD S_3 "0099\n" },
		{ "a created of 19 digits", HEAD M_A "1000000000000000000 0\n" },
		{ "a size of 19 digits", HEAD S_3 "1000000000000000000\n" },
		{ "a blob mtime of 20 digits", HEAD B_2 "1 2 10000000000000000000\n" },
		{ "an upper-case hex key", HEAD "m " H("A") " " H("1") " " H("2") " 0 0\n" },
		{ "an upper-case hex diff_id", HEAD M_A "0 1 " H("B") "\n" },
		{ "an upper-case hex size digest", HEAD "s " H("C") " 1\n" },
		{ "fewer layers than counted", HEAD M_A "0 2 " H("4") "\n" },
		{ "more layers than counted", HEAD M_A "0 1 " H("4") " " H("5") "\n" },
		{ "layers with a count of 0", HEAD M_A "0 0 " H("4") "\n" },
		{ "a last record without its newline", HEAD S_3 "1" },
		{ "a header without its newline", "cairn-images 2 linux/amd64" },
		{ "CRLF line ends", "cairn-images 2 linux/amd64\r\n" S_3 "1\r\n" },
		{ "a CR before a size's newline", HEAD S_3 "1\r\n" },
		{ "an unknown record", HEAD "x " H("3") " 1\n" },
		{ "an empty line", HEAD "\n" S_3 "1\n" },
		{ "two spaces", HEAD "s  " H("3") " 1\n" },
		{ "a blob line short of a field", HEAD B_2 "1 2\n" },
	};
	_cleanup_free_ char *ok500 = image_with(STORE_IMGSUM_MAX_LAYERS);
	_cleanup_free_ char *bad501 = image_with(STORE_IMGSUM_MAX_LAYERS + 1);
	UNIT_CHECK(count_signed(HEAD M_A "0 1 " H("4") "\n" S_3 "1\n" B_2 "1 2 19999999999999999\n") == 3,
		   "a well-formed signed file loads (the cases below differ in one thing)");
	UNIT_CHECK(count_signed(HEAD) == 0 && count_signed(HEAD B_2 "9999999999999999999 0 0\n") == 1,
		   "a header alone and a 19-digit blob field load");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		UNIT_CHECK(count_signed(bad[i].body) == 0, "%s is a miss though its checksum is right", bad[i].what);
	UNIT_CHECK(count_signed(ok500) == 1, "an image of 500 layers loads");
	UNIT_CHECK(count_signed(bad501) == 0, "an image of 501 layers is a miss");
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
	test_bad_records();
	test_keep_and_clean();
	close(dir_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	return UNIT_DONE();
}
