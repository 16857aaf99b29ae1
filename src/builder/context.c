/* Contexts from a tar on stdin or at a URL, unpacked with the hostile-input
 * rules of ADD archives into a temp dir of the store. */
#include "builder/context.h"
#include "builder/fetch.h"
#include "layers/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool bf_context_is_git(const char *ctx)
{
	size_t n = strlen(ctx);
	return strncmp(ctx, "git@", 4) == 0 || strncmp(ctx, "git://", 6) == 0 ||
	       strncmp(ctx, "github.com/", 11) == 0 || strstr(ctx, "://github.com/") != NULL ||
	       (n > 4 && strcmp(ctx + n - 4, ".git") == 0) || strstr(ctx, ".git#") != NULL;
}

bool bf_context_is_url(const char *ctx)
{
	return bf_is_url(ctx);
}

/* The first bytes of a tar, plain or compressed as ADD reads them. */
static bool tar_head(const unsigned char *h, ssize_t n)
{
	return (n >= 3 && !memcmp(h, "BZh", 3)) || (n >= 6 && !memcmp(h, "\xfd" "7zXZ\0", 6)) ||
	       (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) || (n >= 4 && !memcmp(h, "\x28\xb5\x2f\xfd", 4)) ||
	       (n >= 262 && !memcmp(h + 257, "ustar", 5));
}

static int begin(struct store *st, struct bf_context *c, cn_err *err)
{
	memset(c, 0, sizeof(*c));
	c->td.fd = -1;
	if (store_tmpdir_create(st, "context", &c->td, err) < 0)
		return -1;
	if (mkdirat(c->td.fd, "ctx", 0755) < 0)
		return cn_err_sys(err, "mkdir '%s/ctx'", c->td.path);
	c->dir = cn_xasprintf("%s/ctx", c->td.path);
	return 0;
}

/* Unpack the tar IN into ctx/. */
static int unpack(struct bf_context *c, int in, const char *what, cn_err *err)
{
	struct layer_extract_opts xo = { .overlay_whiteouts = false, .bzip2_xz = true };
	_cleanup_close_ int dir = openat(c->td.fd, "ctx", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return cn_err_sys(err, "open '%s'", c->dir);
	if (layer_extract(in, dir, &xo, NULL, err) < 0)
		return cn_err_wrap(err, "build context from %s", what);
	return 0;
}

int bf_context_from_fd(struct store *st, int fd, struct bf_context *c, cn_err *err)
{
	unsigned char head[512];
	char buf[65536];
	size_t have = 0;
	ssize_t n;
	_cleanup_close_ int file = -1;
	if (begin(st, c, err) < 0)
		return -1;
	file = openat(c->td.fd, "stdin", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (file < 0)
		return cn_err_sys(err, "create '%s/stdin'", c->td.path);
	/* Streamed to a file: a pipe cannot be read twice (the head, the tar). */
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR && !cn_interrupted())
				continue;
			if (errno == EINTR)
				return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
			return cn_err_sys(err, "read the build context from stdin");
		}
		if (have + (uint64_t)n > BF_FETCH_MAX_BYTES)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "the build context on stdin is larger than %llu GiB",
					   (unsigned long long)(BF_FETCH_MAX_BYTES >> 30));
		if (have < sizeof(head)) {
			size_t k = (size_t)n < sizeof(head) - have ? (size_t)n : sizeof(head) - have;
			memcpy(head + have, buf, k);
		}
		have += (size_t)n;
		if (cn_write_all(file, buf, (size_t)n) < 0)
			return cn_err_sys(err, "write '%s/stdin'", c->td.path);
	}
	if (!tar_head(head, (ssize_t)(have < sizeof(head) ? have : sizeof(head)))) {
		/* docker's `build - <Dockerfile`: the text is the Buildfile. */
		cn_buf text;
		cn_buf_init(&text, 0);
		if (lseek(file, 0, SEEK_SET) < 0) {
			cn_buf_free(&text);
			return cn_err_sys(err, "seek '%s/stdin'", c->td.path);
		}
		if (cn_read_fd(file, "the Buildfile on stdin", 16u << 20, &text, err) < 0) {
			cn_buf_free(&text);
			return -1;
		}
		c->buildfile_len = text.len;
		c->buildfile_text = cn_buf_detach(&text);
		return 0;
	}
	if (lseek(file, 0, SEEK_SET) < 0)
		return cn_err_sys(err, "seek '%s/stdin'", c->td.path);
	return unpack(c, file, "stdin", err);
}

int bf_context_from_url(struct store *st, const char *url, struct bf_context *c, cn_err *err)
{
	struct bf_fetch_result res;
	_cleanup_close_ int file = -1;
	if (begin(st, c, err) < 0)
		return -1;
	if (bf_fetch(url, c->td.fd, "download", NULL, &res, err) < 0)
		return -1;
	file = openat(c->td.fd, "download", O_RDONLY | O_CLOEXEC);
	if (file < 0)
		return cn_err_sys(err, "open '%s/download'", c->td.path);
	unsigned char head[512];
	ssize_t n = pread(file, head, sizeof(head), 0);
	if (!tar_head(head, n))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "build context '%s': not a tar archive "
				  "(plain, gzip, zstd, bzip2 or xz)", url);
	return unpack(c, file, url, err);
}

int bf_read_stream(int fd, const char *name, size_t max, cn_buf *out, cn_err *err)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cn_err_sys(err, "read %s", name);
		if (out->len + (size_t)n > max)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "%s: more than %zu bytes", name, max);
		cn_buf_add(out, buf, (size_t)n);
	}
	return 0;
}

void bf_context_free(struct store *st, struct bf_context *c)
{
	if (c->td.name)
		store_tmpdir_remove(st, &c->td);
	free(c->dir);
	free(c->buildfile_text);
	memset(c, 0, sizeof(*c));
	c->td.fd = -1;
}
