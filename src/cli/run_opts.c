/* cairn run's options: parsing and the values that need the store (named
 * volumes) or the network (host-gateway). */
#include "cli/cli.h"
#include "cli/network.h"
#include "cli/run_opts.h"
#include "cli/step_opts.h"
#include "container/volume.h"
#include "net/netdef.h"
#include "sandbox/options.h"
#include "sandbox/userns.h"
#include "util/cleanup.h"
#include "util/conf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/platform.h"
#include "util/rootless.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char run_usage[] =
	"usage: cairn run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
	"\n"
	"Run a command in a new container from IMAGE and exit with its status.\n"
	"Changes to the container's files are discarded when it ends. A usage error\n"
	"exits 125 (the container never started), as docker run does.\n"
	"\n"
	"Options:\n"
	"  -d, --detach             run in the background and print the container's id\n"
	"      --rm                 with -d: remove the container's state when it exits\n"
	"                           (without -d nothing is kept anyway)\n"
	"      --restart POLICY     with -d: no (default), on-failure[:N] (restart after a\n"
	"                           non-zero status, at most N times), always or\n"
	"                           unless-stopped (restart until 'cairn stop')\n"
	"      --name NAME          the container's name (also its default hostname)\n"
	"  -i, --interactive        pass stdin to the container\n"
	"  -t, --tty                allocate a pseudo-terminal\n"
	"  -a, --attach STREAM      stdin, stdout or stderr (repeatable): only these are\n"
	"                           connected (default: stdout and stderr)\n"
	"  -e, --env K=V            set an environment variable (K alone: from cairn's)\n"
	"      --env-file FILE      read K=V lines from FILE (-e wins, as in docker)\n"
	"      --entrypoint CMD     run CMD instead of the image's entrypoint (its CMD is\n"
	"                           then not used); \"\" clears the entrypoint\n"
	"  -w, --workdir DIR        working directory (created when missing)\n"
	"  -u, --user USER[:GROUP]  user and group, names from the image's passwd/group\n"
	"  -v, --volume SRC:DST[:ro]  bind the host path SRC (absolute) at DST; a SRC\n"
	"                           that is a name is a named volume (kept in the store)\n"
	"      --mount SPEC         type=bind|volume|tmpfs,source=...,target=...[,readonly]\n"
	"                           [,tmpfs-size=N][,tmpfs-mode=OCTAL]\n"
	"      --tmpfs PATH[:OPTS]  a tmpfs at PATH (OPTS: size=N, mode=OCTAL, ro, exec)\n"
	"      --network MODE       default (also: bridge): a private network namespace on\n"
	"                           the cairn0 bridge with outbound NAT, as docker's\n"
	"                           bridge; host: the host's network; none or private:\n"
	"                           loopback only; rootless the default is host (a bridge\n"
	"                           needs root)\n"
	"      --network NAME       a network made by 'cairn network create': its members\n"
	"                           reach each other by name (container name, hostname,\n"
	"                           --network-alias) through /etc/hosts, other networks\n"
	"                           cannot reach them (root only)\n"
	"      --network-alias NAME another name of the container on its --network NAME\n"
	"                           (repeatable)\n"
	"  -p, --publish [IP:][HOST[-END]:]CTR[-END][/tcp|udp]  forward the host's port HOST\n"
	"                           (on IP; default every address, 127.0.0.1 included)\n"
	"                           to the container's port CTR (repeatable); no HOST: a\n"
	"                           free port, shown by 'cairn ps'; ignored on the host's\n"
	"                           network\n"
	"      --hostname NAME      the container's hostname\n"
	"      --dns IP             a nameserver for /etc/resolv.conf (repeatable)\n"
	"      --read-only          mount the root file system read-only\n"
	"      --userns MODE        host (default), or auto: a user namespace mapping\n"
	"                           root's range from /etc/subuid and /etc/subgid\n"
	"      --cap-add CAP        add a capability (CAP_ optional; ALL: every one)\n"
	"      --cap-drop CAP       drop a capability (ALL: every one)\n"
	"      --privileged         every capability cairn has, no seccomp filter, no\n"
	"                           masked paths, writable /sys, the host's devices\n"
	"      --security-opt OPT   seccomp=unconfined, no-new-privileges[=true|false]\n"
	"                           (cairn sets it by default)\n"
	CLI_STEP_USAGE("the container")
	CLI_RUN_HEALTH_USAGE
	"      --memory N           memory limit (b, k, m, g; no swap)\n"
	"      --cpus N.N           CPU limit\n"
	"      --pids-limit N       process limit\n"
	"      --stop-timeout N     seconds between the stop signal and SIGKILL (default 10)\n"
	"      --init[=BOOL]        a small reaper as pid 1 that forwards signals to the\n"
	"                           command and reaps zombies; without it the command\n"
	"                           itself is pid 1, as in docker (default: cairn.conf's\n"
	"                           init, else false)\n"
	"      --systemd MODE       true (default): when the command is systemd or\n"
	"                           /sbin/init (also /usr/sbin/init, /usr/local/sbin/init)\n"
	"                           run it as an OS container's init; always: whatever\n"
	"                           the command; false: never. In that mode the command is\n"
	"                           pid 1 (no --init) with tmpfs on /run, /run/lock and\n"
	"                           /tmp, its own writable cgroup at /sys/fs/cgroup,\n"
	"                           container=cairn in its environment, /etc/machine-id\n"
	"                           filled when empty, a pty as /dev/console, and\n"
	"                           SIGRTMIN+3 (halt) as stop signal unless the image sets\n"
	"                           one (podman's flag; root only: rootless or with\n"
	"                           --userns=auto the default runs the command plainly)\n"
	"      --platform OS/ARCH   the image must be of this platform\n"
	"  -h, --help               show this help\n";

