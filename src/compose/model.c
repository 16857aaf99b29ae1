/* cmp_project_load: the files found (or given with -f), .env read, the
 * project named, each file parsed and interpolated, the files merged,
 * then the top level converted (networks, volumes, services) and the
 * references between them checked. Service keys are service.c's. */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const default_files[] = {
	"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml",
};
static const char *const override_files[] = {
	"compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
	"docker-compose.override.yaml",
};

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *cwd_path(cn_err *err)
{
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		cn_err_sys(err, "getcwd");
	return cwd;
}

/* The first of the default names in DIR or a parent, and its override. */
static int discover(const char *start, cn_strv *files, cn_strv *warnings, cn_err *err)
{
	_cleanup_free_ char *dir = cn_xstrdup(start);
	for (;;) {
		size_t found = 0;
		for (size_t i = 0; i < CN_ARRAY_SIZE(default_files); i++) {
			_cleanup_free_ char *f = cn_xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", default_files[i]);
			if (!is_file(f))
				continue;
			if (found++ == 0)
				cn_strv_push(files, CN_TAKE_PTR(f));
			else if (warnings)
				cn_strv_push(warnings, cn_xasprintf("found multiple config files with supported names: "
								    "%s, %s; using %s", files->v[0], f,
								    files->v[0]));
		}
		if (found) {
			for (size_t i = 0; i < CN_ARRAY_SIZE(override_files); i++) {
				_cleanup_free_ char *f = cn_xasprintf("%s/%s", strcmp(dir, "/") ? dir : "",
								      override_files[i]);
				if (is_file(f)) {
					cn_strv_push(files, CN_TAKE_PTR(f));
					break;
				}
			}
			return 0;
		}
		if (strcmp(dir, "/") == 0)
			break;
		{
			char *slash = strrchr(dir, '/');
			if (slash == dir)
				slash[1] = '\0';
			else if (slash)
				*slash = '\0';
			else
				break;
		}
	}
	return cn_err_fail(err, CN_ERR_NOT_FOUND, "no configuration file provided: none of compose.yaml, "
			   "compose.yml, docker-compose.yml, docker-compose.yaml in %s or a parent directory", start);
}

/* COMPOSE_FILE: the files separated by COMPOSE_PATH_SEPARATOR (default
 * ':'), relative ones against DIR. */
static void compose_file_var(const cn_strv *env, const char *dir, cn_strv *files)
{
	const char *v = cn_env_get(env, "COMPOSE_FILE"), *sep = cn_env_get(env, "COMPOSE_PATH_SEPARATOR");
	char s = sep && *sep ? *sep : ':';
	while (*v) {
		const char *e = strchr(v, s);
		size_t n = e ? (size_t)(e - v) : strlen(v);
		if (n) {
			_cleanup_free_ char *one = cn_xstrndup(v, n);
			cn_strv_push(files, cmp_abspath(dir, one, env));
		}
		v += n + (e ? 1 : 0);
	}
}

static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return cn_xstrdup("/");
	return cn_xstrndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* .env (or --env-file): its variables join ENV where the shell has none. */
static int read_dotenv(const struct cmp_load_opts *o, const char *dir, const char *cwd, cn_strv *env,
		       cn_err *err)
{
	_cleanup_free_ char *path = o->env_file ? cmp_abspath(cwd, o->env_file, env)
						: cn_xasprintf("%s/.env", dir);
	_cleanup_strv_ cn_strv dot = { 0 };
	struct cmp_envmap shell;
	struct cmp_lookup lk = { cmp_envmap_get, &shell };
	struct stat st;
	int r;
	if (!o->env_file && (stat(path, &st) < 0 || S_ISDIR(st.st_mode)))
		return 0;
	cmp_envmap_init(&shell, env);
	r = cmp_envfile_read(path, false, &lk, &dot, err);
	cmp_envmap_free(&shell);
	if (r < 0)
		return cn_err_wrap(err, "env file");
	/* Shell, .env, shell again: the shell's values win, in their places. */
	{
		size_t nshell = env->n;
		cn_strv_copy(env, &dot);
		for (size_t i = 0; i < nshell; i++)
			cn_strv_pushdup(env, env->v[i]);
		cmp_env_settle(env);
	}
	return 0;
}

