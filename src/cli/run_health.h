/* cairn run's flags for what compose needs of a container besides its
 * process: --label and the health check (--health-*, --no-healthcheck),
 * in the pattern of step_opts.h (a table macro, one parser). */
#ifndef CLI_RUN_HEALTH_H
#define CLI_RUN_HEALTH_H

#include <stdbool.h>

#include "container/health.h"
#include "util/strv.h"

enum {
	CLI_OPT_LABEL = 0x1780,         /* getopt codes beyond any letter */
	CLI_OPT_HEALTH_CMD,
	CLI_OPT_HEALTH_INTERVAL,
	CLI_OPT_HEALTH_TIMEOUT,
	CLI_OPT_HEALTH_RETRIES,
	CLI_OPT_HEALTH_START_PERIOD,
	CLI_OPT_HEALTH_START_INTERVAL,
	CLI_OPT_NO_HEALTHCHECK,
};

#define CLI_RUN_HEALTH_OPTIONS \
	{ "label", required_argument, NULL, CLI_OPT_LABEL }, \
	{ "health-cmd", required_argument, NULL, CLI_OPT_HEALTH_CMD }, \
	{ "health-interval", required_argument, NULL, CLI_OPT_HEALTH_INTERVAL }, \
	{ "health-timeout", required_argument, NULL, CLI_OPT_HEALTH_TIMEOUT }, \
	{ "health-retries", required_argument, NULL, CLI_OPT_HEALTH_RETRIES }, \
	{ "health-start-period", required_argument, NULL, CLI_OPT_HEALTH_START_PERIOD }, \
	{ "health-start-interval", required_argument, NULL, CLI_OPT_HEALTH_START_INTERVAL }, \
	{ "no-healthcheck", no_argument, NULL, CLI_OPT_NO_HEALTHCHECK }

#define CLI_RUN_HEALTH_USAGE \
	"  -l, --label K=V          a label on the container (repeatable; ps --filter\n" \
	"                           label=K[=V] selects by it)\n" \
	"      --health-cmd CMD     with -d: the health check, run by the container's\n" \
	"                           supervisor as 'cairn exec' would: /bin/sh -c CMD, or\n" \
	"                           a JSON list [\"CMD\", ARG...] / [\"CMD-SHELL\", CMD] /\n" \
	"                           [\"NONE\"]; exit 0 is healthy (default: the image's\n" \
	"                           HEALTHCHECK); ps shows \"Up 5 seconds (healthy)\"\n" \
	"      --health-interval D  time between checks (default 30s; D as 1m30s, 500ms)\n" \
	"      --health-timeout D   a check running longer fails (default 30s)\n" \
	"      --health-retries N   failures in a row that make it unhealthy (default 3)\n" \
	"      --health-start-period D  failures in this time after the start do not\n" \
	"                           count while it is starting (default 0s)\n" \
	"      --health-start-interval D  time between checks in the start period\n" \
	"                           (default 5s)\n" \
	"      --no-healthcheck     no check, not even the image's HEALTHCHECK\n"

struct cli_run_health {
	cn_strv labels;                 /* K=V (K alone: K=) */
	struct ctr_health_flags health;
};

/* Option C with ARG: 1 taken, 0 not one of these, -1 a usage error
 * (printed, naming the flag). */
int cli_run_health_opt(int c, const char *arg, struct cli_run_health *o);
/* After parsing: --no-healthcheck with another --health-* flag is an error
 * (printed), as docker's. (Without -d the flags are accepted and unused: no
 * supervisor runs checks for an attached run.) */
int cli_run_health_check(const struct cli_run_health *o);
void cli_run_health_free(struct cli_run_health *o);

#endif
