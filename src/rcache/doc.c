#include "rcache/doc.h"
#include "store/image_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <jansson.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#define RC_DOC_VERSION 1

/* ---- lookups: records sorted by key, states by digest ---- */

/* Index of the first of N elements of SIZE bytes (sorted by the string at
 * OFFSET in each) whose string is not below KEY. */
static size_t lower_bound(const void *base, size_t n, size_t size, size_t offset, const char *key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp((const char *)base + mid * size + offset, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t record_pos(const struct rc_doc *d, const char *key)
{
	return lower_bound(d->records, d->nrecords, sizeof(*d->records), offsetof(struct rc_record, key), key);
}

static size_t state_pos(const struct rc_doc *d, const char *digest)
{
	return lower_bound(d->states, d->nstates, sizeof(*d->states), offsetof(struct rc_state, digest), digest);
}

/* Index of the state DIGEST, or -1. */
static ssize_t state_index(const struct rc_doc *d, const char *digest)
{
	size_t i = state_pos(d, digest);
	return i < d->nstates && strcmp(d->states[i].digest, digest) == 0 ? (ssize_t)i : -1;
}

const struct rc_record *rc_doc_find(const struct rc_doc *d, const char *key)
{
	size_t i;
	if (!key)
		return NULL;
	i = record_pos(d, key);
	return i < d->nrecords && strcmp(d->records[i].key, key) == 0 ? &d->records[i] : NULL;
}

const struct rc_state *rc_doc_state(const struct rc_doc *d, const char *digest)
{
	ssize_t i = digest ? state_index(d, digest) : -1;
	return i < 0 ? NULL : &d->states[i];
}

static int cmp_record(const void *a, const void *b)
{
	return strcmp(((const struct rc_record *)a)->key, ((const struct rc_record *)b)->key);
}

static int cmp_state(const void *a, const void *b)
{
	return strcmp(((const struct rc_state *)a)->digest, ((const struct rc_state *)b)->digest);
}

/* ---- freeing ---- */

static void state_free(struct rc_state *s)
{
	free(s->manifest);
	free(s->config);
	free(s->layers);
	memset(s, 0, sizeof(*s));
}

void rc_doc_free(struct rc_doc *d)
{
	for (size_t i = 0; i < d->nrecords; i++)
		free(d->records[i].stage);
	for (size_t i = 0; i < d->nstates; i++)
		state_free(&d->states[i]);
	free(d->records);
	free(d->states);
	memset(d, 0, sizeof(*d));
}

/* ---- checks shared by parse and the add functions ---- */

/* A stage name: 1 to RC_DOC_MAX_STAGE bytes of UTF-8, no control characters. */
static int check_stage(const char *stage, size_t len, cn_err *err)
{
	json_t *j;
	if (len == 0 || len > RC_DOC_MAX_STAGE)
		return cn_err_fail(err, CN_ERR_INVALID, "the stage name is empty or longer than %d bytes",
				  RC_DOC_MAX_STAGE);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)stage[i] < 0x20 || stage[i] == 0x7f)
			return cn_err_fail(err, CN_ERR_INVALID, "a control character in the stage name");
	/* Serializing needs UTF-8 (jansson refuses anything else). */
	j = json_stringn(stage, len);
	if (!j)
		return cn_err_fail(err, CN_ERR_INVALID, "the stage name is not UTF-8");
	json_decref(j);
	return 0;
}

static json_t *load_object(const char *data, size_t len, const char *what, const char *digest, cn_err *err)
{
	json_error_t je;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		cn_err_fail(err, CN_ERR_INVALID, "manifest %s: the %s is not a JSON object%s%s%s", digest, what,
			    j ? "" : " (", j ? "" : je.text, j ? "" : ")");
		return NULL;
	}
	return j;
}

/* Check a state's bytes and fill S from them (owned by S): the manifest is
 * an image manifest whose config descriptor names these config bytes, and
 * whose layers the store accepts (store_image_parse_manifest: the same
 * check store_image_load makes, so a state the document holds is one the
 * store can hold). Errors start "manifest DIGEST: ". */
