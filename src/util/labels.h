/* Labels (cairn run --label, volume create --label, ps/volume ls
 * --filter label=, compose's com.docker.compose.*): kept as KEY=VALUE
 * strings in a cn_strv, one per key, and shown as docker shows them. */
#ifndef CN_LABELS_H
#define CN_LABELS_H

#include <jansson.h>
#include <stdbool.h>

#include "util/err.h"
#include "util/strv.h"

/* A --label value, KEY=VALUE or KEY (VALUE ""): CN_ERR_INVALID without a key. */
int cn_labels_check(const char *arg, cn_err *err);
/* Add ARG (KEY=VALUE or KEY) to LABELS; the last value of a key wins (docker's). */
void cn_labels_set(cn_strv *labels, const char *arg);
/* KEY's value, NULL when it has none. */
const char *cn_labels_get(const cn_strv *labels, const char *key);
/* {"KEY": "VALUE", ...} (empty object when none). */
json_t *cn_labels_json(const cn_strv *labels);
/* OBJ's string members appended as KEY=VALUE (anything else is skipped). */
void cn_labels_from_json(json_t *obj, cn_strv *labels);
/* "k=v,k2=v2", sorted (docker's ps/volume ls LABELS; stable here). Caller frees. */
char *cn_labels_text(const cn_strv *labels);
/* --filter label=FILTER: FILTER "KEY" (has it) or "KEY=VALUE" (has that value). */
bool cn_labels_match(const cn_strv *labels, const char *filter);
/* Every one of FILTERS matches (docker's: label= filters AND). */
bool cn_labels_match_all(const cn_strv *labels, const cn_strv *filters);

#endif
