/* Image archives and exports: `save` (one tar that is both an OCI image
 * layout and a docker-load archive), `export` (a rootfs directory or tar, an
 * OCI runtime bundle, an archive of one image) and `load` (OCI or docker
 * archives, hostile input, into the store). Blobs are streamed, never held in
 * memory; outputs appear under their name only when complete.
 * Named imgarchive.h, not archive.h: that is libarchive's header, which
 * save.c and load.c include next to this one. */
#ifndef ARC_IMGARCHIVE_H
#define ARC_IMGARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/image.h"
#include "store/store.h"
#include "transfer/convert.h"
#include "util/err.h"
#include "util/strv.h"

/* ---- outputs: a file written as a temp sibling (.NAME.cairn-tmp-XXXXXX,
 * flock()ed by its writer) and renamed when complete, or stdout ("-"),
 * which must not be a terminal. Opening one removes the unlocked temp
 * siblings in its directory: what a killed save or export left. ---- */
struct arc_out {
	int fd;
	char *path;         /* NULL for stdout */
	char *tmp;          /* the temp sibling being written */
};
int arc_out_open(const char *dest, struct arc_out *o, cn_err *err);
/* fsync and rename into place (stdout: nothing to do). */
int arc_out_commit(struct arc_out *o, cn_err *err);
/* Remove the temp file; safe after commit and twice. */
void arc_out_abort(struct arc_out *o);

/* ---- save (save.c) ---- */
/* Write the images REFS (tags or manifest digests) as one tar to OUT_FD:
 * oci-layout, index.json (one entry per tag: org.opencontainers.image.ref.name
 * = NAME:TAG, io.containerd.image.name = the docker-style full name),
 * blobs/sha256/<hex> (each blob once, re-hashed while written) and docker's
 * manifest.json (Config, RepoTags, Layers naming the same blob paths). */
int arc_save(struct store *st, char *const *refs, size_t nrefs, int out_fd, cn_err *err);
/* The same for the one image REF, named by NAMES (normalized refs, which
 * need not be tags in the store; none: no name), as build --output writes it. */
int arc_save_named(struct store *st, const char *ref, const cn_strv *names, int out_fd, cn_err *err);
/* ARC_SAVE_DOCKER: each image's layers as stored, except that an image with
 * a zstd layer has all its layers converted to gzip: `docker load` and
 * skopeo's docker-archive: read no zstd. arc_save does this. */
#define ARC_SAVE_DOCKER (-1)
/* ARC_SAVE_KEEP: every layer as stored. */
#define ARC_SAVE_KEEP (-2)
/* arc_save with every layer converted to COMPRESSION (an enum
 * layer_compression, or ARC_SAVE_DOCKER) on the way out: streamed, the
 * converted blobs remembered in the store (transfer/convert.h), at LEVEL
 * (0: the default; layer_level_check). STATS (may be NULL) counts the
 * conversions. */
int arc_save_as(struct store *st, char *const *refs, size_t nrefs, int compression, int level,
		struct xfer_convert_stats *stats, int out_fd, cn_err *err);
/* arc_save_named with COMPRESSION and STATS as arc_save_as. */
int arc_save_one(struct store *st, const char *ref, const cn_strv *names, int compression, int level,
		 struct xfer_convert_stats *stats, int out_fd, cn_err *err);

/* ---- export (export.c, bundle.c) ---- */
enum arc_format {
	ARC_ROOTFS,             /* a directory: the layers applied in order */
	ARC_ROOTFS_TAR,         /* the same directory as one uncompressed tar */
	ARC_BUNDLE,             /* DEST/rootfs + DEST/config.json (OCI runtime spec) */
	ARC_OCI_ARCHIVE,        /* the save format, one image */
	ARC_DOCKER_ARCHIVE,     /* the same tar (it is both) */
	ARC_ROOTFS_OVER,        /* ARC_ROOTFS written into an existing directory, over
				 * its files (build --output type=local, as docker) */
	ARC_LXC,                /* DEST/rootfs.tar.xz + DEST/meta.tar.xz: LXC's image
				 * format (lxc-create -t local) */
	ARC_INITRAMFS,          /* a gzip newc cpio a kernel boots (-initrd) */
	ARC_DISK,               /* a raw ext4 image (mke2fs -d) */
};

/* What the formats for other runtimes take beyond a destination. */
enum arc_network {
	ARC_NET_NONE,           /* loopback only (LXC: lxc.net.0.type = empty) */
	ARC_NET_HOST,           /* the host's network (LXC: none) */
	ARC_NET_BRIDGE,         /* a veth on a bridge */
};
/* rootfs-tar's compression: none, gzip, zstd (as layers are written) or xz
 * (libarchive: the LXC and OpenVZ tarball habit). */
