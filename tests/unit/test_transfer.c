/* transfer/import: the step from "blobs in the store" (after a pull or a
 * load) to "an image users can run". What users notice: an image whose
 * layer does not hold what its config says is refused and no tag moves; a
 * missing, short or corrupt layer blob is refused the same way; a good one
 * is unpacked and tagged. The same holds for a layer unpacked while its
 * blob is written (xfer_stream, what pull does), and whatever such an
 * unpacking stops on leaves nothing behind. */
#include "store/image.h"
#include "store/store.h"
#include "transfer/import.h"
#include "util/interrupt.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_TAR_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

static char base[] = "/tmp/cairn-transfer-XXXXXX";
static cn_err err;

/* A plain tar holding app/ and app/hello.txt ("hi\n") as a blob in ST;
 * uncompressed, so its digest is also its diff_id. */
static void put_tar_layer(struct store *st, const char *text, struct store_layer *l)
{
	static char buf[16384];
	size_t used = 0;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_memory(a, buf, sizeof(buf), &used) != ARCHIVE_OK)
		unit_fixture_fail("tar writer");
	archive_entry_set_pathname(e, "app/");
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		unit_fixture_fail("tar: app/");
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "app/hello.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (int64_t)strlen(text));
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, text, strlen(text)) != (la_ssize_t)strlen(text) ||
	    archive_write_close(a) != ARCHIVE_OK)
		unit_fixture_fail("tar: app/hello.txt");
	archive_entry_free(e);
	archive_write_free(a);
	memset(l, 0, sizeof(*l));
	if (store_blob_put(st, buf, used, l->digest, &err) < 0)
		unit_fixture_fail("layer blob");
	memcpy(l->diff_id, l->digest, sizeof(l->diff_id));
	l->size = used;
	snprintf(l->media_type, sizeof(l->media_type), MT_TAR);
}

/* A manifest and config over the one layer L (as a registry or an archive
 * would hand them over); its digest in MANIFEST. Nothing is tagged. */
static void put_image(struct store *st, const struct store_layer *l, char manifest[CN_DIGEST_STR_SIZE])
{
	struct store_image img;
	json_t *config = json_pack("{s:s, s:s, s:{s:s, s:[s]}}", "architecture", "amd64", "os", "linux",
				   "rootfs", "type", "layers", "diff_ids", l->diff_id);
	if (!config || store_image_write(st, config, l, 1, NULL, &img, &err) < 0)
		unit_fixture_fail("image");
	memcpy(manifest, img.manifest_digest, CN_DIGEST_STR_SIZE);
	json_decref(config);
	store_image_free(&img);
}

static int import(struct store *st, const char *manifest, const char *ref)
{
	cn_err_clear(&err);
	return xfer_import(st, manifest, ref, "pull", false, &err);
}

/* REF still names WANT (or nothing, when WANT is NULL). */
static bool tag_is(struct store *st, const char *ref, const char *want)
{
	char d[CN_DIGEST_STR_SIZE];
	int r = store_tag_get(st, ref, d, &err);
	return want ? r == 1 && !strcmp(d, want) : r == 0;
}