/* docker run's usage errors exit 125. */
#define usage_error(...) (cli_usage_error("run", __VA_ARGS__), CTR_EXIT_FAIL)

static int fail(const cn_err *err)
{
	cli_fail(err);
	return CTR_EXIT_FAIL;
}

void run_opts_resolve_env(const cn_strv *given, cn_strv *out)
{
	for (size_t i = 0; i < given->n; i++) {
		const char *kv = given->v[i], *v;
		if (strchr(kv, '='))
			cn_strv_pushdup(out, kv);
		else if ((v = getenv(kv)))
			cn_strv_push(out, cn_xasprintf("%s=%s", kv, v));
	}
}

void run_opts_env_files_first(cn_strv *env, cn_strv *from_files)
{
	for (size_t i = 0; i < env->n; i++)
		cn_strv_pushdup(from_files, env->v[i]);
	cn_strv_free(env);
	*env = *from_files;
	*from_files = (cn_strv){ 0 };
}

int run_opts_read_env_file(const char *path, cn_strv *out, cn_err *err)
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

/* "on-failure:3", "always", ... */
static int parse_restart(const char *s, struct run_opts *o)
{
	char *end;
	if (!strcmp(s, "no"))
		o->restart = CTR_RESTART_NO;
	else if (!strcmp(s, "always") || !strcmp(s, "unless-stopped"))
		o->restart = CTR_RESTART_ALWAYS;
	else if (!strncmp(s, "on-failure", 10) && (!s[10] || s[10] == ':')) {
		o->restart = CTR_RESTART_ON_FAILURE;
		o->restart_max = 0;
		if (s[10]) {
			unsigned long n = strtoul(s + 11, &end, 10);
			if (end == s + 11 || *end || n > 1000000)
				return -1;
			o->restart_max = (unsigned)n;
		}
	} else {
		return -1;
	}
	return 0;
}