static int name_invalid(const char *from, const char *name, cn_err *err)
{
	if (!*name)
		return cn_err_fail(err, CN_ERR_INVALID, "project name must not be empty");
	return cn_err_fail(err, CN_ERR_INVALID, "invalid project name \"%s\" (%s): must consist only of lowercase "
			   "alphanumeric characters, hyphens, and underscores as well as start with a letter or "
			   "number", name, from);
}

/* -p, then COMPOSE_PROJECT_NAME (validated), then the files' name: (the
 * last file's, interpolated), then the directory (both normalized). */
static int project_name(const struct cmp_load_opts *o, struct cmp_project *p, struct cmp_node *const *trees,
			size_t ntrees, cn_err *err)
{
	const char *env = cn_env_get(&p->env, "COMPOSE_PROJECT_NAME");
	struct cmp_lookup lk = { cmp_env_lookup, &p->env };
	if (o->project_name) {
		if (!cmp_project_name_valid(o->project_name))
			return name_invalid("-p", o->project_name, err);
		p->name = cn_xstrdup(o->project_name);
		return 0;
	}
	if (env && *env) {
		if (!cmp_project_name_valid(env))
			return name_invalid("COMPOSE_PROJECT_NAME", env, err);
		p->name = cn_xstrdup(env);
		return 0;
	}
	for (size_t i = ntrees; i-- > 0;) {
		const struct cmp_node *n = cmp_map_get(trees[i], "name");
		_cleanup_free_ char *v = NULL;
		char *name;
		if (!n || n->kind != CMP_SCALAR || cmp_is_null(n))
			continue;
		/* Unset variables: the interpolation of the tree says so. */
		if (cmp_interp_str(n->str, &lk, &v, NULL, err) < 0)
			return cn_err_wrap(err, "%s:%u:%u", n->pos.file, n->pos.line, n->pos.col);
		name = cmp_project_name_normalize(v);
		p->name = name;
		if (!*name)
			return cn_err_fail(err, CN_ERR_INVALID, "%s:%u:%u: project name must not be empty",
					   n->pos.file, n->pos.line, n->pos.col);
		return 0;
	}
	{
		char *name = cmp_project_name_normalize(base_of(p->workdir));
		p->name = name;
		if (!*name)
			return cn_err_fail(err, CN_ERR_INVALID, "project name must not be empty (from the directory "
					   "%s: give one with -p or name:)", p->workdir);
	}
	return 0;
}

static int load_file(const char *path, struct cmp_node **root, cn_err *err)
{
	_cleanup_buf_ cn_buf text = { 0 };
	cn_buf_init(&text, 0);
	if (cmp_read_file(path, CMP_YAML_MAX_BYTES + 1, &text, err) < 0) {
		if (err->errnum == EFBIG)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "%s: over the %u MiB limit for a compose file", path,
					   CMP_YAML_MAX_BYTES >> 20);
		return -1;
	}
	if (cmp_yaml_parse(path, text.data, text.len, root, err) < 0)
		return -1;
	if (!*root)
		return cn_err_fail(err, CN_ERR_INVALID, "%s: empty compose file", path);
	if ((*root)->kind != CMP_MAP)
		return cn_err_fail(err, CN_ERR_INVALID, "%s:%u:%u: a compose file is a mapping (services:, "
				   "networks:, ...), not %s", path, (*root)->pos.line, (*root)->pos.col,
				   cmp_node_what(*root));
	return 0;
}

/* Keys networks and volumes share: name, external (also the old form
 * external: {name: N}) and labels. True when KEY was one (*R its result). */
