/* The wildcard matcher shared by COPY sources and ignore files (see
 * glob.h). A pattern becomes tokens, and matching runs them as an NFA over
 * byte positions: each position keeps the set of tokens some way of
 * matching has reached there, and every step moves forward by one byte (a
 * literal, a filepath.Match '*') or one character (at most 4 bytes), so a
 * ring of 5 sets is all the memory a match needs. */
#include "builder/glob.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>

enum tok_type { T_LIT, T_STAR, T_QUEST, T_CLASS, T_DSTAR_MID, T_DSTAR_END };

struct bf_glob_tok {
	unsigned char type;
	char lit;               /* T_LIT: one byte */
	uint32_t off;           /* T_CLASS: offset of the text after '[' */
};

/* ---- syntax ---- */

/* One class character at P[*I] (Go's getEsc): escapes allowed; a bare '-'
 * or ']', the end of the pattern, an invalid UTF-8 byte are malformed, and
 * so is a class that ends right after it. */
static const char *class_char(const char *p, size_t n, size_t *i, uint32_t *c)
{
	size_t k;
	if (*i >= n || p[*i] == '-' || p[*i] == ']')
		return "malformed character class";
	if (p[*i] == '\\' && ++*i >= n)
		return "character class ends with a backslash";
	k = cn_utf8_decode(p + *i, n - *i, c);
	if (cn_utf8_invalid(*c, k))
		return "invalid UTF-8 in a character class";
	*i += k;
	if (*i >= n)
		return "unterminated character class";
	return NULL;
}

/* Parses the class at P[*I] (just past '['), moving *I past its ']'. With
 * CH given, *HIT tells whether the class holds it. Returns why a class is
 * malformed, or NULL. */
static const char *parse_class(const char *p, size_t n, size_t *i, unsigned flags,
			       const uint32_t *ch, bool *hit)
{
	bool neg = false, in = false;
	if (*i < n && p[*i] == '^') {
		neg = true;
		++*i;
	}
	for (int nrange = 0;; nrange++) {
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
			if (hi < lo && (flags & BF_GLOB_RANGE_ORDER))
				return "character range out of order";
		}
		if (ch && lo <= *ch && *ch <= hi)
			in = true;
	}
	if (hit)
		*hit = in != neg;
	return NULL;
}

static void add_tok(struct bf_glob *g, size_t *cap, struct bf_glob_tok t)
{
	cn_xgrow((void **)&g->toks, cap, g->ntoks + 1, sizeof(*g->toks));
	g->toks[g->ntoks++] = t;
}

const char *bf_glob_compile(struct bf_glob *g, const char *pat, size_t n, unsigned flags)
{
	size_t cap = 0;
	*g = (struct bf_glob){ .flags = flags };
	for (size_t i = 0; i < n;) {
		const char *why = NULL;
		if (pat[i] == '*' && i + 1 < n && pat[i + 1] == '*' && (flags & BF_GLOB_DOUBLESTAR)) {
			i += 2;
			if (i < n && pat[i] == '/')
				i++;
			add_tok(g, &cap, (struct bf_glob_tok){ .type = i == n ? T_DSTAR_END : T_DSTAR_MID });
		} else if (pat[i] == '*') {
			i++;
			add_tok(g, &cap, (struct bf_glob_tok){ .type = T_STAR });
		} else if (pat[i] == '?') {
			i++;
			add_tok(g, &cap, (struct bf_glob_tok){ .type = T_QUEST });
		} else if (pat[i] == '[') {
			struct bf_glob_tok t = { .type = T_CLASS, .off = (uint32_t)(i + 1) };
			i++;
			why = parse_class(pat, n, &i, flags, NULL, NULL);
			add_tok(g, &cap, t);
		} else {
			if (pat[i] == '\\' && ++i >= n)
				why = "pattern ends with a backslash";
			else
				add_tok(g, &cap, (struct bf_glob_tok){ .type = T_LIT, .lit = pat[i++] });
		}
		if (why) {
			bf_glob_free(g);
			return why;
		}
	}
	g->text = cn_xstrndup(pat, n);
	g->len = n;
	return NULL;
}

