/* layers/extract.c: hostile layer blobs -> a directory. Tars are built byte
 * by byte here (names, types, sizes and pax records libarchive's writer
 * would refuse or fix), compressed with zlib/libzstd, and extracted into a
 * fresh directory next to a canary directory whose content and stat (inode,
 * mode, links, owner, size, times, xattrs) must not change. Round trips go
 * through layers/layer.c's writer. Needs root (mknod, chown, trusted.*
 * xattrs, mounts); mount-based parts are skipped where mounting fails.
 * CAIRN_BENCH=1 also measures throughput. */
#include "layers/layer.h"
#include "layers/xattr.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>

static char base[] = "/tmp/cairn-test-extract-XXXXXX";
static char *canary_before;

/* ---- small helpers --------------------------------------------------------- */

static const char *at(const char *rel)
{
	static char path[8][4200];
	static int slot;
	slot = (slot + 1) % 8;
	snprintf(path[slot], sizeof(path[slot]), "%s/%s", base, rel);
	return path[slot];
}

static bool is_type(const char *path, mode_t type)
{
	struct stat st;
	return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

static bool content_is(const char *path, const char *want)
{
	const char *got = unit_slurp(AT_FDCWD, path);
	return got && !strcmp(got, want);
}

static bool has_xattr(const char *path, const char *name, const char *val)
{
	char buf[256];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));
	return n == (ssize_t)strlen(val) && !memcmp(buf, val, (size_t)n);
}

static bool is_whiteout(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

/* ---- tree listings: the canary and round-trip comparisons ------------------ */

enum { L_CANARY = 1, L_ROUNDTRIP = 2 };

struct lister {
	int flags;
	cn_buf out;
	struct { ino_t ino; char *path; } *inos;
	size_t ninos, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool skip_xattr(const struct lister *l, const char *name)
{
	if (l->flags & L_CANARY)
		return false;
	/* What layers carry (layers/xattr.h), and the opaque marks. */
	return !layer_xattr_keep(name) && strcmp(name, "trusted.overlay.opaque") != 0;
}

static void list_xattrs(struct lister *l, int dfd, const char *name)
{
	char path[4200], names[4096], val[1024];
	const char *v[64];
	size_t n = 0;
	ssize_t len;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dfd, name);
	len = llistxattr(path, names, sizeof(names));
	for (ssize_t i = 0; i < len && n < 64; i += (ssize_t)strlen(names + i) + 1)
		if (!skip_xattr(l, names + i))
			v[n++] = names + i;
	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		ssize_t vl = lgetxattr(path, v[i], val, sizeof(val));
		cn_buf_addf(&l->out, " x:%s=", v[i]);
		for (ssize_t j = 0; j < vl; j++)
			cn_buf_addf(&l->out, "%02x", (unsigned char)val[j]);
	}
}

static void list_dir(struct lister *l, int dfd, const char *rel)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (!(fd >= 0 && (d = fdopendir(fd)) != NULL))
		unit_fixture_fail(rel);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		cn_xgrow((void **)&names, &cap, n + 1, sizeof(*names));
		names[n++] = cn_xstrdup(de->d_name);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = cn_xasprintf("%s%s%s", rel, *rel ? "/" : "", names[i]);
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
			unit_fixture_fail(path);
		if ((l->flags & L_ROUNDTRIP) && S_ISSOCK(st.st_mode))
			continue;       /* the writer skips sockets */
		cn_buf_addf(&l->out, "%s %o %04o %u:%u", path, (unsigned)(st.st_mode & S_IFMT) >> 12,
			    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid);
		if (S_ISREG(st.st_mode)) {
			int ffd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			char sha[CN_DIGEST_STR_SIZE];
			cn_buf data;
			cn_buf_init(&data, 0);
			if (ffd < 0)
				unit_fixture_fail(path);
			for (;;) {
				char chunk[65536];
				ssize_t r = read(ffd, chunk, sizeof(chunk));
				if (r < 0)
					unit_fixture_fail(path);
				if (r == 0)
					break;
				cn_buf_add(&data, chunk, (size_t)r);
			}
			close(ffd);
			cn_sha256_oneshot(data.data, data.len, sha);
			cn_buf_addf(&l->out, " size=%lld %.19s", (long long)st.st_size, sha + 7);
			cn_buf_free(&data);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4200];
			ssize_t r = readlinkat(dfd, names[i], target, sizeof(target) - 1);
			if (r < 0)
				unit_fixture_fail(path);
			target[r] = '\0';
			cn_buf_addf(&l->out, " -> %s", target);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			cn_buf_addf(&l->out, " dev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		}
		if (!S_ISLNK(st.st_mode) || (l->flags & L_CANARY))
			cn_buf_addf(&l->out, " m=%lld", (long long)st.st_mtim.tv_sec);
		if (l->flags & L_CANARY)
			cn_buf_addf(&l->out, " c=%lld.%09ld i=%llu n=%llu", (long long)st.st_ctim.tv_sec,
				    st.st_ctim.tv_nsec, (unsigned long long)st.st_ino,
				    (unsigned long long)st.st_nlink);
		if ((l->flags & L_ROUNDTRIP) && !S_ISDIR(st.st_mode) && st.st_nlink > 1) {
			size_t j;
			for (j = 0; j < l->ninos && l->inos[j].ino != st.st_ino; j++)
				;
			if (j == l->ninos) {
				cn_xgrow((void **)&l->inos, &l->cap, l->ninos + 1, sizeof(*l->inos));
				l->inos[l->ninos].ino = st.st_ino;
				l->inos[l->ninos++].path = cn_xstrdup(path);
			}
			cn_buf_addf(&l->out, " hl=%s", l->inos[j].path);
		}
		list_xattrs(l, dfd, names[i]);
		cn_buf_addc(&l->out, '\n');
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				unit_fixture_fail(path);
			list_dir(l, sub, path);
			close(sub);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static char *list_tree(const char *path, int flags)
{
	struct lister l = { .flags = flags };
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cn_buf_init(&l.out, 0);
	if (fd < 0)
		unit_fixture_fail(path);
	list_dir(&l, fd, "");
	close(fd);
	for (size_t i = 0; i < l.ninos; i++)
		free(l.inos[i].path);
	free(l.inos);
	return cn_buf_detach(&l.out);
}

/* The first line where A and B differ, for the test log. */
static void show_diff(const char *a, const char *b)
{
	while (*a && *b) {
		const char *ea = strchrnul(a, '\n'), *eb = strchrnul(b, '\n');
		if (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a))) {
			printf("#   want: %.*s\n#   got:  %.*s\n", (int)(ea - a), a, (int)(eb - b), b);
			return;
		}
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
	}
	if (*a || *b)
		printf("#   want: %.200s\n#   got:  %.200s\n", *a ? a : "(end)", *b ? b : "(end)");
}

static void check_canary(const char *what)
{
	_cleanup_free_ char *now = list_tree(at("canary"), L_CANARY);
	bool same = !strcmp(now, canary_before);
	UNIT_CHECK(same, "%s: canary next to the target unchanged", what);
	if (!same)
		show_diff(canary_before, now);
}

/* ---- tar bytes ------------------------------------------------------------ */

struct tent {
	const char *name;
	char type;              /* ustar typeflag */
	unsigned mode;          /* 0: 0644 (0755 for directories) */
	const char *link;
	const char *data;
	size_t datalen;         /* bytes of data actually written */
	int64_t size;           /* the header's size; -1: datalen */
	unsigned maj, min;
	unsigned uid, gid;
	int64_t mtime;
	const char *pax;        /* extra pax records, already formatted */
	size_t paxlen;
};

#define T_FILE(n, d) (struct tent){ .name = (n), .type = '0', .data = (d), .datalen = strlen(d), .size = -1 }
#define T_DIR(n) (struct tent){ .name = (n), .type = '5', .size = -1 }
#define T_SYM(n, l) (struct tent){ .name = (n), .type = '2', .link = (l), .size = -1 }
#define T_LINK(n, l) (struct tent){ .name = (n), .type = '1', .link = (l), .size = -1 }
#define T_NODE(t, n, ma, mi) (struct tent){ .name = (n), .type = (t), .maj = (ma), .min = (mi), .size = -1 }

static void pax_rec(cn_buf *b, const char *key, const char *val, size_t vlen)
{
	size_t n = strlen(key) + vlen + 3, len = n + 1;
	char digits[32];
	for (;;) {
		int d = snprintf(digits, sizeof(digits), "%zu", len);
		if ((size_t)d + n == len)
			break;
		len = (size_t)d + n;
	}
	cn_buf_addf(b, "%zu %s=", len, key);
	cn_buf_add(b, val, vlen);
	cn_buf_addc(b, '\n');
}

static void octal(char *field, size_t width, uint64_t v)
{
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%0*llo", (int)width - 1, (unsigned long long)v);
	memcpy(field, tmp, width - 1);
	field[width - 1] = '\0';
}

static void pad512(cn_buf *t)
{
	static const char zeros[512];
	if (t->len % 512)
		cn_buf_add(t, zeros, 512 - t->len % 512);
}

static void raw_header(cn_buf *t, const char *name, char type, unsigned mode, uint64_t size,
		       const char *link, const struct tent *e)
{
	unsigned char h[512];
	unsigned sum = 0;
	memset(h, 0, sizeof(h));
	memcpy(h, name, strnlen(name, 100));
	octal((char *)h + 100, 8, mode);
	octal((char *)h + 108, 8, e ? e->uid : 0);
	octal((char *)h + 116, 8, e ? e->gid : 0);
	if (size >= (1ull << 33)) {     /* base-256 */
		h[124] = 0x80;
		for (int i = 0; i < 8; i++)
			h[135 - i] = (unsigned char)(size >> (8 * i));
	} else {
		octal((char *)h + 124, 12, size);
	}
	octal((char *)h + 136, 12, e && e->mtime ? (uint64_t)e->mtime : 1600000000);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strnlen(link, 100));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	if (e) {
		octal((char *)h + 329, 8, e->maj);
		octal((char *)h + 337, 8, e->min);
	}
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	cn_buf_add(t, h, sizeof(h));
}

static void tar_add(cn_buf *t, const struct tent *e)
{
	bool long_name = strlen(e->name) > 99, long_link = e->link && strlen(e->link) > 99;
	uint64_t size = e->size >= 0 ? (uint64_t)e->size : e->datalen;
	unsigned mode = e->mode ? e->mode : e->type == '5' ? 0755 : 0644;

	if (long_name || long_link || e->pax) {
		cn_buf pax;
		cn_buf_init(&pax, 0);
		if (long_name)
			pax_rec(&pax, "path", e->name, strlen(e->name));
		if (long_link)
			pax_rec(&pax, "linkpath", e->link, strlen(e->link));
		if (e->pax)
			cn_buf_add(&pax, e->pax, e->paxlen);
		raw_header(t, "PaxHeader", 'x', 0644, pax.len, NULL, NULL);
		cn_buf_add(t, pax.data, pax.len);
		pad512(t);
		cn_buf_free(&pax);
	}
	raw_header(t, e->name, e->type, mode, size, e->link, e);
	if (e->datalen) {
		cn_buf_add(t, e->data, e->datalen);
		pad512(t);
	}
}

static void tar_end(cn_buf *t)
{
	static const char zeros[1024];
	cn_buf_add(t, zeros, sizeof(zeros));
}

