/* cairn run's command line: docker's flags parsed into what container/run.h
 * takes. Every usage error names its flag and is docker's 125 ("the
 * container never started"), as docker run's are. */
#ifndef CLI_RUN_OPTS_H
#define CLI_RUN_OPTS_H

#include <stdbool.h>

#include <jansson.h>

#include "cli/run_health.h"
#include "cli/step_opts.h"
#include "container/run.h"
#include "container/spec.h"
#include "sandbox/sandbox.h"
#include "store/store.h"
#include "util/err.h"
#include "util/strv.h"

struct run_opts {
	const char *name, *workdir, *user, *hostname, *entrypoint, *platform;
	bool interactive, tty, read_only, detach, rm, userns, privileged;
	bool init, init_set;    /* --init[=BOOL]; unset: cairn.conf's init, else false */
	enum ctr_systemd systemd;   /* --systemd (default true: for systemd or an init) */
	bool systemd_set;           /* ...given on the command line */
	bool attach_set, attach_in, attach_out, attach_err;   /* -a */
	struct sb_idmap idmap;  /* --userns=auto */
	enum sb_network network;
	const char *network_arg;    /* --network as given (NULL: the default) */
	const char *network_name;   /* --network NAME of a created network, else NULL */
	cn_strv aliases;            /* --network-alias */
	cn_strv publish;            /* -p */
	struct sb_limits limits;
	unsigned stop_timeout;
	cn_strv env;            /* --env-file's lines, then -e's (after parsing) */
	cn_strv env_file;       /* --env-file's lines while parsing */
	cn_strv volumes;        /* -v SRC:DST[:ro] */
	cn_strv mounts;         /* --mount KEY=VALUE,... */
	cn_strv tmpfs;          /* --tmpfs PATH[:OPTS] */
	cn_strv cap_add, cap_drop, dns;
	bool security_set;      /* --cap-*, --privileged or --security-opt given */
	bool nnp_set;           /* --security-opt no-new-privileges given */
	struct sb_security security;
	struct cli_step_opts step;  /* --add-host, --ulimit, --shm-size */
	enum ctr_restart restart;
	unsigned restart_max;
	struct cli_run_health rh;   /* --label, --health-* */
};

/* 0: go on (optind at IMAGE); -1: --help was printed; else the exit status
 * of a usage error (printed). */
int run_opts_parse(int argc, char **argv, struct run_opts *o);
void run_opts_free(struct run_opts *o);

/* --env-file FILE's K=V lines (blank and # lines skipped) onto OUT. */
int run_opts_read_env_file(const char *path, cn_strv *out, cn_err *err);
/* docker's order, whatever the command line's: the --env-file lines in
 * FROM_FILES (taken) go before the -e entries in *ENV, which thus win. */
void run_opts_env_files_first(cn_strv *env, cn_strv *from_files);
/* -e and --env-file entries as KEY=VALUE: KEY alone takes cairn's own
 * value, and is dropped when cairn has none. */
void run_opts_resolve_env(const cn_strv *given, cn_strv *out);

/* -v, --mount and --tmpfs as sandbox mounts (N of them in *OUT; strings kept
 * in KEEP); named volumes are made in ST, their names added to VOLUMES. */
int run_opts_mounts(struct store *st, const struct run_opts *o, struct sb_mount **out, size_t *n,
		    cn_strv *keep, cn_strv *volumes, cn_err *err);

/* --platform against the image's config: an error when they differ. */
int run_opts_check_platform(const char *want, const json_t *image_config, const char *ref, cn_err *err);

#endif
