/* --cache-from: read each cache's manifest and document once; answer the
 * builder's lookups from them and bring a layer into the store only when
 * the build needs its content. Nothing here fails a build: a cache that
 * cannot be used is a warning and a miss. */
#include "rcache/rcache.h"

#include "rcache/doc.h"
#include "rcache/transport.h"
#include "transfer/import.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RC_MAX_MANIFEST (4u << 20)

/* Counters the build's stage workers (forked processes) share with the
 * process that reports them. */
struct rc_counts {
	size_t hits, layers;
	uint64_t bytes;
	int warned_missing;
};

struct rc_shared {
	int failed;
	cn_err why;
	struct rc_counts c[];
};

struct rc_source {
	const struct rc_spec *spec;
	struct rc_transport t;
	pid_t pid;              /* the process T's connections belong to */
	const struct reg_opts *ro;
	struct rc_doc doc;
	bool used;
	cn_strv present, missing;       /* layer blobs checked there, or found gone */
};

struct rc_import {
	struct rc_source *src;
	size_t n;
	struct rc_shared *sh;
	size_t sh_size;
	struct bf_cache_import hooks;
	rc_warn_fn warn;
	void *warn_ctx;
	cn_strv verified;       /* "DIGEST DIFF_ID SIZE" of layers checked by this process */
};

static void warnf(struct rc_import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct rc_import *im, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (line && im->warn)
		im->warn(im->warn_ctx, line);
}

static bool strv_has(const cn_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

/* A stage worker is a forked process: it opens connections of its own
 * rather than share the parent's sockets. */
static int transport_here(struct rc_source *s, cn_err *err)
{
	if (s->pid == getpid())
		return 0;
	memset(&s->t, 0, sizeof(s->t));        /* the parent's; not closed here */
	if (rc_transport_open(&s->t, s->spec, s->ro, false, err) < 0)
		return -1;
	s->pid = getpid();
	return 0;
}

/* An image config's inline cache (type=inline), in place of the config. */
static int inline_doc(cn_buf *doc, cn_err *err)
{
	json_t *cfg = json_loadb(doc->data, doc->len, 0, NULL);
	json_t *field = json_object_get(cfg, RC_INLINE_FIELD);
	int r = -1;
	if (!json_is_string(field)) {
		cn_err_fail(err, CN_ERR_NOT_FOUND, "an image without an inline cache (built without --cache-to "
			   "type=inline)");
	} else {
		cn_buf_reset(doc);
		r = cn_buf_add(doc, json_string_value(field), json_string_length(field));
		if (r < 0)
			cn_err_fail(err, CN_ERR_TOO_BIG, "its inline cache is too large");
	}
	json_decref(cfg);
	return r;
}

static int open_source(struct rc_import *im, struct rc_source *s, size_t i, cn_err *err)
{
	_cleanup_buf_ cn_buf body, doc;
	char digest[CN_DIGEST_STR_SIZE], doc_digest[CN_DIGEST_STR_SIZE];
	uint64_t doc_size;
	bool is_image;
	int r;
	cn_buf_init(&body, RC_MAX_MANIFEST);
	cn_buf_init(&doc, RC_DOC_MAX);
	if (rc_transport_open(&s->t, s->spec, s->ro, false, err) < 0)
		return -1;
	s->pid = getpid();
	r = rc_transport_get_manifest(&s->t, &body, digest, err);
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "no cache there yet");
	if (r < 0 || rc_doc_descriptor(body.data, body.len, doc_digest, &doc_size, &is_image, err) < 0 ||
	    rc_transport_get_blob(&s->t, doc_digest, is_image ? STORE_MAX_JSON : RC_DOC_MAX, &doc, err) < 0)
		return -1;
	if (is_image && inline_doc(&doc, err) < 0)
		return -1;
	if (rc_doc_parse(doc.data, doc.len, &s->doc, err) < 0)
		return cn_err_wrap(err, "its cache document %s", doc_digest);
	im->sh->c[i].bytes += body.len + doc.len;
	s->used = true;
	return 0;
}

/* Every layer of STATE is in the store or still in the cache (a HEAD per
 * blob, remembered): a state whose layer is gone is a miss, not a failure
 * later when the layer is needed. */