/* A whole tar from a list of entries. */
static void tar_of(cn_buf *t, const struct tent *v, size_t n)
{
	cn_buf_init(t, 0);
	for (size_t i = 0; i < n; i++)
		tar_add(t, &v[i]);
	tar_end(t);
}

#define TAR(t, ...) do {                                                   \
	const struct tent tar_v_[] = { __VA_ARGS__ };                       \
	tar_of((t), tar_v_, CN_ARRAY_SIZE(tar_v_));                         \
} while (0)

static void gz(const void *in, size_t len, cn_buf *out, int level)
{
	z_stream zs;
	unsigned char chunk[65536];
	int r;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		unit_fixture_fail("deflate");
	zs.next_in = in;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		r = deflate(&zs, Z_FINISH);
		cn_buf_add(out, chunk, sizeof(chunk) - zs.avail_out);
	} while (r == Z_OK || r == Z_BUF_ERROR);
	if (r != Z_STREAM_END)
		unit_fixture_fail("deflate end");
	deflateEnd(&zs);
}

static void zs(const void *in, size_t len, cn_buf *out)
{
	size_t cap = ZSTD_compressBound(len), n;
	char *p = cn_xmalloc(cap);
	n = ZSTD_compress(p, cap, in, len, 3);
	if (!(!ZSTD_isError(n)))
		unit_fixture_fail("zstd");
	cn_buf_add(out, p, n);
	free(p);
}

static cn_buf *empty_buf(cn_buf *b)
{
	cn_buf_init(b, 0);
	return b;
}

/* LEN bytes of tar as a blob compressed the C-th way: 0 gzip, 1 zstd, 2 plain. */
static const char *blob_as(int c, const void *tar, size_t len, cn_buf *blob)
{
	if (c == 0)
		gz(tar, len, blob, 6);
	else if (c == 1)
		zs(tar, len, blob);
	else
		cn_buf_add(blob, tar, len);
	return c == 0 ? "gzip" : c == 1 ? "zstd" : "plain";
}

/* ---- running the extractor ------------------------------------------------- */

static int blob_fd(const void *blob, size_t len)
{
	int fd = memfd_create("blob", MFD_CLOEXEC);
	if (!(fd >= 0 && cn_write_all(fd, blob, len) == 0 && lseek(fd, 0, SEEK_SET) == 0))
		unit_fixture_fail("memfd");
	return fd;
}

/* A fresh directory base/NAME (removed first if it exists). */
static int fresh(const char *name)
{
	int fd;
	if (cn_rm_rf_at(AT_FDCWD, at(name), NULL) != 0)
		unit_fixture_fail(name);
	unit_mkdir(AT_FDCWD, at(name), 0755);
	fd = open(at(name), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		unit_fixture_fail(name);
	return fd;
}

struct xopts {
	bool add;               /* the ADD form; default: snapshot form */
	uint64_t max_bytes, max_entries;
	bool keep;              /* extract into an existing directory */
};

static int extract_into(const void *blob, size_t len, const char *target, const struct xopts *xo,
			struct layer_extract_result *res, cn_err *err)
{
	struct layer_extract_opts o = {
		.overlay_whiteouts = !(xo && xo->add),
		.max_bytes = xo ? xo->max_bytes : 0,
		.max_entries = xo ? xo->max_entries : 0,
		.numeric_owner = true,
	};
	int tfd = xo && xo->keep ? open(at(target), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : fresh(target);
	int bfd = blob_fd(blob, len);
	int r;
	if (tfd < 0)
		unit_fixture_fail(target);
	memset(err, 0, sizeof(*err));
	r = layer_extract(bfd, tfd, &o, res, err);
	close(bfd);
	close(tfd);
	return r;
}

static int x_tar(const cn_buf *t, const char *target, const struct xopts *xo, cn_err *err)
{
	struct layer_extract_result res;
	return extract_into(t->data, t->len, target, xo, &res, err);
}

/* Extraction must fail with a message containing WANT (and, when given,
 * naming the entry NAME). */
static void expect_fail(const char *what, const cn_buf *t, const struct xopts *xo, const char *want,
			const char *name)
{
	cn_err err;
	int r = x_tar(t, "t", xo, &err);
	bool named = true;
	if (name) {
		_cleanup_free_ char *q = cn_xasprintf("entry \"%s\"", name);
		named = strstr(err.msg, q) != NULL;
	}
	UNIT_CHECK(r < 0 && strstr(err.msg, want) && named, "%s: refused: %s", what,
		   r < 0 ? err.msg : "(succeeded)");
}

static void expect_ok(const char *what, const cn_buf *t, const struct xopts *xo)
{
	cn_err err;
	int r = x_tar(t, "t", xo, &err);
	UNIT_CHECK(r == 0, "%s: extracted: %s", what, r ? err.msg : "ok");
}

static const struct xopts ADD = { .add = true };
static const struct xopts ADD_KEEP = { .add = true, .keep = true };
static const struct xopts SNAP_KEEP = { .keep = true };

/* ---- §3.1 tests 1, 2, 13: names that escape -------------------------------- */

static void test_tar_slip(void)
{
	const char *canary_abs = at("canary");
	_cleanup_free_ char *deep = cn_xasprintf("../../../../../../../../..%s/pwn", canary_abs);
	const char *names[] = { "../x", "../canary/pwn", "/../canary/pwn", "./../x", "a/../../x",
				"a/b/../../../x", deep };
	cn_buf t;

	for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++) {
		char what[64];
		snprintf(what, sizeof(what), "tar-slip %zu", i);
		TAR(&t, T_FILE("ok", "fine"), T_FILE(names[i], "pwned"));
		expect_fail(what, &t, NULL, "path escapes the root", names[i]);
		expect_fail(what, &t, &ADD, "path escapes the root", names[i]);
		cn_buf_free(&t);
	}
	UNIT_CHECK(!unit_exists(AT_FDCWD, at("x")) && !unit_exists(AT_FDCWD, at("canary/pwn")), "tar-slip: nothing next to the target");
	check_canary("tar-slip");

	/* ".." that stays inside is applied by name. */
	TAR(&t, T_FILE("a/../b", "b"), T_FILE("./c/./d/../e", "e"));
	expect_ok("inner ..", &t, NULL);
	UNIT_CHECK(content_is(at("t/b"), "b") && content_is(at("t/c/e"), "e") && !unit_exists(AT_FDCWD, at("t/a")),
		   "inner ..: a/../b is b, c/./d/../e is c/e");
	cn_buf_free(&t);
}

static void test_absolute(void)
{
	_cleanup_free_ char *abs1 = cn_xasprintf("%s/pwn", at("canary"));
	_cleanup_free_ char *abs2 = cn_xasprintf("/%s/pwn2", at("canary"));
	_cleanup_free_ char *abs3 = cn_xasprintf("/.%s/pwn3", at("canary"));
	_cleanup_free_ char *in1 = cn_xasprintf("t%s", abs1);
	cn_buf t;

	TAR(&t, T_FILE(abs1, "1"), T_FILE(abs2, "2"), T_FILE(abs3, "3"), T_FILE("/etc/passwd", "root"));
	expect_ok("absolute names", &t, NULL);
	UNIT_CHECK(content_is(at(in1), "1") && content_is(at("t/etc/passwd"), "root"),
		   "absolute names: stored under the target (%s)", in1);
	UNIT_CHECK(!unit_exists(AT_FDCWD, at("canary/pwn")) && !unit_exists(AT_FDCWD, at("canary/pwn2")) && !unit_exists(AT_FDCWD, at("canary/pwn3")),
		   "absolute names: nothing written at the host path");
	check_canary("absolute names");
	cn_buf_free(&t);
}

static void test_prefix_sibling(void)
{
	cn_buf t;
	_cleanup_free_ char *before = NULL, *after = NULL;
	if (cn_rm_rf_at(AT_FDCWD, at("root-evil"), NULL) != 0)
		unit_fixture_fail("rm");
	unit_mkdir(AT_FDCWD, at("root-evil"), 0755);
	unit_put(AT_FDCWD, at("root-evil/x"), "evil", 0644);
	before = list_tree(at("root-evil"), L_CANARY);

	TAR(&t, T_FILE("../root-evil/x", "pwned"));
	if (cn_rm_rf_at(AT_FDCWD, at("root"), NULL) != 0)
		unit_fixture_fail("rm");
	{
		cn_err err;
		struct layer_extract_result res;
		int r = extract_into(t.data, t.len, "root", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "escapes"), "prefix sibling: ../root-evil/x refused: %s",
			   err.msg);
	}
	cn_buf_free(&t);
	TAR(&t, T_SYM("ev", "../root-evil"), T_FILE("ev/x", "confined"),
	    T_SYM("ev2", "/../root-evil"), T_FILE("ev2/y", "confined"));
	{
		cn_err err;
		struct layer_extract_result res;
		int r = extract_into(t.data, t.len, "root", NULL, &res, &err);
		UNIT_CHECK(r == 0 && content_is(at("root/ev/x"), "confined") &&
			   content_is(at("root/ev2/y"), "confined"),
			   "prefix sibling: symlinks to ../root-evil resolve inside: %s", r ? err.msg : "ok");
	}
	after = list_tree(at("root-evil"), L_CANARY);
	UNIT_CHECK(!strcmp(before, after), "prefix sibling: root-evil untouched");
	check_canary("prefix sibling");
	cn_buf_free(&t);
}

/* ---- tests 3, 4: symlinks then writes ------------------------------------- */

static void test_symlink_write(bool add)
{
	const char *form = add ? "ADD" : "snapshot";
	_cleanup_free_ char *canary_abs = cn_xasprintf("%s", at("canary"));
	_cleanup_free_ char *far = cn_xasprintf("../../../../../../../..%s", canary_abs);
	cn_buf t;

	TAR(&t, T_DIR("real/"), T_DIR("dummy/"),
	    T_SYM("etc", "/real"), T_FILE("etc/passwd", "inside"),
	    T_SYM("localetc", "/dummy/../real"), T_FILE("localetc/unbroken", "u"),
	    T_SYM("dummy/etc", "/real"), T_SYM("chain", "./dummy/etc"), T_FILE("chain/chained", "c"),
	    T_SYM("esc", canary_abs), T_FILE("esc/pwn", "1"),
	    T_SYM("esc2", "../canary"), T_FILE("esc2/pwn", "2"),
	    T_SYM("esc3", far), T_FILE("esc3/pwn", "3"),
	    T_DIR("canary/"), T_SYM("esc4", "../canary"), T_FILE("esc4/pwn", "4"),
	    T_SYM("up", "../"), T_FILE("up/upfile", "up"));
	expect_ok(form, &t, add ? &ADD : NULL);
	UNIT_CHECK(content_is(at("t/real/passwd"), "inside") && is_type(at("t/etc"), S_IFLNK),
		   "%s: etc -> /real, etc/passwd lands in real/", form);
	UNIT_CHECK(content_is(at("t/real/unbroken"), "u") && content_is(at("t/real/chained"), "c"),
		   "%s: /dummy/../real and a two-symlink chain resolve inside", form);
	UNIT_CHECK(content_is(at("t/esc/pwn"), "1") && content_is(at("t/esc2/pwn"), "2") &&
		   content_is(at("t/esc3/pwn"), "3"),
		   "%s: symlinks to the host canary do not resolve: replaced by directories", form);
	UNIT_CHECK(content_is(at("t/canary/pwn"), "4") && is_type(at("t/esc4"), S_IFLNK),
		   "%s: ../canary resolves to the target's own canary/", form);
	UNIT_CHECK(content_is(at("t/upfile"), "up"), "%s: up -> ../ is the root", form);
	check_canary(form);
	cn_buf_free(&t);
}

