/* rcache/local.h: an OCI image layout directory as a build-cache store.
 *
 * DIR may be shared with other users and processes, so it is hostile input:
 * it is opened once, and everything below it is reached through that fd
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), never by path. Only
 * regular files are read (a FIFO or device planted as a blob is refused),
 * every blob read is hashed and checked against its name, and nothing is
 * ever written through an existing name: new files are created under
 * fresh temp names (O_EXCL) and renamed over whatever is there, which
 * replaces a planted symlink instead of following it. */
#include "rcache/local.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REF_ANNOTATION "org.opencontainers.image.ref.name"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define LOCK_NAME ".cairn-cache.lock"
#define BLOB_TMP_PREFIX ".tmp-"
/* index.json and manifests: the store's own cap on JSON documents. */
#define LOCAL_MAX_JSON STORE_MAX_JSON
#define STREAM_CHUNK ((size_t)256 << 10)
/* A blob temp file older than this whose flock nobody holds is a killed
 * writer's leftover. (The age covers the instant between a writer's
 * create and its flock.) */
#define STALE_TMP_SECONDS 3600

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)

struct rc_local {
	char *dir;                      /* as given, for messages */
	char *tag;
	char pin[CN_DIGEST_STR_SIZE];   /* "" when the manifest is not pinned */
	bool write;
	int dir_fd;
	int blobs_fd;                   /* blobs/sha256; -1 when a read-only DIR has none */
	int lock_fd;                    /* DIR/.cairn-cache.lock, -1 until rc_local_lock */
	bool locked;
	uint64_t bytes_in, bytes_out;
};

/* ---- opening ---- */

/* NAME (one component) below DIRFD as a directory, made when missing. */
static int open_subdir(struct rc_local *l, int dirfd, const char *name, const char *show, bool create,
		       cn_err *err)
{
	int fd = cn_openat2(dirfd, name, O_RDONLY | O_DIRECTORY, BENEATH);
	if (fd >= 0 || errno != ENOENT || !create) {
		if (fd < 0 && errno == ELOOP)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s/%s' is a symbolic link (refused)", l->dir,
					   show);
		if (fd < 0 && errno != ENOENT)
			return cn_err_sys(err, "open '%s/%s'", l->dir, show);
		return fd;
	}
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create directory '%s/%s'", l->dir, show);
	fd = cn_openat2(dirfd, name, O_RDONLY | O_DIRECTORY, BENEATH);
	if (fd < 0)
		return cn_err_sys(err, "open '%s/%s'", l->dir, show);
	return fd;
}

/* oci-layout, written when missing; one that is there is left alone
 * unless it is not a regular file. */
static int ensure_oci_layout(struct rc_local *l, cn_err *err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	struct stat st;
	if (fstatat(l->dir_fd, "oci-layout", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode))
			return cn_err_fail(err, CN_ERR_CONFLICT, "'%s/oci-layout' is not a regular file", l->dir);
		return 0;
	}
	if (errno != ENOENT)
		return cn_err_sys(err, "stat '%s/oci-layout'", l->dir);
	if (cn_write_file_atomic(l->dir_fd, "oci-layout", layout, strlen(layout), 0644, err) < 0)
		return cn_err_wrap(err, "cache directory '%s'", l->dir);
	return 0;
}

