/* Image references as docker parses them: [DOMAIN/]PATH[:TAG][@DIGEST].
 * The first component is a registry domain when it has a '.' or a ':' or
 * is "localhost"; otherwise the domain is docker.io, where a one-component
 * path gets "library/" in front.
 *
 * The one grammar for image names: the registry client parses references
 * with it and the store validates tag names with it. It lives in util, not
 * in registry/, because the registry already depends on the store. */
#ifndef CN_REF_H
#define CN_REF_H

#include "util/err.h"

struct cn_ref {
	char *domain;       /* "docker.io", "localhost:5000", "ghcr.io" */
	char *path;         /* "library/alpine", "team/app" */
	char *tag;          /* "latest" when neither tag nor digest was given; NULL with a digest only */
	char *digest;       /* "sha256:..." or NULL */
	char *local;        /* the name as given, with ":latest" when it had no tag or digest
			     * (what the store tags); NULL for a digest-only reference */
};

/* 0, or -1 with "invalid reference 'S': why" (EINVAL). */
int cn_ref_parse(const char *s, struct cn_ref *ref, cn_err *err);
/* A tag as the distribution spec has it: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool cn_ref_tag_valid(const char *tag);
void cn_ref_free(struct cn_ref *ref);

#endif
