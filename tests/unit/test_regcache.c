/* registry/cache.c against a real registry: CAIRN_TEST_REGISTRY (host:port,
 * plain http; t0815-regcache-unit.sh starts Debian's docker-registry) or
 * every case is skipped. What a cache user notices: an empty repository is
 * "no cache yet", not an error; layers the registry has are not sent again,
 * layers another repository has are mounted; the manifest comes back byte
 * for byte; a layer fetched into another store is verified and not
 * unpacked; a blob the registry lacks fails cleanly, leaving nothing. */
#include "registry/internal.h"
#include "registry/regcache.h"

#include "store/image.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/mem.h"
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#define MT_TGZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_CACHE_CONFIG "application/vnd.cairn.buildcache.config.v1+json"

static char base[] = "/tmp/cairn-regcache-XXXXXX";
static cn_err err;
static const char *reg;

struct seen {
	unsigned start, done, exists, mounted, manifest;
};

static void on_progress(void *ctx, const struct reg_progress *p)
{
	struct seen *s = ctx;
	switch (p->phase) {
	case REG_BLOB_START: s->start++; break;
	case REG_BLOB_DONE: s->done++; break;
	case REG_BLOB_EXISTS: s->exists++; break;
	case REG_BLOB_MOUNTED: s->mounted++; break;
	case REG_MANIFEST: s->manifest++; break;
	default: break;
	}
}

/* A tar of app/hello.txt holding TEXT, into BUF; GZIP: compressed. */
static size_t make_tar(const char *text, bool gzip, char *buf, size_t cap)
{
	size_t used = 0;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    (gzip && archive_write_add_filter_gzip(a) != ARCHIVE_OK) ||
	    archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK)
		unit_fixture_fail("tar writer");
	archive_entry_set_pathname(e, "app/hello.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (int64_t)strlen(text));
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, text, strlen(text)) != (la_ssize_t)strlen(text) ||
	    archive_write_close(a) != ARCHIVE_OK)
		unit_fixture_fail("tar: app/hello.txt");
	archive_entry_free(e);
	archive_write_free(a);
	return used;
}

/* A gzip layer blob holding TEXT in ST (not unpacked, not in any image). */
static void put_layer(struct store *st, const char *text, struct store_layer *l)
{
	static char buf[16384];
	size_t n;
	memset(l, 0, sizeof(*l));
	n = make_tar(text, false, buf, sizeof(buf));
	cn_sha256_oneshot(buf, n, l->diff_id);
	n = make_tar(text, true, buf, sizeof(buf));
	if (store_blob_put(st, buf, n, l->digest, &err) < 0)
		unit_fixture_fail("layer blob");
	l->size = n;
	snprintf(l->media_type, sizeof(l->media_type), MT_TGZ);
}

/* An image over the one layer L in ST, tagged TAG. */
static void put_image(struct store *st, const struct store_layer *l, const char *tag)
{
	struct store_image img;
	json_t *config = json_pack("{s:s, s:s, s:{s:s, s:[s]}}", "architecture", "amd64", "os", "linux",
				   "rootfs", "type", "layers", "diff_ids", l->diff_id);
	if (!config || store_image_write(st, config, l, 1, NULL, &img, &err) < 0 ||
	    store_tag_set(st, tag, img.manifest_digest, store_blob_size(st, img.manifest_digest), "test",
			  &err) < 0)
		unit_fixture_fail("image");
	json_decref(config);
	store_image_free(&img);
}

static struct reg_cache *open_cache(const char *repo, const struct reg_opts *o, bool push)
{
	_cleanup_free_ char *ref = cn_xasprintf("%s/%s", reg, repo);
	struct reg_cache *rc = NULL;
	if (reg_cache_open(ref, o, push, &rc, &err) < 0) {
		printf("# %s\n", err.msg);
		unit_fixture_fail("reg_cache_open");
	}
	return rc;
}

/* The cache manifest over DOC (config) and LAYERS, as the exporter writes it. */
static char *cache_manifest(const char *doc_digest, size_t doc_size, const struct store_layer *layers, size_t n)
{
	json_t *ls = json_array();
	json_t *m;
	char *s;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ls, json_pack("{s:s, s:s, s:I}", "mediaType", layers[i].media_type, "digest",
						    layers[i].digest, "size", (json_int_t)layers[i].size));
	m = json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:I}, s:o, s:{s:s}}", "schemaVersion", 2, "mediaType",
		      MT_OCI_MANIFEST, "artifactType", "application/vnd.cairn.buildcache.v1", "config", "mediaType",
		      MT_CACHE_CONFIG, "digest", doc_digest, "size", (json_int_t)doc_size, "layers", ls,
		      "annotations", "org.cairn.buildcache.version", "1");
	if (!m)
		unit_fixture_fail("manifest");
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return s;
}

