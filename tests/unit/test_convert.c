/* Layer conversion (layers/convert.c): every pair of compressions keeps
 * the tar (diff_id) and gives the blob the writer would have written; a
 * damaged blob fails instead of being converted. */
#include "layers/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "unit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cn_err err;
static const enum layer_compression all[] = { LAYER_ZSTD, LAYER_GZIP, LAYER_NONE };

static int tmpfile_in(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

int main(void)
{
	char base[] = "/tmp/cairn-unit-convert.XXXXXX";
	int dir = unit_tmpdir(base), tree;
	struct layer_info made[3];
	char big[100000];
	UNIT_CHECK(mkdirat(dir, "tree", 0755) == 0, "mkdir tree");
	tree = openat(dir, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 % 251);
	UNIT_CHECK(cn_write_file_atomic(tree, "big", big, sizeof(big), 0644, &err) == 0, "write big");
	UNIT_CHECK(cn_write_file_atomic(tree, "small", "x\n", 2, 0600, &err) == 0, "write small");
	/* The writer's blob in each compression. */
	for (size_t i = 0; i < 3; i++) {
		char name[16];
		struct layer_write_opts o = { .compression = all[i], .clamp_mtime = -1 };
		_cleanup_close_ int fd = -1;
		snprintf(name, sizeof(name), "w%zu", i);
		fd = tmpfile_in(dir, name);
		UNIT_CHECK(layer_write_dir(tree, fd, &o, &made[i], &err) == 0, "write as %s: %s",
			   layer_compression_name(all[i]), err.msg);
	}
	/* Each converted to each: the same tar, the writer's blob. */
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 3; j++) {
			char in_name[16];
			struct layer_convert_result res;
			_cleanup_close_ int in = -1, out = -1;
			snprintf(in_name, sizeof(in_name), "w%zu", i);
			in = openat(dir, in_name, O_RDONLY | O_CLOEXEC);
			out = tmpfile_in(dir, "out");
			UNIT_CHECK(layer_convert(in, out, all[j], 0, &res, &err) == 0 &&
				   !strcmp(res.in_digest, made[i].digest) && !strcmp(res.in_diff_id, made[i].diff_id) &&
				   !strcmp(res.out.diff_id, made[j].diff_id) && !strcmp(res.out.digest, made[j].digest) &&
				   res.out.size == made[j].size,
				   "%s -> %s: same tar, the writer's blob (%s)", layer_compression_name(all[i]),
				   layer_compression_name(all[j]), err.msg);
		}
	/* A damaged gzip blob (a byte in the middle changed) fails. */
	{
		_cleanup_close_ int in = openat(dir, "w1", O_RDWR | O_CLOEXEC), out = tmpfile_in(dir, "out");
		struct layer_convert_result res;
		struct stat sb;
		char c;
		fstat(in, &sb);
		UNIT_CHECK(pread(in, &c, 1, sb.st_size / 2) == 1, "read");
		c ^= 0x55;
		UNIT_CHECK(pwrite(in, &c, 1, sb.st_size / 2) == 1, "write");
		lseek(in, 0, SEEK_SET);
		UNIT_CHECK(layer_convert(in, out, LAYER_ZSTD, 0, &res, &err) < 0 ||
			   strcmp(res.in_digest, made[1].digest) != 0,
			   "a damaged blob is refused or shows another digest");
	}
	close(tree);
	close(dir);
	unit_rmtree(base);
	return UNIT_DONE();
}
