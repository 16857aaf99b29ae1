/* Buildfile parser. The behaviour (logical lines, directives, flags, the
 * per-instruction line parsers, JSON form, heredocs and the dump) follows
 * the conformance corpus description, dockerfile-parser/README.md, so that
 * the AST matches BuildKit's. */
#include "builder/parse.h"
#include "builder/expand.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 10000      /* Go's encoding/json limit */
#define ONBUILD_MAX_DEPTH 8       /* ONBUILD ONBUILD ...: bounds the recursion */

struct parser {
	const char *name;
	const char *data;
	size_t len, pos;
	int lineno;                /* physical line last read, 1-based */
	char escape;
	bool directives_done;
	unsigned seen;             /* directives already given, DIR_* bits */
	struct bf_file *f;
	size_t nodes_cap;
	cn_err *err;
};

enum { DIR_SYNTAX = 1, DIR_ESCAPE = 2, DIR_CHECK = 4 };

/* A physical line: text without its line ending, and the whole of it. */
struct pline {
	const char *s;
	size_t n;                  /* trailing '\r' and '\n' removed */
	size_t full;               /* including the newline */
};

/* ---- characters ---- */

/* The separators of BuildKit's whitespace splits: [\t\v\f\r ]. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_ascii_space(char c)
{
	return is_blank(c) || c == '\n';
}

/* Length of the Unicode white space at the start of S. */
static size_t lead_space(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned cp;
		size_t k = bf_utf8_decode(s + i, n - i, &cp);
		if (!bf_unicode_space(cp))
			break;
		i += k;
	}
	return i;
}

/* Go's strings.TrimSpace. */
static void trim_space(const char **s, size_t *n)
{
	size_t lead = lead_space(*s, *n), end = lead;
	for (size_t i = lead; i < *n;) {
		unsigned cp;
		i += bf_utf8_decode(*s + i, *n - i, &cp);
		if (!bf_unicode_space(cp))
			end = i;
	}
	*s += lead;
	*n = end - lead;
}

/* ---- errors ---- */

static int perr(struct parser *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "NAME:LINE:COLUMN: message" */
static int perr(struct parser *p, int line, int col, const char *fmt, ...)
{
	char msg[CN_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cn_err_set(p->err, 0, "%s:%d:%d: %s", p->name, line, col, msg);
}

int bf_node_column(const struct bf_node *nd, const char *token)
{
	const char *at;
	/* original is the line from its keyword on; joined lines shift columns. */
	size_t kw = nd->original ? strcspn(nd->original, " \t\v\f\r") : 0;
	/* Searched after the keyword: a short word could match inside it. */
	if (!token || !*token || nd->start_line != nd->end_line || !nd->original ||
	    !(at = strstr(nd->original + kw, token)))
		return nd->column;
	return nd->column + (int)(at - nd->original);
}

/* ---- Go's strconv.Quote, for the dump and for messages ---- */

/* Go's unicode.IsPrint, approximated outside ASCII: controls, format
 * characters, separators other than ' ', surrogates, private use,
 * noncharacters and the large unassigned planes are not printable. */
static bool go_isprint(unsigned cp)
{
	static const struct { unsigned lo, hi; } np[] = {
		{ 0x80, 0xA0 }, { 0xAD, 0xAD }, { 0x600, 0x605 }, { 0x61C, 0x61C },
		{ 0x6DD, 0x6DD }, { 0x70F, 0x70F }, { 0x890, 0x891 }, { 0x8E2, 0x8E2 },
		{ 0x1680, 0x1680 }, { 0x180E, 0x180E }, { 0x2000, 0x200F }, { 0x2028, 0x202F },
		{ 0x205F, 0x2064 }, { 0x2066, 0x206F }, { 0x3000, 0x3000 }, { 0xD800, 0xF8FF },
		{ 0xFDD0, 0xFDEF }, { 0xFEFF, 0xFEFF }, { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD },
		{ 0x110CD, 0x110CD }, { 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A },
		{ 0x323B0, 0xE00FF }, { 0xE01F0, 0x10FFFF },
	};
	if (cp < 0x80)
		return cp >= 0x20 && cp < 0x7F;
	if ((cp & 0xFFFE) == 0xFFFE)
		return false;
	for (size_t i = 0; i < CN_ARRAY_SIZE(np); i++)
		if (cp >= np[i].lo && cp <= np[i].hi)
			return false;
	return true;
}

static void go_quote(cn_buf *b, const char *s, size_t n)
{
	cn_buf_addc(b, '"');
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t k = bf_utf8_decode(s + i, n - i, &cp);
		const char *esc = NULL;
		switch (cp) {
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\v': esc = "\\v"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		default: break;
		}
		if (esc)
			cn_buf_adds(b, esc);
		else if (cp > 0x10FFFF || cp < 0x20 || cp == 0x7F)
			cn_buf_addf(b, "\\x%02x", (unsigned char)s[i]);   /* invalid byte or control */
		else if (go_isprint(cp))
			cn_buf_add(b, s + i, k);
		else if (cp < 0x10000)
			cn_buf_addf(b, "\\u%04x", cp);
		else
			cn_buf_addf(b, "\\U%08x", cp);
		i += k;
	}
	cn_buf_addc(b, '"');
}

/* A quoted copy for error messages. */
static char *quoted(const char *s)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	go_quote(&b, s, strlen(s));
	return cn_buf_detach(&b);
}