/* Remove blob temps whose writer died (best effort). */
static void sweep_blob_temps(struct rc_local *l)
{
	_cleanup_close_ int fd = openat(l->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	time_t now = time(NULL);
	if (!d)
		return;
	fd = -1;
	while ((de = readdir(d))) {
		_cleanup_close_ int tfd = -1;
		struct stat st;
		if (strncmp(de->d_name, BLOB_TMP_PREFIX, strlen(BLOB_TMP_PREFIX)) != 0)
			continue;
		tfd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (tfd < 0 || fstat(tfd, &st) < 0 || !S_ISREG(st.st_mode) || now - st.st_mtime < STALE_TMP_SECONDS)
			continue;
		if (flock(tfd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), de->d_name, 0);
	}
}

static int open_dir(struct rc_local *l, cn_err *err)
{
	if (l->write && cn_mkdir_p(l->dir, 0755, err) < 0)
		return cn_err_wrap(err, "cache directory");
	l->dir_fd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dir_fd < 0) {
		if (errno == ENOENT)
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "cache directory '%s' does not exist", l->dir);
		return cn_err_sys(err, "open cache directory '%s'", l->dir);
	}
	if (l->write) {
		_cleanup_close_ int blobs = -1;
		if (ensure_oci_layout(l, err) < 0)
			return -1;
		blobs = open_subdir(l, l->dir_fd, "blobs", "blobs", true, err);
		if (blobs < 0)
			return -1;
		l->blobs_fd = open_subdir(l, blobs, "sha256", "blobs/sha256", true, err);
		if (l->blobs_fd < 0)
			return -1;
		sweep_blob_temps(l);
		return 0;
	}
	/* Reading: a DIR without blobs/ holds no cache yet (get_manifest says 0). */
	l->blobs_fd = cn_openat2(l->dir_fd, "blobs/sha256", O_RDONLY | O_DIRECTORY, BENEATH);
	if (l->blobs_fd < 0 && errno != ENOENT) {
		if (errno == ELOOP)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s/blobs/sha256' goes through a symbolic link "
					   "(refused)", l->dir);
		return cn_err_sys(err, "open '%s/blobs/sha256'", l->dir);
	}
	return 0;
}

int rc_local_open(const char *dir, const char *tag, const char *digest, bool write, struct rc_local **out,
		  cn_err *err)
{
	struct rc_local *l;
	*out = NULL;
	if (!dir || !*dir)
		return cn_err_fail(err, CN_ERR_INVALID, "empty cache directory name");
	/* A reader of a pinned manifest needs no tag; a writer always does. */
	if ((!tag || !*tag) && (write || !digest))
		return cn_err_fail(err, CN_ERR_INVALID, "cache directory '%s': empty tag", dir);
	if (digest && !cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "cache directory '%s': invalid digest '%s'", dir, digest);
	l = cn_xcalloc(1, sizeof(*l));
	l->dir = cn_xstrdup(dir);
	l->tag = cn_xstrdup(tag ? tag : "");
	if (digest)
		snprintf(l->pin, sizeof(l->pin), "%s", digest);
	l->write = write;
	l->dir_fd = l->blobs_fd = l->lock_fd = -1;
	if (open_dir(l, err) < 0) {
		rc_local_close(l);
		return -1;
	}
	*out = l;
	return 0;
}

void rc_local_close(struct rc_local *l)
{
	if (!l)
		return;
	rc_local_unlock(l);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	if (l->blobs_fd >= 0)
		close(l->blobs_fd);
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	free(l->dir);
	free(l->tag);
	free(l);
}

/* ---- the writer lock ---- */

