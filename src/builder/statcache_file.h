/* The stat cache's file format (see statcache.c for the layout): blocks
 * of entries sorted in path order, each checked by its sha256, written and
 * read one block at a time. */
#ifndef BF_STATCACHE_FILE_H
#define BF_STATCACHE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/statcache.h"

#define SCF_MAGIC "cairnsc"     /* 8 bytes with its NUL */
#define SCF_VERSION 2
#define SCF_HEADER 24
#define SCF_BLOCK_HEAD 8
#define SCF_ENTRY_FIXED 88
#define SCF_MD 32
/* Entry flags: the key was dropped (a level above the main file says so,
 * hiding the key's entries in the levels below it). */
#define SCF_F_DEAD 1u
#define SCF_BLOCK ((size_t)64 << 10)
/* The longest block: one cut just after SCF_BLOCK bytes by the longest entry. */
#define SCF_BLOCK_MAX (SCF_BLOCK + SCF_ENTRY_FIXED + BF_STATCACHE_MAX_KEY)

/* At most this many bytes of first keys in a block index (more: the file
 * is corrupt, the writer stops adding blocks). */
#define SCF_IDX_KEYS_MAX ((size_t)16 << 20)

/* What is recorded for a key. */
struct scf_rec {
	uint64_t size;
	uint64_t mtime_ns;      /* nanoseconds, wrapping (statcache.c ts_ns) */
	uint64_t ctime_ns;
	uint64_t ino;
	uint64_t dev;
	uint64_t used;          /* unix seconds of the last use (persisted) */
	unsigned char md[32];
	bool dead;              /* SCF_F_DEAD */
};

/* One block of a cache file, read and checked. */
struct scf_blk {
	unsigned char *buf;     /* head, entries, digest */
	uint32_t n;
	uint32_t *offs;         /* each entry's offset in BUF */
	size_t offs_cap;
};

struct scf_index {
	uint64_t off;
	char *first;            /* the block's first key */
	uint32_t first_len;
};

/* A sorted file of entries looked up through an index of its blocks'
 * first keys (the main cache file, its recent level, a session's runs). */
struct scf_level {
	int fd;                 /* -1: none */
	uint64_t size;
	uint64_t count;         /* entries, dropped ones included */
	uint64_t ino, dev;
	struct scf_index *idx;
	size_t nidx, idx_cap;
	size_t cur;             /* the block in BLK, SIZE_MAX: none */
	size_t bad;             /* the damaged block last found, not read again */
	struct scf_blk blk;
};

/* A new cache file being written, block by block, with its index. */
struct scf_writer {
	int fd;
	uint64_t off;
	unsigned char *blk;     /* head, entries, room for the digest */
	size_t blen;            /* bytes in BLK, head included */
	uint32_t bn;
	uint64_t count;
	uint64_t max_count, max_bytes;  /* entries beyond are dropped */
	struct scf_index *idx;
	size_t nidx, idx_cap, idx_bytes;
	int failed;             /* errno of a failed write, 0 */
};

/* The cache file as another saver may have left it, entry by entry; a
 * damaged block is skipped, it ends at the first block head or key order
 * that does not check out. */
struct scf_reader {
	int fd;
	uint64_t size, off, count;
	struct scf_blk b;
	uint32_t i;
	bool eof;
	char *last;             /* the key last returned, for the order check */
	size_t last_len;
};

uint64_t scf_get_le(const unsigned char *p, int n);
void scf_put_le(unsigned char *p, uint64_t v, int n);
/* "sha256:<hex>" (as cn_sha256_final writes it) to 32 bytes. */
void scf_digest_to_raw(const char *s, unsigned char md[32]);
void scf_sha_raw(const void *data, size_t len, unsigned char md[32]);
/* Bytewise, but '/' sorts before any other byte: components compare one by
 * one, as the walk visits them. */
int scf_key_cmp(const char *a, size_t al, const char *b, size_t bl);
/* The fixed part of an entry at P, from and to a record. */
void scf_rec_get(const unsigned char *p, struct scf_rec *r);
void scf_rec_put(unsigned char *p, size_t len, const struct scf_rec *r);
/* The key of B's entry I. */
const char *scf_blk_key(const struct scf_blk *b, uint32_t i, size_t *len);
void scf_blk_free(struct scf_blk *b);
/* Is a block of NBYTES at OFF of a file of SIZE bytes where one may be?
 * It fits, and but for the last it is at least SCF_BLOCK long. */
bool scf_head_usable(uint64_t off, uint64_t size, uint64_t nbytes);
enum scf_got {
	SCF_END,        /* the end marker, or a head that is not usable */
	SCF_BAD,        /* a damaged block, *NEXT set: skip it */
	SCF_OK,
};
/* Read the block at OFF of FD (SIZE bytes long) into B and check it: its
 * digest, every entry's form, keys strictly increasing. *NEXT: where the
 * next block starts (set for SCF_OK and SCF_BAD). */
enum scf_got scf_blk_read(int fd, uint64_t off, uint64_t size, struct scf_blk *b, uint64_t *next);
/* Append a block (at OFF, first key FIRST) to an index. */
void scf_idx_add(struct scf_index **idx, size_t *n, size_t *cap, uint64_t off, const char *first,
		 size_t len);
/* Add an entry (keys in increasing order) to W's file; the header goes in
 * last (the file starts with SCF_HEADER bytes of room for it). An entry
 * past W's max_count, max_bytes or SCF_IDX_KEYS_MAX is dropped. */
void scf_w_entry(struct scf_writer *w, const char *key, size_t len, const struct scf_rec *r);
int scf_w_finish(struct scf_writer *w);
/* Start reading RD->fd (RD->size bytes) from its first entry; the next
 * entry (KEY valid until the next call), false at the end. */
void scf_rd_rewind(struct scf_reader *rd);
bool scf_rd_next(struct scf_reader *rd, const char **key, size_t *len, struct scf_rec *r);

/* An empty level (no file). */
void scf_level_init(struct scf_level *l);
/* Index the blocks of FD (SIZE bytes) into L (empty) from their heads and
 * first keys; false if its structure does not check out (L stays empty;
 * FD is the caller's). On success L owns FD. */
bool scf_level_scan(struct scf_level *l, int fd, uint64_t size);
/* KEY's record in L, if it has one (a dropped one too: R->dead); a block
 * read adds one to *BLOCKS_READ. A damaged block is a miss for its keys. */
bool scf_level_find(struct scf_level *l, const char *key, size_t len, struct scf_rec *r,
		    uint64_t *blocks_read);
/* Take over the file W wrote (FD, its index) as L (empty). */
void scf_level_from_writer(struct scf_level *l, struct scf_writer *w);
void scf_level_close(struct scf_level *l);

/* A new file in NAME's directory under DIRFD: unnamed (O_TMPFILE) where
 * supported, else a named temp (*TMP, NULL for an unnamed one). */
int scf_open_new(int dirfd, const char *name, char **tmp);
/* Give the unnamed file FD a temp name next to NAME in DIRFD (NULL: failed,
 * errno set). */
char *scf_link_tmpfile(int fd, int dirfd, const char *name);

#endif
