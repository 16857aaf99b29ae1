/* The layer extractor (layers/extract*.c) on arbitrary blobs. The first
 * byte's bit 0 picks the form: set, the snapshot form (overlay whiteouts,
 * an empty target); clear, the ADD form into a directory that already
 * holds files, a symlink and directories, so that whiteouts and opaque
 * markers have something to remove. Bit 1: fix the checksum of every
 * 512-byte block that has the ustar magic, so that mutated headers get
 * past the checksum and reach the extractor. Bit 2: ADD's bzip2 and xz.
 * Bit 3: read as a download does (layer_reader.hashed: no blob digest).
 * The rest is the blob (tar, gzip or zstd). Each run
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
	root_fd = fuzz_tmpdir_fd();
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

static void fix_checksums(uint8_t *p, size_t n)
{
	for (size_t off = 0; off + 512 <= n; off += 512) {
		uint8_t *h = p + off;
		unsigned sum = 0;
		if (memcmp(h + 257, "ustar", 5) != 0)
			continue;
		memset(h + 148, ' ', 8);
		for (size_t i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
		h[155] = ' ';
	}
}

/* The download's reader (pull): the caller hashes the blob, so the
 * unpacker computes the diff_id only. */
static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	return read(*(int *)ctx, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct layer_extract_opts opts = { .max_bytes = 8u << 20, .max_entries = 4096 };
	struct layer_extract_result res;
	cn_err err;
	int in, target;
	uint8_t *blob;

	if (size < 1)
		return 0;
	opts.overlay_whiteouts = data[0] & 1;
	opts.bzip2_xz = !opts.overlay_whiteouts && (data[0] & 4);
	blob = cn_xmalloc(size);
	memcpy(blob, data + 1, size - 1);
	if (data[0] & 2)
		fix_checksums(blob, size - 1);
	in = memfd_create("blob", MFD_CLOEXEC);
	if (in < 0 || cn_write_all(in, blob, size - 1) < 0 || lseek(in, 0, SEEK_SET) != 0)
		abort();
	free(blob);
	if (mkdirat(root_fd, "t", 0755) < 0)
		abort();
	target = openat(root_fd, "t", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (target < 0)
		abort();
	if (!opts.overlay_whiteouts)
		populate(target);
	if (data[0] & 8) {
		struct layer_reader rd = { .read = fd_read, .ctx = &in, .hashed = true };
		fuzz_debug("layer_extract_from", layer_extract_from(&rd, target, &opts, &res, &err), &err);
	} else {
		fuzz_debug("layer_extract", layer_extract(in, target, &opts, &res, &err), &err);
	}
	close(target);
	close(in);
	if (cn_rm_rf_at(root_fd, "t", &err) < 0)
		abort();
	return 0;
}