static bool layers_there(struct rc_import *im, size_t i, struct store *st, const struct rc_state *state)
{
	struct rc_source *s = &im->src[i];
	for (size_t l = 0; l < state->nlayers; l++) {
		const char *d = state->layers[l].digest;
		cn_err e;
		int r;
		if (store_blob_exists(st, d) || strv_has(&s->present, d))
			continue;
		if (strv_has(&s->missing, d))
			return false;
		r = transport_here(s, &e) < 0 ? -1 : rc_transport_has_blob(&s->t, d, &e);
		if (r == 1) {
			cn_strv_pushdup(&s->present, d);
			continue;
		}
		cn_strv_pushdup(&s->missing, d);
		if (!__atomic_exchange_n(&im->sh->c[i].warned_missing, 1, __ATOMIC_RELAXED)) {
			if (r == 0)
				warnf(im, "--cache-from %s: blob %s is missing there; the steps that need it are built",
				      s->spec->name, d);
			else
				warnf(im, "--cache-from %s: %s; the steps that need it are built", s->spec->name, e.msg);
		}
		return false;
	}
	return true;
}

static int hook_lookup(void *ctx, struct store *st, const char *key, char manifest[CN_DIGEST_STR_SIZE],
		       const char **source)
{
	struct rc_import *im = ctx;
	for (size_t i = 0; i < im->n; i++) {
		struct rc_source *s = &im->src[i];
		const struct rc_record *rec = s->used ? rc_doc_find(&s->doc, key) : NULL;
		const struct rc_state *state = rec ? rc_doc_state(&s->doc, rec->state) : NULL;
		char got[CN_DIGEST_STR_SIZE];
		cn_err e;
		if (!state || !layers_there(im, i, st, state))
			continue;
		/* Small, and what the builder reads the state from. */
		if (store_blob_put(st, state->config, state->config_len, got, &e) < 0 ||
		    strcmp(got, state->config_digest) != 0 ||
		    store_blob_put(st, state->manifest, state->manifest_len, got, &e) < 0 ||
		    strcmp(got, state->digest) != 0)
			continue;
		memcpy(manifest, state->digest, CN_DIGEST_STR_SIZE);
		*source = s->spec->name;
		__atomic_add_fetch(&im->sh->c[i].hits, 1, __ATOMIC_RELAXED);
		return 1;
	}
	return 0;
}

static bool hook_has_layer(void *ctx, const char *digest)
{
	struct rc_import *im = ctx;
	for (size_t i = 0; i < im->n; i++)
		if (im->src[i].used && rc_doc_layer(&im->src[i].doc, digest))
			return true;
	return false;
}

static void note_failure(struct rc_import *im, const cn_err *err)
{
	if (!__atomic_exchange_n(&im->sh->failed, 1, __ATOMIC_RELAXED))
		im->sh->why = *err;
}

/* LAYER as a state from a cache names it: the blob fetched when the store
 * lacks it (from a registry unpacked while it downloads, as pull does),
 * else its size checked; then hashed against LAYER's diff_id (and
 * unpacked when no snapshot exists), as a pull checks what it pulls.
 * Once per layer and process. */
