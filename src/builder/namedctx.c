/* --build-context: named contexts (builder/namedctx.h). The values stay in
 * the build options as NAME=VALUE; a directory is opened per step that
 * reads it (stages may run in worker processes), never kept open. */
#include "builder/namedctx.h"
#include "builder/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int bf_named_ctx_check(const char *arg, cn_err *err)
{
	static const char *const unsupported[] = { "https://", "http://", "git@", "git://", "ssh://",
						   "oci-layout://", "target:", "input:" };
	const char *eq = strchr(arg, '=');
	struct stat sb;
	if (!eq || eq == arg || !eq[1])
		return cn_err_fail(err, CN_ERR_INVALID, "--build-context: \"%s\" is not NAME=DIR or "
				  "NAME=docker-image://REF", arg);
	const char *v = eq + 1;
	if (!strncmp(v, BF_NAMED_IMAGE_PREFIX, strlen(BF_NAMED_IMAGE_PREFIX)))
		return v[strlen(BF_NAMED_IMAGE_PREFIX)] ? 0 :
			cn_err_fail(err, CN_ERR_INVALID, "--build-context %.*s: docker-image:// names no image",
				    (int)(eq - arg), arg);
	for (size_t i = 0; i < CN_ARRAY_SIZE(unsupported); i++)
		if (!strncmp(v, unsupported[i], strlen(unsupported[i])))
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--build-context %.*s: %s... sources are not "
					  "supported (a directory or docker-image://REF)", (int)(eq - arg), arg,
					  unsupported[i]);
	if (stat(v, &sb) < 0)
		return cn_err_sys(err, "--build-context %.*s: '%s'", (int)(eq - arg), arg, v);
	if (!S_ISDIR(sb.st_mode))
		return cn_err_fail(err, CN_ERR_INVALID, "--build-context %.*s: '%s' is not a directory",
				  (int)(eq - arg), arg, v);
	return 0;
}

const char *bd_named_ctx(const struct build *b, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);
	/* Case-insensitive, as stage names are. */
	for (size_t i = 0; n && i < b->o->contexts.n; i++) {
		const char *kv = b->o->contexts.v[i];
		if (!strncasecmp(kv, name, n) && kv[n] == '=')
			found = kv + n + 1;
	}
	return found;
}

const char *bd_named_image(const struct build *b, const char *name)
{
	const char *v = bd_named_ctx(b, name);
	size_t n = strlen(BF_NAMED_IMAGE_PREFIX);
	return v && !strncmp(v, BF_NAMED_IMAGE_PREFIX, n) ? v + n : NULL;
}

int bd_named_dir_open(struct build *b, const struct bf_instr *in, struct bd_named_dir *d, cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *from = NULL;
	const char *dir;
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (!in->from || !b->o->contexts.n)
		return 0;
	bd_visible_env(b, &env);
	if (bd_expand(b, &env, in->from, &from, err) < 0)
		return -1;
	dir = bd_named_ctx(b, from);
	if (!dir || bd_named_image(b, from))
		return 0;
	return bd_named_dir_open_name(from, dir, d, err);
}

int bd_named_dir_open_name(const char *name, const char *dir, struct bd_named_dir *d, cn_err *err)
{
	memset(d, 0, sizeof(*d));
	d->name = cn_xstrdup(name);
	d->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d->path = d->fd >= 0 ? realpath(dir, NULL) : NULL;
	if (!d->path) {
		cn_err_sys(err, "--build-context %s: '%s'", d->name, dir);
		bd_named_dir_close(d);
		return -1;
	}
	/* Its own ignore file, as BuildKit: not the Buildfile's (a path that
	 * cannot exist stands for "no Buildfile beside it"). */
	if (bf_ignore_load("/dev/null/no-buildfile", d->fd, dir, &d->ignore, err) < 0) {
		cn_err_wrap(err, "--build-context %s", d->name);
		bd_named_dir_close(d);
		return -1;
	}
	return 1;
}

int bd_named_dir_digest(struct build *b, const struct bf_instr *in, const struct bd_named_dir *d,
			char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 }, srcs = { 0 };
	__attribute__((cleanup(bd_ignore_freep))) struct bf_ignore *exclude = NULL;
	char fp[CN_DIGEST_STR_SIZE];
	struct bf_copy_opts co = { .ctx_fd = d->fd, .root_fd = -1, .ignore = d->ignore, .parents = in->parents };
	bd_visible_env(b, &env);
	if (bd_expand_sources(b, in, &env, &srcs, err) < 0 || bd_exclude_matcher(b, in, &env, &exclude, err) < 0)
		return -1;
	co.exclude = exclude;
	co.srcs = (const char *const *)cn_strv_array(&srcs);
	co.nsrcs = srcs.n;
	if (bf_copy_digest(&co, d->path, b->sc, digest, fp, err) < 0)
		return cn_err_wrap(err, "--build-context %s", d->name);
	return 0;
}

void bd_named_dir_close(struct bd_named_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d->name);
	bf_ignore_free(d->ignore);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}
