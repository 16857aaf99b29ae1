#include "archive/imgarchive.h"
#include "cli/cli.h"
#include "cli/layer_limit.h"
#include "cli/rootless.h"
#include "util/cleanup.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_load(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "max-layer-size", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *input = "-", *max_layer = NULL;
	_cleanup_close_ int fd = -1;
	struct arc_load_result res;
	struct store st;
	bool quiet = false;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "i:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'M':
			max_layer = optarg;
			break;
		case 'h':
			printf("usage: cairn load [-i FILE]\n\n"
			       "Read images from an OCI archive (oci-layout + index.json) or a docker\n"
			       "archive (manifest.json, docker save / podman save), plain or compressed\n"
			       "with gzip, zstd, xz or bzip2, and tag them as the archive names them.\n\n"
			       "  -i, --input FILE   read FILE (default: stdin, if not a terminal)\n"
			       "  -q, --quiet        print nothing on success\n"
			       CLI_MAX_LAYER_SIZE_USAGE);
			return 0;
		default:
			return cli_usage_error("load", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage_error("load", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_max_layer_size("load", max_layer)) != 0)
		return rc;
	if (strcmp(input, "-") == 0) {
		if (isatty(STDIN_FILENO))
			return cli_usage_error("load", "refusing to read an archive from a terminal: "
					       "use -i FILE or a pipe");
		input = "stdin";
		fd = dup(STDIN_FILENO);
	} else {
		fd = open(input, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		cn_err_sys(&err, "open '%s'", input);
		return cli_fail(&err);
	}
	if (cli_open_store_for_tagging(cli, &st) < 0)
		return EXIT_FAIL;
	if (arc_load(&st, fd, input, "load", &res, &err) < 0) {
		rc = cli_fail(&err);
		cli_rootless_note(&err);
	} else {
		for (size_t i = 0; i < res.nimages && !quiet; i++) {
			for (size_t k = 0; k < res.images[i].tags.n; k++)
				printf("Loaded image: %s\n", cli_esc(res.images[i].tags.v[k]));
			if (res.images[i].tags.n == 0)
				printf("Loaded image: %s\n", res.images[i].manifest_digest);
		}
		arc_load_result_free(&res);
	}
	store_close(&st);
	return rc;
}
