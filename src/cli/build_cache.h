/* cairn build --cache-from / --cache-to (rcache/): the flags, the import
 * set up before the build, the export and the report after it. */
#ifndef CLI_BUILD_CACHE_H
#define CLI_BUILD_CACHE_H

#include <stdbool.h>

#include "builder/build.h"
#include "rcache/rcache.h"
#include "rcache/spec.h"
#include "registry/registry.h"

struct cli_build_cache {
	struct rc_spec *from, *to;
	size_t nfrom, nto;
	bool inline_;                   /* --cache-to type=inline */
	bool retried;                   /* built again without the import */
	struct rc_import *import;
	struct bf_cache_records records;
	struct reg_opts ro;             /* the build's registry options, without progress */
};

#define CLI_BUILD_CACHE_USAGE \
	"      --cache-from SRC     also take steps from a shared build cache (repeatable):\n" \
	"                           type=registry,ref=REF (or REF alone), or\n" \
	"                           type=local,src=DIR[,tag=T] (an OCI layout); only the\n" \
	"                           layers a step needs are downloaded; a cache that\n" \
	"                           cannot be read is a warning\n" \
	"      --cache-to DEST      write this build's cache there (repeatable):\n" \
	"                           type=registry,ref=REF or type=local,dest=DIR[,tag=T],\n" \
	"                           with mode=min (the image's steps, default) or max\n" \
	"                           (every stage's), compression=gzip|zstd (the build's\n" \
	"                           layer compression), ignore-error=true; type=inline\n" \
	"                           puts it in the image's config (read back with\n" \
	"                           --cache-from type=registry,ref=THE_IMAGE once pushed)\n"

/* --cache-from (FROM) or --cache-to VALUE; a usage error printed. */
int cli_build_cache_flag(struct cli_build_cache *c, bool to, const char *value);
/* The compression the caches ask for: 0, or -1 (usage error printed) when
 * --compression (GIVEN) or two caches disagree. */
int cli_build_cache_compression(struct cli_build_cache *c, bool given, enum layer_compression *comp);
/* Before the build: read the --cache-from caches; O gets the hooks and
 * the records sink. */
void cli_build_cache_prepare(struct cli_build_cache *c, struct store *st, const struct reg_opts *ro,
			     struct bf_build_opts *o);
/* After a failed build: true when an imported layer could not be fetched
 * (warned): the build should run once more without the import, O reset. */
bool cli_build_cache_retry(struct cli_build_cache *c, struct bf_build_opts *o);
/* After the build: export to every --cache-to, report both sides on
 * stderr. -1 with ERR when an export failed without ignore-error. */
int cli_build_cache_finish(struct cli_build_cache *c, struct store *st, bool quiet, cn_err *err);
void cli_build_cache_free(struct cli_build_cache *c);

#endif
