#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
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

/* Every step, container and context scratch dir is made in tmp/. ext4
 * places a new directory in its parent's block group unless the parent is a
 * "top directory" (Orlov allocator), so all scratch dirs shared one group;
 * without a journal, ext4 does not reuse an inode freed in the last 1-6
 * minutes, and each new file stepped over all those the scratch dirs before
 * it had freed (20,000 files: 2-20 s instead of 0.5 s). With the
 * top-directory flag on tmp/ its children go to the groups with the fewest
 * directories: usually not one just freed, but that is not guaranteed.
 * Best effort: other file systems have no such flag (EOPNOTSUPP, ENOTTY) or
 * spread directories on their own (xfs), and a refusal changes nothing else. */
static void spread_subdirs(int dir_fd)
{
	int flags;      /* the ioctl takes an int, whatever its name says */
	if (ioctl(dir_fd, FS_IOC_GETFLAGS, &flags) < 0 || (flags & FS_TOPDIR_FL))
		return;
	flags |= FS_TOPDIR_FL;
	(void)ioctl(dir_fd, FS_IOC_SETFLAGS, &flags);
}

#define SWEEP_MAX 64

void store_remove_dot_temps(int dir_fd)
{
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d)
		return;
	fd = -1;
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp"))
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
	st->cache_fd = st->tags_fd = st->gc_fd = -1;
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
	st->gc_fd = openat(st->root_fd, "gc.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (st->lock_fd < 0 || st->gc_fd < 0) {
		cn_err_sys(err, "open the locks of '%s'", st->root);
		goto fail;
	}
	if (mkdirat(st->root_fd, "blobs", 0755) < 0 && errno != EEXIST) {
		cn_err_sys(err, "create '%s/blobs'", st->root);
		goto fail;
	}
	if (open_subdir(st->root_fd, "blobs/sha256", &st->blobs_fd, err) < 0 ||
	    open_subdir(st->root_fd, "snapshots", &st->snap_fd, err) < 0 ||
	    open_subdir(st->root_fd, "tmp", &st->tmp_fd, err) < 0 ||
	    open_subdir(st->root_fd, "cache", &st->cache_fd, err) < 0 ||
	    open_subdir(st->root_fd, "tags", &st->tags_fd, err) < 0)
		goto fail_wrap;
	spread_subdirs(st->tmp_fd);
	if (store_lock(st, err) < 0)
		goto fail_wrap;
	if (ensure_file(st->root_fd, "oci-layout", OCI_LAYOUT, err) < 0 ||
	    ensure_file(st->root_fd, "index.json",
			"{\"schemaVersion\":2,\"mediaType\":\"" INDEX_MEDIA_TYPE "\",\"manifests\":[]}",
			err) < 0) {
		store_unlock(st);
		goto fail_wrap;
	}
	/* cn_write_file_atomic's temps (".index.json.tmp-..."): only written
	 * under the store lock, so under it any is stale. */
	store_remove_dot_temps(st->root_fd);
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
	cn_err ignored;
	/* Best effort: a name lost in a crash is a blob to fetch or a layer to
	 * build again. */
	if (st->blobs_fd >= 0 && st->snap_fd >= 0)
		store_names_sync_own(st, &ignored);
	int *fds[] = { &st->root_fd, &st->blobs_fd, &st->snap_fd, &st->tmp_fd, &st->cache_fd,
		       &st->tags_fd, &st->lock_fd, &st->gc_fd };
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
		if (cn_interrupted())
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	}
	return 0;
}

void store_unlock(struct store *st)
{
	flock(st->lock_fd, LOCK_UN);
}

int store_gc_lock(struct store *st, bool exclusive, cn_err *err)
{
	while (flock(st->gc_fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno != EINTR)
			return cn_err_sys(err, "lock store for garbage collection");
		if (cn_interrupted())
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	}
	return 0;
}

bool store_gc_try_exclusive(struct store *st)
{
	int r;
	do
		r = flock(st->gc_fd, LOCK_EX | LOCK_NB);
	while (r < 0 && errno == EINTR);
	return r == 0;
}

void store_gc_unlock(struct store *st)
{
	flock(st->gc_fd, LOCK_UN);
}

