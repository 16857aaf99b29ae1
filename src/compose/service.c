/* One service of the merged tree into struct cmp_service (05-services.md),
 * in the forms cairn build/run take: -p, -v and --tmpfs strings, argv
 * vectors, KEY=VALUE environments. Keys cairn does not act on are named
 * in a warning (file:line), wrong types are errors (file:line:col). */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Keys the spec has that cairn reads but does not act on. */
static const char *const ignored_keys[] = {
	"expose", "logging", "pull_policy", "ulimits", "sysctls", "security_opt", "devices", "shm_size",
	"domainname", "group_add", "external_links", "links", "annotations", "cgroup", "cgroup_parent",
	"ipc", "pid", "uts", "userns_mode", "stop_signal_timeout", "oom_score_adj", "oom_kill_disable",
	"mac_address", "dns_search", "dns_opt", "isolation", "runtime", "scale", "configs", "attach",
	"cpu_shares", "cpu_quota", "cpu_period", "cpuset", "mem_reservation", "memswap_limit", "develop",
	"post_start", "pre_stop", "storage_opt", "blkio_config", "device_cgroup_rules", "gpus",
	"volumes_from", "label_file", "models", "provider", "use_api_socket",
};

static bool is_ignored(const char *key)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(ignored_keys); i++)
		if (strcmp(ignored_keys[i], key) == 0)
			return true;
	return false;
}

static bool name_ok(const char *s, bool dots)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || (dots && *s == '.')))
			return false;
	return true;
}

static bool is_url(const char *s)
{
	return strstr(s, "://") || strncmp(s, "git@", 4) == 0 || strncmp(s, "github.com/", 11) == 0;
}

/* A list of strings, or one string split into words (command, entrypoint). */
static int get_argv(struct cmp_ctx *c, const char *path, const struct cmp_node *n, bool *has, cn_strv *out)
{
	cn_strv_free(out);
	*has = false;
	if (cmp_is_null(n))
		return 0;
	*has = true;
	if (n->kind == CMP_SCALAR) {
		if (cmp_split_words(n->str, out) < 0)
			return cmp_fail(c, n, "%s: an unclosed quote in \"%.64s\"", path, n->str);
		return 0;
	}
	return cmp_get_strv(c, path, n, false, out);
}

/* ---- build ---- */

static int build_secret(struct cmp_ctx *c, const char *path, const struct cmp_node *it, cn_strv *out)
{
	const struct cmp_node *src = it, *def;
	if (it->kind == CMP_MAP)
		src = cmp_map_get(it, "source");
	if (cmp_expect(c, path, src ? src : it, CMP_SCALAR) < 0)
		return -1;
	def = cmp_map_get(c->secrets, src->str);
	if (!def)
		return cmp_fail(c, src, "%s: secret \"%s\" is not defined in the top-level secrets:", path, src->str);
	if (cmp_map_get(def, "file") && cmp_map_get(def, "file")->kind == CMP_SCALAR) {
		_cleanup_free_ char *abs = cmp_abspath(c->p->workdir, cmp_map_get(def, "file")->str, &c->p->env);
		cn_strv_push(out, cn_xasprintf("id=%s,src=%s", src->str, abs));
	} else if (cmp_map_get(def, "environment") && cmp_map_get(def, "environment")->kind == CMP_SCALAR) {
		cn_strv_push(out, cn_xasprintf("id=%s,env=%s", src->str, cmp_map_get(def, "environment")->str));
	} else {
		return cmp_fail(c, src, "%s: secret \"%s\" has neither file: nor environment:", path, src->str);
	}
	return 0;
}

