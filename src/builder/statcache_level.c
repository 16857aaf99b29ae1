/* One sorted file of stat cache entries as lookups read it: an index of
 * its blocks' offsets and first keys, made from the block heads (a read
 * per block, not of the whole file), and the block last read. A block's
 * entries and digest are checked when it is read; a damaged one is a miss
 * for its keys and is not read again by the next lookup in it. */
#include "builder/statcache_file.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void scf_level_init(struct scf_level *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->cur = SIZE_MAX;
	l->bad = SIZE_MAX;
}

void scf_level_close(struct scf_level *l)
{
	for (size_t i = 0; i < l->nidx; i++)
		free(l->idx[i].first);
	free(l->idx);
	if (l->fd >= 0)
		close(l->fd);
	scf_blk_free(&l->blk);
	scf_level_init(l);
}

static void set_id(struct scf_level *l)
{
	struct stat st;
	if (l->fd >= 0 && fstat(l->fd, &st) == 0) {
		l->ino = (uint64_t)st.st_ino;
		l->dev = (uint64_t)st.st_dev;
	}
}

void scf_level_from_writer(struct scf_level *l, struct scf_writer *w)
{
	l->fd = w->fd;
	l->size = w->off + SCF_BLOCK_HEAD;
	l->count = w->count;
	l->idx = w->idx;
	l->nidx = w->nidx;
	l->idx_cap = w->idx_cap;
	w->fd = -1;
	w->idx = NULL;
	w->nidx = w->idx_cap = 0;
	set_id(l);
}

static bool scan(struct scf_level *l, int fd, uint64_t size)
{
	unsigned char hdr[SCF_HEADER], head[SCF_BLOCK_HEAD + SCF_ENTRY_FIXED];
	_cleanup_free_ char *key = NULL, *last = NULL;
	size_t last_len = 0;
	uint64_t count, seen = 0, off = SCF_HEADER, key_bytes = 0;

	if (size < SCF_HEADER + SCF_BLOCK_HEAD || pread(fd, hdr, sizeof(hdr), 0) != SCF_HEADER ||
	    memcmp(hdr, SCF_MAGIC, 8) != 0 || scf_get_le(hdr + 8, 4) != SCF_VERSION || scf_get_le(hdr + 12, 4) != 0)
		return false;
	count = scf_get_le(hdr + 16, 8);
	if (count > BF_STATCACHE_MAX_ENTRIES)
		return false;
	l->count = count;
	key = cn_xmalloc(BF_STATCACHE_MAX_KEY);
	last = cn_xmalloc(BF_STATCACHE_MAX_KEY);
	for (;;) {
		uint64_t nbytes, n, klen;
		ssize_t got;
		if (size - off < SCF_BLOCK_HEAD)
			return false;
		got = pread(fd, head, sizeof(head), (off_t)off);
		if (got < SCF_BLOCK_HEAD)
			return false;
		nbytes = scf_get_le(head, 4);
		n = scf_get_le(head + 4, 4);
		if (nbytes == 0 && n == 0)      /* the end marker, which ends the file */
			return off + SCF_BLOCK_HEAD == size && seen == count;
		/* Blocks as the writer cuts them (which bounds their number by
		 * the file's size) and first keys that add up to a bounded
		 * index, else corrupt. */
		if (!scf_head_usable(off, size, nbytes) || n == 0 || n > nbytes / (SCF_ENTRY_FIXED + 1) ||
		    got != (ssize_t)sizeof(head))
			return false;
		klen = scf_get_le(head + SCF_BLOCK_HEAD, 4);
		key_bytes += klen;
		if (klen == 0 || klen > BF_STATCACHE_MAX_KEY || SCF_ENTRY_FIXED + klen > nbytes ||
		    key_bytes > SCF_IDX_KEYS_MAX ||
		    pread(fd, key, klen, (off_t)(off + SCF_BLOCK_HEAD + SCF_ENTRY_FIXED)) != (ssize_t)klen ||
		    memchr(key, '\0', klen))
			return false;
		if (seen > 0 && scf_key_cmp(last, last_len, key, klen) >= 0)
			return false;
		seen += n;
		if (seen > count)
			return false;
		scf_idx_add(&l->idx, &l->nidx, &l->idx_cap, off, key, klen);
		memcpy(last, key, klen);
		last_len = klen;
		off += SCF_BLOCK_HEAD + nbytes + SCF_MD;
	}
}

bool scf_level_scan(struct scf_level *l, int fd, uint64_t size)
{
	if (!scan(l, fd, size)) {
		scf_level_close(l);
		return false;
	}
	l->fd = fd;
	l->size = size;
	set_id(l);
	return true;
}

bool scf_level_find(struct scf_level *l, const char *key, size_t len, struct scf_rec *r,
		    uint64_t *blocks_read)
{
	size_t lo = 0, hi = l->nidx, b;
	uint32_t lb, hb;
	if (l->fd < 0 || l->nidx == 0)
		return false;
	/* The last block whose first key is <= KEY. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (scf_key_cmp(l->idx[mid].first, l->idx[mid].first_len, key, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	b = lo - 1;
	if (b == l->bad)
		return false;   /* damaged, found so before */
	if (l->cur != b) {
		uint64_t next;
		size_t flen, llen;
		const char *first, *lastk;
		l->cur = SIZE_MAX;
		(*blocks_read)++;
		/* Damaged, or not in its place in the file's order: a miss for
		 * its keys, and not read again by the next lookup in it. */
		l->bad = b;
		if (scf_blk_read(l->fd, l->idx[b].off, l->size, &l->blk, &next) != SCF_OK)
			return false;
		first = scf_blk_key(&l->blk, 0, &flen);
		lastk = scf_blk_key(&l->blk, l->blk.n - 1, &llen);
		if (scf_key_cmp(first, flen, l->idx[b].first, l->idx[b].first_len) != 0 ||
		    (b + 1 < l->nidx && scf_key_cmp(lastk, llen, l->idx[b + 1].first, l->idx[b + 1].first_len) >= 0))
			return false;
		l->bad = SIZE_MAX;
		l->cur = b;
	}
	lb = 0;
	hb = l->blk.n;
	while (lb < hb) {
		uint32_t mid = lb + (hb - lb) / 2;
		size_t klen;
		const char *k = scf_blk_key(&l->blk, mid, &klen);
		int c = scf_key_cmp(k, klen, key, len);
		if (c == 0) {
			scf_rec_get(l->blk.buf + l->blk.offs[mid], r);
			return true;
		}
		if (c < 0)
			lb = mid + 1;
		else
			hb = mid;
	}
	return false;
}
