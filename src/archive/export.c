/* `export`: an image as a rootfs directory or tar, an OCI runtime bundle, or
 * an archive. The rootfs is made by applying the layer blobs in order with
 * the hostile-input reader (ADD form: whiteouts delete), never by copying
 * snapshots, so what is exported is exactly what the blobs say. */
#include "archive/export_internal.h"
#include "layers/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int arc_format_parse(const char *s, enum arc_format *out)
{
	static const struct { const char *name; enum arc_format f; } formats[] = {
		{ "rootfs", ARC_ROOTFS },
		{ "rootfs-tar", ARC_ROOTFS_TAR },
		{ "bundle", ARC_BUNDLE },
		{ "oci-archive", ARC_OCI_ARCHIVE },
		{ "docker-archive", ARC_DOCKER_ARCHIVE },
		{ "lxc", ARC_LXC },
		{ "initramfs", ARC_INITRAMFS },
		{ "disk", ARC_DISK },
	};
	for (size_t i = 0; s && i < CN_ARRAY_SIZE(formats); i++) {
		if (strcmp(s, formats[i].name) == 0) {
			*out = formats[i].f;
			return 0;
		}
	}
	return -1;
}

int arc_rootfs_apply(struct store *st, const struct store_image *img, int dirfd, cn_err *err)
{
	const struct layer_extract_opts opts = { .overlay_whiteouts = false };
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct store_layer *l = &img->layers[i];
		struct layer_extract_result res;
		_cleanup_close_ int fd = openat(st->blobs_fd, cn_digest_hex(l->digest),
						O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return cn_err_sys(err, "layer %zu (%s)", i + 1, l->digest);
		if (layer_extract(fd, dirfd, &opts, &res, err) < 0)
			return cn_err_wrap(err, "layer %zu (%s)", i + 1, l->digest);
		if (strcmp(res.digest, l->digest) != 0 || strcmp(res.diff_id, l->diff_id) != 0)
			return cn_err_fail(err, CN_ERR_CORRUPT, "layer %zu (%s): content does not match its digest "
					  "or diff_id (see cairn fsck)", i + 1, l->digest);
	}
	return 0;
}

/* DEST must be absent or an empty directory (which the rename replaces). */
int arc_check_dest_dir(const char *dest, cn_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct stat sb;
	if (lstat(dest, &sb) < 0)
		return errno == ENOENT ? 0 : cn_err_sys(err, "'%s'", dest);
	if (!S_ISDIR(sb.st_mode))
		return cn_err_fail(err, CN_ERR_CONFLICT, "'%s' exists and is not a directory", dest);
	d = opendir(dest);
	if (!d)
		return cn_err_sys(err, "'%s'", dest);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			return cn_err_fail(err, CN_ERR_CONFLICT, "'%s' exists and is not empty", dest);
	return 0;
}

/* A private (0700) temp directory next to DEST: heap path, NULL on error. */
char *arc_temp_sibling_dir(const char *dest, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(dest);
	const char *slash = strrchr(dest, '/');
	char *tmp = cn_xasprintf("%s/.%s.tmp-XXXXXX", dirname(copy), slash ? slash + 1 : dest);
	if (!mkdtemp(tmp)) {
		cn_err_sys(err, "create a temporary directory next to '%s'", dest);
		free(tmp);
		return NULL;
	}
	return tmp;
}

static int write_bundle(struct store *st, const struct store_image *img, int dir_fd, cn_err *err)
{
	_cleanup_close_ int rootfs = -1;
	_cleanup_free_ char *text = NULL;
	char hostname[13];
	json_t *cfg;
	if (mkdirat(dir_fd, "rootfs", 0755) < 0)
		return cn_err_sys(err, "create rootfs");
	rootfs = openat(dir_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfs < 0)
		return cn_err_sys(err, "open rootfs");
	if (arc_rootfs_apply(st, img, rootfs, err) < 0)
		return -1;
	/* Like docker's container ids: the first 12 hex digits. */
	snprintf(hostname, sizeof(hostname), "%s", cn_digest_hex(img->manifest_digest));
	cfg = arc_bundle_config(img, rootfs, hostname, err);
	if (!cfg)
		return -1;
	text = json_dumps(cfg, JSON_INDENT(2));
	json_decref(cfg);
	if (!text)
		return cn_err_errno(err, ENOMEM, "config.json: cannot serialize");
	return cn_write_file_atomic(dir_fd, "config.json", text, strlen(text), 0644, err);
}

