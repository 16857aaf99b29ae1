/* Variable expansion and quote processing, as Dockerfile frontends apply it
 * to ADD/COPY/ENV/LABEL/ARG/WORKDIR/USER/EXPOSE/VOLUME/STOPSIGNAL/FROM
 * arguments (never to RUN/CMD/ENTRYPOINT, which go to the real shell). */
#ifndef BF_EXPAND_H
#define BF_EXPAND_H

#include "util/err.h"
#include "util/strv.h"

/* One word -> one string: quotes removed, escapes processed, $V, ${V},
 * ${V:-x}, ${V-x}, ${V:+x}, ${V+x}, ${V:?msg}, ${V?msg}, ${V#p}, ${V##p},
 * ${V%p}, ${V%%p}, ${V/p/r}, ${V//p/r} expanded. ENV holds KEY=VALUE
 * entries; a name absent from ENV is unset. *out is heap-allocated.
 * unmatched (optional) receives names looked up but not found. */
int bf_expand_word(const char *word, char escape, const cn_strv *env, char **out,
		   cn_strv *unmatched, cn_err *err);

/* Text -> words, split on unquoted whitespace after expansion (ProcessWords). */
int bf_expand_words(const char *text, char escape, const cn_strv *env, cn_strv *out,
		    cn_err *err);

#endif
