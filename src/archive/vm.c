/* Exports a VM boots: `--format initramfs` (the rootfs as a gzip newc
 * cpio, given to the kernel with -initrd) and `--format disk` (a raw ext4
 * image, made by e2fsprogs' `mke2fs -d`, which fills a file system from a
 * directory without mounting anything; with --kernel, a copy of the
 * kernel and a module-loading initramfs next to it, kmod.c). An image
 * without /init gets one: a shell script that starts the image's command
 * as the VM's first process. */
#include "archive/export_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *arc_disk_sibling(const char *dest, const char *suffix)
{
	size_t n = strlen(dest);
	if (n > 4 && !strcmp(dest + n - 4, ".img"))
		n -= 4;
	return cn_xasprintf("%.*s%s", (int)n, dest, suffix);
}

void arc_sh_quote(cn_buf *b, const char *s)
{
	cn_buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			cn_buf_adds(b, "'\\''");
		else
			cn_buf_addc(b, *s);
	}
	cn_buf_addc(b, '\'');
}

char *arc_vm_launcher(const struct store_image *img, const struct arc_process *p, cn_err *err)
{
	json_t *cfg = json_object_get(img->config, "config");
	size_t nentry = json_array_size(json_object_get(cfg, "Entrypoint"));
	_cleanup_buf_ cn_buf b;
	(void)err;
	cn_buf_init(&b, 0);
	cn_buf_addf(&b, "#!/bin/sh\n"
		    "# The image's command as the VM's first process, written by cairn export:\n"
		    "# image %s has no /init.\n"
		    "# Arguments given to it (the kernel's, after --) replace the image's Cmd.\n"
		    "# The image's User is not applied: this is root.\n",
		    img->manifest_digest);
	/* What a container gets from its runtime, where the tree has room. */
	cn_buf_adds(&b, "[ -d /proc ] && [ ! -e /proc/self ] && mount -t proc proc /proc 2>/dev/null\n"
			"[ -d /sys ] && [ ! -e /sys/kernel ] && mount -t sysfs sysfs /sys 2>/dev/null\n"
			"[ -d /dev ] && [ ! -e /dev/null ] && mount -t devtmpfs devtmpfs /dev 2>/dev/null\n");
	for (size_t i = 0; i < p->env.n; i++) {
		cn_buf_adds(&b, "export ");
		arc_sh_quote(&b, p->env.v[i]);
		cn_buf_addc(&b, '\n');
	}
	cn_buf_adds(&b, "cd ");
	arc_sh_quote(&b, p->cwd);
	cn_buf_adds(&b, " || exit 1\nif [ $# -gt 0 ]; then set --");
	for (size_t i = 0; i < nentry && i < p->args.n; i++) {
		cn_buf_addc(&b, ' ');
		arc_sh_quote(&b, p->args.v[i]);
	}
	cn_buf_adds(&b, " \"$@\"; else set --");
	for (size_t i = 0; i < p->args.n; i++) {
		cn_buf_addc(&b, ' ');
		arc_sh_quote(&b, p->args.v[i]);
	}
	/* No command at all: a shell on the console, as lxc-oci does. */
	cn_buf_adds(&b, p->args.n ? "; fi\nexec \"$@\"\n" : " /bin/sh; fi\nexec \"$@\"\n");
	return cn_buf_detach(&b);
}

/* The launcher for IMG when the tree at ROOT has no /init (NULL and no
 * error when it has one); it needs the image's /bin/sh. */
static int launcher_for(const struct store_image *img, int root, char **out, cn_err *err)
{
	struct arc_process p;
	*out = NULL;
	if (arc_root_has(root, "init", true))
		return 0;
	if (!arc_root_has(root, "bin/sh", true))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "the image has no /init, and no /bin/sh to run "
				   "one that starts its command: give the image an /init");
	if (arc_image_process(img, &p, err) < 0)
		return -1;
	*out = arc_vm_launcher(img, &p, err);
	arc_process_free(&p);
	return *out ? 0 : -1;
}

