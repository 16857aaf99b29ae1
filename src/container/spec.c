#include "container/spec.h"
#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/signal.h"

#include <errno.h>
#include <string.h>

/* The image's config.KEY as a string vector (Entrypoint, Cmd, Env). */
static void config_strv(const json_t *cfg, const char *key, cn_strv *out)
{
	json_t *a = json_object_get(cfg, key);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			cn_strv_pushdup(out, json_string_value(v));
}

static const char *config_string(const json_t *cfg, const char *key)
{
	const char *s = json_string_value(json_object_get(cfg, key));
	return s && *s ? s : NULL;
}

int ctr_spec_from_image(const json_t *image_config, const char *ref, const struct ctr_overrides *o,
			struct ctr_spec *s, cn_err *err)
{
	const json_t *cfg = json_object_get(image_config, "config");
	const char *stop = config_string(cfg, "StopSignal");
	memset(s, 0, sizeof(*s));
	s->stop_signal = SB_STOP_FORWARD;
	if (!o->entrypoint)
		config_strv(cfg, "Entrypoint", &s->argv);
	else if (*o->entrypoint)
		cn_strv_pushdup(&s->argv, o->entrypoint);
	if (o->nargs > 0)
		for (size_t i = 0; i < o->nargs; i++)
			cn_strv_pushdup(&s->argv, o->args[i]);
	else if (!o->entrypoint || !*o->entrypoint)
		config_strv(cfg, "Cmd", &s->argv);
	if (s->argv.n == 0) {
		cn_err_fail(err, CN_ERR_INVALID, "no command given and image '%s' has no Entrypoint or Cmd", ref);
		goto fail;
	}
	config_strv(cfg, "Env", &s->env);
	for (size_t i = 0; o->env && i < o->env->n; i++) {
		const char *kv = o->env->v[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *key = eq ? cn_xstrndup(kv, (size_t)(eq - kv)) : NULL;
		if (key)
			cn_env_set(&s->env, key, eq + 1);
	}
	if (stop && (s->stop_signal = cn_signal_parse(stop)) < 0) {
		cn_err_fail(err, CN_ERR_INVALID, "image '%s' has an unknown StopSignal '%s'", ref, stop);
		goto fail;
	}
	s->cwd = o->workdir ? o->workdir : config_string(cfg, "WorkingDir");
	if (!s->cwd)
		s->cwd = "/";
	s->user = o->user ? o->user : config_string(cfg, "User");
	return 0;
fail:
	ctr_spec_free(s);
	return -1;
}

void ctr_spec_free(struct ctr_spec *s)
{
	cn_strv_free(&s->argv);
	cn_strv_free(&s->env);
	memset(s, 0, sizeof(*s));
}

bool ctr_systemd_wanted(enum ctr_systemd mode, const cn_strv *argv)
{
	static const char *const inits[] = { "/sbin/init", "/usr/sbin/init", "/usr/local/sbin/init" };
	const char *cmd, *base;
	if (mode != CTR_SYSTEMD_TRUE)
		return mode == CTR_SYSTEMD_ALWAYS;
	if (argv->n == 0)
		return false;
	cmd = argv->v[0];
	for (size_t i = 0; i < CN_ARRAY_SIZE(inits); i++)
		if (!strcmp(cmd, inits[i]))
			return true;
	base = strrchr(cmd, '/');
	return !strcmp(base ? base + 1 : cmd, "systemd");
}

void ctr_spec_systemd(struct ctr_spec *s, const char *machine_id)
{
	if (!cn_env_get(&s->env, "container"))
		cn_env_set(&s->env, "container", "cairn");
	if (!cn_env_get(&s->env, "container_uuid"))
		cn_env_set(&s->env, "container_uuid", machine_id);
	if (s->stop_signal == SB_STOP_FORWARD)
		s->stop_signal = CTR_SYSTEMD_STOP_SIGNAL;
}
