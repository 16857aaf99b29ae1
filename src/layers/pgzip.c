#include "layers/pgzip.h"
#include "util/mem.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST
#include <zlib.h>

/* One block in flight. buf holds the dictionary (the previous block's last
 * PGZ_DICT bytes) and then the block, so a worker needs nothing else. */
struct pgz_slot {
	unsigned char *buf;     /* PGZ_DICT + PGZ_BLOCK */
	size_t len;             /* block bytes after the dictionary */
	bool has_dict;          /* every block but the first */
	int flush;              /* Z_SYNC_FLUSH, the last Z_FINISH */
	bool done;              /* compressed: out, crc, zerr valid (under mu) */
	unsigned char *out;
	size_t out_len, out_cap;
	unsigned long crc;      /* of the block alone */
	int zerr;               /* deflate's failure, 0 if none */
};

struct pgz_worker {
	struct pgz *z;
	pthread_t tid;
	z_stream zs;
};

struct pgz {
	int level, workers;
	pgz_emit_fn emit;
	void *ctx;
	struct pgz_slot *slots;
	size_t nslots;
	/* Blocks by sequence number: [emitted, next) submitted, next filling
	 * (slot next % nslots); [job, next) wait for a worker. */
	uint64_t next, emitted, job;
	unsigned long crc;
	uint64_t total;
	z_stream zs;            /* the caller's own, for inline blocks */
	bool zs_live;
	struct pgz_worker *w;
	size_t nthreads;
	size_t idle;            /* workers waiting for a job */
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* a job or stop, for the workers */
	pthread_cond_t done_cv; /* a block done, for the caller */
	bool stop;
};

static int deflate_init(z_stream *zs, int level)
{
	memset(zs, 0, sizeof(*zs));
	/* Raw deflate: the gzip wrapper is ours. Fixed memLevel and strategy. */
	return deflateInit2(zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}

/* Deflate slot B with ZS (any stream of this level: after deflateReset and
 * the dictionary the output depends on the block alone). */
static void compress_block(z_stream *zs, struct pgz_slot *b)
{
	int r = deflateReset(zs);
	if (r == Z_OK && b->has_dict)
		r = deflateSetDictionary(zs, b->buf, (uInt)PGZ_DICT);
	zs->next_in = b->buf + PGZ_DICT;
	zs->avail_in = (uInt)b->len;
	b->out_len = 0;
	while (r == Z_OK) {
		if (b->out_len == b->out_cap) {
			b->out_cap *= 2;
			b->out = cn_xrealloc(b->out, b->out_cap);
		}
		zs->next_out = b->out + b->out_len;
		zs->avail_out = (uInt)(b->out_cap - b->out_len);
		r = deflate(zs, b->flush);
		b->out_len = b->out_cap - zs->avail_out;
		if (b->flush == Z_FINISH ? r == Z_STREAM_END
					 : r == Z_OK && zs->avail_in == 0 && zs->avail_out != 0) {
			b->crc = crc32(0L, b->buf + PGZ_DICT, (uInt)b->len);
			b->zerr = 0;
			return;
		}
	}
	b->zerr = r == Z_OK ? Z_STREAM_ERROR : r;
}

static void *worker_main(void *arg)
{
	struct pgz_worker *w = arg;
	struct pgz *z = w->z;
	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct pgz_slot *b;
		z->idle++;
		while (z->job == z->next && !z->stop)
			pthread_cond_wait(&z->work_cv, &z->mu);
		z->idle--;
		if (z->stop)
			break;
		b = &z->slots[z->job++ % z->nslots];
		pthread_mutex_unlock(&z->mu);
		compress_block(&w->zs, b);
		pthread_mutex_lock(&z->mu);
		b->done = true;
		pthread_cond_signal(&z->done_cv);
	}
	pthread_mutex_unlock(&z->mu);
	return NULL;
}