static void test_symlink_override(void)
{
	/* X is named after this run's own temp dir (mkdtemp made its suffix),
	 * so the host's /tmp cannot hold it unless the extraction escaped
	 * through foo -> / and wrote it there. */
	_cleanup_free_ char *x = cn_xasprintf("%s.escape", strrchr(base, '/') + 1);
	_cleanup_free_ char *host_x = cn_xasprintf("/tmp/%s", x);
	_cleanup_free_ char *tar_x = cn_xasprintf("foo/tmp/%s", x);
	_cleanup_free_ char *target_x = cn_xasprintf("t/tmp/%s", x);
	_cleanup_free_ char *base_abs = cn_xasprintf("%s", base);
	cn_buf t;

	if (!(!unit_exists(AT_FDCWD, host_x)))
		unit_fixture_fail("SymlinkOverridePath: the host has no /tmp/<unique>.escape before");
	TAR(&t, T_DIR("foo/"), T_DIR("foo/tmp/"), T_FILE(tar_x, "first"),
	    T_SYM("foo", "/"), T_FILE(tar_x, "second"),
	    T_SYM("bar", base_abs), T_FILE("bar/canary/pwn", "no"));
	expect_ok("SymlinkOverridePath", &t, NULL);
	UNIT_CHECK(is_type(at("t/foo"), S_IFLNK) && content_is(at(target_x), "second"),
		   "SymlinkOverridePath: foo -> / replaced the directory; foo/tmp/X is the target's tmp/X");
	UNIT_CHECK(!unit_exists(AT_FDCWD, host_x), "SymlinkOverridePath: host %s not created", host_x);
	unlink(host_x);
	UNIT_CHECK(content_is(at("t/bar/canary/pwn"), "no"), "SymlinkOverridePath: bar/canary/pwn inside");
	check_canary("SymlinkOverridePath");
	cn_buf_free(&t);
}

/* ---- test 5: the root ------------------------------------------------------ */

static void test_root(void)
{
	const struct tent bad[] = {
		T_SYM(".", "/"), T_SYM("./", "/"), T_NODE('3', "/", 1, 3), T_FILE(".", "x"),
		T_LINK("./", "f"), T_NODE('6', "a/..", 0, 0),
	};
	cn_buf t;
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		char what[64];
		snprintf(what, sizeof(what), "root entry %zu (%s)", i, bad[i].name);
		cn_buf_init(&t, 0);
		tar_add(&t, &T_FILE("f", "f"));
		tar_add(&t, &bad[i]);
		tar_add(&t, &T_FILE("etc/shadow", "x"));
		tar_end(&t);
		expect_fail(what, &t, NULL, "refusing to replace the root directory", bad[i].name);
		UNIT_CHECK(is_type(at("t"), S_IFDIR) && !unit_exists(AT_FDCWD, at("t/etc")),
			   "%s: the target is still a directory, nothing after", what);
		cn_buf_free(&t);
	}
	TAR(&t, T_DIR("./"), T_DIR("/"), T_FILE("etc/shadow", "x"));
	expect_ok("root directory entries", &t, NULL);
	UNIT_CHECK(content_is(at("t/etc/shadow"), "x"), "root directory entries are ignored");
	cn_buf_free(&t);
}

/* ---- tests 6-9: hardlinks -------------------------------------------------- */

static void test_hardlinks(void)
{
	_cleanup_free_ char *canary_abs = cn_xasprintf("%s", at("canary"));
	_cleanup_free_ char *perm400 = cn_xasprintf("%s/perm400", canary_abs);
	struct stat host_before, host_after, a, b;
	cn_buf t;
	bool host = stat("/etc/passwd", &host_before) == 0;

	TAR(&t, T_FILE("etc/passwd", "inside"), T_LINK("mypasswd", "../../../../etc/passwd"));
	expect_fail("HardlinkRelativeUpAndOut", &t, NULL, "hardlink target escapes the root", "mypasswd");
	cn_buf_free(&t);

	TAR(&t, T_FILE("etc/passwd", "inside"), T_LINK("abs", "/etc/passwd"),
	    T_SYM("d1", "../../etc"), T_LINK("via", "d1/passwd"), T_LINK("same", "etc/passwd"),
	    T_LINK("same", "etc/passwd"));
	expect_ok("HardlinkAbsolute", &t, NULL);
	UNIT_CHECK(stat(at("t/etc/passwd"), &a) == 0 && stat(at("t/abs"), &b) == 0 &&
		   a.st_ino == b.st_ino && a.st_nlink == 4,
		   "HardlinkAbsolute: /etc/passwd is the layer's etc/passwd (4 links)");
	UNIT_CHECK(lstat(at("t/via"), &b) == 0 && a.st_ino == b.st_ino,
		   "HardlinkSymlinkRelative: d1/passwd through d1 -> ../../etc is inside");
	UNIT_CHECK(!host || (stat("/etc/passwd", &host_after) == 0 &&
			     host_after.st_nlink == host_before.st_nlink),
		   "hardlinks: host /etc/passwd link count unchanged");
	cn_buf_free(&t);

	TAR(&t, T_SYM("d2", canary_abs), T_LINK("lnk2", "d2/passwd"));
	expect_fail("hardlink via a symlink to the host", &t, NULL, "hardlink target not found", "lnk2");
	cn_buf_free(&t);
	TAR(&t, T_DIR("dir/"), T_LINK("dl", "dir"));
	expect_fail("hardlink to a directory", &t, NULL, "hardlink to a directory", "dl");
	cn_buf_free(&t);
	TAR(&t, T_LINK("dangling", "nowhere"));
	expect_fail("hardlink to nothing", &t, NULL, "hardlink target not found", "dangling");
	cn_buf_free(&t);
	TAR(&t, T_LINK("tr", "."));
	expect_fail("hardlink to the root", &t, NULL, "hardlink to the root", "tr");
	cn_buf_free(&t);

	/* Test 7: a hardlink entry with a payload (pax: libarchive would read it). */
	{
		struct tent l = T_LINK("victim-link", "victim");
		cn_buf pax;
		cn_buf_init(&pax, 0);
		pax_rec(&pax, "comment", "x", 1);
		l.data = "PWNED!";
		l.datalen = 6;
		l.pax = pax.data;
		l.paxlen = pax.len;
		cn_buf_init(&t, 0);
		tar_add(&t, &T_FILE("victim", "orig"));
		tar_add(&t, &l);
		tar_end(&t);
		expect_fail("hardlink with data", &t, NULL, "hardlink entry with data", "victim-link");
		UNIT_CHECK(content_is(at("t/victim"), "orig") && !unit_exists(AT_FDCWD, at("t/victim-link")),
			   "hardlink with data: the target keeps its content, no link");
		cn_buf_free(&t);
		cn_buf_free(&pax);
	}

	/* Test 8: HardlinkSymlinkChmod. */
	{
		struct tent l = T_LINK("sketchy", "p");
		struct tent s = T_SYM("p", perm400);
		l.mode = 0777;
		l.uid = 1234;
		s.mode = 0777;
		s.uid = 1234;
		cn_buf_init(&t, 0);
		tar_add(&t, &s);
		tar_add(&t, &l);
		tar_end(&t);
		expect_ok("HardlinkSymlinkChmod", &t, NULL);
		UNIT_CHECK(lstat(at("t/sketchy"), &a) == 0 && S_ISLNK(a.st_mode) &&
			   lstat(at("t/p"), &b) == 0 && a.st_ino == b.st_ino && b.st_uid == 1234,
			   "HardlinkSymlinkChmod: sketchy is a second name of the symlink p");
		check_canary("HardlinkSymlinkChmod");
		cn_buf_free(&t);
	}

	/* Test 9: links made in order, never deferred past a later symlink. */
	TAR(&t, T_FILE("victim", "v"), T_LINK("door/escaped", "victim"), T_SYM("door", "../canary"),
	    T_LINK("door2/escaped", "victim"), T_SYM("door2", canary_abs));
	expect_ok("deferred hardlink", &t, NULL);
	UNIT_CHECK(is_type(at("t/door"), S_IFLNK) && is_type(at("t/door2"), S_IFLNK) &&
		   !unit_exists(AT_FDCWD, at("canary/escaped")), "deferred hardlink: nothing in the canary");
	check_canary("deferred hardlink");
	cn_buf_free(&t);
}

/* ---- tests 10-12, 17: whiteouts ------------------------------------------- */

static void test_bad_whiteouts(bool add)
{
	const char *form = add ? "ADD" : "snapshot";
	const struct tent bad[] = {
		T_FILE(".wh..", ""), T_FILE(".wh...", ""), T_FILE("etc/.wh..", ""),
		T_FILE("etc/.wh...", ""), T_FILE(".wh.", ""), T_FILE("etc/.wh.", ""),
		T_DIR(".wh.foo/"), T_SYM("etc/.wh.keep", "x"), T_FILE("a/.wh.x/b", ""),
	};
	cn_buf t;
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		char what[80];
		snprintf(what, sizeof(what), "%s: whiteout %s", form, bad[i].name);
		cn_buf_init(&t, 0);
		tar_add(&t, &T_DIR("etc/"));
		tar_add(&t, &T_FILE("etc/keep", "k"));
		tar_add(&t, &T_FILE("top", "t"));
		tar_add(&t, &bad[i]);
		tar_end(&t);
		expect_fail(what, &t, add ? &ADD : NULL, i < 6 ? "invalid whiteout name" :
			    i < 8 ? "invalid whiteout: not a regular file" : "a directory named",
			    bad[i].name);
		UNIT_CHECK(content_is(at("t/etc/keep"), "k") && content_is(at("t/top"), "t"),
			   "%s: parent and root intact", what);
		cn_buf_free(&t);
	}
	check_canary(form);
}

static void test_whiteout_symlink(void)
{
	_cleanup_free_ char *canary_abs = cn_xasprintf("%s", at("canary"));
	cn_buf t;
	int fd;

	/* ADD form over an older tree: localetc -> /realetc. */
	fd = fresh("t");
	close(fd);
	unit_mkdir(AT_FDCWD, at("t/realetc"), 0755);
	unit_put(AT_FDCWD, at("t/realetc/passwd"), "p", 0644);
	unit_put(AT_FDCWD, at("t/realetc/group"), "g", 0644);
	unit_symlink(AT_FDCWD, "/realetc", at("t/localetc"));
	unit_symlink(AT_FDCWD, canary_abs, at("t/hostetc"));
	TAR(&t, T_FILE("localetc/.wh.passwd", ""), T_FILE("hostetc/.wh.passwd", ""),
	    T_FILE("hostetc/.wh.perm400", ""));
	expect_ok("WhiteoutSymlinkPath (ADD)", &t, &ADD_KEEP);
	UNIT_CHECK(!unit_exists(AT_FDCWD, at("t/realetc/passwd")) && unit_exists(AT_FDCWD, at("t/realetc/group")) &&
		   is_type(at("t/localetc"), S_IFLNK),
		   "WhiteoutSymlinkPath (ADD): removes realetc/passwd, through the symlink, inside");
	check_canary("WhiteoutSymlinkPath (ADD)");
	cn_buf_free(&t);

	/* Snapshot form: the symlinks are in the same layer. */
	TAR(&t, T_DIR("realetc/"), T_SYM("localetc", "/realetc"), T_FILE("localetc/.wh.passwd", ""),
	    T_SYM("hostetc", canary_abs), T_FILE("hostetc/.wh.passwd", ""));
	expect_ok("WhiteoutSymlinkPath", &t, NULL);
	UNIT_CHECK(is_whiteout(at("t/realetc/passwd")) && is_whiteout(at("t/hostetc/passwd")),
		   "WhiteoutSymlinkPath: whiteouts made inside (hostetc replaced by a directory)");
	check_canary("WhiteoutSymlinkPath");
	cn_buf_free(&t);
}

