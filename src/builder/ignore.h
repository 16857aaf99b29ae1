/* Ignore files (.dockerignore syntax): which context paths COPY must not
 * see. Semantics are docker's (moby/patternmatcher as BuildKit uses it):
 *
 *  - lines are read like ignorefile.ReadAll: a line whose first character is
 *    '#' is a comment, surrounding white space is trimmed, blank lines are
 *    skipped, a leading '!' marks an exception, the pattern is cleaned like
 *    Go's filepath.Clean and one leading '/' is dropped;
 *  - '*' is any run of non-'/' characters, '?' one non-'/' character,
 *    "[...]" a character class, '\' escapes the next character, "**" any
 *    number of path components (zero included);
 *  - a path is excluded when the last pattern that matches it OR ANY OF ITS
 *    PARENT DIRECTORIES is not an exception ("later rules win"); the context
 *    root "." is never excluded.
 *
 * Paths are slash-separated and relative to the context root. */
#ifndef BF_IGNORE_H
#define BF_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/strv.h"

#define BF_IGNORE_MAX_FILE ((size_t)1 << 20)    /* bytes in an ignore file */
#define BF_IGNORE_MAX_PATTERNS 10000
#define BF_IGNORE_MAX_LINE 4096                 /* bytes in one line */

struct bf_ignore;

/* ignorefile.ReadAll: the patterns of TEXT (LEN bytes; NAME is used in
 * errors), cleaned, exceptions as "!pattern", one per meaningful line.
 * Fails on a line, a pattern count or a file beyond the limits above. */
int bf_ignore_readall(const char *name, const char *text, size_t len, cn_strv *patterns,
		      cn_err *err);

/* ReadAll, then the matcher (patternmatcher.New): a bare "!" and malformed
 * patterns ("[a-", "a\", "[z-a]") are errors "NAME:LINE: ...". */
struct bf_ignore *bf_ignore_parse(const char *name, const char *text, size_t len, cn_err *err);

/* The ignore file of a build whose Buildfile is BUILDFILE and whose
 * context is the directory CTX_FD (CONTEXT: its path, for messages):
 * BUILDFILE.dockerignore next to the Buildfile, else CONTEXT/.buildignore,
 * else CONTEXT/.dockerignore. *OUT is NULL when there is none. The
 * context's files are opened beneath CTX_FD (a symlink may not leave it). */
int bf_ignore_load(const char *buildfile, int ctx_fd, const char *context,
		   struct bf_ignore **out, cn_err *err);

void bf_ignore_free(struct bf_ignore *ig);

/* The file the patterns came from, as named to bf_ignore_parse. */
const char *bf_ignore_name(const struct bf_ignore *ig);
size_t bf_ignore_count(const struct bf_ignore *ig);

/* Is PATH excluded? (patternmatcher's MatchesOrParentMatches; PATH is
 * cleaned first.) */
bool bf_ignore_match(const struct bf_ignore *ig, const char *path);

/* For walks, which meet a directory before its entries: STATE
 * (bf_ignore_count() bytes) records which patterns matched a path or one
 * of its parents, and is all we need of the parents to decide a child.
 *
 * bf_ignore_path: decide the clean path PATH from scratch, filling STATE.
 * bf_ignore_child: decide PATH, an entry of the directory whose state is
 * PARENT (NULL: the context root), filling STATE. */
bool bf_ignore_path(const struct bf_ignore *ig, const char *path, unsigned char *state);
bool bf_ignore_child(const struct bf_ignore *ig, const char *path, const unsigned char *parent,
		     unsigned char *state);

/* May an exception re-include anything below the excluded directory DIR
 * (state STATE)? When false, everything below DIR is excluded and a walk
 * need not look inside. It may answer true when nothing is (then the
 * walk finds out). */
bool bf_ignore_may_reinclude(const struct bf_ignore *ig, const char *dir,
			     const unsigned char *state);

#endif
