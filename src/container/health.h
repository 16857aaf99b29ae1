/* Health checks of detached containers, as docker runs them: the check
 * comes from cairn run's --health-* flags over the image's HEALTHCHECK
 * (config.Healthcheck), is recorded in the state, and the container's
 * supervisor runs it in a process of its own (the monitor) as cairn exec
 * runs a command, on schedule and with its timeout. The results go to
 * containers/<id>/health.json, which the monitor alone writes (the
 * supervisor rewrites config.json at will: one writer per file), and
 * ctr_lookup/ctr_list read into the state (ctr_state.health...). */
#ifndef CTR_HEALTH_H
#define CTR_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "container/container.h"
#include "store/store.h"
#include "util/err.h"

void ctr_health_conf_free(struct ctr_health_conf *c);
void ctr_health_results_free(struct ctr_state *s);

/* docker's config.Healthcheck object ({"Test": [...], "Interval": NS,
 * ...}), as images and the state keep it. */
json_t *ctr_health_conf_json(const struct ctr_health_conf *c);
int ctr_health_conf_from_json(const json_t *j, struct ctr_health_conf *c, cn_err *err);

/* cairn run's flags: each overrides the image's value (docker's merge). */
struct ctr_health_flags {
	const char *cmd;                /* --health-cmd (NULL or "": the image's) */
	long long interval_ns, timeout_ns, start_period_ns, start_interval_ns;  /* 0: the image's */
	int retries;                    /* 0: the image's */
	bool none;                      /* --no-healthcheck */
};
/* True when any --health-* flag was given. */
bool ctr_health_flags_any(const struct ctr_health_flags *f);
/* --health-cmd STR: CMD-SHELL STR, unless STR is a JSON array of strings:
 * ["CMD", ARG...], ["CMD-SHELL", COMMAND] or ["NONE"] (compose's test). */
int ctr_health_parse_cmd(const char *s, cn_strv *test, cn_err *err);
/* The check a container gets: F over IMAGE_CONFIG's config.Healthcheck (either
 * may be NULL). OUT's test is left empty when there is none (NONE). */
int ctr_health_resolve(const json_t *image_config, const struct ctr_health_flags *f,
		       struct ctr_health_conf *out, cn_err *err);

/* S's health as docker's State.Health ({"Status", "FailingStreak", "Log"}). */
json_t *ctr_health_json(const struct ctr_state *s);
/* Read containers/<id>/health.json (ROOT_FD: containers/) into S, whose
 * healthcheck is set: "starting" while nothing was recorded. */
void ctr_health_load(int root_fd, struct ctr_state *s);

/* The supervisor's monitor for S (its check recorded): a child process
 * that runs the check while the container runs, restarting its count at
 * each (re)start; -1 when it could not be forked. CLOSE_FD (-1: none) is
 * closed in it (the pipe to the waiting cairn run -d). Stop it (SIGKILL
 * and reap) before the state is removed. */
pid_t ctr_health_monitor_start(struct store *st, const struct ctr_state *s, int close_fd);
void ctr_health_monitor_stop(pid_t pid);

#endif
