#include "builder/parse.h"
#include "cli/cli.h"
#include "util/fs.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>

int cmd_parse(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_buf_ cn_buf text = { .data = NULL };
	_cleanup_buf_ cn_buf dump = { .data = NULL };
	struct bf_file f;
	cn_err err;
	int c;
	(void)cli;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: cairn parse FILE\n\n"
			       "Print the syntax tree of a Buildfile, one instruction per line.\n");
			return 0;
		}
		return cli_usage_error("parse", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage_error("parse", "expected one file");
	cn_buf_init(&text, BF_MAX_FILE);
	cn_buf_init(&dump, 0);
	if (cn_read_file_at(AT_FDCWD, argv[optind], BF_MAX_FILE, &text, &err) < 0 ||
	    bf_parse(argv[optind], text.data, text.len, &f, &err) < 0)
		return cli_fail(&err);
	for (size_t i = 0; i < f.warnings.n; i++)
		fprintf(stderr, "warning: %s\n", cli_esc(f.warnings.v[i]));
	bf_dump(&f, &dump);
	fwrite(dump.data, 1, dump.len, stdout);
	bf_file_free(&f);
	return 0;
}
