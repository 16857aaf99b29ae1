/* cairn compose build: a build graph over the services with a build:
 * section. A service whose Buildfile is FROM (or COPY --from) another
 * service's image waits for that build; the others run side by side, at
 * most --jobs at once, each a `cairn build` child whose output lines are
 * prefixed with the service's name (one display for all of them). */
#include "cli/compose_cmd.h"
#include "compose/buildrefs.h"
#include "store/image.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The Buildfile a service's build uses, or NULL (a URL context, inline:
 * buildfile_images reads that text). */
static char *buildfile_path(const struct cmp_build *b)
{
	static const char *const names[] = { "Buildfile", "Dockerfile", "Containerfile" };
	if (b->dockerfile_inline || !b->context || b->context[0] != '/')
		return NULL;
	if (b->dockerfile)
		return b->dockerfile[0] == '/' ? cn_xstrdup(b->dockerfile)
					       : cn_xasprintf("%s/%s", b->context, b->dockerfile);
	for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++) {
		char *p = cn_xasprintf("%s/%s", b->context, names[i]);
		if (access(p, F_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* The images the Buildfile of B reads, as image keys (buildrefs.h); a
 * Buildfile that cannot be read or parsed adds none: `cairn build` says
 * why when it runs. */
static void buildfile_images(const struct cmp_build *b, cn_strv *out)
{
	_cleanup_free_ char *path = buildfile_path(b);
	cn_buf text;
	cn_err err;
	if (b->dockerfile_inline) {
		(void)cmp_buildfile_images("dockerfile_inline", b->dockerfile_inline, strlen(b->dockerfile_inline),
					   &b->args, out, &err);
		return;
	}
	if (!path)
		return;
	cn_buf_init(&text, 0);
	if (cn_read_file_at(AT_FDCWD, path, 16u << 20, &text, &err) == 0)
		(void)cmp_buildfile_images(path, text.data, text.len, &b->args, out, &err);
	cn_buf_free(&text);
}

/* The `cairn build` of SVC. INLINE_PATH: where a dockerfile_inline was
 * written (set when one was). */
static int build_argv(struct cc *c, const struct cmp_service *svc, bool no_cache, bool pull, cn_strv *argv,
		      char **inline_path)
{
	const struct cmp_build *b = svc->build;
	_cleanup_free_ char *image = cc_image_name(c, svc);
	_cleanup_free_ char *file = NULL;
	cc_argv(c, argv);
	cn_strv_pushdup(argv, "build");
	cc_push2(argv, "--progress", "plain");
	cc_push2(argv, "-t", image);
	cc_push_each(argv, "-t", &b->tags);
	if (b->dockerfile_inline) {
		char tmpl[] = "/tmp/cairn-compose-inline-XXXXXX";
		int fd = mkstemp(tmpl);
		if (fd < 0 || cn_write_all(fd, b->dockerfile_inline, strlen(b->dockerfile_inline)) < 0) {
			fprintf(stderr, "error: service %s: dockerfile_inline: %s\n", svc->name, strerror(errno));
			if (fd >= 0)
				close(fd), unlink(tmpl);
			return -1;
		}
		close(fd);
		*inline_path = cn_xstrdup(tmpl);
		cc_push2(argv, "-f", tmpl);
	} else if (b->dockerfile) {
		file = b->dockerfile[0] == '/' || !b->context || b->context[0] != '/'
			       ? cn_xstrdup(b->dockerfile)
			       : cn_xasprintf("%s/%s", b->context, b->dockerfile);
		cc_push2(argv, "-f", file);
	}
	cc_push_each(argv, "--build-arg", &b->args);
	if (b->target)
		cc_push2(argv, "--target", b->target);
	cc_push_each(argv, "--label", &b->labels);
	cc_push_each(argv, "--secret", &b->secrets);
	cc_push_each(argv, "--cache-from", &b->cache_from);
	cc_push_each(argv, "--cache-to", &b->cache_to);
	if (b->network)
		cc_push2(argv, "--network", b->network);
	cc_push_each(argv, "--build-context", &b->additional_contexts);
	if (b->platform || svc->platform)
		cc_push2(argv, "--platform", b->platform ? b->platform : svc->platform);
	if (no_cache || b->no_cache)
		cn_strv_pushdup(argv, "--no-cache");
	if (pull || b->pull)
		cn_strv_pushdup(argv, "--pull");
	cn_strv_pushdup(argv, "--");
	cn_strv_pushdup(argv, b->context ? b->context : c->p.workdir);
	return 0;
}

static bool image_present(struct cc *c, const char *ref)
{
	char digest[CN_DIGEST_STR_SIZE];
	cc_image_digest(c, ref, digest);
	return digest[0] != '\0';
}

struct job {
	pid_t pid;
	int fd;
	size_t node;
	char *prefix, *inline_path;
	char buf[4096];
	size_t len;
};

static long default_jobs(void)
{
	cpu_set_t cpus;
	long n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

/* Print J's output until its end (EOF). */
static void job_drain(struct job *j)
{
	for (;;) {
		ssize_t r = read(j->fd, j->buf + j->len, sizeof(j->buf) - j->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		j->len += (size_t)r;
		cc_print_lines(j->prefix, j->buf, &j->len, j->len == sizeof(j->buf));
	}
}

/* A job's output has ended: reap it and record how it went. */
static void job_done(struct cc *c, struct job *j, enum cmp_node_state *state, int *rc)
{
	int st = 0, status;
	const struct cmp_service *svc = &c->p.services[j->node];
	cc_print_lines(j->prefix, j->buf, &j->len, true);
	close(j->fd);
	while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
		;
	status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (j->inline_path)
		unlink(j->inline_path);
	if (status == 0) {
		state[j->node] = CMP_NODE_DONE;
		fprintf(stderr, " Service %s  Built\n", cli_esc(svc->name));
	} else {
		state[j->node] = CMP_NODE_FAILED;
		fprintf(stderr, "error: service \"%s\" failed to build: exit %d\n", cli_esc(svc->name), status);
		*rc = EXIT_FAIL;
	}
	free(j->prefix);
	free(j->inline_path);
	j->pid = 0;
}

int cc_build(struct cc *c, const bool *sel, bool missing_only, long jobs, bool no_cache, bool pull)
{
	size_t n = c->p.nservices, nrunning = 0, width = 0, blocked = 0;
	_cleanup_free_ enum cmp_node_state *state = cn_xcalloc(n + 1, sizeof(*state));
	_cleanup_free_ struct job *run = NULL;
	_cleanup_free_ char **keys = cn_xcalloc(n + 1, sizeof(*keys));
	struct cmp_graph g;
	int rc = 0;

	if (jobs <= 0)
		jobs = default_jobs();
	run = cn_xcalloc((size_t)jobs, sizeof(*run));
	cmp_graph_init(&g, n);
	for (size_t i = 0; i < n; i++) {
		const struct cmp_service *s = &c->p.services[i];
		_cleanup_free_ char *image = cc_image_name(c, s);
		bool dup = false;
		cmp_graph_name(&g, i, s->name);
		keys[i] = cmp_image_key(image);
		state[i] = CMP_NODE_SKIP;
		if (!sel[i] || !s->build)
			continue;
		if (missing_only && image_present(c, image))
			continue;
		/* Services sharing an image (replicas of one build) build it once. */
		for (size_t k = 0; k < i && !dup; k++)
			dup = state[k] == CMP_NODE_PENDING && keys[k] && keys[i] && !strcmp(keys[k], keys[i]);
		if (dup)
			continue;
		state[i] = CMP_NODE_PENDING;
		if (strlen(s->name) > width)
			width = strlen(s->name);
	}
	/* Edges: a FROM of a service's image that is built now. */
	for (size_t i = 0; i < n; i++) {
		_cleanup_strv_ cn_strv refs = { 0 };
		if (state[i] != CMP_NODE_PENDING)
			continue;
		buildfile_images(c->p.services[i].build, &refs);
		for (size_t r = 0; r < refs.n; r++)
			for (size_t k = 0; k < n; k++)
				if (k != i && state[k] == CMP_NODE_PENDING && keys[k] && !strcmp(keys[k], refs.v[r]))
					cmp_graph_need(&g, i, c->p.services[k].name);
	}
	{
		_cleanup_free_ size_t *order = cn_xcalloc(n + 1, sizeof(*order));
		cn_err err;
		if (cmp_graph_order(&g, false, order, &err) < 0) {
			rc = cli_fail(&err);
			goto out;
		}
	}
	cn_interrupt_install();
	while (cmp_graph_busy(&g, state) && !cn_interrupted()) {
		struct pollfd *pf;
		long next;
		while (nrunning < (size_t)jobs && !cn_interrupted() && (next = cmp_graph_next(&g, state, &blocked)) >= 0) {
			const struct cmp_service *s = &c->p.services[next];
			_cleanup_strv_ cn_strv argv = { 0 };
			struct job *j = NULL;
			for (long k = 0; k < jobs && !j; k++)
				if (!run[k].pid)
					j = &run[k];
			if (!j)
				break;
			*j = (struct job){ .node = (size_t)next };
			if (build_argv(c, s, no_cache, pull, &argv, &j->inline_path) < 0 ||
			    (j->pid = cc_spawn_piped(c, &argv, &j->fd)) < 0) {
				if (j->inline_path)
					unlink(j->inline_path);
				free(j->inline_path);
				j->pid = 0;
				state[next] = CMP_NODE_FAILED;
				rc = EXIT_FAIL;
				continue;
			}
			j->prefix = cn_xasprintf("%-*s | ", (int)width, s->name);
			state[next] = CMP_NODE_RUNNING;
			nrunning++;
			fprintf(stderr, " Service %s  Building\n", cli_esc(s->name));
		}
		if (!nrunning)
			break;
		pf = cn_xcalloc((size_t)jobs, sizeof(*pf));
		for (long k = 0; k < jobs; k++)
			pf[k] = (struct pollfd){ .fd = run[k].pid ? run[k].fd : -1, .events = POLLIN };
		if (poll(pf, (nfds_t)jobs, -1) < 0 && errno != EINTR) {
			free(pf);
			break;
		}
		for (long k = 0; k < jobs; k++) {
			struct job *j = &run[k];
			ssize_t r;
			if (!j->pid || !pf[k].revents)
				continue;
			r = read(j->fd, j->buf + j->len, sizeof(j->buf) - j->len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				job_done(c, j, state, &rc);
				nrunning--;
				continue;
			}
			j->len += (size_t)r;
			if (j->len == sizeof(j->buf))       /* a line longer than the buffer: as it is */
				cc_print_lines(j->prefix, j->buf, &j->len, true);
			else
				cc_print_lines(j->prefix, j->buf, &j->len, false);
		}
		free(pf);
	}
	/* Ctrl-C reaches the children too (one process group), SIGTERM or
	 * SIGHUP to compose alone does not: pass it on, show what they still
	 * print until their output ends, then collect them. */
	if (cn_interrupted()) {
		int sig = cn_interrupt_signal() ? cn_interrupt_signal() : SIGTERM;
		for (long k = 0; k < jobs; k++)
			if (run[k].pid)
				kill(run[k].pid, sig);
	}
	for (long k = 0; k < jobs; k++)
		if (run[k].pid) {
			job_drain(&run[k]);
			job_done(c, &run[k], state, &rc);
		}
	if (cn_interrupted()) {
		fprintf(stderr, "error: interrupted\n");
		rc = EXIT_FAIL;
	}
	for (size_t i = 0; i < n && blocked; i++)
		if (state[i] == CMP_NODE_FAILED && c->p.services[i].build) {
			bool own = false;   /* failed itself, or below a failure */
			for (size_t k = 0; k < g.needs[i].n && !own; k++) {
				long d = cmp_graph_find(&g, g.needs[i].v[k]);
				own = d >= 0 && state[d] == CMP_NODE_FAILED;
			}
			if (own)
				fprintf(stderr, "error: service \"%s\" not built: an image it is FROM failed\n",
					cli_esc(c->p.services[i].name));
		}
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	cmp_graph_free(&g);
	return rc;
}

int cc_cmd_build(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "no-cache", no_argument, NULL, 'N' },
		{ "pull", no_argument, NULL, 'P' },
		{ "parallel", no_argument, NULL, 'x' },     /* docker compose v1's; the default */
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	bool no_cache = false, pull = false;
	long jobs = 0;
	char *end;
	int ch;
	while ((ch = getopt_long(argc, argv, "+j:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			jobs = strtol(optarg, &end, 10);
			if (end == optarg || *end || jobs < 1 || jobs > 64)
				return cli_usage_error("compose", "build --jobs: '%s' is not 1..64", optarg);
			break;
		case 'N':
			no_cache = true;
			break;
		case 'P':
			pull = true;
			break;
		case 'x':
			break;
		default:
			return cli_usage_error("compose", "build: invalid option");
		}
	}
	if (cc_select(c, argv + optind, argc - optind, false, sel) < 0)
		return EXIT_FAIL;
	return cc_build(c, sel, false, jobs, no_cache, pull);
}
