/* Health checks: the check's configuration (flags over the image's), its
 * record beside the state (health.json, docker's State.Health), and the
 * supervisor's monitor process that runs it through ctr_exec. */
#include "container/health.h"
#include "container/run.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEALTH_FILE "health.json"
#define HEALTH_MAX (1u << 20)   /* 5 results of 4 KiB, escaped: far less */
#define NS 1000000000LL

void ctr_health_conf_free(struct ctr_health_conf *c)
{
	cn_strv_free(&c->test);
	memset(c, 0, sizeof(*c));
}

void ctr_health_results_free(struct ctr_state *s)
{
	for (size_t i = 0; i < s->health_nlog; i++)
		free(s->health_log[i].output);
	s->health_nlog = 0;
	free(s->health);
	s->health = NULL;
	s->health_failing_streak = 0;
}

/* ---- the configuration ---- */

static const char *const duration_keys[] = { "Interval", "Timeout", "StartPeriod", "StartInterval" };

static long long *durations(struct ctr_health_conf *c, size_t i)
{
	long long *v[] = { &c->interval_ns, &c->timeout_ns, &c->start_period_ns, &c->start_interval_ns };
	return v[i];
}

static long long duration_of(const struct ctr_health_conf *c, size_t i)
{
	const long long v[] = { c->interval_ns, c->timeout_ns, c->start_period_ns, c->start_interval_ns };
	return v[i];
}

json_t *ctr_health_conf_json(const struct ctr_health_conf *c)
{
	json_t *j = json_object(), *test = json_array();
	for (size_t i = 0; i < c->test.n; i++)
		json_array_append_new(test, json_string(c->test.v[i]));
	json_object_set_new(j, "Test", test);
	for (size_t i = 0; i < CN_ARRAY_SIZE(duration_keys); i++)
		if (duration_of(c, i))
			json_object_set_new(j, duration_keys[i], json_integer(duration_of(c, i)));
	if (c->retries)
		json_object_set_new(j, "Retries", json_integer(c->retries));
	return j;
}

int ctr_health_conf_from_json(const json_t *j, struct ctr_health_conf *c, cn_err *err)
{
	json_t *test = json_object_get(j, "Test"), *v;
	size_t i;
	memset(c, 0, sizeof(*c));
	if (!json_is_object(j) || (test && !json_is_array(test) && !json_is_null(test)))
		return cn_err_fail(err, CN_ERR_INVALID, "Healthcheck: not an object with a Test list");
	json_array_foreach(test, i, v) {
		if (!json_is_string(v)) {
			ctr_health_conf_free(c);
			return cn_err_fail(err, CN_ERR_INVALID, "Healthcheck: Test holds a non-string");
		}
		cn_strv_pushdup(&c->test, json_string_value(v));
	}
	for (i = 0; i < CN_ARRAY_SIZE(duration_keys); i++) {
		v = json_object_get(j, duration_keys[i]);
		if (json_is_integer(v) && json_integer_value(v) > 0)
			*durations(c, i) = json_integer_value(v);
	}
	v = json_object_get(j, "Retries");
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 1000000)
		c->retries = (int)json_integer_value(v);
	return 0;
}

bool ctr_health_flags_any(const struct ctr_health_flags *f)
{
	return (f->cmd && *f->cmd) || f->interval_ns || f->timeout_ns || f->start_period_ns ||
	       f->start_interval_ns || f->retries;
}

int ctr_health_parse_cmd(const char *s, cn_strv *test, cn_err *err)
{
	json_t *j = NULL, *v;
	size_t i;
	if (s[strspn(s, " \t\n")] == '[' && (j = json_loads(s, JSON_REJECT_DUPLICATES, NULL))) {
		bool strings = json_is_array(j) && json_array_size(j) > 0;
		json_array_foreach(j, i, v)
			strings = strings && json_is_string(v);
		if (strings) {
			const char *kind = json_string_value(json_array_get(j, 0));
			size_t n = json_array_size(j);
			if (!(!strcmp(kind, "NONE") && n == 1) && !(!strcmp(kind, "CMD") && n >= 2) &&
			    !(!strcmp(kind, "CMD-SHELL") && n == 2)) {
				json_decref(j);
				return cn_err_fail(err, CN_ERR_INVALID, "--health-cmd '%s': a JSON list must be "
						   "[\"CMD\", ARG...], [\"CMD-SHELL\", COMMAND] or [\"NONE\"]", s);
			}
			json_array_foreach(j, i, v)
				cn_strv_pushdup(test, json_string_value(v));
			json_decref(j);
			return 0;
		}
	}
	json_decref(j);
	/* Anything else is a shell command, as docker's --health-cmd. */
	cn_strv_pushdup(test, "CMD-SHELL");
	cn_strv_pushdup(test, s);
	return 0;
}

