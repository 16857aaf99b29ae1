#include "registry/internal.h"

#include "layers/codec.h"
#include "store/image.h"
#include "store/imgindex.h"
#include "transfer/import.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

#define WRITEBACK_CHUNK ((uint64_t)8 << 20)
/* curl hands a download over in 16 KiB pieces: the blob is written in
 * pieces this big instead (a write call per 16 KiB cost more CPU than the
 * copy into this buffer, in ext4's per-call work). */
#define BLOB_WRITE_CHUNK ((size_t)1 << 20)

static const char *const accept_manifests[] = {
	"Accept: " MT_OCI_MANIFEST,
	"Accept: " MT_DOCKER_MANIFEST,
	"Accept: " MT_OCI_INDEX,
	"Accept: " MT_DOCKER_LIST,
	NULL,
};

void reg_result_free(struct reg_result *r)
{
	free(r->local);
	r->local = NULL;
}

/* ---- manifests ---- */

int reg_get_manifest(struct reg_conn *k, const char *name, const char *reference, const char *want,
			cn_buf *body, char **media_type, char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	_cleanup_free_ char *url = cn_xasprintf("/v2/%s/manifests/%s", name, reference);
	struct reg_req rq = { .method = "GET", .url = url, .headers = accept_manifests, .out = body,
			      .retry = true };
	struct reg_resp resp;
	json_t *doc;
	const char *mt;
	int r = -1;
	if (reg_do(k, &rq, &resp, err) < 0)
		goto out;
	if (resp.status != 200) {
		reg_status_error(&rq, &resp, err);
		if (resp.status == 404)
			cn_err_fail(err, CN_ERR_NOT_FOUND, "%s:%s: manifest unknown to registry %s", name, reference,
				   k->c->host);
		goto out;
	}
	/* Never Docker-Content-Digest: the bytes are what is verified. */
	cn_sha256_oneshot(body->data, body->len, digest);
	if (want && strcmp(want, digest) != 0) {
		cn_err_fail(err, CN_ERR_CORRUPT, "manifest %s: content hashes to %s", want, digest);
		goto out;
	}
	doc = json_loadb(body->data, body->len, 0, NULL);
	mt = json_string_value(json_object_get(doc, "mediaType"));
	if (!mt && resp.content_type)
		mt = resp.content_type;
	*media_type = mt ? cn_xstrndup(mt, strcspn(mt, "; ")) : NULL;
	if (!doc || !json_is_object(doc)) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "%s:%s: the manifest is not a JSON object", name, reference);
	} else if (json_integer_value(json_object_get(doc, "schemaVersion")) == 1) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "%s:%s: Docker schema 1 manifests are not supported", name, reference);
	} else if (!*media_type) {
		/* OCI manifests may omit mediaType; an index has "manifests". */
		*media_type = cn_xstrdup(json_object_get(doc, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST);
		r = 0;
	} else {
		r = 0;
	}
	json_decref(doc);
out:
	reg_resp_free(&resp);
	return r;
}

/* The index entry for the wanted platform ("os/arch[/variant]", in any
 * spelling containerd accepts: linux/aarch64 is linux/arm64); NULL: the
 * host's. The store's rule, so that pull and FROM agree. */
int reg_pick_platform(const char *platform, json_t *index, const char *name, char out[CN_DIGEST_STR_SIZE],
		      cn_err *err)
{
	struct cn_platform want;
	if (platform && cn_platform_parse(platform, &want, err) < 0)
		return -1;
	if (store_index_select(index, platform ? &want : NULL, out, err) < 0)
		return cn_err_wrap(err, "%s", name);
	return 0;
}

/* pull --platform of a single-platform image: it must be that platform
 * (docker refuses too), never a silent other one. */
