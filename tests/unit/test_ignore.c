/* Ignore files: the matcher against the dockerignore conformance table
 * ($CONFORMANCE/dockerignore: cases.tsv, one check per row, and ReadAll's
 * sample), the limits and errors, the walk API, which file a build uses,
 * and COPY (bf_copy, bf_copy_digest) leaving ignored entries alone. */
#include "builder/copy.h"
#include "builder/ignore.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cn_err err;

static struct bf_ignore *parse(const char *text)
{
	cn_err_clear(&err);
	return bf_ignore_parse(".dockerignore", text, strlen(text), &err);
}

/* Is PATH excluded by the ignore file TEXT? -1: TEXT does not parse. */
static int excluded(const char *text, const char *path)
{
	struct bf_ignore *ig = parse(text);
	int r;
	if (!ig)
		return -1;
	r = bf_ignore_match(ig, path);
	bf_ignore_free(ig);
	return r;
}

/* ---- the conformance table ---- */

static void split(char *s, char sep, cn_strv *out)
{
	for (;;) {
		char *e = strchr(s, sep);
		if (e)
			*e = '\0';
		cn_strv_pushdup(out, s);
		if (!e)
			return;
		s = e + 1;
	}
}

static int test_cases(const char *dir)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/cases.tsv", dir);
	_cleanup_buf_ cn_buf text;
	_cleanup_strv_ cn_strv lines = { 0 };
	size_t rows = 0, passed = 0;

	cn_buf_init(&text, 0);
	if (cn_read_file_at(AT_FDCWD, path, (size_t)1 << 20, &text, &err) < 0) {
		UNIT_CHECK(0, "dockerignore corpus: read cases.tsv: %s", err.msg);
		return -1;
	}
	split(text.data, '\n', &lines);
	for (size_t i = 0; i < lines.n; i++) {
		_cleanup_strv_ cn_strv f = { 0 };
		_cleanup_buf_ cn_buf file = { 0 }, shown = { 0 };
		struct bf_ignore *ig;
		bool ok;

		if (!*lines.v[i] || lines.v[i][0] == '#')
			continue;
		split(lines.v[i], '\t', &f);
		if (f.n < 4) {
			UNIT_CHECK(0, "dockerignore corpus line %zu: fewer than 4 fields", i + 1);
			continue;
		}
		cn_buf_init(&file, 0);
		cn_buf_init(&shown, 0);
		for (size_t k = 4; k < f.n; k++) {
			cn_buf_addf(&file, "%s\n", f.v[k]);
			cn_buf_addf(&shown, "%s'%s'", k > 4 ? ", " : "", f.v[k]);
		}
		cn_err_clear(&err);
		ig = bf_ignore_parse("cases.tsv", file.data, file.len, &err);
		if (strcmp(f.v[1], "error") == 0) {
			ok = ig == NULL;
		} else {
			bool want = strcmp(f.v[1], "1") == 0;
			ok = ig && bf_ignore_match(ig, f.v[3]) == want;
		}
		rows++;
		passed += ok;
		UNIT_CHECK(ok, "dockerignore case %s (%s): '%s' with [%s] -> %s%s%s", f.v[0], f.v[2],
			   f.v[3], shown.data, f.v[1], ig ? "" : "; parse error: ", ig ? "" : err.msg);
		bf_ignore_free(ig);
	}
	printf("# dockerignore corpus: %zu of %zu rows pass\n", passed, rows);
	UNIT_CHECK(rows == 175, "dockerignore corpus: all 175 rows read (%zu)", rows);
	return 0;
}

