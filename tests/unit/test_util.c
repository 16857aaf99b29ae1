/* util: the bounded buffer, string vectors and environments, sha256
 * digests, and the file-system helpers (atomic writes, bounded reads that
 * do not follow symlinks, removal that stops at mount points). */
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/labels.h"
#include "util/mem.h"
#include "util/strv.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-util-XXXXXX";
static int base_fd = -1;

static void test_buf(void)
{
	cn_buf b, small;
	char *s;
	cn_buf_init(&b, 0);
	UNIT_CHECK(b.len == 0, "a new buffer is empty");
	UNIT_CHECK(cn_buf_adds(&b, "ab") == 0 && cn_buf_addc(&b, 'c') == 0 &&
		   cn_buf_addf(&b, "-%d-%s", 42, "x") == 0, "appends");
	UNIT_STREQ(b.data, "abc-42-x", "adds, addc and addf concatenate, NUL-terminated");
	UNIT_CHECK(b.len == 8, "len counts the bytes");
	UNIT_CHECK(cn_buf_add(&b, "\0z", 2) == 0 && b.len == 10 && b.data[8] == '\0' && b.data[9] == 'z' &&
		   b.data[10] == '\0', "binary data with NULs, still terminated after len");
	for (int i = 0; i < 1000; i++)
		cn_buf_adds(&b, "0123456789");
	UNIT_CHECK(b.len == 10010 && b.cap > b.len, "grows past its first allocation");
	cn_buf_reset(&b);
	UNIT_CHECK(b.len == 0 && b.data[0] == '\0', "reset empties it");
	cn_buf_adds(&b, "kept");
	s = cn_buf_detach(&b);
	UNIT_STREQ(s, "kept", "detach hands over the string");
	UNIT_CHECK(b.len == 0 && b.cap == 0, "... and leaves the buffer empty");
	free(s);
	s = cn_buf_detach(&b);
	UNIT_STREQ(s, "", "detach of an empty buffer is an empty heap string");
	free(s);
	cn_buf_free(&b);

	cn_buf_init(&small, 5);
	UNIT_CHECK(cn_buf_adds(&small, "12345") == 0, "max: exactly max bytes fit");
	errno = 0;
	UNIT_CHECK(cn_buf_addc(&small, '6') < 0 && errno == EFBIG && small.len == 5,
		   "max: one more byte is EFBIG and nothing is added");
	cn_buf_reset(&small);
	UNIT_CHECK(cn_buf_addf(&small, "%s", "123456") < 0 && small.len == 0, "max: addf past max fails whole");
	UNIT_CHECK(cn_buf_add(&small, "x", SIZE_MAX) < 0 && errno == EFBIG, "a length that overflows is refused");
	cn_buf_free(&small);
}

static void test_strv(void)
{
	_cleanup_strv_ cn_strv sv = { 0 }, copy = { 0 }, env = { 0 };
	char **arr;
	cn_strv_pushdup(&sv, "a");
	cn_strv_push(&sv, cn_xstrdup("b"));
	UNIT_CHECK(sv.n == 2 && !strcmp(sv.v[0], "a") && !strcmp(sv.v[1], "b"), "push and pushdup append");
	cn_strv_copy(&copy, &sv);
	UNIT_CHECK(copy.n == 2 && copy.v[0] != sv.v[0] && !strcmp(copy.v[1], "b"), "copy is deep");
	arr = cn_strv_array(&sv);
	UNIT_CHECK(arr[0] && arr[1] && arr[2] == NULL, "as an array it is NULL-terminated (execve)");
	cn_strv_free(&sv);
	UNIT_CHECK(sv.n == 0, "free empties it");

	cn_env_set(&env, "PATH", "/bin");
	cn_env_set(&env, "HOME", "/root");
	cn_env_set(&env, "PATH", "/usr/bin");
	UNIT_CHECK(env.n == 2, "setting a key again replaces it");
	UNIT_STREQ(cn_env_get(&env, "PATH"), "/usr/bin", "env_get returns the latest value");
	UNIT_CHECK(cn_env_get(&env, "PAT") == NULL && cn_env_get(&env, "PATHX") == NULL,
		   "a prefix or extension of a key is another key");
	cn_env_set(&env, "EMPTY", "");
	UNIT_STREQ(cn_env_get(&env, "EMPTY"), "", "an empty value is a value");
	cn_env_set(&env, "EQ", "a=b");
	UNIT_STREQ(cn_env_get(&env, "EQ"), "a=b", "a value may contain '='");
	UNIT_CHECK(cn_env_find(&env, "HOME=x", 4) == 1, "env_find matches KEYLEN bytes of KEY");
}

