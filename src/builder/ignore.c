/* .dockerignore matching with docker's semantics, written from the
 * documented behaviour and the conformance table in
 * ../shared/conformance/dockerignore (see ignore.h for the rules).
 *
 * Each pattern is classified as docker's matcher does it, because the
 * classes do not all behave like one glob:
 *
 *   EXACT   no wildcard at all              path == pattern
 *   PREFIX  literal text + a final "**"     the path starts with the text
 *   SUFFIX  a leading "**" + literal text   the path ends with the text (so
 *                                           "**.txt" matches "a/b.txt"), or
 *                                           "**" + "/x" matches "x" itself
 *   GLOB    anything else                   builder/glob.h with BF_GLOB_IGNORE
 *           (patternmatcher's regexps): '*' any run of non-'/' characters,
 *           '?' one non-'/' character, "[...]" one character of the class
 *           (which may be '/'), a "**" (with the '/' that follows it) any
 *           string ending in '/' or nothing, a final "**" anything; "**"
 *           spans never cross a newline (docker's regexp '.').
 *
 * Matching is linear in the path for every pattern (no backtracking), and
 * a walk keeps one byte per pattern per directory level, so deciding an
 * entry costs one match per pattern, however deep it is. */
#include "builder/ignore.h"
#include "builder/glob.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { K_EXACT, K_PREFIX, K_SUFFIX, K_GLOB };

struct pattern {
	char *text;             /* cleaned, without the '!' */
	size_t len;
	bool exception;
	enum kind kind;
	const char *arg;        /* K_PREFIX, K_SUFFIX: the literal part */
	size_t arglen;
	struct bf_glob glob;    /* K_GLOB */
};

struct bf_ignore {
	char *name;
	struct pattern *p;
	size_t n;
};

/* ---- ignorefile.ReadAll ---- */

static int read_lines(const char *name, const char *text, size_t len, cn_strv *patterns,
		      size_t **lines, cn_err *err)
{
	size_t lineno = 0, cap = 0, count = 0;
	const char *p = text, *end = text + len;

	if (len > BF_IGNORE_MAX_FILE)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "%s: larger than %zu bytes", name, BF_IGNORE_MAX_FILE);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p;
		size_t n = (size_t)((nl ? nl : end) - p);
		bool invert;
		char *clean = NULL;

		p = nl ? nl + 1 : end;
		lineno++;
		if (n > BF_IGNORE_MAX_LINE)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "%s:%zu: line longer than %d bytes", name, lineno,
					    BF_IGNORE_MAX_LINE);
		if (memchr(s, '\0', n))
			return cn_err_fail(err, CN_ERR_INVALID, "%s:%zu: NUL byte in the line", name, lineno);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			n -= 3;
		}
		if (n > 0 && s[0] == '#')
			continue;
		s = cn_utf8_trim_space(s, &n);
		if (n == 0)
			continue;
		invert = s[0] == '!';
		if (invert) {
			s++;
			n--;
			s = cn_utf8_trim_space(s, &n);
		}
		if (n > 0) {
			clean = cn_path_clean_n(s, n);
			if (clean[0] == '/' && clean[1])
				memmove(clean, clean + 1, strlen(clean));
		}
		if (count >= BF_IGNORE_MAX_PATTERNS) {
			free(clean);
			return cn_err_fail(err, CN_ERR_TOO_BIG, "%s:%zu: more than %d patterns", name, lineno,
					    BF_IGNORE_MAX_PATTERNS);
		}
		cn_strv_push(patterns, cn_xasprintf("%s%s", invert ? "!" : "", clean ? clean : ""));
		free(clean);
		if (lines) {
			cn_xgrow((void **)lines, &cap, count + 1, sizeof(**lines));
			(*lines)[count] = lineno;
		}
		count++;
	}
	return 0;
}

int bf_ignore_readall(const char *name, const char *text, size_t len, cn_strv *patterns,
		      cn_err *err)
{
	return read_lines(name, text, len, patterns, NULL, err);
}

static bool has_meta(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] && strchr("*?[]\\", s[i]))
			return true;
	return false;
}

