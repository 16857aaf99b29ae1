/* A container's root file system on disk, for cairn run and for the
 * builder's steps alike: a temp dir in the store (tmp/PREFIX-XXXXXX, locked
 * while in use, so prune and a crash leave nothing behind) holding the
 * overlay's upper/, work/, merged/ and empty/ dirs and the container's own
 * hosts file, over the image's layer snapshots as the lower dirs. */
#ifndef CTR_ROOTFS_H
#define CTR_ROOTFS_H

#include "sandbox/sandbox.h"
#include "store/image.h"
#include "store/store.h"
#include "util/err.h"
#include "util/strv.h"

struct ctr_rootfs_opts {
	const char *prefix;                 /* the temp dir's: "run", "step" */
	const struct store_layer *layers;   /* bottom first, as an image lists them */
	size_t nlayers;
	const char *extra_dir;              /* one more empty subdir (the builder's
					     * "src"), or NULL */
	const char *hostname;               /* write hosts naming it; NULL: none */
	const cn_strv *extra_hosts;         /* --add-host: "NAME:IP" lines for hosts */
	const cn_strv *dns;                 /* --dns: nameservers for a resolv.conf of its own */
};

struct ctr_rootfs {
	struct store_tmpdir td;
	char *upper, *work, *merged, *empty;
	char *hosts;            /* the hosts file (sb_process.hosts_file), or NULL */
	char *resolv;           /* with dns: its resolv.conf (sb_process.resolv_file), or NULL */
	cn_strv lowers;         /* snapshot paths, topmost first */
	struct sb_rootfs sb;    /* for sb_run; points into the fields above */
};

/* Snapshot paths of LAYERS (bottom first) for an overlay stack, appended
 * to OUT topmost first. overlayfs refuses a directory twice in one stack; a
 * repeated layer needs only its topmost copy, whose entries and whiteouts
 * cover everything the lower copy did. A layer without a snapshot is an
 * error (pointing at fsck). */
int ctr_rootfs_lowers(struct store *st, const struct store_layer *layers, size_t n, cn_strv *out,
		      cn_err *err);

/* Create the directory, its subdirs, the hosts file and the lower paths.
 * R is always initialized; on error it holds nothing and the directory is
 * gone (ctr_rootfs_free is still safe). */
int ctr_rootfs_create(struct store *st, const struct ctr_rootfs_opts *o, struct ctr_rootfs *r,
		      cn_err *err);
/* Append --add-host lines (NAME:IP) to R's hosts file, docker's way. */
int ctr_rootfs_add_hosts(struct ctr_rootfs *r, const cn_strv *extra, cn_err *err);
/* Remove the directory (and whatever the upper dir holds) and free R;
 * safe twice. */
void ctr_rootfs_free(struct store *st, struct ctr_rootfs *r);

#endif
