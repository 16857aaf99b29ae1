/* rcache/local: an OCI layout directory as a build-cache store. What users
 * notice: what one build writes, another reads back byte for byte (and
 * skopeo reads it too: t0816); a second tag leaves the first alone; a
 * corrupt blob is refused, never ingested; a symlink planted in a shared
 * directory is refused or replaced, never followed; a missing directory is
 * "not found".
 * With CAIRN_TEST_LAYOUT set, the first layout (tags v1 and v2) is written
 * there and left in place for t0816. */
#include "rcache/doc.h"
#include "rcache/local.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MT_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define BIG_LEN ((size_t)3 << 20)       /* past every chunk size: the copy loops run */

static char base[] = "/tmp/cairn-rclocal-XXXXXX";
static int base_fd = -1;
static cn_err err;

struct fixture {
	struct store st;                /* where the layers come from */
	struct store_layer layers[2];   /* a 3 MiB one, a small one */
	char *doc;                      /* the cache document (any bytes will do here) */
	char doc_digest[CN_DIGEST_STR_SIZE];
};

static void show_err(void)
{
	if (err.kind)
		printf("#   error: %s\n", err.msg);
}

static void open_store(const char *name, struct store *st)
{
	_cleanup_free_ char *root = cn_xasprintf("%s/%s", base, name);
	if (store_open(root, st, &err) < 0) {
		show_err();
		unit_fixture_fail("store_open");
	}
}

/* A layer blob of LEN pseudo-random bytes, streamed into the store. */
static void put_layer(struct store *st, size_t len, unsigned seed, struct store_layer *l)
{
	_cleanup_free_ unsigned char *data = cn_xmalloc(len);
	struct store_ingest in;
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (unsigned char)(seed >> 16);
	}
	memset(l, 0, sizeof(*l));
	cn_sha256_oneshot(data, len, l->digest);
	memcpy(l->diff_id, l->digest, sizeof(l->diff_id));
	l->size = len;
	snprintf(l->media_type, sizeof(l->media_type), MT_GZIP);
	if (store_ingest_begin(st, &in, &err) < 0 || cn_write_all(in.fd, data, len) < 0 ||
	    store_ingest_commit(&in, l->digest, &err) < 0)
		unit_fixture_fail("layer blob");
}

/* The cache manifest over LAYERS[0..N) with the document as config. */
static char *make_manifest(const struct fixture *f, size_t n, size_t *len)
{
	json_t *ls = json_array(), *m;
	char *text;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ls, json_pack("{s:s, s:s, s:I}", "mediaType", f->layers[i].media_type,
						    "digest", f->layers[i].digest, "size",
						    (json_int_t)f->layers[i].size));
	m = json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:I}, s:o, s:{s:s}}", "schemaVersion", 2, "mediaType",
		      "application/vnd.oci.image.manifest.v1+json", "artifactType", RC_ARTIFACT_TYPE, "config",
		      "mediaType", RC_DOC_MEDIA_TYPE, "digest", f->doc_digest, "size", (json_int_t)strlen(f->doc),
		      "layers", ls, "annotations", "org.cairn.buildcache.version", "1");
	if (!m || !(text = json_dumps(m, JSON_COMPACT)))
		unit_fixture_fail("manifest");
	json_decref(m);
	*len = strlen(text);
	return text;
}

static struct rc_local *open_local(const char *dir, const char *tag, const char *digest, bool write)
{
	struct rc_local *l = NULL;
	cn_err_clear(&err);
	if (rc_local_open(dir, tag, digest, write, &l, &err) < 0) {
		show_err();
		return NULL;
	}
	return l;
}

/* A whole export: layers, document, manifest under TAG. */
static int export(struct fixture *f, const char *dir, const char *tag, size_t nlayers,
		  char digest[CN_DIGEST_STR_SIZE], uint64_t *bytes_out)
{
	struct rc_local *l = open_local(dir, tag, NULL, true);
	_cleanup_free_ char *m = NULL;
	size_t len;
	int r = -1;
	if (!l)
		return -1;
	m = make_manifest(f, nlayers, &len);
	cn_sha256_oneshot(m, len, digest);
	cn_err_clear(&err);
	if (rc_local_lock(l, &err) == 0 &&
	    rc_local_push_layers(l, &f->st, f->layers, nlayers, &err) == 0 &&
	    rc_local_put_blob(l, f->doc, strlen(f->doc), f->doc_digest, &err) == 0 &&
	    rc_local_put_manifest(l, m, len, &err) == 0)
		r = 0;
	show_err();
	if (bytes_out)
		*bytes_out = rc_local_bytes_out(l);
	rc_local_close(l);
	return r;
}

