/* Running a container from an image: attached (cairn run, the caller
 * waits) or detached (cairn run -d, a supervisor owns it, see
 * container.h). Both build the root with ctr_rootfs_create, pick the
 * hostname by one rule and run the spec in the sandbox; the CLI keeps
 * the options, the terminal and the printing. */
#ifndef CTR_RUN_H
#define CTR_RUN_H

#include <stdbool.h>

#include "container/container.h"
#include "container/spec.h"
#include "sandbox/sandbox.h"
#include "store/image.h"
#include "store/store.h"
#include "util/err.h"

/* docker's exit status when cairn itself failed. */
#define CTR_EXIT_FAIL 125

enum ctr_restart {
	CTR_RESTART_NO,
	CTR_RESTART_ON_FAILURE,     /* a non-zero status, up to restart_max times */
	CTR_RESTART_ALWAYS,         /* until cairn stop (unless-stopped: the same,
	                             * cairn has no daemon to restart) */
};

struct ctr_run {
	const char *ref;                    /* the image as the user named it */
	const struct store_image *img;
	struct ctr_spec *spec;
	const char *name;                   /* --name, or NULL */
	const char *hostname;               /* NULL: the host's on the host network,
					     * else the name, else the id (docker's) */
	enum sb_network network;
	/* SB_NET_DEFAULT: the bridge (NULL: cairn0's, see net_conf_default),
	 * prepared by the caller (net_prepare); on a named one the container's
	 * names (its name, hostname and ALIASES) are in every member's hosts */
	const struct net_conf *net;
	const char *network_name;           /* recorded: "bridge", the network's name... */
	const cn_strv *aliases;             /* --network-alias */
	const struct net_port *ports;       /* -p (host ports picked): DNAT while it runs */
	size_t nports;
	const struct sb_mount *mounts;
	size_t nmounts;
	bool interactive, tty, read_only;
	bool auto_remove;                   /* detached: remove the state at exit */
	bool init;                          /* --init: cairn's reaper is pid 1 (else the
					     * image's process is, as in docker) */
	bool systemd;                       /* --systemd chose init-system mode (see
					     * ctr_systemd_wanted): the spec gets
					     * ctr_spec_systemd, the sandbox an init's
					     * cgroups, tmpfs, console and machine id */
	unsigned stop_timeout;
	const struct sb_limits *limits;     /* NULL: none */
	const struct sb_idmap *idmap;       /* NULL: no user namespace */
	const struct sb_security *security; /* NULL: docker's defaults */
	const struct sb_rlimit *rlimits;    /* --ulimit */
	size_t nrlimits;
	unsigned long long shm_size;        /* 0: 64 MiB */
	const cn_strv *extra_hosts;         /* --add-host NAME:IP */
	const cn_strv *dns;                 /* --dns */
	bool mute_stdout, mute_stderr;      /* -a without that stream: it goes nowhere */
	enum ctr_restart restart;           /* detached: --restart */
	unsigned restart_max;               /* on-failure:N (0: no limit) */
	/* detached: recorded in the state (labels, volumes, health) */
	const cn_strv *labels;              /* --label KEY=VALUE (NULL: none) */
	const cn_strv *volumes;             /* the named volumes mounted (NULL: none) */
	const struct ctr_health_conf *health;   /* NULL or no test: no check */
};

/* Run R with the caller's stdin (when interactive), stdout and stderr, and
 * wait: EX as sb_run. SIGPIPE is ignored from here on (a container that
 * stops reading its stdin must not kill cairn); Ctrl-C stops it. */
int ctr_run_attached(struct store *st, const struct ctr_run *r, struct sb_exit *ex, cn_err *err);

/* Record the container, hand it to a supervisor and return once its
 * process runs (ID: the new container's) or failed to start. The caller
 * holds the store's gc lock shared; the supervisor releases its copy. */
int ctr_run_detached(struct store *st, const struct ctr_run *r, char id[CTR_ID_LEN + 1], cn_err *err);

/* The exit status for a run that failed with ERR: docker's 127 when the
 * command was not found, 126 when it could not be executed, else
 * CTR_EXIT_FAIL. (Matched on the sandbox's "exec " message until cn_err
 * has kinds.) */
int ctr_fail_status(const cn_err *err);

#endif
