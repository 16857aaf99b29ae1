/* Labels as KEY=VALUE strings (labels.h). */
#include "util/labels.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

int cn_labels_check(const char *arg, cn_err *err)
{
	if (!*arg || *arg == '=')
		return cn_err_fail(err, CN_ERR_INVALID, "'%s' has no key (expected KEY=VALUE)", arg);
	return 0;
}

static long find(const cn_strv *labels, const char *key, size_t klen)
{
	for (size_t i = labels->n; i-- > 0;)
		if (!strncmp(labels->v[i], key, klen) && labels->v[i][klen] == '=')
			return (long)i;
	return -1;
}

void cn_labels_set(cn_strv *labels, const char *arg)
{
	const char *eq = strchr(arg, '=');
	long at = find(labels, arg, eq ? (size_t)(eq - arg) : strlen(arg));
	char *entry = eq ? cn_xstrdup(arg) : cn_xasprintf("%s=", arg);
	if (at >= 0) {
		free(labels->v[at]);
		labels->v[at] = entry;
	} else {
		cn_strv_push(labels, entry);
	}
}

const char *cn_labels_get(const cn_strv *labels, const char *key)
{
	long at = find(labels, key, strlen(key));
	return at < 0 ? NULL : labels->v[at] + strlen(key) + 1;
}

json_t *cn_labels_json(const cn_strv *labels)
{
	json_t *o = json_object();
	for (size_t i = 0; i < labels->n; i++) {
		const char *eq = strchr(labels->v[i], '=');
		_cleanup_free_ char *k = eq ? cn_xstrndup(labels->v[i], (size_t)(eq - labels->v[i])) : NULL;
		if (k)
			json_object_set_new(o, k, json_string(eq + 1));
	}
	return o;
}

void cn_labels_from_json(json_t *obj, cn_strv *labels)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
		if (json_is_string(v))
			cn_strv_push(labels, cn_xasprintf("%s=%s", k, json_string_value(v)));
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *cn_labels_text(const cn_strv *labels)
{
	_cleanup_strv_ cn_strv v = { 0 };
	cn_buf b;
	cn_strv_copy(&v, labels);
	if (v.n)
		qsort(v.v, v.n, sizeof(*v.v), by_str);
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < v.n; i++) {
		if (i)
			cn_buf_addc(&b, ',');
		cn_buf_adds(&b, v.v[i]);
	}
	return cn_buf_detach(&b);
}

bool cn_labels_match(const cn_strv *labels, const char *filter)
{
	const char *eq = strchr(filter, '=');
	size_t klen = eq ? (size_t)(eq - filter) : strlen(filter);
	long at = find(labels, filter, klen);
	return at >= 0 && (!eq || !strcmp(labels->v[at] + klen + 1, eq + 1));
}

bool cn_labels_match_all(const cn_strv *labels, const cn_strv *filters)
{
	for (size_t i = 0; i < filters->n; i++)
		if (!cn_labels_match(labels, filters->v[i]))
			return false;
	return true;
}
