/* Multi-platform images: an OCI image index blob whose manifests[] name
 * one image per platform (build --platform A,B writes one; a tag may
 * point at it). Naming the tag gives the host's image (store_image_load);
 * prune keeps every platform's; push sends them all. */
#ifndef STORE_IMGINDEX_H
#define STORE_IMGINDEX_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "util/platform.h"

#define MT_OCI_IMAGE_INDEX "application/vnd.oci.image.index.v1+json"

/* DOC is an image index (its mediaType, or "manifests" and no "layers"). */
bool store_index_doc_is(const json_t *doc);
/* The blob DIGEST is an image index (a missing or unreadable blob is not). */
bool store_index_blob_is(struct store *st, const char *digest);

/* The entry of INDEX for WANT (NULL: the host's): an exact match first;
 * for a want without a variant, any variant of its architecture; for
 * arm, the newest older variant. Attestations (platform unknown/unknown)
 * and unknown media types are skipped. NOT_FOUND lists the platforms the
 * index has. */
int store_index_select(json_t *index, const struct cn_platform *want, char out[CN_DIGEST_STR_SIZE],
		       cn_err *err);

/* The entry of the index blob DIGEST for WANT (store_index_select). */
int store_index_pick(struct store *st, const char *digest, const struct cn_platform *want,
		     char out[CN_DIGEST_STR_SIZE], cn_err *err);

/* Write an index of N manifests (DIGESTS, their SIZES and PLATFORMS):
 * its digest and size. */
int store_index_write(struct store *st, const char *const *digests, const uint64_t *sizes,
		      const struct cn_platform *platforms, size_t n, char digest[CN_DIGEST_STR_SIZE],
		      uint64_t *size, cn_err *err);

/* The manifest digests the index blob DIGEST names (appended to OUT), and
 * its platforms as "os/arch[/variant]" (to PLATFORMS, may be NULL). */
int store_index_children(struct store *st, const char *digest, cn_strv *out, cn_strv *platforms, cn_err *err);

#endif