static int check_platform(const char *platform, json_t *config, cn_err *err)
{
	struct cn_platform want, got;
	char wants[CN_PLATFORM_STR], gots[CN_PLATFORM_STR];
	const char *arch = json_string_value(json_object_get(config, "architecture"));
	if (cn_platform_parse(platform, &want, err) < 0)
		return -1;
	if (!arch || !*arch)
		return 0;       /* says nothing: cannot be the wrong one */
	if (!cn_platform_set(&got, json_string_value(json_object_get(config, "os")) ?: "linux", arch,
			     json_string_value(json_object_get(config, "variant"))))
		return cn_err_fail(err, CN_ERR_PROTOCOL, "the image config names an invalid platform");
	if (cn_platform_equal(&want, &got))
		return 0;
	cn_platform_format(&want, wants);
	cn_platform_format(&got, gots);
	return cn_err_fail(err, CN_ERR_NOT_FOUND, "the image is %s only, not %s (no multi-platform index)", gots, wants);
}

/* ---- blobs ---- */

struct download {
	struct reg_client *c;
	const struct blob_job *job;
	int fd;
	cn_sha256 h;
	uint64_t n, reported, kicked;
	uint64_t on_disk;           /* bytes written to FD; N - ON_DISK are in BUF */
	unsigned char *buf;         /* BLOB_WRITE_CHUNK */
	size_t buf_len;
	cn_err err;
	/* Unpacking while downloading (when asked): the layer, and its unpacker
	 * once the first piece is written (restarted with the download). */
	struct store *st;
	const struct store_layer *layer;
	struct xfer_stream *xs;
	bool tried, unpack_failed;
};

/* BUF to the file; the unpacker follows the file (its first bytes tell
 * the compression, so it starts once they are there). */
static int download_flush(struct download *d)
{
	if (d->buf_len == 0 || d->unpack_failed) {
		d->buf_len = 0;
		return 0;
	}
	if (cn_write_all(d->fd, d->buf, d->buf_len) < 0)
		return cn_err_sys(&d->err, "write blob %s", d->job->digest);
	d->on_disk += d->buf_len;
	d->buf_len = 0;
	/* The blob is fsynced at the end: send it to disk as it comes, so
	 * that the fsync does not wait for all of it (a hint). */
	if (d->on_disk - d->kicked >= WRITEBACK_CHUNK) {
		(void)sync_file_range(d->fd, (off_t)d->kicked, (off_t)(d->on_disk - d->kicked), SYNC_FILE_RANGE_WRITE);
		d->kicked = d->on_disk;
	}
	if (d->layer && !d->tried && (d->on_disk >= LAYER_CODEC_MAGIC_MAX || d->on_disk == d->job->size)) {
		d->tried = true;
		if (xfer_stream_begin(d->st, d->layer, d->fd, &d->xs, &d->err) < 0)
			return -1;
	}
	if (d->xs && xfer_stream_grow(d->xs, d->on_disk) < 0)
		d->unpack_failed = true;
	return 0;
}

static int download_sink(void *ctx, const void *data, size_t len)
{
	struct download *d = ctx;
	const unsigned char *p = data;
	if (d->n + len > d->job->size)
		return cn_err_fail(&d->err, CN_ERR_CORRUPT, "blob %s: the registry sent more than the %llu bytes "
				  "the manifest declares", d->job->digest, (unsigned long long)d->job->size);
	cn_sha256_update(&d->h, data, len);
	d->n += len;
	/* Once the layer failed to unpack (for a reason about the blob:
	 * xfer_stream_grow), the blob will not be kept; the
	 * rest is only hashed, for the digest's verdict to come first (a
	 * blob corrupt in transit is not a hostile layer). */
	while (len && !d->unpack_failed) {
		size_t take = BLOB_WRITE_CHUNK - d->buf_len;
		if (take > len)
			take = len;
		memcpy(d->buf + d->buf_len, p, take);
		d->buf_len += take;
		p += take;
		len -= take;
		if (d->buf_len == BLOB_WRITE_CHUNK && download_flush(d) < 0)
			return -1;
	}
	/* All of it: on disk now, for the unpacker to finish. */
	if (d->n == d->job->size && download_flush(d) < 0)
		return -1;
	if (d->n - d->reported >= (1u << 20) || d->n == d->job->size) {
		d->reported = d->n;
		reg_report(d->c, REG_BLOB_BYTES, d->job->digest, d->n, d->job->size);
	}
	return 0;
}

