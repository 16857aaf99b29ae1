#include "builder/build.h"
#include "builder/imgformat.h"
#include "builder/namedctx.h"
#include "cli/build_output.h"
#include "cli/build_cache.h"
#include "builder/context.h"
#include "cli/cli.h"
#include "cli/compression.h"
#include "cli/progress.h"
#include "cli/layer_limit.h"
#include "cli/network.h"
#include "cli/step_opts.h"
#include "cli/rootless.h"
#include "cli/registry_opts.h"
#include "cli/build_platform.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"
#include "util/ref.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>

static const char build_usage[] =
	"usage: cairn build [OPTIONS] [CONTEXT]\n"
	"\n"
	"Build an image from a Buildfile (Dockerfile syntax). CONTEXT defaults to '.';\n"
	"'-' reads a tar (plain or compressed) from stdin, or a Buildfile alone (an empty\n"
	"context); an http(s) URL of a tar is downloaded. Git contexts are not supported.\n"
	"\n"
	"Options:\n"
	"  -f, --file FILE          the Buildfile (default: CONTEXT/Buildfile, then\n"
	"                           Dockerfile, then Containerfile; '-': stdin)\n"
	"  -t, --tag NAME[:TAG]     tag the image (repeatable)\n"
	"      --build-arg K[=V]    set a build argument (K alone takes it from the environment)\n"
	"      --network MODE       RUN network: default (a private network namespace on\n"
	"                           the cairn0 bridge with outbound NAT: the host's\n"
	"                           loopback services are out of reach), host (also lets\n"
	"                           RUN --network=host steps share the host's), or none;\n"
	"                           rootless the default is host (a bridge needs root)\n"
	"      --compression ALG    layer compression: gzip (default; the configuration\n"
	"                           file's `compression` changes it) or zstd; the base\n"
	"                           image's layers are converted to it\n"
	"      --compression-level N  of the layers written: gzip 1-9 (default 6), zstd\n"
	"                           1-22 (default 3); part of the cache key\n"
	"      --no-cache           run every step (results still fill the cache)\n"
	"      --target STAGE       build up to the stage named STAGE (FROM ... AS STAGE)\n"
	"  -j, --jobs N             build up to N independent stages at once (default:\n"
	"                           the number of CPUs; their output is prefixed [stage])\n"
	"      --secret id=ID,src=FILE  a secret for RUN --mount=type=secret,id=ID (never\n"
	"                           stored in the image, its history or the cache)\n"
	"      --secret id=ID,env=VAR   the same, its value from the variable VAR (id=ID\n"
	"                           alone: the variable ID if set, else the file ID)\n"
	"      --memory N           memory limit for RUN steps (docker's units: b, k, m, g;\n"
	"                           no swap); a step killed at the limit exits 137\n"
	"      --cpus N.N           CPU limit for RUN steps (e.g. 0.5)\n"
	"      --pids-limit N       process limit for RUN steps\n"
	CLI_STEP_USAGE("RUN steps")
	"      --timestamp EPOCH    reproducible build: every time in the image is EPOCH and\n"
	"                           newer file times are clamped to it (default:\n"
	"                           $SOURCE_DATE_EPOCH when set)\n"
	"  -o, --output DEST        also write the image out, as docker buildx: DIR or\n"
	"                           type=local,dest=DIR (its files), type=tar,dest=FILE\n"
	"                           (the same as a tar; '-' or dest=- is stdout, the\n"
	"                           build's own output then goes to stderr),\n"
	"                           type=oci|docker,dest=FILE[,name=REF] (an image\n"
	"                           archive, named REF or by the -t tags); the image is\n"
	"                           stored as without -o\n"
	"      --build-context NAME=DIR  FROM NAME, COPY --from=NAME read the directory\n"
	"                           DIR (a context of its own, its own .dockerignore), or\n"
	"                           with NAME=docker-image://REF the image REF, in place\n"
	"                           of a stage or image of that name (repeatable)\n"
	CLI_BUILD_CACHE_USAGE
	"      --format oci|docker  the image's manifest and config media types (default:\n"
	"                           $BUILDAH_FORMAT, else oci); docker is v2 schema2 with\n"
	"                           gzip layers unless --compression says otherwise\n"
		"  -q, --quiet              print only the image id (sha256:...); RUN output is\n"
	"                           discarded, warnings and errors go to stderr\n"
	"      --progress MODE      auto (tty on a terminal, else plain), plain (a line per\n"
	"                           event, with step times), tty (a live line for the\n"
	"                           running step), quiet (as -q), rawjson (a JSON object\n"
	"                           per line, see BUILDFILE.md); default $BUILDKIT_PROGRESS\n"
	"      --iidfile FILE       write the image id to FILE\n"
	"      --label K=V          set a label on the image (repeatable; after LABEL)\n"
	"      --annotation K=V     set an annotation on the image's manifest (repeatable)\n"
	"      --pull[=WHEN]        pull FROM images: missing (default), always (--pull),\n"
	"                           never (a missing image fails the build)\n"
	"      --no-cache-filter STAGE[,STAGE]  run these stages' steps without the cache\n"
	"      --platform OS/ARCH[/VARIANT]  build for this platform (e.g. linux/arm64): its\n"
	"                           base images, config and TARGET* args; RUN steps of\n"
	"                           another architecture need a binfmt_misc emulator\n"
	"                           (Debian: qemu-user-static). A list (linux/amd64,\n"
	"                           linux/arm64) builds each and tags an image index\n"
	"  -q, --quiet              print only the image digest\n"
	"  -h, --help               show this help\n"
	"\n"
	"A FROM (or COPY --from) image missing from the store is pulled; for that:\n"
	CLI_REGISTRY_USAGE;

