/* The platform a build stage is for (build --platform, FROM --platform):
 * its base image is that platform's, its config says so, and its RUN
 * steps can run (natively or through binfmt_misc). A stage's platform is
 * its config's architecture/os/variant, so that it travels with the
 * stage's state (parallel stages, cache hits) with nothing else to keep. */
#ifndef BF_BUILDPLAT_H
#define BF_BUILDPLAT_H

#include <jansson.h>

#include "util/platform.h"

struct build;
struct bf_instr;
struct store_image;

/* The build's target: --platform, else the host's. */
void bd_plat_target(const struct build *b, struct cn_platform *p);
/* The platform an image config names (missing fields: the host's). */
void bd_plat_of_config(const json_t *cfg, struct cn_platform *p);
/* Make CFG say P (architecture, os, variant). */
void bd_plat_set_config(json_t *cfg, const struct cn_platform *p);
/* The platform FROM IN builds for: its --platform (expanded with the
 * global ARGs), else the target. */
int bd_plat_of_from(struct build *b, const struct bf_instr *in, struct cn_platform *p, cn_err *err);
/* Before any work: the target can run the Buildfile's RUN steps. */
int bd_plat_check_build(struct build *b, cn_err *err);
/* The current stage, just FROMed for P: its RUN steps can run. */
int bd_plat_check_stage(struct build *b, const struct cn_platform *p, cn_err *err);
/* --cache-from and a base NAME the store lacks: 1 when only its manifest
 * and config were fetched (o->resolve) because an imported cache holds
 * every layer it lacks, in the build's compression (IMG then names layers
 * to fetch later); 0: load it as usual (bd_plat_load_image). */
int bd_plat_lazy_base(struct build *b, const char *name, const struct cn_platform *p, struct store_image *img);
/* The image NAME for platform P: the store's if its config is P's, else
 * pulled for P (when the build has a puller). 1 found, 0 not, -1 error. */
int bd_plat_load_image(struct build *b, const char *name, const struct cn_platform *p,
		       struct store_image *img, cn_err *err);

#endif
