#include "cli/cli.h"
#include "container/container.h"
#include "store/gc.h"
#include "store/images.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "90" (seconds), "90s", "15m", "12h", "30d", "2w". */
static int parse_duration(const char *s, long long *out)
{
	static const struct { char unit; long long seconds; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	if (*end == '\0') {
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (end[0] == units[i].unit && end[1] == '\0') {
			if (v > (1LL << 40))
				return -1;
			*out = v * units[i].seconds;
			return 0;
		}
	}
	return -1;
}

static void report_unreadable(void *ctx, const char *problem)
{
	(void)ctx;
	fprintf(stderr, "warning: skipped an image that cannot be read: %s\n", cli_esc(problem));
}

/* "Deleted Images:" and a "deleted: ID" line per image (by id, each once)
 * whose manifest is gone, as docker's image prune prints them. */
static void report_deleted(struct store *st, const struct store_image_list *before)
{
	json_t *said = json_object();
	size_t deleted = 0;
	/* An id another surviving manifest still carries was not deleted. */
	for (size_t i = 0; i < before->n; i++)
		if (*before->v[i].id && store_blob_exists(st, before->v[i].manifest))
			json_object_set_new(said, before->v[i].id, json_false());
	for (size_t i = 0; i < before->n; i++) {
		const struct store_image_entry *e = &before->v[i];
		if (!*e->id || store_blob_exists(st, e->manifest) || json_object_get(said, e->id))
			continue;
		if (!deleted++)
			printf("Deleted Images:\n");
		json_object_set_new(said, e->id, json_true());
		printf("deleted: %s\n", e->id);
	}
	if (deleted)
		printf("\n");
	json_decref(said);
}

int cmd_prune(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "keep", required_argument, NULL, 'k' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_prune_opts o = { .all = false, .keep = -1, .older_than = -1,
				      .roots = ctr_image_roots, .report = report_unreadable };
	struct store_prune_stats s;
	struct store_image_list before;
	struct store st;
	char size[32];
	cn_err err;
	int c, rc = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.all = true;
			break;
		case 'k':
			o.keep = strtol(optarg, &end, 10);
			if (*end || end == optarg || o.keep < 0)
				return cli_usage_error("prune", "--keep: '%s' is not a count", optarg);
			break;
		case 'o':
			if (parse_duration(optarg, &o.older_than) < 0)
				return cli_usage_error("prune", "--older-than: '%s' is not a duration "
						       "(like 3600, 90m, 12h, 30d, 2w)", optarg);
			break;
		case 'h':
			printf("usage: cairn prune [--all | --keep N | --older-than DURATION]\n\n"
			       "Remove blobs, snapshots and build-cache entries that nothing references,\n"
			       "every RUN --mount=type=cache directory, and temporary files left by\n"
			       "killed processes. Every value in a tag's log\n"
			       "stays protected (rollback can return to it) unless:\n"
			       "  -a, --all                only current tags protect anything\n"
			       "      --keep N             only the last N values of each tag do\n"
			       "      --older-than DUR     values older than DUR (90m, 12h, 30d) do not\n"
			       "Waits for running builds; keeps the images of detached containers\n"
			       "until they exit. Prints the images it deleted (by id) and the space\n"
			       "reclaimed, as docker does. Also 'cairn image prune'.\n");
			return 0;
		default:
			return cli_usage_error("prune", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("prune", "unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	/* The images before, to say which ones prune deleted (docker's list). */
	if (store_images_list(&st, true, &before, &err) < 0)
		memset(&before, 0, sizeof(before));
	if (store_prune(&st, &o, &s, &err) < 0) {
		rc = cli_fail(&err);
	} else {
		report_deleted(&st, &before);
		cli_docker_size(s.bytes, size, sizeof(size));
		printf("removed %zu blobs, %zu snapshots, %zu cache entries, %zu cache mounts, "
		       "%zu tag-log entries\nTotal reclaimed space: %s\n",
		       s.blobs, s.snapshots, s.cache_entries, s.cache_mounts, s.log_entries, size);
		if (s.unreadable)
			fprintf(stderr, "warning: %zu image%s could not be read, so no snapshot was removed; "
				"'cairn fsck --repair' removes %s, then prune frees what only %s used\n", s.unreadable,
				s.unreadable == 1 ? "" : "s", s.unreadable == 1 ? "it" : "them",
				s.unreadable == 1 ? "it" : "they");
		if (s.failures) {
			fprintf(stderr, "error: %zu entries could not be removed (see 'cairn fsck')\n",
				s.failures);
			rc = EXIT_FAIL;
		}
	}
	store_images_list_free(&before);
	store_close(&st);
	return rc;
}
