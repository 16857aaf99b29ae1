/* cairn stop: the stop signal, then SIGKILL after a timeout, as docker stop. */
#include "cli/containers.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char stop_usage[] =
	"usage: cairn stop [-t N] CONTAINER...\n"
	"\n"
	"Stop detached containers: the image's STOPSIGNAL (default SIGTERM), then\n"
	"SIGKILL after N seconds; waits until each has exited. CONTAINER is a name,\n"
	"an id or a unique id prefix.\n"
	"\n"
	"Options:\n"
	"  -t, --time N   seconds before SIGKILL (default: the container's\n"
	"                 --stop-timeout, 10 unless given)\n"
	"  -h, --help     show this help\n";

static int stop_one(struct store *st, struct ctr_state *s, const char *arg, void *ctx, cn_err *err)
{
	long timeout = *(long *)ctx;
	(void)st, (void)arg;
	return ctr_stop(s, timeout >= 0 ? (unsigned)timeout : s->stop_timeout, err);
}

int cmd_stop(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "time", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long timeout = -1;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (end == optarg || *end || timeout < 0 || timeout > 86400)
				return cli_usage_error("stop", "--time: '%s' is not a number of seconds", optarg);
			break;
		case 'h':
			fputs(stop_usage, stdout);
			return 0;
		default:
			return cli_usage_error("stop", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("stop", "expected at least one container");
	return cli_each_container(cli, argv + optind, argc - optind, stop_one, &timeout);
}
