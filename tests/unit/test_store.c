/* The store: blobs (digest-named, read-only, verified on read), tags and
 * their logs, images, the build cache, prune, df and fsck, including the
 * repairs fsck cannot make (an unlink that fails) and a blob that cannot
 * be made read-only. */
#include "store/gc.h"
#include "store/image.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-store-XXXXXX";
static cn_err err;

/* ---- fsck's problem lines, collected ---- */
struct lines {
	cn_strv v;
};
static void collect(void *ctx, const char *problem)
{
	cn_strv_pushdup(&((struct lines *)ctx)->v, problem);
}
/* The first collected line containing NEEDLE, or NULL. */
static const char *line_with(const struct lines *l, const char *needle)
{
	for (size_t i = 0; i < l->v.n; i++)
		if (strstr(l->v.v[i], needle))
			return l->v.v[i];
	return NULL;
}
static void show(const struct lines *l)
{
	for (size_t i = 0; i < l->v.n; i++)
		printf("#   %s\n", l->v.v[i]);
}

static int open_store(const char *name, struct store *st)
{
	_cleanup_free_ char *root = cn_xasprintf("%s/%s", base, name);
	cn_err_clear(&err);
	return store_open(root, st, &err);
}

/* Flip one byte of a blob (blobs are 0444: root writes anyway). */
static void corrupt_blob(struct store *st, const char *digest)
{
	int fd = openat(st->blobs_fd, cn_digest_hex(digest), O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, "\xff", 1, 0) != 1)
		unit_fixture_fail("corrupt blob");
	close(fd);
}

/* An image of one (fake) layer, tagged REF; its digests in IMG. */
static int make_image(struct store *st, const char *ref, const char *content,
		      struct store_image *img)
{
	struct store_layer l = { .size = strlen(content) };
	json_t *config = json_pack("{s:s, s:s, s:{s:s, s:[s]}}", "architecture", "amd64", "os", "linux",
				   "rootfs", "type", "layers", "diff_ids", "");
	int r = -1;
	snprintf(l.media_type, sizeof(l.media_type), "application/vnd.oci.image.layer.v1.tar");
	if (store_blob_put(st, content, strlen(content), l.digest, &err) < 0)
		goto out;
	memcpy(l.diff_id, l.digest, sizeof(l.diff_id));
	json_array_set_new(json_object_get(json_object_get(config, "rootfs"), "diff_ids"), 0,
			   json_string(l.diff_id));
	if (store_image_write(st, config, &l, 1, NULL, img, &err) < 0 ||
	    store_tag_set(st, ref, img->manifest_digest, img->manifest_size, "build", &err) < 0)
		goto out;
	/* img whole (layers too), as a reader sees it. */
	{
		char m[CN_DIGEST_STR_SIZE];
		memcpy(m, img->manifest_digest, sizeof(m));
		store_image_free(img);
		if (store_image_load(st, m, img, &err) != 1)
			goto out;
	}
	/* The snapshot fsck wants for each layer. */
	if (mkdirat(st->snap_fd, cn_digest_hex(l.diff_id), 0755) < 0 && errno != EEXIST)
		unit_fixture_fail("snapshot");
	r = 0;
out:
	json_decref(config);
	return r;
}

static void test_blobs(void)
{
	struct store st;
	char d[CN_DIGEST_STR_SIZE], want[CN_DIGEST_STR_SIZE];
	_cleanup_buf_ cn_buf got = { 0 };
	struct stat sb;
	if (open_store("blobs", &st) < 0) {
		UNIT_CHECK(0, "open store: %s", err.msg);
		return;
	}
	UNIT_CHECK(unit_exists(st.root_fd, "oci-layout") && unit_exists(st.root_fd, "index.json"),
		   "a new store is an OCI layout (oci-layout, index.json)");
	cn_sha256_oneshot("hello", 5, want);
	UNIT_CHECK(store_blob_put(&st, "hello", 5, d, &err) == 0 && !strcmp(d, want),
		   "blob_put returns the sha256 of the bytes: %s", err.msg);
	UNIT_CHECK(store_blob_exists(&st, d) && store_blob_size(&st, d) == 5, "the blob exists, 5 bytes");
	UNIT_CHECK(fstatat(st.blobs_fd, cn_digest_hex(d), &sb, 0) == 0 && (sb.st_mode & 07777) == 0444,
		   "blobs are read-only (0444)");
	UNIT_CHECK(store_blob_put(&st, "hello", 5, d, &err) == 0, "putting the same bytes again is success");
	cn_buf_init(&got, 0);
	UNIT_CHECK(store_blob_get(&st, d, 100, &got, &err) == 0 && got.len == 5 &&
		   !memcmp(got.data, "hello", 5), "blob_get reads it back: %s", err.msg);
	cn_buf_reset(&got);
	UNIT_CHECK(store_blob_get(&st, d, 4, &got, &err) < 0, "blob_get refuses a blob over MAX");
	corrupt_blob(&st, d);
	cn_buf_reset(&got);
	UNIT_CHECK(store_blob_get(&st, d, 100, &got, &err) < 0 && strstr(err.msg, "digest mismatch"),
		   "blob_get verifies the digest: %s", err.msg);
	UNIT_CHECK(store_blob_get(&st, "sha256:abc", 100, &got, &err) < 0, "an invalid digest is refused");
	cn_sha256_oneshot("absent", 6, want);
	UNIT_CHECK(!store_blob_exists(&st, want) && store_blob_size(&st, want) == 0,
		   "a missing blob: not there, size 0");
	UNIT_CHECK(store_cache_put(&st, want, d, &err) == 0, "cache_put: %s", err.msg);
	{
		char m[CN_DIGEST_STR_SIZE];
		UNIT_CHECK(store_cache_get(&st, want, m) == 1 && !strcmp(m, d), "cache_get returns the entry");
		cn_sha256_oneshot("other", 5, m);
		UNIT_CHECK(store_cache_get(&st, m, m) == 0, "a missing cache entry is a miss");
	}
	store_close(&st);
}

