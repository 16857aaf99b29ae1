#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define INDEX_MEDIA_TYPE "application/vnd.oci.image.index.v1+json"
#define MANIFEST_MEDIA_TYPE "application/vnd.oci.image.manifest.v1+json"
#define REF_ANNOTATION "org.opencontainers.image.ref.name"

static int open_subdir(int root_fd, const char *name, int *out, cn_err *err)
{
	if (mkdirat(root_fd, name, 0700) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create '%s'", name);
	*out = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*out < 0)
		return cn_err_sys(err, "open '%s'", name);
	return 0;
}

static int ensure_file(int dirfd, const char *name, const char *content, cn_err *err)
{
	if (faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return cn_err_sys(err, "stat '%s'", name);
	return cn_write_file_atomic(dirfd, name, content, strlen(content), 0644, err);
}

#define SWEEP_MAX 64

/* Temp files of cn_write_file_atomic in the layout root (".index.json.tmp-...").
 * They are only written under the store lock, so under it any is stale. */
static void sweep_root_temps(struct store *st)
{
	_cleanup_close_ int fd = openat(st->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d)
		return;
	fd = -1;
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp-"))
			unlinkat(dirfd(d), de->d_name, 0);
}

/* Remove the tmp/ entries whose flock nobody holds: their owner died
 * (kill -9, crash) before cleaning up. They are chosen under the store lock
 * (keeping their flocks) and removed after it, so a big leftover does not
 * hold up other processes. Best effort: what fails stays for the next sweep. */
static void sweep_tmp(struct store *st)
{
	struct { int fd; char name[NAME_MAX + 1]; } stale[SWEEP_MAX];
	size_t n = 0;
	_cleanup_close_ int fd = openat(st->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	cn_err ignored;
	if (!d)
		return;
	fd = -1;
	while (n < SWEEP_MAX && (de = readdir(d))) {
		int efd;
		if (de->d_name[0] == '.')
			continue;
		efd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (efd < 0)
			continue;
		if (flock(efd, LOCK_EX | LOCK_NB) < 0) {
			close(efd);     /* in use by a live process */
			continue;
		}
		stale[n].fd = efd;
		snprintf(stale[n].name, sizeof(stale[n].name), "%s", de->d_name);
		n++;
	}
	store_unlock(st);
	for (size_t i = 0; i < n; i++) {
		cn_rm_rf_at(st->tmp_fd, stale[i].name, &ignored);
		close(stale[i].fd);
	}
}

int store_open(const char *root, struct store *st, cn_err *err)
{
	memset(st, 0, sizeof(*st));
	st->root_fd = st->blobs_fd = st->snap_fd = st->tmp_fd = st->lock_fd = -1;
	if (cn_mkdir_p(root, 0700, err) < 0)
		return cn_err_wrap(err, "store '%s'", root);
	st->root = realpath(root, NULL);
	if (!st->root)
		return cn_err_sys(err, "store '%s'", root);
	st->root_fd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->root_fd < 0) {
		cn_err_sys(err, "open store '%s'", st->root);
		goto fail;
	}
	st->lock_fd = openat(st->root_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		cn_err_sys(err, "open '%s/lock'", st->root);
		goto fail;
	}
	if (mkdirat(st->root_fd, "blobs", 0755) < 0 && errno != EEXIST) {
		cn_err_sys(err, "create '%s/blobs'", st->root);
		goto fail;
	}
	if (open_subdir(st->root_fd, "blobs/sha256", &st->blobs_fd, err) < 0 ||
	    open_subdir(st->root_fd, "snapshots", &st->snap_fd, err) < 0 ||
	    open_subdir(st->root_fd, "tmp", &st->tmp_fd, err) < 0)
		goto fail_wrap;
	if (store_lock(st, err) < 0)
		goto fail_wrap;
	if (ensure_file(st->root_fd, "oci-layout", OCI_LAYOUT, err) < 0 ||
	    ensure_file(st->root_fd, "index.json",
			"{\"schemaVersion\":2,\"mediaType\":\"" INDEX_MEDIA_TYPE "\",\"manifests\":[]}",
			err) < 0) {
		store_unlock(st);
		goto fail_wrap;
	}
	sweep_root_temps(st);
	sweep_tmp(st);          /* releases the store lock */
	return 0;
fail_wrap:
	cn_err_wrap(err, "store '%s'", st->root);
fail:
	store_close(st);
	return -1;
}

void store_close(struct store *st)
{
	int *fds[] = { &st->root_fd, &st->blobs_fd, &st->snap_fd, &st->tmp_fd, &st->lock_fd };
	for (size_t i = 0; i < CN_ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(st->root);
	st->root = NULL;
}

int store_lock(struct store *st, cn_err *err)
{
	while (flock(st->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return cn_err_sys(err, "lock store");
	}
	return 0;
}

void store_unlock(struct store *st)
{
	flock(st->lock_fd, LOCK_UN);
}

int store_tmpdir_create(struct store *st, const char *prefix, struct store_tmpdir *td,
			cn_err *err)
{
	memset(td, 0, sizeof(*td));
	td->fd = -1;
	td->path = cn_xasprintf("%s/tmp/%s-XXXXXX", st->root, prefix);
	/* Created and locked under the store lock, so a concurrent sweep never
	 * sees it unlocked. */
	if (store_lock(st, err) < 0)
		goto fail;
	if (!mkdtemp(td->path)) {
		cn_err_sys(err, "create temporary directory in '%s/tmp'", st->root);
		store_unlock(st);
		goto fail;
	}
	td->fd = open(td->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (td->fd < 0 || flock(td->fd, LOCK_EX | LOCK_NB) < 0) {
		cn_err_sys(err, "lock '%s'", td->path);
		rmdir(td->path);
		store_unlock(st);
		goto fail;
	}
	store_unlock(st);
	td->name = cn_xstrdup(strrchr(td->path, '/') + 1);
	return 0;
fail:
	if (td->fd >= 0)
		close(td->fd);
	td->fd = -1;
	free(td->path);
	td->path = NULL;
	return -1;
}

void store_tmpdir_remove(struct store *st, struct store_tmpdir *td)
{
	cn_err ignored;
	if (td->name)
		cn_rm_rf_at(st->tmp_fd, td->name, &ignored);
	if (td->fd >= 0)
		close(td->fd);
	td->fd = -1;
	free(td->name);
	free(td->path);
	td->name = td->path = NULL;
}

int store_ingest_begin(struct store *st, struct store_ingest *in, cn_err *err)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/tmp/blob-XXXXXX", st->root);
	memset(in, 0, sizeof(*in));
	in->st = st;
	if (store_lock(st, err) < 0)
		return -1;
	in->fd = mkostemp(path, O_CLOEXEC);
	if (in->fd < 0 || flock(in->fd, LOCK_EX | LOCK_NB) < 0) {
		cn_err_sys(err, "create temporary file in '%s/tmp'", st->root);
		if (in->fd >= 0) {
			unlink(path);
			close(in->fd);
		}
		in->fd = -1;
		store_unlock(st);
		return -1;
	}
	store_unlock(st);
	fchmod(in->fd, 0444);
	in->name = cn_xstrdup(strrchr(path, '/') + 1);
	return 0;
}

int store_ingest_commit(struct store_ingest *in, const char *digest, cn_err *err)
{
	struct store *st = in->st;
	if (!cn_digest_valid(digest)) {
		store_ingest_abort(in);
		return cn_err_set(err, EINVAL, "invalid digest '%s'", digest);
	}
	if (fsync(in->fd) < 0) {
		cn_err_sys(err, "fsync blob %s", digest);
		store_ingest_abort(in);
		return -1;
	}
	if (renameat2(st->tmp_fd, in->name, st->blobs_fd, cn_digest_hex(digest), RENAME_NOREPLACE) < 0) {
		if (errno != EEXIST) {
			cn_err_sys(err, "store blob %s", digest);
			store_ingest_abort(in);
			return -1;
		}
		store_ingest_abort(in);     /* same bytes are already there */
		/* ... but maybe not yet durable, if another process just put them. */
		return cn_fsync_dir_at(st->blobs_fd, ".", err);
	}
	free(in->name);
	in->name = NULL;
	close(in->fd);
	in->fd = -1;
	return cn_fsync_dir_at(st->blobs_fd, ".", err);
}

void store_ingest_abort(struct store_ingest *in)
{
	if (in->name)
		unlinkat(in->st->tmp_fd, in->name, 0);
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	free(in->name);
	in->name = NULL;
}

int store_blob_put(struct store *st, const void *data, size_t len,
		   char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	struct store_ingest in;
	cn_sha256_oneshot(data, len, digest);
	if (store_blob_exists(st, digest))
		return 0;
	if (store_ingest_begin(st, &in, err) < 0)
		return -1;
	if (cn_write_all(in.fd, data, len) < 0) {
		cn_err_sys(err, "write blob %s", digest);
		store_ingest_abort(&in);
		return -1;
	}
	return store_ingest_commit(&in, digest, err);
}

int store_blob_get(struct store *st, const char *digest, size_t max, cn_buf *out, cn_err *err)
{
	char got[CN_DIGEST_STR_SIZE];
	if (!cn_digest_valid(digest))
		return cn_err_set(err, EINVAL, "invalid digest '%s'", digest);
	if (cn_read_file_at(st->blobs_fd, cn_digest_hex(digest), max, out, err) < 0)
		return cn_err_wrap(err, "blob %s", digest);
	cn_sha256_oneshot(out->data, out->len, got);
	if (strcmp(got, digest) != 0)
		return cn_err_set(err, EIO, "blob %s: digest mismatch (content hashes to %s)", digest, got);
	return 0;
}

bool store_blob_exists(struct store *st, const char *digest)
{
	return cn_digest_valid(digest) &&
	       faccessat(st->blobs_fd, cn_digest_hex(digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

bool store_snapshot_exists(struct store *st, const char *diff_id)
{
	struct stat s;
	return cn_digest_valid(diff_id) &&
	       fstatat(st->snap_fd, cn_digest_hex(diff_id), &s, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(s.st_mode);
}

char *store_snapshot_path(struct store *st, const char *diff_id)
{
	return cn_xasprintf("%s/snapshots/%s", st->root, cn_digest_hex(diff_id));
}

int store_snapshot_commit(struct store *st, int dirfd_parent, const char *name,
			  const char *diff_id, cn_err *err)
{
	if (!cn_digest_valid(diff_id))
		return cn_err_set(err, EINVAL, "invalid diff_id '%s'", diff_id);
	if (renameat2(dirfd_parent, name, st->snap_fd, cn_digest_hex(diff_id), RENAME_NOREPLACE) < 0 &&
	    errno != EEXIST)
		return cn_err_sys(err, "publish snapshot %s", diff_id);
	return cn_fsync_dir_at(st->snap_fd, ".", err);
}

/* ---- references and index.json ---- */

static bool ref_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '/';
}

char *store_ref_normalize(const char *ref, cn_err *err)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	const char *first_slash = strchr(ref, '/');
	size_t namelen;
	if (!*ref || strlen(ref) > 255 || strchr(ref, '@')) {
		cn_err_set(err, EINVAL, "invalid image name '%s'", ref);
		return NULL;
	}
	if (colon && slash && colon < slash)
		colon = NULL;   /* host:port/name without tag */
	namelen = colon ? (size_t)(colon - ref) : strlen(ref);
	for (size_t i = 0; i < namelen; i++) {
		/* The registry host (first component) may carry a port and capitals. */
		bool in_host = first_slash && ref + i < first_slash &&
			       (memchr(ref, '.', (size_t)(first_slash - ref)) ||
				memchr(ref, ':', (size_t)(first_slash - ref)) ||
				!strncmp(ref, "localhost/", 10));
		char c = ref[i];
		if (!(ref_char_ok(c) || (in_host && (c == ':' || (c >= 'A' && c <= 'Z'))))) {
			cn_err_set(err, EINVAL, "invalid image name '%s': names are lower-case "
				   "letters, digits and . _ - /", ref);
			return NULL;
		}
	}
	if (namelen == 0 || ref[0] == '/' || ref[namelen - 1] == '/' || strstr(ref, "//") ||
	    strstr(ref, "..")) {
		cn_err_set(err, EINVAL, "invalid image name '%s'", ref);
		return NULL;
	}
	if (colon) {
		const char *tag = colon + 1;
		size_t tl = strlen(tag);
		if (tl == 0 || tl > 128 || tag[0] == '.' || tag[0] == '-') {
			cn_err_set(err, EINVAL, "invalid tag in '%s'", ref);
			return NULL;
		}
		for (size_t i = 0; i < tl; i++) {
			char c = tag[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '_' || c == '.' || c == '-')) {
				cn_err_set(err, EINVAL, "invalid tag in '%s'", ref);
				return NULL;
			}
		}
		return cn_xstrdup(ref);
	}
	return cn_xasprintf("%s:latest", ref);
}

int store_index_load(struct store *st, json_t **out, cn_err *err)
{
	_cleanup_buf_ cn_buf b;
	json_error_t je;
	json_t *idx;
	cn_buf_init(&b, STORE_MAX_JSON);
	if (cn_read_file_at(st->root_fd, "index.json", STORE_MAX_JSON, &b, err) < 0)
		return -1;
	idx = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	if (!idx)
		return cn_err_set(err, EINVAL, "%s/index.json:%d: %s", st->root, je.line, je.text);
	if (!json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		return cn_err_set(err, EINVAL, "%s/index.json: no manifests array", st->root);
	}
	*out = idx;
	return 0;
}

static const char *entry_ref(json_t *entry)
{
	return json_string_value(json_object_get(json_object_get(entry, "annotations"), REF_ANNOTATION));
}

static int index_save(struct store *st, json_t *idx, cn_err *err)
{
	_cleanup_free_ char *text = json_dumps(idx, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return cn_err_set(err, ENOMEM, "encode index.json");
	return cn_write_file_atomic(st->root_fd, "index.json", text, strlen(text), 0644, err);
}

/* Index of REF's entry in the manifests array, or -1. */
static long index_find(json_t *manifests, const char *ref)
{
	size_t i;
	json_t *e;
	json_array_foreach(manifests, i, e) {
		const char *r = entry_ref(e);
		if (r && strcmp(r, ref) == 0)
			return (long)i;
	}
	return -1;
}

int store_tag_set(struct store *st, const char *ref, const char *manifest_digest,
		  uint64_t manifest_size, const char *cause, cn_err *err)
{
	json_t *idx = NULL, *entry, *manifests;
	long i;
	int r = -1;
	(void)cause;    /* kept for the tag log */
	if (!cn_digest_valid(manifest_digest))
		return cn_err_set(err, EINVAL, "invalid digest '%s'", manifest_digest);
	if (store_lock(st, err) < 0)
		return -1;
	if (store_index_load(st, &idx, err) < 0)
		goto out;
	manifests = json_object_get(idx, "manifests");
	entry = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", MANIFEST_MEDIA_TYPE,
			  "digest", manifest_digest, "size", (json_int_t)manifest_size,
			  "annotations", REF_ANNOTATION, ref);
	i = index_find(manifests, ref);
	if (i >= 0)
		json_array_set_new(manifests, (size_t)i, entry);
	else
		json_array_append_new(manifests, entry);
	r = index_save(st, idx, err);
out:
	json_decref(idx);
	store_unlock(st);
	return r;
}

int store_tag_get(struct store *st, const char *ref, char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	json_t *idx = NULL;
	const char *d;
	long i;
	if (store_index_load(st, &idx, err) < 0)
		return -1;
	i = index_find(json_object_get(idx, "manifests"), ref);
	if (i < 0) {
		json_decref(idx);
		return 0;
	}
	d = json_string_value(json_object_get(json_array_get(json_object_get(idx, "manifests"),
							     (size_t)i), "digest"));
	if (!cn_digest_valid(d)) {
		json_decref(idx);
		return cn_err_set(err, EINVAL, "%s/index.json: '%s' has an invalid digest", st->root, ref);
	}
	memcpy(digest, d, CN_DIGEST_STR_SIZE);
	json_decref(idx);
	return 1;
}

int store_tag_remove(struct store *st, const char *ref, cn_err *err)
{
	json_t *idx = NULL;
	long i;
	int r = -1;
	if (store_lock(st, err) < 0)
		return -1;
	if (store_index_load(st, &idx, err) < 0)
		goto out;
	i = index_find(json_object_get(idx, "manifests"), ref);
	if (i < 0) {
		r = 0;
		goto out;
	}
	json_array_remove(json_object_get(idx, "manifests"), (size_t)i);
	r = index_save(st, idx, err) < 0 ? -1 : 1;
out:
	json_decref(idx);
	store_unlock(st);
	return r;
}
