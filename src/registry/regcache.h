/* One registry repository as a build-cache store (registry/cache.c): the
 * cache manifest under a tag, its document blob, and layer blobs moved
 * between the repository and the local store as push and pull move them
 * (HEAD before upload, cross-repository mounts, parallel transfers,
 * digests verified while streaming).
 *
 * The calls may come from several threads at once (each takes a connection
 * of its own). Buffers passed in are initialised cn_bufs; they are emptied
 * and bounded (get_manifest: 4 MiB, get_blob: MAX). O is copied;
 * its progress context must outlive the cache. */
#ifndef REG_CACHE_H
#define REG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"
#include "store/image.h"
#include "util/buf.h"

struct reg_cache;

/* Connect to REF's registry for REF's repository (PUSH: pull,push scope).
 * REF names a tag (or a digest, for reading only). */
int reg_cache_open(const char *ref, const struct reg_opts *o, bool push, struct reg_cache **out, cn_err *err);
void reg_cache_close(struct reg_cache *rc);

/* The manifest REF names, verified against REF's digest when it has one:
 * 1 with BODY and DIGEST, 0 when the registry has none (404: no such tag
 * or repository), -1 on any other failure. */
int reg_cache_get_manifest(struct reg_cache *rc, cn_buf *body, char digest[CN_DIGEST_STR_SIZE], cn_err *err);
/* A small blob into OUT (at most MAX bytes), verified. */
int reg_cache_get_blob(struct reg_cache *rc, const char *digest, size_t max, cn_buf *out, cn_err *err);
/* LAYER's blob into the store (streamed, digest and size verified). With
 * UNPACKED, the layer is also unpacked while it downloads, as pull does
 * (transfer/import.h, xfer_stream): *UNPACKED true when it was, its
 * snapshot published and its diff_id verified; false when the store had
 * the blob already or it could not be streamed (the caller unpacks it).
 * NULL: not unpacked. */
int reg_cache_fetch_layer(struct reg_cache *rc, struct store *st, const struct store_layer *layer, bool *unpacked,
			  cn_err *err);
/* 1 the repository has the blob, 0 not, -1 error. */
int reg_cache_has_blob(struct reg_cache *rc, const char *digest, cn_err *err);
/* LAYERS' blobs from the store to the repository: each one the registry
 * lacks is mounted from another repository the store knows, else sent. */
int reg_cache_push_layers(struct reg_cache *rc, struct store *st, const struct store_layer *layers, size_t n,
			  cn_err *err);
/* DATA as a blob named DIGEST (skipped when there). */
int reg_cache_put_blob(struct reg_cache *rc, const void *data, size_t len, const char *digest, cn_err *err);
/* DATA (an OCI image manifest) under REF's tag. */
int reg_cache_put_manifest(struct reg_cache *rc, const void *data, size_t len, cn_err *err);
/* Bytes of blobs and manifests received and sent so far. */
uint64_t reg_cache_bytes_in(const struct reg_cache *rc);
uint64_t reg_cache_bytes_out(const struct reg_cache *rc);

#endif
