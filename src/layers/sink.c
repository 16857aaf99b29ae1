#include "layers/sink.h"
#include "layers/codec.h"
#include "layers/pgzip.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <locale.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A full (or, at the end, the last) output buffer goes to the hashing
 * thread: digest, size, write. */
static int out_flush(struct layer_sink *s, cn_err *err)
{
	int e;
	if (s->out_len == 0)
		return 0;
	e = hp_put(&s->hp, s->out, s->out_len, HP_OUT);
	s->out = hp_get(&s->hp);
	s->out_len = 0;
	return e ? cn_err_errno(err, e, "layer: write") : 0;
}

/* NAME (1-64) if set, else the CPUs this process may run on (a
 * container's or taskset's), at most 4. */
static int workers_from(const char *name)
{
	const char *v = getenv(name);
	cpu_set_t cpus;
	long n;
	if (v && *v) {
		char *end;
		n = strtol(v, &end, 10);
		if (!*end && n >= 1 && n <= 64)
			return (int)n;
	}
	n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

int layer_zstd_workers(void)
{
	return workers_from("CAIRN_ZSTD_WORKERS");
}

int layer_gzip_workers(void)
{
	return workers_from("CAIRN_GZIP_WORKERS");
}

/* From level 17 zstd's jobs grow to its window (up to 128 MiB at 22) and
 * each worker holds a context of 80-650 MiB: fewer workers there keep
 * memory and the wait on Ctrl-C bounded. The blob does not change: the
 * output depends on the level and job size, not on the worker count. */
static int workers_for_level(int level)
{
	int n = layer_zstd_workers();
	int most = level >= 20 ? 1 : level >= 17 ? 2 : n;
	return n < most ? n : most;
}

static int zstd_open(struct layer_sink *s, int level, cn_err *err)
{
	size_t r;
	sigset_t all, old;
	ZSTD_inBuffer in = { NULL, 0, 0 };
	ZSTD_outBuffer out = { s->out, HP_BUF, 0 };
	s->zc = ZSTD_createCCtx();
	if (!s->zc)
		return cn_err_errno(err, ENOMEM, "layer: zstd");
	/* Fixed level and job size, no dictionary, always in the multithreaded
	 * format (even with one worker: zstd's single-threaded output differs):
	 * the output depends on the input bytes alone. The checksum lets
	 * readers detect corruption. */
	r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, level ? level : LAYER_ZSTD_LEVEL);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_nbWorkers,
					   workers_for_level(level ? level : LAYER_ZSTD_LEVEL));
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_jobSize, (int)LAYER_ZSTD_JOB_SIZE);
	if (ZSTD_isError(r))
		return cn_err_fail(err, CN_ERR_SYSTEM, "layer: zstd: %s", ZSTD_getErrorName(r));
	/* The first call starts the workers: signals stay with this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = ZSTD_compressStream2(s->zc, &out, &in, ZSTD_e_continue);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ZSTD_isError(r))
		return cn_err_fail(err, CN_ERR_SYSTEM, "layer: zstd: %s", ZSTD_getErrorName(r));
	s->out_len = out.pos;
	return 0;
}

/* Run the zstd stream over IN with the given directive. With ZSTD_e_end it
 * loops until the frame is complete (ZSTD_compressStream2 returns 0). */
