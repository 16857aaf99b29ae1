/* Internal to layers/: the pieces of layer_extract (layer.h).
 *   extract_input.c    the blob -> tar bytes: read, hash, decompress, cap;
 *   extract_whiteout.c whiteouts and opaque markers, and the inode set the
 *                      ADD form needs for them;
 *   extract.c          the entries (confinement, files, links, metadata)
 *                      and the driver.
 * Everything here is prefixed ex_; struct ex is one extraction. */
#ifndef LAYER_EXTRACT_INTERNAL_H
#define LAYER_EXTRACT_INTERNAL_H

#include <archive.h>
#include <archive_entry.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
/* next_in as const: we never write into the input. */
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>

#include "layers/codec.h"
#include "layers/layer.h"
#include "util/buf.h"
#include "util/digest.h"
#include "util/err.h"

#define EX_BUF ((size_t)256 * 1024)     /* input and decompressor output buffers */
#define EX_SHOWN_MAX 160                /* bytes of a name quoted in an error */
/* writeback: a file's data is sent to disk every CHUNK bytes, and at its
 * end when it has MIN bytes. */
#define EX_WRITEBACK_CHUNK ((la_int64_t)8 << 20)
#define EX_WRITEBACK_MIN ((la_int64_t)256 << 10)

#define WH_PREFIX ".wh."
#define WH_PREFIX_LEN 4
#define WH_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define OPAQUE_XATTR_USERNS "user.overlay.opaque"
#define RESOLVE_FLAGS (RESOLVE_IN_ROOT | RESOLVE_NO_XDEV)

/* ---- the input stream (extract_input.c) ---------------------------------- */

struct ex_src {
	int fd;
	const struct layer_reader *rd;  /* read through this instead of FD when set */
	const struct layer_codec *codec;        /* from the first bytes */
	unsigned char *in;      /* raw bytes: in[in_pos, in_len) not yet used */
	unsigned char *out;     /* decompressor output */
	size_t in_pos, in_len;
	bool in_eof;            /* read() returned 0 */
	bool member_end;        /* a gzip member / zstd frame just ended */
	bool trailer;           /* past the last member: only zero bytes may follow */
	bool done;              /* the tar stream ended */
	z_stream zs;
	bool zs_live;
	ZSTD_DCtx *zd;
	struct archive *flt;    /* bzip2/xz: libarchive's decoder, raw format */
	cn_sha256 digest;       /* raw bytes (unless skip_digest) */
	bool skip_digest;       /* the reader's caller hashes them (layer_reader.hashed) */
	cn_sha256 diff_id;      /* tar bytes (compressed input only; else = digest) */
	uint64_t raw, plain;    /* bytes read, bytes of tar produced */
	uint64_t zero_tail;     /* how many bytes at the end of the tar so far are zero */
	uint64_t max_plain;
	uint64_t header_end;    /* != 0: reading a header; the tar may not pass this */
	/* Where the tar may end without its padding and end-of-archive blocks:
	 * the end of the current entry's data (umoci 0.4.7 writes such layers;
	 * buildah and containers/storage accept them). UINT64_MAX: nowhere. */
	uint64_t may_end_at;
	bool synthesized;       /* it did: the missing blocks were made up (not hashed) */
	bool failed;
	cn_err err;             /* why, without the "layer: " prefix */
};

/* Read the first bytes of FD and pick the decoder; FILTERS allows bzip2
 * and xz. At most MAX_PLAIN bytes of tar. */
int ex_src_open(struct ex_src *s, int fd, uint64_t max_plain, bool filters);
/* The same, reading through RD (which must outlive S). */
int ex_src_open_reader(struct ex_src *s, const struct layer_reader *rd, uint64_t max_plain, bool filters);
/* The next bytes of tar: counted, capped, hashed. 0 at its end, -1 with
 * S->err set. */
ssize_t ex_src_read(struct ex_src *s, const void **buf);
/* Ctrl-C, or the reader was told to stop (layer_reader.stop): S->err
 * set (CN_ERR_INTERRUPTED), -1. */
