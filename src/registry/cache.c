/* One registry repository as a build-cache store (regcache.h): the same
 * requests push and pull make (pull.c, push.c), one operation at a time,
 * so the cache import can fetch a layer only when a build needs it. */
#include "registry/regcache.h"
#include "registry/internal.h"

#include "util/cleanup.h"
#include "util/mem.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Idle connections kept for the next call (each one a curl handle with its
 * own connection cache, so keep-alive survives between calls). */
#define IDLE_CONNS 4

struct reg_cache {
	struct cn_ref ref;
	struct reg_opts opts;           /* a copy: the client keeps a pointer to it */
	struct reg_client c;
	bool push;
	pthread_mutex_t mu;             /* guards idle, nidle */
	struct reg_conn idle[IDLE_CONNS];
	size_t nidle;
	uint64_t bytes_in, bytes_out;   /* atomic */
};

/* ---- connections: the calls may come from several threads at once ---- */

static int conn_take(struct reg_cache *rc, struct reg_conn *k, cn_err *err)
{
	pthread_mutex_lock(&rc->mu);
	if (rc->nidle) {
		*k = rc->idle[--rc->nidle];
		pthread_mutex_unlock(&rc->mu);
		return 0;
	}
	pthread_mutex_unlock(&rc->mu);
	return reg_conn_open(k, &rc->c, err);
}

static void conn_give(struct reg_cache *rc, struct reg_conn *k)
{
	pthread_mutex_lock(&rc->mu);
	if (rc->nidle < IDLE_CONNS) {
		rc->idle[rc->nidle++] = *k;
		k->curl = NULL;
	}
	pthread_mutex_unlock(&rc->mu);
	reg_conn_close(k);
}

static void count(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

/* ---- open, close ---- */

int reg_cache_open(const char *ref, const struct reg_opts *o, bool push, struct reg_cache **out, cn_err *err)
{
	struct reg_cache *rc;
	_cleanup_free_ char *scope = NULL;
	const char *scopes[2] = { NULL, NULL };

	*out = NULL;
	rc = cn_xcalloc(1, sizeof(*rc));
	if (cn_ref_parse(ref, &rc->ref, err) < 0) {
		free(rc);
		return -1;
	}
	if (push && !rc->ref.tag) {
		cn_err_fail(err, CN_ERR_INVALID, "cache %s: name a tag to write the cache to (a digest names "
			   "a manifest that exists already)", ref);
		cn_ref_free(&rc->ref);
		free(rc);
		return -1;
	}
	rc->opts = *o;
	rc->push = push;
	pthread_mutex_init(&rc->mu, NULL);
	scope = cn_xasprintf("repository:%s:%s", rc->ref.path, push ? "pull,push" : "pull");
	scopes[0] = scope;
	if (reg_client_open(&rc->c, &rc->ref, &rc->opts, scopes, err) < 0) {
		pthread_mutex_destroy(&rc->mu);
		cn_ref_free(&rc->ref);
		free(rc);
		return -1;
	}
	*out = rc;
	return 0;
}

void reg_cache_close(struct reg_cache *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < rc->nidle; i++)
		reg_conn_close(&rc->idle[i]);
	reg_client_close(&rc->c);
	pthread_mutex_destroy(&rc->mu);
	cn_ref_free(&rc->ref);
	free(rc);
}

uint64_t reg_cache_bytes_in(const struct reg_cache *rc)
{
	return __atomic_load_n(&rc->bytes_in, __ATOMIC_RELAXED);
}

uint64_t reg_cache_bytes_out(const struct reg_cache *rc)
{
	return __atomic_load_n(&rc->bytes_out, __ATOMIC_RELAXED);
}

/* ---- reading ---- */