static int convert_build(struct cmp_ctx *c, const char *sname, const struct cmp_node *n, struct cmp_build *b)
{
	_cleanup_free_ char *path = cn_xasprintf("services.%s.build", sname);
	_cleanup_free_ char *ctx = NULL;
	b->pos = n->pos;
	if (n->kind == CMP_SCALAR) {
		ctx = cn_xstrdup(n->str);
	} else if (n->kind != CMP_MAP) {
		return cmp_type_error(c, path, n, "a string (the context) or a mapping");
	}
	for (size_t i = 0; n->kind == CMP_MAP && i < n->n; i++) {
		const char *key = cmp_map_key(n, i)->str;
		const struct cmp_node *v = cmp_map_val(n, i);
		_cleanup_free_ char *kp = cn_xasprintf("%s.%s", path, key);
		_cleanup_strv_ cn_strv plats = { 0 };
		int r = 0;
		if (strcmp(key, "context") == 0)
			r = cmp_get_str(c, kp, v, &ctx);
		else if (strcmp(key, "dockerfile") == 0)
			r = cmp_get_str(c, kp, v, &b->dockerfile);
		else if (strcmp(key, "dockerfile_inline") == 0)
			r = cmp_get_str(c, kp, v, &b->dockerfile_inline);
		else if (strcmp(key, "args") == 0) {
			/* A bare KEY takes the project's environment (shell and
			 * .env) when it has one; else it stays bare. */
			if ((r = cmp_get_kv(c, kp, v, '=', true, &b->args)) == 0)
				for (size_t j = 0; j < b->args.n; j++) {
					const char *ev = strchr(b->args.v[j], '=') ? NULL
							 : cn_env_get(&c->p->env, b->args.v[j]);
					if (ev) {
						char *kvs = cn_xasprintf("%s=%s", b->args.v[j], ev);
						free(b->args.v[j]);
						b->args.v[j] = kvs;
					}
				}
		}
		else if (strcmp(key, "target") == 0)
			r = cmp_get_str(c, kp, v, &b->target);
		else if (strcmp(key, "tags") == 0)
			r = cmp_get_strv(c, kp, v, false, &b->tags);
		else if (strcmp(key, "labels") == 0)
			r = cmp_get_kv(c, kp, v, '=', false, &b->labels);
		else if (strcmp(key, "cache_from") == 0)
			r = cmp_get_strv(c, kp, v, false, &b->cache_from);
		else if (strcmp(key, "cache_to") == 0)
			r = cmp_get_strv(c, kp, v, false, &b->cache_to);
		else if (strcmp(key, "network") == 0)
			r = cmp_get_str(c, kp, v, &b->network);
		else if (strcmp(key, "additional_contexts") == 0)
			r = cmp_get_kv(c, kp, v, '=', false, &b->additional_contexts);
		else if (strcmp(key, "no_cache") == 0)
			r = cmp_get_bool(c, kp, v, &b->no_cache);
		else if (strcmp(key, "pull") == 0)
			r = cmp_get_bool(c, kp, v, &b->pull);
		else if (strcmp(key, "platforms") == 0) {
			if ((r = cmp_get_strv(c, kp, v, false, &plats)) == 0 && plats.n > 1)
				cmp_warn(c, v, "%s: cairn builds one platform per image; %s used", kp, plats.v[0]);
			if (r == 0 && plats.n && !b->platform)
				b->platform = cn_xstrdup(plats.v[0]);
		} else if (strcmp(key, "secrets") == 0) {
			if ((r = cmp_expect(c, kp, v, CMP_SEQ)) == 0)
				for (size_t j = 0; j < v->n && r == 0; j++)
					r = build_secret(c, kp, v->kids[j], &b->secrets);
		} else if (strncmp(key, "x-", 2) == 0) {
			continue;
		} else if (strcmp(key, "ssh") == 0 || strcmp(key, "shm_size") == 0 ||
			   strcmp(key, "extra_hosts") == 0 || strcmp(key, "isolation") == 0 ||
			   strcmp(key, "privileged") == 0 || strcmp(key, "ulimits") == 0 ||
			   strcmp(key, "entitlements") == 0 || strcmp(key, "provenance") == 0 ||
			   strcmp(key, "sbom") == 0) {
			cmp_warn(c, cmp_map_key(n, i), "%s: not supported by cairn, ignored", kp);
		} else {
			cmp_warn(c, cmp_map_key(n, i), "%s: unknown key, ignored", kp);
		}
		if (r < 0)
			return -1;
	}
	{
		const char *cs = ctx ? ctx : ".";
		b->context = is_url(cs) ? cn_xstrdup(cs) : cmp_abspath(c->p->workdir, cs, &c->p->env);
	}
	return 0;
}

static void build_free(struct cmp_build *b)
{
	if (!b)
		return;
	free(b->context);
	free(b->dockerfile);
	free(b->dockerfile_inline);
	cn_strv_free(&b->args);
	free(b->target);
	cn_strv_free(&b->tags);
	cn_strv_free(&b->labels);
	cn_strv_free(&b->secrets);
	cn_strv_free(&b->cache_from);
	cn_strv_free(&b->cache_to);
	free(b->network);
	cn_strv_free(&b->additional_contexts);
	free(b->platform);
	free(b);
}

/* ---- environment ---- */

static int env_files(struct cmp_ctx *c, const char *path, const struct cmp_node *n, cn_strv *env)
{
	struct cmp_lookup lk = c->envmap ? (struct cmp_lookup){ cmp_envmap_get, (void *)(uintptr_t)c->envmap }
					 : (struct cmp_lookup){ cmp_env_lookup, &c->p->env };
	const struct cmp_node *one = n;
	size_t count = 1;
	if (cmp_is_null(n))
		return 0;
	if (n->kind == CMP_SEQ)
		count = n->n;
	else if (n->kind != CMP_SCALAR)
		return cmp_type_error(c, path, n, "a string or a list");
	for (size_t i = 0; i < count; i++) {
		const struct cmp_node *it = n->kind == CMP_SEQ ? n->kids[i] : one, *pn = it;
		bool required = true, raw = false;
		_cleanup_free_ char *file = NULL;
		if (it->kind == CMP_MAP) {
			static const char *const known[] = { "path", "required", "format", NULL };
			const struct cmp_node *req = cmp_map_get(it, "required"), *fmt = cmp_map_get(it, "format");
			cmp_warn_unknown(c, path, it, known);
			pn = cmp_map_get(it, "path");
			if (req && cmp_get_bool(c, path, req, &required) < 0)
				return -1;
			if (fmt && fmt->kind == CMP_SCALAR)
				raw = strcmp(fmt->str, "raw") == 0;
		}
		if (!pn || cmp_expect(c, path, pn, CMP_SCALAR) < 0)
			return pn ? -1 : cmp_fail(c, it, "%s: an entry without path:", path);
		file = cmp_abspath(c->p->workdir, pn->str, &c->p->env);
		if (cmp_envfile_read(file, raw, &lk, env, c->err) < 0) {
			if (!required && c->err->errnum == ENOENT)
				continue;
			return cn_err_wrap(c->err, "%s:%u:%u: env_file", pn->pos.file, pn->pos.line, pn->pos.col);
		}
	}
	return 0;
}

static int environment(struct cmp_ctx *c, const char *path, const struct cmp_node *n, cn_strv *env)
{
	_cleanup_strv_ cn_strv kv = { 0 };
	if (cmp_get_kv(c, path, n, '=', true, &kv) < 0)
		return -1;
	for (size_t i = 0; i < kv.n; i++) {
		if (strchr(kv.v[i], '=')) {
			cn_strv_push(env, kv.v[i]);
			kv.v[i] = NULL;
		} else {
			const char *v = c->envmap ? cmp_envmap_get((void *)(uintptr_t)c->envmap, kv.v[i], strlen(kv.v[i]))
						  : cn_env_get(&c->p->env, kv.v[i]);
			if (v)
				cn_strv_push(env, cn_xasprintf("%s=%s", kv.v[i], v));
		}
	}
	return 0;
}

