/* The end of a build: --label on the final config, the image id and
 * --annotation on the final manifest. */
#include "builder/build_internal.h"

#include <errno.h>
#include <string.h>

/* --label: set on the final config after the Buildfile's LABELs (docker's
 * order), as a state of its own, cached like a step (a rebuild with the
 * same labels gives the same image). */
int bd_add_labels(struct build *b, cn_err *err)
{
	char key[CN_DIGEST_STR_SIZE];
	const char *source;
	cn_sha256 h;
	cn_sha256_init(&h);
	bd_hash_field(&h, b->cur->key);
	bd_hash_field(&h, "--label");
	for (size_t i = 0; i < b->o->labels.n; i++)
		bd_hash_field(&h, b->o->labels.v[i]);
	cn_sha256_final(&h, key);
	if (!b->o->no_cache && bd_cache_lookup_quiet(b, key, &source) == 1)
		return bd_materialize(b, b->cur, err);
	/* No history row of its own: it takes the last state's place in the
	 * chain (a parent has fewer rows than its child: history, rollback). */
	struct store_image last;
	if (store_image_load_manifest(b->st, b->cur->state, &last, err) != 1)
		return cn_err_fail(err, CN_ERR_CORRUPT, "the image %s is gone", b->cur->state);
	const char *parent = store_image_parent(&last);
	snprintf(b->cur->state, sizeof(b->cur->state), "%s", parent ? parent : "");
	store_image_free(&last);
	for (size_t i = 0; i < b->o->labels.n; i++) {
		_cleanup_free_ char *k = cn_xstrdup(b->o->labels.v[i]);
		char *eq = strchr(k, '=');
		if (eq)
			*eq = '\0';
		bf_config_set_label(b->cur->cfg, k, eq ? eq + 1 : "");
	}
	return bd_commit_state(b, key, err);
}

/* The image id, and --annotation: the final manifest again with the
 * annotations added (the state it copies stays as it was). */
int bd_finish_manifest(struct build *b, struct bf_build_result *res, cn_err *err)
{
	struct store_image img;
	int r = store_image_load_manifest(b->st, res->manifest_digest, &img, err);
	if (r <= 0)
		return r < 0 ? -1 : cn_err_fail(err, CN_ERR_CORRUPT, "the image %s is gone", res->manifest_digest);
	memcpy(res->image_id, img.config_digest, sizeof(res->image_id));
	if (b->o->annotations.n) {
		json_t *ann = json_object_get(img.manifest, "annotations");
		_cleanup_free_ char *text = NULL;
		if (!json_is_object(ann)) {
			ann = json_object();
			json_object_set_new(img.manifest, "annotations", ann);
		}
		for (size_t i = 0; i < b->o->annotations.n; i++) {
			_cleanup_free_ char *k = cn_xstrdup(b->o->annotations.v[i]);
			char *eq = strchr(k, '=');
			if (eq)
				*eq = '\0';
			json_object_set_new(ann, k, json_string(eq ? eq + 1 : ""));
		}
		text = json_dumps(img.manifest, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text)
			r = cn_err_errno(err, ENOMEM, "encode manifest");
		else if (store_blob_put(b->st, text, strlen(text), res->manifest_digest, err) < 0)
			r = -1;
		else
			res->manifest_size = strlen(text);
	}
	store_image_free(&img);
	return r < 0 ? -1 : 0;
}
