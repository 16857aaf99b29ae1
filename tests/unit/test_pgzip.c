/* layers/pgzip.c: the parallel gzip writer. The bytes do not depend on the
 * number of workers or on how the input is cut into writes, at every size
 * around the block boundaries (empty, one byte, one block, one block and a
 * byte...); zlib inflates them back to the input; the header is fixed; the
 * previous block's tail primes the next; a failing output stops it cleanly. */
#include "layers/pgzip.h"
#include "util/mem.h"
#include "unit.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Threads this process may still start (-1: no limit), as under a
 * container's pids.max: this definition takes the place of libpthread's
 * for pgzip.c, linked into this binary. */
static int threads_left = -1;

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	if (threads_left == 0)
		return EAGAIN;
	if (threads_left > 0)
		threads_left--;
	if (!real) {
		void *sym = dlsym(RTLD_NEXT, "pthread_create");
		memcpy(&real, &sym, sizeof(real));
	}
	return real(t, attr, fn, arg);
}

struct out {
	unsigned char *p;
	size_t len, cap;
	size_t fail_after;      /* emit fails once this much is out (0: never) */
};

static int emit(void *ctx, const unsigned char *p, size_t len, cn_err *err)
{
	struct out *o = ctx;
	if (o->fail_after && o->len + len > o->fail_after)
		return cn_err_fail(err, CN_ERR_SYSTEM, "no space left (test)");
	if (o->len + len > o->cap) {
		o->cap = (o->len + len) * 2;
		o->p = cn_xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->len, p, len);
	o->len += len;
	return 0;
}

/* IN compressed at LEVEL by WORKERS workers, fed CHUNK bytes at a time. */
static int pgz_run(const unsigned char *in, size_t len, int level, int workers, size_t chunk, struct out *o)
{
	struct pgz *z = NULL;
	cn_err err;
	int r = pgz_open(&z, level, workers, emit, o, &err);
	for (size_t off = 0; r == 0 && off < len; off += chunk)
		r = pgz_write(z, in + off, len - off < chunk ? len - off : chunk, &err);
	if (r == 0)
		r = pgz_finish(z, &err);
	pgz_free(z);
	return r;
}

/* zlib's gzip reader gives back exactly IN, and the stream ends there. */
static bool inflates_to(const struct out *o, const unsigned char *in, size_t len)
{
	z_stream zs;
	unsigned char *back = cn_xmalloc(len + 1);
	bool ok;
	int r;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(back);
		return false;
	}
	zs.next_in = o->p;
	zs.avail_in = (uInt)o->len;
	zs.next_out = back;
	zs.avail_out = (uInt)(len + 1);
	r = inflate(&zs, Z_FINISH);
	ok = r == Z_STREAM_END && zs.total_out == len && zs.avail_in == 0 && memcmp(back, in, len) == 0;
	inflateEnd(&zs);
	free(back);
	return ok;
}

/* Text with repeats, some noise: compressible, not trivially. */
static void fill(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (i / 3000) % 3 == 2 ? (unsigned char)(x >> 16)
					    : (unsigned char)"lorem ipsum dolor sit amet "[(i + (x >> 29)) % 27];
	}
}

static void test_sizes(const unsigned char *in)
{
	static const size_t sizes[] = { 0, 1, PGZ_BLOCK - 1, PGZ_BLOCK, PGZ_BLOCK + 1, 2 * PGZ_BLOCK,
					5 * PGZ_BLOCK + 7 };
	static const int workers[] = { 1, 2, 8 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct out ref = { 0 };
		size_t n = sizes[i];
		UNIT_CHECK(pgz_run(in, n, 0, 1, n ? n : 1, &ref) == 0, "%zu bytes, 1 worker, one write", n);
		UNIT_CHECK(inflates_to(&ref, in, n), "%zu bytes: zlib reads back the input", n);
		UNIT_CHECK(ref.len >= 18 && ref.p[0] == 0x1f && ref.p[1] == 0x8b && ref.p[2] == 8 && ref.p[3] == 0 &&
			   !ref.p[4] && !ref.p[5] && !ref.p[6] && !ref.p[7] && ref.p[8] == 0 && ref.p[9] == 3,
			   "%zu bytes: a fixed gzip header (no flags, mtime 0, OS 3)", n);
		for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
			struct out got = { 0 };
			UNIT_CHECK(pgz_run(in, n, 0, workers[w], 4093, &got) == 0 && got.len == ref.len &&
				   memcmp(got.p, ref.p, ref.len) == 0,
				   "%zu bytes, %d workers, 4093-byte writes: the same bytes", n, workers[w]);
			free(got.p);
		}
		free(ref.p);
	}
}