/* ---- reading physical lines ---- */

/* Returns 1 with the next line, 0 at the end, -1 for a line over the cap. */
static int next_line(struct parser *p, struct pline *l)
{
	const char *s = p->data + p->pos, *nl;
	size_t avail = p->len - p->pos, n;

	if (avail == 0)
		return 0;
	nl = memchr(s, '\n', avail);
	l->full = nl ? (size_t)(nl - s) + 1 : avail;
	p->pos += l->full;
	p->lineno++;
	n = nl ? (size_t)(nl - s) : avail;
	if (n > BF_MAX_LINE)
		return perr(p, p->lineno, BF_MAX_LINE + 1, "line is longer than the maximum of %d bytes "
			    "(expected shorter lines; continue with the escape character)", BF_MAX_LINE);
	/* A UTF-8 byte order mark is dropped from the first line. */
	if (p->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3, n -= 3, l->full -= 3;
	}
	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	l->s = s;
	l->n = n;
	return 1;
}

/* ---- parser directives ---- */

/* RE2's \s. */
static bool re_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int set_directive(struct parser *p, const char *key, const char *val, size_t vlen)
{
	unsigned bit = !strcmp(key, "syntax") ? DIR_SYNTAX : !strcmp(key, "escape") ? DIR_ESCAPE :
		       DIR_CHECK;
	if (p->seen & bit)
		return perr(p, p->lineno, 1, "only one %s parser directive can be used (expected it once, "
			    "at the top)", key);
	p->seen |= bit;
	if (bit == DIR_ESCAPE) {
		if (vlen != 1 || (val[0] != '`' && val[0] != '\\'))
			return perr(p, p->lineno, 1, "invalid escape token '%.*s' does not match ` or \\ "
				    "(expected # escape=` or # escape=\\)", (int)vlen, val);
		p->escape = val[0];
	} else if (bit == DIR_SYNTAX) {
		p->f->syntax = cn_xstrndup(val, vlen);
	}
	return 0;
}

/* "# key = value" at the top of the file, for key syntax, escape or check.
 * The first line that is not one ends the directives for good. Returns 1
 * for a directive, 0 otherwise, -1 on error. S has no leading blanks. */
