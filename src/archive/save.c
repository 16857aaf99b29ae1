/* `save`: one tar that is an OCI image layout and a docker archive at once.
 * The OCI part (oci-layout, index.json, blobs/sha256/) is what skopeo's
 * oci-archive: and containerd read; manifest.json is what `docker load` and
 * skopeo's docker-archive: read. Both name the same blob files, so each
 * layer is in the tar once. */
#include "archive/imgarchive.h"
#include "transfer/convert.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAVE_CHUNK ((size_t)64 * 1024)
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

struct save_image {
	struct store_image img;
	cn_strv tags;       /* normalized refs naming it */
};

struct tarw {
	struct archive *ar;
	cn_strv written;    /* blob digests already in the tar */
	cn_err *err;
};

static int tar_fail(struct tarw *w, const char *what)
{
	const char *msg = archive_error_string(w->ar) ? archive_error_string(w->ar) : "write failed";
	if (archive_errno(w->ar) > 0)
		return cn_err_errno(w->err, archive_errno(w->ar), "archive: %s: %s", what, msg);
	return cn_err_fail(w->err, CN_ERR_SYSTEM, "archive: %s: %s", what, msg);
}

/* Fixed owner, time and modes: the same images give the same tar. */
static struct archive_entry *new_entry(const char *name, mode_t type, mode_t perm, int64_t size)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	return e;
}

static int tar_add_dir(struct tarw *w, const char *name)
{
	struct archive_entry *e = new_entry(name, AE_IFDIR, 0755, 0);
	int r = archive_write_header(w->ar, e);
	archive_entry_free(e);
	return r == ARCHIVE_OK ? 0 : tar_fail(w, name);
}

static int tar_add_mem(struct tarw *w, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = new_entry(name, AE_IFREG, 0644, (int64_t)len);
	int r = archive_write_header(w->ar, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return tar_fail(w, name);
	if (len && archive_write_data(w->ar, data, len) != (la_ssize_t)len)
		return tar_fail(w, name);
	return 0;
}

static int tar_add_json(struct tarw *w, const char *name, json_t *doc)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return cn_err_errno(w->err, ENOMEM, "archive: %s: cannot serialize", name);
	return tar_add_mem(w, name, text, strlen(text));
}

/* Stream blob DIGEST from the store, re-hashing it: a corrupt store blob
 * fails the save instead of being shipped. */
static int tar_add_blob(struct tarw *w, struct store *st, const char *digest)
{
	_cleanup_free_ char *name = NULL, *buf = NULL;
	_cleanup_close_ int fd = -1;
	char got[CN_DIGEST_STR_SIZE];
	struct archive_entry *e;
	struct stat sb;
	cn_sha256 h;
	uint64_t left;
	int r;

	for (size_t i = 0; i < w->written.n; i++)
		if (strcmp(w->written.v[i], digest) == 0)
			return 0;
	fd = openat(st->blobs_fd, cn_digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0)
		return cn_err_sys(w->err, "blob %s", digest);
	if (!S_ISREG(sb.st_mode))
		return cn_err_fail(w->err, CN_ERR_INVALID, "blob %s: not a regular file", digest);
	name = cn_xasprintf("blobs/sha256/%s", cn_digest_hex(digest));
	e = new_entry(name, AE_IFREG, 0444, (int64_t)sb.st_size);
	r = archive_write_header(w->ar, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return tar_fail(w, name);
	buf = cn_xmalloc(SAVE_CHUNK);
	cn_sha256_init(&h);
	for (left = (uint64_t)sb.st_size; left > 0;) {
		ssize_t n = read(fd, buf, left < SAVE_CHUNK ? left : SAVE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cn_sha256_free(&h);
			return n < 0 ? cn_err_sys(w->err, "read blob %s", digest)
				     : cn_err_fail(w->err, CN_ERR_CORRUPT, "blob %s: shorter than its size", digest);
		}
		cn_sha256_update(&h, buf, (size_t)n);
		if (archive_write_data(w->ar, buf, (size_t)n) != n) {
			cn_sha256_free(&h);
			return tar_fail(w, name);
		}
		left -= (uint64_t)n;
	}
	cn_sha256_final(&h, got);
	if (strcmp(got, digest) != 0)
		return cn_err_fail(w->err, CN_ERR_CORRUPT, "blob %s in the store is corrupt (see cairn fsck)", digest);
	cn_strv_pushdup(&w->written, digest);
	return 0;
}

/* "busybox:latest" -> "docker.io/library/busybox:latest", as docker names
 * images: a first component with a dot or colon, or "localhost", is a host. */
static char *docker_full_name(const char *ref)
{
	const char *slash = strchr(ref, '/');
	if (slash) {
		size_t n = (size_t)(slash - ref);
		if (memchr(ref, '.', n) || memchr(ref, ':', n) || (n == 9 && !strncmp(ref, "localhost", 9)))
			return cn_xstrdup(ref);
		return cn_xasprintf("docker.io/%s", ref);
	}
	return cn_xasprintf("docker.io/library/%s", ref);
}

static json_t *index_entry(const struct store_image *img, const char *tag)
{
	const char *mt = json_string_value(json_object_get(img->manifest, "mediaType"));
	json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", mt ? mt : MT_OCI_MANIFEST, "digest",
			      img->manifest_digest, "size", (json_int_t)img->manifest_size);
	if (tag) {
		_cleanup_free_ char *full = docker_full_name(tag);
		json_object_set_new(d, "annotations",
				    json_pack("{s:s, s:s}", "io.containerd.image.name", full,
					      "org.opencontainers.image.ref.name", tag));
	}
	return d;
}

