#include "cli/cli.h"
#include "store/image.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_tag(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ char *dst = NULL;
	struct store_image img;
	struct store st;
	cn_err err;
	int c, r, rc = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: cairn tag SOURCE TARGET\n\n"
			       "Point the tag TARGET at the image SOURCE (a tag or a manifest digest).\n");
			return 0;
		}
		return cli_usage_error("tag", "invalid option");
	}
	if (argc - optind != 2)
		return cli_usage_error("tag", "expected SOURCE and TARGET");
	dst = store_ref_normalize(argv[optind + 1], &err);
	if (!dst)
		return cli_usage_error("tag", "%s", err.msg);
	if (cli_open_store_for_tagging(cli, &st) < 0)
		return EXIT_FAIL;
	r = store_image_load(&st, argv[optind], &img, &err);
	if (r == 0) {
		fprintf(stderr, "error: image '%s' not found\n", cli_esc(argv[optind]));
		rc = EXIT_FAIL;
	} else if (r < 0 || store_tag_set(&st, dst, img.manifest_digest, store_blob_size(&st, img.manifest_digest),
					  "tag", &err) < 0) {
		rc = cli_fail(&err);
	}
	if (r > 0)
		store_image_free(&img);
	store_close(&st);
	return rc;
}