/* Classify (see the top of the file) a pattern whose glob is compiled. */
static void classify(struct pattern *pt)
{
	const char *p = pt->text;
	size_t n = pt->len;

	if (n >= 2 && p[0] == '*' && p[1] == '*' && !has_meta(p + 2, n - 2)) {
		pt->kind = K_SUFFIX;
		pt->arg = p + 2;
		pt->arglen = n - 2;
		return;
	}
	if (n > 2 && p[n - 1] == '*' && p[n - 2] == '*' && !has_meta(p, n - 2)) {
		pt->kind = K_PREFIX;
		pt->arg = p;
		pt->arglen = n - 2;
		return;
	}
	if (!has_meta(p, n)) {
		pt->kind = K_EXACT;
		return;
	}
	pt->kind = K_GLOB;
}

/* ---- the matcher ---- */

static bool pattern_match(const struct pattern *pt, const char *s, size_t len)
{
	switch (pt->kind) {
	case K_EXACT:
		return len == pt->len && memcmp(s, pt->text, len) == 0;
	case K_PREFIX:
		return len >= pt->arglen && memcmp(s, pt->arg, pt->arglen) == 0;
	case K_SUFFIX:
		if (len >= pt->arglen && memcmp(s + len - pt->arglen, pt->arg, pt->arglen) == 0)
			return true;
		/* "**" + "/x" also matches "x" */
		return pt->arglen > 0 && pt->arg[0] == '/' && len == pt->arglen - 1 &&
			memcmp(s, pt->arg + 1, len) == 0;
	default:
		return bf_glob_match(&pt->glob, s, len);
	}
}

/* Can the pattern match some path strictly below DIR? (DIR + "/" + more) */
static bool pattern_may_match_below(const struct pattern *pt, const char *dir)
{
	size_t dl = strlen(dir);
	_cleanup_free_ char *d = cn_xasprintf("%s/", dir);
	switch (pt->kind) {
	case K_EXACT:
		return pt->len > dl + 1 && memcmp(pt->text, d, dl + 1) == 0;
	case K_PREFIX:
		return memcmp(pt->arg, d, pt->arglen < dl + 1 ? pt->arglen : dl + 1) == 0;
	case K_SUFFIX:
		return true;
	default:
		return bf_glob_viable(&pt->glob, d, dl + 1);
	}
}

static bool decide(const struct bf_ignore *ig, const unsigned char *state)
{
	for (size_t i = ig->n; i-- > 0;)
		if (state[i])
			return !ig->p[i].exception;
	return false;
}

bool bf_ignore_child(const struct bf_ignore *ig, const char *path, const unsigned char *parent,
		     unsigned char *state)
{
	size_t len = strlen(path);
	for (size_t i = 0; i < ig->n; i++)
		state[i] = (parent && parent[i]) || pattern_match(&ig->p[i], path, len);
	return decide(ig, state);
}

bool bf_ignore_path(const struct bf_ignore *ig, const char *path, unsigned char *state)
{
	size_t len = strlen(path);
	memset(state, 0, ig->n);
	if (strcmp(path, ".") == 0)
		return false;
	/* The path and each parent: "a", "a/b", ... of "a/b/c". */
	for (size_t end = 0; end <= len; end++) {
		if (end < len && path[end] != '/')
			continue;
		for (size_t i = 0; i < ig->n; i++)
			if (!state[i] && pattern_match(&ig->p[i], path, end))
				state[i] = 1;
	}
	return decide(ig, state);
}

bool bf_ignore_match(const struct bf_ignore *ig, const char *path)
{
	_cleanup_free_ char *clean = cn_path_clean(path);
	_cleanup_free_ unsigned char *state = cn_xmalloc(ig->n + 1);
	return bf_ignore_path(ig, clean, state);
}

bool bf_ignore_may_reinclude(const struct bf_ignore *ig, const char *dir,
			     const unsigned char *state)
{
	size_t last = 0;
	/* Only an exception after the last pattern matching DIR can change
	 * the verdict of an entry below it (that pattern matches them all). */
	for (size_t i = ig->n; i-- > 0;)
		if (state[i]) {
			last = i + 1;
			break;
		}
	for (size_t i = last; i < ig->n; i++)
		if (ig->p[i].exception && pattern_may_match_below(&ig->p[i], dir))
			return true;
	return false;
}

