/* bf_copy_digest: the digest of what a COPY takes from the build context,
 * for the build cache. It must change with anything bf_copy would copy
 * differently (content, mode, names, symlink targets, devices, kept xattrs)
 * and with nothing else (times, owners, where the context lives), fail like
 * bf_copy on bad sources, and read unchanged files only once (stat cache). */
#include "builder/copy.h"
#include "builder/statcache.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-copydigest-XXXXXX";
static int base_fd = -1, ctx_fd = -1, ctx2_fd = -1;
static char *ctx_path, *ctx2_path;
static struct bf_statcache *sc;
static cn_err err;

/* ---- fixtures ---- */

/* The same tree in both contexts; times differ (ctx2's are set to 2001). */
static void make_tree(int fd, bool other_times)
{
	static const char *paths[] = { "a.txt", "b.txt", ".hidden.txt", "c.md", "app", "app/f1",
		"app/sub", "app/sub/f2", "app/rel-link", "app/abs-link", "app/empty", "other",
		"other/f1", "big.bin" };
	char block[4096];
	uint32_t x = 99;
	int bfd;

	unit_put(fd, "a.txt", "A", 0644);
	unit_put(fd, "b.txt", "B", 0600);
	unit_put(fd, ".hidden.txt", "H", 0644);
	unit_put(fd, "c.md", "C", 0644);
	unit_mkdir(fd, "app", 0750);
	unit_put(fd, "app/f1", "F1", 0640);
	unit_mkdir(fd, "app/sub", 0700);
	unit_put(fd, "app/sub/f2", "F2", 04755);
	unit_symlink(fd, "f1", "app/rel-link");
	unit_symlink(fd, "/etc/passwd", "app/abs-link");
	unit_mkdir(fd, "app/empty", 0755);
	unit_mkdir(fd, "other", 0755);
	unit_put(fd, "other/f1", "F1", 0640);
	bfd = openat(fd, "big.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	for (int i = 0; i < 1024 && bfd >= 0; i++) {   /* 4 MiB */
		for (size_t k = 0; k < sizeof(block); k++) {
			x = x * 1103515245u + 12345u;
			block[k] = (char)(x >> 16);
		}
		cn_write_all(bfd, block, sizeof(block));
	}
	if (bfd >= 0)
		close(bfd);
	if (other_times)
		for (size_t i = 0; i < CN_ARRAY_SIZE(paths); i++)
			unit_mtime(fd, paths[i], 1000000000 + (time_t)i, 0);
}

/* What only the first context has: escapes, special files, .wh. names. */
static void make_extras(int fd)
{
	unit_symlink(fd, "/etc/passwd", "passwd-link");
	unit_symlink(fd, "../../", "up-link");
	unit_symlink(fd, "loop-b", "loop-a");
	unit_symlink(fd, "loop-a", "loop-b");
	unit_symlink(fd, "app/f1", "in-link");
	unit_mkdir(fd, "special", 0755);
	if (mkfifoat(fd, "special/fifo", 0640) < 0 ||
	    mknodat(fd, "special/null", S_IFCHR | 0666, makedev(1, 3)) < 0)
		unit_fixture_fail("special files");
	unit_mkdir(fd, "whdir", 0755);
	unit_put(fd, "whdir/.wh.y", "", 0644);
	unit_put(fd, ".wh.z", "Z", 0644);
}

/* ---- calls ---- */

/* bf_copy_digest of SRCS (NULL-terminated) in context FD at PATH. */
static int vdigest(int fd, const char *path, struct bf_statcache *cache, char out[CN_DIGEST_STR_SIZE],
		   va_list ap)
{
	const char *srcs[16];
	struct bf_copy_opts o = { .ctx_fd = fd, .root_fd = -1, .srcs = srcs };
	for (const char *s; o.nsrcs < CN_ARRAY_SIZE(srcs) && (s = va_arg(ap, const char *)); )
		srcs[o.nsrcs++] = s;
	cn_err_clear(&err);
	snprintf(out, CN_DIGEST_STR_SIZE, "(none)");
	return bf_copy_digest(&o, path, cache, out, NULL, &err);
}

