#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Long messages (deep paths) keep their head and their tail, where the
 * cause (strerror) is, and lose the middle. */
static void fit(cn_err *err, const char *text)
{
	size_t len = strlen(text), max = sizeof(err->msg) - 1;
	if (len <= max) {
		memcpy(err->msg, text, len + 1);
		return;
	}
	size_t head = max / 2 - 2, tail = max - head - 3;
	memcpy(err->msg, text, head);
	memcpy(err->msg + head, "...", 3);
	memcpy(err->msg + head + 3, text + len - tail, tail);
	err->msg[max] = '\0';
}

static void err_vset(cn_err *err, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void err_vset(cn_err *err, int errnum, const char *fmt, va_list ap)
{
	char text[4 * CN_ERR_MSG_MAX];
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	if (errnum != 0)
		snprintf(text + n, sizeof(text) - (size_t)n, ": %s", strerror(errnum));
	fit(err, text);
	err->errnum = errnum;
}

/* The errno nearest to each kind, for callers that must hand an error on
 * through an errno-style interface (libarchive callbacks, exit codes). */
static int kind_errno(enum cn_err_kind kind)
{
	switch (kind) {
	case CN_ERR_NOT_FOUND: return ENOENT;
	case CN_ERR_TOO_BIG: return EFBIG;
	case CN_ERR_UNSUPPORTED: return ENOTSUP;
	case CN_ERR_DENIED: return EACCES;
	case CN_ERR_PROTOCOL: return EPROTO;
	case CN_ERR_INTERRUPTED: return EINTR;
	case CN_ERR_BUSY: return EBUSY;
	case CN_ERR_CONFLICT: return EEXIST;
	case CN_ERR_FAILED: return ECHILD;
	case CN_ERR_CORRUPT: return EIO;
	case CN_ERR_NETWORK: return EHOSTUNREACH;
	case CN_ERR_NONE:
	case CN_ERR_SYSTEM: return EIO;
	case CN_ERR_INVALID:
	case CN_ERR_EXEC:
		break;
	}
	return EINVAL;
}

int cn_err_errno(cn_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	err_vset(err, errnum, fmt, ap);
	va_end(ap);
	err->kind = CN_ERR_SYSTEM;
	return -1;
}

int cn_err_fail(cn_err *err, enum cn_err_kind kind, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	err_vset(err, 0, fmt, ap);
	va_end(ap);
	err->kind = kind;
	err->errnum = kind_errno(kind);
	return -1;
}

int cn_err_sys(cn_err *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	err_vset(err, saved, fmt, ap);
	va_end(ap);
	err->kind = CN_ERR_SYSTEM;
	errno = saved;
	return -1;
}

/* ERR's message becomes "CONTEXT: TAIL" (just TAIL for an empty context).
 * TAIL may be ERR's own message: it is copied before ERR is written. */
static void prepend(cn_err *err, const char *tail, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void prepend(cn_err *err, const char *tail, const char *fmt, va_list ap)
{
	char text[3 * CN_ERR_MSG_MAX];
	int n = vsnprintf(text, CN_ERR_MSG_MAX, fmt, ap);
	if (n < 0)
		n = 0;
	if (n >= CN_ERR_MSG_MAX)
		n = CN_ERR_MSG_MAX - 1;
	snprintf(text + n, sizeof(text) - (size_t)n, "%s%s", n ? ": " : "", tail);
	fit(err, text);
}

int cn_err_cause(cn_err *err, const cn_err *cause, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	prepend(err, cause->msg, fmt, ap);
	va_end(ap);
	err->kind = cause->kind;
	err->errnum = cause->errnum;
	return -1;
}

int cn_err_wrap(cn_err *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	prepend(err, err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

void cn_err_clear(cn_err *err)
{
	if (!err)
		return;
	err->kind = CN_ERR_NONE;
	err->errnum = 0;
	err->msg[0] = '\0';
}
