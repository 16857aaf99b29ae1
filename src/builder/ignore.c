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
 *   GLOB    anything else                   tokens run through a small NFA:
 *           '*' any run of non-'/' runes, '?' one non-'/' rune, "[...]" one
 *           rune of the class (which may be '/'), a "**" (with the '/' that
 *           follows it) any string ending in '/' or nothing, a final "**"
 *           anything; "**" spans never cross a newline (docker's regexp '.').
 *
 * Matching is linear in the path for every pattern (no backtracking), and
 * a walk keeps one byte per pattern per directory level, so deciding an
 * entry costs one match per pattern, however deep it is. */
#include "builder/ignore.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { K_EXACT, K_PREFIX, K_SUFFIX, K_GLOB };
enum tok_type { T_LIT, T_STAR, T_QUEST, T_CLASS, T_DSTAR_MID, T_DSTAR_END };

struct tok {
	unsigned char type;
	unsigned char len;      /* T_LIT: bytes of one rune */
	char lit[4];
	uint32_t off;           /* T_CLASS: offset of the text after '[' */
};

struct pattern {
	char *text;             /* cleaned, without the '!' */
	size_t len;
	bool exception;
	enum kind kind;
	const char *arg;        /* K_PREFIX, K_SUFFIX: the literal part */
	size_t arglen;
	struct tok *toks;       /* K_GLOB */
	size_t ntoks;
};

struct bf_ignore {
	char *name;
	struct pattern *p;
	size_t n;
};

/* ---- UTF-8, white space ---- */

/* Length of the UTF-8 sequence at S (at most AVAIL bytes); 1 for an
 * invalid byte, as Go decodes it. *INVALID tells which. */
static size_t utf8_dec(const char *s, size_t avail, uint32_t *cp, bool *invalid)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;
	uint32_t c;
	*invalid = false;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	n = u[0] >= 0xf0 && u[0] < 0xf5 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || n > avail)
		goto bad;
	c = u[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (u[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*cp = c;
	return n;
bad:
	*cp = 0xfffd;
	*invalid = true;
	return 1;
}

static size_t rune_len(const char *s, size_t avail)
{
	uint32_t cp;
	bool bad;
	return utf8_dec(s, avail, &cp, &bad);
}

/* Go's unicode.IsSpace. */
static bool is_space_cp(uint32_t c)
{
	switch (c) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f:
	case 0x205f: case 0x3000:
		return true;
	default:
		return c >= 0x2000 && c <= 0x200a;
	}
}

/* strings.TrimSpace on S[0..*LEN): returns the new start, updates *LEN. */
static const char *trim_space(const char *s, size_t *len)
{
	uint32_t cp;
	bool bad;
	size_t n;
	while (*len > 0 && (n = utf8_dec(s, *len, &cp, &bad)) && !bad && is_space_cp(cp)) {
		s += n;
		*len -= n;
	}
	while (*len > 0) {
		bool found = false;
		for (size_t k = 1; k <= 3 && k <= *len && !found; k++) {
			n = utf8_dec(s + *len - k, k, &cp, &bad);
			if (n == k && !bad && is_space_cp(cp)) {
				*len -= k;
				found = true;
			}
		}
		if (!found)
			break;
	}
	return s;
}

/* ---- Go's filepath.Clean (Unix) ---- */

static char *go_clean(const char *path, size_t n)
{
	char *out = cn_xmalloc(n + 2);
	bool rooted = n > 0 && path[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;
	if (n == 0) {
		out[0] = '.';
		out[1] = '\0';
		return out;
	}
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (r < n && path[r] != '/')
				out[w++] = path[r++];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

/* ---- ignorefile.ReadAll ---- */

static int read_lines(const char *name, const char *text, size_t len, cn_strv *patterns,
		      size_t **lines, cn_err *err)
{
	size_t lineno = 0, cap = 0, count = 0;
	const char *p = text, *end = text + len;

	if (len > BF_IGNORE_MAX_FILE)
		return cn_err_plain(err, EFBIG, "%s: larger than %zu bytes", name, BF_IGNORE_MAX_FILE);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p;
		size_t n = (size_t)((nl ? nl : end) - p);
		bool invert;
		char *clean = NULL;

		p = nl ? nl + 1 : end;
		lineno++;
		if (n > BF_IGNORE_MAX_LINE)
			return cn_err_plain(err, EFBIG, "%s:%zu: line longer than %d bytes", name, lineno,
					    BF_IGNORE_MAX_LINE);
		if (memchr(s, '\0', n))
			return cn_err_plain(err, EINVAL, "%s:%zu: NUL byte in the line", name, lineno);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			n -= 3;
		}
		if (n > 0 && s[0] == '#')
			continue;
		s = trim_space(s, &n);
		if (n == 0)
			continue;
		invert = s[0] == '!';
		if (invert) {
			s++;
			n--;
			s = trim_space(s, &n);
		}
		if (n > 0) {
			clean = go_clean(s, n);
			if (clean[0] == '/' && clean[1])
				memmove(clean, clean + 1, strlen(clean));
		}
		if (count >= BF_IGNORE_MAX_PATTERNS) {
			free(clean);
			return cn_err_plain(err, E2BIG, "%s:%zu: more than %d patterns", name, lineno,
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

/* ---- pattern syntax (filepath.Match's rules) ---- */

/* One class character at P[*I] (escapes allowed; a bare '-' or ']', the
 * end of the pattern, an invalid UTF-8 byte are malformed, and so is a
 * class that ends right after it). */
static const char *class_char(const char *p, size_t n, size_t *i, uint32_t *c)
{
	bool bad;
	if (*i >= n || p[*i] == '-' || p[*i] == ']')
		return "malformed character class";
	if (p[*i] == '\\' && ++*i >= n)
		return "character class ends with a backslash";
	*i += utf8_dec(p + *i, n - *i, c, &bad);
	if (bad)
		return "invalid UTF-8 in a character class";
	if (*i >= n)
		return "unterminated character class";
	return NULL;
}

/* Parses the class at P[*I] (just past '['), moving *I past its ']'. With
 * CH given, *HIT tells whether the class holds it. Returns an error text
 * for a malformed class (docker also refuses a range whose ends are in
 * the wrong order, like "[z-a]"). */
static const char *parse_class(const char *p, size_t n, size_t *i, const uint32_t *ch, bool *hit)
{
	bool neg = false, in = false;
	if (*i < n && p[*i] == '^') {
		neg = true;
		++*i;
	}
	for (int nrange = 0; ; nrange++) {
		uint32_t lo, hi;
		const char *e;
		if (*i < n && p[*i] == ']' && nrange > 0) {
			++*i;
			break;
		}
		if ((e = class_char(p, n, i, &lo)))
			return e;
		hi = lo;
		if (p[*i] == '-') {
			++*i;
			if ((e = class_char(p, n, i, &hi)))
				return e;
			if (hi < lo)
				return "character range out of order";
		}
		if (ch && lo <= *ch && *ch <= hi)
			in = true;
	}
	if (hit)
		*hit = in != neg;
	return NULL;
}

static const char *check_syntax(const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (p[i] == '\\') {
			if (i + 1 >= n)
				return "pattern ends with a backslash";
			i += 1 + rune_len(p + i + 1, n - i - 1);
		} else if (p[i] == '[') {
			const char *e;
			i++;
			if ((e = parse_class(p, n, &i, NULL, NULL)))
				return e;
		} else {
			i++;
		}
	}
	return NULL;
}

static bool has_meta(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] && strchr("*?[]\\", s[i]))
			return true;
	return false;
}

static void add_tok(struct pattern *pt, size_t *cap, struct tok t)
{
	cn_xgrow((void **)&pt->toks, cap, pt->ntoks + 1, sizeof(*pt->toks));
	pt->toks[pt->ntoks++] = t;
}

static void add_lit(struct pattern *pt, size_t *cap, const char *s, size_t avail, size_t *i)
{
	struct tok t = { .type = T_LIT };
	t.len = (unsigned char)rune_len(s + *i, avail - *i);
	memcpy(t.lit, s + *i, t.len);
	*i += t.len;
	add_tok(pt, cap, t);
}

/* Classify (see the top of the file) and tokenize a checked pattern. */
static void compile(struct pattern *pt)
{
	const char *p = pt->text;
	size_t n = pt->len, cap = 0;

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
	for (size_t i = 0; i < n;) {
		if (p[i] == '*' && i + 1 < n && p[i + 1] == '*') {
			i += 2;
			if (i < n && p[i] == '/')
				i++;
			add_tok(pt, &cap, (struct tok){ .type = i == n ? T_DSTAR_END : T_DSTAR_MID });
		} else if (p[i] == '*') {
			i++;
			add_tok(pt, &cap, (struct tok){ .type = T_STAR });
		} else if (p[i] == '?') {
			i++;
			add_tok(pt, &cap, (struct tok){ .type = T_QUEST });
		} else if (p[i] == '\\') {
			i++;
			add_lit(pt, &cap, p, n, &i);
		} else if (p[i] == '[') {
			struct tok t = { .type = T_CLASS, .off = (uint32_t)(i + 1) };
			i++;
			parse_class(p, n, &i, NULL, NULL);
			add_tok(pt, &cap, t);
		} else {
			add_lit(pt, &cap, p, n, &i);
		}
	}
}

/* ---- the matcher ---- */

static bool eps(const struct tok *t)
{
	return t->type == T_STAR || t->type == T_DSTAR_MID || t->type == T_DSTAR_END;
}

/* NFA states: AT (1) = about to match token i; IN (2) = inside the
 * "anything ending in '/'" of a T_DSTAR_MID, which is left only through a
 * '/' (only its entry may skip it). */
#define AT 1
#define IN 2

static void closure(const struct pattern *pt, unsigned char *set)
{
	for (size_t i = 0; i < pt->ntoks; i++)
		if ((set[i] & AT) && eps(&pt->toks[i]))
			set[i + 1] |= AT;
}

/* Runs the pattern's NFA over S[0..LEN). Returns whether it accepts;
 * with VIABLE, whether it could still accept a longer string instead. */
static bool nfa_run(const struct pattern *pt, const char *s, size_t len, bool viable)
{
	unsigned char a[BF_IGNORE_MAX_LINE + 2], b[BF_IGNORE_MAX_LINE + 2];
	unsigned char *cur = a, *next = b, *tmp;
	size_t nt = pt->ntoks;

	memset(cur, 0, nt + 1);
	cur[0] = AT;
	closure(pt, cur);
	for (size_t pos = 0; pos < len;) {
		uint32_t r;
		bool bad, any = false;
		size_t rl = utf8_dec(s + pos, len - pos, &r, &bad);
		memset(next, 0, nt + 1);
		for (size_t i = 0; i < nt; i++) {
			const struct tok *t = &pt->toks[i];
			bool hit;
			size_t ci;
			if (!cur[i])
				continue;
			switch (t->type) {
			case T_LIT:
				if (t->len == rl && memcmp(t->lit, s + pos, rl) == 0)
					next[i + 1] |= AT;
				break;
			case T_STAR:
				if (r != '/')
					next[i] |= AT;
				break;
			case T_QUEST:
				if (r != '/')
					next[i + 1] |= AT;
				break;
			case T_CLASS:
				ci = t->off;
				parse_class(pt->text, pt->len, &ci, &r, &hit);
				if (hit)
					next[i + 1] |= AT;
				break;
			case T_DSTAR_MID:
				if (r != '\n')
					next[i] |= IN;
				if (r == '/')
					next[i + 1] |= AT;
				break;
			default:    /* T_DSTAR_END */
				if (r != '\n')
					next[i] |= AT;
				break;
			}
		}
		closure(pt, next);
		for (size_t i = 0; i <= nt && !any; i++)
			any = next[i] != 0;
		if (!any)
			return false;
		pos += rl;
		tmp = cur;
		cur = next;
		next = tmp;
	}
	if (!viable)
		return cur[nt] & AT;
	for (size_t i = 0; i < nt; i++)
		if (cur[i])
			return true;
	return false;
}

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
		return nfa_run(pt, s, len, false);
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
		return nfa_run(pt, d, dl + 1, true);
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
	_cleanup_free_ char *clean = go_clean(path, strlen(path));
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
		free(ig->p[i].toks);
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
		const char *s = trim_space(pats.v[k], &n);
		_cleanup_free_ char *clean = NULL;
		struct pattern *pt;
		const char *why;
		bool exc;

		if (n == 0)
			continue;
		clean = go_clean(s, n);
		exc = clean[0] == '!';
		if (exc && !clean[1]) {
			cn_err_plain(err, EINVAL, "%s:%zu: '!' alone is not a pattern "
				     "(an exception needs a pattern after the '!')", name, lines[k]);
			bf_ignore_free(ig);
			return NULL;
		}
		why = check_syntax(clean + exc, strlen(clean + exc));
		if (why) {
			cn_err_plain(err, EINVAL, "%s:%zu: bad pattern '%s': %s", name, lines[k],
				     pats.v[k], why);
			bf_ignore_free(ig);
			return NULL;
		}
		pt = &ig->p[ig->n++];
		pt->text = cn_xstrdup(clean + exc);
		pt->len = strlen(pt->text);
		pt->exception = exc;
		compile(pt);
	}
	return ig;
}

/* ---- which file ---- */

/* Reads the regular file open at FD (NAME for messages). */
static int read_fd(int fd, const char *name, cn_buf *out, cn_err *err)
{
	char chunk[65536];
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cn_err_sys(err, "stat '%s'", name);
	if (!S_ISREG(st.st_mode))
		return cn_err_plain(err, EINVAL, "'%s' is not a regular file", name);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cn_err_sys(err, "read '%s'", name);
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > BF_IGNORE_MAX_FILE)
			return cn_err_plain(err, EFBIG, "%s: larger than %zu bytes", name,
					    BF_IGNORE_MAX_FILE);
		cn_buf_add(out, chunk, (size_t)n);
	}
}

/* An open error other than "not there" stops the search. */
static int open_error(const char *name, cn_err *err)
{
	if (errno == EXDEV || errno == ELOOP)
		return cn_err_plain(err, errno, "'%s' points outside the build context", name);
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
	if (read_fd(fd, name, &text, err) < 0)
		return -1;
	*out = bf_ignore_parse(name, text.data, text.len, err);
	return *out ? 0 : -1;
}
