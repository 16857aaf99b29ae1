#include "cli/cli.h"
#include "store/image.h"
#include "util/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_history(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-trunc", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ char (*states)[CN_DIGEST_STR_SIZE] = NULL;
	bool full = false;
	struct store_image img;
	struct store st;
	size_t rows, layer = 0, i;
	json_t *h;
	cn_err err;
	int c, r, w;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'n') {
			full = true;
			continue;
		}
		if (c == 'h') {
			printf("usage: cairn history [--no-trunc] IMAGE\n\n"
			       "Show an image's history, oldest row first: the state (an image of its own,\n"
			       "usable with 'cairn rollback --to ROW'), creation time, layer size and digest\n"
			       "(or <empty> for a step that changed no file), and the instruction.\n");
			return 0;
		}
		return cli_usage_error("history", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage_error("history", "expected one image");
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	r = store_image_load(&st, argv[optind], &img, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "error: image '%s' not found\n", cli_esc(argv[optind]));
		else
			cli_fail(&err);
		store_close(&st);
		return EXIT_FAIL;
	}
	store_image_row_states(&st, &img, &states, &rows, &err);
	w = full ? 71 : 12;
	printf("%-4s %-*s %-20s %-10s %-*s %s\n", "ROW", w, "STATE", "CREATED", "SIZE", w, "LAYER",
	       "CREATED BY");
	json_array_foreach(json_object_get(img.config, "history"), i, h) {
		bool empty = json_is_true(json_object_get(h, "empty_layer"));
		const char *created = json_string_value(json_object_get(h, "created"));
		const char *by = json_string_value(json_object_get(h, "created_by"));
		const char *state = states[i][0] ? states[i] + (full ? 0 : 7) : "-";
		char size[32], digest[CN_DIGEST_STR_SIZE];
		if (empty || layer >= img.nlayers) {
			snprintf(size, sizeof(size), "0 B");
			snprintf(digest, sizeof(digest), "<empty>");
		} else {
			cli_human_size(img.layers[layer].size, size, sizeof(size));
			snprintf(digest, sizeof(digest), "%s", img.layers[layer].digest + (full ? 0 : 7));
			layer++;
		}
		printf("%-4zu %-*.*s %-20.20s %-10s %-*.*s %s\n", i + 1, w, w, state,
		       created ? cli_esc(created) : "-", size, w, w, digest, cli_esc(by));
	}
	store_image_free(&img);
	store_close(&st);
	return 0;
}