void bf_glob_free(struct bf_glob *g)
{
	free(g->text);
	free(g->toks);
	*g = (struct bf_glob){ 0 };
}

/* ---- matching ---- */

#define RING 5                  /* a step moves at most 4 bytes */
#define STACK_TOKS 256          /* set size matched without the heap */

/* Set bits: AT = about to match token i; IN = inside the "anything ending
 * in '/'" of a T_DSTAR_MID, which is left only through a '/' (only AT may
 * skip it). */
#define AT 1
#define IN 2

static bool eps(const struct bf_glob_tok *t)
{
	return t->type == T_STAR || t->type == T_DSTAR_MID || t->type == T_DSTAR_END;
}

static bool run(const struct bf_glob *g, const char *s, size_t len, bool viable)
{
	size_t nt = g->ntoks, w = nt + 1, live = 0;   /* LIVE: the furthest position reached */
	unsigned char stack[RING * (STACK_TOKS + 1)];
	unsigned char *rows = w <= STACK_TOKS + 1 ? stack : cn_xmalloc(RING * w);
	bool ok = false;

	memset(rows, 0, RING * w);
	rows[0] = AT;
	for (size_t pos = 0; pos <= live; pos++) {
		unsigned char *cur = rows + (pos % RING) * w;
		uint32_t r;
		size_t rl;
#define REACH(k, i, bit) do { rows[((pos + (k)) % RING) * w + (i)] |= (bit);             \
			      if (pos + (k) > live) live = pos + (k); } while (0)

		for (size_t i = 0; i < nt; i++)         /* '*' and "**" may match nothing */
			if ((cur[i] & AT) && eps(&g->toks[i]))
				cur[i + 1] |= AT;
		if (pos == len) {
			if (!viable)
				ok = cur[nt] & AT;
			for (size_t i = 0; viable && i < nt && !ok; i++)
				ok = cur[i] != 0;
			break;
		}
		rl = cn_utf8_decode(s + pos, len - pos, &r);
		for (size_t i = 0; i < nt; i++) {
			const struct bf_glob_tok *t = &g->toks[i];
			bool hit;
			size_t ci;
			if (!cur[i])
				continue;
			switch (t->type) {
			case T_LIT:
				if (s[pos] == t->lit)
					REACH(1, i + 1, AT);
				break;
			case T_STAR:
				if (r != '/')
					REACH((g->flags & BF_GLOB_RUNE_STAR) ? rl : 1, i, AT);
				break;
			case T_QUEST:
				if (r != '/')
					REACH(rl, i + 1, AT);
				break;
			case T_CLASS:
				ci = t->off;
				parse_class(g->text, g->len, &ci, g->flags, &r, &hit);
				if (hit)
					REACH(rl, i + 1, AT);
				break;
			case T_DSTAR_MID:
				if (r != '\n')
					REACH(rl, i, IN);
				if (r == '/')
					REACH(rl, i + 1, AT);
				break;
			default:        /* T_DSTAR_END */
				if (r != '\n')
					REACH(rl, i, AT);
				break;
			}
		}
#undef REACH
		memset(cur, 0, w);      /* this row serves pos + RING next */
	}
	if (rows != stack)
		free(rows);
	return ok;
}

bool bf_glob_match(const struct bf_glob *g, const char *s, size_t len)
{
	return run(g, s, len, false);
}

bool bf_glob_viable(const struct bf_glob *g, const char *s, size_t len)
{
	return run(g, s, len, true);
}

/* ---- escaping ---- */

bool bf_glob_has_meta(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		else if (*s == '*' || *s == '?' || *s == '[')
			return true;
	}
	return false;
}

char *bf_glob_escape(const char *s)
{
	cn_buf out;
	cn_buf_init(&out, 0);
	for (; *s; s++) {
		if (strchr("*?[\\", *s))
			cn_buf_addc(&out, '\\');
		cn_buf_addc(&out, *s);
	}
	return cn_buf_detach(&out);
}

char *bf_glob_unescape(const char *s)
{
	char *out = cn_xmalloc(strlen(s) + 1), *q = out;
	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		*q++ = *s;
	}
	*q = '\0';
	return out;
}
