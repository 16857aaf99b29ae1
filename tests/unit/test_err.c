/* util/err: kinds decide, messages are for people. A failure that is no
 * system call's never carries strerror text; a system error always does;
 * context added on the way up keeps the kind. */
#include "util/err.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_plain_message(void)
{
	cn_err err;
	cn_err_clear(&err);
	UNIT_CHECK(cn_err_fail(&err, CN_ERR_INVALID, "invalid port '%s'", "80x/tcp") == -1, "returns -1");
	UNIT_STREQ(err.msg, "invalid port '80x/tcp'", "a plain message has no strerror text");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_INVALID), "its kind is kept");
	UNIT_CHECK(err.errnum == EINVAL, "with the kind's errno for errno-style callers (%d)", err.errnum);
	cn_err_fail(&err, CN_ERR_NOT_FOUND, "image '%s' not found", "x:1");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_NOT_FOUND) && err.errnum == ENOENT, "not found: ENOENT");
	UNIT_CHECK(!cn_err_is(&err, CN_ERR_SYSTEM), "and is no system error");
}

static void test_system_error(void)
{
	cn_err err;
	errno = ENOENT;
	cn_err_sys(&err, "open '%s'", "/nope");
	UNIT_STREQ(err.msg, "open '/nope': No such file or directory", "a system error ends with strerror");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_SYSTEM) && err.errnum == ENOENT, "kind SYSTEM, errno kept");
	UNIT_CHECK(errno == ENOENT, "cn_err_sys leaves errno as it found it");
	cn_err_errno(&err, EACCES, "write %s", "f");
	UNIT_STREQ(err.msg, "write f: Permission denied", "cn_err_errno: the given errno's text");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_SYSTEM) && err.errnum == EACCES, "kind SYSTEM, that errno");
}

static void test_context(void)
{
	cn_err err, cause;
	cn_err_fail(&err, CN_ERR_CORRUPT, "blob %s: content hashes to %s", "sha256:a", "sha256:b");
	cn_err_wrap(&err, "pull %s", "x:1");
	UNIT_STREQ(err.msg, "pull x:1: blob sha256:a: content hashes to sha256:b", "wrap prepends context");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_CORRUPT), "and keeps the kind");

	errno = EIO;
	cn_err_sys(&cause, "read");
	cn_err_cause(&err, &cause, "layer");
	UNIT_STREQ(err.msg, "layer: read: Input/output error", "cause: context, then the cause's message");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_SYSTEM) && err.errnum == EIO, "with the cause's kind and errno");
	cn_err_fail(&cause, CN_ERR_INTERRUPTED, "interrupted");
	cn_err_cause(&err, &cause, "%s", "");
	UNIT_STREQ(err.msg, "interrupted", "an empty context adds nothing");
	UNIT_CHECK(cn_err_is(&err, CN_ERR_INTERRUPTED), "...and the kind follows");
}

static void test_long_messages(void)
{
	cn_err err;
	char path[3000];
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	errno = ENAMETOOLONG;
	cn_err_sys(&err, "open '%s'", path);
	UNIT_CHECK(strlen(err.msg) == CN_ERR_MSG_MAX - 1, "a long message fits the buffer (%zu)", strlen(err.msg));
	UNIT_CHECK(strstr(err.msg, "...") != NULL, "losing its middle");
	UNIT_CHECK(strstr(err.msg, "File name too long") != NULL, "but keeping the cause at its end");
}

static void test_clear(void)
{
	cn_err err;
	cn_err_fail(&err, CN_ERR_BUSY, "locked");
	cn_err_clear(&err);
	UNIT_CHECK(err.kind == CN_ERR_NONE && err.errnum == 0 && err.msg[0] == '\0', "clear resets all three");
	UNIT_CHECK(!cn_err_is(NULL, CN_ERR_NONE), "cn_err_is(NULL) is false");
	UNIT_CHECK(cn_err_fail(NULL, CN_ERR_INVALID, "x") == -1, "a NULL error is allowed and still -1");
}

int main(void)
{
	test_plain_message();
	test_system_error();
	test_context();
	test_long_messages();
	test_clear();
	return UNIT_DONE();
}
