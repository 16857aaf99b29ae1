#include "cli/cli.h"
#include "cli/registry_opts.h"
#include "util/interrupt.h"

#include <stdio.h>
#include <unistd.h>
#include <string.h>

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

int cmd_push(struct cli *cli, int argc, char **argv)
{
	struct cli_registry reg;
	struct reg_result res;
	struct store st;
	cn_err err;
	int rc = 0;

	cli_registry_init(&reg, false);
	rc = cli_registry_parse(&reg, "push", push_usage, argc, argv);
	if (rc != 0) {
		cli_registry_free(&reg);
		return rc < 0 ? EXIT_USAGE : 0;
	}
	if (argc - optind < 1 || argc - optind > 2) {
		cli_usage_error("push", "expected IMAGE [DESTINATION]");
		goto usage;
	}
	if (reg_global_init(&err) < 0 || cli_open_store(cli, &st) < 0) {
		cli_registry_free(&reg);
		return EXIT_FAIL;
	}
	cn_interrupt_install();
	if (reg_push(&st, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, &reg.o, &res, &err) < 0) {
		cli_registry_progress_end(&reg);
		rc = cli_fail(&err);
		if (cn_interrupted())
			rc = 128 + cn_interrupt_signal();
	} else {
		cli_registry_progress_end(&reg);
		if (!reg.quiet)
			fprintf(stderr, "pushed: %u blobs sent, %u already there, %u mounted\n", res.blobs_sent,
				res.blobs_skipped, res.blobs_mounted);
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
