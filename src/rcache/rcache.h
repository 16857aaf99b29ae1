/* Build caches shared between machines (--cache-from, --cache-to): a
 * cache document (rcache/doc.h) and the layers it names, in a registry
 * repository or an OCI layout directory (rcache/transport.h).
 *
 * Import reads only each cache's manifest and document up front; a hit
 * puts the state's manifest and config in the store, and a layer comes
 * when the build needs its content (builder/cacheuse.c). Export merges
 * what the build reached with what the cache already holds and writes
 * layers, document, manifest, in that order. */
#ifndef RC_RCACHE_H
#define RC_RCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/build.h"
#include "rcache/spec.h"
#include "registry/registry.h"
#include "util/strv.h"

/* Records of one stage a cache keeps, newest first (older ones go). */
#define RC_KEEP_PER_STAGE 128
/* Blobs an export checks (HEAD) are still there before it keeps an
 * older record that names them; records past that are dropped. */
#define RC_MAX_CHECKS 2000

struct rc_import;

/* Warnings go to WARN as they happen (a cache that cannot be used is
 * never an error: the build builds), one line each, from any process of
 * the build. */
typedef void (*rc_warn_fn)(void *ctx, const char *line);

/* Open every spec of SPECS; one that cannot be read (unreachable, no cache
 * there yet, corrupt, foreign) is warned about and left out. */
struct rc_import *rc_import_open(struct store *st, const struct rc_spec *specs, size_t n,
				 const struct reg_opts *ro, rc_warn_fn warn, void *warn_ctx);
/* The builder's hooks (bf_build_opts.cache_from), NULL when nothing was imported. */
const struct bf_cache_import *rc_import_hooks(struct rc_import *im);

struct rc_import_stat {
	const char *name;       /* the cache, as progress names it */
	size_t hits, layers;    /* steps taken from it, layer blobs downloaded */
	uint64_t bytes;         /* those blobs' bytes, and its manifest and document */
	bool used;              /* it was read */
};
/* Source I of the import (I below rc_import_count), after the build. */
size_t rc_import_count(const struct rc_import *im);
void rc_import_stat(const struct rc_import *im, size_t i, struct rc_import_stat *out);
/* Whether a layer fetch failed during the build (the build should run
 * again without the import); WHY gets the first such error. */
bool rc_import_failed(const struct rc_import *im, cn_err *why);
void rc_import_close(struct rc_import *im);

struct rc_export_result {
	size_t records;         /* in the cache written */
	size_t layers;          /* layer blobs the records name */
	uint64_t bytes;         /* everything sent */
	size_t skipped;         /* records whose layers this store never had */
};

/* type=inline: the cache document is a string in the image config under
 * this name (BuildKit's is moby.buildkit.cache.v0); --cache-from
 * type=registry,ref=IMAGE reads it back. */
#define RC_INLINE_FIELD "org.cairn.buildcache.v1"

struct rc_doc;
/* RECS as a cache document (FINAL_ONLY: mode=min), states read from the
 * store; records whose layers the store lacks are counted in *SKIPPED. */
int rc_records_doc(struct store *st, const struct bf_cache_records *recs, bool final_only, struct rc_doc *d,
		   size_t *skipped, cn_err *err);
/* bf_build_opts.inline_cache: the image's own cache (mode=min) into CONFIG. */
int rc_inline_attach(void *ctx, struct store *st, const struct bf_cache_records *recs, json_t *config,
		     cn_err *err);

/* Export RECS (mode=min: the final ones) to SPEC's cache. */
int rc_export(struct store *st, const struct rc_spec *spec, const struct bf_cache_records *recs,
	      const struct reg_opts *ro, struct rc_export_result *res, cn_err *err);

#endif
