/* The OCI image config document being built: typed setters over jansson
 * so that the executor reads as a list of Dockerfile semantics. */
#ifndef BF_CONFIG_H
#define BF_CONFIG_H

#include <stdbool.h>

#include <jansson.h>

#include "util/strv.h"

/* A fresh config for FROM scratch: os/architecture of this host, a default
 * PATH (as BuildKit gives scratch images), empty rootfs and history. */
json_t *bf_config_new(void);
/* A copy of a base image's config, made safe to extend (missing parts added). */
json_t *bf_config_from_base(const json_t *base);

/* config.Env as KEY=VALUE strings (appended to out). */
void bf_config_env(const json_t *cfg, cn_strv *out);
void bf_config_set_env(json_t *cfg, const char *key, const char *value);
const char *bf_config_string(const json_t *cfg, const char *key);    /* config.KEY */
void bf_config_set_string(json_t *cfg, const char *key, const char *value);
/* config.KEY as an argv (Cmd, Entrypoint, Shell); NULL-safe empty when unset. */
void bf_config_strv(const json_t *cfg, const char *key, cn_strv *out);
void bf_config_set_strv(json_t *cfg, const char *key, char *const *v, size_t n);
void bf_config_unset(json_t *cfg, const char *key);
/* config.KEY[name] = {} (ExposedPorts, Volumes). */
void bf_config_add_set_member(json_t *cfg, const char *key, const char *name);
void bf_config_set_label(json_t *cfg, const char *key, const char *value);
void bf_config_set_author(json_t *cfg, const char *author);
/* config.KEY = VALUE (stolen), e.g. Healthcheck. */
void bf_config_set_json(json_t *cfg, const char *key, json_t *value);
/* Append S to the string array config.KEY (OnBuild). */
void bf_config_append(json_t *cfg, const char *key, const char *s);

void bf_config_add_layer(json_t *cfg, const char *diff_id);
void bf_config_add_history(json_t *cfg, const char *created, const char *created_by, bool empty_layer);
void bf_config_set_created(json_t *cfg, const char *created);

#endif
