/* `load`: an OCI or docker archive into the store. The archive is hostile:
 * nothing is ever created by an entry's name. Each regular entry is streamed
 * into a private ingest file in the store's tmp/ while hashed and published
 * as a blob under the digest computed (blobs/sha256/<hex> entries must hash
 * to their name); links only alias other entries. The small documents
 * (index.json, manifest.json) are read in memory, capped. Then each image is
 * checked and imported with xfer_import (layers unpacked as hostile input,
 * diff_ids checked) and, only when every image passed, tagged. */
#include "archive/imgarchive.h"
#include "transfer/import.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/platform.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LOAD_CHUNK ((size_t)64 * 1024)
#define LOAD_MAX_NAME 4095
#define LOAD_MAX_ALIAS_DEPTH 8
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

struct member {
	char *name;                         /* normalized */
	uint64_t hash;                      /* name_hash(name) */
	char *alias;                        /* link target (normalized), or NULL */
	char digest[CN_DIGEST_STR_SIZE];    /* of the content, for regular entries */
	uint64_t size;
	unsigned char magic[4];             /* first bytes: the layer's compression */
	bool fresh;                         /* its blob was not in the store before this load */
};

struct loader {
	struct store *st;
	const char *arc;                    /* archive name, for messages */
	struct archive *ar;
	struct member *m;
	size_t n, cap;
	/* The members by name: open addressing, slots hold index + 1. Names
	 * are hostile (thousands sharing a 4 KB prefix), so the hash is keyed
	 * with a random secret: nobody can choose names that collide. */
	uint32_t *slot;
	size_t nslots;                      /* a power of two, or 0 */
	unsigned char key[16];
	cn_buf index, manifest;             /* index.json, manifest.json */
	bool has_index, has_manifest;
	uint64_t total;                     /* bytes of entry data read */
	uint64_t entries;
	unsigned char *chunk;
	cn_err *err;
};

/* Strip "./" and empty components; refuse absolute names, "..", overlong.
 * Heap string, or NULL with *why set. */
static char *normalize(const char *name, const char **why)
{
	cn_buf out;
	const char *p = name;
	if (!name || !*name) {
		*why = "empty name";
		return NULL;
	}
	if (strlen(name) > LOAD_MAX_NAME) {
		*why = "name too long";
		return NULL;
	}
	if (name[0] == '/') {
		*why = "absolute name refused";
		return NULL;
	}
	cn_buf_init(&out, 0);
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			cn_buf_free(&out);
			*why = "'..' refused";
			return NULL;
		}
		if (len && !(len == 1 && p[0] == '.')) {
			if (out.len)
				cn_buf_addc(&out, '/');
			cn_buf_add(&out, p, len);
		}
		p += len + (e ? 1 : 0);
	}
	if (!out.len) {
		cn_buf_free(&out);
		*why = "names the archive's root";
		return NULL;
	}
	return cn_buf_detach(&out);
}

/* A symlink's target, relative to the link's directory, as an archive name. */
static char *symlink_target(const char *link_name, const char *target, const char **why)
{
	const char *slash = strrchr(link_name, '/');
	_cleanup_free_ char *joined = NULL;
	cn_buf b;
	const char *p;
	if (!target || target[0] == '/') {
		*why = "symlink to an absolute path refused";
		return NULL;
	}
	/* Resolve ".." lexically against the link's directory. */
	cn_buf_init(&b, 0);
	if (slash)
		cn_buf_add(&b, link_name, (size_t)(slash - link_name));
	for (p = target; *p;) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *up = memrchr(b.data, '/', b.len);
			if (!b.len) {
				cn_buf_free(&b);
				*why = "symlink pointing outside the archive refused";
				return NULL;
			}
			b.len = up ? (size_t)(up - b.data) : 0;
			b.data[b.len] = '\0';
		} else if (len && !(len == 1 && p[0] == '.')) {
			if (b.len)
				cn_buf_addc(&b, '/');
			cn_buf_add(&b, p, len);
		}
		p += len + (e ? 1 : 0);
	}
	joined = cn_buf_detach(&b);
	return normalize(joined, why);
}

