/* What the `cairn compose` commands share (cmd_compose*.c): the loaded
 * project, the cairn children they spawn (/proc/self/exe with the store
 * root carried over), and the project's containers as the store lists
 * them. Each command acts through the plain cairn commands (build, run -d,
 * stop, rm, network, volume) so compose adds no second way of doing them. */
#ifndef CLI_COMPOSE_CMD_H
#define CLI_COMPOSE_CMD_H

#include <stdbool.h>
#include <sys/types.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "compose/graph.h"
#include "container/container.h"
#include "util/digest.h"

/* docker compose's labels (pkg/api/labels.go). */
#define CC_LABEL_PROJECT "com.docker.compose.project"
#define CC_LABEL_SERVICE "com.docker.compose.service"
#define CC_LABEL_NUMBER "com.docker.compose.container-number"
#define CC_LABEL_ONEOFF "com.docker.compose.oneoff"
#define CC_LABEL_HASH "com.docker.compose.config-hash"
#define CC_LABEL_NETWORK "com.docker.compose.network"
#define CC_LABEL_VOLUME "com.docker.compose.volume"

struct cc {
	struct cli *cli;
	struct cmp_project p;
	bool rootless;          /* not root: host networking for every service */
	bool warned_rootless;
	size_t namew;           /* widest container name: the log prefix's width */
};

/* ---- children (cmd_compose.c) ---- */
/* ARGV starts as "cairn --root ROOT". */
void cc_argv(struct cc *c, cn_strv *argv);
enum cc_out {
	CC_INHERIT,             /* the child's output is ours */
	CC_QUIET,               /* kept; printed (stderr) only when it fails */
	CC_SILENT,              /* thrown away */
};
/* Run ARGV and wait: its exit status (0..255), 128+N when killed by N, -1
 * when it could not be started (printed). OUT: where its output goes;
 * CAPTURE (optional) gets its stdout. */
int cc_run(struct cc *c, cn_strv *argv, enum cc_out out, char **capture);
/* Start ARGV with stdout and stderr on a new pipe: its pid, *fd the read end. */
pid_t cc_spawn_piped(struct cc *c, cn_strv *argv, int *fd);
/* Replace this process with ARGV (exec, run: the terminal is theirs). */
int cc_exec(struct cc *c, cn_strv *argv);
/* Print each complete line of BUF[0..*len) with PREFIX, keeping an
 * incomplete tail at the start of BUF (FLUSH: print it too). */
void cc_print_lines(const char *prefix, char *buf, size_t *len, bool flush);

/* ---- the project's containers (cmd_compose.c) ---- */
const char *cc_label(const struct ctr_state *s, const char *key);
/* The containers of the project, newest first; ONEOFF: `compose run`'s too. */
int cc_containers(struct cc *c, struct ctr_state **list, size_t *n, bool oneoff);
/* The service's container: <project>-<service>-1, or container_name. */
char *cc_container_name(const struct cc *c, const struct cmp_service *svc);
/* The image a service runs: image:, else <project>-<service>. */
char *cc_image_name(const struct cc *c, const struct cmp_service *svc);
/* The graph of depends_on edges (strict order) over the services. */
int cc_depends_graph(struct cc *c, struct cmp_graph *g, cn_err *err);
/* The services in depends_on order (dependencies first) into ORDER
 * (nservices entries); -1 after printing a cycle. */
int cc_depends_order(struct cc *c, size_t *order);
/* FLAG VAL, and FLAG before each of VALS, onto V. */
void cc_push2(cn_strv *v, const char *flag, const char *val);
void cc_push_each(cn_strv *v, const char *flag, const cn_strv *vals);
/* -t/--timeout's seconds: 0, or the usage error's status (printed). */
int cc_parse_timeout(const char *arg, long *out);
/* The manifest digest of image REF in the store, "" when it is absent. */
void cc_image_digest(struct cc *c, const char *ref, char out[CN_DIGEST_STR_SIZE]);
/* SEL (nservices flags): the services named in ARGS (all when none),
 * with what they depend on when CLOSURE. -1 after printing an unknown one. */
int cc_select(struct cc *c, char **args, int nargs, bool closure, bool *sel);

/* ---- the commands ---- */
int cc_cmd_build(struct cc *c, int argc, char **argv);
/* Build the services SEL marks that have a build: section (all of them,
 * or when MISSING_ONLY those whose image is not in the store). */
int cc_build(struct cc *c, const bool *sel, bool missing_only, long jobs, bool no_cache, bool pull);
int cc_cmd_up(struct cc *c, int argc, char **argv);
int cc_cmd_run(struct cc *c, int argc, char **argv);
int cc_cmd_start(struct cc *c, int argc, char **argv);
int cc_cmd_restart(struct cc *c, int argc, char **argv);
/* Create (or keep) and start the services SEL marks, in depends_on order,
 * waiting for the conditions; RECREATE_ALL: no container is kept. */
int cc_up(struct cc *c, const bool *sel, bool recreate_all, bool no_build);
int cc_cmd_down(struct cc *c, int argc, char **argv);
int cc_cmd_ps(struct cc *c, int argc, char **argv);
int cc_cmd_logs(struct cc *c, int argc, char **argv);
int cc_cmd_exec(struct cc *c, int argc, char **argv);
int cc_cmd_stop(struct cc *c, int argc, char **argv);
int cc_cmd_pull(struct cc *c, int argc, char **argv);
int cc_cmd_push(struct cc *c, int argc, char **argv);
int cc_cmd_rm(struct cc *c, int argc, char **argv);
/* Stop (in reverse depends_on order) the running containers of the
 * services SEL marks (NULL: every container of the project). */
int cc_stop(struct cc *c, const bool *sel, long timeout);
/* Containers of the project whose service is not in the file (ONEOFF: one-off
 * ones too): stopped and removed when REMOVE, else named in docker compose's
 * warning. 0, or EXIT_FAIL when one could not be removed. */
int cc_orphans(struct cc *c, bool remove, long timeout, bool oneoff);
/* Print the logs of the containers of the services SEL marks (prefixed
 * "NAME | "); FOLLOW: until they all end, or Ctrl-C, which with UP (an
 * attached `up`) stops them and prints what they still write. */
int cc_logs(struct cc *c, const bool *sel, bool follow, long tail, bool prefix, bool up);

#endif
