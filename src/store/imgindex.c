/* Image indexes in the store (see imgindex.h). */
#include "store/imgindex.h"
#include "store/image.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <string.h>

#define MT_DOCKER_MANIFEST_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST_V2 "application/vnd.docker.distribution.manifest.list.v2+json"

bool store_index_doc_is(const json_t *doc)
{
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));
	if (mt)
		return !strcmp(mt, MT_OCI_IMAGE_INDEX) || !strcmp(mt, MT_DOCKER_LIST_V2);
	return json_is_array(json_object_get(doc, "manifests")) && !json_object_get(doc, "layers");
}

static json_t *load_doc(struct store *st, const char *digest, cn_err *err)
{
	_cleanup_buf_ cn_buf b;
	json_t *doc;
	cn_buf_init(&b, STORE_MAX_JSON);
	if (store_blob_get(st, digest, STORE_MAX_JSON, &b, err) < 0)
		return NULL;
	doc = json_loadb(b.data, b.len, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		cn_err_fail(err, CN_ERR_CORRUPT, "%s is not a JSON object", digest);
		return NULL;
	}
	return doc;
}

bool store_index_blob_is(struct store *st, const char *digest)
{
	cn_err ignored;
	json_t *doc;
	bool r;
	if (!cn_digest_valid(digest) || !store_blob_exists(st, digest))
		return false;
	doc = load_doc(st, digest, &ignored);
	r = doc && store_index_doc_is(doc);
	json_decref(doc);
	return r;
}

/* Not an attestation (BuildKit's), not an unknown media type (the image
 * spec says to ignore those). */
static bool pickable(json_t *m)
{
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	const char *kind = json_string_value(json_object_get(json_object_get(m, "annotations"),
							     "vnd.docker.reference.type"));
	if (kind && !strcmp(kind, "attestation-manifest"))
		return false;
	return !mt || !strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST_V2);
}

int store_index_select(json_t *index, const struct cn_platform *want_in, char out[CN_DIGEST_STR_SIZE],
		       cn_err *err)
{
	struct cn_platform want, ep;
	char wants[CN_PLATFORM_STR], best_variant[CN_PLATFORM_FIELD] = "";
	const char *best = NULL;
	int best_rank = 0;
	json_t *m;
	size_t i;
	_cleanup_buf_ cn_buf seen;
	cn_buf_init(&seen, 4096);
	if (want_in)
		want = *want_in;
	else
		cn_platform_host_get(&want);
	cn_platform_format(&want, wants);
	json_array_foreach(json_object_get(index, "manifests"), i, m) {
		json_t *p = json_object_get(m, "platform");
		const char *mos = json_string_value(json_object_get(p, "os"));
		const char *march = json_string_value(json_object_get(p, "architecture"));
		const char *mvar = json_string_value(json_object_get(p, "variant"));
		const char *d = json_string_value(json_object_get(m, "digest"));
		int rank;
		if (!mos || !march || !pickable(m))
			continue;
		cn_buf_addf(&seen, "%s%s/%s%s%s", seen.len ? ", " : "", mos, march, mvar ? "/" : "",
			    mvar ? mvar : "");
		if (!cn_platform_set(&ep, mos, march, mvar) || strcmp(ep.os, want.os) || strcmp(ep.arch, want.arch))
			continue;
		if (!strcmp(ep.variant, want.variant))
			rank = 3;
		else if (!*want.variant)
			rank = 1;
		else if (!strcmp(want.arch, "arm") && strcmp(ep.variant, want.variant) < 0)
			rank = 2;       /* a v7 CPU runs v6 code */
		else
			continue;
		if (rank < best_rank || (rank == best_rank && (rank != 2 || strcmp(ep.variant, best_variant) <= 0)))
			continue;
		if (!cn_digest_valid(d))
			return cn_err_fail(err, CN_ERR_CORRUPT, "the index entry for %s has a bad digest", wants);
		best = d;
		best_rank = rank;
		memcpy(best_variant, ep.variant, sizeof(best_variant));
	}
	if (best) {
		memcpy(out, best, CN_DIGEST_STR_SIZE);
		return 0;
	}
	return cn_err_fail(err, CN_ERR_NOT_FOUND, "no image for %s in the index (it has: %s)", wants,
			   seen.len ? seen.data : "nothing");
}

int store_index_pick(struct store *st, const char *digest, const struct cn_platform *want,
		     char out[CN_DIGEST_STR_SIZE], cn_err *err)
{
	json_t *doc = load_doc(st, digest, err);
	int r;
	if (!doc)
		return -1;
	r = store_index_select(doc, want, out, err);
	json_decref(doc);
	return r;
}

int store_index_write(struct store *st, const char *const *digests, const uint64_t *sizes,
		      const struct cn_platform *platforms, size_t n, char digest[CN_DIGEST_STR_SIZE],
		      uint64_t *size, cn_err *err)
{
	json_t *ms = json_array(), *idx;
	_cleanup_free_ char *text = NULL;
	for (size_t i = 0; i < n; i++) {
		/* The manifest's own media type (build --format docker writes schema2). */
		cn_err ignored;
		json_t *doc = load_doc(st, digests[i], &ignored);
		const char *mt = json_string_value(json_object_get(doc, "mediaType"));
		json_t *p = json_pack("{s:s, s:s}", "architecture", platforms[i].arch, "os", platforms[i].os);
		if (*platforms[i].variant)
			json_object_set_new(p, "variant", json_string(platforms[i].variant));
		json_array_append_new(ms, json_pack("{s:s, s:s, s:I, s:o}", "mediaType", mt ? mt : MT_OCI_MANIFEST,
						    "digest", digests[i], "size", (json_int_t)sizes[i],
						    "platform", p));
		json_decref(doc);
	}
	idx = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", MT_OCI_IMAGE_INDEX, "manifests", ms);
	text = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(idx);
	if (!text)
		return cn_err_errno(err, ENOMEM, "encode the image index");
	if (store_json_fits("the image index", strlen(text), STORE_MAX_JSON, err) < 0 ||
	    store_blob_put(st, text, strlen(text), digest, err) < 0)
		return -1;
	*size = strlen(text);
	return 0;
}

int store_index_children(struct store *st, const char *digest, cn_strv *out, cn_strv *platforms, cn_err *err)
{
	json_t *doc = load_doc(st, digest, err), *m;
	size_t i;
	if (!doc)
		return -1;
	json_array_foreach(json_object_get(doc, "manifests"), i, m) {
		const char *d = json_string_value(json_object_get(m, "digest"));
		json_t *p = json_object_get(m, "platform");
		const char *var = json_string_value(json_object_get(p, "variant"));
		if (!cn_digest_valid(d) || !pickable(m))
			continue;
		cn_strv_pushdup(out, d);
		if (platforms)
			cn_strv_push(platforms, cn_xasprintf("%s/%s%s%s",
							     json_string_value(json_object_get(p, "os")) ?: "?",
							     json_string_value(json_object_get(p, "architecture")) ?: "?",
							     var ? "/" : "", var ? var : ""));
	}
	json_decref(doc);
	return 0;
}
