/* Layers: an overlay upper directory -> an OCI layer tar stream, compressed,
 * with diff_id (uncompressed sha256) and digest (compressed sha256) computed
 * in the same single pass. Nothing is held in memory beyond small buffers. */
#ifndef LAYER_H
#define LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/digest.h"
#include "util/err.h"

enum layer_compression {
	LAYER_ZSTD,
	LAYER_GZIP,
};

struct layer_write_opts {
	enum layer_compression compression;
	int64_t clamp_mtime;    /* >= 0: every mtime later than this is set to it; -1: off */
};

struct layer_info {
	char diff_id[CN_DIGEST_STR_SIZE];   /* sha256 of the uncompressed tar */
	char digest[CN_DIGEST_STR_SIZE];    /* sha256 of the compressed blob */
	uint64_t size;                      /* compressed bytes written */
	uint64_t entries;                   /* tar entries written (0 = empty layer) */
};

/* Write the tree under DIRFD (an overlay upper dir: whiteouts are 0/0 char
 * devices, opaque dirs carry trusted.overlay.opaque=y) to OUT_FD as a
 * compressed tar. Entries are sorted (bytewise, parents first), whiteouts
 * become ".wh.NAME", opaque dirs get ".wh..wh..opq" as their first child,
 * trusted.overlay.* / user.overlay.* xattrs are dropped, other xattrs kept,
 * hardlinks inside the tree become hardlink entries, sockets are skipped,
 * uid/gid are numeric only, atime/ctime are not recorded. A file in the tree
 * whose name starts with ".wh." is refused (a layer cannot carry it). */
int layer_write_dir(int dirfd, int out_fd, const struct layer_write_opts *opts,
		    struct layer_info *info, cn_err *err);

const char *layer_media_type(enum layer_compression c);
/* "zstd" | "gzip" -> enum; -1 if unknown. */
int layer_compression_parse(const char *s, enum layer_compression *out);

#endif
