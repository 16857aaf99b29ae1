/* The executor: runs a Buildfile's instructions, one layer per changing
 * step; variables and their warnings, FROM and ARG, the config
 * instructions (ENV, LABEL, WORKDIR, EXPOSE, VOLUME, USER, CMD, ...,
 * ONBUILD), and the step loop with the build cache. */
#include "builder/build_internal.h"
#include "builder/imgformat.h"
#include "builder/namedctx.h"
#include "util/ref.h"
#include "builder/rootdir.h"
#include "builder/buildplat.h"
#include "transfer/convert.h"
#include "util/platform.h"
#include "util/signal.h"

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

/* Crash points for the tests that kill cairn mid-commit:
 * CAIRN_TEST_CRASH_AT=NAME (SIGKILL) or NAME:INT (Ctrl-C) at point NAME. */
void bd_crash_point(const char *name)
{
	const char *at = getenv("CAIRN_TEST_CRASH_AT");
	size_t n = strlen(name);
	if (!at || strncmp(at, name, n) != 0)
		return;
	if (at[n] == '\0')
		raise(SIGKILL);
	else if (strcmp(at + n, ":INT") == 0)
		raise(SIGINT);
}

void bd_emit(struct build *b, enum bf_event_kind kind, const char *text, const char *digest,
		 uint64_t size)
{
	bd_emit_cached(b, kind, text, digest, size, NULL);
}

void bd_emit_cached(struct build *b, enum bf_event_kind kind, const char *text, const char *digest,
		    uint64_t size, const char *source)
{
	char index[24];
	size_t i = b->step ? b->step - 1 : 0;
	struct bf_event ev = { .kind = kind, .step = b->stepno && b->step ? b->stepno[i] : b->step,
			       .total = b->total, .text = text, .digest = digest, .size = size,
			       .parallel = b->in_worker, .source = source };
	if (b->cur) {
		snprintf(index, sizeof(index), "%zu", (size_t)(b->cur - b->stages));
		ev.stage = b->cur->name ? b->cur->name : index;
	}
	if (kind == BF_EV_STEP) {
		clock_gettime(CLOCK_MONOTONIC, &b->step_t0);
		ev.line = b->in_trigger || !b->step ? 0 : b->prog.instrs[i].node->start_line;
	}
	if (kind == BF_EV_DONE || kind == BF_EV_CACHED)
		ev.seconds = bd_step_seconds(b);
	if (b->o->on_event && !(b->mute && (kind == BF_EV_STEP || kind == BF_EV_DONE)))
		b->o->on_event(b->o->event_ctx, &ev);
}


double bd_step_seconds(const struct build *b)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - b->step_t0.tv_sec) + (double)(now.tv_nsec - b->step_t0.tv_nsec) / 1e9;
}

/* The time a step's results carry: the build's fixed timestamp when it is
 * reproducible, else now. */
