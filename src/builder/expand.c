/* Word expansion with the semantics of BuildKit's shell lexer (worked out
 * from the conformance corpus in shell-expansion/README.md): quotes,
 * escapes, $V and ${V...} with the POSIX modifiers, and the #/%/ and /
 * pattern forms with shell globs ('*', '?', no bracket expressions).
 *
 * Everything is bounded: each result is at most BF_EXPAND_MAX bytes,
 * ${...} nesting is limited, and pattern matching has a work budget, so a
 * hostile build file gets an error rather than unbounded memory or time. */
#include "builder/expand.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LEX_EOF (-1)
#define MAX_NESTING 64                 /* ${ inside ${: bounds the recursion */
#define GLOB_MAX_WORK (1ull << 28)     /* NFA steps per expansion */
#define NO_THREAD SIZE_MAX

struct lex {
	const char *s;
	size_t n, pos;
	char esc;
	unsigned flags;          /* BF_LEX_* */
	bool raw_esc;            /* current mode: ${v#p} and ${v/p/r} keep escapes */
	const cn_strv *env;
	cn_strv *matched, *unmatched;
	int depth;
	bool fatal;              /* a limit was hit: keep that message */
	unsigned long long work;
	cn_err *err;
};

/* Word splitting state, for bf_expand_words. */
struct words {
	cn_buf buf;
	cn_strv *out;
	bool in_word;
};

/* ---- small helpers ---- */

static int peek(const struct lex *lx)
{
	return lx->pos < lx->n ? (unsigned char)lx->s[lx->pos] : LEX_EOF;
}

static int limit_err(struct lex *lx, const char *what)
{
	lx->fatal = true;
	return cn_err_fail(lx->err, CN_ERR_INVALID, "%s", what);
}

static int add(struct lex *lx, cn_buf *b, const char *p, size_t n)
{
	if (cn_buf_add(b, p, n) < 0)
		return limit_err(lx, "expansion is longer than 1 MiB");
	return 0;
}

static int adds(struct lex *lx, cn_buf *b, const char *s)
{
	return add(lx, b, s, strlen(s));
}

static void words_flush(struct words *w)
{
	if (w->buf.len)
		cn_strv_push(w->out, cn_buf_detach(&w->buf));
	w->in_word = false;
}

/* Text that belongs to the current word whatever it contains (quoted,
 * escaped). */
static int words_raw(struct lex *lx, struct words *w, const char *p, size_t n)
{
	if (!w)
		return 0;
	w->in_word = true;
	return add(lx, &w->buf, p, n);
}

/* Unquoted text (including what an unquoted $V expands to): white space in
 * it separates words. */
static int words_text(struct lex *lx, struct words *w, const char *p, size_t n)
{
	if (!w)
		return 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = cn_utf8_decode_mark(p + i, n - i, &cp);
		if (!cn_unicode_is_space(cp)) {
			if (words_raw(lx, w, p + i, k) < 0)
				return -1;
		} else if (w->in_word && w->buf.len) {
			words_flush(w);
		}
		i += k;
	}
	return 0;
}

static void note_name(cn_strv *set, const char *name, size_t n)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		if (strlen(set->v[i]) == n && memcmp(set->v[i], name, n) == 0)
			return;
	cn_strv_push(set, cn_xstrndup(name, n));
}

/* The value of NAME ("" when unset); records the name as matched or not. */
static const char *lookup(struct lex *lx, const char *name, size_t n, bool *set)
{
	long i = lx->env ? cn_env_find(lx->env, name, n) : -1;
	*set = i >= 0;
	note_name(*set ? lx->matched : lx->unmatched, name, n);
	return i >= 0 ? lx->env->v[i] + n + 1 : "";
}

/* A name after '$': all digits (positional), one special character, or
 * letters, digits and '_'. ASCII only. */
static const char *process_name(struct lex *lx, size_t *len)
{
	const char *start = lx->s + lx->pos;
	int c = peek(lx);

	if (c >= '0' && c <= '9') {
		while (peek(lx) >= '0' && peek(lx) <= '9')
			lx->pos++;
	} else if (c > 0 && strchr("@*#?-$!", c)) {
		lx->pos++;
	} else {
		for (c = peek(lx); c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				  (c >= 'A' && c <= 'Z'); c = peek(lx))
			lx->pos++;
	}
	*len = (size_t)(lx->s + lx->pos - start);
	return start;
}

/* ---- shell patterns ---- */