/* Long options without a short form (numbers no letter takes). */
enum { OPT_FORMAT = 0x761, OPT_BUILD_CONTEXT };

struct puller {
	struct cli_registry reg;
	bool quiet;
};

/* libcurl's process-wide set-up, once, when the build first needs a registry. */
static int registry_ready(cn_err *err)
{
	static bool ready;
	if (!ready && reg_global_init(err) < 0)
		return -1;
	ready = true;
	return 0;
}

static int pull_base(void *ctx, struct store *st, const char *image, cn_err *err)
{
	struct puller *p = ctx;
	struct reg_result res;
	struct cn_ref ref;
	if (cn_ref_parse(image, &ref, err) < 0)
		return -1;
	cn_ref_free(&ref);
	if (registry_ready(err) < 0)
		return -1;
	if (!p->quiet) {
		printf("pulling %s\n", cli_esc(image));
		fflush(stdout);
	}
	if (reg_pull(st, image, &p->reg.o, &res, err) < 0) {
		cli_registry_progress_end(&p->reg);
		return -1;
	}
	cli_registry_progress_end(&p->reg);
	reg_result_free(&res);
	return 0;
}

/* --cache-from: a base image's manifest and config alone (its layers may
 * all come from the cache, and only if a step needs them). */
static int resolve_base(void *ctx, struct store *st, const char *image, const char *platform,
			char manifest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	struct puller *p = ctx;
	struct reg_opts ro = p->reg.o;
	if (registry_ready(err) < 0)
		return -1;
	ro.platform = platform;
	ro.progress = NULL;
	return reg_pull_manifest(st, image, &ro, manifest, err);
}

/* pull_base for one platform: FROM picks that platform's image. */
static int pull_base_platform(void *ctx, struct store *st, const char *image, const char *platform, cn_err *err)
{
	struct puller *p = ctx;
	const char *saved = p->reg.o.platform;
	int r;
	p->reg.o.platform = platform;
	r = pull_base(ctx, st, image, err);
	p->reg.o.platform = saved;
	return r;
}

/* The default network, set up when the first RUN step that uses it runs
 * (once per process: a stage worker forked before that does it again, and
 * net_prepare is idempotent under its lock). */
static int network_ready(void *ctx, cn_err *err)
{
	static bool ready;
	enum sb_network *network = ctx;
	if (!ready && cli_network_prepare(*network, err) < 0)
		return -1;
	ready = true;
	return 0;
}

static void puller_free(struct puller *p)
{
	cli_registry_free(&p->reg);
}

static int parse_epoch(const char *s, long long *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 253402300799LL)   /* year 9999 */
		return -1;
	*out = v;
	return 0;
}

