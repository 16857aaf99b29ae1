/* containers/<id>/config.json: create, read, rewrite, list, remove. */
#include "container/container.h"
#include "container/volume.h"
#include "container/health.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/labels.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE "config.json"
#define STATE_MAX (8u << 20)   /* env and argv alone may be ~2 MiB (exec's limit) */

static const char *const status_names[] = { "created", "running", "exited" };

static void exec_conf_free(struct ctr_exec_conf *e)
{
	cn_strv_free(&e->env);
	cn_strv_free(&e->cgroup_dirs);
	free(e->user);
	free(e->workdir);
	free(e->rlimits);
	memset(e, 0, sizeof(*e));
}

void ctr_state_free(struct ctr_state *s)
{
	free(s->name);
	free(s->image);
	cn_strv_free(&s->command);
	exec_conf_free(&s->exec);
	free(s->net.network);
	free(s->net.ip);
	cn_strv_free(&s->net.ports);
	s->net = (struct ctr_net_state){ 0 };
	s->name = s->image = NULL;
	/* labels, volumes, health */
	cn_strv_free(&s->labels);
	cn_strv_free(&s->volumes);
	ctr_health_conf_free(&s->healthcheck);
	ctr_health_results_free(s);
}

const char *ctr_label(const struct ctr_state *s, const char *key)
{
	return cn_labels_get(&s->labels, key);
}

