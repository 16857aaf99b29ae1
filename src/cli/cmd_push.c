#include "cli/cli.h"
#include "cli/compression.h"
#include "cli/registry_opts.h"
#include "store/imgindex.h"
#include "util/cleanup.h"

#include <string.h>

#include <stdio.h>

static const char push_usage[] =
	"usage: cairn push [OPTIONS] IMAGE [DESTINATION]\n"
	"\n"
	"Push IMAGE (a tag, an image id or a digest in the store) to a registry.\n"
	"DESTINATION is a full reference (registry.example:5000/team/app:1); without\n"
	"it IMAGE, which must then be a tag, says where. Blobs the registry has are skipped, blobs another\n"
	"repository of the same registry has are mounted, large ones go in chunks.\n"
	"A multi-platform image (build --platform A,B) goes whole: every platform's\n"
	"image, then its index under the tag.\n"
	"\n"
	"Options:\n"
	CLI_REGISTRY_USAGE
	CLI_COMPRESSION_FORMAT_USAGE
	"  -q, --quiet              print only the manifest digest\n"
	"  -h, --help               show this help\n";

/* A multi-platform image (a tag or digest naming an image index) goes
 * whole: every platform's image, then the index. */
static int push_dispatch(struct store *st, char **ops, int n, struct cli_registry *r, struct reg_result *res,
			 cn_err *err)
{
	cn_err ignored;
	_cleanup_free_ char *tag = cn_digest_valid(ops[0]) ? NULL : store_ref_normalize(ops[0], &ignored);
	char digest[CN_DIGEST_STR_SIZE];
	if (cn_digest_valid(ops[0]))
		memcpy(digest, ops[0], sizeof(digest));
	else if (!tag || store_tag_get(st, tag, digest, &ignored) != 1)
		*digest = '\0';
	if (*digest && store_index_blob_is(st, digest))
		return reg_push_index(st, digest, n == 2 ? ops[1] : tag, &r->o, res, err);
	return reg_push(st, ops[0], n == 2 ? ops[1] : NULL, &r->o, res, err);
}

static int push(struct store *st, char **ops, int n, struct cli_registry *r, cn_err *err)
{
	struct reg_result res;
	if (n == 1) {
		/* An image id or digest names no repository to push to. */
		_cleanup_free_ char *tag = store_ref_normalize(ops[0], err);
		char digest[CN_DIGEST_STR_SIZE];
		int found = tag ? store_tag_get(st, tag, digest, err) : 0;
		if (found < 0)
			return -1;
		if (found == 0)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s' is not a tag in the store: name the "
					   "DESTINATION to push it to", ops[0]);
	}
	if (push_dispatch(st, ops, n, r, &res, err) < 0)
		return -1;
	cli_registry_progress_end(r);
	if (r->o.convert)
		cli_compression_report(&res.converted, r->o.compression, r->quiet);
	if (!r->quiet)
		fprintf(stderr, "pushed: %u blobs sent, %u already there, %u mounted\n", res.blobs_sent,
			res.blobs_skipped, res.blobs_mounted);
	printf("%s\n", res.manifest_digest);
	reg_result_free(&res);
	return 0;
}

int cmd_push(struct cli *cli, int argc, char **argv)
{
	/* The gc lock, shared: a --compression-format conversion writes blobs
	 * that a concurrent prune must not take before they are sent. */
	return cli_registry_command(cli, "push", push_usage, "expected IMAGE [DESTINATION]", 1, 2, true,
				    argc, argv, push);
}