static void test_readall(const char *dir)
{
	_cleanup_free_ char *in = cn_xasprintf("%s/readall/dockerignore", dir);
	_cleanup_free_ char *want = cn_xasprintf("%s/readall/expected-patterns.txt", dir);
	_cleanup_buf_ cn_buf text, expect, got;
	_cleanup_strv_ cn_strv pats = { 0 };
	struct bf_ignore *ig;

	cn_buf_init(&text, 0);
	cn_buf_init(&expect, 0);
	cn_buf_init(&got, 0);
	if (cn_read_file_at(AT_FDCWD, in, 65536, &text, &err) < 0 ||
	    cn_read_file_at(AT_FDCWD, want, 65536, &expect, &err) < 0) {
		UNIT_CHECK(0, "readall sample: %s", err.msg);
		return;
	}
	UNIT_CHECK(bf_ignore_readall("dockerignore", text.data, text.len, &pats, &err) == 0,
		   "readall sample is read: %s", err.msg);
	for (size_t i = 0; i < pats.n; i++)
		cn_buf_addf(&got, "%s\n", pats.v[i]);
	UNIT_STREQ(got.data, expect.data, "readall sample: the patterns ReadAll returns");
	ig = bf_ignore_parse("dockerignore", text.data, text.len, &err);
	UNIT_CHECK(!ig && strstr(err.msg, "dockerignore:8:") && strstr(err.msg, "'!' alone"),
		   "readall sample: the matcher refuses its bare '!' naming line 8: %s", err.msg);
	bf_ignore_free(ig);
}

/* ---- beyond the table ---- */

static void test_syntax(void)
{
	cn_buf big;

	UNIT_CHECK(excluded("# c\n\n  *.log  \r\n!keep.log\n", "a.log") == 1, "CRLF and blanks: a.log");
	UNIT_CHECK(excluded("*.log\r\n!keep.log\r\n", "keep.log") == 0, "CRLF: the exception holds");
	UNIT_CHECK(excluded("\xef\xbb\xbf# comment after a BOM\n", "# comment after a BOM") == 0,
		   "a UTF-8 BOM is dropped before the comment test");
	UNIT_CHECK(excluded("\xc2\xa0 x \xe3\x80\x80\n", "x") == 1, "Unicode white space is trimmed");
	UNIT_CHECK(excluded("/\n", "a") == 0 && excluded(".\n", "a") == 0 && excluded("../a\n", "a") == 0,
		   "'/', '.' and '../a' exclude nothing");
	UNIT_CHECK(excluded("**\n", ".") == 0, "the context root is never excluded");
	UNIT_CHECK(excluded("**.txt\n", "a/b.txt") == 1 && excluded("**txt\n", "atxt") == 1,
		   "a leading ** with literal text is a suffix (docker's suffix match)");
	UNIT_CHECK(excluded("a**b\n", "ax/b") == 1 && excluded("a**b\n", "axb") == 0,
		   "a ** inside a component matches whole components (docker's regexp)");
	UNIT_CHECK(excluded("a[^x]b\n", "a/b") == 1, "a class may match '/' as in docker's regexp");
	UNIT_CHECK(excluded("a/**/b\n", "a/x\n/b") == 0 && excluded("a/*\n", "a/x\ny") == 1,
		   "** never spans a newline, * does (docker's regexp)");

	UNIT_CHECK(!parse("ok\n[z-a]\n") && strstr(err.msg, ".dockerignore:2: bad pattern '[z-a]'"),
		   "a reversed range names file and line: %s", err.msg);
	UNIT_CHECK(!parse("x\n\n  !  \n") && strstr(err.msg, ".dockerignore:3:"),
		   "a bare '!' names its line: %s", err.msg);
	UNIT_CHECK(!parse("a\\") && strstr(err.msg, "backslash"), "a final backslash: %s", err.msg);
	UNIT_CHECK(!parse("[\xff]") && strstr(err.msg, "UTF-8"), "invalid UTF-8 in a class: %s", err.msg);

	cn_buf_init(&big, 0);
	cn_buf_adds(&big, "ok\n");
	for (int i = 0; i < BF_IGNORE_MAX_LINE + 1; i++)
		cn_buf_addc(&big, 'x');
	UNIT_CHECK(!parse(big.data) && strstr(err.msg, ".dockerignore:2: line longer than"),
		   "a line past the limit names its line: %s", err.msg);
	cn_buf_reset(&big);
	for (int i = 0; i < BF_IGNORE_MAX_PATTERNS + 1; i++)
		cn_buf_addf(&big, "p%d\n", i);
	UNIT_CHECK(!parse(big.data) && strstr(err.msg, ":10001: more than 10000 patterns"),
		   "too many patterns: %s", err.msg);
	cn_buf_reset(&big);
	for (size_t i = 0; i <= BF_IGNORE_MAX_FILE / 8; i++)
		cn_buf_adds(&big, "#######\n");
	UNIT_CHECK(!parse(big.data) && strstr(err.msg, "larger than"), "a file past the limit: %s",
		   err.msg);
	cn_buf_free(&big);
	cn_err_clear(&err);
	UNIT_CHECK(!bf_ignore_parse("f", "a\0b\n", 4, &err) && strstr(err.msg, "f:1: NUL"),
		   "a NUL byte names its line: %s", err.msg);

	/* Long patterns and paths stay linear. */
	cn_buf_init(&big, 0);
	for (int i = 0; i < 1000; i++)
		cn_buf_adds(&big, "**/");
	cn_buf_adds(&big, "x\n");
	{
		struct bf_ignore *ig = parse(big.data);
		char path[4000];
		for (size_t i = 0; i + 2 < sizeof(path); i += 2)
			memcpy(path + i, "a/", 2);
		path[sizeof(path) - 2] = 'y';
		path[sizeof(path) - 1] = '\0';
		UNIT_CHECK(ig && !bf_ignore_match(ig, path), "1000 '**/' against a 2000-level path");
		bf_ignore_free(ig);
	}
	cn_buf_free(&big);
}

