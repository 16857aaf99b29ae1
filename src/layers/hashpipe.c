#include "layers/hashpipe.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void *hp_main(void *arg)
{
	struct hashpipe *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct hp_item it;
		int failed;
		while (p->qlen == 0 && !p->closing)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->qlen == 0)
			break;
		it = p->q[p->qhead];
		failed = p->write_errno;
		pthread_mutex_unlock(&p->mu);
		/* The work itself runs unlocked: the producer fills other buffers. */
		if (!failed && (it.flags & HP_RAW))
			cn_sha256_update(&p->diff_id, it.buf, it.len);
		if (!failed && (it.flags & HP_OUT) && it.len) {
			cn_sha256_update(&p->digest, it.buf, it.len);
			p->size += it.len;
			if (cn_write_all(p->out_fd, it.buf, it.len) < 0)
				failed = errno ? errno : EIO;
		}
		pthread_mutex_lock(&p->mu);
		if (failed && !p->write_errno)
			p->write_errno = failed;
		p->qhead = (p->qhead + 1) % HP_NBUF;
		p->qlen--;
		p->free_[p->nfree++] = it.buf;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int hp_start(struct hashpipe *p, int out_fd, cn_err *err)
{
	sigset_t all, old;
	int r;
	memset(p, 0, sizeof(*p));
	p->out_fd = out_fd;
	cn_sha256_init(&p->diff_id);
	cn_sha256_init(&p->digest);
	for (size_t i = 0; i < HP_NBUF; i++)
		p->bufs[i] = p->free_[p->nfree++] = cn_xmalloc(HP_BUF);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	/* Signals stay with the thread that handles them (util/interrupt);
	 * SIGPIPE, which the kernel sends to the writing thread, ends the
	 * process as before the writes moved here (`cairn export - | head`). */
	sigfillset(&all);
	sigdelset(&all, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&p->tid, NULL, hp_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return cn_err_errno(err, r, "layer: start the hashing thread");
	p->running = true;
	return 0;
}

unsigned char *hp_get(struct hashpipe *p)
{
	unsigned char *b;
	pthread_mutex_lock(&p->mu);
	while (p->nfree == 0)
		pthread_cond_wait(&p->cv, &p->mu);
	b = p->free_[--p->nfree];
	pthread_mutex_unlock(&p->mu);
	return b;
}

int hp_put(struct hashpipe *p, unsigned char *buf, size_t len, unsigned flags)
{
	int failed;
	pthread_mutex_lock(&p->mu);
	failed = p->write_errno;
	if (flags && len && !failed) {
		/* Never full: there are as many slots as buffers. */
		p->q[(p->qhead + p->qlen) % HP_NBUF] = (struct hp_item){ buf, len, flags };
		p->qlen++;
	} else {
		p->free_[p->nfree++] = buf;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return failed;
}

static void hp_stop(struct hashpipe *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->mu);
	p->closing = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->tid, NULL);
	p->running = false;
}

int hp_finish(struct hashpipe *p, char diff_id[CN_DIGEST_STR_SIZE], char digest[CN_DIGEST_STR_SIZE],
	      uint64_t *size, cn_err *err)
{
	hp_stop(p);
	if (p->write_errno)
		return cn_err_errno(err, p->write_errno, "layer: write");
	cn_sha256_final(&p->diff_id, diff_id);
	cn_sha256_final(&p->digest, digest);
	*size = p->size;
	return 0;
}

void hp_free(struct hashpipe *p)
{
	bool inited = p->bufs[0] != NULL;
	if (p->running) {
		/* Failing: drop what is queued rather than write it. */
		pthread_mutex_lock(&p->mu);
		if (!p->write_errno)
			p->write_errno = ECANCELED;
		pthread_mutex_unlock(&p->mu);
		hp_stop(p);
	}
	cn_sha256_free(&p->diff_id);
	cn_sha256_free(&p->digest);
	for (size_t i = 0; i < HP_NBUF; i++) {
		free(p->bufs[i]);
		p->bufs[i] = NULL;
	}
	if (inited) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
	}
}