/* Test 12 and same-layer whiteouts, ADD form over an older tree. */
static void prepare_lower(void)
{
	int fd = fresh("t");
	close(fd);
	unit_mkdir(AT_FDCWD, at("t/a"), 0755);
	unit_mkdir(AT_FDCWD, at("t/a/b"), 0755);
	unit_mkdir(AT_FDCWD, at("t/a/b/c"), 0755);
	unit_put(AT_FDCWD, at("t/a/b/c/bar"), "bar", 0644);
	unit_put(AT_FDCWD, at("t/a/b/old"), "old", 0644);
	unit_put(AT_FDCWD, at("t/a/keep"), "keep", 0644);
	unit_put(AT_FDCWD, at("t/h"), "h", 0644);
	unit_mkdir(AT_FDCWD, at("t/d"), 0755);
	unit_put(AT_FDCWD, at("t/d/old"), "old", 0644);
}

static void test_opaque_add(void)
{
	cn_buf t;
	const char *const orders[] = { "marker last", "marker first", "marker last, no parent entries" };
	for (int i = 0; i < 3; i++) {
		prepare_lower();
		if (i == 0)
			TAR(&t, T_DIR("a/"), T_DIR("a/b/"), T_FILE("a/b/c/foo", "foo"),
			    T_FILE("a/.wh..wh..opq", ""));
		else if (i == 1)
			TAR(&t, T_DIR("a/"), T_FILE("a/.wh..wh..opq", ""), T_DIR("a/b/"),
			    T_FILE("a/b/c/foo", "foo"));
		else
			TAR(&t, T_FILE("a/b/c/foo", "foo"), T_FILE("a/.wh..wh..opq", ""));
		expect_ok(orders[i], &t, &ADD_KEEP);
		UNIT_CHECK(content_is(at("t/a/b/c/foo"), "foo") && !unit_exists(AT_FDCWD, at("t/a/b/c/bar")) &&
			   !unit_exists(AT_FDCWD, at("t/a/keep")) && !unit_exists(AT_FDCWD, at("t/a/b/old")),
			   "opaque (ADD, %s): a/b/c/foo kept, older a/* gone", orders[i]);
		cn_buf_free(&t);
	}

	prepare_lower();
	TAR(&t, T_FILE("f", "f"), T_FILE(".wh.f", ""), T_FILE(".wh.g", ""), T_FILE("g", "g"),
	    T_FILE(".wh.h", ""), T_FILE("d/new", "new"), T_FILE(".wh.d", ""), T_FILE(".wh.nothing", ""));
	expect_ok("same-layer whiteouts (ADD)", &t, &ADD_KEEP);
	UNIT_CHECK(content_is(at("t/f"), "f") && content_is(at("t/g"), "g"),
		   "same-layer whiteouts (ADD): this layer's f and g survive their whiteouts");
	UNIT_CHECK(!unit_exists(AT_FDCWD, at("t/h")), "same-layer whiteouts (ADD): older h removed");
	UNIT_CHECK(content_is(at("t/d/new"), "new") && !unit_exists(AT_FDCWD, at("t/d/old")),
		   "same-layer whiteouts (ADD): .wh.d keeps this layer's d/new, removes d/old");
	cn_buf_free(&t);
}

static void test_opaque_snapshot(void)
{
	cn_buf t;
	char opts[4096];
	bool mounted;

	/* Layer 1 and layer 2 as two snapshots. */
	TAR(&t, T_DIR("a/"), T_DIR("a/b/"), T_DIR("a/b/c/"), T_FILE("a/b/c/bar", "bar"),
	    T_FILE("a/keep", "keep"), T_FILE("h", "h"), T_DIR("d/"), T_FILE("d/old", "old"));
	{
		cn_err err;
		struct layer_extract_result res;
		int r = extract_into(t.data, t.len, "l1", NULL, &res, &err);
		UNIT_CHECK(r == 0, "opaque (snapshot): layer 1: %s", r ? err.msg : "ok");
	}
	cn_buf_free(&t);
	TAR(&t, T_DIR("a/"), T_DIR("a/b/"), T_FILE("a/b/c/foo", "foo"), T_FILE("a/.wh..wh..opq", ""),
	    T_FILE("f", "f"), T_FILE(".wh.f", ""), T_FILE(".wh.g", ""), T_FILE("g", "g"),
	    T_FILE(".wh.h", ""), T_DIR("d/"), T_FILE("d/new", "new"), T_FILE(".wh.d", ""),
	    T_FILE("e", "file first"), T_DIR("e/"), T_FILE("e/in", "in"));
	{
		cn_err err;
		struct layer_extract_result res;
		int r = extract_into(t.data, t.len, "l2", NULL, &res, &err);
		UNIT_CHECK(r == 0, "opaque (snapshot): layer 2: %s", r ? err.msg : "ok");
	}
	cn_buf_free(&t);
	UNIT_CHECK(has_xattr(at("l2/a"), "trusted.overlay.opaque", "y") &&
		   content_is(at("l2/a/b/c/foo"), "foo") && !has_xattr(at("l2/a/b"), "trusted.overlay.opaque", "y"),
		   "opaque (snapshot): marker after siblings: a/ opaque, a/b/c/foo there");
	UNIT_CHECK(content_is(at("l2/f"), "f") && content_is(at("l2/g"), "g") && is_whiteout(at("l2/h")),
		   "same-layer whiteouts (snapshot): f and g are files, h a 0/0 whiteout");
	UNIT_CHECK(has_xattr(at("l2/d"), "trusted.overlay.opaque", "y") && content_is(at("l2/d/new"), "new"),
		   "same-layer whiteouts (snapshot): d/ plus .wh.d is an opaque directory");
	UNIT_CHECK(has_xattr(at("l2/e"), "trusted.overlay.opaque", "y"),
		   "snapshot: a directory replacing a same-layer file is opaque");

	/* What overlayfs makes of it. */
	unit_mkdir(AT_FDCWD, at("merged"), 0755);
	snprintf(opts, sizeof(opts), "lowerdir=%s:%s", at("l2"), at("l1"));
	mounted = mount("overlay", at("merged"), "overlay", MS_RDONLY, opts) == 0;
	if (!mounted) {
		UNIT_SKIP(strerror(errno), "opaque (snapshot): overlay mount of the two snapshots");
	} else {
		UNIT_CHECK(content_is(at("merged/a/b/c/foo"), "foo") && !unit_exists(AT_FDCWD, at("merged/a/b/c/bar")) &&
			   !unit_exists(AT_FDCWD, at("merged/a/keep")) && !unit_exists(AT_FDCWD, at("merged/h")) &&
			   content_is(at("merged/d/new"), "new") && !unit_exists(AT_FDCWD, at("merged/d/old")) &&
			   content_is(at("merged/f"), "f"),
			   "opaque (snapshot): overlayfs shows layer 2 over layer 1 as the spec says");
		if (umount(at("merged")) != 0)
			unit_fixture_fail("umount");
	}
	rmdir(at("merged"));
}