static uint64_t name_hash(const struct loader *l, const char *name)
{
	char hex[CN_DIGEST_STR_SIZE];
	cn_sha256 h;
	cn_sha256_init(&h);
	cn_sha256_update(&h, l->key, sizeof(l->key));
	cn_sha256_update(&h, name, strlen(name));
	cn_sha256_final(&h, hex);
	return strtoull(cn_digest_hex(hex) + 48, NULL, 16);    /* its last 64 bits */
}

static void index_put(struct loader *l, size_t idx)
{
	size_t mask = l->nslots - 1, i = (size_t)l->m[idx].hash & mask;
	while (l->slot[i])
		i = (i + 1) & mask;
	l->slot[i] = (uint32_t)(idx + 1);
}

/* Index member IDX (the last one added), growing the table at half full. */
static void index_add(struct loader *l, size_t idx)
{
	if (2 * (idx + 1) > l->nslots) {
		free(l->slot);
		l->nslots = l->nslots ? 2 * l->nslots : 1024;
		l->slot = cn_xcalloc(l->nslots, sizeof(*l->slot));
		for (size_t k = 0; k < idx; k++)
			index_put(l, k);
	}
	index_put(l, idx);
}

static struct member *find_hashed(struct loader *l, const char *name, uint64_t h)
{
	size_t i, mask = l->nslots - 1;
	if (!l->nslots)
		return NULL;
	for (i = (size_t)h & mask; l->slot[i]; i = (i + 1) & mask) {
		struct member *m = &l->m[l->slot[i] - 1];
		if (m->hash == h && strcmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}

static struct member *find_exact(struct loader *l, const char *name)
{
	return l->nslots ? find_hashed(l, name, name_hash(l, name)) : NULL;
}

static struct member *find(struct loader *l, const char *name)
{
	for (int depth = 0; depth <= LOAD_MAX_ALIAS_DEPTH; depth++) {
		struct member *m = find_exact(l, name);
		if (!m || !m->alias)
			return m;
		name = m->alias;
	}
	return NULL;
}

static int entry_fail(struct loader *l, const char *name, const char *why)
{
	return cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': entry \"%s\": %s", l->arc, name, why);
}

static int ar_fail(struct loader *l, const char *name)
{
	const char *msg = archive_error_string(l->ar);
	if (name)
		return cn_err_fail(l->err, CN_ERR_CORRUPT, "archive '%s': entry \"%s\": %s", l->arc, name,
				    msg ? msg : "read error");
	return cn_err_fail(l->err, CN_ERR_CORRUPT, "archive '%s': %s", l->arc, msg ? msg : "read error");
}

/* Read the current entry's data into BUF (capped at its max). */
static int read_small(struct loader *l, const char *name, cn_buf *buf)
{
	for (;;) {
		la_ssize_t n = archive_read_data(l->ar, l->chunk, LOAD_CHUNK);
		if (n < 0)
			return ar_fail(l, name);
		if (n == 0)
			return 0;
		if (cn_buf_add(buf, l->chunk, (size_t)n) < 0)
			return entry_fail(l, name, "larger than the limit for JSON documents");
	}
}

/* Stream the current entry into an ingest file, hashing it, and publish it
 * as a blob under its digest. */
/* The bytes free in the store for unprivileged writers; UINT64_MAX when
 * unknown (ENOSPC will tell). */
static uint64_t store_free(struct loader *l)
{
	struct statvfs v;
	if (statvfs(l->st->root, &v) < 0)
		return UINT64_MAX;
	return (uint64_t)v.f_bavail * v.f_frsize;
}

static int ingest(struct loader *l, struct member *m, int64_t declared)
{
	struct store_ingest in;
	cn_sha256 h;
	size_t nmagic = 0;
	uint64_t free_bytes = store_free(l);
	/* A compressed archive can declare far more than it weighs (a 97 KB
	 * .tar.zst holding a 3 GB entry): refuse what cannot fit before
	 * writing a byte of it. */
	if ((uint64_t)declared > free_bytes)
		return cn_err_fail(l->err, CN_ERR_TOO_BIG, "archive '%s': entry \"%s\": declares %llu bytes, "
				   "more than the %llu bytes free in the store", l->arc, m->name,
				   (unsigned long long)declared, (unsigned long long)free_bytes);
	if (store_ingest_begin(l->st, &in, l->err) < 0)
		return -1;
	cn_sha256_init(&h);
	for (;;) {
		la_ssize_t n = archive_read_data(l->ar, l->chunk, LOAD_CHUNK);
		if (n < 0) {
			ar_fail(l, m->name);
			goto fail;
		}
		if (n == 0)
			break;
		m->size += (uint64_t)n;
		l->total += (uint64_t)n;
		if (l->total > ARC_LOAD_MAX_BYTES) {
			entry_fail(l, m->name, "the archive exceeds the size limit");
			goto fail;
		}
		while (nmagic < sizeof(m->magic) && nmagic < (size_t)n) {
			m->magic[nmagic] = l->chunk[nmagic];
			nmagic++;
		}
		cn_sha256_update(&h, l->chunk, (size_t)n);
		if (cn_write_all(in.fd, l->chunk, (size_t)n) < 0) {
			cn_err_sys(l->err, "archive '%s': entry \"%s\": write", l->arc, m->name);
			goto fail;
		}
	}
	cn_sha256_final(&h, m->digest);
	if (m->size != (uint64_t)declared) {
		entry_fail(l, m->name, "shorter than its declared size");
		store_ingest_abort(&in);
		return -1;
	}
	if (!strncmp(m->name, "blobs/sha256/", 13) && strcmp(m->name + 13, cn_digest_hex(m->digest)) != 0) {
		cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': entry \"%s\": content hashes to %s, "
			     "not to its name", l->arc, m->name, m->digest);
		store_ingest_abort(&in);
		return -1;
	}
	m->fresh = !store_blob_exists(l->st, m->digest);
	if (store_ingest_commit(&in, m->digest, l->err) < 0) {
		m->fresh = false;
		return cn_err_wrap(l->err, "archive '%s': entry \"%s\"", l->arc, m->name);
	}
	return 0;
fail:
	cn_sha256_free(&h);
	store_ingest_abort(&in);
	return -1;
}

/* Legacy `docker save` files that nothing reads: <id>/VERSION, <id>/json
 * (the v1 image description) and repositories (manifest.json has the tags). */
static bool legacy_ignored(const char *name)
{
	const char *slash = strchr(name, '/');
	if (!slash)
		return strcmp(name, "repositories") == 0;
	return !strchr(slash + 1, '/') && (!strcmp(slash + 1, "VERSION") || !strcmp(slash + 1, "json"));
}

static int read_entry(struct loader *l, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e), *why = NULL;
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	_cleanup_free_ char *name = normalize(raw, &why);
	_cleanup_free_ char *alias = NULL;
	struct member *m;
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	uint64_t hash;