static void test_digest(void)
{
	char d[CN_DIGEST_STR_SIZE], e[CN_DIGEST_STR_SIZE];
	cn_sha256 h;
	cn_sha256_oneshot("", 0, d);
	UNIT_STREQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 of nothing");
	cn_sha256_oneshot("abc", 3, d);
	UNIT_STREQ(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of 'abc'");
	cn_sha256_init(&h);
	cn_sha256_update(&h, "a", 1);
	cn_sha256_update(&h, "", 0);
	cn_sha256_update(&h, "bc", 2);
	cn_sha256_final(&h, e);
	cn_sha256_free(&h);
	UNIT_STREQ(e, d, "streamed in pieces gives the same digest");
	UNIT_CHECK(cn_digest_valid(d), "a digest is valid");
	UNIT_STREQ(cn_digest_hex(d), d + 7, "digest_hex skips 'sha256:'");
	UNIT_CHECK(!cn_digest_valid(NULL) && !cn_digest_valid("") && !cn_digest_valid("sha256:") &&
		   !cn_digest_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
		   "NULL, empty, bare prefix and other algorithms are invalid");
	d[10] = 'A';
	UNIT_CHECK(!cn_digest_valid(d), "upper-case hex is invalid (digests are canonical)");
	d[10] = 'g';
	UNIT_CHECK(!cn_digest_valid(d), "a non-hex letter is invalid");
	cn_sha256_oneshot("abc", 3, d);
	d[70] = '\0';
	UNIT_CHECK(!cn_digest_valid(d), "a short digest is invalid");
	{
		char longer[CN_DIGEST_STR_SIZE + 1];
		cn_sha256_oneshot("abc", 3, longer);
		longer[71] = 'a';
		longer[72] = '\0';
		UNIT_CHECK(!cn_digest_valid(longer), "a long digest is invalid");
	}
}

static void test_fs(void)
{
	_cleanup_buf_ cn_buf got = { 0 };
	struct stat st;
	cn_err err;
	uint64_t bytes = 0;
	char big[10000];

	cn_buf_init(&got, 0);
	UNIT_CHECK(cn_write_file_atomic(base_fd, "f", "hello", 5, 0640, &err) == 0, "write_file_atomic");
	UNIT_CHECK(fstatat(base_fd, "f", &st, 0) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == 5,
		   "... with the mode asked for");
	UNIT_CHECK(cn_write_file_atomic(base_fd, "f", "bye", 3, 0600, &err) == 0 &&
		   !strcmp(unit_slurp(base_fd, "f"), "bye"), "... and it replaces an existing file");
	UNIT_CHECK(cn_read_file_at(base_fd, "f", 100, &got, &err) == 0 && got.len == 3 && !strcmp(got.data, "bye"),
		   "read_file_at");
	cn_buf_reset(&got);
	UNIT_CHECK(cn_read_file_at(base_fd, "f", 2, &got, &err) < 0 && err.errnum == EFBIG,
		   "read_file_at past MAX fails with EFBIG: %s", err.msg);
	unit_symlink(base_fd, "f", "link");
	cn_buf_reset(&got);
	UNIT_CHECK(cn_read_file_at(base_fd, "link", 100, &got, &err) < 0, "read_file_at does not follow a final symlink");
	cn_buf_reset(&got);
	UNIT_CHECK(cn_read_file_at(base_fd, "missing", 100, &got, &err) < 0 && err.errnum == ENOENT,
		   "read_file_at of a missing file: ENOENT");
	unit_mkdir(base_fd, "d", 0755);
	cn_buf_reset(&got);
	UNIT_CHECK(cn_read_file_at(base_fd, "d", 100, &got, &err) < 0, "read_file_at of a directory fails");

	{
		_cleanup_free_ char *p = cn_xasprintf("%s/m/n/o", base);
		UNIT_CHECK(cn_mkdir_p(p, 0700, &err) == 0 && fstatat(base_fd, "m/n/o", &st, 0) == 0 &&
			   S_ISDIR(st.st_mode), "mkdir_p makes every level");
		UNIT_CHECK(cn_mkdir_p(p, 0700, &err) == 0, "mkdir_p of an existing path is success");
		unit_put(base_fd, "m/file", "x", 0644);
		free(p);
		p = cn_xasprintf("%s/m/file/sub", base);
		UNIT_CHECK(cn_mkdir_p(p, 0700, &err) < 0, "mkdir_p through a file fails: %s", err.msg);
	}

	memset(big, 'x', sizeof(big));
	unit_mkdir(base_fd, "tree", 0755);
	unit_mkdir(base_fd, "tree/sub", 0700);
	unit_put_bytes(base_fd, "tree/sub/big", big, sizeof(big), 0400);
	unit_symlink(base_fd, "/etc", "tree/escape");
	unit_mkdir(base_fd, "tree/ro", 0555);
	unit_put(base_fd, "tree/ro/f", "", 0000);
	UNIT_CHECK(cn_du_at(base_fd, "tree", &bytes, &err) == 0 && bytes >= sizeof(big),
		   "du_at counts allocated space (%llu bytes)", (unsigned long long)bytes);
	UNIT_CHECK(cn_rm_rf_at(base_fd, "tree", &err) == 0 && !unit_exists(base_fd, "tree"),
		   "rm_rf_at removes a tree (read-only dirs, a symlink out) : %s", err.msg);
	UNIT_CHECK(unit_exists(AT_FDCWD, "/etc/passwd"), "... without following the symlink");
	UNIT_CHECK(cn_rm_rf_at(base_fd, "tree", &err) == 0, "rm_rf_at of a missing name is success");

	/* A mount point inside is an error, not a descent into it. */
	unit_mkdir(base_fd, "mnt", 0755);
	unit_mkdir(base_fd, "mnt/point", 0755);
	unit_mkdir(base_fd, "other", 0755);
	unit_put(base_fd, "other/precious", "keep", 0644);
	{
		_cleanup_free_ char *src = cn_xasprintf("%s/other", base);
		_cleanup_free_ char *dst = cn_xasprintf("%s/mnt/point", base);
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(src, dst, NULL, MS_BIND, NULL) < 0) {
			UNIT_SKIP("no mount namespace", "rm_rf_at stops at a mount point");
		} else {
			UNIT_CHECK(cn_rm_rf_at(base_fd, "mnt", &err) < 0, "rm_rf_at refuses to cross a mount point: %s",
				   err.msg);
			UNIT_CHECK(unit_exists(base_fd, "other/precious"), "... and the mounted tree is untouched");
			umount2(dst, MNT_DETACH);
		}
	}
}

