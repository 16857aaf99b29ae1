/* The exported build cache as a document: which cache key led to which
 * image state, and every such state's manifest and config, byte for byte.
 * It travels as the config blob of an OCI image manifest whose layers are
 * every layer blob the states name (so a registry keeps them). A document
 * from outside is hostile: rc_doc_parse checks every digest, every size and
 * that each state's bytes hash to its name. */
#ifndef RC_DOC_H
#define RC_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "store/image.h"
#include "util/digest.h"
#include "util/err.h"

#define RC_DOC_MEDIA_TYPE "application/vnd.cairn.buildcache.config.v1+json"
#define RC_ARTIFACT_TYPE "application/vnd.cairn.buildcache.v1"
/* A cache document past this is refused: the JSON parser takes tens of
 * times the text's size in memory (the store's bound on any JSON). */
#define RC_DOC_MAX ((size_t)STORE_MAX_JSON)
#define RC_DOC_MAX_RECORDS 30000    /* ~190 bytes each: well inside RC_DOC_MAX */
#define RC_DOC_MAX_STATES 30000
#define RC_DOC_MAX_STAGE 256            /* bytes of a record's stage name */
#define RC_DOC_MAX_MANIFEST ((size_t)4 << 20)   /* a state's manifest; its config: STORE_MAX_JSON */

/* A cache key and the state a step reached under it. */
struct rc_record {
	char key[CN_DIGEST_STR_SIZE];
	char state[CN_DIGEST_STR_SIZE];         /* a state's manifest digest (in states) */
	char *stage;                            /* stage name or index, for the per-stage bound */
	long long created;                      /* unix seconds it was exported */
};

/* An image state: its manifest and config as they were stored. */
struct rc_state {
	char digest[CN_DIGEST_STR_SIZE];        /* sha256 of manifest */
	char *manifest, *config;                /* NUL-terminated; lengths exclude the NUL */
	size_t manifest_len, config_len;
	char config_digest[CN_DIGEST_STR_SIZE];
	struct store_layer *layers;             /* from the manifest and the config's diff_ids */
	size_t nlayers;
};

/* Records stay sorted by key and states by digest (lookups are binary
 * searches): change a document only through the functions below. */
struct rc_doc {
	struct rc_record *records;
	size_t nrecords;
	struct rc_state *states;
	size_t nstates;
};

/* DATA (a cache document from anywhere): 0 and OUT filled, -1 with an
 * error naming what is wrong ("record 3: ..."). Records naming a state the
 * document lacks are refused. */
int rc_doc_parse(const void *data, size_t len, struct rc_doc *out, cn_err *err);
/* The document as JSON (records sorted by key, states by digest), heap. */
char *rc_doc_serialize(const struct rc_doc *d, size_t *len);
void rc_doc_free(struct rc_doc *d);

/* MANIFEST (LEN bytes), the manifest at a cache's tag: the digest and size
 * of the cache document its config names: a cairn cache document, or,
 * from a registry that refused that media type, an image config type with
 * the cache annotation. An image's own manifest sets *IS_IMAGE (its config
 * may carry an inline cache). -1 with "not a cairn build cache (...)". */
int rc_doc_descriptor(const void *manifest, size_t len, char digest[CN_DIGEST_STR_SIZE], uint64_t *size,
		      bool *is_image, cn_err *err);

/* Add a state from its manifest and config bytes (checked as rc_doc_parse
 * does); an existing state of that digest is kept. */
int rc_doc_add_state(struct rc_doc *d, const void *manifest, size_t manifest_len, const void *config,
		     size_t config_len, cn_err *err);
/* Add or replace the record for KEY (its state must be in D). A sorted
 * insert, O(records): gather a build's records in a new document and
 * rc_doc_merge the older one into it, rather than thousands of adds into
 * a large one. */
int rc_doc_add_record(struct rc_doc *d, const char *key, const char *state, const char *stage,
		      long long created, cn_err *err);
const struct rc_record *rc_doc_find(const struct rc_doc *d, const char *key);
const struct rc_state *rc_doc_state(const struct rc_doc *d, const char *digest);
/* A layer some state of D names, by blob digest, or NULL. */
const struct store_layer *rc_doc_layer(const struct rc_doc *d, const char *digest);
/* Every layer blob D's states name, each once, in a stable order (*OUT: free()). */
size_t rc_doc_layers(const struct rc_doc *d, struct store_layer **out);

/* Records of OLDER that D lacks (by key) join D, with their states. */
int rc_doc_merge(struct rc_doc *d, const struct rc_doc *older, cn_err *err);
/* Keep the PER_STAGE most recent records of each stage (ties: by key);
 * drop states no record names. */
void rc_doc_bound(struct rc_doc *d, size_t per_stage);
/* Drop records whose state names a layer KEEP says is gone, then states
 * no record names. */
void rc_doc_filter(struct rc_doc *d, bool (*keep)(void *ctx, const struct store_layer *l), void *ctx);

#endif
