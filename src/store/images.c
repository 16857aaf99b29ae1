/* The image list (tagged, dangling, intermediate), short ids, sizes. */
#include "store/images.h"
#include "store/imgindex.h"
#include "store/imgsum.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/platform.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int store_image_entry_load(struct store *st, const char *manifest, struct store_image *img, cn_err *err)
{
	_cleanup_strv_ cn_strv kids = { 0 };
	int r = store_image_load_manifest(st, manifest, img, err);
	/* An index without this host's platform: shown by its first. */
	if (r == 1 || !store_index_blob_is(st, manifest) ||
	    store_index_children(st, manifest, &kids, NULL, err) < 0 || !kids.n)
		return r;
	return store_image_load_manifest(st, kids.v[0], img, err);
}

/* Blob DIGEST's file as the summary records it (one fstatat). */
static bool blob_stat(struct store *st, const char *digest, struct store_imgsum_stat *out)
{
	struct stat sb;
	if (!cn_digest_valid(digest) || fstatat(st->blobs_fd, cn_digest_hex(digest), &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	out->size = (uint64_t)sb.st_size;
	out->ino = (uint64_t)sb.st_ino;
	out->mtime_ns = (uint64_t)sb.st_mtim.tv_sec * 1000000000u + (uint64_t)sb.st_mtim.tv_nsec;
	return true;
}

/* True when blob DIGEST is there as the summary saw it: not gone, not
 * damaged or replaced in place since. */
static bool blob_unchanged(struct store_image_list *l, const char *digest)
{
	struct store_imgsum_stat now, then;
	return blob_stat(l->st, digest, &now) && store_imgsum_blob(l->sum, digest, &then) &&
	       now.size == then.size && now.ino == then.ino && now.mtime_ns == then.mtime_ns;
}

static void blob_remember(struct store_image_list *l, const char *digest)
{
	struct store_imgsum_stat now;
	if (blob_stat(l->st, digest, &now))
		store_imgsum_put_blob(l->sum, digest, &now);
}

/* The summary's facts for MANIFEST, used when its blobs are still there
 * and unchanged (else loading decides, as without a summary). */
static bool entry_from_summary(struct store_image_list *l, struct store_image_entry *e)
{
	const struct store_imgsum_image *f = store_imgsum_get(l->sum, e->manifest);
	if (!f || !blob_unchanged(l, e->manifest) ||
	    (strcmp(f->manifest, e->manifest) != 0 && !blob_unchanged(l, f->manifest)) ||
	    !blob_unchanged(l, f->id))
		return false;
	memcpy(e->id, f->id, CN_DIGEST_STR_SIZE);
	e->created = f->created;
	e->nlayers = f->nlayers;
	if (f->nlayers) {
		e->diff_ids = cn_xcalloc(f->nlayers, sizeof(*e->diff_ids));
		memcpy(e->diff_ids, f->diff_ids, f->nlayers * sizeof(*e->diff_ids));
	}
	return true;
}

static void entry_add(struct store_image_list *l, size_t *cap, const char *manifest, const char *ref,
		      enum store_image_kind kind)
{
	struct store_image_entry *e;
	struct store_image img;
	struct store_imgsum_image f = { 0 };
	struct store_imgsum_stat before;
	bool had;
	cn_err ignored;
	int r;
	cn_xgrow((void **)&l->v, cap, l->n + 1, sizeof(*l->v));
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->manifest, sizeof(e->manifest), "%s", manifest);
	/* Shown as docker shows it, also for a name stored before names were
	 * normalized (store_ref_normalize). */
	if (ref && !(e->ref = store_ref_normalize(ref, &ignored)))
		e->ref = cn_xstrdup(ref);
	e->kind = kind;
	if (entry_from_summary(l, e))
		return;
	/* What the summary may keep: only what the manifest alone decides (an
	 * index's first-platform fallback depends on which blobs are here). */
	had = blob_stat(l->st, manifest, &before);
	r = store_image_load_manifest(l->st, manifest, &img, &ignored);
	if (r != 1) {
		store_image_free(&img);
		if (store_image_entry_load(l->st, manifest, &img, &ignored) != 1) {
			store_image_free(&img);
			e->unreadable = true;
			return;
		}
	}
	memcpy(e->id, img.config_digest, CN_DIGEST_STR_SIZE);
	e->created = store_parse_created(json_string_value(json_object_get(img.config, "created")));
	e->nlayers = img.nlayers;
	e->diff_ids = img.nlayers ? cn_xcalloc(img.nlayers, sizeof(*e->diff_ids)) : NULL;
	for (size_t i = 0; i < img.nlayers; i++)
		memcpy(e->diff_ids[i], img.layers[i].diff_id, CN_DIGEST_STR_SIZE);
	if (r == 1) {
		memcpy(f.manifest, img.manifest_digest, CN_DIGEST_STR_SIZE);
		memcpy(f.id, img.config_digest, CN_DIGEST_STR_SIZE);
		f.created = e->created;
		f.nlayers = e->nlayers;
		f.diff_ids = e->diff_ids;
		store_imgsum_put(l->sum, manifest, &f);
		/* The blobs as they were read: the manifest's stat from before
		 * its reading; the child's and config's from just after (a
		 * change in between is only caught by fsck). */
		if (had)
			store_imgsum_put_blob(l->sum, manifest, &before);
		if (strcmp(img.manifest_digest, manifest) != 0)
			blob_remember(l, img.manifest_digest);
		blob_remember(l, img.config_digest);
	}
	store_image_free(&img);
}

/* Earlier values of every tag that no tag holds now and whose manifest is
 * still stored, each once, the most recent value of a log first. */
static int add_dangling(struct store *st, struct store_image_list *l, size_t *cap, json_t *seen, cn_err *err)
{
	cn_strv refs = { 0 };
	int r = -1;
	if (store_taglog_refs(st, &refs, err) < 0)
		goto out;
	for (size_t i = 0; i < refs.n; i++) {
		_cleanup_free_ struct store_tag_event *ev = NULL;
		size_t n = 0;
		cn_err ignored;
		if (store_taglog_read(st, refs.v[i], &ev, &n, NULL, &ignored) < 0)
			continue;       /* an unreadable log hides nothing else */
		for (size_t j = n; j-- > 0;) {
			const char *d = ev[j].digest;
			if (!cn_digest_valid(d) || json_object_get(seen, d) || !store_blob_exists(st, d))
				continue;
			json_object_set_new(seen, d, json_true());
			entry_add(l, cap, d, NULL, STORE_IMAGE_DANGLING);
		}
	}
	r = 0;
out:
	cn_strv_free(&refs);
	return r;
}

static void add_intermediates(struct store *st, struct store_image_list *l, size_t *cap, json_t *seen)
{
	size_t top = l->n;
	for (size_t i = 0; i < top; i++) {
		_cleanup_free_ char (*states)[CN_DIGEST_STR_SIZE] = NULL;
		char manifest[CN_DIGEST_STR_SIZE];
		struct store_image img;
		size_t rows = 0;
		cn_err ignored;
		if (l->v[i].unreadable)
			continue;
		/* The chain follows parents that prune may have cut: read, not
		 * summarized. Copied first: entry_add may move l->v. */
		memcpy(manifest, l->v[i].manifest, sizeof(manifest));
		if (store_image_entry_load(st, manifest, &img, &ignored) == 1)
			store_image_row_states(st, &img, &states, &rows, &ignored);
		store_image_free(&img);
		for (size_t r = rows; r-- > 0;) {
			if (!states || !states[r][0] || json_object_get(seen, states[r]))
				continue;
			json_object_set_new(seen, states[r], json_true());
			entry_add(l, cap, states[r], NULL, STORE_IMAGE_INTERMEDIATE);
		}
	}
}

int store_images_list(struct store *st, bool all, struct store_image_list *out, cn_err *err)
{
	json_t *idx = NULL, *seen = json_object(), *e;
	struct cn_platform host;
	char platform[CN_PLATFORM_STR];
	size_t cap = 0, i;
	int r = -1;
	memset(out, 0, sizeof(*out));
	cn_platform_host_get(&host);
	cn_platform_format(&host, platform);
	out->st = st;
	out->sum = store_imgsum_load(st->cache_fd, STORE_IMGSUM_FILE, platform);
	out->present = json_object();
	if (store_index_load(st, &idx, err) < 0)
		goto out;
	json_array_foreach(json_object_get(idx, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"),
								    "org.opencontainers.image.ref.name"));
		const char *d = json_string_value(json_object_get(e, "digest"));
		if (!ref || !cn_digest_valid(d))
			continue;
		json_object_set_new(seen, d, json_true());
		entry_add(out, &cap, d, ref, STORE_IMAGE_TAGGED);
	}
	if (add_dangling(st, out, &cap, seen, err) < 0)
		goto out;
	if (all)
		add_intermediates(st, out, &cap, seen);
	r = 0;
out:
	if (r < 0)
		store_images_list_free(out);
	json_decref(idx);
	json_decref(seen);
	return r;
}

