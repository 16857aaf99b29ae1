/* cairn compose down, stop, ps, logs, exec: the project's containers as
 * the store lists them (by their com.docker.compose.* labels). */
#include "cli/compose_cmd.h"
#include "util/cleanup.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The index of the service S runs, or -1 (an orphan). */
static long service_of(const struct cc *c, const struct ctr_state *s)
{
	const char *svc = cc_label(s, CC_LABEL_SERVICE);
	for (size_t i = 0; svc && i < c->p.nservices; i++)
		if (!strcmp(c->p.services[i].name, svc))
			return (long)i;
	return -1;
}

/* Each service's position in depends_on order (rank[i]); -1 after
 * printing a cycle. */
static int ranks(struct cc *c, size_t *rank)
{
	_cleanup_free_ size_t *order = cn_xcalloc(c->p.nservices + 1, sizeof(*order));
	if (cc_depends_order(c, order) < 0)
		return -1;
	for (size_t k = 0; k < c->p.nservices; k++)
		rank[order[k]] = k;
	return 0;
}

/* LIST sorted so that dependents come first (stop, down); orphans last. */
static int sort_for_stop(struct cc *c, struct ctr_state *list, size_t n)
{
	_cleanup_free_ size_t *rank = cn_xcalloc(c->p.nservices + 1, sizeof(*rank));
	if (ranks(c, rank) < 0)
		return -1;
	/* insertion sort: a few containers */
	for (size_t i = 1; i < n; i++) {
		for (size_t k = i; k > 0; k--) {
			long a = service_of(c, &list[k - 1]), b = service_of(c, &list[k]);
			long ra = a < 0 ? -1 : (long)rank[a], rb = b < 0 ? -1 : (long)rank[b];
			if (ra >= rb)
				break;
			struct ctr_state t = list[k - 1];
			list[k - 1] = list[k];
			list[k] = t;
		}
	}
	return 0;
}

static int child(struct cc *c, const char *const *args, enum cc_out out)
{
	_cleanup_strv_ cn_strv argv = { 0 };
	cc_argv(c, &argv);
	for (; *args; args++)
		cn_strv_pushdup(&argv, *args);
	return cc_run(c, &argv, out, NULL);
}

static int stop_one(struct cc *c, const struct ctr_state *s, long timeout)
{
	char t[24];
	snprintf(t, sizeof(t), "%ld", timeout >= 0 ? timeout : (long)s->stop_timeout);
	if (ctr_effective_status(s) == CTR_EXITED)
		return 0;
	fprintf(stderr, " Container %s  Stopping\n", cli_esc(s->name));
	if (child(c, (const char *const[]){ "stop", "-t", t, "--", s->name, NULL }, CC_QUIET) != 0)
		return -1;
	fprintf(stderr, " Container %s  Stopped\n", cli_esc(s->name));
	return 0;
}

static int remove_one(struct cc *c, const struct ctr_state *s, long timeout)
{
	if (stop_one(c, s, timeout) < 0 ||
	    child(c, (const char *const[]){ "rm", "-f", "--", s->name, NULL }, CC_QUIET) != 0)
		return -1;
	fprintf(stderr, " Container %s  Removed\n", cli_esc(s->name));
	return 0;
}

int cc_orphans(struct cc *c, bool remove, long timeout, bool oneoff)
{
	_cleanup_free_ char *names = NULL;
	struct ctr_state *list;
	size_t n;
	int rc = 0;
	if (cc_containers(c, &list, &n, oneoff) < 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < n; i++) {
		char *t;
		if (service_of(c, &list[i]) >= 0)
			continue;
		if (remove) {
			if (remove_one(c, &list[i], timeout) < 0)
				rc = EXIT_FAIL;
			continue;
		}
		t = cn_xasprintf("%s%s%s", names ? names : "", names ? " " : "", list[i].name);
		free(names);
		names = t;
	}
	ctr_list_free(list, n);
	if (names)
		fprintf(stderr, "warning: Found orphan containers ([%s]) for this project. If you removed or renamed "
				"this service in your compose file, you can run this command with the "
				"--remove-orphans flag to clean it up.\n", cli_esc(names));
	return rc;
}