/* containers/ under the store, created on first use. */
static int open_root(struct store *st, cn_err *err)
{
	int fd;
	if (mkdirat(st->root_fd, "containers", 0700) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create '%s/containers'", st->root);
	fd = openat(st->root_fd, "containers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '%s/containers'", st->root);
	return fd;
}

/* containers/lock, held exclusively: creation and removal are serialised. */
static int lock_root(int root_fd, cn_err *err)
{
	int fd = cn_lock_at(root_fd, "lock", err);
	if (fd < 0)
		cn_err_wrap(err, "containers");
	return fd;
}

static bool valid_id(const char *s)
{
	if (strlen(s) != CTR_ID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static const char *const userns_names[] = { "host", "rootless", "auto" };

static json_t *strv_json(const cn_strv *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->v[i]));
	return a;
}

/* RLIM_INFINITY does not fit a JSON integer: -1. */
static json_int_t rlim_json(unsigned long long v)
{
	return v == (unsigned long long)RLIM_INFINITY ? -1 : (json_int_t)v;
}

static json_t *exec_json(const struct ctr_exec_conf *e)
{
	json_t *rl = json_array(), *j;
	for (size_t i = 0; i < e->nrlimits; i++)
		json_array_append_new(rl, json_pack("{s:s, s:i, s:I, s:I, s:b}", "name", e->rlimits[i].name,
						    "resource", e->rlimits[i].resource,
						    "soft", rlim_json(e->rlimits[i].soft),
						    "hard", rlim_json(e->rlimits[i].hard),
						    "base", e->rlimits[i].base));
	j = json_pack("{s:o, s:s*, s:s, s:I, s:b, s:b, s:b, s:s, s:o, s:o}", "env", strv_json(&e->env),
			 "user", e->user, "workdir", e->workdir ? e->workdir : "/",
			 "caps", (json_int_t)e->security.caps, "privileged", e->security.privileged,
			 "seccomp_unconfined", e->security.unconfined, "new_privs", e->security.new_privs,
			 "userns", userns_names[e->userns], "cgroup", strv_json(&e->cgroup_dirs),
			 "rlimits", rl);
	if (j && e->has_oom_score_adj)
		json_object_set_new(j, "oom_score_adj", json_integer(e->oom_score_adj));
	return j;
}

static int exec_from_json(json_t *j, struct ctr_exec_conf *e, cn_err *err)
{
	const char *user = NULL, *workdir = NULL, *userns = NULL;
	json_t *env = NULL, *cg = NULL, *rl = NULL, *oom = NULL, *v;
	json_int_t caps = 0;
	int priv = 0, unconfined = 0, new_privs = 0;
	json_error_t je;
	size_t i;
	if (json_unpack_ex(j, &je, 0, "{s:o, s?s, s:s, s:I, s:b, s:b, s:b, s:s, s:o, s:o}", "env", &env,
			   "user", &user, "workdir", &workdir, "caps", &caps, "privileged", &priv,
			   "seccomp_unconfined", &unconfined, "new_privs", &new_privs, "userns", &userns,
			   "cgroup", &cg, "rlimits", &rl) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "exec: %s", je.text);
	for (i = 0; i < CN_ARRAY_SIZE(userns_names); i++)
		if (!strcmp(userns, userns_names[i]))
			break;
	if (i == CN_ARRAY_SIZE(userns_names) || !json_is_array(env) || !json_is_array(cg) ||
	    !json_is_array(rl) || json_array_size(cg) > CN_ARRAY_SIZE(((struct sb_cgroup *)0)->dirs))
		return cn_err_fail(err, CN_ERR_INVALID, "exec: bad userns, env, cgroup or rlimits");
	e->userns = (enum sb_userns_join)i;
	json_array_foreach(env, i, v)
		if (json_is_string(v))
			cn_strv_pushdup(&e->env, json_string_value(v));
	json_array_foreach(cg, i, v)
		if (json_is_string(v))
			cn_strv_pushdup(&e->cgroup_dirs, json_string_value(v));
	e->rlimits = cn_xcalloc(json_array_size(rl) + 1, sizeof(*e->rlimits));
	json_array_foreach(rl, i, v) {
		struct sb_rlimit *r = &e->rlimits[e->nrlimits];
		const char *name;
		json_int_t soft, hard;
		int base = 0;
		if (json_unpack(v, "{s:s, s:i, s:I, s:I, s?b}", "name", &name, "resource", &r->resource,
				"soft", &soft, "hard", &hard, "base", &base) < 0)
			return cn_err_fail(err, CN_ERR_INVALID, "exec: bad rlimit");
		r->base = base;
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->soft = soft < 0 ? (unsigned long long)RLIM_INFINITY : (unsigned long long)soft;
		r->hard = hard < 0 ? (unsigned long long)RLIM_INFINITY : (unsigned long long)hard;
		e->nrlimits++;
	}
	e->user = user ? cn_xstrdup(user) : NULL;
	e->workdir = cn_xstrdup(workdir);
	e->security = (struct sb_security){ .caps = (uint64_t)caps, .privileged = priv,
					    .unconfined = unconfined, .new_privs = new_privs };
	/* Absent from an older cairn's record: the caller's. */
	oom = json_object_get(j, "oom_score_adj");
	if (json_is_integer(oom)) {
		e->oom_score_adj = (int)json_integer_value(oom);
		e->has_oom_score_adj = true;
	}
	e->recorded = true;
	return 0;
}

static json_t *net_json(const struct ctr_net_state *n)
{
	return json_pack("{s:s, s:s*, s:o}", "network", n->network, "ip", n->ip, "ports", strv_json(&n->ports));
}

static void net_from_json(json_t *j, struct ctr_net_state *n)
{
	const char *network = NULL, *ip = NULL;
	json_t *ports = NULL, *v;
	size_t i;
	if (!j || json_unpack(j, "{s:s, s?s, s?o}", "network", &network, "ip", &ip, "ports", &ports) < 0)
		return;         /* a state from a cairn without it */
	n->network = cn_xstrdup(network);
	n->ip = ip ? cn_xstrdup(ip) : NULL;
	json_array_foreach(ports, i, v)
		if (json_is_string(v))
			cn_strv_pushdup(&n->ports, json_string_value(v));
}

/* ---- labels, volumes, the health check: absent from older states ---- */

static void extra_to_json(const struct ctr_state *s, json_t *j)
{
	json_object_set_new(j, "labels", cn_labels_json(&s->labels));
	json_object_set_new(j, "volumes", strv_json(&s->volumes));
	if (s->healthcheck.test.n)
		json_object_set_new(j, "healthcheck", ctr_health_conf_json(&s->healthcheck));
}

static int extra_from_json(json_t *j, struct ctr_state *s, cn_err *err)
{
	json_t *labels = json_object_get(j, "labels"), *vols = json_object_get(j, "volumes"), *v;
	json_t *hc = json_object_get(j, "healthcheck");
	size_t i;
	cn_labels_from_json(labels, &s->labels);
	json_array_foreach(vols, i, v)
		if (json_is_string(v))
			cn_strv_pushdup(&s->volumes, json_string_value(v));
	if (hc && ctr_health_conf_from_json(hc, &s->healthcheck, err) < 0)
		return cn_err_wrap(err, "healthcheck");
	return 0;
}

static json_t *to_json(const struct ctr_state *s)
{
	json_t *cmd = strv_json(&s->command), *j;
	j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:s, s:i, s:b,"
			 " s:{s:i, s:I}, s:{s:i, s:I, s:b}, s:i, s:I, s:b, s:i}",
			 "id", s->id, "name", s->name, "image", s->image,
			 "image_digest", s->image_digest, "command", cmd,
			 "created", (json_int_t)s->created, "started", (json_int_t)s->started,
			 "finished", (json_int_t)s->finished, "status", status_names[s->status],
			 "exit_code", s->exit_code, "oom_killed", s->oom_killed,
			 "supervisor", "pid", (int)s->supervisor_pid, "start_time",
			 (json_int_t)s->supervisor_start,
			 "init", "pid", (int)s->init_pid, "start_time", (json_int_t)s->init_start,
			 "reaper", s->init_reaper, "stop_signal", s->stop_signal, "stop_timeout", (json_int_t)s->stop_timeout,
			 "auto_remove", s->auto_remove, "restart_count", (int)s->restart_count);
	if (j && s->exec.recorded)
		json_object_set_new(j, "exec", exec_json(&s->exec));
	if (j && s->net.network)
		json_object_set_new(j, "net", net_json(&s->net));
	if (j)
		extra_to_json(s, j);
	return j;
}