	if (++l->entries > ARC_LOAD_MAX_ENTRIES)
		return entry_fail(l, raw ? raw : "", "too many entries in the archive");
	if (!name) {
		if (type == AE_IFDIR && !hardlink && raw && *raw && raw[0] != '/' && !strstr(raw, ".."))
			return 0;       /* "./": the root */
		return entry_fail(l, raw ? raw : "", why);
	}
	if (type == AE_IFDIR && !hardlink)
		return 0;       /* directories are implied; nothing is created */
	if (size < 0 || (uint64_t)size > ARC_LOAD_MAX_BYTES - l->total)
		return entry_fail(l, name, "declared size exceeds the archive size limit");
	hash = name_hash(l, name);
	if (find_hashed(l, name, hash) || (l->has_index && !strcmp(name, "index.json")) ||
	    (l->has_manifest && !strcmp(name, "manifest.json")))
		return entry_fail(l, name, "appears twice");
	if (hardlink) {
		alias = normalize(hardlink, &why);
		if (!alias)
			return entry_fail(l, name, "hardlink to an absolute name or with '..' refused");
	} else if (type == AE_IFLNK) {
		alias = symlink_target(name, archive_entry_symlink(e), &why);
		if (!alias)
			return entry_fail(l, name, why);
	} else if (type != AE_IFREG) {
		return entry_fail(l, name, "not a regular file, directory or link");
	} else if (!strcmp(name, "index.json")) {
		l->has_index = true;
		return read_small(l, name, &l->index);
	} else if (!strcmp(name, "manifest.json")) {
		l->has_manifest = true;
		return read_small(l, name, &l->manifest);
	} else if (legacy_ignored(name)) {
		return 0;       /* libarchive skips the data */
	}
	cn_xgrow((void **)&l->m, &l->cap, l->n + 1, sizeof(*l->m));
	m = &l->m[l->n++];
	memset(m, 0, sizeof(*m));
	m->name = CN_TAKE_PTR(name);
	m->alias = CN_TAKE_PTR(alias);
	m->hash = hash;
	index_add(l, l->n - 1);
	return m->alias ? 0 : ingest(l, m, size);
}

