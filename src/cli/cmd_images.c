#include "cli/cli.h"
#include "store/image.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* "name:tag" split at the tag's colon (a host:port colon comes before a '/'). */
static void split_ref(const char *ref, char *name, size_t nlen, const char **tag)
{
	const char *colon = strrchr(ref, ':');
	const char *slash = strrchr(ref, '/');
	if (!colon || (slash && colon < slash)) {
		snprintf(name, nlen, "%s", ref);
		*tag = "<none>";
		return;
	}
	snprintf(name, nlen, "%.*s", (int)(colon - ref), ref);
	*tag = colon + 1;
}

int cmd_images(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool quiet = false;
	struct store st;
	json_t *idx = NULL, *e;
	size_t i;
	cn_err err;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if (c == 'q') {
			quiet = true;
			continue;
		}
		if (c == 'h') {
			printf("usage: cairn images [-q]\n\nList tagged images.\n"
			       "  -q, --quiet   print only image digests\n");
			return 0;
		}
		return cli_usage_error("images", "invalid option");
	}
	if (optind < argc)
		return cli_usage_error("images", "unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	if (store_index_load(&st, &idx, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (!quiet)
		printf("%-40s %-16s %-19s %-20s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
	json_array_foreach(json_object_get(idx, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"),
								    "org.opencontainers.image.ref.name"));
		const char *digest = json_string_value(json_object_get(e, "digest"));
		struct store_image img;
		unsigned long long total = 0;
		char name[256], size[32];
		const char *tag, *created;
		if (!ref || !digest)
			continue;
		if (quiet) {
			printf("%s\n", cli_esc(digest));
			continue;
		}
		split_ref(ref, name, sizeof(name), &tag);
		if (store_image_load(&st, digest, &img, &err) <= 0) {
			printf("%-40s %-16s %-19.19s %-20s %s\n", cli_esc(name), cli_esc(tag), cli_esc(digest + 7),
			       "-", "(unreadable)");
			continue;
		}
		for (size_t l = 0; l < img.nlayers; l++)
			total += img.layers[l].size;
		cli_human_size(total, size, sizeof(size));
		created = json_string_value(json_object_get(img.config, "created"));
		printf("%-40s %-16s %-19.12s %-20.20s %s\n", cli_esc(name), cli_esc(tag), cli_esc(digest + 7),
		       created ? cli_esc(created) : "-", size);
		store_image_free(&img);
	}
out:
	json_decref(idx);
	store_close(&st);
	return rc;
}