static int from_json(json_t *j, struct ctr_state *s, cn_err *err)
{
	const char *id = NULL, *name = NULL, *image = NULL, *digest = NULL, *status = NULL;
	json_t *cmd = NULL, *exec = NULL, *v;
	json_int_t created = 0, started = 0, finished = 0, sstart = 0, istart = 0, timeout = 0;
	int exit_code = 0, spid = 0, ipid = 0, sig = 0, oom = 0, rm = 0, restarts = 0, reaper = 0;
	json_error_t je;
	size_t i;
	memset(s, 0, sizeof(*s));
	if (json_unpack_ex(j, &je, 0,
			   "{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:s, s:i, s:b,"
			   " s:{s:i, s:I}, s:{s:i, s:I, s?b}, s:i, s:I, s:b, s?i, s?o}",
			   "id", &id, "name", &name, "image", &image, "image_digest", &digest,
			   "command", &cmd, "created", &created, "started", &started,
			   "finished", &finished, "status", &status, "exit_code", &exit_code,
			   "oom_killed", &oom, "supervisor", "pid", &spid, "start_time", &sstart,
			   "init", "pid", &ipid, "start_time", &istart, "reaper", &reaper, "stop_signal", &sig,
			   "stop_timeout", &timeout, "auto_remove", &rm, "restart_count", &restarts,
			   "exec", &exec) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "%s", je.text);
	if (!valid_id(id) || strlen(digest) >= sizeof(s->image_digest))
		return cn_err_fail(err, CN_ERR_INVALID, "bad id or image digest");
	for (i = 0; i < CN_ARRAY_SIZE(status_names); i++)
		if (!strcmp(status, status_names[i]))
			break;
	if (i == CN_ARRAY_SIZE(status_names))
		return cn_err_fail(err, CN_ERR_INVALID, "unknown status '%s'", status);
	s->status = (enum ctr_status)i;
	memcpy(s->id, id, CTR_ID_LEN + 1);
	snprintf(s->image_digest, sizeof(s->image_digest), "%s", digest);
	s->name = cn_xstrdup(name);
	s->image = cn_xstrdup(image);
	json_array_foreach(cmd, i, v)
		if (json_is_string(v))
			cn_strv_pushdup(&s->command, json_string_value(v));
	s->created = created;
	s->started = started;
	s->finished = finished;
	s->exit_code = exit_code;
	s->oom_killed = oom;
	s->supervisor_pid = spid;
	s->supervisor_start = (unsigned long long)sstart;
	s->init_pid = ipid;
	s->init_start = (unsigned long long)istart;
	s->init_reaper = reaper;
	s->stop_signal = sig;
	s->stop_timeout = (unsigned)timeout;
	s->auto_remove = rm;
	s->restart_count = restarts < 0 ? 0 : (unsigned)restarts;
	if (exec && exec_from_json(exec, &s->exec, err) < 0)
		return -1;
	net_from_json(json_object_get(j, "net"), &s->net);
	return extra_from_json(j, s, err);
}

