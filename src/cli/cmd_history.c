/* cairn history: docker's columns, newest row first. IMAGE is the id of
 * the state after the row (an image of its own), <missing> where none is
 * recorded; --rows adds cairn's row numbers (1 = oldest), the ones
 * 'rollback --to ROW' takes. */
#include "cli/cli.h"
#include "store/images.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CREATED_BY_WIDTH 45     /* docker truncates CREATED BY there */

/* S cut to CREATED_BY_WIDTH bytes ending in "…" as docker does (escaped
 * text is ASCII, so bytes are characters there). */
static void truncate_text(const char *s, char *out, size_t len)
{
	int n = CREATED_BY_WIDTH - 1;
	if (strlen(s) <= CREATED_BY_WIDTH) {
		snprintf(out, len, "%s", s);
		return;
	}
	/* (--format gets the raw text: never cut inside a UTF-8 sequence) */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	snprintf(out, len, "%.*s…", n, s);
}

/* The id (config digest) of each row's state; "" where unknown. */
static void state_ids(struct store *st, char (*states)[CN_DIGEST_STR_SIZE], size_t rows)
{
	for (size_t i = 0; i < rows; i++) {
		struct store_image s;
		cn_err ignored;
		if (!states[i][0])
			continue;
		if (store_image_load_manifest(st, states[i], &s, &ignored) == 1) {
			memcpy(states[i], s.config_digest, CN_DIGEST_STR_SIZE);
			store_image_free(&s);
		} else {
			states[i][0] = '\0';
		}
	}
}

int cmd_history(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-trunc", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "rows", no_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ char (*states)[CN_DIGEST_STR_SIZE] = NULL;
	_cleanup_free_ size_t *layer_of = NULL;
	bool full = false, quiet = false, numbered = false;
	const char *format = NULL;
	struct cn_fmt fmt = { 0 };
	long long now = (long long)time(NULL);
	struct store_image img;
	struct cli_table t;
	struct store st;
	size_t rows, layer = 0, i;
	json_t *hist, *h;
	cn_err err;
	int c, r, rc = 0;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': full = true; break;
		case 'q': quiet = true; break;
		case 'r': numbered = true; break;
		case 'F': format = optarg; break;
		case 'h':
			printf("usage: cairn history [--no-trunc] [-q] [--rows] [--format F] IMAGE\n"
			       "       cairn image history ...\n\n"
			       "Show an image's history, newest row first, as docker does: IMAGE (the id of\n"
			       "the state after the row, an image of its own; <missing> inside a base image\n"
			       "cairn did not build), CREATED, CREATED BY (the instruction), SIZE (the\n"
			       "layer's unpacked size) and COMMENT.\n"
			       "      --no-trunc   full ids and instructions\n"
			       "  -q, --quiet      print only the IMAGE column\n"
			       "      --format F   a Go template per row (fields ID, CreatedSince, CreatedAt,\n"
			       "                   CreatedBy, Size, Comment), 'table TEMPLATE', or 'json'\n"
			       "      --rows       add ROW: cairn's row number (1 = oldest), as taken by\n"
			       "                   'cairn rollback --to ROW'\n");
			return 0;
		default:
			return cli_usage_error("history", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("history", "expected one image");
	if (!quiet) {
		json_t *headers = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "IMAGE", "CreatedSince",
					    "CREATED", "CreatedAt", "CREATED AT", "CreatedBy", "CREATED BY", "Size",
					    "SIZE", "Comment", "COMMENT");
		r = cli_format_init(&fmt, "history", format, headers);
		json_decref(headers);
		if (r < 0)
			return EXIT_USAGE;
	}
	if (cli_open_store(cli, &st) < 0) {
		cn_fmt_free(&fmt);
		return EXIT_FAIL;
	}
	r = store_image_load(&st, argv[optind], &img, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "error: image '%s' not found\n", cli_esc(argv[optind]));
		else
			cli_fail(&err);
		store_close(&st);
		cn_fmt_free(&fmt);
		return EXIT_FAIL;
	}
	store_image_row_states(&st, &img, &states, &rows, &err);
	state_ids(&st, states, rows);
	hist = json_object_get(img.config, "history");
	/* Which layer each row made, counted oldest first. */
	layer_of = cn_xcalloc(rows ? rows : 1, sizeof(*layer_of));
	json_array_foreach(hist, i, h) {
		bool empty = json_is_true(json_object_get(h, "empty_layer"));
		layer_of[i] = (empty || layer >= img.nlayers) ? SIZE_MAX : layer++;
	}
	cli_table_init(&t, numbered ? 6 : 5);
	if (numbered)
		cli_table_add(&t, "ROW", "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
	else
		cli_table_add(&t, "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
	for (i = json_array_size(hist); i-- > 0;) {
		h = json_array_get(hist, i);
		const char *comment = json_string_value(json_object_get(h, "comment"));
		const char *by = json_string_value(json_object_get(h, "created_by"));
		char id[CN_DIGEST_STR_SIZE], created[64], size[32], row[24], cut[CREATED_BY_WIDTH + 8];
		const char *by_text;
		if (i < rows && states[i][0])
			snprintf(id, sizeof(id), "%.*s", full ? CN_DIGEST_STR_SIZE : 12,
				 full ? states[i] : states[i] + 7);
		else
			snprintf(id, sizeof(id), "<missing>");
		if (quiet) {
			printf("%s\n", id);
			continue;
		}
		cli_ago(store_parse_created(json_string_value(json_object_get(h, "created"))), now, created,
			sizeof(created));
		cli_docker_size(layer_of[i] == SIZE_MAX ? 0
				: store_snapshot_content_size(&st, img.layers[layer_of[i]].diff_id),
				size, sizeof(size));
		if (fmt.kind != CN_FMT_DEFAULT) {
			char at[48];
			long long when = store_parse_created(json_string_value(json_object_get(h, "created")));
			if (!full) {
				truncate_text(by ? by : "", cut, sizeof(cut));
				by = cut;
			}
			cli_time_docker(when, at, sizeof(at));
			if (cli_format_row(&fmt, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Comment",
							   comment ? comment : "", "CreatedAt", at, "CreatedBy",
							   by ? by : "", "CreatedSince", created, "ID", id, "Size",
							   size)) < 0) {
				rc = EXIT_FAIL;
				break;
			}
			continue;
		}
		by_text = cli_esc(by);
		if (!full) {
			truncate_text(by_text, cut, sizeof(cut));
			by_text = cut;
		}
		snprintf(row, sizeof(row), "%zu", i + 1);
		if (numbered)
			cli_table_add(&t, row, id, created, by_text, size, cli_esc(comment));
		else
			cli_table_add(&t, id, created, by_text, size, cli_esc(comment));
	}
	if (fmt.kind != CN_FMT_DEFAULT)
		cli_format_print(&fmt);
	else if (!quiet)
		cli_table_print(&t, stdout);
	cli_table_free(&t);
	cn_fmt_free(&fmt);
	store_image_free(&img);
	store_close(&st);
	return rc;
}