static int parse_security_opt(const char *s, struct run_opts *o)
{
	/* docker took "KEY:VALUE" before "KEY=VALUE"; both are accepted. */
	size_t k = strcspn(s, "=:");
	const char *v = s[k] ? s + k + 1 : NULL;
	if (!strncmp(s, "seccomp", k) && k == 7 && v) {
		if (strcmp(v, "unconfined"))
			return usage_error("--security-opt seccomp=%s: seccomp profile files (docker's JSON format) "
					   "are not supported; use seccomp=unconfined, or the default filter", v);
		o->security.unconfined = true;
	} else if (k == 17 && !strncmp(s, "no-new-privileges", k)) {
		if (!v || !strcmp(v, "true"))
			o->security.new_privs = false;
		else if (!strcmp(v, "false"))
			o->security.new_privs = true;
		else
			return usage_error("--security-opt '%s': no-new-privileges takes true or false", s);
		o->nnp_set = true;
	} else if ((k == 8 && !strncmp(s, "apparmor", k) && v && !strcmp(v, "unconfined")) ||
		   (k == 5 && !strncmp(s, "label", k) && v && !strcmp(v, "disable"))) {
		/* cairn applies no AppArmor profile and no SELinux label: already so. */
	} else {
		return usage_error("--security-opt '%s': not supported (seccomp=unconfined, "
				   "no-new-privileges[=true|false], apparmor=unconfined, label=disable)", s);
	}
	o->security_set = true;
	return 0;
}

/* Options that take no short letter get these codes. */
enum {
	OPT_RM = 256, OPT_NAME, OPT_ENV_FILE, OPT_NETWORK, OPT_HOSTNAME, OPT_READ_ONLY, OPT_USERNS,
	OPT_MEMORY, OPT_CPUS, OPT_PIDS, OPT_STOP_TIMEOUT, OPT_ENTRYPOINT, OPT_CAP_ADD, OPT_CAP_DROP,
	OPT_PRIVILEGED, OPT_SECURITY_OPT, OPT_DNS, OPT_TMPFS, OPT_MOUNT, OPT_RESTART, OPT_PLATFORM,
	OPT_INIT, OPT_SYSTEMD, OPT_NETWORK_ALIAS,
};

