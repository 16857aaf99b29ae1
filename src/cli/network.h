/* --network for build and run: the names, and readying the bridge once
 * per command so its notes (resolver fallback, a firewall dropping
 * forwarded packets) reach the user before any step runs. */
#ifndef CLI_NETWORK_H
#define CLI_NETWORK_H

#include <stdbool.h>

#include "sandbox/sandbox.h"
#include "util/err.h"

/* "default" (also "bridge" when RUN_NAMES: docker's name), "host", "none",
 * and for run "private" (loopback only). -1 when NAME is none of them. */
int cli_network_parse(const char *name, bool run_names, enum sb_network *out);

/* The network when --network is not given: the bridge as root; rootless
 * the host's (a bridge needs root; asking for it explicitly fails saying so). */
enum sb_network cli_network_default(void);

/* For SB_NET_DEFAULT as root: set up the bridge and print its notes on
 * stderr. Not root: nothing (the sandbox says why when a step needs it). */
int cli_network_prepare(enum sb_network n, cn_err *err);

#endif
