#include "cli/cli.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_log(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-trunc", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ char *ref = NULL;
	_cleanup_free_ struct store_tag_event *ev = NULL;
	char current[CN_DIGEST_STR_SIZE] = "";
	bool full = false;
	struct store st;
	size_t n = 0;
	cn_err err;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'n') {
			full = true;
			continue;
		}
		if (c == 'h') {
			printf("usage: cairn log [--no-trunc] IMAGE\n\n"
			       "Every value the tag IMAGE took, oldest first: when, the manifest digest,\n"
			       "and why (build, tag, pull, load, rollback, rmi). '*' marks the current one.\n");
			return 0;
		}
		return cli_usage_error("log", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage_error("log", "expected one image");
	ref = store_ref_normalize(argv[optind], &err);
	if (!ref)
		return cli_usage_error("log", "%s", err.msg);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	if (store_taglog_read(&st, ref, &ev, &n, NULL, &err) < 0 || store_tag_get(&st, ref, current, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "error: no log for '%s'\n", ref);
		rc = EXIT_FAIL;
		goto out;
	}
	printf("%-4s %-20s %-*s %s\n", "#", "TIME", full ? 71 : 19, "DIGEST", "CAUSE");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		time_t t = (time_t)ev[i].time;
		struct tm tm;
		bool is_current = i == n - 1 && *current && strcmp(current, ev[i].digest) == 0;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-4zu %-20s %-*.*s %s%s\n", i + 1, when, full ? 71 : 19, full ? 71 : 19,
		       *ev[i].digest ? ev[i].digest : "-", cli_esc(ev[i].cause), is_current ? " *" : "");
	}
out:
	store_close(&st);
	return rc;
}
