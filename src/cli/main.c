#include "cli/cli.h"
#include "cli/rootless.h"
#include "sandbox/cgroup.h"
#include "util/cleanup.h"
#include "util/escape.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cli_command commands[] = {
	{ "build", "build an image from a Buildfile", cmd_build },
	{ "run", "run a command in a container from an image", cmd_run },
	{ "exec", "run a command in a running detached container", cmd_exec },
	{ "ps", "list detached containers", cmd_ps },
	{ "logs", "show a detached container's output", cmd_logs },
	{ "stop", "stop detached containers", cmd_stop },
	{ "rm", "remove detached containers", cmd_rm },
	{ "volume", "manage named volumes (create, ls, inspect, rm, prune)", cmd_volume },
	{ "images", "list images in the store", cmd_images },
	{ "inspect", "show an image's manifest and config", cmd_inspect },
	{ "history", "show an image's history and the state after each row", cmd_history },
	{ "tag", "point a tag at an image", cmd_tag },
	{ "log", "show every value a tag took", cmd_log },
	{ "rollback", "move a tag back to an earlier value or history row", cmd_rollback },
	{ "rmi", "remove image tags", cmd_rmi },
	{ "push", "push an image to a registry", cmd_push },
	{ "pull", "pull an image from a registry", cmd_pull },
	{ "login", "record credentials for a registry", cmd_login },
	{ "logout", "forget a registry's credentials", cmd_logout },
	{ "prune", "remove what nothing references", cmd_prune },
	{ "network", "create, list, inspect and remove networks", cmd_network },
	{ "df", "show the space the store uses", cmd_df },
	{ "fsck", "verify (and repair) the store", cmd_fsck },
	{ "save", "write images to a tar (OCI layout + docker archive)", cmd_save },
	{ "load", "read images from an OCI or docker archive", cmd_load },
	{ "export", "write an image as a rootfs, bundle or archive", cmd_export },
	{ "parse", "print a Buildfile's syntax tree", cmd_parse },
	{ "info", "show the store, rootless or not, and what is unavailable", cmd_info },
	{ "version", "show cairn's version, its libraries, the kernel and the store", cmd_version },
};

/* docker's management commands: "cairn image ls" is "cairn images". */
struct alias {
	const char *group, *name, *command;
};
static const struct alias aliases[] = {
	{ "image", "ls", "images" }, { "image", "list", "images" }, { "image", "rm", "rmi" },
	{ "image", "remove", "rmi" }, { "image", "inspect", "inspect" }, { "image", "prune", "prune" },
	{ "image", "history", "history" }, { "image", "tag", "tag" }, { "image", "save", "save" },
	{ "image", "load", "load" }, { "image", "pull", "pull" }, { "image", "push", "push" },
	{ "image", "build", "build" },
	{ "container", "ls", "ps" }, { "container", "list", "ps" }, { "container", "ps", "ps" },
	{ "container", "rm", "rm" }, { "container", "remove", "rm" }, { "container", "stop", "stop" },
	{ "container", "logs", "logs" }, { "container", "run", "run" }, { "container", "exec", "exec" },
};

static int group_usage(const char *group, FILE *out)
{
	fprintf(out, "usage: cairn %s COMMAND [ARGS]\n\nAs docker's '%s' commands:\n", group, group);
	for (size_t i = 0; i < CN_ARRAY_SIZE(aliases); i++)
		if (!strcmp(aliases[i].group, group))
			fprintf(out, "  %-9s 'cairn %s'\n", aliases[i].name, aliases[i].command);
	return out == stdout ? 0 : EXIT_USAGE;
}

/* ARGV[0] is "image" or "container": the command ARGV[1] stands for, or
 * NULL after printing why not (*rc set). */
static const char *alias_command(int argc, char **argv, int *rc)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		*rc = group_usage(argv[0], argc < 2 ? stderr : stdout);
		return NULL;
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(aliases); i++)
		if (!strcmp(aliases[i].group, argv[0]) && !strcmp(aliases[i].name, argv[1]))
			return aliases[i].command;
	fprintf(stderr, "error: unknown command 'cairn %s %s'\nsee 'cairn %s --help'\n", argv[0],
		cli_esc(argv[1]), argv[0]);
	*rc = EXIT_USAGE;
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cairn [--root DIR] COMMAND [ARGS]\n"
		"\n"
		"A layered container image builder.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"  image     docker's 'image ls|rm|inspect|prune|history|tag|save|load|pull|push'\n"
		"  container docker's 'container ls|ps|rm|stop|logs|run|exec'\n"
		"\n"
		"Options:\n"
		"  --root DIR   store location (also CAIRN_ROOT; default /var/lib/cairn, for\n"
		"               other users $XDG_DATA_HOME/cairn or ~/.local/share/cairn)\n"
		"  -h, --help   show this help; 'cairn COMMAND --help' for a command\n"
		"  --version    print cairn's version ('cairn version': libraries, kernel, store)\n");
}

const char *cli_esc(const char *s)
{
	static char *ring[16];
	static size_t next;
	char **slot = &ring[next++ % CN_ARRAY_SIZE(ring)];
	free(*slot);
	*slot = cn_escape(s, 0);
	return *slot;
}

int cli_fail(const cn_err *err)
{
	fprintf(stderr, "error: %s\n", cli_esc(err->msg));
	return EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	fprintf(stderr, "error: %s\nsee 'cairn %s --help'\n", cli_esc(msg ? msg : fmt), cmd ? cmd : "");
	return EXIT_USAGE;
}

int cli_open_store(struct cli *cli, struct store *st)
{
	cn_err err;
	if (store_open(cli->root, st, &err) < 0) {
		cli_fail(&err);
		return -1;
	}
	return 0;
}

int cli_open_store_for_tagging(struct cli *cli, struct store *st)
{
	cn_err err;
	if (cli_open_store(cli, st) < 0)
		return -1;
	if (store_gc_lock(st, false, &err) < 0) {
		cli_fail(&err);
		store_close(st);
		return -1;
	}
	return 0;
}

void cli_human_size(unsigned long long bytes, char *out, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", bytes);
	else
		snprintf(out, len, "%.3g %s", v, units[u]);
}

int cli_parse_limit(int opt, const char *arg, struct sb_limits *limits)
{
	char *end;
	long long n;
	switch (opt) {
	case 'M':
		return sb_parse_memory(arg, &limits->memory);
	case 'C':
		return sb_parse_cpus(arg, &limits->cpus_milli);
	default:
		errno = 0;
		n = strtoll(arg, &end, 10);
		if (errno || end == arg || *end || n < 1)
			return -1;
		limits->pids = n;
		return 0;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .root = getenv("CAIRN_ROOT"), .prog = "cairn" };
	const char *name;
	int c;

	if (!cli.root || !*cli.root)
		cli.root = cli_default_root();
	/* "+": stop at the command; its own options are parsed by it. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			cli.root = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			cli_print_version_line();
			return 0;
		default:
			return cli_usage_error(NULL, "unknown option");
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	name = argv[optind];
	if (!strcmp(name, "image") || !strcmp(name, "container")) {
		int rc = 0;
		name = alias_command(argc - optind, argv + optind, &rc);
		if (!name)
			return rc;
		optind++;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0;     /* reinitialise getopt for the command */
			/* version only reports: no user namespace to enter first */
			if (commands[i].run != cmd_version && cli_rootless_setup(&cli, commands[i].name) < 0)
				return EXIT_FAIL;
			return commands[i].run(&cli, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "error: unknown command '%s'\nsee 'cairn --help'\n", argv[optind]);
	return EXIT_USAGE;
}
