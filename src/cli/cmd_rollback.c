#include "cli/cli.h"
#include "store/image.h"
#include "util/cleanup.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most recent earlier value different from the current one: so that a
 * second rollback undoes the first. */
static const char *previous_value(const struct store_tag_event *ev, size_t n, const char *current)
{
	for (size_t i = n; i-- > 0;)
		if (*ev[i].digest && strcmp(ev[i].digest, current) != 0)
			return ev[i].digest;
	return NULL;
}

/* Up to 6 digits is a row; a digest prefix needs 7 or more characters
 * (or "sha256:"), so the two never overlap. */
static bool is_row_number(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 6)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A digest, or an unambiguous prefix of one, among the tag's values and
 * the current image's row states. */
static int match_digest(const char *want, const struct store_tag_event *ev, size_t n,
			char (*states)[CN_DIGEST_STR_SIZE], size_t rows, char out[CN_DIGEST_STR_SIZE])
{
	const char *hex = strncmp(want, "sha256:", 7) == 0 ? want + 7 : want;
	size_t len = strlen(hex);
	const char *found = NULL;
	if (len < 7 || len > 64)
		return -1;
	for (size_t i = 0; i < n + rows; i++) {
		const char *d = i < n ? ev[i].digest : states[i - n];
		if (!*d || strncmp(d + 7, hex, len) != 0)
			continue;
		if (found && strcmp(found, d) != 0)
			return -2;
		found = d;
	}
	if (!found)
		return -1;
	memcpy(out, found, CN_DIGEST_STR_SIZE);
	return 0;
}

/* The same over the values' and states' image ids (config digests, what
 * images and history show): the manifest whose id starts with WANT. */
static int match_id(struct store *st, const char *want, const struct store_tag_event *ev, size_t n,
		    char (*states)[CN_DIGEST_STR_SIZE], size_t rows, char out[CN_DIGEST_STR_SIZE])
{
	const char *hex = strncmp(want, "sha256:", 7) == 0 ? want + 7 : want;
	size_t len = strlen(hex);
	char id[CN_DIGEST_STR_SIZE] = "";
	int found = -1;
	if (len < 7 || len > 64)
		return -1;
	for (size_t i = 0; i < n + rows; i++) {
		const char *d = i < n ? ev[i].digest : states[i - n];
		struct store_image img;
		cn_err ignored;
		if (!*d || store_image_load_manifest(st, d, &img, &ignored) != 1)
			continue;
		if (strncmp(img.config_digest + 7, hex, len) == 0) {
			if (found == 0 && strcmp(id, img.config_digest) != 0)
				found = -2;
			else if (found == -1) {
				found = 0;
				memcpy(id, img.config_digest, sizeof(id));
				memcpy(out, d, CN_DIGEST_STR_SIZE);
			}
		}
		store_image_free(&img);
	}
	return found;
}

int cmd_rollback(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ char *ref = NULL;
	_cleanup_free_ struct store_tag_event *ev = NULL;
	_cleanup_free_ char (*states)[CN_DIGEST_STR_SIZE] = NULL;
	char current[CN_DIGEST_STR_SIZE] = "", target[CN_DIGEST_STR_SIZE] = "";
	const char *to = NULL;
	struct store_image img, goal;
	struct store st;
	size_t n = 0, rows = 0;
	cn_err err;
	int c, r, rc = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 't') {
			to = optarg;
			continue;
		}
		if (c == 'h') {
			printf("usage: cairn rollback IMAGE [--to ROW|DIGEST]\n\n"
			       "Move the tag IMAGE back: to its previous value (a second rollback undoes\n"
			       "the first), to the state after history row ROW (1 = oldest: see 'cairn\n"
			       "history --rows'), or to DIGEST, a manifest digest or image id (at least 7\n"
			       "characters) of one of its earlier values or states. Only the reference\n"
			       "moves; it is logged.\n");
			return 0;
		}
		return cli_usage_error("rollback", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage_error("rollback", "expected one image");
	ref = store_ref_normalize(argv[optind], &err);
	if (!ref)
		return cli_usage_error("rollback", "%s", err.msg);
	if (cli_open_store_for_tagging(cli, &st) < 0)
		return EXIT_FAIL;
	if (store_taglog_read(&st, ref, &ev, &n, NULL, &err) < 0 || store_tag_get(&st, ref, current, &err) < 0) {
		cli_fail(&err);
		goto out;
	}
	memset(&img, 0, sizeof(img));
	if (*current) {
		r = store_image_load(&st, current, &img, &err);
		if (r < 0) {
			cli_fail(&err);
			goto out;
		}
		if (r > 0)
			store_image_row_states(&st, &img, &states, &rows, &err);
		store_image_free(&img);
	}
	if (!to) {
		const char *prev = previous_value(ev, n, current);
		if (!prev) {
			fprintf(stderr, "error: '%s' has no earlier value to roll back to\n", ref);
			goto out;
		}
		memcpy(target, prev, sizeof(target));
	} else if (is_row_number(to)) {
		size_t row = strtoul(to, NULL, 10);
		if (!*current || row == 0 || row > rows) {
			fprintf(stderr, "error: '%s' has no history row %s (it has %zu)\n", ref, cli_esc(to), rows);
			goto out;
		}
		if (!states[row - 1][0]) {
			fprintf(stderr, "error: no state of '%s' is recorded after row %zu (it lies inside "
				"a base image cairn did not build)\n", ref, row);
			goto out;
		}
		memcpy(target, states[row - 1], sizeof(target));
	} else {
		r = match_digest(to, ev, n, states, rows, target);
		if (r == -1)
			r = match_id(&st, to, ev, n, states, rows, target);
		if (r < 0) {
			fprintf(stderr, "error: '%s' %s\n", cli_esc(to), r == -2 ? "matches several earlier values"
				: "is not an earlier value or history state of this tag");
			goto out;
		}
	}
	/* Only the reference moves, but it must land on a whole image. */
	r = store_image_load(&st, target, &goal, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "error: image %s is no longer in the store\n", target);
		else
			cli_fail(&err);
		goto out;
	}
	for (size_t i = 0; i < goal.nlayers; i++) {
		if (!store_blob_exists(&st, goal.layers[i].digest) ||
		    !store_snapshot_exists(&st, goal.layers[i].diff_id)) {
			fprintf(stderr, "error: image %s is no longer complete in the store (layer %s)\n",
				target, goal.layers[i].digest);
			store_image_free(&goal);
			goto out;
		}
	}
	store_image_free(&goal);
	if (store_tag_set(&st, ref, target, store_blob_size(&st, target), "rollback", &err) < 0) {
		cli_fail(&err);
		goto out;
	}
	printf("%s\n", target);
	rc = 0;
out:
	store_close(&st);
	return rc;
}
