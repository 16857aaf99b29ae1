#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cn_fatal(const char *what)
{
	ssize_t r = write(STDERR_FILENO, "fatal: ", 7);
	r = write(STDERR_FILENO, what, strlen(what));
	r = write(STDERR_FILENO, "\n", 1);
	(void)r;
	abort();
}

static void __attribute__((noreturn)) oom(void)
{
	cn_fatal("out of memory");
}

void *cn_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *cn_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *cn_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

void cn_xgrow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	if (need <= *cap)
		return;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > ((size_t)-1) / 2)
			oom();
		ncap *= 2;
	}
	if (elem && ncap > ((size_t)-1) / elem)
		oom();
	*p = cn_xrealloc(*p, ncap * elem);
	*cap = ncap;
}

char *cn_xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *cn_xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		oom();
	return d;
}

char *cn_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}