static bool shared_key(struct cmp_ctx *c, const char *kp, const char *key, const struct cmp_node *x, char **name,
		       bool *external, cn_strv *labels, int *r)
{
	if (strcmp(key, "name") == 0)
		*r = cmp_get_str(c, kp, x, name);
	else if (strcmp(key, "external") == 0 && x->kind == CMP_MAP) {
		*external = true;
		if (cmp_map_get(x, "name") && !*name)
			*r = cmp_get_str(c, kp, cmp_map_get(x, "name"), name);
	} else if (strcmp(key, "external") == 0)
		*r = cmp_get_bool(c, kp, x, external);
	else if (strcmp(key, "labels") == 0)
		*r = cmp_get_kv(c, kp, x, '=', false, labels);
	else
		return false;
	return true;
}

/* A top-level network or volume: its keys, each with KEY_FN for the
 * ones its kind adds; the name <project>_<key> unless given or external. */
typedef int (*extra_key_fn)(struct cmp_ctx *c, const char *kp, const struct cmp_node *k, const struct cmp_node *x,
			    void *out);

static int convert_entry(struct cmp_ctx *c, const char *what, const struct cmp_node *k, const struct cmp_node *v,
			 char **name, bool *external, cn_strv *labels, extra_key_fn key_fn, void *out)
{
	_cleanup_free_ char *path = cn_xasprintf("%s.%s", what, k->str);
	if (!cmp_is_null(v) && v->kind != CMP_MAP)
		return cmp_type_error(c, path, v, "a mapping");
	for (size_t i = 0; v && v->kind == CMP_MAP && i < v->n; i++) {
		const char *key = cmp_map_key(v, i)->str;
		const struct cmp_node *x = cmp_map_val(v, i);
		_cleanup_free_ char *kp = cn_xasprintf("%s.%s", path, key);
		int r = 0;
		if (!shared_key(c, kp, key, x, name, external, labels, &r) && strncmp(key, "x-", 2) != 0)
			r = key_fn(c, kp, cmp_map_key(v, i), x, out);
		if (r < 0)
			return -1;
	}
	if (!*name)
		*name = *external ? cn_xstrdup(k->str) : cn_xasprintf("%s_%s", c->p->name, k->str);
	return 0;
}

static int network_key(struct cmp_ctx *c, const char *kp, const struct cmp_node *k, const struct cmp_node *x,
		       void *out)
{
	struct cmp_network *net = out;
	const char *key = k->str;
	if (strcmp(key, "internal") == 0)
		return cmp_get_bool(c, kp, x, &net->internal);
	if (strcmp(key, "driver") == 0) {
		if (x->kind == CMP_SCALAR && strcmp(x->str, "bridge") != 0)
			cmp_warn(c, x, "%s: cairn's networks are bridges; driver %s ignored", kp, x->str);
	} else if (strcmp(key, "ipam") == 0) {
		const struct cmp_node *cfg = cmp_map_get(x, "config");
		_cleanup_free_ char *sp = cn_xasprintf("%s.config.subnet", kp);
		if (cmp_expect(c, kp, x, CMP_MAP) < 0)
			return -1;
		if (cfg && cfg->kind == CMP_SEQ && cfg->n > 0)
			return cmp_get_str(c, sp, cmp_map_get(cfg->kids[0], "subnet"), &net->subnet);
	} else if (strcmp(key, "attachable") != 0 && strcmp(key, "enable_ipv6") != 0 && strcmp(key, "driver_opts") != 0)
		cmp_warn(c, k, "%s: unknown key, ignored", kp);
	return 0;
}

static int volume_key(struct cmp_ctx *c, const char *kp, const struct cmp_node *k, const struct cmp_node *x,
		      void *out)
{
	(void)out;
	/* cairn's volumes are directories in its store: no drivers. */
	if ((strcmp(k->str, "driver") == 0 && !(x->kind == CMP_SCALAR && strcmp(x->str, "local") == 0)) ||
	    strcmp(k->str, "driver_opts") == 0)
		cmp_warn(c, k, "%s: not supported by cairn, ignored", kp);
	else if (strcmp(k->str, "driver") != 0)
		cmp_warn(c, k, "%s: unknown key, ignored", kp);
	return 0;
}