static void test_roundtrip(struct store *st, struct store *st2)
{
	struct seen seen = { 0 };
	struct reg_opts o = { .tls_verify = true, .jobs = 2, .progress = on_progress, .progress_ctx = &seen };
	struct reg_cache *rc = open_cache("cache/app:build", &o, true), *ro;
	struct store_layer ls[2], missing;
	_cleanup_buf_ cn_buf body, blob;
	_cleanup_free_ char *man = NULL, *pinned = NULL;
	const char *doc = "{\"version\":1,\"records\":[]}";
	char doc_digest[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE], want[CN_DIGEST_STR_SIZE];
	uint64_t out0;
	int r;

	cn_buf_init(&body, 0);
	cn_buf_init(&blob, 0);
	r = reg_cache_get_manifest(rc, &body, got, &err);
	UNIT_CHECK(r == 0, "a tag nobody exported to is 'no cache yet' (0): %s", r < 0 ? err.msg : "ok");

	put_layer(st, "layer one\n", &ls[0]);
	r = reg_cache_has_blob(rc, ls[0].digest, &err);
	UNIT_CHECK(r == 0, "the registry lacks a new layer (has_blob 0): %s", r < 0 ? err.msg : "ok");
	r = reg_cache_push_layers(rc, st, ls, 1, &err);
	UNIT_CHECK(r == 0, "push_layers sends it: %s", r < 0 ? err.msg : "ok");
	UNIT_CHECK(reg_cache_bytes_out(rc) == ls[0].size, "... counting its %llu bytes (counted %llu)",
		   (unsigned long long)ls[0].size, (unsigned long long)reg_cache_bytes_out(rc));
	UNIT_CHECK(seen.start == 1 && seen.done == 1, "... with progress reports (start %u, done %u)", seen.start,
		   seen.done);
	r = reg_cache_has_blob(rc, ls[0].digest, &err);
	UNIT_CHECK(r == 1, "then has_blob says the registry has it: %d %s", r, r < 0 ? err.msg : "");
	out0 = reg_cache_bytes_out(rc);
	r = reg_cache_push_layers(rc, st, ls, 1, &err);
	UNIT_CHECK(r == 0 && reg_cache_bytes_out(rc) == out0 && seen.exists == 1,
		   "a second push_layers sends nothing (HEAD says it is there): %s", r < 0 ? err.msg : "ok");

	/* A layer of an image another repository of this registry has: mounted. */
	{
		_cleanup_free_ char *tag = cn_xasprintf("%s/src/img:1", reg);
		struct reg_result res;
		put_layer(st, "layer two\n", &ls[1]);
		put_image(st, &ls[1], tag);
		if (reg_push(st, tag, NULL, &o, &res, &err) < 0) {
			printf("# %s\n", err.msg);
			unit_fixture_fail("push src/img:1");
		}
		reg_result_free(&res);
		seen = (struct seen){ 0 };
		r = reg_cache_push_layers(rc, st, ls, 2, &err);
		UNIT_CHECK(r == 0 && seen.mounted == 1 && seen.exists == 1,
			   "push_layers mounts a layer from another repository of the registry (mounted %u, "
			   "skipped %u): %s", seen.mounted, seen.exists, r < 0 ? err.msg : "ok");
		UNIT_CHECK(reg_cache_bytes_out(rc) == out0, "... and counts no bytes for it");
		UNIT_CHECK(reg_cache_has_blob(rc, ls[1].digest, &err) == 1, "... which the cache repository now has");
	}

	cn_sha256_oneshot(doc, strlen(doc), doc_digest);
	out0 = reg_cache_bytes_out(rc);
	r = reg_cache_put_blob(rc, doc, strlen(doc), doc_digest, &err);
	UNIT_CHECK(r == 0 && reg_cache_bytes_out(rc) == out0 + strlen(doc), "put_blob uploads the document: %s",
		   r < 0 ? err.msg : "ok");
	r = reg_cache_put_blob(rc, doc, strlen(doc), doc_digest, &err);
	UNIT_CHECK(r == 0 && reg_cache_bytes_out(rc) == out0 + strlen(doc), "... and a second time sends nothing");
	r = reg_cache_put_blob(rc, doc, strlen(doc) - 1, doc_digest, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_CORRUPT), "put_blob refuses content that is not its digest's: %s",
		   r < 0 ? err.msg : "accepted");

	man = cache_manifest(doc_digest, strlen(doc), ls, 2);
	cn_sha256_oneshot(man, strlen(man), want);
	seen = (struct seen){ 0 };
	r = reg_cache_put_manifest(rc, man, strlen(man), &err);
	UNIT_CHECK(r == 0 && seen.manifest == 1, "put_manifest writes the cache manifest under the tag: %s",
		   r < 0 ? err.msg : "ok");
	r = reg_cache_get_manifest(rc, &body, got, &err);
	UNIT_CHECK(r == 1, "get_manifest finds it: %d %s", r, r < 0 ? err.msg : "");
	UNIT_CHECK(r == 1 && body.len == strlen(man) && memcmp(body.data, man, body.len) == 0,
		   "... byte for byte as put");
	UNIT_STREQ(got, want, "... with its digest");
	r = reg_cache_get_blob(rc, doc_digest, 1 << 20, &blob, &err);
	UNIT_CHECK(r == 0 && blob.len == strlen(doc) && memcmp(blob.data, doc, blob.len) == 0,
		   "get_blob returns the document: %s", r < 0 ? err.msg : "ok");
	r = reg_cache_get_blob(rc, doc_digest, 4, &blob, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_TOO_BIG), "... but not past its MAX: %s",
		   r < 0 ? err.msg : "accepted");
	reg_cache_close(rc);

	/* Reading, pinned by digest, into an empty store. */
	pinned = cn_xasprintf("cache/app@%s", want);
	seen = (struct seen){ 0 };
	ro = open_cache(pinned, &o, false);
	r = reg_cache_get_manifest(ro, &body, got, &err);
	UNIT_CHECK(r == 1 && strcmp(got, want) == 0, "a reader pinned to the digest gets the manifest: %s",
		   r < 0 ? err.msg : "ok");
	r = reg_cache_put_blob(ro, doc, strlen(doc), doc_digest, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_INVALID), "a reader does not write: %s",
		   r < 0 ? err.msg : "accepted");
	r = reg_cache_fetch_layer(ro, st2, &ls[0], NULL, &err);
	UNIT_CHECK(r == 0, "fetch_layer brings a layer into another store: %s", r < 0 ? err.msg : "ok");
	UNIT_CHECK(store_blob_exists(st2, ls[0].digest) && store_blob_size(st2, ls[0].digest) == ls[0].size,
		   "... the blob is there with its size");
	UNIT_CHECK(!store_snapshot_exists(st2, ls[0].diff_id), "... and is not unpacked");
	UNIT_CHECK(reg_cache_bytes_in(ro) == body.len + ls[0].size, "... bytes in: manifest and layer (%llu)",
		   (unsigned long long)reg_cache_bytes_in(ro));
	r = reg_cache_fetch_layer(ro, st2, &ls[0], NULL, &err);
	UNIT_CHECK(r == 0 && seen.exists == 1 && reg_cache_bytes_in(ro) == body.len + ls[0].size,
		   "a second fetch_layer finds it in the store and moves nothing: %s", r < 0 ? err.msg : "ok");

	/* A digest the registry lacks: refused, nothing left behind. */
	missing = ls[0];
	cn_sha256_oneshot("not a layer", 11, missing.digest);
	r = reg_cache_fetch_layer(ro, st2, &missing, NULL, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_NOT_FOUND), "fetch_layer of a blob the registry lacks fails: %s",
		   r < 0 ? err.msg : "accepted");
	UNIT_CHECK(r < 0 && strstr(err.msg, missing.digest), "... naming the digest");
	UNIT_CHECK(!store_blob_exists(st2, missing.digest) && unit_count_entries(st2->tmp_fd, ".") == 0,
		   "... leaving nothing in the store");
	/* The right digest with the wrong size: the registry's blob is refused. */
	missing = ls[1];
	missing.size = ls[1].size - 1;
	r = reg_cache_fetch_layer(ro, st2, &missing, NULL, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_CORRUPT) && !store_blob_exists(st2, ls[1].digest),
		   "a layer longer than its declared size is refused: %s", r < 0 ? err.msg : "accepted");
	/* Asked to, fetch_layer unpacks while it downloads, as pull does: a
	 * layer that is not its diff_id leaves neither blob nor snapshot. */
	{
		bool unpacked = true;
		missing = ls[1];
		memcpy(missing.diff_id, ls[0].diff_id, sizeof(missing.diff_id));
		r = reg_cache_fetch_layer(ro, st2, &missing, &unpacked, &err);
		UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_CORRUPT) && !unpacked && !store_blob_exists(st2, ls[1].digest) &&
			   !store_snapshot_exists(st2, ls[0].diff_id) && unit_count_entries(st2->tmp_fd, ".") == 0,
			   "fetch_layer refuses a layer whose content is not its diff_id, keeping nothing: %s",
			   r < 0 ? err.msg : "accepted");
		r = reg_cache_fetch_layer(ro, st2, &ls[1], &unpacked, &err);
		UNIT_CHECK(r == 0 && unpacked && store_blob_exists(st2, ls[1].digest) &&
			   store_snapshot_exists(st2, ls[1].diff_id), "fetch_layer with UNPACKED unpacks it on the way: %s",
			   r < 0 ? err.msg : "ok");
		r = reg_cache_fetch_layer(ro, st2, &ls[1], &unpacked, &err);
		UNIT_CHECK(r == 0 && !unpacked, "... and says it did not when the store has the blob already: %s",
			   r < 0 ? err.msg : "ok");
	}
	r = reg_cache_get_blob(ro, missing.digest, 1 << 20, &blob, &err);
	UNIT_CHECK(r == 0, "get_blob of a layer digest works too (verified): %s", r < 0 ? err.msg : "ok");
	cn_sha256_oneshot("nothing", 7, missing.digest);
	r = reg_cache_get_blob(ro, missing.digest, 1 << 20, &blob, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_NOT_FOUND), "get_blob of a missing blob fails: %s",
		   r < 0 ? err.msg : "accepted");
	reg_cache_close(ro);
}