/* One more worker (they start as blocks wait, up to z->workers). */
static int start_worker(struct pgz *z, cn_err *err)
{
	struct pgz_worker *w = &z->w[z->nthreads];
	sigset_t all, old;
	int r;
	w->z = z;
	r = deflate_init(&w->zs, z->level);
	if (r != Z_OK)
		return r == Z_MEM_ERROR ? cn_err_errno(err, ENOMEM, "layer: gzip")
			: cn_err_fail(err, CN_ERR_SYSTEM, "layer: gzip: deflateInit2 failed (%d)", r);
	/* Signals stay with the thread that handles them (util/interrupt). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&w->tid, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		deflateEnd(&w->zs);
		return cn_err_errno(err, r, "layer: gzip: start a worker");
	}
	z->nthreads++;
	return 0;
}

static int emit_block(struct pgz *z, struct pgz_slot *b, cn_err *err)
{
	if (b->zerr)
		return cn_err_fail(err, CN_ERR_SYSTEM, "layer: gzip: deflate failed (%d)", b->zerr);
	z->crc = crc32_combine(z->crc, b->crc, (z_off_t)b->len);
	z->total += b->len;
	z->emitted++;
	return z->emit(z->ctx, b->out, b->out_len, err);
}

/* Emit the compressed blocks in order as far as they are done, waiting
 * until at least the blocks before UNTIL are out. */
static int drain(struct pgz *z, uint64_t until, cn_err *err)
{
	while (z->emitted < z->next) {
		struct pgz_slot *b = &z->slots[z->emitted % z->nslots];
		bool done;
		pthread_mutex_lock(&z->mu);
		while (!b->done && z->emitted < until)
			pthread_cond_wait(&z->done_cv, &z->mu);
		done = b->done;
		pthread_mutex_unlock(&z->mu);
		if (!done)
			return 0;
		if (emit_block(z, b, err) < 0)
			return -1;
	}
	return 0;
}

/* Hand the filling block over (FLUSH: Z_SYNC_FLUSH, or Z_FINISH for the
 * last) and, unless it was the last, make the next slot ready to fill. */
static int submit(struct pgz *z, int flush, cn_err *err)
{
	struct pgz_slot *b = &z->slots[z->next % z->nslots], *nb;
	b->flush = flush;
	b->has_dict = z->next > 0;
	if (z->nthreads == 0 && (z->workers == 1 || flush == Z_FINISH)) {
		/* One worker, or a layer of one block: no thread. Once a thread
		 * runs, every block goes through the queue it takes from. */
		compress_block(&z->zs, b);
		b->done = true;
		z->next++;
	} else {
		bool more;
		pthread_mutex_lock(&z->mu);
		b->done = false;
		z->next++;
		/* Workers start as blocks wait for one: a small layer starts few. */
		more = z->next - z->job > z->idle;
		pthread_cond_signal(&z->work_cv);
		pthread_mutex_unlock(&z->mu);
		if (more && z->nthreads < (size_t)z->workers) {
			cn_err ignored;
			if (start_worker(z, &ignored) < 0) {
				/* No more threads (EAGAIN under a pids limit, say): go on
				 * with those running and stop trying; with none, the
				 * caller's thread compresses, as with one worker. */
				z->workers = z->nthreads ? (int)z->nthreads : 1;
				if (z->nthreads == 0) {
					compress_block(&z->zs, b);
					b->done = true;
				}
			}
		}
	}
	if (flush == Z_FINISH)
		return drain(z, z->next, err);
	if (drain(z, z->next >= z->nslots ? z->next - z->nslots + 1 : 0, err) < 0)
		return -1;
	nb = &z->slots[z->next % z->nslots];
	memcpy(nb->buf, b->buf + PGZ_BLOCK, PGZ_DICT);  /* b's last PGZ_DICT bytes */
	nb->len = 0;
	return 0;
}

int pgz_open(struct pgz **out, int level, int workers, pgz_emit_fn emit, void *ctx, cn_err *err)
{
	struct pgz *z = cn_xcalloc(1, sizeof(*z));
	/* RFC 1952 header: no name, mtime 0, XFL as zlib sets it for the
	 * level, OS 3 (Unix) wherever it runs. */
	unsigned char head[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	int r;
	*out = z;
	z->level = level ? level : 6;
	z->workers = workers < 1 ? 1 : workers > 64 ? 64 : workers;
	z->emit = emit;
	z->ctx = ctx;
	z->crc = crc32(0L, NULL, 0);
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->work_cv, NULL);
	pthread_cond_init(&z->done_cv, NULL);
	/* A few blocks per worker in flight keep them busy while the caller
	 * fills the next one and waits for the oldest (when a worker is
	 * preempted, the others go on with later blocks). */
	z->nslots = z->workers == 1 ? 2 : (size_t)z->workers * PGZ_SLOTS_PER_WORKER + 1;
	z->slots = cn_xcalloc(z->nslots, sizeof(*z->slots));
	for (size_t i = 0; i < z->nslots; i++) {
		z->slots[i].buf = cn_xmalloc(PGZ_DICT + PGZ_BLOCK);
		z->slots[i].out_cap = PGZ_BLOCK + PGZ_BLOCK / 64 + 256;    /* above deflateBound */
		z->slots[i].out = cn_xmalloc(z->slots[i].out_cap);
	}
	z->w = cn_xcalloc((size_t)z->workers, sizeof(*z->w));
	r = deflate_init(&z->zs, z->level);
	if (r != Z_OK)
		return r == Z_MEM_ERROR ? cn_err_errno(err, ENOMEM, "layer: gzip")
			: cn_err_fail(err, CN_ERR_SYSTEM, "layer: gzip: deflateInit2 failed (%d)", r);
	z->zs_live = true;
	head[8] = z->level == 9 ? 2 : z->level == 1 ? 4 : 0;
	return emit(ctx, head, sizeof(head), err);
}

int pgz_write(struct pgz *z, const void *data, size_t len, cn_err *err)
{
	const unsigned char *p = data;
	while (len > 0) {
		struct pgz_slot *b = &z->slots[z->next % z->nslots];
		size_t n;
		/* A full block is handed over only once more input comes, so the
		 * last block is always the one that finishes the stream. */
		if (b->len == PGZ_BLOCK) {
			if (submit(z, Z_SYNC_FLUSH, err) < 0)
				return -1;
			b = &z->slots[z->next % z->nslots];
		}
		n = PGZ_BLOCK - b->len;
		if (n > len)
			n = len;
		memcpy(b->buf + PGZ_DICT + b->len, p, n);
		b->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

int pgz_finish(struct pgz *z, cn_err *err)
{
	unsigned char tail[8];
	if (submit(z, Z_FINISH, err) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		tail[i] = (unsigned char)(z->crc >> (8 * i));
		tail[4 + i] = (unsigned char)(z->total >> (8 * i));     /* ISIZE: mod 2^32 */
	}
	return z->emit(z->ctx, tail, sizeof(tail), err);
}

void pgz_free(struct pgz *z)
{
	if (!z)
		return;
	pthread_mutex_lock(&z->mu);
	z->stop = true;
	pthread_cond_broadcast(&z->work_cv);
	pthread_mutex_unlock(&z->mu);
	for (size_t i = 0; i < z->nthreads; i++) {
		pthread_join(z->w[i].tid, NULL);
		deflateEnd(&z->w[i].zs);
	}
	if (z->zs_live)
		deflateEnd(&z->zs);
	for (size_t i = 0; i < z->nslots; i++) {
		free(z->slots[i].buf);
		free(z->slots[i].out);
	}
	free(z->slots);
	free(z->w);
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->work_cv);
	pthread_cond_destroy(&z->done_cv);
	free(z);
}
