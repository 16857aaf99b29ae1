#include "archive/imgarchive.h"
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>

int cmd_save(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = "-";
	struct arc_out out;
	struct store st;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			printf("usage: cairn save [-o FILE] IMAGE...\n\n"
			       "Write images (tags or manifest digests) as one tar that is an OCI image\n"
			       "layout and a docker archive at once: podman load, docker load, skopeo's\n"
			       "oci-archive: and docker-archive: and cairn load read it.\n\n"
			       "  -o, --output FILE   write to FILE (default: stdout, if not a terminal)\n");
			return 0;
		default:
			return cli_usage_error("save", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("save", "expected at least one image");
	if (cli_open_store_for_tagging(cli, &st) < 0)
		return EXIT_FAIL;
	if (arc_out_open(output, &out, &err) < 0) {
		store_close(&st);
		return cli_fail(&err);
	}
	if (arc_save(&st, argv + optind, (size_t)(argc - optind), out.fd, &err) < 0 ||
	    arc_out_commit(&out, &err) < 0)
		rc = cli_fail(&err);
	arc_out_abort(&out);
	store_close(&st);
	return rc;
}
