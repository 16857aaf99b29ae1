#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_slot[1];

void cn_buf_init(cn_buf *b, size_t max)
{
	b->data = empty_slot;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void cn_buf_free(cn_buf *b)
{
	if (b->cap)
		free(b->data);
	cn_buf_init(b, b->max);
}

void cn_buf_reset(cn_buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

static int buf_reserve(cn_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need < b->len || (b->max && b->len + extra > b->max)) {
		errno = EFBIG;
		return -1;
	}
	if (need > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;
		char *old = b->cap ? b->data : NULL;
		while (ncap < need)
			ncap *= 2;
		b->data = cn_xrealloc(old, ncap);
		if (!old)
			b->data[0] = '\0';
		b->cap = ncap;
	}
	return 0;
}

int cn_buf_add(cn_buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int cn_buf_adds(cn_buf *b, const char *s)
{
	return cn_buf_add(b, s, strlen(s));
}

int cn_buf_addc(cn_buf *b, char c)
{
	return cn_buf_add(b, &c, 1);
}

int cn_buf_vaddf(cn_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int cn_buf_addf(cn_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = cn_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

char *cn_buf_detach(cn_buf *b)
{
	char *s = b->cap ? b->data : cn_xstrdup("");
	cn_buf_init(b, b->max);
	return s;
}
