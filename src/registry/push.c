#include "registry/internal.h"

#include "store/image.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Blobs up to this size go in one PUT; larger ones in PATCH chunks of it,
 * so a large layer never needs one long request. */
#define CHUNK_SIZE ((uint64_t)32 << 20)

char *reg_with_query(const char *url, const char *key, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	char *out = cn_xasprintf("%s%c%s=%s", url, strchr(url, '?') ? '&' : '?', key, esc ? esc : "");
	curl_free(esc);
	return out;
}

int reg_blob_exists(struct reg_conn *k, const char *name, const char *digest, cn_err *err)
{
	_cleanup_free_ char *url = cn_xasprintf("/v2/%s/blobs/%s", name, digest);
	struct reg_req rq = { .method = "HEAD", .url = url, .retry = true };
	struct reg_resp resp;
	int r;
	if (reg_do(k, &rq, &resp, err) < 0) {
		reg_resp_free(&resp);
		return -1;
	}
	r = resp.status == 200 ? 1 : resp.status == 404 ? 0 : reg_status_error(&rq, &resp, err);
	reg_resp_free(&resp);
	return r;
}

int reg_start_upload(struct reg_conn *k, const char *name, const struct push_blob *b, char **location,
			cn_err *err)
{
	_cleanup_free_ char *base = cn_xasprintf("/v2/%s/blobs/uploads/", name), *url = NULL;
	struct reg_req rq = { .method = "POST" };
	struct reg_resp resp;
	int r = -1;
	if (*b->mount_from) {
		_cleanup_free_ char *tmp = reg_with_query(base, "mount", b->digest);
		url = reg_with_query(tmp, "from", b->mount_from);
	} else {
		url = cn_xstrdup(base);
	}
	rq.url = url;
	if (reg_do(k, &rq, &resp, err) < 0)
		goto out;
	if (resp.status == 201 && *b->mount_from) {
		r = 1;
	} else if (resp.status == 202 && resp.location) {
		*location = CN_TAKE_PTR(resp.location);
		r = 0;
	} else {
		reg_status_error(&rq, &resp, err);
	}
out:
	reg_resp_free(&resp);
	return r;
}

static int upload_blob(struct reg_conn *k, struct push_ctx *p, const struct push_blob *b, cn_err *err)
{
	static const char *const octets[] = { "Content-Type: application/octet-stream", NULL };
	_cleanup_free_ char *location = NULL;
	_cleanup_close_ int fd = store_blob_open(p->st, b->digest, err);
	uint64_t off = 0;
	int r;
	if (fd < 0)
		return -1;
	r = reg_start_upload(k, p->name, b, &location, err);
	if (r != 0)
		return r;
	reg_report(k->c, REG_BLOB_START, b->digest, 0, b->size);
	/* Large blobs in chunks; the last chunk (or the whole small blob)
	 * travels with the closing PUT. */
	while (b->size - off > CHUNK_SIZE) {
		_cleanup_free_ char *range = cn_xasprintf("Content-Range: %llu-%llu",
							  (unsigned long long)off,
							  (unsigned long long)(off + CHUNK_SIZE - 1));
		const char *hdrs[] = { octets[0], range, NULL };
		struct reg_req rq = { .method = "PATCH", .url = location, .headers = hdrs, .body_fd = fd,
				      .body_off = off, .body_fd_len = CHUNK_SIZE, .has_fd_body = true };
		struct reg_resp resp;
		if (reg_do(k, &rq, &resp, err) < 0) {
			reg_resp_free(&resp);
			return -1;
		}
		if (resp.status != 202 || !resp.location) {
			if (resp.status != 202)
				reg_status_error(&rq, &resp, err);
			else
				cn_err_fail(err, CN_ERR_PROTOCOL, "PATCH %s: no Location in the answer", location);
			reg_resp_free(&resp);
			return -1;
		}
		free(location);
		location = CN_TAKE_PTR(resp.location);
		reg_resp_free(&resp);
		off += CHUNK_SIZE;
		reg_report(k->c, REG_BLOB_BYTES, b->digest, off, b->size);
	}
	{
		_cleanup_free_ char *url = reg_with_query(location, "digest", b->digest);
		struct reg_req rq = { .method = "PUT", .url = url, .headers = octets, .body_fd = fd,
				      .body_off = off, .body_fd_len = b->size - off,
				      .has_fd_body = b->size > off };
		struct reg_resp resp;
		if (reg_do(k, &rq, &resp, err) < 0) {
			reg_resp_free(&resp);
			return -1;
		}
		if (resp.status != 201) {
			reg_status_error(&rq, &resp, err);
			reg_resp_free(&resp);
			return -1;
		}
		reg_resp_free(&resp);
	}
	reg_report(k->c, REG_BLOB_BYTES, b->digest, b->size, b->size);
	return 0;
}

