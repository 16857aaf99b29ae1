/* cn_user_resolve against crafted image roots: names, numbers, groups,
 * and databases that try to reach the host or never end. */
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/userdb.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char passwd[] =
	"# comment\n"
	"root:x:0:0:root:/root:/bin/sh\n"
	"daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
	"\n"
	"app:x:1000:1000:App:/home/app:/bin/sh\r\n"
	"bad:x:notanumber:1::/:/bin/sh\n"
	"nohome:x:1001:1001:::/bin/sh\n"
	"+nis\n"
	"last:x:1002:1002::/home/last";     /* no final newline */

static const char group[] =
	"root:x:0:\n"
	"wheel:x:10:root,app\n"
	"app:x:1000:\n"
	"audio:x:29:daemon,app\n"
	"video:x:44:appx,xapp\n"
	"docker:x:999:app";

/* A fresh image root with /etc/passwd and /etc/group (NULL = absent). */
static int make_root(char *dir, const char *pw, const char *gr)
{
	int fd = unit_tmpdir(dir);
	unit_mkdir(fd, "etc", 0755);
	if (pw)
		unit_put(fd, "etc/passwd", pw, 0644);
	if (gr)
		unit_put(fd, "etc/group", gr, 0644);
	return fd;
}

static void remove_root(int fd, const char *dir)
{
	close(fd);
	cn_rm_rf_at(AT_FDCWD, dir, NULL);
}

static bool has_group(const struct cn_user *u, gid_t g)
{
	for (size_t i = 0; i < u->ngroups; i++)
		if (u->groups[i] == g)
			return true;
	return false;
}

static void test_lookups(void)
{
	char dir[] = "/tmp/cairn-userdb-XXXXXX";
	int root = make_root(dir, passwd, group);
	struct cn_user u;
	cn_err err = { 0 };
	int r;

	UNIT_CHECK(root >= 0, "lookups: make root");
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1000 && u.gid == 1000, "name: uid/gid from passwd (CRLF line)");
	UNIT_STREQ(u.home, "/home/app", "name: home from passwd");
	UNIT_CHECK(u.ngroups == 4 && u.groups[0] == 1000 && has_group(&u, 10) && has_group(&u, 29) &&
		   has_group(&u, 999) && !has_group(&u, 44),
		   "name: primary gid then every group listing the user (not substrings)");

	r = cn_user_resolve(root, "1000", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1000 && u.gid == 1000 && u.ngroups == 4,
		   "numeric uid listed in passwd: gid and groups from the entry's name");

	r = cn_user_resolve(root, "4242", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 4242 && u.gid == 0 && u.ngroups == 1 && u.groups[0] == 0,
		   "numeric uid not in passwd: gid 0");
	UNIT_STREQ(u.home, "/", "numeric uid not in passwd: home /");

	r = cn_user_resolve(root, "app:audio", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1000 && u.gid == 29 && u.ngroups == 1 && u.groups[0] == 29,
		   "user:group name: gid from group, no membership lookup");
	r = cn_user_resolve(root, "app:4321", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1000 && u.gid == 4321, "user:gid numeric, not in group file");
	r = cn_user_resolve(root, "77:78", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 77 && u.gid == 78, "uid:gid both numeric");
	r = cn_user_resolve(root, "app:", &u, &err);
	UNIT_CHECK(r == 0 && u.gid == 1000 && u.ngroups == 4, "trailing ':' means no group");

	r = cn_user_resolve(root, "nohome", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1001, "entry with empty home");
	UNIT_STREQ(u.home, "/", "empty home becomes /");
	r = cn_user_resolve(root, "last", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1002 && !strcmp(u.home, "/home/last"), "last line without newline");
	r = cn_user_resolve(root, "", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 0 && u.gid == 0 && !strcmp(u.home, "/root") && has_group(&u, 10),
		   "empty spec is root");

	r = cn_user_resolve(root, "nobody", &u, &err);
	UNIT_CHECK(r < 0, "unknown name fails");
	UNIT_STREQ(err.msg, "unknown user 'nobody' (no such entry in the image's /etc/passwd)",
		   "unknown name: message");
	r = cn_user_resolve(root, "bad", &u, &err);
	UNIT_CHECK(r < 0, "malformed passwd line is not an entry");
	r = cn_user_resolve(root, "+nis", &u, &err);
	UNIT_CHECK(r < 0, "NIS compat line is not an entry");
	r = cn_user_resolve(root, "app:nogroup", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "unknown group 'nogroup'"), "unknown group name fails: %s", err.msg);
	r = cn_user_resolve(root, "99999999999", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "out of range"), "uid out of range fails: %s", err.msg);
	r = cn_user_resolve(root, "4294967295", &u, &err);
	UNIT_CHECK(r < 0, "uid (uid_t)-1 refused");
	remove_root(root, dir);
}

