/* Internal to src/archive/: what the exports for other runtimes (lxc.c,
 * vm.c, kmod.c) share with export.c: the rootfs tree built in the store's
 * tmp/, a tree written as one archive (treearc.c), the image's process
 * (bundle.c) and the launcher script that runs it as a VM's first process. */
#ifndef ARC_EXPORT_INTERNAL_H
#define ARC_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "archive/imgarchive.h"
#include "util/buf.h"
#include "util/strv.h"

/* ---- export.c ---- */
/* The image's rootfs applied in a fresh store temp dir: TD->path/rootfs,
 * open at *ROOT_FD (the caller closes it, then store_tmpdir_remove). Its
 * mode is the image's root mode. */
int arc_rootfs_tmp(struct store *st, const struct store_image *img, struct store_tmpdir *td,
		   int *root_fd, cn_err *err);
/* Whether PATH exists in the tree at ROOT_FD, resolved inside it
 * (RESOLVE_IN_ROOT: the image's absolute symlinks stay in the tree, never
 * the host's); FOLLOW: a symlink as the last component counts only when
 * its target exists. */
bool arc_root_has(int root_fd, const char *path, bool follow);
/* DEST must be absent or an empty directory. */
int arc_check_dest_dir(const char *dest, cn_err *err);
/* A private (0700) temp directory next to DEST: heap path, NULL on error. */
char *arc_temp_sibling_dir(const char *dest, cn_err *err);
/* Rename the finished temp dir TMP (open at FD) to DEST after a syncfs;
 * on failure TMP is removed. */
int arc_dir_commit(const char *tmp, int fd, const char *dest, cn_err *err);

/* The exports for other runtimes (lxc.c, vm.c). REF names the image in
 * what they write. */
int arc_export_lxc(struct store *st, const struct store_image *img, const char *ref, const char *dest,
		   const struct arc_export_opts *opts, cn_err *err);
int arc_export_initramfs(struct store *st, const struct store_image *img, const char *dest, cn_err *err);
int arc_export_disk(struct store *st, const struct store_image *img, const char *dest,
		    const struct arc_export_opts *opts, cn_err *err);

/* ---- treearc.c: a directory tree as one archive ---- */
enum arc_tree_format {
	ARC_TREE_TAR_XZ,        /* restricted pax, xattrs as SCHILY.xattr, xz ("./NAME") */
	ARC_TREE_CPIO_GZ,       /* newc cpio, gzip (the kernel's initramfs format) */
};
/* An entry that is not in the tree (added after it, in order): a
 * directory, a regular file with DATA, or a device (RDEV). Owner root. */
struct arc_tree_extra {
	const char *path;       /* relative, no leading "./" */
	mode_t mode;            /* file type and permissions */
	const char *data;       /* regular files: LEN bytes */
	size_t len;
	dev_t rdev;
};
/* Write the tree at ROOT (NULL: none; a path: the store's private temp dir, not
 * crossing mounts, symlinks not followed) and then EXTRA to OUT_FD:
 * numeric owners, modes, times, devices, symlinks, hardlinks (as the
 * format links them) and, in tar, ACLs and the xattrs layers keep
 * (layer_xattr_keep). */
int arc_tree_write(const char *root, enum arc_tree_format format, const struct arc_tree_extra *extra,
		   size_t nextra, int out_fd, cn_err *err);

/* ---- bundle.c: the image's process ---- */
struct arc_process {
	cn_strv args;           /* Entrypoint + Cmd (may be empty) */
	cn_strv env;            /* Env, with docker's PATH when it sets none */
	const char *user;       /* User ("" when unset), borrowed from the image */
	const char *cwd;        /* WorkingDir ("/" when unset), absolute, borrowed */
};
int arc_image_process(const struct store_image *img, struct arc_process *p, cn_err *err);
void arc_process_free(struct arc_process *p);

/* ---- vm.c ---- */
/* S as one sh word onto B: in single quotes, each ' as '\''. */
void arc_sh_quote(cn_buf *b, const char *s);
/* The /init shell script that starts P as a VM's first process (mounts
 * /proc, /sys and /dev when it can, the image's env and workdir, the
 * image's command; arguments given to it replace Cmd as `run` does). Heap
 * string, or NULL with ERR when P cannot be said in sh. */
char *arc_vm_launcher(const struct store_image *img, const struct arc_process *p, cn_err *err);

/* ---- kmod.c ---- */
/* The module-loading initramfs for a disk export booted with KERNEL (a
 * vmlinuz-VERSION): a static busybox, the modules for virtio-blk and ext4
 * with what they depend on (found next to the kernel, in the image under
 * ROOT_FD or on this machine), and an /init that loads them, mounts
 * /dev/vda and switch_roots into it. Written to OUT_FD as a gzip newc cpio. */
int arc_modloader_write(const char *kernel, int root_fd, int out_fd, cn_err *err);
/* The modules a kernel module (DATA, SIZE: an ELF64 object of this
 * machine's byte order; outside input) says it depends on: the names in
 * its .modinfo "depends=" strings, '-' as '_', appended to OUT. */
int arc_modinfo_depends(const unsigned char *data, size_t size, cn_strv *out, cn_err *err);

#endif
