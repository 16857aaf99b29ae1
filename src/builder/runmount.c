/* RUN and its --mount options: cache, bind, secret and tmpfs mounts
 * turned into typed sandbox mounts. */
#include "builder/build_internal.h"
#include "builder/glob.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What a RUN step's container calls itself (docker's builder says
 * "buildkitsandbox"). */
#define RUN_HOSTNAME "cairn"

/* RUN --mount: the options as BuildKit spells them, each checked against a
 * list (no option string reaches a mount call: CVE-2024-9407's lesson). */
struct run_mounts {
	struct sb_mount m[16];
	char *strings[64];
	size_t n, nstrings;
	int locks[16];          /* sharing=locked: flocked cache dirs */
	size_t nlocks;
};

static const char *keep(struct run_mounts *rm, char *s)
{
	if (rm->nstrings < CN_ARRAY_SIZE(rm->strings))
		rm->strings[rm->nstrings++] = s;
	return s;
}

static void run_mounts_free(struct run_mounts *rm)
{
	for (size_t i = 0; i < rm->nstrings; i++)
		free(rm->strings[i]);
	for (size_t i = 0; i < rm->nlocks; i++)
		close(rm->locks[i]);
	memset(rm, 0, sizeof(*rm));
}

/* A cache mount's directory: the store's mounts/<sha256(id)>, so an id can
 * never name a path (CVE-2024-9675); made with MODE and UID:GID. */
static int cache_dir(struct build *b, const char *id, mode_t mode, uid_t uid, gid_t gid,
		     struct run_mounts *rm, const char **path, cn_err *err)
{
	char *p;
	if (store_cache_mount_path(b->st, id, &p, err) < 0)
		return -1;
	*path = keep(rm, p);
	if (mkdir(*path, mode) == 0 && (chown(*path, uid, gid) < 0 || chmod(*path, mode) < 0))
		return cn_err_sys(err, "prepare cache mount '%s'", id);
	return 0;
}

/* sharing=locked: the cache dir flocked until the step is done. */
static int lock_cache_dir(struct run_mounts *rm, const char *path, const char *id, cn_err *err)
{
	_cleanup_close_ int dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0 || flock(dir, LOCK_EX) < 0 || rm->nlocks == CN_ARRAY_SIZE(rm->locks))
		return cn_err_sys(err, "lock cache mount '%s'", id);
	rm->locks[rm->nlocks++] = CN_TAKE_FD(dir);
	return 0;
}

void bd_mount_spec_free(struct mount_spec *ms)
{
	cn_strv_free(&ms->owned);
	memset(ms, 0, sizeof(*ms));
}

static int bool_option(const char *kv, const char *v, bool *out, cn_err *err)
{
	if (!strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "false"))
		*out = false;
	else
		return cn_err_fail(err, CN_ERR_INVALID, "--mount: %s=%s: expected true or false", kv, v);
	return 0;
}

/* Option names for messages, as bf_mount_parse's slots. */
static const char *const opt_names[BF_MOUNT_NOPTS] = {
	[BF_MOUNT_TYPE] = "type", [BF_MOUNT_TARGET] = "target", [BF_MOUNT_SOURCE] = "source",
	[BF_MOUNT_FROM] = "from", [BF_MOUNT_ID] = "id", [BF_MOUNT_SHARING] = "sharing",
	[BF_MOUNT_SIZE] = "size", [BF_MOUNT_MODE] = "mode", [BF_MOUNT_UID] = "uid",
	[BF_MOUNT_GID] = "gid", [BF_MOUNT_REQUIRED] = "required", [BF_MOUNT_RW] = "rw",
};

/* M's values expanded with the step's ARGs and ENV as BuildKit does (not
 * from=: an alias stage does that), converted and checked: what every use
 * of the mount in this step (its cache key, the run, the re-check after)
 * reads. */