int reg_cache_get_manifest(struct reg_cache *rc, cn_buf *body, char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	struct reg_conn k;
	_cleanup_free_ char *mt = NULL;
	int r;

	cn_buf_reset(body);
	if (!body->max || body->max > REG_MAX_MANIFEST)
		body->max = REG_MAX_MANIFEST;
	if (conn_take(rc, &k, err) < 0)
		return -1;
	r = reg_get_manifest(&k, rc->ref.path, reg_ref_reference(&rc->ref), rc->ref.digest, body, &mt, digest,
			     err);
	conn_give(rc, &k);
	if (r < 0) {
		/* 404 (MANIFEST_UNKNOWN, NAME_UNKNOWN): nobody exported a cache here yet. */
		if (cn_err_is(err, CN_ERR_NOT_FOUND)) {
			cn_buf_reset(body);
			return 0;
		}
		return -1;
	}
	count(&rc->bytes_in, body->len);
	reg_report(&rc->c, REG_MANIFEST, digest, body->len, body->len);
	if (!mt || strcmp(mt, MT_OCI_MANIFEST) != 0)
		return cn_err_fail(err, CN_ERR_PROTOCOL, "%s%c%s holds %s, not an OCI image manifest", rc->ref.path,
				  rc->ref.digest ? '@' : ':', reg_ref_reference(&rc->ref),
				  mt ? mt : "document of unknown type");
	return 1;
}

int reg_cache_get_blob(struct reg_cache *rc, const char *digest, size_t max, cn_buf *out, cn_err *err)
{
	struct reg_conn k;
	int r;

	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "blob '%s': not a sha256 digest", digest);
	cn_buf_reset(out);
	out->max = max;
	if (conn_take(rc, &k, err) < 0)
		return -1;
	r = reg_fetch_small_blob(&k, rc->ref.path, digest, out, err);
	conn_give(rc, &k);
	if (r < 0)
		return -1;
	count(&rc->bytes_in, out->len);
	return 0;
}

int reg_cache_fetch_layer(struct reg_cache *rc, struct store *st, const struct store_layer *layer, bool *unpacked,
			  cn_err *err)
{
	struct blob_job job = { .size = layer->size };
	struct reg_conn k;
	int r;

	if (unpacked)
		*unpacked = false;
	if (!cn_digest_valid(layer->digest))
		return cn_err_fail(err, CN_ERR_INVALID, "layer '%s': not a sha256 digest", layer->digest);
	if (store_blob_exists(st, layer->digest) && store_blob_size(st, layer->digest) == layer->size) {
		reg_report(&rc->c, REG_BLOB_EXISTS, layer->digest, layer->size, layer->size);
		return 0;
	}
	memcpy(job.digest, layer->digest, sizeof(job.digest));
	memcpy(job.diff_id, layer->diff_id, sizeof(job.diff_id));
	memcpy(job.media_type, layer->media_type, sizeof(job.media_type));
	if (conn_take(rc, &k, err) < 0)
		return -1;
	r = reg_fetch_blob(&k, st, rc->ref.path, &job, unpacked, err);
	conn_give(rc, &k);
	if (r < 0)
		return -1;
	count(&rc->bytes_in, layer->size);
	reg_report(&rc->c, REG_BLOB_DONE, layer->digest, layer->size, layer->size);
	return 0;
}

int reg_cache_has_blob(struct reg_cache *rc, const char *digest, cn_err *err)
{
	struct reg_conn k;
	int r;

	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "blob '%s': not a sha256 digest", digest);
	if (conn_take(rc, &k, err) < 0)
		return -1;
	r = reg_blob_exists(&k, rc->ref.path, digest, err);
	conn_give(rc, &k);
	return r;
}

/* ---- writing ---- */

static int need_push(struct reg_cache *rc, const char *what, cn_err *err)
{
	if (rc->push && rc->ref.tag)
		return 0;
	return cn_err_fail(err, CN_ERR_INVALID, "%s: the cache %s%c%s was opened for reading only", what,
			  rc->ref.path, rc->ref.digest ? '@' : ':', reg_ref_reference(&rc->ref));
}

/* The repositories blobs are mounted from need pull access in the token
 * too (a token registry checks it on the mount and would fall back to an
 * upload, or refuse): add them to the scopes the next token is asked for. */
static void add_pull_scopes(struct reg_client *c, const cn_strv *repos)
{
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < repos->n; i++) {
		_cleanup_free_ char *s = cn_xasprintf("repository:%s:pull", repos->v[i]);
		bool have = false;
		for (size_t j = 0; j < c->scopes.n && !have; j++)
			have = strcmp(c->scopes.v[j], s) == 0;
		if (!have)
			cn_strv_push(&c->scopes, CN_TAKE_PTR(s));
	}
	pthread_mutex_unlock(&c->mu);
}

