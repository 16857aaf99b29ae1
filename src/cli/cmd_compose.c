/* cairn compose: the Compose Specification's multi-container projects.
 * This file: the global options, loading the project, the children, the
 * project's containers and `compose config`; the other commands are in
 * cmd_compose_{build,up,ops}.c. */
#include "cli/compose_cmd.h"
#include "store/image.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/ref.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char compose_usage[] =
	"usage: cairn compose [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Build and run a multi-container application described by a compose file\n"
	"(the Compose Specification: compose.yaml, compose.yml, docker-compose.yml,\n"
	"docker-compose.yaml, plus compose.override.yml when present). Containers are\n"
	"named PROJECT-SERVICE-1 and labelled as docker compose labels them; each\n"
	"project gets its own network (PROJECT_default) where services find each\n"
	"other by name. Rootless, every service uses the host's network.\n"
	"\n"
	"Options:\n"
	"  -f, --file FILE          a compose file (repeatable: later files merge into\n"
	"                           earlier ones)\n"
	"  -p, --project-name NAME  the project's name (default: COMPOSE_PROJECT_NAME,\n"
	"                           the file's name:, or the directory's name)\n"
	"      --project-directory DIR  the working directory (default: the first\n"
	"                           file's directory)\n"
	"      --env-file FILE      variables for interpolation (default: DIR/.env)\n"
	"      --profile P          enable services of profile P (repeatable)\n"
	"  -h, --help               show this help\n"
	"\n"
	"Commands:\n"
	"  build [--jobs N] [--no-cache] [--pull] [SERVICE...]\n"
	"        build the services' images: one that is FROM another service's image\n"
	"        waits for it, the others build in parallel (N at a time, default: the\n"
	"        CPUs); each output line is prefixed by its service\n"
	"  up [-d] [--build] [--no-build] [--force-recreate] [--wait] [SERVICE...]\n"
	"        networks, volumes, then containers in depends_on order (waiting for\n"
	"        service_healthy and service_completed_successfully); a container whose\n"
	"        configuration is unchanged keeps running. Without -d: the logs until\n"
	"        every container ends, or Ctrl-C stops them\n"
	"  down [-v] [--remove-orphans] [-t N]\n"
	"        stop (in reverse order) and remove the containers, then the networks\n"
	"        (not external ones); -v: the named volumes too\n"
	"  ps [-a] [-q] [--services]   the project's containers\n"
	"  logs [-f] [--tail N] [--no-log-prefix] [SERVICE...]\n"
	"        the containers' output, each line prefixed by its container\n"
	"  exec [-T] [-d] [-e K=V] [-u USER] [-w DIR] SERVICE COMMAND [ARG...]\n"
	"        run a command in a service's running container (-T: no terminal)\n"
	"  run [--rm] [-d] [-T] [-e K=V] [--name NAME] [--no-deps] [--entrypoint CMD]\n"
	"      SERVICE [COMMAND [ARG...]]\n"
	"        a one-off container of SERVICE, after starting what it depends on\n"
	"  stop [-t N] [SERVICE...]    stop containers (reverse depends_on order)\n"
	"  start [SERVICE...]          start stopped containers again (a cairn\n"
	"                              container starts afresh from its image)\n"
	"  restart [-t N] [SERVICE...] stop, then start\n"
	"  rm [-s] [SERVICE...]        remove stopped containers (-s: stop them first)\n"
	"  pull [SERVICE...]           pull the images of services without build:\n"
	"  push [SERVICE...]           push the images services build\n"
	"  config [--services | --volumes | --networks | --images]\n"
	"        the resolved model as JSON (which is YAML), or the names\n";

/* ---- children ---- */

void cc_argv(struct cc *c, cn_strv *argv)
{
	cn_strv_pushdup(argv, "cairn");
	cn_strv_pushdup(argv, "--root");
	cn_strv_pushdup(argv, c->cli->root);
}

/* fork and exec ARGV with stdout on OUT_FD and stderr on ERR_FD (-1: ours).
 * PDEATH: the child gets SIGTERM when compose dies (kill -9 included). */
