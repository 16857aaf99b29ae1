/* Stages: which ones the target needs, and building independent ones
 * side by side in worker processes. */
#include "builder/build_internal.h"
#include "builder/namedctx.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Stage ST reads the earlier stage NAME (if it is one): that stage is
 * needed, and ST waits for it. */
static void depend(struct build *b, struct stage *st, const char *name, bool by_index)
{
	struct stage *dep;
	b->cur = st;
	dep = bd_find_stage(b, name, by_index);
	b->cur = NULL;
	if (!dep)
		return;
	dep->needed = true;
	if (!st->deps)
		st->deps = cn_xcalloc(b->nstages, sizeof(bool));
	st->deps[dep - b->stages] = true;
}

/* Stages from the FROM lines; which ones the target needs (its FROM chain
 * and COPY --from sources, transitively), as BuildKit skips the rest. Stage
 * references are read with the global ARGs, which are known by now. */
int bd_plan_stages(struct build *b, cn_err *err)
{
	size_t target;
	for (size_t i = 0; i < b->prog.ninstrs; i++) {
		const struct bf_instr *in = &b->prog.instrs[i];
		if (in->kind != BF_FROM)
			continue;
		if (b->nstages)
			b->stages[b->nstages - 1].end = i;
		b->stages = cn_xrealloc(b->stages, (b->nstages + 1) * sizeof(*b->stages));
		memset(&b->stages[b->nstages], 0, sizeof(*b->stages));
		b->stages[b->nstages].name = in->stage;
		b->stages[b->nstages].first = i;
		b->stages[b->nstages].end = b->prog.ninstrs;
		b->nstages++;
	}
	target = b->nstages - 1;
	if (b->o->target) {
		for (target = 0; target < b->nstages; target++)
			if (b->stages[target].name && !strcasecmp(b->stages[target].name, b->o->target))
				break;
		if (target == b->nstages)
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "--target: no build stage named '%s'", b->o->target);
	}
	b->stages[target].needed = true;
	/* References this plan cannot read for sure (a variable a stage may set
	 * itself, ONBUILD triggers that may COPY --from a stage): every stage
	 * before the target is kept. */
	for (size_t i = 0; i < b->prog.ninstrs && i < b->stages[target].end; i++) {
		const struct bf_instr *in = &b->prog.instrs[i];
		bool unsure = in->kind == BF_ONBUILD || (in->kind == BF_COPY && in->from && strchr(in->from, '$'));
		if (in->kind == BF_FROM && !strchr(in->image, '$')) {
			struct store_image img;
			cn_err ignored;
			if (store_image_load(b->st, in->image, &img, &ignored) == 1) {
				unsure |= json_array_size(json_object_get(json_object_get(img.config, "config"),
									  "OnBuild")) > 0;
				store_image_free(&img);
			}
		}
		if (unsure) {
			for (size_t k = 0; k <= target; k++)
				b->stages[k].needed = true;
			b->sequential = true;
			break;
		}
	}
	/* Later stages only depend on earlier ones: one backward pass. */
	for (size_t k = target + 1; k-- > 0;) {
		struct stage *st = &b->stages[k];
		if (!st->needed)
			continue;
		for (size_t i = st->first; i < st->end; i++) {
			const struct bf_instr *in = &b->prog.instrs[i];
			const char *raw = in->kind == BF_FROM ? in->image : in->kind == BF_COPY ? in->from : NULL;
			_cleanup_free_ char *ref = NULL;
			cn_err ignored;
			for (size_t m = 0; in->kind == BF_RUN && m < in->nmounts; m++)
				if (in->mounts[m].opt[BF_MOUNT_FROM])   /* never expanded */
					depend(b, st, in->mounts[m].opt[BF_MOUNT_FROM], true);
			if (!raw || bf_expand_word(raw, b->prog.file.escape, &b->meta_args, &ref, NULL, &ignored) < 0)
				continue;
			if (bd_named_ctx(b, ref))
				continue;       /* --build-context NAME: not the stage */
			depend(b, st, ref, in->kind == BF_COPY);
		}
	}
	b->nstages = target + 1;        /* stages after the target never run */
	return 0;
}

void bd_number_steps(struct build *b)
{
	size_t n = 0, i;
	b->stepno = cn_xcalloc(b->prog.ninstrs + 1, sizeof(*b->stepno));
	for (i = 0; i < b->prog.ninstrs && b->prog.instrs[i].kind != BF_FROM; i++)
		b->stepno[i] = ++n;
	for (size_t k = 0; k < b->nstages; k++)
		for (i = b->stages[k].first; b->stages[k].needed && i < b->stages[k].end; i++)
			b->stepno[i] = ++n;
	b->total = n;
}

