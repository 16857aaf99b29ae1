/* The build cache in use: a step's key looked up in the store's cache,
 * then in the caches --cache-from imported (whose layers come only when a
 * step needs their content), and the --cache-to journal of every key a
 * step reached, which rcache/ exports after the build. */
#include "builder/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void bf_cache_records_free(struct bf_cache_records *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* Adopt the state MANIFEST, if it is whole: a manifest and config that
 * verify, and every layer's blob and snapshot, or, with --cache-from, a
 * layer an imported cache can supply. A state the store's own cache names
 * (TRUSTED) is used as it is; another one (an imported hit, a stage
 * worker's result) leaves the stage pending while any of its layers is one
 * an imported cache names: bd_materialize verifies those (digest, size,
 * diff_id) before a step or the image uses them, even when the store has
 * a blob and a snapshot of those names (a document may pair them wrongly). */
static char *pair_of(const struct store_layer *l)
{
	return cn_xasprintf("%s %s", l->digest, l->diff_id);
}

static bool is_trusted(const struct build *b, const struct store_layer *l)
{
	_cleanup_free_ char *pair = pair_of(l);
	for (size_t i = 0; i < b->trusted.n; i++)
		if (strcmp(b->trusted.v[i], pair) == 0)
			return true;
	return false;
}

void bd_trust_layers(struct build *b, const struct store_layer *layers, size_t n)
{
	if (!b->o->cache_from)
		return;
	for (size_t i = 0; i < n; i++)
		if (!is_trusted(b, &layers[i]))
			cn_strv_push(&b->trusted, pair_of(&layers[i]));
}

static bool adopt(struct build *b, const char *manifest, bool trusted)
{
	const struct bf_cache_import *im = b->o->cache_from;
	struct store_image img;
	bool pending = false;
	cn_err ignored;
	if (store_image_load_manifest(b->st, manifest, &img, &ignored) != 1)
		return false;
	for (size_t i = 0; i < img.nlayers; i++) {
		bool named = im && im->has_layer(im->ctx, img.layers[i].digest);
		if (store_blob_exists(b->st, img.layers[i].digest) &&
		    store_snapshot_exists(b->st, img.layers[i].diff_id)) {
			pending |= !trusted && named && !is_trusted(b, &img.layers[i]);
			continue;
		}
		if (!named) {
			store_image_free(&img);
			return false;
		}
		pending = true;
	}
	if (trusted)
		bd_trust_layers(b, img.layers, img.nlayers);
	json_decref(b->cur->cfg);
	b->cur->cfg = bf_config_from_base(img.config);
	free(b->cur->layers);
	b->cur->layers = CN_TAKE_PTR(img.layers);
	b->cur->nlayers = b->cur->cap = img.nlayers;
	memcpy(b->cur->state, manifest, sizeof(b->cur->state));
	memcpy(b->cur->id, img.config_digest, sizeof(b->cur->id));
	b->cur->pending = pending;
	store_image_free(&img);
	return true;
}

bool bd_adopt_state(struct build *b, const char *manifest)
{
	return adopt(b, manifest, !b->o->cache_from);
}

int bd_cache_lookup(struct build *b, const char *key)
{
	const char *source;
	if (bd_cache_lookup_quiet(b, key, &source) != 1)
		return 0;
	bd_emit_cached(b, BF_EV_CACHED, NULL, b->cur->id, 0, source);
	return 1;
}

int bd_cache_lookup_quiet(struct build *b, const char *key, const char **source)
{
	const struct bf_cache_import *im = b->o->cache_from;
	char manifest[CN_DIGEST_STR_SIZE];
	*source = "local";
	if (store_cache_get(b->st, key, manifest) != 1 || !adopt(b, manifest, true)) {
		if (!im || b->cur->import_off || im->lookup(im->ctx, b->st, key, manifest, source) != 1 ||
		    !adopt(b, manifest, false))
			return 0;
		/* Into the store's cache once its layers are checked: now, or
		 * when some process of this build has checked them all. */
		if (!b->cur->pending) {
			cn_err ignored;
			store_cache_put(b->st, key, manifest, &ignored);
		} else if (b->pending_fd >= 0) {
			char line[2 * CN_DIGEST_STR_SIZE + 2];
			int n = snprintf(line, sizeof(line), "%s %s\n", key, manifest);
			if (n > 0 && (size_t)n < sizeof(line))
				(void)cn_write_all(b->pending_fd, line, (size_t)n);
		}
	}
	memcpy(b->cur->key, key, sizeof(b->cur->key));
	b->cur->state_size = 0;
	bd_journal(b, key);
	return 1;
}

int bd_cache_lock(struct build *b, const char *key, int *fd, cn_err *err)
{
	int r = store_step_lock(b->st, key, false, fd, err);
	if (r == 0) {
		bd_emit(b, BF_EV_WAIT, "another build is running this step", NULL, 0);
		r = store_step_lock(b->st, key, true, fd, err);
	}
	if (r < 0)
		return -1;
	/* Its result, if the other build made it (while we waited, or
	 * between the first lookup and the lock). */
	if (bd_cache_lookup(b, key) == 1) {
		store_step_unlock(b->st, key, *fd);
		*fd = -1;
		return 1;
	}
	return 0;
}

/* Imported hits whose every layer this process has now made, loaded or
 * checked go into the store's cache (a later build takes them without
 * --cache-from); the others wait, for this process or another one of
 * the build (stage workers share the file). */
static void flush_pending(struct build *b)
{
	_cleanup_buf_ cn_buf text;
	cn_err ignored;
	char *line, *save = NULL;
	cn_buf_init(&text, 0);
	if (b->pending_fd < 0 || lseek(b->pending_fd, 0, SEEK_SET) < 0 ||
	    cn_read_fd(b->pending_fd, "pending cache keys", 16u << 20, &text, &ignored) < 0)
		return;
	for (line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *state = strchr(line, ' ');
		struct store_image img;
		bool whole = true;
		if (!state)
			continue;
		*state++ = '\0';
		if (!cn_digest_valid(line) || store_image_load_manifest(b->st, state, &img, &ignored) != 1)
			continue;
		for (size_t i = 0; whole && i < img.nlayers; i++)
			whole = is_trusted(b, &img.layers[i]) && store_blob_exists(b->st, img.layers[i].digest) &&
				store_snapshot_exists(b->st, img.layers[i].diff_id);
		if (whole)
			store_cache_put(b->st, line, state, &ignored);
		store_image_free(&img);
	}
}

int bd_materialize(struct build *b, struct stage *st, cn_err *err)
{
	const struct bf_cache_import *im = b->o->cache_from;
	if (!st->pending)
		return 0;
	for (size_t i = 0; i < st->nlayers; i++) {
		const struct store_layer *l = &st->layers[i];
		bool named = im && im->has_layer(im->ctx, l->digest);
		/* The store's own layers as they are; an imported cache's
		 * fetched or, when here already, checked (fetch_layer does both). */
		if ((!named || is_trusted(b, l)) && store_blob_exists(b->st, l->digest) &&
		    store_snapshot_exists(b->st, l->diff_id))
			continue;
		if (!im)
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "layer %s is not in the store", l->digest);
		if (im->fetch_layer(im->ctx, b->st, l, err) < 0)
			return cn_err_wrap(err, "layer %s from the imported cache", l->digest);
		bd_trust_layers(b, l, 1);
	}
	st->pending = false;
	flush_pending(b);
	return 0;
}