int arc_export_initramfs(struct store *st, const struct store_image *img, const char *dest, cn_err *err)
{
	struct store_tmpdir td = { 0 };
	struct arc_out out = { .fd = -1 };
	struct arc_tree_extra x[6];
	size_t nx = 0;
	_cleanup_free_ char *init = NULL, *rootpath = NULL;
	_cleanup_close_ int root = -1;
	bool has_dev;
	int rc = -1;

	if (arc_rootfs_tmp(st, img, &td, &root, err) < 0 || launcher_for(img, root, &init, err) < 0)
		goto out;
	/* The kernel opens /dev/console for the first process's stdio; the
	 * mount points the launcher mounts on. */
	has_dev = arc_root_has(root, "dev", false);
	if (!has_dev)
		x[nx++] = (struct arc_tree_extra){ .path = "dev", .mode = S_IFDIR | 0755 };
	if (!arc_root_has(root, "dev/console", false))
		x[nx++] = (struct arc_tree_extra){ .path = "dev/console", .mode = S_IFCHR | 0600,
						   .rdev = makedev(5, 1) };
	if (!arc_root_has(root, "proc", false))
		x[nx++] = (struct arc_tree_extra){ .path = "proc", .mode = S_IFDIR | 0555 };
	if (!arc_root_has(root, "sys", false))
		x[nx++] = (struct arc_tree_extra){ .path = "sys", .mode = S_IFDIR | 0555 };
	if (init)
		x[nx++] = (struct arc_tree_extra){ .path = "init", .mode = S_IFREG | 0755, .data = init,
						   .len = strlen(init) };
	rootpath = cn_xasprintf("%s/rootfs", td.path);
	if (arc_out_open(dest, &out, err) < 0 || arc_tree_write(rootpath, ARC_TREE_CPIO_GZ, x, nx, out.fd, err) < 0 ||
	    arc_out_commit(&out, err) < 0)
		goto out;
	rc = 0;
out:
	arc_out_abort(&out);
	if (root >= 0)
		close(CN_TAKE_FD(root));
	store_tmpdir_remove(st, &td);
	return rc;
}

/* ---- disk ---- */

struct usage {
	uint64_t blocks;        /* 4 KiB blocks the files' data and directories need */
	uint64_t inodes;
};

/* What the tree under DIRFD needs in ext4 with 4 KiB blocks: a block per
 * started 4 KiB of file data (hardlinks counted once), one per directory
 * (more for big ones), one for a symlink target too long for the inode. */
static int tree_usage(int dirfd, struct usage *u, unsigned depth, cn_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t dbytes = 0;
	int fd;
	if (depth > 4096)
		return cn_err_fail(err, CN_ERR_INVALID, "directories nested too deeply");
	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return cn_err_sys(err, "read the exported tree");
	}
	u->inodes++;
	u->blocks++;
	while ((errno = 0, de = readdir(d))) {
		struct stat sb;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return cn_err_sys(err, "'%s'", de->d_name);
		/* An ext4 directory entry: 8 bytes and the name, 4-aligned. */
		dbytes += (8 + strlen(de->d_name) + 3) & ~(size_t)3;
		if (S_ISDIR(sb.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return cn_err_sys(err, "open '%s'", de->d_name);
			if (tree_usage(sub, u, depth + 1, err) < 0)
				return -1;
			continue;
		}
		if (sb.st_nlink > 1 && S_ISREG(sb.st_mode)) {
			/* Counted at one of its names only: the inode's own. */
			u->inodes += 1;
			u->blocks += ((uint64_t)sb.st_size + 4095) / 4096 / sb.st_nlink + 1;
			continue;
		}
		u->inodes++;
		if (S_ISREG(sb.st_mode))
			u->blocks += ((uint64_t)sb.st_size + 4095) / 4096;
		else if (S_ISLNK(sb.st_mode) && sb.st_size >= 60)
			u->blocks++;
	}
	if (errno)
		return cn_err_sys(err, "read the exported tree");
	u->blocks += dbytes / 4096;
	return 0;
}

