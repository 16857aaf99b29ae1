/* A persistent stat cache, as git's index keeps one: (path, size, mtime,
 * ctime, inode, device) -> sha256 of the content, so that the digest of an
 * unchanged file is known without reading it again.
 *
 * An entry is used only when all five stat fields match. A file whose mtime
 * or ctime lies within BF_STATCACHE_RACY_NS of the current time (either
 * side) is hashed
 * but not recorded (git's "racy" rule: a modification in the same clock tick
 * would leave every field unchanged), nor is one that changed while it was
 * read. The file on disk is only a cache: a missing, truncated or corrupt
 * one loads as an empty cache (a damaged block inside: its entries are not
 * used). Savers take turns (an flock of NAME's
 * directory), each merging what the file holds by then, so that concurrent
 * builds and a build's parallel stage workers add up.
 *
 * Memory stays bounded whatever the number of files: the file is sorted
 * and read a block at a time, and what a session records is held in a
 * table of at most BF_STATCACHE_MAX_TABLE entries, written to a sorted run
 * (an unnamed file next to NAME) whenever it fills up. Writes stay bounded:
 * the save merges the runs once, and a save that adds little to a big
 * cache writes NAME.recent (a small level over NAME), not all of NAME. */
#ifndef BF_STATCACHE_H
#define BF_STATCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/digest.h"
#include "util/err.h"

/* At most this many entries (the most recently used, by the hour of their
 * last use) are written. */
#define BF_STATCACHE_MAX_SAVED 2000000
/* Bounds on what is read back (a larger file is treated as corrupt). */
#define BF_STATCACHE_MAX_ENTRIES 4000000
#define BF_STATCACHE_MAX_FILE ((size_t)1 << 30)
/* What a session holds in memory before it saves (entries, key bytes);
 * a cache never loaded nor saved (no file to save to) stops recording
 * there. */
#define BF_STATCACHE_MAX_TABLE 131072
#define BF_STATCACHE_MAX_TABLE_KEYS ((size_t)8 << 20)
/* Longest key recorded; longer keys are hashed every time. */
#define BF_STATCACHE_MAX_KEY 65535
#define BF_STATCACHE_RACY_NS 2000000000LL

struct bf_statcache;

/* An empty cache not tied to any file. */
struct bf_statcache *bf_statcache_new(void);

/* Load the cache from NAME and NAME.recent under DIRFD (next to which it
 * writes runs when its table fills up). A missing file, or one that is not a
 * regular file, too big, truncated or corrupt, gives an empty cache (which a
 * later save replaces; of directories only empty ones, a directory left at
 * NAME.recent is not read and stops saves writing a recent level). Only an
 * error reading NAME (EIO, EACCES, ...) fails; NAME.recent that cannot be
 * opened is an empty level (replaced by the save). */
int bf_statcache_load(int dirfd, const char *name, struct bf_statcache **out, cn_err *err);

/* Digest ("sha256:<hex>") of the content of FD, an open regular file, known
 * in SC (not NULL) as KEY_PATH (an absolute path). The cached digest is returned
 * without reading when size, mtime, ctime, inode and device all match;
 * otherwise the file is read from offset 0 in 64 KiB chunks (the fd's offset
 * is not used) and the result recorded unless the file is racy. */
int bf_statcache_file_digest(struct bf_statcache *sc, int fd, const char *key_path,
			     char out[CN_DIGEST_STR_SIZE], cn_err *err);
/* The same with ST, the fstat of FD the caller already made. */
int bf_statcache_file_digest_st(struct bf_statcache *sc, int fd, const struct stat *st,
				const char *key_path, char out[CN_DIGEST_STR_SIZE], cn_err *err);

/* Write the cache to NAME under DIRFD if anything changed since the load
 * or the last save (temp file and rename; no fsync), under an flock of
 * NAME's directory, merged with the entries the files hold by then: SC's
 * view of a file wins. What is new goes to NAME.recent while it and that
 * level stay under an eighth of NAME (NAME of 4 MiB or more), else all
 * into a new NAME (NAME.recent removed). Keeps the BF_STATCACHE_MAX_SAVED most recently used
 * entries and at most BF_STATCACHE_MAX_FILE (1 GiB) bytes (less 1/64 of it
 * for room); whatever the file read claims, the writer stops at both.
 * SC goes on with the file written. */
int bf_statcache_save(struct bf_statcache *sc, int dirfd, const char *name, cn_err *err);

void bf_statcache_free(struct bf_statcache *sc);

/* For tests: save at most MAX entries instead of BF_STATCACHE_MAX_SAVED. */
void bf_statcache_set_max_saved(struct bf_statcache *sc, size_t max);

/* For tests: a table of at most ENTRIES entries (at most and by default
 * BF_STATCACHE_MAX_TABLE), and at most RUNS runs (at most and by default
 * 16) before a full table is merged into NAME. */
void bf_statcache_set_max_table(struct bf_statcache *sc, size_t entries);
void bf_statcache_set_max_runs(struct bf_statcache *sc, size_t runs);

/* For tests: use a recent level from a main file of BYTES on (default
 * 4 MiB). */
void bf_statcache_set_recent_min(struct bf_statcache *sc, uint64_t bytes);

/* For tests and statistics: bytes this cache wrote to its files (runs,
 * recent level, main file). */
uint64_t bf_statcache_bytes_written(const struct bf_statcache *sc);

/* For tests and statistics: content bytes hashed so far by this cache, and
 * the number of live entries (counted once per level: an estimate where a
 * recent level or run holds a key of the main file). */
uint64_t bf_statcache_bytes_hashed(const struct bf_statcache *sc);
size_t bf_statcache_count(const struct bf_statcache *sc);
/* For tests: blocks of the cache file lookups read (and checked). */
uint64_t bf_statcache_blocks_read(const struct bf_statcache *sc);

#endif
