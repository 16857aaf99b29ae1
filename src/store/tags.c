/* Tags: index.json entries named by org.opencontainers.image.ref.name, and
 * tags/<ref>.log, one JSON line per value a tag took (the basis of log and
 * rollback). Both change only under the store lock: the log line first (the
 * record of intent), then index.json. */
#include "store/image.h"
#include "store/imgindex.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/ref.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_MEDIA_TYPE "application/vnd.oci.image.manifest.v1+json"
#define REF_ANNOTATION "org.opencontainers.image.ref.name"
#define TAGLOG_MAX (64u << 20)


/* Docker's grammar (util/ref.h), the one the registry client uses: a
 * name the store tags can be pushed and pulled under, and back. The name
 * is kept in docker's familiar form (what `docker images` shows), so that
 * "docker.io/library/busybox:latest", "library/busybox" and "busybox" are
 * one tag, "docker.io/team/app" is "team/app", and a name on any other
 * registry, "localhost/..." included, is kept whole. */
char *store_ref_normalize(const char *ref, cn_err *err)
{
	struct cn_ref r;
	char *local;
	if (strchr(ref, '@')) {
		cn_err_fail(err, CN_ERR_INVALID, "invalid image name '%s': a digest cannot name a tag", ref);
		return NULL;
	}
	if (cn_ref_parse(ref, &r, err) < 0)
		return NULL;
	if (strcmp(r.domain, "docker.io") == 0 || strcmp(r.domain, "index.docker.io") == 0) {
		const char *path = r.path;
		if (strncmp(path, "library/", 8) == 0 && !strchr(path + 8, '/'))
			path += 8;
		local = cn_xasprintf("%s:%s", path, r.tag);
	} else {
		local = CN_TAKE_PTR(r.local);
	}
	cn_ref_free(&r);
	return local;
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
		return cn_err_fail(err, CN_ERR_INVALID, "%s/index.json:%d: %s", st->root, je.line, je.text);
	if (!json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		return cn_err_fail(err, CN_ERR_INVALID, "%s/index.json: no manifests array", st->root);
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
		return cn_err_errno(err, ENOMEM, "encode index.json");
	if (store_json_fits("index.json", strlen(text), STORE_MAX_JSON, err) < 0)
		return cn_err_wrap(err, "too many tags ('cairn rmi' some)");
	/* The blobs a tag points at are durable before the tag is. */
	if (store_names_sync(st, err) < 0)
		return -1;
	return cn_write_file_atomic(st->root_fd, "index.json", text, strlen(text), 0644, err);
}

/* Index of REF's entry in the manifests array, or -1. */
static long index_find_exact(json_t *manifests, const char *ref)
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

/* REF's entry: by name, else the entry whose name normalizes to REF's (a
 * store written before names were normalized holds "docker.io/library/x:1"). */
static long index_find(json_t *manifests, const char *ref)
{
	_cleanup_free_ char *want = NULL;
	long i = index_find_exact(manifests, ref);
	size_t j;
	json_t *e;
	cn_err ignored;
	if (i >= 0 || !(want = store_ref_normalize(ref, &ignored)))
		return i;
	json_array_foreach(manifests, j, e) {
		const char *r = entry_ref(e);
		_cleanup_free_ char *n = r ? store_ref_normalize(r, &ignored) : NULL;
		if (n && strcmp(n, want) == 0)
			return (long)j;
	}
	return -1;
}

/* ---- tag logs ---- */

/* A ref as a file name: [a-z0-9._-] kept, anything else %XX. */
static char *log_name(const char *ref)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (const char *p = ref; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
			cn_buf_addc(&b, (char)c);
		else
			cn_buf_addf(&b, "%%%02X", c);
	}
	cn_buf_adds(&b, ".log");
	return cn_buf_detach(&b);
}

static char *log_ref(const char *name)
{
	size_t len = strlen(name);
	cn_buf b;
	if (len < 5 || strcmp(name + len - 4, ".log") != 0)
		return NULL;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < len - 4; i++) {
		unsigned int c;
		if (name[i] == '%' && i + 2 < len - 4 && sscanf(name + i + 1, "%2X", &c) == 1) {
			cn_buf_addc(&b, (char)c);
			i += 2;
		} else {
			cn_buf_addc(&b, name[i]);
		}
	}
	return cn_buf_detach(&b);
}