void bd_now_rfc3339(const struct build *b, char out[32])
{
	time_t t = b->o->timestamp >= 0 ? (time_t)b->o->timestamp : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- variables ---- */

/* What $VAR sees: the stage's ARGs, overridden by ENV (docker's rule). */
void bd_visible_env(struct build *b, cn_strv *out)
{
	cn_strv env = { 0 };
	cn_strv_copy(out, &b->cur->args);
	bf_config_env(b->cur->cfg, &env);
	for (size_t i = 0; i < env.n; i++) {
		char *eq = strchr(env.v[i], '=');
		*eq = '\0';
		cn_env_set(out, env.v[i], eq + 1);
	}
	cn_strv_free(&env);
}

/* Expansion, warning once per name about variables that no ARG or ENV
 * declares (BuildKit's UndefinedVar): usually a typo. */
int bd_expand(struct build *b, const cn_strv *env, const char *word, char **out, cn_err *err)
{
	_cleanup_strv_ cn_strv unmatched = { 0 };
	int r = bf_expand_word(word, b->prog.file.escape, env, out, &unmatched, err);
	const struct bf_instr *in = b->step ? &b->prog.instrs[b->step - 1] : NULL;
	if (r < 0 && in && !b->positioned && !b->in_trigger) {
		/* A syntax error in the word: its place in the Buildfile. */
		b->positioned = true;
		return cn_err_wrap(err, "%s:%d:%d: %s: '%s'", b->o->buildfile, in->node->start_line,
				   bf_node_column(in->node, word), in->name, word);
	}
	for (size_t i = 0; r == 0 && i < unmatched.n; i++) {
		const char *name = unmatched.v[i];
		if ((b->cur && cn_env_find(&b->cur->declared, name, strlen(name)) >= 0) ||
		    cn_env_find(&b->declared, name, strlen(name)) >= 0 ||
		    cn_env_find(&b->warned, name, strlen(name)) >= 0)
			continue;
		cn_env_set(&b->warned, name, "");
		_cleanup_free_ char *msg = cn_xasprintf("%s:%d: UndefinedVar: usage of undefined variable '$%s'",
							b->o->buildfile, in ? in->node->start_line : 0, name);
		bd_emit(b, BF_EV_WARNING, msg, NULL, 0);
	}
	return r;
}

static const char *build_arg(struct build *b, const char *name)
{
	const char *v = cn_env_get(&b->o->build_args, name);
	if (v && cn_env_find(&b->used_args, name, strlen(name)) < 0)
		cn_env_set(&b->used_args, name, "");
	return v;
}

/* ---- instructions ---- */

/* An earlier stage named NAME (a name, or an index as COPY --from takes). */
struct stage *bd_find_stage(struct build *b, const char *name, bool by_index)
{
	size_t cur = (size_t)(b->cur - b->stages);
	char *end;
	unsigned long idx = strtoul(name, &end, 10);
	if (by_index && *name && !*end)
		return idx < cur ? &b->stages[idx] : NULL;
	for (size_t i = 0; i < cur; i++)
		if (b->stages[i].name && strcasecmp(b->stages[i].name, name) == 0)
			return &b->stages[i];
	return NULL;
}

/* An image by name, or NAME@DIGEST, from the store, for the current
 * stage's platform (COPY --from, RUN --mount from=); pulled when missing
 * (if the caller gave a puller). 1 found, 0 not, -1 error. */
int bd_load_image(struct build *b, const char *name, struct store_image *img, cn_err *err)
{
	struct cn_platform p;
	if (b->cur && b->cur->cfg)
		bd_plat_of_config(b->cur->cfg, &p);
	else
		bd_plat_target(b, &p);
	return bd_plat_load_image(b, name, &p, img, err);
}

/* FROM: scratch, an earlier stage, or an image in the store. */
static int do_from(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_free_ char *image = NULL;
	char root[16 + CN_PLATFORM_STR], name[CN_PLATFORM_STR];
	struct cn_platform plat;
	struct store_image img;
	struct stage *base;
	const char *named;
	int r;
	if (bd_expand(b, &b->meta_args, in->image, &image, err) < 0)
		return -1;
	if (bd_plat_of_from(b, in, &plat, err) < 0)
		return -1;
	/* --build-context NAME=docker-image://REF: that image, not a stage. */
	named = bd_named_ctx(b, image);
	if (named && !bd_named_image(b, image))
		return bd_from_named_dir(b, image, named, err);
	if (named) {
		free(image);
		image = cn_xstrdup(named + strlen(BF_NAMED_IMAGE_PREFIX));
	}
	base = named ? NULL : bd_find_stage(b, image, false);
	if (base && base->cfg)
		bd_plat_of_config(base->cfg, &plat);    /* a stage is the platform it was built for */
	if (bd_plat_check_stage(b, &plat, err) < 0)
		return -1;
	if (base && !base->cfg)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "stage '%s' was not built", image);
	if (base) {
		/* The stage's result, and its key: the cache chains through. */
		b->cur->cfg = bf_config_from_base(base->cfg);
		b->cur->layers = cn_xcalloc(base->nlayers + 1, sizeof(*b->cur->layers));
		memcpy(b->cur->layers, base->layers, base->nlayers * sizeof(*base->layers));
		b->cur->nlayers = b->cur->cap = base->nlayers;
		memcpy(b->cur->state, base->state, sizeof(b->cur->state));
		memcpy(b->cur->key, base->key, sizeof(b->cur->key));
		b->cur->pending = base->pending;        /* fetched when a step needs them */
		return 0;
	}
	if (strcmp(image, "scratch") == 0) {
		b->cur->cfg = bf_config_new();
		bd_plat_set_config(b->cur->cfg, &plat);
		/* The platform is in the key: an arm64 build never reuses an amd64 step. */
		cn_platform_format(&plat, name);
		snprintf(root, sizeof(root), "scratch %s", name);
		bd_root_key(b, root);
		return 0;
	}
	/* All its layers in an imported cache: fetched if a step needs them. */
	if (bd_plat_lazy_base(b, image, &plat, &img) == 1) {
		b->cur->pending = true;
		goto adopt;
	}
	r = bd_plat_load_image(b, image, &plat, &img, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' not found in the store", image);
	for (size_t i = 0; i < img.nlayers; i++) {
		if (!store_snapshot_exists(b->st, img.layers[i].diff_id)) {
			cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s': layer %s is not unpacked in the store",
				   image, img.layers[i].diff_id);
			store_image_free(&img);
			return -1;
		}
	}
	/* Every layer of the image in the build's compression, the base's
	 * too (converted once, then remembered by the store). */
	if (xfer_convert_image(b->st, &img, b->o->compression, b->o->compression_level, NULL, err) < 0) {
		store_image_free(&img);
		return cn_err_wrap(err, "image '%s'", image);
	}
	/* Loaded, or pulled and checked, as every base is. */
	bd_trust_layers(b, img.layers, img.nlayers);
adopt:
	b->cur->cfg = bf_config_from_base(img.config);
	b->cur->layers = CN_TAKE_PTR(img.layers);
	b->cur->nlayers = b->cur->cap = img.nlayers;
	memcpy(b->cur->state, img.manifest_digest, sizeof(b->cur->state));
	bd_root_key(b, img.manifest_digest);
	store_image_free(&img);
	return 0;
}

