/* UTF-8 as Go reads it. Build files, ignore files and file names are byte
 * strings that are usually, not always, UTF-8; docker's tools decode them
 * with Go's utf8.DecodeRune, so we do too, in one place: an invalid byte is
 * never part of a character, it decodes alone. */
#ifndef CN_UTF8_H
#define CN_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Go's utf8.RuneError: what an invalid byte decodes to. */
#define CN_UTF8_RUNE_ERROR 0xFFFDu
/* First of 256 values past Unicode that cn_utf8_decode_mark gives invalid
 * bytes: BASE + the byte, equal to no character and to no other byte. */
#define CN_UTF8_INVALID_BASE 0x110000u

/* One character at S (N bytes available), as utf8.DecodeRune: returns its
 * length (0 only when N is 0) and sets *CP. A bad lead byte, a missing or
 * wrong continuation byte, a sequence cut short by N, an overlong form, a
 * surrogate or a value past U+10FFFF is invalid: length 1, *CP =
 * CN_UTF8_RUNE_ERROR (a real U+FFFD has length 3). */
size_t cn_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* The same, but an invalid byte B decodes to CN_UTF8_INVALID_BASE + B, for
 * matchers that compare characters and must not equate two invalid bytes
 * (or one with a real U+FFFD). */
size_t cn_utf8_decode_mark(const char *s, size_t n, uint32_t *cp);

/* Did a decode of length LEN giving CP meet an invalid byte? */
static inline bool cn_utf8_invalid(uint32_t cp, size_t len)
{
	return len == 1 && (cp == CN_UTF8_RUNE_ERROR || cp >= CN_UTF8_INVALID_BASE);
}

/* Go's unicode.IsSpace. */
bool cn_unicode_is_space(uint32_t cp);

/* strings.TrimSpace on S[0..*LEN): returns the new start and shortens
 * *LEN; only valid characters count as space. */
const char *cn_utf8_trim_space(const char *s, size_t *len);

#endif