/* ---- volumes, tmpfs, secrets ---- */

static bool is_path(const char *s)
{
	return s[0] == '/' || s[0] == '.' || s[0] == '~';
}

/* SOURCE (a path or a volume key) as -v takes it. */
static int volume_source(struct cmp_ctx *c, const char *path, const struct cmp_node *at, const char *src,
			 bool bind, char **out)
{
	const struct cmp_volume *v;
	if (bind || is_path(src)) {
		*out = cmp_abspath(c->p->workdir, src, &c->p->env);
		return 0;
	}
	v = cmp_volume_find(c->p, src);
	if (!v)
		return cmp_fail(c, at, "%s: service refers to undefined volume %s (declare it in the top-level "
				"volumes:)", path, src);
	*out = cn_xstrdup(v->name);
	return 0;
}

static int volume_short(struct cmp_ctx *c, const char *path, const struct cmp_node *it, struct cmp_service *s)
{
	_cleanup_free_ char *copy = cn_xstrdup(it->str), *src = NULL;
	char *parts[3] = { copy, NULL, NULL };
	size_t n = 1;
	bool ro = false;
	for (char *p = copy; *p && n < 3; p++)
		if (*p == ':') {
			*p = '\0';
			parts[n++] = p + 1;
		}
	if (n == 1) {
		if (parts[0][0] != '/')
			return cmp_fail(c, it, "%s: \"%s\": a container path must be absolute", path, it->str);
		cn_strv_pushdup(&s->volumes, parts[0]);
		return 0;
	}
	if (!*parts[0] || parts[1][0] != '/')
		return cmp_fail(c, it, "%s: \"%s\" is not SOURCE:TARGET[:MODE] with an absolute TARGET", path,
				it->str);
	if (n == 3) {
		for (char *m = strtok(parts[2], ","); m; m = strtok(NULL, ","))
			if (strcmp(m, "ro") == 0)
				ro = true;
			else if (strcmp(m, "rw") && strcmp(m, "z") && strcmp(m, "Z") && strcmp(m, "nocopy") &&
				 strcmp(m, "cached") && strcmp(m, "delegated") && strcmp(m, "consistent") &&
				 strcmp(m, "shared") && strcmp(m, "slave") && strcmp(m, "private") &&
				 strcmp(m, "rshared") && strcmp(m, "rslave") && strcmp(m, "rprivate"))
				return cmp_fail(c, it, "%s: \"%s\": unknown mode %s", path, it->str, m);
	}
	if (volume_source(c, path, it, parts[0], false, &src) < 0)
		return -1;
	cn_strv_push(&s->volumes, cn_xasprintf("%s:%s%s", src, parts[1], ro ? ":ro" : ""));
	return 0;
}

static int volume_long(struct cmp_ctx *c, const char *path, const struct cmp_node *it, struct cmp_service *s)
{
	_cleanup_free_ char *type = NULL, *source = NULL, *target = NULL, *src = NULL;
	bool ro = false;
	const struct cmp_node *x;
	static const char *const known[] = { "type", "source", "target", "read_only", "bind", "volume", "tmpfs",
					     "consistency", "image", NULL };
	cmp_warn_unknown(c, path, it, known);
	if ((x = cmp_map_get(it, "volume")) && x->kind == CMP_MAP && cmp_map_get(x, "subpath"))
		cmp_warn(c, cmp_map_get(x, "subpath"), "%s.volume.subpath: not supported by cairn, ignored", path);
	if ((x = cmp_map_get(it, "bind")) && x->kind == CMP_MAP && cmp_map_get(x, "create_host_path"))
		cmp_warn(c, cmp_map_get(x, "create_host_path"), "%s.bind.create_host_path: not supported by cairn, "
			 "ignored", path);
	if (cmp_get_str(c, path, cmp_map_get(it, "type"), &type) < 0 ||
	    cmp_get_str(c, path, cmp_map_get(it, "source"), &source) < 0 ||
	    cmp_get_str(c, path, cmp_map_get(it, "target"), &target) < 0)
		return -1;
	if ((x = cmp_map_get(it, "read_only")) && cmp_get_bool(c, path, x, &ro) < 0)
		return -1;
	if (!target || target[0] != '/')
		return cmp_fail(c, it, "%s: a volume needs an absolute target:", path);
	if (!type)
		type = cn_xstrdup(source ? (is_path(source) ? "bind" : "volume") : "volume");
	if (strcmp(type, "tmpfs") == 0) {
		const struct cmp_node *t = cmp_map_get(it, "tmpfs");
		long long size = 0;
		if (t && cmp_map_get(t, "size") && cmp_get_bytes(c, path, cmp_map_get(t, "size"), &size) < 0)
			return -1;
		cn_strv_push(&s->tmpfs, size ? cn_xasprintf("%s:size=%lld", target, size) : cn_xstrdup(target));
		return 0;
	}
	if (strcmp(type, "bind") != 0 && strcmp(type, "volume") != 0)
		return cmp_fail(c, it, "%s: volume type %s is not supported by cairn (bind, volume, tmpfs are)", path,
				type);
	if (!source) {
		cn_strv_pushdup(&s->volumes, target);
		return 0;
	}
	if (volume_source(c, path, it, source, strcmp(type, "bind") == 0, &src) < 0)
		return -1;
	cn_strv_push(&s->volumes, cn_xasprintf("%s:%s%s", src, target, ro ? ":ro" : ""));
	return 0;
}