static int state_load(struct rc_state *s, const char *manifest, size_t mlen, const char *config, size_t clen,
		      cn_err *err)
{
	struct store_image img = { 0 };
	char cfg_digest[CN_DIGEST_STR_SIZE];
	const char *cd;
	memset(s, 0, sizeof(*s));
	cn_sha256_oneshot(manifest, mlen, s->digest);
	if (mlen > RC_DOC_MAX_MANIFEST || clen > STORE_MAX_JSON)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "manifest %s: the %s is over %zu bytes", s->digest,
				  mlen > RC_DOC_MAX_MANIFEST ? "manifest" : "config",
				  mlen > RC_DOC_MAX_MANIFEST ? RC_DOC_MAX_MANIFEST : (size_t)STORE_MAX_JSON);
	if (memchr(manifest, '\0', mlen) || memchr(config, '\0', clen))
		return cn_err_fail(err, CN_ERR_INVALID, "manifest %s: a NUL byte in the %s", s->digest,
				  memchr(manifest, '\0', mlen) ? "manifest" : "config");
	memcpy(img.manifest_digest, s->digest, CN_DIGEST_STR_SIZE);
	img.manifest = load_object(manifest, mlen, "manifest", s->digest, err);
	if (!img.manifest)
		goto fail;
	img.config = load_object(config, clen, "config", s->digest, err);
	if (!img.config)
		goto fail;
	cd = json_string_value(json_object_get(json_object_get(img.manifest, "config"), "digest"));
	if (!cn_digest_valid(cd)) {
		cn_err_fail(err, CN_ERR_INVALID, "manifest %s: the config digest is not sha256:<64 hex>", s->digest);
		goto fail;
	}
	cn_sha256_oneshot(config, clen, cfg_digest);
	if (strcmp(cd, cfg_digest) != 0) {
		cn_err_fail(err, CN_ERR_CORRUPT, "manifest %s: names config %s, but the config's bytes are %s",
			    s->digest, cd, cfg_digest);
		goto fail;
	}
	if (store_image_parse_manifest(&img, clen, err) < 0)
		goto fail;
	memcpy(s->config_digest, cfg_digest, CN_DIGEST_STR_SIZE);
	s->layers = CN_TAKE_PTR(img.layers);
	s->nlayers = img.nlayers;
	s->manifest = cn_xstrndup(manifest, mlen);
	s->manifest_len = mlen;
	s->config = cn_xstrndup(config, clen);
	s->config_len = clen;
	store_image_free(&img);
	return 0;
fail:
	store_image_free(&img);
	return -1;
}

/* ---- parse ---- */

/* Member NAME of O as a string without NUL bytes (jansson allows \u0000
 * only with JSON_ALLOW_NUL, but a C string must not be cut short). */
static const char *str_member(json_t *o, const char *name, size_t *len)
{
	json_t *v = json_object_get(o, name);
	const char *s = json_string_value(v);
	if (!s || strlen(s) != json_string_length(v))
		return NULL;
	if (len)
		*len = json_string_length(v);
	return s;
}

static int parse_state(json_t *o, size_t n, struct rc_state *s, cn_err *err)
{
	const char *digest = str_member(o, "digest", NULL), *m, *c;
	size_t mlen, clen;
	if (!json_is_object(o))
		return cn_err_fail(err, CN_ERR_INVALID, "state %zu: not an object", n);
	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "state %zu: no digest (sha256:<64 hex>)", n);
	m = str_member(o, "manifest", &mlen);
	c = str_member(o, "config", &clen);
	if (!m || !c)
		return cn_err_fail(err, CN_ERR_INVALID, "state %zu: no %s string", n, m ? "config" : "manifest");
	if (state_load(s, m, mlen, c, clen, err) < 0)
		return cn_err_wrap(err, "state %zu", n);
	if (strcmp(s->digest, digest) != 0) {
		cn_err_fail(err, CN_ERR_CORRUPT, "state %zu: named %s, but its manifest's bytes are %s", n, digest,
			    s->digest);
		state_free(s);
		return -1;
	}
	return 0;
}

static int parse_states(json_t *arr, struct rc_doc *d, cn_err *err)
{
	size_t i;
	json_t *o;
	d->states = cn_xcalloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof(*d->states));
	json_array_foreach(arr, i, o) {
		if (parse_state(o, i + 1, &d->states[i], err) < 0)
			return -1;
		d->nstates++;
	}
	qsort(d->states, d->nstates, sizeof(*d->states), cmp_state);
	for (i = 1; i < d->nstates; i++)
		if (strcmp(d->states[i - 1].digest, d->states[i].digest) == 0)
			return cn_err_fail(err, CN_ERR_INVALID, "state %s appears twice", d->states[i].digest);
	return 0;
}