/* The mode the image gives its root directory: the root entry ("./" or
 * "/") of the last layer that has one, 0755 (docker's) when none does.
 * Layer writers put the root first, so only each layer's first header is
 * read (its first compressed block, not the layer). */
static mode_t image_root_mode(struct store *st, const struct store_image *img)
{
	mode_t mode = 0755;
	for (size_t i = 0; i < img->nlayers; i++) {
		struct archive *a = archive_read_new();
		struct archive_entry *e;
		int fd = openat(st->blobs_fd, cn_digest_hex(img->layers[i].digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (!a || fd < 0) {
			if (fd >= 0)
				close(fd);
			archive_read_free(a);
			continue;
		}
		archive_read_support_filter_gzip(a);
		archive_read_support_filter_zstd(a);
		archive_read_support_format_tar(a);
		if (archive_read_open_fd(a, fd, 64 * 1024) == ARCHIVE_OK &&
		    archive_read_next_header(a, &e) == ARCHIVE_OK) {
			const char *name = archive_entry_pathname(e);
			if (name && archive_entry_filetype(e) == AE_IFDIR &&
			    (!strcmp(name, "./") || !strcmp(name, ".") || !strcmp(name, "/")))
				/* no setuid/setgid on a directory users traverse */
				mode = archive_entry_perm(e) & 01777;
		}
		archive_read_free(a);
		close(fd);
	}
	return mode;
}

/* rootfs and bundle: built in a temp sibling, renamed to DEST when complete. */
static int export_dir(struct store *st, const struct store_image *img, enum arc_format format,
		      const char *dest, cn_err *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	cn_err ignored;
	if (arc_check_dest_dir(dest, err) < 0)
		return -1;
	tmp = arc_temp_sibling_dir(dest, err);
	if (!tmp)
		return -1;
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		cn_err_sys(err, "open '%s'", tmp);
		goto fail;
	}
	if ((format == ARC_BUNDLE ? write_bundle(st, img, fd, err) : arc_rootfs_apply(st, img, fd, err)) < 0)
		goto fail;
	/* A bundle's top stays 0700 (mkdtemp): setuid files and devices in the
	 * image are out of reach of other host users, as runc and umoci advise.
	 * A rootfs is the image's / itself (for nspawn or a disk image): it
	 * gets the image's mode, else non-root users cannot read it. */
	if (format == ARC_ROOTFS && fchmod(fd, image_root_mode(st, img)) < 0) {
		cn_err_sys(err, "chmod '%s'", tmp);
		goto fail;
	}
	return arc_dir_commit(tmp, fd, dest, err);
fail:
	cn_rm_rf_at(AT_FDCWD, tmp, &ignored);
	return -1;
}

int arc_dir_commit(const char *tmp, int fd, const char *dest, cn_err *err)
{
	cn_err ignored;
	if (syncfs(fd) < 0)
		cn_err_sys(err, "sync '%s'", tmp);
	else if (rename(tmp, dest) < 0)
		cn_err_sys(err, "rename '%s' to '%s'", tmp, dest);
	else
		return 0;
	cn_rm_rf_at(AT_FDCWD, tmp, &ignored);
	return -1;
}

bool arc_root_has(int root_fd, const char *path, bool follow)
{
	int fd = cn_openat2(root_fd, path, O_PATH | (follow ? 0 : O_NOFOLLOW), RESOLVE_IN_ROOT);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int arc_rootfs_tmp(struct store *st, const struct store_image *img, struct store_tmpdir *td,
		   int *root_fd, cn_err *err)
{
	*root_fd = -1;
	if (store_tmpdir_create(st, "export", td, err) < 0)
		return -1;
	if (mkdirat(td->fd, "rootfs", 0755) < 0 ||
	    (*root_fd = openat(td->fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return cn_err_sys(err, "create '%s/rootfs'", td->path);
	if (arc_rootfs_apply(st, img, *root_fd, err) < 0)
		return -1;
	if (fchmod(*root_fd, image_root_mode(st, img)) < 0)
		return cn_err_sys(err, "chmod '%s/rootfs'", td->path);
	return 0;
}

static int export_rootfs_tar(struct store *st, const struct store_image *img, const char *dest,
			     enum arc_tar_compression comp, int level, cn_err *err)
{
	static const enum layer_compression layer_comp[] = {
		[ARC_TAR_NONE] = LAYER_NONE, [ARC_TAR_GZIP] = LAYER_GZIP, [ARC_TAR_ZSTD] = LAYER_ZSTD,
	};
	struct layer_write_opts wopts = { .compression = LAYER_NONE, .clamp_mtime = -1 };
	struct store_tmpdir td = { 0 };
	struct layer_info info;
	struct arc_out out = { .fd = -1 };
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int root = -1;
	int rc = -1;
	/* The tree is built in the store's tmp/ (swept if we are killed). */
	if (arc_rootfs_tmp(st, img, &td, &root, err) < 0 || arc_out_open(dest, &out, err) < 0)
		goto out;
	/* The layer writer has no xz: libarchive's tree writer has. */
	if (comp == ARC_TAR_XZ) {
		path = cn_xasprintf("%s/rootfs", td.path);
		if (arc_tree_write(path, ARC_TREE_TAR_XZ, NULL, 0, out.fd, err) < 0)
			goto out;
	} else {
		wopts.compression = layer_comp[comp];
		wopts.level = level;
		if (layer_write_dir(root, out.fd, &wopts, &info, err) < 0)
			goto out;
	}
	if (arc_out_commit(&out, err) < 0)
		goto out;
	rc = 0;
out:
	arc_out_abort(&out);
	store_tmpdir_remove(st, &td);
	return rc;
}

/* Moves every entry of the directory FROM into INTO (PATH names INTO in
 * errors): a name INTO lacks is renamed in whole, two directories are
 * merged, anything else is replaced by the rename. Nothing is followed:
 * both sides are opened O_NOFOLLOW, relative to their parents. */
static int merge_into(int from, int into, const char *path, unsigned depth, cn_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dup_fd;
	if (depth > 4096)
		return cn_err_fail(err, CN_ERR_INVALID, "'%s': directories nested too deeply", path);
	dup_fd = fcntl(from, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0 || !(d = fdopendir(dup_fd))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return cn_err_sys(err, "read the exported tree");
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat fs, is;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(from, de->d_name, &fs, AT_SYMLINK_NOFOLLOW) < 0)
			return cn_err_sys(err, "'%s'", de->d_name);
		if (S_ISDIR(fs.st_mode) && fstatat(into, de->d_name, &is, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(is.st_mode)) {
			_cleanup_free_ char *sub = cn_xasprintf("%s/%s", path, de->d_name);
			_cleanup_close_ int f = openat(from, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			_cleanup_close_ int t = openat(into, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (f < 0 || t < 0)
				return cn_err_sys(err, "open '%s'", sub);
			/* The user's directory keeps its mode and owner. */
			if (merge_into(f, t, sub, depth + 1, err) < 0)
				return -1;
			continue;
		}
		if (renameat(from, de->d_name, into, de->d_name) < 0)
			return cn_err_sys(err, "write '%s/%s' over what is there", path, de->d_name);
	}
	if (errno)
		return cn_err_sys(err, "read the exported tree");
	return 0;
}

/* docker's local exporter writes into a directory that has files: the
 * image's files are written over them, the others stay. Not atomic, as
 * there. The image's root is built apart first (a temp sibling, so the
 * moves are renames): its whiteouts then delete only the image's own
 * files, never the user's. */
static int export_dir_over(struct store *st, const struct store_image *img, const char *dest,
			   cn_err *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int tfd = -1;
	cn_err ignored;
	int r = -1;
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", dest);
	tmp = arc_temp_sibling_dir(dest, err);
	if (!tmp)
		return -1;
	tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		cn_err_sys(err, "open '%s'", tmp);
	else if (arc_rootfs_apply(st, img, tfd, err) == 0 && merge_into(tfd, fd, dest, 0, err) == 0)
		r = syncfs(fd) < 0 ? cn_err_sys(err, "sync '%s'", dest) : 0;
	cn_rm_rf_at(AT_FDCWD, tmp, &ignored);
	return r;
}

static int export_image(struct store *st, const char *ref, enum arc_format format, const char *dest,
			const cn_strv *names, int compression, struct xfer_convert_stats *stats,
			const struct arc_export_opts *opts, cn_err *err);

int arc_export(struct store *st, const char *ref, enum arc_format format, const char *dest,
	       cn_err *err)
{
	return export_image(st, ref, format, dest, NULL, ARC_SAVE_DOCKER, NULL, NULL, err);
}

int arc_export_named(struct store *st, const char *ref, enum arc_format format, const char *dest,
		     const cn_strv *names, cn_err *err)
{
	return export_image(st, ref, format, dest, names, ARC_SAVE_DOCKER, NULL, NULL, err);
}

int arc_export_as(struct store *st, const char *ref, enum arc_format format, const char *dest,
		  int compression, struct xfer_convert_stats *stats, cn_err *err)
{
	return export_image(st, ref, format, dest, NULL, compression, stats, NULL, err);
}

int arc_export_with(struct store *st, const char *ref, enum arc_format format, const char *dest,
		    int compression, struct xfer_convert_stats *stats, const struct arc_export_opts *opts,
		    cn_err *err)
{
	return export_image(st, ref, format, dest, NULL, compression, stats, opts, err);
}

/* NAMES: arc_save_named's; COMPRESSION, STATS: arc_save_as's. */
static int export_image(struct store *st, const char *ref, enum arc_format format, const char *dest,
			const cn_strv *names, int compression, struct xfer_convert_stats *stats,
			const struct arc_export_opts *opts, cn_err *err)
{
	static const struct arc_export_opts defaults = { .headroom = ARC_DISK_HEADROOM };
	struct store_image img;
	struct arc_out out;
	int r = store_image_load(st, ref, &img, err);
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' not found", ref);
	if (r < 0)
		return -1;
	switch (format) {
	case ARC_ROOTFS_OVER:
		r = export_dir_over(st, &img, dest, err);
		break;
	case ARC_ROOTFS:
	case ARC_BUNDLE:
		r = export_dir(st, &img, format, dest, err);
		break;
	case ARC_ROOTFS_TAR:
		r = export_rootfs_tar(st, &img, dest, opts ? opts->tar : ARC_TAR_NONE, opts ? opts->level : 0, err);
		break;
	case ARC_LXC:
		r = arc_export_lxc(st, &img, ref, dest, opts ? opts : &defaults, err);
		break;
	case ARC_INITRAMFS:
		r = arc_export_initramfs(st, &img, dest, err);
		break;
	case ARC_DISK:
		r = arc_export_disk(st, &img, dest, opts ? opts : &defaults, err);
		break;
	case ARC_OCI_ARCHIVE:
	case ARC_DOCKER_ARCHIVE:
		r = arc_out_open(dest, &out, err);
		if (r == 0) {
			/* Only a docker archive must avoid zstd (imgarchive.h). */
			if (compression == ARC_SAVE_DOCKER && format == ARC_OCI_ARCHIVE)
				compression = ARC_SAVE_KEEP;
			r = arc_save_one(st, ref, names, compression, opts ? opts->level : 0, stats, out.fd, err);
			if (r == 0)
				r = arc_out_commit(&out, err);
			arc_out_abort(&out);
		}
		break;
	}
	store_image_free(&img);
	return r;
}
