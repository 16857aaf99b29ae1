/* cairn rm: forget exited containers (with -f, kill running ones first). */
#include "cli/containers.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>

static const char rm_usage[] =
	"usage: cairn rm [-f] CONTAINER...\n"
	"\n"
	"Remove detached containers' state and logs. CONTAINER is a name, an id or a\n"
	"unique id prefix.\n"
	"\n"
	"Options:\n"
	"  -f, --force   kill (SIGKILL) a running container first\n"
	"  -h, --help    show this help\n";

static int remove_one(struct store *st, struct ctr_state *s, const char *arg, void *ctx, cn_err *err)
{
	bool force = *(bool *)ctx;
	if (ctr_effective_status(s) != CTR_EXITED) {
		if (!force)
			return cn_err_fail(err, CN_ERR_BUSY, "container %s is running: stop it first, or use 'cairn rm -f'",
					    arg);
		if (ctr_signal(s, SIGKILL, err) < 0)
			return -1;
		/* The supervisor records the end and removes the upper dir and cgroup. */
		if (!ctr_wait(s, 30000))
			return cn_err_fail(err, CN_ERR_BUSY, "container %s: its supervisor (pid %d) did not finish",
					    arg, (int)s->supervisor_pid);
	}
	return ctr_remove(st, s, err);
}

int cmd_rm(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	int c;

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(rm_usage, stdout);
			return 0;
		default:
			return cli_usage_error("rm", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("rm", "expected at least one container");
	return cli_each_container(cli, argv + optind, argc - optind, remove_one, &force);
}
