/* Errors as values: a message and an errno, filled by the failing function,
 * given context on the way up, and printed once by the CLI. */
#ifndef CN_ERR_H
#define CN_ERR_H

#include <stddef.h>

#define CN_ERR_MSG_MAX 1024

typedef struct cn_err {
	int errnum;                 /* errno of the root cause, 0 if none */
	char msg[CN_ERR_MSG_MAX];   /* one line, no trailing newline */
} cn_err;

/* Set the error; appends ": strerror(errnum)" when errnum != 0.
 * Always returns -1 so that callers can write `return cn_err_set(...)`. */
int cn_err_set(cn_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same as cn_err_set with errnum = errno at the time of the call. */
int cn_err_sys(cn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A message that stands on its own: ERRNUM is kept for callers, but no
 * strerror text is appended. Returns -1. */
int cn_err_plain(cn_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend context: "CONTEXT: previous message". Returns -1. */
int cn_err_wrap(cn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void cn_err_clear(cn_err *err);

#endif