static int load_at(int root_fd, const char *id, struct ctr_state *s, cn_err *err)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/" STATE_FILE, id);
	cn_buf buf = { 0 };
	json_error_t je;
	json_t *j;
	int r;
	if (cn_read_file_at(root_fd, path, STATE_MAX, &buf, err) < 0)
		return cn_err_wrap(err, "container %.12s", id);
	j = json_loadb((const char *)buf.data, buf.len, 0, &je);
	cn_buf_free(&buf);
	if (!j)
		return cn_err_fail(err, CN_ERR_INVALID, "container %.12s: %s: %s", id, STATE_FILE, je.text);
	r = from_json(j, s, err);
	json_decref(j);
	if (r < 0) {
		ctr_state_free(s);
		return cn_err_wrap(err, "container %.12s: %s", id, STATE_FILE);
	}
	/* The supervisor's record of the checks, beside the state. */
	if (s->healthcheck.test.n)
		ctr_health_load(root_fd, s);
	return 0;
}

static int save_at(int root_fd, const struct ctr_state *s, cn_err *err)
{
	_cleanup_close_ int dir = openat(root_fd, s->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	json_t *j;
	char *text;
	int r;
	if (dir < 0)
		return cn_err_sys(err, "container %.12s", s->id);
	j = to_json(s);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return cn_err_errno(err, ENOMEM, "container %.12s: encode state", s->id);
	/* Never write a state that ctr_load would refuse to read back. */
	r = store_json_fits("the container state", strlen(text), STATE_MAX, err);
	if (r == 0)
		r = cn_write_file_atomic(dir, STATE_FILE, text, strlen(text), 0600, err);
	free(text);
	return r;
}

int ctr_load(struct store *st, const char *id, struct ctr_state *s, cn_err *err)
{
	_cleanup_close_ int root = open_root(st, err);
	if (root < 0)
		return -1;
	if (!valid_id(id))
		return cn_err_fail(err, CN_ERR_INVALID, "bad container id '%s'", id);
	return load_at(root, id, s, err);
}

int ctr_save(struct store *st, const struct ctr_state *s, cn_err *err)
{
	_cleanup_close_ int root = open_root(st, err);
	if (root < 0)
		return -1;
	return save_at(root, s, err);
}

/* Directory names that are container ids (the rest: lock, leftovers). */
static int list_ids(int root_fd, cn_strv *ids, cn_err *err)
{
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return cn_err_sys(err, "read containers/");
	}
	while ((de = readdir(d)))
		if (valid_id(de->d_name))
			cn_strv_pushdup(ids, de->d_name);
	return 0;
}

static bool name_taken(int root_fd, const char *name)
{
	_cleanup_strv_ cn_strv ids = { 0 };
	cn_err ignored;
	bool taken = false;
	if (list_ids(root_fd, &ids, &ignored) < 0)
		return false;
	for (size_t i = 0; i < ids.n && !taken; i++) {
		struct ctr_state s;
		if (load_at(root_fd, ids.v[i], &s, &ignored) < 0)
			continue;
		taken = !strcmp(s.name, name);
		ctr_state_free(&s);
	}
	return taken;
}

int ctr_create(struct store *st, struct ctr_state *s, cn_err *err)
{
	_cleanup_close_ int root = open_root(st, err);
	_cleanup_close_ int lock = -1;
	unsigned char rnd[CTR_ID_LEN / 2];
	if (root < 0)
		return -1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return cn_err_sys(err, "getrandom");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	if (!s->name)
		s->name = cn_xstrndup(s->id, CTR_SHORT_ID_LEN);
	lock = lock_root(root, err);
	if (lock < 0)
		return -1;
	if (name_taken(root, s->name))
		return cn_err_fail(err, CN_ERR_CONFLICT,
				    "the container name \"%s\" is already in use; remove that container "
				    "('cairn rm %s') or choose another name", s->name, s->name);
	/* A volume removed after run made its directory, before this lock:
	 * made again (empty) so that the mount finds it. */
	for (size_t i = 0; i < s->volumes.n; i++) {
		_cleanup_free_ char *path = ctr_volume_path(st, s->volumes.v[i], err);
		if (!path)
			return -1;
	}
	if (mkdirat(root, s->id, 0700) < 0)
		return cn_err_sys(err, "create container %.12s", s->id);
	if (save_at(root, s, err) < 0) {
		cn_err ignored;
		cn_rm_rf_at(root, s->id, &ignored);
		return -1;
	}
	return 0;
}

