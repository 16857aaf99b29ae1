/* The executor: runs a Buildfile's instructions, one layer per changing
 * step, and records the image in the store. */
#ifndef BF_BUILD_H
#define BF_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/layer.h"
#include "sandbox/sandbox.h"
#include "store/image.h"
#include "store/store.h"
#include "util/err.h"
#include "util/strv.h"

enum bf_event_kind {
	BF_EV_STEP,         /* step index/total, text: the instruction */
	BF_EV_LAYER,        /* a layer was committed: digest, size */
	BF_EV_NO_LAYER,     /* the step changed no file */
	BF_EV_CACHED,       /* the step's result came from the build cache: digest = state id */
	BF_EV_WARNING,      /* text */
	BF_EV_DONE,         /* the step ran: digest = state id ("" for FROM, ARG), seconds */
	BF_EV_WAIT,         /* another build runs this step (same cache key): text, waiting for it */
};

/* STEP events number the steps that run (--target leaves some out): step
 * is 1..total in that order, line the instruction's line in the Buildfile.
 * A state id is the image id (config digest) of the state a step ended in. */
struct bf_event {
	enum bf_event_kind kind;
	size_t step, total;
	const char *text;
	const char *digest;
	uint64_t size;
	const char *stage;      /* the stage's name, or its index as text */
	bool parallel;          /* the stage runs beside others (jobs > 1) */
	double seconds;         /* DONE, CACHED: how long the step took */
	int line;               /* STEP: its line in the Buildfile (0: a trigger) */
	const char *source;     /* CACHED: "local", or the imported cache's name */
};

enum bf_pull_policy {
	BF_PULL_MISSING,        /* pull a FROM image the store lacks (the default) */
	BF_PULL_ALWAYS,         /* pull every FROM image, present or not */
	BF_PULL_NEVER,          /* never pull: a missing image fails the build */
};

/* build --format: the image's manifest and config media types. */
enum bf_format { BF_FORMAT_OCI, BF_FORMAT_DOCKER };

/* --cache-from: build caches from elsewhere (rcache/), asked when the
 * store's own cache misses. A hit's manifest and config are put in the
 * store by lookup; its layers only when a step needs their content
 * (fetch_layer), so a chain of hits costs the final image's layers. */
struct bf_cache_import {
	/* KEY's state: 1 with its manifest digest and *SOURCE (the cache's
	 * name, for progress), 0 when no imported cache has it. */
	int (*lookup)(void *ctx, struct store *st, const char *key, char manifest[CN_DIGEST_STR_SIZE],
		      const char **source);
	/* Whether an imported cache names the layer blob DIGEST. */
	bool (*has_layer)(void *ctx, const char *digest);
	/* LAYER's blob and snapshot into the store, verified (digest, size,
	 * diff_id) even when the store has blob and snapshot of those names. */
	int (*fetch_layer)(void *ctx, struct store *st, const struct store_layer *layer, cn_err *err);
	void *ctx;
};

/* --cache-to: a step's key and the state it ended in (every step that
 * has a key, run or cached), for rcache/ to export. */
struct bf_cache_record {
	char key[CN_DIGEST_STR_SIZE];
	char state[CN_DIGEST_STR_SIZE];
	char stage[64];         /* the stage's name, or its index as text */
	bool final;             /* a state the built image is made from (mode=min) */
};

struct bf_cache_records {
	struct bf_cache_record *v;
	size_t n;
};

void bf_cache_records_free(struct bf_cache_records *r);

