/* The image summary (src/store/imgsum.c), which lives in the store and may
 * be damaged or crafted: the input with a correct "end SHA256" trailer
 * appended (as a file saved by a careless or hostile writer would have; a
 * mutated trailer would only ever test the checksum) as the file, loaded,
 * looked up, added to and saved. Whatever the input, what a save writes loads back with every
 * entry it holds, and the facts read back are the facts put. */
#include "fuzz.h"

#include "store/imgsum.h"

static int dir_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir_fd = fuzz_tmpdir_fd();
	return 0;
}

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { D("0"), D("1"), D("a"), D("f") };
	char diff[2][CN_DIGEST_STR_SIZE] = { D("b"), D("c") };
	struct store_imgsum_image put = { .manifest = D("d"), .id = D("e"), .created = 1700000000,
					  .nlayers = 2, .diff_ids = diff };
	struct store_imgsum *s;
	const struct store_imgsum_image *got;
	uint64_t bytes;
	size_t count;
	struct store_imgsum_stat st = { 4096, 77, 1765000000123456789ULL }, st_got;
	char sum[CN_DIGEST_STR_SIZE], trailer[4 + CN_DIGEST_HEX_LEN + 2];
	cn_err err;
	int fd = openat(dir_fd, "images", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cn_sha256_oneshot(data, size, sum);
	snprintf(trailer, sizeof(trailer), "end %s\n", cn_digest_hex(sum));
	if (fd < 0 || cn_write_all(fd, data, size) < 0 || cn_write_all(fd, trailer, strlen(trailer)) < 0)
		abort();
	close(fd);
	s = store_imgsum_load(dir_fd, "images", "linux/amd64");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		got = store_imgsum_get(s, keys[i]);
		if (got && (!cn_digest_valid(got->manifest) || !cn_digest_valid(got->id) ||
			    got->nlayers > STORE_IMGSUM_MAX_LAYERS))
			abort();
		(void)store_imgsum_size(s, keys[i], &bytes);
		(void)store_imgsum_blob(s, keys[i], &st_got);
	}
	store_imgsum_put(s, D("9"), &put);
	store_imgsum_put_size(s, D("8"), 12345);
	store_imgsum_put_blob(s, D("7"), &st);
	if (store_imgsum_save(s, dir_fd, "images", NULL, NULL, &err) < 0) {
		store_imgsum_free(s);
		return 0;       /* only over the size cap */
	}
	count = store_imgsum_count(s);
	store_imgsum_free(s);
	s = store_imgsum_load(dir_fd, "images", "linux/amd64");
	got = store_imgsum_get(s, D("9"));
	if (store_imgsum_count(s) != count || !got || strcmp(got->id, put.id) != 0 || got->nlayers != 2 ||
	    strcmp(got->diff_ids[1], diff[1]) != 0 || got->created != put.created ||
	    !store_imgsum_size(s, D("8"), &bytes) || bytes != 12345 || !store_imgsum_blob(s, D("7"), &st_got) ||
	    memcmp(&st, &st_got, sizeof(st)) != 0)
		abort();
	store_imgsum_free(s);
	return 0;
}
