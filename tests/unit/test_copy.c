/* bf_copy: Dockerfile COPY semantics, and the context and image-root
 * attacks it must withstand (sources escaping the context, destinations
 * escaping the root through image symlinks, fifos, whiteout names). */
#include "builder/copy.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-copy-XXXXXX";
static int base_fd = -1, ctx_fd = -1, root_fd = -1;
static cn_err err;

/* ---- fixtures ---- */

static bool lstat_ok(int dirfd, const char *path, struct stat *st)
{
	return fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A fresh, empty image root for each case. */
static void new_root(void)
{
	if (root_fd >= 0)
		close(root_fd);
	root_fd = unit_fresh_dir(base_fd, "root", 0755);
}

struct run {
	const char *dest;
	const char *workdir;
	bool chown;
	uid_t uid;
	gid_t gid;
	bool chmod;
	mode_t mode;
};

/* COPY srcs... dest, with options from R; the srcs list ends with NULL. */
static int copy_(const struct run *r, ...)
{
	const char *srcs[16];
	size_t n = 0;
	va_list ap;
	struct bf_copy_opts o = {
		.ctx_fd = ctx_fd, .root_fd = root_fd, .srcs = srcs,
		.dest = r->dest, .workdir = r->workdir ? r->workdir : "/",
		.chown = r->chown, .uid = r->uid, .gid = r->gid,
		.chmod = r->chmod, .mode = r->mode,
	};
	va_start(ap, r);
	for (const char *s; n < CN_ARRAY_SIZE(srcs) && (s = va_arg(ap, const char *)); )
		srcs[n++] = s;
	va_end(ap);
	o.nsrcs = n;
	cn_err_clear(&err);
	return bf_copy(&o, &err);
}

#define COPY(dest_, ...) copy_(&(struct run){ .dest = (dest_) }, __VA_ARGS__, NULL)

static bool err_has(const char *s)
{
	return strstr(err.msg, s) != NULL;
}

/* The build context used by every case. */
static void make_context(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1234567890, 987654321 } };
	unit_mkdir(base_fd, "ctx", 0755);
	ctx_fd = openat(base_fd, "ctx", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unit_put(ctx_fd, "a.txt", "A", 0644);
	unit_put(ctx_fd, "b.txt", "B", 0600);
	unit_put(ctx_fd, "c.md", "C", 0644);
	unit_put(ctx_fd, "suid", "#!/bin/sh\n", 04755);
	if (utimensat(ctx_fd, "suid", ts, 0) < 0)
		unit_fixture_fail("suid");
	unit_mkdir(ctx_fd, "dir", 0750);
	unit_put(ctx_fd, "dir/f1", "F1", 0640);
	unit_mkdir(ctx_fd, "dir/sub", 0700);
	unit_put(ctx_fd, "dir/sub/f2", "F2", 0644);
	unit_mkdir(ctx_fd, "dir/sub/subsub", 0755);
	unit_put(ctx_fd, "dir/sub/subsub/deep.txt", "DEEP", 0644);
	unit_symlink(ctx_fd, "f1", "dir/rel-link");
	unit_symlink(ctx_fd, "/etc/passwd", "dir/abs-link");
	if (utimensat(ctx_fd, "dir/sub", ts, 0) < 0)
		unit_fixture_fail("dir/sub");
	/* Outward links and a loop. */
	unit_symlink(ctx_fd, "/etc/passwd", "passwd-link");
	unit_symlink(ctx_fd, "../../", "up-link");
	unit_symlink(ctx_fd, "loop-b", "loop-a");
	unit_symlink(ctx_fd, "loop-a", "loop-b");
	unit_symlink(ctx_fd, "dir/f1", "in-link");
	/* Special files. */
	unit_mkdir(ctx_fd, "special", 0755);
	mkfifoat(ctx_fd, "special/fifo", 0640);
	mknodat(ctx_fd, "special/null", S_IFCHR | 0666, makedev(1, 3));
	/* Whiteout-looking names. */
	unit_mkdir(ctx_fd, "whdir", 0755);
	unit_put(ctx_fd, "whdir/.wh.y", "", 0644);
	unit_put(ctx_fd, ".wh.z", "", 0644);
	/* A tree meeting the image's merged-/usr links. */
	unit_mkdir(ctx_fd, "tree", 0755);
	unit_mkdir(ctx_fd, "tree/lib", 0755);
	unit_put(ctx_fd, "tree/lib/x.so", "SO", 0644);
	/* Hidden file for wildcards. */
	unit_put(ctx_fd, ".hidden.txt", "H", 0644);
}

/* ---- cases ---- */

