/* Typed instructions: the AST checked and turned into what the executor
 * needs. Values stay unexpanded here (expansion needs the build-time
 * environment); the executor calls bf_expand_* on them. */
#ifndef BF_INSTR_H
#define BF_INSTR_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/parse.h"
#include "util/err.h"
#include "util/strv.h"

enum bf_kind {
	BF_FROM, BF_RUN, BF_COPY, BF_ENV, BF_ARG, BF_WORKDIR, BF_USER, BF_LABEL,
	BF_EXPOSE, BF_CMD, BF_ENTRYPOINT, BF_SHELL, BF_VOLUME, BF_STOPSIGNAL,
	BF_MAINTAINER, BF_HEALTHCHECK, BF_ONBUILD, BF_ADD,
};

enum bf_network { BF_NET_DEFAULT, BF_NET_HOST, BF_NET_NONE };

/* RUN --mount: the options, split and checked against the list once when
 * the Buildfile is read. Values stay raw: the executor expands them with
 * the step's ARG and ENV (all but from=, which BuildKit never expands) and
 * converts them (bf_mount's users in the builder). */
enum bf_mount_opt {
	BF_MOUNT_TYPE, BF_MOUNT_TARGET, BF_MOUNT_SOURCE, BF_MOUNT_FROM, BF_MOUNT_ID,
	BF_MOUNT_SHARING, BF_MOUNT_SIZE, BF_MOUNT_MODE, BF_MOUNT_UID, BF_MOUNT_GID,
	BF_MOUNT_REQUIRED,
	BF_MOUNT_RW,            /* rw=/readwrite=, or ro=/readonly= with rw_inverted */
	BF_MOUNT_NOPTS,
};

struct bf_mount {
	char *opt[BF_MOUNT_NOPTS];    /* raw value ("true" for a bare name), NULL when not given */
	bool rw_inverted;             /* the last of rw/ro given was ro= or readonly= */
};

/* Split one --mount value ("type=cache,target=/x") into OUT. Unknown
 * options, a bare name that needs a value, a from= with a variable and a
 * value without '$' that cannot be right (type=, sharing=, mode=, uid=,
 * gid=, the booleans) are errors ("--mount: ..."). */
int bf_mount_parse(const char *spec, struct bf_mount *out, cn_err *err);
void bf_mount_free(struct bf_mount *m);

struct bf_kv {
	char *key;
	char *value;      /* raw (quotes kept) ; NULL for an ARG without default */
};

struct bf_instr {
	enum bf_kind kind;
	const struct bf_node *node;   /* line numbers, original text */
	const char *name;             /* upper-case keyword, e.g. "COPY" */

	/* FROM: image (raw word), stage name (AS x) or NULL */
	char *image;
	char *stage;

	/* RUN, CMD, ENTRYPOINT, SHELL: json => argv is the exec form;
	 * otherwise argv holds one element, the shell command text. */
	bool json;
	cn_strv argv;
	enum bf_network network;      /* RUN --network= */
	struct bf_mount *mounts;      /* RUN --mount= values, split */
	size_t nmounts;

	/* COPY: sources and destination (raw), --chown / --chmod (raw) or NULL */
	cn_strv srcs;
	char *dest;
	char *chown;
	char *chmod;
	char *from;                   /* --from: a stage name or index, or an image (raw) */
	bool link;                    /* COPY/ADD --link */
	bool parents;                 /* COPY --parents */
	cn_strv excludes;             /* COPY/ADD --exclude patterns (raw) */
	char *checksum;               /* ADD --checksum=sha256:HEX */
	char *platform;               /* FROM --platform (raw) */

	/* ENV, LABEL: pairs; ARG: names with optional default */
	struct bf_kv *kvs;
	size_t nkvs;

	/* WORKDIR, USER, STOPSIGNAL, MAINTAINER: one raw value */
	char *value;

	/* EXPOSE, VOLUME: raw words */
	cn_strv words;

	/* HEALTHCHECK: value "CMD" (argv, json as for CMD) or "NONE"; durations
	 * in nanoseconds and retries, -1 when not given. ONBUILD: value is the
	 * trigger instruction as written. */
	long long hc_interval, hc_timeout, hc_start_period, hc_start_interval;
	long long hc_retries;
};

struct bf_program {
	struct bf_file file;          /* owns the nodes the instructions point at */
	struct bf_instr *instrs;
	size_t ninstrs;
};

/* Parse and check a whole Buildfile. Errors name "NAME:LINE:COLUMN: KEYWORD:
 * ... (expected ...)":
 * unknown instructions, instructions not supported yet (ADD, ONBUILD,
 * HEALTHCHECK, COPY --from ...), unknown or malformed flags, wrong argument
 * counts, an instruction before the first FROM (other than ARG). */
int bf_program_parse(const char *name, const char *data, size_t len,
		     struct bf_program *out, cn_err *err);
void bf_program_free(struct bf_program *p);

#endif