static void test_walk_api(void)
{
	static const char *const files[] = {
		"*\n!keep.txt\n",
		"node_modules\n",
		"**/tmp\n!**/tmp/keep\n",
		"secret/\n!secret/pub\nsecret/pub/private\n",
		"a\n!a/b/c\n",
		"docs\n!docs/README.md\ndocs\n",
	};
	static const char *const paths[] = {
		"keep.txt", "x", "x/keep.txt", "node_modules", "node_modules/p/index.js", "a/tmp",
		"a/tmp/keep", "a/tmp/keep/z", "secret", "secret/pub", "secret/pub/private",
		"secret/pub/private/x", "a/b", "a/b/c", "a/b/c/d", "docs/README.md",
	};
	bool same = true;
	for (size_t f = 0; f < CN_ARRAY_SIZE(files); f++) {
		struct bf_ignore *ig = parse(files[f]);
		size_t n = bf_ignore_count(ig);
		for (size_t p = 0; ig && p < CN_ARRAY_SIZE(paths); p++) {
			/* The state of each parent, then the path as a child. */
			_cleanup_free_ unsigned char *st = cn_xcalloc(n + 1, 1);
			_cleanup_free_ unsigned char *up = cn_xcalloc(n + 1, 1);
			_cleanup_free_ char *copy = cn_xstrdup(paths[p]);
			bool walked = false, full;
			for (char *s = copy; ; s++) {
				if (*s == '/' || !*s) {
					char c = *s;
					*s = '\0';
					walked = bf_ignore_child(ig, copy, s == copy ? NULL : up, st);
					memcpy(up, st, n);
					*s = c;
					if (!c)
						break;
				}
			}
			full = bf_ignore_match(ig, paths[p]);
			if (walked != full) {
				same = false;
				printf("# %s: '%s' walked %d, whole %d\n", files[f], paths[p], walked, full);
			}
		}
		bf_ignore_free(ig);
	}
	UNIT_CHECK(same, "deciding entry by entry down a walk = deciding the whole path");

	{
		struct bf_ignore *ig = parse("node_modules\n*.log\n!keep.log\nsecret\n!secret/pub\n");
		unsigned char st[8];
		UNIT_CHECK(bf_ignore_path(ig, "node_modules", st) &&
			   !bf_ignore_may_reinclude(ig, "node_modules", st),
			   "node_modules: excluded, and nothing below can come back");
		UNIT_CHECK(bf_ignore_path(ig, "secret", st) && bf_ignore_may_reinclude(ig, "secret", st),
			   "secret: excluded, but !secret/pub may re-include below it");
		bf_ignore_free(ig);
		ig = parse("*\n!src\n");
		UNIT_CHECK(bf_ignore_path(ig, "dist", st) && !bf_ignore_may_reinclude(ig, "dist", st),
			   "* then !src: dist is skipped whole");
		bf_ignore_free(ig);
		ig = parse("!x/keep\nx\n");
		UNIT_CHECK(bf_ignore_path(ig, "x", st) && !bf_ignore_may_reinclude(ig, "x", st),
			   "an exception before the pattern that excludes the dir cannot re-include");
		bf_ignore_free(ig);
		ig = parse("*\n!**/*.keep\n");
		UNIT_CHECK(bf_ignore_path(ig, "deep", st) && bf_ignore_may_reinclude(ig, "deep", st),
			   "!**/*.keep may re-include anywhere");
		bf_ignore_free(ig);
	}
}