static void test_missing_files(void)
{
	char dir[] = "/tmp/cairn-userdb-XXXXXX";
	int root = make_root(dir, NULL, NULL);
	struct cn_user u;
	cn_err err = { 0 };
	int r;

	UNIT_CHECK(root >= 0, "missing: make root");
	r = cn_user_resolve(root, "1234:55", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1234 && u.gid == 55, "no passwd/group: numeric ids work");
	r = cn_user_resolve(root, "1234", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 1234 && u.gid == 0 && u.ngroups == 1, "no passwd: numeric uid, gid 0");
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "unknown user 'app'"), "no passwd: a name fails: %s", err.msg);
	r = cn_user_resolve(root, "0:wheel", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "unknown group 'wheel'"), "no group file: a group name fails");
	remove_root(root, dir);

	/* No /etc at all. */
	char dir2[] = "/tmp/cairn-userdb-XXXXXX";
	root = unit_tmpdir(dir2);
	r = cn_user_resolve(root, "5", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 5, "no /etc: numeric uid works");
	remove_root(root, dir2);
}

/* Symlinks in the image must resolve inside the root, never on the host. */
static void test_symlinks(void)
{
	char dir[] = "/tmp/cairn-userdb-XXXXXX";
	int root = make_root(dir, NULL, NULL);
	static const char inside[] = "inside:x:3333:3334::/in:/bin/sh\n";
	struct cn_user u;
	cn_err err = { 0 };
	int r;

	UNIT_CHECK(root >= 0, "symlinks: make root");
	/* etc/passwd -> /etc/passwd: the host file has root, the root's file does not exist. */
	UNIT_CHECK(symlinkat("/etc/passwd", root, "etc/passwd") == 0, "symlinks: link passwd to /etc/passwd");
	r = cn_user_resolve(root, "root", &u, &err);
	UNIT_CHECK(r < 0, "absolute symlink to the host's /etc/passwd resolves inside the root (not found)");
	r = cn_user_resolve(root, "0", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "symbolic links"),
		   "inside the root that link points to itself: a loop error, host file unread: %s", err.msg);

	/* etc/passwd -> /nowhere/passwd: dangling inside the root, like a missing file. */
	unlinkat(root, "etc/passwd", 0);
	unit_symlink(root, "/nowhere/passwd", "etc/passwd");
	r = cn_user_resolve(root, "0", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 0 && !strcmp(u.home, "/"), "dangling in-root symlink: numeric uid works");
	r = cn_user_resolve(root, "root", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "unknown user"), "dangling in-root symlink: a name fails");

	/* etc/passwd -> /real/passwd: read from ROOT/real/passwd. */
	unlinkat(root, "etc/passwd", 0);
	mkdirat(root, "real", 0755);
	cn_write_file_atomic(root, "real/passwd", inside, strlen(inside), 0644, NULL);
	unit_symlink(root, "/real/passwd", "etc/passwd");
	r = cn_user_resolve(root, "inside", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 3333 && u.gid == 3334, "absolute symlink is resolved inside the root");

	/* etc/passwd -> ../../../../../real/passwd: ".." stops at the root. */
	unlinkat(root, "etc/passwd", 0);
	unit_symlink(root, "../../../../../real/passwd", "etc/passwd");
	r = cn_user_resolve(root, "inside", &u, &err);
	UNIT_CHECK(r == 0 && u.uid == 3333, "climbing symlink is clamped at the root");

	/* /etc itself a symlink to the host's /etc. */
	unlinkat(root, "etc/passwd", 0);
	unlinkat(root, "etc", AT_REMOVEDIR);
	unit_symlink(root, "/etc", "etc");
	r = cn_user_resolve(root, "root", &u, &err);
	UNIT_CHECK(r < 0, "symlinked /etc does not reach the host: %s", err.msg);

	/* /etc/passwd -> /proc/self/... style magic links are refused too. */
	unlinkat(root, "etc", 0);
	mkdirat(root, "etc", 0755);
	unit_symlink(root, "/proc/self/root/etc/passwd", "etc/passwd");
	r = cn_user_resolve(root, "root", &u, &err);
	UNIT_CHECK(r < 0, "symlink through /proc/self/root stays inside the root");
	remove_root(root, dir);
}

