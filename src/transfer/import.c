#include "transfer/import.h"

#include "layers/codec.h"
#include "layers/layer.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* How far a layer from outside may expand. A cap must never refuse a
 * legitimate image (cairn's own layers of zeros compress 30000:1), so the
 * ratio is the most each format can expand at all: zstd 128 KiB from a
 * 4-byte block, gzip about 1032:1, a plain tar 1:1 (512 MiB at least, for
 * small blobs). What bounds a bomb then is the store's free space: the
 * layer could not be unpacked anyway. --max-layer-size (or
 * CAIRN_MAX_LAYER_SIZE) replaces the whole rule. */
#define MIN_EXPANSION ((uint64_t)512 << 20)
#define ZSTD_MAX_RATIO 32768
#define GZIP_MAX_RATIO 1032

static uint64_t max_layer_size;

void xfer_set_max_layer_size(uint64_t bytes)
{
	max_layer_size = bytes;
}

static uint64_t store_free_bytes(struct store *st)
{
	struct statvfs v;
	if (statvfs(st->root, &v) < 0)
		return UINT64_MAX;      /* unknown: ENOSPC will tell */
	return (uint64_t)v.f_bavail * v.f_frsize;
}

struct xfer_cap {
	uint64_t bytes;
	const char *why;
};

/* WRITES: the layer is to be unpacked (only then does free space matter). */
static void expansion_cap(struct store *st, int blob_fd, uint64_t blob_size, bool writes,
			  struct xfer_cap *cap)
{
	unsigned char m[LAYER_CODEC_MAGIC_MAX] = { 0 };
	uint64_t ratio = 1, free_bytes;
	ssize_t n;
	memset(cap, 0, sizeof(*cap));
	if (max_layer_size) {
		cap->bytes = max_layer_size;
		cap->why = "set by --max-layer-size or CAIRN_MAX_LAYER_SIZE";
		return;
	}
	n = pread(blob_fd, m, sizeof(m), 0);
	if (n > 0) {
		enum layer_codec_id id = layer_codec_detect(m, (size_t)n)->id;
		ratio = id == LAYER_CODEC_ZSTD ? ZSTD_MAX_RATIO : id == LAYER_CODEC_GZIP ? GZIP_MAX_RATIO : 1;
	}
	cap->bytes = blob_size > LAYER_EXTRACT_MAX_BYTES / ratio ? LAYER_EXTRACT_MAX_BYTES : blob_size * ratio;
	cap->why = "the most its compression can expand";
	if (cap->bytes < MIN_EXPANSION)
		cap->bytes = MIN_EXPANSION;
	free_bytes = writes ? store_free_bytes(st) : UINT64_MAX;
	if (free_bytes < cap->bytes) {
		cap->bytes = free_bytes ? free_bytes : 1;
		cap->why = "the free space in the store";
	}
}

/* A layer over its cap: say where the cap came from and how to raise it. */
static void note_cap(cn_err *err, const struct xfer_cap *cap)
{
	size_t len = strlen(err->msg);
	if (!cn_err_is(err, CN_ERR_TOO_BIG))
		return;
	snprintf(err->msg + len, sizeof(err->msg) - len, " (%s; raise it with --max-layer-size SIZE)",
		 cap->why);
}

/* What the blob hashed to (RES) against what the image names (LAYER).
 * DIGEST_VERIFIED: the writer of a streamed blob compared its digest
 * already (layer_reader.hashed: RES->digest is "" unless a plain tar's);
 * otherwise a digest must be there. */
static int check_hashes(const struct layer_extract_result *res, const struct store_layer *layer,
			bool digest_verified, cn_err *err)
{
	if (!digest_verified && !res->digest[0])
		return cn_err_fail(err, CN_ERR_CORRUPT, "the blob's digest was not computed");
	if (res->digest[0] && strcmp(res->digest, layer->digest) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "blob content hashes to %s", res->digest);
	if (strcmp(res->diff_id, layer->diff_id) != 0)
		return cn_err_fail(err, CN_ERR_CORRUPT, "uncompressed content hashes to %s, but the image "
				   "config says %s", res->diff_id, layer->diff_id);
	return 0;
}

/* ---- a snapshot on disk before it is named ---- */

/* A layer of a few files (an image's big data layers) is synced file by
 * file: syncfs would wait for every dirty page of the filesystem, the
 * other layers still being written and other processes' files included.
 * Past this many entries an fsync each costs more than one syncfs (each
 * is a device cache flush). */
#define SYNC_EACH_MAX 32
#define SYNC_EACH_DEPTH 16

struct sync_set {
	int fds[SYNC_EACH_MAX];
	size_t n;
};

/* Open every entry under DFD into SET (DFD itself not included). False:
 * syncfs instead, for too many entries, too deep a tree, one fsync cannot
 * reach (a symlink, a device node, an overlay whiteout: only syncfs
 * writes its inode), or anything that failed on the way (syncfs does not
 * depend on it). */
static bool sync_collect(int dfd, struct sync_set *set, unsigned depth)
{
	int dup_fd;
	bool ok = true;
	DIR *d;
	struct dirent *e = NULL;
	if (depth > SYNC_EACH_DEPTH)
		return false;
	/* A fresh open, not a dup: a dup shares DFD's offset, and a
	 * directory read before would list nothing here. */
	dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return false;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return false;
	}
	errno = 0;
	while (ok && (e = readdir(d))) {
		unsigned char type = e->d_type;
		struct stat sb;
		int fd;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (type == DT_UNKNOWN) {
			if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
				break;
			type = S_ISREG(sb.st_mode) ? DT_REG : S_ISDIR(sb.st_mode) ? DT_DIR : DT_UNKNOWN;
		}
		if ((type != DT_REG && type != DT_DIR) || set->n == SYNC_EACH_MAX)
			break;
		/* A file no one may read (mode 000 in a rootless store) fails. */
		fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
			    (type == DT_DIR ? O_DIRECTORY : 0));
		if (fd < 0)
			break;
		set->fds[set->n++] = fd;
		if (type == DT_DIR)
			ok = sync_collect(fd, set, depth + 1);
		errno = 0;
	}
	/* Left early (E still set), or readdir failed (errno). */
	ok = ok && !e && errno == 0;
	closedir(d);
	return ok;
}

