/* Internal to layers/: the tail of the layer writer on its own thread. The
 * sink (sink.c) hands it filled buffers in order; it hashes the
 * uncompressed ones into the diff_id, and hashes, counts and writes the
 * compressed ones, so the compressing thread does neither the two sha256
 * streams nor the write syscalls. A fixed set of buffers bounds the memory
 * (HP_NBUF x HP_BUF) and makes the producer wait when the thread is behind. */
#ifndef LAYER_HASHPIPE_H
#define LAYER_HASHPIPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/digest.h"
#include "util/err.h"

#define HP_BUF ((size_t)256 * 1024)
#define HP_NBUF 8

/* What the thread does with a buffer (both for a plain tar). */
#define HP_RAW 1u       /* uncompressed tar bytes: diff_id */
#define HP_OUT 2u       /* blob bytes: digest, size, write */

struct hp_item {
	unsigned char *buf;
	size_t len;
	unsigned flags;
};

struct hashpipe {
	pthread_t tid;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* any change below */
	unsigned char *bufs[HP_NBUF];
	unsigned char *free_[HP_NBUF];  /* buffers nobody holds */
	size_t nfree;
	struct hp_item q[HP_NBUF];      /* submitted, in order */
	size_t qhead, qlen;
	bool closing;                   /* no more items: the thread ends when q is empty */
	int write_errno;                /* the first write failure; later output is dropped */
	int out_fd;
	cn_sha256 diff_id, digest;
	uint64_t size;
};

/* Start the thread writing to OUT_FD. */
int hp_start(struct hashpipe *p, int out_fd, cn_err *err);
/* A free buffer of HP_BUF bytes (waits for one). */
unsigned char *hp_get(struct hashpipe *p);
/* Hand BUF (from hp_get) back with LEN bytes to process as FLAGS (0: just
 * return it). Returns the errno of a failed write, else 0. */
int hp_put(struct hashpipe *p, unsigned char *buf, size_t len, unsigned flags);
/* Wait for everything submitted, stop the thread, give the results. */
int hp_finish(struct hashpipe *p, char diff_id[CN_DIGEST_STR_SIZE], char digest[CN_DIGEST_STR_SIZE],
	      uint64_t *size, cn_err *err);
/* Stop the thread if it runs (output dropped) and free everything. Safe on
 * a zeroed struct and after hp_finish. */
void hp_free(struct hashpipe *p);

#endif