int rc_local_lock(struct rc_local *l, cn_err *err)
{
	struct stat st;
	if (l->locked)
		return 0;
	if (l->lock_fd < 0) {
		/* O_NONBLOCK: a FIFO planted under the name must not hang the open. */
		l->lock_fd = openat(l->dir_fd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
				    0644);
		if (l->lock_fd < 0)
			return cn_err_sys(err, "open lock file '%s/" LOCK_NAME "'", l->dir);
		if (fstat(l->lock_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(l->lock_fd);
			l->lock_fd = -1;
			return cn_err_fail(err, CN_ERR_INVALID, "'%s/" LOCK_NAME "' is not a regular file", l->dir);
		}
	}
	while (flock(l->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return cn_err_sys(err, "lock cache directory '%s'", l->dir);
		if (cn_interrupted())
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	}
	l->locked = true;
	return 0;
}

void rc_local_unlock(struct rc_local *l)
{
	if (!l->locked)
		return;
	flock(l->lock_fd, LOCK_UN);
	l->locked = false;
}

uint64_t rc_local_bytes_in(const struct rc_local *l)
{
	return l->bytes_in;
}

uint64_t rc_local_bytes_out(const struct rc_local *l)
{
	return l->bytes_out;
}

/* ---- reading ---- */

/* The blob DIGEST in DIR, a regular file, opened read-only into *FD with
 * its size in *SIZE: 1, 0 when DIR has none (err unset), -1. */
static int open_blob(struct rc_local *l, const char *digest, int *fd, uint64_t *size, cn_err *err)
{
	struct stat st;
	*fd = -1;
	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "cache directory '%s': invalid digest '%s'", l->dir, digest);
	if (l->blobs_fd < 0)
		return 0;
	*fd = cn_openat2(l->blobs_fd, cn_digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_NONBLOCK, BENEATH);
	if (*fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s/blobs/sha256/%s' is a symbolic link (refused)",
					   l->dir, cn_digest_hex(digest));
		return cn_err_sys(err, "open '%s/blobs/sha256/%s'", l->dir, cn_digest_hex(digest));
	}
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return cn_err_fail(err, CN_ERR_INVALID, "'%s/blobs/sha256/%s' is not a regular file", l->dir,
				   cn_digest_hex(digest));
	}
	*size = (uint64_t)st.st_size;
	return 1;
}

/* The blob DIGEST (at most MAX bytes; exactly WANT_SIZE unless that is
 * UINT64_MAX) into OUT, verified. 1, 0 when DIR lacks it, -1. */
static int read_blob(struct rc_local *l, const char *digest, size_t max, uint64_t want_size, cn_buf *out,
		     cn_err *err)
{
	_cleanup_free_ char *show = NULL;
	_cleanup_close_ int fd = -1;
	char got[CN_DIGEST_STR_SIZE];
	uint64_t size = 0;
	int r = open_blob(l, digest, &fd, &size, err);
	if (r <= 0)
		return r;
	show = cn_xasprintf("%s/blobs/sha256/%s", l->dir, cn_digest_hex(digest));
	if (size > max)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "'%s' is %llu bytes, more than the %zu allowed", show,
				   (unsigned long long)size, max);
	cn_buf_reset(out);
	if (cn_read_fd(fd, show, max, out, err) < 0)
		return -1;
	l->bytes_in += out->len;
	if (want_size != UINT64_MAX && out->len != want_size)
		return cn_err_fail(err, CN_ERR_CORRUPT, "'%s' is %zu bytes, index.json says %llu", show, out->len,
				   (unsigned long long)want_size);
	cn_sha256_oneshot(out->data, out->len, got);
	if (strcmp(got, digest) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "'%s' is corrupt: its content hashes to %s", show, got);
	return 1;
}

/* DIR/index.json parsed: 1, 0 when there is none, -1 (corrupt, a symlink,
 * not a regular file). */
static int load_index(struct rc_local *l, json_t **out, cn_err *err)
{
	_cleanup_buf_ cn_buf b;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *show = cn_xasprintf("%s/index.json", l->dir);
	json_error_t je;
	json_t *ms;
	*out = NULL;
	cn_buf_init(&b, LOCAL_MAX_JSON);
	fd = cn_openat2(l->dir_fd, "index.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK, BENEATH);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s' is a symbolic link (refused)", show);
		return cn_err_sys(err, "open '%s'", show);
	}
	if (cn_read_fd(fd, show, LOCAL_MAX_JSON, &b, err) < 0)
		return -1;
	*out = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	if (!*out)
		return cn_err_fail(err, CN_ERR_CORRUPT, "'%s':%d: %s", show, je.line, je.text);
	ms = json_object_get(*out, "manifests");
	if (!json_is_object(*out) || !json_is_array(ms)) {
		json_decref(*out);
		*out = NULL;
		return cn_err_fail(err, CN_ERR_CORRUPT, "'%s' is not an image index (no manifests array)", show);
	}
	return 1;
}

