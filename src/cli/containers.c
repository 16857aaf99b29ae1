#include "cli/containers.h"

#include <stdio.h>

int cli_each_container(struct cli *cli, char **names, int n, cli_container_fn fn, void *ctx)
{
	struct store st;
	int rc = 0;
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	for (int i = 0; i < n; i++) {
		struct ctr_state s = { .name = NULL };
		cn_err err;
		int r = ctr_lookup(&st, names[i], &s, &err);
		if (r == 0) {
			fprintf(stderr, "error: no such container: %s\n", cli_esc(names[i]));
			rc = EXIT_FAIL;
			continue;
		}
		if (r < 0 || fn(&st, &s, names[i], ctx, &err) < 0) {
			cli_fail(&err);
			rc = EXIT_FAIL;
		} else {
			printf("%s\n", cli_esc(names[i]));
			fflush(stdout);
		}
		ctr_state_free(&s);
	}
	store_close(&st);
	return rc;
}
