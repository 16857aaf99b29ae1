/* Detached containers (cairn run -d): their state under the store, the
 * supervisor process that owns each one, and stopping them.
 *
 * containers/<id>/config.json holds what ps shows; it is rewritten
 * atomically by the supervisor when the process starts and when it ends.
 * containers/lock is flock()ed to create or remove a container, so that
 * names stay unique. A container is alive while its supervisor is: the
 * supervisor's pid and start time (clock ticks after boot, from
 * /proc/PID/stat) are recorded, so a recycled pid is not mistaken for it. */
#ifndef CTR_CONTAINER_H
#define CTR_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"
#include "store/store.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/strv.h"

#define CTR_ID_LEN 64
#define CTR_SHORT_ID_LEN 12

enum ctr_status {
	CTR_CREATED,            /* the supervisor is setting it up */
	CTR_RUNNING,            /* the process exec'd */
	CTR_EXITED,             /* exit_code is valid */
};

/* What cairn exec gives a process and cannot read back from the running
 * container: recorded by run -d (recorded false: a state from a cairn
 * without exec). */
struct ctr_exec_conf {
	bool recorded;
	cn_strv env;                            /* the image's Env, then run's -e */
	char *user;                             /* NULL: root */
	char *workdir;
	struct sb_security security;            /* as applied: caps within cairn's own */
	enum sb_userns_join userns;
	cn_strv cgroup_dirs;                    /* the container's cgroup (empty: none) */
	struct sb_rlimit *rlimits;              /* what run's process inherited (base),
	                                         * then --ulimit */
	size_t nrlimits;
	bool has_oom_score_adj;                 /* false: a record without it */
	int oom_score_adj;                      /* run's process's, inherited */
};

/* cairn run's network, for ps and network rm (network NULL: not recorded). */
struct ctr_net_state {
	char *network;                          /* "bridge", a created network's name, "host"... */
	char *ip;                               /* its address there (NULL: none) */
	cn_strv ports;                          /* -p as docker shows them: "0.0.0.0:8080->80/tcp" */
};

/* ---- health checks (cairn run --health-*, the image's HEALTHCHECK) ---- */

/* docker's HEALTHCHECK defaults (zero in a config means these). */
#define CTR_HEALTH_INTERVAL_NS (30LL * 1000000000)
#define CTR_HEALTH_TIMEOUT_NS (30LL * 1000000000)
#define CTR_HEALTH_START_INTERVAL_NS (5LL * 1000000000)
#define CTR_HEALTH_RETRIES 3
#define CTR_HEALTH_LOG_MAX 5            /* results kept, as docker */
#define CTR_HEALTH_OUTPUT_MAX 4096      /* bytes of a result's output kept */

/* config.Healthcheck as docker has it: TEST empty: none (nor NONE). */
struct ctr_health_conf {
	cn_strv test;                   /* "CMD", ARG... or "CMD-SHELL", COMMAND */
	long long interval_ns, timeout_ns, start_period_ns, start_interval_ns;  /* 0: default */
	int retries;                    /* 0: default */
};

/* One check, as docker's State.Health.Log entry. */
struct ctr_health_result {
	long long start_ns, end_ns;     /* unix time in nanoseconds */
	int exit_code;                  /* -1: it timed out or could not run */
	char *output;                   /* stdout and stderr, cut at OUTPUT_MAX */
};

struct ctr_state {
	char id[CTR_ID_LEN + 1];
	char *name;
	char *image;                            /* as the user named it */
	char image_digest[CN_DIGEST_STR_SIZE];  /* its manifest: prune keeps it */
	cn_strv command;
	long long created, started, finished;   /* unix seconds; 0: not yet */
	enum ctr_status status;
	int exit_code;
	bool oom_killed;
	pid_t supervisor_pid, init_pid;         /* init: the sandbox's pid 1 (host pid) */
	unsigned long long supervisor_start, init_start;
	bool init_reaper;                       /* --init: pid 1 is cairn's reaper, the
	                                         * process its child; else pid 1 is the
	                                         * process itself */
	int stop_signal;
	unsigned stop_timeout;
	bool auto_remove;                       /* --rm */
	unsigned restart_count;                 /* --restart: times restarted so far */
	struct ctr_exec_conf exec;
	struct ctr_net_state net;

	/* ---- labels and volumes (cairn run --label, -v NAME:...) ---- */
	cn_strv labels;                         /* KEY=VALUE, one per key */
	cn_strv volumes;                        /* the named volumes it mounts */

	/* ---- health: the check (config.json), its results (health.json,
	 * written by the supervisor while the container runs) ---- */
	struct ctr_health_conf healthcheck;
	char *health;                           /* NULL: no check; "starting",
	                                         * "healthy" or "unhealthy" */
	unsigned health_failing_streak;
	struct ctr_health_result health_log[CTR_HEALTH_LOG_MAX];   /* oldest first */
	size_t health_nlog;
};