static int read_archive(struct loader *l, int in_fd)
{
	struct archive_entry *e;
	int r;
	l->ar = archive_read_new();
	if (!l->ar)
		return cn_err_errno(l->err, ENOMEM, "archive: cannot create a reader");
	/* Only these filters and only tar: nothing else of libarchive's
	 * (zip, cpio, iso9660, external programs) is reachable. */
	archive_read_support_filter_gzip(l->ar);
	archive_read_support_filter_zstd(l->ar);
	archive_read_support_filter_xz(l->ar);
	archive_read_support_filter_bzip2(l->ar);
	archive_read_support_format_tar(l->ar);
	if (archive_read_open_fd(l->ar, in_fd, LOAD_CHUNK) != ARCHIVE_OK)
		return ar_fail(l, NULL);
	while ((r = archive_read_next_header(l->ar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (read_entry(l, e) < 0)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return ar_fail(l, NULL);
	return 0;
}

/* ---- images ---- */

struct image {
	char manifest[CN_DIGEST_STR_SIZE];
	cn_strv tags;
};

struct images {
	struct image *v;
	size_t n, cap;
};

static void images_add(struct images *imgs, const char *manifest, char *tag)
{
	struct image *im = NULL;
	for (size_t i = 0; i < imgs->n; i++)
		if (!strcmp(imgs->v[i].manifest, manifest))
			im = &imgs->v[i];
	if (!im) {
		cn_xgrow((void **)&imgs->v, &imgs->cap, imgs->n + 1, sizeof(*imgs->v));
		im = &imgs->v[imgs->n++];
		memset(im, 0, sizeof(*im));
		snprintf(im->manifest, sizeof(im->manifest), "%s", manifest);
	}
	if (!tag)
		return;
	for (size_t i = 0; i < im->tags.n; i++) {
		if (!strcmp(im->tags.v[i], tag)) {
			free(tag);
			return;
		}
	}
	cn_strv_push(&im->tags, tag);
}

static void images_free(struct images *imgs)
{
	for (size_t i = 0; i < imgs->n; i++)
		cn_strv_free(&imgs->v[i].tags);
	free(imgs->v);
}

/* A name from outside as a cairn ref, in docker's short form
 * ("docker.io/library/busybox:latest" -> "busybox:latest"). */
static char *import_ref(struct loader *l, const char *where, const char *name)
{
	char *ref = store_ref_normalize(name, l->err);
	if (!ref)
		cn_err_wrap(l->err, "archive '%s': %s", l->arc, where);
	return ref;
}

static struct member *blob_member(struct loader *l, const char *digest)
{
	_cleanup_free_ char *name = NULL;
	if (!cn_digest_valid(digest))
		return NULL;
	name = cn_xasprintf("blobs/sha256/%s", cn_digest_hex(digest));
	return find(l, name);
}

static int load_json_member(struct loader *l, struct member *m, const char *what, json_t **out)
{
	_cleanup_buf_ cn_buf b;
	json_error_t je;
	cn_buf_init(&b, ARC_LOAD_MAX_JSON);
	if (m->size > ARC_LOAD_MAX_JSON)
		return cn_err_fail(l->err, CN_ERR_TOO_BIG, "archive '%s': %s \"%s\": larger than the limit "
				    "for JSON documents", l->arc, what, m->name);
	if (store_blob_get(l->st, m->digest, ARC_LOAD_MAX_JSON, &b, l->err) < 0)
		return cn_err_wrap(l->err, "archive '%s': %s \"%s\"", l->arc, what, m->name);
	*out = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': %s \"%s\": not a JSON object (%s)",
				    l->arc, what, m->name, je.text);
	}
	return 0;
}

/* Every blob an image manifest names must be in the archive. */
static int check_manifest_blobs(struct loader *l, struct member *mm)
{
	json_t *man = NULL, *layers, *v;
	const char *cfg;
	size_t i;
	int rc = -1;
	if (load_json_member(l, mm, "manifest", &man) < 0)
		return -1;
	cfg = json_string_value(json_object_get(json_object_get(man, "config"), "digest"));
	layers = json_object_get(man, "layers");
	if (!blob_member(l, cfg) || !json_is_array(layers)) {
		cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': manifest \"%s\": its config is missing "
			     "from the archive or it has no layers array", l->arc, mm->name);
		goto out;
	}
	json_array_foreach(layers, i, v) {
		const char *d = json_string_value(json_object_get(v, "digest"));
		if (!blob_member(l, d)) {
			cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': manifest \"%s\": layer %zu (%s) is "
				     "missing from the archive", l->arc, mm->name, i + 1, d ? d : "?");
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(man);
	return rc;
}

static const char *host_arch(void)
{
	const char *arch;
	cn_platform_host(NULL, &arch, NULL);
	return arch;
}

/* An index inside the layout: the manifest for this machine's platform. */
static const char *pick_platform(struct loader *l, struct member *im, json_t **keep)
{
	json_t *ms, *v;
	size_t i;
	if (load_json_member(l, im, "image index", keep) < 0)
		return NULL;
	ms = json_object_get(*keep, "manifests");
	json_array_foreach(ms, i, v) {
		json_t *p = json_object_get(v, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		if ((!p && json_array_size(ms) == 1) ||
		    (os && arch && !strcmp(os, "linux") && !strcmp(arch, host_arch())))
			return json_string_value(json_object_get(v, "digest"));
	}
	cn_err_fail(l->err, CN_ERR_NOT_FOUND, "archive '%s': image index \"%s\": no manifest for linux/%s",
		     l->arc, im->name, host_arch());
	return NULL;
}

static int oci_images(struct loader *l, struct images *imgs)
{
	json_error_t je;
	json_t *idx = json_loadb(l->index.data, l->index.len, JSON_REJECT_DUPLICATES, &je);
	json_t *ms = json_object_get(idx, "manifests"), *v;
	size_t i;
	int rc = -1;
	if (!json_is_object(idx) || !json_is_array(ms)) {
		cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': entry \"index.json\": not an image index (%s)",
			     l->arc, idx ? "no manifests array" : je.text);
		goto out;
	}
	json_array_foreach(ms, i, v) {
		const char *mt = json_string_value(json_object_get(v, "mediaType"));
		const char *d = json_string_value(json_object_get(v, "digest"));
		json_t *ann = json_object_get(v, "annotations"), *sub = NULL;
		const char *full = json_string_value(json_object_get(ann, "io.containerd.image.name"));
		const char *rn = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
		struct member *mm = blob_member(l, d);
		char *tag = NULL;
		if (!mm) {
			cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': entry \"index.json\": manifest %s is "
				     "missing from the archive", l->arc, d ? d : "?");
			goto out;
		}
		if (mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST))) {
			d = pick_platform(l, mm, &sub);
			mm = d ? blob_member(l, d) : NULL;
			if (!mm) {
				if (d)
					cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': manifest %s is missing "
						     "from the archive", l->arc, d);
				json_decref(sub);
				goto out;
			}
		}
		if (check_manifest_blobs(l, mm) < 0) {
			json_decref(sub);
			goto out;
		}
		/* A bare tag ("latest", as docker writes ref.name) names no image. */
		if (full)
			tag = import_ref(l, "index.json: io.containerd.image.name", full);
		else if (rn && (strchr(rn, ':') || strchr(rn, '/')))
			tag = import_ref(l, "index.json: org.opencontainers.image.ref.name", rn);
		if ((full || (rn && (strchr(rn, ':') || strchr(rn, '/')))) && !tag) {
			json_decref(sub);
			goto out;
		}
		images_add(imgs, mm->digest, tag);
		json_decref(sub);
	}
	rc = 0;