static int do_arg(struct build *b, const struct bf_instr *in, cn_err *err)
{
	cn_strv *scope = b->cur ? &b->cur->args : &b->meta_args;
	_cleanup_strv_ cn_strv env = { 0 };
	if (b->cur)
		bd_visible_env(b, &env);
	else
		cn_strv_copy(&env, &b->meta_args);
	for (size_t i = 0; i < in->nkvs; i++) {
		const char *name = in->kvs[i].key;
		const char *given = build_arg(b, name);
		cn_env_set(b->cur ? &b->cur->declared : &b->declared, name, "");
		_cleanup_free_ char *def = NULL;
		if (given) {
			cn_env_set(scope, name, given);
		} else if (in->kvs[i].value) {
			if (bd_expand(b, &env, in->kvs[i].value, &def, err) < 0)
				return -1;
			cn_env_set(scope, name, def);
		} else if (b->cur && cn_env_get(&b->meta_args, name)) {
			/* A bare ARG in a stage takes the global value. */
			cn_env_set(scope, name, cn_env_get(&b->meta_args, name));
		}
	}
	return 0;
}

/* A heredoc body, with leading tabs removed from every line for <<-. */
char *bd_heredoc_body(const struct bf_heredoc *hd)
{
	cn_buf b;
	bool line_start = true;
	cn_buf_init(&b, 0);
	for (const char *p = hd->content; *p; p++) {
		if (hd->chomp && line_start && *p == '\t')
			continue;
		line_start = *p == '\n';
		cn_buf_addc(&b, *p);
	}
	return cn_buf_detach(&b);
}

/* True when a RUN line is nothing but heredoc markers ("RUN <<EOF"). */
static bool only_heredoc_markers(const char *text)
{
	for (const char *p = text; *p;) {
		p += strspn(p, " \t");
		if (!*p)
			break;
		p += strspn(p, "0123456789");
		if (strncmp(p, "<<", 2) != 0)
			return false;
		p += strcspn(p, " \t");
	}
	return true;
}

/* The shell command of a RUN with heredocs. "RUN <<EOF" alone runs the body
 * (with its #! interpreter, fed through a file descriptor, when it has one);
 * otherwise the heredocs follow the line and the shell reads them itself,
 * quoting and <<- included. */
static void heredoc_command(const struct bf_instr *in, cn_buf *cmd)
{
	const struct bf_node *nd = in->node;
	if (nd->nheredocs == 1 && only_heredoc_markers(in->argv.v[0])) {
		_cleanup_free_ char *body = bd_heredoc_body(&nd->heredocs[0]);
		if (strncmp(body, "#!", 2) == 0) {
			size_t len = strcspn(body + 2, "\n");
			/* A delimiter the body does not contain. */
			char delim[32];
			unsigned n = 0;
			do
				snprintf(delim, sizeof(delim), "CAIRN_SCRIPT_%u", n++);
			while (strstr(body, delim));
			cn_buf_addf(cmd, "exec %.*s /dev/fd/3 3<<'%s'\n%s%s%s\n", (int)len, body + 2, delim,
				    body, body[strlen(body) - 1] == '\n' ? "" : "\n", delim);
		} else {
			cn_buf_adds(cmd, body);
		}
		return;
	}
	cn_buf_adds(cmd, in->argv.v[0]);
	cn_buf_addc(cmd, '\n');
	for (size_t i = 0; i < nd->nheredocs; i++) {
		const char *c = nd->heredocs[i].content;
		cn_buf_adds(cmd, c);
		if (*c && c[strlen(c) - 1] != '\n')
			cn_buf_addc(cmd, '\n');
		cn_buf_addf(cmd, "%s\n", nd->heredocs[i].name);
	}
}