static pid_t spawn(cn_strv *argv, int out_fd, int err_fd, bool pdeath)
{
	char **v = cn_strv_array(argv);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "error: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* a parent that died before prctl: nothing would signal it */
		if (pdeath && (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent))
			_exit(128 + SIGTERM);
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			_exit(127);
		if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)
			_exit(127);
		execv("/proc/self/exe", v);
		fprintf(stderr, "error: exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cc_run(struct cc *c, cn_strv *argv, enum cc_out out, char **capture)
{
	int p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 }, devnull = -1, rc;
	cn_buf ob, eb;
	pid_t pid;
	(void)c;
	cn_buf_init(&ob, 0);
	cn_buf_init(&eb, 0);
	if (out == CC_SILENT && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((capture || out != CC_INHERIT) && pipe2(p_out, O_CLOEXEC) < 0)
		goto pipe_fail;
	if (out == CC_QUIET && pipe2(p_err, O_CLOEXEC) < 0)
		goto pipe_fail;
	pid = spawn(argv, capture || out == CC_QUIET ? p_out[1] : devnull,
		    out == CC_QUIET ? p_err[1] : devnull, false);
	if (p_out[1] >= 0)
		close(p_out[1]);
	if (p_err[1] >= 0)
		close(p_err[1]);
	if (devnull >= 0)
		close(devnull);
	if (pid < 0) {
		if (p_out[0] >= 0)
			close(p_out[0]);
		if (p_err[0] >= 0)
			close(p_err[0]);
		return -1;
	}
	/* Both pipes at once: a child filling one while we block on the other
	 * would never finish. */
	for (;;) {
		struct pollfd pf[2] = { { .fd = p_out[0], .events = POLLIN }, { .fd = p_err[0], .events = POLLIN } };
		char buf[8192];
		if (pf[0].fd < 0 && pf[1].fd < 0)
			break;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			n = read(pf[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pf[i].fd);
				*(i ? &p_err[0] : &p_out[0]) = -1;
				continue;
			}
			if (cn_buf_add(i ? &eb : &ob, buf, (size_t)n) < 0)
				cn_fatal("buffer");
		}
	}
	rc = wait_status(pid);
	if (rc != 0 && out == CC_QUIET) {
		fwrite(eb.data, 1, eb.len, stderr);
		if (!capture)
			fwrite(ob.data, 1, ob.len, stderr);
	}
	if (capture)
		*capture = cn_buf_detach(&ob);
	cn_buf_free(&ob);
	cn_buf_free(&eb);
	return rc;
pipe_fail:
	fprintf(stderr, "error: pipe: %s\n", strerror(errno));
	if (devnull >= 0)
		close(devnull);
	if (p_out[0] >= 0)
		close(p_out[0]), close(p_out[1]);
	return -1;
}

pid_t cc_spawn_piped(struct cc *c, cn_strv *argv, int *fd)
{
	int p[2];
	pid_t pid;
	(void)c;
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "error: pipe: %s\n", strerror(errno));
		return -1;
	}
	pid = spawn(argv, p[1], p[1], true);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*fd = p[0];
	return pid;
}

int cc_exec(struct cc *c, cn_strv *argv)
{
	(void)c;
	fflush(NULL);
	execv("/proc/self/exe", cn_strv_array(argv));
	fprintf(stderr, "error: exec /proc/self/exe: %s\n", strerror(errno));
	return EXIT_FAIL;
}

void cc_print_lines(const char *prefix, char *buf, size_t *len, bool flush)
{
	size_t start = 0;
	for (size_t i = 0; i < *len; i++) {
		if (buf[i] != '\n')
			continue;
		printf("%s%.*s\n", prefix, (int)(i - start), buf + start);
		start = i + 1;
	}
	if (flush && start < *len) {
		printf("%s%.*s\n", prefix, (int)(*len - start), buf + start);
		start = *len;
	}
	memmove(buf, buf + start, *len - start);
	*len -= start;
	fflush(stdout);
}

/* ---- the project's containers ---- */

const char *cc_label(const struct ctr_state *s, const char *key)
{
	return ctr_label(s, key);
}

