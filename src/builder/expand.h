/* Variable expansion and quote processing, as Dockerfile frontends apply it
 * to ADD/COPY/ENV/LABEL/ARG/WORKDIR/USER/EXPOSE/VOLUME/STOPSIGNAL/FROM
 * arguments (never to RUN/CMD/ENTRYPOINT, which go to the real shell). */
#ifndef BF_EXPAND_H
#define BF_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/strv.h"

/* One word -> one string: quotes removed, escapes processed, $V, ${V},
 * ${V:-x}, ${V-x}, ${V:+x}, ${V+x}, ${V:?msg}, ${V?msg}, ${V#p}, ${V##p},
 * ${V%p}, ${V%%p}, ${V/p/r}, ${V//p/r} expanded. ENV holds KEY=VALUE
 * entries; a name absent from ENV is unset. *out is heap-allocated.
 * unmatched (optional) receives names looked up but not found. */
int bf_expand_word(const char *word, char escape, const cn_strv *env, char **out,
		   cn_strv *unmatched, cn_err *err);

/* Text -> words, split on unquoted whitespace after expansion (ProcessWords);
 * the words are appended to OUT. */
int bf_expand_words(const char *text, char escape, const cn_strv *env, cn_strv *out,
		    cn_err *err);

/* Longest result of one expansion: past it expansion fails rather than grows. */
#define BF_EXPAND_MAX (1u << 20)

/* BuildKit's lexer modes, which the parser needs to find heredoc words. */
#define BF_LEX_RAW_QUOTES  0x1u   /* keep quote characters in the result */
#define BF_LEX_RAW_ESCAPES 0x2u   /* keep escape characters in the result */
#define BF_LEX_SKIP_UNSET  0x4u   /* leave references to unset names as written */

struct bf_lex_opts {
	unsigned flags;               /* BF_LEX_* */
	cn_strv *matched;             /* optional: names looked up and found, each once */
	cn_strv *unmatched;           /* optional: names looked up and not found, each once */
};

/* The general form of the two above: TEXT -> *word (one string, as
 * bf_expand_word) and/or words (split, as bf_expand_words); either output
 * may be NULL. OPTS may be NULL (plain expansion). ENV may be NULL (empty). */
int bf_expand(const char *text, char escape, const cn_strv *env,
	      const struct bf_lex_opts *opts, char **word, cn_strv *words, cn_err *err);

#endif
