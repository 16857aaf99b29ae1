#include "cli/cli.h"
#include "store/image.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store st;
	json_t *out;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: cairn inspect IMAGE...\n\n"
			       "Print a JSON array with each image's digest, manifest and config.\n");
			return 0;
		}
		return cli_usage_error("inspect", "invalid option");
	}
	if (optind >= argc)
		return cli_usage_error("inspect", "expected at least one image");
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	out = json_array();
	for (int i = optind; i < argc; i++) {
		struct store_image img;
		cn_err err;
		int r = store_image_load(&st, argv[i], &img, &err);
		if (r < 0) {
			rc = cli_fail(&err);
			continue;
		}
		if (r == 0) {
			fprintf(stderr, "error: image '%s' not found\n", cli_esc(argv[i]));
			rc = EXIT_FAIL;
			continue;
		}
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:O, s:O}", "Name", argv[i],
						     "Digest", img.manifest_digest, "ConfigDigest",
						     img.config_digest, "Manifest", img.manifest,
						     "Config", img.config));
		store_image_free(&img);
	}
	if (json_array_size(out) > 0) {
		_cleanup_free_ char *text = json_dumps(out, JSON_INDENT(4) | JSON_SORT_KEYS |
							 JSON_ENSURE_ASCII);     /* no raw C1 controls */
		if (text)
			printf("%s\n", text);
	}
	json_decref(out);
	store_close(&st);
	return rc;
}