static int parse_record(json_t *o, size_t n, const struct rc_doc *d, struct rc_record *r, cn_err *err)
{
	const char *key = str_member(o, "key", NULL), *state = str_member(o, "state", NULL), *stage;
	json_t *created = json_object_get(o, "created");
	size_t len;
	if (!json_is_object(o))
		return cn_err_fail(err, CN_ERR_INVALID, "record %zu: not an object", n);
	if (!cn_digest_valid(key) || !cn_digest_valid(state))
		return cn_err_fail(err, CN_ERR_INVALID, "record %zu: the %s is not sha256:<64 hex>", n,
				  cn_digest_valid(key) ? "state" : "key");
	stage = str_member(o, "stage", &len);
	if (!stage)
		return cn_err_fail(err, CN_ERR_INVALID, "record %zu: no stage string", n);
	if (check_stage(stage, len, err) < 0)
		return cn_err_wrap(err, "record %zu", n);
	if (!json_is_integer(created) || json_integer_value(created) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "record %zu: created is not a non-negative integer", n);
	if (state_index(d, state) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "record %zu: state %s is not in the document", n, state);
	memcpy(r->key, key, CN_DIGEST_STR_SIZE);
	memcpy(r->state, state, CN_DIGEST_STR_SIZE);
	r->stage = cn_xstrndup(stage, len);
	r->created = json_integer_value(created);
	return 0;
}

static int parse_records(json_t *arr, struct rc_doc *d, cn_err *err)
{
	size_t i;
	json_t *o;
	d->records = cn_xcalloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof(*d->records));
	json_array_foreach(arr, i, o) {
		if (parse_record(o, i + 1, d, &d->records[i], err) < 0)
			return -1;
		d->nrecords++;
	}
	qsort(d->records, d->nrecords, sizeof(*d->records), cmp_record);
	for (i = 1; i < d->nrecords; i++)
		if (strcmp(d->records[i - 1].key, d->records[i].key) == 0)
			return cn_err_fail(err, CN_ERR_INVALID, "the key %s has two records", d->records[i].key);
	return 0;
}

static int parse_root(json_t *root, struct rc_doc *d, cn_err *err)
{
	json_t *version = json_object_get(root, "version");
	json_t *records = json_object_get(root, "records"), *states = json_object_get(root, "states");
	if (!json_is_integer(version))
		return cn_err_fail(err, CN_ERR_INVALID, "no version");
	if (json_integer_value(version) != RC_DOC_VERSION)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "version %lld (cairn reads version %d)",
				  (long long)json_integer_value(version), RC_DOC_VERSION);
	if (!json_is_array(records) || !json_is_array(states))
		return cn_err_fail(err, CN_ERR_INVALID, "no %s array", json_is_array(records) ? "states" : "records");
	if (json_array_size(records) > RC_DOC_MAX_RECORDS)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "%zu records (at most %d)", json_array_size(records),
				  RC_DOC_MAX_RECORDS);
	if (json_array_size(states) > RC_DOC_MAX_STATES)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "%zu states (at most %d)", json_array_size(states),
				  RC_DOC_MAX_STATES);
	if (parse_states(states, d, err) < 0 || parse_records(records, d, err) < 0)
		return -1;
	return 0;
}

int rc_doc_parse(const void *data, size_t len, struct rc_doc *out, cn_err *err)
{
	json_error_t je;
	json_t *root;
	int r;
	memset(out, 0, sizeof(*out));
	if (len > RC_DOC_MAX)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "cache document: %zu bytes (at most %zu)", len, RC_DOC_MAX);
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		if (!root)
			return cn_err_fail(err, CN_ERR_INVALID, "cache document: not JSON (line %d: %s)", je.line,
					  je.text);
		return cn_err_fail(err, CN_ERR_INVALID, "cache document: not a JSON object");
	}
	r = parse_root(root, out, err);
	json_decref(root);
	if (r < 0) {
		rc_doc_free(out);
		return cn_err_wrap(err, "cache document");
	}
	return 0;
}

/* ---- serialize ---- */

