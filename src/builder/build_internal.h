/* The executor's internals, shared by the files build.c is split into:
 * build.c (the executor loop, variables, FROM/ARG and the config
 * instructions), stages.c (stage planning and the worker pool), stepdir.c
 * (step directories and layer commit), cachekey.c (cache keys, state
 * adoption), runmount.c (RUN and its --mount), copystep.c (COPY/ADD),
 * finish.c (--label, --annotation).
 * Not a public API: bf_build (build.h) is. */
#ifndef BF_BUILD_INTERNAL_H
#define BF_BUILD_INTERNAL_H

#include "builder/build.h"
#include "builder/config.h"
#include "builder/copy.h"
#include "builder/ignore.h"
#include "builder/statcache.h"
#include "builder/expand.h"
#include "builder/fetch.h"
#include "builder/instr.h"
#include "container/rootfs.h"
#include "util/userdb.h"
#include "store/image.h"
#include "store/mounts.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* A build stage: from one FROM to the next. */
struct stage {
	char *name;             /* FROM ... AS name (lower-case), or NULL */
	size_t first, end;      /* its instructions: [first, end) */
	bool needed;            /* the target depends on it */
	bool *deps;             /* deps[j]: reads stage j (FROM or COPY --from) */
	bool done;
	json_t *cfg;
	struct store_layer *layers;
	size_t nlayers, cap;
	cn_strv args;           /* ARG values declared in the stage */
	cn_strv declared;       /* ARG names declared in the stage, with or without a value */
	bool cmd_set;           /* CMD given in this stage (ENTRYPOINT resets an inherited one) */
	char state[CN_DIGEST_STR_SIZE];  /* manifest of the image state so far ("" = none yet) */
	char key[CN_DIGEST_STR_SIZE];    /* cache key of that state */
	char id[CN_DIGEST_STR_SIZE];     /* that state's image id (config digest), for messages */
	uint64_t state_size;             /* manifest bytes, when written by this build */
	/* --cache-from: the state came from an imported cache and some of its
	 * layers are not in the store, or not checked, yet (bd_materialize). */
	bool pending;
	bool import_off;                 /* a step of this stage ran: no more imported hits */
};

struct build {
	struct store *st;
	const struct bf_build_opts *o;
	struct bf_program prog;
	int ctx_fd;
	struct stage *stages;
	size_t nstages;
	struct stage *cur;      /* the stage being built */
	bool sequential;        /* stage references not fully known: one at a time */
	cn_strv meta_args;      /* ARG values declared before FROM (and the platform args) */
	cn_strv used_args;      /* --build-arg names some ARG consumed */
	cn_strv declared;       /* global ARG names ("NAME=") */
	cn_strv warned;         /* names already warned about */
	cn_strv pulled;         /* --pull=always: images pulled by this build ("NAME=") */
	bool positioned;        /* the error already names FILE:LINE:COLUMN */
	bool in_trigger;        /* running an ONBUILD trigger */
	struct bf_statcache *sc;         /* context file digests, kept across builds */
	char *ctx_path;                  /* absolute, the stat cache's keys */
	struct bf_ignore *ignore;        /* the context's ignore file (NULL: none) */
	char copy_fp[CN_DIGEST_STR_SIZE];/* COPY: its sources' fingerprint when keyed */
	/* ADD URL: the current step's downloads, tmp/fetch-XXXXXX/<index>/<name>;
	 * fetched.v[i] is source i's file ("" when not a URL or not yet fetched). */
	struct store_tmpdir fetch_td;
	cn_strv fetched;
	cn_strv fetch_digests;           /* sha256 of each download */
	size_t step, total;
	size_t *stepno;         /* stepno[i]: instruction i's number among the steps that run */
	struct timespec step_t0;         /* when the current step started */
	bool in_worker;                  /* a stage's worker process (stages run in parallel) */
	bool mute;                       /* STEP and DONE events not shown (the global ARGs, at first) */
	/* RUN: the current step's --mount values (bd_step_mounts); mounts_of
	 * is the instruction they were resolved for. */
	bool executing;                  /* a step runs (not only keyed): stages it reads need content */
	int journal_fd;                  /* --cache-to: "STAGE KEY STATE" lines (-1: none) */
	int pending_fd;                  /* --cache-from: "KEY STATE" of imported hits not yet in
					  * the store's cache (shared with stage workers) */
	/* --cache-from: "DIGEST DIFF_ID" of layers known to be that pair (the
	 * store's own images, layers this build made or checked): an imported
	 * state naming them needs no check of those. */
	cn_strv trusted;
	const struct bf_instr *mounts_of;
	struct mount_spec *mounts;
	size_t nmounts;
};

enum bd_mount_kind { BD_MOUNT_BIND, BD_MOUNT_CACHE, BD_MOUNT_TMPFS, BD_MOUNT_SECRET };

/* One --mount of the current step: the instruction's bf_mount expanded,
 * converted and checked once (bd_step_mounts). The strings point into
 * OWNED (expanded values) or the instruction (from=). */
struct mount_spec {
	enum bd_mount_kind kind;
	cn_strv owned;
	const char *type;       /* as written, for messages */
	const char *target, *id, *sharing, *size, *source, *from;
	unsigned long mode, uid, gid;
	bool required, rw;
};

void bd_crash_point(const char *name);
void bd_emit(struct build *b, enum bf_event_kind kind, const char *text, const char *digest,
		 uint64_t size);
/* bd_emit with the CACHED event's source ("local", an imported cache). */
void bd_emit_cached(struct build *b, enum bf_event_kind kind, const char *text, const char *digest,
		    uint64_t size, const char *source);