static bool test_valid(const cn_strv *t)
{
	if (!t->n)
		return true;
	return (!strcmp(t->v[0], "NONE")) || (!strcmp(t->v[0], "CMD") && t->n >= 2) ||
	       (!strcmp(t->v[0], "CMD-SHELL") && t->n == 2);
}

int ctr_health_resolve(const json_t *image_config, const struct ctr_health_flags *f,
		       struct ctr_health_conf *out, cn_err *err)
{
	const json_t *cfg = image_config ? json_object_get(image_config, "config") : NULL;
	const json_t *hc = cfg ? json_object_get(cfg, "Healthcheck") : NULL;
	struct ctr_health_conf user = { .retries = 0 };
	memset(out, 0, sizeof(*out));
	if (hc && !json_is_null(hc) && ctr_health_conf_from_json(hc, out, err) < 0)
		return cn_err_wrap(err, "the image's config");
	if (f->none) {
		ctr_health_conf_free(out);
		return 0;
	}
	if (f->cmd && *f->cmd) {
		if (ctr_health_parse_cmd(f->cmd, &user.test, err) < 0)
			return -1;
		cn_strv_free(&out->test);
		out->test = user.test;
	}
	/* docker's merge: what the flags set, over the image's. */
	for (size_t i = 0; i < CN_ARRAY_SIZE(duration_keys); i++) {
		long long v[] = { f->interval_ns, f->timeout_ns, f->start_period_ns, f->start_interval_ns };
		if (v[i])
			*durations(out, i) = v[i];
	}
	if (f->retries)
		out->retries = f->retries;
	if (!test_valid(&out->test)) {
		_cleanup_free_ char *t = out->test.n ? cn_xstrdup(out->test.v[0]) : NULL;
		ctr_health_conf_free(out);
		return cn_err_fail(err, CN_ERR_INVALID, "the health check's test starts with '%s': expected "
				   "CMD with a command, CMD-SHELL with one string, or NONE", t ? t : "");
	}
	if (out->test.n && !strcmp(out->test.v[0], "NONE"))
		ctr_health_conf_free(out);
	else if (!out->test.n)
		ctr_health_conf_free(out);      /* durations without a test: no check */
	return 0;
}

/* ---- health.json ---- */

/* Go's RFC3339Nano in UTC, as docker's Log entries. */
static void time_ns_text(long long ns, char *out, size_t len)
{
	time_t t = (time_t)(ns / NS);
	struct tm tm;
	char base[32];
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%09lldZ", base, ns % NS);
}

static long long time_ns_parse(const char *s)
{
	struct tm tm = { 0 };
	long long frac = 0, t;
	int n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%9lldZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac, &n) < 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	/* A damaged file: no time rather than an overflow. */
	if (t < 0 || t > 9000000000LL || frac < 0 || frac >= NS)
		return 0;
	return (long long)t * NS + frac;
}

json_t *ctr_health_json(const struct ctr_state *s)
{
	json_t *log = json_array();
	for (size_t i = 0; i < s->health_nlog; i++) {
		const struct ctr_health_result *r = &s->health_log[i];
		char start[48], end[48];
		json_t *out = json_string(r->output ? r->output : "");   /* valid_text made it UTF-8 */
		time_ns_text(r->start_ns, start, sizeof(start));
		time_ns_text(r->end_ns, end, sizeof(end));
		if (!out)
			out = json_string("");
		json_array_append_new(log, json_pack("{s:s, s:s, s:i, s:o}", "Start", start, "End", end,
						     "ExitCode", r->exit_code, "Output", out));
	}
	return json_pack("{s:s, s:i, s:o}", "Status", s->health ? s->health : "starting", "FailingStreak",
			 (int)s->health_failing_streak, "Log", log);
}

