#include "transfer/convert.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The cache key of "BLOB as COMP". Versioned apart from the build's keys.
 * zstd's names its job size, since zstd blobs are multithreaded-format ones
 * of that job size, and gzip's its block size, since gzip blobs are blocks
 * deflated apart (layers/pgzip.c): a blob converted by an older cairn, in
 * one stream, is not reused. */
static void conversion_key(const char *blob, enum layer_compression comp, int level, char key[CN_DIGEST_STR_SIZE])
{
	_cleanup_free_ char *lvl = level ? cn_xasprintf("\nlevel %d", level) : cn_xstrdup("");
	_cleanup_free_ char *jobs = comp == LAYER_ZSTD ? cn_xasprintf("\nzstd jobs %zu", LAYER_ZSTD_JOB_SIZE)
				    : comp == LAYER_GZIP ? cn_xasprintf("\ngzip blocks %zu", LAYER_GZIP_BLOCK)
							 : cn_xstrdup("");
	_cleanup_free_ char *s = cn_xasprintf("cairn layer conversion v1\n%s\n%s%s%s", blob,
					      layer_compression_name(comp), lvl, jobs);
	cn_sha256_oneshot(s, strlen(s), key);
}

static int layer_compression_of(const struct store_layer *l, enum layer_compression *c, cn_err *err)
{
	if (layer_media_type_compression(l->media_type, c) < 0)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "layer %s: media type '%s' names no compression "
				   "cairn converts", l->digest, l->media_type);
	return 0;
}

static void describe(struct store_layer *out, const struct store_layer *src, const char *digest, uint64_t size,
		     enum layer_compression comp)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	memcpy(out->diff_id, src->diff_id, sizeof(out->diff_id));
	out->size = size;
	snprintf(out->media_type, sizeof(out->media_type), "%s", layer_media_type(comp));
}

int xfer_convert_layer(struct store *st, const struct store_layer *layer, enum layer_compression comp,
		       int level, struct store_layer *out, struct xfer_convert_stats *stats, cn_err *err)
{
	enum layer_compression have;
	char key[CN_DIGEST_STR_SIZE], done[CN_DIGEST_STR_SIZE];
	struct layer_convert_result res;
	struct store_ingest in;
	_cleanup_close_ int fd = -1;

	if (layer_compression_of(layer, &have, err) < 0)
		return -1;
	if (have == comp) {
		describe(out, layer, layer->digest, layer->size, comp);
		return 0;
	}
	conversion_key(layer->digest, comp, level, key);
	if (store_cache_get(st, key, done) == 1) {
		describe(out, layer, done, store_blob_size(st, done), comp);
		if (stats)
			stats->reused++;
		return 0;
	}
	fd = store_blob_open(st, layer->digest, err);
	if (fd < 0)
		return -1;
	if (store_ingest_begin(st, &in, err) < 0)
		return -1;
	if (layer_convert(fd, in.fd, comp, level, &res, err) < 0)
		goto fail;
	if (strcmp(res.in_digest, layer->digest) != 0 || strcmp(res.in_diff_id, layer->diff_id) != 0) {
		cn_err_fail(err, CN_ERR_CORRUPT, "blob %s in the store is not the layer it should be "
			    "(see cairn fsck)", layer->digest);
		goto fail;
	}
	if (store_ingest_commit(&in, res.out.digest, err) < 0)
		return cn_err_wrap(err, "layer %s as %s", layer->digest, layer_compression_name(comp));
	/* Only a hint: a conversion not remembered is done again next time. */
	{
		cn_err ignored;
		(void)store_cache_put(st, key, res.out.digest, &ignored);
	}
	describe(out, layer, res.out.digest, res.out.size, comp);
	if (stats) {
		stats->converted++;
		stats->bytes_in += res.in_size;
		stats->bytes_out += res.out.size;
	}
	return 0;
fail:
	store_ingest_abort(&in);
	return cn_err_wrap(err, "layer %s as %s", layer->digest, layer_compression_name(comp));
}

bool xfer_image_has(const struct store_image *img, enum layer_compression comp)
{
	for (size_t i = 0; i < img->nlayers; i++) {
		enum layer_compression c;
		if (layer_media_type_compression(img->layers[i].media_type, &c) == 0 && c == comp)
			return true;
	}
	return false;
}

/* IMG's manifest with LAYERS as its layers, as an OCI manifest. */
static json_t *converted_manifest(const struct store_image *img, const struct store_layer *layers)
{
	json_t *m = json_deep_copy(img->manifest), *jl = json_array(), *cfg;
	json_object_set_new(m, "mediaType", json_string(MT_OCI_MANIFEST));
	cfg = json_object_get(m, "config");
	/* The config blob is the same bytes; only docker's name for its type
	 * has an OCI equivalent to use in an OCI manifest. */
	if (json_is_object(cfg))
		json_object_set_new(cfg, "mediaType", json_string(MT_OCI_CONFIG));
	for (size_t i = 0; i < img->nlayers; i++) {
		json_t *old = json_array_get(json_object_get(img->manifest, "layers"), i);
		json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", layers[i].media_type, "digest",
				      layers[i].digest, "size", (json_int_t)layers[i].size);
		json_t *ann = json_object_get(old, "annotations");
		if (json_is_object(ann))
			json_object_set(d, "annotations", ann);
		json_array_append_new(jl, d);
	}
	json_object_set_new(m, "layers", jl);
	return m;
}

int xfer_convert_image(struct store *st, struct store_image *img, enum layer_compression comp,
		       int level, struct xfer_convert_stats *stats, cn_err *err)
{
	_cleanup_free_ struct store_layer *layers = cn_xcalloc(img->nlayers ? img->nlayers : 1, sizeof(*layers));
	_cleanup_free_ char *text = NULL;
	char digest[CN_DIGEST_STR_SIZE];
	struct store_image conv;
	bool changed = false;
	json_t *m;
	int r;

	for (size_t i = 0; i < img->nlayers; i++) {
		if (xfer_convert_layer(st, &img->layers[i], comp, level, &layers[i], stats, err) < 0)
			return -1;
		changed |= strcmp(layers[i].digest, img->layers[i].digest) != 0 ||
			   strcmp(layers[i].media_type, img->layers[i].media_type) != 0;
	}
	if (!changed)
		return 0;
	m = converted_manifest(img, layers);
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	if (!text)
		return cn_err_errno(err, ENOMEM, "encode manifest");
	if (store_json_fits("the manifest", strlen(text), STORE_MAX_JSON, err) < 0 ||
	    store_blob_put(st, text, strlen(text), digest, err) < 0)
		return -1;
	r = store_image_load_manifest(st, digest, &conv, err);
	if (r == 0)
		cn_err_fail(err, CN_ERR_NOT_FOUND, "manifest %s vanished from the store", digest);
	if (r <= 0)
		return -1;
	store_image_free(img);
	*img = conv;
	return 0;
}