static void test_devices(void)
{
	cn_buf t;
	struct stat st;
	TAR(&t, T_FILE("a", "a"), T_NODE('3', "notawhiteout", 0, 0));
	expect_fail("0/0 char device", &t, NULL, "character device 0/0", "notawhiteout");
	expect_fail("0/0 char device (ADD)", &t, &ADD, "character device 0/0", "notawhiteout");
	cn_buf_free(&t);
	TAR(&t, T_FILE(".wh.w", ""), T_LINK("x", "w"));
	expect_fail("hardlink to a whiteout", &t, NULL, "hardlink to a whiteout", "x");
	cn_buf_free(&t);
	TAR(&t, T_NODE('4', "sda", 8, 0), T_NODE('3', "mem", 1, 1), T_NODE('6', "fifo", 0, 0),
	    T_NODE('4', "blk00", 0, 0));
	expect_ok("devices", &t, NULL);
	UNIT_CHECK(lstat(at("t/sda"), &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == makedev(8, 0) &&
		   lstat(at("t/mem"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 1) &&
		   is_type(at("t/fifo"), S_IFIFO) && is_type(at("t/blk00"), S_IFBLK),
		   "devices: block 8:0, char 1:1, fifo, block 0:0 kept (store 0700, mounts nodev)");
	cn_buf_free(&t);
}

/* Test 16: overlay xattrs in the tar never become live; others kept. */
static void test_xattrs(void)
{
	cn_buf t, pax;
	struct tent d = T_DIR("dir/"), f = T_FILE("file", "x"), s = T_SYM("sym", "file");
	cn_buf_init(&pax, 0);
	pax_rec(&pax, "SCHILY.xattr.trusted.overlay.opaque", "y", 1);
	pax_rec(&pax, "SCHILY.xattr.trusted.overlay.redirect", "/etc", 4);
	pax_rec(&pax, "SCHILY.xattr.user.overlay.opaque", "y", 1);
	pax_rec(&pax, "SCHILY.xattr.user.keep", "k", 1);
	pax_rec(&pax, "SCHILY.xattr.security.selinux", "system_u:object_r:etc_t:s0", 26);
	d.pax = f.pax = s.pax = pax.data;
	d.paxlen = f.paxlen = s.paxlen = pax.len;
	cn_buf_init(&t, 0);
	tar_add(&t, &d);
	tar_add(&t, &f);
	tar_add(&t, &s);
	tar_end(&t);
	expect_ok("overlay xattrs", &t, NULL);
	UNIT_CHECK(!has_xattr(at("t/dir"), "trusted.overlay.opaque", "y") &&
		   lgetxattr(at("t/file"), "trusted.overlay.redirect", NULL, 0) < 0 &&
		   lgetxattr(at("t/file"), "user.overlay.opaque", NULL, 0) < 0 &&
		   lgetxattr(at("t/file"), "security.selinux", NULL, 0) < 0,
		   "overlay xattrs: trusted.overlay.*, user.overlay.*, security.selinux dropped");
	UNIT_CHECK(has_xattr(at("t/dir"), "user.keep", "k") && has_xattr(at("t/file"), "user.keep", "k"),
		   "overlay xattrs: user.keep kept (not on the symlink: the kernel forbids it)");
	cn_buf_free(&t);
	cn_buf_free(&pax);
}

/* Owners are numbers; setuid bits survive the chown. */
static void test_metadata(void)
{
	cn_buf t, pax;
	struct tent f = T_FILE("bin/suid", "#!"), g = T_FILE("bin/sgid", "#!"), d = T_DIR("tmp/");
	struct tent n = T_FILE("named", "n");
	struct stat st;
	cn_buf_init(&pax, 0);
	pax_rec(&pax, "uname", "evil", 4);
	pax_rec(&pax, "gname", "evil", 4);
	pax_rec(&pax, "mtime", "1234567890.5", 12);
	pax_rec(&pax, "SCHILY.xattr.security.capability",
		"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
	f.mode = 04755;
	f.uid = 1000;
	f.gid = 1000;
	g.mode = 02711;
	g.gid = 50;
	d.mode = 01777;
	n.uid = 1234;
	n.gid = 4321;
	n.pax = pax.data;
	n.paxlen = pax.len;
	cn_buf_init(&t, 0);
	tar_add(&t, &f);
	tar_add(&t, &g);
	tar_add(&t, &d);
	tar_add(&t, &n);
	tar_end(&t);
	expect_ok("metadata", &t, NULL);
	UNIT_CHECK(lstat(at("t/bin/suid"), &st) == 0 && (st.st_mode & 07777) == 04755 &&
		   st.st_uid == 1000 && st.st_gid == 1000, "metadata: setuid 04755 1000:1000 kept");
	UNIT_CHECK(lstat(at("t/bin/sgid"), &st) == 0 && (st.st_mode & 07777) == 02711 && st.st_gid == 50,
		   "metadata: setgid 02711 kept");
	UNIT_CHECK(lstat(at("t/tmp"), &st) == 0 && (st.st_mode & 07777) == 01777, "metadata: sticky 01777");
	UNIT_CHECK(lstat(at("t/named"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 4321 &&
		   st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 500000000,
		   "metadata: uname/gname ignored (numeric 1234:4321), pax mtime with nanoseconds");
	UNIT_CHECK(lgetxattr(at("t/named"), "security.capability", NULL, 0) == 20,
		   "metadata: security.capability set after the chown that would clear it");
	UNIT_CHECK(lstat(at("t/bin"), &st) == 0 && (st.st_mode & 07777) == 0755 && st.st_uid == 0,
		   "metadata: a missing parent is made 0755 root:root");
	cn_buf_free(&t);
	cn_buf_free(&pax);
}

/* Replacing existing entries (ADD form over an older tree, and in one layer). */
static void test_replace(void)
{
	cn_buf t;
	int fd = fresh("t");
	close(fd);
	unit_mkdir(AT_FDCWD, at("t/dir"), 0700);
	unit_put(AT_FDCWD, at("t/dir/old"), "old", 0644);
	unit_mkdir(AT_FDCWD, at("t/gone"), 0755);
	unit_put(AT_FDCWD, at("t/gone/x"), "x", 0644);
	unit_put(AT_FDCWD, at("t/file"), "file", 0644);
	unit_symlink(AT_FDCWD, "/nowhere", at("t/dangling"));
	{
		struct tent d = T_DIR("dir/");
		d.mode = 0750;
		cn_buf_init(&t, 0);
		tar_add(&t, &d);
		tar_add(&t, &T_SYM("gone", "dir"));
		tar_add(&t, &T_DIR("file/"));
		tar_add(&t, &T_FILE("dangling/x", "x"));
		tar_add(&t, &T_FILE("p", "p"));
		tar_add(&t, &T_FILE("p/q", "q"));
		tar_end(&t);
	}
	expect_ok("replace (ADD)", &t, &ADD_KEEP);
	UNIT_CHECK(content_is(at("t/dir/old"), "old") && (is_type(at("t/dir"), S_IFDIR)),
		   "replace: directory over directory keeps its content");
	{
		struct stat st;
		UNIT_CHECK(lstat(at("t/dir"), &st) == 0 && (st.st_mode & 07777) == 0750,
			   "replace: ... and takes the entry's mode");
	}
	UNIT_CHECK(is_type(at("t/gone"), S_IFLNK) && is_type(at("t/file"), S_IFDIR),
		   "replace: a symlink replaces a directory tree, a directory replaces a file");
	UNIT_CHECK(content_is(at("t/dangling/x"), "x") && content_is(at("t/p/q"), "q"),
		   "replace: a dangling symlink or a file as a parent is replaced by a directory");
	cn_buf_free(&t);
}

/* ADD form into a tree with something mounted in it: never across. */
static void test_mount_inside(void)
{
	struct stat before, after;
	cn_buf t;
	int fd = fresh("t");
	close(fd);
	unit_mkdir(AT_FDCWD, at("t/mnt"), 0755);
	if (mount("tmpfs", at("t/mnt"), "tmpfs", 0, "mode=0751") < 0) {
		UNIT_SKIP(strerror(errno), "mount point inside the target");
		return;
	}
	unit_put(AT_FDCWD, at("t/mnt/keep"), "mounted", 0644);
	if (stat(at("t/mnt"), &before) != 0)
		unit_fixture_fail("stat");
	{
		struct tent d = T_DIR("mnt/");
		d.mode = 0777;
		cn_buf_init(&t, 0);
		tar_add(&t, &d);
		tar_end(&t);
	}
	expect_fail("directory entry on a mount point (ADD)", &t, &ADD_KEEP, "mount point", "mnt/");
	cn_buf_free(&t);
	TAR(&t, T_FILE("mnt/x", "x"));
	expect_fail("file under a mount point (ADD)", &t, &ADD_KEEP, "crosses a mount point", "mnt/x");
	cn_buf_free(&t);
	TAR(&t, T_FILE("mnt", "x"));
	expect_fail("file replacing a mount point (ADD)", &t, &ADD_KEEP, "mount point", "mnt");
	cn_buf_free(&t);
	TAR(&t, T_FILE(".wh.mnt", ""));
	expect_fail("whiteout of a mount point (ADD)", &t, &ADD_KEEP, "mount point", ".wh.mnt");
	cn_buf_free(&t);
	UNIT_CHECK(stat(at("t/mnt"), &after) == 0 && after.st_mode == before.st_mode &&
		   after.st_dev == before.st_dev && !unit_exists(AT_FDCWD, at("t/mnt/x")) &&
		   content_is(at("t/mnt/keep"), "mounted"),
		   "mount point inside the target: untouched");
	if (umount(at("t/mnt")) != 0)
		unit_fixture_fail("umount");
}

/* ---- test 19: header bombs, measured in a child -------------------------- */

static long status_kb(const char *key)
{
	const char *s = unit_slurp(AT_FDCWD, "/proc/self/status");
	const char *p = s ? strstr(s, key) : NULL;
	return p ? strtol(p + strlen(key) + 1, NULL, 10) : -1;
}

struct measured {
	int rc;
	double secs;
	long rss_kb;
	char msg[CN_ERR_MSG_MAX];
};

static void extract_measured(const cn_buf *blob, const struct xopts *xo, struct measured *m)
{
	int p[2];
	pid_t pid;
	int fd = fresh("t");
	close(fd);
	if (pipe2(p, O_CLOEXEC) != 0)
		unit_fixture_fail("pipe");
	pid = fork();
	if (pid < 0)
		unit_fixture_fail("fork");
	if (pid == 0) {
		struct measured c;
		struct timespec t0, t1;
		struct layer_extract_result res;
		cn_err err;
		long rss0 = status_kb("VmRSS:");
		memset(&c, 0, sizeof(c));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		c.rc = extract_into(blob->data, blob->len, "t", xo ? xo : &SNAP_KEEP, &res, &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		c.secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		c.rss_kb = status_kb("VmHWM:") - rss0;
		snprintf(c.msg, sizeof(c.msg), "%s", c.rc ? err.msg : "ok");
		if (write(p[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	memset(m, 0, sizeof(*m));
	m->rc = 99;
	if (read(p[0], m, sizeof(*m)) != (ssize_t)sizeof(*m))
		snprintf(m->msg, sizeof(m->msg), "child died");
	close(p[0]);
	waitpid(pid, NULL, 0);
}

/* Refused within SECS seconds and 100 MiB of memory. */
/* A bomb is refused before it costs memory. Time is reported, not asserted
 * (a loaded machine or a sanitizer makes any bound flaky); SECS is what it
 * takes on an idle machine, for whoever reads the log. */
static void expect_quick_fail(const char *what, const cn_buf *blob, const struct xopts *xo,
			      const char *want, double secs)
{
	struct measured m;
	extract_measured(blob, xo, &m);
	UNIT_CHECK(m.rc != 0 && strstr(m.msg, want), "%s: refused: %s", what, m.msg);
	UNIT_CHECK(m.rss_kb < 100 * 1024, "%s: %ld KiB more memory", what, m.rss_kb);
	printf("# %s: %.3f s (well under %.1f s on an idle machine)\n", what, m.secs, secs);
}

static void test_header_bombs(void)
{
	cn_buf t, z;
	size_t big = (size_t)64 << 20;
	char *a = cn_xmalloc(big);
	memset(a, 'a', big);

	/* A 64 MiB pax record. */
	{
		struct tent f = T_FILE("f", "x");
		cn_buf pax;
		cn_buf_init(&pax, 0);
		pax_rec(&pax, "comment", a, big - 64);
		f.pax = pax.data;
		f.paxlen = pax.len;
		cn_buf_init(&t, 0);
		tar_add(&t, &f);
		tar_end(&t);
		cn_buf_free(&pax);
		cn_buf_init(&z, 0);
		zs(t.data, t.len, &z);
		cn_buf_free(&t);
		expect_quick_fail("64 MiB pax header", &z, NULL, "header", 1.0);
		cn_buf_free(&z);
	}
	/* A 16 MiB GNU long name. */
	{
		size_t n = (size_t)16 << 20;
		cn_buf_init(&t, 0);
		raw_header(&t, "././@LongLink", 'L', 0644, n, NULL, NULL);
		cn_buf_add(&t, a, n);
		pad512(&t);
		tar_add(&t, &T_FILE("f", "x"));
		tar_end(&t);
		cn_buf_init(&z, 0);
		zs(t.data, t.len, &z);
		cn_buf_free(&t);
		expect_quick_fail("16 MiB GNU long name", &z, NULL, "header", 1.0);
		cn_buf_free(&z);
	}
	/* A GNU sparse 1.0 map claiming 10^7 regions, 5 MiB of it present. */
	{
		struct tent f = T_FILE("sparse", "");
		cn_buf pax, map;
		cn_buf_init(&pax, 0);
		cn_buf_init(&map, 0);
		pax_rec(&pax, "GNU.sparse.major", "1", 1);
		pax_rec(&pax, "GNU.sparse.minor", "0", 1);
		pax_rec(&pax, "GNU.sparse.name", "sparse", 6);
		pax_rec(&pax, "GNU.sparse.realsize", "100000000", 9);
		cn_buf_adds(&map, "10000000\n");
		for (unsigned i = 0; map.len < ((size_t)5 << 20); i++)
			cn_buf_addf(&map, "%u\n1\n", i * 10);
		f.pax = pax.data;
		f.paxlen = pax.len;
		f.data = map.data;
		f.datalen = map.len;
		cn_buf_init(&t, 0);
		tar_add(&t, &f);
		tar_end(&t);
		cn_buf_init(&z, 0);
		zs(t.data, t.len, &z);
		cn_buf_free(&t);
		expect_quick_fail("GNU sparse map of 10^7 regions", &z, NULL, "headers exceed", 1.0);
		cn_buf_free(&z);
		cn_buf_free(&pax);
		cn_buf_free(&map);
	}
	/* A base-256 size of 2^62. */
	{
		struct tent f = T_FILE("huge", "");
		f.size = (int64_t)1 << 62;
		cn_buf_init(&t, 0);
		tar_add(&t, &f);
		tar_end(&t);
		expect_quick_fail("size 2^62 (base-256)", &t, NULL, "size limit", 1.0);
		cn_buf_free(&t);
	}
	free(a);
}

/* ---- tests 21, 22: decompression and entry bombs ---------------------------- */

static void test_bombs(void)
{
	size_t mb16 = (size_t)16 << 20;
	char *zeros = calloc(1, mb16);
	struct xopts cap = { .max_bytes = (uint64_t)32 << 20 };
	cn_buf t, z;

	if (!zeros)
		unit_fixture_fail("calloc");
	/* The cap on the tar stream guards what is not file content: data of
	 * entries that are skipped (a whiteout's) and zeros after the
	 * end-of-archive blocks, which are drained to the end of the blob. */
	cn_buf_init(&t, 0);
	tar_add(&t, &T_FILE("small", "s"));
	tar_end(&t);
	for (int i = 0; i < 4; i++)
		cn_buf_add(&t, zeros, mb16);
	cn_buf_init(&z, 0);
	gz(t.data, t.len, &z, 6);
	{
		struct measured m;
		extract_measured(&z, &cap, &m);
		UNIT_CHECK(m.rc != 0 && strstr(m.msg, "exceeds the uncompressed size limit"),
			   "gzip bomb (%zu KiB -> 64 MiB of zeros after the tar, cap 32 MiB): %s",
			   z.len >> 10, m.msg);
		UNIT_CHECK(m.rss_kb < 100 * 1024, "gzip bomb: %ld KiB more memory", m.rss_kb);
		printf("# gzip bomb: refused in %.3f s\n", m.secs);
	}
	cn_buf_free(&t);
	cn_buf_reset(&z);
	{
		struct tent w = T_FILE(".wh.x", "");
		w.data = zeros;
		w.datalen = mb16;
		cn_buf_init(&t, 0);
		for (int i = 0; i < 4; i++)
			tar_add(&t, &w);
		tar_end(&t);
	}
	zs(t.data, t.len, &z);
	{
		struct measured m;
		extract_measured(&z, &cap, &m);
		UNIT_CHECK(m.rc != 0 && strstr(m.msg, "exceeds the uncompressed size limit"),
			   "zstd bomb (%zu KiB -> 64 MiB of whiteout data, cap 32 MiB): %s", z.len >> 10, m.msg);
	}
	cn_buf_free(&t);
	cn_buf_free(&z);

	/* 4 x 15 MiB of zeros in files: refused when the sizes add up past the cap,
	 * before the data is written. */
	cn_buf_init(&t, 0);
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct tent f = T_FILE(name, "");
		snprintf(name, sizeof(name), "zero%d", i);
		f.data = zeros;
		f.datalen = mb16 - ((size_t)1 << 20);
		tar_add(&t, &f);
	}
	tar_end(&t);
	cn_buf_init(&z, 0);
	zs(t.data, t.len, &z);
	{
		struct measured m;
		extract_measured(&z, &cap, &m);
		UNIT_CHECK(m.rc != 0 && strstr(m.msg, "entry \"zero2\": the layer's files exceed the size limit"),
			   "files adding up past the cap: %s", m.msg);
	}
	cn_buf_free(&t);
	cn_buf_free(&z);

	/* One file declaring more than the cap: refused before any data. */
	{
		struct tent f = T_FILE("big", "");
		f.size = (int64_t)40 << 20;
		cn_buf_init(&t, 0);
		tar_add(&t, &f);
		cn_buf_init(&z, 0);
		gz(t.data, t.len, &z, 6);      /* the header alone: the size is checked first */
		{
			struct measured m;
			extract_measured(&z, &cap, &m);
			UNIT_CHECK(m.rc != 0 && strstr(m.msg, "files exceed the size limit"),
				   "declared size over the cap: %s", m.msg);
		}
		cn_buf_free(&t);
		cn_buf_free(&z);
	}

	/* A zstd frame asking for a 2^31 window: a raw block after the header. */
	{
		unsigned char frame[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, (31 - 10) << 3,
					  (unsigned char)((4 << 3) | 1), 0, 0, 'a', 'b', 'c', 'd' };
		cn_buf_init(&z, 0);
		cn_buf_add(&z, frame, sizeof(frame));
		expect_quick_fail("zstd window log 31", &z, NULL, "zstd:", 1.0);
		cn_buf_free(&z);
	}
	free(zeros);

	/* Entry-count bomb against max_entries. */
	{
		struct xopts few = { .max_entries = 1000 };
		cn_buf_init(&t, 0);
		for (int i = 0; i < 1500; i++) {
			char name[32];
			snprintf(name, sizeof(name), "f%d", i);
			tar_add(&t, &T_FILE(name, ""));
		}
		tar_end(&t);
		expect_quick_fail("1500 entries, cap 1000", &t, &few, "more than 1000 entries", 30.0);
		/* ... and against a file system out of inodes. */
		unit_mkdir(AT_FDCWD, at("tiny"), 0755);
		if (mount("tmpfs", at("tiny"), "tmpfs", 0, "nr_inodes=200,size=4m") < 0) {
			UNIT_SKIP(strerror(errno), "entry bomb on a tmpfs with 200 inodes");
		} else {
			cn_err err;
			struct layer_extract_result res;
			int r = extract_into(t.data, t.len, "tiny/t", NULL, &res, &err);
			UNIT_CHECK(r < 0 && err.errnum == ENOSPC && strstr(err.msg, "layer: entry \"f"),
				   "entry bomb on a tmpfs with 200 inodes: %s", r ? err.msg : "succeeded");
			if (umount(at("tiny")) != 0)
				unit_fixture_fail("umount");
		}
		rmdir(at("tiny"));
		cn_buf_free(&t);
	}
}

/* ---- test 23, 25: trailing data, truncation, garbage ----------------------- */

static void sha_of(const void *p, size_t n, char out[CN_DIGEST_STR_SIZE])
{
	cn_sha256_oneshot(p, n, out);
}

static void test_stream(void)
{
	static const char junk[] = "this is not compressed data, it is junk";
	cn_buf t, blob;
	char tar_sha[CN_DIGEST_STR_SIZE], blob_sha[CN_DIGEST_STR_SIZE];
	char *zeros = calloc(1, 4096), *garbage = cn_xmalloc(4096);
	struct layer_extract_result res;
	cn_err err;
	int r;

	if (!zeros)
		unit_fixture_fail("calloc");
	for (int i = 0; i < 4096; i++)
		garbage[i] = (char)(i * 7 + 1);
	TAR(&t, T_DIR("d/"), T_FILE("d/f", "hello"));
	sha_of(t.data, t.len, tar_sha);

	for (int c = 0; c < 3; c++) {
		const char *name;
		cn_buf_init(&blob, 0);
		name = blob_as(c, t.data, t.len, &blob);

		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		sha_of(blob.data, blob.len, blob_sha);
		UNIT_CHECK(r == 0 && !strcmp(res.digest, blob_sha) && !strcmp(res.diff_id, tar_sha) &&
			   res.size == blob.len && res.uncompressed == t.len && res.entries == 2,
			   "%s: digest, diff_id, size, uncompressed, entries: %s", name, r ? err.msg : "ok");

		/* Trailing zeros: hashed, accepted. */
		cn_buf_add(&blob, zeros, 4096);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		sha_of(blob.data, blob.len, blob_sha);
		UNIT_CHECK(r == 0 && !strcmp(res.digest, blob_sha) && res.size == blob.len &&
			   (c == 2 || !strcmp(res.diff_id, tar_sha)),
			   "%s + 4 KiB of zeros: accepted, the digest covers them: %s", name,
			   r ? err.msg : "ok");
		blob.len -= 4096;

		/* Trailing garbage: refused. */
		cn_buf_add(&blob, garbage, 4096);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, c == 2 ? "data after the tar's end-of-archive"
					   : "data after the end of the compressed stream"),
			   "%s + 4 KiB of garbage: refused: %s", name, err.msg);
		blob.len -= 4096;

		/* Truncated in the middle. */
		r = extract_into(blob.data, blob.len / 2, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0, "%s cut in half: refused: %s", name, err.msg);
		/* Without the end-of-archive blocks. */
		cn_buf_reset(&blob);
		blob_as(c, t.data, t.len - 1024, &blob);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r == 0 && content_is(at("t/d/f"), "hello"),
			   "%s without end-of-archive blocks, after a complete entry: accepted: %s", name,
			   r ? err.msg : "ok");
		cn_buf_free(&blob);
	}

	/* Two gzip members, two zstd frames: one stream. */
	cn_buf_init(&blob, 0);
	gz(t.data, 1000, &blob, 6);
	gz(t.data + 1000, t.len - 1000, &blob, 1);
	r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
	UNIT_CHECK(r == 0 && !strcmp(res.diff_id, tar_sha) && content_is(at("t/d/f"), "hello"),
		   "gzip in two members: one tar: %s", r ? err.msg : "ok");
	cn_buf_reset(&blob);
	zs(t.data, 700, &blob);
	zs(t.data + 700, t.len - 700, &blob);
	r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
	UNIT_CHECK(r == 0 && !strcmp(res.diff_id, tar_sha), "zstd in two frames: one tar: %s",
		   r ? err.msg : "ok");
	cn_buf_free(&blob);

	/* Garbage, empty, other compressions, a damaged header. */
	r = extract_into(junk, sizeof(junk), "t", NULL, &res, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "not a tar archive"), "garbage: refused: %s", err.msg);
	r = extract_into(garbage, 4096, "t", NULL, &res, &err);
	UNIT_CHECK(r < 0, "4 KiB of binary garbage: refused: %s", err.msg);
	r = extract_into("", 0, "t", NULL, &res, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "empty"), "empty blob: refused: %s", err.msg);
	r = extract_into("BZh91AY&SY", 10, "t", NULL, &res, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "bzip2"), "bzip2: refused: %s", err.msg);
	{
		static const char gzjunk[] = "\x1f\x8b\x08\x00garbage garbage garbage";
		static const char zsjunk[] = "\x28\xb5\x2f\xfdgarbage garbage garbage";
		r = extract_into(gzjunk, sizeof(gzjunk) - 1, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "gzip"), "gzip magic then garbage: refused: %s", err.msg);
		r = extract_into(zsjunk, sizeof(zsjunk) - 1, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "zstd"), "zstd magic then garbage: refused: %s", err.msg);
	}
	{
		cn_buf bad;
		cn_buf_init(&bad, 0);
		cn_buf_add(&bad, t.data, t.len);
		bad.data[512 + 100] ^= 1;      /* d/f's mode: its checksum no longer matches */
		r = extract_into(bad.data, bad.len, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "entry #2"), "damaged header checksum: refused: %s",
			   err.msg);
		cn_buf_free(&bad);
	}
	/* Through a pipe, as from a network stream. */
	{
		int p[2];
		pid_t pid;
		int tfd = fresh("t");
		if (pipe2(p, O_CLOEXEC) != 0)
			unit_fixture_fail("pipe");
		cn_buf_init(&blob, 0);
		zs(t.data, t.len, &blob);
		pid = fork();
		if (pid < 0)
			unit_fixture_fail("fork");
		if (pid == 0) {
			close(p[0]);
			for (size_t i = 0; i < blob.len; i++)   /* one byte at a time */
				if (write(p[1], blob.data + i, 1) != 1)
					_exit(1);
			_exit(0);
		}
		close(p[1]);
		r = layer_extract(p[0], tfd, NULL, &res, &err);
		close(p[0]);
		close(tfd);
		waitpid(pid, NULL, 0);
		sha_of(blob.data, blob.len, blob_sha);
		UNIT_CHECK(r == 0 && !strcmp(res.digest, blob_sha) && content_is(at("t/d/f"), "hello"),
			   "from a pipe, a byte at a time: %s", r ? err.msg : "ok");
		cn_buf_free(&blob);
	}
	/* Data behind a symlink or directory header is refused (other readers skip it). */
	{
		struct tent s = T_SYM("s", "x"), d = T_FILE("dir/", "");
		cn_buf pax;
		cn_buf_init(&pax, 0);
		pax_rec(&pax, "size", "512", 3);
		s.pax = pax.data;
		s.paxlen = pax.len;
		s.data = garbage;
		s.datalen = 512;
		d.data = garbage;
		d.datalen = 512;
		cn_buf_init(&blob, 0);
		tar_add(&blob, &s);
		tar_end(&blob);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "non-file entry with data"),
			   "symlink with a pax size and data: refused: %s", err.msg);
		cn_buf_reset(&blob);
		tar_add(&blob, &d);
		tar_end(&blob);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "non-file entry with data"),
			   "file entry named dir/ with data: refused: %s", err.msg);
		cn_buf_free(&blob);
		cn_buf_free(&pax);
	}
	/* Names that are not UTF-8 in a pax record without hdrcharset (as Go writes them). */
	{
		struct tent f = T_FILE("plain", "latin");
		cn_buf pax;
		cn_buf_init(&pax, 0);
		pax_rec(&pax, "path", "caf\xe9-\xff", 6);
		f.pax = pax.data;
		f.paxlen = pax.len;
		cn_buf_init(&blob, 0);
		tar_add(&blob, &f);
		tar_end(&blob);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r == 0 && content_is(at("t/caf\xe9-\xff"), "latin"),
			   "a non-UTF-8 pax path keeps its bytes: %s", r ? err.msg : "ok");
		cn_buf_free(&blob);
		cn_buf_free(&pax);
	}
	/* Long names and links, up to the cap. */
	{
		char name[4200], longer[4200];
		size_t n = 0;
		while (n + 101 < 4000) {
			memset(name + n, 'n', 100);
			name[n + 100] = '/';
			n += 101;
		}
		memcpy(name + n, "leaf", 5);
		memset(longer, 'x', 4096);
		longer[4096] = '\0';
		cn_buf_init(&blob, 0);
		tar_add(&blob, &T_FILE(name, "deep"));
		tar_add(&blob, &T_LINK("hl", name));
		tar_end(&blob);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r == 0, "a %zu-byte name and a hardlink to it: %s", strlen(name),
			   r ? err.msg : "ok");
		cn_buf_reset(&blob);
		tar_add(&blob, &T_FILE(longer, "x"));
		tar_end(&blob);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "name longer than 4095"), "a 4096-byte name: %s",
			   err.msg);
		cn_buf_free(&blob);
	}
	cn_buf_free(&t);
	free(zeros);
	free(garbage);
}