void bd_shell_argv(struct build *b, const struct bf_instr *in, cn_strv *argv)
{
	if (in->json) {
		cn_strv_copy(argv, &in->argv);
		return;
	}
	bf_config_strv(b->cur->cfg, "Shell", argv);
	if (argv->n == 0) {
		cn_strv_pushdup(argv, "/bin/sh");
		cn_strv_pushdup(argv, "-c");
	}
	if (in->kind == BF_RUN && in->node->nheredocs) {
		cn_buf cmd;
		cn_buf_init(&cmd, 0);
		heredoc_command(in, &cmd);
		cn_strv_push(argv, cn_buf_detach(&cmd));
		return;
	}
	cn_strv_pushdup(argv, in->argv.n ? in->argv.v[0] : "");
}

/* WORKDIR's directory in the root; the ones it creates belong to the USER
 * in effect (root when none), as BuildKit makes them, so that user can
 * write in its WORKDIR. */
struct workdir_job {
	const char *path;
	const char *user;
};

static int workdir_in_root(int root_fd, int unused_fd, void *arg, cn_err *err)
{
	const struct workdir_job *job = arg;
	struct cn_user u = { 0 };
	int fd;
	(void)unused_fd;
	if (job->user && *job->user && cn_user_resolve(root_fd, job->user, &u, err) < 0)
		return -1;
	fd = bf_root_mkdir_p(root_fd, job->path, u.uid, u.gid, err);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int do_workdir(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *value = NULL, *path = NULL;
	const char *cur = bf_config_string(b->cur->cfg, "WorkingDir");
	struct ctr_rootfs fs;
	int r;
	bd_visible_env(b, &env);
	if (bd_expand(b, &env, in->value, &value, err) < 0)
		return -1;
	path = bd_abs_path(cur, value);
	bf_config_set_string(b->cur->cfg, "WorkingDir", path);
	/* As BuildKit: the directory exists from here on (a layer if created). */
	if (bd_step_rootfs(b, NULL, &fs, err) < 0)
		return -1;
	struct workdir_job job = { path, bf_config_string(b->cur->cfg, "User") };
	r = sb_with_rootfs(&fs.sb, NULL, workdir_in_root, &job, err);
	if (r == 0)
		r = bd_commit_step(b, &fs, in->node->original, err);
	ctr_rootfs_free(b->st, &fs);
	return r;
}

static int do_env_label(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	char **keys = cn_xcalloc(in->nkvs + 1, sizeof(char *));
	char **values = cn_xcalloc(in->nkvs + 1, sizeof(char *));
	int r = 0;
	bd_visible_env(b, &env);
	/* All values see the environment from before this instruction. */
	for (size_t i = 0; i < in->nkvs && r == 0; i++)
		if (bd_expand(b, &env, in->kvs[i].key, &keys[i], err) < 0 ||
		    bd_expand(b, &env, in->kvs[i].value, &values[i], err) < 0)
			r = -1;
	for (size_t i = 0; i < in->nkvs && r == 0; i++) {
		if (in->kind == BF_ENV) {
			if (!*keys[i] || strchr(keys[i], '='))
				r = cn_err_fail(err, CN_ERR_INVALID, "invalid variable name '%s'", keys[i]);
			else
				bf_config_set_env(b->cur->cfg, keys[i], values[i]);
		} else {
			bf_config_set_label(b->cur->cfg, keys[i], values[i]);
		}
	}
	for (size_t i = 0; i < in->nkvs; i++) {
		free(keys[i]);
		free(values[i]);
	}
	free(keys);
	free(values);
	return r;
}

static int check_port(const char *p, cn_err *err)
{
	const char *s = p;
	unsigned long lo, hi;
	char *end;
	lo = strtoul(s, &end, 10);
	hi = lo;
	if (*end == '-')
		hi = strtoul(end + 1, &end, 10);
	if (end == s || (*end && *end != '/') || lo == 0 || hi > 65535 || lo > hi ||
	    (*end == '/' && strcmp(end, "/tcp") && strcmp(end, "/udp") && strcmp(end, "/sctp")))
		return cn_err_fail(err, CN_ERR_INVALID, "invalid port '%s'", p);
	return 0;
}

static int do_words(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	bd_visible_env(b, &env);
	for (size_t i = 0; i < in->words.n; i++) {
		_cleanup_free_ char *w = NULL;
		if (bd_expand(b, &env, in->words.v[i], &w, err) < 0)
			return -1;
		if (in->kind == BF_EXPOSE) {
			_cleanup_free_ char *port = strchr(w, '/') ? cn_xstrdup(w) : cn_xasprintf("%s/tcp", w);
			for (char *c = port; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			if (check_port(port, err) < 0)
				return -1;
			bf_config_add_set_member(b->cur->cfg, "ExposedPorts", port);
		} else {
			if (!*w)
				return cn_err_fail(err, CN_ERR_INVALID, "empty volume path");
			bf_config_add_set_member(b->cur->cfg, "Volumes", w);
		}
	}
	return 0;
}

static int do_value(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *v = NULL;
	bd_visible_env(b, &env);
	if (bd_expand(b, &env, in->value, &v, err) < 0)
		return -1;
	switch (in->kind) {
	case BF_USER:
		bf_config_set_string(b->cur->cfg, "User", v);
		break;
	case BF_STOPSIGNAL:
		/* cairn run's parser: accepted exactly when a container can be stopped with it. */
		if (cn_signal_parse(v) <= 0)
			return cn_err_fail(err, CN_ERR_INVALID, "invalid signal '%s'", v);
		bf_config_set_string(b->cur->cfg, "StopSignal", v);
		break;
	default:
		bf_config_set_author(b->cur->cfg, v);
		break;
	}
	return 0;
}

static int do_command(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv argv = { 0 };
	(void)err;
	switch (in->kind) {
	case BF_SHELL:
		bf_config_set_strv(b->cur->cfg, "Shell", in->argv.v, in->argv.n);
		return 0;
	case BF_CMD:
		bd_shell_argv(b, in, &argv);
		bf_config_set_strv(b->cur->cfg, "Cmd", argv.v, argv.n);
		return 0;
	default:
		bd_shell_argv(b, in, &argv);
		bf_config_set_strv(b->cur->cfg, "Entrypoint", argv.v, argv.n);
		if (!b->cur->cmd_set)
			bf_config_unset(b->cur->cfg, "Cmd");   /* docker: ENTRYPOINT resets an inherited CMD */
		return 0;
	}
}

/* HEALTHCHECK: docker's config.Healthcheck (durations in nanoseconds). */
static void set_healthcheck(struct build *b, const struct bf_instr *in)
{
	json_t *hc = json_object(), *test = json_array();
	const struct { const char *key; long long v; } nums[] = {
		{ "Interval", in->hc_interval }, { "Timeout", in->hc_timeout },
		{ "StartPeriod", in->hc_start_period }, { "StartInterval", in->hc_start_interval },
		{ "Retries", in->hc_retries },
	};
	if (!strcmp(in->value, "NONE")) {
		json_array_append_new(test, json_string("NONE"));
	} else {
		json_array_append_new(test, json_string(in->json ? "CMD" : "CMD-SHELL"));
		for (size_t i = 0; i < in->argv.n; i++)
			json_array_append_new(test, json_string(in->argv.v[i]));
	}
	json_object_set_new(hc, "Test", test);
	for (size_t i = 0; i < CN_ARRAY_SIZE(nums); i++)
		if (nums[i].v >= 0)
			json_object_set_new(hc, nums[i].key, json_integer(nums[i].v));
	bf_config_set_json(b->cur->cfg, "Healthcheck", hc);
}

static int run_instruction(struct build *b, const struct bf_instr *in, cn_err *err)
{
	int r;
	if (in->kind != BF_FROM && in->kind != BF_ARG && !b->cur)
		return cn_err_fail(err, CN_ERR_INVALID, "no FROM before this instruction");
	switch (in->kind) {
	case BF_FROM:
		return do_from(b, in, err);
	case BF_ARG:
		return do_arg(b, in, err);
	case BF_RUN:
		return bd_do_run(b, in, err);
	case BF_COPY:
	case BF_ADD:
		return bd_do_copy(b, in, err);
	case BF_WORKDIR:
		return do_workdir(b, in, err);
	case BF_ENV:
	case BF_LABEL:
		r = do_env_label(b, in, err);
		break;
	case BF_EXPOSE:
	case BF_VOLUME:
		r = do_words(b, in, err);
		break;
	case BF_USER:
	case BF_STOPSIGNAL:
	case BF_MAINTAINER:
		r = do_value(b, in, err);
		break;
	case BF_CMD:
	case BF_ENTRYPOINT:
	case BF_SHELL:
		r = do_command(b, in, err);
		break;
	case BF_HEALTHCHECK:
		set_healthcheck(b, in);
		r = 0;
		break;
	case BF_ONBUILD:
		bf_config_append(b->cur->cfg, "OnBuild", in->value);
		r = 0;
		break;
	default:
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "not supported yet");
	}
	if (r == 0)
		bd_history(b, in->node->original, true);
	return r;
}

static int load_program(struct build *b, cn_err *err)
{
	_cleanup_buf_ cn_buf text;
	cn_buf_init(&text, BF_MAX_FILE);
	if (b->o->buildfile_text) {
		if (b->o->buildfile_len > BF_MAX_FILE)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "%s: more than %u bytes", b->o->buildfile, BF_MAX_FILE);
		cn_buf_add(&text, b->o->buildfile_text, b->o->buildfile_len);
	} else if (cn_read_file_at(AT_FDCWD, b->o->buildfile, BF_MAX_FILE, &text, err) < 0) {
		return -1;
	}
	return bf_program_parse(b->o->buildfile, text.data, text.len, &b->prog, err);
}

