/* Build progress: plain lines, a live line on a terminal, JSON lines or
 * nothing. The live line is redrawn by a thread that only formats into
 * stack buffers and write()s: RUN steps clone() children while it runs,
 * so it never holds a lock they could need (no malloc, no stdio). */
#include "cli/progress.h"
#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int cli_progress_parse(const char *s, enum cli_progress_mode *out)
{
	static const char *const names[] = { "auto", "plain", "tty", "quiet", "rawjson" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum cli_progress_mode)i;
			return 0;
		}
	}
	return -1;
}

static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void restore_stdout(struct cli_progress *p);

/* The live view: stdout goes through a pipe that this thread copies to the
 * real stdout, so that it can take the status line ("[2/5] RUN ... 3.2s",
 * on stderr, redrawn every 100 ms) away before any output and put it back
 * after a complete line. It ends at EOF, or when idle once told to stop. */
static void *ticker(void *arg)
{
	struct cli_progress *p = arg;
	char buf[8192];
	bool at_line_start = true;
	for (;;) {
		struct pollfd pfd = { .fd = p->pipe_r, .events = POLLIN };
		int n = poll(&pfd, 1, 100);
		ssize_t k = n > 0 ? read(p->pipe_r, buf, sizeof(buf)) : 0;
		if (n > 0 && k == 0)
			break;                  /* EOF: stdout is restored */
		pthread_mutex_lock(&p->lock);
		if (n == 0 && p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		if (k > 0) {
			if (p->drawn)
				(void)!write(STDERR_FILENO, "\r\033[K", 4);
			p->drawn = false;
			(void)cn_write_all(p->out_fd, buf, (size_t)k);
			at_line_start = buf[k - 1] == '\n';
		}
		if (*p->line && at_line_start) {
			/* One terminal row at most: a wrapped line is not cleared by
			 * \r and ESC[K, so every redraw would leave a copy. */
			struct winsize ws;
			char tail[32];
			size_t cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
			int t = snprintf(tail, sizeof(tail), " %.1fs", since(&p->t0));
			size_t room = t > 0 && (size_t)t + 1 < cols ? cols - 1 - (size_t)t : 0;
			size_t len = strnlen(p->line, room);
			(void)!write(STDERR_FILENO, "\r\033[K", 4);
			(void)!write(STDERR_FILENO, p->line, len);
			if (t > 0 && room)
				(void)!write(STDERR_FILENO, tail, (size_t)t);
			p->drawn = true;
		}
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

void cli_progress_start(struct cli_progress *p, enum cli_progress_mode mode)
{
	int fds[2];
	sigset_t all, old;
	memset(p, 0, sizeof(*p));
	p->pipe_r = p->out_fd = -1;
	if (mode == CLI_PROGRESS_AUTO)
		mode = isatty(STDERR_FILENO) ? CLI_PROGRESS_TTY : CLI_PROGRESS_PLAIN;
	p->mode = mode;
	p->started = true;
	pthread_mutex_init(&p->lock, NULL);
	if (mode != CLI_PROGRESS_TTY || !isatty(STDERR_FILENO))
		return;
	fflush(stdout);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	p->out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (p->out_fd < 0 || dup2(fds[1], STDOUT_FILENO) < 0) {
		close(fds[0]);
		close(fds[1]);
		if (p->out_fd >= 0)
			close(p->out_fd);
		p->out_fd = -1;
		return;
	}
	close(fds[1]);
	p->pipe_r = fds[0];
	/* Ctrl-C is for the main thread (it polls cn_interrupted). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	p->ticking = pthread_create(&p->ticker, NULL, ticker, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!p->ticking)
		restore_stdout(p);
}

static void restore_stdout(struct cli_progress *p)
{
	fflush(stdout);
	if (p->out_fd >= 0) {
		dup2(p->out_fd, STDOUT_FILENO);
		close(p->out_fd);
		p->out_fd = -1;
	}
}

void cli_progress_stop(struct cli_progress *p)
{
	if (!p->started)
		return;
	p->started = false;
	if (p->ticking) {
		fflush(stdout);
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		*p->line = '\0';
		pthread_mutex_unlock(&p->lock);
		/* The pipe's last writer goes: the thread copies what is left. */
		if (p->out_fd >= 0)
			dup2(p->out_fd, STDOUT_FILENO);
		pthread_join(p->ticker, NULL);
		p->ticking = false;
		if (p->drawn)
			(void)!write(STDERR_FILENO, "\r\033[K", 4);
	}
	restore_stdout(p);
	if (p->pipe_r >= 0)
		close(p->pipe_r);
	p->pipe_r = -1;
	pthread_mutex_destroy(&p->lock);
}

/* "4ab6406afb51": an id as buildah shows it after a step. */
static const char *short_id(const char *digest, char out[16])
{
	const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
	snprintf(out, 16, "%.12s", hex);
	return out;
}

static const char *const kind_names[] = {
	[BF_EV_STEP] = "step", [BF_EV_LAYER] = "layer", [BF_EV_NO_LAYER] = "no-layer",
	[BF_EV_CACHED] = "cached", [BF_EV_WARNING] = "warning", [BF_EV_DONE] = "done",
	[BF_EV_WAIT] = "wait",
};

static void print_json(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text) {
		printf("%s\n", text);
		free(text);
	}
	json_decref(o);
	fflush(stdout);
}

/* A rawjson object of KIND stamped with the time, in UTC, to the ms. */
static json_t *rawjson_object(const char *kind)
{
	struct timespec now;
	struct tm tm;
	char when[48];
	json_t *o = json_object();
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ", now.tv_nsec / 1000000);
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "time", json_string(when));
	return o;
}

