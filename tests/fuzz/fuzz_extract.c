/* The layer extractor (layers/extract*.c) on arbitrary blobs. The first
 * byte picks the form: odd, the snapshot form (overlay whiteouts, an empty
 * target); even, the ADD form into a directory that already holds files,
 * a symlink and directories, so that whiteouts and opaque markers have
 * something to remove. The rest is the blob (tar, gzip or zstd). Each run
 * gets a fresh target inside the harness's private temp directory, removed
 * afterwards; the extractor is what keeps entries inside it. */
#include "fuzz.h"

#include "layers/layer.h"

#include <sys/mman.h>
#include <sys/stat.h>

static int root_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	root_fd = open(fuzz_tmpdir(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (root_fd < 0)
		abort();
	return 0;
}

static void put(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || cn_write_all(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
}

/* a/ a/f a/g a/sub/h b c -> a  d/e/ */
static void populate(int fd)
{
	if (mkdirat(fd, "a", 0755) < 0 || mkdirat(fd, "a/sub", 0755) < 0 || mkdirat(fd, "d", 0755) < 0 ||
	    mkdirat(fd, "d/e", 0700) < 0 || symlinkat("a", fd, "c") < 0)
		abort();
	put(fd, "a/f", "f\n");
	put(fd, "a/g", "g\n");
	put(fd, "a/sub/h", "h\n");
	put(fd, "b", "b\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct layer_extract_opts opts = { .max_bytes = 8u << 20, .max_entries = 4096 };
	struct layer_extract_result res;
	cn_err err;
	int in, target;

	if (size < 1)
		return 0;
	opts.overlay_whiteouts = data[0] & 1;
	in = memfd_create("blob", MFD_CLOEXEC);
	if (in < 0 || cn_write_all(in, data + 1, size - 1) < 0 || lseek(in, 0, SEEK_SET) != 0)
		abort();
	if (mkdirat(root_fd, "t", 0755) < 0)
		abort();
	target = openat(root_fd, "t", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (target < 0)
		abort();
	if (!opts.overlay_whiteouts)
		populate(target);
	fuzz_debug("layer_extract", layer_extract(in, target, &opts, &res, &err), &err);
	close(target);
	close(in);
	if (cn_rm_rf_at(root_fd, "t", &err) < 0)
		abort();
	return 0;
}