static void test_good(struct store *st)
{
	struct store_layer l;
	char m[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *snap = NULL, *hello = NULL;
	_cleanup_free_ struct store_tag_event *ev = NULL;
	size_t n = 0;
	int r;
	put_tar_layer(st, "hi\n", &l);
	put_image(st, &l, m);
	r = import(st, m, "good:1");
	UNIT_CHECK(r == 0, "import of a sound image: %s", r ? err.msg : "ok");
	UNIT_CHECK(tag_is(st, "good:1", m), "it is tagged good:1");
	UNIT_CHECK(store_snapshot_exists(st, l.diff_id), "its layer is unpacked (a snapshot under its diff_id)");
	snap = store_snapshot_path(st, l.diff_id);
	hello = cn_xasprintf("%s/app/hello.txt", snap);
	UNIT_STREQ(unit_slurp(AT_FDCWD, hello), "hi\n", "the snapshot holds the layer's file");
	UNIT_CHECK(store_taglog_read(st, "good:1", &ev, &n, NULL, &err) == 0 && n == 1 &&
		   !strcmp(ev[0].cause, "pull"), "the tag log says why: pull");
	r = import(st, m, "good:1");
	UNIT_CHECK(r == 0 && tag_is(st, "good:1", m), "importing it again is harmless: %s", r ? err.msg : "ok");
	r = import(st, m, NULL);
	UNIT_CHECK(r == 0, "import without a ref checks and unpacks only: %s", r ? err.msg : "ok");
}

static void test_diff_id_mismatch(struct store *st)
{
	struct store_layer good, bad;
	char gm[CN_DIGEST_STR_SIZE], bm[CN_DIGEST_STR_SIZE], lie[CN_DIGEST_STR_SIZE];
	int r;
	/* app:1 is a sound image; then a "new version" arrives whose config
	 * claims another uncompressed content than its layer has. */
	put_tar_layer(st, "version 1\n", &good);
	put_image(st, &good, gm);
	if (import(st, gm, "app:1") < 0)
		unit_fixture_fail("app:1");
	put_tar_layer(st, "version 2\n", &bad);
	cn_sha256_oneshot("something else", 14, lie);
	memcpy(bad.diff_id, lie, sizeof(bad.diff_id));
	put_image(st, &bad, bm);

	r = import(st, bm, "app:1");
	UNIT_CHECK(r < 0, "an image whose layer diff_id does not match its uncompressed content is refused");
	UNIT_CHECK(r < 0 && strstr(err.msg, "uncompressed content hashes to") && strstr(err.msg, lie) &&
		   strstr(err.msg, bad.digest), "... the message names the layer and both digests: %s", err.msg);
	UNIT_CHECK(cn_err_is(&err, CN_ERR_CORRUPT), "... as corrupt content (kind %d)", err.kind);
	UNIT_CHECK(tag_is(st, "app:1", gm), "... and app:1 still names the previous image");
	UNIT_CHECK(import(st, bm, "fresh:1") < 0 && tag_is(st, "fresh:1", NULL), "... and a new tag is not created");
	UNIT_CHECK(!store_snapshot_exists(st, lie) && !store_snapshot_exists(st, bad.digest),
		   "... and no snapshot is published for it, under either digest");
	UNIT_CHECK(unit_count_entries(st->tmp_fd, ".") == 0, "... and nothing is left in the store's tmp/");
}

static void test_bad_blobs(struct store *st)
{
	struct store_layer l;
	char m[CN_DIGEST_STR_SIZE];
	int fd, r;

	/* A manifest naming a layer blob the store does not have. */
	put_tar_layer(st, "a real layer\n", &l);
	cn_sha256_oneshot("absent", 6, l.digest);
	memcpy(l.diff_id, l.digest, sizeof(l.diff_id));
	put_image(st, &l, m);
	r = import(st, m, "missing:1");
	UNIT_CHECK(r < 0 && strstr(err.msg, "layer 1") && strstr(err.msg, "is missing") &&
		   cn_err_is(&err, CN_ERR_NOT_FOUND), "a missing layer blob is refused, named: %s", err.msg);
	UNIT_CHECK(tag_is(st, "missing:1", NULL), "... and nothing is tagged");

	/* The manifest's size for the layer is not the blob's. */
	put_tar_layer(st, "sized\n", &l);
	l.size += 1;
	put_image(st, &l, m);
	r = import(st, m, "short:1");
	UNIT_CHECK(r < 0 && strstr(err.msg, "the manifest says") && cn_err_is(&err, CN_ERR_CORRUPT),
		   "a layer blob of another size than the manifest's is refused: %s", err.msg);
	UNIT_CHECK(tag_is(st, "short:1", NULL), "... and nothing is tagged");

	/* A layer blob damaged in the store (same size, one byte of the file's
	 * data changed: after the two 512-byte headers). */
	put_tar_layer(st, "damaged\n", &l);
	put_image(st, &l, m);
	fd = openat(st->blobs_fd, cn_digest_hex(l.digest), O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, "X", 1, 1024) != 1)
		unit_fixture_fail("damage the blob");
	close(fd);
	r = import(st, m, "damaged:1");
	UNIT_CHECK(r < 0 && strstr(err.msg, "blob content hashes to") && cn_err_is(&err, CN_ERR_CORRUPT),
		   "a layer blob whose bytes do not hash to its digest is refused: %s", err.msg);
	UNIT_CHECK(tag_is(st, "damaged:1", NULL) && !store_snapshot_exists(st, l.diff_id),
		   "... and nothing is tagged or unpacked");

	cn_sha256_oneshot("no manifest", 11, m);
	r = import(st, m, "ghost:1");
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_NOT_FOUND) && tag_is(st, "ghost:1", NULL),
		   "a manifest that is not in the store: not found, nothing tagged: %s", err.msg);
	UNIT_CHECK(unit_count_entries(st->tmp_fd, ".") == 0, "no refusal leaves anything in the store's tmp/");
}