static const char *entry_ref(json_t *entry)
{
	return json_string_value(json_object_get(json_object_get(entry, "annotations"), REF_ANNOTATION));
}

/* The index entry for the cache: the one naming the pinned digest, else
 * the one tagged with our tag. 1 and *ENTRY (borrowed), 0, -1 when the tag
 * is on more than one entry. */
static int find_entry(struct rc_local *l, json_t *index, json_t **entry, cn_err *err)
{
	json_t *ms = json_object_get(index, "manifests"), *e;
	size_t i;
	*entry = NULL;
	json_array_foreach(ms, i, e) {
		const char *d = json_string_value(json_object_get(e, "digest"));
		const char *ref = entry_ref(e);
		if (l->pin[0]) {
			if (d && strcmp(d, l->pin) == 0) {
				*entry = e;
				return 1;
			}
			continue;
		}
		if (!ref || strcmp(ref, l->tag) != 0)
			continue;
		if (*entry)
			return cn_err_fail(err, CN_ERR_CORRUPT, "'%s/index.json': tag '%s' is on more than one entry",
					   l->dir, l->tag);
		*entry = e;
	}
	return *entry ? 1 : 0;
}

/* A pinned manifest need not be in index.json: the blob of that name is
 * read directly (verified against the pin). */
static int get_pinned(struct rc_local *l, cn_buf *body, char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	int r = read_blob(l, l->pin, LOCAL_MAX_JSON, UINT64_MAX, body, err);
	if (r > 0)
		snprintf(digest, CN_DIGEST_STR_SIZE, "%s", l->pin);
	return r;
}

int rc_local_get_manifest(struct rc_local *l, cn_buf *body, char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	json_t *index = NULL, *entry;
	const char *d;
	uint64_t size;
	int r = load_index(l, &index, err);
	if (r < 0)
		return -1;
	if (r > 0)
		r = find_entry(l, index, &entry, err);
	if (r == 0 && l->pin[0]) {
		r = get_pinned(l, body, digest, err);
		goto out;
	}
	if (r <= 0)
		goto out;
	d = json_string_value(json_object_get(entry, "digest"));
	if (!d || !cn_digest_valid(d) || !store_descriptor_size(entry, &size)) {
		r = cn_err_fail(err, CN_ERR_CORRUPT, "'%s/index.json': the entry for '%s' has no valid digest and "
				"size", l->dir, l->pin[0] ? l->pin : l->tag);
		goto out;
	}
	if (size > LOCAL_MAX_JSON) {
		r = cn_err_fail(err, CN_ERR_TOO_BIG, "'%s/index.json': the manifest for '%s' is %llu bytes, more "
				"than the %zu allowed", l->dir, l->tag, (unsigned long long)size,
				(size_t)LOCAL_MAX_JSON);
		goto out;
	}
	r = read_blob(l, d, LOCAL_MAX_JSON, size, body, err);
	if (r == 0)
		r = cn_err_fail(err, CN_ERR_CORRUPT, "'%s/index.json' names manifest %s, which '%s/blobs/sha256' "
				"lacks", l->dir, d, l->dir);
	if (r > 0)
		snprintf(digest, CN_DIGEST_STR_SIZE, "%s", d);
out:
	json_decref(index);
	return r;
}

int rc_local_get_blob(struct rc_local *l, const char *digest, size_t max, cn_buf *out, cn_err *err)
{
	int r = read_blob(l, digest, max, UINT64_MAX, out, err);
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "cache directory '%s' has no blob %s", l->dir, digest);
	return r < 0 ? -1 : 0;
}

int rc_local_has_blob(struct rc_local *l, const char *digest, cn_err *err)
{
	struct stat st;
	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "cache directory '%s': invalid digest '%s'", l->dir, digest);
	if (l->blobs_fd < 0)
		return 0;
	if (fstatat(l->blobs_fd, cn_digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return cn_err_sys(err, "stat '%s/blobs/sha256/%s'", l->dir, cn_digest_hex(digest));
	}
	return S_ISREG(st.st_mode) ? 1 : 0;
}

