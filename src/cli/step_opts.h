/* The flags cairn build and cairn run share for the process a RUN step or a
 * container runs: --add-host, --ulimit, --shm-size (docker's spelling,
 * one parser for both commands). */
#ifndef CLI_STEP_OPTS_H
#define CLI_STEP_OPTS_H

#include "sandbox/sandbox.h"
#include "util/err.h"
#include "util/strv.h"

enum {
	CLI_OPT_ADD_HOST = 0x1770,      /* getopt codes beyond any letter */
	CLI_OPT_ULIMIT,
	CLI_OPT_SHM_SIZE,
};

#define CLI_STEP_OPTIONS \
	{ "add-host", required_argument, NULL, CLI_OPT_ADD_HOST }, \
	{ "ulimit", required_argument, NULL, CLI_OPT_ULIMIT }, \
	{ "shm-size", required_argument, NULL, CLI_OPT_SHM_SIZE }

#define CLI_STEP_USAGE(what) \
	"      --add-host NAME:IP   NAME resolves to IP in /etc/hosts (" what "); IP\n" \
	"                           host-gateway: the bridge's gateway address\n" \
	"      --ulimit NAME=S[:H]  a resource limit for " what " (nofile, nproc,\n" \
	"                           core, ...; -1: unlimited); a hard limit above\n" \
	"                           cairn's own needs CAP_SYS_RESOURCE\n" \
	"      --shm-size N         the size of /dev/shm (b, k, m, g; default 64m)\n"

struct cli_step_opts {
	cn_strv add_hosts;              /* NAME:IP */
	struct sb_rlimit *rlimits;
	size_t nrlimits;
	unsigned long long shm_size;    /* 0: the default */
};

/* Option C with ARG: 1 taken, 0 not one of these, -1 a usage error (printed,
 * naming the flag; CMD names the command for the --help hint). */
int cli_step_opt(const char *cmd, int c, const char *arg, struct cli_step_opts *so);
/* --add-host NAME:host-gateway: the bridge's gateway address in its place. */
int cli_step_host_gateway(struct cli_step_opts *so, cn_err *err);
void cli_step_opts_free(struct cli_step_opts *so);

#endif
