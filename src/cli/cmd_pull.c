#include "cli/cli.h"
#include "cli/registry_opts.h"
#include "util/interrupt.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char pull_usage[] =
	"usage: cairn pull [OPTIONS] IMAGE\n"
	"\n"
	"Pull IMAGE (registry.example:5000/team/app:1, alpine, name@sha256:...) into the\n"
	"store, tagged under the name as given. Every blob is verified against its\n"
	"digest and every layer unpacked as untrusted input before the tag is set.\n"
	"\n"
	"Options:\n"
	CLI_REGISTRY_USAGE
	"      --platform OS/ARCH   the image to take from a multi-platform index\n"
	"                           (default: the host's, linux/amd64 here)\n"
	"  -q, --quiet              print only the manifest digest\n"
	"  -h, --help               show this help\n";

int cmd_pull(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_REGISTRY_OPTIONS,
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_registry reg;
	struct reg_result res;
	struct store st;
	cn_err err;
	int c, rc = 0;
	bool quiet = false;

	cli_registry_init(&reg, false);
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		int r = cli_registry_opt(&reg, "pull", c, optarg);
		if (r < 0)
			goto usage;
		if (r > 0)
			continue;
		switch (c) {
		case 'q':
			quiet = reg.quiet = true;
			break;
		case 'h':
			fputs(pull_usage, stdout);
			cli_registry_free(&reg);
			return 0;
		default:
			cli_usage_error("pull", "invalid option");
			goto usage;
		}
	}
	if (argc - optind != 1) {
		cli_usage_error("pull", "expected one IMAGE");
		goto usage;
	}
	if (reg_global_init(&err) < 0 || cli_open_store_for_tagging(cli, &st) < 0) {
		cli_registry_free(&reg);
		return EXIT_FAIL;
	}
	cn_interrupt_install();
	if (reg_pull(&st, argv[optind], &reg.o, &res, &err) < 0) {
		cli_registry_progress_end(&reg);
		rc = cli_fail(&err);
		if (cn_interrupted())
			rc = 128 + cn_interrupt_signal();
	} else {
		cli_registry_progress_end(&reg);
		if (!quiet && res.local)
			fprintf(stderr, "pulled %s\n", res.local);
		printf("%s\n", res.manifest_digest);
		reg_result_free(&res);
	}
	store_close(&st);
	cli_registry_free(&reg);
	return rc;
usage:
	cli_registry_free(&reg);
	return EXIT_USAGE;
}