static void warn_unused_args(struct build *b)
{
	for (size_t i = 0; i < b->o->build_args.n; i++) {
		const char *kv = b->o->build_args.v[i];
		size_t klen = strcspn(kv, "=");
		if (cn_env_find(&b->used_args, kv, klen) < 0) {
			_cleanup_free_ char *msg = cn_xasprintf("build argument '%.*s' was not consumed by any ARG",
								(int)klen, kv);
			bd_emit(b, BF_EV_WARNING, msg, NULL, 0);
		}
	}
}

/* ONBUILD triggers of the base run right after FROM, each as an
 * instruction of this build (cached, shown, under the same sandbox), and are
 * not inherited further. */
static int run_triggers(struct build *b, cn_err *err)
{
	json_t *triggers = json_deep_copy(json_object_get(json_object_get(b->cur->cfg, "config"), "OnBuild"));
	size_t i;
	json_t *t;
	int r = 0;
	if (!json_array_size(triggers)) {
		json_decref(triggers);
		return 0;
	}
	char before[CN_DIGEST_STR_SIZE];
	memcpy(before, b->cur->state, sizeof(before));
	bf_config_unset(b->cur->cfg, "OnBuild");
	json_array_foreach(triggers, i, t) {
		const char *text = json_string_value(t);
		_cleanup_free_ char *src = text ? cn_xasprintf("FROM scratch\n%s\n", text) : NULL;
		struct bf_program prog;
		if (!src) {
			r = cn_err_fail(err, CN_ERR_INVALID, "ONBUILD trigger %zu of the base image is not a string", i + 1);
			break;
		}
		if (bf_program_parse("ONBUILD trigger", src, strlen(src), &prog, err) < 0) {
			r = -1;
			break;
		}
		if (prog.ninstrs != 2 || prog.instrs[1].kind == BF_FROM || prog.instrs[1].kind == BF_ONBUILD) {
			r = cn_err_fail(err, CN_ERR_INVALID, "ONBUILD trigger '%s' is not one instruction", text);
		} else {
			_cleanup_free_ char *shown = cn_xasprintf("ONBUILD %s", text);
			bd_emit(b, BF_EV_STEP, shown, NULL, 0);
			/* The trigger is not on a Buildfile line: no column for it. */
			b->in_trigger = true;
			r = bd_run_step(b, &prog.instrs[1], err);
			b->in_trigger = false;
			if (r < 0)
				cn_err_wrap(err, "ONBUILD trigger '%s'", text);
		}
		bf_program_free(&prog);
		if (r < 0)
			break;
	}
	json_decref(triggers);
	/* Triggers that made no state (ARGs) must still not be inherited. */
	if (r == 0 && strcmp(before, b->cur->state) == 0) {
		char key[CN_DIGEST_STR_SIZE];
		cn_sha256 h;
		cn_sha256_init(&h);
		bd_hash_field(&h, b->cur->key);
		bd_hash_field(&h, "ONBUILD consumed");
		cn_sha256_final(&h, key);
		r = bd_commit_state(b, key, err);
	}
	return r;
}

