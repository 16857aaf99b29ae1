/* --cache-to: the states a build reached, as a cache document, merged with
 * what the cache already holds, written layers first, then the document,
 * then the manifest that names them: a reader that finds the manifest
 * finds everything it names. */
#include "rcache/rcache.h"

#include "rcache/doc.h"
#include "rcache/transport.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define RC_MAX_MANIFEST (4u << 20)
#define RC_WRITE_ROUNDS 5

/* RECORD's state (manifest and config from the store) into D; 0 when some
 * layer of it is not in the store (a state an import only named). */
static int add_record(struct store *st, struct rc_doc *d, const struct bf_cache_record *rec, long long now,
		      cn_err *err)
{
	_cleanup_buf_ cn_buf man, cfg;
	json_t *m = NULL, *l;
	const char *cfg_digest;
	size_t i;
	int r = -1;
	cn_buf_init(&man, STORE_MAX_JSON);
	cn_buf_init(&cfg, STORE_MAX_JSON);
	if (!rc_doc_state(d, rec->state)) {
		if (store_blob_get(st, rec->state, STORE_MAX_JSON, &man, err) < 0)
			return -1;
		m = json_loadb(man.data, man.len, 0, NULL);
		json_array_foreach(json_object_get(m, "layers"), i, l) {
			const char *ld = json_string_value(json_object_get(l, "digest"));
			if (!ld || !store_blob_exists(st, ld)) {
				r = 0;
				goto out;
			}
		}
		cfg_digest = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
		if (!cfg_digest || store_blob_get(st, cfg_digest, STORE_MAX_JSON, &cfg, err) < 0) {
			if (!cfg_digest)
				cn_err_fail(err, CN_ERR_CORRUPT, "state %s names no config", rec->state);
			goto out;
		}
		/* Checked there as a reader checks it. */
		if (rc_doc_add_state(d, man.data, man.len, cfg.data, cfg.len, err) < 0)
			goto out;
	}
	if (rc_doc_add_record(d, rec->key, rec->state, rec->stage, now, err) < 0)
		goto out;
	r = 1;
out:
	json_decref(m);
	return r;
}

int rc_records_doc(struct store *st, const struct bf_cache_records *recs, bool final_only, struct rc_doc *d,
		   size_t *skipped, cn_err *err)
{
	long long now = (long long)time(NULL);
	*skipped = 0;
	for (size_t i = 0; i < recs->n; i++) {
		int got;
		if (final_only && !recs->v[i].final)
			continue;
		got = add_record(st, d, &recs->v[i], now, err);
		if (got < 0)
			return -1;
		if (got == 0)
			(*skipped)++;
	}
	return 0;
}

int rc_inline_attach(void *ctx, struct store *st, const struct bf_cache_records *recs, json_t *config,
		     cn_err *err)
{
	struct rc_doc d = { 0 };
	size_t skipped, len;
	char *text;
	(void)ctx;
	if (rc_records_doc(st, recs, true, &d, &skipped, err) < 0) {
		rc_doc_free(&d);
		return cn_err_wrap(err, "--cache-to type=inline");
	}
	text = rc_doc_serialize(&d, &len);
	rc_doc_free(&d);
	if (!text)
		return cn_err_fail(err, CN_ERR_SYSTEM, "--cache-to type=inline: the cache document could not be written out");
	json_object_set_new(config, RC_INLINE_FIELD, json_stringn(text, len));
	free(text);
	return 0;
}

/* The OCI image manifest that carries a cache document. */
static char *cache_manifest(const struct rc_doc *d, const char *doc_digest, size_t doc_len, size_t *len)
{
	_cleanup_free_ struct store_layer *layers = NULL;
	size_t n = rc_doc_layers(d, &layers);
	json_t *m = json_object(), *arr = json_array(), *ann = json_object();
	char *text;
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(MT_OCI_MANIFEST));
	json_object_set_new(m, "artifactType", json_string(RC_ARTIFACT_TYPE));
	json_object_set_new(m, "config", json_pack("{s:s,s:s,s:I}", "mediaType", RC_DOC_MEDIA_TYPE, "digest",
						   doc_digest, "size", (json_int_t)doc_len));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "mediaType", layers[i].media_type, "digest",
						     layers[i].digest, "size", (json_int_t)layers[i].size));
	json_object_set_new(m, "layers", arr);
	json_object_set_new(ann, "org.cairn.buildcache.version", json_string("1"));
	json_object_set_new(m, "annotations", ann);
	text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	*len = text ? strlen(text) : 0;
	return text;
}

