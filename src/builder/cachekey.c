/* The build cache: keys (the parent key, the instruction, the build
 * args and what else decides the result) and adopting a cached state. */
#include "builder/build_internal.h"

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

static int cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void bd_hash_field(cn_sha256 *h, const char *s)
{
	/* Length-prefixed: no two field lists hash alike. */
	size_t len = strlen(s);
	cn_sha256_update(h, &len, sizeof(len));
	cn_sha256_update(h, s, len);
}

/* The key of the state FROM gives: the base, and what shapes every layer. */
void bd_root_key(struct build *b, const char *base)
{
	cn_sha256 h;
	char ts[32];
	snprintf(ts, sizeof(ts), "%lld", b->o->timestamp);
	cn_sha256_init(&h);
	char esc[2] = { b->prog.file.escape, '\0' };
	/* Bumped whenever a step's result changes for the same inputs (v3:
	 * COPY's new-directory modes, --parents markers, hard links; v4: COPY
	 * carries POSIX ACLs; v5: a hard link and a symlink to one path no
	 * longer key alike), so old entries are never reused. */
	bd_hash_field(&h, "cairn build cache v5");
	bd_hash_field(&h, base);
	bd_hash_field(&h, esc);    /* how every instruction's text is read */
	bd_hash_field(&h, layer_media_type(b->o->compression));
	/* zstd layers are multithreaded-format blobs of a job size, gzip ones
	 * blocks deflated apart (pgzip.c): each names its unit, so entries
	 * made before either change are not reused; a level changes the bytes. */
	if (b->o->compression == LAYER_ZSTD || b->o->compression == LAYER_GZIP) {
		char unit[32];
		if (b->o->compression == LAYER_ZSTD)
			snprintf(unit, sizeof(unit), "zstd jobs %zu", (size_t)LAYER_ZSTD_JOB_SIZE);
		else
			snprintf(unit, sizeof(unit), "gzip blocks %zu", (size_t)LAYER_GZIP_BLOCK);
		bd_hash_field(&h, unit);
	}
	if (b->o->compression_level) {
		char lv[32];
		snprintf(lv, sizeof(lv), "level %d", b->o->compression_level);
		bd_hash_field(&h, lv);
	}
	bd_hash_field(&h, ts);
	cn_sha256_final(&h, b->cur->key);
}

/* A step's key: the parent key, the instruction as written (what it
 * expands to depends only on the parent state's ENV and on the ARG values,
 * both in the key), the build args it sees, and EXTRA (COPY's sources). */
void bd_step_key(const struct build *b, const struct bf_instr *in, const char *extra,
		     char out[CN_DIGEST_STR_SIZE])
{
	_cleanup_strv_ cn_strv args = { 0 };
	cn_sha256 h;
	cn_strv_copy(&args, &b->cur->args);
	if (args.n)
		qsort(args.v, args.n, sizeof(char *), cmp_strings);
	cn_sha256_init(&h);
	bd_hash_field(&h, b->cur->key);
	bd_hash_field(&h, in->node->original);
	/* Heredoc bodies are not in the line itself. */
	for (size_t i = 0; i < in->node->nheredocs; i++) {
		const struct bf_heredoc *hd = &in->node->heredocs[i];
		bd_hash_field(&h, hd->name);
		bd_hash_field(&h, hd->content);
		bd_hash_field(&h, hd->expand ? "expand" : "raw");
		bd_hash_field(&h, hd->chomp ? "chomp" : "keep");
	}
	for (size_t i = 0; i < args.n; i++)
		bd_hash_field(&h, args.v[i]);
	bd_hash_field(&h, extra ? extra : "");
	cn_sha256_final(&h, out);
}

/* Record the state after a step as an image of its own (its parent the
 * state before), and file it in the cache under KEY (unless NULL). */
int bd_commit_state(struct build *b, const char *key, cn_err *err)
{
	struct store_image img;
	char now[32];
	bd_now_rfc3339(b, now);
	bf_config_set_created(b->cur->cfg, now);
	if (store_image_write(b->st, b->cur->cfg, b->cur->layers, b->cur->nlayers, *b->cur->state ? b->cur->state : NULL,
			      &img, err) < 0)
		return -1;
	memcpy(b->cur->state, img.manifest_digest, sizeof(b->cur->state));
	memcpy(b->cur->id, img.config_digest, sizeof(b->cur->id));
	b->cur->state_size = img.manifest_size;
	if (!key)
		return 0;
	memcpy(b->cur->key, key, sizeof(b->cur->key));
	bd_journal(b, key);
	return store_cache_put(b->st, key, b->cur->state, err);
}