static int run_step_inner(struct build *b, const struct bf_instr *in, cn_err *err);

/* One instruction: from the cache when its key has a whole state there,
 * else run, then record the new state. FROM and ARG make no state. */
int bd_run_step(struct build *b, const struct bf_instr *in, cn_err *err)
{
	int r = run_step_inner(b, in, err);
	bd_fetch_done(b);
	bd_step_mounts_free(b);
	return r;
}

/* --no-cache-filter: the current stage is one of those named (by name or
 * index, as docker takes them). */
static bool stage_uncached(const struct build *b)
{
	char index[24];
	snprintf(index, sizeof(index), "%zu", (size_t)(b->cur - b->stages));
	for (size_t i = 0; i < b->o->no_cache_stages.n; i++) {
		const char *s = b->o->no_cache_stages.v[i];
		if ((b->cur->name && strcasecmp(b->cur->name, s) == 0) || strcmp(index, s) == 0)
			return true;
	}
	return false;
}

static int run_step_inner(struct build *b, const struct bf_instr *in, cn_err *err)
{
	char key[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *extra = NULL;
	bool cacheable, lookup;
	int r, lock_fd = -1;
	if (in->kind == BF_FROM) {
		if (run_instruction(b, in, err) < 0)
			return -1;
		bd_emit(b, BF_EV_DONE, NULL, "", 0);
		return run_triggers(b, err);
	}
	if (in->kind == BF_ARG || !b->cur) {
		if (run_instruction(b, in, err) < 0)
			return -1;
		bd_emit(b, BF_EV_DONE, NULL, "", 0);
		return 0;
	}
	if (bd_step_extra(b, in, &extra, &cacheable, err) < 0)
		return -1;
	bd_step_key(b, in, extra, key);
	lookup = cacheable && !b->o->no_cache && !stage_uncached(b);
	if (lookup && bd_cache_lookup(b, key) == 1)
		return 0;
	/* Another build may miss the same step now: one runs it, under the
	 * step's lock; the other waits and takes the result from the cache. */
	if (lookup) {
		r = bd_cache_lock(b, key, &lock_fd, err);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	/* A miss runs on the stage's content: the layers an imported cache
	 * named come now, and no later step of the stage is taken from it. */
	b->cur->import_off = true;
	r = bd_materialize(b, b->cur, err);
	if (r == 0) {
		b->executing = true;
		r = run_instruction(b, in, err);
		b->executing = false;
	}
	if (r == 0 && cacheable && !bd_inputs_held(b, in)) {
		bd_emit(b, BF_EV_WARNING, "the COPY sources changed while they were copied: "
		     "this step's result is not cached", NULL, 0);
		cacheable = false;
	}
	if (r == 0)
		r = bd_commit_state(b, cacheable ? key : NULL, err);
	store_step_unlock(b->st, key, lock_fd);
	if (r < 0)
		return -1;
	/* Inputs cairn cannot see: what follows is keyed by this step's result. */
	if (!cacheable) {
		cn_sha256 h;
		cn_sha256_init(&h);
		bd_hash_field(&h, key);
		bd_hash_field(&h, b->cur->state);
		cn_sha256_final(&h, b->cur->key);
	}
	bd_emit(b, BF_EV_DONE, NULL, b->cur->id, 0);
	return 0;
}

/* The platform ARGs BuildKit predefines, in the global scope (a stage
 * sees one after declaring it with a bare ARG). */
static void platform_args(struct build *b)
{
	/* TARGET*: --platform's; BUILD*: this host's. In normal form, as
	 * BuildKit names them: a variant only for arm ("linux/arm/v7"); arm64's
	 * v8 is its default and left out, as docker does. */
	struct cn_platform plats[2];
	static const char *const prefixes[] = { "TARGET", "BUILD" };
	bd_plat_target(b, &plats[0]);
	cn_platform_host_get(&plats[1]);
	for (size_t i = 0; i < CN_ARRAY_SIZE(prefixes); i++) {
		char name[32], platform[CN_PLATFORM_STR];
		cn_platform_format(&plats[i], platform);
		snprintf(name, sizeof(name), "%sPLATFORM", prefixes[i]);
		cn_env_set(&b->meta_args, name, platform);
		snprintf(name, sizeof(name), "%sOS", prefixes[i]);
		cn_env_set(&b->meta_args, name, plats[i].os);
		snprintf(name, sizeof(name), "%sARCH", prefixes[i]);
		cn_env_set(&b->meta_args, name, plats[i].arch);
		snprintf(name, sizeof(name), "%sVARIANT", prefixes[i]);
		cn_env_set(&b->meta_args, name, plats[i].variant);
	}
	/* Known names: using one undeclared is not a typo worth a warning. */
	for (size_t i = 0; i < b->meta_args.n; i++) {
		_cleanup_free_ char *name = cn_xstrndup(b->meta_args.v[i], strcspn(b->meta_args.v[i], "="));
		cn_env_set(&b->declared, name, "");
	}
}

int bf_build(struct store *st, const struct bf_build_opts *o, struct bf_build_result *res, cn_err *err)
{
	struct build b = { .st = st, .o = o, .ctx_fd = -1, .journal_fd = -1, .pending_fd = -1 };
	char unlabeled[CN_DIGEST_STR_SIZE];
	struct stage *last;
	size_t i;
	int r = -1;

	memset(res, 0, sizeof(*res));
	if (load_program(&b, err) < 0)
		return -1;
	b.ctx_fd = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.ctx_fd < 0) {
		cn_err_sys(err, "build context '%s'", o->context);
		goto out;
	}
	b.ctx_path = realpath(o->context, NULL);
	if (!b.ctx_path) {
		cn_err_sys(err, "build context '%s'", o->context);
		goto out;
	}
	/* F.dockerignore, CONTEXT/.buildignore or CONTEXT/.dockerignore. */
	if (bf_ignore_load(o->buildfile, b.ctx_fd, o->context, &b.ignore, err) < 0)
		goto out;
	/* Only a cache: unreadable means empty. */
	if (bf_statcache_load(st->cache_fd, "stat", &b.sc, err) < 0)
		b.sc = bf_statcache_new();
	b.total = b.prog.ninstrs;
	if (bd_journal_open(&b, err) < 0)
		goto out;
	if (bd_plat_check_build(&b, err) < 0)
		goto out;
	platform_args(&b);
	/* The global ARGs first: stage references may use them. Their steps
	 * are shown once the plan has numbered the steps that run. */
	b.mute = true;
	for (i = 0; i < b.prog.ninstrs && b.prog.instrs[i].kind != BF_FROM; i++)
		if (bd_run_one(&b, i, err) < 0)
			goto out;
	b.mute = false;
	if (bd_plan_stages(&b, err) < 0)
		goto out;
	bd_number_steps(&b);
	for (size_t k = 0; k < i; k++) {
		b.step = k + 1;
		bd_emit(&b, BF_EV_STEP, b.prog.instrs[k].node->original, NULL, 0);
		bd_emit(&b, BF_EV_DONE, NULL, "", 0);
	}
	if (o->jobs > 1 && !b.sequential && b.nstages > 2) {
		if (bd_run_stages_parallel(&b, err) < 0)
			goto out;
	} else {
		for (size_t k = 0; k < b.nstages; k++)
			if (b.stages[k].needed && bd_run_stage(&b, &b.stages[k], err) < 0)
				goto out;
	}
	last = &b.stages[b.nstages - 1];
	b.cur = last;
	warn_unused_args(&b);
	bd_crash_point("image");
	if (cn_interrupted()) {
		cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
		goto out;
	}
	/* FROM scratch and nothing else still makes an image. */
	if (!*last->state && bd_commit_state(&b, last->key, err) < 0)
		goto out;
	/* The image's layers, all of them: those imported hits named come now. */
	if (bd_materialize(&b, last, err) < 0)
		goto out;
	/* --label's state takes the last one's place in the chain: both are
	 * the image's for mode=min. */
	memcpy(unlabeled, last->state, sizeof(unlabeled));
	if (o->labels.n && bd_add_labels(&b, err) < 0)
		goto out;
	bd_journal_collect(&b, last->state, unlabeled);
	if (o->inline_cache) {
		/* The cache goes in the image, a state after the last (no key:
		 * a rebuild makes it again from the records). */
		if (o->inline_cache(o->inline_ctx, st, o->cache_records, last->cfg, err) < 0 ||
		    bd_commit_state(&b, NULL, err) < 0)
			goto out;
	}
	memcpy(res->manifest_digest, last->state, sizeof(res->manifest_digest));
	res->manifest_size = last->state_size ? last->state_size : store_blob_size(st, last->state);
	res->nlayers = last->nlayers;
	if (bd_finish_manifest(&b, res, err) < 0)
		goto out;
	if (o->format == BF_FORMAT_DOCKER && bf_format_docker(&b, res, err) < 0)
		goto out;
	r = 0;
out:
	if (b.sc) {
		cn_err ignored;
		bf_statcache_save(b.sc, st->cache_fd, "stat", &ignored);
		bf_statcache_free(b.sc);
	}
	free(b.ctx_path);
	bf_ignore_free(b.ignore);
	if (b.ctx_fd >= 0)
		close(b.ctx_fd);
	if (b.journal_fd >= 0)
		close(b.journal_fd);
	if (b.pending_fd >= 0)
		close(b.pending_fd);
	for (size_t k = 0; k < b.nstages; k++) {
		json_decref(b.stages[k].cfg);
		free(b.stages[k].layers);
		cn_strv_free(&b.stages[k].args);
		cn_strv_free(&b.stages[k].declared);
		free(b.stages[k].deps);
	}
	cn_strv_free(&b.trusted);
	cn_strv_free(&b.declared);
	cn_strv_free(&b.warned);
	cn_strv_free(&b.pulled);
	free(b.stepno);
	free(b.stages);
	cn_strv_free(&b.meta_args);
	cn_strv_free(&b.used_args);
	bf_program_free(&b.prog);
	return r;
}