/* The manifest under TAG (and DIGEST) in DIR: 1/0/-1 as rc_local_get_manifest. */
static int import_manifest(const char *dir, const char *tag, const char *pin, cn_buf *body,
			   char digest[CN_DIGEST_STR_SIZE])
{
	struct rc_local *l = open_local(dir, tag, pin, false);
	int r;
	if (!l)
		return -1;
	cn_buf_reset(body);
	cn_err_clear(&err);
	r = rc_local_get_manifest(l, body, digest, &err);
	rc_local_close(l);
	return r;
}

static size_t index_entries(const char *dir)
{
	_cleanup_free_ char *p = cn_xasprintf("%s/index.json", dir);
	json_t *idx = json_load_file(p, 0, NULL);
	size_t n = json_array_size(json_object_get(idx, "manifests"));
	json_decref(idx);
	return n;
}

static char *blob_path(const char *dir, const char *digest)
{
	return cn_xasprintf("%s/blobs/sha256/%s", dir, cn_digest_hex(digest));
}

/* ---- the round trip ---- */

static void test_round_trip(struct fixture *f, const char *dir)
{
	char wrote[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE] = "";
	_cleanup_buf_ cn_buf body;
	_cleanup_free_ char *m = NULL;
	size_t len;
	uint64_t out = 0, want = f->layers[0].size + f->layers[1].size + strlen(f->doc);
	struct rc_local *l;
	struct store st2;
	_cleanup_free_ char *layout = cn_xasprintf("%s/oci-layout", dir);

	cn_buf_init(&body, 0);
	UNIT_CHECK(export(f, dir, "v1", 2, wrote, &out) == 0, "export: layers, document and manifest into a new dir");
	m = make_manifest(f, 2, &len);
	UNIT_CHECK(out == want + len, "bytes_out counts the blobs written (%llu)", (unsigned long long)out);
	{
		_cleanup_buf_ cn_buf b;
		cn_buf_init(&b, 0);
		UNIT_CHECK(cn_read_file_at(AT_FDCWD, layout, 4096, &b, &err) == 0 &&
			   strcmp(b.data, "{\"imageLayoutVersion\":\"1.0.0\"}") == 0, "oci-layout is written");
	}
	UNIT_CHECK(index_entries(dir) == 1, "index.json has one entry");

	UNIT_CHECK(export(f, dir, "v1", 2, wrote, &out) == 0 && out == 0,
		   "the same export again copies nothing (%llu bytes)", (unsigned long long)out);

	UNIT_CHECK(import_manifest(dir, "v1", NULL, &body, got) == 1, "the manifest is found by its tag");
	UNIT_CHECK(body.len == len && memcmp(body.data, m, len) == 0, "... byte for byte");
	UNIT_STREQ(got, wrote, "... with its digest");
	UNIT_CHECK(import_manifest(dir, "other", wrote, &body, got) == 1 && body.len == len,
		   "a pinned digest finds it whatever the tag");
	UNIT_CHECK(import_manifest(dir, NULL, wrote, &body, got) == 1 && strcmp(got, wrote) == 0,
		   "... or with none");
	cn_err_clear(&err);
	UNIT_CHECK(!open_local(dir, NULL, NULL, false) && cn_err_is(&err, CN_ERR_INVALID),
		   "no tag and no digest is refused");
	{
		char none[CN_DIGEST_STR_SIZE];
		cn_sha256_oneshot("x", 1, none);
		UNIT_CHECK(import_manifest(dir, "v1", none, &body, got) == 0, "a pinned digest DIR lacks: none");
	}
	UNIT_CHECK(import_manifest(dir, "nope", NULL, &body, got) == 0, "an unknown tag: none");

	l = open_local(dir, "v1", NULL, false);
	UNIT_CHECK(l != NULL, "open for reading");
	if (!l)
		return;
	cn_buf_reset(&body);
	UNIT_CHECK(rc_local_get_blob(l, f->doc_digest, 1 << 20, &body, &err) == 0 &&
		   strcmp(body.data, f->doc) == 0, "the document blob reads back");
	cn_buf_reset(&body);
	UNIT_CHECK(rc_local_get_blob(l, f->layers[0].digest, 1024, &body, &err) < 0 &&
		   cn_err_is(&err, CN_ERR_TOO_BIG), "get_blob keeps to its bound: %s", err.msg);
	UNIT_CHECK(rc_local_has_blob(l, f->layers[0].digest, &err) == 1, "has_blob: a layer is there");
	UNIT_CHECK(rc_local_has_blob(l, got, &err) == 1, "has_blob: the manifest too");
	{
		char none[CN_DIGEST_STR_SIZE];
		cn_sha256_oneshot("y", 1, none);
		UNIT_CHECK(rc_local_has_blob(l, none, &err) == 0, "has_blob: an absent blob");
		cn_err_clear(&err);
		UNIT_CHECK(rc_local_get_blob(l, none, 100, &body, &err) < 0 && cn_err_is(&err, CN_ERR_NOT_FOUND),
			   "get_blob of an absent blob: not found");
	}
	cn_err_clear(&err);
	UNIT_CHECK(rc_local_put_blob(l, "x", 1, f->doc_digest, &err) < 0, "a reader cannot write");

	open_store("store2", &st2);
	cn_err_clear(&err);
	UNIT_CHECK(rc_local_fetch_layer(l, &st2, &f->layers[0], &err) == 0 &&
		   rc_local_fetch_layer(l, &st2, &f->layers[1], &err) == 0, "fetch_layer into another store");
	show_err();
	UNIT_CHECK(store_blob_size(&st2, f->layers[0].digest) == f->layers[0].size &&
		   store_blob_size(&st2, f->layers[1].digest) == f->layers[1].size, "... both blobs are there");
	{
		_cleanup_buf_ cn_buf b;
		cn_buf_init(&b, 0);
		UNIT_CHECK(store_blob_get(&st2, f->layers[0].digest, BIG_LEN, &b, &err) == 0, "... and verify");
	}
	{
		uint64_t in = rc_local_bytes_in(l);
		UNIT_CHECK(rc_local_fetch_layer(l, &st2, &f->layers[0], &err) == 0 && rc_local_bytes_in(l) == in,
			   "a blob the store has is not fetched again");
	}
	store_close(&st2);
	rc_local_close(l);
}