int ex_src_check_stop(struct ex_src *s);
/* ex_src_read as libarchive's read callback (UD is the ex_src). */
la_ssize_t ex_src_archive_cb(struct archive *ar, void *ud, const void **buf);
void ex_src_free(struct ex_src *s);
/* After the last read: the blob's digest and its tar's diff_id (the same
 * for a plain tar). */
void ex_src_final(struct ex_src *s, char digest[CN_DIGEST_STR_SIZE], char diff_id[CN_DIGEST_STR_SIZE]);

/* ---- inodes this extraction made or went through (ADD form) --------------- */

#define IN_CREATED 1u           /* made by this extraction: survives whiteouts */
#define IN_TOUCHED 2u           /* an older directory this layer updated or wrote under */

struct iset_slot {
	uint64_t ino;
	uint32_t dev;           /* the kernel's 32-bit encoding of st_dev */
	uint32_t flags;         /* 0: empty */
};

struct iset {
	struct iset_slot *v;
	size_t cap, n;          /* cap: a power of two, or 0; at most 3/4 full */
};

/* ---- one extraction ------------------------------------------------------- */

struct dir_time {
	size_t off;             /* path in ex.dir_paths */
	struct timespec ts[2];
};

struct ex {
	struct archive *ar;
	struct ex_src src;
	int root;
	dev_t root_dev;
	ino_t root_ino;
	bool overlay;           /* snapshot form */
	bool writeback;         /* layer_extract_opts.writeback */
	uint64_t max_bytes, max_entries;
	uint64_t entries;
	uint64_t file_bytes;    /* sum of regular files' sizes */
	uint64_t end_of_entries;        /* tar offset after the last entry's data */
	char shown[EX_SHOWN_MAX * 4 + 8];   /* the current entry's name, quoted */
	cn_buf path;            /* its cleaned name: "a/b/c", "" for the root */
	cn_buf parent;          /* scratch: a parent directory's path */
	cn_buf link;            /* a hardlink target, cleaned */
	struct iset seen;       /* ADD form only */
	/* The last entry's parent directory: consecutive entries mostly share
	 * one. Only removals can change what an existing path resolves to
	 * (creating names cannot), so any removal makes it stale. */
	cn_buf cached_path;
	int cached_fd;
	uint64_t removals, cached_at;
	struct dir_time *dirs;
	size_t ndirs, dirs_cap;
	cn_buf dir_paths;
	cn_err *err;
};

/* extract.c */

/* `layer: entry "NAME": WHAT` (+ strerror(ERRNUM) when not 0); -1. */
int ex_fail(struct ex *x, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define ex_sys(x, ...) ex_fail((x), errno, __VA_ARGS__)
/* PATH[0, LEN) as a NUL-terminated string in X->parent ("." when empty). */
const char *ex_parent_of(struct ex *x, const char *path, size_t len);
/* The entry's atime (its mtime when it has none) and mtime. */
void ex_entry_times(struct archive_entry *e, struct timespec ts[2]);
/* The directory REL (root-relative, "." for the root) as an fd into *OUT;
 * CREATE makes missing or non-directory components directories, otherwise
 * *OUT is -1 when REL is not a directory. */
int ex_open_dir(struct ex *x, const char *rel, bool create, int *out);
/* Remove what is at NAME in DIRFD (ST: its lstat), to replace it. */
int ex_remove_existing(struct ex *x, int dirfd, const char *name, const struct stat *st);

/* extract_whiteout.c */

/* Record what this extraction made or changed (ADD form; no-op otherwise):
 * the inode of FD, or of NAME in DIRFD. */
int ex_mark(struct ex *x, int dirfd, const char *name, int fd, unsigned flags);
/* DIRFD and the directories above it, up to the root, are TOUCHED. */
int ex_mark_ancestors(struct ex *x, int dirfd);
/* trusted.overlay.opaque=y on the directory DIRFD. */
int ex_set_opaque_fd(struct ex *x, int dirfd);
/* The ".wh." entry E, whose cleaned name is X->path, last component at BASE. */
int ex_whiteout_entry(struct ex *x, struct archive_entry *e, size_t base);

#endif
