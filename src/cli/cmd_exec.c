/* cairn exec: a command in a running detached container, docker exec's
 * flags and exit statuses. The joining is container/exec.c's and
 * sandbox/exec.c's. */
#include "cli/cli.h"
#include "cli/run_opts.h"
#include "cli/term.h"
#include "container/container.h"
#include "container/run.h"
#include "util/cleanup.h"
#include "util/strv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char exec_usage[] =
	"usage: cairn exec [OPTIONS] CONTAINER COMMAND [ARG...]\n"
	"\n"
	"Run a command in a running container (one started with 'cairn run -d'): in its\n"
	"namespaces (its ps shows the container's processes), cgroup and root, with its\n"
	"environment, user and working directory unless the options below change them,\n"
	"and never more privilege than the container's own process: the same\n"
	"capability bounding set, seccomp filter, no_new_privs and user namespace.\n"
	"CONTAINER is a name, an id or a unique id prefix. Exits with the command's\n"
	"status: 126 when it cannot be run, 127 when it is not found, 1 when the\n"
	"container is not running, 125 on a usage error, as docker exec. Ctrl-C (or\n"
	"SIGTERM) is passed on to the command; a second one kills it.\n"
	"\n"
	"Options:\n"
	"  -i, --interactive        pass stdin to the command\n"
	"  -t, --tty                allocate a pseudo-terminal from the container's /dev/pts\n"
	"  -e, --env K=V            set an environment variable (K alone: from cairn's)\n"
	"      --env-file FILE      read K=V lines from FILE (-e wins, as in docker)\n"
	"  -u, --user USER[:GROUP]  user and group, names from the container's passwd/group\n"
	"                           (default: the container's user)\n"
	"  -w, --workdir DIR        working directory, absolute and existing (default:\n"
	"                           the container's)\n"
	"  -h, --help               show this help\n";

/* docker's flag errors exit 125. */
#define usage_error(...) (cli_usage_error("exec", __VA_ARGS__), CTR_EXIT_FAIL)

enum { OPT_ENV_FILE = 256 };

struct exec_opts {
	bool interactive, tty;
	const char *user, *workdir;
	cn_strv env;            /* --env-file's lines, then -e's (after parsing) */
	cn_strv env_file;
};

/* 0: go on (optind at CONTAINER); -1: --help was printed; else a status. */
static int parse(int argc, char **argv, struct exec_opts *o)
{
	static const struct option opts[] = {
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "env-file", required_argument, NULL, OPT_ENV_FILE },
		{ "user", required_argument, NULL, 'u' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cn_err err;
	int c;
	opterr = 0;
	/* "+": options end at CONTAINER; what follows is the command's. */
	while ((c = getopt_long(argc, argv, "+:ite:u:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': o->interactive = true; break;
		case 't': o->tty = true; break;
		case 'e': cn_strv_pushdup(&o->env, optarg); break;
		case OPT_ENV_FILE:
			if (run_opts_read_env_file(optarg, &o->env_file, &err) < 0) {
				cli_fail(&err);
				return CTR_EXIT_FAIL;
			}
			break;
		case 'u': o->user = optarg; break;
		case 'w':
			if (optarg[0] != '/')
				return usage_error("--workdir: '%s' is not an absolute path", optarg);
			o->workdir = optarg;
			break;
		case 'h':
			fputs(exec_usage, stdout);
			return -1;
		case ':':
			return usage_error("flag needs an argument: %s", argv[optind - 1]);
		default:
			return optopt ? usage_error("unknown shorthand flag: '%c' in -%c", optopt, optopt)
				      : usage_error("unknown flag: %s", argv[optind - 1]);
		}
	}
	run_opts_env_files_first(&o->env, &o->env_file);
	if (argc - optind < 2)
		return usage_error("expected a container and a command");
	return 0;
}

int cmd_exec(struct cli *cli, int argc, char **argv)
{
	struct exec_opts o = { .interactive = false };
	_cleanup_strv_ cn_strv env = { 0 };
	struct ctr_state s = { .name = NULL };
	struct cli_term term = { .saved = false };
	struct sb_exit ex = { 0 };
	struct ctr_exec e;
	struct store st;
	const char *name;
	cn_err err;
	int r, rc = EXIT_FAIL;

	r = parse(argc, argv, &o);
	if (r != 0) {
		cn_strv_free(&o.env);
		cn_strv_free(&o.env_file);
		return r < 0 ? 0 : r;
	}
	name = argv[optind];
	run_opts_resolve_env(&o.env, &env);
	cn_strv_free(&o.env);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	r = ctr_lookup(&st, name, &s, &err);
	store_close(&st);
	if (r == 0) {
		fprintf(stderr, "error: no such container: %s\n", cli_esc(name));
		return EXIT_FAIL;
	}
	if (r < 0)
		return cli_fail(&err);
	e = (struct ctr_exec){ .argv = argv + optind + 1, .env = &env, .user = o.user,
			       .workdir = o.workdir, .interactive = o.interactive, .tty = o.tty };
	fflush(NULL);
	if (o.tty && o.interactive)
		cli_term_raw(&term);
	r = ctr_exec(&s, &e, &ex, &err);
	cli_term_restore(&term);
	if (r == 1) {
		fprintf(stderr, "error: container %s is not running\n", cli_esc(name));
	} else if (r < 0) {
		cli_fail(&err);
		/* docker: 126 when the command could not be run, 127 not found. */
		rc = cn_err_is(&err, CN_ERR_EXEC) ? ctr_fail_status(&err)
		     : cn_err_is(&err, CN_ERR_UNSUPPORTED) ? EXIT_FAIL : 126;
	} else {
		rc = ex.status;
	}
	ctr_state_free(&s);
	return rc;
}