int reg_push_blob(struct reg_conn *k, size_t i, void *arg, cn_err *err)
{
	struct push_ctx *p = arg;
	const struct push_blob *b = &p->blobs[i];
	int r = reg_blob_exists(k, p->name, b->digest, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		reg_report(k->c, REG_BLOB_EXISTS, b->digest, b->size, b->size);
		__atomic_add_fetch(&p->skipped, 1, __ATOMIC_RELAXED);
		return 0;
	}
	/* An interrupted upload session cannot be resumed portably: start over. */
	for (int attempt = 0;; attempt++) {
		cn_err e;
		r = upload_blob(k, p, b, &e);
		if (r >= 0)
			break;
		if (attempt >= 2 || cn_err_is(&e, CN_ERR_INTERRUPTED) || cn_err_is(&e, CN_ERR_DENIED)) {
			*err = e;
			return cn_err_wrap(err, "blob %s", b->digest);
		}
	}
	if (r == 1) {
		__atomic_add_fetch(&p->mounted, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_add_fetch(&p->sent, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&p->bytes, b->size, __ATOMIC_RELAXED);
	}
	reg_report(k->c, r == 1 ? REG_BLOB_MOUNTED : REG_BLOB_DONE, b->digest, b->size, b->size);
	return 0;
}

void reg_mount_sources(struct store *st, const struct cn_ref *target, struct push_blob *blobs,
			  size_t n, cn_strv *repos)
{
	json_t *idx = NULL, *m;
	size_t i;
	cn_err ignored;
	if (store_index_load(st, &idx, &ignored) < 0)
		return;
	json_array_foreach(json_object_get(idx, "manifests"), i, m) {
		const char *tag = json_string_value(json_object_get(json_object_get(m, "annotations"),
								    "org.opencontainers.image.ref.name"));
		struct cn_ref r;
		struct store_image img;
		if (!tag || cn_ref_parse(tag, &r, &ignored) < 0)
			continue;
		if (strcmp(r.domain, target->domain) != 0 || strcmp(r.path, target->path) == 0 ||
		    store_image_load(st, tag, &img, &ignored) != 1) {
			cn_ref_free(&r);
			continue;
		}
		for (size_t b = 0; b < n; b++) {
			bool known = false;
			if (*blobs[b].mount_from || strlen(r.path) >= sizeof(blobs[b].mount_from))
				continue;
			for (size_t l = 0; l < img.nlayers; l++) {
				if (strcmp(img.layers[l].digest, blobs[b].digest) != 0)
					continue;
				for (size_t j = 0; j < repos->n; j++)
					known |= strcmp(repos->v[j], r.path) == 0;
				if (!known)
					cn_strv_pushdup(repos, r.path);
				snprintf(blobs[b].mount_from, sizeof(blobs[b].mount_from), "%s", r.path);
				break;
			}
		}
		store_image_free(&img);
		cn_ref_free(&r);
	}
	json_decref(idx);
}

int reg_push(struct store *st, const char *local, const char *remote, const struct reg_opts *o,
	     struct reg_result *res, cn_err *err)
{
	struct store_image img;
	struct cn_ref ref;
	struct reg_client c;
	struct reg_conn k = { 0 };
	struct push_ctx pc;
	_cleanup_strv_ cn_strv scopes = { 0 }, repos = { 0 };
	_cleanup_free_ struct push_blob *blobs = NULL;
	_cleanup_buf_ cn_buf man;
	_cleanup_free_ char *url = NULL, *ctype = NULL;
	const char *mt;
	size_t n;
	int r = -1;

	memset(res, 0, sizeof(*res));
	cn_buf_init(&man, REG_MAX_MANIFEST);
	r = store_image_load(st, local, &img, err);
	if (r <= 0)
		return r == 0 ? cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' not found in the store", local) : -1;
	r = -1;
	if (o->convert && xfer_convert_image(st, &img, o->compression, o->compression_level, &res->converted, err) < 0) {
		store_image_free(&img);
		return cn_err_wrap(err, "push %s", remote ? remote : local);
	}
	if (cn_ref_parse(remote ? remote : local, &ref, err) < 0) {
		store_image_free(&img);
		return -1;
	}
	if (!ref.tag) {
		cn_err_fail(err, CN_ERR_INVALID, "push %s: name a tag to push to (a digest alone cannot be pushed to)",
			   remote ? remote : local);
		goto out_ref;
	}
	n = img.nlayers + 1;
	blobs = cn_xcalloc(n, sizeof(*blobs));
	for (size_t i = 0; i < img.nlayers; i++) {
		memcpy(blobs[i].digest, img.layers[i].digest, CN_DIGEST_STR_SIZE);
		blobs[i].size = store_blob_size(st, img.layers[i].digest);
	}
	memcpy(blobs[img.nlayers].digest, img.config_digest, CN_DIGEST_STR_SIZE);
	blobs[img.nlayers].size = store_blob_size(st, img.config_digest);
	reg_mount_sources(st, &ref, blobs, img.nlayers, &repos);
	cn_strv_push(&scopes, cn_xasprintf("repository:%s:pull,push", ref.path));
	for (size_t i = 0; i < repos.n; i++)
		cn_strv_push(&scopes, cn_xasprintf("repository:%s:pull", repos.v[i]));
	if (store_blob_get(st, img.manifest_digest, REG_MAX_MANIFEST, &man, err) < 0)
		goto out_ref;
	if (reg_client_open(&c, &ref, o, (const char *const *)cn_strv_array(&scopes), err) < 0)
		goto out_ref;

	pc = (struct push_ctx){ .st = st, .name = ref.path, .blobs = blobs };
	if (reg_pool_run(&c, n, o->jobs, reg_push_blob, &pc, err) < 0)
		goto out;
	res->blobs_sent = pc.sent;
	res->blobs_skipped = pc.skipped;
	res->blobs_mounted = pc.mounted;
	res->bytes = pc.bytes;

	/* The manifest last, byte for byte as stored: its digest stays. */
	mt = json_string_value(json_object_get(img.manifest, "mediaType"));
	ctype = cn_xasprintf("Content-Type: %s", mt ? mt : MT_OCI_MANIFEST);
	url = cn_xasprintf("/v2/%s/manifests/%s", ref.path, ref.tag);
	if (reg_conn_open(&k, &c, err) < 0)
		goto out;
	{
		const char *hdrs[] = { ctype, NULL };
		struct reg_req rq = { .method = "PUT", .url = url, .headers = hdrs, .body = man.data,
				      .body_len = man.len, .retry = true };
		struct reg_resp resp;
		if (reg_do(&k, &rq, &resp, err) < 0) {
			reg_resp_free(&resp);
			goto out;
		}
		if (resp.status != 201) {
			reg_status_error(&rq, &resp, err);
			reg_resp_free(&resp);
			goto out;
		}
		reg_resp_free(&resp);
	}
	reg_report(&c, REG_MANIFEST, img.manifest_digest, man.len, man.len);
	memcpy(res->manifest_digest, img.manifest_digest, CN_DIGEST_STR_SIZE);
	r = 0;
out:
	reg_conn_close(&k);
	reg_client_close(&c);
out_ref:
	if (r < 0)
		cn_err_wrap(err, "push %s", remote ? remote : local);
	cn_ref_free(&ref);
	store_image_free(&img);
	return r;
}

int reg_login_check(const char *registry, const struct reg_opts *o, cn_err *err)
{
	_cleanup_free_ char *fake = cn_xasprintf("%s/x", registry);
	struct cn_ref ref;
	struct reg_client c;
	if (strchr(registry, '/'))
		return cn_err_fail(err, CN_ERR_INVALID, "'%s': name a registry (HOST[:PORT]), not a repository", registry);
	if (cn_ref_parse(fake, &ref, err) < 0)
		return -1;
	/* A registry name without '.' or ':' ("myregistry") is taken as is. */
	if (strcmp(ref.domain, "docker.io") == 0 && strcmp(registry, "docker.io") != 0) {
		free(ref.domain);
		ref.domain = cn_xstrdup(registry);
	}
	if (reg_client_open(&c, &ref, o, NULL, err) < 0) {
		cn_ref_free(&ref);
		return cn_err_wrap(err, "login %s", registry);
	}
	reg_client_close(&c);
	cn_ref_free(&ref);
	return 0;
}