/* SFD (LAYER's blob in DIR, SIZE bytes) into the open ingest: hashed while
 * written, checked against the digest and the declared size. */
static int stream_in(struct rc_local *l, int sfd, const struct store_layer *layer, struct store_ingest *in,
		     const char *show, cn_err *err)
{
	_cleanup_free_ char *chunk = cn_xmalloc(STREAM_CHUNK);
	char got[CN_DIGEST_STR_SIZE];
	uint64_t n = 0;
	cn_sha256 h;
	cn_sha256_init(&h);
	for (;;) {
		ssize_t k = read(sfd, chunk, STREAM_CHUNK);
		if (k < 0 && errno == EINTR && !cn_interrupted())
			continue;
		if (k < 0) {
			cn_err_sys(err, "read '%s'", show);
			goto fail;
		}
		if (k == 0)
			break;
		if (cn_interrupted()) {
			cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
			goto fail;
		}
		n += (uint64_t)k;
		/* The file may grow while it is read: never past the size. */
		if (n > layer->size) {
			cn_err_fail(err, CN_ERR_CORRUPT, "'%s' is larger than the %llu bytes of layer %s", show,
				    (unsigned long long)layer->size, layer->digest);
			goto fail;
		}
		cn_sha256_update(&h, chunk, (size_t)k);
		if (cn_write_all(in->fd, chunk, (size_t)k) < 0) {
			cn_err_sys(err, "write blob %s into the store", layer->digest);
			goto fail;
		}
	}
	l->bytes_in += n;
	cn_sha256_final(&h, got);
	if (n != layer->size)
		return cn_err_fail(err, CN_ERR_CORRUPT, "'%s' is %llu bytes, layer %s has %llu", show,
				   (unsigned long long)n, layer->digest, (unsigned long long)layer->size);
	if (strcmp(got, layer->digest) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "'%s' is corrupt: its content hashes to %s", show, got);
	return 0;
fail:
	cn_sha256_free(&h);
	return -1;
}

int rc_local_fetch_layer(struct rc_local *l, struct store *st, const struct store_layer *layer, cn_err *err)
{
	_cleanup_free_ char *show = NULL;
	_cleanup_close_ int fd = -1;
	struct store_ingest in;
	uint64_t size = 0;
	int r;
	if (store_blob_exists(st, layer->digest))
		return 0;
	r = open_blob(l, layer->digest, &fd, &size, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "cache directory '%s' has no blob %s (layer)", l->dir,
				   layer->digest);
	show = cn_xasprintf("%s/blobs/sha256/%s", l->dir, cn_digest_hex(layer->digest));
	if (size != layer->size)
		return cn_err_fail(err, CN_ERR_CORRUPT, "'%s' is %llu bytes, layer %s has %llu", show,
				   (unsigned long long)size, layer->digest, (unsigned long long)layer->size);
	if (store_ingest_begin(st, &in, err) < 0)
		return -1;
	if (stream_in(l, fd, layer, &in, show, err) < 0) {
		store_ingest_abort(&in);
		return -1;
	}
	return store_ingest_commit(&in, layer->digest, err);
}

/* ---- writing ---- */

/* A fresh temp file in blobs/sha256, flock()ed so that a sweep can tell it
 * from a dead writer's; its name into NAME. */
static int create_tmp(struct rc_local *l, char name[32], cn_err *err)
{
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[8];
		int fd;
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return cn_err_sys(err, "getrandom");
		snprintf(name, 32, BLOB_TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
			 r[4], r[5], r[6], r[7]);
		fd = openat(l->blobs_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0) {
			flock(fd, LOCK_EX | LOCK_NB);
			return fd;
		}
		if (errno != EEXIST)
			return cn_err_sys(err, "create a temporary file in '%s/blobs/sha256'", l->dir);
	}
	return cn_err_fail(err, CN_ERR_SYSTEM, "create a temporary file in '%s/blobs/sha256': no free name", l->dir);
}

