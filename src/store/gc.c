/* prune and df: what tags (and tag logs) reach is marked by following
 * manifests, configs, layers and the chain of step states; the rest is
 * garbage. Marks are jansson objects used as sets of hex digests. */
#include "store/gc.h"
#include "store/image.h"
#include "store/images.h"
#include "store/imgindex.h"
#include "store/mounts.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct marks {
	json_t *blobs;          /* hex -> true */
	json_t *snapshots;      /* diff_id hex -> true */
};

static void marks_init(struct marks *m)
{
	m->blobs = json_object();
	m->snapshots = json_object();
}

static void marks_free(struct marks *m)
{
	json_decref(m->blobs);
	json_decref(m->snapshots);
}

static bool marked(json_t *set, const char *digest)
{
	return json_object_get(set, cn_digest_hex(digest)) != NULL;
}

static void mark(json_t *set, const char *digest)
{
	json_object_set_new(set, cn_digest_hex(digest), json_true());
}

/* What an image's manifest names, when the manifest itself reads (its
 * config may not): those blobs stay. */
static void mark_manifest_blobs(struct store *st, struct marks *m, const char *manifest)
{
	_cleanup_buf_ cn_buf b;
	cn_err ignored;
	json_t *doc, *l;
	size_t i;
	cn_buf_init(&b, STORE_MAX_JSON);
	if (store_blob_get(st, manifest, STORE_MAX_JSON, &b, &ignored) < 0)
		return;
	doc = json_loadb(b.data, b.len, 0, NULL);
	if (cn_digest_valid(json_string_value(json_object_get(json_object_get(doc, "config"), "digest"))))
		mark(m->blobs, json_string_value(json_object_get(json_object_get(doc, "config"), "digest")));
	json_array_foreach(json_object_get(doc, "layers"), i, l)
		if (cn_digest_valid(json_string_value(json_object_get(l, "digest"))))
			mark(m->blobs, json_string_value(json_object_get(l, "digest")));
	json_decref(doc);
}

/* An image and every state in its chain. A missing one (pruned earlier, a
 * cut chain) ends the walk. One that cannot be read (ERR) is reported and
 * skipped, keeping what its manifest names if that reads: one broken image
 * must not keep prune from freeing everything else (fsck --repair drops
 * it; see store_fsck). A failing system call (EIO, EMFILE: the image may
 * be fine) still stops prune, with ERR set, before anything is removed. */
static int mark_image(struct store *st, struct marks *m, const char *manifest,
		      const struct store_prune_opts *o, size_t *unreadable, cn_err *err)
{
	char cur[CN_DIGEST_STR_SIZE];
	if (!cn_digest_valid(manifest))
		return 0;
	/* A multi-platform image keeps every platform's. */
	if (!marked(m->blobs, manifest) && store_index_blob_is(st, manifest)) {
		_cleanup_strv_ cn_strv children = { 0 };
		mark(m->blobs, manifest);
		if (store_index_children(st, manifest, &children, NULL, err) < 0)
			return -1;
		for (size_t i = 0; i < children.n; i++)
			if (mark_image(st, m, children.v[i], o, unreadable, err) < 0)
				return -1;
		return 0;
	}
	memcpy(cur, manifest, sizeof(cur));
	for (;;) {
		struct store_image img;
		const char *parent;
		int r;
		if (marked(m->blobs, cur))
			return 0;
		mark(m->blobs, cur);
		r = store_image_load(st, cur, &img, err);
		if (r < 0 && cn_err_is(err, CN_ERR_SYSTEM) && err->errnum != ENOENT)
			return cn_err_wrap(err, "prune stopped, nothing removed");
		if (r < 0) {
			mark_manifest_blobs(st, m, cur);
			if (unreadable)
				(*unreadable)++;
			if (o && o->report)
				o->report(o->ctx, err->msg);
			return 0;
		}
		if (r == 0)
			return 0;
		mark(m->blobs, img.config_digest);
		for (size_t i = 0; i < img.nlayers; i++) {
			mark(m->blobs, img.layers[i].digest);
			mark(m->snapshots, img.layers[i].diff_id);
		}
		parent = store_image_parent(&img);
		if (parent)
			memcpy(cur, parent, sizeof(cur));
		store_image_free(&img);
		if (!parent)
			return 0;
	}
}

static int mark_tags(struct store *st, struct marks *m, json_t **index, const struct store_prune_opts *o,
		     struct store_prune_stats *out, cn_err *err)
{
	size_t i;
	json_t *e;
	if (store_index_load(st, index, err) < 0)
		return -1;
	json_array_foreach(json_object_get(*index, "manifests"), i, e)
		if (mark_image(st, m, json_string_value(json_object_get(e, "digest")), o, &out->unreadable,
			       err) < 0)
			return -1;
	return 0;
}

