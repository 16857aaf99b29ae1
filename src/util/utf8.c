/* UTF-8 decoding with Go's rules (see utf8.h). */
#include "util/utf8.h"

size_t cn_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t v, min;
	size_t need;

	if (n == 0) {
		*cp = CN_UTF8_RUNE_ERROR;
		return 0;
	}
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	/* 0xC0 and 0xC1 can only start overlong forms, 0xF5.. values past
	 * U+10FFFF: no valid sequence starts with them. */
	if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		need = 1, v = u[0] & 0x1Fu, min = 0x80;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		need = 2, v = u[0] & 0x0Fu, min = 0x800;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		need = 3, v = u[0] & 0x07u, min = 0x10000;
	} else {
		goto bad;
	}
	if (n <= need)
		goto bad;
	for (size_t i = 1; i <= need; i++) {
		if ((u[i] & 0xC0) != 0x80)
			goto bad;
		v = v << 6 | (u[i] & 0x3Fu);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto bad;
	*cp = v;
	return need + 1;
bad:
	*cp = CN_UTF8_RUNE_ERROR;
	return 1;
}

size_t cn_utf8_decode_mark(const char *s, size_t n, uint32_t *cp)
{
	size_t len = cn_utf8_decode(s, n, cp);
	if (n == 0)
		*cp = CN_UTF8_INVALID_BASE;
	else if (cn_utf8_invalid(*cp, len))
		*cp = CN_UTF8_INVALID_BASE + (unsigned char)s[0];
	return len;
}

bool cn_unicode_is_space(uint32_t cp)
{
	switch (cp) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202F: case 0x205F: case 0x3000:
		return true;
	default:
		return cp >= 0x2000 && cp <= 0x200A;
	}
}

const char *cn_utf8_trim_space(const char *s, size_t *len)
{
	uint32_t cp;
	size_t k;
	while (*len > 0 && (k = cn_utf8_decode(s, *len, &cp)) && !cn_utf8_invalid(cp, k) &&
	       cn_unicode_is_space(cp)) {
		s += k;
		*len -= k;
	}
	/* From the end: a space is at most 3 bytes long (U+3000). */
	while (*len > 0) {
		bool found = false;
		for (k = 1; k <= 3 && k <= *len && !found; k++) {
			size_t got = cn_utf8_decode(s + *len - k, k, &cp);
			if (got == k && !cn_utf8_invalid(cp, got) && cn_unicode_is_space(cp)) {
				*len -= k;
				found = true;
			}
		}
		if (!found)
			break;
	}
	return s;
}