/* The temp NAME (open as FD, complete) becomes blobs/sha256/<hex of
 * DIGEST>. Data first, then the rename: index.json, written after, never
 * names a blob a crash could leave empty. */
static int publish_tmp(struct rc_local *l, int fd, const char *name, const char *digest, cn_err *err)
{
	if (fdatasync(fd) < 0)
		return cn_err_sys(err, "write '%s/blobs/sha256/%s'", l->dir, name);
	if (renameat(l->blobs_fd, name, l->blobs_fd, cn_digest_hex(digest)) < 0)
		return cn_err_sys(err, "rename '%s/blobs/sha256/%s' to %s", l->dir, name, cn_digest_hex(digest));
	return 0;
}

/* DIR has DIGEST as a regular file of SIZE bytes: nothing to write. */
static bool have_blob(struct rc_local *l, const char *digest, uint64_t size)
{
	struct stat st;
	return fstatat(l->blobs_fd, cn_digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size == size;
}

static int check_writable(struct rc_local *l, cn_err *err)
{
	if (!l->write || l->blobs_fd < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "cache directory '%s' was opened for reading", l->dir);
	return 0;
}

/* LAYER's blob from the store into DIR, streamed. */
static int push_one(struct rc_local *l, struct store *st, const struct store_layer *layer, void *chunk,
		    cn_err *err)
{
	_cleanup_close_ int sfd = -1, dfd = -1;
	char tmp[32];
	uint64_t n = 0;
	struct stat sst;
	int r;
	if (!cn_digest_valid(layer->digest))
		return cn_err_fail(err, CN_ERR_INVALID, "layer has an invalid digest '%s'", layer->digest);
	if (have_blob(l, layer->digest, layer->size))
		return 0;
	sfd = store_blob_open(st, layer->digest, err);
	if (sfd < 0)
		return -1;
	if (fstat(sfd, &sst) < 0)
		return cn_err_sys(err, "stat blob %s", layer->digest);
	if ((uint64_t)sst.st_size != layer->size)
		return cn_err_fail(err, CN_ERR_CORRUPT, "blob %s in the store is %llu bytes, the layer has %llu",
				   layer->digest, (unsigned long long)sst.st_size, (unsigned long long)layer->size);
	dfd = create_tmp(l, tmp, err);
	if (dfd < 0)
		return -1;
	/* The store's blobs were hashed when they came in; this copy may be
	 * a reflink. A reader of DIR hashes each blob again. */
	r = cn_copy_fd(sfd, dfd, chunk, STREAM_CHUNK, layer->size, &n);
	if (r < 0 && errno != EFBIG)
		cn_err_sys(err, "copy blob %s to '%s/blobs/sha256'", layer->digest, l->dir);
	else if (r < 0 || n != layer->size)
		r = cn_err_fail(err, CN_ERR_CORRUPT, "blob %s changed size in the store while it was copied",
				layer->digest);
	if (r < 0) {
		unlinkat(l->blobs_fd, tmp, 0);
		return -1;
	}
	if (publish_tmp(l, dfd, tmp, layer->digest, err) < 0) {
		unlinkat(l->blobs_fd, tmp, 0);
		return -1;
	}
	l->bytes_out += n;
	return 0;
}

int rc_local_push_layers(struct rc_local *l, struct store *st, const struct store_layer *layers, size_t n,
			 cn_err *err)
{
	_cleanup_free_ void *chunk = NULL;
	if (check_writable(l, err) < 0)
		return -1;
	chunk = cn_xmalloc(STREAM_CHUNK);
	for (size_t i = 0; i < n; i++) {
		if (cn_interrupted())
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
		if (push_one(l, st, &layers[i], chunk, err) < 0)
			return cn_err_wrap(err, "cache directory '%s'", l->dir);
	}
	return 0;
}

int rc_local_put_blob(struct rc_local *l, const void *data, size_t len, const char *digest, cn_err *err)
{
	_cleanup_close_ int fd = -1;
	char got[CN_DIGEST_STR_SIZE], tmp[32];
	if (check_writable(l, err) < 0)
		return -1;
	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "cache directory '%s': invalid digest '%s'", l->dir, digest);
	cn_sha256_oneshot(data, len, got);
	if (strcmp(got, digest) != 0)
		return cn_err_fail(err, CN_ERR_INVALID, "cache directory '%s': blob named %s hashes to %s", l->dir,
				   digest, got);
	if (have_blob(l, digest, len))
		return 0;
	fd = create_tmp(l, tmp, err);
	if (fd < 0)
		return -1;
	if (cn_write_all(fd, data, len) < 0) {
		cn_err_sys(err, "write '%s/blobs/sha256/%s'", l->dir, tmp);
		unlinkat(l->blobs_fd, tmp, 0);
		return -1;
	}
	if (publish_tmp(l, fd, tmp, digest, err) < 0) {
		unlinkat(l->blobs_fd, tmp, 0);
		return -1;
	}
	l->bytes_out += len;
	return 0;
}