int cc_stop(struct cc *c, const bool *sel, long timeout)
{
	struct ctr_state *list;
	size_t n;
	int rc = 0;
	if (cc_containers(c, &list, &n, false) < 0)
		return EXIT_FAIL;
	if (sort_for_stop(c, list, n) < 0) {
		ctr_list_free(list, n);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		long svc = service_of(c, &list[i]);
		if (sel && (svc < 0 || !sel[svc]))
			continue;
		/* a second Ctrl-C while stopping: the rest at once (SIGKILL) */
		if (stop_one(c, &list[i], cn_interrupt_count() > 1 ? 0 : timeout) < 0)
			rc = EXIT_FAIL;
	}
	ctr_list_free(list, n);
	return rc;
}

int cc_cmd_stop(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	long timeout = -1;
	int ch;
	while ((ch = getopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
		if (ch != 't')
			return cli_usage_error("compose", "stop: invalid option");
		if (cc_parse_timeout(optarg, &timeout))
			return EXIT_USAGE;
	}
	if (cc_select(c, argv + optind, argc - optind, false, sel) < 0)
		return EXIT_FAIL;
	return cc_stop(c, sel, timeout);
}

int cc_cmd_down(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "volumes", no_argument, NULL, 'v' },
		{ "remove-orphans", no_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	bool volumes = false, orphans = false;
	struct ctr_state *list;
	size_t n;
	long timeout = -1;
	int ch, rc = 0;
	while ((ch = getopt_long(argc, argv, "+vt:", opts, NULL)) != -1) {
		switch (ch) {
		case 'v': volumes = true; break;
		case 'o': orphans = true; break;
		case 't':
			if (cc_parse_timeout(optarg, &timeout))
				return EXIT_USAGE;
			break;
		default: return cli_usage_error("compose", "down: invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("compose", "down: unexpected argument '%s'", argv[optind]);
	if (cc_containers(c, &list, &n, true) < 0)
		return EXIT_FAIL;
	if (sort_for_stop(c, list, n) < 0) {
		ctr_list_free(list, n);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		if (service_of(c, &list[i]) >= 0 && remove_one(c, &list[i], timeout) < 0)
			rc = EXIT_FAIL;
	ctr_list_free(list, n);
	/* orphans after the services (up's loop, as docker compose) */
	if (cc_orphans(c, orphans, timeout, true) != 0)
		rc = EXIT_FAIL;
	if (rc)
		return rc;
	for (size_t i = 0; i < c->p.nnetworks && !c->rootless; i++) {
		const struct cmp_network *net = &c->p.networks[i];
		if (net->external || child(c, (const char *const[]){ "network", "inspect", "--", net->name, NULL }, CC_SILENT))
			continue;
		if (child(c, (const char *const[]){ "network", "rm", "--", net->name, NULL }, CC_QUIET) != 0) {
			rc = EXIT_FAIL;
			continue;
		}
		fprintf(stderr, " Network %s  Removed\n", cli_esc(net->name));
	}
	for (size_t i = 0; i < c->p.nvolumes && volumes; i++) {
		const struct cmp_volume *vol = &c->p.volumes[i];
		if (vol->external || child(c, (const char *const[]){ "volume", "inspect", "--", vol->name, NULL }, CC_SILENT))
			continue;
		if (child(c, (const char *const[]){ "volume", "rm", "--", vol->name, NULL }, CC_QUIET) != 0) {
			rc = EXIT_FAIL;
			continue;
		}
		fprintf(stderr, " Volume %s  Removed\n", cli_esc(vol->name));
	}
	return rc;
}

/* "sh -c 'sleep 1'" as docker compose ps quotes it. */
static char *command_text(const struct ctr_state *s)
{
	char *t = cn_xstrdup("\"");
	for (size_t i = 0; i < s->command.n; i++) {
		char *u = cn_xasprintf("%s%s%s", t, i ? " " : "", s->command.v[i]);
		free(t);
		t = u;
	}
	if (strlen(t) > 21) {
		t[20] = '\0';
		char *u = cn_xasprintf("%s\xe2\x80\xa6", t);
		free(t);
		t = u;
	}
	char *u = cn_xasprintf("%s\"", t);
	free(t);
	return u;
}

static int by_name(const void *a, const void *b)
{
	const struct ctr_state *x = a, *y = b;
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

int cc_cmd_ps(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "services", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	bool all = false, quiet = false, services = false;
	struct cli_table t;
	struct ctr_state *list;
	size_t n;
	int ch;
	while ((ch = getopt_long(argc, argv, "+aq", opts, NULL)) != -1) {
		switch (ch) {
		case 'a': all = true; break;
		case 'q': quiet = true; break;
		case 's': services = true; break;
		default: return cli_usage_error("compose", "ps: invalid option");
		}
	}
	if (cc_select(c, argv + optind, argc - optind, false, sel) < 0)
		return EXIT_FAIL;
	if (cc_containers(c, &list, &n, true) < 0)
		return EXIT_FAIL;
	qsort(list, n, sizeof(*list), by_name);  /* as docker compose ps */
	cli_table_init(&t, 7);
	cli_table_add(&t, "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS");
	for (size_t k = 0; k < n; k++) {
		const struct ctr_state *s = &list[k];
		long svc = service_of(c, s);
		char status[96], created[64];
		if ((svc >= 0 && !sel[svc]) || (!all && ctr_effective_status(s) == CTR_EXITED))
			continue;
		if (quiet) {
			printf("%s\n", s->id);
			continue;
		}
		if (services) {
			printf("%s\n", cli_esc(cc_label(s, CC_LABEL_SERVICE)));
			continue;
		}
		_cleanup_free_ char *cmd = command_text(s);
		_cleanup_free_ char *ago = NULL, *ports = cn_xstrdup("");
		for (size_t p = 0; p < s->net.ports.n; p++) {     /* "0.0.0.0:8080->80/tcp" */
			char *u = cn_xasprintf("%s%s%s", ports, p ? ", " : "", s->net.ports.v[p]);
			free(ports);
			ports = u;
		}
		cli_human_duration((long long)time(NULL) - s->created, created, sizeof(created));
		ago = cn_xasprintf("%s ago", created);
		cli_container_status(s, (long long)time(NULL), status, sizeof(status));
		cli_table_add(&t, cli_esc(s->name), cli_esc(s->image), cli_esc(cmd),
			      cli_esc(cc_label(s, CC_LABEL_SERVICE)), ago, status, cli_esc(ports));
	}
	if (!quiet && !services)
		cli_table_print(&t, stdout);
	cli_table_free(&t);
	ctr_list_free(list, n);
	return 0;
}

/* ---- logs ---- */

struct follow {
	struct ctr_state *s;
	int fd;
	char *prefix;
	char buf[8192];
	size_t len;
	bool ended;
};

/* What FD has now, line by line; 0, or -1 on a read error. */
static int drain(struct follow *f)
{
	for (;;) {
		ssize_t r = read(f->fd, f->buf + f->len, sizeof(f->buf) - f->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		f->len += (size_t)r;
		cc_print_lines(f->prefix, f->buf, &f->len, f->len == sizeof(f->buf));
	}
}

/* Move FD to where its last TAIL lines start. */
static void seek_tail(int fd, long tail)
{
	struct stat st;
	char buf[8192];
	off_t pos;
	long lines = 0;
	if (fstat(fd, &st) < 0)
		return;
	pos = st.st_size;
	while (pos > 0) {
		size_t want = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		ssize_t r = pread(fd, buf, want, pos - (off_t)want);
		if (r <= 0)
			break;
		for (ssize_t i = r; i-- > 0;) {
			/* the last byte's newline ends the last line, not one before it */
			if (buf[i] == '\n' && (pos - (off_t)want + i) != st.st_size - 1 && ++lines > tail) {
				lseek(fd, pos - (off_t)want + i + 1, SEEK_SET);
				return;
			}
		}
		pos -= (off_t)want;
	}
	lseek(fd, 0, SEEK_SET);
}

int cc_logs(struct cc *c, const bool *sel, bool follow, long tail, bool prefix, bool up)
{
	struct ctr_state *list;
	_cleanup_free_ struct follow *fs = NULL;
	size_t n, nf = 0;
	struct store st;
	bool stopping = false;
	int rc = 0;
	if (cc_containers(c, &list, &n, false) < 0)
		return EXIT_FAIL;
	if (cli_open_store(c->cli, &st) < 0) {
		ctr_list_free(list, n);
		return EXIT_FAIL;
	}
	fs = cn_xcalloc(n + 1, sizeof(*fs));
	for (size_t k = n; k-- > 0;) {
		long svc = service_of(c, &list[k]);
		_cleanup_free_ char *path = NULL;
		struct follow *f = &fs[nf];
		if (svc < 0 || (sel && !sel[svc]))
			continue;
		path = ctr_log_path(&st, &list[k]);
		f->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (f->fd < 0 && errno != ENOENT) {
			fprintf(stderr, "error: open '%s': %s\n", cli_esc(path), strerror(errno));
			continue;
		}
		f->s = &list[k];
		f->prefix = prefix ? cn_xasprintf("%-*s | ", (int)c->namew, cli_esc(list[k].name)) : cn_xstrdup("");
		if (f->fd >= 0 && tail >= 0)
			seek_tail(f->fd, tail);
		nf++;
	}
	cn_interrupt_install();
	for (;;) {
		size_t open_ones = 0;
		for (size_t i = 0; i < nf; i++) {
			struct follow *f = &fs[i];
			bool over;
			if (f->ended)
				continue;
			over = !follow || ctr_wait(f->s, 0) == 1;
			if (f->fd < 0) {        /* the supervisor makes it first thing */
				_cleanup_free_ char *path = ctr_log_path(&st, f->s);
				f->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			}
			if (f->fd >= 0 && drain(f) < 0)
				rc = EXIT_FAIL;
			if (over) {
				cc_print_lines(f->prefix, f->buf, &f->len, true);
				f->ended = true;
				if (follow && prefix) {
					struct ctr_state s = { .name = NULL };
					int code = ctr_lookup(&st, f->s->id, &s, &(cn_err){ 0 }) > 0 ? s.exit_code : -1;
					printf("%s exited with code %d\n", cli_esc(f->s->name), code);
					fflush(stdout);
					ctr_state_free(&s);
				}
				continue;
			}
			open_ones++;
		}
		if (!open_ones)
			break;
		if (cn_interrupted() && up && cn_interrupt_count() > 1) {
			/* the second Ctrl-C: what still runs is killed, not left */
			fprintf(stderr, "Killing...\n");
			if (cc_stop(c, sel, 0) != 0)
				rc = EXIT_FAIL;
			break;
		}
		if (cn_interrupted() && (!up || stopping))
			break;
		if (cn_interrupted() && !stopping) {
			/* docker compose's way: stop them, showing what they print */
			fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
			stopping = true;
			if (cc_stop(c, sel, -1) != 0)
				rc = EXIT_FAIL;
			continue;
		}
		usleep(200 * 1000);
	}
	for (size_t i = 0; i < nf; i++) {
		if (fs[i].fd >= 0)
			close(fs[i].fd);
		free(fs[i].prefix);
	}
	store_close(&st);
	ctr_list_free(list, n);
	return rc;
}

int cc_cmd_logs(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "tail", required_argument, NULL, 'n' },
		{ "no-log-prefix", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	bool follow = false, prefix = true;
	long tail = -1;
	char *end;
	int ch;
	while ((ch = getopt_long(argc, argv, "+fn:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': follow = true; break;
		case 'P': prefix = false; break;
		case 'n':
			if (!strcmp(optarg, "all"))
				break;
			tail = strtol(optarg, &end, 10);
			if (end == optarg || *end || tail < 0)
				return cli_usage_error("compose", "logs --tail: '%s' is not a count", optarg);
			break;
		default: return cli_usage_error("compose", "logs: invalid option");
		}
	}
	if (cc_select(c, argv + optind, argc - optind, false, sel) < 0)
		return EXIT_FAIL;
	return cc_logs(c, sel, follow, tail, prefix, false);
}

int cc_cmd_exec(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-TTY", no_argument, NULL, 'T' },
		{ "detach", no_argument, NULL, 'd' },
		{ "env", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "index", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_strv_ cn_strv full = { 0 }, env = { 0 };
	_cleanup_free_ char *name = NULL;
	const char *user = NULL, *workdir = NULL;
	const struct cmp_service *svc;
	struct ctr_state s = { .name = NULL };
	struct store st;
	bool tty = true;
	cn_err err;
	int ch, r;
	while ((ch = getopt_long(argc, argv, "+Tde:u:w:i", opts, NULL)) != -1) {
		switch (ch) {
		case 'T': tty = false; break;
		case 'i': break;
		case 'd': return cli_usage_error("compose", "exec -d: not supported (cairn exec waits)");
		case 'e': cn_strv_pushdup(&env, optarg); break;
		case 'u': user = optarg; break;
		case 'w': workdir = optarg; break;
		case 'I':
			if (strcmp(optarg, "1"))
				return cli_usage_error("compose", "exec --index: a service has one container (1)");
			break;
		default: return cli_usage_error("compose", "exec: invalid option");
		}
	}
	if (optind + 2 > argc)
		return cli_usage_error("compose", "exec: expected a service and a command");
	svc = cmp_service_find(&c->p, argv[optind]);
	if (!svc) {
		fprintf(stderr, "error: no such service: %s\n", cli_esc(argv[optind]));
		return EXIT_FAIL;
	}
	name = cc_container_name(c, svc);
	if (cli_open_store(c->cli, &st) < 0)
		return EXIT_FAIL;
	r = ctr_lookup(&st, name, &s, &err);
	store_close(&st);
	if (r < 0)
		return cli_fail(&err);
	if (r == 0 || ctr_effective_status(&s) != CTR_RUNNING) {
		ctr_state_free(&s);
		fprintf(stderr, "error: service \"%s\" is not running\n", cli_esc(svc->name));
		return EXIT_FAIL;
	}
	ctr_state_free(&s);
	cc_argv(c, &full);
	cn_strv_pushdup(&full, "exec");
	cn_strv_pushdup(&full, tty && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) ? "-it" : "-i");
	for (size_t i = 0; i < env.n; i++) {
		cn_strv_pushdup(&full, "-e");
		cn_strv_pushdup(&full, env.v[i]);
	}
	if (user) {
		cn_strv_pushdup(&full, "-u");
		cn_strv_pushdup(&full, user);
	}
	if (workdir) {
		cn_strv_pushdup(&full, "-w");
		cn_strv_pushdup(&full, workdir);
	}
	cn_strv_pushdup(&full, name);
	for (int i = optind + 1; i < argc; i++)
		cn_strv_pushdup(&full, argv[i]);
	return cc_exec(c, &full);
}

/* pull: the images of services without a build: section; push: the
 * images services build. */
static int each_image(struct cc *c, int argc, char **argv, const char *verb)
{
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	bool push = !strcmp(verb, "push");
	int rc = 0;
	if (argc > 1 && argv[1][0] == '-')
		return cli_usage_error("compose", "%s: invalid option '%s'", verb, argv[1]);
	if (cc_select(c, argv + 1, argc - 1, false, sel) < 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < c->p.nservices; i++) {
		const struct cmp_service *s = &c->p.services[i];
		_cleanup_free_ char *image = NULL;
		if (!sel[i] || (push ? !s->build : !s->image || s->build))
			continue;
		image = cc_image_name(c, s);
		fprintf(stderr, " Service %s  %s %s\n", cli_esc(s->name), push ? "Pushing" : "Pulling", cli_esc(image));
		if (child(c, (const char *const[]){ verb, "--", image, NULL }, CC_QUIET) != 0) {
			fprintf(stderr, "error: service %s: %s %s failed\n", cli_esc(s->name), verb, cli_esc(image));
			rc = EXIT_FAIL;
		}
	}
	return rc;
}

int cc_cmd_pull(struct cc *c, int argc, char **argv)
{
	return each_image(c, argc, argv, "pull");
}

int cc_cmd_push(struct cc *c, int argc, char **argv)
{
	return each_image(c, argc, argv, "push");
}

/* rm: the stopped containers of the services (-s: stop them first). */
int cc_cmd_rm(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "stop", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	struct ctr_state *list;
	bool stop = false;
	size_t n;
	int ch, rc = 0;
	while ((ch = getopt_long(argc, argv, "+fs", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': break;        /* cairn never asks */
		case 's': stop = true; break;
		default: return cli_usage_error("compose", "rm: invalid option");
		}
	}
	if (cc_select(c, argv + optind, argc - optind, false, sel) < 0)
		return EXIT_FAIL;
	if (stop && cc_stop(c, sel, -1) != 0)
		return EXIT_FAIL;
	if (cc_containers(c, &list, &n, false) < 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < n; i++) {
		long svc = service_of(c, &list[i]);
		if (svc < 0 || !sel[svc] || ctr_effective_status(&list[i]) != CTR_EXITED)
			continue;
		if (child(c, (const char *const[]){ "rm", "--", list[i].name, NULL }, CC_QUIET) != 0) {
			rc = EXIT_FAIL;
			continue;
		}
		fprintf(stderr, " Container %s  Removed\n", cli_esc(list[i].name));
	}
	ctr_list_free(list, n);
	return rc;
}