/* Issue 14 finding 1: a snapshot for D exists (from a sound image); an
 * image whose config claims D but whose blob holds other content must not
 * borrow that snapshot: the blob is hashed anyway and refused. */
static void test_existing_snapshot_claimed(struct store *st)
{
	struct store_layer good, bad;
	char gm[CN_DIGEST_STR_SIZE], bm[CN_DIGEST_STR_SIZE];
	int r;
	put_tar_layer(st, "trusted\n", &good);
	put_image(st, &good, gm);
	if (import(st, gm, "base:1") < 0 || !store_snapshot_exists(st, good.diff_id))
		unit_fixture_fail("base:1");
	put_tar_layer(st, "evil\n", &bad);
	memcpy(bad.diff_id, good.diff_id, sizeof(bad.diff_id));
	put_image(st, &bad, bm);

	r = import(st, bm, "evil:1");
	UNIT_CHECK(r < 0, "an image claiming an existing snapshot's diff_id with other content is refused");
	UNIT_CHECK(r < 0 && strstr(err.msg, bad.digest) && strstr(err.msg, good.diff_id),
		   "... the message names the layer and the claimed diff_id: %s", r < 0 ? err.msg : "ok");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_CORRUPT), "... as corrupt content (kind %d)", err.kind);
	UNIT_CHECK(tag_is(st, "evil:1", NULL), "... and nothing is tagged");
	UNIT_CHECK(import(st, gm, "base:2") == 0 && tag_is(st, "base:2", gm),
		   "... while the sound image still imports: %s", err.msg);
	UNIT_CHECK(import(st, bm, "evil:1") < 0 && tag_is(st, "evil:1", NULL),
		   "... and a second attempt is refused again");
}


/* ---- unpacked while written (xfer_stream) ---- */

/* A gzip tar layer in memory: app/hello.txt holding TEXT, app/big (1 MiB,
 * so that the unpacker reads many times and starts writeback), and NAME
 * (a file holding "x") when NAME is not NULL. L gets its digests. */