char *rc_doc_serialize(const struct rc_doc *d, size_t *len)
{
	json_t *root = json_object(), *records = json_array(), *states = json_array();
	char *out;
	for (size_t i = 0; i < d->nrecords; i++) {
		const struct rc_record *r = &d->records[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "key", r->key, "state", r->state, "stage", r->stage,
				      "created", (json_int_t)r->created);
		/* Every string was checked as it came in (UTF-8, no NUL). */
		if (!o || json_array_append_new(records, o) < 0)
			cn_fatal("rc_doc_serialize: a record cannot be encoded");
	}
	for (size_t i = 0; i < d->nstates; i++) {
		const struct rc_state *s = &d->states[i];
		json_t *o = json_pack("{s:s, s:s%, s:s%}", "digest", s->digest, "manifest", s->manifest,
				      s->manifest_len, "config", s->config, s->config_len);
		if (!o || json_array_append_new(states, o) < 0)
			cn_fatal("rc_doc_serialize: a state cannot be encoded");
	}
	if (json_object_set_new(root, "version", json_integer(RC_DOC_VERSION)) < 0 ||
	    json_object_set_new(root, "records", records) < 0 || json_object_set_new(root, "states", states) < 0)
		cn_fatal("rc_doc_serialize: out of memory");
	/* Sorted arrays and sorted keys: the same content, the same bytes
	 * (and so the same digest: a push of an unchanged cache is a no-op). */
	out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (!out)
		cn_fatal("rc_doc_serialize: out of memory");
	if (len)
		*len = strlen(out);
	return out;
}

/* ---- building ---- */

int rc_doc_add_state(struct rc_doc *d, const void *manifest, size_t manifest_len, const void *config,
		     size_t config_len, cn_err *err)
{
	struct rc_state s;
	size_t pos;
	if (state_load(&s, manifest, manifest_len, config, config_len, err) < 0)
		return -1;
	pos = state_pos(d, s.digest);
	if (pos < d->nstates && strcmp(d->states[pos].digest, s.digest) == 0) {
		state_free(&s);
		return 0;
	}
	if (d->nstates >= RC_DOC_MAX_STATES) {
		state_free(&s);
		return cn_err_fail(err, CN_ERR_TOO_BIG, "cache document: more than %d states", RC_DOC_MAX_STATES);
	}
	d->states = cn_xrealloc(d->states, (d->nstates + 1) * sizeof(*d->states));
	memmove(&d->states[pos + 1], &d->states[pos], (d->nstates - pos) * sizeof(*d->states));
	d->states[pos] = s;
	d->nstates++;
	return 0;
}

int rc_doc_add_record(struct rc_doc *d, const char *key, const char *state, const char *stage,
		      long long created, cn_err *err)
{
	struct rc_record *r;
	size_t pos;
	if (!cn_digest_valid(key))
		return cn_err_fail(err, CN_ERR_INVALID, "cache record: invalid key '%s'", key ? key : "");
	if (!cn_digest_valid(state) || state_index(d, state) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "cache record %s: state %s is not in the document", key,
				  state ? state : "");
	if (!stage)
		return cn_err_fail(err, CN_ERR_INVALID, "cache record %s: no stage", key);
	if (check_stage(stage, strlen(stage), err) < 0)
		return cn_err_wrap(err, "cache record %s", key);
	if (created < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "cache record %s: created %lld is negative", key, created);
	pos = record_pos(d, key);
	if (pos < d->nrecords && strcmp(d->records[pos].key, key) == 0) {
		r = &d->records[pos];
		free(r->stage);
	} else {
		if (d->nrecords >= RC_DOC_MAX_RECORDS)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "cache document: more than %d records",
					  RC_DOC_MAX_RECORDS);
		d->records = cn_xrealloc(d->records, (d->nrecords + 1) * sizeof(*d->records));
		memmove(&d->records[pos + 1], &d->records[pos], (d->nrecords - pos) * sizeof(*d->records));
		d->nrecords++;
		r = &d->records[pos];
		memcpy(r->key, key, CN_DIGEST_STR_SIZE);
	}
	memcpy(r->state, state, CN_DIGEST_STR_SIZE);
	r->stage = cn_xstrdup(stage);
	r->created = created;
	return 0;
}

/* ---- layers ---- */

const struct store_layer *rc_doc_layer(const struct rc_doc *d, const char *digest)
{
	/* A scan: callers ask for the few layers of a hit, not in bulk. */
	for (size_t i = 0; digest && i < d->nstates; i++)
		for (size_t j = 0; j < d->states[i].nlayers; j++)
			if (strcmp(d->states[i].layers[j].digest, digest) == 0)
				return &d->states[i].layers[j];
	return NULL;
}

/* A layer and its place among all of D's (states in digest order, each
 * state's layers in manifest order), so that a blob several states name
 * is given as the first of them names it. */
struct layer_at {
	const struct store_layer *l;
	size_t seq;
};