static int download_reset(void *ctx)
{
	struct download *d = ctx;
	if (d->n == 0)
		return 0;
	/* What was unpacked came from the bytes thrown away here. */
	xfer_stream_free(d->xs);
	d->xs = NULL;
	d->tried = d->unpack_failed = false;
	if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
		return -1;
	cn_sha256_free(&d->h);
	cn_sha256_init(&d->h);
	d->n = d->reported = d->kicked = d->on_disk = 0;
	d->buf_len = 0;
	return 0;
}

/* The layer JOB's blob holds, as the unpacker takes it. */
static void job_layer(const struct blob_job *job, struct store_layer *l)
{
	*l = (struct store_layer){ .size = job->size };
	memcpy(l->digest, job->digest, sizeof(l->digest));
	memcpy(l->diff_id, job->diff_id, sizeof(l->diff_id));
	memcpy(l->media_type, job->media_type, sizeof(l->media_type));
}

int reg_fetch_blob(struct reg_conn *k, struct store *st, const char *name, const struct blob_job *job,
		   bool *unpacked, cn_err *err)
{
	_cleanup_free_ char *url = cn_xasprintf("/v2/%s/blobs/%s", name, job->digest);
	struct store_layer l;
	struct download d = { .c = k->c, .job = job };
	struct reg_req rq = { .method = "GET", .url = url, .sink = download_sink, .sink_reset = download_reset,
			      .sink_ctx = &d, .follow = true, .retry = true };
	struct reg_resp resp;
	struct store_ingest in;
	char got[CN_DIGEST_STR_SIZE];
	int r = -1;

	if (unpacked) {
		*unpacked = false;
		job_layer(job, &l);
		d.st = st;
		d.layer = &l;
	}
	if (store_ingest_begin(st, &in, err) < 0)
		return -1;
	d.fd = in.fd;
	d.buf = cn_xmalloc(BLOB_WRITE_CHUNK);
	cn_sha256_init(&d.h);
	reg_report(k->c, REG_BLOB_START, job->digest, 0, job->size);
	if (reg_do(k, &rq, &resp, err) < 0) {
		if (resp.sink_failed)
			*err = d.err;
		goto out;
	}
	if (resp.status != 200) {
		reg_status_error(&rq, &resp, err);
		goto out;
	}
	cn_sha256_final(&d.h, got);
	if (strcmp(got, job->digest) != 0) {
		cn_err_fail(err, CN_ERR_CORRUPT, "blob %s: content hashes to %s (corrupt in the registry or in transit)",
			   job->digest, got);
		goto out;
	}
	if (d.n != job->size) {
		cn_err_fail(err, CN_ERR_CORRUPT, "blob %s: %llu bytes, the manifest declares %llu", job->digest,
			   (unsigned long long)d.n, (unsigned long long)job->size);
		goto out;
	}
	/* The snapshot before the blob: a blob that does not unpack never
	 * enters the store. One that verified is kept when unpacking failed
	 * for another reason (Ctrl-C, out of space): the next pull unpacks it
	 * without downloading it again. The error is still this pull's. */
	if (d.xs && xfer_stream_finish(d.xs, err) < 0) {
		cn_err ignored;
		if (!d.unpack_failed && xfer_blob_still_good(err) &&
		    store_ingest_commit(&in, job->digest, &ignored) == 0) {
			in.fd = -1;
			in.name = NULL;
		}
		goto out;
	}
	r = store_ingest_commit(&in, job->digest, err);
	in.fd = -1;
	in.name = NULL;
	if (r == 0 && unpacked)
		*unpacked = d.xs != NULL;
out:
	/* Before the file it reads goes. */
	xfer_stream_free(d.xs);
	free(d.buf);
	cn_sha256_free(&d.h);
	if (r < 0)
		store_ingest_abort(&in);
	reg_resp_free(&resp);
	return r;
}