static int convert_network(struct cmp_ctx *c, const struct cmp_node *k, const struct cmp_node *v,
			   struct cmp_network *net)
{
	net->key = cn_xstrdup(k->str);
	net->pos = k->pos;
	return convert_entry(c, "networks", k, v, &net->name, &net->external, &net->labels, network_key, net);
}

static int convert_volume(struct cmp_ctx *c, const struct cmp_node *k, const struct cmp_node *v,
			  struct cmp_volume *vol)
{
	vol->key = cn_xstrdup(k->str);
	vol->pos = k->pos;
	return convert_entry(c, "volumes", k, v, &vol->name, &vol->external, &vol->labels, volume_key, vol);
}

/* Is a service with PROFILES on? (Without profiles always; else when
 * one of them was asked for, "*" asking for all.) */
static bool profile_on(const cn_strv *profiles, const cn_strv *active)
{
	if (!profiles->n)
		return true;
	for (size_t i = 0; i < active->n; i++) {
		if (strcmp(active->v[i], "*") == 0)
			return true;
		for (size_t j = 0; j < profiles->n; j++)
			if (strcmp(active->v[i], profiles->v[j]) == 0)
				return true;
	}
	return false;
}

static int convert_services(struct cmp_ctx *c, const struct cmp_node *svcs, const cn_strv *active)
{
	if (cmp_is_null(svcs))
		return 0;
	if (svcs->kind != CMP_MAP)
		return cmp_type_error(c, "services", svcs, "a mapping");
	c->p->services = cn_xcalloc(svcs->n + 1, sizeof(*c->p->services));
	for (size_t i = 0; i < svcs->n; i++) {
		struct cmp_service *s = &c->p->services[c->p->nservices];
		if (cmp_service_convert(c, cmp_map_key(svcs, i)->str, cmp_map_key(svcs, i), cmp_map_val(svcs, i),
					s) < 0) {
			cmp_service_free(s);
			return -1;
		}
		if (!profile_on(&s->profiles, active)) {
			cmp_service_free(s);
			continue;
		}
		c->p->nservices++;
	}
	return 0;
}