static int by_created_desc(const void *a, const void *b)
{
	const struct ctr_state *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? 1 : -1;
	return strcmp(x->id, y->id);
}

int ctr_list(struct store *st, struct ctr_state **out, size_t *n, cn_err *err)
{
	_cleanup_close_ int root = open_root(st, err);
	_cleanup_strv_ cn_strv ids = { 0 };
	struct ctr_state *list;
	size_t k = 0;
	*out = NULL;
	*n = 0;
	if (root < 0 || list_ids(root, &ids, err) < 0)
		return -1;
	list = cn_xcalloc(ids.n + 1, sizeof(*list));
	for (size_t i = 0; i < ids.n; i++) {
		cn_err ignored;
		/* Removed meanwhile (a --rm container ended): not listed. */
		if (load_at(root, ids.v[i], &list[k], &ignored) == 0)
			k++;
	}
	qsort(list, k, sizeof(*list), by_created_desc);
	*out = list;
	*n = k;
	return 0;
}

void ctr_list_free(struct ctr_state *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctr_state_free(&list[i]);
	free(list);
}

int ctr_lookup(struct store *st, const char *what, struct ctr_state *s, cn_err *err)
{
	struct ctr_state *list;
	size_t n, hits = 0, hit = 0;
	if (ctr_list(st, &list, &n, err) < 0)
		return -1;
	/* As docker: a name or full id first, then an id prefix. */
	for (size_t i = 0; i < n && !hits; i++)
		if (!strcmp(list[i].name, what) || !strcmp(list[i].id, what)) {
			hits = 1;
			hit = i;
		}
	for (size_t i = 0; i < n && !hits; i++)
		if (*what && !strncmp(list[i].id, what, strlen(what))) {
			for (size_t j = i; j < n; j++)
				hits += !strncmp(list[j].id, what, strlen(what));
			hit = i;
		}
	if (hits > 1) {
		ctr_list_free(list, n);
		return cn_err_fail(err, CN_ERR_INVALID, "'%s' matches %zu containers; give more of the id", what, hits);
	}
	if (hits == 1) {
		*s = list[hit];
		memset(&list[hit], 0, sizeof(list[hit]));
	}
	ctr_list_free(list, n);
	return hits ? 1 : 0;
}

int ctr_lock(struct store *st, cn_err *err)
{
	_cleanup_close_ int root = open_root(st, err);
	return root < 0 ? -1 : lock_root(root, err);
}

int ctr_remove(struct store *st, const struct ctr_state *s, cn_err *err)
{
	_cleanup_close_ int root = open_root(st, err);
	_cleanup_close_ int lock = -1;
	if (root < 0)
		return -1;
	if (!valid_id(s->id))
		return cn_err_fail(err, CN_ERR_INVALID, "bad container id '%s'", s->id);
	lock = lock_root(root, err);
	if (lock < 0)
		return -1;
	if (cn_rm_rf_at(root, s->id, err) < 0)
		return cn_err_wrap(err, "remove container %.12s", s->id);
	return 0;
}

char *ctr_log_path(struct store *st, const struct ctr_state *s)
{
	return cn_xasprintf("%s/containers/%s/log", st->root, s->id);
}

int ctr_image_roots(struct store *st, cn_strv *out, cn_err *err)
{
	struct ctr_state *list;
	size_t n;
	if (ctr_list(st, &list, &n, err) < 0)
		return -1;
	/* Stale ones too: harmless, and `cairn rm` drops them. */
	for (size_t i = 0; i < n; i++)
		if (list[i].status != CTR_EXITED && cn_digest_valid(list[i].image_digest))
			cn_strv_pushdup(out, list[i].image_digest);
	ctr_list_free(list, n);
	return 0;
}