static int directive(struct parser *p, const char *s, size_t n)
{
	size_t i, k0, k1, v0;
	char key[8];

	if (p->directives_done)
		return 0;
	p->directives_done = true;
	if (n == 0 || s[0] != '#')
		return 0;
	i = 1 + lead_space(s + 1, n - 1);
	k0 = i;
	if (i >= n || !((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
		return 0;
	while (i < n && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') || (s[i] >= '0' && s[i] <= '9')))
		i++;
	k1 = i;
	while (i < n && re_space(s[i]))
		i++;
	if (i >= n || s[i] != '=')
		return 0;
	for (i++, v0 = i; i < n && re_space(s[i]);)
		i++;
	/* The value is at least one character: with only blanks after '='
	 * (the regexp (.+?) gets the last one). */
	if (i == n) {
		if (v0 == n)
			return 0;
		i = n - 1;
	}
	while (n > i + 1 && re_space(s[n - 1]))
		n--;
	if (k1 - k0 >= sizeof(key))
		return 0;
	for (size_t j = k0; j < k1; j++)
		key[j - k0] = (char)(s[j] | 0x20);
	key[k1 - k0] = '\0';
	if (strcmp(key, "syntax") && strcmp(key, "escape") && strcmp(key, "check"))
		return 0;
	p->directives_done = false;
	if (set_directive(p, key, s + i, n - i) < 0)
		return -1;
	return 1;
}

/* ---- node construction helpers ---- */

static void node_arg(struct bf_node *nd, const char *s, size_t n)
{
	/* Copied by length, not as a C string: S may hold a NUL. */
	char *copy = cn_xmalloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	cn_strv_push(&nd->args, copy);
	nd->arglens = cn_xrealloc(nd->arglens, nd->args.cap * sizeof(*nd->arglens));
	nd->arglens[nd->args.n - 1] = n;
}

static void node_free(struct bf_node *nd)
{
	free(nd->keyword);
	free(nd->original);
	cn_strv_free(&nd->flags);
	cn_strv_free(&nd->args);
	free(nd->arglens);
	if (nd->onbuild) {
		node_free(nd->onbuild);
		free(nd->onbuild);
	}
	for (size_t i = 0; i < nd->nheredocs; i++) {
		free(nd->heredocs[i].name);
		free(nd->heredocs[i].content);
	}
	free(nd->heredocs);
	memset(nd, 0, sizeof(*nd));
}

/* ---- JSON (as Go's encoding/json accepts it) ---- */

static const char *json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Four hex digits after "\u" at P, or -1. */
static long json_u4(const char *p, const char *end)
{
	long v = 0;
	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static void utf8_put(cn_buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	cn_buf_add(b, u, n);
}

/* "\uXXXX" at P (already validated), with Go's surrogate rules: a valid
 * pair is one character, a lone surrogate is U+FFFD. Returns its length. */
static size_t json_unicode(const char *p, const char *end, cn_buf *out)
{
	long cp = json_u4(p, end), lo;
	if (cp >= 0xD800 && cp <= 0xDFFF) {
		lo = json_u4(p + 6, end);
		if (cp < 0xDC00 && lo >= 0xDC00 && lo <= 0xDFFF) {
			utf8_put(out, 0x10000u + (((unsigned)cp - 0xD800u) << 10) + ((unsigned)lo - 0xDC00u));
			return 12;
		}
		cp = 0xFFFD;
	}
	utf8_put(out, (unsigned)cp);
	return 6;
}

/* A string at P (at its '"'): returns the position after it, or NULL when
 * malformed. Decodes into OUT unless it is NULL; invalid UTF-8 becomes
 * U+FFFD as in Go. */
static const char *json_string(const char *p, const char *end, cn_buf *out)
{
	for (p++; p < end;) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			const char *simple = "\"\\/bfnrt", *dec = "\"\\/\b\f\n\r\t", *hit;
			if (p + 1 >= end)
				return NULL;
			if (p[1] == 'u') {
				if (json_u4(p, end) < 0)
					return NULL;
				if (out)
					p += json_unicode(p, end, out);
				else
					p += 6;
				continue;
			}
			hit = strchr(simple, p[1]);
			if (!hit || !p[1])
				return NULL;
			if (out)
				cn_buf_addc(out, dec[hit - simple]);
			p += 2;
			continue;
		}
		unsigned cp;
		size_t k = bf_utf8_decode(p, (size_t)(end - p), &cp);
		if (out) {
			if (cp > 0x10FFFF)
				utf8_put(out, 0xFFFD);
			else
				cn_buf_add(out, p, k);
		}
		p += k;
	}
	return NULL;
}

static const char *json_digits(const char *p, const char *end)
{
	const char *s = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p > s ? p : NULL;
}

static const char *json_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (!(p = json_digits(p, end)))
		return NULL;
	if (p < end && *p == '.' && !(p = json_digits(p + 1, end)))
		return NULL;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!(p = json_digits(p, end)))
			return NULL;
	}
	return p;
}

static const char *json_scalar(const char *p, const char *end)
{
	static const char *const lits[] = { "true", "false", "null" };
	if (*p == '"')
		return json_string(p, end, NULL);
	for (size_t i = 0; i < CN_ARRAY_SIZE(lits); i++) {
		size_t l = strlen(lits[i]);
		if ((size_t)(end - p) >= l && memcmp(p, lits[i], l) == 0)
			return p + l;
	}
	if (*p == '-' || (*p >= '0' && *p <= '9'))
		return json_number(p, end);
	return NULL;
}

/* An object member's key and ':' . */
static const char *json_key(const char *p, const char *end)
{
	p = json_ws(p, end);
	if (p == end || *p != '"' || !(p = json_string(p, end, NULL)))
		return NULL;
	p = json_ws(p, end);
	return p < end && *p == ':' ? p + 1 : NULL;
}

/* True when [p, end) is one JSON value and white space. Iterative, so that
 * deep nesting cannot exhaust the C stack. */
static bool json_valid(const char *p, const char *end)
{
	char stack[JSON_MAX_DEPTH];
	size_t depth = 0;

	for (;;) {
		p = json_ws(p, end);                         /* a value */
		if (p == end)
			return false;
		if (*p == '[' || *p == '{') {
			if (depth == JSON_MAX_DEPTH)
				return false;
			stack[depth++] = *p == '[' ? ']' : '}';
			p = json_ws(p + 1, end);
			if (p == end || *p != stack[depth - 1]) {
				if (stack[depth - 1] == '}' && !(p = json_key(p, end)))
					return false;
				continue;                    /* its first element */
			}
			depth--;
			p++;
		} else if (!(p = json_scalar(p, end))) {
			return false;
		}
		for (;;) {                                   /* after a value */
			p = json_ws(p, end);
			if (depth == 0)
				return p == end;
			if (p == end)
				return false;
			if (*p == stack[depth - 1]) {
				depth--;
				p++;
				continue;
			}
			if (*p != ',')
				return false;
			p++;
			if (stack[depth - 1] == '}' && !(p = json_key(p, end)))
				return false;
			break;
		}
	}
}