static void test_hostile_files(void)
{
	char dir[] = "/tmp/cairn-userdb-XXXXXX";
	int root = make_root(dir, NULL, NULL);
	struct cn_user u;
	cn_err err = { 0 };
	int r, fd;

	UNIT_CHECK(root >= 0, "hostile: make root");
	alarm(10);      /* a hang is a failure, not a stuck test run */

	UNIT_CHECK(mkfifoat(root, "etc/passwd", 0644) == 0, "hostile: make fifo passwd");
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "not a regular file"), "fifo passwd fails without hanging: %s",
		   err.msg);
	unlinkat(root, "etc/passwd", 0);

	UNIT_CHECK(mknodat(root, "etc/passwd", S_IFCHR | 0644, makedev(1, 5)) == 0,
		   "hostile: make /dev/zero-like passwd");
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "not a regular file"), "char device passwd fails: %s", err.msg);
	unlinkat(root, "etc/passwd", 0);

	UNIT_CHECK(mkdirat(root, "etc/passwd", 0755) == 0, "hostile: make directory passwd");
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0, "directory passwd fails");
	unlinkat(root, "etc/passwd", AT_REMOVEDIR);

	/* 5 MiB of valid-looking lines: over the cap. */
	fd = openat(root, "etc/passwd", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	{
		static const char line[] = "filler:x:5:5::/:/bin/sh\n";
		for (size_t n = 0; n < ((size_t)5 << 20); n += sizeof(line) - 1)
			cn_write_all(fd, line, sizeof(line) - 1);
	}
	close(fd);
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "larger than"), "oversized passwd fails: %s", err.msg);
	unlinkat(root, "etc/passwd", 0);

	/* A single 100 KiB line. */
	{
		size_t len = 100 << 10;
		_cleanup_free_ char *big = cn_xmalloc(len + 1);
		memset(big, 'a', len);
		big[len] = '\n';
		cn_write_file_atomic(root, "etc/passwd", big, len + 1, 0644, NULL);
	}
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "line 1 is longer than"), "overlong line fails: %s", err.msg);

	/* Oversized group file fails even though passwd is fine. */
	cn_write_file_atomic(root, "etc/passwd", passwd, strlen(passwd), 0644, NULL);
	fd = openat(root, "etc/group", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	UNIT_CHECK(fd >= 0 && ftruncate(fd, (off_t)8 << 20) == 0, "hostile: sparse 8 MiB group");
	close(fd);
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "/etc/group"), "oversized group fails: %s", err.msg);
	r = cn_user_resolve(root, "app:12", &u, &err);
	UNIT_CHECK(r == 0 && u.gid == 12, "numeric group does not read the group file");

	/* A user in more groups than fit. */
	{
		cn_buf b;
		cn_buf_init(&b, 0);
		for (int g = 0; g < CN_USER_MAX_GROUPS + 5; g++)
			cn_buf_addf(&b, "g%d:x:%d:app\n", g, 2000 + g);
		cn_write_file_atomic(root, "etc/group", b.data, b.len, 0644, NULL);
		cn_buf_free(&b);
	}
	r = cn_user_resolve(root, "app", &u, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, "more than"), "too many groups fails: %s", err.msg);
	alarm(0);
	remove_root(root, dir);
}

int main(void)
{
	test_lookups();
	test_missing_files();
	test_symlinks();
	test_hostile_files();
	return UNIT_DONE();
}