static int cmp_layer_at(const void *a, const void *b)
{
	const struct layer_at *x = a, *y = b;
	int c = strcmp(x->l->digest, y->l->digest);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

size_t rc_doc_layers(const struct rc_doc *d, struct store_layer **out)
{
	_cleanup_free_ struct layer_at *all = NULL;
	size_t n = 0, total = 0, nout = 0;
	for (size_t i = 0; i < d->nstates; i++)
		total += d->states[i].nlayers;
	*out = NULL;
	if (total == 0)
		return 0;
	all = cn_xcalloc(total, sizeof(*all));
	for (size_t i = 0; i < d->nstates; i++)
		for (size_t j = 0; j < d->states[i].nlayers; j++, n++) {
			all[n].l = &d->states[i].layers[j];
			all[n].seq = n;
		}
	qsort(all, n, sizeof(*all), cmp_layer_at);
	*out = cn_xcalloc(n, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		if (nout == 0 || strcmp((*out)[nout - 1].digest, all[i].l->digest) != 0)
			(*out)[nout++] = *all[i].l;
	return nout;
}

/* ---- merge, bound, filter ---- */

/* Drop the states no record names. */
static void drop_unused_states(struct rc_doc *d)
{
	_cleanup_free_ bool *used = cn_xcalloc(d->nstates ? d->nstates : 1, sizeof(*used));
	size_t n = 0;
	for (size_t i = 0; i < d->nrecords; i++) {
		ssize_t s = state_index(d, d->records[i].state);
		if (s >= 0)
			used[s] = true;
	}
	for (size_t i = 0; i < d->nstates; i++) {
		if (used[i])
			d->states[n++] = d->states[i];
		else
			state_free(&d->states[i]);
	}
	d->nstates = n;
}

/* Keep the records KEEP marks (order, and so sortedness, kept). */
static void keep_records(struct rc_doc *d, const bool *keep)
{
	size_t n = 0;
	for (size_t i = 0; i < d->nrecords; i++) {
		if (keep[i])
			d->records[n++] = d->records[i];
		else
			free(d->records[i].stage);
	}
	d->nrecords = n;
}

/* Most recent first; ties by key. */
static int cmp_recent(const void *a, const void *b)
{
	const struct rc_record *x = *(const struct rc_record *const *)a;
	const struct rc_record *y = *(const struct rc_record *const *)b;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int cmp_stage_recent(const void *a, const void *b)
{
	const struct rc_record *x = *(const struct rc_record *const *)a;
	const struct rc_record *y = *(const struct rc_record *const *)b;
	int c = strcmp(x->stage, y->stage);
	return c ? c : cmp_recent(a, b);
}

static struct rc_state state_copy(const struct rc_state *s)
{
	struct rc_state c = *s;
	c.manifest = cn_xstrndup(s->manifest, s->manifest_len);
	c.config = cn_xstrndup(s->config, s->config_len);
	c.layers = cn_xcalloc(s->nlayers ? s->nlayers : 1, sizeof(*c.layers));
	memcpy(c.layers, s->layers, s->nlayers * sizeof(*c.layers));
	return c;
}

int rc_doc_merge(struct rc_doc *d, const struct rc_doc *older, cn_err *err)
{
	_cleanup_free_ const struct rc_record **add = cn_xcalloc(older->nrecords + 1, sizeof(*add));
	_cleanup_free_ bool *need = cn_xcalloc(older->nstates + 1, sizeof(*need));
	size_t nadd = 0, nneed = 0, room;
	for (size_t i = 0; i < older->nrecords; i++) {
		const struct rc_record *r = &older->records[i];
		if (rc_doc_find(d, r->key))
			continue;
		if (state_index(older, r->state) < 0)
			return cn_err_fail(err, CN_ERR_INVALID, "cache record %s: state %s is not in the document",
					  r->key, r->state);
		add[nadd++] = r;
	}
	/* Past the cap, the most recent of OLDER's records join. */
	room = d->nrecords < RC_DOC_MAX_RECORDS ? RC_DOC_MAX_RECORDS - d->nrecords : 0;
	if (nadd > room) {
		qsort(add, nadd, sizeof(*add), cmp_recent);
		nadd = room;
	}
	for (size_t i = 0; i < nadd; i++) {
		ssize_t s = state_index(older, add[i]->state);
		if (state_index(d, add[i]->state) < 0 && !need[s]) {
			need[s] = true;
			nneed++;
		}
	}
	if (d->nstates + nneed > RC_DOC_MAX_STATES)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "cache document: more than %d states", RC_DOC_MAX_STATES);
	if (nneed) {
		d->states = cn_xrealloc(d->states, (d->nstates + nneed) * sizeof(*d->states));
		for (size_t i = 0; i < older->nstates; i++)
			if (need[i])
				d->states[d->nstates++] = state_copy(&older->states[i]);
		qsort(d->states, d->nstates, sizeof(*d->states), cmp_state);
	}
	if (nadd) {
		d->records = cn_xrealloc(d->records, (d->nrecords + nadd) * sizeof(*d->records));
		for (size_t i = 0; i < nadd; i++) {
			struct rc_record *r = &d->records[d->nrecords++];
			*r = *add[i];
			r->stage = cn_xstrdup(add[i]->stage);
		}
		qsort(d->records, d->nrecords, sizeof(*d->records), cmp_record);
	}
	return 0;
}

void rc_doc_bound(struct rc_doc *d, size_t per_stage)
{
	_cleanup_free_ struct rc_record **by = cn_xcalloc(d->nrecords + 1, sizeof(*by));
	_cleanup_free_ bool *keep = cn_xcalloc(d->nrecords + 1, sizeof(*keep));
	size_t run = 0;
	for (size_t i = 0; i < d->nrecords; i++)
		by[i] = &d->records[i];
	qsort(by, d->nrecords, sizeof(*by), cmp_stage_recent);
	for (size_t i = 0; i < d->nrecords; i++) {
		run = i > 0 && strcmp(by[i - 1]->stage, by[i]->stage) == 0 ? run + 1 : 0;
		if (run < per_stage)
			keep[by[i] - d->records] = true;
	}
	keep_records(d, keep);
	drop_unused_states(d);
}

void rc_doc_filter(struct rc_doc *d, bool (*keep)(void *ctx, const struct store_layer *l), void *ctx)
{
	_cleanup_free_ bool *gone = cn_xcalloc(d->nstates + 1, sizeof(*gone));
	_cleanup_free_ bool *kept = cn_xcalloc(d->nrecords + 1, sizeof(*kept));
	for (size_t i = 0; i < d->nstates; i++)
		for (size_t j = 0; j < d->states[i].nlayers && !gone[i]; j++)
			gone[i] = !keep(ctx, &d->states[i].layers[j]);
	for (size_t i = 0; i < d->nrecords; i++) {
		ssize_t s = state_index(d, d->records[i].state);
		kept[i] = s >= 0 && !gone[s];
	}
	keep_records(d, kept);
	drop_unused_states(d);
}

#define MT_DOCKER_IMAGE_CONFIG "application/vnd.docker.container.image.v1+json"

int rc_doc_descriptor(const void *manifest, size_t len, char digest[CN_DIGEST_STR_SIZE], uint64_t *size,
		      bool *is_image, cn_err *err)
{
	json_t *m = json_loadb(manifest, len, 0, NULL), *cfg;
	const char *mt, *d, *mark;
	int r = -1;
	if (!json_is_object(m)) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "its manifest is not JSON");
		goto out;
	}
	mt = json_string_value(json_object_get(m, "mediaType"));
	if (mt && strcmp(mt, MT_OCI_MANIFEST) != 0) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "not a cairn build cache (a %s)", mt);
		goto out;
	}
	cfg = json_object_get(m, "config");
	mt = json_string_value(json_object_get(cfg, "mediaType"));
	mark = json_string_value(json_object_get(json_object_get(m, "annotations"), "org.cairn.buildcache.version"));
	/* An image: its config may carry an inline cache (type=inline). */
	*is_image = mt && !mark && (strcmp(mt, MT_OCI_CONFIG) == 0 || strcmp(mt, MT_DOCKER_IMAGE_CONFIG) == 0);
	if (!mt || (strcmp(mt, RC_DOC_MEDIA_TYPE) != 0 && !(strcmp(mt, MT_OCI_CONFIG) == 0 && mark) && !*is_image)) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "not a cairn build cache (its config is %s)", mt ? mt : "untyped");
		goto out;
	}
	d = json_string_value(json_object_get(cfg, "digest"));
	if (!cn_digest_valid(d) || !store_descriptor_size(cfg, size) || *size > (*is_image ? STORE_MAX_JSON : RC_DOC_MAX)) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "its manifest names no valid cache document");
		goto out;
	}
	memcpy(digest, d, CN_DIGEST_STR_SIZE);
	r = 0;
out:
	json_decref(m);
	return r;
}
