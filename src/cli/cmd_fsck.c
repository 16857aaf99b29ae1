#include "cli/cli.h"
#include "layers/layer.h"
#include "store/gc.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void print_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("%s\n", cli_esc(problem));
}

/* fsck's diff_id hook: the compression checked against the media type, the
 * blob decompressed and hashed, nothing extracted. */
static int blob_diff_id(int fd, const char *media_type, const char *digest, char out[CN_DIGEST_STR_SIZE],
			cn_err *err)
{
	struct layer_extract_result res;
	if (layer_check_media_type(fd, media_type, digest, err) < 0 || layer_hash(fd, 0, &res, err) < 0)
		return -1;
	memcpy(out, res.diff_id, CN_DIGEST_STR_SIZE);
	return 0;
}

int cmd_fsck(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool repair = false;
	struct store st;
	size_t problems = 0;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'r') {
			repair = true;
			continue;
		}
		if (c == 'h') {
			printf("usage: cairn fsck [--repair]\n\n"
			       "Re-hash every blob and check every tag's image (each layer blob decompressed:\n"
			       "its diff_id must be the one the image's config names), the tag logs and the\n"
			       "build cache. Each problem is printed on a line; the exit status is 1 if any\n"
			       "was found. --repair removes corrupt blobs, tags whose image is incomplete (and\n"
			       "the manifest of an image that cannot be read, so that prune frees what only it\n"
			       "used), and cache entries pointing at missing images.\n");
			return 0;
		}
		return cli_usage_error("fsck", "invalid option");
	}
	if (optind < argc)
		return cli_usage_error("fsck", "unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	if (store_fsck_layers(&st, repair, blob_diff_id, print_problem, NULL, &problems, &err) < 0)
		rc = cli_fail(&err);
	else if (problems) {
		fprintf(stderr, "error: %zu problem%s found%s\n", problems, problems == 1 ? "" : "s",
			repair ? " (repaired what could be)" : "");
		rc = EXIT_FAIL;
	} else {
		printf("store is consistent\n");
	}
	store_close(&st);
	return rc;
}