int cc_containers(struct cc *c, struct ctr_state **list, size_t *n, bool oneoff)
{
	struct store st;
	cn_err err;
	size_t k = 0;
	if (cli_open_store(c->cli, &st) < 0)
		return -1;
	if (ctr_list(&st, list, n, &err) < 0) {
		store_close(&st);
		return cli_fail(&err), -1;
	}
	store_close(&st);
	for (size_t i = 0; i < *n; i++) {
		const char *proj = cc_label(&(*list)[i], CC_LABEL_PROJECT);
		const char *one = cc_label(&(*list)[i], CC_LABEL_ONEOFF);
		if (proj && !strcmp(proj, c->p.name) && (oneoff || !one || strcmp(one, "True")))
			(*list)[k++] = (*list)[i];
		else
			ctr_state_free(&(*list)[i]);
	}
	*n = k;
	return 0;
}

char *cc_container_name(const struct cc *c, const struct cmp_service *svc)
{
	if (svc->container_name)
		return cn_xstrdup(svc->container_name);
	return cn_xasprintf("%s-%s-1", c->p.name, svc->name);
}

char *cc_image_name(const struct cc *c, const struct cmp_service *svc)
{
	if (svc->image)
		return cn_xstrdup(svc->image);
	return cn_xasprintf("%s-%s", c->p.name, svc->name);
}

void cc_push2(cn_strv *v, const char *flag, const char *val)
{
	cn_strv_pushdup(v, flag);
	cn_strv_pushdup(v, val);
}

void cc_push_each(cn_strv *v, const char *flag, const cn_strv *vals)
{
	for (size_t i = 0; i < vals->n; i++)
		cc_push2(v, flag, vals->v[i]);
}

int cc_parse_timeout(const char *arg, long *out)
{
	char *end;
	*out = strtol(arg, &end, 10);
	if (end == arg || *end || *out < 0 || *out > 86400)
		return cli_usage_error("compose", "-t: '%s' is not a number of seconds", arg);
	return 0;
}

void cc_image_digest(struct cc *c, const char *ref, char out[CN_DIGEST_STR_SIZE])
{
	struct store st;
	struct store_image img = { 0 };
	cn_err err;
	out[0] = '\0';
	if (cli_open_store(c->cli, &st) < 0)
		return;
	if (store_image_load(&st, ref, &img, &err) > 0) {
		snprintf(out, CN_DIGEST_STR_SIZE, "%s", img.manifest_digest);
		store_image_free(&img);
	}
	store_close(&st);
}

int cc_depends_order(struct cc *c, size_t *order)
{
	struct cmp_graph g;
	cn_err err;
	if (cc_depends_graph(c, &g, &err) < 0)
		return cli_fail(&err), -1;
	(void)cmp_graph_order(&g, true, order, &err);
	cmp_graph_free(&g);
	return 0;
}

int cc_depends_graph(struct cc *c, struct cmp_graph *g, cn_err *err)
{
	_cleanup_free_ size_t *order = cn_xcalloc(c->p.nservices + 1, sizeof(*order));
	cmp_graph_init(g, c->p.nservices);
	for (size_t i = 0; i < c->p.nservices; i++) {
		const struct cmp_service *s = &c->p.services[i];
		cmp_graph_name(g, i, s->name);
		for (size_t k = 0; k < s->ndepends; k++)
			/* required: false on a service that is not in the project
			 * (a profile not enabled) is no error, as in compose */
			if (s->depends_on[k].required || cmp_service_find(&c->p, s->depends_on[k].service))
				cmp_graph_need(g, i, s->depends_on[k].service);
	}
	if (cmp_graph_order(g, true, order, err) < 0) {
		cmp_graph_free(g);
		return -1;
	}
	return 0;
}

int cc_select(struct cc *c, char **args, int nargs, bool closure, bool *sel)
{
	struct cmp_graph g;
	cn_err err;
	for (size_t i = 0; i < c->p.nservices; i++)
		sel[i] = nargs == 0;
	for (int a = 0; a < nargs; a++) {
		bool found = false;
		for (size_t i = 0; i < c->p.nservices; i++)
			if (!strcmp(c->p.services[i].name, args[a]))
				sel[i] = found = true;
		if (!found) {
			fprintf(stderr, "error: no such service: %s\n", cli_esc(args[a]));
			return -1;
		}
	}
	if (!closure || nargs == 0)
		return 0;
	if (cc_depends_graph(c, &g, &err) < 0)
		return cli_fail(&err), -1;
	cmp_graph_closure(&g, sel);
	cmp_graph_free(&g);
	return 0;
}

