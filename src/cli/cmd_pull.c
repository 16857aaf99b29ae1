#include "cli/cli.h"
#include "cli/registry_opts.h"
#include "util/interrupt.h"

#include <stdio.h>
#include <unistd.h>
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
	struct cli_registry reg;
	struct reg_result res;
	struct store st;
	cn_err err;
	int rc = 0;

	cli_registry_init(&reg, false);
	rc = cli_registry_parse(&reg, "pull", pull_usage, argc, argv);
	if (rc != 0) {
		cli_registry_free(&reg);
		return rc < 0 ? EXIT_USAGE : 0;
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
		if (!reg.quiet && res.local)
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
