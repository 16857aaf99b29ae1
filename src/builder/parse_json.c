/* The JSON (exec) form of RUN, CMD, ENTRYPOINT, SHELL, ADD, COPY and
 * VOLUME, recognized as BuildKit does: the text is JSON when Go's
 * encoding/json accepts it as an array.
 *
 * Not jansson (or any strict parser): Go's decoder accepts what RFC 8259
 * parsers refuse. Invalid UTF-8 inside a string is taken and becomes
 * U+FFFD, a lone surrogate escape becomes U+FFFD, and "\u0000" puts a NUL
 * into a string. BuildKit inherits all of it, so a strict parser would
 * turn some exec-form instructions into shell form (or fail them), and
 * the AST would differ from BuildKit's. jansson also refuses "\u0000"
 * unless asked, and would need the whole document in memory as a tree;
 * this validates without building one, iteratively (no recursion). */
#include "builder/parse.h"
#include "builder/parse_internal.h"
#include "builder/expand.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define JSON_MAX_DEPTH 10000      /* Go's encoding/json limit */

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
		uint32_t cp;
		size_t k = cn_utf8_decode_mark(p, (size_t)(end - p), &cp);
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
int bfp_json_array(const char *s, size_t n, struct bf_node *nd)
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
		bfp_node_arg(nd, b.data, b.len);
		cn_buf_free(&b);
		p = json_ws(p, end);
		if (*p != ',')
			return 1;
		p++;
	}
}
