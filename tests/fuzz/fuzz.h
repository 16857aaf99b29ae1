/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c, `make fuzz`):
 * the entry point's prototype, input as a C string, a scratch directory. */
#ifndef FUZZ_H
#define FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fs.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* DATA as a NUL-terminated heap string (an inner NUL ends it early, as it
 * would for a C caller). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	return cn_xstrndup((const char *)data, size);
}

/* The next NUL-separated part of *DATA (bytes up to a NUL or the end), as a
 * heap string; *DATA and *SIZE move past it and its NUL. */
static inline char *fuzz_part(const uint8_t **data, size_t *size)
{
	const uint8_t *nul = memchr(*data, 0, *size);
	size_t n = nul ? (size_t)(nul - *data) : *size;
	char *s = cn_xstrndup((const char *)*data, n);
	*data += n + (nul ? 1 : 0);
	*size -= n + (nul ? 1 : 0);
	return s;
}

/* With FUZZ_DEBUG set, say how a call ended (to see which paths a seed
 * reaches); silent otherwise. R: the call's return value. */
static inline void fuzz_debug(const char *what, int r, const cn_err *err)
{
	if (getenv("FUZZ_DEBUG"))
		fprintf(stderr, "%s: %d%s%s\n", what, r, r < 0 ? ": " : "", r < 0 ? err->msg : "");
}

/* A private directory for the whole run, removed at exit: under
 * $FUZZ_TMPDIR, else /dev/shm (no disk writes), else /tmp. */
static char fuzz_tmp_path[256];

static inline void fuzz_tmp_remove(void)
{
	cn_err err;
	if (fuzz_tmp_path[0])
		(void)cn_rm_rf_at(AT_FDCWD, fuzz_tmp_path, &err);
}

static inline const char *fuzz_tmpdir(void)
{
	const char *base = getenv("FUZZ_TMPDIR");
	if (fuzz_tmp_path[0])
		return fuzz_tmp_path;
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fuzz_tmp_path, sizeof(fuzz_tmp_path), "%s/cairn-fuzz-XXXXXX", base);
	if (!mkdtemp(fuzz_tmp_path)) {
		perror(fuzz_tmp_path);
		abort();
	}
	atexit(fuzz_tmp_remove);
	return fuzz_tmp_path;
}

/* The private temp dir, opened as a directory (aborts on failure). */
static inline int fuzz_tmpdir_fd(void)
{
	int fd = open(fuzz_tmpdir(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		abort();
	return fd;
}

#endif