/* TEXT as a JSON array of strings: 1 and the elements as args, 0 when it
 * is not a JSON array at all (then it is shell text), -1 for a JSON array
 * with an element that is not a string. */
static int json_array(const char *s, size_t n, struct bf_node *nd)
{
	const char *end = s + n, *p;

	if (n == 0 || s[0] != '[' || !json_valid(s, end))
		return 0;
	p = json_ws(s + 1, end);
	if (*p == ']')
		return 1;
	for (;;) {
		cn_buf b;
		p = json_ws(p, end);
		if (*p != '"') {
			cn_strv_free(&nd->args);
			free(CN_TAKE_PTR(nd->arglens));
			return -1;
		}
		cn_buf_init(&b, 0);
		p = json_string(p, end, &b);
		node_arg(nd, b.data, b.len);
		cn_buf_free(&b);
		p = json_ws(p, end);
		if (*p != ',')
			return 1;
		p++;
	}
}

/* ---- line parsers: argument text -> node args ---- */

typedef int (*line_parser)(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth);

static int parse_ignore(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)p, (void)s, (void)n, (void)depth;
	node_arg(nd, "", 0);
	return 0;
}

static int parse_string(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)p, (void)depth;
	if (n)
		node_arg(nd, s, n);
	return 0;
}

/* Split on runs of [\t\v\f\r ] (the text is already trimmed). */
static int parse_ws_list(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)p, (void)depth;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && !is_blank(s[j]))
			j++;
		node_arg(nd, s + i, j - i);
		while (j < n && is_blank(s[j]))
			j++;
		i = j;
	}
	return 0;
}

static int json_or(struct parser *p, const char *s, size_t n, struct bf_node *nd, bool list)
{
	int r = json_array(s, n, nd);
	if (r < 0)
		return cn_err_set(p->err, 0, "when using JSON array syntax, arrays must be "
				  "comprised of strings only (expected [\"a\", \"b\"])");
	if (r > 0) {
		nd->json = true;
		return 0;
	}
	if (list)
		return parse_ws_list(p, s, n, nd, 0);
	return parse_string(p, s, n, nd, 0);
}

/* RUN, CMD, ENTRYPOINT, SHELL: a JSON array, else the text as one arg. */
static int parse_maybe_json(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return n ? json_or(p, s, n, nd, false) : 0;
}

/* ADD, COPY, VOLUME: a JSON array, else whitespace-separated words. */
static int parse_json_or_list(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return json_or(p, s, n, nd, true);
}

enum wphase { W_SPACE, W_WORD, W_QUOTE };

/* Quote-aware words, quotes and escapes kept (ARG, ENV, LABEL). */
static void parse_words(const char *s, size_t n, char escape, cn_strv *out)
{
	enum wphase ph = W_SPACE;
	bool blank_ok = false;
	unsigned quote = 0;
	cn_buf w;

	cn_buf_init(&w, 0);
	for (size_t pos = 0; pos < n;) {
		unsigned cp;
		size_t k = bf_utf8_decode(s + pos, n - pos, &cp);
		if (ph == W_SPACE) {
			if (bf_unicode_space(cp)) {
				pos += k;
				continue;
			}
			ph = W_WORD;
		}
		if (ph == W_WORD && bf_unicode_space(cp)) {
			if (blank_ok || w.len)
				cn_strv_push(out, cn_buf_detach(&w));
			ph = W_SPACE;
			blank_ok = false;
			pos += k;
			continue;
		}
		if (ph == W_WORD && (cp == '\'' || cp == '"')) {
			quote = cp;
			blank_ok = true;
			ph = W_QUOTE;
		} else if (ph == W_QUOTE && cp == quote) {
			ph = W_WORD;
		} else if (cp == (unsigned char)escape && (ph == W_WORD || quote != '\'')) {
			/* The escape and what it escapes are both kept; one at
			 * the very end is dropped. */
			if (pos + k == n) {
				ph = W_WORD;
				pos += k;
				continue;
			}
			cn_buf_add(&w, s + pos, k);
			pos += k;
			k = bf_utf8_decode(s + pos, n - pos, &cp);
		}
		cn_buf_add(&w, s + pos, k);
		pos += k;
	}
	if (ph != W_SPACE && (blank_ok || w.len))
		cn_strv_push(out, cn_buf_detach(&w));
	cn_buf_free(&w);
}