static int hook_fetch_layer(void *ctx, struct store *st, const struct store_layer *layer, cn_err *err)
{
	struct rc_import *im = ctx;
	bool had = store_blob_exists(st, layer->digest), unpacked = false;
	_cleanup_free_ char *pair = cn_xasprintf("%s %s %llu", layer->digest, layer->diff_id,
						 (unsigned long long)layer->size);
	if (strv_has(&im->verified, pair))
		return 0;
	if (had && store_blob_size(st, layer->digest) != layer->size) {
		cn_err_fail(err, CN_ERR_CORRUPT, "layer %s: %llu bytes in the store, the cache says %llu", layer->digest,
			   (unsigned long long)store_blob_size(st, layer->digest), (unsigned long long)layer->size);
		note_failure(im, err);
		return -1;
	}
	for (size_t i = 0; !had && i < im->n; i++) {
		struct rc_source *s = &im->src[i];
		if (!s->used || !rc_doc_layer(&s->doc, layer->digest) || strv_has(&s->missing, layer->digest))
			continue;
		if (transport_here(s, err) < 0 || rc_transport_fetch_layer(&s->t, st, layer, &unpacked, err) < 0) {
			note_failure(im, err);
			return cn_err_wrap(err, "--cache-from %s", s->spec->name);
		}
		__atomic_add_fetch(&im->sh->c[i].layers, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&im->sh->c[i].bytes, layer->size, __ATOMIC_RELAXED);
		break;
	}
	if (!store_blob_exists(st, layer->digest)) {
		cn_err_fail(err, CN_ERR_NOT_FOUND, "no imported cache has layer %s", layer->digest);
		note_failure(im, err);
		return -1;
	}
	/* A layer from outside is hostile: unpacked with every check a pulled
	 * one gets, or, when a snapshot exists, hashed against its diff_id
	 * (UNPACKED: done while it downloaded). */
	if (!unpacked && xfer_snapshot_layer(st, layer, err) < 0) {
		if (!had && !cn_err_is(err, CN_ERR_INTERRUPTED))
			xfer_forget_blob(st, layer->digest);
		note_failure(im, err);
		return -1;
	}
	cn_strv_push(&im->verified, CN_TAKE_PTR(pair));
	return 0;
}

struct rc_import *rc_import_open(struct store *st, const struct rc_spec *specs, size_t n,
				 const struct reg_opts *ro, rc_warn_fn warn, void *warn_ctx)
{
	struct rc_import *im = cn_xcalloc(1, sizeof(*im));
	(void)st;
	im->warn = warn;
	im->warn_ctx = warn_ctx;
	im->src = cn_xcalloc(n ? n : 1, sizeof(*im->src));
	im->n = n;
	im->sh_size = sizeof(*im->sh) + (n ? n : 1) * sizeof(im->sh->c[0]);
	im->sh = mmap(NULL, im->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (im->sh == MAP_FAILED) {
		/* Without shared counters only this process's are reported. */
		im->sh = cn_xcalloc(1, im->sh_size);
		im->sh_size = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct rc_source *s = &im->src[i];
		cn_err e;
		s->spec = &specs[i];
		s->ro = ro;
		if (open_source(im, s, i, &e) < 0) {
			warnf(im, "--cache-from %s: %s; building without it", s->spec->name, e.msg);
			rc_transport_close(&s->t);
			rc_doc_free(&s->doc);
			s->used = false;
		}
	}
	im->hooks = (struct bf_cache_import){ .lookup = hook_lookup, .has_layer = hook_has_layer,
					      .fetch_layer = hook_fetch_layer, .ctx = im };
	return im;
}

const struct bf_cache_import *rc_import_hooks(struct rc_import *im)
{
	for (size_t i = 0; im && i < im->n; i++)
		if (im->src[i].used)
			return &im->hooks;
	return NULL;
}

size_t rc_import_count(const struct rc_import *im)
{
	return im ? im->n : 0;
}

void rc_import_stat(const struct rc_import *im, size_t i, struct rc_import_stat *out)
{
	out->name = im->src[i].spec->name;
	out->used = im->src[i].used;
	out->hits = __atomic_load_n(&im->sh->c[i].hits, __ATOMIC_RELAXED);
	out->layers = __atomic_load_n(&im->sh->c[i].layers, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&im->sh->c[i].bytes, __ATOMIC_RELAXED);
}

bool rc_import_failed(const struct rc_import *im, cn_err *why)
{
	if (!im || !im->sh->failed)
		return false;
	if (why)
		*why = im->sh->why;
	return true;
}

void rc_import_close(struct rc_import *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->n; i++) {
		if (im->src[i].pid == getpid())
			rc_transport_close(&im->src[i].t);
		rc_doc_free(&im->src[i].doc);
		cn_strv_free(&im->src[i].present);
		cn_strv_free(&im->src[i].missing);
	}
	cn_strv_free(&im->verified);
	if (im->sh_size)
		munmap(im->sh, im->sh_size);
	else
		free(im->sh);
	free(im->src);
	free(im);
}
