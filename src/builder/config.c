#include "builder/config.h"
#include "util/mem.h"
#include "util/platform.h"

#include <string.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static json_t *section(json_t *cfg)
{
	json_t *c = json_object_get(cfg, "config");
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(cfg, "config", c);
	}
	return c;
}

static json_t *ensure_member(json_t *obj, const char *key, json_t *(*make)(void))
{
	json_t *v = json_object_get(obj, key);
	if (!v || (make == json_object && !json_is_object(v)) || (make == json_array && !json_is_array(v))) {
		v = make();
		json_object_set_new(obj, key, v);
	}
	return v;
}

static void ensure_skeleton(json_t *cfg)
{
	json_t *rootfs = ensure_member(cfg, "rootfs", json_object);
	json_object_set_new(rootfs, "type", json_string("layers"));
	ensure_member(rootfs, "diff_ids", json_array);
	ensure_member(cfg, "history", json_array);
	section(cfg);
	if (!json_is_string(json_object_get(cfg, "os")))
		json_object_set_new(cfg, "os", json_string("linux"));
	if (!json_is_string(json_object_get(cfg, "architecture"))) {
		const char *arch;
		cn_platform_host(NULL, &arch, NULL);
		json_object_set_new(cfg, "architecture", json_string(arch));
	}
}

json_t *bf_config_new(void)
{
	json_t *cfg = json_object();
	ensure_skeleton(cfg);
	bf_config_set_env(cfg, "PATH", DEFAULT_PATH);
	return cfg;
}

json_t *bf_config_from_base(const json_t *base)
{
	json_t *cfg = json_deep_copy(base);
	ensure_skeleton(cfg);
	return cfg;
}

void bf_config_env(const json_t *cfg, cn_strv *out)
{
	json_t *env = json_object_get(json_object_get(cfg, "config"), "Env");
	size_t i;
	json_t *e;
	json_array_foreach(env, i, e)
		if (json_is_string(e) && strchr(json_string_value(e), '='))
			cn_strv_pushdup(out, json_string_value(e));
}

void bf_config_set_env(json_t *cfg, const char *key, const char *value)
{
	json_t *env = ensure_member(section(cfg), "Env", json_array);
	size_t klen = strlen(key), i;
	json_t *e;
	char *entry = cn_xasprintf("%s=%s", key, value);
	json_array_foreach(env, i, e) {
		const char *s = json_string_value(e);
		if (s && strncmp(s, key, klen) == 0 && s[klen] == '=') {
			json_array_set_new(env, i, json_string(entry));
			free(entry);
			return;
		}
	}
	json_array_append_new(env, json_string(entry));
	free(entry);
}

const char *bf_config_string(const json_t *cfg, const char *key)
{
	return json_string_value(json_object_get(json_object_get(cfg, "config"), key));
}

void bf_config_set_string(json_t *cfg, const char *key, const char *value)
{
	json_object_set_new(section(cfg), key, json_string(value));
}

void bf_config_strv(const json_t *cfg, const char *key, cn_strv *out)
{
	json_t *a = json_object_get(json_object_get(cfg, "config"), key);
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e)
		if (json_is_string(e))
			cn_strv_pushdup(out, json_string_value(e));
}

void bf_config_set_strv(json_t *cfg, const char *key, char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	json_object_set_new(section(cfg), key, a);
}

void bf_config_unset(json_t *cfg, const char *key)
{
	json_object_del(section(cfg), key);
}

void bf_config_add_set_member(json_t *cfg, const char *key, const char *name)
{
	json_object_set_new(ensure_member(section(cfg), key, json_object), name, json_object());
}

void bf_config_set_label(json_t *cfg, const char *key, const char *value)
{
	json_object_set_new(ensure_member(section(cfg), "Labels", json_object), key, json_string(value));
}

void bf_config_set_author(json_t *cfg, const char *author)
{
	json_object_set_new(cfg, "author", json_string(author));
}

void bf_config_set_json(json_t *cfg, const char *key, json_t *value)
{
	json_object_set_new(section(cfg), key, value);
}

void bf_config_append(json_t *cfg, const char *key, const char *s)
{
	json_array_append_new(ensure_member(section(cfg), key, json_array), json_string(s));
}

void bf_config_add_layer(json_t *cfg, const char *diff_id)
{
	json_array_append_new(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"),
			      json_string(diff_id));
}

void bf_config_add_history(json_t *cfg, const char *created, const char *created_by, bool empty_layer)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "created", created, "created_by", created_by,
			      "comment", "cairn");
	if (empty_layer)
		json_object_set_new(h, "empty_layer", json_true());
	json_array_append_new(json_object_get(cfg, "history"), h);
}

void bf_config_set_created(json_t *cfg, const char *created)
{
	json_object_set_new(cfg, "created", json_string(created));
}