/* "true" / "false" (no value: true), as docker's boolean flags take them. */
static int parse_bool(const char *v, bool *out)
{
	if (!v || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* cairn.conf's init = true|false: --init's default (docker's daemon "init"). */
static int init_default(bool *out)
{
	struct cn_conf conf;
	const char *v, *where = NULL;
	cn_err err;
	int rc = 0;
	*out = false;
	if (cn_conf_load(&conf, &err) < 0) {
		cn_conf_free(&conf);
		return fail(&err);
	}
	v = cn_conf_get(&conf, "init", &where);
	if (v && parse_bool(v, out) < 0) {
		cn_err_fail(&err, CN_ERR_INVALID, "%s: init '%s' is not true or false", where, v);
		rc = fail(&err);
	}
	cn_conf_free(&conf);
	return rc;
}

/* An alias is a name on a hosts line, not a network's name: the
 * built-in modes (a compose service called "host") are fine. */
static bool alias_ok(const char *a)
{
	size_t n = strlen(a);
	return n && n <= 253 && isalnum((unsigned char)a[0]) &&
	       strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int parse_one(int c, const char *arg, struct run_opts *o)
{
	cn_err err;
	char *end;
	switch (c) {
	case OPT_RM: o->rm = true; break;
	case 'd': o->detach = true; break;
	case OPT_NAME: o->name = arg; break;
	case 'i': o->interactive = true; break;
	case 't': o->tty = true; break;
	case 'e': cn_strv_pushdup(&o->env, arg); break;
	case OPT_ENV_FILE:
		if (run_opts_read_env_file(arg, &o->env_file, &err) < 0)
			return fail(&err);
		break;
	case 'w':
		if (arg[0] != '/')
			return usage_error("--workdir: '%s' is not an absolute path", arg);
		o->workdir = arg;
		break;
	case 'u': o->user = arg; break;
	case 'v': cn_strv_pushdup(&o->volumes, arg); break;
	case OPT_MOUNT: cn_strv_pushdup(&o->mounts, arg); break;
	case OPT_TMPFS: cn_strv_pushdup(&o->tmpfs, arg); break;
	case OPT_NETWORK:
		o->network_arg = arg;
		o->network_name = NULL;
		if (cli_network_parse(arg, true, &o->network) < 0) {
			if (!net_def_name_ok(arg))
				return usage_error("--network: '%s' is not default, bridge, host, none, private or "
						   "a network's name", arg);
			o->network = SB_NET_DEFAULT;
			o->network_name = arg;
		}
		break;
	case OPT_NETWORK_ALIAS:
		if (!alias_ok(arg))
			return usage_error("--network-alias: '%s' is not a host name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, "
					   "at most 253)", arg);
		cn_strv_pushdup(&o->aliases, arg);
		break;
	case 'p': cn_strv_pushdup(&o->publish, arg); break;
	case OPT_HOSTNAME: o->hostname = arg; break;
	case OPT_READ_ONLY: o->read_only = true; break;
	case OPT_USERNS:
		if (!strcmp(arg, "host"))
			o->userns = false;
		else if (!strcmp(arg, "auto"))
			o->userns = true;
		else
			return usage_error("--userns: '%s' is not host or auto", arg);
		break;
	case OPT_MEMORY:
	case OPT_CPUS:
	case OPT_PIDS:
		if (cli_parse_limit(c == OPT_MEMORY ? 'M' : c == OPT_CPUS ? 'C' : 'P', arg, &o->limits) < 0)
			return usage_error("--%s: '%s' is not a valid limit",
					   c == OPT_MEMORY ? "memory" : c == OPT_CPUS ? "cpus" : "pids-limit", arg);
		break;
	case OPT_STOP_TIMEOUT: {
		unsigned long t = strtoul(arg, &end, 10);
		if (end == arg || *end || t > 86400)
			return usage_error("--stop-timeout: '%s' is not a number of seconds", arg);
		o->stop_timeout = (unsigned)t;
		break;
	}
	case OPT_ENTRYPOINT: o->entrypoint = arg; break;
	case OPT_CAP_ADD:
	case OPT_CAP_DROP:
		if (sb_cap_parse(arg) < 0)
			return usage_error("--%s: unknown capability '%s'", c == OPT_CAP_ADD ? "cap-add" : "cap-drop", arg);
		cn_strv_pushdup(c == OPT_CAP_ADD ? &o->cap_add : &o->cap_drop, arg);
		o->security_set = true;
		break;
	case OPT_PRIVILEGED: o->privileged = o->security_set = true; break;
	case OPT_SECURITY_OPT: return parse_security_opt(arg, o);
	case OPT_DNS: {
		unsigned char buf[16];
		if (inet_pton(AF_INET, arg, buf) != 1 && inet_pton(AF_INET6, arg, buf) != 1)
			return usage_error("--dns: '%s' is not an IP address", arg);
		cn_strv_pushdup(&o->dns, arg);
		break;
	}
	case OPT_RESTART:
		if (parse_restart(arg, o) < 0)
			return usage_error("--restart: '%s' is not no, on-failure[:N], always or unless-stopped", arg);
		break;
	case OPT_PLATFORM: o->platform = arg; break;
	case OPT_INIT:
		if (parse_bool(arg, &o->init) < 0)
			return usage_error("--init: '%s' is not true or false", arg);
		o->init_set = true;
		break;
	case OPT_SYSTEMD:
		if (!strcmp(arg, "true"))
			o->systemd = CTR_SYSTEMD_TRUE;
		else if (!strcmp(arg, "false"))
			o->systemd = CTR_SYSTEMD_FALSE;
		else if (!strcmp(arg, "always"))
			o->systemd = CTR_SYSTEMD_ALWAYS;
		else
			return usage_error("--systemd: '%s' is not true, false or always", arg);
		o->systemd_set = true;
		break;
	case 'a':
		if (!strcasecmp(arg, "stdin"))
			o->attach_in = true;
		else if (!strcasecmp(arg, "stdout"))
			o->attach_out = true;
		else if (!strcasecmp(arg, "stderr"))
			o->attach_err = true;
		else
			return usage_error("-a: '%s' is not stdin, stdout or stderr", arg);
		o->attach_set = true;
		break;
	default:
		return usage_error("unknown flag");
	}
	return 0;
}

int run_opts_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
		{ "rm", no_argument, NULL, OPT_RM },
		{ "detach", no_argument, NULL, 'd' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "attach", required_argument, NULL, 'a' },
		{ "env", required_argument, NULL, 'e' },
		{ "env-file", required_argument, NULL, OPT_ENV_FILE },
		{ "workdir", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "volume", required_argument, NULL, 'v' },
		{ "mount", required_argument, NULL, OPT_MOUNT },
		{ "tmpfs", required_argument, NULL, OPT_TMPFS },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ "net", required_argument, NULL, OPT_NETWORK },
		{ "network-alias", required_argument, NULL, OPT_NETWORK_ALIAS },
		{ "publish", required_argument, NULL, 'p' },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "read-only", no_argument, NULL, OPT_READ_ONLY },
		{ "userns", required_argument, NULL, OPT_USERNS },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "pids-limit", required_argument, NULL, OPT_PIDS },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
		{ "cap-add", required_argument, NULL, OPT_CAP_ADD },
		{ "cap-drop", required_argument, NULL, OPT_CAP_DROP },
		{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
		{ "security-opt", required_argument, NULL, OPT_SECURITY_OPT },
		{ "dns", required_argument, NULL, OPT_DNS },
		CLI_STEP_OPTIONS,
		CLI_RUN_HEALTH_OPTIONS,
		{ "restart", required_argument, NULL, OPT_RESTART },
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ "init", optional_argument, NULL, OPT_INIT },
		{ "systemd", required_argument, NULL, OPT_SYSTEMD },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cn_err err;
	int c, r;
	opterr = 0;     /* the messages below name the flag, docker's way */
	/* "+": options end at IMAGE; what follows is the command's. ":": a
	 * missing argument is told apart from an unknown flag. */
	while ((c = getopt_long(argc, argv, "+:dita:e:w:u:v:p:hl:", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(run_usage, stdout);
			return -1;
		}
		if (c == '?')
			return optopt ? usage_error("unknown shorthand flag: '%c' in -%c", optopt, optopt)
				      : usage_error("unknown flag: %s", argv[optind - 1]);
		if (c == ':')
			return usage_error("flag needs an argument: %s", argv[optind - 1]);
		if ((r = cli_step_opt("run", c, optarg, &o->step)) != 0 ||
		    (r = cli_run_health_opt(c == 'l' ? CLI_OPT_LABEL : c, optarg, &o->rh)) != 0) {
			if (r < 0)
				return CTR_EXIT_FAIL;
			continue;
		}
		if ((r = parse_one(c, optarg, o)) != 0)
			return r;
	}
	run_opts_env_files_first(&o->env, &o->env_file);
	if (optind >= argc)
		return usage_error("expected an image");
	if (!o->init_set && (r = init_default(&o->init)) != 0)
		return r;
	if (o->detach && o->interactive)
		return usage_error("-d with -i: attaching to a detached container is not supported");
	if (o->detach && o->attach_set)
		return usage_error("-a and -d conflict: a detached container is attached to nothing");
	if (o->restart != CTR_RESTART_NO && !o->detach)
		return usage_error("--restart needs -d: only a detached container has a supervisor to restart it");
	if (o->restart != CTR_RESTART_NO && o->rm)
		return usage_error("--restart and --rm conflict");
	if (cli_run_health_check(&o->rh) < 0)
		return CTR_EXIT_FAIL;
	if (o->attach_in)
		o->interactive = true;
	if (o->aliases.n && !o->network_name)
		return usage_error("--network-alias needs --network NAME: aliases are names on a created network");
	if (o->userns && cn_rootless())
		return usage_error("--userns=auto needs root: rootless cairn already runs every "
				   "container in a user namespace (0 = you, 1.. = your /etc/subuid range)");
	if (o->userns && sb_idmap_load(&o->idmap, &err) < 0)
		return fail(&err);
	if (o->security_set) {
		bool new_privs = o->security.new_privs;
		if (o->privileged) {
			o->security.caps = sb_caps_available();
			o->security.privileged = o->security.unconfined = true;
			/* docker sets no_new_privs only when asked to. */
			o->security.new_privs = o->nnp_set ? new_privs : true;
		} else if (sb_caps_compute(&o->cap_add, &o->cap_drop, &o->security.caps, &err) < 0) {
			return fail(&err);
		}
	}
	return 0;
}

void run_opts_free(struct run_opts *o)
{
	cn_strv_free(&o->env);
	cn_strv_free(&o->env_file);
	cn_strv_free(&o->volumes);
	cn_strv_free(&o->mounts);
	cn_strv_free(&o->tmpfs);
	cn_strv_free(&o->cap_add);
	cn_strv_free(&o->cap_drop);
	cn_strv_free(&o->dns);
	cn_strv_free(&o->aliases);
	cn_strv_free(&o->publish);
	cli_step_opts_free(&o->step);
	cli_run_health_free(&o->rh);
}

/* ---- mounts ---- */

static const char *keep_str(cn_strv *keep, const char *s)
{
	cn_strv_pushdup(keep, s);
	return keep->v[keep->n - 1];
}

/* A named volume's directory, kept; its name goes to VOLUMES once (the
 * state records it: volume rm refuses while the container runs). */
static const char *volume_dir(struct store *st, const char *name, cn_strv *keep, cn_strv *volumes,
			      cn_err *err)
{
	char *path = ctr_volume_path(st, name, err);
	bool seen = false;
	if (!path)
		return NULL;
	cn_strv_push(keep, path);
	for (size_t i = 0; i < volumes->n && !seen; i++)
		seen = !strcmp(volumes->v[i], name);
	if (!seen)
		cn_strv_pushdup(volumes, name);
	return path;
}

/* -v SRC:DST[:ro|rw]: SRC absolute is a host path (made when missing, as
 * docker), else a named volume. */
static int parse_volume(struct store *st, const char *spec, struct sb_mount *m, cn_strv *keep,
			cn_strv *volumes, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(spec);
	char *dst = strchr(copy, ':'), *mode;
	if (!dst)
		return cn_err_fail(err, CN_ERR_INVALID, "-v '%s': expected SRC:DST[:ro]", spec);
	*dst++ = '\0';
	mode = strchr(dst, ':');
	if (mode)
		*mode++ = '\0';
	if (dst[0] != '/')
		return cn_err_fail(err, CN_ERR_INVALID, "-v '%s': DST must be an absolute path", spec);
	if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "-v '%s': option '%s' is not supported (ro or rw)", spec, mode);
	*m = (struct sb_mount){ .kind = SB_MOUNT_BIND, .readonly = mode && !strcmp(mode, "ro") };
	if (copy[0] == '/') {
		if (access(copy, F_OK) < 0 && cn_mkdir_p(copy, 0755, err) < 0)
			return cn_err_wrap(err, "-v '%s'", spec);
		m->source = keep_str(keep, copy);
	} else if (!(m->source = volume_dir(st, copy, keep, volumes, err))) {
		return cn_err_wrap(err, "-v '%s'", spec);
	} else {
		m->copy_up = true;
	}
	m->target = keep_str(keep, dst);
	return 0;
}

