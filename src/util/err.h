/* Errors as values: a kind for decisions, a message for people, and the
 * errno of a failed system call. Filled by the failing function, given
 * context on the way up (cn_err_wrap), and printed once by the CLI.
 *
 * Two kinds of failure are kept apart by name:
 *   cn_err_sys / cn_err_errno  a system or library call failed: the message
 *                              ends with strerror(errno)
 *   cn_err_fail                anything else (bad input, a missing image, a
 *                              registry's answer): the message stands alone
 * Code that decides on an error tests its kind, never its text. */
#ifndef CN_ERR_H
#define CN_ERR_H

#include <stdbool.h>
#include <stddef.h>

#define CN_ERR_MSG_MAX 1024

enum cn_err_kind {
	CN_ERR_NONE = 0,
	CN_ERR_SYSTEM,       /* a system or library call failed; errnum says why */
	CN_ERR_INVALID,      /* input refused: a file, flag, layer or value is wrong */
	CN_ERR_NOT_FOUND,    /* a named image, tag, container, file or stage is absent */
	CN_ERR_TOO_BIG,      /* input over one of cairn's limits */
	CN_ERR_UNSUPPORTED,  /* well-formed, but cairn does not do it */
	CN_ERR_DENIED,       /* a registry, a credential or a policy said no */
	CN_ERR_PROTOCOL,     /* a peer (registry, server) broke its protocol */
	CN_ERR_INTERRUPTED,  /* stopped by Ctrl-C or a signal */
	CN_ERR_BUSY,         /* in use, or a wait ran out */
	CN_ERR_EXEC,         /* a container's command could not be started; errnum says why */
	CN_ERR_CONFLICT,     /* something else is in the way: a name taken, a file where a
	                        directory must be */
	CN_ERR_FAILED,       /* the work itself failed: a RUN step or a process exited non-zero */
	CN_ERR_CORRUPT,      /* content does not match its digest or declared size */
	CN_ERR_NETWORK,      /* a connection, DNS or TLS failure talking to a server */
};

typedef struct cn_err {
	enum cn_err_kind kind;
	int errnum;                 /* errno of the root cause; for cn_err_fail, the
	                               kind's nearest errno (for errno-style callbacks) */
	char msg[CN_ERR_MSG_MAX];   /* one line, no trailing newline */
} cn_err;

/* A failed system call: errno at the time of the call, appended as
 * ": strerror(errno)". Returns -1 so callers can `return cn_err_sys(...)`. */
int cn_err_sys(cn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same with an errno the caller saved or a library returned. */
int cn_err_errno(cn_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A failure that is no system call's: the message stands alone. With
 * CN_ERR_SYSTEM it is a library's failure that came with its own text and
 * no errno. Returns -1. */
int cn_err_fail(cn_err *err, enum cn_err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend context: "CONTEXT: previous message". Kind and errnum stay.
 * Returns -1. */
int cn_err_wrap(cn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ERR takes CAUSE's kind and errno, with context: "CONTEXT: cause's
 * message". CAUSE may be ERR's own sibling (a stream's error handed to its
 * reader). Returns -1. */
int cn_err_cause(cn_err *err, const cn_err *cause, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline bool cn_err_is(const cn_err *err, enum cn_err_kind kind)
{
	return err && err->kind == kind;
}

void cn_err_clear(cn_err *err);

#endif
