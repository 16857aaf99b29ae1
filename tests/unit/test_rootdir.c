/* builder/rootdir: BuildKit's mkdir -p inside an image root whose symlinks
 * may point anywhere. */
#include "builder/rootdir.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-rootdir-XXXXXX";
static int base_fd = -1, root_fd = -1;
static cn_err err;

static void new_root(void)
{
	if (root_fd >= 0)
		close(root_fd);
	root_fd = unit_fresh_dir(base_fd, "root", 0755);
}

static int mkdir_p(const char *path, uid_t uid, gid_t gid)
{
	int fd;
	cn_err_clear(&err);
	fd = bf_root_mkdir_p(root_fd, path, uid, gid, &err);
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 0 : -1;
}

static bool is_dir(int dirfd, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;
	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		(st.st_mode & 07777) == mode && st.st_uid == uid && st.st_gid == gid;
}

static void test_create(void)
{
	mode_t old = umask(077);
	new_root();
	UNIT_CHECK(mkdir_p("/a/b/c", 1234, 5678) == 0, "mkdir -p /a/b/c: %s", err.msg);
	umask(old);
	UNIT_CHECK(is_dir(root_fd, "a", 0755, 1234, 5678) && is_dir(root_fd, "a/b", 0755, 1234, 5678) &&
		   is_dir(root_fd, "a/b/c", 0755, 1234, 5678),
		   "created directories are 0755 (whatever the umask) and owned as asked");
	unit_mkdir(root_fd, "keep", 0700);
	UNIT_CHECK(mkdir_p("keep/x/", 1, 1) == 0 && is_dir(root_fd, "keep", 0700, 0, 0) &&
		   is_dir(root_fd, "keep/x", 0755, 1, 1),
		   "an existing directory keeps its mode and owner; a relative path is from the root");
	UNIT_CHECK(mkdir_p("/", 0, 0) == 0 && mkdir_p("", 0, 0) == 0 && mkdir_p("a/../a/./b", 0, 0) == 0,
		   "the root itself and an unclean path: %s", err.msg);
}

static void test_links(void)
{
	new_root();
	unit_mkdir(base_fd, "canary", 0755);
	unit_symlink(root_fd, "missing/dir", "rel");
	unit_symlink(root_fd, "/made/here", "abs");
	unit_symlink(root_fd, "../../../../canary/escaped", "esc");
	unit_symlink(root_fd, "loop", "loop");
	UNIT_CHECK(mkdir_p("/rel/sub", 0, 0) == 0 && is_dir(root_fd, "missing/dir/sub", 0755, 0, 0),
		   "a dangling relative link has its target made: %s", err.msg);
	UNIT_CHECK(mkdir_p("/abs/x", 0, 0) == 0 && is_dir(root_fd, "made/here/x", 0755, 0, 0),
		   "a dangling absolute link is followed from the root: %s", err.msg);
	UNIT_CHECK(mkdir_p("/esc/y", 0, 0) == 0 && is_dir(root_fd, "canary/escaped/y", 0755, 0, 0) &&
		   !unit_exists(base_fd, "canary/escaped"), "a link climbing out stays in the root: %s", err.msg);
	UNIT_CHECK(mkdir_p("/loop/z", 0, 0) < 0 && err.errnum == ELOOP, "a link loop: %s", err.msg);
}

static void test_refusals(void)
{
	int fd;
	new_root();
	UNIT_CHECK(mkdir_p("/a/.wh.x/b", 0, 0) < 0 && strstr(err.msg, ".wh.") && !unit_exists(root_fd, "a/.wh.x"),
		   "a .wh. name is refused (a layer cannot store it): %s", err.msg);
	fd = openat(root_fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(fd);
	UNIT_CHECK(mkdir_p("/f/x", 0, 0) < 0 && cn_err_is(&err, CN_ERR_CONFLICT) &&
		   !strcmp(err.msg, "'/f' is not a directory"), "a file on the way: %s", err.msg);
}

int main(void)
{
	base_fd = unit_tmpdir(base);
	test_create();
	test_links();
	test_refusals();
	close(root_fd);
	close(base_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);
	return UNIT_DONE();
}
