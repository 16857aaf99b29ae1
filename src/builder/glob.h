/* Wildcard patterns, one matcher for the two places docker uses them:
 *
 *  - COPY/ADD sources, one path component at a time, with Go's
 *    filepath.Match (flags 0);
 *  - .dockerignore and --exclude patterns on whole paths, with moby's
 *    patternmatcher, which turns them into Go regexps (BF_GLOB_IGNORE).
 *
 * The language: '*' is any run of non-'/' characters, '?' one non-'/'
 * character, "[...]" one character of a class ("[^...]" negated, "a-z"
 * ranges, '\' escapes; a class may match '/'), '\' makes the next character
 * literal; everything else matches itself, byte for byte. Names and
 * patterns are decoded as Go does (util/utf8.h): an invalid byte is one
 * U+FFFD, so '?' never takes an overlong or broken sequence as one
 * character. Matching is linear in the name for every pattern (a small
 * NFA, no backtracking). */
#ifndef BF_GLOB_H
#define BF_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where patternmatcher's regexps differ from filepath.Match. */
#define BF_GLOB_DOUBLESTAR  0x1u  /* "**" (and "**" + '/') is any string ending in '/' or
				     nothing; a final "**" anything; neither crosses '\n' */
#define BF_GLOB_RANGE_ORDER 0x2u  /* "[z-a]" is malformed (regexp), not an empty range */
#define BF_GLOB_RUNE_STAR   0x4u  /* '*' takes whole characters (regexp); filepath.Match's
				     may stop inside one (it tries every byte) */
#define BF_GLOB_IGNORE (BF_GLOB_DOUBLESTAR | BF_GLOB_RANGE_ORDER | BF_GLOB_RUNE_STAR)

struct bf_glob_tok;

struct bf_glob {
	char *text;                  /* the pattern (classes are read from it) */
	size_t len;
	unsigned flags;
	struct bf_glob_tok *toks;
	size_t ntoks;
};

/* Check and compile the LEN bytes at PAT into G. Returns NULL, or (G left
 * empty) why the pattern is malformed: "pattern ends with a backslash",
 * "malformed character class", ... as filepath.Match's ErrBadPattern
 * cases, and "character range out of order" with BF_GLOB_RANGE_ORDER. */
const char *bf_glob_compile(struct bf_glob *g, const char *pat, size_t len, unsigned flags);
void bf_glob_free(struct bf_glob *g);

/* Does G match all LEN bytes at S? */
bool bf_glob_match(const struct bf_glob *g, const char *s, size_t len);
/* Could G match S followed by more bytes (S is a prefix of a match)? May
 * answer true when it cannot; never false when it can. */
bool bf_glob_viable(const struct bf_glob *g, const char *s, size_t len);

/* Does S hold a '*', '?' or '[' that is not escaped? */
bool bf_glob_has_meta(const char *s);
/* S as a pattern matching exactly S: '*', '?', '[' and '\' escaped. */
char *bf_glob_escape(const char *s);
/* A pattern without wildcards as the name it matches: escapes removed. */
char *bf_glob_unescape(const char *s);

#endif
