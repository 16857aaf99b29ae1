#include "cli/cli.h"
#include "store/gc.h"

#include <getopt.h>
#include <stdio.h>

static void row(const char *what, const struct store_usage *u, const char *note)
{
	char size[32];
	cli_human_size(u->bytes, size, sizeof(size));
	printf("%-14s %7zu %10s   %s\n", what, u->count, size, note);
}

int cmd_df(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_df df;
	struct store st;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: cairn df\n\nShow the space the store uses: by tagged images, by layers\n"
			       "they share, by unpacked snapshots, and by what only tag logs and the\n"
			       "build cache still hold (what 'cairn prune --all' would consider).\n");
			return 0;
		}
		return cli_usage_error("df", "invalid option");
	}
	if (optind < argc)
		return cli_usage_error("df", "unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	if (store_df(&st, &df, &err) < 0) {
		rc = cli_fail(&err);
	} else {
		printf("%-14s %7s %10s   %s\n", "TYPE", "COUNT", "SIZE", "");
		row("Images", &df.images, "tags; size of the blobs they reach");
		row("Shared layers", &df.shared, "layer blobs reached by more than one tag");
		row("Snapshots", &df.snapshots, "unpacked layers (disk space)");
		row("Cache", &df.cache, "blobs no tag reaches: earlier values, cached steps");
		row("All blobs", &df.blobs, "");
		row("Cache mounts", &df.cache_mounts, "RUN --mount=type=cache directories (disk space)");
	}
	store_close(&st);
	return rc;
}
