/* Minimal unit-test harness: each check prints a TAP-style line that
 * tests/run.sh counts ("ok - ...", "not ok - ...", "ok - ... # SKIP ..."). */
#ifndef CN_UNIT_H
#define CN_UNIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* (unit.c includes this header for the fixtures only.) */
static int unit_failures __attribute__((unused));

#define UNIT_CHECK(cond, ...) do {                                        \
	if (cond) {                                                       \
		printf("ok - ");                                          \
	} else {                                                          \
		printf("not ok - %s:%d: ", __FILE__, __LINE__);           \
		unit_failures++;                                          \
	}                                                                 \
	printf(__VA_ARGS__);                                              \
	printf("\n");                                                     \
	fflush(stdout);                                                   \
} while (0)

#define UNIT_STREQ(got, want, ...) do {                                   \
	const char *unit_g_ = (got), *unit_w_ = (want);                   \
	int unit_ok_ = unit_g_ && unit_w_ && strcmp(unit_g_, unit_w_) == 0; \
	UNIT_CHECK(unit_ok_, __VA_ARGS__);                                \
	if (!unit_ok_)                                                    \
		printf("#   got:  %s\n#   want: %s\n", unit_g_ ? unit_g_ : "(null)", \
		       unit_w_ ? unit_w_ : "(null)");                     \
} while (0)

#define UNIT_SKIP(reason, ...) do {                                       \
	printf("ok - ");                                                  \
	printf(__VA_ARGS__);                                              \
	printf(" # SKIP %s\n", reason);                                   \
} while (0)

#define UNIT_DONE() (unit_failures ? 1 : 0)

/* ---- fixtures (unit.c, linked into every unit test) ----
 * A fixture that cannot be set up is no test result: these print
 * "# fixture: ..." and exit 2, which tests/run.sh reports as a failure. */
__attribute__((noreturn)) void unit_fixture_fail(const char *what);
/* A fresh directory from TMPL ("/tmp/cairn-NAME-XXXXXX", modified in place)
 * and an O_DIRECTORY fd on it. */
int unit_tmpdir(char *tmpl);
/* Remove a tree made by unit_tmpdir (or any path), ignoring errors. */
void unit_rmtree(const char *path);
/* DIRFD/PATH: a file holding DATA, a directory, a symlink; each exactly
 * MODE (fchmod after creation, so the umask does not interfere); an
 * existing entry's mode changed (unit_chmod, following symlinks). */
void unit_put(int dirfd, const char *path, const char *data, mode_t mode);
void unit_put_bytes(int dirfd, const char *path, const void *data, size_t len, mode_t mode);
void unit_mkdir(int dirfd, const char *path, mode_t mode);
void unit_chmod(int dirfd, const char *path, mode_t mode);
void unit_symlink(int dirfd, const char *target, const char *path);
/* A unix socket file at PATH (bound, then closed): 0, or -1 with errno
 * when the host refuses (the caller skips or calls unit_fixture_fail). */
int unit_socket(const char *path);
/* DIRFD/PATH removed if present, made again empty with MODE, and an
 * O_DIRECTORY fd on it (a fresh image root for each case). */
int unit_fresh_dir(int dirfd, const char *path, mode_t mode);
/* DIRFD/TOP/d/d/... with LEVELS directories "d" below TOP (all 0755), made
 * one level at a time through fds (the path grows past PATH_MAX); an fd on
 * the innermost one. */
int unit_deep_dirs(int dirfd, const char *top, int levels);
/* DIRFD/PATH's access and modification times, not following a final
 * symlink. */
void unit_mtime(int dirfd, const char *path, int64_t sec, long nsec);
/* An extended attribute on PATH itself (lsetxattr: symlinks too). */
void unit_setxattr(const char *path, const char *name, const void *val, size_t len);
/* Contents of a regular file of at most 4 KiB, not following a final
 * symlink, in a static buffer (valid until the next call); NULL if absent. */
char *unit_slurp(int dirfd, const char *path);
/* Entries of the directory DIRFD/PATH ("." and ".." not counted), or
 * (size_t)-1 when it cannot be read. */
size_t unit_count_entries(int dirfd, const char *path);
/* lstat succeeds. */
bool unit_exists(int dirfd, const char *path);
/* The conformance corpora: $CONFORMANCE, else ../shared/conformance. */
const char *unit_corpus_dir(void);

#endif