out:
	json_decref(idx);
	return rc;
}

/* A path manifest.json names: normalized, and an entry of the archive. */
static struct member *docker_path(struct loader *l, const char *path, const char *what)
{
	const char *why = NULL;
	_cleanup_free_ char *name = normalize(path, &why);
	struct member *m;
	if (!name) {
		cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': manifest.json: %s '%s': %s", l->arc, what,
			     path ? path : "", why);
		return NULL;
	}
	m = find(l, name);
	if (!m)
		cn_err_fail(l->err, CN_ERR_NOT_FOUND, "archive '%s': manifest.json: %s '%s' is not in the archive",
			     l->arc, what, name);
	return m;
}

static const char *layer_type(struct loader *l, const struct member *m)
{
	const unsigned char *p = m->magic;
	if (m->size >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	if (m->size >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	if ((m->size >= 3 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h') ||
	    (m->size >= 4 && p[0] == 0xfd && p[1] == '7' && p[2] == 'z' && p[3] == 'X')) {
		cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': layer \"%s\": bzip2 and xz layers are not "
			     "supported", l->arc, m->name);
		return NULL;
	}
	return "application/vnd.oci.image.layer.v1.tar";
}

/* docker archives carry no manifest: write an OCI one over the config (as
 * is) and the layers (media type from their first bytes). */
static int docker_image(struct loader *l, json_t *item, size_t idx, struct images *imgs)
{
	_cleanup_free_ char *text = NULL;
	json_t *layers = json_object_get(item, "Layers"), *tags = json_object_get(item, "RepoTags");
	json_t *cfg = NULL, *man = NULL, *jl, *v;
	struct member *cm;
	char digest[CN_DIGEST_STR_SIZE], what[64];
	size_t i;
	int rc = -1;

	snprintf(what, sizeof(what), "image %zu: Config", idx + 1);
	cm = docker_path(l, json_string_value(json_object_get(item, "Config")), what);
	if (!cm || load_json_member(l, cm, "config", &cfg) < 0)
		goto out;
	if (!json_is_array(layers) || (tags && !json_is_null(tags) && !json_is_array(tags))) {
		cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': manifest.json: image %zu: Layers or "
			     "RepoTags is not an array", l->arc, idx + 1);
		goto out;
	}
	if (json_array_size(layers) > STORE_MAX_LAYERS) {
		cn_err_fail(l->err, CN_ERR_TOO_BIG, "archive '%s': manifest.json: image %zu: more than %d layers",
			     l->arc, idx + 1, STORE_MAX_LAYERS);
		goto out;
	}
	jl = json_array();
	man = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
			MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", cm->digest,
			"size", (json_int_t)cm->size, "layers", jl);
	json_array_foreach(layers, i, v) {
		struct member *lm;
		const char *mt;
		snprintf(what, sizeof(what), "image %zu: layer %zu", idx + 1, i + 1);
		lm = docker_path(l, json_string_value(v), what);
		if (!lm || !(mt = layer_type(l, lm)))
			goto out;
		json_array_append_new(jl, json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest",
						    lm->digest, "size", (json_int_t)lm->size));
	}
	text = json_dumps(man, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text || store_blob_put(l->st, text, strlen(text), digest, l->err) < 0)
		goto out;
	if (json_array_size(tags) == 0)
		images_add(imgs, digest, NULL);
	json_array_foreach(tags, i, v) {
		char *tag;
		snprintf(what, sizeof(what), "manifest.json: image %zu: RepoTags", idx + 1);
		if (!json_is_string(v)) {
			cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': %s: not a string", l->arc, what);
			goto out;
		}
		tag = import_ref(l, what, json_string_value(v));
		if (!tag)
			goto out;
		images_add(imgs, digest, tag);
	}
	rc = 0;
