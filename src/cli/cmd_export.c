#include "archive/imgarchive.h"
#include "cli/cli.h"
#include "cli/compression.h"

#include <getopt.h>
#include <stdio.h>

int cmd_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "compression-format", required_argument, NULL, 'C' },
		{ "compression", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum arc_format format = ARC_ROOTFS;
	enum layer_compression comp = LAYER_GZIP;
	struct xfer_convert_stats stats = { 0 };
	bool convert = false;
	struct store st;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (arc_format_parse(optarg, &format) < 0)
				return cli_usage_error("export", "unknown format '%s'", optarg);
			break;
		case 'C':
			if (cli_compression_format_parse(optarg, &comp) < 0)
				return cli_usage_error("export", "--compression-format: '%s' is not gzip, zstd or none",
						       optarg);
			convert = true;
			break;
		case 'h':
			printf("usage: cairn export [--format FORMAT] IMAGE DEST\n\n"
			       "Write an image for other tools. FORMAT is one of:\n"
			       "  rootfs          DEST is a directory: the layers applied in order (default)\n"
			       "  rootfs-tar      the same tree as one uncompressed tar (DEST '-': stdout)\n"
			       "  bundle          DEST/rootfs + DEST/config.json, an OCI runtime bundle\n"
			       "                  for runc run / crun run\n"
			       "  oci-archive     the 'cairn save' tar of this one image (DEST '-': stdout)\n"
			       "  docker-archive  the same tar (it is both)\n"
			       "A directory DEST must not exist or be empty; it is made in a temporary\n"
			       "sibling and renamed when complete.\n"
			       "The archives carry the layers as stored, except that a docker-archive\n"
			       "gets gzip for zstd ones (docker load reads no zstd), unless:\n"
			       "      --compression-format FMT  every layer converted to FMT: gzip, zstd\n"
			       "                  (oci-archive only) or none; streamed and remembered\n");
			return 0;
		default:
			return cli_usage_error("export", "invalid option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("export", "expected IMAGE and DEST");
	if (convert && format != ARC_OCI_ARCHIVE && format != ARC_DOCKER_ARCHIVE)
		return cli_usage_error("export", "--compression-format applies to oci-archive and docker-archive");
	if (convert && comp == LAYER_ZSTD && format == ARC_DOCKER_ARCHIVE)
		return cli_usage_error("export", "--compression-format zstd: docker load cannot read zstd "
				       "layers (--format oci-archive takes them)");
	if (cli_open_store_for_tagging(cli, &st) < 0)
		return EXIT_FAIL;
	if (arc_export_as(&st, argv[optind], format, argv[optind + 1], convert ? (int)comp : ARC_SAVE_DOCKER,
			  &stats, &err) < 0)
		rc = cli_fail(&err);
	else if (convert)
		cli_compression_report(&stats, comp, false);
	store_close(&st);
	return rc;
}