static int parse_mode(const char *v, unsigned *mode)
{
	char *end;
	unsigned long m = strtoul(v, &end, 8);
	if (end == v || *end || m > 07777)
		return -1;
	*mode = (unsigned)m;
	return 0;
}

/* --mount type=bind|volume|tmpfs,source=...,target=...,... (docker's keys). */
static int parse_mount(struct store *st, const char *spec, struct sb_mount *m, cn_strv *keep,
		       cn_strv *volumes, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(spec);
	const char *type = "volume", *src = NULL, *dst = NULL;
	bool nocopy = false;
	char *save = NULL;
	*m = (struct sb_mount){ .kind = SB_MOUNT_BIND, .size = SB_TMPFS_UNSIZED, .noexec = false };
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (v)
			*v++ = '\0';
		if (!strcmp(kv, "type") && v)
			type = v;
		else if ((!strcmp(kv, "source") || !strcmp(kv, "src")) && v)
			src = v;
		else if ((!strcmp(kv, "target") || !strcmp(kv, "destination") || !strcmp(kv, "dst")) && v)
			dst = v;
		else if (!strcmp(kv, "readonly") || !strcmp(kv, "ro")) {
			if (parse_bool(v, &m->readonly) < 0)
				return cn_err_fail(err, CN_ERR_INVALID, "--mount '%s': readonly=%s is not true or false", spec, v);
		} else if (!strcmp(kv, "tmpfs-size") && v) {
			if (sb_parse_memory(v, &m->size) < 0)
				return cn_err_fail(err, CN_ERR_INVALID, "--mount '%s': tmpfs-size=%s is not a size", spec, v);
		} else if (!strcmp(kv, "tmpfs-mode") && v) {
			if (parse_mode(v, &m->mode) < 0)
				return cn_err_fail(err, CN_ERR_INVALID, "--mount '%s': tmpfs-mode=%s is not an octal mode", spec, v);
		} else if (!strcmp(kv, "volume-nocopy")) {
			if (parse_bool(v, &nocopy) < 0)
				return cn_err_fail(err, CN_ERR_INVALID, "--mount '%s': volume-nocopy=%s is not true or false", spec, v);
		} else if (!strcmp(kv, "consistency") ||
			   (!strcmp(kv, "bind-propagation") && v && !strcmp(v, "rprivate"))) {
			/* docker's defaults here (consistency is for macOS only) */
		} else {
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount '%s': option '%s' is not supported", spec, kv);
		}
	}
	if (!dst || dst[0] != '/')
		return cn_err_fail(err, CN_ERR_INVALID, "--mount '%s': target=ABSOLUTE-PATH is required", spec);
	m->target = keep_str(keep, dst);
	if (!strcmp(type, "tmpfs")) {
		if (src)
			return cn_err_fail(err, CN_ERR_INVALID, "--mount '%s': a tmpfs has no source", spec);
		m->kind = SB_MOUNT_TMPFS;
		m->noexec = true;
	} else if (!strcmp(type, "bind")) {
		struct stat sb;
		if (!src || src[0] != '/')
			return cn_err_fail(err, CN_ERR_INVALID, "--mount '%s': a bind needs source=ABSOLUTE-PATH", spec);
		if (stat(src, &sb) < 0)
			return cn_err_sys(err, "--mount '%s': bind source path %s", spec, src);
		m->source = keep_str(keep, src);
	} else if (!strcmp(type, "volume")) {
		if (!src)
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount '%s': an anonymous volume is not supported; "
					   "name it with source=NAME", spec);
		if (!(m->source = volume_dir(st, src, keep, volumes, err)))
			return cn_err_wrap(err, "--mount '%s'", spec);
		m->copy_up = !nocopy;
	} else {
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount '%s': type '%s' is not bind, volume or tmpfs", spec, type);
	}
	return 0;
}