static unsigned char *gzip_layer(const char *text, const char *name, size_t *len, struct store_layer *l)
{
	size_t cap = 4u << 20, used = 0, big = 1u << 20;
	unsigned char *buf = cn_xmalloc(cap);
	_cleanup_free_ unsigned char *data = cn_xmalloc(big);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct archive *t = archive_write_new();
	size_t tused = 0;
	_cleanup_free_ unsigned char *tar = cn_xmalloc(cap);
	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	/* The same entries twice: plain (for diff_id) and gzipped (the blob). */
	for (int pass = 0; pass < 2; pass++) {
		struct archive *w = pass ? a : t;
		if (archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
		    (pass && archive_write_add_filter_gzip(w) != ARCHIVE_OK) ||
		    archive_write_open_memory(w, pass ? buf : tar, cap, pass ? &used : &tused) != ARCHIVE_OK)
			unit_fixture_fail("tar writer");
		archive_entry_clear(e);
		archive_entry_set_pathname(e, "app/");
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, 0755);
		if (archive_write_header(w, e) != ARCHIVE_OK)
			unit_fixture_fail("tar: app/");
		archive_entry_clear(e);
		archive_entry_set_pathname(e, "app/hello.txt");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (int64_t)strlen(text));
		if (archive_write_header(w, e) != ARCHIVE_OK ||
		    archive_write_data(w, text, strlen(text)) != (la_ssize_t)strlen(text))
			unit_fixture_fail("tar: app/hello.txt");
		archive_entry_clear(e);
		archive_entry_set_pathname(e, "app/big");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (int64_t)big);
		if (archive_write_header(w, e) != ARCHIVE_OK || archive_write_data(w, data, big) != (la_ssize_t)big)
			unit_fixture_fail("tar: app/big");
		if (name) {
			archive_entry_clear(e);
			archive_entry_set_pathname(e, name);
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, 1);
			if (archive_write_header(w, e) != ARCHIVE_OK || archive_write_data(w, "x", 1) != 1)
				unit_fixture_fail("tar: the extra entry");
		}
		if (archive_write_close(w) != ARCHIVE_OK)
			unit_fixture_fail("tar close");
	}
	archive_entry_free(e);
	archive_write_free(a);
	archive_write_free(t);
	memset(l, 0, sizeof(*l));
	cn_sha256_oneshot(buf, used, l->digest);
	cn_sha256_oneshot(tar, tused, l->diff_id);
	l->size = used;
	snprintf(l->media_type, sizeof(l->media_type), MT_TAR_GZIP);
	*len = used;
	return buf;
}

/* Write BLOB[0, UPTO) to a fresh file in CHUNK-byte writes, unpacking it
 * on the way as pull does (the unpacker started once the first 6 bytes are
 * in); then finish (FINISH) or give up. Returns finish's result (0 when
 * not finished and nothing failed); *GROW_FAILED: the unpacker reported
 * failure while bytes were still coming. */
static int stream(struct store *st, const struct store_layer *l, const unsigned char *blob, size_t upto,
		  size_t chunk, bool finish, bool *grow_failed)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/blob-file", base);
	struct xfer_stream *x = NULL;
	bool tried = false;
	size_t n = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = 0;
	if (fd < 0)
		unit_fixture_fail("blob file");
	cn_err_clear(&err);
	if (grow_failed)
		*grow_failed = false;
	while (n < upto) {
		size_t k = upto - n < chunk ? upto - n : chunk;
		if (write(fd, blob + n, k) != (ssize_t)k)
			unit_fixture_fail("write blob file");
		n += k;
		if (!tried && (n >= 6 || n == l->size)) {
			tried = true;
			if (xfer_stream_begin(st, l, fd, &x, &err) < 0) {
				r = -1;
				break;
			}
		}
		if (x && xfer_stream_grow(x, n) < 0 && grow_failed)
			*grow_failed = true;
	}
	if (r == 0 && finish)
		r = x ? xfer_stream_finish(x, &err) : (cn_err_fail(&err, CN_ERR_INVALID, "not started"), -1);
	xfer_stream_free(x);
	close(fd);
	unlink(path);
	return r;
}

static void test_stream_good(struct store *st)
{
	struct store_layer l;
	size_t len;
	_cleanup_free_ unsigned char *blob = gzip_layer("streamed\n", NULL, &len, &l);
	_cleanup_free_ char *snap = NULL, *hello = NULL;
	char m[CN_DIGEST_STR_SIZE];
	int r = stream(st, &l, blob, len, 7, true, NULL);
	UNIT_CHECK(r == 0, "a gzip layer unpacked while written in 7-byte pieces: %s", r ? err.msg : "ok");
	UNIT_CHECK(store_snapshot_exists(st, l.diff_id), "... is published under its diff_id");
	snap = store_snapshot_path(st, l.diff_id);
	hello = cn_xasprintf("%s/app/hello.txt", snap);
	UNIT_STREQ(unit_slurp(AT_FDCWD, hello), "streamed\n", "... and holds the layer's file");
	UNIT_CHECK(unit_count_entries(st->tmp_fd, ".") == 0, "... and nothing is left in the store's tmp/");
	r = stream(st, &l, blob, len, 65536, true, NULL);
	UNIT_CHECK(r == 0, "the same layer again (its snapshot exists: only hashed): %s", r ? err.msg : "ok");

	/* An image whose layers this process verified: imported without
	 * reading them again, but only with their snapshots there. */
	if (store_blob_put(st, blob, len, m, &err) < 0 || strcmp(m, l.digest) != 0)
		unit_fixture_fail("layer blob");
	put_image(st, &l, m);
	cn_err_clear(&err);
	r = xfer_import(st, m, "streamed:1", "pull", true, &err);
	UNIT_CHECK(r == 0 && tag_is(st, "streamed:1", m), "an image of verified layers is tagged: %s",
		   r ? err.msg : "ok");
}