enum glob_kind { G_LIT, G_ANY, G_STAR };

struct gtok {
	enum glob_kind kind;
	uint32_t cp;
};

/* Decoded characters of a string, with byte offsets (off[n] = length). */
struct runes {
	uint32_t *cp;
	size_t *off;
	size_t n;
};

static void runes_decode(const char *s, size_t len, struct runes *r)
{
	r->cp = cn_xmalloc((len + 1) * sizeof(*r->cp));
	r->off = cn_xmalloc((len + 1) * sizeof(*r->off));
	r->n = 0;
	for (size_t i = 0; i < len;) {
		r->off[r->n] = i;
		i += cn_utf8_decode_mark(s + i, len - i, &r->cp[r->n]);
		r->n++;
	}
	r->off[r->n] = len;
}

static void runes_free(struct runes *r)
{
	free(r->cp);
	free(r->off);
}

/* Pattern -> tokens. '\' quotes '*', '?' and '\'; before '}' or '/' it only
 * kept the ${} delimiter from ending the pattern and is dropped. */
static int glob_compile(struct lex *lx, const char *pat, size_t n, struct gtok **out, size_t *nt)
{
	struct gtok *t = cn_xmalloc((n + 1) * sizeof(*t));
	size_t m = 0;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		i += cn_utf8_decode_mark(pat + i, n - i, &cp);
		if (cp == '*' || cp == '?') {
			t[m++] = (struct gtok){ cp == '*' ? G_STAR : G_ANY, 0 };
			continue;
		}
		if (cp == '\\') {
			size_t k;
			if (i < n && (pat[i] == '}' || pat[i] == '/'))
				continue;
			if (i == n) {
				free(t);
				return cn_err_fail(lx->err, CN_ERR_INVALID, "invalid pattern (%.*s) in substitution: "
						  "escape at end", (int)n, pat);
			}
			k = cn_utf8_decode_mark(pat + i, n - i, &cp);
			if (cp != '*' && cp != '?' && cp != '\\') {
				free(t);
				return cn_err_fail(lx->err, CN_ERR_INVALID, "invalid pattern (%.*s) in substitution: "
						  "invalid escape '\\%.*s'", (int)n, pat, (int)k, pat + i);
			}
			i += k;
		}
		t[m++] = (struct gtok){ G_LIT, cp };
	}
	*out = t;
	*nt = m;
	return 0;
}

static void thread_set(size_t *st, size_t j, size_t start)
{
	if (start < st[j])
		st[j] = start;
}

/* NFA simulation of tokens T over characters CP: the leftmost match, and
 * for it the longest (or, with SHORTEST, the shortest) end. '*' and '?' do
 * not match a newline (as in BuildKit, which uses a regexp '.').
 * Each state keeps the earliest start that reaches it: a later start can
 * only do what an earlier one can. Returns 1 found, 0 not, -1 over budget. */
static int glob_find(struct lex *lx, const struct gtok *t, size_t m, const uint32_t *cp, size_t n,
		     bool anchored, bool shortest, size_t *ms, size_t *me)
{
	_cleanup_free_ size_t *mem = cn_xmalloc(2 * (m + 1) * sizeof(size_t));
	size_t *cur = mem, *nxt = mem + m + 1;
	size_t best_s = NO_THREAD, best_e = 0;

	for (size_t j = 0; j <= m; j++)
		cur[j] = NO_THREAD;
	for (size_t i = 0;; i++) {
		bool alive = false;
		if (best_s == NO_THREAD && (i == 0 || !anchored))
			thread_set(cur, 0, i);
		for (size_t j = 0; j < m; j++)          /* a star may match nothing */
			if (t[j].kind == G_STAR)
				thread_set(cur, j + 1, cur[j]);
		if (cur[m] != NO_THREAD && (best_s == NO_THREAD || cur[m] < best_s ||
					    (cur[m] == best_s && i > best_e))) {
			best_s = cur[m];
			best_e = i;
			if (shortest)
				break;
		}
		for (size_t j = 0; j <= m; j++) {
			if (best_s != NO_THREAD && cur[j] != NO_THREAD && cur[j] > best_s)
				cur[j] = NO_THREAD;
			alive |= cur[j] != NO_THREAD;
		}
		if (i == n || (!alive && (anchored || best_s != NO_THREAD)))
			break;
		lx->work += m + 1;
		if (lx->work > GLOB_MAX_WORK)
			return limit_err(lx, "pattern matching is too expensive");
		for (size_t j = 0; j <= m; j++)
			nxt[j] = NO_THREAD;
		for (size_t j = 0; j < m; j++) {
			if (cur[j] == NO_THREAD)
				continue;
			if (t[j].kind == G_STAR && cp[i] != '\n')
				thread_set(nxt, j, cur[j]);
			else if (t[j].kind == G_ANY && cp[i] != '\n')
				thread_set(nxt, j + 1, cur[j]);
			else if (t[j].kind == G_LIT && cp[i] == t[j].cp)
				thread_set(nxt, j + 1, cur[j]);
		}
		size_t *tmp = cur;
		cur = nxt;
		nxt = tmp;
	}
	if (best_s == NO_THREAD)
		return 0;
	*ms = best_s;
	*me = best_e;
	return 1;
}

