#include "builder/build.h"
#include "builder/config.h"
#include "builder/copy.h"
#include "builder/ignore.h"
#include "builder/statcache.h"
#include "builder/expand.h"
#include "builder/fetch.h"
#include "builder/instr.h"
#include "util/userdb.h"
#include "store/image.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

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

#define HOSTS_FILE "127.0.0.1\tlocalhost cairn\n::1\tlocalhost ip6-localhost ip6-loopback\n"

/* A build stage: from one FROM to the next. */
struct stage {
	char *name;             /* FROM ... AS name (lower-case), or NULL */
	size_t first, end;      /* its instructions: [first, end) */
	bool needed;            /* the target depends on it */
	bool *deps;             /* deps[j]: reads stage j (FROM or COPY --from) */
	bool done;
	json_t *cfg;
	struct store_layer *layers;
	size_t nlayers, cap;
	cn_strv args;           /* ARG values declared in the stage */
	cn_strv declared;       /* ARG names declared in the stage, with or without a value */
	bool cmd_set;           /* CMD given in this stage (ENTRYPOINT resets an inherited one) */
	char state[CN_DIGEST_STR_SIZE];  /* manifest of the image state so far ("" = none yet) */
	char key[CN_DIGEST_STR_SIZE];    /* cache key of that state */
	uint64_t state_size;             /* manifest bytes, when written by this build */
};

struct build {
	struct store *st;
	const struct bf_build_opts *o;
	struct bf_program prog;
	int ctx_fd;
	struct stage *stages;
	size_t nstages;
	struct stage *cur;      /* the stage being built */
	bool sequential;        /* stage references not fully known: one at a time */
	cn_strv meta_args;      /* ARG values declared before FROM (and the platform args) */
	cn_strv used_args;      /* --build-arg names some ARG consumed */
	cn_strv declared;       /* global ARG names ("NAME=") */
	cn_strv warned;         /* names already warned about */
	bool positioned;        /* the error already names FILE:LINE:COLUMN */
	bool in_trigger;        /* running an ONBUILD trigger */
	struct bf_statcache *sc;         /* context file digests, kept across builds */
	char *ctx_path;                  /* absolute, the stat cache's keys */
	struct bf_ignore *ignore;        /* the context's ignore file (NULL: none) */
	char copy_fp[CN_DIGEST_STR_SIZE];/* COPY: its sources' fingerprint when keyed */
	/* ADD URL: the current step's downloads, tmp/fetch-XXXXXX/<index>/<name>;
	 * fetched.v[i] is source i's file ("" when not a URL or not yet fetched). */
	struct store_tmpdir fetch_td;
	cn_strv fetched;
	cn_strv fetch_digests;           /* sha256 of each download */
	size_t step, total;
};

/* Crash points for the tests that kill cairn mid-commit:
 * CAIRN_TEST_CRASH_AT=NAME (SIGKILL) or NAME:INT (Ctrl-C) at point NAME. */
static void crash_point(const char *name)
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

static int cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void emit(struct build *b, enum bf_event_kind kind, const char *text, const char *digest,
		 uint64_t size)
{
	struct bf_event ev = { .kind = kind, .step = b->step, .total = b->total, .text = text,
			       .digest = digest, .size = size };
	if (b->o->on_event)
		b->o->on_event(b->o->event_ctx, &ev);
}

/* The time a step's results carry: the build's fixed timestamp when it is
 * reproducible, else now. */
