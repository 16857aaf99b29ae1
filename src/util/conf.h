/* cairn's configuration file: persistent defaults for options (today the
 * layer compression of builds and run's --init). Files, read in order, later values winning:
 *   /etc/cairn/cairn.conf
 *   $XDG_CONFIG_HOME/cairn/cairn.conf (default ~/.config/cairn/cairn.conf)
 * or, when CAIRN_CONFIG is set, that one file instead of both (empty: none),
 * as CONTAINERS_CONF replaces containers.conf. A missing default file is
 * skipped; a missing CAIRN_CONFIG file is an error.
 *
 * Syntax, a subset of TOML that plain `key = value` files also fit:
 *   # a comment, blank lines, `key = value` with an optional comment after it
 *   value: "a basic string" (\" \\ \t \n escapes), 'a literal string', or a
 *   bare word of letters, digits, '.', '_' and '-'.
 * An unknown key, a key set twice in one file, a [table] header or any other
 * line is an error naming FILE:LINE, as docker's daemon.json refuses unknown
 * directives (containers.conf only warns; a typo'd key silently doing
 * nothing is what the error avoids). Values are checked by their users,
 * which name the same FILE:LINE (cn_conf_get's WHERE). */
#ifndef CN_CONF_H
#define CN_CONF_H

#include <stddef.h>

#include "util/err.h"

#define CN_CONF_MAX_FILE ((size_t)64 * 1024)

struct cn_conf_entry {
	char *key;
	char *value;
	char *where;            /* "FILE:LINE" */
};

struct cn_conf {
	struct cn_conf_entry *v;
	size_t n;
};

/* Parse TEXT (LEN bytes, NUL bytes refused) of the file NAME into C; a key
 * C already has from an earlier file takes the new value. */
int cn_conf_parse(struct cn_conf *c, const char *name, const char *text, size_t len, cn_err *err);
/* Read the files above into C (empty first). */
int cn_conf_load(struct cn_conf *c, cn_err *err);
/* KEY's value, or NULL; *WHERE (if not NULL) gets its "FILE:LINE". */
const char *cn_conf_get(const struct cn_conf *c, const char *key, const char **where);
void cn_conf_free(struct cn_conf *c);

#endif
