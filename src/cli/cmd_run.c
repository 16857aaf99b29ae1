/* cairn run: an image's command in the sandbox RUN steps use, on an
 * ephemeral upper dir that is thrown away afterwards. */
#include "cli/cli.h"
#include "container/container.h"
#include "sandbox/sandbox.h"
#include "sandbox/userns.h"
#include "store/image.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"
#include "util/signal.h"
#include "util/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_RUN_FAIL 125       /* docker's: cairn itself failed */

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
	"      --network MODE       host (default), none, or private (loopback only)\n"
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

/* KEY=VALUE, or KEY alone for cairn's own value (dropped when unset). */
static void add_env(cn_strv *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (eq) {
		_cleanup_free_ char *key = cn_xstrndup(kv, (size_t)(eq - kv));
		cn_env_set(env, key, eq + 1);
	} else if (getenv(kv)) {
		cn_env_set(env, kv, getenv(kv));
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

/* The image's config.KEY as a string vector (Entrypoint, Cmd, Env). */
static void config_strv(const json_t *cfg, const char *key, cn_strv *out)
{
	json_t *a = json_object_get(cfg, key);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			cn_strv_pushdup(out, json_string_value(v));
}

static const char *config_string(const json_t *cfg, const char *key)
{
	const char *s = json_string_value(json_object_get(cfg, key));
	return s && *s ? s : NULL;
}

/* -v SRC:DST[:ro|rw] -> a bind mount; SRC is made when missing (as docker). */
static int parse_volume(const char *spec, struct sb_mount *m, cn_strv *keep, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(spec);
	char *dst = strchr(copy, ':'), *mode;
	if (!dst)
		return cn_err_plain(err, EINVAL, "-v '%s': expected SRC:DST[:ro]", spec);
	*dst++ = '\0';
	mode = strchr(dst, ':');
	if (mode)
		*mode++ = '\0';
	if (copy[0] != '/')
		return cn_err_plain(err, ENOTSUP, "-v '%s': named volumes are not supported; SRC must be an absolute path",
				    spec);
	if (dst[0] != '/')
		return cn_err_plain(err, EINVAL, "-v '%s': DST must be an absolute path", spec);
	if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
		return cn_err_plain(err, ENOTSUP, "-v '%s': option '%s' is not supported (ro or rw)", spec, mode);
	if (access(copy, F_OK) < 0 && cn_mkdir_p(copy, 0755, err) < 0)
		return cn_err_wrap(err, "-v '%s'", spec);
	cn_strv_pushdup(keep, copy);
	cn_strv_pushdup(keep, dst);
	*m = (struct sb_mount){ .kind = SB_MOUNT_BIND, .source = keep->v[keep->n - 2],
				.target = keep->v[keep->n - 1], .readonly = mode && !strcmp(mode, "ro") };
	return 0;
}

struct run_dir {
	struct store_tmpdir td;
	char *upper, *work, *merged, *empty, *hosts;
	cn_strv lowers;
};

static void run_dir_free(struct store *st, struct run_dir *d)
{
	store_tmpdir_remove(st, &d->td);
	free(d->upper);
	free(d->work);
	free(d->merged);
	free(d->empty);
	free(d->hosts);
	cn_strv_free(&d->lowers);
}

static int run_dir_create(struct store *st, const struct store_image *img, const char *hostname,
			  struct run_dir *d, cn_err *err)
{
	static const char *const subdirs[] = { "upper", "work", "merged", "empty" };
	_cleanup_free_ char *hosts = cn_xasprintf("127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
						  hostname);
	_cleanup_close_ int fd = -1;
	if (store_tmpdir_create(st, "run", &d->td, err) < 0)
		return -1;
	for (size_t i = 0; i < CN_ARRAY_SIZE(subdirs); i++)
		if (mkdirat(d->td.fd, subdirs[i], 0755) < 0)
			return cn_err_sys(err, "create '%s/%s'", d->td.path, subdirs[i]);
	d->upper = cn_xasprintf("%s/upper", d->td.path);
	d->work = cn_xasprintf("%s/work", d->td.path);
	d->merged = cn_xasprintf("%s/merged", d->td.path);
	d->empty = cn_xasprintf("%s/empty", d->td.path);
	d->hosts = cn_xasprintf("%s/hosts", d->td.path);
	fd = openat(d->td.fd, "hosts", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || cn_write_all(fd, hosts, strlen(hosts)) < 0)
		return cn_err_sys(err, "write '%s'", d->hosts);
	/* Topmost first; a repeated layer once (overlayfs refuses a dir twice). */
	for (size_t i = img->nlayers; i-- > 0;) {
		bool seen = false;
		for (size_t j = i + 1; j < img->nlayers && !seen; j++)
			seen = !strcmp(img->layers[j].diff_id, img->layers[i].diff_id);
		if (seen)
			continue;
		if (!store_snapshot_exists(st, img->layers[i].diff_id))
			return cn_err_plain(err, ENOENT, "layer %s has no snapshot (run 'cairn fsck')",
					    img->layers[i].diff_id);
		cn_strv_push(&d->lowers, store_snapshot_path(st, img->layers[i].diff_id));
	}
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
			if (!strcmp(optarg, "host"))
				o->network = SB_NET_HOST;
			else if (!strcmp(optarg, "none"))
				o->network = SB_NET_NONE;
			else if (!strcmp(optarg, "private"))
				o->network = SB_NET_PRIVATE;
			else
				return cli_usage_error("run", "--network: '%s' is not host, none or private", optarg);
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

/* Errors of the process's exec (docker's 127 and 126) or of cairn (125). */
static int fail_status(const cn_err *err)
{
	if (!strncmp(err->msg, "exec ", 5) && err->errnum == ENOENT)
		return 127;
	if (!strncmp(err->msg, "exec ", 5) && err->errnum == EACCES)
		return 126;
	return EXIT_RUN_FAIL;
}

/* What a detached container runs, as cmd_run worked it out. */
struct run_spec {
	struct run_opts *opts;
	const char *ref;
	cn_strv *cmd, *env;
	const char *workdir, *user;
	int stop_signal;
	const struct sb_mount *mounts;
};

struct supervisor {
	struct store *st;
	struct ctr_state *cs;
	int report_fd;          /* to the waiting cairn run; -1 once told */
};

/* The process exec'd: it is running, and cairn run -d may return. */
static void supervisor_started(void *ctx, pid_t init_pid)
{
	struct supervisor *s = ctx;
	cn_err err;
	s->cs->status = CTR_RUNNING;
	s->cs->init_pid = init_pid;
	s->cs->started = (long long)time(NULL);
	if (ctr_proc_start_time(init_pid, &s->cs->init_start) < 0 || ctr_save(s->st, s->cs, &err) < 0) {
		/* Unrecordable, so unstoppable: better not to run at all. */
		kill(init_pid, SIGKILL);
		return;
	}
	ctr_report_start(s->report_fd, NULL);
	close(s->report_fd);
	s->report_fd = -1;
}

/* The supervisor's life: run the container with its output in the log,
 * record how it ended, clean up, and exit. Never returns. */
static void __attribute__((noreturn)) supervise(struct store *st, const struct store_image *img,
						const struct run_spec *spec, struct ctr_state *cs,
						int report_fd)
{
	struct run_opts *o = spec->opts;
	struct supervisor sup = { .st = st, .cs = cs, .report_fd = report_fd };
	struct run_dir dir = { .td = { .fd = -1 } };
	_cleanup_free_ char *log = ctr_log_path(st, cs);
	_cleanup_free_ char *cgroup_id = cn_xasprintf("ctr-%.*s", CTR_SHORT_ID_LEN, cs->id);
	_cleanup_close_ int log_fd = -1;
	struct sb_exit ex = { 0 };
	char hostbuf[256];
	cn_err err;
	int r = -1;

	/* The state names this process from now on; the image is in it, so
	 * prune keeps it without the gc lock the caller took. */
	store_gc_unlock(st);
	cs->supervisor_pid = getpid();
	if (ctr_proc_start_time(cs->supervisor_pid, &cs->supervisor_start) < 0) {
		cn_err_plain(&err, ESRCH, "read the supervisor's start time");
		goto failed;
	}
	if (ctr_save(st, cs, &err) < 0)
		goto failed;
	log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		cn_err_sys(&err, "open '%s'", log);
		goto failed;
	}
	if (!o->hostname) {
		if (o->network == SB_NET_HOST && gethostname(hostbuf, sizeof(hostbuf)) == 0)
			o->hostname = hostbuf;
		else
			o->hostname = o->name ? o->name : cs->name;
	}
	if (run_dir_create(st, img, o->hostname, &dir, &err) < 0)
		goto failed;
	{
		struct sb_rootfs rootfs = {
			.lowers = (const char *const *)dir.lowers.v, .nlowers = dir.lowers.n,
			.upper = dir.upper, .work = dir.work, .merged = dir.merged, .empty = dir.empty,
		};
		struct sb_process proc = {
			.argv = cn_strv_array(spec->cmd),
			.env = cn_strv_array(spec->env),
			.cwd = spec->workdir ? spec->workdir : "/",
			.user = spec->user,
			.hostname = o->hostname,
			.hosts_file = dir.hosts,
			.network = o->network,
			.out_fd = log_fd,
			.err_fd = log_fd,
			.mounts = spec->mounts,
			.nmounts = o->volumes.n,
			.in_fd = -1,
			.tty = o->tty,
			.read_only = o->read_only,
			.stop_signal = spec->stop_signal,
			.stop_timeout = o->stop_timeout,
			.limits = sb_limits_any(&o->limits) ? &o->limits : NULL,
			.cgroup_id = cgroup_id,
			.idmap = o->userns ? &o->idmap : NULL,
			.on_start = supervisor_started,
			.on_start_ctx = &sup,
		};
		/* SIGTERM to the supervisor stops the container, as Ctrl-C does cairn run. */
		cn_interrupt_install();
		r = sb_run(&rootfs, &proc, &ex, &err);
	}
	run_dir_free(st, &dir);
	if (sup.report_fd >= 0) {
		/* It never ran: nothing to keep, the caller says why. */
		if (r == 0)
			cn_err_plain(&err, ECHILD, "the container ended before its process started "
				     "(exit status %d)", ex.status);
		goto failed;
	}
	cs->status = CTR_EXITED;
	cs->finished = (long long)time(NULL);
	cs->exit_code = r < 0 ? EXIT_RUN_FAIL : ex.status;
	cs->oom_killed = r == 0 && ex.oom_killed;
	if (r < 0)
		(void)cn_write_all(log_fd, "cairn: ", 7), (void)cn_write_all(log_fd, err.msg, strlen(err.msg)),
			(void)cn_write_all(log_fd, "\n", 1);
	if (cs->auto_remove)
		ctr_remove(st, cs, &err);
	else
		ctr_save(st, cs, &err);
	_exit(0);
failed:
	ctr_report_start(sup.report_fd, &err);
	ctr_remove(st, cs, &err);
	_exit(1);
}

/* cairn run -d: record the container, hand it to a supervisor, and return
 * once its process runs (printing the id) or failed to start. */
static int run_detached(struct store *st, const struct store_image *img, const struct run_spec *spec)
{
	struct run_opts *o = spec->opts;
	struct ctr_state cs = {
		.name = o->name ? cn_xstrdup(o->name) : NULL,
		.image = cn_xstrdup(spec->ref),
		.created = (long long)time(NULL),
		.status = CTR_CREATED,
		.supervisor_pid = getpid(),
		.stop_signal = spec->stop_signal > 0 ? spec->stop_signal : SIGTERM,
		.stop_timeout = o->stop_timeout,
		.auto_remove = o->rm,
	};
	cn_err err;
	int fd = -1, r, rc = EXIT_RUN_FAIL;

	memcpy(cs.image_digest, img->manifest_digest, sizeof(cs.image_digest));
	cn_strv_copy(&cs.command, spec->cmd);
	if (ctr_proc_start_time(cs.supervisor_pid, &cs.supervisor_start) < 0) {
		fprintf(stderr, "error: cannot read this process's start time from /proc\n");
		goto out;
	}
	if (ctr_create(st, &cs, &err) < 0) {
		cli_fail(&err);
		goto out;
	}
	fflush(NULL);   /* nothing buffered may be written twice */
	r = ctr_spawn_supervisor(&fd, &err);
	if (r < 0) {
		cli_fail(&err);
		ctr_remove(st, &cs, &err);
		goto out;
	}
	if (r == 0)
		supervise(st, img, spec, &cs, fd);
	if (ctr_await_start(fd, &err) < 0) {
		cli_fail(&err);
		rc = fail_status(&err);
	} else {
		printf("%s\n", cs.id);
		rc = 0;
	}
	close(fd);
out:
	ctr_state_free(&cs);
	return rc;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = { .network = SB_NET_HOST, .stop_timeout = 10 };
	_cleanup_strv_ cn_strv cmd = { 0 };
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv keep = { 0 };
	_cleanup_free_ struct sb_mount *mounts = NULL;
	_cleanup_free_ char *id = NULL;
	struct store_image img = { 0 };
	struct run_dir dir = { .td = { .fd = -1 } };
	struct sb_process proc;
	struct sb_exit ex = { 0 };
	struct store st;
	struct term term = { .saved = false };
	const char *ref, *workdir, *user, *stop;
	char hostbuf[256];
	json_t *cfg;
	cn_err err;
	int r, rc = EXIT_RUN_FAIL, stop_signal = SB_STOP_FORWARD;

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
	cfg = json_object_get(img.config, "config");
	/* Entrypoint, then the arguments given or the image's Cmd. */
	config_strv(cfg, "Entrypoint", &cmd);
	if (optind + 1 < argc)
		for (int i = optind + 1; i < argc; i++)
			cn_strv_pushdup(&cmd, argv[i]);
	else
		config_strv(cfg, "Cmd", &cmd);
	if (cmd.n == 0) {
		fprintf(stderr, "error: no command given and image '%s' has no Entrypoint or Cmd\n", ref);
		goto free_image;
	}
	config_strv(cfg, "Env", &env);
	for (size_t i = 0; i < o.env.n; i++)
		add_env(&env, o.env.v[i]);
	stop = config_string(cfg, "StopSignal");
	if (stop && (stop_signal = cn_signal_parse(stop)) < 0) {
		fprintf(stderr, "error: image '%s' has an unknown StopSignal '%s'\n", ref, stop);
		goto free_image;
	}
	workdir = o.workdir ? o.workdir : config_string(cfg, "WorkingDir");
	user = o.user ? o.user : config_string(cfg, "User");
	if (o.detach) {
		struct run_spec spec = { .opts = &o, .ref = ref, .cmd = &cmd, .env = &env, .workdir = workdir,
					 .user = user, .stop_signal = stop_signal, .mounts = mounts };
		rc = run_detached(&st, &img, &spec);
		goto free_image;
	}
	{
		unsigned char rnd[6];
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		if (fd >= 0)
			close(fd);
		id = cn_xasprintf("%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	}
	if (!o.hostname) {
		/* docker's: the host's name on its network, else the container's. */
		if (o.network == SB_NET_HOST && gethostname(hostbuf, sizeof(hostbuf)) == 0)
			o.hostname = hostbuf;
		else
			o.hostname = o.name ? o.name : id;
	}
	if (run_dir_create(&st, &img, o.hostname, &dir, &err) < 0) {
		cli_fail(&err);
		goto free_dir;
	}
	{
		_cleanup_free_ char *cgroup_id = cn_xasprintf("run-%d-%s", (int)getpid(), id);
		struct sb_rootfs rootfs = {
			.lowers = (const char *const *)dir.lowers.v, .nlowers = dir.lowers.n,
			.upper = dir.upper, .work = dir.work, .merged = dir.merged, .empty = dir.empty,
		};
		proc = (struct sb_process){
			.argv = cn_strv_array(&cmd),
			.env = cn_strv_array(&env),
			.cwd = workdir ? workdir : "/",
			.user = user,
			.hostname = o.hostname,
			.hosts_file = dir.hosts,
			.network = o.network,
			.out_fd = STDOUT_FILENO,
			.err_fd = STDERR_FILENO,
			.mounts = mounts,
			.nmounts = o.volumes.n,
			.interactive = o.interactive,
			.in_fd = STDIN_FILENO,
			.tty = o.tty,
			.read_only = o.read_only,
			.stop_signal = stop_signal,
			.stop_timeout = o.stop_timeout,
			.limits = sb_limits_any(&o.limits) ? &o.limits : NULL,
			.cgroup_id = cgroup_id,
			.idmap = o.userns ? &o.idmap : NULL,
		};
		/* A container that stops reading its stdin must not kill cairn. */
		signal(SIGPIPE, SIG_IGN);
		cn_interrupt_install();
		if (o.tty && o.interactive)
			term_raw(&term);
		r = sb_run(&rootfs, &proc, &ex, &err);
		term_restore(&term);
	}
	if (r < 0) {
		cli_fail(&err);
		rc = fail_status(&err);
	} else if (ex.oom_killed) {
		fprintf(stderr, "error: out of memory: the container was killed at its --memory limit\n");
		rc = ex.status;
	} else {
		rc = ex.status;
	}
free_dir:
	run_dir_free(&st, &dir);
free_image:
	store_image_free(&img);
close_store:
	store_close(&st);
free_opts:
	cn_strv_free(&o.env);
	cn_strv_free(&o.volumes);
	return rc;
}