static int digest_in(int fd, const char *path, char out[CN_DIGEST_STR_SIZE], ...)
{
	va_list ap;
	int r;
	va_start(ap, out);
	r = vdigest(fd, path, sc, out, ap);
	va_end(ap);
	return r;
}

#define DIGEST(out, ...) digest_in(ctx_fd, ctx_path, out, __VA_ARGS__, NULL)
#define DIGEST2(out, ...) digest_in(ctx2_fd, ctx2_path, out, __VA_ARGS__, NULL)

/* A fresh digest and the message it failed with, or "" */
static const char *digest_err(const char *src)
{
	char d[CN_DIGEST_STR_SIZE];
	static char msg[CN_ERR_MSG_MAX];
	msg[0] = '\0';
	if (DIGEST(d, src) < 0)
		snprintf(msg, sizeof(msg), "%s", err.msg);
	return msg;
}

/* bf_copy of SRC to DEST into a fresh root, and its error message or "". */
static const char *copy_err(const char *src, const char *dest)
{
	static char msg[CN_ERR_MSG_MAX];
	const char *srcs[1] = { src };
	struct bf_copy_opts o = { .ctx_fd = ctx_fd, .srcs = srcs, .nsrcs = 1, .dest = dest, .workdir = "/" };
	cn_rm_rf_at(base_fd, "root", NULL);
	unit_mkdir(base_fd, "root", 0755);
	o.root_fd = openat(base_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cn_err_clear(&err);
	msg[0] = '\0';
	if (bf_copy(&o, &err) < 0)
		snprintf(msg, sizeof(msg), "%s", err.msg);
	close(o.root_fd);
	return msg;
}

static uint64_t hashed(void)
{
	return bf_statcache_bytes_hashed(sc);
}

/* ---- cases ---- */

static void test_stable(void)
{
	char d1[CN_DIGEST_STR_SIZE], d2[CN_DIGEST_STR_SIZE];
	static const char *const sets[][4] = {
		{ "app", NULL }, { "a.txt", NULL }, { "a.txt", "app", "b.txt", NULL }, { "*.txt", NULL },
		{ ".", NULL }, { "big.bin", NULL },
	};
	uint64_t before;

	for (size_t i = 0; i < CN_ARRAY_SIZE(sets); i++) {
		const char *const *s = sets[i];
		int r1 = digest_in(ctx2_fd, ctx2_path, d1, s[0], s[1], s[2], s[3]);
		int r2 = digest_in(ctx2_fd, ctx2_path, d2, s[0], s[1], s[2], s[3]);
		UNIT_CHECK(r1 == 0 && r2 == 0 && !strcmp(d1, d2) && cn_digest_valid(d1),
			   "COPY %s%s: deterministic %s", s[0], s[1] ? " ..." : "", d1);
	}

	/* The same tree in another directory, with other times. */
	UNIT_CHECK(DIGEST(d1, "app") == 0 && DIGEST2(d2, "app") == 0 && !strcmp(d1, d2),
		   "same content and modes in another context dir (other mtimes, inodes): same digest");
	UNIT_CHECK(DIGEST(d1, "a.txt", "app", "big.bin") == 0 && DIGEST2(d2, "a.txt", "app", "big.bin") == 0 &&
		   !strcmp(d1, d2), "…for several sources too");

	/* The stat cache at work. */
	UNIT_CHECK(DIGEST(d1, "app", "big.bin") == 0, "digest: %s", err.msg);
	before = hashed();
	UNIT_CHECK(DIGEST(d2, "app", "big.bin") == 0 && !strcmp(d1, d2) && hashed() == before,
		   "unchanged sources: digest again reads 0 bytes (%llu)",
		   (unsigned long long)(hashed() - before));
	{
		char d3[CN_DIGEST_STR_SIZE];
		const char *srcs[] = { "app", "big.bin" };
		struct bf_copy_opts o = { .ctx_fd = ctx_fd, .root_fd = -1, .srcs = srcs, .nsrcs = 2 };
		UNIT_CHECK(bf_copy_digest(&o, NULL, NULL, d3, NULL, &err) == 0 && !strcmp(d3, d1),
			   "without a stat cache: the same digest (%s)", err.msg);
	}
}

/* D0 is the digest of SRC before; CHANGE alters the context; the digest
 * after must be equal (SAME) or not. */
static void expect(const char *src, const char *what, bool same, const char *d0)
{
	char d[CN_DIGEST_STR_SIZE];
	int r = DIGEST(d, src);
	UNIT_CHECK(r == 0 && (strcmp(d, d0) == 0) == same, "%s: %s digest (%s)", what,
		   same ? "same" : "different", r ? err.msg : d);
}

static void test_changes(void)
{
	char d0[CN_DIGEST_STR_SIZE], dfile[CN_DIGEST_STR_SIZE];
	struct stat st;
	struct timespec keep[2];
	uint64_t before;
	int fd;

	if (DIGEST(d0, "app") < 0 || DIGEST(dfile, "a.txt") < 0) {
		UNIT_CHECK(0, "digest: %s", err.msg);
		return;
	}

	unit_mtime(ctx_fd, "app/f1", 1500000000, 0);
	unit_mtime(ctx_fd, "app/sub", 1500000000, 0);
	unit_mtime(ctx_fd, "app", 1500000000, 0);
	expect("app", "touch -m on a file and dirs", true, d0);
	unit_mtime(ctx_fd, "a.txt", 1500000000, 0);
	expect("a.txt", "touch -m on a file source", true, dfile);
	if (fchownat(ctx_fd, "app/f1", 1234, 5678, 0) == 0) {
		expect("app", "chown", true, d0);
		if (fchownat(ctx_fd, "app/f1", 0, 0, 0) < 0)
			unit_fixture_fail("chown app/f1 back");
	}

	unit_chmod(ctx_fd, "app/f1", 0644);
	expect("app", "chmod of a file", false, d0);
	unit_chmod(ctx_fd, "app/f1", 0640);
	expect("app", "mode put back", true, d0);
	unit_chmod(ctx_fd, "app/sub/f2", 0755);
	expect("app", "setuid bit dropped", false, d0);
	unit_chmod(ctx_fd, "app/sub/f2", 04755);
	unit_chmod(ctx_fd, "app", 0755);
	expect("app", "chmod of the source dir itself", false, d0);
	unit_chmod(ctx_fd, "app", 0750);
	unit_chmod(ctx_fd, "app/empty", 0700);
	expect("app", "chmod of an empty subdir", false, d0);
	unit_chmod(ctx_fd, "app/empty", 0755);
	unit_chmod(ctx_fd, "a.txt", 0600);
	expect("a.txt", "chmod of a file source", false, dfile);
	unit_chmod(ctx_fd, "a.txt", 0644);
	expect("app", "everything put back", true, d0);

	/* One byte changed, same size, mtime restored: only the ctime moves,
	 * and the file was in the stat cache. (The chmods above made ctimes
	 * racy: let them settle so that every file is cached again.) */
	nanosleep(&(struct timespec){ 2, 300000000 }, NULL);
	expect("app", "(settled)", true, d0);
	before = hashed();
	expect("app", "(cached)", true, d0);
	UNIT_CHECK(hashed() == before, "before the change the digest reads nothing");
	fstatat(ctx_fd, "app/sub/f2", &st, 0);
	keep[0] = st.st_atim;
	keep[1] = st.st_mtim;
	fd = openat(ctx_fd, "app/sub/f2", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, "G", 1, 0) != 1 || futimens(fd, keep) < 0)
		unit_fixture_fail("modify f2");
	close(fd);
	before = hashed();
	expect("app", "one byte changed, size and mtime as before", false, d0);
	UNIT_CHECK(hashed() == before + 2, "…the file was read again because its ctime changed");
	fd = openat(ctx_fd, "app/sub/f2", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, "F", 1, 0) != 1 || futimens(fd, keep) < 0)
		unit_fixture_fail("restore f2");
	close(fd);
	expect("app", "content put back", true, d0);

	if (renameat(ctx_fd, "app/f1", ctx_fd, "app/f1-renamed") < 0)
		unit_fixture_fail("rename");
	expect("app", "a file renamed", false, d0);
	renameat(ctx_fd, "app/f1-renamed", ctx_fd, "app/f1");
	expect("app", "renamed back", true, d0);

	unit_put(ctx_fd, "app/sub/new", "", 0644);
	expect("app", "an empty file added in a subdir", false, d0);
	unlinkat(ctx_fd, "app/sub/new", 0);
	unit_mkdir(ctx_fd, "app/newdir", 0755);
	expect("app", "an empty dir added", false, d0);
	unlinkat(ctx_fd, "app/newdir", AT_REMOVEDIR);
	expect("app", "additions removed", true, d0);

	unlinkat(ctx_fd, "app/rel-link", 0);
	unit_symlink(ctx_fd, "sub/f2", "app/rel-link");
	expect("app", "symlink target changed", false, d0);
	unlinkat(ctx_fd, "app/rel-link", 0);
	unit_symlink(ctx_fd, "f1", "app/rel-link");
	expect("app", "symlink target put back", true, d0);

	/* A symlink and a file of the same text are different entries. */
	unlinkat(ctx_fd, "app/rel-link", 0);
	unit_put(ctx_fd, "app/rel-link", "f1", 0777);
	expect("app", "symlink replaced by a file holding its target", false, d0);
	unlinkat(ctx_fd, "app/rel-link", 0);
	unit_symlink(ctx_fd, "f1", "app/rel-link");
	expect("app", "symlink back", true, d0);

	/* A hard link and a symlink naming the same path (and mode) are
	 * different trees: a shared cache would hand out the wrong one. */
	{
		char dsym[2][CN_DIGEST_STR_SIZE];
		static const char *const targets[] = { "f1", "app/f1" };
		unit_chmod(ctx_fd, "app/f1", 0777);
		for (size_t i = 0; i < 2; i++) {
			unlinkat(ctx_fd, "app/rel-link", 0);
			unit_symlink(ctx_fd, targets[i], "app/rel-link");
			if (DIGEST(dsym[i], "app") < 0)
				unit_fixture_fail("digest with a symlink");
		}
		unlinkat(ctx_fd, "app/rel-link", 0);
		if (linkat(ctx_fd, "app/f1", ctx_fd, "app/rel-link", 0) < 0)
			unit_fixture_fail("hard link");
		expect("app", "a hard link where a symlink to f1 was", false, dsym[0]);
		expect("app", "a hard link where a symlink to app/f1 was", false, dsym[1]);
		unlinkat(ctx_fd, "app/rel-link", 0);
		unit_symlink(ctx_fd, "f1", "app/rel-link");
		unit_chmod(ctx_fd, "app/f1", 0640);
		expect("app", "symlink and mode put back", true, d0);
	}
}