/* CONTEXT/Buildfile, then Dockerfile, then Containerfile. */
static char *default_buildfile(const char *context)
{
	static const char *const names[] = { "Buildfile", "Dockerfile", "Containerfile" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++) {
		char *p = strcmp(context, ".") == 0 ? cn_xstrdup(names[i])
						    : cn_xasprintf("%s/%s", context, names[i]);
		if (access(p, F_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* Long options without a letter (a range of their own: the other build
 * flags' helpers pick letters). */
enum {
	OPT_IIDFILE = 0x1700, OPT_LABEL, OPT_ANNOTATION, OPT_PULL, OPT_NO_CACHE_FILTER, OPT_PROGRESS,
	OPT_CACHE_FROM, OPT_CACHE_TO, OPT_COMPRESSION_LEVEL,
};

/* K=V for --label and --annotation: K not empty. */
static int add_kv(cn_strv *sv, const char *flag, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (eq == arg || !*arg)
		return cli_usage_error("build", "--%s: '%s' is not KEY=VALUE", flag, arg);
	if (eq) {
		_cleanup_free_ char *k = cn_xstrndup(arg, (size_t)(eq - arg));
		cn_env_set(sv, k, eq + 1);
	} else {
		cn_env_set(sv, arg, "");
	}
	return 0;
}

/* The Buildfile of a context from stdin or a URL, read from inside it
 * (docker takes -f there relative to the context); never through a link
 * that leaves it. */
static int context_buildfile(const struct bf_context *c, char **file, cn_buf *text, cn_err *err)
{
	static const char *const names[] = { "Buildfile", "Dockerfile", "Containerfile" };
	_cleanup_close_ int dir = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	if (dir < 0)
		return cn_err_sys(err, "open '%s'", c->dir);
	for (size_t i = 0; !*file && i < CN_ARRAY_SIZE(names); i++)
		if (faccessat(dir, names[i], F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			*file = cn_xstrdup(names[i]);
	if (!*file)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "no Buildfile, Dockerfile or Containerfile in the context");
	fd = cn_openat2(dir, **file == '/' ? *file + 1 : *file, O_RDONLY | O_NOCTTY | O_NONBLOCK, RESOLVE_BENEATH);
	if (fd < 0)
		return cn_err_sys(err, "the Buildfile '%s' in the context", *file);
	return cn_read_fd(fd, *file, 16u << 20, text, err);
}

int cmd_build(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "tag", required_argument, NULL, 't' },
		{ "build-arg", required_argument, NULL, 'a' },
		{ "network", required_argument, NULL, 'n' },
		{ "compression", required_argument, NULL, 'c' },
		{ "compression-level", required_argument, NULL, OPT_COMPRESSION_LEVEL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-cache", no_argument, NULL, 'N' },
		{ "target", required_argument, NULL, 'G' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "secret", required_argument, NULL, 'S' },
		{ "timestamp", required_argument, NULL, 'T' },
		CLI_REGISTRY_OPTIONS,
		{ "memory", required_argument, NULL, 'M' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "pids-limit", required_argument, NULL, 'P' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "build-context", required_argument, NULL, OPT_BUILD_CONTEXT },
		CLI_STEP_OPTIONS,
		{ "iidfile", required_argument, NULL, OPT_IIDFILE },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "annotation", required_argument, NULL, OPT_ANNOTATION },
		{ "pull", optional_argument, NULL, OPT_PULL },
		{ "no-cache-filter", required_argument, NULL, OPT_NO_CACHE_FILTER },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "cache-from", required_argument, NULL, OPT_CACHE_FROM },
		{ "cache-to", required_argument, NULL, OPT_CACHE_TO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_build_output output __attribute__((cleanup(cli_build_output_free))) = { .stdout_fd = -1 };
	struct cli_build_cache cache __attribute__((cleanup(cli_build_cache_free))) = { .nfrom = 0 };
	struct bf_build_opts o = { .compression = LAYER_GZIP, .network = cli_network_default(), .timestamp = -1 };
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	struct cli_progress progress;
	struct sb_limits limits = { 0 };
	struct cli_step_opts step __attribute__((cleanup(cli_step_opts_free))) = { .nrlimits = 0 };
	_cleanup_strv_ cn_strv tags = { 0 };
	_cleanup_strv_ cn_strv platforms = { 0 };  /* o.platform borrows one */
	_cleanup_strv_ cn_strv secrets = { 0 };    /* o.secrets borrows it */
	_cleanup_strv_ cn_strv secret_envs = { 0 };    /* o.secret_envs borrows it */
	_cleanup_strv_ cn_strv build_args = { 0 }; /* o.build_args borrows it */
	_cleanup_strv_ cn_strv contexts = { 0 };   /* o.contexts borrows it */
	_cleanup_free_ char *file = NULL;
	struct bf_build_result res;
	struct puller puller __attribute__((cleanup(puller_free)));
	_cleanup_strv_ cn_strv labels = { 0 };     /* o.labels borrows it */
	_cleanup_strv_ cn_strv annotations = { 0 };        /* o.annotations borrows it */
	_cleanup_strv_ cn_strv nocache_stages = { 0 };     /* o.no_cache_stages borrows it */
	_cleanup_buf_ cn_buf stdin_file;           /* -f - */
	struct bf_context bctx = { .td.fd = -1 };
	enum cli_progress_mode mode = CLI_PROGRESS_AUTO;
	bool mode_set = false;
	const char *iidfile = NULL;
	struct store st;
	cn_err err;
	int c, rc = 0, built;
	bool format_given = false, compression_given = false;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.jobs = ncpu > 0 ? (size_t)ncpu : 1;
	cli_registry_init(&puller.reg, false);
	puller.quiet = false;
	cn_buf_init(&stdin_file, 0);
	if (cli_compression_default(&o.compression) != 0)
		return EXIT_FAIL;
	opterr = 0;     /* an unknown flag is named below, once */
	while ((c = getopt_long(argc, argv, ":f:t:j:o:qh", opts, NULL)) != -1) {
		int r = cli_registry_opt(&puller.reg, "build", c, optarg);
		if (r == 0)
			r = cli_step_opt("build", c, optarg, &step);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'f':
			free(file);
			file = cn_xstrdup(optarg);
			break;
		case 't': {
			char *norm = store_ref_normalize(optarg, &err);
			if (!norm)
				return cli_usage_error("build", "--tag: %s", err.msg);
			cn_strv_push(&tags, norm);
			break;
		}
		case 'a':
			if (strchr(optarg, '=')) {
				/* A copy: argv stays as typed (ps shows it). */
				_cleanup_free_ char *name = cn_xstrdup(optarg);
				char *eq = strchr(name, '=');
				*eq = '\0';
				cn_env_set(&build_args, name, eq + 1);
			} else if (getenv(optarg)) {
				cn_env_set(&build_args, optarg, getenv(optarg));
			}
			break;
		case 'n':
			if (cli_network_parse(optarg, false, &o.network) < 0)
				return cli_usage_error("build", "--network: '%s' is not default, host or none",
						       optarg);
			break;
		case 'c':
			if (layer_compression_parse(optarg, &o.compression) < 0)
				return cli_usage_error("build", "--compression: '%s' is not zstd or gzip", optarg);
			compression_given = true;
			break;
		case OPT_COMPRESSION_LEVEL:
			if (cli_compression_level_parse("build", optarg, &o.compression_level) < 0)
				return EXIT_USAGE;
			break;
		case 'q':
			mode = CLI_PROGRESS_QUIET;
			mode_set = true;
			break;
		case OPT_PROGRESS:
			if (cli_progress_parse(optarg, &mode) < 0)
				return cli_usage_error("build", "--progress: '%s' is not auto, plain, tty, quiet or rawjson",
						       optarg);
			mode_set = true;
			break;
		case OPT_IIDFILE:
			iidfile = optarg;
			break;
		case OPT_LABEL:
		case OPT_ANNOTATION:
			if (add_kv(c == OPT_LABEL ? &labels : &annotations, c == OPT_LABEL ? "label" : "annotation",
				   optarg))
				return EXIT_USAGE;
			break;
		case OPT_PULL:
			if (!optarg || !strcmp(optarg, "always") || !strcmp(optarg, "true"))
				o.pull_policy = BF_PULL_ALWAYS;
			else if (!strcmp(optarg, "missing") || !strcmp(optarg, "false"))
				o.pull_policy = BF_PULL_MISSING;
			else if (!strcmp(optarg, "never"))
				o.pull_policy = BF_PULL_NEVER;
			else
				return cli_usage_error("build", "--pull: '%s' is not always, missing or never", optarg);
			break;
		case OPT_NO_CACHE_FILTER: {
			_cleanup_free_ char *copy = cn_xstrdup(optarg);
			char *save = NULL;
			for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save))
				cn_strv_pushdup(&nocache_stages, n);
			break;
		}
		case 'N':
			o.no_cache = true;
			break;
		case 'G':
			o.target = optarg;
			break;
		case 'j': {
			char *end;
			unsigned long j = strtoul(optarg, &end, 10);
			if (*end || end == optarg || j < 1 || j > 64)
				return cli_usage_error("build", "--jobs: '%s' is not a number from 1 to 64", optarg);
			o.jobs = j;
			break;
		}
		case 'S': {
			/* id=ID,src=FILE | id=ID,env=VAR, as docker: source= too,
			 * type=file|env, and id alone names a variable if one is set,
			 * else a file. Only the name of a variable reaches argv. */
			_cleanup_free_ char *copy = cn_xstrdup(optarg);
			char *save = NULL, *id = NULL, *src = NULL, *var = NULL, *type = NULL;
			for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
				if (!strncmp(kv, "id=", 3))
					id = kv + 3;
				else if (!strncmp(kv, "src=", 4))
					src = kv + 4;
				else if (!strncmp(kv, "source=", 7))
					src = kv + 7;
				else if (!strncmp(kv, "env=", 4))
					var = kv + 4;
				else if (!strncmp(kv, "type=", 5))
					type = kv + 5;
				else
					return cli_usage_error("build", "--secret: unknown option '%s' "
							       "(id=ID,src=FILE or id=ID,env=VAR)", kv);
			}
			if (type && strcmp(type, "file") && strcmp(type, "env"))
				return cli_usage_error("build", "--secret: type=%s: expected file or env", type);
			if ((src && var) || (type && ((!strcmp(type, "env") && src) || (!strcmp(type, "file") && var))))
				return cli_usage_error("build", "--secret: a secret comes from a file or a variable, "
						       "not both");
			if (!id && src && !var)
				id = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
			if (!id && var)
				id = var;
			if (!id || !*id)
				return cli_usage_error("build", "--secret needs id=ID,src=FILE or id=ID,env=VAR");
			if (!src && !var) {
				if (type ? !strcmp(type, "env") : getenv(id) != NULL)
					var = id;
				else
					src = id;
			}
			if ((src && !*src) || (var && !*var))
				return cli_usage_error("build", "--secret: an empty src= or env=");
			if (var) {
				cn_env_set(&secret_envs, id, var);
				cn_env_set(&secrets, id, "");   /* the last --secret for an id wins */
			} else {
				cn_env_set(&secrets, id, src);
				cn_env_set(&secret_envs, id, "");
			}
			break;
		}
		case 'T':
			if (parse_epoch(optarg, &o.timestamp) < 0)
				return cli_usage_error("build", "--timestamp: '%s' is not seconds since 1970", optarg);
			break;
		case 'M':
		case 'C':
		case 'P':
			if (cli_parse_limit(c, optarg, &limits) < 0)
				return cli_usage_error("build", "--%s: '%s' is not a valid limit",
						       c == 'M' ? "memory" : c == 'C' ? "cpus" : "pids-limit", optarg);
			break;
		case OPT_BUILD_CONTEXT:
			if (bf_named_ctx_check(optarg, &err) < 0)
				return cli_usage_error("build", "%s", err.msg);
			cn_strv_pushdup(&contexts, optarg);
			break;
		case OPT_FORMAT:
			if (bf_format_parse(optarg, "--format", &o.format, &err) < 0)
				return cli_usage_error("build", "%s", err.msg);
			format_given = true;
			break;
		case 'o':
			if (cli_build_output_parse(&output, optarg, &err) < 0)
				return cli_usage_error("build", "%s", err.msg);
			break;
		case OPT_CACHE_FROM:
		case OPT_CACHE_TO:
			if ((rc = cli_build_cache_flag(&cache, c == OPT_CACHE_TO, optarg)) != 0)
				return rc;
			break;
		case 'h':
			fputs(build_usage, stdout);
			return 0;
		case ':':
			if (optopt && optopt < 0x100)
				return cli_usage_error("build", "flag needs an argument: -%c", optopt);
			return cli_usage_error("build", "flag needs an argument: %s", argv[optind - 1]);
		default:
			if (optopt && optopt < 0x100)
				return cli_usage_error("build", "unknown flag: -%c", optopt);
			return cli_usage_error("build", "unknown flag: %s", argv[optind - 1]);
		}
	}
	/* As buildah: BUILDAH_FORMAT when --format is not given. A docker image
	 * has gzip layers (schema2 has no zstd type before docker 23). */
	if (!format_given && getenv("BUILDAH_FORMAT") && *getenv("BUILDAH_FORMAT") &&
	    bf_format_parse(getenv("BUILDAH_FORMAT"), "BUILDAH_FORMAT", &o.format, &err) < 0)
		return cli_usage_error("build", "%s", err.msg);
	if (o.format == BF_FORMAT_DOCKER && !compression_given)
		o.compression = LAYER_GZIP;
	if ((rc = cli_build_cache_compression(&cache, compression_given, &o.compression)) != 0)
		return rc;
	if (cli_compression_level_check("build", o.compression, o.compression_level) < 0)
		return EXIT_USAGE;
	if (!mode_set && getenv("BUILDKIT_PROGRESS") && *getenv("BUILDKIT_PROGRESS") &&
	    cli_progress_parse(getenv("BUILDKIT_PROGRESS"), &mode) < 0)
		return cli_usage_error("build", "BUILDKIT_PROGRESS: '%s' is not auto, plain, tty, quiet or rawjson",
				       getenv("BUILDKIT_PROGRESS"));
	if (o.timestamp < 0 && sde && *sde && parse_epoch(sde, &o.timestamp) < 0) {
		fprintf(stderr, "error: SOURCE_DATE_EPOCH='%s' is not seconds since 1970\n", sde);
		return EXIT_USAGE;
	}
	/* FROM pulls and loads base images: CAIRN_MAX_LAYER_SIZE applies to them. */
	if ((rc = cli_max_layer_size("build", NULL)) != 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error("build", "expected one build context, got %d", argc - optind);
	o.context = optind < argc ? argv[optind] : ".";
	bool special = !strcmp(o.context, "-") || bf_context_is_url(o.context);
	if (bf_context_is_git(o.context)) {
		fprintf(stderr, "error: not supported: git context '%s' (clone it and build the directory)\n",
			cli_esc(o.context));
		return EXIT_FAIL;
	}
	if (file && !strcmp(file, "-")) {
		if (!strcmp(o.context, "-"))
			return cli_usage_error("build", "stdin cannot be both the Buildfile (-f -) and the context (-)");
		if (bf_read_stream(STDIN_FILENO, "the Buildfile on stdin", 16u << 20, &stdin_file, &err) < 0)
			return cli_fail(&err);
		free(file);
		file = cn_xstrdup("<stdin>");
		o.buildfile_text = stdin_file.data;
		o.buildfile_len = stdin_file.len;
	}
	if (!file && !special)
		file = default_buildfile(o.context);
	if (!file && !special) {
		fprintf(stderr, "error: no Buildfile, Dockerfile or Containerfile in '%s' (use -f)\n",
			o.context);
		return EXIT_FAIL;
	}
	o.buildfile = file;
	o.limits = sb_limits_any(&limits) ? &limits : NULL;
	if (o.limits && sb_cgroup_prepare(o.limits, &err) < 0)
		return cli_fail(&err);
	if (cli_step_host_gateway(&step, &err) < 0)
		return cli_fail(&err);
	o.add_hosts = &step.add_hosts;
	o.rlimits = step.rlimits;
	o.nrlimits = step.nrlimits;
	o.shm_size = step.shm_size;
	o.secrets = secrets;
	o.secret_envs = secret_envs;
	o.build_args = build_args;
	o.contexts = contexts;
	o.labels = labels;
	o.annotations = annotations;
	o.no_cache_stages = nocache_stages;
	/* Before the live view takes stdout over: with -o - the real stdout is
	 * kept for the archive and the build prints to stderr. */
	/* --platform (the registry options keep it for pulls) is what is built;
	 * a list is a multi-platform image, whose FROMs pull per platform. */
	if ((rc = cli_build_platforms("build", puller.reg.o.platform, &platforms)) != 0)
		return rc;
	if (platforms.n > 1)
		puller.reg.o.platform = NULL;
	if (cli_build_output_prepare(&output, &err) < 0)
		return cli_fail(&err);
	cli_progress_start(&progress, mode);
	/* -q: step output goes nowhere, as docker's; rawjson: stdout is JSON. */
	o.out_fd = mode == CLI_PROGRESS_QUIET ? open("/dev/null", O_WRONLY | O_CLOEXEC)
		   : mode == CLI_PROGRESS_RAWJSON ? STDERR_FILENO : STDOUT_FILENO;
	if (o.out_fd < 0)
		o.out_fd = STDERR_FILENO;       /* no /dev/null: better stderr than stdout */
	o.err_fd = mode == CLI_PROGRESS_QUIET ? o.out_fd : STDERR_FILENO;
	if (progress.ticking)
		o.err_fd = STDOUT_FILENO;       /* the live view shows both streams, in order */
	o.relay_raw = mode == CLI_PROGRESS_RAWJSON;
	o.on_event = cli_progress_event;
	o.event_ctx = &progress;
	puller.quiet = puller.reg.quiet = mode == CLI_PROGRESS_QUIET || mode == CLI_PROGRESS_RAWJSON;
	o.pull = pull_base;
	o.pull_platform = pull_base_platform;
	o.resolve = resolve_base;
	o.pull_ctx = &puller;
	o.network_prepare = network_ready;
	o.network_ctx = &o.network;
	if (cli_open_store(cli, &st) < 0) {
		cli_progress_stop(&progress);
		if (o.out_fd > STDERR_FILENO)
			close(o.out_fd);
		return EXIT_FAIL;
	}
	cn_interrupt_install();
	if (special && (!strcmp(o.context, "-") ? bf_context_from_fd(&st, STDIN_FILENO, &bctx, &err)
						: bf_context_from_url(&st, o.context, &bctx, &err)) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (special && bctx.buildfile_text && !o.buildfile_text) {
		free(file);
		file = cn_xstrdup("<stdin>");
		o.buildfile_text = bctx.buildfile_text;
		o.buildfile_len = bctx.buildfile_len;
	} else if (special && !o.buildfile_text) {
		if (context_buildfile(&bctx, &file, &stdin_file, &err) < 0) {
			rc = cli_fail(&err);
			goto out;
		}
		o.buildfile_text = stdin_file.data;
		o.buildfile_len = stdin_file.len;
	}
	if (special) {
		o.context = bctx.dir;
		o.buildfile = file;
	}
	/* Held until the tags are set: prune must not take what this build makes. */
	if (store_gc_lock(&st, false, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	cli_build_cache_prepare(&cache, &st, &puller.reg.o, &o);
	built = cli_build_each(&st, &o, &platforms, puller.quiet, &res, &err);
	/* An imported layer that would not come: the steps it served are built. */
	if (built < 0 && !cn_err_is(&err, CN_ERR_INTERRUPTED) && cli_build_cache_retry(&cache, &o))
		built = cli_build_each(&st, &o, &platforms, puller.quiet, &res, &err);
	if (built < 0) {
		cli_progress_stop(&progress);   /* the error below the last line, not on it */
		rc = cli_fail(&err);
		cli_rootless_note(&err);
		goto out;
	}
	for (size_t i = 0; i < tags.n; i++) {
		if (cn_interrupted()) {
			rc = EXIT_FAIL;
			fprintf(stderr, "error: interrupted\n");
			goto out;
		}
		if (store_tag_set(&st, tags.v[i], res.manifest_digest, res.manifest_size, "build", &err) < 0) {
			rc = cli_fail(&err);
			goto out;
		}
	}
	if (cli_build_output_write(&output, &st, res.manifest_digest, &tags, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (iidfile && cn_write_file_atomic(AT_FDCWD, iidfile, res.image_id, strlen(res.image_id), 0644, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (cli_build_cache_finish(&cache, &st, puller.quiet, &err) < 0) {
		cli_progress_stop(&progress);
		rc = cli_fail(&err);
		goto out;
	}
	cli_progress_image(&progress, res.image_id, res.manifest_digest, tags.v, tags.n);
out:
	cli_progress_stop(&progress);
	if (o.out_fd > STDERR_FILENO)
		close(o.out_fd);
	bf_context_free(&st, &bctx);
	if (cn_interrupted() && rc != 0)
		rc = 128 + cn_interrupt_signal();
	store_close(&st);
	return rc;
}