/* ${V#p} ${V##p} ${V%p} ${V%%p}: the pattern anchored at the start (or, by
 * matching both reversed, at the end); shortest unless GREEDY. */
static int trim_value(struct lex *lx, const char *value, const char *pat, size_t plen,
		      bool suffix, bool greedy, cn_buf *out)
{
	struct gtok *t;
	size_t m, s = 0, e = 0;
	struct runes r;
	int found;

	if (glob_compile(lx, pat, plen, &t, &m) < 0)
		return -1;
	runes_decode(value, strlen(value), &r);
	if (suffix) {
		for (size_t i = 0; i < m / 2; i++) {
			struct gtok x = t[i];
			t[i] = t[m - 1 - i];
			t[m - 1 - i] = x;
		}
		for (size_t i = 0; i < r.n / 2; i++) {
			uint32_t x = r.cp[i];
			r.cp[i] = r.cp[r.n - 1 - i];
			r.cp[r.n - 1 - i] = x;
		}
	}
	found = glob_find(lx, t, m, r.cp, r.n, true, !greedy, &s, &e);
	free(t);
	if (found < 0) {
		runes_free(&r);
		return -1;
	}
	if (!found)
		e = 0;
	if (suffix)
		found = add(lx, out, value, r.off[r.n - e]);
	else
		found = adds(lx, out, value + r.off[e]);
	runes_free(&r);
	return found;
}

/* ${V/p/r} and ${V//p/r}: the leftmost-longest match(es) replaced by R.
 * An empty match right after a previous match is not replaced. */
static int replace_value(struct lex *lx, const char *value, const cn_buf *pat, const cn_buf *rep,
			 bool all, cn_buf *out)
{
	struct gtok *t;
	struct runes r;
	size_t m, search = 0, last = 0, a = 0, b = 0;
	int rc = 0;

	if (glob_compile(lx, pat->data, pat->len, &t, &m) < 0)
		return -1;
	runes_decode(value, strlen(value), &r);
	while (search <= r.n) {
		int found = glob_find(lx, t, m, r.cp + search, r.n - search, false, false, &a, &b);
		if (found <= 0) {
			rc = found;
			break;
		}
		a += search;
		b += search;
		if (add(lx, out, value + r.off[last], r.off[a] - r.off[last]) < 0 ||
		    ((b > last || a == 0) && add(lx, out, rep->data, rep->len) < 0)) {
			rc = -1;
			break;
		}
		last = b;
		search = b > search ? b : search + 1;
		if (!all)
			break;
	}
	if (rc == 0)
		rc = adds(lx, out, value + r.off[last]);
	free(t);
	runes_free(&r);
	return rc;
}

/* ---- the lexer proper ---- */

static int process_until(struct lex *lx, int stop, bool raw_esc, cn_buf *res, struct words *w);

static int process_dollar(struct lex *lx, cn_buf *out);

/* Errors at the end of the input get the clearer "missing" message. */
static int at_end_err(struct lex *lx, const char *msg)
{
	if (!lx->fatal && peek(lx) == LEX_EOF)
		return cn_err_fail(lx->err, CN_ERR_INVALID, "%s", msg);
	return -1;
}

static int process_single_quote(struct lex *lx, cn_buf *out)
{
	const char *start = lx->s + lx->pos + 1;
	const char *end = memchr(start, '\'', lx->n - lx->pos - 1);
	bool raw = lx->flags & BF_LEX_RAW_QUOTES;

	if (!end)
		return cn_err_fail(lx->err, CN_ERR_INVALID, "unexpected end of statement while looking for "
				  "matching single-quote");
	lx->pos = (size_t)(end - lx->s) + 1;
	/* Everything inside is literal, escapes included. */
	return add(lx, out, raw ? start - 1 : start, (size_t)(end - start) + (raw ? 2 : 0));
}

