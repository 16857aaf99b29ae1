#include "registry/internal.h"

#include <pthread.h>
#include <string.h>

#define POOL_MAX_THREADS 16

struct pool {
	struct reg_client *c;
	size_t n, next;
	reg_task_fn fn;
	void *ctx;
	pthread_mutex_t mu;
	bool failed;
	cn_err err;
};

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	struct reg_conn k;
	cn_err err;
	if (reg_conn_open(&k, p->c, &err) < 0)
		goto fail;
	for (;;) {
		size_t i;
		pthread_mutex_lock(&p->mu);
		if (p->failed || p->next >= p->n) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		i = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (p->fn(&k, i, p->ctx, &err) < 0) {
			reg_conn_close(&k);
			goto fail;
		}
	}
	reg_conn_close(&k);
	return NULL;
fail:
	pthread_mutex_lock(&p->mu);
	if (!p->failed) {
		p->failed = true;
		p->err = err;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int reg_pool_run(struct reg_client *c, size_t n, unsigned jobs, reg_task_fn fn, void *ctx, cn_err *err)
{
	struct pool p = { .c = c, .n = n, .fn = fn, .ctx = ctx };
	pthread_t tids[POOL_MAX_THREADS];
	unsigned want = jobs ? jobs : 3, started = 0;
	if (want > POOL_MAX_THREADS)
		want = POOL_MAX_THREADS;
	if (want > n)
		want = (unsigned)n;
	pthread_mutex_init(&p.mu, NULL);
	for (unsigned i = 0; i < want; i++)
		if (pthread_create(&tids[started], NULL, pool_worker, &p) == 0)
			started++;
	if (started == 0 && n)
		pool_worker(&p);        /* no threads to be had: do it here */
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&p.mu);
	if (p.failed) {
		*err = p.err;
		return -1;
	}
	return 0;
}