static void stage_label(const struct build *b, const struct stage *st, char *out, size_t size)
{
	if (st->name)
		snprintf(out, size, "%s", st->name);
	else
		snprintf(out, size, "%zu", (size_t)(st - b->stages));
}

/* One line per record, one write each on an O_APPEND fd that parallel
 * stages' worker processes share: lines never interleave. */
void bd_journal(struct build *b, const char *key)
{
	char stage[64], line[64 + 2 * CN_DIGEST_STR_SIZE + 4];
	int n;
	if (b->journal_fd < 0 || !*b->cur->state)
		return;
	stage_label(b, b->cur, stage, sizeof(stage));
	n = snprintf(line, sizeof(line), "%s %s %s\n", key, b->cur->state, stage);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)cn_write_all(b->journal_fd, line, (size_t)n);
}

int bd_journal_open(struct build *b, cn_err *err)
{
	b->journal_fd = -1;
	b->pending_fd = -1;
	if (b->o->cache_from) {
		b->pending_fd = memfd_create("cairn-pending-keys", MFD_CLOEXEC);
		if (b->pending_fd < 0 || fcntl(b->pending_fd, F_SETFL, O_APPEND) < 0)
			return cn_err_sys(err, "a file for the imported cache keys");
	}
	if (!b->o->cache_records)
		return 0;
	b->journal_fd = memfd_create("cairn-cache-records", MFD_CLOEXEC);
	if (b->journal_fd < 0 || fcntl(b->journal_fd, F_SETFL, O_APPEND) < 0)
		return cn_err_sys(err, "a file for the cache records");
	return 0;
}

/* The states the image is made from: its own and its parents' (the chain
 * every state records), for mode=min. */
static void final_chain(struct build *b, const char *state, cn_strv *out)
{
	char cur[CN_DIGEST_STR_SIZE];
	snprintf(cur, sizeof(cur), "%s", state);
	for (size_t depth = 0; *cur && depth < 100000; depth++) {
		struct store_image img;
		cn_err ignored;
		const char *parent;
		cn_strv_pushdup(out, cur);
		if (store_image_load_manifest(b->st, cur, &img, &ignored) != 1)
			break;
		parent = store_image_parent(&img);
		snprintf(cur, sizeof(cur), "%s", parent && cn_digest_valid(parent) ? parent : "");
		store_image_free(&img);
	}
}

void bd_journal_collect(struct build *b, const char *final, const char *unlabeled)
{
	struct bf_cache_records *out = b->o->cache_records;
	_cleanup_strv_ cn_strv chain = { 0 };
	_cleanup_buf_ cn_buf text;
	cn_err ignored;
	char *line, *save = NULL;
	cn_buf_init(&text, 0);
	if (b->journal_fd < 0 || !out)
		return;
	if (lseek(b->journal_fd, 0, SEEK_SET) < 0 || cn_read_fd(b->journal_fd, "cache records", 64u << 20, &text, &ignored) < 0)
		return;
	final_chain(b, final, &chain);
	cn_strv_pushdup(&chain, unlabeled);
	for (line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct bf_cache_record r = { 0 };
		char *key = line, *state = strchr(key, ' '), *stage;
		if (!state || !(stage = strchr(state + 1, ' ')))
			continue;
		*state++ = '\0';
		*stage++ = '\0';
		if (!cn_digest_valid(key) || !cn_digest_valid(state))
			continue;
		memcpy(r.key, key, sizeof(r.key));
		memcpy(r.state, state, sizeof(r.state));
		snprintf(r.stage, sizeof(r.stage), "%s", stage);
		for (size_t i = 0; !r.final && i < chain.n; i++)
			r.final = strcmp(chain.v[i], state) == 0;
		out->v = cn_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = r;
	}
}