int store_tmpdir_create_locked(struct store *st, const char *prefix, struct store_tmpdir *td,
			       cn_err *err)
{
	memset(td, 0, sizeof(*td));
	td->fd = -1;
	td->path = cn_xasprintf("%s/tmp/%s-XXXXXX", st->root, prefix);
	if (!mkdtemp(td->path)) {
		cn_err_sys(err, "create temporary directory in '%s/tmp'", st->root);
		goto fail;
	}
	td->fd = open(td->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (td->fd < 0 || flock(td->fd, LOCK_EX | LOCK_NB) < 0) {
		cn_err_sys(err, "lock '%s'", td->path);
		rmdir(td->path);
		goto fail;
	}
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

int store_tmpdir_create(struct store *st, const char *prefix, struct store_tmpdir *td,
			cn_err *err)
{
	int r;
	/* Created and locked under the store lock, so a concurrent sweep never
	 * sees it unlocked. */
	if (store_lock(st, err) < 0)
		return -1;
	r = store_tmpdir_create_locked(st, prefix, td, err);
	store_unlock(st);
	return r;
}

int store_snapshot_remove(struct store *st, const char *diff_id, uint64_t *bytes, cn_err *err)
{
	struct store_tmpdir td;
	cn_err ignored;
	*bytes = 0;
	if (!cn_digest_valid(diff_id))
		return cn_err_fail(err, CN_ERR_INVALID, "invalid diff_id '%s'", diff_id);
	/* Moved out in one rename into a locked temp dir, then deleted: a
	 * snapshot is never seen half-deleted (an interrupted delete is swept). */
	if (store_tmpdir_create_locked(st, "rm", &td, err) < 0)
		return -1;
	if (renameat(st->snap_fd, cn_digest_hex(diff_id), td.fd, "snapshot") < 0) {
		cn_err_sys(err, "remove snapshot %s", diff_id);
		store_tmpdir_remove(st, &td);
		return -1;
	}
	cn_du_at(td.fd, "snapshot", bytes, &ignored);
	store_tmpdir_remove(st, &td);
	return 0;
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
	/* Blobs are read-only from birth (the store's invariant: published
	 * bytes are never rewritten); a file that cannot be made so is not
	 * ingested. */
	if (fchmod(in->fd, 0444) < 0) {
		cn_err_sys(err, "make the new blob '%s' read-only", path);
		unlink(path);
		close(in->fd);
		in->fd = -1;
		return -1;
	}
	in->name = cn_xstrdup(strrchr(path, '/') + 1);
	return 0;
}

int store_ingest_commit(struct store_ingest *in, const char *digest, cn_err *err)
{
	struct store *st = in->st;
	if (!cn_digest_valid(digest)) {
		store_ingest_abort(in);
		return cn_err_fail(err, CN_ERR_INVALID, "invalid digest '%s'", digest);
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
		__atomic_store_n(&st->names_unsynced, 1, __ATOMIC_RELAXED);
		return 0;
	}
	free(in->name);
	in->name = NULL;
	close(in->fd);
	in->fd = -1;
	/* The directory's fsync waits for a reference that must survive a
	 * crash (store_names_sync): a build step publishes a snapshot and three
	 * blobs, and each fsync of a directory was a journal commit of its own. */
	__atomic_store_n(&st->names_unsynced, 1, __ATOMIC_RELAXED);
	return 0;
}

int store_names_sync(struct store *st, cn_err *err)
{
	int was = __atomic_exchange_n(&st->names_unsynced, 0, __ATOMIC_RELAXED);
	/* Snapshots first: a config naming a snapshot does not outlive it. */
	if (cn_fsync_dir_at(st->snap_fd, ".", err) < 0 || cn_fsync_dir_at(st->blobs_fd, ".", err) < 0) {
		__atomic_fetch_or(&st->names_unsynced, was, __ATOMIC_RELAXED);
		return -1;
	}
	return 0;
}

int store_names_sync_own(struct store *st, cn_err *err)
{
	if (!__atomic_load_n(&st->names_unsynced, __ATOMIC_RELAXED))
		return 0;
	return store_names_sync(st, err);
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

int store_json_fits(const char *what, size_t len, size_t max, cn_err *err)
{
	if (len <= max)
		return 0;
	return cn_err_fail(err, CN_ERR_TOO_BIG, "%s would be %zu bytes, more than the %zu (%zu MiB) "
			   "cairn reads back", what, len, max, max >> 20);
}

int store_blob_put(struct store *st, const void *data, size_t len,
		   char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	struct store_ingest in;
	if (store_json_fits("the document", len, STORE_MAX_JSON, err) < 0)
		return -1;
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
		return cn_err_fail(err, CN_ERR_INVALID, "invalid digest '%s'", digest);
	if (cn_read_file_at(st->blobs_fd, cn_digest_hex(digest), max, out, err) < 0)
		return cn_err_wrap(err, "blob %s", digest);
	cn_sha256_oneshot(out->data, out->len, got);
	if (strcmp(got, digest) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "blob %s: digest mismatch (content hashes to %s)", digest, got);
	return 0;
}

int store_blob_open(struct store *st, const char *digest, cn_err *err)
{
	int fd;
	if (!cn_digest_valid(digest))
		return cn_err_fail(err, CN_ERR_INVALID, "invalid digest '%s'", digest);
	fd = openat(st->blobs_fd, cn_digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open blob %s", digest);
	return fd;
}

bool store_blob_exists(struct store *st, const char *digest)
{
	return cn_digest_valid(digest) &&
	       faccessat(st->blobs_fd, cn_digest_hex(digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

uint64_t store_blob_size(struct store *st, const char *digest)
{
	struct stat s;
	if (!cn_digest_valid(digest) || fstatat(st->blobs_fd, cn_digest_hex(digest), &s, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return (uint64_t)s.st_size;
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
		return cn_err_fail(err, CN_ERR_INVALID, "invalid diff_id '%s'", diff_id);
	if (renameat2(dirfd_parent, name, st->snap_fd, cn_digest_hex(diff_id), RENAME_NOREPLACE) < 0 &&
	    errno != EEXIST)
		return cn_err_sys(err, "publish snapshot %s", diff_id);
	/* Durable with the blobs that name it (store_names_sync). */
	__atomic_store_n(&st->names_unsynced, 1, __ATOMIC_RELAXED);
	return 0;
}

/* ---- build cache ---- */

int store_cache_get(struct store *st, const char *key, char manifest[CN_DIGEST_STR_SIZE])
{
	char buf[CN_DIGEST_STR_SIZE + 1];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	if (!cn_digest_valid(key))
		return 0;
	fd = openat(st->cache_fd, cn_digest_hex(key), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < CN_DIGEST_STR_SIZE - 1)
		return 0;
	buf[CN_DIGEST_STR_SIZE - 1] = '\0';
	if (!cn_digest_valid(buf) || !store_blob_exists(st, buf))
		return 0;
	memcpy(manifest, buf, CN_DIGEST_STR_SIZE);
	return 1;
}

int store_cache_put(struct store *st, const char *key, const char *manifest, cn_err *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	if (!cn_digest_valid(key) || !cn_digest_valid(manifest))
		return cn_err_fail(err, CN_ERR_INVALID, "invalid cache entry");
	/* The manifest's name (and its config's, layers' and snapshots')
	 * survives a crash before the entry can: for a step, one fsync of
	 * snapshots/ and one of blobs/ instead of one per name. Always, not
	 * just for names this process put: a stage worker or another build
	 * may have put them (an fsync of a clean directory is cheap). */
	if (store_names_sync(st, err) < 0)
		return -1;
	/* No fsync: a cache entry lost in a crash is a miss, and a torn one
	 * fails validation. The rename keeps readers from seeing half of it. */
	tmp = cn_xasprintf(".%s.tmp-%d", cn_digest_hex(key), (int)getpid());
	fd = openat(st->cache_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || cn_write_all(fd, manifest, strlen(manifest)) < 0 || cn_write_all(fd, "\n", 1) < 0 ||
	    renameat(st->cache_fd, tmp, st->cache_fd, cn_digest_hex(key)) < 0) {
		cn_err_sys(err, "write cache entry %s", key);
		unlinkat(st->cache_fd, tmp, 0);
		return -1;
	}
	return 0;
}
