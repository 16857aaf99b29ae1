/* Image references as docker parses them: [DOMAIN/]PATH[:TAG][@DIGEST].
 * The first component is a registry domain when it has a '.' or a ':' or
 * is "localhost"; otherwise the domain is docker.io, where a one-component
 * path gets "library/" in front. */
#ifndef REG_REF_H
#define REG_REF_H

#include "util/err.h"

struct reg_ref {
	char *domain;       /* "docker.io", "localhost:5000", "ghcr.io" */
	char *path;         /* "library/alpine", "team/app" */
	char *tag;          /* "latest" when neither tag nor digest was given; NULL with a digest only */
	char *digest;       /* "sha256:..." or NULL */
	char *local;        /* the name as given, with ":latest" when it had no tag or digest
			     * (what the store tags); NULL for a digest-only reference */
};

int reg_ref_parse(const char *s, struct reg_ref *ref, cn_err *err);
void reg_ref_free(struct reg_ref *ref);
/* Host and port the registry API is served on (docker.io's is registry-1.docker.io). */
const char *reg_ref_api_host(const struct reg_ref *ref);
/* Tag or digest, for /v2/PATH/manifests/REFERENCE. */
const char *reg_ref_reference(const struct reg_ref *ref);

#endif