/* A second tag, then the first one replaced: the other stays. */
static void test_tags(struct fixture *f, const char *dir)
{
	char d1[CN_DIGEST_STR_SIZE], d2[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE];
	_cleanup_buf_ cn_buf body;
	_cleanup_free_ char *idx = cn_xasprintf("%s/index.json", dir);
	cn_buf_init(&body, 0);
	UNIT_CHECK(export(f, dir, "v2", 1, d2, NULL) == 0, "a second tag");
	UNIT_CHECK(index_entries(dir) == 2, "index.json has two entries");
	UNIT_CHECK(import_manifest(dir, "v1", NULL, &body, got) == 1 && strcmp(got, d2) != 0, "v1 is unchanged");
	UNIT_CHECK(import_manifest(dir, "v2", NULL, &body, got) == 1 && strcmp(got, d2) == 0, "v2 is the new one");
	/* v1 again, now over one layer: the v2 manifest. */
	UNIT_CHECK(export(f, dir, "v1", 1, d1, NULL) == 0, "v1 replaced");
	UNIT_CHECK(index_entries(dir) == 2, "index.json still has two entries");
	UNIT_CHECK(import_manifest(dir, "v1", NULL, &body, got) == 1 && strcmp(got, d1) == 0, "v1 is the new one");
	UNIT_CHECK(import_manifest(dir, "v2", NULL, &body, got) == 1 && strcmp(got, d2) == 0, "v2 is kept");
	/* Back to two layers, so that t0816 finds v1 with both. */
	UNIT_CHECK(export(f, dir, "v1", 2, d1, NULL) == 0 && index_entries(dir) == 2, "v1 with both layers again");
	{
		_cleanup_buf_ cn_buf b;
		cn_buf_init(&b, 0);
		UNIT_CHECK(cn_read_file_at(AT_FDCWD, idx, 1 << 20, &b, &err) == 0 &&
			   strstr(b.data, "\"org.opencontainers.image.ref.name\":\"v2\"") &&
			   strstr(b.data, "\"schemaVersion\":2"), "index.json is an OCI index naming the tags");
	}
}

/* ---- hostile directories ---- */

