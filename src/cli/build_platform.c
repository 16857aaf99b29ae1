#include "cli/build_platform.h"
#include "cli/cli.h"
#include "store/imgindex.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/platform.h"

#include <stdio.h>
#include <string.h>

int cli_build_platforms(const char *cmd, const char *arg, cn_strv *out)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ struct cn_platform *seen = NULL;
	size_t n = 0;
	char *save = NULL;
	cn_err err;
	if (!arg)
		return 0;
	copy = cn_xstrdup(arg);
	seen = cn_xcalloc(strlen(arg) / 2 + 2, sizeof(*seen));
	/* An empty element ("a,,b", "a,") is invalid, not skipped. */
	if (!*arg || arg[0] == ',' || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
		return cli_usage_error(cmd, "--platform: invalid platform list '%s' (expected OS/ARCH[/VARIANT],...)", arg);
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char norm[CN_PLATFORM_STR];
		bool dup = false;
		if (cn_platform_parse(p, &seen[n], &err) < 0)
			return cli_usage_error(cmd, "--platform: %s", err.msg);
		for (size_t i = 0; i < n; i++)
			dup = dup || cn_platform_equal(&seen[i], &seen[n]);
		if (dup)
			return cli_usage_error(cmd, "--platform: '%s' is named twice", p);
		cn_platform_format(&seen[n++], norm);
		cn_strv_pushdup(out, norm);
	}
	return 0;
}

int cli_build_each(struct store *st, struct bf_build_opts *o, const cn_strv *platforms, bool quiet,
		   struct bf_build_result *res, cn_err *err)
{
	_cleanup_free_ const char **digests = NULL;
	_cleanup_free_ uint64_t *sizes = NULL;
	_cleanup_free_ struct cn_platform *plats = NULL;
	_cleanup_strv_ cn_strv kept = { 0 };
	if (platforms->n <= 1) {
		o->platform = platforms->n ? platforms->v[0] : NULL;
		return bf_build(st, o, res, err);
	}
	/* One after another: each is an ordinary build (its own cache keys),
	 * then one index names them all. */
	digests = cn_xcalloc(platforms->n, sizeof(*digests));
	sizes = cn_xcalloc(platforms->n, sizeof(*sizes));
	plats = cn_xcalloc(platforms->n, sizeof(*plats));
	for (size_t i = 0; i < platforms->n; i++) {
		o->platform = platforms->v[i];
		cn_platform_parse(platforms->v[i], &plats[i], err);
		if (!quiet) {
			printf("PLATFORM %s\n", platforms->v[i]);
			fflush(stdout);
		}
		if (bf_build(st, o, res, err) < 0)
			return cn_err_wrap(err, "build for %s", platforms->v[i]);
		cn_strv_pushdup(&kept, res->manifest_digest);
		sizes[i] = res->manifest_size;
	}
	for (size_t i = 0; i < kept.n; i++)
		digests[i] = kept.v[i];
	memset(res, 0, sizeof(*res));
	if (store_index_write(st, digests, sizes, plats, kept.n, res->manifest_digest, &res->manifest_size, err) < 0)
		return -1;
	/* A multi-platform image has no one config: the index is its id, as buildx prints. */
	memcpy(res->image_id, res->manifest_digest, sizeof(res->image_id));
	return 0;
}
