/* The conformance dump: BuildKit's AST printed as
 * "(keyword [flags] args...)" lines, strings quoted as Go's strconv.Quote
 * does (the quoting also serves the parser's messages). */
#include "builder/parse.h"
#include "builder/parse_internal.h"
#include "builder/expand.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

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

void bfp_go_quote(cn_buf *b, const char *s, size_t n)
{
	cn_buf_addc(b, '"');
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = cn_utf8_decode_mark(s + i, n - i, &cp);
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

static void dump_node(const struct bf_node *nd, cn_buf *out)
{
	size_t mark = out->len;

	cn_buf_adds(out, nd->keyword);
	if (nd->flags.n) {
		cn_buf_adds(out, " [");
		for (size_t i = 0; i < nd->flags.n; i++) {
			if (i)
				cn_buf_addc(out, ' ');
			bfp_go_quote(out, nd->flags.v[i], strlen(nd->flags.v[i]));
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
		bfp_go_quote(out, nd->args.v[i], nd->arglens[i]);
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
