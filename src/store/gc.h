/* Store maintenance: prune (mark and sweep), df (space accounting) and
 * fsck (verification and repair). */
#ifndef STORE_GC_H
#define STORE_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_prune_opts {
	bool all;               /* tag logs protect nothing (only current tags do) */
	long keep;              /* >= 0: the last KEEP values of each tag stay protected */
	long long older_than;   /* >= 0: log values older than this many seconds are not */
	/* More roots (manifest digests; the images of running containers),
	 * asked for under the gc lock; NULL: none */
	int (*roots)(struct store *st, cn_strv *digests, cn_err *err);
	/* Told about each image that cannot be read (one line; may be NULL).
	 * Prune goes on without it: what only it references is removed. */
	void (*report)(void *ctx, const char *problem);
	void *ctx;
};

struct store_prune_stats {
	size_t blobs, snapshots, cache_entries, log_entries;
	size_t cache_mounts;    /* RUN --mount=type=cache directories removed */
	size_t failures;        /* entries that could not be removed */
	size_t unreadable;      /* images that could not be read (reported, skipped) */
	uint64_t bytes;         /* blob bytes plus snapshot disk space freed */
};

/* Remove every blob, snapshot and cache entry that no tag, and no protected
 * tag-log value, reaches (through manifests, configs, layers and the chain of
 * step states). An image that cannot be read (an oversize or corrupt
 * manifest or config) does not stop it: it is reported, the blobs its
 * manifest names stay when the manifest reads, every snapshot stays (its
 * config names them), and the other blobs are swept. Waits for running builds (the gc lock) and holds the store lock. */
int store_prune(struct store *st, const struct store_prune_opts *o, struct store_prune_stats *out,
		cn_err *err);

struct store_usage {
	size_t count;
	uint64_t bytes;
};

struct store_df {
	struct store_usage images;      /* tags; bytes: blobs their images reach */
	struct store_usage shared;      /* layer blobs reached by more than one tag */
	struct store_usage snapshots;   /* unpacked layers, disk space */
	struct store_usage cache;       /* blobs no current tag reaches (earlier values, cache) */
	struct store_usage blobs;       /* all blobs */
	struct store_usage cache_mounts; /* RUN --mount=type=cache directories, disk space */
};

int store_df(struct store *st, struct store_df *out, cn_err *err);

/* Called once per problem found, with a one-line description. */
typedef void (*store_problem_fn)(void *ctx, const char *problem);

/* Re-hash every blob, check every tag's image (manifest, config, layers,
 * snapshots), the tag logs and the cache. With REPAIR, drop what is broken:
 * corrupt blobs, tags whose image is incomplete, dangling cache entries, and
 * the manifest of an image that cannot be read (so that prune frees what
 * only it used).
 * *problems counts what was found. */
int store_fsck(struct store *st, bool repair, store_problem_fn report, void *ctx,
	       size_t *problems, cn_err *err);

/* The diff_id (sha256 of the uncompressed tar) of the layer blob DIGEST
 * open at FD, streamed, after checking that its compression is the one
 * MEDIA_TYPE declares; 0, or -1 with ERR. The store does not decompress
 * layers (layers/ does), so the caller hands this in. */
typedef int (*store_diff_id_fn)(int fd, const char *media_type, const char *digest,
				char out[CN_DIGEST_STR_SIZE], cn_err *err);

/* store_fsck, and with DIFF_ID (not NULL) each layer blob of every tagged
 * image is also decompressed and hashed: its diff_id must be the one the
 * image's config names (a blob shared by several images is hashed once).
 * A mismatch makes the image incomplete, like a missing layer. */
int store_fsck_layers(struct store *st, bool repair, store_diff_id_fn diff_id, store_problem_fn report,
		      void *ctx, size_t *problems, cn_err *err);

#endif
