/* Pushing a multi-platform image: every platform's image, then the index
 * under the tag (registries may refuse an index whose manifests they do
 * not have). Each image goes through reg_push under the same tag, so the
 * tag names one platform's image until the index replaces it a moment
 * later; the end state is the index, its manifests kept by digest. */
#include "registry/internal.h"
#include "registry/registry.h"
#include "store/imgindex.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <string.h>

static int put_index(struct store *st, const char *digest, const char *remote, const struct reg_opts *o,
		     cn_err *err)
{
	_cleanup_buf_ cn_buf body;
	_cleanup_free_ char *scope = NULL, *url = NULL;
	struct cn_ref ref;
	struct reg_client c;
	struct reg_conn k = { 0 };
	struct reg_resp resp = { 0 };
	const char *hdrs[] = { "Content-Type: " MT_OCI_IMAGE_INDEX, NULL };
	int r = -1;
	cn_buf_init(&body, REG_MAX_MANIFEST);
	if (store_blob_get(st, digest, REG_MAX_MANIFEST, &body, err) < 0 || cn_ref_parse(remote, &ref, err) < 0)
		return -1;
	scope = cn_xasprintf("repository:%s:pull,push", ref.path);
	{
		const char *scopes[] = { scope, NULL };
		if (reg_client_open(&c, &ref, o, scopes, err) < 0) {
			cn_ref_free(&ref);
			return -1;
		}
	}
	/* Byte for byte as stored: its digest stays. */
	url = cn_xasprintf("/v2/%s/manifests/%s", ref.path, ref.tag ? ref.tag : "latest");
	struct reg_req rq = { .method = "PUT", .url = url, .headers = hdrs, .body = body.data,
			      .body_len = body.len, .retry = true };
	if (reg_conn_open(&k, &c, err) == 0 && reg_do(&k, &rq, &resp, err) == 0) {
		if (resp.status == 201)
			r = 0;
		else
			reg_status_error(&rq, &resp, err);
	}
	reg_resp_free(&resp);
	reg_conn_close(&k);
	reg_client_close(&c);
	cn_ref_free(&ref);
	return r;
}

int reg_push_index(struct store *st, const char *digest, const char *remote, const struct reg_opts *o,
		   struct reg_result *res, cn_err *err)
{
	_cleanup_strv_ cn_strv children = { 0 };
	memset(res, 0, sizeof(*res));
	/* Converting would give each platform a new manifest, which the stored
	 * index does not name: refused rather than pushing an index the
	 * registry rejects. */
	if (o->convert)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "push %s: --compression-format is not supported for a "
				   "multi-platform image yet (push it as stored, or build it with --compression)",
				   remote);
	if (store_index_children(st, digest, &children, NULL, err) < 0)
		return cn_err_wrap(err, "push %s", remote);
	for (size_t i = 0; i < children.n; i++) {
		struct reg_result one;
		if (reg_push(st, children.v[i], remote, o, &one, err) < 0)
			return -1;
		res->blobs_sent += one.blobs_sent;
		res->blobs_skipped += one.blobs_skipped;
		res->blobs_mounted += one.blobs_mounted;
		res->bytes += one.bytes;
		reg_result_free(&one);
	}
	if (put_index(st, digest, remote, o, err) < 0)
		return cn_err_wrap(err, "push %s: the image index", remote);
	memcpy(res->manifest_digest, digest, CN_DIGEST_STR_SIZE);
	return 0;
}