static void flip_byte(const char *path)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, "\xff", 1, 10) != 1)
		unit_fixture_fail("corrupt blob");
	close(fd);
}

static void test_corrupt(struct fixture *f, const char *dir)
{
	char d[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *small = blob_path(dir, f->layers[1].digest);
	_cleanup_free_ char *big = blob_path(dir, f->layers[0].digest);
	_cleanup_free_ char *idx = cn_xasprintf("%s/index.json", dir);
	_cleanup_buf_ cn_buf body;
	struct rc_local *l;
	struct store st3;
	cn_buf_init(&body, 0);
	if (export(f, dir, "c", 2, d, NULL) < 0)
		unit_fixture_fail("export for the corruption cases");
	flip_byte(small);
	flip_byte(big);
	open_store("store3", &st3);
	l = open_local(dir, "c", NULL, false);
	if (!l)
		unit_fixture_fail("open");
	cn_err_clear(&err);
	UNIT_CHECK(rc_local_get_blob(l, f->layers[1].digest, 1 << 20, &body, &err) < 0 &&
		   cn_err_is(&err, CN_ERR_CORRUPT) && strstr(err.msg, small), "get_blob refuses a corrupt blob: %s",
		   err.msg);
	cn_err_clear(&err);
	UNIT_CHECK(rc_local_fetch_layer(l, &st3, &f->layers[0], &err) < 0 && cn_err_is(&err, CN_ERR_CORRUPT),
		   "fetch_layer refuses a corrupt blob: %s", err.msg);
	UNIT_CHECK(!store_blob_exists(&st3, f->layers[0].digest), "... and the store does not get it");
	UNIT_CHECK(unit_count_entries(st3.tmp_fd, ".") == 0, "... nor a leftover in its tmp/");
	if (truncate(small, 5) < 0)
		unit_fixture_fail("truncate");
	cn_err_clear(&err);
	UNIT_CHECK(rc_local_fetch_layer(l, &st3, &f->layers[1], &err) < 0 && cn_err_is(&err, CN_ERR_CORRUPT),
		   "fetch_layer refuses a blob of the wrong size: %s", err.msg);
	rc_local_close(l);

	/* An export repairs them: a wrong size is rewritten (a right size with
	 * wrong bytes is trusted by size, as a registry's HEAD would be). */
	UNIT_CHECK(export(f, dir, "c", 2, d, NULL) == 0, "a new export over the damaged blobs");
	l = open_local(dir, "c", NULL, false);
	UNIT_CHECK(l && rc_local_fetch_layer(l, &st3, &f->layers[1], &err) == 0, "the short blob was rewritten");
	rc_local_close(l);

	/* A corrupt manifest blob, a corrupt index.json. */
	{
		_cleanup_free_ char *mp = blob_path(dir, d);
		flip_byte(mp);
		UNIT_CHECK(import_manifest(dir, "c", NULL, &body, got) < 0 && cn_err_is(&err, CN_ERR_CORRUPT),
			   "a corrupt manifest is refused: %s", err.msg);
	}
	unit_put(AT_FDCWD, idx, "{\"manifests\": [", 0644);
	UNIT_CHECK(import_manifest(dir, "c", NULL, &body, got) < 0 && strstr(err.msg, idx),
		   "a corrupt index.json is refused, named: %s", err.msg);
	UNIT_CHECK(export(f, dir, "c", 2, d, NULL) < 0 && strstr(err.msg, "index.json"),
		   "an export does not overwrite an index.json it cannot read");
	unit_put(AT_FDCWD, idx, "{\"manifests\": [{\"digest\": \"sha256:../../etc\", \"size\": 1, "
		 "\"annotations\": {\"org.opencontainers.image.ref.name\": \"c\"}}]}", 0644);
	UNIT_CHECK(import_manifest(dir, "c", NULL, &body, got) < 0 && cn_err_is(&err, CN_ERR_CORRUPT),
		   "an entry with a bad digest is refused: %s", err.msg);
	store_close(&st3);
}

static void test_symlinks(struct fixture *f, const char *dir)
{
	char d[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *small = blob_path(dir, f->layers[1].digest);
	_cleanup_free_ char *idx = cn_xasprintf("%s/index.json", dir);
	_cleanup_free_ char *outside = cn_xasprintf("%s/outside-blob", base);
	_cleanup_free_ char *outside_idx = cn_xasprintf("%s/outside-index.json", base);
	_cleanup_free_ char *dir2 = cn_xasprintf("%s/linked-blobs", base);
	_cleanup_free_ char *ptr = NULL;
	_cleanup_buf_ cn_buf body, good;
	struct rc_local *l;
	struct store st4;
	struct stat sb;
	cn_buf_init(&body, 0);
	cn_buf_init(&good, 0);
	if (export(f, dir, "s", 2, d, NULL) < 0)
		unit_fixture_fail("export for the symlink cases");

	/* The blob moved outside (right bytes) and a symlink in its place. */
	if (rename(small, outside) < 0 || symlink(outside, small) < 0)
		unit_fixture_fail("plant blob symlink");
	open_store("store4", &st4);
	l = open_local(dir, "s", NULL, false);
	if (!l)
		unit_fixture_fail("open");
	cn_err_clear(&err);
	UNIT_CHECK(rc_local_get_blob(l, f->layers[1].digest, 1 << 20, &body, &err) < 0 &&
		   strstr(err.msg, "symbolic link"), "get_blob does not follow a symlinked blob: %s", err.msg);
	cn_err_clear(&err);
	UNIT_CHECK(rc_local_fetch_layer(l, &st4, &f->layers[1], &err) < 0 && !store_blob_exists(&st4, f->layers[1].digest),
		   "fetch_layer does not follow it either: %s", err.msg);
	UNIT_CHECK(rc_local_has_blob(l, f->layers[1].digest, &err) == 0, "has_blob: a symlink is no blob");
	rc_local_close(l);
	/* An export replaces the link with the blob; the outside file is untouched. */
	UNIT_CHECK(export(f, dir, "s", 2, d, NULL) == 0 && lstat(small, &sb) == 0 && S_ISREG(sb.st_mode),
		   "push_layers replaces a planted symlink with the blob");
	{
		char h[CN_DIGEST_STR_SIZE] = "";
		if (cn_read_file_at(AT_FDCWD, outside, 1 << 20, &good, &err) == 0)
			cn_sha256_oneshot(good.data, good.len, h);
		UNIT_STREQ(h, f->layers[1].digest, "... and the file it pointed at is untouched");
	}

	/* index.json as a symlink to a valid index outside. */
	if (rename(idx, outside_idx) < 0 || symlink(outside_idx, idx) < 0)
		unit_fixture_fail("plant index symlink");
	UNIT_CHECK(import_manifest(dir, "s", NULL, &body, got) < 0 && strstr(err.msg, "symbolic link"),
		   "a symlinked index.json is refused: %s", err.msg);
	{
		_cleanup_buf_ cn_buf before, after;
		cn_buf_init(&before, 0);
		cn_buf_init(&after, 0);
		if (cn_read_file_at(AT_FDCWD, outside_idx, 1 << 20, &before, &err) < 0)
			unit_fixture_fail("read outside index");
		UNIT_CHECK(export(f, dir, "s2", 1, d, NULL) < 0, "an export refuses it too (the old tags are unreadable)");
		UNIT_CHECK(cn_read_file_at(AT_FDCWD, outside_idx, 1 << 20, &after, &err) == 0 &&
			   before.len == after.len && memcmp(before.data, after.data, before.len) == 0,
			   "... and never writes through it");
	}

	/* blobs/ itself a symlink to a directory outside. */
	if (mkdir(dir2, 0755) < 0)
		unit_fixture_fail("mkdir");
	ptr = cn_xasprintf("%s/blobs", dir2);
	{
		/* DIR2/blobs -> DIR/blobs: DIR2/blobs/sha256 would resolve into DIR. */
		_cleanup_free_ char *target = cn_xasprintf("%s/blobs", dir);
		if (symlink(target, ptr) < 0)
			unit_fixture_fail("blobs symlink");
	}
	cn_err_clear(&err);
	UNIT_CHECK(!open_local(dir2, "s", NULL, false) && strstr(err.msg, "symbolic link"),
		   "a reader refuses blobs/ as a symlink: %s", err.msg);
	cn_err_clear(&err);
	UNIT_CHECK(!open_local(dir2, "s", NULL, true) && strstr(err.msg, "symbolic link"),
		   "a writer too: %s", err.msg);

	/* A FIFO where a blob should be: refused, no hang. */
	unlink(small);
	if (mkfifo(small, 0644) < 0)
		unit_fixture_fail("mkfifo");
	l = open_local(dir, "s", NULL, false);
	cn_err_clear(&err);
	UNIT_CHECK(l && rc_local_get_blob(l, f->layers[1].digest, 1 << 20, &body, &err) < 0 &&
		   strstr(err.msg, "not a regular file"), "a FIFO as a blob is refused: %s", err.msg);
	rc_local_close(l);
	store_close(&st4);
}

static void test_missing_and_lock(struct fixture *f)
{
	_cleanup_free_ char *missing = cn_xasprintf("%s/no/such/dir", base);
	_cleanup_free_ char *empty = cn_xasprintf("%s/empty", base);
	_cleanup_free_ char *locked = cn_xasprintf("%s/locked", base);
	_cleanup_free_ char *lockfile = cn_xasprintf("%s/.cairn-cache.lock", locked);
	_cleanup_buf_ cn_buf body;
	char d[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE];
	struct rc_local *l;
	int fd;
	cn_buf_init(&body, 0);

	cn_err_clear(&err);
	UNIT_CHECK(!open_local(missing, "t", NULL, false) && cn_err_is(&err, CN_ERR_NOT_FOUND) &&
		   strstr(err.msg, missing), "a missing directory to read from: not found, named: %s", err.msg);
	if (mkdir(empty, 0755) < 0)
		unit_fixture_fail("mkdir");
	UNIT_CHECK(import_manifest(empty, "t", NULL, &body, got) == 0, "an empty directory holds no cache");

	l = open_local(locked, "t", NULL, true);
	UNIT_CHECK(l && rc_local_lock(l, &err) == 0, "rc_local_lock");
	fd = open(lockfile, O_RDWR | O_CLOEXEC);
	UNIT_CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK,
		   "another writer cannot take the lock meanwhile");
	rc_local_unlock(l);
	UNIT_CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "after unlock it can");
	cn_err_clear(&err);
	/* put_manifest takes the lock itself and so waits for FD's. */
	flock(fd, LOCK_UN);
	close(fd);
	rc_local_close(l);
	UNIT_CHECK(export(f, locked, "t", 1, d, NULL) == 0, "an export into the locked-then-free dir");

	/* A killed writer's temp files: old ones are swept, new ones kept. */
	{
		_cleanup_free_ char *old = cn_xasprintf("%s/blobs/sha256/.tmp-0123456789abcdef", locked);
		_cleanup_free_ char *fresh = cn_xasprintf("%s/blobs/sha256/.tmp-fedcba9876543210", locked);
		struct timeval tv[2] = { { .tv_sec = time(NULL) - 7200 }, { .tv_sec = time(NULL) - 7200 } };
		unit_put(AT_FDCWD, old, "partial", 0644);
		unit_put(AT_FDCWD, fresh, "partial", 0644);
		if (utimes(old, tv) < 0)
			unit_fixture_fail("utimes");
		l = open_local(locked, "t", NULL, true);
		UNIT_CHECK(!unit_exists(AT_FDCWD, old) && unit_exists(AT_FDCWD, fresh),
			   "opening for writing removes an old temp, keeps a fresh one");
		rc_local_close(l);
	}
}

int main(void)
{
	struct fixture f;
	const char *keep = getenv("CAIRN_TEST_LAYOUT");
	_cleanup_free_ char *dir = NULL, *evil = NULL, *evil2 = NULL;
	base_fd = unit_tmpdir(base);
	open_store("store", &f.st);
	put_layer(&f.st, BIG_LEN, 1, &f.layers[0]);
	put_layer(&f.st, 1000, 2, &f.layers[1]);
	f.doc = cn_xstrdup("{\"records\":[],\"states\":[]}");
	cn_sha256_oneshot(f.doc, strlen(f.doc), f.doc_digest);

	/* mkdir -p: two levels that do not exist yet. */
	dir = keep && *keep ? cn_xstrdup(keep) : cn_xasprintf("%s/a/b/layout", base);
	evil = cn_xasprintf("%s/evil", base);
	evil2 = cn_xasprintf("%s/evil2", base);
	test_round_trip(&f, dir);
	test_tags(&f, dir);
	test_corrupt(&f, evil);
	test_symlinks(&f, evil2);
	test_missing_and_lock(&f);

	store_close(&f.st);
	free(f.doc);
	close(base_fd);
	unit_rmtree(base);
	return UNIT_DONE();
}
