/* config.json of an OCI runtime bundle, from the image config: what `runc
 * run` needs, with the defaults docker gives a container (its 14
 * capabilities, masked and read-only /proc paths, no new privileges). */
#include "archive/export_internal.h"
#include "sandbox/defaults.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/rootless.h"
#include "util/userdb.h"

#include <errno.h>
#include <string.h>

#define BUNDLE_OCI_VERSION "1.0.2"
#define BUNDLE_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static json_t *str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mount(const char *dest, const char *type, const char *source, const char *const *opts,
		     size_t nopts)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source,
			 "options", str_array(opts, nopts));
}

/* GID5: devpts' gid=5 (tty), which a user namespace without a gid range
 * cannot map. */
static json_t *mounts(bool gid5)
{
	static const char *const proc[] = { "nosuid", "noexec", "nodev" };
	static const char *const dev[] = { "nosuid", "strictatime", "mode=755", "size=65536k" };
	static const char *const pts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666",
					   "mode=0620", "gid=5" };
	static const char *const shm[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" };
	static const char *const mq[] = { "nosuid", "noexec", "nodev" };
	static const char *const sys[] = { "nosuid", "noexec", "nodev", "ro" };
	static const char *const cg[] = { "nosuid", "noexec", "nodev", "relatime", "ro" };
	return json_pack("[o, o, o, o, o, o, o]",
			 mount("/proc", "proc", "proc", proc, CN_ARRAY_SIZE(proc)),
			 mount("/dev", "tmpfs", "tmpfs", dev, CN_ARRAY_SIZE(dev)),
			 mount("/dev/pts", "devpts", "devpts", pts, CN_ARRAY_SIZE(pts) - !gid5),
			 mount("/dev/shm", "tmpfs", "shm", shm, CN_ARRAY_SIZE(shm)),
			 mount("/dev/mqueue", "mqueue", "mqueue", mq, CN_ARRAY_SIZE(mq)),
			 mount("/sys", "sysfs", "sysfs", sys, CN_ARRAY_SIZE(sys)),
			 mount("/sys/fs/cgroup", "cgroup", "cgroup", cg, CN_ARRAY_SIZE(cg)));
}

/* GROUPS: the user's supplementary groups, which runc refuses to set in a
 * rootless container ("cannot set any additional groups"). */
static json_t *process(const struct cn_user *u, json_t *args, json_t *env,
		       const char *cwd, bool groups)
{
	json_t *caps = json_array(), *gids = json_array();
	for (size_t i = 0; i < sb_default_ncaps; i++)
		json_array_append_new(caps, json_string(sb_default_caps[i].name));
	for (size_t i = 0; groups && i < u->ngroups; i++)
		json_array_append_new(gids, json_integer(u->groups[i]));
	return json_pack("{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:{s:O, s:O, s:o}, "
			 "s:[{s:s, s:i, s:i}], s:b}",
			 "terminal", 0,
			 "user", "uid", (json_int_t)u->uid, "gid", (json_int_t)u->gid,
			 "additionalGids", gids,
			 "args", args, "env", env, "cwd", cwd,
			 "capabilities", "bounding", caps, "effective", caps, "permitted", caps,
			 "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024,
			 "noNewPrivileges", 1);
}

/* Append the strings of the image config's array FIELD to OUT. */
static int push_strings(json_t *cfg, const char *field, cn_strv *out, cn_err *err)
{
	json_t *a = json_object_get(cfg, field), *v;
	size_t i;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return cn_err_fail(err, CN_ERR_INVALID, "image config: %s is not an array", field);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return cn_err_fail(err, CN_ERR_INVALID, "image config: %s[%zu] is not a string", field, i);
		cn_strv_pushdup(out, json_string_value(v));
	}
	return 0;
}

/* An Env entry must be NAME=VALUE: LXC reads a bare NAME in
 * lxc.environment as "copy NAME from the caller's environment" (a hostile
 * image could read the user's), runc refuses one, and the VM launcher's
 * `export NAME` would keep whatever the kernel passed. */
static int check_env(const cn_strv *env, cn_err *err)
{
	for (size_t i = 0; i < env->n; i++) {
		const char *eq = strchr(env->v[i], '=');
		if (!eq || eq == env->v[i])
			return cn_err_fail(err, CN_ERR_INVALID, "image config: Env[%zu] '%s' is not NAME=VALUE%s",
					   i, env->v[i], eq ? " (empty name)" : "");
	}
	return 0;
}