struct bf_build_opts {
	const char *buildfile;          /* path as the user named it (used in messages) */
	const char *context;            /* build context directory */
	cn_strv build_args;             /* KEY=VALUE from --build-arg */
	enum layer_compression compression;
	int compression_level;          /* 0: the compression's default */
	enum sb_network network;        /* RUN default: SB_NET_DEFAULT (a bridge) */
	int out_fd, err_fd;             /* where RUN output goes */
	bool no_cache;                  /* run every step (results still fill the cache) */
	const char *target;             /* build up to this stage (default: the last) */
	size_t jobs;                    /* independent stages built at once (>= 1) */
	cn_strv secrets;                /* ID=PATH for RUN --mount=type=secret (--secret) */
	cn_strv secret_envs;            /* ID=VAR: the secret is $VAR's value (--secret id=ID,env=VAR);
					 * an empty PATH or VAR: not from there */
	long long timestamp;            /* >= 0: reproducible build at this time (SOURCE_DATE_EPOCH) */
	const struct sb_limits *limits; /* cgroup limits for every RUN step (NULL: none) */
	enum bf_format format;          /* --format (builder/imgformat.h) */
	cn_strv contexts;               /* NAME=VALUE from --build-context (builder/namedctx.h) */
	/* --add-host (NAME:IP), --ulimit, --shm-size for every RUN step; as
	 * docker build, not part of the cache key */
	const cn_strv *add_hosts;
	const struct sb_rlimit *rlimits;
	size_t nrlimits;
	unsigned long long shm_size;
	cn_strv labels;                 /* K=V (--label): set on the image's config last */
	cn_strv annotations;            /* K=V (--annotation): on the image's manifest */
	cn_strv no_cache_stages;        /* --no-cache-filter: these stages' steps run uncached */
	enum bf_pull_policy pull_policy;
	/* The Buildfile's text when it is not a file (-f -); buildfile then
	 * only names it in messages. */
	const char *buildfile_text;
	size_t buildfile_len;
	bool relay_raw;                 /* a parallel stage's stdout lines are relayed unprefixed
					 * (its events carry the stage: --progress rawjson) */
	void (*on_event)(void *ctx, const struct bf_event *ev);
	void *event_ctx;
	/* FROM an image the store lacks: fetch it (a registry pull) and tag
	 * it as named; NULL: such a FROM fails. */
	int (*pull)(void *ctx, struct store *st, const char *image, cn_err *err);
	void *pull_ctx;
	/* The same for one platform ("linux/arm64"): FROM an image the store
	 * lacks for the stage's platform (pull_ctx too). NULL: pull is used
	 * for a missing image, and another platform's image is an error. */
	int (*pull_platform)(void *ctx, struct store *st, const char *image, const char *platform, cn_err *err);
	/* With --cache-from: fetch only IMAGE's manifest (PLATFORM's, from an
	 * index) and config into the store (pull_ctx); MANIFEST its digest. */
	int (*resolve)(void *ctx, struct store *st, const char *image, const char *platform,
		       char manifest[CN_DIGEST_STR_SIZE], cn_err *err);
	const char *platform;           /* --platform OS/ARCH[/VARIANT]; NULL: the host's */
	const struct bf_cache_import *cache_from;       /* NULL: none */
	struct bf_cache_records *cache_records;         /* not NULL: the build appends its records */
	/* --cache-to type=inline: put the cache of RECS (the build's records
	 * so far) in CONFIG, the final image's config (a state of its own). */
	int (*inline_cache)(void *ctx, struct store *st, const struct bf_cache_records *recs, json_t *config,
			    cn_err *err);
	void *inline_ctx;
	/* Set up the default network (bridge, NAT rules) before the first RUN
	 * step that runs on it; a build whose steps all come from the cache
	 * never calls it (setting it up costs tens of ms of nftables commits).
	 * Called again by each stage worker: it must be idempotent. NULL:
	 * nothing to set up. */
	int (*network_prepare)(void *ctx, cn_err *err);
	void *network_ctx;
};

struct bf_build_result {
	char manifest_digest[CN_DIGEST_STR_SIZE];
	char image_id[CN_DIGEST_STR_SIZE];      /* the config digest, as docker names an image */
	uint64_t manifest_size;
	size_t nlayers;
};

int bf_build(struct store *st, const struct bf_build_opts *opts, struct bf_build_result *res,
	     cn_err *err);

#endif