/* ---- which file a build uses ---- */

/* Paths are decoded as Go's regexps decode them: a byte that starts no
 * valid sequence (0xF5..0xFF, 0xC0, 0xC1) is one character on its own. */
static void test_utf8_paths(void)
{
	UNIT_CHECK(excluded("?\n", "\xf5\x80\x80") == 0,
		   "'?' does not take F5 80 80 (no UTF-8 sequence) as one character");
	UNIT_CHECK(excluded("?" "?" "?\n", "\xf5\x80\x80") == 1, "three '?' match its three bytes");
	UNIT_CHECK(excluded("?\n", "\xc0\xaf") == 0, "'?' does not take an overlong '/' as one character");
	UNIT_CHECK(excluded("?\n", "\xc3\xa9") == 1, "'?' takes a valid 2-byte character");
}

static char base[] = "/tmp/cairn-ignore-XXXXXX";
static int base_fd = -1;

/* The name of the ignore file a build of CTX with Buildfile BF uses and
 * whether it excludes PATH ("" and false when there is none). */
static const char *which(const char *bf, const char *ctx, const char *path, bool *ex)
{
	static char name[4096];
	_cleanup_free_ char *bfp = cn_xasprintf("%s/%s", base, bf);
	_cleanup_free_ char *cp = cn_xasprintf("%s/%s", base, ctx);
	_cleanup_close_ int cfd = open(cp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct bf_ignore *ig = NULL;
	cn_err_clear(&err);
	*ex = false;
	if (bf_ignore_load(bfp, cfd, cp, &ig, &err) < 0)
		return NULL;
	snprintf(name, sizeof(name), "%s", ig ? bf_ignore_name(ig) + strlen(base) + 1 : "");
	if (ig)
		*ex = bf_ignore_match(ig, path);
	bf_ignore_free(ig);
	return name;
}

static void test_which_file(void)
{
	const char *n;
	bool ex;
	unit_mkdir(base_fd, "c", 0755);
	unit_put(base_fd, "c/Buildfile", "FROM scratch\n", 0644);
	n = which("c/Buildfile", "c", "a", &ex);
	UNIT_STREQ(n, "", "no ignore file: none used");
	unit_put(base_fd, "c/.dockerignore", "a\n", 0644);
	n = which("c/Buildfile", "c", "a", &ex);
	UNIT_CHECK(n && !strcmp(n, "c/.dockerignore") && ex, "CONTEXT/.dockerignore is used: %s",
		   n ? n : err.msg);
	unit_put(base_fd, "c/.buildignore", "b\n", 0644);
	n = which("c/Buildfile", "c", "a", &ex);
	UNIT_CHECK(n && !strcmp(n, "c/.buildignore") && !ex, ".buildignore beats .dockerignore: %s",
		   n ? n : err.msg);
	unit_put(base_fd, "c/Buildfile.dockerignore", "c\n", 0644);
	n = which("c/Buildfile", "c", "c", &ex);
	UNIT_CHECK(n && !strcmp(n, "c/Buildfile.dockerignore") && ex,
		   "Buildfile.dockerignore beats both: %s", n ? n : err.msg);
	/* A Buildfile outside the context: its own ignore file, else the context's. */
	unit_mkdir(base_fd, "elsewhere", 0755);
	unit_put(base_fd, "elsewhere/Dockerfile", "FROM scratch\n", 0644);
	n = which("elsewhere/Dockerfile", "c", "a", &ex);
	UNIT_STREQ(n, "c/.buildignore", "-f elsewhere/Dockerfile: the context's file");
	unit_put(base_fd, "elsewhere/Dockerfile.dockerignore", "a\n", 0644);
	n = which("elsewhere/Dockerfile", "c", "a", &ex);
	UNIT_CHECK(n && !strcmp(n, "elsewhere/Dockerfile.dockerignore") && ex,
		   "-f elsewhere/Dockerfile: Dockerfile.dockerignore next to it: %s", n ? n : err.msg);
	/* Errors name the file. */
	unit_put(base_fd, "c/Buildfile.dockerignore", "ok\n!\n", 0644);
	n = which("c/Buildfile", "c", "a", &ex);
	UNIT_CHECK(!n && strstr(err.msg, "c/Buildfile.dockerignore:2: '!' alone"),
		   "a bad pattern names the file and line: %s", err.msg);
	unlinkat(base_fd, "c/Buildfile.dockerignore", 0);
	unlinkat(base_fd, "c/.buildignore", 0);
	unit_mkdir(base_fd, "c/.buildignore", 0755);
	n = which("c/Buildfile", "c", "a", &ex);
	UNIT_CHECK(!n && strstr(err.msg, "not a regular file"), "a directory .buildignore: %s", err.msg);
	unlinkat(base_fd, "c/.buildignore", AT_REMOVEDIR);
	unit_symlink(base_fd, "/etc/passwd", "c/.buildignore");
	n = which("c/Buildfile", "c", "a", &ex);
	UNIT_CHECK(!n && strstr(err.msg, "outside the build context"),
		   "a .buildignore linking out of the context is refused: %s", err.msg);
	unlinkat(base_fd, "c/.buildignore", 0);
	unit_symlink(base_fd, ".dockerignore", "c/.buildignore");
	n = which("c/Buildfile", "c", "a", &ex);
	UNIT_CHECK(n && !strcmp(n, "c/.buildignore") && ex, "a .buildignore linking inside it is read");
}

/* ---- COPY ---- */

static int ctx_fd = -1, root_fd = -1;

static void new_root(void)
{
	if (root_fd >= 0)
		close(root_fd);
	root_fd = unit_fresh_dir(base_fd, "root", 0755);
}

/* COPY srcs... dest with the ignore file TEXT; srcs end with NULL. */
static int copy_(const char *text, const char *dest, ...)
{
	const char *srcs[8];
	size_t n = 0;
	va_list ap;
	struct bf_ignore *ig = text ? parse(text) : NULL;
	struct bf_copy_opts o;
	int r;
	new_root();
	o = (struct bf_copy_opts){ .ctx_fd = ctx_fd, .root_fd = root_fd, .srcs = srcs, .dest = dest,
				   .workdir = "/", .ignore = ig };
	va_start(ap, dest);
	for (const char *s; n < CN_ARRAY_SIZE(srcs) && (s = va_arg(ap, const char *)); )
		srcs[n++] = s;
	va_end(ap);
	o.nsrcs = n;
	cn_err_clear(&err);
	r = bf_copy(&o, &err);
	bf_ignore_free(ig);
	return r;
}
#define COPY(text, ...) copy_(text, __VA_ARGS__, NULL)

static int digest_(const char *text, char out[CN_DIGEST_STR_SIZE], ...)
{
	const char *srcs[8];
	size_t n = 0;
	va_list ap;
	struct bf_ignore *ig = text ? parse(text) : NULL;
	struct bf_copy_opts o = { .ctx_fd = ctx_fd, .root_fd = -1, .srcs = srcs, .ignore = ig };
	int r;
	va_start(ap, out);
	for (const char *s; n < CN_ARRAY_SIZE(srcs) && (s = va_arg(ap, const char *)); )
		srcs[n++] = s;
	va_end(ap);
	o.nsrcs = n;
	cn_err_clear(&err);
	r = bf_copy_digest(&o, NULL, NULL, out, NULL, &err);
	bf_ignore_free(ig);
	return r;
}
#define DIGEST(text, out, ...) digest_(text, out, __VA_ARGS__, NULL)

static void make_context(void)
{
	unit_mkdir(base_fd, "ctx", 0755);
	ctx_fd = openat(base_fd, "ctx", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unit_put(ctx_fd, "app.c", "int main;", 0644);
	unit_put(ctx_fd, "debug.log", "LOG", 0644);
	unit_put(ctx_fd, "important.log", "KEEP", 0644);
	unit_mkdir(ctx_fd, "secret", 0755);
	unit_put(ctx_fd, "secret/key", "KEY", 0644);
	unit_mkdir(ctx_fd, "secret/pub", 0755);
	unit_put(ctx_fd, "secret/pub/id.pub", "PUB", 0644);
	unit_mkdir(ctx_fd, "src", 0755);
	unit_put(ctx_fd, "src/main.c", "MAIN", 0644);
	unit_mkdir(ctx_fd, "src/tmp", 0755);
	unit_put(ctx_fd, "src/tmp/scratch", "S", 0644);
	unit_mkdir(ctx_fd, "node_modules", 0755);
	unit_mkdir(ctx_fd, "node_modules/dep", 0755);
	unit_put(ctx_fd, "node_modules/dep/index.js", "JS", 0644);
	unit_symlink(ctx_fd, "secret", "secret-link");
	unit_symlink(ctx_fd, "secret/key", "key-link");
	unit_symlink(ctx_fd, "src", "src-link");
	unit_symlink(ctx_fd, "../app.c", "secret/up-link");
	unit_symlink(ctx_fd, "app.c", "app.lnk");
}

static void test_copy(void)
{
	static const char *const ign = "*.log\n!important.log\nsecret/\n**/tmp\nnode_modules\n";
	char d1[CN_DIGEST_STR_SIZE], d2[CN_DIGEST_STR_SIZE];

	unit_put(ctx_fd, "node_modules/.wh.refused", "", 0644);
	UNIT_CHECK(COPY(NULL, "/app/", ".") != 0 && strstr(err.msg, ".wh.refused"),
		   "without an ignore file, node_modules/.wh.refused is refused (as before): %s",
		   err.msg);
	UNIT_CHECK(COPY("node_modules\n", "/app/", ".") == 0, "an ignored .wh. name is no error: %s",
		   err.msg);
	unlinkat(ctx_fd, "node_modules/.wh.refused", 0);
	UNIT_CHECK(COPY(ign, "/app/", ".") == 0, "COPY . with ignores: %s", err.msg);
	UNIT_CHECK(unit_exists(root_fd, "app/app.c") && unit_exists(root_fd, "app/important.log") && unit_exists(root_fd, "app/src/main.c") &&
		   unit_exists(root_fd, "app/secret-link") && unit_exists(root_fd, "app/src-link"), "COPY .: kept entries copied");
	UNIT_CHECK(!unit_exists(root_fd, "app/debug.log") && !unit_exists(root_fd, "app/secret") && !unit_exists(root_fd, "app/src/tmp") &&
		   !unit_exists(root_fd, "app/node_modules"), "COPY .: ignored entries (and their dirs) not copied");

	UNIT_CHECK(COPY(ign, "/x/", "*.log") == 0 && unit_exists(root_fd, "x/important.log") && !unit_exists(root_fd, "x/debug.log"),
		   "a wildcard does not see ignored files: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x/", "debug.*") != 0 && strstr(err.msg, "no source files"),
		   "a wildcard matching only ignored files matches nothing: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x", "debug.log") != 0 && strstr(err.msg, "'debug.log'") &&
		   strstr(err.msg, "excluded by .dockerignore"),
		   "an ignored file named as a source is not found: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x/", "secret/key") != 0 && strstr(err.msg, "excluded by .dockerignore"),
		   "a file in an ignored dir named as a source: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x/", "secret") != 0 && strstr(err.msg, "excluded by .dockerignore"),
		   "an ignored dir named as a source: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x/", "src/*") == 0 && unit_exists(root_fd, "x/main.c") && !unit_exists(root_fd, "x/scratch"),
		   "a wildcard does not expand into an ignored dir: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x/", "src-link") == 0 && unit_exists(root_fd, "x/main.c") && !unit_exists(root_fd, "x/tmp"),
		   "a symlinked source dir is filtered by its real path: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x", "key-link") != 0 && strstr(err.msg, "excluded"),
		   "a symlink named as a source leading to an ignored file is not followed: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x/", "secret-link/pub") != 0 && strstr(err.msg, "excluded"),
		   "a path through a symlink into an ignored dir: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x", "secret/up-link") != 0 && strstr(err.msg, "excluded"),
		   "a symlink in an ignored dir is not followed out of it: %s", err.msg);
	UNIT_CHECK(COPY("*.lnk\n", "/x", "app.lnk") != 0 && strstr(err.msg, "excluded"),
		   "an ignored symlink is not followed to a kept file: %s", err.msg);
	UNIT_CHECK(COPY("*.lnk\n", "/x/", "app.*") == 0 && unit_exists(root_fd, "x/app.c") && !unit_exists(root_fd, "x/app.lnk"),
		   "... nor matched by a wildcard: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x/", "secret-*/*") != 0 && strstr(err.msg, "no source files"),
		   "a wildcard through a symlink into an ignored dir matches nothing: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x", "/important.log") == 0 && unit_exists(root_fd, "x"),
		   "a leading / names the same context path: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x", "./src/../important.log") == 0 && unit_exists(root_fd, "x"),
		   "a source is cleaned before matching: %s", err.msg);
	UNIT_CHECK(COPY(ign, "/x", "./src/../debug.log") != 0 && strstr(err.msg, "excluded"),
		   "... also for an ignored one: %s", err.msg);

	/* Exceptions inside excluded directories. */
	UNIT_CHECK(COPY("secret\n!secret/pub\n", "/app/", ".") == 0 && unit_exists(root_fd, "app/secret/pub/id.pub") &&
		   !unit_exists(root_fd, "app/secret/key"), "!secret/pub re-includes inside an excluded dir: %s", err.msg);
	UNIT_CHECK(COPY("secret\n!secret/pub\n", "/x/", "secret") == 0 && unit_exists(root_fd, "x/pub/id.pub") &&
		   !unit_exists(root_fd, "x/key"), "an excluded dir with re-included content is a source: %s", err.msg);
	UNIT_CHECK(COPY("*\n!important.log\n", "/app/", ".") == 0 && unit_exists(root_fd, "app/important.log") &&
		   unit_count_entries(root_fd, "app") == 1, "'*' then '!important.log': that file alone: %s", err.msg);
	UNIT_CHECK(COPY("*\n!src\n", "/app/", ".") == 0 && unit_exists(root_fd, "app/src/main.c") &&
		   !unit_exists(root_fd, "app/app.c") && !unit_exists(root_fd, "app/secret"), "'*' then '!src': allow-list: %s", err.msg);
	UNIT_CHECK(COPY("secret\n!secret/nothing\n", "/x/", "secret") != 0 &&
		   strstr(err.msg, "excluded"), "an excluded dir whose exceptions match nothing: %s",
		   err.msg);
	UNIT_CHECK(COPY("**\n!**/*.pub\n", "/app/", ".") == 0 && unit_exists(root_fd, "app/secret/pub/id.pub") &&
		   !unit_exists(root_fd, "app/app.c") && !unit_exists(root_fd, "app/secret/key"),
		   "'**' then '!**/*.pub': only .pub files and their dirs: %s", err.msg);

	/* bf_copy_digest walks the same entries. */
	UNIT_CHECK(DIGEST(ign, d1, ".") == 0, "digest of COPY . with ignores: %s", err.msg);
	unit_put(ctx_fd, "debug.log", "CHANGED", 0644);
	unit_put(ctx_fd, "node_modules/dep/index.js", "CHANGED", 0644);
	unit_put(ctx_fd, "src/tmp/new", "NEW", 0644);
	UNIT_CHECK(DIGEST(ign, d2, ".") == 0 && strcmp(d1, d2) == 0,
		   "changing ignored files leaves the digest alone");
	unit_put(ctx_fd, "important.log", "CHANGED", 0644);
	UNIT_CHECK(DIGEST(ign, d2, ".") == 0 && strcmp(d1, d2) != 0, "changing a kept file changes it");
	UNIT_CHECK(DIGEST(ign, d1, "debug.log") != 0 && strstr(err.msg, "excluded"),
		   "the digest refuses an ignored source as COPY does: %s", err.msg);
	UNIT_CHECK(DIGEST("", d1, "app.c") == 0 && DIGEST(NULL, d2, "app.c") == 0 && !strcmp(d1, d2),
		   "an empty ignore file changes no digest");
}

int main(void)
{
	_cleanup_free_ char *dir = cn_xasprintf("%s/dockerignore", unit_corpus_dir());
	struct stat st;
	bool corpus = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);

	base_fd = unit_tmpdir(base);
	test_syntax();
	test_utf8_paths();
	test_walk_api();
	test_which_file();
	make_context();
	test_copy();
	close(root_fd);
	close(ctx_fd);
	close(base_fd);
	cn_rm_rf_at(AT_FDCWD, base, NULL);

	if (!corpus) {
		printf("ok - dockerignore corpus # SKIP skipped: conformance data not found\n");
		return UNIT_DONE();
	}
	test_cases(dir);
	test_readall(dir);
	return UNIT_DONE();
}
