/* cairn run: an image's command in the sandbox RUN steps use, on an
 * ephemeral upper dir that is thrown away afterwards. This is the front
 * end: options, the terminal and what is printed; the runtime (root file
 * system, process spec, supervision) is container/run.h's. */
#include "cli/cli.h"
#include "cli/network.h"
#include "cli/rootless.h"
#include "util/rootless.h"
#include "container/run.h"
#include "container/spec.h"
#include "sandbox/sandbox.h"
#include "sandbox/userns.h"
#include "store/image.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strv.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char run_usage[] =
	"usage: cairn run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
	"\n"
	"Run a command in a new container from IMAGE and exit with its status.\n"
	"Changes to the container's files are discarded when it ends.\n"
	"\n"
	"Options:\n"
	"  -d, --detach             run in the background and print the container's id\n"
	"      --rm                 with -d: remove the container's state when it exits\n"
	"                           (without -d nothing is kept anyway)\n"
	"      --name NAME          the container's name (also its default hostname)\n"
	"  -i, --interactive        pass stdin to the container\n"
	"  -t, --tty                allocate a pseudo-terminal\n"
	"  -e, --env K=V            set an environment variable (K alone: from cairn's)\n"
	"      --env-file FILE      read K=V lines from FILE\n"
	"  -w, --workdir DIR        working directory (created when missing)\n"
	"  -u, --user USER[:GROUP]  user and group, names from the image's passwd/group\n"
	"  -v, --volume SRC:DST[:ro]  bind the host path SRC (absolute) at DST\n"
	"      --network MODE       default (also: bridge): a private network namespace on\n"
	"                           the cairn0 bridge with outbound NAT, as docker's\n"
	"                           bridge; host: the host's network; none or private:\n"
	"                           loopback only; rootless the default is host (a bridge\n"
	"                           needs root)\n"
	"      --hostname NAME      the container's hostname\n"
	"      --read-only          mount the root file system read-only\n"
	"      --userns MODE        host (default), or auto: a user namespace mapping\n"
	"                           root's range from /etc/subuid and /etc/subgid\n"
	"      --memory N           memory limit (b, k, m, g; no swap)\n"
	"      --cpus N.N           CPU limit\n"
	"      --pids-limit N       process limit\n"
	"      --stop-timeout N     seconds between the stop signal and SIGKILL (default 10)\n"
	"  -h, --help               show this help\n";

struct run_opts {
	const char *name, *workdir, *user, *hostname;
	bool interactive, tty, read_only, detach, rm, userns;
	struct sb_idmap idmap;  /* --userns=auto */
	enum sb_network network;
	struct sb_limits limits;
	unsigned stop_timeout;
	cn_strv env;            /* -e and --env-file, in order */
	cn_strv volumes;        /* SRC:DST[:ro] */
};

/* -e and --env-file entries as KEY=VALUE: KEY alone takes cairn's own
 * value, and is dropped when cairn has none. */
static void resolve_env(const cn_strv *given, cn_strv *out)
{
	for (size_t i = 0; i < given->n; i++) {
		const char *kv = given->v[i], *v;
		if (strchr(kv, '='))
			cn_strv_pushdup(out, kv);
		else if ((v = getenv(kv)))
			cn_strv_push(out, cn_xasprintf("%s=%s", kv, v));
	}
}

static int read_env_file(const char *path, cn_strv *out, cn_err *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	if (!f)
		return cn_err_sys(err, "--env-file '%s'", path);
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		cn_strv_pushdup(out, p);
	}
	return 0;
}

