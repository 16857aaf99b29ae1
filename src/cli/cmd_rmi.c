/* cairn rmi: remove tags, by name or by image id (docker's rules: an id
 * with several tags needs -f). Content stays until prune: the untagged
 * image is listed as <none>, and rollback can still return to it. */
#include "cli/cli.h"
#include "store/images.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int untag(struct store *st, const char *ref)
{
	cn_err err;
	int r = store_tag_remove(st, ref, "rmi", &err);
	if (r < 0)
		return cli_fail(&err);
	if (r == 0) {       /* removed by another command meanwhile */
		fprintf(stderr, "error: image '%s' not found\n", cli_esc(ref));
		return EXIT_FAIL;
	}
	printf("Untagged: %s\n", cli_esc(ref));
	return 0;
}

/* ARG names an image by id or digest: untag every tag of that image. */
static int untag_image(struct store *st, const char *arg, bool force)
{
	struct store_image_list l;
	struct store_image img;
	size_t tags = 0;
	cn_err err;
	int r = store_image_load(st, arg, &img, &err), rc = 0;
	if (r <= 0) {
		if (r < 0)
			return cli_fail(&err);
		fprintf(stderr, "error: image '%s' not found\n", cli_esc(arg));
		return EXIT_FAIL;
	}
	if (store_images_list(st, false, &l, &err) < 0) {
		store_image_free(&img);
		return cli_fail(&err);
	}
	for (size_t i = 0; i < l.n; i++)
		tags += l.v[i].ref && !strcmp(l.v[i].id, img.config_digest);
	if (tags == 0) {
		fprintf(stderr, "error: image %.12s has no tag; it stays in the store for rollback "
			"until 'cairn prune --all'\n", img.config_digest + 7);
		rc = EXIT_FAIL;
	} else if (tags > 1 && !force) {
		fprintf(stderr, "error: conflict: unable to delete %.12s (must be forced) - image is "
			"referenced in multiple repositories\n", img.config_digest + 7);
		rc = EXIT_FAIL;
	} else {
		for (size_t i = 0; i < l.n && rc == 0; i++)
			if (l.v[i].ref && !strcmp(l.v[i].id, img.config_digest))
				rc = untag(st, l.v[i].ref);
	}
	store_images_list_free(&l);
	store_image_free(&img);
	return rc;
}

int cmd_rmi(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	struct store st;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		if (c == 'f') {
			force = true;
			continue;
		}
		if (c == 'h') {
			printf("usage: cairn rmi [-f] IMAGE...\n"
			       "       cairn image rm [-f] IMAGE...\n\n"
			       "Remove image tags, printing 'Untagged: NAME' for each. IMAGE is a name\n"
			       "(busybox, library/busybox and docker.io/library/busybox:latest are one) or an\n"
			       "image id (a unique prefix of 4 or more digits): every tag of that image goes,\n"
			       "and with more than one tag only with -f. The content stays in the store\n"
			       "(listed as <none>; rollback can return to it) until 'cairn prune --all'.\n"
			       "  -f, --force   remove all the tags of an image named by id\n");
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
		char digest[CN_DIGEST_STR_SIZE];
		int r = ref ? store_tag_get(&st, ref, digest, &err) : 0;
		if (r < 0) {
			rc = cli_fail(&err);
		} else if (r > 0) {
			if (untag(&st, ref))
				rc = EXIT_FAIL;
		} else if (store_short_id(argv[i]) || cn_digest_valid(argv[i])) {
			if (untag_image(&st, argv[i], force))
				rc = EXIT_FAIL;
		} else if (!ref) {
			rc = cli_fail(&err);
		} else {
			fprintf(stderr, "error: image '%s' not found\n", cli_esc(argv[i]));
			rc = EXIT_FAIL;
		}
	}
	store_close(&st);
	return rc;
}
