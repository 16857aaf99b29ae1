/* Layers: an overlay upper directory -> an OCI layer tar stream, compressed,
 * with diff_id (uncompressed sha256) and digest (compressed sha256) computed
 * in the same single pass (layer.c, sink.c); and back: a layer blob from
 * outside -> a directory, treating the blob as hostile (extract*.c). Nothing
 * is held in memory beyond small buffers. */
#ifndef LAYER_H
#define LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/digest.h"
#include "util/err.h"

enum layer_compression {
	LAYER_ZSTD,
	LAYER_GZIP,
	LAYER_NONE,     /* a plain tar (exports); digest == diff_id */
};

/* zstd's job size when it compresses on worker threads (zstd raises it to
 * the window's overlap from level 17). Multithreaded zstd output depends
 * on the level and the job size, not on the number of workers: fixed
 * here, the same input gives the same blob on any machine with the same
 * libzstd version. Changing it changes every zstd layer's digest. */
#define LAYER_ZSTD_JOB_SIZE ((size_t)4 << 20)
/* gzip's block size (layers/pgzip.c): each block is deflated on its own,
 * so the blob depends on it (and the level), not on the worker count.
 * Changing it changes every gzip layer's digest. */
#define LAYER_GZIP_BLOCK ((size_t)128 << 10)
/* Compression levels: zstd's default, and the highest each format takes
 * (0 in the options: the format's default; zlib's is 6). */
#define LAYER_ZSTD_LEVEL 3
#define LAYER_ZSTD_LEVEL_MAX 22
#define LAYER_GZIP_LEVEL_MAX 9

struct layer_write_opts {
	enum layer_compression compression;
	int level;              /* 0: the compression's default; see layer_level_check */
	int64_t clamp_mtime;    /* >= 0: every mtime later than this is set to it; -1: off */
};

struct layer_info {
	char diff_id[CN_DIGEST_STR_SIZE];   /* sha256 of the uncompressed tar */
	char digest[CN_DIGEST_STR_SIZE];    /* sha256 of the compressed blob */
	uint64_t size;                      /* compressed bytes written */
	uint64_t entries;                   /* tar entries written (0 = empty layer) */
};

/* Write the tree under DIRFD (an overlay upper dir: whiteouts are 0/0 char
 * devices, opaque dirs carry trusted.overlay.opaque=y, or user.overlay.opaque=y
 * in a user namespace, where overlay is mounted with userxattr) to OUT_FD as a
 * compressed tar. Entries are sorted (bytewise, parents first), whiteouts
 * become ".wh.NAME", opaque dirs get ".wh..wh..opq" as their first child,
 * xattrs are kept as layers/xattr.h decides (overlay ones never),
 * hardlinks inside the tree become hardlink entries, sockets are skipped,
 * uid/gid are numeric only, atime/ctime are not recorded. A file in the tree
 * whose name starts with ".wh." is refused (a layer cannot carry it). */
int layer_write_dir(int dirfd, int out_fd, const struct layer_write_opts *opts,
		    struct layer_info *info, cn_err *err);

/* ---- reading layers from outside (layers/extract*.c) ---------------------- */

/* Defaults for the caps (0 in the options). */
#define LAYER_EXTRACT_MAX_BYTES ((uint64_t)64 << 30)          /* 64 GiB */
#define LAYER_EXTRACT_MAX_ENTRIES ((uint64_t)10 * 1000 * 1000)
/* Fixed caps: an entry's name, link name or symlink target (bytes, without
 * the NUL), and all the headers of one entry together (pax records, GNU
 * long names, a GNU sparse map). */
#define LAYER_EXTRACT_MAX_PATH 4095
#define LAYER_EXTRACT_MAX_HEADER ((uint64_t)2 << 20)

struct layer_extract_opts {
	/* true, the snapshot form (an overlay lower dir): ".wh.NAME" becomes a
	 * 0/0 character device NAME, ".wh..wh..opq" sets
	 * trusted.overlay.opaque=y (user.overlay.opaque=y in a user namespace)
	 * on its directory. TARGET must be empty.
	 * false, the ADD form (a plain tree, TARGET may hold files already):
	 * whiteouts delete what TARGET held before this extraction. */
	bool overlay_whiteouts;
	uint64_t max_bytes;     /* cap on the uncompressed tar and on the sum of file sizes; 0: default */
	uint64_t max_entries;   /* cap on tar entries; 0: default */
	bool numeric_owner;     /* ignored: owners are always numeric (no NSS, no uname/gname) */
	/* ADD: also bzip2 and xz (libarchive's decoders). The blob's digest
	 * covers what the decoder read; bytes after the compressed stream are
	 * not checked. Layers never set this. */
	bool bzip2_xz;
	/* The caller syncs the result (a snapshot): start writing big files'
	 * data to disk while extracting, so that the sync has less to wait for. */
	bool writeback;
};

struct layer_extract_result {
	char diff_id[CN_DIGEST_STR_SIZE];   /* sha256 of the uncompressed tar */
	char digest[CN_DIGEST_STR_SIZE];    /* sha256 of the blob as read, to its end */
	uint64_t size;                      /* bytes read from IN_FD */
	uint64_t uncompressed;              /* bytes of tar */
	uint64_t entries;                   /* tar entries (whiteouts and markers included) */
};

