/* fsck: every blob re-hashed (streamed), every tag's image checked whole
 * (with a diff_id hook, each layer blob's uncompressed content too), tag
 * logs and cache entries checked; each problem reported in one line. */
#include "store/gc.h"
#include "store/image.h"
#include "store/imgindex.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fsck {
	struct store *st;
	bool repair;
	store_problem_fn report;
	void *ctx;
	size_t problems;
	json_t *bad_blobs;      /* hex -> true: removed or found corrupt */
	store_diff_id_fn diff_id;
	json_t *diff_ids;       /* layer blob hex -> its diff_id, or an error message: hashed once */
};

static void problem(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct fsck *f, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->problems++;
	if (f->report)
		f->report(f->ctx, msg);
}

/* --repair's removal of DIRFD/NAME, as the suffix of its problem line:
 * "" without --repair, " (removed)", or why it was not (a read-only
 * mount, an immutable file): the line must not claim a repair that failed. */
static const char *repair_unlink(struct fsck *f, int dirfd, const char *name, char *buf, size_t size)
{
	if (!f->repair)
		return "";
	if (unlinkat(dirfd, name, 0) == 0)
		return " (removed)";
	snprintf(buf, size, " (not removed: %s)", strerror(errno));
	return buf;
}

/* sha256 of the blob file, streamed. */
static int hash_file(int dirfd, const char *name, char out[CN_DIGEST_STR_SIZE])
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_free_ char *buf = cn_xmalloc(1 << 16);
	cn_sha256 h;
	ssize_t n;
	if (fd < 0)
		return -1;
	cn_sha256_init(&h);
	while ((n = read(fd, buf, 1 << 16)) > 0)
		cn_sha256_update(&h, buf, (size_t)n);
	if (n < 0) {
		cn_sha256_free(&h);
		return -1;
	}
	cn_sha256_final(&h, out);
	return 0;
}

static void check_blobs(struct fsck *f)
{
	_cleanup_close_ int fd = openat(f->st->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d) {
		problem(f, "blobs/sha256: cannot be read");
		return;
	}
	fd = -1;
	while ((de = readdir(d))) {
		char want[8 + NAME_MAX + 1], got[CN_DIGEST_STR_SIZE], why[128];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(want, sizeof(want), "sha256:%s", de->d_name);
		if (!cn_digest_valid(want)) {
			problem(f, "blobs/sha256/%s: not a blob name%s", de->d_name,
				repair_unlink(f, dirfd(d), de->d_name, why, sizeof(why)));
			continue;
		}
		if (hash_file(dirfd(d), de->d_name, got) < 0) {
			problem(f, "blob %s: cannot be read: %s", want, strerror(errno));
			continue;
		}
		if (strcmp(got, want) != 0) {
			json_object_set_new(f->bad_blobs, de->d_name, json_true());
			problem(f, "blob %s: content hashes to %s%s", want, got,
				repair_unlink(f, dirfd(d), de->d_name, why, sizeof(why)));
		}
	}
}

/* With a diff_id hook: the blob of L (present, its digest checked) holds
 * the uncompressed content REF's config says, compressed as its media type
 * says. A blob is decompressed once per run and media type however many
 * images use it; the cost is one pass over it. */
static bool layer_diff_id_ok(struct fsck *f, const char *ref, const struct store_layer *l)
{
	_cleanup_free_ char *hex = cn_xasprintf("%s %s", cn_digest_hex(l->digest), l->media_type);
	const char *got;
	if (!f->diff_id)
		return true;
	if (!json_object_get(f->diff_ids, hex)) {
		char d[CN_DIGEST_STR_SIZE];
		cn_err err;
		_cleanup_close_ int fd = store_blob_open(f->st, l->digest, &err);
		if (fd >= 0 && f->diff_id(fd, l->media_type, l->digest, d, &err) == 0)
			json_object_set_new(f->diff_ids, hex, json_pack("{s:s}", "diff_id", d));
		else
			json_object_set_new(f->diff_ids, hex, json_pack("{s:s}", "error", err.msg));
	}
	got = json_string_value(json_object_get(json_object_get(f->diff_ids, hex), "diff_id"));
	if (!got) {
		problem(f, "tag '%s': layer %s: cannot be read as a layer: %s", ref, l->digest,
			json_string_value(json_object_get(json_object_get(f->diff_ids, hex), "error")));
		return false;
	}
	if (strcmp(got, l->diff_id) != 0) {
		problem(f, "tag '%s': layer %s: uncompressed content hashes to %s, but the image config "
			"says %s", ref, l->digest, got, l->diff_id);
		return false;
	}
	return true;
}

