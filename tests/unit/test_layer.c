/* layers/: overlay upper dir -> OCI layer. Builds trees (and a real overlay
 * mount), writes them with both compressions, reads the result back with
 * libarchive and with the tar/zstd/gzip CLIs. Needs root for mknod, trusted.*
 * xattrs and mounts; the overlay part is skipped where mounting fails. */
#include "layers/layer.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CLAMP ((int64_t)2000000000)     /* 2033: later than "now", earlier than FUTURE */
#define FUTURE ((int64_t)4102444800)    /* 2100 */
#define OLD ((int64_t)1500000000)
#define BIG_SIZE 300000                 /* several 64 KiB chunks, not a multiple */

static char base[] = "/tmp/cairn-test-layer-XXXXXX";
static int base_fd = -1;

/* ---- building trees ------------------------------------------------------ */

static const char *at(const char *rel)
{
	static char path[4][512];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(path[slot], sizeof(path[slot]), "%s/%s", base, rel);
	return path[slot];
}

static char *big_content(void)
{
	char *p = cn_xmalloc(BIG_SIZE);
	uint32_t x = 12345;
	for (size_t i = 0; i < BIG_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (char)(x >> 16);
	}
	return p;
}

#define LONG_NAME "long-" \
	"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
	"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn-end"

/* The main tree: what a RUN step's upper dir can hold. */
static void build_tree(void)
{
	_cleanup_free_ char *big = big_content();
	unit_mkdir(base_fd, "t", 0755);
	unit_put_bytes(base_fd, "t/big", big, BIG_SIZE, 0644);
	unit_mkdir(base_fd, "t/bin", 0755);
	unit_put(base_fd, "t/bin/tool", "#!/bin/sh\necho hi\n", 0755);
	if (lchown(at("t/bin/tool"), 1234, 5678) != 0)
		unit_fixture_fail("chown");
	unit_put(base_fd, "t/bin/suid", "suid", 04755);
	unit_mkdir(base_fd, "t/deep", 0755);
	unit_mkdir(base_fd, "t/deep/a", 0755);
	unit_mkdir(base_fd, "t/deep/a/b", 0755);
	unit_mkdir(base_fd, "t/deep/a/b/c", 0755);
	unit_put(base_fd, "t/deep/a/b/c/file", "deep", 0644);
	unit_put(base_fd, "t/deep/a/b/c/" LONG_NAME, "long", 0644);
	unit_mkdir(base_fd, "t/etc", 0755);
	unit_put(base_fd, "t/etc/caf\xc3\xa9", "utf-8 name", 0644);
	unit_put(base_fd, "t/etc/origin-file", "copied up", 0644);
	unit_setxattr(at("t/etc/origin-file"), "trusted.overlay.origin", "\x00\xfb\x21", 3);
	unit_setxattr(at("t/etc/origin-file"), "trusted.other", "1", 1);
	unit_put(base_fd, "t/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
	if (mknod(at("t/etc/removed"), S_IFCHR | 0, makedev(0, 0)) != 0)
		unit_fixture_fail("whiteout");
	unit_put(base_fd, "t/etc/secret", "s3cret", 0600);
	unit_put(base_fd, "t/etc/xattr-file", "x", 0644);
	unit_setxattr(at("t/etc/xattr-file"), "user.test", "hello", 5);
	unit_setxattr(at("t/etc/xattr-file"), "user.bin", "a\0b", 3);
	unit_setxattr(at("t/etc/xattr-file"), "user.overlay.foo", "dropped", 7);
	if (link(at("t/etc/passwd"), at("t/etc/zz-link")) != 0)
		unit_fixture_fail("link");
	if (mkfifo(at("t/fifo"), 0644) != 0)
		unit_fixture_fail("mkfifo");
	unit_put(base_fd, "t/future", "future", 0644);
	unit_mtime(base_fd, "t/future", FUTURE, 0);
	if (mknod(at("t/gone"), S_IFCHR | 0, makedev(0, 0)) != 0)
		unit_fixture_fail("whiteout");
	unit_symlink(base_fd, "etc/passwd", "t/link");
	if (mknod(at("t/null"), S_IFCHR | 0666, makedev(1, 3)) != 0)
		unit_fixture_fail("mknod");
	unit_put(base_fd, "t/old", "old", 0644);
	unit_mtime(base_fd, "t/old", OLD, 500000000);
	unit_mkdir(base_fd, "t/opq", 0755);
	unit_setxattr(at("t/opq"), "trusted.overlay.opaque", "y", 1);
	unit_put(base_fd, "t/opq/+plus", "sorts before .wh.", 0644);
	unit_put(base_fd, "t/opq/a", "a", 0644);
	if (unit_socket(at("t/sock")) < 0)
		unit_fixture_fail("t/sock");
	unit_mkdir(base_fd, "t/tmp", 01777);
}

/* Entry names in the order they must appear. */
static const char *const tree_names[] = {
	"big",
	"bin/", "bin/suid", "bin/tool",
	"deep/", "deep/a/", "deep/a/b/", "deep/a/b/c/", "deep/a/b/c/file",
	"deep/a/b/c/" LONG_NAME,
	"etc/", "etc/caf\xc3\xa9", "etc/origin-file", "etc/passwd", "etc/.wh.removed",
	"etc/secret", "etc/xattr-file", "etc/zz-link",
	"fifo", "future", ".wh.gone", "link", "null", "old",
	"opq/", "opq/.wh..wh..opq", "opq/+plus", "opq/a",
	"tmp/",
};

/* ---- reading layers back --------------------------------------------------- */

struct got {
	char *path;
	mode_t type, perm;
	int64_t uid, gid, size, data_len;
	time_t mtime;
	long mtime_nsec;
	bool times_extra;       /* atime, ctime or birthtime present */
	bool has_names;         /* uname or gname present */
	unsigned rmajor, rminor;
	char *symlink, *hardlink;
	char *xattrs;           /* "name=value;" sorted; bytes < 0x20 as \xNN */
	char data_sha[CN_DIGEST_STR_SIZE];
};

struct gotlist {
	struct got *v;
	size_t n, cap;
	bool ok;                /* read to the end without error */
};

static char *xattr_text(struct archive_entry *e)
{
	cn_buf b;
	const char *name;
	const void *val;
	size_t len;
	cn_buf_init(&b, 0);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		cn_buf_addf(&b, "%s=", name);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = ((const unsigned char *)val)[i];
			if (c < 0x20)
				cn_buf_addf(&b, "\\x%02x", c);
			else
				cn_buf_addc(&b, (char)c);
		}
		cn_buf_addc(&b, ';');
	}
	return cn_buf_detach(&b);
}

