#include "cli/cli.h"
#include "cli/compression.h"
#include "cli/registry_opts.h"
#include "util/cleanup.h"

#include <stdio.h>

static const char push_usage[] =
	"usage: cairn push [OPTIONS] IMAGE [DESTINATION]\n"
	"\n"
	"Push IMAGE (a tag, an image id or a digest in the store) to a registry.\n"
	"DESTINATION is a full reference (registry.example:5000/team/app:1); without\n"
	"it IMAGE, which must then be a tag, says where. Blobs the registry has are skipped, blobs another\n"
	"repository of the same registry has are mounted, large ones go in chunks.\n"
	"\n"
	"Options:\n"
	CLI_REGISTRY_USAGE
	CLI_COMPRESSION_FORMAT_USAGE
	"  -q, --quiet              print only the manifest digest\n"
	"  -h, --help               show this help\n";

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
	if (reg_push(st, ops[0], n == 2 ? ops[1] : NULL, &r->o, &res, err) < 0)
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
	return cli_registry_command(cli, "push", push_usage, "expected IMAGE [DESTINATION]", 1, 2, false,
				    argc, argv, push);
}