/* Read a layer blob from IN_FD to its end (gzip, zstd or plain tar, detected
 * from its first bytes; concatenated gzip members / zstd frames are one
 * stream; after the last one only zero bytes may follow, and after the tar's
 * end-of-archive blocks only zero bytes), hashing the blob (digest) and the
 * tar (diff_id) in the same single pass, and create its entries under the
 * directory TARGET_FD. The blob is hostile input:
 *  - nothing is ever created, changed or removed outside TARGET_FD: every
 *    entry's parent is resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_XDEV)
 *    (absolute names and symlinks are confined to TARGET_FD), the last
 *    component is handled with *at() calls that do not follow it, hardlink
 *    targets are resolved the same way and linked without following;
 *  - a name whose ".." climbs above the root is refused; so is a non-directory
 *    entry for the root itself (a directory entry for it is ignored);
 *  - a hardlink or non-file entry carrying data, a hardlink to a directory or
 *    to a whiteout, a 0/0 character device that is not a ".wh." entry, a
 *    whiteout naming "", "." or "..", a ".wh." directory component, a
 *    whiteout that is not a regular file are refused;
 *  - xattrs are kept as layers/xattr.h decides (user.*, file capabilities,
 *    POSIX ACLs; never trusted.*, overlay or SELinux ones); uname/gname are ignored; hardlink entries get no metadata of
 *    their own; nothing is chmod/chown/utimes'd through a symlink;
 *  - setuid/setgid bits and block/character devices are kept as in the tar
 *    (safe only because the store is 0700 and containers mount it nodev);
 *  - an existing directory meeting a directory entry is kept (its metadata
 *    updated), anything else existing is replaced, and a parent component
 *    that does not resolve to a directory is replaced by one (in the
 *    snapshot form a directory replacing something is made opaque: what
 *    lower layers had there is gone);
 *  - directory times are set at the end, after their contents.
 * On failure TARGET_FD is left partly changed: the caller must extract into
 * something it throws away on failure and keeps only on success: for a
 * snapshot, a fresh private temp directory renamed to snapshots/<diffid>
 * after digest, size and diff_id were compared with what was expected; for
 * ADD, a step's overlay whose upper dir is discarded if the step fails.
 * Mount points inside TARGET_FD are never crossed, changed or replaced.
 * Nothing is fsynced. Errors name the entry: `layer: entry "NAME": ...`.
 * Memory: small buffers, plus per directory its path and times (capped at
 * 256 MiB) and, in the ADD form, about 30 bytes per entry.
 * OPTS may be NULL (snapshot form, default caps); RES may be NULL. */
int layer_extract(int in_fd, int target_fd, const struct layer_extract_opts *opts,
		  struct layer_extract_result *res, cn_err *err);

/* A layer blob read through a function rather than from an fd (pull: a
 * download still being written). READ fills BUF with up to LEN bytes and
 * returns how many, 0 at the end of the blob, or -1 with errno set; it may
 * block until bytes arrive. */
struct layer_reader {
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
	/* The caller hashes the blob itself (a download): a compressed blob's
	 * digest is not computed again and RES->digest is "" (a plain tar's
	 * still is: it is also its diff_id). */
	bool hashed;
	/* When set and true (read atomically): stop within one block of
	 * output, with CN_ERR_INTERRUPTED; the bytes are given up (a download
	 * that failed its checks: nothing more of it is to be written). */
	const bool *stop;
};

/* layer_extract reading the blob through RD. */
int layer_extract_from(const struct layer_reader *rd, int target_fd, const struct layer_extract_opts *opts,
		       struct layer_extract_result *res, cn_err *err);

/* Read a layer blob from IN_FD to its end as layer_extract does (same
 * detection, decompression, caps and trailing-bytes rules) but create
 * nothing: only RES's digest, diff_id, size and uncompressed are filled.
 * For a blob whose snapshot already exists: its content must still be
 * checked against the diff_id it claims. MAX_BYTES 0: the default cap. */
int layer_hash(int in_fd, uint64_t max_bytes, struct layer_extract_result *res, cn_err *err);
/* layer_hash reading the blob through RD. */
int layer_hash_from(const struct layer_reader *rd, uint64_t max_bytes, struct layer_extract_result *res,
		    cn_err *err);

struct layer_convert_result {
	struct layer_info out;                  /* the new blob (entries: 0, not counted) */
	char in_digest[CN_DIGEST_STR_SIZE];     /* sha256 of the blob as read */
	char in_diff_id[CN_DIGEST_STR_SIZE];    /* sha256 of its tar */
	uint64_t in_size;                       /* bytes read */
};

/* Re-compress the layer blob IN_FD (gzip, zstd or plain tar, read to its end
 * with layer_hash's rules) as COMP to OUT_FD, streamed: the tar bytes are
 * unchanged (same diff_id), the blob is new. The caller compares
 * RES->in_digest with the digest it expected. */
int layer_convert(int in_fd, int out_fd, enum layer_compression comp, int level,
		  struct layer_convert_result *res, cn_err *err);

const char *layer_media_type(enum layer_compression c);
/* The compression a layer media type declares (OCI "+gzip"/"+zstd"/".tar",
 * docker's ".tar.gzip"/".tar.zstd"/".tar"): 0, or -1 when it names none. */
int layer_media_type_compression(const char *media_type, enum layer_compression *out);
/* The layer blob open at FD (read with pread, the offset unchanged) is
 * compressed as MEDIA_TYPE declares (gzip, zstd, or a plain tar, from its
 * first bytes): 0, or -1 with an error naming DIGEST and both formats. A
 * layer declared gzip that holds zstd would be read by cairn and refused by
 * every other tool that pulls it. */
int layer_check_media_type(int fd, const char *media_type, const char *digest, cn_err *err);
/* "zstd" | "gzip" -> enum; -1 if unknown. */
/* The name of a compression: "zstd", "gzip", "none". */
const char *layer_compression_name(enum layer_compression c);
int layer_compression_parse(const char *s, enum layer_compression *out);
/* A compression level for C: 0 (the default: zstd 3, gzip 6), zstd 1-22,
 * gzip 1-9. Returns 0, or -1 when out of range (none for a plain tar). */
int layer_level_check(enum layer_compression c, int level);

#endif