static void event_line(const struct store_tag_event *ev, cn_buf *out)
{
	char when[32];
	time_t t = (time_t)ev->time;
	struct tm tm;
	json_t *j;
	char *text;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	j = json_pack("{s:s, s:I, s:s, s:s}", "time", when, "unix", (json_int_t)ev->time,
		      "digest", ev->digest, "cause", ev->cause);
	text = json_dumps(j, JSON_COMPACT);
	cn_buf_adds(out, text);
	cn_buf_addc(out, '\n');
	free(text);
	json_decref(j);
}

static int taglog_append(struct store *st, const char *ref, const char *digest, const char *cause,
			 cn_err *err)
{
	_cleanup_free_ char *name = log_name(ref);
	_cleanup_buf_ cn_buf line;
	_cleanup_close_ int fd = -1;
	struct store_tag_event ev = { .time = (long long)time(NULL) };
	snprintf(ev.digest, sizeof(ev.digest), "%s", digest);
	snprintf(ev.cause, sizeof(ev.cause), "%s", cause);
	cn_buf_init(&line, 0);
	event_line(&ev, &line);
	/* index.json's writer synced them already, unless this process put
	 * more blobs since. */
	if (store_names_sync_own(st, err) < 0)
		return -1;
	fd = openat(st->tags_fd, name, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return cn_err_sys(err, "tag log of '%s'", ref);
	/* A crash can leave a torn last line (readers skip it): end it first,
	 * so this entry does not merge into it. One write per entry. */
	off_t end = lseek(fd, 0, SEEK_END);
	char last = '\n';
	if (end >= 0 && store_json_fits("the tag log", (size_t)end + line.len + 1, TAGLOG_MAX, err) < 0)
		return cn_err_wrap(err, "tag '%s' ('cairn prune --keep N' trims its log)", ref);
	if (end > 0 && pread(fd, &last, 1, end - 1) == 1 && last != '\n' && cn_write_all(fd, "\n", 1) < 0)
		return cn_err_sys(err, "tag log of '%s'", ref);
	if (cn_write_all(fd, line.data, line.len) < 0 || fsync(fd) < 0)
		return cn_err_sys(err, "tag log of '%s'", ref);
	return 0;
}

int store_taglog_read(struct store *st, const char *ref, struct store_tag_event **out, size_t *n,
		      size_t *skipped, cn_err *err)
{
	_cleanup_free_ char *name = log_name(ref);
	_cleanup_buf_ cn_buf text;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (skipped)
		*skipped = 0;
	cn_buf_init(&text, TAGLOG_MAX);
	if (cn_read_file_at(st->tags_fd, name, TAGLOG_MAX, &text, err) < 0) {
		if (err->errnum == ENOENT)
			return 0;
		return cn_err_wrap(err, "tag log of '%s'", ref);
	}
	for (char *line = text.data, *nl; line < text.data + text.len; line = nl + 1) {
		struct store_tag_event ev = { 0 };
		const char *d, *c;
		json_t *j;
		nl = memchr(line, '\n', (size_t)(text.data + text.len - line));
		if (!nl) {
			if (skipped)
				(*skipped)++;   /* a torn last line */
			break;
		}
		j = json_loadb(line, (size_t)(nl - line), 0, NULL);
		d = json_string_value(json_object_get(j, "digest"));
		c = json_string_value(json_object_get(j, "cause"));
		if (j && d && c && (!*d || cn_digest_valid(d))) {
			ev.time = (long long)json_integer_value(json_object_get(j, "unix"));
			snprintf(ev.digest, sizeof(ev.digest), "%s", d);
			snprintf(ev.cause, sizeof(ev.cause), "%s", c);
			cn_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
			(*out)[(*n)++] = ev;
		} else if (skipped) {
			(*skipped)++;
		}
		json_decref(j);
	}
	return 0;
}

int store_taglog_rewrite(struct store *st, const char *ref, const struct store_tag_event *events,
			 size_t n, cn_err *err)
{
	_cleanup_free_ char *name = log_name(ref);
	_cleanup_buf_ cn_buf text;
	if (n == 0) {
		if (unlinkat(st->tags_fd, name, 0) < 0 && errno != ENOENT)
			return cn_err_sys(err, "remove tag log of '%s'", ref);
		return 0;
	}
	cn_buf_init(&text, 0);
	for (size_t i = 0; i < n; i++)
		event_line(&events[i], &text);
	return cn_write_file_atomic(st->tags_fd, name, text.data, text.len, 0644, err);
}

int store_taglog_refs(struct store *st, cn_strv *out, cn_err *err)
{
	_cleanup_close_ int fd = openat(st->tags_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d)
		return cn_err_sys(err, "open '%s/tags'", st->root);
	fd = -1;
	while ((de = readdir(d))) {
		char *ref = de->d_name[0] == '.' ? NULL : log_ref(de->d_name);
		if (ref)
			cn_strv_push(out, ref);
	}
	return 0;
}

/* The index entry's media type is the manifest's own: OCI for what cairn
 * writes, Docker schema2 for some pulled or loaded images. */
static const char *manifest_media_type(struct store *st, const char *digest)
{
	static const char docker[] = "application/vnd.docker.distribution.manifest.v2+json";
	_cleanup_buf_ cn_buf b;
	cn_err ignored;
	bool is_docker;
	cn_buf_init(&b, STORE_MAX_JSON);
	if (store_blob_get(st, digest, STORE_MAX_JSON, &b, &ignored) < 0)
		return MANIFEST_MEDIA_TYPE;
	if (memmem(b.data, b.len, MT_OCI_IMAGE_INDEX, sizeof(MT_OCI_IMAGE_INDEX) - 1)) {
		json_t *m = json_loadb(b.data, b.len, 0, NULL);
		bool index = store_index_doc_is(m);
		json_decref(m);
		if (index)
			return MT_OCI_IMAGE_INDEX;      /* a multi-platform image */
	}
	is_docker = memmem(b.data, b.len, docker, sizeof(docker) - 1) != NULL;
	if (is_docker) {
		json_t *m = json_loadb(b.data, b.len, 0, NULL);
		const char *mt = json_string_value(json_object_get(m, "mediaType"));
		is_docker = mt && strcmp(mt, docker) == 0;
		json_decref(m);
	}
	return is_docker ? docker : MANIFEST_MEDIA_TYPE;
}

int store_tag_set(struct store *st, const char *ref, const char *manifest_digest,
		  uint64_t manifest_size, const char *cause, cn_err *err)
{
	_cleanup_free_ char *norm = NULL;
	json_t *idx = NULL, *entry, *manifests;
	long i;
	int r = -1;
	if (!cn_digest_valid(manifest_digest))
		return cn_err_fail(err, CN_ERR_INVALID, "invalid digest '%s'", manifest_digest);
	if (store_lock(st, err) < 0)
		return -1;
	/* Checked under the lock that prune and fsck --repair also take. */
	if (!store_blob_exists(st, manifest_digest)) {
		cn_err_fail(err, CN_ERR_NOT_FOUND, "image %s is not in the store", manifest_digest);
		goto out;
	}
	if (store_index_load(st, &idx, err) < 0)
		goto out;
	manifests = json_object_get(idx, "manifests");
	/* Tags are kept in docker's familiar form ("docker.io/library/x:1" is
	 * "x:1"); a name already in the index as given (older stores) stays. */
	if (index_find_exact(manifests, ref) < 0) {
		norm = store_ref_normalize(ref, err);
		if (!norm)
			goto out;
		ref = norm;
	}
	entry = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", manifest_media_type(st, manifest_digest),
			  "digest", manifest_digest, "size", (json_int_t)manifest_size,
			  "annotations", REF_ANNOTATION, ref);
	i = index_find(manifests, ref);
	if (i >= 0 && !strcmp(json_string_value(json_object_get(json_array_get(manifests, (size_t)i),
								 "digest")) ?: "", manifest_digest)) {
		json_t *old = json_array_get(manifests, (size_t)i);
		uint64_t size;
		bool same = store_descriptor_size(old, &size) && size == manifest_size;
		r = 0;          /* the same value: nothing to log */
		if (!same) {    /* but a wrong size (fsck --repair) is corrected */
			json_array_set_new(manifests, (size_t)i, entry);
			r = index_save(st, idx, err);
		} else {
			json_decref(entry);
		}
		goto out;
	}
	if (i >= 0)
		json_array_set_new(manifests, (size_t)i, entry);
	else
		json_array_append_new(manifests, entry);
	/* index.json first: a log line never records a value the tag did not take. */
	r = index_save(st, idx, err) < 0 || taglog_append(st, ref, manifest_digest, cause, err) < 0 ? -1 : 0;
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
		return cn_err_fail(err, CN_ERR_INVALID, "%s/index.json: '%s' has an invalid digest", st->root, ref);
	}
	memcpy(digest, d, CN_DIGEST_STR_SIZE);
	json_decref(idx);
	return 1;
}

int store_tag_remove(struct store *st, const char *ref, const char *cause, cn_err *err)
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
	r = index_save(st, idx, err) < 0 || taglog_append(st, ref, "", cause, err) < 0 ? -1 : 1;
out:
	json_decref(idx);
	store_unlock(st);
	return r;
}
