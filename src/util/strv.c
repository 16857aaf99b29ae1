#include "util/strv.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

void cn_strv_push(cn_strv *sv, char *s)
{
	cn_xgrow((void **)&sv->v, &sv->cap, sv->n + 2, sizeof(char *));
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void cn_strv_pushdup(cn_strv *sv, const char *s)
{
	cn_strv_push(sv, cn_xstrdup(s));
}

void cn_strv_free(cn_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void cn_strv_copy(cn_strv *dst, const cn_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		cn_strv_pushdup(dst, src->v[i]);
}

char **cn_strv_array(cn_strv *sv)
{
	static char *empty[1] = { NULL };
	return sv->v ? sv->v : empty;
}

long cn_env_find(const cn_strv *env, const char *key, size_t keylen)
{
	for (size_t i = 0; i < env->n; i++) {
		const char *e = env->v[i];
		if (strncmp(e, key, keylen) == 0 && e[keylen] == '=')
			return (long)i;
	}
	return -1;
}

void cn_env_set(cn_strv *env, const char *key, const char *value)
{
	long i = cn_env_find(env, key, strlen(key));
	char *entry = cn_xasprintf("%s=%s", key, value);
	if (i >= 0) {
		free(env->v[i]);
		env->v[i] = entry;
	} else {
		cn_strv_push(env, entry);
	}
}

const char *cn_env_get(const cn_strv *env, const char *key)
{
	size_t klen = strlen(key);
	long i = cn_env_find(env, key, klen);
	return i >= 0 ? env->v[i] + klen + 1 : NULL;
}