static void got_entry(struct got *g, struct archive *ar, struct archive_entry *e)
{
	const char *s;
	char buf[65536];
	cn_sha256 h;
	la_ssize_t n;

	memset(g, 0, sizeof(*g));
	g->path = cn_xstrdup(archive_entry_pathname(e));
	g->type = archive_entry_filetype(e);
	g->perm = archive_entry_perm(e);
	g->uid = archive_entry_uid(e);
	g->gid = archive_entry_gid(e);
	g->size = archive_entry_size(e);
	g->mtime = archive_entry_mtime(e);
	g->mtime_nsec = archive_entry_mtime_nsec(e);
	g->times_extra = archive_entry_atime_is_set(e) || archive_entry_ctime_is_set(e) ||
			 archive_entry_birthtime_is_set(e);
	g->has_names = (archive_entry_uname(e) && *archive_entry_uname(e)) ||
		       (archive_entry_gname(e) && *archive_entry_gname(e));
	g->rmajor = archive_entry_rdevmajor(e);
	g->rminor = archive_entry_rdevminor(e);
	if ((s = archive_entry_symlink(e)))
		g->symlink = cn_xstrdup(s);
	if ((s = archive_entry_hardlink(e)))
		g->hardlink = cn_xstrdup(s);
	g->xattrs = xattr_text(e);
	cn_sha256_init(&h);
	while ((n = archive_read_data(ar, buf, sizeof(buf))) > 0) {
		cn_sha256_update(&h, buf, (size_t)n);
		g->data_len += n;
	}
	cn_sha256_final(&h, g->data_sha);
}

static void gotlist_free(struct gotlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].symlink);
		free(l->v[i].hardlink);
		free(l->v[i].xattrs);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Every entry of the layer at FILE, through libarchive's own detection. */
static void read_layer(const char *file, struct gotlist *l)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	int r;
	memset(l, 0, sizeof(*l));
	archive_read_support_filter_all(ar);
	archive_read_support_format_tar(ar);
	if (archive_read_open_filename(ar, file, 65536) != ARCHIVE_OK) {
		archive_read_free(ar);
		return;
	}
	/* WARN: a name not representable in the test's locale; kept as bytes. */
	while ((r = archive_read_next_header(ar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		cn_xgrow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
		got_entry(&l->v[l->n++], ar, e);
	}
	l->ok = r == ARCHIVE_EOF;
	if (!l->ok)
		printf("# read %s: %s\n", file, archive_error_string(ar));
	archive_read_free(ar);
}

/* sha256 of the decompressed stream (libarchive "raw" format), and its length. */
static int decompressed_sha(const char *file, char out[CN_DIGEST_STR_SIZE], int64_t *len)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	char buf[65536];
	cn_sha256 h;
	la_ssize_t n;
	int rc = -1;
	*len = 0;
	archive_read_support_filter_all(ar);
	archive_read_support_format_raw(ar);
	cn_sha256_init(&h);
	if (archive_read_open_filename(ar, file, 65536) == ARCHIVE_OK &&
	    archive_read_next_header(ar, &e) == ARCHIVE_OK) {
		while ((n = archive_read_data(ar, buf, sizeof(buf))) > 0) {
			cn_sha256_update(&h, buf, (size_t)n);
			*len += n;
		}
		rc = n == 0 ? 0 : -1;
	}
	cn_sha256_final(&h, out);
	archive_read_free(ar);
	return rc;
}

