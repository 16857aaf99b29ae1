/* COPY: files from the build context into a root file system, with
 * Dockerfile semantics. Sources are confined to the context (escaping is an
 * error), destinations are resolved inside the root (image symlinks cannot
 * lead outside). */
#ifndef BF_COPY_H
#define BF_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/digest.h"
#include "util/err.h"

struct bf_ignore;
struct bf_statcache;

struct bf_copy_opts {
	int ctx_fd;                 /* build context root (directory fd) */
	bool src_is_root;           /* ctx_fd is an image root (COPY --from): resolve in it */
	int root_fd;                /* destination root file system (directory fd) */
	const char *const *srcs;    /* expanded sources, relative to the context; may hold globs */
	size_t nsrcs;
	const char *dest;           /* expanded destination; relative => under workdir */
	const char *workdir;        /* absolute, "/" by default */
	bool chown;                 /* apply uid/gid, else 0:0 */
	uid_t uid;
	gid_t gid;
	bool chmod;                 /* apply mode to every copied file and dir */
	mode_t mode;
	const struct bf_ignore *ignore; /* context paths COPY does not see; NULL = none */
	/* --exclude: patterns (ignore-file syntax) matched against the entries
	 * of each source relative to that source, and against what a wildcard
	 * matched relative to where it was expanded; NULL = none. */
	const struct bf_ignore *exclude;
	/* --parents: each source keeps its path (relative to the context, or
	 * to a "/./" marker in the source) below DEST, a directory. */
	bool parents;
};

/* Errors read like "'x': no such file in the build context" or "'x':
 * points outside the build context"; the caller names the instruction.
 *
 * With O->ignore, the context is what docker would send: an entry the
 * ignore file excludes is skipped by wildcards and directory walks, never
 * opened nor read, and a directory excluded as a whole is not entered
 * (one that an exception may re-include entries of is, and is copied only
 * if one is). A source named explicitly that is excluded is not found
 * (BuildKit's behaviour): "'x': no such file or directory in the
 * build context (excluded by .dockerignore)". Paths are matched relative
 * to the context root after symlinks in the source names are resolved, so
 * a link does not reach an excluded entry either. */
int bf_copy(const struct bf_copy_opts *o, cn_err *err);

/* DEST is written as a directory: "dir/", ".", "x/.." or "" (BuildKit adds
 * the '/' to "." itself). */
bool bf_copy_dest_is_dir(const char *dest);

/* A digest of what bf_copy would copy from the context, for the build
 * cache: the sources are expanded, resolved and walked exactly as bf_copy
 * does (same order, same errors for a missing source, one outside the
 * context, a pattern with no match, a .wh. name in a copied directory), and
 * every entry it would copy is hashed: its path as placed (relative to the
 * source: a file source by its base name, a directory source by its
 * contents, the directory itself as ""), type, permission bits, size and
 * content digest of regular files, symlink targets, device numbers, and the
 * xattrs bf_copy carries over (layer_xattr_keep: user.* but user.overlay.*,
 * security.capability, POSIX ACLs). Not hashed: times, owners, other xattrs, the
 * destination and --chown/--chmod (the instruction's text). Only O->ctx_fd,
 * O->srcs, O->nsrcs and O->ignore are used (ignored entries are not
 * hashed, so editing them changes nothing).
 *
 * File contents go through the stat cache SC under CTX_PATH + "/" + the
 * path in the context (CTX_PATH: the context's absolute path), so unchanged
 * files are not read again; with SC or CTX_PATH NULL every file is read.
 * FIFOs and devices are never opened.
 *
 * Unlike bf_copy, a file source whose own base name starts with .wh. is not
 * refused here: bf_copy refuses it only when it keeps that name, which
 * depends on the destination.
 *
 * FINGERPRINT (may be NULL) receives a hash of every entry's identity
 * (device, inode, ctime, size): equal fingerprints before and after a copy
 * show that the copy read these very entries, unchanged. */
int bf_copy_digest(const struct bf_copy_opts *o, const char *ctx_path, struct bf_statcache *sc,
		   char out[CN_DIGEST_STR_SIZE], char fingerprint[CN_DIGEST_STR_SIZE], cn_err *err);

#endif