void ctr_health_load(int root_fd, struct ctr_state *s)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/" HEALTH_FILE, s->id);
	cn_buf buf = { 0 };
	cn_err ignored;
	json_t *j = NULL, *log, *v;
	const char *status = NULL;
	size_t i;
	ctr_health_results_free(s);
	if (cn_read_file_at(root_fd, path, HEALTH_MAX, &buf, &ignored) == 0)
		j = json_loadb((const char *)buf.data, buf.len, 0, NULL);
	cn_buf_free(&buf);      /* also what was read before a failure */
	/* The results of another run (a --restart came since): this one is
	 * starting, with no result yet (docker's). Without InitStart (a
	 * monitor of an older cairn, still running) the file is taken as it is. */
	v = json_object_get(j, "InitStart");
	if (v && (!json_is_integer(v) || (unsigned long long)json_integer_value(v) != s->init_start)) {
		json_decref(j);
		j = NULL;
	}
	status = json_string_value(json_object_get(j, "Status"));
	if (status && strcmp(status, "starting") && strcmp(status, "healthy") && strcmp(status, "unhealthy"))
		status = NULL;
	s->health = cn_xstrdup(status ? status : "starting");
	v = json_object_get(j, "FailingStreak");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		s->health_failing_streak = (unsigned)json_integer_value(v);
	log = json_object_get(j, "Log");
	json_array_foreach(log, i, v) {
		struct ctr_health_result *r;
		const char *out = json_string_value(json_object_get(v, "Output"));
		if (s->health_nlog == CTR_HEALTH_LOG_MAX)
			break;
		r = &s->health_log[s->health_nlog++];
		r->start_ns = time_ns_parse(json_string_value(json_object_get(v, "Start")));
		r->end_ns = time_ns_parse(json_string_value(json_object_get(v, "End")));
		r->exit_code = (int)json_integer_value(json_object_get(v, "ExitCode"));
		r->output = cn_xstrdup(out ? out : "");
	}
	json_decref(j);
}

static int health_save(struct store *st, const struct ctr_state *s, cn_err *err)
{
	_cleanup_free_ char *dir = cn_xasprintf("containers/%s", s->id);
	_cleanup_close_ int fd = openat(st->root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	json_t *j;
	char *text;
	int r;
	if (fd < 0)
		return cn_err_sys(err, "container %.12s", s->id);
	j = ctr_health_json(s);
	/* Which run the results are of (not docker's: kept out of inspect). */
	if (j)
		json_object_set_new(j, "InitStart", json_integer((json_int_t)s->init_start));
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return cn_err_errno(err, ENOMEM, "container %.12s: encode its health", s->id);
	r = cn_write_file_atomic(fd, HEALTH_FILE, text, strlen(text), 0600, err);
	free(text);
	return r;
}

/* ---- the monitor ---- */

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * NS + ts.tv_nsec;
}

static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * NS + ts.tv_nsec;
}

static void sleep_ns(long long ns)
{
	struct timespec ts = { .tv_sec = ns / NS, .tv_nsec = ns % NS };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Go's Duration.String for what the flags take: "30s", "1.5s", "500ms". */
static void duration_text(long long ns, char *out, size_t len)
{
	if (ns % NS == 0)
		snprintf(out, len, "%llds", ns / NS);
	else if (ns >= NS)
		snprintf(out, len, "%gs", (double)ns / 1e9);
	else
		snprintf(out, len, "%gms", (double)ns / 1e6);
}

/* Output as JSON can hold it, as Go's encoding/json makes it: an invalid
 * byte (or a NUL, which would end the C string) becomes U+FFFD. */
static char *valid_text(const char *s, size_t n)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = cn_utf8_decode(s + i, n - i, &cp);
		if (cn_utf8_invalid(cp, len) || s[i] == '\0')
			cn_buf_adds(&b, "\xef\xbf\xbd");
		else
			cn_buf_add(&b, s + i, len);
		i += len;
	}
	return cn_buf_detach(&b);
}

/* The checking process: the test as cairn exec would run it, its output
 * (stdout and stderr) into OUT_FD; exits with its status. */
static void __attribute__((noreturn)) check_child(const struct ctr_state *s, int out_fd)
{
	const cn_strv *t = &s->healthcheck.test;
	char *shell[] = { "/bin/sh", "-c", NULL, NULL };
	struct ctr_exec e = { .capture = true, .out_fd = out_fd, .stop_kills_group = true };
	struct sb_exit ex = { 0 };
	cn_err err;
	int r;
	/* From the start: the timeout's SIGTERM ends the command's group. */
	cn_interrupt_install();
	if (!strcmp(t->v[0], "CMD-SHELL")) {
		shell[2] = t->v[1];
		e.argv = shell;
	} else {
		e.argv = t->v + 1;
	}
	r = ctr_exec(s, &e, &ex, &err);
	if (r == 0)
		_exit(ex.status & 0xff);
	if (r == 1)
		cn_err_fail(&err, CN_ERR_FAILED, "the container is not running");
	(void)cn_write_all(out_fd, err.msg, strlen(err.msg));
	(void)cn_write_all(out_fd, "\n", 1);
	_exit(r == 1 ? 1 : ctr_fail_status(&err));
}