static int file_sha(const char *file, char out[CN_DIGEST_STR_SIZE], int64_t *len)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	cn_sha256 h;
	ssize_t n;
	*len = 0;
	if (fd < 0)
		return -1;
	cn_sha256_init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		cn_sha256_update(&h, buf, (size_t)n);
		*len += n;
	}
	cn_sha256_final(&h, out);
	return n == 0 ? 0 : -1;
}

static bool same_bytes(const char *a, const char *b)
{
	_cleanup_buf_ cn_buf x, y;
	cn_buf_init(&x, 0);
	cn_buf_init(&y, 0);
	if (cn_read_file_at(AT_FDCWD, a, 1 << 30, &x, NULL) < 0 ||
	    cn_read_file_at(AT_FDCWD, b, 1 << 30, &y, NULL) < 0)
		return false;
	return x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
}

static const struct got *find(const struct gotlist *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].path, path))
			return &l->v[i];
	return NULL;
}

static char *names_of(const struct gotlist *l)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < l->n; i++)
		cn_buf_addf(&b, "%s%s", i ? " " : "", l->v[i].path);
	return cn_buf_detach(&b);
}

static char *join(const char *const *v, size_t n)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		cn_buf_addf(&b, "%s%s", i ? " " : "", v[i]);
	return cn_buf_detach(&b);
}

