/* Images that come from outside the store (a registry, an archive): the
 * step from "blobs ingested into the store" to "an image that can be run
 * and built on". Layer blobs are hostile input: each is unpacked with
 * layers/extract.c into a private temp dir and published as a snapshot
 * only when its blob digest and diff_id are the ones the image names. */
#ifndef XFER_IMPORT_H
#define XFER_IMPORT_H

#include <stdbool.h>

#include "store/image.h"
#include "store/store.h"
#include "util/err.h"

/* Make sure LAYER (its blob in the store) has a snapshot. The blob is
 * always checked against LAYER's digest and diff_id: unpacked when no
 * snapshot exists, only hashed (streamed, nothing extracted) when one does. */
int xfer_snapshot_layer(struct store *st, const struct store_layer *layer, cn_err *err);
/* The same, its errors not prefixed with the layer's digest (the caller
 * names the layer its own way, e.g. by an archive entry). */
int xfer_snapshot_layer_unnamed(struct store *st, const struct store_layer *layer, cn_err *err);

/* A layer unpacked while its blob is being written (pull): a thread reads
 * the blob's file as far as the writer says it got (xfer_stream_grow) and
 * unpacks it as xfer_snapshot_layer does (the same extractor and caps;
 * only decoded and hashed when a snapshot exists already) into a private
 * temp dir. The writer hashes the blob: the thread computes the diff_id
 * (and the digest of a plain tar, which is also its diff_id).
 * xfer_stream_finish, once the file is complete and the writer has
 * verified its digest and size, waits for the thread, checks the diff_id
 * and publishes the snapshot; xfer_stream_free stops the thread and
 * removes whatever was unpacked (a failed or restarted download). */
struct xfer_stream;

/* Start on LAYER, whose blob is being written to BLOB_FD (the writer's
 * own fd will do: it is only read with pread; the file must hold the first
 * bytes already, to detect the compression). *OUT NULL with 0: the blob does not match its media
 * type; unpack it after the download with xfer_snapshot_layer, which says so. */
int xfer_stream_begin(struct store *st, const struct store_layer *layer, int blob_fd, struct xfer_stream **out,
		      cn_err *err);
/* The file holds WRITTEN bytes now. -1 once the unpacker failed for a
 * reason about the blob (no need to write the rest; xfer_stream_finish
 * returns the error); one that is not (xfer_blob_still_good) keeps 0. */
int xfer_stream_grow(struct xfer_stream *x, uint64_t written);
/* The file is complete and verified: the rest is unpacked, checked and
 * published (errors name the layer). Then xfer_stream_free. */
int xfer_stream_finish(struct xfer_stream *x, cn_err *err);
void xfer_stream_free(struct xfer_stream *x);
/* ERR, an unpacking failure, says nothing about the blob (Ctrl-C, the
 * store out of space): a blob that verified is worth keeping for the next
 * attempt, as before the layer was unpacked while downloading. */
bool xfer_blob_still_good(const cn_err *err);

/* Remove the blob DIGEST that this command brought into the store and that
 * failed to become what the image says (a layer that would not unpack or
 * verify): nothing may reference it, and it would stay until prune. Only
 * when no other command holds the store (one may have found the same
 * bytes there and be about to reference them): then prune frees it. */
void xfer_forget_blob(struct store *st, const char *digest);

/* The cap on a layer's uncompressed size, for the whole process (set once,
 * before any transfer, from --max-layer-size or CAIRN_MAX_LAYER_SIZE).
 * 0, the default: derived per layer from its blob's size, the most its
 * compression can expand, and the store's free space. A layer over it is
 * refused with an error naming --max-layer-size. */
void xfer_set_max_layer_size(uint64_t bytes);

/* The image whose manifest blob MANIFEST_DIGEST is in the store, with its
 * config and layer blobs (OCI or Docker schema2 media types): verify them
 * (every layer's digest and diff_id), unpack every layer lacking a
 * snapshot, then, when REF is not NULL, tag REF (with CAUSE: "pull",
 * "load"). VERIFIED: this command has just done that for each of its
 * layers (xfer_snapshot_layer or xfer_stream), so only their blobs' sizes
 * and their snapshots' presence are checked: a pull does not read its
 * blobs a second time. On error nothing is tagged. */
int xfer_import(struct store *st, const char *manifest_digest, const char *ref, const char *cause,
		bool verified, cn_err *err);

#endif