out:
	json_decref(cfg);
	json_decref(man);
	return rc;
}

static int docker_images(struct loader *l, struct images *imgs)
{
	json_error_t je;
	json_t *doc = json_loadb(l->manifest.data, l->manifest.len, JSON_REJECT_DUPLICATES, &je), *v;
	size_t i;
	int rc = -1;
	if (!json_is_array(doc) || json_array_size(doc) == 0) {
		cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': entry \"manifest.json\": not a non-empty "
			     "array (%s)", l->arc, doc ? "wrong type" : je.text);
		goto out;
	}
	json_array_foreach(doc, i, v) {
		if (!json_is_object(v)) {
			cn_err_fail(l->err, CN_ERR_INVALID, "archive '%s': manifest.json: image %zu: not an "
				     "object", l->arc, i + 1);
			goto out;
		}
		if (docker_image(l, v, i, imgs) < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* Unpack each layer of the image (xfer_import then finds the snapshots),
 * so that an error names the archive entry the layer came from. */
static int unpack_layers(struct loader *l, const char *manifest)
{
	struct store_image img;
	int r = store_image_load(l->st, manifest, &img, l->err);
	if (r <= 0)
		return r < 0 ? -1 : cn_err_fail(l->err, CN_ERR_NOT_FOUND, "manifest %s is missing", manifest);
	for (size_t i = 0; i < img.nlayers && r > 0; i++) {
		const char *entry = "?";
		for (size_t k = 0; k < l->n; k++)
			if (!l->m[k].alias && !strcmp(l->m[k].digest, img.layers[i].digest))
				entry = l->m[k].name;
		/* The entry names the layer (its digest, in an OCI layout): the
		 * error says it once. */
		if (xfer_snapshot_layer_unnamed(l->st, &img.layers[i], l->err) < 0) {
			cn_err_wrap(l->err, "entry \"%s\"", entry);
			r = -1;
		}
	}
	store_image_free(&img);
	return r < 0 ? -1 : 0;
}

static bool strv_has(const cn_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->v[i], s))
			return true;
	return false;
}

