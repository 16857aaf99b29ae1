/* The image summary, cache/images: what a listing derives from each
 * manifest (the config digest, created, the layers' diff_ids) and each
 * snapshot's content size, so that `images` need not read and parse every
 * manifest and config or walk every snapshot each time.
 *
 * Every fact is keyed by a digest whose content never changes (a manifest,
 * a snapshot of a diff_id), so no entry is ever stale and nothing
 * invalidates one; callers still check that the blobs and snapshots are
 * there and unchanged (each blob's size, inode and mtime). The file is a cache and never needed: missing, damaged (its
 * sha256 trailer), foreign (another version or host platform) or over
 * its caps, it is ignored and rebuilt. It is outside input: parsed
 * strictly (tests/fuzz/fuzz_imgsum.c). */
#ifndef STORE_IMGSUM_H
#define STORE_IMGSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/digest.h"
#include "util/err.h"

#define STORE_IMGSUM_FILE "images"
#define STORE_IMGSUM_MAX_BYTES ((size_t)64 << 20)
#define STORE_IMGSUM_MAX_LAYERS 500             /* STORE_MAX_LAYERS */

struct store_imgsum_image {
	char manifest[CN_DIGEST_STR_SIZE];      /* the image manifest (an index's host child) */
	char id[CN_DIGEST_STR_SIZE];            /* its config digest */
	long long created;                      /* unix seconds, 0 unknown */
	size_t nlayers;
	char (*diff_ids)[CN_DIGEST_STR_SIZE];
};

/* What a blob's file was when it was summarised: a blob damaged or
 * replaced in place since then differs in one of these. */
struct store_imgsum_stat {
	uint64_t size, ino, mtime_ns;
};

struct store_imgsum;

/* The summary in DIRFD/NAME for host PLATFORM ("os/arch[/variant]"): never
 * fails; an unusable file gives an empty summary. */
struct store_imgsum *store_imgsum_load(int dirfd, const char *name, const char *platform);
/* What KEY (a manifest digest as listed) was found to be, or NULL. */
const struct store_imgsum_image *store_imgsum_get(const struct store_imgsum *s, const char *key);
/* Remember IMG for KEY (copied). */
void store_imgsum_put(struct store_imgsum *s, const char *key, const struct store_imgsum_image *img);
/* The content size of snapshot DIFF_ID: true when known. */
bool store_imgsum_size(const struct store_imgsum *s, const char *diff_id, uint64_t *bytes);
void store_imgsum_put_size(struct store_imgsum *s, const char *diff_id, uint64_t bytes);
/* The recorded stat of blob DIGEST: true when known. */
bool store_imgsum_blob(const struct store_imgsum *s, const char *digest, struct store_imgsum_stat *st);
/* Record (or replace) blob DIGEST's stat. */
void store_imgsum_put_blob(struct store_imgsum *s, const char *digest, const struct store_imgsum_stat *st);
/* Number of images, blob stats and sizes it holds. */
size_t store_imgsum_count(const struct store_imgsum *s);
/* KEEP decides, per blob (IS_BLOB: a manifest key or a blob stat) or
 * diff_id, what a save keeps. */
typedef bool (*store_imgsum_keep_fn)(const char *digest, bool is_blob, void *ctx);
/* Write the summary to DIRFD/NAME (temp ".NAME.tmp-PID", then rename; no
 * fsync: a torn file fails its checksum) when something was put since the
 * load; entries KEEP (may be NULL) refuses are left out. */
int store_imgsum_save(struct store_imgsum *s, int dirfd, const char *name, store_imgsum_keep_fn keep,
		      void *ctx, cn_err *err);
/* Make the next save write the file even when nothing was put (to drop
 * what KEEP refuses). */
void store_imgsum_touch(struct store_imgsum *s);
void store_imgsum_free(struct store_imgsum *s);

#endif