/* What the cache holds now: an empty document when there is none yet, or
 * a cairn cache whose document does not parse (it is replaced). Anything
 * else at the tag (an image, an index) is not overwritten, and a failure
 * to read (network, 5xx) fails the export: writing without the records
 * other builds put there would drop them. */
static int read_current(struct rc_transport *t, struct rc_doc *out, char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	_cleanup_buf_ cn_buf body, doc;
	char doc_digest[CN_DIGEST_STR_SIZE];
	uint64_t doc_size;
	bool is_image;
	cn_err why, ignored;
	int r;
	memset(out, 0, sizeof(*out));
	*digest = '\0';
	cn_buf_init(&body, RC_MAX_MANIFEST);
	cn_buf_init(&doc, RC_DOC_MAX);
	r = rc_transport_get_manifest(t, &body, digest, err);
	if (r <= 0)
		return r;
	if (rc_doc_descriptor(body.data, body.len, doc_digest, &doc_size, &is_image, &why) < 0 || is_image)
		return cn_err_fail(err, CN_ERR_CONFLICT, "%s: not overwritten",
				   is_image ? "it holds an image, not a cairn build cache" : why.msg);
	if (rc_transport_get_blob(t, doc_digest, RC_DOC_MAX, &doc, err) < 0)
		/* A document damaged or gone is replaced; a failed read is an error. */
		return cn_err_is(err, CN_ERR_CORRUPT) || cn_err_is(err, CN_ERR_NOT_FOUND) ||
		       cn_err_is(err, CN_ERR_TOO_BIG) ? 0 : -1;
	if (rc_doc_parse(doc.data, doc.len, out, &ignored) < 0)
		memset(out, 0, sizeof(*out));   /* a document that does not parse: replaced */
	return 0;
}

struct keep_ctx {
	struct rc_transport *t;
	const struct rc_doc *mine;
	cn_strv there, gone;
	size_t checks;
};

/* A layer an older record names must still be in the cache (registries
 * delete, people prune directories): its records go otherwise. */
static bool layer_kept(void *arg, const struct store_layer *l)
{
	struct keep_ctx *k = arg;
	cn_err ignored;
	if (rc_doc_layer(k->mine, l->digest))
		return true;
	for (size_t i = 0; i < k->there.n; i++)
		if (strcmp(k->there.v[i], l->digest) == 0)
			return true;
	for (size_t i = 0; i < k->gone.n; i++)
		if (strcmp(k->gone.v[i], l->digest) == 0)
			return false;
	if (k->checks++ < RC_MAX_CHECKS && rc_transport_has_blob(k->t, l->digest, &ignored) == 1) {
		cn_strv_pushdup(&k->there, l->digest);
		return true;
	}
	cn_strv_pushdup(&k->gone, l->digest);
	return false;
}

/* Every record of MINE is in THEIRS (a later writer kept them). */
static bool holds_all(const struct rc_doc *theirs, const struct rc_doc *mine)
{
	for (size_t i = 0; i < mine->nrecords; i++) {
		const struct rc_record *r = rc_doc_find(theirs, mine->records[i].key);
		if (!r || strcmp(r->state, mine->records[i].state) != 0)
			return false;
	}
	return true;
}

/* One write of MINE merged with what T holds now; *WRITTEN its manifest digest. */
static int write_merged(struct rc_transport *t, const struct rc_doc *mine, struct keep_ctx *keep,
			struct rc_export_result *res, char written[CN_DIGEST_STR_SIZE], cn_err *err)
{
	struct rc_doc cur = { 0 }, merged = { 0 };
	_cleanup_free_ char *text = NULL, *man = NULL;
	char cur_digest[CN_DIGEST_STR_SIZE], doc_digest[CN_DIGEST_STR_SIZE];
	size_t len = 0, man_len = 0;
	int r = -1;
	if (read_current(t, &cur, cur_digest, err) < 0)
		return -1;
	/* Other builds' records rank below this one's, whatever their clocks
	 * (or a hostile document) say: the bound never drops ours. */
	for (size_t i = 0; mine->nrecords && i < cur.nrecords; i++)
		if (cur.records[i].created >= mine->records[0].created)
			cur.records[i].created = mine->records[0].created - 1;
	if (rc_doc_merge(&merged, mine, err) < 0 || rc_doc_merge(&merged, &cur, err) < 0)
		goto out;
	/* The bound first: no blob is checked for a record about to go. */
	rc_doc_bound(&merged, RC_KEEP_PER_STAGE);
	rc_doc_filter(&merged, layer_kept, keep);
	text = rc_doc_serialize(&merged, &len);
	/* Past what a reader takes: fewer records per stage until it fits. */
	for (size_t per = RC_KEEP_PER_STAGE / 2; text && len > RC_DOC_MAX && per > 0; per /= 2) {
		free(text);
		rc_doc_bound(&merged, per);
		text = rc_doc_serialize(&merged, &len);
	}
	if (text && len > RC_DOC_MAX) {
		cn_err_fail(err, CN_ERR_TOO_BIG, "the cache document is over %zu MiB even with one record per stage",
			   RC_DOC_MAX >> 20);
		goto out;
	}
	if (!text) {
		cn_err_fail(err, CN_ERR_SYSTEM, "the cache document could not be written out");
		goto out;
	}
	cn_sha256_oneshot(text, len, doc_digest);
	man = cache_manifest(&merged, doc_digest, len, &man_len);
	if (!man) {
		cn_err_fail(err, CN_ERR_SYSTEM, "the cache manifest could not be written out");
		goto out;
	}
	if (rc_transport_put_blob(t, text, len, doc_digest, err) < 0 ||
	    rc_transport_put_manifest(t, man, man_len, err) < 0)
		goto out;
	cn_sha256_oneshot(man, man_len, written);
	res->records = merged.nrecords;
	r = 0;
out:
	rc_doc_free(&cur);
	rc_doc_free(&merged);
	return r;
}