/* ---- config ---- */

static json_t *strv_json(const cn_strv *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->v[i]));
	return a;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void set_strv(json_t *o, const char *key, const cn_strv *v)
{
	if (v->n)
		json_object_set_new(o, key, strv_json(v));
}

static json_t *build_json(const struct cmp_build *b)
{
	json_t *o = json_object();
	set_str(o, "context", b->context);
	set_str(o, "dockerfile", b->dockerfile);
	set_str(o, "dockerfile_inline", b->dockerfile_inline);
	set_strv(o, "args", &b->args);
	set_str(o, "target", b->target);
	set_strv(o, "tags", &b->tags);
	set_strv(o, "labels", &b->labels);
	set_strv(o, "secrets", &b->secrets);
	set_strv(o, "cache_from", &b->cache_from);
	set_strv(o, "cache_to", &b->cache_to);
	set_str(o, "network", b->network);
	set_strv(o, "additional_contexts", &b->additional_contexts);
	set_str(o, "platform", b->platform);
	if (b->no_cache)
		json_object_set_new(o, "no_cache", json_true());
	if (b->pull)
		json_object_set_new(o, "pull", json_true());
	return o;
}

static json_t *service_json(const struct cc *c, const struct cmp_service *s)
{
	static const char *const conds[] = { [CMP_COND_STARTED] = "service_started",
					     [CMP_COND_HEALTHY] = "service_healthy",
					     [CMP_COND_COMPLETED] = "service_completed_successfully" };
	json_t *o = json_object();
	_cleanup_free_ char *image = cc_image_name(c, s);
	set_str(o, "image", image);
	if (s->build)
		json_object_set_new(o, "build", build_json(s->build));
	if (s->has_command)
		json_object_set_new(o, "command", strv_json(&s->command));
	if (s->has_entrypoint)
		json_object_set_new(o, "entrypoint", strv_json(&s->entrypoint));
	set_strv(o, "environment", &s->environment);
	set_str(o, "working_dir", s->working_dir);
	set_str(o, "user", s->user);
	set_str(o, "hostname", s->hostname);
	set_str(o, "container_name", s->container_name);
	set_str(o, "restart", s->restart);
	set_str(o, "stop_signal", s->stop_signal);
	if (s->stop_grace_period_ns >= 0)
		json_object_set_new(o, "stop_grace_period_ns", json_integer(s->stop_grace_period_ns));
	set_strv(o, "volumes", &s->volumes);
	set_strv(o, "mounts", &s->mounts);
	set_strv(o, "tmpfs", &s->tmpfs);
	set_strv(o, "ports", &s->ports);
	set_strv(o, "cap_add", &s->cap_add);
	set_strv(o, "cap_drop", &s->cap_drop);
	if (s->read_only)
		json_object_set_new(o, "read_only", json_true());
	set_str(o, "network_mode", s->network_mode);
	if (s->nnetworks) {
		json_t *n = json_object();
		for (size_t i = 0; i < s->nnetworks; i++) {
			json_t *e = json_object();
			set_strv(e, "aliases", &s->networks[i].aliases);
			json_object_set_new(n, s->networks[i].key, e);
		}
		json_object_set_new(o, "networks", n);
	}
	if (s->ndepends) {
		json_t *d = json_object();
		for (size_t i = 0; i < s->ndepends; i++)
			json_object_set_new(d, s->depends_on[i].service,
					    json_pack("{s:s, s:b}", "condition", conds[s->depends_on[i].condition],
						      "required", s->depends_on[i].required));
		json_object_set_new(o, "depends_on", d);
	}
	if (s->health.set) {
		json_t *h = json_object();
		if (s->health.disable)
			json_object_set_new(h, "disable", json_true());
		json_object_set_new(h, "test", strv_json(&s->health.test));
		json_object_set_new(h, "shell", json_boolean(s->health.shell));
		if (s->health.interval_ns >= 0)
			json_object_set_new(h, "interval_ns", json_integer(s->health.interval_ns));
		if (s->health.timeout_ns >= 0)
			json_object_set_new(h, "timeout_ns", json_integer(s->health.timeout_ns));
		if (s->health.start_period_ns >= 0)
			json_object_set_new(h, "start_period_ns", json_integer(s->health.start_period_ns));
		if (s->health.retries >= 0)
			json_object_set_new(h, "retries", json_integer(s->health.retries));
		json_object_set_new(o, "healthcheck", h);
	}
	if (s->mem_limit)
		json_object_set_new(o, "mem_limit", json_integer(s->mem_limit));
	set_str(o, "cpus", s->cpus);
	if (s->pids_limit)
		json_object_set_new(o, "pids_limit", json_integer(s->pids_limit));
	set_strv(o, "extra_hosts", &s->extra_hosts);
	set_strv(o, "dns", &s->dns);
	set_strv(o, "labels", &s->labels);
	set_strv(o, "profiles", &s->profiles);
	set_str(o, "platform", s->platform);
	return o;
}