static bool has_tag(json_t *index, const char *ref)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(index, "manifests"), i, e) {
		const char *r = json_string_value(json_object_get(json_object_get(e, "annotations"),
								  "org.opencontainers.image.ref.name"));
		if (r && strcmp(r, ref) == 0)
			return true;
	}
	return false;
}

/* Tag-log values the options still protect are roots too; the others are
 * dropped from the logs (a tag's last entry, its current value, stays). */
static int mark_logs(struct store *st, struct marks *m, json_t *index, const struct store_prune_opts *o,
		     struct store_prune_stats *out, cn_err *err)
{
	_cleanup_strv_ cn_strv refs = { 0 };
	long long now = (long long)time(NULL);
	bool trim = o->all || o->keep >= 0 || o->older_than >= 0;
	if (store_taglog_refs(st, &refs, err) < 0)
		return -1;
	for (size_t r = 0; r < refs.n; r++) {
		_cleanup_free_ struct store_tag_event *ev = NULL;
		size_t n = 0, kept = 0;
		bool tagged = has_tag(index, refs.v[r]);
		if (store_taglog_read(st, refs.v[r], &ev, &n, NULL, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			bool last = i == n - 1;
			bool keep = !o->all && (o->keep < 0 || i + (size_t)o->keep >= n) &&
				    (o->older_than < 0 || now - ev[i].time <= o->older_than);
			if (last && tagged)
				keep = true;
			if (keep) {
				if (*ev[i].digest &&
				    mark_image(st, m, ev[i].digest, o, &out->unreadable, err) < 0)
					return -1;
				ev[kept++] = ev[i];
			}
		}
		if (trim && kept != n) {
			out->log_entries += n - kept;
			if (store_taglog_rewrite(st, refs.v[r], ev, kept, err) < 0)
				return -1;
		}
	}
	return 0;
}

typedef void (*entry_fn)(struct store *st, int dirfd, const char *name, void *ctx);

static int each_entry(int dir_fd, const char *what, struct store *st, entry_fn fn, void *ctx, cn_err *err)
{
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d)
		return cn_err_sys(err, "open %s", what);
	fd = -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			fn(st, dirfd(d), de->d_name, ctx);
	return 0;
}

static bool hex64(const char *name)
{
	char d[CN_DIGEST_STR_SIZE + 8];
	snprintf(d, sizeof(d), "sha256:%s", name);
	return cn_digest_valid(d);
}

struct sweep {
	struct marks *m;
	struct store_prune_stats *out;
};

