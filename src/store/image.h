/* Images in the store: a manifest and a config blob (OCI media types),
 * loaded with digest verification, or written from a config and layers. */
#ifndef STORE_IMAGE_H
#define STORE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

#define STORE_MAX_LAYERS 500    /* overlay's limit on lower layers */

/* Past this a descriptor's size is absurd (1 PiB): refused like a negative one. */
#define STORE_MAX_DESCRIPTOR_SIZE ((uint64_t)1 << 50)

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"

struct store_layer {
	char digest[CN_DIGEST_STR_SIZE];    /* compressed blob */
	char diff_id[CN_DIGEST_STR_SIZE];   /* uncompressed tar */
	uint64_t size;
	char media_type[96];
};

struct store_image {
	char manifest_digest[CN_DIGEST_STR_SIZE];
	uint64_t manifest_size;
	char config_digest[CN_DIGEST_STR_SIZE];
	json_t *manifest;
	json_t *config;                     /* the whole image config document */
	struct store_layer *layers;
	size_t nlayers;
};

/* DESC's "size": a JSON integer from 0 to STORE_MAX_DESCRIPTOR_SIZE. The one
 * check of a descriptor's size, for every reader of manifests and indexes. */
bool store_descriptor_size(json_t *desc, uint64_t *size);

/* The one lookup of an image by what a user types: REF is a tag
 * ("name[:tag]", normalized as docker does, store_ref_normalize), a
 * manifest digest ("sha256:..."), or an image id (the config digest) or a
 * unique prefix of one, with or without "sha256:" (store/images.h; a tag
 * of that name wins). Returns 1 when found, 0 when not (err unset), -1 on
 * error (corrupt, unreadable, an ambiguous id). */
int store_image_load(struct store *st, const char *ref, struct store_image *img, cn_err *err);
/* Exactly the manifest DIGEST (no name, no id): 1, 0 when absent, -1. */
int store_image_load_manifest(struct store *st, const char *digest, struct store_image *img, cn_err *err);
/* Every image cairn builds records, in its manifest, the image state it was
 * built on (the previous step's, or the base image): the chain that makes the
 * state after every step addressable (history, rollback --to N). */
#define STORE_PARENT_ANNOTATION "org.cairn.state.parent"

/* Write CONFIG (borrowed) and a manifest over LAYERS, recording PARENT (a
 * manifest digest, or NULL); fills img's digests. */
int store_image_write(struct store *st, json_t *config, const struct store_layer *layers,
		      size_t nlayers, const char *parent, struct store_image *img, cn_err *err);
/* The state this image was built on, or NULL. */
const char *store_image_parent(const struct store_image *img);
/* For rows 1..*nrows of IMG's history (*nrows = its length), the manifest
 * digest of the state after that row, following the parent chain; "" where
 * no recorded state ends at that row (inside a base image cairn did not
 * build, or a chain cut by prune). Caller frees *out. */
int store_image_row_states(struct store *st, const struct store_image *img,
			   char (**out)[CN_DIGEST_STR_SIZE], size_t *nrows, cn_err *err);
/* Number of history rows of IMG. */
size_t store_image_rows(const struct store_image *img);

void store_image_free(struct store_image *img);

#endif