static void test_refusals(void)
{
	struct reg_opts o = { .tls_verify = true };
	struct reg_cache *rc = NULL;
	_cleanup_free_ char *ref = cn_xasprintf("%s/cache/x@sha256:%064d", reg, 0);
	_cleanup_buf_ cn_buf body;
	char got[CN_DIGEST_STR_SIZE];
	int r = reg_cache_open(ref, &o, true, &rc, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_INVALID) && !rc, "a digest is no place to write a cache: %s",
		   r < 0 ? err.msg : "accepted");
	cn_buf_init(&body, 0);
	rc = open_cache("nosuch/repo:t", &o, false);
	r = reg_cache_get_manifest(rc, &body, got, &err);
	UNIT_CHECK(r == 0, "a repository that does not exist is 'no cache yet' too: %s", r < 0 ? err.msg : "ok");
	reg_cache_close(rc);
}

/* An OCI image index under cache/foreign:t, PUT with the client's own
 * requests (no cache writes anything but image manifests). */
static void put_index(const struct reg_opts *o)
{
	static const char idx[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
				  "\"manifests\":[]}";
	static const char *const hdrs[] = { "Content-Type: application/vnd.oci.image.index.v1+json", NULL };
	_cleanup_free_ char *name = cn_xasprintf("%s/cache/foreign:t", reg);
	const char *scopes[] = { "repository:cache/foreign:pull,push", NULL };
	struct reg_req rq = { .method = "PUT", .url = "/v2/cache/foreign/manifests/t", .headers = hdrs,
			      .body = idx, .body_len = sizeof(idx) - 1 };
	struct reg_resp resp;
	struct reg_client c;
	struct reg_conn k;
	struct cn_ref ref;
	if (cn_ref_parse(name, &ref, &err) < 0 || reg_client_open(&c, &ref, o, scopes, &err) < 0)
		unit_fixture_fail("client for cache/foreign");
	if (reg_conn_open(&k, &c, &err) < 0 || reg_do(&k, &rq, &resp, &err) < 0 || resp.status != 201) {
		printf("# %s (HTTP %ld)\n", err.msg, resp.status);
		unit_fixture_fail("PUT cache/foreign:t");
	}
	reg_resp_free(&resp);
	reg_conn_close(&k);
	reg_client_close(&c);
	cn_ref_free(&ref);
}

static void test_foreign(void)
{
	struct reg_opts o = { .tls_verify = true };
	struct reg_cache *rc;
	_cleanup_buf_ cn_buf body;
	char got[CN_DIGEST_STR_SIZE];
	int r;
	put_index(&o);
	cn_buf_init(&body, 0);
	rc = open_cache("cache/foreign:t", &o, false);
	r = reg_cache_get_manifest(rc, &body, got, &err);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_PROTOCOL), "an image index under the tag is refused as no cache "
		   "manifest: %s", r < 0 ? err.msg : "accepted");
	reg_cache_close(rc);
}

