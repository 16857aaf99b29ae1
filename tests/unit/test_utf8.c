/* util/utf8: Go's utf8.DecodeRune, unicode.IsSpace and strings.TrimSpace. */
#include "util/cleanup.h"
#include "util/utf8.h"
#include "unit.h"

#include <string.h>

struct dcase {
	const char *what, *s;
	size_t n;
	uint32_t cp;
	size_t len;
};

static void test_decode(void)
{
	static const struct dcase t[] = {
		{ "ASCII", "a", 1, 'a', 1 },
		{ "NUL", "\0", 1, 0, 1 },
		{ "2 bytes", "\xc3\xa9", 2, 0xe9, 2 },
		{ "3 bytes", "\xe2\x98\xba", 3, 0x263a, 3 },
		{ "4 bytes", "\xf0\x9f\x98\x80", 4, 0x1f600, 4 },
		{ "U+FFFD itself", "\xef\xbf\xbd", 3, 0xfffd, 3 },
		{ "U+10FFFF", "\xf4\x8f\xbf\xbf", 4, 0x10ffff, 4 },
		{ "overlong 2-byte '/'", "\xc0\xaf", 2, CN_UTF8_RUNE_ERROR, 1 },
		{ "overlong 2-byte NUL", "\xc1\x80", 2, CN_UTF8_RUNE_ERROR, 1 },
		{ "overlong 3-byte", "\xe0\x80\xaf", 3, CN_UTF8_RUNE_ERROR, 1 },
		{ "overlong 4-byte", "\xf0\x80\x80\xaf", 4, CN_UTF8_RUNE_ERROR, 1 },
		{ "surrogate", "\xed\xa0\x80", 3, CN_UTF8_RUNE_ERROR, 1 },
		{ "past U+10FFFF", "\xf4\x90\x80\x80", 4, CN_UTF8_RUNE_ERROR, 1 },
		{ "lead F5", "\xf5\x80\x80", 3, CN_UTF8_RUNE_ERROR, 1 },
		{ "lead FF", "\xff", 1, CN_UTF8_RUNE_ERROR, 1 },
		{ "lone continuation", "\x80", 1, CN_UTF8_RUNE_ERROR, 1 },
		{ "bad continuation", "\xc3\x41", 2, CN_UTF8_RUNE_ERROR, 1 },
		{ "cut short by N", "\xe2\x98\xba", 2, CN_UTF8_RUNE_ERROR, 1 },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(t); i++) {
		uint32_t cp = 0;
		size_t len = cn_utf8_decode(t[i].s, t[i].n, &cp);
		UNIT_CHECK(cp == t[i].cp && len == t[i].len, "decode %s: U+%04X, %zu bytes (got U+%04X, %zu)",
			   t[i].what, (unsigned)t[i].cp, t[i].len, (unsigned)cp, len);
	}
}

static void test_decode_mark(void)
{
	uint32_t cp, cp2;
	size_t len;
	UNIT_CHECK(cn_utf8_decode("", 0, &cp) == 0, "nothing to decode: length 0");
	len = cn_utf8_decode_mark("\xc0\xaf", 2, &cp);
	UNIT_CHECK(len == 1 && cp == CN_UTF8_INVALID_BASE + 0xc0 && cn_utf8_invalid(cp, len),
		   "mark: an invalid byte is BASE + byte");
	cn_utf8_decode_mark("\xc1\x80", 2, &cp2);
	UNIT_CHECK(cp != cp2, "mark: two invalid bytes differ");
	len = cn_utf8_decode_mark("\xef\xbf\xbd", 3, &cp);
	UNIT_CHECK(len == 3 && cp == 0xfffd && !cn_utf8_invalid(cp, len),
		   "mark: a real U+FFFD stays itself and is valid");
	len = cn_utf8_decode("\xff", 1, &cp);
	UNIT_CHECK(cn_utf8_invalid(cp, len), "invalid: (RuneError, 1)");
	UNIT_CHECK(cn_utf8_decode_mark("", 0, &cp) == 0 && cp == CN_UTF8_INVALID_BASE,
		   "mark: nothing to decode");
}

static void test_space(void)
{
	static const uint32_t yes[] = { ' ', '\t', '\n', '\v', '\f', '\r', 0x85, 0xa0, 0x1680,
					0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000 };
	static const uint32_t no[] = { 'a', 0, 0x200b, 0x180e, 0xfeff, 0xfffd };
	for (size_t i = 0; i < CN_ARRAY_SIZE(yes); i++)
		UNIT_CHECK(cn_unicode_is_space(yes[i]), "U+%04X is space", (unsigned)yes[i]);
	for (size_t i = 0; i < CN_ARRAY_SIZE(no); i++)
		UNIT_CHECK(!cn_unicode_is_space(no[i]), "U+%04X is not space", (unsigned)no[i]);
}

static void test_trim(void)
{
	const char *s = " \t\xe3\x80\x80x y\xc2\x85\n";
	size_t n = strlen(s);
	const char *t = cn_utf8_trim_space(s, &n);
	UNIT_CHECK(n == 3 && !memcmp(t, "x y", 3), "TrimSpace: ASCII, U+3000 and U+0085 trimmed");
	s = "\x85x\x85";
	n = strlen(s);
	t = cn_utf8_trim_space(s, &n);
	UNIT_CHECK(t == s && n == 3, "TrimSpace: a lone 0x85 byte is not U+0085");
	s = "   ";
	n = strlen(s);
	cn_utf8_trim_space(s, &n);
	UNIT_CHECK(n == 0, "TrimSpace: all space");
}

int main(void)
{
	test_decode();
	test_decode_mark();
	test_space();
	test_trim();
	return UNIT_DONE();
}