/* util/labels: the one place labels are parsed, matched and shown. */
static void test_labels(void)
{
	_cleanup_strv_ cn_strv l = { 0 }, back = { 0 }, f = { 0 };
	char *text, *dump;
	json_t *j;
	cn_err err;
	UNIT_CHECK(cn_labels_check("=x", &err) < 0 && strstr(err.msg, "'=x' has no key"), "=x has no key");
	UNIT_CHECK(cn_labels_check("", &err) < 0, "an empty label has no key");
	UNIT_CHECK(cn_labels_check("k", &err) == 0 && cn_labels_check("k=v=w", &err) == 0, "k, k=v=w");
	cn_labels_set(&l, "b=2");
	cn_labels_set(&l, "a");
	cn_labels_set(&l, "b=3");               /* the last value wins */
	cn_labels_set(&l, "c=x=y");
	UNIT_CHECK(l.n == 3, "one entry per key (%zu)", l.n);
	UNIT_STREQ(cn_labels_get(&l, "b"), "3", "the last value of b");
	UNIT_STREQ(cn_labels_get(&l, "a"), "", "a label without a value is ''");
	UNIT_STREQ(cn_labels_get(&l, "c"), "x=y", "a value may hold '='");
	UNIT_CHECK(cn_labels_get(&l, "") == NULL && cn_labels_get(&l, "bb") == NULL, "missing keys");
	text = cn_labels_text(&l);
	UNIT_STREQ(text, "a=,b=3,c=x=y", "comma-joined, sorted");
	free(text);
	j = cn_labels_json(&l);
	dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	UNIT_STREQ(dump, "{\"a\":\"\",\"b\":\"3\",\"c\":\"x=y\"}", "as a JSON object");
	free(dump);
	json_object_set_new(j, "n", json_integer(1));
	cn_labels_from_json(j, &back);
	UNIT_CHECK(back.n == 3 && !strcmp(cn_labels_get(&back, "c"), "x=y"), "read back (non-strings skipped)");
	json_decref(j);
	UNIT_CHECK(cn_labels_match(&l, "a") && cn_labels_match(&l, "a=") && cn_labels_match(&l, "b=3") &&
		   cn_labels_match(&l, "c=x=y"), "label=K and label=K=V match");
	UNIT_CHECK(!cn_labels_match(&l, "b=2") && !cn_labels_match(&l, "d") && !cn_labels_match(&l, "a=x"),
		   "another value or key does not");
	cn_strv_pushdup(&f, "a");
	cn_strv_pushdup(&f, "b=3");
	UNIT_CHECK(cn_labels_match_all(&l, &f), "all filters match");
	cn_strv_pushdup(&f, "d");
	UNIT_CHECK(!cn_labels_match_all(&l, &f), "one filter missing: no match");
}

int main(void)
{
	base_fd = unit_tmpdir(base);
	test_buf();
	test_strv();
	test_digest();
	test_fs();
	test_labels();
	close(base_fd);
	unit_rmtree(base);
	return UNIT_DONE();
}
