/* Cache-mount directories (RUN --mount=type=cache): mounts/<hex> in the
 * store, one per key, kept across builds. They are a store area of their
 * own so that df counts them, prune removes them (as docker's builder prune
 * removes cache mounts) and fsck knows them. */
#ifndef STORE_MOUNTS_H
#define STORE_MOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The directory of the cache mount KEY: <root>/mounts/<sha256(KEY) hex>
 * (heap string in *PATH), so that a key can never name a path
 * (CVE-2024-9675). mounts/ is created; the directory itself is not. */
int store_cache_mount_path(struct store *st, const char *key, char **path, cn_err *err);

/* Number of cache mounts and their disk space. */
int store_cache_mounts_du(struct store *st, size_t *count, uint64_t *bytes, cn_err *err);

/* Remove every cache mount; the caller holds the gc lock exclusively (no
 * build runs) and the store lock. Each goes in one rename into a locked
 * temp dir, so none is seen half-deleted. *FAILURES counts those that could
 * not be removed. */
int store_cache_mounts_remove(struct store *st, size_t *count, uint64_t *bytes, size_t *failures,
			      cn_err *err);

#endif