/* References between parts: depends_on, networks; "default" made when used. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int idx_cmp(const void *a, const void *b, void *ctx)
{
	const struct cmp_project *p = ctx;
	return strcmp(p->services[*(const size_t *)a].name, p->services[*(const size_t *)b].name);
}

/* The index of service NAME (BY: indexes sorted by name), or -1. */
static long service_index(const struct cmp_project *p, const size_t *by, const char *name)
{
	size_t lo = 0, hi = p->nservices;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(p->services[by[mid]].name, name);
		if (r == 0)
			return (long)by[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* depends_on must be acyclic (compose-go's graph): a depth-first walk
 * without recursion (a chain of many services), the cycle named as
 * compose-go does, at the depends_on entry that closes it. */
static int check_cycles(struct cmp_ctx *c)
{
	struct cmp_project *p = c->p;
	struct frame {
		size_t svc, next;
	};
	_cleanup_free_ size_t *by = cn_xmalloc((p->nservices + 1) * sizeof(*by));
	_cleanup_free_ unsigned char *state = cn_xcalloc(p->nservices + 1, 1);     /* 0 new, 1 on the path, 2 done */
	_cleanup_free_ struct frame *stack = cn_xmalloc((p->nservices + 1) * sizeof(*stack));
	for (size_t i = 0; i < p->nservices; i++)
		by[i] = i;
	qsort_r(by, p->nservices, sizeof(*by), idx_cmp, p);
	for (size_t root = 0; root < p->nservices; root++) {
		size_t depth = 0;
		if (state[root])
			continue;
		stack[depth++] = (struct frame){ root, 0 };
		state[root] = 1;
		while (depth) {
			struct frame *f = &stack[depth - 1];
			const struct cmp_service *s = &p->services[f->svc];
			const struct cmp_depends *d;
			long to;
			if (f->next >= s->ndepends) {
				state[f->svc] = 2;
				depth--;
				continue;
			}
			d = &s->depends_on[f->next++];
			to = service_index(p, by, d->service);
			if (to < 0 || state[to] == 2)
				continue;
			if (state[to] == 0) {
				state[to] = 1;
				stack[depth++] = (struct frame){ (size_t)to, 0 };
				continue;
			}
			{
				cn_buf path;
				size_t from = depth;
				int r;
				while (from > 0 && stack[from - 1].svc != (size_t)to)
					from--;
				cn_buf_init(&path, 0);
				for (size_t k = from ? from - 1 : 0; k < depth; k++)
					cn_buf_addf(&path, "%s -> ", p->services[stack[k].svc].name);
				cn_buf_adds(&path, p->services[to].name);
				r = cn_err_fail(c->err, CN_ERR_INVALID, "%s:%u:%u: dependency cycle detected: %s",
						d->pos.file, d->pos.line, d->pos.col, path.data);
				cn_buf_free(&path);
				return r;
			}
		}
	}
	return 0;
}

static int check_refs(struct cmp_ctx *c, const struct cmp_node *svcs)
{
	struct cmp_project *p = c->p;
	bool need_default = false;
	/* Sorted names: projects with very many services stay fast. */
	_cleanup_free_ char **names = cn_xmalloc((p->nservices + 1) * sizeof(*names));
	for (size_t i = 0; i < p->nservices; i++)
		names[i] = p->services[i].name;
	qsort(names, p->nservices, sizeof(*names), name_cmp);
	for (size_t i = 0; i < p->nservices; i++) {
		struct cmp_service *s = &p->services[i];
		for (size_t j = 0; j < s->ndepends; j++) {
			const struct cmp_depends *d = &s->depends_on[j];
			const char *key = d->service;
			if (bsearch(&key, names, p->nservices, sizeof(*names), name_cmp))
				continue;
			if (!d->required)
				continue;
			if (cmp_map_index(svcs, d->service) >= 0)
				return cn_err_fail(c->err, CN_ERR_INVALID, "%s:%u:%u: service \"%s\" depends on "
						   "service \"%s\", which is disabled by its profiles", d->pos.file,
						   d->pos.line, d->pos.col, s->name, d->service);
			return cn_err_fail(c->err, CN_ERR_INVALID, "%s:%u:%u: service \"%s\" depends on undefined "
					   "service \"%s\"", d->pos.file, d->pos.line, d->pos.col, s->name, d->service);
		}
		for (size_t j = 0; j < s->nnetworks; j++) {
			if (strcmp(s->networks[j].key, "default") == 0) {
				need_default = true;
				continue;
			}
			if (!cmp_network_find(p, s->networks[j].key))
				return cn_err_fail(c->err, CN_ERR_INVALID, "%s:%u:%u: service \"%s\" refers to undefined "
						   "network %s", s->pos.file, s->pos.line, s->pos.col, s->name,
						   s->networks[j].key);
		}
	}
	if (check_cycles(c) < 0)
		return -1;
	if (need_default && !cmp_network_find(p, "default")) {
		struct cmp_network *n;
		p->networks = cn_xrealloc(p->networks, (p->nnetworks + 1) * sizeof(*p->networks));
		n = &p->networks[p->nnetworks++];
		memset(n, 0, sizeof(*n));
		n->key = cn_xstrdup("default");
		n->name = cn_xasprintf("%s_default", p->name);
	}
	return 0;
}

static int convert_top(struct cmp_ctx *c, const struct cmp_node *root, const cn_strv *active)
{
	const struct cmp_node *nets = cmp_map_get(root, "networks"), *vols = cmp_map_get(root, "volumes");
	struct cmp_project *p = c->p;
	for (size_t i = 0; i < root->n; i++) {
		const struct cmp_node *k = cmp_map_key(root, i);
		static const char *const known[] = { "name", "services", "networks", "volumes", "secrets", "configs" };
		bool ok = strncmp(k->str, "x-", 2) == 0;
		for (size_t j = 0; j < CN_ARRAY_SIZE(known) && !ok; j++)
			ok = strcmp(k->str, known[j]) == 0;
		if (strcmp(k->str, "version") == 0)
			cmp_warn(c, k, "the attribute `version` is obsolete, it will be ignored");
		else if (strcmp(k->str, "include") == 0)
			return cmp_fail(c, k, "include: is not supported by cairn (give the files with -f)");
		else if (!ok)
			cmp_warn(c, k, "unknown top-level key \"%s\", ignored", k->str);
	}
	if (!cmp_is_null(nets)) {
		if (nets->kind != CMP_MAP)
			return cmp_type_error(c, "networks", nets, "a mapping");
		p->networks = cn_xcalloc(nets->n + 1, sizeof(*p->networks));
		for (size_t i = 0; i < nets->n; i++, p->nnetworks++)
			if (convert_network(c, cmp_map_key(nets, i), cmp_map_val(nets, i), &p->networks[i]) < 0) {
				p->nnetworks++;
				return -1;
			}
	}
	if (!cmp_is_null(vols)) {
		if (vols->kind != CMP_MAP)
			return cmp_type_error(c, "volumes", vols, "a mapping");
		p->volumes = cn_xcalloc(vols->n + 1, sizeof(*p->volumes));
		for (size_t i = 0; i < vols->n; i++, p->nvolumes++)
			if (convert_volume(c, cmp_map_key(vols, i), cmp_map_val(vols, i), &p->volumes[i]) < 0) {
				p->nvolumes++;
				return -1;
			}
	}
	c->secrets = cmp_map_get(root, "secrets");
	if (c->secrets && !cmp_is_null(c->secrets) && c->secrets->kind != CMP_MAP)
		return cmp_type_error(c, "secrets", c->secrets, "a mapping");
	if (convert_services(c, cmp_map_get(root, "services"), active) < 0)
		return -1;
	return check_refs(c, cmp_map_get(root, "services"));
}

static void active_profiles(const struct cmp_load_opts *o, const cn_strv *env, cn_strv *out)
{
	const char *e = cn_env_get(env, "COMPOSE_PROFILES");
	if (o->profiles && o->profiles->n) {
		cn_strv_copy(out, o->profiles);
		return;
	}
	while (e && *e) {
		const char *comma = strchr(e, ',');
		size_t n = comma ? (size_t)(comma - e) : strlen(e);
		if (n)
			cn_strv_push(out, cn_xstrndup(e, n));
		e += n + (comma ? 1 : 0);
	}
}

int cmp_project_load(const struct cmp_load_opts *o, struct cmp_project *p, cn_strv *warnings, cn_err *err)
{
	_cleanup_free_ char *cwd = cwd_path(err);
	_cleanup_free_ char *start = NULL;
	_cleanup_strv_ cn_strv active = { 0 };
	struct cmp_node **trees = NULL, *root = NULL;
	struct cmp_lookup lk;
	struct cmp_envmap envmap = { 0 };
	struct cmp_ctx c;
	size_t ntrees = 0;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	c = (struct cmp_ctx){ p, warnings, err, NULL, NULL };
	if (!cwd)
		return -1;
	for (char *const *e = o->environ; e && *e; e++)
		if (strchr(*e, '='))
			cn_strv_pushdup(&p->env, *e);
	if (o->project_dir)
		start = cmp_abspath(cwd, o->project_dir, &p->env);
	for (size_t i = 0; i < o->nfiles; i++)
		cn_strv_push(&p->files, cmp_abspath(cwd, o->files[i], &p->env));
	/* .env first, from the working directory as compose-go's
	 * GetWorkingDir has it (--project-directory, the first -f file's
	 * directory, the current one): it may set COMPOSE_FILE. */
	{
		_cleanup_free_ char *envdir = start ? cn_xstrdup(start) : p->files.n ? dirname_of(p->files.v[0])
										      : cn_xstrdup(cwd);
		if (read_dotenv(o, envdir, cwd, &p->env, err) < 0)
			goto out;
	}
	if (!p->files.n && cn_env_get(&p->env, "COMPOSE_FILE"))
		compose_file_var(&p->env, start ? start : cwd, &p->files);
	/* COMPOSE_FILE naming no file (":") is as unset. */
	if (!p->files.n && discover(start ? start : cwd, &p->files, warnings, err) < 0)
		goto out;
	p->workdir = start ? CN_TAKE_PTR(start) : dirname_of(p->files.v[0]);
	trees = cn_xcalloc(p->files.n, sizeof(*trees));
	for (; ntrees < p->files.n; ntrees++)
		if (load_file(p->files.v[ntrees], &trees[ntrees], err) < 0) {
			ntrees++;
			goto out;
		}
	if (project_name(o, p, trees, ntrees, err) < 0)
		goto out;
	cn_env_set(&p->env, "COMPOSE_PROJECT_NAME", p->name);
	/* p->env stays as it is from here: indexed once (a .env of 50,000
	 * lines made each lookup a scan). */
	cmp_envmap_init(&envmap, &p->env);
	c.envmap = &envmap;
	lk = (struct cmp_lookup){ cmp_envmap_get, &envmap };
	for (size_t i = 0; i < ntrees; i++)
		if (cmp_interp_tree(trees[i], &lk, warnings, err) < 0)
			goto out;
	/* File by file, as compose-go: !reset applies to what came before
	 * it (not to later files), repeated entries collapse. */
	for (size_t i = 0; i < ntrees; i++) {
		cmp_merge(&root, trees[i]);
		trees[i] = NULL;
		cmp_strip_reset(root);
		cmp_enforce_unicity(root);
	}
	active_profiles(o, &p->env, &active);
	rc = convert_top(&c, root, &active);
out:
	cmp_envmap_free(&envmap);
	for (size_t i = 0; i < ntrees; i++)
		cmp_node_free(trees[i]);
	free(trees);
	cmp_node_free(root);
	if (rc < 0)
		cmp_project_free(p);
	return rc;
}

void cmp_project_free(struct cmp_project *p)
{
	for (size_t i = 0; i < p->nservices; i++)
		cmp_service_free(&p->services[i]);
	free(p->services);
	for (size_t i = 0; i < p->nnetworks; i++) {
		free(p->networks[i].key);
		free(p->networks[i].name);
		free(p->networks[i].subnet);
		cn_strv_free(&p->networks[i].labels);
	}
	free(p->networks);
	for (size_t i = 0; i < p->nvolumes; i++) {
		free(p->volumes[i].key);
		free(p->volumes[i].name);
		cn_strv_free(&p->volumes[i].labels);
	}
	free(p->volumes);
	free(p->name);
	free(p->workdir);
	cn_strv_free(&p->files);
	cn_strv_free(&p->env);
	memset(p, 0, sizeof(*p));
}

const struct cmp_service *cmp_service_find(const struct cmp_project *p, const char *name)
{
	for (size_t i = 0; i < p->nservices; i++)
		if (strcmp(p->services[i].name, name) == 0)
			return &p->services[i];
	return NULL;
}

const struct cmp_network *cmp_network_find(const struct cmp_project *p, const char *key)
{
	for (size_t i = 0; i < p->nnetworks; i++)
		if (strcmp(p->networks[i].key, key) == 0)
			return &p->networks[i];
	return NULL;
}

const struct cmp_volume *cmp_volume_find(const struct cmp_project *p, const char *key)
{
	for (size_t i = 0; i < p->nvolumes; i++)
		if (strcmp(p->volumes[i].key, key) == 0)
			return &p->volumes[i];
	return NULL;
}