/* index.json with the tag's entry(ies) replaced by one naming DIGEST;
 * other entries and fields are kept. Under the lock. */
static int write_index(struct rc_local *l, const char *digest, size_t len, cn_err *err)
{
	json_t *index = NULL, *ms, *kept, *e;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *show = cn_xasprintf("%s/index.json", l->dir);
	size_t i;
	int r = load_index(l, &index, err);
	if (r < 0)
		return cn_err_wrap(err, "cannot update the cache");
	if (r == 0)
		index = json_pack("{s:i, s:s}", "schemaVersion", 2, "mediaType", MT_INDEX);
	if (!index)
		return cn_err_errno(err, ENOMEM, "build '%s'", show);
	ms = json_object_get(index, "manifests");
	kept = json_array();
	json_array_foreach(ms, i, e) {
		const char *ref = entry_ref(e);
		if (!ref || strcmp(ref, l->tag) != 0)
			json_array_append(kept, e);
	}
	json_array_append_new(kept, json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", MT_MANIFEST, "digest",
					      digest, "size", (json_int_t)len, "annotations", REF_ANNOTATION,
					      l->tag));
	json_object_set_new(index, "manifests", kept);
	text = json_dumps(index, JSON_COMPACT);
	json_decref(index);
	if (!text)
		return cn_err_errno(err, ENOMEM, "encode '%s'", show);
	if (store_json_fits(show, strlen(text), LOCAL_MAX_JSON, err) < 0)
		return -1;
	/* index.json's temps a killed writer left (under the lock: no other
	 * writer of index.json runs). */
	store_remove_dot_temps(l->dir_fd);
	return cn_write_file_atomic(l->dir_fd, "index.json", text, strlen(text), 0644, err);
}

int rc_local_put_manifest(struct rc_local *l, const void *data, size_t len, cn_err *err)
{
	char digest[CN_DIGEST_STR_SIZE];
	bool took = false;
	int r;
	if (check_writable(l, err) < 0)
		return -1;
	if (store_json_fits("the cache manifest", len, LOCAL_MAX_JSON, err) < 0)
		return -1;
	cn_sha256_oneshot(data, len, digest);
	if (rc_local_put_blob(l, data, len, digest, err) < 0)
		return -1;
	/* The blob renames are durable before index.json names them. */
	if (fsync(l->blobs_fd) < 0)
		return cn_err_sys(err, "fsync '%s/blobs/sha256'", l->dir);
	if (!l->locked) {
		if (rc_local_lock(l, err) < 0)
			return -1;
		took = true;
	}
	r = write_index(l, digest, len, err);
	if (took)
		rc_local_unlock(l);
	return r;
}