static int process_double_quote(struct lex *lx, cn_buf *out)
{
	bool raw = lx->flags & BF_LEX_RAW_QUOTES;

	lx->pos++;
	if (raw && adds(lx, out, "\"") < 0)
		return -1;
	for (;;) {
		int c = peek(lx);
		const char *p = lx->s + lx->pos;
		uint32_t cp;
		size_t k;

		if (c == LEX_EOF)
			return cn_err_fail(lx->err, CN_ERR_INVALID, "unexpected end of statement while looking "
					  "for matching double-quote");
		if (c == '"') {
			lx->pos++;
			return raw ? adds(lx, out, "\"") : 0;
		}
		if (c == '$') {
			if (process_dollar(lx, out) < 0)
				return -1;
			continue;
		}
		k = cn_utf8_decode_mark(p, lx->n - lx->pos, &cp);
		lx->pos += k;
		if (cp == (unsigned char)lx->esc) {
			c = peek(lx);
			if (lx->raw_esc && add(lx, out, p, 1) < 0)
				return -1;
			if (c == LEX_EOF)
				continue;
			/* Only '"', '$' and the escape itself are escapable here;
			 * before anything else the escape stays. */
			if (c == '"' || c == '$' || c == (unsigned char)lx->esc) {
				p = lx->s + lx->pos;
				lx->pos++;
			}
		}
		if (add(lx, out, p, k) < 0)
			return -1;
	}
}

/* "<<" and the blanks after it stay glued to the next word (a heredoc
 * delimiter may be written "<< EOF"). */
static int process_heredoc_op(struct lex *lx, cn_buf *out)
{
	size_t start = lx->pos;

	lx->pos++;
	if (peek(lx) == '<') {
		lx->pos++;
		while (peek(lx) == ' ' || peek(lx) == '\t' || peek(lx) == '\r')
			lx->pos++;
	}
	return add(lx, out, lx->s + start, lx->pos - start);
}

static int dollar_plain(struct lex *lx, cn_buf *out)
{
	size_t nlen;
	const char *name = process_name(lx, &nlen);
	const char *v;
	bool set;

	if (!nlen)
		return adds(lx, out, "$");
	v = lookup(lx, name, nlen, &set);
	if (!set && (lx->flags & BF_LEX_SKIP_UNSET))
		return add(lx, out, name - 1, nlen + 1);
	return adds(lx, out, v);
}

/* ${V:-w} ${V-w} ${V:+w} ${V+w} ${V:?w} ${V?w} ${V#p} ${V##p} ${V%p} ${V%%p};
 * C is the character after the name, already consumed. */
static int dollar_modifier(struct lex *lx, const char *name, size_t nlen, int c, cn_buf *out)
{
	_cleanup_buf_ cn_buf word = { 0 };
	char chs[8];
	size_t chl = 0;
	bool null_unset = c == ':';
	int op = c;
	bool raw, set;
	const char *v;

	chs[chl++] = (char)c;
	if (null_unset && peek(lx) != LEX_EOF) {
		uint32_t cp;
		size_t k = cn_utf8_decode_mark(lx->s + lx->pos, lx->n - lx->pos, &cp);
		memcpy(chs + chl, lx->s + lx->pos, k);
		chl += k;
		lx->pos += k;
		op = cp < 0x80 ? (int)cp : 0;
	}
	chs[chl] = '\0';
	raw = op == '#' || op == '%';
	if (null_unset && raw)
		return cn_err_fail(lx->err, CN_ERR_INVALID, "unsupported modifier (%s) in substitution", chs);
	cn_buf_init(&word, BF_EXPAND_MAX);
	if (process_until(lx, '}', raw, &word, NULL) < 0)
		return at_end_err(lx, "syntax error: missing '}'");

	v = lookup(lx, name, nlen, &set);
	if (!set && (lx->flags & BF_LEX_SKIP_UNSET)) {
		if (adds(lx, out, "${") < 0 || add(lx, out, name, nlen) < 0 ||
		    adds(lx, out, chs) < 0 || add(lx, out, word.data, word.len) < 0)
			return -1;
		return adds(lx, out, "}");
	}
	bool empty = !set || (null_unset && !*v);
	switch (op) {
	case '-':
		return empty ? add(lx, out, word.data, word.len) : adds(lx, out, v);
	case '+':
		return empty ? 0 : add(lx, out, word.data, word.len);
	case '?':
		if (empty)
			return cn_err_fail(lx->err, CN_ERR_INVALID, "%.*s: %s", (int)nlen, name,
					  word.len ? word.data :
					  !set ? "is not allowed to be unset" : "is not allowed to be empty");
		return adds(lx, out, v);
	case '#':
	case '%': {
		bool greedy = word.len && word.data[0] == op;
		return trim_value(lx, v, word.data + greedy, word.len - greedy, op == '%', greedy, out);
	}
	default:
		return cn_err_fail(lx->err, CN_ERR_INVALID, "unsupported modifier (%s) in substitution", chs);
	}
}

