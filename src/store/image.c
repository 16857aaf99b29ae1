#include "store/image.h"
#include "store/imgindex.h"
#include "store/image_internal.h"
#include "store/images.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const layer_media_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.diff.tar.zstd",
	"application/vnd.docker.image.rootfs.diff.tar",
};

/* Docker schema2 layer types as their OCI equivalents (same bytes), so
 * that images built on a pulled docker image carry OCI types only. */
static const char *oci_layer_media_type(const char *mt)
{
	if (strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip") == 0)
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	if (strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.zstd") == 0)
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	if (strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar") == 0)
		return "application/vnd.oci.image.layer.v1.tar";
	return mt;
}

static bool layer_media_type_ok(const char *mt)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(layer_media_types); i++)
		if (mt && strcmp(mt, layer_media_types[i]) == 0)
			return true;
	return false;
}

bool store_descriptor_size(json_t *desc, uint64_t *size)
{
	json_t *v = json_object_get(desc, "size");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > STORE_MAX_DESCRIPTOR_SIZE)
		return false;
	*size = (uint64_t)json_integer_value(v);
	return true;
}

static int load_json_blob(struct store *st, const char *digest, json_t **out, size_t *len, cn_err *err)
{
	_cleanup_buf_ cn_buf b;
	json_error_t je;
	cn_buf_init(&b, STORE_MAX_JSON);
	if (store_blob_get(st, digest, STORE_MAX_JSON, &b, err) < 0)
		return -1;
	if (len)
		*len = b.len;
	*out = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return cn_err_fail(err, CN_ERR_INVALID, "blob %s: not a JSON object (%s)", digest, je.text);
	}
	return 0;
}

/* Check the manifest and fill img->layers from it and the config's diff_ids
 * (the config is CFG_LEN bytes: its descriptor must say so). */