/* Sparse files from GNU tar (old GNU and pax 1.0 formats): holes stay holes. */
/* umoci 0.4.7 ends a layer right after its last entry's data: no padding,
 * no end-of-archive blocks. Accepted, hashed as it is; a short entry body
 * or a cut header is still refused. */
static bool file_size_is(const char *path, size_t want)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == want;
}

static void test_missing_end(void)
{
	static char data[3000];
	cn_buf t, blob;
	char tar_sha[CN_DIGEST_STR_SIZE];
	struct layer_extract_result res;
	struct tent f = T_FILE("bin/busybox", "");
	size_t full;
	cn_err err;
	int r;

	memset(data, 'b', sizeof(data));
	f.data = data;
	f.datalen = sizeof(data);
	cn_buf_init(&t, 0);
	tar_add(&t, &T_DIR("bin/"));
	tar_add(&t, &f);
	full = t.len;
	t.len = full - (512 - sizeof(data) % 512);     /* the data, no padding */
	sha_of(t.data, t.len, tar_sha);
	for (int c = 0; c < 3; c++) {
		const char *name = blob_as(c, t.data, t.len, empty_buf(&blob));
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r == 0 && !strcmp(res.diff_id, tar_sha) && res.uncompressed == t.len &&
			   file_size_is(at("t/bin/busybox"), sizeof(data)),
			   "%s ending right after the last entry's data: accepted, hashed as it is: %s",
			   name, r ? err.msg : "ok");
		cn_buf_reset(&blob);
		/* One byte of the body missing. */
		blob_as(c, t.data, t.len - 1, &blob);
		r = extract_into(blob.data, blob.len, "t", NULL, &res, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "entry \"bin/busybox\""),
			   "%s with the last entry's body one byte short: refused, naming it: %s", name,
			   r ? err.msg : "(succeeded)");
		cn_buf_free(&blob);
	}
	/* A header cut in the middle. */
	t.len = full;
	tar_add(&t, &T_FILE("next", "x"));
	t.len = full + 100;
	r = extract_into(t.data, t.len, "t", NULL, &res, &err);
	UNIT_CHECK(r < 0, "a tar ending inside a header: refused: %s", r ? err.msg : "(succeeded)");
	cn_buf_free(&t);
}