static int mount_resolve(struct build *b, const cn_strv *env, const struct bf_mount *m,
			 struct mount_spec *ms, cn_err *err)
{
	const char *v[BF_MOUNT_NOPTS];
	bool val = false;
	memset(ms, 0, sizeof(*ms));
	for (size_t i = 0; i < BF_MOUNT_NOPTS; i++) {
		char *x;
		v[i] = m->opt[i];
		if (!v[i] || i == BF_MOUNT_FROM)
			continue;
		if (bd_expand(b, env, v[i], &x, err) < 0)
			return cn_err_wrap(err, "--mount: %s", opt_names[i]);
		cn_strv_push(&ms->owned, x);
		v[i] = x;
	}
	ms->type = v[BF_MOUNT_TYPE] ? v[BF_MOUNT_TYPE] : "bind";
	ms->target = v[BF_MOUNT_TARGET];
	ms->source = v[BF_MOUNT_SOURCE];
	ms->from = v[BF_MOUNT_FROM];
	ms->id = v[BF_MOUNT_ID];
	ms->sharing = v[BF_MOUNT_SHARING] ? v[BF_MOUNT_SHARING] : "shared";
	ms->size = v[BF_MOUNT_SIZE];
	ms->mode = 0755;
	if (v[BF_MOUNT_REQUIRED] && bool_option("required", v[BF_MOUNT_REQUIRED], &ms->required, err) < 0)
		return -1;
	if (v[BF_MOUNT_RW]) {
		if (bool_option(m->rw_inverted ? "ro" : "rw", v[BF_MOUNT_RW], &val, err) < 0)
			return -1;
		ms->rw = m->rw_inverted ? !val : val;
	}
	for (size_t i = BF_MOUNT_MODE; i <= BF_MOUNT_GID; i++) {
		char *end;
		unsigned long n;
		if (!v[i])
			continue;
		n = strtoul(v[i], &end, i == BF_MOUNT_MODE ? 8 : 10);
		if (*end || end == v[i])
			return cn_err_fail(err, CN_ERR_INVALID, "--mount: %s=%s is not a number", opt_names[i], v[i]);
		*(i == BF_MOUNT_MODE ? &ms->mode : i == BF_MOUNT_UID ? &ms->uid : &ms->gid) = n;
	}
	if (!strcmp(ms->type, "ssh"))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount=type=ssh is not supported: cairn cannot forward "
				    "an SSH agent (use a --secret for a key, or fetch before the build)");
	if (!strcmp(ms->type, "bind"))
		ms->kind = BD_MOUNT_BIND;
	else if (!strcmp(ms->type, "cache"))
		ms->kind = BD_MOUNT_CACHE;
	else if (!strcmp(ms->type, "tmpfs"))
		ms->kind = BD_MOUNT_TMPFS;
	else if (!strcmp(ms->type, "secret"))
		ms->kind = BD_MOUNT_SECRET;
	else
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount=type=%s is not supported yet", ms->type);
	if (ms->kind == BD_MOUNT_SECRET && ms->from)
		return cn_err_fail(err, CN_ERR_INVALID, "--mount=type=secret: a secret mount has no from=");
	if ((ms->source || ms->from) && ms->kind == BD_MOUNT_TMPFS)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount=type=%s: source= and from= are not supported yet "
				    "(only with type=bind or cache)", ms->type);
	if (ms->source && !ms->from && ms->kind == BD_MOUNT_CACHE)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount=type=cache: source= without from= is not "
				    "supported yet");
	if (ms->from && !*ms->from)
		return cn_err_fail(err, CN_ERR_INVALID, "--mount: from= needs a stage or an image");
	return 0;
}

int bd_step_mounts(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	if (b->mounts_of == in)
		return 0;
	bd_step_mounts_free(b);
	if (!in->nmounts)
		return 0;
	bd_visible_env(b, &env);
	b->mounts = cn_xcalloc(in->nmounts, sizeof(*b->mounts));
	for (size_t i = 0; i < in->nmounts; i++) {
		if (mount_resolve(b, &env, &in->mounts[i], &b->mounts[i], err) < 0) {
			b->nmounts = i + 1;
			bd_step_mounts_free(b);
			return -1;
		}
	}
	b->nmounts = in->nmounts;
	b->mounts_of = in;
	return 0;
}

void bd_step_mounts_free(struct build *b)
{
	for (size_t i = 0; i < b->nmounts; i++)
		bd_mount_spec_free(&b->mounts[i]);
	free(b->mounts);
	b->mounts = NULL;
	b->nmounts = 0;
	b->mounts_of = NULL;
}

/* The bind source as a COPY source: "/" and "" are the root, and
 * wildcard characters are literal. */
char *bd_bind_source(const struct mount_spec *ms)
{
	const char *src = ms->source ? ms->source : "/";
	src += strspn(src, "/");
	return *src ? bf_glob_escape(src) : cn_xstrdup(".");
}