int reg_cache_push_layers(struct reg_cache *rc, struct store *st, const struct store_layer *layers, size_t n,
			  cn_err *err)
{
	_cleanup_free_ struct push_blob *blobs = NULL;
	_cleanup_strv_ cn_strv repos = { 0 };
	struct push_ctx pc;
	size_t nb = 0;
	int r;

	if (need_push(rc, "push layers", err) < 0)
		return -1;
	blobs = cn_xcalloc(n ? n : 1, sizeof(*blobs));
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		if (!cn_digest_valid(layers[i].digest))
			return cn_err_fail(err, CN_ERR_INVALID, "layer '%s': not a sha256 digest", layers[i].digest);
		/* The same blob twice in the list: one transfer. */
		for (size_t j = 0; j < nb && !dup; j++)
			dup = strcmp(blobs[j].digest, layers[i].digest) == 0;
		if (dup)
			continue;
		if (!store_blob_exists(st, layers[i].digest))
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "layer %s: the blob is not in the store",
					  layers[i].digest);
		memcpy(blobs[nb].digest, layers[i].digest, CN_DIGEST_STR_SIZE);
		/* What is sent is the file as stored. */
		blobs[nb].size = store_blob_size(st, layers[i].digest);
		nb++;
	}
	reg_mount_sources(st, &rc->ref, blobs, nb, &repos);
	add_pull_scopes(&rc->c, &repos);
	pc = (struct push_ctx){ .st = st, .name = rc->ref.path, .blobs = blobs };
	r = reg_pool_run(&rc->c, nb, rc->opts.jobs, reg_push_blob, &pc, err);
	/* Mounted and skipped blobs moved nothing: pc.bytes counts only sent ones. */
	count(&rc->bytes_out, __atomic_load_n(&pc.bytes, __ATOMIC_RELAXED));
	return r;
}

/* One monolithic upload (POST, then PUT with the bytes): 0 or -1. */
static int upload_mem(struct reg_conn *k, const char *name, const void *data, size_t len, const char *digest,
		      cn_err *err)
{
	static const char *const octets[] = { "Content-Type: application/octet-stream", NULL };
	struct push_blob b = { .size = len };
	_cleanup_free_ char *location = NULL, *url = NULL;
	struct reg_resp resp;
	int r;

	memcpy(b.digest, digest, CN_DIGEST_STR_SIZE);
	r = reg_start_upload(k, name, &b, &location, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	url = reg_with_query(location, "digest", digest);
	{
		struct reg_req rq = { .method = "PUT", .url = url, .headers = octets, .body = data,
				      .body_len = len };
		if (reg_do(k, &rq, &resp, err) < 0) {
			reg_resp_free(&resp);
			return -1;
		}
		r = resp.status == 201 ? 0 : reg_status_error(&rq, &resp, err);
		reg_resp_free(&resp);
	}
	return r;
}

int reg_cache_put_blob(struct reg_cache *rc, const void *data, size_t len, const char *digest, cn_err *err)
{
	char got[CN_DIGEST_STR_SIZE];
	struct reg_conn k;
	int r;

	if (need_push(rc, "put blob", err) < 0)
		return -1;
	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "blob '%s': not a sha256 digest", digest);
	/* A wrong name would be refused by the registry anyway, less clearly. */
	cn_sha256_oneshot(data, len, got);
	if (strcmp(got, digest) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "blob %s: the content hashes to %s", digest, got);
	if (conn_take(rc, &k, err) < 0)
		return -1;
	r = reg_blob_exists(&k, rc->ref.path, digest, err);
	if (r == 1) {
		reg_report(&rc->c, REG_BLOB_EXISTS, digest, len, len);
		r = 0;
	} else if (r == 0) {
		reg_report(&rc->c, REG_BLOB_START, digest, 0, len);
		/* An interrupted upload session cannot be resumed portably: start
		 * over, as push.c does. */
		for (int attempt = 0;; attempt++) {
			cn_err e;
			r = upload_mem(&k, rc->ref.path, data, len, digest, &e);
			if (r == 0)
				break;
			if (attempt >= 2 || cn_err_is(&e, CN_ERR_INTERRUPTED) || cn_err_is(&e, CN_ERR_DENIED)) {
				*err = e;
				cn_err_wrap(err, "blob %s", digest);
				break;
			}
		}
		if (r == 0) {
			count(&rc->bytes_out, len);
			reg_report(&rc->c, REG_BLOB_DONE, digest, len, len);
		}
	}
	conn_give(rc, &k);
	return r;
}