static int volumes(struct cmp_ctx *c, const char *path, const struct cmp_node *n, struct cmp_service *s)
{
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_SEQ)
		return cmp_type_error(c, path, n, "a list");
	for (size_t i = 0; i < n->n; i++) {
		const struct cmp_node *it = n->kids[i];
		int r = it->kind == CMP_MAP ? volume_long(c, path, it, s)
			: it->kind == CMP_SCALAR && !cmp_is_null(it) ? volume_short(c, path, it, s)
			: cmp_type_error(c, path, it, "a string or a mapping");
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Service secrets from files: bind mounts at /run/secrets/TARGET. */
static int service_secrets(struct cmp_ctx *c, const char *path, const struct cmp_node *n, struct cmp_service *s)
{
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_SEQ)
		return cmp_type_error(c, path, n, "a list");
	for (size_t i = 0; i < n->n; i++) {
		const struct cmp_node *it = n->kids[i], *src = it, *tgt = NULL, *def, *file;
		_cleanup_free_ char *abs = NULL;
		if (it->kind == CMP_MAP) {
			src = cmp_map_get(it, "source");
			tgt = cmp_map_get(it, "target");
		}
		if (cmp_expect(c, path, src ? src : it, CMP_SCALAR) < 0)
			return -1;
		def = cmp_map_get(c->secrets, src->str);
		if (!def)
			return cmp_fail(c, src, "%s: secret \"%s\" is not defined in the top-level secrets:", path,
					src->str);
		file = cmp_map_get(def, "file");
		if (!file || file->kind != CMP_SCALAR) {
			cmp_warn(c, src, "%s: secret \"%s\" is not from a file: not supported by cairn, ignored", path,
				 src->str);
			continue;
		}
		abs = cmp_abspath(c->p->workdir, file->str, &c->p->env);
		if (tgt && tgt->kind == CMP_SCALAR && tgt->str[0] == '/')
			cn_strv_push(&s->volumes, cn_xasprintf("%s:%s:ro", abs, tgt->str));
		else
			cn_strv_push(&s->volumes, cn_xasprintf("%s:/run/secrets/%s:ro", abs,
							       tgt && tgt->kind == CMP_SCALAR ? tgt->str : src->str));
	}
	return 0;
}

/* ---- small checks ---- */

static bool digits_only(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* ---- networks, depends_on, healthcheck, deploy ---- */

static bool known_key(const char *const *known, const char *key)
{
	for (; *known; known++)
		if (strcmp(*known, key) == 0)
			return true;
	return false;
}

static int networks(struct cmp_ctx *c, const char *path, const struct cmp_node *n, struct cmp_service *s)
{
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_SEQ && n->kind != CMP_MAP)
		return cmp_type_error(c, path, n, "a list or a mapping");
	s->networks = cn_xcalloc(n->n + 1, sizeof(*s->networks));
	for (size_t i = 0; i < n->n; i++) {
		const struct cmp_node *k = n->kind == CMP_SEQ ? n->kids[i] : cmp_map_key(n, i);
		const struct cmp_node *v = n->kind == CMP_SEQ ? NULL : cmp_map_val(n, i);
		struct cmp_service_net *sn = &s->networks[s->nnetworks];
		if (cmp_expect(c, path, k, CMP_SCALAR) < 0)
			return -1;
		sn->key = cn_xstrdup(k->str);
		s->nnetworks++;
		if (!cmp_is_null(v)) {
			static const char *const known[] = { "aliases", "ipv4_address", "ipv6_address", "priority",
							     "gw_priority", "link_local_ips", "mac_address",
							     "driver_opts", "interface_name", NULL };
			if (v->kind != CMP_MAP)
				return cmp_type_error(c, path, v, "a mapping");
			cmp_warn_unknown(c, path, v, known);
			for (size_t j = 0; j < v->n; j++) {
				const char *key = cmp_map_key(v, j)->str;
				if (strcmp(key, "aliases") && strcmp(key, "priority") && strcmp(key, "gw_priority") &&
				    strncmp(key, "x-", 2) && known_key(known, key))
					cmp_warn(c, cmp_map_key(v, j), "%s.%s.%s: not supported by cairn, ignored", path,
						 k->str, key);
			}
			if (cmp_get_strv(c, path, cmp_map_get(v, "aliases"), false, &sn->aliases) < 0)
				return -1;
		}
	}
	return 0;
}

static int depends_on(struct cmp_ctx *c, const char *path, const struct cmp_node *n, struct cmp_service *s)
{
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_SEQ && n->kind != CMP_MAP)
		return cmp_type_error(c, path, n, "a list or a mapping");
	s->depends_on = cn_xcalloc(n->n + 1, sizeof(*s->depends_on));
	for (size_t i = 0; i < n->n; i++) {
		const struct cmp_node *k = n->kind == CMP_SEQ ? n->kids[i] : cmp_map_key(n, i);
		const struct cmp_node *v = n->kind == CMP_SEQ ? NULL : cmp_map_val(n, i), *x;
		struct cmp_depends *d = &s->depends_on[s->ndepends];
		if (cmp_expect(c, path, k, CMP_SCALAR) < 0)
			return -1;
		d->service = cn_xstrdup(k->str);
		d->required = true;
		d->pos = k->pos;
		s->ndepends++;
		if (cmp_is_null(v))
			continue;
		if (v->kind != CMP_MAP)
			return cmp_type_error(c, path, v, "a mapping");
		{
			static const char *const known[] = { "condition", "required", "restart", NULL };
			cmp_warn_unknown(c, path, v, known);
		}
		if ((x = cmp_map_get(v, "condition")) && !cmp_is_null(x)) {
			if (x->kind == CMP_SCALAR && strcmp(x->str, "service_started") == 0)
				d->condition = CMP_COND_STARTED;
			else if (x->kind == CMP_SCALAR && strcmp(x->str, "service_healthy") == 0)
				d->condition = CMP_COND_HEALTHY;
			else if (x->kind == CMP_SCALAR && strcmp(x->str, "service_completed_successfully") == 0)
				d->condition = CMP_COND_COMPLETED;
			else
				return cmp_type_error(c, path, x, "service_started, service_healthy or "
						      "service_completed_successfully");
		}
		if ((x = cmp_map_get(v, "required")) && cmp_get_bool(c, path, x, &d->required) < 0)
			return -1;
		if ((x = cmp_map_get(v, "restart")) && cmp_get_bool(c, path, x, &d->restart) < 0)
			return -1;
	}
	return 0;
}