int store_image_parse_manifest(struct store_image *img, size_t cfg_len, cn_err *err)
{
	uint64_t size;
	json_t *m = img->manifest, *cfg = json_object_get(m, "config");
	json_t *layers = json_object_get(m, "layers");
	json_t *diff_ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	size_t i;
	json_t *l;
	if (json_integer_value(json_object_get(m, "schemaVersion")) != 2 ||
	    (mt && strcmp(mt, MT_OCI_MANIFEST) != 0 &&
	     strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json") != 0))
		return cn_err_fail(err, CN_ERR_INVALID, "manifest %s: not an image manifest", img->manifest_digest);
	if (!json_is_object(cfg) || !json_is_array(layers) || !json_is_array(diff_ids))
		return cn_err_fail(err, CN_ERR_INVALID, "manifest %s: missing config or layers", img->manifest_digest);
	if (!store_descriptor_size(cfg, &size))
		return cn_err_fail(err, CN_ERR_INVALID, "manifest %s: the config's size is not a byte count",
				  img->manifest_digest);
	if (size != cfg_len)
		return cn_err_fail(err, CN_ERR_CORRUPT, "manifest %s: the config is %zu bytes, the manifest says %llu",
				  img->manifest_digest, cfg_len, (unsigned long long)size);
	if (json_array_size(layers) != json_array_size(diff_ids))
		return cn_err_fail(err, CN_ERR_INVALID, "manifest %s: %zu layers but %zu diff_ids",
				  img->manifest_digest, json_array_size(layers), json_array_size(diff_ids));
	if (json_array_size(layers) > STORE_MAX_LAYERS)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "manifest %s: more than %d layers", img->manifest_digest,
				  STORE_MAX_LAYERS);
	img->nlayers = json_array_size(layers);
	img->layers = cn_xcalloc(img->nlayers, sizeof(*img->layers));
	json_array_foreach(layers, i, l) {
		struct store_layer *sl = &img->layers[i];
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *did = json_string_value(json_array_get(diff_ids, i));
		const char *lmt = json_string_value(json_object_get(l, "mediaType"));
		if (!cn_digest_valid(d) || !cn_digest_valid(did) || !layer_media_type_ok(lmt))
			return cn_err_fail(err, CN_ERR_INVALID, "manifest %s: layer %zu: bad digest or media type",
					  img->manifest_digest, i + 1);
		if (!store_descriptor_size(l, &sl->size))
			return cn_err_fail(err, CN_ERR_INVALID, "manifest %s: layer %zu: the size is not a byte count",
					  img->manifest_digest, i + 1);
		memcpy(sl->digest, d, CN_DIGEST_STR_SIZE);
		memcpy(sl->diff_id, did, CN_DIGEST_STR_SIZE);
		snprintf(sl->media_type, sizeof(sl->media_type), "%s", oci_layer_media_type(lmt));
	}
	return 0;
}

/* Load the manifest img->manifest_digest names, then its config. REF names
 * the image in errors. */
static int load_named(struct store *st, const char *ref, struct store_image *img, cn_err *err)
{
	const char *cfg_digest;
	size_t cfg_len = 0;
	if (load_json_blob(st, img->manifest_digest, &img->manifest, NULL, err) < 0)
		goto fail;
	/* A multi-platform image: the host's platform's (imgindex.h). */
	if (store_index_doc_is(img->manifest)) {
		char child[CN_DIGEST_STR_SIZE];
		int r = store_index_select(img->manifest, NULL, child, err);
		json_decref(img->manifest);
		img->manifest = NULL;
		if (r < 0)
			goto fail;
		memcpy(img->manifest_digest, child, sizeof(child));
		if (load_json_blob(st, img->manifest_digest, &img->manifest, NULL, err) < 0)
			goto fail;
	}
	cfg_digest = json_string_value(json_object_get(json_object_get(img->manifest, "config"), "digest"));
	if (!cn_digest_valid(cfg_digest)) {
		cn_err_fail(err, CN_ERR_INVALID, "manifest %s: invalid config digest", img->manifest_digest);
		goto fail;
	}
	memcpy(img->config_digest, cfg_digest, CN_DIGEST_STR_SIZE);
	if (load_json_blob(st, img->config_digest, &img->config, &cfg_len, err) < 0 ||
	    store_image_parse_manifest(img, cfg_len, err) < 0)
		goto fail;
	return 1;
fail:
	cn_err_wrap(err, "image '%s'", ref);
	store_image_free(img);
	return -1;
}

int store_image_load_manifest(struct store *st, const char *digest, struct store_image *img, cn_err *err)
{
	memset(img, 0, sizeof(*img));
	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "invalid manifest digest '%s'", digest);
	if (!store_blob_exists(st, digest))
		return 0;
	memcpy(img->manifest_digest, digest, CN_DIGEST_STR_SIZE);
	return load_named(st, digest, img, err);
}

/* A stored blob that is an image config (the IMAGE ID names it), not a
 * manifest: it has rootfs and no schemaVersion. */
static bool blob_is_config(struct store *st, const char *digest)
{
	json_t *j = NULL;
	cn_err ignored;
	bool r;
	if (load_json_blob(st, digest, &j, NULL, &ignored) < 0)
		return false;
	r = json_object_get(j, "rootfs") && !json_object_get(j, "schemaVersion");
	json_decref(j);
	return r;
}

int store_image_load(struct store *st, const char *ref, struct store_image *img, cn_err *err)
{
	_cleanup_free_ char *norm = NULL;
	int r;
	memset(img, 0, sizeof(*img));
	if (cn_digest_valid(ref)) {
		if (!store_blob_exists(st, ref))
			return 0;
		if (!blob_is_config(st, ref)) {
			memcpy(img->manifest_digest, ref, CN_DIGEST_STR_SIZE);
			return load_named(st, ref, img, err);
		}
		r = 0;  /* an image id in full: resolved below */
	} else {
		norm = store_ref_normalize(ref, err);
		if (!norm && !store_short_id(ref))
			return -1;
		r = norm ? store_tag_get(st, norm, img->manifest_digest, err) : 0;
		if (r < 0)
			return -1;
	}
	/* Not a tag: the image ID shown by images and history, or a prefix. */
	if (r == 0 && store_short_id(ref))
		r = store_image_resolve_id(st, ref, img->manifest_digest, err);
	if (r <= 0)
		return r;
	return load_named(st, ref, img, err);
}