/* PICKY (picky_registry.py) refuses the cache's own config media type:
 * the manifest goes in with the standard one, everything else kept. */
static void test_fallback(const char *picky)
{
	static const char *const repos[] = { "picky/app:t", "picky/u415/app:t" };
	struct reg_opts o = { .tls_verify = true };
	struct store_layer l = { .size = 3, .media_type = MT_TGZ };
	_cleanup_free_ char *man = NULL;
	_cleanup_buf_ cn_buf body;
	char doc_digest[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE];
	const char *saved = reg;
	struct reg_cache *rc;
	int r;

	reg = picky;
	cn_buf_init(&body, 0);
	cn_sha256_oneshot("doc", 3, doc_digest);
	cn_sha256_oneshot("abc", 3, l.digest);
	man = cache_manifest(doc_digest, 3, &l, 1);
	for (size_t i = 0; i < 2; i++) {
		json_t *m;
		rc = open_cache(repos[i], &o, true);
		r = reg_cache_put_manifest(rc, man, strlen(man), &err);
		UNIT_CHECK(r == 0, "%s: a registry refusing the cache config type takes the manifest with the "
			   "standard one: %s", repos[i], r < 0 ? err.msg : "ok");
		r = reg_cache_get_manifest(rc, &body, got, &err);
		m = r == 1 ? json_loadb(body.data, body.len, 0, NULL) : NULL;
		UNIT_STREQ(json_string_value(json_object_get(json_object_get(m, "config"), "mediaType")), MT_OCI_CONFIG,
			   "... config.mediaType is the OCI image config's");
		UNIT_STREQ(json_string_value(json_object_get(json_object_get(m, "config"), "digest")), doc_digest,
			   "... the config is still the document");
		UNIT_STREQ(json_string_value(json_object_get(json_object_get(m, "annotations"),
							     "org.cairn.buildcache.version")), "1",
			   "... the annotation still marks it a cache");
		UNIT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(m, "layers"), 0),
							     "digest")), l.digest, "... with its layers");
		UNIT_CHECK(reg_cache_bytes_out(rc) == body.len, "... bytes out: the manifest that went in (%llu)",
			   (unsigned long long)reg_cache_bytes_out(rc));
		json_decref(m);
		reg_cache_close(rc);
	}
	rc = open_cache("picky/blobless:t", &o, true);
	r = reg_cache_put_manifest(rc, man, strlen(man), &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "MANIFEST_BLOB_UNKNOWN") && !strstr(err.msg, "again"),
		   "a manifest refused for missing blobs is not sent again: %s", r < 0 ? err.msg : "accepted");
	reg_cache_close(rc);
	reg = saved;
}

