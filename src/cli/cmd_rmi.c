#include "cli/cli.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_rmi(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store st;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: cairn rmi IMAGE...\n\n"
			       "Remove image tags. Layers stay in the store until pruned.\n");
			return 0;
		}
		return cli_usage_error("rmi", "invalid option");
	}
	if (optind >= argc)
		return cli_usage_error("rmi", "expected at least one image");
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	for (int i = optind; i < argc; i++) {
		cn_err err;
		_cleanup_free_ char *ref = store_ref_normalize(argv[i], &err);
		int r = ref ? store_tag_remove(&st, ref, "rmi", &err) : -1;
		if (r < 0) {
			rc = cli_fail(&err);
		} else if (r == 0) {
			fprintf(stderr, "error: image '%s' not found\n", cli_esc(argv[i]));
			rc = EXIT_FAIL;
		} else {
			printf("Untagged: %s\n", cli_esc(ref));
		}
	}
	store_close(&st);
	return rc;
}
