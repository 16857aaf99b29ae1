/* What the commands that act on named containers (stop, rm) share. */
#ifndef CLI_CONTAINERS_H
#define CLI_CONTAINERS_H

#include "cli/cli.h"
#include "container/container.h"

/* Act on a container ARG named; 0 or -1 with ERR. */
typedef int (*cli_container_fn)(struct store *st, struct ctr_state *s, const char *arg, void *ctx,
				cn_err *err);

/* FN on each container NAMES[0..N) names (a name, an id or a unique id
 * prefix), printing each name that succeeded and an error for each other;
 * the exit status: 0, or EXIT_FAIL when any failed. */
int cli_each_container(struct cli *cli, char **names, int n, cli_container_fn fn, void *ctx);

#endif