static int healthcheck(struct cmp_ctx *c, const char *path, const struct cmp_node *n, struct cmp_health *h)
{
	const struct cmp_node *t;
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_MAP)
		return cmp_type_error(c, path, n, "a mapping");
	h->set = true;
	for (size_t i = 0; i < n->n; i++) {
		const char *key = cmp_map_key(n, i)->str;
		const struct cmp_node *v = cmp_map_val(n, i);
		_cleanup_free_ char *kp = cn_xasprintf("%s.%s", path, key);
		long long num;
		int r = 0;
		if (strcmp(key, "interval") == 0)
			r = cmp_get_duration(c, kp, v, &h->interval_ns);
		else if (strcmp(key, "timeout") == 0)
			r = cmp_get_duration(c, kp, v, &h->timeout_ns);
		else if (strcmp(key, "start_period") == 0)
			r = cmp_get_duration(c, kp, v, &h->start_period_ns);
		else if (strcmp(key, "start_interval") == 0)
			r = cmp_get_duration(c, kp, v, &h->start_interval_ns);
		else if (strcmp(key, "retries") == 0) {
			if ((r = cmp_get_int(c, kp, v, &num)) == 0 && (num < 0 || num > 1000000))
				r = cmp_type_error(c, kp, v, "a count from 0");
			if (r == 0)
				h->retries = (int)num;
		} else if (strcmp(key, "disable") == 0)
			r = cmp_get_bool(c, kp, v, &h->disable);
		else if (strcmp(key, "test") != 0 && strncmp(key, "x-", 2) != 0)
			cmp_warn(c, cmp_map_key(n, i), "%s: unknown key, ignored", kp);
		if (r < 0)
			return -1;
	}
	t = cmp_map_get(n, "test");
	if (cmp_is_null(t))
		return 0;
	if (t->kind == CMP_SCALAR) {
		h->shell = true;
		cn_strv_pushdup(&h->test, t->str);
		return 0;
	}
	{
		_cleanup_free_ char *tp = cn_xasprintf("%s.test", path);
		if (cmp_get_strv(c, tp, t, false, &h->test) < 0)
			return -1;
	}
	if (h->test.n == 0)
		return cmp_fail(c, t, "%s.test: an empty list", path);
	if (strcmp(h->test.v[0], "NONE") == 0) {
		h->disable = true;
		cn_strv_free(&h->test);
	} else if (strcmp(h->test.v[0], "CMD") == 0 || strcmp(h->test.v[0], "CMD-SHELL") == 0) {
		h->shell = strcmp(h->test.v[0], "CMD-SHELL") == 0;
		free(h->test.v[0]);
		memmove(h->test.v, h->test.v + 1, h->test.n * sizeof(*h->test.v));
		h->test.n--;
		if (h->shell && h->test.n != 1)
			return cmp_fail(c, t, "%s.test: CMD-SHELL takes one string", path);
		if (!h->test.n)
			return cmp_fail(c, t, "%s.test: CMD without a command", path);
	} else {
		return cmp_fail(c, t, "%s.test: a list starts with NONE, CMD or CMD-SHELL, not \"%.32s\"", path,
				h->test.v[0]);
	}
	return 0;
}

/* A positive number of CPUs, kept as written ("0.5"). */
static int get_cpus(struct cmp_ctx *c, const char *path, const struct cmp_node *n, char **out)
{
	double v = 0;
	free(*out);
	*out = NULL;
	if (cmp_get_str(c, path, n, out) < 0 || !*out)
		return -1 + !*out;
	if (cmp_parse_decimal(*out, &v) != strlen(*out) || v <= 0)
		return cmp_type_error(c, path, n, "a positive number of CPUs (e.g. 0.5)");
	return 0;
}

