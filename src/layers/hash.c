/* A layer blob -> its digest and diff_id without extracting anything: the
 * same input stream layer_extract reads (extract_input.c: detection,
 * decompression, caps, trailing-bytes rules), drained to its end. Used when
 * a snapshot for the claimed diff_id already exists, so the blob must still
 * be proven to be that content before an image may reference it. */
#include "layers/extract_internal.h"
#include "layers/layer.h"

#include <string.h>

static int hash_src(int in_fd, const struct layer_reader *rd, uint64_t max_bytes,
		    struct layer_extract_result *res, cn_err *err)
{
	struct ex_src src;
	const void *buf;
	ssize_t n;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (max_bytes == 0)
		max_bytes = LAYER_EXTRACT_MAX_BYTES;
	if ((rd ? ex_src_open_reader(&src, rd, max_bytes, false) : ex_src_open(&src, in_fd, max_bytes, false)) < 0) {
		cn_err_cause(err, &src.err, "layer");
		goto out;
	}
	while ((n = ex_src_read(&src, &buf)) > 0)
		;
	if (n < 0) {
		cn_err_cause(err, &src.err, "layer");
		goto out;
	}
	ex_src_final(&src, res->digest, res->diff_id);
	res->size = src.raw;
	res->uncompressed = src.plain;
	rc = 0;
out:
	ex_src_free(&src);
	return rc;
}

int layer_hash(int in_fd, uint64_t max_bytes, struct layer_extract_result *res, cn_err *err)
{
	return hash_src(in_fd, NULL, max_bytes, res, err);
}

int layer_hash_from(const struct layer_reader *rd, uint64_t max_bytes, struct layer_extract_result *res,
		    cn_err *err)
{
	return hash_src(-1, rd, max_bytes, res, err);
}