int arc_image_process(const struct store_image *img, struct arc_process *p, cn_err *err)
{
	json_t *cfg = json_object_get(img->config, "config");
	const char *user = json_string_value(json_object_get(cfg, "User"));
	const char *cwd = json_string_value(json_object_get(cfg, "WorkingDir"));
	*p = (struct arc_process){ .user = user ? user : "", .cwd = cwd && *cwd ? cwd : "/" };
	if (push_strings(cfg, "Entrypoint", &p->args, err) < 0 || push_strings(cfg, "Cmd", &p->args, err) < 0 ||
	    push_strings(cfg, "Env", &p->env, err) < 0 || check_env(&p->env, err) < 0)
		goto fail;
	if (!cn_env_get(&p->env, "PATH"))
		cn_strv_pushdup(&p->env, BUNDLE_DEFAULT_PATH);
	if (p->cwd[0] != '/') {
		cn_err_fail(err, CN_ERR_INVALID, "image config: WorkingDir '%s' is not absolute", p->cwd);
		goto fail;
	}
	return 0;
fail:
	arc_process_free(p);
	return -1;
}

void arc_process_free(struct arc_process *p)
{
	cn_strv_free(&p->args);
	cn_strv_free(&p->env);
}

/* An ID mapping of the runtime spec: container ids 0 = the user's own
 * id, 1..COUNT = its subordinate range, as cairn's own namespace maps
 * them (sandbox/rootless.c), so the rootfs' files, which that namespace
 * wrote, have their image owners in the container. */
static json_t *idmap(unsigned long own, unsigned long start, unsigned long count)
{
	json_t *m = json_pack("[{s:I, s:I, s:I}]", "containerID", (json_int_t)0, "hostID",
			      (json_int_t)own, "size", (json_int_t)1);
	if (m && count)
		json_array_append_new(m, json_pack("{s:I, s:I, s:I}", "containerID", (json_int_t)1,
						   "hostID", (json_int_t)start, "size",
						   (json_int_t)count));
	return m;
}

/* Rootless, the bundle is run by the same user (runc run rootless): it
 * gets a user namespace with cairn's mapping. */
static void add_userns(json_t *linux_, const struct cn_rootless *r)
{
	json_array_append_new(json_object_get(linux_, "namespaces"), json_pack("{s:s}", "type", "user"));
	json_object_set_new(linux_, "uidMappings", idmap(r->uid, r->uid_start, r->uid_count));
	json_object_set_new(linux_, "gidMappings", idmap(r->gid, r->gid_start, r->gid_count));
}

json_t *arc_bundle_config(const struct store_image *img, int rootfs_fd, const char *hostname,
			  cn_err *err)
{
	struct arc_process p;
	json_t *args, *env, *proc, *out;
	const struct cn_rootless *rl = cn_rootless();
	struct cn_user u;

	if (arc_image_process(img, &p, err) < 0)
		return NULL;
	if (p.args.n == 0) {
		cn_err_fail(err, CN_ERR_INVALID, "image has no Entrypoint or Cmd: a bundle needs a command");
		goto fail;
	}
	if (cn_user_resolve(rootfs_fd, *p.user ? p.user : "0", &u, err) < 0) {
		cn_err_wrap(err, "image config: User");
		goto fail;
	}
	args = str_array((const char *const *)p.args.v, p.args.n);
	env = str_array((const char *const *)p.env.v, p.env.n);
	proc = process(&u, args, env, p.cwd, !rl);
	out = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:{s:[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}], "
			"s:o, s:o}}",
			"ociVersion", BUNDLE_OCI_VERSION, "process", proc,
			"root", "path", "rootfs", "readonly", 0,
			"hostname", hostname, "mounts", mounts(!rl || rl->gid_count),
			"linux", "namespaces", "type", "pid", "type", "network", "type", "ipc",
			"type", "uts", "type", "mount",
			"maskedPaths", str_array(sb_masked_paths, sb_nmasked_paths),
			"readonlyPaths", str_array(sb_readonly_paths, sb_nreadonly_paths));
	if (!out)
		cn_err_errno(err, ENOMEM, "config.json: cannot build");
	else if (rl)
		add_userns(json_object_get(out, "linux"), rl);
	arc_process_free(&p);
	return out;
fail:
	arc_process_free(&p);
	return NULL;
}