static int deploy(struct cmp_ctx *c, const char *path, const struct cmp_node *n, struct cmp_service *s)
{
	const struct cmp_node *res, *lim, *x;
	_cleanup_free_ char *rp = cn_xasprintf("%s.resources", path), *lp = cn_xasprintf("%s.resources.limits", path);
	_cleanup_free_ char *xp = NULL;
#define SUB(base, key) (free(xp), xp = cn_xasprintf("%s.%s", (base), (key)))
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_MAP)
		return cmp_type_error(c, path, n, "a mapping");
	{
		static const char *const known[] = { "mode", "replicas", "labels", "resources", "restart_policy",
						     "placement", "update_config", "rollback_config", "endpoint_mode",
						     NULL };
		cmp_warn_unknown(c, path, n, known);
	}
	if ((x = cmp_map_get(n, "replicas"))) {
		long long r;
		if (cmp_get_int(c, SUB(path, "replicas"), x, &r) < 0)
			return -1;
		if (r != 1)
			cmp_warn(c, x, "%s.replicas: cairn runs one container per service; %lld ignored", path, r);
	}
	if ((x = cmp_map_get(n, "restart_policy")) && x->kind == CMP_MAP && !s->restart) {
		const struct cmp_node *cond = cmp_map_get(x, "condition"), *max = cmp_map_get(x, "max_attempts");
		const char *cs = cond && cond->kind == CMP_SCALAR && !cmp_is_null(cond) ? cond->str : "any";
		long long m = 0;
		if (max && cmp_get_int(c, SUB(path, "restart_policy.max_attempts"), max, &m) < 0)
			return -1;
		if (strcmp(cs, "none") == 0)
			s->restart = cn_xstrdup("no");
		else if (strcmp(cs, "on-failure") == 0)
			s->restart = m > 0 ? cn_xasprintf("on-failure:%lld", m) : cn_xstrdup("on-failure");
		else if (strcmp(cs, "any") == 0)
			s->restart = cn_xstrdup("always");
		else
			return cmp_type_error(c, SUB(path, "restart_policy.condition"), cond, "none, on-failure or any");
	}
	res = cmp_map_get(n, "resources");
	if (cmp_is_null(res))
		return 0;
	if (res->kind != CMP_MAP)
		return cmp_type_error(c, rp, res, "a mapping");
	lim = cmp_map_get(res, "limits");
	if (cmp_is_null(lim))
		return 0;
	if (lim->kind != CMP_MAP)
		return cmp_type_error(c, lp, lim, "a mapping");
	if ((x = cmp_map_get(lim, "memory")) && cmp_get_bytes(c, SUB(lp, "memory"), x, &s->mem_limit) < 0)
		return -1;
	if ((x = cmp_map_get(lim, "cpus")) && get_cpus(c, SUB(lp, "cpus"), x, &s->cpus) < 0)
		return -1;
	if ((x = cmp_map_get(lim, "pids")) && cmp_get_int(c, SUB(lp, "pids"), x, &s->pids_limit) < 0)
		return -1;
	return 0;
#undef SUB
}

/* ---- the service ---- */

static int restart_policy(struct cmp_ctx *c, const char *path, const struct cmp_node *n, char **out)
{
	if (cmp_get_str(c, path, n, out) < 0 || !*out)
		return -1 + !*out;
	if (strcmp(*out, "no") == 0 || strcmp(*out, "always") == 0 || strcmp(*out, "unless-stopped") == 0 ||
	    strcmp(*out, "on-failure") == 0)
		return 0;
	if (strncmp(*out, "on-failure:", 11) == 0 && digits_only(*out + 11))
		return 0;
	return cmp_type_error(c, path, n, "no, always, on-failure[:N] or unless-stopped");
}

static int network_mode(struct cmp_ctx *c, const char *path, const struct cmp_node *n, char **out)
{
	if (cmp_get_str(c, path, n, out) < 0 || !*out)
		return -1 + !*out;
	if (strcmp(*out, "host") == 0 || strcmp(*out, "none") == 0)
		return 0;
	if (strcmp(*out, "bridge") == 0 || strcmp(*out, "default") == 0) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (strncmp(*out, "service:", 8) == 0 || strncmp(*out, "container:", 10) == 0)
		return cn_err_fail(c->err, CN_ERR_UNSUPPORTED, "%s:%u:%u: %s: \"%s\" is not supported by cairn "
				   "(host and none are)", n->pos.file, n->pos.line, n->pos.col, path, *out);
	return cmp_type_error(c, path, n, "host, none, bridge, service:NAME or container:NAME");
}

/* extra_hosts as NAME:IP, whichever form was written (NAME=IP, NAME:IP,
 * a mapping; an IPv6 address may be bracketed), as compose-go reads it. */
static int extra_hosts(struct cmp_ctx *c, const char *path, const struct cmp_node *n, cn_strv *out)
{
	_cleanup_strv_ cn_strv raw = { 0 };
	if (cmp_get_kv(c, path, n, ':', false, &raw) < 0)
		return -1;
	cn_strv_free(out);
	for (size_t i = 0; i < raw.n; i++) {
		const char *e = strchr(raw.v[i], '=');
		const char *sep = e ? e : strchr(raw.v[i], ':');
		const char *ip;
		size_t iplen;
		if (!sep || sep == raw.v[i] || !sep[1]) {
			const struct cmp_node *at = n->kind == CMP_SEQ && i < n->n ? n->kids[i] : n;
			return cmp_fail(c, at, "%s: \"%.64s\" is not HOST:IP or HOST=IP", path, raw.v[i]);
		}
		ip = sep + 1;
		iplen = strlen(ip);
		if (ip[0] == '[' && ip[iplen - 1] == ']')
			ip++, iplen -= 2;
		cn_strv_push(out, cn_xasprintf("%.*s:%.*s", (int)(sep - raw.v[i]), raw.v[i], (int)iplen, ip));
	}
	return 0;
}

