#include "cli/cli.h"
#include "cli/registry_opts.h"

#include <stdio.h>

static const char push_usage[] =
	"usage: cairn push [OPTIONS] IMAGE [DESTINATION]\n"
	"\n"
	"Push IMAGE (a tag or digest in the store) to a registry. DESTINATION is a\n"
	"full reference (registry.example:5000/team/app:1); without it IMAGE's own\n"
	"name says where. Blobs the registry has are skipped, blobs another\n"
	"repository of the same registry has are mounted, large ones go in chunks.\n"
	"\n"
	"Options:\n"
	CLI_REGISTRY_USAGE
	"  -q, --quiet              print only the manifest digest\n"
	"  -h, --help               show this help\n";

static int push(struct store *st, char **ops, int n, struct cli_registry *r, cn_err *err)
{
	struct reg_result res;
	if (reg_push(st, ops[0], n == 2 ? ops[1] : NULL, &r->o, &res, err) < 0)
		return -1;
	cli_registry_progress_end(r);
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