void ctr_state_free(struct ctr_state *s);

/* A fresh random id; NAME (NULL: the short id) must be unused. Creates
 * containers/<id>/ with S's config.json. */
int ctr_create(struct store *st, struct ctr_state *s, cn_err *err);
/* Rewrite S's config.json. */
int ctr_save(struct store *st, const struct ctr_state *s, cn_err *err);
/* The state of container ID (full id); -1 when it cannot be read. */
int ctr_load(struct store *st, const char *id, struct ctr_state *s, cn_err *err);
/* KEY's value in S's labels; NULL: no such label. */
const char *ctr_label(const struct ctr_state *s, const char *key);
/* By name, full id or unique id prefix: 1 found, 0 not, -1 error. */
int ctr_lookup(struct store *st, const char *what, struct ctr_state *s, cn_err *err);
/* Every container, newest first. */
int ctr_list(struct store *st, struct ctr_state **out, size_t *n, cn_err *err);
void ctr_list_free(struct ctr_state *list, size_t n);
/* Remove the state (and log) of a container that is not alive. */
int ctr_remove(struct store *st, const struct ctr_state *s, cn_err *err);
/* containers/lock held exclusively (the fd; close it to release): what
 * ctr_create and ctr_remove take, for volume removal. */
int ctr_lock(struct store *st, cn_err *err);
/* containers/<id>/log (heap string). */
char *ctr_log_path(struct store *st, const struct ctr_state *s);

/* Start time of PID in clock ticks after boot; -1 when there is none. */
int ctr_proc_start_time(pid_t pid, unsigned long long *out);
/* Whether the supervisor still runs (not exited, and the pid is its own). */
bool ctr_alive(const struct ctr_state *s);
/* The status to show: a container whose supervisor vanished (kill -9)
 * without recording an exit is exited, with exit_code -1. */
enum ctr_status ctr_effective_status(const struct ctr_state *s);

/* Manifest digests of the images of containers not known to have exited
 * (for prune). */
int ctr_image_roots(struct store *st, cn_strv *out, cn_err *err);

/* Send SIG to the container's pid 1 (the process, or with --init the
 * reaper, which forwards it); 0 sent, 1 when it is not running, -1 error. */
int ctr_signal(const struct ctr_state *s, int sig, cn_err *err);
/* Wait up to TIMEOUT_MS (< 0: no limit) for the supervisor to exit:
 * 1 exited, 0 still running. */
int ctr_wait(const struct ctr_state *s, long timeout_ms);
/* Tell the supervisor not to restart the container (--restart) once its
 * process ends: cairn stop and a SIGKILL do. */
void ctr_no_restart(const struct ctr_state *s);
/* cairn stop: the stop signal, SIGKILL after TIMEOUT seconds, then wait for
 * the supervisor to record the exit and clean up. */
int ctr_stop(const struct ctr_state *s, unsigned timeout, cn_err *err);

/* A pidfd on the container's pid 1 (the host pid of its pid namespace's
 * first process) while it is the process recorded; -1 otherwise. */
int ctr_init_pidfd(const struct ctr_state *s);

/* cairn exec: a command in a running container. */
struct ctr_exec {
	char *const *argv;
	const cn_strv *env;             /* KEY=VALUE over the container's env */
	const char *user, *workdir;     /* NULL: the container's */
	bool interactive, tty;
	bool capture;                   /* stdout and stderr to out_fd, not the caller's */
	int out_fd;
	bool stop_kills_group;          /* SIGTERM/SIGINT: SIGKILL the command and every
	                                 * process of its group (health checks' timeout) */
};
/* Run E in S with the caller's stdin (interactive), stdout and stderr and
 * wait: EX as sb_exec. 1 when S is not running (nothing printed), -1 on
 * error: a container started by an older cairn is CN_ERR_UNSUPPORTED, the
 * command's failure to start (sb_exec) is in ERR. The caller must not
 * fork afterwards (sb_exec). */
int ctr_exec(const struct ctr_state *s, const struct ctr_exec *e, struct sb_exit *ex, cn_err *err);

/* Become a supervisor: double fork, new session, stdio on /dev/null, cwd /,
 * and no fd of the caller's that is not close-on-exec. Returns 1 in the
 * caller with *fd the read end of a status pipe, 0 in the supervisor with
 * *fd its write end, -1 on error. The supervisor reports with
 * ctr_report_start (ERR NULL: started), the caller reads it with
 * ctr_await_start (EOF without a report is an error). */
int ctr_spawn_supervisor(int *fd, cn_err *err);
void ctr_report_start(int fd, const cn_err *err);
int ctr_await_start(int fd, cn_err *err);

#endif