/* One key of the service; unknown ones warned about. */
static int service_key(struct cmp_ctx *c, struct cmp_service *s, const struct cmp_node *k,
		       const struct cmp_node *v, const char *kp)
{
	const char *key = k->str;
	if (strcmp(key, "image") == 0)
		return cmp_get_str(c, kp, v, &s->image);
	if (strcmp(key, "build") == 0) {
		if (cmp_is_null(v))
			return 0;
		s->build = cn_xcalloc(1, sizeof(*s->build));
		return convert_build(c, s->name, v, s->build);
	}
	if (strcmp(key, "command") == 0)
		return get_argv(c, kp, v, &s->has_command, &s->command);
	if (strcmp(key, "entrypoint") == 0)
		return get_argv(c, kp, v, &s->has_entrypoint, &s->entrypoint);
	if (strcmp(key, "working_dir") == 0)
		return cmp_get_str(c, kp, v, &s->working_dir);
	if (strcmp(key, "user") == 0)
		return cmp_get_str(c, kp, v, &s->user);
	if (strcmp(key, "hostname") == 0)
		return cmp_get_str(c, kp, v, &s->hostname);
	if (strcmp(key, "container_name") == 0) {
		if (cmp_get_str(c, kp, v, &s->container_name) < 0)
			return -1;
		if (s->container_name && (!name_ok(s->container_name, true) || strlen(s->container_name) < 2))
			return cmp_type_error(c, kp, v, "a name matching [a-zA-Z0-9][a-zA-Z0-9_.-]+");
		return 0;
	}
	if (strcmp(key, "restart") == 0)
		return restart_policy(c, kp, v, &s->restart);
	if (strcmp(key, "stop_signal") == 0)
		return cmp_get_str(c, kp, v, &s->stop_signal);
	if (strcmp(key, "stop_grace_period") == 0)
		return cmp_get_duration(c, kp, v, &s->stop_grace_period_ns);
	if (strcmp(key, "volumes") == 0)
		return volumes(c, kp, v, s);
	if (strcmp(key, "tmpfs") == 0) {
		_cleanup_strv_ cn_strv t = { 0 };
		if (cmp_get_strv(c, kp, v, true, &t) < 0)
			return -1;
		cn_strv_copy(&s->tmpfs, &t);
		return 0;
	}
	if (strcmp(key, "read_only") == 0)
		return cmp_get_bool(c, kp, v, &s->read_only);
	if (strcmp(key, "init") == 0)
		return cmp_get_bool(c, kp, v, &s->init);
	if (strcmp(key, "privileged") == 0)
		return cmp_get_bool(c, kp, v, &s->privileged);
	if (strcmp(key, "tty") == 0)
		return cmp_get_bool(c, kp, v, &s->tty);
	if (strcmp(key, "stdin_open") == 0)
		return cmp_get_bool(c, kp, v, &s->stdin_open);
	if (strcmp(key, "cap_add") == 0)
		return cmp_get_strv(c, kp, v, false, &s->cap_add);
	if (strcmp(key, "cap_drop") == 0)
		return cmp_get_strv(c, kp, v, false, &s->cap_drop);
	if (strcmp(key, "ports") == 0)
		return cmp_service_ports(c, kp, v, &s->ports);
	if (strcmp(key, "network_mode") == 0)
		return network_mode(c, kp, v, &s->network_mode);
	if (strcmp(key, "networks") == 0)
		return networks(c, kp, v, s);
	if (strcmp(key, "depends_on") == 0)
		return depends_on(c, kp, v, s);
	if (strcmp(key, "healthcheck") == 0)
		return healthcheck(c, kp, v, &s->health);
	if (strcmp(key, "deploy") == 0)
		return deploy(c, kp, v, s);
	if (strcmp(key, "mem_limit") == 0)
		return cmp_get_bytes(c, kp, v, &s->mem_limit);
	if (strcmp(key, "cpus") == 0)
		return get_cpus(c, kp, v, &s->cpus);
	if (strcmp(key, "pids_limit") == 0)
		return cmp_get_int(c, kp, v, &s->pids_limit);
	if (strcmp(key, "extra_hosts") == 0)
		return extra_hosts(c, kp, v, &s->extra_hosts);
	if (strcmp(key, "dns") == 0)
		return cmp_get_strv(c, kp, v, true, &s->dns);
	if (strcmp(key, "labels") == 0)
		return cmp_get_kv(c, kp, v, '=', false, &s->labels);
	if (strcmp(key, "profiles") == 0)
		return cmp_get_strv(c, kp, v, false, &s->profiles);
	if (strcmp(key, "platform") == 0)
		return cmp_get_str(c, kp, v, &s->platform);
	if (strcmp(key, "secrets") == 0)
		return service_secrets(c, kp, v, s);
	if (strcmp(key, "extends") == 0)
		return cn_err_fail(c->err, CN_ERR_UNSUPPORTED, "%s:%u:%u: %s: not supported by cairn (merge files "
				   "with -f, or use anchors and <<)", k->pos.file, k->pos.line, k->pos.col, kp);
	if (strcmp(key, "environment") == 0 || strcmp(key, "env_file") == 0 || strncmp(key, "x-", 2) == 0)
		return 0;       /* environment: below, in order */
	if (is_ignored(key))
		cmp_warn(c, k, "%s: not supported by cairn, ignored", kp);
	else
		cmp_warn(c, k, "%s: unknown key, ignored", kp);
	return 0;
}

/* mem_limit, cpus and pids_limit may also be given under
 * deploy.resources.limits: both are fine when they agree (compose-go). */
static int check_limits(struct cmp_ctx *c, const char *path, const struct cmp_node *n)
{
	static const struct {
		const char *key, *deploy;
		int kind;                       /* 0 bytes, 1 decimal, 2 integer */
	} pairs[] = { { "mem_limit", "memory", 0 }, { "cpus", "cpus", 1 }, { "pids_limit", "pids", 2 } };
	const struct cmp_node *lim = cmp_map_get(cmp_map_get(cmp_map_get(n, "deploy"), "resources"), "limits");
	for (size_t i = 0; i < CN_ARRAY_SIZE(pairs); i++) {
		const struct cmp_node *a = cmp_map_get(n, pairs[i].key), *b = cmp_map_get(lim, pairs[i].deploy);
		bool same;
		if (cmp_is_null(a) || cmp_is_null(b) || a->kind != CMP_SCALAR || b->kind != CMP_SCALAR)
			continue;
		if (pairs[i].kind == 0) {
			long long x = 0, y = 0;
			same = cmp_parse_bytes(a->str, &x) == 0 && cmp_parse_bytes(b->str, &y) == 0 && x == y;
		} else if (pairs[i].kind == 1) {
			double x = 0, y = 0;
			same = cmp_parse_decimal(a->str, &x) && cmp_parse_decimal(b->str, &y) && x == y;
		} else {
			same = strtoll(a->str, NULL, 0) == strtoll(b->str, NULL, 0);
		}
		if (!same)
			return cmp_fail(c, b, "%s: can't set distinct values on '%s' and 'deploy.resources.limits.%s'",
					path, pairs[i].key, pairs[i].deploy);
	}
	return 0;
}