/* ${V/p/r} and ${V//p/r}; the first '/' is consumed. */
static int dollar_replace(struct lex *lx, const char *name, size_t nlen, cn_buf *out)
{
	_cleanup_buf_ cn_buf pat = { 0 };
	_cleanup_buf_ cn_buf rep = { 0 };
	bool all = peek(lx) == '/';
	bool set;
	const char *v;

	cn_buf_init(&pat, BF_EXPAND_MAX);
	cn_buf_init(&rep, BF_EXPAND_MAX);
	if (all)
		lx->pos++;
	if (process_until(lx, '/', true, &pat, NULL) < 0)
		return at_end_err(lx, "syntax error: missing '/' in ${}");
	if (process_until(lx, '}', true, &rep, NULL) < 0)
		return at_end_err(lx, "syntax error: missing '}'");
	v = lookup(lx, name, nlen, &set);
	if (!set && (lx->flags & BF_LEX_SKIP_UNSET)) {
		if (adds(lx, out, "${") < 0 || add(lx, out, name, nlen) < 0 ||
		    adds(lx, out, "/") < 0 || add(lx, out, pat.data, pat.len) < 0 ||
		    adds(lx, out, "/") < 0 || add(lx, out, rep.data, rep.len) < 0)
			return -1;
		return adds(lx, out, "}");
	}
	return replace_value(lx, v, &pat, &rep, all, out);
}