struct bind_job {
	struct bf_copy_opts opts;
};

static int bind_copy_in(int unused_root, int src_fd, void *arg, cn_err *err)
{
	struct bind_job *job = arg;
	(void)unused_root;
	job->opts.ctx_fd = src_fd;
	job->opts.src_is_root = true;
	return bf_copy(&job->opts, err);
}

/* RUN --mount=type=bind: a private copy of the source (the build context,
 * with the ignore file applied, or a stage's or image's root) in the step
 * dir, so that the step sees exactly what its cache key hashed, can never
 * reach past the source, and (rw) writes into something thrown away. */
static int bind_prepare(struct build *b, const struct mount_spec *ms, struct ctr_rootfs *s, size_t idx,
			char **path, cn_err *err)
{
	_cleanup_free_ char *src = bd_bind_source(ms), *sub = cn_xasprintf("bind-%zu", idx);
	_cleanup_close_ int dir = -1;
	const char *one[1] = { src };
	struct bind_job job = { .opts = { .srcs = one, .nsrcs = 1, .dest = "/content", .workdir = "/" } };
	int r;
	if (mkdirat(s->td.fd, sub, 0755) < 0 ||
	    (dir = openat(s->td.fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cn_err_sys(err, "create '%s/%s'", s->td.path, sub);
	job.opts.root_fd = dir;
	if (!ms->from) {
		job.opts.ctx_fd = b->ctx_fd;
		job.opts.ignore = b->ignore;
		r = bf_copy(&job.opts, err);
	} else {
		struct store_image img;
		const struct store_layer *layers;
		size_t n;
		char state[CN_DIGEST_STR_SIZE];
		_cleanup_strv_ cn_strv lowers = { 0 };
		_cleanup_free_ char *merged = cn_xasprintf("%s/src", s->td.path);
		struct sb_rootfs from;
		r = bd_stage_or_image(b, ms->from, &img, &layers, &n, state, err);
		if (r == 0 && n == 0)
			r = cn_err_fail(err, CN_ERR_INVALID, "from=%s: the source has no files", ms->from);
		if (r == 0)
			r = ctr_rootfs_lowers(b->st, layers, n, &lowers, err);
		if (r == 0) {
			from = (struct sb_rootfs){ .lowers = (const char *const *)lowers.v, .nlowers = lowers.n,
						   .merged = merged, .empty = s->empty };
			r = sb_with_rootfs(&s->sb, &from, bind_copy_in, &job, err);
		}
		store_image_free(&img);
	}
	if (r < 0) {
		return cn_err_wrap(err, "--mount=type=%s,source=%s", ms->type, ms->source ? ms->source : "/");
	}
	*path = cn_xasprintf("%s/%s/content", s->td.path, sub);
	return 0;
}

/* --mount=type=secret: the file to bind, from --secret id=ID,src=FILE,
 * or (env=VAR) VAR's value written to a private file in the step dir, mode
 * 0400 in the store's 0700 tree, unlinked once the step ran (bd_do_run).
 * *PATH NULL: the secret was not given. */
static int secret_file(struct build *b, const char *id, struct ctr_rootfs *s, size_t idx,
		       struct run_mounts *rm, const char **path, cn_err *err)
{
	const char *var = cn_env_get(&b->o->secret_envs, id);
	const char *src = cn_env_get(&b->o->secrets, id);
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	const char *value;
	*path = NULL;
	if (src && !*src)
		src = NULL;
	if (var && !*var)
		var = NULL;
	if (!var) {
		if (src && stat(src, &st) == 0 && S_ISREG(st.st_mode))
			*path = keep(rm, cn_xstrdup(src));
		else if (src)
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "secret '%s': '%s' is not a regular file", id, src);
		return 0;
	}
	value = getenv(var);
	if (!value)
		return 0;
	name = cn_xasprintf("secret-%zu", idx);
	fd = openat(s->td.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0 || cn_write_all(fd, value, strlen(value)) < 0)
		return cn_err_sys(err, "secret '%s': write its file in '%s'", id, s->td.path);
	*path = keep(rm, cn_xasprintf("%s/%s", s->td.path, name));
	return 0;
}

/* A cache mount with from=: its first use starts from a copy of the
 * stage's or image's SOURCE (made in the step dir, then renamed into
 * mounts/, so a concurrent build sees it whole or not at all); later uses
 * find it there. Keyed by id, source and the from state, as BuildKit keys
 * such a cache by id and base. */
static int cache_from_dir(struct build *b, const struct mount_spec *ms, struct ctr_rootfs *s, size_t idx,
			  const char *target, struct run_mounts *rm, const char **path, cn_err *err)
{
	struct store_image img;
	const struct store_layer *layers;
	size_t n;
	char state[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *key = NULL, *tmp = NULL;
	char *p;
	struct stat st;
	int r = bd_stage_or_image(b, ms->from, &img, &layers, &n, state, err);
	store_image_free(&img);
	if (r < 0)
		return -1;
	key = cn_xasprintf("%s\n%s\n%s", ms->id ? ms->id : target, state, ms->source ? ms->source : "/");
	if (store_cache_mount_path(b->st, key, &p, err) < 0)
		return -1;
	*path = keep(rm, p);
	if (lstat(*path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (bind_prepare(b, ms, s, idx, &tmp, err) < 0)
		return -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, *path, RENAME_NOREPLACE) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create cache mount '%s'", ms->id ? ms->id : target);
	return 0;
}

/* One resolved --mount as a typed sandbox mount in RM (none for an
 * optional secret that was not given). */
static int add_mount(struct build *b, const struct mount_spec *msp, struct run_mounts *rm,
		     struct ctr_rootfs *s, cn_err *err)
{
	const struct mount_spec ms = *msp;
	const char *wd = bf_config_string(b->cur->cfg, "WorkingDir");
	struct sb_mount *m;
	const char *target = NULL;
	int r = -1;
	if (rm->n == CN_ARRAY_SIZE(rm->m))
		return cn_err_fail(err, CN_ERR_TOO_BIG, "too many --mount flags");
	m = &rm->m[rm->n];
	memset(m, 0, sizeof(*m));
	/* A relative target is under the WORKDIR, as BuildKit joins it. */
	if (ms.target && *ms.target)
		target = keep(rm, bd_abs_path(wd, ms.target));
	if (ms.kind == BD_MOUNT_SECRET) {
		/* BuildKit: the id is id=, else source=, else the target's base name. */
		const char *id = ms.id && *ms.id ? ms.id : ms.source && *ms.source ? ms.source :
			target && strcmp(target, "/") ? strrchr(target, '/') + 1 : NULL;
		const char *src;
		if (!id) {
			r = cn_err_fail(err, CN_ERR_INVALID, "--mount=type=secret needs an id");
			goto out;
		}
		if (secret_file(b, id, s, rm->n, rm, &src, err) < 0)
			goto out;
		if (!src) {
			if (ms.required)
				r = cn_err_fail(err, CN_ERR_NOT_FOUND, "secret '%s' was not given (cairn build --secret "
						 "id=%s,src=FILE or id=%s,env=VAR)", id, id, id);
			else
				r = 0;   /* an optional secret that is absent: no mount */
			goto out;
		}
		m->kind = SB_MOUNT_BIND_FILE_RO;
		m->source = src;
		m->target = target ? target : keep(rm, cn_xasprintf("/run/secrets/%s", id));
	} else if (!target) {
		r = cn_err_fail(err, CN_ERR_INVALID, "--mount=type=%s needs a target", ms.type);
		goto out;
	} else if (ms.kind == BD_MOUNT_CACHE) {
		if (strcmp(ms.sharing, "shared") && strcmp(ms.sharing, "locked")) {
			r = cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount: sharing=%s is not supported yet", ms.sharing);
			goto out;
		}
		m->kind = SB_MOUNT_BIND;
		m->target = target;
		if (ms.from && cache_from_dir(b, &ms, s, rm->n, target, rm, &m->source, err) < 0)
			goto out;
		/* The id defaults to the target as written (the cache of an
		 * absolute target keeps its id); a relative one, joined. */
		if (!ms.from && cache_dir(b, ms.id ? ms.id : ms.target[0] == '/' ? ms.target : target,
					  (mode_t)ms.mode & 07777, (uid_t)ms.uid, (gid_t)ms.gid, rm, &m->source,
					  err) < 0)
			goto out;
		if (!strcmp(ms.sharing, "locked") && lock_cache_dir(rm, m->source, ms.id ? ms.id : target, err) < 0)
			goto out;
	} else if (ms.kind == BD_MOUNT_TMPFS) {
		char *end;
		m->kind = SB_MOUNT_TMPFS;
		m->target = target;
		m->size = ms.size ? strtoull(ms.size, &end, 10) : 0;
		if (ms.size && (*end || end == ms.size)) {
			r = cn_err_fail(err, CN_ERR_INVALID, "--mount: size=%s is not a number of bytes", ms.size);
			goto out;
		}
	} else {
		char *path = NULL;
		if (!strcmp(target, "/")) {
			r = cn_err_fail(err, CN_ERR_INVALID, "--mount=type=bind: the target cannot be /");
			goto out;
		}
		if (bind_prepare(b, &ms, s, rm->n, &path, err) < 0)
			goto out;
		m->kind = SB_MOUNT_BIND;
		m->readonly = !ms.rw;
		m->source = keep(rm, path);
		m->target = target;
	}
	rm->n++;
	r = 0;
out:
	return r;
}

int bd_do_run(struct build *b, const struct bf_instr *in, cn_err *err)
{
	_cleanup_strv_ cn_strv argv = { 0 };
	_cleanup_strv_ cn_strv env = { 0 };
	struct ctr_rootfs s;
	const char *wd = bf_config_string(b->cur->cfg, "WorkingDir");
	const char *user = bf_config_string(b->cur->cfg, "User");
	struct sb_exit ex = { 0 };
	char cgroup_id[64];
	int r = 0;
	struct sb_process proc;
	struct run_mounts rm;

	if (in->network == BF_NET_HOST && b->o->network != SB_NET_HOST)
		return cn_err_fail(err, CN_ERR_DENIED, "--network=host needs 'cairn build --network host'");
	if (bd_step_network(b, in) == SB_NET_DEFAULT && b->o->network_prepare &&
	    b->o->network_prepare(b->o->network_ctx, err) < 0)
		return -1;
	/* With its own hosts file: the step's hostname resolves, the host's
	 * names do not leak in. */
	if (bd_step_rootfs(b, RUN_HOSTNAME, &s, err) < 0)
		return -1;
	if (b->o->add_hosts && ctr_rootfs_add_hosts(&s, b->o->add_hosts, err) < 0) {
		ctr_rootfs_free(b->st, &s);
		return -1;
	}
	memset(&rm, 0, sizeof(rm));
	r = bd_step_mounts(b, in, err);
	for (size_t i = 0; r == 0 && i < b->nmounts; i++)
		r = add_mount(b, &b->mounts[i], &rm, &s, err);
	bd_shell_argv(b, in, &argv);
	bd_visible_env(b, &env);
	proc = (struct sb_process){
		.mounts = rm.m,
		.nmounts = rm.n,
		.argv = cn_strv_array(&argv),
		.env = cn_strv_array(&env),
		.cwd = wd && *wd ? wd : "/",
		.user = user && *user ? user : NULL,
		.hostname = RUN_HOSTNAME,
		.hosts_file = s.hosts,
		.out_fd = b->o->out_fd,
		.err_fd = b->o->err_fd,
		.network = bd_step_network(b, in),
		.limits = b->o->limits,
		.cgroup_id = cgroup_id,
		.rlimits = b->o->rlimits,
		.nrlimits = b->o->nrlimits,
		.shm_size = b->o->shm_size,
	};
	/* The step dir's name is unique in the store, the pid among stores. */
	snprintf(cgroup_id, sizeof(cgroup_id), "%d-%s", (int)getpid(), s.td.name);
	if (r == 0)
		r = sb_run(&s.sb, &proc, &ex, err);
	/* env= secrets: their files go as soon as the step is done. */
	for (size_t i = 0; i < rm.n; i++) {
		_cleanup_free_ char *name = cn_xasprintf("secret-%zu", i);
		if (unlinkat(s.td.fd, name, 0) < 0 && errno != ENOENT && r == 0)
			r = cn_err_sys(err, "remove the secret file '%s/%s'", s.td.path, name);
	}
	run_mounts_free(&rm);   /* unlocks locked cache mounts */
	if (r == 0 && ex.oom_killed)
		r = cn_err_fail(err, CN_ERR_FAILED, "out of memory: a process was killed at the --memory limit (exit status %d)",
			       ex.status);
	else if (r == 0 && ex.status != 0)
		r = cn_err_fail(err, CN_ERR_FAILED, "exit status %d", ex.status);
	if (r == 0)
		r = bd_commit_step(b, &s, in->node->original, err);
	ctr_rootfs_free(b->st, &s);
	return r;
}