int bd_run_one(struct build *b, size_t i, cn_err *err)
{
	const struct bf_instr *in = &b->prog.instrs[i];
	b->step = i + 1;
	if (cn_interrupted())
		return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	bd_emit(b, BF_EV_STEP, in->node->original, NULL, 0);
	if (bd_run_step(b, in, err) == 0) {
		if (in->kind == BF_CMD)
			b->cur->cmd_set = true;
		return 0;
	}
	if (b->positioned)
		return -1;
	/* "Buildfile:7: RUN: exit status 3": the step's own code never names
	 * the instruction (ADD shares COPY's), this is where it is said. */
	return cn_err_wrap(err, "%s:%d: %s", b->o->buildfile, in->node->start_line, in->name);
}

int bd_run_stage(struct build *b, struct stage *st, cn_err *err)
{
	b->cur = st;
	for (size_t i = st->first; i < st->end; i++)
		if (bd_run_one(b, i, err) < 0)
			return -1;
	st->done = true;
	return 0;
}

static bool deps_done(const struct build *b, const struct stage *st)
{
	for (size_t j = 0; st->deps && j < b->nstages; j++)
		if (st->deps[j] && !b->stages[j].done)
			return false;
	return true;
}

/* A stage built in a child process: its output comes through OUT (lines
 * prefixed with the stage's name), its result (state and key, or an error)
 * through RES. */
struct worker {
	pid_t pid;
	size_t stage;
	int out, res;
	cn_buf line;
	int errp;               /* its stderr, relayed to ours */
	cn_buf eline;
};

struct worker_result {
	int ok;
	char state[CN_DIGEST_STR_SIZE];
	char key[CN_DIGEST_STR_SIZE];
	cn_err err;
};

