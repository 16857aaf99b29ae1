/* build --output: docker buildx's exporters over cairn's export and save.
 * local is `export --format rootfs` (or written over a directory that
 * already has files, as buildx does), tar is rootfs-tar, oci and docker are
 * the one save archive (both formats at once) named by name= or -t. */
#include "cli/build_output.h"
#include "archive/imgarchive.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name;
	enum cli_output_type type;
} out_types[] = {
	{ "local", CLI_OUT_LOCAL },
	{ "tar", CLI_OUT_TAR },
	{ "oci", CLI_OUT_OCI },
	{ "docker", CLI_OUT_DOCKER },
};

static int parse_type(const char *s, enum cli_output_type *out, cn_err *err)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(out_types); i++) {
		if (!strcmp(s, out_types[i].name)) {
			*out = out_types[i].type;
			return 0;
		}
	}
	return cn_err_fail(err, CN_ERR_INVALID, "--output: unknown type \"%s\" (local, tar, oci or docker)", s);
}

int cli_build_output_parse(struct cli_build_output *o, const char *arg, cn_err *err)
{
	_cleanup_free_ char *copy = NULL, *name = NULL;
	char *save = NULL;
	bool has_type = false;
	if (o->type != CLI_OUT_NONE)
		return cn_err_fail(err, CN_ERR_INVALID, "--output: only one output is supported");
	/* buildx: a value that is not KEY=VALUE is a directory, "-" stdout. */
	if (!strchr(arg, '=')) {
		if (!*arg)
			return cn_err_fail(err, CN_ERR_INVALID, "--output: empty value");
		o->type = strcmp(arg, "-") ? CLI_OUT_LOCAL : CLI_OUT_TAR;
		o->dest = cn_xstrdup(arg);
		return 0;
	}
	copy = cn_xstrdup(arg);
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return cn_err_fail(err, CN_ERR_INVALID, "--output: \"%s\" is not KEY=VALUE", kv);
		*eq = '\0';
		if (!strcmp(kv, "type")) {
			if (parse_type(eq + 1, &o->type, err) < 0)
				return -1;
			has_type = true;
		} else if (!strcmp(kv, "dest")) {
			free(o->dest);
			o->dest = cn_xstrdup(eq + 1);
		} else if (!strcmp(kv, "name")) {
			free(name);
			name = cn_xstrdup(eq + 1);
		} else {
			return cn_err_fail(err, CN_ERR_INVALID, "--output: unknown key \"%s\" (type, dest, name)", kv);
		}
	}
	if (!has_type)
		return cn_err_fail(err, CN_ERR_INVALID, "--output: type= is missing (local, tar, oci or docker)");
	if (o->dest && !*o->dest)
		return cn_err_fail(err, CN_ERR_INVALID, "--output: an empty dest=");
	if (o->type == CLI_OUT_LOCAL && (!o->dest || !strcmp(o->dest, "-")))
		return cn_err_fail(err, CN_ERR_INVALID, "--output: type=local needs dest=DIR");
	if (!o->dest)   /* buildx: the archive types go to stdout */
		o->dest = cn_xstrdup("-");
	if (name) {
		if (o->type != CLI_OUT_OCI && o->type != CLI_OUT_DOCKER)
			return cn_err_fail(err, CN_ERR_INVALID, "--output: name= names an oci or docker archive");
		o->name = store_ref_normalize(name, err);
		if (!o->name)
			return cn_err_wrap(err, "--output: name=%s", name);
	}
	return 0;
}

int cli_build_output_prepare(struct cli_build_output *o, cn_err *err)
{
	o->stdout_fd = -1;
	if (o->type == CLI_OUT_NONE || strcmp(o->dest, "-"))
		return 0;
	if (isatty(STDOUT_FILENO))
		return cn_err_fail(err, CN_ERR_INVALID, "--output: refusing to write an archive to a terminal "
				  "(use dest=FILE or a pipe)");
	fflush(stdout);
	o->stdout_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (o->stdout_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		return cn_err_sys(err, "--output: set stdout aside");
	return 0;
}

/* A directory with entries: buildx writes over it. */
static bool has_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return true;
	return false;
}

int cli_build_output_write(struct cli_build_output *o, struct store *st, const char *manifest,
			   const cn_strv *tags, cn_err *err)
{
	_cleanup_strv_ cn_strv names = { 0 };
	enum arc_format fmt;
	struct stat sb;
	int r;
	switch (o->type) {
	case CLI_OUT_NONE:
		return 0;
	case CLI_OUT_LOCAL:
		fmt = lstat(o->dest, &sb) == 0 && S_ISDIR(sb.st_mode) && has_entries(o->dest) ? ARC_ROOTFS_OVER
											       : ARC_ROOTFS;
		break;
	case CLI_OUT_TAR:
		fmt = ARC_ROOTFS_TAR;
		break;
	case CLI_OUT_OCI:
		fmt = ARC_OCI_ARCHIVE;
		break;
	default:
		fmt = ARC_DOCKER_ARCHIVE;
		break;
	}
	if (o->name)
		cn_strv_pushdup(&names, o->name);
	else
		cn_strv_copy(&names, tags);
	if (o->stdout_fd >= 0) {
		/* The archive alone on the real stdout; messages stay on stderr. */
		fflush(stdout);
		if (dup2(o->stdout_fd, STDOUT_FILENO) < 0)
			return cn_err_sys(err, "--output: restore stdout");
	}
	r = arc_export_named(st, manifest, fmt, o->dest, &names, err);
	if (o->stdout_fd >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) < 0 && r == 0)
		r = cn_err_sys(err, "--output: set stdout aside");
	return r < 0 ? cn_err_wrap(err, "--output %s", o->dest) : 0;
}

void cli_build_output_free(struct cli_build_output *o)
{
	free(o->dest);
	free(o->name);
	if (o->stdout_fd >= 0)
		close(o->stdout_fd);
	o->dest = o->name = NULL;
	o->stdout_fd = -1;
}