int reg_fetch_small_blob(struct reg_conn *k, const char *name, const char *digest, cn_buf *out,
			    cn_err *err)
{
	_cleanup_free_ char *url = cn_xasprintf("/v2/%s/blobs/%s", name, digest);
	struct reg_req rq = { .method = "GET", .url = url, .out = out, .follow = true, .retry = true };
	struct reg_resp resp;
	char got[CN_DIGEST_STR_SIZE];
	int r = -1;
	if (reg_do(k, &rq, &resp, err) < 0)
		goto out;
	if (resp.status != 200) {
		reg_status_error(&rq, &resp, err);
		goto out;
	}
	cn_sha256_oneshot(out->data, out->len, got);
	if (strcmp(got, digest) != 0) {
		cn_err_fail(err, CN_ERR_CORRUPT, "blob %s: content hashes to %s", digest, got);
		goto out;
	}
	r = 0;
out:
	reg_resp_free(&resp);
	return r;
}

/* ---- layers, in parallel ---- */

struct pull_ctx {
	struct store *st;
	const char *name;
	struct blob_job *jobs;
	unsigned fetched;       /* atomic */
	unsigned kept;          /* atomic: fetched and unpacked */
	uint64_t bytes;         /* atomic */
};

static int pull_layer(struct reg_conn *k, size_t i, void *arg, cn_err *err)
{
	struct pull_ctx *p = arg;
	const struct blob_job *job = &p->jobs[i];
	struct store_layer l;
	bool fetched = false, unpacked = false;
	job_layer(job, &l);
	if (store_blob_exists(p->st, job->digest) && store_blob_size(p->st, job->digest) == job->size) {
		reg_report(k->c, REG_BLOB_EXISTS, job->digest, job->size, job->size);
	} else {
		/* Unpacked while it downloads (other layers download meanwhile). */
		if (reg_fetch_blob(k, p->st, p->name, job, &unpacked, err) < 0)
			return -1;
		fetched = true;
		__atomic_add_fetch(&p->fetched, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&p->bytes, job->size, __ATOMIC_RELAXED);
	}
	/* A blob this pull brought that does not unpack is of no use to anyone. */
	if (!unpacked && xfer_snapshot_layer(p->st, &l, err) < 0) {
		if (fetched && !cn_err_is(err, CN_ERR_INTERRUPTED))
			xfer_forget_blob(p->st, job->digest);
		return -1;
	}
	if (fetched)
		__atomic_add_fetch(&p->kept, 1, __ATOMIC_RELAXED);
	reg_report(k->c, REG_BLOB_DONE, job->digest, job->size, job->size);
	return 0;
}

/* ---- pull ---- */

/* A failed pull keeps the layers it downloaded and unpacked (the next pull
 * reuses them): say so, and what frees them. */
static void note_kept(cn_err *err, unsigned kept)
{
	size_t len = strlen(err->msg);
	if (kept && !cn_err_is(err, CN_ERR_INTERRUPTED))
		snprintf(err->msg + len, sizeof(err->msg) - len, " (%u downloaded layer%s kept for the next "
			 "pull; `cairn prune` removes %s)", kept, kept == 1 ? "" : "s", kept == 1 ? "it" : "them");
}

static bool config_media_type_ok(const char *mt)
{
	return mt && (strcmp(mt, MT_OCI_CONFIG) == 0 || strcmp(mt, MT_DOCKER_CONFIG) == 0);
}

