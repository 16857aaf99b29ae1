/* Image references for the registry client: the grammar is util/ref.h's
 * (shared with the store); what is registry-specific is here. */
#ifndef REG_REF_H
#define REG_REF_H

#include "util/ref.h"

/* Host and port the registry API is served on (docker.io's is registry-1.docker.io). */
const char *reg_ref_api_host(const struct cn_ref *ref);
/* Tag or digest, for /v2/PATH/manifests/REFERENCE. */
const char *reg_ref_reference(const struct cn_ref *ref);

#endif