static json_t *docker_entry(const struct save_image *si)
{
	_cleanup_free_ char *cfg = cn_xasprintf("blobs/sha256/%s", cn_digest_hex(si->img.config_digest));
	json_t *tags = json_array(), *layers = json_array();
	/* Full names: podman reads a short "app:1" as localhost/app:1. */
	for (size_t i = 0; i < si->tags.n; i++) {
		_cleanup_free_ char *full = docker_full_name(si->tags.v[i]);
		json_array_append_new(tags, json_string(full));
	}
	for (size_t i = 0; i < si->img.nlayers; i++) {
		_cleanup_free_ char *p = cn_xasprintf("blobs/sha256/%s",
						      cn_digest_hex(si->img.layers[i].digest));
		json_array_append_new(layers, json_string(p));
	}
	return json_pack("{s:s, s:o, s:o}", "Config", cfg, "RepoTags", tags, "Layers", layers);
}

static void save_images_free(struct save_image *imgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		store_image_free(&imgs[i].img);
		cn_strv_free(&imgs[i].tags);
	}
	free(imgs);
}

/* Load each ref; one entry per distinct manifest, with the tags naming it. */
static int collect(struct store *st, char *const *refs, size_t nrefs, int compression, int level,
		   struct xfer_convert_stats *stats, struct save_image **out, size_t *nout, cn_err *err)
{
	struct save_image *imgs = cn_xcalloc(nrefs ? nrefs : 1, sizeof(*imgs));
	size_t n = 0;
	for (size_t i = 0; i < nrefs; i++) {
		struct store_image img;
		_cleanup_free_ char *tag = NULL;
		size_t j;
		int r = store_image_load(st, refs[i], &img, err);
		if (r == 0)
			cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' not found", refs[i]);
		if (r <= 0)
			goto fail;
		/* Layers as the reader needs them (imgarchive.h). */
		{
			int want = compression;
			if (want == ARC_SAVE_DOCKER)
				want = xfer_image_has(&img, LAYER_ZSTD) ? LAYER_GZIP : ARC_SAVE_KEEP;
			if (want >= 0 &&
			    xfer_convert_image(st, &img, (enum layer_compression)want, level, stats, err) < 0) {
				store_image_free(&img);
				cn_err_wrap(err, "image '%s'", refs[i]);
				goto fail;
			}
		}
		img.manifest_size = store_blob_size(st, img.manifest_digest);
		/* Only a name that is a tag travels as one: an image named by
		 * its id or digest gets no RepoTags, as with docker save. */
		if (!cn_digest_valid(refs[i])) {
			char found[CN_DIGEST_STR_SIZE];
			cn_err ignored;
			tag = store_ref_normalize(refs[i], &ignored);
			if (tag && store_tag_get(st, tag, found, &ignored) != 1) {
				free(tag);
				tag = NULL;
			}
		}
		for (j = 0; j < n; j++)
			if (strcmp(imgs[j].img.manifest_digest, img.manifest_digest) == 0)
				break;
		if (j == n)
			imgs[n++].img = img;
		else
			store_image_free(&img);
		if (tag) {
			bool dup = false;
			for (size_t k = 0; k < imgs[j].tags.n; k++)
				dup |= strcmp(imgs[j].tags.v[k], tag) == 0;
			if (!dup)
				cn_strv_push(&imgs[j].tags, CN_TAKE_PTR(tag));
		}
	}
	*out = imgs;
	*nout = n;
	return 0;
fail:
	save_images_free(imgs, n);
	return -1;
}

