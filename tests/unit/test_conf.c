/* The configuration file (util/conf.c): syntax, errors naming FILE:LINE,
 * later files overriding earlier ones, CAIRN_CONFIG. */
#include "util/cleanup.h"
#include "util/conf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cn_err err;

/* TEXT parsed as file "f": the value of "compression", "" when unset,
 * NULL on error. */
static char *value_of(const char *text)
{
	struct cn_conf c = { 0 };
	const char *v;
	char *out = NULL;
	cn_err_clear(&err);
	if (cn_conf_parse(&c, "f", text, strlen(text), &err) == 0) {
		v = cn_conf_get(&c, "compression", NULL);
		out = cn_xstrdup(v ? v : "");
	}
	cn_conf_free(&c);
	return out;
}

static void check_value(const char *text, const char *want)
{
	_cleanup_free_ char *got = value_of(text);
	UNIT_STREQ(got ? got : "(error)", want, "parse %s", text);
}

static void check_error(const char *text, const char *want)
{
	_cleanup_free_ char *got = value_of(text);
	UNIT_CHECK(!got && strstr(err.msg, want), "%s: error with '%s' (got '%s')", text, want,
		   got ? got : err.msg);
}

static void test_syntax(void)
{
	check_value("", "");
	check_value("# only a comment\n\n", "");
	check_value("compression = \"zstd\"\n", "zstd");
	check_value("compression='gzip'", "gzip");
	check_value("  compression=zstd   # trailing comment\r\n", "zstd");
	check_value("compression = \"a\\\"b\\\\c\"", "a\"b\\c");
	check_error("compression = zstd\ncompresion = gzip\n", "f:2: unknown key 'compresion'");
	check_error("\n\ncompression = zstd\ncompression = gzip\n", "f:4: 'compression' is set twice");
	check_error("[engine]\n", "f:1: tables");
	check_error("compression\n", "f:1: expected '='");
	check_error("compression =\n", "f:1: 'compression' has no value");
	check_error("compression = \"zstd\n", "f:1: the string has no closing");
	check_error("compression = zstd gzip\n", "f:1: unexpected text");
	check_error("compression = \"\\q\"\n", "f:1: unknown escape");
	check_error("= x\n", "f:1: expected key = value");
}

static void test_files(void)
{
	char dir[] = "/tmp/cairn-unit-conf.XXXXXX";
	struct cn_conf c;
	const char *where = NULL;
	_cleanup_free_ char *path = NULL, *xdg = NULL;
	UNIT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	path = cn_xasprintf("%s/one.conf", dir);
	UNIT_CHECK(cn_write_file_atomic(AT_FDCWD, path, "\ncompression = gzip\n", 20, 0644, &err) == 0,
		   "write: %s", err.msg);
	setenv("CAIRN_CONFIG", path, 1);
	UNIT_CHECK(cn_conf_load(&c, &err) == 0 && cn_conf_get(&c, "compression", &where) &&
		   !strcmp(cn_conf_get(&c, "compression", NULL), "gzip") && where && strstr(where, "one.conf:2"),
		   "CAIRN_CONFIG is read: %s", err.msg);
	cn_conf_free(&c);
	setenv("CAIRN_CONFIG", "", 1);
	UNIT_CHECK(cn_conf_load(&c, &err) == 0 && c.n == 0, "CAIRN_CONFIG empty: no file");
	cn_conf_free(&c);
	free(path);
	path = cn_xasprintf("%s/missing.conf", dir);
	setenv("CAIRN_CONFIG", path, 1);
	UNIT_CHECK(cn_conf_load(&c, &err) < 0 && strstr(err.msg, "missing.conf"), "a missing CAIRN_CONFIG: %s",
		   err.msg);
	cn_conf_free(&c);
	/* The user's file through XDG_CONFIG_HOME. */
	unsetenv("CAIRN_CONFIG");
	xdg = cn_xasprintf("%s/cairn", dir);
	UNIT_CHECK(mkdir(xdg, 0755) == 0, "mkdir");
	free(path);
	path = cn_xasprintf("%s/cairn/cairn.conf", dir);
	UNIT_CHECK(cn_write_file_atomic(AT_FDCWD, path, "compression = 'zstd'\n", 21, 0644, &err) == 0, "write");
	setenv("XDG_CONFIG_HOME", dir, 1);
	if (access("/etc/cairn/cairn.conf", F_OK) == 0) {
		UNIT_SKIP("/etc/cairn/cairn.conf exists here", "user file");
	} else {
		UNIT_CHECK(cn_conf_load(&c, &err) == 0 && cn_conf_get(&c, "compression", NULL) &&
			   !strcmp(cn_conf_get(&c, "compression", NULL), "zstd"), "XDG file read: %s", err.msg);
		cn_conf_free(&c);
	}
	cn_rm_rf_at(AT_FDCWD, dir, NULL);
}

int main(void)
{
	test_syntax();
	test_files();
	return UNIT_DONE();
}