/* The sources' content and modes (not their times): a digest the stat
 * cache makes cheap when the files did not change, and their fingerprint. */
static int copy_sources_digest(struct build *b, const struct bf_instr *in,
			       char digest[CN_DIGEST_STR_SIZE], char fp[CN_DIGEST_STR_SIZE], cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv srcs = { 0 };
	__attribute__((cleanup(bd_ignore_freep))) struct bf_ignore *exclude = NULL;
	struct bf_copy_opts co = { .ctx_fd = b->ctx_fd, .root_fd = -1, .ignore = b->ignore,
				   .parents = in->parents };
	bd_visible_env(b, &env);
	if (bd_expand_sources(b, in, &env, &srcs, err) < 0 || bd_exclude_matcher(b, in, &env, &exclude, err) < 0)
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

enum sb_network bd_step_network(const struct build *b, const struct bf_instr *in)
{
	switch (in->network) {
	case BF_NET_NONE:
		return SB_NET_NONE;
	case BF_NET_HOST:
		return SB_NET_HOST;
	default:
		return b->o->network;   /* cairn build --network */
	}
}

/* The network's name in cache keys ("host" and "none" as keys always had). */
static const char *network_name(enum sb_network n)
{
	switch (n) {
	case SB_NET_NONE:
		return "none";
	case SB_NET_PRIVATE:
		return "private";
	case SB_NET_DEFAULT:
		return "default";
	default:
		return "host";
	}
}

/* A result may be filed under the key computed before the step only if
 * the inputs the key saw are what the step used: for COPY, the sources must
 * not have been touched meanwhile (else the layer may hold other content). */
bool bd_inputs_held(struct build *b, const struct bf_instr *in)
{
	char digest[CN_DIGEST_STR_SIZE], fp[CN_DIGEST_STR_SIZE];
	cn_err ignored;
	if (in->kind == BF_RUN)
		return !in->nmounts || (binds_extra(b, in, NULL, fp, &ignored) == 0 && strcmp(fp, b->copy_fp) == 0);
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
	if (bd_step_mounts(b, in, err) < 0)
		return -1;
	cn_sha256_init(&all);
	cn_buf_init(&x, 0);
	if (extra)
		cn_buf_adds(&x, *extra);
	for (size_t i = 0; r == 0 && i < b->nmounts; i++) {
		const struct mount_spec ms = b->mounts[i];
		char digest[CN_DIGEST_STR_SIZE], one_fp[CN_DIGEST_STR_SIZE];
		if (ms.from && (ms.kind == BD_MOUNT_BIND || ms.kind == BD_MOUNT_CACHE)) {
			struct store_image img;
			const struct store_layer *layers;
			size_t n;
			r = bd_stage_or_image(b, ms.from, &img, &layers, &n, digest, err);
			store_image_free(&img);
			if (r == 0)
				cn_buf_addf(&x, " %s%zu=from:%s", ms.type, i, digest);
		} else if (ms.kind == BD_MOUNT_BIND) {
			_cleanup_free_ char *src = bd_bind_source(&ms);
			const char *one[1] = { src };
			struct bf_copy_opts co = { .ctx_fd = b->ctx_fd, .root_fd = -1, .ignore = b->ignore,
						   .srcs = one, .nsrcs = 1 };
			r = bf_copy_digest(&co, b->ctx_path, b->sc, digest, one_fp, err);
			if (r < 0) {
				cn_err_wrap(err, "--mount=type=bind,source=%s", ms.source ? ms.source : "/");
			} else {
				cn_buf_addf(&x, " bind%zu=%s", i, digest);
				cn_sha256_update(&all, one_fp, strlen(one_fp));
			}
		}
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
	bd_visible_env(b, &env);
	if (bd_expand_sources(b, in, &env, &srcs, err) < 0)
		return -1;
	for (size_t i = 0; i < srcs.n; i++)
		any |= bf_is_url(srcs.v[i]);
	if (!any)
		return 0;
	if (!in->checksum && bd_fetch_urls(b, in, &srcs, err) < 0)
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
int bd_step_extra(struct build *b, const struct bf_instr *in, char **extra, bool *cacheable,
		      cn_err *err)
{
	*extra = NULL;
	*cacheable = true;
	switch (in->kind) {
	case BF_RUN:
		*extra = cn_xasprintf("network=%s", network_name(bd_step_network(b, in)));
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
			int r = bd_copy_from_source(b, in, &img, &layers, &n, digest, err);
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