static void now_rfc3339(const struct build *b, char out[32])
{
	time_t t = b->o->timestamp >= 0 ? (time_t)b->o->timestamp : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- variables ---- */

/* What $VAR sees: the stage's ARGs, overridden by ENV (docker's rule). */
static void visible_env(struct build *b, cn_strv *out)
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
static int expand(struct build *b, const cn_strv *env, const char *word, char **out, cn_err *err)
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
		emit(b, BF_EV_WARNING, msg, NULL, 0);
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

/* ---- the root file system of the current state ---- */

struct step_dir {
	struct store_tmpdir td;
	char *upper, *work, *merged, *empty, *hosts;
	char **lowers;
	size_t nlowers;
	struct sb_rootfs rootfs;
};

static void step_dir_free(struct build *b, struct step_dir *s)
{
	store_tmpdir_remove(b->st, &s->td);
	for (size_t i = 0; i < s->nlowers; i++)
		free(s->lowers[i]);
	free(s->lowers);
	free(s->upper);
	free(s->work);
	free(s->merged);
	free(s->empty);
	free(s->hosts);
	memset(s, 0, sizeof(*s));
}

/* Snapshot paths of LAYERS for an overlay stack, topmost first. overlayfs
 * refuses a directory twice in one stack; a repeated layer needs only its
 * topmost copy, whose entries and whiteouts cover everything the lower copy
 * did. */
static char **lower_paths(struct build *b, const struct store_layer *layers, size_t n, size_t *out_n)
{
	char **lowers = cn_xcalloc(n + 1, sizeof(char *));
	*out_n = 0;
	for (size_t i = n; i-- > 0;) {
		bool seen = false;
		for (size_t j = i + 1; j < n && !seen; j++)
			seen = strcmp(layers[j].diff_id, layers[i].diff_id) == 0;
		if (!seen)
			lowers[(*out_n)++] = store_snapshot_path(b->st, layers[i].diff_id);
	}
	return lowers;
}

static int step_dir_create(struct build *b, struct step_dir *s, cn_err *err)
{
	static const char *const subdirs[] = { "upper", "work", "merged", "empty", "src" };
	memset(s, 0, sizeof(*s));
	if (store_tmpdir_create(b->st, "step", &s->td, err) < 0)
		return -1;
	for (size_t i = 0; i < CN_ARRAY_SIZE(subdirs); i++)
		if (mkdirat(s->td.fd, subdirs[i], 0755) < 0) {
			cn_err_sys(err, "create '%s/%s'", s->td.path, subdirs[i]);
			step_dir_free(b, s);
			return -1;
		}
	s->upper = cn_xasprintf("%s/upper", s->td.path);
	s->work = cn_xasprintf("%s/work", s->td.path);
	s->merged = cn_xasprintf("%s/merged", s->td.path);
	s->empty = cn_xasprintf("%s/empty", s->td.path);
	s->hosts = cn_xasprintf("%s/hosts", s->td.path);
	s->lowers = lower_paths(b, b->cur->layers, b->cur->nlayers, &s->nlowers);
	s->rootfs = (struct sb_rootfs){
		.lowers = (const char *const *)s->lowers, .nlowers = s->nlowers, .upper = s->upper,
		.work = s->work, .merged = s->merged, .empty = s->empty,
	};
	return 0;
}

static int write_hosts(struct step_dir *s, cn_err *err)
{
	_cleanup_close_ int fd = openat(s->td.fd, "hosts", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || cn_write_all(fd, HOSTS_FILE, strlen(HOSTS_FILE)) < 0)
		return cn_err_sys(err, "write '%s'", s->hosts);
	return 0;
}

static bool dir_is_empty(int dirfd)
{
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d)
		return false;
	fd = -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

static void history(struct build *b, const char *created_by, bool empty_layer)
{
	char now[32];
	now_rfc3339(b, now);
	bf_config_add_history(b->cur->cfg, now, created_by, empty_layer);
}

/* The upper dir becomes a layer blob and, renamed, the layer's snapshot. */
static int commit_step(struct build *b, struct step_dir *s, const char *created_by, cn_err *err)
{
	struct layer_write_opts lo = { .compression = b->o->compression, .clamp_mtime = b->o->timestamp };
	struct layer_info info;
	struct store_ingest in;
	struct store_layer *l;
	_cleanup_close_ int upper_fd = openat(s->td.fd, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (upper_fd < 0)
		return cn_err_sys(err, "open '%s'", s->upper);
	if (dir_is_empty(upper_fd)) {
		history(b, created_by, true);
		emit(b, BF_EV_NO_LAYER, NULL, NULL, 0);
		return 0;
	}
	if (b->cur->nlayers >= STORE_MAX_LAYERS)
		return cn_err_set(err, E2BIG, "more than %d layers", STORE_MAX_LAYERS);
	if (store_ingest_begin(b->st, &in, err) < 0)
		return -1;
	if (layer_write_dir(upper_fd, in.fd, &lo, &info, err) < 0) {
		store_ingest_abort(&in);
		return -1;
	}
	crash_point("ingest");
	/* The snapshot must be on disk before anything points at it. */
	if (syncfs(upper_fd) < 0) {
		store_ingest_abort(&in);
		return cn_err_sys(err, "sync '%s'", s->upper);
	}
	if (store_ingest_commit(&in, info.digest, err) < 0)
		return -1;
	crash_point("snapshot");
	if (store_snapshot_commit(b->st, s->td.fd, "upper", info.diff_id, err) < 0)
		return -1;
	cn_xgrow((void **)&b->cur->layers, &b->cur->cap, b->cur->nlayers + 1, sizeof(*b->cur->layers));
	l = &b->cur->layers[b->cur->nlayers++];
	memset(l, 0, sizeof(*l));
	memcpy(l->digest, info.digest, sizeof(l->digest));
	memcpy(l->diff_id, info.diff_id, sizeof(l->diff_id));
	l->size = info.size;
	snprintf(l->media_type, sizeof(l->media_type), "%s", layer_media_type(b->o->compression));
	bf_config_add_layer(b->cur->cfg, info.diff_id);
	history(b, created_by, false);
	emit(b, BF_EV_LAYER, NULL, info.digest, info.size);
	return 0;
}

/* ---- the build cache ---- */

static void hash_field(cn_sha256 *h, const char *s)
{
	/* Length-prefixed: no two field lists hash alike. */
	size_t len = strlen(s);
	cn_sha256_update(h, &len, sizeof(len));
	cn_sha256_update(h, s, len);
}

/* The key of the state FROM gives: the base, and what shapes every layer. */
static void root_key(struct build *b, const char *base)
{
	cn_sha256 h;
	char ts[32];
	snprintf(ts, sizeof(ts), "%lld", b->o->timestamp);
	cn_sha256_init(&h);
	char esc[2] = { b->prog.file.escape, '\0' };
	/* Bumped whenever a step's result changes for the same inputs (v3:
	 * COPY's new-directory modes, --parents markers, hard links), so old
	 * entries are never reused. */
	hash_field(&h, "cairn build cache v4");  /* v4: COPY carries POSIX ACLs */
	hash_field(&h, base);
	hash_field(&h, esc);    /* how every instruction's text is read */
	hash_field(&h, layer_media_type(b->o->compression));
	hash_field(&h, ts);
	cn_sha256_final(&h, b->cur->key);
}

/* A step's key: the parent key, the instruction as written (what it
 * expands to depends only on the parent state's ENV and on the ARG values,
 * both in the key), the build args it sees, and EXTRA (COPY's sources). */
static void step_key(const struct build *b, const struct bf_instr *in, const char *extra,
		     char out[CN_DIGEST_STR_SIZE])
{
	_cleanup_strv_ cn_strv args = { 0 };
	cn_sha256 h;
	cn_strv_copy(&args, &b->cur->args);
	if (args.n)
		qsort(args.v, args.n, sizeof(char *), cmp_strings);
	cn_sha256_init(&h);
	hash_field(&h, b->cur->key);
	hash_field(&h, in->node->original);
	/* Heredoc bodies are not in the line itself. */
	for (size_t i = 0; i < in->node->nheredocs; i++) {
		const struct bf_heredoc *hd = &in->node->heredocs[i];
		hash_field(&h, hd->name);
		hash_field(&h, hd->content);
		hash_field(&h, hd->expand ? "expand" : "raw");
		hash_field(&h, hd->chomp ? "chomp" : "keep");
	}
	for (size_t i = 0; i < args.n; i++)
		hash_field(&h, args.v[i]);
	hash_field(&h, extra ? extra : "");
	cn_sha256_final(&h, out);
}

/* Adopt the state a cache entry names, if it is whole: a manifest and
 * config that verify, and every layer's blob and snapshot. */
static bool adopt_state(struct build *b, const char *manifest)
{
	struct store_image img;
	cn_err ignored;
	if (store_image_load(b->st, manifest, &img, &ignored) != 1)
		return false;
	for (size_t i = 0; i < img.nlayers; i++) {
		if (!store_blob_exists(b->st, img.layers[i].digest) ||
		    !store_snapshot_exists(b->st, img.layers[i].diff_id)) {
			store_image_free(&img);
			return false;
		}
	}
	json_decref(b->cur->cfg);
	b->cur->cfg = bf_config_from_base(img.config);
	free(b->cur->layers);
	b->cur->layers = CN_TAKE_PTR(img.layers);
	b->cur->nlayers = b->cur->cap = img.nlayers;
	memcpy(b->cur->state, manifest, sizeof(b->cur->state));
	store_image_free(&img);
	return true;
}

/* Record the state after a step as an image of its own (its parent the
 * state before), and file it in the cache under KEY (unless NULL). */
static int commit_state(struct build *b, const char *key, cn_err *err)
{
	struct store_image img;
	char now[32];
	now_rfc3339(b, now);
	bf_config_set_created(b->cur->cfg, now);
	if (store_image_write(b->st, b->cur->cfg, b->cur->layers, b->cur->nlayers, *b->cur->state ? b->cur->state : NULL,
			      &img, err) < 0)
		return -1;
	memcpy(b->cur->state, img.manifest_digest, sizeof(b->cur->state));
	b->cur->state_size = img.manifest_size;
	if (!key)
		return 0;
	memcpy(b->cur->key, key, sizeof(b->cur->key));
	return store_cache_put(b->st, key, b->cur->state, err);
}

/* ---- instructions ---- */

/* An earlier stage named NAME (a name, or an index as COPY --from takes). */
static struct stage *find_stage(struct build *b, const char *name, bool by_index)
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

/* FROM --platform: only this host's platform can be built (no emulation,
 * no pulling of other architectures' images). */
static int check_platform(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_free_ char *value = NULL;
	const char *host = cn_env_get(&b->meta_args, "BUILDPLATFORM");
	if (expand(b, &b->meta_args, in->platform, &value, err) < 0)
		return -1;
	if (host && (!strcmp(value, host) || (!strncmp(value, host, strlen(host)) &&
					       value[strlen(host)] == '/' && !strchr(value + strlen(host) + 1, '/'))))
		return 0;
	b->positioned = true;
	return cn_err_set(err, ENOTSUP, "%s:%d:%d: FROM: --platform=%s: only this host's platform %s "
			  "can be built (expected --platform=%s or $BUILDPLATFORM; no emulation)",
			  b->o->buildfile, in->node->start_line, bf_node_column(in->node, "--platform"),
			  value, host ? host : "?", host ? host : "?");
}

/* An image by name, or NAME@DIGEST, from the store; pulled when missing
 * (if the caller gave a puller). 1 found, 0 not, -1 error. */
static int load_image(struct build *b, const char *name, struct store_image *img, cn_err *err)
{
	const char *at = strchr(name, '@');
	const char *key = at ? at + 1 : name;
	int r = store_image_load(b->st, key, img, err);
	if (r != 0 || !b->o->pull)
		return r;
	if (b->o->pull(b->o->pull_ctx, b->st, name, err) < 0)
		/* A name that is no reference at all says so alone. */
		return err->errnum == EINVAL ? -1 : cn_err_wrap(err, "image '%s' is not in the store, "
								 "and pulling it failed", name);
	return store_image_load(b->st, key, img, err);
}

/* FROM: scratch, an earlier stage, or an image in the store. */
static int do_from(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_free_ char *image = NULL;
	struct store_image img;
	struct stage *base;
	int r;
	if (expand(b, &b->meta_args, in->image, &image, err) < 0)
		return -1;
	if (in->platform && check_platform(b, in, err) < 0)
		return -1;
	base = find_stage(b, image, false);
	if (base && !base->cfg)
		return cn_err_set(err, 0, "stage '%s' was not built", image);
	if (base) {
		/* The stage's result, and its key: the cache chains through. */
		b->cur->cfg = bf_config_from_base(base->cfg);
		b->cur->layers = cn_xcalloc(base->nlayers + 1, sizeof(*b->cur->layers));
		memcpy(b->cur->layers, base->layers, base->nlayers * sizeof(*base->layers));
		b->cur->nlayers = b->cur->cap = base->nlayers;
		memcpy(b->cur->state, base->state, sizeof(b->cur->state));
		memcpy(b->cur->key, base->key, sizeof(b->cur->key));
		return 0;
	}
	if (strcmp(image, "scratch") == 0) {
		b->cur->cfg = bf_config_new();
		root_key(b, "scratch");
		return 0;
	}
	r = load_image(b, image, &img, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_set(err, 0, "image '%s' not found in the store", image);
	for (size_t i = 0; i < img.nlayers; i++) {
		if (!store_snapshot_exists(b->st, img.layers[i].diff_id)) {
			cn_err_set(err, ENOENT, "image '%s': layer %s is not unpacked in the store",
				   image, img.layers[i].diff_id);
			store_image_free(&img);
			return -1;
		}
	}
	b->cur->cfg = bf_config_from_base(img.config);
	b->cur->layers = CN_TAKE_PTR(img.layers);
	b->cur->nlayers = b->cur->cap = img.nlayers;
	memcpy(b->cur->state, img.manifest_digest, sizeof(b->cur->state));
	root_key(b, img.manifest_digest);
	store_image_free(&img);
	return 0;
}

static int do_arg(struct build *b, const struct bf_instr *in, cn_err *err)
{
	cn_strv *scope = b->cur ? &b->cur->args : &b->meta_args;
	_cleanup_strv_ cn_strv env = { 0 };
	if (b->cur)
		visible_env(b, &env);
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
			if (expand(b, &env, in->kvs[i].value, &def, err) < 0)
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
static char *heredoc_body(const struct bf_heredoc *hd)
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
		_cleanup_free_ char *body = heredoc_body(&nd->heredocs[0]);
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

static void shell_argv(struct build *b, const struct bf_instr *in, cn_strv *argv)
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

static char *clean_path(const char *cwd, const char *path);

/* RUN --mount: the options as BuildKit spells them, each checked against a
 * list (no option string reaches a mount call: CVE-2024-9407's lesson). */
struct run_mounts {
	struct sb_mount m[16];
	char *strings[64];
	size_t n, nstrings;
	int locks[16];          /* sharing=locked: flocked cache dirs */
	size_t nlocks;
};

static const char *keep(struct run_mounts *rm, char *s)
{
	if (rm->nstrings < CN_ARRAY_SIZE(rm->strings))
		rm->strings[rm->nstrings++] = s;
	return s;
}

static void run_mounts_free(struct run_mounts *rm)
{
	for (size_t i = 0; i < rm->nstrings; i++)
		free(rm->strings[i]);
	for (size_t i = 0; i < rm->nlocks; i++)
		close(rm->locks[i]);
	memset(rm, 0, sizeof(*rm));
}

/* A cache mount's directory: the store's mounts/<sha256(id)>, so an id can
 * never name a path (CVE-2024-9675); made with MODE and UID:GID. */
static int cache_dir(struct build *b, const char *id, mode_t mode, uid_t uid, gid_t gid,
		     struct run_mounts *rm, const char **path, cn_err *err)
{
	char digest[CN_DIGEST_STR_SIZE];
	cn_sha256_oneshot(id, strlen(id), digest);
	if (mkdirat(b->st->root_fd, "mounts", 0700) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create '%s/mounts'", b->st->root);
	*path = keep(rm, cn_xasprintf("%s/mounts/%s", b->st->root, cn_digest_hex(digest)));
	if (mkdir(*path, mode) == 0 && (chown(*path, uid, gid) < 0 || chmod(*path, mode) < 0))
		return cn_err_sys(err, "prepare cache mount '%s'", id);
	return 0;
}

/* sharing=locked: the cache dir flocked until the step is done. */
static int lock_cache_dir(struct run_mounts *rm, const char *path, const char *id, cn_err *err)
{
	_cleanup_close_ int dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0 || flock(dir, LOCK_EX) < 0 || rm->nlocks == CN_ARRAY_SIZE(rm->locks))
		return cn_err_sys(err, "lock cache mount '%s'", id);
	rm->locks[rm->nlocks++] = CN_TAKE_FD(dir);
	return 0;
}

/* One --mount value, its options checked against a list. The strings
 * point into COPY or OWNED (expanded values); mount_spec_free frees both. */
struct mount_spec {
	char *copy;
	cn_strv owned;
	const char *type, *target, *id, *sharing, *size, *source, *from;
	unsigned long mode, uid, gid;
	bool required, rw;
};

static void mount_spec_free(struct mount_spec *ms)
{
	free(ms->copy);
	cn_strv_free(&ms->owned);
}

static int bool_option(const char *kv, const char *v, bool *out, cn_err *err)
{
	if (!strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "false"))
		*out = false;
	else
		return cn_err_plain(err, EINVAL, "--mount: %s=%s: expected true or false", kv, v);
	return 0;
}

/* SPEC's values are expanded with the step's ARGs and ENV as BuildKit
 * does, when B is given (the stage planner reads them unexpanded); from=
 * is never expanded, as in BuildKit (an alias stage does that). */
static int mount_spec_parse(struct build *b, const char *spec, struct mount_spec *ms, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	char *save = NULL;
	memset(ms, 0, sizeof(*ms));
	ms->copy = cn_xstrdup(spec);
	ms->type = "bind";
	ms->sharing = "shared";
	ms->mode = 0755;
	if (b)
		visible_env(b, &env);
	for (char *kv = strtok_r(ms->copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "true";
		bool ro = false;
		if (eq)
			*eq = '\0';
		if (eq && !strcmp(kv, "from") && strchr(v, '$'))
			return cn_err_plain(err, EINVAL, "--mount: from=%s: from= does not expand variables "
					    "(name a stage 'FROM %s AS NAME' and use from=NAME)", v, v);
		if (eq && b && strcmp(kv, "from")) {
			char *x;
			if (expand(b, &env, v, &x, err) < 0)
				return cn_err_wrap(err, "--mount: %s", kv);
			cn_strv_push(&ms->owned, x);
			v = x;
		}
		if (!strcmp(kv, "type"))
			ms->type = v;
		else if (!strcmp(kv, "target") || !strcmp(kv, "dst") || !strcmp(kv, "destination"))
			ms->target = v;
		else if (!strcmp(kv, "source") || !strcmp(kv, "src"))
			ms->source = v;
		else if (!strcmp(kv, "from"))
			ms->from = v;
		else if (!strcmp(kv, "id"))
			ms->id = v;
		else if (!strcmp(kv, "sharing"))
			ms->sharing = v;
		else if (!strcmp(kv, "size"))
			ms->size = v;
		else if (!strcmp(kv, "required")) {
			if (bool_option(kv, v, &ms->required, err) < 0)
				return -1;
		} else if (!strcmp(kv, "rw") || !strcmp(kv, "readwrite")) {
			if (bool_option(kv, v, &ms->rw, err) < 0)
				return -1;
		} else if (!strcmp(kv, "ro") || !strcmp(kv, "readonly")) {
			if (bool_option(kv, v, &ro, err) < 0)
				return -1;
			ms->rw = !ro;
		} else if (!strcmp(kv, "mode") || !strcmp(kv, "uid") || !strcmp(kv, "gid")) {
			char *end;
			unsigned long n = strtoul(v, &end, !strcmp(kv, "mode") ? 8 : 10);
			if (*end || end == v)
				return cn_err_plain(err, EINVAL, "--mount: %s=%s is not a number", kv, v);
			*(kv[0] == 'm' ? &ms->mode : kv[0] == 'u' ? &ms->uid : &ms->gid) = n;
		} else
			return cn_err_plain(err, ENOTSUP, "--mount: option '%s' is not supported yet", kv);
	}
	if (!strcmp(ms->type, "ssh"))
		return cn_err_plain(err, ENOTSUP, "--mount=type=ssh is not supported: cairn cannot forward "
				    "an SSH agent (use a --secret for a key, or fetch before the build)");
	if (strcmp(ms->type, "secret") && strcmp(ms->type, "cache") && strcmp(ms->type, "tmpfs") &&
	    strcmp(ms->type, "bind"))
		return cn_err_set(err, 0, "--mount=type=%s is not supported yet", ms->type);
	if (!strcmp(ms->type, "secret") && ms->from)
		return cn_err_plain(err, EINVAL, "--mount=type=secret: a secret mount has no from=");
	if ((ms->source || ms->from) && strcmp(ms->type, "bind") && strcmp(ms->type, "cache") &&
	    strcmp(ms->type, "secret"))
		return cn_err_plain(err, ENOTSUP, "--mount=type=%s: source= and from= are not supported yet "
				    "(only with type=bind or cache)", ms->type);
	if (ms->source && !ms->from && !strcmp(ms->type, "cache"))
		return cn_err_plain(err, ENOTSUP, "--mount=type=cache: source= without from= is not "
				    "supported yet");
	if (ms->from && !*ms->from)
		return cn_err_plain(err, EINVAL, "--mount: from= needs a stage or an image");
	return 0;
}

/* The bind source as a COPY source: "/" and "" are the root, and
 * wildcard characters are literal. */
static char *bind_source(const struct mount_spec *ms)
{
	const char *src = ms->source ? ms->source : "/";
	cn_buf out;
	cn_buf_init(&out, 0);
	while (*src == '/')
		src++;
	if (!*src)
		cn_buf_addc(&out, '.');
	for (; *src; src++) {
		if (strchr("*?[\\", *src))
			cn_buf_addc(&out, '\\');
		cn_buf_addc(&out, *src);
	}
	return cn_buf_detach(&out);
}

static int stage_or_image(struct build *b, const char *from, struct store_image *img,
			  const struct store_layer **layers, size_t *n, char state[CN_DIGEST_STR_SIZE],
			  cn_err *err);

struct bind_job {
	struct bf_copy_opts opts;
};

static int bind_copy_in(int unused_root, int src_fd, void *arg, cn_err *err)
{
	struct bind_job *job = arg;
	(void)unused_root;
	job->opts.ctx_fd = src_fd;
	job->opts.src_is_root = true;
	return bf_copy(&job->opts, err);
}

/* RUN --mount=type=bind: a private copy of the source (the build context,
 * with the ignore file applied, or a stage's or image's root) in the step
 * dir, so that the step sees exactly what its cache key hashed, can never
 * reach past the source, and (rw) writes into something thrown away. */
static int bind_prepare(struct build *b, const struct mount_spec *ms, struct step_dir *s, size_t idx,
			char **path, cn_err *err)
{
	_cleanup_free_ char *src = bind_source(ms), *sub = cn_xasprintf("bind-%zu", idx);
	_cleanup_close_ int dir = -1;
	const char *one[1] = { src };
	struct bind_job job = { .opts = { .srcs = one, .nsrcs = 1, .dest = "/content", .workdir = "/" } };
	int r;
	if (mkdirat(s->td.fd, sub, 0755) < 0 ||
	    (dir = openat(s->td.fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cn_err_sys(err, "create '%s/%s'", s->td.path, sub);
	job.opts.root_fd = dir;
	if (!ms->from) {
		job.opts.ctx_fd = b->ctx_fd;
		job.opts.ignore = b->ignore;
		r = bf_copy(&job.opts, err);
	} else {
		struct store_image img;
		const struct store_layer *layers;
		size_t n, nlowers = 0;
		char state[CN_DIGEST_STR_SIZE];
		char **lowers = NULL;
		_cleanup_free_ char *merged = cn_xasprintf("%s/src", s->td.path);
		struct sb_rootfs from;
		r = stage_or_image(b, ms->from, &img, &layers, &n, state, err);
		if (r == 0 && n == 0)
			r = cn_err_set(err, 0, "from=%s: the source has no files", ms->from);
		if (r == 0) {
			lowers = lower_paths(b, layers, n, &nlowers);
			from = (struct sb_rootfs){ .lowers = (const char *const *)lowers, .nlowers = nlowers,
						   .merged = merged, .empty = s->empty };
			r = sb_with_rootfs(&s->rootfs, &from, bind_copy_in, &job, err);
		}
		for (size_t i = 0; i < nlowers; i++)
			free(lowers[i]);
		free(lowers);
		store_image_free(&img);
	}
	if (r < 0) {
		/* COPY's words, said of the mount. */
		if (!strncmp(err->msg, "COPY: ", 6))
			memmove(err->msg, err->msg + 6, strlen(err->msg + 6) + 1);
		return cn_err_wrap(err, "--mount=type=%s,source=%s", ms->type, ms->source ? ms->source : "/");
	}
	*path = cn_xasprintf("%s/%s/content", s->td.path, sub);
	return 0;
}

/* --mount=type=secret: the file to bind, from --secret id=ID,src=FILE,
 * or (env=VAR) VAR's value written to a private file in the step dir, mode
 * 0400 in the store's 0700 tree, unlinked once the step ran (do_run).
 * *PATH NULL: the secret was not given. */
static int secret_file(struct build *b, const char *id, struct step_dir *s, size_t idx,
		       struct run_mounts *rm, const char **path, cn_err *err)
{
	const char *var = cn_env_get(&b->o->secret_envs, id);
	const char *src = cn_env_get(&b->o->secrets, id);
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	const char *value;
	*path = NULL;
	if (src && !*src)
		src = NULL;
	if (var && !*var)
		var = NULL;
	if (!var) {
		if (src && stat(src, &st) == 0 && S_ISREG(st.st_mode))
			*path = keep(rm, cn_xstrdup(src));
		else if (src)
			return cn_err_plain(err, ENOENT, "secret '%s': '%s' is not a regular file", id, src);
		return 0;
	}
	value = getenv(var);
	if (!value)
		return 0;
	name = cn_xasprintf("secret-%zu", idx);
	fd = openat(s->td.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0 || cn_write_all(fd, value, strlen(value)) < 0)
		return cn_err_sys(err, "secret '%s': write its file in '%s'", id, s->td.path);
	*path = keep(rm, cn_xasprintf("%s/%s", s->td.path, name));
	return 0;
}

/* A cache mount with from=: its first use starts from a copy of the
 * stage's or image's SOURCE (made in the step dir, then renamed into
 * mounts/, so a concurrent build sees it whole or not at all); later uses
 * find it there. Keyed by id, source and the from state, as BuildKit keys
 * such a cache by id and base. */
static int cache_from_dir(struct build *b, const struct mount_spec *ms, struct step_dir *s, size_t idx,
			  const char *target, struct run_mounts *rm, const char **path, cn_err *err)
{
	struct store_image img;
	const struct store_layer *layers;
	size_t n;
	char state[CN_DIGEST_STR_SIZE], digest[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *key = NULL, *tmp = NULL;
	struct stat st;
	int r = stage_or_image(b, ms->from, &img, &layers, &n, state, err);
	store_image_free(&img);
	if (r < 0)
		return -1;
	key = cn_xasprintf("%s\n%s\n%s", ms->id ? ms->id : target, state, ms->source ? ms->source : "/");
	cn_sha256_oneshot(key, strlen(key), digest);
	if (mkdirat(b->st->root_fd, "mounts", 0700) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create '%s/mounts'", b->st->root);
	*path = keep(rm, cn_xasprintf("%s/mounts/%s", b->st->root, cn_digest_hex(digest)));
	if (lstat(*path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (bind_prepare(b, ms, s, idx, &tmp, err) < 0)
		return -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, *path, RENAME_NOREPLACE) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create cache mount '%s'", ms->id ? ms->id : target);
	return 0;
}

static int parse_mount(struct build *b, const char *spec, struct run_mounts *rm, struct step_dir *s,
		       cn_err *err)
{
	const char *wd = bf_config_string(b->cur->cfg, "WorkingDir");
	struct mount_spec ms;
	struct sb_mount *m;
	const char *target = NULL;
	int r = -1;
	if (rm->n == CN_ARRAY_SIZE(rm->m))
		return cn_err_plain(err, E2BIG, "too many --mount flags");
	if (mount_spec_parse(b, spec, &ms, err) < 0)
		goto out;
	m = &rm->m[rm->n];
	memset(m, 0, sizeof(*m));
	/* A relative target is under the WORKDIR, as BuildKit joins it. */
	if (ms.target && *ms.target)
		target = keep(rm, clean_path(wd && *wd ? wd : "/", ms.target));
	if (!strcmp(ms.type, "secret")) {
		/* BuildKit: the id is id=, else source=, else the target's base name. */
		const char *id = ms.id && *ms.id ? ms.id : ms.source && *ms.source ? ms.source :
			target && strcmp(target, "/") ? strrchr(target, '/') + 1 : NULL;
		const char *src;
		if (!id) {
			r = cn_err_plain(err, EINVAL, "--mount=type=secret needs an id");
			goto out;
		}
		if (secret_file(b, id, s, rm->n, rm, &src, err) < 0)
			goto out;
		if (!src) {
			if (ms.required)
				r = cn_err_plain(err, ENOENT, "secret '%s' was not given (cairn build --secret "
						 "id=%s,src=FILE or id=%s,env=VAR)", id, id, id);
			else
				r = 0;   /* an optional secret that is absent: no mount */
			goto out;
		}
		m->kind = SB_MOUNT_BIND_FILE_RO;
		m->source = src;
		m->target = target ? target : keep(rm, cn_xasprintf("/run/secrets/%s", id));
	} else if (!target) {
		r = cn_err_plain(err, EINVAL, "--mount=type=%s needs a target", ms.type);
		goto out;
	} else if (!strcmp(ms.type, "cache")) {
		if (strcmp(ms.sharing, "shared") && strcmp(ms.sharing, "locked")) {
			r = cn_err_plain(err, ENOTSUP, "--mount: sharing=%s is not supported yet", ms.sharing);
			goto out;
		}
		m->kind = SB_MOUNT_BIND;
		m->target = target;
		if (ms.from && cache_from_dir(b, &ms, s, rm->n, target, rm, &m->source, err) < 0)
			goto out;
		/* The id defaults to the target as written (the cache of an
		 * absolute target keeps its id); a relative one, joined. */
		if (!ms.from && cache_dir(b, ms.id ? ms.id : ms.target[0] == '/' ? ms.target : target,
					  (mode_t)ms.mode & 07777, (uid_t)ms.uid, (gid_t)ms.gid, rm, &m->source,
					  err) < 0)
			goto out;
		if (!strcmp(ms.sharing, "locked") && lock_cache_dir(rm, m->source, ms.id ? ms.id : target, err) < 0)
			goto out;
	} else if (!strcmp(ms.type, "tmpfs")) {
		char *end;
		m->kind = SB_MOUNT_TMPFS;
		m->target = target;
		m->size = ms.size ? strtoull(ms.size, &end, 10) : 0;
		if (ms.size && (*end || end == ms.size)) {
			r = cn_err_plain(err, EINVAL, "--mount: size=%s is not a number of bytes", ms.size);
			goto out;
		}
	} else {
		char *path = NULL;
		if (!strcmp(target, "/")) {
			r = cn_err_plain(err, EINVAL, "--mount=type=bind: the target cannot be /");
			goto out;
		}
		if (bind_prepare(b, &ms, s, rm->n, &path, err) < 0)
			goto out;
		m->kind = SB_MOUNT_BIND;
		m->readonly = !ms.rw;
		m->source = keep(rm, path);
		m->target = target;
	}
	rm->n++;
	r = 0;
out:
	mount_spec_free(&ms);
	return r;
}

static int do_run(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv argv = { 0 };
	_cleanup_strv_ cn_strv env = { 0 };
	struct step_dir s;
	const char *wd = bf_config_string(b->cur->cfg, "WorkingDir");
	const char *user = bf_config_string(b->cur->cfg, "User");
	struct sb_exit ex = { 0 };
	char cgroup_id[64];
	int r = 0;
	struct sb_process proc;
	struct run_mounts rm;

	if (in->network == BF_NET_HOST && b->o->network != SB_NET_HOST)
		return cn_err_set(err, EPERM, "--network=host needs 'cairn build --network host'");
	if (step_dir_create(b, &s, err) < 0)
		return -1;
	memset(&rm, 0, sizeof(rm));
	for (size_t i = 0; r == 0 && i < in->mounts.n; i++)
		r = parse_mount(b, in->mounts.v[i], &rm, &s, err);
	shell_argv(b, in, &argv);
	visible_env(b, &env);
	proc = (struct sb_process){
		.mounts = rm.m,
		.nmounts = rm.n,
		.argv = cn_strv_array(&argv),
		.env = cn_strv_array(&env),
		.cwd = wd && *wd ? wd : "/",
		.user = user && *user ? user : NULL,
		.hostname = "cairn",
		.out_fd = b->o->out_fd,
		.err_fd = b->o->err_fd,
		.network = in->network == BF_NET_NONE ? SB_NET_NONE
			 : in->network == BF_NET_HOST ? SB_NET_HOST : b->o->network,
		.limits = b->o->limits,
		.cgroup_id = cgroup_id,
	};
	/* Our own hosts file: the step's hostname resolves, the host's names do not leak. */
	proc.hosts_file = s.hosts;
	/* The step dir's name is unique in the store, the pid among stores. */
	snprintf(cgroup_id, sizeof(cgroup_id), "%d-%s", (int)getpid(), s.td.name);
	if (r == 0)
		r = write_hosts(&s, err);
	if (r == 0)
		r = sb_run(&s.rootfs, &proc, &ex, err);
	/* env= secrets: their files go as soon as the step is done. */
	for (size_t i = 0; i < rm.n; i++) {
		_cleanup_free_ char *name = cn_xasprintf("secret-%zu", i);
		if (unlinkat(s.td.fd, name, 0) < 0 && errno != ENOENT && r == 0)
			r = cn_err_sys(err, "remove the secret file '%s/%s'", s.td.path, name);
	}
	run_mounts_free(&rm);   /* unlocks locked cache mounts */
	if (r == 0 && ex.oom_killed)
		r = cn_err_set(err, 0, "out of memory: a process was killed at the --memory limit (exit status %d)",
			       ex.status);
	else if (r == 0 && ex.status != 0)
		r = cn_err_set(err, 0, "exit status %d", ex.status);
	if (r == 0)
		r = commit_step(b, &s, in->node->original, err);
	step_dir_free(b, &s);
	return r;
}

struct copy_job {
	struct bf_copy_opts opts;
	const char *chown;
	bool users_in_extra;    /* COPY --link: the root is empty; names are looked up in the image */
	bool add;               /* ADD: local archives are unpacked into DEST */
	char *const *fetched;   /* ADD: per source, its download under fetch_fd ("" for none) */
	int fetch_fd;
	const char *dest_abs;   /* ADD: DEST as an absolute path in the image */
};

/* ADD unpacks a local tar (plain, gzip, zstd, bzip2 or xz, told by its
 * first bytes). Returns 1 for an archive, 0 for any other source, -1 on
 * error; *fd is the open file. */
static int add_archive(const struct copy_job *job, const char *src, int *fd, cn_err *err)
{
	unsigned char head[512];
	struct stat st;
	ssize_t n;
	*fd = -1;
	if (strpbrk(src, "*?[") || (job->opts.ignore && bf_ignore_match(job->opts.ignore, src)))
		return 0;       /* patterns and excluded names: COPY's rules and errors */
	*fd = cn_openat2(job->opts.ctx_fd, *src == '/' ? src + 1 : src, O_RDONLY | O_NONBLOCK,
			 RESOLVE_BENEATH);
	if (*fd < 0 || fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto not_archive;
	n = pread(*fd, head, sizeof(head), 0);
	(void)err;
	if ((n >= 3 && !memcmp(head, "BZh", 3)) || (n >= 6 && !memcmp(head, "\xfd" "7zXZ\0", 6)) ||
	    (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) ||
	    (n >= 4 && !memcmp(head, "\x28\xb5\x2f\xfd", 4)) ||
	    (n >= 262 && !memcmp(head + 257, "ustar", 5)))
		return 1;
not_archive:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return 0;
}

struct mkdir_job {
	const char *path;
	const char *user;       /* owner of created directories: NULL or "" for root */
};

static int mkdir_in_root(int root_fd, int unused_fd, void *arg, cn_err *err);

/* ADD: sources in the order written (a later one overwrites an earlier
 * one, as in docker): archives unpacked into DEST (a directory), the others
 * copied as COPY copies them. With several sources DEST ends in '/', so
 * copying them one by one means the same as copying them together. */
static int add_in_root(int root_fd, struct copy_job *job, cn_err *err)
{
	const char *const *srcs = job->opts.srcs;
	size_t nsrcs = job->opts.nsrcs;
	for (size_t i = 0; i < nsrcs; i++) {
		const char *src = srcs[i];
		_cleanup_close_ int in = -1, dest = -1;
		struct layer_extract_opts xo = { .overlay_whiteouts = false, .bzip2_xz = true };
		int r;
		if (job->fetched && *job->fetched[i]) {
			/* A download: copied as a file (docker does not unpack it). */
			struct bf_copy_opts o = job->opts;
			const char *one[1] = { job->fetched[i] };
			o.ctx_fd = job->fetch_fd;
			o.src_is_root = false;
			o.ignore = NULL;
			o.exclude = NULL;
			o.srcs = one;
			o.nsrcs = 1;
			if (bf_copy(&o, err) < 0)
				return cn_err_wrap(err, "'%s'", src);
			continue;
		}
		r = add_archive(job, src, &in, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			job->opts.srcs = &srcs[i];
			job->opts.nsrcs = 1;
			if (bf_copy(&job->opts, err) < 0)
				return -1;
			continue;
		}
		if (job->chown || job->opts.chmod)
			return cn_err_set(err, ENOTSUP, "'%s': --chown and --chmod on an archive are not "
					  "supported yet", src);
		struct mkdir_job mj = { job->dest_abs, NULL };
		if (mkdir_in_root(root_fd, -1, &mj, err) < 0)
			return -1;
		dest = cn_openat2(root_fd, job->dest_abs, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
		if (dest < 0)
			return cn_err_sys(err, "'%s'", job->dest_abs);
		if (layer_extract(in, dest, &xo, NULL, err) < 0)
			return cn_err_wrap(err, "'%s'", src);
	}
	return 0;
}

static int copy_in_root(int root_fd, int src_fd, void *arg, cn_err *err)
{
	struct copy_job *job = arg;
	job->opts.root_fd = root_fd;
	if (src_fd >= 0 && !job->users_in_extra) {
		job->opts.ctx_fd = src_fd;
		job->opts.src_is_root = true;
	}
	if (job->chown) {
		struct sb_user u;
		if (sb_user_resolve(job->users_in_extra ? src_fd : root_fd, job->chown, &u, err) < 0)
			return -1;
		job->opts.chown = true;
		job->opts.uid = u.uid;
		/* docker: a user without a group means the same number as gid. */
		job->opts.gid = strchr(job->chown, ':') ? u.gid : (gid_t)u.uid;
	}
	if (job->add)
		return add_in_root(root_fd, job, err);
	return bf_copy(&job->opts, err);
}

static int parse_chmod(const char *s, mode_t *out)
{
	char *end;
	unsigned long v;
	if (!*s || strlen(s) > 4)
		return -1;
	v = strtoul(s, &end, 8);
	if (*end || v > 07777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

static int expand_sources(struct build *b, const struct bf_instr *in, const cn_strv *env,
			  cn_strv *srcs, cn_err *err)
{
	for (size_t i = 0; i < in->srcs.n; i++) {
		char *x;
		if (expand(b, env, in->srcs.v[i], &x, err) < 0)
			return -1;
		cn_strv_push(srcs, x);
	}
	return 0;
}

/* COPY <<NAME: the body (variables expanded unless the delimiter was
 * quoted; quotes kept, as BuildKit) becomes the file NAME, mode 0644. */
static int write_heredocs(struct build *b, const struct bf_instr *in, const cn_strv *env,
			  struct step_dir *s, cn_strv *names, cn_err *err)
{
	_cleanup_close_ int dir = -1;
	if (mkdirat(s->td.fd, "heredocs", 0755) < 0 ||
	    (dir = openat(s->td.fd, "heredocs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cn_err_sys(err, "create heredoc files");
	for (size_t i = 0; i < in->node->nheredocs; i++) {
		const struct bf_heredoc *hd = &in->node->heredocs[i];
		_cleanup_free_ char *body = heredoc_body(hd), *text = NULL;
		struct bf_lex_opts lex = { .flags = BF_LEX_RAW_QUOTES | BF_LEX_RAW_ESCAPES };
		_cleanup_close_ int fd = -1;
		if (!*hd->name || strchr(hd->name, '/') || !strcmp(hd->name, ".") || !strcmp(hd->name, ".."))
			return cn_err_set(err, EINVAL, "heredoc name '%s' cannot be a file name", hd->name);
		if (hd->expand) {
			if (bf_expand(body, b->prog.file.escape, env, &lex, &text, NULL, err) < 0)
				return -1;
		} else {
			text = CN_TAKE_PTR(body);
		}
		fd = openat(dir, hd->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 || cn_write_all(fd, text, strlen(text)) < 0 || fchmod(fd, 0644) < 0)
			return cn_err_sys(err, "write heredoc '%s'", hd->name);
		if (b->o->timestamp >= 0) {
			struct timespec t[2] = { { .tv_sec = b->o->timestamp }, { .tv_sec = b->o->timestamp } };
			futimens(fd, t);
		}
		cn_strv_pushdup(names, hd->name);
	}
	return 0;
}

/* What COPY --from names: an earlier stage (by name or index) or an image
 * in the store. Fills LAYERS/N (borrowed from the stage, or owned by IMG)
 * and STATE, the digest that identifies the source for the cache. */
static int copy_from_source(struct build *b, const struct bf_instr *in, struct store_image *img,
			    const struct store_layer **layers, size_t *n, char state[CN_DIGEST_STR_SIZE],
			    cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *from = NULL;
	memset(img, 0, sizeof(*img));
	visible_env(b, &env);
	if (expand(b, &env, in->from, &from, err) < 0)
		return -1;
	return stage_or_image(b, from, img, layers, n, state, err);
}

/* An earlier stage (by name or index) or an image in the store, by FROM. */
static int stage_or_image(struct build *b, const char *from, struct store_image *img,
			  const struct store_layer **layers, size_t *n, char state[CN_DIGEST_STR_SIZE],
			  cn_err *err)
{
	struct stage *st;
	int r;
	memset(img, 0, sizeof(*img));
	st = find_stage(b, from, true);
	if (st && !st->needed)
		return cn_err_set(err, 0, "--from=%s: that stage was skipped (cairn could not tell it "
				  "was needed)", from);
	if (st) {
		*layers = st->layers;
		*n = st->nlayers;
		memcpy(state, st->state, CN_DIGEST_STR_SIZE);
		return 0;
	}
	for (size_t i = 0; i < b->nstages; i++)
		if (b->stages[i].name && strcasecmp(b->stages[i].name, from) == 0)
			return cn_err_set(err, 0, "--from=%s: no earlier stage or image has that name "
					  "(the stage '%s' comes later)", from, from);
	r = load_image(b, from, img, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_set(err, 0, "--from=%s: no earlier stage or image in the store has that name",
				  from);
	*layers = img->layers;
	*n = img->nlayers;
	memcpy(state, img->manifest_digest, CN_DIGEST_STR_SIZE);
	return 0;
}

/* A file name as a COPY source: wildcard characters escaped. */
static char *escape_glob(const char *name)
{
	cn_buf out;
	cn_buf_init(&out, 0);
	for (; *name; name++) {
		if (strchr("*?[\\", *name))
			cn_buf_addc(&out, '\\');
		cn_buf_addc(&out, *name);
	}
	return cn_buf_detach(&out);
}

/* ADD: download the URL sources not fetched yet for this step (the cache
 * key may have needed them already), verifying --checksum. */
static int fetch_urls(struct build *b, const struct bf_instr *in, const cn_strv *srcs, cn_err *err)
{
	bool any = false;
	for (size_t i = 0; i < srcs->n; i++)
		any |= bf_is_url(srcs->v[i]);
	if (!any)
		return 0;
	if (!b->fetch_td.path && store_tmpdir_create(b->st, "fetch", &b->fetch_td, err) < 0)
		return -1;
	while (b->fetched.n < srcs->n) {
		cn_strv_pushdup(&b->fetched, "");
		cn_strv_pushdup(&b->fetch_digests, "");
	}
	for (size_t i = 0; i < srcs->n; i++) {
		_cleanup_free_ char *name = NULL, *sub = NULL, *path = NULL;
		_cleanup_close_ int dir = -1;
		struct bf_fetch_result res;
		if (!bf_is_url(srcs->v[i]) || *b->fetched.v[i])
			continue;
		name = bf_url_file_name(srcs->v[i]);
		sub = cn_xasprintf("%zu", i);
		if (mkdirat(b->fetch_td.fd, sub, 0755) < 0 ||
		    (dir = openat(b->fetch_td.fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return cn_err_sys(err, "create '%s/%s'", b->fetch_td.path, sub);
		if (!name)
			name = cn_xstrdup("unnamed");
		if (bf_fetch(srcs->v[i], dir, name, in->checksum, &res, err) < 0)
			return -1;
		path = escape_glob(name);
		free(b->fetched.v[i]);
		b->fetched.v[i] = cn_xasprintf("%s/%s", sub, path);
		free(b->fetch_digests.v[i]);
		b->fetch_digests.v[i] = cn_xstrdup(res.digest);
	}
	return 0;
}

/* Downloads are the step's alone. */
static void fetch_done(struct build *b)
{
	if (b->fetch_td.path)
		store_tmpdir_remove(b->st, &b->fetch_td);
	memset(&b->fetch_td, 0, sizeof(b->fetch_td));
	cn_strv_free(&b->fetched);
	cn_strv_free(&b->fetch_digests);
}

/* COPY/ADD --exclude: the patterns, expanded, as an ignore-file matcher
 * (*OUT NULL when there are none). */
static int exclude_matcher(struct build *b, const struct bf_instr *in, const cn_strv *env,
			   struct bf_ignore **out, cn_err *err)
{
	cn_buf text;
	*out = NULL;
	if (!in->excludes.n)
		return 0;
	cn_buf_init(&text, 0);
	for (size_t i = 0; i < in->excludes.n; i++) {
		_cleanup_free_ char *x = NULL;
		if (expand(b, env, in->excludes.v[i], &x, err) < 0) {
			cn_buf_free(&text);
			return -1;
		}
		if (strchr(x, '\n')) {
			cn_buf_free(&text);
			return cn_err_set(err, EINVAL, "--exclude='%s': a pattern cannot hold a line break", x);
		}
		cn_buf_adds(&text, x);
		cn_buf_addc(&text, '\n');
	}
	*out = bf_ignore_parse("--exclude", text.data, text.len, err);
	cn_buf_free(&text);
	return *out ? 0 : -1;
}

static void ignore_freep(struct bf_ignore **ig)
{
	bf_ignore_free(*ig);
}

static int do_copy(struct build *b, const struct bf_instr *in, cn_err *err)
{
	__attribute__((cleanup(ignore_freep))) struct bf_ignore *exclude = NULL;
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv srcs = { 0 };
	_cleanup_free_ char *dest = NULL, *chown = NULL, *dest_abs = NULL;
	struct copy_job job;
	const char *wd = bf_config_string(b->cur->cfg, "WorkingDir");
	struct step_dir s;
	int r;

	visible_env(b, &env);
	if (expand_sources(b, in, &env, &srcs, err) < 0)
		return -1;
	if (expand(b, &env, in->dest, &dest, err) < 0)
		return -1;
	if (in->chown && expand(b, &env, in->chown, &chown, err) < 0)
		return -1;
	/* docker's rule: several sources need a directory destination. */
	if (srcs.n > 1 && !bf_copy_dest_is_dir(dest))
		return cn_err_set(err, EINVAL, "with more than one source the destination must be "
				  "a directory and end with a /");
	memset(&job, 0, sizeof(job));
	job.chown = chown;
	if (in->chmod && parse_chmod(in->chmod, &job.opts.mode) < 0)
		return cn_err_set(err, EINVAL, "invalid --chmod '%s': an octal mode is expected", in->chmod);
	job.opts.chmod = in->chmod != NULL;
	job.opts.ctx_fd = b->ctx_fd;
	job.opts.parents = in->parents;
	if (exclude_matcher(b, in, &env, &exclude, err) < 0)
		return -1;
	job.opts.exclude = exclude;
	if (in->node->nheredocs) {
		/* The heredocs are the sources: files of their own in the step dir. */
		if (step_dir_create(b, &s, err) < 0)
			return -1;
		cn_strv_free(&srcs);
		r = write_heredocs(b, in, &env, &s, &srcs, err);
		if (r == 0) {
			_cleanup_close_ int hd_fd = openat(s.td.fd, "heredocs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			job.opts.ctx_fd = hd_fd;
			job.opts.srcs = (const char *const *)cn_strv_array(&srcs);
			job.opts.nsrcs = srcs.n;
			job.opts.dest = dest;
			job.opts.workdir = wd && *wd ? wd : "/";
			r = hd_fd < 0 ? cn_err_sys(err, "open heredocs") :
				sb_with_rootfs(&s.rootfs, NULL, copy_in_root, &job, err);
		}
		if (r == 0)
			r = commit_step(b, &s, in->node->original, err);
		step_dir_free(b, &s);
		return r;
	}
	job.opts.srcs = (const char *const *)cn_strv_array(&srcs);
	job.opts.nsrcs = srcs.n;
	job.opts.dest = dest;
	job.opts.workdir = wd && *wd ? wd : "/";
	job.opts.ignore = in->from ? NULL : b->ignore;  /* filters the build context only */
	job.add = in->kind == BF_ADD;
	for (size_t i = 0; job.add && i < srcs.n; i++) {
		_cleanup_free_ char *name = bf_is_url(srcs.v[i]) ? bf_url_file_name(srcs.v[i]) : NULL;
		if (bf_is_url(srcs.v[i]) && !name && (!*dest || dest[strlen(dest) - 1] == '/'))
			return cn_err_set(err, EINVAL, "'%s': the URL names no file (expected DEST to be "
					  "a file name, not a directory)", srcs.v[i]);
	}
	if (job.add && fetch_urls(b, in, &srcs, err) < 0)
		return -1;
	if (b->fetched.n) {
		job.fetched = b->fetched.v;
		job.fetch_fd = b->fetch_td.fd;
	}
	dest_abs = clean_path(job.opts.workdir, dest);
	job.dest_abs = dest_abs;
	if (in->link && in->from && chown && strspn(chown, "0123456789:") != strlen(chown))
		return cn_err_set(err, ENOTSUP, "--link with --from and --chown=%s: user and group "
				  "names cannot be looked up there (use numbers)", chown);
	if (step_dir_create(b, &s, err) < 0)
		return -1;
	/* --link: the layer is made on an empty root, as BuildKit does, so it
	 * depends on nothing below it; names for --chown come from the image. */
	struct sb_rootfs below = s.rootfs;
	if (in->link)
		s.rootfs.nlowers = 0;
	if (in->from) {
		/* The source stage or image, mounted read-only beside the root. */
		struct store_image img;
		const struct store_layer *layers;
		size_t n, nlowers = 0;
		char state[CN_DIGEST_STR_SIZE];
		char **lowers = NULL;
		_cleanup_free_ char *src = cn_xasprintf("%s/src", s.td.path);
		struct sb_rootfs from;
		r = copy_from_source(b, in, &img, &layers, &n, state, err);
		if (r == 0 && n == 0)
			r = cn_err_set(err, 0, "--from=%s: the source has no files", in->from);
		if (r == 0) {
			lowers = lower_paths(b, layers, n, &nlowers);
			from = (struct sb_rootfs){ .lowers = (const char *const *)lowers, .nlowers = nlowers,
						   .merged = src, .empty = s.empty };
			r = sb_with_rootfs(&s.rootfs, &from, copy_in_root, &job, err);
		}
		for (size_t i = 0; i < nlowers; i++)
			free(lowers[i]);
		free(lowers);
		store_image_free(&img);
	} else if (in->link && chown && below.nlowers > 0) {
		_cleanup_free_ char *merged = cn_xasprintf("%s/src", s.td.path);
		below.upper = NULL;
		below.merged = merged;
		job.users_in_extra = true;
		r = sb_with_rootfs(&s.rootfs, &below, copy_in_root, &job, err);
	} else {
		r = sb_with_rootfs(&s.rootfs, NULL, copy_in_root, &job, err);
	}
	if (r == 0)
		r = commit_step(b, &s, in->node->original, err);
	step_dir_free(b, &s);
	return r;
}

/* "a/./b/../c//" relative to cwd -> "/a/c" */
static char *clean_path(const char *cwd, const char *path)
{
	_cleanup_free_ char *joined = path[0] == '/' ? cn_xstrdup(path) : cn_xasprintf("%s/%s", cwd, path);
	char *out = cn_xmalloc(strlen(joined) + 2);
	size_t len = 0;
	for (char *tok, *save = NULL, *p = joined; (tok = strtok_r(p, "/", &save)); p = NULL) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			while (len > 0 && out[--len] != '/')
				;
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, tok, strlen(tok));
		len += strlen(tok);
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return out;
}

/* mkdir -p inside the root: every component resolved in it. The
 * directories it creates belong to JOB->user (WORKDIR passes the USER in
 * effect, as BuildKit does, so that user can write in its WORKDIR). */
static int mkdir_in_root(int root_fd, int unused_fd, void *arg, cn_err *err)
{
	(void)unused_fd;
	const struct mkdir_job *job = arg;
	bool owned = job->user && *job->user;
	struct sb_user u;
	if (owned && sb_user_resolve(root_fd, job->user, &u, err) < 0)
		return -1;
	_cleanup_free_ char *p = cn_xstrdup(job->path);
	int hops = 0;
restart:
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		int fd = cn_openat2(root_fd, p, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
		if (fd < 0 && errno == ENOENT) {
			char *slash = strrchr(p, '/');
			char target[4096];
			ssize_t n;
			*slash = '\0';
			_cleanup_close_ int parent = cn_openat2(root_fd, *p ? p : "/", O_RDONLY | O_DIRECTORY,
								  RESOLVE_IN_ROOT);
			*slash = '/';
			if (parent < 0)
				return cn_err_sys(err, "create %s", p);
			if (mkdirat(parent, slash + 1, 0755) < 0) {
				int e = errno;
				n = e == EEXIST ? readlinkat(parent, slash + 1, target, sizeof(target) - 1) : -1;
				if (n <= 0)
					return cn_err_set(err, e, "create %s", p);
				if (++hops > 40)
					return cn_err_set(err, ELOOP, "create %s", p);
				/* A dangling symlink: as docker, create its target (inside
				 * the root) and go on from there. */
				target[n] = '\0';
				*s = c;
				char *np = target[0] == '/' ? cn_xasprintf("%s%s", target, s) :
					cn_xasprintf("%.*s/%s%s", (int)(slash - p), p, target, s);
				free(p);
				p = np;
				goto restart;
			}
			if (owned && fchownat(parent, slash + 1, u.uid, u.gid, AT_SYMLINK_NOFOLLOW) < 0)
				return cn_err_sys(err, "chown %s", p);
		} else if (fd < 0) {
			return cn_err_sys(err, "%s", p);
		} else {
			close(fd);
		}
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int do_workdir(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *value = NULL, *path = NULL;
	const char *cur = bf_config_string(b->cur->cfg, "WorkingDir");
	struct step_dir s;
	int r;
	visible_env(b, &env);
	if (expand(b, &env, in->value, &value, err) < 0)
		return -1;
	path = clean_path(cur && *cur ? cur : "/", value);
	bf_config_set_string(b->cur->cfg, "WorkingDir", path);
	/* As BuildKit: the directory exists from here on (a layer if created). */
	if (step_dir_create(b, &s, err) < 0)
		return -1;
	struct mkdir_job job = { path, bf_config_string(b->cur->cfg, "User") };
	r = sb_with_rootfs(&s.rootfs, NULL, mkdir_in_root, &job, err);
	if (r == 0)
		r = commit_step(b, &s, in->node->original, err);
	step_dir_free(b, &s);
	return r;
}

static int do_env_label(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	char **keys = cn_xcalloc(in->nkvs + 1, sizeof(char *));
	char **values = cn_xcalloc(in->nkvs + 1, sizeof(char *));
	int r = 0;
	visible_env(b, &env);
	/* All values see the environment from before this instruction. */
	for (size_t i = 0; i < in->nkvs && r == 0; i++)
		if (expand(b, &env, in->kvs[i].key, &keys[i], err) < 0 ||
		    expand(b, &env, in->kvs[i].value, &values[i], err) < 0)
			r = -1;
	for (size_t i = 0; i < in->nkvs && r == 0; i++) {
		if (in->kind == BF_ENV) {
			if (!*keys[i] || strchr(keys[i], '='))
				r = cn_err_set(err, EINVAL, "invalid variable name '%s'", keys[i]);
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
		return cn_err_set(err, EINVAL, "invalid port '%s'", p);
	return 0;
}

static int do_words(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	visible_env(b, &env);
	for (size_t i = 0; i < in->words.n; i++) {
		_cleanup_free_ char *w = NULL;
		if (expand(b, &env, in->words.v[i], &w, err) < 0)
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
				return cn_err_set(err, EINVAL, "empty volume path");
			bf_config_add_set_member(b->cur->cfg, "Volumes", w);
		}
	}
	return 0;
}

static bool signal_ok(const char *s)
{
	static const char *const names[] = {
		"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
		"USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN",
		"TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
	};
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n <= 64;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0)
		return true;
	for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i]) == 0)
			return true;
	return false;
}

static int do_value(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *v = NULL;
	visible_env(b, &env);
	if (expand(b, &env, in->value, &v, err) < 0)
		return -1;
	switch (in->kind) {
	case BF_USER:
		bf_config_set_string(b->cur->cfg, "User", v);
		break;
	case BF_STOPSIGNAL:
		if (!signal_ok(v))
			return cn_err_set(err, EINVAL, "invalid signal '%s'", v);
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
		shell_argv(b, in, &argv);
		bf_config_set_strv(b->cur->cfg, "Cmd", argv.v, argv.n);
		return 0;
	default:
		shell_argv(b, in, &argv);
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
		return cn_err_set(err, EINVAL, "no FROM before this instruction");
	switch (in->kind) {
	case BF_FROM:
		return do_from(b, in, err);
	case BF_ARG:
		return do_arg(b, in, err);
	case BF_RUN:
		return do_run(b, in, err);
	case BF_COPY:
	case BF_ADD:
		return do_copy(b, in, err);
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
		return cn_err_set(err, ENOTSUP, "not supported yet");
	}
	if (r == 0)
		history(b, in->node->original, true);
	return r;
}

static int load_program(struct build *b, cn_err *err)
{
	_cleanup_buf_ cn_buf text;
	cn_buf_init(&text, BF_MAX_FILE);
	if (cn_read_file_at(AT_FDCWD, b->o->buildfile, BF_MAX_FILE, &text, err) < 0)
		return -1;
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
			emit(b, BF_EV_WARNING, msg, NULL, 0);
		}
	}
}

/* The sources' content and modes (not their times): a digest the stat
 * cache makes cheap when the files did not change, and their fingerprint. */
static int copy_sources_digest(struct build *b, const struct bf_instr *in,
			       char digest[CN_DIGEST_STR_SIZE], char fp[CN_DIGEST_STR_SIZE], cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv srcs = { 0 };
	__attribute__((cleanup(ignore_freep))) struct bf_ignore *exclude = NULL;
	struct bf_copy_opts co = { .ctx_fd = b->ctx_fd, .root_fd = -1, .ignore = b->ignore,
				   .parents = in->parents };
	visible_env(b, &env);
	if (expand_sources(b, in, &env, &srcs, err) < 0 || exclude_matcher(b, in, &env, &exclude, err) < 0)
		return -1;
	/* URLs are keyed by step_extra. */
	for (size_t i = srcs.n; i-- > 0;)
		if (bf_is_url(srcs.v[i])) {
			free(srcs.v[i]);
			memmove(&srcs.v[i], &srcs.v[i + 1], (srcs.n - i) * sizeof(char *));
			srcs.n--;
		}
	if (!srcs.n) {
		cn_sha256_oneshot("", 0, digest);
		cn_sha256_oneshot("", 0, fp);
		return 0;
	}
	co.exclude = exclude;
	co.srcs = (const char *const *)cn_strv_array(&srcs);
	co.nsrcs = srcs.n;
	return bf_copy_digest(&co, b->ctx_path, b->sc, digest, fp, err);
}

static int binds_extra(struct build *b, const struct bf_instr *in, char **extra,
		       char fp[CN_DIGEST_STR_SIZE], cn_err *err);

/* A result may be filed under the key computed before the step only if
 * the inputs the key saw are what the step used: for COPY, the sources must
 * not have been touched meanwhile (else the layer may hold other content). */
static bool inputs_held(struct build *b, const struct bf_instr *in)
{
	char digest[CN_DIGEST_STR_SIZE], fp[CN_DIGEST_STR_SIZE];
	cn_err ignored;
	if (in->kind == BF_RUN)
		return !in->mounts.n || (binds_extra(b, in, NULL, fp, &ignored) == 0 && strcmp(fp, b->copy_fp) == 0);
	if ((in->kind != BF_COPY && in->kind != BF_ADD) || in->from || in->node->nheredocs)
		return true;
	return copy_sources_digest(b, in, digest, fp, &ignored) == 0 && strcmp(fp, b->copy_fp) == 0;
}

/* RUN --mount=type=bind: what each source holds, hashed by the same walk
 * that copies it (the context's through the stat cache and the ignore
 * file; a stage or image by its state); FP gets the context sources'
 * fingerprint. */
static int binds_extra(struct build *b, const struct bf_instr *in, char **extra,
		       char fp[CN_DIGEST_STR_SIZE], cn_err *err)
{
	cn_sha256 all;
	cn_buf x;
	int r = 0;
	cn_sha256_init(&all);
	cn_buf_init(&x, 0);
	if (extra)
		cn_buf_adds(&x, *extra);
	for (size_t i = 0; r == 0 && i < in->mounts.n; i++) {
		struct mount_spec ms;
		char digest[CN_DIGEST_STR_SIZE], one_fp[CN_DIGEST_STR_SIZE];
		r = mount_spec_parse(b, in->mounts.v[i], &ms, err);
		if (r == 0 && ms.from && (!strcmp(ms.type, "bind") || !strcmp(ms.type, "cache"))) {
			struct store_image img;
			const struct store_layer *layers;
			size_t n;
			r = stage_or_image(b, ms.from, &img, &layers, &n, digest, err);
			store_image_free(&img);
			if (r == 0)
				cn_buf_addf(&x, " %s%zu=from:%s", ms.type, i, digest);
		} else if (r == 0 && !strcmp(ms.type, "bind")) {
			_cleanup_free_ char *src = bind_source(&ms);
			const char *one[1] = { src };
			struct bf_copy_opts co = { .ctx_fd = b->ctx_fd, .root_fd = -1, .ignore = b->ignore,
						   .srcs = one, .nsrcs = 1 };
			r = bf_copy_digest(&co, b->ctx_path, b->sc, digest, one_fp, err);
			if (r < 0) {
				if (!strncmp(err->msg, "COPY: ", 6))
					memmove(err->msg, err->msg + 6, strlen(err->msg + 6) + 1);
				cn_err_wrap(err, "--mount=type=bind,source=%s", ms.source ? ms.source : "/");
			} else {
				cn_buf_addf(&x, " bind%zu=%s", i, digest);
				cn_sha256_update(&all, one_fp, strlen(one_fp));
			}
		}
		mount_spec_free(&ms);
	}
	if (r == 0) {
		cn_sha256_final(&all, fp);
		if (extra) {
			free(*extra);
			*extra = cn_buf_detach(&x);
		}
	} else {
		cn_sha256_free(&all);
	}
	cn_buf_free(&x);
	return r;
}

/* ADD URL: the URL and its --checksum, else what it serves now (it is
 * fetched for the key, as docker re-fetches to decide). */
static int url_extra(struct build *b, const struct bf_instr *in, char **extra, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 }, srcs = { 0 };
	cn_buf x;
	bool any = false;
	visible_env(b, &env);
	if (expand_sources(b, in, &env, &srcs, err) < 0)
		return -1;
	for (size_t i = 0; i < srcs.n; i++)
		any |= bf_is_url(srcs.v[i]);
	if (!any)
		return 0;
	if (!in->checksum && fetch_urls(b, in, &srcs, err) < 0)
		return -1;
	cn_buf_init(&x, 0);
	cn_buf_adds(&x, *extra);
	for (size_t i = 0; i < srcs.n; i++) {
		if (!bf_is_url(srcs.v[i]))
			continue;
		if (in->checksum)
			cn_buf_addf(&x, " url=%s checksum=%s", srcs.v[i], in->checksum);
		else
			cn_buf_addf(&x, " url=%s content=%s", srcs.v[i], b->fetch_digests.v[i]);
	}
	free(*extra);
	*extra = cn_buf_detach(&x);
	return 0;
}

/* What besides the instruction text decides a step's result. Sets
 * *cacheable to false for steps whose inputs cairn cannot see yet. */
static int step_extra(struct build *b, const struct bf_instr *in, char **extra, bool *cacheable,
		      cn_err *err)
{
	*extra = NULL;
	*cacheable = true;
	switch (in->kind) {
	case BF_RUN:
		*extra = cn_xstrdup(in->network == BF_NET_NONE ||
				    (in->network == BF_NET_DEFAULT && b->o->network == SB_NET_NONE)
				    ? "network=none" : "network=host");
		return binds_extra(b, in, extra, b->copy_fp, err);
	case BF_COPY:
	case BF_ADD: {
		char digest[CN_DIGEST_STR_SIZE];
		if (in->node->nheredocs)
			return 0;       /* the bodies are in the key already */
		if (in->from) {
			/* A stage's or image's state fixes all of its files. */
			struct store_image img;
			const struct store_layer *layers;
			size_t n;
			int r = copy_from_source(b, in, &img, &layers, &n, digest, err);
			store_image_free(&img);
			if (r < 0)
				return -1;
			*extra = cn_xasprintf("from=%s", digest);
			return 0;
		}
		if (copy_sources_digest(b, in, digest, b->copy_fp, err) < 0)
			return -1;
		*extra = cn_xasprintf("sources=%s", digest);
		if (in->kind == BF_ADD)
			return url_extra(b, in, extra, err);
		return 0;
	}
	default:
		return 0;
	}
}

static int run_step(struct build *b, const struct bf_instr *in, cn_err *err);

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
			r = cn_err_set(err, EINVAL, "ONBUILD trigger %zu of the base image is not a string", i + 1);
			break;
		}
		if (bf_program_parse("ONBUILD trigger", src, strlen(src), &prog, err) < 0) {
			r = -1;
			break;
		}
		if (prog.ninstrs != 2 || prog.instrs[1].kind == BF_FROM || prog.instrs[1].kind == BF_ONBUILD) {
			r = cn_err_set(err, EINVAL, "ONBUILD trigger '%s' is not one instruction", text);
		} else {
			_cleanup_free_ char *shown = cn_xasprintf("ONBUILD %s", text);
			emit(b, BF_EV_STEP, shown, NULL, 0);
			/* The trigger is not on a Buildfile line: no column for it. */
			b->in_trigger = true;
			r = run_step(b, &prog.instrs[1], err);
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
		hash_field(&h, b->cur->key);
		hash_field(&h, "ONBUILD consumed");
		cn_sha256_final(&h, key);
		r = commit_state(b, key, err);
	}
	return r;
}

static int run_step_inner(struct build *b, const struct bf_instr *in, cn_err *err);

/* One instruction: from the cache when its key has a whole state there,
 * else run, then record the new state. FROM and ARG make no state. */
static int run_step(struct build *b, const struct bf_instr *in, cn_err *err)
{
	int r = run_step_inner(b, in, err);
	fetch_done(b);
	return r;
}

static int run_step_inner(struct build *b, const struct bf_instr *in, cn_err *err)
{
	char key[CN_DIGEST_STR_SIZE], manifest[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *extra = NULL;
	bool cacheable;
	if (in->kind == BF_FROM)
		return run_instruction(b, in, err) < 0 ? -1 : run_triggers(b, err);
	if (in->kind == BF_ARG || !b->cur)
		return run_instruction(b, in, err);
	if (step_extra(b, in, &extra, &cacheable, err) < 0)
		return -1;
	step_key(b, in, extra, key);
	if (cacheable && !b->o->no_cache && store_cache_get(b->st, key, manifest) == 1 &&
	    adopt_state(b, manifest)) {
		memcpy(b->cur->key, key, sizeof(b->cur->key));
		b->cur->state_size = 0;
		emit(b, BF_EV_CACHED, NULL, manifest, 0);
		return 0;
	}
	if (run_instruction(b, in, err) < 0)
		return -1;
	if (cacheable && !inputs_held(b, in)) {
		emit(b, BF_EV_WARNING, "the COPY sources changed while they were copied: "
		     "this step's result is not cached", NULL, 0);
		cacheable = false;
	}
	if (commit_state(b, cacheable ? key : NULL, err) < 0)
		return -1;
	/* Inputs cairn cannot see: what follows is keyed by this step's result. */
	if (!cacheable) {
		cn_sha256 h;
		cn_sha256_init(&h);
		hash_field(&h, key);
		hash_field(&h, b->cur->state);
		cn_sha256_final(&h, b->cur->key);
	}
	return 0;
}

/* The platform ARGs BuildKit predefines, in the global scope (a stage
 * sees one after declaring it with a bare ARG). */
static void platform_args(struct build *b)
{
	const char *arch = bf_config_architecture();
	_cleanup_free_ char *platform = cn_xasprintf("linux/%s", arch);
	static const char *const prefixes[] = { "TARGET", "BUILD" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(prefixes); i++) {
		char name[32];
		snprintf(name, sizeof(name), "%sPLATFORM", prefixes[i]);
		cn_env_set(&b->meta_args, name, platform);
		snprintf(name, sizeof(name), "%sOS", prefixes[i]);
		cn_env_set(&b->meta_args, name, "linux");
		snprintf(name, sizeof(name), "%sARCH", prefixes[i]);
		cn_env_set(&b->meta_args, name, arch);
		snprintf(name, sizeof(name), "%sVARIANT", prefixes[i]);
		cn_env_set(&b->meta_args, name, "");
	}
	/* Known names: using one undeclared is not a typo worth a warning. */
	for (size_t i = 0; i < b->meta_args.n; i++) {
		_cleanup_free_ char *name = cn_xstrndup(b->meta_args.v[i], strcspn(b->meta_args.v[i], "="));
		cn_env_set(&b->declared, name, "");
	}
}

/* Stages from the FROM lines; which ones the target needs (its FROM chain
 * and COPY --from sources, transitively), as BuildKit skips the rest. Stage
 * references are read with the global ARGs, which are known by now. */
static int plan_stages(struct build *b, cn_err *err)
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
			return cn_err_set(err, 0, "--target: no build stage named '%s'", b->o->target);
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
			for (size_t m = 0; in->kind == BF_RUN && m < in->mounts.n; m++) {
				struct mount_spec ms;
				struct stage *dep = NULL;
				if (mount_spec_parse(NULL, in->mounts.v[m], &ms, &ignored) == 0 && ms.from) {
					b->cur = st;
					dep = find_stage(b, ms.from, true);
					b->cur = NULL;
				}
				mount_spec_free(&ms);
				if (dep) {
					dep->needed = true;
					if (!st->deps)
						st->deps = cn_xcalloc(b->nstages, sizeof(bool));
					st->deps[dep - b->stages] = true;
				}
			}
			if (!raw || bf_expand_word(raw, b->prog.file.escape, &b->meta_args, &ref, NULL, &ignored) < 0)
				continue;
			b->cur = st;
			struct stage *dep = find_stage(b, ref, in->kind == BF_COPY);
			b->cur = NULL;
			if (dep) {
				dep->needed = true;
				if (!st->deps)
					st->deps = cn_xcalloc(b->nstages, sizeof(bool));
				st->deps[dep - b->stages] = true;
			}
		}
	}
	b->nstages = target + 1;        /* stages after the target never run */
	return 0;
}

static int run_one(struct build *b, size_t i, cn_err *err)
{
	const struct bf_instr *in = &b->prog.instrs[i];
	const char *msg;
	b->step = i + 1;
	if (cn_interrupted())
		return cn_err_plain(err, EINTR, "interrupted");
	emit(b, BF_EV_STEP, in->node->original, NULL, 0);
	if (run_step(b, in, err) == 0) {
		if (in->kind == BF_CMD)
			b->cur->cmd_set = true;
		return 0;
	}
	if (b->positioned)
		return -1;
	/* "Buildfile:7: RUN: exit status 3"; keep an inner "COPY: ..." prefix once
	 * (ADD's share COPY's code, so theirs say COPY: name the instruction). */
	msg = err->msg;
	if (in->kind == BF_ADD && strncmp(msg, "COPY: ", 6) == 0)
		memmove(err->msg, msg + 6, strlen(msg + 6) + 1);
	if (strncmp(msg, in->name, strlen(in->name)) == 0 && msg[strlen(in->name)] == ':')
		return cn_err_wrap(err, "%s:%d", b->o->buildfile, in->node->start_line);
	return cn_err_wrap(err, "%s:%d: %s", b->o->buildfile, in->node->start_line, in->name);
}

static int run_stage(struct build *b, struct stage *st, cn_err *err)
{
	b->cur = st;
	for (size_t i = st->first; i < st->end; i++)
		if (run_one(b, i, err) < 0)
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
};

struct worker_result {
	int ok;
	char state[CN_DIGEST_STR_SIZE];
	char key[CN_DIGEST_STR_SIZE];
	cn_err err;
};

static int start_worker(struct build *b, size_t k, struct worker *w, cn_err *err)
{
	int out[2], res[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	fflush(stdout);
	fflush(stderr);
	w->pid = fork();
	if (w->pid < 0)
		return cn_err_sys(err, "fork");
	if (w->pid == 0) {
		struct worker_result r = { 0 };
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		r.ok = run_stage(b, &b->stages[k], &r.err) == 0;
		memcpy(r.state, b->stages[k].state, sizeof(r.state));
		memcpy(r.key, b->stages[k].key, sizeof(r.key));
		fflush(stdout);
		fflush(stderr);
		if (write(res[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(r.ok ? 0 : 1);
	}
	close(out[1]);
	close(res[1]);
	w->stage = k;
	w->out = out[0];
	w->res = res[0];
	cn_buf_init(&w->line, 0);
	return 0;
}

/* Copy complete lines of a worker's output, prefixed "[stage] ". */
static void relay_worker(struct build *b, struct worker *w, bool flush)
{
	const struct stage *st = &b->stages[w->stage];
	char buf[8192], *nl;
	ssize_t n = flush ? 0 : read(w->out, buf, sizeof(buf));
	if (n > 0)
		cn_buf_add(&w->line, buf, (size_t)n);
	if (n == 0 && !flush && w->out >= 0) {
		close(w->out);
		w->out = -1;
	}
	while ((nl = memchr(w->line.data, '\n', w->line.len)) || ((flush || w->out < 0) && w->line.len)) {
		size_t len = nl ? (size_t)(nl - w->line.data) + 1 : w->line.len;
		_cleanup_free_ char *prefix = st->name ? cn_xasprintf("[%s] ", st->name)
						       : cn_xasprintf("[stage %zu] ", w->stage);
		(void)cn_write_all(b->o->out_fd, prefix, strlen(prefix));
		(void)cn_write_all(b->o->out_fd, w->line.data, len);
		if (!nl)
			(void)cn_write_all(b->o->out_fd, "\n", 1);
		memmove(w->line.data, w->line.data + len, w->line.len - len + 1);
		w->line.len -= len;
	}
}

/* The stages before the last, independent ones side by side (at most
 * o->jobs at a time, each in a process of its own); the last in this
 * process once all are done. Results travel as image states. */
static int run_stages_parallel(struct build *b, cn_err *err)
{
	struct worker *ws = cn_xcalloc(b->o->jobs, sizeof(*ws));
	size_t running = 0, last = b->nstages - 1;
	int r = 0;
	for (;;) {
		/* Start what can start. */
		for (size_t k = 0; r == 0 && k < last && running < b->o->jobs && !cn_interrupted(); k++) {
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
		struct pollfd pfd[2 * 64];
		size_t np = 0;
		for (size_t i = 0; i < running && np + 2 <= CN_ARRAY_SIZE(pfd); i++) {
			if (ws[i].out >= 0)
				pfd[np++] = (struct pollfd){ .fd = ws[i].out, .events = POLLIN };
			pfd[np++] = (struct pollfd){ .fd = ws[i].res, .events = POLLIN };
		}
		if (poll(pfd, np, 200) < 0 && errno != EINTR) {
			r = cn_err_sys(err, "poll");
			break;
		}
		for (size_t i = 0; i < running; i++) {
			struct worker *w = &ws[i];
			struct pollfd *po = NULL, *pr = NULL;
			for (size_t p = 0; p < np; p++) {
				if (pfd[p].fd == w->out)
					po = &pfd[p];
				if (pfd[p].fd == w->res)
					pr = &pfd[p];
			}
			if (po && po->revents)
				relay_worker(b, w, false);
			if (!pr || !pr->revents || w->out >= 0)
				continue;       /* its output first, to the end */
			struct worker_result res;
			ssize_t n = read(w->res, &res, sizeof(res));
			int ws_status;
			waitpid(w->pid, &ws_status, 0);
			relay_worker(b, w, true);
			close(w->res);
			cn_buf_free(&w->line);
			if (r == 0 && (n != (ssize_t)sizeof(res) || !res.ok)) {
				if (n == (ssize_t)sizeof(res)) {
					res.err.msg[sizeof(res.err.msg) - 1] = '\0';
					*err = res.err;
				} else {
					cn_err_set(err, 0, "stage %zu: the build process died", w->stage);
				}
				r = -1;
			} else if (r == 0) {
				struct stage *st = &b->stages[w->stage];
				b->cur = st;
				if (*res.state && !adopt_state(b, res.state)) {
					r = cn_err_set(err, 0, "stage %zu: its result %s is not whole", w->stage, res.state);
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
		r = cn_err_plain(err, EINTR, "interrupted");
	if (r == 0)
		r = run_stage(b, &b->stages[last], err);
	return r;
}

int bf_build(struct store *st, const struct bf_build_opts *o, struct bf_build_result *res, cn_err *err)
{
	struct build b = { .st = st, .o = o, .ctx_fd = -1 };
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
	platform_args(&b);
	/* The global ARGs first: stage references may use them. */
	for (i = 0; i < b.prog.ninstrs && b.prog.instrs[i].kind != BF_FROM; i++)
		if (run_one(&b, i, err) < 0)
			goto out;
	if (plan_stages(&b, err) < 0)
		goto out;
	if (o->jobs > 1 && !b.sequential && b.nstages > 2) {
		if (run_stages_parallel(&b, err) < 0)
			goto out;
	} else {
		for (size_t k = 0; k < b.nstages; k++)
			if (b.stages[k].needed && run_stage(&b, &b.stages[k], err) < 0)
				goto out;
	}
	last = &b.stages[b.nstages - 1];
	b.cur = last;
	warn_unused_args(&b);
	crash_point("image");
	if (cn_interrupted()) {
		cn_err_plain(err, EINTR, "interrupted");
		goto out;
	}
	/* FROM scratch and nothing else still makes an image. */
	if (!*last->state && commit_state(&b, last->key, err) < 0)
		goto out;
	memcpy(res->manifest_digest, last->state, sizeof(res->manifest_digest));
	res->manifest_size = last->state_size ? last->state_size : store_blob_size(st, last->state);
	res->nlayers = last->nlayers;
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
	for (size_t k = 0; k < b.nstages; k++) {
		json_decref(b.stages[k].cfg);
		free(b.stages[k].layers);
		cn_strv_free(&b.stages[k].args);
		cn_strv_free(&b.stages[k].declared);
		free(b.stages[k].deps);
	}
	cn_strv_free(&b.declared);
	cn_strv_free(&b.warned);
	free(b.stages);
	cn_strv_free(&b.meta_args);
	cn_strv_free(&b.used_args);
	bf_program_free(&b.prog);
	return r;
}
