#include "archive/imgarchive.h"
#include "cli/cli.h"
#include "cli/compression.h"

#include <getopt.h>
#include <stdio.h>

int cmd_save(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "compression-format", required_argument, NULL, 'C' },
		{ "compression", required_argument, NULL, 'C' },
		{ "compression-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = "-";
	enum layer_compression comp = LAYER_GZIP;
	struct xfer_convert_stats stats = { 0 };
	bool convert = false;
	int level = 0;
	struct arc_out out;
	struct store st;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'C':
			if (cli_compression_format_parse(optarg, &comp) < 0)
				return cli_usage_error("save", "--compression-format: '%s' is not gzip or none", optarg);
			/* The tar is a docker archive too: docker load reads no zstd. */
			if (comp == LAYER_ZSTD)
				return cli_usage_error("save", "--compression-format zstd: docker load cannot read "
						       "zstd layers; save writes gzip or none (export --format "
						       "oci-archive takes zstd)");
			convert = true;
			break;
		case 'L':
			if (cli_compression_level_parse("save", optarg, &level) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			printf("usage: cairn save [-o FILE] IMAGE...\n\n"
			       "Write images (tags or manifest digests) as one tar that is an OCI image\n"
			       "layout and a docker archive at once: podman load, docker load, skopeo's\n"
			       "oci-archive: and docker-archive: and cairn load read it. Layers go as\n"
			       "stored, except that an image with zstd layers is written with gzip ones\n"
			       "(docker load reads no zstd).\n\n"
			       "  -o, --output FILE   write to FILE (default: stdout, if not a terminal)\n"
			       "      --compression-format FMT  convert every layer to FMT: gzip or none\n"
			       "                      (streamed, remembered); --compression is the same\n"
			       "      --compression-level N  of the layers converted (gzip for zstd ones\n"
			       "                      unless --compression-format): gzip 1-9 (default 6)\n");
			return 0;
		default:
			return cli_usage_error("save", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("save", "expected at least one image");
	if (level && cli_compression_level_check("save", convert ? comp : LAYER_GZIP, level) < 0)
		return EXIT_USAGE;
	if (cli_open_store_for_tagging(cli, &st) < 0)
		return EXIT_FAIL;
	if (arc_out_open(output, &out, &err) < 0) {
		store_close(&st);
		return cli_fail(&err);
	}
	if (arc_save_as(&st, argv + optind, (size_t)(argc - optind), convert ? (int)comp : ARC_SAVE_DOCKER,
			level, &stats, out.fd, &err) < 0 ||
	    arc_out_commit(&out, &err) < 0)
		rc = cli_fail(&err);
	else if (convert)
		cli_compression_report(&stats, comp, false);
	arc_out_abort(&out);
	store_close(&st);
	return rc;
}
