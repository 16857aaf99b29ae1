#include "util/escape.h"
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

/* Characters that reorder or break what follows them on a line. */
static int format_control(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

void cn_escape_buf(cn_buf *out, const char *s, size_t len, size_t max, unsigned flags)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t n;
		if (max && i >= max) {
			cn_buf_adds(out, "...");
			return;
		}
		if (c >= 0x20 && c < 0x7f) {
			if ((flags & CN_ESCAPE_ASCII) && (c == '"' || c == '\\'))
				cn_buf_addf(out, "\\x%02x", c);
			else
				cn_buf_addc(out, (char)c);
			i++;
			continue;
		}
		n = cn_utf8_decode(s + i, len - i, &cp);
		if (c < 0x80 || (flags & CN_ESCAPE_ASCII) || cn_utf8_invalid(cp, n)) {
			cn_buf_addf(out, "\\x%02x", c);
			i++;
		} else if ((cp >= 0x80 && cp < 0xa0) || format_control(cp)) {
			cn_buf_addf(out, "\\u{%04x}", (unsigned)cp);
			i += n;
		} else {
			cn_buf_add(out, s + i, n);
			i += n;
		}
	}
}

char *cn_escape(const char *s, unsigned flags)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	if (s)
		cn_escape_buf(&b, s, strlen(s), 0, flags);
	return cn_buf_detach(&b);
}

void cn_escape_to(char *dst, size_t size, const char *s, size_t max, unsigned flags)
{
	cn_buf b;
	if (!size)
		return;
	cn_buf_init(&b, 0);
	cn_escape_buf(&b, s, strlen(s), max, flags);
	if (b.len >= size)
		b.len = size - 1;
	memcpy(dst, b.data, b.len);
	dst[b.len] = '\0';
	cn_buf_free(&b);
}