/* A registry has no compare-and-swap: two runners writing one tag at once
 * can each merge what the other has not written yet. After a write, wait a
 * moment and read the tag back; if our records are not all there (a later
 * writer merged an older state), merge again. */
static int settle(struct rc_transport *t, const struct rc_doc *mine, struct keep_ctx *keep,
		  struct rc_export_result *res, const char *written, double took, cn_err *err)
{
	char cur_digest[CN_DIGEST_STR_SIZE], again[CN_DIGEST_STR_SIZE];
	for (int round = 0; round < RC_WRITE_ROUNDS; round++) {
		struct rc_doc cur = { 0 };
		unsigned short jitter = 0;
		struct timespec pause;
		bool ok;
		if (getrandom(&jitter, sizeof(jitter), 0) != (ssize_t)sizeof(jitter))
			jitter = (unsigned short)getpid();
		/* Longer than a writer that read before our write takes to write. */
		double wait = 0.2 + 2 * took + (jitter % 300) / 1000.0;
		pause.tv_sec = (time_t)wait;
		pause.tv_nsec = (long)((wait - (double)pause.tv_sec) * 1e9);
		nanosleep(&pause, NULL);
		if (read_current(t, &cur, cur_digest, err) < 0)
			return -1;
		ok = strcmp(cur_digest, written) == 0 || holds_all(&cur, mine);
		rc_doc_free(&cur);
		if (ok)
			return 0;
		if (write_merged(t, mine, keep, res, again, err) < 0)
			return -1;
		written = again;
	}
	return cn_err_fail(err, CN_ERR_BUSY, "other writers kept replacing the cache; its records may be missing");
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int rc_export(struct store *st, const struct rc_spec *spec, const struct bf_cache_records *recs,
	      const struct reg_opts *ro, struct rc_export_result *res, cn_err *err)
{
	struct rc_doc mine = { 0 };
	struct rc_transport t;
	struct keep_ctx keep = { .t = &t, .mine = &mine };
	_cleanup_free_ struct store_layer *layers = NULL;
	char written[CN_DIGEST_STR_SIZE];
	struct timespec t0;
	size_t n;
	int r = -1;
	memset(res, 0, sizeof(*res));
	memset(&t, 0, sizeof(t));
	if (rc_records_doc(st, recs, spec->mode == RC_MODE_MIN, &mine, &res->skipped, err) < 0)
		goto out;
	/* A stage of more steps than a cache keeps: its newest ones (all of
	 * ours have one time: by key), so that what is written holds all of MINE. */
	rc_doc_bound(&mine, RC_KEEP_PER_STAGE);
	if (rc_transport_open(&t, spec, ro, true, err) < 0)
		goto out;
	n = rc_doc_layers(&mine, &layers);
	if (rc_transport_push_layers(&t, st, layers, n, err) < 0)
		goto out;
	res->layers = n;
	if (rc_transport_lock(&t, err) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (write_merged(&t, &mine, &keep, res, written, err) < 0)
		goto out;
	if (spec->type != RC_LOCAL && settle(&t, &mine, &keep, res, written, seconds_since(&t0), err) < 0)
		goto out;
	res->bytes = rc_transport_bytes_out(&t);
	r = 0;
out:
	rc_transport_close(&t);
	rc_doc_free(&mine);
	cn_strv_free(&keep.there);
	cn_strv_free(&keep.gone);
	if (r < 0)
		cn_err_wrap(err, "--cache-to %s", spec->name);
	return r;
}
