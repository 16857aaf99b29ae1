/* The registry's side of references (the grammar is util/ref.c). */
#include "registry/ref.h"

#include <string.h>

const char *reg_ref_api_host(const struct cn_ref *ref)
{
	return strcmp(ref->domain, "docker.io") == 0 ? "registry-1.docker.io" : ref->domain;
}

const char *reg_ref_reference(const struct cn_ref *ref)
{
	return ref->digest ? ref->digest : ref->tag;
}
