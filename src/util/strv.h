/* A NULL-terminated, owned vector of strings (argv/env style). */
#ifndef CN_STRV_H
#define CN_STRV_H

#include <stddef.h>

typedef struct cn_strv {
	char **v;       /* NULL-terminated once anything was pushed; may be NULL when empty */
	size_t n;
	size_t cap;
} cn_strv;

/* Takes ownership of s. */
void cn_strv_push(cn_strv *sv, char *s);
void cn_strv_pushdup(cn_strv *sv, const char *s);
void cn_strv_free(cn_strv *sv);
void cn_strv_copy(cn_strv *dst, const cn_strv *src);
/* Always returns a NULL-terminated array (a static empty one if needed). */
char **cn_strv_array(cn_strv *sv);

/* For KEY=VALUE vectors: index of the entry for key, or -1. */
long cn_env_find(const cn_strv *env, const char *key, size_t keylen);
/* Set KEY=VALUE, replacing an existing entry in place (order kept). */
void cn_env_set(cn_strv *env, const char *key, const char *value);
const char *cn_env_get(const cn_strv *env, const char *key);

static inline void cn_strv_freep(cn_strv *sv)
{
	cn_strv_free(sv);
}
#define _cleanup_strv_ __attribute__((cleanup(cn_strv_freep)))

#endif