/* ---- building ---- */

void bf_ignore_free(struct bf_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++) {
		free(ig->p[i].text);
		bf_glob_free(&ig->p[i].glob);
	}
	free(ig->p);
	free(ig->name);
	free(ig);
}

const char *bf_ignore_name(const struct bf_ignore *ig)
{
	return ig->name;
}

size_t bf_ignore_count(const struct bf_ignore *ig)
{
	return ig ? ig->n : 0;
}

struct bf_ignore *bf_ignore_parse(const char *name, const char *text, size_t len, cn_err *err)
{
	_cleanup_strv_ cn_strv pats = { 0 };
	_cleanup_free_ size_t *lines = NULL;
	struct bf_ignore *ig;

	if (read_lines(name, text, len, &pats, &lines, err) < 0)
		return NULL;
	ig = cn_xcalloc(1, sizeof(*ig));
	ig->name = cn_xstrdup(name);
	ig->p = cn_xcalloc(pats.n + 1, sizeof(*ig->p));
	for (size_t k = 0; k < pats.n; k++) {
		/* patternmatcher.New cleans again; a '!' is part of the first
		 * element then ("!a/../b" is "b"). */
		size_t n = strlen(pats.v[k]);
		const char *s = cn_utf8_trim_space(pats.v[k], &n);
		_cleanup_free_ char *clean = NULL;
		struct pattern *pt;
		const char *why;
		bool exc;

		if (n == 0)
			continue;
		clean = cn_path_clean_n(s, n);
		exc = clean[0] == '!';
		if (exc && !clean[1]) {
			cn_err_fail(err, CN_ERR_INVALID, "%s:%zu: '!' alone is not a pattern "
				     "(an exception needs a pattern after the '!')", name, lines[k]);
			bf_ignore_free(ig);
			return NULL;
		}
		pt = &ig->p[ig->n];
		why = bf_glob_compile(&pt->glob, clean + exc, strlen(clean + exc), BF_GLOB_IGNORE);
		if (why) {
			cn_err_fail(err, CN_ERR_INVALID, "%s:%zu: bad pattern '%s': %s", name, lines[k],
				     pats.v[k], why);
			bf_ignore_free(ig);
			return NULL;
		}
		ig->n++;
		pt->text = cn_xstrdup(clean + exc);
		pt->len = strlen(pt->text);
		pt->exception = exc;
		classify(pt);
	}
	return ig;
}

/* ---- which file ---- */

/* An open error other than "not there" stops the search. */
static int open_error(const char *name, cn_err *err)
{
	if (errno == EXDEV || errno == ELOOP)
		return cn_err_fail(err, CN_ERR_INVALID, "'%s' points outside the build context", name);
	return cn_err_sys(err, "open '%s'", name);
}

int bf_ignore_load(const char *buildfile, int ctx_fd, const char *context,
		   struct bf_ignore **out, cn_err *err)
{
	static const char *const in_ctx[] = { ".buildignore", ".dockerignore" };
	_cleanup_free_ char *name = cn_xasprintf("%s.dockerignore", buildfile);
	_cleanup_buf_ cn_buf text;
	_cleanup_close_ int fd = -1;

	*out = NULL;
	cn_buf_init(&text, 0);
	/* Next to the Buildfile (docker's Dockerfile.dockerignore), then in
	 * the context. */
	fd = open(name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	for (size_t i = 0; fd < 0 && i < CN_ARRAY_SIZE(in_ctx); i++) {
		if (errno != ENOENT && errno != ENOTDIR)
			return open_error(name, err);
		free(name);
		name = strcmp(context, ".") == 0 ? cn_xstrdup(in_ctx[i])
						 : cn_xasprintf("%s/%s", context, in_ctx[i]);
		fd = cn_openat2(ctx_fd, in_ctx[i], O_RDONLY | O_NONBLOCK | O_NOCTTY, RESOLVE_BENEATH);
	}
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : open_error(name, err);
	if (cn_read_fd(fd, name, BF_IGNORE_MAX_FILE, &text, err) < 0)
		return -1;
	*out = bf_ignore_parse(name, text.data, text.len, err);
	return *out ? 0 : -1;
}
