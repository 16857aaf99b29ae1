/* The images in the store as a docker user sees them: each identified by
 * its config digest (the IMAGE ID docker and podman show), tagged or not.
 *
 * Tagged images are index.json's entries. An untagged image is one a tag
 * pointed at before (a value in a tag log) whose manifest is still in the
 * store: docker's "dangling" image after a rebuild, kept here because
 * rollback can return to it; `prune --all` removes it. The state after
 * each build step (an image of its own, see store_image_row_states) is an
 * intermediate image, listed only when asked for (images -a). */
#ifndef STORE_IMAGES_H
#define STORE_IMAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "store/image.h"

/* A short id must have at least this many hex digits (docker's minimum). */
#define STORE_SHORT_ID_MIN 4

enum store_image_kind {
	STORE_IMAGE_TAGGED,
	STORE_IMAGE_DANGLING,       /* an earlier value of a tag, untagged now */
	STORE_IMAGE_INTERMEDIATE,   /* a build step's state */
};

struct store_image_entry {
	char manifest[CN_DIGEST_STR_SIZE];
	char id[CN_DIGEST_STR_SIZE];        /* the config digest; "" when unreadable */
	char *ref;                          /* "name:tag" (tagged only), else NULL */
	enum store_image_kind kind;
	long long created;                  /* unix seconds; 0 when unknown */
	bool unreadable;                    /* manifest or config could not be read */
	size_t nlayers;                     /* the layers' diff_ids (when readable) */
	char (*diff_ids)[CN_DIGEST_STR_SIZE];
};

struct store_imgsum;

/* The facts come from the image summary (store/imgsum.h) where it has
 * them; only the manifests it lacks are read, and none is kept: a caller
 * that needs an image's config loads it (store_image_entry_load). */
struct store_image_list {
	struct store_image_entry *v;
	size_t n;
	struct store *st;
	struct store_imgsum *sum;
	json_t *present;                    /* diff_id -> its snapshot is there */
};

/* Every image: the tagged ones in index.json order (one entry per tag),
 * then the dangling ones, then with ALL the intermediate ones (each
 * manifest once). An image that cannot be read is listed, marked. */
int store_images_list(struct store *st, bool all, struct store_image_list *out, cn_err *err);
/* Also writes the summary back when the listing learned something (best
 * effort: a store this user cannot write is listed all the same). */
void store_images_list_free(struct store_image_list *l);
/* Rewrite the summary without the blobs and snapshots the store no longer
 * has (prune's; best effort, as a listing's save). */
void store_images_summary_trim(struct store *st);
/* The unpacked size of E (store_image_size), each snapshot's size from
 * the summary when known. */
uint64_t store_images_entry_size(struct store_image_list *l, const struct store_image_entry *e);

/* True when S looks like a short or full image id: [sha256:]HEX with 4 to
 * 64 lower-case hex digits. */
bool store_short_id(const char *s);
/* The manifest of the image whose id starts with S (store_short_id form).
 * 1 found, 0 none, -1 on error: AMBIGUOUS (CN_ERR_INVALID) when images
 * with different ids match. A tagged image is preferred among manifests
 * sharing one id. */
int store_image_resolve_id(struct store *st, const char *s, char manifest[CN_DIGEST_STR_SIZE],
			   cn_err *err);

/* The image a listing shows for MANIFEST (store_image_load_manifest's
 * result); for an index without this host's platform, its first
 * platform's image. */
int store_image_entry_load(struct store *st, const char *manifest, struct store_image *img, cn_err *err);
/* A config's "created" (RFC 3339) as unix seconds; 0 when absent or bad. */
long long store_parse_created(const char *s);

/* The uncompressed size of snapshot DIFF_ID as docker counts a layer: the
 * bytes of its regular files (each inode once) and symlink targets. Walks
 * the unpacked snapshot, never a blob. 0 when missing. */
uint64_t store_snapshot_content_size(struct store *st, const char *diff_id);
/* The same; *COMPLETE tells whether every entry was read and counted in
 * one directory that stayed in place (a size worth remembering). */
uint64_t store_snapshot_content_size_full(struct store *st, const char *diff_id, bool *complete);
/* The image's uncompressed size: its layers' content sizes summed (a layer
 * the image has twice counts twice, as docker's does). */
uint64_t store_image_size(struct store *st, const struct store_image *img);

#endif
