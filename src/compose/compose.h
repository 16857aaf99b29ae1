/* A compose project (the Compose Specification's compose.yaml) as cairn
 * runs it: the files read with libyaml (yaml.c, anchors and merge keys,
 * with limits), each file interpolated (${VAR:-default}, .env) and the
 * files merged by the spec's rules, then checked into these typed structs.
 *
 * Values the CLI passes on to `cairn build` and `cairn run` are kept in
 * the forms those commands take (-p, -v, --mount, --tmpfs strings), so the
 * engine (src/cli/cmd_compose*.c) only translates flags. Paths are
 * absolute (relative ones resolve against the first file's directory).
 * Every error names file:line:column; warnings (unknown keys, unset
 * variables) name file:line. */
#ifndef CMP_COMPOSE_H
#define CMP_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/strv.h"

/* Where a value came from (for messages). FILE points into the project's
 * file list. */
struct cmp_pos {
	const char *file;
	unsigned line, col;     /* 1-based; 0: unknown */
};

struct cmp_build {
	char *context;          /* absolute directory (or a URL/ref kept as written) */
	char *dockerfile;       /* NULL: Buildfile/Dockerfile as cairn build finds it;
	                         * else absolute, or relative to context as written */
	char *dockerfile_inline;/* NULL unless given */
	cn_strv args;           /* KEY=VALUE; a bare KEY took the project's environment
	                         * (shell, .env), or stays bare when it has none */
	char *target;           /* NULL: the last stage */
	cn_strv tags;           /* extra tags besides the service's image */
	cn_strv labels;         /* KEY=VALUE */
	cn_strv secrets;        /* --secret values: id=NAME,src=/abs/path or id=NAME,env=VAR */
	cn_strv cache_from, cache_to;   /* --cache-from/--cache-to values as written */
	char *network;          /* NULL, host, none, default */
	cn_strv additional_contexts;    /* NAME=VALUE for --build-context */
	char *platform;         /* NULL: the host's */
	bool no_cache, pull;
	struct cmp_pos pos;
};

enum cmp_condition {
	CMP_COND_STARTED,               /* service_started (the short form) */
	CMP_COND_HEALTHY,               /* service_healthy */
	CMP_COND_COMPLETED,             /* service_completed_successfully */
};

struct cmp_depends {
	char *service;
	enum cmp_condition condition;
	bool required;                  /* default true */
	bool restart;
	struct cmp_pos pos;
};

struct cmp_health {
	bool set;                       /* healthcheck: given at all */
	bool disable;                   /* disable: true, or test: [NONE] */
	bool shell;                     /* CMD-SHELL (test[0], or a plain string) */
	cn_strv test;                   /* shell: one string; else the argv after CMD */
	long long interval_ns, timeout_ns, start_period_ns, start_interval_ns;  /* -1: unset */
	int retries;                    /* -1: unset */
};

struct cmp_service_net {
	char *key;                      /* the top-level networks: key */
	cn_strv aliases;
};

struct cmp_service {
	char *name;
	struct cmp_pos pos;
	char *image;                    /* NULL: <project>-<service> when built */
	struct cmp_build *build;        /* NULL: no build: section */
	bool has_command, has_entrypoint;   /* given (an empty list clears) */
	cn_strv command, entrypoint;    /* argv (a string is split as compose does) */
	cn_strv environment;            /* env_file lines first, then environment:,
	                                 * KEY=VALUE; a bare KEY took the shell's value
	                                 * or was dropped */
	char *working_dir, *user, *hostname, *container_name;
	char *restart;                  /* NULL, no, always, on-failure[:N], unless-stopped */
	char *stop_signal;              /* NULL: the image's */
	long long stop_grace_period_ns; /* -1: unset */
	cn_strv volumes;                /* -v strings: /abs/src:/dst[:ro] or NAME:/dst[:ro]
	                                 * (NAME the volume's real name) */
	cn_strv mounts;                 /* --mount strings for what -v cannot say */
	cn_strv tmpfs;                  /* --tmpfs strings */
	bool read_only, init, privileged, tty, stdin_open;
	cn_strv cap_add, cap_drop;
	cn_strv ports;                  /* -p strings: [IP:]HOST[-END]:CTR[-END][/proto] */
	char *network_mode;             /* NULL (networks apply), host, none */
	struct cmp_service_net *networks;   /* the default network when none given */
	size_t nnetworks;
	struct cmp_depends *depends_on;
	size_t ndepends;
	struct cmp_health health;
	long long mem_limit;            /* bytes; 0 unset (deploy.resources.limits.memory, mem_limit) */
	char *cpus;                     /* NULL unset, else "0.5" */
	long long pids_limit;           /* 0 unset */
	cn_strv extra_hosts;            /* NAME:IP */
	cn_strv dns;
	cn_strv labels;                 /* KEY=VALUE */
	cn_strv profiles;
	char *platform;
};

struct cmp_network {
	char *key;                      /* as in the file */
	char *name;                     /* <project>_<key>, or name:/external's */
	bool external, internal;
	char *subnet;                   /* ipam.config[0].subnet, NULL: cairn picks */
	cn_strv labels;
	struct cmp_pos pos;
};

struct cmp_volume {
	char *key;
	char *name;                     /* <project>_<key>, or name:/external's */
	bool external;
	cn_strv labels;
	struct cmp_pos pos;
};

struct cmp_project {
	char *name;                     /* validated/normalized as the spec says */
	char *workdir;                  /* the first file's directory */
	cn_strv files;                  /* absolute paths, in -f order */
	struct cmp_service *services;   /* in the first file's order */
	size_t nservices;
	struct cmp_network *networks;   /* "default" included when a service uses it */
	size_t nnetworks;
	struct cmp_volume *volumes;
	size_t nvolumes;
	cn_strv env;                    /* what interpolation saw: shell, then .env */
};

struct cmp_load_opts {
	const char *const *files;       /* -f, in order; none: discovery in workdir */
	size_t nfiles;
	const char *project_name;       /* -p, or NULL */
	const char *project_dir;        /* --project-directory, or NULL */
	const char *env_file;           /* --env-file, or NULL: <workdir>/.env */
	char *const *environ;           /* the shell's environment */
	const cn_strv *profiles;        /* --profile (services with profiles only when named) */
};

/* Read, interpolate, merge and check. WARNINGS gets "file:line: ..." lines. */
int cmp_project_load(const struct cmp_load_opts *o, struct cmp_project *p, cn_strv *warnings, cn_err *err);
void cmp_project_free(struct cmp_project *p);

const struct cmp_service *cmp_service_find(const struct cmp_project *p, const char *name);
const struct cmp_network *cmp_network_find(const struct cmp_project *p, const char *key);
const struct cmp_volume *cmp_volume_find(const struct cmp_project *p, const char *key);

#endif
