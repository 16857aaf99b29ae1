/* Named volumes (cairn run -v NAME:/path, --mount type=volume), as
 * docker's local driver keeps them: a directory <store>/volumes/NAME/_data,
 * created on first use and kept until removed by hand. */
#ifndef CTR_VOLUME_H
#define CTR_VOLUME_H

#include <stdbool.h>

#include "store/store.h"
#include "util/err.h"

/* docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
bool ctr_volume_name_ok(const char *name);
/* The volume's directory (heap string), created when missing. */
char *ctr_volume_path(struct store *st, const char *name, cn_err *err);

#endif
