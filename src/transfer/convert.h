/* Layers re-compressed for a consumer: a build with --compression, push,
 * save and export with --compression-format. A conversion is streamed
 * (layers/convert.c) into a new blob, and remembered in the store as a build
 * cache entry (cache/<key>: KEY = sha256 of the source blob's digest and
 * the target compression, value = the converted blob's digest), so a second
 * build, push or save of the same layers converts nothing. Those entries
 * follow the cache's rules: store_cache_get ignores one whose blob is
 * missing, prune drops the entries whose blob it removes (a converted blob
 * an image references is kept like any layer), fsck checks them. The
 * diff_ids do not change (the same tar), so neither does the config. */
#ifndef XFER_CONVERT_H
#define XFER_CONVERT_H

#include <stdint.h>

#include "layers/layer.h"
#include "store/image.h"
#include "store/store.h"
#include "util/err.h"

struct xfer_convert_stats {
	unsigned converted;     /* layers re-compressed now */
	unsigned reused;        /* layers whose conversion the store remembered */
	uint64_t bytes_in, bytes_out;   /* of the layers converted now */
};

/* LAYER (a blob in the store) as COMP at LEVEL (0: COMP's default; a
 * layer already in COMP is kept whatever its level): itself when it already is, else the
 * remembered or a new conversion, checked against LAYER's digest and
 * diff_id while read. *OUT gets its descriptor (OCI media type). */
int xfer_convert_layer(struct store *st, const struct store_layer *layer, enum layer_compression comp,
		       int level, struct store_layer *out, struct xfer_convert_stats *stats, cn_err *err);

/* IMG with every layer in COMP: when one is not, the converted layers go
 * into a new OCI manifest in the store (same config blob, same annotations)
 * and IMG is replaced by that image; otherwise IMG is left as it is.
 * STATS may be NULL. */
int xfer_convert_image(struct store *st, struct store_image *img, enum layer_compression comp,
		       int level, struct xfer_convert_stats *stats, cn_err *err);

/* Whether some layer of IMG is COMP. */
bool xfer_image_has(const struct store_image *img, enum layer_compression comp);

#endif