enum arc_tar_compression {
	ARC_TAR_NONE,
	ARC_TAR_GZIP,
	ARC_TAR_ZSTD,
	ARC_TAR_XZ,
};
struct arc_export_opts {
	enum arc_tar_compression tar;   /* rootfs-tar */
	int level;                      /* rootfs-tar (gzip, zstd) and the archives'
					 * conversions: 0, the default */
	enum arc_network network;       /* lxc */
	const char *bridge;             /* ARC_NET_BRIDGE: its name (NULL: lxcbr0) */
	uint64_t headroom;              /* disk: free bytes beyond the content */
	const char *kernel;             /* disk: copy this kernel and a module-loading
					 * initramfs next to DEST (NULL: none) */
};
#define ARC_DISK_HEADROOM ((uint64_t)64 << 20)
/* -1 when unknown. */
int arc_format_parse(const char *s, enum arc_format *out);

/* Apply IMG's layer blobs in order to the directory DIRFD (whiteouts
 * delete, owners and modes kept), each read with the hostile-input layer
 * reader and checked against its digest and diff_id. */
int arc_rootfs_apply(struct store *st, const struct store_image *img, int dirfd, cn_err *err);

/* Export image REF in FORMAT to DEST (a path; "-" = stdout for the tar
 * formats). Directories are built in a temp sibling and renamed to DEST,
 * which must not exist or be an empty directory. */
int arc_export(struct store *st, const char *ref, enum arc_format format, const char *dest,
	       cn_err *err);
/* The same, the archive formats naming the image NAMES (arc_save_named;
 * NULL: its tags, as arc_export). */
int arc_export_named(struct store *st, const char *ref, enum arc_format format, const char *dest,
		     const cn_strv *names, cn_err *err);
/* The same; the archive formats convert layers as arc_save_as does
 * (ARC_SAVE_DOCKER means ARC_SAVE_KEEP for oci-archive: only a docker
 * archive must avoid zstd). */
int arc_export_as(struct store *st, const char *ref, enum arc_format format, const char *dest,
		  int compression, struct xfer_convert_stats *stats, cn_err *err);

/* The same for every format, with the options of the formats for other
 * runtimes (OPTS NULL: the defaults). */
int arc_export_with(struct store *st, const char *ref, enum arc_format format, const char *dest,
		    int compression, struct xfer_convert_stats *stats, const struct arc_export_opts *opts,
		    cn_err *err);
/* Where a disk export with a kernel puts the kernel and its initramfs:
 * DEST without ".img", then ".vmlinuz" / ".initrd" (heap strings). */
char *arc_disk_sibling(const char *dest, const char *suffix);

/* The OCI runtime config.json for IMG whose rootfs is open at ROOTFS_FD
 * (USER is resolved from its /etc/passwd and /etc/group). HOSTNAME is the
 * container's hostname. */
json_t *arc_bundle_config(const struct store_image *img, int rootfs_fd, const char *hostname,
			  cn_err *err);

/* ---- load (load.c) ---- */
struct arc_load_image {
	char manifest_digest[CN_DIGEST_STR_SIZE];
	cn_strv tags;       /* normalized refs tagged (may be empty) */
};
struct arc_load_result {
	struct arc_load_image *images;
	size_t nimages;
};
/* Caps on a loaded archive (hostile input). */
#define ARC_LOAD_MAX_ENTRIES 20000
#define ARC_LOAD_MAX_BYTES ((uint64_t)64 << 30)      /* all entries' data together */
#define ARC_LOAD_MAX_JSON ((size_t)8 << 20)           /* index.json, manifest.json, ... */

/* Read the archive from IN_FD (NAME is used in messages): an OCI layout
 * (oci-layout, index.json, blobs/sha256/) or a docker archive (manifest.json
 * naming Config and Layers paths: `docker save` with blobs/ or the legacy
 * <id>/layer.tar), plain or gzip/zstd/xz/bzip2. Every entry is streamed
 * into a private temp file in the store while hashed (never created by its
 * name); blobs are checked against their names' digests; each image is
 * imported (snapshots made, diff_ids checked) and tagged. CAUSE goes to the
 * tag log. On error nothing is tagged. An entry declaring more than the
 * store's free space is refused before it is written; blobs the load
 * brought in that no loaded image uses (all, on error) are removed. */
int arc_load(struct store *st, int in_fd, const char *name, const char *cause,
	     struct arc_load_result *res, cn_err *err);
void arc_load_result_free(struct arc_load_result *res);

#endif