static void test_basic(void)
{
	struct stat st;

	new_root();
	UNIT_CHECK(COPY("/b.txt", "a.txt") == 0, "file to file: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "b.txt"), "A", "file to file: content");
	UNIT_CHECK(lstat_ok(root_fd, "b.txt", &st) && (st.st_mode & 07777) == 0644 && st.st_uid == 0 &&
		   st.st_gid == 0, "file to file: mode kept, owner 0:0");

	UNIT_CHECK(COPY("/d/", "a.txt") == 0, "file to dir/: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "d/a.txt"), "A", "file to dir/: lands in the directory");
	UNIT_CHECK(lstat_ok(root_fd, "d", &st) && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755,
		   "file to dir/: created directory is 0755");

	unit_mkdir(root_fd, "e", 0711);
	UNIT_CHECK(COPY("/e", "a.txt") == 0, "file to existing dir without slash: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "e/a.txt"), "A", "file to existing dir without slash: lands inside");
	UNIT_CHECK(lstat_ok(root_fd, "e", &st) && (st.st_mode & 07777) == 0711,
		   "existing directory keeps its mode");

	unit_put(root_fd, "old", "OLD", 0600);
	UNIT_CHECK(COPY("/old", "b.txt") == 0, "file over an existing file: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "old"), "B", "file over an existing file: replaced");

	UNIT_CHECK(COPY("/p/q/r.txt", "/a.txt") == 0, "leading / is context-relative: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "p/q/r.txt"), "A", "missing parents created");
	UNIT_CHECK(lstat_ok(root_fd, "p/q", &st) && (st.st_mode & 07777) == 0755 && st.st_uid == 0,
		   "created parents are 0755 root-owned");
	UNIT_CHECK(COPY("/in-link-copy", "in-link") == 0, "named in-context symlink is followed: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "in-link-copy"), "F1", "named in-context symlink: target content");
}

static void test_dirs(void)
{
	struct stat st, src;
	char target[64] = "";

	new_root();
	UNIT_CHECK(COPY("/new", "dir") == 0, "dir to new dir: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "new/f1"), "F1", "dir: contents copied, not the dir itself");
	UNIT_CHECK(!unit_exists(root_fd, "new/dir"), "dir: no extra level");
	UNIT_STREQ(unit_slurp(root_fd, "new/sub/subsub/deep.txt"), "DEEP", "nested dirs");
	/* BuildKit makes the destination itself (MkdirAll 0755) and copies the
	 * contents into it without overwriting its metadata. */
	UNIT_CHECK(lstat_ok(root_fd, "new", &st) && (st.st_mode & 07777) == 0755,
		   "new dest dir is 0755, not the source dir's mode");
	UNIT_CHECK(lstat_ok(root_fd, "new/sub", &st) && (st.st_mode & 07777) == 0700 &&
		   st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 987654321,
		   "subdir mode and nanosecond mtime kept");
	UNIT_CHECK(lstat_ok(root_fd, "new/rel-link", &st) && S_ISLNK(st.st_mode) &&
		   readlinkat(root_fd, "new/rel-link", target, sizeof(target) - 1) == 2 &&
		   !strcmp(target, "f1"), "symlink in a copied dir stays a symlink");
	memset(target, 0, sizeof(target));
	UNIT_CHECK(lstat_ok(root_fd, "new/abs-link", &st) && S_ISLNK(st.st_mode) &&
		   readlinkat(root_fd, "new/abs-link", target, sizeof(target) - 1) > 0 &&
		   !strcmp(target, "/etc/passwd"), "absolute symlink copied verbatim, not followed");

	unit_mkdir(root_fd, "exist", 0701);
	UNIT_CHECK(COPY("/exist/", "dir") == 0, "dir into existing dir: %s", err.msg);
	UNIT_CHECK(lstat_ok(root_fd, "exist", &st) && (st.st_mode & 07777) == 0701,
		   "dir into existing dir: its mode untouched");
	UNIT_STREQ(unit_slurp(root_fd, "exist/sub/f2"), "F2", "dir into existing dir: contents");

	UNIT_CHECK(COPY("/m/", "a.txt", "b.txt", "dir/sub") == 0, "several sources into dir: %s", err.msg);
	UNIT_CHECK(unit_slurp(root_fd, "m/a.txt") && unit_slurp(root_fd, "m/b.txt") && unit_slurp(root_fd, "m/f2") &&
		   unit_exists(root_fd, "m/subsub/deep.txt"), "several sources: files by name, dir by contents");

	UNIT_CHECK(COPY("/s", "suid") == 0, "setuid file: %s", err.msg);
	fstatat(ctx_fd, "suid", &src, 0);
	UNIT_CHECK(lstat_ok(root_fd, "s", &st) && (st.st_mode & 07777) == 04755 &&
		   st.st_mtim.tv_sec == src.st_mtim.tv_sec && st.st_mtim.tv_nsec == src.st_mtim.tv_nsec,
		   "setuid bit and nanosecond mtime kept");
}

static void test_wildcards(void)
{
	struct stat st;
	new_root();
	UNIT_CHECK(COPY("/w/", "*.txt") == 0, "wildcard *.txt: %s", err.msg);
	UNIT_CHECK(unit_exists(root_fd, "w/a.txt") && unit_exists(root_fd, "w/b.txt") && !unit_exists(root_fd, "w/c.md"),
		   "wildcard *.txt: matches .txt only");
	UNIT_CHECK(unit_exists(root_fd, "w/.hidden.txt"), "wildcard * matches a leading dot (filepath.Match)");
	UNIT_CHECK(COPY("/w2", "[ab].txt") != 0 && err_has("must be a directory and end with a /"),
		   "a pattern matching several files needs DEST/ (docker): %s", err.msg);
	UNIT_CHECK(!unit_exists(root_fd, "w2"), "nothing written on that error");
	UNIT_CHECK(COPY("/w2/", "[ab].txt") == 0, "class [ab] into DEST/: %s", err.msg);
	UNIT_CHECK(unit_exists(root_fd, "w2/a.txt") && unit_exists(root_fd, "w2/b.txt"), "class [ab] matches both");
	UNIT_CHECK(COPY("/app.txt", "[a].txt") == 0, "a pattern matching one file to a name: %s", err.msg);
	UNIT_CHECK(lstat_ok(root_fd, "app.txt", &st) && S_ISREG(st.st_mode),
		   "a one-file pattern takes the destination name, as docker (COPY target/*.jar app.jar)");
	UNIT_CHECK(COPY("/w3/", "[^a].txt", "d?r/s*/f?") == 0, "negated class and multi-component: %s",
		   err.msg);
	UNIT_CHECK(unit_exists(root_fd, "w3/b.txt") && !unit_exists(root_fd, "w3/a.txt") && unit_exists(root_fd, "w3/f2"),
		   "[^a] and d?r/s*/f? match");
	UNIT_CHECK(COPY("/w4/", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b") != 0 && err_has("no source files"),
		   "pathological pattern terminates with no match: %s", err.msg);
	UNIT_CHECK(COPY("/w5/", "x*") != 0 && err_has("'x*': no source files were specified"),
		   "pattern matching nothing: %s", err.msg);
	UNIT_CHECK(COPY("/w5/", "[a-") != 0 && err_has("malformed"), "malformed pattern: %s", err.msg);
	UNIT_CHECK(COPY("/w5/", "../*") != 0 && err_has("outside the build context"),
		   "pattern climbing out of the context: %s", err.msg);
	UNIT_CHECK(COPY("/w5/", "*-link/x") != 0, "pattern through an outward symlink fails: %s", err.msg);
	UNIT_CHECK(COPY("/w6/", "whdir/*") != 0 && err_has("whdir/.wh.y"),
		   "pattern matching a .wh. file fails: %s", err.msg);
}

/* Patterns decode names as Go's utf8.DecodeRune: an invalid or overlong
 * sequence is one RuneError per byte, never one character. */
static void test_wildcards_utf8(void)
{
	new_root();
	unit_mkdir(ctx_fd, "u8", 0755);
	unit_put(ctx_fd, "u8/\xc0\xaf", "OVERLONG", 0644);      /* '/' written in two bytes */
	unit_mkdir(ctx_fd, "u8b", 0755);
	unit_put(ctx_fd, "u8b/\xff", "FF", 0644);
	UNIT_CHECK(COPY("/u/", "u8/?") != 0 && err_has("no source files"),
		   "'?' does not match an overlong 2-byte sequence as one character: %s", err.msg);
	UNIT_CHECK(!unit_exists(root_fd, "u/\xc0\xaf"), "the overlong name is not copied by '?'");
	UNIT_CHECK(COPY("/u/", "u8/?" "?") == 0 && unit_exists(root_fd, "u/\xc0\xaf"),
		   "'?" "?' matches it, one byte each: %s", err.msg);
	UNIT_CHECK(COPY("/u/", "u8b/[\xc3\xbf]") != 0 && err_has("no source files"),
		   "an invalid byte 0xff is not U+00FF to a class: %s", err.msg);
	UNIT_CHECK(COPY("/u/", "u8b/[\xff]") != 0 && err_has("malformed"),
		   "invalid UTF-8 in a class is a malformed pattern (Go): %s", err.msg);
	cn_rm_rf_at(ctx_fd, "u8", NULL);
	cn_rm_rf_at(ctx_fd, "u8b", NULL);
}

static void test_workdir_and_owner(void)
{
	struct stat st;
	struct run r = { .dest = "rel/", .workdir = "/app" };

	new_root();
	UNIT_CHECK(copy_(&r, "a.txt", NULL) == 0, "relative dest with workdir: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "app/rel/a.txt"), "A", "relative dest joins the workdir");
	r.dest = ".";
	UNIT_CHECK(copy_(&r, "b.txt", NULL) == 0 && unit_exists(root_fd, "app/b.txt"), "dest '.' is the workdir");
	r.dest = "../../up.txt";
	UNIT_CHECK(copy_(&r, "a.txt", NULL) == 0 && unit_exists(root_fd, "up.txt"),
		   "dest '..' stops at the root: %s", err.msg);

	r = (struct run){ .dest = "/own/x/", .chown = true, .uid = 1234, .gid = 5678 };
	UNIT_CHECK(copy_(&r, "dir", NULL) == 0, "--chown: %s", err.msg);
	{
		static const char *paths[] = { "own", "own/x", "own/x/f1", "own/x/sub", "own/x/sub/subsub",
			"own/x/sub/subsub/deep.txt", "own/x/rel-link" };
		bool all = true;
		for (size_t i = 0; i < CN_ARRAY_SIZE(paths); i++)
			all = all && lstat_ok(root_fd, paths[i], &st) && st.st_uid == 1234 && st.st_gid == 5678;
		UNIT_CHECK(all, "--chown applied to created parents, files, dirs and symlinks");
	}
	r = (struct run){ .dest = "/own/s", .chown = true, .uid = 1, .gid = 2 };
	UNIT_CHECK(copy_(&r, "suid", NULL) == 0 && lstat_ok(root_fd, "own/s", &st) &&
		   (st.st_mode & 07777) == 04755 && st.st_uid == 1, "--chown keeps the setuid bit");

	r = (struct run){ .dest = "/cm", .chmod = true, .mode = 0640 };
	UNIT_CHECK(copy_(&r, "dir", NULL) == 0, "--chmod: %s", err.msg);
	UNIT_CHECK(lstat_ok(root_fd, "cm/f1", &st) && (st.st_mode & 07777) == 0640 &&
		   lstat_ok(root_fd, "cm/sub", &st) && (st.st_mode & 07777) == 0640 &&
		   lstat_ok(root_fd, "cm", &st) && (st.st_mode & 07777) == 0755,
		   "--chmod 0640 applied to files and dirs, not to the new dest dir");
	UNIT_CHECK(lstat_ok(root_fd, "cm/rel-link", &st) && S_ISLNK(st.st_mode), "--chmod leaves symlinks");
}

static void test_special(void)
{
	struct stat st;
	_cleanup_free_ char *sock = cn_xasprintf("%s/ctx/special/sock", base);

	new_root();
	alarm(10);      /* opening the fifo would hang: fail loudly instead */
	UNIT_CHECK(COPY("/sp", "special") == 0, "dir with fifo and device: %s", err.msg);
	UNIT_CHECK(lstat_ok(root_fd, "sp/fifo", &st) && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0640,
		   "fifo copied as a fifo");
	UNIT_CHECK(lstat_ok(root_fd, "sp/null", &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
		   "char device copied as a device");
	UNIT_CHECK(COPY("/named-fifo", "special/fifo") == 0 && lstat_ok(root_fd, "named-fifo", &st) &&
		   S_ISFIFO(st.st_mode), "fifo named as a source: %s", err.msg);

	/* A socket in the context is skipped. */
	if (unit_socket(sock) == 0) {
		UNIT_CHECK(COPY("/sp2", "special") == 0 && !unit_exists(root_fd, "sp2/sock") &&
			   unit_exists(root_fd, "sp2/fifo"), "socket skipped: %s", err.msg);
		unlinkat(ctx_fd, "special/sock", 0);
	} else {
		UNIT_SKIP("cannot bind a unix socket", "socket skipped");
	}
	alarm(0);
}

static void test_xattrs(void)
{
	char v[16] = "";
	new_root();
	if (setxattr(base, "user.probe", "1", 1, 0) < 0) {
		UNIT_SKIP("no user xattrs on /tmp", "xattrs kept");
		return;
	}
	unit_put(ctx_fd, "x.txt", "X", 0644);
	{
		_cleanup_free_ char *p = cn_xasprintf("%s/ctx/x.txt", base);
		setxattr(p, "user.keep", "yes", 3, 0);
		setxattr(p, "user.overlay.opaque", "y", 1, 0);
		setxattr(p, "trusted.overlay.opaque", "y", 1, 0);
	}
	UNIT_CHECK(COPY("/x.txt", "x.txt") == 0, "file with xattrs: %s", err.msg);
	{
		_cleanup_free_ char *p = cn_xasprintf("%s/root/x.txt", base);
		UNIT_CHECK(getxattr(p, "user.keep", v, sizeof(v)) == 3 && !memcmp(v, "yes", 3), "user.* xattr kept");
		UNIT_CHECK(getxattr(p, "user.overlay.opaque", v, sizeof(v)) < 0 &&
			   getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0,
			   "overlay xattrs (opaque/whiteout markers) not copied");
	}
	unlinkat(ctx_fd, "x.txt", 0);
}

/* A POSIX ACL in the kernel's xattr form: a version, then sorted entries of
 * tag, permission bits and id (little-endian). user_obj rw, user 1234 rw,
 * group_obj r, mask rw, other r. */
static size_t acl_value(unsigned char *v)
{
	static const struct { uint16_t tag, perm; uint32_t id; } ents[] = {
		{ 0x01, 6, UINT32_MAX }, { 0x02, 6, 1234 }, { 0x04, 4, UINT32_MAX },
		{ 0x10, 6, UINT32_MAX }, { 0x20, 4, UINT32_MAX },
	};
	size_t n = 0;
	v[n++] = 2; v[n++] = 0; v[n++] = 0; v[n++] = 0;
	for (size_t i = 0; i < CN_ARRAY_SIZE(ents); i++) {
		v[n++] = (unsigned char)ents[i].tag; v[n++] = (unsigned char)(ents[i].tag >> 8);
		v[n++] = (unsigned char)ents[i].perm; v[n++] = (unsigned char)(ents[i].perm >> 8);
		for (int b = 0; b < 32; b += 8)
			v[n++] = (unsigned char)(ents[i].id >> b);
	}
	return n;
}

/* COPY keeps the xattrs a pulled layer and a RUN step keep (layers/xattr.h):
 * user.* and POSIX ACLs yes, trusted.* no; a --chmod mode survives the ACL,
 * which would otherwise rewrite the group bits. */
static void test_xattr_policy(void)
{
	_cleanup_free_ char *src = cn_xasprintf("%s/ctx/pol.txt", base);
	_cleanup_free_ char *dst = cn_xasprintf("%s/root/pol.txt", base);
	unsigned char acl[64], got[64];
	size_t acl_len = acl_value(acl);
	ssize_t sl, dl;
	char v[16] = "";
	struct stat st;

	new_root();
	unit_put(ctx_fd, "pol.txt", "P", 0644);
	if (setxattr(src, "user.bar", "b", 1, 0) < 0 || setxattr(src, "trusted.foo", "f", 1, 0) < 0) {
		UNIT_SKIP("no user or trusted xattrs on /tmp", "xattr policy");
		unlinkat(ctx_fd, "pol.txt", 0);
		return;
	}
	UNIT_CHECK(COPY("/pol.txt", "pol.txt") == 0, "file with user.bar and trusted.foo: %s", err.msg);
	UNIT_CHECK(getxattr(dst, "user.bar", v, sizeof(v)) == 1 && v[0] == 'b', "user.bar kept");
	UNIT_CHECK(getxattr(dst, "trusted.foo", v, sizeof(v)) < 0 && errno == ENODATA,
		   "trusted.foo dropped, as extraction and RUN layers drop it");

	if (setxattr(src, "system.posix_acl_access", acl, acl_len, 0) < 0) {
		UNIT_SKIP("no POSIX ACLs on /tmp", "ACLs kept");
		unlinkat(ctx_fd, "pol.txt", 0);
		return;
	}
	new_root();
	sl = getxattr(src, "system.posix_acl_access", acl, sizeof(acl));
	UNIT_CHECK(COPY("/pol.txt", "pol.txt") == 0, "file with an ACL: %s", err.msg);
	dl = getxattr(dst, "system.posix_acl_access", got, sizeof(got));
	UNIT_CHECK(sl > 0 && dl == sl && !memcmp(acl, got, (size_t)sl), "POSIX ACL kept");
	UNIT_CHECK(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0664, "mode as the source's (0%o)",
		   st.st_mode & 07777);

	new_root();
	UNIT_CHECK(copy_(&(struct run){ .dest = "pol.txt", .chmod = true, .mode = 0640 }, "/pol.txt",
			 NULL) == 0, "--chmod=0640 with an ACL: %s", err.msg);
	UNIT_CHECK(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0640,
		   "--chmod wins over the ACL's mask (0%o)", st.st_mode & 07777);
	UNIT_CHECK(getxattr(dst, "system.posix_acl_access", got, sizeof(got)) > 0, "…and the ACL stays");
	unlinkat(ctx_fd, "pol.txt", 0);
}

static void test_source_errors(void)
{
	new_root();
	UNIT_CHECK(COPY("/x", "nope") != 0 &&
		   !strcmp(err.msg, "'nope': no such file or directory in the build context"),
		   "missing source: %s", err.msg);
	UNIT_CHECK(COPY("/x", "../x") != 0 &&
		   !strcmp(err.msg, "'../x': points outside the build context"), "'../x': %s", err.msg);
	UNIT_CHECK(COPY("/x", "/../../etc/passwd") != 0 && err_has("points outside the build context"),
		   "'/../../etc/passwd': %s", err.msg);
	UNIT_CHECK(COPY("/x", "dir/../../x") != 0 && err_has("points outside"), "'dir/../../x': %s", err.msg);
	UNIT_CHECK(COPY("/x", "passwd-link") != 0 && err_has("points outside the build context"),
		   "context symlink to /etc/passwd: %s", err.msg);
	UNIT_CHECK(COPY("/x", "up-link/x") != 0 && err_has("points outside the build context"),
		   "context symlink to ../../ then link/x: %s", err.msg);
	UNIT_CHECK(COPY("/x", "up-link") != 0 && err_has("points outside"), "context symlink to ../../: %s",
		   err.msg);
	UNIT_CHECK(COPY("/x", "loop-a") != 0 && err_has("symbolic links"), "symlink loop: %s", err.msg);
	UNIT_CHECK(COPY("/x", "whdir") != 0 &&
		   !strcmp(err.msg, "'whdir/.wh.y': names starting with .wh. cannot be stored in a layer"),
		   ".wh. file in a copied dir: %s", err.msg);
	UNIT_CHECK(COPY("/", ".wh.z") != 0 && err_has(".wh."), ".wh. file named as a source: %s", err.msg);
	UNIT_CHECK(COPY("/.wh.etc", "a.txt") != 0 && err_has(".wh."), ".wh. destination name: %s", err.msg);
	new_root();
	UNIT_CHECK(COPY("/x/", "a.txt", "nope") != 0 && !unit_exists(root_fd, "x"),
		   "a bad source fails before anything is written");
	UNIT_CHECK(COPY("/x/", "a.txt", "../b.txt") != 0 && COPY("/x/", "a.txt", "z*") != 0 &&
		   unit_count_entries(root_fd, ".") == 0, "root untouched by copies whose sources fail");
}

/* The image's own symlinks must never lead a write out of the root. */
static void test_dest_escapes(void)
{
	_cleanup_free_ char *canary_abs = cn_xasprintf("%s/canary", base);
	_cleanup_free_ char *victim_abs = cn_xasprintf("%s/canary/victim", base);
	_cleanup_free_ char *host_name = cn_xasprintf("cairn-copy-test-%d.txt", (int)getpid());
	_cleanup_free_ char *host_path = cn_xasprintf("/%s", host_name);
	struct stat st;

	new_root();
	unit_symlink(root_fd, "/", "slash");
	unit_symlink(root_fd, "../../..", "up");
	unit_symlink(root_fd, "../canary", "rel");
	unit_mkdir(root_fd, "canary", 0755);
	unit_symlink(root_fd, canary_abs, "abscanary");
	unit_mkdir(root_fd, "etc", 0755);
	unit_symlink(root_fd, victim_abs, "etc/passwd");

	UNIT_CHECK(COPY(host_path, "a.txt") == 0 && unit_exists(root_fd, host_name), "plain absolute dest");
	unlinkat(root_fd, host_name, 0);
	{
		_cleanup_free_ char *d = cn_xasprintf("/slash/%s", host_name);
		UNIT_CHECK(COPY(d, "a.txt") == 0, "dest through a link to '/': %s", err.msg);
		UNIT_CHECK(unit_exists(root_fd, host_name) && access(host_path, F_OK) != 0,
			   "link to '/': file lands inside the root, not on the host");
	}
	UNIT_CHECK(COPY("/up/", "b.txt") == 0 && unit_exists(root_fd, "b.txt"),
		   "dest through a link to '../../..' lands at the root: %s", err.msg);
	UNIT_CHECK(COPY("/up/deeper/", "b.txt") == 0 && unit_exists(root_fd, "deeper/b.txt") &&
		   !unit_exists(base_fd, "deeper"), "missing dirs under '../../..' created inside the root");
	UNIT_CHECK(COPY("/rel/", "a.txt") == 0 && unit_exists(root_fd, "canary/a.txt"),
		   "dest through '../canary' resolves to ROOT/canary: %s", err.msg);
	{
		/* A link dangling in the root: its target is made inside the root
		 * (as BuildKit resolves it), never on the host. */
		_cleanup_free_ char *in_root = cn_xasprintf("%s/a.txt", canary_abs + 1);
		_cleanup_free_ char *below = cn_xasprintf("%s/sub/f1", canary_abs + 1);
		UNIT_CHECK(COPY("/abscanary/", "a.txt") == 0 && unit_exists(root_fd, in_root),
			   "dest through an absolute host path dangling in the root: created inside it: %s",
			   err.msg);
		UNIT_CHECK(COPY("/abscanary/sub/", "dir") == 0 && unit_exists(root_fd, below),
			   "…also when creating directories below it: %s", err.msg);
	}
	UNIT_CHECK(COPY("/etc/passwd", "a.txt") == 0, "dest file that is a symlink to a host file: %s",
		   err.msg);
	UNIT_CHECK(lstat_ok(root_fd, "etc/passwd", &st) && S_ISREG(st.st_mode) &&
		   !strcmp(unit_slurp(root_fd, "etc/passwd"), "A"), "the symlink is replaced, not written through");
	UNIT_STREQ(unit_slurp(base_fd, "canary/victim"), "VICTIM", "host victim file unchanged");
	UNIT_CHECK(unit_count_entries(base_fd, "canary") == 1, "nothing created in the host canary dir");

	/* A copied tree whose dirs meet image symlinks. */
	new_root();
	unit_mkdir(root_fd, "usr", 0755);
	unit_mkdir(root_fd, "usr/lib", 0755);
	unit_symlink(root_fd, "usr/lib", "lib");
	unit_symlink(root_fd, canary_abs, "sub");
	UNIT_CHECK(COPY("/lib", "dir") == 0 && unit_exists(root_fd, "usr/lib/f1") &&
		   lstat_ok(root_fd, "lib", &st) && S_ISLNK(st.st_mode),
		   "dir copied onto a link to a dir inside the root follows it (merged /usr): %s", err.msg);
	UNIT_CHECK(COPY("/", "tree") == 0 && unit_exists(root_fd, "usr/lib/x.so") &&
		   lstat_ok(root_fd, "lib", &st) && S_ISLNK(st.st_mode),
		   "subdir of a copied tree follows an in-root dir link: %s", err.msg);
	UNIT_CHECK(COPY("/", "dir") != 0 && err_has("cannot copy to non-directory"),
		   "tree dir meeting a link to a host dir fails: %s", err.msg);
	UNIT_CHECK(unit_count_entries(base_fd, "canary") == 1, "canary still untouched");
}

static void test_dest_errors(void)
{
	new_root();
	unit_put(root_fd, "file", "F", 0644);
	UNIT_CHECK(COPY("/file/x", "a.txt") != 0 && err_has("cannot copy to non-directory"),
		   "dest component that is a file: %s", err.msg);
	UNIT_CHECK(COPY("/file/", "a.txt") != 0 && err_has("cannot copy to non-directory"),
		   "dest dir/ that is a file: %s", err.msg);
	UNIT_CHECK(COPY("/file", "dir") != 0 && err_has("cannot copy to non-directory"),
		   "dir onto a file: %s", err.msg);
	UNIT_STREQ(unit_slurp(root_fd, "file"), "F", "the file is untouched");
	unit_mkdir(root_fd, "d", 0755);
	unit_mkdir(root_fd, "d/f1", 0755);
	UNIT_CHECK(COPY("/d", "dir") != 0 && err_has("cannot overwrite directory"),
		   "file onto an existing dir inside a tree: %s", err.msg);

	/* Depth is bounded. */
	close(unit_deep_dirs(ctx_fd, "deep", 139));
	UNIT_CHECK(COPY("/deep", "deep") != 0 && err_has("deeper than"), "depth bounded: %s", err.msg);
	cn_rm_rf_at(ctx_fd, "deep", NULL);
}

/* Whole-file comparison, for files bigger than slurp's buffer. */
static bool same_content(int dfd1, const char *p1, int dfd2, const char *p2)
{
	cn_buf a, b;
	bool same;
	cn_buf_init(&a, 0);
	cn_buf_init(&b, 0);
	same = cn_read_file_at(dfd1, p1, (size_t)64 << 20, &a, NULL) == 0 &&
	       cn_read_file_at(dfd2, p2, (size_t)64 << 20, &b, NULL) == 0 &&
	       a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
	cn_buf_free(&a);
	cn_buf_free(&b);
	return same;
}

/* Big files, on the same file system (copy_file_range) and across to tmpfs
 * (where the kernel refuses it and the read/write loop takes over). */
static void test_big_files(void)
{
	char shm[] = "/dev/shm/cairn-copy-XXXXXX";
	int fd = openat(ctx_fd, "big.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	uint32_t x = 12345;
	char block[4096];
	int saved_root = root_fd;

	for (int i = 0; i < 1000 && fd >= 0; i++) {
		for (size_t k = 0; k < sizeof(block); k++) {
			x = x * 1103515245u + 12345u;
			block[k] = (char)(x >> 16);
		}
		cn_write_all(fd, block, i == 999 ? 1234 : sizeof(block));
	}
	if (fd >= 0)
		close(fd);
	new_root();
	UNIT_CHECK(COPY("/big.bin", "big.bin") == 0 && same_content(ctx_fd, "big.bin", root_fd, "big.bin"),
		   "4 MiB file copied intact: %s", err.msg);
	if (access("/dev/shm", W_OK) == 0) {
		root_fd = unit_tmpdir(shm);
		UNIT_CHECK(COPY("/big.bin", "big.bin") == 0 &&
			   same_content(ctx_fd, "big.bin", root_fd, "big.bin"),
			   "4 MiB file copied intact to another file system: %s", err.msg);
		close(root_fd);
		cn_rm_rf_at(AT_FDCWD, shm, NULL);
	} else {
		UNIT_SKIP("no /dev/shm", "copy to another file system");
	}
	root_fd = saved_root;
	unlinkat(ctx_fd, "big.bin", 0);
}

/* After a racing copy, PATH (never followed: the copied symlink points to
 * the host's /etc) is absent, a symlink, or a dir holding just ok.txt (or
 * nothing: the destination a refused copy had already created). */
static bool race_clean(int dirfd, const char *path)
{
	struct stat st;
	int fd;
	bool ok;
	if (!lstat_ok(dirfd, path, &st) || S_ISLNK(st.st_mode))
		return true;
	if (!S_ISDIR(st.st_mode))
		return false;
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ok = fd >= 0 && (unit_count_entries(fd, ".") == 0 ||
			 (unit_count_entries(fd, ".") == 1 && unit_exists(fd, "ok.txt")));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* T48: a directory in the context swapped with a symlink to /etc while COPY
 * runs. Whatever the timing, nothing from the host's /etc may appear. */
static void test_context_race(void)
{
	pid_t pid;
	bool leaked = false;
	int fails = 0;

	unit_mkdir(ctx_fd, "race", 0755);
	unit_mkdir(ctx_fd, "race/d", 0755);
	unit_put(ctx_fd, "race/d/ok.txt", "OK", 0644);
	unit_symlink(ctx_fd, "/etc", "race/swap");
	pid = fork();
	if (pid == 0) {
		for (;;)
			renameat2(ctx_fd, "race/d", ctx_fd, "race/swap", RENAME_EXCHANGE);
	}
	UNIT_CHECK(pid > 0, "race: fork swapper");
	for (int i = 0; i < 300 && pid > 0; i++) {
		new_root();
		if (COPY("/r", "race") < 0)
			fails++;
		if (!race_clean(root_fd, "r/d") || !race_clean(root_fd, "r/swap"))
			leaked = true;
		if (COPY("/n", "race/d") < 0)
			fails++;
		if (!race_clean(root_fd, "n"))
			leaked = true;
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	UNIT_CHECK(!leaked, "race: no host file copied while a context dir is swapped with a link "
		   "(%d copies refused)", fails);
	cn_rm_rf_at(ctx_fd, "race", NULL);
}

int main(void)
{
	base_fd = unit_tmpdir(base);
	unit_mkdir(base_fd, "canary", 0755);
	unit_put(base_fd, "canary/victim", "VICTIM", 0644);
	make_context();

	test_basic();
	test_dirs();
	test_wildcards();
	test_wildcards_utf8();
	test_workdir_and_owner();
	test_special();
	test_xattrs();
	test_xattr_policy();
	test_source_errors();
	test_dest_escapes();
	test_dest_errors();
	test_big_files();
	test_context_race();

	close(root_fd);
	close(ctx_fd);
	close(base_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	return UNIT_DONE();
}