static int parse_arg(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	cn_strv words = { 0 };
	(void)depth;
	parse_words(s, n, p->escape, &words);
	for (size_t i = 0; i < words.n; i++)
		node_arg(nd, words.v[i], strlen(words.v[i]));
	cn_strv_free(&words);
	return 0;
}

/* ENV and LABEL: "key value" (old form) or key=value words; args come in
 * triples key, value, separator. */
static int parse_name_val(struct parser *p, const char *s, size_t n, struct bf_node *nd,
			  const char *what)
{
	_cleanup_strv_ cn_strv words = { 0 };
	size_t k = 0, j;

	parse_words(s, n, p->escape, &words);
	if (!words.n)
		return 0;
	if (!strchr(words.v[0], '=')) {
		while (k < n && !is_blank(s[k]))
			k++;
		if (k == n)
			return cn_err_set(p->err, 0, "must have two arguments (expected %s KEY=VALUE or "
					  "%s KEY VALUE)", what, what);
		for (j = k; j < n && is_blank(s[j]);)
			j++;
		node_arg(nd, s, k);
		node_arg(nd, s + j, n - j);
		node_arg(nd, "", 0);
		return 0;
	}
	for (size_t i = 0; i < words.n; i++) {
		const char *eq = strchr(words.v[i], '=');
		if (!eq) {
			_cleanup_free_ char *q = quoted(words.v[i]);
			return cn_err_set(p->err, 0, "Syntax error - can't find = in %s. Must be of "
					  "the form: name=value (expected %s KEY=VALUE...)", q, what);
		}
		node_arg(nd, words.v[i], (size_t)(eq - words.v[i]));
		node_arg(nd, eq + 1, strlen(eq + 1));
		node_arg(nd, "=", 1);
	}
	return 0;
}

static int parse_env(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return parse_name_val(p, s, n, nd, "ENV");
}

static int parse_label(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return parse_name_val(p, s, n, nd, "LABEL");
}

/* HEALTHCHECK: the type word, then the rest as CMD would parse it. */
static int parse_health(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	size_t sep = 0, next;
	(void)depth;
	while (sep < n && !is_ascii_space(s[sep]))
		sep++;
	if (sep == 0)
		return 0;
	for (next = sep; next < n && is_ascii_space(s[next]);)
		next++;
	node_arg(nd, s, sep);
	return parse_maybe_json(p, s + next, n - next, nd, 0);
}

static int node_from_line(struct parser *p, const char *line, size_t n, struct bf_node *nd,
			  int depth);

/* ONBUILD: the rest is an instruction of its own. */
static int parse_onbuild(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	if (n == 0)
		return 0;
	if (depth >= ONBUILD_MAX_DEPTH)
		return cn_err_set(p->err, 0, "ONBUILD nested too deeply (expected ONBUILD INSTRUCTION)");
	nd->onbuild = cn_xcalloc(1, sizeof(*nd->onbuild));
	nd->onbuild->start_line = nd->start_line;
	nd->onbuild->end_line = nd->end_line;
	nd->onbuild->column = nd->column;
	return node_from_line(p, s, n, nd->onbuild, depth + 1);
}

static const struct {
	const char *keyword;
	line_parser fn;
} line_parsers[] = {
	{ "add", parse_json_or_list }, { "arg", parse_arg }, { "cmd", parse_maybe_json },
	{ "copy", parse_json_or_list }, { "entrypoint", parse_maybe_json }, { "env", parse_env },
	{ "expose", parse_ws_list }, { "from", parse_ws_list }, { "healthcheck", parse_health },
	{ "label", parse_label }, { "maintainer", parse_string }, { "onbuild", parse_onbuild },
	{ "run", parse_maybe_json }, { "shell", parse_maybe_json }, { "stopsignal", parse_string },
	{ "user", parse_string }, { "volume", parse_json_or_list }, { "workdir", parse_string },
};

/* ---- flags ---- */

/* Reads one flag word at *pos (which starts with "--"): quotes removed,
 * the escape character escaping the next one. Sets *quoted when the word
 * had quotes (an empty quoted word still counts). */
static char *flag_word(const char *s, size_t n, size_t *pos, char escape, bool *quoted)
{
	cn_buf w;
	char quote = 0;
	size_t i = *pos;

	cn_buf_init(&w, 0);
	*quoted = false;
	while (i < n && (quote || !is_ascii_space(s[i]))) {
		char c = s[i++];
		if (!quote && (c == '\'' || c == '"')) {
			quote = c;
			*quoted = true;
			continue;
		}
		if (quote && c == quote) {
			quote = 0;
			continue;
		}
		if (c == escape) {
			if (i == n) {
				quote = 0;
				continue;
			}
			c = s[i++];
		}
		cn_buf_addc(&w, c);
	}
	*pos = i;
	return cn_buf_detach(&w);
}