static int zstd_run(struct layer_sink *s, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
		    cn_err *err)
{
	for (;;) {
		ZSTD_outBuffer out = { s->out, HP_BUF, s->out_len };
		size_t left = ZSTD_compressStream2(s->zc, &out, in, mode);
		if (ZSTD_isError(left))
			return cn_err_fail(err, CN_ERR_SYSTEM, "layer: zstd: %s", ZSTD_getErrorName(left));
		s->out_len = out.pos;
		if (s->out_len == HP_BUF && out_flush(s, err) < 0)
			return -1;
		if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

/* pgzip.c's output callback: into the output buffer, on to the hashing
 * thread when full. */
static int gzip_emit(void *ctx, const unsigned char *p, size_t len, cn_err *err)
{
	struct layer_sink *s = ctx;
	while (len > 0) {
		size_t n = HP_BUF - s->out_len;
		if (n > len)
			n = len;
		memcpy(s->out + s->out_len, p, n);
		s->out_len += n;
		p += n;
		len -= n;
		if (s->out_len == HP_BUF && out_flush(s, err) < 0)
			return -1;
	}
	return 0;
}

int layer_sink_open(struct layer_sink *s, enum layer_compression comp, int level, int out_fd,
		    cn_err *err)
{
	memset(s, 0, sizeof(*s));
	s->comp = comp;
	if (hp_start(&s->hp, out_fd, err) < 0)
		return -1;
	s->raw = hp_get(&s->hp);
	s->out = hp_get(&s->hp);
	if (layer_level_check(comp, level) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "layer: %s compression level %d is out of range",
			   layer_compression_name(comp), level);
	switch (comp) {
	case LAYER_ZSTD:
		return zstd_open(s, level, err);
	case LAYER_GZIP:
		/* A gzip member whose bytes depend on the input and level alone
		 * (fixed blocks, header and trailer written by pgzip.c). */
		return pgz_open(&s->gz, level, layer_gzip_workers(), gzip_emit, s, err);
	case LAYER_NONE:
		return 0;
	}
	return cn_err_fail(err, CN_ERR_INVALID, "layer: unknown compression %d", (int)comp);
}

int layer_level_check(enum layer_compression c, int level)
{
	int max = c == LAYER_ZSTD ? LAYER_ZSTD_LEVEL_MAX : c == LAYER_GZIP ? LAYER_GZIP_LEVEL_MAX : 0;
	return level >= 0 && level <= max ? 0 : -1;
}

/* The gathered uncompressed bytes: compressed, then handed to the hashing
 * thread (diff_id; for a plain tar also the blob). */
static int raw_flush(struct layer_sink *s, cn_err *err)
{
	int e;
	if (s->raw_len == 0)
		return 0;
	if (s->comp == LAYER_ZSTD) {
		ZSTD_inBuffer in = { s->raw, s->raw_len, 0 };
		if (zstd_run(s, &in, ZSTD_e_continue, err) < 0)
			return -1;
	} else if (s->comp == LAYER_GZIP) {
		if (pgz_write(s->gz, s->raw, s->raw_len, err) < 0)
			return -1;
	}
	e = hp_put(&s->hp, s->raw, s->raw_len, s->comp == LAYER_NONE ? HP_RAW | HP_OUT : HP_RAW);
	s->raw = hp_get(&s->hp);
	s->raw_len = 0;
	return e ? cn_err_errno(err, e, "layer: write") : 0;
}

int layer_sink_write(struct layer_sink *s, const void *data, size_t len, cn_err *err)
{
	const unsigned char *p = data;
	while (len > 0) {
		size_t n = HP_BUF - s->raw_len;
		if (n > len)
			n = len;
		memcpy(s->raw + s->raw_len, p, n);
		s->raw_len += n;
		p += n;
		len -= n;
		if (s->raw_len == HP_BUF && raw_flush(s, err) < 0)
			return -1;
	}
	return 0;
}

int layer_sink_finish(struct layer_sink *s, struct layer_info *info, cn_err *err)
{
	if (raw_flush(s, err) < 0)
		return -1;
	if (s->comp == LAYER_ZSTD) {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		if (zstd_run(s, &in, ZSTD_e_end, err) < 0)
			return -1;
	} else if (s->comp == LAYER_GZIP) {
		if (pgz_finish(s->gz, err) < 0)
			return -1;
	}
	if (out_flush(s, err) < 0)
		return -1;
	return hp_finish(&s->hp, info->diff_id, info->digest, &info->size, err);
}

void layer_sink_free(struct layer_sink *s)
{
	ZSTD_freeCCtx(s->zc);   /* accepts NULL; joins zstd's workers */
	s->zc = NULL;
	pgz_free(s->gz);        /* joins its workers */
	s->gz = NULL;
	hp_free(&s->hp);        /* frees raw and out: they are its buffers */
	s->raw = s->out = NULL;
}

locale_t layer_pin_utf8_locale(locale_t *pinned)
{
	*pinned = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return *pinned ? uselocale(*pinned) : (locale_t)0;
}

void layer_unpin_locale(locale_t old, locale_t pinned)
{
	if (!pinned)
		return;
	uselocale(old);
	freelocale(pinned);
}