/* The container path of a -v or --tmpfs string. */
static char *mount_target(const char *m, bool tmpfs)
{
	const char *c = strchr(m, ':'), *e;
	if (tmpfs || !c)
		return c && tmpfs ? cn_xstrndup(m, (size_t)(c - m)) : cn_xstrdup(m);
	e = strchr(c + 1, ':');
	return e ? cn_xstrndup(c + 1, (size_t)(e - c - 1)) : cn_xstrdup(c + 1);
}

static int target_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two mounts on one target (a volume and a tmpfs, a secret and a bind):
 * docker refuses them; repeated entries of one list were merged already. */
static int check_mounts(struct cmp_ctx *c, const char *path, const struct cmp_node *key, struct cmp_service *s)
{
	size_t n = s->volumes.n + s->tmpfs.n;
	_cleanup_strv_ cn_strv t = { 0 };
	for (size_t i = 0; i < s->volumes.n; i++)
		cn_strv_push(&t, mount_target(s->volumes.v[i], false));
	for (size_t i = 0; i < s->tmpfs.n; i++)
		cn_strv_push(&t, mount_target(s->tmpfs.v[i], true));
	if (n > 1)
		qsort(t.v, n, sizeof(*t.v), target_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(t.v[i], t.v[i - 1]) == 0)
			return cmp_fail(c, key, "%s: target %s already mounted", path, t.v[i]);
	return 0;
}

int cmp_service_convert(struct cmp_ctx *c, const char *name, const struct cmp_node *key,
			const struct cmp_node *n, struct cmp_service *s)
{
	_cleanup_free_ char *path = cn_xasprintf("services.%s", name);
	memset(s, 0, sizeof(*s));
	s->name = cn_xstrdup(name);
	s->pos = key->pos;
	s->stop_grace_period_ns = -1;
	s->health.interval_ns = s->health.timeout_ns = -1;
	s->health.start_period_ns = s->health.start_interval_ns = -1;
	s->health.retries = -1;
	if (!name_ok(name, true))
		return cmp_fail(c, key, "invalid service name \"%.64s\": letters, digits, '.', '_' and '-', starting "
				"with a letter or digit", name);
	if (cmp_is_null(n))
		return cmp_fail(c, key, "%s: a service needs an image: or a build:", path);
	if (n->kind != CMP_MAP)
		return cmp_type_error(c, path, n, "a mapping");
	for (size_t i = 0; i < n->n; i++) {
		_cleanup_free_ char *kp = cn_xasprintf("%s.%s", path, cmp_map_key(n, i)->str);
		if (service_key(c, s, cmp_map_key(n, i), cmp_map_val(n, i), kp) < 0)
			return -1;
	}
	{
		_cleanup_free_ char *kp = cn_xasprintf("%s.env_file", path);
		_cleanup_free_ char *ep = cn_xasprintf("%s.environment", path);
		if (env_files(c, kp, cmp_map_get(n, "env_file"), &s->environment) < 0 ||
		    environment(c, ep, cmp_map_get(n, "environment"), &s->environment) < 0)
			return -1;
		cmp_env_settle(&s->environment);
	}
	if (check_limits(c, path, n) < 0 || check_mounts(c, path, key, s) < 0)
		return -1;
	if (!s->image && !s->build)
		return cmp_fail(c, key, "%s: a service needs an image: or a build:", path);
	if (s->network_mode && s->nnetworks)
		return cmp_fail(c, key, "%s: network_mode and networks cannot be combined", path);
	if (!s->network_mode && !s->nnetworks) {
		s->networks = cn_xcalloc(1, sizeof(*s->networks));
		s->networks[0].key = cn_xstrdup("default");
		s->nnetworks = 1;
	}
	return 0;
}

void cmp_service_free(struct cmp_service *s)
{
	free(s->name);
	free(s->image);
	build_free(s->build);
	cn_strv_free(&s->command);
	cn_strv_free(&s->entrypoint);
	cn_strv_free(&s->environment);
	free(s->working_dir);
	free(s->user);
	free(s->hostname);
	free(s->container_name);
	free(s->restart);
	free(s->stop_signal);
	cn_strv_free(&s->volumes);
	cn_strv_free(&s->mounts);
	cn_strv_free(&s->tmpfs);
	cn_strv_free(&s->cap_add);
	cn_strv_free(&s->cap_drop);
	cn_strv_free(&s->ports);
	free(s->network_mode);
	for (size_t i = 0; i < s->nnetworks; i++) {
		free(s->networks[i].key);
		cn_strv_free(&s->networks[i].aliases);
	}
	free(s->networks);
	for (size_t i = 0; i < s->ndepends; i++)
		free(s->depends_on[i].service);
	free(s->depends_on);
	cn_strv_free(&s->health.test);
	free(s->cpus);
	cn_strv_free(&s->extra_hosts);
	cn_strv_free(&s->dns);
	cn_strv_free(&s->labels);
	cn_strv_free(&s->profiles);
	free(s->platform);
	memset(s, 0, sizeof(*s));
}