/* NAMES (when not NULL) name the one image REFS[0] in place of its tags. */
static int save_images(struct store *st, char *const *refs, size_t nrefs, const cn_strv *names,
		       int compression, int level, struct xfer_convert_stats *stats, int out_fd, cn_err *err)
{
	struct save_image *imgs = NULL;
	struct tarw w = { .err = err };
	json_t *index = NULL, *docker = NULL;
	size_t n = 0;
	int rc = -1;

	if (collect(st, refs, nrefs, compression, level, stats, &imgs, &n, err) < 0)
		return -1;
	if (names && n == 1) {
		cn_strv_free(&imgs[0].tags);
		cn_strv_copy(&imgs[0].tags, names);
	}
	index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
			  "manifests");
	docker = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_object_get(index, "manifests");
		if (imgs[i].tags.n == 0)
			json_array_append_new(m, index_entry(&imgs[i].img, NULL));
		for (size_t k = 0; k < imgs[i].tags.n; k++)
			json_array_append_new(m, index_entry(&imgs[i].img, imgs[i].tags.v[k]));
		json_array_append_new(docker, docker_entry(&imgs[i]));
	}

	w.ar = archive_write_new();
	if (!w.ar) {
		cn_err_errno(err, ENOMEM, "archive: cannot create a tar writer");
		goto out;
	}
	/* pax only where ustar cannot say it (sizes past 8 GiB). */
	if (archive_write_set_format_pax_restricted(w.ar) != ARCHIVE_OK ||
	    archive_write_open_fd(w.ar, out_fd) != ARCHIVE_OK) {
		tar_fail(&w, "open");
		goto out;
	}
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	if (tar_add_mem(&w, "oci-layout", layout, sizeof(layout) - 1) < 0 ||
	    tar_add_json(&w, "index.json", index) < 0 ||
	    tar_add_json(&w, "manifest.json", docker) < 0 ||
	    tar_add_dir(&w, "blobs/") < 0 || tar_add_dir(&w, "blobs/sha256/") < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct store_image *img = &imgs[i].img;
		if (tar_add_blob(&w, st, img->config_digest) < 0)
			goto out;
		for (size_t l = 0; l < img->nlayers; l++)
			if (tar_add_blob(&w, st, img->layers[l].digest) < 0)
				goto out;
		if (tar_add_blob(&w, st, img->manifest_digest) < 0)
			goto out;
	}
	if (archive_write_close(w.ar) != ARCHIVE_OK) {
		tar_fail(&w, "end of archive");
		goto out;
	}
	rc = 0;
out:
	if (w.ar)
		archive_write_free(w.ar);
	cn_strv_free(&w.written);
	json_decref(index);
	json_decref(docker);
	save_images_free(imgs, n);
	return rc;
}

int arc_save(struct store *st, char *const *refs, size_t nrefs, int out_fd, cn_err *err)
{
	return save_images(st, refs, nrefs, NULL, ARC_SAVE_DOCKER, 0, NULL, out_fd, err);
}

int arc_save_as(struct store *st, char *const *refs, size_t nrefs, int compression, int level,
		struct xfer_convert_stats *stats, int out_fd, cn_err *err)
{
	return save_images(st, refs, nrefs, NULL, compression, level, stats, out_fd, err);
}

int arc_save_named(struct store *st, const char *ref, const cn_strv *names, int out_fd, cn_err *err)
{
	return arc_save_one(st, ref, names, ARC_SAVE_DOCKER, 0, NULL, out_fd, err);
}

int arc_save_one(struct store *st, const char *ref, const cn_strv *names, int compression, int level,
		 struct xfer_convert_stats *stats, int out_fd, cn_err *err)
{
	char *refs[] = { (char *)(uintptr_t)ref };
	return save_images(st, refs, 1, names, compression, level, stats, out_fd, err);
}