/* Leading "--" words of S become flags; a bare "--" ends them and is
 * dropped. Returns the offset of the remaining argument text. */
static size_t extract_flags(const char *s, size_t n, char escape, cn_strv *flags)
{
	size_t pos = 0;

	for (;;) {
		bool quoted;
		char *w;

		while (pos < n && is_ascii_space(s[pos]))
			pos++;
		if (pos == n || !(s[pos] == '-' && pos + 1 < n && s[pos + 1] == '-'))
			return pos;
		w = flag_word(s, n, &pos, escape, &quoted);
		if (strcmp(w, "--") == 0) {
			free(w);
			return pos;
		}
		if (quoted || *w)
			cn_strv_push(flags, w);
		else
			free(w);
	}
}

/* ---- instructions ---- */

static void ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

/* Keyword, flags and argument text of a logical line, then the keyword's
 * line parser. Errors carry no location (the caller adds it). */
static int node_from_line(struct parser *p, const char *line, size_t n, struct bf_node *nd,
			  int depth)
{
	size_t kw = 0, rest;
	const char *args = "";
	size_t nargs = 0;
	line_parser fn = parse_ignore;

	trim_space(&line, &n);
	nd->original = cn_xstrndup(line, n);
	while (kw < n && !is_blank(line[kw]))
		kw++;
	nd->keyword = cn_xstrndup(line, kw);
	ascii_lower(nd->keyword);
	for (rest = kw; rest < n && is_blank(line[rest]);)
		rest++;
	if (rest < n) {
		size_t off = extract_flags(line + rest, n - rest, p->escape, &nd->flags);
		args = line + rest + off;
		nargs = n - rest - off;
		trim_space(&args, &nargs);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(line_parsers); i++)
		if (strcmp(nd->keyword, line_parsers[i].keyword) == 0)
			fn = line_parsers[i].fn;
	return fn(p, args, nargs, nd, depth);
}

/* ---- heredocs ---- */

static size_t count_quotes(const char *s)
{
	size_t c = 0;
	for (; *s; s++)
		c += *s == '\'' || *s == '"';
	return c;
}

/* One word of the instruction line: is it "[fd]<<[-]name"? Returns 1 and
 * fills HD, 0 if not, -1 on error. The name is the word with quotes
 * removed; quoting any part of it turns expansion off. */
static int heredoc_word(struct parser *p, const char *w, struct bf_heredoc *hd)
{
	_cleanup_strv_ cn_strv plain = { 0 };
	_cleanup_strv_ cn_strv raw = { 0 };
	struct bf_lex_opts o1 = { BF_LEX_SKIP_UNSET, NULL, NULL };
	struct bf_lex_opts o2 = { BF_LEX_SKIP_UNSET | BF_LEX_RAW_QUOTES, NULL, NULL };
	size_t i = 0;
	unsigned long fd = 0;
	bool chomp;
	const char *rest;

	while (w[i] >= '0' && w[i] <= '9') {
		fd = fd > 100000000ul ? ULONG_MAX : fd * 10 + (unsigned long)(w[i] - '0');
		i++;
	}
	if (w[i] != '<' || w[i + 1] != '<')
		return 0;
	i += 2;
	chomp = w[i] == '-';
	i += chomp;
	while (re_space(w[i]))
		i++;
	rest = w + i;
	if (!*rest || strchr(rest, '<'))
		return 0;
	if (bf_expand(rest, '\\', NULL, &o1, NULL, &plain, p->err) < 0)
		return -1;
	if (plain.n != 1)
		return 0;
	if (bf_expand(rest, '\\', NULL, &o2, NULL, &raw, p->err) < 0)
		return -1;
	if (raw.n != 1)
		return cn_err_set(p->err, 0, "internal lexing of heredoc produced inconsistent "
				  "results: %s", rest);
	hd->name = CN_TAKE_PTR(plain.v[0]);
	hd->expand = count_quotes(hd->name) == count_quotes(raw.v[0]);
	hd->chomp = chomp;
	hd->fd = fd > INT32_MAX ? 0 : (int)fd;
	return 1;
}

/* Only ADD, COPY and RUN (possibly under ONBUILD), in shell form. */
static bool can_have_heredoc(const struct bf_node *nd)
{
	if (nd->onbuild && strcmp(nd->keyword, "onbuild") == 0)
		nd = nd->onbuild;
	if (strcmp(nd->keyword, "add") && strcmp(nd->keyword, "copy") && strcmp(nd->keyword, "run"))
		return false;
	return !nd->json;
}

