#include "transfer/import.h"

#include "layers/layer.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A layer from outside may expand to at most this: 512 MiB, or 100 times
 * its compressed size when that is more (a decompression bomb stops
 * there instead of filling the disk; real layers rarely pass 10x). */
#define MIN_EXPANSION ((uint64_t)512 << 20)
#define MAX_RATIO 100

static uint64_t expansion_cap(uint64_t blob_size)
{
	uint64_t cap = blob_size > LAYER_EXTRACT_MAX_BYTES / MAX_RATIO ? LAYER_EXTRACT_MAX_BYTES
								   : blob_size * MAX_RATIO;
	return cap < MIN_EXPANSION ? MIN_EXPANSION : cap;
}

/* What the blob hashed to (RES) against what the image names (LAYER). */
static int check_hashes(const struct layer_extract_result *res, const struct store_layer *layer,
			cn_err *err)
{
	if (strcmp(res->digest, layer->digest) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "blob content hashes to %s", res->digest);
	if (strcmp(res->diff_id, layer->diff_id) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "uncompressed content hashes to %s, but the image "
				   "config says %s", res->diff_id, layer->diff_id);
	return 0;
}

int xfer_snapshot_layer(struct store *st, const struct store_layer *layer, cn_err *err)
{
	struct store_tmpdir td;
	struct layer_extract_result res;
	struct layer_extract_opts xo = { .overlay_whiteouts = true };
	_cleanup_close_ int blob_fd = -1, root_fd = -1;
	int r = -1;

	blob_fd = store_blob_open(st, layer->digest, err);
	if (blob_fd < 0)
		return -1;
	xo.max_bytes = expansion_cap(store_blob_size(st, layer->digest));
	/* A snapshot under this diff_id proves nothing about this blob: it may
	 * come from another image. Hash the blob (no extraction) so an image
	 * cannot borrow a snapshot its layer does not hold. */
	if (store_snapshot_exists(st, layer->diff_id)) {
		if (layer_hash(blob_fd, xo.max_bytes, &res, err) < 0 || check_hashes(&res, layer, err) < 0)
			return cn_err_wrap(err, "layer %s", layer->digest);
		return 0;
	}
	if (store_tmpdir_create(st, "unpack", &td, err) < 0)
		return -1;
	if (mkdirat(td.fd, "root", 0755) < 0 ||
	    (root_fd = openat(td.fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		cn_err_sys(err, "create '%s/root'", td.path);
		goto out;
	}
	if (layer_extract(blob_fd, root_fd, &xo, &res, err) < 0 || check_hashes(&res, layer, err) < 0)
		goto out;
	/* On disk before anything points at it. */
	if (syncfs(root_fd) < 0) {
		cn_err_sys(err, "sync '%s'", td.path);
		goto out;
	}
	r = store_snapshot_commit(st, td.fd, "root", layer->diff_id, err);
out:
	store_tmpdir_remove(st, &td);
	return r < 0 ? cn_err_wrap(err, "layer %s", layer->digest) : 0;
}

int xfer_import(struct store *st, const char *manifest_digest, const char *ref, const char *cause,
		cn_err *err)
{
	struct store_image img;
	int r = store_image_load(st, manifest_digest, &img, err);
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "manifest %s is not in the store", manifest_digest);
	if (r < 0)
		return -1;
	r = -1;
	for (size_t i = 0; i < img.nlayers; i++) {
		const struct store_layer *l = &img.layers[i];
		uint64_t have = store_blob_size(st, l->digest);
		if (!store_blob_exists(st, l->digest)) {
			cn_err_fail(err, CN_ERR_NOT_FOUND, "layer %zu (%s) is missing", i + 1, l->digest);
			goto out;
		}
		if (have != l->size) {
			cn_err_fail(err, CN_ERR_CORRUPT, "layer %zu (%s): %llu bytes, the manifest says %llu", i + 1,
				   l->digest, (unsigned long long)have, (unsigned long long)l->size);
			goto out;
		}
		if (xfer_snapshot_layer(st, l, err) < 0)
			goto out;
	}
	r = ref ? store_tag_set(st, ref, manifest_digest, store_blob_size(st, manifest_digest),
				cause, err) : 0;
out:
	store_image_free(&img);
	return r;
}