static void rawjson_event(const struct bf_event *ev)
{
	json_t *o = rawjson_object(kind_names[ev->kind]);
	if (ev->stage)
		json_object_set_new(o, "stage", json_string(ev->stage));
	if (ev->kind != BF_EV_WARNING) {
		json_object_set_new(o, "step", json_integer((json_int_t)ev->step));
		json_object_set_new(o, "total", json_integer((json_int_t)ev->total));
	}
	if (ev->text)
		json_object_set_new(o, "text", json_string(ev->text));
	if (ev->kind == BF_EV_STEP && ev->line)
		json_object_set_new(o, "line", json_integer(ev->line));
	if (ev->kind == BF_EV_LAYER) {
		json_object_set_new(o, "digest", json_string(ev->digest));
		json_object_set_new(o, "size", json_integer((json_int_t)ev->size));
	}
	if ((ev->kind == BF_EV_DONE || ev->kind == BF_EV_CACHED) && ev->digest && *ev->digest)
		json_object_set_new(o, "id", json_string(ev->digest));
	if (ev->kind == BF_EV_CACHED)
		json_object_set_new(o, "source", json_string(ev->source ? ev->source : "local"));
	if (ev->kind == BF_EV_DONE || ev->kind == BF_EV_CACHED)
		json_object_set_new(o, "duration_ms", json_integer((json_int_t)(ev->seconds * 1000 + 0.5)));
	print_json(o);
}

static void set_line(struct cli_progress *p, const char *text)
{
	fflush(stdout);
	pthread_mutex_lock(&p->lock);
	snprintf(p->line, sizeof(p->line), "%s", text);
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_event(void *ctx, const struct bf_event *ev)
{
	struct cli_progress *p = ctx;
	char size[32], id[16];
	/* A parallel stage's worker: its stdout is a pipe, shown as lines. */
	bool live = p->ticking && !ev->parallel;
	if (ev->kind == BF_EV_WARNING) {
		fflush(stdout);
		if (live) {
			/* Under the lock: the status line is not redrawn in its middle. */
			pthread_mutex_lock(&p->lock);
			if (p->drawn)
				(void)!write(STDERR_FILENO, "\r\033[K", 4);
			p->drawn = false;
		}
		fprintf(stderr, "warning: %s\n", cli_esc(ev->text));
		fflush(stderr);
		if (live)
			pthread_mutex_unlock(&p->lock);
		return;
	}
	if (p->mode == CLI_PROGRESS_QUIET)
		return;
	if (p->mode == CLI_PROGRESS_RAWJSON) {
		rawjson_event(ev);
		return;
	}
	switch (ev->kind) {
	case BF_EV_STEP:
		p->layer = false;
		printf("STEP %zu/%zu: %s\n", ev->step, ev->total, cli_esc(ev->text));
		if (live) {
			char line[160];
			snprintf(line, sizeof(line), "[%zu/%zu] %.120s", ev->step, ev->total, cli_esc(ev->text));
			fflush(stdout);
			set_line(p, line);
		}
		break;
	case BF_EV_LAYER:
		p->layer = true;
		p->layer_size = ev->size;
		break;
	case BF_EV_CACHED:
		if (live)
			set_line(p, "");
		printf("--> CACHED (%s) %s\n", cli_esc(ev->source ? ev->source : "local"), short_id(ev->digest, id));
		break;
	case BF_EV_WAIT:
		if (live)
			set_line(p, "");
		printf("--> waiting: %s\n", cli_esc(ev->text));
		break;
	case BF_EV_DONE:
		if (live)
			set_line(p, "");
		if (p->layer) {
			cli_human_size(p->layer_size, size, sizeof(size));
			printf("--> layer %s (%s), DONE %.1fs\n", short_id(ev->digest, id), size, ev->seconds);
		} else if (ev->digest && *ev->digest) {
			printf("--> %s, DONE %.1fs\n", short_id(ev->digest, id), ev->seconds);
		} else {
			printf("--> DONE %.1fs\n", ev->seconds);
		}
		p->layer = false;
		break;
	case BF_EV_NO_LAYER:
	case BF_EV_WARNING:
		break;
	}
	fflush(stdout);
}

void cli_progress_image(struct cli_progress *p, const char *image_id, const char *manifest,
			char *const *tags, size_t ntags)
{
	if (p->mode == CLI_PROGRESS_RAWJSON) {
		json_t *o = rawjson_object("image");
		json_t *t = json_array();
		json_object_set_new(o, "id", json_string(image_id));
		json_object_set_new(o, "manifest", json_string(manifest));
		for (size_t i = 0; i < ntags; i++)
			json_array_append_new(t, json_string(tags[i]));
		json_object_set_new(o, "tags", t);
		print_json(o);
		return;
	}
	for (size_t i = 0; p->mode != CLI_PROGRESS_QUIET && i < ntags; i++)
		printf("COMMIT %s\n", cli_esc(tags[i]));
	printf("%s\n", image_id);
	fflush(stdout);
}