static int write_layer(const char *dir, const char *out, enum layer_compression c,
		       int64_t clamp, struct layer_info *info, cn_err *err)
{
	_cleanup_close_ int dfd = open(at(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int ofd = open(at(out), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct layer_write_opts opts = { .compression = c, .clamp_mtime = clamp };
	if (!(dfd >= 0 && ofd >= 0))
		unit_fixture_fail(dir);
	return layer_write_dir(dfd, ofd, &opts, info, err);
}

/* digest == sha256(file), size == file size, diff_id == sha256(decompressed). */
static void check_digests(const char *what, const char *file, const struct layer_info *info)
{
	char sha[CN_DIGEST_STR_SIZE], dsha[CN_DIGEST_STR_SIZE];
	int64_t len = 0, dlen = 0;
	UNIT_CHECK(file_sha(file, sha, &len) == 0, "%s: read blob", what);
	UNIT_STREQ(info->digest, sha, "%s: digest is sha256 of the blob", what);
	UNIT_CHECK(info->size == (uint64_t)len, "%s: size %llu == file size %lld", what,
		   (unsigned long long)info->size, (long long)len);
	UNIT_CHECK(decompressed_sha(file, dsha, &dlen) == 0, "%s: decompress", what);
	UNIT_STREQ(info->diff_id, dsha, "%s: diff_id is sha256 of the tar", what);
	UNIT_CHECK(dlen >= 1024 && dlen % 512 == 0, "%s: tar length %lld is whole blocks", what,
		   (long long)dlen);
	UNIT_CHECK(cn_digest_valid(info->digest) && cn_digest_valid(info->diff_id),
		   "%s: digests well-formed", what);
}

/* Run a shell command; its first output line (or "") into OUT. -1: no shell. */
static int run(const char *cmd, char *out, size_t outlen, int *lines)
{
	FILE *p = popen(cmd, "r");
	char line[4096];
	int n = 0;
	if (!p)
		return -1;
	out[0] = '\0';
	while (fgets(line, sizeof(line), p)) {
		if (n++ == 0)
			snprintf(out, outlen, "%s", line);
	}
	if (lines)
		*lines = n;
	return pclose(p);
}

static bool have(const char *tool)
{
	char cmd[256], out[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return run(cmd, out, sizeof(out), NULL) == 0;
}

/* The CLI tools agree with us: tar lists every entry without complaint,
 * and the compressor's own tool decompresses to diff_id. */
static void check_cli(const char *what, const char *file, enum layer_compression c,
		      const struct layer_info *info)
{
	char cmd[1024], out[4096];
	const char *tool = c == LAYER_ZSTD ? "zstd" : "gzip";
	int lines = 0;

	if (have("tar") && have(tool)) {
		snprintf(cmd, sizeof(cmd), "tar -tvf '%s' 2>/dev/null", file);
		UNIT_CHECK(run(cmd, out, sizeof(out), &lines) == 0, "%s: tar -tvf succeeds", what);
		UNIT_CHECK((uint64_t)lines == info->entries, "%s: tar -tvf lists %d entries (want %llu)",
			   what, lines, (unsigned long long)info->entries);
		snprintf(cmd, sizeof(cmd), "tar -tvf '%s' 2>&1 >/dev/null", file);
		run(cmd, out, sizeof(out), NULL);
		UNIT_STREQ(out, "", "%s: tar -tvf prints no warnings", what);
	} else {
		UNIT_SKIP("tar or compressor missing", "%s: tar -tvf", what);
	}
	if (have(tool) && have("sha256sum")) {
		snprintf(cmd, sizeof(cmd), "%s -dc '%s' | sha256sum", tool, file);
		UNIT_CHECK(run(cmd, out, sizeof(out), NULL) == 0, "%s: %s -dc succeeds", what, tool);
		UNIT_CHECK(strlen(out) > 64 && !strncmp(out, info->diff_id + 7, 64),
			   "%s: %s -dc | sha256sum == diff_id", what, tool);
	} else {
		UNIT_SKIP("compressor missing", "%s: %s -dc", what, tool);
	}
}

/* ---- the tests ----------------------------------------------------------- */

static void check_tree_entries(const char *what, const struct gotlist *l, int64_t clamp)
{
	_cleanup_free_ char *got = names_of(l);
	_cleanup_free_ char *want = join(tree_names, CN_ARRAY_SIZE(tree_names));
	_cleanup_free_ char *big = big_content();
	char big_sha[CN_DIGEST_STR_SIZE];
	const struct got *g;
	bool plain = true;
	size_t i;

	cn_sha256_oneshot(big, BIG_SIZE, big_sha);
	UNIT_CHECK(l->ok, "%s: archive reads to the end", what);
	UNIT_STREQ(got, want, "%s: entry names and order", what);

	for (i = 0; i < l->n; i++) {
		g = &l->v[i];
		if (g->times_extra || g->has_names || g->mtime_nsec != 0 ||
		    (clamp >= 0 && g->mtime > clamp))
			plain = false;
	}
	UNIT_CHECK(plain, "%s: no atime/ctime/uname/gname/nsec, mtimes <= clamp", what);

	g = find(l, "big");
	UNIT_CHECK(g && g->type == AE_IFREG && g->size == BIG_SIZE && g->data_len == BIG_SIZE &&
		   !strcmp(g->data_sha, big_sha), "%s: big file content", what);
	g = find(l, "bin/tool");
	UNIT_CHECK(g && g->type == AE_IFREG && g->perm == 0755 && g->uid == 1234 && g->gid == 5678,
		   "%s: bin/tool 0755 1234:5678", what);
	g = find(l, "bin/suid");
	UNIT_CHECK(g && g->perm == 04755 && g->uid == 0 && g->gid == 0, "%s: bin/suid 04755", what);
	g = find(l, "etc/secret");
	UNIT_CHECK(g && g->perm == 0600 && g->data_len == 6, "%s: etc/secret 0600", what);
	g = find(l, "tmp/");
	UNIT_CHECK(g && g->type == AE_IFDIR && g->perm == 01777, "%s: tmp/ 01777", what);
	g = find(l, "etc/passwd");
	UNIT_CHECK(g && g->type == AE_IFREG && !g->hardlink && g->data_len == 26,
		   "%s: etc/passwd carries the data", what);
	g = find(l, "etc/zz-link");
	UNIT_CHECK(g && g->hardlink && !strcmp(g->hardlink, "etc/passwd") && g->data_len == 0,
		   "%s: etc/zz-link is a hardlink to etc/passwd", what);
	g = find(l, "link");
	UNIT_CHECK(g && g->type == AE_IFLNK && g->symlink && !strcmp(g->symlink, "etc/passwd"),
		   "%s: link -> etc/passwd", what);
	g = find(l, "fifo");
	UNIT_CHECK(g && g->type == AE_IFIFO && g->perm == 0644, "%s: fifo", what);
	g = find(l, "null");
	UNIT_CHECK(g && g->type == AE_IFCHR && g->rmajor == 1 && g->rminor == 3,
		   "%s: char device 1:3", what);
	g = find(l, ".wh.gone");
	UNIT_CHECK(g && g->type == AE_IFREG && g->size == 0 && g->uid == 0 && g->gid == 0,
		   "%s: whiteout .wh.gone", what);
	g = find(l, "etc/.wh.removed");
	UNIT_CHECK(g && g->type == AE_IFREG && g->size == 0, "%s: whiteout etc/.wh.removed", what);
	g = find(l, "opq/.wh..wh..opq");
	UNIT_CHECK(g && g->type == AE_IFREG && g->size == 0, "%s: opaque marker", what);
	g = find(l, "opq/");
	UNIT_STREQ(g ? g->xattrs : NULL, "", "%s: opq/ keeps no overlay xattr", what);
	g = find(l, "etc/xattr-file");
	UNIT_STREQ(g ? g->xattrs : NULL, "user.test=hello;user.bin=a\\x00b;",
		   "%s: user xattrs kept, binary-safe; user.overlay.* dropped", what);
	g = find(l, "etc/origin-file");
	UNIT_STREQ(g ? g->xattrs : NULL, "",
		   "%s: trusted.overlay.origin and trusted.other dropped (layers/xattr.h)", what);
	g = find(l, "future");
	UNIT_CHECK(g && g->mtime == (time_t)(clamp >= 0 ? clamp : FUTURE),
		   "%s: future mtime %lld", what, g ? (long long)g->mtime : -1LL);
	g = find(l, "old");
	UNIT_CHECK(g && g->mtime == (time_t)OLD && g->mtime_nsec == 0,
		   "%s: old mtime kept, nanoseconds dropped", what);
	g = find(l, "deep/a/b/c/" LONG_NAME);
	UNIT_CHECK(g && g->data_len == 4, "%s: long name round-trips", what);
}

static void test_tree(enum layer_compression c, int64_t clamp)
{
	const char *what = c == LAYER_ZSTD ? "zstd" : "gzip";
	const char *out1 = c == LAYER_ZSTD ? "t1.tar.zst" : "t1.tar.gz";
	const char *out2 = c == LAYER_ZSTD ? "t2.tar.zst" : "t2.tar.gz";
	struct layer_info info, again;
	struct gotlist l;
	cn_err err = { 0 };
	int r;

	r = write_layer("t", out1, c, clamp, &info, &err);
	UNIT_CHECK(r == 0, "%s: layer_write_dir: %s", what, r ? err.msg : "ok");
	UNIT_CHECK(info.entries == CN_ARRAY_SIZE(tree_names), "%s: %llu entries", what,
		   (unsigned long long)info.entries);
	read_layer(at(out1), &l);
	check_tree_entries(what, &l, clamp);
	gotlist_free(&l);
	check_digests(what, at(out1), &info);
	check_cli(what, at(out1), c, &info);

	r = write_layer("t", out2, c, clamp, &again, &err);
	UNIT_CHECK(r == 0 && same_bytes(at(out1), at(out2)) && !strcmp(info.digest, again.digest) &&
		   !strcmp(info.diff_id, again.diff_id), "%s: second write is byte-identical", what);
}

/* Names are bytes: UTF-8 ones stored as such, others raw (hdrcharset=BINARY),
 * and the caller's locale changes nothing. */
static void test_names_and_locale(void)
{
	static const char *const want_names[] = { "bad\xff", "caf\xc3\xa9", "plain" };
	_cleanup_free_ char *want = join(want_names, CN_ARRAY_SIZE(want_names));
	_cleanup_free_ char *got = NULL;
	struct layer_info a, b;
	struct gotlist l;
	cn_err err = { 0 };
	bool have_utf8 = setlocale(LC_ALL, "C.UTF-8") != NULL;

	unit_mkdir(base_fd, "names", 0755);
	unit_put(base_fd, "names/bad\xff", "latin-1", 0644);
	unit_put(base_fd, "names/caf\xc3\xa9", "utf-8", 0644);
	unit_put(base_fd, "names/plain", "ascii", 0644);
	UNIT_CHECK(write_layer("names", "names-utf8.tar.zst", LAYER_ZSTD, -1, &a, &err) == 0,
		   "names: written under %s", have_utf8 ? "C.UTF-8" : "C");
	setlocale(LC_ALL, "C");
	UNIT_CHECK(write_layer("names", "names-c.tar.zst", LAYER_ZSTD, -1, &b, &err) == 0,
		   "names: written under C");
	UNIT_CHECK(same_bytes(at("names-utf8.tar.zst"), at("names-c.tar.zst")),
		   "names: the locale does not change the layer");
	read_layer(at("names-c.tar.zst"), &l);
	got = names_of(&l);
	UNIT_STREQ(got, want, "names: bytes round-trip");
	gotlist_free(&l);
}

static void test_refused(void)
{
	struct layer_info info;
	cn_err err = { 0 };
	unit_mkdir(base_fd, "bad", 0755);
	unit_mkdir(base_fd, "bad/sub", 0755);
	unit_put(base_fd, "bad/sub/.wh.bad", "x", 0644);
	UNIT_CHECK(write_layer("bad", "bad.tar.zst", LAYER_ZSTD, -1, &info, &err) < 0,
		   "a .wh. file is refused");
	UNIT_STREQ(err.msg, "layer: 'sub/.wh.bad': names starting with .wh. cannot be stored in a layer",
		   "the refusal names the path");

	unit_mkdir(base_fd, "meta", 0755);
	unit_put(base_fd, "meta/f", "", 0644);
	unit_setxattr(at("meta/f"), "trusted.overlay.metacopy", "", 0);
	UNIT_CHECK(write_layer("meta", "meta.tar.zst", LAYER_ZSTD, -1, &info, &err) < 0 &&
		   strstr(err.msg, "'f': overlay metacopy file"), "a metacopy file is refused: %s",
		   err.msg);
}

static void test_empty(enum layer_compression c)
{
	const char *what = c == LAYER_ZSTD ? "empty zstd" : "empty gzip";
	const char *out = c == LAYER_ZSTD ? "empty.tar.zst" : "empty.tar.gz";
	struct layer_info info;
	struct gotlist l;
	cn_err err = { 0 };
	char dsha[CN_DIGEST_STR_SIZE];
	int64_t dlen;

	if (c == LAYER_ZSTD)
		unit_mkdir(base_fd, "empty", 0755);
	UNIT_CHECK(write_layer("empty", out, c, -1, &info, &err) == 0, "%s: written", what);
	UNIT_CHECK(info.entries == 0 && info.size > 0, "%s: 0 entries, %llu bytes", what,
		   (unsigned long long)info.size);
	read_layer(at(out), &l);
	UNIT_CHECK(l.ok && l.n == 0, "%s: reads as a valid empty archive", what);
	gotlist_free(&l);
	UNIT_CHECK(decompressed_sha(at(out), dsha, &dlen) == 0 && dlen == 1024,
		   "%s: the tar is its two end blocks", what);
	check_digests(what, at(out), &info);
}

/* Deeper than PATH_MAX, under a small fd limit: the walk uses no long paths
 * and a constant number of fds. */
#define DEEP 2500
static void test_deep(void)
{
	struct rlimit old, low;
	struct layer_info info;
	struct gotlist l;
	cn_err err = { 0 };
	int fd, r;

	fd = unit_deep_dirs(base_fd, "deep", DEEP);
	if (mknodat(fd, "leaf", S_IFREG | 0644, 0) != 0)
		unit_fixture_fail("deep tree");
	close(fd);

	if (getrlimit(RLIMIT_NOFILE, &old) != 0)
		unit_fixture_fail("getrlimit");
	low = old;
	low.rlim_cur = 32;
	if (setrlimit(RLIMIT_NOFILE, &low) != 0)
		unit_fixture_fail("setrlimit");
	r = write_layer("deep", "deep.tar.zst", LAYER_ZSTD, -1, &info, &err);
	if (setrlimit(RLIMIT_NOFILE, &old) != 0)
		unit_fixture_fail("setrlimit");
	UNIT_CHECK(r == 0 && info.entries == DEEP + 1, "deep: %d levels under 32 fds: %s", DEEP,
		   r ? err.msg : "ok");
	read_layer(at("deep.tar.zst"), &l);
	UNIT_CHECK(l.ok && l.n == DEEP + 1 && strlen(l.v[l.n - 1].path) == DEEP * 2 + 4,
		   "deep: the leaf's %d-byte path round-trips", DEEP * 2 + 4);
	gotlist_free(&l);
}

static void test_write_error(void)
{
	struct layer_info info;
	cn_err err = { 0 };
	_cleanup_close_ int dfd = open(at("t"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int ro = open(at("t/big"), O_RDONLY | O_CLOEXEC);
	struct layer_write_opts opts = { .compression = LAYER_GZIP, .clamp_mtime = -1 };
	UNIT_CHECK(layer_write_dir(dfd, ro, &opts, &info, &err) < 0 && err.errnum == EBADF &&
		   !strncmp(err.msg, "layer: write", 12), "an unwritable output fails: %s", err.msg);
}

static void test_names(void)
{
	enum layer_compression c = LAYER_GZIP;
	UNIT_STREQ(layer_media_type(LAYER_ZSTD), "application/vnd.oci.image.layer.v1.tar+zstd",
		   "zstd media type");
	UNIT_STREQ(layer_media_type(LAYER_GZIP), "application/vnd.oci.image.layer.v1.tar+gzip",
		   "gzip media type");
	UNIT_CHECK(layer_compression_parse("zstd", &c) == 0 && c == LAYER_ZSTD, "parse zstd");
	UNIT_CHECK(layer_compression_parse("gzip", &c) == 0 && c == LAYER_GZIP, "parse gzip");
	UNIT_CHECK(layer_compression_parse("xz", &c) < 0 && layer_compression_parse("", &c) < 0,
		   "parse rejects others");
}

/* ---- a real overlay mount -------------------------------------------------- */

static void test_overlay(void)
{
	static const char *const want_names[] = {
		"added", "dir/", "dir/.wh..wh..opq", "dir/new",
		"etc/", "etc/.wh.remove-me", "etc/.wh.remove-too", "modify",
	};
	char opts[1024];
	struct layer_info info;
	struct gotlist l;
	cn_err err = { 0 };
	_cleanup_free_ char *want = join(want_names, CN_ARRAY_SIZE(want_names));
	_cleanup_free_ char *got = NULL;
	bool clean = true;
	int r;

	unit_mkdir(base_fd, "ovl", 0755);
	/* tmpfs: the upper fs must not itself be an overlay (as /tmp may be). */
	if (mount("tmpfs", at("ovl"), "tmpfs", 0, "mode=0755") < 0) {
		UNIT_SKIP(strerror(errno), "overlay: mount tmpfs");
		return;
	}
	unit_mkdir(base_fd, "ovl/lower", 0755);
	unit_mkdir(base_fd, "ovl/upper", 0755);
	unit_mkdir(base_fd, "ovl/work", 0755);
	unit_mkdir(base_fd, "ovl/merged", 0755);
	unit_mkdir(base_fd, "ovl/lower/etc", 0755);
	unit_put(base_fd, "ovl/lower/etc/keep", "keep", 0644);
	unit_put(base_fd, "ovl/lower/etc/remove-me", "x", 0644);
	unit_put(base_fd, "ovl/lower/etc/remove-too", "x", 0644);
	unit_mkdir(base_fd, "ovl/lower/dir", 0755);
	unit_put(base_fd, "ovl/lower/dir/old1", "1", 0644);
	unit_put(base_fd, "ovl/lower/dir/old2", "2", 0644);
	unit_put(base_fd, "ovl/lower/modify", "old", 0644);
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,metacopy=off,index=off",
		 at("ovl/lower"), at("ovl/upper"), at("ovl/work"));
	if (mount("overlay", at("ovl/merged"), "overlay", 0, opts) < 0) {
		UNIT_SKIP(strerror(errno), "overlay: mount overlay");
		umount2(at("ovl"), MNT_DETACH);
		return;
	}
	if (unlink(at("ovl/merged/etc/remove-me")) != 0)
		unit_fixture_fail("unlink");
	if (unlink(at("ovl/merged/etc/remove-too")) != 0)
		unit_fixture_fail("unlink");
	if (cn_rm_rf_at(AT_FDCWD, at("ovl/merged/dir"), NULL) != 0)
		unit_fixture_fail("rm -r");
	unit_mkdir(base_fd, "ovl/merged/dir", 0755);
	unit_put(base_fd, "ovl/merged/dir/new", "new", 0644);
	unit_put(base_fd, "ovl/merged/modify", "new", 0644);
	unit_put(base_fd, "ovl/merged/added", "added", 0644);
	if (umount(at("ovl/merged")) != 0)
		unit_fixture_fail("umount overlay");

	r = write_layer("ovl/upper", "ovl/upper.tar.zst", LAYER_ZSTD, -1, &info, &err);
	UNIT_CHECK(r == 0, "overlay: layer_write_dir: %s", r ? err.msg : "ok");
	read_layer(at("ovl/upper.tar.zst"), &l);
	got = names_of(&l);
	UNIT_CHECK(l.ok, "overlay: archive reads to the end");
	UNIT_STREQ(got, want, "overlay: whiteouts, opaque dir with marker first, modified file");
	for (size_t i = 0; i < l.n; i++)
		if (strstr(l.v[i].xattrs, "overlay."))
			clean = false;
	UNIT_CHECK(clean, "overlay: no overlay xattrs in the layer");
	UNIT_CHECK(find(&l, "modify") && find(&l, "modify")->data_len == 3,
		   "overlay: modified file has its new content");
	gotlist_free(&l);
	check_digests("overlay", at("ovl/upper.tar.zst"), &info);
	check_cli("overlay", at("ovl/upper.tar.zst"), LAYER_ZSTD, &info);

	r = write_layer("ovl/upper", "ovl/upper.tar.gz", LAYER_GZIP, 0, &info, &err);
	read_layer(at("ovl/upper.tar.gz"), &l);
	free(got);
	got = names_of(&l);
	UNIT_STREQ(r == 0 ? got : err.msg, want, "overlay gzip (clamp 0): same entries");
	UNIT_CHECK(l.n > 0 && l.v[0].mtime == 0, "overlay gzip: mtimes clamped to 0");
	gotlist_free(&l);
	check_digests("overlay gzip", at("ovl/upper.tar.gz"), &info);

	if (umount(at("ovl")) != 0)
		unit_fixture_fail("umount tmpfs");
}

/* ---- one xattr policy for RUN layers and pulled layers --------------------- */

/* A valid access ACL with a named user (so the kernel stores it rather than
 * folding it into the mode): user::rw- user:1000:r-- group::r-- mask::r--
 * other::r--, little-endian as the kernel's xattr form. */
static const char acl_value[] =
	"\x02\x00\x00\x00"
	"\x01\x00\x06\x00\xff\xff\xff\xff" "\x02\x00\x04\x00\xe8\x03\x00\x00"
	"\x04\x00\x04\x00\xff\xff\xff\xff" "\x10\x00\x04\x00\xff\xff\xff\xff"
	"\x20\x00\x04\x00\xff\xff\xff\xff";
static const char cap_value[] =
	"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

static const struct {
	const char *name;
	const char *val;
	size_t len;
	bool kept;
} policy[] = {
	{ "security.capability", cap_value, sizeof(cap_value) - 1, true },
	{ "security.ima", "\x04\x04\x00", 3, false },
	{ "security.selinux", "system_u:object_r:etc_t:s0", 26, false },
	{ "system.posix_acl_access", acl_value, sizeof(acl_value) - 1, true },
	{ "trusted.foo", "1", 1, false },
	{ "trusted.overlay.origin", "\x00\xfb", 2, false },
	{ "user.keep", "k", 1, true },
	{ "user.overlay.foo", "y", 1, false },
};

/* The names of POLICY that FILE has, as "name name ". */
static char *policy_names_on_disk(const char *file, const bool *settable)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < CN_ARRAY_SIZE(policy); i++)
		if (settable[i] && lgetxattr(file, policy[i].name, NULL, 0) >= 0)
			cn_buf_addf(&b, "%s ", policy[i].name);
	return cn_buf_detach(&b);
}

/* The same for TEXT, a tar entry's xattrs in xattr_text's "name=value;" form. */
static char *policy_names_in(const char *text, const bool *settable)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < CN_ARRAY_SIZE(policy); i++) {
		_cleanup_free_ char *key = cn_xasprintf("%s=", policy[i].name);
		const char *p = text ? strstr(text, key) : NULL;
		if (settable[i] && p && (p == text || p[-1] == ';'))
			cn_buf_addf(&b, "%s ", policy[i].name);
	}
	return cn_buf_detach(&b);
}

static char *policy_kept(const bool *settable)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < CN_ARRAY_SIZE(policy); i++)
		if (settable[i] && policy[i].kept)
			cn_buf_addf(&b, "%s ", policy[i].name);
	return cn_buf_detach(&b);
}