enum image_state { IMAGE_OK, IMAGE_INCOMPLETE, IMAGE_UNREADABLE };

/* A tag's image: manifest and config load (and verify), every layer blob
 * is there with its size, and unpacked. UNREADABLE: its manifest or config
 * cannot be read back (oversize, corrupt, not JSON), so nothing can use it. */
static enum image_state check_image(struct fsck *f, const char *ref, const char *digest);

/* A multi-platform tag: the index reads, and every platform's image is
 * whole. A problem in one platform leaves the index INCOMPLETE (never
 * UNREADABLE: that would remove the index the other platforms need), and
 * an index without this host's platform is no problem at all. */
static enum image_state check_index(struct fsck *f, const char *ref, const char *digest)
{
	_cleanup_strv_ cn_strv children = { 0 };
	enum image_state state = IMAGE_OK;
	cn_err err;
	if (store_index_children(f->st, digest, &children, NULL, &err) < 0) {
		problem(f, "tag '%s': image index %s: %s", ref, digest, err.msg);
		return IMAGE_UNREADABLE;
	}
	/* A nested index (cairn writes none) is left alone. */
	for (size_t i = 0; i < children.n; i++)
		if (!store_index_blob_is(f->st, children.v[i]) && check_image(f, ref, children.v[i]) != IMAGE_OK)
			state = IMAGE_INCOMPLETE;
	return state;
}

static enum image_state check_image(struct fsck *f, const char *ref, const char *digest)
{
	struct store_image img;
	cn_err err;
	bool ok = true;
	int r = -1;
	if (cn_digest_valid(digest) && store_index_blob_is(f->st, digest))
		return check_index(f, ref, digest);
	if (cn_digest_valid(digest))
		r = store_image_load(f->st, digest, &img, &err);
	else
		cn_err_fail(&err, CN_ERR_INVALID, "not a digest");
	if (r != 1) {
		problem(f, "tag '%s': image %s: %s", ref, digest ? digest : "(no digest)",
			r == 0 ? "manifest missing" : err.msg);
		/* A failing system call (EIO) says nothing about the content. */
		return r == 0 || !cn_digest_valid(digest) ||
		       (cn_err_is(&err, CN_ERR_SYSTEM) && err.errnum != ENOENT) ? IMAGE_INCOMPLETE
										: IMAGE_UNREADABLE;
	}
	for (size_t i = 0; i < img.nlayers; i++) {
		const struct store_layer *l = &img.layers[i];
		uint64_t size = store_blob_size(f->st, l->digest);
		if (!store_blob_exists(f->st, l->digest) ||
		    json_object_get(f->bad_blobs, cn_digest_hex(l->digest))) {
			problem(f, "tag '%s': layer %s: blob missing or corrupt", ref, l->digest);
			ok = false;
		} else if (size != l->size) {
			problem(f, "tag '%s': layer %s: %llu bytes, the manifest says %llu", ref, l->digest,
				(unsigned long long)size, (unsigned long long)l->size);
			ok = false;
		} else if (!layer_diff_id_ok(f, ref, l)) {
			ok = false;
		}
		if (!store_snapshot_exists(f->st, l->diff_id)) {
			problem(f, "tag '%s': layer %s: no snapshot %s", ref, l->digest, l->diff_id);
			ok = false;
		}
	}
	store_image_free(&img);
	return ok ? IMAGE_OK : IMAGE_INCOMPLETE;
}