static void test_placement(void)
{
	char d1[CN_DIGEST_STR_SIZE], d2[CN_DIGEST_STR_SIZE];

	/* bf_copy expands *.txt to the sorted matches and copies each under its
	 * own name, exactly as the list of them. */
	UNIT_CHECK(DIGEST(d1, "*.txt") == 0 && DIGEST(d2, ".hidden.txt", "a.txt", "b.txt") == 0 &&
		   !strcmp(d1, d2), "'*.txt' = '.hidden.txt a.txt b.txt' (the sorted matches)");
	UNIT_CHECK(DIGEST(d1, "a?p/s*/f?") == 0 && DIGEST(d2, "app/sub/f2") == 0 && !strcmp(d1, d2),
		   "'a?p/s*/f?' = 'app/sub/f2'");
	UNIT_CHECK(DIGEST(d1, "[ab].txt") == 0 && DIGEST(d2, "b.txt", "a.txt") == 0 && strcmp(d1, d2),
		   "sources in another order: another digest (the last copy of a name wins)");
	{
		static const char *want[] = { ".hidden.txt", "a.txt", "b.txt" };
		bool same = !copy_err("*.txt", "/w/")[0];
		int rfd = openat(base_fd, "root/w", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat st;
		for (size_t i = 0; i < CN_ARRAY_SIZE(want); i++)
			same = same && rfd >= 0 && fstatat(rfd, want[i], &st, AT_SYMLINK_NOFOLLOW) == 0;
		UNIT_CHECK(same, "(bf_copy of '*.txt' does place those three by name)");
		if (rfd >= 0)
			close(rfd);
	}

	/* A file source is placed by its base name, wherever it is. */
	UNIT_CHECK(DIGEST(d1, "app/f1") == 0 && DIGEST(d2, "other/f1") == 0 && !strcmp(d1, d2),
		   "same file name, content and mode in other dirs: same digest");
	UNIT_CHECK(DIGEST(d1, "app/f1") == 0 && DIGEST(d2, "in-link") == 0 && strcmp(d1, d2),
		   "a named symlink is followed, and placed under its own name");
	UNIT_CHECK(DIGEST(d1, "app/f1") == 0 && DIGEST(d2, "./app/../app//f1") == 0 && !strcmp(d1, d2),
		   "paths are cleaned as bf_copy does");

	/* A directory source is placed by its contents. */
	UNIT_CHECK(DIGEST(d1, "app") == 0 && DIGEST(d2, "app/") == 0 && !strcmp(d1, d2), "'app' = 'app/'");
	UNIT_CHECK(DIGEST(d1, "app/sub") == 0 && DIGEST(d2, "app") == 0 && strcmp(d1, d2),
		   "a subdir is not its parent");
	UNIT_CHECK(DIGEST(d1, "a.txt") == 0 && DIGEST(d2, "a.txt", "a.txt") == 0 && strcmp(d1, d2),
		   "the number of sources counts");
}

static void test_special(void)
{
	char d0[CN_DIGEST_STR_SIZE], d[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *sock = cn_xasprintf("%s/ctx/special/sock", base);

	alarm(10);      /* opening the fifo would hang: fail loudly instead */
	UNIT_CHECK(DIGEST(d0, "special") == 0, "dir with a fifo and a device: %s", err.msg);
	UNIT_CHECK(DIGEST(d, "special/fifo") == 0, "a fifo named as a source, not opened: %s", err.msg);
	UNIT_CHECK(DIGEST(d, "special/null") == 0, "a device named as a source, not opened: %s", err.msg);

	unlinkat(ctx_fd, "special/null", 0);
	mknodat(ctx_fd, "special/null", S_IFCHR | 0666, makedev(1, 5));
	UNIT_CHECK(DIGEST(d, "special") == 0 && strcmp(d, d0), "device minor changed: different digest");
	unlinkat(ctx_fd, "special/null", 0);
	mknodat(ctx_fd, "special/null", S_IFBLK | 0666, makedev(1, 3));
	UNIT_CHECK(DIGEST(d, "special") == 0 && strcmp(d, d0), "char device -> block device: different");
	unlinkat(ctx_fd, "special/null", 0);
	mknodat(ctx_fd, "special/null", S_IFCHR | 0666, makedev(1, 3));
	UNIT_CHECK(DIGEST(d, "special") == 0 && !strcmp(d, d0), "device put back: same");

	if (unit_socket(sock) == 0) {
		UNIT_CHECK(DIGEST(d, "special") == 0 && !strcmp(d, d0),
			   "a socket in a copied dir is skipped, as bf_copy does");
		const char *got = digest_err("special/sock");
		UNIT_CHECK(got[0] && !strcmp(got, copy_err("special/sock", "/x")),
			   "a socket named as a source fails as in bf_copy: %s", got);
		unlinkat(ctx_fd, "special/sock", 0);
	} else {
		UNIT_SKIP("cannot bind a unix socket", "socket skipped");
	}
	alarm(0);
}

static void test_xattrs(void)
{
	_cleanup_free_ char *p = cn_xasprintf("%s/f1", ctx_path);
	_cleanup_free_ char *dp = cn_xasprintf("%s/app", ctx_path);
	char d0[CN_DIGEST_STR_SIZE], d[CN_DIGEST_STR_SIZE];

	unit_put(ctx_fd, "f1", "F1", 0640);
	if (setxattr(p, "user.probe", "1", 1, 0) < 0) {
		UNIT_SKIP("no user xattrs here", "xattrs");
		unlinkat(ctx_fd, "f1", 0);
		return;
	}
	removexattr(p, "user.probe");
	DIGEST(d0, "f1");
	UNIT_CHECK(DIGEST(d, "app/f1") == 0 && !strcmp(d, d0), "(the same file elsewhere: same digest)");
	setxattr(p, "user.keep", "yes", 3, 0);
	UNIT_CHECK(DIGEST(d, "f1") == 0 && strcmp(d, d0), "a user.* xattr (which bf_copy keeps) counts");
	setxattr(p, "user.keep", "no!", 3, 0);
	{
		char d2[CN_DIGEST_STR_SIZE];
		UNIT_CHECK(DIGEST(d2, "f1") == 0 && strcmp(d, d2), "…and its value");
	}
	removexattr(p, "user.keep");
	setxattr(p, "user.overlay.opaque", "y", 1, 0);
	setxattr(p, "trusted.cairn.test", "y", 1, 0);
	UNIT_CHECK(DIGEST(d, "f1") == 0 && !strcmp(d, d0),
		   "user.overlay.* and trusted.* (which bf_copy drops) do not");
	{
		/* user_obj rw, user 1234 r, group_obj r, mask r, other none:
		 * the file's mode (0640) stays, and the named user is what the
		 * mode bits cannot express, so the kernel keeps the ACL. */
		static const unsigned char acl[] = {
			2, 0, 0, 0,
			1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 4, 0, 0xd2, 4, 0, 0,
			4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
			0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
		};
		if (setxattr(p, "system.posix_acl_access", acl, sizeof(acl), 0) < 0) {
			UNIT_SKIP("no POSIX ACLs here", "an ACL counts");
		} else {
			UNIT_CHECK(DIGEST(d, "f1") == 0 && strcmp(d, d0),
				   "a POSIX ACL (which bf_copy keeps) counts");
			removexattr(p, "system.posix_acl_access");
		}
	}
	unlinkat(ctx_fd, "f1", 0);

	DIGEST(d0, "app");
	setxattr(dp, "user.dir", "1", 1, 0);
	UNIT_CHECK(DIGEST(d, "app") == 0 && strcmp(d, d0), "an xattr on the source dir counts");
	removexattr(dp, "user.dir");
	UNIT_CHECK(DIGEST(d, "app") == 0 && !strcmp(d, d0), "…removed: same again");
}

/* Bad sources fail as bf_copy fails, with the same message. */
static void test_errors(void)
{
	static const char *bad[] = { "nope", "../x", "/../../etc/passwd", "app/../../x", "passwd-link",
		"up-link/x", "up-link", "loop-a", "whdir", "x*", "[a-", "../*", "*-link/x", "deep" };
	char d[CN_DIGEST_STR_SIZE];

	/* Depth is bounded, as in bf_copy. */
	close(unit_deep_dirs(ctx_fd, "deep", 139));
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		char want[CN_ERR_MSG_MAX];
		const char *got = digest_err(bad[i]);
		snprintf(want, sizeof(want), "%s", copy_err(bad[i], "/dst/"));
		UNIT_CHECK(got[0] && !strcmp(got, want), "'%s' fails as in bf_copy: %s", bad[i], got);
	}
	cn_rm_rf_at(ctx_fd, "deep", NULL);
	{
		struct bf_copy_opts o = { .ctx_fd = ctx_fd, .root_fd = -1 };
		UNIT_CHECK(bf_copy_digest(&o, ctx_path, sc, d, NULL, &err) < 0 && strstr(err.msg, "no source files"),
			   "no sources: %s", err.msg);
	}
	UNIT_CHECK(DIGEST(d, "a.txt", "nope") < 0 && strstr(err.msg, "'nope'"),
		   "one bad source among good ones fails: %s", err.msg);

	/* A file source named .wh.*: bf_copy refuses it only where it would
	 * keep that name, which depends on the destination. */
	UNIT_CHECK(DIGEST(d, ".wh.z") == 0, "'.wh.z' as a source: digest ok (destination unknown)");
	UNIT_CHECK(!copy_err(".wh.z", "/renamed")[0], "(bf_copy '.wh.z' to a name succeeds)");
	UNIT_CHECK(copy_err(".wh.z", "/")[0], "(bf_copy '.wh.z' into a dir fails)");
	UNIT_CHECK(DIGEST(d, "whdir/*") == 0, "same for a pattern matching one .wh. file");
	UNIT_CHECK(!copy_err("whdir/*", "/renamed")[0] && copy_err("whdir/*", "/dst/")[0],
		   "(bf_copy: ok to a name, refused into a dir)");
}

/* A directory of the shape race/{d,swap}: each a dir holding ok.txt or a
 * symlink to /etc. */
static void race_tree(const char *top, bool d_dir, bool swap_dir)
{
	char p[64];
	unit_mkdir(ctx_fd, top, 0755);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "swap" : "d";
		snprintf(p, sizeof(p), "%s/%s", top, name);
		if (i ? swap_dir : d_dir) {
			unit_mkdir(ctx_fd, p, 0755);
			snprintf(p, sizeof(p), "%s/%s/ok.txt", top, name);
			unit_put(ctx_fd, p, "OK", 0644);
		} else {
			unit_symlink(ctx_fd, "/etc", p);
		}
	}
}