/* Blobs this load brought into the store that no image it loaded uses (all
 * of them when it failed: IMGS NULL) are removed: a stray or refused entry
 * must not stay until prune. */
static void forget_unused(struct loader *l, const struct images *imgs)
{
	cn_strv used = { 0 };
	for (size_t i = 0; imgs && i < imgs->n; i++) {
		struct store_image img;
		cn_err e;
		cn_strv_push(&used, cn_xstrdup(imgs->v[i].manifest));
		if (store_image_load(l->st, imgs->v[i].manifest, &img, &e) <= 0)
			continue;
		cn_strv_push(&used, cn_xstrdup(img.config_digest));
		for (size_t k = 0; k < img.nlayers; k++)
			cn_strv_push(&used, cn_xstrdup(img.layers[k].digest));
		store_image_free(&img);
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->m[i].fresh && !strv_has(&used, l->m[i].digest))
			xfer_forget_blob(l->st, l->m[i].digest);
	cn_strv_free(&used);
}

int arc_load(struct store *st, int in_fd, const char *name, const char *cause,
	     struct arc_load_result *res, cn_err *err)
{
	struct loader l = { .st = st, .arc = name, .err = err };
	struct images imgs = { 0 };
	const struct images *keep = NULL;       /* NULL: nothing loaded stays */
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (getrandom(l.key, sizeof(l.key), 0) != (ssize_t)sizeof(l.key))
		return cn_err_sys(err, "getrandom");
	cn_buf_init(&l.index, ARC_LOAD_MAX_JSON);
	cn_buf_init(&l.manifest, ARC_LOAD_MAX_JSON);
	l.chunk = cn_xmalloc(LOAD_CHUNK);
	if (read_archive(&l, in_fd) < 0)
		goto out;
	/* The OCI part keeps the manifests' digests: prefer it. */
	if (l.has_index) {
		if (oci_images(&l, &imgs) < 0)
			goto out;
	} else if (l.has_manifest) {
		if (docker_images(&l, &imgs) < 0)
			goto out;
	} else {
		cn_err_fail(err, CN_ERR_INVALID, "archive '%s': neither index.json (OCI) nor manifest.json "
			     "(docker) found: not an image archive", name);
		goto out;
	}
	if (imgs.n == 0) {
		cn_err_fail(err, CN_ERR_INVALID, "archive '%s': no images in it", name);
		goto out;
	}
	/* Everything verified and unpacked before the first tag moves. */
	for (size_t i = 0; i < imgs.n; i++)
		if (unpack_layers(&l, imgs.v[i].manifest) < 0 ||
		    xfer_import(st, imgs.v[i].manifest, NULL, cause, false, err) < 0) {
			cn_err_wrap(err, "archive '%s'", name);
			goto out;
		}
	keep = &imgs;   /* from the first tag on, every image's blobs stay */
	for (size_t i = 0; i < imgs.n; i++)
		for (size_t k = 0; k < imgs.v[i].tags.n; k++)
			if (store_tag_set(st, imgs.v[i].tags.v[k], imgs.v[i].manifest,
					  store_blob_size(st, imgs.v[i].manifest), cause, err) < 0)
				goto out;
	res->images = cn_xcalloc(imgs.n, sizeof(*res->images));
	for (size_t i = 0; i < imgs.n; i++) {
		memcpy(res->images[i].manifest_digest, imgs.v[i].manifest, CN_DIGEST_STR_SIZE);
		res->images[i].tags = imgs.v[i].tags;
		memset(&imgs.v[i].tags, 0, sizeof(imgs.v[i].tags));
	}
	res->nimages = imgs.n;
	rc = 0;
out:
	forget_unused(&l, keep);
	images_free(&imgs);
	if (l.ar)
		archive_read_free(l.ar);
	for (size_t i = 0; i < l.n; i++) {
		free(l.m[i].name);
		free(l.m[i].alias);
	}
	free(l.m);
	free(l.slot);
	free(l.chunk);
	cn_buf_free(&l.index);
	cn_buf_free(&l.manifest);
	return rc;
}

void arc_load_result_free(struct arc_load_result *res)
{
	for (size_t i = 0; i < res->nimages; i++)
		cn_strv_free(&res->images[i].tags);
	free(res->images);
	res->images = NULL;
	res->nimages = 0;
}