static int check_tags(struct fsck *f, cn_err *err)
{
	json_t *index = NULL, *e;
	_cleanup_strv_ cn_strv broken = { 0 };
	_cleanup_strv_ cn_strv unreadable = { 0 };     /* manifest digests */
	size_t i;
	if (store_index_load(f->st, &index, err) < 0) {
		problem(f, "index.json: %s", err->msg);
		return 0;
	}
	json_array_foreach(json_object_get(index, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"),
								    "org.opencontainers.image.ref.name"));
		const char *digest = json_string_value(json_object_get(e, "digest"));
		if (!ref) {
			problem(f, "index.json: entry %zu has no ref.name annotation", i + 1);
			continue;
		}
		if (cn_digest_valid(digest) && store_blob_exists(f->st, digest)) {
			uint64_t size, real = store_blob_size(f->st, digest);
			bool ok = store_descriptor_size(e, &size);
			if (!ok || size != real) {
				problem(f, "tag '%s': index.json says its manifest %s is %s%lld bytes, it is %llu%s",
					ref, digest, ok ? "" : "(not a byte count) ",
					(long long)json_integer_value(json_object_get(e, "size")),
					(unsigned long long)real, f->repair ? " (corrected)" : "");
				if (f->repair && store_tag_set(f->st, ref, digest, real, "fsck", err) < 0) {
					json_decref(index);
					return -1;
				}
			}
		}
		switch (check_image(f, ref, digest)) {
		case IMAGE_OK:
			break;
		case IMAGE_UNREADABLE:
			cn_strv_pushdup(&unreadable, digest);
			__attribute__((fallthrough));
		case IMAGE_INCOMPLETE:
			cn_strv_pushdup(&broken, ref);
			break;
		}
	}
	json_decref(index);
	for (size_t b = 0; f->repair && b < broken.n; b++) {
		if (store_tag_remove(f->st, broken.v[b], "fsck", err) < 0)
			return -1;
		problem(f, "tag '%s': removed (its image is incomplete)", broken.v[b]);
		f->problems--;  /* the removal is the repair of a problem already counted */
	}
	/* An unreadable image's manifest goes too: tag logs and the cache may
	 * still name it, and prune keeps what a readable manifest names. Once
	 * it is gone, prune frees the config and layers only it used. */
	for (size_t u = 0; f->repair && u < unreadable.n; u++) {
		const char *hex = cn_digest_hex(unreadable.v[u]);
		if (unlinkat(f->st->blobs_fd, hex, 0) == 0) {
			json_object_set_new(f->bad_blobs, hex, json_true());
			problem(f, "image %s: manifest removed (the image cannot be read)", unreadable.v[u]);
			f->problems--;
		} else if (errno != ENOENT) {       /* or removed already: two tags on it */
			problem(f, "image %s: manifest not removed: %s", unreadable.v[u], strerror(errno));
		}
	}
	return 0;
}

static void check_logs(struct fsck *f)
{
	_cleanup_strv_ cn_strv refs = { 0 };
	cn_err err;
	if (store_taglog_refs(f->st, &refs, &err) < 0) {
		problem(f, "tags: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < refs.n; i++) {
		_cleanup_free_ struct store_tag_event *ev = NULL;
		size_t n, skipped = 0;
		if (store_taglog_read(f->st, refs.v[i], &ev, &n, &skipped, &err) < 0)
			problem(f, "tag log of '%s': %s", refs.v[i], err.msg);
		else if (skipped) {
			problem(f, "tag log of '%s': %zu unreadable line%s%s", refs.v[i], skipped,
				skipped == 1 ? "" : "s", f->repair ? " (dropped)" : "");
			if (f->repair && (store_lock(f->st, &err) < 0 ||
					  store_taglog_rewrite(f->st, refs.v[i], ev, n, &err) < 0))
				problem(f, "tag log of '%s': %s", refs.v[i], err.msg);
			if (f->repair)
				store_unlock(f->st);
		}
	}
}

static void check_cache(struct fsck *f)
{
	_cleanup_close_ int fd = openat(f->st->cache_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d)
		return;
	fd = -1;
	while ((de = readdir(d))) {
		char key[8 + NAME_MAX + 1], manifest[CN_DIGEST_STR_SIZE], why[128];
		snprintf(key, sizeof(key), "sha256:%s", de->d_name);
		if (!cn_digest_valid(key))
			continue;       /* the stat cache, temp files */
		if (store_cache_get(f->st, key, manifest) == 1 &&
		    !json_object_get(f->bad_blobs, cn_digest_hex(manifest)))
			continue;
		problem(f, "cache entry %s: points at a missing image%s", key,
			repair_unlink(f, dirfd(d), de->d_name, why, sizeof(why)));
	}
}

int store_fsck(struct store *st, bool repair, store_problem_fn report, void *ctx,
	       size_t *problems, cn_err *err)
{
	return store_fsck_layers(st, repair, NULL, report, ctx, problems, err);
}

int store_fsck_layers(struct store *st, bool repair, store_diff_id_fn diff_id, store_problem_fn report,
		      void *ctx, size_t *problems, cn_err *err)
{
	struct fsck f = { .st = st, .repair = repair, .report = report, .ctx = ctx,
			  .bad_blobs = json_object(), .diff_id = diff_id, .diff_ids = json_object() };
	int r;
	*problems = 0;
	/* Checking excludes prune; repairing excludes builds too. */
	if (store_gc_lock(st, repair, err) < 0) {
		json_decref(f.bad_blobs);
		json_decref(f.diff_ids);
		return -1;
	}
	check_blobs(&f);
	r = check_tags(&f, err);
	check_logs(&f);
	check_cache(&f);
	store_gc_unlock(st);
	json_decref(f.bad_blobs);
	json_decref(f.diff_ids);
	*problems = f.problems;
	return r;
}
