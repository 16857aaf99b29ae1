#include "cli/cli.h"
#include "cli/layer_limit.h"
#include "cli/registry_opts.h"
#include "util/platform.h"

#include <stdio.h>

static const char pull_usage[] =
	"usage: cairn pull [OPTIONS] IMAGE\n"
	"\n"
	"Pull IMAGE (registry.example:5000/team/app:1, alpine, name@sha256:...) into the\n"
	"store, tagged under the name as given. Every blob is verified against its\n"
	"digest and every layer unpacked as untrusted input before the tag is set.\n"
	"\n"
	"Options:\n"
	CLI_REGISTRY_USAGE
	"      --platform OS/ARCH[/VARIANT]  the image to take from a multi-platform index\n"
	"                           (default: the host's, linux/amd64 here); a\n"
	"                           single-platform image must be that platform\n"
	CLI_MAX_LAYER_SIZE_USAGE
	"  -q, --quiet              print only the manifest digest\n"
	"  -h, --help               show this help\n";

static int pull(struct store *st, char **ops, int n, struct cli_registry *r, cn_err *err)
{
	struct reg_result res;
	struct cn_platform plat;
	(void)n;
	/* Checked before any request: an invalid platform is never ignored. */
	if (r->o.platform && cn_platform_parse(r->o.platform, &plat, err) < 0)
		return -1;
	if (reg_pull(st, ops[0], &r->o, &res, err) < 0)
		return -1;
	cli_registry_progress_end(r);
	if (!r->quiet && res.local)
		fprintf(stderr, "pulled %s\n", cli_esc(res.local));
	printf("%s\n", res.manifest_digest);
	reg_result_free(&res);
	return 0;
}

int cmd_pull(struct cli *cli, int argc, char **argv)
{
	const char *max_layer;
	int rc = cli_take_max_layer_size("pull", &argc, argv, &max_layer);
	if (rc || (rc = cli_max_layer_size("pull", max_layer)) != 0)
		return rc;
	return cli_registry_command(cli, "pull", pull_usage, "expected one IMAGE", 1, 1, true, argc, argv,
				    pull);
}