int main(void)
{
	struct store st, st2;
	_cleanup_free_ char *root = NULL, *root2 = NULL;

	reg = getenv("CAIRN_TEST_REGISTRY");
	if (!reg || !*reg) {
		UNIT_SKIP("CAIRN_TEST_REGISTRY is not set (t0815-regcache-unit.sh sets it)", "registry cache store");
		return 0;
	}
	if (reg_global_init(&err) < 0)
		unit_fixture_fail("reg_global_init");
	close(unit_tmpdir(base));
	root = cn_xasprintf("%s/store", base);
	root2 = cn_xasprintf("%s/store2", base);
	if (store_open(root, &st, &err) < 0 || store_open(root2, &st2, &err) < 0) {
		printf("# %s\n", err.msg);
		unit_fixture_fail("store_open");
	}
	test_roundtrip(&st, &st2);
	test_refusals();
	test_foreign();
	if (getenv("CAIRN_TEST_PICKY_REGISTRY"))
		test_fallback(getenv("CAIRN_TEST_PICKY_REGISTRY"));
	else
		UNIT_SKIP("CAIRN_TEST_PICKY_REGISTRY is not set", "put_manifest's fallback config media type");
	store_close(&st);
	store_close(&st2);
	unit_rmtree(base);
	return UNIT_DONE();
}