/* Build step locks (steplock.c): one holder per key, nothing left after
 * it, and a file unlinked under a waiter (or left by a killed holder) is
 * never taken for a held lock. */
static void test_step_locks(void)
{
	struct store st;
	char key[CN_DIGEST_STR_SIZE], name[80];
	int fd = -1, fd2 = -1, stale;
	if (open_store("steplocks", &st) < 0) {
		UNIT_CHECK(0, "open store: %s", err.msg);
		return;
	}
	cn_sha256_oneshot("step", 4, key);
	snprintf(name, sizeof(name), "steplock-%s", cn_digest_hex(key));
	UNIT_CHECK(store_step_lock(&st, key, true, &fd, &err) == 1 && fd >= 0, "step_lock: %s", err.msg);
	UNIT_CHECK(unit_exists(st.tmp_fd, name), "the lock is tmp/steplock-<key-hex>");
	UNIT_CHECK(store_step_lock(&st, key, false, &fd2, &err) == 0 && fd2 == -1,
		   "a second holder is refused without waiting (0)");
	/* A waiter that opened the file before the holder let go. */
	stale = openat(st.tmp_fd, name, O_RDONLY | O_CLOEXEC);
	store_step_unlock(&st, key, fd);
	UNIT_CHECK(!unit_exists(st.tmp_fd, name), "unlock removes the file");
	UNIT_CHECK(stale >= 0 && flock(stale, LOCK_EX | LOCK_NB) == 0, "the stale waiter locks the unlinked file");
	UNIT_CHECK(store_step_lock(&st, key, false, &fd, &err) == 1,
		   "a lock on an unlinked file does not hold the key");
	UNIT_CHECK(store_step_lock(&st, key, false, &fd2, &err) == 0, "the new holder does");
	store_step_unlock(&st, key, fd);
	if (stale >= 0)
		close(stale);
	/* What a killed holder leaves: an unlocked file, taken as free. */
	stale = openat(st.tmp_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (stale >= 0)
		close(stale);
	UNIT_CHECK(store_step_lock(&st, key, false, &fd, &err) == 1, "a killed holder's file is free");
	store_step_unlock(&st, key, fd);
	UNIT_CHECK(store_step_lock(&st, "sha256:abc", true, &fd, &err) < 0 && fd == -1,
		   "an invalid key is refused");
	store_close(&st);
	/* ... and swept by the next store_open. */
	stale = open_store("steplocks", &st) == 0 ? openat(st.tmp_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (stale >= 0)
		close(stale);
	store_close(&st);
	UNIT_CHECK(open_store("steplocks", &st) == 0 && !unit_exists(st.tmp_fd, name),
		   "a left-over step lock goes with the tmp/ sweep");
	store_close(&st);
}

static void test_tags(void)
{
	struct store st;
	struct store_image img = { 0 }, img2 = { 0 }, loaded = { 0 };
	char d[CN_DIGEST_STR_SIZE];
	_cleanup_free_ struct store_tag_event *ev = NULL;
	_cleanup_free_ char *norm = NULL;
	size_t n = 0, skipped = 0;
	if (open_store("tags", &st) < 0) {
		UNIT_CHECK(0, "open store: %s", err.msg);
		return;
	}
	norm = store_ref_normalize("app", &err);
	UNIT_STREQ(norm, "app:latest", "ref_normalize adds :latest");
	UNIT_CHECK(store_ref_normalize("Bad Name", &err) == NULL, "ref_normalize refuses an invalid ref");
	UNIT_CHECK(store_tag_get(&st, "app:1", d, &err) == 0, "no tag yet");
	UNIT_CHECK(make_image(&st, "app:1", "layer one", &img) == 0, "write and tag an image: %s", err.msg);
	UNIT_CHECK(store_tag_get(&st, "app:1", d, &err) == 1 && !strcmp(d, img.manifest_digest),
		   "tag_get gives the manifest digest");
	UNIT_CHECK(store_image_load(&st, "app:1", &loaded, &err) == 1 && loaded.nlayers == 1 &&
		   !strcmp(loaded.config_digest, img.config_digest), "image_load by tag: %s", err.msg);
	store_image_free(&loaded);
	UNIT_CHECK(store_image_load(&st, img.manifest_digest, &loaded, &err) == 1 &&
		   !strcmp(loaded.manifest_digest, img.manifest_digest), "image_load by digest");
	store_image_free(&loaded);
	UNIT_CHECK(store_image_load(&st, "nope:1", &loaded, &err) == 0, "image_load of an unknown tag: 0");
	UNIT_CHECK(make_image(&st, "app:1", "layer two", &img2) == 0, "retag: %s", err.msg);
	UNIT_CHECK(store_taglog_read(&st, "app:1", &ev, &n, &skipped, &err) == 0 && n == 2 &&
		   !strcmp(ev[0].digest, img.manifest_digest) && !strcmp(ev[1].digest, img2.manifest_digest) &&
		   !strcmp(ev[1].cause, "build") && skipped == 0, "the tag log has both values, oldest first");
	UNIT_CHECK(store_tag_remove(&st, "app:1", "rmi", &err) == 1, "tag_remove");
	UNIT_CHECK(store_tag_remove(&st, "app:1", "rmi", &err) == 0, "tag_remove of a missing tag: 0");
	UNIT_CHECK(store_tag_get(&st, "app:1", d, &err) == 0, "the tag is gone");
	free(ev);
	ev = NULL;
	UNIT_CHECK(store_taglog_read(&st, "app:1", &ev, &n, &skipped, &err) == 0 && n == 3 && !ev[2].digest[0],
		   "the removal is logged (empty digest)");
	store_image_free(&img);
	store_image_free(&img2);
	store_close(&st);
}

static void test_prune_df(void)
{
	struct store st;
	struct store_image keep = { 0 }, gone = { 0 };
	struct store_prune_opts o = { .all = true, .keep = -1, .older_than = -1 };
	struct store_prune_stats ps = { 0 };
	struct store_df df = { 0 };
	char loose[CN_DIGEST_STR_SIZE];
	if (open_store("prune", &st) < 0) {
		UNIT_CHECK(0, "open store: %s", err.msg);
		return;
	}
	if (make_image(&st, "keep:1", "kept layer", &keep) < 0 || make_image(&st, "gone:1", "gone layer", &gone) < 0 ||
	    store_blob_put(&st, "loose", 5, loose, &err) < 0) {
		UNIT_CHECK(0, "fixture images: %s", err.msg);
		return;
	}
	UNIT_CHECK(store_df(&st, &df, &err) == 0 && df.images.count == 2 && df.blobs.count == 7,
		   "df: 2 images, 7 blobs (2 x layer, config, manifest; one loose): %zu, %zu",
		   df.images.count, df.blobs.count);
	store_tag_remove(&st, "gone:1", "rmi", &err);
	UNIT_CHECK(store_prune(&st, &o, &ps, &err) == 0, "prune --all: %s", err.msg);
	UNIT_CHECK(ps.blobs == 4 && ps.failures == 0, "it removed the untagged image's 3 blobs and the loose one (%zu)",
		   ps.blobs);
	UNIT_CHECK(!store_blob_exists(&st, loose) && !store_blob_exists(&st, gone.manifest_digest) &&
		   !store_blob_exists(&st, gone.layers[0].digest), "... they are gone");
	UNIT_CHECK(store_blob_exists(&st, keep.manifest_digest) && store_blob_exists(&st, keep.config_digest) &&
		   store_blob_exists(&st, keep.layers[0].digest) && store_snapshot_exists(&st, keep.layers[0].diff_id),
		   "the tagged image is whole");
	UNIT_CHECK(!store_snapshot_exists(&st, gone.layers[0].diff_id), "the untagged image's snapshot is gone");
	store_image_free(&keep);
	store_image_free(&gone);
	store_close(&st);
}

static void test_fsck(void)
{
	struct store st;
	struct store_image img = { 0 };
	struct lines l = { 0 };
	size_t problems = 99;
	if (open_store("fsck", &st) < 0 || make_image(&st, "app:1", "the layer", &img) < 0) {
		UNIT_CHECK(0, "fixture: %s", err.msg);
		return;
	}
	UNIT_CHECK(store_fsck(&st, false, collect, &l, &problems, &err) == 0 && problems == 0,
		   "fsck: a healthy store has no problems");
	show(&l);
	corrupt_blob(&st, img.layers[0].digest);
	UNIT_CHECK(store_fsck(&st, false, collect, &l, &problems, &err) == 0 && problems == 2,
		   "a corrupt layer: two problems (the blob, the tag): %zu", problems);
	UNIT_CHECK(line_with(&l, "content hashes to") && line_with(&l, "tag 'app:1'") &&
		   !line_with(&l, "removed"), "they are named; without --repair nothing is removed");
	show(&l);
	cn_strv_free(&l.v);
	UNIT_CHECK(store_fsck(&st, true, collect, &l, &problems, &err) == 0, "fsck --repair");
	UNIT_CHECK(line_with(&l, "content hashes to") && strstr(line_with(&l, "content hashes to"), "(removed)") &&
		   !store_blob_exists(&st, img.layers[0].digest), "--repair removes the corrupt blob and says so");
	UNIT_CHECK(line_with(&l, "tag 'app:1': removed"), "... and the tag whose image broke");
	cn_strv_free(&l.v);
	UNIT_CHECK(store_fsck(&st, false, collect, &l, &problems, &err) == 0 && problems == 0,
		   "after the repair fsck passes");
	show(&l);
	cn_strv_free(&l.v);
	store_image_free(&img);
	store_close(&st);
}

/* --repair when the unlink fails (blobs/sha256 on a read-only bind mount,
 * in a private mount namespace): the message must not claim "(removed)". */
static void test_fsck_repair_fails(void)
{
	struct store st;
	struct lines l = { 0 };
	char d[CN_DIGEST_STR_SIZE];
	size_t problems = 0;
	_cleanup_free_ char *blobs = cn_xasprintf("%s/ro/blobs/sha256", base);
	const char *line;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		UNIT_SKIP("no mount namespace", "fsck --repair with a failing unlink");
		return;
	}
	if (open_store("ro", &st) < 0 || store_blob_put(&st, "corrupt me", 10, d, &err) < 0) {
		UNIT_CHECK(0, "fixture: %s", err.msg);
		return;
	}
	corrupt_blob(&st, d);
	store_close(&st);
	if (mount(blobs, blobs, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, blobs, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		unit_fixture_fail("read-only bind mount");
	if (open_store("ro", &st) < 0) {
		UNIT_CHECK(0, "open store: %s", err.msg);
		umount2(blobs, MNT_DETACH);
		return;
	}
	UNIT_CHECK(store_fsck(&st, true, collect, &l, &problems, &err) == 0 && problems == 1,
		   "fsck --repair with blobs/ read-only runs: %zu problem(s)", problems);
	line = line_with(&l, "content hashes to");
	UNIT_CHECK(line && !strstr(line, "(removed)") && strstr(line, "not removed") &&
		   strstr(line, "Read-only file system"),
		   "a blob it could not remove is not reported removed: %s", line ? line : "(no line)");
	UNIT_CHECK(store_blob_exists(&st, d), "... and it is indeed still there");
	cn_strv_free(&l.v);
	store_close(&st);
	umount2(blobs, MNT_DETACH);
}

/* A blob that cannot be made read-only must not be ingested (fchmod
 * failing, through a seccomp filter in a child). */
static void test_ingest_fchmod_fails(void)
{
	pid_t pid;
	int status = -1;
	struct store st;
	if (open_store("chmod", &st) < 0) {
		UNIT_CHECK(0, "open store: %s", err.msg);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		char d[CN_DIGEST_STR_SIZE];
		int r;
		if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(fchmod), 0) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(3);
		r = store_blob_put(&st, "data", 4, d, &err);
		if (r == 0)
			_exit(1);
		printf("# %s\n", err.msg);
		fflush(stdout);
		_exit(strstr(err.msg, "read-only") && strstr(err.msg, "Operation not permitted") ? 0 : 2);
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		UNIT_SKIP("no seccomp", "a blob that cannot be made read-only is refused");
	} else {
		char d[CN_DIGEST_STR_SIZE];
		UNIT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			   "a blob that cannot be made read-only is refused, with the reason (status %d)", status);
		cn_sha256_oneshot("data", 4, d);
		UNIT_CHECK(!store_blob_exists(&st, d), "... and not stored");
		UNIT_CHECK(unit_count_entries(st.tmp_fd, ".") == 0, "... and nothing left in tmp/");
	}
	store_close(&st);
}

int main(void)
{
	int fd = unit_tmpdir(base);
	close(fd);
	test_blobs();
	test_tags();
	test_step_locks();
	test_prune_df();
	test_fsck();
	test_ingest_fchmod_fails();
	test_fsck_repair_fails();
	unit_rmtree(base);
	return UNIT_DONE();
}
