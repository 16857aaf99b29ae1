/* Growable byte buffer. Invariants: after cn_buf_init, data is never NULL
 * and is always NUL-terminated at len; len never exceeds max (when max != 0),
 * so input from outside cannot make it grow without bound. */
#ifndef CN_BUF_H
#define CN_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct cn_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;     /* 0 = unbounded */
} cn_buf;

void cn_buf_init(cn_buf *b, size_t max);
void cn_buf_free(cn_buf *b);
void cn_buf_reset(cn_buf *b);
/* The append functions return 0, or -1 with errno = EFBIG past max. */
int cn_buf_add(cn_buf *b, const void *data, size_t len);
int cn_buf_adds(cn_buf *b, const char *s);
int cn_buf_addc(cn_buf *b, char c);
int cn_buf_addf(cn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cn_buf_vaddf(cn_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Give the heap string to the caller; the buffer is re-initialised empty. */
char *cn_buf_detach(cn_buf *b);

static inline void cn_buf_freep(cn_buf *b)
{
	cn_buf_free(b);
}
#define _cleanup_buf_ __attribute__((cleanup(cn_buf_freep)))

#endif