static void test_stream_refused(struct store *st)
{
	struct store_layer l, good;
	size_t len, glen;
	_cleanup_free_ unsigned char *blob = gzip_layer("lie\n", NULL, &len, &l);
	_cleanup_free_ unsigned char *gblob = gzip_layer("good\n", NULL, &glen, &good);
	_cleanup_free_ unsigned char *hostile = NULL;
	char truth[CN_DIGEST_STR_SIZE], m[CN_DIGEST_STR_SIZE];
	bool grow_failed;
	int r;

	memcpy(truth, l.diff_id, sizeof(truth));
	cn_sha256_oneshot("something else", 14, l.diff_id);
	r = stream(st, &l, blob, len, 4096, true, NULL);
	UNIT_CHECK(r < 0 && strstr(err.msg, "uncompressed content hashes to") && strstr(err.msg, truth) &&
		   strstr(err.msg, l.digest) && cn_err_is(&err, CN_ERR_CORRUPT),
		   "a streamed layer whose diff_id is not its config's is refused, named: %s", err.msg);
	UNIT_CHECK(!store_snapshot_exists(st, l.diff_id) && !store_snapshot_exists(st, truth),
		   "... and no snapshot is published, under either digest");
	UNIT_CHECK(unit_count_entries(st->tmp_fd, ".") == 0, "... and nothing is left in the store's tmp/");

	/* A snapshot exists for the good layer; a blob claiming its diff_id
	 * with other content must not borrow it. */
	if (stream(st, &good, gblob, glen, 65536, true, NULL) < 0)
		unit_fixture_fail("good layer");
	memcpy(l.diff_id, good.diff_id, sizeof(l.diff_id));
	r = stream(st, &l, blob, len, 65536, true, NULL);
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_CORRUPT) && strstr(err.msg, good.diff_id),
		   "a streamed layer claiming an existing snapshot's diff_id is refused: %s", err.msg);

	/* Cut short: the download ended early (the caller checks the size
	 * too; the unpacker alone must not take it for a layer). */
	memcpy(l.diff_id, truth, sizeof(l.diff_id));
	r = stream(st, &l, blob, len - 20, 4096, true, NULL);
	UNIT_CHECK(r < 0 && !store_snapshot_exists(st, truth), "a truncated blob does not unpack: %s", err.msg);
	UNIT_CHECK(unit_count_entries(st->tmp_fd, ".") == 0, "... and nothing is left in the store's tmp/");

	/* Given up half-way (a failed or restarted download). */
	r = stream(st, &l, blob, len / 2, 4096, false, NULL);
	UNIT_CHECK(r == 0 && !store_snapshot_exists(st, truth) && unit_count_entries(st->tmp_fd, ".") == 0,
		   "a layer given up half-way leaves no snapshot and nothing in tmp/");

	/* Hostile: the entry is refused as by layer_extract, and the writer
	 * learns it before the end (no need to write the rest). */
	hostile = gzip_layer("hostile\n", "../../escape", &len, &l);
	r = stream(st, &l, hostile, len, 512, true, &grow_failed);
	UNIT_CHECK(r < 0 && strstr(err.msg, "entry") && strstr(err.msg, l.digest),
		   "a hostile streamed layer is refused naming the entry: %s", err.msg);
	UNIT_CHECK(!store_snapshot_exists(st, l.diff_id) && unit_count_entries(st->tmp_fd, ".") == 0,
		   "... and leaves no snapshot and nothing in tmp/");
	(void)grow_failed;      /* when it learns it depends on the threads' timing */

	/* xfer_import of "verified" layers still refuses a missing snapshot. */
	if (store_blob_put(st, hostile, len, m, &err) < 0)
		unit_fixture_fail("layer blob");
	put_image(st, &l, m);
	cn_err_clear(&err);
	r = xfer_import(st, m, "unverified:1", "pull", true, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "snapshot is missing") && tag_is(st, "unverified:1", NULL),
		   "an image whose layer has no snapshot is not tagged, even as verified: %s", err.msg);
}