static int cmd_config(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "services", no_argument, NULL, 's' },
		{ "volumes", no_argument, NULL, 'v' },
		{ "networks", no_argument, NULL, 'n' },
		{ "images", no_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int what = 0, ch;
	json_t *root, *svcs, *nets, *vols;
	char *text;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': case 'v': case 'n': case 'i':
			what = ch;
			break;
		case 'F':
			if (strcmp(optarg, "json") && strcmp(optarg, "yaml"))
				return cli_usage_error("compose config", "--format: '%s' is not json or yaml", optarg);
			break;
		case 'h':
			fputs(compose_usage, stdout);
			return 0;
		default:
			return cli_usage_error("compose", "invalid option");
		}
	}
	if (what) {
		size_t n = what == 'n' ? c->p.nnetworks : what == 'v' ? c->p.nvolumes : c->p.nservices;
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *img = what == 'i' ? cc_image_name(c, &c->p.services[i]) : NULL;
			printf("%s\n", cli_esc(what == 'n'   ? c->p.networks[i].key
					       : what == 'v' ? c->p.volumes[i].key
					       : what == 'i' ? img
							     : c->p.services[i].name));
		}
		return 0;
	}
	root = json_object();
	set_str(root, "name", c->p.name);
	svcs = json_object();
	for (size_t i = 0; i < c->p.nservices; i++)
		json_object_set_new(svcs, c->p.services[i].name, service_json(c, &c->p.services[i]));
	json_object_set_new(root, "services", svcs);
	nets = json_object();
	for (size_t i = 0; i < c->p.nnetworks; i++) {
		const struct cmp_network *n = &c->p.networks[i];
		json_t *o = json_pack("{s:s}", "name", n->name);
		if (n->external)
			json_object_set_new(o, "external", json_true());
		if (n->internal)
			json_object_set_new(o, "internal", json_true());
		set_str(o, "subnet", n->subnet);
		set_strv(o, "labels", &n->labels);
		json_object_set_new(nets, n->key, o);
	}
	json_object_set_new(root, "networks", nets);
	vols = json_object();
	for (size_t i = 0; i < c->p.nvolumes; i++) {
		const struct cmp_volume *v = &c->p.volumes[i];
		json_t *o = json_pack("{s:s}", "name", v->name);
		if (v->external)
			json_object_set_new(o, "external", json_true());
		set_strv(o, "labels", &v->labels);
		json_object_set_new(vols, v->key, o);
	}
	json_object_set_new(root, "volumes", vols);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return EXIT_FAIL;
	cli_print_inert(text, stdout);
	fputc('\n', stdout);
	free(text);
	return 0;
}

/* ---- the command ---- */

/* docker's rule for network and volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static bool name_valid(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* Values of the file that become arguments of cairn's children: image
 * references and network/volume names, refused before anything runs. */