/* --tmpfs PATH[:size=N,mode=OCTAL,ro,exec,...]: noexec, nosuid, nodev and
 * no size limit by default, as docker. */
static int parse_tmpfs(const char *spec, struct sb_mount *m, cn_strv *keep, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(spec);
	char *opts = strchr(copy, ':'), *save = NULL;
	if (opts)
		*opts++ = '\0';
	if (copy[0] != '/')
		return cn_err_fail(err, CN_ERR_INVALID, "--tmpfs '%s': the path must be absolute", spec);
	*m = (struct sb_mount){ .kind = SB_MOUNT_TMPFS, .size = SB_TMPFS_UNSIZED, .noexec = true };
	m->target = keep_str(keep, copy);
	for (char *o = opts ? strtok_r(opts, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
		if (!strncmp(o, "size=", 5)) {
			if (sb_parse_memory(o + 5, &m->size) < 0)
				return cn_err_fail(err, CN_ERR_INVALID, "--tmpfs '%s': '%s' is not a size", spec, o);
		} else if (!strncmp(o, "mode=", 5)) {
			if (parse_mode(o + 5, &m->mode) < 0)
				return cn_err_fail(err, CN_ERR_INVALID, "--tmpfs '%s': '%s' is not an octal mode", spec, o);
		} else if (!strcmp(o, "ro") || !strcmp(o, "rw")) {
			m->readonly = o[0] == 'r' && o[1] == 'o';
		} else if (!strcmp(o, "exec") || !strcmp(o, "noexec")) {
			m->noexec = o[0] == 'n';
		} else if (strcmp(o, "nosuid") && strcmp(o, "nodev")) {
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--tmpfs '%s': option '%s' is not supported "
					   "(size, mode, ro, rw, exec, noexec, nosuid, nodev)", spec, o);
		}
	}
	return 0;
}