/* Errors that used to say "Damaged tar archive" or libarchive's words
 * alone: they name the entry and say what is wrong. */
static void test_header_messages(void)
{
	cn_buf t;
	char body[512] = "world";
	/* A ustar hardlink whose header declares 5 bytes, with the bytes. */
	cn_buf_init(&t, 0);
	tar_add(&t, &T_FILE("f", "hello"));
	raw_header(&t, "l", '1', 0644, 5, "f", NULL);
	cn_buf_add(&t, body, sizeof(body));
	tar_end(&t);
	expect_fail("a ustar hardlink carrying data", &t, NULL, "a hardlink whose header declares data", "l");
	cn_buf_free(&t);
	/* A pax header declaring 1 GiB. */
	cn_buf_init(&t, 0);
	tar_add(&t, &T_FILE("f", "hello"));
	raw_header(&t, "PaxHeader", 'x', 0644, (uint64_t)1 << 30, NULL, NULL);
	cn_buf_add(&t, body, sizeof(body));
	expect_fail("a pax header declaring 1 GiB", &t, NULL, "its headers exceed the limit", NULL);
	expect_fail("a pax header declaring 1 GiB names the entry before it", &t, NULL, "after \"f\"", NULL);
	cn_buf_free(&t);
}

static void test_sparse(void)
{
	static const char *const formats[] = { "gnu", "posix" };
	char cmd[8192];
	int fd;

	if (system("command -v tar >/dev/null 2>&1") != 0) {
		UNIT_SKIP("no tar", "sparse files from GNU tar");
		return;
	}
	fd = fresh("sp");
	close(fd);
	fd = open(at("sp/holes"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (!(fd >= 0 && pwrite(fd, "start", 5, 0) == 5 && pwrite(fd, "middle", 6, 8 << 20) == 6 &&
	     ftruncate(fd, 32 << 20) == 0))
		unit_fixture_fail("sparse file");
	close(fd);
	for (size_t i = 0; i < CN_ARRAY_SIZE(formats); i++) {
		struct layer_extract_result res;
		struct stat st;
		cn_err err;
		cn_buf b;
		int r;
		snprintf(cmd, sizeof(cmd), "tar -C '%s' --sparse --format=%s -cf '%s' holes", at("sp"),
			 formats[i], at("sparse.tar"));
		if (system(cmd) != 0)
			unit_fixture_fail(cmd);
		cn_buf_init(&b, 0);
		if (cn_read_file_at(AT_FDCWD, at("sparse.tar"), 1 << 30, &b, NULL) != 0)
			unit_fixture_fail("read tar");
		r = extract_into(b.data, b.len, "t", NULL, &res, &err);
		snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", at("sp/holes"), at("t/holes"));
		UNIT_CHECK(r == 0 && system(cmd) == 0 && stat(at("t/holes"), &st) == 0 &&
			   st.st_size == 32 << 20 && st.st_blocks * 512 < (1 << 20),
			   "sparse file (%s format, %zu-byte tar): same bytes, %lld bytes allocated: %s",
			   formats[i], b.len, (long long)(r ? 0 : st.st_blocks * 512), r ? err.msg : "ok");
		cn_buf_free(&b);
	}
}

/* ---- round trips through layer_write_dir ---------------------------------- */

#define FUTURE ((int64_t)4102444800)
#define OLD ((int64_t)1500000000)

/* What a RUN step's upper dir can hold (as in test_layer.c). */
static void build_source(void)
{
	char big[300000];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(big); i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)(x >> 16);
	}
	unit_mkdir(AT_FDCWD, at("src"), 0755);
	unit_put_bytes(AT_FDCWD, at("src/big"), big, sizeof(big), 0644);
	unit_mkdir(AT_FDCWD, at("src/bin"), 0755);
	unit_put(AT_FDCWD, at("src/bin/tool"), "#!/bin/sh\necho hi\n", 0755);
	if (lchown(at("src/bin/tool"), 1234, 5678) != 0)
		unit_fixture_fail("chown");
	unit_put(AT_FDCWD, at("src/bin/suid"), "suid", 04755);
	unit_put(AT_FDCWD, at("src/bin/sgid"), "sgid", 02755);
	if (!(lchown(at("src/bin/sgid"), 0, 50) == 0 && chmod(at("src/bin/sgid"), 02755) == 0))
		unit_fixture_fail("sgid");
	unit_mkdir(AT_FDCWD, at("src/deep"), 0700);
	unit_mkdir(AT_FDCWD, at("src/deep/a"), 0755);
	unit_mkdir(AT_FDCWD, at("src/deep/a/b"), 0555);
	unit_put(AT_FDCWD, at("src/deep/a/b/file"), "deep", 0444);
	unit_put(AT_FDCWD, at("src/deep/a/b/long-nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
		   "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"),
		"long", 0644);
	unit_mkdir(AT_FDCWD, at("src/etc"), 0755);
	unit_put(AT_FDCWD, at("src/etc/caf\xc3\xa9"), "utf-8 name", 0644);
	unit_put(AT_FDCWD, at("src/etc/bad\xff"), "latin-1 name", 0644);
	unit_put(AT_FDCWD, at("src/etc/origin-file"), "copied up", 0644);
	unit_setxattr(at("src/etc/origin-file"), "trusted.overlay.origin", "\x00\xfb\x21", 3);
	unit_setxattr(at("src/etc/origin-file"), "trusted.other", "1", 1);
	unit_put(AT_FDCWD, at("src/etc/passwd"), "root:x:0:0::/root:/bin/sh\n", 0644);
	if (mknod(at("src/etc/removed"), S_IFCHR | 0, makedev(0, 0)) != 0)
		unit_fixture_fail("whiteout");
	unit_put(AT_FDCWD, at("src/etc/secret"), "s3cret", 0600);
	unit_put(AT_FDCWD, at("src/etc/xattr-file"), "x", 0644);
	unit_setxattr(at("src/etc/xattr-file"), "user.test", "hello", 5);
	unit_setxattr(at("src/etc/xattr-file"), "user.bin", "a\0b", 3);
	unit_setxattr(at("src/etc/xattr-file"), "user.overlay.foo", "dropped", 7);
	unit_put(AT_FDCWD, at("src/etc/cap"), "cap", 0755);
	unit_setxattr(at("src/etc/cap"), "security.capability",
		 "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
	if (link(at("src/etc/passwd"), at("src/etc/zz-link")) != 0)
		unit_fixture_fail("link");
	if (link(at("src/etc/passwd"), at("src/bin/passwd-link")) != 0)
		unit_fixture_fail("link");
	if (mkfifo(at("src/fifo"), 0640) != 0)
		unit_fixture_fail("mkfifo");
	unit_put(AT_FDCWD, at("src/future"), "future", 0644);
	unit_mtime(AT_FDCWD, at("src/future"), FUTURE, 0);
	if (mknod(at("src/gone"), S_IFCHR | 0, makedev(0, 0)) != 0)
		unit_fixture_fail("whiteout");
	unit_symlink(AT_FDCWD, "etc/passwd", at("src/link"));
	unit_symlink(AT_FDCWD, "/absolute/../dangling", at("src/dangling"));
	if (lchown(at("src/dangling"), 7, 8) != 0)
		unit_fixture_fail("lchown");
	if (mknod(at("src/null"), S_IFCHR | 0666, makedev(1, 3)) != 0)
		unit_fixture_fail("mknod");
	if (mknod(at("src/blk"), S_IFBLK | 0600, makedev(7, 1)) != 0)
		unit_fixture_fail("mknod");
	unit_put(AT_FDCWD, at("src/old"), "old", 0644);
	unit_mtime(AT_FDCWD, at("src/old"), OLD, 0);
	unit_mkdir(AT_FDCWD, at("src/opq"), 0755);
	unit_setxattr(at("src/opq"), "trusted.overlay.opaque", "y", 1);
	unit_put(AT_FDCWD, at("src/opq/a"), "a", 0644);
	unit_mkdir(AT_FDCWD, at("src/opq/sub"), 0750);
	unit_setxattr(at("src/opq/sub"), "trusted.overlay.opaque", "y", 1);
	if (unit_socket(at("src/sock")) < 0)
		unit_fixture_fail("socket");
	unit_mkdir(AT_FDCWD, at("src/tmp"), 01777);
	unit_mkdir(AT_FDCWD, at("src/empty"), 0711);
	unit_mtime(AT_FDCWD, at("src/empty"), OLD, 0);
	unit_mtime(AT_FDCWD, at("src/deep/a/b"), OLD + 1, 0);
	unit_mtime(AT_FDCWD, at("src/deep"), OLD + 2, 0);
}

/* The source listing without what ADD form does not reproduce. */
static char *without_overlay_marks(const char *listing)
{
	cn_buf b;
	const char *p = listing;
	cn_buf_init(&b, 0);
	while (*p) {
		const char *e = strchrnul(p, '\n');
		size_t len = (size_t)(e - p);
		bool whiteout = memmem(p, len, " 2 0000 0:0 dev=0:0", 19) != NULL;
		if (!whiteout) {
			const char *o = memmem(p, len, " x:trusted.overlay.opaque=79", 28);
			if (o) {
				cn_buf_add(&b, p, (size_t)(o - p));
				cn_buf_add(&b, o + 28, len - (size_t)(o + 28 - p));
			} else {
				cn_buf_add(&b, p, len);
			}
			cn_buf_addc(&b, '\n');
		}
		p = *e ? e + 1 : e;
	}
	return cn_buf_detach(&b);
}

static void test_roundtrip(enum layer_compression c, bool add)
{
	const char *what = c == LAYER_ZSTD ? (add ? "round trip zstd (ADD)" : "round trip zstd")
					   : (add ? "round trip gzip (ADD)" : "round trip gzip");
	struct layer_write_opts wo = { .compression = c, .clamp_mtime = -1 };
	struct layer_info info;
	struct layer_extract_opts xo = { .overlay_whiteouts = !add };
	struct layer_extract_result res;
	cn_err err = { 0 };
	_cleanup_free_ char *want = NULL, *got = NULL, *src = NULL;
	int sfd = open(at("src"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int bfd = open(at("layer.blob"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int tfd, r;

	if (!(sfd >= 0 && bfd >= 0))
		unit_fixture_fail("round trip setup");
	r = layer_write_dir(sfd, bfd, &wo, &info, &err);
	if (r != 0)
		unit_fixture_fail(err.msg);
	close(sfd);
	if (lseek(bfd, 0, SEEK_SET) != 0)
		unit_fixture_fail("lseek");
	tfd = fresh("rt");
	r = layer_extract(bfd, tfd, &xo, &res, &err);
	close(bfd);
	close(tfd);
	UNIT_CHECK(r == 0, "%s: extracted: %s", what, r ? err.msg : "ok");
	UNIT_STREQ(res.diff_id, info.diff_id, "%s: diff_id as the writer reported", what);
	UNIT_STREQ(res.digest, info.digest, "%s: digest as the writer reported", what);
	UNIT_CHECK(res.size == info.size && res.entries == info.entries,
		   "%s: size %llu, %llu entries, as written", what, (unsigned long long)res.size,
		   (unsigned long long)res.entries);
	src = list_tree(at("src"), L_ROUNDTRIP);
	want = add ? without_overlay_marks(src) : cn_xstrdup(src);
	got = list_tree(at("rt"), L_ROUNDTRIP);
	UNIT_CHECK(!strcmp(want, got), "%s: the tree comes back: types, modes, owners, sizes, content, "
		   "links, devices, mtimes, xattrs, hardlink groups%s", what,
		   add ? "" : ", whiteouts, opaque dirs");
	if (strcmp(want, got))
		show_diff(want, got);
	if (getenv("VERBOSE"))
		printf("%s", got);
}

/* ---- throughput (CAIRN_BENCH=1) ------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Extract the layer of base/bench into OUT (on disk, or on a tmpfs: the
 * extractor's own cost without the file system's). */
static void bench_one(const char *what, enum layer_compression c, const char *out, int rounds)
{
	struct layer_write_opts wo = { .compression = c, .clamp_mtime = -1 };
	struct layer_info info;
	struct layer_extract_result res;
	cn_err err = { 0 };
	int sfd = open(at("bench"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int bfd = open(at("bench.blob"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (layer_write_dir(sfd, bfd, &wo, &info, &err) != 0)
		unit_fixture_fail(err.msg);
	close(sfd);
	for (int round = 0; round < rounds; round++) {
		struct rusage r0, r1;
		double t0, t1, t2, cpu;
		int tfd = fresh(out);
		if (lseek(bfd, 0, SEEK_SET) != 0)
			unit_fixture_fail("lseek");
		sync();
		getrusage(RUSAGE_SELF, &r0);
		t0 = now_s();
		if (layer_extract(bfd, tfd, NULL, &res, &err) != 0)
			unit_fixture_fail(err.msg);
		t1 = now_s();
		getrusage(RUSAGE_SELF, &r1);
		syncfs(tfd);
		t2 = now_s();
		close(tfd);
		cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
			       r0.ru_stime.tv_sec) + (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
			       r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
		printf("# bench %s, %s, %s: blob %.1f MB, tar %.1f MB, %llu entries: extract %.2f s "
		       "(%.0f MB/s of tar, %.0f entries/s; cpu %.2f s: user %.2f), +syncfs %.2f s\n",
		       what, c == LAYER_ZSTD ? "zstd" : "gzip", strchr(out, '/') ? "tmpfs" : "disk",
		       (double)res.size / 1e6,
		       (double)res.uncompressed / 1e6, (unsigned long long)res.entries, t1 - t0,
		       (double)res.uncompressed / 1e6 / (t1 - t0), (double)res.entries / (t1 - t0), cpu,
		       (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
		       (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6, t2 - t0);
	}
	close(bfd);
}

/* Text-like content: 32 symbols, each file different (about 1.6:1 with zstd). */
static void fill(char *p, size_t n, uint64_t *x)
{
	for (size_t i = 0; i < n; i++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		p[i] = "abcdefghijklmnopqrstuvwxyz \n0123"[*x & 31];
	}
}

static void bench(void)
{
	size_t total = 0;
	uint64_t x = 88172645463325252ull;
	char *buf = cn_xmalloc(1 << 20);
	bool fast;
	int i;

	fresh("bench");
	for (i = 0; i < 200; i++) {
		char d[64];
		snprintf(d, sizeof(d), "bench/d%03d", i);
		unit_mkdir(AT_FDCWD, at(d), 0755);
	}
	for (i = 0; i < 20000; i++) {
		char f[64];
		size_t len = 1000 + (size_t)(x % 18000);       /* 1..19 KB, 10 KB on average */
		fill(buf, len, &x);
		snprintf(f, sizeof(f), "bench/d%03d/f%05d", i % 200, i);
		unit_put_bytes(AT_FDCWD, at(f), buf, len, 0644);
		total += len;
	}
	printf("# bench tree: 20000 files in 200 directories, %.1f MB\n", (double)total / 1e6);
	unit_mkdir(AT_FDCWD, at("fast"), 0755);
	fast = mount("tmpfs", at("fast"), "tmpfs", 0, "size=1g") == 0;
	if (fast) {
		bench_one("20k small files", LAYER_ZSTD, "fast/out", 3);
		bench_one("20k small files", LAYER_GZIP, "fast/out", 2);
	}
	bench_one("20k small files", LAYER_ZSTD, "bench-out", 2);
	fresh("bench");
	{
		int fd = open(at("bench/big"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		for (i = 0; i < 200; i++) {
			fill(buf, 1 << 20, &x);
			if (cn_write_all(fd, buf, 1 << 20) != 0)
				unit_fixture_fail("write");
		}
		close(fd);
	}
	if (fast) {
		bench_one("one 210 MB file", LAYER_ZSTD, "fast/out", 2);
		bench_one("one 210 MB file", LAYER_GZIP, "fast/out", 2);
		if (umount(at("fast")) != 0)
			unit_fixture_fail("umount");
	}
	bench_one("one 210 MB file", LAYER_ZSTD, "bench-out", 2);
	fresh("bench");
	fresh("bench-out");
	free(buf);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		unit_fixture_fail("/proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int main(void)
{
	char cmd[sizeof(base) + 32];
	int fds = count_fds();

	umask(022);
	close(unit_tmpdir(base));
	unit_mkdir(AT_FDCWD, at("canary"), 0755);
	unit_put(AT_FDCWD, at("canary/passwd"), "host passwd", 0644);
	unit_put(AT_FDCWD, at("canary/perm400"), "secret", 0400);
	unit_mkdir(AT_FDCWD, at("canary/sub"), 0700);
	unit_put(AT_FDCWD, at("canary/sub/file"), "sub", 0644);
	unit_symlink(AT_FDCWD, "passwd", at("canary/link"));
	unit_setxattr(at("canary/passwd"), "user.canary", "1", 1);
	canary_before = list_tree(at("canary"), L_CANARY);

	test_tar_slip();
	test_absolute();
	test_prefix_sibling();
	test_symlink_write(false);
	test_symlink_write(true);
	test_symlink_override();
	test_root();
	test_hardlinks();
	test_bad_whiteouts(false);
	test_bad_whiteouts(true);
	test_whiteout_symlink();
	test_opaque_add();
	test_opaque_snapshot();
	test_devices();
	test_xattrs();
	test_metadata();
	test_replace();
	test_mount_inside();
	test_header_bombs();
	test_bombs();
	test_stream();
	test_missing_end();
	test_header_messages();
	test_sparse();
	build_source();
	test_roundtrip(LAYER_ZSTD, false);
	test_roundtrip(LAYER_GZIP, false);
	test_roundtrip(LAYER_ZSTD, true);
	check_canary("all tests");
	UNIT_CHECK(count_fds() == fds, "no fd leaked (%d open, %d at the start)", count_fds(), fds);
	if (getenv("CAIRN_BENCH"))
		bench();

	free(canary_before);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", base);
	if (getenv("KEEP"))
		printf("# kept %s\n", base);
	else if (system(cmd) != 0)
		printf("# could not remove %s\n", base);
	return UNIT_DONE();
}