static int dollar_braced(struct lex *lx, cn_buf *out)
{
	int c = peek(lx);
	const char *name, *v;
	size_t nlen;
	bool set;

	if (c == LEX_EOF)
		return cn_err_fail(lx->err, CN_ERR_INVALID, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return cn_err_fail(lx->err, CN_ERR_INVALID, "syntax error: bad substitution");
	name = process_name(lx, &nlen);
	c = peek(lx);
	if (c == LEX_EOF)
		return cn_err_fail(lx->err, CN_ERR_INVALID, "syntax error: missing '}'");
	lx->pos++;
	switch (c) {
	case '}':
		v = lookup(lx, name, nlen, &set);
		if (!set && (lx->flags & BF_LEX_SKIP_UNSET))
			return add(lx, out, name - 2, nlen + 3);
		return adds(lx, out, v);
	case '/':
		return dollar_replace(lx, name, nlen, out);
	case ':': case '+': case '-': case '?': case '#': case '%':
		return dollar_modifier(lx, name, nlen, c, out);
	default: {
		uint32_t cp;
		size_t k = cn_utf8_decode_mark(lx->s + lx->pos - 1, lx->n - lx->pos + 1, &cp);
		return cn_err_fail(lx->err, CN_ERR_INVALID, "unsupported modifier (%.*s) in substitution",
				  (int)k, lx->s + lx->pos - 1);
	}
	}
}

/* At a '$': appends its expansion to OUT. */
static int process_dollar(struct lex *lx, cn_buf *out)
{
	int rc;

	lx->pos++;
	if (peek(lx) != '{')
		return dollar_plain(lx, out);
	lx->pos++;
	if (++lx->depth > MAX_NESTING)
		return limit_err(lx, "substitutions nested too deeply");
	rc = dollar_braced(lx, out);
	lx->depth--;
	return rc;
}

/* Quotes, '$' and "<<": their text goes to RES, and to the words as a
 * whole, except that an unquoted expansion is split on white space. */
static int process_special(struct lex *lx, int c, cn_buf *res, struct words *w)
{
	_cleanup_buf_ cn_buf tmp = { 0 };
	int rc;

	cn_buf_init(&tmp, BF_EXPAND_MAX);
	if (c == '$')
		rc = process_dollar(lx, &tmp);
	else if (c == '<')
		rc = process_heredoc_op(lx, &tmp);
	else if (c == '\'')
		rc = process_single_quote(lx, &tmp);
	else
		rc = process_double_quote(lx, &tmp);
	if (rc < 0 || add(lx, res, tmp.data, tmp.len) < 0)
		return -1;
	return c == '$' ? words_text(lx, w, tmp.data, tmp.len) : words_raw(lx, w, tmp.data, tmp.len);
}

static int process_loop(struct lex *lx, int stop, cn_buf *res, struct words *w)
{
	while (lx->pos < lx->n) {
		int c = peek(lx);
		const char *p = lx->s + lx->pos;
		uint32_t cp;
		size_t k;

		if (stop != LEX_EOF && c == stop) {
			lx->pos++;
			return 0;
		}
		if (c == '$' || c == '<' || c == '\'' || c == '"') {
			if (process_special(lx, c, res, w) < 0)
				return -1;
			continue;
		}
		k = cn_utf8_decode_mark(p, lx->n - lx->pos, &cp);
		lx->pos += k;
		if (cp == (unsigned char)lx->esc) {
			/* The escape makes the next character literal; a lone
			 * escape at the very end is dropped. */
			if (lx->raw_esc && (words_raw(lx, w, p, 1) < 0 || add(lx, res, p, 1) < 0))
				return -1;
			if (lx->pos >= lx->n)
				break;
			p = lx->s + lx->pos;
			k = cn_utf8_decode_mark(p, lx->n - lx->pos, &cp);
			lx->pos += k;
			if (words_raw(lx, w, p, k) < 0)
				return -1;
		} else if (words_text(lx, w, p, k) < 0) {
			return -1;
		}
		if (add(lx, res, p, k) < 0)
			return -1;
	}
	if (stop != LEX_EOF)
		return cn_err_fail(lx->err, CN_ERR_INVALID, "unexpected end of statement while looking for "
				  "matching %c", stop);
	return 0;
}

/* Expands up to STOP (consumed) or the end, with the escape mode RAW_ESC
 * for the duration. */
static int process_until(struct lex *lx, int stop, bool raw_esc, cn_buf *res, struct words *w)
{
	bool saved = lx->raw_esc;
	int rc;

	lx->raw_esc = raw_esc;
	rc = process_loop(lx, stop, res, w);
	lx->raw_esc = saved;
	return rc;
}

int bf_expand(const char *text, char escape, const cn_strv *env,
	      const struct bf_lex_opts *opts, char **word, cn_strv *words, cn_err *err)
{
	struct lex lx = {
		.s = text, .n = strlen(text), .esc = escape,
		.flags = opts ? opts->flags : 0,
		.env = env,
		.matched = opts ? opts->matched : NULL,
		.unmatched = opts ? opts->unmatched : NULL,
		.err = err,
	};
	_cleanup_buf_ cn_buf res = { 0 };
	_cleanup_strv_ cn_strv split = { 0 };
	struct words w = { .out = &split };
	int rc;

	lx.raw_esc = lx.flags & BF_LEX_RAW_ESCAPES;
	cn_buf_init(&res, BF_EXPAND_MAX);
	cn_buf_init(&w.buf, BF_EXPAND_MAX);
	rc = process_until(&lx, LEX_EOF, lx.raw_esc, &res, words ? &w : NULL);
	if (rc < 0) {
		cn_buf_free(&w.buf);
		return cn_err_wrap(err, "failed to process \"%.*s\"",
				   lx.n > 200 ? 200 : (int)lx.n, text);
	}
	words_flush(&w);
	cn_buf_free(&w.buf);
	if (word)
		*word = cn_buf_detach(&res);
	if (words) {
		for (size_t i = 0; i < split.n; i++)
			cn_strv_push(words, CN_TAKE_PTR(split.v[i]));
	}
	return 0;
}

int bf_expand_word(const char *word, char escape, const cn_strv *env, char **out,
		   cn_strv *unmatched, cn_err *err)
{
	struct bf_lex_opts opts = { .unmatched = unmatched };
	return bf_expand(word, escape, env, &opts, out, NULL, err);
}

int bf_expand_words(const char *text, char escape, const cn_strv *env, cn_strv *out,
		    cn_err *err)
{
	return bf_expand(text, escape, env, NULL, NULL, out, err);
}
