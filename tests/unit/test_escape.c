/* util/escape: what reaches a terminal from outside is inert. */
#include "util/escape.h"
#include "util/cleanup.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void check(const char *in, unsigned flags, const char *want, const char *what)
{
	_cleanup_free_ char *got = cn_escape(in, flags);
	UNIT_STREQ(got, want, "%s", what);
}

int main(void)
{
	char small[16];
	check("plain text, spaces", 0, "plain text, spaces", "printable ASCII stays");
	check("a\x1b[2Jb", 0, "a\\x1b[2Jb", "ESC is escaped");
	check("\x1b]0;title\x07", 0, "\\x1b]0;title\\x07", "an OSC title and its BEL");
	check("row\n2  forged\r\t", 0, "row\\x0a2  forged\\x0d\\x09", "newline, CR and tab");
	check("del\x7f", 0, "del\\x7f", "DEL");
	check("caf\xc3\xa9 \xe2\x9c\x93", 0, "caf\xc3\xa9 \xe2\x9c\x93", "valid UTF-8 stays");
	check("csi\xc2\x9b" "2J", 0, "csi\\u{009b}2J", "a C1 CSI (U+009B) is escaped");
	check("bad\xff\xc3", 0, "bad\\xff\\xc3", "invalid bytes are escaped one by one");
	check("rtl\xe2\x80\xae" "gpj", 0, "rtl\\u{202e}gpj", "a bidi override is escaped");
	check("q\"\\ \xc3\xa9", CN_ESCAPE_ASCII, "q\\x22\\x5c \\xc3\\xa9", "ASCII mode: quotes, backslash, non-ASCII");
	check(NULL, 0, "", "NULL is empty");
	cn_escape_to(small, sizeof(small), "abcdefgh", 4, 0);
	UNIT_STREQ(small, "abcd...", "MAX input bytes, then ...");
	cn_escape_to(small, sizeof(small), "\x1b\x1b\x1b\x1b\x1b", 0, 0);
	UNIT_STREQ(small, "\\x1b\\x1b\\x1b\\x1", "truncated to the buffer, terminated");
	return UNIT_DONE();
}
