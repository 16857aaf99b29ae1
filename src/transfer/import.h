/* Images that come from outside the store (a registry, an archive): the
 * step from "blobs ingested into the store" to "an image that can be run
 * and built on". Layer blobs are hostile input: each is unpacked with
 * layers/extract.c into a private temp dir and published as a snapshot
 * only when its blob digest and diff_id are the ones the image names. */
#ifndef XFER_IMPORT_H
#define XFER_IMPORT_H

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
 * "load"). On error nothing is tagged. */
int xfer_import(struct store *st, const char *manifest_digest, const char *ref, const char *cause,
		cn_err *err);

#endif