/* Ctrl-C while a layer unpacks as it is written: the unpacker fails with
 * CN_ERR_INTERRUPTED, which says nothing about the blob, so the writer is
 * never told to stop writing it (pull then keeps the verified blob for the
 * next pull). Last: the interrupt flag stays set. */
static void test_stream_interrupted(struct store *st)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/blob-file", base);
	_cleanup_free_ unsigned char *blob = NULL;
	struct store_layer l;
	struct xfer_stream *x = NULL;
	bool grow_failed = false;
	size_t len, n = 0, chunk = 4096;
	cn_err e;
	int fd, r;

	cn_err_clear(&e);
	cn_err_fail(&e, CN_ERR_INTERRUPTED, "interrupted");
	UNIT_CHECK(xfer_blob_still_good(&e), "an interrupted unpacking keeps the blob");
	cn_err_errno(&e, ENOSPC, "write");
	UNIT_CHECK(xfer_blob_still_good(&e), "... so does a store out of space");
	cn_err_errno(&e, EIO, "write");
	UNIT_CHECK(!xfer_blob_still_good(&e), "... not another system error");
	cn_err_fail(&e, CN_ERR_INVALID, "layer: entry \"x\": bad");
	UNIT_CHECK(!xfer_blob_still_good(&e), "... nor a layer that does not unpack");
	cn_err_fail(&e, CN_ERR_CORRUPT, "uncompressed content hashes to ...");
	UNIT_CHECK(!xfer_blob_still_good(&e), "... nor a diff_id mismatch");

	blob = gzip_layer("interrupted\n", NULL, &len, &l);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		unit_fixture_fail("blob file");
	cn_err_clear(&err);
	cn_interrupt_install();
	while (n < len) {
		size_t k = len - n < chunk ? len - n : chunk;
		if (write(fd, blob + n, k) != (ssize_t)k)
			unit_fixture_fail("write blob file");
		n += k;
		if (!x && xfer_stream_begin(st, &l, fd, &x, &err) < 0)
			unit_fixture_fail("xfer_stream_begin");
		if (n >= len / 2 && !cn_interrupted())
			raise(SIGINT);
		if (xfer_stream_grow(x, n) < 0)
			grow_failed = true;
	}
	r = xfer_stream_finish(x, &err);
	xfer_stream_free(x);
	close(fd);
	unlink(path);
	UNIT_CHECK(!grow_failed, "Ctrl-C while streaming: the writer is never told to stop writing the blob");
	UNIT_CHECK(r < 0 && cn_err_is(&err, CN_ERR_INTERRUPTED) && xfer_blob_still_good(&err),
		   "... the unpacking ends interrupted: %s", err.msg);
	UNIT_CHECK(!store_snapshot_exists(st, l.diff_id) && unit_count_entries(st->tmp_fd, ".") == 0,
		   "... no snapshot, nothing in tmp/");
}

int main(void)
{
	struct store st;
	_cleanup_free_ char *root = NULL;
	close(unit_tmpdir(base));
	root = cn_xasprintf("%s/store", base);
	if (store_open(root, &st, &err) < 0) {
		printf("# %s\n", err.msg);
		unit_fixture_fail("store_open");
	}
	test_good(&st);
	test_diff_id_mismatch(&st);
	test_bad_blobs(&st);
	test_existing_snapshot_claimed(&st);
	test_stream_good(&st);
	test_stream_refused(&st);
	test_stream_interrupted(&st);
	store_close(&st);
	unit_rmtree(base);
	return UNIT_DONE();
}
