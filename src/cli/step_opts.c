#include "cli/cli.h"
#include "cli/step_opts.h"
#include "net/net.h"
#include "sandbox/options.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_step_opt(const char *cmd, int c, const char *arg, struct cli_step_opts *so)
{
	cn_err err;
	switch (c) {
	case CLI_OPT_ADD_HOST: {
		/* NAME:IP, or docker 25's NAME=IP; split at the first separator so
		 * an IPv6 address stays whole. */
		_cleanup_free_ char *line = cn_xstrdup(arg);
		size_t k = strcspn(line, ":=");
		if (!line[k] || k == 0 || !line[k + 1]) {
			cli_usage_error(cmd, "--add-host '%s': expected NAME:IP", arg);
			return -1;
		}
		line[k] = ':';
		cn_strv_pushdup(&so->add_hosts, line);
		return 1;
	}
	case CLI_OPT_ULIMIT:
		so->rlimits = cn_xrealloc(so->rlimits, (so->nrlimits + 1) * sizeof(*so->rlimits));
		if (sb_ulimit_parse(arg, &so->rlimits[so->nrlimits], &err) < 0) {
			cli_usage_error(cmd, "%s", err.msg);
			return -1;
		}
		so->nrlimits++;
		return 1;
	case CLI_OPT_SHM_SIZE:
		if (sb_parse_memory(arg, &so->shm_size) < 0) {
			cli_usage_error(cmd, "--shm-size: '%s' is not a size (b, k, m, g)", arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int cli_step_host_gateway(struct cli_step_opts *so, cn_err *err)
{
	for (size_t i = 0; i < so->add_hosts.n; i++) {
		char *line = so->add_hosts.v[i], *ip = strchr(line, ':') + 1;
		struct net_conf c;
		struct in_addr a;
		char addr[INET_ADDRSTRLEN];
		if (strcmp(ip, "host-gateway"))
			continue;
		if (cn_rootless())
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--add-host %s: rootless cairn has no bridge, so "
					   "no gateway address", line);
		if (net_conf_default(&c, err) < 0)
			return cn_err_wrap(err, "--add-host %s", line);
		a.s_addr = htonl(c.subnet + 1);
		inet_ntop(AF_INET, &a, addr, sizeof(addr));
		so->add_hosts.v[i] = cn_xasprintf("%.*s:%s", (int)(ip - 1 - line), line, addr);
		free(line);
	}
	return 0;
}

void cli_step_opts_free(struct cli_step_opts *so)
{
	cn_strv_free(&so->add_hosts);
	free(so->rlimits);
	memset(so, 0, sizeof(*so));
}