/* Everything under ROOT_FD (PATH, for messages), and ROOT_FD itself, on
 * disk: the snapshot it becomes is named only after this. */
static int sync_snapshot(int root_fd, const char *path, cn_err *err)
{
	struct sync_set set = { .n = 0 };
	int r = 0;
	if (sync_collect(root_fd, &set, 0)) {
		for (size_t i = 0; i < set.n && r == 0; i++)
			r = fsync(set.fds[i]);
		if (r == 0)
			r = fsync(root_fd);
	} else {
		r = syncfs(root_fd);
	}
	if (r < 0)
		cn_err_sys(err, "sync '%s'", path);
	for (size_t i = 0; i < set.n; i++)
		close(set.fds[i]);
	return r < 0 ? -1 : 0;
}

int xfer_snapshot_layer_unnamed(struct store *st, const struct store_layer *layer, cn_err *err)
{
	struct store_tmpdir td;
	struct layer_extract_result res;
	struct layer_extract_opts xo = { .overlay_whiteouts = true, .writeback = true };
	struct xfer_cap cap;
	_cleanup_close_ int blob_fd = -1, root_fd = -1;
	bool have;
	int r = -1;

	blob_fd = store_blob_open(st, layer->digest, err);
	if (blob_fd < 0)
		return -1;
	/* Another reader trusts the media type: a zstd blob declared gzip
	 * would import here and break there. */
	if (layer_check_media_type(blob_fd, layer->media_type, layer->digest, err) < 0)
		return -1;
	have = store_snapshot_exists(st, layer->diff_id);
	expansion_cap(st, blob_fd, store_blob_size(st, layer->digest), !have, &cap);
	xo.max_bytes = cap.bytes;
	/* A snapshot under this diff_id proves nothing about this blob: it may
	 * come from another image. Hash the blob (no extraction) so an image
	 * cannot borrow a snapshot its layer does not hold. */
	if (have) {
		if (layer_hash(blob_fd, xo.max_bytes, &res, err) < 0) {
			note_cap(err, &cap);
			return -1;
		}
		return check_hashes(&res, layer, false, err);
	}
	if (store_tmpdir_create(st, "unpack", &td, err) < 0)
		return -1;
	if (mkdirat(td.fd, "root", 0755) < 0 ||
	    (root_fd = openat(td.fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		cn_err_sys(err, "create '%s/root'", td.path);
		goto out;
	}
	if (layer_extract(blob_fd, root_fd, &xo, &res, err) < 0) {
		note_cap(err, &cap);
		goto out;
	}
	if (check_hashes(&res, layer, false, err) < 0)
		goto out;
	/* On disk before anything points at it. */
	if (sync_snapshot(root_fd, td.path, err) < 0)
		goto out;
	r = store_snapshot_commit(st, td.fd, "root", layer->diff_id, err);
out:
	store_tmpdir_remove(st, &td);
	return r;
}

int xfer_snapshot_layer(struct store *st, const struct store_layer *layer, cn_err *err)
{
	return xfer_snapshot_layer_unnamed(st, layer, err) < 0 ? cn_err_wrap(err, "layer %s", layer->digest) : 0;
}

/* ---- a layer unpacked while its blob downloads ---- */

struct xfer_stream {
	struct store *st;
	struct store_layer layer;
	int blob_fd;                /* the download's file, read with pread */
	bool have;                  /* a snapshot exists: only hash */
	struct xfer_cap cap;
	struct store_tmpdir td;
	int root_fd;
	pthread_t tid;
	bool running;               /* TID to be joined */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t written;           /* bytes in the file (MU) */
	uint64_t want;              /* the unpacker waits for this much (MU) */
	bool waiting;               /* ... and is waiting (MU) */
	bool ended, cancelled;      /* no more bytes will come; stop reading (MU) */
	bool failed;                /* the unpacker stopped with ERR (atomic) */
	bool stop;                  /* give up now, within one block (atomic) */
	uint64_t off;               /* the unpacker's position */
	struct layer_extract_result res;
	cn_err err;
};

/* The unpacker's reader: the file as far as the download has written it,
 * waiting for more until the download ends or is given up. It waits for a
 * full buffer (LEN bytes), not for each of the download's small writes:
 * fewer wake-ups, reads and writes of the unpacked files. */
static ssize_t stream_read(void *ctx, void *buf, size_t len)
{
	struct xfer_stream *x = ctx;
	uint64_t avail;
	bool cancelled;
	ssize_t n;
	pthread_mutex_lock(&x->mu);
	x->want = x->off + len;
	while (!x->cancelled && !x->ended && x->written < x->want) {
		x->waiting = true;
		pthread_cond_wait(&x->cv, &x->mu);
	}
	x->waiting = false;
	cancelled = x->cancelled;
	avail = x->written - x->off;
	pthread_mutex_unlock(&x->mu);
	if (cancelled) {
		errno = ECANCELED;
		return -1;
	}
	if (avail == 0)
		return 0;
	if (len > avail)
		len = (size_t)avail;
	n = pread(x->blob_fd, buf, len, (off_t)x->off);
	if (n == 0) {           /* shorter than written: never the blob's end */
		errno = EIO;
		return -1;
	}
	if (n > 0)
		x->off += (uint64_t)n;
	return n;
}

static void *stream_main(void *arg)
{
	struct xfer_stream *x = arg;
	/* The download hashes the blob and verifies its digest. */
	struct layer_reader rd = { .read = stream_read, .ctx = x, .hashed = true, .stop = &x->stop };
	struct layer_extract_opts xo = { .overlay_whiteouts = true, .max_bytes = x->cap.bytes,
					 .writeback = true };
	int r = x->have ? layer_hash_from(&rd, xo.max_bytes, &x->res, &x->err)
		: layer_extract_from(&rd, x->root_fd, &xo, &x->res, &x->err);
	if (r < 0) {
		note_cap(&x->err, &x->cap);
		cn_err_wrap(&x->err, "layer %s", x->layer.digest);
		__atomic_store_n(&x->failed, true, __ATOMIC_RELEASE);
	}
	return NULL;
}

int xfer_stream_begin(struct store *st, const struct store_layer *layer, int blob_fd, struct xfer_stream **out,
		      cn_err *err)
{
	struct xfer_stream *x;
	cn_err ignored;
	int rc;
	*out = NULL;
	/* A blob that is not what its media type says fails later, after its
	 * digest was checked, on the unstreamed path (xfer_snapshot_layer). */
	if (layer_check_media_type(blob_fd, layer->media_type, layer->digest, &ignored) < 0)
		return 0;
	x = cn_xcalloc(1, sizeof(*x));
	x->st = st;
	x->layer = *layer;
	x->blob_fd = blob_fd;
	x->root_fd = -1;
	x->td.fd = -1;
	x->have = store_snapshot_exists(st, layer->diff_id);
	expansion_cap(st, blob_fd, layer->size, !x->have, &x->cap);
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	if (!x->have) {
		if (store_tmpdir_create(st, "unpack", &x->td, err) < 0)
			goto fail;
		if (mkdirat(x->td.fd, "root", 0755) < 0 ||
		    (x->root_fd = openat(x->td.fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			cn_err_sys(err, "create '%s/root'", x->td.path);
			goto fail;
		}
	}
	rc = pthread_create(&x->tid, NULL, stream_main, x);
	if (rc != 0) {
		cn_err_errno(err, rc, "start a thread to unpack it");
		goto fail;
	}
	x->running = true;
	*out = x;
	return 0;
fail:
	xfer_stream_free(x);
	return cn_err_wrap(err, "layer %s", layer->digest);
}

bool xfer_blob_still_good(const cn_err *err)
{
	return cn_err_is(err, CN_ERR_INTERRUPTED) ||
	       (err->kind == CN_ERR_SYSTEM && (err->errnum == ENOSPC || err->errnum == EDQUOT));
}

int xfer_stream_grow(struct xfer_stream *x, uint64_t written)
{
	/* X->err was written before FAILED (release). */
	if (__atomic_load_n(&x->failed, __ATOMIC_ACQUIRE))
		return xfer_blob_still_good(&x->err) ? 0 : -1;
	pthread_mutex_lock(&x->mu);
	x->written = written;
	if (x->waiting && written >= x->want)
		pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return 0;
}

static void stream_stop(struct xfer_stream *x, bool cancel)
{
	if (!x->running)
		return;
	/* The unpacker may be writing a file that a small blob expands to
	 * without reading again: it checks this once per block. */
	if (cancel)
		__atomic_store_n(&x->stop, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&x->mu);
	if (cancel)
		x->cancelled = true;
	x->ended = true;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	pthread_join(x->tid, NULL);
	x->running = false;
}

int xfer_stream_finish(struct xfer_stream *x, cn_err *err)
{
	stream_stop(x, false);
	if (__atomic_load_n(&x->failed, __ATOMIC_ACQUIRE)) {
		*err = x->err;
		return -1;
	}
	if (check_hashes(&x->res, &x->layer, true, err) < 0)
		return cn_err_wrap(err, "layer %s", x->layer.digest);
	if (x->have)
		return 0;
	/* On disk before anything points at it. */
	if (sync_snapshot(x->root_fd, x->td.path, err) < 0)
		return -1;
	if (store_snapshot_commit(x->st, x->td.fd, "root", x->layer.diff_id, err) < 0)
		return cn_err_wrap(err, "layer %s", x->layer.digest);
	return 0;
}

void xfer_stream_free(struct xfer_stream *x)
{
	if (!x)
		return;
	stream_stop(x, true);
	if (x->root_fd >= 0)
		close(x->root_fd);
	store_tmpdir_remove(x->st, &x->td);
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

void xfer_forget_blob(struct store *st, const char *digest)
{
	if (cn_digest_valid(digest) && store_gc_try_exclusive(st))
		unlinkat(st->blobs_fd, cn_digest_hex(digest), 0);
}

int xfer_import(struct store *st, const char *manifest_digest, const char *ref, const char *cause,
		bool verified, cn_err *err)
{
	struct store_image img;
	int r = store_image_load(st, manifest_digest, &img, err);
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "manifest %s is not in the store", manifest_digest);
	if (r < 0)
		return -1;
	r = -1;
	for (size_t i = 0; i < img.nlayers; i++) {
		const struct store_layer *l = &img.layers[i];
		uint64_t have = store_blob_size(st, l->digest);
		if (!store_blob_exists(st, l->digest)) {
			cn_err_fail(err, CN_ERR_NOT_FOUND, "layer %zu (%s) is missing", i + 1, l->digest);
			goto out;
		}
		if (have != l->size) {
			cn_err_fail(err, CN_ERR_CORRUPT, "layer %zu (%s): %llu bytes, the manifest says %llu", i + 1,
				   l->digest, (unsigned long long)have, (unsigned long long)l->size);
			goto out;
		}
		if (verified && !store_snapshot_exists(st, l->diff_id)) {
			cn_err_fail(err, CN_ERR_NOT_FOUND, "layer %zu (%s): its snapshot is missing", i + 1,
				   l->digest);
			goto out;
		}
		if (!verified && xfer_snapshot_layer(st, l, err) < 0)
			goto out;
	}
	r = ref ? store_tag_set(st, ref, manifest_digest, store_blob_size(st, manifest_digest),
				cause, err) : 0;
out:
	store_image_free(&img);
	return r;
}