static void test_levels(const unsigned char *in, size_t len)
{
	struct out l1 = { 0 }, l6 = { 0 }, l9 = { 0 }, d = { 0 };
	UNIT_CHECK(pgz_run(in, len, 1, 2, len, &l1) == 0 && pgz_run(in, len, 9, 2, len, &l9) == 0 &&
		   pgz_run(in, len, 6, 2, len, &l6) == 0 && pgz_run(in, len, 0, 2, len, &d) == 0,
		   "levels 1, 6, 9 and the default");
	UNIT_CHECK(inflates_to(&l1, in, len) && inflates_to(&l9, in, len), "levels 1 and 9 read back");
	UNIT_CHECK(l9.len < l1.len, "level 9 is smaller than 1 (%zu < %zu)", l9.len, l1.len);
	UNIT_CHECK(l1.p[8] == 4 && l9.p[8] == 2 && l6.p[8] == 0, "XFL says fastest / best as RFC 1952");
	UNIT_CHECK(d.len == l6.len && memcmp(d.p, l6.p, d.len) == 0, "the default level is 6");
	free(l1.p);
	free(l6.p);
	free(l9.p);
	free(d.p);
}

/* 16 KiB of noise over and over: each block but the first finds it in the
 * previous block's tail, so the blocks compress as one stream would. */
static void test_dictionary(void)
{
	size_t len = 4 * PGZ_BLOCK;
	unsigned char *in = cn_xmalloc(len);
	struct out o = { 0 };
	uint32_t x = 99;
	for (size_t i = 0; i < 16384; i++) {
		x = x * 1103515245u + 12345u;
		in[i] = (unsigned char)(x >> 16);
	}
	for (size_t i = 16384; i < len; i++)
		in[i] = in[i - 16384];
	UNIT_CHECK(pgz_run(in, len, 0, 2, len, &o) == 0 && inflates_to(&o, in, len), "repeated noise");
	UNIT_CHECK(o.len < 16384 + 4096, "blocks 2-4 match into the one before (%zu bytes for 16 KiB of noise)",
		   o.len);
	free(o.p);
	free(in);
}

static void test_emit_failure(const unsigned char *in, size_t len)
{
	static const int workers[] = { 1, 4 };
	for (size_t w = 0; w < 2; w++) {
		struct out o = { .fail_after = 100000 };
		UNIT_CHECK(pgz_run(in, len, 0, workers[w], 65536, &o) < 0,
			   "%d workers: a failing output fails the write, workers stopped", workers[w]);
		free(o.p);
	}
}

/* Workers that cannot be started: fewer threads (none: the caller's
 * thread), the same bytes, no failure. */
static void test_no_threads(const unsigned char *in, size_t len)
{
	struct out ref = { 0 };
	UNIT_CHECK(pgz_run(in, len, 0, 1, len, &ref) == 0, "reference with 1 worker");
	for (int left = 0; left <= 2; left++) {
		struct out got = { 0 };
		threads_left = left;
		UNIT_CHECK(pgz_run(in, len, 0, 4, 4093, &got) == 0 && got.len == ref.len &&
			   memcmp(got.p, ref.p, ref.len) == 0,
			   "4 workers asked, %d threads startable: the same bytes", left);
		threads_left = -1;
		free(got.p);
	}
	free(ref.p);
}

int main(void)
{
	size_t len = 5 * PGZ_BLOCK + 7;
	unsigned char *in = cn_xmalloc(len);
	fill(in, len, 1);
	test_sizes(in);
	test_levels(in, len);
	test_dictionary();
	test_emit_failure(in, len);
	test_no_threads(in, len);
	free(in);
	return UNIT_DONE();
}