/* A source dir swapped with a symlink to /etc while digests run: each one
 * fails ("changed while being copied") or is the digest of a tree made of
 * the real entries (each of d and swap seen in either state), never of one
 * holding the host's /etc. */
static void test_race(void)
{
	char want[4][CN_DIGEST_STR_SIZE];
	int fails = 0, odd = 0;
	pid_t pid;

	for (int k = 0; k < 4; k++) {
		char top[16];
		snprintf(top, sizeof(top), "ref%d", k);
		race_tree(top, k & 1, k & 2);
		if (DIGEST(want[k], top) < 0)
			UNIT_CHECK(0, "race: reference digest: %s", err.msg);
		cn_rm_rf_at(ctx_fd, top, NULL);
	}
	race_tree("race", true, false);
	pid = fork();
	if (pid == 0) {
		for (;;)
			renameat2(ctx_fd, "race/d", ctx_fd, "race/swap", RENAME_EXCHANGE);
	}
	for (int i = 0; i < 300 && pid > 0; i++) {
		char d[CN_DIGEST_STR_SIZE];
		bool known = false;
		if (DIGEST(d, "race") < 0) {
			fails++;
			continue;
		}
		for (int k = 0; k < 4; k++)
			known = known || !strcmp(d, want[k]);
		if (!known)
			odd++;
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	UNIT_CHECK(pid > 0 && odd == 0, "race: no digest includes anything but the real entries "
		   "(%d refused, %d other)", fails, odd);
	cn_rm_rf_at(ctx_fd, "race", NULL);
}

int main(void)
{
	struct timespec settle = { 2, 300000000 };

	base_fd = unit_tmpdir(base);
	ctx_path = cn_xasprintf("%s/ctx", base);
	ctx2_path = cn_xasprintf("%s/ctx2", base);
	unit_mkdir(base_fd, "ctx", 0755);
	unit_mkdir(base_fd, "ctx2", 0755);
	ctx_fd = openat(base_fd, "ctx", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ctx2_fd = openat(base_fd, "ctx2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	make_tree(ctx_fd, false);
	make_tree(ctx2_fd, true);
	make_extras(ctx_fd);
	sc = bf_statcache_new();
	nanosleep(&settle, NULL);       /* out of the racy window: files get cached */

	test_stable();
	test_changes();
	test_placement();
	test_special();
	test_xattrs();
	test_errors();
	test_race();

	bf_statcache_free(sc);
	close(ctx_fd);
	close(ctx2_fd);
	close(base_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	free(ctx_path);
	free(ctx2_path);
	return UNIT_DONE();
}