/* The same names survive a RUN layer (layer_write_dir) and a pulled layer
 * (layer_extract), and they are COPY's: trusted.foo survived pull and RUN
 * but not COPY before the three lists became one. */
static void test_xattr_policy(void)
{
	bool settable[CN_ARRAY_SIZE(policy)];
	_cleanup_free_ char *want = NULL, *written = NULL, *extracted = NULL;
	struct layer_info info;
	struct gotlist l;
	const struct got *g;
	cn_err err = { 0 };
	int r;

	unit_mkdir(base_fd, "xp", 0755);
	unit_put(base_fd, "xp/f", "x", 0644);
	for (size_t i = 0; i < CN_ARRAY_SIZE(policy); i++) {
		settable[i] = lsetxattr(at("xp/f"), policy[i].name, policy[i].val, policy[i].len, 0) == 0;
		if (!settable[i])
			printf("# xattr policy: %s cannot be set here (%s), not checked\n",
			       policy[i].name, strerror(errno));
	}
	want = policy_kept(settable);

	r = write_layer("xp", "xp.tar", LAYER_NONE, -1, &info, &err);
	if (r != 0)
		unit_fixture_fail(err.msg);
	read_layer(at("xp.tar"), &l);
	g = find(&l, "f");
	written = policy_names_in(g ? g->xattrs : NULL, settable);
	UNIT_STREQ(written, want, "xattr policy: RUN layers carry user.*, security.capability and "
		   "POSIX ACLs; not trusted.*, security.selinux/ima, overlay xattrs");
	gotlist_free(&l);

	/* The other way: a tar that carries every one of them. */
	{
		struct archive *aw = archive_write_new();
		struct archive_entry *e = archive_entry_new();
		int tfd;
		if (!(aw && e))
			unit_fixture_fail("libarchive");
		if (!(archive_write_set_format_pax_restricted(aw) == ARCHIVE_OK &&
		     archive_write_set_format_option(aw, "pax", "xattrheader", "SCHILY") == ARCHIVE_OK &&
		     archive_write_open_filename(aw, at("xp-all.tar")) == ARCHIVE_OK))
			unit_fixture_fail("tar");
		archive_entry_copy_pathname(e, "f");
		archive_entry_set_mode(e, AE_IFREG | 0644);
		archive_entry_set_size(e, 0);
		for (size_t i = 0; i < CN_ARRAY_SIZE(policy); i++)
			archive_entry_xattr_add_entry(e, policy[i].name, policy[i].val, policy[i].len);
		if (!(archive_write_header(aw, e) == ARCHIVE_OK && archive_write_close(aw) == ARCHIVE_OK))
			unit_fixture_fail("tar");
		archive_entry_free(e);
		archive_write_free(aw);

		unit_mkdir(base_fd, "xp-out", 0755);
		{
			_cleanup_close_ int in = open(at("xp-all.tar"), O_RDONLY | O_CLOEXEC);
			tfd = open(at("xp-out"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (!(in >= 0 && tfd >= 0))
				unit_fixture_fail("xp-out");
			r = layer_extract(in, tfd, NULL, NULL, &err);
			close(tfd);
		}
		UNIT_CHECK(r == 0, "xattr policy: layer_extract: %s", r ? err.msg : "ok");
		extracted = policy_names_on_disk(at("xp-out/f"), settable);
		UNIT_STREQ(extracted, want, "xattr policy: pulled layers keep the same names");
	}
}

int main(void)
{
	char cmd[sizeof(base) + 32];

	umask(022);
	base_fd = unit_tmpdir(base);
	build_tree();

	test_tree(LAYER_ZSTD, CLAMP);
	test_tree(LAYER_GZIP, -1);
	test_empty(LAYER_ZSTD);
	test_empty(LAYER_GZIP);
	test_names_and_locale();
	test_refused();
	test_deep();
	test_write_error();
	test_names();
	test_overlay();
	test_xattr_policy();

	/* rm copes with the deep tree without one fd per level. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", base);
	if (getenv("KEEP"))
		printf("# kept %s\n", base);
	else if (system(cmd) != 0)
		printf("# could not remove %s\n", base);
	return UNIT_DONE();
}
