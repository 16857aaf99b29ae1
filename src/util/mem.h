/* Allocation that aborts on out-of-memory: like git's xmalloc, because a
 * builder that cannot allocate a few bytes cannot recover meaningfully. */
#ifndef CN_MEM_H
#define CN_MEM_H

#include <stddef.h>

void *cn_xmalloc(size_t n);
void *cn_xcalloc(size_t nmemb, size_t size);
void *cn_xrealloc(void *p, size_t n);
/* Grow *p (array of elem-sized items, capacity *cap) to hold at least need. */
void cn_xgrow(void **p, size_t *cap, size_t need, size_t elem);
char *cn_xstrdup(const char *s);
char *cn_xstrndup(const char *s, size_t n);
char *cn_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The process cannot go on (out of memory, a library missing a part it
 * must have): "fatal: WHAT" on stderr, then abort. Like the allocators,
 * for conditions no caller could recover from. */
void cn_fatal(const char *what) __attribute__((noreturn));

#endif