/* mke2fs: e2fsprogs' own copy in /sbin first, then PATH. */
static const char *mke2fs_path(void)
{
	static const char *const paths[] = { "/usr/sbin/mke2fs", "/sbin/mke2fs" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return "mke2fs";
}

/* Run ARGV (argv[0] looked up in PATH when it has no slash), its output
 * kept for the error message. */
static int run_tool(char *const argv[], cn_err *err)
{
	posix_spawn_file_actions_t fa;
	_cleanup_buf_ cn_buf outb;
	int pipefd[2], status, r;
	pid_t pid;
	char *nl;

	cn_buf_init(&outb, 4096);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return cn_err_errno(err, r, "run %s%s", argv[0],
				    r == ENOENT ? " (Debian package e2fsprogs)" : "");
	}
	for (;;) {
		char chunk[1024];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		cn_buf_add(&outb, chunk, (size_t)n);   /* past the cap: the start is enough */
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cn_err_sys(err, "wait for %s", argv[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while ((nl = strchr(outb.data, '\n')))
		*nl = ' ';
	return cn_err_fail(err, CN_ERR_FAILED, "%s failed (%s %d): %s", argv[0],
			   WIFEXITED(status) ? "status" : "signal",
			   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), outb.data);
}

/* Make the ext4 image at PATH from the tree at ROOTPATH: sized from what
 * the tree needs plus the journal, a little slack for the file system's
 * own metadata, and HEADROOM free bytes (no blocks reserved for root, so
 * all of it is free to everyone). */
static int make_ext4(const char *rootpath, int root, const char *path, uint64_t headroom, cn_err *err)
{
	struct usage u = { 0 };
	uint64_t blocks, inodes, journal_mb;
	char nblocks[32], ninodes[32], jopt[32];
	if (tree_usage(root, &u, 0, err) < 0)
		return -1;
	/* One more inode per 16 KiB of headroom, and ext4's first 11. */
	inodes = u.inodes + u.inodes / 8 + headroom / 16384 + 64;
	blocks = u.blocks + u.blocks / 16 + headroom / 4096 + inodes / 16;   /* 256-byte inodes */
	journal_mb = blocks / 256 / 64;             /* 1/64 of the size */
	journal_mb = journal_mb < 4 ? 4 : journal_mb > 256 ? 256 : journal_mb;
	blocks += journal_mb * 256 + 1024 + blocks / 64;   /* group metadata, superblock copies */
	snprintf(nblocks, sizeof(nblocks), "%llu", (unsigned long long)blocks);
	snprintf(ninodes, sizeof(ninodes), "%llu", (unsigned long long)inodes);
	snprintf(jopt, sizeof(jopt), "size=%llu", (unsigned long long)journal_mb);
	{
		_cleanup_free_ char *tool = cn_xstrdup(mke2fs_path()), *src = cn_xstrdup(rootpath);
		_cleanup_free_ char *dst = cn_xstrdup(path);
		char *argv[] = { tool, "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-N", ninodes,
				 "-m", "0", "-J", jopt, "-L", "cairn-root", "-d", src, dst, nblocks, NULL };
		return run_tool(argv, err);
	}
}

/* Copy the kernel to DEST's sibling .vmlinuz. */
static int copy_kernel(const char *kernel, struct arc_out *o, cn_err *err)
{
	_cleanup_close_ int fd = open(kernel, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *chunk = cn_xmalloc(64 * 1024);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0)
		return cn_err_sys(err, "--kernel '%s'", kernel);
	if (!S_ISREG(sb.st_mode))
		return cn_err_fail(err, CN_ERR_INVALID, "--kernel '%s' is not a file", kernel);
	if (cn_copy_fd(fd, o->fd, chunk, 64 * 1024, (uint64_t)1 << 32, NULL) < 0)
		return cn_err_sys(err, "copy '%s'", kernel);
	return 0;
}

/* /sbin/init -> /init: a kernel that mounts the disk itself (no cairn
 * initrd) tries init=, /sbin/init, /etc/init, /bin/init and /bin/sh, never
 * /init. /sbin is resolved inside the root (an image's sbin -> /usr/sbin
 * is its own); a dangling /sbin/init is replaced. */
static int link_sbin_init(int root, cn_err *err)
{
	_cleanup_close_ int sbin = cn_openat2(root, "sbin", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
	if (sbin < 0 && errno == ENOENT && !arc_root_has(root, "sbin", false)) {
		if (mkdirat(root, "sbin", 0755) < 0)
			return cn_err_sys(err, "create /sbin in the image's tree");
		sbin = cn_openat2(root, "sbin", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
	}
	if (sbin < 0)
		return cn_err_sys(err, "open /sbin in the image's tree");
	if ((unlinkat(sbin, "init", 0) < 0 && errno != ENOENT) || symlinkat("/init", sbin, "init") < 0)
		return cn_err_sys(err, "link /sbin/init to /init in the image's tree");
	return 0;
}

int arc_export_disk(struct store *st, const struct store_image *img, const char *dest,
		    const struct arc_export_opts *opts, cn_err *err)
{
	struct store_tmpdir td = { 0 };
	struct arc_out out = { .fd = -1 }, kout = { .fd = -1 }, iout = { .fd = -1 };
	_cleanup_free_ char *init = NULL, *rootpath = NULL, *kpath = NULL, *ipath = NULL;
	_cleanup_close_ int root = -1;
	int rc = -1;

	if (arc_rootfs_tmp(st, img, &td, &root, err) < 0)
		goto out;
	/* An OS image boots its /sbin/init; others get the launcher as /init
	 * (unless they have one) and /sbin/init. */
	if (!arc_root_has(root, "sbin/init", true) &&
	    (launcher_for(img, root, &init, err) < 0 ||
	     (init && cn_write_file_atomic(root, "init", init, strlen(init), 0755, err) < 0) ||
	     link_sbin_init(root, err) < 0))
		goto out;
	/* Mount points: the module loader moves its /dev there. */
	for (size_t i = 0; i < 3; i++) {
		static const char *const dirs[] = { "dev", "proc", "sys" };
		if (!arc_root_has(root, dirs[i], false) && mkdirat(root, dirs[i], 0755) < 0) {
			cn_err_sys(err, "create /%s in the image's tree", dirs[i]);
			goto out;
		}
	}
	if (opts->kernel) {
		kpath = arc_disk_sibling(dest, ".vmlinuz");
		ipath = arc_disk_sibling(dest, ".initrd");
		if (arc_out_open(kpath, &kout, err) < 0 || copy_kernel(opts->kernel, &kout, err) < 0 ||
		    arc_out_open(ipath, &iout, err) < 0 ||
		    arc_modloader_write(opts->kernel, root, iout.fd, err) < 0)
			goto out;
	}
	rootpath = cn_xasprintf("%s/rootfs", td.path);
	/* mke2fs writes the temp file by its name; the rename makes it DEST. */
	if (arc_out_open(dest, &out, err) < 0 || make_ext4(rootpath, root, out.tmp, opts->headroom, err) < 0)
		goto out;
	if ((opts->kernel && (arc_out_commit(&kout, err) < 0 || arc_out_commit(&iout, err) < 0)) ||
	    arc_out_commit(&out, err) < 0)
		goto out;
	rc = 0;
out:
	arc_out_abort(&kout);
	arc_out_abort(&iout);
	arc_out_abort(&out);
	if (root >= 0)
		close(CN_TAKE_FD(root));
	store_tmpdir_remove(st, &td);
	return rc;
}