/* One check of S into RES, within its timeout (docker's -1 and message
 * past it, with the output so far: the checking process is told to stop,
 * and kills the command's process group in the container, so that what
 * the command started goes too; SIGKILL if it does not end soon). */
static void probe(const struct ctr_state *s, struct ctr_health_result *res)
{
	long long timeout = s->healthcheck.timeout_ns ? s->healthcheck.timeout_ns : CTR_HEALTH_TIMEOUT_NS;
	long long deadline;
	char out[CTR_HEALTH_OUTPUT_MAX], chunk[4096];
	size_t have = 0;
	bool timed_out = false;
	int p[2], ws = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->start_ns = now_ns();
	res->exit_code = -1;
	if (pipe2(p, O_CLOEXEC) < 0) {
		res->output = cn_xasprintf("cairn: pipe: %s", strerror(errno));
		res->end_ns = now_ns();
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		check_child(s, p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		res->output = cn_xasprintf("cairn: fork: %s", strerror(errno));
		res->end_ns = now_ns();
		return;
	}
	deadline = mono_ns() + timeout;
	for (;;) {
		long long left = deadline - mono_ns();
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		ssize_t n;
		int r;
		if (left <= 0) {
			timed_out = true;
			break;
		}
		r = poll(&pf, 1, (int)(left / 1000000 + 1 > 1000000000 ? 1000000000 : left / 1000000 + 1));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(p[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Past the limit the rest is read and dropped: the command must not block. */
		if (have < CTR_HEALTH_OUTPUT_MAX) {
			size_t k = (size_t)n < CTR_HEALTH_OUTPUT_MAX - have ? (size_t)n : CTR_HEALTH_OUTPUT_MAX - have;
			memcpy(out + have, chunk, k);
			have += k;
		}
	}
	if (timed_out) {
		long long grace = mono_ns() + 5 * NS;
		kill(pid, SIGTERM);
		/* Until it ended (EOF), reading what is left (dropped). */
		for (;;) {
			struct pollfd pf = { .fd = p[0], .events = POLLIN };
			long long left = grace - mono_ns();
			int r = left > 0 ? poll(&pf, 1, (int)(left / 1000000 + 1)) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				kill(pid, SIGKILL);
				break;
			}
			ssize_t n = read(p[0], chunk, sizeof(chunk));
			if (n == 0 || (n < 0 && errno != EINTR))
				break;
		}
	}
	close(p[0]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	res->end_ns = now_ns();
	if (timed_out) {
		char d[32];
		_cleanup_free_ char *text = valid_text(out, have);
		duration_text(timeout, d, sizeof(d));
		/* docker's (25+): the output so far after the message. */
		res->output = *text ? cn_xasprintf("Health check exceeded timeout (%s): %s", d, text)
				    : cn_xasprintf("Health check exceeded timeout (%s)", d);
		return;
	}
	res->output = valid_text(out, have);
	res->exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/* docker's rules: a success makes it healthy; a failure counts (but not
 * while starting within the start period) and RETRIES of them in a row
 * make it unhealthy. The log keeps the last results. */
static void apply(struct ctr_state *h, const struct ctr_health_conf *c, long long started_ns,
		  struct ctr_health_result *res)
{
	int retries = c->retries ? c->retries : CTR_HEALTH_RETRIES;
	if (res->exit_code == 0) {
		h->health_failing_streak = 0;
		free(h->health);
		h->health = cn_xstrdup("healthy");
	} else if (!(!strcmp(h->health, "starting") && res->start_ns - started_ns < c->start_period_ns)) {
		h->health_failing_streak++;
		if (h->health_failing_streak >= (unsigned)retries) {
			free(h->health);
			h->health = cn_xstrdup("unhealthy");
		}
	}
	if (h->health_nlog == CTR_HEALTH_LOG_MAX) {
		free(h->health_log[0].output);
		memmove(h->health_log, h->health_log + 1, (CTR_HEALTH_LOG_MAX - 1) * sizeof(h->health_log[0]));
		h->health_nlog--;
	}
	h->health_log[h->health_nlog++] = *res;
	memset(res, 0, sizeof(*res));
}

/* The state of ID if its container is running: 1, 0 when it is not (yet)
 * or its state cannot be read now (a damaged or half-written file: tried
 * again), -1 when it ended or is gone. */
static int running(struct store *st, const char *id, struct ctr_state *s)
{
	_cleanup_free_ char *dir = cn_xasprintf("containers/%s", id);
	cn_err ignored;
	int r = ctr_load(st, id, s, &ignored);
	if (r < 0)
		return faccessat(st->root_fd, dir, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT ? -1 : 0;
	if (s->status == CTR_EXITED) {
		ctr_state_free(s);
		return -1;
	}
	if (s->status != CTR_RUNNING) {
		ctr_state_free(s);
		return 0;
	}
	return 1;
}

/* A pidfd of S's init, readable once it ended; -1 when it is gone already
 * (or its pid is another process's now). */
static int init_pidfd(const struct ctr_state *s)
{
	unsigned long long start;
	int fd;
	if (s->init_pid <= 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, s->init_pid, 0);
	if (fd < 0)
		return -1;
	/* Opened first, checked after: the pid cannot be reused in between. */
	if (ctr_proc_start_time(s->init_pid, &start) < 0 || start != s->init_start) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait up to NS for FD's process to end: true when it has. */
static bool init_ended(int fd, long long ns)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = ns / NS, .tv_nsec = ns % NS };
	int r;
	if (fd < 0)
		return true;
	while ((r = ppoll(&pf, 1, &ts, NULL)) < 0 && errno == EINTR)
		;
	return r != 0;
}

/* Whether the run whose init FD is (pid PID) can still be checked: not
 * ended, and its namespaces not yet dropped (an ending pid 1 drops them
 * before its pidfd turns readable: a check then fails for no fault of the
 * container). */
static bool init_alive(int fd, pid_t pid)
{
	char path[64], link[128];
	if (init_ended(fd, 0))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	return readlink(path, link, sizeof(link)) > 0 && !init_ended(fd, 0);
}

static void __attribute__((noreturn)) monitor(struct store *st, const char *id)
{
	struct ctr_state h = { .health = NULL };     /* the record: health fields only */
	unsigned long long run = 0;                  /* init_start of the run checked */
	long long started_ns = 0;
	int init = -1;                               /* that run's init (pidfd) */
	cn_err err;
	for (;;) {
		struct ctr_state s;
		struct ctr_health_result res;
		long long wait;
		const struct ctr_health_conf *c;
		int r = running(st, id, &s);
		if (r < 0)
			_exit(0);
		if (r == 0) {
			sleep_ns(NS / 10);
			continue;
		}
		if (!h.health || s.init_start != run) {
			/* A (re)start: docker's health starts over (the first
			 * round too, even with a damaged start time of 0). */
			run = s.init_start;
			started_ns = s.started * NS;
			ctr_health_results_free(&h);
			memcpy(h.id, s.id, sizeof(h.id));
			h.init_start = run;
			h.health = cn_xstrdup("starting");
			health_save(st, &h, &err);
			if (init >= 0)
				close(init);
			init = init_pidfd(&s);
		}
		if (!init_alive(init, s.init_pid)) {
			/* Between runs (--restart's back-off): nothing to check
			 * until the next one starts. */
			ctr_state_free(&s);
			sleep_ns(NS / 10);
			continue;
		}
		c = &s.healthcheck;
		wait = c->interval_ns ? c->interval_ns : CTR_HEALTH_INTERVAL_NS;
		if (!strcmp(h.health, "starting") && now_ns() - started_ns < c->start_period_ns)
			wait = c->start_interval_ns ? c->start_interval_ns : CTR_HEALTH_START_INTERVAL_NS;
		ctr_state_free(&s);
		/* The run's end wakes it at once. */
		if (init_ended(init, wait))
			continue;
		if (running(st, id, &s) <= 0)
			continue;
		if (s.init_start != run) {
			ctr_state_free(&s);
			continue;
		}
		probe(&s, &res);
		/* A check of a run that ended meanwhile says nothing of it. */
		if (init_alive(init, s.init_pid)) {
			apply(&h, &s.healthcheck, started_ns, &res);
			health_save(st, &h, &err);
		}
		free(res.output);
		ctr_state_free(&s);
	}
}

pid_t ctr_health_monitor_start(struct store *st, const struct ctr_state *s, int close_fd)
{
	pid_t parent = getpid(), pid = fork();
	sigset_t none;
	if (pid != 0)
		return pid;
	if (close_fd >= 0)
		close(close_fd);
	/* Ends with the supervisor, and with it the check it runs. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	monitor(st, s->id);
}

void ctr_health_monitor_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
