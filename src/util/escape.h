/* Text from outside (an image's config, a registry, a Buildfile, a tar
 * entry name) shown to a person: every byte that could drive a terminal is
 * escaped, so what is printed is one line of inert characters. One function
 * for every such place: history, images, ps, errors, layer entry names. */
#ifndef CN_ESCAPE_H
#define CN_ESCAPE_H

#include <stddef.h>

#include "util/buf.h"

enum {
	/* Also escape every byte past ASCII, '"' and '\\' (a name quoted in an
	 * error, where the output must be plain ASCII). */
	CN_ESCAPE_ASCII = 1 << 0,
};

/* Append S[0..LEN) to OUT with C0 controls (newline and tab included),
 * DEL, C1 controls (U+0080..U+009F, whose 0x9b is a CSI), the Unicode line
 * separators and bidirectional overrides, and invalid UTF-8 bytes written
 * as \xNN (a byte) or \u{XXXX} (a character). Valid printable UTF-8 stays.
 * At most MAX input bytes are shown (0: all), then "...". */
void cn_escape_buf(cn_buf *out, const char *s, size_t len, size_t max, unsigned flags);

/* The same as a heap string (S may be NULL: ""). */
char *cn_escape(const char *s, unsigned flags);

/* Into DST (SIZE bytes, always terminated): for fixed buffers. */
void cn_escape_to(char *dst, size_t size, const char *s, size_t max, unsigned flags);

#endif