/* -v SRC:DST[:ro|rw] -> a bind mount; SRC is made when missing (as docker). */
static int parse_volume(const char *spec, struct sb_mount *m, cn_strv *keep, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(spec);
	char *dst = strchr(copy, ':'), *mode;
	if (!dst)
		return cn_err_fail(err, CN_ERR_INVALID, "-v '%s': expected SRC:DST[:ro]", spec);
	*dst++ = '\0';
	mode = strchr(dst, ':');
	if (mode)
		*mode++ = '\0';
	if (copy[0] != '/')
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "-v '%s': named volumes are not supported; SRC must be an absolute path",
				    spec);
	if (dst[0] != '/')
		return cn_err_fail(err, CN_ERR_INVALID, "-v '%s': DST must be an absolute path", spec);
	if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "-v '%s': option '%s' is not supported (ro or rw)", spec, mode);
	if (access(copy, F_OK) < 0 && cn_mkdir_p(copy, 0755, err) < 0)
		return cn_err_wrap(err, "-v '%s'", spec);
	cn_strv_pushdup(keep, copy);
	cn_strv_pushdup(keep, dst);
	*m = (struct sb_mount){ .kind = SB_MOUNT_BIND, .source = keep->v[keep->n - 2],
				.target = keep->v[keep->n - 1], .readonly = mode && !strcmp(mode, "ro") };
	return 0;
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
		{ "rm", no_argument, NULL, 'R' },
		{ "detach", no_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'N' },
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "env-file", required_argument, NULL, 'E' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "volume", required_argument, NULL, 'v' },
		{ "network", required_argument, NULL, 'n' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "userns", required_argument, NULL, 'U' },
		{ "memory", required_argument, NULL, 'M' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "pids-limit", required_argument, NULL, 'P' },
		{ "stop-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cn_err err;
	char *end;
	int c;
	/* "+": options end at IMAGE; what follows is the command's. */
	while ((c = getopt_long(argc, argv, "+dite:w:u:v:h", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			o->rm = true;
			break;
		case 'd':
			o->detach = true;
			break;
		case 'N':
			o->name = optarg;
			break;
		case 'i':
			o->interactive = true;
			break;
		case 't':
			o->tty = true;
			break;
		case 'e':
			cn_strv_pushdup(&o->env, optarg);
			break;
		case 'E':
			if (read_env_file(optarg, &o->env, &err) < 0) {
				cli_fail(&err);
				return EXIT_USAGE;
			}
			break;
		case 'w':
			if (optarg[0] != '/')
				return cli_usage_error("run", "--workdir: '%s' is not an absolute path", optarg);
			o->workdir = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'v':
			cn_strv_pushdup(&o->volumes, optarg);
			break;
		case 'n':
			if (cli_network_parse(optarg, true, &o->network) < 0)
				return cli_usage_error("run", "--network: '%s' is not default, bridge, host, none or private",
						       optarg);
			break;
		case 'H':
			o->hostname = optarg;
			break;
		case 'r':
			o->read_only = true;
			break;
		case 'U':
			if (!strcmp(optarg, "host"))
				o->userns = false;
			else if (!strcmp(optarg, "auto"))
				o->userns = true;
			else
				return cli_usage_error("run", "--userns: '%s' is not host or auto", optarg);
			break;
		case 'M':
		case 'C':
		case 'P':
			if (cli_parse_limit(c, optarg, &o->limits) < 0)
				return cli_usage_error("run", "--%s: '%s' is not a valid limit",
						       c == 'M' ? "memory" : c == 'C' ? "cpus" : "pids-limit", optarg);
			break;
		case 'T': {
			unsigned long t = strtoul(optarg, &end, 10);
			if (end == optarg || *end || t > 86400)
				return cli_usage_error("run", "--stop-timeout: '%s' is not a number of seconds", optarg);
			o->stop_timeout = (unsigned)t;
			break;
		}
		case 'h':
			fputs(run_usage, stdout);
			return -1;
		default:
			return cli_usage_error("run", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("run", "expected an image");
	if (o->detach && o->interactive)
		return cli_usage_error("run", "-d with -i: attaching to a detached container is not supported");
	if (o->userns && cn_rootless())
		return cli_usage_error("run", "--userns=auto needs root: rootless cairn already runs every "
				       "container in a user namespace (0 = you, 1.. = your /etc/subuid range)");
	if (o->userns && sb_idmap_load(&o->idmap, &err) < 0) {
		cli_fail(&err);
		return EXIT_USAGE;
	}
	return 0;
}

/* The user's terminal in raw mode while a -it container owns it. */
struct term {
	bool saved;
	struct termios old;
};

static void term_raw(struct term *t)
{
	struct termios raw;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->old) < 0)
		return;
	raw = t->old;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
		t->saved = true;
}

static void term_restore(struct term *t)
{
	if (t->saved)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &t->old);
	t->saved = false;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = { .network = cli_network_default(), .stop_timeout = 10 };
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv keep = { 0 };
	_cleanup_free_ struct sb_mount *mounts = NULL;
	struct store_image img = { 0 };
	struct ctr_spec spec = { 0 };
	struct ctr_run run;
	struct sb_exit ex = { 0 };
	struct store st;
	struct term term = { .saved = false };
	const char *ref;
	cn_err err;
	int r, rc = CTR_EXIT_FAIL;

	r = parse_args(argc, argv, &o);
	if (r != 0) {
		cn_strv_free(&o.env);
		cn_strv_free(&o.volumes);
		return r < 0 ? 0 : r;
	}
	ref = argv[optind];
	if (o.name && (!*o.name || strspn(o.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
			   strlen(o.name))) {
		rc = cli_usage_error("run", "--name: '%s' may only hold letters, digits, '_', '.' and '-'", o.name);
		goto free_opts;
	}
	mounts = cn_xcalloc(o.volumes.n + 1, sizeof(*mounts));
	for (size_t i = 0; i < o.volumes.n; i++)
		if (parse_volume(o.volumes.v[i], &mounts[i], &keep, &err) < 0) {
			cli_fail(&err);
			rc = EXIT_USAGE;
			goto free_opts;
		}
	resolve_env(&o.env, &env);
	if (sb_limits_any(&o.limits) && sb_cgroup_usable(&err) < 0) {
		cli_fail(&err);
		goto free_opts;
	}
	if (cli_network_prepare(o.network, &err) < 0) {
		cli_fail(&err);
		goto free_opts;
	}
	if (cli_open_store(cli, &st) < 0)
		goto free_opts;
	/* Held shared while the container runs: prune keeps its layers. */
	if (store_gc_lock(&st, false, &err) < 0) {
		cli_fail(&err);
		goto close_store;
	}
	r = store_image_load(&st, ref, &img, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "error: image '%s' not found\n", ref);
		else
			cli_fail(&err);
		goto close_store;
	}
	{
		struct ctr_overrides ov = { .args = argv + optind + 1, .nargs = (size_t)(argc - optind - 1),
					    .env = &env, .workdir = o.workdir, .user = o.user };
		if (ctr_spec_from_image(img.config, ref, &ov, &spec, &err) < 0) {
			cli_fail(&err);
			goto free_image;
		}
	}
	run = (struct ctr_run){
		.ref = ref, .img = &img, .spec = &spec, .name = o.name, .hostname = o.hostname,
		.network = o.network, .mounts = mounts, .nmounts = o.volumes.n,
		.interactive = o.interactive, .tty = o.tty, .read_only = o.read_only, .auto_remove = o.rm,
		.stop_timeout = o.stop_timeout, .limits = sb_limits_any(&o.limits) ? &o.limits : NULL,
		.idmap = o.userns ? &o.idmap : NULL,
	};
	if (o.detach) {
		char id[CTR_ID_LEN + 1];
		if (ctr_run_detached(&st, &run, id, &err) < 0) {
			cli_fail(&err);
			rc = ctr_fail_status(&err);
		} else {
			printf("%s\n", id);
			rc = 0;
		}
		goto free_spec;
	}
	if (o.tty && o.interactive)
		term_raw(&term);
	r = ctr_run_attached(&st, &run, &ex, &err);
	term_restore(&term);
	if (r < 0) {
		cli_fail(&err);
		cli_rootless_note(&err);
		rc = ctr_fail_status(&err);
	} else if (ex.oom_killed) {
		fprintf(stderr, "error: out of memory: the container was killed at its --memory limit\n");
		rc = ex.status;
	} else {
		rc = ex.status;
	}
free_spec:
	ctr_spec_free(&spec);
free_image:
	store_image_free(&img);
close_store:
	store_close(&st);
free_opts:
	cn_strv_free(&o.env);
	cn_strv_free(&o.volumes);
	return rc;
}
