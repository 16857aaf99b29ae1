/* Image references for the registry client: the grammar is util/ref.h's
 * (shared with the store); what is registry-specific is here. */
#ifndef REG_REF_H
#define REG_REF_H

#include "util/ref.h"

/* The older names, still used by src/cli/cmd_build.c; to be replaced by
 * cn_ref, cn_ref_parse and cn_ref_free there, then removed. */
#define reg_ref cn_ref
#define reg_ref_parse cn_ref_parse
#define reg_ref_free cn_ref_free

/* Host and port the registry API is served on (docker.io's is registry-1.docker.io). */
const char *reg_ref_api_host(const struct cn_ref *ref);
/* Tag or digest, for /v2/PATH/manifests/REFERENCE. */
const char *reg_ref_reference(const struct cn_ref *ref);

#endif