int store_image_write(struct store *st, json_t *config, const struct store_layer *layers,
		      size_t nlayers, const char *parent, struct store_image *img, cn_err *err)
{
	_cleanup_free_ char *cfg_text = NULL, *man_text = NULL;
	json_t *jl, *manifest;
	memset(img, 0, sizeof(*img));
	cfg_text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
	if (!cfg_text)
		return cn_err_errno(err, ENOMEM, "encode image config");
	if (store_json_fits("the image config", strlen(cfg_text), STORE_MAX_JSON, err) < 0 ||
	    store_blob_put(st, cfg_text, strlen(cfg_text), img->config_digest, err) < 0)
		return -1;
	jl = json_array();
	for (size_t i = 0; i < nlayers; i++)
		json_array_append_new(jl, json_pack("{s:s, s:s, s:I}", "mediaType", layers[i].media_type,
						    "digest", layers[i].digest,
						    "size", (json_int_t)layers[i].size));
	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2,
			     "mediaType", MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG,
			     "digest", img->config_digest, "size", (json_int_t)strlen(cfg_text),
			     "layers", jl);
	if (parent)
		json_object_set_new(manifest, "annotations",
				    json_pack("{s:s}", STORE_PARENT_ANNOTATION, parent));
	man_text = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(manifest);
	if (!man_text)
		return cn_err_errno(err, ENOMEM, "encode manifest");
	if (store_json_fits("the manifest", strlen(man_text), STORE_MAX_JSON, err) < 0 ||
	    store_blob_put(st, man_text, strlen(man_text), img->manifest_digest, err) < 0)
		return -1;
	img->manifest_size = strlen(man_text);
	return 0;
}

const char *store_image_parent(const struct store_image *img)
{
	const char *p = json_string_value(json_object_get(json_object_get(img->manifest, "annotations"),
							  STORE_PARENT_ANNOTATION));
	return cn_digest_valid(p) ? p : NULL;
}

size_t store_image_rows(const struct store_image *img)
{
	return json_array_size(json_object_get(img->config, "history"));
}

int store_image_row_states(struct store *st, const struct store_image *img,
			   char (**out)[CN_DIGEST_STR_SIZE], size_t *nrows, cn_err *err)
{
	size_t rows = store_image_rows(img), below = rows;
	char parent[CN_DIGEST_STR_SIZE];
	const char *p = store_image_parent(img);
	(void)err;
	*nrows = rows;
	*out = cn_xcalloc(rows ? rows : 1, sizeof(**out));
	if (rows)
		memcpy((*out)[rows - 1], img->manifest_digest, CN_DIGEST_STR_SIZE);
	/* Each parent has fewer rows than its child: at most ROWS steps. */
	while (p) {
		struct store_image up;
		size_t r;
		memcpy(parent, p, sizeof(parent));
		if (store_image_load(st, parent, &up, err) != 1)
			break;          /* pruned or broken: the rows below stay unknown */
		r = store_image_rows(&up);
		if (r == 0 || r >= below) {
			store_image_free(&up);
			break;
		}
		memcpy((*out)[r - 1], parent, CN_DIGEST_STR_SIZE);
		below = r;
		p = store_image_parent(&up);
		if (p)
			memcpy(parent, p, sizeof(parent));
		store_image_free(&up);
		p = p ? parent : NULL;
	}
	return 0;
}

void store_image_free(struct store_image *img)
{
	json_decref(img->manifest);
	json_decref(img->config);
	free(img->layers);
	memset(img, 0, sizeof(*img));
}