/* A save keeps what the store still has: prune's leftovers drop out. */
static bool still_stored(const char *digest, bool is_blob, void *ctx)
{
	struct store *st = ctx;
	return is_blob ? store_blob_exists(st, digest) : store_snapshot_exists(st, digest);
}

void store_images_summary_trim(struct store *st)
{
	struct cn_platform host;
	char platform[CN_PLATFORM_STR];
	struct store_imgsum *sum;
	cn_err ignored;
	cn_platform_host_get(&host);
	cn_platform_format(&host, platform);
	sum = store_imgsum_load(st->cache_fd, STORE_IMGSUM_FILE, platform);
	if (store_imgsum_count(sum)) {
		store_imgsum_touch(sum);
		store_imgsum_save(sum, st->cache_fd, STORE_IMGSUM_FILE, still_stored, st, &ignored);
	}
	store_imgsum_free(sum);
}

void store_images_list_free(struct store_image_list *l)
{
	cn_err ignored;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].ref);
		free(l->v[i].diff_ids);
	}
	if (l->sum && l->st)
		store_imgsum_save(l->sum, l->st->cache_fd, STORE_IMGSUM_FILE, still_stored, l->st, &ignored);
	store_imgsum_free(l->sum);
	json_decref(l->present);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

uint64_t store_images_entry_size(struct store_image_list *l, const struct store_image_entry *e)
{
	uint64_t total = 0;
	for (size_t i = 0; i < e->nlayers; i++) {
		const char *d = e->diff_ids[i];
		uint64_t n = 0;
		json_t *memo = json_object_get(l->present, d);
		/* A missing snapshot counts 0 (store_snapshot_content_size);
		 * whether it is there is asked once per listing. */
		if (!memo) {
			memo = json_boolean(store_snapshot_exists(l->st, d));
			json_object_set_new(l->present, d, memo);
		}
		if (!json_is_true(memo))
			continue;
		if (!store_imgsum_size(l->sum, d, &n)) {
			bool complete;
			n = store_snapshot_content_size_full(l->st, d, &complete);
			/* Kept only from a whole walk of one directory: not one a
			 * user could not read all of (a rootless listing of a
			 * store with root's files), nor one prune removed while
			 * it was walked. A snapshot is never changed in place. */
			if (complete)
				store_imgsum_put_size(l->sum, d, n);
		}
		total += n;
	}
	return total;
}