static int validate_project(const struct cmp_project *p)
{
	for (size_t i = 0; i < p->nservices; i++) {
		const struct cmp_service *s = &p->services[i];
		struct cn_ref ref;
		cn_err err;
		if (!s->image)
			continue;
		if (s->image[0] == '-' || cn_ref_parse(s->image, &ref, &err) < 0) {
			fprintf(stderr, "error: service %s: image '%s' is not a valid image reference\n",
				cli_esc(s->name), cli_esc(s->image));
			return -1;
		}
		cn_ref_free(&ref);
	}
	for (size_t i = 0; i < p->nnetworks; i++)
		if (!name_valid(p->networks[i].name)) {
			fprintf(stderr, "error: networks.%s: '%s' is not a valid network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)\n",
				cli_esc(p->networks[i].key), cli_esc(p->networks[i].name));
			return -1;
		}
	for (size_t i = 0; i < p->nvolumes; i++)
		if (!name_valid(p->volumes[i].name)) {
			fprintf(stderr, "error: volumes.%s: '%s' is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)\n",
				cli_esc(p->volumes[i].key), cli_esc(p->volumes[i].name));
			return -1;
		}
	return 0;
}

static const struct {
	const char *name;
	int (*run)(struct cc *c, int argc, char **argv);
} subcommands[] = {
	{ "build", cc_cmd_build }, { "up", cc_cmd_up }, { "down", cc_cmd_down }, { "ps", cc_cmd_ps },
	{ "logs", cc_cmd_logs }, { "exec", cc_cmd_exec }, { "run", cc_cmd_run }, { "stop", cc_cmd_stop },
	{ "start", cc_cmd_start }, { "restart", cc_cmd_restart }, { "config", cmd_config },
	{ "pull", cc_cmd_pull }, { "push", cc_cmd_push }, { "rm", cc_cmd_rm },
};

int cmd_compose(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "project-name", required_argument, NULL, 'p' },
		{ "project-directory", required_argument, NULL, 'd' },
		{ "env-file", required_argument, NULL, 'e' },
		{ "profile", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_strv_ cn_strv files = { 0 }, profiles = { 0 }, warnings = { 0 };
	struct cmp_load_opts lo = { .environ = environ };
	struct cc c = { .cli = cli, .rootless = getuid() != 0 };
	int (*run)(struct cc *, int, char **) = NULL;
	cn_err err;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "+f:p:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			cn_strv_pushdup(&files, optarg);
			break;
		case 'p':
			lo.project_name = optarg;
			break;
		case 'd':
			lo.project_dir = optarg;
			break;
		case 'e':
			lo.env_file = optarg;
			break;
		case 'P':
			cn_strv_pushdup(&profiles, optarg);
			break;
		case 'h':
			fputs(compose_usage, stdout);
			return 0;
		default:
			return cli_usage_error("compose", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("compose", "expected a command (build, up, down, ps, logs, ...)");
	for (size_t i = 0; i < CN_ARRAY_SIZE(subcommands); i++)
		if (!strcmp(argv[optind], subcommands[i].name))
			run = subcommands[i].run;
	if (!run)
		return cli_usage_error("compose", "unknown command '%s'", argv[optind]);
	/* Help needs no project (and works where there is none): among the
	 * subcommand's options, before its first argument. */
	for (int i = optind + 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(compose_usage, stdout);
			return 0;
		}
	lo.files = (const char *const *)files.v;
	lo.nfiles = files.n;
	lo.profiles = &profiles;
	if (cmp_project_load(&lo, &c.p, &warnings, &err) < 0) {
		for (size_t i = 0; i < warnings.n; i++)
			fprintf(stderr, "warning: %s\n", cli_esc(warnings.v[i]));
		return cli_fail(&err);
	}
	for (size_t i = 0; i < warnings.n; i++)
		fprintf(stderr, "warning: %s\n", cli_esc(warnings.v[i]));
	if (validate_project(&c.p) < 0) {
		cmp_project_free(&c.p);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < c.p.nservices; i++) {
		_cleanup_free_ char *name = cc_container_name(&c, &c.p.services[i]);
		if (strlen(name) > c.namew)
			c.namew = strlen(name);
	}
	/* The subcommand parses its own options from its name on. */
	argc -= optind;
	argv += optind;
	optind = 0;
	rc = run(&c, argc, argv);
	cmp_project_free(&c.p);
	return rc;
}
