/* --network for build and run. */
#include "cli/network.h"
#include "net/net.h"
#include "util/rootless.h"
#include "util/strv.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cli_network_parse(const char *name, bool run_names, enum sb_network *out)
{
	if (!strcmp(name, "default") || (run_names && !strcmp(name, "bridge")))
		*out = SB_NET_DEFAULT;
	else if (!strcmp(name, "host"))
		*out = SB_NET_HOST;
	else if (!strcmp(name, "none"))
		*out = SB_NET_NONE;
	else if (run_names && !strcmp(name, "private"))
		*out = SB_NET_PRIVATE;
	else
		return -1;
	return 0;
}

int cli_network_prepare(enum sb_network n, cn_err *err)
{
	_cleanup_strv_ cn_strv notes = { 0 };
	struct net_conf c;
	if (n != SB_NET_DEFAULT || (geteuid() != 0 && !cn_rootless()))
		return 0;
	if (net_conf_default(&c, err) < 0 || net_prepare(&c, &notes, err) < 0)
		return -1;
	for (size_t i = 0; i < notes.n; i++)
		fprintf(stderr, "warning: %s\n", notes.v[i]);
	return 0;
}

enum sb_network cli_network_default(void)
{
	return cn_rootless() ? SB_NET_HOST : SB_NET_DEFAULT;
}