/* Fill JOBS from a manifest and its config (already verified). */
int reg_plan_layers(json_t *manifest, json_t *config, const char *what, struct blob_job **jobs,
		    size_t *njobs, cn_err *err)
{
	json_t *layers = json_object_get(manifest, "layers"), *l;
	json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	size_t i;
	if (!json_is_array(layers) || !json_is_array(diff_ids) ||
	    json_array_size(layers) != json_array_size(diff_ids))
		return cn_err_fail(err, CN_ERR_PROTOCOL, "%s: the manifest's layers and the config's diff_ids "
				  "do not match", what);
	if (json_array_size(layers) > STORE_MAX_LAYERS)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "%s: more than %d layers", what, STORE_MAX_LAYERS);
	*njobs = json_array_size(layers);
	*jobs = cn_xcalloc(*njobs ? *njobs : 1, sizeof(**jobs));
	json_array_foreach(layers, i, l) {
		struct blob_job *j = &(*jobs)[i];
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *did = json_string_value(json_array_get(diff_ids, i));
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		json_t *size = json_object_get(l, "size");
		if (!cn_digest_valid(d) || !cn_digest_valid(did))
			return cn_err_fail(err, CN_ERR_PROTOCOL, "%s: layer %zu: bad digest (only sha256 is supported)",
					  what, i + 1);
		if (!json_is_integer(size) || json_integer_value(size) < 0)
			return cn_err_fail(err, CN_ERR_PROTOCOL, "%s: layer %zu: bad size", what, i + 1);
		if (!mt || (strstr(mt, ".tar") == NULL))
			return cn_err_fail(err, CN_ERR_PROTOCOL, "%s: layer %zu: unsupported media type '%s'", what,
					  i + 1, mt ? mt : "");
		/* The store keeps it in a fixed field; every type it supports fits. */
		if (strlen(mt) >= sizeof(j->media_type))
			return cn_err_fail(err, CN_ERR_PROTOCOL, "%s: layer %zu: media type longer than %zu bytes "
					  "(unsupported: '%.*s...')", what, i + 1, sizeof(j->media_type) - 1,
					  60, mt);
		memcpy(j->digest, d, CN_DIGEST_STR_SIZE);
		memcpy(j->diff_id, did, CN_DIGEST_STR_SIZE);
		memcpy(j->media_type, mt, strlen(mt) + 1);
		j->size = (uint64_t)json_integer_value(size);
	}
	return 0;
}

/* Pull REMOTE; without LAYERS only its manifest and config (for a build
 * that may take every layer from an imported cache), untagged. */
static int pull(struct store *st, const char *remote, const struct reg_opts *o, bool layers,
		struct reg_result *res, cn_err *err)
{
	struct cn_ref ref;
	struct reg_client c;
	struct reg_conn k = { 0 };
	_cleanup_free_ char *scope = NULL, *mt = NULL;
	_cleanup_free_ struct blob_job *jobs = NULL;
	_cleanup_buf_ cn_buf body, cfg;
	char digest[CN_DIGEST_STR_SIZE], cfg_digest_put[CN_DIGEST_STR_SIZE], stored[CN_DIGEST_STR_SIZE];
	const char *scopes[2];
	json_t *manifest = NULL, *config = NULL;
	const char *cfg_digest, *cfg_mt;
	size_t njobs = 0;
	struct pull_ctx pc = { 0 };
	bool from_index = false;
	int r = -1;