/* Seconds since the current step started. */
double bd_step_seconds(const struct build *b);
/* Number the steps that run (the global ARGs and the needed stages'
 * instructions), after bd_plan_stages. */
void bd_number_steps(struct build *b);
/* --label: a last state with the labels set (cached like a step). */
int bd_add_labels(struct build *b, cn_err *err);
/* RES's image id, and --annotation: RES's manifest rewritten with them. */
int bd_finish_manifest(struct build *b, struct bf_build_result *res, cn_err *err);
void bd_now_rfc3339(const struct build *b, char out[32]);
void bd_visible_env(struct build *b, cn_strv *out);
int bd_expand(struct build *b, const cn_strv *env, const char *word, char **out, cn_err *err);
/* A step's root in its own tmp/step-XXXXXX over the current stage's layers,
 * with "src" for a second root (COPY --from, a bind mount's from=) and,
 * for RUN, a hosts file naming HOSTNAME (NULL: none). */
int bd_step_rootfs(struct build *b, const char *hostname, struct ctr_rootfs *fs, cn_err *err);
void bd_history(struct build *b, const char *created_by, bool empty_layer);
int bd_commit_step(struct build *b, struct ctr_rootfs *s, const char *created_by, cn_err *err);
void bd_hash_field(cn_sha256 *h, const char *s);
void bd_root_key(struct build *b, const char *base);
void bd_step_key(const struct build *b, const struct bf_instr *in, const char *extra,
		     char out[CN_DIGEST_STR_SIZE]);
bool bd_adopt_state(struct build *b, const char *manifest);
/* The store's cache, then the imported ones (--cache-from): 1 when KEY's
 * state was adopted (the CACHED event sent), 0 on a miss. */
int bd_cache_lookup(struct build *b, const char *key);
/* The same, its CACHED event left to the caller (*SOURCE: where from). */
int bd_cache_lookup_quiet(struct build *b, const char *key, const char **source);
/* After a miss of KEY: its step's lock (store_step_lock; waiting, with a
 * WAIT event, while another build runs that step), then the cache again.
 * 1 when that hit (the lock released, the CACHED event sent), 0 when the
 * caller holds the lock in *FD, runs the step, files its result and calls
 * store_step_unlock, -1 on error. */
int bd_cache_lock(struct build *b, const char *key, int *fd, cn_err *err);
/* ST's layers all in the store (fetched from an imported cache if pending). */
int bd_materialize(struct build *b, struct stage *st, cn_err *err);
/* --cache-to: note that the current stage reached its state under KEY. */
void bd_journal(struct build *b, const char *key);
/* --cache-from: LAYERS are what they say (bd_adopt_state, bd_materialize). */
void bd_trust_layers(struct build *b, const struct store_layer *layers, size_t n);
int bd_journal_open(struct build *b, cn_err *err);
/* The journal's records, into o->cache_records; FINAL's chain and
 * UNLABELED (the state before --label) are what mode=min exports. */
void bd_journal_collect(struct build *b, const char *final, const char *unlabeled);
int bd_commit_state(struct build *b, const char *key, cn_err *err);
struct stage *bd_find_stage(struct build *b, const char *name, bool by_index);
int bd_load_image(struct build *b, const char *name, struct store_image *img, cn_err *err);
char *bd_heredoc_body(const struct bf_heredoc *hd);
void bd_shell_argv(struct build *b, const struct bf_instr *in, cn_strv *argv);
void bd_mount_spec_free(struct mount_spec *ms);
/* The step IN's mounts in b->mounts (resolved once per step: the cache
 * key, the run and the re-check after it read the same values). */
int bd_step_mounts(struct build *b, const struct bf_instr *in, cn_err *err);
void bd_step_mounts_free(struct build *b);
/* The network a RUN step gets: decides both its sandbox and its cache key. */
enum sb_network bd_step_network(const struct build *b, const struct bf_instr *in);
char *bd_bind_source(const struct mount_spec *ms);
int bd_stage_or_image(struct build *b, const char *from, struct store_image *img,
			  const struct store_layer **layers, size_t *n, char state[CN_DIGEST_STR_SIZE],
			  cn_err *err);
int bd_do_run(struct build *b, const struct bf_instr *in, cn_err *err);
int bd_expand_sources(struct build *b, const struct bf_instr *in, const cn_strv *env,
			  cn_strv *srcs, cn_err *err);
int bd_copy_from_source(struct build *b, const struct bf_instr *in, struct store_image *img,
			    const struct store_layer **layers, size_t *n, char state[CN_DIGEST_STR_SIZE],
			    cn_err *err);
int bd_fetch_urls(struct build *b, const struct bf_instr *in, const cn_strv *srcs, cn_err *err);
void bd_fetch_done(struct build *b);
int bd_exclude_matcher(struct build *b, const struct bf_instr *in, const cn_strv *env,
			   struct bf_ignore **out, cn_err *err);
void bd_ignore_freep(struct bf_ignore **ig);
int bd_do_copy(struct build *b, const struct bf_instr *in, cn_err *err);
/* PATH as an absolute, clean path in the image, a relative one from CWD
 * (the WORKDIR; NULL or "": the root). */
char *bd_abs_path(const char *cwd, const char *path);
bool bd_inputs_held(struct build *b, const struct bf_instr *in);
int bd_step_extra(struct build *b, const struct bf_instr *in, char **extra, bool *cacheable,
		      cn_err *err);
int bd_run_step(struct build *b, const struct bf_instr *in, cn_err *err);
int bd_plan_stages(struct build *b, cn_err *err);
int bd_run_one(struct build *b, size_t i, cn_err *err);
int bd_run_stage(struct build *b, struct stage *st, cn_err *err);
int bd_run_stages_parallel(struct build *b, cn_err *err);

#endif
