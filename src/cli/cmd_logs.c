/* cairn logs: what a detached container wrote (stdout and stderr, merged). */
#include "cli/cli.h"
#include "container/container.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char logs_usage[] =
	"usage: cairn logs [-f] CONTAINER\n"
	"\n"
	"Print the output of a detached container (stdout and stderr, in the order\n"
	"written). CONTAINER is a name, an id or a unique id prefix.\n"
	"\n"
	"Options:\n"
	"  -f, --follow   keep printing until the container exits\n"
	"  -h, --help     show this help\n";

/* Copy what FD holds from its offset to stdout: 0, or -1 on a read error. */
static int drain(int fd)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (cn_write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			return -1;
	}
}

int cmd_logs(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctr_state s = { .name = NULL };
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct store st;
	bool follow = false;
	cn_err err;
	int c, r, rc = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 'h':
			fputs(logs_usage, stdout);
			return 0;
		default:
			return cli_usage_error("logs", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("logs", "expected one container");
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	r = ctr_lookup(&st, argv[optind], &s, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "error: no such container: %s\n", cli_esc(argv[optind]));
		else
			cli_fail(&err);
		goto out;
	}
	path = ctr_log_path(&st, &s);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* The supervisor makes it first thing: none yet is nothing written. */
		rc = errno == ENOENT ? 0 : (fprintf(stderr, "error: open '%s': %s\n", cli_esc(path), strerror(errno)), EXIT_FAIL);
		goto out;
	}
	if (drain(fd) < 0)
		goto write_error;
	/* Until the supervisor has exited (it writes the last output before);
	 * a short poll interval is all following needs. */
	while (follow && !ctr_wait(&s, 200))
		if (drain(fd) < 0)
			goto write_error;
	if (follow && drain(fd) < 0)
		goto write_error;
	rc = 0;
	goto out;
write_error:
	fprintf(stderr, "error: copy '%s': %s\n", cli_esc(path), strerror(errno));
out:
	ctr_state_free(&s);
	store_close(&st);
	return rc;
}