	memset(res, 0, sizeof(*res));
	cn_buf_init(&body, REG_MAX_MANIFEST);
	/* A config is a blob, not a manifest: as large as the store accepts. */
	cn_buf_init(&cfg, STORE_MAX_JSON);
	if (cn_ref_parse(remote, &ref, err) < 0)
		return -1;
	scope = cn_xasprintf("repository:%s:pull", ref.path);
	scopes[0] = scope;
	scopes[1] = NULL;
	if (reg_client_open(&c, &ref, o, scopes, err) < 0) {
		cn_ref_free(&ref);
		return cn_err_wrap(err, "pull %s", remote);
	}
	if (reg_conn_open(&k, &c, err) < 0)
		goto out;
	if (reg_get_manifest(&k, ref.path, reg_ref_reference(&ref), ref.digest, &body, &mt, digest, err) < 0)
		goto out;
	if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0) {
		char child[CN_DIGEST_STR_SIZE];
		json_t *index = json_loadb(body.data, body.len, 0, NULL);
		int pr = reg_pick_platform(o->platform, index, remote, child, err);
		json_decref(index);
		free(mt);
		mt = NULL;
		if (pr < 0 || reg_get_manifest(&k, ref.path, child, child, &body, &mt, digest, err) < 0)
			goto out;
		from_index = true;
	}
	if (strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "unsupported manifest type '%s'", mt);
		goto out;
	}
	manifest = json_loadb(body.data, body.len, 0, NULL);
	cfg_digest = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
	cfg_mt = json_string_value(json_object_get(json_object_get(manifest, "config"), "mediaType"));
	if (!cn_digest_valid(cfg_digest) || !config_media_type_ok(cfg_mt)) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "manifest %s: bad or unsupported config (%s)", digest,
			   cfg_mt ? cfg_mt : "no media type");
		goto out;
	}
	if (reg_fetch_small_blob(&k, ref.path, cfg_digest, &cfg, err) < 0)
		goto out;
	config = json_loadb(cfg.data, cfg.len, 0, NULL);
	if (!json_is_object(config)) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "config %s is not a JSON object", cfg_digest);
		goto out;
	}
	if (!from_index && o->platform && check_platform(o->platform, config, err) < 0)
		goto out;
	if (reg_plan_layers(manifest, config, digest, &jobs, &njobs, err) < 0)
		goto out;
	if (!layers) {
		if (store_blob_put(st, cfg.data, cfg.len, cfg_digest_put, err) < 0 ||
		    store_blob_put(st, body.data, body.len, stored, err) < 0)
			goto out;
		memcpy(res->manifest_digest, digest, sizeof(res->manifest_digest));
		r = 0;
		goto out;
	}
	reg_conn_close(&k);
	pc = (struct pull_ctx){ .st = st, .name = ref.path, .jobs = jobs };
	if (reg_pool_run(&c, njobs, o->jobs, pull_layer, &pc, err) < 0)
		goto out;
	res->blobs_sent = pc.fetched;
	res->blobs_skipped = (unsigned)njobs - pc.fetched;
	res->bytes = pc.bytes;
	/* Config and manifest last: the image exists only once its layers do. */
	if (store_blob_put(st, cfg.data, cfg.len, cfg_digest_put, err) < 0 ||
	    store_blob_put(st, body.data, body.len, stored, err) < 0)
		goto out;
	reg_report(&c, REG_MANIFEST, digest, body.len, body.len);
	/* Every layer was verified (and unpacked) by pull_layer. */
	if (xfer_import(st, digest, ref.local, "pull", true, err) < 0)
		goto out;
	memcpy(res->manifest_digest, digest, sizeof(res->manifest_digest));
	res->local = ref.local ? cn_xstrdup(ref.local) : NULL;
	r = 0;
out:
	reg_conn_close(&k);
	json_decref(manifest);
	json_decref(config);
	reg_client_close(&c);
	if (r < 0) {
		cn_err_wrap(err, "pull %s", remote);
		note_kept(err, pc.kept);
	}
	cn_ref_free(&ref);
	return r;
}

int reg_pull(struct store *st, const char *remote, const struct reg_opts *o, struct reg_result *res,
	     cn_err *err)
{
	return pull(st, remote, o, true, res, err);
}

int reg_pull_manifest(struct store *st, const char *remote, const struct reg_opts *o,
		      char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	struct reg_result res;
	int r = pull(st, remote, o, false, &res, err);
	if (r == 0)
		memcpy(digest, res.manifest_digest, CN_DIGEST_STR_SIZE);
	reg_result_free(&res);
	return r;
}