/* PUT the manifest under the tag: the answer's status in *STATUS, and the
 * registry's error code (heap, or NULL) in *CODE when it refused. */
static int put_manifest_once(struct reg_conn *k, const char *url, const void *data, size_t len, long *status,
			     char **code, cn_err *err)
{
	static const char *const hdrs[] = { "Content-Type: " MT_OCI_MANIFEST, NULL };
	struct reg_req rq = { .method = "PUT", .url = url, .headers = hdrs, .body = data, .body_len = len,
			      .retry = true };
	struct reg_resp resp;
	int r = -1;

	*code = NULL;
	if (reg_do(k, &rq, &resp, err) < 0)
		goto out;
	*status = resp.status;
	if (resp.status == 201) {
		r = 0;
	} else {
		json_t *doc = json_loadb(resp.err_body.data, resp.err_body.len, 0, NULL);
		const char *c = json_string_value(json_object_get(json_array_get(json_object_get(doc, "errors"), 0),
								  "code"));
		*code = c ? cn_xstrdup(c) : NULL;
		json_decref(doc);
		reg_status_error(&rq, &resp, err);
	}
out:
	reg_resp_free(&resp);
	return r;
}

/* DATA with config.mediaType the standard image config's (heap, NULL when
 * DATA is no manifest or already says so). */
static char *with_standard_config_type(const void *data, size_t len, size_t *out_len)
{
	json_t *doc = json_loadb(data, len, 0, NULL);
	json_t *cfg = json_object_get(doc, "config");
	const char *mt = json_string_value(json_object_get(cfg, "mediaType"));
	char *out = NULL;
	if (json_is_object(cfg) && (!mt || strcmp(mt, MT_OCI_CONFIG) != 0) &&
	    json_object_set_new(cfg, "mediaType", json_string(MT_OCI_CONFIG)) == 0)
		out = json_dumps(doc, JSON_COMPACT);    /* keys stay in their order */
	json_decref(doc);
	if (out)
		*out_len = strlen(out);
	return out;
}

int reg_cache_put_manifest(struct reg_cache *rc, const void *data, size_t len, cn_err *err)
{
	_cleanup_free_ char *url = NULL, *code = NULL, *retry = NULL;
	char digest[CN_DIGEST_STR_SIZE];
	struct reg_conn k;
	size_t retry_len = 0;
	long status = 0;
	int r;

	if (need_push(rc, "put manifest", err) < 0)
		return -1;
	if (len > REG_MAX_MANIFEST)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "cache manifest: %zu bytes, registries take at most %u",
				  len, REG_MAX_MANIFEST);
	url = cn_xasprintf("/v2/%s/manifests/%s", rc->ref.path, rc->ref.tag);
	if (conn_take(rc, &k, err) < 0)
		return -1;
	r = put_manifest_once(&k, url, data, len, &status, &code, err);
	/* Some registries accept only the config media types they know (400
	 * MANIFEST_INVALID or 415). The cache stays recognisable by its
	 * org.cairn.buildcache.version annotation, so the same manifest with
	 * the standard image config type is as good: one more try with that.
	 * Not for missing blobs: no media type changes those. */
	if (r < 0 && (status == 400 || status == 415) &&
	    !(code && (strcmp(code, "MANIFEST_BLOB_UNKNOWN") == 0 || strcmp(code, "BLOB_UNKNOWN") == 0)) &&
	    (retry = with_standard_config_type(data, len, &retry_len))) {
		cn_err first = *err;
		long status2 = 0;
		free(code);
		code = NULL;
		r = put_manifest_once(&k, url, retry, retry_len, &status2, &code, err);
		if (r == 0) {
			data = retry;
			len = retry_len;
		} else {
			cn_err again = *err;
			size_t used = strlen(first.msg);
			*err = first;
			if (status2)
				snprintf(err->msg + used, sizeof(err->msg) - used, " (and HTTP %ld again with config "
					 "type %s)", status2, MT_OCI_CONFIG);
			else
				snprintf(err->msg + used, sizeof(err->msg) - used, " (and again with config type %s: "
					 "%.300s)", MT_OCI_CONFIG, again.msg);
		}
	}
	conn_give(rc, &k);
	if (r < 0)
		return -1;
	count(&rc->bytes_out, len);
	cn_sha256_oneshot(data, len, digest);
	reg_report(&rc->c, REG_MANIFEST, digest, len, len);
	return 0;
}