static int start_worker(struct build *b, size_t k, struct worker *w, cn_err *err)
{
	int out[2], res[2], errp[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	fflush(stdout);
	fflush(stderr);
	w->pid = fork();
	if (w->pid < 0)
		return cn_err_sys(err, "fork");
	if (w->pid == 0) {
		struct worker_result r = { 0 };
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		b->in_worker = true;
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(errp[1], STDERR_FILENO) < 0)
			cn_err_sys(&r.err, "stage %zu: redirect its output", k);
		else
			r.ok = bd_run_stage(b, &b->stages[k], &r.err) == 0;
		memcpy(r.state, b->stages[k].state, sizeof(r.state));
		memcpy(r.key, b->stages[k].key, sizeof(r.key));
		/* The files this stage hashed: saved (merged under the cache's
		 * lock) before the process is gone, else only the parent's are. */
		if (b->sc) {
			cn_err ignored;
			bf_statcache_save(b->sc, b->st->cache_fd, "stat", &ignored);
		}
		/* The names this worker put are durable before the parent writes
		 * the cache entries that refer to them (_exit skips store_close). */
		cn_err serr = { 0 };
		if (store_names_sync_own(b->st, &serr) < 0 && r.ok) {
			r.ok = false;
			r.err = serr;
		}
		fflush(stdout);
		fflush(stderr);
		if (write(res[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(r.ok ? 0 : 1);
	}
	close(out[1]);
	close(res[1]);
	close(errp[1]);
	w->stage = k;
	w->out = out[0];
	w->res = res[0];
	w->errp = errp[0];
	cn_buf_init(&w->line, 0);
	cn_buf_init(&w->eline, 0);
	return 0;
}

/* Copy complete lines of a worker's stdout (FD, buffered in LINE) to
 * TO, prefixed "[stage] " (unless RAW: its events name their stage). */
static void relay_lines(struct build *b, struct worker *w, int *fd, cn_buf *line, int to, bool raw,
			bool flush)
{
	const struct stage *st = &b->stages[w->stage];
	char buf[8192], *nl;
	ssize_t n = flush || *fd < 0 ? 0 : read(*fd, buf, sizeof(buf));
	if (n > 0)
		cn_buf_add(line, buf, (size_t)n);
	if (n == 0 && !flush && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	while ((nl = memchr(line->data, '\n', line->len)) || ((flush || *fd < 0) && line->len)) {
		size_t len = nl ? (size_t)(nl - line->data) + 1 : line->len;
		_cleanup_free_ char *prefix = st->name ? cn_xasprintf("[%s] ", st->name)
						       : cn_xasprintf("[stage %zu] ", w->stage);
		if (!raw)
			(void)cn_write_all(to, prefix, strlen(prefix));
		(void)cn_write_all(to, line->data, len);
		if (!nl)
			(void)cn_write_all(to, "\n", 1);
		memmove(line->data, line->data + len, line->len - len + 1);
		line->len -= len;
	}
}

static void relay_worker(struct build *b, struct worker *w, bool flush)
{
	relay_lines(b, w, &w->out, &w->line, STDOUT_FILENO, b->o->relay_raw, flush);
}

static void relay_worker_err(struct build *b, struct worker *w, bool flush)
{
	relay_lines(b, w, &w->errp, &w->eline, STDERR_FILENO, false, flush);
}

/* Independent stages side by side (at most o->jobs at a time, each in a
 * process of its own, its lines prefixed with its name); the last one too,
 * so that every stage's lines carry their prefix. Results travel as image
 * states. */
int bd_run_stages_parallel(struct build *b, cn_err *err)
{
	struct worker *ws = cn_xcalloc(b->o->jobs, sizeof(*ws));
	size_t running = 0, last = b->nstages - 1;
	int r = 0;
	for (;;) {
		/* Start what can start. */
		for (size_t k = 0; r == 0 && k <= last && running < b->o->jobs && !cn_interrupted(); k++) {
			struct stage *st = &b->stages[k];
			bool busy = false;
			for (size_t i = 0; i < running; i++)
				busy |= ws[i].stage == k;
			if (!st->needed || st->done || busy || !deps_done(b, st))
				continue;
			/* ARGs a child consumes count as consumed here too. */
			for (size_t i = st->first; i < st->end; i++)
				for (size_t a = 0; b->prog.instrs[i].kind == BF_ARG && a < b->prog.instrs[i].nkvs; a++)
					if (cn_env_get(&b->o->build_args, b->prog.instrs[i].kvs[a].key))
						cn_env_set(&b->used_args, b->prog.instrs[i].kvs[a].key, "");
			if (start_worker(b, k, &ws[running], err) < 0) {
				r = -1;
				break;
			}
			running++;
		}
		if (running == 0)
			break;
		struct pollfd pfd[3 * 64];
		size_t np = 0;
		for (size_t i = 0; i < running && np + 3 <= CN_ARRAY_SIZE(pfd); i++) {
			if (ws[i].out >= 0)
				pfd[np++] = (struct pollfd){ .fd = ws[i].out, .events = POLLIN };
			if (ws[i].errp >= 0)
				pfd[np++] = (struct pollfd){ .fd = ws[i].errp, .events = POLLIN };
			pfd[np++] = (struct pollfd){ .fd = ws[i].res, .events = POLLIN };
		}
		if (poll(pfd, np, 200) < 0 && errno != EINTR) {
			r = cn_err_sys(err, "poll");
			break;
		}
		for (size_t i = 0; i < running; i++) {
			struct worker *w = &ws[i];
			struct pollfd *po = NULL, *pr = NULL, *pe = NULL;
			for (size_t p = 0; p < np; p++) {
				if (pfd[p].fd == w->out)
					po = &pfd[p];
				if (pfd[p].fd == w->errp)
					pe = &pfd[p];
				if (pfd[p].fd == w->res)
					pr = &pfd[p];
			}
			if (po && po->revents)
				relay_worker(b, w, false);
			if (pe && pe->revents)
				relay_worker_err(b, w, false);
			if (!pr || !pr->revents || w->out >= 0 || w->errp >= 0)
				continue;       /* its output first, to the end */
			struct worker_result res;
			ssize_t n = read(w->res, &res, sizeof(res));
			int ws_status;
			/* The interrupt handler has no SA_RESTART: a Ctrl-C must not
			 * leave the worker unreaped. */
			while (waitpid(w->pid, &ws_status, 0) < 0 && errno == EINTR)
				;
			relay_worker(b, w, true);
			relay_worker_err(b, w, true);
			close(w->res);
			cn_buf_free(&w->line);
			cn_buf_free(&w->eline);
			if (r == 0 && (n != (ssize_t)sizeof(res) || !res.ok)) {
				if (n == (ssize_t)sizeof(res)) {
					res.err.msg[sizeof(res.err.msg) - 1] = '\0';
					*err = res.err;
				} else {
					cn_err_fail(err, CN_ERR_FAILED, "stage %zu: the build process died", w->stage);
				}
				r = -1;
			} else if (r == 0) {
				struct stage *st = &b->stages[w->stage];
				b->cur = st;
				if (*res.state && !bd_adopt_state(b, res.state)) {
					r = cn_err_fail(err, CN_ERR_CORRUPT, "stage %zu: its result %s is not whole", w->stage, res.state);
				} else if (!*res.state) {
					st->cfg = bf_config_new();      /* FROM scratch and nothing else */
				}
				memcpy(st->key, res.key, sizeof(st->key));
				st->done = true;
			}
			ws[i--] = ws[--running];
		}
		if (r < 0 || cn_interrupted()) {
			for (size_t i = 0; i < running; i++)
				kill(ws[i].pid, SIGINT);
		}
	}
	free(ws);
	if (r == 0 && cn_interrupted())
		r = cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	if (r == 0 && !b->stages[last].done)
		r = cn_err_fail(err, CN_ERR_FAILED, "stage %zu was not built", last);
	return r;
}