/* The lines after the instruction up to the terminator (tabs before it
 * ignored for <<-) are the body. */
static int read_heredoc_body(struct parser *p, struct bf_heredoc *hd, int start, int col,
			     const char *kw)
{
	cn_buf body;
	struct pline l;
	size_t nlen = strlen(hd->name);
	int r;

	cn_buf_init(&body, 0);
	while ((r = next_line(p, &l)) > 0) {
		const char *s = l.s;
		size_t n = l.n;
		while (hd->chomp && n && *s == '\t')
			s++, n--;
		if (n == nlen && memcmp(s, hd->name, n) == 0) {
			hd->content = cn_buf_detach(&body);
			return 0;
		}
		cn_buf_add(&body, l.s, l.full);
	}
	cn_buf_free(&body);
	if (r < 0)
		return -1;
	return perr(p, start, col, "%s: unterminated heredoc (expected a line '%s' ending it)", kw, hd->name);
}

/* The keyword as users write it in messages: "RUN". */
static void keyword_upper(const struct bf_node *nd, char *out, size_t cap)
{
	size_t i = 0;
	for (; nd->keyword && nd->keyword[i] && i + 1 < cap; i++)
		out[i] = (char)toupper((unsigned char)nd->keyword[i]);
	out[i] = '\0';
}

static int read_heredocs(struct parser *p, const char *line, struct bf_node *nd)
{
	_cleanup_strv_ cn_strv words = { 0 };
	struct bf_lex_opts o = { BF_LEX_RAW_QUOTES | BF_LEX_RAW_ESCAPES | BF_LEX_SKIP_UNSET,
				 NULL, NULL };
	cn_err ignored;

	if (!strstr(line, "<<") || !can_have_heredoc(nd))
		return 0;
	/* A line the lexer rejects (say, an open quote) has no heredocs. */
	if (bf_expand(line, '\\', NULL, &o, NULL, &words, &ignored) < 0)
		return 0;
	for (size_t i = 0; i < words.n; i++) {
		struct bf_heredoc hd = { 0 };
		int r = heredoc_word(p, words.v[i], &hd);
		char kw[16];
		keyword_upper(nd, kw, sizeof(kw));
		if (r < 0)
			return cn_err_wrap(p->err, "%s:%d:%d: %s", p->name, nd->start_line,
					   bf_node_column(nd, "<<"), kw);
		if (r == 0)
			continue;
		nd->heredocs = cn_xrealloc(nd->heredocs, (nd->nheredocs + 1) * sizeof(*nd->heredocs));
		nd->heredocs[nd->nheredocs++] = hd;
		if (read_heredoc_body(p, &nd->heredocs[nd->nheredocs - 1], nd->start_line,
				      bf_node_column(nd, "<<"), kw) < 0)
			return -1;
	}
	return 0;
}

/* ---- logical lines ---- */

/* A line continues when it ends with the escape character (then blanks),
 * not itself escaped. Returns the length without it, or N if it ends. */