bool store_short_id(const char *s)
{
	const char *hex = strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
	size_t n = strspn(hex, "0123456789abcdef");
	return hex[n] == '\0' && n >= STORE_SHORT_ID_MIN && n <= CN_DIGEST_HEX_LEN;
}

int store_image_resolve_id(struct store *st, const char *s, char manifest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	const char *hex = strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
	size_t len = strlen(hex), ids = 0;
	struct store_image_list l;
	const struct store_image_entry *best = NULL;
	const char *first_id = NULL;
	if (!store_short_id(s))
		return 0;
	if (store_images_list(st, true, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		const struct store_image_entry *e = &l.v[i];
		if (!e->id[0] || strncmp(e->id + 7, hex, len) != 0)
			continue;
		/* Count distinct ids: several manifests (tags, states) may share one. */
		if (!first_id || strcmp(first_id, e->id) != 0) {
			bool counted = false;
			for (size_t j = 0; j < i && !counted; j++)
				counted = l.v[j].id[0] && strncmp(l.v[j].id + 7, hex, len) == 0 &&
					  strcmp(l.v[j].id, e->id) == 0;
			if (!counted)
				ids++;
		}
		if (!first_id)
			first_id = e->id;
		if (!best || (best->kind != STORE_IMAGE_TAGGED && e->kind == STORE_IMAGE_TAGGED))
			best = e;
	}
	if (ids > 1) {
		cn_err_fail(err, CN_ERR_INVALID, "image id '%s' is ambiguous: %zu images match "
			    "(give more digits)", s, ids);
		store_images_list_free(&l);
		return -1;
	}
	if (best)
		memcpy(manifest, best->manifest, CN_DIGEST_STR_SIZE);
	store_images_list_free(&l);
	return best ? 1 : 0;
}

long long store_parse_created(const char *s)
{
	struct tm tm = { 0 };
	int n = 0, oh = 0, om = 0;
	long long t;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			 &tm.tm_min, &tm.tm_sec, &n) != 6 || n == 0)
		return 0;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d", &oh, &om) == 2) {
		if (*s == '+')
			oh = -oh, om = -om;
	} else if (*s != 'Z' && *s != 'z') {
		return 0;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = (long long)timegm(&tm);
	return t <= 0 ? 0 : t + oh * 3600LL + om * 60LL;
}

