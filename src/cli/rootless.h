/* Rootless cairn at the command line (see sandbox/rootless.h). */
#ifndef CLI_ROOTLESS_H
#define CLI_ROOTLESS_H

#include "cli/cli.h"

/* The store when neither --root nor CAIRN_ROOT names one: /var/lib/cairn
 * for root, else $XDG_DATA_HOME/cairn or ~/.local/share/cairn (NULL
 * without a home directory). */
const char *cli_default_root(void);

/* Before command CMD runs: for a non-root user, enter cairn's user
 * namespace (every command that touches the store or runs anything), and
 * without a subordinate range warn once what will fail. -1 after printing
 * the error. */
int cli_rootless_setup(struct cli *cli, const char *cmd);

/* After a failed build or run: rootless without a range, the likely cause
 * (an unmapped id) and the /etc/subuid line that fixes it. */
void cli_rootless_note(const cn_err *err);

#endif