static size_t continuation(const char *s, size_t n, char escape, bool *cont)
{
	size_t e = n;
	while (e && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	*cont = e && s[e - 1] == escape && (e == 1 || s[e - 2] != escape);
	return *cont ? e - 1 : n;
}

static bool is_comment(const char *s, size_t n)
{
	size_t lead = lead_space(s, n);
	return lead < n && s[lead] == '#';
}

/* Appends the continuation lines of an instruction to LINE. */
static int read_continuation(struct parser *p, cn_buf *line, int *empty_at)
{
	struct pline l;
	bool cont = true;
	int r;

	while (cont && (r = next_line(p, &l)) != 0) {
		if (r < 0)
			return -1;
		if (is_comment(l.s, l.n))
			continue;
		if (lead_space(l.s, l.n) == l.n) {
			if (!*empty_at)
				*empty_at = p->lineno;
			continue;
		}
		cn_buf_add(line, l.s, continuation(l.s, l.n, p->escape, &cont));
	}
	return 0;
}

static struct bf_node *new_node(struct parser *p)
{
	struct bf_file *f = p->f;
	cn_xgrow((void **)&f->nodes, &p->nodes_cap, f->nnodes + 1, sizeof(*f->nodes));
	memset(&f->nodes[f->nnodes], 0, sizeof(f->nodes[0]));
	return &f->nodes[f->nnodes++];
}

/* One instruction, starting at the physical line L (already known not to
 * be blank, a comment or a directive). */
static int instruction(struct parser *p, const struct pline *l, size_t lead)
{
	_cleanup_buf_ cn_buf line = { 0 };
	struct bf_node *nd;
	int start = p->lineno, empty_at = 0;
	bool cont;

	if (p->f->nnodes >= BF_MAX_INSTRUCTIONS)
		return perr(p, start, (int)lead + 1, "more than %d instructions (expected at most that many)",
			    BF_MAX_INSTRUCTIONS);
	cn_buf_init(&line, 0);
	cn_buf_add(&line, l->s + lead, continuation(l->s + lead, l->n - lead, p->escape, &cont));
	if (cont && read_continuation(p, &line, &empty_at) < 0)
		return -1;
	if (empty_at)
		cn_strv_push(&p->f->warnings,
			     cn_xasprintf("%s:%d: Empty continuation line found in: %s", p->name,
					  empty_at, line.data));
	nd = new_node(p);
	nd->start_line = start;
	nd->end_line = p->lineno;
	nd->column = (int)lead + 1;
	if (node_from_line(p, line.data, line.len, nd, 0) < 0) {
		char kw[16];
		size_t klen = strcspn(line.data, " \t\v\f\r");
		snprintf(kw, sizeof(kw), "%.*s", (int)(klen < 15 ? klen : 15), line.data);
		for (char *k = kw; *k; k++)
			*k = (char)toupper((unsigned char)*k);
		return cn_err_wrap(p->err, "%s:%d:%d: %s", p->name, start, nd->column, kw);
	}
	if (read_heredocs(p, line.data, nd) < 0)
		return -1;
	nd->end_line = p->lineno;
	if (nd->onbuild)
		nd->onbuild->end_line = p->lineno;
	return 0;
}

static int parse_all(struct parser *p)
{
	struct pline l;
	int r;

	if (p->len > BF_MAX_FILE)
		return cn_err_set(p->err, 0, "%s:1:1: larger than the maximum of %u bytes", p->name,
				  BF_MAX_FILE);
	/* Nodes hold C strings: a NUL byte in the text would cut them short. */
	const char *nul = p->len ? memchr(p->data, '\0', p->len) : NULL;
	if (nul) {
		int line = 1, col = 1;
		for (const char *c = p->data; c < nul; c++) {
			col = *c == '\n' ? 1 : col + 1;
			line += *c == '\n';
		}
		return perr(p, line, col, "NUL byte in the file (expected text)");
	}
	while ((r = next_line(p, &l)) != 0) {
		size_t lead;
		if (r < 0)
			return -1;
		lead = lead_space(l.s, l.n);
		r = directive(p, l.s + lead, l.n - lead);
		if (r < 0)
			return -1;
		if (r > 0 || lead == l.n || l.s[lead] == '#')
			continue;
		if (instruction(p, &l, lead) < 0)
			return -1;
	}
	if (p->f->nnodes == 0)
		return perr(p, p->lineno ? p->lineno : 1, 1, "file with no instructions (expected at least FROM)");
	return 0;
}

int bf_parse(const char *name, const char *data, size_t len, struct bf_file *out, cn_err *err)
{
	struct parser p = { .name = name, .data = data, .len = len, .escape = '\\', .err = err };

	memset(out, 0, sizeof(*out));
	p.f = out;
	if (parse_all(&p) < 0) {
		bf_file_free(out);
		return -1;
	}
	out->escape = p.escape;
	return 0;
}

void bf_file_free(struct bf_file *f)
{
	for (size_t i = 0; i < f->nnodes; i++)
		node_free(&f->nodes[i]);
	free(f->nodes);
	free(f->syntax);
	cn_strv_free(&f->warnings);
	memset(f, 0, sizeof(*f));
}

/* ---- dump ---- */

static void dump_node(const struct bf_node *nd, cn_buf *out)
{
	size_t mark = out->len;

	cn_buf_adds(out, nd->keyword);
	if (nd->flags.n) {
		cn_buf_adds(out, " [");
		for (size_t i = 0; i < nd->flags.n; i++) {
			if (i)
				cn_buf_addc(out, ' ');
			go_quote(out, nd->flags.v[i], strlen(nd->flags.v[i]));
		}
		cn_buf_addc(out, ']');
	}
	if (nd->onbuild) {
		cn_buf_adds(out, " (");
		dump_node(nd->onbuild, out);
		cn_buf_addc(out, ')');
	}
	for (size_t i = 0; i < nd->args.n; i++) {
		cn_buf_addc(out, ' ');
		go_quote(out, nd->args.v[i], nd->arglens[i]);
	}
	/* An empty keyword would leave a leading blank; BuildKit trims it. */
	if (!*nd->keyword && out->len > mark && out->data[mark] == ' ') {
		memmove(out->data + mark, out->data + mark + 1, out->len - mark);
		out->len--;
	}
}

void bf_dump(const struct bf_file *f, cn_buf *out)
{
	for (size_t i = 0; i < f->nnodes; i++) {
		cn_buf_addc(out, '(');
		dump_node(&f->nodes[i], out);
		cn_buf_adds(out, ")\n");
	}
}
