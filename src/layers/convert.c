/* A layer blob in one compression -> the same tar in another, streamed:
 * the blob's bytes go through the reader's input stage (extract_input.c:
 * detection, decoding, the digest of what was read, caps) and straight into
 * the writer's sink (sink.c: diff_id, compressor, digest of the output).
 * Nothing but the two stages' buffers is in memory. */
#include "layers/extract_internal.h"
#include "layers/layer.h"
#include "layers/sink.h"

#include <string.h>

int layer_convert(int in_fd, int out_fd, enum layer_compression comp, int level,
		  struct layer_convert_result *res, cn_err *err)
{
	struct ex_src src;
	struct layer_sink sink;
	const void *buf;
	ssize_t n;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&sink, 0, sizeof(sink));
	if (ex_src_open(&src, in_fd, LAYER_EXTRACT_MAX_BYTES, false) < 0) {
		cn_err_cause(err, &src.err, "layer");
		goto out;
	}
	if (layer_sink_open(&sink, comp, level, out_fd, err) < 0)
		goto out;
	while ((n = ex_src_read(&src, &buf)) > 0)
		if (layer_sink_write(&sink, buf, (size_t)n, err) < 0)
			goto out;
	if (n < 0) {
		cn_err_cause(err, &src.err, "layer");
		goto out;
	}
	if (layer_sink_finish(&sink, &res->out, err) < 0)
		goto out;
	ex_src_final(&src, res->in_digest, res->in_diff_id);
	res->in_size = src.raw;
	/* The reader passes tar bytes through unchanged (it makes none up
	 * outside an extraction), so both sides hashed the same tar. */
	if (strcmp(res->in_diff_id, res->out.diff_id) != 0) {
		cn_err_fail(err, CN_ERR_CORRUPT, "layer: converting changed its content (%s -> %s)",
			    res->in_diff_id, res->out.diff_id);
		goto out;
	}
	rc = 0;
out:
	layer_sink_free(&sink);
	ex_src_free(&src);
	return rc;
}
