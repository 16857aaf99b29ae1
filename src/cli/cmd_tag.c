#include "cli/cli.h"
#include "store/image.h"
#include "store/imgindex.h"
#include "util/digest.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

/* The image index SOURCE names (a tag on one, or its digest) in INDEX. */
static bool source_index(struct store *st, const char *source, char index[CN_DIGEST_STR_SIZE])
{
	cn_err ignored;
	_cleanup_free_ char *tag = cn_digest_valid(source) ? NULL : store_ref_normalize(source, &ignored);
	if (tag ? store_tag_get(st, tag, index, &ignored) != 1 : snprintf(index, CN_DIGEST_STR_SIZE, "%s", source) < 0)
		return false;
	return store_index_blob_is(st, index);
}

int cmd_tag(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ char *dst = NULL;
	struct store_image img;
	struct store st;
	char index[CN_DIGEST_STR_SIZE];
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
	/* A multi-platform tag (or index digest) is tagged as the index, not
	 * as the one platform store_image_load would pick. */
	if (source_index(&st, argv[optind], index)) {
		if (store_tag_set(&st, dst, index, store_blob_size(&st, index), "tag", &err) < 0)
			rc = cli_fail(&err);
		store_close(&st);
		return rc;
	}
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
