/* cairn run's --label and --health-* flags (run_health.h). */
#include "cli/cli.h"
#include "cli/run_health.h"
#include "util/duration.h"
#include "util/labels.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* docker's usage errors from run exit 125 (the caller maps -1). */
#define usage_error(...) (cli_usage_error("run", __VA_ARGS__), -1)

/* docker: a duration of 0 means the default; else at least 1ms. */
static int duration(const char *flag, const char *arg, long long *out)
{
	if (cn_duration_parse(arg, out) < 0 || (*out != 0 && *out < 1000000))
		return usage_error("--%s: '%s' is not a duration of at least 1ms (like 30s, 1m30s, 500ms)",
				   flag, arg);
	return 1;
}

int cli_run_health_opt(int c, const char *arg, struct cli_run_health *o)
{
	struct ctr_health_flags *h = &o->health;
	cn_err err;
	switch (c) {
	case CLI_OPT_LABEL:
		if (cn_labels_check(arg, &err) < 0)
			return usage_error("--label: %s", err.msg);
		cn_labels_set(&o->labels, arg);
		return 1;
	case CLI_OPT_HEALTH_CMD: h->cmd = arg; return 1;
	case CLI_OPT_HEALTH_INTERVAL: return duration("health-interval", arg, &h->interval_ns);
	case CLI_OPT_HEALTH_TIMEOUT: return duration("health-timeout", arg, &h->timeout_ns);
	case CLI_OPT_HEALTH_START_PERIOD: return duration("health-start-period", arg, &h->start_period_ns);
	case CLI_OPT_HEALTH_START_INTERVAL: return duration("health-start-interval", arg, &h->start_interval_ns);
	case CLI_OPT_HEALTH_RETRIES: {
		char *end;
		long n = strtol(arg, &end, 10);
		if (end == arg || *end || n < 0 || n > 1000000)
			return usage_error("--health-retries: '%s' is not a count (0: the default, 3)", arg);
		h->retries = (int)n;
		return 1;
	}
	case CLI_OPT_NO_HEALTHCHECK: h->none = true; return 1;
	default:
		return 0;
	}
}

int cli_run_health_check(const struct cli_run_health *o)
{
	if (o->health.none && ctr_health_flags_any(&o->health))
		return usage_error("--no-healthcheck conflicts with --health-* options");
	return 0;
}

void cli_run_health_free(struct cli_run_health *o)
{
	cn_strv_free(&o->labels);
}