static void sweep_blob(struct store *st, int dirfd, const char *name, void *ctx)
{
	struct sweep *s = ctx;
	char digest[CN_DIGEST_STR_SIZE + 8];
	struct stat sb;
	(void)st;
	if (!hex64(name))
		return;
	snprintf(digest, sizeof(digest), "sha256:%s", name);
	if (marked(s->m->blobs, digest) || fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (unlinkat(dirfd, name, 0) == 0) {
		s->out->blobs++;
		s->out->bytes += (uint64_t)sb.st_size;
	} else {
		s->out->failures++;
	}
}

static void sweep_snapshot(struct store *st, int dirfd, const char *name, void *ctx)
{
	struct sweep *s = ctx;
	char digest[CN_DIGEST_STR_SIZE + 8];
	uint64_t bytes = 0;
	cn_err ignored;
	(void)dirfd;
	if (!hex64(name))
		return;
	snprintf(digest, sizeof(digest), "sha256:%s", name);
	if (marked(s->m->snapshots, digest))
		return;
	if (store_snapshot_remove(st, digest, &bytes, &ignored) == 0) {
		s->out->snapshots++;
		s->out->bytes += bytes;
	} else {
		s->out->failures++;
	}
}

static void sweep_cache(struct store *st, int dirfd, const char *name, void *ctx)
{
	struct sweep *s = ctx;
	char key[CN_DIGEST_STR_SIZE + 8], manifest[CN_DIGEST_STR_SIZE];
	if (!hex64(name))
		return;         /* "stat"; temp files go in sweep_cache_temps */
	snprintf(key, sizeof(key), "sha256:%s", name);
	if (store_cache_get(st, key, manifest) == 1 && marked(s->m->blobs, manifest))
		return;
	if (unlinkat(dirfd, name, 0) == 0)
		s->out->cache_entries++;
	else
		s->out->failures++;
}

int store_prune(struct store *st, const struct store_prune_opts *o, struct store_prune_stats *out,
		cn_err *err)
{
	struct marks m;
	struct sweep s = { .m = &m, .out = out };
	json_t *index = NULL;
	int r = -1;
	memset(out, 0, sizeof(*out));
	if (store_gc_lock(st, true, err) < 0)
		return -1;
	if (store_lock(st, err) < 0) {
		store_gc_unlock(st);
		return -1;
	}
	marks_init(&m);
	if (mark_tags(st, &m, &index, o, out, err) < 0 || mark_logs(st, &m, index, o, out, err) < 0)
		goto out;
	if (o->roots) {
		cn_strv roots = { 0 };
		int rr = o->roots(st, &roots, err);
		for (size_t i = 0; rr == 0 && i < roots.n; i++)
			rr = mark_image(st, &m, roots.v[i], o, &out->unreadable, err);
		cn_strv_free(&roots);
		if (rr < 0)
			goto out;
	}
	/* The cache entries go first: none may point at a blob being removed.
	 * An unreadable image's snapshots are unknown (its config names them):
	 * all stay until fsck --repair has dropped it. */
	if (each_entry(st->cache_fd, "cache", st, sweep_cache, &s, err) < 0 ||
	    each_entry(st->blobs_fd, "blobs", st, sweep_blob, &s, err) < 0 ||
	    (!out->unreadable && each_entry(st->snap_fd, "snapshots", st, sweep_snapshot, &s, err) < 0))
		goto out;
	store_remove_dot_temps(st->cache_fd);     /* no build runs during prune */
	/* The image summary drops what was removed now, not only at the next
	 * listing that learns something. */
	if (out->blobs || out->snapshots)
		store_images_summary_trim(st);
	{
		/* Cache mounts are only caches: all go, as docker's builder prune. */
		uint64_t bytes = 0;
		if (store_cache_mounts_remove(st, &out->cache_mounts, &bytes, &out->failures, err) < 0)
			goto out;
		out->bytes += bytes;
	}
	r = cn_fsync_dir_at(st->blobs_fd, ".", err);
out:
	json_decref(index);
	marks_free(&m);
	store_unlock(st);
	store_gc_unlock(st);
	return r;
}

/* ---- df ---- */

struct df_ctx {
	struct marks tagged;
	json_t *layer_users;    /* layer hex -> number of tags reaching it */
	struct store_df *out;
};

static void df_blob(struct store *st, int dirfd, const char *name, void *ctx)
{
	struct df_ctx *c = ctx;
	char digest[CN_DIGEST_STR_SIZE + 8];
	struct stat sb;
	(void)st;
	if (!hex64(name) || fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	snprintf(digest, sizeof(digest), "sha256:%s", name);
	c->out->blobs.count++;
	c->out->blobs.bytes += (uint64_t)sb.st_size;
	if (marked(c->tagged.blobs, digest)) {
		c->out->images.bytes += (uint64_t)sb.st_size;
		if (json_integer_value(json_object_get(c->layer_users, name)) > 1) {
			c->out->shared.count++;
			c->out->shared.bytes += (uint64_t)sb.st_size;
		}
	} else {
		c->out->cache.count++;
		c->out->cache.bytes += (uint64_t)sb.st_size;
	}
}

static void df_snapshot(struct store *st, int dirfd, const char *name, void *ctx)
{
	struct df_ctx *c = ctx;
	uint64_t bytes = 0;
	cn_err ignored;
	(void)st;
	if (!hex64(name) || cn_du_at(dirfd, name, &bytes, &ignored) < 0)
		return;
	c->out->snapshots.count++;
	c->out->snapshots.bytes += bytes;
}

int store_df(struct store *st, struct store_df *out, cn_err *err)
{
	struct df_ctx c = { .out = out, .layer_users = json_object() };
	json_t *index = NULL, *e;
	size_t i;
	int r = -1;
	memset(out, 0, sizeof(*out));
	marks_init(&c.tagged);
	if (store_index_load(st, &index, err) < 0)
		goto out;
	json_array_foreach(json_object_get(index, "manifests"), i, e) {
		const char *d = json_string_value(json_object_get(e, "digest"));
		struct store_image img;
		cn_err ignored;
		out->images.count++;
		/* Two tags on one image share nothing: count each image once. */
		if (!cn_digest_valid(d) || marked(c.tagged.blobs, d))
			continue;
		mark_image(st, &c.tagged, d, NULL, NULL, &ignored);
		if (store_image_load(st, d, &img, &ignored) != 1)
			continue;
		for (size_t l = 0; l < img.nlayers; l++) {
			const char *hex = cn_digest_hex(img.layers[l].digest);
			json_object_set_new(c.layer_users, hex,
					    json_integer(json_integer_value(json_object_get(c.layer_users, hex)) + 1));
		}
		store_image_free(&img);
	}
	if (each_entry(st->blobs_fd, "blobs", st, df_blob, &c, err) < 0 ||
	    each_entry(st->snap_fd, "snapshots", st, df_snapshot, &c, err) < 0 ||
	    store_cache_mounts_du(st, &out->cache_mounts.count, &out->cache_mounts.bytes, err) < 0)
		goto out;
	r = 0;
out:
	json_decref(index);
	json_decref(c.layer_users);
	marks_free(&c.tagged);
	return r;
}