int run_opts_mounts(struct store *st, const struct run_opts *o, struct sb_mount **out, size_t *n,
		    cn_strv *keep, cn_strv *volumes, cn_err *err)
{
	size_t total = o->volumes.n + o->mounts.n + o->tmpfs.n, k = 0;
	struct sb_mount *m = cn_xcalloc(total + 1, sizeof(*m));
	for (size_t i = 0; i < o->volumes.n; i++)
		if (parse_volume(st, o->volumes.v[i], &m[k++], keep, volumes, err) < 0)
			goto fail;
	for (size_t i = 0; i < o->mounts.n; i++)
		if (parse_mount(st, o->mounts.v[i], &m[k++], keep, volumes, err) < 0)
			goto fail;
	for (size_t i = 0; i < o->tmpfs.n; i++)
		if (parse_tmpfs(o->tmpfs.v[i], &m[k++], keep, err) < 0)
			goto fail;
	*out = m;
	*n = k;
	return 0;
fail:
	free(m);
	return -1;
}

int run_opts_check_platform(const char *want, const json_t *image_config, const char *ref, cn_err *err)
{
	const char *os = json_string_value(json_object_get(image_config, "os"));
	const char *arch = json_string_value(json_object_get(image_config, "architecture"));
	const char *variant = json_string_value(json_object_get(image_config, "variant"));
	struct cn_platform w, have;
	char have_str[CN_PLATFORM_STR];
	if (cn_platform_parse(want, &w, err) < 0)
		return cn_err_wrap(err, "--platform");
	/* The one normal form (x86_64 = amd64, arm64 = arm64/v8...) as the
	 * builder and pull compare platforms. */
	if (!cn_platform_set(&have, os && *os ? os : "linux", arch ? arch : "", variant))
		return cn_err_fail(err, CN_ERR_CORRUPT, "image '%s' names no architecture in its config", ref);
	if (!*w.variant)
		memcpy(have.variant, w.variant, sizeof(have.variant));   /* no variant asked: any */
	if (!cn_platform_equal(&w, &have)) {
		cn_platform_format(&have, have_str);
		return cn_err_fail(err, CN_ERR_CONFLICT, "--platform %s: image '%s' is %s; cairn run does "
				   "not pull or pick another platform's image", want, ref, have_str);
	}
	return 0;
}