/* nftw has no context argument: the walk's state, one walk at a time.
 * Files with several links are counted once: their (dev, ino, size) are
 * collected and the repeats subtracted after one sort, so a layer of many
 * hard links costs n log n, not n squared. */
struct linked { dev_t dev; ino_t ino; uint64_t size; };
static _Thread_local struct {
	uint64_t bytes;
	struct linked *linked;
	size_t nlinked, cap;
	bool partial;           /* a directory not read or an entry not statted */
} walk;

static int count_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_DNR || type == FTW_NS)
		walk.partial = true;
	if (type != FTW_F && type != FTW_SL)
		return 0;
	if (S_ISREG(sb->st_mode) && sb->st_nlink > 1) {
		cn_xgrow((void **)&walk.linked, &walk.cap, walk.nlinked + 1, sizeof(*walk.linked));
		walk.linked[walk.nlinked++] = (struct linked){ sb->st_dev, sb->st_ino, (uint64_t)sb->st_size };
	}
	if (S_ISREG(sb->st_mode) || S_ISLNK(sb->st_mode))
		walk.bytes += (uint64_t)sb->st_size;
	return 0;
}

static int linked_cmp(const void *a, const void *b)
{
	const struct linked *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* The snapshot directory's identity, to see that a walk saw one directory
 * from its start to its end (not one prune removed and a pull put back). */
static bool snapshot_id(struct store *st, const char *diff_id, struct stat *sb)
{
	return fstatat(st->snap_fd, cn_digest_hex(diff_id), sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb->st_mode);
}

uint64_t store_snapshot_content_size_full(struct store *st, const char *diff_id, bool *complete)
{
	_cleanup_free_ char *path = NULL;
	struct stat before, after;
	uint64_t bytes;
	int r;
	*complete = false;
	if (!cn_digest_valid(diff_id) || !snapshot_id(st, diff_id, &before))
		return 0;
	path = store_snapshot_path(st, diff_id);
	memset(&walk, 0, sizeof(walk));
	r = nftw(path, count_entry, 16, FTW_PHYS | FTW_MOUNT);
	bytes = walk.bytes;
	if (walk.nlinked > 1)
		qsort(walk.linked, walk.nlinked, sizeof(*walk.linked), linked_cmp);
	for (size_t i = 1; i < walk.nlinked; i++)
		if (!linked_cmp(&walk.linked[i - 1], &walk.linked[i]))
			bytes -= walk.linked[i].size;
	*complete = r == 0 && !walk.partial && snapshot_id(st, diff_id, &after) && after.st_dev == before.st_dev &&
		    after.st_ino == before.st_ino;
	free(walk.linked);
	memset(&walk, 0, sizeof(walk));
	return bytes;
}

uint64_t store_snapshot_content_size(struct store *st, const char *diff_id)
{
	bool complete;
	return store_snapshot_content_size_full(st, diff_id, &complete);
}

uint64_t store_image_size(struct store *st, const struct store_image *img)
{
	uint64_t total = 0;
	for (size_t i = 0; i < img->nlayers; i++)
		total += store_snapshot_content_size(st, img->layers[i].diff_id);
	return total;
}
